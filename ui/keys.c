/*
 * keys.c — the key table (see keys.h). Order is the help screen's order.
 */
#include "ui/keys.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

#define FN(k) (UI_KEY_FN | (k))
#define ALT(c) (UI_KEY_ALT | (c))

const struct ui_key ui_keys[] = {
	{'\r', UI_CTX_INPUT, UI_ACT_SEND, "Enter", "send the question (or /command)"},
	{FN(KEY_ENTER), UI_CTX_INPUT, UI_ACT_SEND, NULL, NULL},
	{ALT('\r'), UI_CTX_INPUT, UI_ACT_NEWLINE, "Alt-Enter/Ctrl-J", "new line in the "
	 "question (pasted newlines are kept)"},
	{ALT('\n'), UI_CTX_INPUT, UI_ACT_NEWLINE, NULL, NULL},
	{'\n', UI_CTX_INPUT, UI_ACT_NEWLINE, NULL, NULL},
	{'\t', UI_CTX_ALL, UI_ACT_FOCUS, "Tab", "focus: input, answer pane, reasoning pane"},
	{FN(KEY_PPAGE), UI_CTX_ALL, UI_ACT_PAGE_UP, "PgUp/PgDn", "scroll the focused pane "
	 "(the answer pane while typing)"},
	{FN(KEY_NPAGE), UI_CTX_ALL, UI_ACT_PAGE_DOWN, NULL, NULL},
	{FN(KEY_UP), UI_CTX_PANE, UI_ACT_LINE_UP, "Up/Down", "scroll one line (pane focus); "
	 "input history (input focus)"},
	{FN(KEY_DOWN), UI_CTX_PANE, UI_ACT_LINE_DOWN, NULL, NULL},
	{FN(KEY_HOME), UI_CTX_PANE, UI_ACT_TOP, "Home/End", "top / newest text of the pane "
	 "(while typing: start / end of line)"},
	{FN(KEY_END), UI_CTX_PANE, UI_ACT_BOTTOM, NULL, NULL},
	{UI_CTRL('t'), UI_CTX_ALL, UI_ACT_FOLD, "Ctrl-T", "fold / unfold the reasoning"},
	{UI_CTRL('c'), UI_CTX_ALL, UI_ACT_STOP, "Ctrl-C", "stop generating (keeps the partial "
	 "answer); twice while idle: quit"},
	{UI_CTRL('n'), UI_CTX_ALL, UI_ACT_NEW, "Ctrl-N", "new conversation"},
	{UI_CTRL('o'), UI_CTX_ALL, UI_ACT_BROWSER, "Ctrl-O", "conversations: type to search, "
	 "Enter opens, d (or Delete) deletes"},
	{FN(KEY_F(1)), UI_CTX_ALL, UI_ACT_HELP, "F1 or ?", "this help (? with an empty input "
	 "line or a pane focused)"},
	{'?', UI_CTX_PANE, UI_ACT_HELP, NULL, NULL},
	{FN(KEY_F(2)), UI_CTX_ALL, UI_ACT_LAYOUT, "F2", "panes side by side / stacked"},
	{FN(KEY_F(3)), UI_CTX_ALL, UI_ACT_SPLIT_LESS, "F3/F4", "smaller / larger reasoning "
	 "pane"},
	{FN(KEY_F(4)), UI_CTX_ALL, UI_ACT_SPLIT_MORE, NULL, NULL},
	{UI_CTRL('l'), UI_CTX_ALL, UI_ACT_REDRAW, "Ctrl-L", "redraw the screen"},
	{UI_CTRL('q'), UI_CTX_ALL, UI_ACT_QUIT, "Ctrl-Q", "quit"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "Ctrl-A/Ctrl-E", "start / end of the input line"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "Ctrl-B/F Alt-B/F", "character / word left, right"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "Ctrl-K/Ctrl-U", "delete to end of line / whole line"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "Ctrl-W/Ctrl-Y", "delete previous word / paste it back"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "Ctrl-R", "search the input history"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/new /open ID", "new conversation / open saved conversation "
	 "ID"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/export md|json", "write this conversation to a file "
	 "(/export md PATH)"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/set KEY VALUE", "temperature, top_p, top_k, min_p, seed, "
	 "max_tokens"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/think on|off", "reasoning on or off (/mtp off|N: see "
	 "docs)"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/theme NAME", "default-dark, light, solarized-dark, "
	 "high-contrast, monochrome"},
	{0, UI_CTX_DOC, UI_ACT_EDIT, "/info /quit", "model, settings and history file / quit"},
	{0, 0, UI_ACT_NONE, NULL, NULL},
};

enum ui_action ui_key_action(int key, unsigned ctx)
{
	for (const struct ui_key *k = ui_keys; k->act != UI_ACT_NONE; k++)
		if (k->ctx != UI_CTX_DOC && k->key == key && (k->ctx & ctx))
			return k->act;
	return UI_ACT_NONE;
}

size_t ui_help_text(char *buf, size_t size, int name_cols)
{
	size_t used = 0;
	if (size)
		buf[0] = '\0';
	for (const struct ui_key *k = ui_keys; k->act != UI_ACT_NONE; k++) {
		if (!k->name)
			continue;
		int n = snprintf(used < size ? buf + used : NULL, used < size ? size - used : 0,
				 "  %-*s  %s\n", name_cols, k->name, k->help);
		if (n > 0)
			used += (size_t)n;
	}
	return used;
}
