/*
 * test_ui_text.c — the TUI's text pipeline: UTF-8 decoding, character widths, word
 * wrap, sanitising and light Markdown (ui/width.c, ui/wrap.c, ui/render_md.c).
 */
#include <locale.h>
#include <stdint.h>

#include "tests/check.h"
#include "ui/render_md.h"
#include "ui/theme.h"
#include "ui/width.h"
#include "ui/wrap.h"

struct rows {
	size_t off[256], len[256], cols[256];
	size_t n;
};

static int collect(void *ud, size_t off, size_t len, size_t cols, size_t row)
{
	struct rows *r = ud;
	if (r->n < 256) {
		r->off[r->n] = off;
		r->len[r->n] = len;
		r->cols[r->n] = cols;
	}
	r->n++;
	(void)row;
	return 0;
}

static void wrap(const char *s, size_t width, size_t hang, struct rows *r)
{
	r->n = 0;
	ui_wrap(s, strlen(s), width, hang, collect, r);
}

static int row_is(const char *s, const struct rows *r, size_t i, const char *want)
{
	return i < r->n && r->len[i] == strlen(want) && !memcmp(s + r->off[i], want, r->len[i]);
}

static void test_utf8_decode(void)
{
	uint32_t cp;
	CHECK(ui_utf8_next("A", 1, &cp) == 1 && cp == 'A', "ascii");
	CHECK(ui_utf8_next("\xc3\xa9", 2, &cp) == 2 && cp == 0xE9, "2-byte");
	CHECK(ui_utf8_next("\xe4\xb8\xad", 3, &cp) == 3 && cp == 0x4E2D, "3-byte");
	CHECK(ui_utf8_next("\xf0\x9f\x98\x80", 4, &cp) == 4 && cp == 0x1F600, "4-byte");
	CHECK(ui_utf8_next("\xe4\xb8", 2, &cp) == 1 && cp == UI_REPLACEMENT, "truncated");
	CHECK(ui_utf8_next("\xc0\xaf", 2, &cp) == 1 && cp == UI_REPLACEMENT, "overlong");
	CHECK(ui_utf8_next("\xed\xa0\x80", 3, &cp) == 1 && cp == UI_REPLACEMENT, "surrogate");
	CHECK(ui_utf8_next("\xf4\x90\x80\x80", 4, &cp) == 1 && cp == UI_REPLACEMENT, "> 10FFFF");
	CHECK(ui_utf8_next("\x80", 1, &cp) == 1 && cp == UI_REPLACEMENT, "lone continuation");
	char b[4];
	for (uint32_t c = 1; c < 0x110000; c += 97) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		size_t n = ui_utf8_put(c, b);
		uint32_t back;
		CHECK(ui_utf8_next(b, n, &back) == n && back == c, "round trip U+%04X", c);
	}
}

static void test_widths(void)
{
	CHECK(ui_cp_width('a') == 1, "a");
	CHECK(ui_cp_width(0x4E2D) == 2, "CJK is wide: %d", ui_cp_width(0x4E2D));
	CHECK(ui_cp_width(0xAC00) == 2, "Hangul is wide");
	CHECK(ui_cp_width(0x1F600) == 2, "emoji is wide: %d", ui_cp_width(0x1F600));
	CHECK(ui_cp_width(0x0301) == 0, "combining acute is zero width");
	CHECK(ui_cp_width(0x200D) == 0, "ZWJ is zero width");
	CHECK(ui_cp_width(0x1B) == -1, "ESC must not be printed");
	CHECK(ui_cp_width(0x7F) == -1, "DEL must not be printed");
	CHECK(ui_cp_width(0x9B) == -1, "C1 CSI must not be printed");
	CHECK(ui_str_width("a\xe4\xb8\xad" "e\xcc\x81", 7) == 4, "a + CJK + e with acute");
	/* Fit never splits a character nor separates a mark from its base. */
	CHECK(ui_str_fit("a\xe4\xb8\xad" "b", 5, 2) == 1, "CJK that does not fit is left out");
	CHECK(ui_str_fit("ae\xcc\x81x", 5, 2) == 4, "the mark stays with its e");
}

