/*
 * pipe.c — pipe mode (see pipe.h).
 *
 * Output rules: text goes out as soon as it is generated (flushed per piece). When the
 * destination is a terminal, control characters are shown as ^X (ESC as ^[) and C1
 * controls as <U+XXXX>, so model output can never drive the terminal; into a pipe or
 * file the text is written exactly as generated. A closed pipe (EPIPE, as after
 * `| head -c 10`) stops generation and ends quietly with status 0.
 */
#include "app/pipe.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/chat.h"
#include "app/read_all.h"
#include "app/signals.h"
#include "app/term_safe.h"

#define MAX_STDIN (64u << 20)

struct sink {
	const struct app_opts *o;
	bool out_tty, err_tty;
	bool broken_pipe;
	int last_channel;    /* for inline and stderr reasoning separators */
	size_t index;        /* prompt number in --batch */
};

/* Writes text to f, making control characters visible when f is a terminal. */
static int put_text(struct sink *k, FILE *f, bool tty, const char *s, size_t len)
{
	int rc = tty ? term_write_visible(f, s, len) : (fwrite(s, 1, len, f) == len ? 0 : -1);
	if (!rc && fflush(f) == 0)
		return 0;
	if (errno == EPIPE)
		k->broken_pipe = true;
	return -1;
}

static int put_json_line(struct sink *k, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(obj);
	if (!s)
		return -1;
	int rc = put_text(k, stdout, false, s, strlen(s));
	if (!rc)
		rc = put_text(k, stdout, false, "\n", 1);
	free(s);
	return rc;
}

static int emit_piece(void *ud, int channel, const char *utf8, size_t len)
{
	struct sink *k = ud;
	const struct app_opts *o = k->o;
	int rc = 0;
	if (o->output == OUTPUT_JSONL) {
		json_t *ev = json_pack("{s:s, s:s%}", "type",
				       channel == CH_REASONING ? "reasoning" : "answer", "text", utf8,
				       len);
		if (ev && o->batch)
			json_object_set_new(ev, "index", json_integer((json_int_t)k->index));
		rc = ev ? put_json_line(k, ev) : -1;
	} else if (o->output == OUTPUT_TEXT && !o->batch) {
		if (channel == CH_ANSWER) {
			if (k->last_channel == CH_REASONING && o->reasoning == REASONING_INLINE)
				rc = put_text(k, stdout, false, "\n</think>\n\n", 11);
			else if (k->last_channel == CH_REASONING && o->reasoning == REASONING_STDERR)
				rc = put_text(k, stderr, false, "\n", 1);
			if (!rc)
				rc = put_text(k, stdout, k->out_tty, utf8, len);
		} else if (o->reasoning == REASONING_INLINE) {
			if (k->last_channel != CH_REASONING)
				rc = put_text(k, stdout, false, "<think>\n", 8);
			if (!rc)
				rc = put_text(k, stdout, k->out_tty, utf8, len);
		} else if (o->reasoning == REASONING_STDERR) {
			rc = put_text(k, stderr, k->err_tty, utf8, len);
		}
	}
	k->last_channel = channel;
	return rc ? 1 : 0;
}

static const char *finish_name(enum gen_finish f)
{
	switch (f) {
	case FINISH_STOP: return "stop";
	case FINISH_LENGTH: return "length";
	case FINISH_INTERRUPTED: return "interrupted";
	case FINISH_ERROR: break;
	}
	return "error";
}

static json_t *count_or_null(int64_t n)
{
	return n >= 0 ? json_integer((json_int_t)n) : json_null();
}

/* Rates a remote server does not report are 0 in gen_stats. */
static json_t *rate_or_null(double r)
{
	return r > 0 ? json_real(r) : json_null();
}

