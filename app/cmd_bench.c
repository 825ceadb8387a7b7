/*
 * cmd_bench.c — `ponder bench -m DIR [--json] [-t N] [--ctx N] [--prompt N] [--gen N]
 * [--kernels NAME] [--kv-type T] [--head H] [--mtp] [--resume N]`: how fast a model runs
 * on this machine, and how close that is to the machine's memory bandwidth.
 *
 * In one run:
 *   probe    best-of read bandwidth over a buffer far larger than any cache, with one
 *            thread and with the model's thread count (GB/s, 10^9 bytes per second);
 *   prefill  one eng_forward of --prompt random ids on an empty sequence, median of 3;
 *   decode   at each context (16, 4096, 16384 where they fit; --ctx N alone): prefill
 *            random ids up to the context (its time reported), a few untimed greedy
 *            steps, then --gen timed greedy steps in DECODE_SLICES slices, each after
 *            one pass of a smaller probe; tok/s = steps / their total time;
 *   bytes    read per decoded token: eng_decode_weight_bytes plus the KV cache the
 *            steps attend over (their mean position times eng_kv_bytes_per_token);
 *            times tok/s gives the effective GB/s, a share of the N-thread probe, and
 *            per slice a share of the pass before it (the paired share: their median);
 *   faults   minor + major page faults per timed decode step; resident set after the run;
 *   verify   time of a 2-token eng_forward over a 1-token one at context 16 (the main
 *            model's MTP verify step, whether or not the model has MTP), interleaved,
 *            median of the ratios;
 *   mtp      with --mtp: greedy speculative decoding at the first decode context (draft
 *            with eng_mtp_draft, verify two tokens, roll back a rejected draft), its
 *            tok/s and acceptance against plain greedy decoding there;
 *   resume   with --resume N: a conversation of N tokens plus a new message, computed
 *            again against loaded from a KV snapshot, and the snapshot's size and
 *            write time (app/bench_resume.c).
 * Token ids come from a fixed-seed generator, so runs are comparable. Text on stdout by
 * default, one JSON object with --json; on a terminal, stderr gets one line per phase.
 */
#include "app/bench_probe.h"
#include "app/bench_resume.h"
#include "app/bench_util.h"
#include "app/commands.h"
#include "app/options.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/bytes.h"
#include "engine/engine.h"
#include "engine/sampler.h"

#define WARMUP 3         /* untimed decode steps before each timed run */
#define PREFILL_RUNS 3
#define VERIFY_RUNS 7
#define VERIFY_CTX 16
#define MAX_CTXS 3
/* Positions the MTP run needs beyond its context and --gen: the warm-up, and a verify
   pair that may end one token past the count. */
#define MTP_ROOM (WARMUP + 3)
#define PROBE_MAX ((size_t)1 << 30)
/* Decode's timed steps run in this many slices, each after one pass of a probe of
   PAIRED_PROBE bytes: a share of the bandwidth measured at the same moment, where the
   best-of probe at the start of the run may have met a quieter machine. */
#define DECODE_SLICES 4
#define PAIRED_PROBE ((size_t)256 << 20)

struct bench_opts {
	const char *dir, *kernels;
	bool json, mtp;
	int threads;          /* 0: one per core */
	long long ctx;        /* 0: the default contexts */
	long long prompt, gen;
	long long resume;     /* conversation tokens of the resume measurement; 0: none */
	enum eng_kv_type kvt;
	enum eng_head_type head;
};

struct decode_row {
	size_t ctx;
	double tok_s, fill_s;
	uint64_t bytes;       /* per token: weights + KV cache */
	double faults;        /* per token */
	/* each slice of the timed steps: its tok/s, and the paired probe pass before it */
	double slice_tok_s[DECODE_SLICES], slice_probe[DECODE_SLICES];
	size_t slices;
	double paired_probe, paired_share; /* medians over the slices */
};

struct bench {
	char cpu[256], simd[128];
	const char *head;                 /* the output head's dtype as loaded */
	size_t probe_bytes;
	double probe_1t, probe_nt;        /* GB/s */
	int threads;
	double prefill_tok_s;
	struct decode_row dec[MAX_CTXS];
	size_t n_dec;
	uint64_t weight_bytes, kv_bytes;  /* kv: per cached position, all layers */
	double faults;                    /* per token over every timed decode step */
	uint64_t rss;
	double verify_cost;
	bool mtp_ran;
	double mtp_tok_s, mtp_accept;
	size_t mtp_tokens;
	bool resume_ran;
	struct bench_resume resume;
};

