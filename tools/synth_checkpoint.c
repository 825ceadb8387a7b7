/*
 * synth_checkpoint.c — writes a random-weight DeepSeek checkpoint at real shapes, in
 * the exact Hugging Face layout: config.json, sharded safetensors with
 * model.safetensors.index.json, and a tokenizer. Benchmarks and tests use it so that
 * nothing large is committed and nothing is downloaded.
 *
 *   tools/synth-checkpoint [--shape v2-lite|v3] [--layers N] [--dense N] [--mtp]
 *                          [--set KEY=INT]... [--shard-mb MB] [--seed S]
 *                          [--tokenizer DIR] OUT_DIR
 *
 * v2-lite: DeepSeek-V2-Lite's shape (hidden 2048, 64 routed experts of 1408, 6 active,
 * 2 shared, kv_lora 512, no q-LoRA, vocab 102400, softmax routing), 10 layers by default.
 * v3: DeepSeek-V3's (hidden 7168, 256 experts of 2048, 8 active in 8 groups, q_lora 1536,
 * vocab 129280, sigmoid routing), 4 layers (3 dense) by default. --set overrides any
 * integer field of config.json (tests shrink the shapes this way); tensor shapes follow
 * the final config.
 *
 * Matrices are FP8 e4m3 with 128x128 weight_scale_inv blocks, as DeepSeek ships them;
 * embeddings, the LM head, the router and norms are BF16 (the router's bias F32). Values
 * are uniform with a standard deviation of 1/sqrt(fan-in), so activations keep their
 * size through the layers. Each tensor's values depend only on its name and the seed.
 * The tokenizer files are copied from --tokenizer (default models/demo): ponder's own,
 * smaller than the vocabulary; benchmarks feed token ids.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

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

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "synth-checkpoint: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void add(struct plan *p, const char *name, const char *dtype, size_t rows, size_t cols,
		double std)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 256;
		p->t = realloc(p->t, p->cap * sizeof *p->t);
		if (!p->t)
			die("%s", "out of memory");
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

static void add_norm(struct plan *p, const char *name, size_t dim)
{
	add(p, name, "BF16", 0, dim, 0);
}

static long long cfg_int(json_t *cfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void add_mlp(struct plan *p, const char *prefix, size_t dim, size_t inter)
{
	char n[200];
	snprintf(n, sizeof n, "%s.gate_proj", prefix);
	add_fp8(p, n, inter, dim);
	snprintf(n, sizeof n, "%s.up_proj", prefix);
	add_fp8(p, n, inter, dim);
	snprintf(n, sizeof n, "%s.down_proj", prefix);
	add_fp8(p, n, dim, inter);
}

/* One decoder layer, index li, MoE unless li < first_k_dense_replace. */
static void add_layer(struct plan *p, json_t *cfg, long long li)
{
	size_t D = (size_t)cfg_int(cfg, "hidden_size"), H = (size_t)cfg_int(cfg, "num_attention_heads");
	size_t nope = (size_t)cfg_int(cfg, "qk_nope_head_dim"), rope = (size_t)cfg_int(cfg, "qk_rope_head_dim");
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
		add_mlp(p, n, D, (size_t)cfg_int(cfg, "intermediate_size"));
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
		add_mlp(p, n, D, mi);
	}
	if (cfg_int(cfg, "n_shared_experts")) {
		snprintf(n, sizeof n, "%s.mlp.shared_experts", l);
		add_mlp(p, n, D, mi * (size_t)cfg_int(cfg, "n_shared_experts"));
	}
}

static void plan_model(struct plan *p, json_t *cfg)
{
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

static void write_shard(const char *dir, const struct plan *p, int shard, int shards,
			uint64_t seed)
{
	json_t *hdr = json_object();
	json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"));
	for (size_t i = 0; i < p->n; i++) {
		const struct tensor *t = &p->t[i];
		if (t->shard != shard)
			continue;
		json_t *shape = t->rows ? json_pack("[I,I]", (json_int_t)t->rows, (json_int_t)t->cols)
					: json_pack("[I]", (json_int_t)t->cols);
		json_object_set_new(hdr, t->name, json_pack("{s:s,s:o,s:[I,I]}", "dtype", t->dtype,
				    "shape", shape, "data_offsets", (json_int_t)t->offset,
				    (json_int_t)(t->offset + tensor_bytes(t))));
	}
	char *text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(hdr);
	size_t len = strlen(text), padded = (len + 7) / 8 * 8;

	char path[4096];
	snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", dir, shard + 1, shards);
	FILE *f = fopen(path, "wb");
	if (!f)
		die("cannot create %s", path);
	uint64_t hl = padded;
	fwrite(&hl, 8, 1, f);
	fwrite(text, 1, len, f);
	for (size_t k = len; k < padded; k++)
		fputc(' ', f);
	free(text);

	static uint8_t buf[1 << 20];
	for (size_t i = 0; i < p->n; i++) {
		const struct tensor *t = &p->t[i];
		if (t->shard != shard)
			continue;
		uint64_t rng = name_seed(t->name, seed);
		for (size_t left = tensor_bytes(t); left;) {
			size_t now = left < sizeof buf ? left : sizeof buf;
			fill(t, buf, now, &rng);
			if (fwrite(buf, 1, now, f) != now)
				die("writing %s failed (disk full?)", path);
			left -= now;
		}
	}
	if (fclose(f))
		die("writing %s failed (disk full?)", path);
}

static void write_json(const char *dir, const char *name, json_t *v)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (json_dump_file(v, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER))
		die("cannot write %s", path);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name)
{
	char src[4096], dst[4096];
	snprintf(src, sizeof src, "%s/%s", from_dir, name);
	snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
	FILE *in = fopen(src, "rb"), *out;
	if (!in)
		die("cannot read %s: pass --tokenizer DIR, a folder with tokenizer.json", src);
	if (!(out = fopen(dst, "wb")))
		die("cannot create %s", dst);
	char buf[65536];
	size_t k;
	while ((k = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, k, out);
	fclose(in);
	if (fclose(out))
		die("writing %s failed", dst);
}

/* ---- shapes --------------------------------------------------------------------- */

static json_t *shape_config(const char *shape)
{
	json_t *quant = json_pack("{s:s,s:s,s:s,s:[i,i]}", "activation_scheme", "dynamic", "fmt",
				  "e4m3", "quant_method", "fp8", "weight_block_size", 128, 128);
	if (!strcmp(shape, "v2-lite"))
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
				 "attention_bias", 0, "torch_dtype", "bfloat16", "quantization_config", quant);
	if (!strcmp(shape, "v3"))
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
				 "attention_bias", 0, "torch_dtype", "bfloat16", "quantization_config", quant);
	json_decref(quant);
	return NULL;
}

