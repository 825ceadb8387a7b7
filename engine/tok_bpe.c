/*
 * tok_bpe.c — the BPE model: string and pair hash maps, and the merge loop for one
 * pre-token, exact to the Hugging Face `tokenizers` library (models/bpe).
 *
 * The library merges, again and again, the adjacent pair of symbols with the lowest
 * merge rank, the leftmost one on ties, until no adjacent pair has a merge. It does so
 * with a binary heap of (rank, position) entries where stale entries are skipped. Here:
 *   - words of up to SMALL_WORD symbols keep each pair's rank in a small array and scan
 *     it for the minimum (no heap, one lookup per changed pair);
 *   - longer words use a heap ordered like the library's (8-ary here): O(n log n);
 *   - very long words (BUCKET_WORD symbols and more) with a monotone merge table use one
 *     bucket per rank instead, which gives the same order in O(n + ranks); a single
 *     10 MB pre-token costs a few seconds and about 30 bytes of scratch per byte.
 * Both orders are the same: a merge's result is the vocab id of the concatenated string,
 * so a pair of ids has one rank, and a heap entry is live exactly when the pair at its
 * position still has the entry's rank. Symbols keep their original index; a merge folds
 * the right symbol into the left one, so leftmost == smallest index.
 *
 * Initial symbols: byte-level tokenizers (the common case) map each byte to the id of
 * its one-character token through a 256-entry table. Otherwise each character (or each
 * byte of an invalid sequence) is looked up as a string, with continuing_subword_prefix
 * / end_of_word_suffix, byte_fallback ("<0xXX>" tokens) and unk_token / fuse_unk
 * handled in the library's order.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/tok_internal.h"

#define SMALL_WORD 48
#define BUCKET_WORD 4096 /* below this, clearing one bucket per rank costs too much */

int tok_bpe_force_path;

/* ---- hashing and maps ---------------------------------------------------------- */

uint64_t tok_hash(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
	while (n >= 8) {
		uint64_t x;
		memcpy(&x, s, 8);
		h = (h ^ x) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	uint64_t x = 0;
	memcpy(&x, s, n);
	h = (h ^ x) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	h *= 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 29);
}

static size_t table_size(size_t expect)
{
	size_t cap = 16;
	while (cap < expect * 2 + 2)
		cap <<= 1;
	return cap;
}

void *tok_table_alloc(size_t bytes)
{
	const size_t huge = (size_t)2 << 20;
	if (bytes < huge)
		return malloc(bytes ? bytes : 1);
	void *p = NULL;
	size_t n = (bytes + huge - 1) & ~(huge - 1);
	if (posix_memalign(&p, huge, n))
		return NULL;
	(void)madvise(p, n, MADV_HUGEPAGE); /* a hint; fine to fail */
	return p;
}

int tok_smap_init(struct tok_smap *m, size_t expect, bool out, struct err *e)
{
	memset(m, 0, sizeof *m);
	if (expect > ((size_t)1 << 28))
		return err_set(e, ERR_NOMEM, "tokenizer: %zu strings is too many", expect);
	size_t cap = table_size(expect);
	m->slot = tok_table_alloc(cap * sizeof *m->slot);
	if (!m->slot)
		return err_set(e, ERR_NOMEM, "tokenizer: out of memory for a %zu-entry map", cap);
	memset(m->slot, 0, cap * sizeof *m->slot);
	m->mask = cap - 1;
	m->out = out;
	return 0;
}

void tok_smap_free(struct tok_smap *m)
{
	if (!m)
		return;
	free(m->slot);
	memset(m, 0, sizeof *m);
}

