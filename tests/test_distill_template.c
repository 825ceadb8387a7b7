/*
 * test_distill_template.c — the DeepSeek-R1 distills: a Qwen or Llama byte-level BPE whose
 * added tokens are renamed to DeepSeek's markers, shipped with DeepSeek's R1 template.
 *
 * The distill tokenizers are built here, in a temporary folder, from the stock base
 * tokenizers in ../shared/fixtures/tokenizer/{qwen3,llama3_1} (SKIP without fixtures):
 * the added tokens at the ids below are renamed and marked special, the vocabulary and
 * merges are untouched, and tokenizer_config.json gets the R1 Jinja template copied from
 * the deepseek-r1 fixture. Then, for each layout:
 *   - plain text encodes exactly as the stock tokenizer (golden-plain-{qwen3,llama3}),
 *     since renaming added tokens cannot change BPE;
 *   - an R1 conversation renders to BOS / role markers / EOS / <think> at the family's
 *     ids, a past answer keeps only the text after </think>, and every text span between
 *     markers is the plain encoding of that text;
 *   - marker text written by the user stays plain text;
 *   - the template is classified as R1, opening <think>, without a warning;
 *   - "<｜end▁of▁sentence｜>" is an added token with the family's EOS id (the session
 *     stops on it).
 * Layouts as published: R1-Distill-Qwen (151643..151649) and R1-Distill-Llama
 * (128000..128014). The Qwen3 base has <think>/</think> at 151667/151668 too; those are
 * given neutral names so that no content is an added token twice.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/chat_template.h"
#include "engine/tokenizer.h"
#include "tests/check.h"

#define BOS "<｜begin▁of▁sentence｜>"
#define EOS "<｜end▁of▁sentence｜>"
#define USER "<｜User｜>"
#define ASSISTANT "<｜Assistant｜>"
#define THINK "<think>"
#define THINK_END "</think>"

struct rename {
	int32_t id;
	const char *content;
};

struct layout {
	const char *name;
	const char *base;   /* fixture folder of the stock tokenizer */
	const char *golden; /* its plain-text golden ids */
	int32_t n_base;     /* first added-token id (size of model.vocab) */
	int32_t n_total;    /* vocabulary size with the added tokens */
	int32_t bos, eos, user, assistant, think, think_end;
	const char *gone[3]; /* stock names that must no longer be added tokens */
	struct rename extra[2];
};

static const struct layout layouts[2] = {
	{ "R1-Distill-Qwen", "qwen3", "golden-plain-qwen3.jsonl", 151643, 151669,
	  151646, 151643, 151644, 151645, 151648, 151649,
	  { "<|endoftext|>", "<|im_start|>", "<|im_end|>" },
	  { { 151667, "<|unused_151667|>" }, { 151668, "<|unused_151668|>" } } },
	{ "R1-Distill-Llama", "llama3_1", "golden-plain-llama3.jsonl", 128000, 128256,
	  128000, 128001, 128011, 128012, 128013, 128014,
	  { "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_6|>" },
	  { { -1, NULL }, { -1, NULL } } },
};

struct distill {
	char dir[64];
	char tok_path[128], cfg_path[128];
	bool built;
	struct tok *tok;
	struct chat_template tmpl;
};

static struct distill D[2];
static const char *fixtures;

/* ---- building the distill tokenizers ------------------------------------------------ */

/* Renames every string `from` (values and object keys) to `to`, recursively. */
static void rename_strings(json_t *v, const char *from, const char *to)
{
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x) {
			if (json_is_string(x) && strcmp(json_string_value(x), from) == 0)
				json_array_set_new(v, i, json_string(to));
			else
				rename_strings(x, from, to);
		}
	} else if (json_is_object(v)) {
		const char *k;
		void *tmp;
		json_t *x;
		json_object_foreach_safe(v, tmp, k, x) {
			if (json_is_string(x) && strcmp(json_string_value(x), from) == 0)
				json_object_set_new(v, k, json_string(to));
			else
				rename_strings(x, from, to);
		}
		x = json_object_get(v, from);
		if (x) {
			json_object_set(v, to, x);
			json_object_del(v, from);
		}
	}
}

