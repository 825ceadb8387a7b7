/*
 * cmd_tokenize.c — `ponder tokenize` and `ponder detokenize`: the tokenizer as a filter,
 * for checking it against the Hugging Face library and for scripts.
 *
 *   ponder tokenize   [-m DIR | --tokenizer FILE] [--special]  < text  > {"ids": [...]}
 *   ponder detokenize [-m DIR | --tokenizer FILE] [--skip-special] < ids > text
 *
 * tokenize reads all of stdin as raw bytes (NULs and invalid UTF-8 included) and prints
 * one line of JSON. Without --special, text that looks like an added token stays plain
 * text, as ponder encodes user messages; with it, added tokens are parsed, as for the
 * chat template's scaffolding.
 * detokenize reads {"ids": [...]}, a bare JSON array, or ids separated by whitespace or
 * commas, and writes the decoded bytes unchanged (no newline added).
 * -m DIR means DIR/tokenizer.json; with neither option, $PONDER_MODEL is the directory.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "app/read_all.h"
#include "engine/tokenizer.h"

#define MAX_INPUT ((size_t)1 << 30)

struct tok_cli {
	const char *dir, *file;
	bool special;      /* tokenize --special */
	bool skip_special; /* detokenize --skip-special */
};

static void usage(FILE *f, bool detok)
{
	if (detok)
		fputs("usage: ponder detokenize [-m DIR | --tokenizer FILE] [--skip-special]\n"
		      "  Reads token ids from stdin ({\"ids\": [...]}, a JSON array, or ids separated\n"
		      "  by spaces or commas) and writes the text they decode to on stdout.\n"
		      "  -m DIR uses DIR/tokenizer.json (default DIR: $PONDER_MODEL).\n"
		      "  --skip-special drops special tokens such as <｜begin▁of▁sentence｜>.\n",
		      f);
	else
		fputs("usage: ponder tokenize [-m DIR | --tokenizer FILE] [--special]\n"
		      "  Reads all of stdin and prints {\"ids\": [...]} on one line.\n"
		      "  -m DIR uses DIR/tokenizer.json (default DIR: $PONDER_MODEL).\n"
		      "  --special parses added tokens written in the text (chat-template\n"
		      "  scaffolding); without it all text is plain text, as for user messages.\n",
		      f);
}

/* 1: help printed; 0: parsed; < 0: error. */
static int parse_args(int argc, char **argv, bool detok, struct tok_cli *c, struct err *e)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"tokenizer", required_argument, NULL, 't'},
		{"special", no_argument, NULL, 's'},
		{"skip-special", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(c, 0, sizeof *c);
	optind = 0; /* GNU: full re-initialisation */
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "+:m:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': c->dir = optarg; break;
		case 't': c->file = optarg; break;
		case 's':
			if (detok)
				goto unknown;
			c->special = true;
			break;
		case 'k':
			if (!detok)
				goto unknown;
			c->skip_special = true;
			break;
		case 'h': usage(stdout, detok); return 1;
		case ':':
			usage(stderr, detok);
			return err_set(e, ERR_USAGE, "option %s needs a value",
				       argv[optind - 1] ? argv[optind - 1] : "?");
		default:
		unknown:
			usage(stderr, detok);
			return err_set(e, ERR_USAGE, "unknown option %s",
				       argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc) {
		usage(stderr, detok);
		return err_set(e, ERR_USAGE, "unexpected argument \"%s\"", argv[optind]);
	}
	if (c->dir && c->file) {
		usage(stderr, detok);
		return err_set(e, ERR_USAGE, "give -m DIR or --tokenizer FILE, not both");
	}
	if (!c->dir && !c->file) {
		const char *env = getenv("PONDER_MODEL");
		if (env && *env)
			c->dir = env;
	}
	if (!c->dir && !c->file) {
		usage(stderr, detok);
		return err_set(e, ERR_USAGE, "no tokenizer given: use -m DIR, --tokenizer FILE, or "
					     "set PONDER_MODEL");
	}
	return 0;
}

/* A tokenizer that does not load is a model error to the user (exit 3), as in every
   mode that loads a model. */
