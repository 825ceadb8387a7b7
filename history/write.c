/*
 * write.c — saving conversations and messages as the chat session produces them.
 *
 * Invariants:
 *  - Every write is one BEGIN IMMEDIATE transaction (or joins the open batch), so a crash
 *    leaves each turn either fully written or absent, never half.
 *  - The user's message is committed before generation starts; the assistant's row exists
 *    from the first token on (status 'streaming', writer_pid = this process) and is
 *    rewritten with the whole text so far at most every flush_ms.
 *  - A throttled hist_message_update call touches neither SQLite nor the heap.
 *  - NULL db, saving off, or id 0: the session writes do nothing and return 0 (see the
 *    contract in history.h).
 */
#include "history/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The throttle's clock: monotonic, so a wall-clock step back cannot stall saving. */
static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int saving(const struct hist_db *db)
{
	return db && !db->save_off;
}

static const char *status_text[] = {"streaming", "complete", "interrupted", "error", "length"};
static const char *role_text[] = {"user", "assistant"};

const char *hist_status_name(enum hist_status s)
{
	return (unsigned)s <= HIST_LENGTH ? status_text[s] : "unknown";
}

const char *hist_role_name(enum hist_role r)
{
	return (unsigned)r < 2 ? role_text[r] : "unknown";
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
	if (v >= 0)
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_count(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* Steps a bound statement once; SQLITE_OK when it ran (a row or done). */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* 1 when conversation cid exists, 0 when not, negative SQLite code on failure (as -rc).
   *title_empty tells whether its title is still "". */
static int conversation_exists(struct hist_db *db, int64_t cid, int *title_empty)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->sql, "SELECT title = '' FROM conversations WHERE id = ?1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cid);
		rc = sqlite3_step(st);
	}
	int found = rc == SQLITE_ROW;
	if (found && title_empty)
		*title_empty = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -rc;
	return found;
}

static int no_conversation(struct hist_db *db, int64_t cid, struct err *e)
{
	hist_store_rollback(db);
	return err_set(e, ERR_RANGE, "there is no conversation %lld in %s (see `ponder history list`)",
		       (long long)cid, db->path);
}

int hist_conversation_new(struct hist_db *db, const char *title, const char *model,
			  const char *system_prompt, int64_t *cid, struct err *e)
{
	if (cid)
		*cid = 0;
	if (!saving(db))
		return 0;
	int rc = hist_store_begin(db, e);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	int64_t now = hist_store_now_ms();
	int src = sqlite3_prepare_v2(db->sql,
				     "INSERT INTO conversations(title, model, system_prompt, "
				     "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
				     -1, &st, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(st, 1, title ? title : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, model ? model : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, system_prompt ? system_prompt : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, now);
		src = step_done(st);
	}
	sqlite3_finalize(st);
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, "creating a conversation", e);
	int64_t id = sqlite3_last_insert_rowid(db->sql);
	if ((rc = hist_store_commit(db, e)))
		return rc;
	if (cid)
		*cid = id;
	return 0;
}

/* title / rm: explicit edits fail loudly when saving is off. */
static int edit_allowed(struct hist_db *db, struct err *e)
{
	if (db->save_off)
		return err_set(e, ERR_DB, "%s", db->warning);
	return 0;
}

int hist_conversation_title(struct hist_db *db, int64_t cid, const char *title, struct err *e)
{
	if (!db)
		return 0;
	int rc = edit_allowed(db, e);
	if (rc || (rc = hist_store_begin(db, e)))
		return rc;
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(db->sql,
				     "UPDATE conversations SET title = ?1 WHERE id = ?2", -1, &st,
				     NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_text(st, 1, title ? title : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, cid);
		src = step_done(st);
	}
	sqlite3_finalize(st);
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, "setting a title", e);
	if (sqlite3_changes(db->sql) == 0)
		return no_conversation(db, cid, e);
	return hist_store_commit(db, e);
}

int hist_conversation_rm(struct hist_db *db, int64_t cid, struct err *e)
{
	if (!db)
		return 0;
	int rc = edit_allowed(db, e);
	if (rc || (rc = hist_store_begin(db, e)))
		return rc;
	/* Messages first and explicitly: their delete trigger keeps the search index right
	   even on a connection where foreign keys were off. */
	static const char *const sql[2] = {
		"DELETE FROM messages WHERE conversation_id = ?1",
		"DELETE FROM conversations WHERE id = ?1",
	};
	int src = SQLITE_OK;
	for (int i = 0; i < 2 && src == SQLITE_OK; i++) {
		sqlite3_stmt *st = NULL;
		src = sqlite3_prepare_v2(db->sql, sql[i], -1, &st, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, cid);
			src = step_done(st);
		}
		sqlite3_finalize(st);
	}
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, "removing a conversation", e);
	if (sqlite3_changes(db->sql) == 0)
		return no_conversation(db, cid, e);
	return hist_store_commit(db, e);
}

