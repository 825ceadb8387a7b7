/*
 * screen.c — windows and drawing: one curses window per screen part (panes, separator,
 * browser, input, status, help overlay), rebuilt when the layout changes; a frame draws
 * every part into its window and sends the lot with one doupdate(), so the terminal
 * only receives the cells that changed and never sees a half-drawn frame.
 */
#include <stdio.h>
#include <string.h>

#include "ui/keys.h"
#include "ui/status.h"
#include "ui/ui_int.h"
#include "ui/width.h"
#include "ui/wrap.h"

#define VLINE "\xe2\x94\x82" /* │ */
#define HLINE "\xe2\x94\x80" /* ─ */

void ui_screen_free_windows(struct ui *u)
{
	WINDOW **all[] = {&u->w_pane[0], &u->w_pane[1], &u->w_sep, &u->w_input, &u->w_status,
			  &u->w_browser, &u->w_help};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (*all[i]) {
			delwin(*all[i]);
			*all[i] = NULL;
		}
}

static WINDOW *mkwin(struct ui_rect r, unsigned long bg)
{
	if (r.w <= 0 || r.h <= 0)
		return NULL;
	WINDOW *w = newwin(r.h, r.w, r.y, r.x);
	if (w)
		wbkgdset(w, (chtype)(' ' | bg));
	return w;
}

int ui_pane_text_height(const struct ui *u, int which)
{
	const struct ui_rect *r = which == UI_PANE_REASONING ? &u->lay.reasoning : &u->lay.answer;
	return r->h > 1 ? r->h - 1 : 1;
}

/* Rows the stacked reasoning pane needs when every section is folded, else 0. */
static int folded_rows(const struct ui *u)
{
	const struct ui_pane *p = &u->panes[UI_PANE_REASONING];
	int rows = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (!p->b[i]->folded)
			return 0;
		rows += 1 + p->b[i]->lead_blank;
	}
	return rows ? rows : 1;
}

static void build(struct ui *u, const struct ui_layout_in *in)
{
	ui_screen_free_windows(u);
	u->lay_in = *in;
	ui_layout_compute(in, &u->lay);
	u->relayout = false;
	werase(stdscr);
	wnoutrefresh(stdscr);
	if (u->lay.too_small)
		return;
	const unsigned long *a = u->attrs;
	u->w_pane[UI_PANE_REASONING] = mkwin(u->lay.reasoning, a[UI_EL_NORMAL]);
	u->w_pane[UI_PANE_ANSWER] = mkwin(u->lay.answer, a[UI_EL_NORMAL]);
	u->w_sep = mkwin(u->lay.sep, a[UI_EL_BORDER]);
	u->w_browser = mkwin(u->lay.browser, a[UI_EL_BROWSER]);
	u->w_input = mkwin(u->lay.input, a[UI_EL_NORMAL]);
	u->w_status = mkwin(u->lay.status, a[UI_EL_STATUS]);
}

/* Fills row y of w with `text` in style el, cut to the width. */
static void bar(struct ui *u, WINDOW *w, int y, int width, const char *text, int el)
{
	wmove(w, y, 0);
	wattrset(w, (attr_t)u->attrs[el]);
	for (int x = 0; x < width; x++)
		waddch(w, ' ');
	wmove(w, y, 0);
	ui_draw_text(w, text, NULL, strlen(text), u->attrs, (uint8_t)el, width);
	wattrset(w, A_NORMAL);
}

/* The title bar: the pane's name, for the reasoning its latest section's state, and
   whether it is scrolled back. The parts that say what the user can do (folded,
   scrolled) are kept; the section's figures shorten to fit the width. */
static void pane_title(struct ui *u, int which, char *buf, size_t size, double now, int width)
{
	struct ui_pane *p = &u->panes[which];
	const char *dot = " \xc2\xb7 ";
	const char *scrolled = p->follow ? "" : width >= 60 ? " \xc2\xb7 \xe2\x86\x91 scrolled, End follows"
							   : " \xc2\xb7 \xe2\x86\x91 End follows";
	if (which == UI_PANE_ANSWER) {
		bool writing = u->generating && u->live_answer && u->live_answer->len;
		snprintf(buf, size, " Answer%s%s", writing ? " \xc2\xb7 writing\xe2\x80\xa6" : "",
			 scrolled);
		return;
	}
	struct ui_block *b = ui_pane_last(p, UI_B_REASONING);
	if (!b) {
		snprintf(buf, size, " Reasoning%s", scrolled);
		return;
	}
	const char *folded = b->folded ? " \xc2\xb7 folded" : "";
	size_t fixed = ui_str_width(" Reasoning", 10) + ui_str_width(dot, strlen(dot)) +
		       ui_str_width(folded, strlen(folded)) + ui_str_width(scrolled, strlen(scrolled));
	char h[160];
	/* The header's fold arrow (2 columns) is not repeated in the title. */
	size_t room = (size_t)width > fixed ? (size_t)width - fixed + 2 : 2;
	ui_reasoning_header(b, now, room, h, sizeof h);
	if (ui_str_width(h + 4, strlen(h + 4)) + 2 <= room)
		snprintf(buf, size, " Reasoning%s%s%s%s", dot, h + 4, folded, scrolled);
	else
		snprintf(buf, size, " Reasoning%s%s", folded, scrolled);
}

