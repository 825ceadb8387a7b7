/*
 * test_kv_store.c — KV snapshots (engine/kv_snapshot.h, engine/kv_store.h) over the
 * tiny fixture checkpoints:
 *   - a snapshot resumed gives the cache rows it was saved from: the logits that follow
 *     are bitwise those of the state that wrote it, for every cache type (with the MTP
 *     module, which computes the last position again, within 1e-6); a prompt sharing
 *     only part of a snapshot loads that part, and no more than the context holds;
 *   - damaged, foreign and other-format files are never loaded, in whole or in part:
 *     the state stays empty and usable, the user gets a note, damaged files go;
 *   - a write that fails (file size limit) or is killed (SIGKILL at random moments)
 *     never leaves a partial file under a snapshot's name;
 *   - the folder keeps to its cap by least recent use, a longer snapshot supersedes its
 *     prefixes, and `ponder kv` (list, remove, gc) sees and tidies what is there;
 *   - a chat session resumes from the snapshot another session settled, and then
 *     replies exactly as the session that wrote it does.
 * Every test works in its own folder under /tmp and removes it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "chat_model.h"
#include "check.h"
#include "engine/kv_snapshot.h"
#include "engine/kv_store.h"
#include "engine/session.h"
#include "rng.h"

#define TEMP_TEMPLATE "/tmp/ponder-kv-XXXXXX"
#define BIG_CAP (1ull << 32)

/* ---- helpers ---- */

/* One test's model, snapshot folder and store over it. */
struct rig {
	char dir[sizeof TEMP_TEMPLATE];
	struct eng_model *m;
	struct kv_store *ks;
	size_t V;
};

static struct eng_model *open_model(const char *dir, enum eng_kv_type kv, bool mtp)
{
	struct eng_opts o = {.threads = 2, .load_mtp = mtp, .kv_type = kv};
	struct eng_model *m = NULL;
	struct err e = {0};
	CHECK(eng_model_open(dir, &o, &m, &e) == 0, "%s", e.msg);
	return m;
}

static struct eng_model *open_fixture(const char *name, enum eng_kv_type kv, bool mtp)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/models/%s", check_fixtures(), name);
	return open_model(dir, kv, mtp);
}

static struct kv_store *open_store(const char *dir, uint64_t cap, struct eng_model *m)
{
	struct kv_store *ks = NULL;
	struct err e = {0};
	CHECK(kv_store_open(dir, cap, m, &ks, &e) == 0, "%s", e.msg);
	return ks;
}

/* mkdtemp of a TEMP_TEMPLATE copy; on failure dir becomes "" (remove_dir skips it). */
static bool temp_dir(char *dir)
{
	if (mkdtemp(dir))
		return true;
	CHECK(0, "mkdtemp %s", dir);
	dir[0] = '\0';
	return false;
}

/* Removes a folder temp_dir made; "" and the untouched template are no folders. */
static void remove_dir(const char *dir)
{
	if (!dir[0] || !strcmp(dir, TEMP_TEMPLATE))
		return;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "could not remove %s", dir);
}

/* A fresh folder and tiny model (the SKIP when there are no fixtures); false when the
   test cannot go on. */
static bool rig_open(struct rig *r, const char *model, enum eng_kv_type kv, bool mtp,
		     uint64_t cap)
{
	memset(r, 0, sizeof *r);
	strcpy(r->dir, TEMP_TEMPLATE);
	if (!check_fixtures()) {
		SKIP("../shared/fixtures not present");
		return false;
	}
	if (!temp_dir(r->dir))
		return false;
	r->m = open_fixture(model, kv, mtp);
	r->ks = r->m ? open_store(r->dir, cap, r->m) : NULL;
	if (r->m)
		r->V = (size_t)eng_model_config(r->m)->vocab_size;
	return r->ks != NULL;
}

static void rig_close(struct rig *r)
{
	kv_store_close(r->ks);
	eng_model_close(r->m);
	remove_dir(r->dir);
}

static struct eng_state *new_state(struct eng_model *m, size_t ctx, bool mtp)
{
	struct eng_state *s = NULL;
	struct err e = {0};
	CHECK(eng_state_new(m, (int64_t)ctx, mtp, &s, &e) == 0, "%s", e.msg);
	return s;
}

/* Forwards ids[0..n); logits, when not NULL, gets every new position's row. */
static bool forward(struct eng_state *s, const int32_t *ids, size_t n, float *logits)
{
	struct err e = {0};
	int rc = eng_forward(s, ids, n, logits, logits != NULL, &e);
	CHECK(rc == 0, "%s", e.msg);
	return rc == 0;
}

static bool save(struct kv_store *ks, const struct eng_state *s, const char *label)
{
	struct err e = {0};
	int rc = kv_store_save(ks, s, label, &e);
	CHECK(rc == 0, "%s", e.msg);
	return rc == 0;
}

/* kv_store_resume of ids[0..n) into s: the positions loaded; note says what it met. */
static size_t resume(struct kv_store *ks, struct eng_state *s, const int32_t *ids, size_t n,
		     struct err *note)
{
	size_t loaded = 0;
	memset(note, 0, sizeof *note);
	CHECK(kv_store_resume(ks, s, ids, n, &loaded, note) == 0, "%s", note->msg);
	return loaded;
}

/* Token ids in [2, V), a fixed stream per seed; ids[0] = seed keeps sequences of
   different seeds from sharing a prefix. */
static void fill_tokens(int32_t *ids, size_t n, uint32_t seed, size_t V)
{
	rng_state = 0x9e3779b97f4a7c15ull ^ seed;
	for (size_t i = 0; i < n; i++)
		ids[i] = i ? (int32_t)(2 + rnd_u32() % (V - 2)) : (int32_t)seed;
}

/* Largest max|a-b| / max|b| over rows of length V. */
static double max_rel_diff(const float *a, const float *b, size_t rows, size_t V)
{
	double worst = 0;
	for (size_t r = 0; r < rows; r++) {
		double diff = 0, mag = 0;
		for (size_t j = 0; j < V; j++) {
			diff = fmax(diff, fabs((double)a[r * V + j] - b[r * V + j]));
			mag = fmax(mag, fabs((double)b[r * V + j]));
		}
		worst = fmax(worst, mag > 0 ? diff / mag : diff);
	}
	return worst;
}

