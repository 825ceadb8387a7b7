/*
 * test_kern_quant.c — FP8 e4m3 encoding (kern_f32_to_f8e4m3) and block re-quantisation
 * (kern_quantize_fp8).
 *
 * The encoder is checked on every byte, on every midpoint between neighbours, on the
 * saturation, NaN and subnormal edges, and against a plain nearest-value search over the
 * e4m3 values (written here from the format's definition) on random floats. The
 * re-quantiser is checked block by block against the rule (scale = amax / 448, the amax
 * on ±448, every value within e4m3's rounding) for each source dtype, odd shapes, views
 * that cross the source's scale blocks, with and without a pool; and on sources the caller
 * must refuse (NaN, infinity, values too large) or that sit at the float range's edge.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "kernels/kern.h"
#include "kernels/pool.h"
#include "tests/check.h"
#include "tests/rng.h"

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static struct kern_pool *pool3;

/* ---- kern_f32_to_f8e4m3 --------------------------------------------------------- */

/* Value of the non-negative e4m3fn code b <= 0x7e, from the format's definition: bias 7,
   3 mantissa bits, exponent field 0 subnormal. */
static double e4m3_value(int b)
{
	int exp = b >> 3, mant = b & 7;
	return exp ? ldexp(1 + mant / 8.0, exp - 7) : ldexp(mant, -9);
}

/* The nearest finite e4m3 value to f, ties to the even code; NaN to NaN. Beyond 448 the
   nearest is 448 itself, which is the saturation. */
static uint8_t e4m3_nearest(float f)
{
	uint8_t sign = signbit(f) ? 0x80 : 0;
	if (isnan(f))
		return sign | 0x7f;
	double a = fabs((double)f), best_d = a;
	int best = 0;
	for (int b = 1; b <= 0x7e; b++) {
		double d = fabs(e4m3_value(b) - a);
		if (d < best_d || (d == best_d && !(b & 1))) {
			best_d = d;
			best = b;
		}
	}
	return sign | (uint8_t)best;
}

/* Every byte but the two NaNs round-trips bit for bit, ±0 included. */
static void test_f8_encode_roundtrip(void)
{
	int bad = 0;
	for (int b = 0; b < 256; b++) {
		if ((b & 0x7f) == 0x7f)
			continue;
		if (kern_f32_to_f8e4m3(kern_f8e4m3_to_f32((uint8_t)b)) != b)
			bad++;
		if (kern_f8e4m3_to_f32((uint8_t)b) != (b & 0x80 ? -1 : 1) * e4m3_value(b & 0x7f))
			bad++;
	}
	CHECK(bad == 0, "%d e4m3 bytes do not round-trip or differ from the definition", bad);
	CHECK(kern_f32_to_f8e4m3(0.0f) == 0x00 && kern_f32_to_f8e4m3(-0.0f) == 0x80, "±0");
}

/* The midpoint between neighbours goes to the even code; one float either side of it to
   the nearer neighbour; the same mirrored for negatives. The last pair (416, 448) ties to
   0x7e; the subnormal/normal edge (7 and 8 * 2^-9) ties to 0x08. */
