/*
 * browser.h — the conversation browser (Ctrl-O): a sidebar listing saved conversations,
 * most recent first; typing searches questions, answers and reasoning (SQLite FTS5,
 * prefix match on the last word); Enter opens; d (with an empty search), Delete or
 * Ctrl-D deletes after a y/n confirmation.
 *
 * It reads the history through the app's library (app/chat_api.h): its own connection
 * to the chat's history file, opened at first use, so it may browse while the worker
 * thread writes the current reply through the chat's: a handle is never shared
 * between threads.
 */
#ifndef PONDER_UI_BROWSER_H
#define PONDER_UI_BROWSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/chat_api.h"

struct ui_browser {
	struct app_library *lib;
	char query[256];
	size_t qlen;
	struct app_conv *convs;          /* list mode (empty query) */
	size_t nconv;
	struct app_hit *hits;            /* search mode */
	size_t nhits;
	size_t sel, top;
	int64_t confirm_cid;             /* asking whether to delete this one */
	char msg[1024];
};

enum ui_browser_result {
	UI_BR_NONE,
	UI_BR_CLOSE,
	UI_BR_OPEN,    /* open *cid (scroll to message *mid when nonzero) */
	UI_BR_DELETED, /* *cid was deleted */
};

/* Opens the chat's library (first call) and loads the list. */
int ui_browser_open(struct ui_browser *b, const struct app_chat *chat, struct err *e);
/* Frees lists and the handle. */
void ui_browser_free(struct ui_browser *b);

/* Handles one key (keys.h codes). `protect_cid`: a conversation that may not be deleted
   now (being generated), 0 for none. */
enum ui_browser_result ui_browser_key(struct ui_browser *b, int key, int64_t protect_cid,
				      int64_t *cid, int64_t *mid);

/* Draws into a curses WINDOW of h x w. */
void ui_browser_draw(struct ui_browser *b, void *win, int h, int w, const unsigned long *attrs,
		     int64_t current_cid);

#endif
