/*
 * test_stream.c — the streaming detokenizer (engine/detok_stream.c) and the
 * reasoning/answer splitter (engine/channels.c).
 *
 * Most tests run on a tiny handwritten byte-level tokenizer built here (ids 0..255 are
 * the single bytes, multi-byte tokens are added with their merge chains, <think> and
 * </think> are added tokens in one variant and absent in the other), so they need no
 * fixtures. The last tests use the real DeepSeek R1 / V3 tokenizers when
 * ../shared/fixtures is present.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/channels.h"
#include "engine/detok_stream.h"
#include "engine/tokenizer.h"
#include "tests/check.h"

/* ---- tiny tokenizer ---- */

/* normalizer, pre_tokenizer, post_processor and decoder of DeepSeek's tokenizer.json */
static const char tiny_pipeline[] =
	"{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": []}, \"pre_tokenize"
	"r\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"patt"
	"ern\": {\"Regex\": \"\\\\p{N}{1,3}\"}, \"behavior\": \"Isolated\", \"invert\":"
	" false}, {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[\\u4e00-\\u9fa5\\u3"
	"040-\\u309f\\u30a0-\\u30ff]+\"}, \"behavior\": \"Isolated\", \"invert\": false"
	"}, {\"type\": \"Split\", \"pattern\": {\"Regex\": \"[!\\\"#$%&'()*+,\\\\-./:;<"
	"=>?@\\\\[\\\\\\\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\\\p{L}\\\\p{P}\\\\p{S}]?[\\\\p"
	"{L}\\\\p{M}]+| ?[\\\\p{P}\\\\p{S}]+[\\r\\n]*|\\\\s*[\\r\\n]+|\\\\s+(?!\\\\S)|\\\\s"
	"+\"}, \"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\""
	", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]}"
	", \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \""
	"trim_offsets\": false, \"use_regex\": true}, \"decoder\": {\"type\": \"ByteLev"
	"el\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"
	"}"

	;

/* Added-token ids; they follow the vocabulary, as Hugging Face numbers them. */
static int32_t ID_BOS, ID_EOS, ID_USER, ID_THINK, ID_THINK_END;

/* GPT-2's byte-to-character table, as UTF-8 of the code point. */
static size_t byte_char(unsigned b, char *out)
{
	unsigned cp;
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) {
		cp = b;
	} else {
		unsigned n = 0;
		for (unsigned x = 0; x < b; x++)
			if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)))
				n++;
		cp = 256 + n;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xC0 | (cp >> 6));
	out[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

static char *vocab_key(const char *bytes, size_t n)
{
	char *k = malloc(2 * n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		o += byte_char((unsigned char)bytes[i], k + o);
	k[o] = '\0';
	return k;
}

struct tiny {
	json_t *vocab, *merges;
	int next;
};

/* Adds a token for `bytes` and, for BPE's sake, every prefix of it with its merge. */
static void tiny_add(struct tiny *b, const char *bytes, size_t n)
{
	for (size_t k = 2; k <= n; k++) {
		char *key = vocab_key(bytes, k);
		if (!json_object_get(b->vocab, key)) {
			char *left = vocab_key(bytes, k - 1), *right = vocab_key(bytes + k - 1, 1);
			char *m = malloc(strlen(left) + strlen(right) + 2);
			sprintf(m, "%s %s", left, right);
			json_array_append_new(b->merges, json_string(m));
			json_object_set_new(b->vocab, key, json_integer(b->next++));
			free(left);
			free(right);
			free(m);
		}
		free(key);
	}
}

static const char euro100[] = /* 100 x U+20AC: a 300-byte token */
	"€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€"
	"€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€";

static const char *tiny_multi[] = {
	"</thi", "nk>", "</", "think", ">", "ng>", "<thi", "Let", " me", " see",
	"\xF0\x9F", "\x98\x80", "\xF0\x9F\x98", "\x9F\x98\x80", "\n\n",
	" b", "hmm", "ok", "Use",
};

static json_t *added(int id, const char *content, bool special)
{
	return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
			 "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", !special,
			 "special", special);
}

static struct tok *tiny_tok(bool with_think)
{
	json_t *root = json_loads(tiny_pipeline, 0, NULL);
	struct tiny b = { json_object(), json_array(), 256 };
	for (unsigned i = 0; i < 256; i++) {
		char c = (char)i, *key = vocab_key(&c, 1);
		json_object_set_new(b.vocab, key, json_integer(i));
		free(key);
	}
	for (size_t i = 0; i < sizeof tiny_multi / sizeof *tiny_multi; i++)
		tiny_add(&b, tiny_multi[i], strlen(tiny_multi[i]));
	tiny_add(&b, euro100, strlen(euro100));
	ID_BOS = b.next;
	ID_EOS = ID_BOS + 1;
	ID_USER = ID_BOS + 2;
	ID_THINK = ID_BOS + 4;
	ID_THINK_END = ID_BOS + 5;
	json_t *add = json_array();
	json_array_append_new(add, added(ID_BOS, "<｜begin▁of▁sentence｜>", true));
	json_array_append_new(add, added(ID_EOS, "<｜end▁of▁sentence｜>", true));
	json_array_append_new(add, added(ID_USER, "<｜User｜>", false));
	json_array_append_new(add, added(ID_USER + 1, "<｜Assistant｜>", false));
	if (with_think) {
		json_array_append_new(add, added(ID_THINK, "<think>", false));
		json_array_append_new(add, added(ID_THINK_END, "</think>", false));
	}
	json_object_set_new(root, "version", json_string("1.0"));
	json_object_set_new(root, "truncation", json_null());
	json_object_set_new(root, "padding", json_null());
	json_object_set_new(root, "added_tokens", add);
	json_object_set_new(root, "model",
			    json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:o, s:o}", "type", "BPE",
				      "dropout", "unk_token", "continuing_subword_prefix",
				      "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
				      "vocab", b.vocab, "merges", b.merges));
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	struct tok *t = NULL;
	struct err e = { 0 };
	if (tok_parse(text, strlen(text), "tiny tokenizer.json", &t, &e) != 0) {
		fprintf(stderr, "  tiny tokenizer: %s\n", e.msg);
		t = NULL;
	}
	free(text);
	return t;
}

