/* json_text.c — see json_text.h. */
#include "common/json_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define REPR_MAX 60

const char *json_type_desc(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

const char *json_repr(const json_t *v, char *buf, size_t cap)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!s) {
		snprintf(buf, cap, "?");
		return buf;
	}
	size_t n = strlen(s), keep = n;
	if (keep > REPR_MAX) {
		keep = REPR_MAX;
		while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
			keep--;
	}
	snprintf(buf, cap, "%.*s%s", (int)keep, s, keep < n ? "..." : "");
	free(s);
	return buf;
}

json_t *json_text(const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	if (j || len > (SIZE_MAX - 1) / 3)
		return j;
	char *fix = malloc(len * 3 + 1);
	size_t k = 0;
	if (!fix)
		return NULL;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_decode((const uint8_t *)s + i, len - i, &cp);
		if (n) {
			memcpy(fix + k, s + i, n);
			k += n;
			i += n;
		} else {
			memcpy(fix + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
		}
	}
	j = json_stringn(fix, k);
	free(fix);
	return j;
}
