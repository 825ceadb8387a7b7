/*
 * test_net_request.c — net/oai_request.c and net/oai_reply.c: the chat-completions
 * bodies `ponder serve` accepts (every field it reads), the hostile and mistaken ones it
 * refuses (each with the right code and a message that names the field), and the reply
 * texts, parsed back with jansson so that their shapes are checked as a client reads
 * them.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/oai_reply.h"
#include "net/oai_request.h"
#include "tests/check.h"

static const struct oai_limits lim = {
	.max_body = 1 << 20,
	.max_messages = 10000,
	.max_tokens = 8192,
};

static int parse(const char *body, struct oai_chat_request *r, struct err *e)
{
	return oai_request_parse(body, strlen(body), &lim, r, e);
}

/* A body that must be refused with code want, its message naming n1 (and n2). */
static void reject_n(const char *body, size_t len, int want, const char *n1, const char *n2)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = oai_request_parse(body, len, &lim, &r, &e);
	CHECK(rc == want, "%.80s: rc %d (%s), want %d; message: %s", body, rc, err_code_name(rc),
	      want, e.msg);
	CHECK(strstr(e.msg, n1) != NULL, "%.80s: message names \"%s\": %s", body, n1, e.msg);
	if (n2)
		CHECK(strstr(e.msg, n2) != NULL, "%.80s: message names \"%s\": %s", body, n2, e.msg);
	CHECK(r.turns == NULL && r.n_turns == 0 && r.system == NULL, "out left empty");
	oai_request_free(&r);
}

static void reject(const char *body, const char *n1, const char *n2)
{
	reject_n(body, strlen(body), ERR_FORMAT, n1, n2);
}

/* A minimal body with `extra` (",\"field\": value" or "") after the messages. */
static void reject_field(const char *extra, const char *n1, const char *n2)
{
	char body[512];
	snprintf(body, sizeof body,
		 "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]%s}", extra);
	reject(body, n1, n2);
}

static void test_minimal(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}", &r, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(r.n_turns == 1 && r.turns[0].role == CHAT_USER, "one user turn");
	CHECK(r.turns[0].len == 5 && strcmp(r.turns[0].text, "Hello") == 0, "text");
	CHECK(r.system == NULL && r.model[0] == 0 && !r.stream && !r.include_usage, "defaults");
	CHECK(r.temperature == -1 && r.top_p == -1 && r.min_p == -1 && r.top_k == -1, "unset");
	CHECK(!r.seed_set && r.max_tokens == 0, "seed, max_tokens unset");
	oai_request_free(&r);
	oai_request_free(&r); /* a freed request frees again harmlessly */
}

static void test_sampling_fields(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"model\":\"deepseek-r1\",\"messages\":[{\"role\":\"user\",\"content\":"
		       "\"x\"}],\"stream\":true,\"temperature\":0.6,\"top_p\":0.95,\"top_k\":40,"
		       "\"min_p\":0.05,\"seed\":12345678901,\"max_tokens\":100,\"n\":1,"
		       "\"user\":\"u1\",\"frequency_penalty\":0,\"presence_penalty\":0.0,"
		       "\"logprobs\":false,\"stop\":[],\"tools\":[],\"tool_choice\":\"none\","
		       "\"response_format\":{\"type\":\"text\"},\"metadata\":{\"a\":\"b\"},"
		       "\"store\":false,\"parallel_tool_calls\":true,\"service_tier\":\"auto\","
		       "\"chat_template_kwargs\":{\"thinking\":true},\"brand_new_field\":[1,2]}",
		       &r, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(strcmp(r.model, "deepseek-r1") == 0, "model %s", r.model);
	CHECK(r.stream && !r.include_usage, "stream");
	CHECK(r.temperature == 0.6 && r.top_p == 0.95 && r.min_p == 0.05 && r.top_k == 40,
	      "sampling %g %g %g %d", r.temperature, r.top_p, r.min_p, r.top_k);
	CHECK(r.seed_set && r.seed == 12345678901ull, "seed");
	CHECK(r.max_tokens == 100, "max_tokens %lld", (long long)r.max_tokens);
	oai_request_free(&r);

	/* max_completion_tokens, the same value in both, top_k -1, nulls as not given */
	rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
		   "\"max_completion_tokens\":8192,\"top_k\":-1,\"temperature\":null,"
		   "\"seed\":null,\"stream\":null}",
		   &r, &e);
	CHECK(rc == 0 && r.max_tokens == 8192 && r.top_k == -1 && r.temperature == -1 &&
	      !r.seed_set, "%s", e.msg);
	oai_request_free(&r);
	rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":7,"
		   "\"max_completion_tokens\":7,\"temperature\":0,\"top_p\":1}",
		   &r, &e);
	CHECK(rc == 0 && r.max_tokens == 7 && r.temperature == 0 && r.top_p == 1, "%s", e.msg);
	oai_request_free(&r);
}