/* Id of the ordinary (non-added) token whose bytes are exactly s. */
static int32_t tid(const struct tok *t, const char *s)
{
	size_t n = strlen(s);
	for (size_t id = 0; id < tok_vocab_size(t) && id < (size_t)ID_BOS; id++) {
		size_t len;
		const char *b = tok_token_bytes(t, (int32_t)id, &len);
		if (b && len == n && memcmp(b, s, n) == 0)
			return (int32_t)id;
	}
	fprintf(stderr, "  no token for \"%s\"\n", s);
	return -1;
}

/* ---- collecting what is emitted ---- */

/* Strict UTF-8 check written independently of detok_stream.c. */
static int valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i], need;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			need = 1, cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2, cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3, cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + need >= n)
			return 0; /* cut short */
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
		if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += need + 1;
	}
	return 1;
}

struct sink {
	char text[3][4096]; /* [0]: detok output, [CH_REASONING], [CH_ANSWER] */
	size_t len[3];
	int emits, bad_pieces, empty_pieces;
	size_t max_piece;
	int order[64]; /* channel of each emit (first 64) */
	int stop_at;   /* emit number (1-based) that returns 1; 0: never */
};

static int sink_put(struct sink *k, int ch, const char *s, size_t n)
{
	k->emits++;
	if (k->emits <= 64)
		k->order[k->emits - 1] = ch;
	if (!valid_utf8(s, n))
		k->bad_pieces++;
	if (n == 0)
		k->empty_pieces++;
	if (n > k->max_piece)
		k->max_piece = n;
	if (k->len[ch] + n < sizeof k->text[ch]) {
		memcpy(k->text[ch] + k->len[ch], s, n);
		k->len[ch] += n;
		k->text[ch][k->len[ch]] = '\0';
	}
	return k->stop_at && k->emits == k->stop_at;
}

static int on_detok(void *ud, const char *s, size_t n)
{
	return sink_put(ud, 0, s, n);
}

static int on_chan(void *ud, int ch, const char *s, size_t n)
{
	if (ch != CH_REASONING && ch != CH_ANSWER)
		ch = 0; /* counted as wrong below: text[0] must stay empty */
	return sink_put(ud, ch, s, n);
}

