/* read_all.h — reading a whole stream (stdin) into memory, with a size cap. */
#ifndef PONDER_APP_READ_ALL_H
#define PONDER_APP_READ_ALL_H

#include <stddef.h>
#include <stdio.h>

#include "common/err.h"

/* *out is malloc'd (not NUL-terminated), *len its size. ERR_RANGE past `max` bytes,
   ERR_IO on a read error; `what` names the stream in messages ("stdin"). */
int app_read_all(FILE *f, const char *what, size_t max, char **out, size_t *len,
		 struct err *e);

#endif
