/*
 * sampler.c — token choice (see sampler.h).
 *
 * Filters apply in the order llama.cpp and vLLM use by default: temperature, then
 * top-k, min-p and top-p on the tempered distribution. Candidate sets are cut with a
 * quickselect before any sort, so a 129k vocabulary costs a linear pass per token, not
 * a full sort.
 */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>

int sampler_init(struct sampler *s, size_t vocab, struct err *e)
{
	s->vocab = vocab;
	s->prob = malloc(vocab * sizeof *s->prob);
	s->cand = malloc(vocab * sizeof *s->cand);
	if (!s->prob || !s->cand) {
		sampler_release(s);
		return err_set(e, ERR_NOMEM, "out of memory for the sampler");
	}
	sampler_seed(s, 0);
	return 0;
}

void sampler_release(struct sampler *s)
{
	free(s->prob);
	free(s->cand);
	s->prob = NULL;
	s->cand = NULL;
}

void sampler_seed(struct sampler *s, uint64_t seed)
{
	s->rng = seed ^ 0x9e3779b97f4a7c15ull;
}

/* splitmix64: small, fast and good enough for sampling. */
size_t sampler_argmax(const float *v, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

static uint64_t next_u64(struct sampler *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double next_unit(struct sampler *s)
{
	return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Moves the k most probable candidates to cand[0..k) (unordered): a quickselect with a
   three-way partition, so runs of equal probabilities cannot make it quadratic. */
static void select_top(const float *prob, int32_t *cand, size_t n, size_t k)
{
	size_t lo = 0, hi = n; /* the answer's boundary lies in [lo, hi) */
	while (k > lo && k < hi) {
		float pivot = prob[cand[lo + (hi - lo) / 2]];
		size_t gt = lo, i = lo, lt = hi; /* [lo,gt) > pivot, [gt,i) == pivot, [lt,hi) < */
		while (i < lt) {
			float v = prob[cand[i]];
			int32_t t = cand[i];
			if (v > pivot) {
				cand[i++] = cand[gt];
				cand[gt++] = t;
			} else if (v < pivot) {
				cand[i] = cand[--lt];
				cand[lt] = t;
			} else {
				i++;
			}
		}
		if (k < gt)
			hi = gt;
		else if (k > lt)
			lo = lt;
		else
			return;
	}
}

static int by_prob_desc(const void *a, const void *b, void *ctx)
{
	const float *prob = ctx;
	int32_t ia = *(const int32_t *)a, ib = *(const int32_t *)b;
	return prob[ia] < prob[ib] ? 1 : prob[ia] > prob[ib] ? -1 : ia - ib;
}

int32_t sampler_pick(struct sampler *s, const struct sample_params *p, float *logits)
{
	size_t V = s->vocab, best = 0;
	for (size_t i = 1; i < V; i++)
		if (logits[i] > logits[best])
			best = i;
	if (p->temperature <= 0)
		return (int32_t)best;

	/* Unnormalised probabilities: the most likely token has 1, so min_p compares
	   directly and every later step works on relative mass. */
	float mx = logits[best], inv_t = 1.0f / p->temperature;
	for (size_t i = 0; i < V; i++)
		s->prob[i] = expf((logits[i] - mx) * inv_t);
	size_t n = 0;
	float floor_p = p->min_p > 0 ? p->min_p : 0.0f;
	for (size_t i = 0; i < V; i++)
		if (s->prob[i] >= floor_p && s->prob[i] > 0)
			s->cand[n++] = (int32_t)i;
	if (p->top_k > 0 && (size_t)p->top_k < n) {
		select_top(s->prob, s->cand, n, (size_t)p->top_k);
		n = (size_t)p->top_k;
	}
	double kept = 0;
	for (size_t i = 0; i < n; i++)
		kept += s->prob[s->cand[i]];
	if (p->top_p > 0 && p->top_p < 1) {
		/* Sort only as many candidates as can reach the mass top_p. */
		size_t k = n < 256 ? n : 256;
		for (;;) {
			select_top(s->prob, s->cand, n, k);
			double mass = 0;
			for (size_t i = 0; i < k; i++)
				mass += s->prob[s->cand[i]];
			if (mass >= p->top_p * kept || k == n)
				break;
			k = k * 4 < n ? k * 4 : n;
		}
		qsort_r(s->cand, k, sizeof *s->cand, by_prob_desc, s->prob);
		double acc = 0;
		size_t cut = k;
		for (size_t i = 0; i < k; i++) {
			acc += s->prob[s->cand[i]];
			if (acc >= p->top_p * kept) {
				cut = i + 1;
				break;
			}
		}
		n = cut;
		kept = acc;
	}
	double r = next_unit(s) * kept, acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc += s->prob[s->cand[i]];
		if (r < acc)
			return s->cand[i];
	}
	return n ? s->cand[n - 1] : (int32_t)best;
}
