/*
 * kv_snapshot.c — reading and writing one KV snapshot file (see kv_snapshot.h).
 */
#include "engine/kv_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "engine/model.h"

#define TOKEN_ALIGN 64
#define IO_CHUNK (4u << 20)

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "KV snapshots are written in the host's byte order, assumed little-endian"
#endif

static uint64_t tokens_bytes(uint64_t n)
{
	return (n * 4 + TOKEN_ALIGN - 1) / TOKEN_ALIGN * TOKEN_ALIGN;
}

static uint64_t layers_offset(const struct kv_snap_header *h)
{
	return sizeof *h + tokens_bytes(h->tokens);
}

static uint64_t mtp_offset(const struct kv_snap_header *h)
{
	return layers_offset(h) + (uint64_t)h->layers * h->tokens * h->row_bytes;
}

static uint64_t hidden_offset(const struct kv_snap_header *h)
{
	return mtp_offset(h) + (uint64_t)h->mtp_layers * h->mtp_rows * h->row_bytes;
}

uint64_t kv_snap_file_bytes(const struct kv_snap_header *h)
{
	return hidden_offset(h) + (uint64_t)h->hidden_dim * sizeof(float);
}

/* The hidden state of the sequence's last position, in the MTP ring. */
static float *last_hidden(const struct eng_state *s)
{
	return s->hidden + ((s->pos - 1) % s->ring) * (size_t)s->m->cfg->hidden_size;
}

static uint64_t header_hash(const struct kv_snap_header *h)
{
	return XXH3_64bits(h, offsetof(struct kv_snap_header, header_hash));
}

static int pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	uint8_t *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r, n -= (size_t)r;
	}
	return 0;
}

int kv_snap_read_header(int fd, uint64_t st_size, struct kv_snap_header *h, char *why,
			size_t why_size)
{
	const char *fmt = NULL;
	if (st_size < sizeof *h || pread_all(fd, h, sizeof *h, 0))
		fmt = "shorter than a snapshot header";
	else if (memcmp(h->magic, KV_SNAP_MAGIC, sizeof h->magic))
		fmt = "not a ponder KV snapshot";
	else if (h->version != KV_SNAP_VERSION) {
		snprintf(why, why_size, "written in snapshot format %u; this ponder reads format %u",
			 h->version, KV_SNAP_VERSION);
		return ERR_FORMAT;
	} else if (h->header_hash != header_hash(h))
		fmt = "its header fails its checksum";
	else if (h->mtp_layers > 1 || !h->row_bytes || !h->layers || h->tokens > (1u << 30) ||
		 h->mtp_rows > h->tokens || h->hidden_dim > (1u << 20) ||
		 (h->hidden_dim && !h->mtp_layers))
		fmt = "its header holds impossible sizes";
	else if (kv_snap_file_bytes(h) != st_size) {
		snprintf(why, why_size, "%llu bytes where its header says %llu (cut short when it "
			 "was written?)", (unsigned long long)st_size,
			 (unsigned long long)kv_snap_file_bytes(h));
		return ERR_FORMAT;
	}
	if (fmt) {
		snprintf(why, why_size, "%s", fmt);
		return ERR_FORMAT;
	}
	return 0;
}

int kv_snap_read_tokens(int fd, const struct kv_snap_header *h, int32_t *out, struct err *e)
{
	int rc = pread_all(fd, out, h->tokens * 4, sizeof *h);
	return rc ? err_set(e, ERR_IO, "reading a KV snapshot's tokens: %s", strerror(-rc)) : 0;
}

void kv_snap_header_init(struct kv_snap_header *h, const struct eng_state *s,
			 const uint8_t model[16], const char *model_name, const char *label)
{
	*h = (struct kv_snap_header){.version = KV_SNAP_VERSION,
				     .kv_type = (uint32_t)s->m->kv_type, .tokens = s->pos,
				     .layers = (uint32_t)s->m->cfg->num_hidden_layers,
				     .mtp_layers = s->mtp ? 1 : 0, .row_bytes = (uint32_t)s->row,
				     .created = (int64_t)time(NULL)};
	memcpy(h->magic, KV_SNAP_MAGIC, sizeof h->magic);
	memcpy(h->model, model, sizeof h->model);
	/* After a forward the MTP module has rows for every position but the last; after a
	   draft, the last row used a token that is not in the cache. */
	if (s->mtp && s->pos) {
		h->mtp_rows = s->mtp_pos < s->pos ? s->mtp_pos : s->pos - 1;
		h->hidden_dim = (uint32_t)s->m->cfg->hidden_size;
	}
	snprintf(h->kernels, sizeof h->kernels, "%s", eng_model_kernels(s->m));
	snprintf(h->model_name, sizeof h->model_name, "%s", model_name ? model_name : "");
	snprintf(h->label, sizeof h->label, "%s", label ? label : "");
}

bool kv_snap_compatible(const struct kv_snap_header *a, const struct kv_snap_header *b)
{
	return !memcmp(a->model, b->model, sizeof a->model) && a->kv_type == b->kv_type &&
	       a->layers == b->layers && a->row_bytes == b->row_bytes &&
	       !strncmp(a->kernels, b->kernels, sizeof a->kernels);
}

