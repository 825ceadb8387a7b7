/*
 * convert_fp8.c — ponder convert --fp8: the run (see convert_fp8.h for what it makes).
 *
 * Order: the source's config.json (refused when already quantised), its shards
 * (ckpt_files: index and headers validated, data mmapped), the plan (convert_plan.c:
 * every output tensor, size and shard, before a byte is written), the output folder
 * (new or empty, enough free space), then the shards one by one, the index, the
 * tokenizer files, and config.json last. Any error, or *stop, ends the run with the
 * output folder's files removed (out_dir.c).
 *
 * A quantised matrix goes through in chunks of whole 128-row bands, about 64 MiB
 * (chunk_bytes) of FP8 each (at least two bands per thread): kern_quantize_fp8 splits a chunk's bands
 * over the pool, the chunk's scales are checked (a NaN, an infinity or a value past what
 * FP8 scales may hold in the source is refused, naming the tensor and block), and the
 * chunk is written. Its scale tensor, ceil(rows/128) x ceil(cols/128) floats, is kept
 * whole and then written into its place. A copied tensor is written straight from the
 * mapping in chunks of the same size. In the file, a shard's tensors are grouped by
 * element size, largest first (source order within a group), so that each is aligned
 * to its element size; the writer fills each in its place, in source order. After each
 * source tensor its pages are given back (MADV_DONTNEED on a read-only private mapping
 * only drops page-cache references), so the resident size stays that of one chunk
 * however large the model.
 */
#include "engine/convert_fp8.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ckpt_files.h"
#include "engine/convert_plan.h"
#include "engine/out_dir.h"
#include "kernels/kern.h"

#define CHUNK_DEFAULT (64u << 20)
#define MAX_CONFIG_BYTES (16u << 20)

/* Files copied from SRC when present (the weights and config.json are written). */
static const char *const side_files[] = {
	"tokenizer.json", "tokenizer_config.json", "generation_config.json",
	"special_tokens_map.json",
};

struct run {
	const struct eng_convert_opts *o;
	const struct ckpt_files *src;
	struct cv_plan plan;
	struct out_dir *out;
	struct kern_pool *pool;
	uint8_t *qbuf;  /* one chunk of FP8 */
	size_t qcap;
	float *scale;   /* the current matrix's scales */
	size_t scap;
	struct eng_convert_progress prog;
	size_t chunk;   /* bytes handled at a time */
};

static int path_in(char *buf, size_t cap, const char *dir, const char *name, struct err *e)
{
	int k = snprintf(buf, cap, "%s/%s", dir, name);
	if (k < 0 || (size_t)k >= cap)
		return err_set(e, ERR_RANGE, "%s/%s: path too long", dir, name);
	return 0;
}

