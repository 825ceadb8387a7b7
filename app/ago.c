/*
 * ago.c — "5 min ago" (see ago.h).
 */
#include "app/ago.h"

#include <stdio.h>
#include <time.h>

void app_fmt_ago(int64_t ms, char *buf, size_t size)
{
	int64_t now = (int64_t)time(NULL) * 1000;
	int64_t d = (now - ms) / 1000;
	if (d < 0)
		d = 0;
	if (d < 60)
		snprintf(buf, size, "just now");
	else if (d < 3600)
		snprintf(buf, size, "%lld min ago", (long long)(d / 60));
	else if (d < 86400)
		snprintf(buf, size, "%lld h ago", (long long)(d / 3600));
	else if (d < 86400 * 30)
		snprintf(buf, size, "%lld d ago", (long long)(d / 86400));
	else {
		time_t t = (time_t)(ms / 1000);
		struct tm tm;
		if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d", &tm))
			snprintf(buf, size, "?");
	}
}
