/*
 * tok_load.c — tokenizer.json to struct tok, with the checks the Hugging Face library
 * makes (and a few more), each failure naming the file and the field.
 *
 * The document is walked with the scanner in tok_json.c; model.vocab and model.merges
 * (nearly all of the bytes) are read straight into the tables, and the small sections
 * (added_tokens, normalizer, pre_tokenizer, decoder) are parsed with jansson from their
 * text spans. Sections that do not change encoding (truncation, padding,
 * post_processor) are skipped: ponder adds BOS itself in the chat template.
 *
 * What is accepted:
 *   model         BPE only: vocab, merges ("a b" strings or ["a", "b"] pairs; rank =
 *                 order; "#version" lines skipped), unk_token, fuse_unk, byte_fallback,
 *                 ignore_merges, continuing_subword_prefix, end_of_word_suffix;
 *                 dropout must be null or 0.
 *   normalizer    null, Sequence, NFC, NFD, NFKC, NFKD.
 *   pre_tokenizer null, Sequence, Split (Regex or String pattern, any behaviour,
 *                 invert), ByteLevel (add_prefix_space, use_regex; must come last),
 *                 Digits, Punctuation, Whitespace, WhitespaceSplit.
 *   decoder       null or ByteLevel.
 *   added_tokens  content, id, special, normalized, lstrip, rstrip, single_word.
 * Any other type is an ERR_UNSUPPORTED error naming it.
 *
 * Checks beyond JSON syntax: vocab ids in range (0..2^24, and not sparse beyond
 * 4 x entries), no id or string used twice; every merge names vocab tokens and its
 * concatenation is in the vocab; an added token's id must be the one the library
 * itself assigns (the vocab id of its content, else the next free id after the vocab),
 * since the library silently uses its own and a file that disagrees would encode
 * differently from what its ids say.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/tok_internal.h"

#define MAX_FILE ((size_t)1 << 30)

static const char gpt2_pattern[] =
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
#define RUST_SPACE "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}" \
		   "\\x{202F}\\x{205F}\\x{3000}"
#define RUST_WORD "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}"

struct span {
	const char *p;
	size_t n;
	bool present;
};

struct vent {
	int32_t id;
	uint32_t off, len;
};

#define MBATCH 32

struct mrec {
	uint32_t off[3], len[3]; /* a, b, a+b in loader.mb */
	uint64_t h[3];
	int32_t id[3];
	size_t idx;
	uint32_t rank;
};

struct loader {
	struct tok *t;
	struct err *e;
	const char *base, *end;
	struct span model, vocab, merges, added, norm, pretok, dec;
	struct vent *ve;
	size_t nve, cap_ve;
	char *tmp; /* tj scratch */
	size_t tmp_cap;
	char *abuf; /* first element of a ["a", "b"] merge */
	size_t cap_abuf;
	struct mrec mq[MBATCH]; /* merges waiting for merge_flush */
	size_t nmq;
	char *mb;
	size_t mb_len, cap_mb;
	char *unk; /* model.unk_token */
	bool dropout;
};

static int parse_model(struct loader *L, struct tj *jp);
static int parse_vocab(struct loader *L, struct tj *jp);
static int insert_vocab(struct loader *L, const uint64_t *hv);
static int parse_merges(struct loader *L, struct tj *jp);

/* A quoted, escaped, truncated copy of s for messages. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
	size_t k = 0;
	buf[k++] = '"';
	for (size_t i = 0; i < n && k + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			buf[k++] = '\\';
			buf[k++] = (char)c;
		} else if (c < 0x20 || c == 0x7F) {
			k += (size_t)snprintf(buf + k, cap - k, "\\x%02X", c);
		} else {
			buf[k++] = (char)c;
		}
		if (k + 8 >= cap && i + 1 < n) {
			/* cut at a character boundary */
			while (k > 1 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
				k--;
			if (k > 1 && (unsigned char)buf[k - 1] >= 0xC0)
				k--;
			memcpy(buf + k, "...", 3);
			k += 3;
			break;
		}
	}
	buf[k++] = '"';
	buf[k] = '\0';
	return buf;
}

static int arena_add(struct tok *t, const char *s, size_t n, uint32_t *off, struct err *e)
{
	if (t->arena_len + n >= UINT32_MAX)
		return err_set(e, ERR_NOMEM, "%s: token strings exceed 4 GiB", t->label);
	int rc = tok_grow((void **)&t->arena, &t->arena_cap, t->arena_len + n + 1, 1, e);
	if (rc)
		return rc;
	memcpy(t->arena + t->arena_len, s, n);
	*off = (uint32_t)t->arena_len;
	t->arena_len += n;
	return 0;
}

/* Makes ids [0, n) addressable, new ones unused. */
static int ensure_ids(struct tok *t, size_t n, struct err *e)
{
	if (n <= t->n_ids)
		return 0;
	uint32_t *a = realloc(t->tok_off, n * sizeof *a);
	if (a)
		t->tok_off = a;
	uint32_t *b = realloc(t->tok_len, n * sizeof *b);
	if (b)
		t->tok_len = b;
	uint32_t *c = realloc(t->out_off, n * sizeof *c);
	if (c)
		t->out_off = c;
	uint32_t *d = realloc(t->out_len, n * sizeof *d);
	if (d)
		t->out_len = d;
	uint8_t *f = realloc(t->flags, n);
	if (f)
		t->flags = f;
	if (!a || !b || !c || !d || !f)
		return err_set(e, ERR_NOMEM, "%s: out of memory for %zu token ids", t->label, n);
	for (size_t i = t->n_ids; i < n; i++) {
		t->tok_off[i] = t->out_off[i] = 0;
		t->tok_len[i] = t->out_len[i] = TOK_NONE;
		t->flags[i] = 0;
	}
	t->n_ids = n;
	return 0;
}

