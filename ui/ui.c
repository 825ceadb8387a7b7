/*
 * ui.c — the TUI's entry point and event loop: terminal setup and teardown, the wake
 * pipe, key dispatch through the key table, and the character source libedit reads.
 *
 * Control flow: ui_run loops on ui_input_step (one libedit command at a time). libedit
 * asks for characters through ui_getc, which is the real event loop: it waits in poll()
 * on the terminal and the wake pipe (worker news, SIGWINCH, SIGTERM), handles global
 * keys itself (scrolling, folding, Ctrl-C, the browser, ...), draws at most UI_FPS times
 * a second, and hands libedit only the keys meant for the input line. So typing,
 * scrolling and resizing stay live while the worker thread generates.
 */
#include "ui/ui.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "app/paths.h"
#include "app/signals.h"
#include "ui/glyphs.h"
#include "ui/keys.h"
#include "ui/term_restore.h"
#include "ui/ui_int.h"
#include "ui/width.h"

#define ESC_DELAY_MS 25
#define CTRL_C_TWICE_MS 2000
#define MESSAGE_MS 5000
#define TICK_MS 100

void ui_message(struct ui *u, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->msg, sizeof u->msg, fmt, ap);
	va_end(ap);
	/* One line only: the status bar. */
	for (char *p = u->msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	u->msg_until = ui_now_ms() + MESSAGE_MS;
	u->dirty = true;
}

void ui_notice(struct ui *u, enum ui_block_kind kind, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
	if (!ui_pane_add(&u->panes[UI_PANE_ANSWER], kind, buf, len))
		ui_message(u, "out of memory");
	u->dirty = true;
}

/* Colour is started only when used: without start_color() curses sends no colour codes
   at all, so NO_COLOR really means the terminal's own colours. */
static void apply_theme(struct ui *u)
{
	if (u->color && !u->color_started && has_colors()) {
		start_color();
		u->color_started = true;
	}
	ui_theme_apply(&u->theme, u->color && u->color_started, u->attrs);
	u->relayout = true;
	u->dirty = true;
}

int ui_apply_theme_name(struct ui *u, const char *name, struct err *e)
{
	struct ui_theme t;
	int rc = ui_theme_load(name, &t, e);
	if (rc)
		return rc;
	u->theme = t;
	/* A theme chosen by name is wanted in colour, NO_COLOR or not. */
	u->color = has_colors();
	apply_theme(u);
	return 0;
}

/* ---- keys ---- */

static void push(struct ui *u, wchar_t c)
{
	if (u->npending < (int)(sizeof u->pending / sizeof u->pending[0]))
		u->pending[u->npending++] = c;
}

static int is_printable_key(int key)
{
	return key >= 0x20 && key != 0x7f && !(key >= 0x80 && key < 0xa0) && key < 0x110000;
}

static struct ui_pane *scroll_target(struct ui *u, int *which)
{
	*which = u->focus == UI_FOCUS_REASONING ? UI_PANE_REASONING : UI_PANE_ANSWER;
	return &u->panes[*which];
}

/* A key for the input line, in libedit's emacs vocabulary. */
static void feed_input(struct ui *u, int key)
{
	if (key & UI_KEY_FN) {
		switch (key & ~UI_KEY_FN) {
		case KEY_LEFT: push(u, UI_CTRL('b')); break;
		case KEY_RIGHT: push(u, UI_CTRL('f')); break;
		case KEY_UP: push(u, UI_CTRL('p')); break;
		case KEY_DOWN: push(u, UI_CTRL('n')); break;
		case KEY_HOME: push(u, UI_CTRL('a')); break;
		case KEY_END:
			push(u, UI_CTRL('e'));
			ui_pane_end(&u->panes[0]);
			ui_pane_end(&u->panes[1]);
			break;
		case KEY_BACKSPACE: push(u, UI_CTRL('h')); break;
		case KEY_DC: push(u, UI_CTRL('d')); break;
		}
		return;
	}
	if (key & UI_KEY_ALT) {
		int c = key & ~UI_KEY_ALT;
		if (c == 127 || c == 8) {
			push(u, 27);
			push(u, UI_CTRL('h'));
		} else if (c > 0x20 && c < 0x7f) {
			push(u, 27);
			push(u, (wchar_t)c);
		}
		return;
	}
	if (key < 0x20) {
		/* Only libedit's editing keys; the rest are the UI's or nobody's. */
		static const char allowed[] = "abdefhkuwyrs";
		if (strchr(allowed, key + 'a' - 1))
			push(u, (wchar_t)key);
		return;
	}
	if (key == 127) {
		push(u, UI_CTRL('h'));
		return;
	}
	if (is_printable_key(key))
		push(u, (wchar_t)key);
}

