/*
 * http_stream.c — one HTTP request through libcurl (see http_stream.h).
 *
 * The transfer runs on the multi interface with our own poll loop rather than
 * curl_easy_perform: curl_easy_perform waits up to a second between progress callbacks
 * while the server is quiet (a reasoning model thinking), which is too slow for Ctrl-C.
 * Polling in 100 ms steps lets the loop check the stop flag and the idle timeout itself.
 *
 * Timeouts: curl's connect timeout covers name resolution, TCP and TLS. From the moment
 * the connection is up (CURLOPT_PREREQFUNCTION) the idle clock runs: every header or
 * body byte resets it, and a quiet spell longer than idle_timeout_ms ends the request.
 * curl's own CURLOPT_TIMEOUT stays off: a long answer is not an error.
 *
 * Every failure becomes one sentence that names HOST:PORT and says what to check. The
 * Authorization header is built in a buffer that is wiped once curl has copied it.
 */
#include "net/http_stream.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#define BODY_KEEP (1u << 20) /* what is kept of a body no callback takes */
#define POLL_MS 100          /* the stop flag and idle timeout are checked this often */

int http_global_init(struct err *e)
{
	static int done;
	if (done)
		return 0;
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK)
		return err_set(e, ERR_REMOTE, "cannot start libcurl: %s", curl_easy_strerror(cc));
	done = 1;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct xfer {
	const struct http_request *r;
	struct http_response *res;
	CURL *h;
	double t0;
	double last_ms;       /* the last byte, or the connection coming up; 0: not yet */
	bool body_started;
	bool to_callback;     /* this body goes to on_body (a 2xx response) */
	int rc;               /* on_body's nonzero, ERR_INTERRUPTED, ERR_NOMEM: ends the loop */
	char host[256];       /* for messages: the URL's host and port */
	long port;
};

static bool stop_set(const struct xfer *x)
{
	return x->r->stop && __atomic_load_n(x->r->stop, __ATOMIC_RELAXED); /* set by another thread */
}

/* Keeps at most BODY_KEEP bytes of a body nobody streams; the rest is dropped. */
static int keep_body(struct http_response *res, const char *buf, size_t len)
{
	if (res->body_len >= BODY_KEEP)
		return 0;
	if (len > BODY_KEEP - res->body_len)
		len = BODY_KEEP - res->body_len;
	char *n = realloc(res->body, res->body_len + len + 1);
	if (!n)
		return ERR_NOMEM;
	memcpy(n + res->body_len, buf, len);
	res->body = n;
	res->body_len += len;
	n[res->body_len] = '\0';
	return 0;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	x->last_ms = now_ms();
	if (!x->body_started) {
		x->body_started = true;
		x->res->first_byte_ms = x->last_ms - x->t0;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->res->status);
		x->to_callback = x->r->on_body && x->res->status / 100 == 2;
	}
	if (stop_set(x))
		x->rc = ERR_INTERRUPTED;
	else if (x->to_callback)
		x->rc = x->r->on_body(x->r->ud, buf, len);
	else
		x->rc = keep_body(x->res, buf, len);
	/* Any count other than len makes curl end the transfer (CURLE_WRITE_ERROR). */
	return x->rc ? (len ? 0 : 1) : len;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* Retry-After is delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static double parse_retry_after(const char *v)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end != v && !*end && !errno && d >= 0)
		return d;
	time_t t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	double delta = difftime(t, time(NULL));
	return delta > 0 ? delta : 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	char line[512];
	x->last_ms = now_ms();
	if (len >= sizeof line)
		return len; /* no header we read is that long */
	memcpy(line, buf, len);
	line[len] = '\0';
	trim(line);
	if (!strncmp(line, "HTTP/", 5)) {
		/* A new status line (after a 1xx, say): forget the last response's headers. */
		x->res->content_type[0] = '\0';
		x->res->retry_after_s = -1;
		return len;
	}
	char *colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	const char *v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!strcasecmp(line, "Content-Type"))
		snprintf(x->res->content_type, sizeof x->res->content_type, "%s", v);
	else if (!strcasecmp(line, "Retry-After"))
		x->res->retry_after_s = parse_retry_after(v);
	return len;
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called once the connection is up, just before the request goes out. */
static int on_connected(void *ud, char *conn_primary_ip, char *conn_local_ip,
			int conn_primary_port, int conn_local_port)
{
	struct xfer *x = ud;
	x->last_ms = now_ms();
	return CURL_PREREQFUNC_OK;
}
#endif

