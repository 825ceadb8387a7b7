/*
 * layout.c — screen geometry (see layout.h).
 */
#include "ui/layout.h"

#include <string.h>

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void ui_layout_compute(const struct ui_layout_in *in, struct ui_layout *out)
{
	memset(out, 0, sizeof *out);
	int rows = in->rows, cols = in->cols;
	if (rows < UI_MIN_ROWS || cols < UI_MIN_COLS) {
		out->too_small = true;
		return;
	}
	out->status = (struct ui_rect){rows - 1, 0, 1, cols};
	int text = clamp(in->input_rows, 1, (rows - 1) / 3 - 1);
	out->input = (struct ui_rect){rows - 1 - (text + 1), 0, text + 1, cols};
	int body_h = out->input.y, bx = 0, bw = cols;

	if (in->browser) {
		int w = clamp(cols / 3, 28, 48);
		if (cols - w < UI_MIN_COLS)
			w = cols;
		out->browser = (struct ui_rect){0, 0, body_h, w};
		bx = w;
		bw = cols - w;
		if (bw == 0)
			return; /* the browser takes the whole body; panes hidden */
	}

	int split = clamp(in->split, 15, 85);
	if (in->side && bw >= 80) {
		out->side = true;
		int rw = clamp((bw - 1) * split / 100, 20, bw - 1 - 20);
		out->reasoning = (struct ui_rect){0, bx, body_h, rw};
		out->sep = (struct ui_rect){0, bx + rw, body_h, 1};
		out->answer = (struct ui_rect){0, bx + rw + 1, body_h, bw - rw - 1};
		return;
	}
	int rh = clamp(body_h * split / 100, 2, body_h - 2);
	if (in->reasoning_rows > 0 && in->reasoning_rows + 1 < rh)
		rh = clamp(in->reasoning_rows + 1, 2, body_h - 2);
	out->reasoning = (struct ui_rect){0, bx, rh, bw};
	out->answer = (struct ui_rect){rh, bx, body_h - rh, bw};
}
