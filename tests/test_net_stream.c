/*
 * test_net_stream.c — the Server-Sent Events reader (net/sse.c) and the meaning of an
 * OpenAI chat-completions stream (net/oai_stream.c).
 *
 * The transcripts below are written byte for byte in the style each server sends (field
 * order, nulls, keep-alive comments, the usage chunk with empty choices, `[DONE]`). Each
 * is played whole, cut at every single split point, and one byte at a time, and again
 * with CR and CR LF line ends, so chunk boundaries fall inside UTF-8 characters, JSON
 * objects, line ends and "data:" prefixes; the texts collected must not change.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/oai_stream.h"
#include "net/sse.h"
#include "tests/check.h"
#include "tests/utf8_oracle.h"

/* ---- SSE reader ---- */

struct events {
	int n;
	char name[8][64];
	char data[8][256];
	size_t len[8];
	int stop_at; /* the callback returns 7 on this event (1-based); 0 never */
};

static int on_event(void *ud, const char *event, const char *data, size_t len)
{
	struct events *v = ud;
	int i = v->n++;
	if (i < 8) {
		snprintf(v->name[i], sizeof v->name[i], "%s", event);
		memcpy(v->data[i], data, len < 255 ? len : 255);
		v->data[i][len < 255 ? len : 255] = '\0';
		v->len[i] = len;
		if (data[len] != '\0')
			v->len[i] = (size_t)-1; /* not NUL-terminated: caught below */
	}
	return v->n == v->stop_at ? 7 : 0;
}

/* Feeds text whole, or `step` bytes at a time; returns sse_feed's first nonzero. */
static int sse_play(struct sse_reader *r, const char *text, size_t len, size_t step,
		    struct events *v)
{
	struct err e = {0};
	if (!step)
		step = len ? len : 1;
	for (size_t i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;
		int rc = sse_feed(r, text + i, n, on_event, v, &e);
		if (rc)
			return rc;
	}
	return 0;
}

/* One event expected from text, fed whole and byte by byte. */
static void expect_one(const char *text, const char *name, const char *data, size_t dlen)
{
	for (size_t step = 0; step <= 1; step++) {
		struct sse_reader r;
		struct events v = {0};
		sse_init(&r, 1024);
		int rc = sse_play(&r, text, strlen(text), step, &v);
		CHECK(rc == 0, "%s: rc %d", text, rc);
		CHECK(v.n == 1, "'%s' step %zu: %d events", text, step, v.n);
		if (v.n >= 1) {
			CHECK(!strcmp(v.name[0], name), "event name '%s'", v.name[0]);
			CHECK(v.len[0] == dlen && !memcmp(v.data[0], data, dlen),
			      "data '%s' (%zu bytes)", v.data[0], v.len[0]);
		}
		CHECK(!sse_pending(&r), "pending after a complete event");
		sse_free(&r);
	}
}

static void test_sse_line_ends(void)
{
	expect_one("data: a\n\n", "", "a", 1);
	expect_one("data: a\r\r", "", "a", 1);
	expect_one("data: a\r\n\r\n", "", "a", 1);
	expect_one("event: x\rdata: a\r\ndata: b\n\r", "x", "a\nb", 3);
	expect_one("data:a\n\n", "", "a", 1);
	expect_one("data\n\n", "", "", 0);
	expect_one("data:\n\n", "", "", 0);
}

static void test_sse_crlf_split(void)
{
	struct sse_reader r;
	struct events v = {0};
	struct err e = {0};
	sse_init(&r, 1024);
	CHECK(sse_feed(&r, "data: a\r", 8, on_event, &v, &e) == 0, "feed 1");
	CHECK(sse_feed(&r, "\n", 1, on_event, &v, &e) == 0, "feed 2");
	CHECK(v.n == 0, "CR | LF ended the event early (%d events)", v.n);
	CHECK(sse_feed(&r, "data: b\r", 8, on_event, &v, &e) == 0, "feed 3");
	CHECK(sse_feed(&r, "\n", 1, on_event, &v, &e) == 0, "feed 4");
	CHECK(v.n == 0, "event before its blank line");
	CHECK(sse_feed(&r, "\r", 1, on_event, &v, &e) == 0, "feed 5");
	CHECK(v.n == 1 && !strcmp(v.data[0], "a\nb"), "%d events, '%s'", v.n, v.data[0]);
	/* the LF of that blank line's CR LF, in the next read, is not another blank line */
	CHECK(sse_feed(&r, "\ndata: c\r", 9, on_event, &v, &e) == 0, "feed 6");
	CHECK(sse_feed(&r, "\n\r\n", 3, on_event, &v, &e) == 0, "feed 7");
	CHECK(v.n == 2 && !strcmp(v.data[1], "c"), "%d events", v.n);
	CHECK(!sse_pending(&r), "pending");
	sse_free(&r);
}

