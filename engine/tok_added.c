/*
 * tok_added.c — finding added tokens in text, exact to the Hugging Face library's
 * AddedVocabulary::find_matches.
 *
 * The library searches all contents at once with a leftmost-longest Aho-Corasick
 * automaton: the match starting earliest wins, the longest one at that position, and
 * the search resumes after it (matches never overlap). Here a byte trie is walked from
 * each position whose byte can start a token (a 256-bit bitmap skips the rest), which
 * finds the same matches in O(text × longest token) worst case; real added tokens are
 * short and rare in text.
 *
 * Then, per match, as the library does:
 *   single_word: dropped (not re-searched) unless no word character touches it, where
 *                a word character is Rust regex \w;
 *   lstrip:      the match start moves left over whitespace, not past the previous match;
 *   rstrip:      the match end moves right over whitespace (the search still resumes at
 *                the unextended end, so a later match may overlap; kept as is);
 * and the text between matches becomes plain pieces.
 *
 * Bytes that are not valid UTF-8 around a match count as neither whitespace nor word
 * characters.
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "engine/tok_internal.h"

/* ---- Unicode classes ----------------------------------------------------------- */

bool tok_is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
	       c == 0x205F || c == 0x3000;
}

/* Rust regex \w: Alphabetic, M, Nd, Pc, Join_Control. Alphabetic is letters, Nl and
   Other_Alphabetic, which is marks (already in M) plus a few symbol ranges below. */
bool tok_is_word(uint32_t c)
{
	if (c < 0x80)
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		       c == '_';
	if (c == 0x200C || c == 0x200D)
		return true;
	if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
	    (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189))
		return true;
	switch (utf8proc_category((utf8proc_int32_t)c)) {
	case UTF8PROC_CATEGORY_LU:
	case UTF8PROC_CATEGORY_LL:
	case UTF8PROC_CATEGORY_LT:
	case UTF8PROC_CATEGORY_LM:
	case UTF8PROC_CATEGORY_LO:
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_NL:
	case UTF8PROC_CATEGORY_PC:
		return true;
	default:
		return false;
	}
}

/* The character ending at s[0..end), or false when there is none or it is invalid. */
static bool char_before(const uint8_t *s, size_t end, uint32_t *cp, size_t *len)
{
	if (!end)
		return false;
	size_t b = end - 1, k = 0;
	while (b > 0 && k < 3 && (s[b] & 0xC0) == 0x80) {
		b--;
		k++;
	}
	size_t l = utf8_decode(s + b, end - b, cp);
	if (!l || b + l != end)
		return false;
	*len = l;
	return true;
}

/* ---- trie ---------------------------------------------------------------------- */

int tok_trie_add(struct tok_trie *tr, const char *s, size_t n, int32_t idx, struct err *e)
{
	int rc;
	if (!tr->cap_nodes) {
		if ((rc = tok_pmap_init(&tr->edge, 64, e)))
			return rc;
		if ((rc = tok_grow((void **)&tr->term, &tr->cap_nodes, 64, sizeof *tr->term, e)))
			return rc;
		tr->term[0] = -1;
		tr->n_nodes = 1;
	}
	if (!n)
		return 0;
	tr->first[(uint8_t)s[0] >> 3] |= (uint8_t)(1u << ((uint8_t)s[0] & 7));
	int32_t node = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tok_pair *p = tok_pmap_get(&tr->edge, node, (uint8_t)s[i]);
		if (p) {
			node = p->id;
			continue;
		}
		if (tr->n_nodes >= (uint32_t)INT32_MAX)
			return err_set(e, ERR_NOMEM, "tokenizer: added tokens too long");
		if ((rc = tok_grow((void **)&tr->term, &tr->cap_nodes, (size_t)tr->n_nodes + 1,
				   sizeof *tr->term, e)))
			return rc;
		int32_t child = (int32_t)tr->n_nodes++;
		tr->term[child] = -1;
		if ((rc = tok_pmap_put(&tr->edge, node, (uint8_t)s[i], 0, child, e)))
			return rc;
		node = child;
	}
	if (tr->term[node] < 0) /* the first of equal contents wins, as in the automaton */
		tr->term[node] = idx;
	tr->empty = false;
	return 0;
}

void tok_trie_free(struct tok_trie *tr)
{
	if (!tr)
		return;
	tok_pmap_free(&tr->edge);
	free(tr->term);
	memset(tr, 0, sizeof *tr);
	tr->empty = true;
}

/* Longest token starting at s[0..n): its index into t->added and length, or -1. */
static int32_t longest_at(const struct tok_trie *tr, const uint8_t *s, size_t n, size_t *len)
{
	int32_t node = 0, best = -1;
	for (size_t i = 0; i < n; i++) {
		const struct tok_pair *p = tok_pmap_get(&tr->edge, node, s[i]);
		if (!p)
			break;
		node = p->id;
		if (tr->term[node] >= 0) {
			best = tr->term[node];
			*len = i + 1;
		}
	}
	return best;
}

int tok_added_split(struct tok_run *r, const struct tok_trie *tr, const char *text, size_t n,
		    tok_piece_fn fn)
{
	const struct tok *t = r->t;
	const uint8_t *s = (const uint8_t *)text;
	size_t start_offset = 0, i = 0;
	int rc;
	while (i < n) {
		if (!(tr->first[s[i] >> 3] & (1u << (s[i] & 7)))) {
			i++;
			continue;
		}
		size_t mlen = 0;
		int32_t k = longest_at(tr, s + i, n - i, &mlen);
		if (k < 0) {
			i++;
			continue;
		}
		const struct tok_added *a = &t->added[k];
		size_t start = i, stop = i + mlen;
		i = stop;
		uint32_t cp;
		size_t cl;
		if (a->single_word) {
			bool word_before = char_before(s, start, &cp, &cl) && tok_is_word(cp);
			bool word_after = stop < n && utf8_decode(s + stop, n - stop, &cp) &&
					  tok_is_word(cp);
			if (word_before || word_after)
				continue;
		}
		if (a->lstrip) {
			size_t ns = start;
			while (char_before(s, ns, &cp, &cl) && tok_is_space(cp))
				ns -= cl;
			start = ns > start_offset ? ns : start_offset;
		}
		if (a->rstrip) {
			while (stop < n && (cl = utf8_decode(s + stop, n - stop, &cp)) &&
			       tok_is_space(cp))
				stop += cl;
		}
		if (start > stop) /* a previous rstrip reached past this match */
			start = stop;
		if (start_offset < start && (rc = fn(r, -1, text + start_offset, start - start_offset)))
			return rc;
		if ((rc = fn(r, a->id, text + start, stop - start)))
			return rc;
		start_offset = stop;
	}
	if (start_offset < n && (rc = fn(r, -1, text + start_offset, n - start_offset)))
		return rc;
	return 0;
}
