/*
 * pane.c — scrollback blocks, their wrapped rows, scrolling and drawing (see pane.h).
 */
#include "ui/pane.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/glyphs.h"
#include "ui/status.h"
#include "ui/theme.h"
#include "ui/width.h"
#include "ui/wrap.h"

void ui_pane_init(struct ui_pane *p)
{
	memset(p, 0, sizeof *p);
	p->follow = true;
}

static void block_free(struct ui_block *b)
{
	if (!b)
		return;
	free(b->raw);
	ui_text_free(&b->disp);
	free(b->rows);
	free(b);
}

void ui_pane_clear(struct ui_pane *p)
{
	for (size_t i = 0; i < p->n; i++)
		block_free(p->b[i]);
	free(p->b);
	size_t w = p->width, h = p->height;
	ui_pane_init(p);
	p->width = w;
	p->height = h;
}

int ui_block_append(struct ui_block *b, const char *s, size_t n)
{
	if (!n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *r = realloc(b->raw, cap);
		if (!r)
			return -1;
		b->raw = r;
		b->cap = cap;
	}
	memcpy(b->raw + b->len, s, n);
	b->len += n;
	b->raw[b->len] = '\0';
	b->dirty = true;
	return 0;
}

struct ui_block *ui_pane_add(struct ui_pane *p, enum ui_block_kind kind, const char *text,
			     size_t len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct ui_block **nb = realloc(p->b, cap * sizeof *nb);
		if (!nb)
			return NULL;
		p->b = nb;
		p->cap = cap;
	}
	struct ui_block *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->kind = kind;
	b->secs = -1;
	b->tokens = -1;
	b->dirty = true;
	b->lead_blank = p->n > 0;
	if (ui_block_append(b, text, len)) {
		block_free(b);
		return NULL;
	}
	p->b[p->n++] = b;
	return b;
}

void ui_pane_drop(struct ui_pane *p, enum ui_block_kind kind)
{
	size_t k = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->b[i]->kind == kind)
			block_free(p->b[i]);
		else
			p->b[k++] = p->b[i];
	}
	p->n = k;
	if (k && p->b[0]->lead_blank) {
		p->b[0]->lead_blank = false;
		ui_block_touch(p->b[0]);
	}
}

static int add_row(struct ui_block *b, size_t off, size_t len, size_t indent, int fill,
		   enum ui_row_kind kind)
{
	if (b->nrows == b->rcap) {
		size_t cap = b->rcap ? b->rcap * 2 : 16;
		struct ui_row *r = realloc(b->rows, cap * sizeof *r);
		if (!r)
			return -1;
		b->rows = r;
		b->rcap = cap;
	}
	b->rows[b->nrows++] = (struct ui_row){(uint32_t)off, (uint32_t)len,
					      (uint16_t)(indent > 0xffff ? 0xffff : indent),
					      (int8_t)fill, (uint8_t)kind};
	return 0;
}

struct wrap_ctx {
	struct ui_block *b;
	size_t base, hang;
	int fill;
};

static int wrap_row(void *ud, size_t off, size_t len, size_t cols, size_t row)
{
	struct wrap_ctx *c = ud;
	(void)cols;
	return add_row(c->b, c->base + off, len, row ? c->hang : 0, c->fill, UI_ROW_TEXT);
}

static uint8_t base_style(enum ui_block_kind k)
{
	switch (k) {
	case UI_B_USER: return UI_EL_USER;
	case UI_B_ANSWER: return UI_EL_ANSWER;
	case UI_B_REASONING: return UI_EL_REASONING;
	case UI_B_NOTICE: return UI_EL_NOTICE;
	case UI_B_ERROR: return UI_EL_ERROR;
	}
	return UI_EL_NORMAL;
}

