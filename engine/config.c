/*
 * config.c — config.json of a checkpoint into struct eng_config: the entry points, the
 * architecture table, and the DeepSeek-V2/V3 fields (the dense Qwen2, Llama and Qwen3
 * families are read by config_dense.c).
 *
 * The fields and defaults follow the Hugging Face code that loads these checkpoints
 * (configuration_deepseek.py / modeling_deepseek.py of deepseek-ai/DeepSeek-V2 and
 * DeepSeek-V3, and transformers' deepseek_v2 / deepseek_v3): an absent field takes the
 * default of the architecture the file names, so a sparse config.json means what it
 * means there. A field that changes the computation in a way ponder does not implement
 * (another activation, biases, a non-YaRN rope scaling, another quantization) is an
 * error naming the field and value, never silently ignored.
 *
 * Fields read only for training or distribution (aux_loss_alpha, seq_aux, ep_size,
 * initializer_range, attention_dropout, pretraining_tp, use_cache, pad_token_id,
 * torch_dtype, transformers_version, auto_map) do not change inference and are ignored.
 *
 * Invariants after a successful parse: every size is within the bounds of
 * config_parse.h (so products of two or three of them fit in 64 bits and a hostile file
 * cannot ask for terabytes);
 * n_routed_experts == 0 means a dense model, otherwise 1 <= num_experts_per_tok <=
 * n_routed_experts, n_group divides n_routed_experts and 1 <= topk_group <= n_group;
 * first_k_dense_replace <= num_hidden_layers; qk_rope_head_dim is even.
 */
#include "engine/config_parse.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CONFIG_BYTES (16u * 1024u * 1024u)

/* The architectures ponder runs, by their class name and model_type. */
static const struct {
	const char *name, *model_type;
	enum eng_arch arch;
} archs[] = {
	{"DeepseekV2ForCausalLM", "deepseek_v2", ARCH_DEEPSEEK_V2},
	{"DeepseekV3ForCausalLM", "deepseek_v3", ARCH_DEEPSEEK_V3},
	{"Qwen2ForCausalLM", "qwen2", ARCH_QWEN2},
	{"LlamaForCausalLM", "llama", ARCH_LLAMA},
	{"Qwen3ForCausalLM", "qwen3", ARCH_QWEN3},
};
#define N_ARCHS (sizeof archs / sizeof *archs)
#define SUPPORTED "DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, Qwen2ForCausalLM, " \
		  "LlamaForCausalLM and Qwen3ForCausalLM"

const char *eng_supported_architectures(void) { return SUPPORTED; }

const char *eng_config_family(const struct eng_config *c)
{
	switch (c->arch) {
	case ARCH_DEEPSEEK_V2: return "DeepSeek-V2: MLA + MoE";
	case ARCH_DEEPSEEK_V3: return "DeepSeek-V3: MLA + MoE";
	case ARCH_QWEN2: return "Qwen2: dense, grouped-query attention (R1-Distill-Qwen)";
	case ARCH_LLAMA: return "Llama: dense, grouped-query attention (R1-Distill-Llama)";
	case ARCH_QWEN3: return "Qwen3: dense, grouped-query attention (R1-0528-Qwen3)";
	}
	return "?";
}

