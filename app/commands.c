/* commands.c — the subcommand table (see commands.h). Keep it sorted by name. */
#include "app/commands.h"

#include <stddef.h>

const struct app_command app_commands[] = {
	{"bench", "measure bandwidth, prefill and decode speed, bytes per token of a model", app_cmd_bench},
	{"convert", "write a BF16 checkpoint's matrices as FP8 e4m3 (DeepSeek's layout)", app_cmd_convert},
	{"detokenize", "decode token ids from stdin to text (tokenizer.json)", app_cmd_detokenize},
	{"history", "list, show, search, export, remove or rename saved conversations", app_cmd_history},
	{"info", "describe a model: architecture, sizes, parameters, KV-cache bytes", app_cmd_info},
	{"kv", "list, remove or clean up the KV snapshots that resume conversations", app_cmd_kv},
	{"logits", "print raw logits for token ids as JSON (conformance debugging)", app_cmd_logits},
	{"serve", "an OpenAI-compatible HTTP server for the model (/v1/chat/completions)", app_cmd_serve},
	{"tokenize", "encode stdin to token ids as JSON (tokenizer.json)", app_cmd_tokenize},
	{NULL, NULL, NULL},
};
