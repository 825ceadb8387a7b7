/*
 * utf8_oracle.h — a UTF-8 check for tests and fuzz harnesses, written apart from
 * common/utf8.c on purpose: it decodes each code point and compares it with the
 * limits of RFC 3629 (no overlong forms, no surrogates, nothing past U+10FFFF), so that
 * a mistake in the library's decoder is not repeated by the test that checks its users.
 */
#ifndef PONDER_TEST_UTF8_ORACLE_H
#define PONDER_TEST_UTF8_ORACLE_H

#include <stddef.h>
#include <stdint.h>

/* The length of the valid UTF-8 prefix of s[0..n). */
static inline size_t oracle_utf8_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
			   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!len || len > n - i)
			return i;
		uint32_t v = len == 1 ? c : c & (0x7Fu >> len);
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			v = v << 6 | (s[i + k] & 0x3F);
		}
		static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
		if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
			return i;
		i += len;
	}
	return n;
}

#endif
