/*
 * options.c — parsing of the shared chat options (see options.h). One table drives
 * both getopt_long and the config file, so every option has one name everywhere.
 */
#include "app/options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/paths.h"
#include "engine/engine.h"

enum opt_id {
	OPT_MODEL = 'm', OPT_PROMPT = 'p', OPT_CONTINUE = 'c', OPT_THREADS = 't',
	OPT_HELP = 'h',
	OPT_TEMPERATURE = 256, OPT_TOP_P, OPT_TOP_K, OPT_MIN_P, OPT_SEED, OPT_MAX_TOKENS,
	OPT_THINK, OPT_SYSTEM, OPT_CID, OPT_NO_SAVE, OPT_DB, OPT_CTX, OPT_KERNELS, OPT_THEME,
	OPT_REASONING, OPT_JSON, OPT_JSONL, OPT_BATCH, OPT_MTP, OPT_ASCII, OPT_VERBOSE,
	OPT_KV_TYPE, OPT_HEAD, OPT_KV_CACHE_MAX, OPT_NO_KV_CACHE, OPT_REMOTE, OPT_REMOTE_MODEL,
	OPT_API_KEY_ENV,
};

static const struct option long_opts[] = {
	{"model", required_argument, NULL, OPT_MODEL},
	{"prompt", required_argument, NULL, OPT_PROMPT},
	{"continue", no_argument, NULL, OPT_CONTINUE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"help", no_argument, NULL, OPT_HELP},
	{"temperature", required_argument, NULL, OPT_TEMPERATURE},
	{"top-p", required_argument, NULL, OPT_TOP_P},
	{"top-k", required_argument, NULL, OPT_TOP_K},
	{"min-p", required_argument, NULL, OPT_MIN_P},
	{"seed", required_argument, NULL, OPT_SEED},
	{"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
	{"think", required_argument, NULL, OPT_THINK},
	{"system", required_argument, NULL, OPT_SYSTEM},
	{"cid", required_argument, NULL, OPT_CID},
	{"no-save", no_argument, NULL, OPT_NO_SAVE},
	{"db", required_argument, NULL, OPT_DB},
	{"ctx", required_argument, NULL, OPT_CTX},
	{"kernels", required_argument, NULL, OPT_KERNELS},
	{"theme", required_argument, NULL, OPT_THEME},
	{"ascii", no_argument, NULL, OPT_ASCII},
	{"reasoning", optional_argument, NULL, OPT_REASONING},
	{"json", no_argument, NULL, OPT_JSON},
	{"jsonl", no_argument, NULL, OPT_JSONL},
	{"batch", no_argument, NULL, OPT_BATCH},
	{"verbose", no_argument, NULL, OPT_VERBOSE},
	{"mtp", required_argument, NULL, OPT_MTP},
	{"kv-type", required_argument, NULL, OPT_KV_TYPE},
	{"head", required_argument, NULL, OPT_HEAD},
	{"kv-cache-max", required_argument, NULL, OPT_KV_CACHE_MAX},
	{"no-kv-cache", no_argument, NULL, OPT_NO_KV_CACHE},
	{"remote", required_argument, NULL, OPT_REMOTE},
	{"remote-model", required_argument, NULL, OPT_REMOTE_MODEL},
	{"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
	{NULL, 0, NULL, 0},
};

/* Options that make no sense in a config file (they name one run, not a preference). */
static bool per_run_only(int id)
{
	return id == OPT_PROMPT || id == OPT_CONTINUE || id == OPT_CID || id == OPT_HELP ||
	       id == OPT_BATCH;
}

static int parse_double(const char *name, const char *v, double lo, double hi, double *out,
			struct err *e)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	/* isfinite: strtod reads "nan" and "inf", and NaN passes every range comparison. */
	if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
		return err_set(e, ERR_USAGE, "--%s: '%s' is not a number from %g to %g", name, v,
			       lo, hi);
	*out = x;
	return 0;
}

int app_parse_int(const char *name, const char *v, long long lo, long long hi,
		  long long *out, struct err *e)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (end == v || *end || errno || x < lo || x > hi)
		return err_set(e, ERR_USAGE, "--%s: '%s' is not a whole number from %lld to %lld",
			       name, v, lo, hi);
	*out = x;
	return 0;
}

