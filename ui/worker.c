/*
 * worker.c — the generation thread (see worker.h).
 */
#include "ui/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct buf {
	char *s;
	size_t len, cap;
};

struct ui_worker {
	struct app_chat *chat;
	int wake_fd;
	pthread_t thread;
	bool running;  /* thread started and not yet joined (UI thread only) */

	pthread_mutex_t mu;
	/* Guarded by mu: */
	struct buf in[2];   /* reasoning, answer: appended by the worker */
	bool oom;           /* a piece could not be buffered */
	bool wake_pending;
	bool stop;          /* the UI asked to stop (also covers a stop that comes before
			       app_chat_ask has started and reset the chat's own flag) */
	bool done;
	int64_t pieces[2];
	double t_first, t_answer;
	int rc;
	struct err err;
	struct app_reply_stats stats;

	/* UI thread only: */
	struct buf out[2];  /* handed to the UI by drain */
	char *text;         /* the question being answered */
	size_t text_len;
	double t_start;
};

double ui_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p)
			return -1;
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

/* Caller holds mu. */
static void wake_locked(struct ui_worker *w)
{
	if (w->wake_pending)
		return;
	w->wake_pending = true;
	char c = 'w';
	/* A full pipe already means the UI will wake up; nothing is lost. */
	while (write(w->wake_fd, &c, 1) < 0 && errno == EINTR)
		;
}

static int on_emit(void *ud, enum app_channel channel, const char *utf8, size_t len)
{
	struct ui_worker *w = ud;
	int ch = channel == APP_CH_REASONING ? 0 : 1;
	pthread_mutex_lock(&w->mu);
	if (buf_add(&w->in[ch], utf8, len))
		w->oom = true;
	w->pieces[ch]++;
	double now = ui_now_ms();
	if (!w->t_first)
		w->t_first = now;
	if (ch == 1 && !w->t_answer)
		w->t_answer = now;
	wake_locked(w);
	int stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

static void *run(void *arg)
{
	struct ui_worker *w = arg;
	struct err e = {0};
	struct app_reply_stats st;
	memset(&st, 0, sizeof st);
	int rc = app_chat_ask(w->chat, w->text, w->text_len, on_emit, w, &st, &e);
	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->err = e;
	w->stats = st;
	w->done = true;
	wake_locked(w);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int ui_worker_new(struct app_chat *chat, int wake_fd, struct ui_worker **out, struct err *e)
{
	struct ui_worker *w = calloc(1, sizeof *w);
	if (!w)
		return err_set(e, ERR_NOMEM, "out of memory");
	w->chat = chat;
	w->wake_fd = wake_fd;
	pthread_mutex_init(&w->mu, NULL);
	*out = w;
	return 0;
}

static void join(struct ui_worker *w)
{
	if (!w->running)
		return;
	pthread_join(w->thread, NULL);
	w->running = false;
}

void ui_worker_free(struct ui_worker *w)
{
	if (!w)
		return;
	if (w->running) {
		ui_worker_stop(w);
		join(w);
	}
	for (int i = 0; i < 2; i++) {
		free(w->in[i].s);
		free(w->out[i].s);
	}
	free(w->text);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

bool ui_worker_busy(const struct ui_worker *w)
{
	return w->running;
}

int ui_worker_start(struct ui_worker *w, const char *text, size_t len, struct err *e)
{
	if (w->running)
		return err_set(e, ERR_USAGE, "still generating; wait or press Ctrl-C to stop");
	char *copy = malloc(len + 1);
	if (!copy)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	free(w->text);
	w->text = copy;
	w->text_len = len;
	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < 2; i++) {
		w->in[i].len = 0;
		w->pieces[i] = 0;
	}
	w->oom = w->done = w->stop = false;
	w->t_first = w->t_answer = 0;
	w->rc = 0;
	memset(&w->err, 0, sizeof w->err);
	pthread_mutex_unlock(&w->mu);
	w->t_start = ui_now_ms();
	int rc = pthread_create(&w->thread, NULL, run, w);
	if (rc)
		return err_set(e, ERR_NOMEM, "cannot start the generation thread: %s",
			       strerror(rc));
	w->running = true;
	return 0;
}

void ui_worker_stop(struct ui_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_mutex_unlock(&w->mu);
	app_chat_stop(w->chat);
}

void ui_worker_drain(struct ui_worker *w, struct ui_worker_news *n)
{
	memset(n, 0, sizeof *n);
	pthread_mutex_lock(&w->mu);
	for (int i = 0; i < 2; i++) {
		struct buf t = w->out[i];
		w->out[i] = w->in[i];
		t.len = 0;
		w->in[i] = t;
	}
	w->wake_pending = false;
	bool done = w->done;
	n->reasoning_pieces = w->pieces[0];
	n->answer_pieces = w->pieces[1];
	n->t_first_ms = w->t_first;
	n->t_answer_ms = w->t_answer;
	if (done) {
		n->rc = w->rc;
		n->err = w->err;
		n->stats = w->stats;
		if (!n->rc && w->oom) {
			n->rc = ERR_NOMEM;
			err_set(&n->err, ERR_NOMEM, "out of memory: part of the reply is not shown "
				"(it is saved in the history)");
		}
		w->done = false;
	}
	pthread_mutex_unlock(&w->mu);
	n->t_start_ms = w->t_start;
	n->reasoning = w->out[0].s ? w->out[0].s : "";
	n->rlen = w->out[0].len;
	n->answer = w->out[1].s ? w->out[1].s : "";
	n->alen = w->out[1].len;
	if (done) {
		join(w);
		n->finished = true;
	}
}
