/*
 * ops_tmpl.h — the fast CPU ops, written once over a small vector vocabulary and
 * included by ops_scalar.c (portable GCC vectors), ops_avx2.c and ops_avx512.c.
 *
 * The including file defines, before #include:
 *   OPS_TABLE, OPS_NAME      the struct kern_ops symbol and its name
 *   vf, VL                   a vector of VL floats (VL divides 128)
 *   v_zero v_set1 v_load v_store v_add v_sub v_mul v_div v_fma(a,b,c)=a*b+c
 *   v_max(a,b), v_min(a,b)   return b when either is NaN (so NaN in b survives a clamp)
 *   v_round (to nearest), v_ldexp(p, n) = p * 2^n for integral n in [-126, 127]
 *   v_hsum v_hmax            horizontal sum / max
 *   v_load_bf16, v_load_f16  VL values as F32, exactly as kern_bf16/f16_to_f32
 *   v_load_f8                VL e4m3 bytes as raw values: true = raw * F8_RAW, exact for
 *                            every non-NaN byte
 *   v_load_bf16x2(p, &e, &o) 2*VL bf16 values split: e = p[0], p[2], ..., o = p[1], p[3], ...
 *   v_zip(a, b, &lo, &hi)    the inverse: lo = a[0], b[0], a[1], b[1], ..., hi the rest
 *   v_load_f8x2(p, &lo, &hi) 2*VL e4m3 bytes in order, as v_load_f8 of p and of p + VL
 *   F8_GROUP, v_load_f8g,    optional: F8_GROUP = 4*VL bytes as 4 vectors, lane j of
 *   F8G_BIAS_LOG2            vector b = byte 4j+b, each value = the byte's * 2^F8G_BIAS_LOG2;
 *                            the direct FP8 path then arranges its input to match
 *                            (f8g_arrange)
 *   LIN_MR, LIN_NR           the linear micro-kernel: MR weight rows x NR input rows
 *   LT_NT                    input rows per group in linear_t
 *
 * FP8 matrices meet kern.h's contract (no NaN byte, |scale| < KERN_FP8_SCALE_MAX), which
 * the engine checks once at load, so the hot loops decode every byte the fast way and
 * scale * F8_RAW is always a finite float.
 *
 * Invariants the loops rely on: FP8 scale blocks are 128 columns, so a vector starting at
 * a multiple of VL never straddles two blocks; column chunks (LIN_KC, LT_CW) are multiples
 * of 128 or divide it. Tails shorter than a vector use the scalar conversions of kern.c.
 * No op allocates: per-thread working space is on the stack (at most LIN_MR*LIN_KC floats)
 * or the caller's mla scratch.
 */
#ifndef OPS_TABLE
#error "define the vector vocabulary before including ops_tmpl.h"
#endif

#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Columns of one dequantised chunk in the batched linear path (a multiple of 128). */
#define LIN_KC 2048
/* Input rows per block in the batched path: bounds the x working set to NBLK*KC floats. */
#define LIN_NBLK 64
/* Below this many input rows linear streams weights straight into registers. */
#define LIN_BATCH_MIN 4
/* Columns per linear_t chunk: 4 vectors, always inside one 128-column scale block. */
#define LT_CW (4 * VL)
/* Multiply-adds below which a job is not worth waking the pool for. */
#define PAR_MIN_WORK 32768

/* What one decoded value of dt must be multiplied by, besides the block scale. */
#define RAW_FACTOR(dt) ((dt) == KD_F8_E4M3 ? F8_RAW : 1.0f)

static inline size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* One stored element as F32, without the FP8 block scale. */
static ALWAYS_INLINE float w_scalar(const void *row, size_t k, const int dt)
{
	switch (dt) {
	case KD_F32: return ((const float *)row)[k];
	case KD_BF16: return kern_bf16_to_f32(((const uint16_t *)row)[k]);
	case KD_F16: return kern_f16_to_f32(((const uint16_t *)row)[k]);
	default: return kern_f8e4m3_lut[((const uint8_t *)row)[k]];
	}
}

/* VL stored elements from column k as F32 (F8: multiply by RAW_FACTOR(dt) * block scale). */
static ALWAYS_INLINE vf w_vec(const void *row, size_t k, const int dt)
{
	switch (dt) {
	case KD_F32: return v_load((const float *)row + k);
	case KD_BF16: return v_load_bf16((const uint16_t *)row + k);
	case KD_F16: return v_load_f16((const uint16_t *)row + k);
	default: return v_load_f8((const uint8_t *)row + k);
	}
}

static inline vf v_exp(vf x)
{
	/* e^x = 2^n * e^r with r in [-ln2/2, ln2/2]; degree-6 polynomial, ~1 ulp */
	x = v_max(v_set1(-87.33654f), x);
	x = v_min(v_set1(88.37626f), x);
	vf n = v_round(v_mul(x, v_set1(1.44269504088896341f)));
	vf r = v_sub(x, v_mul(n, v_set1(0.693359375f)));
	r = v_sub(r, v_mul(n, v_set1(-2.12194440e-4f)));
	vf p = v_set1(1.9875691500e-4f);
	p = v_fma(p, r, v_set1(1.3981999507e-3f));
	p = v_fma(p, r, v_set1(8.3334519073e-3f));
	p = v_fma(p, r, v_set1(4.1665795894e-2f));
	p = v_fma(p, r, v_set1(1.6666665459e-1f));
	p = v_fma(p, r, v_set1(5.0000001201e-1f));
	p = v_fma(p, v_mul(r, r), v_add(r, v_set1(1.0f)));
	return v_ldexp(p, n);
}

/* ---- linear ------------------------------------------------------------------- */

struct lin_ctx {
	float *y;
	const float *x;
	size_t n;
	const struct kern_mat *w;
};

/* How far ahead the direct path prefetches, in rows: two 4-row blocks. */
#define DIRECT_PREFETCH_ROWS 8

