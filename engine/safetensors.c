/*
 * safetensors.c — mapping and validating one .safetensors file (see safetensors.h).
 *
 * A checkpoint file comes from the internet, so nothing in it is trusted: every length,
 * offset and shape is checked before a tensor is handed out, and every multiply on a
 * size from the file is overflow-checked. After st_parse succeeds these invariants hold:
 *   - every tensor's data lies inside the data area, and data + nbytes does not pass
 *     the end of the image;
 *   - nbytes == nelem * dtype size, nelem == product of shape, neither overflowed;
 *   - the tensors' byte ranges, sorted by offset, tile the data area exactly (no
 *     overlap, no gap, nothing after the last one), as every Hugging Face writer emits;
 *   - names are unique, non-empty C strings, found by st_find through a hash table.
 * The file is mapped read-only and MAP_PRIVATE; tensor data is never copied, so
 * opening a 700 GB checkpoint costs page tables, not RAM. The mapping starts on a 2 MiB
 * boundary and asks for huge pages (map_file): where the kernel keeps the file's page
 * cache in 2 MiB folios (ext4 and XFS on Linux 6.x read them in that size for such a
 * mapping), the weights are then mapped with one TLB entry per 2 MiB instead of 512,
 * which the decode loop's streams notice (docs/loading.md).
 */
#include "engine/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct st_file {
	char *path;           /* label used in messages */
	const uint8_t *image; /* the whole file */
	size_t image_len;
	bool mapped;          /* image is our mmap, unmapped by st_close */
	struct st_tensor *t;  /* sorted by data offset (file order) */
	size_t n;
	uint32_t *slots;      /* open-addressing hash: index+1 into t, 0 = empty */
	size_t nslots;        /* power of two, >= 2n */
};

struct dtype_info {
	const char *name;
	size_t size;
};

/* Indexed by enum st_dtype. */
static const struct dtype_info dtypes[] = {
	[ST_F32] = {"F32", 4},        [ST_BF16] = {"BF16", 2},   [ST_F16] = {"F16", 2},
	[ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F64] = {"F64", 8},    [ST_I64] = {"I64", 8},
	[ST_I32] = {"I32", 4},        [ST_I16] = {"I16", 2},     [ST_I8] = {"I8", 1},
	[ST_U8] = {"U8", 1},          [ST_BOOL] = {"BOOL", 1},   [ST_F8_E5M2] = {"F8_E5M2", 1},
};
#define N_DTYPES (sizeof dtypes / sizeof dtypes[0])

/* Dtypes the safetensors format defines that ponder has no use for: a clearer message
   than "unknown" for a legitimate file. */
static const char *const foreign_dtypes[] = {
	"U16", "U32", "U64", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64", NULL,
};

const char *st_dtype_name(enum st_dtype t)
{
	return (size_t)t < N_DTYPES ? dtypes[t].name : "?";
}

size_t st_dtype_size(enum st_dtype t)
{
	return (size_t)t < N_DTYPES ? dtypes[t].size : 0;
}

int st_dtype_to_kern(enum st_dtype t)
{
	switch (t) {
	case ST_F32: return KD_F32;
	case ST_BF16: return KD_BF16;
	case ST_F16: return KD_F16;
	case ST_F8_E4M3: return KD_F8_E4M3;
	default: return -1;
	}
}

