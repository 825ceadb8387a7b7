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
#include "tests/utf8_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	char *buf;
	size_t n;
};

static int emit(void *ud, const char *utf8, size_t len)
{
	struct sink *k = ud;
	if (!len || len > DETOK_CHUNK || oracle_utf8_prefix((const uint8_t *)utf8, len) != len)
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
	if (oracle_utf8_prefix((const uint8_t *)plain.buf, plain.n) == plain.n &&
	    (k.n != plain.n || memcmp(k.buf, plain.buf, plain.n)))
		__builtin_trap();
	free(k.buf);
	free(plain.buf);
	return 0;
}