/*
 * Few input rows: weights go from memory straight into registers, 4 rows at a time, and
 * each 4-row block is reused from cache for every input row. FP8 sums one 128-column
 * block unscaled, then adds it times the block scale.
 *
 * Each weight load also prefetches the same columns `ahead` bytes on
 * (DIRECT_PREFETCH_ROWS rows down): a 4-row block reads four streams of one row each,
 * too short for the hardware prefetcher to run ahead of. The prefetch goes to L2, not
 * L1: a core has only a couple of dozen L1 miss buffers, and with the loop's decode work
 * between the loads they cap a core at about half the DRAM bandwidth (12 GB/s on the
 * AVX-512 machine, whose probe reads 25), while L2 keeps far more lines in flight and
 * the L1 misses then hit L2 (21 GB/s on one core there; docs/kernels.md).
 */
/* part[j] = wr[j][kb:ke] · xi[kb:ke] (raw values), ke - kb a multiple of VL. */
static ALWAYS_INLINE void direct_part(vf *part, const void *const *wr, const float *xi, size_t kb,
				      size_t ke, const int nrw, const int dt, size_t ahead)
{
#pragma GCC unroll 4
	for (int j = 0; j < nrw; j++)
		part[j] = v_zero();
	for (size_t k = kb; k < ke; k += VL) {
		vf xv = v_load(xi + k);
#pragma GCC unroll 4
		for (int j = 0; j < nrw; j++) {
			__builtin_prefetch((const char *)wr[j] + k * kern_dtype_size(dt) + ahead, 0, 2);
			part[j] = v_fma(w_vec(wr[j], k, dt), xv, part[j]);
		}
	}
}

#ifdef F8_GROUP
/*
 * The same for FP8 in the table's grouped decode: F8_GROUP bytes become 4 vectors whose
 * lane j of vector b is byte 4j+b, so xi must be arranged by f8g_arrange. Two
 * accumulators per row keep the FMA chains short; prefetching as direct_part.
 */
static ALWAYS_INLINE void direct_part_f8g(vf *part, const void *const *wr, const float *xi,
					  size_t kb, size_t ke, const int nrw, size_t ahead)
{
	vf part2[4];
#pragma GCC unroll 4
	for (int j = 0; j < nrw; j++)
		part[j] = part2[j] = v_zero();
	for (size_t k = kb; k < ke; k += F8_GROUP) {
		vf x0 = v_load(xi + k), x1 = v_load(xi + k + VL);
		vf x2 = v_load(xi + k + 2 * VL), x3 = v_load(xi + k + 3 * VL);
#pragma GCC unroll 4
		for (int j = 0; j < nrw; j++) {
			vf w[4];
			__builtin_prefetch((const uint8_t *)wr[j] + k + ahead, 0, 2);
			v_load_f8g((const uint8_t *)wr[j] + k, w);
			part[j] = v_fma(w[0], x0, part[j]);
			part2[j] = v_fma(w[1], x1, part2[j]);
			part[j] = v_fma(w[2], x2, part[j]);
			part2[j] = v_fma(w[3], x3, part2[j]);
		}
	}
#pragma GCC unroll 4
	for (int j = 0; j < nrw; j++)
		part[j] = v_add(part[j], part2[j]);
}

/*
 * v_load_f8g's values are tiny (the bytes' × 2^F8G_BIAS_LOG2 = 2^-120, many of them f32
 * subnormals), so their products with an input of 1e-3 would be subnormal too: rounded
 * coarsely, and slow on CPUs that handle subnormals in microcode. The arranged input is
 * scaled up by 2^e instead, e chosen per input row so that its largest |x| lands near
 * 2^F8G_TOP: every product that matters is then normal and none can overflow (a fixed
 * 2^64 overflowed for inputs past 1.8e19). The sums take the block scales as they are,
 * and ldexpf takes 2^(e - 120) back out of each result exactly.
 */
#define F8G_TOP 60
#define F8G_SUM_FACTOR ldexpf(1.0f, -F8G_BIAS_LOG2 - F8G_TOP) /* folded by the compiler */

/* xg = x * 2^e in v_load_f8g's order: x[g + 4j + b] goes to xg[g + b*VL + j] in each
   group of F8_GROUP; the columns after the last whole group stay where they are.
   Returns e. */
static int f8g_arrange(float *xg, const float *x, size_t cols)
{
	float top = 0; /* a NaN never wins the comparison */
	for (size_t k = 0; k < cols; k++) {
		float a = fabsf(x[k]);
		top = a > top ? a : top;
	}
	int e = top > 0 && top <= FLT_MAX ? F8G_TOP - ilogbf(top) : 0;
	e = e > 126 ? 126 : e;
	float p = ldexpf(1.0f, e);
	size_t g = 0;
	for (; g + F8_GROUP <= cols; g += F8_GROUP)
		for (int b = 0; b < 4; b++)
			for (int j = 0; j < VL; j++)
				xg[g + (size_t)(b * VL + j)] = x[g + (size_t)(4 * j + b)] * p;
	for (; g < cols; g++)
		xg[g] = x[g] * p;
	return e;
}

/* Most floats of arranged input one direct call keeps on its stack (128 KB): DeepSeek-V3's
   widest input (18432) for one row, its hidden size (7168) for three. */
#define LIN_XG_MAX 32768
#endif

/* What takes f8g_arrange's 2^e back out of input row i's results: sums of the grouped
   decode times 2^(-F8G_BIAS_LOG2 - F8G_TOP) then times `sum`, the scalar tail times
   `tail` (powers of two in two steps, so each factor is a normal float for every e
   f8g_arrange returns; ldexpf per result cost 3% of a decode step). */
struct f8g_unscale {
	float sum, tail;
};

/* un: FP8 through direct_part_f8g, c->x arranged by f8g_arrange, un[i] undoing its
   scaling of input row i (only with F8_GROUP); NULL: the plain path. */
