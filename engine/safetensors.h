/*
 * safetensors.h — one .safetensors file, mmapped and validated.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON object
 * {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data. st_open checks everything before any tensor is used: header length
 * within the file and <= 100 MB, JSON object, known fields, shape products without
 * 64-bit overflow, dtype size x elements == byte length, offsets in range, sorted
 * ranges neither overlapping nor leaving gaps, no duplicate names. Errors name the file
 * and the tensor.
 */
#ifndef PONDER_ENG_SAFETENSORS_H
#define PONDER_ENG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kernels/kern.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1024u * 1024u)

enum st_dtype {
	ST_F32, ST_BF16, ST_F16, ST_F8_E4M3,   /* the ones weights may use */
	ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL, ST_F8_E5M2, /* accepted, not computed with */
};

struct st_tensor {
	char *name;
	enum st_dtype dtype;
	int ndim;
	uint64_t shape[ST_MAX_DIMS];
	uint64_t nelem;
	const void *data;  /* inside the mapping */
	uint64_t nbytes;
};

struct st_file;

/* Maps and validates `path`. */
int st_open(const char *path, struct st_file **out, struct err *e);

/* Validates an in-memory file image (used by st_open and by the fuzz harness). The
   image must outlive the result; st_close does not free it. */
int st_parse(const void *buf, size_t len, const char *label, struct st_file **out,
	     struct err *e);

void st_close(struct st_file *f);

size_t st_count(const struct st_file *f);
const struct st_tensor *st_at(const struct st_file *f, size_t i);
const struct st_tensor *st_find(const struct st_file *f, const char *name);
const char *st_path(const struct st_file *f);

const char *st_dtype_name(enum st_dtype t);
size_t st_dtype_size(enum st_dtype t);

/* The kernel dtype for a tensor used as weights; -1 if it cannot be one. */
int st_dtype_to_kern(enum st_dtype t);

#endif