static void open_browser(struct ui *u)
{
	struct err e = {0};
	if (ui_browser_open(&u->browser, u->chat, &e)) {
		ui_message(u, "%s", e.msg);
		return;
	}
	u->mode = UI_MODE_BROWSER;
	u->relayout = true;
}

static void close_browser(struct ui *u)
{
	u->mode = UI_MODE_NORMAL;
	u->relayout = true;
}

static void on_stop_key(struct ui *u)
{
	if (u->generating) {
		ui_worker_stop(u->worker);
		u->stopping = true;
		ui_message(u, "stopping\xe2\x80\xa6 (the partial answer is kept)");
		return;
	}
	double now = ui_now_ms();
	if (u->ctrlc_at && now - u->ctrlc_at < CTRL_C_TWICE_MS) {
		u->quit = true;
		return;
	}
	u->ctrlc_at = now;
	ui_message(u, "press Ctrl-C again to quit (Ctrl-Q quits at once)");
}

static void do_action(struct ui *u, enum ui_action act)
{
	int which;
	struct ui_pane *p;
	switch (act) {
	case UI_ACT_NONE:
	case UI_ACT_EDIT:
		break;
	case UI_ACT_SEND: push(u, '\r'); break;
	case UI_ACT_NEWLINE: push(u, UI_IN_NEWLINE); break;
	case UI_ACT_FOCUS:
		u->focus = u->focus == UI_FOCUS_INPUT ? UI_FOCUS_ANSWER
			   : u->focus == UI_FOCUS_ANSWER ? UI_FOCUS_REASONING : UI_FOCUS_INPUT;
		break;
	case UI_ACT_PAGE_UP:
	case UI_ACT_PAGE_DOWN: {
		p = scroll_target(u, &which);
		long h = ui_pane_text_height(u, which) - 1;
		ui_pane_scroll(p, act == UI_ACT_PAGE_UP ? -(h > 1 ? h : 1) : (h > 1 ? h : 1));
		break;
	}
	case UI_ACT_LINE_UP: ui_pane_scroll(scroll_target(u, &which), -1); break;
	case UI_ACT_LINE_DOWN: ui_pane_scroll(scroll_target(u, &which), 1); break;
	case UI_ACT_TOP: ui_pane_home(scroll_target(u, &which)); break;
	case UI_ACT_BOTTOM: ui_pane_end(scroll_target(u, &which)); break;
	case UI_ACT_FOLD: ui_turn_fold(u); break;
	case UI_ACT_STOP: on_stop_key(u); break;
	case UI_ACT_NEW:
		if (u->generating) {
			ui_message(u, "still generating: press Ctrl-C to stop it first");
			break;
		}
		app_chat_new_conversation(u->chat);
		ui_turn_clear(u);
		ui_notice(u, UI_B_NOTICE, "New conversation.");
		break;
	case UI_ACT_BROWSER:
		if (u->mode == UI_MODE_BROWSER)
			close_browser(u);
		else
			open_browser(u);
		break;
	case UI_ACT_QUIT: u->quit = true; break;
	case UI_ACT_HELP:
		u->mode = UI_MODE_HELP;
		u->help_top = 0;
		break;
	case UI_ACT_LAYOUT:
		u->side = !u->side;
		u->relayout = true;
		break;
	case UI_ACT_SPLIT_LESS:
	case UI_ACT_SPLIT_MORE:
		u->split += act == UI_ACT_SPLIT_MORE ? 5 : -5;
		u->split = u->split < 15 ? 15 : u->split > 85 ? 85 : u->split;
		u->relayout = true;
		break;
	case UI_ACT_REDRAW:
		clearok(curscr, TRUE);
		u->relayout = true;
		break;
	}
}

static void browser_key(struct ui *u, int key)
{
	if (key == UI_CTRL('q')) {
		u->quit = true;
		return;
	}
	if (key == UI_CTRL('c')) {
		on_stop_key(u);
		return;
	}
	if (key == UI_CTRL('o')) {
		close_browser(u);
		return;
	}
	int64_t cid, mid;
	int64_t protect = u->generating ? app_chat_cid(u->chat) : 0;
	switch (ui_browser_key(&u->browser, key, protect, &cid, &mid)) {
	case UI_BR_NONE:
		break;
	case UI_BR_CLOSE:
		close_browser(u);
		break;
	case UI_BR_OPEN: {
		if (u->generating) {
			snprintf(u->browser.msg, sizeof u->browser.msg,
				 "still generating: press Ctrl-C to stop it first");
			break;
		}
		struct err e = {0};
		if (ui_turn_load(u, cid, &e)) {
			snprintf(u->browser.msg, sizeof u->browser.msg, "%s", e.msg);
			break;
		}
		u->scroll_to_mid = mid;
		close_browser(u);
		break;
	}
	case UI_BR_DELETED:
		if (cid == app_chat_cid(u->chat) && !u->generating) {
			app_chat_new_conversation(u->chat);
			ui_turn_clear(u);
			ui_notice(u, UI_B_NOTICE, "The open conversation was deleted; this is a new "
				  "one.");
		}
		break;
	}
}

