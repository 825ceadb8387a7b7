/*
 * test_session.c — eng_chat over a real checkpoint: speculative decoding with the MTP
 * module chooses exactly the tokens plain decoding chooses, the KV cache is reused
 * across turns, limits and stops behave.
 *
 * Model: tests/chat_model.h (tiny-v3's weights with the demo model's tokenizer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_model.h"
#include "check.h"
#include "engine/session.h"

static char model_dir[] = "/tmp/ponder-session-XXXXXX";
static bool have_model;

/* The KV cache type of the models open_model opens: speculative decoding's rollback must
   leave every type's cache as plain decoding would. */
static enum eng_kv_type kv_type = ENG_KV_F32;

static struct eng_model *open_model(bool mtp)
{
	struct eng_opts o = {.threads = 2, .load_mtp = mtp, .kv_type = kv_type};
	struct eng_model *m = NULL;
	struct err e = {0};
	CHECK(eng_model_open(model_dir, &o, &m, &e) == 0, "%s", e.msg);
	return m;
}

static void run_chat(bool mtp, const struct gen_params *p, struct capture *cap,
		     struct gen_stats *st)
{
	struct eng_model *m = open_model(mtp);
	struct eng_session *s = NULL;
	struct err e = {0};
	if (!m)
		return;
	CHECK(eng_session_new(m, 512, mtp, &s, &e) == 0, "%s", e.msg);
	CHECK(!s || eng_session_mtp(s) == mtp, "MTP %s when asked %s", mtp ? "off" : "on",
	      mtp ? "on" : "off");
	struct chat_turn q = {CHAT_USER, "What is 12 + 30?", 16};
	if (s)
		CHECK(eng_chat(s, &q, 1, p, capture_emit, cap, st, &e) == 0, "%s", e.msg);
	eng_session_free(s);
	eng_model_close(m);
}

static void check_same_with_and_without_mtp(float temperature)
{
	struct gen_params p = {.sample = {.temperature = temperature, .top_p = 1, .seed = 7},
			       .max_tokens = 120};
	static struct capture plain, spec;
	memset(&plain, 0, sizeof plain);
	memset(&spec, 0, sizeof spec);
	plain.stop_after = spec.stop_after = -1;
	struct gen_stats a, b;
	run_chat(false, &p, &plain, &a);
	run_chat(true, &p, &spec, &b);
	CHECK(a.mtp_drafted == 0, "drafts without MTP");
	CHECK(b.mtp_drafted > 0, "no drafts with MTP");
	CHECK(b.mtp_accepted <= b.mtp_drafted, "accepted %lld of %lld", (long long)b.mtp_accepted,
	      (long long)b.mtp_drafted);
	CHECK(a.reasoning_tokens + a.answer_tokens == b.reasoning_tokens + b.answer_tokens,
	      "token counts differ: %lld vs %lld", (long long)(a.reasoning_tokens + a.answer_tokens),
	      (long long)(b.reasoning_tokens + b.answer_tokens));
	for (int k = 0; k < 2; k++)
		CHECK(plain.len[k] == spec.len[k] && !memcmp(plain.text[k], spec.text[k], plain.len[k]),
		      "channel %d differs with MTP (%zu vs %zu bytes)", k, plain.len[k], spec.len[k]);
	printf("  kv %s, temperature %.1f: %lld tokens, MTP accepted %lld of %lld drafts\n",
	       eng_kv_type_name(kv_type), temperature,
	       (long long)(b.reasoning_tokens + b.answer_tokens), (long long)b.mtp_accepted,
	       (long long)b.mtp_drafted);
}

static void test_mtp_greedy_same_tokens(void)
{
	if (!have_model) {
		SKIP("needs ../shared/fixtures and models/demo/tokenizer.json");
		return;
	}
	for (kv_type = ENG_KV_F32; kv_type <= ENG_KV_FP8; kv_type++)
		check_same_with_and_without_mtp(0);
	kv_type = ENG_KV_F32;
}

static void test_mtp_sampled_same_tokens(void)
{
	if (!have_model) {
		SKIP("needs ../shared/fixtures and models/demo/tokenizer.json");
		return;
	}
	for (kv_type = ENG_KV_F32; kv_type <= ENG_KV_FP8; kv_type++)
		check_same_with_and_without_mtp(1.0f);
	kv_type = ENG_KV_F32;
}

