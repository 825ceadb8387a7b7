/*
 * test_tokenizer_hostile.c — the tokenizer on input meant to break it. Every case must
 * end in correct output or a clear error, never a crash, a hang or quadratic time.
 *
 *   text:            invalid UTF-8 (round-trips, leaves valid neighbours alone), NUL
 *                    bytes, 10 MB of one character (exact count; 1 MB vs 10 MB time
 *                    ratio bounded loosely, no fixed time budget), a 1 MB line, many
 *                    threads sharing one tokenizer;
 *   tokenizer.json:  missing fields, ids out of range / duplicated / sparse, merges
 *                    naming unknown tokens, bad added tokens, malformed JSON (every
 *                    truncation of a valid file, deterministic byte flips, deep
 *                    nesting), regexes that do not compile, catastrophic regexes (a
 *                    41-byte and a 1 MB text: a clear error within seconds), a regex
 *                    with empty matches everywhere.
 * Cases that need the DeepSeek tokenizer SKIP without ../shared/fixtures; a synthetic
 * byte-level tokenizer covers the same ground either way.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/tokenizer.h"
#include "tests/byte_vocab.h"
#include "tests/check.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct tok *mk(const char *squoted, struct err *e)
{
	char *s = strdup(squoted);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	struct tok *t = NULL;
	err_clear(e);
	tok_parse(s, strlen(s), "hostile.json", &t, e);
	free(s);
	return t;
}

static char *fixture_path(const char *rel)
{
	const char *dir = check_fixtures();
	if (!dir)
		return NULL;
	size_t n = strlen(dir) + strlen(rel) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, rel);
	return p;
}

static struct tok *deepseek(const char *which)
{
	char rel[128];
	snprintf(rel, sizeof rel, "tokenizer/%s/tokenizer.json", which);
	char *p = fixture_path(rel);
	if (!p)
		return NULL;
	struct err e = {0};
	struct tok *t = NULL;
	CHECK(tok_load(p, &t, &e) == 0, "%s", e.msg);
	free(p);
	return t;
}

/* A byte-level tokenizer: the 256 byte characters (id = byte), "aa", "aaaa",
   "aaaaaaaa" (ids 256..258), the GPT-2 regex. Always available. */
static struct tok *synthetic(void)
{
	size_t cap = 16384, k = 0;
	char *j = malloc(cap);
	k += (size_t)snprintf(j + k, cap - k, "{'model':{'type':'BPE','vocab':{");
	k = put_byte_vocab(j, cap, k, '\'');
	k += (size_t)snprintf(j + k, cap - k,
			      ",'aa':256,'aaaa':257,'aaaaaaaa':258},'merges':['a a','aa aa','aaaa aaaa']},"
			      "'pre_tokenizer':{'type':'ByteLevel','add_prefix_space':false,"
			      "'use_regex':true},'decoder':{'type':'ByteLevel'}}");
	struct err e = {0};
	struct tok *t = mk(j, &e);
	CHECK(t, "synthetic tokenizer: %s", e.msg);
	free(j);
	return t;
}

/* Encodes, decodes, and checks the bytes come back exactly. */
static void round_trip(const struct tok *t, const char *s, size_t n, bool special,
		       const char *what)
{
	struct tok_ids ids = {0};
	struct err e = {0};
	int rc = tok_encode(t, s, n, special, &ids, &e);
	CHECK(rc == 0, "%s: encode: %s", what, e.msg);
	char *d = NULL;
	size_t dn = 0;
	if (!rc) {
		rc = tok_decode(t, ids.v, ids.n, false, &d, &dn, &e);
		CHECK(rc == 0 && dn == n && !memcmp(d, s, n), "%s: decode differs (%zu vs %zu bytes)",
		      what, dn, n);
	}
	free(d);
	tok_ids_free(&ids);
}

/* ---- hostile text ------------------------------------------------------------------ */

