/*
 * oai_client.c — a chat through an OpenAI-compatible server (see oai_client.h).
 *
 * The pipeline of one reply: http_stream hands the body over as it arrives → an
 * sse_reader cuts it into events → an oai_stream turns each event's chunk into
 * reasoning and answer text → a small wrapper notes the time of the first text and
 * passes it on to the caller's emit. Nothing here waits for the whole reply.
 *
 * What went wrong is decided after the transfer, in this order: the caller stopped us
 * (not an error: the text so far stands), the server answered with an error status
 * (its own message quoted), the body was not an event stream at all (another kind of
 * server at that URL), the stream was malformed, the connection failed, the stream
 * ended before its finish_reason. The API key is read from its variable for each request
 * and goes nowhere but the Authorization header.
 */
#include "net/oai_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/json_text.h"
#include "common/utf8.h"
#include "net/http_stream.h"
#include "net/sse.h"

#define SSE_MAX (4u << 20)         /* a line or an event larger than this is not a chunk */
#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_IDLE_MS 300000
#define QUOTE_RAW 200              /* bytes of a non-JSON error body quoted */
#define QUOTE_MSG 400              /* bytes of a server's error message quoted */

struct oai_client {
	char *base;          /* the URL without a trailing "/" or "/v1" */
	char *chat_url;      /* base + "/v1/chat/completions" */
	char *models_url;    /* base + "/v1/models" */
	char model[256];
	char key_env[128];   /* "" when no key is sent */
	long connect_ms, idle_ms;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The key for this request: read now, never kept. NULL when none is configured. */
static const char *key_now(const struct oai_client *c)
{
	if (!c->key_env[0])
		return NULL;
	const char *k = getenv(c->key_env);
	return k && *k ? k : NULL;
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);
	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

/*
 * At most max bytes of src as one line safe to print: control characters become
 * spaces, runs of whitespace one space, invalid UTF-8 '?', and a cut never splits a
 * character ("..." marks it).
 */
static void quote_safe(char *out, size_t cap, const char *src, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t k = 0, i = 0;
	while (i < len && isspace(s[i]))
		i++;
	while (i < len && i < max) {
		uint32_t cp;
		size_t n = utf8_decode(s + i, len - i, &cp);
		if (k + (n ? n : 1) + 4 > cap)
			break;
		if (!n) {
			out[k++] = '?';
			i++;
		} else if (n == 1 && (s[i] < 0x20 || s[i] == 0x7F)) {
			if (k && out[k - 1] != ' ')
				out[k++] = ' ';
			i++;
		} else if (n == 1 && s[i] == ' ' && k && out[k - 1] == ' ') {
			i++;
		} else {
			memcpy(out + k, s + i, n);
			k += n;
			i += n;
		}
	}
	while (k && out[k - 1] == ' ')
		k--;
	if (i < len) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* The server's own words from an error body: {"error": {"message"}} or {"error": "..."}
   (OpenAI), {"message"} (vLLM), {"detail"} (FastAPI); else the body itself. */
static void server_message(const struct http_response *res, char *out, size_t cap)
{
	out[0] = '\0';
	if (!res->body || !res->body_len)
		return;
	json_t *root = json_loadb(res->body, res->body_len, 0, NULL);
	const char *msg = NULL;
	if (json_is_object(root)) {
		json_t *err = json_object_get(root, "error");
		json_t *detail = json_object_get(root, "detail");
		if (json_is_array(detail) && json_array_size(detail))
			detail = json_object_get(json_array_get(detail, 0), "msg");
		if (json_is_object(err))
			msg = json_string_value(json_object_get(err, "message"));
		else if (json_is_string(err))
			msg = json_string_value(err);
		if (!msg)
			msg = json_string_value(json_object_get(root, "message"));
		if (!msg)
			msg = json_string_value(detail);
	}
	if (msg)
		quote_safe(out, cap, msg, strlen(msg), QUOTE_MSG);
	else
		quote_safe(out, cap, res->body, res->body_len, QUOTE_RAW);
	json_decref(root);
	size_t n = strlen(out);
	/* Our sentence goes on after the quote; a cut's "..." stays. */
	if (n && out[n - 1] == '.' && !(n >= 3 && !strcmp(out + n - 3, "...")))
		out[n - 1] = '\0';
}

/* Whether a server's message says the prompt does not fit the model's context. */
static bool says_context(const char *msg)
{
	static const char *const words[] = {
		"context length", "context_length", "maximum context", "context window",
		"maximum model length", "max_model_len", "too many tokens",
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasestr(msg, words[i]))
			return true;
	return false;
}

static int get_models(const struct oai_client *c, json_t **root, struct err *e)
{
	struct http_request rq = {
		.url = c->models_url, .bearer = key_now(c),
		.connect_timeout_ms = c->connect_ms, .idle_timeout_ms = c->idle_ms,
	};
	struct http_response res;
	char msg[512];
	*root = NULL;
	int rc = http_stream(&rq, &res, e);
	if (rc) {
		err_prefix(e, "cannot list the models of %s", c->models_url);
		goto out;
	}
	if (res.status / 100 != 2) {
		server_message(&res, msg, sizeof msg);
		rc = err_set(e, ERR_REMOTE, "%s answered HTTP %ld%s%s (is --remote the base URL "
			     "of an OpenAI-compatible server%s?)", c->models_url, res.status,
			     msg[0] ? ": " : "", msg,
			     res.status == 401 || res.status == 403 ?
				     ", and the API key right" : "");
		goto out;
	}
	json_t *j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
	if (!json_is_array(json_object_get(j, "data"))) {
		json_decref(j);
		rc = err_set(e, ERR_REMOTE, "the reply of %s is not an OpenAI model list (no "
			     "\"data\" array): is --remote the base URL of an OpenAI-compatible "
			     "server?", c->models_url);
		goto out;
	}
	*root = j;
out:
	http_response_free(&res);
	return rc;
}

/* The first model the server lists becomes the one requests use. */
static int pick_model(struct oai_client *c, struct err *e)
{
	json_t *root;
	int rc = get_models(c, &root, e);
	if (rc)
		return rc;
	json_t *data = json_object_get(root, "data");
	const char *id = json_string_value(json_object_get(json_array_get(data, 0), "id"));
	if (!id || !*id)
		rc = err_set(e, ERR_REMOTE, "%s lists no models; name one with --remote-model",
			     c->models_url);
	else if (strlen(id) >= sizeof c->model)
		rc = err_set(e, ERR_REMOTE, "%s lists a model name longer than %zu bytes; name "
			     "the model with --remote-model", c->models_url, sizeof c->model - 1);
	else
		snprintf(c->model, sizeof c->model, "%s", id);
	json_decref(root);
	return rc;
}

/* The base URL as requests use it: http(s) only, no query, no trailing "/" or "/v1". */
static int check_url(const char *url, char **base, struct err *e)
{
	if (!url || !*url)
		return err_set(e, ERR_USAGE, "--remote needs the server's URL, such as "
			       "http://localhost:8000");
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7F)
			return err_set(e, ERR_USAGE, "the --remote URL '%s' contains a space or "
				       "control character", url);
	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return err_set(e, ERR_USAGE, "the --remote URL '%s' must start with http:// or "
			       "https://", url);
	if (strpbrk(url, "?#"))
		return err_set(e, ERR_USAGE, "the --remote URL '%s' must not have a query or "
			       "fragment: give the server's base URL, such as "
			       "http://localhost:8000", url);
	CURLU *u = curl_url();
	char *host = NULL;
	CURLUcode uc = u ? curl_url_set(u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
	if (!uc)
		uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	bool ok = !uc && host && *host;
	curl_free(host);
	curl_url_cleanup(u);
	if (uc == CURLUE_OUT_OF_MEMORY)
		return err_set(e, ERR_NOMEM, "out of memory checking the --remote URL");
	if (!ok)
		return err_set(e, ERR_USAGE, "the --remote URL '%s' is not a valid URL (%s)", url,
			       uc ? curl_url_strerror(uc) : "no host");
	size_t n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	if (n > 11 && !strncmp(url + n - 3, "/v1", 3))
		n -= 3;
	while (n > 8 && url[n - 1] == '/')
		n--;
	if (!(*base = strndup(url, n)))
		return err_set(e, ERR_NOMEM, "out of memory");
	return 0;
}

int oai_client_open(const struct oai_client_opts *o, struct oai_client **out, struct err *e)
{
	*out = NULL;
	int rc = http_global_init(e);
	if (rc)
		return rc;
	struct oai_client *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	c->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
	c->idle_ms = o->idle_timeout_ms > 0 ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
	if ((rc = check_url(o->url, &c->base, e)))
		goto fail;
	c->chat_url = join(c->base, "/v1/chat/completions");
	c->models_url = join(c->base, "/v1/models");
	if (!c->chat_url || !c->models_url) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (o->key_env && *o->key_env) {
		if (strlen(o->key_env) >= sizeof c->key_env) {
			rc = err_set(e, ERR_USAGE, "the API key variable name '%.40s...' is too "
				     "long", o->key_env);
			goto fail;
		}
		snprintf(c->key_env, sizeof c->key_env, "%s", o->key_env);
		if (!key_now(c)) {
			rc = err_set(e, ERR_USAGE, "the API key variable $%s is not set or empty: "
				     "export it, or name another with --api-key-env", c->key_env);
			goto fail;
		}
	}
	if (o->model && *o->model) {
		if (strlen(o->model) >= sizeof c->model) {
			rc = err_set(e, ERR_USAGE, "the model name '%.40s...' is longer than %zu "
				     "bytes", o->model, sizeof c->model - 1);
			goto fail;
		}
		snprintf(c->model, sizeof c->model, "%s", o->model);
	} else if ((rc = pick_model(c, e))) {
		goto fail;
	}
	*out = c;
	return 0;
fail:
	oai_client_close(c);
	return rc;
}

void oai_client_close(struct oai_client *c)
{
	if (!c)
		return;
	free(c->base);
	free(c->chat_url);
	free(c->models_url);
	free(c);
}

const char *oai_client_model(const struct oai_client *c)
{
	return c->model;
}

static const char *role_name(enum chat_role r)
{
	switch (r) {
	case CHAT_SYSTEM: return "system";
	case CHAT_ASSISTANT: return "assistant";
	default: return "user";
	}
}

/* Sampling values are floats: JSON_REAL_PRECISION(7) writes 0.6f as 0.6. */
static char *build_body(const struct oai_client *c, const struct chat_turn *turns, size_t n,
			const struct gen_params *p)
{
	const struct sample_params *s = &p->sample;
	json_t *msgs = json_array();
	json_t *root = json_pack("{s:s, s:o, s:b, s:{s:b}, s:I}",
				 "model", c->model, "messages", msgs, "stream", 1,
				 "stream_options", "include_usage", 1,
				 "seed", (json_int_t)(s->seed & INT64_MAX));
	char *body = NULL;
	if (!root)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_pack("{s:s, s:o}", "role", role_name(turns[i].role), "content",
				      json_text(turns[i].text, turns[i].len));
		if (!m || json_array_append_new(msgs, m))
			goto out;
	}
	/* Negative: not given by the user, so the server's default applies. */
	if (s->temperature >= 0 &&
	    json_object_set_new(root, "temperature", json_real(s->temperature)))
		goto out;
	if (s->top_p >= 0 && json_object_set_new(root, "top_p", json_real(s->top_p)))
		goto out;
	if (p->max_tokens > 0 &&
	    json_object_set_new(root, "max_tokens", json_integer(p->max_tokens)))
		goto out;
	if (s->top_k > 0 && json_object_set_new(root, "top_k", json_integer(s->top_k)))
		goto out;
	if (s->min_p > 0 && json_object_set_new(root, "min_p", json_real(s->min_p)))
		goto out;
	body = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(7));
out:
	json_decref(root);
	return body;
}

