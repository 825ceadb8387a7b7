/*
 * bench_history.c — speed of the history store at 10,000 conversations / 100,000
 * messages: `history search`, `history list`, and one streamed update.
 *
 *   build/tools/bench_history [--conversations N] [--keep PATH]
 *
 * Builds a temporary file in one transaction (5 questions and 5 answers per
 * conversation; words drawn from a 5,000-word vocabulary with a Zipf distribution, so a
 * few words are in almost every message and most are rare), then reports medians:
 *   search  hist_search, top 20 by bm25 rank with snippets, for a word in ~all messages,
 *           one in ~30% of them, and a rare one; and the whole `ponder history search`
 *           command (open, query, print to /dev/null);
 *   list    hist_list of the latest 50, and the whole `ponder history list -n 50`;
 *   update  one hist_message_update that writes (BEGIN IMMEDIATE, UPDATE, COMMIT in WAL
 *           mode) with reasoning + answer growing to 30 kB, median and 99th percentile
 *           over 1000;
 *           and a throttled call (nothing written).
 * Targets (issue 5): search <= 50 ms, list <= 20 ms, update < 1 ms.
 */
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/commands.h"
#include "history/history.h"
#include "history/store.h"

#define VOCAB 5000

static char vocab[VOCAB][16];
static double cdf[VOCAB];
static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return rng;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void make_vocab(void)
{
	static const char *syl[] = {"ka", "lo", "mi", "nu", "pe", "ra", "so", "ti", "ve", "zu",
				    "ba", "do", "fe", "gi", "ho", "ju", "ky", "ly", "my", "ny"};
	double sum = 0;
	for (int i = 0; i < VOCAB; i++) {
		int v = i, o = 0;
		do {
			memcpy(vocab[i] + o, syl[v % 20], 2);
			o += 2;
			v /= 20;
		} while (v);
		memcpy(vocab[i] + o, "x", 2); /* "x" keeps every word >= 3 letters */
		sum += 1.0 / (i + 1);
		cdf[i] = sum;
	}
	for (int i = 0; i < VOCAB; i++)
		cdf[i] /= sum;
}