static int render_line(struct ui_block *b, struct ui_md *md, const char *s, size_t n,
		       bool first_line, size_t width)
{
	size_t start = b->disp.len;
	struct ui_md_line info = {0, -1};
	if (b->kind == UI_B_ANSWER) {
		if (ui_md_line(md, s, n, UI_EL_ANSWER, &b->disp, &info))
			return -1;
	} else {
		ui_text_line_start(&b->disp);
		if (b->kind == UI_B_USER) {
			/* "› " marks the question; its continuation lines line up under it. */
			if (ui_text_put(&b->disp, first_line ? "\xe2\x80\xba " : "  ",
					first_line ? 4 : 2, UI_EL_PROMPT))
				return -1;
			info.hang = 2;
		}
		if (ui_text_put(&b->disp, s, n, base_style(b->kind)))
			return -1;
	}
	struct wrap_ctx c = {b, start, info.hang, info.fill};
	if (start > UINT32_MAX || b->disp.len > UINT32_MAX)
		return -1;
	return ui_wrap(b->disp.text + start, b->disp.len - start, width, info.hang, wrap_row, &c);
}

static int render_block(struct ui_block *b, size_t width)
{
	size_t pos;
	struct ui_md md = {0};
	if (b->ck_valid && b->width == width) {
		b->disp.len = b->ck_disp;
		b->nrows = b->ck_rows;
		pos = b->ck_raw;
		md = b->ck_md;
	} else {
		ui_text_reset(&b->disp);
		b->nrows = 0;
		b->ck_valid = false;
		pos = 0;
		if (b->lead_blank && add_row(b, 0, 0, 0, -1, UI_ROW_BLANK))
			return -1;
		if (b->kind == UI_B_REASONING) {
			if (add_row(b, 0, 0, 0, -1, UI_ROW_HEADER))
				return -1;
			if (b->folded || !b->len)
				goto done;
		}
	}
	for (;;) {
		/* raw is NULL while the block is empty: memchr must not see it */
		const char *nl = pos < b->len ? memchr(b->raw + pos, '\n', b->len - pos) : NULL;
		size_t end = nl ? (size_t)(nl - b->raw) : b->len;
		if (!nl) {
			/* The last line may still grow: the next render starts here. */
			b->ck_raw = pos;
			b->ck_disp = b->disp.len;
			b->ck_rows = b->nrows;
			b->ck_md = md;
			b->ck_valid = true;
		}
		if (render_line(b, &md, b->raw + pos, end - pos, pos == 0, width))
			return -1;
		if (!nl)
			break;
		pos = end + 1;
	}
	if (b->kind == UI_B_ANSWER && b->stopped) {
		size_t start = b->disp.len;
		ui_text_line_start(&b->disp);
		static const char note[] = "[stopped]";
		if (ui_text_put(&b->disp, note, sizeof note - 1, UI_EL_NOTICE) ||
		    add_row(b, start, b->disp.len - start, 0, -1, UI_ROW_TEXT))
			return -1;
	}
done:
	b->width = width;
	b->dirty = false;
	return 0;
}

static size_t max_top(const struct ui_pane *p)
{
	return p->total > p->height ? p->total - p->height : 0;
}

int ui_pane_layout(struct ui_pane *p, size_t width, size_t height)
{
	if (width < 1)
		width = 1;
	size_t old_total = p->total, old_width = p->width, total = 0;
	for (size_t i = 0; i < p->n; i++) {
		struct ui_block *b = p->b[i];
		if ((b->dirty || b->width != width) && render_block(b, width))
			return -1;
		total += b->nrows;
	}
	if (old_width && old_width != width && !p->follow && old_total)
		p->top = (size_t)((double)p->top * (double)total / (double)old_total);
	p->width = width;
	p->height = height;
	p->total = total;
	if (p->top > max_top(p))
		p->top = max_top(p);
	return 0;
}

size_t ui_pane_first_row(const struct ui_pane *p)
{
	return p->follow ? max_top(p) : p->top;
}

