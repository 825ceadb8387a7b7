/*
 * st_write.h — writing one .safetensors file, tensor by tensor, never holding it whole.
 *
 * The caller names every tensor (name, dtype, shape) before any data: st_writer_open
 * creates the file (O_EXCL: an existing file is never overwritten) and writes the
 * header, then st_writer_put streams the data of the tensors in the order given (or
 * st_writer_put_tensor fills the tensors in any order, each from its start), and
 * st_writer_close checks that exactly the declared bytes came and that the file closed
 * cleanly (a full disk often shows only there). The data lies in the order given: a
 * caller that wants every tensor aligned to its element size lists larger element
 * sizes first, as Hugging Face's writer does. The layout is the one st_open accepts:
 * a little-endian u64 header length, a compact JSON header with sorted keys and
 * {"__metadata__": {"format": "pt"}}, padded with spaces to a multiple of 8 bytes, then
 * the tensors back to back in the given order. Every size is checked for 64-bit
 * overflow. Errors name the file and say why (strerror).
 */
#ifndef PONDER_ENG_ST_WRITE_H
#define PONDER_ENG_ST_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/safetensors.h"

/* One tensor to be written: its name, dtype and shape (ndim 1..ST_MAX_DIMS). */
struct st_wtensor {
	const char *name;
	enum st_dtype dtype;
	int ndim;
	uint64_t shape[ST_MAX_DIMS];
};

/* *out = bytes of t's data (elements x dtype size); ERR_RANGE when that overflows. */
int st_wtensor_bytes(const struct st_wtensor *t, uint64_t *out, struct err *e);

/* *out = bytes of the whole file these tensors make, header included. */
int st_file_bytes(const struct st_wtensor *t, size_t n, uint64_t *out, struct err *e);

struct st_writer;

/* Creates `path` (which must not exist) and writes the header for t[0..n). */
int st_writer_open(const char *path, const struct st_wtensor *t, size_t n,
		   struct st_writer **out, struct err *e);

/* Appends len bytes of tensor data, filling the tensors in the order given; more than
   the header declares is an error. */
int st_writer_put(struct st_writer *w, const void *data, size_t len, struct err *e);

/* Appends len bytes to tensor i (its index in the list given to st_writer_open); more
   than its size is an error. */
int st_writer_put_tensor(struct st_writer *w, size_t i, const void *data, size_t len,
			 struct err *e);

/* Checks that every declared byte was written and closes the file; frees w either way.
   The file stays on failure: the caller, who created it, removes it. */
int st_writer_close(struct st_writer *w, struct err *e);

/* Closes and frees without checks (after another error); NULL is a no-op. */
void st_writer_abort(struct st_writer *w);

/* "model-0000S-of-0000N.safetensors": Hugging Face's name of shard s (0-based) of n. */
void st_shard_name(char *buf, size_t cap, size_t s, size_t n);

#endif
