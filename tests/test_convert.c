/*
 * test_convert.c — ponder convert --fp8 (engine/convert_fp8.c) and the safetensors
 * writer it shares with tools/synth_checkpoint.c (engine/st_write.c).
 *
 * On the fixtures (SKIP when ../shared/fixtures is absent): tiny-v2lite (BF16 DeepSeek)
 * converts; the output opens with ckpt_open; every "_proj.weight" matrix is F8_E4M3 with
 * a [ceil(rows/128)][ceil(cols/128)] F32 scale in its shard and dequantises to within
 * e4m3's rounding of the source; every other tensor (embeddings, norms, router, head) is
 * byte-identical; shards fill in the source's order and keep it within each element
 * size, every tensor aligned to its element size; config.json is the source's plus
 * quantization_config, key order kept. Logits on the golden prompts (prefill rows and the greedy
 * continuation fed one token at a time) are compared with the reference's as
 * test_engine.c does (per row max |ours - golden| / max |golden|): the worst error is
 * printed, bounded by FP8_TOL, and the argmax must agree on at least MIN_AGREE of the
 * positions. The same for tiny-qwen2, tiny-llama3 and tiny-qwen3, where the logits part
 * SKIPs when the engine refuses the source architecture itself.
 *
 * Without fixtures (checkpoints written here with st_write): partial 128-blocks against
 * kern_quantize_fp8 directly, a tied head with --head fp8, several shards, a stop
 * request, and refusals: DST not empty (left untouched), SRC missing or not a
 * checkpoint, already FP8, another quantisation, a dtype that cannot be quantised, a NaN
 * in a matrix (output removed, a given empty DST left empty).
 */
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine/checkpoint.h"
#include "engine/ckpt_files.h"
#include "engine/convert_fp8.h"
#include "engine/engine.h"
#include "engine/st_write.h"
#include "kernels/kern.h"

/* FP8 e4m3 weights against the BF16 reference, from the errors measured (printed on
   every run; docs/convert.md records them): worst row 0.123 and mean 0.066 on
   tiny-v2lite, 0.075..0.088 and 0.048..0.055 on the dense ones; argmax agreement 90..95%.
   e4m3 keeps 3 mantissa bits (up to 6% per weight), and these random-weight models have
   no structure that would average it out. */
#define FP8_TOL 0.2
#define FP8_MEAN_TOL 0.1
#define MIN_AGREE 0.8

static char root[64];
static int ndirs;

static void new_path(char *buf, size_t cap, const char *what)
{
	snprintf(buf, cap, "%s/%s%d", root, what, ndirs++);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	if (!d)
		return 0;
	for (struct dirent *de; (de = readdir(d));)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static int convert(const char *src, const char *dst, bool head, uint64_t shard,
		   struct eng_convert_stats *st, struct err *e)
{
	struct eng_convert_opts o = {.src = src, .dst = dst, .threads = 2, .head_fp8 = head,
				     .shard_bytes = shard};
	err_clear(e);
	return eng_convert_fp8(&o, st, e);
}

static const char *fixture_model(char *buf, size_t cap, const char *name)
{
	const char *fx = check_fixtures();
	if (!fx)
		return NULL;
	snprintf(buf, cap, "%s/models/%s", fx, name);
	return exists(buf) ? buf : NULL;
}

static float to_f32(const struct st_tensor *t, size_t i)
{
	switch (t->dtype) {
	case ST_BF16: return kern_bf16_to_f32(((const uint16_t *)t->data)[i]);
	case ST_F16: return kern_f16_to_f32(((const uint16_t *)t->data)[i]);
	case ST_F32: return ((const float *)t->data)[i];
	default: return NAN;
	}
}

/* q * scale within e4m3's rounding of the source: half a step of 3 mantissa bits
   (|w| / 16), or half the smallest subnormal step (scale * 2^-10) near zero. */
static void check_dequant(const struct st_tensor *src, const struct st_tensor *q,
			  const struct st_tensor *s)
{
	size_t rows = src->shape[0], cols = src->shape[1], bc = (cols + 127) / 128;
	size_t bad = 0;
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			float sc = ((const float *)s->data)[(r / 128) * bc + c / 128];
			float w = to_f32(src, r * cols + c);
			float d = kern_f8e4m3_to_f32(((const uint8_t *)q->data)[r * cols + c]) * sc;
			if (fabsf(d - w) > fabsf(w) / 16 + sc * 0x1p-10f + 1e-30f && !bad++)
				CHECK(0, "%s[%zu][%zu]: %g became %g (scale %g)", src->name, r, c, w,
				      d, sc);
		}
}

