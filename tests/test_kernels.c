/*
 * test_kernels.c — the CPU op tables.
 *
 * Conversions are checked on known bit patterns (the e4m3 encoder and the re-quantiser in
 * test_kern_quant.c); the reference linear against a naive
 * double-precision product of a small matrix dequantized by hand; then every op of every
 * table this CPU supports against the reference on random inputs of odd shapes (FP8
 * partial blocks, scales != 1, views whose row0 crosses a scale block), with no pool and
 * with a 3-thread pool. Tolerance: max|diff| <= 1e-4 * max|ref| + 1e-6.
 */
#include <math.h>
#include <stdint.h>

#include "kernels/cpu/cpu.h"
#include "kernels/kern.h"
#include "kernels/pool.h"
#include "tests/check.h"
#include "tests/rng.h"

/* ---- helpers ------------------------------------------------------------------- */

static void fill(float *v, size_t n, float lo, float hi)
{
	for (size_t i = 0; i < n; i++)
		v[i] = rnd_f(lo, hi);
}

static float *falloc(size_t n)
{
	float *p = malloc((n ? n : 1) * sizeof *p);
	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* Largest |a - b| relative to the largest |b|; NaN where one side is NaN and not both. */
static int close_enough(const float *a, const float *ref, size_t n, double *rel)
{
	double md = 0, mr = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(a[i]) || isnan(ref[i])) {
			if (!(isnan(a[i]) && isnan(ref[i]))) {
				*rel = NAN;
				return 0;
			}
			continue;
		}
		double d = fabs((double)a[i] - ref[i]);
		if (d > md)
			md = d;
		if (fabs(ref[i]) > mr)
			mr = fabs(ref[i]);
	}
	*rel = md / (mr > 0 ? mr : 1);
	return md <= 1e-4 * mr + 1e-6;
}

/* Random stored matrix of `dtype` with finite values (no e4m3 NaN bytes). */
struct test_mat {
	struct kern_mat m;
	void *data;
	float *scale;
};

static void test_mat_make(struct test_mat *t, enum kern_dtype dt, size_t total_rows, size_t cols)
{
	size_t n = total_rows * cols;
	memset(t, 0, sizeof *t);
	t->data = malloc(n * kern_dtype_size(dt) + 1);
	for (size_t i = 0; i < n; i++) {
		switch (dt) {
		case KD_F32: ((float *)t->data)[i] = rnd_f(-1, 1); break;
		case KD_BF16: ((uint16_t *)t->data)[i] = kern_f32_to_bf16(rnd_f(-1, 1)); break;
		case KD_F16: {
			/* exponents 0..20 cover subnormals and values up to ~64 */
			uint16_t h = (uint16_t)((rnd_u32() & 0x8000) | ((rnd_u32() % 21) << 10) |
						(rnd_u32() & 0x3ff));
			((uint16_t *)t->data)[i] = h;
			break;
		}
		case KD_F8_E4M3: {
			uint8_t b;
			do
				b = (uint8_t)rnd_u32();
			while ((b & 0x7f) == 0x7f);
			((uint8_t *)t->data)[i] = b;
			break;
		}
		}
	}
	t->m.dtype = dt;
	t->m.data = t->data;
	t->m.rows = total_rows;
	t->m.cols = cols;
	if (dt == KD_F8_E4M3) {
		size_t sr = (total_rows + 127) / 128, sc = (cols + 127) / 128;
		t->scale = falloc(sr * sc);
		fill(t->scale, sr * sc, 0.001f, 0.05f);
		t->m.scale = t->scale;
	}
}

static void test_mat_free(struct test_mat *t)
{
	free(t->data);
	free(t->scale);
}

static const char *const fast_names[] = {"scalar", "avx2", "avx512"};
#define NFAST (sizeof fast_names / sizeof *fast_names)
static const enum kern_dtype all_dtypes[] = {KD_F32, KD_BF16, KD_F16, KD_F8_E4M3};

static struct kern_pool *pool3;

/* ---- conversions ------------------------------------------------------------- */

static void test_f8_known_values(void)
{
	CHECK(kern_f8e4m3_to_f32(0x7e) == 448.0f, "0x7e = %g", kern_f8e4m3_to_f32(0x7e));
	CHECK(kern_f8e4m3_to_f32(0xfe) == -448.0f, "0xfe = %g", kern_f8e4m3_to_f32(0xfe));
	CHECK(kern_f8e4m3_to_f32(0x01) == ldexpf(1, -9), "0x01 = %g", kern_f8e4m3_to_f32(0x01));
	CHECK(kern_f8e4m3_to_f32(0x07) == 7 * ldexpf(1, -9), "0x07 = %g", kern_f8e4m3_to_f32(0x07));
	CHECK(kern_f8e4m3_to_f32(0x08) == ldexpf(1, -6), "0x08 = %g", kern_f8e4m3_to_f32(0x08));
	CHECK(kern_f8e4m3_to_f32(0x09) == 1.125f * ldexpf(1, -6), "0x09 = %g",
	      kern_f8e4m3_to_f32(0x09));
	CHECK(kern_f8e4m3_to_f32(0x38) == 1.0f, "0x38 = %g", kern_f8e4m3_to_f32(0x38));
	CHECK(kern_f8e4m3_to_f32(0xb8) == -1.0f, "0xb8 = %g", kern_f8e4m3_to_f32(0xb8));
	CHECK(kern_f8e4m3_to_f32(0x3c) == 1.5f, "0x3c = %g", kern_f8e4m3_to_f32(0x3c));
	CHECK(kern_f8e4m3_to_f32(0x00) == 0.0f && !signbit(kern_f8e4m3_to_f32(0x00)), "0x00");
	CHECK(kern_f8e4m3_to_f32(0x80) == 0.0f && signbit(kern_f8e4m3_to_f32(0x80)), "0x80 = -0");
	CHECK(isnan(kern_f8e4m3_to_f32(0x7f)), "0x7f is NaN");
	CHECK(isnan(kern_f8e4m3_to_f32(0xff)), "0xff is NaN");
	const float *tab = kern_f8e4m3_table();
	int tab_bad = 0;
	for (int b = 0; b < 256; b++) {
		float f = kern_f8e4m3_to_f32((uint8_t)b);
		if (isnan(f) ? !isnan(tab[b]) : f32_bits(f) != f32_bits(tab[b]))
			tab_bad++;
	}
	CHECK(tab_bad == 0, "%d table entries differ from kern_f8e4m3_to_f32", tab_bad);
	/* 0x78..0x7e are finite (no infinities in e4m3fn), and positives increase strictly */
	for (int b = 1; b <= 0x7e; b++)
		CHECK(kern_f8e4m3_to_f32((uint8_t)b) > kern_f8e4m3_to_f32((uint8_t)(b - 1)),
		      "not increasing at 0x%02x", b);
	for (int b = 0; b < 0x7f; b++)
		CHECK(kern_f8e4m3_to_f32((uint8_t)(b | 0x80)) == -kern_f8e4m3_to_f32((uint8_t)b),
		      "sign of 0x%02x", b | 0x80);
}

