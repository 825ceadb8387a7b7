/*
 * theme.c — theme files: parser, compiled-in themes, lookup on disk, colour matching
 * (see theme.h for the format). Nothing here touches the terminal; palette.c installs
 * a parsed theme into curses.
 */
#include "ui/theme.h"
#include "ui/ui.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/paths.h"

const char *const ui_el_names[UI_EL_COUNT] = {
	"normal", "answer", "reasoning", "section", "user", "heading", "bold", "code",
	"codeblock", "list", "notice", "error", "title", "title.focus", "border", "status",
	"status.demo", "input", "prompt", "browser", "selected", "match", "help", "help.key",
};

/* The compiled-in default: identical to themes/default-dark.theme (a test checks). */
static const char default_dark_text[] =
	"# default-dark: ponder's default, for dark terminals (256 colours).\n"
	"name = default-dark\n"
	"answer.fg = 252\n"
	"reasoning.fg = 245\n"
	"section.fg = 109\n"
	"section.attr = bold\n"
	"user.fg = 75\n"
	"user.attr = bold\n"
	"heading.fg = 214\n"
	"heading.attr = bold\n"
	"bold.fg = 255\n"
	"bold.attr = bold\n"
	"code.fg = 180\n"
	"code.bg = 236\n"
	"codeblock.fg = 187\n"
	"codeblock.bg = 235\n"
	"list.fg = 214\n"
	"notice.fg = 108\n"
	"error.fg = 203\n"
	"error.attr = bold\n"
	"title.fg = 250\n"
	"title.bg = 238\n"
	"title.focus.fg = 16\n"
	"title.focus.bg = 75\n"
	"title.focus.attr = bold\n"
	"border.fg = 240\n"
	"status.fg = 250\n"
	"status.bg = 236\n"
	"status.demo.fg = 220\n"
	"status.demo.bg = 236\n"
	"input.fg = 255\n"
	"prompt.fg = 75\n"
	"prompt.attr = bold\n"
	"browser.fg = 252\n"
	"selected.fg = 16\n"
	"selected.bg = 75\n"
	"match.fg = 220\n"
	"match.attr = bold, underline\n"
	"help.fg = 252\n"
	"help.bg = 235\n"
	"help.key.fg = 75\n"
	"help.key.bg = 235\n"
	"help.key.attr = bold\n";

/* Used for NO_COLOR and terminals without colour: attributes only. */
static const char monochrome_text[] =
	"# monochrome: no colours, attributes only (used for NO_COLOR).\n"
	"name = monochrome\n"
	"section.attr = bold\n"
	"user.attr = bold\n"
	"heading.attr = bold, underline\n"
	"bold.attr = bold\n"
	"code.attr = underline\n"
	"list.attr = bold\n"
	"error.attr = bold\n"
	"title.attr = reverse\n"
	"title.focus.attr = reverse, bold\n"
	"status.attr = reverse\n"
	"status.demo.attr = reverse, bold\n"
	"prompt.attr = bold\n"
	"selected.attr = reverse\n"
	"match.attr = bold, underline\n"
	"help.key.attr = bold\n";

const char *ui_theme_builtin_text(enum ui_builtin_theme which)
{
	return which == UI_THEME_MONOCHROME ? monochrome_text : default_dark_text;
}

void ui_theme_builtin(enum ui_builtin_theme which, struct ui_theme *t)
{
	const char *text = ui_theme_builtin_text(which);
	struct err e;
	/* The texts above are tested to parse; a failure here would be a build bug. */
	if (ui_theme_parse(text, strlen(text), "built-in theme", t, &e)) {
		memset(t, 0, sizeof *t);
		for (int i = 0; i < UI_EL_COUNT; i++)
			t->el[i].fg = t->el[i].bg = UI_COLOR_DEFAULT;
		snprintf(t->name, sizeof t->name, "fallback");
	}
}

