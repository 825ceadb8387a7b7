/*
 * oai_request.c — the body of POST /v1/chat/completions, parsed and checked
 * (oai_request.h).
 *
 * The body is hostile until proven otherwise: its size is checked before anything reads
 * it, its nesting depth by a byte scan before jansson recurses into it (jansson 2.14
 * stops at 2048 levels, older versions do not stop at all), and jansson refuses invalid
 * UTF-8, "\u0000", lone surrogates, duplicate keys and numbers it cannot hold. What it
 * accepts is then read field by field with strict types (a string where a number belongs
 * is refused, not converted), and every refusal names the field, so that a client's
 * author sees what to fix.
 *
 * Unknown fields are ignored, as clients keep adding new ones; only the fields that would
 * change the reply when honoured (tools, response_format, stop, penalties, ...) are
 * refused, and those only when their value is not the one that changes nothing
 * (tools: [], n: 1, logprobs: false, stop: [], frequency_penalty: 0, ...). JSON null
 * counts as "not given" everywhere an optional field is read, as the OpenAI API does.
 */
#include "net/oai_request.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_text.h"

/* A chat request nests 4 deep ({messages: [{content: [{...}]}]}); metadata may add some. */
#define OAI_MAX_DEPTH 64

/* Bytes of s that fit in n without cutting a UTF-8 character. */
static size_t utf8_cut(const char *s, size_t len, size_t n)
{
	if (len <= n)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* A string value between single quotes for a message: at most 40 bytes, controls as '?'. */
static const char *quote(json_t *v, char *buf, size_t cap)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v), keep = utf8_cut(s, len, 40), o = 0;
	buf[o++] = '\'';
	for (size_t i = 0; i < keep && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
	}
	if (keep < len)
		o += (size_t)snprintf(buf + o, cap - o, "...");
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* Whether arrays and objects nest at most OAI_MAX_DEPTH deep (strings skipped; the JSON
   need not be valid, jansson judges that next). */
