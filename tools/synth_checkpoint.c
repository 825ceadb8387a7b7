/*
 * synth_checkpoint.c — writes a random-weight checkpoint at real shapes, in the exact
 * Hugging Face layout: config.json, sharded safetensors with model.safetensors.index.json,
 * and a tokenizer. Benchmarks and tests use it so that nothing large is committed and
 * nothing is downloaded. Run it as tools/synth-checkpoint, which builds it first; --help
 * lists the options.
 *
 * DeepSeek shapes (MLA attention, MoE):
 * v2-lite: DeepSeek-V2-Lite's shape (hidden 2048, 64 routed experts of 1408, 6 active,
 * 2 shared, kv_lora 512, no q-LoRA, vocab 102400, softmax routing), 10 layers by default.
 * v3: DeepSeek-V3's (hidden 7168, 256 experts of 2048, 8 active in 8 groups, q_lora 1536,
 * vocab 129280, sigmoid routing), 4 layers (3 dense) by default. Unless --dense or --set
 * first_k_dense_replace says otherwise, at least one layer stays MoE: v3 with --layers 2
 * gets 1 dense layer, not an invalid 3.
 *
 * Dense shapes (GQA attention, SwiGLU MLP), the DeepSeek-R1 distills at full depth:
 * qwen2-1.5b, qwen2-7b: Qwen2ForCausalLM (q/k/v biases), DeepSeek-R1-Distill-Qwen-1.5B
 * and -7B; llama3-8b: LlamaForCausalLM with llama3 rope scaling, DeepSeek-R1-Distill-
 * Llama-8B; qwen3-8b: Qwen3ForCausalLM (per-head q_norm/k_norm, head_dim 128, YaRN),
 * DeepSeek-R1-0528-Qwen3-8B. Their config.json has the key set of the published one (and
 * of ../shared/fixtures/models/tiny-*), bos/eos ids 0/1 as the demo tokenizer has them.
 *
 * --set overrides an integer field of config.json, or a boolean one as 0/1 (tests shrink
 * the shapes this way); tensor shapes follow the final config, which must pass ponder's
 * own config checks before anything is written.
 *
 * DeepSeek matrices are FP8 e4m3 with 128x128 weight_scale_inv blocks, as DeepSeek ships
 * them; embeddings, the LM head, the router and norms are BF16 (the router's bias F32).
 * Dense shapes are BF16 throughout, as published; with --fp8 their projection and MLP
 * matrices are FP8 the DeepSeek way (quantization_config added) while embeddings, the LM
 * head, norms and biases stay BF16. Values are uniform with a standard deviation of
 * 1/sqrt(fan-in), so activations keep their size through the layers; norms are ones.
 * Each tensor's values depend only on its name and the seed. The tokenizer files are
 * copied from --tokenizer (default models/demo): ponder's own, smaller than every
 * vocabulary; benchmarks feed token ids. Its ids must fit vocab_size.
 *
 * OUT_DIR must be new or empty. A run that fails (disk full, a signal) removes what it
 * wrote, and config.json is written last, so a checkpoint that did not finish never
 * looks like one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/config.h"
#include "engine/st_write.h"
#include "engine/tokenizer.h"
#include "kernels/kern.h"

/* One tensor to write: name, dtype, 1 or 2 dims, standard deviation (0: all ones). */
struct tensor {
	char name[160];
	const char *dtype; /* "F8_E4M3", "BF16", "F32" */
	size_t rows, cols; /* rows 0: a vector of cols values */
	double std;
	int shard;
	size_t offset; /* within its shard's data */
};

struct plan {
	struct tensor *t;
	size_t n, cap;
};

/* What this run may have put in OUT_DIR, removed again on failure or a signal. Set up
   before the first file is created and not changed afterwards, so that the signal
   handler can read it; it uses only unlinkat and rmdir, which are async-signal-safe.
   OUT_DIR was empty or absent at the start, so every name here is this run's own. */
static struct {
	const char *dir;
	volatile sig_atomic_t dirfd; /* -1: nothing to remove (not started, or done) */
	bool made_dir;
	const char *const *names;
	size_t n;
} partial = {.dirfd = -1};

static void remove_partial(void)
{
	if (partial.dirfd < 0)
		return;
	for (size_t i = 0; i < partial.n; i++)
		unlinkat(partial.dirfd, partial.names[i], 0);
	if (partial.made_dir)
		rmdir(partial.dir);
}

static void on_signal(int sig)
{
	remove_partial();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A failure while running: the message, what was written removed, status 1. */
static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;
	fputs("synth-checkpoint: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_partial();
	exit(1);
}

static void add(struct plan *p, const char *name, const char *dtype, size_t rows, size_t cols,
		double std)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->t = realloc(p->t, p->cap * sizeof *p->t);
		if (!p->t)
			die("out of memory");
	}
	struct tensor *t = &p->t[p->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->dtype = dtype;
	t->rows = rows;
	t->cols = cols;
	t->std = std;
}

