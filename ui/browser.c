/*
 * browser.c — the conversation browser (see browser.h).
 */
#include "ui/browser.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui/keys.h"
#include "ui/pane.h"
#include "ui/render_md.h"
#include "ui/theme.h"
#include "ui/width.h"

#define LIST_LIMIT 500
#define HIT_LIMIT 200
#define MARK_OPEN "\x01"
#define MARK_CLOSE "\x02"

static void free_lists(struct ui_browser *b)
{
	app_convs_free(b->convs, b->nconv);
	app_hits_free(b->hits, b->nhits);
	b->convs = NULL;
	b->hits = NULL;
	b->nconv = b->nhits = 0;
}

static size_t count(const struct ui_browser *b)
{
	return b->qlen ? b->nhits : b->nconv;
}

static void reload(struct ui_browser *b)
{
	struct err e = {0};
	free_lists(b);
	b->sel = b->top = 0;
	int rc;
	if (!b->qlen) {
		rc = app_library_list(b->lib, LIST_LIMIT, &b->convs, &b->nconv, &e);
	} else {
		/* Prefix match on the word being typed, so results come as you type. */
		char q[300];
		char last = b->query[b->qlen - 1];
		snprintf(q, sizeof q, "%s%s", b->query, last == ' ' || last == '*' ? "" : "*");
		rc = app_library_search(b->lib, q, MARK_OPEN, MARK_CLOSE, HIT_LIMIT, &b->hits,
					&b->nhits, &e);
	}
	if (rc)
		snprintf(b->msg, sizeof b->msg, "%s", e.msg);
	else
		b->msg[0] = '\0';
}

int ui_browser_open(struct ui_browser *b, const struct app_chat *chat, struct err *e)
{
	if (!b->lib) {
		int rc = app_library_open(chat, &b->lib, e);
		if (rc)
			return rc;
	}
	/* Each opening starts from the full list. */
	b->confirm_cid = 0;
	b->qlen = 0;
	b->query[0] = '\0';
	reload(b);
	return 0;
}

void ui_browser_free(struct ui_browser *b)
{
	free_lists(b);
	app_library_close(b->lib);
	memset(b, 0, sizeof *b);
}

static int64_t sel_cid(const struct ui_browser *b, int64_t *mid)
{
	*mid = 0;
	if (b->sel >= count(b))
		return 0;
	if (b->qlen) {
		*mid = b->hits[b->sel].mid;
		return b->hits[b->sel].cid;
	}
	return b->convs[b->sel].id;
}

static void move_sel(struct ui_browser *b, long d)
{
	long n = (long)count(b), s = (long)b->sel + d;
	if (n == 0)
		return;
	b->sel = (size_t)(s < 0 ? 0 : s >= n ? n - 1 : s);
}