static void test_content_parts(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
		       "\"text\":\"first\"},{\"type\":\"text\",\"text\":\"s\\u00e9cond\"}]}]}",
		       &r, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(r.n_turns == 1 && strcmp(r.turns[0].text, "first\ns\xc3\xa9" "cond") == 0 &&
	      r.turns[0].len == strlen(r.turns[0].text), "joined: %s", r.turns[0].text);
	oai_request_free(&r);
	rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":[]}]}", &r, &e);
	CHECK(rc == 0 && r.turns[0].len == 0 && r.turns[0].text[0] == 0, "no parts: %s", e.msg);
	oai_request_free(&r);
}

static void test_system_roles(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
		       "{\"role\":\"user\",\"content\":\"q\"}]}",
		       &r, &e);
	CHECK(rc == 0 && r.system && strcmp(r.system, "Be brief.") == 0, "developer: %s", e.msg);
	CHECK(r.n_turns == 1, "turns %zu", r.n_turns);
	oai_request_free(&r);
	rc = parse("{\"messages\":[{\"role\":\"system\",\"content\":\"A\"},"
		   "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"B\"}]},"
		   "{\"role\":\"system\",\"content\":\"C\"},{\"role\":\"user\",\"content\":\"q\"}]}",
		   &r, &e);
	CHECK(rc == 0 && r.system && strcmp(r.system, "A\n\nB\n\nC") == 0, "joined: %s %s",
	      e.msg, r.system ? r.system : "(null)");
	oai_request_free(&r);
}

static void test_conversation(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},"
		       "{\"role\":\"assistant\",\"content\":\"b\",\"reasoning_content\":\"r\"},"
		       "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]},"
		       "{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"user\",\"content\":\"d\","
		       "\"name\":\"bob\"}]}",
		       &r, &e);
	CHECK(rc == 0, "%s", e.msg);
	CHECK(r.n_turns == 5, "turns %zu", r.n_turns);
	if (r.n_turns == 5) {
		CHECK(r.turns[0].role == CHAT_USER && strcmp(r.turns[0].text, "a") == 0, "0");
		CHECK(r.turns[1].role == CHAT_ASSISTANT && strcmp(r.turns[1].text, "b") == 0, "1");
		CHECK(r.turns[2].role == CHAT_ASSISTANT && r.turns[2].len == 0, "2: null content");
		CHECK(r.turns[3].role == CHAT_USER && r.turns[4].role == CHAT_USER, "3, 4 users");
		CHECK(strcmp(r.turns[4].text, "d") == 0, "4");
	}
	oai_request_free(&r);
}

static void test_stream_options(void)
{
	struct oai_chat_request r;
	struct err e = {0};
	int rc = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
		       "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":false}}",
		       &r, &e);
	CHECK(rc == 0 && r.stream && r.include_usage, "%s", e.msg);
	oai_request_free(&r);
	reject_field(",\"stream_options\":{\"include_usage\":\"yes\"}",
		     "stream_options.include_usage", NULL);
	reject_field(",\"stream_options\":true", "stream_options", NULL);
	reject_field(",\"stream\":1", "stream", NULL);
}

