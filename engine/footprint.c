/*
 * footprint.c — how many bytes of weights one decoded token reads (engine.h,
 * eng_decode_weight_bytes), for `ponder bench`: decode on a CPU is bound by memory
 * bandwidth, so bytes per token times tokens per second says how close it runs to the
 * machine's limit.
 *
 * Counted is what a 1-token eng_forward of the main model touches: one embedding row,
 * every attention matrix (with a GQA model's biases and q/k norms), the norm vectors,
 * the dense MLPs, per MoE layer the router (and its bias), the shared experts and num_experts_per_tok routed experts, the final
 * norm and the LM head. Matrices count in the dtype the forward pass reads them in (the
 * checkpoint's, unless the model re-quantised one at load), FP8 ones with their F32
 * block scales (the kernels read F32 scales whatever the checkpoint stored); norm
 * vectors and the router bias count as the F32 copies the forward pass reads. The MTP
 * module is not counted: plain decoding does not run it. Activations, scratch and the
 * KV cache are not weights; the caller adds the cache (eng_kv_bytes_per_token).
 */
#include "engine/model.h"

static uint64_t blocks(uint64_t n)
{
	return (n + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK;
}

/* Bytes of `rows` rows of m, with the scale rows they use. An unbound matrix is 0. */
static uint64_t mat_rows_bytes(const struct kern_mat *m, uint64_t rows)
{
	if (!m->data)
		return 0;
	uint64_t b = rows * m->cols * kern_dtype_size(m->dtype);
	if (m->dtype == KD_F8_E4M3)
		b += blocks(rows) * blocks(m->cols) * sizeof(float);
	return b;
}

static uint64_t mat_bytes(const struct kern_mat *m)
{
	return mat_rows_bytes(m, m->rows);
}

static uint64_t mlp_bytes(const struct mlp_weights *w)
{
	return mat_bytes(&w->gate) + mat_bytes(&w->up) + mat_bytes(&w->down);
}

static uint64_t mla_bytes(const struct eng_config *c, const struct mla_weights *a)
{
	uint64_t f = sizeof(float);
	uint64_t b = mat_bytes(&a->q_a) + mat_bytes(&a->q_b) + mat_bytes(&a->q) +
		     mat_bytes(&a->kv_a) + mat_bytes(&a->kv_b) + mat_bytes(&a->o);
	if (a->q_a_norm)
		b += (uint64_t)c->q_lora_rank * f;
	return b + (uint64_t)c->kv_lora_rank * f;
}

static uint64_t gqa_bytes(const struct eng_config *c, const struct gqa_weights *a)
{
	uint64_t f = sizeof(float), d = (uint64_t)c->head_dim;
	uint64_t b = mat_bytes(&a->q) + mat_bytes(&a->k) + mat_bytes(&a->v) + mat_bytes(&a->o);
	if (a->q_bias)
		b += (a->q.rows + a->k.rows + a->v.rows) * f;
	if (a->o_bias)
		b += a->o.rows * f;
	if (a->q_norm)
		b += 2 * d * f;
	return b;
}

static uint64_t layer_bytes(const struct eng_config *c, const struct layer_weights *l)
{
	uint64_t D = (uint64_t)c->hidden_size, f = sizeof(float);
	uint64_t b = 2 * D * f; /* attn_norm, mlp_norm */
	b += c->attn == ATTN_MLA ? mla_bytes(c, &l->attn) : gqa_bytes(c, &l->gqa);
	if (!l->is_moe)
		return b + mlp_bytes(&l->mlp);

	const struct moe_weights *mw = &l->moe;
	uint64_t E = (uint64_t)c->n_routed_experts, K = (uint64_t)c->num_experts_per_tok;
	b += mat_bytes(&mw->router) + (mw->bias ? E * f : 0);
	if (mw->has_shared)
		b += mlp_bytes(&mw->shared);
	/* Which K experts a token picks varies; their mean size times K is exact when all
	   experts are stored alike, as they are in every DeepSeek checkpoint. */
	uint64_t experts = 0;
	for (uint64_t e = 0; e < E; e++)
		experts += mlp_bytes(&mw->experts[e]);
	return b + experts * K / E;
}

uint64_t eng_decode_weight_bytes(const struct eng_model *m)
{
	const struct eng_config *c = m->cfg;
	const struct model_weights *w = &m->w;
	uint64_t b = mat_rows_bytes(&w->embed, 1);
	for (int64_t l = 0; l < c->num_hidden_layers; l++)
		b += layer_bytes(c, &w->layers[l]);
	b += (uint64_t)c->hidden_size * sizeof(float); /* final norm */
	return b + mat_bytes(&w->lm_head);
}
