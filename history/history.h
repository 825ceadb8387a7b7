/*
 * history.h — the conversation store: every question, reasoning trace and answer kept in
 * one SQLite file (see docs/history.md for the schema and the crash-safety argument).
 *
 * Life of a turn, as the chat session drives it:
 *
 *   hist_open(path, NULL, &db, &e)              -> on failure: warn with e.msg, db = NULL
 *   hist_conversation_new(db, NULL, model, system, &cid, &e)   (or _latest / -c, --cid)
 *   hist_message_add_user(db, cid, q, qlen, &umid, &e)         before generation starts
 *   hist_message_begin_assistant(db, cid, model, &params, &amid, &e)
 *   for each streamed piece:
 *       hist_message_update(db, amid, reasoning, rlen, answer, alen, &stats, &e)
 *   hist_message_finish(db, amid, HIST_COMPLETE | HIST_LENGTH | HIST_INTERRUPTED | HIST_ERROR,
 *                       error_text, reasoning, rlen, answer, alen, &stats, &e)
 *   hist_close(db)
 *
 * Texts are always passed whole (everything generated so far), never as deltas: a
 * skipped or failed write can then never leave a hole in the middle of a message, and the
 * caller already holds the full buffers. hist_message_update is throttled here: it writes
 * when at least flush_ms (default 500) passed since the last write of that message and
 * otherwise returns at once without touching the database or allocating, so it may be
 * called after every token. A crash or kill -9 therefore loses at most the text produced
 * in the last flush_ms (each write is one committed transaction).
 *
 * The "keep working without saving" contract:
 *  - db == NULL (hist_open failed; the caller warned): every hist_* function returns 0,
 *    sets its out ids / counts to 0 and does nothing. A session needs no branches.
 *  - A handle whose saving is off (file read-only, schema newer than this ponder, or a
 *    write that failed earlier): hist_warning() returns the reason; reads work; the
 *    session writes (conversation_new, message_*) are no-ops that return 0 and give id 0;
 *    calls with cid / mid 0 are no-ops as well. The explicit edits hist_conversation_title
 *    and hist_conversation_rm return ERR_DB with the reason, so `ponder history rm` on a
 *    read-only file does not fail silently.
 *  - The first write that fails (disk full, locked past the busy timeout, corrupt page,
 *    I/O error) returns ERR_DB with a message naming the file and the cause and turns
 *    saving off for the rest of the handle's life; the caller prints it once and goes on.
 *  - ponder never deletes, truncates, rewrites or "repairs" a file it did not create: a
 *    file that is not SQLite, or SQLite without ponder's application_id, is refused before
 *    anything is written to it. (An empty 0-byte file is initialised: it holds nothing.)
 *
 * Concurrency: several processes may use one file at once (WAL mode, busy_timeout, every
 * write in BEGIN IMMEDIATE). One handle is used by one thread at a time.
 *
 * Strings returned in structs are owned by the struct (free with the matching _free /
 * _clear). Times are Unix milliseconds. Texts are stored byte for byte (length given,
 * no NUL needed); invalid UTF-8 is kept as is.
 */
#ifndef PONDER_HISTORY_H
#define PONDER_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

struct hist_db;

/* The schema version this build writes (PRAGMA user_version). */
#define HIST_SCHEMA_VERSION 3
/* PRAGMA application_id of a ponder history file ("Pndr"). */
#define HIST_APP_ID 0x506e6472

enum hist_open_flag {
	HIST_OPEN_READONLY = 1, /* never write: no create, no migration, no recovery */
	HIST_OPEN_NOCREATE = 2, /* a missing file is ERR_IO instead of being created */
};

struct hist_open_opts {
	unsigned flags;      /* enum hist_open_flag bits */
	int busy_timeout_ms; /* wait for another process's lock; <= 0 means 5000 */
};

/*
 * Opens (creating when missing, unless NOCREATE/READONLY) the history file at `path`.
 * Its folder must exist (app_path_history_db creates it). o may be NULL.
 * Returns 0 with *out set, possibly with saving off (see hist_warning); or ERR_IO (file
 * missing with NOCREATE, folder missing, no permission), ERR_FORMAT (not SQLite, not a
 * ponder file, damaged schema, needs migration but read-only) or ERR_DB, with *out NULL
 * and a message naming the path. Never modifies a file it refuses.
 * Also marks assistant messages left 'streaming' by a process that no longer runs as
 * interrupted (crash recovery).
 */