static int check_id(struct loader *L, int64_t id, size_t entries, const char *field,
		    const char *s, size_t n)
{
	char q[96];
	size_t dense = 4 * entries + 1024;
	if (id < 0 || id >= (int64_t)TOK_MAX_ID)
		return err_set(L->e, ERR_RANGE, "%s: %s: token %s has id %lld, outside 0..%u",
			       L->t->label, field, show(s, n, q, sizeof q), (long long)id,
			       TOK_MAX_ID - 1);
	if ((uint64_t)id >= dense)
		return err_set(L->e, ERR_RANGE,
			       "%s: %s: token %s has id %lld, far beyond the %zu tokens defined "
			       "(ids must be dense)",
			       L->t->label, field, show(s, n, q, sizeof q), (long long)id, entries);
	return 0;
}

/* ---- the root object and the model ---------------------------------------------- */

static void tj_init(struct loader *L, struct tj *j, const struct span *sp)
{
	memset(j, 0, sizeof *j);
	j->base = L->base;
	j->p = sp->p;
	j->end = sp->p + sp->n;
	j->label = L->t->label;
	j->e = L->e;
	j->tmp = L->tmp;
	j->tmp_cap = L->tmp_cap;
}

static void tj_done(struct loader *L, struct tj *j)
{
	L->tmp = j->tmp;
	L->tmp_cap = j->tmp_cap;
}

static bool key_is(const char *k, size_t kn, const char *want)
{
	return kn == strlen(want) && !memcmp(k, want, kn);
}

static int skip_into(struct tj *j, struct span *sp)
{
	const char *start = j->p;
	int rc = tj_skip(j);
	if (rc)
		return rc;
	sp->p = start;
	sp->n = (size_t)(j->p - start);
	sp->present = true;
	return 0;
}

static int scan_root(struct loader *L, const char *json, size_t len)
{
	struct span all = {json, len, true};
	struct tj j;
	tj_init(L, &j, &all);
	int rc = tj_open(&j, '{');
	bool first = true, done = false;
	while (!rc) {
		const char *k;
		size_t kn;
		if ((rc = tj_obj_next(&j, &first, &k, &kn, &done)) || done)
			break;
		if (key_is(k, kn, "model")) {
			if (L->model.present) {
				rc = tj_fail(&j, "a second \"model\" section");
				break;
			}
			L->model.present = true;
			rc = parse_model(L, &j);
			continue;
		}
		struct span *sp = key_is(k, kn, "added_tokens")	? &L->added
				  : key_is(k, kn, "normalizer")		? &L->norm
				  : key_is(k, kn, "pre_tokenizer")	? &L->pretok
				  : key_is(k, kn, "decoder")		? &L->dec
									: NULL;
		struct span ignored;
		rc = skip_into(&j, sp ? sp : &ignored);
	}
	if (!rc) {
		tj_ws(&j);
		if (j.p != j.end)
			rc = tj_fail(&j, "text after the top-level object");
	}
	tj_done(L, &j);
	if (!rc && !L->model.present)
		rc = err_set(L->e, ERR_FORMAT, "%s: no \"model\" section; is this a tokenizer.json?",
			     L->t->label);
	return rc;
}

/* null or a string, copied. */
static int opt_string(struct loader *L, struct tj *j, const char *field, char **out)
{
	free(*out);
	*out = NULL;
	if (j->p < j->end && *j->p == 'n') {
		int v;
		return tj_literal(j, &v);
	}
	const char *s;
	size_t n;
	int rc = tj_string(j, &s, &n);
	if (rc)
		return err_prefix(L->e, "model.%s", field);
	if (memchr(s, '\0', n))
		return err_set(L->e, ERR_FORMAT, "%s: model.%s contains a NUL character", L->t->label,
			       field);
	*out = strndup(s, n);
	return *out ? 0 : err_set(L->e, ERR_NOMEM, "%s: out of memory", L->t->label);
}

static int opt_bool(struct loader *L, struct tj *j, const char *field, bool *out)
{
	int v, rc = tj_literal(j, &v);
	if (rc)
		return err_set(L->e, ERR_FORMAT, "%s: model.%s must be true, false or null",
			       L->t->label, field);
	*out = v == 1;
	return 0;
}

/* The model object, read in place: vocab at once, merges at once when the vocab came
   first (the library writes it so), otherwise from their span afterwards. */
