/*
 * input.h — the input line: libedit does the editing (emacs keys, history with Up/Down
 * and incremental search, kill and yank), ncurses draws it.
 *
 * How the two meet (docs/tui.md has the long version): libedit runs in unbuffered mode
 * with its character source replaced (EL_GETCFN) by the UI's event loop, so every
 * key reaches libedit only after the UI had its chance at it, and libedit never blocks
 * the screen. libedit's own output goes to /dev/null and its terminal is a private
 * pseudo-terminal, so it can never write to or change the modes of the real terminal;
 * the UI draws el_wline()'s buffer and cursor itself. (Without a pty, libedit gets the
 * real terminal and ncurses' modes are put back after each libedit mode change.)
 *
 * Keys the UI passes to libedit are libedit's own emacs keys: the UI translates cursor
 * keys (Left -> ^B, Up -> ^P, Home -> ^A, ...) and sends UI_IN_NEWLINE for Alt-Enter and
 * pasted newlines, which is bound to a function inserting '\n'. Enter (^M) is bound to
 * a function that ends the line.
 */
#ifndef PONDER_UI_INPUT_H
#define PONDER_UI_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#include "common/err.h"

/* The character the UI sends to insert a newline (bound inside libedit). */
#define UI_IN_NEWLINE 0x1c

/* The UI's event loop: returns 1 with the next character for libedit in *wc, or 0 to
   make the current ui_input_step return (quitting). */
typedef int (*ui_getc_fn)(void *ud, wchar_t *wc);

struct ui_input;

/* history_path: the file for the input history ("" or NULL: none). */
int ui_input_open(struct ui_input **out, const char *history_path, ui_getc_fn fn, void *ud,
		  struct err *e);
/* Saves the history and frees. NULL is a no-op. */
void ui_input_close(struct ui_input *in);

/* Runs libedit for one editing command. Returns 1 when Enter ended the line (its UTF-8
   text in *line, valid until the next call; the line stays in the editor until
   ui_input_accept or ui_input_clear), else 0. */
int ui_input_step(struct ui_input *in, const char **line, size_t *len);
/* Adds the line to the history (saved at once) and empties the editor. */
void ui_input_accept(struct ui_input *in, const char *line);
/* Empties the editor. */
void ui_input_clear(struct ui_input *in);
/* Whether the line is empty. */
bool ui_input_empty(struct ui_input *in);

/* Rows the text needs at `width` columns, prompt included (>= 1). */
int ui_input_rows(struct ui_input *in, int width);
/* Draws the text into rows y0 .. y0+height-1 of a curses WINDOW; returns the cursor's
   place in *cy, *cx. prompt_attr / text_attr are curses attributes. */
void ui_input_draw(struct ui_input *in, void *win, int y0, int height, int width,
		   unsigned long prompt_attr, unsigned long text_attr, int *cy, int *cx);

#endif
