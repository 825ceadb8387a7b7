/*
 * oai_reply.c — the JSON texts `ponder serve` answers with (oai_reply.h), in the shapes
 * OpenAI's API and vLLM send, so that any OpenAI client reads them unchanged.
 *
 * Built with jansson and dumped compact, UTF-8 kept as it is (no \u escapes for
 * non-ASCII). A reply must be valid JSON whatever the engine produced, so text that is
 * not valid UTF-8 is not an error here: each bad byte becomes U+FFFD. A NULL return
 * therefore means only that memory ran out. jansson's *_set_new and *_append_new take a
 * NULL value as a failure and release what they were given, so each builder chains its
 * calls and checks once at the end.
 */
#include "net/oai_reply.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_text.h"

/* A NUL-terminated string, or null when s is NULL. */
static json_t *jstr0(const char *s)
{
	return s ? json_text(s, strlen(s)) : json_null();
}

static int put(json_t *o, const char *key, json_t *v)
{
	return json_object_set_new(o, key, v) ? 1 : 0;
}

/* The dumped text of root (released), or NULL when building it failed. */
static char *dump(json_t *root, int bad)
{
	char *s = bad || !root ? NULL : json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

/* {"id", "object", "created", "model"}: the head of chunks and completions. */
static json_t *head(const struct oai_reply_ids *ids, const char *object, int *bad)
{
	json_t *o = json_object();
	*bad |= put(o, "id", jstr0(ids->id));
	*bad |= put(o, "object", json_string(object));
	*bad |= put(o, "created", json_integer(ids->created));
	*bad |= put(o, "model", jstr0(ids->model));
	return o;
}

static json_t *count(int64_t n)
{
	return json_integer(n > 0 ? n : 0);
}

/* usage; a detail the server did not count (< 0) is left out. */
static json_t *usage_json(const struct oai_usage *u)
{
	json_t *o = json_object(), *d;
	int bad = 0;
	int64_t p = u->prompt_tokens > 0 ? u->prompt_tokens : 0;
	int64_t c = u->completion_tokens > 0 ? u->completion_tokens : 0;
	bad |= put(o, "prompt_tokens", count(p));
	bad |= put(o, "completion_tokens", count(c));
	bad |= put(o, "total_tokens", count(p + c));
	if (u->reasoning_tokens >= 0) {
		d = json_object();
		bad |= put(d, "reasoning_tokens", count(u->reasoning_tokens));
		bad |= put(o, "completion_tokens_details", d);
	}
	if (u->cached_tokens >= 0) {
		d = json_object();
		bad |= put(d, "cached_tokens", count(u->cached_tokens));
		bad |= put(o, "prompt_tokens_details", d);
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* One choice: {"index": 0, body_key: body, "logprobs": null, "finish_reason": ...}. */
static json_t *choice(const char *body_key, json_t *body, const char *finish)
{
	json_t *ch = json_object();
	int bad = put(ch, "index", json_integer(0));
	bad |= put(ch, body_key, body);
	bad |= put(ch, "logprobs", json_null());
	bad |= put(ch, "finish_reason", jstr0(finish));
	if (bad) {
		json_decref(ch);
		return NULL;
	}
	return ch;
}

char *oai_reply_chunk(const struct oai_reply_ids *ids, int role_first, const char *reasoning,
		      size_t rlen, const char *content, size_t clen, const char *finish,
		      const struct oai_usage *usage)
{
	int bad = 0;
	json_t *root = head(ids, "chat.completion.chunk", &bad), *choices = json_array();
	if (!usage || reasoning || content || role_first || finish) {
		json_t *delta = json_object();
		if (role_first)
			bad |= put(delta, "role", json_string("assistant"));
		if (content)
			bad |= put(delta, "content", json_text(content, clen));
		if (reasoning)
			bad |= put(delta, "reasoning_content", json_text(reasoning, rlen));
		bad |= json_array_append_new(choices, choice("delta", delta, finish)) ? 1 : 0;
	}
	bad |= put(root, "choices", choices);
	if (usage)
		bad |= put(root, "usage", usage_json(usage));
	return dump(root, bad);
}

char *oai_reply_completion(const struct oai_reply_ids *ids, const char *reasoning, size_t rlen,
			   const char *content, size_t clen, const char *finish,
			   const struct oai_usage *usage)
{
	int bad = 0;
	json_t *root = head(ids, "chat.completion", &bad), *choices = json_array();
	json_t *msg = json_object();
	bad |= put(msg, "role", json_string("assistant"));
	bad |= put(msg, "content", content ? json_text(content, clen) : json_null());
	bad |= put(msg, "reasoning_content", reasoning ? json_text(reasoning, rlen) : json_null());
	bad |= json_array_append_new(choices, choice("message", msg, finish)) ? 1 : 0;
	bad |= put(root, "choices", choices);
	if (usage)
		bad |= put(root, "usage", usage_json(usage));
	return dump(root, bad);
}

char *oai_reply_error(const char *message, const char *type, const char *code)
{
	json_t *root = json_object(), *er = json_object();
	int bad = put(er, "message", jstr0(message ? message : ""));
	bad |= put(er, "type", jstr0(type));
	bad |= put(er, "param", json_null());
	bad |= put(er, "code", jstr0(code));
	bad |= put(root, "error", er);
	return dump(root, bad);
}

char *oai_reply_models(const char *model, int64_t created)
{
	json_t *root = json_object(), *data = json_array(), *m = json_object();
	int bad = put(m, "id", jstr0(model ? model : ""));
	bad |= put(m, "object", json_string("model"));
	bad |= put(m, "created", json_integer(created));
	bad |= put(m, "owned_by", json_string("ponder"));
	bad |= json_array_append_new(data, m) ? 1 : 0;
	bad |= put(root, "object", json_string("list"));
	bad |= put(root, "data", data);
	return dump(root, bad);
}
