/*
 * cmd_serve.c — `ponder serve`: the engine behind an OpenAI-compatible HTTP API, so that
 * other programs (and `ponder --remote`) can use it. docs/remote.md has the whole story.
 *
 *   ponder serve [-m DIR] [--host 127.0.0.1] [--port 8080] [--api-key-env VAR] [--save]
 *
 * The main thread sets up, then waits for SIGINT / SIGTERM / SIGHUP (blocked in every
 * thread, taken with sigwait) and shuts down: queued requests are refused, the running
 * one stops at its next token and its stream ends, connections close, the model is freed.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/chat.h"
#include "app/commands.h"
#include "app/options.h"
#include "app/serve_http.h"
#include "app/serve_job.h"

#define DEFAULT_PORT 8080
#define DEFAULT_QUEUE 8
#define DEFAULT_MAX_BODY (4u << 20)
#define DEFAULT_MAX_MESSAGES 1024

static void usage(FILE *f)
{
	fputs("usage: ponder serve [-m DIR] [--host ADDR] [--port N] [--api-key-env VAR] [--save]\n"
	      "                    [--db PATH] [--queue N] [--max-body SIZE] [--max-messages N]\n"
	      "                    [-t N] [--ctx N] [--mtp on|off] [--kv-type T] [--head T]\n"
	      "                    [--temperature T] [--top-p P] [--top-k K] [--min-p P]\n"
	      "                    [--seed N] [--max-tokens N] [--verbose]\n"
	      "An OpenAI-compatible server: POST /v1/chat/completions (streamed or not, the\n"
	      "reasoning in reasoning_content), GET /v1/models, GET /health. Loopback only\n"
	      "unless an API key is given; requests are saved to the history only with --save.\n",
	      f);
}

enum { O_HOST = 300, O_PORT, O_KEY, O_SAVE, O_QUEUE, O_MAX_BODY, O_MAX_MESSAGES, O_VERBOSE };

static const struct option serve_opts[] = {
	{"model", required_argument, NULL, 'm'},
	{"threads", required_argument, NULL, 't'},
	{"help", no_argument, NULL, 'h'},
	{"host", required_argument, NULL, O_HOST},
	{"port", required_argument, NULL, O_PORT},
	{"api-key-env", required_argument, NULL, O_KEY},
	{"save", no_argument, NULL, O_SAVE},
	{"queue", required_argument, NULL, O_QUEUE},
	{"max-body", required_argument, NULL, O_MAX_BODY},
	{"max-messages", required_argument, NULL, O_MAX_MESSAGES},
	{"verbose", no_argument, NULL, O_VERBOSE},
	/* The chat options that make sense for a server, checked by options.c. */
	{"db", required_argument, NULL, 1},
	{"ctx", required_argument, NULL, 1},
	{"kernels", required_argument, NULL, 1},
	{"mtp", required_argument, NULL, 1},
	{"kv-type", required_argument, NULL, 1},
	{"head", required_argument, NULL, 1},
	{"temperature", required_argument, NULL, 1},
	{"top-p", required_argument, NULL, 1},
	{"top-k", required_argument, NULL, 1},
	{"min-p", required_argument, NULL, 1},
	{"seed", required_argument, NULL, 1},
	{"max-tokens", required_argument, NULL, 1},
	{NULL, 0, NULL, 0},
};

struct serve_args {
	struct app_opts chat;
	struct serve_opts http;
	const char *key_env;
};

