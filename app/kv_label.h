/*
 * kv_label.h — how a saved conversation's KV snapshots are labelled ("conversation 12",
 * shown by `ponder kv ls`), and forgetting them when the conversation is deleted: a
 * snapshot holds the conversation's tokens, so it must not outlive it.
 */
#ifndef PONDER_APP_KV_LABEL_H
#define PONDER_APP_KV_LABEL_H

#include <stddef.h>
#include <stdint.h>

/* The label of conversation cid's snapshots; "" for 0 (not stored). */
void app_kv_label(int64_t cid, char *buf, size_t size);

/* Removes conversation cid's snapshots from the snapshot folder, if any. A label names
   the conversation's id only, so a conversation of the same id in another history file
   loses its snapshot too: that costs a prefill, never data. */
void app_kv_forget(int64_t cid);

#endif
