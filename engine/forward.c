/*
 * forward.c — the forward pass: embedding, decoder blocks, final norm, LM head, and
 * the MTP module running alongside over the positions whose next token is known.
 *
 * eng_forward validates everything (context room, token ids) before touching state, so
 * a failed call leaves the sequence as it was. The one exception is logits that come
 * out NaN or infinite (damaged weights, or activations overflowing FP32): that is
 * found after the positions were computed, and the call fails with ERR_MODEL instead
 * of letting anything be sampled from them; such a model gives nothing usable.
 */
#include <string.h>

#include "engine/model.h"

void fwd_block(struct eng_state *st, const struct layer_weights *l, uint8_t *cache, size_t n,
	       size_t pos0)
{
	struct eng_model *m = st->m;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t D = (size_t)m->cfg->hidden_size;
	float eps = (float)m->cfg->rms_norm_eps;

	ops->rmsnorm(s->xn, s->x, l->attn_norm, n, D, eps);
	if (m->cfg->attn == ATTN_MLA)
		mla_forward(st, &l->attn, cache, s->xn, s->y, n, pos0);
	else
		gqa_forward(st, &l->gqa, cache, s->xn, s->y, n, pos0);
	for (size_t i = 0; i < n * D; i++)
		s->x[i] += s->y[i];

	ops->rmsnorm(s->xn, s->x, l->mlp_norm, n, D, eps);
	if (l->is_moe)
		moe_forward(st, &l->moe, s->xn, s->y, n);
	else
		mlp_forward(st, &l->mlp, s->xn, s->y, n);
	for (size_t i = 0; i < n * D; i++)
		s->x[i] += s->y[i];
}

/* 0 when all n values are finite: NaN and infinities are the floats whose exponent bits
   are all ones. Bit tests OR-ed together vectorise (a float sum would not, by its
   rounding order), and this runs on every token over the whole vocabulary. */
static int check_finite(const float *v, size_t n, size_t pos, const char *what,
			struct err *e)
{
	uint32_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], sizeof u);
		bad |= (u & 0x7f800000u) == 0x7f800000u;
	}
	if (!bad)
		return 0;
	return err_set(e, ERR_MODEL, "the model computed NaN or infinite %s at position %zu; its "
		       "weights are damaged, or its activations overflow 32-bit floats (check the "
		       "checkpoint's files against their published checksums)", what, pos);
}

/* MTP rows i0 .. i0+n-1 (n <= FWD_CHUNK): row i takes the hidden state at i and
   next[i - i0], the token at i+1; logits rows when asked. */
static void mtp_rows(struct eng_state *st, size_t i0, size_t n, const int32_t *next,
		     float *logits)
{
	struct eng_model *m = st->m;
	const struct eng_config *c = m->cfg;
	const struct kern_ops *ops = m->ops;
	const struct mtp_weights *w = &m->w.mtp[0];
	struct fwd_scratch *s = &st->s;
	size_t D = (size_t)c->hidden_size;
	float eps = (float)c->rms_norm_eps;

	for (size_t r = 0; r < n; r++) {
		float *cat = s->cat + r * 2 * D;
		ops->row(cat, &w->embed, (size_t)next[r]);
		ops->rmsnorm(cat, cat, w->enorm, 1, D, eps);
		ops->rmsnorm(cat + D, st->hidden + ((i0 + r) % st->ring) * D, w->hnorm, 1, D, eps);
	}
	ops->linear(m->pool, s->x, s->cat, n, &w->eh_proj);
	rope_fill(&m->rope, i0, n, s->cos, s->sin);
	fwd_block(st, &w->block, state_layer_cache(st, (size_t)c->num_hidden_layers), n, i0);
	if (logits) {
		ops->rmsnorm(s->xn, s->x, w->head_norm, n, D, eps);
		ops->linear(m->pool, logits, s->xn, n, &w->head);
	}
	st->mtp_pos = i0 + n;
}

/* MTP rows for every position whose next token is in the cache: [mtp_pos, pos - 1). */
static void mtp_catch_up(struct eng_state *st, float *logits)
{
	size_t V = (size_t)st->m->cfg->vocab_size;
	while (st->mtp_pos + 1 < st->pos) {
		size_t i0 = st->mtp_pos, n = st->pos - 1 - i0;
		if (n > FWD_CHUNK)
			n = FWD_CHUNK;
		mtp_rows(st, i0, n, st->tokens + i0 + 1, logits);
		if (logits)
			logits += n * V;
	}
}