size_t hist_title_from(const char *text, size_t len, size_t max_chars, char *buf, size_t size)
{
	if (!size)
		return 0;
	buf[0] = '\0';
	if (!text)
		return 0;
	const unsigned char *s = (const unsigned char *)text, *end = s + len;
	/* The first line with something on it, trimmed. */
	const unsigned char *line = s, *eol;
	for (;;) {
		while (line < end && (*line == ' ' || *line == '\t' || *line == '\r'))
			line++;
		eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if (eol > line || eol == end)
			break;
		line = eol + 1;
	}
	while (eol > line && (eol[-1] == ' ' || eol[-1] == '\t' || eol[-1] == '\r'))
		eol--;
	size_t o = 0, chars = 0;
	const unsigned char *p = line;
	int cut = 0;
	while (p < eol) {
		size_t n = 1; /* bytes of this character */
		while (p + n < eol && (p[n] & 0xc0) == 0x80 && n < 4)
			n++;
		if (chars == max_chars) {
			cut = 1;
			break;
		}
		if (o + n + 1 > size)
			break;
		for (size_t i = 0; i < n; i++)
			buf[o++] = (char)(p[i] < 0x20 || p[i] == 0x7f ? ' ' : p[i]);
		p += n;
		chars++;
	}
	if (cut) {
		while (o > 0 && buf[o - 1] == ' ')
			o--;
		if (o + 4 <= size) {
			memcpy(buf + o, "\xe2\x80\xa6", 3);
			o += 3;
		}
	}
	buf[o] = '\0';
	return o;
}

int hist_message_add_user(struct hist_db *db, int64_t cid, const char *text, size_t len,
			  int64_t *mid, struct err *e)
{
	if (mid)
		*mid = 0;
	if (!saving(db) || cid == 0)
		return 0;
	int rc = hist_store_begin(db, e);
	if (rc)
		return rc;
	int title_empty = 0;
	int found = conversation_exists(db, cid, &title_empty);
	if (found < 0)
		return hist_store_fail(db, -found, "saving your message", e);
	if (!found)
		return no_conversation(db, cid, e);

	int64_t now = hist_store_now_ms();
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(db->sql,
				     "INSERT INTO messages(conversation_id, role, content, status, "
				     "created_ms, updated_ms) VALUES (?1, 'user', ?2, 'complete', ?3, ?3)",
				     -1, &st, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cid);
		hist_store_bind_text(st, 2, text ? text : "", text ? len : 0);
		sqlite3_bind_int64(st, 3, now);
		src = step_done(st);
	}
	sqlite3_finalize(st);
	int64_t id = sqlite3_last_insert_rowid(db->sql);
	if (src == SQLITE_OK) {
		char title[4 * HIST_TITLE_MAX + 4];
		if (title_empty)
			hist_title_from(text, text ? len : 0, HIST_TITLE_MAX, title, sizeof title);
		src = sqlite3_prepare_v2(db->sql,
					 title_empty ? "UPDATE conversations SET updated_ms = ?1, "
						       "title = ?3 WHERE id = ?2"
						     : "UPDATE conversations SET updated_ms = ?1 "
						       "WHERE id = ?2",
					 -1, &st, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_int64(st, 2, cid);
			if (title_empty)
				sqlite3_bind_text(st, 3, title, -1, SQLITE_STATIC);
			src = step_done(st);
		}
		sqlite3_finalize(st);
	}
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, "saving your message", e);
	if ((rc = hist_store_commit(db, e)))
		return rc;
	if (mid)
		*mid = id;
	return 0;
}

int hist_message_begin_assistant(struct hist_db *db, int64_t cid, const char *model,
				 const struct hist_params *p, int64_t *mid, struct err *e)
{
	if (mid)
		*mid = 0;
	if (!saving(db) || cid == 0)
		return 0;
	struct hist_params none = HIST_PARAMS_NONE;
	if (!p)
		p = &none;
	int rc = hist_store_begin(db, e);
	if (rc)
		return rc;
	int found = conversation_exists(db, cid, NULL);
	if (found < 0)
		return hist_store_fail(db, -found, "starting the answer", e);
	if (!found)
		return no_conversation(db, cid, e);

	int64_t now = hist_store_now_ms();
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v2(
		db->sql,
		"INSERT INTO messages(conversation_id, role, status, model, created_ms, "
		"updated_ms, temperature, top_p, top_k, min_p, seed, max_tokens, writer_pid) "
		"VALUES (?1, 'assistant', 'streaming', ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
		-1, &st, NULL);
	if (src == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cid);
		if (model)
			sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, now);
		bind_real(st, 4, p->temperature);
		bind_real(st, 5, p->top_p);
		bind_count(st, 6, p->top_k);
		bind_real(st, 7, p->min_p);
		if (p->has_seed)
			sqlite3_bind_int64(st, 8, (int64_t)p->seed); /* bits kept; read back as u64 */
		bind_count(st, 9, p->max_tokens);
		sqlite3_bind_int64(st, 10, (int64_t)getpid());
		src = step_done(st);
	}
	sqlite3_finalize(st);
	int64_t id = sqlite3_last_insert_rowid(db->sql);
	if (src == SQLITE_OK) {
		src = sqlite3_prepare_v2(db->sql,
					 "UPDATE conversations SET updated_ms = ?1 WHERE id = ?2", -1,
					 &st, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, now);
			sqlite3_bind_int64(st, 2, cid);
			src = step_done(st);
		}
		sqlite3_finalize(st);
	}
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, "starting the answer", e);
	if ((rc = hist_store_commit(db, e)))
		return rc;
	db->active_mid = id;
	db->stream_mid = id;
	db->stream_last_ms = mono_ms();
	if (mid)
		*mid = id;
	return 0;
}

