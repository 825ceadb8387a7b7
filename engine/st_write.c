/*
 * st_write.c — one .safetensors file written as a stream (see st_write.h).
 *
 * The header is built with jansson and dumped compact with sorted keys; tensor data
 * lies in the order the caller listed the tensors, so the offsets are running sums.
 * Each tensor has a cursor: st_writer_put fills them in order, st_writer_put_tensor the
 * one named, and both write with pwrite at the cursor's place in the file, so tensors
 * may be filled in any order. Writes go straight to the file descriptor (the callers
 * hand over large chunks), are retried after EINTR and after short writes, and fail
 * with the errno of the write that failed: ENOSPC for a full disk, EFBIG for a
 * file-size limit.
 */
#include "engine/st_write.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct st_writer {
	int fd;
	char *path;
	uint64_t data_start;  /* file offset of the data area */
	size_t n;
	uint64_t *off, *size; /* [n]: each tensor's place in the data area */
	uint64_t *done;       /* [n]: bytes of it written so far */
	size_t cur;           /* st_writer_put's tensor: the first not yet full */
};

int st_wtensor_bytes(const struct st_wtensor *t, uint64_t *out, struct err *e)
{
	size_t es = st_dtype_size(t->dtype);
	if (!es || t->ndim < 1 || t->ndim > ST_MAX_DIMS)
		return err_set(e, ERR_USAGE, "tensor \"%s\": bad dtype or %d dimensions", t->name,
			       t->ndim);
	uint64_t n = es;
	for (int i = 0; i < t->ndim; i++)
		if (__builtin_mul_overflow(n, t->shape[i], &n))
			return err_set(e, ERR_RANGE, "tensor \"%s\": byte size overflows 64 bits",
				       t->name);
	*out = n;
	return 0;
}

/* The header text for t[0..n), NUL-terminated; *len without the padding, *padded with. */
static int header_text(const struct st_wtensor *t, size_t n, char **text, size_t *len,
		       size_t *padded, uint64_t *data, uint64_t *offs, struct err *e)
{
	json_t *hdr = json_object();
	int rc = 0;
	uint64_t off = 0;
	if (!hdr || json_object_set_new(hdr, "__metadata__", json_pack("{s:s}", "format", "pt"))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t b, end;
		if ((rc = st_wtensor_bytes(&t[i], &b, e)))
			goto out;
		if (__builtin_add_overflow(off, b, &end) || end > INT64_MAX) {
			rc = err_set(e, ERR_RANGE, "tensor \"%s\": the file would pass 2^63 bytes",
				     t[i].name);
			goto out;
		}
		if (!strcmp(t[i].name, "__metadata__") || json_object_get(hdr, t[i].name)) {
			rc = err_set(e, ERR_USAGE, "tensor \"%s\" is named twice or reserved",
				     t[i].name);
			goto out;
		}
		json_t *shape = json_array();
		for (int k = 0; shape && k < t[i].ndim; k++)
			if (t[i].shape[k] > INT64_MAX ||
			    json_array_append_new(shape, json_integer((json_int_t)t[i].shape[k]))) {
				json_decref(shape);
				shape = NULL;
			}
		json_t *ent = shape ? json_pack("{s:s,s:o,s:[I,I]}", "dtype",
						st_dtype_name(t[i].dtype), "shape", shape,
						"data_offsets", (json_int_t)off, (json_int_t)end)
				    : NULL;
		if (!ent || json_object_set_new(hdr, t[i].name, ent)) {
			rc = err_set(e, ERR_NOMEM, "out of memory for tensor \"%s\"", t[i].name);
			goto out;
		}
		if (offs)
			offs[i] = off;
		off = end;
	}
	*text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
	if (!*text) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	*len = strlen(*text);
	*padded = (*len + 7) / 8 * 8;
	*data = off;
	if (*padded > ST_MAX_HEADER) {
		free(*text);
		*text = NULL;
		rc = err_set(e, ERR_RANGE, "a header of %zu bytes is more than a reader takes (%u): "
			     "split the tensors over more files", *padded, ST_MAX_HEADER);
	}
out:
	json_decref(hdr);
	return rc;
}

int st_file_bytes(const struct st_wtensor *t, size_t n, uint64_t *out, struct err *e)
{
	char *text;
	size_t len, padded;
	uint64_t data;
	int rc = header_text(t, n, &text, &len, &padded, &data, NULL, e);
	if (rc)
		return rc;
	free(text);
	*out = 8 + padded + data; /* data <= 2^63, padded <= 100 MB: no overflow */
	return 0;
}

