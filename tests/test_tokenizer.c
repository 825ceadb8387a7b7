/*
 * test_tokenizer.c — conformance of engine/tokenizer.h with the Hugging Face library.
 *
 * Golden files (../shared/fixtures/tokenizer, SKIP when absent):
 *   golden-plain.jsonl       DeepSeek-V3 tokenizer, parse_special = false: every line's
 *                            ids exactly, and decoding gives back "decoded";
 *   golden-special-r1.jsonl  DeepSeek-R1 tokenizer, parse_special = true;
 *   golden-chat.jsonl        the lines that give "rendered" text: encoded with
 *                            parse_special = true they give their ids;
 *   golden-plain-qwen3.jsonl, golden-plain-llama3.jsonl
 *                            the Qwen3 and Llama 3.1 tokenizers, as golden-plain.
 * Handwritten tokenizer.json strings (always run) pin each feature on its own: every
 * Split behaviour and invert, merge forms and ranks, ByteLevel add_prefix_space /
 * use_regex, added tokens with lstrip / rstrip / single_word / normalized, NFC/NFKC,
 * byte_fallback, unk / fuse_unk, ignore_merges, decode with skip_special, and the
 * errors for unsupported types. Expected ids there follow the library's rules (see the
 * comment on each case).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h" /* tok_bpe_force_path */
#include "engine/tokenizer.h"
#include "tests/byte_vocab.h"
#include "tests/check.h"

/* ---- helpers ------------------------------------------------------------------- */

/* Handwritten JSON uses ' for " to stay readable. */
static struct tok *mk(const char *squoted, struct err *e)
{
	char *s = strdup(squoted);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	struct tok *t = NULL;
	err_clear(e);
	tok_parse(s, strlen(s), "test.json", &t, e);
	free(s);
	return t;
}

static bool ids_eq(const struct tok_ids *got, const int32_t *want, size_t n)
{
	return got->n == n && (n == 0 || !memcmp(got->v, want, n * sizeof *want));
}

static void ids_str(const int32_t *v, size_t n, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && k + 16 < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, i ? ",%d" : "%d", (int)v[i]);
	if (n && k + 16 >= cap)
		snprintf(buf + k, cap - k, ",...");
}

/* Encodes `text` and checks the ids; reports the case on failure. */
#define EXPECT_IDS(t, text, special, ...)                                                  \
	do {                                                                               \
		const int32_t want_[] = {__VA_ARGS__};                                     \
		expect_ids(t, text, sizeof(text) - 1, special, want_,                      \
			   sizeof want_ / sizeof want_[0], __LINE__);                      \
	} while (0)

