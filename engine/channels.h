/*
 * channels.h — splits a model's generated tokens into its reasoning and its answer.
 *
 * DeepSeek reasoning models write `<think>` reasoning `</think>` answer. The splitter
 * sits between the sampled ids and the engine's emit callback: it decodes ids with a
 * detok_stream (so every emitted piece is complete UTF-8) and tags each piece with the
 * channel it belongs to. The markers themselves are never shown.
 *
 * Rules (docs/chat.md has the long version):
 * - Markers are recognised by token id when the tokenizer has them as added tokens
 *   (tok_added_id("<think>"), tok_added_id("</think>")), by text otherwise; each
 *   marker independently. A text marker may be split over any number of tokens: a
 *   possible marker prefix at the end of the text so far is held back until the next
 *   token decides it (never more than marker length - 1 bytes). "</thing>" is text.
 * - The stream starts in CH_REASONING when the prompt already opened the reasoning
 *   (the R1 generation prompt ends with "<think>\n"), else in CH_ANSWER.
 * - `</think>` switches to CH_ANSWER (from CH_ANSWER: the id is dropped, the text is
 *   ordinary text, since a text match is only looked for while reasoning).
 * - `<think>` at the start of the answer (nothing shown in it yet) opens CH_REASONING;
 *   at the start of the reasoning it is a repeat and is dropped. Anywhere else, the id is
 *   dropped and the text is ordinary text.
 * - Newlines (\n, \r) at the start of each channel segment are not shown: R1 writes
 *   "</think>\n\n" before its answer, and a repeated "<think>\n" before its reasoning.
 * - A reasoning that never closes stays in CH_REASONING to the end; a model that never
 *   writes `<think>` produces only CH_ANSWER.
 * - Special tokens (BOS, EOS) produce no text (see detok_stream.h).
 * - emit returning nonzero stops the splitter: that value is returned by this call and
 *   every later one, and nothing more is emitted.
 * - No allocation: all buffers are inside the struct.
 */
#ifndef PONDER_ENG_CHANNELS_H
#define PONDER_ENG_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/detok_stream.h"
#include "engine/tokenizer.h"

enum eng_channel { CH_REASONING = 1, CH_ANSWER = 2 };

/* The engine's text callback: channel is an enum eng_channel, utf8 is complete UTF-8
   (not NUL-terminated); returning nonzero stops generation cleanly. */
typedef int (*eng_emit_fn)(void *ud, int channel, const char *utf8, size_t len);

#define CHAN_MARK_MAX 8 /* strlen("</think>") */

struct chan_splitter {
	struct detok_stream dt;
	eng_emit_fn emit;
	void *ud;
	int32_t open_id, close_id; /* <think>, </think>; -1: matched by text */
	int channel;               /* enum eng_channel */
	bool fresh;                /* nothing shown yet in the current segment */
	int stop;                  /* emit's nonzero result, once it stopped us */
	size_t nhold;              /* possible text-marker prefix held back */
	char hold[CHAN_MARK_MAX];
	char work[CHAN_MARK_MAX + DETOK_CHUNK];
};

/* start_reasoning: the prompt ended inside an open <think> (chat_starts_in_reasoning). */
void chan_init(struct chan_splitter *s, const struct tok *tok, bool start_reasoning,
	       eng_emit_fn emit, void *ud);

/* Feeds one generated id. Returns 0 or emit's nonzero stop value. */
int chan_push(struct chan_splitter *s, int32_t id);

/* End of generation: emits held-back text and an unfinished character (as U+FFFD). */
int chan_flush(struct chan_splitter *s);

/* The channel the next text would go to. */
int chan_channel(const struct chan_splitter *s);

#endif