/* "<prefix>.weight" [rows][cols] FP8 and its "<prefix>.weight_scale_inv" blocks. */
static void add_fp8(struct plan *p, const char *prefix, size_t rows, size_t cols)
{
	char n[160];
	snprintf(n, sizeof n, "%s.weight", prefix);
	add(p, n, "F8_E4M3", rows, cols, 1.0 / sqrt((double)cols));
	snprintf(n, sizeof n, "%s.weight_scale_inv", prefix);
	add(p, n, "F32", (rows + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK,
	    (cols + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK, 1.0 / sqrt((double)cols));
}

/* "<prefix>.weight" [rows][cols]: FP8 with its scale blocks, or BF16. */
static void add_matrix(struct plan *p, const char *prefix, size_t rows, size_t cols, bool fp8)
{
	if (fp8) {
		add_fp8(p, prefix, rows, cols);
		return;
	}
	char n[160];
	snprintf(n, sizeof n, "%s.weight", prefix);
	add(p, n, "BF16", rows, cols, 1.0 / sqrt((double)cols));
}

static void add_norm(struct plan *p, const char *name, size_t dim)
{
	add(p, name, "BF16", 0, dim, 0);
}

static long long cfg_int(json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void add_mlp(struct plan *p, const char *prefix, size_t dim, size_t inter, bool fp8)
{
	char n[200];
	snprintf(n, sizeof n, "%s.gate_proj", prefix);
	add_matrix(p, n, inter, dim, fp8);
	snprintf(n, sizeof n, "%s.up_proj", prefix);
	add_matrix(p, n, inter, dim, fp8);
	snprintf(n, sizeof n, "%s.down_proj", prefix);
	add_matrix(p, n, dim, inter, fp8);
}

/* One decoder layer, index li, MoE unless li < first_k_dense_replace. */
static void add_layer(struct plan *p, json_t *cfg, long long li)
{
	size_t D = (size_t)cfg_int(cfg, "hidden_size"), H = (size_t)cfg_int(cfg, "num_attention_heads");
	size_t nope = (size_t)cfg_int(cfg, "qk_nope_head_dim");
	size_t rope = (size_t)cfg_int(cfg, "qk_rope_head_dim");
	size_t vdim = (size_t)cfg_int(cfg, "v_head_dim"), kvl = (size_t)cfg_int(cfg, "kv_lora_rank");
	size_t ql = (size_t)cfg_int(cfg, "q_lora_rank"), E = (size_t)cfg_int(cfg, "n_routed_experts");
	size_t mi = (size_t)cfg_int(cfg, "moe_intermediate_size");
	char l[64], n[200];
	snprintf(l, sizeof l, "model.layers.%lld", li);

	snprintf(n, sizeof n, "%s.input_layernorm.weight", l);
	add_norm(p, n, D);
	snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", l);
	add_norm(p, n, D);
	if (ql) {
		snprintf(n, sizeof n, "%s.self_attn.q_a_proj", l);
		add_fp8(p, n, ql, D);
		snprintf(n, sizeof n, "%s.self_attn.q_a_layernorm.weight", l);
		add_norm(p, n, ql);
		snprintf(n, sizeof n, "%s.self_attn.q_b_proj", l);
		add_fp8(p, n, H * (nope + rope), ql);
	} else {
		snprintf(n, sizeof n, "%s.self_attn.q_proj", l);
		add_fp8(p, n, H * (nope + rope), D);
	}
	snprintf(n, sizeof n, "%s.self_attn.kv_a_proj_with_mqa", l);
	add_fp8(p, n, kvl + rope, D);
	snprintf(n, sizeof n, "%s.self_attn.kv_a_layernorm.weight", l);
	add_norm(p, n, kvl);
	snprintf(n, sizeof n, "%s.self_attn.kv_b_proj", l);
	add_fp8(p, n, H * (nope + vdim), kvl);
	snprintf(n, sizeof n, "%s.self_attn.o_proj", l);
	add_fp8(p, n, D, H * vdim);

	if (li < cfg_int(cfg, "first_k_dense_replace")) {
		snprintf(n, sizeof n, "%s.mlp", l);
		add_mlp(p, n, D, (size_t)cfg_int(cfg, "intermediate_size"), true);
		return;
	}
	snprintf(n, sizeof n, "%s.mlp.gate.weight", l);
	add(p, n, "BF16", E, D, 1.0 / sqrt((double)D));
	if (!strcmp(json_string_value(json_object_get(cfg, "scoring_func")), "sigmoid")) {
		snprintf(n, sizeof n, "%s.mlp.gate.e_score_correction_bias", l);
		add(p, n, "F32", 0, E, 0.01);
	}
	for (size_t e = 0; e < E; e++) {
		snprintf(n, sizeof n, "%s.mlp.experts.%zu", l, e);
		add_mlp(p, n, D, mi, true);
	}
	if (cfg_int(cfg, "n_shared_experts")) {
		snprintf(n, sizeof n, "%s.mlp.shared_experts", l);
		add_mlp(p, n, D, mi * (size_t)cfg_int(cfg, "n_shared_experts"), true);
	}
}

static bool cfg_true(json_t *cfg, const char *key)
{
	return json_is_true(json_object_get(cfg, key));
}

static bool is_deepseek(json_t *cfg)
{
	return json_object_get(cfg, "kv_lora_rank") != NULL;
}

/* One projection's bias, "<prefix>.bias" [n], BF16. A standard deviation of 0.5 next to
   projections of about 1 keeps its effect visible in the logits. */
static void add_bias(struct plan *p, const char *prefix, size_t n)
{
	char name[200];
	snprintf(name, sizeof name, "%s.bias", prefix);
	add(p, name, "BF16", 0, n, 0.5);
}

/* One dense decoder layer: GQA attention with H query and KV key/value heads of hd
   values, q/k/v biases for Qwen2 (always, as its modeling code has them) or where
   attention_bias says so (then o_proj has one too, as Llama and Qwen3 do it), per-head
   q_norm/k_norm for Qwen3; then a SwiGLU MLP. */
static void add_gqa_layer(struct plan *p, json_t *cfg, long long li, bool fp8)
{
	size_t D = (size_t)cfg_int(cfg, "hidden_size"), H = (size_t)cfg_int(cfg, "num_attention_heads");
	size_t KV = (size_t)cfg_int(cfg, "num_key_value_heads");
	size_t hd = cfg_int(cfg, "head_dim") > 0 ? (size_t)cfg_int(cfg, "head_dim") : D / H;
	const char *mt = json_string_value(json_object_get(cfg, "model_type"));
	bool qkv_bias = !strcmp(mt, "qwen2") || cfg_true(cfg, "attention_bias");
	static const char *const proj[] = {"q_proj", "k_proj", "v_proj"};
	char l[64], n[200];
	snprintf(l, sizeof l, "model.layers.%lld", li);

	snprintf(n, sizeof n, "%s.input_layernorm.weight", l);
	add_norm(p, n, D);
	for (int k = 0; k < 3; k++) {
		size_t rows = (k == 0 ? H : KV) * hd;
		snprintf(n, sizeof n, "%s.self_attn.%s", l, proj[k]);
		add_matrix(p, n, rows, D, fp8);
		if (qkv_bias)
			add_bias(p, n, rows);
	}
	snprintf(n, sizeof n, "%s.self_attn.o_proj", l);
	add_matrix(p, n, D, H * hd, fp8);
	if (cfg_true(cfg, "attention_bias"))
		add_bias(p, n, D);
	if (!strcmp(mt, "qwen3")) {
		snprintf(n, sizeof n, "%s.self_attn.q_norm.weight", l);
		add_norm(p, n, hd);
		snprintf(n, sizeof n, "%s.self_attn.k_norm.weight", l);
		add_norm(p, n, hd);
	}
	snprintf(n, sizeof n, "%s.post_attention_layernorm.weight", l);
	add_norm(p, n, D);
	snprintf(n, sizeof n, "%s.mlp", l);
	add_mlp(p, n, D, (size_t)cfg_int(cfg, "intermediate_size"), fp8);
}

/* A dense model: FP8 matrices when config.json has a quantization_config, else BF16.
   Tied embeddings: no lm_head.weight, and the embeddings take the LM head's standard
   deviation (the first norm rescales them anyway), else every logit would be dominated
   by the input token's own embedding. */
static void plan_dense(struct plan *p, json_t *cfg)
{
	size_t D = (size_t)cfg_int(cfg, "hidden_size"), V = (size_t)cfg_int(cfg, "vocab_size");
	bool fp8 = json_object_get(cfg, "quantization_config") != NULL;
	bool tied = cfg_true(cfg, "tie_word_embeddings");
	add(p, "model.embed_tokens.weight", "BF16", V, D, tied ? 1.0 / sqrt((double)D) : 1.0);
	for (long long li = 0; li < cfg_int(cfg, "num_hidden_layers"); li++)
		add_gqa_layer(p, cfg, li, fp8);
	add_norm(p, "model.norm.weight", D);
	if (!tied)
		add(p, "lm_head.weight", "BF16", V, D, 1.0 / sqrt((double)D));
}

static void plan_model(struct plan *p, json_t *cfg)
{
	if (!is_deepseek(cfg)) {
		plan_dense(p, cfg);
		return;
	}
	size_t D = (size_t)cfg_int(cfg, "hidden_size"), V = (size_t)cfg_int(cfg, "vocab_size");
	long long L = cfg_int(cfg, "num_hidden_layers");
	add(p, "model.embed_tokens.weight", "BF16", V, D, 1.0);
	for (long long li = 0; li < L; li++)
		add_layer(p, cfg, li);
	add_norm(p, "model.norm.weight", D);
	add(p, "lm_head.weight", "BF16", V, D, 1.0 / sqrt((double)D));
	if (cfg_int(cfg, "num_nextn_predict_layers") > 0) { /* the MTP module, layer index L */
		char n[160];
		add_layer(p, cfg, L);
		snprintf(n, sizeof n, "model.layers.%lld.embed_tokens.weight", L);
		add(p, n, "BF16", V, D, 1.0);
		snprintf(n, sizeof n, "model.layers.%lld.enorm.weight", L);
		add_norm(p, n, D);
		snprintf(n, sizeof n, "model.layers.%lld.hnorm.weight", L);
		add_norm(p, n, D);
		snprintf(n, sizeof n, "model.layers.%lld.eh_proj", L);
		add_fp8(p, n, D, 2 * D);
		snprintf(n, sizeof n, "model.layers.%lld.shared_head.norm.weight", L);
		add_norm(p, n, D);
		snprintf(n, sizeof n, "model.layers.%lld.shared_head.head.weight", L);
		add(p, n, "BF16", V, D, 1.0 / sqrt((double)D));
	}
}

static size_t elem_size(const char *dtype)
{
	return !strcmp(dtype, "F8_E4M3") ? 1 : !strcmp(dtype, "BF16") ? 2 : 4;
}

static size_t tensor_bytes(const struct tensor *t)
{
	return (t->rows ? t->rows : 1) * t->cols * elem_size(t->dtype);
}

/* ---- values --------------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t name_seed(const char *name, uint64_t seed)
{
	uint64_t h = 1469598103934665603ull ^ seed; /* FNV-1a */
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 1099511628211ull;
	return h;
}

/* FP8 codes: uniform on [-FP8_A, FP8_A]; one random byte picks one of 256 levels. */
#define FP8_A 384.0

static uint8_t fp8_level[256];

static void init_levels(void)
{
	for (int i = 0; i < 256; i++)
		fp8_level[i] = kern_f32_to_f8e4m3((float)(((i + 0.5) / 256.0 * 2 - 1) * FP8_A));
}

/* Fills buf[0, bytes) with the next values of tensor t. */
static void fill(const struct tensor *t, uint8_t *buf, size_t bytes, uint64_t *rng)
{
	size_t es = elem_size(t->dtype), n = bytes / es;
	double a = t->std * sqrt(3.0); /* uniform on [-a, a] has this standard deviation */
	if (!strcmp(t->dtype, "F8_E4M3")) {
		for (size_t i = 0; i < n; i += 8) {
			uint64_t r = splitmix(rng);
			for (size_t k = 0; k < 8 && i + k < n; k++)
				buf[i + k] = fp8_level[(r >> (8 * k)) & 0xff];
		}
	} else if (!strcmp(t->dtype, "BF16")) {
		uint16_t *v = (uint16_t *)buf;
		for (size_t i = 0; i < n; i++) {
			float x = t->std == 0 ? 1.0f
				: (float)(((double)(splitmix(rng) >> 11) * 0x1p-53 * 2 - 1) * a);
			v[i] = kern_f32_to_bf16(x);
		}
	} else {
		float *v = (float *)buf;
		bool scale = strstr(t->name, "weight_scale_inv") != NULL;
		for (size_t i = 0; i < n; i++) /* a scale turns codes of std FP8_A/√3 into std */
			v[i] = scale ? (float)(t->std / (FP8_A / sqrt(3.0)))
				     : (float)(((double)(splitmix(rng) >> 11) * 0x1p-53 * 2 - 1) * a);
	}
}

/* ---- files ---------------------------------------------------------------------- */

/* Closes f, failing with the reason if any write to it failed (ENOSPC shows here when
   the last buffer is flushed). */
static void close_checked(FILE *f, const char *path)
{
	int bad = ferror(f);
	if (fclose(f) || bad)
		die("writing %s failed: %s", path, strerror(errno ? errno : EIO));
}

static enum st_dtype st_dtype_of(const char *dtype)
{
	return !strcmp(dtype, "F8_E4M3") ? ST_F8_E4M3 : !strcmp(dtype, "BF16") ? ST_BF16 : ST_F32;
}

/* One shard through the shared safetensors writer (engine/st_write.h), its tensors in
   plan order. */
static void write_shard(const char *dir, const struct plan *p, int shard, int shards,
			uint64_t seed)
{
	struct st_wtensor *wt = calloc(p->n ? p->n : 1, sizeof *wt);
	if (!wt)
		die("out of memory");
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct tensor *t = &p->t[i];
		if (t->shard != shard)
			continue;
		struct st_wtensor *w = &wt[n++];
		w->name = t->name;
		w->dtype = st_dtype_of(t->dtype);
		w->ndim = t->rows ? 2 : 1;
		w->shape[0] = t->rows ? t->rows : t->cols;
		w->shape[1] = t->cols;
	}

	char path[4096], name[48];
	st_shard_name(name, sizeof name, (size_t)shard, (size_t)shards);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct err e = {0};
	struct st_writer *w = NULL;
	if (st_writer_open(path, wt, n, &w, &e))
		die("%s", e.msg);
	free(wt);

	static uint8_t buf[1 << 20];
	for (size_t i = 0; i < p->n; i++) {
		const struct tensor *t = &p->t[i];
		if (t->shard != shard)
			continue;
		uint64_t rng = name_seed(t->name, seed);
		for (size_t left = tensor_bytes(t); left;) {
			size_t now = left < sizeof buf ? left : sizeof buf;
			fill(t, buf, now, &rng);
			if (st_writer_put(w, buf, now, &e)) {
				st_writer_abort(w);
				die("%s", e.msg);
			}
			left -= now;
		}
	}
	if (st_writer_close(w, &e))
		die("%s", e.msg);
}

/* Writes v to dir/name and drops the reference. */
static void write_json(const char *dir, const char *name, json_t *v)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	errno = 0;
	if (!v || json_dump_file(v, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
		die("cannot write %s: %s", path, errno ? strerror(errno) : "out of memory");
	json_decref(v);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
	char src[4096], dst[4096];
	snprintf(src, sizeof src, "%s/%s", from_dir, name);
	snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
	FILE *in = fopen(src, "rb"), *out;
	if (!in)
		die("cannot read %s: %s", src, strerror(errno));
	if (!(out = fopen(dst, "wb")))
		die("cannot create %s: %s", dst, strerror(errno));
	char buf[65536];
	size_t k;
	while ((k = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, k, out) != k)
			die("writing %s failed: %s", dst, strerror(errno));
	if (ferror(in))
		die("reading %s failed: %s", src, strerror(errno));
	fclose(in);
	close_checked(out, dst);
}

/* ---- shapes --------------------------------------------------------------------- */

/* quantization_config of an FP8 checkpoint, as DeepSeek ships it. */
static json_t *fp8_quant(void)
{
	return json_pack("{s:s,s:s,s:s,s:[i,i]}", "activation_scheme", "dynamic", "fmt", "e4m3",
			 "quant_method", "fp8", "weight_block_size", KERN_FP8_BLOCK, KERN_FP8_BLOCK);
}

static json_t *v2_lite_config(void)
{
	return json_pack("{s:[s],s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:i,s:n,"
			 "s:i,s:i,s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:b,s:s,s:s,s:i,s:f,s:f,"
			 "s:{s:s,s:f,s:i,s:i,s:i,s:f,s:f},s:b,s:i,s:i,s:b,s:s,s:o}",
			 "architectures", "DeepseekV2ForCausalLM", "model_type", "deepseek_v2",
			 "vocab_size", 102400, "hidden_size", 2048, "intermediate_size", 10944,
			 "moe_intermediate_size", 1408, "num_hidden_layers", 10,
			 "num_attention_heads", 16, "num_key_value_heads", 16,
			 "n_shared_experts", 2, "n_routed_experts", 64,
			 "routed_scaling_factor", 1.0, "kv_lora_rank", 512, "q_lora_rank",
			 "qk_rope_head_dim", 64, "v_head_dim", 128, "qk_nope_head_dim", 128,
			 "topk_method", "greedy", "n_group", 1, "topk_group", 1,
			 "num_experts_per_tok", 6, "moe_layer_freq", 1, "first_k_dense_replace", 1,
			 "norm_topk_prob", 0, "scoring_func", "softmax", "hidden_act", "silu",
			 "max_position_embeddings", 163840, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
			 "rope_scaling", "type", "yarn", "factor", 40.0,
			 "original_max_position_embeddings", 4096, "beta_fast", 32, "beta_slow", 1,
			 "mscale", 0.707, "mscale_all_dim", 0.707,
			 "tie_word_embeddings", 0, "bos_token_id", 0, "eos_token_id", 1,
			 "attention_bias", 0, "torch_dtype", "bfloat16", "quantization_config", fp8_quant());
}

static json_t *v3_config(void)
{
	return json_pack("{s:[s],s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:i,s:i,"
			 "s:i,s:i,s:i,s:s,s:i,s:i,s:i,s:i,s:i,s:b,s:s,s:s,s:i,s:f,s:f,"
			 "s:{s:s,s:f,s:i,s:i,s:i,s:f,s:f},s:b,s:i,s:i,s:b,s:s,s:o}",
			 "architectures", "DeepseekV3ForCausalLM", "model_type", "deepseek_v3",
			 "vocab_size", 129280, "hidden_size", 7168, "intermediate_size", 18432,
			 "moe_intermediate_size", 2048, "num_hidden_layers", 4,
			 "num_nextn_predict_layers", 0, "num_attention_heads", 128,
			 "num_key_value_heads", 128, "n_shared_experts", 1, "n_routed_experts", 256,
			 "routed_scaling_factor", 2.5, "kv_lora_rank", 512, "q_lora_rank", 1536,
			 "qk_rope_head_dim", 64, "v_head_dim", 128, "qk_nope_head_dim", 128,
			 "topk_method", "noaux_tc", "n_group", 8, "topk_group", 4,
			 "num_experts_per_tok", 8, "moe_layer_freq", 1, "first_k_dense_replace", 3,
			 "norm_topk_prob", 1, "scoring_func", "sigmoid", "hidden_act", "silu",
			 "max_position_embeddings", 163840, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
			 "rope_scaling", "type", "yarn", "factor", 40.0,
			 "original_max_position_embeddings", 4096, "beta_fast", 32, "beta_slow", 1,
			 "mscale", 1.0, "mscale_all_dim", 1.0,
			 "tie_word_embeddings", 0, "bos_token_id", 0, "eos_token_id", 1,
			 "attention_bias", 0, "torch_dtype", "bfloat16", "quantization_config", fp8_quant());
}

/* Qwen2ForCausalLM: the DeepSeek-R1-Distill-Qwen config.json keys (rope_theta 10000,
   131072 positions, sliding window off). */
static json_t *qwen2_config(int hidden, int heads, int kv_heads, int inter, int vocab,
			    int window_layers)
{
	return json_pack("{s:[s],s:f,s:i,s:i,s:s,s:i,s:f,s:i,s:i,s:i,s:s,s:i,s:i,s:i,s:f,s:f,"
			 "s:i,s:b,s:s,s:s,s:b,s:b,s:b,s:i}",
			 "architectures", "Qwen2ForCausalLM", "attention_dropout", 0.0,
			 "bos_token_id", 0, "eos_token_id", 1, "hidden_act", "silu",
			 "hidden_size", hidden, "initializer_range", 0.02, "intermediate_size", inter,
			 "max_position_embeddings", 131072, "max_window_layers", window_layers,
			 "model_type", "qwen2", "num_attention_heads", heads, "num_hidden_layers", 28,
			 "num_key_value_heads", kv_heads, "rms_norm_eps", 1e-6, "rope_theta", 10000.0,
			 "sliding_window", 4096, "tie_word_embeddings", 0, "torch_dtype", "bfloat16",
			 "transformers_version", "4.44.0", "use_cache", 1, "use_mrope", 0,
			 "use_sliding_window", 0, "vocab_size", vocab);
}

static json_t *qwen2_1_5b_config(void) { return qwen2_config(1536, 12, 2, 8960, 151936, 21); }
static json_t *qwen2_7b_config(void) { return qwen2_config(3584, 28, 4, 18944, 152064, 28); }

/* LlamaForCausalLM: DeepSeek-R1-Distill-Llama-8B (Llama 3.1 8B, llama3 rope scaling). */
static json_t *llama3_8b_config(void)
{
	return json_pack("{s:[s],s:b,s:f,s:i,s:i,s:s,s:i,s:f,s:i,s:i,s:b,s:s,s:i,s:i,s:i,s:i,s:f,"
			 "s:{s:f,s:f,s:f,s:i,s:s},s:f,s:b,s:s,s:s,s:b,s:i}",
			 "architectures", "LlamaForCausalLM", "attention_bias", 0,
			 "attention_dropout", 0.0, "bos_token_id", 0, "eos_token_id", 1,
			 "hidden_act", "silu", "hidden_size", 4096, "initializer_range", 0.02,
			 "intermediate_size", 14336, "max_position_embeddings", 131072, "mlp_bias", 0,
			 "model_type", "llama", "num_attention_heads", 32, "num_hidden_layers", 32,
			 "num_key_value_heads", 8, "pretraining_tp", 1, "rms_norm_eps", 1e-5,
			 "rope_scaling", "factor", 8.0, "high_freq_factor", 4.0, "low_freq_factor", 1.0,
			 "original_max_position_embeddings", 8192, "rope_type", "llama3",
			 "rope_theta", 500000.0, "tie_word_embeddings", 0, "torch_dtype", "bfloat16",
			 "transformers_version", "4.43.0.dev0", "use_cache", 1, "vocab_size", 128256);
}

/* Qwen3ForCausalLM: DeepSeek-R1-0528-Qwen3-8B (explicit head_dim, YaRN x4 over 32768). */
static json_t *qwen3_8b_config(void)
{
	return json_pack("{s:[s],s:b,s:f,s:i,s:i,s:i,s:s,s:i,s:f,s:i,s:i,s:i,s:s,s:i,s:i,s:i,s:f,"
			 "s:{s:f,s:f,s:i,s:s},s:f,s:n,s:b,s:s,s:s,s:b,s:b,s:i}",
			 "architectures", "Qwen3ForCausalLM", "attention_bias", 0,
			 "attention_dropout", 0.0, "bos_token_id", 0, "eos_token_id", 1, "head_dim", 128,
			 "hidden_act", "silu", "hidden_size", 4096, "initializer_range", 0.02,
			 "intermediate_size", 12288, "max_position_embeddings", 131072,
			 "max_window_layers", 36, "model_type", "qwen3", "num_attention_heads", 32,
			 "num_hidden_layers", 36, "num_key_value_heads", 8, "rms_norm_eps", 1e-6,
			 "rope_scaling", "attn_factor", 0.8782488562869419, "factor", 4.0,
			 "original_max_position_embeddings", 32768, "rope_type", "yarn",
			 "rope_theta", 1000000.0, "sliding_window", "tie_word_embeddings", 0,
			 "torch_dtype", "bfloat16", "transformers_version", "4.51.0", "use_cache", 1,
			 "use_sliding_window", 0, "vocab_size", 151936);
}

/* The shapes --shape names; deepseek: MLA + MoE, FP8 always, --dense and --mtp apply. */
static const struct shape {
	const char *name;
	json_t *(*config)(void);
	bool deepseek;
} shapes[] = {
	{"v2-lite", v2_lite_config, true},
	{"v3", v3_config, true},
	{"qwen2-1.5b", qwen2_1_5b_config, false},
	{"qwen2-7b", qwen2_7b_config, false},
	{"llama3-8b", llama3_8b_config, false},
	{"qwen3-8b", qwen3_8b_config, false},
};
#define N_SHAPES (sizeof shapes / sizeof *shapes)
#define SHAPE_NAMES "v2-lite, v3, qwen2-1.5b, qwen2-7b, llama3-8b or qwen3-8b"

static const struct shape *find_shape(const char *name)
{
	for (size_t i = 0; i < N_SHAPES; i++)
		if (!strcmp(shapes[i].name, name))
			return &shapes[i];
	return NULL;
}

/* ---- command line --------------------------------------------------------------- */

static const char usage_text[] =
	"usage: synth-checkpoint [--shape NAME] [--layers N] [--dense N] [--mtp] [--fp8]\n"
	"                        [--set KEY=INT]... [--shard-mb MB] [--seed S]\n"
	"                        [--tokenizer DIR] OUT_DIR\n";

static void __attribute__((noreturn)) help(void)
{
	fputs(usage_text, stdout);
	fputs("Writes a random-weight checkpoint at a real model's shape, in the Hugging Face\n"
	      "layout, into OUT_DIR, which must be new or empty.\n"
	      "  --shape NAME     DeepSeek, MLA + MoE, FP8:\n"
	      "                     v2-lite     DeepSeek-V2-Lite, 10 layers (the default)\n"
	      "                     v3          DeepSeek-V3, 4 layers\n"
	      "                   dense GQA, BF16 (FP8 with --fp8), the DeepSeek-R1 distills:\n"
	      "                     qwen2-1.5b  DeepSeek-R1-Distill-Qwen-1.5B, 28 layers\n"
	      "                     qwen2-7b    DeepSeek-R1-Distill-Qwen-7B, 28 layers\n"
	      "                     llama3-8b   DeepSeek-R1-Distill-Llama-8B, 32 layers\n"
	      "                     qwen3-8b    DeepSeek-R1-0528-Qwen3-8B, 36 layers\n"
	      "  --layers N       decoder layers (num_hidden_layers)\n"
	      "  --dense N        DeepSeek shapes: the first N layers have a dense MLP\n"
	      "                   (first_k_dense_replace); default the shape's (v2-lite 1, v3 3),\n"
	      "                   at most layers - 1\n"
	      "  --mtp            DeepSeek shapes: add the multi-token-prediction layer\n"
	      "  --fp8            dense shapes: FP8 e4m3 matrices with 128x128 weight_scale_inv\n"
	      "                   blocks and a quantization_config (DeepSeek shapes always are)\n"
	      "  --set KEY=INT    override an integer field of config.json, or a boolean one\n"
	      "                   with 0 or 1 (tie_word_embeddings=1); repeatable\n"
	      "  --shard-mb MB    largest shard in MiB (default 4000); a tensor never splits\n"
	      "  --seed S         random seed (default 1): the same seed writes the same bytes\n"
	      "  --tokenizer DIR  copy tokenizer.json (and tokenizer_config.json) from DIR\n"
	      "                   (default models/demo)\n", stdout);
	exit(0);
}

/* A bad command line: the problem, the usage, status 2. Nothing has been written. */
static void __attribute__((format(printf, 1, 2), noreturn)) bad_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("synth-checkpoint: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	exit(2);
}

static long long parse_int(const char *s, const char *what, long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v < 0 || v > max)
		bad_usage("%s needs an integer from 0 to %lld, got '%s'", what, max, s);
	return v;
}

/* A field --set may change: an integer, a null (v2-lite's q_lora_rank) or a boolean. */
static bool settable(json_t *v)
{
	return v && (json_is_integer(v) || json_is_null(v) || json_is_boolean(v));
}

/* Applies --set KEY=INT to cfg. Only a field that the shape's config.json has as an
   integer, null or boolean may change, so a typo cannot pass unnoticed; a boolean takes
   0 or 1 and stays a boolean. */
static void apply_sets(json_t *cfg, const char *shape, json_t *sets)
{
	const char *key, *name;
	json_t *val, *x;
	json_object_foreach(sets, key, val) {
		json_t *v = json_object_get(cfg, key);
		if (settable(v) && !json_is_boolean(v)) {
			json_object_set(cfg, key, val);
			continue;
		}
		if (settable(v)) {
			if (json_integer_value(val) > 1)
				bad_usage("--set %s: a boolean, 0 or 1, got %lld", key,
					  (long long)json_integer_value(val));
			json_object_set_new(cfg, key, json_boolean(json_integer_value(val)));
			continue;
		}
		char keys[2048] = "";
		size_t k = 0;
		json_object_foreach(cfg, name, x)
			if (settable(x) && k < sizeof keys)
				k += (size_t)snprintf(keys + k, sizeof keys - k, "%s%s", k ? ", " : "",
						      name);
		bad_usage("--set %s: not an integer or boolean field of the %s config.json; those "
			  "are: %s", key, shape, keys);
	}
}

/* ---- output folder -------------------------------------------------------------- */

/* Makes OUT_DIR (or accepts an empty one) and arms the clean-up for the files that
   this run will write there. */
static void prepare_out(const char *out, const char *const *names, size_t n)
{
	struct stat sb;
	if (stat(out, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			die("%s exists and is not a folder", out);
		DIR *d = opendir(out);
		if (!d)
			die("cannot read %s: %s", out, strerror(errno));
		bool empty = true;
		for (struct dirent *de; empty && (de = readdir(d));)
			empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
		closedir(d);
		if (!empty) /* stale shards of another run would join this checkpoint */
			die("%s is not empty: remove it or name a new folder", out);
	} else if (errno != ENOENT || mkdir(out, 0755)) {
		die("cannot create %s: %s", out, strerror(errno));
	} else {
		partial.made_dir = true;
	}
	partial.dir = out;
	partial.names = names;
	partial.n = n;
	int fd = open(out, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		int err = errno;
		if (partial.made_dir)
			rmdir(out);
		die("cannot open %s: %s", out, strerror(err));
	}
	partial.dirfd = fd;

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A file-size limit then fails a write (EFBIG), the same path as a full disk. */
	signal(SIGXFSZ, SIG_IGN);
}

/* What the command line asked for. */
struct opts {
	const char *shape, *tok_dir, *out;
	long long layers, dense, shard_mb, seed; /* layers, dense: -1 for the shape's */
	bool mtp, fp8;
	json_t *sets; /* --set KEY=INT, in order */
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.shape = "v2-lite", .tok_dir = "models/demo", .layers = -1,
			   .dense = -1, .shard_mb = 4000, .seed = 1, .sets = json_object()};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			help();
		if (!strcmp(a, "--mtp") || !strcmp(a, "--fp8")) {
			*(a[2] == 'm' ? &o->mtp : &o->fp8) = true;
			continue;
		}
		if (a[0] != '-') {
			if (o->out)
				bad_usage("one OUT_DIR only, got '%s' and '%s'", o->out, a);
			o->out = a;
			continue;
		}
		if (strcmp(a, "--shape") && strcmp(a, "--layers") && strcmp(a, "--dense") &&
		    strcmp(a, "--shard-mb") && strcmp(a, "--seed") && strcmp(a, "--tokenizer") &&
		    strcmp(a, "--set"))
			bad_usage("unknown option '%s'", a);
		if (!v)
			bad_usage("%s needs a value", a);
		i++;
		if (!strcmp(a, "--shape")) {
			o->shape = v;
		} else if (!strcmp(a, "--layers")) {
			o->layers = parse_int(v, "--layers", 1024);
		} else if (!strcmp(a, "--dense")) {
			o->dense = parse_int(v, "--dense", 1024);
		} else if (!strcmp(a, "--shard-mb")) {
			o->shard_mb = parse_int(v, "--shard-mb", 1 << 20);
		} else if (!strcmp(a, "--seed")) {
			o->seed = parse_int(v, "--seed", LLONG_MAX);
		} else if (!strcmp(a, "--tokenizer")) {
			o->tok_dir = v;
		} else {
			const char *eq = strchr(v, '=');
			if (!eq || eq == v || eq - v >= 128)
				bad_usage("--set needs KEY=INT, got '%s'", v);
			char key[128], what[160];
			snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
			snprintf(what, sizeof what, "--set %s", key);
			json_object_set_new(o->sets, key,
					    json_integer(parse_int(eq + 1, what, 1LL << 40)));
		}
	}
	if (!o->out)
		bad_usage("no OUT_DIR given");
	if (o->layers == 0 || o->shard_mb == 0)
		bad_usage("--%s must be at least 1", o->layers == 0 ? "layers" : "shard-mb");
}