static uint64_t faults_now(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (uint64_t)u.ru_minflt + (uint64_t)u.ru_majflt;
}

/* CPU model name and the SIMD extensions the kernels care about, from /proc/cpuinfo. */
static void cpu_info(struct bench *b)
{
	static const char *const want[] = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni",
					   "amx_tile", "amx_bf16", "amx_int8"};
	snprintf(b->cpu, sizeof b->cpu, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[8192];
	bool name = false, flags = false;
	while ((!name || !flags) && fgets(line, sizeof line, f)) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		v += v[1] == ' ' ? 2 : 1;
		v[strcspn(v, "\n")] = 0;
		if (!name && !strncmp(line, "model name", 10)) {
			snprintf(b->cpu, sizeof b->cpu, "%s", v);
			name = true;
		} else if (!flags && !strncmp(line, "flags", 5)) {
			flags = true;
			for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
				size_t n = strlen(want[i]);
				for (const char *p = strstr(v, want[i]); p; p = strstr(p + 1, want[i]))
					if ((p == v || p[-1] == ' ') && (p[n] == ' ' || !p[n])) {
						size_t len = strlen(b->simd);
						snprintf(b->simd + len, sizeof b->simd - len, "%s%s",
							 len ? " " : "", want[i]);
						break;
					}
			}
		}
	}
	fclose(f);
}

/* What the measurements share besides the model: the random ids and logits for two rows. */
struct run {
	struct eng_model *m;
	const int32_t *ids;
	float *logits;
	size_t vocab;
};

/* Empties the sequence and prefills n of the random ids; *id: the greedy next token. */
static int fill(struct run *r, struct eng_state *st, size_t n, int32_t *id, struct err *e)
{
	eng_state_truncate(st, 0);
	int rc = eng_forward(st, r->ids, n, r->logits, false, e);
	*id = (int32_t)sampler_argmax(r->logits, r->vocab);
	return rc;
}

/* n greedy steps from *id (the token chosen for the next position; updated). */
static int greedy(struct run *r, struct eng_state *st, size_t n, int32_t *id, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		int rc = eng_forward(st, id, 1, r->logits, false, e);
		if (rc)
			return rc;
		*id = (int32_t)sampler_argmax(r->logits, r->vocab);
	}
	return 0;
}

static int measure_prefill(struct run *r, struct eng_state *st, size_t n, struct bench *b,
			   struct err *e)
{
	double t[PREFILL_RUNS];
	int32_t id;
	bench_phase("prefill of %zu tokens, %d times", n, PREFILL_RUNS);
	for (int i = 0; i < PREFILL_RUNS; i++) {
		double t0 = bench_now_s();
		int rc = fill(r, st, n, &id, e);
		if (rc)
			return rc;
		t[i] = bench_now_s() - t0;
	}
	b->prefill_tok_s = (double)n / bench_median(t, PREFILL_RUNS);
	return 0;
}

/* Decode at context `ctx`: the timed steps start with `ctx` positions cached. They run
   in slices, each after one pass of the paired probe; faults and tok/s count the steps
   only. */
static int measure_decode(struct run *r, struct eng_state *st, size_t ctx, size_t gen,
			  struct bench_probe *paired, struct decode_row *d, struct err *e)
{
	size_t prefill = ctx > WARMUP ? ctx - WARMUP : 1;
	int32_t id;
	bench_phase("decode at context %zu (prefill of %zu tokens first)", ctx, prefill);
	double t0 = bench_now_s();
	int rc = fill(r, st, prefill, &id, e);
	if (rc)
		return rc;
	d->ctx = ctx;
	d->fill_s = bench_now_s() - t0;
	if ((rc = greedy(r, st, ctx - prefill, &id, e)))
		return rc;
	d->slices = gen < DECODE_SLICES ? gen : DECODE_SLICES;
	uint64_t faults = 0;
	double spent = 0;
	for (size_t k = 0, done = 0; k < d->slices; k++) {
		size_t steps = gen * (k + 1) / d->slices - done;
		d->slice_probe[k] = bench_probe_pass(paired);
		uint64_t f0 = faults_now();
		t0 = bench_now_s();
		if ((rc = greedy(r, st, steps, &id, e)))
			return rc;
		double t = bench_now_s() - t0;
		faults += faults_now() - f0;
		spent += t;
		d->slice_tok_s[k] = (double)steps / t;
		done += steps;
	}
	d->tok_s = (double)gen / spent;
	d->faults = (double)faults / (double)gen;
	return 0;
}

