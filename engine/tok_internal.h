/*
 * tok_internal.h — the inside of struct tok, shared by the tokenizer's files:
 *   tok_json.c    a small JSON scanner for the big parts of tokenizer.json
 *   tok_load.c    tokenizer.json -> struct tok (validation, error messages)
 *   tok_bpe.c     hash maps and the BPE merge loop
 *   tok_pretok.c  normalizers, regex splits, pre-tokenizer pipeline
 *   tok_added.c   added tokens: trie, lstrip / rstrip / single_word
 *   tokenizer.c   the public API (encode orchestration, decode), per-thread state
 *
 * Invariants of a loaded struct tok (tok_load.c establishes them, everything else relies
 * on them):
 *   - every id in [0, n_ids) is either unused (tok_len[id] == TOK_NONE) or names one
 *     string; no two model-vocab strings share an id and no string appears twice;
 *   - every merge names two vocab ids and its result is the vocab id of the
 *     concatenated string, so a pair of ids determines its rank and result;
 *   - struct tok is read-only after loading: encoding keeps its scratch in a struct
 *     tok_run for the call and a struct tok_thread per thread (regex match resources,
 *     word cache), so one tok may serve many threads.
 */
#ifndef PONDER_ENG_TOK_INTERNAL_H
#define PONDER_ENG_TOK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/utf8.h"
#include "engine/tokenizer.h"

#define TOK_NONE UINT32_MAX
#define TOK_MAX_ID (1u << 24)     /* ids beyond this are rejected at load */
#define TOK_MAX_STEPS 32          /* pre-tokenizer steps after flattening Sequences */
#define TOK_MAX_NORM 16           /* normalizer steps after flattening */
#define TOK_MAX_WORD 0x7fffffffu  /* longest single pre-token BPE accepts (bytes) */
#define TOK_REGEX_BUDGET 10000000u /* regex work units an encode call starts with */

/* ---- hash maps (tok_bpe.c) ------------------------------------------------------ */

/* String -> id. A slot keeps the key's place in the tok arena (the vocab string, or the
   decoded bytes for a map built with `out`), so a lookup touches the slot and the
   string only. Open addressing, linear probing; id == 0 marks an empty slot (ids are
   stored + 1). */
struct tok_sslot {
	uint32_t tag; /* high bits of the hash */
	uint32_t id;  /* id + 1 */
	uint32_t off, len;
};
struct tok_smap {
	struct tok_sslot *slot;
	uint64_t mask;
	size_t n;
	bool out;
};

/* (id, id) -> (rank, merged id). Open addressing on a 64-bit key. */
struct tok_pair {
	uint64_t key; /* (uint64_t)a << 32 | b; UINT64_MAX = empty */
	uint32_t rank;
	int32_t id;
};
struct tok_pmap {
	struct tok_pair *slot;
	uint64_t mask;
	size_t n;
};

uint64_t tok_hash(const void *p, size_t n);
int tok_smap_init(struct tok_smap *m, size_t expect, bool out, struct err *e);
void tok_smap_free(struct tok_smap *m);
/* The id whose string is s[0..n), or -1. _h takes the tok_hash of s. */
int32_t tok_smap_get(const struct tok_smap *m, const struct tok *t, const char *s, size_t n);
int32_t tok_smap_get_h(const struct tok_smap *m, const struct tok *t, const char *s, size_t n,
		       uint64_t h);
/* Inserts id under its own string. Returns -1, or the id already holding that string
   (then nothing changes). The map never grows: size it with `expect`. */
int32_t tok_smap_put(struct tok_smap *m, const struct tok *t, int32_t id);
int32_t tok_smap_put_h(struct tok_smap *m, const struct tok *t, int32_t id, uint64_t h);
static inline void tok_smap_prefetch(const struct tok_smap *m, uint64_t h)
{
	__builtin_prefetch(&m->slot[h & m->mask]);
}
/* Large tables: 2 MiB aligned and marked for transparent huge pages (fewer TLB misses
   on the random probes of loading); free with free(). */
void *tok_table_alloc(size_t bytes);
int tok_pmap_init(struct tok_pmap *m, size_t expect, struct err *e);
void tok_pmap_free(struct tok_pmap *m);
/* (a, b) -> (rank, id); a later duplicate key overwrites the earlier value, as the
   Hugging Face library's HashMap collect does. Grows as needed. */
int tok_pmap_put(struct tok_pmap *m, int32_t a, int32_t b, uint32_t rank, int32_t id,
		 struct err *e);

static inline uint64_t tok_pair_hash(uint64_t key)
{
	key ^= key >> 31;
	key *= 0x9E3779B97F4A7C15ull;
	return key ^ (key >> 29);
}

static inline const struct tok_pair *tok_pmap_get(const struct tok_pmap *m, int32_t a,
						  int32_t b)
{
	if (!m->n)
		return NULL;
	uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
	for (uint64_t i = tok_pair_hash(key);; i++) {
		const struct tok_pair *p = &m->slot[i & m->mask];
		if (p->key == key)
			return p;
		if (p->key == UINT64_MAX)
			return NULL;
	}
}