static void test_bf16(void)
{
	CHECK(kern_bf16_to_f32(0x3f80) == 1.0f, "0x3f80");
	CHECK(kern_bf16_to_f32(0xc000) == -2.0f, "0xc000");
	CHECK(isinf(kern_bf16_to_f32(0x7f80)) && kern_bf16_to_f32(0x7f80) > 0, "+inf");
	CHECK(isinf(kern_bf16_to_f32(0xff80)) && kern_bf16_to_f32(0xff80) < 0, "-inf");
	CHECK(isnan(kern_bf16_to_f32(0x7fc0)), "NaN");
	CHECK(kern_bf16_to_f32(0x0001) == ldexpf(1, -133), "smallest subnormal");
	CHECK(kern_f32_to_bf16(1.0f) == 0x3f80, "1.0");
	uint32_t tie_even = 0x3f808000u, tie_odd = 0x3f818000u, above = 0x3f808001u;
	float f;
	memcpy(&f, &tie_even, 4);
	CHECK(kern_f32_to_bf16(f) == 0x3f80, "tie rounds to even (down): %04x", kern_f32_to_bf16(f));
	memcpy(&f, &tie_odd, 4);
	CHECK(kern_f32_to_bf16(f) == 0x3f82, "tie rounds to even (up): %04x", kern_f32_to_bf16(f));
	memcpy(&f, &above, 4);
	CHECK(kern_f32_to_bf16(f) == 0x3f81, "above tie rounds up: %04x", kern_f32_to_bf16(f));
	CHECK(kern_f32_to_bf16(INFINITY) == 0x7f80, "inf");
	CHECK(kern_f32_to_bf16(3.4e38f) == 0x7f80, "FLT_MAX-ish rounds to inf");
	CHECK(isnan(kern_bf16_to_f32(kern_f32_to_bf16(NAN))), "NaN stays NaN");
	int bad = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		if ((h & 0x7fff) > 0x7f80)
			continue;
		if (kern_f32_to_bf16(kern_bf16_to_f32((uint16_t)h)) != h)
			bad++;
	}
	CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
}

/* Cache rows: sizes, and what each type keeps of a row. */
static void test_kv_rows(void)
{
	CHECK(kern_kv_row_bytes(KD_F32, 576) == 2304 && kern_kv_row_bytes(KD_BF16, 576) == 1152 &&
		      kern_kv_row_bytes(KD_F8_E4M3, 576) == 580 &&
		      kern_kv_row_bytes(KD_F8_E4M3, 7) == 12,
	      "row sizes");
	enum { W = 83 };
	float src[W];
	uint8_t row[4 * W];
	fill(src, W, -3, 3);
	src[5] = -7.5f; /* the amax, negative */
	kern_kv_row_put(row, src, W, KD_F32);
	CHECK(!memcmp(row, src, sizeof src), "F32 row is not the values");
	kern_kv_row_put(row, src, W, KD_BF16);
	int bad = 0;
	for (size_t k = 0; k < W; k++)
		bad += ((uint16_t *)row)[k] != kern_f32_to_bf16(src[k]);
	CHECK(bad == 0, "%d BF16 values differ from kern_f32_to_bf16", bad);
	memset(row, 0xaa, sizeof row);
	kern_kv_row_put(row, src, W, KD_F8_E4M3);
	float scale;
	memcpy(&scale, row, sizeof scale);
	CHECK(scale == 7.5f / 448, "FP8 row scale %g", scale);
	CHECK(row[4 + 5] == 0xfe, "the amax is not -448 in the row: %02x", row[4 + 5]);
	double worst = 0;
	for (size_t k = 0; k < W; k++) {
		double d = fabs(kern_f8e4m3_to_f32(row[4 + k]) * scale - src[k]);
		worst = d > worst ? d : worst;
	}
	/* e4m3 keeps 3 mantissa bits: half a step is at most 1/16 of the value, or of the
	   subnormal step 2^-9 * scale */
	CHECK(worst <= 7.5 / 16, "FP8 row error %g", worst);
	CHECK(row[4 + W] == 0, "FP8 padding not cleared");
	float zero[W] = {0};
	kern_kv_row_put(row, zero, W, KD_F8_E4M3);
	memcpy(&scale, row, sizeof scale);
	CHECK(scale == 0 && row[4] == 0 && row[4 + W - 1] == 0, "an all-zero FP8 row");
	src[9] = NAN;
	kern_kv_row_put(row, src, W, KD_F8_E4M3);
	memcpy(&scale, row, sizeof scale);
	CHECK(isnan(scale), "a NaN value does not make the FP8 row NaN");
}

static void test_f16(void)
{
	CHECK(kern_f16_to_f32(0x3c00) == 1.0f, "0x3c00");
	CHECK(kern_f16_to_f32(0xc000) == -2.0f, "0xc000");
	CHECK(kern_f16_to_f32(0x7bff) == 65504.0f, "max");
	CHECK(kern_f16_to_f32(0x0001) == ldexpf(1, -24), "smallest subnormal");
	CHECK(kern_f16_to_f32(0x03ff) == 1023 * ldexpf(1, -24), "largest subnormal");
	CHECK(kern_f16_to_f32(0x0400) == ldexpf(1, -14), "smallest normal");
	CHECK(kern_f16_to_f32(0x8001) == -ldexpf(1, -24), "negative subnormal");
	CHECK(kern_f16_to_f32(0x8000) == 0 && signbit(kern_f16_to_f32(0x8000)), "-0");
	CHECK(isinf(kern_f16_to_f32(0x7c00)) && kern_f16_to_f32(0x7c00) > 0, "+inf");
	CHECK(isinf(kern_f16_to_f32(0xfc00)) && kern_f16_to_f32(0xfc00) < 0, "-inf");
	CHECK(isnan(kern_f16_to_f32(0x7e00)) && isnan(kern_f16_to_f32(0x7c01)), "NaN");
	CHECK(kern_f16_to_f32(0x3555) == 0x155 / 1024.0f * 0.25f + 0.25f, "0x3555");
}

static void test_dtype_helpers(void)
{
	CHECK(kern_dtype_size(KD_F32) == 4 && kern_dtype_size(KD_BF16) == 2 &&
		      kern_dtype_size(KD_F16) == 2 && kern_dtype_size(KD_F8_E4M3) == 1,
	      "sizes");
	CHECK(kern_dtype_size((enum kern_dtype)99) == 0, "unknown size");
	CHECK(strcmp(kern_dtype_name(KD_F8_E4M3), "F8_E4M3") == 0, "name");
	struct kern_mat m = {.dtype = KD_F32, .row0 = 5, .rows = 100, .cols = 3};
	struct kern_mat v = kern_mat_rows(&m, 10, 20);
	CHECK(v.row0 == 15 && v.rows == 20 && v.cols == 3 && v.dtype == KD_F32, "view of a view");
}

/* ---- reference against a hand-dequantized matrix ---------------------------- */