static void test_wrap_words(void)
{
	struct rows r;
	const char *s = "hello world foo";
	wrap(s, 11, 0, &r);
	CHECK(r.n == 2 && row_is(s, &r, 0, "hello world") && row_is(s, &r, 1, "foo"),
	      "two rows, got %zu", r.n);
	s = "abc   def";
	wrap(s, 4, 0, &r);
	CHECK(r.n == 2 && row_is(s, &r, 0, "abc") && row_is(s, &r, 1, "def"),
	      "spaces at the break are dropped (%zu rows)", r.n);
	s = "abcdefghij";
	wrap(s, 4, 0, &r);
	CHECK(r.n == 3 && row_is(s, &r, 0, "abcd") && row_is(s, &r, 2, "ij"), "long word cut");
	s = "aaa bbb ccc";
	wrap(s, 7, 2, &r);
	CHECK(r.n == 2 && row_is(s, &r, 0, "aaa bbb") && row_is(s, &r, 1, "ccc"), "hang");
	s = "aaa bbb ccc ddd";
	wrap(s, 7, 4, &r);
	CHECK(r.n == 3 && row_is(s, &r, 1, "ccc") && row_is(s, &r, 2, "ddd"),
	      "continuation rows are narrower by the hang (%zu rows)", r.n);
	s = "  indented";
	wrap(s, 20, 0, &r);
	CHECK(r.n == 1 && row_is(s, &r, 0, "  indented"), "leading spaces kept");
	wrap("", 10, 0, &r);
	CHECK(r.n == 1 && r.len[0] == 0, "an empty line is one empty row");
}

static void test_wrap_wide_and_marks(void)
{
	struct rows r;
	const char *s = "\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad\xe6\x96\x87\xe4\xb8\xad"; /* 中文中文中 */
	wrap(s, 5, 0, &r);
	CHECK(r.n == 3, "5 wide chars in 5 columns: 3 rows, got %zu", r.n);
	for (size_t i = 0; i < r.n; i++)
		CHECK(r.cols[i] <= 5 && r.len[i] % 3 == 0, "row %zu cut inside a character", i);
	s = "e\xcc\x81" "e\xcc\x81" "e\xcc\x81"; /* three e-acute, decomposed */
	wrap(s, 2, 0, &r);
	CHECK(r.n == 2 && r.len[0] == 6 && r.len[1] == 3, "marks stay with their base");
	s = "\xf0\x9f\x98\x80";
	wrap(s, 1, 0, &r);
	CHECK(r.n == 1 && r.len[0] == 4, "a char wider than the row gets a row of its own");
}

/* Property: on mixed text, rows fit, start on a character boundary that is not a mark,
   and keep every non-space byte in order. */
static void test_wrap_property(void)
{
	static const char *const atoms[] = {"a", "bc", " ", "  ", "\xe4\xb8\xad", "e\xcc\x81",
					    "\xf0\x9f\x98\x80", "word", "x\xe2\x80\x8dy"};
	uint64_t rng = 42;
	for (int iter = 0; iter < 300; iter++) {
		char s[400];
		size_t len = 0;
		int n = 1 + (int)(rng % 40);
		for (int i = 0; i < n; i++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			const char *a = atoms[(rng >> 33) % (sizeof atoms / sizeof atoms[0])];
			memcpy(s + len, a, strlen(a));
			len += strlen(a);
		}
		s[len] = '\0';
		size_t width = 1 + (size_t)(rng >> 40) % 12, hang = (size_t)(rng >> 50) % 3;
		struct rows r;
		wrap(s, width, hang, &r);
		CHECK(r.n >= 1 && r.n <= 256, "row count %zu", r.n);
		char kept[400];
		size_t k = 0;
		for (size_t i = 0; i < r.n && i < 256; i++) {
			size_t avail = i == 0 ? width : hang < width ? width - hang : 1;
			size_t w = ui_str_width(s + r.off[i], r.len[i]);
			uint32_t cp = 0;
			if (r.len[i])
				ui_utf8_next(s + r.off[i], r.len[i], &cp);
			CHECK(w <= avail || (w <= 2 && avail < 2), "iter %d row %zu: %zu cols > %zu",
			      iter, i, w, avail);
			CHECK(!r.len[i] || ((unsigned char)s[r.off[i]] & 0xC0) != 0x80,
			      "iter %d row %zu starts inside a character", iter, i);
			CHECK(!r.len[i] || ui_cp_width(cp) != 0, "iter %d row %zu starts with a mark",
			      iter, i);
			for (size_t j = 0; j < r.len[i]; j++)
				if (s[r.off[i] + j] != ' ')
					kept[k++] = s[r.off[i] + j];
		}
		char want[400];
		size_t m = 0;
		for (size_t j = 0; j < len; j++)
			if (s[j] != ' ')
				want[m++] = s[j];
		CHECK(k == m && !memcmp(kept, want, m), "iter %d: text lost or reordered", iter);
	}
}

