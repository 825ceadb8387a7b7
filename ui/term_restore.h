/*
 * term_restore.h — the terminal is given back in the state it was found: on normal
 * exit (the caller's cleanup), on SIGTERM / SIGHUP / SIGINT (a clean exit through the
 * main loop, forced after 3 s or at a second signal), and on a crash (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGABRT: the handler restores the saved termios and writes the saved
 * "leave the screen" sequences with async-signal-safe calls only, then re-raises the
 * signal with its default action so the exit status and core dump are the real ones).
 * SIGWINCH is turned into a wake-up of the main loop.
 */
#ifndef PONDER_UI_TERM_RESTORE_H
#define PONDER_UI_TERM_RESTORE_H

/* Before initscr: remembers the terminal modes of `fd` to restore. 0 or -1. */
int ui_term_save(int fd);

/* After initscr: records the sequences that undo the full-screen mode and installs the
   handlers. wake_fd: the non-blocking write end of the main loop's wake pipe. */
void ui_term_guard_install(int wake_fd);

/* Puts back the previous signal dispositions (before endwin on a normal exit). */
void ui_term_guard_remove(void);

/* Returns and clears the pending events: UI_SIG_RESIZE, and the number of a signal that
   asked to quit in the bits above (value >> 8), 0 if none. */
#define UI_SIG_RESIZE 1
int ui_term_take_events(void);

/* The async-signal-safe restore itself (also usable from an atexit-like path). */
void ui_term_emergency_restore(void);

#endif
