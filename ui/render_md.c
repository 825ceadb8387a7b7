/*
 * render_md.c — sanitising text writer and the light Markdown renderer (render_md.h).
 */
#include "ui/render_md.h"

#include <stdlib.h>
#include <string.h>

#include "ui/theme.h"
#include "ui/width.h"

void ui_text_free(struct ui_text *t)
{
	if (!t)
		return;
	free(t->text);
	free(t->attr);
	memset(t, 0, sizeof *t);
}

void ui_text_reset(struct ui_text *t)
{
	t->len = 0;
	t->col = 0;
}

static int reserve(struct ui_text *t, size_t extra)
{
	if (extra > SIZE_MAX / 2 - t->len)
		return -1;
	size_t need = t->len + extra;
	if (need <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < need)
		cap *= 2;
	char *nt = realloc(t->text, cap);
	if (!nt)
		return -1;
	t->text = nt;
	uint8_t *na = realloc(t->attr, cap);
	if (!na)
		return -1;
	t->attr = na;
	t->cap = cap;
	return 0;
}

static void emit(struct ui_text *t, const char *b, size_t n, uint8_t style)
{
	memcpy(t->text + t->len, b, n);
	memset(t->attr + t->len, style, n);
	t->len += n;
}

/* Bidi embedding/override/isolate controls: they could make text read differently
   from what is stored, so they are never shown. */
static int is_bidi_control(uint32_t cp)
{
	return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == 0x200E || cp == 0x200F || cp == 0x061C;
}

int ui_text_put(struct ui_text *t, const char *s, size_t n, uint8_t style)
{
	/* Worst case per input byte: a tab (4 spaces) or an invalid byte (3-byte U+FFFD). */
	if (n > SIZE_MAX / 8 || reserve(t, 4 * n + 4))
		return -1;
	size_t i = 0;
	while (i < n) {
		/* ASCII printable runs are the common case: copy them whole. */
		size_t j = i;
		while (j < n && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x7F)
			j++;
		if (j > i) {
			emit(t, s + i, j - i, style);
			t->col += j - i;
			i = j;
			continue;
		}
		uint32_t cp;
		size_t k = ui_utf8_next(s + i, n - i, &cp);
		i += k;
		if (cp == '\r' || is_bidi_control(cp))
			continue;
		if (cp == '\t') {
			size_t spaces = 4 - t->col % 4;
			emit(t, "    ", spaces, style);
			t->col += spaces;
			continue;
		}
		int w = ui_cp_width(cp);
		if (w < 0) {
			cp = UI_REPLACEMENT;
			w = 1;
		}
		char buf[4];
		emit(t, buf, ui_utf8_put(cp, buf), style);
		t->col += (size_t)w;
	}
	return 0;
}

