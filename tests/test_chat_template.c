/*
 * test_chat_template.c — engine/chat_template.c: template detection, the rendered
 * DeepSeek V3 / R1 prompt text, and its ids (scaffolding as added-token ids, all
 * conversation text as plain text).
 *
 * The reference is ../shared/fixtures/tokenizer/golden-chat.jsonl (Hugging Face's
 * apply_chat_template with the real Jinja templates); tests that need it SKIP without
 * fixtures. The rest use hand-written expectations and a tiny byte-level tokenizer.
 */
#include <jansson.h>
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

#define T(role, s) { role, s, sizeof s - 1 }

static int render_is(const struct chat_template *t, const struct chat_turn *turns, size_t n,
		     unsigned flags, const char *want)
{
	char *out = NULL;
	size_t len = 0;
	struct err e = { 0 };
	int rc = chat_render_text(t, turns, n, flags, &out, &len, &e);
	int ok = rc == 0 && out && len == strlen(want) && memcmp(out, want, len) == 0 &&
		 out[len] == '\0';
	if (!ok)
		fprintf(stderr, "  rendered: %s\n  wanted:   %s\n", rc ? e.msg : out, want);
	free(out);
	return ok;
}

static void test_render_text_v3(void)
{
	struct chat_template t;
	chat_template_default(CHAT_DEEPSEEK_V3, &t);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && !t.opens_think && !t.unknown && !t.warning[0],
	      "default V3");
	const struct chat_turn conv[] = {
		T(CHAT_USER, "q1"),
		T(CHAT_SYSTEM, "S1"),
		T(CHAT_ASSISTANT, "<think>r</think>a1"),
		T(CHAT_SYSTEM, ""),
		T(CHAT_SYSTEM, "S3"),
		T(CHAT_USER, "q2"),
	};
	/* System prompts are gathered at the top and joined by a blank line, empty ones
	   included; V3 keeps past answers verbatim. */
	CHECK(render_is(&t, conv, 6, CHAT_GEN_PROMPT,
			BOS "S1\n\n\n\nS3" USER "q1" ASSISTANT "<think>r</think>a1" EOS USER "q2" ASSISTANT),
	      "V3 conversation");
	CHECK(render_is(&t, conv, 6, 0,
			BOS "S1\n\n\n\nS3" USER "q1" ASSISTANT "<think>r</think>a1" EOS USER "q2"),
	      "V3 without generation prompt");
	CHECK(render_is(&t, conv, 1, CHAT_GEN_PROMPT | CHAT_THINK_OFF, BOS USER "q1" ASSISTANT),
	      "think off is a no-op for V3");
	CHECK(render_is(&t, NULL, 0, CHAT_GEN_PROMPT, BOS ASSISTANT), "empty conversation");
	CHECK(render_is(&t, NULL, 0, 0, BOS), "nothing at all");
	CHECK(!chat_starts_in_reasoning(&t, CHAT_GEN_PROMPT), "V3 never starts reasoning");
}

static void test_render_text_r1(void)
{
	struct chat_template t;
	chat_template_default(CHAT_DEEPSEEK_R1, &t);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && t.opens_think, "default R1");
	const struct chat_turn conv[] = {
		T(CHAT_SYSTEM, "Be brief."),
		T(CHAT_USER, "q1"),
		T(CHAT_ASSISTANT, "<think>\nr1\n</think>\n\na1"),
		T(CHAT_USER, "q2"),
		T(CHAT_ASSISTANT, "<think>x</think>y</think>z"),
		T(CHAT_USER, "q3"),
		T(CHAT_ASSISTANT, "no markers"),
		T(CHAT_USER, "q4"),
	};
	CHECK(render_is(&t, conv, 8, CHAT_GEN_PROMPT,
			BOS "Be brief." USER "q1" ASSISTANT "\n\na1" EOS USER "q2" ASSISTANT "z" EOS
			USER "q3" ASSISTANT "no markers" EOS USER "q4" ASSISTANT "<think>\n"),
	      "R1 conversation: reasoning of past answers dropped");
	CHECK(render_is(&t, conv, 8, CHAT_GEN_PROMPT | CHAT_THINK_OFF,
			BOS "Be brief." USER "q1" ASSISTANT "\n\na1" EOS USER "q2" ASSISTANT "z" EOS
			USER "q3" ASSISTANT "no markers" EOS USER "q4" ASSISTANT
			"<think>\n\n</think>\n\n"),
	      "R1 with thinking off");
	CHECK(render_is(&t, conv, 3, 0, BOS "Be brief." USER "q1" ASSISTANT "\n\na1" EOS),
	      "R1 without generation prompt");
	CHECK(chat_starts_in_reasoning(&t, CHAT_GEN_PROMPT), "R1 prompt opens reasoning");
	CHECK(!chat_starts_in_reasoning(&t, CHAT_GEN_PROMPT | CHAT_THINK_OFF), "think off");
	CHECK(!chat_starts_in_reasoning(&t, 0), "no generation prompt");

	/* An R1-family template whose generation prompt does not open <think>. */
	t.opens_think = false;
	CHECK(render_is(&t, conv + 1, 1, CHAT_GEN_PROMPT, BOS USER "q1" ASSISTANT),
	      "R1 without an opening <think>");
	CHECK(!chat_starts_in_reasoning(&t, CHAT_GEN_PROMPT), "opens_think false");
}