enum ui_browser_result ui_browser_key(struct ui_browser *b, int key, int64_t protect_cid,
				      int64_t *cid, int64_t *mid)
{
	*cid = *mid = 0;
	if (b->confirm_cid) {
		int64_t c = b->confirm_cid;
		b->confirm_cid = 0;
		if (key != 'y' && key != 'Y') {
			snprintf(b->msg, sizeof b->msg, "not deleted");
			return UI_BR_NONE;
		}
		struct err e = {0};
		if (app_library_delete(b->lib, c, &e)) {
			snprintf(b->msg, sizeof b->msg, "%s", e.msg);
			return UI_BR_NONE;
		}
		size_t keep = b->sel;
		reload(b);
		b->sel = keep;
		move_sel(b, 0);
		snprintf(b->msg, sizeof b->msg, "deleted conversation %lld", (long long)c);
		*cid = c;
		return UI_BR_DELETED;
	}
	switch (key) {
	case 27:
		return UI_BR_CLOSE;
	case '\r':
	case '\n':
	case UI_KEY_FN | KEY_ENTER:
		*cid = sel_cid(b, mid);
		return *cid ? UI_BR_OPEN : UI_BR_NONE;
	case UI_KEY_FN | KEY_UP: move_sel(b, -1); return UI_BR_NONE;
	case UI_KEY_FN | KEY_DOWN: move_sel(b, 1); return UI_BR_NONE;
	case UI_KEY_FN | KEY_PPAGE: move_sel(b, -10); return UI_BR_NONE;
	case UI_KEY_FN | KEY_NPAGE: move_sel(b, 10); return UI_BR_NONE;
	case UI_KEY_FN | KEY_HOME: b->sel = 0; return UI_BR_NONE;
	case UI_KEY_FN | KEY_END: move_sel(b, (long)count(b)); return UI_BR_NONE;
	case UI_KEY_FN | KEY_BACKSPACE:
	case 127:
	case 8:
		if (b->qlen) {
			do
				b->qlen--;
			while (b->qlen && ((unsigned char)b->query[b->qlen] & 0xC0) == 0x80);
			b->query[b->qlen] = '\0';
			reload(b);
		}
		return UI_BR_NONE;
	case UI_CTRL('u'):
		b->qlen = 0;
		b->query[0] = '\0';
		reload(b);
		return UI_BR_NONE;
	}
	if (key == UI_CTRL('d') || key == (UI_KEY_FN | KEY_DC) || (key == 'd' && !b->qlen)) {
		int64_t m, c = sel_cid(b, &m);
		if (!c)
			return UI_BR_NONE;
		if (c == protect_cid) {
			snprintf(b->msg, sizeof b->msg, "it is being generated; stop it first (Ctrl-C)");
			return UI_BR_NONE;
		}
		b->confirm_cid = c;
		return UI_BR_NONE;
	}
	if (key >= 0x20 && key != 0x7f && key < 0x110000 && !(key >= 0x80 && key < 0xa0)) {
		char u[4];
		size_t n = ui_utf8_put((uint32_t)key, u);
		if (b->qlen + n < sizeof b->query) {
			memcpy(b->query + b->qlen, u, n);
			b->qlen += n;
			b->query[b->qlen] = '\0';
			reload(b);
		}
	}
	return UI_BR_NONE;
}

static void ago(int64_t ms, char *buf, size_t size)
{
	double s = (double)time(NULL) - (double)ms / 1000.0;
	if (s < 60)
		snprintf(buf, size, "just now");
	else if (s < 3600)
		snprintf(buf, size, "%.0f min ago", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%.0f h ago", s / 3600);
	else
		snprintf(buf, size, "%.0f days ago", s / 86400);
}

/* Appends text on one line: newlines and tabs become spaces; MARK_OPEN..MARK_CLOSE
   spans get the match style. */
static void put_line(struct ui_text *t, const char *s, uint8_t style)
{
	uint8_t cur = style;
	size_t n = strlen(s), i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != '\n' && s[j] != '\t' && s[j] != '\r' && s[j] != MARK_OPEN[0] &&
		       s[j] != MARK_CLOSE[0])
			j++;
		ui_text_put(t, s + i, j - i, cur);
		if (j == n)
			break;
		if (s[j] == MARK_OPEN[0])
			cur = UI_EL_MATCH;
		else if (s[j] == MARK_CLOSE[0])
			cur = style;
		else
			ui_text_put(t, " ", 1, cur);
		i = j + 1;
	}
}

static void draw_line(WINDOW *w, int y, int width, struct ui_text *t, const unsigned long *attrs,
		      uint8_t fill)
{
	wmove(w, y, 0);
	wattrset(w, (attr_t)attrs[fill]);
	for (int x = 0; x < width; x++)
		waddch(w, ' ');
	wmove(w, y, 0);
	ui_draw_text(w, t->text, t->attr, t->len, attrs, fill, width);
	wattrset(w, A_NORMAL);
}

