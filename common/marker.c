/* marker.c — see marker.h. */
#include "common/marker.h"

#include <string.h>

int marker_match(const char *p, size_t n, const char *m, size_t mlen)
{
	size_t k = n < mlen ? n : mlen;
	if (memcmp(p, m, k) != 0)
		return 0;
	return k == mlen ? 2 : 1;
}

size_t marker_tail(const char *p, size_t n, const char *m, size_t mlen)
{
	size_t most = n < mlen - 1 ? n : mlen - 1;
	for (size_t len = most; len > 0; len--)
		if (memcmp(p + n - len, m, len) == 0)
			return len;
	return 0;
}
