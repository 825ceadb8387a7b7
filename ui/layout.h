/*
 * layout.h — where each part of the screen goes, as a pure function of the terminal
 * size and the user's choices (so it is unit-tested and recomputed on every resize).
 *
 * Invariants: every rectangle lies inside the screen and they do not overlap; the
 * status bar is the last row; the input area (a border row plus its text rows) sits
 * right above it and never takes more than a third of the screen; each pane is at
 * least its title row plus one text row. Side by side needs 80 columns for the panes,
 * else they stack. Below UI_MIN_COLS x UI_MIN_ROWS, too_small is set and nothing else
 * is meaningful.
 */
#ifndef PONDER_UI_LAYOUT_H
#define PONDER_UI_LAYOUT_H

#include <stdbool.h>

#define UI_MIN_COLS 40
#define UI_MIN_ROWS 10

struct ui_rect {
	int y, x, h, w;
};

struct ui_layout_in {
	int rows, cols;
	bool side;          /* side by side wanted */
	int split;          /* the reasoning pane's share, percent (clamped to 15..85) */
	int input_rows;     /* text rows the input needs (>= 1) */
	bool browser;       /* conversation sidebar open */
	int reasoning_rows; /* > 0: stacked reasoning pane needs only this many rows (all
			       folded), so the answer pane gets the rest */
};

struct ui_layout {
	bool too_small;
	bool side;                   /* side by side in effect */
	struct ui_rect reasoning;    /* title row + text */
	struct ui_rect answer;       /* title row + text */
	struct ui_rect sep;          /* vertical separator when side by side (else w = 0) */
	struct ui_rect input;        /* border row + text */
	struct ui_rect status;
	struct ui_rect browser;      /* w = 0 when closed; w = cols hides the panes */
};

void ui_layout_compute(const struct ui_layout_in *in, struct ui_layout *out);

#endif
