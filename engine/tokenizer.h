/*
 * tokenizer.h — byte-level BPE from a Hugging Face tokenizer.json.
 *
 * Encoding is exact to the Hugging Face `tokenizers` library for the DeepSeek V2/V3/R1
 * tokenizers and others of the same family. User text is encoded with
 * parse_special = false, so text that looks like a special token stays plain text;
 * only the chat template's own scaffolding is encoded with parse_special = true.
 */
#ifndef PONDER_ENG_TOKENIZER_H
#define PONDER_ENG_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct tok;

/* A growable id list; zero-initialise, free with tok_ids_free. */
struct tok_ids {
	int32_t *v;
	size_t n, cap;
};
int tok_ids_push(struct tok_ids *ids, int32_t id, struct err *e);
void tok_ids_free(struct tok_ids *ids);

/* Loads tokenizer.json; errors name the file and the field. */
int tok_load(const char *path, struct tok **out, struct err *e);
/* Same from memory (tests, fuzzing); `label` names the source in messages. */
int tok_parse(const char *json, size_t len, const char *label, struct tok **out, struct err *e);
void tok_free(struct tok *t);

/* Appends the ids of `text` to out. With parse_special, added tokens written in the text
   become their ids; without, all of it is ordinary text. Invalid UTF-8 is encoded as
   its bytes (byte-level BPE covers every byte). */
int tok_encode(const struct tok *t, const char *text, size_t len, bool parse_special,
	       struct tok_ids *out, struct err *e);

/* The bytes token `id` stands for (byte-level mapping undone; added tokens: their
   content). NULL when id is out of range or unused. Not NUL-terminated. */
const char *tok_token_bytes(const struct tok *t, int32_t id, size_t *len);

/* Decodes ids to a malloc'd, NUL-terminated byte string (may be invalid UTF-8 when the
   ids split a character). skip_special drops special added tokens. */
int tok_decode(const struct tok *t, const int32_t *ids, size_t n, bool skip_special,
	       char **out, size_t *len, struct err *e);

/* Largest id + 1. */
size_t tok_vocab_size(const struct tok *t);

/* Id of the added token whose content is exactly `content`; -1 if there is none. */
int32_t tok_added_id(const struct tok *t, const char *content);

bool tok_is_special(const struct tok *t, int32_t id);

#endif
