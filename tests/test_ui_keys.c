/*
 * test_ui_keys.c — the key table and the help screen made from it (ui/keys.c), and the
 * slash-command parser (ui/slash.c).
 */
#include <curses.h>

#include "tests/check.h"
#include "ui/keys.h"
#include "ui/slash.h"

#define FN(k) (UI_KEY_FN | (k))

static void test_dispatch(void)
{
	CHECK(ui_key_action(UI_CTRL('t'), UI_CTX_INPUT) == UI_ACT_FOLD, "Ctrl-T while typing");
	CHECK(ui_key_action(UI_CTRL('t'), UI_CTX_PANE) == UI_ACT_FOLD, "Ctrl-T on a pane");
	CHECK(ui_key_action(UI_CTRL('c'), UI_CTX_INPUT) == UI_ACT_STOP, "Ctrl-C");
	CHECK(ui_key_action(UI_CTRL('n'), UI_CTX_INPUT) == UI_ACT_NEW, "Ctrl-N");
	CHECK(ui_key_action(UI_CTRL('o'), UI_CTX_PANE) == UI_ACT_BROWSER, "Ctrl-O");
	CHECK(ui_key_action(UI_CTRL('q'), UI_CTX_INPUT) == UI_ACT_QUIT, "Ctrl-Q");
	CHECK(ui_key_action('\t', UI_CTX_INPUT) == UI_ACT_FOCUS, "Tab");
	CHECK(ui_key_action(FN(KEY_F(1)), UI_CTX_INPUT) == UI_ACT_HELP, "F1");
	CHECK(ui_key_action(FN(KEY_PPAGE), UI_CTX_INPUT) == UI_ACT_PAGE_UP, "PgUp while typing");
	CHECK(ui_key_action(FN(KEY_END), UI_CTX_PANE) == UI_ACT_BOTTOM, "End on a pane");
	CHECK(ui_key_action('\r', UI_CTX_INPUT) == UI_ACT_SEND, "Enter sends");
	CHECK(ui_key_action(UI_KEY_ALT | '\r', UI_CTX_INPUT) == UI_ACT_NEWLINE, "Alt-Enter");
	/* Keys that must reach the input line untouched. */
	CHECK(ui_key_action('?', UI_CTX_INPUT) == UI_ACT_NONE, "'?' is typed in a question");
	CHECK(ui_key_action('?', UI_CTX_PANE) == UI_ACT_HELP, "'?' on a pane is help");
	CHECK(ui_key_action(FN(KEY_UP), UI_CTX_INPUT) == UI_ACT_NONE, "Up is input history");
	CHECK(ui_key_action(FN(KEY_UP), UI_CTX_PANE) == UI_ACT_LINE_UP, "Up scrolls a pane");
	CHECK(ui_key_action(FN(KEY_HOME), UI_CTX_INPUT) == UI_ACT_NONE, "Home edits the line");
	CHECK(ui_key_action('a', UI_CTX_INPUT) == UI_ACT_NONE, "letters are text");
	CHECK(ui_key_action(UI_CTRL('a'), UI_CTX_INPUT) == UI_ACT_NONE, "Ctrl-A is libedit's");
	CHECK(ui_key_action(0, UI_CTX_INPUT) == UI_ACT_NONE, "documentation rows never match");
}

static void test_table_consistent(void)
{
	for (const struct ui_key *a = ui_keys; a->act != UI_ACT_NONE; a++) {
		if (a == ui_keys)
			CHECK(a->name != NULL, "the first row has no name");
		if (!a->name)
			CHECK(a[-1].ctx == a->ctx || a[-1].act == a->act || a[-1].name,
			      "row without name after an unrelated row");
		CHECK(!a->name || (a->help && *a->help), "named row without help: %s", a->name);
		if (a->ctx == UI_CTX_DOC)
			continue;
		/* A key has one meaning in each context. */
		for (const struct ui_key *b = a + 1; b->act != UI_ACT_NONE; b++)
			CHECK(b->ctx == UI_CTX_DOC || b->key != a->key || !(b->ctx & a->ctx) ||
			      b->act == a->act, "key %d bound twice", a->key);
	}
}

static void test_help_text(void)
{
	char buf[8192];
	size_t n = ui_help_text(buf, sizeof buf, 18);
	CHECK(n > 0 && n < sizeof buf, "help length %zu", n);
	for (const struct ui_key *k = ui_keys; k->act != UI_ACT_NONE; k++)
		if (k->name)
			CHECK(strstr(buf, k->name) && strstr(buf, k->help), "help lacks %s", k->name);
	static const char *const must[] = {"Ctrl-T", "Ctrl-C", "Ctrl-N", "Ctrl-O", "Ctrl-Q",
					   "Tab", "PgUp", "Home/End", "Alt-Enter", "F1", "/export"};
	for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
		CHECK(strstr(buf, must[i]), "help does not mention %s", must[i]);
	char small[16];
	size_t need = ui_help_text(small, sizeof small, 18);
	CHECK(need == n && strlen(small) == sizeof small - 1, "truncation reports the full size");
}

