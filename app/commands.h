/*
 * commands.h — the subcommand table of the ponder binary (`ponder info`, `ponder
 * logits`, ...). Each command parses its own arguments (argv[0] is its name) and
 * returns 0 or a negative err code with `e` filled; app/main.c prints the message and
 * maps the code to an exit status.
 */
#ifndef PONDER_APP_COMMANDS_H
#define PONDER_APP_COMMANDS_H

#include "common/err.h"

struct app_command {
	const char *name;
	const char *summary; /* one line for --help */
	int (*run)(int argc, char **argv, struct err *e);
};

/* Terminated by an entry with name == NULL. */
extern const struct app_command app_commands[];

int app_cmd_bench(int argc, char **argv, struct err *e);
int app_cmd_convert(int argc, char **argv, struct err *e);
int app_cmd_detokenize(int argc, char **argv, struct err *e);
int app_cmd_history(int argc, char **argv, struct err *e);
int app_cmd_info(int argc, char **argv, struct err *e);
int app_cmd_kv(int argc, char **argv, struct err *e);
int app_cmd_logits(int argc, char **argv, struct err *e);
int app_cmd_serve(int argc, char **argv, struct err *e);
int app_cmd_tokenize(int argc, char **argv, struct err *e);

#endif