static int depth_ok(const char *b, size_t len)
{
	int depth = 0, in_str = 0;
	for (size_t i = 0; i < len; i++) {
		char c = b[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > OAI_MAX_DEPTH)
				return 0;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return 1;
}

static int in_set(char c, const char *set)
{
	return c && strchr(set, c) != NULL;
}

/*
 * The object key right before the number that ends at pos ("temperature" in
 * {"temperature": 1e999}), so that a number jansson cannot hold is refused by its field's
 * name. Empty when the text there is not that simple shape.
 */
static void key_before(const char *b, size_t len, size_t pos, char *key, size_t cap)
{
	size_t i = pos < len ? pos : len, end;
	key[0] = '\0';
	while (i > 0 && in_set(b[i - 1], "0123456789+-.eE"))
		i--;
	while (i > 0 && in_set(b[i - 1], " \t\r\n"))
		i--;
	if (i == 0 || b[--i] != ':')
		return;
	while (i > 0 && in_set(b[i - 1], " \t\r\n"))
		i--;
	if (i == 0 || b[--i] != '"')
		return;
	end = i;
	while (i > 0 && b[i - 1] != '"') {
		unsigned char c = (unsigned char)b[i - 1];
		if (c < 0x20 || c >= 0x7F || c == '\\' || end - i >= cap - 1)
			return;
		i--;
	}
	if (i == 0)
		return;
	memcpy(key, b + i, end - i);
	key[end - i] = '\0';
}

/* jansson's complaint as a message: printable ASCII only (its "near '...'" quotes the
   input), and the one that names a jansson flag said in the user's terms. */
static int parse_error(const char *body, size_t len, const json_error_t *je, struct err *e)
{
	char text[sizeof je->text], key[64];
	size_t i;
	for (i = 0; je->text[i] && i + 1 < sizeof text; i++) {
		unsigned char c = (unsigned char)je->text[i];
		text[i] = c < 0x20 || c >= 0x7F ? '?' : (char)c;
	}
	text[i] = '\0';
	if (strstr(text, "JSON_ALLOW_NUL"))
		return err_set(e, ERR_FORMAT,
			       "the body holds \\u0000 (a NUL character) in a string at line %d, "
			       "column %d; ponder serve does not accept NUL in text",
			       je->line, je->column);
	if (strstr(text, "real number overflow") || strstr(text, "too big integer")) {
		key_before(body, len, (size_t)je->position, key, sizeof key);
		if (key[0])
			return err_set(e, ERR_FORMAT, "%s: the number is too large (%s)", key, text);
	}
	return err_set(e, ERR_FORMAT, "the body is not valid JSON (line %d, column %d): %s%s",
		       je->line, je->column, text,
		       strstr(text, "unable to decode byte") ? " (text must be UTF-8)" : "");
}

/* ---- fields that would change the reply ---- */

/* The values of a refused field that change nothing, and so are accepted. */
enum noop {
	NOOP_NULL,  /* only null */
	NOOP_EMPTY, /* null, "", [] or {} */
	NOOP_FALSE, /* null or false */
	NOOP_ZERO,  /* null or the number 0 */
	NOOP_ONE,   /* null or the number 1 */
	NOOP_NONE,  /* null or "none" */
	NOOP_TEXT,  /* null, {"type": "text"} or ["text"] */
};

static const struct refused {
	const char *field;
	enum noop noop;
	const char *why;
} refused[] = {
	{ "tools", NOOP_EMPTY, "ponder serve has no tool calls" },
	{ "tool_choice", NOOP_NONE, "ponder serve has no tool calls" },
	{ "functions", NOOP_EMPTY, "ponder serve has no tool calls" },
	{ "function_call", NOOP_NONE, "ponder serve has no tool calls" },
	{ "response_format", NOOP_TEXT, "ponder serve does not constrain the reply's format" },
	{ "guided_json", NOOP_NULL, "ponder serve does not constrain the reply's format" },
	{ "guided_regex", NOOP_NULL, "ponder serve does not constrain the reply's format" },
	{ "guided_choice", NOOP_NULL, "ponder serve does not constrain the reply's format" },
	{ "guided_grammar", NOOP_NULL, "ponder serve does not constrain the reply's format" },
	{ "structured_outputs", NOOP_NULL, "ponder serve does not constrain the reply's format" },
	{ "logit_bias", NOOP_EMPTY, "ponder serve samples without logit biases" },
	{ "logprobs", NOOP_FALSE, "ponder serve does not return log-probabilities" },
	{ "top_logprobs", NOOP_ZERO, "ponder serve does not return log-probabilities" },
	{ "n", NOOP_ONE, "ponder serve gives one choice per request" },
	{ "best_of", NOOP_ONE, "ponder serve gives one choice per request" },
	{ "use_beam_search", NOOP_FALSE, "ponder serve does not search beams" },
	{ "stop", NOOP_EMPTY, "ponder serve stops at the model's end of turn or max_tokens" },
	{ "stop_token_ids", NOOP_EMPTY, "ponder serve stops at the model's end of turn or max_tokens" },
	{ "ignore_eos", NOOP_FALSE, "ponder serve stops at the model's end of turn or max_tokens" },
	{ "min_tokens", NOOP_ZERO, "ponder serve stops at the model's end of turn or max_tokens" },
	{ "frequency_penalty", NOOP_ZERO, "ponder serve samples without penalties" },
	{ "presence_penalty", NOOP_ZERO, "ponder serve samples without penalties" },
	{ "repetition_penalty", NOOP_ONE, "ponder serve samples without penalties" },
	{ "suffix", NOOP_NULL, "ponder serve does not fill in the middle" },
	{ "echo", NOOP_FALSE, "ponder serve does not echo the prompt" },
	{ "prediction", NOOP_NULL, "ponder serve does not use predicted outputs" },
	{ "audio", NOOP_NULL, "ponder serve answers in text only" },
	{ "modalities", NOOP_TEXT, "ponder serve answers in text only" },
};

static int is_noop(json_t *v, enum noop k)
{
	if (json_is_null(v))
		return 1;
	switch (k) {
	case NOOP_NULL:
		return 0;
	case NOOP_EMPTY:
		return (json_is_string(v) && json_string_length(v) == 0) ||
		       (json_is_array(v) && json_array_size(v) == 0) ||
		       (json_is_object(v) && json_object_size(v) == 0);
	case NOOP_FALSE:
		return json_is_false(v);
	case NOOP_ZERO:
		return json_is_number(v) && json_number_value(v) == 0;
	case NOOP_ONE:
		return json_is_number(v) && json_number_value(v) == 1;
	case NOOP_NONE:
		return json_is_string(v) && strcmp(json_string_value(v), "none") == 0;
	case NOOP_TEXT: {
		json_t *t = json_is_object(v) ? json_object_get(v, "type") : NULL;
		if (t)
			return json_object_size(v) == 1 && json_is_string(t) &&
			       strcmp(json_string_value(t), "text") == 0;
		return json_is_array(v) && json_array_size(v) == 1 &&
		       json_is_string(json_array_get(v, 0)) &&
		       strcmp(json_string_value(json_array_get(v, 0)), "text") == 0;
	}
	}
	return 0;
}

static int check_refused(json_t *root, struct err *e)
{
	char b[96];
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		json_t *v = json_object_get(root, refused[i].field);
		if (v && !is_noop(v, refused[i].noop))
			return err_set(e, ERR_FORMAT, "%s: %s is not supported (%s); leave it out",
				       refused[i].field, json_repr(v, b, sizeof b), refused[i].why);
	}
	return 0;
}

