/*
 * test_safetensors.c — engine/safetensors.c against hostile files and the real shards.
 *
 * Each bad input is its own test: the file is written into a fresh temp dir, opened
 * with st_open, and the test asserts the error code and that the message names the
 * file and, where there is one, the tensor. The fixture tests check real DeepSeek
 * shards: counts, shapes, dtypes, and that tensor data points into a read-only private
 * mapping of the file (never a copy).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/safetensors.h"
#include "tests/check.h"

static char tmpdir[64];
static char path[512];

/* Writes an 8-byte length (claimed, or the real header length when claimed < 0), the
   header text and `data` zero bytes to tmpdir/name; sets `path`. */
static void write_st(const char *name, const char *header, long long claimed, size_t data)
{
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(2);
	}
	uint64_t n = claimed < 0 ? strlen(header) : (uint64_t)claimed;
	unsigned char len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)(n >> (8 * i));
	fwrite(len, 1, 8, f);
	fwrite(header, 1, strlen(header), f);
	for (size_t i = 0; i < data; i++)
		fputc(i & 0xff, f);
	fclose(f);
}

/* Opens `path`; checks the code and that the message names the file and `needle`. */
static void expect_fail(int want, const char *needle)
{
	struct st_file *f = NULL;
	struct err e = {0};
	int rc = st_open(path, &f, &e);
	CHECK(rc == want, "rc %d (%s), want %d; message: %s", rc, err_code_name(rc), want, e.msg);
	CHECK(f == NULL, "no file on failure");
	CHECK(e.code == rc, "err code %d matches rc %d", e.code, rc);
	CHECK(strstr(e.msg, path) != NULL, "message names the file: %s", e.msg);
	if (needle)
		CHECK(strstr(e.msg, needle) != NULL, "message names \"%s\": %s", needle, e.msg);
	st_close(f);
}

static void test_valid_small(void)
{
	write_st("ok.safetensors",
		 "{\"__metadata__\":{\"format\":\"pt\"},"
		 "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
		 "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
		 "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[32,36]},"
		 "\"z\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[36,36]}}  ",
		 -1, 36);
	struct st_file *f;
	struct err e = {0};
	int rc = st_open(path, &f, &e);
	CHECK(rc == 0, "open: %s", e.msg);
	if (rc)
		return;
	CHECK(st_count(f) == 4, "count %zu", st_count(f));
	CHECK(strcmp(st_path(f), path) == 0, "path %s", st_path(f));
	const struct st_tensor *a = st_find(f, "a"), *b = st_find(f, "b"), *s = st_find(f, "s");
	const struct st_tensor *z = st_find(f, "z");
	CHECK(a && b && s && z, "all found");
	CHECK(st_find(f, "c") == NULL, "absent name");
	CHECK(st_find(f, "") == NULL, "empty name");
	if (a && b && s && z) {
		CHECK(a->dtype == ST_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3,
		      "a shape");
		CHECK(a->nelem == 6 && a->nbytes == 24, "a sizes %llu %llu",
		      (unsigned long long)a->nelem, (unsigned long long)a->nbytes);
		CHECK(b->dtype == ST_BF16 && b->nbytes == 8, "b");
		CHECK((const char *)b->data - (const char *)a->data == 24, "b 24 bytes after a");
		CHECK(s->ndim == 0 && s->nelem == 1 && s->nbytes == 4, "scalar");
		CHECK(z->nelem == 0 && z->nbytes == 0, "empty tensor");
		/* the data bytes are i & 0xff, so byte 24 of the data area is 24 */
		CHECK(((const unsigned char *)b->data)[0] == 24, "b's first byte is byte 24");
		CHECK(st_at(f, 0) == a, "file order: a first");
		CHECK(st_at(f, 4) == NULL, "past the end");
		CHECK(st_dtype_to_kern(a->dtype) == KD_F32, "F32 -> KD_F32");
		CHECK(st_dtype_to_kern(ST_I8) == -1, "I8 is not a weight dtype");
	}
	st_close(f);
	st_close(NULL);
}