/* The output against the source, tensor by tensor, and its config.json. */
static void check_layout(const char *src_dir, const char *dst_dir, bool head,
			 const struct eng_convert_stats *st)
{
	struct ckpt_files *src = NULL, *dst = NULL;
	struct err e = {0};
	CHECK(ckpt_files_open(src_dir, &src, &e) == 0, "%s", e.msg);
	CHECK(ckpt_files_open(dst_dir, &dst, &e) == 0, "%s", e.msg);
	if (!src || !dst)
		goto out;
	size_t quant = 0, nd = ckpt_files_count(dst);
	/* per element size, the output position of the last source tensor seen */
	long last_at[9];
	const char *last_file = NULL;
	for (int k = 0; k < 9; k++)
		last_at[k] = -1;
	for (size_t i = 0; i < ckpt_files_count(src); i++) {
		const struct st_tensor *a = ckpt_files_at(src, i), *b = ckpt_files_find(dst, a->name);
		CHECK(b, "%s missing from the output", a->name);
		if (!b)
			continue;
		long at = -1;
		for (size_t j = 0; j < nd; j++)
			if (ckpt_files_at(dst, j) == b)
				at = (long)j;
		/* the source's order: shards fill in it, and within a shard each element size
		   keeps it (larger sizes first, so that every tensor is aligned) */
		const char *file = ckpt_files_file_at(dst, (size_t)at);
		if (last_file && strcmp(file, last_file) != 0) {
			CHECK(strcmp(file, last_file) > 0, "%s: in %s after %s", a->name, file, last_file);
			for (int k = 0; k < 9; k++)
				last_at[k] = -1;
		}
		last_file = file;
		size_t es = st_dtype_size(b->dtype);
		CHECK(at > last_at[es], "%s is out of the source's order", a->name);
		last_at[es] = at;
		CHECK((uintptr_t)b->data % es == 0, "%s is not aligned to its %zu-byte elements",
		      b->name, es);
		bool fp8 = eng_convert_wants_fp8(a->name, head) && a->ndim == 2 &&
			   a->dtype != ST_F8_E4M3;
		bool proj = (strstr(a->name, "_proj.weight") || strstr(a->name, "_mqa.weight")) &&
			    !strstr(a->name, "eh_proj");
		CHECK(!proj || fp8 || a->dtype == ST_F8_E4M3, "%s: a projection left as %s", a->name,
		      st_dtype_name(a->dtype));
		if (!fp8) {
			CHECK(b->dtype == a->dtype && b->ndim == a->ndim && b->nbytes == a->nbytes &&
			      !memcmp(a->shape, b->shape, sizeof a->shape) &&
			      !memcmp(a->data, b->data, a->nbytes), "%s changed", a->name);
			continue;
		}
		quant++;
		char sname[512];
		snprintf(sname, sizeof sname, "%s_scale_inv", a->name);
		const struct st_tensor *s = ckpt_files_find(dst, sname);
		CHECK(b->dtype == ST_F8_E4M3 && b->ndim == 2 && b->shape[0] == a->shape[0] &&
		      b->shape[1] == a->shape[1], "%s: %s, not F8_E4M3 of the source's shape",
		      a->name, st_dtype_name(b->dtype));
		CHECK(s && s->dtype == ST_F32 && s->ndim == 2 &&
		      s->shape[0] == (a->shape[0] + 127) / 128 &&
		      s->shape[1] == (a->shape[1] + 127) / 128, "%s: no scale of the right shape",
		      a->name);
		for (size_t j = 0; s && j < nd; j++)
			if (ckpt_files_at(dst, j) == s)
				CHECK(!strcmp(ckpt_files_file_at(dst, j), file) &&
				      (uintptr_t)s->data % 4 == 0, "%s: its scale is in another shard "
				      "or misaligned", a->name);
		if (s && b->dtype == ST_F8_E4M3)
			check_dequant(a, b, s);
	}
	CHECK(quant == st->quantised, "%zu quantised, stats say %zu", quant, st->quantised);
	CHECK(nd == ckpt_files_count(src) + quant, "%zu tensors, expected %zu", nd,
	      ckpt_files_count(src) + quant);
	CHECK(st->tensors == ckpt_files_count(src), "stats: %zu tensors", st->tensors);

	/* config.json: the source's keys and values, plus quantization_config. */
	char p[600];
	snprintf(p, sizeof p, "%s/config.json", src_dir);
	json_t *a = json_load_file(p, 0, NULL);
	snprintf(p, sizeof p, "%s/config.json", dst_dir);
	json_t *b = json_load_file(p, 0, NULL);
	json_t *want = json_pack("{s:s,s:s,s:s,s:[i,i]}", "activation_scheme", "dynamic", "fmt",
				 "e4m3", "quant_method", "fp8", "weight_block_size", 128, 128);
	CHECK(a && b && json_equal(json_object_get(b, "quantization_config"), want),
	      "quantization_config missing or wrong");
	if (a && b) {
		json_object_del(b, "quantization_config");
		CHECK(json_equal(a, b), "config.json changed beyond quantization_config");
		const char *k1, *k2 = NULL;
		json_t *v;
		void *it2 = json_object_iter(b);
		json_object_foreach(a, k1, v) { /* key order kept */
			k2 = it2 ? json_object_iter_key(it2) : "";
			CHECK(!strcmp(k1, k2), "key order: %s where %s was", k2, k1);
			it2 = json_object_iter_next(b, it2);
		}
	}
	json_decref(a);
	json_decref(b);
	json_decref(want);
	/* the index: total_size is the data */
	snprintf(p, sizeof p, "%s/%s", dst_dir, CKPT_INDEX_NAME);
	json_t *idx = json_load_file(p, 0, NULL);
	CHECK(idx && (uint64_t)json_integer_value(json_object_get(json_object_get(idx, "metadata"),
								   "total_size")) == st->bytes_out,
	      "index total_size is not %llu", (unsigned long long)st->bytes_out);
	json_decref(idx);
out:
	ckpt_files_close(src);
	ckpt_files_close(dst);
}

