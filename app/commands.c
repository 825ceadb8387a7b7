/* commands.c — the subcommand table (see commands.h). Keep it sorted by name. */
#include "app/commands.h"

#include <stddef.h>

const struct app_command app_commands[] = {
	{"info", "describe a model: architecture, sizes, parameters, KV-cache bytes", app_cmd_info},
	{"logits", "print raw logits for token ids as JSON (conformance debugging)", app_cmd_logits},
	{NULL, NULL, NULL},
};
