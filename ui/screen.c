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

static void pane_title(struct ui *u, int which, char *buf, size_t size, double now)
{
	struct ui_pane *p = &u->panes[which];
	size_t used = 0;
#define PUT(...) (used += (size_t)snprintf(buf + used, used < size ? size - used : 0, __VA_ARGS__))
	if (which == UI_PANE_REASONING) {
		PUT(" Reasoning");
		struct ui_block *b = ui_pane_last(p, UI_B_REASONING);
		if (b) {
			char h[160];
			ui_reasoning_header(b, now, h, sizeof h);
			PUT(" \xc2\xb7 %s", h + 4); /* without the fold arrow */
			if (b->folded)
				PUT(" \xc2\xb7 folded");
		}
	} else {
		PUT(" Answer");
		if (u->generating && u->live_answer && u->live_answer->len)
			PUT(" \xc2\xb7 writing\xe2\x80\xa6");
	}
	if (!p->follow)
		PUT(" \xc2\xb7 \xe2\x86\x91 scrolled, End follows");
#undef PUT
	if (used >= size)
		buf[size - 1] = '\0';
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
	pane_title(u, which, title, sizeof title, now);
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
	wattrset(u->w_sep, (attr_t)u->attrs[UI_EL_BORDER]);
	for (int y = 0; y < u->lay.sep.h; y++)
		mvwaddstr(u->w_sep, y, 0, "\xe2\x94\x82");
	wattrset(u->w_sep, A_NORMAL);
	wnoutrefresh(u->w_sep);
}

static void draw_status(struct ui *u, double now)
{
	if (!u->w_status)
		return;
	struct app_chat *c = u->chat;
	const struct gen_stats *st = &u->stats;
	struct ui_status s = {
		.model = c->model_name,
		.demo = c->is_demo,
		.generating = u->generating,
		.stopping = u->stopping,
		.ctx_used = u->have_stats ? st->prompt_tokens + st->reasoning_tokens + st->answer_tokens
					  : -1,
		.ctx_max = u->ctx_max,
		.tokens = u->generating ? u->live_tokens
			  : u->have_stats ? st->reasoning_tokens + st->answer_tokens : -1,
		.prefill_tps = !u->generating && u->have_stats ? st->prefill_tps : -1,
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
	wattrset(w, (attr_t)u->attrs[UI_EL_BORDER]);
	for (int x = 0; x < width; x++)
		waddstr(w, "\xe2\x94\x80");
	const char *hint = u->focus == UI_FOCUS_INPUT
				   ? " Enter send \xc2\xb7 Alt-Enter new line \xc2\xb7 Tab focus \xc2\xb7 "
				     "Ctrl-O conversations \xc2\xb7 F1 help "
				   : " Tab or typing: back to the input line ";
	wmove(w, 0, 2);
	ui_draw_text(w, hint, NULL, strlen(hint), u->attrs, UI_EL_BORDER, width - 3);
	wattrset(w, A_NORMAL);
	ui_input_draw(u->input, w, 1, u->lay.input.h - 1, width, u->attrs[UI_EL_PROMPT],
		      u->attrs[UI_EL_INPUT], cy, cx);
}

static void draw_help(struct ui *u)
{
	int rows = LINES, cols = COLS;
	char text[4096];
	ui_help_text(text, sizeof text, 18);
	int nlines = 0;
	for (const char *p = text; *p; p++)
		nlines += *p == '\n';
	int w = cols - 4 < 96 ? cols - 4 : 96, h = rows - 2 < nlines + 4 ? rows - 2 : nlines + 4;
	if (w < 20 || h < 5)
		return;
	if (u->w_help)
		delwin(u->w_help);
	u->w_help = newwin(h, w, (rows - h) / 2, (cols - w) / 2);
	if (!u->w_help)
		return;
	WINDOW *hw = u->w_help;
	wbkgdset(hw, (chtype)(' ' | u->attrs[UI_EL_HELP]));
	werase(hw);
	wattrset(hw, (attr_t)u->attrs[UI_EL_HELP_KEY]);
	box(hw, 0, 0);
	mvwaddstr(hw, 0, 2, " Keys ");
	int body = h - 3;
	if (u->help_top > nlines - body)
		u->help_top = nlines - body > 0 ? nlines - body : 0;
	const char *p = text;
	for (int i = 0; *p; i++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		int y = 1 + i - u->help_top;
		if (y >= 1 && y <= body) {
			wmove(hw, y, 1);
			/* The key names (first 20 columns) stand out. */
			size_t k = ui_str_fit(p, n, 20);
			ui_draw_text(hw, p, NULL, k, u->attrs, UI_EL_HELP_KEY, w - 2);
			ui_draw_text(hw, p + k, NULL, n - k, u->attrs, UI_EL_HELP, w - 22);
		}
		p += n + (nl ? 1 : 0);
	}
	const char *foot = " any key closes \xc2\xb7 Up/Down scroll ";
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
				u->attrs, u->chat->cid);
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