static const struct {
	const char *s;
	size_t n;
	const char *what;
} bad_utf8[] = {
	{"\xff", 1, "lone 0xFF"},
	{"abc\xff\xfe" "def", 8, "FF FE inside ASCII"},
	{"\xe4\xbd", 2, "truncated 3-byte sequence"},
	{"\xe4\xbd" "a", 3, "truncated sequence before ASCII"},
	{"\xed\xa0\x80", 3, "UTF-16 surrogate"},
	{"\xc0\xaf", 2, "overlong slash"},
	{"\xf4\x90\x80\x80", 4, "beyond U+10FFFF"},
	{"\x80\x80\x80", 3, "bare continuation bytes"},
	{"\xe4\xbd\xa0\xe4\xbd\xe5\xa5\xbd", 8, "valid, truncated, valid CJK"},
	{"  \xfe  \n\xff\n", 8, "invalid bytes among whitespace"},
	{"12\xff" "34", 5, "invalid byte among digits"},
};

static void test_invalid_utf8(void)
{
	struct tok *t = synthetic();
	if (!t)
		return;
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++)
		round_trip(t, bad_utf8[i].s, bad_utf8[i].n, false, bad_utf8[i].what);
	/* an invalid byte is a boundary, not a contaminant: the valid text before it
	   encodes exactly as it does alone */
	struct tok_ids a = {0}, b = {0};
	struct err e = {0};
	CHECK(tok_encode(t, "aaaa bb", 7, false, &a, &e) == 0, "%s", e.msg);
	CHECK(tok_encode(t, "aaaa bb\xff", 8, false, &b, &e) == 0, "%s", e.msg);
	CHECK(b.n == a.n + 1 && !memcmp(a.v, b.v, a.n * sizeof *a.v) && b.v[a.n] == 0xFF,
	      "trailing 0xFF: %zu vs %zu ids", b.n, a.n);
	tok_ids_free(&a);
	tok_ids_free(&b);
	tok_free(t);
}

static void test_invalid_utf8_deepseek(void)
{
	struct tok *t = deepseek("deepseek-r1");
	if (!t) {
		SKIP("no ../shared/fixtures");
		return;
	}
	for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++) {
		round_trip(t, bad_utf8[i].s, bad_utf8[i].n, false, bad_utf8[i].what);
		round_trip(t, bad_utf8[i].s, bad_utf8[i].n, true, bad_utf8[i].what);
	}
	struct tok_ids ids = {0};
	struct err e = {0};
	/* "Hello world" is [19923, 2058] (golden-plain); a bad byte after it changes nothing
	   before it */
	CHECK(tok_encode(t, "Hello world\xff", 12, false, &ids, &e) == 0 && ids.n == 3 &&
		      ids.v[0] == 19923 && ids.v[1] == 2058,
	      "Hello world + 0xFF: %zu ids", ids.n);
	size_t n;
	const char *b = ids.n == 3 ? tok_token_bytes(t, ids.v[2], &n) : NULL;
	CHECK(b && n == 1 && (uint8_t)b[0] == 0xFF, "0xFF is its byte token");
	/* added tokens still work around invalid bytes */
	ids.n = 0;
	CHECK(tok_encode(t, "<think>\xff</think>", 16, true, &ids, &e) == 0 && ids.n == 3 &&
		      ids.v[0] == 128798 && ids.v[2] == 128799,
	      "<think> 0xFF </think>: %zu ids", ids.n);
	tok_ids_free(&ids);
	tok_free(t);
}

