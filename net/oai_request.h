/*
 * oai_request.h — the body of POST /v1/chat/completions as `ponder serve` accepts it:
 * parsed with jansson and checked field by field, so that a hostile or mistaken request
 * gets a 400 that names what is wrong and never reaches the engine.
 *
 * Accepted: model (string), messages (array of {role, content}), stream, stream_options
 * {include_usage}, temperature [0, 2], top_p (0, 1], top_k (-1 or >= 0), min_p [0, 1],
 * seed (integer >= 0), max_tokens / max_completion_tokens (1..limit), n (only 1), user,
 * and fields that change nothing here (frequency_penalty and presence_penalty at 0,
 * logprobs false, stop absent or empty). Roles: system / developer (both the system
 * prompt; only before the first user message, several joined by a blank line), user,
 * assistant (its content; a reasoning_content field is ignored, as R1's template drops
 * past reasoning). content: a string, or an array of {"type": "text", "text": ...}
 * parts joined. The last message must be the user's. Anything else — unknown fields
 * that would change the reply (tools, response_format, logit_bias, ...), other roles,
 * image parts, wrong types, values out of range, non-UTF-8 or NUL in text (jansson
 * refuses both) — is refused with the field's name.
 */
#ifndef PONDER_NET_OAI_REQUEST_H
#define PONDER_NET_OAI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/chat_template.h" /* struct chat_turn, enum chat_role */

struct oai_limits {
	size_t max_body;          /* bytes of the request body */
	size_t max_messages;      /* entries of messages[] */
	int64_t max_tokens;       /* the largest max_tokens accepted (the context size) */
};

struct oai_chat_request {
	char model[256];          /* "" when not given */
	char *system;             /* the system prompt, or NULL */
	struct chat_turn *turns;  /* user and assistant turns, texts owned (NUL-terminated) */
	size_t n_turns;
	bool stream, include_usage;
	double temperature, top_p, min_p; /* -1: not given */
	int top_k;                /* -1: not given */
	bool seed_set;
	uint64_t seed;
	int64_t max_tokens;       /* 0: not given */
};

/* ERR_RANGE when the body is over max_body (413), ERR_FORMAT for everything else that
   is wrong (400); e says which field and why. out is left empty on failure. */
int oai_request_parse(const char *body, size_t len, const struct oai_limits *lim,
		      struct oai_chat_request *out, struct err *e);
void oai_request_free(struct oai_chat_request *r);

#endif
