/*
 * convert_plan.c — the output of ponder convert --fp8, planned from the source's
 * headers alone (see convert_plan.h; the rule is eng_convert_wants_fp8).
 *
 * Shards fill greedily in output order up to the limit; a weight and its scale count as
 * one unit so that they never straddle two shards. Sizes are uint64_t and every sum and
 * product is checked: the headers are input from strangers.
 */
#include "engine/convert_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/convert_fp8.h"
#include "kernels/kern.h"

#define SCALE_SUFFIX "_scale_inv"
#define MAX_SHARDS 99999

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool eng_convert_wants_fp8(const char *name, bool head_fp8)
{
	if (head_fp8 && !strcmp(name, "lm_head.weight"))
		return true;
	/* kv_a_proj_with_mqa is a projection too (DeepSeek ships it in FP8) */
	if (!ends_with(name, "_proj.weight") && !ends_with(name, "_proj_with_mqa.weight"))
		return false;
	/* the MTP module's eh_proj mixes two normed streams: DeepSeek keeps it in BF16 */
	return !(ends_with(name, ".eh_proj.weight") || !strcmp(name, "eh_proj.weight"));
}

void cv_plan_free(struct cv_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->it[i].scale_name);
	free(p->it);
	memset(p, 0, sizeof *p);
}

static struct cv_item *add(struct cv_plan *p, size_t src, enum cv_kind kind,
			   const struct st_tensor *t)
{
	struct cv_item *it = &p->it[p->n++];
	memset(it, 0, sizeof *it);
	it->src = src;
	it->kind = kind;
	it->out.name = t->name;
	it->out.dtype = t->dtype;
	it->out.ndim = t->ndim;
	memcpy(it->out.shape, t->shape, sizeof it->out.shape);
	it->bytes = t->nbytes;
	return it;
}

/* "<name>_scale_inv", allocated; NULL when out of memory. */
static char *scale_name_of(const char *name)
{
	size_t len = strlen(name);
	char *s = malloc(len + sizeof SCALE_SUFFIX);
	if (s) {
		memcpy(s, name, len);
		memcpy(s + len, SCALE_SUFFIX, sizeof SCALE_SUFFIX);
	}
	return s;
}

/* The quantised weight and its scale tensor, after the checks that make it possible. */
static int add_quant(struct cv_plan *p, const struct ckpt_files *f, size_t i, struct err *e)
{
	const struct st_tensor *t = ckpt_files_at(f, i);
	const char *file = ckpt_files_file_at(f, i);
	char *sname = scale_name_of(t->name);
	if (!sname)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (ckpt_files_find(f, sname)) {
		int rc = err_set(e, ERR_FORMAT, "%s: tensor \"%s\" is %s, yet the checkpoint also "
				 "holds %s, which only an F8_E4M3 weight has: the checkpoint is "
				 "inconsistent", file, t->name, st_dtype_name(t->dtype), sname);
		free(sname);
		return rc;
	}
	uint64_t rows = t->shape[0], cols = t->shape[1];
	struct cv_item *q = add(p, i, CV_QUANT, t);
	q->out.dtype = ST_F8_E4M3;
	q->bytes = t->nelem; /* one byte per value; nelem was checked by st_open */
	struct cv_item *s = add(p, i, CV_SCALE, t);
	s->scale_name = sname;
	s->out.name = sname;
	s->out.dtype = ST_F32;
	s->out.shape[0] = rows / KERN_FP8_BLOCK + (rows % KERN_FP8_BLOCK != 0);
	s->out.shape[1] = cols / KERN_FP8_BLOCK + (cols % KERN_FP8_BLOCK != 0);
	int rc = st_wtensor_bytes(&s->out, &s->bytes, e);
	if (rc)
		return err_prefix(e, "%s", file);
	p->quantised++;
	return 0;
}

/* One source tensor: copied, or quantised with a new scale; refused when the rule picks
   it and it cannot be. */