static void test_nul_bytes(void)
{
	struct tok *t = synthetic();
	if (t) {
		static const char s[] = "a\0b\0\0c \0";
		round_trip(t, s, sizeof s - 1, false, "NULs (synthetic)");
		struct tok_ids ids = {0};
		struct err e = {0};
		CHECK(tok_encode(t, s, sizeof s - 1, false, &ids, &e) == 0, "%s", e.msg);
		size_t zeros = 0;
		for (size_t i = 0; i < ids.n; i++)
			zeros += ids.v[i] == 0;
		CHECK(zeros == 4, "each NUL is the NUL byte token: %zu", zeros);
		tok_ids_free(&ids);
		tok_free(t);
	}
	t = deepseek("deepseek-v3");
	if (t) {
		static const char s[] = "x\0y\0\0\n\0你\0";
		round_trip(t, s, sizeof s - 1, false, "NULs (DeepSeek)");
		round_trip(t, s, sizeof s - 1, true, "NULs (DeepSeek, special)");
		tok_free(t);
	}
}

/* Encodes n copies of `unit`; returns seconds, checks count and (if want >= 0) ids. */
static double encode_repeat(const struct tok *t, const char *unit, size_t ulen, size_t copies,
			    size_t want_n, int32_t want_id)
{
	size_t n = ulen * copies;
	char *s = malloc(n);
	for (size_t i = 0; i < copies; i++)
		memcpy(s + i * ulen, unit, ulen);
	struct tok_ids ids = {0};
	struct err e = {0};
	double t0 = now();
	int rc = tok_encode(t, s, n, false, &ids, &e);
	double dt = now() - t0;
	CHECK(rc == 0, "%zu x \"%s\": %s", copies, unit, e.msg);
	if (!rc && want_n)
		CHECK(ids.n == want_n, "%zu x \"%s\": %zu ids, want %zu", copies, unit, ids.n, want_n);
	if (!rc && want_id >= 0) {
		size_t bad = 0;
		for (size_t i = 0; i < ids.n; i++)
			bad += ids.v[i] != want_id;
		CHECK(bad == 0, "%zu x \"%s\": %zu ids differ from %d", copies, unit, bad, want_id);
	}
	if (!rc) {
		char *d = NULL;
		size_t dn = 0;
		CHECK(tok_decode(t, ids.v, ids.n, false, &d, &dn, &e) == 0 && dn == n &&
			      !memcmp(d, s, n),
		      "%zu x \"%s\": round trip", copies, unit);
		free(d);
	}
	tok_ids_free(&ids);
	free(s);
	return dt;
}

/* One 10 MB pre-token: BPE must stay O(n log n). The ratio bound is loose on purpose
   (a shared machine); quadratic behaviour would be ~100x. */
static void ten_mb(const struct tok *t, int32_t a8, const char *name)
{
	const size_t mb = 1 << 20;
	encode_repeat(t, "a", 1, mb / 8, mb / 64, a8); /* warm up */
	double t1 = encode_repeat(t, "a", 1, mb, mb / 8, a8);
	double t10 = encode_repeat(t, "a", 1, 10 * mb, 10 * mb / 8, a8);
	printf("  %s: 1 MB of 'a' in %.3f s, 10 MB in %.3f s (ratio %.1f)\n", name, t1, t10,
	       t10 / t1);
	CHECK(t10 / t1 < 30, "10 MB took %.1fx the time of 1 MB", t10 / t1);
}

static void test_ten_mb_one_char(void)
{
	struct tok *t = synthetic();
	if (t) {
		ten_mb(t, 258, "synthetic");
		tok_free(t);
	}
	t = deepseek("deepseek-v3");
	if (!t)
		return;
	/* golden-plain: 3000 'a' are 375 x 89086 ("aaaaaaaa") */
	ten_mb(t, 89086, "DeepSeek-V3");
	/* golden-plain: 800 x 你 are 800 x 804; the CJK split makes it one 10 MB piece */
	double dt = encode_repeat(t, "你", 3, (10u << 20) / 3, (10u << 20) / 3, 804);
	printf("  DeepSeek-V3: 10 MB of 你 in %.3f s\n", dt);
	/* whitespace and digits runs: round trip and no blow-up */
	dt = encode_repeat(t, " ", 1, 10u << 20, 0, -1);
	printf("  DeepSeek-V3: 10 MB of spaces in %.3f s\n", dt);
	dt = encode_repeat(t, "7", 1, 10u << 20, 0, -1);
	printf("  DeepSeek-V3: 10 MB of '7' in %.3f s\n", dt);
	tok_free(t);
}