static void test_sse_bom(void)
{
	expect_one("\xEF\xBB\xBF" "data: x\n\n", "", "x", 1);
	expect_one("\xEF\xBB\xBF\ndata: x\n\n", "", "x", 1);
	/* only at the very start; a broken BOM makes the first field unknown */
	expect_one("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", "", "a", 1);
	expect_one("\xEF\xBB" "data: a\n\ndata: b\n\n", "", "b", 1);
	expect_one("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\ndata: b\n\n", "", "b", 1);
}

static void test_sse_comments_and_fields(void)
{
	expect_one(": keep-alive\n\n: keep-alive\n\ndata: y\n\n", "", "y", 1);
	expect_one(":x\ndata: y\nid: 4\nretry: 100\nfoo: bar\n\n", "", "y", 1);
	/* one space after the colon is dropped, not two */
	expect_one("data: a\ndata:\ndata:  b\n\n", "", "a\n\n b", 5);
	/* an event without data is not delivered, and its name does not carry over */
	expect_one("event: x\n\ndata: y\n\n", "", "y", 1);
	expect_one("event: ping\ndata: {}\n\n", "ping", "{}", 2);

	struct sse_reader r;
	struct events v = {0};
	sse_init(&r, 1024);
	const char *two = "event: ping\ndata: 1\n\ndata: 2\n\n";
	CHECK(sse_play(&r, two, strlen(two), 0, &v) == 0, "rc");
	CHECK(v.n == 2 && !strcmp(v.name[0], "ping") && !strcmp(v.name[1], ""),
	      "names '%s' '%s'", v.name[0], v.name[1]);
	sse_free(&r);
}

static void test_sse_max_bytes(void)
{
	struct sse_reader r;
	struct events v = {0};
	struct err e = {0};
	sse_init(&r, 16);
	const char *line = "data: 0123456789abcdefghij\n\n";
	int rc = sse_feed(&r, line, strlen(line), on_event, &v, &e);
	CHECK(rc == ERR_FORMAT, "rc %d", rc);
	CHECK(strstr(e.msg, "longer than 16 bytes"), "message: %s", e.msg);
	CHECK(sse_feed(&r, "data: x\n\n", 9, on_event, &v, &e) == ERR_FORMAT, "not sticky");
	CHECK(v.n == 0, "%d events", v.n);
	sse_free(&r);

	/* each line fits, the joined data does not */
	sse_init(&r, 16);
	const char *lines = "data: 0123456789\ndata: 0123456789\n\n";
	rc = sse_play(&r, lines, strlen(lines), 1, &v);
	CHECK(rc == ERR_FORMAT && v.n == 0, "rc %d, %d events", rc, v.n);
	sse_free(&r);

	/* exactly max_bytes is fine */
	sse_init(&r, 16);
	const char *fits = "data: 0123456789\n\n";
	CHECK(sse_play(&r, fits, strlen(fits), 0, &v) == 0 && v.n == 1, "16 bytes refused");
	sse_free(&r);
}

static void test_sse_callback_stops(void)
{
	struct sse_reader r;
	struct events v = {.stop_at = 2};
	struct err e = {0};
	sse_init(&r, 1024);
	const char *three = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	CHECK(sse_feed(&r, three, strlen(three), on_event, &v, &e) == 7, "stop not returned");
	CHECK(v.n == 2, "%d events delivered", v.n);
	CHECK(sse_feed(&r, "data: 4\n\n", 9, on_event, &v, &e) == 7, "stop not sticky");
	CHECK(v.n == 2, "read after the stop");
	sse_free(&r);
}

