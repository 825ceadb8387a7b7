/*
 * chat_api.h — the one interface app/ gives the terminal UI: the chat session (send a
 * turn, stop, stats, settings) and the history queries the UI shows (load a
 * conversation for display, list, search, delete, export). It names no engine or
 * history type, so ui/ depends on app/ only, and the dependency runs one way:
 * ui → app → engine / history → kernels.
 *
 * Threading is app/chat.h's: one thread drives a chat at a time (the UI's worker while
 * a reply streams; app_chat_stop from anywhere). The library (app_library_*) is a second
 * connection to the same history file, so the UI may browse while the worker writes the
 * current reply through the chat's own connection: no handle is shared by two threads.
 */
#ifndef PONDER_APP_CHAT_API_H
#define PONDER_APP_CHAT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/options.h"
#include "common/err.h"

struct app_chat;    /* app/chat.h; opaque here */
struct app_library; /* a browsing connection to the history */

/* ---- the chat ---- */

int app_chat_open(struct app_chat **out, const struct app_opts *o, struct err *e);
void app_chat_close(struct app_chat *c);
void app_chat_new_conversation(struct app_chat *c);
void app_chat_stop(struct app_chat *c);
const char *app_chat_take_warning(struct app_chat *c);

struct app_chat_info {
	const char *model_name;   /* as the status bar shows it */
	const char *model_dir;    /* with remote, the server's URL */
	bool is_demo;             /* the shipped demo model */
	bool remote;              /* replies come from a server (--remote) */
	int64_t ctx;              /* context size in tokens; 0 with remote (the server's) */
	bool mtp;                 /* speculative decoding on */
	const char *db_path;      /* the history file, NULL when not saving */
};
/* Pointers stay valid while the chat is open. */
void app_chat_info(const struct app_chat *c, struct app_chat_info *out);
/* The current conversation's id, 0 while it is not stored. */
int64_t app_chat_cid(const struct app_chat *c);
/* The history id of the last reply (0 when not stored). */
int64_t app_chat_reply_mid(const struct app_chat *c);
/* The history's own warning (degraded store), or NULL. Not while a reply streams. */
const char *app_chat_db_warning(const struct app_chat *c);

/* Sampling and reasoning, applied from the next question. */
struct app_settings {
	double temperature, top_p, min_p;
	int top_k;
	uint64_t seed;
	int64_t max_tokens; /* <= 0: until the context is full */
	bool think_off;
};
void app_chat_get_settings(const struct app_chat *c, struct app_settings *s);
void app_chat_set_settings(struct app_chat *c, const struct app_settings *s);
/* ERR_UNSUPPORTED when the model was loaded without its MTP module. */
int app_chat_set_mtp(struct app_chat *c, bool on, struct err *e);

enum app_channel { APP_CH_REASONING, APP_CH_ANSWER };
/* Receives each streamed piece (complete UTF-8); nonzero stops generation cleanly. */
typedef int (*app_emit_fn)(void *ud, enum app_channel ch, const char *utf8, size_t len);

struct app_reply_stats {
	bool interrupted;         /* stopped by emit or app_chat_stop: kept as interrupted */
	bool cut_short;           /* stopped at max_tokens or a full context (stored as
				     "length"); tell the user, as pipe mode does */
	int64_t prompt_tokens, reasoning_tokens, answer_tokens;
	int64_t resumed_tokens;   /* of the prompt, loaded from a KV snapshot (0: none) */
	double prefill_tps, decode_tps;
	int64_t mtp_drafted, mtp_accepted;
};

/* Sends the user's turn text[0..len) and streams the reply (app_chat_send). */
int app_chat_ask(struct app_chat *c, const char *text, size_t len, app_emit_fn emit, void *ud,
		 struct app_reply_stats *st, struct err *e);

/* Writes the current conversation to a new file (never overwriting one) as Markdown or
   as `ponder history export --format json` does. A leading "~/" is $HOME; any other
   relative path is relative to the directory ponder was started in. The absolute path
   of the file written goes to written[size]. ERR_USAGE when nothing is stored. */
int app_chat_export(struct app_chat *c, const char *path, bool json, char *written,
		    size_t size, struct err *e);

/* ---- a stored conversation, for display ---- */

enum app_msg_status { APP_MSG_COMPLETE, APP_MSG_STOPPED, APP_MSG_ERROR };

struct app_msg {
	int64_t id;
	bool from_user;
	enum app_msg_status status;
	const char *text, *reasoning; /* never NULL */
	size_t text_len, reasoning_len;
	int64_t reasoning_tokens;     /* < 0 unknown */
	const char *error;            /* NULL unless status is APP_MSG_ERROR */
};

struct app_transcript {
	int64_t cid;
	char *title;                  /* never NULL */
	int64_t n_messages;
	struct app_msg *m;
	size_t n;
	void *priv;                   /* the store's records the texts point into */
};

/* Makes conversation `cid` the chat's current one and returns it for display. */
int app_chat_open_conversation(struct app_chat *c, int64_t cid, struct app_transcript *t,
			       struct err *e);
void app_transcript_free(struct app_transcript *t);

/* ---- the library: browsing saved conversations ---- */

struct app_conv {
	int64_t id;
	char *title;       /* never NULL */
	int64_t updated_ms, n_messages;
};

struct app_hit {
	int64_t cid, mid;
	char *title, *snippet; /* never NULL; the snippet has the caller's markers */
	bool in_reasoning;
};

/* A second connection to the chat's history file. ERR_DB when history is off. */
int app_library_open(const struct app_chat *c, struct app_library **out, struct err *e);
void app_library_close(struct app_library *l);
/* The latest `limit` conversations, most recently active first. */
int app_library_list(struct app_library *l, size_t limit, struct app_conv **out, size_t *n,
		     struct err *e);
void app_convs_free(struct app_conv *c, size_t n);
/* Full-text search (user text, not FTS5 syntax), best first; marks wrap matched words. */
int app_library_search(struct app_library *l, const char *query, const char *mark_open,
		       const char *mark_close, size_t limit, struct app_hit **out, size_t *n,
		       struct err *e);
void app_hits_free(struct app_hit *h, size_t n);
int app_library_delete(struct app_library *l, int64_t cid, struct err *e);

#endif
