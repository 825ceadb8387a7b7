/*
 * cmd_logits.c — `ponder logits -m DIR --ids 0,17,5 [--chunk K] [--mtp]`: raw logits as
 * JSON, for conformance checks against any reference implementation.
 *
 * Without --chunk: one prefill of all ids, logits of every position.
 * With --chunk K: prefill of the first K ids, then one id per call; the last-position
 * logits after each call (1 + n - K rows).
 * With --mtp: also "mtp_logits", the MTP module's rows over the whole sequence.
 * --kv-type f32|bf16|fp8 (default f32, the exact cache): how the KV cache is stored, to
 * measure what a narrower cache changes; --head bf16|fp8 (default as stored) the same for
 * the output head.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "engine/engine.h"

static int parse_ids(const char *s, int32_t **out, size_t *n, struct err *e)
{
	size_t cap = 16, len = 0;
	int32_t *v = malloc(cap * sizeof *v);
	if (!v)
		return err_set(e, ERR_NOMEM, "out of memory");
	while (*s) {
		char *end;
		errno = 0;
		long x = strtol(s, &end, 10);
		if (end == s || errno || x < 0 || x > INT32_MAX) {
			free(v);
			return err_set(e, ERR_USAGE, "--ids: '%s' is not a comma-separated list of "
				       "token ids", s);
		}
		if (len == cap) {
			int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
			if (!nv) {
				free(v);
				return err_set(e, ERR_NOMEM, "out of memory");
			}
			v = nv;
		}
		v[len++] = (int32_t)x;
		s = end;
		if (*s == ',')
			s++;
	}
	if (!len) {
		free(v);
		return err_set(e, ERR_USAGE, "--ids needs at least one token id");
	}
	*out = v;
	*n = len;
	return 0;
}

static void print_rows(FILE *f, const char *key, const float *rows, size_t n, size_t vocab)
{
	fprintf(f, "\"%s\": [", key);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",\n [" : "\n [", f);
		for (size_t j = 0; j < vocab; j++)
			fprintf(f, j ? ",%.9g" : "%.9g", rows[i * vocab + j]);
		fputc(']', f);
	}
	fputs("]", f);
}

int app_cmd_logits(int argc, char **argv, struct err *e)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'}, {"ids", required_argument, NULL, 'i'},
		{"chunk", required_argument, NULL, 'k'}, {"mtp", no_argument, NULL, 'M'},
		{"threads", required_argument, NULL, 't'}, {"kernels", required_argument, NULL, 'K'},
		{"kv-type", required_argument, NULL, 'V'}, {"head", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = getenv("PONDER_MODEL"), *ids_arg = NULL, *kernels = NULL;
	long chunk = -1;
	int threads = 0, c;
	bool mtp = false;
	enum eng_kv_type kvt = ENG_KV_F32;
	enum eng_head_type head = ENG_HEAD_STORED;
	optind = 1;
	while ((c = getopt_long(argc, argv, "m:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': dir = optarg; break;
		case 'i': ids_arg = optarg; break;
		case 'k': chunk = strtol(optarg, NULL, 10); break;
		case 'M': mtp = true; break;
		case 't': threads = atoi(optarg); break;
		case 'K': kernels = optarg; break;
		case 'V':
			if (eng_kv_type_parse(optarg, &kvt, e))
				return e->code;
			break;
		case 'H':
			if (eng_head_type_parse(optarg, &head, e))
				return e->code;
			break;
		default:
			return err_set(e, ERR_USAGE, "usage: ponder logits -m DIR --ids 0,17,5 "
				       "[--chunk K] [--mtp] [-t N] [--kernels NAME] "
				       "[--kv-type f32|bf16|fp8] [--head bf16|fp8]");
		}
	}
	if (!dir || !ids_arg)
		return err_set(e, ERR_USAGE, "usage: ponder logits -m DIR --ids 0,17,5 [--chunk K] "
			       "[--mtp]: both a model directory and ids are needed");

	int32_t *ids = NULL;
	size_t n = 0;
	int rc = parse_ids(ids_arg, &ids, &n, e);
	if (rc)
		return rc;
	if (chunk == 0 || chunk > (long)n) {
		free(ids);
		return err_set(e, ERR_USAGE, "--chunk must be between 1 and the number of ids (%zu)", n);
	}

	struct eng_opts o = {.threads = threads, .kernels = kernels, .load_mtp = mtp,
			     .kv_type = kvt, .head = head};
	struct eng_model *m = NULL;
	struct eng_state *st = NULL;
	float *logits = NULL, *mtp_logits = NULL;
	if ((rc = eng_model_open(dir, &o, &m, e))) {
		/* Exit 3 whatever stopped the load, as in every mode that loads a model. */
		if (rc != ERR_USAGE)
			rc = e->code = ERR_MODEL;
		goto out;
	}
	if (mtp && !eng_model_has_mtp(m)) {
		rc = err_set(e, ERR_UNSUPPORTED, "%s has no MTP module (num_nextn_predict_layers "
			     "is 0 or its weights are absent); drop --mtp", dir);
		goto out;
	}
	size_t V = (size_t)eng_model_config(m)->vocab_size;
	if ((rc = eng_state_new(m, (int64_t)n, mtp, &st, e)))
		goto out;
	size_t rows = chunk < 0 ? n : n - (size_t)chunk + 1;
	logits = malloc(rows * V * sizeof *logits);
	mtp_logits = mtp ? malloc(n * V * sizeof *mtp_logits) : NULL;
	if (!logits || (mtp && !mtp_logits)) {
		rc = err_set(e, ERR_NOMEM, "out of memory for %zu x %zu logits", rows, V);
		goto out;
	}
	/* MTP rows land at their absolute index: the sequence starts empty. */
	if (chunk < 0) {
		rc = eng_forward_mtp(st, ids, n, logits, true, mtp_logits, e);
	} else {
		rc = eng_forward_mtp(st, ids, (size_t)chunk, logits, false, mtp_logits, e);
		for (size_t i = (size_t)chunk; !rc && i < n; i++)
			rc = eng_forward_mtp(st, ids + i, 1, logits + (i - (size_t)chunk + 1) * V,
					     false, mtp ? mtp_logits + eng_state_mtp_pos(st) * V : NULL,
					     e);
	}
	if (rc)
		goto out;
	fputc('{', stdout);
	print_rows(stdout, "logits", logits, rows, V);
	if (mtp) {
		fputs(",\n", stdout);
		print_rows(stdout, "mtp_logits", mtp_logits, eng_state_mtp_pos(st), V);
	}
	fputs("}\n", stdout);
	if (fflush(stdout) != 0)
		rc = err_set(e, ERR_IO, "writing logits to stdout: %s", strerror(errno));
out:
	free(logits);
	free(mtp_logits);
	free(ids);
	eng_state_free(st);
	eng_model_close(m);
	return rc;
}
