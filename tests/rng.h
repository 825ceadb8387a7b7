/*
 * rng.h — the kernel tests' random inputs: xorshift64, fixed seed, so a failure repeats
 * exactly. Header-only (static), one stream per test binary.
 */
#ifndef PONDER_TESTS_RNG_H
#define PONDER_TESTS_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint32_t rnd_u32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Uniform in [lo, hi), 24 bits of resolution. */
static inline float rnd_f(float lo, float hi)
{
	return lo + (hi - lo) * (float)(rnd_u32() & 0xffffff) / (float)0x1000000;
}

#endif
