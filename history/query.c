/*
 * query.c — reading the history back: the latest conversation, one conversation with its
 * messages, the list of recent conversations, and full-text search.
 *
 * Invariants:
 *  - Reads never write and work on a read-only handle.
 *  - User search text is turned into quoted FTS5 phrases (hist_fts_query) and bound as a
 *    parameter: no user text ever reaches SQL or FTS5 syntax.
 *  - Texts come back byte for byte (sqlite3_column_bytes, not strlen).
 */
#include "history/store.h"

#include <stdlib.h>
#include <string.h>

/* A malloc'd copy of column i (NULL column -> "" unless keep_null). */
static char *col_text(sqlite3_stmt *st, int i, size_t *len, int keep_null)
{
	if (keep_null && sqlite3_column_type(st, i) == SQLITE_NULL) {
		if (len)
			*len = 0;
		return NULL;
	}
	const unsigned char *p = sqlite3_column_text(st, i);
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

static double col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_double(st, i);
}

static int64_t col_count(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static enum hist_status parse_status(const unsigned char *s)
{
	if (!s)
		return HIST_ERROR;
	if (!strcmp((const char *)s, "complete"))
		return HIST_COMPLETE;
	if (!strcmp((const char *)s, "interrupted"))
		return HIST_INTERRUPTED;
	if (!strcmp((const char *)s, "streaming"))
		return HIST_STREAMING;
	if (!strcmp((const char *)s, "length"))
		return HIST_LENGTH;
	return HIST_ERROR;
}

static int nomem(struct err *e)
{
	return err_set(e, ERR_NOMEM, "out of memory reading the history");
}

int hist_conversation_latest(struct hist_db *db, int64_t *cid, struct err *e)
{
	*cid = 0;
	if (!db)
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->sql,
				    "SELECT id FROM conversations ORDER BY updated_ms DESC, id DESC "
				    "LIMIT 1",
				    -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		*cid = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return hist_store_read_err(db, rc, "finding the latest conversation", e);
	return 0;
}

void hist_conversation_clear(struct hist_conversation *c)
{
	if (!c)
		return;
	free(c->title);
	free(c->model);
	free(c->system_prompt);
	memset(c, 0, sizeof *c);
}

void hist_conversations_free(struct hist_conversation *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++)
		hist_conversation_clear(&c[i]);
	free(c);
}

#define CONV_COLUMNS                                                                   \
	"SELECT c.id, c.title, c.model, c.system_prompt, c.created_ms, c.updated_ms, "   \
	"(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "              \
	"FROM conversations c "

static int conv_row(sqlite3_stmt *st, struct hist_conversation *c)
{
	c->id = sqlite3_column_int64(st, 0);
	c->title = col_text(st, 1, NULL, 0);
	c->model = col_text(st, 2, NULL, 0);
	c->system_prompt = col_text(st, 3, NULL, 0);
	c->created_ms = sqlite3_column_int64(st, 4);
	c->updated_ms = sqlite3_column_int64(st, 5);
	c->n_messages = sqlite3_column_int64(st, 6);
	return c->title && c->model && c->system_prompt ? 0 : -1;
}

int hist_conversation_get(struct hist_db *db, int64_t cid, struct hist_conversation *out,
			  struct err *e)
{
	memset(out, 0, sizeof *out);
	if (!db)
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db->sql, CONV_COLUMNS "WHERE c.id = ?1", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, cid);
		rc = sqlite3_step(st);
	}
	int ret = 0;
	if (rc == SQLITE_ROW) {
		if (conv_row(st, out)) {
			hist_conversation_clear(out);
			ret = nomem(e);
		}
	} else if (rc == SQLITE_DONE) {
		ret = err_set(e, ERR_RANGE,
			      "there is no conversation %lld in %s (see `ponder history list`)",
			      (long long)cid, db->path);
	} else {
		ret = hist_store_read_err(db, rc, "reading a conversation", e);
	}
	sqlite3_finalize(st);
	return ret;
}

