/*
 * fuzz_theme.c — libFuzzer harness for ui_theme_parse (ui/theme.c).
 *
 * Feeds arbitrary bytes as a theme file. Errors must be negative and name the file; a
 * theme that parses must have a NUL-terminated name, colours that are `default`, a
 * palette index or an RGB value, known attribute bits only, and every colour must map
 * to a palette index the terminal has (ui_color_index for 8, 16, 88, 256 colours).
 *
 *   make fuzz && build/fuzz/fuzz_theme -max_total_time=180 tools/fuzz/corpus/theme
 */
#include <stdint.h>
#include <string.h>

#include "ui/theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_color(int32_t c)
{
	if (c != UI_COLOR_DEFAULT && (c < 0 || c > 255) && (c & ~0xFFFFFF) != UI_COLOR_RGB)
		__builtin_trap();
	static const int ncolors[] = {8, 16, 88, 256};
	for (int i = 0; i < 4; i++) {
		int k = ui_color_index(c, ncolors[i]);
		if (c != UI_COLOR_DEFAULT && (k < 0 || k >= ncolors[i]))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ui_theme t;
	struct err e = {0};
	int rc = ui_theme_parse((const char *)data, size, "fuzz.theme", &t, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0] || !strstr(e.msg, "fuzz.theme"))
			__builtin_trap();
		return 0;
	}
	if (!memchr(t.name, 0, sizeof t.name))
		__builtin_trap();
	for (int i = 0; i < UI_EL_COUNT; i++) {
		check_color(t.el[i].fg);
		check_color(t.el[i].bg);
		if (t.el[i].attr & ~63u)
			__builtin_trap();
	}
	return 0;
}
