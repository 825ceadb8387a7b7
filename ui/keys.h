/*
 * keys.h — the key table: one list of every key the TUI knows, used both to dispatch
 * keys and to write the help screen (so the two cannot disagree).
 *
 * Key codes are ints: a Unicode character (control keys are their ASCII codes, e.g.
 * UI_CTRL('t') == 20), UI_KEY_FN | a curses KEY_* code for function and cursor keys, or
 * UI_KEY_ALT | a character for Alt/Meta chords (ESC followed at once by the key).
 * Line-editing keys are libedit's; their rows (context UI_CTX_DOC) only document them.
 */
#ifndef PONDER_UI_KEYS_H
#define PONDER_UI_KEYS_H

#include <stddef.h>

#define UI_KEY_FN 0x40000000
#define UI_KEY_ALT 0x20000000
#define UI_CTRL(c) ((c) & 0x1f)

enum ui_action {
	UI_ACT_NONE,
	UI_ACT_SEND,       /* send the input line */
	UI_ACT_NEWLINE,    /* insert a newline into the input */
	UI_ACT_FOCUS,      /* next focus: input, answer, reasoning */
	UI_ACT_LINE_UP,
	UI_ACT_LINE_DOWN,
	UI_ACT_PAGE_UP,
	UI_ACT_PAGE_DOWN,
	UI_ACT_TOP,
	UI_ACT_BOTTOM,     /* back to the newest text (follow) */
	UI_ACT_FOLD,       /* fold / unfold the reasoning */
	UI_ACT_STOP,       /* stop generation; twice while idle: quit */
	UI_ACT_NEW,        /* new conversation */
	UI_ACT_BROWSER,    /* conversation browser */
	UI_ACT_QUIT,
	UI_ACT_HELP,
	UI_ACT_LAYOUT,     /* side by side <-> stacked */
	UI_ACT_SPLIT_LESS, /* smaller reasoning pane */
	UI_ACT_SPLIT_MORE, /* larger reasoning pane */
	UI_ACT_REDRAW,
	UI_ACT_EDIT,       /* libedit's (help screen only) */
};

/* Where a key acts. */
enum {
	UI_CTX_DOC = 0,   /* documentation only */
	UI_CTX_INPUT = 1, /* the input line has the focus */
	UI_CTX_PANE = 2,  /* a pane has the focus */
	UI_CTX_ALL = 3,
};

struct ui_key {
	int key;
	unsigned ctx;
	enum ui_action act;
	const char *name; /* as the help screen shows it; NULL: same row as the previous */
	const char *help;
};

/* Terminated by an entry whose act is UI_ACT_NONE. */
extern const struct ui_key ui_keys[];

/* The action of `key` in context `ctx` (UI_CTX_INPUT or UI_CTX_PANE), or UI_ACT_NONE. */
enum ui_action ui_key_action(int key, unsigned ctx);

/* The help screen: one line per documented key ("  Ctrl-T      fold ..."), '\n'
   separated, key names padded to `name_cols` columns. Returns the length it needed
   (like snprintf). */
size_t ui_help_text(char *buf, size_t size, int name_cols);

#endif