static size_t argmax(const float *v, size_t n)
{
	size_t b = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i] > v[b])
			b = i;
	return b;
}

static double row_rel_err(const float *ours, const float *gold, size_t n)
{
	double diff = 0, mag = 0;
	for (size_t j = 0; j < n; j++) {
		double d = fabs((double)ours[j] - gold[j]);
		diff = d > diff ? d : diff;
		mag = fabs(gold[j]) > mag ? fabs(gold[j]) : mag;
	}
	return mag > 0 ? diff / mag : diff;
}

struct logit_score {
	double worst, sum;
	int rows, agree, positions;
};

/* Every golden case on model m: prefill rows against pN.prefill_logits, then the greedy
   continuation fed one token at a time, its argmaxes against the reference's tokens. */
static void score_model(struct eng_model *m, const char *fixture, struct logit_score *sc)
{
	char path[600];
	snprintf(path, sizeof path, "%s/golden.json", fixture);
	json_t *golden = json_load_file(path, 0, NULL);
	snprintf(path, sizeof path, "%s/golden.safetensors", fixture);
	struct st_file *gf = NULL;
	struct err e = {0};
	CHECK(golden && st_open(path, &gf, &e) == 0, "goldens of %s: %s", fixture, e.msg);
	memset(sc, 0, sizeof *sc);
	size_t V = (size_t)eng_model_config(m)->vocab_size;
	json_t *cases = json_object_get(golden, "cases");
	for (size_t ci = 0; gf && ci < json_array_size(cases); ci++) {
		json_t *c = json_array_get(cases, ci);
		json_t *pj = json_object_get(c, "prompt"), *gj = json_object_get(c, "greedy_12");
		size_t np = json_array_size(pj), ng = json_array_size(gj);
		int32_t *ids = malloc((np + ng) * sizeof *ids);
		for (size_t i = 0; i < np; i++)
			ids[i] = (int32_t)json_integer_value(json_array_get(pj, i));
		for (size_t i = 0; i < ng; i++)
			ids[np + i] = (int32_t)json_integer_value(json_array_get(gj, i));
		char tname[64];
		snprintf(tname, sizeof tname, "%s.prefill_logits",
			 json_string_value(json_object_get(c, "name")));
		const struct st_tensor *t = st_find(gf, tname);
		float *logits = malloc(np * V * sizeof *logits);
		struct eng_state *st = NULL;
		CHECK(t && t->shape[0] == np && t->shape[1] == V, "%s missing or misshapen", tname);
		CHECK(eng_state_new(m, (int64_t)(np + ng + 1), false, &st, &e) == 0, "%s", e.msg);
		if (t && st && eng_forward(st, ids, np, logits, true, &e) == 0) {
			for (size_t i = 0; i < np; i++) {
				const float *g = (const float *)t->data + i * V;
				double rel = row_rel_err(logits + i * V, g, V);
				sc->worst = rel > sc->worst ? rel : sc->worst;
				sc->sum += rel;
				sc->rows++;
				sc->agree += argmax(logits + i * V, V) == argmax(g, V);
				sc->positions++;
			}
			size_t next = argmax(logits + (np - 1) * V, V);
			for (size_t k = 0; k < ng; k++) {
				sc->agree += (int32_t)next == ids[np + k];
				sc->positions++;
				if (eng_forward(st, &ids[np + k], 1, logits, false, &e))
					break;
				next = argmax(logits, V);
			}
		}
		eng_state_free(st);
		free(logits);
		free(ids);
	}
	st_close(gf);
	json_decref(golden);
}