/* ---- pre-tokenizer and normalizer ---------------------------------------------- */

enum tok_behavior {
	TOK_REMOVED,
	TOK_ISOLATED,
	TOK_MERGED_PREV,
	TOK_MERGED_NEXT,
	TOK_CONTIGUOUS,
};

struct tok_step {
	pcre2_code *re;    /* NULL: the step does not split */
	uint8_t behavior;  /* enum tok_behavior */
	bool invert;
	bool prefix_space; /* ByteLevel add_prefix_space */
	char *what;        /* "pre_tokenizer.pretokenizers[2] (Split)" for messages */
};

enum tok_norm { TOK_NFC, TOK_NFD, TOK_NFKC, TOK_NFKD };

enum tok_decoder { TOK_DEC_NONE, TOK_DEC_BYTELEVEL };

/* ---- added tokens (tok_added.c) ------------------------------------------------ */

struct tok_added {
	uint32_t off, len;     /* content in the arena */
	uint32_t moff, mlen;   /* what the trie matches: content, normalized if `normalized` */
	int32_t id;
	bool special, lstrip, rstrip, single_word, normalized;
};

/* Byte trie over added-token contents; edges in a pair map keyed (node, byte). */
struct tok_trie {
	struct tok_pmap edge;  /* key (node, byte) -> child node in .id */
	int32_t *term;         /* node -> index into tok.added, -1 */
	uint32_t n_nodes;
	size_t cap_nodes;
	uint8_t first[32];     /* bitmap of first bytes, to skip quickly */
	bool empty;
};

/* ---- the tokenizer ------------------------------------------------------------- */

struct tok {
	char *label; /* path or label for messages */

	/* Per id. tok_off/tok_len: the string as written in tokenizer.json (model vocab or
	   added content); out_off/out_len: the bytes it decodes to. */
	size_t n_ids;
	uint32_t *tok_off, *tok_len;
	uint32_t *out_off, *out_len;
	uint8_t *flags; /* TOK_F_* */
	char *arena;
	size_t arena_len, arena_cap;

	/* BPE model */
	struct tok_smap vocab; /* model vocab string -> id */
	struct tok_smap bytes_vocab; /* byte-level: decoded bytes -> id (ignore_merges) */
	struct tok_pmap merges;
	size_t n_vocab, n_merges;
	bool byte_level;       /* pre-tokenizer ends in ByteLevel: BPE works on bytes */
	bool byte_fast;        /* every byte has a single-symbol id, no prefix/suffix */
	bool byte_fallback, fuse_unk, ignore_merges;
	bool merges_monotone;  /* no merge result takes part in an earlier-ranked merge */
	int32_t unk_id;        /* -1: none */
	int32_t byte_id[256];  /* byte-level: id of the one-byte token, -1 if missing */
	int32_t fallback_id[256]; /* "<0xXX>" ids for byte_fallback, -1 if missing */
	char *cont_prefix, *eow_suffix; /* NULL when absent */

	/* normalizer */
	uint8_t norm[TOK_MAX_NORM];
	size_t n_norm;

	/* pre-tokenizer */
	struct tok_step steps[TOK_MAX_STEPS];
	size_t n_steps;

	/* added tokens */
	struct tok_added *added;
	size_t n_added;
	struct tok_trie trie_raw, trie_norm; /* normalized == false / true */

	uint8_t decoder; /* enum tok_decoder */
	uint64_t serial; /* unique per loaded tokenizer in this process (word cache key) */
};

enum {
	TOK_F_MODEL = 1,   /* in model.vocab */
	TOK_F_ADDED = 2,   /* an added token */
	TOK_F_SPECIAL = 4, /* an added token marked special */
};

/* ---- per-thread state (tokenizer.c) ------------------------------------------- */

/* Word cache: pre-tokens of up to TOK_WC_KEY bytes and their ids (at most TOK_WC_IDS),
   direct-mapped, one cache line an entry. Entries name the tokenizer by its serial, so
   a freed tokenizer's entries never match a new one. Text repeats words, and a hit
   skips BPE's random probes of the merge table. */
#define TOK_WC_KEY 24
#define TOK_WC_IDS 6
#define TOK_WC_SIZE 4096
struct tok_wc_ent {
	uint64_t serial; /* 0: empty */
	uint32_t hash;
	uint8_t len, nids;
	char key[TOK_WC_KEY];
	int32_t ids[TOK_WC_IDS];
};

struct tok_thread {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit;
	struct tok_wc_ent *wc; /* TOK_WC_SIZE entries, NULL if it could not be allocated */
};

/* ---- per-call scratch ---------------------------------------------------------- */

struct tok_sym {
	int32_t id; /* -1: merged into its left neighbour */
	int32_t prev, next;
};

struct tok_seg {
	size_t start, end;
	bool match;
};

