/*
 * cmd_history.c — `ponder history list|show|search|export|rm|title`: reading, searching,
 * exporting and editing the conversation history (history/history.h does the storing).
 *
 *   ponder history [--db PATH] list [-n N] [--json]
 *   ponder history [--db PATH] show ID [--reasoning] [--json]
 *   ponder history [--db PATH] search [-n N] [--json] [--] WORDS...
 *   ponder history [--db PATH] export ID|--all [--format md|json] [-o FILE]
 *   ponder history [--db PATH] rm ID
 *   ponder history [--db PATH] title ID TEXT...
 *
 * The file is --db PATH, else $PONDER_DB, else $XDG_DATA_HOME/ponder/history.db. This
 * command never creates it. Output for people: aligned columns, relative times; search
 * marks matched words in bold on a terminal and with «» otherwise (and in JSON). On a
 * terminal, everything printed (show, search, export, --json) goes through
 * term_write_visible, as model output does in the TUI and pipe mode: ESC shows as ^[ and
 * C1 controls as <U+009B>, so stored text cannot write the clipboard (OSC 52), retitle
 * the window, clear the screen or plant links; into a file or pipe, output is the stored
 * bytes. --json output is
 * UTF-8 JSON (invalid UTF-8 in stored text becomes U+FFFD there). -o writes a temporary
 * file beside FILE and renames it, so FILE is either the old or the complete new export.
 */
#include "app/commands.h"
#include "app/history_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/ago.h"
#include "app/kv_label.h"
#include "app/paths.h"
#include "app/term_safe.h"
#include "history/history.h"

#define DEFAULT_LIST 20
#define DEFAULT_HITS 20

struct opts {
	const char *db;
	const char *sub;
	const char *format;
	const char *output;
	long long n;
	int json, reasoning, all;
	char **pos; /* positional arguments after the subcommand */
	int npos;
};

static void usage(FILE *f)
{
	fputs("usage: ponder history [--db PATH] COMMAND ...\n"
	      "  list [-n N] [--json]                   latest conversations (default 20)\n"
	      "  show ID [--reasoning] [--json]         one conversation's turns\n"
	      "  search [-n N] [--json] [--] WORDS...   full-text search (answers, reasoning)\n"
	      "  export ID|--all [--format md|json] [-o FILE]\n"
	      "  rm ID                                  delete a conversation\n"
	      "  title ID TEXT...                       rename a conversation\n"
	      "The file is --db PATH, else $PONDER_DB, else $XDG_DATA_HOME/ponder/history.db.\n",
	      f);
}

/* ---- small output helpers ---- */

/* Stored text: made visible on a terminal (term_safe.h), as stored otherwise; one_line
   turns line breaks and tabs into spaces (list columns, titles). */
static void put_safe(FILE *f, const char *s, size_t n, int tty, int one_line)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		bool brk = i < n && one_line && (s[i] == '\n' || s[i] == '\r' || s[i] == '\t');
		if (i < n && !brk)
			continue;
		if (tty)
			term_write_visible(f, s + start, i - start);
		else
			fwrite(s + start, 1, i - start, f);
		if (brk)
			fputc(' ', f);
		start = i + 1;
	}
}

static void put_safe_str(FILE *f, const char *s, int tty, int one_line)
{
	put_safe(f, s, strlen(s), tty, one_line);
}

/* Characters (not bytes) in a UTF-8 string, for column padding. */
static size_t u8_width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void when(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M", &tm))
		snprintf(buf, size, "?");
}

/* JSON escapes C0 controls but writes C1 ones (U+009B) as they are: on a terminal the
   text goes through term_write_visible too. */
static int dump_json(FILE *f, json_t *j, struct err *e)
{
	if (!j)
		return err_set(e, ERR_NOMEM, "out of memory building JSON");
	int rc;
	if (isatty(fileno(f))) {
		char *s = json_dumps(j, JSON_INDENT(2));
		rc = s ? term_write_visible(f, s, strlen(s)) : -1;
		free(s);
	} else {
		rc = json_dumpf(j, f, JSON_INDENT(2));
	}
	json_decref(j);
	if (rc || fputc('\n', f) == EOF)
		return err_set(e, ERR_IO, "writing JSON failed: %s", strerror(errno));
	return 0;
}