static int parse(struct serve_args *a, int argc, char **argv, struct err *e)
{
	app_opts_defaults(&a->chat);
	a->chat.no_save = true;
	a->http = (struct serve_opts){.port = DEFAULT_PORT, .max_queue = DEFAULT_QUEUE,
				      .max_body = DEFAULT_MAX_BODY,
				      .max_messages = DEFAULT_MAX_MESSAGES};
	strcpy(a->http.host, "127.0.0.1");
	int c, idx, rc = 0;
	long long n;
	uint64_t size;
	optind = 1;
	opterr = 0;
	while (!rc && (c = getopt_long(argc, argv, ":m:t:h", serve_opts, &idx)) != -1) {
		switch (c) {
		case 'm': rc = app_opts_set(&a->chat, "model", optarg, e); break;
		case 't': rc = app_opts_set(&a->chat, "threads", optarg, e); break;
		case 1: rc = app_opts_set(&a->chat, serve_opts[idx].name, optarg, e); break;
		case 'h': usage(stdout); return 1;
		case O_HOST:
			if (strlen(optarg) >= sizeof a->http.host)
				return err_set(e, ERR_USAGE, "--host: too long");
			strcpy(a->http.host, optarg);
			break;
		case O_PORT:
			rc = app_parse_int("port", optarg, 0, 65535, &n, e);
			a->http.port = (int)n;
			break;
		case O_KEY: a->key_env = optarg; break;
		case O_SAVE: a->chat.no_save = false; break;
		case O_QUEUE:
			rc = app_parse_int("queue", optarg, 1, 4096, &n, e);
			a->http.max_queue = (size_t)n;
			break;
		case O_MAX_BODY:
			rc = app_parse_size("max-body", optarg, &size, e);
			if (!rc && (size < 1024 || size > (1ull << 30)))
				rc = err_set(e, ERR_USAGE, "--max-body: from 1K to 1G");
			a->http.max_body = (size_t)size;
			break;
		case O_MAX_MESSAGES:
			rc = app_parse_int("max-messages", optarg, 1, 1000000, &n, e);
			a->http.max_messages = (size_t)n;
			break;
		case O_VERBOSE: a->http.verbose = 1; break;
		case ':': return err_set(e, ERR_USAGE, "option '%s' needs a value", argv[optind - 1]);
		default:
			return err_set(e, ERR_USAGE, "unknown option '%s'; see ponder serve --help",
				       argv[optind - 1]);
		}
	}
	if (!rc && optind < argc)
		rc = err_set(e, ERR_USAGE, "unexpected argument '%s'; see ponder serve --help",
			     argv[optind]);
	if (!rc && a->key_env) {
		a->http.api_key = getenv(a->key_env);
		if (!a->http.api_key || !*a->http.api_key)
			rc = err_set(e, ERR_USAGE, "--api-key-env %s: that environment variable is "
				     "not set (or empty); export the key in it first", a->key_env);
	}
	return rc;
}

int app_cmd_serve(int argc, char **argv, struct err *e)
{
	struct serve_args a = {0};
	int rc = parse(&a, argc, argv, e);
	if (rc == 1)
		return 0;
	if (rc)
		return rc;
	/* Before any thread: every thread inherits the mask, and only sigwait takes them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct app_chat *c = NULL;
	struct serve_queue q = {0};
	struct serve_http *h = NULL;
	if ((rc = app_chat_open(&c, &a.chat, e)))
		goto out;
	const char *w = app_chat_take_warning(c);
	if (w)
		fprintf(stderr, "ponder serve: %s\n", w);
	a.http.model = c->model_name;
	a.http.ctx = (int64_t)eng_session_ctx(c->sess);
	int port = 0;
	if ((rc = serve_queue_start(&q, c, a.http.max_queue, e)) ||
	    (rc = serve_http_start(&a.http, &q, &h, &port, e)))
		goto out;
	fprintf(stderr, "ponder serve: %s on http://%s:%d (POST /v1/chat/completions, GET "
		"/v1/models, GET /health)%s%s; Ctrl-C or SIGTERM stops\n", c->model_name,
		a.http.host, port, a.http.api_key ? "; API key required" : "",
		a.chat.no_save ? "" : "; saving to the history");
	int sig = 0;
	sigwait(&set, &sig);
	fprintf(stderr, "ponder serve: SIG%s: stopping\n", sigabbrev_np(sig) ? sigabbrev_np(sig)
									   : "?");
out:
	serve_queue_stop(&q);
	serve_http_stop(h);
	serve_queue_free(&q);
	app_chat_close(c);
	app_opts_release(&a.chat);
	return rc;
}
