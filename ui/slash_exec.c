/*
 * slash_exec.c — carrying out slash commands (parsed by slash.c): /new, /open, /export,
 * /set, /think, /mtp, /theme, /info, /help, /quit. Commands that change the chat wait
 * until no reply is being generated (the worker owns the chat meanwhile).
 */
#include <stdio.h>
#include <string.h>

#include "ui/slash.h"
#include "ui/ui_int.h"

static void do_export(struct ui *u, const struct ui_slash *s)
{
	int64_t cid = app_chat_cid(u->chat);
	char path[1100];
	if (s->path[0])
		snprintf(path, sizeof path, "%s", s->path);
	else
		snprintf(path, sizeof path, "ponder-%lld.%s", (long long)cid, s->json ? "json" : "md");
	struct err e = {0};
	char written[4096];
	if (app_chat_export(u->chat, path, s->json, written, sizeof written, &e))
		ui_message(u, "%s%s", e.code == ERR_USAGE ? "" : "export failed: ", e.msg);
	else
		ui_message(u, "exported conversation %lld to %s", (long long)cid, written);
}

static void do_set(struct ui *u, const struct ui_slash *s)
{
	struct app_settings p;
	app_chat_get_settings(u->chat, &p);
	switch (s->key) {
	case UI_SET_TEMPERATURE: p.temperature = s->value; break;
	case UI_SET_TOP_P: p.top_p = s->value; break;
	case UI_SET_TOP_K: p.top_k = (int)s->value; break;
	case UI_SET_MIN_P: p.min_p = s->value; break;
	case UI_SET_SEED: p.seed = (uint64_t)s->value; break;
	case UI_SET_MAX_TOKENS: p.max_tokens = (int64_t)s->value; break;
	}
	app_chat_set_settings(u->chat, &p);
	ui_message(u, "%s = %g from the next question", ui_set_key_name(s->key), s->value);
}

static void do_think(struct ui *u, bool on)
{
	struct app_settings p;
	app_chat_get_settings(u->chat, &p);
	p.think_off = !on;
	app_chat_set_settings(u->chat, &p);
	ui_message(u, "reasoning %s from the next question", on ? "on" : "off");
}

/* A sampling value for /info: negative is "not set" with a remote server, whose own
   default then applies. */
static const char *setting(char *buf, size_t size, double v)
{
	if (v < 0)
		return "the server's";
	snprintf(buf, size, "%.2f", v);
	return buf;
}

static void do_info(struct ui *u)
{
	struct app_chat_info *c = &u->info;
	app_chat_info(u->chat, c); /* /mtp may have changed it */
	struct app_settings p;
	app_chat_get_settings(u->chat, &p);
	const char *db = c->db_path;
	int64_t cid = app_chat_cid(u->chat);
	/* The worker may be writing through the chat's handle: ask it only when idle. */
	const char *warn = !u->generating ? app_chat_db_warning(u->chat) : NULL;
	char engine[512], t[16], tp[16], mp[16];
	if (c->remote)
		snprintf(engine, sizeof engine, "  server: %s (its context and speculative decoding "
			 "are its own)", c->model_dir);
	else
		snprintf(engine, sizeof engine, "  folder: %s\n  context: %lld tokens; MTP "
			 "speculative decoding: %s", c->model_dir, (long long)u->ctx_max,
			 c->mtp ? "on" : "off");
	ui_notice(u, UI_B_NOTICE,
		  "Model: %s%s\n%s\n"
		  "Sampling: temperature %s, top_p %s, top_k %d, min_p %s, seed %llu, "
		  "max_tokens %lld%s\nReasoning: %s\nHistory: %s%s%s; conversation %s%lld\n"
		  "Theme: %s (%s)",
		  c->model_name, c->is_demo ? " (the shipped demo model: arithmetic only; load a "
		  "real checkpoint with -m DIR)" : "", engine,
		  setting(t, sizeof t, p.temperature), setting(tp, sizeof tp, p.top_p),
		  p.top_k < 0 ? 0 : p.top_k, setting(mp, sizeof mp, p.min_p),
		  (unsigned long long)p.seed, (long long)p.max_tokens,
		  p.max_tokens <= 0 ? " (until the context is full)" : "",
		  p.think_off ? "off (/think on turns it on)" : "on (/think off turns it off)",
		  db ? db : "off", warn ? ": " : "", warn ? warn : "", cid ? "#" : "(not saved yet)",
		  (long long)cid, u->theme.name, u->color ? "colour" : "no colour");
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
		do_think(u, s.on);
		break;
	case UI_CMD_MTP:
		/* One MTP module drafts one token per pass, so any N > 0 means on. */
		if (app_chat_set_mtp(u->chat, s.mtp > 0, &e))
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