static ALWAYS_INLINE void lin_direct_block(const struct lin_ctx *c, size_t r, const int nrw,
					   const int dt, const struct f8g_unscale *un)
{
	const struct kern_mat *w = c->w;
	size_t cols = w->cols, rows = w->rows, step = VL;
	float raw = RAW_FACTOR(dt);
#ifdef F8_GROUP
	if (un) {
		step = F8_GROUP;
		raw = 1.0f;
	}
#endif
	size_t cv = cols / step * step;
	size_t blk = dt == KD_F8_E4M3 ? KERN_FP8_BLOCK : (cv ? cv : 1);
	const void *wr[4];
#pragma GCC unroll 4
	for (int j = 0; j < nrw; j++)
		wr[j] = kern_mat_row_ptr(w, r + j);
	for (size_t i = 0; i < c->n; i++) {
		const float *xi = c->x + i * cols;
		vf acc[4];
		float tail[4];
#pragma GCC unroll 4
		for (int j = 0; j < nrw; j++) {
			acc[j] = v_zero();
			tail[j] = 0;
		}
		for (size_t kb = 0; kb < cv; kb += blk) {
			size_t ke = min_sz(kb + blk, cv);
			vf part[4];
#ifdef F8_GROUP
			if (un)
				direct_part_f8g(part, wr, xi, kb, ke, nrw,
						DIRECT_PREFETCH_ROWS * cols);
			else
#endif
				direct_part(part, wr, xi, kb, ke, nrw, dt,
					    DIRECT_PREFETCH_ROWS * cols * kern_dtype_size(dt));
#pragma GCC unroll 4
			for (int j = 0; j < nrw; j++) {
				if (dt == KD_F8_E4M3)
					acc[j] = v_fma(part[j], v_set1(kern_fp8_scale_at(w, r + j, kb) * raw),
						       acc[j]);
				else
					acc[j] = v_add(acc[j], part[j]);
			}
		}
		for (size_t k = cv; k < cols; k++)
#pragma GCC unroll 4
			for (int j = 0; j < nrw; j++) {
				float v = w_scalar(wr[j], k, dt);
				if (dt == KD_F8_E4M3)
					v *= kern_fp8_scale_at(w, r + j, k);
				tail[j] += xi[k] * v;
			}
#pragma GCC unroll 4
		for (int j = 0; j < nrw; j++) {
			float y;
#ifdef F8_GROUP
			if (un)
				y = v_hsum(acc[j]) * F8G_SUM_FACTOR * un[i].sum + tail[j] * un[i].tail;
			else
#endif
				y = v_hsum(acc[j]) + tail[j];
			c->y[i * rows + r + j] = y;
		}
	}
}

static ALWAYS_INLINE void lin_direct_rows(const struct lin_ctx *c, size_t r0, size_t r1,
					  const int dt, const struct f8g_unscale *un)
{
	size_t r = r0;
	for (; r + 4 <= r1; r += 4)
		lin_direct_block(c, r, 4, dt, un);
	for (; r < r1; r++)
		lin_direct_block(c, r, 1, dt, un);
}

static ALWAYS_INLINE void lin_direct(const struct lin_ctx *c, size_t r0, size_t r1, const int dt)
{
#ifdef F8_GROUP
	size_t cols = c->w->cols;
	if (dt == KD_F8_E4M3 && c->n * cols <= LIN_XG_MAX) {
		float xg[LIN_XG_MAX] __attribute__((aligned(64)));
		struct f8g_unscale un[LIN_BATCH_MIN];
		for (size_t i = 0; i < c->n; i++) {
			int e = f8g_arrange(xg + i * cols, c->x + i * cols, cols);
			un[i] = (struct f8g_unscale){ldexpf(1.0f, F8G_TOP - e), ldexpf(1.0f, -e)};
		}
		struct lin_ctx g = {c->y, xg, c->n, c->w};
		lin_direct_rows(&g, r0, r1, dt, un);
		return;
	}
#endif
	lin_direct_rows(c, r0, r1, dt, NULL);
}

/* cols [k0, k0+kl) of view row r as exact F32 (block scale applied) into dst. */
static ALWAYS_INLINE void dequant_seg(float *dst, const struct kern_mat *w, size_t r, size_t k0,
				      size_t kl, const int dt)
{
	const void *row = kern_mat_row_ptr(w, r);
	size_t k = 0, kv = kl / VL * VL;
	if (dt == KD_F8_E4M3) {
		while (k < kv) { /* k0 is a multiple of 128: blocks start at vector boundaries */
			size_t be = min_sz(kv, (k0 + k) / KERN_FP8_BLOCK * KERN_FP8_BLOCK +
						      KERN_FP8_BLOCK - k0);
			vf s = v_set1(kern_fp8_scale_at(w, r, k0 + k) * RAW_FACTOR(dt));
			for (; k < be; k += VL)
				v_store(dst + k, v_mul(w_vec(row, k0 + k, dt), s));
		}
	} else {
		for (; k < kv; k += VL)
			v_store(dst + k, w_vec(row, k0 + k, dt));
	}
	for (; k < kl; k++) {
		float v = w_scalar(row, k0 + k, dt);
		dst[k] = dt == KD_F8_E4M3 ? v * kern_fp8_scale_at(w, r, k0 + k) : v;
	}
}

/* out[j][i] = wr[j][0:kl] · xr[i][0:kl] for MR weight rows and NR input rows. */
static inline void lin_micro(float out[LIN_MR][LIN_NR], const float *const wr[LIN_MR],
			     const float *const xr[LIN_NR], size_t kl)
{
	vf acc[LIN_MR][LIN_NR];
#pragma GCC unroll 16
	for (int j = 0; j < LIN_MR; j++)
#pragma GCC unroll 16
		for (int i = 0; i < LIN_NR; i++)
			acc[j][i] = v_zero();
	size_t kv = kl / VL * VL;
	for (size_t k = 0; k < kv; k += VL) {
		vf xv[LIN_NR];
#pragma GCC unroll 16
		for (int i = 0; i < LIN_NR; i++)
			xv[i] = v_load(xr[i] + k);
#pragma GCC unroll 16
		for (int j = 0; j < LIN_MR; j++) {
			vf wv = v_load(wr[j] + k);
#pragma GCC unroll 16
			for (int i = 0; i < LIN_NR; i++)
				acc[j][i] = v_fma(wv, xv[i], acc[j][i]);
		}
	}
	for (int j = 0; j < LIN_MR; j++)
		for (int i = 0; i < LIN_NR; i++) {
			float s = v_hsum(acc[j][i]);
			for (size_t k = kv; k < kl; k++)
				s += wr[j][k] * xr[i][k];
			out[j][i] = s;
		}
}

/*
 * Many input rows: dequantise MR weight rows x LIN_KC columns once into a stack buffer
 * and use them for every input row of the block (prefill is compute-bound, so each weight
 * is decoded once per LIN_NBLK rows, not once per row). y doubles as the accumulator
 * across column chunks; only this thread writes these rows of y.
 */
