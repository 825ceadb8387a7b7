/*
 * kv_type.c — the names of the KV cache types (engine.h). Apart from model.c so that
 * the option parser, and the fuzz harness built over it, need nothing else of the
 * engine.
 */
#include <string.h>

#include "engine/engine.h"

const char *eng_kv_type_name(enum eng_kv_type t)
{
	return t == ENG_KV_BF16 ? "bf16" : t == ENG_KV_FP8 ? "fp8" : "f32";
}

int eng_kv_type_parse(const char *s, enum eng_kv_type *out, struct err *e)
{
	for (enum eng_kv_type t = ENG_KV_F32; t <= ENG_KV_FP8; t++)
		if (!strcmp(s, eng_kv_type_name(t))) {
			*out = t;
			return 0;
		}
	return err_set(e, ERR_USAGE, "--kv-type: '%s' is not f32, bf16 or fp8", s);
}