int app_parse_size(const char *name, const char *v, uint64_t *out, struct err *e)
{
	char *end;
	errno = 0;
	double x = strtod(v, &end);
	static const char units[] = "KMGT";
	const char *u = *end ? strchr(units, *end == 'k' ? 'K' : *end) : NULL;
	if (u)
		end += end[1] == 'B' || end[1] == 'i' ? (end[1] == 'i' && end[2] == 'B' ? 3 : 2) : 1;
	double bytes = x * (u ? (double)(1ull << (10 * (u - units + 1))) : 1.0);
	if (end == v || *end || errno || !isfinite(x) || x < 0 || bytes >= 0x1p63)
		return err_set(e, ERR_USAGE, "--%s: '%s' is not a size (bytes, or a number with K, "
			       "M, G or T, e.g. 4G)", name, v);
	*out = (uint64_t)bytes;
	return 0;
}

static int copy_str(const char *name, const char *v, char *dst, size_t size, struct err *e)
{
	if (strlen(v) >= size)
		return err_set(e, ERR_USAGE, "--%s: value is longer than %zu bytes", name, size - 1);
	strcpy(dst, v);
	return 0;
}

/* Options that only the in-process engine uses: --remote says it ignores them. */
static bool local_engine_only(int id)
{
	return id == OPT_THREADS || id == OPT_CTX || id == OPT_KERNELS || id == OPT_MTP ||
	       id == OPT_KV_TYPE || id == OPT_HEAD || id == OPT_KV_CACHE_MAX ||
	       id == OPT_NO_KV_CACHE || id == OPT_THINK;
}

/* Adds --name to o->local_only once (a whole entry: "--threads" holds "head" too). */
static void note_local_only(struct app_opts *o, const char *name)
{
	char entry[40];
	snprintf(entry, sizeof entry, "--%s", name);
	size_t len = strlen(entry);
	for (const char *p = o->local_only; (p = strstr(p, entry)); p += len)
		if ((p == o->local_only || p[-1] == ' ') && (p[len] == ',' || !p[len]))
			return;
	size_t used = strlen(o->local_only);
	snprintf(o->local_only + used, sizeof o->local_only - used, "%s%s", used ? ", " : "",
		 entry);
}

static const char *name_of(int id)
{
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (lo->val == id)
			return lo->name;
	return "?";
}

