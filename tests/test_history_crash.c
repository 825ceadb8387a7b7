/*
 * test_history_crash.c — the history store across processes:
 *  - kill -9 in the middle of streaming, several times into one file: on reopen
 *    PRAGMA integrity_check is ok and every write the child reported committed is there
 *    (the child reports on a pipe only after the call returned, i.e. after COMMIT);
 *  - three processes creating and writing one new file at once while a fourth reads:
 *    no call fails (no SQLITE_BUSY reaches the caller) and no turn is lost; and six
 *    processes racing to create the same new file, several times;
 *  - recovery: an answer left 'streaming' by a dead process becomes 'interrupted' on the
 *    next open, while one being streamed by a live process is left alone.
 */
#include "tests/check.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "history/history.h"
#include "history/store.h"

static char tmpdir[256];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* Deterministic text for message seed s: ASCII words with some multi-byte characters,
   never a NUL. */
#define TEXT_MAX 4000
static void gen_text(uint64_t s, char *buf)
{
	static const char *const w[] = {"lorem ", "ipsum ", "δέλτα ", "quokka ", "数据 ", "x ",
					"'q' ", "\"dq\" ", "\n"};
	uint64_t r = s * 0x9e3779b97f4a7c15ull + 1;
	size_t o = 0;
	while (o < TEXT_MAX) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		const char *p = w[r % 9];
		size_t l = strlen(p);
		if (o + l > TEXT_MAX)
			p = "z", l = 1;
		memcpy(buf + o, p, l);
		o += l;
	}
}

static void user_text(int64_t turn, int who, char *buf, size_t size)
{
	snprintf(buf, size, "question %lld from writer %d: what's 'this' \"thing\"? ');--",
		 (long long)turn, who);
}

/* A committed write, as the child reports it. */
struct rec {
	char kind;    /* 'U' user saved, 'B' answer begun, 'A' update, 'F' finished */
	int64_t mid;
	int64_t a, b; /* U: turn; A/F: reasoning and answer lengths */
};

static void report(int fd, char kind, int64_t mid, int64_t a, int64_t b)
{
	struct rec r = {kind, mid, a, b};
	if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
		_exit(9);
}

/*
 * Saves turns forever (or `turns` of them), streaming each answer in 40 committed
 * updates, reporting every committed write on fd. Exits 0 when done, 1 on any error.
 */
static void writer(const char *path, int who, int turns, int fd)
{
	struct hist_db *db = NULL;
	struct err e = {0};
	if (hist_open(path, NULL, &db, &e)) {
		fprintf(stderr, "  writer %d: open: %s\n", who, e.msg);
		_exit(1);
	}
	hist_set_flush_ms(db, 0);
	static char r[TEXT_MAX], a[TEXT_MAX];
	int64_t cid = 0;
	for (int64_t t = 0; turns < 0 || t < turns; t++) {
		int rc = 0;
		if (t % 3 == 0)
			rc |= hist_conversation_new(db, NULL, "model", "sys", &cid, &e);
		char q[200];
		user_text(t, who, q, sizeof q);
		int64_t umid, amid;
		rc |= hist_message_add_user(db, cid, q, strlen(q), &umid, &e);
		if (!rc)
			report(fd, 'U', umid, t, who);
		struct hist_params p = HIST_PARAMS_NONE;
		p.temperature = 0.6;
		rc |= hist_message_begin_assistant(db, cid, "model", &p, &amid, &e);
		if (!rc)
			report(fd, 'B', amid, 0, 0);
		gen_text((uint64_t)amid * 2, r);
		gen_text((uint64_t)amid * 2 + 1, a);
		for (int k = 1; k <= 40 && !rc; k++) {
			int64_t rl = k * 97 < TEXT_MAX ? k * 97 : TEXT_MAX;
			int64_t al = k * 61 < TEXT_MAX ? k * 61 : TEXT_MAX;
			struct hist_stats s = HIST_STATS_NONE;
			s.answer_tokens = k;
			rc |= hist_message_update(db, amid, r, (size_t)rl, a, (size_t)al, &s, &e);
			if (!rc)
				report(fd, 'A', amid, rl, al);
		}
		if (!rc)
			rc |= hist_message_finish(db, amid, HIST_COMPLETE, NULL, r, TEXT_MAX, a,
						  TEXT_MAX, NULL, &e);
		if (!rc)
			report(fd, 'F', amid, TEXT_MAX, TEXT_MAX);
		if (rc || !hist_can_save(db)) {
			fprintf(stderr, "  writer %d: turn %lld: %s\n", who, (long long)t, e.msg);
			_exit(1);
		}
	}
	hist_close(db);
	_exit(0);
}

