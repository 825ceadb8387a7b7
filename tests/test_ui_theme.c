/*
 * test_ui_theme.c — theme files: parser, messages naming the line, the compiled-in
 * default matching themes/default-dark.theme, every shipped theme parsing, colour
 * matching (ui/theme.c).
 */
#include <dirent.h>

#include "tests/check.h"
#include "ui/theme.h"

static int parse(const char *text, struct ui_theme *t, struct err *e)
{
	return ui_theme_parse(text, strlen(text), "test.theme", t, e);
}

static void test_builtin(void)
{
	struct ui_theme t;
	ui_theme_builtin(UI_THEME_DEFAULT_DARK, &t);
	CHECK(!strcmp(t.name, "default-dark"), "name '%s'", t.name);
	CHECK(t.el[UI_EL_ANSWER].fg == 252 && t.el[UI_EL_CODE].bg == 236, "colours");
	CHECK(t.el[UI_EL_TITLE_FOCUS].attr & UI_A_BOLD, "title.focus bold");
	CHECK(t.uses_color, "default uses colour");
	ui_theme_builtin(UI_THEME_MONOCHROME, &t);
	CHECK(!strcmp(t.name, "monochrome") && !t.uses_color, "monochrome has no colour");
	for (int i = 0; i < UI_EL_COUNT; i++)
		CHECK(t.el[i].fg == UI_COLOR_DEFAULT && t.el[i].bg == UI_COLOR_DEFAULT,
		      "monochrome %s has a colour", ui_el_names[i]);
	CHECK(t.el[UI_EL_SELECTED].attr & UI_A_REVERSE, "selection visible without colour");
}

static void test_parse_values(void)
{
	struct ui_theme t;
	struct err e = {0};
	int rc = parse("# comment\n\nname = x\nnormal.bg = #002b36\nnormal.fg = bright-blue\n"
		       "answer.fg = 252   # grey\ntitle.focus.attr = bold, reverse\n"
		       "code.bg = default\r\n", &t, &e);
	CHECK(rc == 0, "parse failed: %s", e.msg);
	CHECK(!strcmp(t.name, "x"), "name");
	CHECK(t.el[UI_EL_NORMAL].bg == (UI_COLOR_RGB | 0x002b36), "rgb %x", t.el[UI_EL_NORMAL].bg);
	CHECK(t.el[UI_EL_NORMAL].fg == 12, "bright-blue is 12");
	CHECK(t.el[UI_EL_ANSWER].fg == 252, "trailing comment");
	CHECK(t.el[UI_EL_TITLE_FOCUS].attr == (UI_A_BOLD | UI_A_REVERSE), "attrs");
	CHECK(t.el[UI_EL_CODE].bg == UI_COLOR_DEFAULT, "explicit default");
	/* Elements the file does not set follow its normal colours. */
	CHECK(t.el[UI_EL_REASONING].bg == (UI_COLOR_RGB | 0x002b36) &&
	      t.el[UI_EL_REASONING].fg == 12, "unset element inherits normal");
	CHECK(t.el[UI_EL_CODE].bg == UI_COLOR_DEFAULT, "set element keeps its value");
}