static void expect_ids(const struct tok *t, const char *text, size_t len, bool special,
		       const int32_t *want, size_t n, int line)
{
	struct tok_ids ids = {0};
	struct err e = {0};
	int rc = tok_encode(t, text, len, special, &ids, &e);
	char g[256], w[256];
	ids_str(ids.v, ids.n, g, sizeof g);
	ids_str(want, n, w, sizeof w);
	CHECK(rc == 0 && ids_eq(&ids, want, n), "line %d: \"%s\": got [%s] (%s), want [%s]", line,
	      text, g, rc ? e.msg : "ok", w);
	tok_ids_free(&ids);
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

/* ---- golden files ---------------------------------------------------------------- */

/* Runs one golden file; returns matched / total through pointers. */
static void run_golden(const char *tok_rel, const char *gold_rel, bool special, bool check_decode,
		       size_t *matched, size_t *total)
{
	*matched = *total = 0;
	char *tp = fixture_path(tok_rel), *gp = fixture_path(gold_rel);
	struct err e = {0};
	struct tok *t = NULL;
	FILE *f = NULL;
	if (tok_load(tp, &t, &e)) {
		CHECK(0, "loading %s: %s", tp, e.msg);
		goto out;
	}
	f = fopen(gp, "r");
	CHECK(f != NULL, "cannot open %s", gp);
	if (!f)
		goto out;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int shown = 0;
	while ((got = getline(&line, &cap, f)) > 0) {
		json_error_t je;
		json_t *o = json_loadb(line, (size_t)got, 0, &je);
		CHECK(o != NULL, "%s line %zu: %s", gold_rel, *total + 1, je.text);
		if (!o)
			continue;
		(*total)++;
		json_t *jt = json_object_get(o, "text"), *ji = json_object_get(o, "ids");
		json_t *jd = json_object_get(o, "decoded");
		const char *text = json_string_value(jt);
		size_t tn = json_string_length(jt), n = json_array_size(ji);
		int32_t *want = malloc((n ? n : 1) * sizeof *want);
		for (size_t i = 0; i < n; i++)
			want[i] = (int32_t)json_integer_value(json_array_get(ji, i));
		struct tok_ids ids = {0};
		int rc = tok_encode(t, text, tn, special, &ids, &e);
		bool ok = rc == 0 && ids_eq(&ids, want, n);
		if (ok && check_decode && jd) {
			char *dec = NULL;
			size_t dn = 0;
			rc = tok_decode(t, ids.v, ids.n, false, &dec, &dn, &e);
			ok = rc == 0 && dn == json_string_length(jd) &&
			     !memcmp(dec, json_string_value(jd), dn);
			CHECK(ok, "%s line %zu: decode differs", gold_rel, *total);
			free(dec);
		}
		if (ok) {
			(*matched)++;
		} else if (shown++ < 5) {
			char g[512], w[512];
			ids_str(ids.v, ids.n, g, sizeof g);
			ids_str(want, n, w, sizeof w);
			CHECK(0, "%s line %zu: %.60s\n    got  [%s]\n    want [%s]", gold_rel, *total,
			      text, g, w);
		}
		tok_ids_free(&ids);
		free(want);
		json_decref(o);
	}
	free(line);
out:
	if (f)
		fclose(f);
	tok_free(t);
	free(tp);
	free(gp);
}

static void test_golden_plain(void)
{
	if (!check_fixtures()) {
		SKIP("no ../shared/fixtures");
		return;
	}
	size_t m, n;
	run_golden("tokenizer/deepseek-v3/tokenizer.json", "tokenizer/golden-plain.jsonl", false, true,
		   &m, &n);
	printf("  golden-plain: %zu/%zu lines matched (ids and decode)\n", m, n);
	CHECK(n > 200 && m == n, "%zu of %zu lines matched", m, n);
}

static void test_golden_special_r1(void)
{
	if (!check_fixtures()) {
		SKIP("no ../shared/fixtures");
		return;
	}
	size_t m, n;
	run_golden("tokenizer/deepseek-r1/tokenizer.json", "tokenizer/golden-special-r1.jsonl", true,
		   true, &m, &n);
	printf("  golden-special-r1: %zu/%zu lines matched\n", m, n);
	CHECK(n >= 6 && m == n, "%zu of %zu lines matched", m, n);
}

/* The R1 distills' tokenizers (issue 18): Qwen3's (NFC, Qwen's split regex) and Llama
   3.1's (\p{N}{1,3}, ignore_merges), each against the Hugging Face library's ids and
   decode of the same lines. */
static void test_golden_distill_tokenizers(void)
{
	if (!check_fixtures()) {
		SKIP("no ../shared/fixtures");
		return;
	}
	static const char *const tok[][2] = {
		{"tokenizer/qwen3/tokenizer.json", "tokenizer/golden-plain-qwen3.jsonl"},
		{"tokenizer/llama3_1/tokenizer.json", "tokenizer/golden-plain-llama3.jsonl"},
	};
	for (size_t i = 0; i < sizeof tok / sizeof *tok; i++) {
		size_t m, n;
		run_golden(tok[i][0], tok[i][1], false, true, &m, &n);
		printf("  %s: %zu/%zu lines matched (ids and decode)\n", tok[i][1], m, n);
		CHECK(n > 100 && m == n, "%s: %zu of %zu lines matched", tok[i][1], m, n);
	}
}

/* golden-chat.jsonl: where a line gives the rendered template text, encoding it with
   parse_special = true gives its ids (the scaffolding's added tokens, as the chat
   template will do). Lines without "rendered" are the chat template's own tests. */
static void test_golden_chat_rendered(void)
{
	char *p3 = fixture_path("tokenizer/deepseek-v3/tokenizer.json");
	if (!p3) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char *p1 = fixture_path("tokenizer/deepseek-r1/tokenizer.json");
	char *gp = fixture_path("tokenizer/golden-chat.jsonl");
	struct err e = {0};
	struct tok *t3 = NULL, *t1 = NULL;
	CHECK(tok_load(p3, &t3, &e) == 0 && tok_load(p1, &t1, &e) == 0, "%s", e.msg);
	FILE *f = fopen(gp, "r");
	CHECK(f != NULL, "cannot open %s", gp);
	size_t total = 0, matched = 0;
	char *line = NULL;
	size_t cap = 0;
	while (f && t1 && t3 && getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		json_t *r = json_object_get(o, "rendered"), *ji = json_object_get(o, "ids");
		const char *tpl = json_string_value(json_object_get(o, "template"));
		if (json_is_string(r) && tpl && json_is_array(ji)) {
			total++;
			struct tok_ids ids = {0};
			int rc = tok_encode(strstr(tpl, "r1") ? t1 : t3, json_string_value(r),
					    json_string_length(r), true, &ids, &e);
			bool ok = rc == 0 && ids.n == json_array_size(ji);
			for (size_t k = 0; ok && k < ids.n; k++)
				ok = ids.v[k] == json_integer_value(json_array_get(ji, k));
			matched += ok;
			CHECK(ok, "golden-chat line %zu (%s) differs", total, tpl);
			tok_ids_free(&ids);
		}
		json_decref(o);
	}
	printf("  golden-chat: %zu/%zu rendered lines matched\n", matched, total);
	CHECK(total >= 10, "only %zu lines with rendered text", total);
	free(line);
	if (f)
		fclose(f);
	tok_free(t1);
	tok_free(t3);
	free(p1);
	free(p3);
	free(gp);
}

/* The R1 tokenizer: special-looking text stays plain without parse_special, and the
   lookups the chat template relies on. */
static void test_deepseek_lookups(void)
{
	char *tp = fixture_path("tokenizer/deepseek-r1/tokenizer.json");
	if (!tp) {
		SKIP("no ../shared/fixtures");
		return;
	}
	struct err e = {0};
	struct tok *t = NULL;
	CHECK(tok_load(tp, &t, &e) == 0, "%s", e.msg);
	free(tp);
	if (!t)
		return;
	CHECK(tok_vocab_size(t) == 128815, "vocab size %zu", tok_vocab_size(t));
	CHECK(tok_added_id(t, "<think>") == 128798, "<think> -> %d", tok_added_id(t, "<think>"));
	CHECK(tok_added_id(t, "</think>") == 128799, "</think>");
	CHECK(tok_added_id(t, "<｜begin▁of▁sentence｜>") == 0, "BOS");
	CHECK(tok_added_id(t, "<nope>") == -1, "unknown content");
	CHECK(tok_is_special(t, 0) && tok_is_special(t, 1) && !tok_is_special(t, 128803) &&
		      !tok_is_special(t, 19923) && !tok_is_special(t, -1) &&
		      !tok_is_special(t, 1 << 30),
	      "special flags");
	size_t n;
	const char *b = tok_token_bytes(t, 19923, &n);
	CHECK(b && n == 5 && !memcmp(b, "Hello", 5), "bytes of 19923");
	b = tok_token_bytes(t, 128798, &n);
	CHECK(b && n == 7 && !memcmp(b, "<think>", 7), "bytes of <think>");
	CHECK(!tok_token_bytes(t, 128815, &n) && !tok_token_bytes(t, -5, &n), "out of range");
	CHECK(!tok_token_bytes(t, 128790, &n) || n > 0, "placeholder ids");
	/* without parse_special, "<think>" is three ordinary tokens (golden-plain agrees) */
	struct tok_ids ids = {0};
	CHECK(tok_encode(t, "<think>", 7, false, &ids, &e) == 0 && ids.n > 1 &&
		      ids.v[0] != 128798,
	      "plain <think> encoded as %zu ids", ids.n);
	ids.n = 0;
	CHECK(tok_encode(t, "<think>", 7, true, &ids, &e) == 0 && ids.n == 1 && ids.v[0] == 128798,
	      "special <think>");
	/* decode with and without special tokens */
	const int32_t seq[] = {0, 19923, 1};
	char *s = NULL;
	size_t sl;
	CHECK(tok_decode(t, seq, 3, true, &s, &sl, &e) == 0 && sl == 5 && !strcmp(s, "Hello"),
	      "skip_special decode");
	free(s);
	CHECK(tok_decode(t, seq, 3, false, &s, &sl, &e) == 0 &&
		      !strcmp(s, "<｜begin▁of▁sentence｜>Hello<｜end▁of▁sentence｜>"),
	      "decode with special: %s", s ? s : "(null)");
	free(s);
	const int32_t bad[] = {19923, 999999};
	CHECK(tok_decode(t, bad, 2, false, &s, &sl, &e) == ERR_RANGE && !s &&
		      strstr(e.msg, "999999"),
	      "decode of an unknown id: %s", e.msg);
	tok_ids_free(&ids);
	tok_free(t);
}

/* ---- handwritten tokenizers ------------------------------------------------------ */

/* Char-level BPE (no ByteLevel): a b - and merges, one pre-tokenizer. */
#define SPLIT_VOCAB "'vocab':{'a':0,'b':1,'-':2,'a-':3,'-b':4,'--':5,'ab':6}"
#define SPLIT_MERGES "'merges':['a -','- b','- -','a b']"

static struct tok *split_tok(const char *pattern, const char *behavior, bool invert)
{
	char json[1024];
	snprintf(json, sizeof json,
		 "{'model':{'type':'BPE'," SPLIT_VOCAB "," SPLIT_MERGES "},"
		 "'pre_tokenizer':{'type':'Split','pattern':%s,'behavior':'%s','invert':%s}}",
		 pattern, behavior, invert ? "true" : "false");
	struct err e = {0};
	struct tok *t = mk(json, &e);
	CHECK(t != NULL, "%s %s: %s", pattern, behavior, e.msg);
	return t;
}

static void test_split_behaviors(void)
{
	struct err e = {0};
	struct tok *t = mk("{'model':{'type':'BPE'," SPLIT_VOCAB "," SPLIT_MERGES "}}", &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		/* no pre-tokenizer: (a,-) has the lowest rank, then a- b has no merge */
		EXPECT_IDS(t, "a-b", false, 3, 1);
		EXPECT_IDS(t, "ab", false, 6);
		EXPECT_IDS(t, "", false);
		tok_free(t);
	}
	const char *dash = "{'String':'-'}";
	if ((t = split_tok(dash, "Isolated", false))) {
		EXPECT_IDS(t, "a-b", false, 0, 2, 1);
		EXPECT_IDS(t, "a--b", false, 0, 2, 2, 1);
		tok_free(t);
	}
	if ((t = split_tok(dash, "Removed", false))) {
		EXPECT_IDS(t, "a-b", false, 0, 1); /* a and b stay apart: no "ab" */
		EXPECT_IDS(t, "--", false);
		tok_free(t);
	}
	if ((t = split_tok(dash, "MergedWithPrevious", false))) {
		EXPECT_IDS(t, "a-b", false, 3, 1);
		EXPECT_IDS(t, "a--b", false, 3, 2, 1);
		tok_free(t);
	}
	if ((t = split_tok(dash, "MergedWithNext", false))) {
		EXPECT_IDS(t, "a-b", false, 0, 4);
		EXPECT_IDS(t, "a--b", false, 0, 2, 4);
		tok_free(t);
	}
	if ((t = split_tok(dash, "Contiguous", false))) {
		EXPECT_IDS(t, "a--b", false, 0, 5, 1);
		EXPECT_IDS(t, "a-b-", false, 0, 2, 1, 2);
		tok_free(t);
	}
	/* invert: the non-matches become the delimiters */
	if ((t = split_tok(dash, "Removed", true))) {
		EXPECT_IDS(t, "a-b", false, 2);
		EXPECT_IDS(t, "a--b", false, 2, 2); /* two separate matches, two pieces */
		tok_free(t);
	}
	if ((t = split_tok(dash, "MergedWithPrevious", true))) {
		/* segments a(m) -(n) b(m): "a" then "-" has no match before it... */
		EXPECT_IDS(t, "a-b", false, 0, 4);
		tok_free(t);
	}
	/* a regex pattern, and a String pattern with regex characters taken literally */
	if ((t = split_tok("{'Regex':'-+'}", "Isolated", false))) {
		EXPECT_IDS(t, "a--b", false, 0, 5, 1);
		tok_free(t);
	}
	if ((t = split_tok("{'String':'a+'}", "Removed", false))) {
		EXPECT_IDS(t, "aab", false, 0, 6); /* "a+" never occurs literally */
		EXPECT_IDS(t, "a+b", false, 1); /* the literal "a+" is removed */
		tok_free(t);
	}
}

static void test_merge_forms(void)
{
	struct err e = {0};
	const char *vocab = "'vocab':{'a':0,'b':1,'c':2,'ab':3,'bc':4,'abc':5}";
	char json[512];
	/* string form, rank = order: (b,c) first, then (a,bc) */
	snprintf(json, sizeof json, "{'model':{'type':'BPE',%s,'merges':['b c','a b','a bc']}}",
		 vocab);
	struct tok *t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 5);
		EXPECT_IDS(t, "ab", false, 3);
		tok_free(t);
	}
	snprintf(json, sizeof json,
		 "{'model':{'type':'BPE',%s,'merges':[['a','b'],['b','c']]}}", vocab);
	t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 3, 2);
		tok_free(t);
	}
	snprintf(json, sizeof json,
		 "{'model':{'type':'BPE',%s,'merges':[['b','c'],['a','b']]}}", vocab);
	t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 0, 4);
		EXPECT_IDS(t, "abcabc", false, 0, 4, 0, 4);
		tok_free(t);
	}
	snprintf(json, sizeof json,
		 "{'model':{'type':'BPE',%s,'merges':['#version: 0.2','b c','a b']}}", vocab);
	t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 0, 4); /* "#version" lines are not merges */
		tok_free(t);
	}
	/* merges written before the vocab are read once the vocab is known */
	snprintf(json, sizeof json, "{'model':{'merges':['b c','a b'],'type':'BPE',%s}}", vocab);
	t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 0, 4);
		tok_free(t);
	}
	/* continuing_subword_prefix after the merges changes what they produce */
	t = mk("{'model':{'type':'BPE','vocab':{'a':0,'##b':1,'ab':2,'b':3},'merges':['a ##b'],"
	       "'continuing_subword_prefix':'##'}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "ab", false, 2); /* a + ##b -> "ab" (prefix stripped) */
		EXPECT_IDS(t, "b", false, 3);  /* the first symbol has no prefix */
		tok_free(t);
	}
	/* a long word takes the heap path: same rule as the short one */
	snprintf(json, sizeof json,
		 "{'model':{'type':'BPE',%s,'merges':[['b','c'],['a','b']]}}", vocab);
	t = mk(json, &e);
	if (t) {
		char text[301];
		int32_t want[200];
		for (int i = 0; i < 100; i++) {
			memcpy(text + 3 * i, "abc", 3);
			want[2 * i] = 0;
			want[2 * i + 1] = 4;
		}
		text[300] = '\0';
		expect_ids(t, text, 300, false, want, 200, __LINE__);
		tok_free(t);
	}
}