/* The paired share of a decode row whose bytes per token are set: median over the
   slices of the slice's GB/s over its probe pass's. */
static void paired_share(struct decode_row *d)
{
	double share[DECODE_SLICES], probe[DECODE_SLICES];
	for (size_t k = 0; k < d->slices; k++) {
		share[k] = (double)d->bytes * d->slice_tok_s[k] * 1e-9 / d->slice_probe[k];
		probe[k] = d->slice_probe[k];
	}
	d->paired_share = bench_median(share, d->slices);
	d->paired_probe = bench_median(probe, d->slices);
}

/* Cost of the verify step: a 2-token forward over a 1-token one, both from context 16
   and with the logits a speculative decoder asks for, interleaved so that drift in the
   machine's speed hits both alike. */
static int measure_verify(struct run *r, struct eng_state *st, struct bench *b,
			  struct err *e)
{
	double ratio[VERIFY_RUNS];
	int32_t pair[2];
	bench_phase("2-token verify step against a 1-token step, %d times", VERIFY_RUNS);
	int rc = fill(r, st, VERIFY_CTX, &pair[0], e);
	pair[1] = pair[0];
	for (int i = -1; !rc && i < VERIFY_RUNS; i++) { /* i = -1: warm-up */
		double t0 = bench_now_s();
		rc = eng_forward(st, pair, 1, r->logits, false, e);
		double t1 = bench_now_s();
		eng_state_truncate(st, VERIFY_CTX);
		if (!rc)
			rc = eng_forward(st, pair, 2, r->logits, true, e);
		double t2 = bench_now_s();
		eng_state_truncate(st, VERIFY_CTX);
		if (i >= 0)
			ratio[i] = (t2 - t1) / (t1 - t0);
	}
	if (!rc)
		b->verify_cost = bench_median(ratio, VERIFY_RUNS);
	return rc;
}

/* n tokens or one more of greedy speculative decoding from *id: the MTP module drafts
   the token after *id, the main model runs both, and the draft stays when it is the
   main model's own greedy choice (as app/chat's --mtp on does, with argmax sampling). */
static int speculate(struct run *r, struct eng_state *st, size_t n, int32_t *id,
		     size_t *drafted, size_t *accepted, struct err *e)
{
	size_t V = r->vocab;
	for (size_t made = 0; made < n;) {
		size_t pos = eng_state_pos(st);
		int rc = eng_mtp_draft(st, *id, r->logits, e);
		if (rc)
			return rc;
		int32_t pair[2] = {*id, (int32_t)sampler_argmax(r->logits, V)};
		if ((rc = eng_forward(st, pair, 2, r->logits, true, e)))
			return rc;
		made++;
		(*drafted)++;
		*id = (int32_t)sampler_argmax(r->logits, V);
		if (*id != pair[1]) {
			eng_state_truncate(st, pos + 1);
			continue;
		}
		made++;
		(*accepted)++;
		*id = (int32_t)sampler_argmax(r->logits + V, V);
	}
	return 0;
}

static int measure_mtp(struct run *r, size_t ctx, size_t gen, struct bench *b, struct err *e)
{
	struct eng_state *st = NULL;
	size_t drafted = 0, accepted = 0;
	int32_t id;
	bench_phase("speculative decoding with the MTP module at context %zu", ctx);
	int rc = eng_state_new(r->m, (int64_t)(ctx + MTP_ROOM + gen), true, &st, e);
	if (rc)
		return rc;
	if (!(rc = fill(r, st, ctx, &id, e)))
		rc = speculate(r, st, WARMUP, &id, &drafted, &accepted, e);
	size_t start = eng_state_pos(st);
	drafted = accepted = 0;
	double t0 = bench_now_s();
	if (!rc)
		rc = speculate(r, st, gen, &id, &drafted, &accepted, e);
	if (!rc) {
		b->mtp_tokens = eng_state_pos(st) - start;
		b->mtp_tok_s = (double)b->mtp_tokens / (bench_now_s() - t0);
		b->mtp_accept = (double)accepted / (double)drafted;
		b->mtp_ran = true;
	}
	eng_state_free(st);
	return rc;
}