static int parse_model(struct loader *L, struct tj *jp)
{
	struct tok *t = L->t;
	struct tj j = *jp;
	char type[64] = "";
	bool has_type = false, merges_done = false, prefix_late = false;
	int rc = tj_open(&j, '{');
	if (rc)
		rc = err_prefix(L->e, "model");
	bool first = true, done = false;
	while (!rc) {
		const char *k;
		size_t kn;
		if ((rc = tj_obj_next(&j, &first, &k, &kn, &done)) || done)
			break;
		if (key_is(k, kn, "type")) {
			const char *s;
			size_t n;
			if ((rc = tj_string(&j, &s, &n)))
				break;
			snprintf(type, sizeof type, "%.*s", (int)(n < 60 ? n : 60), s);
			has_type = true;
			if (strcmp(type, "BPE"))
				break; /* reported below, before reading fields it may not have */
		} else if (key_is(k, kn, "vocab")) {
			if (L->vocab.present) {
				rc = tj_fail(&j, "model.vocab appears twice");
				break;
			}
			L->vocab.present = true;
			rc = parse_vocab(L, &j);
		} else if (key_is(k, kn, "merges")) {
			if (L->merges.present) {
				rc = tj_fail(&j, "model.merges appears twice");
				break;
			}
			const char *start = j.p;
			if (L->vocab.present) {
				rc = parse_merges(L, &j);
				merges_done = rc == 0;
			}
			if (!merges_done) {
				/* no vocab yet, or a failure that a continuing_subword_prefix later
				   in the object may explain: read them again at the end */
				err_clear(L->e);
				tok_pmap_free(&t->merges);
				j.p = start;
				rc = tj_skip(&j);
			}
			L->merges = (struct span){start, (size_t)(j.p - start), true};
		} else if (key_is(k, kn, "unk_token")) {
			rc = opt_string(L, &j, "unk_token", &L->unk);
		} else if (key_is(k, kn, "continuing_subword_prefix")) {
			rc = opt_string(L, &j, "continuing_subword_prefix", &t->cont_prefix);
			prefix_late = merges_done;
		} else if (key_is(k, kn, "end_of_word_suffix")) {
			rc = opt_string(L, &j, "end_of_word_suffix", &t->eow_suffix);
		} else if (key_is(k, kn, "fuse_unk")) {
			rc = opt_bool(L, &j, "fuse_unk", &t->fuse_unk);
		} else if (key_is(k, kn, "byte_fallback")) {
			rc = opt_bool(L, &j, "byte_fallback", &t->byte_fallback);
		} else if (key_is(k, kn, "ignore_merges")) {
			rc = opt_bool(L, &j, "ignore_merges", &t->ignore_merges);
		} else if (key_is(k, kn, "dropout")) {
			const char *start = j.p;
			if ((rc = tj_skip(&j)))
				break;
			char num[64];
			size_t n = (size_t)(j.p - start);
			snprintf(num, sizeof num, "%.*s", (int)(n < 60 ? n : 60), start);
			L->dropout = strcmp(num, "null") && strtod(num, NULL) != 0.0;
		} else {
			struct span ignored;
			rc = skip_into(&j, &ignored);
		}
	}
	*jp = j;
	if (rc)
		return rc;
	if (has_type && strcmp(type, "BPE"))
		return err_set(L->e, ERR_UNSUPPORTED,
			       "%s: model type \"%s\" is not supported (ponder implements BPE only)",
			       t->label, type);
	if (!L->vocab.present)
		return err_set(L->e, ERR_FORMAT, "%s: model.vocab is missing", t->label);
	if (!L->merges.present)
		return err_set(L->e, ERR_FORMAT, "%s: model.merges is missing", t->label);
	if (L->dropout)
		return err_set(L->e, ERR_UNSUPPORTED,
			       "%s: model.dropout is set; BPE dropout makes encoding random and "
			       "ponder does not implement it",
			       t->label);
	if (!merges_done || prefix_late) {
		/* merges came before the vocab, or the prefix changed their meaning */
		struct tj m;
		tj_init(L, &m, &L->merges);
		m.tmp = j.tmp;
		m.tmp_cap = j.tmp_cap;
		tok_pmap_free(&t->merges);
		rc = parse_merges(L, &m);
		jp->tmp = m.tmp;
		jp->tmp_cap = m.tmp_cap;
	}
	return rc;
}

/* ---- vocab and merges ------------------------------------------------------------ */

static int parse_vocab(struct loader *L, struct tj *jp)
{
	struct tok *t = L->t;
	struct tj j = *jp;
	int rc = tj_open(&j, '{');
	bool first = true, done = false;
	int64_t max_id = -1;
	while (!rc) {
		const char *k;
		size_t kn;
		if ((rc = tj_obj_next(&j, &first, &k, &kn, &done)) || done)
			break;
		if ((rc = tok_grow((void **)&L->ve, &L->cap_ve, L->nve + 1, sizeof *L->ve, L->e)))
			break;
		struct vent *v = &L->ve[L->nve];
		if ((rc = arena_add(t, k, kn, &v->off, L->e)))
			break;
		v->len = (uint32_t)kn;
		int64_t id;
		if ((rc = tj_int(&j, &id))) {
			char q[96];
			err_prefix(L->e, "model.vocab[%s]", show(k, kn, q, sizeof q));
			break;
		}
		if (id < 0 || id >= (int64_t)TOK_MAX_ID)
			rc = check_id(L, id, 0, "model.vocab", t->arena + v->off, v->len);
		v->id = (int32_t)id;
		if (id > max_id)
			max_id = id;
		L->nve++;
	}
	*jp = j;
	if (rc)
		return rc;
	if (!L->nve)
		return err_set(L->e, ERR_FORMAT, "%s: model.vocab is empty", t->label);
	t->n_vocab = L->nve;
	for (size_t i = 0; i < L->nve; i++)
		if ((rc = check_id(L, L->ve[i].id, L->nve, "model.vocab", t->arena + L->ve[i].off,
				   L->ve[i].len)))
			return rc;
	if ((rc = ensure_ids(t, (size_t)max_id + 1, L->e)))
		return rc;
	if ((rc = tok_smap_init(&t->vocab, L->nve, false, L->e)))
		return rc;
	/* hashes first, so each insert can prefetch the slot of one further ahead */
	uint64_t *hv = malloc(L->nve * sizeof *hv);
	if (!hv)
		return err_set(L->e, ERR_NOMEM, "%s: out of memory", t->label);
	for (size_t i = 0; i < L->nve; i++)
		hv[i] = tok_hash(t->arena + L->ve[i].off, L->ve[i].len);
	rc = insert_vocab(L, hv);
	free(hv);
	return rc;
}

static int insert_vocab(struct loader *L, const uint64_t *hv)
{
	struct tok *t = L->t;
	for (size_t i = 0; i < L->nve; i++) {
		if (i + 16 < L->nve)
			tok_smap_prefetch(&t->vocab, hv[i + 16]);
		struct vent *v = &L->ve[i];
		char q1[96], q2[96];
		if (t->tok_len[v->id] != TOK_NONE)
			return err_set(L->e, ERR_FORMAT, "%s: model.vocab: id %d is used by both %s and %s",
				       t->label, (int)v->id,
				       show(t->arena + t->tok_off[v->id], t->tok_len[v->id], q1, sizeof q1),
				       show(t->arena + v->off, v->len, q2, sizeof q2));
		t->tok_off[v->id] = v->off;
		t->tok_len[v->id] = v->len;
		t->flags[v->id] = TOK_F_MODEL;
		int32_t old = tok_smap_put_h(&t->vocab, t, v->id, hv[i]);
		if (old >= 0)
			return err_set(L->e, ERR_FORMAT,
				       "%s: model.vocab: token %s appears twice (ids %d and %d)",
				       t->label, show(t->arena + v->off, v->len, q1, sizeof q1),
				       (int)old, (int)v->id);
	}
	return 0;
}

/* Merges are resolved in batches: three vocab lookups and one insert each, all random
   accesses into multi-megabyte tables, so the batch prefetches the slots, then the
   strings they point at, then the pair slots, and only then does the work. This more
   than halves the load time of a 128k-merge file. */
