/* kv_cache.h — the paged KV pool: fixed-size blocks of block_size tokens for every layer,
 * handed out to sequences through per-sequence block tables. Blocks are reference counted
 * so that later a prefix cache can share them between sequences. Owned by the engine
 * (engine lifetime, sized at start-up); used only from the engine thread. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"

struct kv_cache {
	struct kv_view view; /* what the model reads and writes */
	int32_t *free_list;  /* stack of free block ids */
	int n_free;
	int32_t *refcount;   /* [n_blocks] */
};

/* Allocates n_blocks blocks of block_size tokens for a model's layers (fp32). */
int kv_cache_init(struct kv_cache *kv, const struct model *m, int block_size, int n_blocks, struct err *e);
void kv_cache_free(struct kv_cache *kv);
/* Bytes one token takes across all layers. */
int64_t kv_cache_bytes_per_token(const struct model *m);
/* Takes a free block (refcount 1), or -1 when none is left. */
int32_t kv_cache_alloc_block(struct kv_cache *kv);
void kv_cache_ref_block(struct kv_cache *kv, int32_t block);
void kv_cache_release_block(struct kv_cache *kv, int32_t block);
int kv_cache_n_free(const struct kv_cache *kv);

/* A sequence's block table: grows as the sequence grows. */
struct block_table {
	int32_t *blocks;
	int n_blocks, cap;
};
/* Makes sure positions [0, n_tokens) have blocks; false (nothing changed) if the pool ran out. */
bool block_table_reserve(struct block_table *bt, struct kv_cache *kv, int n_tokens);
/* Releases every block (the table becomes empty). */
void block_table_release(struct block_table *bt, struct kv_cache *kv);
/* Drops blocks past those needed for n_tokens (speculative rollback, truncation). */
void block_table_truncate(struct block_table *bt, struct kv_cache *kv, int n_tokens);
