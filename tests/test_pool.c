/*
 * test_pool.c — kern_pool_for: every index exactly once, ranges >= grain, thread indices
 * in range and unique among running ranges, many jobs in a row, nesting, NULL pools and
 * two outside threads sharing one pool.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "kernels/pool.h"
#include "tests/check.h"

struct cover {
	atomic_int *hits;
	atomic_int *busy; /* per thread index: 1 while a range runs there */
	atomic_int bad_thread, overlap, short_range, ranges;
	size_t n, grain;
	int threads;
};

static void cover_task(void *ctx, size_t b, size_t e, int thread)
{
	struct cover *c = ctx;
	atomic_fetch_add(&c->ranges, 1);
	if (thread < 0 || thread >= c->threads) {
		atomic_fetch_add(&c->bad_thread, 1);
		return;
	}
	if (atomic_exchange(&c->busy[thread], 1) != 0)
		atomic_fetch_add(&c->overlap, 1);
	if (e - b < c->grain && e - b < c->n)
		atomic_fetch_add(&c->short_range, 1);
	for (size_t i = b; i < e; i++) {
		atomic_fetch_add(&c->hits[i], 1);
		if ((i & 63) == 0) /* a little work so ranges overlap in time */
			for (volatile int k = 0; k < 200; k++)
				;
	}
	atomic_store(&c->busy[thread], 0);
}

static int run_cover(struct kern_pool *p, size_t n, size_t grain)
{
	struct cover c = {0};
	c.n = n;
	c.grain = grain ? grain : 1;
	c.threads = kern_pool_threads(p);
	c.hits = calloc(n + 1, sizeof *c.hits);
	c.busy = calloc((size_t)c.threads, sizeof *c.busy);
	kern_pool_for(p, n, grain, cover_task, &c);
	int wrong = 0;
	for (size_t i = 0; i < n; i++)
		if (atomic_load(&c.hits[i]) != 1)
			wrong++;
	CHECK(wrong == 0, "n=%zu grain=%zu threads=%d: %d indices not hit exactly once", n,
	      grain, c.threads, wrong);
	CHECK(c.bad_thread == 0, "n=%zu: thread index out of [0,%d)", n, c.threads);
	CHECK(c.overlap == 0, "n=%zu: two ranges ran at once with the same thread index", n);
	CHECK(c.short_range == 0, "n=%zu grain=%zu: a range shorter than grain", n, grain);
	CHECK(n > 0 || c.ranges == 0, "n=0 still called the task");
	free(c.hits);
	free(c.busy);
	return wrong;
}

static void test_coverage(void)
{
	const int threads[] = {1, 2, 3, 4, 7};
	const size_t ns[] = {0, 1, 2, 3, 5, 17, 100, 1000, 4097};
	const size_t grains[] = {0, 1, 3, 16, 64, 1000};
	for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
		struct kern_pool *p = kern_pool_new(threads[t]);
		CHECK(p != NULL, "kern_pool_new(%d) failed", threads[t]);
		if (!p)
			continue;
		CHECK(kern_pool_threads(p) == threads[t], "threads %d != %d", kern_pool_threads(p),
		      threads[t]);
		for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
			for (size_t g = 0; g < sizeof grains / sizeof *grains; g++)
				run_cover(p, ns[a], grains[g]);
		kern_pool_free(p);
	}
}

static void test_null_pool(void)
{
	CHECK(kern_pool_threads(NULL) == 1, "NULL pool has %d threads", kern_pool_threads(NULL));
	run_cover(NULL, 1000, 7);
	kern_pool_free(NULL); /* no-op */
}

static void test_default_threads(void)
{
	struct kern_pool *p = kern_pool_new(0);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	CHECK(p && kern_pool_threads(p) == (int)cores, "kern_pool_new(0) gave %d threads, %ld cores",
	      p ? kern_pool_threads(p) : -1, cores);
	kern_pool_free(p);
}