static void test_sse_pending(void)
{
	static const struct {
		const char *text;
		bool pending;
	} cases[] = {
		{"data: a\n\n", false}, {"data: a\n", true}, {"data: a", true},
		{": c\n", false},       {"event: x\n", true}, {"", false},
		{"data: a\r", true},     {"data: a\r\n\r", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sse_reader r;
		struct events v = {0};
		sse_init(&r, 1024);
		sse_play(&r, cases[i].text, strlen(cases[i].text), 0, &v);
		CHECK(sse_pending(&r) == cases[i].pending, "'%s': pending %d", cases[i].text,
		      sse_pending(&r));
		sse_free(&r);
	}
	sse_free(NULL);
}

/* ---- the chat-completions stream ---- */

struct got {
	char text[3][4096];
	size_t len[3];
	int pieces;
	int stop_after; /* emit returns 5 once it has this many pieces; 0 never */
	bool after_stop;
	bool bad;   /* an empty piece, invalid UTF-8, an unknown channel */
	bool tag;   /* a piece showed "<think>" or "</think>" */
};

static int emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct got *g = ud;
	if (g->stop_after && g->pieces >= g->stop_after)
		g->after_stop = true;
	if (channel != CH_REASONING && channel != CH_ANSWER) {
		g->bad = true;
		return 0;
	}
	if (!len || oracle_utf8_prefix((const uint8_t *)utf8, len) != len)
		g->bad = true;
	if (memmem(utf8, len, "<think>", 7) || memmem(utf8, len, "</think>", 8))
		g->tag = true;
	if (len < sizeof g->text[channel] - 1 - g->len[channel]) {
		memcpy(g->text[channel] + g->len[channel], utf8, len);
		g->len[channel] += len;
		g->text[channel][g->len[channel]] = '\0';
	}
	g->pieces++;
	return g->stop_after && g->pieces >= g->stop_after ? 5 : 0;
}

struct play {
	struct oai_stream s;
	struct got g;
	struct err e;
};

static int on_chunk(void *ud, const char *event, const char *data, size_t len)
{
	struct play *p = ud;
	return oai_stream_data(&p->s, data, len, &p->e);
}

/* Plays a transcript cut at `cut` (step 0) or `step` bytes at a time. */
static int play(struct play *p, const char *text, size_t len, size_t cut, size_t step)
{
	struct sse_reader r;
	memset(p, 0, sizeof *p);
	oai_stream_init(&p->s, emit, &p->g);
	sse_init(&r, 1 << 20);
	int rc = 0;
	if (step) {
		for (size_t i = 0; i < len && !rc; i += step)
			rc = sse_feed(&r, text + i, len - i < step ? len - i : step, on_chunk, p,
				      &p->e);
	} else {
		rc = sse_feed(&r, text, cut, on_chunk, p, &p->e);
		if (!rc)
			rc = sse_feed(&r, text + cut, len - cut, on_chunk, p, &p->e);
	}
	if (!rc)
		rc = oai_stream_end(&p->s);
	if (!rc && sse_pending(&r))
		rc = -100;
	sse_free(&r);
	return rc;
}

struct transcript {
	const char *name, *text;
	const char *reasoning, *answer, *finish, *model;
};

/* The transcript with every "\n" made `eol` (the JSON holds no raw newline). */
static char *with_eol(const char *text, const char *eol)
{
	size_t n = 0, el = strlen(eol);
	for (const char *p = text; *p; p++)
		n += *p == '\n' ? el : 1;
	char *out = malloc(n + 1), *q = out;
	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			memcpy(q, eol, el);
			q += el;
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	return out;
}

