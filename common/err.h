/*
 * err.h — the one error type every layer of ponder fills in.
 *
 * A function that can fail returns int: 0 on success or one of the negative codes
 * below, and writes a message a user can act on into a struct err. The message names
 * the thing that is wrong (file, tensor, field, value) and, where there is one, the
 * option or action that fixes it. Only app/main.c turns errors into exit codes.
 */
#ifndef PONDER_ERR_H
#define PONDER_ERR_H

#include <stddef.h>

enum err_code {
	ERR_OK = 0,
	ERR_USAGE = -1,       /* bad command line or API misuse */
	ERR_IO = -2,          /* open/read/write/mmap failed */
	ERR_FORMAT = -3,      /* malformed file contents */
	ERR_NOMEM = -4,       /* allocation failed or would be unreasonably large */
	ERR_UNSUPPORTED = -5, /* valid input that ponder does not implement */
	ERR_RANGE = -6,       /* value out of range (ids, sizes, positions) */
	ERR_CONTEXT = -7,     /* prompt + requested tokens exceed the context */
	ERR_DB = -8,          /* database could not be opened or written */
	ERR_INTERRUPTED = -9, /* stopped by the user */
	ERR_MODEL = -10,      /* the model (weights, config, tokenizer) could not be loaded */
	ERR_REMOTE = -11,     /* a remote server could not be reached or failed (--remote) */
};

struct err {
	int code;
	char msg[1024];
};

/* Sets code and a printf-style message; returns code so callers can `return err_set(...)`. */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an existing message (adds context on the way up). */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void err_clear(struct err *e);

/* Short name of a code, e.g. "format error". */
const char *err_code_name(int code);

#endif