static void draw_pane(struct ui *u, int which, double now)
{
	WINDOW *w = u->w_pane[which];
	if (!w)
		return;
	const struct ui_rect *r = which == UI_PANE_REASONING ? &u->lay.reasoning : &u->lay.answer;
	struct ui_pane *p = &u->panes[which];
	if (ui_pane_layout(p, (size_t)r->w, (size_t)(r->h - 1)))
		ui_message(u, "out of memory laying out the text");
	if (u->scroll_to_mid) {
		for (size_t i = 0; i < p->n; i++)
			if (p->b[i]->mid == u->scroll_to_mid) {
				p->top = ui_pane_row_of(p, p->b[i]);
				p->follow = false;
				ui_pane_scroll(p, 0);
				break;
			}
	}
	char title[512];
	pane_title(u, which, title, sizeof title, now, r->w);
	bool focused = (which == UI_PANE_REASONING && u->focus == UI_FOCUS_REASONING) ||
		       (which == UI_PANE_ANSWER && u->focus == UI_FOCUS_ANSWER);
	bar(u, w, 0, r->w, title, focused ? UI_EL_TITLE_FOCUS : UI_EL_TITLE);
	ui_pane_draw(w, p, 1, u->attrs, now);
	wnoutrefresh(w);
}

static void draw_sep(struct ui *u)
{
	if (!u->w_sep)
		return;
	for (int y = 0; y < u->lay.sep.h; y++) {
		wmove(u->w_sep, y, 0);
		ui_draw_text(u->w_sep, VLINE, NULL, 3, u->attrs, UI_EL_BORDER, 1);
	}
	wnoutrefresh(u->w_sep);
}

static void draw_status(struct ui *u, double now)
{
	if (!u->w_status)
		return;
	const struct app_reply_stats *st = &u->stats;
	struct ui_status s = {
		.model = u->info.model_name,
		.demo = u->info.is_demo,
		.generating = u->generating,
		.stopping = u->stopping,
		.ctx_used = u->have_stats ? st->prompt_tokens + st->reasoning_tokens + st->answer_tokens
					  : -1,
		.ctx_max = u->ctx_max,
		.tokens = u->generating ? u->live_tokens
			  : u->have_stats ? st->reasoning_tokens + st->answer_tokens : -1,
		.prefill_tps = !u->generating && u->have_stats ? st->prefill_tps : -1,
		.resumed = !u->generating && u->have_stats ? st->resumed_tokens : 0,
		.decode_tps = u->generating ? u->live_tps : u->have_stats ? st->decode_tps : -1,
		.mtp_rate = !u->generating && u->have_stats && st->mtp_drafted > 0
				    ? (double)st->mtp_accepted / (double)st->mtp_drafted : -1,
		.elapsed_s = u->generating ? (now - u->gen_t0) / 1000.0
			     : u->have_stats ? (u->gen_t1 - u->gen_t0) / 1000.0 : -1,
		.message = u->msg[0] ? u->msg : NULL,
	};
	char buf[1024];
	size_t at, hl;
	int width = u->lay.status.w;
	size_t len = ui_status_format(&s, (size_t)(width > 2 ? width - 2 : 1), buf, sizeof buf,
				      &at, &hl);
	WINDOW *w = u->w_status;
	bar(u, w, 0, width, "", UI_EL_STATUS);
	wmove(w, 0, 1);
	ui_draw_text(w, buf, NULL, at, u->attrs, UI_EL_STATUS, width - 1);
	ui_draw_text(w, buf + at, NULL, hl, u->attrs, UI_EL_STATUS_DEMO, width - 1);
	ui_draw_text(w, buf + at + hl, NULL, len - at - hl, u->attrs, UI_EL_STATUS, width - 1);
	wnoutrefresh(w);
}