static int merge_flush(struct loader *L)
{
	struct tok *t = L->t;
	const struct tok_smap *v = &t->vocab;
	size_t n = L->nmq;
	int rc = 0;
	for (size_t k = 0; k < n; k++)
		for (int w = 0; w < 3; w++)
			tok_smap_prefetch(v, L->mq[k].h[w]);
	for (size_t k = 0; k < n; k++)
		for (int w = 0; w < 3; w++) {
			const struct tok_sslot *sl = &v->slot[L->mq[k].h[w] & v->mask];
			if (sl->id)
				__builtin_prefetch(t->arena + sl->off);
		}
	for (size_t k = 0; k < n; k++) {
		struct mrec *r = &L->mq[k];
		for (int w = 0; w < 3; w++) {
			r->id[w] = tok_smap_get_h(v, t, L->mb + r->off[w], r->len[w], r->h[w]);
			if (r->id[w] >= 0)
				continue;
			char q[96], q2[96];
			if (w < 2)
				return err_set(L->e, ERR_FORMAT,
					       "%s: model.merges[%zu] (%s %s): token %s is not in model.vocab",
					       t->label, r->idx, show(L->mb + r->off[0], r->len[0], q, sizeof q),
					       show(L->mb + r->off[1], r->len[1], q2, sizeof q2),
					       w == 0 ? q : q2);
			return err_set(L->e, ERR_FORMAT,
				       "%s: model.merges[%zu]: the merged token %s is not in model.vocab",
				       t->label, r->idx, show(L->mb + r->off[2], r->len[2], q, sizeof q));
		}
		uint64_t key = (uint64_t)(uint32_t)r->id[0] << 32 | (uint32_t)r->id[1];
		__builtin_prefetch(&t->merges.slot[tok_pair_hash(key) & t->merges.mask]);
	}
	for (size_t k = 0; k < n && !rc; k++) {
		struct mrec *r = &L->mq[k];
		rc = tok_pmap_put(&t->merges, r->id[0], r->id[1], r->rank, r->id[2], L->e);
	}
	L->nmq = 0;
	L->mb_len = 0;
	return rc;
}

static int merge_one(struct loader *L, size_t idx, uint32_t rank, const char *a, size_t an,
		     const char *b, size_t bn)
{
	struct tok *t = L->t;
	size_t pre = t->cont_prefix ? strlen(t->cont_prefix) : 0;
	if (pre > bn || (pre && pre < bn && ((unsigned char)b[pre] & 0xC0) == 0x80)) {
		char q[96];
		return err_set(L->e, ERR_FORMAT,
			       "%s: model.merges[%zu]: %s is shorter than continuing_subword_prefix",
			       t->label, idx, show(b, bn, q, sizeof q));
	}
	size_t need = 2 * (an + bn);
	if (need >= UINT32_MAX - L->mb_len)
		return err_set(L->e, ERR_RANGE, "%s: model.merges[%zu] is too long", t->label, idx);
	int rc = tok_grow((void **)&L->mb, &L->cap_mb, L->mb_len + need + 1, 1, L->e);
	if (rc)
		return rc;
	struct mrec *r = &L->mq[L->nmq++];
	char *o = L->mb + L->mb_len;
	memcpy(o, a, an);
	memcpy(o + an, b, bn);
	memcpy(o + an + bn, a, an);
	memcpy(o + 2 * an + bn, b + pre, bn - pre);
	r->off[0] = (uint32_t)L->mb_len;
	r->len[0] = (uint32_t)an;
	r->off[1] = r->off[0] + (uint32_t)an;
	r->len[1] = (uint32_t)bn;
	r->off[2] = r->off[1] + (uint32_t)bn;
	r->len[2] = (uint32_t)(an + bn - pre);
	L->mb_len += 2 * an + 2 * bn - pre;
	for (int w = 0; w < 3; w++)
		r->h[w] = tok_hash(L->mb + r->off[w], r->len[w]);
	r->idx = idx;
	r->rank = rank;
	return L->nmq == MBATCH ? merge_flush(L) : 0;
}

static int parse_merges(struct loader *L, struct tj *jp)
{
	struct tok *t = L->t;
	struct tj j = *jp;
	int rc = tok_pmap_init(&t->merges, t->n_vocab, L->e);
	if (!rc)
		rc = tj_open(&j, '[');
	if (rc)
		rc = err_prefix(L->e, "model.merges");
	bool first = true, done = false;
	size_t idx = 0;
	uint32_t rank = 0;
	for (; !rc; idx++) {
		if ((rc = tj_arr_next(&j, &first, &done)) || done)
			break;
		const char *s, *a, *b;
		size_t n, an, bn;
		if (j.p < j.end && *j.p == '"') {
			if ((rc = tj_string(&j, &s, &n)))
				break;
			if (n >= 8 && !memcmp(s, "#version", 8))
				continue; /* the library filters these lines before counting ranks */
			const char *sp = memchr(s, ' ', n);
			if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
				char q[96];
				rc = err_set(L->e, ERR_FORMAT,
					     "%s: model.merges[%zu] is %s; expected two tokens separated by "
					     "one space",
					     t->label, idx, show(s, n, q, sizeof q));
				break;
			}
			a = s;
			an = (size_t)(sp - s);
			b = sp + 1;
			bn = n - an - 1;
		} else {
			bool f2 = true, d2 = false;
			if (j.p >= j.end || *j.p != '[')
				goto bad_pair;
			if ((rc = tj_open(&j, '[')) || (rc = tj_arr_next(&j, &f2, &d2)))
				break;
			if (d2 || (rc = tj_string(&j, &s, &n)))
				goto bad_pair;
			/* the next string may reuse the scanner's buffer */
			if ((rc = tok_grow((void **)&L->abuf, &L->cap_abuf, n + 1, 1, L->e)))
				break;
			memcpy(L->abuf, s, n);
			a = L->abuf;
			an = n;
			if ((rc = tj_arr_next(&j, &f2, &d2)) || d2 || (rc = tj_string(&j, &b, &bn)))
				goto bad_pair;
			if ((rc = tj_arr_next(&j, &f2, &d2)) || !d2)
				goto bad_pair;
		}
		if (rank == UINT32_MAX - 1) {
			rc = err_set(L->e, ERR_RANGE, "%s: model.merges: too many merges", t->label);
			break;
		}
		rc = merge_one(L, idx, rank++, a, an, b, bn);
		continue;
bad_pair:
		err_clear(L->e);
		rc = err_set(L->e, ERR_FORMAT,
			     "%s: model.merges[%zu] must be a string \"a b\" or a pair [\"a\", \"b\"]",
			     t->label, idx);
		break;
	}
	if (!rc && L->nmq)
		rc = merge_flush(L);
	L->nmq = 0;
	L->mb_len = 0;
	*jp = j;
	t->n_merges = rank;
	return rc;
}

