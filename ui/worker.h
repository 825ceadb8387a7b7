/*
 * worker.h — runs app_chat_ask on its own thread so the UI stays responsive while the
 * model generates.
 *
 * The chat's emit callback (worker thread) appends each piece to a mutex-protected
 * buffer per channel and wakes the UI by writing one byte to the UI's wake pipe (only
 * when no wake-up is already pending, so a fast stream costs one byte per UI frame, not
 * one per token). The UI thread drains the buffers (a swap under the lock: no copying
 * while holding it, no allocation once the buffers have grown) and draws at its own
 * pace.
 *
 * Threading contract: while ui_worker_busy() the chat belongs to the worker; the UI
 * touches it only through ui_worker_stop() (app_chat_stop is async-safe). Once drain
 * reports `finished`, the thread has been joined and the chat is the UI's again.
 */
#ifndef PONDER_UI_WORKER_H
#define PONDER_UI_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/chat_api.h"

struct ui_worker;

/* What happened since the last drain. Buffers belong to the worker and stay valid
   until the next ui_worker_drain. */
struct ui_worker_news {
	const char *reasoning, *answer; /* new text of each channel */
	size_t rlen, alen;
	int64_t reasoning_pieces, answer_pieces; /* totals so far (about one per token) */
	double t_start_ms;        /* when generation started (monotonic ms) */
	double t_first_ms;        /* first piece of any channel, 0 if none yet */
	double t_answer_ms;       /* first answer piece, 0 if none yet */
	bool finished;            /* the reply is complete (then rc, err, stats are set) */
	int rc;
	struct err err;
	struct app_reply_stats stats;
};

/* wake_fd: the write end of the UI's wake pipe (non-blocking). */
int ui_worker_new(struct app_chat *chat, int wake_fd, struct ui_worker **out, struct err *e);
/* Stops and joins a running generation, then frees. NULL is a no-op. */
void ui_worker_free(struct ui_worker *w);

/* Starts generating the reply to text[0..len). ERR_USAGE when already busy. */
int ui_worker_start(struct ui_worker *w, const char *text, size_t len, struct err *e);
bool ui_worker_busy(const struct ui_worker *w);
/* Asks the generation to stop at the next token. */
void ui_worker_stop(struct ui_worker *w);
/* Moves the news into *n (see above). */
void ui_worker_drain(struct ui_worker *w, struct ui_worker_news *n);

/* Monotonic clock in milliseconds. */
double ui_now_ms(void);

#endif