/*
 * 130 rows x 130 cols of e4m3 1.0 (0x38) except a few cells, scales chosen per block:
 * the view rows 127..129 straddle row block 0/1 and every row straddles column blocks.
 */
static void check_hand_fp8(const struct kern_ops *ops, struct kern_pool *p)
{
	static uint8_t q[130 * 130];
	memset(q, 0x38, sizeof q);
	q[127 * 130 + 0] = 0xb8;   /* -1 */
	q[128 * 130 + 129] = 0x40; /* 2 */
	q[129 * 130 + 5] = 0x30;   /* 0.5 */
	q[129 * 130 + 128] = 0x01; /* 2^-9 */
	const float scale[4] = {0.5f, 4.0f, 3.0f, 0.25f}; /* [row block][col block] */
	struct kern_mat w = {.dtype = KD_F8_E4M3, .data = q, .scale = scale, .rows = 130,
			     .cols = 130};
	struct kern_mat v = kern_mat_rows(&w, 127, 3);
	float x[2 * 130];
	for (int c = 0; c < 130; c++) {
		x[c] = (float)(c % 7) - 3.0f;
		x[130 + c] = 0.01f * (float)c;
	}
	double want[2][3];
	for (int i = 0; i < 2; i++) {
		const float *xi = x + 130 * i;
		double lo = 0, hi = xi[128] + xi[129];
		for (int c = 0; c < 128; c++)
			lo += xi[c];
		/* row 127: block row 0 (0.5, 4); cell (127,0) is -1 instead of 1 */
		want[i][0] = 0.5 * (lo - 2 * xi[0]) + 4.0 * hi;
		/* row 128: block row 1 (3, 0.25); cell (128,129) is 2 */
		want[i][1] = 3.0 * lo + 0.25 * (xi[128] + 2 * xi[129]);
		/* row 129: cell 5 is 0.5, cell 128 is 2^-9 */
		want[i][2] = 3.0 * (lo - 0.5 * xi[5]) + 0.25 * (xi[128] / 512.0 + xi[129]);
	}
	float y[6];
	ops->linear(p, y, x, 2, &v);
	for (int i = 0; i < 2; i++)
		for (int r = 0; r < 3; r++)
			CHECK(fabs(y[i * 3 + r] - want[i][r]) <= 1e-5 * (1 + fabs(want[i][r])),
			      "%s: y[%d][%d] = %.7g, want %.7g", ops->name, i, r, y[i * 3 + r],
			      want[i][r]);
	/* row(): row 129 of the matrix (view row 2) */
	float out[130];
	ops->row(out, &v, 2);
	CHECK(out[5] == 1.5f && out[128] == 0.25f / 512 && out[0] == 3.0f && out[129] == 0.25f,
	      "%s: row() gave %g %g %g %g", ops->name, out[5], out[128], out[0], out[129]);
	/* linear_t over the same view: y[c] = sum_r x[r] w[r][c] */
	float xt[3] = {1.0f, -2.0f, 0.5f}, yt[130];
	ops->linear_t(p, yt, xt, 1, &v);
	double w0 = 1.0 * 0.5 * -1 - 2.0 * 3.0 + 0.5 * 3.0;
	double w129 = 1.0 * 4.0 - 2.0 * 0.25 * 2 + 0.5 * 0.25;
	double w5 = 1.0 * 0.5 - 2.0 * 3.0 + 0.5 * 3.0 * 0.5;
	CHECK(fabs(yt[0] - w0) < 1e-5 && fabs(yt[129] - w129) < 1e-5 && fabs(yt[5] - w5) < 1e-5,
	      "%s: linear_t gave %g %g %g, want %g %g %g", ops->name, yt[0], yt[129], yt[5], w0,
	      w129, w5);
}

static void test_reference_by_hand(void)
{
	check_hand_fp8(kern_cpu_reference(), NULL);
	/* BF16/F16/F32 2x3: exact small values */
	const float wf[6] = {1, -2, 0.5f, 3, 0.25f, -1};
	uint16_t wb[6], wh[6];
	for (int k = 0; k < 6; k++) {
		wb[k] = kern_f32_to_bf16(wf[k]);
		wh[k] = 0;
	}
	/* f16 bit patterns of the same values, written out */
	const uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x4200, 0x3400, 0xbc00};
	memcpy(wh, h, sizeof h);
	const float x[3] = {2, 3, -4};
	const double want[2] = {2 - 6 - 2, 6 + 0.75 + 4};
	const void *datas[3] = {wf, wb, wh};
	const enum kern_dtype dts[3] = {KD_F32, KD_BF16, KD_F16};
	for (int d = 0; d < 3; d++) {
		struct kern_mat w = {.dtype = dts[d], .data = datas[d], .rows = 2, .cols = 3};
		float y[2];
		kern_cpu_reference()->linear(NULL, y, x, 1, &w);
		CHECK(y[0] == want[0] && y[1] == want[1], "%s: %g %g", kern_dtype_name(dts[d]), y[0],
		      y[1]);
	}
}

static void test_fast_by_hand(void)
{
	int any = 0;
	for (size_t t = 0; t < NFAST; t++) {
		const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
		if (!ops)
			continue;
		any = 1;
		check_hand_fp8(ops, NULL);
		check_hand_fp8(ops, pool3);
	}
	if (!any)
		SKIP("no fast table on this CPU");
}

/* ---- every table against the reference --------------------------------------- */

static int fast_count(void)
{
	int k = 0;
	for (size_t t = 0; t < NFAST; t++)
		k += kern_cpu_by_name(fast_names[t]) != NULL;
	return k;
}

static void test_linear(void)
{
	static const size_t shapes[][2] = {{1, 1},	{7, 7},	    {129, 200}, {200, 129},
					   {257, 300}, {300, 257}, {17, 1},	{3, 1100}};
	static const size_t ns[] = {1, 3, 17};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t d = 0; d < 4; d++)
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			size_t rows = shapes[s][0], cols = shapes[s][1];
			struct test_mat tm;
			test_mat_make(&tm, all_dtypes[d], rows + 140, cols);
			/* a view starting at row 100: crosses the 128-row scale block */
			struct kern_mat v = kern_mat_rows(&tm.m, 100, rows);
			for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
				size_t n = ns[a];
				float *x = falloc(n * cols), *yr = falloc(n * rows), *y = falloc(n * rows);
				fill(x, n * cols, -1, 1);
				ref->linear(NULL, yr, x, n, &v);
				for (size_t t = 0; t < NFAST; t++) {
					const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
					if (!ops)
						continue;
					for (int withpool = 0; withpool < 2; withpool++) {
						double rel;
						memset(y, 0xff, n * rows * sizeof *y);
						ops->linear(withpool ? pool3 : NULL, y, x, n, &v);
						CHECK(close_enough(y, yr, n * rows, &rel),
						      "%s linear %s %zux%zu n=%zu pool=%d: rel %g",
						      ops->name, kern_dtype_name(all_dtypes[d]), rows, cols,
						      n, withpool, rel);
					}
				}
				free(x);
				free(yr);
				free(y);
			}
			test_mat_free(&tm);
		}
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

