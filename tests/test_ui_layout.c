/*
 * test_ui_layout.c — screen geometry (ui/layout.c), the status bar text (ui/status.c)
 * and pane rows and scrolling (ui/pane.c, without a terminal).
 */
#include <locale.h>

#include "tests/check.h"
#include "ui/layout.h"
#include "ui/pane.h"
#include "ui/status.h"
#include "ui/theme.h"
#include "ui/width.h"

static int inside(struct ui_rect r, int rows, int cols)
{
	return r.w == 0 || r.h == 0 ||
	       (r.y >= 0 && r.x >= 0 && r.h > 0 && r.w > 0 && r.y + r.h <= rows && r.x + r.w <= cols);
}

static int overlap(struct ui_rect a, struct ui_rect b)
{
	if (!a.w || !a.h || !b.w || !b.h)
		return 0;
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void test_layout_default(void)
{
	struct ui_layout_in in = {40, 120, true, 40, 1, false, 0};
	struct ui_layout l;
	ui_layout_compute(&in, &l);
	CHECK(!l.too_small && l.side, "120x40 is side by side");
	CHECK(l.status.y == 39 && l.status.h == 1 && l.status.w == 120, "status is the last row");
	CHECK(l.input.h == 2 && l.input.y == 37, "input: border + one row, got h %d y %d",
	      l.input.h, l.input.y);
	CHECK(l.reasoning.w + l.sep.w + l.answer.w == 120, "panes fill the width");
	CHECK(l.reasoning.h == 37 && l.answer.h == 37, "panes fill the height above the input");
	CHECK(l.reasoning.w == 119 * 40 / 100, "split 40%%: %d", l.reasoning.w);
}

static void test_layout_fallbacks(void)
{
	struct ui_layout l;
	struct ui_layout_in in = {40, 70, true, 40, 1, false, 0};
	ui_layout_compute(&in, &l);
	CHECK(!l.side && l.reasoning.y == 0 && l.answer.y == l.reasoning.h,
	      "70 columns stack the panes");
	in = (struct ui_layout_in){40, 39, false, 40, 1, false, 0};
	ui_layout_compute(&in, &l);
	CHECK(l.too_small, "39 columns is too small");
	in = (struct ui_layout_in){9, 120, false, 40, 1, false, 0};
	ui_layout_compute(&in, &l);
	CHECK(l.too_small, "9 rows is too small");
	in = (struct ui_layout_in){40, 120, true, 40, 100, false, 0};
	ui_layout_compute(&in, &l);
	CHECK(l.input.h <= 40 / 3 && l.input.h >= 2, "a long input is capped: %d", l.input.h);
	in = (struct ui_layout_in){40, 120, true, 40, 1, true, 0};
	ui_layout_compute(&in, &l);
	CHECK(l.browser.w == 40 && l.browser.x == 0 && l.reasoning.x == 40, "sidebar");
	CHECK(l.side, "80 columns left after the sidebar: still side by side (%d)", l.answer.w);
	in.cols = 100;
	ui_layout_compute(&in, &l);
	CHECK(!l.side && l.browser.w == 33, "67 columns left: stacked");
	in = (struct ui_layout_in){40, 60, true, 40, 1, true, 0};
	ui_layout_compute(&in, &l);
	CHECK(l.browser.w == 60 && l.reasoning.w == 0 && l.answer.w == 0,
	      "narrow: the browser takes the width");
	in = (struct ui_layout_in){40, 70, false, 40, 1, false, 2};
	ui_layout_compute(&in, &l);
	CHECK(l.reasoning.h == 3 && l.answer.y == 3, "folded reasoning shrinks to its rows: %d",
	      l.reasoning.h);
}

static void test_layout_property(void)
{
	for (int rows = 8; rows <= 70; rows += 3)
		for (int cols = 30; cols <= 220; cols += 7)
			for (int f = 0; f < 16; f++) {
				struct ui_layout_in in = {rows, cols, f & 1, f & 2 ? 15 : 85,
							  1 + (f & 4) * 5, (f & 8) != 0, f & 4 ? 3 : 0};
				struct ui_layout l;
				ui_layout_compute(&in, &l);
				if (rows < UI_MIN_ROWS || cols < UI_MIN_COLS) {
					CHECK(l.too_small, "%dx%d should be too small", cols, rows);
					continue;
				}
				struct ui_rect r[] = {l.reasoning, l.answer, l.sep, l.input, l.status,
						      l.browser};
				int n = sizeof r / sizeof r[0];
				for (int i = 0; i < n; i++) {
					CHECK(inside(r[i], rows, cols), "%dx%d f%d rect %d outside", cols,
					      rows, f, i);
					for (int j = i + 1; j < n; j++)
						CHECK(!overlap(r[i], r[j]), "%dx%d f%d rects %d,%d overlap",
						      cols, rows, f, i, j);
				}
				if (l.answer.w)
					CHECK(l.answer.h >= 2 && l.reasoning.h >= 2,
					      "%dx%d f%d pane without a text row", cols, rows, f);
			}
}

static void test_status(void)
{
	struct ui_status s = {"ponder-demo", true, false, false, 312, 2048, 245, 1234, 85.2, 0.78,
			      3.1, NULL, 0};
	char buf[512];
	size_t at, hl;
	size_t n = ui_status_format(&s, 200, buf, sizeof buf, &at, &hl);
	CHECK(n == strlen(buf), "length");
	CHECK(strstr(buf, "ponder-demo") && strstr(buf, "ctx 312/2048") && strstr(buf, "245 tok") &&
	      strstr(buf, "prefill 1234 t/s") && strstr(buf, "decode 85.2 t/s") &&
	      strstr(buf, "MTP 78%") && strstr(buf, "3.1 s"), "fields: %s", buf);
	CHECK(strstr(buf, UI_DEMO_NOTE) && hl == strlen(UI_DEMO_NOTE) &&
	      !memcmp(buf + at, UI_DEMO_NOTE, hl), "the demo note is there and highlighted");
	CHECK(strstr(buf, "-m DIR"), "it says how to load a real checkpoint");
	for (size_t w = 20; w <= 200; w += 9) {
		ui_status_format(&s, w, buf, sizeof buf, &at, &hl);
		CHECK(ui_str_width(buf, strlen(buf)) <= w, "width %zu: '%s' too wide", w, buf);
		CHECK(!strncmp(buf, "ponder-demo", 11), "width %zu: the model name comes first", w);
	}
	ui_status_format(&s, 100, buf, sizeof buf, &at, &hl);
	CHECK(!strstr(buf, "MTP"), "at 100 columns MTP goes: %s", buf);
	/* At 80 columns the live figures win over the note, which shortens (the bar is
	   80 - 2 wide on screen). */
	ui_status_format(&s, 78, buf, sizeof buf, &at, &hl);
	CHECK(strstr(buf, "ctx 312/2048") && strstr(buf, "245 tok") && strstr(buf, "decode 85.2 t/s"),
	      "at 78 columns the figures stay: %s", buf);
	CHECK(strstr(buf, UI_DEMO_NOTE_TINY) && hl, "a shorter demo note is left: %s", buf);
	s.message = "press Ctrl-C again to quit";
	s.generating = true;
	ui_status_format(&s, 200, buf, sizeof buf, &at, &hl);
	CHECK(hl && !memcmp(buf + at, s.message, hl) && strstr(buf, "generating"),
	      "message highlighted: %s", buf);
	s.message = "theme 'nope' not found (looked in /home/someone/.config/ponder/themes, "
		    "/usr/local/bin/../themes, /usr/local/share/ponder/themes)";
	ui_status_format(&s, 100, buf, sizeof buf, &at, &hl);
	CHECK(hl > 10 && !memcmp(buf + at, "theme 'nope'", 12) && strstr(buf, "\xe2\x80\xa6") &&
	      ui_str_width(buf, strlen(buf)) <= 100, "a long message is cut, not dropped: %s", buf);
	s.message = NULL;
	s.generating = false;
	s.resumed = 4012;
	ui_status_format(&s, 200, buf, sizeof buf, &at, &hl);
	CHECK(strstr(buf, "resumed 4012 tok"), "a resumed prompt is shown: %s", buf);
	struct ui_status real = {"DeepSeek-R1", false, false, false, -1, 0, -1, -1, -1, -1, -1,
				 NULL, 0};
	ui_status_format(&real, 200, buf, sizeof buf, &at, &hl);
	CHECK(!strcmp(buf, "DeepSeek-R1") && hl == 0, "nothing unknown is shown: '%s'", buf);
}

static struct ui_block *add(struct ui_pane *p, enum ui_block_kind k, const char *s)
{
	return ui_pane_add(p, k, s, strlen(s));
}

static void test_pane_scroll(void)
{
	struct ui_pane p;
	ui_pane_init(&p);
	add(&p, UI_B_USER, "question");
	struct ui_block *a = add(&p, UI_B_ANSWER, "");
	for (int i = 0; i < 30; i++)
		ui_block_append(a, "line\n", 5);
	CHECK(ui_pane_layout(&p, 20, 5) == 0, "layout");
	/* user row, blank, 30 lines, the empty line after the last newline */
	CHECK(p.total == 33, "rows %zu", p.total);
	CHECK(p.follow && ui_pane_first_row(&p) == 28, "follows the end: %zu",
	      ui_pane_first_row(&p));
	ui_pane_scroll(&p, -3);
	CHECK(!p.follow && ui_pane_first_row(&p) == 25, "scrolled up");
	ui_block_append(a, "more\nmore\n", 10);
	ui_pane_layout(&p, 20, 5);
	CHECK(ui_pane_first_row(&p) == 25, "new text does not move a scrolled view");
	ui_pane_scroll(&p, 1000);
	CHECK(p.follow && ui_pane_first_row(&p) == p.total - 5, "back at the end: following");
	ui_pane_home(&p);
	CHECK(!p.follow && ui_pane_first_row(&p) == 0, "home");
	ui_pane_end(&p);
	CHECK(p.follow, "end follows");
	ui_pane_scroll(&p, -1000);
	CHECK(ui_pane_first_row(&p) == 0, "clamped at the top");
	ui_pane_clear(&p);
	CHECK(p.n == 0 && p.total == 0 && p.follow, "cleared");
}

static void test_pane_reasoning_fold(void)
{
	struct ui_pane p;
	ui_pane_init(&p);
	struct ui_block *r1 = add(&p, UI_B_REASONING, "one\ntwo\nthree");
	struct ui_block *r2 = add(&p, UI_B_REASONING, "four");
	ui_pane_layout(&p, 30, 10);
	CHECK(r1->nrows == 4 && r2->nrows == 3, "header + lines (+ blank): %zu %zu", r1->nrows,
	      r2->nrows);
	CHECK(r1->rows[0].kind == UI_ROW_HEADER && r2->rows[0].kind == UI_ROW_BLANK &&
	      r2->rows[1].kind == UI_ROW_HEADER, "row kinds");
	r1->folded = true;
	ui_block_touch(r1);
	ui_pane_layout(&p, 30, 10);
	CHECK(r1->nrows == 1 && p.total == 4, "folded: the header only (%zu)", r1->nrows);
	CHECK(ui_pane_block_at(&p, 1, NULL) == r2 && ui_pane_row_of(&p, r2) == 1, "block lookup");
	CHECK(ui_pane_last(&p, UI_B_REASONING) == r2, "last");

	char h[160];
	r2->live = true;
	r2->t0_ms = 1000;
	r2->tokens = 842;
	ui_reasoning_header(r2, 13300, 80, h, sizeof h);
	CHECK(strstr(h, "Thinking... 12.3 s, 842 tokens"), "live header: %s", h);
	r2->live = false;
	r2->secs = 12.3;
	ui_reasoning_header(r2, 99999, 80, h, sizeof h);
	CHECK(strstr(h, "Thought for 12.3 s"), "done header: %s", h);
	r2->secs = -1;
	ui_reasoning_header(r2, 0, 80, h, sizeof h);
	CHECK(strstr(h, "Thought") && strstr(h, "842 tokens") && !strstr(h, " s "),
	      "loaded from history (no time): %s", h);
	ui_pane_clear(&p);
}

/* A fast turn reads in milliseconds, and a narrow pane gets a shorter header that
   keeps the fold arrow and the figures instead of losing them at the edge. */
static void test_reasoning_header_fits(void)
{
	struct ui_pane p;
	ui_pane_init(&p);
	struct ui_block *b = add(&p, UI_B_REASONING, "some thinking");
	b->secs = 0.035;
	b->tokens = 96;
	char h[160];
	ui_reasoning_header(b, 0, 80, h, sizeof h);
	CHECK(!strcmp(h, "\xe2\x96\xbe Thought for 35 ms (96 tokens)"), "fast turn: %s", h);
	b->secs = 0.0004;
	ui_reasoning_header(b, 0, 80, h, sizeof h);
	CHECK(strstr(h, "for 0 ms") && !strstr(h, "0.0 s"), "instant turn: %s", h);
	b->secs = 123.4;
	b->tokens = 12345;
	b->stopped = true;
	b->folded = true;
	for (size_t w = 21; w <= 60; w++) {
		ui_reasoning_header(b, 0, w, h, sizeof h);
		CHECK(ui_str_width(h, strlen(h)) <= w, "width %zu: '%s' too wide", w, h);
		CHECK(!strncmp(h, "\xe2\x96\xb8 ", 4), "width %zu: the fold arrow first: %s", w, h);
		CHECK(strstr(h, "12345 tok") && strstr(h, "[stopped]"),
		      "width %zu: tokens and state kept: %s", w, h);
	}
	ui_pane_clear(&p);
}

/* Rendering in pieces (as text streams) must give the same rows as rendering at once. */
static void test_pane_incremental(void)
{
	const char *text = "# Title\nSome **bold** words that wrap around the narrow pane, "
			   "then a list:\n- one\n- two with `code`\n```\nx = 1\n```\n中文 and "
			   "e\xcc\x81 done.\n";
	struct ui_pane a, b;
	ui_pane_init(&a);
	ui_pane_init(&b);
	struct ui_block *ba = add(&a, UI_B_ANSWER, "");
	struct ui_block *bb = add(&b, UI_B_ANSWER, text);
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;
		ui_block_append(ba, text + i, k);
		ui_pane_layout(&a, 17, 6);
	}
	ui_pane_layout(&b, 17, 6);
	CHECK(ba->nrows == bb->nrows, "rows %zu vs %zu", ba->nrows, bb->nrows);
	CHECK(ba->disp.len == bb->disp.len && !memcmp(ba->disp.text, bb->disp.text, bb->disp.len) &&
	      !memcmp(ba->disp.attr, bb->disp.attr, bb->disp.len), "display text differs");
	for (size_t i = 0; i < ba->nrows && i < bb->nrows; i++)
		CHECK(!memcmp(&ba->rows[i], &bb->rows[i], sizeof ba->rows[i]), "row %zu differs", i);
	/* A width change re-wraps everything. */
	ui_pane_layout(&a, 40, 6);
	CHECK(ba->nrows < bb->nrows, "wider pane, fewer rows");
	ui_pane_clear(&a);
	ui_pane_clear(&b);
}

int main(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	ui_width_locale_changed();
	RUN(test_layout_default);
	RUN(test_layout_fallbacks);
	RUN(test_layout_property);
	RUN(test_status);
	RUN(test_pane_scroll);
	RUN(test_pane_reasoning_fold);
	RUN(test_reasoning_header_fits);
	RUN(test_pane_incremental);
	return check_finish();
}
