/*
 * slash.c — slash-command parser (see slash.h).
 */
#include "ui/slash.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const set_names[] = {"temperature", "top_p", "top_k", "min_p", "seed",
					"max_tokens"};

const char *ui_set_key_name(enum ui_set_key k)
{
	return (unsigned)k < sizeof set_names / sizeof set_names[0] ? set_names[k] : "?";
}

#define MAX_WORDS 4

/* Splits on blanks; returns the word count (at most MAX_WORDS, extra words make it
   MAX_WORDS + 1). */
static int split(char *s, char *w[MAX_WORDS])
{
	int n = 0;
	for (char *t = strtok(s, " \t\n"); t; t = strtok(NULL, " \t\n")) {
		if (n == MAX_WORDS)
			return MAX_WORDS + 1;
		w[n++] = t;
	}
	return n;
}

static int parse_num(const char *v, double lo, double hi, bool whole, double *out)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
		return -1;
	if (whole && x != floor(x))
		return -1;
	*out = x;
	return 0;
}

static int want_args(const char *cmd, int n, int lo, int hi, const char *usage,
		     struct err *e)
{
	if (n - 1 < lo || n - 1 > hi)
		return err_set(e, ERR_USAGE, "/%s: usage: %s", cmd, usage);
	return 0;
}

int ui_slash_parse(const char *line, size_t len, struct ui_slash *out, struct err *e)
{
	if (!len || line[0] != '/' || (len > 1 && line[1] == '/'))
		return 0;
	memset(out, 0, sizeof *out);
	char buf[1200];
	if (len >= sizeof buf)
		return err_set(e, ERR_USAGE, "command too long; start a question with // to "
			       "send text that begins with /");
	memcpy(buf, line + 1, len - 1);
	buf[len - 1] = '\0';
	char *w[MAX_WORDS];
	int n = split(buf, w);
	if (n == 0)
		return err_set(e, ERR_USAGE, "empty command; /help lists them");
	const char *c = w[0];
	int rc;
	if (!strcmp(c, "new")) {
		if ((rc = want_args(c, n, 0, 0, "/new", e)))
			return rc;
		out->cmd = UI_CMD_NEW;
	} else if (!strcmp(c, "open")) {
		double id;
		if ((rc = want_args(c, n, 1, 1, "/open ID (the number ponder history list shows)",
				    e)))
			return rc;
		if (parse_num(w[1], 1, 9e15, true, &id))
			return err_set(e, ERR_USAGE, "/open: '%s' is not a conversation number", w[1]);
		out->cmd = UI_CMD_OPEN;
		out->id = (int64_t)id;
	} else if (!strcmp(c, "export")) {
		if ((rc = want_args(c, n, 1, 2, "/export md|json [PATH]", e)))
			return rc;
		if (strcmp(w[1], "md") && strcmp(w[1], "json"))
			return err_set(e, ERR_USAGE, "/export: format '%s' is not md or json", w[1]);
		out->cmd = UI_CMD_EXPORT;
		out->json = !strcmp(w[1], "json");
		if (n == 3) {
			if (strlen(w[2]) >= sizeof out->path)
				return err_set(e, ERR_USAGE, "/export: path too long");
			strcpy(out->path, w[2]);
		}
	} else if (!strcmp(c, "set")) {
		if ((rc = want_args(c, n, 2, 2, "/set KEY VALUE (temperature, top_p, top_k, min_p, "
				    "seed, max_tokens)", e)))
			return rc;
		char key[32];
		snprintf(key, sizeof key, "%s", w[1]);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		size_t k = 0;
		while (k < sizeof set_names / sizeof set_names[0] && strcmp(key, set_names[k]))
			k++;
		if (k == sizeof set_names / sizeof set_names[0])
			return err_set(e, ERR_USAGE, "/set: unknown key '%s' (use temperature, top_p, "
				       "top_k, min_p, seed or max_tokens)", w[1]);
		static const struct { double lo, hi; bool whole; } range[] = {
			{0, 100, false}, {0, 1, false}, {0, 2147483647, true}, {0, 1, false},
			{0, 9.2e18, true}, {0, 2147483647, true},
		};
		if (parse_num(w[2], range[k].lo, range[k].hi, range[k].whole, &out->value))
			return err_set(e, ERR_USAGE, "/set %s: '%s' is not %s from %g to %g",
				       set_names[k], w[2], range[k].whole ? "a whole number" : "a number",
				       range[k].lo, range[k].hi);
		out->cmd = UI_CMD_SET;
		out->key = (enum ui_set_key)k;
	} else if (!strcmp(c, "think")) {
		if ((rc = want_args(c, n, 1, 1, "/think on|off", e)))
			return rc;
		if (strcmp(w[1], "on") && strcmp(w[1], "off"))
			return err_set(e, ERR_USAGE, "/think: '%s' is neither on nor off", w[1]);
		out->cmd = UI_CMD_THINK;
		out->on = !strcmp(w[1], "on");
	} else if (!strcmp(c, "mtp")) {
		double d;
		if ((rc = want_args(c, n, 1, 1, "/mtp off|N", e)))
			return rc;
		if (!strcmp(w[1], "off"))
			d = 0;
		else if (parse_num(w[1], 1, 16, true, &d))
			return err_set(e, ERR_USAGE, "/mtp: '%s' is neither off nor a number of "
				       "drafts from 1 to 16", w[1]);
		out->cmd = UI_CMD_MTP;
		out->mtp = (int)d;
	} else if (!strcmp(c, "theme")) {
		if ((rc = want_args(c, n, 1, 1, "/theme NAME (default-dark, light, solarized-dark, "
				    "high-contrast, monochrome, or a file path)", e)))
			return rc;
		if (strlen(w[1]) >= sizeof out->name)
			return err_set(e, ERR_USAGE, "/theme: name too long");
		out->cmd = UI_CMD_THEME;
		strcpy(out->name, w[1]);
	} else if (!strcmp(c, "info") || !strcmp(c, "help") || !strcmp(c, "quit") ||
		   !strcmp(c, "exit")) {
		if ((rc = want_args(c, n, 0, 0, c[0] == 'i' ? "/info" : c[0] == 'h' ? "/help"
				    : "/quit", e)))
			return rc;
		out->cmd = c[0] == 'i' ? UI_CMD_INFO : c[0] == 'h' ? UI_CMD_HELP : UI_CMD_QUIT;
	} else {
		return err_set(e, ERR_USAGE, "unknown command /%.60s (/help lists them; start with "
			       "// to send a question that begins with /)", c);
	}
	return 1;
}
