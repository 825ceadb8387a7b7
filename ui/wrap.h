/*
 * wrap.h — word wrap of one line of display text into rows of a given width.
 *
 * Invariants: a row never exceeds `width` columns (except a single character wider
 * than the row, which gets a row of its own); a break never falls inside a UTF-8
 * sequence nor between a character and the combining marks that follow it. Rows break
 * after the last space that fits; a word longer than a row is cut between characters.
 * Spaces at a break are not shown: trailing spaces are trimmed from the row and the
 * next row starts at the next non-space. Leading spaces of the first row are kept
 * (indentation, code). Continuation rows get `hang` fewer columns (the caller indents
 * them). Input is display text from render_md (no controls, no tabs, no newlines).
 */
#ifndef PONDER_UI_WRAP_H
#define PONDER_UI_WRAP_H

#include <stddef.h>

/* Called once per row, in order: bytes [off, off+len) of the line, `cols` columns,
   `row` 0 for the first. A nonzero return stops wrapping and is returned. */
typedef int (*ui_wrap_fn)(void *ud, size_t off, size_t len, size_t cols, size_t row);

/* Wraps s[0..len) (an empty line gives one empty row). Returns 0 or fn's nonzero value. */
int ui_wrap(const char *s, size_t len, size_t width, size_t hang, ui_wrap_fn fn, void *ud);

#endif
