/*
 * ops_avx512.c — the AVX-512 (F, BW, VL, DQ) table: the shared loops of ops_tmpl.h over
 * 16-float __m512 vectors. Compiled with the AVX-512 flags (Makefile: *_avx512.c);
 * dispatch.c only hands it out when the CPU reports all four extensions.
 *
 * FP8 as in ops_avx2.c: e4m3 byte -> f16 bits -> vcvtph2ps (values / 256; no NaN bytes,
 * by kern.h's FP8 contract), and the shift-and-mask group decode for few input rows;
 * exp's 2^n uses vscalefps.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/cpu/cpu.h"

typedef __m512 vf;
#define VL 16
#define F8_RAW 256.0f
#define LIN_MR 4
#define LIN_NR 4
#define LT_NT 4

static inline vf v_zero(void) { return _mm512_setzero_ps(); }
static inline vf v_set1(float a) { return _mm512_set1_ps(a); }
static inline vf v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void v_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf v_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* vmaxps/vminps return the second operand when either is NaN */
static inline vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf v_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf v_round(vf a)
{
	return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_ldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }
static inline float v_hsum(vf a)
{
	__m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
static inline float v_hmax(vf a) { return _mm512_reduce_max_ps(a); }
static inline vf v_load_bf16(const uint16_t *p)
{
	__m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
	return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
/* each 32-bit lane holds a pair, the even value in its low half */
static inline void v_load_bf16x2(const uint16_t *p, vf *even, vf *odd)
{
	__m512i w = _mm512_loadu_si512(p);
	*even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
	*odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32((int)0xffff0000u)));
}
static inline void v_zip(vf a, vf b, vf *lo, vf *hi)
{
	/* indices 16 and up pick from b */
	const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
	const __m512i ih =
		_mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
	*lo = _mm512_permutex2var_ps(a, il, b);
	*hi = _mm512_permutex2var_ps(a, ih, b);
}
static inline vf v_load_f16(const uint16_t *p)
{
	return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}
static inline vf v_load_f8(const uint8_t *p)
{
	/* sign-extended byte << 7: sign lands in bit 15 and a copy in bit 14, which the mask
	   clears; exponent and mantissa land in the f16 fields */
	__m256i h = _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)), 7);
	return _mm512_cvtph_ps(_mm256_and_si256(h, _mm256_set1_epi16((short)0xbf80)));
}
static inline void v_load_f8x2(const uint8_t *p, vf *lo, vf *hi)
{
	__m512i h = _mm512_slli_epi16(_mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)p)), 7);
	h = _mm512_and_si512(h, _mm512_set1_epi16((short)0xbf80));
	*lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
	*hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}
/* Decode-time FP8 as ops_avx2.c's v_load_f8g, over 64 bytes: lane j of out[b] is byte
   4j+b times 2^-120, five shifts and four ANDs for four vectors (against five ops a
   vector through vcvtph2ps). */
#define F8_GROUP 64
#define F8G_BIAS_LOG2 (-120)
static inline void v_load_f8g(const uint8_t *p, vf out[4])
{
	const __m512i m = _mm512_set1_epi32((int)0x87f00000u);
	__m512i w = _mm512_loadu_si512(p);
	__m512i hi = _mm512_srai_epi16(w, 4);
	__m512i lo = _mm512_srai_epi16(_mm512_slli_epi16(w, 8), 4);
	out[0] = _mm512_castsi512_ps(_mm512_and_si512(_mm512_slli_epi32(lo, 16), m));
	out[1] = _mm512_castsi512_ps(_mm512_and_si512(_mm512_slli_epi32(hi, 16), m));
	out[2] = _mm512_castsi512_ps(_mm512_and_si512(lo, m));
	out[3] = _mm512_castsi512_ps(_mm512_and_si512(hi, m));
}
#define OPS_TABLE kern_cpu_avx512_ops
#define OPS_NAME "avx512"
#include "kernels/cpu/ops_tmpl.h"
