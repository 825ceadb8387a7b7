/*
 * gqa.c — grouped-query attention, the attention block of the dense families (Qwen2,
 * Llama 3, Qwen3): q, k and v projections (with biases when the config has them),
 * Qwen3's per-head RMSNorm of q and k, rotary embedding over whole heads in the
 * half-split layout, and softmax attention in which each group of heads / kv_heads
 * query heads shares one cached key and value head.
 *
 * The cache keeps, per position and layer, the rotated keys of every kv head and then
 * their values, each head a row of its own in the sequence's cache type (an FP8 row has
 * its own scale, so keys and values keep separate ranges). Prefill and decode run the
 * same code over n positions.
 */
#include "engine/model.h"

/* rows[n][width] += bias[width] */
static void add_bias(float *rows, const float *bias, size_t n, size_t width)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < width; k++)
			rows[i * width + k] += bias[k];
}

void gqa_forward(struct eng_state *st, const struct gqa_weights *a, uint8_t *cache,
		 const float *xn, float *y, size_t n, size_t pos0)
{
	struct eng_model *m = st->m;
	const struct eng_config *c = m->cfg;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t H = (size_t)c->num_attention_heads, Hk = (size_t)c->num_key_value_heads;
	size_t Dh = (size_t)c->head_dim, D = (size_t)c->hidden_size;
	float eps = (float)c->rms_norm_eps;

	ops->linear(m->pool, s->q, xn, n, &a->q);
	ops->linear(m->pool, s->k, xn, n, &a->k);
	ops->linear(m->pool, s->v, xn, n, &a->v);
	if (a->q_bias) {
		add_bias(s->q, a->q_bias, n, H * Dh);
		add_bias(s->k, a->k_bias, n, Hk * Dh);
		add_bias(s->v, a->v_bias, n, Hk * Dh);
	}
	if (a->q_norm) {
		ops->rmsnorm(s->q, s->q, a->q_norm, n * H, Dh, eps);
		ops->rmsnorm(s->k, s->k, a->k_norm, n * Hk, Dh, eps);
	}
	ops->rope_half(s->q, n, H, H * Dh, Dh, Dh, s->cos, s->sin);
	ops->rope_half(s->k, n, Hk, Hk * Dh, Dh, Dh, s->cos, s->sin);

	size_t rb = kern_kv_row_bytes(m->kv_dtype, Dh);
	for (size_t i = 0; i < n; i++) {
		uint8_t *at = cache + (pos0 + i) * st->row;
		for (size_t g = 0; g < Hk; g++) {
			kern_kv_row_put(at + g * rb, s->k + (i * Hk + g) * Dh, Dh, m->kv_dtype);
			kern_kv_row_put(at + (Hk + g) * rb, s->v + (i * Hk + g) * Dh, Dh, m->kv_dtype);
		}
	}

	struct kern_gqa_args args = {
		.out = s->o_in, .q = s->q, .cache = cache, .cache_type = m->kv_dtype,
		.pos_stride = st->row, .n = n, .heads = H, .kv_heads = Hk, .head_dim = Dh,
		.pos0 = pos0, .scale = m->softmax_scale, .scratch = s->attn,
		.scratch_stride = st->ctx,
	};
	ops->gqa_attn(m->pool, &args);
	ops->linear(m->pool, y, s->o_in, n, &a->o);
	if (a->o_bias)
		add_bias(y, a->o_bias, n, D);
}