/* Short keys compare in registers; most vocab strings are under 16 bytes. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
	if (n <= 8) {
		uint64_t x = 0, y = 0;
		memcpy(&x, a, n);
		memcpy(&y, b, n);
		return x == y;
	}
	return !memcmp(a, b, n);
}

int32_t tok_smap_get_h(const struct tok_smap *m, const struct tok *t, const char *s, size_t n,
		       uint64_t h)
{
	if (!m->slot)
		return -1;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = h;; i++) {
		const struct tok_sslot *v = &m->slot[i & m->mask];
		if (!v->id)
			return -1;
		if (v->tag == tag && v->len == n && same_bytes(t->arena + v->off, s, n))
			return (int32_t)(v->id - 1);
	}
}

int32_t tok_smap_get(const struct tok_smap *m, const struct tok *t, const char *s, size_t n)
{
	return tok_smap_get_h(m, t, s, n, tok_hash(s, n));
}

int32_t tok_smap_put(struct tok_smap *m, const struct tok *t, int32_t id)
{
	uint32_t off = m->out ? t->out_off[id] : t->tok_off[id];
	uint32_t len = m->out ? t->out_len[id] : t->tok_len[id];
	return tok_smap_put_h(m, t, id, tok_hash(t->arena + off, len));
}

int32_t tok_smap_put_h(struct tok_smap *m, const struct tok *t, int32_t id, uint64_t h)
{
	uint32_t off = m->out ? t->out_off[id] : t->tok_off[id];
	uint32_t len = m->out ? t->out_len[id] : t->tok_len[id];
	const char *s = t->arena + off;
	uint32_t tag = (uint32_t)(h >> 32);
	for (uint64_t i = h;; i++) {
		struct tok_sslot *v = &m->slot[i & m->mask];
		if (!v->id) {
			*v = (struct tok_sslot){tag, (uint32_t)id + 1, off, len};
			m->n++;
			return -1;
		}
		if (v->tag == tag && v->len == len && same_bytes(t->arena + v->off, s, len))
			return (int32_t)(v->id - 1);
	}
}

int tok_pmap_init(struct tok_pmap *m, size_t expect, struct err *e)
{
	memset(m, 0, sizeof *m);
	if (expect > ((size_t)1 << 28))
		return err_set(e, ERR_NOMEM, "tokenizer: %zu pairs is too many", expect);
	size_t cap = table_size(expect);
	m->slot = tok_table_alloc(cap * sizeof *m->slot);
	if (!m->slot)
		return err_set(e, ERR_NOMEM, "tokenizer: out of memory for a %zu-entry map", cap);
	memset(m->slot, 0xFF, cap * sizeof *m->slot);
	m->mask = cap - 1;
	return 0;
}

void tok_pmap_free(struct tok_pmap *m)
{
	if (!m)
		return;
	free(m->slot);
	memset(m, 0, sizeof *m);
}

static void pmap_insert(struct tok_pmap *m, uint64_t key, uint32_t rank, int32_t id)
{
	for (uint64_t i = tok_pair_hash(key);; i++) {
		struct tok_pair *p = &m->slot[i & m->mask];
		if (p->key == key || p->key == UINT64_MAX) {
			if (p->key == UINT64_MAX)
				m->n++;
			p->key = key;
			p->rank = rank;
			p->id = id;
			return;
		}
	}
}

int tok_pmap_put(struct tok_pmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id,
		 struct err *e)
{
	if ((m->n + 1) * 2 > m->mask + 1) {
		struct tok_pmap big;
		if (m->mask + 1 > ((size_t)1 << 30))
			return err_set(e, ERR_NOMEM, "tokenizer: too many pairs");
		size_t cap = (m->mask + 1) * 2;
		big.slot = tok_table_alloc(cap * sizeof *big.slot);
		if (!big.slot)
			return err_set(e, ERR_NOMEM, "tokenizer: out of memory for a %zu-entry map",
				       cap);
		memset(big.slot, 0xFF, cap * sizeof *big.slot);
		big.mask = cap - 1;
		big.n = 0;
		for (size_t i = 0; i <= m->mask; i++)
			if (m->slot[i].key != UINT64_MAX)
				pmap_insert(&big, m->slot[i].key, m->slot[i].rank, m->slot[i].id);
		free(m->slot);
		*m = big;
	}
	pmap_insert(m, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, rank, id);
	return 0;
}

/* ---- initial symbols ----------------------------------------------------------- */

static int sym_reserve(struct tok_run *r, size_t n)
{
	if (n > TOK_MAX_WORD)
		return err_set(r->e, ERR_RANGE,
			       "tokenizer: a single pre-token of %zu bytes is too long (limit %u)", n,
			       TOK_MAX_WORD);
	return tok_grow((void **)&r->sym, &r->cap_sym, n, sizeof *r->sym, r->e);
}

