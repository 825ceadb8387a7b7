// device.cu — the CUDA devices present (see kernels/gpu.h).
#include <cuda_runtime.h>
#include <stdio.h>

#include "kernels/gpu.h"

extern "C" int kern_gpu_list(struct kern_gpu *out, int max)
{
	int n = 0;
	// No driver or no device is an error code here, not a failure of ponder.
	if (cudaGetDeviceCount(&n) != cudaSuccess) {
		cudaGetLastError();
		return 0;
	}
	for (int i = 0; i < n && i < max; i++) {
		cudaDeviceProp p;
		if (cudaGetDeviceProperties(&p, i) != cudaSuccess) {
			snprintf(out[i].name, sizeof out[i].name, "device %d (unreadable)", i);
			out[i].mem_bytes = 0;
			out[i].cc_major = out[i].cc_minor = 0;
			continue;
		}
		snprintf(out[i].name, sizeof out[i].name, "%s", p.name);
		out[i].mem_bytes = p.totalGlobalMem;
		out[i].cc_major = p.major;
		out[i].cc_minor = p.minor;
	}
	return n;
}

extern "C" int kern_gpu_built(int *version)
{
	*version = CUDART_VERSION;
	return 1;
}