void ui_pane_scroll(struct ui_pane *p, long delta)
{
	long cur = (long)ui_pane_first_row(p), mt = (long)max_top(p);
	long t = cur + delta;
	t = t < 0 ? 0 : t > mt ? mt : t;
	p->top = (size_t)t;
	p->follow = t >= mt;
}

void ui_pane_home(struct ui_pane *p)
{
	p->top = 0;
	p->follow = max_top(p) == 0;
}

void ui_pane_end(struct ui_pane *p)
{
	p->follow = true;
	p->top = max_top(p);
}

struct ui_block *ui_pane_block_at(const struct ui_pane *p, size_t row, size_t *start)
{
	size_t acc = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (row < acc + p->b[i]->nrows) {
			if (start)
				*start = acc;
			return p->b[i];
		}
		acc += p->b[i]->nrows;
	}
	return NULL;
}

struct ui_block *ui_pane_last(const struct ui_pane *p, enum ui_block_kind kind)
{
	for (size_t i = p->n; i-- > 0;)
		if (p->b[i]->kind == kind)
			return p->b[i];
	return NULL;
}

size_t ui_pane_row_of(const struct ui_pane *p, const struct ui_block *b)
{
	size_t acc = 0;
	for (size_t i = 0; i < p->n && p->b[i] != b; i++)
		acc += p->b[i]->nrows;
	return acc;
}

void ui_reasoning_header(const struct ui_block *b, double now_ms, size_t width, char *buf,
			 size_t size)
{
	const char *arrow = b->folded ? "\xe2\x96\xb8 " : "\xe2\x96\xbe "; /* ▸ ▾ */
	double secs = b->live ? (now_ms - b->t0_ms) / 1000.0 : b->secs;
	if (secs < 0 && b->live)
		secs = 0;
	char t[32] = "";
	if (secs >= 0)
		ui_duration(secs, t, sizeof t);
	long long n = (long long)b->tokens;
	const char *s_tok = n == 1 ? "" : "s", *stop = b->stopped ? " [stopped]" : "";
	/* Longest first; the first that fits the width is shown, so the fold arrow and the
	   figures stay readable in a narrow pane instead of being cut at the edge. */
	char v[4][160];
	int nv = 0;
	if (b->live) {
		if (n >= 0) {
			snprintf(v[nv++], sizeof v[0], "%sThinking... %s, %lld token%s", arrow, t, n, s_tok);
			snprintf(v[nv++], sizeof v[0], "%sThinking %s, %lld tok", arrow, t, n);
			snprintf(v[nv++], sizeof v[0], "%s%s, %lld tok", arrow, t, n);
		} else {
			snprintf(v[nv++], sizeof v[0], "%sThinking... %s", arrow, t);
		}
		snprintf(v[nv++], sizeof v[0], "%s%s", arrow, t);
	} else if (!b->len) {
		snprintf(v[nv++], sizeof v[0], "%sNo reasoning%s", arrow, b->stopped ? " (stopped)" : "");
		snprintf(v[nv++], sizeof v[0], "%s-%s", arrow, stop);
	} else if (n >= 0) {
		snprintf(v[nv++], sizeof v[0], "%sThought%s%s (%lld token%s)%s", arrow, *t ? " for " : "",
			 t, n, s_tok, stop);
		snprintf(v[nv++], sizeof v[0], "%s%s%s%lld tok%s", arrow, t, *t ? ", " : "", n, stop);
		snprintf(v[nv++], sizeof v[0], "%s%lld tok%s", arrow, n, stop);
	} else {
		snprintf(v[nv++], sizeof v[0], "%sThought%s%s%s", arrow, *t ? " for " : "", t, stop);
		snprintf(v[nv++], sizeof v[0], "%s%s%s", arrow, t, stop);
	}
	int pick = nv - 1;
	for (int i = 0; i < nv; i++)
		if (ui_str_width(v[i], strlen(v[i])) <= width) {
			pick = i;
			break;
		}
	snprintf(buf, size, "%s", v[pick]);
}

