/*
 * chat.c — the chat session (see chat.h): model, turns, streaming into the store.
 */
#include "app/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/gen_config.h"
#include "app/kv_label.h"
#include "app/paths.h"

/* Sampling defaults of DeepSeek's R1 model cards; V3-style chat keeps the same top-p
   and a cooler temperature. */
#define R1_TEMPERATURE 0.6
#define V3_TEMPERATURE 0.3
#define DEFAULT_TOP_P 0.95

/* Adds "prefix" "msg" as a line of the pending warning, cut to fit. */
static void set_warning(struct app_chat *c, const char *prefix, const char *msg)
{
	size_t used = strlen(c->warning), room = sizeof c->warning - 1;
	const char *parts[] = {used ? "\n" : "", prefix, msg};
	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p && used < room; p++)
			c->warning[used++] = *p;
	c->warning[used] = '\0';
}

static int text_append(struct app_text *t, const char *s, size_t len)
{
	if (t->len + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + len + 1)
			cap *= 2;
		char *n = realloc(t->s, cap);
		if (!n)
			return -1;
		t->s = n;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, len);
	t->len += len;
	t->s[t->len] = '\0';
	return 0;
}

static int push_turn(struct app_chat *c, enum chat_role role, const char *text, size_t len)
{
	if (c->n_turns == c->cap_turns) {
		size_t cap = c->cap_turns ? c->cap_turns * 2 : 16;
		struct chat_turn *n = realloc(c->turns, cap * sizeof *n);
		if (!n)
			return -1;
		c->turns = n;
		c->cap_turns = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	c->turns[c->n_turns++] = (struct chat_turn){role, copy, len};
	return 0;
}

static void clear_turns(struct app_chat *c)
{
	for (size_t i = 0; i < c->n_turns; i++)
		free((char *)c->turns[i].text);
	c->n_turns = 0;
}

/* One sampling value: the user's setting (command line or config file), else the
   model's generation_config.json, else the built-in default; its source for --verbose. */
static double pick(double user, double model, double builtin, const char *builtin_name,
		   const char **source)
{
	*source = user >= 0 ? "your setting" : model >= 0 ? "generation_config.json"
							   : builtin_name;
	return user >= 0 ? user : model >= 0 ? model : builtin;
}

static int resolve_params(struct app_chat *c, struct err *e)
{
	const struct app_opts *o = c->opts;
	struct app_gen_config g;
	int rc = app_gen_config_read(c->model_dir, &g, e);
	if (rc)
		return rc;
	bool r1 = eng_session_template(c->sess)->family == CHAT_DEEPSEEK_R1;
	struct gen_params *p = &c->params;
	const char *src[4];
	p->sample.temperature = (float)pick(o->temperature, g.temperature,
					    r1 ? R1_TEMPERATURE : V3_TEMPERATURE,
					    r1 ? "R1 default" : "V3 default", &src[0]);
	p->sample.top_p = (float)pick(o->top_p, g.top_p, DEFAULT_TOP_P, "default", &src[1]);
	p->sample.top_k = (int)pick(o->top_k, g.top_k, 0, "default", &src[2]);
	p->sample.min_p = (float)pick(o->min_p, g.min_p, 0, "default", &src[3]);
	p->sample.seed = o->seed;
	p->max_tokens = o->max_tokens;
	p->think_off = o->think_off;
	char k[32] = "off", seed[48] = "a new one for each reply";
	if (p->sample.top_k > 0)
		snprintf(k, sizeof k, "%d", p->sample.top_k);
	if (o->seed_set)
		snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
	snprintf(c->sampling, sizeof c->sampling,
		 "sampling: temperature %g%s (%s), top-p %g (%s), top-k %s (%s), min-p %g (%s), "
		 "seed %s", p->sample.temperature, p->sample.temperature <= 0 ? ", greedy" : "",
		 src[0], p->sample.top_p, src[1], k, src[2], p->sample.min_p, src[3], seed);
	return 0;
}

/* KV snapshots (engine/kv_store.h): read unless --no-kv-cache; written only when the
   conversation is saved too (a snapshot holds its tokens) and not per --batch line. */
static void open_kv_store(struct app_chat *c)
{
	const struct app_opts *o = c->opts;
	if (o->no_kv_cache)
		return;
	char dir[4096];
	struct err e = {0};
	if (app_path_kv_dir(1, dir, sizeof dir, &e) ||
	    kv_store_open(dir, o->kv_cache_max, c->model, &c->kv, &e)) {
		set_warning(c, "conversations are not resumed from KV snapshots: ", e.msg);
		return;
	}
	eng_session_set_kv_store(c->sess, c->kv, !o->no_save && !o->batch);
}

/* --remote: the server answers. Sampling values the user gave go in each request; the
   others stay negative, so that the server's defaults apply. */
static int open_remote(struct app_chat *c, struct err *e)
{
	const struct app_opts *o = c->opts;
	struct oai_client_opts ro = {.url = o->remote, .model = o->remote_model,
				     .key_env = o->api_key_env};
	int rc = oai_client_open(&ro, &c->remote, e);
	if (rc)
		return rc;
	snprintf(c->model_dir, sizeof c->model_dir, "%s", o->remote);
	snprintf(c->model_name, sizeof c->model_name, "%s", oai_client_model(c->remote));
	struct gen_params *p = &c->params;
	p->sample.temperature = (float)o->temperature;
	p->sample.top_p = (float)o->top_p;
	p->sample.top_k = o->top_k;
	p->sample.min_p = (float)o->min_p;
	p->sample.seed = o->seed;
	p->max_tokens = o->max_tokens;
	snprintf(c->sampling, sizeof c->sampling, "sampling: the server's defaults%s%s",
		 o->temperature >= 0 || o->top_p >= 0 || o->top_k > 0 || o->min_p > 0 ||
		 o->seed_set ? ", except what you set" : "",
		 o->seed_set ? "" : " (each reply sends a new seed, stored with it)");
	if (o->local_only[0]) {
		char note[400];
		snprintf(note, sizeof note, "%s: these options set up the engine on this machine "
			 "and do nothing with --remote", o->local_only);
		set_warning(c, "", note);
	}
	return 0;
}

/* The model on this machine: loaded, its template checked, its sampling resolved. */
static int open_local(struct app_chat *c, struct err *e)
{
	const struct app_opts *o = c->opts;
	int rc = app_opts_model_dir(o, c->model_dir, sizeof c->model_dir, e);
	if (rc)
		return e->code = ERR_MODEL;
	c->is_demo = !o->model[0];
	const char *base = strrchr(c->model_dir, '/');
	snprintf(c->model_name, sizeof c->model_name, "%.255s",
		 c->is_demo ? "ponder-demo" : base && base[1] ? base + 1 : c->model_dir);

	struct eng_opts eo = {.threads = o->threads, .kernels = o->kernels, .load_mtp = o->mtp > 0,
			      .kv_type = (enum eng_kv_type)o->kv_type,
			      .head = (enum eng_head_type)o->head};
	/* Whatever stops the model from loading is a model error to the user (exit 3),
	   except a bad option such as --ctx or --kernels. */
	if ((rc = eng_model_open(c->model_dir, &eo, &c->model, e)) ||
	    (rc = eng_session_new(c->model, o->ctx, o->mtp > 0, &c->sess, e))) {
		return rc == ERR_USAGE ? rc : (e->code = ERR_MODEL);
	}
	const struct chat_template *t = eng_session_template(c->sess);
	if (o->think_off && t->opens_think) {
		/* Its template starts every reply inside <think>: closing that at once leaves
		   a model trained to reason answering blind, and its answers are wrong. */
		return err_set(e, ERR_USAGE, "--think off: %s always reasons before answering (its "
			     "chat template opens every reply with <think>), and its answers "
			     "without that are unreliable; leave --think on (remove `think = off` "
			     "from the config file if it is set there) and use --reasoning=hide "
			     "to keep the reasoning out of the output", c->model_name);
	}
	if (t->warning[0])
		set_warning(c, "", t->warning);
	open_kv_store(c);
	return resolve_params(c, e);
}

int app_chat_open(struct app_chat **out, const struct app_opts *o, struct err *e)
{
	*out = NULL;
	struct app_chat *c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&c->save_mu, NULL);
	c->opts = o;
	c->seed_fixed = o->seed_set;
	int rc = o->remote[0] ? open_remote(c, e) : open_local(c, e);
	if (rc)
		goto fail;
	if (o->system && !(c->system = strdup(o->system))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}

	if (!o->no_save) {
		char path[4096];
		struct err he = {0};
		if (app_path_history_db(o->db, 1, path, sizeof path, &he) ||
		    hist_open(path, NULL, &c->db, &he)) {
			c->db = NULL;
			set_warning(c, "history is not saved: ", he.msg);
			if (o->continue_latest || o->cid) {
				rc = err_set(e, ERR_DB, "cannot continue a conversation: %s", he.msg);
				goto fail;
			}
		} else if (hist_warning(c->db)) {
			/* The store's reason already starts "history is not being saved". */
			set_warning(c, "", hist_warning(c->db));
		}
	} else if (o->continue_latest || o->cid) {
		rc = err_set(e, ERR_USAGE, "--no-save cannot be combined with -c or --cid; they "
			     "read the history");
		goto fail;
	}
	int64_t cid = o->cid;
	if (o->continue_latest && (rc = hist_conversation_latest(c->db, &cid, e)))
		goto fail;
	if (o->continue_latest && !cid) {
		rc = err_set(e, ERR_USAGE, "-c: there is no conversation to continue yet in %s; "
			     "leave out -c to start one", hist_path(c->db));
		goto fail;
	}
	if (cid && (rc = app_chat_load(c, cid, e)))
		goto fail;
	*out = c;
	return 0;
fail:
	app_chat_close(c);
	return rc;
}