static void test_f8_encode_ties(void)
{
	int bad = 0;
	for (int b = 0; b < 0x7e; b++) {
		double mid = (e4m3_value(b) + e4m3_value(b + 1)) / 2;
		float m = (float)mid;
		if ((double)m != mid) { /* 4 significant bits: always exact in a float */
			bad++;
			continue;
		}
		int even = b & 1 ? b + 1 : b;
		float below = nextafterf(m, 0), above = nextafterf(m, INFINITY);
		uint8_t got_m = kern_f32_to_f8e4m3(m), got_b = kern_f32_to_f8e4m3(below),
			got_a = kern_f32_to_f8e4m3(above);
		if (got_m != even || got_b != b || got_a != b + 1 ||
		    kern_f32_to_f8e4m3(-m) != (even | 0x80) ||
		    kern_f32_to_f8e4m3(-below) != (b | 0x80) ||
		    kern_f32_to_f8e4m3(-above) != ((b + 1) | 0x80)) {
			fprintf(stderr, "  pair 0x%02x/0x%02x: mid %a -> %02x, below -> %02x, "
				"above -> %02x\n", b, b + 1, mid, got_m, got_b, got_a);
			bad++;
		}
	}
	CHECK(bad == 0, "%d neighbour pairs round wrongly", bad);
	CHECK(kern_f32_to_f8e4m3(432.0f) == 0x7e && kern_f32_to_f8e4m3(7.5f * 0x1p-9f) == 0x08,
	      "named ties: %02x %02x", kern_f32_to_f8e4m3(432.0f),
	      kern_f32_to_f8e4m3(7.5f * 0x1p-9f));
}

/* |x| >= 448 saturates to ±448 (e4m3fn has no infinity); every NaN stays NaN with its
   sign; below half the smallest subnormal is a signed zero. */
static void test_f8_encode_edges(void)
{
	const float big[] = {448.0f, nextafterf(448.0f, 0), 449.0f, 464.0f, 480.0f, 1e30f,
			     FLT_MAX, INFINITY};
	for (size_t i = 0; i < sizeof big / sizeof *big; i++)
		CHECK(kern_f32_to_f8e4m3(big[i]) == 0x7e && kern_f32_to_f8e4m3(-big[i]) == 0xfe,
		      "%g -> %02x, %g -> %02x", big[i], kern_f32_to_f8e4m3(big[i]), -big[i],
		      kern_f32_to_f8e4m3(-big[i]));
	const uint32_t nans[] = {0x7fc00000u, 0x7f800001u, 0x7fffffffu, 0x7fa00000u};
	for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
		float p = bits_f32(nans[i]), n = bits_f32(nans[i] | 0x80000000u);
		CHECK(kern_f32_to_f8e4m3(p) == 0x7f && kern_f32_to_f8e4m3(n) == 0xff,
		      "NaN %08x -> %02x, with sign -> %02x", nans[i], kern_f32_to_f8e4m3(p),
		      kern_f32_to_f8e4m3(n));
	}
	/* subnormal steps of 2^-9 */
	for (int k = 0; k < 8; k++)
		CHECK(kern_f32_to_f8e4m3(k * 0x1p-9f) == k &&
			      kern_f32_to_f8e4m3(-(k * 0x1p-9f)) == (0x80 | k),
		      "%d * 2^-9 -> %02x", k, kern_f32_to_f8e4m3(k * 0x1p-9f));
	const float tiny[] = {0x1p-10f, 0x1.fffffep-11f, 1e-30f, 1e-40f /* f32 subnormal */,
			      FLT_MIN, 0x1p-149f};
	for (size_t i = 0; i < sizeof tiny / sizeof *tiny; i++)
		CHECK(kern_f32_to_f8e4m3(tiny[i]) == 0 && kern_f32_to_f8e4m3(-tiny[i]) == 0x80,
		      "%g -> %02x", tiny[i], kern_f32_to_f8e4m3(tiny[i]));
	CHECK(kern_f32_to_f8e4m3(nextafterf(0x1p-10f, 1)) == 0x01, "just above 2^-10");
	CHECK(kern_f32_to_f8e4m3(0x1p-6f) == 0x08 &&
		      kern_f32_to_f8e4m3(nextafterf(0x1p-6f, 0)) == 0x08,
	      "the smallest normal and the float just below it");
}

/* ~10^6 random floats of either sign, exponents 2^-12..2^10 (zero, subnormals, normals,
   saturation), against the nearest-value search. */
