/*
 * kv_store.c — the folder of KV snapshots (see kv_store.h).
 */
#include "engine/kv_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/bytes.h"
#include "engine/kv_snapshot.h"
#include "engine/model.h"

#define SUFFIX ".pkv"
#define TEMP_PREFIX ".tmp-"
#define STALE_TEMP_SECONDS 3600
#define MIN_PARTIAL 32 /* tokens: the least of a snapshot worth loading without the rest */

struct kv_store {
	char dir[4096];
	uint64_t max_bytes;
	uint8_t model[16];
	char model_name[64];
	bool noted_version; /* a snapshot of another format was reported once */
};

/* "<16 hex>.pkv" -> the id; NULL for any other name. */
static bool snapshot_id(const char *name, char id[17])
{
	size_t n = strlen(name);
	if (n != 16 + strlen(SUFFIX) || strcmp(name + 16, SUFFIX))
		return false;
	for (size_t i = 0; i < 16; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return false;
	memcpy(id, name, 16);
	id[16] = '\0';
	return true;
}

static void snapshot_path(const char *dir, const char *id, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s" SUFFIX, dir, id);
}

int kv_store_open(const char *dir, uint64_t max_bytes, struct eng_model *m,
		  struct kv_store **out, struct err *e)
{
	*out = NULL;
	if (strlen(dir) >= sizeof((struct kv_store *)0)->dir - 32)
		return err_set(e, ERR_RANGE, "KV snapshot folder path too long: %s", dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return err_set(e, ERR_IO, "cannot create the KV snapshot folder %s: %s", dir,
			       strerror(errno));
	struct kv_store *ks = calloc(1, sizeof *ks);
	if (!ks)
		return err_set(e, ERR_NOMEM, "out of memory");
	snprintf(ks->dir, sizeof ks->dir, "%s", dir);
	ks->max_bytes = max_bytes;
	eng_model_fingerprint(m, ks->model);
	const char *d = eng_model_dir(m), *base = strrchr(d, '/');
	snprintf(ks->model_name, sizeof ks->model_name, "%s", base && base[1] ? base + 1 : d);
	*out = ks;
	return 0;
}

void kv_store_close(struct kv_store *ks)
{
	free(ks);
}

/* One snapshot file, open and its header checked. */
struct opened {
	int fd;
	char id[17];
	struct kv_snap_header h;
};

/* Opens dir/name when it is a snapshot. Returns 1 when open and valid, 0 when not a
   snapshot or gone, -1 when damaged (why says how). */
static int open_snapshot(const char *dir, const char *name, struct opened *o, char *why,
			 size_t why_size)
{
	if (!snapshot_id(name, o->id))
		return 0;
	char path[4200];
	snapshot_path(dir, o->id, path, sizeof path);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0)
		return 0; /* removed by another process meanwhile */
	struct stat sb;
	if (fstat(o->fd, &sb) ||
	    kv_snap_read_header(o->fd, (uint64_t)sb.st_size, &o->h, why, why_size)) {
		if (!why[0])
			snprintf(why, why_size, "cannot be read");
		close(o->fd);
		return -1;
	}
	return 1;
}

/* A damaged snapshot: removed, and described in the note unless one is there already.
   A snapshot of another format version is left for the ponder that wrote it. */
static void note_damaged(struct kv_store *ks, const struct opened *o, const char *why,
			 struct err *note)
{
	bool other_version = strstr(why, "snapshot format") != NULL;
	if (other_version && ks->noted_version)
		return;
	ks->noted_version |= other_version;
	if (!other_version) {
		char path[4200];
		snapshot_path(ks->dir, o->id, path, sizeof path);
		unlink(path);
	}
	if (!note->code)
		err_set(note, ERR_FORMAT, "KV snapshot %s %s: %s; the conversation is computed "
			"again instead", o->id, other_version ? "ignored" : "removed", why);
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

int kv_store_resume(struct kv_store *ks, struct eng_state *s, const int32_t *ids, size_t n,
		    size_t *loaded, struct err *note)
{
	*loaded = 0;
	struct kv_snap_header mine;
	kv_snap_header_init(&mine, s, ks->model, NULL, NULL);
	DIR *d = opendir(ks->dir);
	if (!d)
		return 0;
	struct opened best = {.fd = -1};
	size_t best_k = 0, best_gain = eng_state_pos(s); /* to beat: what s holds */
	int32_t *toks = NULL;
	size_t toks_cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct opened o;
		char why[200] = "";
		int r = open_snapshot(ks->dir, de->d_name, &o, why, sizeof why);
		if (r < 0)
			note_damaged(ks, &o, why, note);
		if (r <= 0)
			continue;
		size_t k = 0;
		/* What a snapshot saves is at most its length: a short one is not even read. */
		if (kv_snap_compatible(&o.h, &mine) && o.h.mtp_layers >= mine.mtp_layers &&
		    o.h.tokens > best_gain) {
			if (o.h.tokens > toks_cap) {
				free(toks);
				toks_cap = (size_t)o.h.tokens;
				if (!(toks = malloc(toks_cap * sizeof *toks))) {
					close(o.fd);
					rc = err_set(note, ERR_NOMEM, "out of memory");
					break;
				}
			}
			struct err ignored = {0};
			if (!kv_snap_read_tokens(o.fd, &o.h, toks, &ignored))
				k = common_prefix(toks, (size_t)o.h.tokens, ids, n);
			if (mine.mtp_layers && k > o.h.mtp_rows + 1)
				k = (size_t)o.h.mtp_rows + 1;
			if (k > eng_state_ctx(s)) /* ids may run past the context */
				k = eng_state_ctx(s);
		}
		/* A part of a snapshot costs a read of all of it (its checksum): worth it for
		   a shared system prompt, not for "<BOS><User>What is". */
		if (k < o.h.tokens && k < MIN_PARTIAL)
			k = 0;
		size_t gain = k ? kv_snap_resumes(&o.h, s, k) : 0;
		if (gain > best_gain) {
			if (best.fd >= 0)
				close(best.fd);
			best = o;
			best_k = k;
			best_gain = gain;
		} else {
			close(o.fd);
		}
	}
	closedir(d);
	free(toks);
	if (best.fd < 0)
		return rc;
	struct err le = {0};
	int lr = kv_snap_load(best.fd, &best.h, s, best_k, &le);
	if (lr == ERR_NOMEM) {
		rc = err_set(note, ERR_NOMEM, "%s", le.msg); /* the snapshot is fine: keep it */
	} else if (lr) {
		note_damaged(ks, &best, le.msg, note);
	} else {
		futimens(best.fd, NULL); /* used now: last in line for eviction */
		*loaded = eng_state_pos(s);
	}
	close(best.fd);
	return rc;
}

/* ---- writing ---- */

static void snapshot_id_of(const struct kv_snap_header *h, const int32_t *tokens, char id[17])
{
	XXH3_state_t *x = XXH3_createState();
	uint64_t v = 0;
	if (x) {
		XXH3_64bits_reset(x);
		XXH3_64bits_update(x, h->model, sizeof h->model);
		XXH3_64bits_update(x, &h->kv_type, sizeof h->kv_type);
		XXH3_64bits_update(x, &h->mtp_layers, sizeof h->mtp_layers);
		XXH3_64bits_update(x, h->kernels, strnlen(h->kernels, sizeof h->kernels));
		XXH3_64bits_update(x, tokens, (size_t)h->tokens * sizeof *tokens);
		v = XXH3_64bits_digest(x);
		XXH3_freeState(x);
	}
	snprintf(id, 17, "%016llx", (unsigned long long)v);
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Removes the snapshots whose rows the new one (h, tokens, id) holds too. */
static void remove_superseded(struct kv_store *ks, const struct kv_snap_header *h,
			      const int32_t *tokens, const char *id)
{
	DIR *d = opendir(ks->dir);
	if (!d)
		return;
	int32_t *toks = NULL, *grown;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct opened o;
		char why[200] = "";
		if (open_snapshot(ks->dir, de->d_name, &o, why, sizeof why) <= 0)
			continue;
		bool covered = strcmp(o.id, id) && kv_snap_compatible(&o.h, h) &&
			       o.h.tokens <= h->tokens && o.h.mtp_layers <= h->mtp_layers;
		struct err ignored = {0};
		if (covered &&
		    (grown = realloc(toks, (size_t)(o.h.tokens + 1) * sizeof *toks)) &&
		    (toks = grown) && !kv_snap_read_tokens(o.fd, &o.h, toks, &ignored) &&
		    !memcmp(toks, tokens, (size_t)o.h.tokens * sizeof *toks)) {
			char path[4200];
			snapshot_path(ks->dir, o.id, path, sizeof path);
			unlink(path);
		}
		close(o.fd);
	}
	free(toks);
	closedir(d);
}

static int evict(const char *dir, uint64_t max_bytes, const char *keep_id, size_t *removed,
		 uint64_t *freed, uint64_t *kept, struct err *e);
static void sweep(const char *dir, bool damaged_too, struct kv_gc_result *r);

int kv_store_save(struct kv_store *ks, const struct eng_state *s, const char *label,
		  struct err *e)
{
	struct kv_snap_header h;
	kv_snap_header_init(&h, s, ks->model, ks->model_name, label);
	uint64_t bytes = kv_snap_file_bytes(&h);
	if (bytes > ks->max_bytes) {
		char need[32], cap[32];
		fmt_bytes(need, sizeof need, bytes);
		fmt_bytes(cap, sizeof cap, ks->max_bytes);
		return err_set(e, ERR_RANGE, "a KV snapshot of this conversation needs %s, more "
			       "than the whole snapshot cache (--kv-cache-max %s); it is not saved",
			       need, cap);
	}
	char id[17], tmp[4200], path[4200];
	snapshot_id_of(&h, eng_state_tokens(s), id);
	snprintf(tmp, sizeof tmp, "%s/" TEMP_PREFIX "%s-XXXXXX", ks->dir, id);
	int fd = mkstemp(tmp);
	if (fd < 0)
		return err_set(e, ERR_IO, "cannot create a KV snapshot in %s: %s", ks->dir,
			       strerror(errno));
	int rc = kv_snap_write(fd, s, &h, e);
	if (!rc && fsync(fd))
		rc = err_set(e, ERR_IO, "writing a KV snapshot: %s", strerror(errno));
	if (close(fd) && !rc)
		rc = err_set(e, ERR_IO, "writing a KV snapshot: %s", strerror(errno));
	snapshot_path(ks->dir, id, path, sizeof path);
	if (!rc && rename(tmp, path))
		rc = err_set(e, ERR_IO, "cannot move a KV snapshot into place in %s: %s", ks->dir,
			     strerror(errno));
	if (rc) {
		unlink(tmp);
		return rc;
	}
	fsync_dir(ks->dir);
	remove_superseded(ks, &h, eng_state_tokens(s), id);
	struct kv_gc_result swept = {0};
	sweep(ks->dir, false, &swept); /* what a process killed mid-write left */
	size_t removed;
	uint64_t freed, kept;
	return evict(ks->dir, ks->max_bytes, id, &removed, &freed, &kept, e);
}

/* ---- the folder ---- */

static int by_recent_use(const void *a, const void *b)
{
	const struct kv_entry *x = a, *y = b;
	return (x->mtime < y->mtime) - (x->mtime > y->mtime);
}

int kv_dir_list(const char *dir, struct kv_entry **out, size_t *n, struct err *e)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0
				       : err_set(e, ERR_IO, "cannot read %s: %s", dir, strerror(errno));
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		struct opened o;
		char why[200] = "";
		int r = open_snapshot(dir, de->d_name, &o, why, sizeof why);
		if (!r)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			struct kv_entry *g = realloc(*out, cap * sizeof *g);
			if (!g) {
				if (r > 0)
					close(o.fd);
				closedir(d);
				free(*out);
				*out = NULL;
				*n = 0;
				return err_set(e, ERR_NOMEM, "out of memory");
			}
			*out = g;
		}
		struct kv_entry *en = &(*out)[(*n)++];
		memset(en, 0, sizeof *en);
		memcpy(en->id, o.id, sizeof en->id);
		char path[4200];
		snapshot_path(dir, o.id, path, sizeof path);
		struct stat sb;
		if (!stat(path, &sb)) {
			en->bytes = (uint64_t)sb.st_size;
			en->mtime = (int64_t)sb.st_mtime;
		}
		en->valid = r > 0;
		if (r < 0) {
			snprintf(en->problem, sizeof en->problem, "%s", why);
			continue;
		}
		snprintf(en->model_name, sizeof en->model_name, "%.*s", (int)sizeof o.h.model_name,
			 o.h.model_name);
		snprintf(en->label, sizeof en->label, "%.*s", (int)sizeof o.h.label, o.h.label);
		snprintf(en->kv_type, sizeof en->kv_type, "%s",
			 o.h.kv_type <= ENG_KV_FP8 ? eng_kv_type_name((enum eng_kv_type)o.h.kv_type)
						   : "?");
		en->tokens = o.h.tokens;
		close(o.fd);
	}
	closedir(d);
	qsort(*out, *n, sizeof **out, by_recent_use);
	return 0;
}