int eng_mtp_draft(struct eng_state *st, int32_t next, float *logits, struct err *e)
{
	if (!st->mtp || st->pos == 0)
		return err_set(e, ERR_USAGE, "an MTP draft needs a sequence with MTP and at least "
			       "one position");
	if (next < 0 || (int64_t)next >= st->m->cfg->vocab_size)
		return err_set(e, ERR_RANGE, "token id %d is outside the vocabulary", next);
	mtp_catch_up(st, NULL);
	mtp_rows(st, st->pos - 1, 1, &next, logits);
	st->mtp_next = next;
	return logits ? check_finite(logits, (size_t)st->m->cfg->vocab_size, st->pos,
				     "MTP draft logits", e) : 0;
}

int eng_forward(struct eng_state *st, const int32_t *ids, size_t n, float *logits,
		bool all_logits, struct err *e)
{
	return eng_forward_mtp(st, ids, n, logits, all_logits, NULL, e);
}

int eng_forward_mtp(struct eng_state *st, const int32_t *ids, size_t n, float *logits,
		    bool all_logits, float *mtp_logits, struct err *e)
{
	struct eng_model *m = st->m;
	const struct eng_config *c = m->cfg;
	const struct kern_ops *ops = m->ops;
	struct fwd_scratch *s = &st->s;
	size_t D = (size_t)c->hidden_size, V = (size_t)c->vocab_size;
	float eps = (float)c->rms_norm_eps;

	if (n > st->ctx - st->pos)
		return err_set(e, ERR_CONTEXT,
			       "%zu new token%s not fit: %zu of the context's %zu positions are "
			       "used; start a new conversation or raise --ctx", n,
			       n == 1 ? " does" : "s do", st->pos, st->ctx);
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0 || (int64_t)ids[i] >= c->vocab_size)
			return err_set(e, ERR_RANGE, "token id %d is outside the model's vocabulary "
				       "(0..%lld)", ids[i], (long long)c->vocab_size - 1);
	if (mtp_logits && !st->mtp)
		return err_set(e, ERR_USAGE, "MTP logits asked of a sequence without MTP "
			       "(the model has no MTP module or it was not loaded)");
	/* A draft computed the MTP row of the last position with a token that is not this
	   call's first: that row is stale. */
	if (st->mtp && st->mtp_pos == st->pos && st->pos && (!n || ids[0] != st->mtp_next))
		st->mtp_pos--;

	for (size_t done = 0; done < n;) {
		/* Atomic: the flag is set from another thread (a stop, a cancelled settle). */
		if (done && st->abort && __atomic_load_n(st->abort, __ATOMIC_RELAXED))
			return err_set(e, ERR_INTERRUPTED, "stopped during the prompt's prefill after "
				       "%zu of %zu tokens", done, n);
		size_t k = n - done > FWD_CHUNK ? FWD_CHUNK : n - done, pos0 = st->pos;
		for (size_t i = 0; i < k; i++) {
			ops->row(s->x + i * D, &m->w.embed, (size_t)ids[done + i]);
			st->tokens[pos0 + i] = ids[done + i];
		}
		rope_fill(&m->rope, pos0, k, s->cos, s->sin);
		for (int64_t l = 0; l < c->num_hidden_layers; l++)
			fwd_block(st, &m->w.layers[l], state_layer_cache(st, (size_t)l), k, pos0);
		ops->rmsnorm(s->xn, s->x, m->w.norm, k, D, eps);
		st->pos += k;

		if (st->mtp)
			for (size_t i = 0; i < k; i++)
				memcpy(st->hidden + ((pos0 + i) % st->ring) * D, s->xn + i * D,
				       D * sizeof *s->xn);
		int rc = 0;
		if (logits && all_logits) {
			ops->linear(m->pool, logits + done * V, s->xn, k, &m->w.lm_head);
			rc = check_finite(logits + done * V, k * V, pos0, "logits", e);
		} else if (logits && done + k == n) {
			ops->linear(m->pool, logits, s->xn + (k - 1) * D, 1, &m->w.lm_head);
			rc = check_finite(logits, V, pos0 + k - 1, "logits", e);
		}
		if (rc)
			return rc;
		done += k;

		if (st->mtp) {
			size_t before = st->mtp_pos;
			mtp_catch_up(st, mtp_logits);
			if (mtp_logits) {
				size_t rows = st->mtp_pos - before;
				if ((rc = check_finite(mtp_logits, rows * V, before, "MTP logits", e)))
					return rc;
				mtp_logits += rows * V;
			}
		}
	}
	return 0;
}