/* ---- typed optional fields (absent or null: *out unchanged) ---- */

static int get_bool(json_t *root, const char *where, const char *f, bool *out, struct err *e)
{
	json_t *v = json_object_get(root, f);
	char b[96];
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(e, ERR_FORMAT, "%s%s must be true or false, got %s (%s)", where, f,
			       json_type_desc(v), json_repr(v, b, sizeof b));
	*out = json_is_true(v);
	return 0;
}

/* A number in [lo, hi], lo excluded when lo_open. */
static int get_num(json_t *root, const char *f, double lo, int lo_open, double hi,
		   double *out, struct err *e)
{
	json_t *v = json_object_get(root, f);
	char b[96];
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return err_set(e, ERR_FORMAT, "%s must be a number, got %s (%s)", f, json_type_desc(v),
			       json_repr(v, b, sizeof b));
	double x = json_number_value(v);
	if (!isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo))
		return err_set(e, ERR_FORMAT, "%s: %s is not %s %g %s %g", f, json_repr(v, b, sizeof b),
			       lo_open ? "greater than" : "from", lo, lo_open ? "and at most" : "to",
			       hi);
	*out = x;
	return 0;
}

/* An integer in [lo, hi]; *set tells whether it was given. */
static int get_int(json_t *root, const char *f, int64_t lo, int64_t hi, int64_t *out,
		   bool *set, struct err *e)
{
	json_t *v = json_object_get(root, f);
	char b[96];
	*set = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v))
		return err_set(e, ERR_FORMAT, "%s must be an integer, got %s (%s)", f, json_type_desc(v),
			       json_repr(v, b, sizeof b));
	json_int_t x = json_integer_value(v);
	if (x < lo || x > hi)
		return err_set(e, ERR_FORMAT, "%s: %lld is not from %lld to %lld", f, (long long)x,
			       (long long)lo, (long long)hi);
	*out = x;
	*set = true;
	return 0;
}