/* Byte-level vocabulary: the 256 byte characters as ids 0..255 (id = byte value),
   then extra tokens. */
static char *byte_vocab_json(const char *extra_vocab, const char *merges, const char *pretok,
			     const char *added)
{
	size_t cap = 16384;
	char *j = malloc(cap);
	size_t k = (size_t)snprintf(j, cap, "{'added_tokens':%s,'model':{'type':'BPE','vocab':{",
				    added ? added : "[]");
	k = put_byte_vocab(j, cap, k, '\'');
	k += (size_t)snprintf(j + k, cap - k, "%s%s},'merges':[%s]},'pre_tokenizer':%s,"
				       "'decoder':{'type':'ByteLevel'}}",
			      extra_vocab[0] ? "," : "", extra_vocab, merges, pretok);
	return j;
}

static struct tok *byte_tok(const char *extra_vocab, const char *merges, const char *pretok,
			    const char *added)
{
	char *j = byte_vocab_json(extra_vocab, merges, pretok, added);
	struct err e = {0};
	struct tok *t = mk(j, &e);
	CHECK(t, "%s", e.msg);
	free(j);
	return t;
}

#define G "\\u0120" /* Ġ, the byte-level space */

static void test_bytelevel_prefix_space(void)
{
	const char *vocab = "'" G "a':256,'" G "b':257";
	const char *merges = "'" G " a','" G " b'";
	struct tok *t = byte_tok(vocab, merges,
				 "{'type':'ByteLevel','add_prefix_space':true,'use_regex':false}",
				 NULL);
	if (t) {
		EXPECT_IDS(t, "a", false, 256);
		EXPECT_IDS(t, " a", false, 256);
		EXPECT_IDS(t, "aa", false, 256, 'a');
		EXPECT_IDS(t, "\ta", false, ' ', '\t', 'a'); /* only a space counts as a prefix */
		char *s = NULL;
		size_t n;
		struct err e = {0};
		const int32_t ids[] = {256, 257, '!'};
		CHECK(tok_decode(t, ids, 3, false, &s, &n, &e) == 0 && n == 5 && !strcmp(s, " a b!"),
		      "byte-level decode");
		free(s);
		tok_free(t);
	}
	t = byte_tok(vocab, merges, "{'type':'ByteLevel','add_prefix_space':false,'use_regex':false}",
		     NULL);
	if (t) {
		EXPECT_IDS(t, "a", false, 'a');
		EXPECT_IDS(t, "a b", false, 'a', 257);
		tok_free(t);
	}
	/* use_regex: the GPT-2 pattern splits first; the prefix goes on each piece */
	t = byte_tok(vocab, merges, "{'type':'ByteLevel','add_prefix_space':true,'use_regex':true}",
		     NULL);
	if (t) {
		EXPECT_IDS(t, "a b", false, 256, 257);
		EXPECT_IDS(t, "a  b", false, 256, ' ', 257);
		EXPECT_IDS(t, "ab", false, 256, 'b');
		tok_free(t);
	}
	t = byte_tok(vocab, merges,
		     "{'type':'Sequence','pretokenizers':[{'type':'Digits','individual_digits':true},"
		     "{'type':'ByteLevel','add_prefix_space':true,'use_regex':false}]}",
		     NULL);
	if (t) {
		/* Digits splits "a1" into "a" and "1"; each piece gets its own space */
		EXPECT_IDS(t, "a1", false, 256, ' ', '1');
		tok_free(t);
	}
	/* every byte encodes and decodes, including NUL and invalid UTF-8 */
	t = byte_tok("", "", "{'type':'ByteLevel','add_prefix_space':false,'use_regex':true}", NULL);
	if (t) {
		char all[256];
		for (int i = 0; i < 256; i++)
			all[i] = (char)i;
		struct tok_ids ids = {0};
		struct err e = {0};
		CHECK(tok_encode(t, all, 256, false, &ids, &e) == 0 && ids.n == 256, "%s", e.msg);
		for (size_t i = 0; i < ids.n; i++)
			CHECK(ids.v[i] == (int32_t)i, "byte %zu -> %d", i, ids.v[i]);
		char *s = NULL;
		size_t n = 0;
		CHECK(tok_decode(t, ids.v, ids.n, false, &s, &n, &e) == 0 && n == 256 &&
			      !memcmp(s, all, 256),
		      "all bytes round-trip");
		free(s);
		tok_ids_free(&ids);
		tok_free(t);
	}
}