static int open_tok(const struct tok_cli *c, struct tok **t, struct err *e)
{
	int rc;
	if (c->file) {
		rc = tok_load(c->file, t, e);
	} else {
		size_t n = strlen(c->dir);
		char *path = malloc(n + sizeof "/tokenizer.json");
		if (!path)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(path, c->dir, n);
		strcpy(path + n, n && c->dir[n - 1] == '/' ? "tokenizer.json" : "/tokenizer.json");
		rc = tok_load(path, t, e);
		free(path);
	}
	if (rc && rc != ERR_USAGE)
		rc = e->code = ERR_MODEL;
	return rc;
}

int app_cmd_tokenize(int argc, char **argv, struct err *e)
{
	struct tok_cli c;
	int rc = parse_args(argc, argv, false, &c, e);
	if (rc)
		return rc > 0 ? 0 : rc;
	struct tok *t = NULL;
	char *text = NULL;
	size_t len = 0;
	struct tok_ids ids = {0};
	if ((rc = open_tok(&c, &t, e)) || (rc = app_read_all(stdin, "stdin", MAX_INPUT, &text, &len, e)) ||
	    (rc = tok_encode(t, text, len, c.special, &ids, e)))
		goto out;
	fputs("{\"ids\": [", stdout);
	for (size_t i = 0; i < ids.n; i++)
		printf(i ? ", %d" : "%d", (int)ids.v[i]);
	fputs("]}\n", stdout);
	if (fflush(stdout) || ferror(stdout))
		rc = err_set(e, ERR_IO, "cannot write to standard output");
out:
	tok_ids_free(&ids);
	free(text);
	tok_free(t);
	return rc;
}

/* {"ids": [...]} or [...] through jansson; anything else as a list of numbers.
   Unreadable input is a usage error (exit 2), not a model error. */
static int parse_id_text(const char *s, size_t n, struct tok_ids *ids, struct err *e)
{
	size_t i = 0;
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	if (i < n && (s[i] == '{' || s[i] == '[')) {
		json_error_t je;
		json_t *root = json_loadb(s, n, 0, &je);
		if (!root)
			return err_set(e, ERR_USAGE, "stdin: malformed JSON at line %d: %s", je.line,
				       je.text);
		json_t *arr = json_is_object(root) ? json_object_get(root, "ids") : root;
		if (!json_is_array(arr)) {
			json_decref(root);
			return err_set(e, ERR_USAGE, "stdin: expected {\"ids\": [...]} or an array of ids");
		}
		int rc = 0;
		for (size_t k = 0; !rc && k < json_array_size(arr); k++) {
			json_t *v = json_array_get(arr, k);
			json_int_t x = json_integer_value(v);
			if (!json_is_integer(v) || x < 0 || x > INT32_MAX)
				rc = err_set(e, ERR_USAGE, "stdin: ids[%zu] is not a token id", k);
			else
				rc = tok_ids_push(ids, (int32_t)x, e);
		}
		json_decref(root);
		return rc;
	}
	while (i < n) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',') {
			i++;
			continue;
		}
		if (c < '0' || c > '9')
			return err_set(e, ERR_USAGE,
				       "stdin: unexpected '%c' at byte %zu; expected token ids separated "
				       "by spaces or commas, or {\"ids\": [...]}",
				       c >= 0x20 && c < 0x7F ? c : '?', i);
		int64_t x = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			x = x * 10 + (s[i++] - '0');
			if (x > INT32_MAX)
				return err_set(e, ERR_USAGE, "stdin: token id at byte %zu is too large", i);
		}
		int rc = tok_ids_push(ids, (int32_t)x, e);
		if (rc)
			return rc;
	}
	return 0;
}

int app_cmd_detokenize(int argc, char **argv, struct err *e)
{
	struct tok_cli c;
	int rc = parse_args(argc, argv, true, &c, e);
	if (rc)
		return rc > 0 ? 0 : rc;
	struct tok *t = NULL;
	char *text = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	struct tok_ids ids = {0};
	if ((rc = open_tok(&c, &t, e)) || (rc = app_read_all(stdin, "stdin", MAX_INPUT, &text, &len, e)) ||
	    (rc = parse_id_text(text, len, &ids, e)) ||
	    (rc = tok_decode(t, ids.v, ids.n, c.skip_special, &out, &olen, e)))
		goto done;
	if (fwrite(out, 1, olen, stdout) != olen || fflush(stdout))
		rc = err_set(e, ERR_IO, "cannot write to standard output");
done:
	free(out);
	tok_ids_free(&ids);
	free(text);
	tok_free(t);
	return rc;
}
