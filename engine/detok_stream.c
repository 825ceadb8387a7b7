/*
 * detok_stream.c — streaming UTF-8 assembly of token bytes (see detok_stream.h).
 *
 * The validator is the classic table from the Unicode standard (Table 3-7, well-formed
 * byte sequences) written as a lead-byte switch: the lead byte fixes how many
 * continuation bytes follow and the range the *first* of them may take, which is what
 * rules out overlongs, surrogates and values above U+10FFFF. Reading byte by byte with
 * that state is exactly what makes U+FFFD come out once per maximal subpart.
 */
#include "engine/detok_stream.h"

#include <string.h>

static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

void detok_init(struct detok_stream *d, const struct tok *tok)
{
	memset(d, 0, sizeof *d);
	d->tok = tok;
}

bool detok_pending(const struct detok_stream *d)
{
	return d->npart > 0;
}

static int drain(struct detok_stream *d, detok_emit_fn emit, void *ud)
{
	if (d->nout == 0)
		return 0;
	size_t n = d->nout;
	d->nout = 0;
	return emit(ud, d->out, n);
}

/* Appends one complete code point (or U+FFFD); drains first when it would not fit. */
static int put(struct detok_stream *d, const char *s, size_t n, detok_emit_fn emit, void *ud)
{
	if (d->nout + n > sizeof d->out) {
		int rc = drain(d, emit, ud);
		if (rc)
			return rc;
	}
	memcpy(d->out + d->nout, s, n);
	d->nout += n;
	return 0;
}

/* The pending prefix is not going to complete: it becomes one U+FFFD. */
static int bad_part(struct detok_stream *d, detok_emit_fn emit, void *ud)
{
	d->npart = 0;
	d->need = 0;
	return put(d, fffd, sizeof fffd, emit, ud);
}

/* Starts a sequence at lead byte b. Returns 1 when b is not a lead byte. */
static int start(struct detok_stream *d, uint8_t b)
{
	uint8_t need, lo = 0x80, hi = 0xBF;
	if (b >= 0xC2 && b <= 0xDF) {
		need = 1;
	} else if (b >= 0xE0 && b <= 0xEF) {
		need = 2;
		if (b == 0xE0)
			lo = 0xA0; /* below: overlong */
		else if (b == 0xED)
			hi = 0x9F; /* above: UTF-16 surrogates */
	} else if (b >= 0xF0 && b <= 0xF4) {
		need = 3;
		if (b == 0xF0)
			lo = 0x90; /* below: overlong */
		else if (b == 0xF4)
			hi = 0x8F; /* above: beyond U+10FFFF */
	} else {
		return 1;
	}
	d->part[0] = b;
	d->npart = 1;
	d->need = need;
	d->lo = lo;
	d->hi = hi;
	return 0;
}

int detok_push_bytes(struct detok_stream *d, const char *bytes, size_t n, detok_emit_fn emit,
		     void *ud)
{
	const uint8_t *p = (const uint8_t *)bytes;
	int rc;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = p[i];
		if (d->need) {
			if (b >= d->lo && b <= d->hi) {
				d->part[d->npart++] = b;
				d->lo = 0x80;
				d->hi = 0xBF;
				if (--d->need == 0) {
					rc = put(d, (const char *)d->part, d->npart, emit, ud);
					d->npart = 0;
					if (rc)
						return rc;
				}
				continue;
			}
			/* b broke the sequence: the prefix is one U+FFFD, b starts afresh. */
			if ((rc = bad_part(d, emit, ud)))
				return rc;
		}
		if (b < 0x80) {
			char c = (char)b;
			if ((rc = put(d, &c, 1, emit, ud)))
				return rc;
		} else if (start(d, b)) {
			if ((rc = put(d, fffd, sizeof fffd, emit, ud)))
				return rc;
		}
	}
	return drain(d, emit, ud);
}

int detok_push(struct detok_stream *d, int32_t id, detok_emit_fn emit, void *ud)
{
	if (d->tok && tok_is_special(d->tok, id))
		return 0;
	size_t len = 0;
	const char *b = d->tok ? tok_token_bytes(d->tok, id, &len) : NULL;
	if (!b) {
		int rc = 0;
		if (d->need)
			rc = bad_part(d, emit, ud);
		if (!rc)
			rc = put(d, fffd, sizeof fffd, emit, ud);
		if (!rc)
			rc = drain(d, emit, ud);
		return rc;
	}
	return detok_push_bytes(d, b, len, emit, ud);
}

int detok_flush(struct detok_stream *d, detok_emit_fn emit, void *ud)
{
	int rc = 0;
	if (d->need)
		rc = bad_part(d, emit, ud);
	if (!rc)
		rc = drain(d, emit, ud);
	d->nout = 0;
	return rc;
}
