/*
 * test_kv_bytes.c — the KV cache a sequence reserves is what eng_kv_bytes_per_token
 * says, the function `ponder info` reports (tests/e2e_messages.sh checks info's figure
 * for the demo model: 1600 bytes per token, 1280 with --mtp off).
 *
 * Model: the shipped demo model (4 layers + 1 MTP layer, kv_lora_rank 64, rope 16).
 */
#include <unistd.h>

#include "check.h"
#include "engine/engine.h"
#include "engine/model.h"

#define DEMO "models/demo"
#define CTX 256

static void test_kv_bytes_match_allocation(void)
{
	if (access(DEMO "/model.safetensors", R_OK)) {
		SKIP("the demo model is not in models/demo");
		return;
	}
	struct eng_opts o = {.threads = 1, .load_mtp = true};
	struct eng_model *m = NULL;
	struct err e = {0};
	if (eng_model_open(DEMO, &o, &m, &e)) {
		CHECK(0, "opening the demo model: %s", e.msg);
		return;
	}
	const struct eng_config *c = eng_model_config(m);
	for (int mtp = 0; mtp <= 1; mtp++) {
		struct eng_state *st = NULL;
		if (eng_state_new(m, CTX, mtp, &st, &e)) {
			CHECK(0, "eng_state_new (mtp %d): %s", mtp, e.msg);
			continue;
		}
		uint64_t per = eng_kv_bytes_per_token(c, mtp);
		CHECK(st->kv_bytes == per * CTX, "mtp %d: %zu bytes reserved, %llu x %d expected",
		      mtp, st->kv_bytes, (unsigned long long)per, CTX);
		uint64_t layers = (uint64_t)c->num_hidden_layers + (uint64_t)mtp;
		CHECK(per == layers * (uint64_t)(c->kv_lora_rank + c->qk_rope_head_dim) * 4,
		      "mtp %d: %llu bytes per token", mtp, (unsigned long long)per);
		eng_state_free(st);
	}
	CHECK(eng_kv_bytes_per_token(c, true) == 1600 && eng_kv_bytes_per_token(c, false) == 1280,
	      "demo model: %llu / %llu bytes per token",
	      (unsigned long long)eng_kv_bytes_per_token(c, true),
	      (unsigned long long)eng_kv_bytes_per_token(c, false));
	eng_model_close(m);
}

int main(void)
{
	RUN(test_kv_bytes_match_allocation);
	return check_finish();
}