static void test_body_hostile(void)
{
	/* over max_body: refused before it is read */
	size_t n = lim.max_body + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	reject_n(big, n, ERR_RANGE, "body", "1048577");

	/* 100000 nested arrays, then the same inside a field */
	n = 100000;
	memset(big, '[', n);
	reject_n(big, n, ERR_FORMAT, "deep", NULL);
	char *deep = malloc(2 * n + 64);
	int o = sprintf(deep, "{\"metadata\":");
	memset(deep + o, '[', n);
	memset(deep + o + n, ']', n);
	strcpy(deep + o + 2 * n, "}");
	reject(deep, "deep", NULL);
	/* brackets inside strings do not count */
	char *str = malloc(n + 128);
	o = sprintf(str, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
	memset(str + o, '[', 1000);
	strcpy(str + o + 1000, "\"}]}");
	struct oai_chat_request r;
	struct err e = {0};
	CHECK(parse(str, &r, &e) == 0 && r.turns[0].len == 1000, "[ in text: %s", e.msg);
	oai_request_free(&r);
	free(str);
	free(deep);
	free(big);

	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\xff" "b\"}]}", "JSON", "0xff");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"\xc0\xaf\"}]}", "JSON", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}", "\\u0000", "NUL");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", "JSON", "D800");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"\\udc00\\ud800\"}]}", "JSON", NULL);
	reject("[{\"role\":\"user\",\"content\":\"x\"}]", "object", "an array");
	reject("\"hello\"", "JSON", NULL);
	reject("", "JSON", NULL);
	reject("{\"messages\":[]} trailing", "JSON", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true,"
	       "\"stream\":false}",
	       "duplicate", NULL);
	reject_n("{\"messages\":\0}", 15, ERR_FORMAT, "JSON", NULL);
}

static void test_numbers_refused(void)
{
	reject_field(",\"max_tokens\":-5", "max_tokens: -5 is not from 1 to 8192", NULL);
	reject_field(",\"max_tokens\":0", "max_tokens: 0", NULL);
	reject_field(",\"max_tokens\":8193", "max_tokens: 8193", NULL);
	reject_field(",\"max_tokens\":9223372036854775807", "max_tokens", NULL);
	reject_field(",\"max_tokens\":99999999999999999999999", "max_tokens", "too large");
	reject_field(",\"max_tokens\":10.5", "max_tokens must be an integer", "10.5");
	reject_field(",\"max_tokens\":100.0", "max_tokens must be an integer", NULL);
	reject_field(",\"max_tokens\":\"100\"", "max_tokens must be an integer", "a string");
	reject_field(",\"max_completion_tokens\":-1", "max_completion_tokens", NULL);
	reject_field(",\"max_tokens\":5,\"max_completion_tokens\":6", "max_tokens",
		     "max_completion_tokens");
	reject_field(",\"temperature\":1e999", "temperature", "too large");
	reject_field(",\"temperature\": -1e999", "temperature", NULL);
	reject_field(",\"temperature\":NaN", "JSON", NULL);
	reject_field(",\"temperature\":Infinity", "JSON", NULL);
	reject_field(",\"temperature\":2.5", "temperature: 2.5", NULL);
	reject_field(",\"temperature\":-0.1", "temperature", NULL);
	reject_field(",\"temperature\":\"0.7\"", "temperature must be a number", NULL);
	reject_field(",\"top_p\":0", "top_p", NULL);
	reject_field(",\"top_p\":1.01", "top_p", NULL);
	reject_field(",\"min_p\":-0.5", "min_p", NULL);
	reject_field(",\"top_k\":-2", "top_k", NULL);
	reject_field(",\"top_k\":4.5", "top_k", NULL);
	reject_field(",\"top_k\":4294967296", "top_k", NULL);
	reject_field(",\"seed\":-1", "seed", NULL);
	reject_field(",\"seed\":true", "seed", NULL);
	reject_field(",\"model\":42", "model", NULL);
	reject_field(",\"user\":7", "user", NULL);
	char body[400], name[300];
	memset(name, 'm', 256);
	name[256] = 0;
	snprintf(body, sizeof body, ",\"model\":\"%s\"", name);
	reject_field(body, "model", "256 bytes");
}

