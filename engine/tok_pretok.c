/*
 * tok_pretok.c — normalizers and the pre-tokenizer pipeline, exact to the Hugging Face
 * `tokenizers` library on valid UTF-8.
 *
 * Regular expressions. The library compiles Split patterns with Oniguruma (Ruby-style
 * syntax, no options): `^`/`$` match at line starts/ends, `.` stops at "\n", \s \d \w
 * and \p{..} are Unicode-aware. PCRE2 with UTF | UCP | MULTILINE and LF newlines gives
 * the same meaning; Oniguruma's \uHHHH escape is rewritten to \x{HHHH}. A String
 * pattern is matched literally. Matches are enumerated like the onig crate's
 * find_iter: an empty match right at the end of the previous match is skipped by one
 * character.
 *
 * Limits: every pcre2_match call runs under a match limit, a depth limit and a heap
 * limit, with JIT code when available and a JIT stack of at most 8 MiB (one per thread,
 * kept in struct tok_thread: creating and unmapping one per call would cost more than
 * encoding a short message), so a pathological pattern or input ends in an ERR_RANGE error naming the
 * pre-tokenizer, not a hang.
 *
 * Total work. PCRE2's match limit counts per start position, and an unanchored search
 * tries every position, so a per-call limit alone still lets a catastrophic pattern
 * spend limit x length per call (minutes per MB). Instead every search runs with a small
 * limit per start position (START_LIMIT: real patterns need a few units per start on
 * ordinary text); a start that needs more is found by retrying the starts one by one,
 * anchored (the same result as the unanchored search), and only that start gets a
 * growing limit, each try paid from a budget per encode call. The budget grows by
 * BUDGET_PER_BYTE for every byte a regex step is given, so ordinary long matches (a
 * 10 MB run of spaces) are paid for, while a pattern that backtracks catastrophically
 * exhausts it within a few multiples of the text's length. Total work per step is thus
 * at most about (2 x START_LIMIT + BUDGET_PER_BYTE) units per byte.
 *
 * Pipeline. Steps (a flattened Sequence) apply to every piece the previous step made,
 * depth-first: the recursion depth is the number of steps (at most TOK_MAX_STEPS),
 * never the input size. Each level keeps its own scratch, so pieces of level k stay
 * valid while level k+1 works. Split behaviours (Removed, Isolated, MergedWithPrevious,
 * MergedWithNext, Contiguous) and `invert` follow NormalizedString::split; empty pieces
 * are dropped, as PreTokenizedString::split does. The last step hands each piece to
 * tok_bpe_word.
 *
 * Input to this file is always valid UTF-8 (tokenizer.c cuts invalid bytes out first),
 * which is why pcre2_match runs with PCRE2_NO_UTF_CHECK.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tok_internal.h"

#define START_LIMIT 1024u            /* match-limit units per start position, first try */
#define BUDGET_PER_BYTE 256u         /* units a regex step may spend beyond that, per byte */
#define DEPTH_LIMIT 1000000u
#define HEAP_LIMIT_KIB (256u * 1024u)
#define JIT_STACK_MAX (8u << 20)

/* ---- regex --------------------------------------------------------------------- */

/* Oniguruma's \uHHHH -> PCRE2's \x{HHHH}; everything else (including \\u) unchanged. */
static char *rewrite_escapes(const char *p, size_t n, size_t *on)
{
	char *o = malloc(n * 2 + 1);
	if (!o)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\\' && i + 1 < n) {
			bool hex4 = p[i + 1] == 'u' && i + 6 <= n;
			for (size_t d = 2; hex4 && d < 6; d++) {
				char c = p[i + d];
				hex4 = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
				       (c >= 'A' && c <= 'F');
			}
			if (hex4) {
				memcpy(o + k, "\\x{", 3);
				memcpy(o + k + 3, p + i + 2, 4);
				o[k + 7] = '}';
				k += 8;
				i += 5;
				continue;
			}
			o[k++] = p[i++];
		}
		o[k++] = p[i];
	}
	o[k] = '\0';
	*on = k;
	return o;
}