int kv_dir_remove(const char *dir, const char *prefix, char *removed_id, struct err *e)
{
	size_t len = strlen(prefix);
	if (len < 4 || len > 16 || strspn(prefix, "0123456789abcdef") != len)
		return err_set(e, ERR_USAGE, "'%s' is not a snapshot id: give at least 4 of the hex "
			       "digits `ponder kv ls` shows", prefix);
	struct kv_entry *all;
	size_t n;
	int rc = kv_dir_list(dir, &all, &n, e);
	if (rc)
		return rc;
	size_t match = n, count = 0;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(all[i].id, prefix, len)) {
			match = i;
			count++;
		}
	if (count != 1) {
		free(all);
		if (count)
			return err_set(e, ERR_USAGE, "%zu snapshots have ids starting with %s; give "
				       "more digits", count, prefix);
		return err_set(e, ERR_USAGE, "no snapshot has an id starting with %s (see `ponder "
			       "kv ls`)", prefix);
	}
	char path[4200];
	snapshot_path(dir, all[match].id, path, sizeof path);
	memcpy(removed_id, all[match].id, 17);
	free(all);
	if (unlink(path) && errno != ENOENT)
		return err_set(e, ERR_IO, "cannot remove %s: %s", path, strerror(errno));
	return 0;
}

