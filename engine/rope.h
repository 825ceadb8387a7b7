/*
 * rope.h — rotary position tables: the inverse frequencies of a head's rotated part,
 * with the scaling its config asks for (DeepSeek's and Hugging Face's YaRN, Llama 3.1's
 * llama3), and the multiplier of cos and sin (YaRN's attention factor, else 1).
 *
 * The tables do not know the pairing: MLA rotates interleaved pairs (x[2j], x[2j+1]),
 * the dense families the halves (x[j], x[j + dim/2]); both use inv_freq[j] for pair j.
 */
#ifndef PONDER_ENG_ROPE_H
#define PONDER_ENG_ROPE_H

#include <stddef.h>

#include "engine/config.h"

struct rope_table {
	size_t half;       /* eng_config_rope_dim / 2 */
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
