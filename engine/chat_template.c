/*
 * chat_template.c — DeepSeek chat prompts without a Jinja engine (see chat_template.h).
 *
 * One walk over the conversation drives a small "render" sink that either appends text
 * (chat_render_text) or builds ids (chat_render_ids). Scaffolding goes in as markers,
 * conversation text as plain text; in id mode a marker that is an added token flushes
 * the plain text gathered so far through tok_encode(parse_special = false) and then
 * becomes its id, so plain text is always encoded in the same maximal runs that the
 * Hugging Face tokenizer would see between added tokens.
 */
#include "engine/chat_template.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The markers are UTF-8: ｜ is U+FF5C, ▁ is U+2581. */
#define MARK_BOS "<｜begin▁of▁sentence｜>"
#define MARK_EOS "<｜end▁of▁sentence｜>"
#define MARK_USER "<｜User｜>"
#define MARK_ASSISTANT "<｜Assistant｜>"
#define MARK_THINK "<think>"
#define MARK_THINK_END "</think>"

/* Config files are small; anything bigger is not a tokenizer_config.json. */
#define CONFIG_MAX (64u << 20)

const char *chat_family_name(enum chat_family family)
{
	return family == CHAT_DEEPSEEK_R1 ? "DeepSeek R1" : "DeepSeek V3";
}

void chat_template_default(enum chat_family family, struct chat_template *out)
{
	memset(out, 0, sizeof *out);
	out->family = family;
	out->opens_think = family == CHAT_DEEPSEEK_R1;
}

static bool has(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle)) != NULL;
}

void chat_template_classify(const char *jinja, size_t len, const char *label,
			    struct chat_template *out)
{
	chat_template_default(CHAT_DEEPSEEK_V3, out);
	if (!has(jinja, len, MARK_USER) || !has(jinja, len, MARK_ASSISTANT)) {
		out->unknown = true;
		snprintf(out->warning, sizeof out->warning,
			 "%s: the chat template is not a DeepSeek V3/R1 template; prompts are "
			 "rendered in the DeepSeek V3 format, which this model may not follow",
			 label ? label : "chat template");
		return;
	}
	if (has(jinja, len, MARK_THINK_END)) {
		out->family = CHAT_DEEPSEEK_R1;
		out->opens_think = has(jinja, len, MARK_ASSISTANT MARK_THINK);
	}
}

/* No template anywhere: R1 when the tokenizer knows the reasoning markers. */
static void guess(const char *label, const struct tok *tok, struct chat_template *out)
{
	bool r1 = tok && tok_added_id(tok, MARK_THINK) >= 0 &&
		  tok_added_id(tok, MARK_THINK_END) >= 0;
	chat_template_default(r1 ? CHAT_DEEPSEEK_R1 : CHAT_DEEPSEEK_V3, out);
	out->unknown = true;
	snprintf(out->warning, sizeof out->warning,
		 "%s: no chat template found; assuming the %s format%s", label,
		 chat_family_name(out->family),
		 r1 ? " (the tokenizer has <think> tokens)" : "");
}

/* 1: found and classified; 0: the config has no chat_template. */
static int from_json(json_t *root, const char *label, struct chat_template *out)
{
	json_t *ct = json_object_get(root, "chat_template");
	if (json_is_array(ct)) {
		/* HF's named templates: [{"name": "default", "template": "..."}, ...] */
		json_t *pick = NULL, *it;
		size_t i;
		json_array_foreach(ct, i, it) {
			const char *name = json_string_value(json_object_get(it, "name"));
			if (!json_is_string(json_object_get(it, "template")))
				continue;
			if (!pick || (name && strcmp(name, "default") == 0))
				pick = it;
		}
		ct = pick ? json_object_get(pick, "template") : NULL;
	}
	if (!json_is_string(ct))
		return 0;
	chat_template_classify(json_string_value(ct), json_string_length(ct), label, out);
	return 1;
}

/* Parses a tokenizer_config.json text; *found = 0 when it has no chat_template. */
static int parse_config(const char *json, size_t len, const char *label,
			struct chat_template *out, int *found, struct err *e)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je);
	if (!root)
		return err_set(e, ERR_FORMAT, "%s: invalid JSON at line %d: %s; fix or remove the file",
			       label, je.line, je.text);
	int rc = 0;
	if (!json_is_object(root))
		rc = err_set(e, ERR_FORMAT, "%s: the top level is not a JSON object", label);
	else
		*found = from_json(root, label, out);
	json_decref(root);
	return rc;
}

