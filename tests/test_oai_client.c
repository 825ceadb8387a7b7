/*
 * test_oai_client.c — the --remote client (net/oai_client.h, net/http_stream.h) against
 * tests/fake_openai.py, a fake OpenAI-compatible server whose behaviour each request
 * picks by its model name: streams of each shape, every error status, a cut and a
 * stalled connection, a slow stream to cancel. Transport failures (nothing listening,
 * a name that does not resolve) need no server. SKIPs when python3 is missing.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "net/http_stream.h"
#include "net/oai_client.h"
#include "tests/check.h"

#define SCRIPT "tests/fake_openai.py"
#define KEY_ENV "PONDER_TEST_OAI_KEY"
#define KEY "sekrit-key-123"

static pid_t server_pid;
static int server_port;
static const char *server_skip = "the fake server did not start";
static char tmp_dir[] = "/tmp/ponder_oai_XXXXXX";
static char port_file[64], record_file[64];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void stop_server(void)
{
	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
		server_pid = 0;
	}
	unlink(port_file);
	unlink(record_file);
	rmdir(tmp_dir);
}

/* Starts the fake server; server_port stays 0 (and server_skip says why) on failure. */
static void start_server(void)
{
	if (access(SCRIPT, R_OK)) {
		server_skip = SCRIPT " not found (run from the project root)";
		return;
	}
	if (!mkdtemp(tmp_dir))
		return;
	snprintf(port_file, sizeof port_file, "%s/port", tmp_dir);
	snprintf(record_file, sizeof record_file, "%s/record.json", tmp_dir);
	atexit(stop_server);
	pid_t pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a crashed test takes its server along */
		execlp("python3", "python3", SCRIPT, "--port", "0", "--port-file", port_file,
		       "--record", record_file, (char *)NULL);
		_exit(127);
	}
	server_pid = pid;
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(port_file, "r");
		if (f) {
			int ok = fscanf(f, "%d", &server_port) == 1;
			fclose(f);
			if (ok)
				return;
		}
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			server_pid = 0;
			server_skip = WIFEXITED(status) && WEXITSTATUS(status) == 127 ?
				"python3 not found" : "the fake server exited at start";
			return;
		}
		usleep(50 * 1000);
	}
	server_skip = "the fake server wrote no port within 10 s";
}

struct got {
	char text[3][4096]; /* by channel */
	size_t len[3];
	int pieces;
	int stop_after;     /* > 0: emit returns 1 after this many pieces */
};

static int collect(void *ud, int channel, const char *utf8, size_t len)
{
	struct got *g = ud;
	if (channel >= 1 && channel <= 2 && g->len[channel] + len < sizeof g->text[0]) {
		memcpy(g->text[channel] + g->len[channel], utf8, len);
		g->len[channel] += len;
		g->text[channel][g->len[channel]] = '\0';
	}
	int pieces = __atomic_add_fetch(&g->pieces, 1, __ATOMIC_RELAXED); /* a stopper reads it */
	return g->stop_after > 0 && pieces >= g->stop_after;
}

static const struct chat_turn turns[] = {
	{CHAT_SYSTEM, "Be brief.", 9},
	{CHAT_USER, "What is 2+2?", 12},
	{CHAT_ASSISTANT, "4", 1},
	{CHAT_USER, "And 6*7? \xC3\xA9", 11},
};

static void base_url(char *buf, size_t cap, const char *suffix)
{
	snprintf(buf, cap, "http://127.0.0.1:%d%s", server_port, suffix);
}

/* One chat with the fake server, model picking the scenario. */
static int chat(const char *model, const char *key_env, long idle_ms,
		const volatile sig_atomic_t *stop, struct got *g, struct gen_stats *st,
		struct err *e)
{
	char url[128];
	base_url(url, sizeof url, "/v1/");
	struct oai_client_opts o = {.url = url, .model = model, .key_env = key_env,
				    .connect_timeout_ms = 2000, .idle_timeout_ms = idle_ms};
	struct oai_client *c;
	int rc = oai_client_open(&o, &c, e);
	if (rc)
		return rc;
	struct gen_params p = {
		.sample = {.temperature = 0.6f, .top_p = 0.95f, .top_k = 20, .min_p = 0.05f,
			   .seed = 1234},
		.max_tokens = 512, .stop = stop,
	};
	rc = oai_client_chat(c, turns, sizeof turns / sizeof turns[0], &p, collect, g, st, e);
	oai_client_close(c);
	return rc;
}

