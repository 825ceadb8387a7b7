/*
 * ui_int.h — the TUI's state, shared by its files: ui.c (setup, event loop, keys),
 * screen.c (windows and drawing), turns.c (questions, streaming, loading past
 * conversations) and slash_exec.c (slash commands). Nothing outside ui/ includes it.
 *
 * Threading: all of this belongs to the UI thread. The chat is lent to the worker while
 * `generating` (see worker.h) and must not be touched then, except to stop it.
 */
#ifndef PONDER_UI_INT_H
#define PONDER_UI_INT_H

#include <curses.h>
#include <stdbool.h>
#include <stdint.h>
#include <wchar.h>

#include "app/chat_api.h"
#include "ui/browser.h"
#include "ui/input.h"
#include "ui/layout.h"
#include "ui/pane.h"
#include "ui/theme.h"
#include "ui/worker.h"

enum ui_focus { UI_FOCUS_INPUT, UI_FOCUS_ANSWER, UI_FOCUS_REASONING };
enum ui_mode { UI_MODE_NORMAL, UI_MODE_HELP, UI_MODE_BROWSER };
enum { UI_PANE_REASONING, UI_PANE_ANSWER };

/* Curses key codes for the bracketed-paste markers (defined with define_key). */
#define UI_KEY_PASTE_BEGIN (KEY_MAX + 1)
#define UI_KEY_PASTE_END (KEY_MAX + 2)

/* At most this many redraws per second while text streams. */
#define UI_FPS 30

struct ui {
	const struct app_opts *opts;
	struct app_chat *chat;
	struct app_chat_info info; /* the chat's model and store; refreshed by /mtp */
	struct ui_worker *worker;
	struct ui_input *input;
	struct ui_browser browser;
	struct ui_pane panes[2];

	struct ui_theme theme;
	unsigned long attrs[UI_EL_COUNT];
	bool color;            /* colours allowed (not NO_COLOR without an explicit theme) */
	bool color_started;    /* start_color() was called */

	SCREEN *scr;
	WINDOW *w_keys;        /* 1x1, never drawn: keys are read here */
	WINDOW *w_pane[2], *w_sep, *w_input, *w_status, *w_browser, *w_help;
	struct ui_layout lay;
	struct ui_layout_in lay_in;
	bool side;
	int split;
	bool relayout;         /* windows must be rebuilt */
	bool dirty;            /* something to draw */
	double last_draw;

	bool welcome;          /* the answer pane holds notices only: the first question
				  clears them away */
	enum ui_focus focus;
	enum ui_mode mode;
	int help_top;

	int wake_r, wake_w;    /* self-pipe: worker news and signals */
	bool quit;
	int quit_signal;       /* a signal asked us to quit */

	/* The reply being generated. */
	bool generating, stopping;
	struct ui_block *live_reasoning, *live_answer;
	double gen_t0;         /* question sent (monotonic ms) */
	double gen_t1;         /* reply finished */
	int64_t live_tokens;
	double live_tps;
	struct app_reply_stats stats; /* of the last finished reply */
	bool have_stats;
	int64_t ctx_max;
	int64_t scroll_to_mid; /* after loading: show this message */

	double ctrlc_at;       /* last Ctrl-C while idle */
	char msg[256];         /* transient status message */
	double msg_until;

	wchar_t pending[8];    /* characters queued for libedit */
	int npending, ipending;
	bool pasting;
};

/* ui.c */
void ui_message(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_notice(struct ui *u, enum ui_block_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int ui_apply_theme_name(struct ui *u, const char *name, struct err *e);

/* screen.c */
void ui_screen_draw(struct ui *u);
void ui_screen_free_windows(struct ui *u);
int ui_pane_text_height(const struct ui *u, int which);

/* turns.c */
void ui_turn_send(struct ui *u, const char *text, size_t len);
void ui_turn_news(struct ui *u);
int ui_turn_load(struct ui *u, int64_t cid, struct err *e);
void ui_turn_clear(struct ui *u);
void ui_turn_fold(struct ui *u);

/* slash_exec.c: a submitted line that is a slash command; returns 1 when handled. */
int ui_command(struct ui *u, const char *line, size_t len);

#endif
