/*
 * out_dir.c — a new checkpoint's folder, removed again on failure (see out_dir.h).
 *
 * Removal uses the folder's file descriptor (unlinkat), so it removes the files of this
 * folder even if the path was renamed meanwhile; names are only ever plain file names.
 * A JSON file is written as ".<name>.tmp" (recorded too) and renamed into place, its
 * reals with the fewest digits that read back exactly (as Python's json writes them).
 */
#include "engine/out_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct out_dir {
	char *path;
	int fd;         /* the folder, O_DIRECTORY */
	bool made;      /* this run created it */
	bool committed;
	char **names;   /* files this run may have created */
	size_t n, cap;
};

static int is_empty(const char *path, bool *empty, struct err *e)
{
	DIR *d = opendir(path);
	if (!d)
		return err_set(e, ERR_IO, "cannot read %s: %s", path, strerror(errno));
	*empty = true;
	for (struct dirent *de; *empty && (de = readdir(d));)
		*empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return 0;
}

/* All of buf[0, len), or the errno of the write that failed. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t k = write(fd, buf, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		buf += k;
		len -= (size_t)k;
	}
	return 0;
}

int out_dir_open(const char *path, struct out_dir **out, struct err *e)
{
	*out = NULL;
	if (!path || !*path)
		return err_set(e, ERR_USAGE, "no output folder given");
	struct stat st;
	bool made = false;
	if (stat(path, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return err_set(e, ERR_USAGE, "%s exists and is not a folder: name a new or "
				       "empty folder for the output", path);
		bool empty = false;
		int rc = is_empty(path, &empty, e);
		if (rc)
			return rc;
		if (!empty)
			return err_set(e, ERR_USAGE, "%s is not empty: name a new or empty folder "
				       "for the output (nothing is ever overwritten)", path);
	} else if (errno != ENOENT) {
		return err_set(e, ERR_IO, "%s: %s", path, strerror(errno));
	} else if (mkdir(path, 0755) != 0) {
		return err_set(e, ERR_IO, "cannot create the folder %s: %s%s", path, strerror(errno),
			       errno == ENOENT ? " (its parent folder must exist)" : "");
	} else {
		made = true;
	}
	struct out_dir *d = calloc(1, sizeof *d);
	if (d)
		d->fd = -1;
	if (!d || !(d->path = strdup(path))) {
		free(d);
		if (made)
			rmdir(path);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	d->made = made;
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->fd < 0) {
		int rc = err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
		out_dir_close(d);
		return rc;
	}
	*out = d;
	return 0;
}

static int record(struct out_dir *d, const char *name, struct err *e)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->names[i], name))
			return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 16;
		char **v = realloc(d->names, cap * sizeof *v);
		if (!v)
			return err_set(e, ERR_NOMEM, "out of memory");
		d->names = v;
		d->cap = cap;
	}
	if (!(d->names[d->n] = strdup(name)))
		return err_set(e, ERR_NOMEM, "out of memory");
	d->n++;
	return 0;
}

int out_dir_path(struct out_dir *d, const char *name, char *buf, size_t cap, struct err *e)
{
	if (!*name || strchr(name, '/'))
		return err_set(e, ERR_USAGE, "\"%s\" is not a plain file name", name);
	int k = snprintf(buf, cap, "%s/%s", d->path, name);
	if (k < 0 || (size_t)k >= cap)
		return err_set(e, ERR_RANGE, "%s/%s: path too long", d->path, name);
	return record(d, name, e);
}

int out_dir_check_space(const struct out_dir *d, uint64_t need, struct err *e)
{
	struct statvfs sv;
	if (fstatvfs(d->fd, &sv) != 0 || sv.f_blocks == 0 || sv.f_frsize == 0)
		return 0;
	uint64_t avail;
	if (__builtin_mul_overflow((uint64_t)sv.f_bavail, (uint64_t)sv.f_frsize, &avail))
		return 0;
	if (avail >= need)
		return 0;
	return err_set(e, ERR_IO, "%s: the output needs %.2f GiB but its file system has %.2f GiB "
		       "free: make room or name a folder on another disk", d->path,
		       (double)need / (1 << 30), (double)avail / (1 << 30));
}

int out_dir_copy(struct out_dir *d, const char *from, const char *name, struct err *e)
{
	char to[PATH_MAX];
	int rc = out_dir_path(d, name, to, sizeof to, e);
	if (rc)
		return rc;
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return err_set(e, ERR_IO, "cannot read %s: %s", from, strerror(errno));
	struct stat st;
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return err_set(e, ERR_IO, "%s is not a regular file", from);
	}
	int o = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (o < 0) {
		rc = err_set(e, ERR_IO, "cannot create %s: %s", to, strerror(errno));
		close(in);
		return rc;
	}
	char buf[1 << 16];
	for (;;) {
		ssize_t k = read(in, buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = err_set(e, ERR_IO, "reading %s failed: %s", from, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		int err = write_all(o, buf, (size_t)k);
		if (err) {
			rc = err_set(e, ERR_IO, "writing %s failed: %s", to, strerror(err));
			break;
		}
	}
	close(in);
	if (close(o) != 0 && !rc)
		rc = err_set(e, ERR_IO, "writing %s failed: %s", to, strerror(errno));
	return rc;
}

/* The fewest significant digits that write every real in v back exactly (at most 17):
   printed with that many, 0.707 stays "0.707" instead of becoming 0.70699999999999996,
   since %g drops trailing zeros. */