static void test_parse_errors(void)
{
	struct ui_theme t;
	struct err e = {0};
	CHECK(parse("name = x\nanswer.fg = 300\n", &t, &e) == ERR_FORMAT, "300 accepted");
	CHECK(strstr(e.msg, "test.theme line 2") && strstr(e.msg, "300"), "msg: %s", e.msg);
	CHECK(parse("reasonng.fg = 1\n", &t, &e) == ERR_FORMAT, "typo accepted");
	CHECK(strstr(e.msg, "line 1") && strstr(e.msg, "'reasonng'") && strstr(e.msg, "reasoning"),
	      "msg names the element and lists the known ones: %s", e.msg);
	CHECK(parse("answer.fg 1\n", &t, &e) == ERR_FORMAT && strstr(e.msg, "line 1"), "no '='");
	CHECK(parse("answer.colour = 1\n", &t, &e) == ERR_FORMAT && strstr(e.msg, "colour"),
	      "bad property: %s", e.msg);
	CHECK(parse("# a\n\n# c\nanswer.attr = blink\n", &t, &e) == ERR_FORMAT &&
	      strstr(e.msg, "line 4") && strstr(e.msg, "blink"), "bad attr: %s", e.msg);
	CHECK(parse("answer.fg = #12345\n", &t, &e) == ERR_FORMAT, "short hex accepted");
	CHECK(parse("answer.fg = #12345g\n", &t, &e) == ERR_FORMAT, "bad hex accepted");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	static char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void test_shipped_themes(void)
{
	const char *text = slurp("themes/default-dark.theme");
	if (!text) {
		SKIP("themes/ not found (run from the project root)");
		return;
	}
	CHECK(!strcmp(text, ui_theme_builtin_text(UI_THEME_DEFAULT_DARK)),
	      "themes/default-dark.theme differs from the compiled-in default");
	text = slurp("themes/monochrome.theme");
	CHECK(text && !strcmp(text, ui_theme_builtin_text(UI_THEME_MONOCHROME)),
	      "themes/monochrome.theme differs from the compiled-in one");
	static const char *const required[] = {"default-dark", "light", "solarized-dark",
					       "high-contrast", "monochrome"};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		char path[128];
		snprintf(path, sizeof path, "themes/%s.theme", required[i]);
		struct ui_theme t;
		struct err e = {0};
		CHECK(ui_theme_load(path, &t, &e) == 0, "%s", e.msg);
		CHECK(!strcmp(t.name, required[i]), "%s is named '%s'", path, t.name);
	}
	DIR *d = opendir("themes");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[512];
		snprintf(path, sizeof path, "themes/%s", de->d_name);
		struct ui_theme t;
		struct err e = {0};
		CHECK(ui_theme_load(path, &t, &e) == 0, "%s", e.msg);
		n++;
	}
	if (d)
		closedir(d);
	CHECK(n >= 5, "only %d theme files", n);
}

static void test_load_missing(void)
{
	struct ui_theme t;
	struct err e = {0};
	CHECK(ui_theme_load("no-such-theme-xyz", &t, &e) == ERR_IO, "missing theme loaded");
	CHECK(strstr(e.msg, "no-such-theme-xyz") && strstr(e.msg, "not found"), "msg: %s", e.msg);
	CHECK(ui_theme_load("/nonexistent/dir/x.theme", &t, &e) == ERR_IO, "missing path");
}

static void test_color_index(void)
{
	CHECK(ui_color_index(UI_COLOR_DEFAULT, 256) == -1, "default");
	CHECK(ui_color_index(196, 256) == 196, "index kept");
	CHECK(ui_color_index(UI_COLOR_RGB | 0xff0000, 256) == 196 ||
	      ui_color_index(UI_COLOR_RGB | 0xff0000, 256) == 9, "pure red");
	CHECK(ui_color_index(196, 8) == 1, "red folds to red in 8 colours: %d",
	      ui_color_index(196, 8));
	CHECK(ui_color_index(UI_COLOR_RGB | 0x000000, 8) == 0, "black");
	CHECK(ui_color_index(UI_COLOR_RGB | 0xffffff, 16) == 15, "white in 16");
	CHECK(ui_color_index(236, 8) == 0, "dark grey folds to black in 8: %d",
	      ui_color_index(236, 8));
	CHECK(ui_color_index(UI_COLOR_RGB | 0x002b36, 256) >= 16, "solarized base03 in the cube");
	for (int i = 0; i < 256; i++) {
		int k = ui_color_index(i, 8);
		CHECK(k >= 0 && k < 8, "index %d -> %d in 8 colours", i, k);
	}
}

int main(void)
{
	RUN(test_builtin);
	RUN(test_parse_values);
	RUN(test_parse_errors);
	RUN(test_shipped_themes);
	RUN(test_load_missing);
	RUN(test_color_index);
	return check_finish();
}