static void test_added_tokens(void)
{
	const char *added =
		"[{'id':258,'content':'<x>','lstrip':true,'rstrip':false,'single_word':false,"
		"'normalized':false,'special':true},"
		"{'id':259,'content':'<y>','lstrip':false,'rstrip':true,'single_word':false,"
		"'normalized':false,'special':false},"
		"{'id':260,'content':'ab','lstrip':false,'rstrip':false,'single_word':true,"
		"'normalized':false,'special':false},"
		"{'id':261,'content':'<x>>','normalized':false,'special':false},"
		"{'id':262,'content':'<z>','normalized':true,'special':false}]";
	struct tok *t = byte_tok("'" G "a':256,'" G "b':257", "'" G " a','" G " b'",
				 "{'type':'ByteLevel','add_prefix_space':false,'use_regex':true}",
				 added);
	if (!t)
		return;
	/* lstrip swallows the spaces before <x>; rstrip the ones after <y> */
	EXPECT_IDS(t, "a  <x>b", true, 'a', 258, 'b');
	EXPECT_IDS(t, "a<y>  b", true, 'a', 259, 'b');
	EXPECT_IDS(t, "a <y> b", true, 'a', ' ', 259, 'b');
	/* lstrip stops at the previous match */
	EXPECT_IDS(t, "<y> <x>", true, 259, 258);
	/* single_word: only where no word character touches it */
	EXPECT_IDS(t, "ab", true, 260);
	EXPECT_IDS(t, "a ab.", true, 'a', ' ', 260, '.');
	EXPECT_IDS(t, "cab", true, 'c', 'a', 'b');
	EXPECT_IDS(t, "ab_", true, 'a', 'b', '_');
	/* longest match at the leftmost position */
	EXPECT_IDS(t, "<x>>", true, 261);
	/* a normalized token (no normalizer here) is found too */
	EXPECT_IDS(t, "a<z>", true, 'a', 262);
	/* without parse_special all of it is text */
	EXPECT_IDS(t, "<x>", false, '<', 'x', '>');
	EXPECT_IDS(t, "ab", false, 'a', 'b');
	/* decode: special dropped on request, non-special kept */
	const int32_t seq[] = {258, 259, 'q'};
	char *s = NULL;
	size_t n;
	struct err e = {0};
	CHECK(tok_decode(t, seq, 3, true, &s, &n, &e) == 0 && !strcmp(s, "<y>q"), "skip special");
	free(s);
	CHECK(tok_is_special(t, 258) && !tok_is_special(t, 259), "special flags");
	CHECK(tok_added_id(t, "<x>") == 258 && tok_added_id(t, "ab") == 260, "added ids");
	CHECK(tok_vocab_size(t) == 263, "vocab size %zu", tok_vocab_size(t));
	tok_free(t);
}

