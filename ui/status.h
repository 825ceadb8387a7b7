/*
 * status.h — the status bar's text: model, state, context used, tokens, prefill and
 * decode speed, MTP acceptance, elapsed time, a transient message and, for the shipped
 * demo model, a note on what it is and how to load a real checkpoint. Pure (tested):
 * fields that do not fit are dropped, least important first; the live figures (context,
 * tokens, tokens/s) outrank the demo note, which shortens before it goes.
 */
#ifndef PONDER_UI_STATUS_H
#define PONDER_UI_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UI_DEMO_NOTE "demo model (arithmetic) \xe2\x80\x94 load a real checkpoint with -m DIR"
/* Shorter forms of the note, for narrow terminals: the figures are kept first. */
#define UI_DEMO_NOTE_SHORT "demo model \xe2\x80\x94 -m DIR loads a real one"
#define UI_DEMO_NOTE_TINY "demo model"

struct ui_status {
	const char *model;
	bool demo;
	bool generating, stopping;
	int64_t ctx_used, ctx_max;  /* < 0: unknown */
	int64_t tokens;             /* generated in the current / last reply; < 0 unknown */
	double prefill_tps, decode_tps; /* < 0: unknown */
	double mtp_rate;            /* accepted / drafted, < 0: not used */
	double elapsed_s;           /* < 0: nothing generated yet */
	const char *message;        /* transient message, or NULL */
	int64_t resumed;            /* prompt tokens loaded from a KV snapshot; <= 0: none */
};

/* A duration for people: "35 ms" under a second, else "12.3 s". */
void ui_duration(double secs, char *buf, size_t size);

/*
 * Writes the status line for `width` columns into buf (NUL-terminated, at most size
 * bytes). *hl_at / *hl_len locate the highlighted part (the message, else the demo
 * note) in buf; *hl_len is 0 when there is none. Returns the byte length.
 */
size_t ui_status_format(const struct ui_status *s, size_t width, char *buf, size_t size,
			size_t *hl_at, size_t *hl_len);

#endif