/* Converts a fixture, checks the layout, then (when the engine runs the architecture)
   the logits of the source and of the output against the goldens. */
static void check_fixture(const char *name, bool head)
{
	char src[512], dst[300];
	if (!fixture_model(src, sizeof src, name)) {
		SKIP("../shared/fixtures is absent");
		return;
	}
	new_path(dst, sizeof dst, name);
	struct eng_convert_stats st;
	struct err e = {0};
	int rc = convert(src, dst, head, 0, &st, &e);
	CHECK(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK(st.quantised > 0 && st.shards == 1 && st.bytes_out < st.bytes_in,
	      "%zu quantised, %zu shards, %llu -> %llu bytes", st.quantised, st.shards,
	      (unsigned long long)st.bytes_in, (unsigned long long)st.bytes_out);
	CHECK(st.head_quantised == head, "head_quantised %d", st.head_quantised);
	check_layout(src, dst, head, &st);

	struct eng_opts o = {.threads = 2};
	struct eng_model *ms = NULL, *md = NULL;
	if (eng_model_open(src, &o, &ms, &e)) {
		printf("  %s: the engine does not run this architecture yet (%s): logits not "
		       "compared\n", name, e.msg);
		SKIP("the engine refuses the source's architecture; layout checked only");
		return;
	}
	CHECK(eng_model_open(dst, &o, &md, &e) == 0, "the converted %s: %s", name, e.msg);
	if (md) {
		struct ckpt *c = NULL;
		CHECK(ckpt_open(dst, &c, &e) == 0 && ckpt_config(c)->fp8, "ckpt_open: %s", e.msg);
		ckpt_close(c);
		struct logit_score s8, s16;
		score_model(md, src, &s8);
		score_model(ms, src, &s16);
		printf("  %s%s: FP8 logits vs the BF16 reference: worst row %.4f, mean %.4f "
		       "(engine on the BF16 source: worst %.2g); argmax agrees on %d of %d "
		       "positions\n", name, head ? " --head fp8" : "", s8.worst,
		       s8.rows ? s8.sum / s8.rows : 0, s16.worst, s8.agree, s8.positions);
		CHECK(s8.rows > 0 && s8.worst <= FP8_TOL, "worst relative error %.4f > %.2f",
		      s8.worst, FP8_TOL);
		CHECK(s8.rows > 0 && s8.sum / s8.rows <= FP8_MEAN_TOL,
		      "mean relative error %.4f > %.2f", s8.sum / s8.rows, FP8_MEAN_TOL);
		CHECK(s8.agree >= MIN_AGREE * s8.positions, "argmax agrees on %d of %d", s8.agree,
		      s8.positions);
	}
	eng_model_close(md);
	eng_model_close(ms);
}

static void test_v2lite(void) { check_fixture("tiny-v2lite", false); }
static void test_v2lite_head_fp8(void) { check_fixture("tiny-v2lite", true); }
static void test_qwen2(void) { check_fixture("tiny-qwen2", false); }
static void test_llama3(void) { check_fixture("tiny-llama3", false); }
static void test_qwen3(void) { check_fixture("tiny-qwen3", false); }

static void test_refuses_already_fp8(void)
{
	char src[512], dst[300];
	if (!fixture_model(src, sizeof src, "tiny-v3")) {
		SKIP("../shared/fixtures is absent");
		return;
	}
	new_path(dst, sizeof dst, "v3");
	struct eng_convert_stats st;
	struct err e = {0};
	int rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_UNSUPPORTED && strstr(e.msg, "already FP8"), "%d %s", rc, e.msg);
	CHECK(!exists(dst), "%s was created", dst);
}

