/*
 * test_checkpoint.c — engine/checkpoint.c: model directories, real and hostile.
 *
 * The fixture tests open tiny-v3 and tiny-v2lite as published (config.json, index, two
 * shards). The hostile ones build a directory under /tmp per test: index entries that
 * leave the directory, an index naming a tensor its shard lacks, a tensor in two
 * shards, a missing config.json or missing weights, a damaged shard. Each asserts the
 * error code and that the message names the file or entry at fault.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/checkpoint.h"
#include "tests/check.h"

static const char small_config[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"vocab_size\":64,\"hidden_size\":8,"
	"\"intermediate_size\":16,\"moe_intermediate_size\":8,\"num_hidden_layers\":2,"
	"\"num_nextn_predict_layers\":0,\"num_attention_heads\":2,\"n_shared_experts\":1,"
	"\"n_routed_experts\":4,\"n_group\":2,\"topk_group\":1,\"num_experts_per_tok\":2,"
	"\"first_k_dense_replace\":1,\"kv_lora_rank\":8,\"q_lora_rank\":null,"
	"\"qk_rope_head_dim\":4,\"qk_nope_head_dim\":4,\"v_head_dim\":4}";

static char root[64];
static char dir[256];
static int ndirs;

static void put_file(const char *name, const void *buf, size_t len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f) {
		perror(p);
		exit(2);
	}
	fwrite(buf, 1, len, f);
	fclose(f);
}

static void put_text(const char *name, const char *text)
{
	put_file(name, text, strlen(text));
}

/* A fresh model directory holding config.json (unless config is NULL). */
static void new_dir(const char *config)
{
	snprintf(dir, sizeof dir, "%s/m%d", root, ndirs++);
	mkdir(dir, 0700);
	if (config)
		put_text("config.json", config);
}

/* A shard with U8 tensors named in `names` (comma-separated), 4 bytes each. */
static void put_shard(const char *file, const char *names)
{
	char hdr[2048] = "{", list[512];
	size_t off = 0, n = 0;
	snprintf(list, sizeof list, "%s", names);
	for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) {
		size_t l = strlen(hdr);
		snprintf(hdr + l, sizeof hdr - l,
			 "%s\"%s\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[%zu,%zu]}",
			 n ? "," : "", t, off, off + 4);
		off += 4;
		n++;
	}
	strcat(hdr, "}");
	size_t hl = strlen(hdr);
	unsigned char *buf = calloc(1, 8 + hl + off);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
	memcpy(buf + 8, hdr, hl);
	for (size_t i = 0; i < off; i++)
		buf[8 + hl + i] = (unsigned char)i;
	put_file(file, buf, 8 + hl + off);
	free(buf);
}

static void put_index(const char *weight_map)
{
	char text[2048];
	snprintf(text, sizeof text, "{\"metadata\":{\"total_size\":0},\"weight_map\":{%s}}",
		 weight_map);
	put_text("model.safetensors.index.json", text);
}

static void expect_fail(int want, const char *n1, const char *n2)
{
	struct ckpt *c = NULL;
	struct err e = {0};
	int rc = ckpt_open(dir, &c, &e);
	CHECK(rc == want, "rc %d (%s), want %d; message: %s", rc, err_code_name(rc), want, e.msg);
	CHECK(c == NULL, "no checkpoint on failure");
	CHECK(strstr(e.msg, n1) != NULL, "message names \"%s\": %s", n1, e.msg);
	if (n2)
		CHECK(strstr(e.msg, n2) != NULL, "message names \"%s\": %s", n2, e.msg);
	ckpt_close(c);
}

