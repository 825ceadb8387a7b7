/*
 * pane.h — a scrollback pane: blocks of raw text (questions, answers, reasoning
 * sections, notices) rendered into wrapped rows for the pane's width, a scroll
 * position that follows the newest text unless the user scrolled up, and drawing.
 *
 * Invariants:
 *  - Blocks keep the raw text exactly as received; rendering (render_md.h) makes a
 *    sanitised display copy, so nothing from the model reaches the terminal unfiltered.
 *  - Text only ever grows at the end of a block, so re-rendering after an append
 *    restarts at the last unfinished source line, not at the top (cheap while
 *    streaming long reasoning).
 *  - Rows are recomputed for a new width on the next ui_pane_layout; the scroll
 *    position keeps its relative place.
 *  - A reasoning block's first row is its header ("Thinking... 12.3 s, 842 tokens" while
 *    live, "Thought for 12.3 s" or "Thought for 35 ms" after), shortened to fit the
 *    pane rather than cut; folded, it is only that row.
 */
#ifndef PONDER_UI_PANE_H
#define PONDER_UI_PANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ui/render_md.h"

enum ui_block_kind {
	UI_B_USER,      /* a question */
	UI_B_ANSWER,    /* an answer (Markdown) */
	UI_B_REASONING, /* one turn's reasoning, with its header */
	UI_B_NOTICE,    /* a message from ponder */
	UI_B_ERROR,     /* an error */
};

enum ui_row_kind { UI_ROW_TEXT, UI_ROW_HEADER, UI_ROW_BLANK };

struct ui_row {
	uint32_t off, len; /* display bytes of the block */
	uint16_t indent;   /* columns of hanging indent before the text */
	int8_t fill;       /* style to pad the row with, -1: none */
	uint8_t kind;      /* enum ui_row_kind */
};

struct ui_block {
	enum ui_block_kind kind;
	char *raw;
	size_t len, cap;
	int64_t mid;        /* history message id, 0 when unknown */
	bool folded;        /* reasoning: only the header shows */
	bool live;          /* still streaming */
	bool stopped;       /* interrupted by the user */
	bool lead_blank;    /* a blank row separates it from the block above */
	double t0_ms;       /* reasoning: when it began (monotonic ms), for the live timer */
	double secs;        /* reasoning: thinking time, < 0 unknown */
	int64_t tokens;     /* reasoning: tokens, < 0 unknown */

	/* Render cache (pane.c). */
	bool dirty;
	size_t width;
	struct ui_text disp;
	struct ui_row *rows;
	size_t nrows, rcap;
	size_t ck_raw, ck_disp, ck_rows; /* start of the last source line */
	struct ui_md ck_md;
	bool ck_valid;
};

struct ui_pane {
	struct ui_block **b;
	size_t n, cap;
	size_t width;  /* text columns the rows were made for */
	size_t height; /* text rows shown */
	size_t total;  /* rows of all blocks */
	size_t top;    /* first row shown while not following */
	bool follow;   /* show the newest rows */
};

void ui_pane_init(struct ui_pane *p);
/* Frees every block (the pane stays usable). */
void ui_pane_clear(struct ui_pane *p);

/* Adds a block holding text[0..len); NULL when out of memory. */
struct ui_block *ui_pane_add(struct ui_pane *p, enum ui_block_kind kind, const char *text,
			     size_t len);
int ui_block_append(struct ui_block *b, const char *s, size_t n);
/* Removes every block of a kind (the first block left loses its leading blank row). */
void ui_pane_drop(struct ui_pane *p, enum ui_block_kind kind);
/* Marks a block for re-rendering after its flags changed. */
static inline void ui_block_touch(struct ui_block *b)
{
	b->dirty = true;
	b->ck_valid = false;
}

/* Re-renders what changed for `width` x `height`; -1 when out of memory. */
int ui_pane_layout(struct ui_pane *p, size_t width, size_t height);

/* Scrolling, in rows (after ui_pane_layout). Reaching the bottom resumes following. */
void ui_pane_scroll(struct ui_pane *p, long delta);
void ui_pane_home(struct ui_pane *p);
void ui_pane_end(struct ui_pane *p);
/* The first row shown. */
size_t ui_pane_first_row(const struct ui_pane *p);

/* The block holding row `row` (NULL past the end), and its first row in *start. */
struct ui_block *ui_pane_block_at(const struct ui_pane *p, size_t row, size_t *start);
/* The latest block of a kind, or NULL. */
struct ui_block *ui_pane_last(const struct ui_pane *p, enum ui_block_kind kind);
/* The first row of block b. */
size_t ui_pane_row_of(const struct ui_pane *p, const struct ui_block *b);

/* The header text of a reasoning block ("Thinking... 12.3 s, 842 tokens"), in the
   longest form that fits `width` columns ("▾ 12.3 s, 842 tok" when narrow). */
void ui_reasoning_header(const struct ui_block *b, double now_ms, size_t width, char *buf,
			 size_t size);

/* Draws display text (attr: a style per byte, or NULL for `fixed`) at the cursor of a
   curses WINDOW, at most maxcols columns. */
void ui_draw_text(void *win, const char *s, const uint8_t *attr, size_t len,
		  const unsigned long *attrs, uint8_t fixed, int maxcols);

/* Draws rows into a curses WINDOW (void * keeps curses out of this header) at rows
   y0 .. y0+height-1, `attrs` the theme's attribute per element. */
void ui_pane_draw(void *win, const struct ui_pane *p, int y0, const unsigned long *attrs,
		  double now_ms);

#endif