static void test_dtype_tables(void)
{
	CHECK(st_dtype_size(ST_F8_E4M3) == 1 && st_dtype_size(ST_BF16) == 2 &&
		      st_dtype_size(ST_F64) == 8 && st_dtype_size(ST_BOOL) == 1,
	      "sizes");
	CHECK(strcmp(st_dtype_name(ST_F8_E4M3), "F8_E4M3") == 0, "name");
	CHECK(st_dtype_to_kern(ST_BF16) == KD_BF16 && st_dtype_to_kern(ST_F16) == KD_F16 &&
		      st_dtype_to_kern(ST_F8_E4M3) == KD_F8_E4M3,
	      "kern dtypes");
	CHECK(st_dtype_to_kern(ST_F8_E5M2) == -1 && st_dtype_to_kern(ST_F64) == -1, "not weights");
}

static void test_empty_file(void)
{
	snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
	FILE *f = fopen(path, "wb");
	fclose(f);
	expect_fail(ERR_FORMAT, "empty");
}

static void test_shorter_than_8(void)
{
	snprintf(path, sizeof path, "%s/short.safetensors", tmpdir);
	FILE *f = fopen(path, "wb");
	fwrite("\x05\0\0", 1, 3, f);
	fclose(f);
	expect_fail(ERR_FORMAT, "8-byte");
}

static void test_directory(void)
{
	snprintf(path, sizeof path, "%s/dir.safetensors", tmpdir);
	mkdir(path, 0700);
	expect_fail(ERR_IO, "directory");
}

static void test_missing_file(void)
{
	snprintf(path, sizeof path, "%s/nonexistent.safetensors", tmpdir);
	expect_fail(ERR_IO, NULL);
}

static void test_header_past_eof(void)
{
	write_st("past.safetensors", "{}", 1000, 0);
	expect_fail(ERR_FORMAT, "past the end of the file");
}

static void test_header_too_large(void)
{
	write_st("huge.safetensors", "{}", 200ll * 1024 * 1024, 0);
	expect_fail(ERR_FORMAT, "limit");
}

static void test_header_not_json(void)
{
	write_st("notjson.safetensors", "{\"a\": {dtype: F32}}", -1, 0);
	expect_fail(ERR_FORMAT, "not valid JSON");
}

static void test_header_array(void)
{
	write_st("array.safetensors", "[1,2,3]", -1, 0);
	expect_fail(ERR_FORMAT, "not an object");
}