static int sql_ok(const char *path, const char *q)
{
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_open_v2(path, &s, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
		 sqlite3_prepare_v2(s, q, -1, &st, NULL) == SQLITE_OK &&
		 sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		 !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	sqlite3_close(s);
	return ok;
}

static int fts_consistent(struct hist_db *db)
{
	return sqlite3_exec(hist_store_sqlite(db),
			    "INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)",
			    NULL, NULL, NULL) == SQLITE_OK;
}

/* One message by id (linear search over its conversation is fine at this size). */
static int find_message(struct hist_db *db, int64_t mid, struct hist_message **all, size_t *n,
			struct hist_message **out)
{
	*out = NULL;
	sqlite3_stmt *st = NULL;
	int64_t cid = 0;
	sqlite3_prepare_v2(hist_store_sqlite(db), "SELECT conversation_id FROM messages WHERE id=?",
			   -1, &st, NULL);
	sqlite3_bind_int64(st, 1, mid);
	if (sqlite3_step(st) == SQLITE_ROW)
		cid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (!cid)
		return -1;
	struct err e;
	if (hist_conversation_messages(db, cid, all, n, &e))
		return -1;
	for (size_t i = 0; i < *n; i++)
		if ((*all)[i].id == mid)
			*out = &(*all)[i];
	return *out ? 0 : -1;
}

/* Checks that every reported write is in the file. Returns failures. */
static int verify(struct hist_db *db, const struct rec *r, size_t n)
{
	static char txt[TEXT_MAX];
	int bad = 0;
	/* The last report per message wins: it is the longest committed text. */
	for (size_t i = 0; i < n; i++) {
		int last = 1;
		for (size_t j = i + 1; j < n && last; j++)
			last = r[j].mid != r[i].mid;
		if (!last)
			continue;
		struct hist_message *all = NULL, *m;
		size_t cnt = 0;
		if (find_message(db, r[i].mid, &all, &cnt, &m)) {
			CHECK(0, "message %lld (%c) lost", (long long)r[i].mid, r[i].kind);
			bad++;
			continue;
		}
		if (r[i].kind == 'U') {
			char q[200];
			user_text(r[i].a, (int)r[i].b, q, sizeof q);
			if (m->content_len != strlen(q) || memcmp(m->content, q, m->content_len)) {
				CHECK(0, "question %lld differs", (long long)r[i].mid);
				bad++;
			}
		} else {
			int64_t rl = r[i].kind == 'B' ? 0 : r[i].a, al = r[i].kind == 'B' ? 0 : r[i].b;
			gen_text((uint64_t)m->id * 2, txt);
			int ok = (int64_t)m->reasoning_len >= rl && m->reasoning_len <= TEXT_MAX &&
				 !memcmp(m->reasoning, txt, m->reasoning_len);
			gen_text((uint64_t)m->id * 2 + 1, txt);
			ok = ok && (int64_t)m->content_len >= al && m->content_len <= TEXT_MAX &&
			     !memcmp(m->content, txt, m->content_len);
			if (r[i].kind == 'F')
				ok = ok && m->status == HIST_COMPLETE;
			else
				ok = ok && (m->status == HIST_INTERRUPTED || m->status == HIST_COMPLETE);
			if (!ok) {
				CHECK(0, "answer %lld (%c): %zu/%lld bytes, status %s", (long long)m->id,
				      r[i].kind, m->content_len, (long long)al,
				      hist_status_name(m->status));
				bad++;
			}
		}
		hist_messages_free(all, cnt);
	}
	return bad;
}

static size_t read_recs(int fd, struct rec **v, size_t *cap, size_t n, size_t stop_at)
{
	while (n < stop_at) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			*v = realloc(*v, *cap * sizeof **v);
		}
		ssize_t k = read(fd, &(*v)[n], sizeof **v);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (k != (ssize_t)sizeof **v)
			break; /* records are written whole; a short one means the pipe broke */
		n++;
	}
	return n;
}