/* architectures: every entry must be one we run; the first decides. */
static int parse_arch(json_t *root, struct eng_config *c, struct err *e)
{
	json_t *a = json_object_get(root, "architectures");
	const char *mt = NULL;
	int rc = cfg_get_str(root, "", "model_type", NULL, &mt, e);
	if (rc)
		return rc;
	char b[80];
	size_t k;
	if (!a || json_is_null(a)) {
		/* Without architectures the HF auto classes go by model_type. */
		for (k = 0; k < N_ARCHS && !(mt && strcmp(mt, archs[k].model_type) == 0); k++)
			;
		if (k == N_ARCHS)
			return err_set(e, ERR_UNSUPPORTED,
				       "no \"architectures\" and model_type %s%.40s%s: ponder runs "
				       SUPPORTED, mt ? "\"" : "", mt ? mt : "absent", mt ? "\"" : "");
		c->arch = archs[k].arch;
		snprintf(c->architecture, sizeof c->architecture, "%s", archs[k].name);
	} else {
		if (!json_is_array(a) || json_array_size(a) == 0)
			return err_set(e, ERR_FORMAT,
				       "architectures must be a non-empty list of strings, got %s",
				       json_repr(a, b, sizeof b));
		for (size_t i = 0; i < json_array_size(a); i++) {
			json_t *s = json_array_get(a, i);
			if (!json_is_string(s))
				return err_set(e, ERR_FORMAT, "architectures[%zu] must be a string, got %s",
					       i, json_repr(s, b, sizeof b));
			const char *name = json_string_value(s);
			for (k = 0; k < N_ARCHS && strcmp(name, archs[k].name) != 0; k++)
				;
			if (k == N_ARCHS)
				return err_set(e, ERR_UNSUPPORTED,
					       "architecture \"%.80s\" is not supported: ponder runs "
					       SUPPORTED, name);
			if (i == 0) {
				c->arch = archs[k].arch;
				snprintf(c->architecture, sizeof c->architecture, "%s", name);
			}
		}
	}
	if (!mt)
		for (k = 0; k < N_ARCHS; k++)
			if (archs[k].arch == c->arch)
				mt = archs[k].model_type;
	if (strlen(mt) >= sizeof c->model_type)
		return err_set(e, ERR_RANGE, "model_type \"%.40s...\" is too long", mt);
	snprintf(c->model_type, sizeof c->model_type, "%s", mt);
	return 0;
}

/* rope_scaling (the DeepSeek code) or rope_parameters (newer transformers). */
static int parse_rope(json_t *rs, const char *field, bool type_required,
		      struct eng_config *c, struct err *e)
{
	static const char *const known[] = {
		"type", "rope_type", "factor", "beta_fast", "beta_slow", "mscale",
		"mscale_all_dim", "original_max_position_embeddings", "rope_theta", NULL,
	};
	char pre[48];
	snprintf(pre, sizeof pre, "%s.", field);
	const char *t1 = NULL, *t2 = NULL;
	int rc = cfg_check_keys(rs, field, known, "DeepSeek's YaRN (factor, beta_fast, "
				"beta_slow, mscale, mscale_all_dim, original_max_position_embeddings)",
				e);
	if (!rc)
		rc = cfg_get_str(rs, pre, "type", NULL, &t1, e);
	if (!rc)
		rc = cfg_get_str(rs, pre, "rope_type", NULL, &t2, e);
	if (rc)
		return rc;
	if (t1 && t2 && strcmp(t1, t2) != 0)
		return err_set(e, ERR_FORMAT, "%s.type \"%.40s\" and %s.rope_type \"%.40s\" disagree",
			       field, t1, field, t2);
	const char *type = t1 ? t1 : t2;
	if (!type) {
		if (type_required)
			return err_set(e, ERR_FORMAT, "%s has no \"type\"", field);
		type = "default";
	}
	if (json_object_get(rs, "rope_theta")) {
		rc = cfg_get_num(rs, pre, "rope_theta", c->rope_theta, 0, 1, 1e12, &c->rope_theta, e);
		if (rc)
			return rc;
	}
	if (strcmp(type, "default") == 0)
		return 0;
	if (strcmp(type, "yarn") != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "%s type \"%.40s\" is not supported: ponder implements \"yarn\" (as "
			       "DeepSeek uses) or no scaling",
			       field, type);
	struct eng_yarn *y = &c->yarn;
	y->enabled = true;
	if (!json_object_get(rs, "factor"))
		return err_set(e, ERR_FORMAT, "%s (yarn) has no \"factor\"", field);
	rc = cfg_get_num(rs, pre, "factor", 1.0, 0, 1, 1e6, &y->factor, e);
	if (!rc)
		rc = cfg_get_num(rs, pre, "beta_fast", 32, 0, 1, 1e6, &y->beta_fast, e);
	if (!rc)
		rc = cfg_get_num(rs, pre, "beta_slow", 1, 0, 1, 1e6, &y->beta_slow, e);
	if (!rc)
		rc = cfg_get_num(rs, pre, "mscale", 1, 0, 0, 1e3, &y->mscale, e);
	if (!rc)
		rc = cfg_get_num(rs, pre, "mscale_all_dim", 0, 0, 0, 1e3, &y->mscale_all_dim, e);
	if (rc)
		return rc;
	return cfg_get_int(rs, pre, "original_max_position_embeddings", 4096, 1, MAX_POSITIONS, 0, 0,
		       &y->original_max_position_embeddings, e);
}