int chat_template_from_config(const char *json, size_t len, const char *label,
			      const struct tok *tok, struct chat_template *out, struct err *e)
{
	int found = 0;
	int rc = parse_config(json, len, label, out, &found, e);
	if (!rc && !found)
		guess(label, tok, out);
	return rc;
}

/* Reads a whole file; *missing is set instead of failing when it does not exist. */
static int slurp(const char *path, char **buf, size_t *len, bool *missing, struct err *e)
{
	*buf = NULL;
	*missing = false;
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (errno == ENOENT) {
			*missing = true;
			return 0;
		}
		return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
	}
	int rc = 0;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
		rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > CONFIG_MAX) {
		rc = err_set(e, ERR_FORMAT, "%s: %lld bytes is too large for a tokenizer config",
			     path, (long long)st.st_size);
		goto out;
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len + 1);
	if (!*buf) {
		rc = err_set(e, ERR_NOMEM, "%s: cannot allocate %zu bytes", path, *len + 1);
		goto out;
	}
	if (fread(*buf, 1, *len, f) != *len) {
		rc = err_set(e, ERR_IO, "%s: short read", path);
		free(*buf);
		*buf = NULL;
		goto out;
	}
	(*buf)[*len] = '\0';
out:
	fclose(f);
	return rc;
}

int chat_template_detect(const char *config_path, const struct tok *tok,
			 struct chat_template *out, struct err *e)
{
	if (!config_path) {
		guess("tokenizer_config.json", tok, out);
		return 0;
	}
	char *buf = NULL, *jpath = NULL;
	size_t len = 0;
	bool missing;
	int rc = slurp(config_path, &buf, &len, &missing, e);
	if (rc)
		return rc;
	if (!missing) {
		int found = 0;
		if ((rc = parse_config(buf, len, config_path, out, &found, e)) || found)
			goto out;
	}
	free(buf);
	buf = NULL;

	/* Newer Hugging Face repositories keep the template in its own file. */
	const char *slash = strrchr(config_path, '/');
	size_t dlen = slash ? (size_t)(slash - config_path) + 1 : 0;
	static const char jname[] = "chat_template.jinja";
	jpath = malloc(dlen + sizeof jname);
	if (!jpath) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(jpath, config_path, dlen);
	memcpy(jpath + dlen, jname, sizeof jname);
	bool jmissing;
	if ((rc = slurp(jpath, &buf, &len, &jmissing, e)))
		goto out;
	if (!jmissing)
		chat_template_classify(buf, len, jpath, out);
	else
		guess(config_path, tok, out);
out:
	free(buf);
	free(jpath);
	return rc;
}

bool chat_starts_in_reasoning(const struct chat_template *t, unsigned flags)
{
	return t->family == CHAT_DEEPSEEK_R1 && t->opens_think && (flags & CHAT_GEN_PROMPT) &&
	       !(flags & CHAT_THINK_OFF);
}

/* ---- rendering ---- */

struct render {
	const struct tok *tok; /* NULL: text mode */
	struct tok_ids *ids;
	char *buf; /* text mode: the prompt; id mode: plain text not yet encoded */
	size_t len, cap;
	struct err *e;
};

static int r_append(struct render *r, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > SIZE_MAX - 1 - r->len)
		return err_set(r->e, ERR_NOMEM, "chat prompt too large");
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 256;
		while (cap < r->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? r->len + n + 1 : cap * 2;
		char *nb = realloc(r->buf, cap);
		if (!nb)
			return err_set(r->e, ERR_NOMEM, "chat prompt: cannot allocate %zu bytes",
				       cap);
		r->buf = nb;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return 0;
}

static int r_flush(struct render *r)
{
	if (!r->tok || r->len == 0)
		return 0;
	int rc = tok_encode(r->tok, r->buf, r->len, false, r->ids, r->e);
	r->len = 0;
	return rc;
}

static int r_mark(struct render *r, const char *mark)
{
	if (r->tok) {
		int32_t id = tok_added_id(r->tok, mark);
		if (id >= 0) {
			int rc = r_flush(r);
			return rc ? rc : tok_ids_push(r->ids, id, r->e);
		}
	}
	/* Text mode, or a tokenizer without this added token: it is plain text, exactly
	   as the whole-string encoding would treat it. */
	return r_append(r, mark, strlen(mark));
}

