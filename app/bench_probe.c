/*
 * bench_probe.c — the read-bandwidth probe (see bench_probe.h).
 */
#include "app/bench_probe.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "app/bench_util.h"
#include "kernels/pool.h"

#define PROBE_CHUNK ((size_t)4 << 20) /* bytes one pool range sums */
#define PROBE_MIN (16 * PROBE_CHUNK)

/* The sum: 32-byte vectors and four accumulators, so the loop issues loads as fast as
   the core can without depending on the auto-vectoriser. */
typedef uint64_t vec_u64 __attribute__((vector_size(32)));

struct bench_probe {
	vec_u64 *buf;
	size_t bytes, chunks;
	struct kern_pool *pool;
	_Atomic uint64_t sink; /* keeps the sums observable */
};

static void probe_task(void *ctx, size_t begin, size_t end, int thread)
{
	struct bench_probe *p = ctx;
	size_t per_chunk = PROBE_CHUNK / sizeof(vec_u64);
	vec_u64 a = {0}, b = {0}, c = {0}, d = {0};
	const vec_u64 *v = p->buf + begin * per_chunk, *stop = p->buf + end * per_chunk;
	for (; v < stop; v += 4) {
		a += v[0];
		b += v[1];
		c += v[2];
		d += v[3];
	}
	a += b + c + d;
	atomic_fetch_add_explicit(&p->sink, a[0] + a[1] + a[2] + a[3], memory_order_relaxed);
}

static double pass(struct bench_probe *p, struct kern_pool *pool)
{
	double t0 = bench_now_s();
	kern_pool_for(pool, p->chunks, 1, probe_task, p);
	return (double)p->bytes / (bench_now_s() - t0) * 1e-9;
}

int bench_probe_open(size_t max, int threads, struct bench_probe **out, struct err *e)
{
	*out = NULL;
	size_t size = max;
	uint64_t avail = bench_proc_kb("/proc/meminfo", "MemAvailable");
	if (avail && avail / 4 < size)
		size = (size_t)(avail / 4);
	size -= size % PROBE_CHUNK;
	if (size < PROBE_MIN)
		return err_set(e, ERR_NOMEM, "too little free memory for the bandwidth probe "
			       "(%llu MiB available; it needs %zu MiB)",
			       (unsigned long long)(avail >> 20), 4 * PROBE_MIN >> 20);
	struct bench_probe *p = calloc(1, sizeof *p);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory for the bandwidth probe");
	void *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		free(p);
		return err_set(e, ERR_NOMEM, "cannot map %zu MiB for the bandwidth probe: %s",
			       size >> 20, strerror(errno));
	}
	madvise(buf, size, MADV_HUGEPAGE); /* fewer faults while touching; a hint only */
	memset(buf, 1, size);
	p->buf = buf;
	p->bytes = size;
	p->chunks = size / PROBE_CHUNK;
	if (!(p->pool = kern_pool_new(threads))) {
		bench_probe_close(p);
		return err_set(e, ERR_NOMEM, "could not start %d threads for the bandwidth probe",
			       threads);
	}
	*out = p;
	return 0;
}

size_t bench_probe_bytes(const struct bench_probe *p)
{
	return p->bytes;
}

double bench_probe_best(struct bench_probe *p, bool all_threads)
{
	double best = 0, spent = 0;
	for (int i = 0; i < 10 && (i < 2 || spent < 0.25); i++) {
		double t0 = bench_now_s(), gbs = pass(p, all_threads ? p->pool : NULL);
		spent += bench_now_s() - t0;
		best = gbs > best ? gbs : best;
	}
	return best;
}

double bench_probe_pass(struct bench_probe *p)
{
	return pass(p, p->pool);
}

void bench_probe_close(struct bench_probe *p)
{
	if (!p)
		return;
	kern_pool_free(p->pool);
	if (p->buf)
		munmap(p->buf, p->bytes);
	free(p);
}
