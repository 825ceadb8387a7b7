/*
 * model.h — engine internals shared by model.c (open, state), forward.c (the pass),
 * mla.c (attention) and moe.c (experts). Not for app/: use engine.h.
 *
 * Shapes use D = hidden_size, H = heads, C = kv_lora_rank, R = qk_rope_head_dim,
 * P = qk_nope_head_dim, Vh = v_head_dim, E = routed experts, K = experts per token,
 * N = FWD_CHUNK (most positions per internal pass); for GQA models Hk = kv heads and
 * Dh = head_dim. An MLA array is sized 1 in a GQA model and the other way round.
 */
#ifndef PONDER_ENG_MODEL_H
#define PONDER_ENG_MODEL_H

#include <signal.h>

#include "engine/engine.h"
#include "engine/rope.h"
#include "engine/weights.h"
#include "kernels/kern.h"

/* Positions per internal pass: prefill runs in chunks of this many rows, which bounds
   the scratch memory while keeping the weight reuse of matrix-matrix products. */
#define FWD_CHUNK 128

/* Hidden states kept for the MTP module: a ring of this many positions beyond the
   chunk, so rollbacks of up to MTP_RING_SLACK positions keep MTP consistent. */
#define MTP_RING_SLACK 64

struct eng_model {
	struct ckpt *ckpt;
	const struct eng_config *cfg;
	struct model_weights w;
	struct kern_pool *pool;
	const struct kern_ops *ops;
	struct rope_table rope;
	float softmax_scale;
	size_t max_inter; /* largest MLP intermediate size (dense, shared, expert) */
	enum eng_kv_type kv_type;
	enum kern_dtype kv_dtype; /* the same, as the kernels name it */
	enum eng_head_type head_type;
	void *head_q[4];  /* --head fp8: the re-quantised heads' bytes and scales */
	int n_head_q;
};

/* --head fp8: the output heads (main, MTP) re-quantised to FP8 (head_fp8.c). */
int model_head_fp8(struct eng_model *m, struct err *e);

/* Scratch for one pass of up to N positions; sized once per state (no allocation in
   the per-token loop). */
struct fwd_scratch {
	float *x;        /* [N][D] residual stream */
	float *xn;       /* [N][D] normed input of a sub-layer */
	float *y;        /* [N][D] sub-layer output */
	float *cat;      /* [N][2D] MTP input concat */
	float *qa;       /* [N][q_lora] */
	float *q;        /* [N][H][P+R], GQA: [N][H][Dh] */
	float *k, *v;    /* GQA: [N][Hk][Dh] new keys and values */
	float *kv;       /* [N][C+R] */
	float *q_lat;    /* [N][H][C] */
	float *q_pe;     /* [N][H][R] */
	float *out_lat;  /* [N][H][C] */
	float *o_in;     /* [N][H*Vh], GQA: [N][H*Dh] */
	float *head_in;  /* [threads][N][max(P, C)] per-head contiguous input */
	float *head_out; /* [threads][N][max(C, Vh)] per-head output */
	float *cos, *sin;    /* [N][rope dim / 2] */
	float *attn;     /* [threads][ctx] attention scores */
	float *h;        /* [2][N][max_inter] gated-MLP working space (kern_ffn.h) */
	float *scores;   /* [N][E] router output */
	int32_t *topk;   /* [N][K] chosen experts */
	float *topk_w;   /* [N][K] their weights */
	int32_t *counts; /* [E + 1] tokens per expert, then offsets */
	int32_t *rows;   /* [N*K] token index per (expert, slot) */
	float *row_w;    /* [N*K] weight per (expert, slot) */
	float *xs, *ys;  /* [N][D] experts' gathered inputs and outputs */
	void *block;     /* the single allocation all of the above live in */
};

struct eng_state {
	struct eng_model *m;
	size_t ctx, pos;
	int32_t *tokens;      /* [ctx] */
	size_t row;           /* bytes per cached position and layer: m->kv_row */
	uint8_t *kv;          /* [layers + mtp layers][ctx][row], reserved virtual memory */
	size_t kv_bytes;
	bool mtp;             /* MTP module runs alongside the main model */
	size_t mtp_pos;       /* MTP rows computed: positions [0, mtp_pos); == pos after a
				 draft, whose row used mtp_next as the token at pos */
	int32_t mtp_next;
	const volatile sig_atomic_t *abort; /* nonzero: stop between prefill chunks */
	float *hidden;        /* [ring][D] final normed hidden states, by position % ring */
	size_t ring;
	struct fwd_scratch s;
};

/* Cache of layer `l` (MTP modules follow the main layers). */
static inline uint8_t *state_layer_cache(struct eng_state *st, size_t l)
{
	return st->kv + l * st->ctx * st->row;
}

/* For a sequence with MTP whose last position has no hidden state in the ring (a long
   rollback, a loaded snapshot): drops that position so the next forward, which must
   start with the same token, recomputes it; MTP rows before it stay. pos > 0. */
void state_drop_last_hidden(struct eng_state *s);

/* x[n][D] += attention(rmsnorm(x)) + mlp(...): one decoder block at positions pos0..,
   whose rotary tables the caller has put in s.cos and s.sin (rope_fill), once for all
   the layers of a pass. */
void fwd_block(struct eng_state *st, const struct layer_weights *l, uint8_t *cache, size_t n,
	       size_t pos0);

/* y[n][D] = MLA over xn[n][D] at positions pos0.. with the layer's cache (rotary
   tables in s.cos/s.sin, as for fwd_block; so for gqa_forward). */
void mla_forward(struct eng_state *st, const struct mla_weights *a, uint8_t *cache,
		 const float *xn, float *y, size_t n, size_t pos0);

/* y[n][D] = grouped-query attention over xn[n][D] at positions pos0.. with the layer's
   cache: per position the keys of each kv head, then their values (kern_gqa_args). */
void gqa_forward(struct eng_state *st, const struct gqa_weights *a, uint8_t *cache,
		 const float *xn, float *y, size_t n, size_t pos0);

/* Bytes per position and layer of a cache of type t for this config. */
size_t model_kv_row_bytes(const struct eng_config *c, enum kern_dtype t);

/* y[n][D] = MoE(xn[n][D]) (routed + shared experts). */
void moe_forward(struct eng_state *st, const struct moe_weights *mw, const float *xn,
		 float *y, size_t n);

/* y[n][D] = down(silu(gate(xn)) * up(xn)). */
void mlp_forward(struct eng_state *st, const struct mlp_weights *mw, const float *xn,
		 float *y, size_t n);

#endif
