/*
 * fuzz_config_file.c — libFuzzer harness for the config file parser in app/options.c
 * ($XDG_CONFIG_HOME/ponder/config, `key = value` lines).
 *
 * The parser only reads that file, so the harness points XDG_CONFIG_HOME at a private
 * temporary folder once and writes each input there, then runs app_opts_parse with no
 * arguments. An error must be ERR_USAGE-like (negative) with a message naming the
 * config file; on success every string option must stay NUL-terminated and the
 * sampling numbers in range.
 *
 *   make fuzz && build/fuzz/fuzz_config_file -max_total_time=180 tools/fuzz/corpus/config_file
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[128];

static void cleanup(void)
{
	char sub[96];
	unlink(path);
	snprintf(sub, sizeof sub, "%s/ponder", dir);
	rmdir(sub);
	rmdir(dir);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/fuzz_cfg.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	char sub[96];
	snprintf(sub, sizeof sub, "%s/ponder", dir);
	if (mkdir(sub, 0700))
		abort();
	snprintf(path, sizeof path, "%s/config", sub);
	setenv("XDG_CONFIG_HOME", dir, 1);
	unsetenv("PONDER_MODEL");
	unsetenv("PONDER_DB");
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		setup();
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	char arg0[] = "ponder";
	char *argv[] = {arg0, NULL};
	struct app_opts o;
	struct err e = {0};
	int rc = app_opts_parse(&o, 1, argv, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0] || !strstr(e.msg, "config"))
			__builtin_trap();
	} else {
		if (!memchr(o.model, 0, sizeof o.model) || !memchr(o.db, 0, sizeof o.db) ||
		    !memchr(o.kernels, 0, sizeof o.kernels) || !memchr(o.theme, 0, sizeof o.theme))
			__builtin_trap();
		if (o.top_p > 1 || o.min_p > 1 || o.top_k < 0 || o.threads < 0 || o.ctx < 0 ||
		    o.max_tokens < 0 || o.prompt)
			__builtin_trap();
	}
	app_opts_release(&o);
	return 0;
}
