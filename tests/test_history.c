/*
 * test_history.c — the history store (history/) in one process: schema, round trips of
 * awkward text, streaming and throttling, search, titles, export, the `ponder history`
 * command, XDG paths, migration from schema 1, and every way the file can be unusable
 * (not SQLite, another program's database, damaged, newer schema, read-only, disk full,
 * locked) with the file left untouched. Multi-process tests are in test_history_crash.c.
 */
#include "tests/check.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/commands.h"
#include "app/history_json.h"
#include "app/paths.h"
#include "history/history.h"
#include "history/store.h"

static char tmpdir[256];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static void rm_rf(const char *p)
{
	nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh path inside the test's temporary folder. */
static const char *tpath(const char *name)
{
	static char buf[8][512];
	static int k;
	char *b = buf[k++ % 8];
	snprintf(b, 512, "%s/%s", tmpdir, name);
	return b;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

static int write_all(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int files_in(const char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static struct hist_db *open_new(const char *name)
{
	struct err e = {0};
	struct hist_db *db = NULL;
	unlink(tpath(name));
	int rc = hist_open(tpath(name), NULL, &db, &e);
	CHECK(rc == 0 && db, "open %s: %s", name, e.msg);
	return db;
}

static int64_t sql_int(struct hist_db *db, const char *q)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -999;
	if (sqlite3_prepare_v2(hist_store_sqlite(db), q, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int sql_is(struct hist_db *db, const char *q, const char *want)
{
	sqlite3_stmt *st = NULL;
	int ok = sqlite3_prepare_v2(hist_store_sqlite(db), q, -1, &st, NULL) == SQLITE_OK &&
		 sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
		 !strcmp((const char *)sqlite3_column_text(st, 0), want);
	sqlite3_finalize(st);
	return ok;
}

static int fts_consistent(struct hist_db *db)
{
	return sqlite3_exec(hist_store_sqlite(db),
			    "INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)",
			    NULL, NULL, NULL) == SQLITE_OK;
}

/* ---- schema and round trips ---- */

static void test_create_schema(void)
{
	struct hist_db *db = open_new("schema.db");
	if (!db)
		return;
	CHECK(sql_int(db, "PRAGMA user_version") == HIST_SCHEMA_VERSION, "user_version");
	CHECK(sql_int(db, "PRAGMA application_id") == HIST_APP_ID, "application_id");
	CHECK(sql_int(db, "PRAGMA foreign_keys") == 1, "foreign keys on");
	CHECK(sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('conversations',"
			  "'messages','messages_fts')") == 3,
	      "tables");
	CHECK(sql_is(db, "PRAGMA journal_mode", "wal"), "WAL mode");
	CHECK(hist_can_save(db) && !hist_warning(db), "saving on");
	hist_close(db);
	struct stat fst;
	CHECK(stat(tpath("schema.db"), &fst) == 0 && (fst.st_mode & 0777) == 0600,
	      "a new file is private (0600): %o", fst.st_mode & 0777);
	/* A file holding only a header (a ponder stopped right after switching it to WAL):
	   no schema, no data, so it is initialised rather than refused. */
	sqlite3 *raw;
	unlink(tpath("header-only.db"));
	sqlite3_open(tpath("header-only.db"), &raw);
	sqlite3_exec(raw, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
	sqlite3_close(raw);
	CHECK(stat(tpath("header-only.db"), &fst) == 0 && fst.st_size > 0, "header written");
	struct err he = {0};
	CHECK(hist_open(tpath("header-only.db"), NULL, &db, &he) == 0 && hist_can_save(db),
	      "header-only file initialised: %s", he.msg);
	hist_close(db);
	/* Reopening an existing current file changes nothing. */
	struct err e = {0};
	CHECK(hist_open(tpath("schema.db"), NULL, &db, &e) == 0, "reopen: %s", e.msg);
	hist_close(db);
	/* NOCREATE and READONLY never create. */
	struct hist_open_opts o = {HIST_OPEN_NOCREATE, 0};
	CHECK(hist_open(tpath("missing.db"), &o, &db, &e) == ERR_IO && !db, "nocreate");
	CHECK(access(tpath("missing.db"), F_OK) != 0, "nothing created");
	o.flags = HIST_OPEN_READONLY;
	CHECK(hist_open(tpath("missing.db"), &o, &db, &e) == ERR_IO && !db, "readonly missing");
	/* A missing folder is a clear I/O error. */
	CHECK(hist_open(tpath("no/such/dir/h.db"), NULL, &db, &e) == ERR_IO && !db &&
		      strstr(e.msg, "folder"),
	      "missing folder: %s", e.msg);
}

/* Every byte 1..255 (invalid UTF-8 included), then assorted valid multi-byte text. */
static size_t binaryish(char *buf)
{
	size_t n = 0;
	for (int i = 1; i < 256; i++)
		buf[n++] = (char)i;
	const char *u = "'); DROP TABLE messages; -- \"quoted\" `tick` \\ %s %n é ü 漢字 😀 "
			"e\xcc\x81 \xe2\x80\x8b zero-width, \xef\xbb\xbf BOM";
	memcpy(buf + n, u, strlen(u));
	return n + strlen(u);
}

static void test_roundtrip_bytes(void)
{
	struct hist_db *db = open_new("bytes.db");
	if (!db)
		return;
	struct err e = {0};
	char odd[1024];
	size_t oddn = binaryish(odd);
	/* 1 MB answer: pseudo-random words and multi-byte characters. */
	size_t big = 1 << 20;
	char *mb = malloc(big);
	uint32_t r = 12345;
	static const char *const parts[] = {"alpha ", "beta ", "γάμμα ", "デルタ ", "🙂 ", "'", "\"",
					    "\n", "x"};
	size_t o = 0;
	while (o < big) {
		r = r * 1103515245 + 12345;
		const char *p = parts[(r >> 16) % 9];
		size_t l = strlen(p);
		if (o + l > big)
			p = "y", l = 1;
		memcpy(mb + o, p, l);
		o += l;
	}
	int64_t cid, umid, amid;
	CHECK(hist_conversation_new(db, "'); DROP TABLE conversations; --", "m'odel", "sys \"x\"",
				    &cid, &e) == 0 && cid > 0,
	      "new: %s", e.msg);
	CHECK(hist_message_add_user(db, cid, odd, oddn, &umid, &e) == 0 && umid > 0, "user: %s",
	      e.msg);
	struct hist_params p = {0.6, 0.95, 0.05, 40, 2048, 0xfedcba9876543210ull, 1};
	CHECK(hist_message_begin_assistant(db, cid, "deepseek-r1", &p, &amid, &e) == 0 && amid,
	      "begin: %s", e.msg);
	struct hist_stats s = {12, 345, 678, 1234.5, 23.25, 0.8125, 187.75};
	CHECK(hist_message_finish(db, amid, HIST_COMPLETE, NULL, odd, oddn, mb, big, &s, &e) == 0,
	      "finish: %s", e.msg);
	hist_close(db);

	CHECK(hist_open(tpath("bytes.db"), NULL, &db, &e) == 0, "reopen: %s", e.msg);
	struct hist_conversation c;
	CHECK(hist_conversation_get(db, cid, &c, &e) == 0, "get: %s", e.msg);
	CHECK(!strcmp(c.title, "'); DROP TABLE conversations; --") && !strcmp(c.model, "m'odel") &&
		      !strcmp(c.system_prompt, "sys \"x\"") && c.n_messages == 2,
	      "conversation fields");
	hist_conversation_clear(&c);
	struct hist_message *m;
	size_t n;
	CHECK(hist_conversation_messages(db, cid, &m, &n, &e) == 0 && n == 2, "messages: %s",
	      e.msg);
	if (n == 2) {
		CHECK(m[0].role == HIST_USER && m[0].content_len == oddn &&
			      !memcmp(m[0].content, odd, oddn),
		      "user bytes");
		CHECK(m[1].role == HIST_ASSISTANT && m[1].status == HIST_COMPLETE, "assistant");
		CHECK(m[1].content_len == big && !memcmp(m[1].content, mb, big), "1 MB answer bytes");
		CHECK(m[1].reasoning_len == oddn && !memcmp(m[1].reasoning, odd, oddn),
		      "reasoning bytes");
		CHECK(m[1].params.seed == 0xfedcba9876543210ull && m[1].params.has_seed &&
			      m[1].params.top_k == 40 && m[1].params.max_tokens == 2048 &&
			      m[1].params.temperature == 0.6 && m[1].params.min_p == 0.05,
		      "params");
		CHECK(m[1].stats.prompt_tokens == 12 && m[1].stats.reasoning_tokens == 345 &&
			      m[1].stats.answer_tokens == 678 && m[1].stats.prefill_tps == 1234.5 &&
			      m[1].stats.decode_tps == 23.25 && m[1].stats.mtp_acceptance == 0.8125 &&
			      m[1].stats.ttft_ms == 187.75,
		      "stats");
		CHECK(m[1].model && !strcmp(m[1].model, "deepseek-r1") && !m[1].error, "model");
		CHECK(m[0].stats.decode_tps < 0 && m[0].stats.ttft_ms < 0 && !m[0].params.has_seed,
		      "user has no stats");
	}
	hist_messages_free(m, n);
	/* The injection attempt stayed text: every table is still there. */
	CHECK(sql_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('conversations',"
			  "'messages','messages_fts')") == 3,
	      "tables intact");
	CHECK(sql_is(db, "PRAGMA integrity_check", "ok"), "integrity");
	CHECK(fts_consistent(db), "fts index consistent");
	hist_close(db);
	free(mb);
}

static void test_titles(void)
{
	char b[4 * HIST_TITLE_MAX + 4];
	const char *q = "\n  \n  How do I reverse a list?  \nsecond line";
	hist_title_from(q, strlen(q), HIST_TITLE_MAX, b, sizeof b);
	CHECK(!strcmp(b, "How do I reverse a list?"), "first line trimmed: '%s'", b);
	/* 70 two-byte characters: cut after 60 characters, never inside one. */
	char in[200];
	size_t n = 0;
	for (int i = 0; i < 70; i++)
		in[n++] = (char)0xc3, in[n++] = (char)0xa9;
	size_t l = hist_title_from(in, n, HIST_TITLE_MAX, b, sizeof b);
	CHECK(l == 120 + 3 && !memcmp(b + 120, "\xe2\x80\xa6", 3), "cut at 60 chars: %zu", l);
	/* A tiny buffer still ends on a character boundary. */
	char small[8];
	l = hist_title_from(in, n, HIST_TITLE_MAX, small, sizeof small);
	CHECK(l == 6 && (unsigned char)small[5] == 0xa9, "small buffer boundary: %zu", l);
	const char *ctl = "a\x1b[31mred\tb";
	hist_title_from(ctl, strlen(ctl), HIST_TITLE_MAX, b, sizeof b);
	CHECK(!strchr(b, 0x1b) && !strchr(b, '\t'), "control chars removed: '%s'", b);

	struct hist_db *db = open_new("titles.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid;
	hist_conversation_new(db, NULL, "m", "", &cid, &e);
	hist_message_add_user(db, cid, q, strlen(q), &mid, &e);
	hist_message_add_user(db, cid, "later", 5, &mid, &e);
	struct hist_conversation c;
	hist_conversation_get(db, cid, &c, &e);
	CHECK(c.title && !strcmp(c.title, "How do I reverse a list?"), "default title '%s'",
	      c.title ? c.title : "");
	hist_conversation_clear(&c);
	CHECK(hist_conversation_title(db, cid, "Renamed", &e) == 0, "title: %s", e.msg);
	hist_conversation_get(db, cid, &c, &e);
	CHECK(c.title && !strcmp(c.title, "Renamed"), "renamed");
	hist_conversation_clear(&c);
	CHECK(hist_conversation_title(db, 9999, "x", &e) == ERR_RANGE, "title of missing id");
	CHECK(hist_can_save(db), "a missing id does not turn saving off");
	hist_close(db);
}

static void test_streaming(void)
{
	struct hist_db *db = open_new("stream.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, umid, amid;
	hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
	hist_message_add_user(db, cid, "question zebra", 14, &umid, &e);
	CHECK(hist_message_begin_assistant(db, cid, "m", NULL, &amid, &e) == 0, "begin");
	struct hist_message *m;
	size_t n;
	/* Throttled: an update right after begin is not written. */
	hist_set_flush_ms(db, 60000);
	CHECK(hist_message_update(db, amid, "thinking aardvark", 17, "ans", 3, NULL, &e) == 0,
	      "throttled update");
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 2 && m[1].content_len == 0 && m[1].status == HIST_STREAMING,
	      "throttled update not written");
	hist_messages_free(m, n);
	/* Unthrottled: written, still streaming, not yet searchable. */
	hist_set_flush_ms(db, 0);
	struct hist_stats s = HIST_STATS_NONE;
	s.reasoning_tokens = 3;
	s.ttft_ms = 42.5;
	CHECK(hist_message_update(db, amid, "thinking aardvark", 17, "ans", 3, &s, &e) == 0,
	      "update: %s", e.msg);
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 2 && m[1].content_len == 3 && m[1].reasoning_len == 17 &&
		      m[1].stats.reasoning_tokens == 3 && m[1].stats.ttft_ms == 42.5,
	      "update written");
	hist_messages_free(m, n);
	struct hist_hit *h;
	size_t nh;
	hist_search(db, "aardvark", "[", "]", 10, &h, &nh, &e);
	CHECK(nh == 0, "streaming message not indexed yet");
	hist_hits_free(h, nh);
	hist_search(db, "zebra", "[", "]", 10, &h, &nh, &e);
	CHECK(nh == 1 && h[0].message_id == umid, "user message indexed at once");
	hist_hits_free(h, nh);
	/* Figures not given keep their values. */
	CHECK(hist_message_update(db, amid, "thinking aardvark more", 22, "answer", 6, NULL, &e) == 0,
	      "update 2");
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 2 && m[1].stats.reasoning_tokens == 3 && m[1].stats.ttft_ms == 42.5,
	      "figures kept");
	hist_messages_free(m, n);
	CHECK(hist_message_finish(db, amid, HIST_INTERRUPTED, NULL, "thinking aardvark more", 22,
				  "answer cut", 10, NULL, &e) == 0,
	      "finish");
	hist_search(db, "aardvark", "[", "]", 10, &h, &nh, &e);
	CHECK(nh == 1 && h[0].message_id == amid && h[0].in_reasoning &&
		      strstr(h[0].snippet, "[aardvark]"),
	      "indexed on finish, found in reasoning");
	hist_hits_free(h, nh);
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 2 && m[1].status == HIST_INTERRUPTED && m[1].content_len == 10, "interrupted kept");
	hist_messages_free(m, n);
	/* A failed turn keeps its error. */
	int64_t bad;
	hist_message_begin_assistant(db, cid, "m", NULL, &bad, &e);
	CHECK(hist_message_finish(db, bad, HIST_ERROR, "context overflow: 9000 > 8192", "", 0, "",
				  0, NULL, &e) == 0,
	      "finish error");
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 3 && m[2].status == HIST_ERROR && m[2].error &&
		      !strcmp(m[2].error, "context overflow: 9000 > 8192"),
	      "error kept");
	hist_messages_free(m, n);
	CHECK(hist_message_finish(db, bad, HIST_STREAMING, NULL, "", 0, "", 0, NULL, &e) ==
		      ERR_USAGE,
	      "streaming is not a final status");
	CHECK(fts_consistent(db), "fts consistent after finish");
	/* An update to a message removed meanwhile is ignored. */
	int64_t gone;
	hist_message_begin_assistant(db, cid, "m", NULL, &gone, &e);
	CHECK(hist_conversation_rm(db, cid, &e) == 0, "rm: %s", e.msg);
	CHECK(hist_message_update(db, gone, "", 0, "x", 1, NULL, &e) == 0 && hist_can_save(db),
	      "update of removed message");
	CHECK(hist_message_add_user(db, cid, "x", 1, &umid, &e) == ERR_RANGE && umid == 0,
	      "add to removed conversation");
	CHECK(sql_int(db, "SELECT count(*) FROM messages") == 0, "messages removed with it");
	CHECK(fts_consistent(db), "fts consistent after rm");
	hist_close(db);
}

static void test_close_marks_interrupted(void)
{
	struct hist_db *db = open_new("close.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, amid;
	hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
	hist_message_begin_assistant(db, cid, "m", NULL, &amid, &e);
	hist_set_flush_ms(db, 0);
	hist_message_update(db, amid, "", 0, "partial", 7, NULL, &e);
	hist_close(db);
	hist_open(tpath("close.db"), NULL, &db, &e);
	struct hist_message *m;
	size_t n;
	hist_conversation_messages(db, cid, &m, &n, &e);
	CHECK(n == 1 && m[0].status == HIST_INTERRUPTED && m[0].content_len == 7,
	      "closed mid-stream -> interrupted, text kept");
	hist_messages_free(m, n);
	hist_close(db);
}

static void test_list_latest(void)
{
	struct hist_db *db = open_new("list.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t ids[5], mid, latest;
	CHECK(hist_conversation_latest(db, &latest, &e) == 0 && latest == 0, "empty latest");
	for (int i = 0; i < 5; i++) {
		char t[16];
		snprintf(t, sizeof t, "conv %d", i);
		hist_conversation_new(db, t, "m", NULL, &ids[i], &e);
		struct timespec ts = {0, 3000000};
		nanosleep(&ts, NULL);
	}
	/* Activity in the second one makes it the latest. */
	hist_message_add_user(db, ids[1], "bump", 4, &mid, &e);
	CHECK(hist_conversation_latest(db, &latest, &e) == 0 && latest == ids[1], "latest");
	struct hist_conversation *c;
	size_t n;
	CHECK(hist_list(db, 3, &c, &n, &e) == 0 && n == 3, "list 3");
	if (n == 3)
		CHECK(c[0].id == ids[1] && c[1].id == ids[4] && c[2].id == ids[3] &&
			      c[0].n_messages == 1,
		      "order by activity");
	hist_conversations_free(c, n);
	int64_t *all;
	CHECK(hist_conversation_ids(db, &all, &n, &e) == 0 && n == 5 && all[0] == ids[0], "ids");
	free(all);
	struct hist_conversation one;
	CHECK(hist_conversation_get(db, 12345, &one, &e) == ERR_RANGE && strstr(e.msg, "12345"),
	      "missing conversation: %s", e.msg);
	hist_close(db);
}

static void test_search(void)
{
	struct hist_db *db = open_new("search.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid, amid;
	hist_conversation_new(db, "Search me", "m", NULL, &cid, &e);
	hist_message_add_user(db, cid, "What about \"quoted\" words and 'single' ones?", 44, &mid,
			      &e);
	hist_message_begin_assistant(db, cid, "m", NULL, &amid, &e);
	const char *ans = "The answer mentions pineapples, résumé and NEAR(x) AND y.";
	const char *rea = "Reasoning about zucchini first.";
	hist_message_finish(db, amid, HIST_COMPLETE, NULL, rea, strlen(rea), ans, strlen(ans),
			    NULL, &e);
	struct hist_hit *h;
	size_t n;
	CHECK(hist_search(db, "pineapples", "«", "»", 20, &h, &n, &e) == 0 && n == 1, "found: %s",
	      e.msg);
	if (n == 1)
		CHECK(h[0].conversation_id == cid && !h[0].in_reasoning &&
			      strstr(h[0].snippet, "«pineapples»") && !strcmp(h[0].title, "Search me") &&
			      h[0].role == HIST_ASSISTANT,
		      "hit fields: %s", h[0].snippet);
	hist_hits_free(h, n);
	CHECK(hist_search(db, "zucchini", "«", "»", 20, &h, &n, &e) == 0 && n == 1 &&
		      h[0].in_reasoning,
	      "reasoning match");
	hist_hits_free(h, n);
	CHECK(hist_search(db, "resume", "«", "»", 20, &h, &n, &e) == 0 && n == 1,
	      "diacritics folded");
	hist_hits_free(h, n);
	CHECK(hist_search(db, "pine*", "«", "»", 20, &h, &n, &e) == 0 && n == 1, "prefix");
	hist_hits_free(h, n);
	/* FTS syntax and SQL in the query is plain text: never an error. */
	static const char *const nasty[] = {
		"\"quoted\"", "'); DROP TABLE messages; --", "NEAR(x", "AND", "OR NOT", "col:umn",
		"^start", "a\"b", "(((", "*", "-", "+", "\"", "content:pineapples", "🙂",
	};
	for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
		int rc = hist_search(db, nasty[i], "«", "»", 20, &h, &n, &e);
		CHECK(rc == 0, "query '%s' failed: %s", nasty[i], e.msg);
		hist_hits_free(h, rc ? 0 : n);
	}
	CHECK(hist_search(db, "quoted", "«", "»", 20, &h, &n, &e) == 0 && n == 1 &&
		      h[0].role == HIST_USER,
	      "question searchable");
	hist_hits_free(h, n);
	CHECK(hist_search(db, "NEAR(x) AND", "«", "»", 20, &h, &n, &e) == 0 && n == 1,
	      "operators as words");
	hist_hits_free(h, n);
	CHECK(hist_search(db, "   ", "«", "»", 20, &h, &n, &e) == ERR_USAGE, "empty query");
	CHECK(sql_int(db, "SELECT count(*) FROM messages") == 2, "still there");
	char *q;
	CHECK(hist_fts_query("a\"b c*", &q, &e) == 0 && !strcmp(q, "\"a\"\"b\" \"c\"*"),
	      "fts query: %s", q);
	free(q);
	hist_close(db);
}

/* A word in more than HIST_SEARCH_WINDOW messages is ranked within its newest matches. */
static void test_search_window(void)
{
	struct hist_db *db = open_new("window.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid, first = 0, dense = 0;
	hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
	hist_batch_begin(db, &e);
	char dense_old[600] = "";
	for (int i = 0; i < 60; i++)
		strcat(dense_old, "needle ");
	strcat(dense_old, "unicorn");
	int total = HIST_SEARCH_WINDOW + 100;
	for (int i = 0; i < total; i++) {
		const char *t = i == 0		   ? dense_old
				: i == total - 50 ? "needle needle needle filler words here"
						   : "needle and a lot of filler words around it";
		hist_message_add_user(db, cid, t, strlen(t), &mid, &e);
		if (i == 0)
			first = mid;
		if (i == total - 50)
			dense = mid;
	}
	CHECK(hist_batch_end(db, &e) == 0, "batch: %s", e.msg);
	struct hist_hit *h;
	size_t n;
	CHECK(hist_search(db, "needle", "[", "]", 5, &h, &n, &e) == 0 && n == 5, "search: %s",
	      e.msg);
	if (n == 5) {
		CHECK(h[0].message_id == dense, "best of the newest matches first");
		for (size_t i = 0; i < n; i++)
			CHECK(h[i].message_id != first, "the oldest match is outside the window");
	}
	hist_hits_free(h, n);
	CHECK(hist_search(db, "unicorn", "[", "]", 5, &h, &n, &e) == 0 && n == 1 &&
		      h[0].message_id == first,
	      "a rare word is found however old");
	hist_hits_free(h, n);
	hist_close(db);
}

static void test_null_db(void)
{
	struct err e = {0};
	int64_t id = 7;
	size_t n = 3;
	CHECK(hist_conversation_new(NULL, "t", "m", "s", &id, &e) == 0 && id == 0, "new");
	id = 7;
	CHECK(hist_message_add_user(NULL, 1, "x", 1, &id, &e) == 0 && id == 0, "user");
	id = 7;
	CHECK(hist_message_begin_assistant(NULL, 1, "m", NULL, &id, &e) == 0 && id == 0, "begin");
	CHECK(hist_message_update(NULL, 1, "", 0, "", 0, NULL, &e) == 0, "update");
	CHECK(hist_message_finish(NULL, 1, HIST_COMPLETE, NULL, "", 0, "", 0, NULL, &e) == 0, "fin");
	CHECK(hist_conversation_title(NULL, 1, "x", &e) == 0, "title");
	CHECK(hist_conversation_rm(NULL, 1, &e) == 0, "rm");
	id = 7;
	CHECK(hist_conversation_latest(NULL, &id, &e) == 0 && id == 0, "latest");
	struct hist_conversation c = {.id = 5};
	CHECK(hist_conversation_get(NULL, 1, &c, &e) == 0 && c.id == 0, "get");
	struct hist_message *m = (void *)1;
	CHECK(hist_conversation_messages(NULL, 1, &m, &n, &e) == 0 && !m && n == 0, "messages");
	struct hist_hit *h = (void *)1;
	CHECK(hist_search(NULL, "x", "", "", 5, &h, &n, &e) == 0 && !h && n == 0, "search");
	CHECK(hist_batch_begin(NULL, &e) == 0 && hist_batch_end(NULL, &e) == 0, "batch");
	CHECK(!hist_can_save(NULL) && !hist_warning(NULL), "flags");
	hist_close(NULL);
	hist_set_flush_ms(NULL, 5);
}

/* ---- files ponder must refuse, and leave as they were ---- */

static void test_not_sqlite(void)
{
	char sub[300];
	snprintf(sub, sizeof sub, "%s/notsql", tmpdir);
	mkdir(sub, 0700);
	const char *path = tpath("notsql/history.db");
	char junk[8192];
	uint32_t r = 99;
	for (size_t i = 0; i < sizeof junk; i++)
		r = r * 1664525 + 1013904223, junk[i] = (char)(r >> 24);
	write_all(path, junk, sizeof junk);
	struct hist_db *db = NULL;
	struct err e = {0};
	int rc = hist_open(path, NULL, &db, &e);
	CHECK(rc == ERR_FORMAT && !db, "refused: %d %s", rc, e.msg);
	CHECK(strstr(e.msg, "not an SQLite database") && strstr(e.msg, path) &&
		      strstr(e.msg, "untouched"),
	      "clear message: %s", e.msg);
	size_t n;
	char *after = read_all(path, &n);
	CHECK(after && n == sizeof junk && !memcmp(after, junk, n), "file untouched");
	free(after);
	CHECK(files_in(sub) == 1, "no -wal/-shm/-journal left beside it");
	/* A text file too. */
	const char *txt = tpath("notsql/notes.txt");
	write_all(txt, "my notes\n", 9);
	CHECK(hist_open(txt, NULL, &db, &e) == ERR_FORMAT && !db, "text file refused");
	after = read_all(txt, &n);
	CHECK(after && n == 9 && !memcmp(after, "my notes\n", 9), "text file untouched");
	free(after);
}

static void test_foreign_sqlite(void)
{
	const char *path = tpath("foreign.db");
	sqlite3 *s;
	sqlite3_open(path, &s);
	sqlite3_exec(s, "CREATE TABLE notes(x); INSERT INTO notes VALUES('mine');", NULL, NULL,
		     NULL);
	sqlite3_close(s);
	size_t n0, n1;
	char *before = read_all(path, &n0);
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(path, NULL, &db, &e) == ERR_FORMAT && !db &&
		      strstr(e.msg, "not a ponder history"),
	      "refused: %s", e.msg);
	char *after = read_all(path, &n1);
	CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "untouched");
	free(before);
	free(after);
}

static void test_damaged_ours(void)
{
	/* A real history file whose pages after the first are overwritten. */
	struct hist_db *db = open_new("damaged.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid;
	hist_batch_begin(db, &e);
	for (int i = 0; i < 200; i++) {
		char t[300];
		snprintf(t, sizeof t, "question %d with some padding text to fill pages %0200d", i, i);
		hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
		hist_message_add_user(db, cid, t, strlen(t), &mid, &e);
	}
	hist_batch_end(db, &e);
	hist_close(db);
	const char *path = tpath("damaged.db");
	size_t n;
	char *img = read_all(path, &n);
	CHECK(img && n > 4096 * 8, "file size %zu", n);
	if (!img)
		return;
	for (size_t i = 4096 * 2; i < n; i++)
		img[i] = (char)(i * 7 + 3);
	write_all(path, img, n);
	int rc = hist_open(path, NULL, &db, &e);
	if (rc == 0) {
		/* The header looked fine; the damage shows when reading. */
		struct hist_conversation *c;
		size_t k;
		rc = hist_list(db, 50, &c, &k, &e);
		hist_conversations_free(c, rc ? 0 : k);
		CHECK(rc != 0 && strstr(e.msg, "corrupt"), "read error names corruption: %s",
		      e.msg);
		int64_t x;
		hist_conversation_new(db, "t", "m", NULL, &x, &e);
		hist_close(db);
	} else {
		CHECK(rc == ERR_FORMAT && strstr(e.msg, "untouched"), "refused: %s", e.msg);
	}
	size_t n2;
	char *after = read_all(path, &n2);
	CHECK(after && n2 == n && !memcmp(after, img, n), "damaged file not rewritten");
	free(after);
	free(img);
}

static void test_newer_schema(void)
{
	struct hist_db *db = open_new("newer.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid;
	hist_conversation_new(db, "old", "m", NULL, &cid, &e);
	sqlite3_exec(hist_store_sqlite(db), "PRAGMA user_version = 99", NULL, NULL, NULL);
	hist_close(db);
	size_t n0, n1;
	char *before = read_all(tpath("newer.db"), &n0);
	CHECK(hist_open(tpath("newer.db"), NULL, &db, &e) == 0 && db, "opens: %s", e.msg);
	if (!db)
		return;
	CHECK(!hist_can_save(db) && hist_warning(db) && strstr(hist_warning(db), "newer") &&
		      strstr(hist_warning(db), "upgrade"),
	      "warning: %s", hist_warning(db) ? hist_warning(db) : "");
	CHECK(hist_conversation_new(db, "x", "m", NULL, &cid, &e) == 0 && cid == 0, "no write");
	CHECK(hist_message_add_user(db, 1, "x", 1, &mid, &e) == 0 && mid == 0, "no write 2");
	CHECK(hist_conversation_rm(db, 1, &e) == ERR_DB, "rm refused loudly");
	struct hist_conversation *c;
	size_t n;
	CHECK(hist_list(db, 10, &c, &n, &e) == 0 && n == 1, "reads work");
	hist_conversations_free(c, n);
	hist_close(db);
	char *after = read_all(tpath("newer.db"), &n1);
	CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "untouched");
	free(before);
	free(after);
}

/* Saving turned off by a read-only handle: writes are no-ops, reads work. */
static void check_readonly_handle(struct hist_db *db, const char *what)
{
	struct err e = {0};
	int64_t id = 5;
	CHECK(!hist_can_save(db) && hist_warning(db) && strstr(hist_warning(db), "read-only"),
	      "%s: warning '%s'", what, hist_warning(db) ? hist_warning(db) : "");
	CHECK(hist_conversation_new(db, "x", "m", NULL, &id, &e) == 0 && id == 0, "%s: new", what);
	CHECK(hist_message_add_user(db, 1, "q", 1, &id, &e) == 0 && id == 0, "%s: user", what);
	CHECK(hist_message_begin_assistant(db, 1, "m", NULL, &id, &e) == 0 && id == 0, "%s: begin",
	      what);
	CHECK(hist_message_update(db, 1, "", 0, "a", 1, NULL, &e) == 0, "%s: update", what);
	CHECK(hist_conversation_title(db, 1, "t", &e) == ERR_DB, "%s: title refused", what);
	struct hist_message *m;
	size_t n;
	CHECK(hist_conversation_messages(db, 1, &m, &n, &e) == 0 && n == 2, "%s: reads: %s", what,
	      e.msg);
	hist_messages_free(m, n);
}

static void make_small_db(const char *path)
{
	struct hist_db *db = NULL;
	struct err e = {0};
	unlink(path);
	hist_open(path, NULL, &db, &e);
	int64_t cid, mid;
	hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
	hist_message_add_user(db, cid, "q", 1, &mid, &e);
	hist_message_begin_assistant(db, cid, "m", NULL, &mid, &e);
	hist_message_finish(db, mid, HIST_COMPLETE, NULL, "r", 1, "a", 1, NULL, &e);
	hist_close(db);
}

static void test_readonly_flag(void)
{
	make_small_db(tpath("roflag.db"));
	size_t n0, n1;
	char *before = read_all(tpath("roflag.db"), &n0);
	struct hist_open_opts o = {HIST_OPEN_READONLY, 0};
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(tpath("roflag.db"), &o, &db, &e) == 0 && db, "open ro: %s", e.msg);
	if (db)
		check_readonly_handle(db, "flag");
	hist_close(db);
	char *after = read_all(tpath("roflag.db"), &n1);
	CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "untouched");
	free(before);
	free(after);
}

/*
 * A file the process really cannot write. Tests run as root, for whom mode 0444 stops
 * nothing, so the child drops to uid/gid 65534 (nobody) first; then the kernel refuses
 * writes as it would for any user. Two cases: the folder writable (SQLite can make its
 * -shm) and not (ponder falls back to an immutable read of the main file).
 */
static void test_readonly_file(void)
{
	if (geteuid() == 0)
		chmod(tmpdir, 0755); /* nobody must reach the folders below */
	static const char *const sub[2] = {"ro-open", "ro-closed"};
	for (int k = 0; k < 2; k++) {
		char dir[300], path[400];
		snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub[k]);
		mkdir(dir, 0777);
		snprintf(path, sizeof path, "%s/history.db", dir);
		make_small_db(path);
		chmod(path, 0444);
		chmod(dir, k == 0 ? 0777 : 0555);
		size_t n0, n1;
		char *before = read_all(path, &n0);
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
				_exit(3);
			if (geteuid() == 0)
				_exit(4);
			struct hist_db *db = NULL;
			struct err e = {0};
			if (hist_open(path, NULL, &db, &e) != 0) {
				fprintf(stderr, "  child open failed: %s\n", e.msg);
				_exit(5);
			}
			check_readonly_handle(db, sub[k]);
			hist_close(db);
			_exit(check_failed_now ? 6 : 0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
			SKIP("running as root without the right to drop to uid 65534");
			chmod(dir, 0777);
			free(before);
			break;
		}
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child status %d", sub[k],
		      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		char *after = read_all(path, &n1);
		CHECK(before && after && n0 == n1 && !memcmp(before, after, n0), "%s: untouched",
		      sub[k]);
		free(before);
		free(after);
		chmod(dir, 0777);
	}
	chmod(tmpdir, 0700);
}

/* ---- failures while writing ---- */

static void test_disk_full(void)
{
	struct hist_db *db = open_new("full.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid;
	hist_conversation_new(db, NULL, "m", NULL, &cid, &e);
	hist_message_add_user(db, cid, "q", 1, &mid, &e);
	/* SQLite's page limit gives the same SQLITE_FULL a full disk gives. */
	int64_t pages = sql_int(db, "PRAGMA page_count");
	char pragma[64];
	snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld", (long long)pages + 2);
	sqlite3_exec(hist_store_sqlite(db), pragma, NULL, NULL, NULL);
	size_t big = 256 * 1024;
	char *b = malloc(big);
	memset(b, 'x', big);
	int64_t amid;
	hist_message_begin_assistant(db, cid, "m", NULL, &amid, &e);
	int rc = hist_message_finish(db, amid, HIST_COMPLETE, NULL, "", 0, b, big, NULL, &e);
	CHECK(rc == ERR_DB && strstr(e.msg, "disk is full") && strstr(e.msg, "without saving"),
	      "clear error: %d %s", rc, e.msg);
	CHECK(!hist_can_save(db) && hist_warning(db) && strstr(hist_warning(db), "full"),
	      "saving off");
	int64_t id = 9;
	CHECK(hist_message_add_user(db, cid, "q2", 2, &id, &e) == 0 && id == 0,
	      "later writes are no-ops");
	struct hist_message *m;
	size_t n;
	CHECK(hist_conversation_messages(db, cid, &m, &n, &e) == 0 && n == 2, "reads still work");
	hist_messages_free(m, n);
	hist_close(db);
	free(b);
}

static void test_locked_timeout(void)
{
	make_small_db(tpath("locked.db"));
	sqlite3 *other;
	sqlite3_open(tpath("locked.db"), &other);
	CHECK(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK, "lock");
	struct hist_open_opts o = {0, 150};
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(tpath("locked.db"), &o, &db, &e) == 0, "open while locked: %s", e.msg);
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	int64_t mid = 3;
	int rc = hist_message_add_user(db, 1, "q", 1, &mid, &e);
	gettimeofday(&t1, NULL);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_usec - t0.tv_usec) / 1e3;
	CHECK(rc == ERR_DB && strstr(e.msg, "locked by another process") && mid == 0,
	      "locked past the timeout: %s", e.msg);
	CHECK(ms >= 140, "waited the busy timeout (%.0f ms)", ms);
	CHECK(!hist_can_save(db), "saving off");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	hist_close(db);
}

/* ---- migration ---- */

/* Schema 1 exactly as the first release wrote it (frozen; compared with the store's). */
static const char v1_schema[] =
	"CREATE TABLE conversations("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  title TEXT NOT NULL DEFAULT '',"
	"  model TEXT NOT NULL DEFAULT '',"
	"  system_prompt TEXT NOT NULL DEFAULT '',"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL);"
	"CREATE TABLE messages("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL,"
	"  content TEXT NOT NULL DEFAULT '',"
	"  reasoning TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL,"
	"  error TEXT,"
	"  model TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL,"
	"  temperature REAL, top_p REAL, top_k INTEGER, min_p REAL, seed INTEGER,"
	"  max_tokens INTEGER,"
	"  prompt_tokens INTEGER, reasoning_tokens INTEGER, answer_tokens INTEGER);"
	"CREATE INDEX messages_by_conversation ON messages(conversation_id, id);"
	"CREATE INDEX conversations_by_update ON conversations(updated_ms, id);";

static void test_migration_v1(void)
{
	CHECK(!strcmp(v1_schema, hist_store_migrations[0]),
	      "migration step 0 changed: old files would not match it");
	const char *path = tpath("v1.db");
	unlink(path);
	sqlite3 *s;
	sqlite3_open(path, &s);
	char pragma[96];
	snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = 1;",
		 HIST_APP_ID);
	int rc = sqlite3_exec(s, v1_schema, NULL, NULL, NULL);
	rc |= sqlite3_exec(s, pragma, NULL, NULL, NULL);
	rc |= sqlite3_exec(s,
			   "INSERT INTO conversations VALUES(1, 'Old one', 'm1', 'be brief', 1000, 2000);"
			   "INSERT INTO messages(conversation_id, role, content, status, created_ms,"
			   " updated_ms) VALUES(1, 'user', 'ancient question about quokkas',"
			   " 'complete', 1000, 1000);"
			   "INSERT INTO messages(conversation_id, role, content, reasoning, status,"
			   " model, created_ms, updated_ms, temperature, top_k, prompt_tokens)"
			   " VALUES(1, 'assistant', 'old answer', 'old reasoning on wombats',"
			   " 'interrupted', 'm1', 1500, 2000, 0.7, 20, 9);",
			   NULL, NULL, NULL);
	sqlite3_close(s);
	CHECK(rc == SQLITE_OK, "building the v1 file");
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(path, NULL, &db, &e) == 0 && db, "migrates: %s", e.msg);
	if (!db)
		return;
	CHECK(sql_int(db, "PRAGMA user_version") == HIST_SCHEMA_VERSION, "version now current");
	struct hist_message *m;
	size_t n;
	CHECK(hist_conversation_messages(db, 1, &m, &n, &e) == 0 && n == 2, "messages kept");
	if (n == 2) {
		CHECK(!strcmp(m[0].content, "ancient question about quokkas"), "text kept");
		CHECK(m[1].status == HIST_INTERRUPTED && m[1].params.temperature == 0.7 &&
			      m[1].params.top_k == 20 && m[1].stats.prompt_tokens == 9 &&
			      m[1].stats.decode_tps < 0 && m[1].stats.mtp_acceptance < 0 &&
			      m[1].stats.ttft_ms < 0,
		      "old figures kept, new ones unknown");
	}
	hist_messages_free(m, n);
	struct hist_hit *h;
	CHECK(hist_search(db, "wombats", "[", "]", 5, &h, &n, &e) == 0 && n == 1 &&
		      h[0].in_reasoning,
	      "old messages searchable");
	hist_hits_free(h, n);
	CHECK(hist_search(db, "quokkas", "[", "]", 5, &h, &n, &e) == 0 && n == 1, "old question");
	hist_hits_free(h, n);
	int64_t cid;
	CHECK(hist_conversation_new(db, NULL, "m2", NULL, &cid, &e) == 0 && cid == 2,
	      "writes continue after the old ids");
	CHECK(fts_consistent(db), "fts consistent");
	hist_close(db);
	/* Opening again does not migrate twice. */
	CHECK(hist_open(path, NULL, &db, &e) == 0, "reopen");
	CHECK(sql_int(db, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'wombats'") ==
		      1,
	      "indexed once");
	hist_close(db);
}