int kv_snap_write(int fd, const struct eng_state *s, struct kv_snap_header *h,
		  struct err *e)
{
	XXH3_state_t *x = XXH3_createState();
	if (!x)
		return err_set(e, ERR_NOMEM, "out of memory writing a KV snapshot");
	XXH3_64bits_reset(x);
	/* The header goes last: until then the file fails every check. */
	struct kv_snap_header blank = {0};
	int rc = write_all(fd, &blank, sizeof blank);
	static const uint8_t zeros[TOKEN_ALIGN];
	size_t tb = (size_t)h->tokens * 4;
	if (!rc) {
		XXH3_64bits_update(x, s->tokens, tb);
		rc = write_all(fd, s->tokens, tb);
	}
	if (!rc)
		rc = write_all(fd, zeros, (size_t)tokens_bytes(h->tokens) - tb);
	size_t layer_bytes = (size_t)h->tokens * s->row;
	for (uint32_t l = 0; !rc && l < h->layers + h->mtp_layers; l++) {
		size_t n = l < h->layers ? layer_bytes : (size_t)h->mtp_rows * s->row;
		const uint8_t *rows = state_layer_cache((struct eng_state *)s, l);
		XXH3_64bits_update(x, rows, n);
		rc = write_all(fd, rows, n);
	}
	if (!rc && h->hidden_dim) {
		XXH3_64bits_update(x, last_hidden(s), h->hidden_dim * sizeof(float));
		rc = write_all(fd, last_hidden(s), h->hidden_dim * sizeof(float));
	}
	h->payload_hash = XXH3_64bits_digest(x);
	XXH3_freeState(x);
	h->header_hash = header_hash(h);
	if (!rc) {
		ssize_t w;
		do
			w = pwrite(fd, h, sizeof *h, 0);
		while (w < 0 && errno == EINTR);
		rc = w == (ssize_t)sizeof *h ? 0 : w < 0 ? -errno : -EIO;
	}
	if (rc)
		return err_set(e, ERR_IO, "writing a KV snapshot: %s%s", strerror(-rc),
			       rc == -ENOSPC ? " (the disk is full)" : "");
	return 0;
}

/* Reads `n` bytes at `off`, hashing them; the first `keep` land in dst, the rest only
   pass through buf. */
static int read_hashed(int fd, uint64_t off, size_t n, uint8_t *dst, size_t keep,
		       uint8_t *buf, XXH3_state_t *x)
{
	for (size_t done = 0; done < n;) {
		size_t k = n - done < IO_CHUNK ? n - done : IO_CHUNK;
		uint8_t *to = buf;
		if (done < keep) {
			if (k > keep - done)
				k = keep - done;
			to = dst + done;
		}
		int rc = pread_all(fd, to, k, off + done);
		if (rc)
			return rc;
		XXH3_64bits_update(x, to, k);
		done += k;
	}
	return 0;
}

size_t kv_snap_resumes(const struct kv_snap_header *h, const struct eng_state *s, size_t k)
{
	bool has_hidden = k == h->tokens && h->hidden_dim == (uint32_t)s->m->cfg->hidden_size;
	return s->mtp && !has_hidden ? k - 1 : k;
}

int kv_snap_load(int fd, const struct kv_snap_header *h, struct eng_state *s, size_t k,
		 struct err *e)
{
	if (!k || k > h->tokens || k > s->ctx ||
	    (s->mtp && (!h->mtp_layers || k - 1 > h->mtp_rows)))
		return err_set(e, ERR_USAGE, "kv_snap_load: %zu positions asked of a snapshot "
			       "of %llu for a context of %zu", k, (unsigned long long)h->tokens,
			       s->ctx);
	uint8_t *buf = malloc(IO_CHUNK);
	XXH3_state_t *x = XXH3_createState();
	int rc = 0;
	if (!buf || !x) {
		rc = err_set(e, ERR_NOMEM, "out of memory reading a KV snapshot");
		goto out;
	}
	XXH3_64bits_reset(x);
	s->pos = 0;
	s->mtp_pos = 0;
	size_t layer_bytes = (size_t)h->tokens * s->row, keep = k * s->row;
	int io = read_hashed(fd, sizeof *h, (size_t)h->tokens * 4, (uint8_t *)s->tokens, k * 4,
			     buf, x);
	for (uint32_t l = 0; !io && l < h->layers; l++)
		io = read_hashed(fd, layers_offset(h) + (uint64_t)l * layer_bytes, layer_bytes,
				 state_layer_cache(s, l), keep, buf, x);
	if (!io && h->mtp_layers) {
		/* MTP row i used token i+1: rows [0, k-1) belong to the first k positions. */
		size_t mtp_keep = s->mtp ? (k - 1) * s->row : 0;
		io = read_hashed(fd, mtp_offset(h), (size_t)h->mtp_rows * s->row,
				 s->mtp ? state_layer_cache(s, h->layers) : buf, mtp_keep, buf, x);
	}
	if (!io && h->hidden_dim)
		io = read_hashed(fd, hidden_offset(h), h->hidden_dim * sizeof(float), NULL, 0, buf,
				 x);
	if (io) {
		rc = err_set(e, ERR_IO, "reading a KV snapshot: %s", strerror(-io));
		goto out;
	}
	if (XXH3_64bits_digest(x) != h->payload_hash) {
		rc = err_set(e, ERR_FORMAT, "its contents fail their checksum");
		goto out;
	}
	s->pos = k;
	if (s->mtp && kv_snap_resumes(h, s, k) == k) {
		memcpy(last_hidden(s), buf, h->hidden_dim * sizeof(float));
		s->mtp_pos = k - 1;
	} else if (s->mtp) {
		state_drop_last_hidden(s);
	}
out:
	free(buf);
	XXH3_freeState(x);
	return rc;
}
