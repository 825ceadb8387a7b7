/*
 * test_config.c — engine/config.c: the real tiny configs, Hugging Face defaults, and
 * one test per rejected field. Bad configs are built from a small valid one by
 * replacing a single field, so each test fails for exactly the reason it names; the
 * error must name the field and the value.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config.h"
#include "tests/check.h"

/* A small, valid DeepseekV3 config (the shape of tiny-v3, inline so these tests run
   without the fixtures). */
static const char base_v3[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"model_type\":\"deepseek_v3\","
	"\"vocab_size\":512,\"hidden_size\":256,\"intermediate_size\":512,"
	"\"moe_intermediate_size\":128,\"num_hidden_layers\":3,\"num_nextn_predict_layers\":1,"
	"\"num_attention_heads\":4,\"num_key_value_heads\":4,\"n_shared_experts\":1,"
	"\"n_routed_experts\":16,\"routed_scaling_factor\":2.5,\"kv_lora_rank\":128,"
	"\"q_lora_rank\":96,\"qk_rope_head_dim\":16,\"v_head_dim\":32,\"qk_nope_head_dim\":32,"
	"\"topk_method\":\"noaux_tc\",\"n_group\":4,\"topk_group\":2,\"num_experts_per_tok\":4,"
	"\"moe_layer_freq\":1,\"first_k_dense_replace\":1,\"norm_topk_prob\":true,"
	"\"scoring_func\":\"sigmoid\",\"hidden_act\":\"silu\",\"max_position_embeddings\":163840,"
	"\"rms_norm_eps\":1e-06,\"rope_theta\":10000.0,"
	"\"rope_scaling\":{\"type\":\"yarn\",\"factor\":40.0,\"beta_fast\":32,\"beta_slow\":1,"
	"\"mscale\":1.0,\"mscale_all_dim\":1.0,\"original_max_position_embeddings\":4096},"
	"\"tie_word_embeddings\":false,\"bos_token_id\":0,\"eos_token_id\":1,"
	"\"attention_bias\":false,\"torch_dtype\":\"bfloat16\","
	"\"quantization_config\":{\"activation_scheme\":\"dynamic\",\"fmt\":\"e4m3\","
	"\"quant_method\":\"fp8\",\"weight_block_size\":[128,128]}}";

/* base_v3 with `field` set to the JSON `value` (NULL: removed); `sub` names a field of
   an object-valued field (rope_scaling.type) when not NULL. */
static int parse_with(const char *field, const char *sub, const char *value,
		      struct eng_config *c, struct err *e)
{
	json_t *root = json_loads(base_v3, 0, NULL);
	json_t *target = sub ? json_object_get(root, field) : root;
	const char *key = sub ? sub : field;
	if (value) {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
		if (!v) {
			fprintf(stderr, "bad test value %s\n", value);
			exit(2);
		}
		json_object_set_new(target, key, v);
	} else {
		json_object_del(target, key);
	}
	char *text = json_dumps(root, 0);
	int rc = eng_config_parse(text, strlen(text), c, e);
	free(text);
	json_decref(root);
	return rc;
}

static void expect_reject(const char *field, const char *sub, const char *value, int want,
			  const char *n1, const char *n2)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with(field, sub, value, &c, &e);
	CHECK(rc == want, "%s%s%s = %s: rc %d (%s), want %d; message: %s", field, sub ? "." : "",
	      sub ? sub : "", value, rc, err_code_name(rc), want, e.msg);
	CHECK(strstr(e.msg, n1) != NULL, "message names \"%s\": %s", n1, e.msg);
	if (n2)
		CHECK(strstr(e.msg, n2) != NULL, "message names \"%s\": %s", n2, e.msg);
}