/* One play's outcome against the expected one; false (and a FAIL) on the first miss. */
static bool played_ok(const struct transcript *t, const char *how, size_t at, int rc,
		      const struct play *p)
{
	const char *r = p->g.text[CH_REASONING], *a = p->g.text[CH_ANSWER];
	bool ok = rc == 0 && p->s.done && !p->g.bad && !p->g.tag && !strcmp(r, t->reasoning) &&
		  !strcmp(a, t->answer) && !strcmp(p->s.finish, t->finish) &&
		  !strcmp(p->s.model, t->model);
	CHECK(ok, "%s, %s %zu: rc %d (%s), done %d, bad %d, tag %d, finish '%s', model '%s'\n"
	      "    reasoning '%s'\n    answer '%s'", t->name, how, at, rc, p->e.msg, p->s.done,
	      p->g.bad, p->g.tag, p->s.finish, p->s.model, r, a);
	return ok;
}

static void check_transcript(const struct transcript *t)
{
	static const char *const eols[] = {"\n", "\r\n", "\r"};
	struct play *p = malloc(sizeof *p);
	for (size_t k = 0; k < 3; k++) {
		char *text = with_eol(t->text, eols[k]);
		size_t len = strlen(text);
		char how[64];
		snprintf(how, sizeof how, "%s, cut at", k == 0 ? "LF" : k == 1 ? "CRLF" : "CR");
		bool ok = true;
		for (size_t cut = 0; cut <= len && ok; cut++)
			ok = played_ok(t, how, cut, play(p, text, len, cut, 0), p);
		snprintf(how, sizeof how, "%s, bytes at a time:",
			 k == 0 ? "LF" : k == 1 ? "CRLF" : "CR");
		if (ok)
			played_ok(t, how, 1, play(p, text, len, 0, 1), p);
		free(text);
	}
	free(p);
}

/* vLLM with --reasoning-parser deepseek_r1 and stream_options.include_usage. */
#define VLLM "data: {\"id\":\"chatcmpl-3f9a1c2b7d5e4a6f8b0c1d2e3f4a5b6c\",\"object\":\"chat.completion.chunk\",\"created\":1738900000,\"model\":\"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B\","
static const char vllm_text[] =
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"\\n\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"Okay\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\", so 2 + 2\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\" → 4. Caf\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"é 😀 done.\\n\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\n\\n\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" is **4** → 😀\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	VLLM "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"stop\",\"stop_reason\":null}]}\n\n"
	VLLM "\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"total_tokens\":62,\"completion_tokens\":48}}\n\n"
	"data: [DONE]\n\n";

/* SGLang with --reasoning-parser deepseek-r1: nulls everywhere, "usage": null until the
   usage chunk; here through a proxy that re-encodes with Python's json.dumps (ASCII,
   \u escapes, surrogate pairs). */
#define SGL "data: {\"id\":\"b6c0f3e2a1d94c7e8f5a2b3c4d5e6f70\",\"object\":\"chat.completion.chunk\",\"created\":1738900000,\"model\":\"deepseek-ai/DeepSeek-R1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
static const char sglang_text[] =
	SGL "\"content\":\"\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n"
	SGL "\"content\":null,\"reasoning_content\":\"Let me see: caf\\u00e9\",\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n"
	SGL "\"content\":null,\"reasoning_content\":\" \\u2192 \\ud83d\\ude00\",\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n"
	SGL "\"content\":\"\\n\\nCaf\\u00e9\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n"
	SGL "\"content\":\" </think> is fine here\",\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":null,\"matched_stop\":null}],\"usage\":null}\n\n"
	SGL "\"content\":null,\"reasoning_content\":null,\"tool_calls\":null},\"logprobs\":null,\"finish_reason\":\"stop\",\"matched_stop\":1}],\"usage\":null}\n\n"
	"data: {\"id\":\"b6c0f3e2a1d94c7e8f5a2b3c4d5e6f70\",\"object\":\"chat.completion.chunk\",\"created\":1738900000,\"model\":\"deepseek-ai/DeepSeek-R1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"total_tokens\":30,\"completion_tokens\":20,\"prompt_tokens_details\":null}}\n\n"
	"data: [DONE]\n\n";

/* DeepSeek's API (deepseek-reasoner): keep-alive comments while queued, usage in the
   last chunk with the finish reason. */
