/* prefix_cache.h — shares the KV blocks of identical token prefixes between sequences
 * (hash-chain style): every full block is named by a hash of its tokens chained with the hash
 * of the block before it, so equal names mean equal prefixes. The cache holds one reference
 * on each block it knows; a block referenced only by the cache is evictable, least recently
 * used first, when the pool runs out. Engine thread only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/kv_cache.h"

struct prefix_entry;

struct prefix_cache {
	struct kv_cache *kv;
	struct prefix_entry *entries; /* [n_blocks], indexed by block id */
	int32_t *table;               /* open addressing over block ids, -1 empty */
	int table_cap;
	int32_t lru_head, lru_tail;   /* most / least recently used cached blocks */
	int n_cached;
	long long hit_tokens, query_tokens;
};

uint64_t prefix_hash(uint64_t parent, const int32_t *tokens, int n);

void prefix_cache_init(struct prefix_cache *pc, struct kv_cache *kv);
void prefix_cache_free(struct prefix_cache *pc);
/* Longest cached chain of full blocks that prefixes tokens[0, n_tokens); stores those block
 * ids (each with a new reference for the caller) and their hashes; returns how many. */
int prefix_cache_match(struct prefix_cache *pc, const int32_t *tokens, int n_tokens, int max_blocks, int32_t *blocks,
                       uint64_t *hashes);
/* Offers a full block under its chain hash; the cache takes a reference unless that hash is
 * already cached (then nothing changes). */
void prefix_cache_insert(struct prefix_cache *pc, uint64_t hash, int32_t block);
/* Blocks that are cached but used by no sequence (they can be evicted on demand). */
int prefix_cache_n_evictable(const struct prefix_cache *pc);
/* Evicts least recently used unreferenced blocks until the pool has n free; false if it cannot. */
bool prefix_cache_make_room(struct prefix_cache *pc, int n);
bool prefix_cache_is_cached(const struct prefix_cache *pc, int32_t block);
