/*
 * gpu.h — what the CUDA side of the kernels can see: the devices present.
 *
 * Built with CUDA (PONDER_CUDA, when nvcc was found), this asks the CUDA runtime; a
 * machine without a GPU or driver simply has none. Built without, there are none and
 * kern_gpu_built() says so. The device kernels themselves come behind kern_ops.
 */
#ifndef PONDER_KERN_GPU_H
#define PONDER_KERN_GPU_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kern_gpu {
	char name[128];
	size_t mem_bytes;
	int cc_major, cc_minor; /* compute capability */
};

/* Fills up to max entries; returns how many GPUs there are (0 when none or no driver). */
int kern_gpu_list(struct kern_gpu *out, int max);

/* 1 when this binary was built with CUDA; runtime version in *version (e.g. 13000). */
int kern_gpu_built(int *version);

#ifdef __cplusplus
}
#endif

#endif
