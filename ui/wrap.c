/*
 * wrap.c — word wrap (see wrap.h).
 */
#include "ui/wrap.h"

#include <stdint.h>

#include "ui/width.h"

int ui_wrap(const char *s, size_t len, size_t width, size_t hang, ui_wrap_fn fn, void *ud)
{
	if (width < 1)
		width = 1;
	size_t start = 0, row = 0;
	for (;;) {
		size_t avail = width;
		if (row > 0) {
			avail = hang < width ? width - hang : 1;
			while (start < len && s[start] == ' ')
				start++;
			if (start == len)
				return 0; /* only spaces were left: nothing more to show */
		}
		size_t i = start, cols = 0;
		size_t brk = 0, brk_cols = 0; /* after the last space that fit */
		int over = 0;
		while (i < len) {
			uint32_t cp;
			size_t n = ui_utf8_next(s + i, len - i, &cp);
			int w = ui_cp_width(cp);
			if (w < 0)
				w = 1;
			if (w > 0 && cols + (size_t)w > avail) {
				over = 1;
				break;
			}
			cols += (size_t)w;
			i += n;
			if (cp == ' ')
				brk = i, brk_cols = cols;
		}
		if (!over) {
			int rc = fn(ud, start, len - start, cols, row);
			return rc;
		}
		size_t end, end_cols;
		if (s[i] == ' ') {
			end = i, end_cols = cols;          /* the overflowing char is a space */
		} else if (brk > start) {
			end = brk, end_cols = brk_cols;    /* after the last space that fit */
		} else if (i > start) {
			end = i, end_cols = cols;          /* a long word: cut between chars */
		} else {
			/* One character wider than the row: it gets the row alone. */
			uint32_t cp;
			size_t n = ui_utf8_next(s + i, len - i, &cp);
			int w = ui_cp_width(cp);
			end = i + n;
			end_cols = w < 0 ? 1 : (size_t)w;
			while (end < len) {
				n = ui_utf8_next(s + end, len - end, &cp);
				if (ui_cp_width(cp) != 0)
					break;
				end += n;
			}
		}
		/* Trailing spaces are not shown. */
		size_t shown = end;
		while (shown > start && s[shown - 1] == ' ')
			shown--, end_cols--;
		int rc = fn(ud, start, shown - start, end_cols, row);
		if (rc)
			return rc;
		start = end;
		row++;
	}
}
