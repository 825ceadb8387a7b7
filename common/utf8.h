/*
 * utf8.h — the one UTF-8 decoder: RFC 3629, so overlong forms, surrogates and code points
 * past U+10FFFF are not characters. The tokenizer's pre-tokenizer and its JSON reader,
 * and the text cleaners of net/ (quoting a server's message, making reply text valid
 * JSON) all use it.
 */
#ifndef PONDER_UTF8_H
#define PONDER_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the character at s (n > 0 bytes left) into *cp; returns its length, or 0 when
   the bytes there are not a valid character. */
size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
/* The length of the valid UTF-8 prefix of s[0..n). */
size_t utf8_valid_prefix(const uint8_t *s, size_t n);

#endif
