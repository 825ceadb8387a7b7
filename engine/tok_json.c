/*
 * tok_json.c — a small streaming JSON scanner for tokenizer.json.
 *
 * The model vocabulary and merge list are most of a tokenizer.json (4.3 MB for
 * DeepSeek V3, 128k entries each). Building a jansson tree for them and then copying
 * the strings out costs more than the whole load budget, so tok_load.c walks the
 * document with this scanner, reads vocab and merges straight into its own tables, and
 * hands only the small sections (normalizer, pre_tokenizer, added_tokens, decoder) to
 * jansson as text spans.
 *
 * Invariants: the scanner never reads past `end`; nesting is tracked in a fixed array
 * (no recursion on input); strings it returns are valid UTF-8 (escapes decoded,
 * surrogate pairs joined, lone surrogates and control characters rejected). Errors give
 * the line and column.
 */
#include <stdio.h>
#include <string.h>

#include "engine/tok_internal.h"

#define TJ_MAX_DEPTH 256

int tj_fail(struct tj *j, const char *what)
{
	size_t line = 1, col = 1;
	for (const char *q = j->base; q < j->p && q < j->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*q & 0xC0) != 0x80) {
			col++;
		}
	}
	if (j->p >= j->end)
		return err_set(j->e, ERR_FORMAT, "%s: malformed JSON: unexpected end of file (%s)",
			       j->label, what);
	return err_set(j->e, ERR_FORMAT, "%s: malformed JSON at line %zu, column %zu: %s",
		       j->label, line, col, what);
}

void tj_ws(struct tj *j)
{
	while (j->p < j->end &&
	       (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int hex4(struct tj *j, const char *q, uint32_t *v)
{
	if (j->end - q < 4)
		return tj_fail(j, "truncated \\u escape");
	uint32_t x = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(q[i]);
		if (h < 0)
			return tj_fail(j, "bad \\u escape");
		x = x << 4 | (uint32_t)h;
	}
	*v = x;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

int tj_string(struct tj *j, const char **s, size_t *n)
{
	if (j->p >= j->end || *j->p != '"')
		return tj_fail(j, "expected a string");
	const char *start = ++j->p, *q = start;
	bool esc = false;
	while (q < j->end && *q != '"') {
		unsigned char c = (unsigned char)*q;
		if (c < 0x20) {
			j->p = q;
			return tj_fail(j, "control character inside a string");
		}
		if (c == '\\') {
			esc = true;
			if (++q >= j->end)
				break;
		}
		q++;
	}
	if (q >= j->end) {
		j->p = q;
		return tj_fail(j, "unterminated string");
	}
	size_t raw = (size_t)(q - start);
	if (!esc) {
		if (utf8_valid_prefix((const uint8_t *)start, raw) != raw) {
			j->p = start + utf8_valid_prefix((const uint8_t *)start, raw);
			return tj_fail(j, "invalid UTF-8 inside a string");
		}
		*s = start;
		*n = raw;
		j->p = q + 1;
		return 0;
	}
	/* Escapes only shrink the text, so raw bytes are enough room. */
	int rc = tok_grow((void **)&j->tmp, &j->tmp_cap, raw + 1, 1, j->e);
	if (rc)
		return rc;
	char *o = j->tmp;
	const char *r = start;
	while (r < q) {
		if (*r != '\\') {
			const char *stop = memchr(r, '\\', (size_t)(q - r));
			size_t len = stop ? (size_t)(stop - r) : (size_t)(q - r);
			if (utf8_valid_prefix((const uint8_t *)r, len) != len) {
				j->p = r + utf8_valid_prefix((const uint8_t *)r, len);
				return tj_fail(j, "invalid UTF-8 inside a string");
			}
			memcpy(o, r, len);
			o += len;
			r += len;
			continue;
		}
		j->p = r;
		char c = r[1];
		r += 2;
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if ((rc = hex4(j, r, &cp)))
				return rc;
			r += 4;
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return tj_fail(j, "lone low surrogate in \\u escape");
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (q - r < 6 || r[0] != '\\' || r[1] != 'u')
					return tj_fail(j, "lone high surrogate in \\u escape");
				if ((rc = hex4(j, r + 2, &lo)))
					return rc;
				if (lo < 0xDC00 || lo > 0xDFFF)
					return tj_fail(j, "bad surrogate pair in \\u escape");
				r += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			}
			o += put_utf8(o, cp);
			break;
		}
		default:
			return tj_fail(j, "unknown escape in a string");
		}
	}
	*s = j->tmp;
	*n = (size_t)(o - j->tmp);
	j->p = q + 1;
	return 0;
}