static void test_one_mb_line(void)
{
	struct tok *t = deepseek("deepseek-v3");
	bool synth = !t;
	if (!t)
		t = synthetic();
	if (!t)
		return;
	static const char *const parts[] = {"word ", "x=1; ", "你好", "3.14159 ", "(call) ",
					    "\t", "émigré ", "😀 ", "https://a.b/c?d=e ", "--"};
	size_t n = 1 << 20, k = 0;
	char *s = malloc(n + 32);
	uint32_t r = 12345;
	while (k < n) {
		r = r * 1103515245u + 12345u;
		const char *p = parts[(r >> 16) % 10];
		size_t l = strlen(p);
		memcpy(s + k, p, l);
		k += l;
	}
	double t0 = now();
	round_trip(t, s, k, false, "1 MB line");
	printf("  1 MB line (%s): encode+decode in %.3f s\n", synth ? "synthetic" : "DeepSeek-V3",
	       now() - t0);
	free(s);
	tok_free(t);
}

struct thr {
	const struct tok *t;
	const char *s;
	size_t n;
	struct tok_ids ids;
	int rc;
};

static void *thr_main(void *p)
{
	struct thr *x = p;
	struct err e = {0};
	for (int i = 0; i < 20 && !x->rc; i++) {
		x->ids.n = 0;
		x->rc = tok_encode(x->t, x->s, x->n, i & 1, &x->ids, &e);
	}
	return NULL;
}

static void test_threads_share_one_tokenizer(void)
{
	struct tok *t = deepseek("deepseek-r1");
	if (!t)
		t = synthetic();
	if (!t)
		return;
	static const char s[] = "Threads share one tokenizer: 12345 你好世界 <think> ok </think>\n";
	struct tok_ids want = {0};
	struct err e = {0};
	CHECK(tok_encode(t, s, sizeof s - 1, true, &want, &e) == 0, "%s", e.msg);
	struct thr th[4];
	pthread_t id[4];
	for (int i = 0; i < 4; i++) {
		th[i] = (struct thr){t, s, sizeof s - 1, {0}, 0};
		CHECK(pthread_create(&id[i], NULL, thr_main, &th[i]) == 0, "pthread_create");
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(id[i], NULL);
		CHECK(th[i].rc == 0 && th[i].ids.n == want.n &&
			      !memcmp(th[i].ids.v, want.v, want.n * sizeof *want.v),
		      "thread %d differs", i);
		tok_ids_free(&th[i].ids);
	}
	tok_ids_free(&want);
	tok_free(t);
}

/* Random bytes, random valid UTF-8 and random text with added-token pieces: every one
   round-trips, with and without parse_special. */
static void test_random_bytes(void)
{
	struct tok *ts[2] = {synthetic(), deepseek("deepseek-r1")};
	static const char *const pieces[] = {"<think>", "</think>", "<｜User｜>", " ", "\n", "a",
					     "你", "😀", "7", "\xff", "\xe4\xbd", "<", "｜", "\t",
					     "\0", "é", "<|EOT|>"};
	uint32_t r = 99;
	char buf[1024];
	for (int k = 0; k < 2; k++) {
		if (!ts[k])
			continue;
		for (int i = 0; i < 1500; i++) {
			size_t n = 0, want = (r >> 7) % 300;
			while (n < want) {
				r = r * 1664525u + 1013904223u;
				if (i % 2 == 0) {
					buf[n++] = (char)(r >> 24);
				} else {
					const char *p = pieces[(r >> 16) % 17];
					size_t l = strlen(p) ? strlen(p) : 1; /* "\0" has length 0 */
					if (n + l > sizeof buf)
						break;
					memcpy(buf + n, p, l);
					n += l;
				}
			}
			round_trip(ts[k], buf, n, i % 3 == 0, k ? "random (DeepSeek-R1)" : "random (synthetic)");
			if (check_failed_now > 5)
				break;
		}
		tok_free(ts[k]);
	}
}

