/* gpu_none.c — the device list of a build without CUDA: always empty (see gpu.h). The
   Makefile leaves this file out when it builds kernels/cuda/device.cu instead. */
#include "kernels/gpu.h"

int kern_gpu_list(struct kern_gpu *out, int max)
{
	(void)out;
	(void)max;
	return 0;
}

int kern_gpu_built(int *version)
{
	*version = 0;
	return 0;
}
