/*
 * oai_stream.c — reads chat.completion.chunk objects into channel text (rules in
 * oai_stream.h).
 *
 * Each event's data is decoded whole with jansson, which rejects invalid UTF-8 and (with
 * no JSON_ALLOW_NUL) "\u0000", so every string handed on is complete, NUL-free UTF-8.
 *
 * The <think> tag splitter works like engine/channels.c's text-marker path: the held
 * tag prefix (at most 7 bytes) and the next slice of content are put together in a
 * fixed buffer and scanned once. A held prefix always starts with '<' and no proper
 * prefix of either tag holds another '<', so a tag can only start at its first byte,
 * and cutting there never splits a UTF-8 character.
 */
#include "net/oai_stream.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/marker.h"

static const char tag_open[] = "<think>";
static const char tag_close[] = "</think>";
#define OPEN_LEN (sizeof tag_open - 1)
#define CLOSE_LEN (sizeof tag_close - 1)
#define SLICE 4096

_Static_assert(CLOSE_LEN <= sizeof((struct oai_stream *)0)->hold,
	       "hold buffer too small for </think>");

void oai_stream_init(struct oai_stream *s, eng_emit_fn emit, void *ud)
{
	memset(s, 0, sizeof *s);
	s->emit = emit;
	s->ud = ud;
	s->usage.prompt_tokens = s->usage.completion_tokens = -1;
	s->usage.reasoning_tokens = s->usage.cached_tokens = -1;
	s->channel = CH_ANSWER;
	for (size_t i = 0; i < sizeof s->fresh / sizeof s->fresh[0]; i++)
		s->fresh[i] = true;
}

/* ---- text out ---- */

/* Passes text on to channel ch, without the newlines that would start a segment. */
static int show(struct oai_stream *s, int ch, const char *p, size_t n)
{
	if (s->fresh[ch]) {
		while (n > 0 && (*p == '\n' || *p == '\r')) {
			p++;
			n--;
		}
	}
	if (n == 0)
		return 0;
	s->fresh[ch] = false;
	if (ch == CH_ANSWER)
		s->answer_shown = true;
	s->pieces++;
	int rc = s->emit(s->ud, ch, p, n);
	if (rc)
		s->stop = rc;
	return rc;
}

static void hold(struct oai_stream *s, const char *p, size_t n)
{
	memmove(s->hold, p, n);
	s->nhold = n;
}

/* Scans w[0..n) (held prefix + new content) for the tags. */
static int scan(struct oai_stream *s, const char *w, size_t n)
{
	size_t pos = 0;
	int rc;
	while (pos < n) {
		if (s->channel == CH_ANSWER && !s->answer_shown) {
			while (pos < n && (w[pos] == '\n' || w[pos] == '\r'))
				pos++;
			if (pos == n)
				return 0;
			int m = marker_match(w + pos, n - pos, tag_open, OPEN_LEN);
			if (m == 2) {
				pos += OPEN_LEN;
				s->channel = CH_REASONING;
				continue;
			}
			if (m == 1) {
				hold(s, w + pos, n - pos);
				return 0;
			}
		}
		/* Reasoning: </think> closes it. Answer: a stray </think> is dropped. */
		const char *hit = memmem(w + pos, n - pos, tag_close, CLOSE_LEN);
		if (hit) {
			size_t at = (size_t)(hit - w);
			if ((rc = show(s, s->channel, w + pos, at - pos)))
				return rc;
			pos = at + CLOSE_LEN;
			s->channel = CH_ANSWER;
			continue;
		}
		size_t keep = marker_tail(w + pos, n - pos, tag_close, CLOSE_LEN);
		if ((rc = show(s, s->channel, w + pos, n - pos - keep)))
			return rc;
		hold(s, w + n - keep, keep);
		return 0;
	}
	return 0;
}

/* Held-back text is decided to be text of the channel it was read in. */
static int release(struct oai_stream *s)
{
	char w[sizeof s->hold];
	size_t n = s->nhold;
	memcpy(w, s->hold, n);
	s->nhold = 0;
	return show(s, s->channel, w, n);
}

static int content(struct oai_stream *s, const char *p, size_t n)
{
	if (s->reasoning_field)
		return show(s, CH_ANSWER, p, n);
	char w[sizeof s->hold + SLICE];
	while (n > 0) {
		size_t take = n;
		if (take > SLICE) {
			/* cut at a character start, so each slice is whole UTF-8 */
			take = SLICE;
			while (take > 0 && ((unsigned char)p[take] & 0xC0) == 0x80)
				take--;
			if (take == 0)
				take = SLICE;
		}
		size_t held = s->nhold;
		memcpy(w, s->hold, held);
		memcpy(w + held, p, take);
		s->nhold = 0;
		int rc = scan(s, w, held + take);
		if (rc)
			return rc;
		p += take;
		n -= take;
	}
	return 0;
}

static int reasoning(struct oai_stream *s, const char *p, size_t n)
{
	if (!s->reasoning_field) {
		/* From now on content is all answer; what was held is text where it was. */
		int rc = release(s);
		if (rc)
			return rc;
		s->reasoning_field = true;
		s->channel = CH_ANSWER;
	}
	return show(s, CH_REASONING, p, n);
}

/* ---- chunk fields ---- */

/* Copies a JSON string into dst, cut at a character start, control characters (which
   only a hostile server sends in these fields) made spaces so the text stays one line. */