int kv_dir_remove_label(const char *dir, const char *label, size_t *removed, struct err *e)
{
	*removed = 0;
	struct kv_entry *all;
	size_t n;
	int rc = kv_dir_list(dir, &all, &n, e);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!all[i].valid || strcmp(all[i].label, label))
			continue;
		char path[4200];
		snapshot_path(dir, all[i].id, path, sizeof path);
		if (unlink(path) && errno != ENOENT)
			rc = err_set(e, ERR_IO, "cannot remove %s: %s", path, strerror(errno));
		else
			(*removed)++;
	}
	free(all);
	return rc;
}

/* Least recently used snapshots out until the folder's *.pkv files (damaged ones too)
   fit max_bytes; keep_id (may be NULL) stays. */
static int evict(const char *dir, uint64_t max_bytes, const char *keep_id, size_t *removed,
		 uint64_t *freed, uint64_t *kept, struct err *e)
{
	*removed = 0;
	*freed = *kept = 0;
	struct kv_entry *all;
	size_t n;
	int rc = kv_dir_list(dir, &all, &n, e);
	if (rc)
		return rc;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += all[i].bytes;
	/* all is most recent first: remove from the end. */
	for (size_t i = n; i-- > 0 && total > max_bytes;) {
		if (keep_id && !strcmp(all[i].id, keep_id))
			continue;
		char path[4200];
		snapshot_path(dir, all[i].id, path, sizeof path);
		if (!unlink(path) || errno == ENOENT) {
			total -= all[i].bytes;
			*freed += all[i].bytes;
			(*removed)++;
		}
	}
	*kept = total;
	free(all);
	return 0;
}

