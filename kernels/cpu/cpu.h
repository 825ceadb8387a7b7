/*
 * cpu.h — internal to the CPU kernels: the tables each kernels/cpu/ops_*.c file defines,
 * the shared FP8 decode table, and small helpers every CPU table uses.
 *
 * Nothing outside kernels/ includes this; the public entry points are kern_cpu_reference,
 * kern_cpu_best and kern_cpu_by_name in kernels/kern.h (dispatch.c).
 */
#ifndef PONDER_KERN_CPU_H
#define PONDER_KERN_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kern.h"

extern const struct kern_ops kern_cpu_ref_ops;    /* ops_ref.c: plain loops, double sums */
extern const struct kern_ops kern_cpu_scalar_ops; /* ops_scalar.c: portable, threaded, tiled */
extern const struct kern_ops kern_cpu_avx2_ops;   /* ops_avx2.c: AVX2 + FMA + F16C */
extern const struct kern_ops kern_cpu_avx512_ops; /* ops_avx512.c: AVX-512 F/BW/VL/DQ */

/* The 256 e4m3fn values (index = the byte): a constant table, safe from any thread. */
const float *kern_f8e4m3_table(void);
extern const float kern_f8e4m3_lut[256]; /* the same table, for inlined lookups */

/* Scale-block column count of an FP8 matrix: ceil(cols / 128). */
static inline size_t kern_fp8_scale_cols(size_t cols)
{
	return (cols + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK;
}

/* Scale of element (r, c) of the view (r relative to the view, absolute in the matrix). */
static inline float kern_fp8_scale_at(const struct kern_mat *w, size_t r, size_t c)
{
	size_t ar = w->row0 + r;
	return w->scale[(ar / KERN_FP8_BLOCK) * kern_fp8_scale_cols(w->cols) + c / KERN_FP8_BLOCK];
}

/* Start of row r of the view (relative to the view) in the stored data. */
static inline const void *kern_mat_row_ptr(const struct kern_mat *w, size_t r)
{
	return (const char *)w->data + (w->row0 + r) * w->cols * kern_dtype_size(w->dtype);
}

#endif