/* Larger case: crosses the fast kernels' column chunks and n blocks. */
static void test_linear_large(void)
{
	const struct kern_ops *ref = kern_cpu_reference();
	const size_t rows = 37, cols = 2200, n = 70; /* > one 2048-column chunk, > 64 rows */
	for (size_t d = 0; d < 4; d++) {
		struct test_mat tm;
		test_mat_make(&tm, all_dtypes[d], 300, cols);
		struct kern_mat v = kern_mat_rows(&tm.m, 37, rows);
		float *x = falloc(n * cols), *yr = falloc(n * rows), *y = falloc(n * rows);
		fill(x, n * cols, -1, 1);
		ref->linear(NULL, yr, x, n, &v);
		for (size_t t = 0; t < NFAST; t++) {
			const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
			if (!ops)
				continue;
			double rel;
			ops->linear(pool3, y, x, n, &v);
			CHECK(close_enough(y, yr, n * rows, &rel), "%s linear %s large: rel %g",
			      ops->name, kern_dtype_name(all_dtypes[d]), rel);
		}
		free(x);
		free(yr);
		free(y);
		test_mat_free(&tm);
	}
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

/* linear of every table, with no pool and with pool3, against the reference to 1e-4 of
   the largest output (`scale` names the case). */
static void check_linear_rel(const struct kern_mat *v, const float *x, size_t n, float scale)
{
	float *yr = falloc(n * v->rows), *y = falloc(n * v->rows);
	kern_cpu_reference()->linear(NULL, yr, x, n, v);
	for (size_t t = 0; t < NFAST; t++) {
		const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
		if (!ops)
			continue;
		for (int withpool = 0; withpool < 2; withpool++) {
			double rel;
			memset(y, 0xff, n * v->rows * sizeof *y);
			ops->linear(withpool ? pool3 : NULL, y, x, n, v);
			CHECK(close_enough(y, yr, n * v->rows, &rel) && rel <= 1e-4,
			      "%s %s linear %zux%zu n=%zu scale %g pool=%d: rel %g", ops->name,
			      kern_dtype_name(v->dtype), v->rows, v->cols, n, scale, withpool, rel);
		}
	}
	free(yr);
	free(y);
}

/*
 * FP8 at decode sizes (n = 1..3, the direct path). The AVX2 and AVX-512 tables decode 32
 * and 64 bytes at a time there, with x rearranged to match, while n * cols <= 32768: columns around the groups and the 128-column scale blocks
 * (below 32, whole groups short of a block, 128k + 31, 128k + 33), exactly the
 * arranged-input limit (16384 x 2) and past it (11000 x 3, 16384 x 3, 33000); scales
 * tiny, large, and mixed (0 below); inputs of about 1, 1e-10 and 1e20. 9 rows from row
 * 126: two 4-row blocks, the first across the 128-row scale block, and one more.
 */
static void test_linear_fp8_direct(void)
{
	static const size_t cols_list[] = {1, 5, 31, 32, 33, 64, 96, 128, 159, 160, 161, 289,
					   1055, 11000, 16384, 33000};
	static const float scales[] = {1e-6f, 100.0f, 127.9f, 0};
	static const float mixed[] = {1e-6f, 0.003f, 100.0f, 127.9f, 0.5f};
	for (size_t k = 0; k < sizeof cols_list / sizeof *cols_list; k++) {
		size_t cols = cols_list[k], nsc = 2 * ((cols + 127) / 128);
		struct test_mat tm;
		test_mat_make(&tm, KD_F8_E4M3, 135, cols);
		struct kern_mat v = kern_mat_rows(&tm.m, 126, 9);
		float *x = falloc(3 * cols);
		fill(x, 3 * cols, -1, 1);
		for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
			for (size_t b = 0; b < nsc; b++)
				tm.scale[b] = scales[s] ? scales[s] : mixed[b % 5];
			for (size_t n = 1; n <= 3; n++)
				check_linear_rel(&v, x, n, scales[s]);
		}
		/* Inputs of 1e-10 (mixed scales): the grouped decode's values are tiny, and
		   products with such inputs must not lose precision in f32 subnormals. */
		for (size_t i = 0; i < 3 * cols; i++)
			x[i] *= 1e-10f;
		for (size_t n = 1; n <= 3; n++)
			check_linear_rel(&v, x, n, 0);
		/* and of 1e20 (x·scale past 2^64): the grouped decode scales its input up by
		   2^64, which must not overflow */
		for (size_t i = 0; i < 3 * cols; i++)
			x[i] *= 1e30f;
		for (size_t n = 1; n <= 3; n++)
			check_linear_rel(&v, x, n, 0);
		free(x);
		test_mat_free(&tm);
	}
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

/* One MLP of test_ffn_group: gate and up are views of one stored matrix (rows 100..100+I
   and after, across the 128-row scale block), down a view from row 100. */
struct test_ffn {
	struct test_mat gu, dm;
	struct kern_mat gate, up, down;
};

static void test_ffn_make(struct test_ffn *t, enum kern_dtype dt, size_t dim, size_t inter,
			  size_t out)
{
	test_mat_make(&t->gu, dt, 100 + 2 * inter, dim);
	test_mat_make(&t->dm, dt, 100 + out, inter);
	t->gate = kern_mat_rows(&t->gu.m, 100, inter);
	t->up = kern_mat_rows(&t->gu.m, 100 + inter, inter);
	t->down = kern_mat_rows(&t->dm.m, 100, out);
}

/* A group whose outputs lie back to back in one buffer, a guard value after each. */
struct ffn_bufs {
	struct kern_ffn *f;
	size_t count;
	size_t *yoff;  /* offset of MLP e's output */
	float *yr, *y; /* the reference's outputs, the tested table's */
	float *yc;     /* the tested table's through linear, silu_mul, linear */
};

#define FFN_GUARD 12345.0f

/* ffn_group of ops on pool p against the reference and against the same table's separate
   ops; h working space is the group's own. */
static void check_ffn(const struct kern_ops *ops, struct kern_pool *p, struct ffn_bufs *b)
{
	struct kern_ffn *f = b->f;
	for (size_t e = 0; e < b->count; e++) {
		size_t len = f[e].m * f[e].down->rows, inter = f[e].gate->rows;
		f[e].y = b->y + b->yoff[e];
		memset(f[e].y, 0xff, len * sizeof *f[e].y);
		f[e].y[len] = FFN_GUARD;
		float *g = f[e].h, *u = g + f[e].m * inter, *yc = b->yc + b->yoff[e];
		ops->linear(p, g, f[e].x, f[e].m, f[e].gate);
		ops->linear(p, u, f[e].x, f[e].m, f[e].up);
		ops->silu_mul(g, g, u, f[e].m * inter);
		ops->linear(p, yc, g, f[e].m, f[e].down);
	}
	ops->ffn_group(p, f, b->count);
	int guards = 0;
	for (size_t e = 0; e < b->count; e++) {
		size_t len = f[e].m * f[e].down->rows;
		double rel, relc;
		int ok = close_enough(f[e].y, b->yr + b->yoff[e], len, &rel);
		ok &= close_enough(f[e].y, b->yc + b->yoff[e], len, &relc);
		CHECK(ok, "%s ffn_group of %zu, MLP %zu (%s m=%zu I=%zu %zux%zu) pool=%d: rel %g to "
		      "the reference, %g to the separate ops", ops->name, b->count, e,
		      kern_dtype_name(f[e].gate->dtype), f[e].m, f[e].gate->rows, f[e].gate->cols,
		      f[e].down->rows, p != NULL, rel, relc);
		guards += f[e].y[len] != FFN_GUARD;
	}
	CHECK(guards == 0, "%s ffn_group of %zu, pool=%d: %d outputs written past their end",
	      ops->name, b->count, p != NULL, guards);
}

/*
 * ffn_group of every table, with no pool and a 3-thread pool, against the reference and
 * against linear, silu_mul, linear of the same table: 1, 2, 9 and KERN_FFN_GROUP_MAX MLPs
 * in one call, each with its own m (1..5: the direct and the batched linear paths),
 * intermediate size (1, 3, 37, 130), input and output widths (33, 129, 300, 64), input
 * rows (overlapping slices of one buffer) and weights (mostly FP8 and BF16, some F16 and
 * F32).
 */
static void test_ffn_group(void)
{
	static const size_t counts[] = {1, 2, 9, KERN_FFN_GROUP_MAX};
	static const size_t inters[] = {1, 3, 37, 130}, widths[] = {33, 129, 300, 64};
	static const enum kern_dtype mix[] = {KD_F8_E4M3, KD_BF16, KD_F8_E4M3, KD_BF16,
					      KD_F8_E4M3, KD_F16,  KD_F8_E4M3, KD_F32};
	float *xs = falloc(2000);
	fill(xs, 2000, -1, 1);
	for (size_t k = 0; k < sizeof counts / sizeof *counts; k++) {
		size_t count = counts[k], ylen = 0, hlen = 0;
		struct test_ffn *mlp = malloc(count * sizeof *mlp);
		struct ffn_bufs b = {.f = malloc(count * sizeof *b.f), .count = count,
				     .yoff = malloc(count * sizeof *b.yoff)};
		for (size_t e = 0; e < count; e++) {
			size_t m = 1 + (e + k) % 5, inter = inters[(e + k) % 4];
			size_t dim = widths[e / 2 % 4], out = widths[(e + 1) % 4];
			test_ffn_make(&mlp[e], mix[e % 8], dim, inter, out);
			b.f[e] = (struct kern_ffn){.gate = &mlp[e].gate, .up = &mlp[e].up,
						   .down = &mlp[e].down, .x = xs + e * 37 % 400,
						   .m = m};
			b.yoff[e] = ylen;
			ylen += m * out + 1;
			hlen = hlen > 2 * m * inter ? hlen : 2 * m * inter;
		}
		b.yr = falloc(ylen);
		b.y = falloc(ylen);
		b.yc = falloc(ylen);
		float *h = falloc(count * hlen);
		for (size_t e = 0; e < count; e++) {
			b.f[e].h = h + e * hlen;
			b.f[e].y = b.yr + b.yoff[e];
		}
		kern_cpu_reference()->ffn_group(NULL, b.f, count);
		for (size_t t = 0; t < NFAST; t++) {
			const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
			if (ops) {
				check_ffn(ops, NULL, &b);
				check_ffn(ops, pool3, &b);
			}
		}
		for (size_t e = 0; e < count; e++) {
			test_mat_free(&mlp[e].gu);
			test_mat_free(&mlp[e].dm);
		}
		free(mlp);
		free(b.f);
		free(b.yoff);
		free(b.yr);
		free(b.y);
		free(b.yc);
		free(h);
	}
	for (size_t t = 0; t < NFAST; t++) /* an empty group touches nothing */
		if (kern_cpu_by_name(fast_names[t]))
			kern_cpu_by_name(fast_names[t])->ffn_group(pool3, NULL, 0);
	free(xs);
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

static void test_linear_t(void)
{
	static const size_t shapes[][2] = {{1, 1},     {7, 7},	 {128, 512}, {129, 300},
					   {200, 257}, {3, 129}, {300, 1}};
	static const size_t ns[] = {1, 3, 17};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t d = 0; d < 4; d++)
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			size_t rows = shapes[s][0], cols = shapes[s][1];
			struct test_mat tm;
			test_mat_make(&tm, all_dtypes[d], rows + 130, cols);
			struct kern_mat v = kern_mat_rows(&tm.m, 120, rows);
			for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
				size_t n = ns[a];
				float *x = falloc(n * rows), *yr = falloc(n * cols), *y = falloc(n * cols);
				fill(x, n * rows, -1, 1);
				ref->linear_t(NULL, yr, x, n, &v);
				for (size_t t = 0; t < NFAST; t++) {
					const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
					if (!ops)
						continue;
					for (int withpool = 0; withpool < 2; withpool++) {
						double rel;
						memset(y, 0xff, n * cols * sizeof *y);
						ops->linear_t(withpool ? pool3 : NULL, y, x, n, &v);
						CHECK(close_enough(y, yr, n * cols, &rel),
						      "%s linear_t %s %zux%zu n=%zu pool=%d: rel %g",
						      ops->name, kern_dtype_name(all_dtypes[d]), rows, cols,
						      n, withpool, rel);
					}
				}
				free(x);
				free(yr);
				free(y);
			}
			test_mat_free(&tm);
		}
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