/* Grows *v (elements of size sz) to hold n + 1. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	if (nc > ((size_t)-1) / sz)
		return -1;
	void *p = realloc(*v, nc * sz);
	if (!p)
		return -1;
	*v = p;
	*cap = nc;
	return 0;
}

int hist_list(struct hist_db *db, size_t limit, struct hist_conversation **out, size_t *n,
	      struct err *e)
{
	*out = NULL;
	*n = 0;
	if (!db)
		return 0;
	sqlite3_stmt *st = NULL;
	struct hist_conversation *v = NULL;
	size_t cnt = 0, cap = 0;
	int ret = 0;
	int rc = sqlite3_prepare_v2(db->sql,
				    CONV_COLUMNS "ORDER BY c.updated_ms DESC, c.id DESC LIMIT ?1", -1,
				    &st, NULL);
	if (rc == SQLITE_OK)
		sqlite3_bind_int64(st, 1, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&v, &cap, cnt, sizeof *v)) {
			ret = nomem(e);
			break;
		}
		memset(&v[cnt], 0, sizeof v[cnt]);
		if (conv_row(st, &v[cnt++])) {
			ret = nomem(e);
			break;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (!ret && rc != SQLITE_DONE)
		ret = hist_store_read_err(db, rc, "listing conversations", e);
	if (ret) {
		hist_conversations_free(v, cnt);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int hist_conversation_ids(struct hist_db *db, int64_t **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	if (!db)
		return 0;
	sqlite3_stmt *st = NULL;
	int64_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int ret = 0;
	int rc = sqlite3_prepare_v2(db->sql, "SELECT id FROM conversations ORDER BY id", -1, &st,
				    NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&v, &cap, cnt, sizeof *v)) {
			ret = nomem(e);
			break;
		}
		v[cnt++] = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (!ret && rc != SQLITE_DONE)
		ret = hist_store_read_err(db, rc, "listing conversations", e);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void hist_messages_free(struct hist_message *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].content);
		free(m[i].reasoning);
		free(m[i].error);
		free(m[i].model);
	}
	free(m);
}

int hist_conversation_messages(struct hist_db *db, int64_t cid, struct hist_message **out,
			       size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	if (!db)
		return 0;
	sqlite3_stmt *st = NULL;
	struct hist_message *v = NULL;
	size_t cnt = 0, cap = 0;
	int ret = 0;
	int rc = sqlite3_prepare_v2(
		db->sql,
		"SELECT id, conversation_id, role, status, content, reasoning, error, model, "
		"created_ms, updated_ms, temperature, top_p, top_k, min_p, seed, max_tokens, "
		"prompt_tokens, reasoning_tokens, answer_tokens, prefill_tps, decode_tps, "
		"mtp_acceptance, ttft_ms FROM messages WHERE conversation_id = ?1 ORDER BY id",
		-1, &st, NULL);
	if (rc == SQLITE_OK)
		sqlite3_bind_int64(st, 1, cid);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&v, &cap, cnt, sizeof *v)) {
			ret = nomem(e);
			break;
		}
		struct hist_message *m = &v[cnt++];
		memset(m, 0, sizeof *m);
		m->id = sqlite3_column_int64(st, 0);
		m->conversation_id = sqlite3_column_int64(st, 1);
		const unsigned char *role = sqlite3_column_text(st, 2);
		m->role = role && !strcmp((const char *)role, "assistant") ? HIST_ASSISTANT
									  : HIST_USER;
		m->status = parse_status(sqlite3_column_text(st, 3));
		m->content = col_text(st, 4, &m->content_len, 0);
		m->reasoning = col_text(st, 5, &m->reasoning_len, 0);
		m->error = col_text(st, 6, NULL, 1);
		m->model = col_text(st, 7, NULL, 1);
		if (!m->content || !m->reasoning ||
		    (!m->error && sqlite3_column_type(st, 6) != SQLITE_NULL) ||
		    (!m->model && sqlite3_column_type(st, 7) != SQLITE_NULL)) {
			ret = nomem(e);
			break;
		}
		m->created_ms = sqlite3_column_int64(st, 8);
		m->updated_ms = sqlite3_column_int64(st, 9);
		m->params.temperature = col_real(st, 10);
		m->params.top_p = col_real(st, 11);
		m->params.top_k = (int32_t)col_count(st, 12);
		m->params.min_p = col_real(st, 13);
		m->params.has_seed = sqlite3_column_type(st, 14) != SQLITE_NULL;
		m->params.seed = (uint64_t)sqlite3_column_int64(st, 14);
		m->params.max_tokens = (int32_t)col_count(st, 15);
		m->stats.prompt_tokens = col_count(st, 16);
		m->stats.reasoning_tokens = col_count(st, 17);
		m->stats.answer_tokens = col_count(st, 18);
		m->stats.prefill_tps = col_real(st, 19);
		m->stats.decode_tps = col_real(st, 20);
		m->stats.mtp_acceptance = col_real(st, 21);
		m->stats.ttft_ms = col_real(st, 22);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (!ret && rc != SQLITE_DONE)
		ret = hist_store_read_err(db, rc, "reading messages", e);
	if (ret) {
		hist_messages_free(v, cnt);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int hist_fts_query(const char *query, char **out, struct err *e)
{
	*out = NULL;
	size_t len = query ? strlen(query) : 0;
	/* Worst case: every byte a quote (doubled) plus quotes, '*' and a space per word. */
	if (len > ((size_t)-1) / 4 - 8)
		return err_set(e, ERR_RANGE, "search text too long");
	char *q = malloc(len * 4 + 8);
	if (!q)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t o = 0;
	const char *p = query;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v')
			p++;
		if (!*p)
			break;
		const char *w = p;
		while (*p && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
			       *p == '\v'))
			p++;
		size_t wl = (size_t)(p - w);
		int prefix = wl > 1 && w[wl - 1] == '*';
		if (prefix)
			wl--;
		if (o)
			q[o++] = ' ';
		q[o++] = '"';
		for (size_t i = 0; i < wl; i++) {
			if (w[i] == '"')
				q[o++] = '"';
			q[o++] = w[i];
		}
		q[o++] = '"';
		if (prefix)
			q[o++] = '*';
	}
	q[o] = '\0';
	if (!o) {
		free(q);
		return err_set(e, ERR_USAGE, "nothing to search for: give one or more words");
	}
	*out = q;
	return 0;
}