static void test_render_errors(void)
{
	struct chat_template t;
	chat_template_default(CHAT_DEEPSEEK_R1, &t);
	struct chat_turn bad[] = { T(CHAT_USER, "a"), { (enum chat_role)7, "x", 1 } };
	char *out = (char *)"untouched";
	size_t len = 99;
	struct err e = { 0 };
	CHECK(chat_render_text(&t, bad, 2, CHAT_GEN_PROMPT, &out, &len, &e) == ERR_USAGE,
	      "unknown role accepted");
	CHECK(out == NULL && len == 0, "outputs not cleared on error");
	CHECK(strstr(e.msg, "turn 1") != NULL, "message does not name the turn: %s", e.msg);
	struct chat_turn null_text[] = { { CHAT_USER, NULL, 3 } };
	CHECK(chat_render_text(&t, null_text, 1, 0, &out, &len, &e) == ERR_USAGE, "NULL text");
	struct chat_turn empty[] = { { CHAT_USER, NULL, 0 } };
	CHECK(render_is(&t, empty, 1, 0, BOS USER), "NULL text of length 0 is empty");
}

/* ---- detection ---- */

static const char r1_like[] =
	"{% if add_generation_prompt %}{{'<｜User｜>' + m}}{% set c = c.split('</think>')[-1] %}"
	"{{'<｜Assistant｜><think>\\n'}}{% endif %}";

static void test_classify(void)
{
	struct chat_template t;
	chat_template_classify(r1_like, strlen(r1_like), "x", &t);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && t.opens_think && !t.unknown, "R1-like");

	static const char r1_no_open[] =
		"{{'<｜User｜>'}}{% set c = c.split('</think>')[-1] %}{{'<｜Assistant｜>'}}";
	chat_template_classify(r1_no_open, strlen(r1_no_open), "x", &t);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && !t.opens_think && !t.unknown,
	      "R1 family without an opening <think>");

	static const char v3_like[] = "{{bos_token}}{{'<｜User｜>' + c}}{{'<｜Assistant｜>'}}";
	chat_template_classify(v3_like, strlen(v3_like), "x", &t);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && !t.unknown && !t.warning[0], "V3-like");

	static const char chatml[] =
		"{% for m in messages %}<|im_start|>{{m.role}}\n{{m.content}}<|im_end|>{% endfor %}";
	chat_template_classify(chatml, strlen(chatml), "model/tokenizer_config.json", &t);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && t.unknown, "unknown template falls back to V3");
	CHECK(strstr(t.warning, "model/tokenizer_config.json") && strstr(t.warning, "V3"),
	      "warning should name the file and the fallback: %s", t.warning);
}

