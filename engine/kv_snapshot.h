/*
 * kv_snapshot.h — one KV snapshot file: the tokens of a sequence and its cache rows, so
 * that a later process continues the sequence without computing it again.
 *
 * Layout (little-endian, as the machine that wrote it; snapshots are a local cache):
 *   header       256 bytes, struct kv_snap_header, ending with a checksum of itself
 *   tokens       int32 [tokens], zero-padded to a multiple of 64 bytes
 *   main layers  [layers][tokens][row_bytes], the engine's cache rows as they are
 *   MTP layer    [mtp_rows][row_bytes] when mtp_layers is 1
 *   hidden       F32 [hidden_dim]: the main model's final normed hidden state at the
 *                last position, which the MTP module's next row needs (MTP only)
 * payload_hash is XXH3-64 of the tokens, main layers, MTP rows and hidden state (not
 * the padding).
 * A reader trusts nothing before both checksums match: a snapshot cut short by a crash,
 * a full disk or a foreign file is refused, never loaded in part.
 */
#ifndef PONDER_ENG_KV_SNAPSHOT_H
#define PONDER_ENG_KV_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/engine.h"

#define KV_SNAP_MAGIC "PONDERKV"
#define KV_SNAP_VERSION 1u

struct kv_snap_header {
	char magic[8];
	uint32_t version;
	uint32_t kv_type;       /* enum eng_kv_type */
	uint8_t model[16];      /* eng_model_fingerprint of the weights */
	uint64_t tokens;
	uint64_t mtp_rows;      /* MTP cache rows stored (0 when mtp_layers is 0) */
	uint32_t layers;        /* main layers */
	uint32_t mtp_layers;    /* 0 or 1 */
	uint32_t row_bytes;
	uint32_t hidden_dim;    /* F32 values of the last position's hidden state (0: none) */
	int64_t created;        /* Unix seconds */
	uint64_t payload_hash;
	char kernels[32];       /* eng_model_kernels: other kernels round differently */
	char model_name[64];    /* for listings */
	char label[72];         /* what the sequence was, e.g. "conversation 12" */
	uint64_t header_hash;   /* XXH3-64 of the bytes before it */
};
_Static_assert(sizeof(struct kv_snap_header) == 256, "the header is 256 bytes on disk");

/* File size the header implies. */
uint64_t kv_snap_file_bytes(const struct kv_snap_header *h);

/* Reads and checks the header of an open snapshot: magic, version, header checksum, and
   the file's size (st_size) against what the header implies. On failure `why` says
   what is wrong, in words for the user, and ERR_FORMAT is returned. */
int kv_snap_read_header(int fd, uint64_t st_size, struct kv_snap_header *h, char *why,
			size_t why_size);

/* The snapshot's tokens[0..h->tokens) (not verified: the payload checksum is checked by
   kv_snap_load, which reads everything). */
int kv_snap_read_tokens(int fd, const struct kv_snap_header *h, int32_t *out, struct err *e);

/* The header a snapshot of s's positions [0, eng_state_pos) gets (checksums still
   zero): what kv_snap_write writes, and what stored headers are compared with. */
void kv_snap_header_init(struct kv_snap_header *h, const struct eng_state *s,
			 const uint8_t model[16], const char *model_name, const char *label);

/* Whether two snapshots hold cache rows of the same model in the same layout (weights,
   cache type, layers, row size, kernels): rows of one may stand for the other's. */
bool kv_snap_compatible(const struct kv_snap_header *a, const struct kv_snap_header *b);

/*
 * Writes s's positions [0, eng_state_pos) to fd (an empty file) under header h
 * (kv_snap_header_init of s), filling in its checksums. ERR_IO names the failure (a full
 * disk is ENOSPC). The header is written last, so a file cut short anywhere fails its
 * checks.
 */
int kv_snap_write(int fd, const struct eng_state *s, struct kv_snap_header *h,
		  struct err *e);

/*
 * Replaces s's contents with the snapshot's first k positions: 1 <= k <= h->tokens,
 * k <= eng_state_ctx(s), a compatible snapshot, and when s runs MTP one with MTP rows
 * for the first k - 1. The whole payload is read and its checksum checked; on a
 * mismatch s is left empty and ERR_FORMAT is returned. With MTP, a prefix of the
 * snapshot (k < tokens) has no hidden state for its last position, which is then left
 * to be fed again: eng_state_pos ends at kv_snap_resumes(h, s, k).
 */
/* The sequence position after loading k positions into s: k, or k - 1 when s runs MTP
   and the snapshot holds no hidden state for position k - 1. */
size_t kv_snap_resumes(const struct kv_snap_header *h, const struct eng_state *s, size_t k);

int kv_snap_load(int fd, const struct kv_snap_header *h, struct eng_state *s, size_t k,
		 struct err *e);

#endif