#define DSK "data: {\"id\":\"0a1b2c3d-4e5f-6789-abcd-ef0123456789\",\"object\":\"chat.completion.chunk\",\"created\":1738900000,\"model\":\"deepseek-reasoner\",\"system_fingerprint\":\"fp_7e73fd9a08_prod0225\",\"choices\":[{\"index\":0,\"delta\":{"
static const char deepseek_text[] =
	": keep-alive\n\n"
	": keep-alive\n\n"
	DSK "\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	DSK "\"content\":null,\"reasoning_content\":\"Hmm\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	": keep-alive\n\n"
	DSK "\"content\":null,\"reasoning_content\":\", 中文 → ok\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	DSK "\"content\":\"Yes\",\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	DSK "\"content\":\", 😀!\",\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
	DSK "\"content\":\"\",\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":17,\"completion_tokens\":120,\"total_tokens\":137,\"prompt_tokens_details\":{\"cached_tokens\":5},\"prompt_cache_hit_tokens\":5,\"prompt_cache_miss_tokens\":12,\"completion_tokens_details\":{\"reasoning_tokens\":96}}}\n\n"
	"data: [DONE]\n\n";

/* Newer vLLM (and OpenRouter): "reasoning" instead of "reasoning_content". */
#define VNEW "data: {\"id\":\"chatcmpl-a1b2c3d4e5f60718293a4b5c6d7e8f90\",\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"Qwen/Qwen3-8B\",\"choices\":[{\"index\":0,\"delta\":{"
static const char vllm_new_text[] =
	VNEW "\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"prompt_token_ids\":null}\n\n"
	VNEW "\"reasoning\":\"\\nThink é\"},\"logprobs\":null,\"finish_reason\":null,\"token_ids\":null}]}\n\n"
	VNEW "\"reasoning\":\"😀 <b>\"},\"logprobs\":null,\"finish_reason\":null,\"token_ids\":null}]}\n\n"
	VNEW "\"content\":\"\\n\\n\"},\"logprobs\":null,\"finish_reason\":null,\"token_ids\":null}]}\n\n"
	VNEW "\"content\":\"Done → yes\"},\"logprobs\":null,\"finish_reason\":null,\"token_ids\":null}]}\n\n"
	VNEW "\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"length\",\"stop_reason\":null,\"token_ids\":null}]}\n\n"
	"data: [DONE]\n\n";

/* llama.cpp's server with --reasoning-format none: the tags are in content, each split
   over two chunks. */
#define LCPP_HEAD "data: {\"choices\":[{\"finish_reason\":null,\"index\":0,\"delta\":{"
#define LCPP_TAIL "}}],\"created\":1738900000,\"id\":\"chatcmpl-Qm3xT8rB2vK9pL4nW7yZ1aC5dE6fG0hJ\",\"model\":\"DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf\",\"system_fingerprint\":\"b4800-1a2b3c4d\",\"object\":\"chat.completion.chunk\"}\n\n"
static const char llamacpp_text[] =
	LCPP_HEAD "\"role\":\"assistant\",\"content\":null" LCPP_TAIL
	LCPP_HEAD "\"content\":\"<thi\"" LCPP_TAIL
	LCPP_HEAD "\"content\":\"nk>\\n\"" LCPP_TAIL
	LCPP_HEAD "\"content\":\"Let me think: é → \"" LCPP_TAIL
	LCPP_HEAD "\"content\":\"😀 a <b> tag </thin\"" LCPP_TAIL
	LCPP_HEAD "\"content\":\"g fine</thi\"" LCPP_TAIL
	LCPP_HEAD "\"content\":\"nk>\\n\\nThe answer\"" LCPP_TAIL
	LCPP_HEAD "\"content\":\" is 4 é <\"" LCPP_TAIL
	"data: {\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"delta\":{}}],\"created\":1738900000,\"id\":\"chatcmpl-Qm3xT8rB2vK9pL4nW7yZ1aC5dE6fG0hJ\",\"model\":\"DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf\",\"system_fingerprint\":\"b4800-1a2b3c4d\",\"object\":\"chat.completion.chunk\",\"usage\":{\"completion_tokens\":40,\"prompt_tokens\":12,\"total_tokens\":52},\"timings\":{\"prompt_n\":12,\"prompt_ms\":30.1,\"predicted_n\":40,\"predicted_ms\":400.2}}\n\n"
	"data: [DONE]\n\n";