/* Files in dir whose names start with prefix and end with suffix ("." and ".." never). */
static size_t count_files(const char *dir, const char *prefix, const char *suffix)
{
	DIR *d = opendir(dir);
	size_t n = 0, lp = strlen(prefix), ls = strlen(suffix);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && len >= lp + ls &&
		     !strncmp(de->d_name, prefix, lp) && !strcmp(de->d_name + len - ls, suffix);
	}
	if (d)
		closedir(d);
	return n;
}

/* Path of the (first) *.pkv in dir; false when there is none. */
static bool snapshot_file(const char *dir, char *path, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;
	while (d && !found && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if ((found = len > 4 && !strcmp(de->d_name + len - 4, ".pkv")))
			snprintf(path, size, "%s/%s", dir, de->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

/* The listing's entry labelled `label`; false when there is none. */
static bool entry_by_label(const char *dir, const char *label, struct kv_entry *out)
{
	struct kv_entry *all = NULL;
	size_t n = 0;
	struct err e = {0};
	CHECK(kv_dir_list(dir, &all, &n, &e) == 0, "%s", e.msg);
	bool found = false;
	for (size_t i = 0; i < n && !found; i++)
		if ((found = !strcmp(all[i].label, label)))
			*out = all[i];
	free(all);
	return found;
}

static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{.tv_sec = t}, {.tv_sec = t}};
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s", path);
}

static void set_snapshot_mtime(const char *dir, const char *id, time_t t)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s.pkv", dir, id);
	set_mtime(path, t);
}

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) ? -1 : sb.st_size;
}

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	CHECK(f && fwrite(data, 1, n, f) == n && !fclose(f), "cannot write %s", path);
}

/* ---- 1. round trip ---- */

static void check_round_trip(enum eng_kv_type kv)
{
	enum { N = 300, EXTRA = 6, CTX = 512 };
	struct rig r;
	struct eng_state *a = NULL, *b = NULL, *c = NULL;
	float *la = NULL, *lb = NULL, *lc = NULL;
	if (!rig_open(&r, "tiny-v3", kv, false, BIG_CAP))
		goto out;
	size_t V = r.V;
	int32_t ids[N + EXTRA];
	fill_tokens(ids, N + EXTRA, 1, V);
	la = malloc(EXTRA * V * sizeof *la);
	lb = malloc(EXTRA * V * sizeof *lb);
	lc = malloc((N + EXTRA) * V * sizeof *lc);
	a = new_state(r.m, CTX, false);
	b = new_state(r.m, CTX, false);
	c = new_state(r.m, CTX, false);
	if (!a || !b || !c || !forward(a, ids, N, NULL) || !save(r.ks, a, "round trip") ||
	    !forward(a, ids + N, EXTRA, la))
		goto out;

	struct err note;
	size_t loaded = resume(r.ks, b, ids, N + EXTRA, &note);
	CHECK(loaded == N && eng_state_pos(b) == N, "loaded %zu, position %zu of a %d-token "
	      "snapshot", loaded, eng_state_pos(b), N);
	CHECK(note.code == 0, "note on a good snapshot: %s", note.msg);
	CHECK(!memcmp(eng_state_tokens(b), ids, N * sizeof *ids), "tokens differ after resume");
	if (!forward(b, ids + N, EXTRA, lb))
		goto out;
	CHECK(!memcmp(la, lb, EXTRA * V * sizeof *la),
	      "kv %s: logits after resume differ from the writer's (max relative %.3g)",
	      eng_kv_type_name(kv), max_rel_diff(lb, la, EXTRA, V));

	if (!forward(c, ids, N + EXTRA, lc))
		goto out;
	double rel = max_rel_diff(lc + N * V, lb, EXTRA, V);
	printf("  kv %s: resumed vs computed from scratch: max relative difference %.3g\n",
	       eng_kv_type_name(kv), rel);
	if (kv == ENG_KV_F32)
		CHECK(rel < 1e-3, "kv f32: resumed and fresh logits differ by %.3g", rel);
out:
	eng_state_free(a);
	eng_state_free(b);
	eng_state_free(c);
	free(la);
	free(lb);
	free(lc);
	rig_close(&r);
}

static void test_round_trip_exact(void)
{
	if (!check_fixtures()) {
		SKIP("../shared/fixtures not present");
		return;
	}
	for (enum eng_kv_type kv = ENG_KV_F32; kv <= ENG_KV_FP8; kv++)
		check_round_trip(kv);
}

/* ---- 2. partial prefix ---- */

static void test_partial_prefix(void)
{
	enum { N = 240, SHARED = 100, PROMPT = 160, CTX = 512 };
	struct rig r;
	struct eng_state *a = NULL, *b = NULL, *c = NULL, *small = NULL;
	float *lb = NULL, *lc = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	size_t V = r.V;
	int32_t snap[N], prompt[PROMPT];
	fill_tokens(snap, N, 2, V);
	memcpy(prompt, snap, SHARED * sizeof *prompt);
	for (size_t i = SHARED; i < PROMPT; i++)
		prompt[i] = (snap[i] + 1 + (int32_t)i % 7) % (int32_t)V; /* != snap[i] */
	lb = malloc((PROMPT - SHARED) * V * sizeof *lb);
	lc = malloc(PROMPT * V * sizeof *lc);
	a = new_state(r.m, CTX, false);
	b = new_state(r.m, CTX, false);
	c = new_state(r.m, CTX, false);
	small = new_state(r.m, 64, false);
	if (!a || !b || !c || !small || !forward(a, snap, N, NULL) || !save(r.ks, a, "partial"))
		goto out;

	struct err note;
	size_t loaded = resume(r.ks, b, prompt, PROMPT, &note);
	CHECK(loaded == SHARED && eng_state_pos(b) == SHARED,
	      "loaded %zu (position %zu) of a prompt sharing %d tokens", loaded,
	      eng_state_pos(b), SHARED);
	if (!forward(b, prompt + SHARED, PROMPT - SHARED, lb) || !forward(c, prompt, PROMPT, lc))
		goto out;
	double rel = max_rel_diff(lb, lc + SHARED * V, PROMPT - SHARED, V);
	CHECK(rel < 1e-5, "logits after a partial resume differ from a fresh run's by %.3g", rel);

	/* A state with a smaller context takes no more than it holds. */
	loaded = resume(r.ks, small, snap, N, &note);
	CHECK(loaded == eng_state_ctx(small) && eng_state_pos(small) == loaded,
	      "loaded %zu positions into a context of %zu", loaded, eng_state_ctx(small));
	CHECK(note.code == 0, "note: %s", note.msg);

	/* A few shared tokens of a long snapshot are not worth reading it all. */
	int32_t few[40];
	memcpy(few, prompt, 20 * sizeof *few);
	for (size_t i = 20; i < 40; i++)
		few[i] = (snap[i] + 1) % (int32_t)V;
	eng_state_truncate(c, 0);
	loaded = resume(r.ks, c, few, 40, &note);
	CHECK(loaded == 0 && eng_state_pos(c) == 0, "loaded %zu positions for 20 shared tokens",
	      loaded);
out:
	eng_state_free(a);
	eng_state_free(b);
	eng_state_free(c);
	eng_state_free(small);
	free(lb);
	free(lc);
	rig_close(&r);
}

