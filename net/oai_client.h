/*
 * oai_client.h — a chat through an OpenAI-compatible server (`--remote URL`): vLLM,
 * SGLang, DeepSeek's API, `ponder serve`. POST /v1/chat/completions with stream true;
 * the reply streams through the same emit callback as the in-process engine.
 *
 * Errors: each is ERR_REMOTE with one sentence a user can act on (the server's own
 * message quoted when it sent one): 401/403 (the API key, naming the variable it came
 * from), 404 (the model, listing what the server serves when it says), 429 (rate limit,
 * with Retry-After), 400 (the request; a context-length message maps to ERR_CONTEXT),
 * 5xx, malformed SSE or JSON, a stream that ends before its finish_reason or [DONE], and
 * the transport failures of http_stream.h. Text that arrived before an error has been
 * passed to emit already; the caller keeps it.
 */
#ifndef PONDER_NET_OAI_CLIENT_H
#define PONDER_NET_OAI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/session.h" /* struct chat_turn, struct gen_params, struct gen_stats */
#include "net/oai_stream.h"

struct oai_client_opts {
	const char *url;          /* base URL: http(s)://host[:port][/prefix]; a trailing
				     "/v1" or "/" is accepted and not doubled */
	const char *model;        /* NULL or "": the first model GET /v1/models lists */
	const char *key_env;      /* name of the environment variable with the API key, or
				     NULL / "" for none; the key itself is never stored */
	long connect_timeout_ms;  /* <= 0: 10 s */
	long idle_timeout_ms;     /* <= 0: 300 s (a reasoning model may think long before
				     its first token on a loaded server) */
};

struct oai_client;

/* Checks the URL (http/https only), reads the key from its variable (a named variable
   that is unset or empty is ERR_USAGE), and when no model is given asks the server for
   its models (so a wrong URL is reported here, before the first question). */
int oai_client_open(const struct oai_client_opts *o, struct oai_client **out, struct err *e);
void oai_client_close(struct oai_client *c);
/* The model name requests use (given, or the server's first). */
const char *oai_client_model(const struct oai_client *c);

/*
 * Streams the assistant's reply to turns[0..n) (system, user and assistant turns; the
 * assistant turns hold answers only). Sampling: temperature and top_p when >= 0
 * (negative: not set, the server's default applies), the seed always, max_tokens when
 * > 0, top_k and min_p when > 0 (vLLM and SGLang take them, others ignore them).
 * think_off is not sent (no standard field).
 * p->stop cancels. st: finish from finish_reason (stop → FINISH_STOP, length →
 * FINISH_LENGTH; a stop or emit's nonzero → FINISH_INTERRUPTED); prompt_tokens from the
 * server's usage (-1 when it sent none); reasoning_tokens from its
 * completion_tokens_details.reasoning_tokens and answer_tokens = completion_tokens minus
 * those (both -1 when not reported: they are never guessed from the text); reused_tokens
 * from prompt_tokens_details.cached_tokens (0 when not reported); ttft_ms measured here
 * (request start to the first text); decode_tps = completion tokens / seconds after the
 * first text (0 when not reported); prefill_tps 0.
 * Returns 0 (also when interrupted), ERR_REMOTE / ERR_CONTEXT / ERR_NOMEM.
 */
int oai_client_chat(struct oai_client *c, const struct chat_turn *turns, size_t n,
		    const struct gen_params *p, eng_emit_fn emit, void *ud, struct gen_stats *st,
		    struct err *e);

#endif
