/*
 * utf8.h — the one UTF-8 character check the text cleaners of net/ share (quoting a
 * server's message, making reply text valid JSON): RFC 3629, so overlong forms,
 * surrogates and code points past U+10FFFF are not characters.
 */
#ifndef PONDER_UTF8_H
#define PONDER_UTF8_H

#include <stddef.h>

/* The length of the valid UTF-8 character at s (n >= 1 bytes left), or 0 when the bytes
   there are not one. */
size_t utf8_char_len(const unsigned char *s, size_t n);

#endif
