/*
 * ago.h — a past moment for people: "just now", "5 min ago", "3 h ago", "2 d ago", then
 * the date. Used by the listings of `ponder history` and `ponder kv`.
 */
#ifndef PONDER_APP_AGO_H
#define PONDER_APP_AGO_H

#include <stddef.h>
#include <stdint.h>

/* ms: Unix time in milliseconds. */
void app_fmt_ago(int64_t ms, char *buf, size_t size);

#endif
