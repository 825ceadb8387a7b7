/*
 * fuzz_config.c — libFuzzer harness for eng_config_parse (engine/config.c).
 *
 * Feeds arbitrary bytes as config.json text. On success it re-checks the bounds the
 * parser promises (every size positive and bounded, routing consistent) and that the
 * softmax scale is a finite positive number, trapping if one does not hold.
 *
 *   make fuzz && build/fuzz/fuzz_config -max_total_time=180 CORPUS_DIR
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eng_config c;
	struct err e = {0};
	int rc = eng_config_parse((const char *)data, size, &c, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0])
			__builtin_trap();
		return 0;
	}
	if (c.hidden_size < 1 || c.hidden_size > 65536 || c.vocab_size < 1 ||
	    c.vocab_size > 4 * 1024 * 1024 || c.num_hidden_layers < 1 ||
	    c.num_hidden_layers > 1024 || c.num_attention_heads < 1 ||
	    c.num_attention_heads > 1024 || c.max_position_embeddings < 1 ||
	    c.max_position_embeddings > 16 * 1024 * 1024)
		__builtin_trap();
	if (c.attn == ATTN_GQA) {
		if (c.head_dim < 2 || c.head_dim > 1024 || c.head_dim % 2 ||
		    c.num_key_value_heads < 1 || c.num_attention_heads % c.num_key_value_heads ||
		    c.n_routed_experts || c.kv_lora_rank || c.num_nextn_predict_layers)
			__builtin_trap();
	} else if (c.kv_lora_rank < 1 || c.kv_lora_rank > 16384 || c.q_lora_rank < 0 ||
		   c.q_lora_rank > 16384 || c.qk_rope_head_dim < 1 || c.qk_rope_head_dim % 2 ||
		   c.qk_nope_head_dim < 1 || c.v_head_dim < 1 ||
		   c.first_k_dense_replace > c.num_hidden_layers || c.moe_layer_freq != 1) {
		__builtin_trap();
	}
	if (c.n_routed_experts) {
		if (c.num_experts_per_tok < 1 || c.num_experts_per_tok > c.n_routed_experts ||
		    c.n_group < 1 || c.n_routed_experts % c.n_group || c.topk_group < 1 ||
		    c.topk_group > c.n_group)
			__builtin_trap();
	}
	if (c.n_eos_token_ids < 0 || c.n_eos_token_ids > 8)
		__builtin_trap();
	for (int i = 0; i < c.n_eos_token_ids; i++)
		if (c.eos_token_ids[i] < 0 || c.eos_token_ids[i] >= c.vocab_size)
			__builtin_trap();
	if (c.bos_token_id >= c.vocab_size || memchr(c.architecture, 0, sizeof c.architecture) == NULL)
		__builtin_trap();
	double s = eng_config_softmax_scale(&c);
	if (!isfinite(s) || s <= 0)
		__builtin_trap();
	return 0;
}
