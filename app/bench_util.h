/*
 * bench_util.h — what the parts of `ponder bench` share: progress lines, medians and
 * /proc values.
 */
#ifndef PONDER_APP_BENCH_UTIL_H
#define PONDER_APP_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* One line per phase on a terminal ("ponder bench: ..."), so a long run shows where it
   is; nothing when stderr is a log. */
void bench_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The median of v[0..n) (n >= 1), which it sorts. */
double bench_median(double *v, size_t n);

/* Seconds on the monotonic clock. */
double bench_now_s(void);

/* Value of a "Key:   123 kB" line of a /proc file, in bytes; 0 when absent. */
uint64_t bench_proc_kb(const char *path, const char *key);

#endif