static json_t *summary(const struct app_chat *c, const struct gen_stats *st, const char *finish,
		       const char *error, bool with_text)
{
	json_t *o = json_object();
	json_object_set_new(o, "conversation_id", c->cid ? json_integer(c->cid) : json_null());
	json_object_set_new(o, "model", json_string(c->model_name));
	if (with_text) {
		json_object_set_new(o, "reasoning", json_stringn(c->reasoning.s, c->reasoning.len));
		json_object_set_new(o, "answer", json_stringn(c->answer.s, c->answer.len));
	}
	json_object_set_new(o, "finish_reason", json_string(finish));
	if (error)
		json_object_set_new(o, "error", json_string(error));
	/* A remote server may leave figures out (-1): null, never a guess. */
	bool split_known = st->reasoning_tokens >= 0 && st->answer_tokens >= 0;
	json_object_set_new(o, "usage", json_pack("{s:o, s:o, s:o, s:o, s:o}",
		"prompt_tokens", count_or_null(st->prompt_tokens),
		"cached_prompt_tokens", count_or_null(st->reused_tokens),
		"reasoning_tokens", count_or_null(st->reasoning_tokens),
		"answer_tokens", count_or_null(st->answer_tokens),
		"completion_tokens", count_or_null(split_known ? st->reasoning_tokens +
								 st->answer_tokens : -1)));
	json_object_set_new(o, "timings", json_pack("{s:o, s:o, s:f, s:o}",
		"prefill_tokens_per_s", rate_or_null(st->prefill_tps),
		"decode_tokens_per_s", rate_or_null(st->decode_tps),
		"time_to_first_token_ms", st->ttft_ms, "thinking_ms",
		c->remote ? json_null() : json_real(st->think_ms)));
	json_object_set_new(o, "mtp", json_pack("{s:I, s:I, s:o}",
		"drafted", (json_int_t)st->mtp_drafted, "accepted", (json_int_t)st->mtp_accepted,
		"acceptance", st->mtp_drafted ? json_real((double)st->mtp_accepted /
							  (double)st->mtp_drafted) : json_null()));
	return o;
}

static void show_warnings(struct app_chat *c)
{
	const char *w = app_chat_take_warning(c);
	if (w)
		fprintf(stderr, "ponder: %s\n", w);
}

/* A --batch result names its prompt: by position and by text, so each line stands on
   its own. */
static void put_batch_fields(json_t *s, size_t index, const char *prompt, size_t len)
{
	json_object_set_new(s, "index", json_integer((json_int_t)index));
	json_object_set_new(s, "prompt", json_stringn(prompt, len));
}

/* One prompt through the chat, with its output in the chosen form. */
static int answer_one(struct app_chat *c, struct sink *k, const char *prompt, size_t len,
		      struct err *e)
{
	const struct app_opts *o = k->o;
	struct gen_stats st = {0};
	k->last_channel = 0;
	int rc = app_chat_send(c, prompt, len, emit_piece, k, &st, e);
	if (o->verbose && !rc && st.snapshot_tokens > 0)
		fprintf(stderr, "ponder: resumed %lld of the prompt's %lld tokens from a KV "
			"snapshot; %lld computed\n", (long long)st.snapshot_tokens,
			(long long)st.prompt_tokens, (long long)st.prefill_tokens);
	show_warnings(c);
	if (k->broken_pipe)
		return 0;
	if (app_signals_received() && st.finish == FINISH_INTERRUPTED && !rc)
		rc = err_set(e, ERR_INTERRUPTED, "interrupted; the partial answer is saved%s",
			     c->cid ? "" : " (not: history is off)");
	const char *finish = rc && rc != ERR_INTERRUPTED ? "error" : finish_name(st.finish);
	const char *error = rc && rc != ERR_INTERRUPTED ? e->msg : NULL;
	int wrc = 0;
	if (o->output == OUTPUT_JSON || (o->batch && o->output == OUTPUT_TEXT)) {
		json_t *s = summary(c, &st, finish, error, true);
		if (o->batch)
			put_batch_fields(s, k->index, prompt, len);
		wrc = put_json_line(k, s);
	} else if (o->output == OUTPUT_JSONL) {
		json_t *s = summary(c, &st, finish, error, false);
		json_object_set_new(s, "type", json_string("done"));
		if (o->batch)
			put_batch_fields(s, k->index, prompt, len);
		wrc = put_json_line(k, s);
	} else if (!rc || rc == ERR_INTERRUPTED) {
		if (k->last_channel == CH_REASONING && o->reasoning == REASONING_INLINE)
			wrc = put_text(k, stdout, false, "\n</think>\n", 10);
		if (!wrc && (c->answer.len == 0 || c->answer.s[c->answer.len - 1] != '\n'))
			wrc = put_text(k, stdout, false, "\n", 1);
		/* JSON says this with finish_reason "length"; plain text needs the line. */
		char note[256];
		if (!wrc && !rc && app_chat_cut_short(c, &st, note, sizeof note))
			fprintf(stderr, "ponder: %s\n", note);
	}
	if (k->broken_pipe)
		return 0;
	if (wrc && !rc)
		rc = err_set(e, ERR_IO, "writing the answer to stdout: %s", strerror(errno));
	return rc;
}