static void test_row(void)
{
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t d = 0; d < 4; d++) {
		struct test_mat tm;
		test_mat_make(&tm, all_dtypes[d], 300, 257);
		struct kern_mat v = kern_mat_rows(&tm.m, 100, 60);
		float yr[257], y[257];
		for (size_t r = 0; r < 60; r += 7) {
			ref->row(yr, &v, r);
			for (size_t t = 0; t < NFAST; t++) {
				const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
				if (!ops)
					continue;
				ops->row(y, &v, r);
				int same = 1;
				for (int c = 0; c < 257; c++)
					same &= f32_bits(y[c]) == f32_bits(yr[c]);
				CHECK(same, "%s row %s r=%zu differs from the reference", ops->name,
				      kern_dtype_name(all_dtypes[d]), r);
			}
		}
		test_mat_free(&tm);
	}
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

/*
 * kern_fp8_find_nan, the load-time half of the FP8 contract (the fast tables decode
 * NaN bytes wrongly and rely on it): finds 0x7f and 0xff wherever they sit (word body,
 * 64-byte group boundaries, tail), finds the first of several, and passes every other
 * byte value, 0x7e / 0xfe / 0x80 included.
 */
static void test_fp8_find_nan(void)
{
	enum { N = 1000 };
	static uint8_t q[N];
	for (int k = 0; k < N; k++)
		q[k] = (uint8_t)(k % 256 == 0x7f || k % 256 == 0xff ? 0x7e : k % 256);
	CHECK(kern_fp8_find_nan(q, N) == N, "a clean buffer has no NaN");
	CHECK(kern_fp8_find_nan(q, 0) == 0, "empty buffer");
	const size_t spots[] = {0, 7, 8, 63, 64, 65, 500, 959, 960, 999};
	for (size_t i = 0; i < sizeof spots / sizeof *spots; i++)
		for (int sign = 0; sign < 2; sign++) {
			uint8_t keep = q[spots[i]];
			q[spots[i]] = sign ? 0xff : 0x7f;
			size_t at = kern_fp8_find_nan(q, N);
			CHECK(at == spots[i], "NaN 0x%02x at %zu found at %zu", q[spots[i]], spots[i],
			      at);
			CHECK(kern_fp8_find_nan(q, spots[i]) == spots[i], "a NaN past the end is "
			      "not seen (n=%zu)", spots[i]);
			q[spots[i]] = keep;
		}
	q[300] = 0xff;
	q[200] = 0x7f;
	CHECK(kern_fp8_find_nan(q, N) == 200, "the first of two NaNs");
	for (int b = 0; b < 256; b++) {
		uint8_t one = (uint8_t)b;
		size_t want = (b & 0x7f) == 0x7f ? 0 : 1;
		CHECK(kern_fp8_find_nan(&one, 1) == want, "byte 0x%02x", b);
	}
}