static ALWAYS_INLINE void lin_batched(const struct lin_ctx *c, size_t r0, size_t r1, const int dt)
{
	const struct kern_mat *w = c->w;
	size_t cols = w->cols, rows = w->rows, n = c->n;
	float wbuf[LIN_MR][LIN_KC] __attribute__((aligned(64)));
	for (size_t nb = 0; nb < n; nb += LIN_NBLK) {
		size_t ne = min_sz(n, nb + LIN_NBLK);
		for (size_t r = r0; r < r1; r += LIN_MR) {
			int rb = (int)min_sz(LIN_MR, r1 - r);
			for (size_t k0 = 0; k0 < cols; k0 += LIN_KC) {
				size_t kl = min_sz(LIN_KC, cols - k0);
				const float *wr[LIN_MR];
				for (int j = 0; j < LIN_MR; j++) {
					if (j >= rb) { /* repeat the last row; its results are dropped */
						wr[j] = wr[rb - 1];
					} else if (dt == KD_F32) {
						wr[j] = (const float *)kern_mat_row_ptr(w, r + j) + k0;
					} else {
						dequant_seg(wbuf[j], w, r + j, k0, kl, dt);
						wr[j] = wbuf[j];
					}
				}
				for (size_t i = nb; i < ne; i += LIN_NR) {
					int ib = (int)min_sz(LIN_NR, ne - i);
					const float *xr[LIN_NR];
					for (int t = 0; t < LIN_NR; t++)
						xr[t] = c->x + (i + (size_t)(t < ib ? t : ib - 1)) * cols + k0;
					float out[LIN_MR][LIN_NR];
					lin_micro(out, wr, xr, kl);
					for (int j = 0; j < rb; j++)
						for (int t = 0; t < ib; t++) {
							float *yp = c->y + (i + (size_t)t) * rows + r + (size_t)j;
							*yp = k0 ? *yp + out[j][t] : out[j][t];
						}
				}
			}
		}
	}
}

static ALWAYS_INLINE void lin_rows(const struct lin_ctx *c, size_t r0, size_t r1, const int dt)
{
	if (c->n < LIN_BATCH_MIN)
		lin_direct(c, r0, r1, dt);
	else
		lin_batched(c, r0, r1, dt);
}

static void lin_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct lin_ctx *c = ctx;
	switch (c->w->dtype) {
	case KD_F32: lin_rows(c, b, e, KD_F32); break;
	case KD_BF16: lin_rows(c, b, e, KD_BF16); break;
	case KD_F16: lin_rows(c, b, e, KD_F16); break;
	case KD_F8_E4M3: lin_rows(c, b, e, KD_F8_E4M3); break;
	}
}

/* Rows per range so that each range has at least PAR_MIN_WORK multiply-adds. */
static size_t grain_for(size_t work_per_item)
{
	size_t g = work_per_item ? PAR_MIN_WORK / work_per_item : PAR_MIN_WORK;
	return g ? g : 1;
}

static void f_linear(struct kern_pool *p, float *y, const float *x, size_t n,
		     const struct kern_mat *w)
{
	if (n == 0 || w->rows == 0)
		return;
	struct lin_ctx c = {y, x, n, w};
	size_t grain = grain_for(w->cols * n);
	if (grain < LIN_MR)
		grain = LIN_MR;
	kern_pool_for(p, w->rows, grain, lin_task, &c);
}

/* ---- ffn_group ---------------------------------------------------------------- */

static void f_silu_mul(float *out, const float *gate, const float *up, size_t n);

/* Rows of one work item: one lin_direct block. */
#define FFN_ITEM_ROWS 4

struct ffn_ctx {
	const struct kern_ffn *f;
	size_t count;
	int phase; /* 0: gate and up rows, silu applied; 1: down rows */
	size_t first[KERN_FFN_GROUP_MAX + 1]; /* first item of MLP e; first[count] = all */
};

static size_t ffn_phase_rows(const struct kern_ffn *f, int phase)
{
	return phase == 0 ? f->gate->rows : f->down->rows;
}

/* Rows [r0, r1) of one MLP in this phase. */
static void ffn_rows(const struct kern_ffn *f, int phase, size_t r0, size_t r1, int thread)
{
	if (phase == 1) {
		struct lin_ctx cd = {f->y, f->h, f->m, f->down};
		lin_task(&cd, r0, r1, thread);
		return;
	}
	size_t I = f->gate->rows;
	float *g = f->h, *u = f->h + f->m * I;
	struct lin_ctx cg = {g, f->x, f->m, f->gate}, cu = {u, f->x, f->m, f->up};
	lin_task(&cg, r0, r1, thread);
	lin_task(&cu, r0, r1, thread);
	for (size_t i = 0; i < f->m; i++)
		f_silu_mul(g + i * I + r0, g + i * I + r0, u + i * I + r0, r1 - r0);
}

static void ffn_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct ffn_ctx *c = ctx;
	size_t k = 0;
	while (b < e) {
		while (c->first[k + 1] <= b)
			k++;
		size_t end = min_sz(e, c->first[k + 1]), rows = ffn_phase_rows(&c->f[k], c->phase);
		size_t r0 = (b - c->first[k]) * FFN_ITEM_ROWS;
		size_t r1 = min_sz(rows, (end - c->first[k]) * FFN_ITEM_ROWS);
		ffn_rows(&c->f[k], c->phase, r0, r1, thread);
		b = end;
	}
}

static void f_ffn_group(struct kern_pool *p, const struct kern_ffn *f, size_t count)
{
	struct ffn_ctx c = {.f = f, .count = count};
	for (c.phase = 0; c.phase < 2; c.phase++) {
		size_t work = 0;
		c.first[0] = 0;
		for (size_t e = 0; e < count; e++) {
			size_t rows = ffn_phase_rows(&f[e], c.phase);
			c.first[e + 1] = c.first[e] + (rows + FFN_ITEM_ROWS - 1) / FFN_ITEM_ROWS;
			work += rows * f[e].m * (c.phase ? f[e].down->cols : 2 * f[e].gate->cols);
		}
		size_t items = c.first[count];
		if (items)
			kern_pool_for(p, items, grain_for(work / items), ffn_task, &c);
	}
}