/* ---- 3. MTP ---- */

static void test_mtp(void)
{
	enum { K = 200, N = 216, CTX = 512 };
	struct rig r;
	struct eng_state *a = NULL, *b = NULL, *plain = NULL, *c = NULL, *d = NULL;
	float *la = NULL, *ma = NULL, *lb = NULL, *mb = NULL;
	char plain_dir[] = TEMP_TEMPLATE;
	struct kv_store *plain_ks = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, true, BIG_CAP))
		goto out;
	size_t V = r.V;
	int32_t ids[N];
	fill_tokens(ids, N, 3, V);
	la = malloc((N - K) * V * sizeof *la);
	ma = malloc((N - K) * V * sizeof *ma);
	lb = malloc((N - K + 1) * V * sizeof *lb);
	mb = malloc((N - K) * V * sizeof *mb);
	a = new_state(r.m, CTX, true);
	b = new_state(r.m, CTX, true);
	struct err e = {0}, note;
	if (!a || !b)
		goto out;
	CHECK(eng_forward_mtp(a, ids, K, NULL, false, NULL, &e) == 0, "%s", e.msg);
	if (!save(r.ks, a, "mtp"))
		goto out;
	CHECK(eng_forward_mtp(a, ids + K, N - K, la, true, ma, &e) == 0, "%s", e.msg);

	/* The whole snapshot, with the last position's hidden state: nothing is computed
	   again, and the continuation is bitwise the writer's. */
	size_t loaded = resume(r.ks, b, ids, N, &note);
	CHECK(loaded == K && eng_state_pos(b) == K && eng_state_mtp_pos(b) == K - 1,
	      "MTP resume: loaded %zu, position %zu, MTP rows %zu; expected %d", loaded,
	      eng_state_pos(b), eng_state_mtp_pos(b), K);
	loaded = resume(r.ks, b, ids, N, &note);
	CHECK(loaded == 0 && eng_state_pos(b) == K, "resuming again loaded %zu (position %zu): "
	      "the snapshot brings nothing new", loaded, eng_state_pos(b));
	CHECK(eng_forward_mtp(b, ids + K, N - K, lb, true, mb, &e) == 0, "%s", e.msg);
	CHECK(eng_state_mtp_pos(b) == N - 1, "MTP rows %zu after the continuation",
	      eng_state_mtp_pos(b));
	CHECK(!memcmp(lb, la, (N - K) * V * sizeof *la), "main logits after an MTP resume differ "
	      "by %.3g", max_rel_diff(lb, la, N - K, V));
	CHECK(!memcmp(mb, ma, (N - K) * V * sizeof *ma), "MTP logits after an MTP resume differ "
	      "by %.3g", max_rel_diff(mb, ma, N - K, V));

	/* A prefix has no stored hidden state for its last position: that one is fed again
	   (in another chunk than the writer's, so equal up to rounding). */
	int32_t fork[N];
	memcpy(fork, ids, sizeof fork);
	for (size_t i = 100; i < N; i++)
		fork[i] = (int32_t)((fork[i] + 1) % (int32_t)V);
	eng_state_truncate(b, 0);
	loaded = resume(r.ks, b, fork, N, &note);
	CHECK(loaded == 99 && eng_state_pos(b) == 99 && eng_state_mtp_pos(b) == 99,
	      "MTP resume of a 100-token prefix: loaded %zu, position %zu, MTP rows %zu", loaded,
	      eng_state_pos(b), eng_state_mtp_pos(b));
	struct eng_state *fresh = new_state(r.m, CTX, true);
	/* MTP rows: 99 .. N-2 from the resumed state, 0 .. N-2 from the fresh one. */
	float *lf = malloc(V * sizeof *lf), *mf = malloc((N - 1) * V * sizeof *mf);
	float *mp = malloc((N - 100) * V * sizeof *mp);
	if (fresh && lf && mf && mp &&
	    eng_forward_mtp(b, fork + 99, N - 99, lb, false, mp, &e) == 0 &&
	    eng_forward_mtp(fresh, fork, N, lf, false, mf, &e) == 0) {
		double main_rel = max_rel_diff(lb, lf, 1, V);
		double mtp_rel = max_rel_diff(mp, mf + 99 * V, N - 100, V);
		printf("  MTP resume of a prefix against a fresh run: main %.3g, MTP %.3g\n",
		       main_rel, mtp_rel);
		CHECK(main_rel < 1e-5 && mtp_rel < 1e-5, "after an MTP prefix resume the logits "
		      "differ by %.3g (main) and %.3g (MTP)", main_rel, mtp_rel);
	} else {
		CHECK(0, "continuing the prefix resume: %s", e.msg);
	}
	eng_state_free(fresh);
	free(lf);
	free(mf);
	free(mp);

	/* MTP rows are extra: a state without MTP uses the whole snapshot ... */
	c = new_state(r.m, CTX, false);
	loaded = c ? resume(r.ks, c, ids, N, &note) : 0;
	CHECK(loaded == K, "a state without MTP loaded %zu of an MTP snapshot of %d", loaded, K);

	/* ... but a snapshot without them is of no use to a state that runs MTP. */
	if (!temp_dir(plain_dir))
		goto out;
	plain = new_state(r.m, CTX, false);
	d = new_state(r.m, CTX, true);
	plain_ks = open_store(plain_dir, BIG_CAP, r.m);
	if (!plain || !d || !plain_ks || !forward(plain, ids, K, NULL) ||
	    !save(plain_ks, plain, "no mtp"))
		goto out;
	loaded = resume(plain_ks, d, ids, N, &note);
	CHECK(loaded == 0 && eng_state_pos(d) == 0, "an MTP state loaded %zu positions of a "
	      "snapshot without MTP rows", loaded);
	CHECK(note.code == 0, "note: %s", note.msg);
