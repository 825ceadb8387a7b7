/*
 * width.h — UTF-8 decoding and terminal column widths for the TUI.
 *
 * Invariants: decoding never reads past the given length and never fails: an invalid
 * or truncated sequence, an overlong form, a surrogate or a value above U+10FFFF
 * consumes exactly one byte and yields U+FFFD. Widths follow the C library's wcwidth()
 * (the table ncursesw itself uses to place characters, so our wrapping and its cursor
 * agree) when the locale is UTF-8, and utf8proc otherwise (unit tests, odd locales).
 * A character the terminal must never receive (C0 and C1 controls, DEL) or one the
 * width table does not know has width -1; the renderers replace it with U+FFFD.
 */
#ifndef PONDER_UI_WIDTH_H
#define PONDER_UI_WIDTH_H

#include <stddef.h>
#include <stdint.h>

#define UI_REPLACEMENT 0xFFFDu

/* Decodes the character at s[0..len) (len > 0) into *cp; returns the bytes used (1-4). */
size_t ui_utf8_next(const char *s, size_t len, uint32_t *cp);

/* Writes cp as UTF-8 into out (room for 4 bytes); returns the length. */
size_t ui_utf8_put(uint32_t cp, char *out);

/* Columns cp takes on a terminal: 0 (combining marks, zero-width joiners, variation
   selectors), 1 or 2 (East Asian wide, most emoji); -1 when it must not be printed. */
int ui_cp_width(uint32_t cp);

/* Columns of a UTF-8 string as the renderers draw it (unprintable characters count as
   the one-column U+FFFD that replaces them; tabs and newlines count 0). */
size_t ui_str_width(const char *s, size_t len);

/* Byte length of the longest prefix of s[0..len) that fits in `cols` columns without
   splitting a character (combining marks stay with their base). */
size_t ui_str_fit(const char *s, size_t len, size_t cols);

/* Re-evaluates whether the locale's character set is UTF-8 (call after setlocale). */
void ui_width_locale_changed(void);

#endif
