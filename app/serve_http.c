/*
 * serve_http.c — the HTTP side of `ponder serve` (see serve_http.h).
 */
#include "app/serve_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/oai_reply.h"

#define WAIT_SLICE_MS 100   /* how often a waiting connection looks at its client */
#define RETRY_AFTER_S 5     /* what a 503 suggests */
#define MAX_CONNECTIONS 256 /* each is a thread; beyond, connections are refused */
#define IDLE_TIMEOUT_S 600  /* a client that sends nothing for this long is dropped */
#define STOP_GRACE_MS 2000  /* on stopping, how long replies under way may take to go out */

struct serve_http {
	struct MHD_Daemon *d;
	struct serve_opts o;
	struct serve_queue *q;
	int listen_fd;
	int active;              /* requests between handle() and completed() (atomic) */
};

/* The request body as it arrives (libmicrohttpd's per-request pointer). */
struct request_state {
	char *body;
	size_t len, cap;
	bool too_large, no_memory;
	double start_ms;
};

/* A streamed reply: the job and the connection whose client it waits for. */
struct stream_state {
	struct serve_http *h;
	struct serve_job *job;
	struct MHD_Connection *conn;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Whether the client closed its side (or the socket failed). */
static bool client_gone(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return false;
	struct pollfd p = {ci->connect_fd, POLLIN | POLLRDHUP, 0};
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
		return true;
	char b;
	return recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Queues a JSON response, taking json (malloc'ed; NULL: out of memory, a 500). */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, char *json,
				  int retry_after_s)
{
	static const char oom[] = "{\"error\":{\"message\":\"out of memory\","
				  "\"type\":\"server_error\",\"code\":null}}";
	if (!json) {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		json = strdup(oom);
		if (!json)
			return MHD_NO;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(json), json,
								  MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(json);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (retry_after_s > 0) {
		char v[16];
		snprintf(v, sizeof v, "%d", retry_after_s);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
	}
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *msg,
				   const char *type, const char *code)
{
	return reply_json(c, status, oai_reply_error(msg, type, code), 0);
}

/* Compares without stopping at the first difference, so timing tells nothing. */
static bool same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned diff = (unsigned)(la ^ lb);
	for (size_t i = 0; i < la; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
	return diff == 0;
}

static bool authorized(const struct serve_http *h, struct MHD_Connection *c)
{
	if (!h->o.api_key)
		return true;
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	return v && !strncmp(v, "Bearer ", 7) && same_secret(v + 7, h->o.api_key);
}

/* Waits on the job (its mutex held) for at most WAIT_SLICE_MS; true when signalled,
   false when the slice ran out (time to look at the client). */
static bool wait_slice(struct serve_job *j)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += WAIT_SLICE_MS * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return pthread_cond_timedwait(&j->cv, &j->mu, &t) == 0;
}

/* Waits until the job has started (or, with until_done, ended); false when its client
   went away first. */
static bool wait_job(struct serve_job *j, struct MHD_Connection *c, bool until_done)
{
	pthread_mutex_lock(&j->mu);
	while (!(until_done ? j->done : j->started)) {
		if (wait_slice(j))
			continue;
		pthread_mutex_unlock(&j->mu);
		if (client_gone(c))
			return false;
		pthread_mutex_lock(&j->mu);
	}
	pthread_mutex_unlock(&j->mu);
	return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream_state *s = cls;
	struct serve_job *j = s->job;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		if (j->out_sent < j->out_len) {
			size_t n = j->out_len - j->out_sent;
			if (n > max)
				n = max;
			memcpy(buf, j->out + j->out_sent, n);
			j->out_sent += n;
			if (j->out_sent == j->out_len)
				j->out_sent = j->out_len = 0; /* all out: the buffer starts over */
			pthread_mutex_unlock(&j->mu);
			return (ssize_t)n;
		}
		if (j->done) {
			pthread_mutex_unlock(&j->mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (wait_slice(j))
			continue;
		pthread_mutex_unlock(&j->mu);
		if (client_gone(s->conn)) {
			serve_job_cancel(s->h->q, j);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		pthread_mutex_lock(&j->mu);
	}
}

/* The response is gone: sent whole, or its client went away (then the job stops). */
static void stream_free(void *cls)
{
	struct stream_state *s = cls;
	pthread_mutex_lock(&s->job->mu);
	bool done = s->job->done;
	pthread_mutex_unlock(&s->job->mu);
	if (!done)
		serve_job_cancel(s->h->q, s->job);
	serve_job_unref(s->job);
	free(s);
}

static enum MHD_Result reply_stream(struct serve_http *h, struct MHD_Connection *c,
				    struct serve_job *j)
{
	struct stream_state *s = malloc(sizeof *s);
	if (!s) {
		serve_job_cancel(h->q, j);
		serve_job_unref(j);
		return reply_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0);
	}
	*s = (struct stream_state){h, j, c};
	struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
								    stream_read, s, stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* A reply that failed before any of it went out, as its status and error. */
static enum MHD_Result reply_failed(struct MHD_Connection *c, const struct serve_job *j)
{
	if (j->rc == ERR_CONTEXT)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, j->err.msg, "invalid_request_error",
				   "context_length_exceeded");
	if (j->rc == ERR_INTERRUPTED)
		return reply_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  oai_reply_error(j->err.msg, "server_error", NULL), RETRY_AFTER_S);
	return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, j->err.msg, "server_error", NULL);
}

static enum MHD_Result reply_whole(struct MHD_Connection *c, struct serve_job *j)
{
	struct oai_reply_ids ids = {j->id, j->req.model, j->created};
	struct oai_usage u = serve_usage(&j->st);
	return reply_json(c, MHD_HTTP_OK,
			  oai_reply_completion(&ids, j->reasoning, j->reasoning_len, j->answer,
					       j->answer_len,
					       j->st.finish == FINISH_LENGTH ? "length" : "stop", &u),
			  0);
}

static enum MHD_Result chat(struct serve_http *h, struct MHD_Connection *c,
			    struct request_state *rs)
{
	char msg[512];
	if (rs->too_large) {
		snprintf(msg, sizeof msg, "the request body is over %zu bytes (ponder serve "
			 "--max-body)", h->o.max_body);
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, msg, "invalid_request_error", NULL);
	}
	if (rs->no_memory)
		return reply_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0);
	struct oai_limits lim = {h->o.max_body, h->o.max_messages, h->o.ctx};
	struct oai_chat_request req;
	struct err e = {0};
	int rc = oai_request_parse(rs->body ? rs->body : "", rs->len, &lim, &req, &e);
	if (rc)
		return reply_error(c, rc == ERR_RANGE ? MHD_HTTP_CONTENT_TOO_LARGE
						      : MHD_HTTP_BAD_REQUEST,
				   e.msg, "invalid_request_error", NULL);
	if (req.model[0] && strcmp(req.model, h->o.model)) {
		snprintf(msg, sizeof msg, "the model '%.200s' is not served here; this server "
			 "serves '%.200s'", req.model, h->o.model);
		oai_request_free(&req);
		return reply_error(c, MHD_HTTP_NOT_FOUND, msg, "invalid_request_error",
				   "model_not_found");
	}
	snprintf(req.model, sizeof req.model, "%s", h->o.model);
	struct serve_job *j = serve_job_new(&req);
	if (!j) {
		oai_request_free(&req);
		return reply_json(c, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, 0);
	}
	if (!serve_queue_push(h->q, j)) {
		serve_job_unref(j);
		snprintf(msg, sizeof msg, "the server is busy: %zu requests are waiting for the "
			 "engine already; retry in a few seconds", h->o.max_queue);
		return reply_json(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  oai_reply_error(msg, "server_error", "server_busy"), RETRY_AFTER_S);
	}
	if (!wait_job(j, c, !j->req.stream)) {
		serve_job_cancel(h->q, j);
		serve_job_unref(j);
		return MHD_NO; /* the client is gone: close */
	}
	pthread_mutex_lock(&j->mu);
	bool failed = j->done && j->rc && !j->out_len;
	pthread_mutex_unlock(&j->mu);
	enum MHD_Result ret;
	if (failed)
		ret = reply_failed(c, j);
	else if (j->req.stream)
		return reply_stream(h, c, j); /* the response holds the job now */
	else
		ret = j->rc ? reply_failed(c, j) : reply_whole(c, j);
	serve_job_unref(j);
	return ret;
}

