/*
 * session.h — a chat with a model: tokenizer, chat template, one sequence whose KV
 * cache is kept between turns, sampling, and the split of the output into reasoning and
 * answer. This is the engine contract app/ uses for conversations (eng_chat).
 *
 * Each eng_chat call renders the whole conversation, reuses the longest common token
 * prefix already in the cache (R1 templates drop past reasoning, so reuse stops where
 * the previous answer began), prefills the rest and streams the reply through emit.
 */
#ifndef PONDER_ENG_SESSION_H
#define PONDER_ENG_SESSION_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/channels.h"
#include "engine/chat_template.h"
#include "engine/engine.h"
#include "engine/kv_store.h"
#include "engine/sampler.h"

struct gen_params {
	struct sample_params sample;
	int64_t max_tokens; /* <= 0: until the context is full */
	bool think_off;     /* R1 templates: close the reasoning in the prompt */
	const volatile sig_atomic_t *stop; /* nonzero ends the prefill early (NULL: none) */
};

enum gen_finish { FINISH_STOP, FINISH_LENGTH, FINISH_INTERRUPTED, FINISH_ERROR };

struct gen_stats {
	enum gen_finish finish;
	int64_t prompt_tokens;    /* the rendered prompt */
	int64_t reused_tokens;    /* of those, found in the cache (in memory or a snapshot) */
	int64_t snapshot_tokens;  /* of those, loaded from a KV snapshot this call */
	int64_t prefill_tokens;   /* of those, computed (prompt - reused) */
	int64_t reasoning_tokens; /* generated while in the reasoning channel */
	int64_t answer_tokens;    /* generated in the answer channel */
	double prefill_ms, decode_ms;
	double ttft_ms;           /* call start to the first generated token */
	double think_ms;          /* first token to the end of the reasoning */
	double prefill_tps, decode_tps;
	int64_t mtp_drafted, mtp_accepted; /* speculative decoding (0 when off) */
};

struct eng_session;

/* The model's tokenizer.json and tokenizer_config.json are read from its directory;
   ctx is the sequence's context (<= 0: min(model maximum, 8192)). With mtp, and a model
   opened with its MTP module, replies use speculative decoding (see eng_chat). */
int eng_session_new(struct eng_model *m, int64_t ctx, bool mtp, struct eng_session **out,
		    struct err *e);
bool eng_session_mtp(const struct eng_session *s);

/* Turns speculative decoding off or back on between replies. On needs the MTP module
   to have been loaded with the model and the session created with mtp (ERR_UNSUPPORTED
   otherwise). Off keeps the module's cache up to date, so on works again later. */
int eng_session_set_mtp(struct eng_session *s, bool on, struct err *e);
void eng_session_free(struct eng_session *s);

const struct chat_template *eng_session_template(const struct eng_session *s);
const struct tok *eng_session_tokenizer(const struct eng_session *s);
size_t eng_session_ctx(const struct eng_session *s);

/* Tokens of the conversation as it would be prompted (for --json usage figures and
   context checks before generating). */
int eng_session_count_prompt(struct eng_session *s, const struct chat_turn *turns, size_t n,
			     const struct gen_params *p, int64_t *count, struct err *e);

/*
 * KV snapshots (engine/kv_store.h). With a store, eng_chat loads the longest snapshot
 * that begins its prompt when that is longer than what the cache holds, and
 * eng_session_settle writes one when `write` is set. NULL turns them off. The store
 * stays the caller's and must outlive the session's use of it.
 */
void eng_session_set_kv_store(struct eng_session *s, struct kv_store *ks, bool write);

/*
 * After a reply: brings the cache to the conversation as the next prompt will render it
 * (turns[0..n) end with the reply as an assistant turn; R1 drops its reasoning, so the
 * answer is prefilled) and writes it as a snapshot labelled `label`. With background,
 * this runs on a thread of its own and the next call that uses the sequence waits for
 * it. A reply stopped by p->stop is not settled. Does nothing without a writable store.
 */
void eng_session_settle(struct eng_session *s, const struct chat_turn *turns, size_t n,
			const struct gen_params *p, const char *label, bool background);

/* Asks a running settle to stop prefilling at the next chunk and save the cache as far
   as it got (async-signal-safe). eng_session_free does this before waiting for it, so
   that quitting is quick; a settle that is only writing finishes its file. */
void eng_session_cancel_settle(struct eng_session *s);

/* Waits for a background settle. Then, a note about snapshots for the user (a damaged
   one removed, one that could not be written), or NULL; each is returned once. */
const char *eng_session_kv_note(struct eng_session *s);

/*
 * Generates the assistant's reply to turns[0..n). With MTP the main model verifies one
 * drafted token per pass; the tokens chosen are the ones plain decoding would choose.
 * Text reaches emit as soon as it is
 * complete UTF-8, tagged CH_REASONING or CH_ANSWER; emit returning nonzero stops
 * cleanly (finish = FINISH_INTERRUPTED), and so does p->stop set during the prefill
 * (checked between chunks; nothing is generated then). Returns ERR_CONTEXT, before generating, when
 * the prompt plus max_tokens cannot fit; the message names the numbers.
 */
int eng_chat(struct eng_session *s, const struct chat_turn *turns, size_t n,
	     const struct gen_params *p, eng_emit_fn emit, void *ud, struct gen_stats *st,
	     struct err *e);

#endif
