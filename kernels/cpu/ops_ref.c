/*
 * ops_ref.c — the reference CPU table: the plain, obviously-correct version of each op.
 *
 * Single-threaded (the pool argument is ignored), one element at a time through the
 * scalar conversions of kern.c, sums in double. Every fast table is tested against this
 * one, so it favours clarity over speed; do not optimise it.
 */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

/* Element (r, c) of the view as a real number, FP8 block scale applied. */
static double ref_w(const struct kern_mat *w, size_t r, size_t c)
{
	const void *row = kern_mat_row_ptr(w, r);
	switch (w->dtype) {
	case KD_F32: return ((const float *)row)[c];
	case KD_BF16: return kern_bf16_to_f32(((const uint16_t *)row)[c]);
	case KD_F16: return kern_f16_to_f32(((const uint16_t *)row)[c]);
	case KD_F8_E4M3:
		/* the table, not kern_f8e4m3_to_f32: equal (tested), and ldexpf per element made
		   the reference too slow to run on real shapes */
		return (double)kern_f8e4m3_lut[((const uint8_t *)row)[c]] *
		       kern_fp8_scale_at(w, r, c);
	}
	return NAN;
}

static void ref_linear(struct kern_pool *p, float *y, const float *x, size_t n,
		       const struct kern_mat *w)
{
	for (size_t i = 0; i < n; i++)
		for (size_t r = 0; r < w->rows; r++) {
			double s = 0;
			for (size_t c = 0; c < w->cols; c++)
				s += (double)x[i * w->cols + c] * ref_w(w, r, c);
			y[i * w->rows + r] = (float)s;
		}
}

static void ref_linear_t(struct kern_pool *p, float *y, const float *x, size_t n,
			 const struct kern_mat *w)
{
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < w->cols; c++) {
			double s = 0;
			for (size_t r = 0; r < w->rows; r++)
				s += (double)x[i * w->rows + r] * ref_w(w, r, c);
			y[i * w->cols + c] = (float)s;
		}
}

static void ref_row(float *out, const struct kern_mat *w, size_t row)
{
	for (size_t c = 0; c < w->cols; c++)
		out[c] = (float)ref_w(w, row, c);
}

static void ref_rmsnorm(float *y, const float *x, const float *weight, size_t n, size_t dim,
			float eps)
{
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * dim;
		double ss = 0;
		for (size_t k = 0; k < dim; k++)
			ss += (double)xi[k] * xi[k];
		double inv = 1.0 / sqrt(ss / (double)dim + eps);
		for (size_t k = 0; k < dim; k++)
			y[i * dim + k] = (float)(xi[k] * inv * weight[k]);
	}
}

static void ref_rope(float *base, size_t n, size_t heads, size_t row_stride,
		     size_t head_stride, size_t dim, const float *cos, const float *sin)
{
	size_t half = dim / 2;
	for (size_t r = 0; r < n; r++)
		for (size_t h = 0; h < heads; h++) {
			float *v = base + r * row_stride + h * head_stride;
			for (size_t j = 0; j < half; j++) {
				double c = cos[r * half + j], s = sin[r * half + j];
				double x0 = v[2 * j], x1 = v[2 * j + 1];
				v[2 * j] = (float)(x0 * c - x1 * s);
				v[2 * j + 1] = (float)(x0 * s + x1 * c);
			}
		}
}

static void ref_rope_half(float *base, size_t n, size_t heads, size_t row_stride,
			  size_t head_stride, size_t dim, const float *cos, const float *sin)
{
	size_t half = dim / 2;
	for (size_t r = 0; r < n; r++)
		for (size_t h = 0; h < heads; h++) {
			float *v = base + r * row_stride + h * head_stride;
			for (size_t j = 0; j < half; j++) {
				double c = cos[r * half + j], s = sin[r * half + j];
				double x0 = v[j], x1 = v[j + half];
				v[j] = (float)(x0 * c - x1 * s);
				v[j + half] = (float)(x1 * c + x0 * s);
			}
		}
}

static void ref_softmax(float *x, size_t n)
{
	if (n == 0)
		return;
	float mx = x[0];
	for (size_t i = 1; i < n; i++)
		if (x[i] > mx)
			mx = x[i];
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += exp((double)x[i] - mx);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(exp((double)x[i] - mx) / sum);
}

static void ref_silu_mul(float *out, const float *gate, const float *up, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double g = gate[i];
		out[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
	}
}

/* Value k of a cache row as a real number (FP8: the row's scale applied). */
static double ref_row_value(const uint8_t *row, enum kern_dtype type, size_t k)
{
	switch (type) {
	case KD_BF16: return kern_bf16_to_f32(((const uint16_t *)row)[k]);
	case KD_F8_E4M3: {
		float scale;
		memcpy(&scale, row, sizeof scale);
		return (double)kern_f8e4m3_lut[row[sizeof scale + k]] * scale;
	}
	default: return ((const float *)row)[k];
	}
}

