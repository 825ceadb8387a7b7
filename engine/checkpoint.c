/*
 * checkpoint.c — a Hugging Face model directory: config.json plus safetensors shards
 * (see checkpoint.h).
 *
 * The index (model.safetensors.index.json) comes from the same untrusted download as
 * the weights, so a shard name is used only if it is a plain file name: no "/", no "..",
 * not empty. Each distinct shard is opened (mmapped) once. Every tensor the index names
 * must be in the shard it names, and no tensor may be in two shards. After ckpt_open
 * succeeds, ckpt_find answers through one hash table over all shards, so binding the
 * ~90,000 tensors of a full DeepSeek-V3 costs one probe each.
 *
 * Order of ckpt_at: shards by file name, tensors within a shard by file offset.
 */
#include "engine/checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"
#define MAX_INDEX_BYTES (256u * 1024u * 1024u)

struct ckpt_entry {
	const struct st_tensor *t;
	size_t shard;
};

struct ckpt {
	char *dir;
	struct eng_config cfg;
	struct st_file **shards; /* sorted by file name */
	char **shard_names;
	size_t nshards;
	struct ckpt_entry *ent;
	size_t n;
	uint32_t *slots; /* open addressing: index+1 into ent, 0 = empty */
	size_t nslots;
};

static const char *what_to_have =
	"a model directory must hold config.json and either " INDEX_NAME
	" with the shard files it names or a single " SINGLE_NAME
	", as published on Hugging Face";

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static long find_slot(const struct ckpt *c, const char *name)
{
	if (!c->nslots)
		return -1;
	size_t s = name_hash(name) & (c->nslots - 1);
	while (c->slots[s]) {
		if (strcmp(c->ent[c->slots[s] - 1].t->name, name) == 0)
			return (long)(c->slots[s] - 1);
		s = (s + 1) & (c->nslots - 1);
	}
	return -1;
}

const struct st_tensor *ckpt_find(const struct ckpt *c, const char *name)
{
	if (!c || !name)
		return NULL;
	long i = find_slot(c, name);
	return i < 0 ? NULL : c->ent[i].t;
}

const char *ckpt_file_of(const struct ckpt *c, const char *name)
{
	if (!c || !name)
		return NULL;
	long i = find_slot(c, name);
	return i < 0 ? NULL : st_path(c->shards[c->ent[i].shard]);
}

const struct eng_config *ckpt_config(const struct ckpt *c)
{
	return c ? &c->cfg : NULL;
}

const char *ckpt_dir(const struct ckpt *c)
{
	return c ? c->dir : NULL;
}

size_t ckpt_count(const struct ckpt *c)
{
	return c ? c->n : 0;
}

const struct st_tensor *ckpt_at(const struct ckpt *c, size_t i)
{
	return c && i < c->n ? c->ent[i].t : NULL;
}

void ckpt_close(struct ckpt *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nshards; i++) {
		st_close(c->shards[i]);
		free(c->shard_names[i]);
	}
	free(c->shards);
	free(c->shard_names);
	free(c->ent);
	free(c->slots);
	free(c->dir);
	free(c);
}

static int join(char *out, size_t cap, const char *dir, const char *name, struct err *e)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, ERR_RANGE, "%s/%s: path too long", dir, name);
	return 0;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A shard name from the index must stay inside the model directory. */
