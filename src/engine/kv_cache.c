/* kv_cache.c — see kv_cache.h. */
#include "engine/kv_cache.h"

#include <stdlib.h>
#include <string.h>

int64_t kv_cache_bytes_per_token(const struct model *m)
{
	int64_t ks, vs;
	m->arch->kv_strides(&m->cfg, &ks, &vs);
	return (ks + vs) * (int64_t)sizeof(float) * m->cfg.n_layers;
}

int kv_cache_init(struct kv_cache *kv, const struct model *m, int block_size, int n_blocks, struct err *e)
{
	memset(kv, 0, sizeof *kv);
	if (block_size <= 0 || n_blocks <= 0) return err_set(e, "kv cache: block size %d and block count %d must be positive", block_size, n_blocks);
	struct kv_view *v = &kv->view;
	m->arch->kv_strides(&m->cfg, &v->k_stride, &v->v_stride);
	v->n_layers = m->cfg.n_layers;
	v->block_size = block_size;
	v->n_blocks = n_blocks;
	v->k = xcalloc(v->n_layers, sizeof *v->k);
	v->v = xcalloc(v->n_layers, sizeof *v->v);
	size_t slots = (size_t)block_size * n_blocks;
	for (int l = 0; l < v->n_layers; l++) {
		/* calloc: pages are mapped lazily, so a generous budget costs only what is used */
		v->k[l] = calloc(slots * v->k_stride, sizeof(float));
		v->v[l] = calloc(slots * v->v_stride, sizeof(float));
		if (!v->k[l] || !v->v[l]) {
			kv_cache_free(kv);
			return err_set(e, "kv cache: cannot allocate %zu tokens x %d layers", slots, v->n_layers);
		}
	}
	kv->free_list = xmalloc(n_blocks * sizeof *kv->free_list);
	kv->refcount = xcalloc(n_blocks, sizeof *kv->refcount);
	for (int i = 0; i < n_blocks; i++) kv->free_list[i] = n_blocks - 1 - i; /* pop gives 0, 1, 2, ... */
	kv->n_free = n_blocks;
	return 0;
}

void kv_cache_free(struct kv_cache *kv)
{
	for (int l = 0; l < kv->view.n_layers; l++) {
		if (kv->view.k) free(kv->view.k[l]);
		if (kv->view.v) free(kv->view.v[l]);
	}
	free(kv->view.k), free(kv->view.v), free(kv->free_list), free(kv->refcount);
	memset(kv, 0, sizeof *kv);
}

int32_t kv_cache_alloc_block(struct kv_cache *kv)
{
	if (!kv->n_free) return -1;
	int32_t b = kv->free_list[--kv->n_free];
	GLM_ASSERT(kv->refcount[b] == 0);
	kv->refcount[b] = 1;
	return b;
}

void kv_cache_ref_block(struct kv_cache *kv, int32_t b)
{
	GLM_ASSERT(b >= 0 && b < kv->view.n_blocks && kv->refcount[b] > 0);
	kv->refcount[b]++;
}

void kv_cache_release_block(struct kv_cache *kv, int32_t b)
{
	GLM_ASSERT(b >= 0 && b < kv->view.n_blocks && kv->refcount[b] > 0);
	if (--kv->refcount[b] == 0) kv->free_list[kv->n_free++] = b;
}

int kv_cache_n_free(const struct kv_cache *kv) { return kv->n_free; }

bool block_table_reserve(struct block_table *bt, struct kv_cache *kv, int n_tokens)
{
	int need = (n_tokens + kv->view.block_size - 1) / kv->view.block_size;
	if (need <= bt->n_blocks) return true;
	if (need - bt->n_blocks > kv->n_free) return false;
	if (need > bt->cap) {
		bt->cap = need * 2;
		bt->blocks = xrealloc(bt->blocks, bt->cap * sizeof *bt->blocks);
	}
	while (bt->n_blocks < need) bt->blocks[bt->n_blocks++] = kv_cache_alloc_block(kv);
	return true;
}

void block_table_truncate(struct block_table *bt, struct kv_cache *kv, int n_tokens)
{
	int keep = (n_tokens + kv->view.block_size - 1) / kv->view.block_size;
	while (bt->n_blocks > keep) kv_cache_release_block(kv, bt->blocks[--bt->n_blocks]);
}

void block_table_release(struct block_table *bt, struct kv_cache *kv)
{
	block_table_truncate(bt, kv, 0);
	free(bt->blocks);
	memset(bt, 0, sizeof *bt);
}