static void test_f8_encode_random(void)
{
	int bad = 0;
	for (int i = 0; i < 1000000; i++) {
		uint32_t exp = 127 - 12 + rnd_u32() % 23;
		float f = bits_f32((rnd_u32() & 0x80000000u) | exp << 23 | (rnd_u32() & 0x7fffff));
		uint8_t got = kern_f32_to_f8e4m3(f), want = e4m3_nearest(f);
		if (got != want && bad++ < 5)
			fprintf(stderr, "  %a -> %02x, nearest %02x\n", f, got, want);
	}
	CHECK(bad == 0, "%d random floats differ from the nearest-value search", bad);
}

/* ---- kern_quantize_fp8 ---------------------------------------------------------- */

/* A source matrix: stored values plus the same as F32 (what the re-quantiser must keep).
   The view starts at stored row 100, so FP8 sources cross their own scale rows. */
#define Q_ROW0 100
struct qsrc {
	struct kern_mat m; /* the view */
	void *data;
	float *scale; /* FP8 only */
	float *want;  /* [rows][cols] of the view as F32 */
};

/* Magnitude of re-quantisation block (band, cb): 2^-6..2^6, so blocks differ. */
static float block_mag(size_t r, size_t c)
{
	return ldexpf(1, (int)((r / 128 * 3 + c / 128 * 5) % 13) - 6);
}

/* Random values of dtype dt, block (0, 1) of the view all zero (when there is one). */
static void qsrc_make(struct qsrc *s, enum kern_dtype dt, size_t rows, size_t cols)
{
	size_t total = Q_ROW0 + rows, sc = (cols + 127) / 128;
	memset(s, 0, sizeof *s);
	s->data = calloc(total * cols, kern_dtype_size(dt));
	s->want = malloc(rows * cols * sizeof *s->want);
	if (dt == KD_F8_E4M3) {
		s->scale = malloc((total + 127) / 128 * sc * sizeof *s->scale);
		for (size_t i = 0; i < (total + 127) / 128 * sc; i++)
			s->scale[i] = ldexpf(rnd_f(1, 2), (int)(rnd_u32() % 14) - 16);
	}
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			size_t i = (Q_ROW0 + r) * cols + c;
			int zero = r < 128 && c >= 128 && c < 256;
			float mag = block_mag(r, c), v = zero ? 0 : rnd_f(-mag, mag);
			switch (dt) {
			case KD_F32: ((float *)s->data)[i] = v; break;
			case KD_BF16: ((uint16_t *)s->data)[i] = kern_f32_to_bf16(v); break;
			case KD_F16: { /* exponents 0..20: subnormals to ~64 */
				uint32_t h = (rnd_u32() & 0x8000) | (rnd_u32() % 21) << 10 |
					     (rnd_u32() & 0x3ff);
				((uint16_t *)s->data)[i] = zero ? 0x8000 : (uint16_t)h;
				break;
			}
			case KD_F8_E4M3: {
				uint8_t b;
				do
					b = (uint8_t)rnd_u32();
				while ((b & 0x7f) == 0x7f);
				((uint8_t *)s->data)[i] = zero ? 0 : b;
				break;
			}
			}
		}
	struct kern_mat all = {dt, s->data, s->scale, 0, total, cols};
	s->m = kern_mat_rows(&all, Q_ROW0, rows);
}

/* Re-reads s->want from the stored data (after a test changes a stored value). */
static void qsrc_decode(struct qsrc *s)
{
	size_t rows = s->m.rows, cols = s->m.cols, sc = (cols + 127) / 128;
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			size_t i = (Q_ROW0 + r) * cols + c;
			float v;
			switch (s->m.dtype) {
			case KD_F32: v = ((float *)s->data)[i]; break;
			case KD_BF16: v = kern_bf16_to_f32(((uint16_t *)s->data)[i]); break;
			case KD_F16: v = kern_f16_to_f32(((uint16_t *)s->data)[i]); break;
			default:
				v = kern_f8e4m3_to_f32(((uint8_t *)s->data)[i]) *
				    s->scale[(Q_ROW0 + r) / 128 * sc + c / 128];
				break;
			}
			s->want[r * cols + c] = v;
		}
}

