/*
 * kv_store.h — a folder of KV snapshots (kv_snapshot.h) shared by every model and every
 * ponder process: after a turn the session writes its sequence there, and a later
 * session whose prompt starts with the same tokens loads the longest such prefix instead
 * of computing it (docs/kv-snapshots.md).
 *
 * Files are <id>.pkv, id = 16 hex digits of a hash of the model fingerprint, cache type,
 * kernels and tokens. Each is written to a temporary file, fsynced, renamed into place
 * and the folder fsynced, so a reader sees a whole snapshot or none. Snapshots of other
 * models or cache types are passed over in silence; damaged ones are reported once and
 * removed (they are a cache: the conversation itself lives in the history database).
 * Size is capped: after each write the least recently used snapshots go until the
 * folder fits (loading one counts as a use). A snapshot whose tokens begin a newer one
 * of the same model is removed when the newer one is written.
 *
 * A kv_store is used by one thread at a time (a session's, or its settle thread while
 * the session waits); processes share the folder safely.
 */
#ifndef PONDER_ENG_KV_STORE_H
#define PONDER_ENG_KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/engine.h"

struct kv_store;

/* A store in folder `dir` (created 0700 when missing) for model m, keeping at most
   max_bytes of snapshots (of all models). */
int kv_store_open(const char *dir, uint64_t max_bytes, struct eng_model *m,
		  struct kv_store **out, struct err *e);
void kv_store_close(struct kv_store *ks);

/*
 * Finds the snapshot sharing the longest prefix with ids[0..n) that s can use (all of
 * it, or at least 32 tokens of it), and when that prefix is longer than
 * eng_state_pos(s), loads it into s: *loaded is then the new
 * eng_state_pos (0 when nothing was loaded; s unchanged). A damaged snapshot met on the
 * way is removed and described in `note` (else note->code stays 0); s may then be
 * emptied, never left half loaded. Returns nonzero only when out of memory.
 */
int kv_store_resume(struct kv_store *ks, struct eng_state *s, const int32_t *ids, size_t n,
		    size_t *loaded, struct err *note);

/*
 * Writes s's sequence as a snapshot labelled `label` (shown by `ponder kv ls`), then
 * removes the snapshots it supersedes, temporary files of writes killed over an hour
 * ago, and the least recently used snapshots beyond the cap.
 * A snapshot larger than the whole cap is not written (ERR_RANGE says so). ERR_IO when
 * writing fails (nothing is left behind).
 */
int kv_store_save(struct kv_store *ks, const struct eng_state *s, const char *label,
		  struct err *e);

/* ---- the folder, without a model (`ponder kv`) ---- */

struct kv_entry {
	char id[17];
	bool valid;            /* header readable and consistent with the file's size */
	char problem[160];     /* why not, when !valid */
	char model_name[64], label[72], kv_type[8];
	uint64_t tokens, bytes;
	int64_t mtime;         /* last written or used, Unix seconds */
};

/* Every *.pkv in dir, most recently used first. A missing folder is an empty list. */
int kv_dir_list(const char *dir, struct kv_entry **out, size_t *n, struct err *e);

/* Removes the snapshot whose id starts with `prefix` (4+ hex digits); ERR_USAGE when
   none or several match. */
int kv_dir_remove(const char *dir, const char *prefix, char *removed_id, struct err *e);

/* Removes every snapshot labelled `label` (a deleted conversation's); *removed counts
   them. */
int kv_dir_remove_label(const char *dir, const char *label, size_t *removed, struct err *e);

struct kv_gc_result {
	size_t removed_damaged, removed_old, removed_temp;
	uint64_t freed_bytes, kept_bytes;
};

/* Removes damaged snapshots (and ones of another format version, which this ponder
   cannot read), temporary files of writes that never finished (older than
   an hour, so a write in progress elsewhere is left alone), then the least recently used
   snapshots until the rest fit in max_bytes. */
int kv_dir_gc(const char *dir, uint64_t max_bytes, struct kv_gc_result *r, struct err *e);

#endif
