/*
 * out_dir.h — a folder being filled with a new checkpoint, emptied again unless the
 * whole thing was written.
 *
 * out_dir_open takes a path that does not exist (the folder is made) or an empty folder,
 * and refuses anything else: stale files of another run would join the new checkpoint.
 * Every file is named to out_dir_path before it is created, so out_dir_close removes
 * exactly what this run may have made — and the folder itself when it made it — unless
 * out_dir_commit came first. out_dir_put_json writes through a temporary name and a
 * rename, so a reader sees the whole file or none (config.json goes last this way).
 */
#ifndef PONDER_ENG_OUT_DIR_H
#define PONDER_ENG_OUT_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct out_dir;

int out_dir_open(const char *path, struct out_dir **out, struct err *e);

/* The full path of `name` in the folder (into buf), recorded for removal. */
int out_dir_path(struct out_dir *d, const char *name, char *buf, size_t cap, struct err *e);

/* ERR_IO when the file system holding the folder has less than `need` bytes free
   (when it says: a file system that reports no size passes). */
int out_dir_check_space(const struct out_dir *d, uint64_t need, struct err *e);

/* Copies the regular file `from` to `name` in the folder. */
int out_dir_copy(struct out_dir *d, const char *from, const char *name, struct err *e);

/* Writes the JSON value as `name`, indented, keys in their order. */
struct json_t; /* jansson */
int out_dir_put_json(struct out_dir *d, const char *name, const struct json_t *json,
		     struct err *e);

/* Keep everything: the checkpoint is whole. */
void out_dir_commit(struct out_dir *d);

/* Removes what was recorded unless committed, then frees; NULL is a no-op. */
void out_dir_close(struct out_dir *d);

#endif