static int check_shard_name(const char *index, const char *tensor, const char *shard,
			    struct err *e)
{
	if (!*shard || strchr(shard, '/') || strstr(shard, "..") || strcmp(shard, ".") == 0)
		return err_set(e, ERR_FORMAT,
			       "%s: tensor \"%s\" is mapped to \"%s\", which is not a plain file "
			       "name in the model directory (no \"/\", no \"..\", not empty)",
			       index, tensor, shard);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long shard_index(const struct ckpt *c, const char *name)
{
	char *const *p = bsearch(&name, c->shard_names, c->nshards, sizeof *c->shard_names,
				 cmp_str);
	return p ? (long)(p - c->shard_names) : -1;
}

/* Reads the index and returns its weight_map (a new reference) after checking it. */
static int load_index(const char *path, json_t **root_out, json_t **map_out, struct err *e)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return err_set(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
	if (st.st_size > (off_t)MAX_INDEX_BYTES)
		return err_set(e, ERR_FORMAT, "%s: %lld bytes is far too large for an index", path,
			       (long long)st.st_size);
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return err_set(e, ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text,
			       je.line);
	int rc = 0;
	json_t *map = json_is_object(root) ? json_object_get(root, "weight_map") : NULL;
	if (!json_is_object(map)) {
		rc = err_set(e, ERR_FORMAT, "%s: no \"weight_map\" object", path);
		goto fail;
	}
	if (json_object_size(map) == 0) {
		rc = err_set(e, ERR_FORMAT, "%s: weight_map names no tensors", path);
		goto fail;
	}
	const char *key;
	json_t *val;
	json_object_foreach(map, key, val) {
		if (!json_is_string(val)) {
			rc = err_set(e, ERR_FORMAT, "%s: weight_map entry \"%s\" is not a file name",
				     path, key);
			goto fail;
		}
		rc = check_shard_name(path, key, json_string_value(val), e);
		if (rc)
			goto fail;
	}
	*root_out = root;
	*map_out = map;
	return 0;
fail:
	json_decref(root);
	return rc;
}

/* The distinct shard names of the weight map, sorted. */
static int collect_shards(struct ckpt *c, json_t *map, struct err *e)
{
	size_t cap = json_object_size(map);
	c->shard_names = calloc(cap, sizeof *c->shard_names);
	if (!c->shard_names)
		return err_set(e, ERR_NOMEM, "out of memory");
	const char *key;
	json_t *val;
	size_t n = 0;
	json_object_foreach(map, key, val)
		c->shard_names[n++] = (char *)json_string_value(val);
	qsort(c->shard_names, n, sizeof *c->shard_names, cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(c->shard_names[u - 1], c->shard_names[i]) != 0)
			c->shard_names[u++] = c->shard_names[i];
	/* Own the strings so they outlive the JSON. */
	for (size_t i = 0; i < u; i++) {
		c->shard_names[i] = strdup(c->shard_names[i]);
		if (!c->shard_names[i]) {
			for (size_t j = 0; j < i; j++)
				free(c->shard_names[j]);
			return err_set(e, ERR_NOMEM, "out of memory");
		}
	}
	c->nshards = u;
	return 0;
}

static int open_shards(struct ckpt *c, struct err *e)
{
	c->shards = calloc(c->nshards, sizeof *c->shards);
	if (!c->shards)
		return err_set(e, ERR_NOMEM, "out of memory");
	char path[PATH_MAX];
	for (size_t i = 0; i < c->nshards; i++) {
		int rc = join(path, sizeof path, c->dir, c->shard_names[i], e);
		if (!rc)
			rc = st_open(path, &c->shards[i], e);
		if (rc)
			return rc;
	}
	return 0;
}

/* One table over all shards; a name in two shards is an error. */
static int build_table(struct ckpt *c, struct err *e)
{
	size_t total = 0;
	for (size_t i = 0; i < c->nshards; i++)
		total += st_count(c->shards[i]);
	if (total > UINT32_MAX - 1)
		return err_set(e, ERR_RANGE, "%s: %zu tensors is more than ponder indexes", c->dir,
			       total);
	size_t cap = 16;
	while (cap < total * 2)
		cap *= 2;
	c->ent = malloc((total ? total : 1) * sizeof *c->ent);
	c->slots = calloc(cap, sizeof *c->slots);
	if (!c->ent || !c->slots)
		return err_set(e, ERR_NOMEM, "out of memory for %zu tensors", total);
	c->nslots = cap;
	for (size_t s = 0; s < c->nshards; s++) {
		for (size_t j = 0; j < st_count(c->shards[s]); j++) {
			const struct st_tensor *t = st_at(c->shards[s], j);
			size_t h = name_hash(t->name) & (cap - 1);
			while (c->slots[h]) {
				const struct ckpt_entry *o = &c->ent[c->slots[h] - 1];
				if (strcmp(o->t->name, t->name) == 0)
					return err_set(e, ERR_FORMAT,
						       "tensor \"%s\" is in two shards: %s and %s",
						       t->name, st_path(c->shards[o->shard]),
						       st_path(c->shards[s]));
				h = (h + 1) & (cap - 1);
			}
			c->ent[c->n] = (struct ckpt_entry){t, s};
			c->slots[h] = (uint32_t)(++c->n);
		}
	}
	return 0;
}

/* Every tensor the index names must be where it says. */
static int check_index(struct ckpt *c, const char *index, json_t *map, struct err *e)
{
	const char *key;
	json_t *val;
	json_object_foreach(map, key, val) {
		const char *shard = json_string_value(val);
		long s = shard_index(c, shard);
		if (s < 0 || !st_find(c->shards[s], key))
			return err_set(e, ERR_FORMAT,
				       "%s lists tensor \"%s\" in %s, but that shard has no such "
				       "tensor: the download is incomplete or the index is wrong",
				       index, key, shard);
	}
	return 0;
}

int ckpt_open(const char *dir, struct ckpt **out, struct err *e)
{
	*out = NULL;
	struct stat st;
	if (!dir || !*dir)
		return err_set(e, ERR_USAGE, "no model directory given");
	if (stat(dir, &st) != 0)
		return err_set(e, ERR_IO, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_IO, "%s: not a directory (%s)", dir, what_to_have);

	struct ckpt *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	json_t *root = NULL, *map = NULL;
	char path[PATH_MAX];
	int rc = 0;
	c->dir = strdup(dir);
	if (!c->dir) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}

