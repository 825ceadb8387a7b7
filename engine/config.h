/*
 * config.h — a model's config.json, as the Hugging Face modelling code of its
 * architecture reads it: DeepseekV2/V3 (MLA + MoE) and the dense decoders of the
 * DeepSeek-R1 distills, Qwen2, Llama (3.x) and Qwen3 (grouped-query attention).
 *
 * Every field that code reads is either honoured here or rejected with an error that
 * names the field and the value (an unknown rope_scaling type, topk_method,
 * moe_layer_freq != 1, hidden_act other than silu, ...). Sizes are bounded so that a
 * hostile file cannot make later code allocate absurd amounts.
 */
#ifndef PONDER_ENG_CONFIG_H
#define PONDER_ENG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum eng_arch { ARCH_DEEPSEEK_V2, ARCH_DEEPSEEK_V3, ARCH_QWEN2, ARCH_LLAMA, ARCH_QWEN3 };

/* Which attention block the decoder layers use. */
enum eng_attn_kind {
	ATTN_MLA, /* DeepSeek: latent KV, interleaved rope on qk_rope_head_dim */
	ATTN_GQA, /* dense families: num_key_value_heads k/v heads of head_dim, rope over
		     the whole head in the half-split ("rotate_half") layout */
};
enum eng_topk_method { TOPK_GREEDY, TOPK_GROUP_LIMITED_GREEDY, TOPK_NOAUX_TC };
enum eng_scoring { SCORING_SOFTMAX, SCORING_SIGMOID };

struct eng_yarn {
	bool enabled;          /* rope_scaling.type == "yarn" */
	double factor;
	double beta_fast, beta_slow;
	double mscale, mscale_all_dim;
	int64_t original_max_position_embeddings;
	/* GQA families (Hugging Face's rope utilities): the multiplier of cos and sin, and
	   whether the correction range is rounded outwards to whole dimensions. */
	double attention_factor;
	bool truncate;
};

/* Llama 3.1's rope_scaling (rope_type "llama3"): long wavelengths divided by factor,
   short ones kept, a smooth blend between. */
struct eng_llama3_rope {
	bool enabled;
	double factor, low_freq_factor, high_freq_factor;
	int64_t original_max_position_embeddings;
};

struct eng_config {
	enum eng_arch arch;
	char architecture[64];   /* as written, e.g. "DeepseekV3ForCausalLM" */
	char model_type[64];

	int64_t vocab_size;
	int64_t hidden_size;
	int64_t intermediate_size;     /* dense MLP */
	int64_t moe_intermediate_size; /* each routed expert; shared = this * n_shared_experts */
	int64_t num_hidden_layers;
	int64_t num_nextn_predict_layers; /* MTP layers, stored at index num_hidden_layers... */
	int64_t num_attention_heads;
	int64_t num_key_value_heads; /* GQA: k/v heads, a divisor of num_attention_heads */

	enum eng_attn_kind attn;
	int64_t head_dim;          /* GQA: width of every q, k and v head (even) */
	bool qkv_bias;             /* GQA: q_proj, k_proj and v_proj have biases */
	bool o_bias;               /* GQA: o_proj has a bias */
	bool qk_norm;              /* GQA: per-head RMSNorm of q and k before rope (Qwen3) */

	int64_t n_shared_experts;  /* 0: none */
	int64_t n_routed_experts;  /* 0: dense model */
	int64_t num_experts_per_tok;
	int64_t moe_layer_freq;    /* must be 1 */
	int64_t first_k_dense_replace;
	int64_t n_group, topk_group;
	enum eng_topk_method topk_method;
	enum eng_scoring scoring_func;
	bool norm_topk_prob;
	double routed_scaling_factor;

	int64_t q_lora_rank;   /* 0: plain q_proj */
	int64_t kv_lora_rank;
	int64_t qk_rope_head_dim;
	int64_t qk_nope_head_dim;
	int64_t v_head_dim;

	int64_t max_position_embeddings;
	double rms_norm_eps;
	double rope_theta;
	struct eng_yarn yarn;
	struct eng_llama3_rope llama3;

	bool tie_word_embeddings;
	int64_t bos_token_id;   /* -1 if absent */
	int64_t eos_token_id;   /* first of the list when config gives several; -1 if absent */
	int64_t eos_token_ids[8];
	int n_eos_token_ids;

	bool fp8;               /* quantization_config says fp8 e4m3 */
	int64_t fp8_block[2];   /* weight_block_size, [128, 128] */
};

/* Parses and validates config.json text. */
int eng_config_parse(const char *json, size_t len, struct eng_config *c, struct err *e);

/* Reads and parses a config.json file; errors name the path. */
int eng_config_load(const char *path, struct eng_config *c, struct err *e);

/* Softmax scale of the attention, with the YaRN mscale correction. */
double eng_config_softmax_scale(const struct eng_config *c);

/* Width of the rotated part of a head: qk_rope_head_dim (MLA) or head_dim (GQA). */
static inline int64_t eng_config_rope_dim(const struct eng_config *c)
{
	return c->attn == ATTN_MLA ? c->qk_rope_head_dim : c->head_dim;
}

/* "DeepSeek-V3: MLA + MoE", "Qwen2: dense, grouped-query attention", ... */
const char *eng_config_family(const struct eng_config *c);

/* The architectures ponder runs, as one sentence for messages. */
const char *eng_supported_architectures(void);

#endif