out:
	kv_store_close(plain_ks);
	remove_dir(plain_dir);
	eng_state_free(a);
	eng_state_free(b);
	eng_state_free(c);
	eng_state_free(d);
	eng_state_free(plain);
	free(la);
	free(ma);
	free(lb);
	free(mb);
	rig_close(&r);
}

/* ---- 4. damaged and foreign files ---- */

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b = 0;
	CHECK(fd >= 0 && pread(fd, &b, 1, off) == 1, "cannot read %s", path);
	b ^= 0x5a;
	CHECK(fd >= 0 && pwrite(fd, &b, 1, off) == 1, "cannot write %s", path);
	if (fd >= 0)
		close(fd);
}

static void damage_truncate(const char *path)
{
	CHECK(truncate(path, file_size(path) - 100) == 0, "truncate %s", path);
}

static void damage_payload(const char *path)
{
	flip_byte(path, file_size(path) / 2);
}

static void damage_header(const char *path)
{
	flip_byte(path, (off_t)offsetof(struct kv_snap_header, tokens));
}

/* A snapshot of a later format, its header checksum made right again. */
static void damage_version(const char *path)
{
	struct kv_snap_header h;
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pread(fd, &h, sizeof h, 0) == sizeof h, "cannot read %s", path);
	h.version = KV_SNAP_VERSION + 1;
	h.header_hash = XXH3_64bits(&h, offsetof(struct kv_snap_header, header_hash));
	CHECK(fd >= 0 && pwrite(fd, &h, sizeof h, 0) == sizeof h, "cannot write %s", path);
	if (fd >= 0)
		close(fd);
}

static void damage_garbage(const char *path)
{
	static uint8_t junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)rnd_u32();
	write_file(path, junk, sizeof junk);
}

static const struct {
	const char *name;
	void (*damage)(const char *path);
	const char *note_says;
	bool removed;
} damages[] = {
	{"truncated", damage_truncate, "cut short", true},
	{"payload byte flipped", damage_payload, "checksum", true},
	{"header byte flipped", damage_header, "checksum", true},
	{"later format version", damage_version, "format", false},
	{"garbage under a snapshot's name", damage_garbage, "not a ponder KV snapshot", true},
};

/* What a state that found nothing to load must be: empty, and right when used. */
static void check_empty_and_usable(struct eng_state *s, const int32_t *ids, size_t n,
				   const float *want, size_t V, const char *what)
{
	float *got = malloc(V * sizeof *got);
	CHECK(eng_state_pos(s) == 0, "%s: position %zu after a refused snapshot", what,
	      eng_state_pos(s));
	struct err e = {0};
	CHECK(eng_forward(s, ids, n, got, false, &e) == 0, "%s: %s", what, e.msg);
	CHECK(!memcmp(got, want, V * sizeof *got), "%s: logits after a refused snapshot differ "
	      "from a fresh state's", what);
	eng_state_truncate(s, 0);
	free(got);
}

static void test_damaged_and_foreign(void)
{
	enum { N = 300, CTX = 512 };
	struct rig r;
	struct eng_model *other = NULL;
	struct eng_state *a = NULL, *b = NULL, *o = NULL;
	struct kv_store *other_ks = NULL;
	float *want = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	size_t V = r.V;
	int32_t ids[N];
	fill_tokens(ids, N, 4, V);
	want = malloc(V * sizeof *want);
	a = new_state(r.m, CTX, false);
	b = new_state(r.m, CTX, false);
	struct err e = {0}, note;
	if (!a || !b || eng_forward(a, ids, N, want, false, &e))
		goto out;

	for (size_t i = 0; i < sizeof damages / sizeof *damages; i++) {
		/* A store of its own: a later format is reported once per store. */
		kv_store_close(r.ks);
		char path[128];
		if (!(r.ks = open_store(r.dir, BIG_CAP, r.m)) || !save(r.ks, a, damages[i].name) ||
		    !snapshot_file(r.dir, path, sizeof path))
			goto out;
		damages[i].damage(path);
		size_t loaded = resume(r.ks, b, ids, N, &note);
		CHECK(loaded == 0, "%s: loaded %zu", damages[i].name, loaded);
		CHECK(note.code != 0 && strstr(note.msg, damages[i].note_says),
		      "%s: note (code %d) does not say \"%s\": %s", damages[i].name, note.code,
		      damages[i].note_says, note.msg);
		CHECK((access(path, F_OK) != 0) == damages[i].removed, "%s: file %s",
		      damages[i].name, damages[i].removed ? "kept" : "removed");
		check_empty_and_usable(b, ids, N, want, V, damages[i].name);
		if (!damages[i].removed) {
			resume(r.ks, b, ids, N, &note);
			CHECK(note.code == 0, "%s: reported twice: %s", damages[i].name, note.msg);
			unlink(path);
		}
	}

	/* Another model's snapshot in the same folder: passed over in silence. */
	if (!(other = open_fixture("tiny-v2lite", ENG_KV_F32, false)) ||
	    !(other_ks = open_store(r.dir, BIG_CAP, other)) ||
	    !(o = new_state(other, CTX, false)) ||
	    !forward(o, ids, N, NULL) || !save(other_ks, o, "tiny-v2lite"))
		goto out;
	size_t loaded = resume(r.ks, b, ids, N, &note);
	CHECK(loaded == 0 && note.code == 0, "another model's snapshot: loaded %zu, note %s",
	      loaded, note.msg);
	CHECK(count_files(r.dir, "", ".pkv") == 1, "another model's snapshot was removed");
	check_empty_and_usable(b, ids, N, want, V, "another model");
out:
	eng_state_free(a);
	eng_state_free(b);
	eng_state_free(o);
	kv_store_close(other_ks);
	eng_model_close(other);
	free(want);
	rig_close(&r);
}

/* ---- 5. a full disk ---- */