int hist_open(const char *path, const struct hist_open_opts *o, struct hist_db **out,
	      struct err *e);
/* Marks a begun-but-unfinished assistant message interrupted, then closes. NULL ok. */
void hist_close(struct hist_db *db);

/* NULL when saving works; else why it is off, ready to show the user. NULL db: NULL. */
const char *hist_warning(const struct hist_db *db);
/* 1 when writes go to the file. NULL db: 0. */
int hist_can_save(const struct hist_db *db);
const char *hist_path(const struct hist_db *db);

/* Throttle of hist_message_update in ms (0: write every call). Default 500. */
void hist_set_flush_ms(struct hist_db *db, int ms);

/*
 * Bulk import / benchmark: every write between batch_begin and batch_end joins one
 * transaction. Nothing is visible to other processes until batch_end. Not for the chat
 * session (a crash would lose the whole batch).
 */
int hist_batch_begin(struct hist_db *db, struct err *e);
int hist_batch_end(struct hist_db *db, struct err *e);

enum hist_role { HIST_USER = 0, HIST_ASSISTANT = 1 };

enum hist_status {
	HIST_STREAMING = 0,   /* assistant message being generated (or its writer crashed) */
	HIST_COMPLETE = 1,
	HIST_INTERRUPTED = 2, /* stopped by the user, or its process died mid-stream */
	HIST_ERROR = 3,       /* generation failed; the message's error says why */
	HIST_LENGTH = 4,      /* complete up to the token limit (--max-tokens or a full
				 context): the answer is cut short */
};

const char *hist_role_name(enum hist_role r);     /* "user", "assistant" */
const char *hist_status_name(enum hist_status s); /* "streaming", "complete", ... */

/* Sampling parameters of an assistant message; negative (has_seed 0) means not recorded. */
struct hist_params {
	double temperature, top_p, min_p;
	int32_t top_k;      /* 0 = no top-k limit */
	int32_t max_tokens;
	uint64_t seed;
	int has_seed;
};
#define HIST_PARAMS_NONE ((struct hist_params){-1, -1, -1, -1, -1, 0, 0})

/* Measured figures of a message; negative means unknown (stored as NULL). */
struct hist_stats {
	int64_t prompt_tokens, reasoning_tokens, answer_tokens;
	double prefill_tps, decode_tps; /* tokens per second */
	double mtp_acceptance;          /* accepted / proposed MTP drafts, 0..1 */
	double ttft_ms;                 /* request start to the first generated token */
};
#define HIST_STATS_NONE ((struct hist_stats){-1, -1, -1, -1, -1, -1, -1})

/* ---- writing (history/write.c) ---- */

/* New conversation. title NULL or "": set from the first question (hist_title_from). */
int hist_conversation_new(struct hist_db *db, const char *title, const char *model,
			  const char *system_prompt, int64_t *cid, struct err *e);
/* Sets the title (TEXT as given). ERR_RANGE when cid does not exist. */
int hist_conversation_title(struct hist_db *db, int64_t cid, const char *title, struct err *e);
/* Deletes a conversation and its messages (and their search entries). ERR_RANGE when
   missing. */
int hist_conversation_rm(struct hist_db *db, int64_t cid, struct err *e);

/* Saves the user's message (one transaction); sets the conversation's title from it when
   the title is still empty. ERR_RANGE when cid does not exist. */
int hist_message_add_user(struct hist_db *db, int64_t cid, const char *text, size_t len,
			  int64_t *mid, struct err *e);
/* Creates the assistant message, status streaming, empty texts; model and p may be NULL. */
int hist_message_begin_assistant(struct hist_db *db, int64_t cid, const char *model,
				 const struct hist_params *p, int64_t *mid, struct err *e);
/* Replaces the texts with everything generated so far (throttled, see above). st may be
   NULL (figures kept). A message deleted meanwhile (history rm) is ignored. */
int hist_message_update(struct hist_db *db, int64_t mid, const char *reasoning, size_t rlen,
			const char *answer, size_t alen, const struct hist_stats *st,
			struct err *e);
/* Final write: texts, figures and status (not HIST_STREAMING); error may be NULL. The
   message becomes searchable here. */
int hist_message_finish(struct hist_db *db, int64_t mid, enum hist_status status,
			const char *error, const char *reasoning, size_t rlen, const char *answer,
			size_t alen, const struct hist_stats *st, struct err *e);

