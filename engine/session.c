/*
 * session.c — multi-turn generation over one cached sequence (see session.h).
 */
#include "engine/session.h"

#include <pthread.h>
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
	float *logits;        /* [2][vocab]: the next position's, and a verified draft's */
	bool mtp;             /* speculative decoding with the MTP module */
	bool mtp_loaded;      /* the sequence runs the MTP module (mtp may be switched off) */
	struct tok_ids prompt;
	int32_t eos[10];
	int n_eos;

	struct kv_store *kv;  /* KV snapshots; NULL: off */
	bool kv_write;
	bool settling;        /* a settle thread runs and owns the sequence */
	pthread_t settler;
	struct tok_ids settle_ids;
	char settle_label[72];
	const volatile sig_atomic_t *settle_stop; /* the reply's stop flag */
	volatile sig_atomic_t settle_cancel; /* eng_session_cancel_settle */
	char kv_note[1024];   /* for eng_session_kv_note; "" when none */
	char kv_note_taken[1024];
};

static void settle_wait(struct eng_session *s)
{
	if (s->settling)
		pthread_join(s->settler, NULL);
	s->settling = false;
}

static void set_kv_note(struct eng_session *s, const char *msg)
{
	if (!s->kv_note[0])
		snprintf(s->kv_note, sizeof s->kv_note, "%s", msg);
}

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