/* ---- linear_t ----------------------------------------------------------------- */

/*
 * y[i][c : c+nv*VL] for nt input rows from i: accumulators stay in registers over all
 * w.rows, each weight vector is decoded once per group of input rows. The FP8 scale of a
 * chunk is one number per row: a chunk never leaves its 128-column block.
 */
static ALWAYS_INLINE void lt_chunk(float *y, const float *x, const struct kern_mat *w, size_t i,
				   size_t c, const int nt, const int nv, const int dt)
{
	size_t rows = w->rows, cols = w->cols;
	vf acc[LT_NT][4];
#pragma GCC unroll 8
	for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
		for (int v = 0; v < nv; v++)
			acc[t][v] = v_zero();
	for (size_t r = 0; r < rows; r++) {
		const void *row = kern_mat_row_ptr(w, r);
		vf wv[4];
		if (dt == KD_F8_E4M3) {
			vf s = v_set1(kern_fp8_scale_at(w, r, c) * RAW_FACTOR(dt));
#pragma GCC unroll 4
			for (int v = 0; v < nv; v++)
				wv[v] = v_mul(w_vec(row, c + (size_t)v * VL, dt), s);
		} else {
#pragma GCC unroll 4
			for (int v = 0; v < nv; v++)
				wv[v] = w_vec(row, c + (size_t)v * VL, dt);
		}
#pragma GCC unroll 8
		for (int t = 0; t < nt; t++) {
			vf xb = v_set1(x[(i + (size_t)t) * rows + r]);
#pragma GCC unroll 4
			for (int v = 0; v < nv; v++)
				acc[t][v] = v_fma(wv[v], xb, acc[t][v]);
		}
	}
#pragma GCC unroll 8
	for (int t = 0; t < nt; t++)
#pragma GCC unroll 4
		for (int v = 0; v < nv; v++)
			v_store(y + (i + (size_t)t) * cols + c + (size_t)v * VL, acc[t][v]);
}

struct lt_ctx {
	float *y;
	const float *x;
	size_t n;
	const struct kern_mat *w;
};

static ALWAYS_INLINE void lt_cols(const struct lt_ctx *lc, size_t c0, size_t c1, const int dt)
{
	const struct kern_mat *w = lc->w;
	size_t n = lc->n, rows = w->rows, cols = w->cols;
	size_t c = c0;
	for (; c + LT_CW <= c1; c += LT_CW) {
		size_t i = 0;
		for (; i + LT_NT <= n; i += LT_NT)
			lt_chunk(lc->y, lc->x, w, i, c, LT_NT, 4, dt);
		for (; i < n; i++)
			lt_chunk(lc->y, lc->x, w, i, c, 1, 4, dt);
	}
	for (; c + VL <= c1; c += VL)
		for (size_t i = 0; i < n; i++)
			lt_chunk(lc->y, lc->x, w, i, c, 1, 1, dt);
	for (; c < c1; c++)
		for (size_t i = 0; i < n; i++) {
			float s = 0;
			for (size_t r = 0; r < rows; r++)
				s += lc->x[i * rows + r] * w_scalar(kern_mat_row_ptr(w, r), c, dt) *
				     (dt == KD_F8_E4M3 ? kern_fp8_scale_at(w, r, c) : 1.0f);
			lc->y[i * cols + c] = s;
		}
}

static void lt_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct lt_ctx *lc = ctx;
	size_t c0 = b * LT_CW, c1 = min_sz(lc->w->cols, e * LT_CW);
	switch (lc->w->dtype) {
	case KD_F32: lt_cols(lc, c0, c1, KD_F32); break;
	case KD_BF16: lt_cols(lc, c0, c1, KD_BF16); break;
	case KD_F16: lt_cols(lc, c0, c1, KD_F16); break;
	case KD_F8_E4M3: lt_cols(lc, c0, c1, KD_F8_E4M3); break;
	}
}

static void f_linear_t(struct kern_pool *p, float *y, const float *x, size_t n,
		       const struct kern_mat *w)
{
	if (n == 0 || w->cols == 0)
		return;
	if (w->rows == 0) {
		memset(y, 0, n * w->cols * sizeof *y);
		return;
	}
	struct lt_ctx lc = {y, x, n, w};
	size_t chunks = (w->cols + LT_CW - 1) / LT_CW;
	kern_pool_for(p, chunks, grain_for(LT_CW * w->rows * n), lt_task, &lc);
}

/* ---- row ---------------------------------------------------------------------- */

static void f_row(float *out, const struct kern_mat *w, size_t row)
{
	switch (w->dtype) {
	case KD_F32: memcpy(out, kern_mat_row_ptr(w, row), w->cols * sizeof *out); break;
	case KD_BF16: dequant_seg(out, w, row, 0, w->cols, KD_BF16); break;
	case KD_F16: dequant_seg(out, w, row, 0, w->cols, KD_F16); break;
	case KD_F8_E4M3: dequant_seg(out, w, row, 0, w->cols, KD_F8_E4M3); break;
	}
}

/* ---- elementwise -------------------------------------------------------------- */

static void f_rmsnorm(float *y, const float *x, const float *weight, size_t n, size_t dim,
		      float eps)
{
	size_t dv4 = dim / (4 * VL) * (4 * VL), dv = dim / VL * VL;
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * dim;
		float *yi = y + i * dim;
		/* 4*VL partial sums of positive terms, combined in double */
		vf s[4] = {v_zero(), v_zero(), v_zero(), v_zero()};
		size_t k = 0;
		for (; k < dv4; k += 4 * VL)
			for (int u = 0; u < 4; u++) {
				vf v = v_load(xi + k + (size_t)u * VL);
				s[u] = v_fma(v, v, s[u]);
			}
		for (; k < dv; k += VL) {
			vf v = v_load(xi + k);
			s[0] = v_fma(v, v, s[0]);
		}
		double ss = (double)v_hsum(s[0]) + v_hsum(s[1]) + v_hsum(s[2]) + v_hsum(s[3]);
		for (; k < dim; k++)
			ss += (double)xi[k] * xi[k];
		float inv = (float)(1.0 / sqrt(ss / (double)dim + eps));
		vf iv = v_set1(inv);
		for (k = 0; k < dv; k += VL)
			v_store(yi + k, v_mul(v_mul(v_load(xi + k), iv), v_load(weight + k)));
		for (; k < dim; k++)
			yi[k] = xi[k] * inv * weight[k];
	}
}