/* The best-of probe, with one thread and with the model's. */
static int probe_bandwidth(struct bench *b, struct err *e)
{
	struct bench_probe *p;
	int rc = bench_probe_open(PROBE_MAX, b->threads, &p, e);
	if (rc)
		return rc;
	b->probe_bytes = bench_probe_bytes(p);
	b->probe_1t = bench_probe_best(p, false);
	b->probe_nt = b->threads > 1 ? bench_probe_best(p, true) : b->probe_1t;
	bench_probe_close(p);
	return 0;
}

/* Runs every measurement on an opened model (the best-of probe excepted). */
static int measure(struct eng_model *m, const struct bench_opts *o, const size_t *ctxs,
		   size_t n_ctx, struct bench *b, struct err *e)
{
	const struct eng_config *c = eng_model_config(m);
	size_t gen = (size_t)o->gen, need = (size_t)o->prompt, longest = VERIFY_CTX;
	for (size_t i = 0; i < n_ctx; i++)
		longest = ctxs[i] > longest ? ctxs[i] : longest;
	if (longest + gen > need)
		need = longest + gen;
	if (need < VERIFY_CTX + 2)
		need = VERIFY_CTX + 2;

	/* The resume measurement reads its own sequences' worth of the same ids. */
	size_t n_ids = need;
	if (o->resume && (size_t)o->resume + BENCH_RESUME_NEW > n_ids)
		n_ids = (size_t)o->resume + BENCH_RESUME_NEW;

	struct run r = {.m = m, .vocab = (size_t)c->vocab_size};
	struct eng_state *st = NULL;
	struct bench_probe *paired = NULL;
	int32_t *ids = malloc(n_ids * sizeof *ids);
	r.logits = malloc(2 * r.vocab * sizeof *r.logits);
	r.ids = ids;
	int rc = 0;
	if (!ids || !r.logits) {
		rc = err_set(e, ERR_NOMEM, "out of memory for %zu token ids", n_ids);
		goto out;
	}
	uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64, fixed seed: the same ids every run */
	for (size_t i = 0; i < n_ids; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ids[i] = (int32_t)(x % r.vocab);
	}
	if ((rc = eng_state_new(m, (int64_t)need, false, &st, e)))
		goto out;
	if ((rc = measure_prefill(&r, st, (size_t)o->prompt, b, e)))
		goto out;
	if ((rc = bench_probe_open(PAIRED_PROBE, b->threads, &paired, e)))
		goto out;
	for (size_t i = 0; i < n_ctx; i++) {
		struct decode_row *d = &b->dec[b->n_dec];
		if ((rc = measure_decode(&r, st, ctxs[i], gen, paired, d, e)))
			goto out;
		/* Timed step i attends over ctx + i + 1 positions: ctx + (gen + 1) / 2 on average. */
		d->bytes = b->weight_bytes + b->kv_bytes * (ctxs[i] + (gen + 1) / 2);
		paired_share(d);
		b->faults += d->faults / (double)n_ctx; /* every run has gen steps */
		b->n_dec++;
	}
	bench_probe_close(paired); /* before the resident set is read */
	paired = NULL;
	if ((rc = measure_verify(&r, st, b, e)))
		goto out;
	if (o->mtp && (rc = measure_mtp(&r, ctxs[0], gen, b, e)))
		goto out;
	b->rss = bench_proc_kb("/proc/self/status", "VmRSS"); /* before --resume: comparable */
	if (o->resume) {
		eng_state_free(st);
		st = NULL;
		if ((rc = bench_resume_measure(m, ids, (size_t)o->resume, PREFILL_RUNS, &b->resume,
					       e)))
			goto out;
		b->resume_ran = true;
	}
out:
	bench_probe_close(paired);
	eng_state_free(st);
	free(r.logits);
	free(ids);
	return rc;
}

static double gb_s(const struct decode_row *d)
{
	return (double)d->bytes * d->tok_s * 1e-9;
}