/* One reply in flight: the pipeline's state and the times the stats need. */
struct reply {
	struct sse_reader sse;
	struct oai_stream os;
	eng_emit_fn emit;
	void *ud;
	double t0;
	double first_ms, first_reasoning_ms, first_answer_ms; /* -1: none yet */
	bool emit_stopped;
	struct err err;       /* what the SSE reader or the stream parser said */
};

static int emit_timed(void *ud, int channel, const char *utf8, size_t len)
{
	struct reply *r = ud;
	if (len) {
		double t = now_ms() - r->t0;
		if (r->first_ms < 0)
			r->first_ms = t;
		if (channel == CH_REASONING && r->first_reasoning_ms < 0)
			r->first_reasoning_ms = t;
		if (channel == CH_ANSWER && r->first_answer_ms < 0)
			r->first_answer_ms = t;
	}
	int rc = r->emit(r->ud, channel, utf8, len);
	if (rc)
		r->emit_stopped = true;
	return rc;
}

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct reply *r = ud;
	return oai_stream_data(&r->os, data, len, &r->err);
}

static int on_body(void *ud, const char *buf, size_t len)
{
	struct reply *r = ud;
	return sse_feed(&r->sse, buf, len, on_event, r, &r->err);
}

/* 404: the model is not served (list what is, when the server says). */
static int model_missing(const struct oai_client *c, long status, const char *msg,
			 struct err *e)
{
	json_t *root;
	struct err le;
	char names[400] = "";
	size_t k = 0;
	if (!get_models(c, &root, &le)) {
		json_t *data = json_object_get(root, "data"), *m;
		size_t i;
		json_array_foreach(data, i, m) {
			const char *id = json_string_value(json_object_get(m, "id"));
			if (!id)
				continue;
			int w = snprintf(names + k, sizeof names - k, "%s%s", k ? ", " : "", id);
			if (w < 0 || (size_t)w >= sizeof names - k) {
				names[k] = '\0';
				snprintf(names + k, sizeof names - k, "%s...", k ? ", " : "");
				break;
			}
			k += (size_t)w;
		}
		json_decref(root);
		if (k)
			return err_set(e, ERR_REMOTE, "the server at %s does not serve the model "
				       "'%s' (HTTP %ld%s%s); it serves: %s (choose one with "
				       "--remote-model)", c->base, c->model, status,
				       msg[0] ? ": " : "", msg, names);
	}
	return err_set(e, ERR_REMOTE, "%s answered HTTP %ld for the model '%s'%s%s (check the "
		       "URL and the model name)", c->chat_url, status, c->model,
		       msg[0] ? ": " : "", msg);
}