static void test_unsupported(void)
{
	reject_field(",\"n\":2", "n: 2 is not supported", NULL);
	reject_field(",\"n\":\"1\"", "n:", NULL);
	reject_field(",\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]",
		     "tools:", "not supported");
	reject_field(",\"tool_choice\":\"auto\"", "tool_choice", NULL);
	reject_field(",\"functions\":[{}]", "functions", NULL);
	reject_field(",\"function_call\":\"auto\"", "function_call", NULL);
	reject_field(",\"response_format\":{\"type\":\"json_object\"}", "response_format", NULL);
	reject_field(",\"logit_bias\":{\"50256\":-100}", "logit_bias", NULL);
	reject_field(",\"logprobs\":true", "logprobs", NULL);
	reject_field(",\"top_logprobs\":5", "top_logprobs", NULL);
	reject_field(",\"stop\":\"\\n\"", "stop", NULL);
	reject_field(",\"stop\":[\"END\"]", "stop", NULL);
	reject_field(",\"frequency_penalty\":0.5", "frequency_penalty", NULL);
	reject_field(",\"presence_penalty\":-1", "presence_penalty", NULL);
	reject_field(",\"suffix\":\"x\"", "suffix", NULL);
	reject_field(",\"echo\":true", "echo", NULL);
	reject_field(",\"guided_json\":{}", "guided_json", NULL);
}

static void test_messages_refused(void)
{
	reject("{}", "messages is missing", NULL);
	reject("{\"messages\":{\"role\":\"user\",\"content\":\"x\"}}", "messages must be an array",
	       NULL);
	reject("{\"messages\":\"hi\"}", "messages must be an array", NULL);
	reject("{\"messages\":[]}", "messages is empty", NULL);
	reject("{\"messages\":[\"hi\"]}", "messages[0] must be an object", NULL);
	reject("{\"messages\":[{\"content\":\"x\"}]}", "messages[0].role is missing", NULL);
	reject("{\"messages\":[{\"role\":1,\"content\":\"x\"}]}", "messages[0].role must be", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
	       "\"content\":\"b\"},{\"role\":\"user\",\"content\":\"c\"},{\"role\":\"tool\","
	       "\"content\":\"d\",\"tool_call_id\":\"1\"}]}",
	       "messages[3].role: 'tool' is not a role ponder serve serves (system, developer, "
	       "user, assistant)",
	       NULL);
	reject("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", "messages[0].role",
	       "'wizard'");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
	       "\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}]}",
	       "messages[0].content[0].type", "'image_url'");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
	       "{\"type\":\"text\",\"text\":5}]}]}",
	       "messages[0].content[1].text", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"a\"}]}]}",
	       "messages[0].content[0].type is missing", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":[\"a\"]}]}",
	       "messages[0].content[0] must be an object", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":42}]}", "messages[0].content",
	       "an integer");
	reject("{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content is missing", NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":null}]}", "messages[0].content",
	       NULL);
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
	       "\"content\":\"b\"}]}",
	       "messages[1].role", "last message");
	reject("{\"messages\":[{\"role\":\"system\",\"content\":\"s\"}]}", "messages[0].role",
	       "last message");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"system\","
	       "\"content\":\"s\"},{\"role\":\"user\",\"content\":\"b\"}]}",
	       "messages[1].role", "after the first user message");
	reject("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
	       "\"content\":null,\"tool_calls\":[{\"id\":\"1\"}]},{\"role\":\"user\","
	       "\"content\":\"b\"}]}",
	       "messages[1].tool_calls", NULL);
}

/* n user messages: 10000 are accepted, 10001 refused. */
static char *many_messages(size_t n)
{
	static const char one[] = "{\"role\":\"user\",\"content\":\"x\"},";
	char *b = malloc(n * (sizeof one - 1) + 32), *o = b;
	o += sprintf(o, "{\"messages\":[");
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s", one);
	strcpy(o - 1, "]}");
	return b;
}

