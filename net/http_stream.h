/*
 * http_stream.h — one HTTP request with libcurl whose response body is handed over as
 * it arrives (for streamed replies), with the timeouts and cancellation a chat needs.
 *
 * Every failure to get a response is ERR_REMOTE with one sentence naming the server and
 * what went wrong, in words a user can act on: the connection was refused (is the
 * server running?), the host name does not resolve, the TLS handshake or certificate
 * failed, nothing came within the connect or idle timeout, the connection closed in the
 * middle of the response. A response with any status is a success here; the caller
 * reads the status. Ctrl-C (the stop flag) cancels within about 100 ms: ERR_INTERRUPTED.
 */
#ifndef PONDER_NET_HTTP_STREAM_H
#define PONDER_NET_HTTP_STREAM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Called once per process before any thread starts (curl_global_init). */
int http_global_init(struct err *e);

struct http_request {
	const char *url;            /* absolute http:// or https:// URL */
	const char *body;           /* POST this JSON (Content-Type: application/json); NULL: GET */
	size_t body_len;
	const char *bearer;         /* "Authorization: Bearer KEY" when non-NULL and non-empty */
	bool accept_sse;            /* "Accept: text/event-stream" */
	long connect_timeout_ms;    /* <= 0: 10 s */
	long idle_timeout_ms;       /* no byte for this long fails the request; <= 0: 120 s */
	const volatile sig_atomic_t *stop; /* nonzero cancels (may be NULL) */
	/* The body of a 2xx response as it arrives; nonzero cancels the request (its value
	   is then returned by http_stream). NULL: the body is kept as for other statuses. */
	int (*on_body)(void *ud, const char *buf, size_t len);
	void *ud;
};

struct http_response {
	long status;                /* 0 when no response arrived */
	double retry_after_s;       /* the Retry-After header in seconds (delta or date); -1 none */
	char content_type[128];     /* "" when none */
	char *body;                 /* what on_body did not take: the first 1 MiB of a non-2xx
				       body (or of every body without on_body), NUL-terminated */
	size_t body_len;
	double first_byte_ms;       /* request start to the first body byte; -1 none */
	double total_ms;            /* request start to its end */
};

/* Runs the request. 0 when a response arrived whole (any status); ERR_REMOTE (e says
   why, naming the host); ERR_INTERRUPTED when stop was set; on_body's nonzero result.
   res is filled in every case; free it with http_response_free. */
int http_stream(const struct http_request *r, struct http_response *res, struct err *e);
void http_response_free(struct http_response *res);

#endif