struct tok_level {
	struct tok_seg *seg;
	size_t n_seg, cap_seg;
	char *buf; /* the piece with a prefix space added */
	size_t cap_buf;
};

struct tok_run {
	const struct tok *t;
	struct tok_ids *out;
	struct err *e;
	struct tok_thread *th; /* this thread's regex resources and word cache */
	bool th_owned;         /* no thread-specific storage: freed by this call */
	struct tok_sym *sym;
	size_t cap_sym;
	uint64_t *heap;
	size_t cap_heap;
	int32_t *bhead; /* merge_buckets: first entry per rank, -1 none */
	size_t cap_bhead;
	struct tok_bent {
		uint32_t pos;
		int32_t next;
	} *bent;
	size_t cap_bent;
	uint32_t *bpos; /* one bucket's positions, sorted, and sort scratch */
	size_t cap_bpos;
	char *wbuf; /* generic BPE path: one symbol's lookup string */
	size_t cap_wbuf;
	struct tok_level lv[TOK_MAX_STEPS + 1];
	char *nbuf; /* normalizer output (utf8proc) */
	uint64_t regex_budget; /* match-limit units left for costly starts (tok_pretok.c) */
	bool special; /* parse_special of this call */
};

/* tokenizer.c: grows *p (cap elements of elem bytes) to hold at least need. */
int tok_grow(void **p, size_t *cap, size_t need, size_t elem, struct err *e);

/* ---- tok_json.c: a streaming JSON scanner for the large parts of tokenizer.json --- */

struct tj {
	const char *base, *p, *end;
	const char *label; /* file name for messages */
	struct err *e;
	char *tmp; /* unescaped strings */
	size_t tmp_cap;
};

int tj_fail(struct tj *j, const char *what);
void tj_ws(struct tj *j);
/* At '"': the string's bytes (valid UTF-8) in *s, pointing into the document or into
   j->tmp (valid until the next tj_string). */
int tj_string(struct tj *j, const char **s, size_t *n);
int tj_int(struct tj *j, int64_t *v);
/* null / true / false: *v = -1 / 1 / 0. */
int tj_literal(struct tj *j, int *v);
int tj_skip(struct tj *j);
/* Object / array iteration: consume '{' or '[' with tj_open, then call _next with
   first = true until *done. tj_obj_next reads the key and the ':'. */
int tj_open(struct tj *j, char c);
int tj_obj_next(struct tj *j, bool *first, const char **key, size_t *kn, bool *done);
int tj_arr_next(struct tj *j, bool *first, bool *done);

/* tok_bpe.c: UTF-8 of the byte-level character standing for byte b (1 or 2 bytes). */
size_t tok_byte_char(uint8_t b, char out[2]);
/* tok_bpe.c, for tests only: 0 picks the merge loop by word length; 1 small scan
   (words of up to 48 symbols), 2 heap, 3 rank buckets (monotone merge tables). The
   three must give the same ids; tests compare them. Not thread-safe to change. */
extern int tok_bpe_force_path;
/* tok_bpe.c: encodes one pre-token (bytes in byte-level mode, UTF-8 otherwise). */
int tok_bpe_word(struct tok_run *r, const uint8_t *w, size_t n);
void tok_run_free_bpe(struct tok_run *r);

/* tok_pretok.c */
int tok_regex_compile(const char *pattern, size_t len, bool literal, const char *what,
		      const char *label, pcre2_code **out, struct err *e);
/* Runs pre-tokenizer steps from `step` on valid UTF-8 s[0..n) and BPE on each piece. */
int tok_pretok_run(struct tok_run *r, size_t step, const char *s, size_t n);
/* Normalizes valid UTF-8; *out points into r->nbuf or at s when nothing to do. */
int tok_normalize(struct tok_run *r, const char *s, size_t n, const char **out, size_t *on);
/* Same for load time (added-token contents); malloc'd result. */
int tok_normalize_alloc(const struct tok *t, const char *s, size_t n, char **out, size_t *on,
			struct err *e);
void tok_run_free_pretok(struct tok_run *r);
int tok_thread_init_regex(struct tok_thread *th); /* 0 or ERR_NOMEM */
void tok_thread_free_regex(struct tok_thread *th);

/* tok_added.c */
int tok_trie_add(struct tok_trie *tr, const char *s, size_t n, int32_t idx, struct err *e);
void tok_trie_free(struct tok_trie *tr);
/* Callback for each piece: id >= 0 an added token, id < 0 plain text s[a..b). */
typedef int (*tok_piece_fn)(struct tok_run *r, int32_t id, const char *s, size_t n);
int tok_added_split(struct tok_run *r, const struct tok_trie *tr, const char *s, size_t n,
		    tok_piece_fn fn);

/* tokenizer.c: character classes (decoding: common/utf8.h) */
bool tok_is_space(uint32_t cp); /* Unicode White_Space */
bool tok_is_word(uint32_t cp);  /* Rust regex \w (approximated through utf8proc) */

#endif