/* Step 1 (user_version 1 -> 2) exactly as released. */
static const char v2_step[] =
	"ALTER TABLE messages ADD COLUMN prefill_tps REAL;"
	"ALTER TABLE messages ADD COLUMN decode_tps REAL;"
	"ALTER TABLE messages ADD COLUMN mtp_acceptance REAL;"
	"ALTER TABLE messages ADD COLUMN writer_pid INTEGER;"
	"CREATE INDEX messages_streaming ON messages(id) WHERE status = 'streaming';"
	"CREATE VIRTUAL TABLE messages_fts USING fts5(content, reasoning,"
	"  content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
	"CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages"
	"  WHEN new.status <> 'streaming' BEGIN"
	"  INSERT INTO messages_fts(rowid, content, reasoning)"
	"    VALUES (new.id, new.content, new.reasoning);"
	"END;"
	"CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages"
	"  WHEN old.status <> 'streaming' BEGIN"
	"  INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)"
	"    VALUES ('delete', old.id, old.content, old.reasoning);"
	"END;"
	"CREATE TRIGGER messages_fts_au AFTER UPDATE OF content, reasoning, status ON messages"
	"  BEGIN"
	"  INSERT INTO messages_fts(messages_fts, rowid, content, reasoning)"
	"    SELECT 'delete', old.id, old.content, old.reasoning WHERE old.status <> 'streaming';"
	"  INSERT INTO messages_fts(rowid, content, reasoning)"
	"    SELECT new.id, new.content, new.reasoning WHERE new.status <> 'streaming';"
	"END;"
	"INSERT INTO messages_fts(rowid, content, reasoning)"
	"  SELECT id, content, reasoning FROM messages WHERE status <> 'streaming';";