void app_chat_close(struct app_chat *c)
{
	if (!c)
		return;
	clear_turns(c);
	free(c->turns);
	free(c->system);
	free(c->reasoning.s);
	free(c->answer.s);
	hist_close(c->db);
	eng_session_free(c->sess);
	kv_store_close(c->kv);
	eng_model_close(c->model);
	oai_client_close(c->remote);
	pthread_mutex_destroy(&c->save_mu);
	free(c);
}

void app_chat_new_conversation(struct app_chat *c)
{
	clear_turns(c);
	c->cid = 0;
}

/* With history on, the turns a request brought along are stored first, so the saved
   conversation reads as the client had it (the answers only: past reasoning is not sent). */
static void store_earlier_turns(struct app_chat *c)
{
	struct err he = {0};
	if (!c->db || !c->n_turns)
		return;
	if (hist_conversation_new(c->db, NULL, c->model_name, c->system, &c->cid, &he)) {
		set_warning(c, "history is not saved: ", he.msg);
		return;
	}
	for (size_t i = 0; i < c->n_turns; i++) {
		const struct chat_turn *t = &c->turns[i];
		int64_t mid = 0;
		int rc = t->role == CHAT_USER
				 ? hist_message_add_user(c->db, c->cid, t->text, t->len, &mid, &he)
				 : hist_message_begin_assistant(c->db, c->cid, c->model_name, NULL, &mid,
								&he) ||
					   hist_message_finish(c->db, mid, HIST_COMPLETE, NULL, "", 0,
							       t->text, t->len, NULL, &he);
		if (rc) {
			set_warning(c, "history is not saved: ", he.msg);
			return;
		}
	}
}

