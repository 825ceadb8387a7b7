/*
 * serve_job.c — jobs, the bounded queue and the engine's worker (see serve_job.h).
 */
#include "app/serve_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/oai_reply.h"

struct serve_job *serve_job_new(struct oai_chat_request *req)
{
	struct serve_job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->refs = 1;
	j->req = *req;
	memset(req, 0, sizeof *req);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	j->created = (int64_t)t.tv_sec;
	snprintf(j->id, sizeof j->id, "chatcmpl-%lx%09lx%04x", (unsigned long)t.tv_sec,
		 (unsigned long)t.tv_nsec, (unsigned)rand() & 0xffff);
	return j;
}

void serve_job_unref(struct serve_job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->mu);
	if (!last)
		return;
	oai_request_free(&j->req);
	free(j->out);
	free(j->reasoning);
	free(j->answer);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

void serve_job_cancel(struct serve_queue *q, struct serve_job *j)
{
	pthread_mutex_lock(&j->mu);
	j->cancelled = true;
	pthread_mutex_unlock(&j->mu);
	pthread_mutex_lock(&q->mu);
	if (q->running == j)
		app_chat_stop(q->chat); /* stops the prefill too, not only the next token */
	pthread_mutex_unlock(&q->mu);
}

/* Appends one SSE event (under j->mu). */
static int put_event(struct serve_job *j, const char *json)
{
	size_t n = strlen(json), need = j->out_len + n + 8;
	if (need > j->out_cap) {
		size_t cap = j->out_cap ? j->out_cap : 4096;
		while (cap < need)
			cap *= 2;
		char *m = realloc(j->out, cap);
		if (!m)
			return -1;
		j->out = m;
		j->out_cap = cap;
	}
	j->out_len += (size_t)sprintf(j->out + j->out_len, "data: %s\n\n", json);
	return 0;
}

static int put_chunk(struct serve_job *j, const char *reasoning, size_t rlen,
		     const char *content, size_t clen, const char *finish,
		     const struct oai_usage *usage)
{
	struct oai_reply_ids ids = {j->id, "", j->created};
	ids.model = j->req.model;
	char *json = oai_reply_chunk(&ids, !j->role_sent, reasoning, rlen, content, clen, finish,
				     usage);
	j->role_sent = true;
	int rc = json ? put_event(j, json) : -1;
	free(json);
	return rc;
}

/* The engine's text: a chunk for a streamed reply; the first text starts the reply. */
static int job_emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct serve_job *j = ud;
	pthread_mutex_lock(&j->mu);
	int rc = 0;
	if (j->req.stream)
		rc = channel == CH_REASONING ? put_chunk(j, utf8, len, NULL, 0, NULL, NULL)
					     : put_chunk(j, NULL, 0, utf8, len, NULL, NULL);
	j->started = true;
	bool stop = j->cancelled || rc;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return stop ? 1 : 0;
}

static const char *finish_reason(const struct gen_stats *st)
{
	return st->finish == FINISH_LENGTH ? "length" : "stop";
}

struct oai_usage serve_usage(const struct gen_stats *st)
{
	return (struct oai_usage){st->prompt_tokens, st->reasoning_tokens + st->answer_tokens,
				  st->reasoning_tokens, st->reused_tokens};
}

/* The request's sampling over the server's own. */
static void apply_sampling(struct serve_queue *q, const struct oai_chat_request *r)
{
	struct app_chat *c = q->chat;
	struct gen_params *p = &c->params;
	*p = q->base;
	if (r->temperature >= 0)
		p->sample.temperature = (float)r->temperature;
	if (r->top_p >= 0)
		p->sample.top_p = (float)r->top_p;
	if (r->top_k >= 0)
		p->sample.top_k = r->top_k;
	if (r->min_p >= 0)
		p->sample.min_p = (float)r->min_p;
	if (r->max_tokens > 0)
		p->max_tokens = r->max_tokens;
	c->seed_fixed = r->seed_set || q->base_seed_fixed;
	if (r->seed_set)
		p->sample.seed = r->seed;
}

