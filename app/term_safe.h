/*
 * term_safe.h — showing untrusted text (model output) on a terminal without letting it
 * drive the terminal: C0 controls other than newline and tab become ^X (ESC is ^[,
 * DEL is ^?), C1 controls (U+0080..U+009F, which some terminals obey as CSI and OSC)
 * become <U+009B>, and so do raw bytes 0x80..0x9F outside a valid UTF-8 sequence (as
 * <9B>: an 8-bit terminal obeys them as C1). Everything else, other invalid UTF-8
 * included, passes unchanged.
 */
#ifndef PONDER_APP_TERM_SAFE_H
#define PONDER_APP_TERM_SAFE_H

#include <stddef.h>
#include <stdio.h>

/* 0, or -1 with errno set when writing to f fails. */
int term_write_visible(FILE *f, const char *s, size_t len);

#endif