static void qsrc_free(struct qsrc *s)
{
	free(s->data);
	free(s->scale);
	free(s->want);
}

static size_t nscale(size_t rows, size_t cols)
{
	return (rows + 127) / 128 * ((cols + 127) / 128);
}

/*
 * Block (br, bc) of the result against the rule: its scale is amax / 448 (1 when the
 * block is zero), its amax value is ±448 (0x7e / 0xfe), no byte is NaN, and every value
 * dequantises to within half an e4m3 step: 2^-4 of the value, or half the subnormal step
 * 2^-9 * scale. Returns the failures (the first few are printed).
 */
static int check_block(const struct qsrc *s, const uint8_t *q, const float *scale, size_t br,
		       size_t bc, const char *what)
{
	size_t rows = s->m.rows, cols = s->m.cols, sc = (cols + 127) / 128;
	size_t r1 = br * 128 + 128 < rows ? br * 128 + 128 : rows;
	size_t c1 = bc * 128 + 128 < cols ? bc * 128 + 128 : cols;
	float amax = 0;
	size_t at = 0;
	for (size_t r = br * 128; r < r1; r++)
		for (size_t c = bc * 128; c < c1; c++)
			if (fabsf(s->want[r * cols + c]) > amax) {
				amax = fabsf(s->want[r * cols + c]);
				at = r * cols + c;
			}
	float want_s = amax > 0 ? amax / 448.0f : 1.0f, got_s = scale[br * sc + bc];
	int bad = 0;
	if (got_s != want_s) {
		fprintf(stderr, "  %s block (%zu,%zu): scale %a, want %a\n", what, br, bc, got_s,
			want_s);
		return 1;
	}
	if (amax > 0 && ((q[at] & 0x7f) != 0x7e || !(q[at] & 0x80) != !signbit(s->want[at]))) {
		fprintf(stderr, "  %s block (%zu,%zu): amax %g is byte %02x\n", what, br, bc,
			s->want[at], q[at]);
		bad++;
	}
	for (size_t r = br * 128; r < r1; r++)
		for (size_t c = bc * 128; c < c1; c++) {
			uint8_t b = q[r * cols + c];
			double v = s->want[r * cols + c], d = kern_f8e4m3_to_f32(b) * (double)got_s;
			double bound = fabs(v) * 0x1p-4 * (1 + 1e-6) + got_s * 0x1p-10;
			if (((b & 0x7f) == 0x7f || !(fabs(d - v) <= bound)) && bad++ < 3)
				fprintf(stderr, "  %s (%zu,%zu): %g became %02x = %g\n", what, r, c,
					v, b, d);
		}
	return bad;
}

/* One source of dtype dt, rows x cols, quantised with no pool and with pool3. */
static void check_rule(enum kern_dtype dt, size_t rows, size_t cols)
{
	size_t ns = nscale(rows, cols);
	struct qsrc s;
	qsrc_make(&s, dt, rows, cols);
	qsrc_decode(&s);
	uint8_t *q = malloc(rows * cols), *q3 = malloc(rows * cols);
	float *sc = malloc(ns * sizeof *sc), *sc3 = malloc(ns * sizeof *sc3);
	kern_quantize_fp8(NULL, q, sc, &s.m);
	kern_quantize_fp8(pool3, q3, sc3, &s.m);
	char what[64];
	snprintf(what, sizeof what, "%s %zux%zu", kern_dtype_name(dt), rows, cols);
	int bad = 0;
	for (size_t br = 0; br < (rows + 127) / 128; br++)
		for (size_t bc = 0; bc < (cols + 127) / 128; bc++)
			bad += check_block(&s, q, sc, br, bc, what);
	CHECK(bad == 0, "%s: %d values or scales break the rule", what, bad);
	CHECK(!memcmp(q, q3, rows * cols) && !memcmp(sc, sc3, ns * sizeof *sc),
	      "%s: the pool gave a different result", what);
	free(q);
	free(q3);
	free(sc);
	free(sc3);
	qsrc_free(&s);
}