/* ---- checkpoints made here -------------------------------------------------------- */

struct mk_tensor {
	const char *name;
	enum st_dtype dtype;
	int ndim;
	uint64_t shape[2];
	float fill_nan_at; /* >= 0: the value at that index is NaN */
};

/* A folder with config.json (text) and model.safetensors holding the tensors, values a
   fixed pseudo-random pattern of varied magnitudes. */
static void make_ckpt(const char *dir, const char *config, const struct mk_tensor *mt, size_t n)
{
	mkdir(dir, 0755);
	char p[600];
	snprintf(p, sizeof p, "%s/config.json", dir);
	FILE *f = fopen(p, "w");
	fputs(config, f);
	fclose(f);
	struct st_wtensor wt[16];
	for (size_t i = 0; i < n; i++)
		wt[i] = (struct st_wtensor){mt[i].name, mt[i].dtype, mt[i].ndim,
					    {mt[i].shape[0], mt[i].shape[1]}};
	snprintf(p, sizeof p, "%s/model.safetensors", dir);
	struct st_writer *w = NULL;
	struct err e = {0};
	CHECK(st_writer_open(p, wt, n, &w, &e) == 0, "%s", e.msg);
	uint32_t x = 12345;
	for (size_t i = 0; w && i < n; i++) {
		uint64_t bytes;
		st_wtensor_bytes(&wt[i], &bytes, &e);
		uint8_t *buf = malloc(bytes);
		size_t es = st_dtype_size(mt[i].dtype), cnt = bytes / es;
		for (size_t k = 0; k < cnt; k++) {
			x = x * 1664525u + 1013904223u;
			float v = ((float)(x >> 8) / (1 << 24) - 0.5f) * (k % 7 == 0 ? 40.0f : 1.0f);
			if (mt[i].fill_nan_at >= 0 && k == (size_t)mt[i].fill_nan_at)
				v = NAN;
			if (mt[i].dtype == ST_F32)
				memcpy(buf + k * 4, &v, 4);
			else if (mt[i].dtype == ST_BF16) {
				uint16_t h = kern_f32_to_bf16(v);
				memcpy(buf + k * 2, &h, 2);
			} else {
				memset(buf + k * es, 0, es);
			}
		}
		CHECK(st_writer_put(w, buf, bytes, &e) == 0, "%s", e.msg);
		free(buf);
	}
	if (w)
		CHECK(st_writer_close(w, &e) == 0, "%s", e.msg);
}

static const char plain_config[] = "{\"architectures\": [\"ToyForCausalLM\"], \"eps\": 1e-06}";

/* Partial blocks (130 x 129), a vector, a bias and no lm_head (tied): the FP8 bytes and
   scales are exactly kern_quantize_fp8's. */
