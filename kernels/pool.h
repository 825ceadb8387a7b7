/*
 * pool.h — the one thread pool, created at start (-t N) and shared by all kernels.
 *
 * kern_pool_for splits [0, n) into contiguous ranges and runs them on the workers and
 * the calling thread; it returns when every range is done. Calls must not nest.
 */
#ifndef PONDER_POOL_H
#define PONDER_POOL_H

#include <stddef.h>

struct kern_pool;

typedef void (*kern_task_fn)(void *ctx, size_t begin, size_t end, int thread);

/* nthreads <= 0 means one per online core. NULL on failure. */
struct kern_pool *kern_pool_new(int nthreads);
void kern_pool_free(struct kern_pool *p);

/* Total threads including the caller (>= 1). A NULL pool counts as 1. */
int kern_pool_threads(const struct kern_pool *p);

/*
 * Runs fn over [0, n) in ranges of at least `grain` items. `thread` is in
 * [0, kern_pool_threads(p)) and unique among concurrently running ranges, so it can
 * index per-thread scratch. A NULL pool runs everything on the caller.
 */
void kern_pool_for(struct kern_pool *p, size_t n, size_t grain, kern_task_fn fn, void *ctx);

#endif
