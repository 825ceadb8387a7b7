/* rope.c — rotary tables with YaRN and llama3 scaling (see rope.h). Computed in double:
   positions reach 10^5 and float angles would lose the low frequencies' precision. */
#include "engine/rope.h"

#include <math.h>
#include <stdlib.h>

double rope_yarn_mscale(double scale, double m)
{
	return scale <= 1.0 ? 1.0 : 0.1 * m * log(scale) + 1.0;
}

/* The dimension index whose wavelength makes `rotations` turns over max_pos tokens. */
static double correction_dim(double rotations, double dim, double base, double max_pos)
{
	return dim * log(max_pos / (rotations * 2.0 * M_PI)) / (2.0 * log(base));
}

/* YaRN: a ramp between the dimensions that turn beta_fast and beta_slow times over the
   original context; below it frequencies are kept, above it divided by factor. */
static void yarn_scale(struct rope_table *r, const struct eng_yarn *y, double dim, double base)
{
	double max_pos = (double)y->original_max_position_embeddings;
	double lo = correction_dim(y->beta_fast, dim, base, max_pos);
	double hi = correction_dim(y->beta_slow, dim, base, max_pos);
	if (y->truncate) {
		lo = floor(lo);
		hi = ceil(hi);
	}
	if (lo < 0)
		lo = 0;
	if (hi > dim - 1)
		hi = dim - 1;
	if (lo == hi)
		hi += 0.001; /* avoid a zero-width ramp */
	for (size_t j = 0; j < r->half; j++) {
		double ramp = ((double)j - lo) / (hi - lo);
		ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
		/* ramp 0: high frequency, kept (extrapolated); ramp 1: interpolated by factor. */
		double extra = r->inv_freq[j], inter = r->inv_freq[j] / y->factor;
		r->inv_freq[j] = inter * ramp + extra * (1.0 - ramp);
	}
}

/* Llama 3.1: wavelengths beyond original/low_freq_factor are divided by factor, those
   below original/high_freq_factor kept, and the band between blended smoothly. */
static void llama3_scale(struct rope_table *r, const struct eng_llama3_rope *l)
{
	double old = (double)l->original_max_position_embeddings;
	double long_wave = old / l->low_freq_factor, short_wave = old / l->high_freq_factor;
	for (size_t j = 0; j < r->half; j++) {
		double f = r->inv_freq[j], wave = 2.0 * M_PI / f;
		if (wave > long_wave) {
			r->inv_freq[j] = f / l->factor;
		} else if (wave >= short_wave) {
			double s = (old / wave - l->low_freq_factor) /
				   (l->high_freq_factor - l->low_freq_factor);
			r->inv_freq[j] = (1.0 - s) * f / l->factor + s * f;
		}
	}
}

int rope_init(struct rope_table *r, const struct eng_config *c, struct err *e)
{
	size_t dim = (size_t)eng_config_rope_dim(c);
	r->half = dim / 2;
	r->mscale = 1.0;
	r->inv_freq = malloc((r->half ? r->half : 1) * sizeof *r->inv_freq);
	if (!r->inv_freq)
		return err_set(e, ERR_NOMEM, "out of memory for rope tables");
	for (size_t j = 0; j < r->half; j++)
		r->inv_freq[j] = 1.0 / pow(c->rope_theta, (double)(2 * j) / (double)dim);
	if (c->llama3.enabled)
		llama3_scale(r, &c->llama3);
	if (!c->yarn.enabled)
		return 0;
	const struct eng_yarn *y = &c->yarn;
	yarn_scale(r, y, (double)dim, c->rope_theta);
	if (c->attn == ATTN_GQA)
		r->mscale = y->attention_factor;
	else
		r->mscale = rope_yarn_mscale(y->factor, y->mscale) /
			    rope_yarn_mscale(y->factor, y->mscale_all_dim);
	return 0;
}

void rope_release(struct rope_table *r)
{
	free(r->inv_freq);
	r->inv_freq = NULL;
}

void rope_fill(const struct rope_table *r, size_t pos0, size_t n, float *cos_out,
	       float *sin_out)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < r->half; j++) {
			double a = (double)(pos0 + i) * r->inv_freq[j];
			cos_out[i * r->half + j] = (float)(cos(a) * r->mscale);
			sin_out[i * r->half + j] = (float)(sin(a) * r->mscale);
		}
}