/* All of buf[0, len) at file offset `at`, or the errno of the write that failed. */
static int pwrite_all(int fd, const void *buf, size_t len, uint64_t at)
{
	const char *p = buf;
	while (len) {
		if (at > INT64_MAX)
			return EFBIG;
		ssize_t k = pwrite(fd, p, len, (off_t)at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return errno;
		if (k == 0)
			return EIO;
		p += k;
		at += (uint64_t)k;
		len -= (size_t)k;
	}
	return 0;
}

int st_writer_open(const char *path, const struct st_wtensor *t, size_t n,
		   struct st_writer **out, struct err *e)
{
	*out = NULL;
	char *text = NULL, *buf = NULL;
	size_t len, padded;
	uint64_t data;
	int rc;
	struct st_writer *w = calloc(1, sizeof *w);
	if (w)
		w->fd = -1;
	if (!w || !(w->path = strdup(path)) || !(w->off = calloc(n + 1, sizeof *w->off)) ||
	    !(w->size = calloc(n + 1, sizeof *w->size)) ||
	    !(w->done = calloc(n + 1, sizeof *w->done))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	w->n = n;
	if ((rc = header_text(t, n, &text, &len, &padded, &data, w->off, e))) {
		err_prefix(e, "%s", path);
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		w->size[i] = (i + 1 < n ? w->off[i + 1] : data) - w->off[i];
	w->data_start = 8 + padded;
	if (!(buf = malloc(8 + padded))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto fail;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = err_set(e, ERR_IO, "cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (char)((uint64_t)padded >> (8 * i));
	memcpy(buf + 8, text, len);
	memset(buf + 8 + len, ' ', padded - len);
	int err = pwrite_all(w->fd, buf, 8 + padded, 0);
	if (err) {
		rc = err_set(e, ERR_IO, "writing %s failed: %s", path, strerror(err));
		goto fail;
	}
	free(buf);
	free(text);
	*out = w;
	return 0;
fail:
	free(buf);
	free(text);
	st_writer_abort(w);
	return rc;
}

int st_writer_put_tensor(struct st_writer *w, size_t i, const void *data, size_t len,
			 struct err *e)
{
	if (i >= w->n || len > w->size[i] - w->done[i])
		return err_set(e, ERR_USAGE, "%s: more bytes than its header declares for tensor "
			       "%zu", w->path, i);
	int err = pwrite_all(w->fd, data, len, w->data_start + w->off[i] + w->done[i]);
	if (err)
		return err_set(e, ERR_IO, "writing %s failed: %s", w->path, strerror(err));
	w->done[i] += len;
	return 0;
}

int st_writer_put(struct st_writer *w, const void *data, size_t len, struct err *e)
{
	const char *p = data;
	while (len) {
		while (w->cur < w->n && w->done[w->cur] == w->size[w->cur])
			w->cur++;
		if (w->cur == w->n)
			return err_set(e, ERR_USAGE, "%s: %zu bytes more than its header declares",
				       w->path, len);
		uint64_t room = w->size[w->cur] - w->done[w->cur];
		size_t k = len < room ? len : (size_t)room;
		int rc = st_writer_put_tensor(w, w->cur, p, k, e);
		if (rc)
			return rc;
		p += k;
		len -= k;
	}
	return 0;
}

int st_writer_close(struct st_writer *w, struct err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < w->n; i++)
		if (w->done[i] != w->size[i])
			rc = err_set(e, ERR_USAGE, "%s: tensor %zu has %llu of its %llu bytes", w->path,
				     i, (unsigned long long)w->done[i],
				     (unsigned long long)w->size[i]);
	int fd = w->fd;
	w->fd = -1;
	if (close(fd) && !rc)
		rc = err_set(e, ERR_IO, "writing %s failed: %s", w->path, strerror(errno));
	st_writer_abort(w);
	return rc;
}

void st_writer_abort(struct st_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w->path);
	free(w->off);
	free(w->size);
	free(w->done);
	free(w);
}

void st_shard_name(char *buf, size_t cap, size_t s, size_t n)
{
	snprintf(buf, cap, "model-%05zu-of-%05zu.safetensors", s + 1, n);
}
