/*
 * moe.c — DeepSeekMoE: router, top-k selection, routed and shared experts; and the
 * dense gated MLP they are made of.
 *
 * Routing follows the Hugging Face modelling code of each architecture:
 *  V2 (softmax): scores = softmax(router logits); greedy top-k, or group_limited_greedy
 *     (keep topk_group groups by their best expert). Weights are the scores, normalised
 *     when norm_topk_prob, otherwise multiplied by routed_scaling_factor.
 *  V3 (sigmoid, noaux_tc): scores = sigmoid(logits); choice = scores + bias; groups
 *     ranked by the sum of their two best choice values; top-k by choice among kept
 *     groups; weights = the plain scores, normalised when norm_topk_prob, then always
 *     multiplied by routed_scaling_factor.
 * Experts outside the kept groups are excluded outright (DeepSeek's reference masks
 * them with -inf), so a negative bias cannot bring them back.
 */
#include <math.h>
#include <string.h>

#include "engine/model.h"

static struct kern_ffn ffn_of(const struct mlp_weights *mw, const float *x, float *h,
			      float *y, size_t m)
{
	return (struct kern_ffn){&mw->gate, &mw->up, &mw->down, x, h, y, m};
}

void mlp_forward(struct eng_state *st, const struct mlp_weights *mw, const float *xn,
		 float *y, size_t n)
{
	struct kern_ffn f = ffn_of(mw, xn, st->s.h, y, n);
	st->m->ops->ffn_group(st->m->pool, &f, 1);
}

/* Index of the largest value among v[0..n) with allowed[i]; ties go to the lower index. */
static int argmax_allowed(const float *v, const unsigned char *allowed, size_t n)
{
	int best = -1;
	for (size_t i = 0; i < n; i++)
		if (allowed[i] && (best < 0 || v[i] > v[best]))
			best = (int)i;
	return best;
}

/* Chooses K experts for one token: ids[K], weights[K]. `logits` is overwritten. */
static void route_token(const struct eng_config *c, const float *bias, float *logits,
			int32_t *ids, float *weights)
{
	size_t E = (size_t)c->n_routed_experts, K = (size_t)c->num_experts_per_tok;
	size_t G = (size_t)(c->n_group > 0 ? c->n_group : 1), per = E / G;
	float choice[4096];  /* E <= 4096 is enforced by the config parser */
	unsigned char allowed[4096];

	if (c->scoring_func == SCORING_SIGMOID) {
		for (size_t e = 0; e < E; e++)
			logits[e] = 1.0f / (1.0f + expf(-logits[e]));
	} else {
		float mx = logits[0], sum = 0;
		for (size_t e = 1; e < E; e++)
			mx = logits[e] > mx ? logits[e] : mx;
		for (size_t e = 0; e < E; e++)
			sum += (logits[e] = expf(logits[e] - mx));
		for (size_t e = 0; e < E; e++)
			logits[e] /= sum;
	}
	for (size_t e = 0; e < E; e++) {
		choice[e] = logits[e] + (bias ? bias[e] : 0.0f);
		allowed[e] = 1;
	}

	if (c->topk_method != TOPK_GREEDY && G > 1) {
		float gscore[4096];
		unsigned char gkeep[4096];
		for (size_t g = 0; g < G; g++) {
			const float *v = choice + g * per;
			if (c->topk_method == TOPK_NOAUX_TC) {
				/* sum of the two best in the group */
				float a = -INFINITY, b = -INFINITY;
				for (size_t i = 0; i < per; i++) {
					if (v[i] > a) {
						b = a;
						a = v[i];
					} else if (v[i] > b) {
						b = v[i];
					}
				}
				gscore[g] = per > 1 ? a + b : a;
			} else {
				float a = -INFINITY;
				for (size_t i = 0; i < per; i++)
					a = v[i] > a ? v[i] : a;
				gscore[g] = a;
			}
			gkeep[g] = 1;
		}
		unsigned char kept[4096] = {0};
		for (int64_t k = 0; k < c->topk_group; k++) {
			int g = argmax_allowed(gscore, gkeep, G);
			gkeep[g] = 0;
			kept[g] = 1;
		}
		for (size_t e = 0; e < E; e++)
			allowed[e] = kept[e / per];
	}

	float sum = 0;
	for (size_t k = 0; k < K; k++) {
		int e = argmax_allowed(choice, allowed, E);
		allowed[e] = 0;
		ids[k] = e;
		weights[k] = logits[e];
		sum += weights[k];
	}
	bool normalise = K > 1 && c->norm_topk_prob;
	float scale = (float)c->routed_scaling_factor;
	for (size_t k = 0; k < K; k++) {
		if (normalise)
			weights[k] /= sum + 1e-20f;
		if (c->arch == ARCH_DEEPSEEK_V3 || !normalise)
			weights[k] *= scale;
	}
}

