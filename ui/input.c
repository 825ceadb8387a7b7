/*
 * input.c — libedit inside ncurses (see input.h for the design).
 */
#include "ui/input.h"

#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "ui/width.h"

#define PROMPT_COLS 2
#define HISTORY_SIZE 1000

struct ui_input {
	EditLine *el;
	HistoryW *hist;
	FILE *devnull;
	int pty_master, pty_slave; /* -1: libedit was given the real terminal */
	char hist_path[4200];
	bool submitted;
	ui_getc_fn getc_fn;
	void *ud;
	char *line;
	size_t line_cap;
};

static struct ui_input *from_el(EditLine *el)
{
	void *p = NULL;
	el_wget(el, EL_CLIENTDATA, &p);
	return p;
}

static int read_char(EditLine *el, wchar_t *wc)
{
	struct ui_input *in = from_el(el);
	return in->getc_fn(in->ud, wc);
}

static unsigned char fn_submit(EditLine *el, int ch)
{
	(void)ch;
	from_el(el)->submitted = true;
	return CC_NEWLINE;
}

static unsigned char fn_newline(EditLine *el, int ch)
{
	(void)ch;
	return el_winsertstr(el, L"\n") == 0 ? CC_REFRESH : CC_ERROR;
}

/* A private pseudo-terminal for libedit: it may set modes and query sizes there
   without touching the real one. */
static int open_pty(struct ui_input *in)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return -1;
	if (grantpt(m) || unlockpt(m)) {
		close(m);
		return -1;
	}
	const char *name = ptsname(m);
	int s = name ? open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
	if (s < 0) {
		close(m);
		return -1;
	}
	struct winsize ws = {.ws_row = 24, .ws_col = 200};
	ioctl(s, TIOCSWINSZ, &ws);
	in->pty_master = m;
	in->pty_slave = s;
	return 0;
}

/* libedit may have changed the real terminal's modes: give curses its own back. */
static void fix_tty(struct ui_input *in)
{
	if (in->pty_slave < 0)
		reset_prog_mode();
}

static void reset_line(struct ui_input *in)
{
	/* Leaving and re-entering unbuffered mode runs libedit's own line reset (buffer,
	   history position, undo), which the public API offers no other way. */
	el_wset(in->el, EL_UNBUFFERED, 0);
	el_wset(in->el, EL_UNBUFFERED, 1);
	fix_tty(in);
}

int ui_input_open(struct ui_input **out, const char *history_path, ui_getc_fn fn, void *ud,
		  struct err *e)
{
	*out = NULL;
	struct ui_input *in = calloc(1, sizeof *in);
	if (!in)
		return err_set(e, ERR_NOMEM, "out of memory");
	in->pty_master = in->pty_slave = -1;
	in->getc_fn = fn;
	in->ud = ud;
	in->devnull = fopen("/dev/null", "w");
	if (!in->devnull) {
		free(in);
		return err_set(e, ERR_IO, "cannot open /dev/null: %s", strerror(errno));
	}
	int fdin = STDIN_FILENO, fdout = STDOUT_FILENO;
	if (open_pty(in) == 0)
		fdin = fdout = in->pty_slave;
	in->el = el_init_fd("ponder", stdin, in->devnull, in->devnull, fdin, fdout, fdout);
	if (!in->el) {
		ui_input_close(in);
		return err_set(e, ERR_IO, "libedit could not start (el_init failed)");
	}
	el_wset(in->el, EL_CLIENTDATA, (void *)in);
	el_wset(in->el, EL_EDITOR, L"emacs");
	el_wset(in->el, EL_GETCFN, read_char);
	el_wset(in->el, EL_ADDFN, L"ponder-submit", L"Send the line", fn_submit);
	el_wset(in->el, EL_ADDFN, L"ponder-newline", L"Insert a newline", fn_newline);
	el_wset(in->el, EL_BIND, L"^M", L"ponder-submit", NULL);
	el_wset(in->el, EL_BIND, L"^J", L"ponder-submit", NULL);
	el_wset(in->el, EL_BIND, L"^\\", L"ponder-newline", NULL);
	el_wset(in->el, EL_BIND, L"^I", L"ed-insert", NULL);
	el_wset(in->el, EL_BIND, L"^D", L"ed-delete-next-char", NULL);
	el_wset(in->el, EL_BIND, L"^S", L"em-inc-search-next", NULL);
	el_wset(in->el, EL_BIND, L"^R", L"em-inc-search-prev", NULL);