int app_chat_begin_with(struct app_chat *c, const char *system, const struct chat_turn *turns,
			size_t n, struct err *e)
{
	app_chat_new_conversation(c);
	free(c->system);
	c->system = NULL;
	if (system && !(c->system = strdup(system)))
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (push_turn(c, turns[i].role, turns[i].text, turns[i].len))
			return err_set(e, ERR_NOMEM, "out of memory");
	store_earlier_turns(c);
	return 0;
}

int app_chat_load(struct app_chat *c, int64_t cid, struct err *e)
{
	struct hist_conversation conv = {0};
	struct hist_message *msgs = NULL;
	size_t n = 0;
	int rc = hist_conversation_get(c->db, cid, &conv, e);
	if (!rc && !conv.id)
		rc = err_set(e, ERR_DB, "conversation %lld cannot be read: the history is not "
			     "available", (long long)cid);
	if (rc) {
		/* A conversation id that is not there is a wrong argument, not a broken file. */
		if (rc == ERR_RANGE)
			e->code = rc = ERR_USAGE;
		return rc;
	}
	if ((rc = hist_conversation_messages(c->db, cid, &msgs, &n, e)))
		goto out;
	clear_turns(c);
	for (size_t i = 0; i < n; i++) {
		/* Failed replies never reached the model's context; skip them. */
		if (msgs[i].role == HIST_ASSISTANT && msgs[i].status == HIST_ERROR)
			continue;
		if (push_turn(c, msgs[i].role == HIST_USER ? CHAT_USER : CHAT_ASSISTANT,
			      msgs[i].content, msgs[i].content_len)) {
			rc = err_set(e, ERR_NOMEM, "out of memory loading conversation %lld",
				     (long long)cid);
			goto out;
		}
	}
	if (!c->opts->system && conv.system_prompt[0]) {
		free(c->system);
		c->system = strdup(conv.system_prompt);
	}
	c->cid = cid;
out:
	hist_messages_free(msgs, n);
	hist_conversation_clear(&conv);
	return rc;
}

