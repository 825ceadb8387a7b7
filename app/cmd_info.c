/*
 * cmd_info.c — `ponder info -m DIR [--json]`: what a checkpoint is, before running it.
 *
 * Opens the checkpoint (config.json + shards, validated and mmapped, no tensor data
 * read) and prints its architecture, sizes, routing, context and YaRN settings,
 * parameter counts, bytes by dtype, and the KV-cache cost. Parameter counts come from
 * the tensors actually present, not from the config:
 *   total  = elements of every tensor except FP8 scale tensors (*_scale_inv);
 *   active = the main model's tensors, with the routed experts ("mlp.experts.N.")
 *            scaled by num_experts_per_tok / n_routed_experts; MTP layers (index >=
 *            num_hidden_layers) are reported separately and not counted as active,
 *            since they only draft tokens;
 *   distinct = total less the MTP layers' own copies of the embedding and output head
 *            (DeepSeek-V3 shares both with the main model; its checkpoints store them
 *            again under model.layers.N.), which is the size a model card quotes.
 * The KV cache is eng_kv_bytes_per_token's, the figure a sequence really reserves: per
 * layer (the MTP layer included when it runs), one row of kv_lora_rank +
 * qk_rope_head_dim values (MLA) or a key and a value row of head_dim per kv head (GQA),
 * in the --kv-type a chat would use (default bf16).
 */
#include "app/commands.h"
#include "app/options.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "engine/checkpoint.h"
#include "engine/engine.h"
#include "kernels/gpu.h"
#include "kernels/kern.h"

struct info_counts {
	uint64_t total, main, mtp, experts, active;
	uint64_t mtp_copies; /* MTP layers' copies of the embedding and output head */
	uint64_t bytes[ST_F8_E5M2 + 1];
	uint64_t all_bytes;
	size_t tensors, shards, mtp_tensors;
};

static const char *const topk_names[] = {"greedy", "group_limited_greedy", "noaux_tc"};
static const char *const scoring_names[] = {"softmax", "sigmoid"};