static void handle_key(struct ui *u, int key)
{
	u->dirty = true;
	if (key != UI_CTRL('c'))
		u->ctrlc_at = 0;
	if (u->mode == UI_MODE_HELP) {
		if (key == (UI_KEY_FN | KEY_DOWN) || key == (UI_KEY_FN | KEY_NPAGE))
			u->help_top += key == (UI_KEY_FN | KEY_DOWN) ? 1 : 10;
		else if (key == (UI_KEY_FN | KEY_UP) || key == (UI_KEY_FN | KEY_PPAGE))
			u->help_top -= key == (UI_KEY_FN | KEY_UP) ? 1 : 10;
		else if (key == UI_CTRL('q'))
			u->quit = true;
		else
			u->mode = UI_MODE_NORMAL;
		if (u->help_top < 0)
			u->help_top = 0;
		return;
	}
	if (u->mode == UI_MODE_BROWSER) {
		browser_key(u, key);
		return;
	}
	if (u->pasting) {
		/* Pasted text goes to the input as it is, newlines included. */
		u->focus = UI_FOCUS_INPUT;
		if (key == '\r' || key == '\n')
			push(u, UI_IN_NEWLINE);
		else if (key == '\t' || is_printable_key(key))
			push(u, (wchar_t)key);
		return;
	}
	unsigned ctx = u->focus == UI_FOCUS_INPUT ? UI_CTX_INPUT : UI_CTX_PANE;
	if (key == '?' && (u->focus != UI_FOCUS_INPUT || ui_input_empty(u->input))) {
		do_action(u, UI_ACT_HELP);
		return;
	}
	enum ui_action act = ui_key_action(key, ctx);
	if (act != UI_ACT_NONE) {
		do_action(u, act);
		return;
	}
	if (u->focus != UI_FOCUS_INPUT) {
		if (!is_printable_key(key))
			return;
		u->focus = UI_FOCUS_INPUT; /* typing goes to the input wherever the focus was */
	}
	feed_input(u, key);
}

/* SIGWINCH: tell curses the new size. resizeterm queues a KEY_RESIZE, which only
   relayouts (calling resizeterm from there again would queue another, forever). */
static void on_sigwinch(struct ui *u)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
	    (ws.ws_row != LINES || ws.ws_col != COLS))
		resizeterm(ws.ws_row, ws.ws_col);
	u->relayout = true;
	u->dirty = true;
}

/* Reads the keys curses has (it may hold several after one read of the terminal), up to
   the first one meant for libedit: keys act in the order they were typed, so a Ctrl-C
   typed after Enter stops the reply that Enter started. */
static void read_keys(struct ui *u)
{
	wint_t ch;
	while (!u->npending && !u->quit) {
		int r = wget_wch(u->w_keys, &ch);
		if (r == ERR)
			break;
		if (r == KEY_CODE_YES) {
			if (ch == KEY_RESIZE) {
				u->relayout = true;
				u->dirty = true;
				continue;
			}
			if (ch == UI_KEY_PASTE_BEGIN || ch == UI_KEY_PASTE_END) {
				u->pasting = ch == UI_KEY_PASTE_BEGIN;
				continue;
			}
			handle_key(u, UI_KEY_FN | (int)ch);
			continue;
		}
		int key = (int)ch;
		if (key == 27 && !u->pasting) {
			/* ESC with a key right behind it is an Alt chord (Alt-Enter). */
			wint_t c2;
			int r2 = wget_wch(u->w_keys, &c2);
			if (r2 == OK) {
				key = UI_KEY_ALT | (int)c2;
			} else if (r2 == KEY_CODE_YES) {
				handle_key(u, 27);
				key = UI_KEY_FN | (int)c2;
			}
		}
		handle_key(u, key);
	}
}