static void test_migration_v2(void)
{
	CHECK(!strcmp(v2_step, hist_store_migrations[1]),
	      "migration step 1 changed: old files would not match it");
	const char *path = tpath("v2.db");
	unlink(path);
	sqlite3 *s;
	sqlite3_open(path, &s);
	char pragma[96];
	snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = 2;",
		 HIST_APP_ID);
	int rc = sqlite3_exec(s, v1_schema, NULL, NULL, NULL);
	rc |= sqlite3_exec(s, v2_step, NULL, NULL, NULL);
	rc |= sqlite3_exec(s, pragma, NULL, NULL, NULL);
	rc |= sqlite3_exec(s,
			   "INSERT INTO conversations VALUES(1, 'Version two', 'm2', '', 1000, 2000);"
			   "INSERT INTO messages(conversation_id, role, content, status, created_ms,"
			   " updated_ms) VALUES(1, 'user', 'a question about capybaras',"
			   " 'complete', 1000, 1000);"
			   "INSERT INTO messages(conversation_id, role, content, status, model,"
			   " created_ms, updated_ms, answer_tokens, prefill_tps, decode_tps,"
			   " mtp_acceptance) VALUES(1, 'assistant', 'an answer', 'complete', 'm2',"
			   " 1500, 2000, 7, 900.5, 21.5, 0.75);",
			   NULL, NULL, NULL);
	sqlite3_close(s);
	CHECK(rc == SQLITE_OK, "building the v2 file");
	struct hist_db *db = NULL;
	struct err e = {0};
	CHECK(hist_open(path, NULL, &db, &e) == 0 && db, "migrates: %s", e.msg);
	if (!db)
		return;
	CHECK(sql_int(db, "PRAGMA user_version") == HIST_SCHEMA_VERSION, "version now current");
	CHECK(sql_int(db, "SELECT count(*) FROM pragma_table_info('messages')"
			  " WHERE name = 'ttft_ms' AND type = 'REAL'") == 1,
	      "ttft_ms column added");
	struct hist_message *m;
	size_t n;
	CHECK(hist_conversation_messages(db, 1, &m, &n, &e) == 0 && n == 2, "messages kept");
	if (n == 2) {
		CHECK(!strcmp(m[0].content, "a question about capybaras"), "text kept");
		CHECK(m[1].stats.answer_tokens == 7 && m[1].stats.prefill_tps == 900.5 &&
			      m[1].stats.decode_tps == 21.5 && m[1].stats.mtp_acceptance == 0.75 &&
			      m[1].stats.ttft_ms < 0 && m[0].stats.ttft_ms < 0,
		      "old figures kept, first token unknown");
	}
	hist_messages_free(m, n);
	struct hist_hit *h;
	CHECK(hist_search(db, "capybaras", "[", "]", 5, &h, &n, &e) == 0 && n == 1,
	      "still searchable");
	hist_hits_free(h, n);
	/* New replies in the upgraded file keep their first-token time. */
	int64_t mid;
	struct hist_stats st = HIST_STATS_NONE;
	st.ttft_ms = 95.5;
	CHECK(hist_message_begin_assistant(db, 1, "m2", NULL, &mid, &e) == 0 &&
		      hist_message_finish(db, mid, HIST_COMPLETE, NULL, "", 0, "new", 3, &st, &e) ==
			      0,
	      "write after upgrade: %s", e.msg);
	CHECK(hist_conversation_messages(db, 1, &m, &n, &e) == 0 && n == 3 &&
		      m[2].stats.ttft_ms == 95.5 && m[1].stats.ttft_ms < 0,
	      "first token stored after upgrade");
	hist_messages_free(m, n);
	CHECK(fts_consistent(db), "fts consistent");
	hist_close(db);
	/* Opening again does not migrate twice (a second ADD COLUMN would fail). */
	CHECK(hist_open(path, NULL, &db, &e) == 0, "reopen: %s", e.msg);
	CHECK(sql_int(db, "PRAGMA user_version") == HIST_SCHEMA_VERSION, "still current");
	hist_close(db);
}