static void usage(FILE *f)
{
	fprintf(f, "usage: ponder info [-m DIR | --model DIR] [--kv-type f32|bf16|fp8] [--json]\n"
		   "  Describes the DeepSeek checkpoint in DIR (default: $PONDER_MODEL, else the\n"
		   "  shipped demo model); the KV cache line is for --kv-type (default bf16).\n");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Layer index of "model.layers.N.…", or -1. */
static long layer_of(const char *name)
{
	static const char pre[] = "model.layers.";
	if (strncmp(name, pre, sizeof pre - 1) != 0)
		return -1;
	const char *p = name + sizeof pre - 1;
	char *end;
	long v = strtol(p, &end, 10);
	return end != p && *end == '.' && v >= 0 ? v : -1;
}

/* True for a routed expert's tensor ("….mlp.experts.N.…"), not the shared experts. */
static bool is_routed_expert(const char *name)
{
	const char *p = strstr(name, ".mlp.experts.");
	if (!p)
		return false;
	p += strlen(".mlp.experts.");
	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	return *p == '.';
}

static void count(const struct ckpt *ck, struct info_counts *k)
{
	const struct eng_config *c = ckpt_config(ck);
	memset(k, 0, sizeof *k);
	k->tensors = ckpt_count(ck);
	const char *prev_file = NULL;
	for (size_t i = 0; i < k->tensors; i++) {
		const struct st_tensor *t = ckpt_at(ck, i);
		const char *file = ckpt_file_of(ck, t->name);
		if (file != prev_file) { /* ckpt_at groups tensors by shard */
			k->shards++;
			prev_file = file;
		}
		k->bytes[t->dtype] += t->nbytes;
		k->all_bytes += t->nbytes;
		if (ends_with(t->name, "_scale_inv"))
			continue;
		k->total += t->nelem;
		long layer = layer_of(t->name);
		if (layer >= c->num_hidden_layers) {
			k->mtp += t->nelem;
			k->mtp_tensors++;
			if (ends_with(t->name, ".embed_tokens.weight") ||
			    ends_with(t->name, ".shared_head.head.weight"))
				k->mtp_copies += t->nelem;
			continue;
		}
		k->main += t->nelem;
		if (c->n_routed_experts > 0 && is_routed_expert(t->name))
			k->experts += t->nelem;
	}
	uint64_t n = (uint64_t)c->n_routed_experts, kk = (uint64_t)c->num_experts_per_tok;
	uint64_t routed_active = n ? k->experts / n * kk + k->experts % n * kk / n : 0;
	k->active = k->main - k->experts + routed_active;
}

static void fmt_count(char *buf, size_t cap, uint64_t v)
{
	static const char *const unit[] = {"", "K", "M", "B", "T"};
	double x = (double)v;
	int u = 0;
	while (x >= 1000 && u < 4) {
		x /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, cap, "%llu", (unsigned long long)v);
	else
		snprintf(buf, cap, "%.2f%s (%llu)", x, unit[u], (unsigned long long)v);
}

static int64_t dense_layers(const struct eng_config *c)
{
	return c->n_routed_experts ? c->first_k_dense_replace : c->num_hidden_layers;
}

static void print_text(const char *dir, const struct eng_config *c, const struct info_counts *k,
		       enum eng_kv_type kvt)
{
	char a[64], b[64];
	int64_t dense = dense_layers(c);
	printf("model          %s\n", dir);
	printf("architecture   %s (model_type %s)\n", c->architecture, c->model_type);
	printf("family         %s\n", eng_config_family(c));
	printf("layers         %lld: %lld dense, %lld MoE", (long long)c->num_hidden_layers,
	       (long long)dense, (long long)(c->num_hidden_layers - dense));
	if (c->num_nextn_predict_layers)
		printf("; + %lld MTP layer%s (%s)", (long long)c->num_nextn_predict_layers,
		       c->num_nextn_predict_layers == 1 ? "" : "s",
		       k->mtp_tensors ? "weights present" : "weights absent");
	printf("\n");
	printf("hidden size    %lld (dense MLP %lld)\n", (long long)c->hidden_size,
	       (long long)c->intermediate_size);
	if (c->attn == ATTN_GQA) {
		printf("attention      GQA, %lld heads sharing %lld kv head%s of %lld%s%s%s; softmax "
		       "scale %.6g\n", (long long)c->num_attention_heads,
		       (long long)c->num_key_value_heads, c->num_key_value_heads == 1 ? "" : "s",
		       (long long)c->head_dim, c->qkv_bias ? "; q/k/v biases" : "",
		       c->o_bias ? "; o bias" : "", c->qk_norm ? "; q/k RMSNorm per head" : "",
		       eng_config_softmax_scale(c));
	} else {
		printf("attention      MLA, %lld heads; qk head dim %lld (nope %lld + rope %lld), v "
		       "head dim %lld; softmax scale %.6g\n",
		       (long long)c->num_attention_heads,
		       (long long)(c->qk_nope_head_dim + c->qk_rope_head_dim),
		       (long long)c->qk_nope_head_dim, (long long)c->qk_rope_head_dim,
		       (long long)c->v_head_dim, eng_config_softmax_scale(c));
		if (c->q_lora_rank)
			printf("LoRA ranks     q %lld, kv %lld\n", (long long)c->q_lora_rank,
			       (long long)c->kv_lora_rank);
		else
			printf("LoRA ranks     q none (plain q_proj), kv %lld\n",
			       (long long)c->kv_lora_rank);
	}
	if (c->n_routed_experts) {
		printf("experts        %lld routed + %lld shared (each %lld wide), %lld per token; "
		       "%s scoring, %s",
		       (long long)c->n_routed_experts, (long long)c->n_shared_experts,
		       (long long)c->moe_intermediate_size, (long long)c->num_experts_per_tok,
		       scoring_names[c->scoring_func], topk_names[c->topk_method]);
		if (c->topk_method != TOPK_GREEDY)
			printf(" over %lld groups (best %lld)", (long long)c->n_group,
			       (long long)c->topk_group);
		printf("; norm_topk_prob %s, routed_scaling_factor %g\n",
		       c->norm_topk_prob ? "true" : "false", c->routed_scaling_factor);
	} else
		printf("experts        none (dense model)\n");
	printf("vocab          %lld\n", (long long)c->vocab_size);
	printf("context        %lld tokens, rope_theta %g", (long long)c->max_position_embeddings,
	       c->rope_theta);
	if (c->yarn.enabled && c->attn == ATTN_GQA)
		printf("; YaRN factor %g, original %lld, beta_fast %g, beta_slow %g, cos/sin x %.6g",
		       c->yarn.factor, (long long)c->yarn.original_max_position_embeddings,
		       c->yarn.beta_fast, c->yarn.beta_slow, c->yarn.attention_factor);
	else if (c->yarn.enabled)
		printf("; YaRN factor %g, original %lld, beta_fast %g, beta_slow %g, mscale %g, "
		       "mscale_all_dim %g",
		       c->yarn.factor, (long long)c->yarn.original_max_position_embeddings,
		       c->yarn.beta_fast, c->yarn.beta_slow, c->yarn.mscale, c->yarn.mscale_all_dim);
	else if (c->llama3.enabled)
		printf("; llama3 scaling factor %g, low_freq_factor %g, high_freq_factor %g, "
		       "original %lld", c->llama3.factor, c->llama3.low_freq_factor,
		       c->llama3.high_freq_factor,
		       (long long)c->llama3.original_max_position_embeddings);
	else
		printf("; no rope scaling");
	printf("\n");
	printf("weights        %s\n", c->fp8 ? "FP8 e4m3, 128x128 scale blocks" : "not quantized");
	fmt_count(a, sizeof a, k->total - k->mtp_copies);
	printf("parameters     %s", a);
	if (k->mtp) {
		fmt_count(a, sizeof a, k->main);
		fmt_count(b, sizeof b, k->mtp - k->mtp_copies);
		printf(": %s main model + %s MTP", a, b);
	}
	printf("\n");
	if (k->mtp_copies) {
		fmt_count(a, sizeof a, k->total);
		fmt_count(b, sizeof b, k->mtp_copies);
		printf("stored         %s, with the MTP layer's own copy of the embedding and "
		       "output head: %s\n", a, b);
	}
	fmt_count(a, sizeof a, k->active);
	printf("active/token   %s (main model; MTP layers not counted)\n", a);
	printf("bytes          ");
	for (int d = 0; d <= ST_F8_E5M2; d++) {
		if (!k->bytes[d])
			continue;
		fmt_bytes(a, sizeof a, k->bytes[d]);
		printf("%s %s, ", st_dtype_name((enum st_dtype)d), a);
	}
	fmt_bytes(a, sizeof a, k->all_bytes);
	printf("total %s in %zu tensors, %zu shard%s\n", a, k->tensors, k->shards,
	       k->shards == 1 ? "" : "s");
	/* What a chat reserves: with the MTP layer when the checkpoint has it (--mtp on). */
	bool mtp = k->mtp_tensors > 0;
	uint64_t per = eng_kv_bytes_per_token(c, mtp, kvt);
	uint64_t layers = (uint64_t)c->num_hidden_layers + mtp;
	fmt_bytes(a, sizeof a, per);
	fmt_bytes(b, sizeof b, per * (uint64_t)c->max_position_embeddings);
	if (c->attn == ATTN_GQA)
		printf("KV cache       %s per token (%s k and v, %lld layers x 2 x %lld kv heads x "
		       "%lld values, %llu B a layer); %s at %lld tokens", a, eng_kv_type_name(kvt),
		       (long long)c->num_hidden_layers, (long long)c->num_key_value_heads,
		       (long long)c->head_dim, (unsigned long long)(per / layers), b,
		       (long long)c->max_position_embeddings);
	else
		printf("KV cache       %s per token (%s latent, %lld layers%s x (%lld + %lld) values, "
		       "%llu B a layer); %s at %lld tokens", a, eng_kv_type_name(kvt),
		       (long long)c->num_hidden_layers, mtp ? " + 1 MTP" : "",
		       (long long)c->kv_lora_rank, (long long)c->qk_rope_head_dim,
		       (unsigned long long)(per / layers), b, (long long)c->max_position_embeddings);
	if (mtp) {
		fmt_bytes(a, sizeof a, eng_kv_bytes_per_token(c, false, kvt));
		printf("; %s per token with --mtp off", a);
	}
	printf("\n");
}

/* json_object_set_new that records allocation failure instead of ignoring it. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *to_json(const char *dir, const struct eng_config *c, const struct info_counts *k,
		       enum eng_kv_type kvt)
{
	bool ok = true;
	json_t *o = json_object();
	if (!o)
		return NULL;
	int64_t dense = dense_layers(c);
	put(o, "model", json_string(dir), &ok);
	put(o, "architecture", json_string(c->architecture), &ok);
	put(o, "model_type", json_string(c->model_type), &ok);
	put(o, "family", json_string(eng_config_family(c)), &ok);
	put(o, "attention", json_string(c->attn == ATTN_GQA ? "gqa" : "mla"), &ok);
	put(o, "num_hidden_layers", json_integer(c->num_hidden_layers), &ok);
	put(o, "dense_layers", json_integer(dense), &ok);
	put(o, "moe_layers", json_integer(c->num_hidden_layers - dense), &ok);
	put(o, "mtp_layers", json_integer(c->num_nextn_predict_layers), &ok);
	put(o, "mtp_weights_present", json_boolean(k->mtp_tensors > 0), &ok);
	put(o, "hidden_size", json_integer(c->hidden_size), &ok);
	put(o, "intermediate_size", json_integer(c->intermediate_size), &ok);
	put(o, "num_attention_heads", json_integer(c->num_attention_heads), &ok);
	if (c->attn == ATTN_GQA) {
		put(o, "num_key_value_heads", json_integer(c->num_key_value_heads), &ok);
		put(o, "head_dim", json_integer(c->head_dim), &ok);
		put(o, "qkv_bias", json_boolean(c->qkv_bias), &ok);
		put(o, "o_bias", json_boolean(c->o_bias), &ok);
		put(o, "qk_norm", json_boolean(c->qk_norm), &ok);
	}
	put(o, "qk_nope_head_dim", json_integer(c->qk_nope_head_dim), &ok);
	put(o, "qk_rope_head_dim", json_integer(c->qk_rope_head_dim), &ok);
	put(o, "v_head_dim", json_integer(c->v_head_dim), &ok);
	put(o, "q_lora_rank", c->q_lora_rank ? json_integer(c->q_lora_rank) : json_null(), &ok);
	put(o, "kv_lora_rank", json_integer(c->kv_lora_rank), &ok);
	put(o, "softmax_scale", json_real(eng_config_softmax_scale(c)), &ok);
	if (c->n_routed_experts) {
		json_t *x = json_object();
		if (x) {
			put(x, "routed", json_integer(c->n_routed_experts), &ok);
			put(x, "shared", json_integer(c->n_shared_experts), &ok);
			put(x, "per_token", json_integer(c->num_experts_per_tok), &ok);
			put(x, "moe_intermediate_size", json_integer(c->moe_intermediate_size), &ok);
			put(x, "n_group", json_integer(c->n_group), &ok);
			put(x, "topk_group", json_integer(c->topk_group), &ok);
			put(x, "scoring_func", json_string(scoring_names[c->scoring_func]), &ok);
			put(x, "topk_method", json_string(topk_names[c->topk_method]), &ok);
			put(x, "norm_topk_prob", json_boolean(c->norm_topk_prob), &ok);
			put(x, "routed_scaling_factor", json_real(c->routed_scaling_factor), &ok);
		}
		put(o, "experts", x, &ok);
	} else {
		put(o, "experts", json_null(), &ok);
	}
	put(o, "vocab_size", json_integer(c->vocab_size), &ok);
	put(o, "max_position_embeddings", json_integer(c->max_position_embeddings), &ok);
	put(o, "rope_theta", json_real(c->rope_theta), &ok);
	if (c->yarn.enabled) {
		json_t *y = json_object();
		if (y) {
			put(y, "factor", json_real(c->yarn.factor), &ok);
			put(y, "original_max_position_embeddings",
			    json_integer(c->yarn.original_max_position_embeddings), &ok);
			put(y, "beta_fast", json_real(c->yarn.beta_fast), &ok);
			put(y, "beta_slow", json_real(c->yarn.beta_slow), &ok);
			put(y, "mscale", json_real(c->yarn.mscale), &ok);
			put(y, "mscale_all_dim", json_real(c->yarn.mscale_all_dim), &ok);
			if (c->attn == ATTN_GQA)
				put(y, "attention_factor", json_real(c->yarn.attention_factor), &ok);
		}
		put(o, "yarn", y, &ok);
	} else {
		put(o, "yarn", json_null(), &ok);
	}
	if (c->llama3.enabled) {
		json_t *l = json_object();
		if (l) {
			put(l, "factor", json_real(c->llama3.factor), &ok);
			put(l, "low_freq_factor", json_real(c->llama3.low_freq_factor), &ok);
			put(l, "high_freq_factor", json_real(c->llama3.high_freq_factor), &ok);
			put(l, "original_max_position_embeddings",
			    json_integer(c->llama3.original_max_position_embeddings), &ok);
		}
		put(o, "llama3_rope", l, &ok);
	}
	put(o, "fp8", json_boolean(c->fp8), &ok);
	json_t *p = json_object();
	if (p) {
		put(p, "total", json_integer((json_int_t)k->total), &ok);
		put(p, "distinct", json_integer((json_int_t)(k->total - k->mtp_copies)), &ok);
		put(p, "main", json_integer((json_int_t)k->main), &ok);
		put(p, "mtp", json_integer((json_int_t)k->mtp), &ok);
		put(p, "mtp_embedding_head_copies", json_integer((json_int_t)k->mtp_copies), &ok);
		put(p, "active_per_token", json_integer((json_int_t)k->active), &ok);
		put(p, "active_excludes_mtp", json_true(), &ok);
	}
	put(o, "parameters", p, &ok);
	json_t *bd = json_object();
	if (bd)
		for (int d = 0; d <= ST_F8_E5M2; d++)
			if (k->bytes[d])
				put(bd, st_dtype_name((enum st_dtype)d),
				    json_integer((json_int_t)k->bytes[d]), &ok);
	put(o, "bytes_by_dtype", bd, &ok);
	put(o, "bytes_total", json_integer((json_int_t)k->all_bytes), &ok);
	put(o, "tensors", json_integer((json_int_t)k->tensors), &ok);
	put(o, "shards", json_integer((json_int_t)k->shards), &ok);
	json_t *kv = json_object();
	uint64_t per = eng_kv_bytes_per_token(c, k->mtp_tensors > 0, kvt);
	if (kv) {
		put(kv, "dtype", json_string(eng_kv_type_name(kvt)), &ok);
		put(kv, "bytes_per_token", json_integer((json_int_t)per), &ok);
		put(kv, "bytes_per_token_mtp_off",
		    json_integer((json_int_t)eng_kv_bytes_per_token(c, false, kvt)), &ok);
		put(kv, "bytes_at_max_context",
		    json_integer((json_int_t)(per * (uint64_t)c->max_position_embeddings)), &ok);
	}
	put(o, "kv_cache", kv, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Where the model would run: the CPU kernel table and any GPUs. */
static void print_devices(void)
{
	struct kern_gpu gpus[16];
	int version, n = kern_gpu_list(gpus, 16);
	printf("devices        CPU kernels %s", kern_cpu_best()->name);
	if (!kern_gpu_built(&version))
		printf("; built without CUDA\n");
	else if (n == 0)
		printf("; no GPU found (built with CUDA %d.%d)\n", version / 1000,
		       version % 1000 / 10);
	for (int i = 0; i < n && i < 16; i++)
		printf("%sGPU %d %s, %.1f GiB, compute %d.%d%s", i ? ", " : "; ", i, gpus[i].name,
		       (double)gpus[i].mem_bytes / (1 << 30), gpus[i].cc_major, gpus[i].cc_minor,
		       i + 1 == n || i == 15 ? "\n" : "");
}

int app_cmd_info(int argc, char **argv, struct err *e)
{
	static const struct option opts[] = {
		{"model", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{"kv-type", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = NULL;
	bool json = false;
	enum eng_kv_type kvt = ENG_KV_BF16;
	optind = 0; /* GNU: full re-initialisation, main may have run getopt already */
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "+m:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': dir = optarg; break;
		case 'j': json = true; break;
		case 'k':
			if (eng_kv_type_parse(optarg, &kvt, e))
				return e->code;
			break;
		case 'h': usage(stdout); return 0;
		case ':':
		case '?':
		default:
			usage(stderr);
			if (optopt == 'm')
				return err_set(e, ERR_USAGE, "-m needs a model directory");
			if (optopt == 'k')
				return err_set(e, ERR_USAGE, "--kv-type needs f32, bf16 or fp8");
			return err_set(e, ERR_USAGE, "unknown option %s",
				       argv[optind - 1] ? argv[optind - 1] : "?");
		}
	}
	if (optind < argc) {
		usage(stderr);
		return err_set(e, ERR_USAGE, "unexpected argument \"%s\"", argv[optind]);
	}
	if (!dir) {
		const char *env = getenv("PONDER_MODEL");
		if (env && *env)
			dir = env;
	}
	char demo[4096];
	bool is_demo = !dir;
	if (!dir) {
		if (app_demo_model_dir(demo, sizeof demo, e))
			return e->code = ERR_MODEL;
		dir = demo;
	}
	struct ckpt *ck;
	int rc = ckpt_open(dir, &ck, e);
	if (rc) /* exit 3 whatever stopped the load, as in every mode that loads a model */
		return rc == ERR_USAGE ? rc : (e->code = ERR_MODEL);
	struct info_counts k;
	count(ck, &k);
	const struct eng_config *c = ckpt_config(ck);
	if (json) {
		json_t *o = to_json(dir, c, &k, kvt);
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!s) {
			ckpt_close(ck);
			return err_set(e, ERR_NOMEM, "out of memory building JSON");
		}
		printf("%s\n", s);
		free(s);
	} else {
		print_text(dir, c, &k, kvt);
		print_devices();
		if (is_demo)
			printf("note           %s\n", APP_DEMO_NOTE);
	}
	if (fflush(stdout) != 0)
		rc = err_set(e, ERR_IO, "cannot write to standard output");
	ckpt_close(ck);
	return rc;
}