/* Every source dtype, odd shapes, with and without a pool (the same bytes either way). */
static void test_quantize_rule(void)
{
	static const size_t rows_list[] = {1, 127, 129, 300}, cols_list[] = {1, 130, 257};
	static const enum kern_dtype dts[] = {KD_BF16, KD_F32, KD_F16, KD_F8_E4M3};
	for (size_t d = 0; d < 4; d++)
		for (size_t a = 0; a < 4; a++)
			for (size_t b = 0; b < 3; b++)
				check_rule(dts[d], rows_list[a], cols_list[b]);
}

/* Sets view element (r, c) of s to v (in its dtype; FP8 takes a byte in v's place). */
static void qsrc_set(struct qsrc *s, size_t r, size_t c, float v, uint8_t f8)
{
	size_t i = (Q_ROW0 + r) * s->m.cols + c;
	switch (s->m.dtype) {
	case KD_F32: ((float *)s->data)[i] = v; break;
	case KD_BF16: ((uint16_t *)s->data)[i] = kern_f32_to_bf16(v); break;
	case KD_F16: { /* NaN, infinities, or a normal value with few mantissa bits */
		uint16_t sign = signbit(v) ? 0x8000 : 0;
		int e;
		float m = frexpf(fabsf(v), &e); /* |v| = 2m * 2^(e-1), 2m in [1, 2) */
		((uint16_t *)s->data)[i] =
			isnan(v) ? sign | 0x7e00 : isinf(v) ? sign | 0x7c00
			: (uint16_t)(sign | (e + 14) << 10 | (int)((2 * m - 1) * 1024));
		break;
	}
	default: ((uint8_t *)s->data)[i] = f8; break;
	}
}

/* A 200 x 300 source of dtype dt with v (FP8: byte f8) at view element (r, c) of block
   (1, 1), and 8, larger than the random values, at (128, 200) of the same block. */
static void check_non_finite(enum kern_dtype dt, float v, uint8_t f8, size_t r, size_t c,
			     struct kern_pool *p)
{
	const size_t rows = 200, cols = 300, ns = nscale(rows, cols), sc = 3;
	uint8_t *q = malloc(rows * cols);
	float scale[6];
	struct qsrc s;
	qsrc_make(&s, dt, rows, cols);
	qsrc_set(&s, 128, 200, 8.0f, 0x7e);
	qsrc_set(&s, r, c, v, f8);
	qsrc_decode(&s);
	kern_quantize_fp8(p, q, scale, &s.m);
	float got = scale[1 * sc + 1];
	CHECK(isnan(v) ? isnan(got) : isinf(got) && got > 0,
	      "%s %g at (%zu,%zu) pool=%d: block scale %g", kern_dtype_name(dt), v, r, c, p != NULL,
	      got);
	CHECK(!(got < KERN_FP8_SCALE_MAX), "the caller would accept %g", got);
	int bad = 0;
	for (size_t b = 0; b < ns; b++)
		if (b != 1 * sc + 1)
			bad += check_block(&s, q, scale, b / sc, b % sc, "others");
	CHECK(bad == 0, "%s %g: the other blocks changed", kern_dtype_name(dt), v);
	qsrc_free(&s);
	free(q);
}

/*
 * Sources head_fp8.c must refuse: a NaN (the first, a middle or the last value of its
 * block, before or after the block's largest finite value) gives that block a NaN scale
 * and an infinity an infinite one, both failing its !(scale < KERN_FP8_SCALE_MAX); the
 * other blocks stay as the rule says. FP8 sources have no infinity, and a NaN byte breaks
 * their own contract, but it still must not vanish.
 */
