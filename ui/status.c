/*
 * status.c — status bar text (see status.h).
 */
#include "ui/status.h"

#include <stdio.h>
#include <string.h>

#include "ui/width.h"

#define SEP " \xe2\x94\x82 " /* " │ " */
#define NFIELDS 12

struct field {
	char text[160];
	int prio; /* lower is kept first */
	bool hl;
	const char *alt[2]; /* shorter forms to try when text does not fit, or NULL */
};

static void fmt_tps(char *b, size_t n, const char *what, double v)
{
	snprintf(b, n, v >= 100 ? "%s %.0f t/s" : "%s %.1f t/s", what, v);
}

void ui_duration(double secs, char *buf, size_t size)
{
	/* A demo-model turn takes milliseconds: "0.0 s" would read as nothing happened. */
	if (secs < 1.0)
		snprintf(buf, size, "%.0f ms", secs > 0 ? secs * 1000.0 : 0.0);
	else
		snprintf(buf, size, "%.1f s", secs);
}

size_t ui_status_format(const struct ui_status *s, size_t width, char *buf, size_t size,
			size_t *hl_at, size_t *hl_len)
{
	struct field f[NFIELDS];
	int n = 0;
	*hl_at = *hl_len = 0;
	if (size)
		buf[0] = '\0';
#define ADD(p, ...) (f[n].prio = (p), f[n].hl = false, f[n].alt[0] = f[n].alt[1] = NULL, \
		     snprintf(f[n].text, sizeof f[n].text, __VA_ARGS__), n++)
	ADD(0, "%s", s->model && *s->model ? s->model : "no model");
	if (s->stopping)
		ADD(2, "stopping\xe2\x80\xa6");
	else if (s->generating)
		ADD(2, "generating\xe2\x80\xa6");
	/* The live figures come before the hints: they are why the bar is there. */
	if (s->ctx_used >= 0 && s->ctx_max > 0)
		ADD(3, "ctx %lld/%lld", (long long)s->ctx_used, (long long)s->ctx_max);
	if (s->tokens >= 0)
		ADD(4, "%lld tok", (long long)s->tokens);
	if (s->prefill_tps > 0) {
		ADD(8, "%s", "");
		fmt_tps(f[n - 1].text, sizeof f[n - 1].text, "prefill", s->prefill_tps);
	}
	if (s->resumed > 0)
		ADD(5, "resumed %lld tok", (long long)s->resumed); /* a user wants to know */
	if (s->decode_tps > 0) {
		ADD(5, "%s", "");
		fmt_tps(f[n - 1].text, sizeof f[n - 1].text, "decode", s->decode_tps);
	}
	if (s->mtp_rate >= 0)
		ADD(9, "MTP %.0f%%", s->mtp_rate * 100);
	if (s->elapsed_s >= 0) {
		ADD(6, "%s", "");
		ui_duration(s->elapsed_s, f[n - 1].text, sizeof f[n - 1].text);
	}
	if (s->message && *s->message) {
		ADD(1, "%s", s->message);
		f[n - 1].hl = true;
	}
	if (s->demo) {
		ADD(7, "%s", UI_DEMO_NOTE);
		f[n - 1].hl = !(s->message && *s->message);
		f[n - 1].alt[0] = UI_DEMO_NOTE_SHORT;
		f[n - 1].alt[1] = UI_DEMO_NOTE_TINY;
	}
#undef ADD
	/* Keep fields by priority while they fit. */
	bool keep[NFIELDS] = {0};
	size_t used = 0, sepw = ui_str_width(SEP, strlen(SEP));
	for (int p = 0; p <= 9; p++)
		for (int i = 0; i < n; i++) {
			if (f[i].prio != p)
				continue;
			size_t w = ui_str_width(f[i].text, strlen(f[i].text)) + (used ? sepw : 0);
			for (int k = 0; k < 2 && used + w > width && f[i].alt[k]; k++) {
				snprintf(f[i].text, sizeof f[i].text, "%s", f[i].alt[k]);
				w = ui_str_width(f[i].text, strlen(f[i].text)) + (used ? sepw : 0);
			}
			if (used + w > width && f[i].hl && p <= 1 && used + (used ? sepw : 0) + 8 <= width) {
				/* A message is cut to fit rather than lost. */
				size_t room = width - used - (used ? sepw : 0) - 1;
				size_t cut = ui_str_fit(f[i].text, strlen(f[i].text), room);
				if (cut > sizeof f[i].text - 4)
					cut = ui_str_fit(f[i].text, sizeof f[i].text - 4, room);
				memcpy(f[i].text + cut, "\xe2\x80\xa6", 4);
				w = ui_str_width(f[i].text, strlen(f[i].text)) + (used ? sepw : 0);
			}
			if (used + w <= width) {
				keep[i] = true;
				used += w;
			}
		}
	size_t len = 0;
	bool first = true;
	for (int i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		const char *parts[2] = {first ? "" : SEP, f[i].text};
		for (int k = 0; k < 2; k++) {
			size_t l = strlen(parts[k]);
			if (k == 1 && f[i].hl && !*hl_len) {
				*hl_at = len;
				*hl_len = l;
			}
			if (len + l + 1 > size)
				l = size > len + 1 ? size - len - 1 : 0;
			memcpy(buf + len, parts[k], l);
			len += l;
		}
		first = false;
	}
	if (size)
		buf[len < size ? len : size - 1] = '\0';
	if (*hl_at + *hl_len > len)
		*hl_len = *hl_at < len ? len - *hl_at : 0;
	return len;
}