/* ---- the small sections, through jansson ------------------------------------------ */

static int load_span(struct loader *L, const struct span *sp, const char *field, json_t **out)
{
	*out = NULL;
	if (!sp->present)
		return 0;
	json_error_t je;
	*out = json_loadb(sp->p, sp->n, JSON_DECODE_ANY, &je);
	if (!*out)
		return err_set(L->e, ERR_FORMAT, "%s: %s: malformed JSON: %s", L->t->label, field,
			       je.text);
	return 0;
}

static const char *type_of(struct loader *L, json_t *node, const char *path, int *rc)
{
	*rc = 0;
	if (!json_is_object(node)) {
		*rc = err_set(L->e, ERR_FORMAT, "%s: %s must be an object or null", L->t->label, path);
		return NULL;
	}
	const char *type = json_string_value(json_object_get(node, "type"));
	if (!type)
		*rc = err_set(L->e, ERR_FORMAT, "%s: %s has no \"type\" string", L->t->label, path);
	return type;
}

static bool get_bool(json_t *obj, const char *key, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

static int parse_norm_node(struct loader *L, json_t *node, const char *path, int depth)
{
	struct tok *t = L->t;
	if (!node || json_is_null(node))
		return 0;
	if (depth > 8)
		return err_set(L->e, ERR_FORMAT, "%s: %s is nested too deeply", t->label, path);
	int rc;
	const char *type = type_of(L, node, path, &rc);
	if (rc)
		return rc;
	if (!strcmp(type, "Sequence")) {
		json_t *arr = json_object_get(node, "normalizers");
		if (!json_is_array(arr))
			return err_set(L->e, ERR_FORMAT, "%s: %s.normalizers must be an array", t->label,
				       path);
		for (size_t i = 0; i < json_array_size(arr); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.normalizers[%zu]", path, i);
			if ((rc = parse_norm_node(L, json_array_get(arr, i), sub, depth + 1)))
				return rc;
		}
		return 0;
	}
	uint8_t kind;
	if (!strcmp(type, "NFC"))
		kind = TOK_NFC;
	else if (!strcmp(type, "NFD"))
		kind = TOK_NFD;
	else if (!strcmp(type, "NFKC"))
		kind = TOK_NFKC;
	else if (!strcmp(type, "NFKD"))
		kind = TOK_NFKD;
	else
		return err_set(L->e, ERR_UNSUPPORTED,
			       "%s: %s: normalizer type \"%s\" is not supported (ponder supports "
			       "Sequence, NFC, NFD, NFKC, NFKD)",
			       t->label, path, type);
	if (t->n_norm == TOK_MAX_NORM)
		return err_set(L->e, ERR_UNSUPPORTED, "%s: %s: more than %d normalizers", t->label,
			       path, TOK_MAX_NORM);
	t->norm[t->n_norm++] = kind;
	return 0;
}

static int add_step(struct loader *L, const char *path, const char *type, const char *pattern,
		    size_t plen, bool literal, uint8_t behavior, bool invert, bool prefix_space)
{
	struct tok *t = L->t;
	if (t->n_steps == TOK_MAX_STEPS)
		return err_set(L->e, ERR_UNSUPPORTED, "%s: %s: more than %d pre-tokenizers",
			       t->label, path, TOK_MAX_STEPS);
	struct tok_step *st = &t->steps[t->n_steps];
	memset(st, 0, sizeof *st);
	char what[320];
	snprintf(what, sizeof what, "%s (%s)", path, type);
	st->what = strdup(what);
	if (!st->what)
		return err_set(L->e, ERR_NOMEM, "%s: out of memory", t->label);
	t->n_steps++;
	st->behavior = behavior;
	st->invert = invert;
	st->prefix_space = prefix_space;
	if (pattern)
		return tok_regex_compile(pattern, plen, literal, st->what, t->label, &st->re, L->e);
	return 0;
}

static int parse_behavior(struct loader *L, json_t *node, const char *path, uint8_t dflt,
			  uint8_t *out)
{
	static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious",
					    "MergedWithNext", "Contiguous"};
	json_t *b = json_object_get(node, "behavior");
	*out = dflt;
	if (!b || json_is_null(b))
		return 0;
	const char *s = json_string_value(b);
	for (uint8_t i = 0; s && i < 5; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	return err_set(L->e, ERR_UNSUPPORTED,
		       "%s: %s.behavior must be one of Removed, Isolated, MergedWithPrevious, "
		       "MergedWithNext, Contiguous",
		       L->t->label, path);
}

static int parse_pretok_node(struct loader *L, json_t *node, const char *path, int depth)
{
	struct tok *t = L->t;
	if (!node || json_is_null(node))
		return 0;
	if (depth > 8)
		return err_set(L->e, ERR_FORMAT, "%s: %s is nested too deeply", t->label, path);
	int rc;
	const char *type = type_of(L, node, path, &rc);
	if (rc)
		return rc;
	if (!strcmp(type, "Sequence")) {
		json_t *arr = json_object_get(node, "pretokenizers");
		if (!json_is_array(arr))
			return err_set(L->e, ERR_FORMAT, "%s: %s.pretokenizers must be an array",
				       t->label, path);
		for (size_t i = 0; i < json_array_size(arr); i++) {
			char sub[256];
			snprintf(sub, sizeof sub, "%s.pretokenizers[%zu]", path, i);
			if ((rc = parse_pretok_node(L, json_array_get(arr, i), sub, depth + 1)))
				return rc;
		}
		return 0;
	}
	if (t->byte_level)
		return err_set(L->e, ERR_UNSUPPORTED,
			       "%s: %s (%s) comes after a ByteLevel pre-tokenizer; ponder needs "
			       "ByteLevel to be the last one",
			       t->label, path, type);
	uint8_t beh;
	if (!strcmp(type, "Split")) {
		json_t *pat = json_object_get(node, "pattern");
		json_t *re = json_object_get(pat, "Regex"), *lit = json_object_get(pat, "String");
		json_t *p = json_is_string(re) ? re : lit;
		if (!json_is_string(p))
			return err_set(L->e, ERR_FORMAT,
				       "%s: %s.pattern must be {\"Regex\": \"...\"} or {\"String\": "
				       "\"...\"}",
				       t->label, path);
		json_t *b = json_object_get(node, "behavior");
		if (!json_is_string(b))
			return err_set(L->e, ERR_FORMAT, "%s: %s.behavior is missing", t->label, path);
		if ((rc = parse_behavior(L, node, path, TOK_ISOLATED, &beh)))
			return rc;
		return add_step(L, path, "Split", json_string_value(p), json_string_length(p),
				p == lit, beh, get_bool(node, "invert", false), false);
	}
	if (!strcmp(type, "ByteLevel")) {
		bool prefix = get_bool(node, "add_prefix_space", true);
		bool use_regex = get_bool(node, "use_regex", true);
		t->byte_level = true;
		if (!prefix && !use_regex)
			return 0; /* only the byte mapping, which BPE does */
		return add_step(L, path, "ByteLevel", use_regex ? gpt2_pattern : NULL,
				sizeof gpt2_pattern - 1, false, TOK_ISOLATED, false, prefix);
	}
	if (!strcmp(type, "Digits")) {
		bool each = get_bool(node, "individual_digits", false);
		return add_step(L, path, type, "\\p{N}", 5, false, each ? TOK_ISOLATED : TOK_CONTIGUOUS,
				false, false);
	}
	if (!strcmp(type, "Punctuation")) {
		static const char pat[] = "[\\p{P}!-/:-@\\[-`{-~]";
		if ((rc = parse_behavior(L, node, path, TOK_ISOLATED, &beh)))
			return rc;
		return add_step(L, path, type, pat, sizeof pat - 1, false, beh, false, false);
	}
	if (!strcmp(type, "WhitespaceSplit")) {
		static const char pat[] = "[" RUST_SPACE "]";
		return add_step(L, path, type, pat, sizeof pat - 1, false, TOK_REMOVED, false, false);
	}
	if (!strcmp(type, "Whitespace")) {
		static const char pat[] = "[" RUST_WORD "]+|[^" RUST_WORD RUST_SPACE "]+";
		return add_step(L, path, type, pat, sizeof pat - 1, false, TOK_REMOVED, true, false);
	}
	return err_set(L->e, ERR_UNSUPPORTED,
		       "%s: %s: pre-tokenizer type \"%s\" is not supported (ponder supports "
		       "Sequence, Split, ByteLevel, Digits, Punctuation, Whitespace, WhitespaceSplit)",
		       t->label, path, type);
}

static int parse_decoder(struct loader *L, json_t *node)
{
	if (!node || json_is_null(node))
		return 0;
	int rc;
	const char *type = type_of(L, node, "decoder", &rc);
	if (rc)
		return rc;
	if (!strcmp(type, "ByteLevel")) {
		L->t->decoder = TOK_DEC_BYTELEVEL;
		return 0;
	}
	return err_set(L->e, ERR_UNSUPPORTED,
		       "%s: decoder type \"%s\" is not supported (ponder decodes ByteLevel, or "
		       "concatenates tokens when there is no decoder)",
		       L->t->label, type);
}

/* ---- added tokens ------------------------------------------------------------------ */

static int parse_added(struct loader *L, json_t *arr)
{
	struct tok *t = L->t;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return err_set(L->e, ERR_FORMAT, "%s: added_tokens must be an array", t->label);
	size_t n = json_array_size(arr);
	t->added = calloc(n ? n : 1, sizeof *t->added);
	if (!t->added)
		return err_set(L->e, ERR_NOMEM, "%s: out of memory", t->label);
	int64_t max_added = -1;
	int rc;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		json_t *jc = json_object_get(o, "content"), *jid = json_object_get(o, "id");
		if (!json_is_string(jc) || !json_is_integer(jid))
			return err_set(L->e, ERR_FORMAT,
				       "%s: added_tokens[%zu] needs a string \"content\" and an integer "
				       "\"id\"",
				       t->label, i);
		const char *c = json_string_value(jc);
		size_t cn = json_string_length(jc);
		json_int_t id = json_integer_value(jid);
		struct tok_added a = {0};
		a.special = get_bool(o, "special", false);
		a.normalized = get_bool(o, "normalized", !a.special);
		a.lstrip = get_bool(o, "lstrip", false);
		a.rstrip = get_bool(o, "rstrip", false);
		a.single_word = get_bool(o, "single_word", false);
		if (!cn)
			continue; /* the library ignores empty added tokens */
		char q[96];
		show(c, cn, q, sizeof q);
		bool dup = false;
		for (size_t k = 0; k < t->n_added; k++) {
			const struct tok_added *b = &t->added[k];
			if (b->len != cn || memcmp(t->arena + b->off, c, cn))
				continue;
			if (b->special != a.special || b->normalized != a.normalized ||
			    b->lstrip != a.lstrip || b->rstrip != a.rstrip ||
			    b->single_word != a.single_word || b->id != id)
				return err_set(L->e, ERR_FORMAT,
					       "%s: added_tokens[%zu]: %s is defined twice, with different "
					       "id or flags",
					       t->label, i, q);
			dup = true;
		}
		if (dup)
			continue;
		/* the id the library assigns (AddedVocabulary::add_tokens) */
		int64_t lib = tok_smap_get(&t->vocab, t, c, cn);
		if (lib < 0)
			lib = max_added < 0 ? (int64_t)t->n_vocab
			      : (max_added >= (int64_t)t->n_vocab) ? max_added + 1
								   : (int64_t)t->n_vocab;
		if (lib != id)
			return err_set(L->e, ERR_FORMAT,
				       "%s: added_tokens[%zu] (%s) has id %lld, but the Hugging Face "
				       "library gives it id %lld (%s); fix the id in the file",
				       t->label, i, q, (long long)id, (long long)lib,
				       tok_smap_get(&t->vocab, t, c, cn) >= 0
					       ? "its content is in model.vocab"
					       : "the next id after the vocabulary and earlier added tokens");
		if ((rc = check_id(L, id, t->n_vocab + n, "added_tokens", c, cn)))
			return rc;
		if (id > max_added)
			max_added = id;
		if ((rc = ensure_ids(t, (size_t)id + 1, L->e)))
			return rc;
		if ((rc = arena_add(t, c, cn, &a.off, L->e)))
			return rc;
		a.len = (uint32_t)cn;
		a.id = (int32_t)id;
		if (t->tok_len[id] == TOK_NONE) {
			t->tok_off[id] = a.off;
			t->tok_len[id] = a.len;
		} else if (!(t->flags[id] & TOK_F_MODEL) || t->tok_len[id] != cn ||
			   memcmp(t->arena + t->tok_off[id], c, cn)) {
			char q2[96];
			return err_set(L->e, ERR_FORMAT,
				       "%s: added_tokens[%zu] (%s): id %lld is already %s", t->label, i,
				       q, (long long)id,
				       show(t->arena + t->tok_off[id], t->tok_len[id], q2, sizeof q2));
		}
		t->flags[id] |= TOK_F_ADDED | (a.special ? TOK_F_SPECIAL : 0);
		t->added[t->n_added++] = a;
	}
	return 0;
}

