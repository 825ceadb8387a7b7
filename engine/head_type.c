/*
 * head_type.c — the names of the output head types (engine.h). Apart from head_fp8.c so
 * that the option parser, and the fuzz harness built over it, need nothing else of the
 * engine (as kv_type.c).
 */
#include <string.h>

#include "engine/engine.h"

const char *eng_head_type_name(enum eng_head_type t)
{
	return t == ENG_HEAD_FP8 ? "fp8" : "bf16";
}

int eng_head_type_parse(const char *s, enum eng_head_type *out, struct err *e)
{
	if (!strcmp(s, "bf16"))
		*out = ENG_HEAD_STORED;
	else if (!strcmp(s, "fp8"))
		*out = ENG_HEAD_FP8;
	else
		return err_set(e, ERR_USAGE, "--head '%s': use bf16 (the head as the checkpoint "
			       "stores it) or fp8 (re-quantised at load: half the bytes per token)", s);
	return 0;
}