static enum MHD_Result route(struct serve_http *h, struct MHD_Connection *c, const char *url,
			     const char *method, struct request_state *rs)
{
	bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
	const char *allowed = NULL;
	if (!strcmp(url, "/health")) {
		if (get) {
			size_t waiting;
			bool busy;
			serve_queue_load(h->q, &waiting, &busy);
			char *s = NULL;
			if (asprintf(&s, "{\"status\":\"ok\",\"busy\":%s,\"waiting\":%zu}",
				     busy ? "true" : "false", waiting) < 0)
				s = NULL;
			return reply_json(c, MHD_HTTP_OK, s, 0);
		}
		allowed = "GET";
	} else if (!strcmp(url, "/v1/models") || !strcmp(url, "/v1/chat/completions")) {
		bool models = !strcmp(url, "/v1/models");
		if (!authorized(h, c))
			return reply_error(c, MHD_HTTP_UNAUTHORIZED, "a valid API key is needed: send "
					   "it as 'Authorization: Bearer KEY'",
					   "authentication_error", "invalid_api_key");
		if (models && get)
			return reply_json(c, MHD_HTTP_OK, oai_reply_models(h->o.model,
									   (int64_t)time(NULL)), 0);
		if (!models && post)
			return chat(h, c, rs);
		allowed = models ? "GET" : "POST";
	} else {
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such endpoint: ponder serve has GET "
				   "/health, GET /v1/models and POST /v1/chat/completions",
				   "invalid_request_error", NULL);
	}
	char msg[128];
	snprintf(msg, sizeof msg, "%s takes %s", url, allowed);
	struct MHD_Response *r = NULL;
	char *json = oai_reply_error(msg, "invalid_request_error", NULL);
	if (json)
		r = MHD_create_response_from_buffer(strlen(json), json, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(json);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allowed);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	MHD_destroy_response(r);
	return ret;
}