int tok_regex_compile(const char *pattern, size_t len, bool literal, const char *what,
		      const char *label, pcre2_code **out, struct err *e)
{
	*out = NULL;
	size_t n = len;
	char *pat = literal ? NULL : rewrite_escapes(pattern, len, &n);
	if (!literal && !pat)
		return err_set(e, ERR_NOMEM, "%s: out of memory compiling %s", label, what);
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	if (!cc) {
		free(pat);
		return err_set(e, ERR_NOMEM, "%s: out of memory compiling %s", label, what);
	}
	pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
	/* Patterns are small; this bounds the compile of a hostile one. */
	pcre2_set_parens_nest_limit(cc, 250);
	uint32_t opt = literal ? PCRE2_UTF | PCRE2_LITERAL
			       : PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE;
	int ec = 0;
	PCRE2_SIZE eo = 0;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)(literal ? pattern : pat), n, opt, &ec, &eo, cc);
	pcre2_compile_context_free(cc);
	free(pat);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		return err_set(e, ERR_FORMAT, "%s: %s: the regex /%.*s/ does not compile: %s (at offset %zu)",
			       label, what, (int)(len > 200 ? 200 : len), pattern, (const char *)msg,
			       (size_t)eo);
	}
	/* Without JIT (unsupported CPU, or SELinux) the interpreter runs, under the same
	   limits. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	*out = re;
	return 0;
}

void tok_run_free_pretok(struct tok_run *r)
{
	for (size_t i = 0; i <= TOK_MAX_STEPS; i++) {
		free(r->lv[i].seg);
		free(r->lv[i].buf);
	}
	memset(r->lv, 0, sizeof r->lv);
	free(r->nbuf);
	r->nbuf = NULL;
}

/* The pcre2 match data, limits and JIT stack of this thread (tokenizer.c keeps them). */
int tok_thread_init_regex(struct tok_thread *th)
{
	if (th->md)
		return 0;
	th->md = pcre2_match_data_create(1, NULL);
	th->mctx = pcre2_match_context_create(NULL);
	if (!th->md || !th->mctx)
		return ERR_NOMEM;
	pcre2_set_match_limit(th->mctx, START_LIMIT);
	pcre2_set_depth_limit(th->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(th->mctx, HEAP_LIMIT_KIB);
	th->jit = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (th->jit)
		pcre2_jit_stack_assign(th->mctx, NULL, th->jit);
	return 0;
}

void tok_thread_free_regex(struct tok_thread *th)
{
	pcre2_match_data_free(th->md);
	pcre2_match_context_free(th->mctx);
	pcre2_jit_stack_free(th->jit);
	th->md = NULL;
	th->mctx = NULL;
	th->jit = NULL;
}

static int seg_push(struct tok_run *r, struct tok_level *lv, size_t a, size_t b, bool m)
{
	if (lv->n_seg == lv->cap_seg) {
		int rc = tok_grow((void **)&lv->seg, &lv->cap_seg, lv->n_seg + 1, sizeof *lv->seg,
				  r->e);
		if (rc)
			return rc;
	}
	lv->seg[lv->n_seg++] = (struct tok_seg){a, b, m};
	return 0;
}

static int match_error(struct tok_run *r, const struct tok_step *st, int rc)
{
	const char *why = "regex matching failed";
	switch (rc) {
	case PCRE2_ERROR_DEPTHLIMIT: why = "the regex hit its depth limit"; break;
	case PCRE2_ERROR_HEAPLIMIT: why = "the regex hit its heap limit"; break;
	case PCRE2_ERROR_JIT_STACKLIMIT: why = "the regex ran out of JIT stack"; break;
	case PCRE2_ERROR_NOMEMORY: why = "out of memory while matching the regex"; break;
	}
	return err_set(r->e, ERR_RANGE, "%s: %s: %s on this input (PCRE2 code %d)", r->t->label,
		       st->what, why, rc);
}

static int budget_error(struct tok_run *r, const struct tok_step *st, size_t n)
{
	return err_set(r->e, ERR_RANGE,
		       "%s: %s: the pre-tokenizer regex exceeded its work budget on this input "
		       "(catastrophic backtracking on a %zu-byte piece of text); the file is "
		       "hostile or broken",
		       r->t->label, st->what, n);
}

static int try_match(struct tok_run *r, const struct tok_step *st, const char *s, size_t n,
		     size_t at, uint32_t opt, uint32_t limit)
{
	pcre2_set_match_limit(r->th->mctx, limit);
	return pcre2_match(st->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK | opt, r->th->md,
			   r->th->mctx);
}

/* The one start position `at` that needs more than START_LIMIT: tries it anchored with
   limits growing eightfold, each paid from the encode's budget. PCRE2_ERROR_MATCHLIMIT
   when the budget runs out. */
static int match_costly_start(struct tok_run *r, const struct tok_step *st, const char *s,
			      size_t n, size_t at)
{
	uint64_t limit = START_LIMIT;
	for (;;) {
		limit *= 8;
		if (limit > r->regex_budget)
			limit = r->regex_budget;
		if (limit > UINT32_MAX)
			limit = UINT32_MAX;
		if (limit <= START_LIMIT)
			return PCRE2_ERROR_MATCHLIMIT;
		int mr = try_match(r, st, s, n, at, PCRE2_ANCHORED, (uint32_t)limit);
		r->regex_budget -= limit;
		if (mr != PCRE2_ERROR_MATCHLIMIT || limit == UINT32_MAX)
			return mr; /* PCRE2 takes no larger limit */
	}
}

/* The first match in s[0..n) that starts at or after pos, as an unanchored pcre2_match
   finds it, under the work bounds above. 1: ovector set; 0: no match; else an error. */
static int match_from(struct tok_run *r, const struct tok_step *st, const char *s, size_t n,
		      size_t pos)
{
	for (;;) {
		int mr = try_match(r, st, s, n, pos, 0, START_LIMIT);
		if (mr == PCRE2_ERROR_MATCHLIMIT) {
			/* Some start from pos on needs more: the starts before it fail within
			   the limit, so trying each anchored in turn finds it. */
			size_t at = pos;
			while ((mr = try_match(r, st, s, n, at, PCRE2_ANCHORED, START_LIMIT)) ==
				       PCRE2_ERROR_NOMATCH &&
			       at < n) {
				uint32_t cp;
				size_t cl = utf8_decode((const uint8_t *)s + at, n - at, &cp);
				at += cl ? cl : 1;
			}
			if (mr == PCRE2_ERROR_MATCHLIMIT)
				mr = match_costly_start(r, st, s, n, at);
			if (mr == PCRE2_ERROR_NOMATCH && at < n) {
				uint32_t cp;
				size_t cl = utf8_decode((const uint8_t *)s + at, n - at, &cp);
				pos = at + (cl ? cl : 1);
				continue;
			}
		}
		if (mr >= 0)
			return 1;
		if (mr == PCRE2_ERROR_NOMATCH)
			return 0;
		return mr == PCRE2_ERROR_MATCHLIMIT ? budget_error(r, st, n) : match_error(r, st, mr);
	}
}

/* The onig crate's find_iter over s[0..n), as (start, end, is_match) segments covering
   the whole piece (Pattern::find_matches), with `invert` applied. */
static int find_segments(struct tok_run *r, const struct tok_step *st, struct tok_level *lv,
			 const char *s, size_t n)
{
	int rc;
	if (tok_thread_init_regex(r->th))
		return err_set(r->e, ERR_NOMEM, "tokenizer: out of memory for regex matching");
	lv->n_seg = 0;
	pcre2_match_data *md = r->th->md;
	/* A linear scan of a long piece (\s*[\r\n]+ over 10 MB of spaces) takes one unit
	   per byte at one start: this step's bytes pay for such work. */
	uint64_t deposit = (uint64_t)n * BUDGET_PER_BYTE;
	r->regex_budget = r->regex_budget > UINT64_MAX - deposit ? UINT64_MAX
								   : r->regex_budget + deposit;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	size_t pos = 0, prev = 0, last_end = 0;
	bool have_last = false;
	while (pos <= n) {
		int mr = match_from(r, st, s, n, pos);
		if (mr == 0)
			break;
		if (mr < 0)
			return mr;
		size_t ms = ov[0], me = ov[1];
		if (me < ms) /* \K tricks; the library has no such thing */
			me = ms;
		if (ms == me && have_last && last_end == me) {
			if (pos >= n)
				break;
			uint32_t cp;
			size_t cl = utf8_decode((const uint8_t *)s + pos, n - pos, &cp);
			pos += cl ? cl : 1;
			continue;
		}
		if (prev != ms && (rc = seg_push(r, lv, prev, ms, st->invert)))
			return rc;
		if ((rc = seg_push(r, lv, ms, me, !st->invert)))
			return rc;
		prev = me;
		pos = me;
		last_end = me;
		have_last = true;
	}
	if (prev != n && (rc = seg_push(r, lv, prev, n, st->invert)))
		return rc;
	return 0;
}

/* NormalizedString::split's folds, in place over lv->seg. Returns the range [*a, *b)
   of resulting pieces; a removed piece gets start == end. */
static void apply_behavior(uint8_t behavior, struct tok_level *lv, size_t *a, size_t *b)
{
	struct tok_seg *g = lv->seg;
	size_t n = lv->n_seg, k = 0;
	bool prev_match = false;
	*a = 0;
	switch (behavior) {
	case TOK_ISOLATED:
		k = n;
		break;
	case TOK_REMOVED:
		for (size_t i = 0; i < n; i++)
			if (!g[i].match)
				g[k++] = g[i];
		break;
	case TOK_CONTIGUOUS:
		for (size_t i = 0; i < n; i++) {
			bool m = g[i].match;
			if (m == prev_match && k > 0)
				g[k - 1].end = g[i].end;
			else
				g[k++] = g[i];
			prev_match = m;
		}
		break;
	case TOK_MERGED_PREV:
		for (size_t i = 0; i < n; i++) {
			bool m = g[i].match;
			if (m && !prev_match && k > 0)
				g[k - 1].end = g[i].end;
			else
				g[k++] = g[i];
			prev_match = m;
		}
		break;
	case TOK_MERGED_NEXT: {
		/* the library folds from the end; k counts down, always >= i */
		size_t top = n;
		for (size_t i = n; i-- > 0;) {
			bool m = g[i].match;
			if (m && !prev_match && top < n)
				g[top].start = g[i].start;
			else
				g[--top] = g[i];
			prev_match = m;
		}
		*a = top;
		k = n;
		break;
	}
	}
	*b = k;
}

int tok_pretok_run(struct tok_run *r, size_t step, const char *s, size_t n)
{
	const struct tok *t = r->t;
	if (!n)
		return 0;
	if (step >= t->n_steps)
		return tok_bpe_word(r, (const uint8_t *)s, n);
	const struct tok_step *st = &t->steps[step];
	struct tok_level *lv = &r->lv[step];
	int rc;
	if (st->prefix_space && s[0] != ' ') {
		if (n == SIZE_MAX)
			return err_set(r->e, ERR_RANGE, "tokenizer: text too long");
		if ((rc = tok_grow((void **)&lv->buf, &lv->cap_buf, n + 1, 1, r->e)))
			return rc;
		lv->buf[0] = ' ';
		memcpy(lv->buf + 1, s, n);
		s = lv->buf;
		n++;
	}
	if (!st->re)
		return tok_pretok_run(r, step + 1, s, n);
	if ((rc = find_segments(r, st, lv, s, n)))
		return rc;
	size_t a, b;
	apply_behavior(st->behavior, lv, &a, &b);
	/* lv->seg is not touched by deeper levels, so iterating it while recursing is safe */
	for (size_t i = a; i < b; i++) {
		size_t ps = lv->seg[i].start, pe = lv->seg[i].end;
		if (pe > ps && (rc = tok_pretok_run(r, step + 1, s + ps, pe - ps)))
			return rc;
	}
	return 0;
}

/* ---- normalizers --------------------------------------------------------------- */

static utf8proc_option_t norm_options(uint8_t kind)
{
	switch (kind) {
	case TOK_NFC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE;
	case TOK_NFD: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
	case TOK_NFKC: return UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
	default: return UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
	}
}

static int normalize_chain(const struct tok *t, const char *s, size_t n, char **out, size_t *on,
			   struct err *e)
{
	char *cur = NULL;
	size_t cn = n;
	const char *src = s;
	for (size_t i = 0; i < t->n_norm; i++) {
		if (cn > (size_t)PTRDIFF_MAX / 8) {
			free(cur);
			return err_set(e, ERR_RANGE, "tokenizer: text too long to normalize");
		}
		utf8proc_uint8_t *dst = NULL;
		utf8proc_ssize_t rn = utf8proc_map((const utf8proc_uint8_t *)src, (utf8proc_ssize_t)cn,
						   &dst, norm_options(t->norm[i]));
		free(cur);
		if (rn < 0) {
			free(dst);
			return err_set(e, rn == UTF8PROC_ERROR_NOMEM ? ERR_NOMEM : ERR_FORMAT,
				       "tokenizer: normalization failed: %s", utf8proc_errmsg(rn));
		}
		cur = (char *)dst;
		cn = (size_t)rn;
		src = cur;
	}
	*out = cur;
	*on = cn;
	return 0;
}

int tok_normalize(struct tok_run *r, const char *s, size_t n, const char **out, size_t *on)
{
	if (!r->t->n_norm) {
		*out = s;
		*on = n;
		return 0;
	}
	free(r->nbuf);
	r->nbuf = NULL;
	int rc = normalize_chain(r->t, s, n, &r->nbuf, on, r->e);
	if (rc)
		return rc;
	*out = r->nbuf;
	return 0;
}

int tok_normalize_alloc(const struct tok *t, const char *s, size_t n, char **out, size_t *on,
			struct err *e)
{
	if (!t->n_norm) {
		*out = malloc(n + 1);
		if (!*out)
			return err_set(e, ERR_NOMEM, "tokenizer: out of memory");
		memcpy(*out, s, n);
		(*out)[n] = '\0';
		*on = n;
		return 0;
	}
	return normalize_chain(t, s, n, out, on, e);
}
