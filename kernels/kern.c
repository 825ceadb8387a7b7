/*
 * kern.c — dtype helpers, scalar conversions and matrix views shared by every CPU table.
 *
 * The conversions are the definition of each format for the whole project: the SIMD
 * decoders are tested bit-for-bit against them. kern_f8e4m3_to_f32 computes from the bits;
 * the 256-entry table the kernels index is a constant generated from the same definition.
 */
#include "kernels/kern.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

const char *kern_dtype_name(enum kern_dtype t)
{
	switch (t) {
	case KD_F32: return "F32";
	case KD_BF16: return "BF16";
	case KD_F16: return "F16";
	case KD_F8_E4M3: return "F8_E4M3";
	}
	return "unknown";
}

struct kern_mat kern_mat_rows(const struct kern_mat *m, size_t row0, size_t rows)
{
	struct kern_mat v = *m;
	v.row0 = m->row0 + row0;
	v.rows = rows;
	return v;
}

static float bits_to_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

float kern_bf16_to_f32(uint16_t h)
{
	return bits_to_f32((uint32_t)h << 16);
}

float kern_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	if (exp == 0) {
		/* zero or subnormal: mant * 2^-24 is exact in f32 */
		float v = ldexpf((float)mant, -24);
		return sign ? -v : v;
	}
	if (exp == 31) /* inf, or NaN keeping its payload */
		return bits_to_f32(sign | 0x7f800000u | (mant << 13));
	return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

float kern_f8e4m3_to_f32(uint8_t b)
{
	unsigned exp = (b >> 3) & 0xf, mant = b & 7;
	float v;
	if (exp == 15 && mant == 7)
		return (b & 0x80) ? -NAN : NAN; /* e4m3fn has no infinities */
	if (exp == 0)
		v = ldexpf((float)mant, -9); /* subnormal: mant/8 * 2^(1-7) */
	else
		v = ldexpf(1.0f + (float)mant / 8.0f, (int)exp - 7);
	return (b & 0x80) ? -v : v;
}

uint16_t kern_f32_to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: truncate, force quiet so it stays NaN */
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fffu + ((u >> 16) & 1); /* ties go to the even bf16 */
	return (uint16_t)(u >> 16);
}

/* Generated from the definition above (e4m3fn: bias 7, subnormals, 0x7f/0xff NaN);
   test_kernels checks every entry against kern_f8e4m3_to_f32. A constant table needs no
   initialisation, so any thread may read it at any time. */