static void copy_text(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
	}
	dst[n] = '\0';
}

static void copy_field(char *dst, size_t cap, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_string(v))
		copy_text(dst, cap, json_string_value(v), json_string_length(v));
}

static void take_int(int64_t *dst, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	if (json_is_integer(v))
		*dst = (int64_t)json_integer_value(v);
}

static void take_usage(struct oai_usage *u, json_t *usage)
{
	if (!json_is_object(usage))
		return; /* absent, or null in every chunk but the last (SGLang) */
	take_int(&u->prompt_tokens, usage, "prompt_tokens");
	take_int(&u->completion_tokens, usage, "completion_tokens");
	take_int(&u->reasoning_tokens, json_object_get(usage, "completion_tokens_details"),
		 "reasoning_tokens");
	take_int(&u->cached_tokens, json_object_get(usage, "prompt_tokens_details"),
		 "cached_tokens");
}

/* A string field of the delta, or NULL when absent, null or empty. */
static const char *delta_text(json_t *delta, const char *key, size_t *n)
{
	json_t *v = json_object_get(delta, key);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return NULL;
	*n = json_string_length(v);
	return json_string_value(v);
}

static int take_choice(struct oai_stream *s, json_t *choice)
{
	copy_field(s->finish, sizeof s->finish, choice, "finish_reason");
	json_t *delta = json_object_get(choice, "delta");
	if (!json_is_object(delta))
		return 0;
	size_t n = 0;
	/* One of the two: a server in transition may send the same text in both. */
	const char *r = delta_text(delta, "reasoning_content", &n);
	if (!r)
		r = delta_text(delta, "reasoning", &n);
	int rc;
	if (r && (rc = reasoning(s, r, n)))
		return rc;
	const char *c = delta_text(delta, "content", &n);
	if (c && (rc = content(s, c, n)))
		return rc;
	return 0;
}

/* {"error": {"message": ...}} (OpenAI), {"error": "..."} or {"object": "error",
   "message": ...} (vLLM): ERR_REMOTE with the server's message. */
static int take_error(struct oai_stream *s, json_t *root, struct err *e)
{
	json_t *err = json_object_get(root, "error");
	json_t *msg = NULL;
	if (json_is_object(err))
		msg = json_object_get(err, "message");
	else if (json_is_string(err))
		msg = err;
	else if (err && !json_is_null(err))
		msg = NULL;
	else if (json_is_string(json_object_get(root, "object")) &&
		 !strcmp(json_string_value(json_object_get(root, "object")), "error"))
		msg = json_object_get(root, "message");
	else
		return 0;
	if (json_is_string(msg) && json_string_length(msg) > 0)
		copy_text(s->error, sizeof s->error, json_string_value(msg),
			  json_string_length(msg));
	else
		snprintf(s->error, sizeof s->error, "(no message given)");
	return err_set(e, ERR_REMOTE, "the server reported an error: %s", s->error);
}

/* At most max bytes of src as one safe line: bytes outside printable ASCII as \xNN (the
   data may be anything, and jansson's message quotes the offending token raw). */
static void visible(char *out, size_t cap, const char *src, size_t len, size_t max)
{
	size_t k = 0, i;
	for (i = 0; i < len && i < max && k + 5 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c >= 0x20 && c < 0x7F)
			out[k++] = (char)c;
		else
			k += (size_t)snprintf(out + k, cap - k, "\\x%02X", c);
	}
	if (i < len && k + 4 < cap) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

static bool is_done(const char *data, size_t len)
{
	while (len > 0 && (*data == ' ' || *data == '\t' || *data == '\r' || *data == '\n')) {
		data++;
		len--;
	}
	while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t' ||
			   data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	return len == 6 && memcmp(data, "[DONE]", 6) == 0;
}

int oai_stream_data(struct oai_stream *s, const char *data, size_t len, struct err *e)
{
	if (s->stop)
		return s->stop;
	if (is_done(data, len)) {
		s->done = true;
		return 0;
	}
	char q[80 * 4 + 8];
	json_error_t je;
	json_t *root = json_loadb(data, len, JSON_DECODE_ANY, &je);
	if (!root) {
		char why[sizeof je.text];
		visible(why, sizeof why, je.text, strlen(je.text), 80);
		visible(q, sizeof q, data, len, 80);
		return err_set(e, ERR_FORMAT,
			       "the server sent a stream event that is not JSON (%s): \"%s\"; is "
			       "--remote an OpenAI-compatible /v1 endpoint?", why, q);
	}
	int rc = 0;
	if (!json_is_object(root)) {
		visible(q, sizeof q, data, len, 80);
		rc = err_set(e, ERR_FORMAT,
			     "the server sent a stream event that is not a JSON object: \"%s\"; is "
			     "--remote an OpenAI-compatible /v1 endpoint?", q);
		goto out;
	}
	if ((rc = take_error(s, root, e)))
		goto out;
	copy_field(s->model, sizeof s->model, root, "model");
	copy_field(s->id, sizeof s->id, root, "id");
	take_usage(&s->usage, json_object_get(root, "usage"));
	json_t *choices = json_object_get(root, "choices");
	if (json_is_array(choices) && json_array_size(choices) > 0)
		rc = take_choice(s, json_array_get(choices, 0));
out:
	json_decref(root);
	return rc;
}

int oai_stream_end(struct oai_stream *s)
{
	if (s->stop)
		return s->stop;
	return release(s);
}
