/*
 * convert_fp8.h — a BF16/F16/F32 Hugging Face checkpoint re-written with FP8 e4m3
 * matrices in DeepSeek's own layout (ponder convert --fp8 SRC DST).
 *
 * Which tensors: every 2-D BF16, F16 or F32 tensor whose name ends in "_proj.weight"
 * or "_proj_with_mqa.weight" (attention and MLP projections, shared and routed experts,
 * MLA's kv_a_proj_with_mqa) except the MTP module's eh_proj becomes F8_E4M3
 * [rows][cols] plus "<name>_scale_inv", F32 [ceil(rows/128)][ceil(cols/128)],
 * w = q * scale, scale = block amax / 448 (kern_quantize_fp8). lm_head.weight joins them when asked (head_fp8). Everything else —
 * embeddings, norms, biases, the MoE router, e_score_correction_bias, the output heads —
 * is copied byte for byte, and so is a tensor that is F8_E4M3 already, with its scale.
 * config.json is not interpreted beyond quantization_config, so any architecture
 * converts; a source that is already quantised is refused.
 *
 * Output, into DST (new, or an empty folder): shards model-0000N-of-0000M.safetensors of
 * at most shard_bytes of data each (a tensor never splits, nor a weight from its scale;
 * a tensor larger than that has a shard of its own), filled in the source's order;
 * within a shard the data is grouped by element size, largest first, source order
 * within a group, so that every tensor is aligned to its element size (an FP8 weight of
 * odd size would misalign the F32 scale after it); model.safetensors.index.json with
 * metadata.total_size; the tokenizer and
 * generation files that exist in SRC; and last config.json, the source's with
 * "quantization_config" {activation_scheme dynamic, fmt e4m3, quant_method fp8,
 * weight_block_size [128, 128]} added (other keys and their order kept). config.json
 * appears by rename, so a folder without it never looks like a checkpoint. On any
 * failure — bad input, a full disk, a stop request — every file written is removed, and
 * DST too when this call made it.
 *
 * Memory: SRC stays mmapped; one chunk of one tensor (about 64 MB of FP8) is in memory
 * at a time, quantised on a kern_pool of `threads` threads, and the source pages of a
 * finished tensor are given back.
 */
#ifndef PONDER_ENG_CONVERT_FP8_H
#define PONDER_ENG_CONVERT_FP8_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Default largest shard: 4 GiB of tensor data, as Hugging Face's own shards. */
#define ENG_CONVERT_SHARD_DEFAULT (4ull << 30)

struct eng_convert_progress {
	size_t tensors_done, tensors; /* source tensors */
	uint64_t bytes_done, bytes;   /* source tensor bytes */
};

struct eng_convert_opts {
	const char *src, *dst;
	int threads;          /* quantisation threads; 0: one per core */
	bool head_fp8;        /* quantise lm_head.weight too */
	uint64_t shard_bytes; /* largest shard's data; 0: ENG_CONVERT_SHARD_DEFAULT */
	size_t chunk_bytes;   /* bytes handled at a time (at least two 128-row bands per
				 thread when quantising); 0: 64 MiB. Tests make it small. */
	/* Read between chunks: nonzero stops the conversion (ERR_INTERRUPTED, output
	   removed). May be set from a signal handler. NULL: never. */
	const volatile sig_atomic_t *stop;
	/* Called after each chunk and each tensor, on the calling thread. */
	void (*progress)(void *ud, const struct eng_convert_progress *p);
	void *ud;
};

struct eng_convert_stats {
	size_t tensors;         /* in the source */
	size_t quantised;       /* made FP8 here (each gained a scale tensor) */
	size_t fp8_kept;        /* F8_E4M3 already: copied with their scales */
	size_t shards;          /* written */
	uint64_t bytes_in;      /* source tensor data */
	uint64_t bytes_out;     /* output tensor data (the index's total_size) */
	bool head_quantised;    /* lm_head.weight became FP8 */
	bool head_tied;         /* head_fp8 asked, but the source has no lm_head.weight */
};

int eng_convert_fp8(const struct eng_convert_opts *o, struct eng_convert_stats *st,
		    struct err *e);

/* Whether the rule above makes tensor `name` FP8 (name only; dtype and shape decide
   the rest). */
bool eng_convert_wants_fp8(const char *name, bool head_fp8);

#endif
