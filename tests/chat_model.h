/*
 * chat_model.h — for tests that chat: a model folder assembled in a fresh temporary
 * directory from the tiny-v3 fixture's weights (random, vocab 512) and the shipped demo
 * model's tokenizer (also 512 ids), and a capture of the reply's text. Its text is
 * gibberish; what is checked is the machinery. Header-only (static), as tests/rng.h.
 */
#ifndef PONDER_TESTS_CHAT_MODEL_H
#define PONDER_TESTS_CHAT_MODEL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/channels.h"

/* dir: a mkdtemp template, filled in. False (SKIP) without the fixtures or the demo
   tokenizer (run from the project root). */
static inline bool chat_model_make(char *dir)
{
	const char *fx = check_fixtures();
	if (!fx || access("models/demo/tokenizer.json", R_OK) || !mkdtemp(dir))
		return false;
	const char *files[] = {"config.json", "model.safetensors.index.json",
			       "model-00001-of-00002.safetensors",
			       "model-00002-of-00002.safetensors", "tokenizer.json",
			       "tokenizer_config.json"};
	char a[1024], b[1024];
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		if (i < 4)
			snprintf(a, sizeof a, "%s/models/tiny-v3/%s", fx, files[i]);
		else
			snprintf(a, sizeof a, "models/demo/%s", files[i]);
		snprintf(b, sizeof b, "%s/%s", dir, files[i]);
		if (check_copy_file(a, b))
			return false;
	}
	return true;
}

/* A reply's text by channel, as eng_chat's emit gives it. */
struct capture {
	char text[2][1 << 15];
	size_t len[2];
	int stop_after; /* pieces before asking to stop; < 0: never */
};

static inline int capture_emit(void *ud, int channel, const char *utf8, size_t len)
{
	struct capture *c = ud;
	int k = channel == CH_REASONING ? 0 : 1;
	if (c->len[k] + len < sizeof c->text[k]) {
		memcpy(c->text[k] + c->len[k], utf8, len);
		c->len[k] += len;
	}
	return c->stop_after >= 0 && --c->stop_after < 0;
}

#endif