/*
 * A title from a question: its first non-blank line, trimmed, control characters made
 * spaces, cut after max_chars characters (never inside a UTF-8 sequence) with "…"
 * appended when cut. Writes at most size bytes including the NUL (4 * max_chars + 4 is
 * always enough). Returns the length.
 */
size_t hist_title_from(const char *text, size_t len, size_t max_chars, char *buf, size_t size);
#define HIST_TITLE_MAX 60

/* ---- reading (history/query.c) ---- */

struct hist_conversation {
	int64_t id;
	char *title, *model, *system_prompt; /* never NULL after a successful read */
	int64_t created_ms, updated_ms;
	int64_t n_messages;
};

struct hist_message {
	int64_t id, conversation_id;
	enum hist_role role;
	enum hist_status status;
	char *content;   /* the question, or the answer; never NULL */
	size_t content_len;
	char *reasoning; /* "" for user messages; never NULL */
	size_t reasoning_len;
	char *error;     /* NULL unless status is HIST_ERROR (or an interruption note) */
	char *model;     /* NULL when not recorded */
	int64_t created_ms, updated_ms;
	struct hist_params params;
	struct hist_stats stats;
};

struct hist_hit {
	int64_t message_id, conversation_id;
	enum hist_role role;
	int64_t created_ms;
	char *title;
	char *snippet;    /* with the caller's markers around matched words */
	int in_reasoning; /* the snippet comes from the reasoning, not the content */
};

/* Latest conversation by last activity; *cid = 0 when there is none. */
int hist_conversation_latest(struct hist_db *db, int64_t *cid, struct err *e);
/* ERR_RANGE "no conversation N" when missing. NULL db: 0 with out zeroed (id 0). */
int hist_conversation_get(struct hist_db *db, int64_t cid, struct hist_conversation *out,
			  struct err *e);
void hist_conversation_clear(struct hist_conversation *c);

/* The latest `limit` conversations, most recently active first. */
int hist_list(struct hist_db *db, size_t limit, struct hist_conversation **out, size_t *n,
	      struct err *e);
/* Every conversation id, oldest first (export --all). */
int hist_conversation_ids(struct hist_db *db, int64_t **out, size_t *n, struct err *e);
void hist_conversations_free(struct hist_conversation *c, size_t n);

/* The messages of a conversation in order (to rebuild the turns for -c / --cid). */
int hist_conversation_messages(struct hist_db *db, int64_t cid, struct hist_message **out,
			       size_t *n, struct err *e);
void hist_messages_free(struct hist_message *m, size_t n);

/*
 * Full-text search over questions, answers and reasoning of finished messages (a message
 * being streamed becomes searchable when it finishes, or when a later open finds its
 * process gone). `query` is user text, never FTS5 syntax: see hist_fts_query. Best
 * matches first (bm25), at most `limit`. mark_open / mark_close wrap matched words.
 * A query matching more than HIST_SEARCH_WINDOW messages is ranked within its newest
 * HIST_SEARCH_WINDOW matches, which bounds the time (ranking costs per match).
 */
#define HIST_SEARCH_WINDOW 4000
int hist_search(struct hist_db *db, const char *query, const char *mark_open,
		const char *mark_close, size_t limit, struct hist_hit **out, size_t *n,
		struct err *e);
void hist_hits_free(struct hist_hit *h, size_t n);

/*
 * User text -> FTS5 expression: each whitespace-separated word becomes a quoted phrase
 * ("" inside doubled), the phrases are ANDed; a trailing * on a word asks for a prefix
 * match. So quotes, parentheses, AND/OR/NOT/NEAR, ':' and '^' are plain text and never an
 * SQL or FTS syntax error. ERR_USAGE for an empty query. *out is malloc'd.
 */
int hist_fts_query(const char *query, char **out, struct err *e);

/* ---- export (history/export.c) ---- */

/*
 * Writes one conversation as Markdown: "# title", a metadata line, the system prompt,
 * then "## You" / "## Assistant" per message; reasoning in a collapsible
 * <details><summary>Reasoning</summary> block; interrupted / failed turns say so.
 * ERR_IO when writing to f fails.
 */
int hist_export_md(FILE *f, const struct hist_conversation *c, const struct hist_message *m,
		   size_t n, struct err *e);

#endif