/* A second turn reuses the cached prefix; limits and stop requests behave. */
static void test_turns_limits_stop(void)
{
	if (!have_model) {
		SKIP("needs ../shared/fixtures and models/demo/tokenizer.json");
		return;
	}
	struct eng_model *m = open_model(true);
	struct eng_session *s = NULL;
	struct err e = {0};
	if (!m)
		return;
	CHECK(eng_session_new(m, 256, true, &s, &e) == 0, "%s", e.msg);
	if (!s) {
		eng_model_close(m);
		return;
	}
	static struct capture cap;
	memset(&cap, 0, sizeof cap);
	cap.stop_after = -1;
	struct gen_params p = {.sample = {.temperature = 0, .top_p = 1}, .max_tokens = 20};
	struct gen_stats st;
	struct chat_turn turns[3] = {{CHAT_USER, "What is 1 + 2?", 14}};
	CHECK(eng_chat(s, turns, 1, &p, capture_emit, &cap, &st, &e) == 0, "%s", e.msg);
	CHECK(st.reused_tokens == 0 && st.prefill_tokens == st.prompt_tokens,
	      "first turn reused %lld", (long long)st.reused_tokens);
	CHECK(st.reasoning_tokens + st.answer_tokens <= 20, "max_tokens 20 exceeded");
	int64_t first_prompt = st.prompt_tokens;

	turns[1] = (struct chat_turn){CHAT_ASSISTANT, cap.text[1], cap.len[1]};
	turns[2] = (struct chat_turn){CHAT_USER, "And 3 + 4?", 10};
	memset(&cap, 0, sizeof cap);
	cap.stop_after = 2;
	CHECK(eng_chat(s, turns, 3, &p, capture_emit, &cap, &st, &e) == 0, "%s", e.msg);
	/* R1 renders past answers without the "<think>\n" that opened them, so reuse stops
	   where the first answer began. */
	CHECK(st.reused_tokens >= first_prompt - 2, "second turn reused %lld of the first %lld",
	      (long long)st.reused_tokens, (long long)first_prompt);
	CHECK(st.prefill_tokens == st.prompt_tokens - st.reused_tokens, "prefill count");
	CHECK(st.finish == FINISH_INTERRUPTED, "stop request gave finish %d", st.finish);
	/* Three pieces were shown before the stop, the last one by the token that stopped:
	   it counts (a reply stopped after one piece never says "0 tokens"). */
	CHECK(st.reasoning_tokens + st.answer_tokens >= 3, "%lld tokens counted for 3 pieces shown",
	      (long long)(st.reasoning_tokens + st.answer_tokens));

	/* MTP switched off between replies: no drafts; and back on. */
	CHECK(eng_session_set_mtp(s, false, &e) == 0, "%s", e.msg);
	cap.stop_after = -1;
	CHECK(eng_chat(s, turns, 1, &p, capture_emit, &cap, &st, &e) == 0, "%s", e.msg);
	CHECK(st.mtp_drafted == 0, "%lld drafts with MTP off", (long long)st.mtp_drafted);
	CHECK(eng_session_set_mtp(s, true, &e) == 0, "%s", e.msg);
	CHECK(eng_chat(s, turns, 1, &p, capture_emit, &cap, &st, &e) == 0, "%s", e.msg);
	CHECK(st.mtp_drafted > 0, "no drafts with MTP back on");

	/* Over the context: an error with the numbers, nothing generated. */
	static char big[4000];
	memset(big, 'x', sizeof big - 1);
	struct chat_turn huge = {CHAT_USER, big, sizeof big - 1};
	CHECK(eng_chat(s, &huge, 1, &p, capture_emit, &cap, &st, &e) == ERR_CONTEXT,
	      "a prompt over the context was accepted");
	CHECK(strstr(e.msg, "context of 256"), "message lacks the context size: %s", e.msg);
	eng_session_free(s);
	eng_model_close(m);
}

int main(void)
{
	have_model = chat_model_make(model_dir);
	RUN(test_mtp_greedy_same_tokens);
	RUN(test_mtp_sampled_same_tokens);
	RUN(test_turns_limits_stop);
	if (have_model) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", model_dir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", model_dir);
	}
	return check_finish();
}