static void print_text(const struct bench_opts *o, const char *kernels, const struct bench *b)
{
	char s1[32], s2[32];
	printf("machine        %s; SIMD: %s\n", b->cpu, b->simd[0] ? b->simd : "none of avx2, "
	       "avx512f, avx512_bf16, avx512_vnni, amx");
	printf("kernels        %s, %d thread%s, KV cache %s, output head %s\n", kernels,
	       b->threads, b->threads == 1 ? "" : "s", eng_kv_type_name(o->kvt), b->head);
	printf("model          %s\n", o->dir);
	fmt_bytes(s1, sizeof s1, (uint64_t)b->weight_bytes);
	fmt_bytes(s2, sizeof s2, (uint64_t)b->kv_bytes);
	printf("weights        %s read per decoded token (%llu B); KV cache %s per position\n",
	       s1, (unsigned long long)b->weight_bytes, s2);
	fmt_bytes(s1, sizeof s1, (uint64_t)b->probe_bytes);
	printf("read bandwidth %.1f GB/s with 1 thread, %.1f GB/s with %d (best pass over %s)\n",
	       b->probe_1t, b->probe_nt, b->threads, s1);
	printf("prefill        %.1f tok/s (%lld tokens, median of %d)\n", b->prefill_tok_s,
	       o->prompt, PREFILL_RUNS);
	printf("decode         %lld greedy steps per context (tok/s = steps / their time; "
	       "fill = prefill to the context)\n", o->gen);
	printf("  %8s %10s %12s %8s %9s %9s %10s %9s\n", "context", "tok/s", "bytes/token",
	       "GB/s", "of probe", "paired", "faults/tok", "fill");
	for (size_t i = 0; i < b->n_dec; i++) {
		const struct decode_row *d = &b->dec[i];
		fmt_bytes(s1, sizeof s1, (uint64_t)d->bytes);
		printf("  %8zu %10.1f %12s %8.2f %8.1f%% %8.1f%% %10.2f %8.2fs\n", d->ctx, d->tok_s,
		       s1, gb_s(d), 100 * gb_s(d) / b->probe_nt, 100 * d->paired_share, d->faults,
		       d->fill_s);
	}
	printf("  (paired: the median over %d slices of the steps of their GB/s over a probe "
	       "pass just before each)\n", DECODE_SLICES);
	printf("MTP verify     %.2fx: a 2-token step of the main model against a 1-token one, "
	       "at context %d\n", b->verify_cost, VERIFY_CTX);
	if (b->mtp_ran)
		printf("MTP decode     %.1f tok/s, %.0f%% of drafts accepted, %.2fx plain greedy "
		       "(%zu tokens at context %zu)\n", b->mtp_tok_s, 100 * b->mtp_accept,
		       b->mtp_tok_s / b->dec[0].tok_s, b->mtp_tokens, b->dec[0].ctx);
	else
		printf("MTP decode     not measured (--mtp measures it on a model with an MTP "
		       "module)\n");
	if (b->resume_ran) {
		const struct bench_resume *v = &b->resume;
		printf("resume         a %zu-token conversation and %d new tokens, to the last "
		       "logits (median of %d)\n", v->tokens, BENCH_RESUME_NEW, v->rounds);
		printf("  re-prefill   %10.1f ms  every token computed on an empty cache\n",
		       v->cold_ms);
		printf("  snapshot     %10.1f ms  %.3fx; loaded from the page cache, %d computed\n",
		       v->resume_ms, v->resume_ms / v->cold_ms, BENCH_RESUME_NEW);
		printf("  uncached     %10.1f ms  %.3fx; the file dropped from the page cache "
		       "first%s\n", v->uncached_ms, v->uncached_ms / v->cold_ms,
		       v->evicted ? "" : " (some pages stayed: not a disk read)");
		fmt_bytes(s1, sizeof s1, (uint64_t)v->snapshot_bytes);
		printf("  write        %10.1f ms  %s (%llu B), fsync included\n", v->write_ms, s1,
		       (unsigned long long)v->snapshot_bytes);
		if (v->identical)
			printf("  logits       the resumed runs' last logits equal the re-prefill's "
			       "bit for bit\n");
		else
			printf("  logits       the resumed runs' last logits differ from the "
			       "re-prefill's by up to %.3g of the largest\n", v->max_rel_diff);
	}
	fmt_bytes(s1, sizeof s1, (uint64_t)b->rss);
	printf("page faults    %.2f per decoded token (minor + major)\n", b->faults);
	printf("resident       %s after the run\n", s1);
}