static void test_quantize_non_finite(void)
{
	static const enum kern_dtype dts[] = {KD_BF16, KD_F32, KD_F16, KD_F8_E4M3};
	static const size_t spots[][2] = {{128, 128}, {150, 190}, {199, 255}};
	const float vals[] = {NAN, -NAN, INFINITY, -INFINITY};
	for (size_t d = 0; d < 4; d++)
		for (size_t k = 0; k < 4; k++) {
			if (isinf(vals[k]) && dts[d] == KD_F8_E4M3)
				continue;
			uint8_t f8 = signbit(vals[k]) ? 0xff : 0x7f;
			for (size_t p = 0; p < 6; p++)
				check_non_finite(dts[d], vals[k], f8, spots[p / 2][0], spots[p / 2][1],
						 p & 1 ? pool3 : NULL);
		}
}

/*
 * Finite sources at the float range's edges. A block whose amax / 448 is a float
 * subnormal (amax 1e-37) still puts its amax on 448 and keeps its zeros zero (not NaN,
 * as 0 * (1 / scale) = 0 * inf would); one whose amax / 448 is below every float gets
 * scale 1 and zeros; values of 448 * KERN_FP8_SCALE_MAX and more need a scale the FP8
 * kernels do not take, so the caller's check refuses them.
 */
static void test_quantize_range_edges(void)
{
	const size_t rows = 3, cols = 5;
	float v[15] = {0}, scale;
	uint8_t q[15];
	struct kern_mat m = {KD_F32, v, NULL, 0, rows, cols};
	v[7] = -1e-37f;
	v[8] = 3e-38f;
	kern_quantize_fp8(NULL, q, &scale, &m);
	CHECK(scale == 1e-37f / 448 && scale < FLT_MIN, "subnormal scale %a", scale);
	int nonzero = 0;
	for (int k = 0; k < 15; k++)
		nonzero += k != 7 && k != 8 && (q[k] & 0x7f) != 0;
	CHECK(q[7] == 0xfe && nonzero == 0, "amax byte %02x, %d zeros became non-zero (byte 0: "
	      "%02x)", q[7], nonzero, q[0]);
	CHECK(fabs(kern_f8e4m3_to_f32(q[8]) * (double)scale - 3e-38f) <= 3e-38 / 16,
	      "3e-38 became %02x", q[8]);
	v[7] = 1e-44f;
	v[8] = 0;
	kern_quantize_fp8(NULL, q, &scale, &m);
	CHECK(scale == 1 && q[7] == 0, "amax 1e-44: scale %g, byte %02x", scale, q[7]);
	v[7] = 448 * KERN_FP8_SCALE_MAX;
	kern_quantize_fp8(NULL, q, &scale, &m);
	CHECK(scale == KERN_FP8_SCALE_MAX && !(scale < KERN_FP8_SCALE_MAX) && q[7] == 0x7e,
	      "amax 448 * 2^64: scale %g, byte %02x", scale, q[7]);
	v[7] = 440 * KERN_FP8_SCALE_MAX;
	kern_quantize_fp8(NULL, q, &scale, &m);
	CHECK(scale == 440 * KERN_FP8_SCALE_MAX / 448 && scale < KERN_FP8_SCALE_MAX,
	      "amax 440 * 2^64: scale %g", scale);
}

int main(void)
{
	pool3 = kern_pool_new(3);
	if (!pool3) {
		fprintf(stderr, "kern_pool_new(3) failed\n");
		return 1;
	}
	RUN(test_f8_encode_roundtrip);
	RUN(test_f8_encode_ties);
	RUN(test_f8_encode_edges);
	RUN(test_f8_encode_random);
	RUN(test_quantize_rule);
	RUN(test_quantize_non_finite);
	RUN(test_quantize_range_edges);
	kern_pool_free(pool3);
	return check_finish();
}