/* ---- argument parsing ---- */

static int parse_id(const char *s, int64_t *id, struct err *e)
{
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v <= 0)
		return err_set(e, ERR_USAGE,
			       "'%s' is not a conversation id (a positive number; see `ponder "
			       "history list`)",
			       s ? s : "");
	*id = v;
	return 0;
}

/* Takes the value of an option: "--opt=V", "--opt V" or "-nV". */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **v,
		     struct err *e)
{
	const char *a = argv[*i];
	size_t l = strlen(name);
	if (a[l] == '=') {
		*v = a + l + 1;
		return 1;
	}
	if (a[l] == '\0') {
		if (*i + 1 >= argc)
			return err_set(e, ERR_USAGE, "%s needs a value", name);
		*v = argv[++*i];
		return 1;
	}
	if (name[1] != '-' && name[2] == '\0') { /* "-n20" */
		*v = a + l;
		return 1;
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o, struct err *e)
{
	memset(o, 0, sizeof *o);
	o->n = -1;
	o->pos = calloc((size_t)argc + 1, sizeof *o->pos);
	if (!o->pos)
		return err_set(e, ERR_NOMEM, "out of memory");
	int dashdash = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
		int r;
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (!o->sub)
				o->sub = a;
			else
				o->pos[o->npos++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = 1;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->sub = "help";
			return 0;
		} else if (!strcmp(a, "--json")) {
			o->json = 1;
		} else if (!strcmp(a, "--reasoning")) {
			o->reasoning = 1;
		} else if (!strcmp(a, "--all")) {
			o->all = 1;
		} else if (!strncmp(a, "--db", 4) && (r = opt_value(argc, argv, &i, "--db", &v, e))) {
			if (r < 0)
				return r;
			o->db = v;
		} else if (!strncmp(a, "--format", 8) &&
			   (r = opt_value(argc, argv, &i, "--format", &v, e))) {
			if (r < 0)
				return r;
			o->format = v;
		} else if ((!strncmp(a, "--output", 8) &&
			    (r = opt_value(argc, argv, &i, "--output", &v, e))) ||
			   (!strncmp(a, "-o", 2) && (r = opt_value(argc, argv, &i, "-o", &v, e)))) {
			if (r < 0)
				return r;
			o->output = v;
		} else if (!strncmp(a, "-n", 2) && (r = opt_value(argc, argv, &i, "-n", &v, e))) {
			if (r < 0)
				return r;
			char *end;
			errno = 0;
			o->n = strtoll(v, &end, 10);
			if (!*v || *end || errno || o->n <= 0)
				return err_set(e, ERR_USAGE, "-n needs a positive number, not '%s'", v);
		} else {
			return err_set(e, ERR_USAGE, "unknown option '%s' (see ponder history --help)",
				       a);
		}
	}
	return 0;
}

/* Options a subcommand does not take are errors, not silently ignored. */
static int only(const struct opts *o, const char *allowed, struct err *e)
{
	struct {
		int set;
		const char *name;
	} f[] = {
		{o->n > 0, "-n"},
		{o->json, "--json"},
		{o->reasoning, "--reasoning"},
		{o->all, "--all"},
		{o->format != NULL, "--format"},
		{o->output != NULL, "-o"},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i].set && !strstr(allowed, f[i].name))
			return err_set(e, ERR_USAGE, "history %s does not take %s", o->sub, f[i].name);
	return 0;
}

/* ---- subcommands ---- */

