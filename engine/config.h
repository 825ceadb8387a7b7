/*
 * config.h — a model's config.json, as the Hugging Face DeepseekV2/V3 modelling code
 * reads it.
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

enum eng_arch { ARCH_DEEPSEEK_V2, ARCH_DEEPSEEK_V3 };
enum eng_topk_method { TOPK_GREEDY, TOPK_GROUP_LIMITED_GREEDY, TOPK_NOAUX_TC };
enum eng_scoring { SCORING_SOFTMAX, SCORING_SIGMOID };

struct eng_yarn {
	bool enabled;          /* rope_scaling.type == "yarn" */
	double factor;
	double beta_fast, beta_slow;
	double mscale, mscale_all_dim;
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
	int64_t num_key_value_heads;

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

#endif
