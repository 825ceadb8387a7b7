/*
 * weights.c — binds checkpoint tensors to struct model_weights (see weights.h).
 *
 * Invariant after a successful weights_bind: every kern_mat has the dtype, shape and
 * (for FP8) scale tensor the forward pass assumes, and every float vector has the
 * length the config implies. On failure everything bound so far is released.
 */
#include "engine/weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct binder {
	const struct ckpt *c;
	const struct eng_config *cfg;
	struct model_weights *w;
	struct err *e;
};

static int keep_owned(struct binder *b, void *p)
{
	struct model_weights *w = b->w;
	if (w->n_owned == w->cap_owned) {
		size_t cap = w->cap_owned ? w->cap_owned * 2 : 64;
		void **n = realloc(w->owned, cap * sizeof *n);
		if (!n) {
			free(p);
			return err_set(b->e, ERR_NOMEM, "out of memory while binding weights");
		}
		w->owned = n;
		w->cap_owned = cap;
	}
	w->owned[w->n_owned++] = p;
	return 0;
}

static const char *shard_of(struct binder *b, const char *name)
{
	const char *f = ckpt_file_of(b->c, name);
	return f ? f : "?";
}

static const struct st_tensor *need(struct binder *b, const char *name)
{
	const struct st_tensor *t = ckpt_find(b->c, name);
	if (!t)
		err_set(b->e, ERR_FORMAT,
			"%s: tensor '%s' is needed by its config.json but no shard has it "
			"(incomplete download, or a config that does not match the weights?)",
			ckpt_dir(b->c), name);
	return t;
}

static void shape_str(const struct st_tensor *t, char *buf, size_t cap)
{
	size_t off = 0;
	off += (size_t)snprintf(buf + off, cap - off, "[");
	for (int i = 0; i < t->ndim && off < cap; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s%llu", i ? ", " : "",
					(unsigned long long)t->shape[i]);
	if (off < cap)
		snprintf(buf + off, cap - off, "]");
}

static int check_shape2(struct binder *b, const struct st_tensor *t, uint64_t d0, uint64_t d1)
{
	if (t->ndim == 2 && t->shape[0] == d0 && t->shape[1] == d1)
		return 0;
	char found[128];
	shape_str(t, found, sizeof found);
	return err_set(b->e, ERR_FORMAT, "%s (%s): expected shape [%llu, %llu] from config.json, found %s",
		       t->name, shard_of(b, t->name), (unsigned long long)d0,
		       (unsigned long long)d1, found);
}

/* An F32 copy of a float tensor with `len` elements in total. */
static int to_f32(struct binder *b, const struct st_tensor *t, uint64_t len, float **out)
{
	if (t->nelem != len) {
		char found[128];
		shape_str(t, found, sizeof found);
		return err_set(b->e, ERR_FORMAT, "%s (%s): expected %llu elements, found shape %s",
			       t->name, shard_of(b, t->name), (unsigned long long)len, found);
	}
	float *v = malloc((len ? len : 1) * sizeof *v);
	if (!v)
		return err_set(b->e, ERR_NOMEM, "out of memory copying %s", t->name);
	for (uint64_t i = 0; i < len; i++) {
		switch (t->dtype) {
		case ST_F32: memcpy(&v[i], (const char *)t->data + 4 * i, 4); break;
		case ST_BF16: {
			uint16_t h;
			memcpy(&h, (const char *)t->data + 2 * i, 2);
			v[i] = kern_bf16_to_f32(h);
			break;
		}
		case ST_F16: {
			uint16_t h;
			memcpy(&h, (const char *)t->data + 2 * i, 2);
			v[i] = kern_f16_to_f32(h);
			break;
		}
		default:
			free(v);
			return err_set(b->e, ERR_UNSUPPORTED, "%s (%s): dtype %s cannot hold these values; "
				       "expected F32, BF16 or F16", t->name, shard_of(b, t->name),
				       st_dtype_name(t->dtype));
		}
	}
	*out = v;
	return keep_owned(b, v);
}