int eng_session_new(struct eng_model *m, int64_t ctx, bool mtp, struct eng_session **out,
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
	s->mtp = s->mtp_loaded = mtp && eng_model_has_mtp(m);
	if ((rc = eng_state_new(m, ctx, s->mtp, &s->st, e)))
		goto fail;
	if ((rc = sampler_init(&s->sampler, (size_t)c->vocab_size, e)))
		goto fail;
	s->logits = malloc(2 * (size_t)c->vocab_size * sizeof *s->logits);
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
	eng_session_cancel_settle(s);
	settle_wait(s);
	tok_ids_free(&s->settle_ids);
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

/* One reply's decoding: every generated token passes through take(). */
struct decode {
	struct eng_session *s;
	struct gen_stats *st;
	struct chan_splitter ch;
	int64_t produced, limit;
	bool thinking;
	double t_first;
};

/* Accounts for and shows one generated token. Returns true when generation ends here
   (st->finish says why). */
static bool take(struct decode *d, int32_t id)
{
	struct gen_stats *st = d->st;
	if (!d->produced)
		d->t_first = now_ms();
	d->produced++;
	if (is_eos(d->s, id)) {
		st->finish = FINISH_STOP;
		return true;
	}
	int channel = chan_channel(&d->ch);
	/* A stop asked for from inside emit comes after this token's text was shown, so
	   the token counts either way. */
	bool stopped = chan_push(&d->ch, id) != 0;
	if (channel == CH_REASONING)
		st->reasoning_tokens++;
	else
		st->answer_tokens++;
	if (stopped) {
		st->finish = FINISH_INTERRUPTED;
		return true;
	}
	if (d->thinking && chan_channel(&d->ch) != CH_REASONING) {
		d->thinking = false;
		st->think_ms = now_ms() - d->t_first;
	}
	if (d->produced >= d->limit) {
		st->finish = FINISH_LENGTH;
		return true;
	}
	return false;
}

/*
 * The decode loop. Without MTP: sample, show, feed. With MTP (speculative decoding):
 * after choosing token t for position p, the MTP module drafts p+1; the main model then
 * runs [t, draft] in one call. The token for p+1 is sampled from the main model's own
 * distribution exactly as without MTP, and the draft counts as accepted when that sample
 * equals it; then the logits of p+1 are already there. So the output is the one plain
 * decoding gives (same samples from the same distributions); MTP only saves passes.
 */
static int decode_loop(struct decode *d, const struct gen_params *p, struct err *e)
{
	struct eng_session *s = d->s;
	size_t V = (size_t)eng_model_config(s->m)->vocab_size, ctx = eng_state_ctx(s->st);
	int32_t pending = -1; /* a token already sampled for the next position */
	for (;;) {
		int32_t id = pending >= 0 ? pending : sampler_pick(&s->sampler, &p->sample, s->logits);
		pending = -1;
		if (take(d, id))
			return 0;
		size_t pos = eng_state_pos(s->st);
		if (pos + 1 > ctx) {
			d->st->finish = FINISH_LENGTH;
			return 0;
		}
		if (!s->mtp || pos + 2 > ctx) {
			int rc = eng_forward(s->st, &id, 1, s->logits, false, e);
			if (rc)
				return rc;
			continue;
		}
		int rc = eng_mtp_draft(s->st, id, s->logits, e);
		if (rc)
			return rc;
		int32_t pair[2] = {id, (int32_t)sampler_argmax(s->logits, V)};
		if ((rc = eng_forward(s->st, pair, 2, s->logits, true, e)))
			return rc;
		d->st->mtp_drafted++;
		int32_t next = sampler_pick(&s->sampler, &p->sample, s->logits);
		if (next != pair[1]) {
			eng_state_truncate(s->st, pos + 1);
			pending = next;
			continue;
		}
		d->st->mtp_accepted++;
		memmove(s->logits, s->logits + V, V * sizeof *s->logits);
		if (take(d, next))
			return 0;
	}
}

int eng_chat(struct eng_session *s, const struct chat_turn *turns, size_t n,
	     const struct gen_params *p, eng_emit_fn emit, void *ud, struct gen_stats *st,
	     struct err *e)
{
	settle_wait(s);
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
		return err_set(e, ERR_CONTEXT, "the prompt has %lld tokens and %lld new token%s "
			       "requested, more than the context of %zu tokens; shorten the "
			       "conversation (start a new one), lower --max-tokens or raise --ctx",
			       (long long)np, (long long)(p->max_tokens > 0 ? p->max_tokens : 1),
			       p->max_tokens > 1 ? "s were" : " was", ctx);

	/* Keep the cached prefix; recompute at least the last prompt token for its logits. */
	size_t keep = eng_state_common_prefix(s->st, s->prompt.v, s->prompt.n);
	if (keep == s->prompt.n)
		keep--;
	eng_state_truncate(s->st, keep);
	if (s->kv && eng_state_pos(s->st) + 1 < s->prompt.n) {
		size_t loaded;
		struct err note = {0};
		kv_store_resume(s->kv, s->st, s->prompt.v, s->prompt.n - 1, &loaded, &note);
		if (note.code)
			set_kv_note(s, note.msg);
		st->snapshot_tokens = (int64_t)loaded;
	}
	keep = eng_state_pos(s->st);
	st->reused_tokens = (int64_t)keep;
	st->prefill_tokens = np - (int64_t)keep;
	eng_state_set_abort(s->st, p->stop);
	rc = eng_forward(s->st, s->prompt.v + keep, s->prompt.n - keep, s->logits, false, e);
	eng_state_set_abort(s->st, NULL);
	if (rc == ERR_INTERRUPTED) {
		st->finish = FINISH_INTERRUPTED;
		st->prefill_ms = now_ms() - t0;
		return 0;
	}
	if (rc)
		return rc;
	st->prefill_ms = now_ms() - t0;

	sampler_seed(&s->sampler, p->sample.seed);
	struct decode d = {.s = s, .st = st};
	chan_init(&d.ch, s->tok, chat_starts_in_reasoning(&s->tmpl, render_flags(p)), emit, ud);
	d.thinking = chan_channel(&d.ch) == CH_REASONING;
	d.limit = p->max_tokens > 0 ? p->max_tokens : (int64_t)(ctx - s->prompt.n);
	rc = decode_loop(&d, p, e);
	if (rc)
		st->finish = FINISH_ERROR;
	else if (st->finish != FINISH_INTERRUPTED && chan_flush(&d.ch))
		st->finish = FINISH_INTERRUPTED;
	if (d.thinking && d.t_first > 0)
		st->think_ms = now_ms() - d.t_first;
	double t_end = now_ms();
	st->ttft_ms = d.t_first > 0 ? d.t_first - t0 : 0;
	st->decode_ms = d.t_first > 0 ? t_end - d.t_first : 0;
	st->prefill_tps = st->prefill_ms > 0 ? (double)st->prefill_tokens * 1e3 / st->prefill_ms : 0;
	int64_t decoded = st->reasoning_tokens + st->answer_tokens;
	st->decode_tps = st->decode_ms > 0 && decoded > 1 ? (double)(decoded - 1) * 1e3 / st->decode_ms
							  : 0;
	return rc;
}

bool eng_session_mtp(const struct eng_session *s)
{
	return s->mtp;
}

int eng_session_set_mtp(struct eng_session *s, bool on, struct err *e)
{
	if (on && !s->mtp_loaded)
		return err_set(e, ERR_UNSUPPORTED, "MTP speculative decoding needs the model's MTP "
			       "module loaded: restart with --mtp on, with a model that has one");
	s->mtp = on;
	return 0;
}

void eng_session_set_kv_store(struct eng_session *s, struct kv_store *ks, bool write)
{
	settle_wait(s);
	s->kv = ks;
	s->kv_write = ks && write;
}

static void *settle_run(void *arg)
{
	struct eng_session *s = arg;
	const struct tok_ids *ids = &s->settle_ids;
	if (s->settle_stop && __atomic_load_n(s->settle_stop, __ATOMIC_RELAXED))
		return NULL;
	size_t keep = eng_state_common_prefix(s->st, ids->v, ids->n);
	eng_state_truncate(s->st, keep);
	keep = eng_state_pos(s->st);
	struct err e = {0};
	eng_state_set_abort(s->st, &s->settle_cancel);
	int rc = keep < ids->n ? eng_forward(s->st, ids->v + keep, ids->n - keep, NULL, false, &e)
			       : 0;
	eng_state_set_abort(s->st, NULL);
	/* Cancelled between chunks: the cache still begins the next prompt, so it is worth
	   saving as far as it goes. */
	if (rc == ERR_INTERRUPTED)
		rc = 0;
	if (!rc && eng_state_pos(s->st))
		rc = kv_store_save(s->kv, s->st, s->settle_label, &e);
	if (rc) {
		char msg[sizeof s->kv_note];
		snprintf(msg, sizeof msg, "KV snapshot not saved: %s", e.msg);
		set_kv_note(s, msg);
	}
	return NULL;
}

void eng_session_settle(struct eng_session *s, const struct chat_turn *turns, size_t n,
			const struct gen_params *p, const char *label, bool background)
{
	settle_wait(s);
	if (!s->kv_write)
		return;
	s->settle_ids.n = 0;
	struct err e = {0};
	if (chat_render_ids(&s->tmpl, s->tok, turns, n, p->think_off ? CHAT_THINK_OFF : 0,
			    &s->settle_ids, &e) ||
	    !s->settle_ids.n || s->settle_ids.n > eng_state_ctx(s->st))
		return; /* nothing a later prompt could resume from */
	snprintf(s->settle_label, sizeof s->settle_label, "%s", label ? label : "");
	s->settle_stop = p->stop;
	s->settle_cancel = 0;
	if (background && !pthread_create(&s->settler, NULL, settle_run, s))
		s->settling = true;
	else
		settle_run(s);
}

const char *eng_session_kv_note(struct eng_session *s)
{
	settle_wait(s);
	if (!s->kv_note[0])
		return NULL;
	memcpy(s->kv_note_taken, s->kv_note, sizeof s->kv_note_taken);
	s->kv_note[0] = '\0';
	return s->kv_note_taken;
}

void eng_session_cancel_settle(struct eng_session *s)
{
	__atomic_store_n(&s->settle_cancel, 1, __ATOMIC_RELAXED); /* read by the settle thread */
}
