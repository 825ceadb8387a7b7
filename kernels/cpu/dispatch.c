/*
 * dispatch.c — picks a CPU op table at run time.
 *
 * Each SIMD table lives in its own file compiled for its instruction set, so nothing here
 * may call into it before the CPU (and OS) are known to run those instructions.
 *
 * PONDER_KERNELS=name (reference, scalar, avx2, avx512) overrides the automatic choice of
 * kern_cpu_best; an unknown or unsupported name falls back to the automatic choice with
 * one warning on stderr.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86_TABLES 1
#include <cpuid.h>

/* CPUID.1:ECX bit 29; asked directly because clang's __builtin_cpu_supports lacks "f16c". */
static int has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}

/* __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 registers. */
static int has_avx2(void)
{
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
}

static int has_avx512(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
	       has_avx2();
}
#endif

const struct kern_ops *kern_cpu_reference(void)
{
	return &kern_cpu_ref_ops;
}

const struct kern_ops *kern_cpu_by_name(const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "reference") == 0)
		return &kern_cpu_ref_ops;
	if (strcmp(name, "scalar") == 0)
		return &kern_cpu_scalar_ops;
#ifdef HAVE_X86_TABLES
	if (strcmp(name, "avx2") == 0)
		return has_avx2() ? &kern_cpu_avx2_ops : NULL;
	if (strcmp(name, "avx512") == 0)
		return has_avx512() ? &kern_cpu_avx512_ops : NULL;
#endif
	return NULL;
}

/* The automatic choice: the widest vectors this CPU runs. */
static const struct kern_ops *cpu_auto(void)
{
#ifdef HAVE_X86_TABLES
	if (has_avx512())
		return &kern_cpu_avx512_ops;
	if (has_avx2())
		return &kern_cpu_avx2_ops;
#endif
	return &kern_cpu_scalar_ops;
}

const struct kern_ops *kern_cpu_best(void)
{
	const char *env = getenv("PONDER_KERNELS");
	if (env && *env) {
		const struct kern_ops *o = kern_cpu_by_name(env);
		if (o)
			return o;
		static atomic_int warned;
		if (!atomic_exchange(&warned, 1))
			fprintf(stderr,
				"ponder: PONDER_KERNELS=%s is unknown or not supported by this CPU "
				"(use reference, scalar, avx2 or avx512); choosing automatically\n",
				env);
	}
	return cpu_auto();
}