static void test_rmsnorm(void)
{
	static const size_t dims[] = {1, 7, 129, 7168};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t k = 0; k < 4; k++)
		for (size_t n = 1; n <= 3; n += 2) {
			size_t dim = dims[k];
			float *x = falloc(n * dim), *w = falloc(dim), *yr = falloc(n * dim),
			      *y = falloc(n * dim);
			fill(x, n * dim, -3, 3);
			fill(w, dim, 0.5f, 1.5f);
			ref->rmsnorm(yr, x, w, n, dim, 1e-6f);
			for (size_t t = 0; t < NFAST; t++) {
				const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
				if (!ops)
					continue;
				double rel;
				ops->rmsnorm(y, x, w, n, dim, 1e-6f);
				CHECK(close_enough(y, yr, n * dim, &rel), "%s rmsnorm dim=%zu: rel %g",
				      ops->name, dim, rel);
				memcpy(y, x, n * dim * sizeof *y); /* in place */
				ops->rmsnorm(y, y, w, n, dim, 1e-6f);
				CHECK(close_enough(y, yr, n * dim, &rel),
				      "%s rmsnorm in place dim=%zu: rel %g", ops->name, dim, rel);
			}
			free(x);
			free(w);
			free(yr);
			free(y);
		}
	/* reference itself: constant row c gives c / sqrt(c^2 + eps) * w */
	float x[4] = {2, 2, 2, 2}, w[4] = {1, 2, 3, 4}, y[4];
	ref->rmsnorm(y, x, w, 1, 4, 0.0f);
	CHECK(fabsf(y[0] - 1) < 1e-6f && fabsf(y[3] - 4) < 1e-6f, "reference rmsnorm %g %g", y[0],
	      y[3]);
	if (!fast_count())
		SKIP("no fast table on this CPU");
}

static void test_rope(void)
{
	const size_t n = 3, heads = 2, dim = 64, head_stride = 70, row_stride = 150;
	const struct kern_ops *ref = kern_cpu_reference();
	float *base = falloc(n * row_stride), *cs = falloc(n * dim / 2), *sn = falloc(n * dim / 2);
	float *br = falloc(n * row_stride), *b = falloc(n * row_stride);
	fill(base, n * row_stride, -2, 2);
	for (size_t k = 0; k < n * dim / 2; k++) {
		float a = rnd_f(-3.14f, 3.14f);
		cs[k] = cosf(a);
		sn[k] = sinf(a);
	}
	memcpy(br, base, n * row_stride * sizeof *br);
	ref->rope(br, n, heads, row_stride, head_stride, dim, cs, sn);
	/* the reference rotates pair j of row 1, head 1 as documented; padding untouched */
	float *v0 = base + row_stride + head_stride, *v1 = br + row_stride + head_stride;
	float c = cs[dim / 2 + 3], s = sn[dim / 2 + 3];
	CHECK(fabsf(v1[6] - (v0[6] * c - v0[7] * s)) < 1e-6f &&
		      fabsf(v1[7] - (v0[6] * s + v0[7] * c)) < 1e-6f,
	      "reference rope pair 3");
	CHECK(br[dim] == base[dim] && br[head_stride + dim] == base[head_stride + dim],
	      "rope wrote outside the heads");
	for (size_t t = 0; t < NFAST; t++) {
		const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
		if (!ops)
			continue;
		double rel;
		memcpy(b, base, n * row_stride * sizeof *b);
		ops->rope(b, n, heads, row_stride, head_stride, dim, cs, sn);
		CHECK(close_enough(b, br, n * row_stride, &rel), "%s rope: rel %g", ops->name, rel);
	}
	free(base);
	free(cs);
	free(sn);
	free(br);
	free(b);
}

/* Half-split pairs (x[j], x[j + dim/2]), with a dim whose half is not a whole vector. */
static void test_rope_half(void)
{
	static const size_t dims[] = {64, 128, 22};
	const size_t n = 3, heads = 2, head_stride = 140, row_stride = 290;
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
		size_t dim = dims[di], half = dim / 2;
		float *base = falloc(n * row_stride), *cs = falloc(n * half), *sn = falloc(n * half);
		float *br = falloc(n * row_stride), *b = falloc(n * row_stride);
		fill(base, n * row_stride, -2, 2);
		for (size_t k = 0; k < n * half; k++) {
			float a = rnd_f(-3.14f, 3.14f);
			cs[k] = cosf(a);
			sn[k] = sinf(a);
		}
		memcpy(br, base, n * row_stride * sizeof *br);
		ref->rope_half(br, n, heads, row_stride, head_stride, dim, cs, sn);
		/* HF: x * cos + rotate_half(x) * sin, rotate_half(x) = (-x2, x1) */
		float *v0 = base + row_stride + head_stride, *v1 = br + row_stride + head_stride;
		float c = cs[half + 3], s = sn[half + 3];
		CHECK(fabsf(v1[3] - (v0[3] * c - v0[half + 3] * s)) < 1e-6f &&
			      fabsf(v1[half + 3] - (v0[half + 3] * c + v0[3] * s)) < 1e-6f,
		      "reference rope_half pair 3 (dim %zu)", dim);
		CHECK(br[dim] == base[dim] && br[head_stride + dim] == base[head_stride + dim],
		      "rope_half wrote outside the heads");
		for (size_t t = 0; t < NFAST; t++) {
			const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
			if (!ops)
				continue;
			double rel;
			memcpy(b, base, n * row_stride * sizeof *b);
			ops->rope_half(b, n, heads, row_stride, head_stride, dim, cs, sn);
			CHECK(close_enough(b, br, n * row_stride, &rel), "%s rope_half dim %zu: rel %g",
			      ops->name, dim, rel);
		}
		free(base);
		free(cs);
		free(sn);
		free(br);
		free(b);
	}
}

