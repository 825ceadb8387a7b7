/*
 * chat_api.c — the UI's view of the chat session (see chat_api.h): accessors, settings,
 * sending with app-level channels and stats, loading a conversation for display, and
 * export. It translates between app/chat.h and the types the UI may see.
 */
#include "app/chat_api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/chat.h"
#include "app/history_json.h"

void app_chat_info(const struct app_chat *c, struct app_chat_info *out)
{
	*out = (struct app_chat_info){
		.model_name = c->model_name,
		.model_dir = c->model_dir,
		.is_demo = c->is_demo,
		.remote = c->remote != NULL,
		.ctx = c->sess ? (int64_t)eng_session_ctx(c->sess) : 0, /* 0: a server's */
		.mtp = c->sess && eng_session_mtp(c->sess),
		.db_path = c->db ? hist_path(c->db) : NULL,
	};
}

int64_t app_chat_cid(const struct app_chat *c)
{
	return c->cid;
}

int64_t app_chat_reply_mid(const struct app_chat *c)
{
	return c->reply_mid;
}

const char *app_chat_db_warning(const struct app_chat *c)
{
	return c->db ? hist_warning(c->db) : NULL;
}

void app_chat_get_settings(const struct app_chat *c, struct app_settings *s)
{
	const struct gen_params *p = &c->params;
	*s = (struct app_settings){p->sample.temperature, p->sample.top_p, p->sample.min_p,
				   p->sample.top_k, p->sample.seed, p->max_tokens, p->think_off};
}

void app_chat_set_settings(struct app_chat *c, const struct app_settings *s)
{
	struct gen_params *p = &c->params;
	p->sample.temperature = (float)s->temperature;
	p->sample.top_p = (float)s->top_p;
	p->sample.min_p = (float)s->min_p;
	p->sample.top_k = s->top_k;
	p->sample.seed = s->seed;
	p->max_tokens = s->max_tokens;
	p->think_off = s->think_off;
}

int app_chat_set_mtp(struct app_chat *c, bool on, struct err *e)
{
	if (!c->sess)
		return err_set(e, ERR_UNSUPPORTED, "speculative decoding is the server's business "
			       "with --remote");
	return eng_session_set_mtp(c->sess, on, e);
}

struct ask_relay {
	app_emit_fn emit;
	void *ud;
};

static int ask_emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct ask_relay *r = ud;
	return r->emit ? r->emit(r->ud, channel == CH_REASONING ? APP_CH_REASONING : APP_CH_ANSWER,
				 utf8, len)
		       : 0;
}

int app_chat_ask(struct app_chat *c, const char *text, size_t len, app_emit_fn emit, void *ud,
		 struct app_reply_stats *st, struct err *e)
{
	struct ask_relay r = {emit, ud};
	struct gen_stats gs;
	memset(&gs, 0, sizeof gs);
	int rc = app_chat_send(c, text, len, ask_emit, &r, &gs, e);
	*st = (struct app_reply_stats){
		.interrupted = gs.finish == FINISH_INTERRUPTED || rc == ERR_INTERRUPTED,
		.cut_short = !rc && gs.finish == FINISH_LENGTH,
		.prompt_tokens = gs.prompt_tokens,
		.resumed_tokens = gs.snapshot_tokens,
		.reasoning_tokens = gs.reasoning_tokens,
		.answer_tokens = gs.answer_tokens,
		.prefill_tps = gs.prefill_tps,
		.decode_tps = gs.decode_tps,
		.mtp_drafted = gs.mtp_drafted,
		.mtp_accepted = gs.mtp_accepted,
	};
	return rc;
}

/* The same JSON as `ponder history export --format json`. */
static int export_json(FILE *f, const struct hist_conversation *c, const struct hist_message *m,
		       size_t n, struct err *e)
{
	json_t *root = app_history_json(c, m, n, 1);
	if (!root)
		return err_set(e, ERR_NOMEM, "out of memory building the JSON");
	int rc = json_dumpf(root, f, JSON_INDENT(2)) == 0 && fputc('\n', f) != EOF ? 0 : -1;
	json_decref(root);
	return rc ? err_set(e, ERR_IO, "writing the file failed: %s", strerror(errno)) : 0;
}