static void test_disk_full(void)
{
	enum { N = 300, CTX = 512 };
	struct rig r;
	struct eng_state *a = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	int32_t ids[N];
	fill_tokens(ids, N, 5, r.V);
	if (!(a = new_state(r.m, CTX, false)) || !forward(a, ids, N, NULL))
		goto out;
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		/* Writes past 64 KiB fail with EFBIG, as they would with ENOSPC. */
		struct rlimit lim = {64 << 10, 64 << 10};
		signal(SIGXFSZ, SIG_IGN);
		struct err e = {0};
		int rc = setrlimit(RLIMIT_FSIZE, &lim) ? 3 : kv_store_save(r.ks, a, "full", &e);
		if (rc != ERR_IO)
			fprintf(stderr, "  kv_store_save gave %d: %s\n", rc, e.msg);
		_exit(rc == ERR_IO && strstr(e.msg, "writing a KV snapshot") ? 0 : 1);
	}
	int status = 0;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "a save past the file size limit did not fail with ERR_IO (status %#x)", status);
	CHECK(count_files(r.dir, "", "") == 0, "%zu files left by a failed save",
	      count_files(r.dir, "", ""));
out:
	eng_state_free(a);
	rig_close(&r);
}

/* ---- 6. SIGKILL while writing ---- */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void test_kill_mid_write(void)
{
	enum { N = 3000, EXTRA = 4, CTX = 4096, KILLS = 20 };
	struct rig r;
	struct eng_state *a = NULL, *b = NULL;
	int32_t *ids = NULL;
	float *want = NULL, *got = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	size_t V = r.V;
	ids = malloc((N + EXTRA) * sizeof *ids);
	want = malloc(EXTRA * V * sizeof *want);
	got = malloc(EXTRA * V * sizeof *got);
	fill_tokens(ids, N + EXTRA, 6, V);
	a = new_state(r.m, CTX, false);
	b = new_state(r.m, CTX, false);
	if (!a || !b || !forward(a, ids, N, NULL) || !forward(a, ids + N, EXTRA, want))
		goto out;
	eng_state_truncate(a, N);
	double t0 = now_ms();
	if (!save(r.ks, a, "kill"))
		goto out;
	double save_ms = now_ms() - t0;
	char path[128];
	if (!snapshot_file(r.dir, path, sizeof path)) {
		CHECK(0, "no snapshot written");
		goto out;
	}
	double mb = (double)file_size(path) / 1e6;

	int first_whole = 0;
	for (int i = 0; i < KILLS; i++) {
		/* Odd kills interrupt the replacement of a whole snapshot, even ones a first
		   write into a folder without one. */
		bool replacing = i % 2;
		if (snapshot_file(r.dir, path, sizeof path))
			unlink(path);
		if (replacing && !save(r.ks, a, "kill"))
			goto out;
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			struct err e = {0};
			while (!kv_store_save(r.ks, a, "kill", &e))
				;
			_exit(1);
		}
		usleep((useconds_t)(rnd_u32() % (unsigned)(3 * save_ms * 1000 + 1)));
		kill(pid, SIGKILL);
		int status = 0;
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/wait");
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the writer ended by itself (status %#x): saving failed", status);
		CHECK(count_files(r.dir, "", ".pkv") <= 1, "%zu snapshots of one sequence",
		      count_files(r.dir, "", ".pkv"));
		bool there = snapshot_file(r.dir, path, sizeof path);
		CHECK(there || !replacing, "kill %d: the snapshot being replaced is gone", i);
		if (!there)
			continue;
		first_whole += !replacing;
		struct err note;
		size_t loaded = resume(r.ks, b, ids, N + EXTRA, &note);
		CHECK(loaded == N && note.code == 0, "kill %d: a snapshot under its name "
		      "loaded %zu of %d positions: %s", i, loaded, N, note.msg);
		if (loaded == N && forward(b, ids + N, EXTRA, got))
			CHECK(!memcmp(got, want, EXTRA * V * sizeof *got),
			      "kill %d: logits from the snapshot differ", i);
		eng_state_truncate(b, 0);
	}
	size_t temps = count_files(r.dir, ".tmp-", "");
	printf("  %d kills within %.1f ms of a %.1f MB write (%.1f ms): %d replacing a snapshot "
	       "(it stayed whole), %d first writes (%d left a whole one, %d none); %zu "
	       "temporary files left\n", KILLS, 3 * save_ms, mb, save_ms, KILLS / 2, KILLS / 2,
	       first_whole, KILLS / 2 - first_whole, temps);

	/* Temporary files of writes that may still be running are not collected. */
	struct kv_gc_result gc;
	struct err e = {0};
	CHECK(kv_dir_gc(r.dir, BIG_CAP, &gc, &e) == 0, "%s", e.msg);
	CHECK(gc.removed_temp == 0 && count_files(r.dir, ".tmp-", "") == temps,
	      "gc removed %zu fresh temporary files", gc.removed_temp);
out:
	eng_state_free(a);
	eng_state_free(b);
	free(ids);
	free(want);
	free(got);
	rig_close(&r);
}

/* ---- 7. cap and least recent use ---- */