static void test_message_count(void)
{
	char *b = many_messages(10000);
	struct oai_chat_request r;
	struct err e = {0};
	CHECK(parse(b, &r, &e) == 0 && r.n_turns == 10000, "10000: %s", e.msg);
	oai_request_free(&r);
	free(b);
	b = many_messages(10001);
	reject(b, "messages", "10001");
	free(b);
}

/* ---- replies ---- */

static const struct oai_reply_ids ids = { "chatcmpl-abc", "ponder-model", 1700000000 };

static json_t *load(char *text)
{
	json_error_t je;
	json_t *j = text ? json_loads(text, 0, &je) : NULL;
	CHECK(j != NULL, "reply parses back: %s", text ? je.text : "NULL");
	free(text);
	return j;
}

/* The value at a dotted path ("choices.0.delta.role"), or NULL. */
static json_t *at(json_t *o, const char *path)
{
	json_t *v = o;
	char key[64];
	for (const char *p = path; v && *p;) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, p);
		v = json_is_array(v) ? json_array_get(v, (size_t)atoi(key)) : json_object_get(v, key);
		p += n + (p[n] == '.');
	}
	return v;
}

/* The string at path, or "(missing)" so that a check fails instead of crashing. */
static const char *str_at(json_t *o, const char *path)
{
	const char *s = json_string_value(at(o, path));
	return s ? s : "(missing)";
}

static void test_reply_chunk(void)
{
	static const char reason[] = "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\n";
	char *s = oai_reply_chunk(&ids, 1, reason, strlen(reason), NULL, 0, NULL, NULL);
	CHECK(s && strstr(s, "\xc3\xa9\xf0") == NULL && strstr(s, "caf\xc3\xa9 \xf0\x9f\x98\x80"),
	      "UTF-8 kept as is: %s", s);
	json_t *j = load(s);
	CHECK(j && !strcmp(str_at(j, "object"), "chat.completion.chunk"), "object");
	CHECK(j && !strcmp(str_at(j, "id"), "chatcmpl-abc") && !strcmp(str_at(j, "model"),
	      "ponder-model") && json_integer_value(at(j, "created")) == 1700000000, "head");
	CHECK(j && json_array_size(at(j, "choices")) == 1 &&
	      json_integer_value(at(j, "choices.0.index")) == 0, "one choice");
	CHECK(j && !strcmp(str_at(j, "choices.0.delta.role"), "assistant"), "role");
	CHECK(j && !strcmp(str_at(j, "choices.0.delta.reasoning_content"), reason),
	      "reasoning round-trips");
	CHECK(j && !at(j, "choices.0.delta.content") && json_is_null(at(j, "choices.0.logprobs")) &&
	      json_is_null(at(j, "choices.0.finish_reason")) && !at(j, "usage"), "left out / null");
	json_decref(j);

	/* content with a length (not NUL-terminated), a finish */
	j = load(oai_reply_chunk(&ids, 0, NULL, 0, "answer!!!", 6, "stop", NULL));
	CHECK(j && !strcmp(str_at(j, "choices.0.delta.content"), "answer") &&
	      !at(j, "choices.0.delta.role") && !at(j, "choices.0.delta.reasoning_content"),
	      "content");
	CHECK(j && !strcmp(str_at(j, "choices.0.finish_reason"), "stop"), "finish");
	json_decref(j);

	/* not UTF-8: U+FFFD, still valid JSON */
	j = load(oai_reply_chunk(&ids, 0, NULL, 0, "a\xff" "b", 3, NULL, NULL));
	CHECK(j && !strcmp(str_at(j, "choices.0.delta.content"), "a\xef\xbf\xbd" "b"), "FFFD");
	json_decref(j);

	/* the include_usage chunk */
	struct oai_usage u = { 10, 20, 15, -1 };
	j = load(oai_reply_chunk(&ids, 0, NULL, 0, NULL, 0, NULL, &u));
	CHECK(j && json_is_array(at(j, "choices")) && json_array_size(at(j, "choices")) == 0,
	      "choices []");
	CHECK(j && json_integer_value(at(j, "usage.prompt_tokens")) == 10 &&
	      json_integer_value(at(j, "usage.completion_tokens")) == 20 &&
	      json_integer_value(at(j, "usage.total_tokens")) == 30, "usage");
	CHECK(j && json_integer_value(at(j, "usage.completion_tokens_details.reasoning_tokens")) ==
	      15, "reasoning_tokens");
	CHECK(j && !at(j, "usage.prompt_tokens_details"), "cached left out when < 0");
	json_decref(j);
}