static void test_kill9_midstream(void)
{
	char path[400];
	snprintf(path, sizeof path, "%s/kill.db", tmpdir);
	struct rec *recs = NULL;
	size_t cap = 0, total = 0;
	int rounds = 5;
	for (int round = 0; round < rounds; round++) {
		int fds[2];
		if (pipe(fds)) {
			CHECK(0, "pipe");
			return;
		}
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[0]);
			writer(path, round, -1, fds[1]);
		}
		close(fds[1]);
		/* Kill at a different point each round, usually mid-stream. */
		size_t want = total + 97 + (size_t)round * 211;
		size_t got = read_recs(fds[0], &recs, &cap, total, want);
		kill(pid, SIGKILL);
		int st;
		waitpid(pid, &st, 0);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "round %d: child killed (%d)",
		      round, st);
		/* Reports already in the pipe were committed before the kill. */
		got = read_recs(fds[0], &recs, &cap, got, (size_t)-1);
		close(fds[0]);
		CHECK(got > total, "round %d: child reported progress", round);
		total = got;

		CHECK(sql_ok(path, "PRAGMA integrity_check"), "round %d: integrity_check", round);
		struct hist_db *db = NULL;
		struct err e = {0};
		CHECK(hist_open(path, NULL, &db, &e) == 0 && hist_can_save(db), "round %d: reopen: %s",
		      round, e.msg);
		if (!db)
			break;
		CHECK(verify(db, recs, total) == 0, "round %d: committed turns present", round);
		sqlite3_stmt *q = NULL;
		sqlite3_prepare_v2(hist_store_sqlite(db),
				   "SELECT count(*) FROM messages WHERE status = 'streaming'", -1, &q,
				   NULL);
		CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0,
		      "round %d: the dead writer's answer is marked interrupted", round);
		sqlite3_finalize(q);
		CHECK(fts_consistent(db), "round %d: search index consistent", round);
		hist_close(db);
		CHECK(sql_ok(path, "PRAGMA integrity_check"), "round %d: integrity after", round);
	}
	free(recs);
	/* The kills landed mid-stream (40 of every 43 writes are updates), so recovery ran. */
	struct hist_db *db = NULL;
	struct err e = {0};
	hist_open(path, NULL, &db, &e);
	sqlite3_stmt *q = NULL;
	sqlite3_prepare_v2(hist_store_sqlite(db),
			   "SELECT count(*) FROM messages WHERE status = 'interrupted'", -1, &q, NULL);
	CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) >= 1,
	      "some answers were cut by the kills and recovered");
	sqlite3_finalize(q);
	hist_close(db);
}

static void test_concurrent_writers(void)
{
	char path[400];
	snprintf(path, sizeof path, "%s/shared.db", tmpdir); /* does not exist yet */
	enum { WRITERS = 3, TURNS = 25 };
	int go[2], out[WRITERS][2];
	if (pipe(go)) {
		CHECK(0, "pipe");
		return;
	}
	pid_t pids[WRITERS + 1];
	fflush(NULL);
	for (int w = 0; w <= WRITERS; w++) {
		if (w < WRITERS && pipe(out[w])) {
			CHECK(0, "pipe");
			return;
		}
		pids[w] = fork();
		if (pids[w] == 0) {
			close(go[1]);
			char start;
			if (read(go[0], &start, 1) != 0) /* wait for the start: the pipe closing */
				_exit(7);
			if (w < WRITERS) {
				close(out[w][0]);
				writer(path, w, TURNS, out[w][1]);
			}
			/* The reader: lists and searches while the others write. */
			struct timespec ts = {0, 20000000};
			nanosleep(&ts, NULL);
			struct hist_db *db = NULL;
			struct err e = {0};
			if (hist_open(path, NULL, &db, &e)) {
				fprintf(stderr, "  reader: open: %s\n", e.msg);
				_exit(1);
			}
			for (int i = 0; i < 200; i++) {
				struct hist_conversation *c;
				struct hist_hit *h;
				size_t n;
				if (hist_list(db, 50, &c, &n, &e)) {
					fprintf(stderr, "  reader: list: %s\n", e.msg);
					_exit(1);
				}
				hist_conversations_free(c, n);
				if (hist_search(db, "quokka", "[", "]", 20, &h, &n, &e)) {
					fprintf(stderr, "  reader: search: %s\n", e.msg);
					_exit(1);
				}
				hist_hits_free(h, n);
			}
			hist_close(db);
			_exit(0);
		}
		if (w < WRITERS)
			close(out[w][1]);
	}
	close(go[0]);
	close(go[1]); /* everyone starts now, racing to create the file */
	struct rec *recs[WRITERS] = {0};
	size_t n[WRITERS] = {0};
	for (int w = 0; w < WRITERS; w++) {
		size_t cap = 0;
		n[w] = read_recs(out[w][0], &recs[w], &cap, 0, (size_t)-1);
		close(out[w][0]);
	}
	for (int w = 0; w <= WRITERS; w++) {
		int st;
		waitpid(pids[w], &st, 0);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d: every call succeeded (%d)",
		      w, st);
	}
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(path, NULL, &db, &e) == 0, "open: %s", e.msg);
	if (!db)
		return;
	size_t all = 0;
	for (int w = 0; w < WRITERS; w++) {
		CHECK(n[w] == (size_t)TURNS * 43, "writer %d reported %zu writes", w, n[w]);
		CHECK(verify(db, recs[w], n[w]) == 0, "writer %d: all turns present", w);
		all += n[w];
		free(recs[w]);
	}
	sqlite3_stmt *q = NULL;
	sqlite3_prepare_v2(hist_store_sqlite(db), "SELECT count(*) FROM messages", -1, &q, NULL);
	CHECK(sqlite3_step(q) == SQLITE_ROW &&
		      sqlite3_column_int(q, 0) == WRITERS * TURNS * 2,
	      "message count");
	sqlite3_finalize(q);
	CHECK(fts_consistent(db), "search index consistent");
	hist_close(db);
	CHECK(sql_ok(path, "PRAGMA integrity_check"), "integrity_check");
}

