/* history_json.c — see history_json.h. */
#include "app/history_json.h"

#include <stdint.h>
#include <string.h>

#include "common/json_text.h"

/* A JSON string of n bytes; invalid UTF-8 sequences become U+FFFD. */
json_t *app_json_str(const char *s, size_t n)
{
	return s ? json_text(s, n) : json_null();
}

json_t *app_json_cstr(const char *s)
{
	return s ? app_json_str(s, strlen(s)) : json_null();
}

/* json_object_set_new that remembers a failed allocation. */
void app_json_put(json_t *o, const char *k, json_t *v, int *ok)
{
	if (!v || json_object_set_new(o, k, v) != 0)
		*ok = 0;
}

static void put_known_real(json_t *o, const char *k, double v, int *ok)
{
	if (v >= 0)
		app_json_put(o, k, json_real(v), ok);
}

static void put_known_int(json_t *o, const char *k, int64_t v, int *ok)
{
	if (v >= 0)
		app_json_put(o, k, json_integer(v), ok);
}

json_t *app_conversation_json(const struct hist_conversation *c, int *ok)
{
	json_t *o = json_object();
	if (!o) {
		*ok = 0;
		return NULL;
	}
	app_json_put(o, "id", json_integer(c->id), ok);
	app_json_put(o, "title", app_json_cstr(c->title), ok);
	app_json_put(o, "model", app_json_cstr(c->model), ok);
	app_json_put(o, "system_prompt", app_json_cstr(c->system_prompt), ok);
	app_json_put(o, "created_ms", json_integer(c->created_ms), ok);
	app_json_put(o, "updated_ms", json_integer(c->updated_ms), ok);
	app_json_put(o, "message_count", json_integer(c->n_messages), ok);
	return o;
}

static json_t *msg_json(const struct hist_message *m, int with_reasoning, int *ok)
{
	json_t *o = json_object();
	if (!o) {
		*ok = 0;
		return NULL;
	}
	app_json_put(o, "id", json_integer(m->id), ok);
	app_json_put(o, "role", json_string(hist_role_name(m->role)), ok);
	app_json_put(o, "status", json_string(hist_status_name(m->status)), ok);
	app_json_put(o, "content", app_json_str(m->content, m->content_len), ok);
	if (with_reasoning && m->role == HIST_ASSISTANT)
		app_json_put(o, "reasoning", app_json_str(m->reasoning, m->reasoning_len), ok);
	if (m->error)
		app_json_put(o, "error", app_json_cstr(m->error), ok);
	if (m->model)
		app_json_put(o, "model", app_json_cstr(m->model), ok);
	app_json_put(o, "created_ms", json_integer(m->created_ms), ok);
	app_json_put(o, "updated_ms", json_integer(m->updated_ms), ok);
	if (m->role != HIST_ASSISTANT)
		return o;
	json_t *p = json_object(), *s = json_object();
	if (p) {
		put_known_real(p, "temperature", m->params.temperature, ok);
		put_known_real(p, "top_p", m->params.top_p, ok);
		put_known_int(p, "top_k", m->params.top_k, ok);
		put_known_real(p, "min_p", m->params.min_p, ok);
		put_known_int(p, "max_tokens", m->params.max_tokens, ok);
		if (m->params.has_seed)
			app_json_put(p, "seed", json_integer((json_int_t)m->params.seed), ok);
	}
	app_json_put(o, "params", p, ok);
	if (s) {
		put_known_int(s, "prompt_tokens", m->stats.prompt_tokens, ok);
		put_known_int(s, "reasoning_tokens", m->stats.reasoning_tokens, ok);
		put_known_int(s, "answer_tokens", m->stats.answer_tokens, ok);
		put_known_real(s, "prefill_tokens_per_s", m->stats.prefill_tps, ok);
		put_known_real(s, "decode_tokens_per_s", m->stats.decode_tps, ok);
		put_known_real(s, "time_to_first_token_ms", m->stats.ttft_ms, ok);
		put_known_real(s, "mtp_acceptance", m->stats.mtp_acceptance, ok);
	}
	app_json_put(o, "stats", s, ok);
	return o;
}

json_t *app_history_json(const struct hist_conversation *c, const struct hist_message *m,
			 size_t n, int with_reasoning)
{
	int ok = 1;
	json_t *o = app_conversation_json(c, &ok);
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, msg_json(&m[i], with_reasoning, &ok)))
			ok = 0;
	app_json_put(o, "messages", a, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

