/*
 * test_config_dense.c — engine/config_dense.c: the R1 distills' dense families (Qwen2,
 * Llama, Qwen3). The real tiny configs, Hugging Face's defaults for sparse files, the
 * rope scalings, and one test per rejected field, each built from a small valid Qwen3
 * config by changing one field so that it fails for exactly the reason it names.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/config.h"
#include "tests/check.h"

/* The shape of tiny-qwen3, inline so that these tests run without the fixtures. */
static const char base_qwen3[] =
	"{\"architectures\":[\"Qwen3ForCausalLM\"],\"model_type\":\"qwen3\","
	"\"attention_bias\":false,\"bos_token_id\":0,\"eos_token_id\":1,\"head_dim\":32,"
	"\"hidden_act\":\"silu\",\"hidden_size\":96,\"intermediate_size\":256,"
	"\"max_position_embeddings\":131072,\"max_window_layers\":3,"
	"\"num_attention_heads\":4,\"num_hidden_layers\":3,\"num_key_value_heads\":2,"
	"\"rms_norm_eps\":1e-06,\"rope_scaling\":{\"attn_factor\":0.8782488562869419,"
	"\"factor\":4.0,\"original_max_position_embeddings\":32768,\"rope_type\":\"yarn\"},"
	"\"rope_theta\":1000000.0,\"sliding_window\":null,\"tie_word_embeddings\":false,"
	"\"use_sliding_window\":false,\"vocab_size\":768}";

/* base_qwen3 with `field` (or field.sub) set to the JSON `value`; NULL removes it. */
static int parse_with(const char *field, const char *sub, const char *value,
		      struct eng_config *c, struct err *e)
{
	json_t *root = json_loads(base_qwen3, 0, NULL);
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
			  const char *named)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with(field, sub, value, &c, &e);
	CHECK(rc == want, "%s%s%s = %s: rc %d (%s), want %d; message: %s", field, sub ? "." : "",
	      sub ? sub : "", value, rc, err_code_name(rc), want, e.msg);
	CHECK(strstr(e.msg, named) != NULL, "message names \"%s\": %s", named, e.msg);
}

static int parse_text(const char *json, struct eng_config *c)
{
	struct err e = {0};
	int rc = eng_config_parse(json, strlen(json), c, &e);
	CHECK(rc == 0, "%s: %s", json, e.msg);
	return rc;
}

static int load_fixture(const char *model, struct eng_config *c)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return -1;
	}
	char p[512];
	struct err e = {0};
	snprintf(p, sizeof p, "%s/models/%s/config.json", fx, model);
	int rc = eng_config_load(p, c, &e);
	CHECK(rc == 0, "%s", e.msg);
	return rc;
}

static void test_fixtures(void)
{
	struct eng_config c;
	if (load_fixture("tiny-qwen2", &c) == 0) {
		CHECK(c.arch == ARCH_QWEN2 && c.attn == ATTN_GQA, "qwen2 family");
		CHECK(c.qkv_bias && !c.o_bias && !c.qk_norm, "qwen2: q/k/v biases only");
		CHECK(c.head_dim == 32 && c.num_key_value_heads == 2, "qwen2 heads");
		CHECK(!c.yarn.enabled && !c.llama3.enabled, "qwen2: no rope scaling");
	}
	if (load_fixture("tiny-llama3", &c) == 0) {
		CHECK(c.arch == ARCH_LLAMA && !c.qkv_bias && !c.o_bias && !c.qk_norm, "llama");
		CHECK(c.llama3.enabled && c.llama3.factor == 8 && c.llama3.low_freq_factor == 1 &&
			      c.llama3.high_freq_factor == 4 &&
			      c.llama3.original_max_position_embeddings == 8192,
		      "llama3 rope scaling");
		CHECK(c.rms_norm_eps == 1e-5 && c.rope_theta == 500000, "llama eps, theta");
	}
	if (load_fixture("tiny-qwen3", &c) == 0) {
		CHECK(c.arch == ARCH_QWEN3 && c.qk_norm && !c.qkv_bias, "qwen3");
		CHECK(c.head_dim == 32 && c.hidden_size == 96, "qwen3 explicit head_dim");
		/* attn_factor is not read: cos/sin get 0.1 ln(4) + 1, as transformers does */
		CHECK(c.yarn.enabled && fabs(c.yarn.attention_factor - (0.1 * log(4.0) + 1)) < 1e-12,
		      "qwen3 yarn attention factor %g", c.yarn.attention_factor);
		CHECK(c.yarn.truncate && c.yarn.original_max_position_embeddings == 32768,
		      "qwen3 yarn range");
		CHECK(fabs(eng_config_softmax_scale(&c) - 1 / sqrt(32.0)) < 1e-12, "softmax scale");
	}
}

/* Absent fields take the defaults of transformers' config classes. */
static void test_defaults(void)
{
	struct eng_config c;
	if (parse_text("{\"architectures\":[\"Qwen2ForCausalLM\"]}", &c) == 0) {
		CHECK(c.vocab_size == 151936 && c.hidden_size == 4096 && c.num_hidden_layers == 32,
		      "qwen2 sizes");
		CHECK(c.num_key_value_heads == 32 && c.head_dim == 128, "qwen2 heads");
		CHECK(c.rope_theta == 10000 && c.max_position_embeddings == 32768, "qwen2 rope");
		CHECK(c.eos_token_id == -1 && c.n_eos_token_ids == 0 && c.bos_token_id == -1,
		      "no token ids unless given");
	}
	if (parse_text("{\"model_type\":\"llama\",\"hidden_size\":2048,\"num_attention_heads\":"
		       "16,\"num_key_value_heads\":null}", &c) == 0) {
		CHECK(c.arch == ARCH_LLAMA, "llama from model_type");
		CHECK(c.head_dim == 128 && c.num_key_value_heads == 16, "llama derived heads");
		CHECK(c.vocab_size == 32000 && c.max_position_embeddings == 2048, "llama sizes");
	}
	if (parse_text("{\"architectures\":[\"Qwen3ForCausalLM\"],\"hidden_size\":1024,"
		       "\"num_attention_heads\":16}", &c) == 0)
		CHECK(c.head_dim == 128, "qwen3's head_dim defaults to 128, not hidden/heads");
	if (parse_text("{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":true}",
		       &c) == 0)
		CHECK(c.qkv_bias && c.o_bias, "llama attention_bias covers o_proj too");
}

