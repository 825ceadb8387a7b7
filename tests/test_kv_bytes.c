/*
 * test_kv_bytes.c — the KV cache a sequence reserves is what eng_kv_bytes_per_token
 * says, for every cache type, the function `ponder info` reports (tests/e2e_messages.sh
 * checks info's figures for the demo model: 1600 bytes per token in F32, 1280 with
 * --mtp off; 800 / 640 in BF16; 420 / 336 in FP8, whose 80 values a layer take 80 bytes
 * plus a 4-byte scale).
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
	static const struct {
		enum eng_kv_type t;
		uint64_t value_bytes, with_mtp, without; /* per value in a layer's row; totals */
	} want[] = {
		{ENG_KV_F32, 4, 1600, 1280}, {ENG_KV_BF16, 2, 800, 640}, {ENG_KV_FP8, 1, 420, 336},
	};
	for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
		struct eng_opts o = {.threads = 1, .load_mtp = true, .kv_type = want[k].t};
		const char *tn = eng_kv_type_name(want[k].t);
		struct eng_model *m = NULL;
		struct err e = {0};
		if (eng_model_open(DEMO, &o, &m, &e)) {
			CHECK(0, "opening the demo model: %s", e.msg);
			return;
		}
		const struct eng_config *c = eng_model_config(m);
		uint64_t width = (uint64_t)(c->kv_lora_rank + c->qk_rope_head_dim);
		uint64_t row = width * want[k].value_bytes + (want[k].t == ENG_KV_FP8 ? 4 : 0);
		for (int mtp = 0; mtp <= 1; mtp++) {
			struct eng_state *st = NULL;
			if (eng_state_new(m, CTX, mtp, &st, &e)) {
				CHECK(0, "%s eng_state_new (mtp %d): %s", tn, mtp, e.msg);
				continue;
			}
			uint64_t per = eng_kv_bytes_per_token(c, mtp, want[k].t);
			CHECK(st->kv_bytes == per * CTX,
			      "%s mtp %d: %zu bytes reserved, %llu x %d expected", tn, mtp,
			      st->kv_bytes, (unsigned long long)per, CTX);
			uint64_t layers = (uint64_t)c->num_hidden_layers + (uint64_t)mtp;
			CHECK(per == layers * row && st->row == row, "%s mtp %d: %llu bytes per token",
			      tn, mtp, (unsigned long long)per);
			eng_state_free(st);
		}
		CHECK(eng_kv_bytes_per_token(c, true, want[k].t) == want[k].with_mtp &&
			      eng_kv_bytes_per_token(c, false, want[k].t) == want[k].without,
		      "demo model %s: %llu / %llu bytes per token", tn,
		      (unsigned long long)eng_kv_bytes_per_token(c, true, want[k].t),
		      (unsigned long long)eng_kv_bytes_per_token(c, false, want[k].t));
		eng_model_close(m);
	}
}

int main(void)
{
	RUN(test_kv_bytes_match_allocation);
	return check_finish();
}