static void test_single_file(void)
{
	new_dir(small_config);
	put_shard("model.safetensors", "a.weight,b.weight");
	struct ckpt *c;
	struct err e = {0};
	int rc = ckpt_open(dir, &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK(ckpt_count(c) == 2, "count %zu", ckpt_count(c));
	CHECK(ckpt_find(c, "b.weight") && ckpt_find(c, "b.weight")->nbytes == 4, "find");
	const char *f = ckpt_file_of(c, "a.weight");
	CHECK(f && strstr(f, "/model.safetensors"), "file of: %s", f ? f : "NULL");
	CHECK(strcmp(ckpt_dir(c), dir) == 0, "dir");
	CHECK(ckpt_config(c)->hidden_size == 8 && ckpt_config(c)->q_lora_rank == 0, "config");
	ckpt_close(c);
	ckpt_close(NULL);
}

static void test_index_two_shards(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a,b");
	put_shard("s2.safetensors", "c");
	put_index("\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"");
	struct ckpt *c;
	struct err e = {0};
	int rc = ckpt_open(dir, &c, &e);
	CHECK(rc == 0, "%s", e.msg);
	if (rc)
		return;
	CHECK(ckpt_count(c) == 3, "count");
	CHECK(strstr(ckpt_file_of(c, "c"), "s2.safetensors") != NULL, "c in s2");
	CHECK(strstr(ckpt_file_of(c, "a"), "s1.safetensors") != NULL, "a in s1");
	CHECK(ckpt_at(c, 0) == ckpt_find(c, "a") && ckpt_at(c, 2) == ckpt_find(c, "c"),
	      "stable order: shards by name, tensors by offset");
	CHECK(ckpt_find(c, "d") == NULL && ckpt_file_of(c, "d") == NULL, "absent");
	ckpt_close(c);
}

static void test_index_parent_dir(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a");
	put_index("\"a\":\"../x.safetensors\"");
	expect_fail(ERR_FORMAT, "../x.safetensors", "\"a\"");
}

static void test_index_absolute(void)
{
	new_dir(small_config);
	put_index("\"a\":\"/etc/passwd\"");
	expect_fail(ERR_FORMAT, "/etc/passwd", "model.safetensors.index.json");
}

static void test_index_subdir(void)
{
	new_dir(small_config);
	put_index("\"a\":\"sub/s1.safetensors\"");
	expect_fail(ERR_FORMAT, "sub/s1.safetensors", NULL);
}

static void test_index_empty_name(void)
{
	new_dir(small_config);
	put_index("\"a\":\"\"");
	expect_fail(ERR_FORMAT, "\"a\"", "not a plain file name");
}

static void test_index_not_string(void)
{
	new_dir(small_config);
	put_index("\"a\":7");
	expect_fail(ERR_FORMAT, "\"a\"", NULL);
}

static void test_index_not_json(void)
{
	new_dir(small_config);
	put_text("model.safetensors.index.json", "{\"weight_map\": {\"a\": ");
	expect_fail(ERR_FORMAT, "model.safetensors.index.json", NULL);
}

static void test_index_no_weight_map(void)
{
	new_dir(small_config);
	put_text("model.safetensors.index.json", "{\"metadata\":{}}");
	expect_fail(ERR_FORMAT, "weight_map", NULL);
}

static void test_index_tensor_absent_from_shard(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a");
	put_index("\"a\":\"s1.safetensors\",\"ghost\":\"s1.safetensors\"");
	expect_fail(ERR_FORMAT, "\"ghost\"", "s1.safetensors");
}

static void test_index_missing_shard(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a");
	put_index("\"a\":\"s1.safetensors\",\"b\":\"s9.safetensors\"");
	expect_fail(ERR_IO, "s9.safetensors", NULL);
}

static void test_tensor_in_two_shards(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a,dup");
	put_shard("s2.safetensors", "dup,b");
	put_index("\"a\":\"s1.safetensors\",\"dup\":\"s1.safetensors\",\"b\":\"s2.safetensors\"");
	expect_fail(ERR_FORMAT, "\"dup\"", "s2.safetensors");
}

static void test_damaged_shard(void)
{
	new_dir(small_config);
	put_shard("s1.safetensors", "a");
	put_text("s2.safetensors", "\x10\0\0\0\0\0\0\0{\"b\": 1");
	put_index("\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"");
	expect_fail(ERR_FORMAT, "s2.safetensors", NULL);
}

static void test_no_config(void)
{
	new_dir(NULL);
	put_shard("model.safetensors", "a");
	expect_fail(ERR_IO, "config.json", dir);
}

static void test_bad_config(void)
{
	new_dir("{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"moe_layer_freq\":2}");
	put_shard("model.safetensors", "a");
	expect_fail(ERR_UNSUPPORTED, "config.json", "moe_layer_freq");
}

static void test_no_weights(void)
{
	new_dir(small_config);
	expect_fail(ERR_IO, "model.safetensors", dir);
}

static void test_not_a_directory(void)
{
	new_dir(small_config);
	snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/config.json");
	expect_fail(ERR_IO, "not a directory", NULL);
}

static void test_missing_directory(void)
{
	snprintf(dir, sizeof dir, "%s/does-not-exist", root);
	expect_fail(ERR_IO, "does-not-exist", NULL);
}

static struct ckpt *open_fixture(const char *model)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return NULL;
	}
	char p[512];
	snprintf(p, sizeof p, "%s/models/%s", fx, model);
	struct ckpt *c;
	struct err e = {0};
	int rc = ckpt_open(p, &c, &e);
	CHECK(rc == 0, "%s: %s", p, e.msg);
	return rc ? NULL : c;
}

static void test_fixture_v3(void)
{
	struct ckpt *c = open_fixture("tiny-v3");
	if (!c)
		return;
	CHECK(ckpt_count(c) == 383, "tensors %zu", ckpt_count(c));
	const struct eng_config *cfg = ckpt_config(c);
	CHECK(cfg->q_lora_rank == 96 && cfg->n_group == 4 && cfg->yarn.factor == 40.0 &&
		      cfg->yarn.mscale_all_dim == 1.0,
	      "config values");
	const struct st_tensor *t = ckpt_find(c, "model.layers.1.mlp.experts.7.gate_proj.weight");
	CHECK(t && t->dtype == ST_F8_E4M3 && t->shape[0] == 128 && t->shape[1] == 256,
	      "expert gate_proj F8 [128,256]");
	const struct st_tensor *b = ckpt_find(c, "model.layers.1.mlp.gate.e_score_correction_bias");
	CHECK(b && b->ndim == 1 && b->shape[0] == 16, "e_score_correction_bias [16]");
	CHECK(ckpt_find(c, "model.layers.3.eh_proj.weight") != NULL, "MTP layer 3 present");
	const char *f = ckpt_file_of(c, "lm_head.weight");
	CHECK(f && strstr(f, "model-00001-of-00002.safetensors"), "lm_head shard %s",
	      f ? f : "NULL");
	/* a tensor the forward pass may ask for but no shard has */
	CHECK(ckpt_find(c, "model.layers.9.self_attn.q_a_proj.weight") == NULL, "absent tensor");
	CHECK(ckpt_file_of(c, "model.layers.9.self_attn.q_a_proj.weight") == NULL, "absent file");
	size_t found = 0;
	for (size_t i = 0; i < ckpt_count(c); i++)
		found += ckpt_find(c, ckpt_at(c, i)->name) == ckpt_at(c, i);
	CHECK(found == ckpt_count(c), "every tensor found by name");
	ckpt_close(c);
}

static void test_fixture_v2lite(void)
{
	struct ckpt *c = open_fixture("tiny-v2lite");
	if (!c)
		return;
	CHECK(ckpt_count(c) == 72, "tensors %zu", ckpt_count(c));
	const struct eng_config *cfg = ckpt_config(c);
	CHECK(cfg->q_lora_rank == 0 && cfg->scoring_func == SCORING_SOFTMAX &&
		      cfg->topk_method == TOPK_GREEDY,
	      "config");
	const struct st_tensor *t = ckpt_find(c, "model.layers.0.self_attn.q_proj.weight");
	CHECK(t && t->dtype == ST_BF16 && t->shape[0] == 4 * 48 && t->shape[1] == 256,
	      "q_proj BF16 [192,256]");
	CHECK(ckpt_find(c, "model.layers.0.self_attn.q_a_proj.weight") == NULL, "no q LoRA");
	ckpt_close(c);
}

int main(void)
{
	snprintf(root, sizeof root, "/tmp/ponder-ckpt-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_single_file);
	RUN(test_index_two_shards);
	RUN(test_index_parent_dir);
	RUN(test_index_absolute);
	RUN(test_index_subdir);
	RUN(test_index_empty_name);
	RUN(test_index_not_string);
	RUN(test_index_not_json);
	RUN(test_index_no_weight_map);
	RUN(test_index_tensor_absent_from_shard);
	RUN(test_index_missing_shard);
	RUN(test_tensor_in_two_shards);
	RUN(test_damaged_shard);
	RUN(test_no_config);
	RUN(test_bad_config);
	RUN(test_no_weights);
	RUN(test_not_a_directory);
	RUN(test_missing_directory);
	RUN(test_fixture_v3);
	RUN(test_fixture_v2lite);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_finish();
}