/* ---- derived tables ---------------------------------------------------------------- */

static int build_tables(struct loader *L)
{
	struct tok *t = L->t;
	int rc;
	/* bytes each id decodes to */
	int16_t rev[0x180];
	for (size_t i = 0; i < sizeof rev / sizeof rev[0]; i++)
		rev[i] = -1;
	for (int b = 0; b < 256; b++) {
		char c[2];
		size_t l = tok_byte_char((uint8_t)b, c);
		uint32_t cp = l == 1 ? (uint8_t)c[0] : (uint32_t)((c[0] & 0x1F) << 6 | (c[1] & 0x3F));
		rev[cp] = (int16_t)b;
	}
	char *dec = NULL;
	size_t cap_dec = 0;
	for (size_t id = 0; id < t->n_ids; id++) {
		if (t->tok_len[id] == TOK_NONE)
			continue;
		t->out_off[id] = t->tok_off[id];
		t->out_len[id] = t->tok_len[id];
		const uint8_t *s = (const uint8_t *)t->arena + t->tok_off[id];
		size_t n = t->tok_len[id], k = 0;
		if (t->decoder == TOK_DEC_BYTELEVEL) {
			if ((rc = tok_grow((void **)&dec, &cap_dec, n + 1, 1, L->e)))
				goto out;
			bool ok = true;
			for (size_t i = 0; i < n && ok;) {
				uint32_t cp;
				size_t l = utf8_decode(s + i, n - i, &cp);
				ok = l && cp < 0x180 && rev[cp] >= 0;
				if (ok)
					dec[k++] = (char)rev[cp];
				i += l ? l : 1;
			}
			if (ok && (k != n || memcmp(dec, s, n))) {
				uint32_t off;
				if ((rc = arena_add(t, dec, k, &off, L->e)))
					goto out;
				t->out_off[id] = off;
				t->out_len[id] = (uint32_t)k;
			}
		} else if (t->byte_fallback && n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>') {
			int hi = s[3] <= '9' ? s[3] - '0' : s[3] - 'A' + 10;
			int lo = s[4] <= '9' ? s[4] - '0' : s[4] - 'A' + 10;
			if (hi >= 0 && hi < 16 && lo >= 0 && lo < 16) {
				char byte = (char)(hi << 4 | lo);
				uint32_t off;
				if ((rc = arena_add(t, &byte, 1, &off, L->e)))
					goto out;
				t->out_off[id] = off;
				t->out_len[id] = 1;
			}
		}
	}
	/* monotone merges: every merge ranks after all merges producing its parts */
	{
		int64_t *made = malloc(t->n_ids * sizeof *made);
		if (!made) {
			rc = err_set(L->e, ERR_NOMEM, "%s: out of memory", t->label);
			goto out;
		}
		for (size_t i = 0; i < t->n_ids; i++)
			made[i] = -1;
		const struct tok_pmap *m = &t->merges;
		for (size_t i = 0; m->slot && i <= m->mask; i++)
			if (m->slot[i].key != UINT64_MAX && (int64_t)m->slot[i].rank > made[m->slot[i].id])
				made[m->slot[i].id] = m->slot[i].rank;
		t->merges_monotone = true;
		for (size_t i = 0; m->slot && i <= m->mask && t->merges_monotone; i++) {
			if (m->slot[i].key == UINT64_MAX)
				continue;
			uint32_t a = (uint32_t)(m->slot[i].key >> 32), b = (uint32_t)m->slot[i].key;
			int64_t rank = m->slot[i].rank;
			t->merges_monotone = rank > made[a] && rank > made[b];
		}
		free(made);
	}
	/* single-byte symbols, byte fallback, unk */
	for (int b = 0; b < 256; b++) {
		char c[8];
		size_t l = tok_byte_char((uint8_t)b, c);
		t->byte_id[b] = t->byte_level ? tok_smap_get(&t->vocab, t, c, l) : -1;
		snprintf(c, sizeof c, "<0x%02X>", b);
		t->fallback_id[b] = t->byte_fallback ? tok_smap_get(&t->vocab, t, c, 6) : -1;
	}
	t->byte_fast = t->byte_level && !t->cont_prefix && !t->eow_suffix;
	for (int b = 0; b < 256; b++)
		t->byte_fast = t->byte_fast && t->byte_id[b] >= 0;
	t->unk_id = -1;
	if (L->unk) {
		t->unk_id = tok_smap_get(&t->vocab, t, L->unk, strlen(L->unk));
		if (t->unk_id < 0) {
			char q[96];
			rc = err_set(L->e, ERR_FORMAT, "%s: model.unk_token %s is not in model.vocab",
				     t->label, show(L->unk, strlen(L->unk), q, sizeof q));
			goto out;
		}
	}
	/* ignore_merges looks whole words up; in byte-level mode words are raw bytes */
	if (t->ignore_merges && t->byte_level) {
		if ((rc = tok_smap_init(&t->bytes_vocab, t->n_vocab, true, L->e)))
			goto out;
		for (size_t i = 0; i < L->nve; i++) {
			int32_t id = L->ve[i].id;
			bool mapped = t->out_off[id] != t->tok_off[id] || t->out_len[id] != t->tok_len[id];
			/* a string made only of printable ASCII maps to itself */
			bool same = !mapped;
			for (size_t k = 0; same && k < t->tok_len[id]; k++) {
				uint8_t ch = (uint8_t)t->arena[t->tok_off[id] + k];
				same = ch >= 0x21 && ch <= 0x7E;
			}
			if (mapped || same)
				tok_smap_put(&t->bytes_vocab, t, id);
		}
	}
	/* added-token tries */
	t->trie_raw.empty = t->trie_norm.empty = true;
	for (size_t k = 0; k < t->n_added; k++) {
		struct tok_added *a = &t->added[k];
		if (!a->normalized) {
			a->moff = a->off;
			a->mlen = a->len;
			if ((rc = tok_trie_add(&t->trie_raw, t->arena + a->off, a->len, (int32_t)k, L->e)))
				goto out;
			continue;
		}
		char *m;
		size_t mn;
		if ((rc = tok_normalize_alloc(t, t->arena + a->off, a->len, &m, &mn, L->e)))
			goto out;
		rc = arena_add(t, m, mn, &a->moff, L->e);
		a->mlen = (uint32_t)mn;
		if (!rc)
			rc = tok_trie_add(&t->trie_norm, m, mn, (int32_t)k, L->e);
		free(m);
		if (rc)
			goto out;
	}
	rc = 0;
out:
	free(dec);
	return rc;
}