static int plan_tensor(struct cv_plan *p, const struct ckpt_files *f, size_t i,
		       bool head_fp8, struct err *e)
{
	const struct st_tensor *t = ckpt_files_at(f, i);
	const char *file = ckpt_files_file_at(f, i);
	if (!eng_convert_wants_fp8(t->name, head_fp8) || t->ndim != 2 || t->nelem == 0) {
		add(p, i, CV_COPY, t);
		return 0;
	}
	bool head = !strcmp(t->name, "lm_head.weight");
	switch (t->dtype) {
	case ST_BF16:
	case ST_F16:
	case ST_F32:
		p->head_quantised |= head;
		return add_quant(p, f, i, e);
	case ST_F8_E4M3: {
		char *sname = scale_name_of(t->name);
		if (!sname)
			return err_set(e, ERR_NOMEM, "out of memory");
		bool has = ckpt_files_find(f, sname) != NULL;
		free(sname);
		if (!has)
			return err_set(e, ERR_FORMAT, "%s: tensor \"%s\" is F8_E4M3 without its scale "
				       "tensor %s" SCALE_SUFFIX ": the checkpoint is damaged or "
				       "incomplete", file, t->name, t->name);
		p->fp8_kept++;
		add(p, i, CV_COPY, t);
		return 0;
	}
	default:
		return err_set(e, ERR_UNSUPPORTED, "%s: tensor \"%s\" is %s: convert --fp8 "
			       "quantises BF16, F16 or F32 matrices (and keeps F8_E4M3 ones); "
			       "convert this checkpoint to BF16 first", file, t->name,
			       st_dtype_name(t->dtype));
	}
}

/* Shards in output order; a quantised weight and its scale are one unit. */
static int assign_shards(struct cv_plan *p, uint64_t limit, struct err *e)
{
	uint64_t used = 0;
	size_t shard = 0;
	for (size_t i = 0; i < p->n;) {
		size_t k = p->it[i].kind == CV_QUANT ? 2 : 1;
		uint64_t b = p->it[i].bytes, sum;
		if (k == 2 && __builtin_add_overflow(b, p->it[i + 1].bytes, &b))
			return err_set(e, ERR_RANGE, "tensor \"%s\": size overflows", p->it[i].out.name);
		if (used && (__builtin_add_overflow(used, b, &sum) || sum > limit)) {
			shard++;
			used = 0;
		}
		used += b; /* b <= one tensor plus its scale: cannot pass 2^64 from 0 */
		for (size_t j = i; j < i + k; j++)
			p->it[j].shard = shard;
		if (__builtin_add_overflow(p->bytes_out, b, &p->bytes_out))
			return err_set(e, ERR_RANGE, "the output's size overflows 64 bits");
		i += k;
	}
	p->nshards = shard + 1;
	if (p->nshards > MAX_SHARDS)
		return err_set(e, ERR_RANGE, "%zu shards is more than the model-NNNNN-of-NNNNN names "
			       "hold: allow larger shards", p->nshards);
	return 0;
}

int cv_plan_build(const struct ckpt_files *f, bool head_fp8, uint64_t shard_bytes,
		  struct cv_plan *p, struct err *e)
{
	memset(p, 0, sizeof *p);
	size_t n = ckpt_files_count(f);
	if (n > SIZE_MAX / 2 / sizeof *p->it)
		return err_set(e, ERR_RANGE, "%zu tensors is too many", n);
	p->it = calloc(2 * n + 1, sizeof *p->it); /* at most a scale per tensor */
	if (!p->it)
		return err_set(e, ERR_NOMEM, "out of memory for %zu tensors", n);
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		const struct st_tensor *t = ckpt_files_at(f, i);
		if (__builtin_add_overflow(p->bytes_in, t->nbytes, &p->bytes_in))
			rc = err_set(e, ERR_RANGE, "the source's size overflows 64 bits");
		else
			rc = plan_tensor(p, f, i, head_fp8, e);
	}
	if (!rc)
		rc = assign_shards(p, shard_bytes ? shard_bytes : ENG_CONVERT_SHARD_DEFAULT, e);
	p->head_tied = head_fp8 && !ckpt_files_find(f, "lm_head.weight");
	if (rc)
		cv_plan_free(p);
	return rc;
}
