/*
 * json_text.h — small jansson helpers shared by the readers of JSON that users or
 * servers write (config.json, chat requests, server replies) and the writers of JSON
 * that carry text someone else produced.
 */
#ifndef PONDER_JSON_TEXT_H
#define PONDER_JSON_TEXT_H

#include <jansson.h>
#include <stddef.h>

/* "an object", "an array", "a string", "an integer", "a real number", "a boolean",
   "null": for messages that say what a field is instead of what it should be. */
const char *json_type_desc(const json_t *v);
/* v as compact JSON for a message, at most 60 bytes (then "..."), never cut inside a
   UTF-8 character; written into buf, which is returned. */
const char *json_repr(const json_t *v, char *buf, size_t cap);
/* A JSON string of s[0..len); bytes that are not UTF-8 (which jansson refuses) become
   U+FFFD. NULL only when out of memory. */
json_t *json_text(const char *s, size_t len);

#endif
