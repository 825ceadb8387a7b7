/*
 * slash.h — slash commands typed in the input line: parsing (pure, tested) and the
 * names the help screen lists. ui.c carries them out.
 *
 *   /new                      new conversation
 *   /open ID                  open conversation ID
 *   /export md|json [PATH]    write the conversation (default ./ponder-ID.md|json)
 *   /set KEY VALUE            temperature, top_p, top_k, min_p, seed, max_tokens
 *   /think on|off             reasoning on or off (R1 templates)
 *   /mtp off|N                MTP speculative decoding off, or on with N drafts
 *   /theme NAME               switch theme
 *   /info                     model, context, sampling, history file
 *   /help                     help screen
 *   /quit                     quit
 *
 * A line starting with "//" is a question starting with "/" (one slash removed).
 */
#ifndef PONDER_UI_SLASH_H
#define PONDER_UI_SLASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum ui_cmd {
	UI_CMD_NEW = 1,
	UI_CMD_OPEN,
	UI_CMD_EXPORT,
	UI_CMD_SET,
	UI_CMD_THINK,
	UI_CMD_MTP,
	UI_CMD_THEME,
	UI_CMD_INFO,
	UI_CMD_HELP,
	UI_CMD_QUIT,
};

enum ui_set_key {
	UI_SET_TEMPERATURE,
	UI_SET_TOP_P,
	UI_SET_TOP_K,
	UI_SET_MIN_P,
	UI_SET_SEED,
	UI_SET_MAX_TOKENS,
};

struct ui_slash {
	enum ui_cmd cmd;
	int64_t id;            /* /open */
	bool json;             /* /export json */
	char path[1024];       /* /export PATH, "" for the default */
	enum ui_set_key key;   /* /set */
	double value;          /* /set (integers are whole) */
	bool on;               /* /think */
	int mtp;               /* /mtp: 0 off, else drafts */
	char name[256];        /* /theme */
};

/* The canonical name of a /set key ("temperature", "top_p", ...). */
const char *ui_set_key_name(enum ui_set_key k);

/*
 * 1 with *out filled when line[0..len) is a command; 0 when it is a question (it does
 * not start with '/', or starts with "//"); ERR_USAGE with a message saying what to
 * type when it is a malformed or unknown command.
 */
int ui_slash_parse(const char *line, size_t len, struct ui_slash *out, struct err *e);

#endif