/* The source's config.json: a JSON object, not quantised already. */
static int load_config(const char *src, json_t **out, struct err *e)
{
	char path[PATH_MAX];
	int rc = path_in(path, sizeof path, src, "config.json", e);
	if (rc)
		return rc;
	struct stat st;
	if (stat(src, &st) != 0)
		return err_set(e, ERR_IO, "%s: %s: name the folder of a Hugging Face checkpoint",
			       src, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return err_set(e, ERR_USAGE, "%s is not a folder: name the folder of a Hugging Face "
			       "checkpoint (config.json and safetensors shards)", src);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return err_set(e, ERR_MODEL, "%s has no config.json: not a Hugging Face checkpoint "
			       "folder (config.json, then model.safetensors or shards with "
			       "model.safetensors.index.json)", src);
	if (st.st_size > (off_t)MAX_CONFIG_BYTES)
		return err_set(e, ERR_FORMAT, "%s: %lld bytes is far too large for a config.json",
			       path, (long long)st.st_size);
	json_error_t je;
	json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!c)
		return err_set(e, ERR_FORMAT, "%s: not valid JSON: %s (line %d)", path, je.text,
			       je.line);
	if (!json_is_object(c)) {
		json_decref(c);
		return err_set(e, ERR_FORMAT, "%s is not a JSON object", path);
	}
	json_t *q = json_object_get(c, "quantization_config");
	if (q && !json_is_null(q)) {
		json_t *m = json_is_object(q) ? json_object_get(q, "quant_method") : NULL;
		const char *method = json_is_string(m) ? json_string_value(m) : "an unknown method";
		if (!strcmp(method, "fp8"))
			rc = err_set(e, ERR_UNSUPPORTED, "%s is already FP8 (its config.json has "
				     "quantization_config fp8): ponder runs it as it is, nothing to "
				     "convert", src);
		else
			rc = err_set(e, ERR_UNSUPPORTED, "%s is quantised already (quantization_config "
				     "%.60s): convert --fp8 takes BF16, F16 or F32 checkpoints", src,
				     method);
		json_decref(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int stopped(const struct run *r, struct err *e)
{
	if (r->o->stop && *r->o->stop)
		return err_set(e, ERR_INTERRUPTED, "conversion stopped; the partial output in %s "
			       "was removed", r->o->dst);
	return 0;
}

static void report(struct run *r)
{
	if (r->o->progress)
		r->o->progress(r->o->ud, &r->prog);
}

/* Gives back the page-aligned interior of [p, p + n) of a read-only mapping. */
static void drop_pages(const void *p, uint64_t n)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0 || n == 0)
		return;
	uintptr_t b = (uintptr_t)p, end = b + (uintptr_t)n;
	uintptr_t a0 = (b + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
	uintptr_t a1 = end / (uintptr_t)pg * (uintptr_t)pg;
	if (a1 > a0)
		madvise((void *)a0, a1 - a0, MADV_DONTNEED);
}

static int grow(void **buf, size_t *cap, size_t need, struct err *e)
{
	if (need <= *cap)
		return 0;
	void *p = realloc(*buf, need);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory (%zu MB for one chunk)", need >> 20);
	*buf = p;
	*cap = need;
	return 0;
}

static int copy_tensor(struct run *r, struct st_writer *w, size_t at,
		       const struct st_tensor *t, struct err *e)
{
	const uint8_t *p = t->data;
	for (uint64_t off = 0; off < t->nbytes;) {
		size_t k = t->nbytes - off < r->chunk ? (size_t)(t->nbytes - off) : r->chunk;
		int rc = st_writer_put_tensor(w, at, p + off, k, e);
		if (!rc)
			rc = stopped(r, e);
		if (rc)
			return rc;
		off += k;
		r->prog.bytes_done += k;
		report(r);
	}
	return 0;
}

/* Scales of one chunk, [bands][bc]: each must be finite and within the FP8 contract. */
static int check_scales(const struct run *r, size_t i, const float *s, size_t bands,
			size_t bc, size_t band0, struct err *e)
{
	for (size_t k = 0; k < bands * bc; k++)
		if (!(s[k] < KERN_FP8_SCALE_MAX))
			return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": the block at rows %zu.., "
				       "columns %zu.. holds a NaN, an infinity or values beyond "
				       "%.3g, which FP8 cannot hold: the source is damaged",
				       ckpt_files_file_at(r->src, i), ckpt_files_at(r->src, i)->name,
				       (band0 + k / bc) * KERN_FP8_BLOCK, k % bc * KERN_FP8_BLOCK,
				       (double)KERN_FP8_SCALE_MAX * 448);
	return 0;
}

/* The matrix of source tensor i as FP8 e4m3, chunk by chunk; its scales end in r->scale. */
static int quant_tensor(struct run *r, struct st_writer *w, size_t at, size_t i,
			struct err *e)
{
	const struct st_tensor *t = ckpt_files_at(r->src, i);
	if (t->shape[0] > SIZE_MAX || t->shape[1] > SIZE_MAX || t->nbytes > SIZE_MAX)
		return err_set(e, ERR_RANGE, "tensor \"%s\" is too large for this machine", t->name);
	size_t rows = (size_t)t->shape[0], cols = (size_t)t->shape[1];
	size_t es = st_dtype_size(t->dtype);
	size_t br = rows / KERN_FP8_BLOCK + (rows % KERN_FP8_BLOCK != 0);
	size_t bc = cols / KERN_FP8_BLOCK + (cols % KERN_FP8_BLOCK != 0);
	size_t band_bytes, scale_bytes; /* one band of FP8; every scale */
	if (__builtin_mul_overflow(cols, (size_t)KERN_FP8_BLOCK, &band_bytes) ||
	    __builtin_mul_overflow(br * bc, sizeof(float), &scale_bytes)) /* br*bc <= nelem */
		return err_set(e, ERR_RANGE, "tensor \"%s\" is too large for this machine", t->name);
	size_t bands = band_bytes >= r->chunk ? 1 : r->chunk / band_bytes;
	size_t busy = 2 * (size_t)kern_pool_threads(r->pool); /* bands are the unit of work */
	if (bands < busy)
		bands = busy;
	if (bands > br)
		bands = br;
	size_t chunk;
	if (__builtin_mul_overflow(bands, band_bytes, &chunk))
		return err_set(e, ERR_RANGE, "tensor \"%s\" is too large for this machine", t->name);
	int rc = grow((void **)&r->qbuf, &r->qcap, chunk, e);
	if (!rc)
		rc = grow((void **)&r->scale, &r->scap, scale_bytes, e);
	if (rc)
		return rc;
	struct kern_mat m = {(enum kern_dtype)st_dtype_to_kern(t->dtype), t->data, NULL, 0, rows,
			     cols};
	for (size_t b0 = 0; b0 < br; b0 += bands) {
		size_t nb = br - b0 < bands ? br - b0 : bands;
		size_t r0 = b0 * KERN_FP8_BLOCK;
		size_t nr = rows - r0 < nb * KERN_FP8_BLOCK ? rows - r0 : nb * KERN_FP8_BLOCK;
		struct kern_mat v = kern_mat_rows(&m, r0, nr);
		float *sc = r->scale + b0 * bc;
		kern_quantize_fp8(r->pool, r->qbuf, sc, &v);
		rc = check_scales(r, i, sc, nb, bc, b0, e);
		if (!rc)
			rc = st_writer_put_tensor(w, at, r->qbuf, nr * cols, e);
		if (!rc)
			rc = stopped(r, e);
		if (rc)
			return rc;
		r->prog.bytes_done += nr * cols * es;
		report(r);
	}
	return 0;
}

/* Where each of the shard's items lies in the file: larger element sizes first (8, 4, 2,
   1 bytes), plan order within a size, so that every tensor is aligned to its element
   size as Hugging Face's writer leaves them (FP8 weights of odd sizes would otherwise
   misalign the F32 scales after them). pos[k - first] is item k's index in wt. */
static void order_shard(const struct cv_plan *p, size_t first, size_t last,
			struct st_wtensor *wt, size_t *pos)
{
	size_t j = 0;
	for (size_t es = 8; es >= 1; es /= 2)
		for (size_t k = first; k < last; k++) {
			size_t s = st_dtype_size(p->it[k].out.dtype);
			if (s == es) {
				pos[k - first] = j;
				wt[j++] = p->it[k].out;
			}
		}
}

/* Shard s: its tensors' header, then their data, source tensor by source tensor in plan
   order, each written into its place. */
static int write_shard(struct run *r, size_t s, size_t *item, struct err *e)
{
	const struct cv_plan *p = &r->plan;
	size_t first = *item, last = first;
	while (last < p->n && p->it[last].shard == s)
		last++;
	struct st_wtensor *wt = malloc((last - first) * sizeof *wt);
	size_t *pos = malloc((last - first) * sizeof *pos);
	if (!wt || !pos) {
		free(wt);
		free(pos);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	order_shard(p, first, last, wt, pos);
	char name[64], path[PATH_MAX];
	st_shard_name(name, sizeof name, s, p->nshards);
	struct st_writer *w = NULL;
	int rc = out_dir_path(r->out, name, path, sizeof path, e);
	if (!rc)
		rc = st_writer_open(path, wt, last - first, &w, e);
	free(wt);
	for (size_t k = first; !rc && k < last; k++) {
		const struct cv_item *it = &p->it[k];
		const struct st_tensor *t = ckpt_files_at(r->src, it->src);
		size_t at = pos[k - first];
		if (it->kind == CV_COPY)
			rc = copy_tensor(r, w, at, t, e);
		else if (it->kind == CV_QUANT)
			rc = quant_tensor(r, w, at, it->src, e);
		else
			rc = st_writer_put_tensor(w, at, r->scale, (size_t)it->bytes, e);
		if (rc || it->kind == CV_QUANT)
			continue; /* a quantised tensor is done with its scale */
		drop_pages(t->data, t->nbytes);
		r->prog.tensors_done++;
		report(r);
	}
	free(pos);
	if (rc) {
		st_writer_abort(w);
		return rc;
	}
	*item = last;
	return st_writer_close(w, e);
}

static int write_index(struct run *r, struct err *e)
{
	char name[64];
	json_t *map = json_object();
	json_t *idx = map ? json_pack("{s:{s:I},s:o}", "metadata", "total_size",
				      (json_int_t)r->plan.bytes_out, "weight_map", map) : NULL;
	int rc = idx ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	for (size_t k = 0; !rc && k < r->plan.n; k++) {
		st_shard_name(name, sizeof name, r->plan.it[k].shard, r->plan.nshards);
		if (json_object_set_new(map, r->plan.it[k].out.name, json_string(name)))
			rc = err_set(e, ERR_NOMEM, "out of memory");
	}
	if (!rc)
		rc = out_dir_put_json(r->out, CKPT_INDEX_NAME, idx, e);
	json_decref(idx);
	return rc;
}

static int copy_side_files(struct run *r, struct err *e)
{
	char from[PATH_MAX];
	for (size_t k = 0; k < sizeof side_files / sizeof *side_files; k++) {
		int rc = path_in(from, sizeof from, r->o->src, side_files[k], e);
		if (rc)
			return rc;
		if (access(from, F_OK) != 0)
			continue;
		if ((rc = out_dir_copy(r->out, from, side_files[k], e)))
			return rc;
	}
	return 0;
}

static int write_config(struct run *r, json_t *cfg, struct err *e)
{
	json_t *q = json_pack("{s:s,s:s,s:s,s:[i,i]}", "activation_scheme", "dynamic", "fmt",
			      "e4m3", "quant_method", "fp8", "weight_block_size", KERN_FP8_BLOCK,
			      KERN_FP8_BLOCK);
	if (!q || json_object_set_new(cfg, "quantization_config", q))
		return err_set(e, ERR_NOMEM, "out of memory");
	return out_dir_put_json(r->out, "config.json", cfg, e);
}

/* Everything after the checks of the input: the output folder and its files. */
static int write_all_files(struct run *r, json_t *cfg, struct err *e)
{
	int rc = out_dir_open(r->o->dst, &r->out, e);
	if (rc)
		return rc;
	/* the shards' sizes plus a generous allowance for headers and the small files */
	uint64_t need = r->plan.bytes_out + (uint64_t)r->plan.nshards * (1u << 20) + (64u << 20);
	if ((rc = out_dir_check_space(r->out, need, e)))
		return rc;
	if (!(r->pool = kern_pool_new(r->o->threads)))
		return err_set(e, ERR_NOMEM, "cannot start %d threads", r->o->threads);
	report(r);
	size_t item = 0;
	for (size_t s = 0; !rc && s < r->plan.nshards; s++)
		rc = write_shard(r, s, &item, e);
	if (!rc)
		rc = write_index(r, e);
	if (!rc)
		rc = copy_side_files(r, e);
	if (!rc)
		rc = stopped(r, e);
	if (!rc)
		rc = write_config(r, cfg, e);
	if (!rc)
		out_dir_commit(r->out);
	return rc;
}

int eng_convert_fp8(const struct eng_convert_opts *o, struct eng_convert_stats *st,
		    struct err *e)
{
	memset(st, 0, sizeof *st);
	if (!o->src || !*o->src || !o->dst || !*o->dst)
		return err_set(e, ERR_USAGE, "convert needs a source and an output folder");
	struct run r = {.o = o, .chunk = o->chunk_bytes ? o->chunk_bytes : CHUNK_DEFAULT};
	struct ckpt_files *src = NULL;
	json_t *cfg = NULL;
	int rc = load_config(o->src, &cfg, e);
	if (!rc && (rc = ckpt_files_open(o->src, &src, e)) && rc != ERR_NOMEM)
		rc = e->code = ERR_MODEL;
	r.src = src;
	if (!rc)
		rc = cv_plan_build(src, o->head_fp8, o->shard_bytes, &r.plan, e);
	if (!rc) {
		r.prog.tensors = ckpt_files_count(src);
		r.prog.bytes = r.plan.bytes_in;
		rc = write_all_files(&r, cfg, e);
	}
	if (!rc) {
		st->tensors = ckpt_files_count(src);
		st->quantised = r.plan.quantised;
		st->fp8_kept = r.plan.fp8_kept;
		st->shards = r.plan.nshards;
		st->bytes_in = r.plan.bytes_in;
		st->bytes_out = r.plan.bytes_out;
		st->head_quantised = r.plan.head_quantised;
		st->head_tied = r.plan.head_tied;
	}
	out_dir_close(r.out);
	kern_pool_free(r.pool);
	free(r.qbuf);
	free(r.scale);
	cv_plan_free(&r.plan);
	ckpt_files_close(src);
	json_decref(cfg);
	return rc;
}