/* FNV-1a: names are short ASCII paths; this spreads "model.layers.N.mlp.experts.M..."
   well enough and costs nothing to get right. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int build_index(struct st_file *f, struct err *e)
{
	size_t cap = 16;
	while (cap < f->n * 2) {
		if (cap > SIZE_MAX / 4)
			return err_set(e, ERR_NOMEM, "%s: too many tensors (%zu)", f->path, f->n);
		cap *= 2;
	}
	f->slots = calloc(cap, sizeof *f->slots);
	if (!f->slots)
		return err_set(e, ERR_NOMEM, "%s: out of memory for the tensor index", f->path);
	f->nslots = cap;
	for (size_t i = 0; i < f->n; i++) {
		size_t s = name_hash(f->t[i].name) & (cap - 1);
		while (f->slots[s]) {
			const char *other = f->t[f->slots[s] - 1].name;
			if (strcmp(other, f->t[i].name) == 0)
				return err_set(e, ERR_FORMAT, "%s: tensor \"%s\" appears twice",
					       f->path, other);
			s = (s + 1) & (cap - 1);
		}
		f->slots[s] = (uint32_t)(i + 1);
	}
	return 0;
}

const struct st_tensor *st_find(const struct st_file *f, const char *name)
{
	if (!f || !name || !f->nslots)
		return NULL;
	size_t s = name_hash(name) & (f->nslots - 1);
	while (f->slots[s]) {
		const struct st_tensor *t = &f->t[f->slots[s] - 1];
		if (strcmp(t->name, name) == 0)
			return t;
		s = (s + 1) & (f->nslots - 1);
	}
	return NULL;
}

size_t st_count(const struct st_file *f)
{
	return f ? f->n : 0;
}

const struct st_tensor *st_at(const struct st_file *f, size_t i)
{
	return f && i < f->n ? &f->t[i] : NULL;
}

const char *st_path(const struct st_file *f)
{
	return f ? f->path : NULL;
}

void st_close(struct st_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->t[i].name);
	free(f->t);
	free(f->slots);
	if (f->mapped && f->image_len)
		munmap((void *)f->image, f->image_len);
	free(f->path);
	free(f);
}

static int parse_dtype(const char *path, const char *tname, json_t *v, enum st_dtype *out,
		       struct err *e)
{
	if (!json_is_string(v))
		return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": \"dtype\" is not a string",
			       path, tname);
	const char *s = json_string_value(v);
	for (size_t i = 0; i < N_DTYPES; i++) {
		if (strcmp(s, dtypes[i].name) == 0) {
			*out = (enum st_dtype)i;
			return 0;
		}
	}
	for (size_t i = 0; foreign_dtypes[i]; i++)
		if (strcmp(s, foreign_dtypes[i]) == 0)
			return err_set(e, ERR_UNSUPPORTED,
				       "%s: tensor \"%s\": dtype %s is not supported by ponder",
				       path, tname, s);
	return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": unknown dtype \"%.64s\"", path, tname,
		       s);
}

/* A non-negative JSON integer, as uint64_t. */
static bool get_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static int parse_shape(const char *path, const char *tname, json_t *v, struct st_tensor *t,
		       struct err *e)
{
	if (!json_is_array(v))
		return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": \"shape\" is not an array", path,
			       tname);
	size_t nd = json_array_size(v);
	if (nd > ST_MAX_DIMS)
		return err_set(e, ERR_UNSUPPORTED,
			       "%s: tensor \"%s\": %zu dimensions, ponder handles at most %d",
			       path, tname, nd, ST_MAX_DIMS);
	uint64_t n = 1;
	for (size_t i = 0; i < nd; i++) {
		uint64_t d;
		if (!get_u64(json_array_get(v, i), &d))
			return err_set(e, ERR_FORMAT,
				       "%s: tensor \"%s\": shape[%zu] is not a non-negative integer",
				       path, tname, i);
		t->shape[i] = d;
		if (__builtin_mul_overflow(n, d, &n))
			return err_set(e, ERR_FORMAT,
				       "%s: tensor \"%s\": shape product overflows 64 bits", path,
				       tname);
	}
	t->ndim = (int)nd;
	t->nelem = n;
	return 0;
}