static void test_from_config(void)
{
	struct chat_template t;
	struct err e = { 0 };
	json_t *cfg = json_pack("{s:s, s:s}", "bos_token", "x", "chat_template", r1_like);
	char *js = json_dumps(cfg, 0);
	CHECK(chat_template_from_config(js, strlen(js), "cfg", NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && t.opens_think && !t.unknown, "string form");
	free(js);
	json_decref(cfg);

	/* Hugging Face's list form: the "default" entry wins. */
	cfg = json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "chat_template", "name", "tool_use",
			"template", "{{'<｜User｜>'}}{{'<｜Assistant｜>'}}", "name", "default",
			"template", r1_like);
	js = json_dumps(cfg, 0);
	CHECK(chat_template_from_config(js, strlen(js), "cfg", NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && !t.unknown, "list form");
	free(js);
	json_decref(cfg);

	static const char none[] = "{\"bos_token\": \"x\"}";
	CHECK(chat_template_from_config(none, strlen(none), "cfg", NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && t.unknown && strstr(t.warning, "cfg"),
	      "no template, no tokenizer: V3 with a warning");

	static const char broken[] = "{\"chat_template\": ";
	CHECK(chat_template_from_config(broken, strlen(broken), "cfg", NULL, &t, &e) == ERR_FORMAT,
	      "malformed JSON accepted");
	CHECK(strstr(e.msg, "cfg") != NULL, "message does not name the file: %s", e.msg);
	static const char array[] = "[1, 2]";
	CHECK(chat_template_from_config(array, strlen(array), "cfg", NULL, &t, &e) == ERR_FORMAT,
	      "non-object accepted");
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_detect_files(void)
{
	char dir[] = "/tmp/ponder_chat_XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp failed");
		return;
	}
	char cfg[256], jin[256];
	snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
	snprintf(jin, sizeof jin, "%s/chat_template.jinja", dir);
	struct chat_template t;
	struct err e = { 0 };

	CHECK(chat_template_detect(cfg, NULL, &t, &e) == 0, "missing file: %s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && t.unknown && t.warning[0], "missing file guess");
	CHECK(chat_template_detect(NULL, NULL, &t, &e) == 0 && t.unknown, "NULL path");

	CHECK(write_file(cfg, "{\"model_max_length\": 4096}") == 0, "write");
	CHECK(write_file(jin, r1_like) == 0, "write");
	CHECK(chat_template_detect(cfg, NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && !t.unknown, "chat_template.jinja beside the config");

	CHECK(write_file(cfg, "{\"chat_template\": 3,") == 0, "write");
	CHECK(chat_template_detect(cfg, NULL, &t, &e) == ERR_FORMAT, "broken config accepted");
	CHECK(strstr(e.msg, cfg) != NULL, "message does not name the file: %s", e.msg);

	unlink(cfg);
	unlink(jin);
	rmdir(dir);
}

/* ---- ids with a tiny byte-level tokenizer (no merges: plain text = its bytes) ---- */

/* Added tokens follow the vocabulary, as Hugging Face numbers them. */
enum { ID_BOS = 256, ID_EOS, ID_USER, ID_ASSISTANT, ID_THINK, ID_THINK_END };

static size_t byte_char(unsigned b, char *out)
{
	unsigned cp = b;
	if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
		cp = 256;
		for (unsigned x = 0; x < b; x++)
			if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)))
				cp++;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xC0 | (cp >> 6));
	out[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

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

static json_t *added(int id, const char *content, bool special)
{
	return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
			 "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", !special,
			 "special", special);
}

static struct tok *tiny_tok(bool with_think)
{
	json_t *root = json_loads(tiny_pipeline, 0, NULL);
	json_t *vocab = json_object(), *add = json_array();
	for (unsigned i = 0; i < 256; i++) {
		char key[3] = { 0 };
		byte_char(i, key);
		json_object_set_new(vocab, key, json_integer(i));
	}
	json_array_append_new(add, added(ID_BOS, BOS, true));
	json_array_append_new(add, added(ID_EOS, EOS, true));
	json_array_append_new(add, added(ID_USER, USER, false));
	json_array_append_new(add, added(ID_ASSISTANT, ASSISTANT, false));
	if (with_think) {
		json_array_append_new(add, added(ID_THINK, "<think>", false));
		json_array_append_new(add, added(ID_THINK_END, "</think>", false));
	}
	json_object_set_new(root, "version", json_string("1.0"));
	json_object_set_new(root, "truncation", json_null());
	json_object_set_new(root, "padding", json_null());
	json_object_set_new(root, "added_tokens", add);
	json_object_set_new(root, "model",
			    json_pack("{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:o, s:[]}", "type", "BPE",
				      "dropout", "unk_token", "continuing_subword_prefix",
				      "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0,
				      "vocab", vocab, "merges"));
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

/* Expected ids: a string where each byte is its own id, with \x01..\x06 standing for
   BOS, EOS, User, Assistant, <think>, </think>. */
static size_t expect(const char *spec, int32_t *out)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)spec; *p; p++)
		out[n++] = *p >= 1 && *p <= 6 ? ID_BOS + (*p - 1) : *p;
	return n;
}

