/*
 * quant.c — re-quantising a matrix to FP8 e4m3 with 128x128 block scales, the layout
 * DeepSeek ships its weights in, so that every FP8 kernel takes the result as it is.
 * The engine uses it for the output head (--head fp8): half the bytes of BF16 on every
 * decoded token.
 */
#include <math.h>

#include "kernels/cpu/cpu.h"
#include "kernels/kern.h"

struct quant_ctx {
	uint8_t *dst;
	float *scale;
	const struct kern_mat *src;
};

/* One element of the source as F32. */
static float src_at(const struct kern_mat *m, size_t r, size_t c)
{
	const void *row = kern_mat_row_ptr(m, r);
	switch (m->dtype) {
	case KD_BF16: return kern_bf16_to_f32(((const uint16_t *)row)[c]);
	case KD_F16: return kern_f16_to_f32(((const uint16_t *)row)[c]);
	case KD_F32: return ((const float *)row)[c];
	default: return kern_f8e4m3_to_f32(((const uint8_t *)row)[c]) * kern_fp8_scale_at(m, r, c);
	}
}

/* Bands [b, e) of 128 rows: each block's scale is amax / 448, so its largest value lands
   on e4m3's largest; an all-zero block gets scale 1. A NaN gives a NaN scale, which the
   caller finds in the scales. */
static void quant_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct quant_ctx *q = ctx;
	const struct kern_mat *m = q->src;
	size_t sc = kern_fp8_scale_cols(m->cols);
	for (size_t band = b; band < e; band++) {
		size_t r0 = band * KERN_FP8_BLOCK, r1 = r0 + KERN_FP8_BLOCK;
		if (r1 > m->rows)
			r1 = m->rows;
		for (size_t c0 = 0; c0 < m->cols; c0 += KERN_FP8_BLOCK) {
			size_t c1 = c0 + KERN_FP8_BLOCK < m->cols ? c0 + KERN_FP8_BLOCK : m->cols;
			float amax = 0;
			for (size_t r = r0; r < r1; r++)
				for (size_t c = c0; c < c1; c++)
					amax = fmaxf(amax, fabsf(src_at(m, r, c)));
			float s = amax / 448.0f;
			if (!(s > 0)) /* all zero, or below what a float scale can hold */
				s = 1.0f;
			float inv = 1.0f / s;
			q->scale[band * sc + c0 / KERN_FP8_BLOCK] = s;
			for (size_t r = r0; r < r1; r++)
				for (size_t c = c0; c < c1; c++)
					q->dst[r * m->cols + c] = kern_f32_to_f8e4m3(src_at(m, r, c) * inv);
		}
	}
}

void kern_quantize_fp8(struct kern_pool *p, uint8_t *dst, float *scale,
		       const struct kern_mat *src)
{
	struct quant_ctx q = {dst, scale, src};
	size_t bands = (src->rows + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK;
	kern_pool_for(p, bands, 1, quant_task, &q);
}
