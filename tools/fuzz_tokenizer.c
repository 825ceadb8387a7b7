/*
 * fuzz_tokenizer.c — libFuzzer harness for encoding arbitrary bytes with a real
 * tokenizer: added tokens, invalid UTF-8, normalizer, pre-tokenizer regexes, BPE.
 *
 * Loads $PONDER_FUZZ_TOKENIZER, else ../shared/fixtures/tokenizer/deepseek-v3/
 * tokenizer.json, once. The first input byte picks parse_special; the rest is the text.
 * Every byte string must encode and its ids decode; with a lossless tokenizer
 * (byte-level, no normalizer: DeepSeek's; checked once at load) the bytes must come
 * back exactly (docs/tokenizer.md), also with skip_special when no special token was
 * parsed.
 *
 *   make fuzz && build/fuzz/fuzz_tokenizer -max_total_time=180 tools/fuzz/corpus/tokenizer
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether s decodes back from its ids unchanged. */
static bool round_trips(const struct tok *t, const char *s, size_t n)
{
	struct tok_ids ids = {0};
	struct err e = {0};
	char *d = NULL;
	size_t dn = 0;
	bool same = !tok_encode(t, s, n, false, &ids, &e) &&
		    !tok_decode(t, ids.v, ids.n, false, &d, &dn, &e) && dn == n && !memcmp(d, s, n);
	free(d);
	tok_ids_free(&ids);
	return same;
}

/* The tokenizer, and whether it is lossless: a normalizer (Qwen3's NFC) changes text,
   so only a byte-level tokenizer without one must give back every input exactly. */
static struct tok *tokenizer(bool *lossless)
{
	static struct tok *t;
	static bool exact;
	if (!t) {
		const char *p = getenv("PONDER_FUZZ_TOKENIZER");
		if (!p)
			p = "../shared/fixtures/tokenizer/deepseek-v3/tokenizer.json";
		struct err e = {0};
		if (tok_load(p, &t, &e)) {
			fprintf(stderr, "fuzz_tokenizer: %s (set PONDER_FUZZ_TOKENIZER)\n", e.msg);
			exit(1);
		}
		exact = round_trips(t, "e\xcc\x81 \xef\xac\x81", 7); /* NFC, NFKC probes */
	}
	*lossless = exact;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool lossless;
	const struct tok *t = tokenizer(&lossless);
	if (!size)
		return 0;
	bool special = data[0] & 1;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	struct tok_ids ids = {0};
	struct err e = {0};
	if (tok_encode(t, s, n, special, &ids, &e)) {
		fprintf(stderr, "encode failed: %s\n", e.msg);
		__builtin_trap();
	}
	bool any_special = false;
	for (size_t i = 0; i < ids.n; i++)
		any_special |= tok_is_special(t, ids.v[i]);
	if (!special && any_special)
		__builtin_trap(); /* user text never becomes a control token */
	char *d = NULL;
	size_t dn = 0;
	if (tok_decode(t, ids.v, ids.n, false, &d, &dn, &e) ||
	    (lossless && (dn != n || memcmp(d, s, n))))
		__builtin_trap();
	free(d);
	if (!any_special) {
		if (tok_decode(t, ids.v, ids.n, true, &d, &dn, &e) ||
		    (lossless && (dn != n || memcmp(d, s, n))))
			__builtin_trap();
		free(d);
	}
	tok_ids_free(&ids);
	return 0;
}