static int get_sampling(json_t *root, const struct oai_limits *lim,
			struct oai_chat_request *r, struct err *e)
{
	int64_t k = -1, mt = 0, mct = 0, seed = 0;
	bool k_set, mt_set, mct_set;
	int rc;
	if ((rc = get_num(root, "temperature", 0, 0, 2, &r->temperature, e)) ||
	    (rc = get_num(root, "top_p", 0, 1, 1, &r->top_p, e)) ||
	    (rc = get_num(root, "min_p", 0, 0, 1, &r->min_p, e)) ||
	    (rc = get_int(root, "top_k", -1, INT32_MAX, &k, &k_set, e)) ||
	    (rc = get_int(root, "seed", 0, INT64_MAX, &seed, &r->seed_set, e)) ||
	    (rc = get_int(root, "max_tokens", 1, lim->max_tokens, &mt, &mt_set, e)) ||
	    (rc = get_int(root, "max_completion_tokens", 1, lim->max_tokens, &mct, &mct_set, e)))
		return rc;
	if (mt_set && mct_set && mt != mct)
		return err_set(e, ERR_FORMAT,
			       "max_tokens (%lld) and max_completion_tokens (%lld) differ; give one "
			       "of them",
			       (long long)mt, (long long)mct);
	r->top_k = (int)k;
	r->seed = (uint64_t)seed;
	r->max_tokens = mct_set ? mct : mt;
	return 0;
}

static int get_top(json_t *root, struct oai_chat_request *r, struct err *e)
{
	json_t *v;
	char b[96];
	int rc;
	if ((v = json_object_get(root, "model")) && !json_is_null(v)) {
		if (!json_is_string(v))
			return err_set(e, ERR_FORMAT, "model must be a string, got %s (%s)",
				       json_type_desc(v), json_repr(v, b, sizeof b));
		if (json_string_length(v) >= sizeof r->model)
			return err_set(e, ERR_FORMAT, "model: %s is %zu bytes, over the %zu accepted",
				       quote(v, b, sizeof b), json_string_length(v),
				       sizeof r->model - 1);
		memcpy(r->model, json_string_value(v), json_string_length(v) + 1);
	}
	if ((v = json_object_get(root, "user")) && !json_is_null(v) && !json_is_string(v))
		return err_set(e, ERR_FORMAT, "user must be a string, got %s (%s)", json_type_desc(v),
			       json_repr(v, b, sizeof b));
	if ((rc = get_bool(root, "", "stream", &r->stream, e)))
		return rc;
	if ((v = json_object_get(root, "stream_options")) && !json_is_null(v)) {
		if (!json_is_object(v))
			return err_set(e, ERR_FORMAT,
				       "stream_options must be an object like {\"include_usage\": "
				       "true}, got %s (%s)",
				       json_type_desc(v), json_repr(v, b, sizeof b));
		if ((rc = get_bool(v, "stream_options.", "include_usage", &r->include_usage, e)))
			return rc;
	}
	return 0;
}

/* ---- messages ---- */

enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT };

static int get_role(json_t *m, const char *where, int *role, struct err *e)
{
	json_t *v = json_object_get(m, "role");
	char b[96];
	if (!v)
		return err_set(e, ERR_FORMAT, "%s.role is missing", where);
	if (!json_is_string(v))
		return err_set(e, ERR_FORMAT, "%s.role must be a string, got %s (%s)", where,
			       json_type_desc(v), json_repr(v, b, sizeof b));
	const char *s = json_string_value(v);
	if (!strcmp(s, "system") || !strcmp(s, "developer"))
		*role = ROLE_SYSTEM;
	else if (!strcmp(s, "user"))
		*role = ROLE_USER;
	else if (!strcmp(s, "assistant"))
		*role = ROLE_ASSISTANT;
	else
		return err_set(e, ERR_FORMAT,
			       "%s.role: %s is not a role ponder serve serves (system, developer, "
			       "user, assistant)",
			       where, quote(v, b, sizeof b));
	return 0;
}