/* Removes temporary files of writes that never finished (older than an hour, so that a
   write in progress elsewhere is left alone) and, with damaged_too, snapshots that fail
   their checks. */
static void sweep(const char *dir, bool damaged_too, struct kv_gc_result *r)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat sb;
		if (lstat(path, &sb) || !S_ISREG(sb.st_mode))
			continue;
		bool stale_temp = !strncmp(de->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) &&
				  now - sb.st_mtime > STALE_TEMP_SECONDS;
		struct opened o;
		char why[200] = "";
		int opened = stale_temp || !damaged_too
				     ? 0 : open_snapshot(dir, de->d_name, &o, why, sizeof why);
		if (opened > 0)
			close(o.fd);
		bool damaged = opened < 0;
		if ((!damaged && !stale_temp) || unlink(path))
			continue;
		r->freed_bytes += (uint64_t)sb.st_size;
		if (damaged)
			r->removed_damaged++;
		else
			r->removed_temp++;
	}
	closedir(d);
}

int kv_dir_gc(const char *dir, uint64_t max_bytes, struct kv_gc_result *r, struct err *e)
{
	memset(r, 0, sizeof *r);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0
				       : err_set(e, ERR_IO, "cannot read %s: %s", dir, strerror(errno));
	closedir(d);
	sweep(dir, true, r);
	uint64_t freed;
	int rc = evict(dir, max_bytes, NULL, &r->removed_old, &freed, &r->kept_bytes, e);
	r->freed_bytes += freed;
	return rc;
}
