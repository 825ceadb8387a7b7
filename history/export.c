/*
 * export.c — one conversation as Markdown (`ponder history export --format md`).
 *
 * Layout: "# title", a metadata line, the system prompt as a quote, then one "## You" /
 * "## Assistant" section per message. An answer's reasoning goes first, inside
 * <details><summary>Reasoning</summary> ... </details>, so renderers fold it away.
 * Invariant: the texts are written unchanged, except that "</details" inside reasoning
 * is written as "&lt;/details" so it cannot close the block early.
 */
#include "history/history.h"

#include <string.h>
#include <strings.h>
#include <time.h>

static void fmt_time(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M %z", &tm))
		snprintf(buf, size, "%lld ms", (long long)ms);
}

/* The reasoning with every "</details" neutralised. */
static void put_reasoning(FILE *f, const char *s, size_t n)
{
	static const char tag[] = "</details";
	const size_t tl = sizeof tag - 1;
	size_t i = 0, start = 0;
	while (i + tl <= n) {
		if (s[i] == '<' && !strncasecmp(s + i, tag, tl)) {
			fwrite(s + start, 1, i - start, f);
			fputs("&lt;", f);
			start = i + 1;
			i += tl;
		} else {
			i++;
		}
	}
	fwrite(s + start, 1, n - start, f);
}

static void put_text(FILE *f, const char *s, size_t n)
{
	fwrite(s, 1, n, f);
	if (n && s[n - 1] != '\n')
		fputc('\n', f);
}

int hist_export_md(FILE *f, const struct hist_conversation *c, const struct hist_message *m,
		   size_t n, struct err *e)
{
	char when[64];
	fmt_time(c->created_ms, when, sizeof when);
	fprintf(f, "# %s\n\n", c->title && *c->title ? c->title : "(untitled)");
	fprintf(f, "*Conversation %lld", (long long)c->id);
	if (c->model && *c->model)
		fprintf(f, " · model %s", c->model);
	fprintf(f, " · started %s*\n\n", when);
	if (c->system_prompt && *c->system_prompt) {
		fputs("> **System:** ", f);
		for (const char *p = c->system_prompt; *p; p++) {
			fputc(*p, f);
			if (*p == '\n')
				fputs("> ", f);
		}
		fputs("\n\n", f);
	}
	for (size_t i = 0; i < n; i++) {
		const struct hist_message *msg = &m[i];
		fmt_time(msg->created_ms, when, sizeof when);
		if (msg->role == HIST_USER) {
			fprintf(f, "## You\n\n");
			put_text(f, msg->content, msg->content_len);
			fputc('\n', f);
			continue;
		}
		fprintf(f, "## Assistant\n\n");
		if (msg->reasoning_len) {
			fputs("<details>\n<summary>Reasoning</summary>\n\n", f);
			put_reasoning(f, msg->reasoning, msg->reasoning_len);
			if (msg->reasoning[msg->reasoning_len - 1] != '\n')
				fputc('\n', f);
			fputs("\n</details>\n\n", f);
		}
		put_text(f, msg->content, msg->content_len);
		if (msg->status == HIST_INTERRUPTED)
			fprintf(f, "\n*(interrupted)*\n");
		else if (msg->status == HIST_LENGTH)
			fprintf(f, "\n*(cut short: the token limit was reached)*\n");
		else if (msg->status == HIST_STREAMING)
			fprintf(f, "\n*(still being written, or its process stopped)*\n");
		else if (msg->status == HIST_ERROR)
			fprintf(f, "\n*(failed: %s)*\n", msg->error ? msg->error : "unknown error");
		int tps = msg->stats.decode_tps >= 0, ttft = msg->stats.ttft_ms >= 0;
		if (tps || ttft || msg->model)
			fprintf(f, "\n<sub>");
		if (msg->model)
			fprintf(f, "%s", msg->model);
		if (tps)
			fprintf(f, "%s%.1f tok/s", msg->model ? " · " : "", msg->stats.decode_tps);
		if (ttft)
			fprintf(f, "%sfirst token %.0f ms", msg->model || tps ? " · " : "",
				msg->stats.ttft_ms);
		if (tps || ttft || msg->model)
			fprintf(f, " · %s</sub>\n", when);
		fputc('\n', f);
	}
	if (ferror(f))
		return err_set(e, ERR_IO, "writing the Markdown export failed");
	return 0;
}
