/*
 * config_dense.c — config.json of the dense decoders the DeepSeek-R1 distills use:
 * Qwen2ForCausalLM, LlamaForCausalLM (Llama 3.1 rope scaling) and Qwen3ForCausalLM.
 *
 * Fields and defaults follow transformers' Qwen2Config, LlamaConfig and Qwen3Config and
 * its rope utilities (modeling_rope_utils.py), so that a sparse config.json means what
 * it means there. As for DeepSeek, a field that would change the computation in a way
 * ponder does not implement is an error naming it: another activation, MLP biases, a
 * sliding window that is really on, multimodal rope, partial rotary, rope scalings other
 * than llama3 and yarn.
 *
 * Biases: Qwen2 always has q/k/v biases and none on o_proj (its modelling code ignores
 * attention_bias); Llama and Qwen3 put attention_bias on all four projections.
 *
 * YaRN: the frequency ramp is DeepSeek's (rope.c); the multiplier of cos and sin is
 * rope_scaling.attention_factor when given, else mscale/mscale_all_dim when both are
 * given, else 0.1·ln(factor) + 1. The key "attn_factor" (DeepSeek-R1-0528-Qwen3-8B has
 * 0.8782) is not read by transformers nor by llama.cpp; ponder follows them, so that it
 * computes what the model was evaluated with (docs/engine.md says more).
 *
 * Invariants after a successful parse: attn == ATTN_GQA; head_dim is even and at most
 * 1024; num_key_value_heads divides num_attention_heads; the MoE and MLA fields are 0.
 */
#include "engine/config_parse.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Widest head the attention kernels take (kern_gqa_args). */
#define MAX_GQA_HEAD_DIM 1024

struct family_defaults {
	int64_t vocab, hidden, inter, layers, heads, max_pos;
	double rms_eps;
};

static struct family_defaults defaults_of(enum eng_arch a)
{
	switch (a) {
	case ARCH_LLAMA: return (struct family_defaults){32000, 4096, 11008, 32, 32, 2048, 1e-6};
	case ARCH_QWEN3: return (struct family_defaults){151936, 4096, 22016, 32, 32, 32768, 1e-6};
	default: return (struct family_defaults){151936, 4096, 22016, 32, 32, 32768, 1e-6};
	}
}

