/*
 * ops_avx2.c — the AVX2 + FMA + F16C table: the shared loops of ops_tmpl.h over 8-float
 * __m256 vectors. Compiled with -mavx2 -mfma -mf16c (Makefile: *_avx2.c); dispatch.c
 * only hands it out when __builtin_cpu_supports says the CPU has all three.
 *
 * FP8 decode: an e4m3 byte b becomes the f16 bit pattern (b & 0x80) << 8 | (b & 0x7f) << 7
 * — same exponent field, 8 less in bias — so vcvtph2ps gives b's value / 256 exactly,
 * subnormals included; F8_RAW = 256 is folded into the block scale. e4m3's NaN bytes
 * would come out as 1.875; the engine refuses a checkpoint holding one at load (kern.h).
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/cpu/cpu.h"

typedef __m256 vf;
#define VL 8
#define F8_RAW 256.0f
/* 4x3: 12 accumulators, 3 inputs and the weight vector fill the 16 ymm registers, and a
   step loads 7 vectors for 12 FMAs (4x2 loads 6 for 8 and waits on loads): about 25%
   more GFLOP/s in bench_kernels' prefill rows on Zen 3. */
#define LIN_MR 4
#define LIN_NR 3
#define LT_NT 2

static inline vf v_zero(void) { return _mm256_setzero_ps(); }
static inline vf v_set1(float a) { return _mm256_set1_ps(a); }
static inline vf v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void v_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf v_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
/* maxps/minps return the second operand when either is NaN */
static inline vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf v_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf v_round(vf a)
{
	return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf v_ldexp(vf p, vf n)
{
	__m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n),
						       _mm256_set1_epi32(127)), 23);
	return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
static inline float v_hsum(vf a)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
static inline float v_hmax(vf a)
{
	__m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
	s = _mm_max_ps(s, _mm_movehl_ps(s, s));
	s = _mm_max_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}
static inline vf v_load_bf16(const uint16_t *p)
{
	__m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
	return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
/* each 32-bit lane holds a pair, the even value in its low half */
static inline void v_load_bf16x2(const uint16_t *p, vf *even, vf *odd)
{
	__m256i w = _mm256_loadu_si256((const __m256i *)p);
	*even = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
	*odd = _mm256_castsi256_ps(_mm256_and_si256(w, _mm256_set1_epi32((int)0xffff0000u)));
}
static inline void v_zip(vf a, vf b, vf *lo, vf *hi)
{
	/* unpack interleaves within 128-bit halves: l = a0 b0 a1 b1 | a4 b4 a5 b5 */
	__m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);
	*lo = _mm256_permute2f128_ps(l, h, 0x20);
	*hi = _mm256_permute2f128_ps(l, h, 0x31);
}
static inline vf v_load_f16(const uint16_t *p)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
static inline vf v_load_f8(const uint8_t *p)
{
	/* sign-extended byte << 7: sign lands in bit 15 and a copy in bit 14, which the mask
	   clears; exponent and mantissa land in the f16 fields */
	__m128i h = _mm_slli_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)p)), 7);
	return _mm256_cvtph_ps(_mm_and_si128(h, _mm_set1_epi16((short)0xbf80)));
}
static inline void v_load_f8x2(const uint8_t *p, vf *lo, vf *hi)
{
	__m256i h = _mm256_slli_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)p)), 7);
	h = _mm256_and_si256(h, _mm256_set1_epi16((short)0xbf80));
	*lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
	*hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}
/*
 * Decode-time FP8 (few input rows): 32 bytes at once, straight to f32 bits, no widening
 * and no conversion. An arithmetic >> 4 of each 16-bit lane puts its high byte's sign in
 * bit 15 (copied into bits 11-14) and its exponent and mantissa in bits 4-10; the top
 * half of a 32-bit lane is then the f32 sign, exponent and mantissa fields under the
 * mask 0x87f00000, the bottom half is after a << 16, and a << 8 first does the same for
 * the low bytes. Each value is the byte's * 2^-120 exactly (e4m3 subnormals become f32
 * subnormals): lane j of out[b] is byte 4j+b, five shifts and four ANDs for four
 * vectors, where the widening f16 route takes five ops a vector. f8g_arrange (ops_tmpl.h)
 * scales the input so that the products with these values stay in the normal range.
 */
#define F8_GROUP 32
#define F8G_BIAS_LOG2 (-120) /* v_load_f8g's values are the bytes' * 2^this */
static inline void v_load_f8g(const uint8_t *p, vf out[4])
{
	const __m256i m = _mm256_set1_epi32((int)0x87f00000u);
	__m256i w = _mm256_loadu_si256((const __m256i *)p);
	__m256i hi = _mm256_srai_epi16(w, 4);                        /* bytes 1 and 3 */
	__m256i lo = _mm256_srai_epi16(_mm256_slli_epi16(w, 8), 4);  /* bytes 0 and 2 */
	out[0] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(lo, 16), m));
	out[1] = _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(hi, 16), m));
	out[2] = _mm256_castsi256_ps(_mm256_and_si256(lo, m));
	out[3] = _mm256_castsi256_ps(_mm256_and_si256(hi, m));
}
#define OPS_TABLE kern_cpu_avx2_ops
#define OPS_NAME "avx2"
#include "kernels/cpu/ops_tmpl.h"
