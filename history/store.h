/*
 * store.h — internals shared by the history/ files (not for callers outside history/,
 * except tests and tools/bench_history.c, which may reach the raw connection).
 *
 * Invariants of a struct hist_db:
 *  - sql is open; readonly = 1 means the connection itself is read-only (or the schema
 *    is newer than ours) and nothing is ever written through it.
 *  - save_off = 1 whenever writes are no-ops; warning then says why.
 *  - batch = 1 while a hist_batch_begin transaction is open: begin/commit become no-ops.
 */
#ifndef PONDER_HISTORY_STORE_H
#define PONDER_HISTORY_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "history/history.h"

struct hist_db {
	sqlite3 *sql;
	char *path;
	int readonly;
	int save_off;
	char warning[900];
	int busy_ms;
	int flush_ms;
	int batch;
	int64_t stream_mid;     /* message whose last write time is stream_last_ms */
	int64_t stream_last_ms; /* CLOCK_MONOTONIC ms */
	int64_t active_mid;     /* begun, not finished: hist_close marks it interrupted */
	sqlite3_stmt *st_update; /* the streamed update, prepared once */
};

int64_t hist_store_now_ms(void);

/* The connection for tests and the benchmark (NULL for a NULL db). */
sqlite3 *hist_store_sqlite(struct hist_db *db);

/* Starts a write: BEGIN IMMEDIATE (waits up to busy_ms for other writers). */
int hist_store_begin(struct hist_db *db, struct err *e);
/* COMMIT; on failure rolls back. */
int hist_store_commit(struct hist_db *db, struct err *e);
void hist_store_rollback(struct hist_db *db);

/*
 * A write failed with SQLite code rc while doing `what`: rolls back, turns saving off,
 * records the warning and returns ERR_DB with a message naming the file and the cause.
 */
int hist_store_fail(struct hist_db *db, int rc, const char *what, struct err *e);

/* ERR_DB "<what>: <cause> (<path>)" for a failed read; saving stays as it is. */
int hist_store_read_err(struct hist_db *db, int rc, const char *what, struct err *e);

/* Human cause for an SQLite result code ("disk full", "locked by another process", ...). */
const char *hist_store_cause(int rc);

/* Binds a text of len bytes (SQLITE_STATIC) or NULL when p is NULL. */
int hist_store_bind_text(sqlite3_stmt *st, int i, const char *p, size_t len);

/* The migration steps; index k upgrades user_version k to k + 1. */
extern const char *const hist_store_migrations[HIST_SCHEMA_VERSION];

#endif
