/*
 * pool.c — the shared thread pool behind kern_pool_for (see pool.h).
 *
 * Workers are created once and never exit until kern_pool_free. A job is published by
 * bumping `gen` under the mutex; workers spin briefly on it (jobs come in bursts of
 * hundreds per token, so a short spin saves a futex round trip) and then sleep on a
 * condition variable. Ranges are claimed from an atomic counter, so a slow thread never
 * holds up the others. Invariants:
 *   - thread 0 is the caller, worker k is thread k; a thread runs one range at a time,
 *     so `thread` is unique among running ranges.
 *   - every worker acknowledges every job (pending -> 0) before the caller returns, so
 *     the job fields are never rewritten while a worker still reads them.
 *   - a kern_pool_for called from inside a task runs inline on that thread instead of
 *     deadlocking; calls from two outside threads are serialised by call_mu, so thread
 *     indices stay unique even then.
 */
#include "kernels/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Pauses before sleeping: a few tens of microseconds, shorter than a futex wake-up chain. */
#define POOL_SPIN 4000
/* Ranges per thread: more than one so uneven ranges balance out. */
#define POOL_SPLIT 4

struct kern_pool {
	int nworkers; /* threads besides the caller */
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* workers wait here for a new gen */
	pthread_cond_t done; /* the caller waits here for pending == 0 */
	atomic_uint gen;     /* bumped once per job */
	atomic_int pending;  /* workers that have not finished the current job */
	pthread_mutex_t call_mu; /* held by the thread inside kern_pool_for */
	int quit;

	/* the current job, written by the caller before gen is bumped */
	kern_task_fn fn;
	void *ctx;
	size_t n, nranges;
	atomic_size_t next; /* next range to claim */
};

struct worker_arg {
	struct kern_pool *p;
	int thread;
};

/* Thread index while running a task, -1 outside; detects nested calls. */
static _Thread_local int tls_thread = -1;

static void run_ranges(struct kern_pool *p, int thread)
{
	size_t n = p->n, nr = p->nranges;
	tls_thread = thread;
	for (;;) {
		size_t k = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (k >= nr)
			break;
		/* the first n % nr ranges get one extra item; every range has >= n / nr >= grain */
		size_t q = n / nr, extra = n % nr;
		size_t b = k * q + (k < extra ? k : extra);
		size_t e = b + q + (k < extra);
		p->fn(p->ctx, b, e, thread);
	}
	tls_thread = -1;
}

static void *worker_main(void *arg)
{
	struct worker_arg wa = *(struct worker_arg *)arg;
	struct kern_pool *p = wa.p;
	free(arg);
	unsigned seen = 0;
	for (;;) {
		unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
		for (int i = 0; i < POOL_SPIN && g == seen; i++) {
			cpu_relax();
			g = atomic_load_explicit(&p->gen, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			while ((g = atomic_load(&p->gen)) == seen && !p->quit)
				pthread_cond_wait(&p->wake, &p->mu);
			int quit = p->quit;
			pthread_mutex_unlock(&p->mu);
			if (quit)
				break;
		}
		seen = g;
		run_ranges(p, wa.thread);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

struct kern_pool *kern_pool_new(int nthreads)
{
	if (nthreads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		nthreads = c > 0 ? (int)(c > 1024 ? 1024 : c) : 1;
	}
	struct kern_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->tids = calloc((size_t)nthreads, sizeof *p->tids);
	if (!p->tids) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->pending, 0);
	pthread_mutex_init(&p->call_mu, NULL);
	atomic_init(&p->next, 0);
	for (int k = 1; k < nthreads; k++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa) {
			wa->p = p;
			wa->thread = k;
		}
		if (!wa || pthread_create(&p->tids[k - 1], NULL, worker_main, wa) != 0) {
			free(wa);
			kern_pool_free(p);
			return NULL;
		}
		p->nworkers = k;
	}
	return p;
}

void kern_pool_free(struct kern_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int k = 0; k < p->nworkers; k++)
		pthread_join(p->tids[k], NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->call_mu);
	free(p->tids);
	free(p);
}

int kern_pool_threads(const struct kern_pool *p)
{
	return p ? p->nworkers + 1 : 1;
}

void kern_pool_for(struct kern_pool *p, size_t n, size_t grain, kern_task_fn fn, void *ctx)
{
	if (n == 0)
		return;
	if (grain == 0)
		grain = 1;
	if (tls_thread >= 0) { /* nested inside a task: this thread runs it all */
		fn(ctx, 0, n, tls_thread);
		return;
	}
	int threads = kern_pool_threads(p);
	size_t nr = n / grain;
	if (nr > (size_t)threads * POOL_SPLIT)
		nr = (size_t)threads * POOL_SPLIT;
	if (!p || p->nworkers == 0 || nr <= 1) {
		if (p)
			pthread_mutex_lock(&p->call_mu);
		tls_thread = 0;
		fn(ctx, 0, n, 0);
		tls_thread = -1;
		if (p)
			pthread_mutex_unlock(&p->call_mu);
		return;
	}
	pthread_mutex_lock(&p->call_mu);
	p->fn = fn;
	p->ctx = ctx;
	p->n = n;
	p->nranges = nr;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	atomic_store_explicit(&p->pending, p->nworkers, memory_order_relaxed);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);

	run_ranges(p, 0);

	for (int i = 0; i < POOL_SPIN; i++) {
		if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0)
			break;
		cpu_relax();
	}
	if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
		pthread_mutex_lock(&p->mu);
		while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&p->call_mu);
}