/* ---- hostile tokenizer.json ------------------------------------------------------- */

static void expect_error(const char *json, int code, const char *needle)
{
	struct err e = {0};
	struct tok *t = mk(json, &e);
	CHECK(!t && (code == 0 ? e.code != 0 : e.code == code) && strstr(e.msg, needle),
	      "%.80s: want error %d naming '%s', got %d: %s", json, code, needle, e.code,
	      t ? "(loaded)" : e.msg);
	tok_free(t);
}

#define MODEL(v, m) "'model':{'type':'BPE','vocab':" v ",'merges':" m "}"
#define M(v, m) "{" MODEL(v, m) "}"

static void test_bad_files(void)
{
	expect_error("", ERR_FORMAT, "end of file");
	expect_error("[]", ERR_FORMAT, "expected an object");
	expect_error("{}", ERR_FORMAT, "no \"model\"");
	expect_error("{'model':{'type':'BPE','merges':[]}}", ERR_FORMAT, "model.vocab is missing");
	expect_error("{'model':{'type':'BPE','vocab':{'a':0}}}", ERR_FORMAT, "model.merges is missing");
	expect_error(M("{}", "[]"), ERR_FORMAT, "empty");
	expect_error(M("{'a':-1}", "[]"), ERR_RANGE, "outside");
	expect_error(M("{'a':2147483648}", "[]"), ERR_RANGE, "outside");
	expect_error(M("{'a':99999999999999999999999}", "[]"), ERR_FORMAT, "too large");
	expect_error(M("{'a':1.5}", "[]"), ERR_FORMAT, "integer");
	expect_error(M("{'a':'0'}", "[]"), ERR_FORMAT, "integer");
	expect_error(M("{'a':0,'b':5000000}", "[]"), ERR_RANGE, "dense");
	expect_error(M("{'a':0,'b':0}", "[]"), ERR_FORMAT, "used by both");
	expect_error(M("{'a':0,'a':1}", "[]"), ERR_FORMAT, "appears twice");
	expect_error(M("{'a':0,'b':1}", "['a c']"), ERR_FORMAT, "\"c\" is not in model.vocab");
	expect_error(M("{'a':0,'b':1}", "['a b']"), ERR_FORMAT, "merged token \"ab\"");
	expect_error(M("{'a':0,'b':1,'ab':2}", "['ab']"), ERR_FORMAT, "one space");
	expect_error(M("{'a':0,'b':1,'ab':2}", "['a b c']"), ERR_FORMAT, "one space");
	expect_error(M("{'a':0,'b':1,'ab':2}", "[['a']]"), ERR_FORMAT, "pair");
	expect_error(M("{'a':0,'b':1,'ab':2}", "[['a','b','c']]"), ERR_FORMAT, "pair");
	expect_error(M("{'a':0,'b':1,'ab':2}", "[7]"), ERR_FORMAT, "merges");
	expect_error(M("{'a':0}", "{}"), ERR_FORMAT, "merges");
	expect_error("{'model':{'type':'BPE','vocab':{'a':0},'merges':[],'merges':[]}}", ERR_FORMAT,
		     "appears twice");
	expect_error("{'model':{'type':'BPE','vocab':{'a':0},'vocab':{'a':0},'merges':[]}}",
		     ERR_FORMAT, "appears twice");
	expect_error("{'added_tokens':[{'id':5,'content':'<x>'}]," MODEL("{'a':0}", "[]") "}",
		     ERR_FORMAT, "gives it id 1");
	expect_error("{'added_tokens':[{'id':3,'content':'a'}]," MODEL("{'a':0}", "[]") "}", ERR_FORMAT,
		     "in model.vocab");
	expect_error("{'added_tokens':[{'content':'<x>'}]," MODEL("{'a':0}", "[]") "}", ERR_FORMAT,
		     "added_tokens[0]");
	expect_error("{'added_tokens':[{'id':1}]," MODEL("{'a':0}", "[]") "}", ERR_FORMAT,
		     "added_tokens[0]");
	expect_error("{'added_tokens':[{'id':1,'content':'<x>','special':true},"
		     "{'id':1,'content':'<x>','special':false}]," MODEL("{'a':0}", "[]") "}",
		     ERR_FORMAT, "defined twice");
	expect_error("{'added_tokens':{}," MODEL("{'a':0}", "[]") "}", ERR_FORMAT, "added_tokens");
	expect_error("{'model':{'type':'BPE','unk_token':'<unk>','vocab':{'a':0},'merges':[]}}",
		     ERR_FORMAT, "unk_token");
	expect_error(M("{'a\xff':0}", "[]"), ERR_FORMAT, "UTF-8");
	expect_error(M("{'\\ud800':0}", "[]"), ERR_FORMAT, "surrogate");
	expect_error(M("{'\\uZZZZ':0}", "[]"), ERR_FORMAT, "escape");
	expect_error(M("{'a\tb':0}", "[]"), ERR_FORMAT, "control character");
	expect_error(M("{'a':0}", "[]") " x", ERR_FORMAT, "after the top-level");
	expect_error("{'model':{'type':'BPE','vocab':{'a':0},'merges':[]},'model':{}}", ERR_FORMAT,
		     "second");
	expect_error("{'pre_tokenizer':{'type':'Split','behavior':'Isolated'}," MODEL("{'a':0}", "[]") "}",
		     ERR_FORMAT, "pattern");
	expect_error("{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'[a-'},"
		     "'behavior':'Isolated'}," MODEL("{'a':0}", "[]") "}",
		     ERR_FORMAT, "does not compile");
	expect_error("{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'a'},"
		     "'behavior':'Sideways'}," MODEL("{'a':0}", "[]") "}",
		     ERR_UNSUPPORTED, "behavior");
	expect_error("{'pre_tokenizer':{'pretokenizers':[]}," MODEL("{'a':0}", "[]") "}", ERR_FORMAT,
		     "type");
	expect_error("{'pre_tokenizer':7," MODEL("{'a':0}", "[]") "}", ERR_FORMAT, "pre_tokenizer");
	expect_error("{'normalizer':{'type':'NFC'},'normalizer':7," MODEL("{'a':0}", "[]") "}",
		     ERR_FORMAT, "normalizer"); /* the last of duplicate keys counts */
	/* nesting far deeper than any tokenizer has: an error, not a stack overflow */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 64);
	size_t k = (size_t)sprintf(deep, "{'truncation':");
	memset(deep + k, '[', depth);
	memset(deep + k + depth, ']', depth);
	strcpy(deep + k + 2 * depth, "}");
	expect_error(deep, ERR_FORMAT, "nested too deeply");
	free(deep);
}

