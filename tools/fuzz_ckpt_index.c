/*
 * fuzz_ckpt_index.c — libFuzzer harness for model.safetensors.index.json handling in
 * ckpt_open (engine/checkpoint.c): JSON, weight_map checks, shard names, the tensor
 * table, and the cross-check of index against shards.
 *
 * ckpt_open only takes a directory, so the harness makes one once (a valid config.json
 * and two small shards, a.safetensors and b.safetensors) and writes each input there as
 * the index. Errors must be negative with a message; a checkpoint that opens must find
 * every tensor it lists by name, in a shard it can name, with its data inside that
 * shard.
 *
 *   make fuzz && build/fuzz/fuzz_ckpt_index -max_total_time=180 tools/fuzz/corpus/ckpt_index
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"model_type\":\"deepseek_v3\","
	"\"vocab_size\":512,\"hidden_size\":128,\"intermediate_size\":384,"
	"\"moe_intermediate_size\":128,\"num_hidden_layers\":4,\"num_attention_heads\":8,"
	"\"num_key_value_heads\":8,\"n_shared_experts\":1,\"n_routed_experts\":8,"
	"\"kv_lora_rank\":64,\"q_lora_rank\":96,\"qk_rope_head_dim\":16,\"v_head_dim\":16,"
	"\"qk_nope_head_dim\":16,\"n_group\":4,\"topk_group\":2,\"num_experts_per_tok\":2,"
	"\"moe_layer_freq\":1,\"first_k_dense_replace\":1,\"max_position_embeddings\":2048,"
	"\"rms_norm_eps\":1e-06,\"rope_theta\":1000.0,\"bos_token_id\":0,\"eos_token_id\":1}";

static char dir[64];

static void put(const char *name, const void *p, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		abort();
}

/* A safetensors file holding the named F32 tensors of 2 elements each. */
static void shard(const char *file, const char *const *names, int n)
{
	char hdr[512];
	int k = snprintf(hdr, sizeof hdr, "{");
	for (int i = 0; i < n; i++)
		k += snprintf(hdr + k, sizeof hdr - (size_t)k,
			      "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}",
			      i ? "," : "", names[i], 8 * i, 8 * i + 8);
	k += snprintf(hdr + k, sizeof hdr - (size_t)k, "}");
	uint8_t buf[1024] = {0};
	uint64_t len = (uint64_t)k;
	memcpy(buf, &len, 8); /* little-endian host */
	memcpy(buf + 8, hdr, (size_t)k);
	put(file, buf, 8 + (size_t)k + 8 * (size_t)n);
}

static void cleanup(void)
{
	static const char *const files[] = {"config.json", "a.safetensors", "b.safetensors",
					    "model.safetensors.index.json"};
	char path[128];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/fuzz_ckpt.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	put("config.json", config, sizeof config - 1);
	static const char *const a[] = {"model.embed_tokens.weight", "lm_head.weight"};
	static const char *const b[] = {"model.norm.weight", "x", "y.z"};
	shard("a.safetensors", a, 2);
	shard("b.safetensors", b, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		setup();
	put("model.safetensors.index.json", data, size);
	struct ckpt *c = NULL;
	struct err e = {0};
	int rc = ckpt_open(dir, &c, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0])
			__builtin_trap();
		return 0;
	}
	for (size_t i = 0; i < ckpt_count(c); i++) {
		const struct st_tensor *t = ckpt_at(c, i);
		const char *f = ckpt_file_of(c, t->name); /* the shard's path */
		const char *base = f ? strrchr(f, '/') : NULL;
		if (ckpt_find(c, t->name) != t || !base ||
		    (strcmp(base, "/a.safetensors") && strcmp(base, "/b.safetensors")))
			__builtin_trap();
		volatile uint8_t sink = ((const uint8_t *)t->data)[t->nbytes - 1];
		(void)sink;
	}
	ckpt_close(c);
	return 0;
}
