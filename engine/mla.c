/*
 * mla.c — Multi-head Latent Attention in the absorbed form, over the compressed cache.
 *
 * Per position and layer the cache holds only C + R values (F32, BF16 or FP8): the
 * normed latent c_kv and the rotated shared k_pe. Instead of expanding c_kv to per-head
 * keys and values, the query's no-rope part is pushed through W_UK (q_lat = q_nope ·
 * W_UK_h, C values per head) and the attention output stays in latent space until W_UV
 * maps it to Vh values per head. This is the decode path DeepSeek describes; prefill uses the same math over
 * N positions at a time, so the two agree by construction.
 */
#include <string.h>

#include "engine/model.h"

struct head_job {
	struct eng_state *st;
	const struct mla_weights *a;
	size_t n;
	int stage; /* 0: absorb q_nope through W_UK; 1: expand the latent output by W_UV */
};

/* One head at a time, each with a single-threaded kernel call: one parallel region for
   all heads instead of one per head. */
static void head_task(void *ctx, size_t begin, size_t end, int thread)
{
	struct head_job *j = ctx;
	struct eng_state *st = j->st;
	const struct eng_config *c = st->m->cfg;
	const struct kern_ops *ops = st->m->ops;
	struct fwd_scratch *s = &st->s;
	size_t H = (size_t)c->num_attention_heads, C = (size_t)c->kv_lora_rank;
	size_t R = (size_t)c->qk_rope_head_dim, P = (size_t)c->qk_nope_head_dim;
	size_t Vh = (size_t)c->v_head_dim, n = j->n;
	size_t width = P > C ? P : C, owidth = C > Vh ? C : Vh;
	float *in = s->head_in + (size_t)thread * FWD_CHUNK * width;
	float *out = s->head_out + (size_t)thread * FWD_CHUNK * owidth;

	for (size_t h = begin; h < end; h++) {
		if (j->stage == 0) {
			struct kern_mat uk = kern_mat_rows(&j->a->kv_b, h * (P + Vh), P);
			for (size_t i = 0; i < n; i++)
				memcpy(in + i * P, s->q + (i * H + h) * (P + R), P * sizeof *in);
			ops->linear_t(NULL, out, in, n, &uk);
			for (size_t i = 0; i < n; i++)
				memcpy(s->q_lat + (i * H + h) * C, out + i * C, C * sizeof *out);
		} else {
			struct kern_mat uv = kern_mat_rows(&j->a->kv_b, h * (P + Vh) + P, Vh);
			for (size_t i = 0; i < n; i++)
				memcpy(in + i * C, s->out_lat + (i * H + h) * C, C * sizeof *in);
			ops->linear(NULL, out, in, n, &uv);
			for (size_t i = 0; i < n; i++)
				memcpy(s->o_in + i * H * Vh + h * Vh, out + i * Vh, Vh * sizeof *out);
		}
	}
}

void mla_forward(struct eng_state *st, const struct mla_weights *a, uint8_t *cache,
		 const float *xn, float *y, size_t n, size_t pos0)
{
	struct eng_model *m = st->m;
	const struct eng_config *c = m->cfg;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t H = (size_t)c->num_attention_heads, C = (size_t)c->kv_lora_rank;
	size_t R = (size_t)c->qk_rope_head_dim, P = (size_t)c->qk_nope_head_dim;
	size_t CR = C + R;

	/* Queries: [n][H][P+R]. */
	if (c->q_lora_rank > 0) {
		ops->linear(m->pool, s->qa, xn, n, &a->q_a);
		ops->rmsnorm(s->qa, s->qa, a->q_a_norm, n, (size_t)c->q_lora_rank,
			     (float)c->rms_norm_eps);
		ops->linear(m->pool, s->q, s->qa, n, &a->q_b);
	} else {
		ops->linear(m->pool, s->q, xn, n, &a->q);
	}

	/* New cache rows: normed latent, then the shared rope key rotated, in F32; then each
	   is converted once into the cache's type. */
	ops->linear(m->pool, s->kv, xn, n, &a->kv_a);
	for (size_t i = 0; i < n; i++)
		ops->rmsnorm(s->kv + i * CR, s->kv + i * CR, a->kv_a_norm, 1, C,
			     (float)c->rms_norm_eps);
	ops->rope(s->kv + C, n, 1, CR, 0, R, s->cos, s->sin);
	for (size_t i = 0; i < n; i++)
		kern_kv_row_put(cache + (pos0 + i) * st->row, s->kv + i * CR, CR, m->kv_dtype);
	ops->rope(s->q + P, n, H, H * (P + R), P + R, R, s->cos, s->sin);
	for (size_t i = 0; i < n; i++)
		for (size_t h = 0; h < H; h++)
			memcpy(s->q_pe + (i * H + h) * R, s->q + (i * H + h) * (P + R) + P,
			       R * sizeof *s->q_pe);

	struct head_job job = {st, a, n, 0};
	kern_pool_for(m->pool, H, 1, head_task, &job);

	struct kern_mla_args args = {
		.out = s->out_lat, .q_lat = s->q_lat, .q_pe = s->q_pe, .cache = cache,
		.cache_type = m->kv_dtype,
		.n = n, .heads = H, .lora = C, .rope = R, .pos0 = pos0,
		.scale = m->softmax_scale, .scratch = s->attn, .scratch_stride = st->ctx,
	};
	ops->mla_attn(m->pool, &args);

	job.stage = 1;
	kern_pool_for(m->pool, H, 1, head_task, &job);
	ops->linear(m->pool, y, s->o_in, n, &a->o);
}