int cfg_parse_quant(json_t *q, struct eng_config *c, struct err *e)
{
	char b[80];
	if (!json_is_object(q))
		return err_set(e, ERR_FORMAT, "quantization_config must be an object, got %s",
			       json_repr(q, b, sizeof b));
	const char *p = "quantization_config.";
	const char *method = NULL, *fmt = NULL, *act = NULL;
	int rc = cfg_get_str(q, p, "quant_method", NULL, &method, e);
	if (!rc)
		rc = cfg_get_str(q, p, "fmt", "e4m3", &fmt, e);
	if (!rc)
		rc = cfg_get_str(q, p, "activation_scheme", "dynamic", &act, e);
	if (rc)
		return rc;
	if (!method || strcmp(method, "fp8") != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "quantization_config.quant_method %s%.40s%s is not supported: ponder "
			       "reads fp8 (e4m3, 128x128 blocks) or unquantized checkpoints",
			       method ? "\"" : "", method ? method : "absent", method ? "\"" : "");
	if (strcmp(fmt, "e4m3") != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "quantization_config.fmt \"%.40s\" is not supported: only e4m3", fmt);
	if (strcmp(act, "dynamic") != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "quantization_config.activation_scheme \"%.40s\" is not supported: "
			       "only dynamic",
			       act);
	json_t *bs = json_object_get(q, "weight_block_size");
	if (bs && !(json_is_array(bs) && json_array_size(bs) == 2 &&
		    json_is_integer(json_array_get(bs, 0)) &&
		    json_integer_value(json_array_get(bs, 0)) == 128 &&
		    json_is_integer(json_array_get(bs, 1)) &&
		    json_integer_value(json_array_get(bs, 1)) == 128))
		return err_set(e, ERR_UNSUPPORTED,
			       "quantization_config.weight_block_size %s is not supported: only "
			       "[128, 128]",
			       json_repr(bs, b, sizeof b));
	c->fp8 = true;
	c->fp8_block[0] = c->fp8_block[1] = 128;
	return 0;
}

int cfg_parse_token_ids(json_t *root, struct eng_config *c, int64_t def_bos, int64_t def_eos,
			struct err *e)
{
	char b[80];
	/* A default id outside a small vocabulary can never occur: treat it as absent. */
	int rc = cfg_get_int(root, "", "bos_token_id", def_bos < c->vocab_size ? def_bos : -1, 0,
			 c->vocab_size - 1, 1, -1, &c->bos_token_id, e);
	if (rc)
		return rc;
	json_t *v = json_object_get(root, "eos_token_id");
	c->n_eos_token_ids = 0;
	c->eos_token_id = -1;
	if (!v) {
		if (def_eos >= 0 && def_eos < c->vocab_size) {
			c->eos_token_ids[0] = def_eos;
			c->n_eos_token_ids = 1;
		}
	} else if (json_is_null(v)) {
		/* no end-of-sequence token */
	} else if (json_is_integer(v)) {
		rc = cfg_get_int(root, "", "eos_token_id", 0, 0, c->vocab_size - 1, 0, 0,
			     &c->eos_token_ids[0], e);
		if (rc)
			return rc;
		c->n_eos_token_ids = 1;
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (n > sizeof c->eos_token_ids / sizeof c->eos_token_ids[0])
			return err_set(e, ERR_RANGE, "eos_token_id lists %zu ids, ponder takes at most %zu",
				       n, sizeof c->eos_token_ids / sizeof c->eos_token_ids[0]);
		for (size_t i = 0; i < n; i++) {
			json_t *x = json_array_get(v, i);
			if (!json_is_integer(x))
				return err_set(e, ERR_FORMAT, "eos_token_id[%zu] must be an integer, got %s",
					       i, json_repr(x, b, sizeof b));
			json_int_t id = json_integer_value(x);
			if (id < 0 || id >= c->vocab_size)
				return err_set(e, ERR_RANGE,
					       "eos_token_id[%zu] = %lld is outside the vocabulary "
					       "(vocab_size %lld)",
					       i, (long long)id, (long long)c->vocab_size);
			c->eos_token_ids[i] = id;
		}
		c->n_eos_token_ids = (int)n;
	} else {
		return err_set(e, ERR_FORMAT, "eos_token_id must be an integer or a list, got %s",
			       json_repr(v, b, sizeof b));
	}
	if (c->n_eos_token_ids)
		c->eos_token_id = c->eos_token_ids[0];
	return 0;
}

