/*
 * tokenizer.c — the public tokenizer API (engine/tokenizer.h): encode, decode, lookups.
 *
 * Encoding follows the Hugging Face library's TokenizerImpl::encode on valid UTF-8:
 *   1. with parse_special, added tokens with normalized == false are found in the raw
 *      text (tok_added.c); the text between them goes on;
 *   2. each such piece is normalized, then (with parse_special) added tokens with
 *      normalized == true are found in the normalized text;
 *   3. the remaining pieces go through the pre-tokenizer (tok_pretok.c) and BPE
 *      (tok_bpe.c).
 * Without parse_special, steps 1 and 2 find nothing: all text is ordinary text (the
 * library would still match non-special added tokens; ponder encodes user text so that
 * nothing in it can become a control token).
 *
 * Invalid UTF-8 (the library only ever sees Rust strings, so this is ponder's own rule):
 * before step 2, each piece is cut into maximal valid runs and maximal runs of bytes
 * that do not decode. Valid runs take the normal path; an invalid run skips the
 * normalizer, added-token search and regexes and is BPE-encoded as one pre-token of
 * raw bytes (byte-level vocabularies cover every byte; otherwise byte_fallback / unk
 * apply). So valid text is encoded exactly, invalid bytes round-trip through decode,
 * and the regex engine only ever sees validated UTF-8.
 *
 * All scratch lives in a struct tok_run for the duration of one call, plus a struct
 * tok_thread per thread (regex match resources and the word cache), so a struct tok is
 * never written after loading and may be shared between threads.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"

/* ---- small helpers shared by the tokenizer files ------------------------------- */

int tok_grow(void **p, size_t *cap, size_t need, size_t elem, struct err *e)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need) {
		if (n > SIZE_MAX / 2)
			return err_set(e, ERR_NOMEM, "tokenizer: allocation too large");
		n *= 2;
	}
	if (n > SIZE_MAX / elem)
		return err_set(e, ERR_NOMEM, "tokenizer: allocation too large");
	void *q = realloc(*p, n * elem);
	if (!q)
		return err_set(e, ERR_NOMEM, "tokenizer: out of memory (%zu bytes)", n * elem);
	*p = q;
	*cap = n;
	return 0;
}

/* ---- ids ----------------------------------------------------------------------- */

int tok_ids_push(struct tok_ids *ids, int32_t id, struct err *e)
{
	if (ids->n == ids->cap) {
		int rc = tok_grow((void **)&ids->v, &ids->cap, ids->n + 1, sizeof *ids->v, e);
		if (rc)
			return rc;
	}
	ids->v[ids->n++] = id;
	return 0;
}

void tok_ids_free(struct tok_ids *ids)
{
	if (!ids)
		return;
	free(ids->v);
	ids->v = NULL;
	ids->n = ids->cap = 0;
}

/* ---- per-thread state -------------------------------------------------------------- */

static pthread_key_t th_key;
static pthread_once_t th_once = PTHREAD_ONCE_INIT;
static bool th_key_ok;

static void th_free(void *p)
{
	struct tok_thread *th = p;
	if (!th)
		return;
	tok_thread_free_regex(th);
	free(th->wc);
	free(th);
}

static void th_key_init(void)
{
	th_key_ok = pthread_key_create(&th_key, th_free) == 0;
}

/* This thread's struct tok_thread, created on first use and freed when the thread
   exits. Without thread-specific storage, the call gets its own and frees it. */
static int th_attach(struct tok_run *r)
{
	pthread_once(&th_once, th_key_init);
	struct tok_thread *th = th_key_ok ? pthread_getspecific(th_key) : NULL;
	if (!th) {
		th = calloc(1, sizeof *th);
		if (!th)
			return err_set(r->e, ERR_NOMEM, "tokenizer: out of memory");
		th->wc = calloc(TOK_WC_SIZE, sizeof *th->wc); /* optional: NULL disables it */
		if (!th_key_ok || pthread_setspecific(th_key, th))
			r->th_owned = true;
	}
	r->th = th;
	return 0;
}

/* ---- encoding ------------------------------------------------------------------ */

static int on_norm_piece(struct tok_run *r, int32_t id, const char *s, size_t n)
{
	if (id >= 0)
		return tok_ids_push(r->out, id, r->e);
	return tok_pretok_run(r, 0, s, n);
}

/* Steps 2 and 3 on valid UTF-8. */
static int encode_valid(struct tok_run *r, const char *s, size_t n)
{
	const struct tok *t = r->t;
	const char *ns;
	size_t nn;
	int rc = tok_normalize(r, s, n, &ns, &nn);
	if (rc)
		return rc;
	if (r->special && !t->trie_norm.empty)
		return tok_added_split(r, &t->trie_norm, ns, nn, on_norm_piece);
	return tok_pretok_run(r, 0, ns, nn);
}