/* One part of an array content: its text, or a refusal naming the part. */
static int part_text(json_t *p, const char *where, size_t i, json_t **text, struct err *e)
{
	json_t *t = json_is_object(p) ? json_object_get(p, "type") : NULL;
	char b[96];
	if (!json_is_object(p))
		return err_set(e, ERR_FORMAT,
			       "%s.content[%zu] must be an object {\"type\": \"text\", \"text\": "
			       "...}, got %s (%s)",
			       where, i, json_type_desc(p), json_repr(p, b, sizeof b));
	if (!t)
		return err_set(e, ERR_FORMAT, "%s.content[%zu].type is missing", where, i);
	if (!json_is_string(t))
		return err_set(e, ERR_FORMAT, "%s.content[%zu].type must be a string, got %s (%s)",
			       where, i, json_type_desc(t), json_repr(t, b, sizeof b));
	if (strcmp(json_string_value(t), "text"))
		return err_set(e, ERR_FORMAT,
			       "%s.content[%zu].type: %s is not supported; ponder serve reads only "
			       "text parts",
			       where, i, quote(t, b, sizeof b));
	*text = json_object_get(p, "text");
	if (!*text)
		return err_set(e, ERR_FORMAT, "%s.content[%zu].text is missing", where, i);
	if (!json_is_string(*text))
		return err_set(e, ERR_FORMAT, "%s.content[%zu].text must be a string, got %s (%s)",
			       where, i, json_type_desc(*text), json_repr(*text, b, sizeof b));
	return 0;
}

/*
 * A message's content as one malloc'd NUL-terminated text: a string, or an array of text
 * parts joined by "\n" (as vLLM joins them). Absent or null is "" when empty_ok (an
 * assistant's turn), else refused.
 */
static int content_text(json_t *m, const char *where, int empty_ok, char **out, size_t *olen,
			struct err *e)
{
	json_t *c = json_object_get(m, "content"), *p, *t = NULL;
	size_t i, total = 0;
	char b[96];
	int rc;
	if (!c || json_is_null(c)) {
		if (!empty_ok)
			return err_set(e, ERR_FORMAT, "%s.content is %s; give the message's text",
				       where, c ? "null" : "missing");
		total = 0;
	} else if (json_is_string(c)) {
		total = json_string_length(c);
	} else if (json_is_array(c)) {
		json_array_foreach(c, i, p) {
			if ((rc = part_text(p, where, i, &t, e)))
				return rc;
			total += json_string_length(t) + (i > 0);
		}
	} else {
		return err_set(e, ERR_FORMAT,
			       "%s.content must be a string or an array of text parts, got %s (%s)",
			       where, json_type_desc(c), json_repr(c, b, sizeof b));
	}
	char *s = malloc(total + 1), *o = s;
	if (!s)
		return err_set(e, ERR_NOMEM, "%s.content: out of memory for %zu bytes", where, total);
	if (json_is_string(c)) {
		memcpy(o, json_string_value(c), total);
		o += total;
	} else if (json_is_array(c)) {
		json_array_foreach(c, i, p) {
			t = json_object_get(p, "text");
			if (i > 0)
				*o++ = '\n';
			memcpy(o, json_string_value(t), json_string_length(t));
			o += json_string_length(t);
		}
	}
	*o = '\0';
	*out = s;
	*olen = total;
	return 0;
}

/* Appends a system prompt, joined to what came before by a blank line. */
static int add_system(struct oai_chat_request *r, size_t *slen, char *text, size_t len,
		      struct err *e)
{
	if (!r->system) {
		r->system = text;
		*slen = len;
		return 0;
	}
	char *s = realloc(r->system, *slen + 2 + len + 1);
	if (!s) {
		free(text);
		return err_set(e, ERR_NOMEM, "messages: out of memory joining the system prompts");
	}
	memcpy(s + *slen, "\n\n", 2);
	memcpy(s + *slen + 2, text, len + 1);
	*slen += 2 + len;
	r->system = s;
	free(text);
	return 0;
}

