/*
 * session.c — multi-turn generation over one cached sequence (see session.h).
 */
#include "engine/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/model.h"

#define DEFAULT_CTX 8192

struct eng_session {
	struct eng_model *m;
	struct tok *tok;
	struct chat_template tmpl;
	struct eng_state *st;
	struct sampler sampler;
	float *logits;        /* [vocab] */
	struct tok_ids prompt;
	int32_t eos[10];
	int n_eos;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void add_eos(struct eng_session *s, int64_t id)
{
	if (id < 0 || s->n_eos == (int)(sizeof s->eos / sizeof *s->eos))
		return;
	for (int i = 0; i < s->n_eos; i++)
		if (s->eos[i] == id)
			return;
	s->eos[s->n_eos++] = (int32_t)id;
}

int eng_session_new(struct eng_model *m, int64_t ctx, struct eng_session **out,
		    struct err *e)
{
	const struct eng_config *c = eng_model_config(m);
	const char *dir = eng_model_dir(m);
	char path[4096];
	int rc;
	*out = NULL;
	struct eng_session *s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory for a session");
	s->m = m;
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	if ((rc = tok_load(path, &s->tok, e)))
		goto fail;
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	struct stat sb;
	if ((rc = chat_template_detect(stat(path, &sb) == 0 ? path : NULL, s->tok, &s->tmpl, e)))
		goto fail;
	if (ctx <= 0)
		ctx = c->max_position_embeddings < DEFAULT_CTX ? c->max_position_embeddings
							      : DEFAULT_CTX;
	if ((rc = eng_state_new(m, ctx, false, &s->st, e)))
		goto fail;
	if ((rc = sampler_init(&s->sampler, (size_t)c->vocab_size, e)))
		goto fail;
	s->logits = malloc((size_t)c->vocab_size * sizeof *s->logits);
	if (!s->logits) {
		rc = err_set(e, ERR_NOMEM, "out of memory for logits");
		goto fail;
	}
	for (int i = 0; i < c->n_eos_token_ids; i++)
		add_eos(s, c->eos_token_ids[i]);
	add_eos(s, c->eos_token_id);
	add_eos(s, tok_added_id(s->tok, "<｜end▁of▁sentence｜>"));
	*out = s;
	return 0;
fail:
	eng_session_free(s);
	return rc;
}

void eng_session_free(struct eng_session *s)
{
	if (!s)
		return;
	eng_state_free(s->st);
	sampler_release(&s->sampler);
	free(s->logits);
	tok_ids_free(&s->prompt);
	tok_free(s->tok);
	free(s);
}

const struct chat_template *eng_session_template(const struct eng_session *s) { return &s->tmpl; }
const struct tok *eng_session_tokenizer(const struct eng_session *s) { return s->tok; }
size_t eng_session_ctx(const struct eng_session *s) { return eng_state_ctx(s->st); }

static unsigned render_flags(const struct gen_params *p)
{
	return CHAT_GEN_PROMPT | (p->think_off ? CHAT_THINK_OFF : 0);
}

int eng_session_count_prompt(struct eng_session *s, const struct chat_turn *turns, size_t n,
			     const struct gen_params *p, int64_t *count, struct err *e)
{
	s->prompt.n = 0;
	int rc = chat_render_ids(&s->tmpl, s->tok, turns, n, render_flags(p), &s->prompt, e);
	*count = (int64_t)s->prompt.n;
	return rc;
}

static bool is_eos(const struct eng_session *s, int32_t id)
{
	for (int i = 0; i < s->n_eos; i++)
		if (s->eos[i] == id)
			return true;
	return false;
}

int eng_chat(struct eng_session *s, const struct chat_turn *turns, size_t n,
	     const struct gen_params *p, eng_emit_fn emit, void *ud, struct gen_stats *st,
	     struct err *e)
{
	double t0 = now_ms();
	memset(st, 0, sizeof *st);
	st->finish = FINISH_ERROR;
	int64_t np;
	int rc = eng_session_count_prompt(s, turns, n, p, &np, e);
	if (rc)
		return rc;
	size_t ctx = eng_state_ctx(s->st);
	st->prompt_tokens = np;
	if ((size_t)np >= ctx || (p->max_tokens > 0 && (size_t)(np + p->max_tokens) > ctx))
		return err_set(e, ERR_CONTEXT, "the prompt has %lld tokens and %lld new tokens were "
			       "requested, more than the context of %zu tokens; shorten the "
			       "conversation (start a new one), lower --max-tokens or raise --ctx",
			       (long long)np, (long long)(p->max_tokens > 0 ? p->max_tokens : 1),
			       ctx);

	/* Keep the cached prefix; recompute at least the last prompt token for its logits. */
	size_t keep = eng_state_common_prefix(s->st, s->prompt.v, s->prompt.n);
	if (keep == s->prompt.n)
		keep--;
	eng_state_truncate(s->st, keep);
	keep = eng_state_pos(s->st);
	st->reused_tokens = (int64_t)keep;
	st->prefill_tokens = np - (int64_t)keep;
	if ((rc = eng_forward(s->st, s->prompt.v + keep, s->prompt.n - keep, s->logits, false, e)))
		return rc;
	double t_prefill = now_ms();
	st->prefill_ms = t_prefill - t0;

	sampler_seed(&s->sampler, p->sample.seed);
	struct chan_splitter ch;
	chan_init(&ch, s->tok, chat_starts_in_reasoning(&s->tmpl, render_flags(p)), emit, ud);
	bool thinking = chan_channel(&ch) == CH_REASONING;
	int64_t limit = p->max_tokens > 0 ? p->max_tokens : (int64_t)(ctx - s->prompt.n);
	int64_t produced = 0;
	double t_first = 0;
	st->finish = FINISH_LENGTH;
	while (produced < limit) {
		int32_t id = sampler_pick(&s->sampler, &p->sample, s->logits);
		if (!produced)
			t_first = now_ms();
		produced++;
		if (is_eos(s, id)) {
			st->finish = FINISH_STOP;
			break;
		}
		int channel = chan_channel(&ch);
		if (chan_push(&ch, id)) {
			st->finish = FINISH_INTERRUPTED;
			break;
		}
		if (channel == CH_REASONING)
			st->reasoning_tokens++;
		else
			st->answer_tokens++;
		if (thinking && chan_channel(&ch) != CH_REASONING) {
			thinking = false;
			st->think_ms = now_ms() - t_first;
		}
		if (eng_state_pos(s->st) >= ctx) {
			st->finish = FINISH_LENGTH;
			break;
		}
		/* The token goes into the cache only when another will be generated after it,
		   so a finished reply leaves the cache ending where its text ends. */
		if (produced < limit && (rc = eng_forward(s->st, &id, 1, s->logits, false, e))) {
			st->finish = FINISH_ERROR;
			break;
		}
	}
	if (st->finish != FINISH_INTERRUPTED && chan_flush(&ch))
		st->finish = FINISH_INTERRUPTED;
	if (thinking && t_first > 0)
		st->think_ms = now_ms() - t_first;
	double t_end = now_ms();
	st->ttft_ms = t_first > 0 ? t_first - t0 : 0;
	st->decode_ms = t_first > 0 ? t_end - t_first : 0;
	st->prefill_tps = st->prefill_ms > 0 ? (double)st->prefill_tokens * 1e3 / st->prefill_ms : 0;
	int64_t decoded = st->reasoning_tokens + st->answer_tokens;
	st->decode_tps = st->decode_ms > 0 && decoded > 1 ? (double)(decoded - 1) * 1e3 / st->decode_ms
							  : 0;
	return rc;
}