static const char *const color_names[16] = {
	"black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
	"bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue",
	"bright-magenta", "bright-cyan", "bright-white",
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 0 and the colour, or -1 when v is not a colour. */
static int parse_color(const char *v, int32_t *out)
{
	if (!strcmp(v, "default") || !strcmp(v, "none") || !strcmp(v, "-1")) {
		*out = UI_COLOR_DEFAULT;
		return 0;
	}
	if (v[0] == '#') {
		if (strlen(v) != 7)
			return -1;
		int32_t rgb = 0;
		for (int i = 1; i < 7; i++) {
			int h = hexval((unsigned char)v[i]);
			if (h < 0)
				return -1;
			rgb = rgb << 4 | h;
		}
		*out = UI_COLOR_RGB | rgb;
		return 0;
	}
	if (isdigit((unsigned char)v[0])) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 0 || n > 255)
			return -1;
		*out = (int32_t)n;
		return 0;
	}
	for (int i = 0; i < 16; i++)
		if (!strcmp(v, color_names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

static int parse_attrs(char *v, unsigned *out, const char **bad)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{"bold", UI_A_BOLD}, {"dim", UI_A_DIM}, {"italic", UI_A_ITALIC},
		{"underline", UI_A_UNDERLINE}, {"reverse", UI_A_REVERSE},
		{"standout", UI_A_STANDOUT}, {"none", 0},
	};
	unsigned a = 0;
	for (char *tok = strtok(v, ", \t"); tok; tok = strtok(NULL, ", \t")) {
		size_t i = 0;
		while (i < sizeof names / sizeof names[0] && strcmp(tok, names[i].name))
			i++;
		if (i == sizeof names / sizeof names[0]) {
			*bad = tok;
			return -1;
		}
		a |= names[i].bit;
	}
	*out = a;
	return 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int set_line(struct ui_theme *t, char *line, const char *source, int lineno,
		    struct err *e)
{
	char *eq = strchr(line, '=');
	if (!eq)
		return err_set(e, ERR_FORMAT, "%s line %d: expected 'key = value', e.g. "
			       "'answer.fg = 252'", source, lineno);
	*eq = '\0';
	char *key = trim(line), *val = trim(eq + 1);
	if (!strcmp(key, "name")) {
		snprintf(t->name, sizeof t->name, "%s", val);
		return 0;
	}
	char *dot = strrchr(key, '.');
	if (!dot)
		return err_set(e, ERR_FORMAT, "%s line %d: '%s' is not ELEMENT.fg, ELEMENT.bg or "
			       "ELEMENT.attr", source, lineno, key);
	*dot = '\0';
	const char *prop = dot + 1;
	int el = 0;
	while (el < UI_EL_COUNT && strcmp(ui_el_names[el], key))
		el++;
	if (el == UI_EL_COUNT) {
		char list[512] = "";
		size_t used = 0;
		for (int i = 0; i < UI_EL_COUNT && used < sizeof list; i++)
			used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
						 i ? ", " : "", ui_el_names[i]);
		return err_set(e, ERR_FORMAT, "%s line %d: unknown element '%s' (known: %s)",
			       source, lineno, key, list);
	}
	struct ui_style *s = &t->el[el];
	if (!strcmp(prop, "fg") || !strcmp(prop, "bg")) {
		int32_t c;
		if (parse_color(val, &c))
			return err_set(e, ERR_FORMAT, "%s line %d: '%s' is not a colour (use "
				       "default, 0-255, a name like red or bright-blue, or "
				       "#rrggbb)", source, lineno, val);
		if (prop[0] == 'f')
			s->fg = c, s->set_fg = 1;
		else
			s->bg = c, s->set_bg = 1;
		if (c != UI_COLOR_DEFAULT)
			t->uses_color = 1;
		return 0;
	}
	if (!strcmp(prop, "attr")) {
		const char *bad = "";
		if (parse_attrs(val, &s->attr, &bad))
			return err_set(e, ERR_FORMAT, "%s line %d: unknown attribute '%s' (use bold, "
				       "dim, italic, underline, reverse, standout or none)", source,
				       lineno, bad);
		return 0;
	}
	return err_set(e, ERR_FORMAT, "%s line %d: '%s' is not fg, bg or attr", source, lineno,
		       prop);
}

int ui_theme_parse(const char *text, size_t len, const char *source, struct ui_theme *t,
		   struct err *e)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < UI_EL_COUNT; i++)
		t->el[i].fg = t->el[i].bg = UI_COLOR_DEFAULT;
	char line[1024];
	size_t pos = 0;
	int lineno = 0;
	while (pos < len) {
		lineno++;
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		if (n >= sizeof line)
			return err_set(e, ERR_FORMAT, "%s line %d: line longer than %zu bytes", source,
				       lineno, sizeof line - 1);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n))
			return err_set(e, ERR_FORMAT, "%s line %d: contains a NUL byte (not a "
				       "text file?)", source, lineno);
		char *hash = strchr(line, '#');
		/* '#' starts a comment unless it begins a #rrggbb colour after '='. */
		while (hash && hash > line && strchr(line, '=') && strchr(line, '=') < hash &&
		       isxdigit((unsigned char)hash[1]))
			hash = strchr(hash + 1, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		int rc = set_line(t, s, source, lineno, e);
		if (rc)
			return rc;
	}
	/* Elements the file leaves alone follow its normal colours. */
	for (int i = 1; i < UI_EL_COUNT; i++) {
		if (!t->el[i].set_fg)
			t->el[i].fg = t->el[UI_EL_NORMAL].fg;
		if (!t->el[i].set_bg)
			t->el[i].bg = t->el[UI_EL_NORMAL].bg;
	}
	if (!t->name[0])
		snprintf(t->name, sizeof t->name, "%s", "unnamed");
	return 0;
}

