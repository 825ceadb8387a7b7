/*
 * oai_stream.h — the meaning of an OpenAI chat-completions stream: each SSE event's
 * data is a `chat.completion.chunk` object (or `[DONE]`), and its choices[0].delta
 * carries the reply's text.
 *
 * Reasoning arrives in one of two ways, and both end up in the reasoning channel:
 * - a field of its own: `reasoning_content` (vLLM and SGLang with a reasoning parser,
 *   DeepSeek's API) or `reasoning` (newer vLLM, OpenRouter);
 * - inside `content` between `<think>` and `</think>` (a server without a reasoning
 *   parser). The tags are recognised only while the stream has sent no reasoning field,
 *   may be split over any number of chunks (a possible tag prefix at the end of a piece
 *   is held back, at most 7 bytes, until the next piece decides it), and are never shown.
 *   `<think>` opens the reasoning when nothing of the answer has been shown yet;
 *   `</think>` closes it. A stray `</think>` while in the answer (a server whose template
 *   opened the reasoning in the prompt) is dropped, and the text before it stays answer:
 *   run such a server with its reasoning parser.
 * Newlines at the start of each channel's text are not shown (as engine/channels.h).
 * Text is passed on as the JSON decoder gives it: complete UTF-8.
 */
#ifndef PONDER_NET_OAI_STREAM_H
#define PONDER_NET_OAI_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/channels.h" /* eng_emit_fn, CH_REASONING, CH_ANSWER */

/* The server's usage figures; -1 where it did not report one. */
struct oai_usage {
	int64_t prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens;
};

struct oai_stream {
	eng_emit_fn emit;
	void *ud;
	bool done;               /* `[DONE]` arrived */
	char finish[32];         /* the last finish_reason given; "" none yet */
	char model[256];         /* the chunks' "model"; "" none */
	char id[128];            /* the chunks' "id"; "" none */
	struct oai_usage usage;
	char error[512];         /* an error object the server sent in the stream; "" none */
	int64_t pieces;          /* non-empty text deltas passed on */
	bool reasoning_field;    /* a reasoning field was seen: content is all answer */
	int channel;             /* where content text goes now (CH_ANSWER at start) */
	bool fresh[3];           /* per channel: nothing shown yet in its current segment */
	bool answer_shown;       /* some answer text was shown */
	char hold[8];            /* a possible tag prefix held back */
	size_t nhold;
	int stop;                /* emit's nonzero result, once it stopped us */
};

void oai_stream_init(struct oai_stream *s, eng_emit_fn emit, void *ud);
/*
 * One event's data (NUL-terminated at data[len]). Returns 0; emit's nonzero result (the
 * stream is stopped, and every later call returns it); ERR_FORMAT when the data is not
 * JSON or not a chunk (e says what, quoting at most 80 bytes of it); ERR_REMOTE when it
 * is an error object ({"error": {...}} or {"object": "error", ...}): e and s->error
 * carry the server's message.
 */
int oai_stream_data(struct oai_stream *s, const char *data, size_t len, struct err *e);
/* At the end of the stream: passes on any held-back text. Returns emit's result. */
int oai_stream_end(struct oai_stream *s);

#endif
