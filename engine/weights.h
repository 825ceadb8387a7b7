/*
 * weights.h — the model's tensors bound to their roles (llama2.c's Weights struct).
 *
 * Matrices are views into the mmapped shards in their checkpoint dtype; only small
 * vectors (norm weights, router bias) and non-F32 FP8 scales are converted to F32
 * copies owned here. Binding checks every shape against config.json, so the forward
 * pass never has to.
 */
#ifndef PONDER_ENG_WEIGHTS_H
#define PONDER_ENG_WEIGHTS_H

#include <stdbool.h>

#include "engine/checkpoint.h"
#include "kernels/kern.h"

struct mla_weights {
	struct kern_mat q_a;      /* [q_lora][hidden]            (q-LoRA models) */
	float *q_a_norm;          /* [q_lora] */
	struct kern_mat q_b;      /* [heads*(nope+rope)][q_lora] */
	struct kern_mat q;        /* [heads*(nope+rope)][hidden] (plain q_proj models) */
	struct kern_mat kv_a;     /* [kv_lora+rope][hidden]: latent then shared k_pe */
	float *kv_a_norm;         /* [kv_lora] */
	struct kern_mat kv_b;     /* [heads*(nope+v)][kv_lora]: per head W_UK rows then W_UV rows */
	struct kern_mat o;        /* [hidden][heads*v] */
};

/* Grouped-query attention of the dense families (Hq = heads, Hk = kv heads, d = head_dim). */
struct gqa_weights {
	struct kern_mat q;        /* [Hq*d][hidden] */
	struct kern_mat k;        /* [Hk*d][hidden] */
	struct kern_mat v;        /* [Hk*d][hidden] */
	struct kern_mat o;        /* [hidden][Hq*d] */
	float *q_bias, *k_bias, *v_bias; /* [Hq*d], [Hk*d], [Hk*d]; NULL without qkv_bias */
	float *o_bias;            /* [hidden]; NULL without o_bias */
	float *q_norm, *k_norm;   /* [d] per-head RMSNorm (Qwen3); NULL otherwise */
};

struct mlp_weights {
	struct kern_mat gate;     /* [inter][hidden] */
	struct kern_mat up;       /* [inter][hidden] */
	struct kern_mat down;     /* [hidden][inter] */
};

struct moe_weights {
	struct kern_mat router;   /* [experts][hidden] (mlp.gate.weight) */
	float *bias;              /* [experts] e_score_correction_bias, NULL if absent */
	struct mlp_weights *experts; /* [experts] */
	bool has_shared;
	struct mlp_weights shared;   /* inter = moe_intermediate_size * n_shared_experts */
};

struct layer_weights {
	float *attn_norm;         /* [hidden] input_layernorm */
	float *mlp_norm;          /* [hidden] post_attention_layernorm */
	struct mla_weights attn;  /* config attn == ATTN_MLA */
	struct gqa_weights gqa;   /* config attn == ATTN_GQA */
	bool is_moe;
	struct mlp_weights mlp;   /* dense layers */
	struct moe_weights moe;   /* MoE layers */
};

/* A Multi-Token-Prediction module (stored as layer num_hidden_layers + k). */
struct mtp_weights {
	struct kern_mat embed;    /* [vocab][hidden] own copy, or the main embedding */
	float *enorm, *hnorm;     /* [hidden] */
	struct kern_mat eh_proj;  /* [hidden][2*hidden] */
	struct layer_weights block;
	float *head_norm;         /* [hidden] shared_head.norm */
	struct kern_mat head;     /* [vocab][hidden] shared_head.head, or lm_head */
};

struct model_weights {
	struct kern_mat embed;    /* [vocab][hidden] */
	struct layer_weights *layers; /* [num_hidden_layers] */
	float *norm;              /* [hidden] */
	struct kern_mat lm_head;  /* [vocab][hidden] */
	struct mtp_weights *mtp;  /* [n_mtp], NULL when the checkpoint has none */
	int n_mtp;
	void **owned;             /* F32 copies made while binding, freed together */
	size_t n_owned, cap_owned;
};

/* Binds every tensor the config needs; errors name the tensor, the shard and the
   expected versus found shape or dtype. MTP modules are bound when load_mtp and the
   checkpoint has them. */
int weights_bind(const struct ckpt *c, bool load_mtp, struct model_weights *w, struct err *e);
void weights_release(struct model_weights *w);

#endif
