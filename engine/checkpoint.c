/*
 * checkpoint.c — a Hugging Face model directory: config.json, parsed and validated by
 * eng_config_load, plus its safetensors shards, opened and checked by ckpt_files.c
 * (index entries that are plain file names, every tensor where the index says, none in
 * two shards). See checkpoint.h.
 *
 * Order of ckpt_at: shards by file name, tensors within a shard by file offset.
 */
#include "engine/checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ckpt_files.h"

struct ckpt {
	char *dir;
	struct eng_config cfg;
	struct ckpt_files *files;
};

static const char *what_to_have =
	"a model directory must hold config.json and either " CKPT_INDEX_NAME
	" with the shard files it names or a single " CKPT_SINGLE_NAME
	", as published on Hugging Face";

const struct st_tensor *ckpt_find(const struct ckpt *c, const char *name)
{
	return c ? ckpt_files_find(c->files, name) : NULL;
}

const char *ckpt_file_of(const struct ckpt *c, const char *name)
{
	return c ? ckpt_files_file_of(c->files, name) : NULL;
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
	return c ? ckpt_files_count(c->files) : 0;
}

const struct st_tensor *ckpt_at(const struct ckpt *c, size_t i)
{
	return c ? ckpt_files_at(c->files, i) : NULL;
}

void ckpt_close(struct ckpt *c)
{
	if (!c)
		return;
	ckpt_files_close(c->files);
	free(c->dir);
	free(c);
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

	char path[PATH_MAX];
	int k = snprintf(path, sizeof path, "%s/config.json", dir);
	if (k < 0 || (size_t)k >= sizeof path)
		return err_set(e, ERR_RANGE, "%s: path too long", dir);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(e, ERR_IO, "%s: no config.json: %s", dir, what_to_have);

	struct ckpt *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	int rc = 0;
	c->dir = strdup(dir);
	if (!c->dir)
		rc = err_set(e, ERR_NOMEM, "out of memory");
	if (!rc)
		rc = eng_config_load(path, &c->cfg, e);
	if (!rc)
		rc = ckpt_files_open(dir, &c->files, e);
	if (!rc && ckpt_files_count(c->files) == 0)
		rc = err_set(e, ERR_FORMAT, "%s: the weight files hold no tensors", dir);
	if (rc) {
		ckpt_close(c);
		return rc;
	}
	*out = c;
	return 0;
}