/* Writes one cell: a spacing character and up to CCHARW_MAX - 1 combining marks. */
static void put_cell(WINDOW *w, wchar_t *wc, int nwc, attr_t a)
{
	cchar_t cc;
	wc[nwc] = L'\0';
	setcchar(&cc, wc, a & ~A_COLOR, (short)PAIR_NUMBER(a), NULL);
	wadd_wch(w, &cc);
}

void ui_draw_text(void *win, const char *s, const uint8_t *attr, size_t len,
		  const unsigned long *attrs, uint8_t fixed, int maxcols)
{
	WINDOW *w = win;
	wchar_t wc[CCHARW_MAX + 1];
	int nwc = 0, cols = 0;
	attr_t a = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = ui_utf8_next(s + i, len - i, &cp);
		attr_t ca = attrs[attr ? attr[i] : fixed];
		i += k;
		cp = ui_glyph(cp);
		int cw = ui_cp_width(cp);
		if (cw < 0)
			cp = UI_REPLACEMENT, cw = 1;
		if (cw == 0) {
			if (nwc == 0) /* a mark with nothing to sit on: give it a space */
				wc[nwc++] = L' ', a = ca, cols++;
			if (nwc < CCHARW_MAX)
				wc[nwc++] = (wchar_t)cp;
			continue;
		}
		if (cols + cw > maxcols)
			break;
		if (nwc)
			put_cell(w, wc, nwc, a);
		nwc = 0;
		wc[nwc++] = (wchar_t)cp;
		a = ca;
		cols += cw;
	}
	if (nwc)
		put_cell(w, wc, nwc, a);
}

static void pad_to(WINDOW *w, int y, int x0, int width, attr_t a)
{
	int cy, cx;
	getyx(w, cy, cx);
	if (cy != y)
		return;
	wattrset(w, a);
	for (int x = cx; x < x0 + width; x++)
		waddch(w, ' ');
	wattrset(w, A_NORMAL);
}

void ui_pane_draw(void *win, const struct ui_pane *p, int y0, const unsigned long *attrs,
		  double now_ms)
{
	WINDOW *w = win;
	size_t first = ui_pane_first_row(p), bstart = 0, bi = 0, acc = 0;
	/* Find the block of the first row once, then walk forward. */
	while (bi < p->n && acc + p->b[bi]->nrows <= first)
		acc += p->b[bi++]->nrows;
	bstart = acc;
	int width = (int)p->width;
	for (size_t y = 0; y < p->height; y++) {
		size_t r = first + y;
		while (bi < p->n && r >= bstart + p->b[bi]->nrows)
			bstart += p->b[bi++]->nrows;
		wmove(w, y0 + (int)y, 0);
		if (bi >= p->n) {
			wclrtoeol(w);
			continue;
		}
		const struct ui_block *b = p->b[bi];
		const struct ui_row *row = &b->rows[r - bstart];
		if (row->kind == UI_ROW_HEADER) {
			char hdr[160];
			ui_reasoning_header(b, now_ms, p->width, hdr, sizeof hdr);
			ui_draw_text(w, hdr, NULL, strlen(hdr), attrs, UI_EL_SECTION, width);
			wclrtoeol(w);
			continue;
		}
		if (row->kind == UI_ROW_TEXT) {
			int ind = row->indent < width ? row->indent : 0;
			if (ind) {
				wattrset(w, row->fill >= 0 ? attrs[row->fill] : A_NORMAL);
				for (int i = 0; i < ind; i++)
					waddch(w, ' ');
				wattrset(w, A_NORMAL);
			}
			ui_draw_text(w, b->disp.text + row->off, b->disp.attr + row->off, row->len,
				  attrs, 0, width - ind);
		}
		if (row->kind == UI_ROW_TEXT && row->fill >= 0)
			pad_to(w, y0 + (int)y, 0, width, attrs[row->fill]);
		else
			wclrtoeol(w);
	}
}
