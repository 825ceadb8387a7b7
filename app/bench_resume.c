/*
 * bench_resume.c — `ponder bench --resume N` (see bench_resume.h).
 *
 * A conversation of N tokens (the bench's random ids) is followed by a new message of
 * BENCH_RESUME_NEW tokens. Each round, in this order:
 *   cold      a fresh sequence runs eng_forward over the N tokens, then over the new
 *             ones: the time to the logits of the last token, i.e. to the first new
 *             token when the conversation is computed again (the re-prefill);
 *   save      the sequence cut back to the N tokens, written with kv_store_save into a
 *             temporary folder (write, fsync, rename, as a chat does);
 *   resume    a fresh sequence, kv_store_resume with the whole prompt less its last
 *             token (as eng_chat asks), then eng_forward over what it did not load: the
 *             time to the last logits, with the file still in the page cache;
 *   uncached  the same after fsync and posix_fadvise(POSIX_FADV_DONTNEED) on the file,
 *             which drops its pages from the page cache: close to reading a cold disk
 *             (mincore says whether every page did leave).
 * Creating a sequence is left out of every time: a session has one already. Figures
 * are medians over the rounds; the resumed runs' last logits are compared with the
 * same round's cold ones.
 */
#include "app/bench_resume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/bench_util.h"
#include "engine/kv_store.h"

#define MAX_ROUNDS 16

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Removes the folder's files (snapshots, a write's temporary file) and the folder. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		char path[4352];
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
				snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
				unlink(path);
			}
		closedir(d);
	}
	rmdir(dir);
}

/* The one snapshot in dir: its path and size. */
static int snapshot_file(const char *dir, char *path, size_t size, uint64_t *bytes,
			 struct err *e)
{
	struct kv_entry *all;
	size_t n;
	int rc = kv_dir_list(dir, &all, &n, e);
	if (rc)
		return rc;
	if (n != 1 || !all[0].valid)
		rc = err_set(e, ERR_IO, "expected one valid KV snapshot in %s, found %zu", dir, n);
	else {
		snprintf(path, size, "%s/%s.pkv", dir, all[0].id);
		*bytes = all[0].bytes;
	}
	free(all);
	return rc;
}

/* Drops the file's pages from the page cache; false when some stay (a tmpfs folder, a
   page mapped elsewhere) or it cannot tell. */
static bool evict_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool gone = false;
	struct stat sb;
	fsync(fd); /* written pages must be clean to be dropped; kv_store_save synced them */
	if (!posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) && !fstat(fd, &sb) && sb.st_size > 0) {
		long page = sysconf(_SC_PAGESIZE);
		size_t len = (size_t)sb.st_size, pages = (len + (size_t)page - 1) / (size_t)page;
		unsigned char *vec = malloc(pages);
		void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (vec && map != MAP_FAILED && !mincore(map, len, vec)) {
			gone = true;
			for (size_t i = 0; i < pages; i++)
				gone &= !(vec[i] & 1);
		}
		if (map != MAP_FAILED)
			munmap(map, len);
		free(vec);
	}
	close(fd);
	return gone;
}

/* Largest |a - b| over the largest |ref|. */
static double rel_diff(const float *a, const float *ref, size_t n)
{
	double d = 0, scale = 0;
	for (size_t i = 0; i < n; i++) {
		double x = fabs((double)a[i] - (double)ref[i]), r = fabs((double)ref[i]);
		d = x > d ? x : d;
		scale = r > scale ? r : scale;
	}
	return scale > 0 ? d / scale : d;
}

/* One resumed run on a fresh sequence: load what the store has of ids[0..total-1),
   compute the rest; *ms from the load's start to the last logits. */