/* json_object_set_new that records allocation failure instead of ignoring it. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *to_json(const struct bench_opts *o, const char *kernels, const struct bench *b)
{
	bool ok = true;
	json_t *j = json_object(), *dec = json_array(), *simd = json_array();
	if (!j || !dec || !simd) {
		json_decref(j);
		json_decref(dec);
		json_decref(simd);
		return NULL;
	}
	char flags[sizeof b->simd];
	snprintf(flags, sizeof flags, "%s", b->simd);
	for (char *save, *t = strtok_r(flags, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (json_array_append_new(simd, json_string(t)))
			ok = false;
	for (size_t i = 0; i < b->n_dec; i++) {
		const struct decode_row *d = &b->dec[i];
		json_t *r = json_object();
		if (!r || json_array_append_new(dec, r)) {
			ok = false;
			break;
		}
		put(r, "ctx", json_integer((json_int_t)d->ctx), &ok);
		put(r, "tok_s", json_real(d->tok_s), &ok);
		put(r, "gb_s", json_real(gb_s(d)), &ok);
		put(r, "probe_share", json_real(gb_s(d) / b->probe_nt), &ok);
		put(r, "paired_probe_gb_s", json_real(d->paired_probe), &ok);
		put(r, "paired_probe_share", json_real(d->paired_share), &ok);
		put(r, "bytes_per_token", json_integer((json_int_t)d->bytes), &ok);
		put(r, "faults_per_token", json_real(d->faults), &ok);
		put(r, "prefill_s", json_real(d->fill_s), &ok);
	}
	put(j, "model", json_string(o->dir), &ok);
	put(j, "cpu", json_string(b->cpu), &ok);
	put(j, "cpu_flags", simd, &ok);
	put(j, "kernels", json_string(kernels), &ok);
	put(j, "threads", json_integer(b->threads), &ok);
	put(j, "kv_type", json_string(eng_kv_type_name(o->kvt)), &ok);
	put(j, "head_type", json_string(b->head), &ok);
	put(j, "probe_bytes", json_integer((json_int_t)b->probe_bytes), &ok);
	put(j, "probe_gb_s_1t", json_real(b->probe_1t), &ok);
	put(j, "probe_gb_s", json_real(b->probe_nt), &ok);
	put(j, "prefill_tokens", json_integer(o->prompt), &ok);
	put(j, "prefill_tok_s", json_real(b->prefill_tok_s), &ok);
	put(j, "gen_tokens", json_integer(o->gen), &ok);
	put(j, "decode_tok_s", json_real(b->dec[0].tok_s), &ok);
	put(j, "decode", dec, &ok);
	put(j, "weight_bytes_per_token", json_integer((json_int_t)b->weight_bytes), &ok);
	put(j, "kv_bytes_per_position", json_integer((json_int_t)b->kv_bytes), &ok);
	put(j, "bytes_per_token", json_integer((json_int_t)b->dec[0].bytes), &ok);
	put(j, "faults_per_token", json_real(b->faults), &ok);
	put(j, "rss_bytes", json_integer((json_int_t)b->rss), &ok);
	put(j, "mtp_verify_cost", json_real(b->verify_cost), &ok);
	json_t *mtp = json_null();
	if (b->mtp_ran && (mtp = json_object())) {
		put(mtp, "ctx", json_integer((json_int_t)b->dec[0].ctx), &ok);
		put(mtp, "tokens", json_integer((json_int_t)b->mtp_tokens), &ok);
		put(mtp, "tok_s", json_real(b->mtp_tok_s), &ok);
		put(mtp, "acceptance", json_real(b->mtp_accept), &ok);
		put(mtp, "speedup", json_real(b->mtp_tok_s / b->dec[0].tok_s), &ok);
	}
	put(j, "mtp_decode", mtp, &ok);
	if (b->resume_ran) {
		const struct bench_resume *v = &b->resume;
		put(j, "resume_tokens", json_integer((json_int_t)v->tokens), &ok);
		put(j, "resume_cold_ms", json_real(v->cold_ms), &ok);
		put(j, "resume_ms", json_real(v->resume_ms), &ok);
		put(j, "resume_uncached_ms", json_real(v->uncached_ms), &ok);
		put(j, "resume_ratio", json_real(v->resume_ms / v->cold_ms), &ok);
		put(j, "resume_evicted", json_boolean(v->evicted), &ok);
		put(j, "snapshot_bytes", json_integer((json_int_t)v->snapshot_bytes), &ok);
		put(j, "snapshot_write_ms", json_real(v->write_ms), &ok);
		put(j, "resume_logits_identical", json_boolean(v->identical), &ok);
		put(j, "resume_max_rel_diff", json_real(v->max_rel_diff), &ok);
	}
	if (!ok) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static const char usage_text[] =
	"usage: ponder bench [-m DIR] [--json] [-t N] [--ctx N] [--prompt N] [--gen N]\n"
	"                    [--kernels NAME] [--kv-type f32|bf16|fp8] [--head bf16|fp8]\n"
	"                    [--mtp] [--resume N]\n"
	"  Measures memory bandwidth, prefill and decode speed, bytes read per token and\n"
	"  the MTP verify cost of the model in DIR (default: $PONDER_MODEL, else the demo\n"
	"  model). Defaults: --prompt 512, --gen 64, contexts 16, 4096 and 16384.\n"
	"  --resume N also times continuing an N-token conversation from a KV snapshot\n"
	"  against computing it again (0, the default: not measured).\n";

static const struct option bench_opts_table[] = {
	{"model", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
	{"threads", required_argument, NULL, 't'}, {"ctx", required_argument, NULL, 'c'},
	{"prompt", required_argument, NULL, 'p'}, {"gen", required_argument, NULL, 'g'},
	{"kernels", required_argument, NULL, 'K'}, {"kv-type", required_argument, NULL, 'V'},
	{"head", required_argument, NULL, 'H'}, {"mtp", no_argument, NULL, 'M'},
	{"resume", required_argument, NULL, 'R'}, {"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* 1 for --help (usage printed), 0 parsed, or ERR_USAGE naming the option. */
