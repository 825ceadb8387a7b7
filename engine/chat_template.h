/*
 * chat_template.h — DeepSeek V3 / R1 chat prompts, rendered natively (no Jinja).
 *
 * The layout, exactly as the Jinja templates in DeepSeek's tokenizer_config.json:
 *   BOS  system prompts joined by "\n\n"  then, per turn in order,
 *   user:       <｜User｜>text
 *   assistant:  <｜Assistant｜>text<｜end▁of▁sentence｜>
 *               (R1: only the text after the last "</think>" of a past answer)
 *   generation prompt (CHAT_GEN_PROMPT):
 *               V3: <｜Assistant｜>      R1: <｜Assistant｜><think>\n
 *               R1 with CHAT_THINK_OFF: <｜Assistant｜><think>\n\n</think>\n\n
 * System turns are gathered at the top wherever they appear, as the templates do.
 * Tool calls and tool outputs are not rendered (ponder has no tools).
 *
 * Injection rule: conversation text is never parsed for special tokens. Ids are built
 * piece by piece: each scaffolding marker (BOS, role markers, EOS, <think>, </think>)
 * that the tokenizer has as an added token becomes that id directly, and all the text
 * between two such markers (turn text and plain scaffolding like "\n\n" or "\n") is
 * encoded together with parse_special = false. For ordinary text this is identical to
 * encoding the whole rendered string with special tokens parsed, because BPE
 * pre-tokenization never crosses an added token; when a user writes "<｜User｜>" it
 * stays plain text.
 */
#ifndef PONDER_ENG_CHAT_TEMPLATE_H
#define PONDER_ENG_CHAT_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/tokenizer.h"
#include "common/err.h"

enum chat_role { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT };

struct chat_turn {
	enum chat_role role;
	const char *text; /* UTF-8, not necessarily NUL-terminated */
	size_t len;
};

enum chat_family {
	CHAT_DEEPSEEK_V3, /* past answers verbatim, no reasoning markers */
	CHAT_DEEPSEEK_R1, /* past answers keep only the text after the last </think> */
};

struct chat_template {
	enum chat_family family;
	bool opens_think;  /* R1: the generation prompt ends with "<think>\n" */
	bool unknown;      /* guessed: no template found, or not one ponder recognises */
	char warning[320]; /* non-empty: tell the user once (the app prints it) */
};

/* Render flags. */
enum {
	CHAT_GEN_PROMPT = 1, /* end with the opening of a new assistant turn */
	CHAT_THINK_OFF = 2,  /* R1: close the reasoning in the prompt (`--think off`) */
};

/* The built-in template of a family (opens_think = family is R1), no warning. */
void chat_template_default(enum chat_family family, struct chat_template *out);

/*
 * Classifies a Jinja chat_template string. DeepSeek templates are recognised by their
 * role markers <｜User｜> and <｜Assistant｜>; one that mentions </think> is the R1
 * family, and it opens the reasoning when it contains "<｜Assistant｜><think>" (the
 * generation prompt). Anything else falls back to V3 with unknown = true and a warning
 * naming `label`.
 */
void chat_template_classify(const char *jinja, size_t len, const char *label,
			    struct chat_template *out);

/*
 * From the text of a tokenizer_config.json. Its "chat_template" may be a string or
 * HF's list of {"name", "template"} (the one named "default", else the first). When
 * there is none: R1 if `tok` has <think> and </think> added tokens, else V3, with
 * unknown = true and a warning. tok may be NULL. Fails only on malformed JSON.
 */
int chat_template_from_config(const char *json, size_t len, const char *label,
			      const struct tok *tok, struct chat_template *out, struct err *e);

/*
 * From a tokenizer_config.json path (NULL or a missing file: guessed from tok as
 * above). When the file has no "chat_template", a chat_template.jinja next to it is
 * used if present. Fails on an unreadable or malformed file, naming it.
 */
int chat_template_detect(const char *config_path, const struct tok *tok,
			 struct chat_template *out, struct err *e);

/* The prompt as text (malloc'd, NUL-terminated; *len excludes the NUL). */
int chat_render_text(const struct chat_template *t, const struct chat_turn *turns, size_t n,
		     unsigned flags, char **out, size_t *len, struct err *e);

/* The prompt as token ids, appended to out (see the injection rule above). */
int chat_render_ids(const struct chat_template *t, const struct tok *tok,
		    const struct chat_turn *turns, size_t n, unsigned flags,
		    struct tok_ids *out, struct err *e);

/* Whether generation after this prompt starts inside the reasoning (chan_init). */
bool chat_starts_in_reasoning(const struct chat_template *t, unsigned flags);

const char *chat_family_name(enum chat_family family);

#endif