static void handle_wake(struct ui *u)
{
	char buf[256];
	while (read(u->wake_r, buf, sizeof buf) > 0)
		;
	int ev = ui_term_take_events();
	if (ev & UI_SIG_RESIZE)
		on_sigwinch(u);
	if (ev >> 8) {
		u->quit = true;
		u->quit_signal = ev >> 8;
		if (u->generating)
			ui_worker_stop(u->worker);
	}
	if (u->generating)
		ui_turn_news(u);
}

static int poll_timeout(struct ui *u, double now)
{
	double t = -1;
	if (u->dirty) {
		t = 1000.0 / UI_FPS - (now - u->last_draw);
		if (t < 0)
			t = 0;
	} else if (u->generating) {
		t = TICK_MS; /* the header's clock and the status bar move */
	}
	if (u->msg_until > 0) {
		double m = u->msg_until - now;
		if (m < 0)
			m = 0;
		if (t < 0 || m < t)
			t = m;
	}
	return t < 0 ? -1 : (int)(t + 0.999);
}

/* libedit's character source: the event loop. */
static int ui_getc(void *ud, wchar_t *wc)
{
	struct ui *u = ud;
	for (;;) {
		if (u->ipending < u->npending) {
			*wc = u->pending[u->ipending++];
			return 1;
		}
		u->npending = u->ipending = 0;
		if (u->quit)
			return 0;
		read_keys(u);
		if (u->npending || u->quit)
			continue;
		double now = ui_now_ms();
		if (u->msg_until > 0 && now >= u->msg_until) {
			u->msg[0] = '\0';
			u->msg_until = 0;
			u->dirty = true;
		}
		if (u->dirty && now - u->last_draw >= 1000.0 / UI_FPS) {
			ui_screen_draw(u);
			u->last_draw = ui_now_ms();
			u->dirty = false;
			now = u->last_draw;
		}
		struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {u->wake_r, POLLIN, 0}};
		int r = poll(fds, 2, poll_timeout(u, now));
		if (r < 0 && errno != EINTR)
			return 0;
		if (r == 0 && u->generating)
			u->dirty = true;
		if (r > 0 && (fds[1].revents & POLLIN))
			handle_wake(u);
		if (r > 0 && (fds[0].revents & (POLLHUP | POLLERR)) && !(fds[0].revents & POLLIN)) {
			u->quit = true; /* the terminal went away */
			return 0;
		}
	}
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return 1;
}

static void handle_line(struct ui *u, const char *line, size_t len)
{
	u->dirty = true;
	if (blank(line, len)) {
		ui_input_clear(u->input);
		return;
	}
	if (ui_command(u, line, len)) {
		ui_input_accept(u->input, line);
		return;
	}
	if (u->generating) {
		ui_message(u, "still generating: wait for the answer, or press Ctrl-C to stop it");
		return;
	}
	const char *text = line;
	if (len >= 2 && line[0] == '/' && line[1] == '/')
		text++, len--; /* "//..." sends a question that starts with "/" */
	ui_turn_send(u, text, len);
	ui_input_accept(u->input, line);
}

static void setup_locale(const struct app_opts *o)
{
	setlocale(LC_ALL, "");
	const char *cs = nl_langinfo(CODESET);
	bool utf8 = cs && !strcmp(cs, "UTF-8");
	/* A user whose locale is not UTF-8 most likely has a terminal that cannot show the
	   UI's Unicode lines either (glyphs.h). */
	ui_glyphs_set_ascii(o->ascii || !utf8);
	if (!utf8)
		setlocale(LC_CTYPE, "C.UTF-8"); /* ncursesw needs a UTF-8 locale for Unicode */
	ui_width_locale_changed();
}

static void choose_theme(struct ui *u)
{
	const char *no_color = getenv("NO_COLOR");
	u->color = has_colors() && !(no_color && *no_color && !u->opts->theme_set);
	ui_theme_builtin(u->color ? UI_THEME_DEFAULT_DARK : UI_THEME_MONOCHROME, &u->theme);
	if (u->opts->theme_set && u->opts->theme[0]) {
		struct err e = {0};
		struct ui_theme t;
		if (ui_theme_load(u->opts->theme, &t, &e))
			ui_notice(u, UI_B_ERROR, "%s; using the built-in default theme", e.msg);
		else
			u->theme = t;
	}
	apply_theme(u);
}

static void welcome(struct ui *u)
{
	u->welcome = true;
	if (app_chat_cid(u->chat)) {
		struct err e = {0};
		if (ui_turn_load(u, app_chat_cid(u->chat), &e))
			ui_notice(u, UI_B_ERROR, "%s", e.msg);
	} else {
		ui_notice(u, UI_B_NOTICE, "Ask a question and press Enter. F1 (or ? on an empty "
			  "line) lists the keys; Ctrl-O opens saved conversations.");
		if (u->info.is_demo)
			ui_notice(u, UI_B_NOTICE, "This is ponder's small demo model: it does "
				  "arithmetic, e.g. \"What is 12 + 30?\". Load a real DeepSeek "
				  "checkpoint with -m DIR.");
	}
	const char *w;
	while ((w = app_chat_take_warning(u->chat)))
		ui_notice(u, UI_B_ERROR, "%s", w);
}