const float kern_f8e4m3_lut[256] = {
	0.0f, 0x1p-9f, 0x1p-8f, 0x1.8p-8f, 0x1p-7f, 0x1.4p-7f, 0x1.8p-7f, 0x1.cp-7f,
	0x1p-6f, 0x1.2p-6f, 0x1.4p-6f, 0x1.6p-6f, 0x1.8p-6f, 0x1.ap-6f, 0x1.cp-6f, 0x1.ep-6f,
	0x1p-5f, 0x1.2p-5f, 0x1.4p-5f, 0x1.6p-5f, 0x1.8p-5f, 0x1.ap-5f, 0x1.cp-5f, 0x1.ep-5f,
	0x1p-4f, 0x1.2p-4f, 0x1.4p-4f, 0x1.6p-4f, 0x1.8p-4f, 0x1.ap-4f, 0x1.cp-4f, 0x1.ep-4f,
	0x1p-3f, 0x1.2p-3f, 0x1.4p-3f, 0x1.6p-3f, 0x1.8p-3f, 0x1.ap-3f, 0x1.cp-3f, 0x1.ep-3f,
	0x1p-2f, 0x1.2p-2f, 0x1.4p-2f, 0x1.6p-2f, 0x1.8p-2f, 0x1.ap-2f, 0x1.cp-2f, 0x1.ep-2f,
	0x1p-1f, 0x1.2p-1f, 0x1.4p-1f, 0x1.6p-1f, 0x1.8p-1f, 0x1.ap-1f, 0x1.cp-1f, 0x1.ep-1f,
	0x1p+0f, 0x1.2p+0f, 0x1.4p+0f, 0x1.6p+0f, 0x1.8p+0f, 0x1.ap+0f, 0x1.cp+0f, 0x1.ep+0f,
	0x1p+1f, 0x1.2p+1f, 0x1.4p+1f, 0x1.6p+1f, 0x1.8p+1f, 0x1.ap+1f, 0x1.cp+1f, 0x1.ep+1f,
	0x1p+2f, 0x1.2p+2f, 0x1.4p+2f, 0x1.6p+2f, 0x1.8p+2f, 0x1.ap+2f, 0x1.cp+2f, 0x1.ep+2f,
	0x1p+3f, 0x1.2p+3f, 0x1.4p+3f, 0x1.6p+3f, 0x1.8p+3f, 0x1.ap+3f, 0x1.cp+3f, 0x1.ep+3f,
	0x1p+4f, 0x1.2p+4f, 0x1.4p+4f, 0x1.6p+4f, 0x1.8p+4f, 0x1.ap+4f, 0x1.cp+4f, 0x1.ep+4f,
	0x1p+5f, 0x1.2p+5f, 0x1.4p+5f, 0x1.6p+5f, 0x1.8p+5f, 0x1.ap+5f, 0x1.cp+5f, 0x1.ep+5f,
	0x1p+6f, 0x1.2p+6f, 0x1.4p+6f, 0x1.6p+6f, 0x1.8p+6f, 0x1.ap+6f, 0x1.cp+6f, 0x1.ep+6f,
	0x1p+7f, 0x1.2p+7f, 0x1.4p+7f, 0x1.6p+7f, 0x1.8p+7f, 0x1.ap+7f, 0x1.cp+7f, 0x1.ep+7f,
	0x1p+8f, 0x1.2p+8f, 0x1.4p+8f, 0x1.6p+8f, 0x1.8p+8f, 0x1.ap+8f, 0x1.cp+8f, NAN,
	-0.0f, -0x1p-9f, -0x1p-8f, -0x1.8p-8f, -0x1p-7f, -0x1.4p-7f, -0x1.8p-7f, -0x1.cp-7f,
	-0x1p-6f, -0x1.2p-6f, -0x1.4p-6f, -0x1.6p-6f, -0x1.8p-6f, -0x1.ap-6f, -0x1.cp-6f, -0x1.ep-6f,
	-0x1p-5f, -0x1.2p-5f, -0x1.4p-5f, -0x1.6p-5f, -0x1.8p-5f, -0x1.ap-5f, -0x1.cp-5f, -0x1.ep-5f,
	-0x1p-4f, -0x1.2p-4f, -0x1.4p-4f, -0x1.6p-4f, -0x1.8p-4f, -0x1.ap-4f, -0x1.cp-4f, -0x1.ep-4f,
	-0x1p-3f, -0x1.2p-3f, -0x1.4p-3f, -0x1.6p-3f, -0x1.8p-3f, -0x1.ap-3f, -0x1.cp-3f, -0x1.ep-3f,
	-0x1p-2f, -0x1.2p-2f, -0x1.4p-2f, -0x1.6p-2f, -0x1.8p-2f, -0x1.ap-2f, -0x1.cp-2f, -0x1.ep-2f,
	-0x1p-1f, -0x1.2p-1f, -0x1.4p-1f, -0x1.6p-1f, -0x1.8p-1f, -0x1.ap-1f, -0x1.cp-1f, -0x1.ep-1f,
	-0x1p+0f, -0x1.2p+0f, -0x1.4p+0f, -0x1.6p+0f, -0x1.8p+0f, -0x1.ap+0f, -0x1.cp+0f, -0x1.ep+0f,
	-0x1p+1f, -0x1.2p+1f, -0x1.4p+1f, -0x1.6p+1f, -0x1.8p+1f, -0x1.ap+1f, -0x1.cp+1f, -0x1.ep+1f,
	-0x1p+2f, -0x1.2p+2f, -0x1.4p+2f, -0x1.6p+2f, -0x1.8p+2f, -0x1.ap+2f, -0x1.cp+2f, -0x1.ep+2f,
	-0x1p+3f, -0x1.2p+3f, -0x1.4p+3f, -0x1.6p+3f, -0x1.8p+3f, -0x1.ap+3f, -0x1.cp+3f, -0x1.ep+3f,
	-0x1p+4f, -0x1.2p+4f, -0x1.4p+4f, -0x1.6p+4f, -0x1.8p+4f, -0x1.ap+4f, -0x1.cp+4f, -0x1.ep+4f,
	-0x1p+5f, -0x1.2p+5f, -0x1.4p+5f, -0x1.6p+5f, -0x1.8p+5f, -0x1.ap+5f, -0x1.cp+5f, -0x1.ep+5f,
	-0x1p+6f, -0x1.2p+6f, -0x1.4p+6f, -0x1.6p+6f, -0x1.8p+6f, -0x1.ap+6f, -0x1.cp+6f, -0x1.ep+6f,
	-0x1p+7f, -0x1.2p+7f, -0x1.4p+7f, -0x1.6p+7f, -0x1.8p+7f, -0x1.ap+7f, -0x1.cp+7f, -0x1.ep+7f,
	-0x1p+8f, -0x1.2p+8f, -0x1.4p+8f, -0x1.6p+8f, -0x1.8p+8f, -0x1.ap+8f, -0x1.cp+8f, -NAN,
};