static void test_reply_completion(void)
{
	static const char reason[] = "\xc3\xa9\xf0\x9f\x98\x80";
	struct oai_usage u = { 7, 3, -1, 4 };
	char *s = oai_reply_completion(&ids, reason, strlen(reason), "Hi", 2, "length", &u);
	CHECK(s && strstr(s, reason), "UTF-8 kept: %s", s);
	json_t *j = load(s);
	CHECK(j && !strcmp(str_at(j, "object"), "chat.completion"), "object");
	CHECK(j && !strcmp(str_at(j, "choices.0.message.role"), "assistant") &&
	      !strcmp(str_at(j, "choices.0.message.content"), "Hi"), "message");
	const char *rc = j ? str_at(j, "choices.0.message.reasoning_content") : "";
	CHECK(strlen(rc) == strlen(reason) && !memcmp(rc, reason, strlen(reason)),
	      "reasoning byte-exact");
	CHECK(j && !strcmp(str_at(j, "choices.0.finish_reason"), "length") &&
	      json_is_null(at(j, "choices.0.logprobs")), "finish");
	CHECK(j && json_integer_value(at(j, "usage.total_tokens")) == 10 &&
	      json_integer_value(at(j, "usage.prompt_tokens_details.cached_tokens")) == 4 &&
	      !at(j, "usage.completion_tokens_details"), "usage details");
	json_decref(j);

	j = load(oai_reply_completion(&ids, NULL, 0, "x", 1, "stop", NULL));
	CHECK(j && json_is_null(at(j, "choices.0.message.reasoning_content")) && !at(j, "usage"),
	      "no reasoning: null; no usage: left out");
	json_decref(j);
}

static void test_reply_error_models(void)
{
	json_t *j = load(oai_reply_error("max_tokens: -5 is not from 1 to 8192",
					 "invalid_request_error", NULL));
	CHECK(j && !strcmp(str_at(j, "error.message"), "max_tokens: -5 is not from 1 to 8192") &&
	      !strcmp(str_at(j, "error.type"), "invalid_request_error") &&
	      json_is_null(at(j, "error.code")), "error");
	json_decref(j);
	j = load(oai_reply_error("bad \xfe byte", "server_error", "overloaded"));
	CHECK(j && !strcmp(str_at(j, "error.code"), "overloaded") &&
	      strstr(str_at(j, "error.message"), "\xef\xbf\xbd"), "error with bad bytes");
	json_decref(j);
	j = load(oai_reply_models("deepseek-r1", 1700000001));
	CHECK(j && !strcmp(str_at(j, "object"), "list") && json_array_size(at(j, "data")) == 1 &&
	      !strcmp(str_at(j, "data.0.id"), "deepseek-r1") &&
	      !strcmp(str_at(j, "data.0.object"), "model") &&
	      json_integer_value(at(j, "data.0.created")) == 1700000001 &&
	      !strcmp(str_at(j, "data.0.owned_by"), "ponder"), "models");
	json_decref(j);
}

int main(void)
{
	RUN(test_minimal);
	RUN(test_sampling_fields);
	RUN(test_content_parts);
	RUN(test_system_roles);
	RUN(test_conversation);
	RUN(test_stream_options);
	RUN(test_body_hostile);
	RUN(test_numbers_refused);
	RUN(test_unsupported);
	RUN(test_messages_refused);
	RUN(test_message_count);
	RUN(test_reply_chunk);
	RUN(test_reply_completion);
	RUN(test_reply_error_models);
	return check_finish();
}
