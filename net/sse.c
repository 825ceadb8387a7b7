/*
 * sse.c — the incremental Server-Sent Events reader (rules in sse.h).
 *
 * Bytes are taken a run at a time: everything up to the next CR or LF is appended to
 * the line buffer, and a CR or LF ends the line. A CR sets after_cr so that an LF
 * arriving next, in this feed or the next one, ends nothing: CR LF split across two
 * reads is one line end, not an empty line (which would end the event early).
 *
 * The BOM check needs no state of its own: a BOM is three bytes that are not line ends,
 * so when the stream's third byte has just been appended, the line holds exactly the
 * first three bytes and is cleared if they are EF BB BF.
 *
 * The line and data buffers grow on demand and are kept between events, so a steady
 * stream allocates nothing after its largest event; max_bytes bounds both, so a server
 * that never sends a line end cannot make the reader hold more than that.
 */
#include "net/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSE_DEFAULT_MAX ((size_t)16 << 20)

static const char bom[3] = {'\xEF', '\xBB', '\xBF'};

void sse_init(struct sse_reader *r, size_t max_bytes)
{
	memset(r, 0, sizeof *r);
	r->max_bytes = max_bytes ? max_bytes : SSE_DEFAULT_MAX;
}

void sse_free(struct sse_reader *r)
{
	if (!r)
		return;
	free(r->line);
	free(r->data);
	r->line = r->data = NULL;
	r->line_len = r->line_cap = r->data_len = r->data_cap = 0;
}

bool sse_pending(const struct sse_reader *r)
{
	return r->line_len > 0 || r->has_data || r->event[0] != '\0';
}

static int stop(struct sse_reader *r, int rc)
{
	r->stopped = rc;
	return rc;
}

/* Makes room for need bytes plus a NUL in *buf; need is at most max_bytes + 1. */
static int reserve(char **buf, size_t *cap, size_t need, struct err *e)
{
	if (need + 1 <= *cap)
		return 0;
	size_t n = *cap ? *cap : 256;
	while (n < need + 1)
		n = n > SIZE_MAX / 2 ? need + 1 : n * 2;
	char *p = realloc(*buf, n);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory reading the server's event stream "
			       "(%zu bytes)", n);
	*buf = p;
	*cap = n;
	return 0;
}

static int too_long(struct sse_reader *r, const char *what, struct err *e)
{
	return stop(r, err_set(e, ERR_FORMAT,
			       "the server's event stream has %s longer than %zu bytes: it is "
			       "not an OpenAI-compatible stream, or its reply is too large",
			       what, r->max_bytes));
}

static int append_line(struct sse_reader *r, const char *p, size_t n, struct err *e)
{
	if (n > r->max_bytes - r->line_len)
		return too_long(r, "a line", e);
	int rc = reserve(&r->line, &r->line_cap, r->line_len + n, e);
	if (rc)
		return stop(r, rc);
	memcpy(r->line + r->line_len, p, n);
	r->line_len += n;
	return 0;
}

/* A "data" field: joined to the earlier ones with '\n'. */
static int add_data(struct sse_reader *r, const char *v, size_t n, struct err *e)
{
	size_t sep = r->has_data ? 1 : 0;
	if (n > r->max_bytes || sep + n > r->max_bytes - r->data_len)
		return too_long(r, "an event", e);
	int rc = reserve(&r->data, &r->data_cap, r->data_len + sep + n, e);
	if (rc)
		return stop(r, rc);
	if (sep)
		r->data[r->data_len++] = '\n';
	memcpy(r->data + r->data_len, v, n);
	r->data_len += n;
	r->data[r->data_len] = '\0';
	r->has_data = true;
	return 0;
}

/* An "event" field: cut to fit, at a UTF-8 character start. */
static void set_event(struct sse_reader *r, const char *v, size_t n)
{
	if (n >= sizeof r->event) {
		n = sizeof r->event - 1;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(r->event, v, n);
	r->event[n] = '\0';
}

/* The blank line: delivers the event if it has data, and starts the next one. */
static int dispatch(struct sse_reader *r, sse_event_fn fn, void *ud)
{
	int rc = 0;
	if (r->has_data) /* add_data allocated and terminated the buffer */
		rc = fn(ud, r->event, r->data, r->data_len);
	r->has_data = false;
	r->data_len = 0;
	r->event[0] = '\0';
	return rc ? stop(r, rc) : 0;
}

static int end_line(struct sse_reader *r, sse_event_fn fn, void *ud, struct err *e)
{
	const char *l = r->line;
	size_t n = r->line_len;
	r->line_len = 0;
	if (n == 0)
		return dispatch(r, fn, ud);
	if (l[0] == ':')
		return 0; /* a comment, e.g. ": keep-alive" */
	const char *colon = memchr(l, ':', n);
	size_t flen = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	size_t vlen = n - (size_t)(v - l);
	if (vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	if (flen == 4 && memcmp(l, "data", 4) == 0)
		return add_data(r, v, vlen, e);
	if (flen == 5 && memcmp(l, "event", 5) == 0)
		set_event(r, v, vlen);
	/* id, retry and unknown fields mean nothing to a one-shot reply */
	return 0;
}

int sse_feed(struct sse_reader *r, const char *buf, size_t len, sse_event_fn fn, void *ud,
	     struct err *e)
{
	if (r->stopped)
		return r->stopped;
	size_t i = 0;
	int rc;
	while (i < len) {
		if (r->after_cr) {
			r->after_cr = false;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		if (buf[i] == '\r' || buf[i] == '\n') {
			r->after_cr = buf[i] == '\r';
			i++;
			if (r->bytes_seen < 3)
				r->bytes_seen = 3; /* a line end before 3 bytes: no BOM */
			if ((rc = end_line(r, fn, ud, e)))
				return rc;
			continue;
		}
		size_t j = i;
		while (j < len && buf[j] != '\r' && buf[j] != '\n')
			j++;
		if (r->bytes_seen < 3) {
			/* one byte at a time until the BOM is decided */
			if ((rc = append_line(r, buf + i, 1, e)))
				return rc;
			i++;
			if (++r->bytes_seen == 3 && r->line_len == 3 && !memcmp(r->line, bom, 3))
				r->line_len = 0;
			continue;
		}
		if ((rc = append_line(r, buf + i, j - i, e)))
			return rc;
		i = j;
	}
	return 0;
}
