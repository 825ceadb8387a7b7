/*
 * kern.h — the numeric kernels behind one op table.
 *
 * kernels/ knows tensors and shapes, never models. Weights stay in their checkpoint
 * dtype and are dequantized inside the kernels; activations are F32.
 *
 * Every backend (cpu reference, cpu SIMD, later CUDA) fills a struct kern_ops. The
 * reference table is the plain, obviously-correct version of each op; the fast ones are
 * tested against it on random inputs of odd shapes (tests/test_kernels.c).
 */
#ifndef PONDER_KERN_H
#define PONDER_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

enum kern_dtype {
	KD_F32,
	KD_BF16,
	KD_F16,
	KD_F8_E4M3, /* OCP e4m3fn: no infinities, 0x7f/0xff are NaN, max 448 */
};

/* Bytes per element; 0 for an unknown value. Inline: every row address computes it. */
static inline size_t kern_dtype_size(enum kern_dtype t)
{
	switch (t) {
	case KD_F32: return 4;
	case KD_BF16: return 2;
	case KD_F16: return 2;
	case KD_F8_E4M3: return 1;
	}
	return 0;
}
const char *kern_dtype_name(enum kern_dtype t);

/* Edge of the square FP8 scale blocks used by DeepSeek checkpoints. */
#define KERN_FP8_BLOCK 128

/*
 * A weight matrix as stored: [total rows][cols] row-major. A view selects rows
 * [row0, row0 + rows); FP8 scale lookup uses the absolute row so views of one matrix
 * share its scale tensor.
 */
struct kern_mat {
	enum kern_dtype dtype;
	const void *data;   /* row 0 of the stored matrix, cols elements per row */
	const float *scale; /* F8 only: [ceil(total_rows/128)][ceil(cols/128)], w = q * scale */
	size_t row0;        /* first row of this view */
	size_t rows;        /* rows in this view */
	size_t cols;
};

/*
 * What the CPU kernels require of an FP8 matrix, checked once when a model loads: no
 * e4m3 NaN byte (0x7f, 0xff) and block scales with |scale| < KERN_FP8_SCALE_MAX = 2^64
 * (finite; the decoders fold a factor of up to 2^56 into the scale, and no real weight
 * needs a scale near 2^64 when e4m3's largest value is 448: DeepSeek's are about 1e-4).
 * The fast kernels skip per-block checks in their hot loops because of this.
 */
#define KERN_FP8_SCALE_MAX 0x1p64f

/*
 * dst[src.rows][src.cols] and scale[ceil(rows/128)][ceil(cols/128)] = src (any dtype, all
 * of its view's rows) re-quantised to FP8 e4m3 with 128x128 blocks, scale = block amax /
 * 448: a block with a NaN or infinity gets a non-finite scale, and the result meets the
 * FP8 contract above when every scale does. Runs on the pool.
 */
void kern_quantize_fp8(struct kern_pool *p, uint8_t *dst, float *scale,
		       const struct kern_mat *src);

/* Index of the first e4m3 NaN byte in p[0, n), or n when there is none. */
size_t kern_fp8_find_nan(const uint8_t *p, size_t n);

/* A view of rows [row0, row0 + rows) of m (relative to m's own view). */
struct kern_mat kern_mat_rows(const struct kern_mat *m, size_t row0, size_t rows);

/* Scalar conversions shared by all CPU code. */
float kern_bf16_to_f32(uint16_t h);
float kern_f16_to_f32(uint16_t h);
float kern_f8e4m3_to_f32(uint8_t b);
uint16_t kern_f32_to_bf16(float f); /* round to nearest even */
/* Round to nearest even, saturating to ±448 (e4m3fn has no infinity); NaN stays NaN. */
uint8_t kern_f32_to_f8e4m3(float f);

/*
 * One position of the MLA cache, `width` = lora + rope values, in the type a sequence
 * keeps it in: KD_F32 or KD_BF16 store the values; KD_F8_E4M3 stores the row's F32 scale
 * (amax / 448, so the largest value lands on e4m3's largest) and then one e4m3 byte per
 * value, padded to 4 bytes so that every row's scale is aligned. Value k of an FP8 row
 * is byte[k] * scale. Rows lie back to back, kern_kv_row_bytes apart.
 */
size_t kern_kv_row_bytes(enum kern_dtype t, size_t width);

/* Encodes src[width] as one cache row of type t (the one conversion a value gets). */
void kern_kv_row_put(void *dst, const float *src, size_t width, enum kern_dtype t);

/* Arguments of absorbed Multi-head Latent Attention over the compressed cache. */
struct kern_mla_args {
	float *out;         /* [n][heads][lora]: softmax-weighted sum of cached latents */
	const float *q_lat; /* [n][heads][lora]: q_nope absorbed through W_UK */
	const float *q_pe;  /* [n][heads][rope]: rotary part of q, already rotated */
	/* [pos0 + n] rows of kern_kv_row_bytes(cache_type, lora + rope): per position kv_c
	   (normed) then k_pe (rotated), decoded inside the dot products */
	const void *cache;
	enum kern_dtype cache_type; /* KD_F32, KD_BF16 or KD_F8_E4M3 (row scale + bytes) */
	size_t n, heads, lora, rope;
	size_t pos0;        /* absolute position of query 0; query i sees positions 0..pos0+i */
	float scale;        /* softmax scale (includes the YaRN mscale correction) */
	float *scratch;     /* [pool threads][scratch_stride] floats of working space */
	size_t scratch_stride; /* >= pos0 + n */
};