static void test_softmax_silu(void)
{
	static const size_t ns[] = {1, 7, 129, 1000};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t k = 0; k < 4; k++) {
		size_t n = ns[k];
		float *x = falloc(n), *xr = falloc(n), *y = falloc(n), *g = falloc(n), *u = falloc(n);
		fill(x, n, -30, 90); /* large values: fails without max subtraction */
		fill(g, n, -20, 20);
		fill(u, n, -2, 2);
		memcpy(xr, x, n * sizeof *x);
		ref->softmax(xr, n);
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += xr[i];
		CHECK(fabs(sum - 1) < 1e-5, "reference softmax sums to %g", sum);
		float *sr = falloc(n);
		ref->silu_mul(sr, g, u, n);
		for (size_t t = 0; t < NFAST; t++) {
			const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
			if (!ops)
				continue;
			double rel;
			memcpy(y, x, n * sizeof *y);
			ops->softmax(y, n);
			CHECK(close_enough(y, xr, n, &rel), "%s softmax n=%zu: rel %g", ops->name, n, rel);
			ops->silu_mul(y, g, u, n);
			CHECK(close_enough(y, sr, n, &rel), "%s silu_mul n=%zu: rel %g", ops->name, n, rel);
			memcpy(y, g, n * sizeof *y); /* out aliases gate */
			ops->silu_mul(y, y, u, n);
			CHECK(close_enough(y, sr, n, &rel), "%s silu_mul aliased n=%zu: rel %g", ops->name,
			      n, rel);
		}
		free(x);
		free(xr);
		free(y);
		free(g);
		free(u);
		free(sr);
	}
	float g1 = 1.0f, u1 = 2.0f, o1;
	ref->silu_mul(&o1, &g1, &u1, 1);
	CHECK(fabsf(o1 - 2.0f / (1.0f + expf(-1.0f))) < 1e-6f, "reference silu(1)*2 = %g", o1);
}

static void test_mla_attn(void)
{
	static const size_t cfg[][5] = {
		/* n, heads, lora, rope, pos0 */
		{1, 1, 7, 4, 0},    {1, 3, 64, 9, 5},	{3, 2, 129, 64, 0},
		{17, 3, 33, 8, 100}, {3, 4, 512, 64, 40}, {1, 16, 512, 64, 300},
		{2, 2, 70, 6, 37},
		/* rows wider than one pass of arranged query columns (1024): a partial second
		   pass with vector and scalar tails; a third pass of one column */
		{2, 2, 1100, 64, 9}, {1, 1, 2047, 2, 6},
	};
	static const enum kern_dtype types[] = {KD_F32, KD_BF16, KD_F8_E4M3};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++)
		for (size_t ty = 0; ty < sizeof types / sizeof *types; ty++) {
			enum kern_dtype ct = types[ty];
			size_t n = cfg[k][0], heads = cfg[k][1], lora = cfg[k][2], rope = cfg[k][3],
			       pos0 = cfg[k][4];
			size_t len = pos0 + n, stride = len + 3, cw = lora + rope;
			size_t rb = kern_kv_row_bytes(ct, cw);
			float *ql = falloc(n * heads * lora), *qp = falloc(n * heads * rope);
			float *vals = falloc(len * cw), *outr = falloc(n * heads * lora);
			float *out = falloc(n * heads * lora), *scratch = falloc(3 * stride);
			uint8_t *cache = malloc(len * rb);
			fill(ql, n * heads * lora, -1, 1);
			fill(qp, n * heads * rope, -1, 1);
			/* rows of different magnitudes, so FP8 row scales differ */
			for (size_t t = 0; t < len; t++) {
				float mag = 0.05f + (float)(t % 7);
				fill(vals + t * cw, cw, -mag, mag);
				kern_kv_row_put(cache + t * rb, vals + t * cw, cw, ct);
			}
			struct kern_mla_args a = {
				.out = outr, .q_lat = ql, .q_pe = qp, .cache = cache, .cache_type = ct,
				.n = n, .heads = heads, .lora = lora, .rope = rope, .pos0 = pos0,
				.scale = 1.0f / sqrtf((float)(lora + rope)) * 3, .scratch = scratch,
				.scratch_stride = stride};
			ref->mla_attn(NULL, &a);
			if (k == 0) { /* query 0 at position 0 sees only itself: its own latent */
				double worst = 0;
				for (size_t c = 0; c < lora; c++)
					worst = fmax(worst, fabs(outr[c] - vals[c]));
				/* F32 exact; BF16 half a step of 8 bits; FP8 of 3 bits times amax */
				double bound = ct == KD_F32 ? 1e-6 : ct == KD_BF16 ? 0.05 * 0x1p-8 : 0.05 / 16;
				CHECK(worst <= bound, "reference mla_attn (%s) at position 0 is not the "
				      "cached latent: %g", kern_dtype_name(ct), worst);
			}
			a.out = out;
			for (size_t t = 0; t < NFAST; t++) {
				const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
				if (!ops)
					continue;
				for (int withpool = 0; withpool < 2; withpool++) {
					double rel;
					memset(out, 0xff, n * heads * lora * sizeof *out);
					ops->mla_attn(withpool ? pool3 : NULL, &a);
					CHECK(close_enough(out, outr, n * heads * lora, &rel),
					      "%s mla_attn %s n=%zu heads=%zu lora=%zu rope=%zu pos0=%zu "
					      "pool=%d: rel %g", ops->name, kern_dtype_name(ct), n, heads,
					      lora, rope, pos0, withpool, rel);
				}
			}
			free(ql);
			free(qp);
			free(vals);
			free(cache);
			free(outr);
			free(out);
			free(scratch);
		}
}