static int ids_equal(const struct tok_ids *got, const int32_t *want, size_t n, const char *what)
{
	int ok = got->n == n && memcmp(got->v, want, n * sizeof *want) == 0;
	if (!ok) {
		fprintf(stderr, "  %s: got %zu ids:", what, got->n);
		for (size_t i = 0; i < got->n; i++)
			fprintf(stderr, " %d", got->v[i]);
		fprintf(stderr, "\n  want %zu:", n);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %d", want[i]);
		fputc('\n', stderr);
	}
	return ok;
}

static void test_render_ids_tiny(void)
{
	struct tok *with = tiny_tok(true), *without = tiny_tok(false);
	if (!with || !without) {
		CHECK(0, "tiny tokenizer did not load");
		goto out;
	}
	struct chat_template t;
	chat_template_default(CHAT_DEEPSEEK_R1, &t);
	const struct chat_turn conv[] = {
		T(CHAT_SYSTEM, "S"),
		T(CHAT_USER, "a" EOS USER "b<think>"),
		T(CHAT_ASSISTANT, "<think>r</think>\n\nok"),
		T(CHAT_USER, "c"),
	};
	struct tok_ids ids = { 0 };
	struct err e = { 0 };
	int32_t want[256];
	size_t n;

	/* Marker text inside a user turn stays bytes; scaffolding markers are ids. */
	CHECK(chat_render_ids(&t, with, conv, 4, CHAT_GEN_PROMPT, &ids, &e) == 0, "%s", e.msg);
	n = expect("\x01S\x03" "a" EOS USER "b<think>\x04\n\nok\x02\x03" "c\x04\x05\n", want);
	CHECK(ids_equal(&ids, want, n, "R1 ids"), "R1 ids differ");

	/* Appends; thinking off closes the reasoning with ids. */
	CHECK(chat_render_ids(&t, with, conv + 3, 1, CHAT_GEN_PROMPT | CHAT_THINK_OFF, &ids, &e) == 0,
	      "%s", e.msg);
	n += expect("\x01\x03" "c\x04\x05\n\n\x06\n\n", want + n);
	CHECK(ids_equal(&ids, want, n, "appended think-off ids"), "think-off ids differ");

	/* A tokenizer without <think> tokens: the markers are plain text. */
	ids.n = 0;
	CHECK(chat_render_ids(&t, without, conv + 3, 1, CHAT_GEN_PROMPT | CHAT_THINK_OFF, &ids, &e) == 0,
	      "%s", e.msg);
	n = expect("\x01\x03" "c\x04<think>\n\n</think>\n\n", want);
	CHECK(ids_equal(&ids, want, n, "no think tokens"), "ids differ");

	/* On error the caller's ids are left as they were. */
	struct chat_turn bad[] = { T(CHAT_USER, "x"), { (enum chat_role)9, "y", 1 } };
	size_t before = ids.n;
	CHECK(chat_render_ids(&t, with, bad, 2, 0, &ids, &e) == ERR_USAGE, "bad role");
	CHECK(ids.n == before, "ids changed on error");
	CHECK(chat_render_ids(&t, NULL, conv, 1, 0, &ids, &e) == ERR_USAGE, "NULL tokenizer");
	tok_ids_free(&ids);
out:
	tok_free(with);
	tok_free(without);
}

/* ---- the golden conversations ---- */

static int load_fixture(const char *fx, const char *name, struct tok **tok,
			struct chat_template *t)
{
	char path[512];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/tokenizer/%s/tokenizer.json", fx, name);
	if (tok_load(path, tok, &e) != 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return -1;
	}
	snprintf(path, sizeof path, "%s/tokenizer/%s/tokenizer_config.json", fx, name);
	if (chat_template_detect(path, *tok, t, &e) != 0) {
		fprintf(stderr, "  %s\n", e.msg);
		return -1;
	}
	return 0;
}

