/*
 * serve_http.h — `ponder serve`'s HTTP side, on libmicrohttpd: the routes (GET /health,
 * GET /v1/models, POST /v1/chat/completions), the API key check, the limits, and the
 * streaming of a job's output as Server-Sent Events.
 *
 * One thread per connection (libmicrohttpd's): a connection thread waits for its job
 * and checks every 100 ms whether its client is still there, so that a client that
 * disconnects cancels its generation, queued or running.
 */
#ifndef PONDER_APP_SERVE_HTTP_H
#define PONDER_APP_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "app/serve_job.h"

struct serve_opts {
	char host[256];          /* address to bind */
	int port;                /* 0: any free port (the one chosen is reported) */
	const char *api_key;     /* requests must carry it as a Bearer token; NULL: none */
	size_t max_body;         /* bytes of a request body */
	size_t max_messages;     /* messages in a request */
	size_t max_queue;        /* requests waiting for the engine; beyond: 503 */
	int64_t ctx;             /* the context: the largest max_tokens */
	const char *model;       /* the name /v1/models gives and requests may ask for */
	int verbose;             /* a line per request on stderr */
};

struct serve_http;

/* Binds and starts serving. ERR_USAGE when the host does not resolve, ERR_IO when the
   address cannot be bound (in use: said so). *port gets the port bound. */
int serve_http_start(const struct serve_opts *o, struct serve_queue *q, struct serve_http **out,
		     int *port, struct err *e);
/* Stops accepting, ends open connections, frees. */
void serve_http_stop(struct serve_http *h);

#endif
