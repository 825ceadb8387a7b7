/*
 * library.c — browsing saved conversations for the UI (see chat_api.h): a second
 * history connection, opened on the chat's file, so that browsing never shares a
 * SQLite handle with the thread writing the current reply.
 */
#include <stdlib.h>
#include <string.h>

#include "app/chat.h"
#include "app/chat_api.h"
#include "app/kv_label.h"

struct app_library {
	struct hist_db *db;
};

int app_library_open(const struct app_chat *c, struct app_library **out, struct err *e)
{
	*out = NULL;
	if (!c->db)
		return err_set(e, ERR_DB, "history is off (--no-save, or the history file could "
			       "not be opened)");
	struct app_library *l = calloc(1, sizeof *l);
	if (!l)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = hist_open(hist_path(c->db), NULL, &l->db, e);
	if (rc) {
		free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void app_library_close(struct app_library *l)
{
	if (!l)
		return;
	hist_close(l->db);
	free(l);
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

int app_library_list(struct app_library *l, size_t limit, struct app_conv **out, size_t *n,
		     struct err *e)
{
	struct hist_conversation *h = NULL;
	size_t nh = 0;
	*out = NULL;
	*n = 0;
	int rc = hist_list(l->db, limit, &h, &nh, e);
	if (rc)
		return rc;
	struct app_conv *c = calloc(nh ? nh : 1, sizeof *c);
	if (!c) {
		hist_conversations_free(h, nh);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < nh; i++) {
		c[i] = (struct app_conv){h[i].id, dup_or_empty(h[i].title), h[i].updated_ms,
					 h[i].n_messages};
		if (!c[i].title) {
			app_convs_free(c, i);
			hist_conversations_free(h, nh);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	hist_conversations_free(h, nh);
	*out = c;
	*n = nh;
	return 0;
}

void app_convs_free(struct app_conv *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].title);
	free(c);
}

int app_library_search(struct app_library *l, const char *query, const char *mark_open,
		       const char *mark_close, size_t limit, struct app_hit **out, size_t *n,
		       struct err *e)
{
	struct hist_hit *h = NULL;
	size_t nh = 0;
	*out = NULL;
	*n = 0;
	int rc = hist_search(l->db, query, mark_open, mark_close, limit, &h, &nh, e);
	if (rc)
		return rc;
	struct app_hit *r = calloc(nh ? nh : 1, sizeof *r);
	if (!r) {
		hist_hits_free(h, nh);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < nh; i++) {
		r[i] = (struct app_hit){h[i].conversation_id, h[i].message_id,
					dup_or_empty(h[i].title), dup_or_empty(h[i].snippet),
					h[i].in_reasoning != 0};
		if (!r[i].title || !r[i].snippet) {
			app_hits_free(r, i + 1);
			hist_hits_free(h, nh);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	hist_hits_free(h, nh);
	*out = r;
	*n = nh;
	return 0;
}

void app_hits_free(struct app_hit *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++) {
		free(h[i].title);
		free(h[i].snippet);
	}
	free(h);
}

int app_library_delete(struct app_library *l, int64_t cid, struct err *e)
{
	int rc = hist_conversation_rm(l->db, cid, e);
	if (!rc)
		app_kv_forget(cid);
	return rc;
}