/* Renders one Markdown line; returns the display text (static buffer). */
static const char *md(struct ui_md *st, const char *line, struct ui_text *t,
		      struct ui_md_line *info)
{
	static char out[1024];
	ui_text_reset(t);
	ui_md_line(st, line, strlen(line), UI_EL_ANSWER, t, info);
	size_t n = t->len < sizeof out - 1 ? t->len : sizeof out - 1;
	memcpy(out, t->text, n);
	out[n] = '\0';
	return out;
}

static int all_attr(const struct ui_text *t, size_t from, size_t to, uint8_t a)
{
	for (size_t i = from; i < to; i++)
		if (t->attr[i] != a)
			return 0;
	return 1;
}

static void test_markdown_inline(void)
{
	struct ui_md st = {0};
	struct ui_text t = {0};
	struct ui_md_line info;
	const char *o = md(&st, "# Title here", &t, &info);
	CHECK(!strcmp(o, "Title here") && all_attr(&t, 0, t.len, UI_EL_HEADING), "heading: '%s'", o);
	o = md(&st, "**bold** text", &t, &info);
	CHECK(!strcmp(o, "bold text"), "bold markers hidden: '%s'", o);
	CHECK(all_attr(&t, 0, 4, UI_EL_BOLD) && all_attr(&t, 4, 9, UI_EL_ANSWER), "bold spans");
	o = md(&st, "use `x = 1` here", &t, &info);
	CHECK(!strcmp(o, "use x = 1 here") && all_attr(&t, 4, 9, UI_EL_CODE) &&
	      all_attr(&t, 0, 4, UI_EL_ANSWER), "inline code: '%s'", o);
	o = md(&st, "``a ` b``", &t, &info);
	CHECK(!strcmp(o, "a ` b") && all_attr(&t, 0, t.len, UI_EL_CODE), "double backticks: '%s'", o);
	o = md(&st, "2*3*4 = 24", &t, &info);
	CHECK(!strcmp(o, "2*3*4 = 24") && all_attr(&t, 0, t.len, UI_EL_ANSWER),
	      "arithmetic stars stay: '%s'", o);
	o = md(&st, "2**3 + 4**2 = 24", &t, &info);
	CHECK(!strcmp(o, "2**3 + 4**2 = 24"), "powers stay: '%s'", o);
	o = md(&st, "unclosed **bold and `code", &t, &info);
	CHECK(!strcmp(o, "unclosed **bold and `code"), "unclosed markers stay: '%s'", o);
	o = md(&st, "**a `**` b** end", &t, &info);
	CHECK(!strcmp(o, "a ** b end"), "code inside bold: '%s'", o);
	ui_text_free(&t);
}

