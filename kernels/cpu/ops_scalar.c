/*
 * ops_scalar.c — the portable fast table ("scalar"): the shared loops of ops_tmpl.h over
 * GCC's generic 4-float vectors (the width every 64-bit target has: SSE2, NEON), so it
 * runs, threaded and tiled, on any CPU the compiler targets. The baseline when neither
 * AVX2 nor AVX-512 is present.
 *
 * FP8 is decoded through the 256-entry table (exact, NaN included); F16 with the
 * exponent-rebias trick plus a fix-up for infinities and NaNs.
 */
#include <stdint.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

typedef float vf __attribute__((vector_size(16)));
typedef uint32_t vu __attribute__((vector_size(16)));
typedef int32_t vi __attribute__((vector_size(16)));
typedef uint16_t vh __attribute__((vector_size(8)));
typedef uint16_t vh2 __attribute__((vector_size(16)));
#define VL 4
#define F8_RAW 1.0f
#define LIN_MR 4
#define LIN_NR 2
#define LT_NT 2

static inline vf v_zero(void) { return (vf){0}; }
static inline vf v_set1(float a) { return (vf){a, a, a, a}; }
static inline vf v_load(const float *p)
{
	vf v;
	memcpy(&v, p, sizeof v);
	return v;
}
static inline void v_store(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf v_add(vf a, vf b) { return a + b; }
static inline vf v_sub(vf a, vf b) { return a - b; }
static inline vf v_mul(vf a, vf b) { return a * b; }
static inline vf v_div(vf a, vf b) { return a / b; }
static inline vf v_fma(vf a, vf b, vf c) { return a * b + c; }
static inline vf v_select(vi m, vf a, vf b) /* m ? a : b, per lane */
{
	return (vf)(((vi)a & m) | ((vi)b & ~m));
}
/* a > b is false when either is NaN, so b comes through as the contract asks */
static inline vf v_max(vf a, vf b) { return v_select(a > b, a, b); }
static inline vf v_min(vf a, vf b) { return v_select(a < b, a, b); }
static inline vf v_round(vf a)
{
	/* adding 1.5 * 2^23 pushes the fraction out of the mantissa, rounding to nearest even;
	   exact for |a| < 2^22, which covers the exponents exp() ever sees */
	const vf m = v_set1(12582912.0f);
	return (a + m) - m;
}
static inline vf v_ldexp(vf p, vf n)
{
	vi e = (__builtin_convertvector(n, vi) + 127) << 23;
	return p * (vf)e;
}
static inline float v_hsum(vf a)
{
	return (a[0] + a[1]) + (a[2] + a[3]);
}
static inline float v_hmax(vf a)
{
	float m = a[0];
	for (int i = 1; i < VL; i++)
		m = a[i] > m ? a[i] : m;
	return m;
}
static inline vf v_load_bf16(const uint16_t *p)
{
	vh h;
	memcpy(&h, p, sizeof h);
	return (vf)(__builtin_convertvector(h, vu) << 16);
}
/* shuffles by element index, so the split does not depend on byte order */
static inline void v_load_bf16x2(const uint16_t *p, vf *even, vf *odd)
{
	vh2 h;
	memcpy(&h, p, sizeof h);
	*even = (vf)(__builtin_convertvector(__builtin_shufflevector(h, h, 0, 2, 4, 6), vu) << 16);
	*odd = (vf)(__builtin_convertvector(__builtin_shufflevector(h, h, 1, 3, 5, 7), vu) << 16);
}
static inline void v_zip(vf a, vf b, vf *lo, vf *hi)
{
	*lo = __builtin_shufflevector(a, b, 0, 4, 1, 5);
	*hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
}
static inline vf v_load_f16(const uint16_t *p)
{
	vh h16;
	memcpy(&h16, p, sizeof h16);
	vu h = __builtin_convertvector(h16, vu);
	vu sign = (h & 0x8000) << 16, em = (h & 0x7fff) << 13;
	/* normals and subnormals: rebias by multiplying by 2^(127-15) */
	vf fin = (vf)em * v_set1(0x1p112f);
	/* exponent 31: infinity or NaN, keep the mantissa */
	vi special = (vi)((h & 0x7c00) == 0x7c00);
	vf spec = (vf)(em | 0x7f800000u);
	return (vf)((vu)v_select(special, spec, fin) | sign);
}
static inline vf v_load_f8(const uint8_t *p)
{
	const float *t = kern_f8e4m3_lut;
	return (vf){t[p[0]], t[p[1]], t[p[2]], t[p[3]]};
}
static inline void v_load_f8x2(const uint8_t *p, vf *lo, vf *hi)
{
	*lo = v_load_f8(p);
	*hi = v_load_f8(p + VL);
}

#define OPS_TABLE kern_cpu_scalar_ops
#define OPS_NAME "scalar"
#include "kernels/cpu/ops_tmpl.h"
