/*
 * main.c — entry point: dispatches subcommands and maps errors to exit statuses.
 * The only place in ponder that exits.
 */
#include <stdio.h>
#include <string.h>

#include "app/commands.h"

/* Exit statuses, documented in man/ponder.1. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_MODEL = 3,
	EXIT_CONTEXT = 4,
	EXIT_DATABASE = 5,
	EXIT_INTERRUPTED = 130,
};

static int exit_status(int code)
{
	switch (code) {
	case ERR_OK: return EXIT_OK;
	case ERR_USAGE: return EXIT_USAGE;
	case ERR_FORMAT:
	case ERR_UNSUPPORTED: return EXIT_MODEL;
	case ERR_CONTEXT: return EXIT_CONTEXT;
	case ERR_DB: return EXIT_DATABASE;
	case ERR_INTERRUPTED: return EXIT_INTERRUPTED;
	}
	return EXIT_FAILURE_OTHER;
}

static void usage(FILE *f)
{
	fputs("usage: ponder COMMAND [options]\n\ncommands:\n", f);
	for (const struct app_command *c = app_commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fputs("\nponder COMMAND --help shows a command's options.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	for (const struct app_command *c = app_commands; c->name; c++) {
		if (strcmp(argv[1], c->name))
			continue;
		struct err e = {0};
		int rc = c->run(argc - 1, argv + 1, &e);
		if (rc)
			fprintf(stderr, "ponder %s: %s\n", c->name, e.msg);
		return exit_status(rc);
	}
	fprintf(stderr, "ponder: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
