/*
 * ckpt_files.c — a model directory's safetensors shards, config.json not read (see
 * ckpt_files.h).
 *
 * The index comes from the same untrusted download as the weights, so its shard names
 * are checked before any is opened, and it is size-capped before it is parsed. Lookups
 * by name go through one array of entry numbers sorted by name (built once; duplicates
 * across shards show up as neighbours there).
 */
#include "engine/ckpt_files.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INDEX_BYTES (256u * 1024u * 1024u)

struct ckpt_files {
	struct st_file **shards; /* sorted by file name */
	char **shard_names;
	size_t nshards;
	const struct st_tensor **t; /* every tensor, shard by shard, in file order */
	size_t *shard_of;           /* [n]: which shard holds t[i] */
	size_t *by_name;            /* [n]: indexes into t, sorted by name */
	size_t n;
};

static const char *what_to_have =
	"a model directory holds " CKPT_INDEX_NAME " with the shard files it names, or a "
	"single " CKPT_SINGLE_NAME ", as published on Hugging Face";

void ckpt_files_close(struct ckpt_files *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nshards; i++) {
		st_close(f->shards[i]);
		free(f->shard_names[i]);
	}
	free(f->shards);
	free(f->shard_names);
	free(f->t);
	free(f->shard_of);
	free(f->by_name);
	free(f);
}

size_t ckpt_files_count(const struct ckpt_files *f)
{
	return f ? f->n : 0;
}

const struct st_tensor *ckpt_files_at(const struct ckpt_files *f, size_t i)
{
	return f && i < f->n ? f->t[i] : NULL;
}

const char *ckpt_files_file_at(const struct ckpt_files *f, size_t i)
{
	return f && i < f->n ? st_path(f->shards[f->shard_of[i]]) : NULL;
}

size_t ckpt_files_shards(const struct ckpt_files *f)
{
	return f ? f->nshards : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry(const void *a, const void *b, void *ctx)
{
	const struct ckpt_files *f = ctx;
	return strcmp(f->t[*(const size_t *)a]->name, f->t[*(const size_t *)b]->name);
}

/* The entry number of the tensor called `name`, or -1. */
static long find_entry(const struct ckpt_files *f, const char *name)
{
	if (!f || !name)
		return -1;
	size_t lo = 0, hi = f->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->t[f->by_name[mid]]->name, name);
		if (c == 0)
			return (long)f->by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const struct st_tensor *ckpt_files_find(const struct ckpt_files *f, const char *name)
{
	long i = find_entry(f, name);
	return i < 0 ? NULL : f->t[i];
}

const char *ckpt_files_file_of(const struct ckpt_files *f, const char *name)
{
	long i = find_entry(f, name);
	return i < 0 ? NULL : st_path(f->shards[f->shard_of[i]]);
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The index's weight_map (borrowed from *root, a new reference) after checking it. */
static int load_index(const char *path, json_t **root, json_t **map, struct err *e)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return err_set(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	if (st.st_size > (off_t)MAX_INDEX_BYTES)
		return err_set(e, ERR_FORMAT, "%s: %lld bytes is far too large for an index", path,
			       (long long)st.st_size);
	json_error_t je;
	*root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!*root)
		return err_set(e, ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text,
			       je.line);
	*map = json_is_object(*root) ? json_object_get(*root, "weight_map") : NULL;
	if (!json_is_object(*map) || json_object_size(*map) == 0)
		return err_set(e, ERR_FORMAT, "%s: no \"weight_map\" object naming tensors", path);
	const char *key;
	json_t *val;
	json_object_foreach(*map, key, val) {
		const char *s = json_string_value(val);
		if (!s || !*s || strchr(s, '/') || strstr(s, "..") || !strcmp(s, "."))
			return err_set(e, ERR_FORMAT,
				       "%s: tensor \"%s\" is mapped to %s%s%s, which is not a plain "
				       "file name in the model directory (no \"/\", no \"..\", not "
				       "empty)", path, key, s ? "\"" : "", s ? s : "a non-string",
				       s ? "\"" : "");
	}
	return 0;
}

/* The distinct shard names of the weight map, sorted and owned. */
static int collect_shards(struct ckpt_files *f, json_t *map, struct err *e)
{
	size_t cap = json_object_size(map);
	const char **names = calloc(cap, sizeof *names);
	if (!names)
		return err_set(e, ERR_NOMEM, "out of memory");
	const char *key;
	json_t *val;
	size_t n = 0, u = 0;
	json_object_foreach(map, key, val)
		names[n++] = json_string_value(val);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(names[u - 1], names[i]) != 0)
			names[u++] = names[i];
	f->shard_names = calloc(u, sizeof *f->shard_names);
	f->shards = calloc(u, sizeof *f->shards);
	int rc = f->shard_names && f->shards ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; !rc && i < u; i++) {
		if (!(f->shard_names[i] = strdup(names[i])))
			rc = err_set(e, ERR_NOMEM, "out of memory");
		else
			f->nshards = i + 1;
	}
	free(names);
	return rc;
}