static int parse_sizes(json_t *r, struct eng_config *c, struct err *e)
{
	struct family_defaults d = defaults_of(c->arch);
	int rc;
#define INT(f, def, lo, hi, nok, nval)                                                     \
	do {                                                                                \
		rc = cfg_get_int(r, "", #f, def, lo, hi, nok, nval, &c->f, e);             \
		if (rc)                                                                     \
			return rc;                                                          \
	} while (0)
	INT(vocab_size, d.vocab, 1, MAX_VOCAB, 0, 0);
	INT(hidden_size, d.hidden, 1, MAX_HIDDEN, 0, 0);
	INT(intermediate_size, d.inter, 1, MAX_INTERMEDIATE, 0, 0);
	INT(num_hidden_layers, d.layers, 1, MAX_LAYERS, 0, 0);
	INT(num_attention_heads, d.heads, 1, MAX_HEADS, 0, 0);
	INT(num_key_value_heads, c->num_attention_heads, 1, MAX_HEADS, 1, c->num_attention_heads);
	/* Qwen3Config's default is 128; the others derive it (None included). */
	int64_t hd = c->hidden_size / c->num_attention_heads;
	INT(head_dim, c->arch == ARCH_QWEN3 ? 128 : hd, 1, MAX_GQA_HEAD_DIM, 1, hd);
	INT(max_position_embeddings, d.max_pos, 1, MAX_POSITIONS, 0, 0);
#undef INT
	/* A derived head_dim (hidden_size / num_attention_heads) is not range-checked. */
	if (c->head_dim < 2 || c->head_dim > MAX_GQA_HEAD_DIM || c->head_dim % 2)
		return err_set(e, ERR_RANGE, "head_dim = %lld must be even, from 2 to %d (rotary "
			       "pairs); set head_dim, or check hidden_size and num_attention_heads",
			       (long long)c->head_dim, MAX_GQA_HEAD_DIM);
	if (c->num_attention_heads % c->num_key_value_heads)
		return err_set(e, ERR_RANGE, "num_attention_heads = %lld is not a multiple of "
			       "num_key_value_heads = %lld", (long long)c->num_attention_heads,
			       (long long)c->num_key_value_heads);
	return cfg_get_num(r, "", "rms_norm_eps", d.rms_eps, 0, 1, 1, &c->rms_norm_eps, e);
}

/* A flag that must be false (or absent) for ponder to compute what the model means. */
static int refuse_true(json_t *r, const char *field, const char *why, struct err *e)
{
	bool b;
	int rc = cfg_get_bool(r, "", field, false, &b, e);
	if (!rc && b)
		rc = err_set(e, ERR_UNSUPPORTED, "%s = true is not supported: %s", field, why);
	return rc;
}

/* Qwen's sliding window: on for layers >= max_window_layers when use_sliding_window. */
static int check_window(json_t *r, const struct eng_config *c, struct err *e)
{
	bool use;
	int64_t window, from;
	int rc = cfg_get_bool(r, "", "use_sliding_window", false, &use, e);
	if (!rc)
		rc = cfg_get_int(r, "", "sliding_window", 0, 0, MAX_POSITIONS, 1, 0, &window, e);
	if (!rc)
		rc = cfg_get_int(r, "", "max_window_layers", c->num_hidden_layers, 0, MAX_LAYERS, 1,
				 c->num_hidden_layers, &from, e);
	if (rc || !use || !window || from >= c->num_hidden_layers)
		return rc;
	return err_set(e, ERR_UNSUPPORTED, "use_sliding_window = true with sliding_window = %lld "
		       "from layer %lld on is not supported: ponder attends over the whole "
		       "context (the R1 distills are published with the window off)",
		       (long long)window, (long long)from);
}

/* layer_types (newer transformers): every layer must be full attention. */
static int check_layer_types(json_t *r, struct err *e)
{
	json_t *lt = json_object_get(r, "layer_types");
	char b[80];
	if (!lt || json_is_null(lt))
		return 0;
	if (!json_is_array(lt))
		return err_set(e, ERR_FORMAT, "layer_types must be a list, got %s",
			       json_repr(lt, b, sizeof b));
	for (size_t i = 0; i < json_array_size(lt); i++) {
		json_t *t = json_array_get(lt, i);
		if (!json_is_string(t) || strcmp(json_string_value(t), "full_attention") != 0)
			return err_set(e, ERR_UNSUPPORTED, "layer_types[%zu] = %s is not supported: "
				       "ponder runs full attention in every layer", i,
				       json_repr(t, b, sizeof b));
	}
	return 0;
}

static int check_fixed(json_t *r, struct eng_config *c, struct err *e)
{
	const char *act = NULL;
	double partial;
	int rc = cfg_get_str(r, "", "hidden_act", "silu", &act, e);
	if (rc)
		return rc;
	if (strcmp(act, "silu") != 0)
		return err_set(e, ERR_UNSUPPORTED, "hidden_act \"%.40s\" is not supported: ponder "
			       "implements silu (SwiGLU)", act);
	if ((rc = refuse_true(r, "mlp_bias", "ponder's MLPs have no biases", e)) ||
	    (rc = refuse_true(r, "use_mrope", "multimodal rope is for Qwen2-VL, not a text "
			      "model", e)) ||
	    (rc = check_window(r, c, e)) || (rc = check_layer_types(r, e)))
		return rc;
	rc = cfg_get_num(r, "", "partial_rotary_factor", 1.0, 0, 1, 1, &partial, e);
	if (!rc && partial != 1.0)
		rc = err_set(e, ERR_UNSUPPORTED, "partial_rotary_factor = %g is not supported: "
			     "ponder rotates whole heads", partial);
	return rc;
}

static int parse_biases(json_t *r, struct eng_config *c, struct err *e)
{
	bool attention_bias;
	int rc = cfg_get_bool(r, "", "attention_bias", false, &attention_bias, e);
	if (rc)
		return rc;
	c->qkv_bias = c->arch == ARCH_QWEN2 || attention_bias;
	c->o_bias = c->arch != ARCH_QWEN2 && attention_bias;
	c->qk_norm = c->arch == ARCH_QWEN3;
	return 0;
}

/* rope_scaling.type "yarn" with Hugging Face's semantics (see the header comment). */
static int parse_yarn(json_t *rs, const char *pre, struct eng_config *c, struct err *e)
{
	struct eng_yarn *y = &c->yarn;
	double mscale = 0, mscale_all = 0;
	int rc;
	y->enabled = true;
	if (!json_object_get(rs, "factor"))
		return err_set(e, ERR_FORMAT, "%s (yarn) has no \"factor\"", pre);
	if ((rc = cfg_get_num(rs, pre, "factor", 1, 0, 1, 1e6, &y->factor, e)) ||
	    (rc = cfg_get_num(rs, pre, "beta_fast", 32, 0, 1, 1e6, &y->beta_fast, e)) ||
	    (rc = cfg_get_num(rs, pre, "beta_slow", 1, 0, 1, 1e6, &y->beta_slow, e)) ||
	    (rc = cfg_get_num(rs, pre, "mscale", 0, 0, 0, 1e3, &mscale, e)) ||
	    (rc = cfg_get_num(rs, pre, "mscale_all_dim", 0, 0, 0, 1e3, &mscale_all, e)) ||
	    (rc = cfg_get_bool(rs, pre, "truncate", true, &y->truncate, e)) ||
	    (rc = cfg_get_int(rs, pre, "original_max_position_embeddings",
			      c->max_position_embeddings, 1, MAX_POSITIONS, 0, 0,
			      &y->original_max_position_embeddings, e)))
		return rc;
	double f = y->factor;
	double fallback = f <= 1 ? 1.0 : 0.1 * log(f) + 1.0;
	if (mscale != 0 && mscale_all != 0)
		fallback = (f <= 1 ? 1.0 : 0.1 * mscale * log(f) + 1.0) /
			   (f <= 1 ? 1.0 : 0.1 * mscale_all * log(f) + 1.0);
	return cfg_get_num(rs, pre, "attention_factor", fallback, 0, 1, 1e3, &y->attention_factor,
			   e);
}

static int parse_llama3(json_t *rs, const char *pre, struct eng_config *c, struct err *e)
{
	struct eng_llama3_rope *l = &c->llama3;
	static const char *const need[] = {"factor", "low_freq_factor", "high_freq_factor",
					   "original_max_position_embeddings"};
	for (size_t i = 0; i < sizeof need / sizeof *need; i++)
		if (!json_object_get(rs, need[i]))
			return err_set(e, ERR_FORMAT, "%s (llama3) has no \"%s\"", pre, need[i]);
	l->enabled = true;
	int rc;
	if ((rc = cfg_get_num(rs, pre, "factor", 1, 0, 1, 1e6, &l->factor, e)) ||
	    (rc = cfg_get_num(rs, pre, "low_freq_factor", 1, 0, 1, 1e6, &l->low_freq_factor, e)) ||
	    (rc = cfg_get_num(rs, pre, "high_freq_factor", 4, 0, 1, 1e6, &l->high_freq_factor,
			      e)) ||
	    (rc = cfg_get_int(rs, pre, "original_max_position_embeddings", 8192, 1, MAX_POSITIONS,
			      0, 0, &l->original_max_position_embeddings, e)))
		return rc;
	if (l->high_freq_factor <= l->low_freq_factor)
		return err_set(e, ERR_RANGE, "%shigh_freq_factor = %g must exceed low_freq_factor = "
			       "%g", pre, l->high_freq_factor, l->low_freq_factor);
	return 0;
}

/* rope_scaling (or transformers 5's rope_parameters): none, "llama3" or "yarn". */
static int parse_rope(json_t *rs, const char *field, struct eng_config *c, struct err *e)
{
	static const char *const known[] = {
		"type", "rope_type", "factor", "beta_fast", "beta_slow", "mscale", "mscale_all_dim",
		"attention_factor", "attn_factor", "truncate", "original_max_position_embeddings",
		"low_freq_factor", "high_freq_factor", "rope_theta", NULL,
	};
	char pre[48];
	snprintf(pre, sizeof pre, "%s.", field);
	const char *t1 = NULL, *t2 = NULL;
	int rc = cfg_check_keys(rs, field, known, "the llama3 and yarn rope scalings", e);
	if (!rc)
		rc = cfg_get_str(rs, pre, "type", NULL, &t1, e);
	if (!rc)
		rc = cfg_get_str(rs, pre, "rope_type", NULL, &t2, e);
	if (!rc && json_object_get(rs, "rope_theta"))
		rc = cfg_get_num(rs, pre, "rope_theta", c->rope_theta, 0, 1, 1e12, &c->rope_theta, e);
	if (rc)
		return rc;
	const char *type = t2 ? t2 : t1 ? t1 : "default";
	if (strcmp(type, "default") == 0)
		return 0;
	if (strcmp(type, "yarn") == 0)
		return parse_yarn(rs, pre, c, e);
	if (strcmp(type, "llama3") == 0)
		return parse_llama3(rs, pre, c, e);
	return err_set(e, ERR_UNSUPPORTED, "%s type \"%.40s\" is not supported: ponder implements "
		       "\"llama3\", \"yarn\" or no scaling", field, type);
}

int cfg_parse_dense(json_t *r, struct eng_config *c, struct err *e)
{
	c->attn = ATTN_GQA;
	int rc = parse_sizes(r, c, e);
	if (!rc)
		rc = check_fixed(r, c, e);
	if (!rc)
		rc = parse_biases(r, c, e);
	if (!rc)
		rc = cfg_get_num(r, "", "rope_theta", 10000.0, 0, 1, 1e12, &c->rope_theta, e);
	if (!rc)
		rc = cfg_get_bool(r, "", "tie_word_embeddings", false, &c->tie_word_embeddings, e);
	if (rc)
		return rc;
	json_t *rs = json_object_get(r, "rope_scaling");
	json_t *rp = json_object_get(r, "rope_parameters");
	if (rs && !json_is_null(rs))
		rc = parse_rope(rs, "rope_scaling", c, e);
	else if (rp && !json_is_null(rp))
		rc = parse_rope(rp, "rope_parameters", c, e);
	if (rc)
		return rc;
	c->yarn.original_max_position_embeddings = c->yarn.enabled
		? c->yarn.original_max_position_embeddings : c->max_position_embeddings;
	json_t *q = json_object_get(r, "quantization_config");
	if (q && !json_is_null(q) && (rc = cfg_parse_quant(q, c, e)))
		return rc;
	return cfg_parse_token_ids(r, c, -1, -1, e);
}