	rc = join(path, sizeof path, dir, "config.json", e);
	if (rc)
		goto fail;
	if (!is_file(path)) {
		rc = err_set(e, ERR_IO, "%s: no config.json: %s", dir, what_to_have);
		goto fail;
	}
	rc = eng_config_load(path, &c->cfg, e);
	if (rc)
		goto fail;

	char index[PATH_MAX];
	rc = join(index, sizeof index, dir, INDEX_NAME, e);
	if (rc)
		goto fail;
	if (is_file(index)) {
		rc = load_index(index, &root, &map, e);
		if (!rc)
			rc = collect_shards(c, map, e);
		if (!rc)
			rc = open_shards(c, e);
		if (!rc)
			rc = build_table(c, e);
		if (!rc)
			rc = check_index(c, index, map, e);
		if (rc)
			goto fail;
	} else {
		rc = join(path, sizeof path, dir, SINGLE_NAME, e);
		if (rc)
			goto fail;
		if (!is_file(path)) {
			rc = err_set(e, ERR_IO, "%s: no weights: %s", dir, what_to_have);
			goto fail;
		}
		c->shards = calloc(1, sizeof *c->shards);
		c->shard_names = calloc(1, sizeof *c->shard_names);
		if (!c->shards || !c->shard_names) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto fail;
		}
		c->nshards = 1;
		c->shard_names[0] = strdup(SINGLE_NAME);
		if (!c->shard_names[0]) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto fail;
		}
		rc = st_open(path, &c->shards[0], e);
		if (!rc)
			rc = build_table(c, e);
		if (rc)
			goto fail;
	}
	if (c->n == 0) {
		rc = err_set(e, ERR_FORMAT, "%s: the weight files hold no tensors", dir);
		goto fail;
	}
	json_decref(root);
	*out = c;
	return 0;
fail:
	json_decref(root);
	ckpt_close(c);
	return rc;
}