struct relay {
	struct app_chat *c;
	eng_emit_fn emit;
	void *ud;
	bool out_of_memory;
};

static void save_progress(struct app_chat *c)
{
	struct err e = {0};
	if (hist_message_update(c->db, c->reply_mid, c->reasoning.s, c->reasoning.len,
				c->answer.s, c->answer.len, NULL, &e))
		set_warning(c, "history is no longer saved: ", e.msg);
}

/* PONDER_DEBUG_STALL=1 (for tests only) makes the engine stop answering after its first
   piece of text, as a hung computation would: nothing reads the stop flag any more. */
static bool debug_stall;

static void stall_forever(void)
{
	for (;;)
		sleep(60);
}

static int relay_emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct relay *r = ud;
	struct app_chat *c = r->c;
	struct app_text *t = channel == CH_REASONING ? &c->reasoning : &c->answer;
	pthread_mutex_lock(&c->save_mu);
	bool oom = text_append(t, utf8, len) != 0;
	if (!oom)
		save_progress(c);
	pthread_mutex_unlock(&c->save_mu);
	if (oom) {
		r->out_of_memory = true;
		return 1;
	}
	if (r->emit && r->emit(r->ud, channel, utf8, len))
		return 1;
	if (debug_stall)
		stall_forever();
	return __atomic_load_n(&c->stop, __ATOMIC_RELAXED) ? 1 : 0;
}

static void take_kv_note(struct app_chat *c)
{
	const char *note = c->sess ? eng_session_kv_note(c->sess) : NULL;
	if (note)
		set_warning(c, "", note);
}

static struct hist_stats to_hist_stats(const struct gen_stats *st)
{
	struct hist_stats h = HIST_STATS_NONE;
	h.prompt_tokens = st->prompt_tokens;
	h.reasoning_tokens = st->reasoning_tokens;
	h.answer_tokens = st->answer_tokens;
	/* A remote server reports no prefill rate (0): unknown, not zero. */
	h.prefill_tps = st->prefill_tps > 0 ? st->prefill_tps : -1;
	h.decode_tps = st->decode_tps > 0 ? st->decode_tps : -1;
	if (st->mtp_drafted > 0)
		h.mtp_acceptance = (double)st->mtp_accepted / (double)st->mtp_drafted;
	if (st->ttft_ms > 0)
		h.ttft_ms = st->ttft_ms;
	return h;
}

