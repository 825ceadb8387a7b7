/*
 * pipe.h — ponder as a Unix filter: the prompt from the command line and/or stdin, the
 * answer on stdout, optional reasoning on stderr or inline, JSON and JSON-lines output,
 * batch prompts, and exit statuses scripts can rely on.
 */
#ifndef PONDER_APP_PIPE_H
#define PONDER_APP_PIPE_H

#include "app/options.h"

/* Runs pipe mode; returns 0 or an ERR_* code with e filled (ERR_INTERRUPTED after
   SIGINT, with the partial answer stored). */
int app_pipe_run(const struct app_opts *o, struct err *e);

#endif
