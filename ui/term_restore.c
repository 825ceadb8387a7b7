/*
 * term_restore.c — signal handlers that give the terminal back (see term_restore.h).
 * Everything a handler calls is async-signal-safe: tcsetattr, write, alarm, signal,
 * raise, sigaction. The sequences are looked up in terminfo beforehand.
 */
#include "ui/term_restore.h"

#include <curses.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static int saved_fd = -1;
static char seq[256];
static size_t seq_len;
static int wake = -1;
static volatile sig_atomic_t pending_resize, pending_quit, restored, installed;

static const int crash_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static const int quit_sigs[] = {SIGTERM, SIGHUP, SIGINT};
#define NCRASH (sizeof crash_sigs / sizeof crash_sigs[0])
#define NQUIT (sizeof quit_sigs / sizeof quit_sigs[0])
static struct sigaction old_crash[NCRASH], old_quit[NQUIT], old_winch, old_alrm;

int ui_term_save(int fd)
{
	if (tcgetattr(fd, &saved))
		return -1;
	saved_fd = fd;
	restored = 0;
	return 0;
}

static void add_seq(const char *s)
{
	if (!s || s == (const char *)-1)
		return;
	size_t n = strlen(s);
	if (seq_len + n < sizeof seq) {
		memcpy(seq + seq_len, s, n);
		seq_len += n;
	}
}

void ui_term_emergency_restore(void)
{
	if (restored)
		return;
	restored = 1;
	if (seq_len) {
		size_t off = 0;
		while (off < seq_len) {
			ssize_t k = write(STDOUT_FILENO, seq + off, seq_len - off);
			if (k <= 0 && errno != EINTR)
				break;
			if (k > 0)
				off += (size_t)k;
		}
	}
	if (saved_fd >= 0)
		tcsetattr(saved_fd, TCSANOW, &saved);
}

static void poke(void)
{
	if (wake >= 0) {
		int saved_errno = errno;
		char c = 's';
		ssize_t r = write(wake, &c, 1);
		(void)r;
		errno = saved_errno;
	}
}

static void on_crash(int sig)
{
	ui_term_emergency_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die_now(int sig)
{
	ui_term_emergency_restore();
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

static void on_quit(int sig)
{
	if (pending_quit) {
		die_now(sig); /* a second request: do not wait for the main loop */
		return;
	}
	pending_quit = sig;
	alarm(3);
	poke();
}

static void on_alarm(int sig)
{
	(void)sig;
	/* The main loop did not finish its clean exit in time. */
	die_now(pending_quit ? pending_quit : SIGTERM);
}

static void on_winch(int sig)
{
	(void)sig;
	pending_resize = 1;
	poke();
}

static void set_handler(int sig, void (*fn)(int), int flags, struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = flags;
	sigaction(sig, &sa, old);
}

void ui_term_guard_install(int wake_fd)
{
	wake = wake_fd;
	seq_len = 0;
	add_seq("\033[?2004l"); /* bracketed paste off */
	add_seq(tigetstr("sgr0"));
	add_seq(tigetstr("cnorm"));
	add_seq(tigetstr("rmcup"));
	add_seq("\r\n");
	for (size_t i = 0; i < NCRASH; i++)
		set_handler(crash_sigs[i], on_crash, SA_RESETHAND | SA_NODEFER, &old_crash[i]);
	for (size_t i = 0; i < NQUIT; i++)
		set_handler(quit_sigs[i], on_quit, SA_RESTART, &old_quit[i]);
	set_handler(SIGALRM, on_alarm, 0, &old_alrm);
	set_handler(SIGWINCH, on_winch, SA_RESTART, &old_winch);
	installed = 1;
}

void ui_term_guard_remove(void)
{
	if (!installed)
		return;
	installed = 0;
	alarm(0);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_sigs[i], &old_crash[i], NULL);
	for (size_t i = 0; i < NQUIT; i++)
		sigaction(quit_sigs[i], &old_quit[i], NULL);
	sigaction(SIGALRM, &old_alrm, NULL);
	sigaction(SIGWINCH, &old_winch, NULL);
	wake = -1;
}

int ui_term_take_events(void)
{
	int ev = 0;
	if (pending_resize) {
		pending_resize = 0;
		ev |= UI_SIG_RESIZE;
	}
	if (pending_quit)
		ev |= (int)pending_quit << 8; /* stays set: quitting is not undone */
	return ev;
}