static int sym_add(struct tok_run *r, size_t *ns, int32_t id)
{
	if (*ns >= r->cap_sym) {
		int rc = sym_reserve(r, *ns + 1);
		if (rc)
			return rc;
	}
	r->sym[(*ns)++].id = id;
	return 0;
}

/* UTF-8 of the byte-level character standing for byte b (GPT-2's bytes_to_unicode). */
size_t tok_byte_char(uint8_t b, char out[2])
{
	uint32_t cp;
	if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) {
		cp = b;
	} else {
		/* the 68 other bytes, in order, become U+0100.. */
		uint32_t k = b <= 0x20 ? b : b <= 0xA0 ? (uint32_t)b - 0x7F + 0x21 : 0x21 + 0x22;
		cp = 0x100 + k;
	}
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xC0 | cp >> 6);
	out[1] = (char)(0x80 | (cp & 0x3F));
	return 2;
}

/* The library's merge_word: one symbol per character, with prefix / suffix, byte
   fallback and unk. In byte-level mode each byte is a character. */
static int init_generic(struct tok_run *r, const uint8_t *w, size_t n, size_t *ns_out)
{
	const struct tok *t = r->t;
	size_t pre = t->cont_prefix ? strlen(t->cont_prefix) : 0;
	size_t suf = t->eow_suffix ? strlen(t->eow_suffix) : 0;
	int rc = tok_grow((void **)&r->wbuf, &r->cap_wbuf, pre + suf + 8, 1, r->e);
	if (rc)
		return rc;
	size_t ns = 0;
	int32_t unk = -1; /* pending unk symbol (fuse_unk folds a run into one) */
	for (size_t i = 0; i < n;) {
		char cbuf[4];
		const char *c = cbuf;
		size_t cl, at = i;
		if (t->byte_level) {
			cl = tok_byte_char(w[i], cbuf);
			i++;
		} else {
			uint32_t cp;
			cl = utf8_decode(w + i, n - i, &cp);
			if (!cl)
				cl = 1; /* an invalid byte: its own symbol, found by fallback only */
			c = (const char *)w + i;
			i += cl;
		}
		bool first = at == 0;
		bool last = i == n;
		size_t len = 0;
		if (!first && pre) {
			memcpy(r->wbuf, t->cont_prefix, pre);
			len = pre;
		}
		memcpy(r->wbuf + len, c, cl);
		len += cl;
		if (last && suf) {
			memcpy(r->wbuf + len, t->eow_suffix, suf);
			len += suf;
		}
		int32_t id = tok_smap_get(&t->vocab, t, r->wbuf, len);
		if (id >= 0) {
			if (unk >= 0) {
				if ((rc = sym_add(r, &ns, unk)))
					return rc;
				unk = -1;
			}
			if ((rc = sym_add(r, &ns, id)))
				return rc;
			continue;
		}
		if (t->byte_fallback) {
			bool all = true;
			for (size_t k = 0; k < len; k++)
				all = all && t->fallback_id[(uint8_t)r->wbuf[k]] >= 0;
			if (all) {
				/* The library adds these before a pending unk; keep its order. */
				for (size_t k = 0; k < len; k++)
					if ((rc = sym_add(r, &ns, t->fallback_id[(uint8_t)r->wbuf[k]])))
						return rc;
				continue;
			}
		}
		if (t->unk_id >= 0) {
			if (unk >= 0 && !t->fuse_unk && (rc = sym_add(r, &ns, unk)))
				return rc;
			unk = t->unk_id;
		}
		/* No unk token: the library drops the character. */
	}
	if (unk >= 0 && (rc = sym_add(r, &ns, unk)))
		return rc;
	*ns_out = ns;
	return 0;
}

/* ---- merging ------------------------------------------------------------------- */