const float *kern_f8e4m3_table(void)
{
	return kern_f8e4m3_lut;
}

size_t kern_fp8_find_nan(const uint8_t *p, size_t n)
{
	/* Eight bytes at a time: with the sign bits set, a NaN byte is 0xff, so the
	   complement has a zero byte there (the classic has-zero-byte test). */
	const uint64_t lo = 0x0101010101010101u, hi = 0x8080808080808080u;
	size_t i = 0;
	for (; i + 64 <= n; i += 64) {
		uint64_t any = 0;
		for (int k = 0; k < 8; k++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * k, 8);
			uint64_t z = ~(w | hi);
			any |= (z - lo) & ~z & hi;
		}
		if (any)
			break;
	}
	for (; i < n; i++)
		if ((p[i] & 0x7f) == 0x7f)
			return i;
	return n;
}

uint8_t kern_f32_to_f8e4m3(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	uint8_t sign = (uint8_t)(u >> 24 & 0x80);
	u &= 0x7fffffffu;
	if (u > 0x7f800000u) /* NaN */
		return sign | 0x7f;
	if (u >= 0x43e00000u) /* 448 and above, infinity included: e4m3fn has none */
		return sign | 0x7e;
	if (u < 0x3c800000u) { /* below 2^-6: subnormal steps of 2^-9, rintf ties to even */
		float a;
		memcpy(&a, &u, sizeof a);
		return sign | (uint8_t)rintf(a * 0x1p9f); /* 8 is 0x08, the smallest normal */
	}
	/* Round the f32 mantissa to 3 bits, ties to even (a carry moves into the exponent),
	   then rebias the exponent from 127 to 7; below 448 the result is at most 0x7e. */
	u += 0x7ffffu + (u >> 20 & 1);
	return sign | (uint8_t)((u >> 20) - (120u << 3));
}

size_t kern_kv_row_bytes(enum kern_dtype t, size_t width)
{
	if (t == KD_F8_E4M3)
		return sizeof(float) + (width + 3) / 4 * 4;
	return width * kern_dtype_size(t);
}

void kern_kv_row_put(void *dst, const float *src, size_t width, enum kern_dtype t)
{
	switch (t) {
	case KD_BF16:
		for (size_t k = 0; k < width; k++)
			((uint16_t *)dst)[k] = kern_f32_to_bf16(src[k]);
		return;
	case KD_F8_E4M3: {
		float amax = 0;
		bool nan = false;
		for (size_t k = 0; k < width; k++) {
			nan |= isnan(src[k]);
			amax = fmaxf(amax, fabsf(src[k]));
		}
		/* a NaN scale makes the whole row NaN, as an F32 row would carry it on */
		float scale = nan ? NAN : amax / 448.0f, inv = amax > 0 ? 448.0f / amax : 0;
		uint8_t *b = (uint8_t *)dst + sizeof scale;
		memcpy(dst, &scale, sizeof scale);
		for (size_t k = 0; k < width; k++)
			b[k] = kern_f32_to_f8e4m3(src[k] * inv);
		for (size_t k = width; k % 4; k++)
			b[k] = 0;
		return;
	}
	default:
		memcpy(dst, src, width * sizeof *src);
		return;
	}
}