/* R1 drops a past answer's reasoning: the text after the last </think>. */
static void past_answer(const struct chat_template *t, const char **p, size_t *n)
{
	if (t->family != CHAT_DEEPSEEK_R1)
		return;
	const size_t ml = strlen(MARK_THINK_END);
	const char *s = *p, *last = NULL, *hit;
	size_t left = *n;
	while ((hit = memmem(s, left, MARK_THINK_END, ml))) {
		last = hit;
		left -= (size_t)(hit + ml - s);
		s = hit + ml;
	}
	if (last) {
		*n -= (size_t)(last + ml - *p);
		*p = last + ml;
	}
}

static int render(const struct chat_template *t, const struct chat_turn *turns, size_t n,
		  unsigned flags, struct render *r)
{
	int rc;
	for (size_t i = 0; i < n; i++) {
		if (turns[i].role != CHAT_SYSTEM && turns[i].role != CHAT_USER &&
		    turns[i].role != CHAT_ASSISTANT)
			return err_set(r->e, ERR_USAGE, "chat turn %zu: unknown role %d", i,
				       (int)turns[i].role);
		if (!turns[i].text && turns[i].len)
			return err_set(r->e, ERR_USAGE, "chat turn %zu: NULL text", i);
	}
	if ((rc = r_mark(r, MARK_BOS)))
		return rc;
	bool first = true;
	for (size_t i = 0; i < n; i++) {
		if (turns[i].role != CHAT_SYSTEM)
			continue;
		if (!first && (rc = r_append(r, "\n\n", 2)))
			return rc;
		if ((rc = r_append(r, turns[i].text, turns[i].len)))
			return rc;
		first = false;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = turns[i].text;
		size_t len = turns[i].len;
		switch (turns[i].role) {
		case CHAT_SYSTEM:
			break;
		case CHAT_USER:
			if ((rc = r_mark(r, MARK_USER)) || (rc = r_append(r, p, len)))
				return rc;
			break;
		case CHAT_ASSISTANT:
			past_answer(t, &p, &len);
			if ((rc = r_mark(r, MARK_ASSISTANT)) || (rc = r_append(r, p, len)) ||
			    (rc = r_mark(r, MARK_EOS)))
				return rc;
			break;
		}
	}
	if (flags & CHAT_GEN_PROMPT) {
		if ((rc = r_mark(r, MARK_ASSISTANT)))
			return rc;
		if (t->family == CHAT_DEEPSEEK_R1 && (flags & CHAT_THINK_OFF)) {
			if ((rc = r_mark(r, MARK_THINK)) || (rc = r_append(r, "\n\n", 2)) ||
			    (rc = r_mark(r, MARK_THINK_END)) || (rc = r_append(r, "\n\n", 2)))
				return rc;
		} else if (t->family == CHAT_DEEPSEEK_R1 && t->opens_think) {
			if ((rc = r_mark(r, MARK_THINK)) || (rc = r_append(r, "\n", 1)))
				return rc;
		}
	}
	return r_flush(r);
}

int chat_render_text(const struct chat_template *t, const struct chat_turn *turns, size_t n,
		     unsigned flags, char **out, size_t *len, struct err *e)
{
	struct render r = { .e = e };
	*out = NULL;
	*len = 0;
	int rc = render(t, turns, n, flags, &r);
	if (rc) {
		free(r.buf);
		return rc;
	}
	if (!r.buf) { /* not reached (BOS is always there), but keep the contract */
		r.buf = malloc(1);
		if (!r.buf)
			return err_set(e, ERR_NOMEM, "out of memory");
		r.buf[0] = '\0';
	}
	*out = r.buf;
	*len = r.len;
	return 0;
}

int chat_render_ids(const struct chat_template *t, const struct tok *tok,
		    const struct chat_turn *turns, size_t n, unsigned flags,
		    struct tok_ids *out, struct err *e)
{
	if (!tok)
		return err_set(e, ERR_USAGE, "chat_render_ids: no tokenizer");
	struct render r = { .tok = tok, .ids = out, .e = e };
	size_t n0 = out->n;
	int rc = render(t, turns, n, flags, &r);
	if (rc)
		out->n = n0; /* leave the caller's ids as they were */
	free(r.buf);
	return rc;
}