static void test_odd_shapes_tied_head(void)
{
	char src[300], dst[300];
	new_path(src, sizeof src, "toy");
	new_path(dst, sizeof dst, "toy_out");
	struct mk_tensor mt[] = {
		{"model.embed_tokens.weight", ST_BF16, 2, {16, 129}, -1},
		{"model.layers.0.self_attn.q_proj.weight", ST_F32, 2, {130, 129}, -1},
		{"model.layers.0.self_attn.q_proj.bias", ST_F32, 1, {130, 0}, -1},
		{"model.layers.0.mlp.up_proj.weight", ST_BF16, 2, {257, 3}, -1},
		{"model.layers.0.mlp.down_proj.weight", ST_F16, 2, {700, 130}, -1},
		{"model.norm.weight", ST_BF16, 1, {129, 0}, -1},
	};
	make_ckpt(src, plain_config, mt, 6);
	/* one thread and a 1-byte chunk: two bands at a time, so down_proj's 6 bands take
	   three chunks and every copy goes byte by byte */
	struct eng_convert_opts o = {.src = src, .dst = dst, .threads = 1, .head_fp8 = true,
				     .chunk_bytes = 1};
	struct eng_convert_stats st;
	struct err e = {0};
	int rc = eng_convert_fp8(&o, &st, &e);
	CHECK(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK(st.quantised == 3 && st.head_tied && !st.head_quantised, "quantised %zu, tied %d",
	      st.quantised, st.head_tied);
	check_layout(src, dst, true, &st);
	struct ckpt_files *a = NULL, *b = NULL;
	CHECK(ckpt_files_open(src, &a, &e) == 0 && ckpt_files_open(dst, &b, &e) == 0, "%s", e.msg);
	for (int k = 1; k <= 4; k += 3) { /* q_proj (F32), down_proj (F16, three chunks) */
		char sname[200];
		snprintf(sname, sizeof sname, "%s_scale_inv", mt[k].name);
		const struct st_tensor *w = ckpt_files_find(a, mt[k].name);
		const struct st_tensor *q = ckpt_files_find(b, mt[k].name);
		const struct st_tensor *s = ckpt_files_find(b, sname);
		if (!w || !q || !s)
			continue;
		size_t rows = w->shape[0], cols = w->shape[1];
		size_t ns = (rows + 127) / 128 * ((cols + 127) / 128);
		uint8_t *want = malloc(rows * cols);
		float *scale = malloc(ns * sizeof *scale);
		struct kern_mat m = {st_dtype_to_kern(w->dtype), w->data, NULL, 0, rows, cols};
		kern_quantize_fp8(NULL, want, scale, &m);
		CHECK(!memcmp(want, q->data, rows * cols), "%s: FP8 bytes differ from "
		      "kern_quantize_fp8's", mt[k].name);
		CHECK(!memcmp(scale, s->data, ns * sizeof *scale), "%s: scales differ from "
		      "kern_quantize_fp8's", mt[k].name);
		free(want);
		free(scale);
	}
	/* the reals of config.json read back the same and print as the source wrote them */
	char p[400];
	snprintf(p, sizeof p, "%s/config.json", dst);
	FILE *f = fopen(p, "r");
	char text[2048] = "";
	size_t k = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[k] = 0;
	if (f)
		fclose(f);
	CHECK(strstr(text, "\"eps\": 1e-6") || strstr(text, "\"eps\": 1e-06"), "%s", text);
	ckpt_files_close(a);
	ckpt_files_close(b);
}

/* A small shard limit: several shards, each weight with its scale, the index right. */
static void test_shards(void)
{
	char src[300], dst[300];
	new_path(src, sizeof src, "multi");
	new_path(dst, sizeof dst, "multi_out");
	struct mk_tensor mt[] = {
		{"model.embed_tokens.weight", ST_BF16, 2, {64, 128}, -1},
		{"model.layers.0.self_attn.o_proj.weight", ST_BF16, 2, {128, 128}, -1},
		{"model.layers.0.mlp.gate_proj.weight", ST_BF16, 2, {256, 128}, -1},
		{"model.layers.0.mlp.down_proj.weight", ST_BF16, 2, {128, 256}, -1},
		{"model.layers.0.mlp.gate.weight", ST_BF16, 2, {4, 128}, -1},
		{"lm_head.weight", ST_BF16, 2, {64, 128}, -1},
	};
	make_ckpt(src, plain_config, mt, 6);
	struct eng_convert_stats st;
	struct err e = {0};
	int rc = convert(src, dst, false, 20000, &st, &e);
	CHECK(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK(st.shards >= 4 && st.quantised == 3, "%zu shards, %zu quantised", st.shards,
	      st.quantised);
	check_layout(src, dst, false, &st);
	char p[400];
	snprintf(p, sizeof p, "%s/model-00001-of-%05zu.safetensors", dst, st.shards);
	CHECK(exists(p), "no %s", p);
	CHECK(count_entries(dst) == st.shards + 2, "%zu files in %s", count_entries(dst), dst);
}

static volatile sig_atomic_t stop_flag;

static void stop_after_first(void *ud, const struct eng_convert_progress *p)
{
	if (p->bytes_done > 0)
		stop_flag = 1;
}

/* A stop request ends the run with ERR_INTERRUPTED and nothing left behind. */
static void test_stop(void)
{
	char src[300], dst[300];
	new_path(src, sizeof src, "stop");
	new_path(dst, sizeof dst, "stop_out");
	struct mk_tensor mt[] = {
		{"a.q_proj.weight", ST_BF16, 2, {128, 128}, -1},
		{"a.k_proj.weight", ST_BF16, 2, {128, 128}, -1},
	};
	make_ckpt(src, plain_config, mt, 2);
	stop_flag = 0;
	struct eng_convert_opts o = {.src = src, .dst = dst, .threads = 1, .stop = &stop_flag,
				     .progress = stop_after_first};
	struct eng_convert_stats st;
	struct err e = {0};
	int rc = eng_convert_fp8(&o, &st, &e);
	CHECK(rc == ERR_INTERRUPTED, "%d %s", rc, e.msg);
	CHECK(!exists(dst), "%s left behind", dst);
}

static void test_refusals(void)
{
	char src[300], dst[300], p[400];
	struct eng_convert_stats st;
	struct err e = {0};
	int rc;

	/* SRC missing */
	new_path(dst, sizeof dst, "r");
	rc = convert("/nonexistent/model", dst, false, 0, &st, &e);
	CHECK(rc == ERR_IO && strstr(e.msg, "/nonexistent/model") && !exists(dst), "%d %s", rc, e.msg);

	/* SRC not a checkpoint: no config.json, then config.json without weights */
	new_path(src, sizeof src, "empty");
	mkdir(src, 0755);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_MODEL && strstr(e.msg, "no config.json") && !exists(dst), "%d %s", rc, e.msg);
	snprintf(p, sizeof p, "%s/config.json", src);
	FILE *f = fopen(p, "w");
	fputs(plain_config, f);
	fclose(f);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_MODEL && strstr(e.msg, "no weights") && !exists(dst), "%d %s", rc, e.msg);

	/* DST not empty: refused and untouched */
	struct mk_tensor ok[] = {{"a.q_proj.weight", ST_BF16, 2, {8, 8}, -1}};
	new_path(src, sizeof src, "ok");
	make_ckpt(src, plain_config, ok, 1);
	new_path(dst, sizeof dst, "full");
	mkdir(dst, 0755);
	snprintf(p, sizeof p, "%s/notes", dst);
	f = fopen(p, "w");
	fputs("keep", f);
	fclose(f);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_USAGE && strstr(e.msg, "not empty") && count_entries(dst) == 1, "%d %s",
	      rc, e.msg);
	/* DST a file */
	rc = convert(src, p, false, 0, &st, &e);
	CHECK(rc == ERR_USAGE && strstr(e.msg, "not a folder"), "%d %s", rc, e.msg);

	/* another quantisation */
	new_path(src, sizeof src, "gptq");
	make_ckpt(src, "{\"quantization_config\": {\"quant_method\": \"gptq\"}}", ok, 1);
	new_path(dst, sizeof dst, "r");
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_UNSUPPORTED && strstr(e.msg, "gptq") && !exists(dst), "%d %s", rc, e.msg);

	/* a matrix the rule picks in a dtype that cannot be quantised */
	struct mk_tensor i8[] = {{"a.v_proj.weight", ST_I8, 2, {8, 8}, -1}};
	new_path(src, sizeof src, "i8");
	make_ckpt(src, plain_config, i8, 1);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_UNSUPPORTED && strstr(e.msg, "a.v_proj.weight") && strstr(e.msg, "I8") &&
	      !exists(dst), "%d %s", rc, e.msg);

	/* a NaN in the second matrix: found while writing, the output removed; a DST given
	   empty stays, empty */
	struct mk_tensor nan[] = {
		{"a.q_proj.weight", ST_BF16, 2, {8, 8}, -1},
		{"a.k_proj.weight", ST_F32, 2, {200, 300}, 40000},
	};
	new_path(src, sizeof src, "nan");
	make_ckpt(src, plain_config, nan, 2);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_FORMAT && strstr(e.msg, "a.k_proj.weight") && strstr(e.msg, "rows 128") &&
	      !exists(dst), "%d %s", rc, e.msg);
	mkdir(dst, 0755);
	rc = convert(src, dst, false, 0, &st, &e);
	CHECK(rc == ERR_FORMAT && exists(dst) && count_entries(dst) == 0, "%d %s, %zu files", rc,
	      e.msg, count_entries(dst));
}