/* The routed experts of n tokens (already sorted into s->rows) and the shared expert
   through one ffn_group call: inputs gathered into xs, outputs in ys, then summed into y. */
static void moe_grouped(struct eng_state *st, const struct moe_weights *mw, const float *xn,
			float *y, size_t n)
{
	struct eng_model *m = st->m;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t E = (size_t)m->cfg->n_routed_experts, D = (size_t)m->cfg->hidden_size;
	struct kern_ffn f[KERN_FFN_GROUP_MAX];
	size_t count = 0, hoff = 0;

	if (mw->has_shared) {
		f[count++] = ffn_of(&mw->shared, xn, s->h, y, n);
		hoff = 2 * n * mw->shared.gate.rows;
	} else {
		memset(y, 0, n * D * sizeof *y);
	}
	for (size_t e = 0; e < E; e++) {
		size_t begin = e ? (size_t)s->counts[e - 1] : 0, end = (size_t)s->counts[e];
		if (begin == end)
			continue;
		if (count == KERN_FFN_GROUP_MAX) { /* more distinct experts than one call takes */
			ops->ffn_group(m->pool, f, count);
			count = 0;
			hoff = 0;
		}
		ops->gather(s->xs + begin * D, xn, s->rows + begin, end - begin, D);
		f[count++] = ffn_of(&mw->experts[e], s->xs + begin * D, s->h + hoff,
				    s->ys + begin * D, end - begin);
		hoff += 2 * (end - begin) * mw->experts[e].gate.rows;
	}
	ops->ffn_group(m->pool, f, count);
	ops->scatter_add(y, s->ys, s->rows, s->row_w, s->counts[E - 1], D);
}

void moe_forward(struct eng_state *st, const struct moe_weights *mw, const float *xn,
		 float *y, size_t n)
{
	struct eng_model *m = st->m;
	const struct eng_config *c = m->cfg;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t E = (size_t)c->n_routed_experts, K = (size_t)c->num_experts_per_tok;
	size_t D = (size_t)c->hidden_size;

	ops->linear(m->pool, s->scores, xn, n, &mw->router);
	for (size_t i = 0; i < n; i++)
		route_token(c, mw->bias, s->scores + i * E, s->topk + i * K, s->topk_w + i * K);

	/* Group (token, weight) pairs by expert: counting sort into rows / row_w. */
	memset(s->counts, 0, (E + 1) * sizeof *s->counts);
	for (size_t i = 0; i < n * K; i++)
		s->counts[s->topk[i] + 1]++;
	for (size_t e = 0; e < E; e++)
		s->counts[e + 1] += s->counts[e];
	for (size_t i = 0; i < n * K; i++) {
		int32_t slot = s->counts[s->topk[i]]++;
		s->rows[slot] = (int32_t)(i / K);
		s->row_w[slot] = s->topk_w[i];
	}
	/* counts[e] now holds the end of expert e's range; its start is counts[e-1]. */

	/* A few tokens (decode, MTP verification): all their experts in one group, so the
	   whole MoE is two parallel regions. Their rows fit the scratch while n(K+1) <= N. */
	if (n * (K + 1) <= FWD_CHUNK) {
		moe_grouped(st, mw, xn, y, n);
		return;
	}
	if (mw->has_shared)
		mlp_forward(st, &mw->shared, xn, y, n);
	else
		memset(y, 0, n * D * sizeof *y);

	for (size_t e = 0; e < E; e++) {
		size_t begin = e ? (size_t)s->counts[e - 1] : 0, end = (size_t)s->counts[e];
		if (begin == end)
			continue;
		size_t cnt = end - begin;
		ops->gather(s->xs, xn, s->rows + begin, cnt, D);
		mlp_forward(st, &mw->experts[e], s->xs, s->ys, cnt);
		ops->scatter_add(y, s->ys, s->rows + begin, s->row_w + begin, cnt, D);
	}
}
