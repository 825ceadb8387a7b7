/*
 * ui.h — the terminal UI: reasoning and answer streaming side by side, an input line
 * edited by libedit, a conversation browser, themes. docs/tui.md describes it.
 *
 * ui_run takes over the terminal (stdin and stdout must both be one) until the user
 * quits, and gives it back as it found it, also on SIGTERM and on a crash. It loads the
 * model and opens the history through app/chat.h; errors before the screen starts
 * (model not found, bad option) return with `e` filled, like any command.
 */
#ifndef PONDER_UI_UI_H
#define PONDER_UI_UI_H

#include "app/options.h"

/* Returns 0 or a negative ERR_* code with e filled. */
int ui_run(const struct app_opts *o, struct err *e);

/* Whether --theme NAME loads (found and well-formed): ERR_USAGE with the reason if not.
   Every mode checks it, so a wrong name fails the same way with or without a screen. */
int ui_theme_check(const char *name, struct err *e);

#endif