static int resume_once(struct eng_model *m, struct kv_store *ks, const int32_t *ids,
		       size_t n, size_t total, float *logits, double *ms, struct err *e)
{
	struct eng_state *st = NULL;
	int rc = eng_state_new(m, (int64_t)(n + BENCH_RESUME_ROOM), false, &st, e);
	if (rc)
		return rc;
	size_t loaded = 0;
	struct err note = {0};
	double t0 = now_ms();
	rc = kv_store_resume(ks, st, ids, total - 1, &loaded, &note);
	if (rc || note.code)
		rc = err_set(e, rc ? rc : note.code, "%s", note.msg);
	else if (loaded != n)
		rc = err_set(e, ERR_IO, "the KV snapshot of %zu tokens loaded %zu of them", n,
			     loaded);
	else
		rc = eng_forward(st, ids + loaded, total - loaded, logits, false, e);
	*ms = now_ms() - t0;
	eng_state_free(st);
	return rc;
}

int bench_resume_measure(struct eng_model *m, const int32_t *ids, size_t n, int rounds,
			 struct bench_resume *r, struct err *e)
{
	if (rounds < 1)
		rounds = 1;
	if (rounds > MAX_ROUNDS)
		rounds = MAX_ROUNDS;
	*r = (struct bench_resume){.tokens = n, .rounds = rounds, .identical = true,
				   .evicted = true};
	size_t V = (size_t)eng_model_config(m)->vocab_size, total = n + BENCH_RESUME_NEW;
	double cold[MAX_ROUNDS], warm[MAX_ROUNDS], uncached[MAX_ROUNDS], wrote[MAX_ROUNDS];

	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/ponder-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return err_set(e, ERR_IO, "cannot create a folder for KV snapshots in %s: %s "
			       "(set TMPDIR to another folder)", tmp && *tmp ? tmp : "/tmp",
			       strerror(errno));
	struct kv_store *ks = NULL;
	struct eng_state *st = NULL;
	float *ref = malloc(V * sizeof *ref), *got = malloc(V * sizeof *got);
	char path[4352];
	int rc = 0;
	if (!ref || !got) {
		rc = err_set(e, ERR_NOMEM, "out of memory for two rows of logits");
		goto out;
	}
	if ((rc = kv_store_open(dir, UINT64_MAX, m, &ks, e)))
		goto out;
	bench_phase("resume from a KV snapshot of %zu tokens against a re-prefill, %d rounds", n,
	      rounds);
	for (int i = 0; i < rounds; i++) {
		if ((rc = eng_state_new(m, (int64_t)(n + BENCH_RESUME_ROOM), false, &st, e)))
			goto out;
		double t0 = now_ms();
		if ((rc = eng_forward(st, ids, n, NULL, false, e)) ||
		    (rc = eng_forward(st, ids + n, total - n, ref, false, e)))
			goto out;
		cold[i] = now_ms() - t0;

		eng_state_truncate(st, n);
		t0 = now_ms();
		if ((rc = kv_store_save(ks, st, "ponder bench --resume", e)))
			goto out;
		wrote[i] = now_ms() - t0;
		eng_state_free(st);
		st = NULL;
		if ((rc = snapshot_file(dir, path, sizeof path, &r->snapshot_bytes, e)))
			goto out;

		for (int pass = 0; pass < 2; pass++) {
			if (pass == 1)
				r->evicted &= evict_file(path);
			double *ms = pass ? &uncached[i] : &warm[i];
			if ((rc = resume_once(m, ks, ids, n, total, got, ms, e)))
				goto out;
			if (memcmp(got, ref, V * sizeof *got))
				r->identical = false;
			double d = rel_diff(got, ref, V);
			r->max_rel_diff = d > r->max_rel_diff ? d : r->max_rel_diff;
		}
	}
	r->cold_ms = bench_median(cold, (size_t)rounds);
	r->resume_ms = bench_median(warm, (size_t)rounds);
	r->uncached_ms = bench_median(uncached, (size_t)rounds);
	r->write_ms = bench_median(wrote, (size_t)rounds);
out:
	eng_state_free(st);
	kv_store_close(ks);
	remove_dir(dir);
	free(ref);
	free(got);
	return rc;
}
