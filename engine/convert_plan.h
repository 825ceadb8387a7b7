/*
 * convert_plan.h — what ponder convert --fp8 will write, worked out before any byte is
 * (internal to convert_fp8.c; the rule is in convert_fp8.h).
 *
 * One item per output tensor: the source's tensors in their order, each weight to be
 * quantised followed by its new scale tensor (the order they are produced in; where
 * their bytes lie in a shard is convert_fp8.c's order_shard). Items carry their output
 * dtype, shape and byte size (every multiply checked) and the shard they go to; a
 * weight and its scale always share a shard. Refused here, naming the tensor and file:
 * a weight the rule picks in a dtype that cannot be quantised (not BF16, F16, F32 or
 * F8_E4M3), an F8_E4M3 one without its scale, a float weight whose scale name is taken.
 */
#ifndef PONDER_ENG_CONVERT_PLAN_H
#define PONDER_ENG_CONVERT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/ckpt_files.h"
#include "engine/st_write.h"

enum cv_kind {
	CV_COPY,  /* the source bytes as they are */
	CV_QUANT, /* the source matrix as FP8 e4m3 */
	CV_SCALE, /* the scales of the CV_QUANT item just before */
};

struct cv_item {
	size_t src;            /* index in ckpt_files_at */
	enum cv_kind kind;
	struct st_wtensor out; /* out.name points into the source or at scale_name */
	char *scale_name;      /* CV_SCALE: owned "<weight>_scale_inv" */
	uint64_t bytes;        /* output data bytes */
	size_t shard;
};

struct cv_plan {
	struct cv_item *it;
	size_t n;
	size_t nshards;
	uint64_t bytes_in, bytes_out;
	size_t quantised, fp8_kept;
	bool head_quantised, head_tied;
};

int cv_plan_build(const struct ckpt_files *f, bool head_fp8, uint64_t shard_bytes,
		  struct cv_plan *p, struct err *e);
void cv_plan_free(struct cv_plan *p);

#endif