/* A small valid tokenizer.json exercising most sections. */
static const char small_json[] =
	"{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
	"\"added_tokens\":[{\"id\":7,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,"
	"\"rstrip\":false,\"normalized\":false,\"special\":true}],"
	"\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"}]},"
	"\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\","
	"\"pattern\":{\"Regex\":\"\\\\p{N}{1,3}\"},\"behavior\":\"Isolated\",\"invert\":false},"
	"{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false}]},"
	"\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},"
	"\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"vocab\":"
	"{\"a\":0,\"b\":1,\"ab\":2,\"1\":3,\"\\u0120\":4,\"\\u0120a\":5,\"x\":6},"
	"\"merges\":[\"a b\",[\"\\u0120\",\"a\"]]}}";

static void test_truncations_and_flips(void)
{
	struct err e = {0};
	struct tok *t = NULL;
	size_t n = sizeof small_json - 1;
	CHECK(tok_parse(small_json, n, "small", &t, &e) == 0, "the valid file: %s", e.msg);
	if (t) {
		struct tok_ids ids = {0};
		CHECK(tok_encode(t, "ab <s>1", 7, true, &ids, &e) == 0 && ids.n == 4 &&
			      ids.v[0] == 2 && ids.v[1] == 4 && ids.v[2] == 7 && ids.v[3] == 3,
		      "small file encodes: %zu ids", ids.n);
		tok_ids_free(&ids);
		tok_free(t);
	}
	/* every proper prefix is malformed: each must fail cleanly */
	size_t loaded = 0;
	for (size_t i = 0; i < n; i++) {
		t = NULL;
		err_clear(&e);
		int rc = tok_parse(small_json, i, "small", &t, &e);
		loaded += rc == 0;
		CHECK(rc != 0 ? e.msg[0] != '\0' : 1, "prefix %zu failed with no message", i);
		tok_free(t);
	}
	CHECK(loaded == 0, "%zu truncated files loaded", loaded);
	/* deterministic byte flips: load or fail, and a loaded one must encode */
	char *buf = malloc(n);
	uint32_t r = 7;
	size_t ok = 0;
	for (int i = 0; i < 3000; i++) {
		memcpy(buf, small_json, n);
		for (int f = 0; f < 1 + i % 3; f++) {
			r = r * 1664525u + 1013904223u;
			size_t at = (r >> 8) % n;
			r = r * 1664525u + 1013904223u;
			buf[at] = i & 1 ? (char)(r >> 24) : small_json[(r >> 8) % n];
		}
		t = NULL;
		err_clear(&e);
		if (tok_parse(buf, n, "flipped", &t, &e) == 0) {
			ok++;
			struct tok_ids ids = {0};
			int rc = tok_encode(t, "ab 12\xff<s> x", 11, true, &ids, &e);
			CHECK(rc == 0 || e.msg[0], "flip %d: encode failed with no message", i);
			tok_ids_free(&ids);
		} else {
			CHECK(e.msg[0] != '\0', "flip %d: no message", i);
		}
		tok_free(t);
	}
	printf("  3000 corrupted files: %zu still loaded and encoded, the rest failed cleanly\n",
	       ok);
	free(buf);
}