static int bind_vec(struct binder *b, const char *name, uint64_t len, float **out)
{
	const struct st_tensor *t = need(b, name);
	if (!t)
		return b->e->code;
	if (t->ndim != 1) {
		char found[128];
		shape_str(t, found, sizeof found);
		return err_set(b->e, ERR_FORMAT, "%s (%s): expected shape [%llu], found %s", name,
			       shard_of(b, name), (unsigned long long)len, found);
	}
	return to_f32(b, t, len, out);
}

/*
 * The FP8 contract of kern.h, checked here once per load so that no kernel checks it per
 * token: finite block scales below KERN_FP8_SCALE_MAX and no e4m3 NaN byte. Either one
 * means a damaged or wrongly converted file, which would otherwise answer with NaNs.
 */
static int check_fp8(struct binder *b, const char *name, const char *sname,
		     const struct kern_mat *m, uint64_t nscales)
{
	for (uint64_t i = 0; i < nscales; i++) {
		float v = m->scale[i];
		if (!(fabsf(v) < KERN_FP8_SCALE_MAX))
			return err_set(b->e, ERR_FORMAT, "%s (%s): block scale %llu is %g; scales "
				       "must be finite and below 2^64 (%g). The file is damaged or was "
				       "converted wrongly: download or convert it again", sname,
				       shard_of(b, sname), (unsigned long long)i, (double)v,
				       (double)KERN_FP8_SCALE_MAX);
	}
	size_t n = m->rows * m->cols;
	size_t at = kern_fp8_find_nan(m->data, n);
	if (at < n)
		return err_set(b->e, ERR_FORMAT, "%s (%s): the FP8 weight at row %zu, column %zu is "
			       "a NaN byte (0x%02x). The file is damaged or was converted wrongly: "
			       "download or convert it again", name, shard_of(b, name), at / m->cols,
			       at % m->cols, ((const uint8_t *)m->data)[at]);
	return 0;
}