static void test_normalizers(void)
{
	struct err e = {0};
	/* NFC: e + combining acute becomes é, which is one vocab entry */
	struct tok *t = mk("{'normalizer':{'type':'Sequence','normalizers':[{'type':'NFC'}]},"
			   "'model':{'type':'BPE','vocab':{'e':0,'\\u00e9':1,'\\u0301':2},'merges':[]}}",
			   &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "e\xcc\x81", false, 1);
		EXPECT_IDS(t, "\xc3\xa9", false, 1);
		tok_free(t);
	}
	/* NFKC, and a normalized added token matched after normalization while a
	   non-normalized one is matched on the raw text */
	t = mk("{'normalizer':{'type':'NFKC'},"
	       "'added_tokens':[{'id':3,'content':'\\ufb01x','normalized':true,'special':false},"
	       "{'id':4,'content':'\\ufb01y','normalized':false,'special':false}],"
	       "'model':{'type':'BPE','vocab':{'f':0,'i':1,'y':2},'merges':[]}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "\xef\xac\x81", false, 0, 1);  /* ﬁ -> f i */
		EXPECT_IDS(t, "fix", true, 3);               /* normalized content "fix" */
		EXPECT_IDS(t, "\xef\xac\x81x", true, 3);     /* ﬁx normalizes to fix */
		EXPECT_IDS(t, "\xef\xac\x81y", true, 4);     /* raw match before normalizing */
		EXPECT_IDS(t, "fiy", true, 0, 1, 2);         /* not the raw content */
		tok_free(t);
	}
}