	in->hist = history_winit();
	if (in->hist) {
		HistEventW ev;
		history_w(in->hist, &ev, H_SETSIZE, HISTORY_SIZE);
		history_w(in->hist, &ev, H_SETUNIQUE, 1);
		if (history_path && *history_path) {
			snprintf(in->hist_path, sizeof in->hist_path, "%s", history_path);
			history_w(in->hist, &ev, H_LOAD, in->hist_path);
		}
		el_wset(in->el, EL_HIST, history_w, in->hist);
	}
	el_wset(in->el, EL_UNBUFFERED, 1);
	fix_tty(in);
	*out = in;
	return 0;
}

static void save_history(struct ui_input *in)
{
	if (!in->hist || !in->hist_path[0])
		return;
	/* Questions are private: the file is created 0600 before libedit writes it. */
	int fd = open(in->hist_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	HistEventW ev;
	history_w(in->hist, &ev, H_SAVE, in->hist_path);
}

void ui_input_close(struct ui_input *in)
{
	if (!in)
		return;
	if (in->el) {
		el_wset(in->el, EL_UNBUFFERED, 0);
		el_end(in->el);
		fix_tty(in);
	}
	if (in->hist) {
		save_history(in);
		history_wend(in->hist);
	}
	if (in->devnull)
		fclose(in->devnull);
	if (in->pty_slave >= 0)
		close(in->pty_slave);
	if (in->pty_master >= 0)
		close(in->pty_master);
	free(in->line);
	free(in);
}

static int to_utf8(struct ui_input *in, const wchar_t *b, const wchar_t *end, size_t *len)
{
	size_t n = (size_t)(end - b);
	if (n > (SIZE_MAX - 1) / 4)
		return -1;
	if (4 * n + 1 > in->line_cap) {
		char *p = realloc(in->line, 4 * n + 1);
		if (!p)
			return -1;
		in->line = p;
		in->line_cap = 4 * n + 1;
	}
	size_t k = 0;
	for (const wchar_t *w = b; w < end; w++)
		k += ui_utf8_put((uint32_t)*w, in->line + k);
	in->line[k] = '\0';
	*len = k;
	return 0;
}

int ui_input_step(struct ui_input *in, const char **line, size_t *len)
{
	int n = 0;
	in->submitted = false;
	el_wgets(in->el, &n);
	if (!in->submitted)
		return 0;
	in->submitted = false;
	const LineInfoW *li = el_wline(in->el);
	if (to_utf8(in, li->buffer, li->lastchar, len))
		return 0;
	*line = in->line;
	return 1;
}

void ui_input_accept(struct ui_input *in, const char *line)
{
	if (in->hist && line && *line) {
		size_t n = strlen(line);
		wchar_t *w = malloc((n + 1) * sizeof *w);
		if (w) {
			size_t k = 0;
			for (size_t i = 0; i < n;) {
				uint32_t cp;
				i += ui_utf8_next(line + i, n - i, &cp);
				w[k++] = (wchar_t)cp;
			}
			w[k] = L'\0';
			HistEventW ev;
			history_w(in->hist, &ev, H_ENTER, w);
			free(w);
			save_history(in);
		}
	}
	reset_line(in);
}

void ui_input_clear(struct ui_input *in)
{
	reset_line(in);
}

bool ui_input_empty(struct ui_input *in)
{
	const LineInfoW *li = el_wline(in->el);
	return li->lastchar == li->buffer;
}

/* Columns of character c drawn at column col (tabs reach the next multiple of 4 of the
   text area; unprintable ones are drawn as one U+FFFD). */
static int cell_cols(wchar_t c, int col)
{
	if (c == L'\t')
		return 4 - (col - PROMPT_COLS) % 4;
	int w = ui_cp_width((uint32_t)c);
	return w < 0 ? 1 : w;
}

struct walk {
	int row, col;
};

/* The layout of one character, without looking at words. */
static struct walk step_char(struct walk *p, wchar_t c, int width)
{
	if (c == L'\n') {
		struct walk at = *p;
		p->row++;
		p->col = PROMPT_COLS;
		return at;
	}
	int w = cell_cols(c, p->col);
	if (w > 0 && p->col + w > width) {
		p->row++;
		p->col = PROMPT_COLS;
		if (c == L'\t')
			w = 4;
	}
	struct walk at = *p;
	p->col += w;
	return at;
}

static bool is_blank(wchar_t c)
{
	return c == L' ' || c == L'\t' || c == L'\n';
}

/* Columns of the word starting at c (up to the next blank), drawn from column col. */
static int word_cols(const wchar_t *c, const wchar_t *end, int col)
{
	int w = 0;
	for (; c < end && !is_blank(*c); c++)
		w += cell_cols(*c, col + w);
	return w;
}

/* Advances the layout over the character at c (of the buffer begin..end) at width
   `width`; returns the position where it is drawn. Rows break before a word that does
   not fit in what is left of the row but fits in a row of its own; only longer words
   are cut between characters, as in the panes. */
static struct walk step(struct walk *p, const wchar_t *begin, const wchar_t *c,
			const wchar_t *end, int width)
{
	if (!is_blank(*c) && p->col > PROMPT_COLS && (c == begin || is_blank(c[-1]))) {
		int ww = word_cols(c, end, p->col);
		if (p->col + ww > width && ww <= width - PROMPT_COLS) {
			p->row++;
			p->col = PROMPT_COLS;
		}
	}
	return step_char(p, *c, width);
}

static void end_pos(struct walk *p, int width)
{
	if (p->col >= width) {
		p->row++;
		p->col = PROMPT_COLS;
	}
}

/* During an incremental search (Ctrl-R / Ctrl-S) libedit appends "\nbck:PATTERN"
   ("fwd:", and '?' for ':' while nothing matches) to the line it shows. Returns where
   that starts, or NULL; the UI draws its own search row from it. */
static const wchar_t *search_part(const LineInfoW *li)
{
	for (const wchar_t *c = li->lastchar; c-- > li->buffer;) {
		if (*c != L'\n')
			continue;
		if (li->lastchar - c >= 5 && (!wcsncmp(c + 1, L"bck", 3) || !wcsncmp(c + 1, L"fwd", 3)) &&
		    (c[4] == L':' || c[4] == L'?'))
			return c;
		return NULL;
	}
	return NULL;
}

int ui_input_rows(struct ui_input *in, int width)
{
	const LineInfoW *li = el_wline(in->el);
	const wchar_t *search = search_part(li), *end = search ? search : li->lastchar;
	struct walk p = {0, PROMPT_COLS};
	for (const wchar_t *w = li->buffer; w < end; w++)
		step(&p, li->buffer, w, end, width);
	end_pos(&p, width);
	return p.row + 1 + (search ? 1 : 0);
}

/* The search row: what is searched for, in words rather than libedit's "bck:". */
static void draw_search(WINDOW *w, int y, int width, const wchar_t *s, const wchar_t *end,
			unsigned long prompt_attr, unsigned long text_attr, int *cx)
{
	bool failed = s[4] == L'?';
	const char *label = s[1] == L'b' ? "history search (Ctrl-R older, Ctrl-S newer): "
					 : "history search (Ctrl-S newer, Ctrl-R older): ";
	if ((int)strlen(label) + 12 > width)
		label = "search: ";
	wmove(w, y, 0);
	wattrset(w, (attr_t)prompt_attr);
	waddnstr(w, label, width);
	int col = (int)strlen(label) < width ? (int)strlen(label) : width;
	wattrset(w, (attr_t)text_attr);
	cchar_t cc;
	for (const wchar_t *c = s + 5; c < end && col < width; c++) {
		int cw = ui_cp_width((uint32_t)*c);
		wchar_t t[2] = {cw < 0 ? (wchar_t)UI_REPLACEMENT : *c, 0};
		if (cw != 0 && col + (cw < 0 ? 1 : cw) > width)
			break;
		setcchar(&cc, t, (attr_t)text_attr & ~A_COLOR, (short)PAIR_NUMBER(text_attr), NULL);
		wadd_wch(w, &cc);
		col += cw < 0 ? 1 : cw;
	}
	*cx = col < width ? col : width - 1;
	if (failed && col + 12 <= width) {
		wattrset(w, (attr_t)prompt_attr);
		waddstr(w, "  (no match)");
	}
	wattrset(w, A_NORMAL);
}

void ui_input_draw(struct ui_input *in, void *win, int y0, int height, int width,
		   unsigned long prompt_attr, unsigned long text_attr, int *cy, int *cx)
{
	WINDOW *w = win;
	const LineInfoW *li = el_wline(in->el);
	const wchar_t *search = search_part(li), *end = search ? search : li->lastchar;
	/* First pass: where the cursor is, to scroll it into view. */
	struct walk p = {0, PROMPT_COLS}, cur = {-1, 0};
	for (const wchar_t *c = li->buffer; c < end; c++) {
		struct walk at = step(&p, li->buffer, c, end, width);
		if (c == li->cursor)
			cur = at;
	}
	end_pos(&p, width);
	if (cur.row < 0)
		cur = p;
	if (search) {
		/* The search row goes under the text and has the cursor. */
		height--;
		cur.row = p.row;
	}
	if (height < 1)
		height = 1;
	int first = cur.row >= height ? cur.row - height + 1 : 0;

	for (int y = 0; y < height; y++) {
		wmove(w, y0 + y, 0);
		wclrtoeol(w);
	}
	if (first == 0) {
		wattrset(w, (attr_t)prompt_attr);
		mvwaddstr(w, y0, 0, "> ");
	}
	wattrset(w, (attr_t)text_attr);
	p = (struct walk){0, PROMPT_COLS};
	cchar_t cc;
	for (const wchar_t *c = li->buffer; c < end; c++) {
		struct walk at = step(&p, li->buffer, c, end, width);
		if (*c == L'\n' || at.row < first || at.row >= first + height)
			continue;
		wchar_t s[3] = {*c, 0, 0};
		int cw = ui_cp_width((uint32_t)*c);
		if (*c == L'\t') {
			wmove(w, y0 + at.row - first, at.col);
			for (int i = 0; i < cell_cols(*c, at.col) && at.col + i < width; i++)
				waddch(w, ' ');
			continue;
		}
		if (cw < 0)
			s[0] = (wchar_t)UI_REPLACEMENT;
		setcchar(&cc, s, (attr_t)text_attr & ~A_COLOR, (short)PAIR_NUMBER(text_attr), NULL);
		if (cw == 0)
			wadd_wch(w, &cc); /* curses joins a mark to the cell just written */
		else
			mvwadd_wch(w, y0 + at.row - first, at.col, &cc);
	}
	wattrset(w, A_NORMAL);
	*cy = y0 + cur.row - first;
	*cx = cur.col < width ? cur.col : width - 1;
	if (search) {
		*cy = y0 + height;
		draw_search(w, *cy, width, search, li->lastchar, prompt_attr, text_attr, cx);
	}
}
