/*
 * test_pool_stress.c — kern_pool_for under preemption: several outside threads share one
 * pool with more threads than cores and submit thousands of jobs whose range counts keep
 * changing (2, 31, 3, 17, ...), once free and once with the whole process pinned to one
 * core. Every job checks that each index ran exactly once; a watchdog turns a job that
 * never returns into a FAIL line instead of a hung test.
 *
 * This is the test that caught the pool's stale-claim race: a worker late from one job
 * read the next job's range count under the old generation, claimed a range of the new
 * job, and that range then ran twice (finished > nranges, the caller slept forever).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "kernels/pool.h"
#include "tests/check.h"

#define POOL_THREADS 8  /* more than CI's 2 cores: workers get preempted mid-claim */
#define CALLERS 3       /* outside threads sharing the pool */
#define MAX_N 64        /* indices per job; range counts vary with n and grain */
#define RUN_SECONDS 2.0 /* per configuration; stops early after MAX_JOBS */
#define MAX_JOBS 400000
#define HANG_SECONDS 20 /* one job taking this long is a hang */

struct job {
	atomic_int hits[MAX_N];
	int job_id; /* checked by the task: a range of another job must not run here */
	atomic_int foreign;
};

struct caller {
	struct kern_pool *pool;
	int id;
	long jobs, bad_jobs;
	struct job job;
};

static atomic_long progress;  /* jobs finished, all callers */
static atomic_int stop_flag;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void mark_task(void *ctx, size_t b, size_t e, int thread)
{
	struct job *j = ctx;
	int id = j->job_id;
	for (size_t i = b; i < e; i++)
		atomic_fetch_add_explicit(&j->hits[i], 1, memory_order_relaxed);
	if (j->job_id != id)
		atomic_fetch_add(&j->foreign, 1);
}

static void *caller_main(void *arg)
{
	struct caller *c = arg;
	/* a cheap per-caller sequence of sizes: range counts go up and down */
	static const size_t sizes[] = {2, 31, 3, 17, 64, 5, 40, 9, 2, 63, 24, 7};
	static const size_t grains[] = {1, 1, 2, 1, 3, 1, 1, 4};
	uint32_t k = (uint32_t)c->id * 5;
	double t0 = now_s();
	while (!atomic_load(&stop_flag) && c->jobs < MAX_JOBS) {
		size_t n = sizes[k % (sizeof sizes / sizeof *sizes)];
		size_t grain = grains[(k / 3) % (sizeof grains / sizeof *grains)];
		k++;
		for (size_t i = 0; i < n; i++)
			atomic_store_explicit(&c->job.hits[i], 0, memory_order_relaxed);
		c->job.job_id = (int)c->jobs;
		atomic_store(&c->job.foreign, 0);
		kern_pool_for(c->pool, n, grain, mark_task, &c->job);
		int wrong = 0;
		for (size_t i = 0; i < n; i++)
			wrong += atomic_load_explicit(&c->job.hits[i], memory_order_relaxed) != 1;
		if (wrong || atomic_load(&c->job.foreign))
			c->bad_jobs++;
		c->jobs++;
		atomic_fetch_add(&progress, 1);
		if ((c->jobs & 1023) == 0 && now_s() - t0 > RUN_SECONDS)
			break;
	}
	return NULL;
}

/* Runs CALLERS threads against one pool and checks every job was exact. */
static void stress(const char *label)
{
	struct kern_pool *pool = kern_pool_new(POOL_THREADS);
	CHECK(pool != NULL, "kern_pool_new");
	if (!pool)
		return;
	struct caller cs[CALLERS];
	pthread_t tids[CALLERS];
	atomic_store(&stop_flag, 0);
	atomic_store(&progress, 0);
	for (int i = 0; i < CALLERS; i++) {
		memset(&cs[i], 0, sizeof cs[i]);
		cs[i].pool = pool;
		cs[i].id = i;
		pthread_create(&tids[i], NULL, caller_main, &cs[i]);
	}
	/* Watchdog: progress must move at least once every HANG_SECONDS. */
	long last = -1;
	double last_move = now_s();
	bool joined[CALLERS] = {0};
	for (;;) {
		int alive = 0;
		for (int i = 0; i < CALLERS; i++) {
			if (!joined[i])
				joined[i] = pthread_tryjoin_np(tids[i], NULL) == 0;
			alive += !joined[i];
		}
		if (!alive)
			break;
		long p = atomic_load(&progress);
		if (p != last) {
			last = p;
			last_move = now_s();
		} else if (now_s() - last_move > HANG_SECONDS) {
			printf("FAIL pool_stress_%s: no job finished for %d s after %ld jobs "
			       "(the pool hangs)\n", label, HANG_SECONDS, p);
			fflush(stdout);
			_exit(1); /* the stuck threads cannot be joined */
		}
		usleep(20000);
	}
	long jobs = 0, bad = 0;
	for (int i = 0; i < CALLERS; i++) {
		jobs += cs[i].jobs;
		bad += cs[i].bad_jobs;
	}
	kern_pool_free(pool);
	CHECK(bad == 0, "%s: %ld of %ld jobs ran an index other than exactly once", label, bad,
	      jobs);
	CHECK(jobs >= 1000, "%s: only %ld jobs ran", label, jobs);
	fprintf(stderr, "  %s: %ld jobs from %d callers on %d pool threads\n", label, jobs,
		CALLERS, POOL_THREADS);
}

static void test_stress_free(void)
{
	stress("free");
}

static void test_stress_one_core(void)
{
	cpu_set_t old, one;
	if (sched_getaffinity(0, sizeof old, &old) != 0) {
		SKIP("sched_getaffinity failed");
		return;
	}
	int cpu = 0;
	while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &old))
		cpu++;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	/* Threads created from here on inherit the one-core mask, the pool's included. */
	if (sched_setaffinity(0, sizeof one, &one) != 0) {
		SKIP("sched_setaffinity failed");
		return;
	}
	stress("one_core");
	sched_setaffinity(0, sizeof old, &old);
}

int main(void)
{
	RUN(test_stress_free);
	RUN(test_stress_one_core);
	return check_finish();
}