/* ---- entry points ------------------------------------------------------------------ */

int tok_parse(const char *json, size_t len, const char *label, struct tok **out, struct err *e)
{
	*out = NULL;
	if (!json)
		return err_set(e, ERR_USAGE, "tok_parse: no text");
	struct tok *t = calloc(1, sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "tokenizer: out of memory");
	static uint64_t serials;
	t->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	t->unk_id = -1;
	t->trie_raw.empty = t->trie_norm.empty = true;
	t->label = strdup(label ? label : "tokenizer.json");
	struct loader L;
	memset(&L, 0, sizeof L);
	L.t = t;
	L.e = e;
	L.base = json;
	L.end = json + len;
	json_t *jadd = NULL, *jnorm = NULL, *jpre = NULL, *jdec = NULL;
	int rc = t->label ? 0 : err_set(e, ERR_NOMEM, "tokenizer: out of memory");
	if (!rc)
		rc = scan_root(&L, json, len);
	if (!rc && !(rc = load_span(&L, &L.norm, "normalizer", &jnorm)))
		rc = parse_norm_node(&L, jnorm, "normalizer", 0);
	if (!rc && !(rc = load_span(&L, &L.pretok, "pre_tokenizer", &jpre)))
		rc = parse_pretok_node(&L, jpre, "pre_tokenizer", 0);
	if (!rc && !(rc = load_span(&L, &L.dec, "decoder", &jdec)))
		rc = parse_decoder(&L, jdec);
	if (!rc && !(rc = load_span(&L, &L.added, "added_tokens", &jadd)))
		rc = parse_added(&L, jadd);
	if (!rc)
		rc = build_tables(&L);
	json_decref(jadd);
	json_decref(jnorm);
	json_decref(jpre);
	json_decref(jdec);
	free(L.ve);
	free(L.tmp);
	free(L.abuf);
	free(L.mb);
	free(L.unk);
	if (rc) {
		tok_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int tok_load(const char *path, struct tok **out, struct err *e)
{
	*out = NULL;
	if (!path)
		return err_set(e, ERR_USAGE, "tok_load: no path");
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, ERR_IO, "cannot open tokenizer %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fclose(f);
		return err_set(e, ERR_IO, "tokenizer %s is not a regular file", path);
	}
	if ((uint64_t)st.st_size > MAX_FILE) {
		fclose(f);
		return err_set(e, ERR_RANGE, "tokenizer %s is %lld bytes; the limit is 1 GiB", path,
			       (long long)st.st_size);
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n ? n : 1);
	if (!buf) {
		fclose(f);
		return err_set(e, ERR_NOMEM, "out of memory reading tokenizer %s", path);
	}
	size_t got = fread(buf, 1, n, f);
	int bad = ferror(f);
	fclose(f);
	if (got != n || bad) {
		free(buf);
		return err_set(e, ERR_IO, "cannot read tokenizer %s", path);
	}
	int rc = tok_parse(buf, n, path, out, e);
	free(buf);
	return rc;
}

void tok_free(struct tok *t)
{
	if (!t)
		return;
	free(t->label);
	free(t->tok_off);
	free(t->tok_len);
	free(t->out_off);
	free(t->out_len);
	free(t->flags);
	free(t->arena);
	tok_smap_free(&t->vocab);
	tok_smap_free(&t->bytes_vocab);
	tok_pmap_free(&t->merges);
	free(t->cont_prefix);
	free(t->eow_suffix);
	for (size_t i = 0; i < t->n_steps; i++) {
		pcre2_code_free(t->steps[i].re);
		free(t->steps[i].what);
	}
	free(t->added);
	tok_trie_free(&t->trie_raw);
	tok_trie_free(&t->trie_norm);
	free(t);
}
