/*
 * paths.c — XDG folders and the history file path (see paths.h).
 * Invariant: never changes the mode of a folder that already exists.
 */
#include "app/paths.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h == '/')
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir == '/' ? pw->pw_dir : NULL;
}

int app_mkdir_p(const char *path, mode_t mode, struct err *e)
{
	size_t n = strlen(path);
	if (!n)
		return err_set(e, ERR_USAGE, "empty folder path");
	char *p = malloc(n + 1);
	if (!p)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(p, path, n + 1);
	int rc = 0;
	/* Each prefix ending before a '/', then the whole path. */
	for (size_t i = 1; i <= n && !rc; i++) {
		if (i < n && p[i] != '/')
			continue;
		if (i < n && p[i - 1] == '/')
			continue; /* "//" */
		char keep = p[i];
		p[i] = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST) {
			rc = err_set(e, ERR_IO, "cannot create the folder %s: %s", p, strerror(errno));
		} else {
			struct stat st;
			if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
				rc = err_set(e, ERR_IO, "%s is in the way: it is not a folder", p);
		}
		p[i] = keep;
	}
	free(p);
	return rc;
}

int app_path_dir(enum app_dir which, int create, char *buf, size_t size, struct err *e)
{
	static const char *const var[] = {"XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME",
					  "XDG_CACHE_HOME"};
	static const char *const dflt[] = {".local/share", ".config", ".local/state", ".cache"};
	if ((unsigned)which > APP_DIR_CACHE)
		return err_set(e, ERR_USAGE, "unknown folder kind %d", (int)which);
	const char *x = getenv(var[which]);
	int n;
	if (x && *x == '/') {
		n = snprintf(buf, size, "%s/ponder", x);
	} else {
		const char *h = home_dir();
		if (!h)
			return err_set(e, ERR_IO,
				       "cannot find your home folder: set HOME (or %s)", var[which]);
		n = snprintf(buf, size, "%s/%s/ponder", h, dflt[which]);
		/* Folders are made inside the home folder, never the home folder itself: a HOME
		   that points nowhere (a typo, a removed user) must not grow a tree. */
		struct stat st;
		if (create && (stat(h, &st) != 0 || !S_ISDIR(st.st_mode)))
			return err_set(e, ERR_IO, "the home folder %s does not exist, and ponder does "
				       "not create it; set HOME to your home folder, set %s, or name "
				       "a file with --db", h, var[which]);
	}
	if (n < 0 || (size_t)n >= size)
		return err_set(e, ERR_RANGE, "the %s path is too long", var[which]);
	return create ? app_mkdir_p(buf, 0700, e) : 0;
}

int app_path_history_db(const char *override, int create, char *buf, size_t size,
			struct err *e)
{
	const char *p = override && *override ? override : getenv("PONDER_DB");
	if (p && *p) {
		int n = snprintf(buf, size, "%s", p);
		if (n < 0 || (size_t)n >= size)
			return err_set(e, ERR_RANGE, "the history path is too long");
		if (!create)
			return 0;
		char *slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return 0; /* current folder or / */
		*slash = '\0';
		int rc = app_mkdir_p(buf, 0700, e);
		*slash = '/';
		return rc;
	}
	int rc = app_path_dir(APP_DIR_DATA, create, buf, size, e);
	if (rc)
		return rc;
	size_t l = strlen(buf);
	if (l + sizeof "/history.db" > size)
		return err_set(e, ERR_RANGE, "the history path is too long");
	memcpy(buf + l, "/history.db", sizeof "/history.db");
	return 0;
}

int app_path_kv_dir(int create, char *buf, size_t size, struct err *e)
{
	char dir[4096];
	int rc = app_path_dir(APP_DIR_CACHE, create, dir, sizeof dir, e);
	if (rc)
		return rc;
	if ((size_t)snprintf(buf, size, "%s/kv", dir) >= size)
		return err_set(e, ERR_RANGE, "the KV snapshot folder's path is too long");
	return create ? app_mkdir_p(buf, 0700, e) : 0;
}