static void test_entry_not_object(void)
{
	write_st("entry.safetensors", "{\"w\": [1,2]}", -1, 0);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_unknown_dtype(void)
{
	write_st("dtype.safetensors",
		 "{\"w\":{\"dtype\":\"Q4_K\",\"shape\":[2],\"data_offsets\":[0,2]}}", -1, 2);
	expect_fail(ERR_FORMAT, "\"w\"");
	expect_fail(ERR_FORMAT, "Q4_K");
}

static void test_foreign_dtype(void)
{
	write_st("u32.safetensors",
		 "{\"w\":{\"dtype\":\"U32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8);
	expect_fail(ERR_UNSUPPORTED, "\"w\"");
}

static void test_unknown_field(void)
{
	write_st("field.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"x\":1}}", -1, 2);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_missing_field(void)
{
	write_st("nofield.safetensors", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2]}}", -1, 2);
	expect_fail(ERR_FORMAT, "data_offsets");
}

static void test_negative_shape(void)
{
	write_st("neg.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[-2],\"data_offsets\":[0,2]}}", -1, 2);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_real_shape(void)
{
	write_st("real.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]}}", -1, 2);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_too_many_dims(void)
{
	write_st("dims.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}",
		 -1, 2);
	expect_fail(ERR_UNSUPPORTED, "\"w\"");
}

static void test_shape_overflow(void)
{
	write_st("ovf.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
		 "\"data_offsets\":[0,0]}}",
		 -1, 0);
	expect_fail(ERR_FORMAT, "overflow");
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_bytes_overflow(void)
{
	/* 2^62 elements fit, 2^62 * 4 bytes do not */
	write_st("bovf.safetensors",
		 "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
		 "\"data_offsets\":[0,0]}}",
		 -1, 0);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_size_mismatch(void)
{
	write_st("mismatch.safetensors",
		 "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", -1, 8);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_offsets_not_pair(void)
{
	write_st("pair.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2,4]}}", -1, 4);
	expect_fail(ERR_FORMAT, "\"w\"");
	write_st("pair2.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[\"0\",2]}}", -1, 2);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_begin_after_end(void)
{
	write_st("rev.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,2]}}", -1, 4);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_out_of_range(void)
{
	write_st("range.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
		 "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[100,104]}}",
		 -1, 8);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_overlap(void)
{
	write_st("overlap.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
		 "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
		 -1, 6);
	expect_fail(ERR_FORMAT, "overlaps");
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_gap(void)
{
	write_st("gap.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
		 "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[6,10]}}",
		 -1, 10);
	expect_fail(ERR_FORMAT, "gap");
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_gap_at_start(void)
{
	write_st("gap0.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", -1, 6);
	expect_fail(ERR_FORMAT, "\"w\"");
}

static void test_trailing_bytes(void)
{
	write_st("trail.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", -1, 9);
	expect_fail(ERR_FORMAT, "5 bytes after the last tensor");
}

static void test_duplicate_names(void)
{
	write_st("dup.safetensors",
		 "{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
		 "\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}",
		 -1, 8);
	expect_fail(ERR_FORMAT, "\"w\" twice");
}

static void test_metadata_not_object(void)
{
	write_st("meta.safetensors", "{\"__metadata__\": [\"pt\"]}", -1, 0);
	expect_fail(ERR_FORMAT, "__metadata__");
}

static void test_metadata_not_strings(void)
{
	write_st("meta2.safetensors", "{\"__metadata__\": {\"format\": 1}}", -1, 0);
	expect_fail(ERR_FORMAT, "format");
}

static void test_empty_name(void)
{
	write_st("noname.safetensors",
		 "{\"\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", -1, 4);
	expect_fail(ERR_FORMAT, "empty name");
}

/* A shard cut short by an interrupted download: the last tensor runs past the end. */
static void test_truncated(void)
{
	write_st("trunc.safetensors",
		 "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
		 "\"last\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}",
		 -1, 32);
	struct stat st;
	stat(path, &st);
	/* cut 10 bytes off the end whatever the header length is */
	CHECK(truncate(path, st.st_size - 10) == 0, "truncate");
	expect_fail(ERR_FORMAT, "\"last\"");
	expect_fail(ERR_FORMAT, "truncated");
}

/* st_parse on memory: the label is what errors name; the image is not copied. */
static void test_parse_memory(void)
{
	const char *hdr = "{\"t\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}";
	size_t hl = strlen(hdr);
	unsigned char buf[256] = {0};
	buf[0] = (unsigned char)hl;
	memcpy(buf + 8, hdr, hl);
	memcpy(buf + 8 + hl, "xyz", 3);
	struct st_file *f;
	struct err e = {0};
	int rc = st_parse(buf, 8 + hl + 3, "mem", &f, &e);
	CHECK(rc == 0, "parse: %s", e.msg);
	if (!rc) {
		const struct st_tensor *t = st_find(f, "t");
		CHECK(t && t->data == buf + 8 + hl, "data points into the caller's image");
		st_close(f);
	}
	rc = st_parse(buf, 8 + hl + 2, "mem-label", &f, &e);
	CHECK(rc == ERR_FORMAT && strstr(e.msg, "mem-label") && strstr(e.msg, "\"t\""),
	      "short image: %s", e.msg);
}

/* A real checkpoint has ~90,000 tensors: lookups must not be linear. */
static void test_many_tensors_fast(void)
{
	enum { N = 90000 };
	size_t cap = (size_t)N * 96 + 64, len = 0;
	char *h = malloc(cap);
	if (!h) {
		CHECK(0, "malloc");
		return;
	}
	len += (size_t)snprintf(h + len, cap - len, "{");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(h + len, cap - len,
					"%s\"model.layers.%d.mlp.experts.%d.w\":{\"dtype\":\"U8\","
					"\"shape\":[1],\"data_offsets\":[%d,%d]}",
					i ? "," : "", i / 256, i % 256, i, i + 1);
	len += (size_t)snprintf(h + len, cap - len, "}");
	write_st("many.safetensors", h, -1, N);
	struct st_file *f;
	struct err e = {0};
	clock_t t0 = clock();
	int rc = st_open(path, &f, &e);
	clock_t t1 = clock();
	CHECK(rc == 0, "open: %s", e.msg);
	if (!rc) {
		CHECK(st_count(f) == N, "count");
		int found = 0;
		char name[96];
		for (int rep = 0; rep < 10; rep++)
			for (int i = 0; i < N; i++) {
				snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.w", i / 256,
					 i % 256);
				const struct st_tensor *t = st_find(f, name);
				found += t && *(const unsigned char *)t->data == (unsigned char)i;
			}
		clock_t t2 = clock();
		CHECK(found == 10 * N, "found %d of %d", found, 10 * N);
		double open_s = (double)(t1 - t0) / CLOCKS_PER_SEC;
		double find_s = (double)(t2 - t1) / CLOCKS_PER_SEC;
		printf("  %d tensors: open %.3f s, %d lookups %.3f s\n", N, open_s, 10 * N, find_s);
		/* linear search would be ~4e10 string compares: minutes */
		CHECK(find_s < 2.0, "900k lookups took %.2f s", find_s);
		st_close(f);
	}
	free(h);
}

/* Finds the /proc/self/maps line holding p; returns 1 and fills perms/file. */
static int mapping_of(const void *p, char *perms, char *file, size_t cap)
{
	FILE *m = fopen("/proc/self/maps", "r");
	if (!m)
		return 0;
	char line[1024];
	int found = 0;
	while (!found && fgets(line, sizeof line, m)) {
		unsigned long lo, hi;
		char pr[8] = "";
		int off = 0;
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, pr, &off) < 3)
			continue;
		if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
			snprintf(perms, 8, "%s", pr);
			snprintf(file, cap, "%s", off ? line + off : "");
			file[strcspn(file, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(m);
	return found;
}

static uint64_t header_len_of(const char *p)
{
	unsigned char b[8] = {0};
	FILE *f = fopen(p, "rb");
	if (f) {
		if (fread(b, 1, 8, f) != 8)
			memset(b, 0, 8);
		fclose(f);
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | b[i];
	return n;
}

static void check_fixture_shard(const char *model, const char *shard, size_t want_count)
{
	const char *fx = check_fixtures();
	if (!fx) {
		SKIP("no ../shared/fixtures");
		return;
	}
	char p[512];
	snprintf(p, sizeof p, "%s/models/%s/%s", fx, model, shard);
	struct st_file *f;
	struct err e = {0};
	int rc = st_open(p, &f, &e);
	CHECK(rc == 0, "open %s: %s", p, e.msg);
	if (rc)
		return;
	CHECK(st_count(f) == want_count, "%s: %zu tensors, want %zu", p, st_count(f), want_count);
	struct stat st;
	stat(p, &st);
	uint64_t data_len = (uint64_t)st.st_size - 8 - header_len_of(p);
	/* the tensors tile the data area: lowest pointer to highest end == data bytes */
	const char *lo = NULL, *hi = NULL;
	for (size_t i = 0; i < st_count(f); i++) {
		const struct st_tensor *t = st_at(f, i);
		const char *b = t->data, *en = b + t->nbytes;
		if (!lo || b < lo)
			lo = b;
		if (!hi || en > hi)
			hi = en;
		CHECK(t->nbytes == t->nelem * st_dtype_size(t->dtype), "%s size", t->name);
	}
	CHECK(lo && (uint64_t)(hi - lo) == data_len, "tensors span %lld bytes, data area %llu",
	      (long long)(hi - lo), (unsigned long long)data_len);
	char perms[8] = "", file[512] = "";
	CHECK(mapping_of(lo, perms, file, sizeof file), "data pointer is in a mapping");
	CHECK(strcmp(perms, "r--p") == 0, "read-only private mapping, got %s", perms);
	CHECK(strstr(file, shard) != NULL, "mapping is of the shard file, got \"%s\"", file);
	CHECK(mapping_of(hi - 1, perms, file, sizeof file) && strstr(file, shard),
	      "last byte in the same mapping");
	st_close(f);
}

static void test_fixture_v3_shard(void)
{
	check_fixture_shard("tiny-v3", "model-00001-of-00002.safetensors", 191);
	const char *fx = check_fixtures();
	if (!fx)
		return;
	char p[512];
	snprintf(p, sizeof p, "%s/models/tiny-v3/model-00001-of-00002.safetensors", fx);
	struct st_file *f;
	struct err e = {0};
	if (st_open(p, &f, &e) != 0) {
		CHECK(0, "%s", e.msg);
		return;
	}
	const struct st_tensor *w = st_find(f, "model.layers.0.mlp.down_proj.weight");
	const struct st_tensor *s = st_find(f, "model.layers.0.mlp.down_proj.weight_scale_inv");
	const struct st_tensor *emb = st_find(f, "model.embed_tokens.weight");
	CHECK(w && w->dtype == ST_F8_E4M3 && w->ndim == 2 && w->shape[0] == 256 &&
		      w->shape[1] == 512 && w->nbytes == 256 * 512,
	      "down_proj F8_E4M3 [256,512]");
	CHECK(s && s->dtype == ST_F32 && s->ndim == 2 && s->shape[0] == 2 && s->shape[1] == 4,
	      "scale F32 [2,4] = [ceil(256/128), ceil(512/128)]");
	CHECK(emb && emb->dtype == ST_BF16 && emb->shape[0] == 512 && emb->shape[1] == 256,
	      "embed BF16 [512,256]");
	if (s) {
		float v;
		memcpy(&v, s->data, 4);
		CHECK(v > 0 && v < 1e30f, "scale is a sane positive float: %g", v);
	}
	st_close(f);
}

static void test_fixture_v2lite_shard(void)
{
	check_fixture_shard("tiny-v2lite", "model-00002-of-00002.safetensors", 36);
}

int main(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ponder-st-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_valid_small);
	RUN(test_dtype_tables);
	RUN(test_empty_file);
	RUN(test_shorter_than_8);
	RUN(test_directory);
	RUN(test_missing_file);
	RUN(test_header_past_eof);
	RUN(test_header_too_large);
	RUN(test_header_not_json);
	RUN(test_header_array);
	RUN(test_entry_not_object);
	RUN(test_unknown_dtype);
	RUN(test_foreign_dtype);
	RUN(test_unknown_field);
	RUN(test_missing_field);
	RUN(test_negative_shape);
	RUN(test_real_shape);
	RUN(test_too_many_dims);
	RUN(test_shape_overflow);
	RUN(test_bytes_overflow);
	RUN(test_size_mismatch);
	RUN(test_offsets_not_pair);
	RUN(test_begin_after_end);
	RUN(test_out_of_range);
	RUN(test_overlap);
	RUN(test_gap);
	RUN(test_gap_at_start);
	RUN(test_trailing_bytes);
	RUN(test_duplicate_names);
	RUN(test_metadata_not_object);
	RUN(test_metadata_not_strings);
	RUN(test_empty_name);
	RUN(test_truncated);
	RUN(test_parse_memory);
	RUN(test_many_tensors_fast);
	RUN(test_fixture_v3_shard);
	RUN(test_fixture_v2lite_shard);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_finish();
}
