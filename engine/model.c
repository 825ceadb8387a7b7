/*
 * model.c — opening a model (checkpoint, weight binding, thread pool, kernels) and the
 * per-sequence state: compressed KV cache, token history, MTP ring and scratch.
 *
 * The KV cache is one anonymous MAP_NORESERVE mapping for the whole requested context:
 * it costs address space up front and memory only as positions are written, and its
 * full size is checked against the machine before anything is reserved.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/model.h"

static enum kern_dtype kv_dtype_of(enum eng_kv_type t)
{
	return t == ENG_KV_BF16 ? KD_BF16 : t == ENG_KV_FP8 ? KD_F8_E4M3 : KD_F32;
}

int eng_model_open(const char *dir, const struct eng_opts *o, struct eng_model **out,
		   struct err *e)
{
	struct eng_opts defaults = {0};
	if (!o)
		o = &defaults;
	*out = NULL;
	struct eng_model *m = calloc(1, sizeof *m);
	if (!m)
		return err_set(e, ERR_NOMEM, "out of memory opening %s", dir);
	int rc = ckpt_open(dir, &m->ckpt, e);
	if (rc)
		goto fail;
	m->cfg = ckpt_config(m->ckpt);
	if ((rc = weights_bind(m->ckpt, o->load_mtp, &m->w, e)))
		goto fail;
	if ((rc = rope_init(&m->rope, m->cfg, e)))
		goto fail;
	m->softmax_scale = (float)eng_config_softmax_scale(m->cfg);
	m->kv_type = o->kv_type;
	m->kv_dtype = kv_dtype_of(o->kv_type);
	if (o->kernels && *o->kernels) {
		m->ops = kern_cpu_by_name(o->kernels);
		if (!m->ops) {
			rc = err_set(e, ERR_USAGE, "kernels '%s' are unknown or not supported by "
				     "this CPU; use reference, scalar, avx2 or avx512", o->kernels);
			goto fail;
		}
	} else {
		m->ops = kern_cpu_best();
	}
	m->pool = kern_pool_new(o->threads);
	if (!m->pool) {
		rc = err_set(e, ERR_NOMEM, "could not start %d worker threads", o->threads);
		goto fail;
	}
	if (o->head == ENG_HEAD_FP8 && (rc = model_head_fp8(m, e)))
		goto fail;
	m->head_type = m->w.lm_head.dtype == KD_F8_E4M3 ? ENG_HEAD_FP8 : ENG_HEAD_STORED;
	const struct eng_config *c = m->cfg;
	m->max_inter = (size_t)c->intermediate_size;
	size_t shared = (size_t)(c->moe_intermediate_size * c->n_shared_experts);
	if (shared > m->max_inter)
		m->max_inter = shared;
	if ((size_t)c->moe_intermediate_size > m->max_inter)
		m->max_inter = (size_t)c->moe_intermediate_size;
	*out = m;
	return 0;
fail:
	eng_model_close(m);
	return rc;
}

void eng_model_close(struct eng_model *m)
{
	if (!m)
		return;
	kern_pool_free(m->pool);
	rope_release(&m->rope);
	weights_release(&m->w);
	for (int i = 0; i < m->n_head_q; i++)
		free(m->head_q[i]);
	ckpt_close(m->ckpt);
	free(m);
}

const struct eng_config *eng_model_config(const struct eng_model *m) { return m->cfg; }
const char *eng_model_dir(const struct eng_model *m) { return ckpt_dir(m->ckpt); }
bool eng_model_has_mtp(const struct eng_model *m) { return m->w.n_mtp > 0; }
int eng_model_threads(const struct eng_model *m) { return kern_pool_threads(m->pool); }
const char *eng_model_kernels(const struct eng_model *m) { return m->ops->name; }
enum eng_kv_type eng_model_kv_type(const struct eng_model *m) { return m->kv_type; }
enum eng_head_type eng_model_head_type(const struct eng_model *m) { return m->head_type; }

size_t model_kv_row_bytes(const struct eng_config *c, enum kern_dtype t)
{
	if (c->attn == ATTN_GQA)
		return 2 * (size_t)c->num_key_value_heads * kern_kv_row_bytes(t, (size_t)c->head_dim);
	return kern_kv_row_bytes(t, (size_t)(c->kv_lora_rank + c->qk_rope_head_dim));
}

uint64_t eng_kv_bytes_per_token(const struct eng_config *c, bool mtp, enum eng_kv_type t)
{
	uint64_t layers = (uint64_t)c->num_hidden_layers + (mtp ? 1 : 0);
	return layers * model_kv_row_bytes(c, kv_dtype_of(t));
}

/* MemAvailable from /proc/meminfo in bytes; 0 when unknown. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long kb = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* Carves the scratch arrays out of one allocation. */
static int scratch_alloc(struct eng_state *st, struct err *e)
{
	const struct eng_config *c = st->m->cfg;
	struct fwd_scratch *s = &st->s;
	size_t N = FWD_CHUNK, D = (size_t)c->hidden_size, H = (size_t)c->num_attention_heads;
	size_t C = (size_t)c->kv_lora_rank, R = (size_t)c->qk_rope_head_dim;
	size_t P = (size_t)c->qk_nope_head_dim, Vh = (size_t)c->v_head_dim;
	size_t E = (size_t)c->n_routed_experts, K = (size_t)c->num_experts_per_tok;
	size_t T = (size_t)kern_pool_threads(st->m->pool), I = st->m->max_inter;
	size_t QL = (size_t)c->q_lora_rank;
	size_t in_w = P > C ? P : C, out_w = C > Vh ? C : Vh;
	/* GQA: q and the attention output are H heads of Dh, k and v Hk heads of Dh. */
	size_t Dh = (size_t)c->head_dim, KV = (size_t)c->num_key_value_heads * Dh;
	size_t q_w = P + R > Dh ? P + R : Dh, o_w = Vh > Dh ? Vh : Dh;
	size_t half = (size_t)eng_config_rope_dim(c) / 2;
	struct { float **f; int32_t **i; size_t count; } parts[] = {
		{&s->x, NULL, N * D}, {&s->xn, NULL, N * D}, {&s->y, NULL, N * D},
		{&s->cat, NULL, N * 2 * D}, {&s->qa, NULL, N * (QL ? QL : 1)},
		{&s->q, NULL, N * H * q_w}, {&s->kv, NULL, N * (C + R)},
		{&s->k, NULL, N * (KV ? KV : 1)}, {&s->v, NULL, N * (KV ? KV : 1)},
		{&s->q_lat, NULL, N * H * C}, {&s->q_pe, NULL, N * H * R},
		{&s->out_lat, NULL, N * H * C}, {&s->o_in, NULL, N * H * o_w},
		{&s->head_in, NULL, T * N * in_w}, {&s->head_out, NULL, T * N * out_w},
		{&s->cos, NULL, N * (half + 1)}, {&s->sin, NULL, N * (half + 1)},
		{&s->attn, NULL, T * st->ctx}, {&s->h, NULL, 2 * N * I},
		{&s->scores, NULL, N * (E ? E : 1)}, {NULL, &s->topk, N * (K ? K : 1)},
		{&s->topk_w, NULL, N * (K ? K : 1)}, {NULL, &s->counts, E + 1},
		{NULL, &s->rows, N * (K ? K : 1)}, {&s->row_w, NULL, N * (K ? K : 1)},
		{&s->xs, NULL, N * D}, {&s->ys, NULL, N * D},
	};
	size_t total = 0;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
		total += (parts[i].count + 15) & ~(size_t)15; /* 64-byte aligned pieces */
	char *block = aligned_alloc(64, total * 4);
	if (!block)
		return err_set(e, ERR_NOMEM, "out of memory: %zu MiB of scratch for the forward pass",
			       total * 4 >> 20);
	s->block = block;
	for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
		if (parts[i].f)
			*parts[i].f = (float *)block;
		else
			*parts[i].i = (int32_t *)block;
		block += ((parts[i].count + 15) & ~(size_t)15) * 4;
	}
	return 0;
}

