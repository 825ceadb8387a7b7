/*
 * history_json.h — saved conversations as JSON, one shape for `ponder history ... --json`,
 * `history export --format json` and the TUI's /export json. Texts that are not valid
 * UTF-8 (they are stored byte for byte) get U+FFFD for each invalid byte.
 */
#ifndef PONDER_APP_HISTORY_JSON_H
#define PONDER_APP_HISTORY_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "history/history.h"

/* A JSON string of n bytes (NULL s: null); NULL on allocation failure. */
json_t *app_json_str(const char *s, size_t n);
json_t *app_json_cstr(const char *s);

/* json_object_set_new that clears *ok when v is NULL or the set fails. */
void app_json_put(json_t *o, const char *k, json_t *v, int *ok);

/* A conversation's fields without its messages; clears *ok on allocation failure. */
json_t *app_conversation_json(const struct hist_conversation *c, int *ok);

/* The conversation with its messages as one object (NULL: out of memory); reasoning
   included when with_reasoning. */
json_t *app_history_json(const struct hist_conversation *c, const struct hist_message *m,
			 size_t n, int with_reasoning);

#endif