/* An error status: one sentence per kind, quoting the server. */
static int status_error(const struct oai_client *c, const struct http_response *res,
			bool sent_key, struct err *e)
{
	char msg[QUOTE_MSG + 8];
	long st = res->status;
	const char *sep;
	server_message(res, msg, sizeof msg);
	sep = msg[0] ? ": " : "";
	if ((st == 401 || st == 403) && sent_key)
		return err_set(e, ERR_REMOTE, "the server refused the API key (HTTP %ld)%s%s; the "
			       "key comes from $%s", st, sep, msg, c->key_env);
	if (st == 401 || st == 403)
		return err_set(e, ERR_REMOTE, "the server refused the request (HTTP %ld)%s%s; no "
			       "API key was sent; set one with api_key_env / --api-key-env", st,
			       sep, msg);
	if (st == 404)
		return model_missing(c, st, msg, e);
	if (st == 429) {
		char after[64] = "";
		if (res->retry_after_s >= 0)
			snprintf(after, sizeof after, "; retry after %.0f s", res->retry_after_s);
		return err_set(e, ERR_REMOTE, "the server is rate-limiting requests "
			       "(HTTP 429)%s%s%s", sep, msg, after);
	}
	if ((st == 400 || st == 413 || st == 422) && says_context(msg))
		return err_set(e, ERR_CONTEXT, "the conversation does not fit the model's context "
			       "(HTTP %ld)%s%s; start a new chat or ask for fewer tokens", st, sep,
			       msg);
	if (st == 400 || st == 422)
		return err_set(e, ERR_REMOTE, "the server rejected the request (HTTP %ld)%s%s", st,
			       sep, msg);
	if (st >= 500)
		return err_set(e, ERR_REMOTE, "the server failed (HTTP %ld)%s%s", st, sep, msg);
	if (st / 100 == 3)
		return err_set(e, ERR_REMOTE, "%s redirects elsewhere (HTTP %ld), which ponder "
			       "does not follow: give --remote the URL it points to (https://?)",
			       c->chat_url, st);
	return err_set(e, ERR_REMOTE, "%s answered HTTP %ld%s%s", c->chat_url, st, sep, msg);
}