int eng_state_new(struct eng_model *m, int64_t ctx, bool mtp, struct eng_state **out,
		  struct err *e)
{
	const struct eng_config *c = m->cfg;
	*out = NULL;
	if (ctx <= 0 || ctx > c->max_position_embeddings)
		return err_set(e, ERR_USAGE, "context of %lld tokens is outside what the model "
			       "supports (1..%lld); choose --ctx in that range", (long long)ctx,
			       (long long)c->max_position_embeddings);
	struct eng_state *st = calloc(1, sizeof *st);
	if (!st)
		return err_set(e, ERR_NOMEM, "out of memory for a sequence");
	st->m = m;
	st->ctx = (size_t)ctx;
	st->row = model_kv_row_bytes(c, m->kv_dtype);
	st->mtp = mtp && m->w.n_mtp > 0;
	int rc;

	uint64_t kv = eng_kv_bytes_per_token(c, st->mtp, m->kv_type) * st->ctx;
	uint64_t avail = mem_available();
	if (avail && kv > avail - avail / 10) {
		rc = err_set(e, ERR_NOMEM, "the KV cache for a context of %zu tokens needs %.1f GiB "
			     "(%.1f KiB per token) but only %.1f GiB of memory is available; "
			     "lower --ctx", st->ctx, (double)kv / (1 << 30),
			     (double)(kv / st->ctx) / 1024, (double)avail / (1 << 30));
		goto fail;
	}
	st->kv_bytes = (size_t)kv;
	void *p = mmap(NULL, st->kv_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		rc = err_set(e, ERR_NOMEM, "could not reserve %.1f GiB of address space for the KV "
			     "cache; lower --ctx", (double)kv / (1 << 30));
		goto fail;
	}
	st->kv = p;
	st->tokens = malloc(st->ctx * sizeof *st->tokens);
	if (!st->tokens) {
		rc = err_set(e, ERR_NOMEM, "out of memory for the token history");
		goto fail;
	}
	if (st->mtp) {
		st->ring = FWD_CHUNK + MTP_RING_SLACK + 1;
		st->hidden = malloc(st->ring * (size_t)c->hidden_size * sizeof *st->hidden);
		if (!st->hidden) {
			rc = err_set(e, ERR_NOMEM, "out of memory for MTP hidden states");
			goto fail;
		}
	}
	if ((rc = scratch_alloc(st, e)))
		goto fail;
	*out = st;
	return 0;
fail:
	eng_state_free(st);
	return rc;
}

