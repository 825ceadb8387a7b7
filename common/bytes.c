/*
 * bytes.c — sizes for people (see bytes.h).
 */
#include "common/bytes.h"

#include <stdio.h>

void fmt_bytes(char *buf, size_t cap, uint64_t v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double x = (double)v;
	int u = 0;
	while (x >= 1024 && u < 5) {
		x /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, cap, "%.2f %s", x, unit[u]);
}
