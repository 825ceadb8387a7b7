/*
 * fuzz_render_md.c — libFuzzer harness for the Markdown renderer (ui/render_md.c).
 *
 * The input is model text: it is cut at '\n' and each line rendered with ui_md_line,
 * keeping the fence state across lines, in a UTF-8 locale as the TUI runs. Traps unless
 * the output is valid UTF-8 holding no C0 or C1 control, DEL or bidi control, every
 * byte has a style id below UI_EL_COUNT, and the layout hints are sane.
 *
 *   make fuzz && build/fuzz/fuzz_render_md -max_total_time=180 tools/fuzz/corpus/render_md
 */
#include <locale.h>
#include <stdint.h>
#include <string.h>

#include "ui/render_md.h"
#include "ui/theme.h"
#include "ui/width.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct ui_text *t, size_t from)
{
	for (size_t i = from; i < t->len; i++)
		if (t->attr[i] >= UI_EL_COUNT)
			__builtin_trap();
	const char *s = t->text + from;
	size_t n = t->len - from;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = ui_utf8_next(s + i, n - i, &cp);
		if (!k || (cp == UI_REPLACEMENT && memcmp(s + i, "\xEF\xBF\xBD", 3)))
			__builtin_trap(); /* invalid UTF-8 in the output */
		if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || (cp >= 0x202A && cp <= 0x202E) ||
		    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F || cp == 0x061C)
			__builtin_trap();
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		init = 1;
		setlocale(LC_CTYPE, "C.UTF-8");
	}
	struct ui_md st = {0};
	struct ui_text out = {0};
	const char *s = (const char *)data;
	size_t a = 0;
	while (a <= size) {
		const char *nl = memchr(s + a, '\n', size - a);
		size_t b = nl ? (size_t)(nl - s) : size;
		struct ui_md_line info;
		size_t from = out.len;
		if (ui_md_line(&st, s + a, b - a, UI_EL_ANSWER, &out, &info))
			__builtin_trap();
		if (info.fill != -1 && (info.fill < 0 || info.fill >= UI_EL_COUNT))
			__builtin_trap();
		if (info.hang > 4 * (b - a) + 8)
			__builtin_trap();
		check(&out, from);
		a = b + 1;
	}
	ui_text_free(&out);
	return 0;
}
