/* byte_vocab.h — the vocabulary of a byte-level test tokenizer, written by hand.
 *
 * put_byte_vocab() appends the 256 entries "<char>":<byte> of GPT-2's byte-to-character
 * table (printable bytes stand for themselves, the others map to U+0100 and up), joined
 * by commas, with `q` as the quote (tests write JSON with ' and swap the quotes). Kept
 * separate from the engine's own table (tok_byte_char) so the tests check it against
 * an independent copy. Returns the new length of j. */
#ifndef PONDER_TESTS_BYTE_VOCAB_H
#define PONDER_TESTS_BYTE_VOCAB_H

#include <stdio.h>

static inline size_t put_byte_vocab(char *j, size_t cap, size_t k, char q)
{
	for (int b = 0; b < 256; b++) {
		unsigned cp;
		if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
			cp = (unsigned)b;
		else
			cp = 0x100 + (b <= 0x20 ? (unsigned)b : b <= 0xA0 ? (unsigned)b - 0x7F + 0x21 : 0x43);
		k += (size_t)snprintf(j + k, cap - k, "%s%c\\u%04x%c:%d", b ? "," : "", q, cp, q, b);
	}
	return k;
}

#endif
