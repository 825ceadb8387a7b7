/*
 * fuzz_term_safe.c — libFuzzer harness for term_write_visible (app/term_safe.c).
 *
 * Writes arbitrary bytes through the filter into a memory stream and traps if the
 * output could still drive a terminal: a C0 control other than newline and tab, DEL,
 * a C1 control encoded as UTF-8 (U+0080..U+009F), or a raw byte 0x80..0x9F outside a
 * valid UTF-8 sequence (an 8-bit terminal reads 0x9B as CSI).
 *
 *   make fuzz && build/fuzz/fuzz_term_safe -max_total_time=180 tools/fuzz/corpus/term_safe
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/term_safe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the valid UTF-8 sequence at s (cp set), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t len = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
				     : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
				     : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	if (!len || len > n)
		return 0;
	uint32_t v = len == 1 ? s[0] : s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3F);
	}
	if (v < min[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return 0;
	if (term_write_visible(f, (const char *)data, size) != 0)
		__builtin_trap();
	fclose(f);
	const uint8_t *o = (const uint8_t *)buf;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_seq(o + i, n - i, &cp);
		if (!l) {
			if (o[i] >= 0x80 && o[i] < 0xA0)
				__builtin_trap(); /* raw 8-bit C1 */
			i++;
			continue;
		}
		if ((cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7F && cp < 0xA0))
			__builtin_trap();
		i += l;
	}
	free(buf);
	return 0;
}
