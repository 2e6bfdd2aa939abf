/* tokmap.c — the two open-addressing hash maps the tokenizer needs: byte string -> id (vocab,
 * added tokens, trie edges) and uint64 -> uint64 (BPE merge pairs). Linear probing, power-of-two
 * capacity, load factor <= 1/2. No deletion: maps are built once at load.
 * Thread rules: concurrent readers are fine once building is over. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

uint32_t tokmap_hash(const char *s, size_t n)
{
	/* FNV-1a, then a final avalanche so the low bits used for the slot index mix well. */
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return (uint32_t)h;
}

void tokmap_str_init(struct tokmap_str *m)
{
	memset(m, 0, sizeof *m);
	buf_init(&m->pool);
}

void tokmap_str_free(struct tokmap_str *m)
{
	free(m->slots);
	buf_free(&m->pool);
	memset(m, 0, sizeof *m);
}

static void str_grow(struct tokmap_str *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	struct tokmap_str_slot *ns = xmalloc(ncap * sizeof *ns);
	for (size_t i = 0; i < ncap; i++) ns[i].len = UINT32_MAX;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].len == UINT32_MAX) continue;
		size_t j = m->slots[i].hash & (ncap - 1);
		while (ns[j].len != UINT32_MAX) j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
}

static size_t str_find(const struct tokmap_str *m, const char *key, size_t len, uint32_t h)
{
	size_t j = h & (m->cap - 1);
	for (;;) {
		const struct tokmap_str_slot *s = &m->slots[j];
		if (s->len == UINT32_MAX) return j;
		if (s->hash == h && s->len == len && memcmp(m->pool.data + s->off, key, len) == 0) return j;
		j = (j + 1) & (m->cap - 1);
	}
}

uint32_t tokmap_str_put(struct tokmap_str *m, const char *key, size_t len, int32_t val)
{
	GLM_ASSERT(len < UINT32_MAX && m->pool.len + len + 1 < UINT32_MAX);
	if ((m->n + 1) * 2 > m->cap) str_grow(m);
	uint32_t h = tokmap_hash(key, len);
	size_t j = str_find(m, key, len, h);
	struct tokmap_str_slot *s = &m->slots[j];
	if (s->len != UINT32_MAX) {
		s->val = val;
		return s->off;
	}
	s->off = (uint32_t)m->pool.len;
	s->len = (uint32_t)len;
	s->val = val;
	s->hash = h;
	buf_append(&m->pool, key, len);
	buf_putc(&m->pool, '\0');
	m->n++;
	return s->off;
}

bool tokmap_str_get(const struct tokmap_str *m, const char *key, size_t len, int32_t *val, uint32_t *off)
{
	if (!m->cap) return false;
	size_t j = str_find(m, key, len, tokmap_hash(key, len));
	const struct tokmap_str_slot *s = &m->slots[j];
	if (s->len == UINT32_MAX) return false;
	if (val) *val = s->val;
	if (off) *off = s->off;
	return true;
}

void tokmap_u64_init(struct tokmap_u64 *m) { memset(m, 0, sizeof *m); }

void tokmap_u64_free(struct tokmap_u64 *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

static size_t u64_slot(uint64_t key, size_t cap)
{
	key ^= key >> 31;
	key *= 0x9E3779B97F4A7C15ull;
	key ^= key >> 29;
	return (size_t)key & (cap - 1);
}

void tokmap_u64_put(struct tokmap_u64 *m, uint64_t key, uint64_t val)
{
	GLM_ASSERT(key != UINT64_MAX);
	if ((m->n + 1) * 2 > m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		uint64_t *nk = xmalloc(ncap * sizeof *nk), *nv = xmalloc(ncap * sizeof *nv);
		memset(nk, 0xff, ncap * sizeof *nk);
		for (size_t i = 0; i < m->cap; i++) {
			if (m->keys[i] == UINT64_MAX) continue;
			size_t j = u64_slot(m->keys[i], ncap);
			while (nk[j] != UINT64_MAX) j = (j + 1) & (ncap - 1);
			nk[j] = m->keys[i], nv[j] = m->vals[i];
		}
		free(m->keys), free(m->vals);
		m->keys = nk, m->vals = nv, m->cap = ncap;
	}
	size_t j = u64_slot(key, m->cap);
	while (m->keys[j] != UINT64_MAX && m->keys[j] != key) j = (j + 1) & (m->cap - 1);
	if (m->keys[j] == UINT64_MAX) m->n++;
	m->keys[j] = key, m->vals[j] = val;
}

bool tokmap_u64_get(const struct tokmap_u64 *m, uint64_t key, uint64_t *val)
{
	if (!m->cap) return false;
	size_t j = u64_slot(key, m->cap);
	for (;;) {
		if (m->keys[j] == key) {
			*val = m->vals[j];
			return true;
		}
		if (m->keys[j] == UINT64_MAX) return false;
		j = (j + 1) & (m->cap - 1);
	}
}

void tok_ids_push(struct tok_ids *a, int32_t id)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n++] = id;
}

void tok_ranges_push(struct tok_ranges *a, size_t off, size_t len)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	a->v[a->n].off = off;
	a->v[a->n].len = len;
	a->n++;
}