static int is_alnum_byte(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t run_of(const char *s, size_t n, size_t i, char c)
{
	size_t j = i;
	while (j < n && s[j] == c)
		j++;
	return j - i;
}

/* A closing run of exactly k backticks after `from`, or n. */
static size_t find_backticks(const char *s, size_t n, size_t from, size_t k)
{
	size_t j = from;
	while (j < n) {
		if (s[j] != '`') {
			j++;
			continue;
		}
		size_t m = run_of(s, n, j, '`');
		if (m == k)
			return j;
		j += m;
	}
	return n;
}

/* The closing "**" of an opener at i, or n. */
static size_t find_bold_close(const char *s, size_t n, size_t i)
{
	for (size_t j = i + 3; j + 1 < n; j++) {
		if (s[j] == '`') {
			/* Code spans are opaque: "**a `**` b**" closes after b. */
			size_t k = run_of(s, n, j, '`');
			size_t c = find_backticks(s, n, j + k, k);
			if (c < n) {
				j = c + k - 1;
				continue;
			}
			j += k - 1;
			continue;
		}
		if (s[j] == '*' && s[j + 1] == '*' && s[j - 1] != ' ' &&
		    (j + 2 >= n || !is_alnum_byte(s[j + 2])))
			return j;
	}
	return n;
}

static int inline_md(struct ui_text *o, const char *s, size_t n, uint8_t base, int depth)
{
	size_t i = 0, plain = 0;
	while (i < n) {
		char c = s[i];
		if (c == '`') {
			size_t k = run_of(s, n, i, '`');
			size_t close = find_backticks(s, n, i + k, k);
			if (close == n) {
				i += k;
				continue;
			}
			if (ui_text_put(o, s + plain, i - plain, base))
				return -1;
			const char *in = s + i + k;
			size_t len = close - (i + k);
			/* One space on both sides is padding (lets code start with a backtick). */
			if (len >= 2 && in[0] == ' ' && in[len - 1] == ' ' &&
			    run_of(in, len, 0, ' ') < len)
				in++, len -= 2;
			if (ui_text_put(o, in, len, UI_EL_CODE))
				return -1;
			i = plain = close + k;
			continue;
		}
		if (c == '*' && depth == 0 && i + 2 < n && s[i + 1] == '*' && s[i + 2] != ' ' &&
		    s[i + 2] != '*' && (i == 0 || !is_alnum_byte(s[i - 1]))) {
			size_t close = find_bold_close(s, n, i);
			if (close < n) {
				if (ui_text_put(o, s + plain, i - plain, base))
					return -1;
				uint8_t bs = base == UI_EL_HEADING ? base : UI_EL_BOLD;
				if (inline_md(o, s + i + 2, close - (i + 2), bs, depth + 1))
					return -1;
				i = plain = close + 2;
				continue;
			}
		}
		i++;
	}
	return ui_text_put(o, s + plain, n - plain, base);
}

/* A fence line: up to 3 spaces, then 3+ backticks or tildes. */
static int fence_at(const char *s, size_t n, size_t ind, char *ch, size_t *len)
{
	if (ind > 3 || ind >= n || (s[ind] != '`' && s[ind] != '~'))
		return 0;
	size_t k = run_of(s, n, ind, s[ind]);
	if (k < 3)
		return 0;
	/* A backtick fence's info string cannot contain backticks (that is inline code). */
	if (s[ind] == '`' && memchr(s + ind + k, '`', n - ind - k))
		return 0;
	*ch = s[ind];
	*len = k;
	return 1;
}

int ui_md_line(struct ui_md *st, const char *s, size_t n, uint8_t base, struct ui_text *out,
	       struct ui_md_line *info)
{
	ui_text_line_start(out);
	info->hang = 0;
	info->fill = -1;
	size_t ind = run_of(s, n, 0, ' ');
	char ch;
	size_t k;
	if (st->in_fence) {
		if (fence_at(s, n, ind, &ch, &k) && ch == st->fence_ch && k >= st->fence_n &&
		    run_of(s, n, ind + k, ' ') == n - ind - k)
			st->in_fence = false;
		info->fill = UI_EL_CODEBLOCK;
		return ui_text_put(out, s, n, UI_EL_CODEBLOCK);
	}
	if (fence_at(s, n, ind, &ch, &k)) {
		st->in_fence = true;
		st->fence_ch = ch;
		st->fence_n = k;
		info->fill = UI_EL_CODEBLOCK;
		return ui_text_put(out, s, n, UI_EL_CODEBLOCK);
	}
	if (ind <= 3 && ind < n && s[ind] == '#') {
		k = run_of(s, n, ind, '#');
		if (k <= 6 && (ind + k == n || s[ind + k] == ' ')) {
			size_t a = ind + k;
			a += run_of(s, n, a, ' ');
			size_t b = n;
			while (b > a && s[b - 1] == ' ')
				b--;
			return inline_md(out, s + a, b - a, UI_EL_HEADING, 0);
		}
	}
	/* Lists: "- x", "* x", "+ x", "1. x", "2) x". */
	size_t p = ind, digits = 0;
	while (p + digits < n && s[p + digits] >= '0' && s[p + digits] <= '9')
		digits++;
	int bullet = p + 1 < n && (s[p] == '-' || s[p] == '*' || s[p] == '+') && s[p + 1] == ' ';
	int number = digits >= 1 && digits <= 9 && p + digits + 1 < n &&
		     (s[p + digits] == '.' || s[p + digits] == ')') && s[p + digits + 1] == ' ';
	if (bullet || number) {
		size_t mlen = bullet ? 1 : digits + 1;
		size_t sp = run_of(s, n, p + mlen, ' ');
		if (sp > 4)
			sp = 1; /* more is indented code in Markdown; keep the text's own spaces */
		if (ui_text_put(out, s, ind, base))
			return -1;
		if (bullet ? ui_text_put(out, "\xe2\x80\xa2", 3, UI_EL_LIST)
			   : ui_text_put(out, s + p, mlen, UI_EL_LIST))
			return -1;
		if (ui_text_put(out, s + p + mlen, sp, base))
			return -1;
		info->hang = ind + mlen + sp;
		size_t a = p + mlen + sp;
		return inline_md(out, s + a, n - a, base, 0);
	}
	return inline_md(out, s, n, base, 0);
}