static void draw_input(struct ui *u, int *cy, int *cx)
{
	WINDOW *w = u->w_input;
	if (!w)
		return;
	int width = u->lay.input.w;
	wmove(w, 0, 0);
	for (int x = 0; x < width; x++)
		ui_draw_text(w, HLINE, NULL, 3, u->attrs, UI_EL_BORDER, 1);
	/* The longest hint that fits with the rule showing at both ends; F1 lists the rest. */
	static const char *const hints[] = {
		" Enter send \xc2\xb7 Alt-Enter new line \xc2\xb7 Tab focus \xc2\xb7 Ctrl-O conversations "
		"\xc2\xb7 F1 help ",
		" Enter send \xc2\xb7 Alt-Enter new line \xc2\xb7 Ctrl-O conversations \xc2\xb7 F1 help ",
		" Enter send \xc2\xb7 Ctrl-O conversations \xc2\xb7 F1 help ",
		" F1 help ",
	};
	const char *hint = " Tab or typing: back to the input line ";
	if (u->focus == UI_FOCUS_INPUT)
		for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
			hint = hints[i];
			if (ui_str_width(hint, strlen(hint)) + 4 <= (size_t)width)
				break;
		}
	wmove(w, 0, 2);
	ui_draw_text(w, hint, NULL, strlen(hint), u->attrs, UI_EL_BORDER, width - 3);
	wattrset(w, A_NORMAL);
	ui_input_draw(u->input, w, 1, u->lay.input.h - 1, width, u->attrs[UI_EL_PROMPT],
		      u->attrs[UI_EL_INPUT], cy, cx);
}

/* Columns of the help screen's key names ("  Ctrl-T" padded, see ui_help_text). */
#define HELP_NAME_COLS 18
#define HELP_KEY_COLS (HELP_NAME_COLS + 4)
#define HELP_MAX_ROWS 256

/* The help screen's rows: a key name (on the first row of its entry) and a piece of
   its wrapped description. */
struct help_rows {
	const char *line_key, *line_desc; /* the entry being wrapped */
	size_t line_klen;
	const char *keys[HELP_MAX_ROWS], *desc[HELP_MAX_ROWS];
	size_t klens[HELP_MAX_ROWS], dlen[HELP_MAX_ROWS];
	int n;
};

static int help_row(void *ud, size_t off, size_t len, size_t cols, size_t row)
{
	struct help_rows *h = ud;
	(void)cols;
	if (h->n >= HELP_MAX_ROWS)
		return 1;
	h->keys[h->n] = row ? "" : h->line_key;
	h->klens[h->n] = row ? 0 : h->line_klen;
	h->desc[h->n] = h->line_desc + off;
	h->dlen[h->n++] = len;
	return 0;
}

/* A frame of w x h in the window, drawn with the UI's own glyphs, not the terminal's
   ACS (see glyphs.h). */
static void frame(WINDOW *win, int h, int w, const unsigned long *attrs, uint8_t el)
{
	for (int y = 0; y < h; y++) {
		bool edge = y == 0 || y == h - 1;
		const char *l = y == 0 ? "\xe2\x94\x8c" : y == h - 1 ? "\xe2\x94\x94" : "\xe2\x94\x82";
		const char *r = y == 0 ? "\xe2\x94\x90" : y == h - 1 ? "\xe2\x94\x98" : "\xe2\x94\x82";
		wmove(win, y, 0);
		ui_draw_text(win, l, NULL, 3, attrs, el, 1);
		if (edge)
			for (int x = 1; x < w - 1; x++)
				ui_draw_text(win, HLINE, NULL, 3, attrs, el, 1);
		wmove(win, y, w - 1);
		ui_draw_text(win, r, NULL, 3, attrs, el, 1);
	}
}