/* Renames the added token `id` in added_tokens (and wherever the post-processor names
   it), marks it special; 0 when found. The Qwen and Llama added tokens are not in
   model.vocab, so the vocabulary stays as it is. */
static int rename_added(json_t *root, json_t *vocab, int32_t id, const char *content)
{
	json_t *added = json_object_get(root, "added_tokens"), *a;
	size_t i;
	json_array_foreach(added, i, a) {
		if (json_integer_value(json_object_get(a, "id")) != id)
			continue;
		char old[128];
		snprintf(old, sizeof old, "%s", json_string_value(json_object_get(a, "content")));
		if (json_object_get(vocab, old))
			return -1; /* not the layout this test knows */
		json_object_set_new(a, "content", json_string(content));
		json_object_set_new(a, "special", json_true());
		json_object_set_new(a, "normalized", json_false());
		rename_strings(json_object_get(root, "post_processor"), old, content);
		return 0;
	}
	return -1;
}

static int build(const struct layout *L, struct distill *d, const char *r1_template)
{
	char path[512];
	snprintf(path, sizeof path, "%s/tokenizer/%s/tokenizer.json", fixtures, L->base);
	json_error_t je;
	json_t *root = json_load_file(path, 0, &je);
	if (!root) {
		fprintf(stderr, "  %s: %s\n", path, je.text);
		return -1;
	}
	json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
	const struct rename r[] = {
		{ L->bos, BOS },	   { L->eos, EOS },	{ L->user, USER },
		{ L->assistant, ASSISTANT }, { L->think, THINK }, { L->think_end, THINK_END },
		L->extra[0],		   L->extra[1],
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof r / sizeof *r && !rc; i++)
		if (r[i].content && (rc = rename_added(root, vocab, r[i].id, r[i].content)))
			fprintf(stderr, "  %s: no added token %d outside model.vocab\n", path,
				(int)r[i].id);
	if (!rc && json_dump_file(root, d->tok_path, JSON_COMPACT) != 0)
		rc = -1;
	json_decref(root);
	if (rc)
		return rc;

	json_t *cfg = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:b, s:i, s:n, s:s, s:s}",
				"add_bos_token", 1, "add_eos_token", 0, "bos_token", BOS,
				"eos_token", EOS, "pad_token", EOS, "clean_up_tokenization_spaces",
				0, "legacy", 1, "model_max_length", 16384, "unk_token",
				"tokenizer_class", "LlamaTokenizerFast", "chat_template",
				r1_template);
	rc = cfg && json_dump_file(cfg, d->cfg_path, JSON_INDENT(2)) == 0 ? 0 : -1;
	json_decref(cfg);
	return rc;
}

/* ---- helpers ------------------------------------------------------------------------ */

static void show_ids(const char *what, const int32_t *v, size_t n)
{
	fprintf(stderr, "    %s (%zu):", what, n);
	for (size_t i = 0; i < n && i < 80; i++)
		fprintf(stderr, " %d", (int)v[i]);
	fprintf(stderr, n > 80 ? " ...\n" : "\n");
}

static bool ids_same(const struct tok_ids *a, const struct tok_ids *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof *a->v) == 0);
}

static void push(struct tok_ids *ids, int32_t id)
{
	struct err e = { 0 };
	CHECK(tok_ids_push(ids, id, &e) == 0, "%s", e.msg);
}

static void push_plain(const struct tok *t, struct tok_ids *ids, const char *s)
{
	struct err e = { 0 };
	CHECK(tok_encode(t, s, strlen(s), false, ids, &e) == 0, "%s", e.msg);
}

static bool is_marker(const struct layout *L, int32_t id)
{
	return id == L->bos || id == L->eos || id == L->user || id == L->assistant ||
	       id == L->think || id == L->think_end;
}

static size_t count(const struct tok_ids *ids, int32_t id)
{
	size_t c = 0;
	for (size_t i = 0; i < ids->n; i++)
		c += ids->v[i] == id;
	return c;
}