/* "<prefix>.weight" [rows][cols], FP8 when "<prefix>.weight_scale_inv" exists. */
static int bind_mat(struct binder *b, const char *prefix, uint64_t rows, uint64_t cols,
		    struct kern_mat *m)
{
	char name[512], sname[512];
	snprintf(name, sizeof name, "%s.weight", prefix);
	snprintf(sname, sizeof sname, "%s.weight_scale_inv", prefix);
	const struct st_tensor *t = need(b, name);
	if (!t)
		return b->e->code;
	int rc = check_shape2(b, t, rows, cols);
	if (rc)
		return rc;
	const struct st_tensor *s = ckpt_find(b->c, sname);
	memset(m, 0, sizeof *m);
	m->data = t->data;
	m->rows = rows;
	m->cols = cols;
	switch (t->dtype) {
	case ST_F32: m->dtype = KD_F32; break;
	case ST_BF16: m->dtype = KD_BF16; break;
	case ST_F16: m->dtype = KD_F16; break;
	case ST_F8_E4M3: m->dtype = KD_F8_E4M3; break;
	default:
		return err_set(b->e, ERR_UNSUPPORTED, "%s (%s): dtype %s is not supported for weights "
			       "(F8_E4M3 with weight_scale_inv, BF16, F16 or F32)", name,
			       shard_of(b, name), st_dtype_name(t->dtype));
	}
	if (m->dtype != KD_F8_E4M3) {
		if (s)
			return err_set(b->e, ERR_FORMAT, "%s (%s): has a scale tensor %s but is %s, "
				       "not F8_E4M3", name, shard_of(b, name), sname,
				       st_dtype_name(t->dtype));
		return 0;
	}
	if (!s)
		return err_set(b->e, ERR_FORMAT, "%s (%s): F8_E4M3 weight without its scale tensor %s",
			       name, shard_of(b, name), sname);
	uint64_t br = (rows + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK;
	uint64_t bc = (cols + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK;
	rc = check_shape2(b, s, br, bc);
	if (rc)
		return err_prefix(b->e, "FP8 scale blocks are %dx%d", KERN_FP8_BLOCK, KERN_FP8_BLOCK);
	if (s->dtype == ST_F32) {
		m->scale = s->data;
	} else {
		float *copy;
		rc = to_f32(b, s, br * bc, &copy);
		m->scale = copy;
		if (rc)
			return rc;
	}
	return check_fp8(b, name, sname, m, br * bc);
}

static int bind_mlp(struct binder *b, const char *prefix, uint64_t hidden, uint64_t inter,
		    struct mlp_weights *m)
{
	char p[400];
	int rc;
	snprintf(p, sizeof p, "%s.gate_proj", prefix);
	if ((rc = bind_mat(b, p, inter, hidden, &m->gate)))
		return rc;
	snprintf(p, sizeof p, "%s.up_proj", prefix);
	if ((rc = bind_mat(b, p, inter, hidden, &m->up)))
		return rc;
	snprintf(p, sizeof p, "%s.down_proj", prefix);
	return bind_mat(b, p, hidden, inter, &m->down);
}

static int bind_attn(struct binder *b, const char *prefix, struct mla_weights *a)
{
	const struct eng_config *c = b->cfg;
	uint64_t H = (uint64_t)c->num_attention_heads, D = (uint64_t)c->hidden_size;
	uint64_t qk = (uint64_t)(c->qk_nope_head_dim + c->qk_rope_head_dim);
	uint64_t lora = (uint64_t)c->kv_lora_rank, rope = (uint64_t)c->qk_rope_head_dim;
	uint64_t v = (uint64_t)c->v_head_dim;
	char p[400];
	int rc;
	if (c->q_lora_rank > 0) {
		uint64_t ql = (uint64_t)c->q_lora_rank;
		snprintf(p, sizeof p, "%s.q_a_proj", prefix);
		if ((rc = bind_mat(b, p, ql, D, &a->q_a)))
			return rc;
		snprintf(p, sizeof p, "%s.q_a_layernorm.weight", prefix);
		if ((rc = bind_vec(b, p, ql, &a->q_a_norm)))
			return rc;
		snprintf(p, sizeof p, "%s.q_b_proj", prefix);
		if ((rc = bind_mat(b, p, H * qk, ql, &a->q_b)))
			return rc;
	} else {
		snprintf(p, sizeof p, "%s.q_proj", prefix);
		if ((rc = bind_mat(b, p, H * qk, D, &a->q)))
			return rc;
	}
	snprintf(p, sizeof p, "%s.kv_a_proj_with_mqa", prefix);
	if ((rc = bind_mat(b, p, lora + rope, D, &a->kv_a)))
		return rc;
	snprintf(p, sizeof p, "%s.kv_a_layernorm.weight", prefix);
	if ((rc = bind_vec(b, p, lora, &a->kv_a_norm)))
		return rc;
	snprintf(p, sizeof p, "%s.kv_b_proj", prefix);
	if ((rc = bind_mat(b, p, H * (qk - rope + v), lora, &a->kv_b)))
		return rc;
	snprintf(p, sizeof p, "%s.o_proj", prefix);
	return bind_mat(b, p, D, H * v, &a->o);
}

/* A bias vector "<prefix>.bias" of len values when `want`, else it must be absent (a
   checkpoint with biases its config does not announce would be computed wrongly). */
static int bind_bias(struct binder *b, const char *prefix, bool want, uint64_t len, float **out)
{
	char name[420];
	snprintf(name, sizeof name, "%s.bias", prefix);
	if (want)
		return bind_vec(b, name, len, out);
	if (ckpt_find(b->c, name))
		return err_set(b->e, ERR_FORMAT, "%s (%s): the checkpoint has this bias but its "
			       "config.json does not say so (attention_bias); fix config.json",
			       name, shard_of(b, name));
	return 0;
}

static int bind_gqa(struct binder *b, const char *prefix, struct gqa_weights *a)
{
	const struct eng_config *c = b->cfg;
	uint64_t D = (uint64_t)c->hidden_size, d = (uint64_t)c->head_dim;
	uint64_t q = (uint64_t)c->num_attention_heads * d, kv = (uint64_t)c->num_key_value_heads * d;
	struct { const char *name; uint64_t rows, cols; struct kern_mat *m; float **bias;
		 bool has_bias; } proj[] = {
		{"q_proj", q, D, &a->q, &a->q_bias, c->qkv_bias},
		{"k_proj", kv, D, &a->k, &a->k_bias, c->qkv_bias},
		{"v_proj", kv, D, &a->v, &a->v_bias, c->qkv_bias},
		{"o_proj", D, q, &a->o, &a->o_bias, c->o_bias},
	};
	char p[420];
	int rc;
	for (size_t i = 0; i < sizeof proj / sizeof *proj; i++) {
		snprintf(p, sizeof p, "%s.%s", prefix, proj[i].name);
		if ((rc = bind_mat(b, p, proj[i].rows, proj[i].cols, proj[i].m)) ||
		    (rc = bind_bias(b, p, proj[i].has_bias, proj[i].rows, proj[i].bias)))
			return rc;
	}
	if (!c->qk_norm)
		return 0;
	snprintf(p, sizeof p, "%s.q_norm.weight", prefix);
	if ((rc = bind_vec(b, p, d, &a->q_norm)))
		return rc;
	snprintf(p, sizeof p, "%s.k_norm.weight", prefix);
	return bind_vec(b, p, d, &a->k_norm);
}

static int bind_moe(struct binder *b, const char *prefix, struct moe_weights *m)
{
	const struct eng_config *c = b->cfg;
	uint64_t E = (uint64_t)c->n_routed_experts, D = (uint64_t)c->hidden_size;
	uint64_t I = (uint64_t)c->moe_intermediate_size;
	char p[400];
	int rc;
	snprintf(p, sizeof p, "%s.gate", prefix);
	if ((rc = bind_mat(b, p, E, D, &m->router)))
		return rc;
	snprintf(p, sizeof p, "%s.gate.e_score_correction_bias", prefix);
	if (ckpt_find(b->c, p)) {
		if ((rc = bind_vec(b, p, E, &m->bias)))
			return rc;
	} else if (c->topk_method == TOPK_NOAUX_TC) {
		return err_set(b->e, ERR_FORMAT, "%s: topk_method \"noaux_tc\" needs tensor '%s', "
			       "which no shard has", ckpt_dir(b->c), p);
	}
	m->experts = calloc(E, sizeof *m->experts);
	if (!m->experts || (rc = keep_owned(b, m->experts)))
		return err_set(b->e, ERR_NOMEM, "out of memory for %llu experts",
			       (unsigned long long)E);
	for (uint64_t i = 0; i < E; i++) {
		snprintf(p, sizeof p, "%s.experts.%llu", prefix, (unsigned long long)i);
		if ((rc = bind_mlp(b, p, D, I, &m->experts[i])))
			return rc;
	}
	m->has_shared = c->n_shared_experts > 0;
	if (m->has_shared) {
		snprintf(p, sizeof p, "%s.shared_experts", prefix);
		return bind_mlp(b, p, D, I * (uint64_t)c->n_shared_experts, &m->shared);
	}
	return 0;
}

static int bind_layer(struct binder *b, int64_t index, struct layer_weights *l)
{
	const struct eng_config *c = b->cfg;
	char p[400], q[400];
	int rc;
	snprintf(p, sizeof p, "model.layers.%lld", (long long)index);
	snprintf(q, sizeof q, "%s.input_layernorm.weight", p);
	if ((rc = bind_vec(b, q, (uint64_t)c->hidden_size, &l->attn_norm)))
		return rc;
	snprintf(q, sizeof q, "%s.post_attention_layernorm.weight", p);
	if ((rc = bind_vec(b, q, (uint64_t)c->hidden_size, &l->mlp_norm)))
		return rc;
	snprintf(q, sizeof q, "%s.self_attn", p);
	rc = c->attn == ATTN_MLA ? bind_attn(b, q, &l->attn) : bind_gqa(b, q, &l->gqa);
	if (rc)
		return rc;
	/* moe_layer_freq is validated to be 1, so every layer from first_k_dense_replace on
	   is MoE (the MTP blocks included). */
	l->is_moe = c->n_routed_experts > 0 && index >= c->first_k_dense_replace;
	snprintf(q, sizeof q, "%s.mlp", p);
	if (l->is_moe)
		return bind_moe(b, q, &l->moe);
	return bind_mlp(b, q, (uint64_t)c->hidden_size, (uint64_t)c->intermediate_size, &l->mlp);
}

static int bind_mtp(struct binder *b, int64_t index, struct mtp_weights *m)
{
	const struct eng_config *c = b->cfg;
	uint64_t D = (uint64_t)c->hidden_size, V = (uint64_t)c->vocab_size;
	char p[400];
	int rc;
	snprintf(p, sizeof p, "model.layers.%lld.embed_tokens", (long long)index);
	char name[420];
	snprintf(name, sizeof name, "%s.weight", p);
	if (ckpt_find(b->c, name)) {
		if ((rc = bind_mat(b, p, V, D, &m->embed)))
			return rc;
	} else {
		m->embed = b->w->embed;
	}
	snprintf(p, sizeof p, "model.layers.%lld.enorm.weight", (long long)index);
	if ((rc = bind_vec(b, p, D, &m->enorm)))
		return rc;
	snprintf(p, sizeof p, "model.layers.%lld.hnorm.weight", (long long)index);
	if ((rc = bind_vec(b, p, D, &m->hnorm)))
		return rc;
	snprintf(p, sizeof p, "model.layers.%lld.eh_proj", (long long)index);
	if ((rc = bind_mat(b, p, D, 2 * D, &m->eh_proj)))
		return rc;
	if ((rc = bind_layer(b, index, &m->block)))
		return rc;
	snprintf(p, sizeof p, "model.layers.%lld.shared_head.norm.weight", (long long)index);
	if ((rc = bind_vec(b, p, D, &m->head_norm)))
		return rc;
	snprintf(p, sizeof p, "model.layers.%lld.shared_head.head", (long long)index);
	snprintf(name, sizeof name, "%s.weight", p);
	if (ckpt_find(b->c, name))
		return bind_mat(b, p, V, D, &m->head);
	m->head = b->w->lm_head;
	return 0;
}

int weights_bind(const struct ckpt *c, bool load_mtp, struct model_weights *w, struct err *e)
{
	const struct eng_config *cfg = ckpt_config(c);
	struct binder b = {c, cfg, w, e};
	uint64_t D = (uint64_t)cfg->hidden_size, V = (uint64_t)cfg->vocab_size;
	int rc;
	memset(w, 0, sizeof *w);
	if ((rc = bind_mat(&b, "model.embed_tokens", V, D, &w->embed)))
		goto fail;
	if ((rc = bind_vec(&b, "model.norm.weight", D, &w->norm)))
		goto fail;
	if (cfg->tie_word_embeddings && !ckpt_find(c, "lm_head.weight"))
		w->lm_head = w->embed;
	else if ((rc = bind_mat(&b, "lm_head", V, D, &w->lm_head)))
		goto fail;
	w->layers = calloc((size_t)cfg->num_hidden_layers, sizeof *w->layers);
	if (!w->layers) {
		rc = err_set(e, ERR_NOMEM, "out of memory for %lld layers",
			     (long long)cfg->num_hidden_layers);
		goto fail;
	}
	for (int64_t i = 0; i < cfg->num_hidden_layers; i++)
		if ((rc = bind_layer(&b, i, &w->layers[i])))
			goto fail;
	if (load_mtp && cfg->num_nextn_predict_layers > 0) {
		char probe[128];
		snprintf(probe, sizeof probe, "model.layers.%lld.eh_proj.weight",
			 (long long)cfg->num_hidden_layers);
		/* Many conversions drop the MTP weights; then MTP is simply unavailable. */
		if (ckpt_find(c, probe)) {
			int n = (int)cfg->num_nextn_predict_layers;
			w->mtp = calloc((size_t)n, sizeof *w->mtp);
			if (!w->mtp) {
				rc = err_set(e, ERR_NOMEM, "out of memory for MTP layers");
				goto fail;
			}
			w->n_mtp = n;
			for (int k = 0; k < n; k++)
				if ((rc = bind_mtp(&b, cfg->num_hidden_layers + k, &w->mtp[k])))
					goto fail;
		}
	}
	return 0;
fail:
	weights_release(w);
	return rc;
}

void weights_release(struct model_weights *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_owned; i++)
		free(w->owned[i]);
	free(w->owned);
	free(w->layers);
	free(w->mtp);
	memset(w, 0, sizeof *w);
}