static void test_fallback_unk_ignore_merges(void)
{
	struct err e = {0};
	/* byte_fallback: é (C3 A9) is not in the vocab, its bytes are */
	struct tok *t = mk("{'model':{'type':'BPE','byte_fallback':true,"
			   "'vocab':{'a':0,'<0xC3>':1,'<0xA9>':2},'merges':[]}}",
			   &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "a\xc3\xa9", false, 0, 1, 2);
		char *s = NULL;
		size_t n;
		const int32_t ids[] = {0, 1, 2};
		CHECK(tok_decode(t, ids, 3, false, &s, &n, &e) == 0 && n == 3 &&
			      !memcmp(s, "a\xc3\xa9", 3),
		      "byte fallback decodes to bytes");
		free(s);
		tok_free(t);
	}
	t = mk("{'model':{'type':'BPE','unk_token':'[U]','fuse_unk':false,"
	       "'vocab':{'a':0,'[U]':1},'merges':[]}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "a\xc3\xa9\xc3\xa9" "a", false, 0, 1, 1, 0);
		tok_free(t);
	}
	t = mk("{'model':{'type':'BPE','unk_token':'[U]','fuse_unk':true,"
	       "'vocab':{'a':0,'[U]':1},'merges':[]}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "a\xc3\xa9\xc3\xa9" "a", false, 0, 1, 0);
		tok_free(t);
	}
	/* without unk the library drops unknown characters */
	t = mk("{'model':{'type':'BPE','vocab':{'a':0},'merges':[]}}", &e);
	if (t) {
		EXPECT_IDS(t, "xax", false, 0);
		tok_free(t);
	}
	/* ignore_merges: a word in the vocab is one token even without a merge path */
	t = mk("{'model':{'type':'BPE','ignore_merges':true,"
	       "'vocab':{'a':0,'b':1,'c':2,'abc':3},'merges':[]}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "abc", false, 3);
		EXPECT_IDS(t, "abca", false, 0, 1, 2, 0);
		tok_free(t);
	}
}

