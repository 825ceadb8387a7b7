/*
 * oai_reply.h — the JSON `ponder serve` answers with, in the shapes OpenAI's API and
 * vLLM use: stream chunks (`chat.completion.chunk`, the reasoning in
 * delta.reasoning_content), the whole completion (`chat.completion`, reasoning in
 * message.reasoning_content), usage, errors and the model list. Each function returns a
 * compact JSON text to free(), or NULL when out of memory.
 */
#ifndef PONDER_NET_OAI_REPLY_H
#define PONDER_NET_OAI_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "net/oai_stream.h" /* struct oai_usage */

struct oai_reply_ids {
	const char *id;           /* "chatcmpl-..." */
	const char *model;
	int64_t created;          /* Unix seconds */
};

/* A chunk. role_first: delta carries "role": "assistant" (the first chunk). Either text
   may be NULL (left out). finish NULL: "finish_reason": null. usage NULL: no usage
   field; with usage and nothing else (no texts, no role, no finish), choices is [] (the
   include_usage chunk). Text that is not valid UTF-8 gets U+FFFD for each bad byte. */
char *oai_reply_chunk(const struct oai_reply_ids *ids, int role_first, const char *reasoning,
		      size_t rlen, const char *content, size_t clen, const char *finish,
		      const struct oai_usage *usage);
/* The non-streamed reply: message {role, content, reasoning_content} (a NULL text is
   null), finish_reason, usage (NULL: left out). */
char *oai_reply_completion(const struct oai_reply_ids *ids, const char *reasoning, size_t rlen,
			   const char *content, size_t clen, const char *finish,
			   const struct oai_usage *usage);
/* {"error": {"message", "type", "param": null, "code"}}; code may be NULL (null). */
char *oai_reply_error(const char *message, const char *type, const char *code);
/* GET /v1/models: one model. */
char *oai_reply_models(const char *model, int64_t created);

#endif