/* Value k of MLA cache row t. */
static double ref_kv(const struct kern_mla_args *a, size_t t, size_t k)
{
	const uint8_t *row = (const uint8_t *)a->cache +
			     t * kern_kv_row_bytes(a->cache_type, a->lora + a->rope);
	return ref_row_value(row, a->cache_type, k);
}

static void ref_mla_attn(struct kern_pool *p, const struct kern_mla_args *a)
{
	size_t lora = a->lora, rope = a->rope;
	float *s = a->scratch; /* thread 0's row: this table runs on the caller only */
	for (size_t i = 0; i < a->n; i++)
		for (size_t h = 0; h < a->heads; h++) {
			const float *ql = a->q_lat + (i * a->heads + h) * lora;
			const float *qp = a->q_pe + (i * a->heads + h) * rope;
			size_t len = a->pos0 + i + 1;
			double mx = -INFINITY;
			for (size_t t = 0; t < len; t++) {
				double d = 0;
				for (size_t k = 0; k < lora; k++)
					d += (double)ql[k] * ref_kv(a, t, k);
				for (size_t k = 0; k < rope; k++)
					d += (double)qp[k] * ref_kv(a, t, lora + k);
				s[t] = (float)(d * a->scale);
				if (s[t] > mx)
					mx = s[t];
			}
			double sum = 0;
			for (size_t t = 0; t < len; t++)
				sum += exp(s[t] - mx);
			float *o = a->out + (i * a->heads + h) * lora;
			for (size_t k = 0; k < lora; k++) {
				double acc = 0;
				for (size_t t = 0; t < len; t++)
					acc += exp(s[t] - mx) * ref_kv(a, t, k);
				o[k] = (float)(acc / sum);
			}
		}
}

static void ref_gqa_attn(struct kern_pool *p, const struct kern_gqa_args *a)
{
	size_t hd = a->head_dim, group = a->heads / a->kv_heads;
	size_t rb = kern_kv_row_bytes(a->cache_type, hd);
	const uint8_t *cache = a->cache;
	float *s = a->scratch; /* thread 0's row: this table runs on the caller only */
	for (size_t i = 0; i < a->n; i++)
		for (size_t h = 0; h < a->heads; h++) {
			const float *q = a->q + (i * a->heads + h) * hd;
			size_t g = h / group, len = a->pos0 + i + 1;
			const uint8_t *k = cache + g * rb, *v = cache + (a->kv_heads + g) * rb;
			double mx = -INFINITY;
			for (size_t t = 0; t < len; t++) {
				double d = 0;
				for (size_t c = 0; c < hd; c++)
					d += (double)q[c] *
					     ref_row_value(k + t * a->pos_stride, a->cache_type, c);
				s[t] = (float)(d * a->scale);
				if (s[t] > mx)
					mx = s[t];
			}
			double sum = 0;
			for (size_t t = 0; t < len; t++)
				sum += exp(s[t] - mx);
			float *o = a->out + (i * a->heads + h) * hd;
			for (size_t c = 0; c < hd; c++) {
				double acc = 0;
				for (size_t t = 0; t < len; t++)
					acc += exp(s[t] - mx) *
					       ref_row_value(v + t * a->pos_stride, a->cache_type, c);
				o[c] = (float)(acc / sum);
			}
		}
}

static void ref_gather(float *dst, const float *src, const int32_t *rows, size_t m,
		       size_t dim)
{
	for (size_t i = 0; i < m; i++)
		memcpy(dst + i * dim, src + (size_t)rows[i] * dim, dim * sizeof *dst);
}

static void ref_scatter_add(float *dst, const float *src, const int32_t *rows,
			    const float *weights, size_t m, size_t dim)
{
	for (size_t i = 0; i < m; i++) {
		float *d = dst + (size_t)rows[i] * dim;
		for (size_t k = 0; k < dim; k++)
			d[k] += weights[i] * src[i * dim + k];
	}
}

static void ref_ffn_group(struct kern_pool *p, const struct kern_ffn *f, size_t count)
{
	for (size_t e = 0; e < count; e++) {
		size_t I = f[e].gate->rows;
		float *g = f[e].h, *u = f[e].h + f[e].m * I;
		ref_linear(p, g, f[e].x, f[e].m, f[e].gate);
		ref_linear(p, u, f[e].x, f[e].m, f[e].up);
		ref_silu_mul(g, g, u, f[e].m * I);
		ref_linear(p, f[e].y, g, f[e].m, f[e].down);
	}
}

const struct kern_ops kern_cpu_ref_ops = {
	.name = "reference",
	.linear = ref_linear,
	.linear_t = ref_linear_t,
	.row = ref_row,
	.rmsnorm = ref_rmsnorm,
	.rope = ref_rope,
	.rope_half = ref_rope_half,
	.softmax = ref_softmax,
	.silu_mul = ref_silu_mul,
	.mla_attn = ref_mla_attn,
	.gqa_attn = ref_gqa_attn,
	.ffn_group = ref_ffn_group,
	.gather = ref_gather,
	.scatter_add = ref_scatter_add,
};