/*
 * Arguments of grouped-query attention over a cache of per-head keys and values. Each
 * cached position holds 2 * kv_heads rows of kern_kv_row_bytes(cache_type, head_dim):
 * the keys of kv heads 0 .. kv_heads-1, then their values (an FP8 row has its own
 * scale, so keys and values of each head keep their own range). Query head h reads kv
 * head h / (heads / kv_heads).
 */
struct kern_gqa_args {
	float *out;       /* [n][heads][head_dim]: softmax-weighted sum of cached values */
	const float *q;   /* [n][heads][head_dim], already rotated */
	const void *cache;          /* [pos0 + n] positions, pos_stride bytes apart */
	enum kern_dtype cache_type; /* KD_F32, KD_BF16 or KD_F8_E4M3 (row scale + bytes) */
	size_t pos_stride;          /* >= 2 * kv_heads * kern_kv_row_bytes(cache_type, head_dim) */
	size_t n, heads, kv_heads, head_dim; /* heads a multiple of kv_heads */
	size_t pos0;      /* absolute position of query 0; query i sees positions 0..pos0+i */
	float scale;      /* softmax scale */
	float *scratch;   /* [pool threads][scratch_stride] floats of working space */
	size_t scratch_stride; /* >= pos0 + n */
};

/*
 * One gated MLP over m input rows: y[m][down.rows] = down · (silu(gate · x) ⊙ (up · x)).
 * h is working space of 2 * m * gate.rows floats (the gate and up outputs).
 */
struct kern_ffn {
	const struct kern_mat *gate, *up, *down;
	const float *x; /* [m][gate.cols] */
	float *h;       /* [2][m][gate.rows] */
	float *y;       /* [m][down.rows] */
	size_t m;
};

/* Most MLPs one ffn_group call takes (the active experts of a few tokens). */
#define KERN_FFN_GROUP_MAX 64

struct kern_ops {
	const char *name; /* "reference", "avx2", "avx512", ... */

	/* y[n][w.rows] = x[n][w.cols] · wᵀ — a linear layer over n positions. */
	void (*linear)(struct kern_pool *p, float *y, const float *x, size_t n,
		       const struct kern_mat *w);

	/* y[n][w.cols] = x[n][w.rows] · w — the transposed use (MLA's W_UK absorption). */
	void (*linear_t)(struct kern_pool *p, float *y, const float *x, size_t n,
			 const struct kern_mat *w);

	/* out[w.cols] = row `row` of the view, as F32 (embedding lookup). */
	void (*row)(float *out, const struct kern_mat *w, size_t row);

	/* y[i] = x[i] / sqrt(mean(x[i]^2) + eps) * weight, for n rows of dim (y may be x). */
	void (*rmsnorm)(float *y, const float *x, const float *weight, size_t n, size_t dim,
			float eps);

	/*
	 * Rotary embedding on interleaved pairs (x[2j], x[2j+1]) of `dim` values, for each of
	 * n rows and `heads` vectors per row: x = base + r*row_stride + h*head_stride.
	 * cos/sin are [n][dim/2] (row r uses cos + r*dim/2).
	 */
	void (*rope)(float *base, size_t n, size_t heads, size_t row_stride, size_t head_stride,
		     size_t dim, const float *cos, const float *sin);

	/* The same on half-split pairs (x[j], x[j + dim/2]): Hugging Face's rotate_half
	   layout, which the dense families (Qwen2, Llama, Qwen3) are stored in. */
	void (*rope_half)(float *base, size_t n, size_t heads, size_t row_stride,
			  size_t head_stride, size_t dim, const float *cos, const float *sin);

	/* In-place softmax of x[0..n). */
	void (*softmax)(float *x, size_t n);

	/* out[i] = silu(gate[i]) * up[i] (out may alias gate). */
	void (*silu_mul)(float *out, const float *gate, const float *up, size_t n);

	void (*mla_attn)(struct kern_pool *p, const struct kern_mla_args *a);

	void (*gqa_attn)(struct kern_pool *p, const struct kern_gqa_args *a);

	/*
	 * count <= KERN_FFN_GROUP_MAX gated MLPs at once (a decode step's active and shared
	 * experts): one parallel region computes gate and up rows of them all, with silu
	 * applied as each row pair is done, and a second their down rows. A thread never
	 * waits between experts, and a small expert still splits over every thread.
	 */
	void (*ffn_group)(struct kern_pool *p, const struct kern_ffn *f, size_t count);

	/* dst[i][:] = src[rows[i]][:], i < m (collect the tokens routed to one expert). */
	void (*gather)(float *dst, const float *src, const int32_t *rows, size_t m, size_t dim);

	/* dst[rows[i]][:] += weights[i] * src[i][:], i < m (return expert outputs). */
	void (*scatter_add)(float *dst, const float *src, const int32_t *rows,
			    const float *weights, size_t m, size_t dim);
};

/* The plain reference implementation (single-threaded loops). */
const struct kern_ops *kern_cpu_reference(void);

/* The fastest CPU table this processor supports (runtime dispatch, AVX-512 > AVX2 > scalar). */
const struct kern_ops *kern_cpu_best(void);

/* A table by name ("reference", "scalar", "avx2", "avx512"); NULL if unknown or unsupported here. */
const struct kern_ops *kern_cpu_by_name(const char *name);

#endif
