/*
 * fuzz_tokenizer_json.c — libFuzzer harness for tok_parse (engine/tok_load.c and the
 * JSON scanner, normalizers, regex compilation it drives).
 *
 * Feeds arbitrary bytes as tokenizer.json. Errors must be negative, carry a message
 * and name the file. A file that loads is then used: the input's first 256 bytes are
 * encoded with and without special tokens, under the regex work budget, and every id
 * must decode.
 *
 *   make fuzz && build/fuzz/fuzz_tokenizer_json -max_total_time=180 tools/fuzz/corpus/tokenizer_json
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tok *t = NULL;
	struct err e = {0};
	int rc = tok_parse((const char *)data, size, "fuzz.json", &t, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0] || !strstr(e.msg, "fuzz.json"))
			__builtin_trap();
		return 0;
	}
	size_t n = size < 256 ? size : 256;
	for (int special = 0; special < 2; special++) {
		struct tok_ids ids = {0};
		rc = tok_encode(t, (const char *)data, n, special, &ids, &e);
		if (rc) {
			if (rc >= 0 || !e.msg[0])
				__builtin_trap();
			tok_ids_free(&ids);
			continue;
		}
		char *d = NULL;
		size_t dn = 0;
		for (size_t i = 0; i < ids.n; i++)
			if (ids.v[i] < 0 || (size_t)ids.v[i] >= tok_vocab_size(t) ||
			    !tok_token_bytes(t, ids.v[i], NULL))
				__builtin_trap();
		if (tok_decode(t, ids.v, ids.n, false, &d, &dn, &e))
			__builtin_trap();
		free(d);
		tok_ids_free(&ids);
	}
	tok_free(t);
	return 0;
}
