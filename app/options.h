/*
 * options.h — the options the chat modes share (pipe mode and the TUI): model,
 * sampling, conversation, storage and output. Defaults, then the config file
 * ($XDG_CONFIG_HOME/ponder/config), then the environment (PONDER_MODEL, PONDER_DB),
 * then the command line: later wins.
 *
 * The config file holds `key = value` lines whose keys are the long option names
 * (temperature = 0.7, model = /models/r1, think = off); '#' starts a comment.
 */
#ifndef PONDER_APP_OPTIONS_H
#define PONDER_APP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

enum reasoning_out { REASONING_HIDE, REASONING_STDERR, REASONING_INLINE };
enum output_mode { OUTPUT_TEXT, OUTPUT_JSON, OUTPUT_JSONL };

struct app_opts {
	char model[4096];      /* model directory; "" = the shipped demo model */
	/* An OpenAI-compatible server instead of a local model (docs/remote.md): its base
	   URL ("" = local), the model to ask for ("" = the first it lists) and the name of
	   the environment variable that holds the API key ("" = none; the key itself is
	   never stored). */
	char remote[2048];
	char remote_model[256];
	char api_key_env[128];
	/* The options given (command line or config file) that only the local engine uses,
	   comma-separated, for the note that --remote ignores them. */
	char local_only[256];
	/* Sampling; negative = not given: the model's generation_config.json, else the model
	   family's default (R1: temperature 0.6, top_p 0.95). */
	double temperature, top_p, min_p;
	int top_k;             /* 0: off; negative: not given */
	uint64_t seed;
	bool seed_set;
	int64_t max_tokens;    /* 0: until the context is full */
	bool think_off;
	char *system;          /* system prompt or NULL */
	bool continue_latest;  /* -c */
	int64_t cid;           /* --cid, 0 = none */
	bool no_save;
	char db[4096];         /* --db; "" = PONDER_DB or the XDG default */
	int threads;           /* 0: all cores */
	int64_t ctx;           /* 0: min(model maximum, 8192) */
	char kernels[32];      /* "" = best for this CPU */
	int mtp;               /* speculative decoding with the MTP module: 0 off, 1 on */
	int kv_type;           /* an enum eng_kv_type (engine/engine.h, which ui/ must not see) */
	int head;              /* an enum eng_head_type, the same way */
	uint64_t kv_cache_max; /* bytes of KV snapshots kept (docs/kv-snapshots.md) */
	bool no_kv_cache;      /* neither read nor write KV snapshots */
	char theme[256];       /* TUI theme name or path; "" = default */
	bool theme_set;
	bool ascii;            /* TUI: ASCII lines and markers instead of Unicode */
	/* Pipe mode. */
	char *prompt;          /* -p / positional words joined by spaces, or NULL */
	enum reasoning_out reasoning;
	enum output_mode output;
	bool batch;            /* each stdin line is its own prompt */
	bool verbose;          /* pipe mode: the sampling used, once, on stderr */
};

/* Fills defaults, reads the config file and environment, then parses argv (argv[0] is
   the program). ERR_USAGE names the option or config line that is wrong. */
int app_opts_parse(struct app_opts *o, int argc, char **argv, struct err *e);

/* *out = v as a whole number in [lo, hi]; ERR_USAGE naming --name otherwise. */
int app_parse_int(const char *name, const char *v, long long lo, long long hi,
		  long long *out, struct err *e);
void app_opts_release(struct app_opts *o);

/* The defaults app_opts_parse starts from (no config file, no environment). */
void app_opts_defaults(struct app_opts *o);
/* Applies one option by its long name (value NULL for a flag), checked as on the
   command line: for commands with options of their own (ponder serve). */
int app_opts_set(struct app_opts *o, const char *name, const char *value, struct err *e);

/* *out = v as bytes: a whole or decimal number, optionally followed by K, M, G or T
   (powers of 1024; "KB"/"KiB" spellings too). ERR_USAGE naming --name otherwise. */
int app_parse_size(const char *name, const char *v, uint64_t *out, struct err *e);

/* Default cap on the KV snapshot folder: a few long conversations of a large model. */
#define APP_KV_CACHE_MAX_DEFAULT (4ull << 30)

/* The model directory to use: o->model, or the shipped demo model's folder. */
int app_opts_model_dir(const struct app_opts *o, char *buf, size_t size, struct err *e);

/* The shipped demo model's folder: models/demo next to the binary's folder (a source
   tree), else the installed copy under PONDER_DATADIR. */
int app_demo_model_dir(char *buf, size_t size, struct err *e);

/* One line for --help, the status bar and `ponder info` when the demo model is used. */
#define APP_DEMO_NOTE "the shipped demo model: a small DeepSeek-V3-architecture reasoner " \
		      "for arithmetic; load a real checkpoint with -m DIR"

/* The --help text of the chat modes. */
void app_opts_usage(FILE *f);

#endif
