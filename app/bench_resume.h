/*
 * bench_resume.h — `ponder bench --resume N`: what a KV snapshot saves when a
 * conversation of N tokens is continued by a new process. Compares the re-prefill of
 * the conversation plus a new message with loading the conversation's snapshot and
 * computing the new message alone, on the same random ids (bench_resume.c says how).
 */
#ifndef PONDER_APP_BENCH_RESUME_H
#define PONDER_APP_BENCH_RESUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "engine/engine.h"

#define BENCH_RESUME_NEW 16   /* tokens of the new message after the conversation */
#define BENCH_RESUME_ROOM 64  /* context the sequences have beyond the conversation */

struct bench_resume {
	size_t tokens;            /* the conversation, N */
	int rounds;
	double cold_ms;           /* re-prefill of N + new, fresh cache: medians */
	double resume_ms;         /* snapshot in the page cache, then the new tokens */
	double uncached_ms;       /* the same after dropping the file from the page cache */
	double write_ms;          /* kv_store_save, fsync included */
	uint64_t snapshot_bytes;  /* the .pkv file */
	bool evicted;             /* every page of the file left the page cache each time */
	bool identical;           /* resumed last logits == re-prefill's, bit for bit */
	double max_rel_diff;      /* max |resumed - cold| / max |cold|, over every resume */
};

/*
 * Measures on model m (its KV cache type) over ids[0 .. n + BENCH_RESUME_NEW), in
 * `rounds` interleaved rounds, with snapshots in a temporary folder under $TMPDIR (else
 * /tmp) that is removed before returning. The model's context must hold
 * n + BENCH_RESUME_ROOM positions.
 */
int bench_resume_measure(struct eng_model *m, const int32_t *ids, size_t n, int rounds,
			 struct bench_resume *r, struct err *e);

#endif