struct sum_ctx {
	const int *v;
	atomic_long sum;
	atomic_int used[8];
};

static void sum_task(void *ctx, size_t b, size_t e, int thread)
{
	struct sum_ctx *s = ctx;
	long acc = 0;
	for (size_t i = b; i < e; i++)
		acc += s->v[i];
	atomic_fetch_add(&s->sum, acc);
	atomic_store(&s->used[thread], 1);
}

/* Thousands of short jobs back to back: catches lost wake-ups and stale job fields. */
static void test_repeated_jobs(void)
{
	static int v[3000];
	for (int i = 0; i < 3000; i++)
		v[i] = i % 97;
	struct kern_pool *p = kern_pool_new(3);
	if (!p) {
		CHECK(0, "kern_pool_new(3) failed");
		return;
	}
	int bad = 0, workers_used = 0;
	for (int j = 0; j < 5000; j++) {
		size_t n = (size_t)(1 + (j * 37) % 3000);
		struct sum_ctx s = {.v = v};
		kern_pool_for(p, n, 8, sum_task, &s);
		long want = 0;
		for (size_t i = 0; i < n; i++)
			want += v[i];
		if (atomic_load(&s.sum) != want)
			bad++;
		if (atomic_load(&s.used[1]) || atomic_load(&s.used[2]))
			workers_used = 1;
	}
	CHECK(bad == 0, "%d of 5000 jobs summed wrong", bad);
	CHECK(workers_used, "no worker thread ever ran a range");
	kern_pool_free(p);
}

struct nest_ctx {
	struct kern_pool *p;
	atomic_int inner_hits;
	atomic_int bad_thread;
};

static void inner_task(void *ctx, size_t b, size_t e, int thread)
{
	struct nest_ctx *c = ctx;
	atomic_fetch_add(&c->inner_hits, (int)(e - b));
}

static void outer_task(void *ctx, size_t b, size_t e, int thread)
{
	struct nest_ctx *c = ctx;
	for (size_t i = b; i < e; i++)
		kern_pool_for(c->p, 10, 1, inner_task, c); /* must run inline, not deadlock */
}

static void test_nested_runs_inline(void)
{
	struct nest_ctx c = {0};
	c.p = kern_pool_new(3);
	if (!c.p) {
		CHECK(0, "kern_pool_new(3) failed");
		return;
	}
	kern_pool_for(c.p, 12, 1, outer_task, &c);
	CHECK(atomic_load(&c.inner_hits) == 120, "nested calls covered %d of 120",
	      atomic_load(&c.inner_hits));
	kern_pool_free(c.p);
}

static void *outside_caller(void *arg)
{
	struct kern_pool *p = arg;
	for (int j = 0; j < 300; j++)
		run_cover(p, 500, 4);
	return NULL;
}

static void test_two_outside_callers(void)
{
	struct kern_pool *p = kern_pool_new(3);
	if (!p) {
		CHECK(0, "kern_pool_new(3) failed");
		return;
	}
	pthread_t t;
	CHECK(pthread_create(&t, NULL, outside_caller, p) == 0, "pthread_create");
	outside_caller(p);
	pthread_join(t, NULL);
	kern_pool_free(p);
}

static void test_free_idle_pool(void)
{
	/* workers asleep on the condition variable must still be joined */
	for (int k = 0; k < 20; k++) {
		struct kern_pool *p = kern_pool_new(4);
		CHECK(p != NULL, "kern_pool_new(4)");
		if (k % 2)
			run_cover(p, 100, 1);
		if (k % 4 == 3)
			usleep(2000);
		kern_pool_free(p);
	}
}

int main(void)
{
	RUN(test_coverage);
	RUN(test_null_pool);
	RUN(test_default_threads);
	RUN(test_repeated_jobs);
	RUN(test_nested_runs_inline);
	RUN(test_two_outside_callers);
	RUN(test_free_idle_pool);
	return check_finish();
}
