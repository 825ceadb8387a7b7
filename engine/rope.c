/* rope.c — rotary tables with YaRN (see rope.h). Computed in double: positions reach
   10^5 and float angles would lose the low frequencies' precision. */
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

int rope_init(struct rope_table *r, const struct eng_config *c, struct err *e)
{
	size_t dim = (size_t)c->qk_rope_head_dim;
	r->half = dim / 2;
	r->mscale = 1.0;
	r->inv_freq = malloc((r->half ? r->half : 1) * sizeof *r->inv_freq);
	if (!r->inv_freq)
		return err_set(e, ERR_NOMEM, "out of memory for rope tables");
	for (size_t j = 0; j < r->half; j++)
		r->inv_freq[j] = 1.0 / pow(c->rope_theta, (double)(2 * j) / (double)dim);
	if (!c->yarn.enabled)
		return 0;

	const struct eng_yarn *y = &c->yarn;
	double lo = floor(correction_dim(y->beta_fast, (double)dim, c->rope_theta,
					 (double)y->original_max_position_embeddings));
	double hi = ceil(correction_dim(y->beta_slow, (double)dim, c->rope_theta,
					(double)y->original_max_position_embeddings));
	if (lo < 0)
		lo = 0;
	if (hi > (double)dim - 1)
		hi = (double)dim - 1;
	if (lo == hi)
		hi += 0.001; /* avoid a zero-width ramp */
	for (size_t j = 0; j < r->half; j++) {
		double ramp = ((double)j - lo) / (hi - lo);
		ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
		/* ramp 0: high frequency, kept (extrapolated); ramp 1: interpolated by factor. */
		double extra = r->inv_freq[j], inter = r->inv_freq[j] / y->factor;
		r->inv_freq[j] = inter * ramp + extra * (1.0 - ramp);
	}
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
