/* read_all.c — see read_all.h. */
#include "app/read_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int app_read_all(FILE *f, const char *what, size_t max, char **out, size_t *len,
		 struct err *e)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return err_set(e, ERR_NOMEM, "out of memory reading %s", what);
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				free(buf);
				return err_set(e, ERR_RANGE, "%s holds more than %zu MiB, more than "
					       "ponder reads", what, max >> 20);
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return err_set(e, ERR_NOMEM, "out of memory reading %s", what);
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				free(buf);
				return err_set(e, ERR_IO, "cannot read %s: %s", what, strerror(errno));
			}
			break;
		}
	}
	*out = buf;
	*len = n;
	return 0;
}