static void usage(void)
{
	fputs("usage: synth-checkpoint [--shape v2-lite|v3] [--layers N] [--dense N] [--mtp]\n"
	      "                        [--set KEY=INT]... [--shard-mb MB] [--seed S]\n"
	      "                        [--tokenizer DIR] OUT_DIR\n", stderr);
	exit(2);
}

static long long parse_int(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v < 0)
		die("%s needs a non-negative integer", what);
	return v;
}

int main(int argc, char **argv)
{
	const char *shape = "v2-lite", *tok_dir = "models/demo", *out = NULL;
	long long layers = -1, dense = -1, shard_mb = 4000, seed = 1;
	bool mtp = false;
	json_t *sets = json_object();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--mtp")) {
			mtp = true;
			continue;
		}
		if (a[0] != '-') {
			if (out)
				usage();
			out = a;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--shape")) {
			shape = v;
		} else if (!strcmp(a, "--layers")) {
			layers = parse_int(v, "--layers");
		} else if (!strcmp(a, "--dense")) {
			dense = parse_int(v, "--dense");
		} else if (!strcmp(a, "--shard-mb")) {
			shard_mb = parse_int(v, "--shard-mb");
		} else if (!strcmp(a, "--seed")) {
			seed = parse_int(v, "--seed");
		} else if (!strcmp(a, "--tokenizer")) {
			tok_dir = v;
		} else if (!strcmp(a, "--set")) {
			const char *eq = strchr(v, '=');
			if (!eq || eq == v)
				die("--set needs KEY=INT, got '%s'", v);
			char key[128];
			snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
			json_object_set_new(sets, key, json_integer(parse_int(eq + 1, "--set")));
		} else {
			usage();
		}
	}
	if (!out)
		usage();
	json_t *cfg = shape_config(shape);
	if (!cfg)
		die("unknown --shape '%s': use v2-lite or v3", shape);
	if (layers >= 1)
		json_object_set_new(cfg, "num_hidden_layers", json_integer(layers));
	else if (layers == 0)
		die("%s", "--layers must be at least 1");
	if (dense >= 0)
		json_object_set_new(cfg, "first_k_dense_replace", json_integer(dense));
	if (mtp)
		json_object_set_new(cfg, "num_nextn_predict_layers", json_integer(1));
	json_object_update(cfg, sets);
	json_decref(sets);
	if (cfg_int(cfg, "hidden_size") <= 0 || cfg_int(cfg, "vocab_size") <= 0)
		die("%s", "hidden_size and vocab_size must be positive");

	if (mkdir(out, 0755) && errno != EEXIST)
		die("cannot create %s", out);
	init_levels();
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
	json_t *map = json_object();
	size_t total = 0;
	for (size_t i = 0; i < p.n; i++) {
		char f[64];
		snprintf(f, sizeof f, "model-%05d-of-%05d.safetensors", p.t[i].shard + 1, shards);
		json_object_set_new(map, p.t[i].name, json_string(f));
		total += tensor_bytes(&p.t[i]);
	}
	for (int s = 0; s < shards; s++)
		write_shard(out, &p, s, shards, (uint64_t)seed);
	write_json(out, "model.safetensors.index.json",
		   json_pack("{s:{s:I},s:o}", "metadata", "total_size", (json_int_t)total,
			     "weight_map", map));
	write_json(out, "config.json", cfg);
	copy_file(tok_dir, out, "tokenizer.json");
	copy_file(tok_dir, out, "tokenizer_config.json");
	printf("%s: %s, %lld layers, %zu tensors, %.2f GB in %d shard%s\n", out, shape,
	       cfg_int(cfg, "num_hidden_layers"), p.n, (double)total / 1e9, shards,
	       shards == 1 ? "" : "s");
	json_decref(cfg);
	free(p.t);
	return 0;
}