/* st_write: what it writes st_open reads back; misuse is an error. */
static void test_st_write(void)
{
	char p[300];
	new_path(p, sizeof p, "w.safetensors");
	struct st_wtensor t[] = {{"b", ST_F32, 1, {3}}, {"a", ST_U8, 2, {2, 3}}};
	struct st_writer *w = NULL;
	struct err e = {0};
	CHECK(st_writer_open(p, t, 2, &w, &e) == 0, "%s", e.msg);
	if (!w)
		return;
	float f[3] = {1, 2, 3};
	uint8_t u[6] = {1, 2, 3, 4, 5, 6};
	CHECK(st_writer_put(w, f, sizeof f, &e) == 0, "%s", e.msg);
	CHECK(st_writer_put(w, u, sizeof u, &e) == 0, "%s", e.msg);
	CHECK(st_writer_put(w, u, 1, &e) == ERR_USAGE, "a byte past the end was taken");
	CHECK(st_writer_close(w, &e) == 0, "%s", e.msg);
	struct st_file *sf = NULL;
	CHECK(st_open(p, &sf, &e) == 0, "%s", e.msg);
	if (sf) {
		const struct st_tensor *b = st_find(sf, "b"), *a = st_find(sf, "a");
		CHECK(b && a && st_at(sf, 0) == b && !memcmp(b->data, f, sizeof f) &&
		      !memcmp(a->data, u, sizeof u) && a->shape[1] == 3, "read back differs");
		st_close(sf);
	}
	uint64_t size;
	struct stat sb;
	CHECK(st_file_bytes(t, 2, &size, &e) == 0 && stat(p, &sb) == 0 &&
	      (uint64_t)sb.st_size == size, "st_file_bytes %llu", (unsigned long long)size);
	CHECK(st_writer_open(p, t, 2, &w, &e) == ERR_IO, "an existing file was overwritten");
	char q[300];
	new_path(q, sizeof q, "short.safetensors");
	CHECK(st_writer_open(q, t, 2, &w, &e) == 0, "%s", e.msg);
	CHECK(st_writer_close(w, &e) == ERR_USAGE, "a short file closed cleanly");
	/* tensors filled out of order land in their places */
	new_path(q, sizeof q, "any_order.safetensors");
	CHECK(st_writer_open(q, t, 2, &w, &e) == 0, "%s", e.msg);
	CHECK(w && st_writer_put_tensor(w, 1, u, 4, &e) == 0 &&
	      st_writer_put_tensor(w, 0, f, sizeof f, &e) == 0 &&
	      st_writer_put_tensor(w, 1, u + 4, 2, &e) == 0 &&
	      st_writer_put_tensor(w, 0, f, 1, &e) == ERR_USAGE && st_writer_close(w, &e) == 0,
	      "%s", e.msg);
	sf = NULL;
	CHECK(st_open(q, &sf, &e) == 0, "%s", e.msg);
	if (sf) {
		CHECK(!memcmp(st_find(sf, "b")->data, f, sizeof f) &&
		      !memcmp(st_find(sf, "a")->data, u, sizeof u), "out-of-order fill differs");
		st_close(sf);
	}
	struct st_wtensor big = {"x", ST_F32, 2, {1ull << 40, 1ull << 40}};
	uint64_t n;
	CHECK(st_wtensor_bytes(&big, &n, &e) == ERR_RANGE, "overflow not caught");
	struct st_wtensor dup[] = {{"x", ST_U8, 1, {1}}, {"x", ST_U8, 1, {1}}};
	new_path(q, sizeof q, "dup.safetensors");
	CHECK(st_writer_open(q, dup, 2, &w, &e) == ERR_USAGE && !exists(q), "a name twice");
}

