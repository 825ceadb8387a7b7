/*
 * sse.h — an incremental reader of Server-Sent Events (the text/event-stream format of
 * the WHATWG HTML standard), as OpenAI-compatible servers stream chat completions.
 *
 * Bytes go in as they arrive, split anywhere (inside a line, a UTF-8 character, a CR LF
 * pair); each event comes out whole once its blank line arrives. Lines end in LF, CR or
 * CR LF; a leading UTF-8 BOM is skipped; "data:" lines are joined with '\n'; "event:"
 * names the event; comment lines (":" first) and unknown fields are ignored; one space
 * after the colon is dropped. An event without data is not delivered.
 */
#ifndef PONDER_NET_SSE_H
#define PONDER_NET_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Receives one event: its name ("" when none was given, which means "message") and its
   data, NUL-terminated at data[len]. Nonzero stops the reader; sse_feed returns it. */
typedef int (*sse_event_fn)(void *ud, const char *event, const char *data, size_t len);

struct sse_reader {
	size_t max_bytes;        /* a line or an event's data longer than this: ERR_FORMAT
	                            (sse_init with 0: 16 MiB) */
	char *line;              /* the line being read */
	size_t line_len, line_cap;
	char *data;              /* the event's data lines so far, '\n'-joined */
	size_t data_len, data_cap;
	bool has_data;           /* a data field was seen (it may be empty) */
	char event[64];          /* the event's name, cut to fit */
	bool after_cr;           /* the last byte was CR: a following LF ends nothing */
	size_t bytes_seen;       /* for the BOM check */
	int stopped;             /* the callback's or the error's code, returned again */
};

void sse_init(struct sse_reader *r, size_t max_bytes);
/* Reads buf[0..len); calls fn for each event completed. Returns 0, fn's nonzero result,
   or ERR_FORMAT (a line or event over max_bytes, said in e) / ERR_NOMEM. After a nonzero
   return every later call returns the same without reading. */
int sse_feed(struct sse_reader *r, const char *buf, size_t len, sse_event_fn fn, void *ud,
	     struct err *e);
/* Whether the stream stopped inside an event: a partial line, or data or an event name
   that no blank line ended (a comment alone is not an event). */
bool sse_pending(const struct sse_reader *r);
void sse_free(struct sse_reader *r);

#endif
