/* prefix_cache.c — see prefix_cache.h. */
#include "engine/prefix_cache.h"

#include <stdlib.h>
#include <string.h>

struct prefix_entry {
	uint64_t hash;
	bool cached;
	int32_t prev, next; /* LRU links (block ids), -1 at the ends */
};

uint64_t prefix_hash(uint64_t parent, const int32_t *tokens, int n)
{
	/* FNV-1a over the parent hash and the token ids, then a final avalanche (splitmix64) */
	uint64_t h = 1469598103934665603ull ^ parent;
	for (int i = 0; i < n; i++) {
		uint32_t t = (uint32_t)tokens[i];
		for (int k = 0; k < 4; k++) h = (h ^ ((t >> (8 * k)) & 0xff)) * 1099511628211ull;
	}
	h ^= h >> 30, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 27, h *= 0x94D049BB133111EBull, h ^= h >> 31;
	return h ? h : 1;
}

void prefix_cache_init(struct prefix_cache *pc, struct kv_cache *kv)
{
	memset(pc, 0, sizeof *pc);
	pc->kv = kv;
	int n = kv->view.n_blocks;
	pc->entries = xcalloc(n, sizeof *pc->entries);
	pc->table_cap = 16;
	while (pc->table_cap < 2 * n) pc->table_cap *= 2;
	pc->table = xmalloc(pc->table_cap * sizeof *pc->table);
	for (int i = 0; i < pc->table_cap; i++) pc->table[i] = -1;
	pc->lru_head = pc->lru_tail = -1;
}

void prefix_cache_free(struct prefix_cache *pc)
{
	for (int b = 0; b < pc->kv->view.n_blocks; b++)
		if (pc->entries[b].cached) kv_cache_release_block(pc->kv, b);
	free(pc->entries);
	free(pc->table);
	memset(pc, 0, sizeof *pc);
}

static int slot_of(const struct prefix_cache *pc, uint64_t h)
{
	int i = (int)(h & (uint64_t)(pc->table_cap - 1));
	while (pc->table[i] >= 0 && pc->entries[pc->table[i]].hash != h) i = (i + 1) & (pc->table_cap - 1);
	return i;
}

static void lru_unlink(struct prefix_cache *pc, int32_t b)
{
	struct prefix_entry *e = &pc->entries[b];
	if (e->prev >= 0) pc->entries[e->prev].next = e->next;
	else pc->lru_head = e->next;
	if (e->next >= 0) pc->entries[e->next].prev = e->prev;
	else pc->lru_tail = e->prev;
	e->prev = e->next = -1;
}

static void lru_push_front(struct prefix_cache *pc, int32_t b)
{
	struct prefix_entry *e = &pc->entries[b];
	e->prev = -1;
	e->next = pc->lru_head;
	if (pc->lru_head >= 0) pc->entries[pc->lru_head].prev = b;
	pc->lru_head = b;
	if (pc->lru_tail < 0) pc->lru_tail = b;
}

int prefix_cache_match(struct prefix_cache *pc, const int32_t *tokens, int n_tokens, int max_blocks, int32_t *blocks,
                       uint64_t *hashes)
{
	int bs = pc->kv->view.block_size, n = 0;
	uint64_t h = 0;
	pc->query_tokens += n_tokens;
	while (n < max_blocks && (n + 1) * bs <= n_tokens) {
		h = prefix_hash(h, tokens + n * bs, bs);
		int32_t b = pc->table[slot_of(pc, h)];
		if (b < 0) break;
		kv_cache_ref_block(pc->kv, b);
		lru_unlink(pc, b);
		lru_push_front(pc, b);
		blocks[n] = b;
		hashes[n] = h;
		n++;
	}
	pc->hit_tokens += (long long)n * bs;
	return n;
}

static void table_remove(struct prefix_cache *pc, uint64_t h)
{
	/* backward-shift deletion keeps linear probing chains intact */
	int i = slot_of(pc, h), mask = pc->table_cap - 1;
	pc->table[i] = -1;
	for (int j = (i + 1) & mask; pc->table[j] >= 0; j = (j + 1) & mask) {
		int32_t b = pc->table[j];
		int home = (int)(pc->entries[b].hash & (uint64_t)mask);
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) pc->table[i] = b, pc->table[j] = -1, i = j;
	}
}

void prefix_cache_insert(struct prefix_cache *pc, uint64_t h, int32_t b)
{
	if (pc->entries[b].cached) return; /* this block is already named (shared from the cache) */
	int i = slot_of(pc, h);
	if (pc->table[i] >= 0) return;      /* same prefix cached in another block: keep that one */
	pc->table[i] = b;
	pc->entries[b] = (struct prefix_entry){.hash = h, .cached = true, .prev = -1, .next = -1};
	lru_push_front(pc, b);
	kv_cache_ref_block(pc->kv, b);
	pc->n_cached++;
}

int prefix_cache_n_evictable(const struct prefix_cache *pc)
{
	int n = 0;
	for (int32_t b = pc->lru_tail; b >= 0; b = pc->entries[b].prev) n += pc->kv->refcount[b] == 1;
	return n;
}

bool prefix_cache_make_room(struct prefix_cache *pc, int n)
{
	int32_t b = pc->lru_tail;
	while (kv_cache_n_free(pc->kv) < n && b >= 0) {
		int32_t prev = pc->entries[b].prev;
		if (pc->kv->refcount[b] == 1) {
			table_remove(pc, pc->entries[b].hash);
			lru_unlink(pc, b);
			pc->entries[b].cached = false;
			pc->n_cached--;
			kv_cache_release_block(pc->kv, b);
		}
		b = prev;
	}
	return kv_cache_n_free(pc->kv) >= n;
}

bool prefix_cache_is_cached(const struct prefix_cache *pc, int32_t b) { return pc->entries[b].cached; }