static void test_vllm(void)
{
	struct transcript t = {"vLLM", vllm_text, "Okay, so 2 + 2 → 4. Café 😀 done.\n",
			       "The answer is **4** → 😀", "stop",
			       "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"};
	check_transcript(&t);
	struct play p;
	CHECK(play(&p, vllm_text, strlen(vllm_text), 0, 0) == 0, "rc");
	CHECK(p.s.usage.prompt_tokens == 14 && p.s.usage.completion_tokens == 48 &&
	      p.s.usage.reasoning_tokens == -1 && p.s.usage.cached_tokens == -1,
	      "usage %lld %lld %lld %lld", (long long)p.s.usage.prompt_tokens,
	      (long long)p.s.usage.completion_tokens, (long long)p.s.usage.reasoning_tokens,
	      (long long)p.s.usage.cached_tokens);
	CHECK(!strcmp(p.s.id, "chatcmpl-3f9a1c2b7d5e4a6f8b0c1d2e3f4a5b6c"), "id '%s'", p.s.id);
	CHECK(p.s.reasoning_field, "reasoning field not noted");
}

static void test_sglang(void)
{
	/* with a reasoning field, "</think>" in content is the answer's own text */
	struct transcript t = {"SGLang", sglang_text, "Let me see: café → 😀",
			       "Café", "stop", "deepseek-ai/DeepSeek-R1"};
	/* played by hand: the answer shows "</think>", which check_transcript refuses */
	struct play p;
	CHECK(play(&p, t.text, strlen(t.text), 0, 0) == 0, "rc %d: %s", p.s.stop, p.e.msg);
	CHECK(!strcmp(p.g.text[CH_REASONING], t.reasoning), "'%s'", p.g.text[CH_REASONING]);
	CHECK(!strcmp(p.g.text[CH_ANSWER], "Café </think> is fine here"), "'%s'",
	      p.g.text[CH_ANSWER]);
	CHECK(p.s.usage.prompt_tokens == 10 && p.s.usage.completion_tokens == 20 &&
	      p.s.usage.cached_tokens == -1, "usage");
	/* the split checks on the same stream without that chunk */
	char *cut = strdup(sglang_text);
	char *at = strstr(cut, SGL "\"content\":\" </think>");
	char *end = strstr(at, "\n\n") + 2;
	memmove(at, end, strlen(end) + 1);
	t.text = cut;
	check_transcript(&t);
	free(cut);
}

static void test_deepseek(void)
{
	struct transcript t = {"DeepSeek", deepseek_text, "Hmm, 中文 → ok", "Yes, 😀!", "stop",
			       "deepseek-reasoner"};
	check_transcript(&t);
	struct play p;
	CHECK(play(&p, deepseek_text, strlen(deepseek_text), 0, 0) == 0, "rc");
	CHECK(p.s.usage.prompt_tokens == 17 && p.s.usage.completion_tokens == 120 &&
	      p.s.usage.reasoning_tokens == 96 && p.s.usage.cached_tokens == 5,
	      "usage %lld %lld %lld %lld", (long long)p.s.usage.prompt_tokens,
	      (long long)p.s.usage.completion_tokens, (long long)p.s.usage.reasoning_tokens,
	      (long long)p.s.usage.cached_tokens);
}

static void test_vllm_reasoning_field(void)
{
	struct transcript t = {"vLLM reasoning", vllm_new_text, "Think é😀 <b>", "Done → yes",
			       "length", "Qwen/Qwen3-8B"};
	check_transcript(&t);
}

static void test_think_in_content(void)
{
	struct transcript t = {"llama.cpp", llamacpp_text,
			       "Let me think: é → 😀 a <b> tag </thing fine",
			       "The answer is 4 é <", "stop",
			       "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf"};
	check_transcript(&t);
}

/* Feeds each string as one chunk's content, then ends the stream. */
static void contents(struct play *p, const char *const *parts, size_t n)
{
	memset(p, 0, sizeof *p);
	oai_stream_init(&p->s, emit, &p->g);
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:[{s:i, s:{s:s}}]}", "object",
				      "chat.completion.chunk", "choices", "index", 0, "delta",
				      "content", parts[i]);
		char *d = json_dumps(o, 0);
		int rc = oai_stream_data(&p->s, d, strlen(d), &p->e);
		CHECK(rc == 0, "part %zu: rc %d: %s", i, rc, p->e.msg);
		free(d);
		json_decref(o);
	}
	CHECK(oai_stream_end(&p->s) == 0, "end");
}