void eng_state_free(struct eng_state *st)
{
	if (!st)
		return;
	if (st->kv)
		munmap(st->kv, st->kv_bytes);
	free(st->tokens);
	free(st->hidden);
	free(st->s.block);
	free(st);
}

size_t eng_state_pos(const struct eng_state *s) { return s->pos; }
void eng_state_set_abort(struct eng_state *s, const volatile sig_atomic_t *flag) { s->abort = flag; }
size_t eng_state_ctx(const struct eng_state *s) { return s->ctx; }
const int32_t *eng_state_tokens(const struct eng_state *s) { return s->tokens; }
size_t eng_state_mtp_pos(const struct eng_state *s) { return s->mtp_pos; }

void eng_state_truncate(struct eng_state *s, size_t pos)
{
	if (pos >= s->pos)
		return;
	size_t oldest_hidden = s->pos > s->ring ? s->pos - s->ring : 0;
	s->pos = pos;
	if (!s->mtp || s->mtp_pos + 1 <= pos)
		return;
	/* MTP row i used token i+1, so rows from pos-1 on are stale. Recomputing row pos-1
	   needs the hidden state at pos-1; when the ring no longer has it, that position is
	   dropped too so that the next forward recomputes it (the caller continues from
	   eng_state_pos with the same token). */
	if (pos && pos - 1 < oldest_hidden)
		state_drop_last_hidden(s);
	else
		s->mtp_pos = pos ? pos - 1 : 0;
}

void state_drop_last_hidden(struct eng_state *s)
{
	/* Rows [0, pos-1) stay valid: row pos-2 used token pos-1, which is fed again. Marking
	   that row as a draft made with this token keeps it unless another token follows. */
	s->pos--;
	s->mtp_pos = s->pos;
	s->mtp_next = s->tokens[s->pos];
}

size_t eng_state_common_prefix(const struct eng_state *s, const int32_t *ids, size_t n)
{
	size_t i = 0;
	while (i < n && i < s->pos && s->tokens[i] == ids[i])
		i++;
	return i;
}
