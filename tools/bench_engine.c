/*
 * bench_engine.c — forward-pass throughput: prefill and decode tokens per second on a
 * model folder, for the reference kernels and the fastest this CPU has, in the same
 * run, with the ratio.
 *
 *   build/tools/bench_engine [MODEL_DIR] [THREADS]
 *   build/tools/bench_engine MODEL_DIR THREADS kv [PREFILL]
 * Default model: models/demo, else ../shared/fixtures/models/tiny-v3.
 *
 * The `kv` form compares the KV cache types (f32, bf16, fp8) with the fastest kernels:
 * PREFILL tokens (default 256; the decode steps then attend over that long a context),
 * then DECODE greedy steps; three rounds with the types interleaved, so that a machine
 * busy with something else slows them alike, and the median of each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "kernels/kern.h"

#define PREFILL 256
#define DECODE 128

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Prefill `prefill` tokens, then DECODE greedy steps, in a fresh sequence of m. */
static int run_once(struct eng_model *m, size_t prefill, double *prefill_tps,
		    double *decode_tps)
{
	size_t V = (size_t)eng_model_config(m)->vocab_size;
	struct eng_state *st = NULL;
	struct err e = {0};
	float *logits = malloc(V * sizeof *logits);
	int32_t *ids = malloc(prefill * sizeof *ids);
	int rc = -1;
	if (!logits || !ids || eng_state_new(m, (int64_t)(prefill + DECODE + 1), false, &st, &e)) {
		fprintf(stderr, "bench_engine: %s\n", logits && ids ? e.msg : "out of memory");
		goto out;
	}
	for (size_t i = 0; i < prefill; i++)
		ids[i] = (int32_t)((i * 7919 + 13) % V);
	double t0 = now_s();
	if (eng_forward(st, ids, prefill, logits, false, &e))
		goto fail;
	double t1 = now_s();
	for (int k = 0; k < DECODE; k++) {
		int32_t next = (int32_t)sampler_argmax(logits, V);
		if (eng_forward(st, &next, 1, logits, false, &e))
			goto fail;
	}
	double t2 = now_s();
	*prefill_tps = (double)prefill / (t1 - t0);
	*decode_tps = DECODE / (t2 - t1);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "bench_engine: %s\n", e.msg);
out:
	eng_state_free(st);
	free(ids);
	free(logits);
	return rc;
}

/* PREFILL tokens, then DECODE greedy steps; best of 3 runs. */
static int measure(const char *dir, const char *kernels, int threads, double *prefill_tps,
		   double *decode_tps)
{
	struct eng_opts o = {.threads = threads, .kernels = kernels};
	struct eng_model *m = NULL;
	struct err e = {0};
	if (eng_model_open(dir, &o, &m, &e)) {
		fprintf(stderr, "bench_engine: %s\n", e.msg);
		return -1;
	}
	*prefill_tps = *decode_tps = 0;
	int rc = 0;
	for (int run = 0; run < 3 && !rc; run++) {
		double p, d;
		rc = run_once(m, PREFILL, &p, &d);
		*prefill_tps = p > *prefill_tps ? p : *prefill_tps;
		*decode_tps = d > *decode_tps ? d : *decode_tps;
	}
	eng_model_close(m);
	return rc;
}

static double median3(const double *v)
{
	double a = v[0], b = v[1], c = v[2];
	return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

/* The three KV cache types, interleaved, three rounds, medians. */
static int measure_kv(const char *dir, int threads, size_t prefill)
{
	struct eng_model *m[3] = {NULL, NULL, NULL};
	double p[3][3], d[3][3];
	struct err e = {0};
	int rc = 0;
	for (int t = 0; t < 3 && !rc; t++) {
		struct eng_opts o = {.threads = threads, .kv_type = (enum eng_kv_type)t};
		if ((rc = eng_model_open(dir, &o, &m[t], &e)))
			fprintf(stderr, "bench_engine: %s\n", e.msg);
	}
	for (int round = 0; round < 3 && !rc; round++)
		for (int t = 0; t < 3 && !rc; t++)
			rc = run_once(m[t], prefill, &p[t][round], &d[t][round]);
	if (!rc) {
		printf("model %s, %s kernels, %zu-token prefill then %d greedy steps, median of 3 "
		       "interleaved rounds\n", dir, kern_cpu_best()->name, prefill, DECODE);
		for (int t = 0; t < 3; t++)
			printf("  kv %-5s prefill %9.1f tok/s   decode %8.1f tok/s   (decode runs "
			       "%.1f %.1f %.1f)\n", eng_kv_type_name((enum eng_kv_type)t),
			       median3(p[t]), median3(d[t]), d[t][0], d[t][1], d[t][2]);
	}
	for (int t = 0; t < 3; t++)
		eng_model_close(m[t]);
	return rc;
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
	if (argc > 3 && !strcmp(argv[3], "kv"))
		return measure_kv(dir, threads, argc > 4 ? (size_t)atol(argv[4]) : PREFILL) ? 1 : 0;
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