static int start_screen(struct ui *u, struct err *e)
{
	if (ui_term_save(STDIN_FILENO))
		return err_set(e, ERR_IO, "cannot read the terminal's modes: %s", strerror(errno));
	u->scr = newterm(NULL, stdout, stdin);
	if (!u->scr) {
		const char *t = getenv("TERM");
		return err_set(e, ERR_IO, "cannot start the screen for TERM=%s (unknown terminal "
			       "type?); set TERM, or use -p / a pipe", t ? t : "(unset)");
	}
	set_term(u->scr);
	raw();
	noecho();
	nonl();
	set_escdelay(ESC_DELAY_MS);
	u->w_keys = newwin(1, 1, 0, 0);
	keypad(u->w_keys, TRUE);
	nodelay(u->w_keys, TRUE);
	define_key("\033[200~", UI_KEY_PASTE_BEGIN);
	define_key("\033[201~", UI_KEY_PASTE_END);
	ui_term_guard_install(u->wake_w);
	/* Bracketed paste: pasted newlines arrive marked, so they do not send. */
	fputs("\033[?2004h", stdout);
	fflush(stdout);
	return 0;
}

static void stop_screen(struct ui *u)
{
	if (!u->scr)
		return;
	ui_screen_free_windows(u);
	if (u->w_keys)
		delwin(u->w_keys);
	fputs("\033[?2004l", stdout);
	fflush(stdout);
	endwin();
	ui_term_guard_remove();
	delscreen(u->scr);
	u->scr = NULL;
}

int ui_run(const struct app_opts *o, struct err *e)
{
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return err_set(e, ERR_USAGE, "the terminal UI needs a terminal on stdin and stdout; "
			       "for scripts use -p TEXT or a pipe");
	setup_locale(o);
	struct ui *u = calloc(1, sizeof *u);
	if (!u)
		return err_set(e, ERR_NOMEM, "out of memory");
	u->opts = o;
	u->side = true;
	u->split = 40;
	u->focus = UI_FOCUS_INPUT;
	u->wake_r = u->wake_w = -1;
	u->relayout = u->dirty = true;
	ui_pane_init(&u->panes[0]);
	ui_pane_init(&u->panes[1]);

	fputs("ponder: loading the model\xe2\x80\xa6\r", stderr);
	int rc = app_chat_open(&u->chat, o, e);
	fputs("\033[K", stderr);
	if (rc)
		goto out;
	app_chat_info(u->chat, &u->info);
	u->ctx_max = u->info.ctx;

	int p[2];
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		rc = err_set(e, ERR_IO, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	u->wake_r = p[0];
	u->wake_w = p[1];
	if ((rc = ui_worker_new(u->chat, u->wake_w, &u->worker, e)))
		goto out;
	if ((rc = start_screen(u, e)))
		goto out;
	choose_theme(u);

	char dir[4096], hist[4200] = "";
	struct err he = {0};
	if (!app_path_dir(APP_DIR_STATE, 1, dir, sizeof dir, &he))
		snprintf(hist, sizeof hist, "%s/input_history", dir);
	else
		ui_notice(u, UI_B_ERROR, "input history is not kept: %s", he.msg);
	if ((rc = ui_input_open(&u->input, hist, ui_getc, u, e)))
		goto out;
	welcome(u);

	while (!u->quit) {
		const char *line;
		size_t len;
		if (ui_input_step(u->input, &line, &len) == 1)
			handle_line(u, line, len);
	}
	rc = 0;
out:
	ui_worker_free(u->worker);
	ui_input_close(u->input);
	stop_screen(u);
	ui_browser_free(&u->browser);
	ui_pane_clear(&u->panes[0]);
	ui_pane_clear(&u->panes[1]);
	app_chat_close(u->chat);
	if (u->wake_r >= 0)
		close(u->wake_r);
	if (u->wake_w >= 0)
		close(u->wake_w);
	if (!rc && u->quit_signal) {
		app_signals_note(u->quit_signal); /* the exit status is 128 + its number */
		rc = err_set(e, ERR_INTERRUPTED, "stopped by signal %d (%s)", u->quit_signal,
			     strsignal(u->quit_signal));
	}
	free(u);
	return rc;
}
