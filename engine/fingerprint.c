/*
 * fingerprint.c — a 128-bit identity of a model's weights, for KV snapshots.
 *
 * A snapshot's cache rows are only valid for the weights that computed them, so the
 * key must change whenever the weights do. Hashing every byte (700 GB for V3) would cost
 * minutes at each start, so the fingerprint covers what identifies a checkpoint cheaply:
 * config.json as written, every tensor's name, dtype, shape and size, and the first and
 * last bytes of 64 tensors spread over the whole list. Two checkpoints with the same
 * shapes but other weights (a fine-tune, a re-seeded random model) differ in every
 * tensor's bytes and so in the samples; a file edited in the middle of one tensor and
 * nowhere else would not be noticed, which a cache can accept. It costs ~130 page reads.
 */
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "engine/model.h"

#define SAMPLED_TENSORS 64
#define SAMPLE_BYTES 256

static void hash_file(XXH3_state_t *h, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return; /* the model opened, so config.json was there a moment ago */
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		XXH3_128bits_update(h, buf, n);
	fclose(f);
}

void eng_model_fingerprint(const struct eng_model *m, uint8_t out[16])
{
	XXH3_state_t *h = XXH3_createState();
	if (!h) {
		memset(out, 0, 16); /* matches no snapshot written with a real fingerprint */
		return;
	}
	XXH3_128bits_reset(h);
	char path[4096];
	snprintf(path, sizeof path, "%s/config.json", eng_model_dir(m));
	hash_file(h, path);
	size_t n = ckpt_count(m->ckpt);
	for (size_t i = 0; i < n; i++) {
		const struct st_tensor *t = ckpt_at(m->ckpt, i);
		XXH3_128bits_update(h, t->name, strlen(t->name) + 1);
		uint64_t meta[2 + ST_MAX_DIMS] = {(uint64_t)t->dtype, t->nbytes};
		for (int d = 0; d < t->ndim && d < ST_MAX_DIMS; d++)
			meta[2 + d] = t->shape[d];
		XXH3_128bits_update(h, meta, sizeof meta);
	}
	for (size_t s = 0; s < SAMPLED_TENSORS && n; s++) {
		const struct st_tensor *t = ckpt_at(m->ckpt, s * n / SAMPLED_TENSORS);
		size_t k = t->nbytes < SAMPLE_BYTES ? (size_t)t->nbytes : SAMPLE_BYTES;
		const uint8_t *d = t->data;
		XXH3_128bits_update(h, d, k);
		XXH3_128bits_update(h, d + t->nbytes - k, k);
	}
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h));
	memcpy(out, c.digest, 16);
	XXH3_freeState(h);
}