#define FFFD "\xEF\xBF\xBD"

/* ---- detok_stream ---- */

static void test_detok_emoji_split(void)
{
	struct tok *t = tiny_tok(true);
	if (!t) {
		CHECK(0, "tiny tokenizer did not load");
		return;
	}
	/* 😀 = F0 9F 98 80, spread over 2, 3 and 4 tokens. */
	const char *splits[][4] = {
		{ "\xF0\x9F", "\x98\x80", NULL, NULL },
		{ "\xF0", "\x9F\x98\x80", NULL, NULL },
		{ "\xF0\x9F\x98", "\x80", NULL, NULL },
		{ "\xF0\x9F", "\x98", "\x80", NULL },
		{ "\xF0", "\x9F", "\x98", "\x80" },
	};
	for (size_t c = 0; c < sizeof splits / sizeof *splits; c++) {
		struct detok_stream d;
		struct sink k = { 0 };
		detok_init(&d, t);
		CHECK(detok_push(&d, tid(t, "a"), on_detok, &k) == 0, "push");
		int np = 0;
		while (np < 4 && splits[c][np])
			np++;
		for (int i = 0; i < np; i++) {
			CHECK(detok_push(&d, tid(t, splits[c][i]), on_detok, &k) == 0, "push");
			if (i < np - 1)
				CHECK(detok_pending(&d), "case %zu: part %d not held", c, i);
		}
		CHECK(!detok_pending(&d), "case %zu: still pending", c);
		CHECK(k.emits == 2, "case %zu: %d emits (want 'a' then the emoji)", c, k.emits);
		CHECK(strcmp(k.text[0], "a\xF0\x9F\x98\x80") == 0, "case %zu: got '%s'", c, k.text[0]);
		CHECK(k.bad_pieces == 0 && k.empty_pieces == 0, "case %zu: bad or empty piece", c);
		CHECK(detok_flush(&d, on_detok, &k) == 0 && k.emits == 2, "flush emitted more");
	}
	tok_free(t);
}

static void test_detok_invalid_bytes(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "\x80", FFFD },
		{ "\xC0\xAF", FFFD FFFD },
		{ "\xE0\x80\x80", FFFD FFFD FFFD },  /* overlong */
		{ "\xED\xA0\x80", FFFD FFFD FFFD },  /* surrogate */
		{ "\xF4\x90\x80\x80", FFFD FFFD FFFD FFFD }, /* > U+10FFFF */
		{ "\xF0\x80\x80", FFFD FFFD FFFD },
		{ "\xE2\x82" "A", FFFD "A" },        /* truncated, then ASCII */
		{ "\xC2\xC2\xA9", FFFD "\xC2\xA9" },
		{ "\xF0\x9F\x98\xF0\x9F\x98\x80", FFFD "\xF0\x9F\x98\x80" },
		{ "\xFF\xF5", FFFD FFFD },
		/* The example of Unicode 15 §3.9, Table 3-8. */
		{ "a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d",
		  "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d" },
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct detok_stream d;
		struct sink k = { 0 };
		detok_init(&d, NULL);
		/* Whole, then byte by byte: the result must not depend on token boundaries. */
		CHECK(detok_push_bytes(&d, cases[c].in, strlen(cases[c].in), on_detok, &k) == 0, "push");
		CHECK(detok_flush(&d, on_detok, &k) == 0, "flush");
		CHECK(strcmp(k.text[0], cases[c].want) == 0, "case %zu whole: wrong output", c);
		struct sink k1 = { 0 };
		for (const char *p = cases[c].in; *p; p++)
			detok_push_bytes(&d, p, 1, on_detok, &k1);
		detok_flush(&d, on_detok, &k1);
		CHECK(strcmp(k1.text[0], cases[c].want) == 0, "case %zu bytewise: wrong output", c);
		CHECK(k.bad_pieces == 0 && k1.bad_pieces == 0, "case %zu: invalid piece emitted", c);
	}
}