static int parse_sizes(json_t *r, struct eng_config *c, bool v3, struct err *e)
{
	int rc;
#define INT(f, d2, d3, lo, hi, nok, nval)                                                   \
	do {                                                                                \
		rc = cfg_get_int(r, "", #f, v3 ? (d3) : (d2), lo, hi, nok, nval, &c->f, e);          \
		if (rc)                                                                     \
			return rc;                                                          \
	} while (0)
	INT(vocab_size, 102400, 129280, 1, MAX_VOCAB, 0, 0);
	INT(hidden_size, 4096, 7168, 1, MAX_HIDDEN, 0, 0);
	INT(intermediate_size, 11008, 18432, 1, MAX_INTERMEDIATE, 0, 0);
	INT(moe_intermediate_size, 1407, 2048, 1, MAX_INTERMEDIATE, 0, 0);
	INT(num_hidden_layers, 30, 61, 1, MAX_LAYERS, 0, 0);
	INT(num_nextn_predict_layers, 0, 1, 0, MAX_NEXTN, 1, 0);
	INT(num_attention_heads, 32, 128, 1, MAX_HEADS, 0, 0);
	/* HF: None means "same as num_attention_heads" (MLA does not use it). */
	INT(num_key_value_heads, c->num_attention_heads, c->num_attention_heads, 1, MAX_HEADS, 1,
	    c->num_attention_heads);
	INT(n_shared_experts, 0, 1, 0, MAX_EXPERTS, 1, 0);
	INT(n_routed_experts, 0, 256, 0, MAX_EXPERTS, 1, 0);
	INT(num_experts_per_tok, 0, 8, 0, MAX_EXPERTS, 1, 0);
	INT(moe_layer_freq, 1, 1, 1, MAX_LAYERS, 0, 0);
	INT(first_k_dense_replace, 0, 3, 0, MAX_LAYERS, 0, 0);
	INT(n_group, 1, 8, 1, MAX_EXPERTS, 1, 1);
	INT(topk_group, 1, 4, 1, MAX_EXPERTS, 1, 1);
	INT(q_lora_rank, 1536, 1536, 1, MAX_LORA, 1, 0);
	INT(kv_lora_rank, 512, 512, 1, MAX_LORA, 0, 0);
	INT(qk_rope_head_dim, 64, 64, 1, MAX_HEAD_DIM, 0, 0);
	INT(qk_nope_head_dim, 128, 128, 1, MAX_HEAD_DIM, 0, 0);
	INT(v_head_dim, 128, 128, 1, MAX_HEAD_DIM, 0, 0);
	INT(max_position_embeddings, 2048, 4096, 1, MAX_POSITIONS, 0, 0);
#undef INT
	return 0;
}

static int parse_moe(json_t *r, struct eng_config *c, bool v3, struct err *e)
{
	const char *topk = NULL, *scoring = NULL;
	int rc = cfg_get_str(r, "", "topk_method", v3 ? "noaux_tc" : "greedy", &topk, e);
	if (!rc)
		rc = cfg_get_str(r, "", "scoring_func", v3 ? "sigmoid" : "softmax", &scoring, e);
	if (!rc)
		rc = cfg_get_bool(r, "", "norm_topk_prob", v3, &c->norm_topk_prob, e);
	if (!rc)
		rc = cfg_get_num(r, "", "routed_scaling_factor", v3 ? 2.5 : 1.0, 0, 1, 1e6,
			     &c->routed_scaling_factor, e);
	if (rc)
		return rc;
	/* "gready" is the misspelt default of the original DeepSeek-V2 code. */
	if (strcmp(topk, "greedy") == 0 || strcmp(topk, "gready") == 0)
		c->topk_method = TOPK_GREEDY;
	else if (strcmp(topk, "group_limited_greedy") == 0)
		c->topk_method = TOPK_GROUP_LIMITED_GREEDY;
	else if (strcmp(topk, "noaux_tc") == 0)
		c->topk_method = TOPK_NOAUX_TC;
	else
		return err_set(e, ERR_UNSUPPORTED,
			       "topk_method \"%.40s\" is not supported: ponder implements greedy, "
			       "group_limited_greedy and noaux_tc",
			       topk);
	if (strcmp(scoring, "softmax") == 0)
		c->scoring_func = SCORING_SOFTMAX;
	else if (strcmp(scoring, "sigmoid") == 0)
		c->scoring_func = SCORING_SIGMOID;
	else
		return err_set(e, ERR_UNSUPPORTED,
			       "scoring_func \"%.40s\" is not supported: ponder implements softmax "
			       "and sigmoid",
			       scoring);
	if (c->moe_layer_freq != 1)
		return err_set(e, ERR_UNSUPPORTED,
			       "moe_layer_freq = %lld is not supported: ponder requires 1 (every "
			       "layer from first_k_dense_replace on is MoE, as in every DeepSeek "
			       "release)",
			       (long long)c->moe_layer_freq);
	if (c->first_k_dense_replace > c->num_hidden_layers)
		return err_set(e, ERR_RANGE,
			       "first_k_dense_replace = %lld exceeds num_hidden_layers = %lld",
			       (long long)c->first_k_dense_replace, (long long)c->num_hidden_layers);
	if (c->n_routed_experts == 0) {
		c->num_experts_per_tok = 0; /* dense model: routing fields are unused */
		return 0;
	}
	if (c->num_experts_per_tok < 1)
		return err_set(e, ERR_FORMAT,
			       "num_experts_per_tok must be set (>= 1) when n_routed_experts = %lld",
			       (long long)c->n_routed_experts);
	if (c->num_experts_per_tok > c->n_routed_experts)
		return err_set(e, ERR_RANGE,
			       "num_experts_per_tok = %lld exceeds n_routed_experts = %lld",
			       (long long)c->num_experts_per_tok, (long long)c->n_routed_experts);
	if (c->n_routed_experts % c->n_group != 0)
		return err_set(e, ERR_RANGE,
			       "n_routed_experts = %lld is not a multiple of n_group = %lld",
			       (long long)c->n_routed_experts, (long long)c->n_group);
	if (c->topk_group > c->n_group)
		return err_set(e, ERR_RANGE, "topk_group = %lld exceeds n_group = %lld",
			       (long long)c->topk_group, (long long)c->n_group);
	int64_t per_group = c->n_routed_experts / c->n_group;
	if (c->topk_method != TOPK_GREEDY && c->num_experts_per_tok > c->topk_group * per_group)
		return err_set(e, ERR_RANGE,
			       "num_experts_per_tok = %lld is more than the %lld experts in "
			       "topk_group = %lld groups of %lld",
			       (long long)c->num_experts_per_tok, (long long)(c->topk_group * per_group),
			       (long long)c->topk_group, (long long)per_group);
	/* noaux_tc scores a group by the sum of its two best experts. */
	if (c->topk_method == TOPK_NOAUX_TC && per_group < 2)
		return err_set(e, ERR_RANGE,
			       "topk_method noaux_tc needs at least 2 experts per group, but "
			       "n_routed_experts = %lld / n_group = %lld gives %lld",
			       (long long)c->n_routed_experts, (long long)c->n_group,
			       (long long)per_group);
	return 0;
}

/* Fields whose only accepted value is the one ponder implements. */
static int check_fixed(json_t *r, struct err *e)
{
	const char *act = NULL;
	bool b;
	int rc = cfg_get_str(r, "", "hidden_act", "silu", &act, e);
	if (rc)
		return rc;
	if (strcmp(act, "silu") != 0)
		return err_set(e, ERR_UNSUPPORTED,
			       "hidden_act \"%.40s\" is not supported: DeepSeek models use silu", act);
	rc = cfg_get_bool(r, "", "attention_bias", false, &b, e);
	if (rc)
		return rc;
	if (b)
		return err_set(e, ERR_UNSUPPORTED,
			       "attention_bias = true is not supported: DeepSeek attention has no "
			       "biases");
	rc = cfg_get_bool(r, "", "mlp_bias", false, &b, e);
	if (rc)
		return rc;
	if (b)
		return err_set(e, ERR_UNSUPPORTED, "mlp_bias = true is not supported");
	rc = cfg_get_bool(r, "", "rope_interleave", true, &b, e);
	if (rc)
		return rc;
	if (!b)
		return err_set(e, ERR_UNSUPPORTED,
			       "rope_interleave = false is not supported: DeepSeek checkpoints "
			       "rotate interleaved pairs");
	return 0;
}

static int parse_root(json_t *r, struct eng_config *c, struct err *e)
{
	if (!json_is_object(r))
		return err_set(e, ERR_FORMAT, "config.json is not a JSON object");
	int rc = parse_arch(r, c, e);
	if (rc)
		return rc;
	if (c->arch != ARCH_DEEPSEEK_V2 && c->arch != ARCH_DEEPSEEK_V3)
		return cfg_parse_dense(r, c, e);
	c->attn = ATTN_MLA;
	bool v3 = c->arch == ARCH_DEEPSEEK_V3;
	rc = parse_sizes(r, c, v3, e);
	if (!rc && c->qk_rope_head_dim % 2)
		rc = err_set(e, ERR_RANGE, "qk_rope_head_dim = %lld must be even (rotary pairs)",
			     (long long)c->qk_rope_head_dim);
	if (!rc)
		rc = parse_moe(r, c, v3, e);
	if (!rc)
		rc = check_fixed(r, e);
	if (!rc)
		rc = cfg_get_num(r, "", "rms_norm_eps", 1e-6, 0, 1, 1, &c->rms_norm_eps, e);
	if (!rc)
		rc = cfg_get_num(r, "", "rope_theta", 10000.0, 0, 1, 1e12, &c->rope_theta, e);
	if (!rc)
		rc = cfg_get_bool(r, "", "tie_word_embeddings", false, &c->tie_word_embeddings, e);
	if (rc)
		return rc;

	c->yarn = (struct eng_yarn){
		.enabled = false, .factor = 1.0, .beta_fast = 32, .beta_slow = 1,
		.mscale = 1, .mscale_all_dim = 0,
		.original_max_position_embeddings = 4096, .truncate = true,
	};
	json_t *rs = json_object_get(r, "rope_scaling");
	json_t *rp = json_object_get(r, "rope_parameters");
	if (rs && !json_is_null(rs))
		rc = parse_rope(rs, "rope_scaling", true, c, e);
	else if (rp && !json_is_null(rp))
		rc = parse_rope(rp, "rope_parameters", false, c, e);
	if (rc)
		return rc;
	if (!c->yarn.enabled)
		c->yarn.original_max_position_embeddings = c->max_position_embeddings;

	json_t *q = json_object_get(r, "quantization_config");
	if (q && !json_is_null(q)) {
		rc = cfg_parse_quant(q, c, e);
		if (rc)
			return rc;
	}
	return cfg_parse_token_ids(r, c, v3 ? 0 : 100000, v3 ? 1 : 100001, e);
}

int eng_config_parse(const char *json, size_t len, struct eng_config *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	if (!json)
		return err_set(e, ERR_USAGE, "config.json: no text");
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(e, ERR_FORMAT, "config.json is not valid JSON: %s (line %d, column %d)",
			       je.text, je.line, je.column);
	int rc = parse_root(root, c, e);
	json_decref(root);
	if (rc)
		memset(c, 0, sizeof *c);
	return rc;
}

int eng_config_load(const char *path, struct eng_config *c, struct err *e)
{
	memset(c, 0, sizeof *c);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) != 0) {
		rc = err_set(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(e, ERR_IO, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > (off_t)MAX_CONFIG_BYTES) {
		rc = err_set(e, ERR_FORMAT, "%s: %lld bytes is far too large for a config.json",
			     path, (long long)st.st_size);
		goto out;
	}
	size_t len = (size_t)st.st_size, got = 0;
	buf = malloc(len ? len : 1);
	if (!buf) {
		rc = err_set(e, ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = err_set(e, ERR_IO, "%s: read failed: %s", path,
				     n < 0 ? strerror(errno) : "file shrank while reading");
			goto out;
		}
		got += (size_t)n;
	}
	rc = eng_config_parse(buf, len, c, e);
	if (rc)
		err_prefix(e, "%s", path);
out:
	free(buf);
	close(fd);
	return rc;
}

/* DeepSeek's yarn_get_mscale: attention sharpening for a context stretched by `scale`. */
static double yarn_mscale(double scale, double mscale)
{
	return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0;
}

double eng_config_softmax_scale(const struct eng_config *c)
{
	/* The dense families' YaRN scales cos and sin instead (rope.c). */
	if (c->attn == ATTN_GQA)
		return 1.0 / sqrt((double)c->head_dim);
	double s = 1.0 / sqrt((double)(c->qk_nope_head_dim + c->qk_rope_head_dim));
	if (c->yarn.enabled && c->yarn.mscale_all_dim != 0) {
		double m = yarn_mscale(c->yarn.factor, c->yarn.mscale_all_dim);
		s *= m * m;
	}
	return s;
}
