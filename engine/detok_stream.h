/*
 * detok_stream.h — token ids to UTF-8 text, one token at a time, for streaming.
 *
 * A byte-level BPE token stands for arbitrary bytes: one character can be spread over
 * several tokens, and a model can emit byte sequences that are not UTF-8 at all. The
 * stream keeps the bytes of an unfinished character between pushes and hands `emit`
 * only complete, valid UTF-8.
 *
 * Invariants:
 * - Every emitted piece is valid UTF-8 and ends on a code point boundary; the
 *   concatenation of all pieces is the decoding of all bytes pushed.
 * - Invalid input becomes U+FFFD, one per "maximal subpart" (Unicode's recommended
 *   practice, also what WHATWG/Python/ICU decoders do): a lead byte followed by the
 *   longest run of continuation bytes that could still start a valid sequence is one
 *   U+FFFD; a byte that cannot start any sequence (80..BF alone, C0, C1, F5..FF) is one
 *   U+FFFD on its own; the byte that broke a sequence is then read again as a new start.
 *   Surrogates (ED A0..BF) and overlongs (E0 80..9F, F0 80..8F) and code points above
 *   U+10FFFF (F4 90..) are invalid at their second byte.
 * - detok_flush emits whatever is pending; an unfinished character at the end of a
 *   stream becomes one U+FFFD. Nothing is lost.
 * - Special added tokens (tok_is_special: BOS, EOS, padding) produce no text. An id the
 *   tokenizer does not know produces one U+FFFD.
 * - No allocation: text is staged in a fixed buffer inside the struct; a token longer
 *   than the buffer is emitted in several pieces, each ending on a code point boundary.
 * - Each emit is at most DETOK_CHUNK bytes. When emit returns nonzero the stream stops
 *   at once (the rest of that token is dropped) and the value is returned.
 */
#ifndef PONDER_ENG_DETOK_STREAM_H
#define PONDER_ENG_DETOK_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/tokenizer.h"

#define DETOK_CHUNK 256

/* Receives complete UTF-8; returning nonzero asks the caller to stop. */
typedef int (*detok_emit_fn)(void *ud, const char *utf8, size_t len);

struct detok_stream {
	const struct tok *tok; /* NULL: only detok_push_bytes may be used */
	uint8_t part[4];       /* bytes of the unfinished code point */
	uint8_t npart;
	uint8_t need;          /* continuation bytes still missing (0: none pending) */
	uint8_t lo, hi;        /* allowed range of the next continuation byte */
	size_t nout;
	char out[DETOK_CHUNK];
};

void detok_init(struct detok_stream *d, const struct tok *tok);

/* Decodes one token id; see the invariants above. */
int detok_push(struct detok_stream *d, int32_t id, detok_emit_fn emit, void *ud);

/* Decodes raw bytes as if they were a token's bytes. */
int detok_push_bytes(struct detok_stream *d, const char *bytes, size_t n, detok_emit_fn emit,
		     void *ud);

/* End of stream: an unfinished character becomes U+FFFD; the stream is reset. */
int detok_flush(struct detok_stream *d, detok_emit_fn emit, void *ud);

/* True while bytes of an unfinished character are held back. */
bool detok_pending(const struct detok_stream *d);

#endif
