/*
 * fuzz_sse.c — libFuzzer harness for the event-stream reader (net/sse.c) and, on each
 * event it delivers, the chat-completions chunk reader (net/oai_stream.c).
 *
 * Input byte 0 sets the reader's max_bytes (low nibble: 16 << n bytes) and after how
 * many pieces emit asks to stop (high nibble; 0 never); the rest is cut into chunks,
 * each chunk's length its first byte, fed to sse_feed. A chunk that is not JSON or is an
 * error object does not end the stream here, so later events are still read. Traps
 * unless:
 * - every piece is non-empty valid UTF-8 on CH_REASONING or CH_ANSWER, and the first
 *   piece of each channel does not start with a newline;
 * - while the stream has sent no reasoning field (so the <think> tags in content are
 *   read), no piece contains "</think>";
 * - nothing is emitted after emit asked to stop, and the stop value keeps coming back
 *   from oai_stream_data, sse_feed and oai_stream_end;
 * - errors are ERR_FORMAT, ERR_REMOTE or ERR_NOMEM with a one-line message free of
 *   control characters, and an sse_feed error comes back on the next call;
 * - the stream's text fields stay terminated and free of control characters.
 *
 *   make fuzz && build/fuzz/fuzz_sse -max_total_time=180 /tmp/corpus/sse tools/fuzz/corpus/sse
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/oai_stream.h"
#include "net/sse.h"
#include "tests/utf8_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct oai_stream s;
	struct err e;
	int stop_after;  /* emit returns 9 at this piece; 0 never */
	int pieces;
	bool stopped;    /* emit returned nonzero */
	bool shown[3];   /* per channel: a piece was emitted */
};

/* A terminated string of at most cap - 1 bytes without C0 controls or DEL. */
static void check_line(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			__builtin_trap();
}

static int emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct ctx *c = ud;
	if (c->stopped || (channel != CH_REASONING && channel != CH_ANSWER) || !len ||
	    oracle_utf8_prefix((const uint8_t *)utf8, len) != len)
		__builtin_trap();
	if (!c->shown[channel] && (utf8[0] == '\n' || utf8[0] == '\r'))
		__builtin_trap();
	if (!c->s.reasoning_field && memmem(utf8, len, "</think>", 8))
		__builtin_trap();
	c->shown[channel] = true;
	c->pieces++;
	if (c->stop_after && c->pieces == c->stop_after) {
		c->stopped = true;
		return 9;
	}
	return 0;
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct ctx *c = ud;
	if (data[len] != '\0' || strnlen(event, 64) == 64)
		__builtin_trap();
	err_clear(&c->e);
	int rc = oai_stream_data(&c->s, data, len, &c->e);
	if (rc == 9 && c->stopped)
		return rc;
	if (c->stopped)
		__builtin_trap(); /* the stop value must keep coming back */
	if (rc == ERR_FORMAT || rc == ERR_REMOTE) {
		if (!c->e.msg[0])
			__builtin_trap();
		check_line(c->e.msg, sizeof c->e.msg);
		return 0; /* read on: the later events are fuzzed too */
	}
	if (rc)
		__builtin_trap();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct ctx *c = calloc(1, sizeof *c);
	oai_stream_init(&c->s, emit, c);
	c->stop_after = data[0] >> 4;
	struct sse_reader r;
	sse_init(&r, (size_t)16 << (data[0] & 15));
	int rc = 0;
	size_t i = 1;
	while (i < size) {
		size_t len = data[i++];
		if (len > size - i)
			len = size - i;
		struct err e = {0};
		int got = sse_feed(&r, (const char *)data + i, len, on_event, c, &e);
		if (rc && got != rc)
			__builtin_trap(); /* not sticky */
		if (got && !rc) {
			if (got == 9 ? !c->stopped : got != ERR_FORMAT && got != ERR_NOMEM)
				__builtin_trap();
			if (got != 9) {
				if (!e.msg[0])
					__builtin_trap();
				check_line(e.msg, sizeof e.msg);
			}
		}
		rc = got;
		i += len;
	}
	int end = oai_stream_end(&c->s);
	if (c->stopped ? end != 9 : end != 0)
		__builtin_trap();
	check_line(c->s.finish, sizeof c->s.finish);
	check_line(c->s.model, sizeof c->s.model);
	check_line(c->s.id, sizeof c->s.id);
	check_line(c->s.error, sizeof c->s.error);
	if (c->s.pieces != c->pieces)
		__builtin_trap();
	(void)sse_pending(&r);
	sse_free(&r);
	free(c);
	return 0;
}
