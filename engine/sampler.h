/*
 * sampler.h — picks the next token from logits: greedy, or temperature with top-k,
 * top-p and min-p filters, from a seeded generator (same seed, same choices).
 * Buffers are sized once for the vocabulary: no allocation per token.
 */
#ifndef PONDER_ENG_SAMPLER_H
#define PONDER_ENG_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct sample_params {
	float temperature; /* <= 0: greedy */
	float top_p;       /* 1: off */
	int top_k;         /* <= 0: off */
	float min_p;       /* 0: off; keep tokens with p >= min_p * p_max */
	uint64_t seed;
};

struct sampler {
	size_t vocab;
	float *prob;   /* [vocab] */
	int32_t *cand; /* [vocab] candidate ids */
	uint64_t rng;
};

int sampler_init(struct sampler *s, size_t vocab, struct err *e);
void sampler_release(struct sampler *s);
void sampler_seed(struct sampler *s, uint64_t seed);

/* Index of the largest of v[0, n) (the first on ties): greedy decoding's token. */
size_t sampler_argmax(const float *v, size_t n);

/* The next token; logits[vocab] is used as scratch. */
int32_t sampler_pick(struct sampler *s, const struct sample_params *p, float *logits);

#endif