static void test_detok_flush_tail(void)
{
	struct detok_stream d;
	struct sink k = { 0 };
	detok_init(&d, NULL);
	CHECK(detok_push_bytes(&d, "ab\xE2\x82", 4, on_detok, &k) == 0, "push");
	CHECK(strcmp(k.text[0], "ab") == 0 && detok_pending(&d), "got '%s'", k.text[0]);
	CHECK(detok_flush(&d, on_detok, &k) == 0, "flush");
	CHECK(strcmp(k.text[0], "ab" FFFD) == 0, "tail not replaced: '%s'", k.text[0]);
	CHECK(!detok_pending(&d), "still pending after flush");
	int emits = k.emits;
	CHECK(detok_flush(&d, on_detok, &k) == 0 && k.emits == emits, "second flush emitted");
	/* After a flush the stream starts clean. */
	CHECK(detok_push_bytes(&d, "\xAC", 1, on_detok, &k) == 0, "push");
	CHECK(strcmp(k.text[0], "ab" FFFD FFFD) == 0, "stray byte after flush: '%s'", k.text[0]);
}

static void test_detok_long_token(void)
{
	struct tok *t = tiny_tok(true);
	if (!t) {
		CHECK(0, "tiny tokenizer did not load");
		return;
	}
	int32_t id = tid(t, euro100);
	size_t len = 0;
	CHECK(id >= 0 && tok_token_bytes(t, id, &len) && len == 300, "300-byte token: %zu", len);
	struct detok_stream d;
	struct sink k = { 0 };
	detok_init(&d, t);
	/* Start mid-character so the long token also has to close a pending prefix. */
	CHECK(detok_push(&d, tid(t, "x"), on_detok, &k) == 0, "push");
	CHECK(detok_push(&d, tid(t, "\xF0\x9F"), on_detok, &k) == 0, "push");
	CHECK(detok_push(&d, id, on_detok, &k) == 0, "push");
	CHECK(detok_push(&d, id, on_detok, &k) == 0, "push");
	CHECK(detok_flush(&d, on_detok, &k) == 0, "flush");
	char want[1024];
	snprintf(want, sizeof want, "x%s%s%s", FFFD, euro100, euro100);
	CHECK(strcmp(k.text[0], want) == 0, "long token text differs");
	CHECK(k.bad_pieces == 0, "%d pieces were not complete UTF-8", k.bad_pieces);
	CHECK(k.max_piece <= DETOK_CHUNK, "piece of %zu bytes", k.max_piece);
	CHECK(k.emits >= 4, "300 bytes should need two pieces per token (%d emits)", k.emits);
	tok_free(t);
}

static void test_detok_special_and_unknown(void)
{
	struct tok *t = tiny_tok(true);
	if (!t) {
		CHECK(0, "tiny tokenizer did not load");
		return;
	}
	struct detok_stream d;
	struct sink k = { 0 };
	detok_init(&d, t);
	CHECK(detok_push(&d, ID_BOS, on_detok, &k) == 0, "push BOS");
	CHECK(detok_push(&d, tid(t, "Let"), on_detok, &k) == 0, "push");
	CHECK(detok_push(&d, ID_EOS, on_detok, &k) == 0, "push EOS");
	CHECK(strcmp(k.text[0], "Let") == 0, "special tokens shown: '%s'", k.text[0]);
	/* Added but not special: shown as its text. */
	CHECK(detok_push(&d, ID_USER, on_detok, &k) == 0, "push");
	CHECK(strcmp(k.text[0], "Let<｜User｜>") == 0, "added token: '%s'", k.text[0]);
	CHECK(detok_push(&d, (int32_t)tok_vocab_size(t) + 7, on_detok, &k) == 0, "unknown id");
	CHECK(detok_push(&d, -3, on_detok, &k) == 0, "negative id");
	CHECK(strcmp(k.text[0], "Let<｜User｜>" FFFD FFFD) == 0, "unknown ids: '%s'", k.text[0]);
	tok_free(t);
}

static void test_detok_stop(void)
{
	struct detok_stream d;
	struct sink k = { .stop_at = 1 };
	detok_init(&d, NULL);
	CHECK(detok_push_bytes(&d, "hello", 5, on_detok, &k) == 1, "stop not returned");
	/* A long input stops at the first full buffer. */
	struct sink k2 = { .stop_at = 1 };
	char big[1000];
	memset(big, 'z', sizeof big);
	CHECK(detok_push_bytes(&d, big, sizeof big, on_detok, &k2) == 1, "stop not returned");
	CHECK(k2.emits == 1 && k2.len[0] == DETOK_CHUNK, "%d emits, %zu bytes after stop",
	      k2.emits, k2.len[0]);
}