static int parse_args(int argc, char **argv, struct bench_opts *o, struct err *e)
{
	*o = (struct bench_opts){.prompt = 512, .gen = 64, .kvt = ENG_KV_BF16};
	optind = 0; /* GNU: full re-initialisation */
	opterr = 0;
	long long n;
	int ch, rc = 0;
	while (!rc && (ch = getopt_long(argc, argv, "+:m:jt:h", bench_opts_table, NULL)) != -1) {
		switch (ch) {
		case 'm': o->dir = optarg; break;
		case 'j': o->json = true; break;
		case 'M': o->mtp = true; break;
		case 'K': o->kernels = optarg; break;
		case 't':
			rc = app_parse_int("threads", optarg, 1, 4096, &n, e);
			o->threads = (int)n;
			break;
		case 'c': rc = app_parse_int("ctx", optarg, 1, INT32_MAX, &o->ctx, e); break;
		case 'p': rc = app_parse_int("prompt", optarg, 1, INT32_MAX, &o->prompt, e); break;
		case 'g': rc = app_parse_int("gen", optarg, 1, INT32_MAX, &o->gen, e); break;
		case 'R': rc = app_parse_int("resume", optarg, 0, INT32_MAX, &o->resume, e); break;
		case 'V': rc = eng_kv_type_parse(optarg, &o->kvt, e); break;
		case 'H': rc = eng_head_type_parse(optarg, &o->head, e); break;
		case 'h': fputs(usage_text, stdout); return 1;
		case ':':
			for (const struct option *p = bench_opts_table; p->name; p++)
				if (p->val == optopt)
					return err_set(e, ERR_USAGE, "--%s needs a value; see ponder "
						       "bench --help", p->name);
			return err_set(e, ERR_USAGE, "-%c needs a value", optopt);
		default:
			return err_set(e, ERR_USAGE, "unknown option %s; see ponder bench --help",
				       argv[optind - 1]);
		}
	}
	if (!rc && optind < argc)
		rc = err_set(e, ERR_USAGE, "unexpected argument \"%s\"; see ponder bench --help",
			     argv[optind]);
	return rc;
}