static int cmd_list(struct hist_db *db, const struct opts *o, struct err *e)
{
	struct hist_conversation *c;
	size_t n;
	int rc = hist_list(db, o->n > 0 ? (size_t)o->n : DEFAULT_LIST, &c, &n, e);
	if (rc)
		return rc;
	if (o->json) {
		int ok = 1;
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++)
			if (json_array_append_new(a, app_conversation_json(&c[i], &ok)))
				ok = 0;
		hist_conversations_free(c, n);
		if (!ok) {
			json_decref(a);
			a = NULL;
		}
		return dump_json(stdout, a, e);
	}
	if (!n) {
		printf("No conversations yet.\n");
		hist_conversations_free(c, n);
		return 0;
	}
	int tty = isatty(STDOUT_FILENO);
	int wid = 2, wago = 7, wmsg = 4, wmod = 5;
	char buf[64];
	for (size_t i = 0; i < n; i++) {
		int l = snprintf(buf, sizeof buf, "%lld", (long long)c[i].id);
		wid = l > wid ? l : wid;
		app_fmt_ago(c[i].updated_ms, buf, sizeof buf);
		wago = (int)strlen(buf) > wago ? (int)strlen(buf) : wago;
		l = snprintf(buf, sizeof buf, "%lld", (long long)c[i].n_messages);
		wmsg = l > wmsg ? l : wmsg;
		int m = (int)u8_width(c[i].model);
		wmod = m > wmod ? (m > 28 ? 28 : m) : wmod;
	}
	printf("%*s  %-*s  %*s  %-*s  %s\n", wid, "ID", wago, "UPDATED", wmsg, "MSGS", wmod,
	       "MODEL", "TITLE");
	for (size_t i = 0; i < n; i++) {
		app_fmt_ago(c[i].updated_ms, buf, sizeof buf);
		printf("%*lld  %-*s  %*lld  ", wid, (long long)c[i].id, wago, buf, wmsg,
		       (long long)c[i].n_messages);
		/* The model, cut to the column at a character boundary, then padded. */
		const char *m = c[i].model;
		int shown = 0;
		for (const char *p = m; *p;) {
			size_t k = 1;
			while (p[k] && ((unsigned char)p[k] & 0xc0) == 0x80)
				k++;
			if (shown == wmod)
				break;
			put_safe(stdout, p, k, tty, 1);
			shown++;
			p += k;
		}
		printf("%*s  ", wmod - shown, "");
		put_safe_str(stdout, *c[i].title ? c[i].title : "(untitled)", tty, 1);
		putchar('\n');
	}
	hist_conversations_free(c, n);
	return ferror(stdout) ? err_set(e, ERR_IO, "writing to stdout failed") : 0;
}

static int load(struct hist_db *db, int64_t id, struct hist_conversation *c,
		struct hist_message **m, size_t *n, struct err *e)
{
	int rc = hist_conversation_get(db, id, c, e);
	if (rc)
		return rc;
	rc = hist_conversation_messages(db, id, m, n, e);
	if (rc)
		hist_conversation_clear(c);
	return rc;
}

static int cmd_show(struct hist_db *db, const struct opts *o, struct err *e)
{
	if (o->npos != 1)
		return err_set(e, ERR_USAGE, "usage: ponder history show ID [--reasoning] [--json]");
	int64_t id;
	int rc = parse_id(o->pos[0], &id, e);
	struct hist_conversation c;
	struct hist_message *m;
	size_t n;
	if (rc || (rc = load(db, id, &c, &m, &n, e)))
		return rc;
	if (o->json) {
		rc = dump_json(stdout, app_history_json(&c, m, n, o->reasoning), e);
		goto out;
	}
	int tty = isatty(STDOUT_FILENO);
	const char *b = tty ? "\x1b[1m" : "", *nb = tty ? "\x1b[0m" : "";
	const char *dim = tty ? "\x1b[2m" : "";
	char t[64];
	when(c.created_ms, t, sizeof t);
	printf("%s#%lld  ", b, (long long)c.id);
	put_safe_str(stdout, *c.title ? c.title : "(untitled)", tty, 1);
	printf("%s\n", nb);
	printf("%sstarted %s · %lld messages", dim, t, (long long)n);
	if (*c.model) {
		printf(" · ");
		put_safe_str(stdout, c.model, tty, 1);
	}
	printf("%s\n", nb);
	if (*c.system_prompt) {
		printf("%ssystem:%s ", b, nb);
		put_safe_str(stdout, c.system_prompt, tty, 0);
		putchar('\n');
	}
	for (size_t i = 0; i < n; i++) {
		when(m[i].created_ms, t, sizeof t);
		putchar('\n');
		if (m[i].role == HIST_USER) {
			printf("%s── You%s %s%s%s\n", b, nb, dim, t, nb);
			put_safe(stdout, m[i].content, m[i].content_len, tty, 0);
			putchar('\n');
			continue;
		}
		printf("%s── Assistant%s %s%s", b, nb, dim, t);
		if (m[i].model) {
			printf(" · ");
			put_safe_str(stdout, m[i].model, tty, 1);
		}
		if (m[i].stats.decode_tps >= 0)
			printf(" · %.1f tok/s", m[i].stats.decode_tps);
		if (m[i].status != HIST_COMPLETE)
			printf(" · %s", hist_status_name(m[i].status));
		printf("%s\n", nb);
		if (o->reasoning && m[i].reasoning_len) {
			printf("%s[reasoning]%s\n", dim, nb);
			put_safe(stdout, m[i].reasoning, m[i].reasoning_len, tty, 0);
			printf("\n%s[answer]%s\n", dim, nb);
		}
		put_safe(stdout, m[i].content, m[i].content_len, tty, 0);
		putchar('\n');
		if (m[i].status == HIST_ERROR || (m[i].status == HIST_INTERRUPTED && m[i].error)) {
			printf("%s(", dim);
			put_safe_str(stdout, m[i].error ? m[i].error : "failed", tty, 1);
			printf(")%s\n", nb);
		}
	}
	if (ferror(stdout))
		rc = err_set(e, ERR_IO, "writing to stdout failed");
out:
	hist_messages_free(m, n);
	hist_conversation_clear(&c);
	return rc;
}