static void test_cap_lru(void)
{
	enum { N = 100, CTX = 512 };
	struct rig r;
	struct eng_state *s = NULL;
	struct kv_store *tiny = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	int32_t seq[5][N];
	for (uint32_t i = 0; i < 5; i++)
		fill_tokens(seq[i], N, 10 + i, r.V);
	if (!(s = new_state(r.m, CTX, false)) || !forward(s, seq[0], N, NULL))
		goto out;
	/* The size of one snapshot, from a store that keeps everything. */
	struct kv_entry en[5];
	if (!save(r.ks, s, "probe") || !entry_by_label(r.dir, "probe", &en[0]))
		goto out;
	uint64_t size = en[0].bytes;
	struct err e = {0};
	char removed[17];
	CHECK(kv_dir_remove(r.dir, en[0].id, removed, &e) == 0, "%s", e.msg);
	kv_store_close(r.ks);
	if (!(r.ks = open_store(r.dir, 2 * size + size / 2, r.m)))
		goto out;

	time_t now = time(NULL);
	const char *labels[] = {"s0", "s1", "s2", "s3", "s4"};
	for (int i = 0; i < 3; i++) {
		eng_state_truncate(s, 0);
		if (!forward(s, seq[i], N, NULL) || !save(r.ks, s, labels[i]))
			goto out;
		if (i < 2 && entry_by_label(r.dir, labels[i], &en[i]))
			set_snapshot_mtime(r.dir, en[i].id, now - 400 + 100 * i);
	}
	CHECK(!entry_by_label(r.dir, "s0", &en[0]), "the least recently used snapshot stayed");
	if (!entry_by_label(r.dir, "s1", &en[1]) || !entry_by_label(r.dir, "s2", &en[2])) {
		CHECK(0, "a snapshot within the cap was removed");
		goto out;
	}

	/* Loading s1 (the older) makes s2 the least recently used. */
	set_snapshot_mtime(r.dir, en[2].id, now - 200);
	struct eng_state *fresh = new_state(r.m, CTX, false);
	struct err note;
	size_t loaded = fresh ? resume(r.ks, fresh, seq[1], N, &note) : 0;
	eng_state_free(fresh);
	CHECK(loaded == N, "loaded %zu of s1", loaded);
	CHECK(entry_by_label(r.dir, "s1", &en[1]) && en[1].mtime >= now - 60,
	      "loading did not count as a use (mtime %lld, now %lld)", (long long)en[1].mtime,
	      (long long)now);
	eng_state_truncate(s, 0);
	if (!forward(s, seq[3], N, NULL) || !save(r.ks, s, labels[3]))
		goto out;
	CHECK(!entry_by_label(r.dir, "s2", &en[2]), "s2, least recently used, stayed");
	CHECK(entry_by_label(r.dir, "s1", &en[1]) && entry_by_label(r.dir, "s3", &en[3]),
	      "s1 (just used) or s3 (just written) was removed");

	/* Larger than the whole cap: refused, nothing written or removed. */
	if (!(tiny = open_store(r.dir, size - 1, r.m)))
		goto out;
	eng_state_truncate(s, 0);
	if (!forward(s, seq[4], N, NULL))
		goto out;
	int rc = kv_store_save(tiny, s, labels[4], &e);
	CHECK(rc == ERR_RANGE && strstr(e.msg, "--kv-cache-max"),
	      "a snapshot over the cap: rc %d, %s", rc, e.msg);
	CHECK(count_files(r.dir, "", "") == 2, "%zu files after a refused save",
	      count_files(r.dir, "", ""));
out:
	kv_store_close(tiny);
	eng_state_free(s);
	rig_close(&r);
}

/* ---- 8. supersede ---- */

static void test_supersede(void)
{
	enum { SHORT = 50, LONG = 80, CTX = 512 };
	struct rig r;
	struct eng_state *s = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	int32_t ids[LONG];
	fill_tokens(ids, LONG, 20, r.V);
	if (!(s = new_state(r.m, CTX, false)) || !forward(s, ids, SHORT, NULL) ||
	    !save(r.ks, s, "short") || !forward(s, ids + SHORT, LONG - SHORT, NULL) ||
	    !save(r.ks, s, "long"))
		goto out;
	struct kv_entry *all = NULL;
	size_t n = 0;
	struct err e = {0};
	CHECK(kv_dir_list(r.dir, &all, &n, &e) == 0, "%s", e.msg);
	CHECK(n == 1 && all[0].tokens == LONG && !strcmp(all[0].label, "long"),
	      "%zu snapshots after extending one (first: %llu tokens, \"%s\")", n,
	      n ? (unsigned long long)all[0].tokens : 0ull, n ? all[0].label : "");
	CHECK(count_files(r.dir, "", "") == 1, "%zu files", count_files(r.dir, "", ""));
	free(all);
out:
	eng_state_free(s);
	rig_close(&r);
}

/* ---- 9. ponder kv: list, remove, gc ---- */