static void f_rope(float *base, size_t n, size_t heads, size_t row_stride, size_t head_stride,
		   size_t dim, const float *cos, const float *sin)
{
	size_t half = dim / 2;
	for (size_t r = 0; r < n; r++)
		for (size_t h = 0; h < heads; h++) {
			float *v = base + r * row_stride + h * head_stride;
			const float *cr = cos + r * half, *sr = sin + r * half;
			for (size_t j = 0; j < half; j++) {
				float x0 = v[2 * j], x1 = v[2 * j + 1];
				v[2 * j] = x0 * cr[j] - x1 * sr[j];
				v[2 * j + 1] = x0 * sr[j] + x1 * cr[j];
			}
		}
}

static void f_rope_half(float *base, size_t n, size_t heads, size_t row_stride,
			size_t head_stride, size_t dim, const float *cos, const float *sin)
{
	size_t half = dim / 2, hv = half / VL * VL;
	for (size_t r = 0; r < n; r++)
		for (size_t h = 0; h < heads; h++) {
			float *v = base + r * row_stride + h * head_stride;
			const float *cr = cos + r * half, *sr = sin + r * half;
			size_t j = 0;
			for (; j < hv; j += VL) {
				vf x0 = v_load(v + j), x1 = v_load(v + j + half);
				vf c = v_load(cr + j), s = v_load(sr + j);
				v_store(v + j, v_sub(v_mul(x0, c), v_mul(x1, s)));
				v_store(v + j + half, v_fma(x0, s, v_mul(x1, c)));
			}
			for (; j < half; j++) {
				float x0 = v[j], x1 = v[j + half];
				v[j] = x0 * cr[j] - x1 * sr[j];
				v[j + half] = x1 * cr[j] + x0 * sr[j];
			}
		}
}

static void f_softmax(float *x, size_t n)
{
	if (n == 0)
		return;
	size_t nv = n / VL * VL, k;
	float mx = x[0];
	if (nv) {
		vf m = v_load(x);
		for (k = VL; k < nv; k += VL)
			m = v_max(m, v_load(x + k));
		mx = v_hmax(m);
	}
	for (k = nv; k < n; k++)
		if (x[k] > mx)
			mx = x[k];
	vf mv = v_set1(mx), sv = v_zero();
	for (k = 0; k < nv; k += VL) {
		vf e = v_exp(v_sub(v_load(x + k), mv));
		v_store(x + k, e);
		sv = v_add(sv, e);
	}
	double sum = v_hsum(sv);
	for (k = nv; k < n; k++) {
		x[k] = expf(x[k] - mx);
		sum += x[k];
	}
	float inv = (float)(1.0 / sum);
	vf iv = v_set1(inv);
	for (k = 0; k < nv; k += VL)
		v_store(x + k, v_mul(v_load(x + k), iv));
	for (k = nv; k < n; k++)
		x[k] *= inv;
}

static void f_silu_mul(float *out, const float *gate, const float *up, size_t n)
{
	size_t nv = n / VL * VL, k;
	vf one = v_set1(1.0f), zero = v_zero();
	for (k = 0; k < nv; k += VL) {
		vf g = v_load(gate + k);
		vf sg = v_div(g, v_add(one, v_exp(v_sub(zero, g))));
		v_store(out + k, v_mul(sg, v_load(up + k)));
	}
	for (; k < n; k++) {
		float g = gate[k];
		out[k] = g / (1.0f + expf(-g)) * up[k];
	}
}

/* ---- attention ---------------------------------------------------------------- */

/* The F32 scale an FP8 cache row starts with. */
static inline float kv_row_scale(const uint8_t *row)
{
	float sc;
	memcpy(&sc, row, sizeof sc);
	return sc;
}

/*
 * Cache rows are read 2*VL values at a time, as two vectors. BF16 splits such a block
 * into its even- and its odd-indexed values (one shift and one mask for both, where the
 * in-order decode takes a widening and a shift per vector), so the query is arranged
 * once per (query, head) in that order, and the latent sums are accumulated in it and
 * interleaved back once when stored. F32 and FP8 keep the stored order; FP8 widens
 * 2*VL bytes with one load, shift and mask before the two f16 conversions.
 */
static ALWAYS_INLINE void kv_pair(vf *a, vf *b, const void *vals, size_t k, const int dt)
{
	if (dt == KD_BF16) {
		v_load_bf16x2((const uint16_t *)vals + k, a, b);
	} else if (dt == KD_F8_E4M3) {
		v_load_f8x2((const uint8_t *)vals + k, a, b);
	} else {
		*a = w_vec(vals, k, dt);
		*b = w_vec(vals, k + VL, dt);
	}
}

/* Query columns arranged per pass over the cache (a multiple of 2*VL): DeepSeek's
   kv_lora_rank + qk_rope_head_dim = 576 take one pass, on the stack. */
#define MLA_QCOLS 1024

/*
 * qa[0:w] = columns [c0, c0+w) of the query (q_lat, then q_pe: a cache row's layout),
 * whole 2*VL blocks in kv_pair's order, the rest as stored.
 */
static ALWAYS_INLINE void mla_query(float *qa, const float *ql, const float *qp, size_t lora,
				    size_t c0, size_t w, const int dt)
{
	size_t wb = w / (2 * VL) * (2 * VL);
	for (size_t j = 0; j < w; j++) {
		size_t c = c0 + j, d = j;
		if (dt == KD_BF16 && j < wb)
			d = j - j % (2 * VL) + (j & 1) * VL + j % (2 * VL) / 2;
		qa[d] = c < lora ? ql[c] : qp[c - lora];
	}
}

/*
 * For np rows from vals (rb bytes apart): d[p] (+)= qa · values [c0, c0+w), raw (FP8
 * without the row scale); the first pass (c0 = 0) sets d. Rows share the query loads,
 * and 2*np accumulators hide FMA latency even on rows as short as a small model's.
 */