static void merge_small(const struct tok *t, struct tok_sym *sym, size_t ns)
{
	uint32_t rank[SMALL_WORD];
	int32_t to[SMALL_WORD];
	for (size_t i = 0; i + 1 < ns; i++) {
		const struct tok_pair *p = tok_pmap_get(&t->merges, sym[i].id, sym[i + 1].id);
		rank[i] = p ? p->rank : UINT32_MAX;
		to[i] = p ? p->id : -1;
	}
	rank[ns - 1] = UINT32_MAX;
	for (;;) {
		int32_t best = -1;
		uint32_t br = UINT32_MAX;
		for (int32_t i = 0; i >= 0; i = sym[i].next)
			if (rank[i] < br) {
				br = rank[i];
				best = i;
			}
		if (best < 0)
			return;
		int32_t j = sym[best].next, k = sym[j].next;
		sym[best].id = to[best];
		sym[best].next = k;
		sym[j].id = -1;
		if (k >= 0)
			sym[k].prev = best;
		/* the pairs that changed: (prev, best) and (best, k) */
		int32_t q = sym[best].prev;
		if (q >= 0) {
			const struct tok_pair *p = tok_pmap_get(&t->merges, sym[q].id, sym[best].id);
			rank[q] = p ? p->rank : UINT32_MAX;
			to[q] = p ? p->id : -1;
		}
		if (k >= 0) {
			const struct tok_pair *p = tok_pmap_get(&t->merges, sym[best].id, sym[k].id);
			rank[best] = p ? p->rank : UINT32_MAX;
			to[best] = p ? p->id : -1;
		} else {
			rank[best] = UINT32_MAX;
		}
	}
}

/* An 8-ary min-heap: a node's children share one cache line, so a pop on a heap of
   ten million entries touches 8 lines instead of 23. */
#define HEAP_D 8

static void heap_down(uint64_t *h, size_t n, size_t i)
{
	uint64_t v = h[i];
	for (;;) {
		size_t c = HEAP_D * i + 1;
		if (c >= n)
			break;
		size_t end = c + HEAP_D < n ? c + HEAP_D : n, m = c;
		for (size_t k = c + 1; k < end; k++)
			if (h[k] < h[m])
				m = k;
		if (h[m] >= v)
			break;
		h[i] = h[m];
		i = m;
	}
	h[i] = v;
}