static void test_markdown_blocks(void)
{
	struct ui_md st = {0};
	struct ui_text t = {0};
	struct ui_md_line info;
	const char *o = md(&st, "- item one", &t, &info);
	CHECK(!strcmp(o, "\xe2\x80\xa2 item one") && info.hang == 2, "bullet: '%s' hang %zu", o,
	      info.hang);
	CHECK(all_attr(&t, 0, 3, UI_EL_LIST), "bullet styled");
	o = md(&st, "  * nested", &t, &info);
	CHECK(!strcmp(o, "  \xe2\x80\xa2 nested") && info.hang == 4, "nested bullet hang %zu",
	      info.hang);
	o = md(&st, "12. twelfth", &t, &info);
	CHECK(!strcmp(o, "12. twelfth") && info.hang == 4 && all_attr(&t, 0, 3, UI_EL_LIST),
	      "numbered: hang %zu", info.hang);
	o = md(&st, "-5 is negative", &t, &info);
	CHECK(!strcmp(o, "-5 is negative") && info.hang == 0, "not a list: '%s'", o);

	o = md(&st, "```python", &t, &info);
	CHECK(st.in_fence && info.fill == UI_EL_CODEBLOCK && all_attr(&t, 0, t.len, UI_EL_CODEBLOCK),
	      "fence opens");
	o = md(&st, "x = **not bold**", &t, &info);
	CHECK(!strcmp(o, "x = **not bold**") && all_attr(&t, 0, t.len, UI_EL_CODEBLOCK),
	      "no inline markup in code: '%s'", o);
	o = md(&st, "``", &t, &info);
	CHECK(st.in_fence, "a shorter fence does not close");
	o = md(&st, "```", &t, &info);
	CHECK(!st.in_fence, "fence closes");
	o = md(&st, "after", &t, &info);
	CHECK(!strcmp(o, "after") && all_attr(&t, 0, t.len, UI_EL_ANSWER) && info.fill == -1,
	      "text after the block");
	o = md(&st, "~~~", &t, &info);
	CHECK(st.in_fence && st.fence_ch == '~', "tilde fence");
	o = md(&st, "```", &t, &info);
	CHECK(st.in_fence, "backticks do not close a tilde fence");
	ui_text_free(&t);
}

static void test_sanitise(void)
{
	struct ui_text t = {0};
	/* An OSC title change, a colour change, a tab, CR, a bidi override, bad UTF-8. */
	const char raw[] = "a\x1b]0;pwned\x07" "b\x1b[31mc\td\r\xe2\x80\xae" "e\xff" "f\xc2\x9b" "g";
	ui_text_put(&t, raw, sizeof raw - 1, UI_EL_ANSWER);
	int clean = 1;
	for (size_t i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.text[i];
		if (c < 0x20 || c == 0x7f)
			clean = 0;
		if (c == 0xc2 && i + 1 < t.len && (unsigned char)t.text[i + 1] < 0xa0)
			clean = 0; /* a C1 control */
		if (c == 0xe2 && i + 2 < t.len && (unsigned char)t.text[i + 1] == 0x80 &&
		    (unsigned char)t.text[i + 2] == 0xae)
			clean = 0; /* U+202E */
	}
	CHECK(clean, "control or bidi characters reached the display text");
	CHECK(memmem(t.text, t.len, "pwned", 5) != NULL, "the text itself is kept, visibly");
	/* "c" at column ... the tab goes to the next multiple of 4. */
	const char *tab = memmem(t.text, t.len, "c", 1);
	size_t col = ui_str_width(t.text, (size_t)(tab - t.text)) + 1;
	size_t spaces = 0;
	while (tab[1 + spaces] == ' ')
		spaces++;
	CHECK((col + spaces) % 4 == 0 && spaces >= 1 && spaces <= 4, "tab to the next stop");
	for (size_t i = 0; i < t.len;) {
		uint32_t cp;
		size_t n = ui_utf8_next(t.text + i, t.len - i, &cp);
		CHECK(!(cp == UI_REPLACEMENT && n == 1), "invalid UTF-8 left in the output at %zu", i);
		i += n;
	}
	ui_text_free(&t);
}

int main(void)
{
	setlocale(LC_CTYPE, "C.UTF-8");
	ui_width_locale_changed();
	RUN(test_utf8_decode);
	RUN(test_widths);
	RUN(test_wrap_words);
	RUN(test_wrap_wide_and_marks);
	RUN(test_wrap_property);
	RUN(test_markdown_inline);
	RUN(test_markdown_blocks);
	RUN(test_sanitise);
	return check_finish();
}