static void expect_error(const char *json, int code, const char *needle)
{
	struct err e = {0};
	struct tok *t = mk(json, &e);
	CHECK(!t && e.code == code && strstr(e.msg, needle), "want error %d naming '%s', got %d: %s",
	      code, needle, e.code, t ? "(loaded)" : e.msg);
	tok_free(t);
}

static void test_unsupported_types(void)
{
	expect_error("{'model':{'type':'Unigram','vocab':[]}}", ERR_UNSUPPORTED, "Unigram");
	expect_error("{'normalizer':{'type':'Lowercase'},'model':{'type':'BPE','vocab':{'a':0},"
		     "'merges':[]}}",
		     ERR_UNSUPPORTED, "Lowercase");
	expect_error("{'pre_tokenizer':{'type':'Metaspace'},'model':{'type':'BPE','vocab':{'a':0},"
		     "'merges':[]}}",
		     ERR_UNSUPPORTED, "Metaspace");
	expect_error("{'pre_tokenizer':{'type':'Sequence','pretokenizers':[{'type':'ByteLevel'},"
		     "{'type':'Digits'}]},'model':{'type':'BPE','vocab':{'a':0},'merges':[]}}",
		     ERR_UNSUPPORTED, "ByteLevel");
	expect_error("{'decoder':{'type':'WordPiece'},'model':{'type':'BPE','vocab':{'a':0},"
		     "'merges':[]}}",
		     ERR_UNSUPPORTED, "WordPiece");
	expect_error("{'model':{'type':'BPE','dropout':0.1,'vocab':{'a':0},'merges':[]}}",
		     ERR_UNSUPPORTED, "dropout");
	expect_error("{'pre_tokenizer':{'type':'Split','pattern':{'Regex':'(a'},"
		     "'behavior':'Isolated'},'model':{'type':'BPE','vocab':{'a':0},'merges':[]}}",
		     ERR_FORMAT, "pre_tokenizer");
}

static void test_other_pretokenizers(void)
{
	struct err e = {0};
	struct tok *t = mk("{'pre_tokenizer':{'type':'Whitespace'},'model':{'type':'BPE',"
			   "'vocab':{'a':0,'b':1,'.':2,'ab':3,' ':4},'merges':['a b']}}",
			   &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "ab ab.", false, 3, 3, 2);
		tok_free(t);
	}
	t = mk("{'pre_tokenizer':{'type':'WhitespaceSplit'},'model':{'type':'BPE',"
	       "'vocab':{'a':0,'b':1,'.':2,'ab':3},'merges':['a b']}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, " ab\tab. ", false, 3, 3, 2);
		tok_free(t);
	}
	t = mk("{'pre_tokenizer':{'type':'Punctuation','behavior':'Isolated'},'model':{'type':'BPE',"
	       "'vocab':{'a':0,'b':1,'.':2,'ab':3,'b.':4},'merges':['b .','a b']}}",
	       &e);
	CHECK(t, "%s", e.msg);
	if (t) {
		EXPECT_IDS(t, "ab.", false, 3, 2);
		tok_free(t);
	}
}