static void test_list_remove_gc(void)
{
	enum { CTX = 512 };
	struct rig r;
	struct eng_state *s = NULL;
	struct kv_entry *all = NULL;
	if (!rig_open(&r, "tiny-v3", ENG_KV_F32, false, BIG_CAP))
		goto out;
	int32_t a[40], b[60];
	fill_tokens(a, 40, 30, r.V);
	fill_tokens(b, 60, 31, r.V);
	if (!(s = new_state(r.m, CTX, false)) || !forward(s, a, 40, NULL) ||
	    !save(r.ks, s, "conversation a"))
		goto out;
	eng_state_truncate(s, 0);
	if (!forward(s, b, 60, NULL) || !save(r.ks, s, "conversation b"))
		goto out;
	struct kv_entry ea, eb;
	if (!entry_by_label(r.dir, "conversation a", &ea) ||
	    !entry_by_label(r.dir, "conversation b", &eb)) {
		CHECK(0, "a snapshot is missing from the listing");
		goto out;
	}
	time_t now = time(NULL);
	set_snapshot_mtime(r.dir, ea.id, now - 100);
	set_snapshot_mtime(r.dir, eb.id, now - 200);
	size_t n = 0;
	struct err e = {0};
	CHECK(kv_dir_list(r.dir, &all, &n, &e) == 0, "%s", e.msg);
	CHECK(n == 2 && !strcmp(all[0].id, ea.id), "listing of %zu, not most recent first", n);
	char path[128];
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s.pkv", r.dir, all[i].id);
		bool is_a = !strcmp(all[i].id, ea.id);
		CHECK(all[i].valid && !strcmp(all[i].model_name, "tiny-v3") &&
		      !strcmp(all[i].kv_type, "f32") && all[i].tokens == (is_a ? 40u : 60u) &&
		      all[i].bytes == (uint64_t)file_size(path),
		      "entry %s: valid %d, model \"%s\", kv %s, %llu tokens, %llu bytes",
		      all[i].id, all[i].valid, all[i].model_name, all[i].kv_type,
		      (unsigned long long)all[i].tokens, (unsigned long long)all[i].bytes);
	}
	free(all);
	all = NULL;

	/* remove: unknown, malformed and ambiguous prefixes are refused. */
	char removed[17] = "", unknown[5], copy[128], prefix[5];
	snprintf(unknown, sizeof unknown, "%04x", 0u);
	for (unsigned v = 0; !strncmp(unknown, ea.id, 4) || !strncmp(unknown, eb.id, 4); v++)
		snprintf(unknown, sizeof unknown, "%04x", v + 1);
	CHECK(kv_dir_remove(r.dir, unknown, removed, &e) == ERR_USAGE, "unknown prefix %s",
	      unknown);
	CHECK(kv_dir_remove(r.dir, "12", removed, &e) == ERR_USAGE, "a 2-digit prefix accepted");
	CHECK(kv_dir_remove(r.dir, "wxyz", removed, &e) == ERR_USAGE, "a non-hex prefix accepted");
	memcpy(prefix, ea.id, 4);
	prefix[4] = '\0';
	snprintf(path, sizeof path, "%s/%s.pkv", r.dir, ea.id);
	snprintf(copy, sizeof copy, "%s/%s%s.pkv", r.dir, prefix,
		 strcmp(ea.id + 4, "000000000000") ? "000000000000" : "ffffffffffff");
	CHECK(check_copy_file(path, copy) == 0, "cannot copy %s", path);
	CHECK(kv_dir_remove(r.dir, prefix, removed, &e) == ERR_USAGE &&
	      strstr(e.msg, "2 snapshots"), "ambiguous prefix %s: %s", prefix, e.msg);
	CHECK(unlink(copy) == 0, "unlink %s", copy);
	CHECK(strncmp(eb.id, prefix, 4), "both ids start with %s", prefix);
	CHECK(kv_dir_remove(r.dir, prefix, removed, &e) == 0 && !strcmp(removed, ea.id),
	      "remove %s: %s", prefix, e.msg);
	CHECK(access(path, F_OK) != 0 && count_files(r.dir, "", ".pkv") == 1,
	      "remove %s left %s", prefix, path);

	/* gc: damaged files and stale temporary files go, then the least recently used. */
	eng_state_truncate(s, 0);
	if (!forward(s, a, 40, NULL) || !save(r.ks, s, "conversation a"))
		goto out;
	set_snapshot_mtime(r.dir, eb.id, now - 200);
	char junk_path[128], old_temp[128], new_temp[128];
	static const char junk[1000] = "not a snapshot";
	snprintf(junk_path, sizeof junk_path, "%s/0123456789abcdef.pkv", r.dir);
	snprintf(old_temp, sizeof old_temp, "%s/.tmp-0123456789abcdef-AAAAAA", r.dir);
	snprintf(new_temp, sizeof new_temp, "%s/.tmp-0123456789abcdef-BBBBBB", r.dir);
	write_file(junk_path, junk, sizeof junk);
	write_file(old_temp, junk, 100);
	write_file(new_temp, junk, 100);
	set_mtime(old_temp, now - 7200);
	struct kv_gc_result gc;
	uint64_t bytes_a = (uint64_t)file_size(path), bytes_b = eb.bytes;
	CHECK(kv_dir_gc(r.dir, bytes_a + bytes_b - 1, &gc, &e) == 0, "%s", e.msg);
	CHECK(gc.removed_damaged == 1 && gc.removed_temp == 1 && gc.removed_old == 1,
	      "gc removed %zu damaged, %zu temporary, %zu old", gc.removed_damaged,
	      gc.removed_temp, gc.removed_old);
	CHECK(gc.kept_bytes == bytes_a && gc.freed_bytes == sizeof junk + 100 + bytes_b,
	      "gc kept %llu bytes (expected %llu), freed %llu", (unsigned long long)gc.kept_bytes,
	      (unsigned long long)bytes_a, (unsigned long long)gc.freed_bytes);
	CHECK(access(path, F_OK) == 0 && access(new_temp, F_OK) == 0 &&
	      access(old_temp, F_OK) != 0 && access(junk_path, F_OK) != 0,
	      "gc kept or removed the wrong files");
out:
	free(all);
	eng_state_free(s);
	rig_close(&r);
}

/* ---- 10. sessions ---- */

static struct eng_session *new_session(struct eng_model *m, struct kv_store *ks, bool write)
{
	struct eng_session *s = NULL;
	struct err e = {0};
	CHECK(eng_session_new(m, 512, false, &s, &e) == 0, "%s", e.msg);
	if (s)
		eng_session_set_kv_store(s, ks, write);
	return s;
}

/* Greedy, and straight to the answer: the reply then has text to settle. */
static const struct gen_params greedy = {.sample = {.temperature = 0, .top_p = 1},
					 .max_tokens = 24, .think_off = true};

static bool chat(struct eng_session *s, const struct chat_turn *turns, size_t n,
		 struct capture *cap, struct gen_stats *st)
{
	struct err e = {0};
	memset(cap, 0, sizeof *cap);
	cap->stop_after = -1;
	int rc = eng_chat(s, turns, n, &greedy, capture_emit, cap, st, &e);
	CHECK(rc == 0, "%s", e.msg);
	return rc == 0;
}