static bool is_event_stream(const char *content_type)
{
	return !content_type[0] || !strncasecmp(content_type, "text/event-stream", 17);
}

static void fill_stats(const struct reply *r, double end_ms, struct gen_stats *st)
{
	const struct oai_usage *u = &r->os.usage;
	if (!strcmp(r->os.finish, "length"))
		st->finish = FINISH_LENGTH;
	else
		st->finish = FINISH_STOP;
	st->prompt_tokens = u->prompt_tokens >= 0 ? u->prompt_tokens : -1;
	st->reused_tokens = u->cached_tokens > 0 ? u->cached_tokens : 0;
	if (st->prompt_tokens >= 0)
		st->prefill_tokens = st->prompt_tokens - st->reused_tokens;
	st->reasoning_tokens = st->answer_tokens = -1;
	if (u->reasoning_tokens >= 0) {
		st->reasoning_tokens = u->reasoning_tokens;
		if (u->completion_tokens >= u->reasoning_tokens)
			st->answer_tokens = u->completion_tokens - u->reasoning_tokens;
	}
	st->ttft_ms = r->first_ms >= 0 ? r->first_ms : 0;
	if (r->first_ms >= 0) {
		st->decode_ms = end_ms - r->first_ms;
		if (u->completion_tokens > 0 && st->decode_ms > 0)
			st->decode_tps = u->completion_tokens / (st->decode_ms / 1e3);
	}
	if (r->first_reasoning_ms >= 0)
		st->think_ms = (r->first_answer_ms >= 0 ? r->first_answer_ms : end_ms) -
			       r->first_reasoning_ms;
}

