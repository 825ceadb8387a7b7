/*
 * quant.c — re-quantising a matrix to FP8 e4m3 with 128x128 block scales, the layout
 * DeepSeek ships its weights in, so that every FP8 kernel takes the result as it is.
 * The engine uses it for the output head (--head fp8): half the bytes of BF16 on every
 * decoded token.
 */
#include <string.h>

#include "kernels/cpu/cpu.h"
#include "kernels/kern.h"

struct quant_ctx {
	uint8_t *dst;
	float *scale;
	const struct kern_mat *src;
};

/* Rows [r0, r1) x cols [c0, c0 + w) of the source as F32 into buf, w floats a row: each
   block is decoded once, with the dtype switch outside the per-element loops. */
static void block_to_f32(float *buf, const struct kern_mat *m, size_t r0, size_t r1, size_t c0,
			 size_t w)
{
	for (size_t r = r0; r < r1; r++, buf += w) {
		const void *row = kern_mat_row_ptr(m, r);
		switch (m->dtype) {
		case KD_F32:
			memcpy(buf, (const float *)row + c0, w * sizeof *buf);
			break;
		case KD_BF16: /* kern_bf16_to_f32 written out: a call per value cost a
				 quarter of the time */
			for (size_t c = 0; c < w; c++) {
				uint32_t u = (uint32_t)((const uint16_t *)row)[c0 + c] << 16;
				memcpy(&buf[c], &u, sizeof u);
			}
			break;
		case KD_F16:
			for (size_t c = 0; c < w; c++)
				buf[c] = kern_f16_to_f32(((const uint16_t *)row)[c0 + c]);
			break;
		case KD_F8_E4M3: {
			float s = kern_fp8_scale_at(m, r, c0); /* one scale block along the row */
			for (size_t c = 0; c < w; c++)
				buf[c] = kern_f8e4m3_lut[((const uint8_t *)row)[c0 + c]] * s;
			break;
		}
		}
	}
}

/* Largest |v[i]|, NaN when there is a NaN: as unsigned integers the magnitude bits of
   floats order like their values, with NaN above infinity (fmaxf would drop a NaN). */
static float abs_max(const float *v, size_t n)
{
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &v[i], sizeof u);
		u &= 0x7fffffffu;
		m = u > m ? u : m;
	}
	float f;
	memcpy(&f, &m, sizeof f);
	return f;
}

/* Bands [b, e) of 128 rows: each block's scale is amax / 448, so its largest value lands
   on e4m3's largest; an all-zero block gets scale 1. A NaN gives a NaN scale and an
   infinity an infinite one, which the caller finds in the scales. */
static void quant_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct quant_ctx *q = ctx;
	const struct kern_mat *m = q->src;
	size_t sc = kern_fp8_scale_cols(m->cols);
	float buf[KERN_FP8_BLOCK * KERN_FP8_BLOCK]; /* 64 KB: the linear kernels keep more */
	for (size_t band = b; band < e; band++) {
		size_t r0 = band * KERN_FP8_BLOCK, r1 = r0 + KERN_FP8_BLOCK;
		if (r1 > m->rows)
			r1 = m->rows;
		for (size_t c0 = 0; c0 < m->cols; c0 += KERN_FP8_BLOCK) {
			size_t w = m->cols - c0 < KERN_FP8_BLOCK ? m->cols - c0 : KERN_FP8_BLOCK;
			block_to_f32(buf, m, r0, r1, c0, w);
			float s = abs_max(buf, (r1 - r0) * w) / 448.0f;
			if (s == 0) /* all zero, or below what a float scale can hold */
				s = 1.0f;
			q->scale[band * sc + c0 / KERN_FP8_BLOCK] = s;
			/* a division, not a multiplication by 1/s: that overflows for a block
			   whose scale is a float subnormal, and 0 * inf would be a NaN byte */
			for (size_t r = r0; r < r1; r++) {
				const float *v = buf + (r - r0) * w;
				uint8_t *d = q->dst + r * m->cols + c0;
				for (size_t c = 0; c < w; c++)
					d[c] = kern_f32_to_f8e4m3(v[c] / s);
			}
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