static void draw_help(struct ui *u)
{
	int rows = LINES, cols = COLS;
	char text[4096];
	ui_help_text(text, sizeof text, HELP_NAME_COLS);
	int w = cols - 4 < 96 ? cols - 4 : 96;
	/* Descriptions wrap under themselves rather than run into the border. */
	int descw = w - 2 - HELP_KEY_COLS - 2;
	if (descw < 8)
		return;
	static struct help_rows hr;
	hr.n = 0;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		hr.line_key = p;
		hr.line_klen = ui_str_fit(p, n, HELP_KEY_COLS);
		hr.line_desc = p + hr.line_klen;
		if (ui_wrap(hr.line_desc, n - hr.line_klen, (size_t)descw, 0, help_row, &hr))
			break;
		p += n + (nl ? 1 : 0);
	}
	int nlines = hr.n, h = rows - 2 < nlines + 4 ? rows - 2 : nlines + 4;
	if (h < 5)
		return;
	if (u->w_help)
		delwin(u->w_help);
	u->w_help = newwin(h, w, (rows - h) / 2, (cols - w) / 2);
	if (!u->w_help)
		return;
	WINDOW *hw = u->w_help;
	wbkgdset(hw, (chtype)(' ' | u->attrs[UI_EL_HELP]));
	werase(hw);
	frame(hw, h, w, u->attrs, UI_EL_HELP_KEY);
	wmove(hw, 0, 2);
	ui_draw_text(hw, " Keys ", NULL, 6, u->attrs, UI_EL_HELP_KEY, w - 4);
	int body = h - 3;
	if (u->help_top > nlines - body)
		u->help_top = nlines - body > 0 ? nlines - body : 0;
	for (int y = 1; y <= body && u->help_top + y - 1 < nlines; y++) {
		int i = u->help_top + y - 1;
		wmove(hw, y, 1);
		ui_draw_text(hw, hr.keys[i], NULL, hr.klens[i], u->attrs, UI_EL_HELP_KEY,
			     HELP_KEY_COLS);
		wmove(hw, y, 1 + HELP_KEY_COLS);
		ui_draw_text(hw, hr.desc[i], NULL, hr.dlen[i], u->attrs, UI_EL_HELP, descw);
	}
	const char *foot = nlines > body ? " any key closes \xc2\xb7 Up/Down scroll "
					 : " any key closes ";
	wmove(hw, h - 2, 2);
	ui_draw_text(hw, foot, NULL, strlen(foot), u->attrs, UI_EL_HELP, w - 4);
	wattrset(hw, A_NORMAL);
	touchwin(hw);
	wnoutrefresh(hw);
}

static void draw_too_small(void)
{
	werase(stdscr);
	mvwaddnstr(stdscr, 0, 0, "Terminal too small", COLS);
	char need[64];
	snprintf(need, sizeof need, "ponder needs %dx%d", UI_MIN_COLS, UI_MIN_ROWS);
	mvwaddnstr(stdscr, 1, 0, need, COLS);
	mvwaddnstr(stdscr, 2, 0, "Ctrl-Q quits", COLS);
	wnoutrefresh(stdscr);
}

void ui_screen_draw(struct ui *u)
{
	double now = ui_now_ms();
	struct ui_layout_in in = {
		.rows = LINES,
		.cols = COLS,
		.side = u->side,
		.split = u->split,
		.input_rows = u->input ? ui_input_rows(u->input, COLS) : 1,
		.browser = u->mode == UI_MODE_BROWSER,
		.reasoning_rows = folded_rows(u),
	};
	const struct ui_layout_in *o = &u->lay_in;
	if (u->relayout || in.rows != o->rows || in.cols != o->cols || in.side != o->side ||
	    in.split != o->split || in.input_rows != o->input_rows || in.browser != o->browser ||
	    in.reasoning_rows != o->reasoning_rows)
		build(u, &in);
	if (u->lay.too_small) {
		curs_set(0);
		draw_too_small();
		doupdate();
		return;
	}
	draw_pane(u, UI_PANE_REASONING, now);
	draw_pane(u, UI_PANE_ANSWER, now);
	u->scroll_to_mid = 0;
	draw_sep(u);
	if (u->w_browser) {
		ui_browser_draw(&u->browser, u->w_browser, u->lay.browser.h, u->lay.browser.w,
				u->attrs, app_chat_cid(u->chat));
		wnoutrefresh(u->w_browser);
	}
	draw_status(u, now);
	int cy = 0, cx = 0;
	draw_input(u, &cy, &cx);
	bool cursor = u->mode == UI_MODE_NORMAL && u->focus == UI_FOCUS_INPUT && u->w_input;
	if (u->w_input) {
		if (cursor)
			wmove(u->w_input, cy, cx);
		wnoutrefresh(u->w_input); /* last: the terminal's cursor ends up here */
	}
	if (u->mode == UI_MODE_HELP) {
		draw_help(u);
	} else if (u->w_help) {
		delwin(u->w_help);
		u->w_help = NULL;
	}
	curs_set(cursor ? 1 : 0);
	doupdate();
}