static int parse(const char *s, struct ui_slash *out, struct err *e)
{
	return ui_slash_parse(s, strlen(s), out, e);
}

static void test_slash_parse(void)
{
	struct ui_slash s;
	struct err e = {0};
	CHECK(parse("what is 2+2?", &s, &e) == 0, "a question");
	CHECK(parse("//usr/bin is a folder?", &s, &e) == 0, "// escapes a slash");
	CHECK(parse("/new", &s, &e) == 1 && s.cmd == UI_CMD_NEW, "/new");
	CHECK(parse("/open 42", &s, &e) == 1 && s.cmd == UI_CMD_OPEN && s.id == 42, "/open");
	CHECK(parse("/export md", &s, &e) == 1 && s.cmd == UI_CMD_EXPORT && !s.json && !s.path[0],
	      "/export md");
	CHECK(parse("/export json /tmp/x.json", &s, &e) == 1 && s.json &&
	      !strcmp(s.path, "/tmp/x.json"), "/export json PATH");
	CHECK(parse("/set temperature 0.6", &s, &e) == 1 && s.cmd == UI_CMD_SET &&
	      s.key == UI_SET_TEMPERATURE && s.value == 0.6, "/set temperature");
	CHECK(parse("/set top-k 40", &s, &e) == 1 && s.key == UI_SET_TOP_K && s.value == 40,
	      "/set top-k (dash form)");
	CHECK(parse("/set max_tokens 100", &s, &e) == 1 && s.key == UI_SET_MAX_TOKENS, "max_tokens");
	CHECK(parse("/think off", &s, &e) == 1 && s.cmd == UI_CMD_THINK && !s.on, "/think off");
	CHECK(parse("/mtp off", &s, &e) == 1 && s.cmd == UI_CMD_MTP && s.mtp == 0, "/mtp off");
	CHECK(parse("/mtp 2", &s, &e) == 1 && s.mtp == 2, "/mtp 2");
	CHECK(parse("/theme light", &s, &e) == 1 && s.cmd == UI_CMD_THEME &&
	      !strcmp(s.name, "light"), "/theme");
	CHECK(parse("/info", &s, &e) == 1 && s.cmd == UI_CMD_INFO, "/info");
	CHECK(parse("/help", &s, &e) == 1 && s.cmd == UI_CMD_HELP, "/help");
	CHECK(parse("  ", &s, &e) == 0, "blank is not a command");
}

static void test_slash_errors(void)
{
	struct ui_slash s;
	struct err e = {0};
	CHECK(parse("/frobnicate", &s, &e) == ERR_USAGE && strstr(e.msg, "/help") &&
	      strstr(e.msg, "//"), "unknown command: %s", e.msg);
	CHECK(parse("/open", &s, &e) == ERR_USAGE && strstr(e.msg, "/open ID"), "usage: %s", e.msg);
	CHECK(parse("/open x", &s, &e) == ERR_USAGE, "/open x");
	CHECK(parse("/open 1 2", &s, &e) == ERR_USAGE, "extra argument");
	CHECK(parse("/export pdf", &s, &e) == ERR_USAGE && strstr(e.msg, "pdf"), "format");
	CHECK(parse("/set temperature hot", &s, &e) == ERR_USAGE && strstr(e.msg, "hot"), "value");
	CHECK(parse("/set temperature -1", &s, &e) == ERR_USAGE, "negative temperature");
	CHECK(parse("/set top_p 1.5", &s, &e) == ERR_USAGE, "top_p above 1");
	CHECK(parse("/set top_k 2.5", &s, &e) == ERR_USAGE, "fractional top_k");
	CHECK(parse("/set colour 1", &s, &e) == ERR_USAGE && strstr(e.msg, "colour"), "key");
	CHECK(parse("/think maybe", &s, &e) == ERR_USAGE, "/think maybe");
	CHECK(parse("/mtp lots", &s, &e) == ERR_USAGE, "/mtp lots");
	CHECK(parse("/", &s, &e) == ERR_USAGE, "lone slash");
}

int main(void)
{
	RUN(test_dispatch);
	RUN(test_table_consistent);
	RUN(test_help_text);
	RUN(test_slash_parse);
	RUN(test_slash_errors);
	return check_finish();
}