static void test_session_resume(void)
{
	char model_dir[] = TEMP_TEMPLATE, kv_dir[] = TEMP_TEMPLATE, off_dir[] = TEMP_TEMPLATE;
	struct eng_model *m = NULL;
	struct kv_store *ks = NULL, *off_ks = NULL;
	struct eng_session *s1 = NULL, *s2 = NULL, *s3 = NULL;
	static struct capture first, cont1, cont2, ignored;
	struct gen_stats st1, st2;
	if (!chat_model_make(model_dir)) {
		SKIP("needs ../shared/fixtures and models/demo/tokenizer.json");
		goto out;
	}
	if (!temp_dir(kv_dir) || !temp_dir(off_dir))
		goto out;
	if (!(m = open_model(model_dir, ENG_KV_F32, false)) ||
	    !(ks = open_store(kv_dir, BIG_CAP, m)) || !(s1 = new_session(m, ks, true)))
		goto out;
	struct chat_turn turns[3] = {{CHAT_USER, "What is 1 + 2?", 14}};
	if (!chat(s1, turns, 1, &first, &st1))
		goto out;
	turns[1] = (struct chat_turn){CHAT_ASSISTANT, first.text[1], first.len[1]};
	turns[2] = (struct chat_turn){CHAT_USER, "And 3 + 4?", 10};
	CHECK(first.len[1] > 0, "no answer text to settle");
	eng_session_settle(s1, turns, 2, &greedy, "session test", true);
	const char *kv_note = eng_session_kv_note(s1); /* waits for the settle */
	CHECK(!kv_note, "settle: %s", kv_note);
	struct kv_entry en;
	if (!entry_by_label(kv_dir, "session test", &en)) {
		CHECK(0, "the settled conversation was not saved");
		goto out;
	}

	/* A new session picks the conversation up from the snapshot ... */
	if (!(s2 = new_session(m, ks, true)) || !chat(s2, turns, 3, &cont2, &st2))
		goto out;
	CHECK(st2.snapshot_tokens == (int64_t)en.tokens && st2.reused_tokens == (int64_t)en.tokens,
	      "second session: %lld loaded from a snapshot, %lld reused; settled %llu",
	      (long long)st2.snapshot_tokens, (long long)st2.reused_tokens,
	      (unsigned long long)en.tokens);
	/* ... and replies as the session that settled it. */
	if (!chat(s1, turns, 3, &cont1, &st1))
		goto out;
	CHECK(st1.snapshot_tokens == 0 && st1.reused_tokens == (int64_t)en.tokens,
	      "first session: %lld from a snapshot, %lld reused of %llu settled",
	      (long long)st1.snapshot_tokens, (long long)st1.reused_tokens,
	      (unsigned long long)en.tokens);
	CHECK(st1.reasoning_tokens == st2.reasoning_tokens &&
	      st1.answer_tokens == st2.answer_tokens,
	      "token counts differ: %lld+%lld vs %lld+%lld",
	      (long long)st1.reasoning_tokens, (long long)st1.answer_tokens,
	      (long long)st2.reasoning_tokens, (long long)st2.answer_tokens);
	for (int k = 0; k < 2; k++)
		CHECK(cont1.len[k] == cont2.len[k] &&
		      !memcmp(cont1.text[k], cont2.text[k], cont1.len[k]),
		      "channel %d differs after resuming from a snapshot", k);
	printf("  settled %llu tokens; the second session reused them and replied with %lld "
	       "tokens, as the first did\n", (unsigned long long)en.tokens,
	       (long long)(st2.reasoning_tokens + st2.answer_tokens));

	/* With writing off, nothing reaches the folder. */
	if (!(off_ks = open_store(off_dir, BIG_CAP, m)) || !(s3 = new_session(m, off_ks, false)) ||
	    !chat(s3, turns, 1, &ignored, &st1))
		goto out;
	eng_session_settle(s3, turns, 2, &greedy, "not written", true);
	eng_session_settle(s3, turns, 2, &greedy, "not written", false);
	CHECK(!eng_session_kv_note(s3), "a note with writing off");
	CHECK(count_files(off_dir, "", "") == 0, "%zu files written with writing off",
	      count_files(off_dir, "", ""));
out:
	eng_session_free(s1);
	eng_session_free(s2);
	eng_session_free(s3);
	kv_store_close(ks);
	kv_store_close(off_ks);
	eng_model_close(m);
	remove_dir(model_dir);
	remove_dir(kv_dir);
	remove_dir(off_dir);
}

/* Cancelling a settle (as app_chat_stop and quitting do) stops its prefill at a chunk
   boundary and saves the cache as far as it got: a shorter prefix of the same
   conversation, which a later prompt can still resume from. */
static void test_settle_cancel(void)
{
	enum { REPEAT = 250, CTX = 4096 }; /* ~2250 tokens: 17 chunks to cancel between */
	char model_dir[] = TEMP_TEMPLATE, kv_dir[] = TEMP_TEMPLATE;
	struct eng_model *m = NULL;
	struct kv_store *ks = NULL;
	struct eng_session *s = NULL, *full = NULL;
	char *text = NULL;
	struct err e = {0};
	if (!chat_model_make(model_dir)) {
		SKIP("needs ../shared/fixtures and models/demo/tokenizer.json");
		goto out;
	}
	static const char piece[] = "12 + 34 = 46. ";
	size_t len = REPEAT * (sizeof piece - 1);
	if (!temp_dir(kv_dir) || !(text = malloc(len + 1)) ||
	    !(m = open_model(model_dir, ENG_KV_F32, false)) ||
	    !(ks = open_store(kv_dir, BIG_CAP, m)))
		goto out;
	for (size_t i = 0; i < REPEAT; i++)
		memcpy(text + i * (sizeof piece - 1), piece, sizeof piece - 1);
	CHECK(eng_session_new(m, CTX, false, &s, &e) == 0, "%s", e.msg);
	CHECK(eng_session_new(m, CTX, false, &full, &e) == 0, "%s", e.msg);
	if (!s || !full)
		goto out;
	eng_session_set_kv_store(s, ks, true);
	eng_session_set_kv_store(full, ks, true);
	struct chat_turn turns[2] = {{CHAT_USER, text, len}, {CHAT_ASSISTANT, "ok", 2}};

	eng_session_settle(s, turns, 2, &greedy, "cancelled", true);
	eng_session_cancel_settle(s);
	const char *note = eng_session_kv_note(s); /* waits */
	CHECK(!note, "cancelled settle: %s", note);
	struct kv_entry cut, whole; /* read now: the whole one will supersede it */
	bool have_cut = entry_by_label(kv_dir, "cancelled", &cut);
	CHECK(have_cut, "a cancelled settle saved nothing");

	eng_session_settle(full, turns, 2, &greedy, "whole", false);
	CHECK(entry_by_label(kv_dir, "whole", &whole), "the whole settle saved nothing");
	if (have_cut) {
		printf("  cancelled after %llu of %llu tokens\n", (unsigned long long)cut.tokens,
		       (unsigned long long)whole.tokens);
		CHECK(cut.tokens >= 128 && cut.tokens < whole.tokens,
		      "cancelled settle saved %llu tokens of %llu", (unsigned long long)cut.tokens,
		      (unsigned long long)whole.tokens);
	}
out:
	eng_session_free(s);
	eng_session_free(full);
	kv_store_close(ks);
	eng_model_close(m);
	free(text);
	remove_dir(model_dir);
	remove_dir(kv_dir);
}

int main(void)
{
	RUN(test_round_trip_exact);
	RUN(test_partial_prefix);
	RUN(test_mtp);
	RUN(test_damaged_and_foreign);
	RUN(test_disk_full);
	RUN(test_kill_mid_write);
	RUN(test_cap_lru);
	RUN(test_supersede);
	RUN(test_list_remove_gc);
	RUN(test_session_resume);
	RUN(test_settle_cancel);
	return check_finish();
}