struct range {
	uint64_t begin, end;
	size_t idx;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Checks one tensor entry and fills t (its name is set by the caller). */
static int parse_entry(const char *path, const char *tname, json_t *obj, uint64_t data_len,
		       struct st_tensor *t, struct range *r, struct err *e)
{
	if (!json_is_object(obj))
		return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": entry is not a JSON object",
			       path, tname);
	json_t *dt = NULL, *shape = NULL, *offs = NULL;
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		if (strcmp(key, "dtype") == 0)
			dt = val;
		else if (strcmp(key, "shape") == 0)
			shape = val;
		else if (strcmp(key, "data_offsets") == 0)
			offs = val;
		else
			return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": unknown field \"%.64s\"",
				       path, tname, key);
	}
	if (!dt || !shape || !offs)
		return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": missing \"%s\"", path, tname,
			       !dt ? "dtype" : !shape ? "shape" : "data_offsets");
	int rc = parse_dtype(path, tname, dt, &t->dtype, e);
	if (rc)
		return rc;
	rc = parse_shape(path, tname, shape, t, e);
	if (rc)
		return rc;
	if (__builtin_mul_overflow(t->nelem, (uint64_t)st_dtype_size(t->dtype), &t->nbytes))
		return err_set(e, ERR_FORMAT, "%s: tensor \"%s\": byte size overflows 64 bits",
			       path, tname);

	uint64_t b, en;
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    !get_u64(json_array_get(offs, 0), &b) || !get_u64(json_array_get(offs, 1), &en))
		return err_set(e, ERR_FORMAT,
			       "%s: tensor \"%s\": \"data_offsets\" is not two non-negative integers",
			       path, tname);
	if (b > en)
		return err_set(e, ERR_FORMAT,
			       "%s: tensor \"%s\": data_offsets begin %llu is after end %llu", path,
			       tname, (unsigned long long)b, (unsigned long long)en);
	if (en > data_len)
		return err_set(e, ERR_FORMAT,
			       "%s: tensor \"%s\": data_offsets end %llu is past the end of the data "
			       "area (%llu bytes): the file is truncated or the offsets are wrong",
			       path, tname, (unsigned long long)en, (unsigned long long)data_len);
	if (en - b != t->nbytes)
		return err_set(e, ERR_FORMAT,
			       "%s: tensor \"%s\": %llu %s elements are %llu bytes, but "
			       "data_offsets span %llu",
			       path, tname, (unsigned long long)t->nelem, st_dtype_name(t->dtype),
			       (unsigned long long)t->nbytes, (unsigned long long)(en - b));
	r->begin = b;
	r->end = en;
	return 0;
}