static void test_catastrophic_regex(void)
{
	struct err e = {0};
	static const char *const pats[] = {"(a+)+$", "(a|aa)+$", "(a*)*b", "(?:a|a)*c"};
	for (size_t i = 0; i < sizeof pats / sizeof *pats; i++) {
		char json[512];
		snprintf(json, sizeof json,
			 "{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'%s'},'behavior':"
			 "'Isolated'},'model':{'type':'BPE','vocab':{'a':0,'b':1,'c':2},'merges':[]}}",
			 pats[i]);
		struct tok *t = mk(json, &e);
		CHECK(t, "%s: %s", pats[i], e.msg);
		if (!t)
			continue;
		char text[4096];
		size_t n = 0;
		for (; n < 40; n++)
			text[n] = 'a';
		text[n++] = 'x'; /* not in the vocab: dropped, but breaks the match */
		struct tok_ids ids = {0};
		double t0 = now();
		int rc = tok_encode(t, text, n, false, &ids, &e);
		double dt = now() - t0;
		CHECK(rc == 0 || (rc == ERR_RANGE && strstr(e.msg, "pre_tokenizer") &&
				  strstr(e.msg, "work budget")),
		      "%s: rc %d: %s", pats[i], rc, e.msg);
		if (rc == 0)
			CHECK(ids.n == 40, "%s: %zu ids", pats[i], ids.n);
		printf("  /%s/ on a^40 x: %s in %.3f s\n", pats[i], rc ? "budget error" : "matched", dt);
		tok_ids_free(&ids);
		tok_free(t);
	}
}