static int open_shards(struct ckpt_files *f, const char *dir, struct err *e)
{
	char path[PATH_MAX];
	for (size_t i = 0; i < f->nshards; i++) {
		int k = snprintf(path, sizeof path, "%s/%s", dir, f->shard_names[i]);
		if (k < 0 || (size_t)k >= sizeof path)
			return err_set(e, ERR_RANGE, "%s/%s: path too long", dir, f->shard_names[i]);
		int rc = st_open(path, &f->shards[i], e);
		if (rc)
			return rc;
	}
	return 0;
}

/* Every tensor of every shard in file order, and the by-name table; a name in two
   shards is an error. */
static int build_table(struct ckpt_files *f, struct err *e)
{
	size_t total = 0;
	for (size_t s = 0; s < f->nshards; s++)
		total += st_count(f->shards[s]); /* each <= file size / 1: no overflow */
	if (total == 0)
		return err_set(e, ERR_FORMAT, "the weight files hold no tensors");
	f->t = malloc(total * sizeof *f->t);
	f->shard_of = malloc(total * sizeof *f->shard_of);
	f->by_name = malloc(total * sizeof *f->by_name);
	if (!f->t || !f->shard_of || !f->by_name)
		return err_set(e, ERR_NOMEM, "out of memory for %zu tensors", total);
	for (size_t s = 0; s < f->nshards; s++)
		for (size_t j = 0; j < st_count(f->shards[s]); j++) {
			f->t[f->n] = st_at(f->shards[s], j);
			f->shard_of[f->n] = s;
			f->by_name[f->n] = f->n;
			f->n++;
		}
	qsort_r(f->by_name, f->n, sizeof *f->by_name, cmp_entry, f);
	for (size_t i = 1; i < f->n; i++) {
		size_t a = f->by_name[i - 1], b = f->by_name[i];
		if (!strcmp(f->t[a]->name, f->t[b]->name))
			return err_set(e, ERR_FORMAT, "tensor \"%s\" is in two shards: %s and %s",
				       f->t[a]->name, st_path(f->shards[f->shard_of[a]]),
				       st_path(f->shards[f->shard_of[b]]));
	}
	return 0;
}

/* Every tensor the index names must be in the shard it names. */
static int check_index(const struct ckpt_files *f, const char *index, json_t *map,
		       struct err *e)
{
	const char *key;
	json_t *val;
	json_object_foreach(map, key, val) {
		const char *shard = json_string_value(val);
		const char *const *p = bsearch(&shard, f->shard_names, f->nshards,
					       sizeof *f->shard_names, cmp_str);
		if (!p || !st_find(f->shards[p - (const char *const *)f->shard_names], key))
			return err_set(e, ERR_FORMAT,
				       "%s lists tensor \"%s\" in %s, but that shard has no such "
				       "tensor: the download is incomplete or the index is wrong",
				       index, key, shard);
	}
	return 0;
}

int ckpt_files_open(const char *dir, struct ckpt_files **out, struct err *e)
{
	*out = NULL;
	struct stat st;
	if (!dir || !*dir)
		return err_set(e, ERR_USAGE, "no model directory given");
	if (stat(dir, &st) != 0)
		return err_set(e, ERR_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_IO, "%s: not a directory (%s)", dir, what_to_have);
	char index[PATH_MAX], single[PATH_MAX];
	int k1 = snprintf(index, sizeof index, "%s/%s", dir, CKPT_INDEX_NAME);
	int k2 = snprintf(single, sizeof single, "%s/%s", dir, CKPT_SINGLE_NAME);
	if (k1 < 0 || (size_t)k1 >= sizeof index || k2 < 0 || (size_t)k2 >= sizeof single)
		return err_set(e, ERR_RANGE, "%s: path too long", dir);

	struct ckpt_files *f = calloc(1, sizeof *f);
	if (!f)
		return err_set(e, ERR_NOMEM, "out of memory");
	json_t *root = NULL, *map = NULL;
	int rc;
	if (is_file(index)) {
		rc = load_index(index, &root, &map, e);
		if (!rc)
			rc = collect_shards(f, map, e);
		if (!rc)
			rc = open_shards(f, dir, e);
		if (!rc)
			rc = build_table(f, e);
		if (!rc)
			rc = check_index(f, index, map, e);
	} else if (is_file(single)) {
		f->shards = calloc(1, sizeof *f->shards);
		f->shard_names = calloc(1, sizeof *f->shard_names);
		rc = f->shards && f->shard_names && (f->shard_names[0] = strdup(CKPT_SINGLE_NAME))
			     ? 0 : err_set(e, ERR_NOMEM, "out of memory");
		if (!rc) {
			f->nshards = 1;
			rc = st_open(single, &f->shards[0], e);
		}
		if (!rc)
			rc = build_table(f, e);
	} else {
		rc = err_set(e, ERR_IO, "%s: no weights: %s", dir, what_to_have);
	}
	json_decref(root);
	if (rc) {
		if (rc == ERR_FORMAT && !strstr(e->msg, dir))
			err_prefix(e, "%s", dir);
		ckpt_files_close(f);
		return rc;
	}
	*out = f;
	return 0;
}