/* The decode contexts: --ctx alone, or the defaults that fit with --gen steps after. */
static int pick_contexts(const struct bench_opts *o, const struct eng_config *c,
			 size_t *ctxs, size_t *n, struct err *e)
{
	static const size_t defaults[MAX_CTXS] = {16, 4096, 16384};
	long long max = c->max_position_embeddings;
	if (o->prompt > max)
		return err_set(e, ERR_USAGE, "--prompt %lld is more than the model's context of "
			       "%lld tokens; lower --prompt", o->prompt, max);
	/* Positions each run needs after its context; the MTP run at the first context needs
	   a few more. */
	if (o->resume && o->resume + BENCH_RESUME_ROOM > max)
		return err_set(e, ERR_USAGE, "--resume %lld plus %d positions for the new message "
			       "is more than the model's context of %lld tokens; lower --resume",
			       o->resume, BENCH_RESUME_ROOM, max);
	long long room = o->gen + (o->mtp ? MTP_ROOM : 0);
	*n = 0;
	if (o->ctx) {
		if (o->ctx + room > max)
			return err_set(e, ERR_USAGE, "--ctx %lld plus %lld decoded tokens (--gen%s) "
				       "is more than the model's context of %lld tokens; lower --ctx "
				       "or --gen", o->ctx, room, o->mtp ? " and the MTP run" : "", max);
		ctxs[(*n)++] = (size_t)o->ctx;
		return 0;
	}
	for (size_t i = 0; i < MAX_CTXS; i++)
		if ((long long)defaults[i] + room <= max)
			ctxs[(*n)++] = defaults[i];
	if (!*n)
		return err_set(e, ERR_USAGE, "--gen %lld after a context of %zu is more than the "
			       "model's context of %lld tokens; lower --gen", o->gen, defaults[0],
			       max);
	return 0;
}

int app_cmd_bench(int argc, char **argv, struct err *e)
{
	struct bench_opts o;
	int rc = parse_args(argc, argv, &o, e);
	if (rc)
		return rc > 0 ? 0 : rc;
	if (!o.dir) {
		const char *env = getenv("PONDER_MODEL");
		if (env && *env)
			o.dir = env;
	}
	char demo[4096];
	if (!o.dir) {
		if (app_demo_model_dir(demo, sizeof demo, e))
			return e->code = ERR_MODEL;
		o.dir = demo;
	}

	struct eng_opts eo = {.threads = o.threads, .kernels = o.kernels, .load_mtp = o.mtp,
			      .kv_type = o.kvt, .head = o.head};
	struct eng_model *m = NULL;
	struct bench b = {0};
	size_t ctxs[MAX_CTXS], n_ctx;
	if ((rc = eng_model_open(o.dir, &eo, &m, e))) {
		/* Exit 3 whatever stopped the load, as in every mode that loads a model. */
		if (rc != ERR_USAGE)
			rc = e->code = ERR_MODEL;
		goto out;
	}
	if (o.mtp && !eng_model_has_mtp(m)) {
		rc = err_set(e, ERR_UNSUPPORTED, "%s has no MTP module (num_nextn_predict_layers "
			     "is 0 or its weights are absent); drop --mtp", o.dir);
		goto out;
	}
	const struct eng_config *c = eng_model_config(m);
	if ((rc = pick_contexts(&o, c, ctxs, &n_ctx, e)))
		goto out;
	cpu_info(&b);
	b.threads = eng_model_threads(m);
	b.head = eng_head_type_name(eng_model_head_type(m));
	b.weight_bytes = eng_decode_weight_bytes(m);
	b.kv_bytes = eng_kv_bytes_per_token(c, false, o.kvt);
	bench_phase("read bandwidth probe");
	if ((rc = probe_bandwidth(&b, e)) || (rc = measure(m, &o, ctxs, n_ctx, &b, e)))
		goto out;

	if (o.json) {
		json_t *j = to_json(&o, eng_model_kernels(m), &b);
		char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(j);
		if (!s) {
			rc = err_set(e, ERR_NOMEM, "out of memory building JSON");
			goto out;
		}
		printf("%s\n", s);
		free(s);
	} else {
		print_text(&o, eng_model_kernels(m), &b);
	}
	if (fflush(stdout) != 0)
		rc = err_set(e, ERR_IO, "writing to standard output: %s", strerror(errno));
out:
	eng_model_close(m);
	return rc;
}