/* Whether ids[at..] starts with want (a whole list). */
static bool has_at(const struct tok_ids *ids, size_t at, const struct tok_ids *want)
{
	return at <= ids->n && want->n <= ids->n - at &&
	       (want->n == 0 || memcmp(ids->v + at, want->v, want->n * sizeof *want->v) == 0);
}

/* The test is usable for layout w: fixtures present and the build succeeded. */
static bool ready(int w)
{
	if (!fixtures) {
		SKIP("no ../shared/fixtures");
		return false;
	}
	CHECK(D[w].tok != NULL, "%s: the distill tokenizer was not built", layouts[w].name);
	return D[w].tok != NULL;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_build_distill_tokenizers(void)
{
	if (!fixtures) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/tokenizer/deepseek-r1/tokenizer_config.json", fixtures);
	json_error_t je;
	json_t *r1cfg = json_load_file(path, 0, &je);
	const char *r1_template = json_string_value(json_object_get(r1cfg, "chat_template"));
	CHECK(r1_template && strstr(r1_template, "'<｜Assistant｜><think>\\n'"),
	      "%s: no R1 chat_template (%s)", path, r1cfg ? "not a string" : je.text);
	for (int w = 0; w < 2 && r1_template; w++) {
		const struct layout *L = &layouts[w];
		struct distill *d = &D[w];
		struct err e = { 0 };
		char dir[] = "/tmp/ponder_distill_XXXXXX";
		if (!mkdtemp(dir)) {
			CHECK(0, "mkdtemp failed");
			break;
		}
		d->built = true;
		snprintf(d->dir, sizeof d->dir, "%s", dir);
		snprintf(d->tok_path, sizeof d->tok_path, "%s/tokenizer.json", dir);
		snprintf(d->cfg_path, sizeof d->cfg_path, "%s/tokenizer_config.json", dir);
		if (build(L, d, r1_template) != 0) {
			CHECK(0, "%s: could not build the distill tokenizer", L->name);
			continue;
		}
		if (tok_load(d->tok_path, &d->tok, &e) != 0) {
			CHECK(0, "%s: %s", L->name, e.msg);
			continue;
		}
		if (chat_template_detect(d->cfg_path, d->tok, &d->tmpl, &e) != 0) {
			CHECK(0, "%s: %s", L->name, e.msg);
			tok_free(d->tok);
			d->tok = NULL;
			continue;
		}
		const struct rename mk[] = {
			{ L->bos, BOS },	     { L->eos, EOS },	  { L->user, USER },
			{ L->assistant, ASSISTANT }, { L->think, THINK }, { L->think_end, THINK_END },
		};
		for (size_t i = 0; i < sizeof mk / sizeof *mk; i++) {
			size_t n = 0;
			const char *b = tok_token_bytes(d->tok, mk[i].id, &n);
			CHECK(tok_added_id(d->tok, mk[i].content) == mk[i].id &&
				      tok_is_special(d->tok, mk[i].id),
			      "%s: %s is id %d, want special id %d", L->name, mk[i].content,
			      (int)tok_added_id(d->tok, mk[i].content), (int)mk[i].id);
			CHECK(b && n == strlen(mk[i].content) && memcmp(b, mk[i].content, n) == 0,
			      "%s: token %d is not %s", L->name, (int)mk[i].id, mk[i].content);
		}
		for (size_t i = 0; i < 3; i++)
			CHECK(tok_added_id(d->tok, L->gone[i]) == -1, "%s: %s is still an added token",
			      L->name, L->gone[i]);
		CHECK(tok_vocab_size(d->tok) == (size_t)L->n_total, "%s: vocab size %zu, want %d",
		      L->name, tok_vocab_size(d->tok), (int)L->n_total);
	}
	json_decref(r1cfg);
}

/* Renaming added tokens leaves BPE alone: every golden line of the stock tokenizer. */
static void test_plain_text_unchanged(void)
{
	for (int w = 0; w < 2; w++) {
		if (!ready(w))
			continue;
		const struct layout *L = &layouts[w];
		char path[512];
		snprintf(path, sizeof path, "%s/tokenizer/%s", fixtures, L->golden);
		FILE *f = fopen(path, "r");
		CHECK(f != NULL, "cannot open %s", path);
		if (!f)
			continue;
		char *line = NULL;
		size_t cap = 0, total = 0, matched = 0, non_ascii = 0, digits = 0, plain_special = 0;
		ssize_t got;
		while ((got = getline(&line, &cap, f)) > 0) {
			json_error_t je;
			json_t *o = json_loadb(line, (size_t)got, 0, &je);
			CHECK(o != NULL, "%s line %zu: %s", path, total + 1, je.text);
			if (!o)
				continue;
			total++;
			json_t *jt = json_object_get(o, "text"), *ji = json_object_get(o, "ids");
			json_t *jd = json_object_get(o, "decoded"); /* Qwen normalizes to NFC */
			const char *text = json_string_value(jt);
			size_t tn = json_string_length(jt);
			struct tok_ids want = { 0 }, ids = { 0 }, sp = { 0 };
			size_t i;
			json_t *x;
			json_array_foreach(ji, i, x)
				push(&want, (int32_t)json_integer_value(x));
			struct err e = { 0 };
			int rc = tok_encode(D[w].tok, text, tn, false, &ids, &e);
			bool ok = rc == 0 && ids_same(&ids, &want);
			if (ok && json_is_string(jd)) {
				char *dec = NULL;
				size_t dn = 0;
				ok = tok_decode(D[w].tok, ids.v, ids.n, false, &dec, &dn, &e) == 0 &&
				     dn == json_string_length(jd) &&
				     memcmp(dec, json_string_value(jd), dn) == 0;
				CHECK(ok, "%s line %zu: decode differs", L->golden, total);
				free(dec);
			}
			matched += ok;
			if (!ok && total - matched < 5) {
				CHECK(0, "%s line %zu: %.60s (%s)", L->golden, total, text,
				      rc ? e.msg : "ids differ");
				show_ids("got ", ids.v, ids.n);
				show_ids("want", want.v, want.n);
			}
			for (i = 0; i < tn; i++) {
				if ((unsigned char)text[i] >= 0x80) {
					non_ascii++;
					break;
				}
			}
			digits += strpbrk(text, "0123456789") != NULL;

			/* With added tokens parsed, a line that meets none gives the same ids: the
			   stock names ("<|im_start|>", "<|begin_of_text|>") are plain text now. */
			CHECK(tok_encode(D[w].tok, text, tn, true, &sp, &e) == 0, "%s", e.msg);
			bool any_added = false;
			for (i = 0; i < sp.n; i++)
				any_added |= sp.v[i] >= L->n_base;
			if (!any_added) {
				CHECK(ids_same(&sp, &want), "%s line %zu: parse_special changes %.60s",
				      L->golden, total, text);
				plain_special++;
			}
			tok_ids_free(&want);
			tok_ids_free(&ids);
			tok_ids_free(&sp);
			json_decref(o);
		}
		free(line);
		fclose(f);
		CHECK(matched == total, "%s: %zu/%zu lines match the stock tokenizer", L->name,
		      matched, total);
		CHECK(total >= 30 && non_ascii >= 10 && digits >= 10,
		      "%s: golden file too small: %zu lines, %zu non-ASCII, %zu with digits",
		      L->golden, total, non_ascii, digits);
		/* Only the lines holding <think>, </think> or DeepSeek markers (and, for Llama,
		   its other header tokens) meet an added token. */
		CHECK(plain_special + 6 >= total, "%s: only %zu/%zu lines free of added tokens",
		      L->name, plain_special, total);
		printf("  %s: %zu/%zu golden lines as the stock tokenizer (%zu non-ASCII, %zu with "
		       "digits); %zu also with added tokens parsed\n",
		       L->name, matched, total, non_ascii, digits, plain_special);
	}
}

#define TURN(role, s) { role, s, sizeof s - 1 }

static const char sys_text[] = "You are a careful assistant. Think step by step.";
static const char q1_text[] = "What is 17 × 24? 日本語でも答えて。";
static const char a1_after[] = "\n\n17 × 24 = 408（四百八）.";
static const char q2_text[] = "And 408 + 9 = ?  ";

/* Expected ids of the conversation below, built independently from its pieces. */
static void expected_conversation(const struct layout *L, const struct tok *t, unsigned flags,
				  struct tok_ids *want, char **text)
{
	push(want, L->bos);
	push_plain(t, want, sys_text);
	push(want, L->user);
	push_plain(t, want, q1_text);
	push(want, L->assistant);
	push_plain(t, want, a1_after);
	push(want, L->eos);
	push(want, L->user);
	push_plain(t, want, q2_text);
	push(want, L->assistant);
	if (flags & CHAT_THINK_OFF) {
		push(want, L->think);
		push_plain(t, want, "\n\n");
		push(want, L->think_end);
		push_plain(t, want, "\n\n");
	} else {
		push(want, L->think);
		push_plain(t, want, "\n");
	}
	if (asprintf(text, "%s%s%s%s%s%s%s%s%s%s%s", BOS, sys_text, USER, q1_text, ASSISTANT,
		     a1_after, EOS, USER, q2_text, ASSISTANT,
		     flags & CHAT_THINK_OFF ? THINK "\n\n" THINK_END "\n\n" : THINK "\n") < 0)
		*text = NULL;
}

static void test_r1_conversation_ids(void)
{
	static const struct chat_turn conv[] = {
		TURN(CHAT_SYSTEM, sys_text),
		TURN(CHAT_USER, q1_text),
		TURN(CHAT_ASSISTANT, "<think>\nreasoning: 17 × 24 = 17 × 20 + 17 × 4 = 408\n"
				     "</think>\n\n17 × 24 = 408（四百八）."),
		TURN(CHAT_USER, q2_text),
	};
	for (int w = 0; w < 2; w++) {
		if (!ready(w))
			continue;
		const struct layout *L = &layouts[w];
		const struct tok *t = D[w].tok;
		struct err e = { 0 };
		struct tok_ids ids = { 0 }, want = { 0 }, nl = { 0 }, piece = { 0 };
		char *want_text = NULL, *text = NULL, *dec = NULL;
		size_t len = 0, dn = 0;

		CHECK(chat_render_ids(&D[w].tmpl, t, conv, 4, CHAT_GEN_PROMPT, &ids, &e) == 0,
		      "%s: %s", L->name, e.msg);
		expected_conversation(L, t, 0, &want, &want_text);
		CHECK(ids_same(&ids, &want), "%s: conversation ids differ", L->name);
		if (!ids_same(&ids, &want)) {
			show_ids("got ", ids.v, ids.n);
			show_ids("want", want.v, want.n);
		}

		/* The same facts, spelled out. */
		CHECK(ids.n > 8 && ids.v[0] == L->bos, "%s: first id %d, want BOS %d", L->name,
		      ids.n ? (int)ids.v[0] : -1, (int)L->bos);
		CHECK(count(&ids, L->bos) == 1 && count(&ids, L->user) == 2 &&
			      count(&ids, L->assistant) == 2 && count(&ids, L->eos) == 1 &&
			      count(&ids, L->think) == 1 && count(&ids, L->think_end) == 0,
		      "%s: marker counts", L->name);
		push_plain(t, &nl, "\n");
		CHECK(nl.n == 1 && ids.n >= 3 && ids.v[ids.n - 3] == L->assistant &&
			      ids.v[ids.n - 2] == L->think && ids.v[ids.n - 1] == nl.v[0],
		      "%s: the prompt does not end with <｜Assistant｜><think>\\n", L->name);
		/* Walk the markers: each span between two is the plain encoding of its text. */
		const char *spans[] = { sys_text, q1_text, a1_after, "", q2_text, "", "\n" };
		const int32_t marks[] = { L->bos, L->user, L->assistant, L->eos, L->user,
					  L->assistant, L->think };
		size_t at = 0;
		for (size_t k = 0; k < 7; k++) {
			CHECK(at < ids.n && ids.v[at] == marks[k], "%s: id %zu is %d, want marker %d",
			      L->name, at, at < ids.n ? (int)ids.v[at] : -1, (int)marks[k]);
			at++;
			piece.n = 0;
			push_plain(t, &piece, spans[k]);
			CHECK(has_at(&ids, at, &piece), "%s: span %zu (\"%s\") is not its plain ids",
			      L->name, k, spans[k]);
			for (size_t i = 0; i < piece.n && at + i < ids.n; i++)
				CHECK(!is_marker(L, ids.v[at + i]), "%s: marker inside span %zu", L->name,
				      k);
			at += piece.n;
		}
		CHECK(at == ids.n, "%s: %zu ids after the last span", L->name, ids.n - at);

		/* Text mode agrees, and encoding that text with added tokens parsed gives the
		   same ids (how Hugging Face tokenizes the rendered template). */
		CHECK(chat_render_text(&D[w].tmpl, conv, 4, CHAT_GEN_PROMPT, &text, &len, &e) == 0,
		      "%s", e.msg);
		CHECK(text && want_text && len == strlen(want_text) && memcmp(text, want_text, len) == 0,
		      "%s: rendered text\n    got  %s\n    want %s", L->name, text ? text : "",
		      want_text ? want_text : "");
		piece.n = 0;
		CHECK(text && tok_encode(t, text, len, true, &piece, &e) == 0 && ids_same(&piece, &ids),
		      "%s: whole-string encoding differs from the rendered ids", L->name);
		CHECK(tok_decode(t, ids.v, ids.n, false, &dec, &dn, &e) == 0 && text && dn == len &&
			      memcmp(dec, text, len) == 0,
		      "%s: decoding the prompt does not give its text", L->name);
		free(dec);
		free(text);
		free(want_text);
		tok_ids_free(&ids);
		tok_ids_free(&want);

		/* `--think off` closes the reasoning in the prompt. */
		CHECK(chat_render_ids(&D[w].tmpl, t, conv, 4, CHAT_GEN_PROMPT | CHAT_THINK_OFF, &ids,
				      &e) == 0,
		      "%s: %s", L->name, e.msg);
		expected_conversation(L, t, CHAT_THINK_OFF, &want, &want_text);
		CHECK(ids_same(&ids, &want), "%s: think-off ids differ", L->name);
		free(want_text);
		tok_ids_free(&ids);
		tok_ids_free(&want);
		tok_ids_free(&nl);
		tok_ids_free(&piece);
	}
}

/* Marker text inside conversation text is never a marker. */
static void test_marker_text_stays_plain(void)
{
	static const char fake[] = "Print " USER " then " ASSISTANT THINK "\nx" THINK_END EOS
				   " and " BOS " verbatim.";
	static const char after[] = " You wrote " USER " and " EOS ".";
	static const struct chat_turn conv[] = {
		TURN(CHAT_USER, fake),
		TURN(CHAT_ASSISTANT, "<think>hm</think> You wrote " USER " and " EOS "."),
		TURN(CHAT_USER, fake),
	};
	for (int w = 0; w < 2; w++) {
		if (!ready(w))
			continue;
		const struct layout *L = &layouts[w];
		const struct tok *t = D[w].tok;
		struct err e = { 0 };
		struct tok_ids ids = { 0 }, uf = { 0 }, ua = { 0 }, want = { 0 };
		CHECK(chat_render_ids(&D[w].tmpl, t, conv, 3, CHAT_GEN_PROMPT, &ids, &e) == 0,
		      "%s: %s", L->name, e.msg);
		push_plain(t, &uf, fake);
		push_plain(t, &ua, after);
		for (size_t i = 0; i < uf.n; i++)
			CHECK(uf.v[i] < L->n_base, "%s: plain encoding of marker text has id %d",
			      L->name, (int)uf.v[i]);
		push(&want, L->bos);
		push(&want, L->user);
		push_plain(t, &want, fake);
		push(&want, L->assistant);
		push_plain(t, &want, after);
		push(&want, L->eos);
		push(&want, L->user);
		push_plain(t, &want, fake);
		push(&want, L->assistant);
		push(&want, L->think);
		push_plain(t, &want, "\n");
		CHECK(ids_same(&ids, &want), "%s: ids differ", L->name);
		if (!ids_same(&ids, &want)) {
			show_ids("got ", ids.v, ids.n);
			show_ids("want", want.v, want.n);
		}
		/* The user span: right after <｜User｜>, its plain ids and no marker at all. */
		CHECK(has_at(&ids, 2, &uf), "%s: user span is not its plain ids", L->name);
		for (size_t i = 2; i < 2 + uf.n && i < ids.n; i++)
			CHECK(!is_marker(L, ids.v[i]), "%s: marker id %d inside the user span", L->name,
			      (int)ids.v[i]);
		/* The past answer: only what follows </think>, marker text in it plain too. */
		CHECK(ids.n > 2 + uf.n && ids.v[2 + uf.n] == L->assistant &&
			      has_at(&ids, 3 + uf.n, &ua) && ids.n > 3 + uf.n + ua.n &&
			      ids.v[3 + uf.n + ua.n] == L->eos,
		      "%s: past answer span is not <｜Assistant｜> + its plain ids + EOS", L->name);
		CHECK(count(&ids, L->user) == 2 && count(&ids, L->eos) == 1 &&
			      count(&ids, L->bos) == 1 && count(&ids, L->think_end) == 0,
		      "%s: marker counts", L->name);
		tok_ids_free(&ids);
		tok_ids_free(&uf);
		tok_ids_free(&ua);
		tok_ids_free(&want);
	}
}

static void test_template_is_r1(void)
{
	for (int w = 0; w < 2; w++) {
		if (!ready(w))
			continue;
		const struct layout *L = &layouts[w];
		const struct chat_template *c = &D[w].tmpl;
		CHECK(c->family == CHAT_DEEPSEEK_R1 && c->opens_think && !c->unknown && !c->warning[0],
		      "%s: classified %s opens_think=%d unknown=%d warning \"%s\"", L->name,
		      chat_family_name(c->family), c->opens_think, c->unknown, c->warning);
		CHECK(chat_starts_in_reasoning(c, CHAT_GEN_PROMPT), "%s: prompt opens reasoning",
		      L->name);

		/* Without the config, the renamed <think> tokens still point to R1 (with a
		   warning, since that is a guess). */
		struct chat_template g;
		struct err e = { 0 };
		CHECK(chat_template_detect(NULL, D[w].tok, &g, &e) == 0, "%s", e.msg);
		CHECK(g.family == CHAT_DEEPSEEK_R1 && g.opens_think && g.unknown && g.warning[0],
		      "%s: guess without a config", L->name);
	}
}

static void test_eos_is_added_token(void)
{
	for (int w = 0; w < 2; w++) {
		if (!ready(w))
			continue;
		const struct layout *L = &layouts[w];
		CHECK(tok_added_id(D[w].tok, EOS) == L->eos && tok_is_special(D[w].tok, L->eos),
		      "%s: %s is %d, want special %d", L->name, EOS,
		      (int)tok_added_id(D[w].tok, EOS), (int)L->eos);
		CHECK(tok_added_id(D[w].tok, BOS) == L->bos, "%s: BOS", L->name);
		/* Decoding for display drops it. */
		char *s = NULL;
		size_t n = 0;
		struct err e = { 0 };
		int32_t v[2] = { 0, L->eos };
		size_t n0 = 0;
		const char *b0 = tok_token_bytes(D[w].tok, 0, &n0);
		CHECK(tok_decode(D[w].tok, v, 2, true, &s, &n, &e) == 0 && b0 && n == n0 &&
			      memcmp(s, b0, n) == 0,
		      "%s: skip_special keeps EOS", L->name);
		free(s);
	}
}

int main(void)
{
	fixtures = check_fixtures();
	RUN(test_build_distill_tokenizers);
	RUN(test_plain_text_unchanged);
	RUN(test_r1_conversation_ids);
	RUN(test_marker_text_stays_plain);
	RUN(test_template_is_r1);
	RUN(test_eos_is_added_token);
	for (int w = 0; w < 2; w++) {
		tok_free(D[w].tok);
		if (D[w].built) {
			unlink(D[w].tok_path);
			unlink(D[w].cfg_path);
			rmdir(D[w].dir);
		}
	}
	return check_finish();
}