static int apply(struct app_opts *o, int id, const char *v, struct err *e)
{
	const char *name = name_of(id);
	long long n;
	int rc = 0;
	if (local_engine_only(id))
		note_local_only(o, name);
	switch (id) {
	case OPT_MODEL: return copy_str(name, v, o->model, sizeof o->model, e);
	case OPT_PROMPT:
		free(o->prompt);
		o->prompt = strdup(v);
		return o->prompt ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	case OPT_CONTINUE: o->continue_latest = true; return 0;
	case OPT_THREADS:
		rc = app_parse_int(name, v, 0, 4096, &n, e);
		o->threads = (int)n;
		return rc;
	case OPT_TEMPERATURE: return parse_double(name, v, 0, 100, &o->temperature, e);
	case OPT_TOP_P: return parse_double(name, v, 0, 1, &o->top_p, e);
	case OPT_MIN_P: return parse_double(name, v, 0, 1, &o->min_p, e);
	case OPT_TOP_K:
		rc = app_parse_int(name, v, 0, INT_MAX, &n, e);
		o->top_k = (int)n;
		return rc;
	case OPT_SEED:
		rc = app_parse_int(name, v, 0, LLONG_MAX, &n, e);
		o->seed = (uint64_t)n;
		o->seed_set = true;
		return rc;
	case OPT_MAX_TOKENS:
		rc = app_parse_int(name, v, 0, INT32_MAX, &n, e);
		o->max_tokens = n;
		return rc;
	case OPT_THINK:
		if (!strcmp(v, "on"))
			o->think_off = false;
		else if (!strcmp(v, "off"))
			o->think_off = true;
		else
			return err_set(e, ERR_USAGE, "--think: '%s' is neither on nor off", v);
		return 0;
	case OPT_SYSTEM:
		free(o->system);
		o->system = strdup(v);
		return o->system ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	case OPT_CID:
		rc = app_parse_int(name, v, 1, LLONG_MAX, &n, e);
		o->cid = n;
		return rc;
	case OPT_NO_SAVE: o->no_save = true; return 0;
	case OPT_DB: return copy_str(name, v, o->db, sizeof o->db, e);
	case OPT_CTX:
		rc = app_parse_int(name, v, 1, INT32_MAX, &n, e);
		o->ctx = n;
		return rc;
	case OPT_KERNELS: return copy_str(name, v, o->kernels, sizeof o->kernels, e);
	case OPT_THEME:
		o->theme_set = true;
		return copy_str(name, v, o->theme, sizeof o->theme, e);
	case OPT_ASCII: o->ascii = true; return 0;
	case OPT_REASONING:
		if (!v || !strcmp(v, "stderr"))
			o->reasoning = REASONING_STDERR;
		else if (!strcmp(v, "inline"))
			o->reasoning = REASONING_INLINE;
		else if (!strcmp(v, "hide") || !strcmp(v, "off"))
			o->reasoning = REASONING_HIDE;
		else
			return err_set(e, ERR_USAGE, "--reasoning: '%s' is not stderr, inline or hide", v);
		return 0;
	case OPT_JSON: o->output = OUTPUT_JSON; return 0;
	case OPT_JSONL: o->output = OUTPUT_JSONL; return 0;
	case OPT_BATCH: o->batch = true; return 0;
	case OPT_VERBOSE: o->verbose = true; return 0;
	case OPT_KV_TYPE: {
		enum eng_kv_type t;
		rc = eng_kv_type_parse(v, &t, e);
		o->kv_type = (int)t;
		return rc;
	}
	case OPT_HEAD: {
		enum eng_head_type t;
		rc = eng_head_type_parse(v, &t, e);
		o->head = (int)t;
		return rc;
	}
	case OPT_KV_CACHE_MAX: return app_parse_size(name, v, &o->kv_cache_max, e);
	case OPT_NO_KV_CACHE: o->no_kv_cache = true; return 0;
	case OPT_REMOTE: return copy_str(name, v, o->remote, sizeof o->remote, e);
	case OPT_REMOTE_MODEL: return copy_str(name, v, o->remote_model, sizeof o->remote_model, e);
	case OPT_API_KEY_ENV: return copy_str(name, v, o->api_key_env, sizeof o->api_key_env, e);
	case OPT_MTP:
		/* One MTP module drafts one token per pass (DeepSeek-V3's depth 1). */
		if (!strcmp(v, "off") || !strcmp(v, "0"))
			o->mtp = 0;
		else if (!strcmp(v, "on") || !strcmp(v, "1"))
			o->mtp = 1;
		else
			return err_set(e, ERR_USAGE, "--mtp: '%s' is not off, on or 1 (one module "
				       "drafts one token)", v);
		return 0;
	}
	return err_set(e, ERR_USAGE, "unknown option");
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* A key of the [remote] section as the option it sets; NULL when it has no such key. */
static const char *remote_key(const char *key)
{
	return !strcmp(key, "url") ? "remote" : !strcmp(key, "model") ? "remote-model"
		: !strcmp(key, "api_key_env") ? "api-key-env" : NULL;
}

static int read_config(struct app_opts *o, struct err *e)
{
	char dir[4096], path[4200];
	struct err ignore;
	if (app_path_dir(APP_DIR_CONFIG, 0, dir, sizeof dir, &ignore))
		return 0; /* no home: no config file */
	snprintf(path, sizeof path, "%s/config", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[8192];
	int rc = 0;
	bool in_remote = false; /* inside the [remote] section */
	for (int lineno = 1; !rc && fgets(line, sizeof line, f); lineno++) {
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		if (*s == '[') {
			in_remote = !strcmp(s, "[remote]");
			if (!in_remote)
				rc = err_set(e, ERR_USAGE, "%s line %d: '%s' is not a section the config "
					     "file has (only [remote]; see man ponder, FILES)", path,
					     lineno, s);
			continue;
		}
		char *sep = s + strcspn(s, "= \t");
		char *value = sep;
		if (*sep) {
			*sep = '\0';
			value = trim(sep + 1);
			if (*value == '=')
				value = trim(value + 1);
		}
		const char *key = in_remote ? remote_key(s) : s;
		const struct option *lo = long_opts;
		while (key && lo->name && strcmp(lo->name, key))
			lo++;
		if (!key || !lo->name || per_run_only(lo->val)) {
			rc = err_set(e, ERR_USAGE, "%s line %d: '%s' is not a setting the config file "
				     "takes (see man ponder, FILES)", path, lineno, s);
		} else if (lo->has_arg == no_argument) {
			if (*value && strcmp(value, "true") && strcmp(value, "yes") && strcmp(value, "1"))
				rc = err_set(e, ERR_USAGE, "%s line %d: '%s' takes no value (or true)",
					     path, lineno, s);
			else
				rc = apply(o, lo->val, NULL, e);
		} else if (!*value && lo->has_arg == required_argument) {
			rc = err_set(e, ERR_USAGE, "%s line %d: '%s' needs a value", path, lineno, s);
		} else {
			rc = apply(o, lo->val, *value ? value : NULL, e);
			if (rc)
				err_prefix(e, "%s line %d", path, lineno);
		}
	}
	fclose(f);
	return rc;
}

void app_opts_defaults(struct app_opts *o)
{
	memset(o, 0, sizeof *o);
	o->temperature = o->top_p = o->min_p = -1;
	o->top_k = -1;
	o->mtp = 1;
	o->kv_type = ENG_KV_BF16; /* half of F32's memory for no visible change (docs/engine.md) */
	o->kv_cache_max = APP_KV_CACHE_MAX_DEFAULT;
}

int app_opts_set(struct app_opts *o, const char *name, const char *value, struct err *e)
{
	for (const struct option *lo = long_opts; lo->name; lo++)
		if (!strcmp(lo->name, name))
			return apply(o, lo->val, value, e);
	return err_set(e, ERR_USAGE, "unknown option --%s", name);
}

/* A local model and a remote server both answer questions: one of them is used. The
   command line beats the config file and the environment; two choices at the same level
   are an error. */
static int choose_model_or_remote(struct app_opts *o, bool config_model, bool config_remote,
				  bool cli_model, bool cli_remote, struct err *e)
{
	if (cli_model && cli_remote)
		return err_set(e, ERR_USAGE, "-m and --remote both choose what answers: use -m DIR "
			       "for a model on this machine or --remote URL for a server, not both");
	if (cli_model)
		o->remote[0] = '\0';
	else if (cli_remote)
		o->model[0] = '\0';
	else if (config_model && config_remote)
		return err_set(e, ERR_USAGE, "both a model (model in the config file, or "
			       "PONDER_MODEL) and a remote server ([remote] url in the config file) "
			       "are set: remove one, or choose with -m DIR or --remote URL");
	return 0;
}

int app_opts_parse(struct app_opts *o, int argc, char **argv, struct err *e)
{
	app_opts_defaults(o);
	int rc = read_config(o, e);
	if (rc)
		return rc;
	const char *env = getenv("PONDER_MODEL");
	if (env && *env && (rc = copy_str("model", env, o->model, sizeof o->model, e)))
		return rc;

	/* Only what the command line asks for is worth a note under --remote. */
	o->local_only[0] = '\0';
	bool config_model = o->model[0], config_remote = o->remote[0];
	bool cli_model = false, cli_remote = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:p:ct:h", long_opts, NULL)) != -1) {
		if (c == '?')
			return err_set(e, ERR_USAGE, "unknown option '%s'; see ponder --help",
				       argv[optind - 1]);
		if (c == ':')
			return err_set(e, ERR_USAGE, "option '%s' needs a value", argv[optind - 1]);
		if (c == OPT_HELP) {
			app_opts_usage(stdout);
			return 1; /* not an error: the caller exits 0 */
		}
		if ((rc = apply(o, c, optarg, e)))
			return rc;
		cli_model |= c == OPT_MODEL;
		cli_remote |= c == OPT_REMOTE;
	}
	if ((rc = choose_model_or_remote(o, config_model, config_remote, cli_model, cli_remote,
					 e)))
		return rc;
	if (o->cid && o->continue_latest)
		return err_set(e, ERR_USAGE, "-c and --cid both choose a conversation; use one");
	/* Remaining words form the prompt, after any -p text. */
	size_t len = o->prompt ? strlen(o->prompt) : 0;
	for (int i = optind; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (optind < argc) {
		char *p = malloc(len + 1);
		if (!p)
			return err_set(e, ERR_NOMEM, "out of memory");
		p[0] = '\0';
		if (o->prompt)
			strcat(p, o->prompt);
		for (int i = optind; i < argc; i++) {
			if (*p)
				strcat(p, " ");
			strcat(p, argv[i]);
		}
		free(o->prompt);
		o->prompt = p;
	}
	return 0;
}

void app_opts_release(struct app_opts *o)
{
	free(o->prompt);
	free(o->system);
	o->prompt = o->system = NULL;
}

static bool is_model_dir(const char *dir)
{
	char p[4200];
	struct stat st;
	snprintf(p, sizeof p, "%s/config.json", dir);
	return stat(p, &st) == 0;
}

int app_demo_model_dir(char *buf, size_t size, struct err *e)
{
	/* In the source tree (bin/ponder next to models/demo), then the installed copy. */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, size, "%s/../models/demo", exe);
			if (is_model_dir(buf)) {
				/* Shown by info and the TUI: /src/ponder/models/demo, not bin/../. */
				char real[PATH_MAX];
				if (realpath(buf, real) && strlen(real) < size)
					strcpy(buf, real);
				return 0;
			}
		}
	}
	snprintf(buf, size, "%s/models/demo", PONDER_DATADIR);
	if (is_model_dir(buf))
		return 0;
	return err_set(e, ERR_IO, "no model given and the shipped demo model was not found "
		       "(looked next to the binary and in %s/models/demo); use -m DIR or set "
		       "PONDER_MODEL", PONDER_DATADIR);
}

