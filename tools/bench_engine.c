/*
 * bench_engine.c — forward-pass throughput: prefill and decode tokens per second on a
 * model folder, for the reference kernels and the fastest this CPU has, in the same
 * run, with the ratio.
 *
 *   build/tools/bench_engine [MODEL_DIR] [THREADS]
 * Default model: models/demo, else ../shared/fixtures/models/tiny-v3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/engine.h"
#include "kernels/kern.h"

#define PREFILL 256
#define DECODE 128

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t argmax(const float *v, size_t n)
{
	size_t b = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

/* Prefill PREFILL tokens, then DECODE greedy steps; best of 3 runs. */
static int measure(const char *dir, const char *kernels, int threads, double *prefill_tps,
		   double *decode_tps)
{
	struct eng_opts o = {.threads = threads, .kernels = kernels};
	struct eng_model *m = NULL;
	struct eng_state *st = NULL;
	struct err e = {0};
	if (eng_model_open(dir, &o, &m, &e)) {
		fprintf(stderr, "bench_engine: %s\n", e.msg);
		return -1;
	}
	size_t V = (size_t)eng_model_config(m)->vocab_size;
	float *logits = malloc(V * sizeof *logits);
	int32_t ids[PREFILL];
	for (size_t i = 0; i < PREFILL; i++)
		ids[i] = (int32_t)((i * 7919 + 13) % V);
	*prefill_tps = *decode_tps = 0;
	for (int run = 0; run < 3; run++) {
		if (eng_state_new(m, PREFILL + DECODE + 1, false, &st, &e)) {
			fprintf(stderr, "bench_engine: %s\n", e.msg);
			break;
		}
		double t0 = now_s();
		eng_forward(st, ids, PREFILL, logits, false, &e);
		double t1 = now_s();
		for (int k = 0; k < DECODE; k++) {
			int32_t next = (int32_t)argmax(logits, V);
			eng_forward(st, &next, 1, logits, false, &e);
		}
		double t2 = now_s();
		double p = PREFILL / (t1 - t0), d = DECODE / (t2 - t1);
		*prefill_tps = p > *prefill_tps ? p : *prefill_tps;
		*decode_tps = d > *decode_tps ? d : *decode_tps;
		eng_state_free(st);
		st = NULL;
	}
	free(logits);
	eng_model_close(m);
	return 0;
}

int main(int argc, char **argv)
{
	struct stat sb;
	const char *dir = argc > 1 ? argv[1] : NULL;
	if (!dir)
		dir = stat("models/demo/config.json", &sb) == 0 ? "models/demo"
		      : "../shared/fixtures/models/tiny-v3";
	if (stat(dir, &sb) != 0) {
		printf("SKIP bench_engine: no model at %s\n", dir);
		return 0;
	}
	int threads = argc > 2 ? atoi(argv[2]) : 0;
	const char *best = kern_cpu_best()->name;
	double rp, rd, bp, bd;
	if (measure(dir, "reference", threads, &rp, &rd) || measure(dir, best, threads, &bp, &bd))
		return 1;
	printf("model %s, %d-token prefill then %d greedy steps, best of 3\n", dir, PREFILL, DECODE);
	printf("  %-10s prefill %9.1f tok/s   decode %8.1f tok/s\n", "reference", rp, rd);
	printf("  %-10s prefill %9.1f tok/s   decode %8.1f tok/s\n", best, bp, bd);
	printf("  ratio      prefill %9.2fx        decode %8.2fx\n", bp / rp, bd / rd);
	return 0;
}