static int get_message(json_t *m, size_t i, struct oai_chat_request *r, size_t *slen,
		       bool *seen_user, struct err *e)
{
	char where[40], b[96], *text = NULL;
	size_t len = 0;
	int role, rc;
	json_t *v;
	snprintf(where, sizeof where, "messages[%zu]", i);
	if (!json_is_object(m))
		return err_set(e, ERR_FORMAT,
			       "%s must be an object {\"role\": ..., \"content\": ...}, got %s (%s)",
			       where, json_type_desc(m), json_repr(m, b, sizeof b));
	if ((rc = get_role(m, where, &role, e)))
		return rc;
	if (role == ROLE_SYSTEM && *seen_user)
		return err_set(e, ERR_FORMAT,
			       "%s.role: %s after the first user message is not supported; put the "
			       "system prompt first",
			       where, quote(json_object_get(m, "role"), b, sizeof b));
	if (role == ROLE_ASSISTANT && (v = json_object_get(m, "tool_calls")) &&
	    !is_noop(v, NOOP_EMPTY))
		return err_set(e, ERR_FORMAT, "%s.tool_calls is not supported (ponder serve has no "
			       "tool calls); leave it out", where);
	if ((rc = content_text(m, where, role == ROLE_ASSISTANT, &text, &len, e)))
		return rc;
	if (role == ROLE_SYSTEM)
		return add_system(r, slen, text, len, e);
	r->turns[r->n_turns++] = (struct chat_turn){
		.role = role == ROLE_USER ? CHAT_USER : CHAT_ASSISTANT,
		.text = text,
		.len = len,
	};
	*seen_user |= role == ROLE_USER;
	return 0;
}

static int get_messages(json_t *root, const struct oai_limits *lim,
			struct oai_chat_request *r, struct err *e)
{
	json_t *msgs = json_object_get(root, "messages"), *m;
	size_t n, i, slen = 0;
	bool seen_user = false;
	char b[96];
	int rc;
	if (!msgs)
		return err_set(e, ERR_FORMAT, "messages is missing; give the conversation as "
			       "[{\"role\": \"user\", \"content\": ...}]");
	if (!json_is_array(msgs))
		return err_set(e, ERR_FORMAT, "messages must be an array, got %s (%s)",
			       json_type_desc(msgs), json_repr(msgs, b, sizeof b));
	n = json_array_size(msgs);
	if (n == 0)
		return err_set(e, ERR_FORMAT, "messages is empty; give at least one user message");
	if (n > lim->max_messages)
		return err_set(e, ERR_FORMAT, "messages: %zu messages are more than the %zu accepted",
			       n, lim->max_messages);
	r->turns = calloc(n, sizeof *r->turns);
	if (!r->turns)
		return err_set(e, ERR_NOMEM, "messages: out of memory for %zu turns", n);
	json_array_foreach(msgs, i, m) {
		if ((rc = get_message(m, i, r, &slen, &seen_user, e)))
			return rc;
	}
	json_t *last = json_object_get(json_array_get(msgs, n - 1), "role");
	if (strcmp(json_string_value(last), "user"))
		return err_set(e, ERR_FORMAT,
			       "messages[%zu].role: the last message is %s, not 'user'; ponder serve "
			       "answers the user's last message",
			       n - 1, quote(last, b, sizeof b));
	return 0;
}

int oai_request_parse(const char *body, size_t len, const struct oai_limits *lim,
		      struct oai_chat_request *out, struct err *e)
{
	json_error_t je;
	json_t *root;
	int rc;
	memset(out, 0, sizeof *out);
	if (len > lim->max_body)
		return err_set(e, ERR_RANGE, "the request body is %zu bytes, over the limit of %zu",
			       len, lim->max_body);
	if (!depth_ok(body, len))
		return err_set(e, ERR_FORMAT,
			       "the body nests arrays and objects more than %d deep; a chat request "
			       "needs 4",
			       OAI_MAX_DEPTH);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return parse_error(body, len, &je, e);
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_FORMAT, "the body must be a JSON object {\"messages\": ...}, "
			     "got %s", json_type_desc(root));
		json_decref(root);
		return rc;
	}
	out->temperature = out->top_p = out->min_p = -1;
	out->top_k = -1;
	if (!(rc = check_refused(root, e)) && !(rc = get_top(root, out, e)) &&
	    !(rc = get_sampling(root, lim, out, e)))
		rc = get_messages(root, lim, out, e);
	json_decref(root);
	if (rc)
		oai_request_free(out);
	return rc;
}

void oai_request_free(struct oai_chat_request *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_turns; i++)
		free((char *)r->turns[i].text);
	free(r->turns);
	free(r->system);
	memset(r, 0, sizeof *r);
}