static void test_detect_real(void)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char path[512];
	struct chat_template t;
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/tokenizer/deepseek-v3/tokenizer_config.json", fx);
	CHECK(chat_template_detect(path, NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_V3 && !t.opens_think && !t.unknown && !t.warning[0],
	      "V3 config detected as %s", chat_family_name(t.family));
	snprintf(path, sizeof path, "%s/tokenizer/deepseek-r1/tokenizer_config.json", fx);
	CHECK(chat_template_detect(path, NULL, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && t.opens_think && !t.unknown && !t.warning[0],
	      "R1 config detected as %s", chat_family_name(t.family));

	/* No config: the R1 tokenizer's <think> tokens decide. */
	struct tok *r1 = NULL;
	snprintf(path, sizeof path, "%s/tokenizer/deepseek-r1/tokenizer.json", fx);
	CHECK(tok_load(path, &r1, &e) == 0, "%s", e.msg);
	CHECK(chat_template_detect(NULL, r1, &t, &e) == 0, "%s", e.msg);
	CHECK(t.family == CHAT_DEEPSEEK_R1 && t.opens_think && t.unknown && t.warning[0],
	      "guess from the R1 tokenizer");
	tok_free(r1);
}

static void test_golden_chat(void)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/tokenizer/golden-chat.jsonl", fx);
	FILE *f = fopen(path, "r");
	if (!f) {
		SKIP("no golden-chat.jsonl");
		return;
	}
	struct tok *tok[2] = { NULL, NULL };
	struct chat_template tmpl[2];
	static const char *names[2] = { "deepseek-v3", "deepseek-r1" };
	for (int i = 0; i < 2; i++)
		if (load_fixture(fx, names[i], &tok[i], &tmpl[i]) != 0) {
			CHECK(0, "%s fixtures did not load", names[i]);
			goto out;
		}

	char line[1 << 16];
	int lineno = 0, texts = 0, idsets = 0, injections = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		json_error_t je;
		json_t *g = json_loads(line, 0, &je);
		CHECK(g, "line %d: %s", lineno, je.text);
		if (!g)
			continue;
		const char *name = json_string_value(json_object_get(g, "template"));
		int w = name && strcmp(name, "deepseek-r1") == 0 ? 1 : 0;
		CHECK(name && strcmp(name, names[w]) == 0, "line %d: template %s", lineno, name);
		unsigned flags = json_is_true(json_object_get(g, "add_generation_prompt"))
					 ? CHAT_GEN_PROMPT : 0;
		json_t *msgs = json_object_get(g, "messages"), *m;
		struct chat_turn turns[32];
		size_t n = 0, i;
		json_array_foreach(msgs, i, m) {
			const char *role = json_string_value(json_object_get(m, "role"));
			json_t *c = json_object_get(m, "content");
			if (n == 32 || !role || !json_is_string(c))
				break;
			turns[n].role = strcmp(role, "system") == 0 ? CHAT_SYSTEM
					: strcmp(role, "user") == 0 ? CHAT_USER : CHAT_ASSISTANT;
			CHECK(strcmp(role, "system") == 0 || strcmp(role, "user") == 0 ||
				      strcmp(role, "assistant") == 0, "line %d: role %s", lineno, role);
			turns[n].text = json_string_value(c);
			turns[n].len = json_string_length(c);
			n++;
		}
		CHECK(n == json_array_size(msgs), "line %d: messages not understood", lineno);

		json_t *rendered = json_object_get(g, "rendered");
		if (json_is_string(rendered)) {
			char *out = NULL;
			size_t len = 0;
			struct err e = { 0 };
			CHECK(chat_render_text(&tmpl[w], turns, n, flags, &out, &len, &e) == 0, "%s",
			      e.msg);
			CHECK(out && len == json_string_length(rendered) &&
				      memcmp(out, json_string_value(rendered), len) == 0,
			      "line %d: rendered text differs:\n  got  %s\n  want %s", lineno,
			      out ? out : "", json_string_value(rendered));
			texts++;
			/* For ordinary text the piecewise ids equal encoding the whole string with
			   added tokens parsed, as Hugging Face does. */
			struct tok_ids whole = { 0 };
			CHECK(tok_encode(tok[w], out, len, true, &whole, &e) == 0, "%s", e.msg);
			json_t *gi = json_object_get(g, "ids");
			int same = whole.n == json_array_size(gi);
			for (size_t k = 0; same && k < whole.n; k++)
				same = whole.v[k] == json_integer_value(json_array_get(gi, k));
			CHECK(same, "line %d: whole-string encoding differs from golden ids", lineno);
			tok_ids_free(&whole);
			free(out);
		} else {
			injections++;
		}

		struct tok_ids ids = { 0 };
		struct err e = { 0 };
		CHECK(chat_render_ids(&tmpl[w], tok[w], turns, n, flags, &ids, &e) == 0, "%s", e.msg);
		json_t *gi = json_object_get(g, "ids");
		int same = ids.n == json_array_size(gi);
		for (size_t k = 0; same && k < ids.n; k++)
			same = ids.v[k] == json_integer_value(json_array_get(gi, k));
		if (!same) {
			fprintf(stderr, "  line %d: got %zu ids:", lineno, ids.n);
			for (size_t k = 0; k < ids.n; k++)
				fprintf(stderr, " %d", ids.v[k]);
			fprintf(stderr, "\n  golden %zu:", json_array_size(gi));
			for (size_t k = 0; k < json_array_size(gi); k++)
				fprintf(stderr, " %lld", json_integer_value(json_array_get(gi, k)));
			fputc('\n', stderr);
		}
		CHECK(same, "line %d: ids differ from golden", lineno);
		idsets++;
		tok_ids_free(&ids);
		json_decref(g);
	}
	CHECK(idsets >= 17 && texts >= 14 && injections >= 3,
	      "golden file smaller than expected: %d lines, %d texts, %d injection cases", idsets,
	      texts, injections);
