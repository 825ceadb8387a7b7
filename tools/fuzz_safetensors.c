/*
 * fuzz_safetensors.c — libFuzzer harness for st_parse (engine/safetensors.c).
 *
 * Feeds arbitrary bytes as a whole .safetensors image. libFuzzer's buffer has exactly
 * `size` bytes, so AddressSanitizer catches any read past the image; on success the
 * harness also touches the first and last byte of every tensor and re-checks the
 * invariants st_parse promises (sizes consistent, data inside the image, lookups by
 * name find the same tensor), trapping if one does not hold.
 *
 *   make fuzz && build/fuzz/fuzz_safetensors -max_total_time=180 CORPUS_DIR
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct st_file *f;
	struct err e = {0};
	int rc = st_parse(data, size, "fuzz.safetensors", &f, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0] || !strstr(e.msg, "fuzz.safetensors"))
			__builtin_trap(); /* errors must be negative and name the file */
		return 0;
	}
	volatile uint8_t sink = 0;
	for (size_t i = 0; i < st_count(f); i++) {
		const struct st_tensor *t = st_at(f, i);
		const uint8_t *p = t->data;
		if (t->nbytes != t->nelem * st_dtype_size(t->dtype))
			__builtin_trap();
		if (p < data || p > data + size || t->nbytes > (uint64_t)(data + size - p))
			__builtin_trap();
		if (t->nbytes) {
			sink ^= p[0];
			sink ^= p[t->nbytes - 1];
		}
		if (st_find(f, t->name) != t)
			__builtin_trap();
	}
	(void)sink;
	st_close(f);
	return 0;
}
