/*
 * signals.h — SIGINT, SIGTERM and SIGHUP in pipe mode, handled by a thread of their own.
 *
 * The first signal asks the running chat to stop at the next token, and pipe mode then
 * ends as usual: the reply saved as interrupted, exit status 128 + the signal number.
 * A second signal, or the first when generation has not stopped within a grace period
 * (the engine is inside a long computation, or stuck), ends the process at once: the
 * reply generated so far is finished as interrupted in the history when the store can
 * be had within a short wait, a line on stderr says what happened, and the process
 * exits with 128 + the signal number. A handler that only set a flag could not do that
 * when the main thread never comes back to read the flag. A SIGHUP ignored when ponder
 * starts (`nohup ponder ...`) stays ignored.
 *
 * app_signals_start must run before any other thread is created (it blocks the signals
 * in the calling thread, and every thread created later inherits that mask).
 */
#ifndef PONDER_APP_SIGNALS_H
#define PONDER_APP_SIGNALS_H

#include "common/err.h"

struct app_chat;

/* Blocks the signals and starts the thread that waits for them. */
int app_signals_start(struct err *e);

/* The chat that a signal stops, or NULL between chats. */
void app_signals_watch(struct app_chat *c);

/* Stops the thread. The signals stay blocked (the process is about to exit); one that
   arrived since the thread's last look counts as received. */
void app_signals_stop(void);

/* The first signal received (SIGINT, SIGTERM, SIGHUP), or 0. The TUI, which handles
   signals itself, reports its own through app_signals_note. */
int app_signals_received(void);
void app_signals_note(int sig);

#endif