static int check_metadata(const char *path, json_t *meta, struct err *e)
{
	if (!json_is_object(meta))
		return err_set(e, ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", path);
	const char *key;
	json_t *val;
	json_object_foreach(meta, key, val) {
		if (!json_is_string(val))
			return err_set(e, ERR_FORMAT,
				       "%s: \"__metadata__\" field \"%.64s\" is not a string", path,
				       key);
	}
	return 0;
}

/* The byte ranges, sorted, must tile [0, data_len): HF writers never leave holes, so a
   hole or an overlap means a damaged or crafted file. */
static int check_tiling(struct st_file *f, struct range *r, uint64_t data_len, struct err *e)
{
	qsort(r, f->n, sizeof *r, range_cmp);
	uint64_t at = 0;
	const char *prev = NULL;
	for (size_t i = 0; i < f->n; i++) {
		const char *name = f->t[r[i].idx].name;
		if (r[i].begin < at)
			return err_set(e, ERR_FORMAT,
				       "%s: tensor \"%s\" (bytes %llu..%llu) overlaps tensor \"%s\" "
				       "(ending at %llu)",
				       f->path, name, (unsigned long long)r[i].begin,
				       (unsigned long long)r[i].end, prev ? prev : "?",
				       (unsigned long long)at);
		if (r[i].begin > at)
			return err_set(e, ERR_FORMAT,
				       "%s: tensor \"%s\" starts at byte %llu, leaving a gap after "
				       "byte %llu%s%s%s",
				       f->path, name, (unsigned long long)r[i].begin,
				       (unsigned long long)at, prev ? " (end of \"" : "",
				       prev ? prev : "", prev ? "\")" : "");
		if (r[i].end > at) {
			at = r[i].end;
			prev = name;
		}
	}
	if (at != data_len)
		return err_set(e, ERR_FORMAT,
			       "%s: %llu bytes after the last tensor%s%s%s belong to no tensor",
			       f->path, (unsigned long long)(data_len - at),
			       prev ? " (\"" : "", prev ? prev : "", prev ? "\")" : "");
	return 0;
}

/* Reorders f->t to file order using the sorted ranges (whose idx point into f->t). */
static int order_by_offset(struct st_file *f, const struct range *r, struct err *e)
{
	struct st_tensor *t = malloc(f->n ? f->n * sizeof *t : 1);
	if (!t)
		return err_set(e, ERR_NOMEM, "%s: out of memory", f->path);
	for (size_t i = 0; i < f->n; i++)
		t[i] = f->t[r[i].idx];
	free(f->t);
	f->t = t;
	return 0;
}

/* Pulls the key out of jansson's "duplicate object key near '"KEY"'" text. */
static void duplicate_key(const char *text, char *out, size_t cap)
{
	const char *p = strstr(text, "near '\"");
	out[0] = '\0';
	if (!p)
		return;
	p += 7;
	size_t n = strcspn(p, "\"");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static int parse_header(struct st_file *f, const uint8_t *hdr, size_t hlen, uint64_t data_len,
			const uint8_t *data, struct err *e)
{
	json_error_t je;
	json_t *root = json_loadb((const char *)hdr, hlen, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (strstr(je.text, "duplicate object key")) {
			char key[256];
			duplicate_key(je.text, key, sizeof key);
			return err_set(e, ERR_FORMAT,
				       "%s: header names \"%s\" twice (duplicate tensor name or field)",
				       f->path, key);
		}
		return err_set(e, ERR_FORMAT,
			       "%s: header is not valid JSON (%s at byte %d): not a safetensors file?",
			       f->path, je.text, je.position);
	}
	int rc = 0;
	struct range *r = NULL;
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_FORMAT, "%s: header is JSON but not an object", f->path);
		goto out;
	}
	size_t cap = json_object_size(root);
	f->t = calloc(cap ? cap : 1, sizeof *f->t);
	r = calloc(cap ? cap : 1, sizeof *r);
	if (!f->t || !r) {
		rc = err_set(e, ERR_NOMEM, "%s: out of memory for %zu tensors", f->path, cap);
		goto out;
	}
	const char *key;
	json_t *val;
	json_object_foreach(root, key, val) {
		if (strcmp(key, "__metadata__") == 0) {
			rc = check_metadata(f->path, val, e);
			if (rc)
				goto out;
			continue;
		}
		if (!*key) {
			rc = err_set(e, ERR_FORMAT, "%s: a tensor has an empty name", f->path);
			goto out;
		}
		struct st_tensor *t = &f->t[f->n];
		rc = parse_entry(f->path, key, val, data_len, t, &r[f->n], e);
		if (rc)
			goto out;
		t->name = strdup(key);
		if (!t->name) {
			rc = err_set(e, ERR_NOMEM, "%s: out of memory", f->path);
			goto out;
		}
		t->data = data + r[f->n].begin;
		r[f->n].idx = f->n;
		f->n++;
	}
	rc = check_tiling(f, r, data_len, e);
	if (!rc)
		rc = order_by_offset(f, r, e);
	if (!rc)
		rc = build_index(f, e);
out:
	free(r);
	json_decref(root);
	return rc;
}