/* ---- channels ---- */

static void push_all(struct chan_splitter *s, struct tok *t, const char *const *pieces)
{
	for (; *pieces; pieces++) {
		int32_t id = strcmp(*pieces, "<think>") == 0	? ID_THINK
			     : strcmp(*pieces, "</think>") == 0 ? ID_THINK_END
								 : tid(t, *pieces);
		CHECK(chan_push(s, id) == 0, "push '%s'", *pieces);
		CHECK(s->nhold < CHAN_MARK_MAX, "held %zu bytes", s->nhold);
	}
	CHECK(chan_flush(s) == 0, "flush");
}

struct chan_case {
	const char *name;
	bool think_tokens, start_reasoning;
	const char *pieces[24];
	const char *reasoning, *answer;
};

static const struct chan_case chan_cases[] = {
	{ "by id", true, true,
	  { "Let", " me", " see", "\n", "</think>", "\n\n", "4", "2", NULL },
	  "Let me see\n", "42" },
	{ "by text", false, true,
	  { "Let", " me", " see", "</thi", "nk>", "\n\n", "4", "2", NULL },
	  "Let me see", "42" },
	{ "text marker over 3 tokens", false, true,
	  { "a", "</", "think", ">", "b", NULL }, "a", "b" },
	{ "text marker over 8 tokens", false, true,
	  { "a", "<", "/", "t", "h", "i", "n", "k", ">", "\n", "b", NULL }, "a", "b" },
	{ "</thing> is text", false, true,
	  { "a", "</thi", "ng>", " b", "</thi", "nk>", "c", NULL }, "a</thing> b", "c" },
	{ "unfinished marker at the end", false, true,
	  { "a", "</thi", NULL }, "a</thi", "" },
	{ "no reasoning", true, false,
	  { "\n", "Let", " me", NULL }, "", "Let me" },
	{ "no reasoning, no think tokens", false, false,
	  { "Let", " me", "</thi", "nk>", NULL }, "", "Let me</think>" },
	{ "unclosed reasoning", true, true,
	  { "Let", " me", " see", NULL }, "Let me see", "" },
	{ "<think> at answer start by id", true, false,
	  { "<think>", "\n", "hmm", "</think>", "\n\n", "ok", NULL }, "hmm", "ok" },
	{ "<think> at answer start by text", false, false,
	  { "\n", "<thi", "nk>", "\n", "h", "</", "think", ">", "\n\n", "ok", NULL }, "h", "ok" },
	{ "<thing> at answer start", false, false,
	  { "<thi", "ng>", "x", NULL }, "", "<thing>x" },
	{ "repeated <think> in reasoning", true, true,
	  { "<think>", "\n", "a", "</think>", "b", NULL }, "a", "b" },
	{ "repeated <think> text in reasoning", false, true,
	  { "<thi", "nk>", "\n\n", "a", "</thi", "nk>", "b", NULL }, "a", "b" },
	{ "<think> mid-answer by text is text", false, false,
	  { "Use", " ", "<thi", "nk>", NULL }, "", "Use <think>" },
	{ "<think> mid-answer by id is dropped", true, false,
	  { "Use", "<think>", "x", NULL }, "", "Usex" },
	{ "</think> in answer by id is dropped", true, false,
	  { "a", "</think>", "\n\n", "b", NULL }, "", "a\n\nb" },
	{ "newlines inside the answer stay", true, true,
	  { "r", "</think>", "\n\n", "a", "\n\n", "b", "\n", NULL }, "r", "a\n\nb\n" },
	{ "emoji across the marker boundary", true, true,
	  { "\xF0\x9F", "\x98\x80", "</think>", "\xF0\x9F\x98", "\x80", NULL },
	  "\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80" },
	{ "broken character before a marker id", true, true,
	  { "a", "\xF0\x9F", "</think>", "b", NULL }, "a" FFFD, "b" },
};

