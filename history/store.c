/*
 * store.c — opening the history file: recognising it, creating and migrating the schema,
 * connection settings, crash recovery, and the transaction / error helpers every write
 * uses.
 *
 * Invariants:
 *  - Nothing is written to a file before it is known to be ours (application_id ==
 *    HIST_APP_ID) or empty (see header_empty). journal_mode=WAL rewrites header bytes,
 *    so it too waits for that check. A missing file is created here with mode 0600 and
 *    then opened like any other empty file; SQLite itself never creates one.
 *  - Migrations run inside one BEGIN IMMEDIATE transaction that re-reads user_version
 *    first, so two processes opening an old (or new, empty) file at once migrate it once.
 *  - Every write is BEGIN IMMEDIATE ... COMMIT; the busy timeout makes a second process
 *    wait instead of seeing SQLITE_BUSY. WAL + synchronous=NORMAL: a commit survives
 *    kill -9 of the process (the WAL is in the OS page cache); a power cut may lose the
 *    last commits but never leaves the file inconsistent.
 */
#include "history/store.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUSY_MS 5000
#define DEFAULT_FLUSH_MS 500

/*
 * Schema history. Step k takes user_version k to k + 1 and never changes once released:
 * old files replay exactly these statements. Step 0 is the first layout; step 1 adds the
 * speed / MTP figures, the writer's pid (crash recovery) and the full-text index; step 2
 * adds the time to first token.
 *
 * The FTS5 index is an external-content table over messages(content, reasoning). A
 * message is indexed exactly while its status is not 'streaming': the triggers remove the
 * old entry only when the old row was indexed and add the new one only when the new row
 * is, so a streamed update (status stays 'streaming') costs no index work and a 'delete'
 * always receives exactly the values that were indexed.
 */
const char *const hist_store_migrations[HIST_SCHEMA_VERSION] = {
	/* 0 -> 1 */
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
	"CREATE INDEX conversations_by_update ON conversations(updated_ms, id);",

	/* 1 -> 2 */
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
	"  SELECT id, content, reasoning FROM messages WHERE status <> 'streaming';",

	/* 2 -> 3 */
	"ALTER TABLE messages ADD COLUMN ttft_ms REAL;",
};

/* Tables a file of each version must have (checked before anything is written). */
static int tables_expected(int version)
{
	return version >= 2 ? 3 : 2;
}

int64_t hist_store_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

sqlite3 *hist_store_sqlite(struct hist_db *db)
{
	return db ? db->sql : NULL;
}

const char *hist_store_cause(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return "the file is locked by another process";
	case SQLITE_FULL: return "the disk is full (or the database reached its size limit)";
	case SQLITE_READONLY: return "the file is read-only";
	case SQLITE_CORRUPT: return "the file is corrupt";
	case SQLITE_NOTADB: return "the file is not an SQLite database";
	case SQLITE_IOERR: return "an input/output error occurred";
	case SQLITE_CANTOPEN: return "the file cannot be opened";
	case SQLITE_PERM:
	case SQLITE_AUTH: return "permission denied";
	case SQLITE_TOOBIG: return "a text is too large for the database";
	case SQLITE_NOMEM: return "out of memory";
	}
	return sqlite3_errstr(rc);
}

/* "cause (sqlite detail[, errno text])" into buf. */
static void describe(struct hist_db *db, int rc, char *buf, size_t size)
{
	const char *detail = db && db->sql ? sqlite3_errmsg(db->sql) : sqlite3_errstr(rc);
	int sys = db && db->sql ? sqlite3_system_errno(db->sql) : 0;
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		snprintf(buf, size, "%s (waited %d ms)", hist_store_cause(rc), db ? db->busy_ms : 0);
	else if ((rc & 0xff) == SQLITE_IOERR && sys)
		snprintf(buf, size, "%s (%s: %s)", hist_store_cause(rc), detail, strerror(sys));
	else
		snprintf(buf, size, "%s (%s)", hist_store_cause(rc), detail);
}

int hist_store_fail(struct hist_db *db, int rc, const char *what, struct err *e)
{
	char cause[512];
	describe(db, rc, cause, sizeof cause);
	hist_store_rollback(db);
	db->save_off = 1;
	snprintf(db->warning, sizeof db->warning, "history is not being saved: %s (%s)", cause,
		 db->path);
	return err_set(e, ERR_DB,
		       "could not save to the history file %s while %s: %s; ponder goes on "
		       "without saving",
		       db->path, what, cause);
}