int st_parse(const void *buf, size_t len, const char *label, struct st_file **out,
	     struct err *e)
{
	*out = NULL;
	if (!label)
		label = "(memory)";
	if (!buf && len)
		return err_set(e, ERR_USAGE, "%s: no buffer", label);
	if (len == 0)
		return err_set(e, ERR_FORMAT, "%s: empty file, not a safetensors file", label);
	if (len < 8)
		return err_set(e, ERR_FORMAT,
			       "%s: %zu bytes, shorter than the 8-byte header length: not a "
			       "safetensors file",
			       label, len);
	const uint8_t *p = buf;
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | p[i];
	if (hlen > ST_MAX_HEADER)
		return err_set(e, ERR_FORMAT,
			       "%s: header length %llu is over the %u-byte limit: damaged or not a "
			       "safetensors file",
			       label, (unsigned long long)hlen, ST_MAX_HEADER);
	if (hlen > len - 8)
		return err_set(e, ERR_FORMAT,
			       "%s: header length %llu runs past the end of the file (%zu bytes): "
			       "truncated or not a safetensors file",
			       label, (unsigned long long)hlen, len);
	if (hlen < 2)
		return err_set(e, ERR_FORMAT, "%s: header of %llu bytes cannot be a JSON object",
			       label, (unsigned long long)hlen);

	struct st_file *f = calloc(1, sizeof *f);
	if (!f)
		return err_set(e, ERR_NOMEM, "%s: out of memory", label);
	f->path = strdup(label);
	if (!f->path) {
		free(f);
		return err_set(e, ERR_NOMEM, "%s: out of memory", label);
	}
	f->image = p;
	f->image_len = len;
	size_t start = 8 + (size_t)hlen;
	int rc = parse_header(f, p + 8, (size_t)hlen, len - start, p + start, e);
	if (rc) {
		st_close(f);
		return rc;
	}
	*out = f;
	return 0;
}

#define HUGE_ALIGN ((size_t)2 << 20)

/* fd's first len bytes, read-only, at a 2 MiB-aligned address with MADV_HUGEPAGE (a hint:
   fine to fail). A huge page can back a file mapping only where the address and the file
   offset agree modulo 2 MiB, hence the alignment: a PROT_NONE reservation one
   alignment longer, the file mapped over its aligned part, the two ends given back. */
static void *map_file(int fd, size_t len)
{
	if (len > SIZE_MAX - HUGE_ALIGN)
		return mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	uint8_t *r = mmap(NULL, len + HUGE_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	uint8_t *a = (uint8_t *)(((uintptr_t)r + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
	void *map = mmap(a, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
	if (map == MAP_FAILED) {
		int saved = errno;
		munmap(r, len + HUGE_ALIGN);
		errno = saved;
		return MAP_FAILED;
	}
	if (a > r)
		munmap(r, (size_t)(a - r));
	size_t page = (size_t)sysconf(_SC_PAGESIZE), end = ((size_t)(a - r) + len + page - 1) / page * page;
	if (end < len + HUGE_ALIGN)
		munmap(r + end, len + HUGE_ALIGN - end);
	(void)madvise(map, len, MADV_HUGEPAGE);
	return map;
}

int st_open(const char *path, struct st_file **out, struct err *e)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int rc = err_set(e, ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "%s: is a directory, not a .safetensors file", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, ERR_IO, "%s: not a regular file", path);
	}
	if (st.st_size == 0) {
		close(fd);
		return err_set(e, ERR_FORMAT, "%s: empty file, not a safetensors file", path);
	}
	if ((off_t)(size_t)st.st_size != st.st_size) {
		close(fd);
		return err_set(e, ERR_NOMEM, "%s: too large to map on this system", path);
	}
	size_t len = (size_t)st.st_size;
	void *map = map_file(fd, len);
	int saved = errno;
	close(fd);
	if (map == MAP_FAILED)
		return err_set(e, ERR_IO, "%s: cannot map %zu bytes: %s", path, len,
			       strerror(saved));
	struct st_file *f;
	int rc = st_parse(map, len, path, &f, e);
	if (rc) {
		munmap(map, len);
		return rc;
	}
	f->mapped = true;
	*out = f;
	return 0;
}