static void test_chan_cases(void)
{
	struct tok *t[2] = { tiny_tok(false), tiny_tok(true) };
	if (!t[0] || !t[1]) {
		CHECK(0, "tiny tokenizer did not load");
		goto out;
	}
	CHECK(tok_added_id(t[1], "</think>") == ID_THINK_END && tok_added_id(t[0], "</think>") < 0,
	      "tiny tokenizers' added tokens");
	for (size_t c = 0; c < sizeof chan_cases / sizeof *chan_cases; c++) {
		const struct chan_case *cc = &chan_cases[c];
		struct chan_splitter s;
		struct sink k = { 0 };
		chan_init(&s, t[cc->think_tokens], cc->start_reasoning, on_chan, &k);
		push_all(&s, t[cc->think_tokens], cc->pieces);
		CHECK(strcmp(k.text[CH_REASONING], cc->reasoning) == 0,
		      "%s: reasoning '%s', want '%s'", cc->name, k.text[CH_REASONING], cc->reasoning);
		CHECK(strcmp(k.text[CH_ANSWER], cc->answer) == 0, "%s: answer '%s', want '%s'",
		      cc->name, k.text[CH_ANSWER], cc->answer);
		CHECK(k.len[0] == 0, "%s: emit with a bad channel", cc->name);
		CHECK(k.bad_pieces == 0 && k.empty_pieces == 0, "%s: bad or empty piece", cc->name);
	}
out:
	tok_free(t[0]);
	tok_free(t[1]);
}

/* Text that cannot be a marker is shown at once; only a marker prefix waits. */
static void test_chan_holds_only_marker_prefix(void)
{
	struct tok *t = tiny_tok(false);
	if (!t) {
		CHECK(0, "tiny tokenizer did not load");
		return;
	}
	struct chan_splitter s;
	struct sink k = { 0 };
	chan_init(&s, t, true, on_chan, &k);
	chan_push(&s, tid(t, "a"));
	CHECK(strcmp(k.text[CH_REASONING], "a") == 0, "'a' not shown at once");
	chan_push(&s, tid(t, "</thi"));
	CHECK(strcmp(k.text[CH_REASONING], "a") == 0 && s.nhold == 5, "prefix not held");
	chan_push(&s, tid(t, "x"));
	CHECK(strcmp(k.text[CH_REASONING], "a</thix") == 0, "decided prefix not shown: '%s'",
	      k.text[CH_REASONING]);
	CHECK(s.nhold == 0, "held %zu", s.nhold);
	chan_push(&s, tid(t, "<"));
	chan_push(&s, tid(t, "<"));
	CHECK(strcmp(k.text[CH_REASONING], "a</thix<") == 0 && s.nhold == 1,
	      "'<<' should show one '<' and hold one");
	CHECK(chan_channel(&s) == CH_REASONING, "channel");
	tok_free(t);
}

static void test_chan_stop(void)
{
	struct tok *t = tiny_tok(true);
	if (!t) {
		CHECK(0, "tiny tokenizer did not load");
		return;
	}
	struct chan_splitter s;
	struct sink k = { .stop_at = 2 };
	chan_init(&s, t, true, on_chan, &k);
	CHECK(chan_push(&s, tid(t, "Let")) == 0, "first emit should not stop");
	CHECK(chan_push(&s, ID_THINK_END) == 0, "marker emits nothing");
	CHECK(chan_push(&s, tid(t, "4")) == 1, "stop not returned");
	CHECK(chan_push(&s, tid(t, "2")) == 1, "stop not sticky");
	CHECK(chan_flush(&s) == 1, "flush after stop");
	CHECK(k.emits == 2, "%d emits after a stop", k.emits);
	CHECK(k.order[0] == CH_REASONING && k.order[1] == CH_ANSWER, "channel order");
	tok_free(t);
}

/* ---- real tokenizers ---- */

static struct tok *fixture_tok(const char *name)
{
	const char *fx = check_fixtures();
	if (!fx)
		return NULL;
	char path[512];
	snprintf(path, sizeof path, "%s/tokenizer/%s/tokenizer.json", fx, name);
	struct tok *t = NULL;
	struct err e = { 0 };
	if (tok_load(path, &t, &e) != 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return NULL;
	}
	return t;
}