void ui_browser_draw(struct ui_browser *b, void *win, int h, int w, const unsigned long *attrs,
		     int64_t current_cid)
{
	WINDOW *win_ = win;
	int tw = w - 1; /* the last column is the border */
	struct ui_text t = {0};
	char buf[512];

	ui_text_reset(&t);
	snprintf(buf, sizeof buf, " Conversations (%zu%s)", count(b),
		 b->qlen ? " found" : "");
	put_line(&t, buf, UI_EL_TITLE_FOCUS);
	draw_line(win_, 0, tw, &t, attrs, UI_EL_TITLE_FOCUS);

	ui_text_reset(&t);
	put_line(&t, " Search: ", UI_EL_PROMPT);
	put_line(&t, b->query, UI_EL_BROWSER);
	put_line(&t, "\xe2\x96\x8f", UI_EL_PROMPT); /* a thin bar where typing goes */
	draw_line(win_, 1, tw, &t, attrs, UI_EL_BROWSER);

	int list_h = h - 3, per = 2, vis = list_h / per;
	if (vis < 1)
		vis = 1;
	if (b->sel < b->top)
		b->top = b->sel;
	if (b->sel >= b->top + (size_t)vis)
		b->top = b->sel - (size_t)vis + 1;
	size_t n = count(b);
	for (int i = 0; i < vis; i++) {
		size_t k = b->top + (size_t)i;
		int y = 2 + i * per;
		if (y + 1 >= h - 1 + 1)
			break;
		uint8_t st = k == b->sel ? UI_EL_SELECTED : UI_EL_BROWSER;
		struct ui_text l1 = {0}, l2 = {0};
		if (k < n && !b->qlen) {
			const struct app_conv *c = &b->convs[k];
			put_line(&l1, c->id == current_cid ? " \xe2\x97\x8f " : "   ", st);
			put_line(&l1, *c->title ? c->title : "(untitled)", st);
			char when[32];
			ago(c->updated_ms, when, sizeof when);
			snprintf(buf, sizeof buf, "   #%lld \xc2\xb7 %lld msg \xc2\xb7 %s", (long long)c->id,
				 (long long)c->n_messages, when);
			put_line(&l2, buf, st == UI_EL_SELECTED ? st : UI_EL_NOTICE);
		} else if (k < n) {
			const struct app_hit *hh = &b->hits[k];
			put_line(&l1, hh->cid == current_cid ? " \xe2\x97\x8f " : "   ", st);
			snprintf(buf, sizeof buf, "#%lld ", (long long)hh->cid);
			put_line(&l1, buf, st);
			put_line(&l1, *hh->title ? hh->title : "(untitled)", st);
			put_line(&l2, hh->in_reasoning ? "   [reasoning] " : "   ", st);
			put_line(&l2, hh->snippet, st == UI_EL_SELECTED ? st : UI_EL_BROWSER);
		}
		draw_line(win_, y, tw, &l1, attrs, k < n ? st : UI_EL_BROWSER);
		if (y + 1 < h - 1)
			draw_line(win_, y + 1, tw, &l2, attrs, k < n ? st : UI_EL_BROWSER);
		ui_text_free(&l1);
		ui_text_free(&l2);
	}
	for (int y = 2 + vis * per; y < h - 1; y++) {
		ui_text_reset(&t);
		draw_line(win_, y, tw, &t, attrs, UI_EL_BROWSER);
	}

	ui_text_reset(&t);
	if (b->confirm_cid) {
		snprintf(buf, sizeof buf, " Delete conversation %lld? y/n", (long long)b->confirm_cid);
		put_line(&t, buf, UI_EL_ERROR);
	} else if (b->msg[0]) {
		put_line(&t, " ", UI_EL_NOTICE);
		put_line(&t, b->msg, UI_EL_NOTICE);
	} else if (!n) {
		put_line(&t, b->qlen ? " no matches" : " no saved conversations yet", UI_EL_NOTICE);
	} else {
		put_line(&t, " Enter open \xc2\xb7 d/Del delete \xc2\xb7 Esc close", UI_EL_NOTICE);
	}
	draw_line(win_, h - 1, tw, &t, attrs, UI_EL_BROWSER);
	ui_text_free(&t);

	for (int y = 0; y < h; y++) {
		wmove(win_, y, w - 1);
		ui_draw_text(win_, "\xe2\x94\x82", NULL, 3, attrs, UI_EL_BORDER, 1);
	}
}