/* The three merge loops (small scan, heap, rank buckets) must agree exactly. */
static bool paths_agree(const struct tok *t, const char *s, size_t n, const char *what)
{
	struct tok_ids a = {0}, b = {0};
	struct err e = {0};
	bool ok = true;
	int base = n <= 48 ? 1 : 2, other = n <= 48 ? 2 : 3;
	tok_bpe_force_path = base;
	ok = tok_encode(t, s, n, false, &a, &e) == 0;
	tok_bpe_force_path = other;
	ok = ok && tok_encode(t, s, n, false, &b, &e) == 0;
	tok_bpe_force_path = 0;
	ok = ok && a.n == b.n && !memcmp(a.v, b.v, a.n * sizeof *a.v);
	CHECK(ok, "%s (%zu bytes): path %d gives %zu ids, path %d gives %zu", what, n, base, a.n,
	      other, b.n);
	tok_ids_free(&a);
	tok_ids_free(&b);
	return ok;
}

static uint32_t lcg(uint32_t *r)
{
	*r = *r * 1664525u + 1013904223u;
	return *r >> 8;
}

static void test_merge_paths_agree(void)
{
	/* a consistent random merge table over {a,b,c}: each merge joins two existing
	   tokens, so it is monotone and the bucket path applies */
	char json[65536];
	char toks[400][16];
	size_t nt = 3, k = 0;
	strcpy(toks[0], "a");
	strcpy(toks[1], "b");
	strcpy(toks[2], "c");
	char merges[32768];
	size_t mk_ = 0;
	uint32_t r = 42;
	for (int tries = 0; nt < 300 && tries < 100000; tries++) {
		size_t u = lcg(&r) % nt, v = lcg(&r) % nt;
		if (strlen(toks[u]) + strlen(toks[v]) > 12)
			continue;
		char cat[32];
		snprintf(cat, sizeof cat, "%s%s", toks[u], toks[v]);
		bool dup = false;
		for (size_t i = 0; i < nt && !dup; i++)
			dup = !strcmp(toks[i], cat);
		if (dup)
			continue;
		strcpy(toks[nt++], cat);
		mk_ += (size_t)snprintf(merges + mk_, sizeof merges - mk_, "%s'%s %s'", mk_ ? "," : "",
					toks[u], toks[v]);
	}
	k = (size_t)snprintf(json, sizeof json, "{'model':{'type':'BPE','vocab':{");
	for (size_t i = 0; i < nt; i++)
		k += (size_t)snprintf(json + k, sizeof json - k, "%s'%s':%zu", i ? "," : "", toks[i], i);
	snprintf(json + k, sizeof json - k, "},'merges':[%s]}}", merges);
	struct err e = {0};
	struct tok *t = mk(json, &e);
	CHECK(t, "%s", e.msg);
	if (!t)
		return;
	CHECK(t->merges_monotone, "random table should be monotone");
	char *w = malloc(9000);
	int bad = 0;
	for (int i = 0; i < 300 && bad < 3; i++) {
		size_t n = i < 200 ? 2 + lcg(&r) % 47 : 4096 + lcg(&r) % 4000;
		for (size_t j = 0; j < n; j++)
			w[j] = "abc"[lcg(&r) % (i % 3 == 0 ? 2 : 3)];
		bad += !paths_agree(t, w, n, "random abc word");
	}
	tok_free(t);
	/* DeepSeek: long letter, CJK and space runs are single pre-tokens */
	char *tp = fixture_path("tokenizer/deepseek-v3/tokenizer.json");
	if (tp && tok_load(tp, &t, &e) == 0) {
		static const char *const cjk[] = {"你", "好", "世", "界", "的", "是", "一", "人"};
		for (int i = 0; i < 60 && bad < 6; i++) {
			size_t n = 0, want = i < 30 ? 2 + lcg(&r) % 46 : 4100 + lcg(&r) % 3000;
			while (n < want) {
				if (i % 3 == 0) {
					w[n++] = "etaoinshrdlu"[lcg(&r) % 12];
				} else if (i % 3 == 1 && n + 3 <= want) {
					memcpy(w + n, cjk[lcg(&r) % 8], 3);
					n += 3;
				} else if (i % 3 == 1) {
					break;
				} else {
					w[n++] = " \t"[lcg(&r) % 8 == 0];
				}
			}
			bad += !paths_agree(t, w, n, i % 3 == 0 ? "letters" : i % 3 == 1 ? "CJK" : "spaces");
		}
		tok_free(t);
	}
	free(tp);
	free(w);
}

int main(void)
{
	RUN(test_golden_plain);
	RUN(test_golden_special_r1);
	RUN(test_golden_distill_tokenizers);
	RUN(test_golden_chat_rendered);
	RUN(test_deepseek_lookups);
	RUN(test_split_behaviors);
	RUN(test_merge_forms);
	RUN(test_merge_paths_agree);
	RUN(test_bytelevel_prefix_space);
	RUN(test_added_tokens);
	RUN(test_normalizers);
	RUN(test_fallback_unk_ignore_merges);
	RUN(test_unsupported_types);
	RUN(test_other_pretokenizers);
	return check_finish();
}