static void test_real_r1_channels(void)
{
	if (!check_fixtures()) {
		SKIP("no ../shared/fixtures");
		return;
	}
	struct tok *r1 = fixture_tok("deepseek-r1"), *v3 = fixture_tok("deepseek-v3");
	CHECK(r1 && v3, "fixture tokenizers did not load");
	if (!r1 || !v3)
		goto out;
	CHECK(tok_added_id(r1, "<think>") == 128798 && tok_added_id(r1, "</think>") == 128799,
	      "R1 think ids");
	/* golden-special-r1.jsonl: R1 output, the template having opened <think>. */
	static const int32_t ids[] = { 128798, 201, 5718, 678, 1258, 223, 20, 305, 223, 20,
				       603, 128799, 271, 671, 3287, 344, 223, 22, 16, 1 };
	struct chan_splitter s;
	struct sink k = { 0 };
	chan_init(&s, r1, true, on_chan, &k);
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
		CHECK(chan_push(&s, ids[i]) == 0, "push %d", ids[i]);
	CHECK(chan_flush(&s) == 0, "flush");
	CHECK(strcmp(k.text[CH_REASONING], "Let me add 2 and 2.\n") == 0, "R1 reasoning '%s'",
	      k.text[CH_REASONING]);
	CHECK(strcmp(k.text[CH_ANSWER], "The answer is 4.") == 0, "R1 answer '%s'",
	      k.text[CH_ANSWER]);

	/* The same text through the V3 tokenizer has no marker ids: split by text. */
	static const char text[] = "<think>\nLet me add 2 and 2.\n</think>\n\nThe answer is 4.";
	struct tok_ids v = { 0 };
	struct err e = { 0 };
	CHECK(tok_encode(v3, text, strlen(text), false, &v, &e) == 0, "encode: %s", e.msg);
	struct sink k2 = { 0 };
	chan_init(&s, v3, false, on_chan, &k2);
	for (size_t i = 0; i < v.n; i++)
		chan_push(&s, v.v[i]);
	chan_flush(&s);
	CHECK(strcmp(k2.text[CH_REASONING], "Let me add 2 and 2.\n") == 0, "V3 reasoning '%s'",
	      k2.text[CH_REASONING]);
	CHECK(strcmp(k2.text[CH_ANSWER], "The answer is 4.") == 0, "V3 answer '%s'",
	      k2.text[CH_ANSWER]);
	tok_ids_free(&v);
out:
	tok_free(r1);
	tok_free(v3);
}

/* Multi-byte text through the real vocabulary comes back whole, piece by piece. */
static void test_real_utf8_roundtrip(void)
{
	if (!check_fixtures()) {
		SKIP("no ../shared/fixtures");
		return;
	}
	struct tok *r1 = fixture_tok("deepseek-r1");
	CHECK(r1, "R1 tokenizer did not load");
	if (!r1)
		return;
	static const char text[] = "只用中文回答：1+1=? 😀🎉 naïve café — ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 "
				   "日本語のテキスト 한국어 Ελληνικά\n\n";
	struct tok_ids v = { 0 };
	struct err e = { 0 };
	CHECK(tok_encode(r1, text, strlen(text), false, &v, &e) == 0, "encode: %s", e.msg);
	struct detok_stream d;
	struct sink k = { 0 };
	detok_init(&d, r1);
	size_t split = 0; /* tokens that ended inside a character */
	for (size_t i = 0; i < v.n; i++) {
		CHECK(detok_push(&d, v.v[i], on_detok, &k) == 0, "push");
		split += detok_pending(&d);
	}
	CHECK(detok_flush(&d, on_detok, &k) == 0, "flush");
	CHECK(strcmp(k.text[0], text) == 0, "round trip differs: '%s'", k.text[0]);
	CHECK(k.bad_pieces == 0, "%d invalid pieces", k.bad_pieces);
	CHECK(split > 0, "no token split a character: the test lost its point");
	tok_ids_free(&v);
	tok_free(r1);
}

int main(void)
{
	RUN(test_detok_emoji_split);
	RUN(test_detok_invalid_bytes);
	RUN(test_detok_flush_tail);
	RUN(test_detok_long_token);
	RUN(test_detok_special_and_unknown);
	RUN(test_detok_stop);
	RUN(test_chan_cases);
	RUN(test_chan_holds_only_marker_prefix);
	RUN(test_chan_stop);
	RUN(test_real_r1_channels);
	RUN(test_real_utf8_roundtrip);
	return check_finish();
}