#define NEED_SERVER()                          \
	do {                                   \
		if (!server_port) {            \
			SKIP(server_skip);     \
			return;                \
		}                              \
	} while (0)

static void test_open_lists_models(void)
{
	NEED_SERVER();
	const char *suffixes[] = {"", "/", "/v1", "/v1/"};
	for (size_t i = 0; i < 4; i++) {
		char url[128];
		base_url(url, sizeof url, suffixes[i]);
		struct oai_client_opts o = {.url = url};
		struct oai_client *c = NULL;
		struct err e = {0};
		int rc = oai_client_open(&o, &c, &e);
		CHECK(rc == 0, "%s: %d %s", url, rc, e.msg);
		if (!rc)
			CHECK(!strcmp(oai_client_model(c), "vllm"), "%s: model %s", url,
			      oai_client_model(c));
		oai_client_close(c);
	}
}

static void test_open_usage_errors(void)
{
	const char *bad[] = {"ftp://example.com/", "localhost:8000", "", "http://", "http://a b/",
			     "http://localhost:8000/?x=1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct oai_client_opts o = {.url = bad[i], .model = "m"};
		struct oai_client *c = NULL;
		struct err e = {0};
		int rc = oai_client_open(&o, &c, &e);
		CHECK(rc == ERR_USAGE, "'%s': %d %s", bad[i], rc, e.msg);
		CHECK(!c, "'%s': a client came back", bad[i]);
	}
	unsetenv("PONDER_TEST_UNSET_KEY");
	struct oai_client_opts o = {.url = "http://localhost:1", .model = "m",
				    .key_env = "PONDER_TEST_UNSET_KEY"};
	struct oai_client *c = NULL;
	struct err e = {0};
	int rc = oai_client_open(&o, &c, &e);
	CHECK(rc == ERR_USAGE && strstr(e.msg, "PONDER_TEST_UNSET_KEY"), "%d %s", rc, e.msg);
	oai_client_close(c);
}