static void test_rule(void)
{
	CHECK(eng_convert_wants_fp8("model.layers.3.self_attn.kv_a_proj_with_mqa.weight", false),
	      "kv_a_proj_with_mqa");
	CHECK(eng_convert_wants_fp8("model.layers.3.mlp.experts.7.down_proj.weight", false), "expert");
	CHECK(!eng_convert_wants_fp8("model.layers.61.eh_proj.weight", false), "eh_proj");
	CHECK(!eng_convert_wants_fp8("model.layers.3.mlp.gate.weight", false), "router");
	CHECK(!eng_convert_wants_fp8("model.layers.3.self_attn.q_proj.bias", false), "bias");
	CHECK(!eng_convert_wants_fp8("lm_head.weight", false), "head by default");
	CHECK(eng_convert_wants_fp8("lm_head.weight", true), "head with --head fp8");
	CHECK(!eng_convert_wants_fp8("model.layers.61.shared_head.head.weight", true), "MTP head");
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/ponder_test_convert_XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_rule);
	RUN(test_st_write);
	RUN(test_odd_shapes_tied_head);
	RUN(test_shards);
	RUN(test_stop);
	RUN(test_refusals);
	RUN(test_refuses_already_fp8);
	RUN(test_v2lite);
	RUN(test_v2lite_head_fp8);
	RUN(test_qwen2);
	RUN(test_llama3);
	RUN(test_qwen3);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_finish();
}