/* ---- export ---- */

static void test_export_md(void)
{
	struct hist_db *db = open_new("export.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t cid, mid;
	hist_conversation_new(db, "Export test", "deepseek-r1", "Be brief.", &cid, &e);
	hist_message_add_user(db, cid, "Why is the sky blue?", 20, &mid, &e);
	hist_message_begin_assistant(db, cid, "deepseek-r1", NULL, &mid, &e);
	const char *r = "Rayleigh scattering... </details> sneaky";
	struct hist_stats s = HIST_STATS_NONE;
	s.decode_tps = 12.5;
	s.ttft_ms = 120.4;
	hist_message_finish(db, mid, HIST_INTERRUPTED, NULL, r, strlen(r), "Because of scattering.",
			    22, &s, &e);
	struct hist_conversation c;
	struct hist_message *m;
	size_t n;
	hist_conversation_get(db, cid, &c, &e);
	hist_conversation_messages(db, cid, &m, &n, &e);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	CHECK(hist_export_md(f, &c, m, n, &e) == 0, "export");
	fclose(f);
	CHECK(!strncmp(out, "# Export test\n", 14), "title first");
	CHECK(strstr(out, "## You\n\nWhy is the sky blue?\n"), "question");
	CHECK(strstr(out, "<details>\n<summary>Reasoning</summary>\n\nRayleigh scattering... "
			  "&lt;/details> sneaky\n\n</details>\n\nBecause of scattering.\n"),
	      "reasoning folded, answer after:\n%s", out);
	CHECK(strstr(out, "*(interrupted)*"), "interrupted noted");
	CHECK(strstr(out, "Be brief."), "system prompt");
	CHECK(strstr(out, "12.5 tok/s · first token 120 ms"), "speed, first token:\n%s", out);
	free(out);
	hist_messages_free(m, n);
	hist_conversation_clear(&c);
	hist_close(db);
}

/* ---- the command ---- */

/* Runs `ponder history ARGS...` with stdout captured into *out. */
static int run_cmd(char **out, struct err *e, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;
	va_start(ap, e);
	argv[argc++] = "history";
	for (char *a; argc < 15 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	const char *cap = tpath("stdout.txt");
	fflush(stdout);
	int saved = dup(1);
	int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 1);
	close(fd);
	err_clear(e);
	int rc = app_cmd_history(argc, argv, e);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	*out = read_all(cap, NULL);
	return rc;
}

static void test_command(void)
{
	struct hist_db *db = open_new("cmd.db");
	if (!db)
		return;
	struct err e = {0};
	int64_t c1, c2, mid;
	hist_conversation_new(db, NULL, "model-a", NULL, &c1, &e);
	hist_message_add_user(db, c1, "First question about lemurs", 27, &mid, &e);
	hist_message_begin_assistant(db, c1, "model-a", NULL, &mid, &e);
	struct hist_stats st = HIST_STATS_NONE;
	st.decode_tps = 31.5;
	st.ttft_ms = 250.25;
	hist_message_finish(db, mid, HIST_COMPLETE, NULL, "thinking of lemurs", 18,
			    "Lemurs live in Madagascar.", 26, &st, &e);
	hist_conversation_new(db, NULL, "model-b", NULL, &c2, &e);
	hist_message_add_user(db, c2, "Second question", 15, &mid, &e);
	hist_close(db);
	char db_arg[512], md[512], js[512];
	snprintf(db_arg, sizeof db_arg, "%s", tpath("cmd.db"));
	snprintf(md, sizeof md, "%s", tpath("out.md"));
	snprintf(js, sizeof js, "%s", tpath("all.json"));
	char *out = NULL;

	CHECK(run_cmd(&out, &e, "--db", db_arg, "list", "--json", NULL) == 0, "list: %s", e.msg);
	json_error_t je;
	json_t *j = out ? json_loads(out, 0, &je) : NULL;
	CHECK(json_is_array(j) && json_array_size(j) == 2, "list json");
	if (json_array_size(j) == 2) {
		CHECK(json_integer_value(json_object_get(json_array_get(j, 0), "id")) == c2,
		      "latest first");
		CHECK(!strcmp(json_string_value(json_object_get(json_array_get(j, 1), "title")),
			      "First question about lemurs"),
		      "title");
	}
	json_decref(j);
	free(out);

	setenv("PONDER_DB", db_arg, 1);
	CHECK(run_cmd(&out, &e, "list", "-n", "1", NULL) == 0 && out && strstr(out, "TITLE") &&
		      strstr(out, "Second question") && !strstr(out, "lemurs"),
	      "list via PONDER_DB, -n 1:\n%s", out ? out : "");
	free(out);
	unsetenv("PONDER_DB");

	char id1[32];
	snprintf(id1, sizeof id1, "%lld", (long long)c1);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "show", id1, NULL) == 0 && out &&
		      strstr(out, "Lemurs live in Madagascar.") && !strstr(out, "thinking of"),
	      "show hides reasoning:\n%s", out ? out : "");
	free(out);
	CHECK(run_cmd(&out, &e, "show", id1, "--reasoning", "--db", db_arg, NULL) == 0 && out &&
		      strstr(out, "thinking of lemurs"),
	      "show --reasoning");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "show", id1, "--json", "--reasoning", NULL) == 0,
	      "show json");
	j = out ? json_loads(out, 0, &je) : NULL;
	json_t *msgs = json_object_get(j, "messages");
	CHECK(json_array_size(msgs) == 2 &&
		      !strcmp(json_string_value(json_object_get(json_array_get(msgs, 1),
								"reasoning")),
			      "thinking of lemurs"),
	      "show json content");
	json_t *jst = json_object_get(json_array_get(msgs, 1), "stats");
	CHECK(json_real_value(json_object_get(jst, "time_to_first_token_ms")) == 250.25 &&
		      json_real_value(json_object_get(jst, "decode_tokens_per_s")) == 31.5 &&
		      !json_object_get(jst, "prefill_tokens_per_s"),
	      "show json figures; unknown ones absent");
	json_decref(j);
	free(out);

	CHECK(run_cmd(&out, &e, "--db", db_arg, "search", "lemurs", NULL) == 0 && out &&
		      strstr(out, "«lemurs»"),
	      "search marks (not a tty):\n%s", out ? out : "");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "search", "--json", "--", "'); DROP", "\"", NULL) ==
		      0,
	      "nasty search: %s", e.msg);
	j = out ? json_loads(out, 0, &je) : NULL;
	CHECK(json_is_array(j), "search json");
	json_decref(j);
	free(out);

	CHECK(run_cmd(&out, &e, "--db", db_arg, "export", id1, "-o", md, NULL) == 0, "export md: %s",
	      e.msg);
	free(out);
	char *text = read_all(md, NULL);
	CHECK(text && strstr(text, "<summary>Reasoning</summary>") &&
		      strstr(text, "# First question about lemurs"),
	      "md file");
	free(text);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "export", "--all", "--format", "json", "-o", js,
		      NULL) == 0,
	      "export json: %s", e.msg);
	free(out);
	text = read_all(js, NULL);
	j = text ? json_loads(text, 0, &je) : NULL;
	CHECK(json_array_size(j) == 2, "json export of all: %s", je.text);
	json_decref(j);
	free(text);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "export", "777", "-o", (char *)tpath("no.md"),
		      NULL) == ERR_RANGE &&
		      access(tpath("no.md"), F_OK) != 0,
	      "export of a missing id creates nothing");
	free(out);

	CHECK(run_cmd(&out, &e, "--db", db_arg, "title", id1, "New", "name", NULL) == 0, "title");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "list", NULL) == 0 && out && strstr(out, "New name"),
	      "renamed in list");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "rm", id1, NULL) == 0, "rm");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "show", id1, NULL) == ERR_RANGE, "gone");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "rm", "abc", NULL) == ERR_USAGE, "bad id");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "list", "--reasoning", NULL) == ERR_USAGE,
	      "option of another subcommand");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", db_arg, "frobnicate", NULL) == ERR_USAGE, "unknown");
	free(out);
	CHECK(run_cmd(&out, &e, "--db", (char *)tpath("none.db"), "list", NULL) == 0 && out &&
		      strstr(out, "No conversations yet") && access(tpath("none.db"), F_OK) != 0,
	      "list without a file creates none");
	free(out);
	write_all(tpath("junk.db"), "junk junk junk junk junk junk junk junk junk junk", 50);
	CHECK(run_cmd(&out, &e, "--db", (char *)tpath("junk.db"), "list", NULL) == ERR_DB &&
		      strstr(e.msg, "not an SQLite database"),
	      "junk file: %s", e.msg);
	free(out);
}

