/*
 * gen_config.h — a model's own sampling defaults: the generation_config.json that
 * Hugging Face checkpoints publish next to config.json (DeepSeek-R1: temperature 0.6,
 * top_p 0.95). They sit between the built-in defaults and the user's settings:
 * command line > config file > generation_config.json > built-in defaults.
 *
 * Keys read: do_sample (false: greedy, whatever temperature says), temperature, top_p,
 * top_k, min_p. Other keys (bos_token_id, ...) are ignored. A missing file sets nothing;
 * a value that is not a finite number in range is an error naming the file and key.
 */
#ifndef PONDER_APP_GEN_CONFIG_H
#define PONDER_APP_GEN_CONFIG_H

#include "common/err.h"

/* Negative: the file does not set it. */
struct app_gen_config {
	double temperature, top_p, min_p;
	int top_k;
};

/* Reads DIR/generation_config.json into g. ERR_MODEL when it cannot be read or holds a
   malformed or out-of-range value. */
int app_gen_config_read(const char *dir, struct app_gen_config *g, struct err *e);

#endif