/* After the transfer: which outcome this was (see the header comment's order).
   *stopped: the caller stopped the reply (not an error). */
static int outcome(const struct oai_client *c, struct reply *r, int rc,
		   const struct http_response *res, const struct err *he, bool sent_key,
		   bool *stopped, struct err *e)
{
	*stopped = r->emit_stopped || rc == ERR_INTERRUPTED;
	if (*stopped) {
		if (!r->emit_stopped)
			oai_stream_end(&r->os);
		return 0;
	}
	bool from_body = rc && r->err.code == rc;
	if (!from_body && rc == ERR_NOMEM)
		return err_set(e, ERR_NOMEM, "%s", he->msg);
	if (!rc && res->status / 100 != 2)
		return status_error(c, res, sent_key, e);
	if (res->status / 100 == 2 && !is_event_stream(res->content_type))
		return err_set(e, ERR_REMOTE, "%s answered with %s, not an event stream "
			       "(text/event-stream): is --remote the base URL of an "
			       "OpenAI-compatible server?", c->chat_url, res->content_type);
	if (from_body) {
		*e = r->err;
		if (e->code == ERR_FORMAT)
			e->code = ERR_REMOTE;
		if (e->code == ERR_REMOTE && says_context(r->os.error))
			e->code = ERR_CONTEXT;
		return e->code;
	}
	bool finished = r->os.done || r->os.finish[0];
	if (rc && (!finished || res->status / 100 != 2)) {
		if (res->status / 100 != 2 || he->code != ERR_REMOTE) {
			*e = *he;
			return e->code;
		}
		return err_set(e, ERR_REMOTE, "the stream stopped mid-answer: %s; the text "
			       "that arrived is kept", he->msg);
	}
	if (oai_stream_end(&r->os)) {
		*stopped = true;
		return 0;
	}
	if (!finished)
		return err_set(e, ERR_REMOTE, "the stream stopped mid-answer (the server closed "
			       "the connection); the text that arrived is kept");
	return 0;
}

int oai_client_chat(struct oai_client *c, const struct chat_turn *turns, size_t n,
		    const struct gen_params *p, eng_emit_fn emit, void *ud, struct gen_stats *st,
		    struct err *e)
{
	memset(st, 0, sizeof *st);
	st->finish = FINISH_ERROR;
	st->prompt_tokens = st->reasoning_tokens = st->answer_tokens = -1;
	char *body = build_body(c, turns, n, p);
	if (!body)
		return err_set(e, ERR_NOMEM, "out of memory building the request");
	struct reply *r = calloc(1, sizeof *r);
	if (!r) {
		free(body);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	sse_init(&r->sse, SSE_MAX);
	oai_stream_init(&r->os, emit_timed, r);
	r->emit = emit;
	r->ud = ud;
	r->first_ms = r->first_reasoning_ms = r->first_answer_ms = -1;
	r->t0 = now_ms();

	const char *key = key_now(c);
	struct http_request rq = {
		.url = c->chat_url, .body = body, .body_len = strlen(body), .bearer = key,
		.accept_sse = true, .connect_timeout_ms = c->connect_ms,
		.idle_timeout_ms = c->idle_ms, .stop = p->stop, .on_body = on_body, .ud = r,
	};
	struct http_response res;
	struct err he = {0};
	int rc = http_stream(&rq, &res, &he);
	double end_ms = now_ms() - r->t0;
	bool stopped;
	rc = outcome(c, r, rc, &res, &he, key != NULL, &stopped, e);
	fill_stats(r, end_ms, st);
	if (stopped)
		st->finish = FINISH_INTERRUPTED;
	else if (rc)
		st->finish = FINISH_ERROR;
	http_response_free(&res);
	sse_free(&r->sse);
	free(r);
	free(body);
	return rc;
}