int app_chat_send(struct app_chat *c, const char *text, size_t len, eng_emit_fn emit,
		  void *ud, struct gen_stats *st, struct err *e)
{
	struct err he = {0};
	__atomic_store_n(&c->stop, 0, __ATOMIC_RELAXED); /* app_chat_stop may race with this */
	c->reasoning.len = c->answer.len = 0;
	/* Without --seed every reply draws a fresh seed; it is stored with the reply, so any
	   reply can be reproduced with --seed. */
	if (!c->seed_fixed) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		c->params.sample.seed = ((uint64_t)t.tv_sec * 1000000007u) ^ (uint64_t)t.tv_nsec ^
					(uint64_t)getpid() << 40;
		c->params.sample.seed &= INT64_MAX; /* --seed takes a signed 64-bit number */
	}
	if (text_append(&c->reasoning, "", 0) || text_append(&c->answer, "", 0))
		return err_set(e, ERR_NOMEM, "out of memory");
	if (push_turn(c, CHAT_USER, text, len))
		return err_set(e, ERR_NOMEM, "out of memory");

	/* The question is stored before anything is generated. */
	if (c->db && !c->cid &&
	    hist_conversation_new(c->db, NULL, c->model_name, c->system, &c->cid, &he))
		set_warning(c, "history is not saved: ", he.msg);
	int64_t umid = 0;
	if (hist_message_add_user(c->db, c->cid, text, len, &umid, &he))
		set_warning(c, "history is not saved: ", he.msg);
	struct hist_params hp = {c->params.sample.temperature, c->params.sample.top_p,
				 c->params.sample.min_p, c->params.sample.top_k,
				 (int32_t)c->params.max_tokens, c->params.sample.seed, 1};
	c->reply_mid = 0;
	if (hist_message_begin_assistant(c->db, c->cid, c->model_name, &hp, &c->reply_mid, &he))
		set_warning(c, "history is not saved: ", he.msg);

	/* The template wants the system prompt first, then the turns. */
	size_t n = c->n_turns + (c->system ? 1 : 0);
	struct chat_turn *all = malloc((n + 1) * sizeof *all); /* + the reply, to settle */
	if (!all)
		return err_set(e, ERR_NOMEM, "out of memory");
	size_t k = 0;
	if (c->system)
		all[k++] = (struct chat_turn){CHAT_SYSTEM, c->system, strlen(c->system)};
	memcpy(all + k, c->turns, c->n_turns * sizeof *all);

	struct relay r = {c, emit, ud, false};
	c->params.stop = &c->stop;
	const char *stall = getenv("PONDER_DEBUG_STALL");
	debug_stall = stall && !strcmp(stall, "1");
	int rc = c->remote ? oai_client_chat(c->remote, all, n, &c->params, relay_emit, &r, st, e)
			   : eng_chat(c->sess, all, n, &c->params, relay_emit, &r, st, e);
	take_kv_note(c);
	if (!rc && r.out_of_memory)
		rc = err_set(e, ERR_NOMEM, "out of memory holding the reply");

	/* A server that failed mid-reply leaves text worth keeping: an interrupted turn,
	   with the reason. */
	bool kept = rc == ERR_REMOTE && (c->reasoning.len || c->answer.len);
	enum hist_status status = kept ? HIST_INTERRUPTED : rc ? HIST_ERROR
				  : st->finish == FINISH_INTERRUPTED ? HIST_INTERRUPTED
				  : st->finish == FINISH_LENGTH ? HIST_LENGTH
								: HIST_COMPLETE;
	struct hist_stats hs = to_hist_stats(st);
	pthread_mutex_lock(&c->save_mu);
	if (hist_message_finish(c->db, c->reply_mid, status, rc ? e->msg : NULL, c->reasoning.s,
				c->reasoning.len, c->answer.s, c->answer.len, &hs, &he))
		set_warning(c, "history is not saved: ", he.msg);
	pthread_mutex_unlock(&c->save_mu);

	if (rc) {
		free(all);
		/* The failed question stays stored; it leaves the live context so a retry
		   does not send it twice. */
		free((char *)c->turns[--c->n_turns].text);
		return rc;
	}
	if (push_turn(c, CHAT_ASSISTANT, c->answer.s, c->answer.len)) {
		free(all);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	all[n] = c->turns[c->n_turns - 1];
	char label[64];
	app_kv_label(c->cid, label, sizeof label);
	if (c->sess)
		eng_session_settle(c->sess, all, n + 1, &c->params, label, true);
	free(all);
	return 0;
}

void app_chat_settle(struct app_chat *c)
{
	take_kv_note(c);
}

void app_chat_stop(struct app_chat *c)
{
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED); /* read by the generating thread */
	if (c->sess)
		eng_session_cancel_settle(c->sess); /* a snapshot being settled saves what it has */
}

int app_chat_abandon(struct app_chat *c, int sig)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 500 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	/* Not released: the process ends, and the stuck thread must not write after this. */
	if (pthread_mutex_timedlock(&c->save_mu, &until))
		return -1;
	if (!c->db || !c->reply_mid)
		return -1;
	char note[128];
	snprintf(note, sizeof note, "stopped by SIG%s while the engine was busy",
		 sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
	struct hist_stats hs = HIST_STATS_NONE;
	struct err e = {0};
	return hist_message_finish(c->db, c->reply_mid, HIST_INTERRUPTED, note, c->reasoning.s,
				   c->reasoning.len, c->answer.s, c->answer.len, &hs, &e) ? -1 : 0;
}

const char *app_chat_cut_short(const struct app_chat *c, const struct gen_stats *st, char *buf,
			       size_t size)
{
	if (st->finish != FINISH_LENGTH)
		return NULL;
	if (c->params.max_tokens > 0 &&
	    st->reasoning_tokens + st->answer_tokens >= c->params.max_tokens)
		snprintf(buf, size, "stopped at --max-tokens %lld; the answer is cut short",
			 (long long)c->params.max_tokens);
	else if (c->remote)
		snprintf(buf, size, "stopped: the server ended the reply at its length limit; the "
			 "answer is cut short (raise --max-tokens, or the server's limit)");
	else
		snprintf(buf, size, "stopped: the context of %zu tokens is full; the answer is cut "
			 "short (raise --ctx, or start a new conversation)",
			 eng_session_ctx(c->sess));
	return buf;
}

const char *app_chat_take_warning(struct app_chat *c)
{
	static __thread char taken[sizeof c->warning];
	if (!c->warning[0])
		return NULL;
	memcpy(taken, c->warning, sizeof taken);
	c->warning[0] = '\0';
	return taken;
}