static void test_token_ids(void)
{
	struct eng_config c;
	struct err e = {0};
	int rc = parse_with("eos_token_id", NULL, "[1, 7]", &c, &e);
	CHECK(rc == 0 && c.n_eos_token_ids == 2 && c.eos_token_ids[1] == 7, "eos list: %s",
	      e.msg);
	expect_reject("eos_token_id", NULL, "[1, 768]", ERR_RANGE, "eos_token_id");
	expect_reject("bos_token_id", NULL, "900", ERR_RANGE, "bos_token_id");
}

static void test_rope(void)
{
	struct eng_config c;
	struct err e = {0};
	CHECK(parse_with("rope_scaling", "attention_factor", "0.9", &c, &e) == 0 &&
		      c.yarn.attention_factor == 0.9,
	      "an explicit attention_factor is used: %s", e.msg);
	CHECK(parse_with("rope_scaling", "truncate", "false", &c, &e) == 0 && !c.yarn.truncate,
	      "truncate false: %s", e.msg);
	CHECK(parse_with("rope_scaling", NULL, "null", &c, &e) == 0 && !c.yarn.enabled,
	      "rope_scaling null: %s", e.msg);
	CHECK(parse_with("rope_scaling", NULL, "{\"rope_type\":\"default\"}", &c, &e) == 0 &&
		      !c.yarn.enabled,
	      "default rope: %s", e.msg);
	CHECK(parse_with("rope_scaling", NULL, "{\"rope_type\":\"llama3\",\"factor\":8,"
			 "\"low_freq_factor\":1,\"high_freq_factor\":4,"
			 "\"original_max_position_embeddings\":8192}", &c, &e) == 0 &&
		      c.llama3.enabled,
	      "llama3 rope: %s", e.msg);
	expect_reject("rope_scaling", NULL, "{\"rope_type\":\"dynamic\",\"factor\":2}",
		      ERR_UNSUPPORTED, "dynamic");
	expect_reject("rope_scaling", NULL, "{\"rope_type\":\"llama3\",\"factor\":8}", ERR_FORMAT,
		      "low_freq_factor");
	expect_reject("rope_scaling", NULL, "{\"rope_type\":\"llama3\",\"factor\":8,"
		      "\"low_freq_factor\":4,\"high_freq_factor\":1,"
		      "\"original_max_position_embeddings\":8192}", ERR_RANGE, "high_freq_factor");
	expect_reject("rope_scaling", "short_factor", "[1]", ERR_UNSUPPORTED, "short_factor");
	expect_reject("rope_scaling", "factor", NULL, ERR_FORMAT, "factor");
}

static void test_rejects(void)
{
	expect_reject("num_key_value_heads", NULL, "3", ERR_RANGE, "num_key_value_heads");
	expect_reject("head_dim", NULL, "31", ERR_RANGE, "head_dim");
	expect_reject("head_dim", NULL, "2048", ERR_RANGE, "head_dim");
	expect_reject("hidden_act", NULL, "\"gelu\"", ERR_UNSUPPORTED, "gelu");
	expect_reject("mlp_bias", NULL, "true", ERR_UNSUPPORTED, "mlp_bias");
	expect_reject("use_mrope", NULL, "true", ERR_UNSUPPORTED, "use_mrope");
	expect_reject("partial_rotary_factor", NULL, "0.5", ERR_UNSUPPORTED,
		      "partial_rotary_factor");
	expect_reject("layer_types", NULL, "[\"full_attention\",\"sliding_attention\"]",
		      ERR_UNSUPPORTED, "layer_types[1]");
	expect_reject("architectures", NULL, "[\"MistralForCausalLM\"]", ERR_UNSUPPORTED,
		      "Qwen3ForCausalLM");

	/* A window is refused only when some layer really uses it. */
	struct eng_config c;
	struct err e = {0};
	json_t *root = json_loads(base_qwen3, 0, NULL);
	json_object_set_new(root, "use_sliding_window", json_true());
	json_object_set_new(root, "sliding_window", json_integer(4096));
	char *text = json_dumps(root, 0);
	CHECK(eng_config_parse(text, strlen(text), &c, &e) == 0,
	      "max_window_layers = num_hidden_layers: no layer slides: %s", e.msg);
	free(text);
	json_object_set_new(root, "max_window_layers", json_integer(1));
	text = json_dumps(root, 0);
	int rc = eng_config_parse(text, strlen(text), &c, &e);
	CHECK(rc == ERR_UNSUPPORTED && strstr(e.msg, "use_sliding_window"),
	      "a window from layer 1: %s", e.msg);
	free(text);
	json_decref(root);
}

int main(void)
{
	RUN(test_fixtures);
	RUN(test_defaults);
	RUN(test_token_ids);
	RUN(test_rope);
	RUN(test_rejects);
	return check_finish();
}