static void heap_up(uint64_t *h, size_t i)
{
	uint64_t v = h[i];
	while (i) {
		size_t p = (i - 1) / HEAP_D;
		if (h[p] <= v)
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = v;
}

static int heap_push(struct tok_run *r, size_t *n, uint64_t v)
{
	if (*n >= r->cap_heap) {
		int rc = tok_grow((void **)&r->heap, &r->cap_heap, *n + 1, sizeof *r->heap, r->e);
		if (rc)
			return rc;
	}
	r->heap[*n] = v;
	heap_up(r->heap, (*n)++);
	return 0;
}

/* Entries are rank << 32 | position, so the smallest is the lowest rank, leftmost. */
static int merge_heap(struct tok_run *r, size_t ns)
{
	const struct tok *t = r->t;
	struct tok_sym *sym = r->sym;
	int rc = tok_grow((void **)&r->heap, &r->cap_heap, ns, sizeof *r->heap, r->e);
	if (rc)
		return rc;
	size_t hn = 0;
	for (size_t i = 0; i + 1 < ns; i++) {
		const struct tok_pair *p = tok_pmap_get(&t->merges, sym[i].id, sym[i + 1].id);
		if (p)
			r->heap[hn++] = (uint64_t)p->rank << 32 | i;
	}
	for (size_t i = hn / HEAP_D + 1; i-- > 0;)
		heap_down(r->heap, hn, i);
	while (hn) {
		uint64_t top = r->heap[0];
		r->heap[0] = r->heap[--hn];
		if (hn)
			heap_down(r->heap, hn, 0);
		int32_t pos = (int32_t)(uint32_t)top;
		uint32_t rank = (uint32_t)(top >> 32);
		int32_t j = sym[pos].next;
		if (sym[pos].id < 0 || j < 0)
			continue;
		const struct tok_pair *p = tok_pmap_get(&t->merges, sym[pos].id, sym[j].id);
		if (!p || p->rank != rank)
			continue; /* stale: the pair at pos changed since this entry was pushed */
		int32_t k = sym[j].next;
		sym[pos].id = p->id;
		sym[pos].next = k;
		sym[j].id = -1;
		if (k >= 0)
			sym[k].prev = pos;
		int32_t q = sym[pos].prev;
		if (q >= 0 && (p = tok_pmap_get(&t->merges, sym[q].id, sym[pos].id)) &&
		    (rc = heap_push(r, &hn, (uint64_t)p->rank << 32 | (uint32_t)q)))
			return rc;
		if (k >= 0 && (p = tok_pmap_get(&t->merges, sym[pos].id, sym[k].id)) &&
		    (rc = heap_push(r, &hn, (uint64_t)p->rank << 32 | (uint32_t)pos)))
			return rc;
	}
	return 0;
}

/* Ascending sort of positions: insertion sort for short runs, two 16-bit radix passes
   otherwise (O(k), no recursion). tmp has room for k. */
static void sort_pos(uint32_t *v, uint32_t *tmp, size_t k)
{
	if (k <= 32) {
		for (size_t i = 1; i < k; i++) {
			uint32_t x = v[i];
			size_t j = i;
			for (; j > 0 && v[j - 1] > x; j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
		return;
	}
	for (int shift = 0; shift < 32; shift += 16) {
		size_t cnt[65537] = {0};
		for (size_t i = 0; i < k; i++)
			cnt[((v[i] >> shift) & 0xFFFF) + 1]++;
		for (size_t i = 1; i <= 65536; i++)
			cnt[i] += cnt[i - 1];
		for (size_t i = 0; i < k; i++)
			tmp[cnt[(v[i] >> shift) & 0xFFFF]++] = v[i];
		memcpy(v, tmp, k * sizeof *v);
	}
}

/* Very long words with a monotone merge table (a merge's result only takes part in
   later merges, as in every trained BPE; tok_load.c checks it): a merge never creates
   a pair that outranks the one being applied, so the library's heap order is simply
   "rank by rank, left to right within a rank". One bucket per rank gives that in
   O(n + ranks) time, several times faster than the heap on a 10 MB pre-token. */
static int merge_buckets(struct tok_run *r, size_t ns)
{
	const struct tok *t = r->t;
	struct tok_sym *sym = r->sym;
	size_t nr = t->n_merges;
	int rc;
	if ((rc = tok_grow((void **)&r->bhead, &r->cap_bhead, nr, sizeof *r->bhead, r->e)) ||
	    (rc = tok_grow((void **)&r->bent, &r->cap_bent, ns, sizeof *r->bent, r->e)))
		return rc;
	memset(r->bhead, 0xFF, nr * sizeof *r->bhead);
	size_t ne = 0;
	uint32_t cur = UINT32_MAX;
	/* pushes go to the front of a bucket's list */
#define BUCKET_PUSH(rank_, pos_)                                                           	do {                                                                               		if (ne == r->cap_bent && (rc = tok_grow((void **)&r->bent, &r->cap_bent,   							 ne + 1, sizeof *r->bent, r->e)))  			return rc;                                                         		r->bent[ne].pos = (uint32_t)(pos_);                                        		r->bent[ne].next = r->bhead[rank_];                                        		r->bhead[rank_] = (int32_t)ne++;                                           	} while (0)
	for (size_t i = 0; i + 1 < ns; i++) {
		const struct tok_pair *p = tok_pmap_get(&t->merges, sym[i].id, sym[i + 1].id);
		if (!p)
			continue;
		BUCKET_PUSH(p->rank, i);
		if (p->rank < cur)
			cur = p->rank;
	}
	for (; cur < nr; cur++) {
		if (r->bhead[cur] < 0)
			continue;
		size_t k = 0;
		for (int32_t e = r->bhead[cur]; e >= 0; e = r->bent[e].next)
			k++;
		if ((rc = tok_grow((void **)&r->bpos, &r->cap_bpos, 2 * k, sizeof *r->bpos, r->e)))
			return rc;
		k = 0;
		for (int32_t e = r->bhead[cur]; e >= 0; e = r->bent[e].next)
			r->bpos[k++] = r->bent[e].pos;
		r->bhead[cur] = -1;
		sort_pos(r->bpos, r->bpos + k, k);
		for (size_t q = 0; q < k; q++) {
			int32_t pos = (int32_t)r->bpos[q];
			int32_t j = sym[pos].next;
			if (sym[pos].id < 0 || j < 0)
				continue;
			const struct tok_pair *p = tok_pmap_get(&t->merges, sym[pos].id, sym[j].id);
			if (!p || p->rank != cur)
				continue; /* stale */
			int32_t nx = sym[j].next;
			sym[pos].id = p->id;
			sym[pos].next = nx;
			sym[j].id = -1;
			if (nx >= 0)
				sym[nx].prev = pos;
			int32_t pv = sym[pos].prev;
			if (pv >= 0 && (p = tok_pmap_get(&t->merges, sym[pv].id, sym[pos].id)))
				BUCKET_PUSH(p->rank, pv); /* rank > cur: monotone table */
			if (nx >= 0 && (p = tok_pmap_get(&t->merges, sym[pos].id, sym[nx].id)))
				BUCKET_PUSH(p->rank, pos);
		}
	}
#undef BUCKET_PUSH
	return 0;
}

int tok_bpe_word(struct tok_run *r, const uint8_t *w, size_t n)
{
	const struct tok *t = r->t;
	if (!n)
		return 0;
	int rc;
	if (t->ignore_merges) {
		int32_t id = t->byte_level ? tok_smap_get(&t->bytes_vocab, t, (const char *)w, n)
					   : tok_smap_get(&t->vocab, t, (const char *)w, n);
		if (id >= 0)
			return tok_ids_push(r->out, id, r->e);
	}
	struct tok_wc_ent *ce = NULL;
	uint32_t tag = 0;
	if (n <= TOK_WC_KEY && r->th && r->th->wc && !tok_bpe_force_path) {
		uint64_t h = tok_hash(w, n);
		tag = (uint32_t)(h >> 32);
		ce = &r->th->wc[h & (TOK_WC_SIZE - 1)];
		if (ce->serial == t->serial && ce->hash == tag && ce->len == n &&
		    !memcmp(ce->key, w, n)) {
			for (size_t i = 0; i < ce->nids; i++)
				if ((rc = tok_ids_push(r->out, ce->ids[i], r->e)))
					return rc;
			return 0;
		}
	}
	size_t n0 = r->out->n;
	size_t ns = n;
	if ((rc = sym_reserve(r, n)))
		return rc;
	if (t->byte_fast) {
		struct tok_sym *sym = r->sym;
		for (size_t i = 0; i < n; i++)
			sym[i].id = t->byte_id[w[i]];
	} else if ((rc = init_generic(r, w, n, &ns))) {
		return rc;
	}
	if (!ns)
		return 0;
	struct tok_sym *sym = r->sym;
	for (size_t i = 0; i < ns; i++) {
		sym[i].prev = (int32_t)i - 1;
		sym[i].next = i + 1 < ns ? (int32_t)i + 1 : -1;
	}
	if (ns >= 2) {
		int path = tok_bpe_force_path;
		if (!path)
			path = ns <= SMALL_WORD				    ? 1
			       : ns >= BUCKET_WORD && t->merges_monotone ? 3
									    : 2;
		if (path == 1 && ns <= SMALL_WORD)
			merge_small(t, sym, ns);
		else if (path == 3 && t->merges_monotone)
			rc = merge_buckets(r, ns);
		else
			rc = merge_heap(r, ns);
		if (rc)
			return rc;
	}
	struct tok_ids *out = r->out;
	for (int32_t i = 0; i >= 0; i = sym[i].next) {
		if (out->n == out->cap && (rc = tok_grow((void **)&out->v, &out->cap, out->n + ns,
							  sizeof *out->v, r->e)))
			return rc;
		out->v[out->n++] = sym[i].id;
	}
	if (ce && out->n - n0 <= TOK_WC_IDS) {
		ce->serial = t->serial;
		ce->hash = tag;
		ce->len = (uint8_t)n;
		ce->nids = (uint8_t)(out->n - n0);
		memcpy(ce->key, w, n);
		memcpy(ce->ids, out->v + n0, ce->nids * sizeof *ce->ids);
	}
	return 0;
}

void tok_run_free_bpe(struct tok_run *r)
{
	free(r->sym);
	free(r->heap);
	free(r->wbuf);
	free(r->bhead);
	free(r->bent);
	free(r->bpos);
	r->sym = NULL;
	r->heap = NULL;
	r->wbuf = NULL;
	r->bhead = NULL;
	r->bent = NULL;
	r->bpos = NULL;
}
