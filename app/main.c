/*
 * main.c — entry point: dispatches subcommands and maps errors to exit statuses.
 * The only place in ponder that exits.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/commands.h"
#include "app/options.h"
#include "app/pipe.h"
#include "app/signals.h"
#include "net/http_stream.h"
#include "ui/ui.h"

/* Exit statuses, documented in man/ponder.1. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_MODEL = 3,
	EXIT_CONTEXT = 4,
	EXIT_DATABASE = 5,
	EXIT_REMOTE = 6, /* --remote: the server could not be reached, refused or failed */
	EXIT_INTERRUPTED = 130, /* 128 + SIGINT; another signal gives 128 + its number */
};

static int exit_status(int code)
{
	switch (code) {
	case ERR_OK: return EXIT_OK;
	case ERR_USAGE: return EXIT_USAGE;
	case ERR_FORMAT:
	case ERR_UNSUPPORTED:
	case ERR_MODEL: return EXIT_MODEL;
	case ERR_CONTEXT: return EXIT_CONTEXT;
	case ERR_DB: return EXIT_DATABASE;
	case ERR_REMOTE: return EXIT_REMOTE;
	case ERR_INTERRUPTED:
		return app_signals_received() ? 128 + app_signals_received() : EXIT_INTERRUPTED;
	}
	return EXIT_FAILURE_OTHER;
}

/* `ponder [options] [PROMPT...]`: the TUI on a terminal, pipe mode otherwise. */
static int chat_main(int argc, char **argv)
{
	struct app_opts o;
	struct err e = {0};
	int rc = app_opts_parse(&o, argc, argv, &e);
	if (rc == 1) { /* --help */
		fputs("\ncommands:\n", stdout);
		for (const struct app_command *c = app_commands; c->name; c++)
			printf("  %-12s %s\n", c->name, c->summary);
		app_opts_release(&o);
		return EXIT_OK;
	}
	/* The interface needs a terminal on both sides and no prompt given; anything else is
	   pipe mode, so a redirected stdout never gets a screen of escape codes. */
	bool tui = !o.prompt && !o.batch && o.output == OUTPUT_TEXT && isatty(STDIN_FILENO) &&
		   isatty(STDOUT_FILENO);
	if (!rc && o.theme_set && o.theme[0])
		rc = ui_theme_check(o.theme, &e);
	if (!rc)
		rc = tui ? ui_run(&o, &e) : app_pipe_run(&o, &e);
	if (rc && rc != ERR_INTERRUPTED)
		fprintf(stderr, "ponder: %s\n", e.msg);
	else if (rc)
		fprintf(stderr, "\nponder: %s\n", e.msg);
	app_opts_release(&o);
	return exit_status(rc);
}

int main(int argc, char **argv)
{
	/* libcurl's global set-up is not thread-safe: here, before any thread starts. */
	struct err ge = {0};
	if (http_global_init(&ge)) {
		fprintf(stderr, "ponder: %s\n", ge.msg);
		return EXIT_FAILURE_OTHER;
	}
	if (argc >= 2 && argv[1][0] != '-') {
		for (const struct app_command *c = app_commands; c->name; c++) {
			if (strcmp(argv[1], c->name))
				continue;
			struct err e = {0};
			int rc = c->run(argc - 1, argv + 1, &e);
			if (rc)
				fprintf(stderr, "ponder %s: %s\n", c->name, e.msg);
			return exit_status(rc);
		}
	}
	return chat_main(argc, argv);
}