/* ---- paths ---- */

/* History text goes out as JSON (history list/show --json) whatever bytes it holds:
   valid UTF-8 as it is, each byte of an invalid sequence (a stray continuation byte, a
   truncated sequence, an overlong form, a surrogate, past U+10FFFF) as one U+FFFD. */
static void test_json_text_repair(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
		{"caf\xc3\xa9 \xe2\x9c\x93", 9, "caf\xc3\xa9 \xe2\x9c\x93"},
		{"a\x80z", 3, "a\xef\xbf\xbdz"},
		{"ab\xe2\x9c", 4, "ab\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80!", 5,
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *j = app_json_str(cases[i].in, cases[i].n);
		CHECK(j && json_is_string(j) && !strcmp(json_string_value(j), cases[i].want),
		      "case %zu: got \"%s\"", i, j && json_is_string(j) ? json_string_value(j) : "?");
		json_decref(j);
	}
	json_t *j = app_json_cstr(NULL);
	CHECK(j && json_is_null(j), "a NULL string becomes JSON null");
	json_decref(j);
}

static void test_paths(void)
{
	char buf[1024], want[1024];
	struct err e = {0};
	char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	setenv("HOME", tmpdir, 1);
	unsetenv("PONDER_DB");
	setenv("XDG_DATA_HOME", tpath("xdg-data"), 1);
	CHECK(app_path_history_db(NULL, 1, buf, sizeof buf, &e) == 0, "path: %s", e.msg);
	snprintf(want, sizeof want, "%s/xdg-data/ponder/history.db", tmpdir);
	CHECK(!strcmp(buf, want), "XDG_DATA_HOME: %s", buf);
	struct stat st;
	CHECK(stat(tpath("xdg-data/ponder"), &st) == 0 && S_ISDIR(st.st_mode) &&
		      (st.st_mode & 0777) == 0700,
	      "folder made with 0700");
	setenv("XDG_DATA_HOME", "relative/path", 1);
	app_path_history_db(NULL, 0, buf, sizeof buf, &e);
	snprintf(want, sizeof want, "%s/.local/share/ponder/history.db", tmpdir);
	CHECK(!strcmp(buf, want), "relative XDG ignored: %s", buf);
	unsetenv("XDG_DATA_HOME");
	app_path_history_db(NULL, 0, buf, sizeof buf, &e);
	CHECK(!strcmp(buf, want), "default: %s", buf);
	setenv("PONDER_DB", "/x/env.db", 1);
	app_path_history_db(NULL, 0, buf, sizeof buf, &e);
	CHECK(!strcmp(buf, "/x/env.db"), "PONDER_DB: %s", buf);
	app_path_history_db("/y/opt.db", 0, buf, sizeof buf, &e);
	CHECK(!strcmp(buf, "/y/opt.db"), "--db wins: %s", buf);
	unsetenv("PONDER_DB");
	CHECK(app_path_history_db(tpath("deep/er/h.db"), 1, buf, sizeof buf, &e) == 0 &&
		      stat(tpath("deep/er"), &st) == 0,
	      "--db folder made");
	setenv("XDG_CONFIG_HOME", tpath("cfg"), 1);
	CHECK(app_path_dir(APP_DIR_CONFIG, 0, buf, sizeof buf, &e) == 0 &&
		      !strcmp(buf, tpath("cfg/ponder")),
	      "config dir: %s", buf);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("XDG_STATE_HOME");
	app_path_dir(APP_DIR_STATE, 0, buf, sizeof buf, &e);
	snprintf(want, sizeof want, "%s/.local/state/ponder", tmpdir);
	CHECK(!strcmp(buf, want), "state dir: %s", buf);
	char tiny[8];
	CHECK(app_path_dir(APP_DIR_DATA, 0, tiny, sizeof tiny, &e) == ERR_RANGE, "too long");
	write_all(tpath("afile"), "x", 1);
	CHECK(app_mkdir_p(tpath("afile/sub"), 0700, &e) == ERR_IO, "file in the way");
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ponder-test-history-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_create_schema);
	RUN(test_roundtrip_bytes);
	RUN(test_titles);
	RUN(test_streaming);
	RUN(test_close_marks_interrupted);
	RUN(test_list_latest);
	RUN(test_search);
	RUN(test_search_window);
	RUN(test_null_db);
	RUN(test_not_sqlite);
	RUN(test_foreign_sqlite);
	RUN(test_damaged_ours);
	RUN(test_newer_schema);
	RUN(test_readonly_flag);
	RUN(test_readonly_file);
	RUN(test_disk_full);
	RUN(test_locked_timeout);
	RUN(test_migration_v1);
	RUN(test_migration_v2);
	RUN(test_export_md);
	RUN(test_command);
	RUN(test_paths);
	RUN(test_json_text_repair);
	rm_rf(tmpdir);
	return check_finish();
}
