/*
 * pool.c — the shared thread pool behind kern_pool_for (see pool.h).
 *
 * Workers are created once and live until kern_pool_free. A job is split into ranges
 * that threads claim one at a time; the caller claims too, and returns when every range
 * has *finished* — not when every worker has seen the job. That matters when the
 * machine is busy: a worker the scheduler has not run yet simply finds nothing left to
 * claim later, instead of holding the caller up for a time slice on every kernel call.
 *
 * The protocol. `claim` is one 64-bit atomic, generation << 32 | next range index; the
 * job's fields (fn, ctx, n, nranges) are a seqlock-protected record whose sequence
 * number is the generation. The caller, holding call_mu, publishes job g+1 in three
 * steps:
 *   1. claim = (g+1, CLOSED)   — from here on no claim of generation g can succeed;
 *      release fence;
 *   2. write the fields and reset `finished`;
 *   3. claim = (g+1, 0) with release — the job is open.
 * A claimer loads claim (acquire) and sees (g, k); CLOSED means "being written": it
 * waits. Otherwise it reads the fields, issues an acquire fence, and claims range k with
 * a compare-and-swap (g, k) -> (g, k+1). If the CAS succeeds, claim still held (g, k),
 * so step 1 of job g+1 had not happened; by the fences, none of the field values it
 * read can come from step 2 of a later job (had it read one, the release fence of
 * step 1 would make that step 1 visible to the CAS, and the CAS would fail). So a
 * successful claim ran range k < nranges of exactly the job it read, and each range of
 * a generation is claimed once: claims move k up by one under the generation check.
 * A stale claimer — one that loaded (g, k) and then stalled — always fails, however
 * long it stalled (until the 32-bit generation wraps, 4 billion jobs later).
 *
 * The earlier version skipped step 1: a worker late from job g could read job g+1's
 * larger nranges while claim still said (g, old nranges), claim a range of the new job
 * under the old generation, and that range then ran twice once g+1 opened (finished
 * passed nranges, the caller slept forever). tests/test_pool_stress.c reproduces that.
 *
 * Completion: each finished range adds one to `finished`; the thread that brings it to
 * nranges signals the caller if it sleeps. The caller rewrites `finished` only after it
 * saw all nranges of the previous job finished, so no late increment can land in the
 * next job's count.
 *
 * Invariants:
 *   - thread 0 is the caller, worker k is thread k; a thread runs one range at a time,
 *     so `thread` is unique among running ranges.
 *   - a kern_pool_for called from inside a task runs inline on that thread instead of
 *     deadlocking; calls from two outside threads are serialised by call_mu.
 * Idle workers spin briefly (jobs come in bursts of hundreds per token) and then sleep
 * on a condition variable until the next generation.
 */
#include "kernels/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
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
/* The range index of a generation whose job is being written (step 1 above). */
#define CLAIM_CLOSED UINT32_MAX

struct kern_pool {
	int nworkers; /* threads besides the caller */
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t wake;     /* sleeping workers wait here for a new generation */
	pthread_cond_t done;     /* the caller waits here for the last range */
	int sleepers;            /* workers waiting on `wake` (under mu) */
	bool caller_sleeps;      /* the caller waits on `done` (under mu) */
	int quit;
	pthread_mutex_t call_mu; /* held by the thread inside kern_pool_for */

	/* The current job, written between steps 1 and 3 of the protocol. Atomic (relaxed)
	   because a late claimer may read them while the next job is written; its claim
	   then fails and it discards what it read. */
	_Atomic(kern_task_fn) fn;
	_Atomic(void *) ctx;
	atomic_size_t n, nranges;
	_Atomic uint64_t claim;    /* generation << 32 | next range index */
	atomic_size_t finished;    /* ranges of the current job that have run */
};

struct worker_arg {
	struct kern_pool *p;
	int thread;
};

/* Thread index while running a task, -1 outside; detects nested calls. */
static _Thread_local int tls_thread = -1;

