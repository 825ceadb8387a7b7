/*
 * chat.h — the chat session shared by pipe mode and the TUI: the model, the engine
 * session (KV cache kept between turns), the conversation's turns, and saving every
 * turn to the history store as it streams.
 *
 * Saving follows history.h: the user's message is stored before generation starts, the
 * assistant's is created when it starts and updated while it streams (throttled there),
 * and finished as complete, interrupted or error. When the database cannot be used the
 * chat goes on without saving and app_chat_take_warning() says why, once.
 *
 * Threading: one thread drives a chat at a time (the TUI's worker while generating);
 * app_chat_stop() may be called from any thread or a signal handler.
 */
#ifndef PONDER_APP_CHAT_H
#define PONDER_APP_CHAT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/options.h"
#include "engine/session.h"
#include "history/history.h"
#include "net/oai_client.h"

struct app_text {
	char *s;
	size_t len, cap;
};

struct app_chat {
	const struct app_opts *opts;
	char model_dir[4096];
	char model_name[256];      /* shown in the status bar and stored with messages */
	bool is_demo;              /* the shipped demo model */
	struct eng_model *model;   /* NULL with a remote server */
	struct eng_session *sess;  /* NULL with a remote server */
	struct oai_client *remote; /* --remote: replies come from this server */
	struct kv_store *kv;       /* KV snapshots; NULL when off (--no-kv-cache) */
	struct gen_params params;  /* resolved from opts, generation_config.json and the
				      model family's defaults */
	char sampling[320];        /* those values and where each came from (--verbose) */
	bool mtp;                  /* MTP speculative decoding wanted (when the model has it) */
	bool seed_fixed;           /* params.sample.seed is the user's (else each reply draws
				      a new one) */

	struct hist_db *db;        /* NULL: not saving */
	int64_t cid;               /* 0: conversation not stored (yet) */
	char *system;              /* system prompt of this conversation, or NULL */
	struct chat_turn *turns;   /* user / assistant turns, texts owned */
	size_t n_turns, cap_turns;

	struct app_text reasoning, answer; /* the reply being generated */
	int64_t reply_mid;
	pthread_mutex_t save_mu;   /* held while the reply's texts change or are saved */
	volatile sig_atomic_t stop;
	char warning[1024];        /* pending message for the user; "" when none */
};

/* Loads the model (opts->model or the demo), or with opts->remote connects to that
   server (asking for its model list when no model is named), opens the history store unless --no-save
   and selects the conversation of -c / --cid (ERR_DB when it cannot be loaded). */
int app_chat_open(struct app_chat **out, const struct app_opts *o, struct err *e);
void app_chat_close(struct app_chat *c);

/* Starts a new, empty conversation (stored at its first message). */
void app_chat_new_conversation(struct app_chat *c);

/* Starts a new conversation (not stored) that already holds the system prompt (NULL:
   none) and turns[0..n): `ponder serve`'s requests carry their whole history. */
int app_chat_begin_with(struct app_chat *c, const char *system, const struct chat_turn *turns,
			size_t n, struct err *e);

/* Makes conversation `cid` the current one, its turns loaded from the store. */
int app_chat_load(struct app_chat *c, int64_t cid, struct err *e);

/*
 * Sends `text` as the user's turn and streams the reply: emit (may be NULL) receives
 * each piece with its channel as eng_chat gives it; returning nonzero, or
 * app_chat_stop(), ends generation and the reply is kept as interrupted. The reply's
 * full texts stay in c->reasoning / c->answer until the next send. Then, with KV
 * snapshots on and history saved, the conversation's cache is settled and written as a
 * snapshot on a background thread (eng_session_settle); the next send waits for it.
 */
int app_chat_send(struct app_chat *c, const char *text, size_t len, eng_emit_fn emit,
		  void *ud, struct gen_stats *st, struct err *e);

/* Waits until the snapshot of the last reply is written (app_chat_send writes it in the
   background), moving any note about it into the pending warning. */
void app_chat_settle(struct app_chat *c);

/* Asks the running generation to stop at the next token (async-signal-safe). */
void app_chat_stop(struct app_chat *c);

/*
 * For a process about to end while another thread is still inside app_chat_send (a
 * second signal, or an engine that did not stop): finishes the reply in the history as
 * interrupted with the text generated so far. Waits at most 500 ms for the texts, and
 * keeps them locked afterwards so the stuck thread cannot change them. 0 when saved.
 */
int app_chat_abandon(struct app_chat *c, int sig);

/*
 * After app_chat_send: NULL when the reply ended on its own (st->finish FINISH_STOP) or
 * was interrupted; when it stopped at the token limit (FINISH_LENGTH: --max-tokens, or
 * the context full), the sentence that says so, e.g. "stopped at --max-tokens 50; the
 * answer is cut short", written into buf. The reply is stored with status "length".
 */
const char *app_chat_cut_short(const struct app_chat *c, const struct gen_stats *st, char *buf,
			       size_t size);

/* A pending warning for the user (database unusable, unknown chat template, ...), or
   NULL; each is returned once. */
const char *app_chat_take_warning(struct app_chat *c);

#endif
