/*
 * serve_job.h — `ponder serve`'s requests on their way through the one engine: a job per
 * chat request, a bounded queue, and the worker thread that runs jobs one at a time
 * through the chat session (the engine decodes one sequence at a time).
 *
 * A job is shared by the connection thread that made it and the worker: reference
 * counted, guarded by its own mutex, and signalled on its condition variable whenever
 * output arrives, it starts streaming, or it ends. The connection gives up its job when
 * its client goes away (serve_job_cancel): a queued job is then skipped, a running one
 * stopped at the next token.
 */
#ifndef PONDER_APP_SERVE_JOB_H
#define PONDER_APP_SERVE_JOB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/chat.h"
#include "net/oai_request.h"

struct serve_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;                      /* the connection's and the worker's */
	struct oai_chat_request req;
	char id[48];                   /* "chatcmpl-..." */
	int64_t created;               /* Unix seconds */
	/* The SSE bytes for a streamed reply, appended by the worker, taken by the
	   connection. */
	char *out;
	size_t out_len, out_cap, out_sent;
	bool role_sent;                /* the first chunk (with the role) went out */
	bool started;                  /* the first text is out (or the reply ended) */
	bool done;
	bool cancelled;                /* its client went away, or the server stops */
	int rc;                        /* the reply's outcome once done */
	struct err err;
	struct gen_stats st;
	char *reasoning, *answer;      /* the whole reply once done (not streamed) */
	size_t reasoning_len, answer_len;
	struct serve_job *next;        /* in the queue */
};

struct serve_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct serve_job *head, *tail;
	size_t waiting;                /* jobs queued, not yet running */
	size_t max_waiting;            /* beyond it: 503 */
	struct serve_job *running;
	bool quit;
	struct app_chat *chat;
	struct gen_params base;        /* the server's sampling; requests override it */
	bool base_seed_fixed;
	pthread_t worker;
	bool worker_started;
	bool initialised;              /* mu and cv exist (serve_queue_free) */
};

/* A new job holding req (moved in: req is left empty); refs 1. NULL when out of memory. */
struct serve_job *serve_job_new(struct oai_chat_request *req);
void serve_job_unref(struct serve_job *j);
/* Its client is gone: skip it or stop it (safe from any thread). */
void serve_job_cancel(struct serve_queue *q, struct serve_job *j);

/* A reply's figures in the API's terms. */
struct oai_usage serve_usage(const struct gen_stats *st);

/* Starts the worker over an open chat. */
int serve_queue_start(struct serve_queue *q, struct app_chat *chat, size_t max_waiting,
		      struct err *e);
/* Adds a job (taking a reference); false when max_waiting jobs wait already. */
bool serve_queue_push(struct serve_queue *q, struct serve_job *j);
/* Jobs waiting and whether one runs, for /health. */
void serve_queue_load(struct serve_queue *q, size_t *waiting, bool *busy);
/* Cancels every job, stops the worker and waits for it. Connections may still call
   serve_queue_push (refused), serve_queue_load and serve_job_cancel afterwards. */
void serve_queue_stop(struct serve_queue *q);
/* After the HTTP side has stopped: frees the queue's lock. */
void serve_queue_free(struct serve_queue *q);

#endif
