/*
 * width.c — UTF-8 decoding and column widths (see width.h).
 */
#include "ui/width.h"

#include <langinfo.h>
#include <string.h>
#include <utf8proc.h>
#include <wchar.h>

/* -1: not yet known; 0/1: whether LC_CTYPE is UTF-8 (wcwidth only knows it then). */
static int utf8_locale = -1;

void ui_width_locale_changed(void)
{
	const char *cs = nl_langinfo(CODESET);
	utf8_locale = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

size_t ui_utf8_next(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned char c = u[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	size_t n;
	uint32_t v, min;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2, v = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3, v = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		*cp = UI_REPLACEMENT;
		return 1;
	}
	if (len < n) {
		*cp = UI_REPLACEMENT;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80) {
			*cp = UI_REPLACEMENT;
			return 1;
		}
		v = v << 6 | (u[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
		*cp = UI_REPLACEMENT;
		return 1;
	}
	*cp = v;
	return n;
}

size_t ui_utf8_put(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | cp >> 6);
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = UI_REPLACEMENT;
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | cp >> 12);
		o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | cp >> 18);
	o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int ui_cp_width(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
		return -1;
	if (cp < 0x7F)
		return 1;
	if (utf8_locale < 0)
		ui_width_locale_changed();
	if (utf8_locale) {
		/* ncursesw places characters by wcwidth(); following it keeps our rows and
		   its cursor in step. Unknown characters would be drawn unpredictably. */
		int w = wcwidth((wchar_t)cp);
		return w > 2 ? 2 : w;
	}
	utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)cp);
	if (cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CS ||
	    cat == UTF8PROC_CATEGORY_CC)
		return -1;
	if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
	    cat == UTF8PROC_CATEGORY_CF)
		return 0;
	int w = utf8proc_charwidth((utf8proc_int32_t)cp);
	return w > 2 ? 2 : w;
}

size_t ui_str_width(const char *s, size_t len)
{
	size_t cols = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += ui_utf8_next(s + i, len - i, &cp);
		if (cp == '\t' || cp == '\n')
			continue;
		int w = ui_cp_width(cp);
		cols += w < 0 ? 1 : (size_t)w;
	}
	return cols;
}

size_t ui_str_fit(const char *s, size_t len, size_t cols)
{
	size_t used = 0, i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = ui_utf8_next(s + i, len - i, &cp);
		int w = ui_cp_width(cp);
		if (w < 0)
			w = 1;
		if (w > 0 && used + (size_t)w > cols)
			break;
		used += (size_t)w;
		i += n;
	}
	return i;
}
