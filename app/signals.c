/*
 * signals.c — the signal thread of pipe mode (see signals.h).
 *
 * Every thread blocks SIGINT, SIGTERM and SIGHUP; one thread takes them with
 * sigtimedwait, so what it does on a signal is ordinary code (it may lock, write to the
 * history store, print) instead of what a handler may do. It polls every 100 ms for the
 * grace period of a first signal and for app_signals_stop.
 */
#include "app/signals.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/chat.h"

/* How long generation may take to stop after a first signal before the process ends. */
#define GRACE_MS 2000
#define POLL_MS 100

static const int quit_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static sigset_t taken_set; /* quit_sigs less a SIGHUP ignored from the start (nohup) */

static pthread_t watcher;
static bool started;
static atomic_bool quitting;
static _Atomic(struct app_chat *) watched;
static atomic_int first_sig;

/* The signals to take. `nohup ponder ...` starts with SIGHUP ignored, and it stays so. */
static sigset_t quit_set(void)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof quit_sigs / sizeof *quit_sigs; i++) {
		struct sigaction old;
		if (quit_sigs[i] == SIGHUP && sigaction(SIGHUP, NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, quit_sigs[i]);
	}
	return set;
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Ends the process now: saves what can be saved and exits with 128 + sig. */
static void end_now(int sig, const char *why)
{
	struct app_chat *c = atomic_load(&watched);
	bool saved = c && app_chat_abandon(c, sig) == 0;
	char line[256];
	const char *name = sigabbrev_np(sig);
	int n = snprintf(line, sizeof line, "\nponder: %s (SIG%s); ending now%s\n", why,
			 name ? name : "?",
			 saved ? ", the reply so far is saved as interrupted" : "");
	if (n > 0) {
		ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n
									: sizeof line - 1);
		(void)w;
	}
	_exit(128 + sig);
}

static void *watch_main(void *arg)
{
	(void)arg;
	long long first_at = 0;
	while (!atomic_load(&quitting)) {
		struct timespec wait = {0, POLL_MS * 1000000L};
		int sig = sigtimedwait(&taken_set, NULL, &wait);
		if (atomic_load(&quitting))
			break;
		int first = atomic_load(&first_sig);
		if (sig > 0 && first) {
			end_now(sig, "a second signal");
		} else if (sig > 0) {
			atomic_store(&first_sig, sig);
			first_at = now_ms();
			struct app_chat *c = atomic_load(&watched);
			if (!c) /* loading, or between chats: nothing stops at a token */
				end_now(sig, "stopped");
			app_chat_stop(c);
		} else if (first && now_ms() - first_at > GRACE_MS) {
			end_now(first, "generation did not stop within 2 s of the signal");
		}
	}
	return NULL;
}

int app_signals_start(struct err *e)
{
	taken_set = quit_set();
	int rc = pthread_sigmask(SIG_BLOCK, &taken_set, NULL);
	if (rc == 0)
		rc = pthread_create(&watcher, NULL, watch_main, NULL);
	if (rc) {
		pthread_sigmask(SIG_UNBLOCK, &taken_set, NULL);
		return err_set(e, ERR_NOMEM, "cannot start the signal thread: %s", strerror(rc));
	}
	started = true;
	return 0;
}

void app_signals_watch(struct app_chat *c)
{
	atomic_store(&watched, c);
}

void app_signals_stop(void)
{
	if (!started)
		return;
	atomic_store(&quitting, true);
	pthread_join(watcher, NULL);
	started = false;
	atomic_store(&watched, NULL);
	/* A signal that arrived after the last poll stays pending (and blocked) until exit;
	   it was meant for this run, so it counts as received. */
	sigset_t pending;
	if (sigpending(&pending) == 0)
		for (size_t i = 0; i < sizeof quit_sigs / sizeof *quit_sigs; i++)
			if (sigismember(&taken_set, quit_sigs[i]) &&
			    sigismember(&pending, quit_sigs[i])) {
				int expected = 0;
				atomic_compare_exchange_strong(&first_sig, &expected, quit_sigs[i]);
			}
}

int app_signals_received(void)
{
	return atomic_load(&first_sig);
}

void app_signals_note(int sig)
{
	int expected = 0;
	atomic_compare_exchange_strong(&first_sig, &expected, sig);
}