int app_chat_export(struct app_chat *c, const char *path, bool json, char *written,
		    size_t size, struct err *e)
{
	if (!c->db || !c->cid)
		return err_set(e, ERR_USAGE, c->db ? "nothing to export yet: this conversation is "
			       "not saved" : "history is off, so there is nothing to export");
	/* No shell expands "~/" here: without this, /export md ~/x.md wrote into a folder
	   named "~" under the directory ponder was started in, or failed. */
	char home_path[4096];
	const char *home = getenv("HOME");
	if (path[0] == '~' && path[1] == '/' && home && home[0] == '/') {
		int n = snprintf(home_path, sizeof home_path, "%s%s", home, path + 1);
		if (n < 0 || (size_t)n >= sizeof home_path)
			return err_set(e, ERR_USAGE, "%s: the path is too long", path);
		path = home_path;
	}
	FILE *f = fopen(path, "wx");
	if (!f)
		return errno == EEXIST
			       ? err_set(e, ERR_IO, "%s exists; name another file: /export %s PATH",
					 path, json ? "json" : "md")
			       : err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
	struct hist_conversation conv = {0};
	struct hist_message *m = NULL;
	size_t n = 0;
	int rc = hist_conversation_get(c->db, c->cid, &conv, e);
	if (!rc)
		rc = hist_conversation_messages(c->db, c->cid, &m, &n, e);
	if (!rc)
		rc = json ? export_json(f, &conv, m, n, e) : hist_export_md(f, &conv, m, n, e);
	if (fclose(f) && !rc)
		rc = err_set(e, ERR_IO, "writing %s failed", path);
	if (rc) {
		remove(path);
	} else {
		char *abs = realpath(path, NULL);
		snprintf(written, size, "%s", abs ? abs : path);
		free(abs);
	}
	hist_messages_free(m, n);
	hist_conversation_clear(&conv);
	return rc;
}

struct transcript_priv {
	struct hist_message *m;
	size_t n;
};

int app_chat_open_conversation(struct app_chat *c, int64_t cid, struct app_transcript *t,
			       struct err *e)
{
	memset(t, 0, sizeof *t);
	int rc = app_chat_load(c, cid, e);
	if (rc)
		return rc;
	struct transcript_priv *p = calloc(1, sizeof *p);
	struct hist_conversation conv = {0};
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	t->priv = p;
	if ((rc = hist_conversation_messages(c->db, cid, &p->m, &p->n, e)) ||
	    (rc = hist_conversation_get(c->db, cid, &conv, e)))
		goto fail;
	t->cid = cid;
	t->n_messages = conv.n_messages;
	t->title = strdup(conv.title && *conv.title ? conv.title : "(untitled)");
	t->m = calloc(p->n ? p->n : 1, sizeof *t->m);
	if (!t->title || !t->m) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct hist_message *h = &p->m[i];
		/* A reply still "streaming" in the store belonged to a process that is gone. */
		enum app_msg_status st = h->status == HIST_ERROR ? APP_MSG_ERROR
					 : h->status == HIST_INTERRUPTED ||
							   h->status == HIST_STREAMING
						   ? APP_MSG_STOPPED
						   : APP_MSG_COMPLETE;
		t->m[i] = (struct app_msg){h->id, h->role == HIST_USER, st, h->content, h->reasoning,
					   h->content_len, h->reasoning_len,
					   h->stats.reasoning_tokens,
					   st == APP_MSG_ERROR ? h->error : NULL};
	}
	t->n = p->n;
	hist_conversation_clear(&conv);
	return 0;
fail:
	hist_conversation_clear(&conv);
	app_transcript_free(t);
	return rc;
}

void app_transcript_free(struct app_transcript *t)
{
	struct transcript_priv *p = t->priv;
	if (p) {
		hist_messages_free(p->m, p->n);
		free(p);
	}
	free(t->title);
	free(t->m);
	memset(t, 0, sizeof *t);
}
