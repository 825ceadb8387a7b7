/*
 * bench_probe.h — the read-bandwidth probe of `ponder bench`: a buffer far larger than
 * any cache, summed by one thread or by a pool of them, as the yardstick a decode step's
 * effective bandwidth is compared with.
 */
#ifndef PONDER_APP_BENCH_PROBE_H
#define PONDER_APP_BENCH_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct bench_probe;

/* Maps and touches a buffer of `max` bytes, or a quarter of the memory available now
   when that is less (at least 64 MiB, else ERR_NOMEM), and starts `threads` threads. */
int bench_probe_open(size_t max, int threads, struct bench_probe **out, struct err *e);
size_t bench_probe_bytes(const struct bench_probe *p);
/* Best GB/s (10^9 bytes a second) of whole-buffer passes, at least two and more while
   they took under a quarter second; with one thread or with all of them. */
double bench_probe_best(struct bench_probe *p, bool all_threads);
/* GB/s of one whole-buffer pass with all the threads. */
double bench_probe_pass(struct bench_probe *p);
void bench_probe_close(struct bench_probe *p);

#endif