static int cmd_search(struct hist_db *db, const struct opts *o, struct err *e)
{
	if (o->npos < 1)
		return err_set(e, ERR_USAGE, "usage: ponder history search [-n N] [--json] WORDS...");
	size_t len = 1;
	for (int i = 0; i < o->npos; i++)
		len += strlen(o->pos[i]) + 1;
	char *q = malloc(len);
	if (!q)
		return err_set(e, ERR_NOMEM, "out of memory");
	q[0] = '\0';
	for (int i = 0; i < o->npos; i++) {
		if (i)
			strcat(q, " ");
		strcat(q, o->pos[i]);
	}
	int tty = !o->json && isatty(STDOUT_FILENO);
	const char *mo = tty ? "\x1b[1m" : "\xc2\xab", *mc = tty ? "\x1b[0m" : "\xc2\xbb";
	struct hist_hit *h;
	size_t n;
	int rc = hist_search(db, q, mo, mc, o->n > 0 ? (size_t)o->n : DEFAULT_HITS, &h, &n, e);
	free(q);
	if (rc)
		return rc;
	if (o->json) {
		int ok = 1;
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++) {
			json_t *x = json_object();
			if (!x || json_array_append_new(a, x)) {
				ok = 0;
				break;
			}
			app_json_put(x, "conversation_id", json_integer(h[i].conversation_id), &ok);
			app_json_put(x, "message_id", json_integer(h[i].message_id), &ok);
			app_json_put(x, "role", json_string(hist_role_name(h[i].role)), &ok);
			app_json_put(x, "in", json_string(h[i].in_reasoning ? "reasoning" : "content"), &ok);
			app_json_put(x, "title", app_json_cstr(h[i].title), &ok);
			app_json_put(x, "snippet", app_json_cstr(h[i].snippet), &ok);
			app_json_put(x, "created_ms", json_integer(h[i].created_ms), &ok);
		}
		hist_hits_free(h, n);
		if (!ok) {
			json_decref(a);
			a = NULL;
		}
		return dump_json(stdout, a, e);
	}
	if (!n)
		printf("No matches.\n");
	char t[64];
	for (size_t i = 0; i < n; i++) {
		app_fmt_ago(h[i].created_ms, t, sizeof t);
		printf("#%lld  ", (long long)h[i].conversation_id);
		put_safe_str(stdout, *h[i].title ? h[i].title : "(untitled)", tty, 1);
		printf("  (%s, %s)\n",
		       h[i].role == HIST_USER ? "question" : h[i].in_reasoning ? "reasoning" : "answer",
		       t);
		printf("    ");
		/* The markers are escapes on a terminal: print them, sanitise the rest. */
		const char *s = h[i].snippet;
		while (*s) {
			const char *a = strstr(s, mo), *z = strstr(s, mc);
			const char *next = a && (!z || a < z) ? a : z;
			size_t k = next ? (size_t)(next - s) : strlen(s);
			put_safe(stdout, s, k, tty, 1);
			s += k;
			if (next) {
				const char *mk = next == a ? mo : mc;
				fputs(mk, stdout);
				s += strlen(mk);
			}
		}
		putchar('\n');
	}
	hist_hits_free(h, n);
	return ferror(stdout) ? err_set(e, ERR_IO, "writing to stdout failed") : 0;
}