/* One pcre2_match call is bounded per start position; a catastrophic pattern on text
   with many costly starts used to run for minutes per MB (each start below the limit).
   The budget per encode call ends it within seconds, naming the file and the step. */
static void test_catastrophic_regex_1mb(void)
{
	struct err e = {0};
	struct tok *t = mk("{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'(a+)+$'},"
			   "'behavior':'Isolated'},'model':{'type':'BPE','vocab':{'a':0},"
			   "'merges':[]}}",
			   &e);
	CHECK(t, "%s", e.msg);
	if (!t)
		return;
	size_t n = 1 << 20;
	char *text = malloc(n);
	for (size_t i = 0; i < n; i++)
		text[i] = i % 21 == 20 ? 'x' : 'a'; /* runs of 20: 2^20 steps at each run's start */
	struct tok_ids ids = {0};
	double t0 = now();
	int rc = tok_encode(t, text, n, false, &ids, &e);
	double dt = now() - t0;
	CHECK(rc == ERR_RANGE && strstr(e.msg, "hostile.json") && strstr(e.msg, "pre_tokenizer") &&
		      strstr(e.msg, "work budget") && strstr(e.msg, "hostile or broken"),
	      "rc %d: %s", rc, e.msg);
	CHECK(dt < 30, "%.1f s", dt); /* about 2 s; minutes before the budget */
	CHECK(ids.n == 0, "partial output: %zu ids", ids.n);
	printf("  /(a+)+$/ on 1 MB of (a^20 x)*: %s in %.2f s\n", rc ? "budget error" : "matched", dt);
	/* the same file still encodes text that does not backtrack */
	CHECK(tok_encode(t, "aaaa", 4, false, &ids, &e) == 0 && ids.n == 4, "%s", e.msg);
	tok_ids_free(&ids);
	free(text);
	tok_free(t);
}

static void test_empty_matches(void)
{
	struct err e = {0};
	struct tok *t = mk("{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'x*'},"
			   "'behavior':'Isolated'},'model':{'type':'BPE','vocab':{'a':0,'b':1,"
			   "'ab':2,'x':3,'xx':4},'merges':['a b','x x']}}",
			   &e);
	CHECK(t, "%s", e.msg);
	if (!t)
		return;
	struct tok_ids ids = {0};
	/* empty matches between characters split "ab" apart; "xx" is one match */
	CHECK(tok_encode(t, "abxxa", 5, false, &ids, &e) == 0 && ids.n == 4 && ids.v[0] == 0 &&
		      ids.v[1] == 1 && ids.v[2] == 4 && ids.v[3] == 0,
	      "x* split: %zu ids", ids.n);
	ids.n = 0;
	CHECK(tok_encode(t, NULL, 0, false, &ids, &e) == 0 && ids.n == 0, "empty text");
	char *d = NULL;
	size_t dn = 1;
	CHECK(tok_decode(t, NULL, 0, false, &d, &dn, &e) == 0 && d && dn == 0 && !*d, "empty decode");
	free(d);
	CHECK(tok_encode(NULL, "a", 1, false, &ids, &e) == ERR_USAGE, "NULL tokenizer");
	tok_ids_free(&ids);
	tok_free(t);
	tok_free(NULL);
}

int main(void)
{
	RUN(test_invalid_utf8);
	RUN(test_invalid_utf8_deepseek);
	RUN(test_nul_bytes);
	RUN(test_ten_mb_one_char);
	RUN(test_one_mb_line);
	RUN(test_threads_share_one_tokenizer);
	RUN(test_random_bytes);
	RUN(test_bad_files);
	RUN(test_truncations_and_flips);
	RUN(test_catastrophic_regex);
	RUN(test_catastrophic_regex_1mb);
	RUN(test_empty_matches);
	return check_finish();
}