/* Many processes opening one file that does not exist yet, at the same moment. */
static void test_concurrent_create(void)
{
	enum { PROCS = 12, ROUNDS = 6 };
	for (int round = 0; round < ROUNDS; round++) {
		char path[400];
		snprintf(path, sizeof path, "%s/create-%d.db", tmpdir, round);
		int go[2];
		if (pipe(go)) {
			CHECK(0, "pipe");
			return;
		}
		pid_t pids[PROCS];
		fflush(NULL);
		for (int p = 0; p < PROCS; p++) {
			pids[p] = fork();
			if (pids[p] == 0) {
				close(go[1]);
				char start;
				if (read(go[0], &start, 1) != 0)
					_exit(7);
				struct hist_db *db = NULL;
				struct err e = {0};
				int64_t cid, mid;
				if (hist_open(path, NULL, &db, &e) || !hist_can_save(db) ||
				    hist_conversation_new(db, NULL, "m", NULL, &cid, &e) ||
				    hist_message_add_user(db, cid, "hello", 5, &mid, &e) || !mid) {
					fprintf(stderr, "  process %d: %s\n", p, e.msg);
					_exit(1);
				}
				hist_close(db);
				_exit(0);
			}
		}
		close(go[0]);
		close(go[1]);
		int failed = 0;
		for (int p = 0; p < PROCS; p++) {
			int st;
			waitpid(pids[p], &st, 0);
			failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
		CHECK(failed == 0, "round %d: %d of %d processes failed", round, failed, PROCS);
		struct hist_db *db = NULL;
		struct err e = {0};
		struct hist_conversation *c;
		size_t n = 0;
		hist_open(path, NULL, &db, &e);
		CHECK(hist_list(db, 100, &c, &n, &e) == 0 && n == PROCS, "round %d: %zu conversations",
		      round, n);
		hist_conversations_free(c, n);
		hist_close(db);
	}
}

static void test_recovery_live_and_dead(void)
{
	char path[400];
	snprintf(path, sizeof path, "%s/recover.db", tmpdir);
	int up[2], hold[2];
	if (pipe(up) || pipe(hold)) {
		CHECK(0, "pipe");
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(up[0]);
		close(hold[1]);
		struct hist_db *db = NULL;
		struct err e = {0};
		if (hist_open(path, NULL, &db, &e))
			_exit(1);
		hist_set_flush_ms(db, 0);
		int64_t cid, mid;
		hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
		hist_message_begin_assistant(db, cid, "m", NULL, &mid, &e);
		hist_message_update(db, mid, "r", 1, "partial answer", 14, NULL, &e);
		report(up[1], 'A', mid, 1, 14);
		char c;
		if (read(hold[0], &c, 1) < 0) /* stay alive, mid-stream, until told */
			_exit(2);
		_exit(0); /* dies without finishing or closing: like a crash */
	}
	close(up[1]);
	close(hold[0]);
	struct rec r;
	CHECK(read(up[0], &r, sizeof r) == (ssize_t)sizeof r, "child started streaming");
	close(up[0]);
	struct hist_db *db = NULL;
	struct err e = {0};
	hist_open(path, NULL, &db, &e);
	struct hist_message *all, *m;
	size_t n;
	CHECK(find_message(db, r.mid, &all, &n, &m) == 0 && m->status == HIST_STREAMING,
	      "a live writer's answer is left streaming");
	hist_messages_free(all, n);
	hist_close(db);
	close(hold[1]);
	int st;
	waitpid(pid, &st, 0);
	hist_open(path, NULL, &db, &e);
	CHECK(find_message(db, r.mid, &all, &n, &m) == 0 && m->status == HIST_INTERRUPTED &&
		      m->content_len == 14 && m->error,
	      "a dead writer's answer is interrupted, text kept");
	hist_messages_free(all, n);
	struct hist_hit *h;
	CHECK(hist_search(db, "partial", "[", "]", 5, &h, &n, &e) == 0 && n == 1,
	      "and searchable");
	hist_hits_free(h, n);
	hist_close(db);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ponder-test-crash-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	RUN(test_kill9_midstream);
	RUN(test_concurrent_writers);
	RUN(test_concurrent_create);
	RUN(test_recovery_live_and_dead);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return check_finish();
}
