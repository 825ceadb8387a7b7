/*
 * engine.h — the engine's public contract: open a model, keep a sequence's state (the
 * compressed KV cache), run the forward pass.
 *
 * Data flows app -> engine -> kernels. This header is all app/ needs for raw model
 * work; the chat layer (templates, sampling, channels) builds on it.
 */
#ifndef PONDER_ENG_ENGINE_H
#define PONDER_ENG_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "common/err.h"

/* How sequences store the KV cache (docs/engine.md, "Attention and the cache"): F32 as
   computed; BF16 rounded to nearest even (half the memory); FP8 e4m3 with one F32 scale
   per position (about a quarter). Attention reads the cache in its type. */
enum eng_kv_type { ENG_KV_F32, ENG_KV_BF16, ENG_KV_FP8 };

/* "f32", "bf16" or "fp8". */
const char *eng_kv_type_name(enum eng_kv_type t);

/* A name as eng_kv_type_name gives it; ERR_USAGE naming the choices otherwise. */
int eng_kv_type_parse(const char *s, enum eng_kv_type *out, struct err *e);

/* The output head as stored (BF16 in DeepSeek's checkpoints), or re-quantised to FP8
   e4m3 with 128x128 block scales at load: half the bytes read per decoded token, at the
   cost of rounding the logits (docs/kernels.md, "The output head"). */
enum eng_head_type { ENG_HEAD_STORED, ENG_HEAD_FP8 };

/* "bf16" (as stored) or "fp8". */
const char *eng_head_type_name(enum eng_head_type t);

/* "bf16" or "fp8"; ERR_USAGE naming the choices otherwise. */
int eng_head_type_parse(const char *s, enum eng_head_type *out, struct err *e);

struct eng_opts {
	int threads;           /* <= 0: one per core */
	const char *kernels;   /* NULL: best for this CPU; else a kern_cpu_by_name() name */
	bool load_mtp;         /* bind the MTP module when the checkpoint has one */
	enum eng_kv_type kv_type; /* of every sequence of the model; zero: F32 (ponder's
				     chat modes default to BF16) */
	enum eng_head_type head; /* zero: as stored */
};

struct eng_model;
struct eng_state;

int eng_model_open(const char *dir, const struct eng_opts *o, struct eng_model **out,
		   struct err *e);
void eng_model_close(struct eng_model *m);

const struct eng_config *eng_model_config(const struct eng_model *m);
const char *eng_model_dir(const struct eng_model *m);
bool eng_model_has_mtp(const struct eng_model *m);
int eng_model_threads(const struct eng_model *m);
const char *eng_model_kernels(const struct eng_model *m);
enum eng_kv_type eng_model_kv_type(const struct eng_model *m);
enum eng_head_type eng_model_head_type(const struct eng_model *m);

/* Bytes of KV cache per token that a sequence reserves: for each main layer, plus the
   one MTP layer when the sequence runs it, one row of the latent (MLA: kv_lora_rank +
   qk_rope_head_dim values in type t, an FP8 row with its scale) or a key and a value
   row of head_dim per kv head (GQA). eng_state_new sizes the
   cache with it and `ponder info` reports it, so the two cannot disagree. */
uint64_t eng_kv_bytes_per_token(const struct eng_config *c, bool mtp, enum eng_kv_type t);

/* 128 bits that identify the model's weights (engine/fingerprint.c says what is hashed
   and why not everything): the key that ties a KV snapshot to the model it came from. */
void eng_model_fingerprint(const struct eng_model *m, uint8_t out[16]);

/* Bytes of weights one decoded token reads (engine/footprint.c says what counts):
   matrices in the dtype the forward pass reads, FP8 ones with their scales, num_experts_per_tok routed
   experts per MoE layer, the LM head; not the MTP module, not the KV cache. */
uint64_t eng_decode_weight_bytes(const struct eng_model *m);

/*
 * A sequence: its token history and compressed KV cache for up to `ctx` positions.
 * The cache is reserved up front (virtual memory; pages are touched as it grows) after
 * checking that ctx fits the model and the machine: the error names the size and says
 * to lower --ctx. With mtp (and a model that has an MTP module) the module runs
 * alongside, keeping its own cache.
 */
int eng_state_new(struct eng_model *m, int64_t ctx, bool mtp, struct eng_state **out,
		  struct err *e);
void eng_state_free(struct eng_state *s);

size_t eng_state_pos(const struct eng_state *s);  /* tokens in the cache */
size_t eng_state_ctx(const struct eng_state *s);
const int32_t *eng_state_tokens(const struct eng_state *s);

/* A flag (set by a signal handler or another thread) that ends eng_forward between
   prefill chunks with ERR_INTERRUPTED; the positions done so far stay cached. NULL:
   none. */
void eng_state_set_abort(struct eng_state *s, const volatile sig_atomic_t *flag);

/* Drops positions >= pos (rollback of rejected drafts; a new prompt that shares only a
   prefix). No-op when pos >= eng_state_pos. */
void eng_state_truncate(struct eng_state *s, size_t pos);

/* Length of the common prefix of the cached tokens and ids[0..n). */
size_t eng_state_common_prefix(const struct eng_state *s, const int32_t *ids, size_t n);

/*
 * Appends ids[0..n) at the current position and runs the model over them (prefill is
 * matrix-matrix work, in chunks). logits: when all_logits, [n][vocab] for every new
 * position; otherwise [vocab] for the last one; NULL for none. Fails with ERR_CONTEXT
 * when the cache would overflow and ERR_RANGE for an id outside the vocabulary, before
 * changing any state.
 */
int eng_forward(struct eng_state *s, const int32_t *ids, size_t n, float *logits,
		bool all_logits, struct err *e);

/*
 * Like eng_forward, and also returns the MTP module's logits. A sequence created with
 * MTP runs the module over every position whose next token is known (its cache must
 * cover the whole sequence): after this call it has rows for positions
 * [0, eng_state_pos - 1). mtp_logits, when not NULL, receives [rows][vocab] for the
 * rows computed in this call (eng_state_mtp_pos after minus before): row i is the
 * prediction of token i+2 from the final normed hidden state at i and token i+1.
 */
int eng_forward_mtp(struct eng_state *s, const int32_t *ids, size_t n, float *logits,
		    bool all_logits, float *mtp_logits, struct err *e);
size_t eng_state_mtp_pos(const struct eng_state *s);

/*
 * Speculative decoding: the MTP module's prediction of the token after `next`, where
 * `next` is the token chosen for the current position (not yet in the cache). logits
 * [vocab] receives the draft distribution. The next eng_forward should start with
 * `next` (then with the draft to verify it); if it does not, the row is recomputed.
 */
int eng_mtp_draft(struct eng_state *s, int32_t next, float *logits, struct err *e);

#endif