static void test_tags_byte_by_byte(void)
{
	const char *text = "\n<think>\n\nabc <th</thin </think>\n\nxyz <think> </thi";
	char one[64][2];
	const char *parts[64];
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i++) {
		one[i][0] = text[i];
		one[i][1] = '\0';
		parts[i] = one[i];
	}
	struct play p;
	contents(&p, parts, n);
	CHECK(!strcmp(p.g.text[CH_REASONING], "abc <th</thin "), "'%s'", p.g.text[CH_REASONING]);
	CHECK(!strcmp(p.g.text[CH_ANSWER], "xyz <think> </thi"), "'%s'", p.g.text[CH_ANSWER]);
	CHECK(!p.g.bad, "bad piece");
}

static void test_tags_stray_close(void)
{
	/* the prompt opened the reasoning and the server has no parser: all answer */
	const char *parts[] = {"Okay, reasoning", "...</th", "ink>\n\nIt is 4"};
	struct play p;
	contents(&p, parts, 3);
	CHECK(p.g.len[CH_REASONING] == 0, "reasoning '%s'", p.g.text[CH_REASONING]);
	CHECK(!strcmp(p.g.text[CH_ANSWER], "Okay, reasoning...\n\nIt is 4"), "'%s'",
	      p.g.text[CH_ANSWER]);
	CHECK(!p.g.tag, "a tag was shown");

	/* a <think> after answer text is text */
	const char *late[] = {"Hi <think>", " there"};
	contents(&p, late, 2);
	CHECK(!strcmp(p.g.text[CH_ANSWER], "Hi <think> there"), "'%s'", p.g.text[CH_ANSWER]);

	/* a held prefix at the end of the stream is text */
	const char *open[] = {"\n\n<thin"};
	contents(&p, open, 1);
	CHECK(!strcmp(p.g.text[CH_ANSWER], "<thin"), "'%s'", p.g.text[CH_ANSWER]);
}

static int data(struct play *p, const char *d)
{
	return oai_stream_data(&p->s, d, strlen(d), &p->e);
}

static void fresh(struct play *p)
{
	memset(p, 0, sizeof *p);
	oai_stream_init(&p->s, emit, &p->g);
}

static void test_quiet_chunks(void)
{
	struct play p;
	fresh(&p);
	CHECK(data(&p, "{\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,"
		       "\"model\":\"m\",\"choices\":[]}") == 0, "empty choices");
	CHECK(data(&p, "{\"object\":\"chat.completion.chunk\"}") == 0, "no choices");
	CHECK(data(&p, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":null,"
		       "\"reasoning_content\":null,\"reasoning\":null}}],\"usage\":null,"
		       "\"error\":null}") == 0, "nulls");
	CHECK(data(&p, "{\"choices\":[{\"index\":0,\"delta\":{}}]}") == 0, "empty delta");
	CHECK(p.g.pieces == 0 && p.s.pieces == 0, "%d pieces", p.g.pieces);
	CHECK(!p.s.done, "done early");
	CHECK(data(&p, " \t[DONE] \r\n") == 0 && p.s.done, "[DONE] with spaces");
	CHECK(!strcmp(p.s.model, "m") && !strcmp(p.s.id, "x"), "model '%s' id '%s'", p.s.model,
	      p.s.id);
	CHECK(p.s.usage.prompt_tokens == -1, "usage without a usage object");
}

