/*
 * render_md.h — turns raw model text into display text: sanitised, tab-expanded, and
 * (in the answer pane) lightly formatted Markdown, with one style id per byte.
 *
 * Invariants:
 *  - The output holds only characters a terminal can print safely: C0/C1 controls,
 *    DEL, escape sequences and bidi overrides never get through (\r and bidi overrides
 *    are dropped, \t becomes spaces to the next multiple of 4 columns, any other control
 *    or unprintable character becomes U+FFFD). So nothing the model writes can move the
 *    cursor, change colours or retitle the terminal.
 *  - Output bytes are always complete UTF-8, and attr[i] is the style of text[i].
 *  - Markdown is display only: the stored text stays raw. Supported: # headers (markers
 *    hidden), **bold** and __bold__ (markers hidden; not inside words, so 2**3 stays),
 *    `inline code`, fenced code blocks (``` or ~~~, shown with their fence lines),
 *    bullet lists (-, *, + shown as •) and numbered lists, with a hanging indent.
 *    Single-star emphasis is deliberately not parsed: arithmetic like 2*3*4 is common
 *    in answers and must stay as written.
 */
#ifndef PONDER_UI_RENDER_MD_H
#define PONDER_UI_RENDER_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Display text with a style id (enum ui_el) per byte. */
struct ui_text {
	char *text;
	uint8_t *attr;
	size_t len, cap;
	size_t col; /* columns since the start of the current line (tab stops) */
};

void ui_text_free(struct ui_text *t);
/* Empties t (keeps its buffers). */
void ui_text_reset(struct ui_text *t);
/* Starts a new line for tab stops (the caller keeps lines apart). */
static inline void ui_text_line_start(struct ui_text *t)
{
	t->col = 0;
}

/* Appends raw bytes sanitised (see above) in `style`. -1 when out of memory. */
int ui_text_put(struct ui_text *t, const char *s, size_t n, uint8_t style);

struct ui_md {
	bool in_fence;
	char fence_ch;   /* '`' or '~' */
	size_t fence_n;  /* length of the opening fence */
};

/* Layout hints for one rendered line. */
struct ui_md_line {
	size_t hang;     /* columns to indent continuation rows (list items) */
	int fill;        /* style to pad the whole row with (code blocks), or -1 */
};

/*
 * Renders one source line (no '\n') of Markdown into out, starting a new line there.
 * `base` is the style of plain text. -1 when out of memory.
 */
int ui_md_line(struct ui_md *st, const char *s, size_t n, uint8_t base, struct ui_text *out,
	       struct ui_md_line *info);

#endif
