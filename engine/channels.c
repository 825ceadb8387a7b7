/*
 * channels.c — the reasoning/answer splitter (rules in channels.h and docs/chat.md).
 *
 * Text arrives from the detok_stream in complete UTF-8 pieces of at most DETOK_CHUNK
 * bytes. Each piece is appended to the held-back marker prefix (at most 7 bytes) in a
 * fixed work buffer and scanned once; what cannot be a marker is emitted straight from
 * that buffer. A held prefix always starts with '<', so cutting there never splits a
 * UTF-8 character.
 */
#include "engine/channels.h"

#include <string.h>

#include "common/marker.h"

static const char mark_open[] = "<think>";
static const char mark_close[] = "</think>";
#define OPEN_LEN (sizeof mark_open - 1)
#define CLOSE_LEN (sizeof mark_close - 1)

_Static_assert(CLOSE_LEN <= CHAN_MARK_MAX, "hold buffer too small for </think>");

void chan_init(struct chan_splitter *s, const struct tok *tok, bool start_reasoning,
	       eng_emit_fn emit, void *ud)
{
	memset(s, 0, sizeof *s);
	detok_init(&s->dt, tok);
	s->emit = emit;
	s->ud = ud;
	s->open_id = tok ? tok_added_id(tok, mark_open) : -1;
	s->close_id = tok ? tok_added_id(tok, mark_close) : -1;
	s->channel = start_reasoning ? CH_REASONING : CH_ANSWER;
	s->fresh = true;
}

int chan_channel(const struct chan_splitter *s)
{
	return s->channel;
}

static int show(struct chan_splitter *s, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	s->fresh = false;
	int rc = s->emit(s->ud, s->channel, p, n);
	if (rc)
		s->stop = rc;
	return rc;
}

static void hold(struct chan_splitter *s, const char *p, size_t n)
{
	memmove(s->hold, p, n);
	s->nhold = n;
}

/* Scans w[0..n) (held prefix + new text) under the current state. */
static int scan(struct chan_splitter *s, const char *w, size_t n)
{
	size_t pos = 0;
	int rc;
	while (pos < n) {
		if (s->fresh) {
			while (pos < n && (w[pos] == '\n' || w[pos] == '\r'))
				pos++;
			if (pos == n)
				return 0;
			if (s->open_id < 0) {
				int m = marker_match(w + pos, n - pos, mark_open, OPEN_LEN);
				if (m == 2) {
					/* Opens the reasoning, or repeats the opening: dropped. */
					pos += OPEN_LEN;
					s->channel = CH_REASONING;
					continue;
				}
				if (m == 1) {
					hold(s, w + pos, n - pos);
					return 0;
				}
			}
		}
		if (s->channel == CH_REASONING && s->close_id < 0) {
			const char *hit = memmem(w + pos, n - pos, mark_close, CLOSE_LEN);
			if (hit) {
				size_t at = (size_t)(hit - w);
				if ((rc = show(s, w + pos, at - pos)))
					return rc;
				pos = at + CLOSE_LEN;
				s->channel = CH_ANSWER;
				s->fresh = true;
				continue;
			}
			size_t keep = marker_tail(w + pos, n - pos, mark_close, CLOSE_LEN);
			if ((rc = show(s, w + pos, n - pos - keep)))
				return rc;
			hold(s, w + n - keep, keep);
			return 0;
		}
		return show(s, w + pos, n - pos);
	}
	return 0;
}

/* detok callback: complete UTF-8 text in the current state. */
static int on_text(void *ud, const char *p, size_t n)
{
	struct chan_splitter *s = ud;
	while (n > 0 && !s->stop) {
		/* A detok piece always fits; cut longer input at a character start anyway. */
		size_t room = sizeof s->work - s->nhold, take = n;
		if (take > room) {
			take = room;
			while (take > 0 && ((unsigned char)p[take] & 0xC0) == 0x80)
				take--;
			if (take == 0)
				take = room;
		}
		size_t held = s->nhold;
		memcpy(s->work, s->hold, held);
		memcpy(s->work + held, p, take);
		s->nhold = 0;
		int rc = scan(s, s->work, held + take);
		if (rc)
			return rc;
		p += take;
		n -= take;
	}
	return s->stop;
}

/* Before a marker id: whatever is pending is decided to be text of the current state. */
static int release(struct chan_splitter *s)
{
	int rc = detok_flush(&s->dt, on_text, s);
	if (rc)
		return rc;
	size_t n = s->nhold;
	s->nhold = 0;
	memcpy(s->work, s->hold, n);
	return show(s, s->work, n);
}

int chan_push(struct chan_splitter *s, int32_t id)
{
	if (s->stop)
		return s->stop;
	if (s->open_id >= 0 && id == s->open_id) {
		int rc = release(s);
		if (!rc && s->channel == CH_ANSWER && s->fresh)
			s->channel = CH_REASONING;
		return rc;
	}
	if (s->close_id >= 0 && id == s->close_id) {
		int rc = release(s);
		if (!rc && s->channel == CH_REASONING) {
			s->channel = CH_ANSWER;
			s->fresh = true;
		}
		return rc;
	}
	return detok_push(&s->dt, id, on_text, s);
}

int chan_flush(struct chan_splitter *s)
{
	if (s->stop)
		return s->stop;
	return release(s);
}
