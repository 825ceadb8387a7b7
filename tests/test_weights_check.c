/*
 * test_weights_check.c — damaged weights are refused, never answered from.
 *
 * Each test copies the shipped demo model (FP8, one safetensors file) into a temporary
 * directory and damages one tensor in place: an e4m3 NaN byte in an FP8 weight, a NaN,
 * an infinite or a huge block scale. Loading must fail with ERR_FORMAT and a message
 * naming the tensor. A NaN in a BF16 norm weight passes the load (only FP8 has a
 * load-time contract) and must then make the forward pass fail with ERR_MODEL instead
 * of returning logits to sample from.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/check.h"

#define DEMO "models/demo"

static char dir[64];

/* A fresh copy of the demo model in `dir`; 0 on success. */
static int fresh_copy(void)
{
	static const char *files[] = {"config.json", "model.safetensors", "tokenizer.json",
				      "tokenizer_config.json"};
	strcpy(dir, "/tmp/ponder-wcheck-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char a[256], b[256];
		snprintf(a, sizeof a, DEMO "/%s", files[i]);
		snprintf(b, sizeof b, "%s/%s", dir, files[i]);
		if (check_copy_file(a, b))
			return -1;
	}
	return 0;
}

static void remove_copy(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0, "removing %s", dir);
}

/* Writes `len` bytes at element `index` of tensor `name` (element size `esize`). */
static int patch(const char *name, size_t index, size_t esize, const void *bytes)
{
	char path[256];
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	FILE *f = fopen(path, "r+b");
	if (!f)
		return -1;
	uint64_t hlen = 0;
	int rc = fread(&hlen, 8, 1, f) == 1 ? 0 : -1;
	char *h = rc ? NULL : calloc(1, hlen + 1);
	rc = h && fread(h, 1, hlen, f) == hlen ? 0 : -1;
	json_t *root = rc ? NULL : json_loads(h, 0, NULL);
	json_t *offs = json_object_get(json_object_get(root, name), "data_offsets");
	if (!json_is_array(offs)) {
		rc = -1;
	} else {
		long at = (long)(8 + hlen + (uint64_t)json_integer_value(json_array_get(offs, 0)) +
				 index * esize);
		rc = fseek(f, at, SEEK_SET) || fwrite(bytes, esize, 1, f) != 1 ? -1 : 0;
	}
	json_decref(root);
	free(h);
	if (fclose(f))
		rc = -1;
	return rc;
}

/* Loads the damaged copy and expects the load to fail naming `tensor`. */
static void expect_refused(const char *tensor, const char *what)
{
	struct eng_opts o = {.threads = 1};
	struct eng_model *m = NULL;
	struct err e = {0};
	int rc = eng_model_open(dir, &o, &m, &e);
	CHECK(rc != 0, "%s: the model loaded", what);
	CHECK(rc == ERR_FORMAT, "%s: code %d (%s)", what, rc, e.msg);
	CHECK(strstr(e.msg, tensor) != NULL, "%s: message does not name %s: %s", what, tensor,
	      e.msg);
	eng_model_close(m);
}

static int setup(void)
{
	if (access(DEMO "/model.safetensors", R_OK) != 0) {
		SKIP("no demo model at " DEMO);
		return -1;
	}
	CHECK(fresh_copy() == 0, "copying the demo model to %s", dir);
	return 0;
}

static void test_nan_byte_refused(void)
{
	if (setup())
		return;
	const char *t = "model.layers.0.self_attn.o_proj.weight";
	for (int k = 0; k < 2; k++) {
		uint8_t nan = k ? 0xff : 0x7f;
		CHECK(patch(t, 128 * 77 + 5, 1, &nan) == 0, "patching %s", t);
		expect_refused(t, k ? "0xff byte" : "0x7f byte");
	}
	remove_copy();
}

static void test_bad_scales_refused(void)
{
	if (setup())
		return;
	const char *t = "model.layers.1.self_attn.kv_b_proj.weight_scale_inv";
	const float bad[] = {NAN, INFINITY, -INFINITY, 0x1p121f};
	const char *names[] = {"NaN scale", "inf scale", "-inf scale", "2^121 scale"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK(patch(t, 1, 4, &bad[i]) == 0, "patching %s", t);
		expect_refused(t, names[i]);
	}
	remove_copy();
}

static void test_nonfinite_logits_stop(void)
{
	if (setup())
		return;
	const uint16_t bf16_nan = 0x7fc0;
	CHECK(patch("model.norm.weight", 3, 2, &bf16_nan) == 0, "patching model.norm.weight");
	struct eng_opts o = {.threads = 1};
	struct eng_model *m = NULL;
	struct eng_state *st = NULL;
	struct err e = {0};
	int rc = eng_model_open(dir, &o, &m, &e);
	CHECK(rc == 0, "a NaN outside FP8 weights is found when used, not at load: %s", e.msg);
	if (!rc)
		rc = eng_state_new(m, 32, false, &st, &e);
	if (!rc) {
		const int32_t ids[] = {1, 2, 3, 4};
		float *logits = calloc(4 * 512, sizeof *logits);
		rc = eng_forward(st, ids, 4, logits, true, &e);
		CHECK(rc == ERR_MODEL, "forward with NaN logits: code %d (%s)", rc, e.msg);
		CHECK(strstr(e.msg, "NaN or infinite") != NULL, "message: %s", e.msg);
		free(logits);
	}
	eng_state_free(st);
	eng_model_close(m);
	remove_copy();
}

static void test_clean_copy_loads(void)
{
	if (setup())
		return;
	struct eng_opts o = {.threads = 1};
	struct eng_model *m = NULL;
	struct err e = {0};
	CHECK(eng_model_open(dir, &o, &m, &e) == 0, "the undamaged copy loads: %s", e.msg);
	eng_model_close(m);
	remove_copy();
}

int main(void)
{
	RUN(test_clean_copy_loads);
	RUN(test_nan_byte_refused);
	RUN(test_bad_scales_refused);
	RUN(test_nonfinite_logits_stop);
	return check_finish();
}