/* The texts, figures and (when status >= 0) the final status and error of message mid. */
static int write_message(struct hist_db *db, int64_t mid, int status, const char *error,
			 const char *reasoning, size_t rlen, const char *answer, size_t alen,
			 const struct hist_stats *s, int64_t now, struct err *e)
{
	const char *what = status < 0 ? "saving the answer as it streams" : "saving the answer";
	int src = SQLITE_OK;
	if (!db->st_update)
		src = sqlite3_prepare_v3(
			db->sql,
			"UPDATE messages SET content = ?1, reasoning = ?2, updated_ms = ?3,"
			" prompt_tokens = coalesce(?4, prompt_tokens),"
			" reasoning_tokens = coalesce(?5, reasoning_tokens),"
			" answer_tokens = coalesce(?6, answer_tokens),"
			" prefill_tps = coalesce(?7, prefill_tps),"
			" decode_tps = coalesce(?8, decode_tps),"
			" mtp_acceptance = coalesce(?9, mtp_acceptance),"
			" ttft_ms = coalesce(?13, ttft_ms),"
			" status = coalesce(?11, status),"
			" error = CASE WHEN ?11 IS NULL THEN error ELSE ?12 END"
			" WHERE id = ?10",
			-1, SQLITE_PREPARE_PERSISTENT, &db->st_update, NULL);
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, what, e);
	int rc = hist_store_begin(db, e);
	if (rc)
		return rc;
	sqlite3_stmt *st = db->st_update;
	struct hist_stats none = HIST_STATS_NONE;
	if (!s)
		s = &none;
	hist_store_bind_text(st, 1, answer ? answer : "", answer ? alen : 0);
	hist_store_bind_text(st, 2, reasoning ? reasoning : "", reasoning ? rlen : 0);
	sqlite3_bind_int64(st, 3, now);
	bind_count(st, 4, s->prompt_tokens);
	bind_count(st, 5, s->reasoning_tokens);
	bind_count(st, 6, s->answer_tokens);
	bind_real(st, 7, s->prefill_tps);
	bind_real(st, 8, s->decode_tps);
	bind_real(st, 9, s->mtp_acceptance);
	sqlite3_bind_int64(st, 10, mid);
	if (status >= 0)
		sqlite3_bind_text(st, 11, status_text[status], -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 11);
	if (error)
		sqlite3_bind_text(st, 12, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 12);
	bind_real(st, 13, s->ttft_ms);
	src = step_done(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st); /* the texts are the caller's; drop the pointers */
	if (src == SQLITE_OK && status >= 0 && sqlite3_changes(db->sql) > 0) {
		sqlite3_stmt *c = NULL;
		src = sqlite3_prepare_v2(db->sql,
					 "UPDATE conversations SET updated_ms = ?1 WHERE id = "
					 "(SELECT conversation_id FROM messages WHERE id = ?2)",
					 -1, &c, NULL);
		if (src == SQLITE_OK) {
			sqlite3_bind_int64(c, 1, now);
			sqlite3_bind_int64(c, 2, mid);
			src = step_done(c);
		}
		sqlite3_finalize(c);
	}
	if (src != SQLITE_OK)
		return hist_store_fail(db, src, what, e);
	return hist_store_commit(db, e);
}

int hist_message_update(struct hist_db *db, int64_t mid, const char *reasoning, size_t rlen,
			const char *answer, size_t alen, const struct hist_stats *st,
			struct err *e)
{
	if (!saving(db) || mid == 0)
		return 0;
	int64_t t = mono_ms();
	if (mid == db->stream_mid && t - db->stream_last_ms < db->flush_ms)
		return 0;
	int rc = write_message(db, mid, -1, NULL, reasoning, rlen, answer, alen, st,
			       hist_store_now_ms(), e);
	db->stream_mid = mid;
	db->stream_last_ms = t;
	return rc;
}

int hist_message_finish(struct hist_db *db, int64_t mid, enum hist_status status,
			const char *error, const char *reasoning, size_t rlen, const char *answer,
			size_t alen, const struct hist_stats *st, struct err *e)
{
	if (!saving(db) || mid == 0)
		return 0;
	if ((unsigned)status > HIST_LENGTH || status == HIST_STREAMING)
		return err_set(e, ERR_USAGE, "hist_message_finish: status must be final");
	int rc = write_message(db, mid, (int)status, error, reasoning, rlen, answer, alen, st,
			       hist_store_now_ms(), e);
	if (db->active_mid == mid)
		db->active_mid = 0;
	if (db->stream_mid == mid)
		db->stream_mid = 0;
	return rc;
}
