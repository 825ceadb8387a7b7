/*
 * checkpoint.h — a model directory as published on Hugging Face.
 *
 * config.json, then either model.safetensors.index.json (weight_map: tensor -> shard
 * file) or a single model.safetensors. Every shard is mmapped, never copied. Index
 * entries must name plain files inside the directory (no "../", no absolute paths); a
 * tensor the index names must be in the shard it names; a name in two shards is an
 * error. tokenizer.json / tokenizer_config.json are not read here.
 */
#ifndef PONDER_ENG_CHECKPOINT_H
#define PONDER_ENG_CHECKPOINT_H

#include <stddef.h>

#include "engine/config.h"
#include "engine/safetensors.h"

struct ckpt;

int ckpt_open(const char *dir, struct ckpt **out, struct err *e);
void ckpt_close(struct ckpt *c);

const struct eng_config *ckpt_config(const struct ckpt *c);
const char *ckpt_dir(const struct ckpt *c);

/* The tensor called `name`, or NULL. */
const struct st_tensor *ckpt_find(const struct ckpt *c, const char *name);

/* Which shard file holds the tensor (for error messages); NULL if absent. */
const char *ckpt_file_of(const struct ckpt *c, const char *name);

/* All tensors, in a stable order. */
size_t ckpt_count(const struct ckpt *c);
const struct st_tensor *ckpt_at(const struct ckpt *c, size_t i);

#endif