/* Keeps the body up to the limit; beyond it the rest is read and dropped, and the
   request gets a 413. */
static void take_body(const struct serve_http *h, struct request_state *rs, const char *data,
		      size_t n)
{
	if (rs->too_large || rs->no_memory)
		return;
	if (n > h->o.max_body - rs->len) {
		rs->too_large = true;
		free(rs->body);
		rs->body = NULL;
		rs->len = rs->cap = 0;
		return;
	}
	if (rs->len + n + 1 > rs->cap) {
		size_t cap = rs->cap ? rs->cap : 4096;
		while (cap < rs->len + n + 1)
			cap *= 2;
		char *b = realloc(rs->body, cap);
		if (!b) {
			rs->no_memory = true;
			return;
		}
		rs->body = b;
		rs->cap = cap;
	}
	memcpy(rs->body + rs->len, data, n);
	rs->len += n;
	rs->body[rs->len] = '\0';
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct serve_http *h = cls;
	struct request_state *rs = *state;
	if (!rs) {
		if (!(rs = calloc(1, sizeof *rs)))
			return MHD_NO;
		rs->start_ms = now_ms();
		*state = rs;
		__atomic_add_fetch(&h->active, 1, __ATOMIC_SEQ_CST);
		return MHD_YES;
	}
	if (*upload_size) {
		take_body(h, rs, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return route(h, c, url, method, rs);
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
		      enum MHD_RequestTerminationCode why)
{
	struct serve_http *h = cls;
	struct request_state *rs = *state;
	if (!rs)
		return;
	if (h->o.verbose) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
		fprintf(stderr, "ponder serve: %u after %.0f ms%s\n", ci ? ci->http_status : 0,
			now_ms() - rs->start_ms,
			why == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
	}
	free(rs->body);
	free(rs);
	*state = NULL;
	__atomic_sub_fetch(&h->active, 1, __ATOMIC_SEQ_CST);
}

static bool is_loopback(const struct sockaddr *a)
{
	if (a->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a)->sin6_addr);
	return false;
}

/* Resolves, checks and binds the listening socket ourselves: an address in use or a
   host that does not resolve gets its own message, and port 0 tells the port chosen. */
static int open_listener(const struct serve_opts *o, int *fd_out, int *port, bool *ipv6,
			 struct err *e)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char service[16];
	snprintf(service, sizeof service, "%d", o->port);
	int g = getaddrinfo(o->host, service, &hints, &ai);
	if (g)
		return err_set(e, ERR_USAGE, "--host %s: %s", o->host, gai_strerror(g));
	if (!is_loopback(ai->ai_addr) && !o->api_key) {
		freeaddrinfo(ai);
		return err_set(e, ERR_USAGE, "--host %s is reachable from other machines: give an "
			       "API key with --api-key-env VAR (clients send it as a Bearer token), "
			       "or serve on 127.0.0.1", o->host);
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return err_set(e, ERR_IO, "cannot listen on %s port %d: %s%s", o->host, o->port,
			       strerror(err), err == EADDRINUSE ? " (another server uses it: "
			       "choose another with --port)" : "");
	}
	*ipv6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return 0;
}

int serve_http_start(const struct serve_opts *o, struct serve_queue *q, struct serve_http **out,
		     int *port, struct err *e)
{
	*out = NULL;
	struct serve_http *h = calloc(1, sizeof *h);
	if (!h)
		return err_set(e, ERR_NOMEM, "out of memory");
	h->o = *o;
	h->q = q;
	bool ipv6 = false;
	int rc = open_listener(o, &h->listen_fd, port, &ipv6, e);
	if (rc) {
		free(h);
		return rc;
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 (o->verbose ? MHD_USE_ERROR_LOG : 0) | (ipv6 ? MHD_USE_IPv6 : 0);
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
				MHD_OPTION_LISTEN_SOCKET, h->listen_fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
				MHD_OPTION_NOTIFY_COMPLETED, completed, h,
				MHD_OPTION_END);
	if (!h->d) {
		close(h->listen_fd);
		free(h);
		return err_set(e, ERR_IO, "the HTTP server (libmicrohttpd) did not start");
	}
	*out = h;
	return 0;
}

void serve_http_stop(struct serve_http *h)
{
	if (!h)
		return;
	/* The queue has ended every job: let the replies under way (a stream's last events,
	   a 503) go out whole first, as MHD_stop_daemon shuts every connection's socket at
	   once. Bounded: a client that does not read is not waited for. */
	for (int i = 0; i < STOP_GRACE_MS / 10 && __atomic_load_n(&h->active, __ATOMIC_SEQ_CST);
	     i++)
		nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
	MHD_stop_daemon(h->d); /* waits for the connection threads; their jobs are ended */
	close(h->listen_fd);
	free(h);
}