int hist_store_read_err(struct hist_db *db, int rc, const char *what, struct err *e)
{
	char cause[512];
	describe(db, rc, cause, sizeof cause);
	return err_set(e, ERR_DB, "could not read the history file %s while %s: %s", db->path,
		       what, cause);
}

int hist_store_bind_text(sqlite3_stmt *st, int i, const char *p, size_t len)
{
	if (!p)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text64(st, i, p, len, SQLITE_STATIC, SQLITE_UTF8);
}

int hist_store_begin(struct hist_db *db, struct err *e)
{
	if (db->batch)
		return 0;
	int rc = sqlite3_exec(db->sql, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return hist_store_fail(db, rc, "starting a write", e);
	return 0;
}

int hist_store_commit(struct hist_db *db, struct err *e)
{
	if (db->batch)
		return 0;
	int rc = sqlite3_exec(db->sql, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return hist_store_fail(db, rc, "committing a write", e);
	return 0;
}

void hist_store_rollback(struct hist_db *db)
{
	/* In batch mode a failure ends the whole batch: nothing half-written is kept. */
	if (db && db->sql && !sqlite3_get_autocommit(db->sql)) {
		sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
		db->batch = 0;
	}
}

/* Runs a one-value integer query; rc is an SQLite code. */
static int query_int(sqlite3 *sql, const char *q, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(sql, q, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			*v = 0;
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

struct header {
	int64_t app_id, version, pages, tables, objects;
};

static int read_header(sqlite3 *sql, struct header *h)
{
	int rc = query_int(sql, "PRAGMA page_count", &h->pages);
	if (rc == SQLITE_OK)
		rc = query_int(sql, "PRAGMA application_id", &h->app_id);
	if (rc == SQLITE_OK)
		rc = query_int(sql, "PRAGMA user_version", &h->version);
	if (rc == SQLITE_OK)
		rc = query_int(sql,
			       "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
			       "('conversations', 'messages', 'messages_fts')",
			       &h->tables);
	if (rc == SQLITE_OK)
		rc = query_int(sql, "SELECT count(*) FROM sqlite_schema", &h->objects);
	return rc;
}

/*
 * read_header in one read transaction, so that its five statements see one snapshot: a
 * racing ponder that creates the file commits its schema, application_id and
 * user_version together, and separate reads could see any mix of before and after
 * (tables, or a user_version, without the application_id).
 */
static int read_header_snapshot(sqlite3 *sql, struct header *h)
{
	int rc = sqlite3_exec(sql, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = read_header(sql, h);
	sqlite3_exec(sql, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * Nothing in it yet: no pages, or only a header with no schema, no application_id and no
 * user_version (what a ponder that was stopped between switching a new file to WAL and
 * creating the tables leaves, and what a racing ponder sees meanwhile). Holds no data.
 */
static int header_empty(const struct header *h)
{
	return h->pages == 0 || (h->app_id == 0 && h->version == 0 && h->objects == 0);
}

/* file:PATH?immutable=1 for a read-only WAL file whose folder we cannot write. */
static char *immutable_uri(const char *path)
{
	size_t n = strlen(path);
	char *u = malloc(n * 3 + 40);
	if (!u)
		return NULL;
	char *p = u;
	p += sprintf(p, "file:");
	for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
		if (*s == '?' || *s == '#' || *s == '%' || *s <= ' ' || *s >= 0x7f)
			p += sprintf(p, "%%%02X", *s);
		else
			*p++ = (char)*s;
	}
	strcpy(p, "?mode=ro&immutable=1");
	return u;
}

static int wal_file_empty(const char *path)
{
	size_t n = strlen(path);
	char *w = malloc(n + 5);
	if (!w)
		return 0;
	memcpy(w, path, n);
	memcpy(w + n, "-wal", 5);
	struct stat st;
	int empty = stat(w, &st) != 0 || st.st_size == 0;
	free(w);
	return empty;
}

static int open_conn(struct hist_db *db, const char *name, int flags, struct err *e)
{
	int rc = sqlite3_open_v2(name, &db->sql, flags, NULL);
	if (rc != SQLITE_OK) {
		int sys = db->sql ? sqlite3_system_errno(db->sql) : 0;
		sqlite3_close_v2(db->sql);
		db->sql = NULL;
		return err_set(e, ERR_IO,
			       "cannot open the history file %s: %s%s%s (does its folder exist, "
			       "and may ponder write there? --db PATH or PONDER_DB picks another "
			       "file)",
			       db->path, hist_store_cause(rc), sys ? ": " : "",
			       sys ? strerror(sys) : "");
	}
	sqlite3_extended_result_codes(db->sql, 1);
	sqlite3_busy_timeout(db->sql, db->busy_ms);
	return 0;
}

static int refuse(struct hist_db *db, int rc, struct err *e)
{
	int c = rc & 0xff;
	if (c == SQLITE_NOTADB)
		return err_set(e, ERR_FORMAT,
			       "%s is not an SQLite database (or is damaged or encrypted); ponder "
			       "leaves it untouched: move it away, or use another file with --db "
			       "PATH or PONDER_DB",
			       db->path);
	if (c == SQLITE_CORRUPT)
		return err_set(e, ERR_FORMAT,
			       "%s is damaged (%s); ponder leaves it untouched: move it away, or "
			       "use another file with --db PATH or PONDER_DB",
			       db->path, sqlite3_errmsg(db->sql));
	char cause[512];
	describe(db, rc, cause, sizeof cause);
	return err_set(e, ERR_DB, "cannot read the history file %s: %s", db->path, cause);
}

static int exec(struct hist_db *db, const char *sql)
{
	return sqlite3_exec(db->sql, sql, NULL, NULL, NULL);
}

/* Creates or upgrades the schema; see the invariants at the top. */
static int migrate(struct hist_db *db, struct err *e)
{
	int rc = exec(db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return hist_store_fail(db, rc, "preparing the schema", e);
	struct header h;
	rc = read_header(db->sql, &h);
	if (rc != SQLITE_OK)
		goto fail;
	if (header_empty(&h)) {
		/* Still empty now that we hold the write lock: ours to fill. */
	} else if (h.app_id != HIST_APP_ID || h.version < 1) {
		/* A racing process filled it with something that is not ours. */
		hist_store_rollback(db);
		return err_set(e, ERR_FORMAT, "%s is not a ponder history file", db->path);
	}
	for (int64_t v = h.version; v < HIST_SCHEMA_VERSION; v++) {
		rc = exec(db, hist_store_migrations[v]);
		if (rc != SQLITE_OK)
			goto fail;
	}
	if (h.version < HIST_SCHEMA_VERSION) {
		char pragma[96];
		snprintf(pragma, sizeof pragma, "PRAGMA application_id = %d; PRAGMA user_version = %d",
			 HIST_APP_ID, HIST_SCHEMA_VERSION);
		rc = exec(db, pragma);
		if (rc != SQLITE_OK)
			goto fail;
	}
	rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK)
		goto fail;
	return 0;
fail:
	return hist_store_fail(db, rc, "creating or upgrading the schema", e);
}

/* Marks messages left 'streaming' by processes that are gone as interrupted. Returns an
   SQLite code. */
static int recover(struct hist_db *db)
{
	sqlite3_stmt *st = NULL;
	int64_t dead[64];
	size_t n = 0;
	int rc = sqlite3_prepare_v2(db->sql,
				    "SELECT id, writer_pid FROM messages WHERE status = 'streaming'",
				    -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t pid = sqlite3_column_int64(st, 1);
		int gone = pid <= 0 || pid > 0x7fffffff ||
			   (pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH);
		if (gone && n < sizeof dead / sizeof dead[0])
			dead[n++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_OK)
		return rc;
	if (!n)
		return SQLITE_OK;
	rc = exec(db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_prepare_v2(db->sql,
				"UPDATE messages SET status = 'interrupted', updated_ms = ?1, error = "
				"coalesce(error, 'ponder stopped while this answer was being written')"
				" WHERE id = ?2 AND status = 'streaming'",
				-1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_bind_int64(st, 1, hist_store_now_ms());
		sqlite3_bind_int64(st, 2, dead[i]);
		rc = sqlite3_step(st);
		rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK)
		hist_store_rollback(db);
	return rc;
}

#define RETRY_OPEN 1

/* Opens the connection, recognises the file and, when it may be written, switches it to
   WAL. Returns 0, a negative err code, or RETRY_OPEN (see hist_open). */
static int connect_file(struct hist_db *db, unsigned flags, struct header *h, struct err *e)
{
	int oflags = (flags & HIST_OPEN_READONLY) ? SQLITE_OPEN_READONLY
			: SQLITE_OPEN_READWRITE;
	int rc = open_conn(db, db->path, oflags, e);
	if (rc)
		return rc;
	/* SQLite falls back to read-only by itself when the file is not writable. */
	db->readonly = (flags & HIST_OPEN_READONLY) || sqlite3_db_readonly(db->sql, "main") == 1;

	int src = read_header_snapshot(db->sql, h);
	if (src != SQLITE_OK && db->readonly &&
	    ((src & 0xff) == SQLITE_READONLY || (src & 0xff) == SQLITE_CANTOPEN) &&
	    wal_file_empty(db->path)) {
		/* A WAL file in a folder we cannot write: without -shm SQLite cannot read it
		   normally. With no -wal content the main file is the whole truth. */
		char *uri = immutable_uri(db->path);
		sqlite3_close_v2(db->sql);
		db->sql = NULL;
		rc = uri ? open_conn(db, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, e)
			 : err_set(e, ERR_NOMEM, "out of memory");
		free(uri);
		if (rc)
			return rc;
		src = read_header_snapshot(db->sql, h);
	}
	if (src != SQLITE_OK) {
		rc = refuse(db, src, e);
		return rc;
	}

	if (header_empty(h)) {
		if (db->readonly) {
			rc = err_set(e, ERR_FORMAT, "the history file %s is empty and read-only",
				     db->path);
			return rc;
		}
	} else if (h->app_id != HIST_APP_ID) {
		rc = err_set(e, ERR_FORMAT,
			     "%s is an SQLite database but not a ponder history file "
			     "(application_id 0x%08llx); ponder leaves it untouched: use another "
			     "file with --db PATH or PONDER_DB",
			     db->path, (unsigned long long)(uint32_t)h->app_id);
		return rc;
	} else if (h->version < 1 || h->tables < tables_expected(h->version)) {
		rc = err_set(e, ERR_FORMAT,
			     "%s is a ponder history file with a damaged schema (version %lld, "
			     "%lld of its tables); ponder leaves it untouched: move it away",
			     db->path, (long long)h->version, (long long)h->tables);
		return rc;
	} else if (h->version > HIST_SCHEMA_VERSION) {
		db->readonly = 1;
		db->save_off = 1;
		snprintf(db->warning, sizeof db->warning,
			 "history is not being saved: %s was written by a newer ponder (schema "
			 "%lld, this one knows %d); upgrade ponder",
			 db->path, (long long)h->version, HIST_SCHEMA_VERSION);
	} else if (h->version < HIST_SCHEMA_VERSION && db->readonly) {
		rc = err_set(e, ERR_FORMAT,
			     "%s needs an upgrade (schema %lld to %d) but is read-only; make it "
			     "writable once so ponder can upgrade it",
			     db->path, (long long)h->version, HIST_SCHEMA_VERSION);
		return rc;
	}

	if (db->readonly) {
		exec(db, "PRAGMA query_only = 1");
		if (!db->save_off) {
			db->save_off = 1;
			snprintf(db->warning, sizeof db->warning,
				 "history is not being saved: %s is read-only", db->path);
		}
		return 0;
	}

	/* Ours (or empty): now it may be written. A short wait here: a stale connection
	   would wait for nothing (the caller retries with a fresh one). */
	sqlite3_busy_timeout(db->sql, db->busy_ms < 100 ? db->busy_ms : 100);
	sqlite3_stmt *jm = NULL;
	int jrc = sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode = WAL", -1, &jm, NULL);
	if (jrc == SQLITE_OK)
		jrc = sqlite3_step(jm);
	sqlite3_finalize(jm);
	sqlite3_busy_timeout(db->sql, db->busy_ms);
	if ((jrc & 0xff) == SQLITE_BUSY || (jrc & 0xff) == SQLITE_LOCKED)
		return RETRY_OPEN;
	if (jrc != SQLITE_ROW && jrc != SQLITE_DONE)
		return refuse(db, jrc, e);
	return 0;
}

int hist_open(const char *path, const struct hist_open_opts *o, struct hist_db **out,
	      struct err *e)
{
	*out = NULL;
	unsigned flags = o ? o->flags : 0;
	if (!path || !*path)
		return err_set(e, ERR_USAGE, "no history file path given");
	struct hist_db *db = calloc(1, sizeof *db);
	if (!db || !(db->path = strdup(path))) {
		free(db);
		return err_set(e, ERR_NOMEM, "out of memory opening the history");
	}
	db->busy_ms = o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : DEFAULT_BUSY_MS;
	db->flush_ms = DEFAULT_FLUSH_MS;
	int rc = 0;
	struct stat st;
	int exists = stat(path, &st) == 0;
	if (!exists && errno != ENOENT) {
		rc = err_set(e, ERR_IO, "cannot reach the history file %s: %s", path,
			     strerror(errno));
		goto fail;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		rc = err_set(e, ERR_IO, "the history path %s is not a regular file", path);
		goto fail;
	}
	if (!exists && (flags & (HIST_OPEN_READONLY | HIST_OPEN_NOCREATE))) {
		rc = err_set(e, ERR_IO, "there is no history file at %s yet", path);
		goto fail;
	}
	if (!exists) {
		/* Created here, private from the first byte (SQLite would use 0644); SQLite
		   gives its -wal and -shm files the same mode. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = err_set(e, ERR_IO,
				     "cannot create the history file %s: %s (does its folder exist? "
				     "--db PATH or PONDER_DB picks another file)",
				     path, strerror(errno));
			goto fail;
		}
		if (fd >= 0)
			close(fd);
	}
	/* A connection that read the file while it was still empty (rollback mode) cannot
	   switch it to WAL once a racing process has done so: that needs an exclusive lock
	   the others' WAL connections never give up. A fresh connection sees WAL at once. */
	struct header h;
	int64_t deadline = hist_store_now_ms() + db->busy_ms;
	unsigned jitter = (unsigned)getpid();
	while ((rc = connect_file(db, flags, &h, e)) == RETRY_OPEN) {
		sqlite3_close_v2(db->sql);
		db->sql = NULL;
		if (hist_store_now_ms() > deadline) {
			rc = err_set(e, ERR_DB,
				     "could not open the history file %s: it stayed locked by other "
				     "ponder processes for %d ms",
				     path, db->busy_ms);
			goto fail;
		}
		jitter = jitter * 1103515245 + 12345;
		struct timespec ts = {0, (long)(5 + (jitter >> 16) % 20) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (rc)
		goto fail;
	if (db->readonly) {
		*out = db;
		return 0;
	}
	exec(db, "PRAGMA synchronous = NORMAL");
	exec(db, "PRAGMA foreign_keys = ON");
	if (header_empty(&h) || h.version < HIST_SCHEMA_VERSION) {
		if ((rc = migrate(db, e)))
			goto fail;
	}
	if (!db->save_off) {
		int rrc = recover(db);
		if ((rrc & 0xff) == SQLITE_CORRUPT || (rrc & 0xff) == SQLITE_NOTADB) {
			rc = refuse(db, rrc, e);
			goto fail;
		}
		if (rrc != SQLITE_OK) /* readable, but writes fail: go on without saving */
			hist_store_fail(db, rrc, "recovering interrupted answers", NULL);
	}
	*out = db;
	return 0;
fail:
	hist_close(db);
	return rc;
}

void hist_close(struct hist_db *db)
{
	if (!db)
		return;
	if (db->batch) {
		struct err ignored;
		hist_batch_end(db, &ignored);
	}
	if (db->active_mid && !db->save_off && db->sql) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(db->sql,
				       "UPDATE messages SET status = 'interrupted', updated_ms = ?1,"
				       " error = coalesce(error, 'closed before the answer finished')"
				       " WHERE id = ?2 AND status = 'streaming'",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, hist_store_now_ms());
			sqlite3_bind_int64(st, 2, db->active_mid);
			if (exec(db, "BEGIN IMMEDIATE") == SQLITE_OK) {
				int rc = sqlite3_step(st);
				exec(db, rc == SQLITE_DONE ? "COMMIT" : "ROLLBACK");
			}
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(db->st_update);
	sqlite3_close_v2(db->sql);
	free(db->path);
	free(db);
}

const char *hist_warning(const struct hist_db *db)
{
	return db && db->save_off ? db->warning : NULL;
}

int hist_can_save(const struct hist_db *db)
{
	return db && !db->save_off;
}

const char *hist_path(const struct hist_db *db)
{
	return db ? db->path : NULL;
}

void hist_set_flush_ms(struct hist_db *db, int ms)
{
	if (db)
		db->flush_ms = ms < 0 ? 0 : ms;
}

int hist_batch_begin(struct hist_db *db, struct err *e)
{
	if (!db || db->save_off || db->batch)
		return 0;
	int rc = hist_store_begin(db, e);
	if (rc)
		return rc;
	db->batch = 1;
	return 0;
}

int hist_batch_end(struct hist_db *db, struct err *e)
{
	if (!db || !db->batch)
		return 0;
	db->batch = 0;
	if (db->save_off) {
		hist_store_rollback(db);
		return 0;
	}
	return hist_store_commit(db, e);
}