/* A piece of text with no added tokens from step 1: valid runs and invalid runs. */
static int encode_piece(struct tok_run *r, const char *s, size_t n)
{
	int rc;
	while (n) {
		size_t v = utf8_valid_prefix((const uint8_t *)s, n);
		if (v && (rc = encode_valid(r, s, v)))
			return rc;
		s += v;
		n -= v;
		if (!n)
			break;
		size_t k = 0;
		uint32_t cp;
		while (k < n && !utf8_decode((const uint8_t *)s + k, n - k, &cp))
			k++;
		if ((rc = tok_bpe_word(r, (const uint8_t *)s, k)))
			return rc;
		s += k;
		n -= k;
	}
	return 0;
}

static int on_raw_piece(struct tok_run *r, int32_t id, const char *s, size_t n)
{
	if (id >= 0)
		return tok_ids_push(r->out, id, r->e);
	return encode_piece(r, s, n);
}

int tok_encode(const struct tok *t, const char *text, size_t len, bool parse_special,
	       struct tok_ids *out, struct err *e)
{
	if (!t || !out || (!text && len))
		return err_set(e, ERR_USAGE, "tok_encode: missing tokenizer, text or output");
	struct tok_run r;
	memset(&r, 0, sizeof r);
	r.t = t;
	r.out = out;
	r.e = e;
	r.special = parse_special;
	r.regex_budget = TOK_REGEX_BUDGET;
	size_t n0 = out->n;
	int rc = th_attach(&r);
	if (rc)
		return rc;
	if (parse_special && !t->trie_raw.empty)
		rc = tok_added_split(&r, &t->trie_raw, text, len, on_raw_piece);
	else
		rc = encode_piece(&r, text, len);
	tok_run_free_bpe(&r);
	tok_run_free_pretok(&r);
	if (r.th_owned)
		th_free(r.th);
	if (rc)
		out->n = n0; /* no partial output */
	return rc;
}

/* ---- decoding and lookups ------------------------------------------------------ */

const char *tok_token_bytes(const struct tok *t, int32_t id, size_t *len)
{
	if (!t || id < 0 || (size_t)id >= t->n_ids || t->tok_len[id] == TOK_NONE) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = t->out_len[id];
	return t->arena + t->out_off[id];
}

int tok_decode(const struct tok *t, const int32_t *ids, size_t n, bool skip_special, char **out,
	       size_t *len, struct err *e)
{
	*out = NULL;
	if (len)
		*len = 0;
	if (!t || (!ids && n))
		return err_set(e, ERR_USAGE, "tok_decode: missing tokenizer or ids");
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (id < 0 || (size_t)id >= t->n_ids || t->tok_len[id] == TOK_NONE)
			return err_set(e, ERR_RANGE,
				       "token id %d (position %zu) is not in the vocabulary of %s "
				       "(ids 0..%zu)",
				       (int)id, i, t->label, t->n_ids ? t->n_ids - 1 : 0);
		if (skip_special && (t->flags[id] & TOK_F_SPECIAL))
			continue;
		if (total > SIZE_MAX - 1 - t->out_len[id])
			return err_set(e, ERR_NOMEM, "tok_decode: output too large");
		total += t->out_len[id];
	}
	char *buf = malloc(total + 1);
	if (!buf)
		return err_set(e, ERR_NOMEM, "tok_decode: out of memory for %zu bytes", total);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t id = ids[i];
		if (skip_special && (t->flags[id] & TOK_F_SPECIAL))
			continue;
		memcpy(buf + k, t->arena + t->out_off[id], t->out_len[id]);
		k += t->out_len[id];
	}
	buf[k] = '\0';
	*out = buf;
	if (len)
		*len = k;
	return 0;
}

size_t tok_vocab_size(const struct tok *t)
{
	return t ? t->n_ids : 0;
}

int32_t tok_added_id(const struct tok *t, const char *content)
{
	if (!t || !content)
		return -1;
	size_t n = strlen(content);
	for (size_t i = 0; i < t->n_added; i++) {
		const struct tok_added *a = &t->added[i];
		if (a->len == n && !memcmp(t->arena + a->off, content, n))
			return a->id;
	}
	return -1;
}

bool tok_is_special(const struct tok *t, int32_t id)
{
	return t && id >= 0 && (size_t)id < t->n_ids && (t->flags[id] & TOK_F_SPECIAL);
}