/* The host and port that messages name; falls back to the URL itself. */
static void name_host(struct xfer *x, const char *url)
{
	snprintf(x->host, sizeof x->host, "%s", url);
	x->port = 0;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
	    !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT)) {
		snprintf(x->host, sizeof x->host, "%s", host);
		x->port = strtol(port, NULL, 10);
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static bool is_tls_error(CURLcode cc)
{
	switch (cc) {
	case CURLE_SSL_CONNECT_ERROR: case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED: case CURLE_SSL_CERTPROBLEM: case CURLE_SSL_CIPHER:
	case CURLE_USE_SSL_FAILED: case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE: case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE: case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH: case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return true;
	default:
		return false;
	}
}

/* One sentence for a failed transfer, naming the server and what to check. */
static int transfer_error(struct xfer *x, CURLcode cc, const char *detail, long connect_ms,
			  struct err *e)
{
	const char *h = x->host;
	long p = x->port;
	const char *d = detail && *detail ? detail : curl_easy_strerror(cc);
	long os_errno = 0;
	curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &os_errno);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (os_errno == ECONNREFUSED || strstr(d, "refused"))
			return err_set(e, ERR_REMOTE, "could not connect to %s:%ld: connection "
				       "refused (is the server running?)", h, p);
		return err_set(e, ERR_REMOTE, "could not connect to %s:%ld: %s (check the URL "
			       "and the network)", h, p,
			       os_errno ? strerror((int)os_errno) : d);
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(e, ERR_REMOTE, "cannot resolve host '%s' (check the URL)", h);
	case CURLE_COULDNT_RESOLVE_PROXY:
		return err_set(e, ERR_REMOTE, "cannot resolve the proxy's host for %s: %s (check "
			       "$https_proxy / $http_proxy / $all_proxy)", h, d);
	case CURLE_PEER_FAILED_VERIFICATION:
		return err_set(e, ERR_REMOTE, "the TLS certificate of %s could not be verified: "
			       "%s (is the host name right? a private CA must be in the system's "
			       "trust store)", h, d);
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, ERR_REMOTE, "no connection to %s:%ld within %g s (connect "
			       "timeout; is the host reachable and the port right?)", h, p,
			       connect_ms / 1e3);
	case CURLE_GOT_NOTHING:
		return err_set(e, ERR_REMOTE, "%s:%ld closed the connection without replying "
			       "(is it an HTTP server? an https server needs an https:// URL)",
			       h, p);
	case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR:
		return err_set(e, ERR_REMOTE, "the connection to %s closed in the middle of the "
			       "response (%s)", h, d);
	case CURLE_SEND_ERROR:
		return err_set(e, ERR_REMOTE, "the connection to %s broke while the request was "
			       "being sent (%s)", h, d);
	case CURLE_WEIRD_SERVER_REPLY:
		return err_set(e, ERR_REMOTE, "%s:%ld does not answer in HTTP (%s; is the port "
			       "right? an https server needs an https:// URL)", h, p, d);
	case CURLE_UNSUPPORTED_PROTOCOL:
		return err_set(e, ERR_USAGE, "only http:// and https:// URLs are supported "
			       "(%s)", d);
	case CURLE_URL_MALFORMAT:
		return err_set(e, ERR_USAGE, "not a valid URL: %s", d);
	case CURLE_OUT_OF_MEMORY:
		return err_set(e, ERR_NOMEM, "out of memory during the request to %s", h);
	default:
		if (is_tls_error(cc))
			return err_set(e, ERR_REMOTE, "the TLS handshake with %s:%ld failed: %s "
				       "(does the server speak https on that port?)", h, p, d);
		return err_set(e, ERR_REMOTE, "the request to %s:%ld failed: %s", h, p, d);
	}
}

static struct curl_slist *make_headers(const struct http_request *r, bool *ok)
{
	struct curl_slist *l = NULL, *n;
	const char *fixed[] = {
		r->body ? "Content-Type: application/json" : NULL,
		r->accept_sse ? "Accept: text/event-stream" : "Accept: application/json",
		"Expect:", /* no 100-continue round trip for larger bodies */
	};
	*ok = true;
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (!fixed[i])
			continue;
		if (!(n = curl_slist_append(l, fixed[i])))
			goto fail;
		l = n;
	}
	if (r->bearer && *r->bearer) {
		size_t len = strlen(r->bearer) + sizeof "Authorization: Bearer ";
		char *a = malloc(len);
		if (!a)
			goto fail;
		snprintf(a, len, "Authorization: Bearer %s", r->bearer);
		n = curl_slist_append(l, a);
		explicit_bzero(a, len);
		free(a);
		if (!n)
			goto fail;
		l = n;
	}
	return l;
