/*
 * head_fp8.c — the output head re-quantised to FP8 at load (--head fp8).
 *
 * DeepSeek ships its matrices in FP8 but the output head in BF16: vocab x hidden x 2
 * bytes (419 MB for V2-Lite, 1.85 GB for V3), read whole on every decoded token, a third
 * of what a V2-Lite-shaped token reads. In FP8 with 128x128 block scales it is half that,
 * and the FP8 kernels take it as they take any other matrix. The cost is e4m3's rounding
 * of the logits (docs/kernels.md gives the measured error), so it is a choice.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/model.h"

/* Gives the stored head's pages back: nothing reads them after the conversion (a private
   file mapping; the page cache keeps the file). Only the page-aligned interior. */
static void drop_pages(const struct kern_mat *m)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (pg <= 0)
		return;
	uintptr_t b = (uintptr_t)m->data, end = b + m->rows * m->cols * kern_dtype_size(m->dtype);
	uintptr_t a0 = (b + (uintptr_t)pg - 1) / (uintptr_t)pg * (uintptr_t)pg;
	uintptr_t a1 = end / (uintptr_t)pg * (uintptr_t)pg;
	if (a1 > a0)
		madvise((void *)a0, a1 - a0, MADV_DONTNEED);
}

/* *m re-quantised into memory the model owns; unchanged (0 returned) when the head is
   FP8 already or its blocks need a scale beyond the FP8 kernels' contract. */
static int head_to_fp8(struct eng_model *m, struct kern_mat *h, bool shared_with_embed,
		       struct err *e)
{
	if (h->dtype == KD_F8_E4M3)
		return 0;
	size_t nscale = (h->rows + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK *
			((h->cols + KERN_FP8_BLOCK - 1) / KERN_FP8_BLOCK);
	uint8_t *q = malloc(h->rows * h->cols);
	float *scale = malloc(nscale * sizeof *scale);
	if (!q || !scale) {
		free(q);
		free(scale);
		return err_set(e, ERR_NOMEM, "out of memory re-quantising the output head to FP8 "
			       "(%zu MB); use --head bf16", h->rows * h->cols >> 20);
	}
	kern_quantize_fp8(m->pool, q, scale, h);
	for (size_t i = 0; i < nscale; i++)
		if (!(scale[i] < KERN_FP8_SCALE_MAX)) { /* huge or NaN values: keep it as stored */
			free(q);
			free(scale);
			return 0;
		}
	if (!shared_with_embed)
		drop_pages(h);
	m->head_q[m->n_head_q++] = q;
	m->head_q[m->n_head_q++] = scale;
	*h = (struct kern_mat){KD_F8_E4M3, q, scale, 0, h->rows, h->cols};
	return 0;
}

int model_head_fp8(struct eng_model *m, struct err *e)
{
	struct model_weights *w = &m->w;
	const void *stored = w->lm_head.data;
	int rc = head_to_fp8(m, &w->lm_head, stored == w->embed.data, e);
	for (int k = 0; !rc && k < w->n_mtp; k++) {
		struct kern_mat *h = &w->mtp[k].head;
		if (h->data == stored) /* the MTP module shares the main head */
			*h = w->lm_head;
		else
			rc = head_to_fp8(m, h, h->data == w->mtp[k].embed.data, e);
	}
	return rc;
}