int app_opts_model_dir(const struct app_opts *o, char *buf, size_t size, struct err *e)
{
	if (!o->model[0])
		return app_demo_model_dir(buf, size, e);
	if (strlen(o->model) >= size)
		return err_set(e, ERR_USAGE, "model path too long");
	strcpy(buf, o->model);
	return 0;
}

void app_opts_usage(FILE *f)
{
	fputs("usage: ponder [options] [PROMPT...]        chat (TUI on a terminal, else pipe mode)\n"
	      "       ponder COMMAND [options]            info, logits, tokenize, history, ...\n"
	      "\n"
	      "Without -m, ponder runs its shipped demo model: a small DeepSeek-V3-architecture\n"
	      "reasoner for arithmetic. Load a real checkpoint with -m DIR (a Hugging Face\n"
	      "DeepSeek-V2/V3/R1 folder: config.json, safetensors, tokenizer.json).\n"
	      "\n"
	      "model:     -m, --model DIR   -t, --threads N   --ctx N   --kernels NAME\n"
	      "           --mtp on|off (speculative decoding with the model's MTP module)\n"
	      "           --kv-type f32|bf16|fp8 (KV cache storage; default bf16)\n"
	      "           --head bf16|fp8 (output head as stored, or re-quantised: faster)\n"
	      "sampling:  --temperature T (R1 default 0.6)   --top-p P (0.95)   --top-k K\n"
	      "           --min-p P   --seed N   --max-tokens N   --think on|off\n"
	      "remote:    --remote URL (an OpenAI-compatible server: vLLM, SGLang, ponder serve)\n"
	      "           --remote-model NAME   --api-key-env VAR (the variable holding the key)\n"
	      "chat:      --system TEXT   -c, --continue   --cid ID   --no-save   --db PATH\n"
	      "           --kv-cache-max SIZE (KV snapshots that resume conversations; 4G)\n"
	      "           --no-kv-cache\n"
	      "output:    -p, --prompt TEXT   --reasoning[=stderr|inline|hide]   --json\n"
	      "           --jsonl   --batch   --theme NAME   --ascii   --verbose\n"
	      "\n"
	      "Settings can live in $XDG_CONFIG_HOME/ponder/config as `key = value` lines.\n"
	      "See man ponder for every option, exit status and example.\n", f);
}