out:
	fclose(f);
	tok_free(tok[0]);
	tok_free(tok[1]);
}

/* Plain text between two added tokens is encoded as one run, so piecewise ids equal the
   whole-string encoding even where whitespace joins pieces ("x " + "\n\n" + " y"). */
static void test_piecewise_equals_whole(void)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return;
	}
	static const struct chat_turn convs[][4] = {
		{ T(CHAT_SYSTEM, "x "), T(CHAT_SYSTEM, " y"), T(CHAT_USER, "  hi  "),
		  T(CHAT_ASSISTANT, " \n") },
		{ T(CHAT_SYSTEM, "1"), T(CHAT_SYSTEM, "2"), T(CHAT_USER, "3\n\n"),
		  T(CHAT_ASSISTANT, "<think>a</think>\n\n\n 4") },
		{ T(CHAT_USER, "\n"), T(CHAT_USER, "\t"), T(CHAT_ASSISTANT, ""),
		  T(CHAT_USER, "日本語 😀") },
	};
	struct tok *tok[2] = { NULL, NULL };
	struct chat_template tmpl[2];
	static const char *names[2] = { "deepseek-v3", "deepseek-r1" };
	for (int w = 0; w < 2; w++)
		if (load_fixture(fx, names[w], &tok[w], &tmpl[w]) != 0) {
			CHECK(0, "%s fixtures did not load", names[w]);
			goto out;
		}
	for (int w = 0; w < 2; w++)
		for (size_t c = 0; c < sizeof convs / sizeof *convs; c++)
			for (unsigned flags = 0; flags < 4; flags++) {
				char *text = NULL;
				size_t len = 0;
				struct tok_ids a = { 0 }, b = { 0 };
				struct err e = { 0 };
				CHECK(chat_render_text(&tmpl[w], convs[c], 4, flags, &text, &len, &e) == 0,
				      "%s", e.msg);
				CHECK(chat_render_ids(&tmpl[w], tok[w], convs[c], 4, flags, &a, &e) == 0,
				      "%s", e.msg);
				CHECK(tok_encode(tok[w], text, len, true, &b, &e) == 0, "%s", e.msg);
				CHECK(a.n == b.n && memcmp(a.v, b.v, a.n * sizeof *a.v) == 0,
				      "%s conversation %zu flags %u: piecewise ids differ", names[w], c,
				      flags);
				tok_ids_free(&a);
				tok_ids_free(&b);
				free(text);
			}
out:
	tok_free(tok[0]);
	tok_free(tok[1]);
}

int main(void)
{
	RUN(test_render_text_v3);
	RUN(test_render_text_r1);
	RUN(test_render_errors);
	RUN(test_classify);
	RUN(test_from_config);
	RUN(test_detect_files);
	RUN(test_render_ids_tiny);
	RUN(test_detect_real);
	RUN(test_golden_chat);
	RUN(test_piecewise_equals_whole);
	return check_finish();
}
