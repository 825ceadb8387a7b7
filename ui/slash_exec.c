/*
 * slash_exec.c — carrying out slash commands (parsed by slash.c): /new, /open, /export,
 * /set, /think, /mtp, /theme, /info, /help, /quit. Commands that change the chat wait
 * until no reply is being generated (the worker owns the chat meanwhile).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/history_json.h"
#include "ui/slash.h"
#include "ui/ui_int.h"

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

static void do_export(struct ui *u, const struct ui_slash *s)
{
	struct app_chat *c = u->chat;
	if (!c->db || !c->cid) {
		ui_message(u, c->db ? "nothing to export yet: this conversation is not saved"
			   : "history is off, so there is nothing to export");
		return;
	}
	char path[1100];
	if (s->path[0])
		snprintf(path, sizeof path, "%s", s->path);
	else
		snprintf(path, sizeof path, "ponder-%lld.%s", (long long)c->cid,
			 s->json ? "json" : "md");
	FILE *f = fopen(path, "wx");
	if (!f) {
		if (errno == EEXIST)
			ui_message(u, "%s exists; name another file: /export %s PATH", path,
				   s->json ? "json" : "md");
		else
			ui_message(u, "cannot create %s: %s", path, strerror(errno));
		return;
	}
	struct hist_conversation conv = {0};
	struct hist_message *m = NULL;
	size_t n = 0;
	struct err e = {0};
	int rc = hist_conversation_get(c->db, c->cid, &conv, &e);
	if (!rc)
		rc = hist_conversation_messages(c->db, c->cid, &m, &n, &e);
	if (!rc)
		rc = s->json ? export_json(f, &conv, m, n, &e) : hist_export_md(f, &conv, m, n, &e);
	if (fclose(f) && !rc)
		rc = err_set(&e, ERR_IO, "writing %s failed", path);
	if (rc) {
		remove(path);
		ui_message(u, "export failed: %s", e.msg);
	} else {
		ui_message(u, "exported conversation %lld to %s", (long long)c->cid, path);
	}
	hist_messages_free(m, n);
	hist_conversation_clear(&conv);
}

static void do_set(struct ui *u, const struct ui_slash *s)
{
	struct gen_params *p = &u->chat->params;
	switch (s->key) {
	case UI_SET_TEMPERATURE: p->sample.temperature = (float)s->value; break;
	case UI_SET_TOP_P: p->sample.top_p = (float)s->value; break;
	case UI_SET_TOP_K: p->sample.top_k = (int)s->value; break;
	case UI_SET_MIN_P: p->sample.min_p = (float)s->value; break;
	case UI_SET_SEED: p->sample.seed = (uint64_t)s->value; break;
	case UI_SET_MAX_TOKENS: p->max_tokens = (int64_t)s->value; break;
	}
	ui_message(u, "%s = %g from the next question", ui_set_key_name(s->key), s->value);
}

static void do_info(struct ui *u)
{
	struct app_chat *c = u->chat;
	const struct gen_params *p = &c->params;
	const char *db = c->db ? hist_path(c->db) : NULL;
	/* The worker may be writing through the chat's handle: ask it only when idle. */
	const char *warn = c->db && !u->generating ? hist_warning(c->db) : NULL;
	ui_notice(u, UI_B_NOTICE,
		  "Model: %s%s\n  folder: %s\n  context: %lld tokens; MTP speculative decoding: %s\n"
		  "Sampling: temperature %.2f, top_p %.2f, top_k %d, min_p %.2f, seed %llu, "
		  "max_tokens %lld%s\nReasoning: %s\nHistory: %s%s%s; conversation %s%lld\n"
		  "Theme: %s (%s)",
		  c->model_name, c->is_demo ? " (the shipped demo model: arithmetic only; load a "
		  "real checkpoint with -m DIR)" : "", c->model_dir, (long long)u->ctx_max,
		  eng_session_mtp(c->sess) ? "on" : "off", p->sample.temperature, p->sample.top_p,
		  p->sample.top_k, p->sample.min_p, (unsigned long long)p->sample.seed,
		  (long long)p->max_tokens, p->max_tokens <= 0 ? " (until the context is full)" : "",
		  p->think_off ? "off (/think on turns it on)" : "on (/think off turns it off)",
		  db ? db : "off", warn ? ": " : "", warn ? warn : "", c->cid ? "#" : "(not saved yet)",
		  (long long)c->cid, u->theme.name, u->color ? "colour" : "no colour");
}

int ui_command(struct ui *u, const char *line, size_t len)
{
	struct ui_slash s;
	struct err e = {0};
	int r = ui_slash_parse(line, len, &s, &e);
	if (r == 0)
		return 0;
	if (r < 0) {
		ui_message(u, "%s", e.msg);
		return 1;
	}
	bool changes_chat = s.cmd == UI_CMD_NEW || s.cmd == UI_CMD_OPEN || s.cmd == UI_CMD_EXPORT ||
			    s.cmd == UI_CMD_SET || s.cmd == UI_CMD_THINK || s.cmd == UI_CMD_MTP;
	if (changes_chat && u->generating) {
		ui_message(u, "still generating: wait for the answer, or press Ctrl-C, then retry");
		return 1;
	}
	switch (s.cmd) {
	case UI_CMD_NEW:
		app_chat_new_conversation(u->chat);
		ui_turn_clear(u);
		ui_notice(u, UI_B_NOTICE, "New conversation.");
		break;
	case UI_CMD_OPEN:
		if (ui_turn_load(u, s.id, &e))
			ui_message(u, "%s", e.msg);
		break;
	case UI_CMD_EXPORT:
		do_export(u, &s);
		break;
	case UI_CMD_SET:
		do_set(u, &s);
		break;
	case UI_CMD_THINK:
		u->chat->params.think_off = !s.on;
		ui_message(u, "reasoning %s from the next question", s.on ? "on" : "off");
		break;
	case UI_CMD_MTP:
		/* One MTP module drafts one token per pass, so any N > 0 means on. */
		if (eng_session_set_mtp(u->chat->sess, s.mtp > 0, &e))
			ui_notice(u, UI_B_ERROR, "%s", e.msg);
		else
			ui_message(u, "MTP speculative decoding %s%s",
				   s.mtp > 0 ? "on" : "off",
				   s.mtp > 1 ? " (one draft per pass: the model has one MTP module)" : "");
		break;
	case UI_CMD_THEME:
		if (ui_apply_theme_name(u, s.name, &e)) {
			ui_notice(u, UI_B_ERROR, "%s", e.msg);
			ui_message(u, "theme not changed (the answer pane says why)");
		}
		else
			ui_message(u, "theme %s", u->theme.name);
		break;
	case UI_CMD_INFO:
		do_info(u);
		break;
	case UI_CMD_HELP:
		u->mode = UI_MODE_HELP;
		u->help_top = 0;
		break;
	case UI_CMD_QUIT:
		u->quit = true;
		break;
	}
	u->dirty = true;
	return 1;
}
