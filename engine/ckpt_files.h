/*
 * ckpt_files.h — the weight files of a Hugging Face model directory, without its
 * config.json: model.safetensors.index.json and the shards it names, or one
 * model.safetensors.
 *
 * checkpoint.h adds config.json to these for the engine; tools that handle any
 * architecture's tensors as they are (ponder convert) use this alone. The rules: an index entry must be a plain file name in the
 * directory (no "/", no "..", not empty), every tensor the index names must be in the
 * shard it names, no tensor may be in two shards; each shard is st_open'ed (mmapped
 * and validated) once. Order of ckpt_files_at: shards by file name, tensors within a
 * shard by file offset — the order of the bytes on disk.
 */
#ifndef PONDER_ENG_CKPT_FILES_H
#define PONDER_ENG_CKPT_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/safetensors.h"

#define CKPT_INDEX_NAME "model.safetensors.index.json"
#define CKPT_SINGLE_NAME "model.safetensors"

struct ckpt_files;

int ckpt_files_open(const char *dir, struct ckpt_files **out, struct err *e);
void ckpt_files_close(struct ckpt_files *f);

size_t ckpt_files_count(const struct ckpt_files *f);
const struct st_tensor *ckpt_files_at(const struct ckpt_files *f, size_t i);

/* The tensor called `name`, or NULL. */
const struct st_tensor *ckpt_files_find(const struct ckpt_files *f, const char *name);

/* The shard file holding the tensor called `name` (for messages); NULL if absent. */
const char *ckpt_files_file_of(const struct ckpt_files *f, const char *name);

/* The shard file holding tensor i (for messages). */
const char *ckpt_files_file_at(const struct ckpt_files *f, size_t i);

/* Number of shard files. */
size_t ckpt_files_shards(const struct ckpt_files *f);

#endif