static void test_remote_error(void)
{
	struct play p;
	fresh(&p);
	int rc = data(&p, "{\"error\":{\"message\":\"The model `foo` does not exist.\","
			  "\"type\":\"NotFoundError\",\"param\":null,\"code\":404}}");
	CHECK(rc == ERR_REMOTE, "rc %d", rc);
	CHECK(!strcmp(p.e.msg, "the server reported an error: The model `foo` does not exist."),
	      "'%s'", p.e.msg);
	CHECK(!strcmp(p.s.error, "The model `foo` does not exist."), "'%s'", p.s.error);

	fresh(&p);
	rc = data(&p, "{\"object\":\"error\",\"message\":\"This model's maximum context length "
		      "is 4096 tokens.\\nShorten it.\",\"type\":\"BadRequestError\",\"param\":null,"
		      "\"code\":400}");
	CHECK(rc == ERR_REMOTE, "rc %d", rc);
	CHECK(strstr(p.e.msg, "maximum context length is 4096 tokens. Shorten it."), "'%s'",
	      p.e.msg);

	fresh(&p);
	CHECK(data(&p, "{\"error\":{\"code\":500}}") == ERR_REMOTE, "no message");
	CHECK(strstr(p.e.msg, "no message"), "'%s'", p.e.msg);
}

static void test_not_json(void)
{
	struct play p;
	fresh(&p);
	int rc = data(&p, "<html>\x1b[31mBad Gateway\r\n</html>");
	CHECK(rc == ERR_FORMAT, "rc %d", rc);
	CHECK(strstr(p.e.msg, "not JSON") && strstr(p.e.msg, "<html>\\x1B[31mBad Gateway"),
	      "'%s'", p.e.msg);
	for (const char *c = p.e.msg; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7F, "control byte in '%s'", p.e.msg);

	char long_data[300];
	memset(long_data, 'z', sizeof long_data - 1);
	long_data[sizeof long_data - 1] = '\0';
	rc = data(&p, long_data);
	CHECK(rc == ERR_FORMAT, "rc %d", rc);
	const char *q = strchr(p.e.msg, '"');
	CHECK(q && strspn(q + 1, "z") == 80 && !strncmp(q + 81, "...\"", 4), "'%s'", p.e.msg);

	CHECK(data(&p, "[1, 2]") == ERR_FORMAT && strstr(p.e.msg, "not a JSON object"), "array");
	CHECK(data(&p, "42") == ERR_FORMAT, "number");
	CHECK(data(&p, "{\"choices\":[{\"delta\":{\"content\":\"a\\u0000b\"}}]}") == ERR_FORMAT,
	      "NUL accepted");
	CHECK(data(&p, "{\"choices\":[{\"delta\":{\"content\":\"\xC3\x28\"}}]}") == ERR_FORMAT,
	      "invalid UTF-8 accepted");
	CHECK(p.g.pieces == 0, "text from a bad chunk");
}

static void test_emit_stops(void)
{
	struct play p;
	fresh(&p);
	p.g.stop_after = 1;
	const char *d = "{\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"one\","
			"\"content\":\"two\"}}]}";
	CHECK(data(&p, d) == 5, "stop not returned");
	CHECK(data(&p, d) == 5, "stop not sticky");
	CHECK(data(&p, "[DONE]") == 5, "stop not sticky at [DONE]");
	CHECK(oai_stream_end(&p.s) == 5, "end");
	CHECK(p.g.pieces == 1 && !p.g.after_stop, "%d pieces", p.g.pieces);

	/* a stop inside a content slice with a held tag prefix */
	fresh(&p);
	p.g.stop_after = 1;
	CHECK(data(&p, "{\"choices\":[{\"delta\":{\"content\":\"<think>a</think>b</th\"}}]}") == 5,
	      "stop");
	CHECK(oai_stream_end(&p.s) == 5 && p.g.pieces == 1, "%d pieces", p.g.pieces);
}

int main(void)
{
	RUN(test_sse_line_ends);
	RUN(test_sse_crlf_split);
	RUN(test_sse_bom);
	RUN(test_sse_comments_and_fields);
	RUN(test_sse_max_bytes);
	RUN(test_sse_callback_stops);
	RUN(test_sse_pending);
	RUN(test_vllm);
	RUN(test_sglang);
	RUN(test_deepseek);
	RUN(test_vllm_reasoning_field);
	RUN(test_think_in_content);
	RUN(test_tags_byte_by_byte);
	RUN(test_tags_stray_close);
	RUN(test_quiet_chunks);
	RUN(test_remote_error);
	RUN(test_not_json);
	RUN(test_emit_stops);
	return check_finish();
}
