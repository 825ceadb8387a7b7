/*
 * test_chat_export.c — the TUI's /export (app_chat_export): "~/name" is the user's home,
 * as in a shell, not a folder named "~" under the directory ponder was started in.
 *
 * Model: the shipped demo model, one short greedy reply, history in a temporary folder.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "app/chat.h"
#include "app/chat_api.h"

static char tmp[] = "/tmp/ponder-export-XXXXXX";

static void test_export_tilde_is_home(void)
{
	if (access("models/demo/model.safetensors", R_OK) || !mkdtemp(tmp)) {
		SKIP("the demo model is not in models/demo");
		return;
	}
	char db[256], home[256], want[300], cwd[4096], stray[4400];
	snprintf(db, sizeof db, "%s/history.db", tmp);
	snprintf(home, sizeof home, "%s/home", tmp);
	snprintf(want, sizeof want, "%s/conv.md", home);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	setenv("PONDER_DB", db, 1);
	setenv("XDG_CONFIG_HOME", tmp, 1);
	char *argv[] = {"ponder", "-m", "models/demo", "-t", "1", "--max-tokens", "8", NULL};
	struct app_opts o;
	struct err e = {0};
	struct app_chat *c = NULL;
	if (app_opts_parse(&o, 7, argv, &e) || app_chat_open(&c, &o, &e)) {
		CHECK(0, "opening the demo chat: %s", e.msg);
		return;
	}
	struct gen_stats st = {0};
	CHECK(app_chat_send(c, "What is 1 + 1?", 14, NULL, NULL, &st, &e) == 0, "%s", e.msg);
	char written[4096] = "";
	CHECK(app_chat_export(c, "~/conv.md", false, written, sizeof written, &e) == 0, "%s",
	      e.msg);
	CHECK(access(want, R_OK) == 0, "%s was not written", want);
	char *real_want = realpath(want, NULL);
	CHECK(real_want && !strcmp(written, real_want), "reported %s, wrote %s", written,
	      real_want ? real_want : want);
	free(real_want);
	snprintf(stray, sizeof stray, "%s/~", getcwd(cwd, sizeof cwd) ? cwd : ".");
	CHECK(access(stray, F_OK) != 0, "a folder named ~ appeared in %s", cwd);
	app_chat_close(c);
	app_opts_release(&o);
	unlink(want);
	rmdir(home);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	CHECK(system(cmd) == 0, "cleaning %s", tmp);
}

int main(void)
{
	RUN(test_export_tilde_is_home);
	return check_finish();
}