/* DeepSeek only: --dense and --mtp, and at least one MoE layer unless asked otherwise. */
static void finish_deepseek(json_t *cfg, const struct opts *o)
{
	if (o->dense >= 0)
		json_object_set_new(cfg, "first_k_dense_replace", json_integer(o->dense));
	if (o->mtp)
		json_object_set_new(cfg, "num_nextn_predict_layers", json_integer(1));
	apply_sets(cfg, o->shape, o->sets);
	long long L = cfg_int(cfg, "num_hidden_layers");
	if (o->dense < 0 && !json_object_get(o->sets, "first_k_dense_replace") && L >= 1 &&
	    cfg_int(cfg, "first_k_dense_replace") >= L)
		json_object_set_new(cfg, "first_k_dense_replace", json_integer(L - 1));
	if (cfg_int(cfg, "num_nextn_predict_layers") > 1)
		bad_usage("num_nextn_predict_layers %lld: this tool writes one MTP layer",
			  cfg_int(cfg, "num_nextn_predict_layers"));
}

/* The shape's config.json with the command line's changes, before ponder's checks. */
static json_t *make_config(const struct opts *o)
{
	const struct shape *sh = find_shape(o->shape);
	if (!sh)
		bad_usage("unknown --shape '%s': use %s", o->shape, SHAPE_NAMES);
	if (!sh->deepseek && (o->dense >= 0 || o->mtp))
		bad_usage("%s: a DeepSeek option; %s is a dense shape",
			  o->mtp ? "--mtp" : "--dense", o->shape);
	json_t *cfg = sh->config();
	if (!cfg)
		die("out of memory");
	if (o->layers > 0)
		json_object_set_new(cfg, "num_hidden_layers", json_integer(o->layers));
	if (sh->deepseek) {
		finish_deepseek(cfg, o);
		return cfg;
	}
	if (o->fp8) /* after every other key, where DeepSeek's config.json has it */
		json_object_set_new(cfg, "quantization_config", fp8_quant());
	apply_sets(cfg, o->shape, o->sets);
	return cfg;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	json_t *cfg = make_config(&o);
	const char *shape = o.shape, *tok_dir = o.tok_dir, *out = o.out;
	long long shard_mb = o.shard_mb, seed = o.seed;
	long long L = cfg_int(cfg, "num_hidden_layers");
	json_decref(o.sets);

	/* Ponder's own checks, so that a shape it would refuse is never written. */
	struct err e = {0};
	struct eng_config ec;
	char *text = json_dumps(cfg, JSON_COMPACT);
	if (!text)
		die("out of memory");
	if (eng_config_parse(text, strlen(text), &ec, &e))
		bad_usage("ponder would not load this config.json: %s", e.msg);
	free(text);

	/* The tokenizer, before anything is written: it must load and its ids fit. */
	char tok_path[4096];
	struct tok *tok = NULL;
	snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", tok_dir);
	if (tok_load(tok_path, &tok, &e))
		die("%s (--tokenizer DIR names a folder with tokenizer.json)", e.msg);
	size_t tok_ids = tok_vocab_size(tok);
	tok_free(tok);
	if (tok_ids > (size_t)ec.vocab_size)
		bad_usage("the tokenizer in %s has %zu ids, more than vocab_size %lld", tok_dir,
			  tok_ids, (long long)ec.vocab_size);
	snprintf(tok_path, sizeof tok_path, "%s/tokenizer_config.json", tok_dir);
	bool tok_cfg = access(tok_path, F_OK) == 0;

	init_levels();
	bool fp8 = json_object_get(cfg, "quantization_config") != NULL;
	struct plan p = {0};
	plan_model(&p, cfg);

	/* Shards in tensor order, each up to --shard-mb (a tensor never splits). */
	size_t limit = (size_t)shard_mb << 20, used = 0;
	int shard = 0;
	for (size_t i = 0; i < p.n; i++) {
		size_t b = tensor_bytes(&p.t[i]);
		if (used && used + b > limit) {
			shard++;
			used = 0;
		}
		p.t[i].shard = shard;
		p.t[i].offset = used;
		used += b;
	}
	int shards = shard + 1;
	if (shards > 99999)
		bad_usage("%d shards: raise --shard-mb", shards);

	/* Every name this run writes, config.json last: without it no loader takes the
	   folder for a checkpoint, so one cut short never looks whole. */
	const char **names = malloc(((size_t)shards + 4) * sizeof *names);
	char(*shard_names)[48] = malloc((size_t)shards * sizeof *shard_names);
	if (!names || !shard_names)
		die("out of memory");
	for (int s = 0; s < shards; s++) {
		st_shard_name(shard_names[s], sizeof shard_names[s], (size_t)s, (size_t)shards);
		names[s] = shard_names[s];
	}
	names[shards] = "model.safetensors.index.json";
	names[shards + 1] = "tokenizer.json";
	names[shards + 2] = "tokenizer_config.json";
	names[shards + 3] = "config.json";
	prepare_out(out, names, (size_t)shards + 4);

	json_t *map = json_object();
	size_t total = 0;
	for (size_t i = 0; i < p.n; i++) {
		json_object_set_new(map, p.t[i].name, json_string(shard_names[p.t[i].shard]));
		total += tensor_bytes(&p.t[i]);
	}
	for (int s = 0; s < shards; s++)
		write_shard(out, &p, s, shards, (uint64_t)seed);
	write_json(out, "model.safetensors.index.json",
		   json_pack("{s:{s:I},s:o}", "metadata", "total_size", (json_int_t)total,
			     "weight_map", map));
	copy_file(tok_dir, out, "tokenizer.json");
	if (tok_cfg)
		copy_file(tok_dir, out, "tokenizer_config.json");
	write_json(out, "config.json", cfg);
	int fd = partial.dirfd;
	partial.dirfd = -1; /* done: nothing to remove any more */
	close(fd);
	printf("%s: %s, %lld layers, %zu tensors, %.2f GB in %d shard%s, %s\n", out, shape, L,
	       p.n, (double)total / 1e9, shards, shards == 1 ? "" : "s", fp8 ? "FP8" : "BF16");
	free(names);
	free(shard_names);
	free(p.t);
	return 0;
}
