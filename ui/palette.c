/*
 * palette.c — installs a parsed theme into curses: one colour pair per screen element
 * (pair number = element + 1), colours matched to what the terminal has.
 */
#include <curses.h>

#include "ui/theme.h"

static attr_t to_curses(unsigned a)
{
	attr_t r = A_NORMAL;
	if (a & UI_A_BOLD)
		r |= A_BOLD;
	if (a & UI_A_DIM)
		r |= A_DIM;
#ifdef A_ITALIC
	if (a & UI_A_ITALIC)
		r |= A_ITALIC;
#endif
	if (a & UI_A_UNDERLINE)
		r |= A_UNDERLINE;
	if (a & UI_A_REVERSE)
		r |= A_REVERSE;
	if (a & UI_A_STANDOUT)
		r |= A_STANDOUT;
	return r;
}

void ui_theme_apply(const struct ui_theme *t, int use_color, unsigned long attrs[UI_EL_COUNT])
{
	/* use_default_colors() lets "default" mean the terminal's own colours; without it
	   default falls back to white on black. */
	static int defaults_ok = -1;
	if (use_color && has_colors() && defaults_ok < 0)
		defaults_ok = use_default_colors() == OK;
	for (int i = 0; i < UI_EL_COUNT; i++) {
		attr_t a = to_curses(t->el[i].attr);
		if (use_color && has_colors() && t->uses_color && i + 1 < COLOR_PAIRS) {
			int fg = ui_color_index(t->el[i].fg, COLORS);
			int bg = ui_color_index(t->el[i].bg, COLORS);
			if (defaults_ok <= 0) {
				fg = fg < 0 ? COLOR_WHITE : fg;
				bg = bg < 0 ? COLOR_BLACK : bg;
			}
			init_pair((short)(i + 1), (short)fg, (short)bg);
			a |= COLOR_PAIR(i + 1);
		}
		attrs[i] = a;
	}
}