fail:
	*ok = false;
	return l;
}

static int setup(struct xfer *x, struct curl_slist *hdrs, char *errbuf, long connect_ms)
{
	const struct http_request *r = x->r;
	CURL *h = x->h;
	CURLcode cc = CURLE_OK;
#define SET(opt, val) do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_HTTPHEADER, hdrs);
	SET(CURLOPT_USERAGENT, "ponder");
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
#if LIBCURL_VERSION_NUM >= 0x075000
	SET(CURLOPT_PREREQFUNCTION, on_connected);
	SET(CURLOPT_PREREQDATA, x);
#endif
	if (r->body) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		SET(CURLOPT_POSTFIELDS, r->body);
	}
#undef SET
	return cc == CURLE_OK ? 0 : -1;
}

/* Runs the transfer in POLL_MS steps. Returns curl's result for it, or sets x->rc (and
   for the idle timeout *idle) when the loop ended it. */
static CURLcode run(struct xfer *x, CURLM *m, long connect_ms, long idle_ms, bool *idle)
{
	int running = 1;
	CURLMcode mc = CURLM_OK;
#if LIBCURL_VERSION_NUM < 0x075000
	x->last_ms = x->t0 + connect_ms; /* no hook for the connection: start after it */
#endif
	for (;;) {
		mc = curl_multi_perform(m, &running);
		if (mc != CURLM_OK || !running || x->rc)
			break;
		if (stop_set(x)) {
			x->rc = ERR_INTERRUPTED;
			break;
		}
		if (x->last_ms > 0 && now_ms() - x->last_ms > idle_ms) {
			*idle = true;
			break;
		}
		mc = curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
		if (mc != CURLM_OK)
			break;
	}
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
	if (running || x->rc || *idle)
		return CURLE_ABORTED_BY_CALLBACK;
	int left;
	CURLMsg *msg;
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE)
			return msg->data.result;
	return CURLE_OK;
}

int http_stream(const struct http_request *r, struct http_response *res, struct err *e)
{
	memset(res, 0, sizeof *res);
	res->retry_after_s = -1;
	res->first_byte_ms = -1;
	long connect_ms = r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 10000;
	long idle_ms = r->idle_timeout_ms > 0 ? r->idle_timeout_ms : 120000;
	struct xfer x = {.r = r, .res = res, .t0 = now_ms()};
	char errbuf[CURL_ERROR_SIZE] = "";
	name_host(&x, r->url);

	bool ok;
	int rc = 0;
	struct curl_slist *hdrs = make_headers(r, &ok);
	CURLM *m = curl_multi_init();
	x.h = curl_easy_init();
	if (!ok || !m || !x.h) {
		rc = err_set(e, ERR_NOMEM, "out of memory preparing the request to %s", x.host);
		goto out;
	}
	if (setup(&x, hdrs, errbuf, connect_ms)) {
		rc = err_set(e, ERR_REMOTE, "libcurl refused the request options for %s "
			     "(libcurl %s is too old?)", x.host,
			     curl_version_info(CURLVERSION_NOW)->version);
		goto out;
	}
	if (curl_multi_add_handle(m, x.h) != CURLM_OK) {
		rc = err_set(e, ERR_NOMEM, "out of memory preparing the request to %s", x.host);
		goto out;
	}
	bool idle = false;
	CURLcode cc = run(&x, m, connect_ms, idle_ms, &idle);
	curl_multi_remove_handle(m, x.h);
	if (!res->status)
		curl_easy_getinfo(x.h, CURLINFO_RESPONSE_CODE, &res->status);
	if (x.rc == ERR_INTERRUPTED)
		rc = err_set(e, ERR_INTERRUPTED, "the request to %s was interrupted", x.host);
	else if (x.rc == ERR_NOMEM && !x.to_callback)
		rc = err_set(e, ERR_NOMEM, "out of memory reading the reply of %s", x.host);
	else if (x.rc)
		rc = x.rc; /* on_body's own result; its message is its business */
	else if (idle)
		rc = err_set(e, ERR_REMOTE, "%s:%ld sent nothing for %g s (idle timeout; the "
			     "server may be overloaded or stuck)", x.host, x.port, idle_ms / 1e3);
	else if (cc != CURLE_OK)
		rc = transfer_error(&x, cc, errbuf, connect_ms, e);
out:
	res->total_ms = now_ms() - x.t0;
	if (x.h)
		curl_easy_cleanup(x.h);
	if (m)
		curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	return rc;
}

void http_response_free(struct http_response *res)
{
	if (!res)
		return;
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
}