void hist_hits_free(struct hist_hit *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].title);
		free(h[i].snippet);
	}
	free(h);
}

int hist_search(struct hist_db *db, const char *query, const char *mark_open,
		const char *mark_close, size_t limit, struct hist_hit **out, size_t *n,
		struct err *e)
{
	*out = NULL;
	*n = 0;
	if (!db)
		return 0;
	char *match = NULL;
	int ret = hist_fts_query(query, &match, e);
	if (ret)
		return ret;
	/* Ranking costs a few microseconds per matching message, so a word found in 100,000
	   messages would take ~0.5 s: rank within the newest HIST_SEARCH_WINDOW matches. The
	   rowid of the window's oldest match comes from a rowid-ordered scan that reads no
	   positions; below the window the ranking is over every match. */
	sqlite3_stmt *st = NULL;
	int64_t from = 0;
	int rc = sqlite3_prepare_v2(db->sql,
				    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 "
				    "ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
				    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, HIST_SEARCH_WINDOW - 1);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			from = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(st);
	st = NULL;
	/* The ranked, limited scan stays inside the subquery so FTS5 computes the snippets
	   for the rows returned only; the joins then add the titles. */
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		db->sql,
		"SELECT h.id, m.conversation_id, m.role, m.created_ms, c.title, h.s0, h.s1 FROM "
		"(SELECT rowid AS id, rank AS r,"
		"  snippet(messages_fts, 0, ?2, ?3, '…', 16) AS s0,"
		"  snippet(messages_fts, 1, ?2, ?3, '…', 16) AS s1"
		"  FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid >= ?5"
		"  ORDER BY rank LIMIT ?4) h "
		"JOIN messages m ON m.id = h.id JOIN conversations c ON c.id = m.conversation_id "
		"ORDER BY h.r",
		-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, mark_open ? mark_open : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, mark_close ? mark_close : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
		sqlite3_bind_int64(st, 5, from);
	}
	struct hist_hit *v = NULL;
	size_t cnt = 0, cap = 0;
	const char *mo = mark_open && *mark_open ? mark_open : NULL;
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow((void **)&v, &cap, cnt, sizeof *v)) {
			ret = nomem(e);
			break;
		}
		struct hist_hit *h = &v[cnt++];
		memset(h, 0, sizeof *h);
		h->message_id = sqlite3_column_int64(st, 0);
		h->conversation_id = sqlite3_column_int64(st, 1);
		const unsigned char *role = sqlite3_column_text(st, 2);
		h->role = role && !strcmp((const char *)role, "assistant") ? HIST_ASSISTANT : HIST_USER;
		h->created_ms = sqlite3_column_int64(st, 3);
		h->title = col_text(st, 4, NULL, 0);
		/* The content's snippet unless only the reasoning matched. */
		const char *s0 = (const char *)sqlite3_column_text(st, 5);
		int use_reasoning = mo && !(s0 && strstr(s0, mo)) &&
				    sqlite3_column_bytes(st, 6) > 0;
		h->in_reasoning = use_reasoning;
		h->snippet = col_text(st, use_reasoning ? 6 : 5, NULL, 0);
		if (!h->title || !h->snippet) {
			ret = nomem(e);
			break;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	free(match);
	if (!ret && rc != SQLITE_DONE)
		ret = hist_store_read_err(db, rc, "searching", e);
	if (ret) {
		hist_hits_free(v, cnt);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}