/* A cache position: kv_heads key rows, then kv_heads value rows, then `pad` bytes. */
static void test_gqa_attn(void)
{
	static const size_t cfg[][6] = {
		/* n, heads, kv_heads, head_dim, pos0, pad */
		{1, 1, 1, 8, 0, 0},     {1, 4, 2, 32, 5, 0},    {3, 6, 2, 128, 0, 16},
		{17, 4, 1, 64, 100, 0}, {1, 12, 2, 128, 300, 0}, {2, 4, 4, 22, 37, 8},
		{5, 8, 8, 6, 3, 0},     {1, 2, 1, 1030, 9, 0}, /* wider than one query pass */
	};
	static const enum kern_dtype types[] = {KD_F32, KD_BF16, KD_F8_E4M3};
	const struct kern_ops *ref = kern_cpu_reference();
	for (size_t k = 0; k < sizeof cfg / sizeof *cfg; k++)
		for (size_t ty = 0; ty < sizeof types / sizeof *types; ty++) {
			enum kern_dtype ct = types[ty];
			size_t n = cfg[k][0], heads = cfg[k][1], kvh = cfg[k][2], hd = cfg[k][3];
			size_t pos0 = cfg[k][4], len = pos0 + n, stride = len + 3;
			size_t rb = kern_kv_row_bytes(ct, hd), ps = 2 * kvh * rb + cfg[k][5];
			float *q = falloc(n * heads * hd), *vals = falloc(len * 2 * kvh * hd);
			float *outr = falloc(n * heads * hd), *out = falloc(n * heads * hd);
			float *scratch = falloc(3 * stride);
			uint8_t *cache = calloc(len, ps);
			fill(q, n * heads * hd, -1, 1);
			/* rows of different magnitudes, so FP8 row scales differ */
			for (size_t t = 0; t < len; t++)
				for (size_t r = 0; r < 2 * kvh; r++) {
					float mag = 0.05f + (float)((t + 3 * r) % 7);
					float *v = vals + (t * 2 * kvh + r) * hd;
					fill(v, hd, -mag, mag);
					kern_kv_row_put(cache + t * ps + r * rb, v, hd, ct);
				}
			struct kern_gqa_args a = {
				.out = outr, .q = q, .cache = cache, .cache_type = ct, .pos_stride = ps,
				.n = n, .heads = heads, .kv_heads = kvh, .head_dim = hd, .pos0 = pos0,
				.scale = 1.0f / sqrtf((float)hd) * 3, .scratch = scratch,
				.scratch_stride = stride};
			ref->gqa_attn(NULL, &a);
			if (pos0 == 0) { /* query 0 sees only position 0: its kv head's value row */
				double worst = 0;
				size_t group = heads / kvh;
				for (size_t h = 0; h < heads; h++)
					for (size_t c = 0; c < hd; c++)
						worst = fmax(worst, fabs(outr[h * hd + c] -
									 vals[(kvh + h / group) * hd + c]));
				double bound = ct == KD_F32 ? 1e-6 : ct == KD_BF16 ? 7 * 0x1p-8 : 7.05 / 16;
				CHECK(worst <= bound, "reference gqa_attn (%s) at position 0 is not the "
				      "value of its kv head: %g", kern_dtype_name(ct), worst);
			}
			a.out = out;
			for (size_t t = 0; t < NFAST; t++) {
				const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
				if (!ops)
					continue;
				for (int withpool = 0; withpool < 2; withpool++) {
					double rel;
					memset(out, 0xff, n * heads * hd * sizeof *out);
					ops->gqa_attn(withpool ? pool3 : NULL, &a);
					CHECK(close_enough(out, outr, n * heads * hd, &rel),
					      "%s gqa_attn %s n=%zu heads=%zu kv=%zu hd=%zu pos0=%zu pool=%d: "
					      "rel %g", ops->name, kern_dtype_name(ct), n, heads, kvh, hd, pos0,
					      withpool, rel);
				}
			}
			free(q);
			free(vals);
			free(outr);
			free(out);
			free(scratch);
			free(cache);
		}
}

static void test_gather_scatter(void)
{
	const size_t dim = 37, nsrc = 9, m = 5;
	const int32_t rows[5] = {3, 0, 8, 3, 5};
	const float wts[5] = {0.5f, -1, 2, 0.25f, 1};
	float src[9 * 37], dst[5 * 37], acc[9 * 37], accr[9 * 37];
	fill(src, nsrc * dim, -1, 1);
	const struct kern_ops *ref = kern_cpu_reference();
	ref->gather(dst, src, rows, m, dim);
	CHECK(dst[2 * dim + 4] == src[8 * dim + 4] && dst[3 * dim] == src[3 * dim], "ref gather");
	fill(accr, nsrc * dim, -1, 1);
	memcpy(acc, accr, sizeof acc);
	ref->scatter_add(accr, dst, rows, wts, m, dim);
	/* row 3 received 0.5 and 0.25 times its own gathered copy */
	CHECK(fabsf(accr[3 * dim + 1] - (acc[3 * dim + 1] + 0.75f * src[3 * dim + 1])) < 1e-6f,
	      "ref scatter_add duplicates");
	CHECK(accr[dim + 2] == acc[dim + 2], "ref scatter_add touched an unlisted row");
	for (size_t t = 0; t < NFAST; t++) {
		const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
		if (!ops)
			continue;
		float d2[5 * 37], a2[9 * 37];
		double rel;
		ops->gather(d2, src, rows, m, dim);
		CHECK(memcmp(d2, dst, sizeof d2) == 0, "%s gather", ops->name);
		memcpy(a2, acc, sizeof a2);
		ops->scatter_add(a2, dst, rows, wts, m, dim);
		CHECK(close_enough(a2, accr, nsrc * dim, &rel), "%s scatter_add: rel %g", ops->name,
		      rel);
	}
}

static void test_dispatch(void)
{
	const struct kern_ops *best = kern_cpu_best();
	CHECK(best != NULL && best->linear && best->mla_attn, "kern_cpu_best gave an empty table");
	CHECK(kern_cpu_by_name("reference") == kern_cpu_reference(), "reference by name");
	CHECK(kern_cpu_by_name("nonsense") == NULL && kern_cpu_by_name(NULL) == NULL,
	      "unknown names give NULL");
	for (size_t t = 0; t < NFAST; t++) {
		const struct kern_ops *ops = kern_cpu_by_name(fast_names[t]);
		if (ops)
			CHECK(strcmp(ops->name, fast_names[t]) == 0, "table %s is named %s",
			      fast_names[t], ops->name);
	}
	CHECK(kern_cpu_by_name("scalar") != NULL, "the portable table is always available");
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		CHECK(kern_cpu_by_name("avx2") != NULL, "CPU has AVX2 but no avx2 table");
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
		CHECK(kern_cpu_by_name("avx512") != NULL, "CPU has AVX-512 but no avx512 table");
		if (!getenv("PONDER_KERNELS"))
			CHECK(best == kern_cpu_by_name("avx512"), "best is %s, not avx512", best->name);
	}
#endif
	setenv("PONDER_KERNELS", "reference", 1);
	CHECK(kern_cpu_best() == kern_cpu_reference(), "PONDER_KERNELS=reference ignored");
	setenv("PONDER_KERNELS", "scalar", 1);
	CHECK(kern_cpu_best() == kern_cpu_by_name("scalar"), "PONDER_KERNELS=scalar ignored");
	unsetenv("PONDER_KERNELS");
}

int main(void)
{
	pool3 = kern_pool_new(3);
	if (!pool3) {
		fprintf(stderr, "kern_pool_new(3) failed\n");
		return 1;
	}
	RUN(test_f8_known_values);
	RUN(test_bf16);
	RUN(test_f16);
	RUN(test_kv_rows);
	RUN(test_dtype_helpers);
	RUN(test_reference_by_hand);
	RUN(test_fast_by_hand);
	RUN(test_linear);
	RUN(test_linear_large);
	RUN(test_linear_fp8_direct);
	RUN(test_ffn_group);
	RUN(test_linear_t);
	RUN(test_row);
	RUN(test_fp8_find_nan);
	RUN(test_rmsnorm);
	RUN(test_rope);
	RUN(test_softmax_silu);
	RUN(test_mla_attn);
	RUN(test_rope_half);
	RUN(test_gqa_attn);
	RUN(test_gather_scatter);
	RUN(test_dispatch);
	kern_pool_free(pool3);
	return check_finish();
}
