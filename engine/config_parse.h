/*
 * config_parse.h — internal to the config.json parsers: config.c (the DeepSeek
 * families and the entry points) and config_dense.c (Qwen2, Llama, Qwen3). Typed field
 * readers whose errors name the field and the value, the size bounds every family
 * shares, and the parts of config.json that are read alike for all families.
 */
#ifndef PONDER_ENG_CONFIG_PARSE_H
#define PONDER_ENG_CONFIG_PARSE_H

#include <jansson.h>

#include "common/json_text.h"
#include "engine/config.h"

/* Generous bounds: several times the largest released model, far below anything that
   would make a later allocation absurd. */
#define MAX_HIDDEN 65536
#define MAX_VOCAB (4 * 1024 * 1024)
#define MAX_INTERMEDIATE (1024 * 1024)
#define MAX_LAYERS 1024
#define MAX_NEXTN 64
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 4096
#define MAX_LORA 16384
#define MAX_EXPERTS 4096
#define MAX_POSITIONS (16 * 1024 * 1024)

/*
 * An integer field in [lo, hi]. Absent: def. null: null_val when null_ok (the HF code
 * treats None as "not used"), else an error. `prefix` goes before the field's name in
 * messages ("rope_scaling." for a nested object, "" at the top).
 */
int cfg_get_int(json_t *obj, const char *prefix, const char *field, int64_t def, int64_t lo,
		int64_t hi, int null_ok, int64_t null_val, int64_t *out, struct err *e);

/* A number (integer or real) in [lo, hi] (lo exclusive when lo_open); absent: def. */
int cfg_get_num(json_t *obj, const char *prefix, const char *field, double def, double lo,
		int lo_open, double hi, double *out, struct err *e);

int cfg_get_bool(json_t *obj, const char *prefix, const char *field, bool def, bool *out,
		 struct err *e);

/* A string field; absent: def. The string lives as long as obj. */
int cfg_get_str(json_t *obj, const char *prefix, const char *field, const char *def,
		const char **out, struct err *e);

/* `obj` (the value of `field`) is an object whose keys are all in the NULL-terminated
   `known`; an unknown key is an error saying that ponder implements `implemented`. */
int cfg_check_keys(json_t *obj, const char *field, const char *const *known,
		   const char *implemented, struct err *e);

/* quantization_config (fp8 e4m3 with 128x128 blocks is the one accepted). */
int cfg_parse_quant(json_t *q, struct eng_config *c, struct err *e);

/* bos_token_id and eos_token_id (an integer or a list), checked against vocab_size;
   def_bos/def_eos apply when the field is absent (-1: none). */
int cfg_parse_token_ids(json_t *root, struct eng_config *c, int64_t def_bos, int64_t def_eos,
			struct err *e);

/* The dense GQA families (c->arch already set from "architectures"). */
int cfg_parse_dense(json_t *root, struct eng_config *c, struct err *e);

#endif
