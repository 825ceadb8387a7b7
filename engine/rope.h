/*
 * rope.h — rotary position tables with YaRN, as DeepSeek's reference and the Hugging
 * Face modelling code compute them (interleaved pairs, frequency ramp between beta_fast
 * and beta_slow, cos/sin scaled by mscale(mscale)/mscale(mscale_all_dim)).
 */
#ifndef PONDER_ENG_ROPE_H
#define PONDER_ENG_ROPE_H

#include <stddef.h>

#include "engine/config.h"

struct rope_table {
	size_t half;       /* qk_rope_head_dim / 2 */
	double *inv_freq;  /* [half] */
	double mscale;     /* multiplier of cos and sin */
};

int rope_init(struct rope_table *r, const struct eng_config *c, struct err *e);
void rope_release(struct rope_table *r);

/* cos/sin [n][half] for positions pos0 .. pos0+n-1. */
void rope_fill(const struct rope_table *r, size_t pos0, size_t n, float *cos_out,
	       float *sin_out);

/* YaRN's attention-temperature factor: 0.1 * m * ln(scale) + 1 for scale > 1. */
double rope_yarn_mscale(double scale, double m);

#endif