static ALWAYS_INLINE void mla_dots(float *d, const float *qa, const uint8_t *vals, size_t rb,
				   size_t c0, size_t w, const int np, const int dt)
{
	vf acc[4][2];
#pragma GCC unroll 4
	for (int p = 0; p < np; p++)
		acc[p][0] = acc[p][1] = v_zero();
	size_t j = 0;
	for (; j + 2 * VL <= w; j += 2 * VL) {
		vf q0 = v_load(qa + j), q1 = v_load(qa + j + VL);
#pragma GCC unroll 4
		for (int p = 0; p < np; p++) {
			vf x, y;
			kv_pair(&x, &y, vals + (size_t)p * rb, c0 + j, dt);
			acc[p][0] = v_fma(q0, x, acc[p][0]);
			acc[p][1] = v_fma(q1, y, acc[p][1]);
		}
	}
	if (j + VL <= w) {
		vf q0 = v_load(qa + j);
#pragma GCC unroll 4
		for (int p = 0; p < np; p++)
			acc[p][0] = v_fma(q0, w_vec(vals + (size_t)p * rb, c0 + j, dt), acc[p][0]);
		j += VL;
	}
#pragma GCC unroll 4
	for (int p = 0; p < np; p++) {
		float s = v_hsum(v_add(acc[p][0], acc[p][1])) * RAW_FACTOR(dt);
		for (size_t k = j; k < w; k++)
			s += qa[k] * w_scalar(vals + (size_t)p * rb, c0 + k, dt);
		d[p] = c0 ? d[p] + s : s;
	}
}

/*
 * o[k : k + np*2*VL] = inv * sum over len rows of s[t] * values: np pairs of
 * accumulators stay in registers over all positions.
 */
static ALWAYS_INLINE void mla_lat(float *o, const float *s, const uint8_t *vals, size_t rb,
				  size_t len, size_t k, float inv, const int np, const int dt)
{
	vf acc[4][2];
#pragma GCC unroll 4
	for (int p = 0; p < np; p++)
		acc[p][0] = acc[p][1] = v_zero();
	for (size_t t = 0; t < len; t++) {
		const uint8_t *row = vals + t * rb;
		vf pv = v_set1(s[t] * RAW_FACTOR(dt));
#pragma GCC unroll 4
		for (int p = 0; p < np; p++) {
			vf x, y;
			kv_pair(&x, &y, row, k + (size_t)p * 2 * VL, dt);
			acc[p][0] = v_fma(pv, x, acc[p][0]);
			acc[p][1] = v_fma(pv, y, acc[p][1]);
		}
	}
	vf iv = v_set1(inv);
#pragma GCC unroll 4
	for (int p = 0; p < np; p++) {
		vf lo = v_mul(acc[p][0], iv), hi = v_mul(acc[p][1], iv);
		if (dt == KD_BF16)
			v_zip(lo, hi, &lo, &hi);
		v_store(o + k + (size_t)p * 2 * VL, lo);
		v_store(o + k + (size_t)p * 2 * VL + VL, hi);
	}
}

/*
 * s[t] = raw score of the query against row t, t < len (rows `stride` bytes apart from
 * vals): one pass per MLA_QCOLS columns of width, the query's columns being ql's first
 * `lora` then qp's (MLA: the latent, then the rope part; GQA: lora = width).
 */
static ALWAYS_INLINE void attn_scores(float *s, float *qa, const float *ql, const float *qp,
				      size_t lora, size_t width, const uint8_t *vals,
				      size_t stride, size_t len, const int dt)
{
	size_t c0 = 0, t;
	do {
		size_t w = min_sz(MLA_QCOLS, width - c0);
		mla_query(qa, ql, qp, lora, c0, w, dt);
		for (t = 0; t + 4 <= len; t += 4)
			mla_dots(s + t, qa, vals + t * stride, stride, c0, w, 4, dt);
		for (; t < len; t++)
			mla_dots(s + t, qa, vals + t * stride, stride, c0, w, 1, dt);
	} while ((c0 += MLA_QCOLS) < width);
}

/*
 * Raw scores to softmax numerators in place: s[t] = exp(scale * s[t] * row scale - max),
 * the row scale being an FP8 key row's (rows `stride` bytes apart from krows). Returns
 * their sum.
 */
static ALWAYS_INLINE double attn_exp(float *s, size_t len, float scale, const uint8_t *krows,
				     size_t stride, const int dt)
{
	float mx = -INFINITY;
	size_t t;
	for (t = 0; t < len; t++) {
		float d = s[t];
		if (dt == KD_F8_E4M3)
			d *= kv_row_scale(krows + t * stride);
		s[t] = scale * d;
		if (s[t] > mx)
			mx = s[t];
	}
	size_t lv = len / VL * VL;
	vf mv = v_set1(mx), sv = v_zero();
	for (t = 0; t < lv; t += VL) {
		vf ev = v_exp(v_sub(v_load(s + t), mv));
		v_store(s + t, ev);
		sv = v_add(sv, ev);
	}
	double sum = v_hsum(sv);
	for (; t < len; t++) {
		s[t] = expf(s[t] - mx);
		sum += s[t];
	}
	return sum;
}

/*
 * o[0:width] = inv * sum over t < len of s[t] * values [0, width) of row t (rows
 * `stride` bytes apart from vals; FP8: s already holds each row's scale).
 */
static ALWAYS_INLINE void attn_sum(float *o, const float *s, const uint8_t *vals, size_t stride,
				   size_t len, size_t width, float inv, const int dt)
{
	size_t k = 0, t;
	for (; k + 8 * VL <= width; k += 8 * VL)
		mla_lat(o, s, vals, stride, len, k, inv, 4, dt);
	for (; k + 2 * VL <= width; k += 2 * VL)
		mla_lat(o, s, vals, stride, len, k, inv, 1, dt);
	if (k + VL <= width) {
		vf acc = v_zero();
		for (t = 0; t < len; t++)
			acc = v_fma(v_set1(s[t] * RAW_FACTOR(dt)), w_vec(vals + t * stride, k, dt), acc);
		v_store(o + k, v_mul(acc, v_set1(inv)));
		k += VL;
	}
	for (; k < width; k++) {
		float acc = 0;
		for (t = 0; t < len; t++)
			acc += s[t] * w_scalar(vals + t * stride, k, dt);
		o[k] = acc * inv;
	}
}

