/*
 * test_serve_stress.c — `ponder serve`'s queue and connection threads under preemption:
 * many more client threads than cores (and, in a second round, the whole process pinned
 * to one core) send streaming requests to the demo model through a queue of 4, some
 * reading every byte, some hanging up right after sending, some in the middle of the
 * stream. Every client that reads must get either a whole stream (its last event
 * "data: [DONE]") or a 503 with Retry-After; afterwards the server must be idle (no job
 * left running or waiting: the cancelled ones were skipped or stopped) and shut down
 * without hanging. A watchdog turns a hang into a FAIL line. Run under TSan by
 * `make check-tsan`.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app/chat.h"
#include "app/serve_http.h"
#include "app/serve_job.h"
#include "tests/check.h"

#define CLIENTS 16        /* threads; CI has 2 cores */
#define REQUESTS 20       /* per client */
#define HANG_SECONDS 120  /* a round taking this long is a hang */

static int port;
static atomic_int done_flag;

enum outcome { GOT_STREAM, GOT_503, GOT_OTHER, HUNG_UP };

static const char request_body[] =
	"{\"messages\":[{\"role\":\"user\",\"content\":\"What is 12 + 30?\"}],"
	"\"stream\":true,\"temperature\":0}";

static int connect_server(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request; how = 0 read everything, 1 hang up at once, 2 hang up after a little. */
static enum outcome one_request(int how)
{
	int fd = connect_server();
	if (fd < 0)
		return GOT_OTHER;
	char head[256];
	int n = snprintf(head, sizeof head, "POST /v1/chat/completions HTTP/1.0\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
			 sizeof request_body - 1);
	if (write(fd, head, (size_t)n) != n ||
	    write(fd, request_body, sizeof request_body - 1) != (ssize_t)sizeof request_body - 1) {
		close(fd);
		return GOT_OTHER;
	}
	if (how == 1) {
		close(fd);
		return HUNG_UP;
	}
	static __thread char buf[1 << 16];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
		len += (size_t)r;
		if (how == 2 && len > 200) {
			close(fd);
			return HUNG_UP;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (!strncmp(buf, "HTTP/1.1 503", 12) || !strncmp(buf, "HTTP/1.0 503", 12))
		return strstr(buf, "Retry-After: ") ? GOT_503 : GOT_OTHER;
	bool ok = (!strncmp(buf, "HTTP/1.1 200", 12) || !strncmp(buf, "HTTP/1.0 200", 12)) &&
		  len >= 14 && !strcmp(buf + len - 14, "data: [DONE]\n\n");
	return ok ? GOT_STREAM : GOT_OTHER;
}

struct client {
	int id;
	int counts[4];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	for (int i = 0; i < REQUESTS; i++)
		c->counts[one_request((c->id + i) % 3)]++;
	return NULL;
}

static void *watchdog(void *arg)
{
	for (int i = 0; i < HANG_SECONDS * 10 && !atomic_load(&done_flag); i++)
		usleep(100000);
	if (!atomic_load(&done_flag)) {
		printf("FAIL %s: no progress for %d s (a hang)\n", (const char *)arg, HANG_SECONDS);
		fflush(stdout);
		_exit(1);
	}
	return NULL;
}

static void round_of_clients(const char *name)
{
	struct app_opts o;
	app_opts_defaults(&o);
	strcpy(o.model, "models/demo");
	o.no_save = o.no_kv_cache = true;
	o.threads = 2;
	struct err e = {0};
	struct app_chat *chat = NULL;
	if (app_chat_open(&chat, &o, &e)) {
		SKIP("the demo model could not be loaded");
		return;
	}
	atomic_store(&done_flag, 0);
	pthread_t dog;
	pthread_create(&dog, NULL, watchdog, (void *)name);
	struct serve_queue q;
	struct serve_http *h = NULL;
	struct serve_opts so = {.host = "127.0.0.1", .max_body = 1 << 20, .max_messages = 64,
				.max_queue = 4, .ctx = 4096, .model = chat->model_name};
	int rc = serve_queue_start(&q, chat, so.max_queue, &e);
	if (!rc)
		rc = serve_http_start(&so, &q, &h, &port, &e);
	CHECK(rc == 0, "start: %s", e.msg);
	if (!rc) {
		struct client cl[CLIENTS];
		pthread_t t[CLIENTS];
		for (int i = 0; i < CLIENTS; i++) {
			cl[i] = (struct client){.id = i};
			pthread_create(&t[i], NULL, client_main, &cl[i]);
		}
		int total[4] = {0};
		for (int i = 0; i < CLIENTS; i++) {
			pthread_join(t[i], NULL);
			for (int k = 0; k < 4; k++)
				total[k] += cl[i].counts[k];
		}
		CHECK(total[GOT_OTHER] == 0, "%d requests got neither a whole stream nor a 503",
		      total[GOT_OTHER]);
		CHECK(total[GOT_STREAM] > 0, "no stream completed");
		/* Hung-up requests are skipped or stopped: the queue drains. */
		size_t waiting = 1;
		bool busy = true;
		for (int i = 0; i < 100 && (waiting || busy); i++) {
			serve_queue_load(&q, &waiting, &busy);
			if (waiting || busy)
				usleep(50000);
		}
		CHECK(!waiting && !busy, "still %zu waiting, busy %d after the clients left",
		      waiting, busy);
		/* And it still answers. */
		CHECK(one_request(0) == GOT_STREAM, "a request after the storm did not complete");
		fprintf(stderr, "  %s: %d streams, %d refused with 503, %d hung up\n", name,
			total[GOT_STREAM], total[GOT_503], total[HUNG_UP]);
	}
	serve_queue_stop(&q);
	serve_http_stop(h);
	serve_queue_free(&q);
	app_chat_close(chat);
	atomic_store(&done_flag, 1);
	pthread_join(dog, NULL);
}

static void test_clients_free(void)
{
	round_of_clients("test_clients_free");
}

static void test_clients_one_core(void)
{
	cpu_set_t old, one;
	sched_getaffinity(0, sizeof old, &old);
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &old)) {
			CPU_SET(c, &one);
			break;
		}
	sched_setaffinity(0, sizeof one, &one);
	round_of_clients("test_clients_one_core");
	sched_setaffinity(0, sizeof old, &old);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN(test_clients_free);
	RUN(test_clients_one_core);
	return check_finish();
}