static int real_precision(const json_t *v)
{
	int p = 1;
	if (json_is_real(v)) {
		double x = json_real_value(v);
		char buf[40];
		/* a whole number keeps all its digits: 10000.0, not 1e4 */
		for (double a = fabs(x); a >= 10 && a < 1e16 && a == floor(a) && p < 17; a /= 10)
			p++;
		for (; p < 17; p++) {
			snprintf(buf, sizeof buf, "%.*g", p, x);
			if (strtod(buf, NULL) == x)
				break;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *x;
		json_object_foreach((json_t *)v, k, x) {
			int q = real_precision(x);
			p = q > p ? q : p;
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			int q = real_precision(json_array_get(v, i));
			p = q > p ? q : p;
		}
	}
	return p;
}

int out_dir_put_json(struct out_dir *d, const char *name, const struct json_t *json,
		     struct err *e)
{
	char tmp_name[NAME_MAX + 1], tmp[PATH_MAX], to[PATH_MAX];
	int k = snprintf(tmp_name, sizeof tmp_name, ".%s.tmp", name);
	if (k < 0 || (size_t)k >= sizeof tmp_name)
		return err_set(e, ERR_RANGE, "%s: name too long", name);
	int rc = out_dir_path(d, tmp_name, tmp, sizeof tmp, e);
	if (!rc)
		rc = out_dir_path(d, name, to, sizeof to, e);
	if (rc)
		return rc;
	char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
				JSON_REAL_PRECISION(real_precision(json)));
	size_t len = text ? strlen(text) : 0;
	char *t2 = text ? realloc(text, len + 2) : NULL;
	if (!t2) {
		free(text);
		return err_set(e, ERR_NOMEM, "out of memory writing %s", to);
	}
	text = t2;
	memcpy(text + len, "\n", 2); /* a final newline, as Python's writers leave */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(text);
		return err_set(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
	}
	int err = write_all(fd, text, len + 1);
	if (err)
		rc = err_set(e, ERR_IO, "writing %s failed: %s", tmp, strerror(err));
	free(text);
	if (close(fd) != 0 && !rc)
		rc = err_set(e, ERR_IO, "writing %s failed: %s", tmp, strerror(errno));
	if (!rc && rename(tmp, to) != 0)
		rc = err_set(e, ERR_IO, "cannot rename %s to %s: %s", tmp, to, strerror(errno));
	return rc;
}

void out_dir_commit(struct out_dir *d)
{
	if (d)
		d->committed = true;
}

void out_dir_close(struct out_dir *d)
{
	if (!d)
		return;
	if (!d->committed) {
		for (size_t i = 0; i < d->n; i++)
			if (d->fd >= 0)
				unlinkat(d->fd, d->names[i], 0);
		if (d->made)
			rmdir(d->path);
	}
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	if (d->fd >= 0)
		close(d->fd);
	free(d->path);
	free(d);
}