/*
 * Items [b, e) of (query, head), the cache in type dt. Each cache row is decoded inside
 * the score dot products and again inside the weighted sum, never into a copy: the
 * cache is the one large thing attention reads, and a narrower type is fewer bytes.
 * An FP8 row's scale multiplies its score, then is folded into its softmax weight.
 */
static ALWAYS_INLINE void mla_items(const struct kern_mla_args *a, size_t b, size_t e,
				    int thread, const int dt)
{
	size_t lora = a->lora, width = a->lora + a->rope;
	size_t rb = kern_kv_row_bytes(dt, width);
	size_t off = dt == KD_F8_E4M3 ? sizeof(float) : 0; /* values follow an FP8 row's scale */
	const uint8_t *cache = a->cache, *vals = cache + off;
	float *s = a->scratch + (size_t)thread * a->scratch_stride;
	float qa[MLA_QCOLS] __attribute__((aligned(64)));
	for (size_t item = b; item < e; item++) {
		size_t i = item / a->heads, len = a->pos0 + i + 1;
		attn_scores(s, qa, a->q_lat + item * lora, a->q_pe + item * a->rope, lora, width,
			    vals, rb, len, dt);
		double sum = attn_exp(s, len, a->scale, cache, rb, dt);
		if (dt == KD_F8_E4M3)
			for (size_t t = 0; t < len; t++)
				s[t] *= kv_row_scale(cache + t * rb);
		attn_sum(a->out + item * lora, s, vals, rb, len, lora, (float)(1.0 / sum), dt);
	}
}

static void mla_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct kern_mla_args *a = ctx;
	switch (a->cache_type) {
	case KD_BF16: mla_items(a, b, e, thread, KD_BF16); break;
	case KD_F8_E4M3: mla_items(a, b, e, thread, KD_F8_E4M3); break;
	default: mla_items(a, b, e, thread, KD_F32); break;
	}
}

static void f_mla_attn(struct kern_pool *p, const struct kern_mla_args *a)
{
	size_t items = a->n * a->heads;
	if (items == 0)
		return;
	/* per item: about len * (2*lora + rope) multiply-adds */
	size_t len = a->pos0 + a->n;
	kern_pool_for(p, items, grain_for(len * (2 * a->lora + a->rope)), mla_task, (void *)a);
}

/*
 * Grouped-query attention, items [b, e) of (query, head): the same steps as MLA's over
 * the key rows of the item's kv head, then its value rows, each FP8 row with its scale.
 */
static ALWAYS_INLINE void gqa_items(const struct kern_gqa_args *a, size_t b, size_t e,
				    int thread, const int dt)
{
	size_t hd = a->head_dim, rb = kern_kv_row_bytes(dt, hd), ps = a->pos_stride;
	size_t off = dt == KD_F8_E4M3 ? sizeof(float) : 0;
	size_t group = a->heads / a->kv_heads;
	const uint8_t *cache = a->cache;
	float *s = a->scratch + (size_t)thread * a->scratch_stride;
	float qa[MLA_QCOLS] __attribute__((aligned(64)));
	for (size_t item = b; item < e; item++) {
		size_t i = item / a->heads, g = item % a->heads / group, len = a->pos0 + i + 1;
		const uint8_t *keys = cache + g * rb, *values = cache + (a->kv_heads + g) * rb;
		const float *q = a->q + item * hd;
		attn_scores(s, qa, q, q, hd, hd, keys + off, ps, len, dt);
		double sum = attn_exp(s, len, a->scale, keys, ps, dt);
		if (dt == KD_F8_E4M3)
			for (size_t t = 0; t < len; t++)
				s[t] *= kv_row_scale(values + t * ps);
		attn_sum(a->out + item * hd, s, values + off, ps, len, hd, (float)(1.0 / sum), dt);
	}
}

static void gqa_task(void *ctx, size_t b, size_t e, int thread)
{
	const struct kern_gqa_args *a = ctx;
	switch (a->cache_type) {
	case KD_BF16: gqa_items(a, b, e, thread, KD_BF16); break;
	case KD_F8_E4M3: gqa_items(a, b, e, thread, KD_F8_E4M3); break;
	default: gqa_items(a, b, e, thread, KD_F32); break;
	}
}

static void f_gqa_attn(struct kern_pool *p, const struct kern_gqa_args *a)
{
	size_t items = a->n * a->heads;
	if (items == 0)
		return;
	/* per item: about len * 2 * head_dim multiply-adds */
	kern_pool_for(p, items, grain_for((a->pos0 + a->n) * 2 * a->head_dim), gqa_task,
		      (void *)a);
}

/* ---- routing ------------------------------------------------------------------ */

static void f_gather(float *dst, const float *src, const int32_t *rows, size_t m, size_t dim)
{
	for (size_t i = 0; i < m; i++)
		memcpy(dst + i * dim, src + (size_t)rows[i] * dim, dim * sizeof *dst);
}

static void f_scatter_add(float *dst, const float *src, const int32_t *rows,
			  const float *weights, size_t m, size_t dim)
{
	size_t dv = dim / VL * VL;
	for (size_t i = 0; i < m; i++) {
		float *d = dst + (size_t)rows[i] * dim;
		const float *si = src + i * dim;
		vf wv = v_set1(weights[i]);
		size_t k = 0;
		for (; k < dv; k += VL)
			v_store(d + k, v_fma(wv, v_load(si + k), v_load(d + k)));
		for (; k < dim; k++)
			d[k] += weights[i] * si[k];
	}
}

const struct kern_ops OPS_TABLE = {
	.name = OPS_NAME,
	.linear = f_linear,
	.linear_t = f_linear_t,
	.row = f_row,
	.rmsnorm = f_rmsnorm,
	.rope = f_rope,
	.rope_half = f_rope_half,
	.softmax = f_softmax,
	.silu_mul = f_silu_mul,
	.mla_attn = f_mla_attn,
	.gqa_attn = f_gqa_attn,
	.ffn_group = f_ffn_group,
	.gather = f_gather,
	.scatter_add = f_scatter_add,
};