int tj_int(struct tj *j, int64_t *v)
{
	const char *q = j->p;
	bool neg = false;
	if (q < j->end && *q == '-') {
		neg = true;
		q++;
	}
	if (q >= j->end || *q < '0' || *q > '9')
		return tj_fail(j, "expected an integer");
	int64_t x = 0;
	while (q < j->end && *q >= '0' && *q <= '9') {
		if (x > (INT64_MAX - 9) / 10) {
			j->p = q;
			return tj_fail(j, "integer too large");
		}
		x = x * 10 + (*q - '0');
		q++;
	}
	if (q < j->end && (*q == '.' || *q == 'e' || *q == 'E')) {
		j->p = q;
		return tj_fail(j, "expected an integer, found a fraction or exponent");
	}
	j->p = q;
	*v = neg ? -x : x;
	return 0;
}

int tj_literal(struct tj *j, int *v)
{
	size_t left = (size_t)(j->end - j->p);
	if (left >= 4 && !memcmp(j->p, "null", 4)) {
		j->p += 4;
		*v = -1;
	} else if (left >= 4 && !memcmp(j->p, "true", 4)) {
		j->p += 4;
		*v = 1;
	} else if (left >= 5 && !memcmp(j->p, "false", 5)) {
		j->p += 5;
		*v = 0;
	} else {
		return tj_fail(j, "expected null, true or false");
	}
	return 0;
}

/* Skips a string without decoding it (its text is never used). */
static int skip_string(struct tj *j)
{
	const char *q = j->p + 1;
	for (;;) {
		while (q < j->end && *q != '"' && *q != '\\') {
			if ((unsigned char)*q < 0x20) {
				j->p = q;
				return tj_fail(j, "control character inside a string");
			}
			q++;
		}
		if (q >= j->end) {
			j->p = q;
			return tj_fail(j, "unterminated string");
		}
		if (*q == '"')
			break;
		q += 2; /* backslash and the escaped character */
	}
	j->p = q + 1;
	return 0;
}

static int skip_number(struct tj *j)
{
	const char *q = j->p;
	while (q < j->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
			      *q == 'e' || *q == 'E'))
		q++;
	if (q == j->p)
		return tj_fail(j, "expected a value");
	j->p = q;
	return 0;
}

/* Reads `"key" :` inside an object being skipped. */
static int skip_key(struct tj *j)
{
	tj_ws(j);
	if (j->p >= j->end || *j->p != '"')
		return tj_fail(j, "expected an object key");
	int rc = skip_string(j);
	if (rc)
		return rc;
	tj_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return tj_fail(j, "expected ':' after an object key");
	j->p++;
	return 0;
}

int tj_skip(struct tj *j)
{
	char closer[TJ_MAX_DEPTH];
	size_t d = 0;
	int rc, lit;
	for (;;) {
		/* a value */
		tj_ws(j);
		if (j->p >= j->end)
			return tj_fail(j, "expected a value");
		char c = *j->p;
		if (c == '{' || c == '[') {
			if (d == TJ_MAX_DEPTH)
				return tj_fail(j, "nested too deeply");
			closer[d++] = c == '{' ? '}' : ']';
			j->p++;
			tj_ws(j);
			if (j->p < j->end && *j->p == closer[d - 1]) {
				j->p++;
				d--;
			} else {
				if (c == '{' && (rc = skip_key(j)))
					return rc;
				continue;
			}
		} else if (c == '"') {
			if ((rc = skip_string(j)))
				return rc;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			if ((rc = skip_number(j)))
				return rc;
		} else if ((rc = tj_literal(j, &lit))) {
			return rc;
		}
		/* after a value: close as many containers as end here */
		for (;;) {
			if (d == 0)
				return 0;
			tj_ws(j);
			if (j->p >= j->end)
				return tj_fail(j, "unterminated object or array");
			if (*j->p == ',') {
				j->p++;
				if (closer[d - 1] == '}' && (rc = skip_key(j)))
					return rc;
				break;
			}
			if (*j->p != closer[d - 1])
				return tj_fail(j, closer[d - 1] == '}' ? "expected ',' or '}'"
								       : "expected ',' or ']'");
			j->p++;
			d--;
		}
	}
}

int tj_open(struct tj *j, char c)
{
	tj_ws(j);
	if (j->p >= j->end || *j->p != c)
		return tj_fail(j, c == '{' ? "expected an object" : "expected an array");
	j->p++;
	return 0;
}

static int next_common(struct tj *j, bool *first, bool *done, char closer)
{
	tj_ws(j);
	if (j->p < j->end && *j->p == closer) {
		j->p++;
		*done = true;
		return 0;
	}
	if (!*first) {
		if (j->p >= j->end || *j->p != ',')
			return tj_fail(j, closer == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
		j->p++;
		tj_ws(j);
	}
	*first = false;
	*done = false;
	return 0;
}

int tj_obj_next(struct tj *j, bool *first, const char **key, size_t *kn, bool *done)
{
	int rc = next_common(j, first, done, '}');
	if (rc || *done)
		return rc;
	if ((rc = tj_string(j, key, kn)))
		return rc;
	tj_ws(j);
	if (j->p >= j->end || *j->p != ':')
		return tj_fail(j, "expected ':' after an object key");
	j->p++;
	tj_ws(j);
	return 0;
}

int tj_arr_next(struct tj *j, bool *first, bool *done)
{
	return next_common(j, first, done, ']');
}