static void run_job(struct serve_queue *q, struct serve_job *j)
{
	struct app_chat *c = q->chat;
	const struct oai_chat_request *r = &j->req;
	struct gen_stats st = {0};
	struct err e = {0};
	apply_sampling(q, r);
	const struct chat_turn *last = &r->turns[r->n_turns - 1];
	int rc = app_chat_begin_with(c, r->system, r->turns, r->n_turns - 1, &e);
	if (!rc)
		rc = app_chat_send(c, last->text, last->len, job_emit, j, &st, &e);
	app_chat_settle(c);
	(void)app_chat_take_warning(c); /* a note for a terminal user, not for a client */

	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->err = e;
	j->st = st;
	if (!rc) {
		j->reasoning = malloc(c->reasoning.len + 1);
		j->answer = malloc(c->answer.len + 1);
		if (j->reasoning && j->answer) {
			memcpy(j->reasoning, c->reasoning.s, c->reasoning.len + 1);
			memcpy(j->answer, c->answer.s, c->answer.len + 1);
			j->reasoning_len = c->reasoning.len;
			j->answer_len = c->answer.len;
		} else {
			j->rc = err_set(&j->err, ERR_NOMEM, "out of memory holding the reply");
		}
	}
	if (j->req.stream && j->started) {
		/* Headers are out: the end (or the error) goes in the stream. */
		struct oai_usage u = serve_usage(&st);
		if (!j->rc && st.finish == FINISH_INTERRUPTED)
			/* Stopped while its client listens: only a shutdown does that. A
			   finish_reason would pass the cut reply off as complete. */
			j->rc = err_set(&j->err, ERR_INTERRUPTED, "the server stopped this reply: "
					"it is shutting down");
		if (j->rc) {
			char *ej = oai_reply_error(j->err.msg, "server_error", NULL);
			if (ej)
				put_event(j, ej);
			free(ej);
		} else {
			put_chunk(j, NULL, 0, NULL, 0, finish_reason(&st), NULL);
			if (j->req.include_usage)
				put_chunk(j, NULL, 0, NULL, 0, NULL, &u);
		}
		put_event(j, "[DONE]");
	}
	j->started = j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg)
{
	struct serve_queue *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->head && !q->quit)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->quit) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		struct serve_job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->waiting--;
		q->running = j;
		pthread_mutex_unlock(&q->mu);

		pthread_mutex_lock(&j->mu);
		bool skip = j->cancelled;
		pthread_mutex_unlock(&j->mu);
		if (!skip)
			run_job(q, j);
		pthread_mutex_lock(&j->mu);
		j->started = j->done = true;
		pthread_cond_broadcast(&j->cv);
		pthread_mutex_unlock(&j->mu);

		pthread_mutex_lock(&q->mu);
		q->running = NULL;
		pthread_mutex_unlock(&q->mu);
		serve_job_unref(j);
	}
}

int serve_queue_start(struct serve_queue *q, struct app_chat *chat, size_t max_waiting,
		      struct err *e)
{
	memset(q, 0, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	q->initialised = true;
	q->chat = chat;
	q->max_waiting = max_waiting;
	q->base = chat->params;
	q->base_seed_fixed = chat->seed_fixed;
	if (pthread_create(&q->worker, NULL, worker, q))
		return err_set(e, ERR_NOMEM, "cannot start the engine's thread");
	q->worker_started = true;
	return 0;
}

bool serve_queue_push(struct serve_queue *q, struct serve_job *j)
{
	pthread_mutex_lock(&q->mu);
	bool ok = !q->quit && q->waiting < q->max_waiting;
	if (ok) {
		pthread_mutex_lock(&j->mu);
		j->refs++;
		pthread_mutex_unlock(&j->mu);
		j->next = NULL;
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		q->waiting++;
		pthread_cond_signal(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return ok;
}

void serve_queue_load(struct serve_queue *q, size_t *waiting, bool *busy)
{
	pthread_mutex_lock(&q->mu);
	*waiting = q->waiting;
	*busy = q->running != NULL;
	pthread_mutex_unlock(&q->mu);
}

/* Ends a job that will never run, so that its connection stops waiting. */
static void drop_job(struct serve_job *j)
{
	pthread_mutex_lock(&j->mu);
	j->cancelled = j->started = j->done = true;
	j->rc = err_set(&j->err, ERR_INTERRUPTED, "the server is shutting down");
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	serve_job_unref(j);
}

void serve_queue_stop(struct serve_queue *q)
{
	if (!q->worker_started)
		return;
	pthread_mutex_lock(&q->mu);
	q->quit = true;
	struct serve_job *j = q->head;
	q->head = q->tail = NULL;
	q->waiting = 0;
	if (q->running)
		app_chat_stop(q->chat);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct serve_job *next = j->next;
		drop_job(j);
		j = next;
	}
	pthread_join(q->worker, NULL);
	q->worker_started = false;
}

void serve_queue_free(struct serve_queue *q)
{
	if (!q->initialised)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	q->initialised = false;
}
