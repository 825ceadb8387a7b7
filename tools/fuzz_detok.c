/*
 * fuzz_detok.c — libFuzzer harness for the streaming detokenizer (engine/detok_stream.c).
 *
 * The input is cut into chunks (each chunk's length is its first byte) and pushed with
 * detok_push_bytes, then flushed. Traps unless every emitted piece is non-empty valid
 * UTF-8 of at most DETOK_CHUNK bytes, nothing is pending after the flush, and, when the
 * whole input is valid UTF-8, the pieces put together are exactly the input.
 *
 *   make fuzz && build/fuzz/fuzz_detok -max_total_time=180 tools/fuzz/corpus/detok
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/detok_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	char *buf;
	size_t n;
};

static size_t utf8_valid_prefix(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
			   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!len || len > n - i)
			return i;
		uint32_t v = len == 1 ? c : c & (0x7F >> len);
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

static int emit(void *ud, const char *utf8, size_t len)
{
	struct sink *k = ud;
	if (!len || len > DETOK_CHUNK || utf8_valid_prefix((const uint8_t *)utf8, len) != len)
		__builtin_trap();
	memcpy(k->buf + k->n, utf8, len);
	k->n += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct detok_stream d;
	detok_init(&d, NULL);
	/* each invalid byte becomes at most one U+FFFD (3 bytes) */
	struct sink k = {malloc(size * 3 + 4), 0};
	struct sink plain = {malloc(size + 1), 0};
	size_t i = 0;
	while (i < size) {
		size_t len = data[i++];
		if (len > size - i)
			len = size - i;
		memcpy(plain.buf + plain.n, data + i, len);
		plain.n += len;
		if (detok_push_bytes(&d, (const char *)data + i, len, emit, &k))
			__builtin_trap();
		i += len;
	}
	if (detok_flush(&d, emit, &k) || detok_pending(&d))
		__builtin_trap();
	if (utf8_valid_prefix((const uint8_t *)plain.buf, plain.n) == plain.n &&
	    (k.n != plain.n || memcmp(k.buf, plain.buf, plain.n)))
		__builtin_trap();
	free(k.buf);
	free(plain.buf);
	return 0;
}