static void test_base_ok(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse(base_v3, strlen(base_v3), &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(c.arch == ARCH_DEEPSEEK_V3, "arch");
}

static void load_fixture(const char *model, struct eng_config *c, int *ok)
{
	*ok = 0;
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char p[512];
	snprintf(p, sizeof p, "%s/models/%s/config.json", fx, model);
	struct err e = {0};
	int rc = eng_config_load(p, c, &e);
	CHECK(rc == 0, "%s", e.msg);
	*ok = rc == 0;
}

static void test_fixture_v3(void)
{
	struct eng_config c;
	int ok;
	load_fixture("tiny-v3", &c, &ok);
	if (!ok)
		return;
	CHECK(c.arch == ARCH_DEEPSEEK_V3, "arch");
	CHECK(strcmp(c.architecture, "DeepseekV3ForCausalLM") == 0, "%s", c.architecture);
	CHECK(strcmp(c.model_type, "deepseek_v3") == 0, "%s", c.model_type);
	CHECK(c.vocab_size == 512 && c.hidden_size == 256 && c.intermediate_size == 512, "sizes");
	CHECK(c.moe_intermediate_size == 128, "moe_intermediate_size");
	CHECK(c.num_hidden_layers == 3 && c.num_nextn_predict_layers == 1, "layers");
	CHECK(c.num_attention_heads == 4 && c.num_key_value_heads == 4, "heads");
	CHECK(c.q_lora_rank == 96 && c.kv_lora_rank == 128, "lora %lld %lld",
	      (long long)c.q_lora_rank, (long long)c.kv_lora_rank);
	CHECK(c.qk_rope_head_dim == 16 && c.qk_nope_head_dim == 32 && c.v_head_dim == 32, "dims");
	CHECK(c.n_routed_experts == 16 && c.n_shared_experts == 1 && c.num_experts_per_tok == 4,
	      "experts");
	CHECK(c.n_group == 4 && c.topk_group == 2, "groups %lld %lld", (long long)c.n_group,
	      (long long)c.topk_group);
	CHECK(c.topk_method == TOPK_NOAUX_TC && c.scoring_func == SCORING_SIGMOID, "routing");
	CHECK(c.norm_topk_prob && c.routed_scaling_factor == 2.5, "norm/scale");
	CHECK(c.first_k_dense_replace == 1 && c.moe_layer_freq == 1, "dense layers");
	CHECK(c.max_position_embeddings == 163840, "max pos");
	CHECK(c.rms_norm_eps == 1e-6 && c.rope_theta == 10000.0, "eps theta");
	CHECK(c.yarn.enabled && c.yarn.factor == 40.0, "yarn factor %g", c.yarn.factor);
	CHECK(c.yarn.mscale == 1.0 && c.yarn.mscale_all_dim == 1.0, "mscale");
	CHECK(c.yarn.beta_fast == 32 && c.yarn.beta_slow == 1, "betas");
	CHECK(c.yarn.original_max_position_embeddings == 4096, "original max pos");
	CHECK(c.fp8 && c.fp8_block[0] == 128 && c.fp8_block[1] == 128, "fp8");
	CHECK(!c.tie_word_embeddings, "untied");
	CHECK(c.bos_token_id == 0 && c.eos_token_id == 1 && c.n_eos_token_ids == 1, "ids");
	double m = 0.1 * 1.0 * log(40.0) + 1.0;
	double want = 1.0 / sqrt(48.0) * m * m;
	double got = eng_config_softmax_scale(&c);
	CHECK(fabs(got - want) < 1e-12, "softmax scale %.12g want %.12g", got, want);
}

static void test_fixture_v2lite(void)
{
	struct eng_config c;
	int ok;
	load_fixture("tiny-v2lite", &c, &ok);
	if (!ok)
		return;
	CHECK(c.arch == ARCH_DEEPSEEK_V2, "arch");
	CHECK(c.q_lora_rank == 0, "q_lora_rank null -> 0, got %lld", (long long)c.q_lora_rank);
	CHECK(c.scoring_func == SCORING_SOFTMAX && c.topk_method == TOPK_GREEDY, "routing");
	CHECK(!c.norm_topk_prob && c.routed_scaling_factor == 1.0, "norm/scale");
	CHECK(c.n_routed_experts == 16 && c.n_shared_experts == 2 && c.num_experts_per_tok == 6,
	      "experts");
	CHECK(c.num_nextn_predict_layers == 0, "no MTP");
	CHECK(!c.fp8, "BF16 model");
	CHECK(c.yarn.enabled && c.yarn.mscale == 0.707 && c.yarn.mscale_all_dim == 0.707,
	      "mscale 0.707");
	double m = 0.1 * 0.707 * log(40.0) + 1.0;
	double want = 1.0 / sqrt(48.0) * m * m;
	CHECK(fabs(eng_config_softmax_scale(&c) - want) < 1e-12, "softmax scale");
}

static void test_v3_defaults(void)
{
	const char *j = "{\"architectures\":[\"DeepseekV3ForCausalLM\"]}";
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse(j, strlen(j), &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(c.vocab_size == 129280 && c.hidden_size == 7168 && c.intermediate_size == 18432,
	      "sizes");
	CHECK(c.num_hidden_layers == 61 && c.num_nextn_predict_layers == 1, "layers");
	CHECK(c.num_attention_heads == 128 && c.num_key_value_heads == 128, "heads");
	CHECK(c.n_routed_experts == 256 && c.n_shared_experts == 1 && c.num_experts_per_tok == 8,
	      "experts");
	CHECK(c.n_group == 8 && c.topk_group == 4 && c.first_k_dense_replace == 3, "groups");
	CHECK(c.topk_method == TOPK_NOAUX_TC && c.scoring_func == SCORING_SIGMOID, "routing");
	CHECK(c.norm_topk_prob && c.routed_scaling_factor == 2.5, "norm");
	CHECK(c.q_lora_rank == 1536 && c.kv_lora_rank == 512, "lora");
	CHECK(c.max_position_embeddings == 4096 && !c.yarn.enabled, "context");
	CHECK(!c.fp8 && c.bos_token_id == 0 && c.eos_token_id == 1, "ids");
	CHECK(strcmp(c.model_type, "deepseek_v3") == 0, "model_type filled in");
	CHECK(fabs(eng_config_softmax_scale(&c) - 1.0 / sqrt(192.0)) < 1e-15, "plain scale");
}

static void test_v2_defaults(void)
{
	const char *j = "{\"architectures\":[\"DeepseekV2ForCausalLM\"]}";
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse(j, strlen(j), &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(c.vocab_size == 102400 && c.hidden_size == 4096 && c.num_hidden_layers == 30,
	      "sizes");
	CHECK(c.n_routed_experts == 0 && c.num_experts_per_tok == 0, "dense by default");
	CHECK(c.topk_method == TOPK_GREEDY && c.scoring_func == SCORING_SOFTMAX, "routing");
	CHECK(!c.norm_topk_prob && c.routed_scaling_factor == 1.0, "norm");
	CHECK(c.num_nextn_predict_layers == 0 && c.first_k_dense_replace == 0, "no MTP");
	CHECK(c.bos_token_id == 100000 && c.eos_token_id == 100001, "ids");
}

static void test_model_type_without_architectures(void)
{
	const char *j = "{\"model_type\":\"deepseek_v2\",\"vocab_size\":1000}";
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse(j, strlen(j), &c, &e);
	CHECK(rc == 0 && c.arch == ARCH_DEEPSEEK_V2, "%s", e.msg);
	/* the V2 default ids (100000/100001) cannot occur in a 1000-token vocabulary */
	CHECK(c.bos_token_id == -1 && c.n_eos_token_ids == 0, "defaults outside vocab dropped");
}

static void test_q_lora_null(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with("q_lora_rank", NULL, "null", &c, &e);
	CHECK(rc == 0 && c.q_lora_rank == 0, "rc %d q %lld %s", rc, (long long)c.q_lora_rank,
	      e.msg);
}

static void test_eos_list(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with("eos_token_id", NULL, "[1, 7, 9]", &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(c.n_eos_token_ids == 3 && c.eos_token_id == 1 && c.eos_token_ids[2] == 9, "list");
	expect_reject("eos_token_id", NULL, "[1, 512]", ERR_RANGE, "eos_token_id", "512");
	expect_reject("eos_token_id", NULL, "\"</s>\"", ERR_FORMAT, "eos_token_id", NULL);
}

static void test_rope_scaling_null(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with("rope_scaling", NULL, "null", &c, &e);
	CHECK(rc == 0 && !c.yarn.enabled, "%s", e.msg);
	CHECK(fabs(eng_config_softmax_scale(&c) - 1.0 / sqrt(48.0)) < 1e-15, "no mscale");
}

static void test_yarn_mscale_all_dim_zero(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with("rope_scaling", "mscale_all_dim", "0", &c, &e);
	CHECK(rc == 0 && c.yarn.enabled, "%s", e.msg);
	CHECK(fabs(eng_config_softmax_scale(&c) - 1.0 / sqrt(48.0)) < 1e-15,
	      "mscale_all_dim 0: no correction, as in the HF code");
}

static void test_rope_parameters(void)
{
	/* newer transformers writes rope_parameters, with rope_theta inside */
	const char *j = "{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"rope_parameters\":"
			"{\"rope_type\":\"yarn\",\"factor\":8,\"rope_theta\":50000}}";
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse(j, strlen(j), &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(c.yarn.enabled && c.yarn.factor == 8 && c.rope_theta == 50000, "yarn %g theta %g",
	      c.yarn.factor, c.rope_theta);
	j = "{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"rope_parameters\":"
	    "{\"rope_type\":\"default\",\"rope_theta\":1000000}}";
	rc = eng_config_parse(j, strlen(j), &c, &e);
	CHECK(rc == 0 && !c.yarn.enabled && c.rope_theta == 1e6, "default: %s", e.msg);
	/* both present: rope_scaling (what the DeepSeek code reads) wins */
	rc = parse_with("rope_parameters", NULL, "{\"rope_type\":\"yarn\",\"factor\":8}", &c, &e);
	CHECK(rc == 0 && c.yarn.factor == 40.0, "rope_scaling wins: %g", c.yarn.factor);
}

static void test_hidden_size_huge(void)
{
	expect_reject("hidden_size", NULL, "1099511627776", ERR_RANGE, "hidden_size",
		      "1099511627776");
}

static void test_rope_linear(void)
{
	expect_reject("rope_scaling", "type", "\"linear\"", ERR_UNSUPPORTED, "rope_scaling",
		      "linear");
}

static void test_rope_unknown_key(void)
{
	expect_reject("rope_scaling", "attention_factor", "1.2", ERR_UNSUPPORTED,
		      "attention_factor", NULL);
}

static void test_yarn_without_factor(void)
{
	expect_reject("rope_scaling", "factor", NULL, ERR_FORMAT, "rope_scaling", "factor");
}

static void test_yarn_bad_factor(void)
{
	expect_reject("rope_scaling", "factor", "-4", ERR_RANGE, "rope_scaling.factor", "-4");
}

static void test_topk_method_unknown(void)
{
	expect_reject("topk_method", NULL, "\"top_p\"", ERR_UNSUPPORTED, "topk_method", "top_p");
}

static void test_scoring_unknown(void)
{
	expect_reject("scoring_func", NULL, "\"relu\"", ERR_UNSUPPORTED, "scoring_func", "relu");
}

static void test_moe_layer_freq(void)
{
	expect_reject("moe_layer_freq", NULL, "2", ERR_UNSUPPORTED, "moe_layer_freq", "2");
}

static void test_hidden_act(void)
{
	expect_reject("hidden_act", NULL, "\"gelu\"", ERR_UNSUPPORTED, "hidden_act", "gelu");
}

static void test_attention_bias(void)
{
	expect_reject("attention_bias", NULL, "true", ERR_UNSUPPORTED, "attention_bias", NULL);
}

static void test_architecture(void)
{
	expect_reject("architectures", NULL, "[\"MistralForCausalLM\"]", ERR_UNSUPPORTED,
		      "MistralForCausalLM", NULL);
	expect_reject("architectures", NULL, "\"DeepseekV3ForCausalLM\"", ERR_FORMAT,
		      "architectures", NULL);
}

static void test_quant_method(void)
{
	expect_reject("quantization_config", "quant_method", "\"bitsandbytes\"", ERR_UNSUPPORTED,
		      "quant_method", "bitsandbytes");
}

static void test_quant_fmt(void)
{
	expect_reject("quantization_config", "fmt", "\"e5m2\"", ERR_UNSUPPORTED, "fmt", "e5m2");
}

static void test_quant_block(void)
{
	expect_reject("quantization_config", "weight_block_size", "[64,64]", ERR_UNSUPPORTED,
		      "weight_block_size", "[64,64]");
}

static void test_groups_divide(void)
{
	expect_reject("n_group", NULL, "3", ERR_RANGE, "n_group", "3");
}

static void test_topk_group_too_big(void)
{
	expect_reject("topk_group", NULL, "5", ERR_RANGE, "topk_group", "5");
}

static void test_experts_per_tok_too_big(void)
{
	expect_reject("num_experts_per_tok", NULL, "17", ERR_RANGE, "num_experts_per_tok", "17");
}

static void test_experts_per_tok_beyond_groups(void)
{
	/* topk_group 2 of 4 groups of 4 experts leaves 8 candidates */
	expect_reject("num_experts_per_tok", NULL, "9", ERR_RANGE, "num_experts_per_tok", "9");
}

static void test_zero_heads(void)
{
	expect_reject("num_attention_heads", NULL, "0", ERR_RANGE, "num_attention_heads", "0");
}

static void test_negative_vocab(void)
{
	expect_reject("vocab_size", NULL, "-5", ERR_RANGE, "vocab_size", "-5");
}

static void test_bounds(void)
{
	expect_reject("vocab_size", NULL, "100000000", ERR_RANGE, "vocab_size", NULL);
	expect_reject("num_hidden_layers", NULL, "5000", ERR_RANGE, "num_hidden_layers", NULL);
	expect_reject("n_routed_experts", NULL, "1000000", ERR_RANGE, "n_routed_experts", NULL);
	expect_reject("kv_lora_rank", NULL, "100000", ERR_RANGE, "kv_lora_rank", NULL);
	expect_reject("max_position_embeddings", NULL, "1000000000", ERR_RANGE,
		      "max_position_embeddings", NULL);
	expect_reject("v_head_dim", NULL, "100000", ERR_RANGE, "v_head_dim", NULL);
	expect_reject("first_k_dense_replace", NULL, "4", ERR_RANGE, "first_k_dense_replace",
		      NULL);
}

static void test_wrong_types(void)
{
	expect_reject("hidden_size", NULL, "\"256\"", ERR_FORMAT, "hidden_size", NULL);
	expect_reject("hidden_size", NULL, "256.5", ERR_FORMAT, "hidden_size", NULL);
	expect_reject("hidden_size", NULL, "null", ERR_FORMAT, "hidden_size", NULL);
	expect_reject("norm_topk_prob", NULL, "1", ERR_FORMAT, "norm_topk_prob", NULL);
	expect_reject("rms_norm_eps", NULL, "\"1e-6\"", ERR_FORMAT, "rms_norm_eps", NULL);
	expect_reject("rope_scaling", NULL, "\"yarn\"", ERR_FORMAT, "rope_scaling", NULL);
}

static void test_odd_rope_dim(void)
{
	expect_reject("qk_rope_head_dim", NULL, "15", ERR_RANGE, "qk_rope_head_dim", "15");
}

static void test_not_json(void)
{
	struct eng_config c;
	struct err e = {0};
	const char *j = "{\"hidden_size\": 12,,}";
	CHECK(eng_config_parse(j, strlen(j), &c, &e) == ERR_FORMAT, "%s", e.msg);
	j = "[1,2]";
	CHECK(eng_config_parse(j, strlen(j), &c, &e) == ERR_FORMAT, "%s", e.msg);
	CHECK(strstr(e.msg, "object") != NULL, "%s", e.msg);
	j = "{\"hidden_size\": 12, \"hidden_size\": 13}";
	CHECK(eng_config_parse(j, strlen(j), &c, &e) == ERR_FORMAT, "%s", e.msg);
	CHECK(strstr(e.msg, "hidden_size") != NULL, "duplicate names the key: %s", e.msg);
}

static void test_load_names_path(void)
{
	char dir[] = "/tmp/ponder-cfg-XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	char p[128];
	snprintf(p, sizeof p, "%s/config.json", dir);
	FILE *f = fopen(p, "w");
	fputs("{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"hidden_size\":1099511627776}", f);
	fclose(f);
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_load(p, &c, &e);
	CHECK(rc == ERR_RANGE, "rc %d: %s", rc, e.msg);
	CHECK(strstr(e.msg, p) && strstr(e.msg, "hidden_size"), "names path and field: %s",
	      e.msg);
	unlink(p);
	rc = eng_config_load(p, &c, &e);
	CHECK(rc == ERR_IO && strstr(e.msg, p), "missing file: %s", e.msg);
	rc = eng_config_load(dir, &c, &e);
	CHECK(rc == ERR_IO && strstr(e.msg, dir), "a directory: %s", e.msg);
	rmdir(dir);
}

int main(void)
{
	RUN(test_base_ok);
	RUN(test_fixture_v3);
	RUN(test_fixture_v2lite);
	RUN(test_v3_defaults);
	RUN(test_v2_defaults);
	RUN(test_model_type_without_architectures);
	RUN(test_q_lora_null);
	RUN(test_eos_list);
	RUN(test_rope_scaling_null);
	RUN(test_yarn_mscale_all_dim_zero);
	RUN(test_rope_parameters);
	RUN(test_hidden_size_huge);
	RUN(test_rope_linear);
	RUN(test_rope_unknown_key);
	RUN(test_yarn_without_factor);
	RUN(test_yarn_bad_factor);
	RUN(test_topk_method_unknown);
	RUN(test_scoring_unknown);
	RUN(test_moe_layer_freq);
	RUN(test_hidden_act);
	RUN(test_attention_bias);
	RUN(test_architecture);
	RUN(test_quant_method);
	RUN(test_quant_fmt);
	RUN(test_quant_block);
	RUN(test_groups_divide);
	RUN(test_topk_group_too_big);
	RUN(test_experts_per_tok_too_big);
	RUN(test_experts_per_tok_beyond_groups);
	RUN(test_zero_heads);
	RUN(test_negative_vocab);
	RUN(test_bounds);
	RUN(test_wrong_types);
	RUN(test_odd_rope_dim);
	RUN(test_not_json);
	RUN(test_load_names_path);
	return check_finish();
}
