/*
 * theme.h — colour themes: the screen elements, the theme file format and its loader.
 *
 * A theme file is text, one setting per line ('#' starts a comment, blank lines are
 * ignored):
 *
 *     name = solarized-dark
 *     normal.fg = #839496
 *     normal.bg = #002b36
 *     code.bg = 236
 *     title.focus.attr = bold, reverse
 *
 * Keys are ELEMENT.fg, ELEMENT.bg or ELEMENT.attr (ELEMENT from ui_el_names). Colours
 * are `default` (the terminal's own), a palette index 0-255, a name (black, red, green,
 * yellow, blue, magenta, cyan, white, and bright-NAME for 8-15) or #rrggbb (drawn with
 * the nearest colour the terminal has). Attributes are a comma-separated list of bold,
 * dim, italic, underline, reverse, standout, or `none`. An element a file does not set
 * takes the file's `normal` colours and no attributes.
 *
 * The default dark and the monochrome themes are compiled in (ui_theme_builtin), so a
 * missing or broken file never stops startup: the caller keeps the built-in theme and
 * shows the loader's message, which names the file and line.
 */
#ifndef PONDER_UI_THEME_H
#define PONDER_UI_THEME_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Every styled thing on screen. Text styles (answer .. list) double as the per-byte
   style ids of rendered pane text. */
enum ui_el {
	UI_EL_NORMAL,       /* background of every window */
	UI_EL_ANSWER,       /* answer text */
	UI_EL_REASONING,    /* reasoning text */
	UI_EL_SECTION,      /* "Thought for 12.3 s" lines inside the reasoning pane */
	UI_EL_USER,         /* the user's questions */
	UI_EL_HEADING,      /* Markdown # headers */
	UI_EL_BOLD,         /* Markdown **bold** */
	UI_EL_CODE,         /* Markdown `inline code` */
	UI_EL_CODEBLOCK,    /* Markdown fenced code blocks */
	UI_EL_LIST,         /* list bullets and numbers */
	UI_EL_NOTICE,       /* messages from ponder in the answer pane */
	UI_EL_ERROR,        /* errors */
	UI_EL_TITLE,        /* pane title bars */
	UI_EL_TITLE_FOCUS,  /* the focused pane's title bar */
	UI_EL_BORDER,       /* separators between panes */
	UI_EL_STATUS,       /* status bar */
	UI_EL_STATUS_DEMO,  /* the demo-model note in the status bar */
	UI_EL_INPUT,        /* input area text */
	UI_EL_PROMPT,       /* the "> " prompt */
	UI_EL_BROWSER,      /* conversation browser */
	UI_EL_SELECTED,     /* selected browser row */
	UI_EL_MATCH,        /* search matches in browser snippets */
	UI_EL_HELP,         /* help screen */
	UI_EL_HELP_KEY,     /* key names on the help screen */
	UI_EL_COUNT
};

extern const char *const ui_el_names[UI_EL_COUNT];

/* Attribute bits (mapped to curses attributes when applied). */
enum {
	UI_A_BOLD = 1,
	UI_A_DIM = 2,
	UI_A_ITALIC = 4,
	UI_A_UNDERLINE = 8,
	UI_A_REVERSE = 16,
	UI_A_STANDOUT = 32,
};

/* A colour: UI_COLOR_DEFAULT, a palette index 0-255, or UI_COLOR_RGB | 0xrrggbb. */
#define UI_COLOR_DEFAULT (-1)
#define UI_COLOR_RGB 0x1000000

struct ui_style {
	int32_t fg, bg;
	unsigned attr;
	unsigned char set_fg, set_bg; /* the file named them (else they follow normal) */
};

struct ui_theme {
	char name[64];
	struct ui_style el[UI_EL_COUNT];
	int uses_color; /* 0: a monochrome theme (attributes only) */
};

enum ui_builtin_theme { UI_THEME_DEFAULT_DARK, UI_THEME_MONOCHROME };

/* Fills t with a compiled-in theme; cannot fail. */
void ui_theme_builtin(enum ui_builtin_theme which, struct ui_theme *t);
/* The text of a compiled-in theme (themes/default-dark.theme holds the same). */
const char *ui_theme_builtin_text(enum ui_builtin_theme which);

/* Parses theme text; `source` names it in messages ("themes/light.theme"). On error
   returns ERR_FORMAT with "SOURCE line N: what is wrong" and leaves t unspecified. */
int ui_theme_parse(const char *text, size_t len, const char *source, struct ui_theme *t,
		   struct err *e);

/*
 * Loads a theme by name or path: NAME containing '/' is a file; otherwise NAME or
 * NAME.theme is looked up in the themes/ folder next to the binary (bin/../themes),
 * then in PONDER_DATADIR/themes. ERR_IO when not found (the message lists where it
 * looked), ERR_FORMAT from the parser.
 */
int ui_theme_load(const char *name, struct ui_theme *t, struct err *e);

/* Nearest palette index for an RGB value in a terminal with `ncolors` colours (8, 16,
   88 or 256); indexes are passed through when they exist, else folded to 0-7. */
int ui_color_index(int32_t color, int ncolors);

/* Installs t's colours into curses (colour pairs 1..UI_EL_COUNT); no-op without colour
   support. Returns the attribute word for each element in attrs. */
void ui_theme_apply(const struct ui_theme *t, int use_color, unsigned long attrs[UI_EL_COUNT]);

#endif