static int zipf_word(void)
{
	double u = (double)(next() >> 11) / 9007199254740992.0;
	int lo = 0, hi = VOCAB - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t sentence(char *buf, size_t size, int words)
{
	size_t o = 0;
	for (int i = 0; i < words; i++) {
		const char *w = vocab[zipf_word()];
		size_t l = strlen(w);
		if (o + l + 3 >= size)
			break;
		memcpy(buf + o, w, l);
		o += l;
		buf[o++] = (i % 12 == 11) ? '.' : ' ';
		if (i % 12 == 11)
			buf[o++] = ' ';
	}
	buf[o] = '\0';
	return o;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* Runs `ponder history ARGS` with stdout on /dev/null; returns ms. */
static double time_cmd(char **argv, int argc)
{
	fflush(stdout);
	int saved = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	close(null);
	struct err e = {0};
	double t0 = now_ms();
	int rc = app_cmd_history(argc, argv, &e);
	fflush(stdout);
	double t = now_ms() - t0;
	dup2(saved, 1);
	close(saved);
	if (rc)
		fprintf(stderr, "command failed: %s\n", e.msg);
	return t;
}

static int64_t count_matches(struct hist_db *db, const char *word)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	sqlite3_prepare_v2(hist_store_sqlite(db),
			   "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1", -1, &st,
			   NULL);
	sqlite3_bind_text(st, 1, word, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int main(int argc, char **argv)
{
	int nconv = 10000;
	const char *keep = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--conversations") && i + 1 < argc)
			nconv = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
			keep = argv[++i];
		else {
			fprintf(stderr, "usage: bench_history [--conversations N] [--keep PATH]\n");
			return 2;
		}
	}
	char dir[] = "/tmp/ponder-bench-history-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[600];
	snprintf(path, sizeof path, "%s/history.db", dir);
	if (keep)
		snprintf(path, sizeof path, "%s", keep);
	make_vocab();

	struct hist_db *db = NULL;
	struct err e = {0};
	if (hist_open(path, NULL, &db, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	static char q[2048], r[8192], a[8192];
	double t0 = now_ms();
	int rc = hist_batch_begin(db, &e);
	for (int c = 0; c < nconv && !rc; c++) {
		int64_t cid, mid;
		rc |= hist_conversation_new(db, NULL, "bench-model", NULL, &cid, &e);
		for (int t = 0; t < 5 && !rc; t++) {
			size_t ql = sentence(q, sizeof q, 15);
			rc |= hist_message_add_user(db, cid, q, ql, &mid, &e);
			struct hist_params p = HIST_PARAMS_NONE;
			p.temperature = 0.6;
			rc |= hist_message_begin_assistant(db, cid, "bench-model", &p, &mid, &e);
			size_t rl = sentence(r, sizeof r, 150), al = sentence(a, sizeof a, 80);
			struct hist_stats s = {15, 150, 80, 500.0, 20.0, 0.8, 150.0};
			rc |= hist_message_finish(db, mid, HIST_COMPLETE, NULL, r, rl, a, al, &s, &e);
		}
	}
	if (!rc)
		rc = hist_batch_end(db, &e);
	if (rc) {
		fprintf(stderr, "building: %s\n", e.msg);
		return 1;
	}
	double build = now_ms() - t0;
	hist_close(db);
	struct stat st;
	stat(path, &st);
	printf("built %d conversations / %d messages in %.1f s, file %.1f MB\n", nconv, nconv * 10,
	       build / 1e3, st.st_size / 1e6);

	hist_open(path, NULL, &db, &e);
	enum { RUNS = 21 };
	double v[1000];
	/* Words by frequency rank: ~every message, ~30% of them, rare. */
	const int ranks[3] = {0, 60, 3000};
	for (int k = 0; k < 3; k++) {
		const char *w = vocab[ranks[k]];
		size_t n = 0;
		for (int i = 0; i < RUNS; i++) {
			struct hist_hit *h;
			double s0 = now_ms();
			if (hist_search(db, w, "\x1b[1m", "\x1b[0m", 20, &h, &n, &e)) {
				fprintf(stderr, "search: %s\n", e.msg);
				return 1;
			}
			v[i] = now_ms() - s0;
			hist_hits_free(h, n);
		}
		printf("search '%s' (%lld matching messages): %.2f ms median, %zu hits shown\n", w,
		       (long long)count_matches(db, w), median(v, RUNS), n);
	}
	for (int i = 0; i < RUNS; i++) {
		struct hist_conversation *c;
		size_t n;
		double s0 = now_ms();
		hist_list(db, 50, &c, &n, &e);
		v[i] = now_ms() - s0;
		hist_conversations_free(c, n);
	}
	printf("list latest 50: %.2f ms median\n", median(v, RUNS));

	char *sargv[] = {"history", "--db", path, "search", vocab[60], NULL};
	for (int i = 0; i < RUNS; i++)
		v[i] = time_cmd(sargv, 5);
	printf("command `history search %s` (open + query + print): %.2f ms median\n", vocab[60],
	       median(v, RUNS));
	sargv[4] = vocab[0];
	for (int i = 0; i < RUNS; i++)
		v[i] = time_cmd(sargv, 5);
	printf("command `history search %s` (open + query + print): %.2f ms median\n", vocab[0],
	       median(v, RUNS));
	char *largv[] = {"history", "--db", path, "list", "-n", "50", NULL};
	for (int i = 0; i < RUNS; i++)
		v[i] = time_cmd(largv, 6);
	printf("command `history list -n 50` (open + query + print): %.2f ms median\n",
	       median(v, RUNS));

	/* Streaming: 1000 written updates of a growing answer. */
	int64_t cid, mid;
	hist_conversation_new(db, NULL, "bench-model", NULL, &cid, &e);
	hist_message_begin_assistant(db, cid, "bench-model", NULL, &mid, &e);
	hist_set_flush_ms(db, 0);
	static char text[20 * 1000 + 1];
	for (size_t i = 0; i < sizeof text - 1; i++)
		text[i] = "abcdefgh "[i % 9];
	for (int i = 0; i < 1000; i++) {
		struct hist_stats s = HIST_STATS_NONE;
		s.answer_tokens = i;
		double s0 = now_ms();
		if (hist_message_update(db, mid, text, (size_t)i * 10, text, (size_t)i * 20, &s, &e)) {
			fprintf(stderr, "update: %s\n", e.msg);
			return 1;
		}
		v[i] = now_ms() - s0;
	}
	qsort(v, 1000, sizeof *v, cmp_double);
	printf("streamed update (written, reasoning + answer growing to 30 kB): %.3f ms median, "
	       "%.3f ms p99\n",
	       v[500], v[990]);
	hist_set_flush_ms(db, 60000);
	hist_message_update(db, mid, text, 10, text, 10, NULL, &e);
	double s0 = now_ms();
	for (int i = 0; i < 100000; i++)
		hist_message_update(db, mid, text, 10, text, 10, NULL, &e);
	printf("throttled update (nothing written): %.1f ns\n", (now_ms() - s0) * 1e6 / 100000);
	hist_message_finish(db, mid, HIST_COMPLETE, NULL, text, 10, text, 10, NULL, &e);
	hist_close(db);
	if (!keep)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		rmdir(dir);
	return 0;
}