static int read_small_file(const char *path, char **out, size_t *len, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, ERR_IO, "cannot open theme %s: %s", path, strerror(errno));
	size_t cap = 64 * 1024;
	char *buf = malloc(cap + 1);
	if (!buf) {
		fclose(f);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	size_t n = fread(buf, 1, cap + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n > cap) {
		free(buf);
		return err_set(e, bad ? ERR_IO : ERR_FORMAT, "theme %s: %s", path,
			       bad ? "read failed" : "larger than 64 KiB; not a theme file?");
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static int load_path(const char *path, struct ui_theme *t, struct err *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_small_file(path, &text, &len, e);
	if (rc)
		return rc;
	rc = ui_theme_parse(text, len, path, t, e);
	free(text);
	return rc;
}

static int is_file(const char *p)
{
	return access(p, R_OK) == 0;
}

/* The folders searched for themes, in order; returns how many were filled. */
static int theme_dirs(char dirs[3][4200])
{
	int n = 0;
	char cfg[4096];
	struct err ignore;
	if (!app_path_dir(APP_DIR_CONFIG, 0, cfg, sizeof cfg, &ignore))
		snprintf(dirs[n++], 4200, "%s/themes", cfg);
	char exe[4096];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (k > 0) {
		exe[k] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(dirs[n++], 4200, "%s/../themes", exe);
		}
	}
	snprintf(dirs[n++], 4200, "%s/themes", PONDER_DATADIR);
	return n;
}

/* Names of the *.theme files in the first folder that has any, for messages. */
static void list_available(char dirs[3][4200], int ndirs, char *buf, size_t size)
{
	buf[0] = '\0';
	for (int i = 0; i < ndirs && !buf[0]; i++) {
		DIR *d = opendir(dirs[i]);
		if (!d)
			continue;
		size_t used = 0;
		struct dirent *de;
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l > 6 && !strcmp(de->d_name + l - 6, ".theme") && used < size)
				used += (size_t)snprintf(buf + used, size - used, "%s%.*s",
							 used ? ", " : "", (int)(l - 6), de->d_name);
		}
		closedir(d);
	}
}

int ui_theme_load(const char *name, struct ui_theme *t, struct err *e)
{
	if (!name || !*name)
		return err_set(e, ERR_USAGE, "empty theme name");
	if (strchr(name, '/'))
		return load_path(name, t, e);
	char dirs[3][4200];
	int nd = theme_dirs(dirs);
	char path[8500];
	for (int i = 0; i < nd; i++) {
		snprintf(path, sizeof path, "%s/%s.theme", dirs[i], name);
		if (is_file(path))
			return load_path(path, t, e);
		snprintf(path, sizeof path, "%s/%s", dirs[i], name);
		if (is_file(path))
			return load_path(path, t, e);
	}
	char avail[512];
	list_available(dirs, nd, avail, sizeof avail);
	return err_set(e, ERR_IO, "theme '%s' not found (looked in %s%s%s%s%s); %s%s", name,
		       dirs[0], nd > 1 ? ", " : "", nd > 1 ? dirs[1] : "", nd > 2 ? ", " : "",
		       nd > 2 ? dirs[2] : "", avail[0] ? "available: " : "no theme files found",
		       avail);
}

/* The xterm palette: 0-15 system colours, 16-231 a 6x6x6 cube, 232-255 greys. */
static int32_t palette_rgb(int i)
{
	static const int32_t sys[16] = {
		0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
		0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff,
	};
	if (i < 16)
		return sys[i];
	if (i < 232) {
		static const int lv[6] = {0, 95, 135, 175, 215, 255};
		int v = i - 16;
		return lv[v / 36] << 16 | lv[v / 6 % 6] << 8 | lv[v % 6];
	}
	int g = 8 + (i - 232) * 10;
	return g << 16 | g << 8 | g;
}

static long dist2(int32_t a, int32_t b)
{
	long dr = (a >> 16 & 255) - (b >> 16 & 255), dg = (a >> 8 & 255) - (b >> 8 & 255),
	     db = (a & 255) - (b & 255);
	/* Weighted toward green, as the eye is. */
	return 2 * dr * dr + 4 * dg * dg + 3 * db * db;
}

int ui_color_index(int32_t color, int ncolors)
{
	if (color == UI_COLOR_DEFAULT)
		return -1;
	int limit = ncolors >= 256 ? 256 : ncolors >= 88 ? 16 : ncolors >= 16 ? 16 : 8;
	int32_t rgb;
	if (color & UI_COLOR_RGB) {
		rgb = color & 0xffffff;
	} else {
		if (color < limit)
			return color;
		rgb = palette_rgb(color);
	}
	int best = 0;
	long bd = -1;
	for (int i = 0; i < limit; i++) {
		long d = dist2(rgb, palette_rgb(i));
		if (bd < 0 || d < bd)
			bd = d, best = i;
	}
	return best;
}

int ui_theme_check(const char *name, struct err *e)
{
	struct ui_theme t;
	if (!ui_theme_load(name, &t, e))
		return 0;
	err_prefix(e, "--theme %s", name);
	e->code = ERR_USAGE;
	return ERR_USAGE;
}