/* Writes one conversation in the chosen format. */
static int export_one(struct hist_db *db, int64_t id, int json, FILE *f, struct err *e)
{
	struct hist_conversation c;
	struct hist_message *m;
	size_t n;
	int rc = load(db, id, &c, &m, &n, e);
	if (rc)
		return rc;
	if (json) {
		json_t *j = app_history_json(&c, m, n, 1);
		if (!j)
			rc = err_set(e, ERR_NOMEM, "out of memory building JSON");
		else if (json_dumpf(j, f, JSON_INDENT(2)))
			rc = err_set(e, ERR_IO, "writing JSON failed");
		json_decref(j);
	} else {
		rc = hist_export_md(f, &c, m, n, e);
	}
	hist_messages_free(m, n);
	hist_conversation_clear(&c);
	return rc;
}

static int cmd_export(struct hist_db *db, const struct opts *o, struct err *e)
{
	const char *fmt = o->format ? o->format : "md";
	int json = !strcmp(fmt, "json");
	if (!json && strcmp(fmt, "md") && strcmp(fmt, "markdown"))
		return err_set(e, ERR_USAGE, "--format must be md or json, not '%s'", fmt);
	if (o->all ? o->npos != 0 : o->npos != 1)
		return err_set(e, ERR_USAGE,
			       "usage: ponder history export ID|--all [--format md|json] [-o FILE]");
	int64_t one = 0, *ids = &one;
	size_t n = 1;
	int rc = o->all ? hist_conversation_ids(db, &ids, &n, e) : parse_id(o->pos[0], &one, e);
	if (rc)
		return rc;
	/* Fail on a missing id before creating any file. */
	if (!o->all) {
		struct hist_conversation c;
		if ((rc = hist_conversation_get(db, one, &c, e)))
			return rc;
		hist_conversation_clear(&c);
	}

	FILE *f = stdout;
	char *tmp = NULL;
	/* To a terminal the export is gathered first and shown through term_write_visible:
	   hist_export_md and JSON write stored text as it is. */
	char *shown = NULL;
	size_t shown_len = 0;
	bool to_tty = false;
	if (o->output && strcmp(o->output, "-")) {
		size_t l = strlen(o->output);
		tmp = malloc(l + 8);
		if (!tmp) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		memcpy(tmp, o->output, l);
		memcpy(tmp + l, ".XXXXXX", 8);
		int fd = mkstemp(tmp);
		if (fd < 0) {
			rc = err_set(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
			free(tmp);
			tmp = NULL;
			goto out;
		}
		mode_t um = umask(0);
		umask(um);
		fchmod(fd, 0666 & ~um);
		f = fdopen(fd, "w");
		if (!f) {
			close(fd);
			rc = err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
			f = stdout;
			goto out;
		}
	} else if (isatty(STDOUT_FILENO)) {
		to_tty = true;
		if (!(f = open_memstream(&shown, &shown_len))) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (json && o->all)
		fputs("[\n", f);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			fputs(json ? ",\n" : "\n---\n\n", f);
		rc = export_one(db, ids[i], json, f, e);
	}
	if (json && o->all)
		fputs(n ? "\n]\n" : "]\n", f);
	else if (json)
		fputc('\n', f);
	if (to_tty) {
		if (fclose(f) && !rc)
			rc = err_set(e, ERR_NOMEM, "out of memory holding the export");
		f = stdout;
		if (!rc && term_write_visible(f, shown, shown_len))
			rc = err_set(e, ERR_IO, "writing the export to stdout failed: %s",
				     strerror(errno));
	}
	if (!rc && (fflush(f) || ferror(f)))
		rc = err_set(e, ERR_IO, "writing the export to %s failed: %s",
			     tmp ? o->output : "stdout", strerror(errno));
	if (tmp) {
		if (!rc && fsync(fileno(f)))
			rc = err_set(e, ERR_IO, "writing %s failed: %s", o->output, strerror(errno));
		if (fclose(f) && !rc)
			rc = err_set(e, ERR_IO, "writing %s failed: %s", o->output, strerror(errno));
		if (!rc && rename(tmp, o->output))
			rc = err_set(e, ERR_IO, "cannot rename %s to %s: %s", tmp, o->output,
				     strerror(errno));
		if (rc)
			unlink(tmp);
	}
out:
	free(shown);
	free(tmp);
	if (ids != &one)
		free(ids);
	return rc;
}

static int cmd_rm(struct hist_db *db, const struct opts *o, struct err *e)
{
	if (o->npos != 1)
		return err_set(e, ERR_USAGE, "usage: ponder history rm ID");
	int64_t id;
	int rc = parse_id(o->pos[0], &id, e);
	if (rc || (rc = hist_conversation_rm(db, id, e)))
		return rc;
	app_kv_forget(id);
	printf("Removed conversation %lld.\n", (long long)id);
	return 0;
}

static int cmd_title(struct hist_db *db, const struct opts *o, struct err *e)
{
	if (o->npos < 2)
		return err_set(e, ERR_USAGE, "usage: ponder history title ID TEXT...");
	int64_t id;
	int rc = parse_id(o->pos[0], &id, e);
	if (rc)
		return rc;
	size_t len = 1;
	for (int i = 1; i < o->npos; i++)
		len += strlen(o->pos[i]) + 1;
	char *t = malloc(len);
	if (!t)
		return err_set(e, ERR_NOMEM, "out of memory");
	t[0] = '\0';
	for (int i = 1; i < o->npos; i++) {
		if (i > 1)
			strcat(t, " ");
		strcat(t, o->pos[i]);
	}
	rc = hist_conversation_title(db, id, t, e);
	free(t);
	return rc;
}

static const struct {
	const char *name;
	const char *options; /* those it accepts */
	int (*run)(struct hist_db *, const struct opts *, struct err *);
} subs[] = {
	{"export", "--all --format -o", cmd_export},
	{"list", "-n --json", cmd_list},
	{"rm", "", cmd_rm},
	{"search", "-n --json", cmd_search},
	{"show", "--reasoning --json", cmd_show},
	{"title", "", cmd_title},
};

int app_cmd_history(int argc, char **argv, struct err *e)
{
	struct opts o;
	struct hist_db *db = NULL;
	int rc = parse(argc, argv, &o, e);
	if (rc)
		goto out;
	if (!o.sub || !strcmp(o.sub, "help")) {
		usage(o.sub ? stdout : stderr);
		rc = o.sub ? 0 : err_set(e, ERR_USAGE, "which history command? (list, show, search, "
						       "export, rm, title)");
		goto out;
	}
	size_t k = 0;
	while (k < sizeof subs / sizeof subs[0] && strcmp(subs[k].name, o.sub))
		k++;
	if (k == sizeof subs / sizeof subs[0]) {
		rc = err_set(e, ERR_USAGE, "unknown history command '%s' (list, show, search, "
					   "export, rm, title)", o.sub);
		goto out;
	}
	if ((rc = only(&o, subs[k].options, e)))
		goto out;

	char path[4096];
	if ((rc = app_path_history_db(o.db, 0, path, sizeof path, e)))
		goto out;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		if (!strcmp(o.sub, "list")) {
			if (o.json)
				puts("[]");
			else
				printf("No conversations yet (no history file at %s).\n", path);
			goto out;
		}
		rc = err_set(e, ERR_DB, "there is no history file at %s yet", path);
		goto out;
	}
	struct hist_open_opts oo = {HIST_OPEN_NOCREATE, 0};
	if ((rc = hist_open(path, &oo, &db, e))) {
		/* Every failure to use the file is a database problem to the exit status. */
		if (rc != ERR_NOMEM)
			e->code = rc = ERR_DB;
		goto out;
	}
	rc = subs[k].run(db, &o, e);
out:
	hist_close(db);
	free(o.pos);
	return rc;
}