/* All of stdin, or NULL with *len 0 when it is a terminal. */
static int read_stdin(char **out, size_t *len, struct err *e)
{
	*out = NULL;
	*len = 0;
	if (isatty(STDIN_FILENO))
		return 0;
	int rc = app_read_all(stdin, "stdin", MAX_STDIN, out, len, e);
	if (rc == ERR_RANGE)
		e->code = rc = ERR_USAGE;
	return rc;
}

static size_t trim_end(const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ' ||
		       s[len - 1] == '\t'))
		len--;
	return len;
}

static int run_batch(struct app_chat *c, struct sink *k, const char *in, size_t len,
		     struct err *e)
{
	int rc = 0;
	const char *p = in, *end = in + len;
	while (!rc && p < end && !app_signals_received() && !k->broken_pipe) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t n = trim_end(p, (size_t)(line_end - p));
		if (n) {
			app_chat_new_conversation(c);
			rc = answer_one(c, k, p, n, e);
			/* One failed prompt (say, too long) does not stop the batch: its JSON line
			   says error; only an interruption or a broken pipe ends it. */
			if (rc && rc != ERR_INTERRUPTED && rc != ERR_IO)
				rc = 0;
			k->index++;
		}
		p = line_end + 1;
	}
	return rc;
}

int app_pipe_run(const struct app_opts *o, struct err *e)
{
	char *in = NULL, *prompt = NULL;
	size_t in_len = 0;
	struct app_chat *c = NULL;
	int rc = read_stdin(&in, &in_len, e);
	if (rc)
		return rc;
	in_len = trim_end(in ? in : "", in_len);
	if (!o->batch) {
		size_t plen = o->prompt ? strlen(o->prompt) : 0;
		if (!plen && !in_len) {
			free(in);
			return err_set(e, ERR_USAGE, "no prompt: give it as an argument, with -p, or "
				       "on stdin");
		}
		prompt = malloc(plen + in_len + 3);
		if (!prompt) {
			free(in);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
		size_t n = 0;
		if (plen) {
			memcpy(prompt, o->prompt, plen);
			n = plen;
		}
		if (plen && in_len) {
			memcpy(prompt + n, "\n\n", 2);
			n += 2;
		}
		if (in_len)
			memcpy(prompt + n, in, in_len);
		in_len = n + in_len;
		prompt[in_len] = '\0';
	}

	signal(SIGPIPE, SIG_IGN);
	/* Before app_chat_open: the engine's threads must inherit the blocked signals. */
	if ((rc = app_signals_start(e)))
		goto out;
	if ((rc = app_chat_open(&c, o, e)))
		goto out;
	if (o->verbose)
		fprintf(stderr, "ponder: %s\n", c->sampling);
	show_warnings(c);
	app_signals_watch(c);
	struct sink k = {o, isatty(STDOUT_FILENO) == 1, isatty(STDERR_FILENO) == 1, false, 0, 0};
	if (o->batch)
		rc = run_batch(c, &k, in ? in : "", in_len, e);
	else
		rc = answer_one(c, &k, prompt, in_len, e);
	/* The answer is out; the snapshot for a later -c is written meanwhile. */
	app_chat_settle(c);
	show_warnings(c);
	app_signals_stop();
	if (!rc && app_signals_received())
		rc = err_set(e, ERR_INTERRUPTED, "interrupted");
out:
	app_signals_stop();
	app_chat_close(c);
	free(prompt);
	free(in);
	return rc;
}