static void run_range(struct kern_pool *p, kern_task_fn fn, void *ctx, size_t n, size_t nr,
		      size_t k, int thread)
{
	/* range k is [k*n/nr, (k+1)*n/nr): every range has >= floor(n/nr) >= grain items */
	size_t b = (size_t)((unsigned __int128)k * n / nr);
	size_t e = (size_t)((unsigned __int128)(k + 1) * n / nr);
	tls_thread = thread;
	fn(ctx, b, e, thread);
	tls_thread = -1;
	if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == nr) {
		pthread_mutex_lock(&p->mu);
		if (p->caller_sleeps)
			pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

/* Claims and runs ranges of job generation `gen` until none is left. */
static void work_on(struct kern_pool *p, uint32_t gen, int thread)
{
	for (int waits = 0;;) {
		uint64_t c = atomic_load_explicit(&p->claim, memory_order_acquire);
		if ((uint32_t)(c >> 32) != gen)
			return;
		size_t k = (size_t)(uint32_t)c;
		if (k == CLAIM_CLOSED) { /* the caller is writing this job's fields */
			if (++waits % 64 == 0)
				sched_yield(); /* it may have been preempted mid-write */
			else
				cpu_relax();
			continue;
		}
		kern_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
		void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
		size_t n = atomic_load_explicit(&p->n, memory_order_relaxed);
		size_t nr = atomic_load_explicit(&p->nranges, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (k >= nr)
			return;
		if (atomic_compare_exchange_weak_explicit(&p->claim, &c, c + 1,
							  memory_order_acq_rel,
							  memory_order_acquire))
			run_range(p, fn, ctx, n, nr, k, thread);
	}
}

static void *worker_main(void *arg)
{
	struct worker_arg wa = *(struct worker_arg *)arg;
	struct kern_pool *p = wa.p;
	free(arg);
	uint32_t seen = 0;
	for (;;) {
		uint32_t g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
		for (int i = 0; i < POOL_SPIN && g == seen; i++) {
			cpu_relax();
			g = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_acquire) >> 32);
		}
		if (g == seen) {
			pthread_mutex_lock(&p->mu);
			p->sleepers++;
			while ((g = (uint32_t)(atomic_load(&p->claim) >> 32)) == seen && !p->quit)
				pthread_cond_wait(&p->wake, &p->mu);
			p->sleepers--;
			int quit = p->quit;
			pthread_mutex_unlock(&p->mu);
			if (quit)
				break;
		}
		seen = g;
		work_on(p, g, wa.thread);
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
	pthread_mutex_init(&p->call_mu, NULL);
	atomic_init(&p->claim, 0);
	atomic_init(&p->finished, 0);
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
	/* The three steps of the protocol in the header comment. */
	uint32_t gen = (uint32_t)(atomic_load_explicit(&p->claim, memory_order_relaxed) >> 32) + 1;
	atomic_store_explicit(&p->claim, (uint64_t)gen << 32 | CLAIM_CLOSED,
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&p->n, n, memory_order_relaxed);
	atomic_store_explicit(&p->nranges, nr, memory_order_relaxed);
	atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
	atomic_store_explicit(&p->claim, (uint64_t)gen << 32, memory_order_release);
	pthread_mutex_lock(&p->mu);
	if (p->sleepers)
		pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);

	work_on(p, gen, 0);

	for (int i = 0; i < POOL_SPIN; i++) {
		if (atomic_load_explicit(&p->finished, memory_order_acquire) == nr)
			break;
		cpu_relax();
	}
	if (atomic_load_explicit(&p->finished, memory_order_acquire) != nr) {
		pthread_mutex_lock(&p->mu);
		p->caller_sleeps = true;
		while (atomic_load_explicit(&p->finished, memory_order_acquire) != nr)
			pthread_cond_wait(&p->done, &p->mu);
		p->caller_sleeps = false;
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&p->call_mu);
}
