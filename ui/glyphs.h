/*
 * glyphs.h — the ASCII fallback for the UI's own line-drawing and marker characters.
 *
 * The UI draws its borders, separators and markers (│ ─ ┌ ┐ └ ┘, ▸ ▾ › · … ↑ ● ▏ —)
 * as Unicode characters, never with the terminal's alternate character set (ACS): ACS
 * depends on TERM describing the terminal exactly, and a mismatched TERM turns lines
 * into "qqqq" or "lqk". Unicode only needs a UTF-8 terminal. Where that is not given (a
 * locale whose character set is not UTF-8), or with --ascii, every one of these
 * characters is drawn as a one-column ASCII look-alike instead, so the layout's widths
 * stay the same. The mapping is applied wherever ui_draw_text draws, model text
 * included: a terminal that cannot show the UI's glyphs cannot show them there either.
 * The input line shows the user's own text unmapped.
 */
#ifndef PONDER_UI_GLYPHS_H
#define PONDER_UI_GLYPHS_H

#include <stdbool.h>
#include <stdint.h>

void ui_glyphs_set_ascii(bool on);
bool ui_glyphs_ascii(void);

/* The character to draw for cp: its ASCII look-alike in ASCII mode when cp is one of the
   UI's glyphs, else cp itself. */
uint32_t ui_glyph(uint32_t cp);

#endif
