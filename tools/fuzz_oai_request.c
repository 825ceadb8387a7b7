/*
 * fuzz_oai_request.c — libFuzzer harness for oai_request_parse (net/oai_request.c), the
 * body of POST /v1/chat/completions in `ponder serve`, and for the reply builders
 * (net/oai_reply.c) fed the same bytes as text.
 *
 * Small limits (4 KiB body, 16 messages, 1024 tokens) so that the fuzzer reaches them.
 * A refusal must be negative with a message, ERR_RANGE only for a body over the limit,
 * and leave the request empty. An accepted request must keep every promise the engine
 * relies on: at least one turn, the last the user's, every text NUL-terminated at its
 * length and valid UTF-8 without NUL, every number in its range. A reply built around
 * arbitrary bytes must still parse back as JSON. Any broken promise traps.
 *
 *   make build/fuzz/fuzz_oai_request && build/fuzz/fuzz_oai_request -max_total_time=60 CORPUS_DIR
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/oai_reply.h"
#include "net/oai_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct oai_limits lim = { 4096, 16, 1024 };

/* Whether s[0..len) is valid UTF-8 (no overlongs, surrogates or code points past
   U+10FFFF) without NUL, and s[len] is NUL. */
static int text_ok(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *)text;
	if (!text || s[len] != 0)
		return 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 2;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 3;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 4;
		else
			return 0;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
		i += n;
	}
	return 1;
}

static void check_request(const struct oai_chat_request *r)
{
	if (r->n_turns < 1 || r->n_turns > lim.max_messages || !r->turns ||
	    r->turns[r->n_turns - 1].role != CHAT_USER)
		__builtin_trap();
	for (size_t i = 0; i < r->n_turns; i++) {
		const struct chat_turn *t = &r->turns[i];
		if ((t->role != CHAT_USER && t->role != CHAT_ASSISTANT) || !text_ok(t->text, t->len))
			__builtin_trap();
	}
	if (r->system && !text_ok(r->system, strlen(r->system)))
		__builtin_trap();
	if (!memchr(r->model, 0, sizeof r->model) || !text_ok(r->model, strlen(r->model)))
		__builtin_trap();
	if (r->temperature != -1 && !(r->temperature >= 0 && r->temperature <= 2))
		__builtin_trap();
	if (r->top_p != -1 && !(r->top_p > 0 && r->top_p <= 1))
		__builtin_trap();
	if (r->min_p != -1 && !(r->min_p >= 0 && r->min_p <= 1))
		__builtin_trap();
	if (r->top_k < -1 || r->max_tokens < 0 || r->max_tokens > lim.max_tokens)
		__builtin_trap();
	if (r->seed_set && r->seed > INT64_MAX)
		__builtin_trap();
}

/* A chunk around the raw bytes must still be JSON. */
static void check_reply(const uint8_t *data, size_t size)
{
	struct oai_reply_ids ids = { "chatcmpl-fuzz", "m", 1 };
	struct oai_usage u = { 1, 2, -1, -1 };
	size_t half = size / 2;
	char *s = oai_reply_chunk(&ids, 1, (const char *)data, half, (const char *)data + half,
				  size - half, NULL, &u);
	if (!s)
		__builtin_trap();
	json_t *j = json_loads(s, JSON_ALLOW_NUL, NULL); /* a NUL byte is sent as \u0000 */
	if (!j)
		__builtin_trap();
	json_decref(j);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oai_chat_request r;
	struct err e = { 0 };
	int rc = oai_request_parse((const char *)data, size, &lim, &r, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0] || (rc == ERR_RANGE) != (size > lim.max_body))
			__builtin_trap();
		if (r.turns || r.n_turns || r.system)
			__builtin_trap();
	} else {
		check_request(&r);
	}
	oai_request_free(&r);
	if (size <= lim.max_body)
		check_reply(data, size);
	return 0;
}