static json_t *load_record(void)
{
	json_error_t je;
	json_t *j = json_load_file(record_file, 0, &je);
	CHECK(j, "record %s: %s", record_file, je.text);
	return j;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void check_request(void)
{
	json_t *rec = load_record();
	if (!rec)
		return;
	json_t *b = json_object_get(rec, "body");
	const char *auth = json_string_value(json_object_get(rec, "authorization"));
	const char *accept = json_string_value(json_object_get(rec, "accept"));
	CHECK(auth && !strcmp(auth, "Bearer " KEY), "authorization %s", auth ? auth : "none");
	CHECK(accept && !strcmp(accept, "text/event-stream"), "accept %s", accept);
	CHECK(!strcmp(json_string_value(json_object_get(rec, "path")), "/v1/chat/completions"),
	      "path");
	CHECK(!strcmp(json_string_value(json_object_get(b, "model")), "vllm"), "model");
	CHECK(json_is_true(json_object_get(b, "stream")), "stream");
	CHECK(json_is_true(json_object_get(json_object_get(b, "stream_options"),
					   "include_usage")), "include_usage");
	CHECK(fabs(num(b, "temperature") - 0.6) < 1e-9, "temperature %g", num(b, "temperature"));
	CHECK(fabs(num(b, "top_p") - 0.95) < 1e-9, "top_p %g", num(b, "top_p"));
	CHECK(fabs(num(b, "min_p") - 0.05) < 1e-9, "min_p %g", num(b, "min_p"));
	CHECK(num(b, "top_k") == 20, "top_k %g", num(b, "top_k"));
	CHECK(num(b, "seed") == 1234, "seed %g", num(b, "seed"));
	CHECK(num(b, "max_tokens") == 512, "max_tokens %g", num(b, "max_tokens"));
	json_t *msgs = json_object_get(b, "messages");
	CHECK(json_array_size(msgs) == 4, "%zu messages", json_array_size(msgs));
	const char *roles[] = {"system", "user", "assistant", "user"};
	for (size_t i = 0; i < 4 && i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		const char *role = json_string_value(json_object_get(m, "role"));
		const char *content = json_string_value(json_object_get(m, "content"));
		CHECK(role && !strcmp(role, roles[i]), "message %zu role %s", i, role);
		CHECK(content && strlen(content) == turns[i].len &&
		      !memcmp(content, turns[i].text, turns[i].len), "message %zu content %s", i,
		      content);
	}
	json_decref(rec);
}

static void test_vllm_stream(void)
{
	NEED_SERVER();
	setenv(KEY_ENV, KEY, 1);
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	int rc = chat("vllm", KEY_ENV, 0, NULL, &g, &st, &e);
	CHECK(rc == 0, "%d %s", rc, e.msg);
	CHECK(!strcmp(g.text[CH_REASONING], "Two plus two is four."), "reasoning '%s'",
	      g.text[CH_REASONING]);
	CHECK(!strcmp(g.text[CH_ANSWER], "The answer is **4**."), "answer '%s'",
	      g.text[CH_ANSWER]);
	CHECK(st.finish == FINISH_STOP, "finish %d", st.finish);
	CHECK(st.prompt_tokens == 12, "prompt %lld", (long long)st.prompt_tokens);
	CHECK(st.reused_tokens == 8, "reused %lld", (long long)st.reused_tokens);
	CHECK(st.reasoning_tokens == 20, "reasoning %lld", (long long)st.reasoning_tokens);
	CHECK(st.answer_tokens == 10, "answer %lld", (long long)st.answer_tokens);
	CHECK(st.ttft_ms > 0 && st.ttft_ms < 5000, "ttft %g", st.ttft_ms);
	CHECK(st.decode_tps >= 0 && st.prefill_tps == 0, "tps %g %g", st.decode_tps,
	      st.prefill_tps);
	check_request();
}

static void test_think_tags(void)
{
	NEED_SERVER();
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	int rc = chat("think", NULL, 0, NULL, &g, &st, &e);
	CHECK(rc == 0, "%d %s", rc, e.msg);
	CHECK(!strcmp(g.text[CH_REASONING], "Hmm, six times seven."), "reasoning '%s'",
	      g.text[CH_REASONING]);
	CHECK(!strcmp(g.text[CH_ANSWER], "42."), "answer '%s'", g.text[CH_ANSWER]);
	CHECK(st.finish == FINISH_LENGTH, "finish %d", st.finish);
	CHECK(st.prompt_tokens == -1 && st.reasoning_tokens == -1 && st.answer_tokens == -1,
	      "usage %lld %lld %lld", (long long)st.prompt_tokens,
	      (long long)st.reasoning_tokens, (long long)st.answer_tokens);
	json_t *rec = load_record();
	CHECK(rec && json_is_null(json_object_get(rec, "authorization")), "a key was sent");
	json_decref(rec);
}

static void test_split_bytes(void)
{
	NEED_SERVER();
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	int rc = chat("split", NULL, 0, NULL, &g, &st, &e);
	CHECK(rc == 0, "%d %s", rc, e.msg);
	CHECK(!strcmp(g.text[CH_REASONING], "Grüße, 世界 🙂"), "reasoning '%s'",
	      g.text[CH_REASONING]);
	CHECK(!strcmp(g.text[CH_ANSWER], "naïve — ok ✓"), "answer '%s'", g.text[CH_ANSWER]);
	CHECK(st.finish == FINISH_STOP, "finish %d", st.finish);
}

/* A scenario that fails: its code, the words its message must have, the answer kept. */
static void expect_error(const char *model, const char *key_env, int code,
			 const char *const *words, const char *answer)
{
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	int rc = chat(model, key_env, 0, NULL, &g, &st, &e);
	CHECK(rc == code, "%s: rc %d (want %d): %s", model, rc, code, e.msg);
	for (size_t i = 0; words[i]; i++)
		CHECK(strstr(e.msg, words[i]), "%s: no '%s' in: %s", model, words[i], e.msg);
	for (const char *p = e.msg; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7F, "%s: control byte in: %s", model,
		      e.msg);
	CHECK(!strstr(e.msg, KEY), "%s: the key is in the message", model);
	if (answer)
		CHECK(!strcmp(g.text[CH_ANSWER], answer), "%s: answer '%s'", model,
		      g.text[CH_ANSWER]);
	if (rc)
		CHECK(st.finish == FINISH_ERROR, "%s: finish %d", model, st.finish);
}

static void test_status_errors(void)
{
	NEED_SERVER();
	setenv(KEY_ENV, KEY, 1);
	expect_error("unauth", KEY_ENV, ERR_REMOTE, (const char *const[]){
		"refused the API key", "HTTP 401", "Incorrect API key provided", "$" KEY_ENV,
		NULL}, "");
	expect_error("unauth", NULL, ERR_REMOTE, (const char *const[]){
		"HTTP 401", "no API key was sent", "--api-key-env", NULL}, "");
	expect_error("nomodel", NULL, ERR_REMOTE, (const char *const[]){
		"'nomodel'", "HTTP 404", "does not exist", "vllm, think", "--remote-model", NULL},
		"");
	expect_error("ratelimit", NULL, ERR_REMOTE, (const char *const[]){
		"HTTP 429", "Rate limit reached", "retry after 7 s", NULL}, "");
	expect_error("boom", NULL, ERR_REMOTE, (const char *const[]){
		"failed (HTTP 500)", "Internal Server Error", NULL}, "");
	expect_error("toolong", NULL, ERR_CONTEXT, (const char *const[]){
		"HTTP 400", "maximum context length is 4096", NULL}, "");
}

static void test_stream_errors(void)
{
	NEED_SERVER();
	expect_error("cut", NULL, ERR_REMOTE, (const char *const[]){
		"mid-answer", "closed", "127.0.0.1", "kept", NULL}, "Partial an");
	expect_error("cutclean", NULL, ERR_REMOTE, (const char *const[]){
		"mid-answer", "closed the connection", "kept", NULL}, "Partial an");
	expect_error("badjson", NULL, ERR_REMOTE, (const char *const[]){
		"not JSON", "{not json", NULL}, "ok");
	expect_error("streamerr", NULL, ERR_REMOTE, (const char *const[]){
		"engine overloaded", NULL}, "Start");
	expect_error("html", NULL, ERR_REMOTE, (const char *const[]){
		"text/html", "not an event stream", NULL}, "");
}

static void test_idle_timeout(void)
{
	NEED_SERVER();
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	double t0 = now_ms();
	int rc = chat("hang", NULL, 1000, NULL, &g, &st, &e);
	double ms = now_ms() - t0;
	CHECK(rc == ERR_REMOTE, "%d %s", rc, e.msg);
	CHECK(strstr(e.msg, "idle timeout") && strstr(e.msg, "1 s") &&
	      strstr(e.msg, "127.0.0.1"), "%s", e.msg);
	CHECK(ms >= 900 && ms < 2500, "took %.0f ms", ms);
}

static volatile sig_atomic_t stop_flag;
static double stop_ms; /* when the stopper set stop_flag */

/* Sets stop_flag (as app_chat_stop does) 300 ms after the first piece arrived, so a
   slow start on a busy machine does not stop the reply before it began. */
static void *set_stop_later(void *arg)
{
	struct got *g = arg;
	for (int i = 0; i < 1000 && !__atomic_load_n(&g->pieces, __ATOMIC_RELAXED); i++)
		usleep(10 * 1000);
	usleep(300 * 1000);
	stop_ms = now_ms();
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void test_cancel_slow(void)
{
	NEED_SERVER();
	struct got g = {0};
	struct gen_stats st;
	struct err e = {0};
	pthread_t t;
	stop_flag = 0;
	CHECK(!pthread_create(&t, NULL, set_stop_later, &g), "pthread_create");
	int rc = chat("slow", NULL, 0, &stop_flag, &g, &st, &e);
	double end_ms = now_ms();
	pthread_join(t, NULL);
	double ms = end_ms - stop_ms; /* read after the join: the stopper wrote it */
	CHECK(rc == 0, "%d %s", rc, e.msg);
	CHECK(st.finish == FINISH_INTERRUPTED, "finish %d", st.finish);
	/* The client looks at the flag every 100 ms. */
	CHECK(ms < 500, "returned %.0f ms after the stop", ms);
	CHECK(!strncmp(g.text[CH_ANSWER], "tick 0 ", 7) && !strstr(g.text[CH_ANSWER], "tick 9"),
	      "answer '%s'", g.text[CH_ANSWER]);
}

static void test_emit_stops(void)
{
	NEED_SERVER();
	struct got g = {.stop_after = 1};
	struct gen_stats st;
	struct err e = {0};
	int rc = chat("vllm", NULL, 0, NULL, &g, &st, &e);
	CHECK(rc == 0, "%d %s", rc, e.msg);
	CHECK(st.finish == FINISH_INTERRUPTED, "finish %d", st.finish);
	CHECK(g.pieces == 1 && !strcmp(g.text[CH_REASONING], "Two") && !g.len[CH_ANSWER],
	      "%d pieces, '%s' '%s'", g.pieces, g.text[CH_REASONING], g.text[CH_ANSWER]);
}

/* Sampling values the user did not set (negative) stay out: the server's defaults. */
static void test_unset_sampling_not_sent(void)
{
	NEED_SERVER();
	char url[128];
	base_url(url, sizeof url, "");
	struct oai_client_opts o = {.url = url, .model = "vllm", .connect_timeout_ms = 2000};
	struct oai_client *c = NULL;
	struct err e = {0};
	int rc = oai_client_open(&o, &c, &e);
	CHECK(rc == 0, "open: %d %s", rc, e.msg);
	if (rc)
		return;
	struct got g = {0};
	struct gen_stats st;
	struct gen_params p = {.sample = {.temperature = -1, .top_p = -1, .top_k = -1,
					  .min_p = -1, .seed = 7}};
	rc = oai_client_chat(c, turns, 2, &p, collect, &g, &st, &e);
	oai_client_close(c);
	CHECK(rc == 0, "chat: %d %s", rc, e.msg);
	json_t *rec = load_record();
	if (!rec)
		return;
	json_t *b = json_object_get(rec, "body");
	const char *unset[] = {"temperature", "top_p", "top_k", "min_p", "max_tokens"};
	for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++)
		CHECK(!json_object_get(b, unset[i]), "%s was sent", unset[i]);
	CHECK(num(b, "seed") == 7, "seed %g", num(b, "seed"));
	json_decref(rec);
}

/* A chat (and, without a model, the open) against a URL that cannot be reached. */
static void expect_unreachable(const char *url, const char *words)
{
	struct oai_client_opts o = {.url = url, .model = "m", .connect_timeout_ms = 3000};
	struct oai_client *c = NULL;
	struct err e = {0};
	int rc = oai_client_open(&o, &c, &e);
	CHECK(rc == 0, "%s: open: %d %s", url, rc, e.msg);
	if (!rc) {
		struct got g = {0};
		struct gen_stats st;
		struct gen_params p = {.sample = {.top_p = 1}};
		rc = oai_client_chat(c, turns, 2, &p, collect, &g, &st, &e);
		CHECK(rc == ERR_REMOTE && strstr(e.msg, words), "%s: %d %s", url, rc, e.msg);
	}
	oai_client_close(c);
	o.model = NULL;
	c = NULL;
	rc = oai_client_open(&o, &c, &e);
	CHECK(rc == ERR_REMOTE && strstr(e.msg, words) && strstr(e.msg, "/v1/models"),
	      "%s: open without a model: %d %s", url, rc, e.msg);
	CHECK(!c, "a client came back");
}

static void test_refused(void)
{
	/* A socket bound but not listening: connecting to its port is refused. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		SKIP("cannot bind a loopback socket");
		if (fd >= 0)
			close(fd);
		return;
	}
	char url[64], words[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(words, sizeof words, "127.0.0.1:%d: connection refused", ntohs(a.sin_port));
	expect_unreachable(url, words);
	close(fd);
}

static void test_dns_failure(void)
{
	expect_unreachable("http://no-such-host.invalid:8000/v1",
			   "cannot resolve host 'no-such-host.invalid'");
}

int main(void)
{
	struct err e = {0};
	if (http_global_init(&e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	start_server();
	RUN(test_open_usage_errors);
	RUN(test_open_lists_models);
	RUN(test_vllm_stream);
	RUN(test_think_tags);
	RUN(test_split_bytes);
	RUN(test_status_errors);
	RUN(test_stream_errors);
	RUN(test_idle_timeout);
	RUN(test_cancel_slow);
	RUN(test_emit_stops);
	RUN(test_unset_sampling_not_sent);
	RUN(test_refused);
	RUN(test_dns_failure);
	stop_server();
	return check_finish();
}
