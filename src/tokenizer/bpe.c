/* bpe.c — the BPE model of HF tokenizers: vocab + ranked merges, applied to one pre-token at a
 * time. Follows tokenizers' models/bpe (ignore_merges shortcut, per-character vocab lookup with
 * byte_fallback / unk / fuse_unk, then merging the lowest-rank pair first, leftmost on ties,
 * with a min-heap so long pieces stay O(n log n)). Does not own loading (tokenizer.c fills
 * the maps) or pre-tokenization.
 * Thread rules: struct bpe is read-only after bpe_finish_load; bpe_scratch is per call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

void bpe_init(struct bpe *m)
{
	memset(m, 0, sizeof *m);
	tokmap_str_init(&m->vocab);
	tokmap_u64_init(&m->merges);
	m->unk_id = -1;
}

void bpe_free(struct bpe *m)
{
	tokmap_str_free(&m->vocab);
	tokmap_u64_free(&m->merges);
}

void bpe_finish_load(struct bpe *m)
{
	for (uint32_t cp = 0; cp < 512; cp++) {
		char u[4];
		int n = utf8_encode(cp, u);
		int32_t id;
		m->small_ids[cp] = tokmap_str_get(&m->vocab, u, (size_t)n, &id, NULL) ? id : -1;
	}
	for (int b = 0; b < 256; b++) {
		char name[8];
		snprintf(name, sizeof name, "<0x%02X>", b); /* HF: format!("<{b:#04X}>") */
		int32_t id;
		m->fallback_ids[b] = tokmap_str_get(&m->vocab, name, strlen(name), &id, NULL) ? id : -1;
	}
}

void bpe_scratch_free(struct bpe_scratch *s)
{
	free(s->syms);
	free(s->heap);
	memset(s, 0, sizeof *s);
}

static bool merge_less(const struct bpe_merge *a, const struct bpe_merge *b)
{
	return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct bpe_scratch *s, uint32_t rank, uint32_t pos, int32_t new_id)
{
	if (s->n_heap == s->cap_heap) {
		s->cap_heap = s->cap_heap ? s->cap_heap * 2 : 64;
		s->heap = xrealloc(s->heap, s->cap_heap * sizeof *s->heap);
	}
	struct bpe_merge x = {rank, pos, new_id};
	size_t i = s->n_heap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!merge_less(&x, &s->heap[p])) break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = x;
}

static struct bpe_merge heap_pop(struct bpe_scratch *s)
{
	struct bpe_merge top = s->heap[0], x = s->heap[--s->n_heap];
	size_t i = 0, n = s->n_heap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n) break;
		if (c + 1 < n && merge_less(&s->heap[c + 1], &s->heap[c])) c++;
		if (!merge_less(&s->heap[c], &x)) break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n) s->heap[i] = x;
	return top;
}

static bool pair_lookup(const struct bpe *m, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id)
{
	uint64_t v;
	if (!tokmap_u64_get(&m->merges, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v)) return false;
	*rank = (uint32_t)(v >> 32);
	*new_id = (int32_t)(uint32_t)v;
	return true;
}

static void sym_add(struct bpe_scratch *s, size_t *n, int32_t id, uint32_t len)
{
	if (*n == s->cap_syms) {
		s->cap_syms = s->cap_syms ? s->cap_syms * 2 : 64;
		s->syms = xrealloc(s->syms, s->cap_syms * sizeof *s->syms);
	}
	struct bpe_sym *y = &s->syms[*n];
	y->id = id;
	y->len = len;
	y->prev = (int32_t)*n - 1;
	y->next = (int32_t)*n + 1;
	(*n)++;
}

void bpe_encode_piece(const struct bpe *m, const char *s, size_t n, struct bpe_scratch *sc, struct tok_ids *out)
{
	if (!n) return;
	int32_t whole;
	if (m->ignore_merges && tokmap_str_get(&m->vocab, s, n, &whole, NULL)) {
		tok_ids_push(out, whole);
		return;
	}
	GLM_ASSERT(n < INT32_MAX);

	/* One symbol per character (HF merge_word). */
	size_t ns = 0;
	int32_t unk = -1;
	uint32_t unk_len = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int cl = utf8_decode(s + i, n - i, &cp);
		GLM_ASSERT(cl > 0); /* model strings are valid UTF-8 */
		int32_t id = -1;
		if (cp < 512) id = m->small_ids[cp];
		else if (!tokmap_str_get(&m->vocab, s + i, (size_t)cl, &id, NULL)) id = -1;
		if (id >= 0) {
			if (unk >= 0) sym_add(sc, &ns, unk, unk_len), unk = -1;
			sym_add(sc, &ns, id, (uint32_t)cl);
		} else {
			bool done = false;
			if (m->byte_fallback) {
				bool all = true;
				for (int k = 0; k < cl; k++) all &= m->fallback_ids[(unsigned char)s[i + k]] >= 0;
				if (all) {
					/* HF adds these before a pending unk is flushed; kept that way. */
					for (int k = 0; k < cl; k++) sym_add(sc, &ns, m->fallback_ids[(unsigned char)s[i + k]], 1);
					done = true;
				}
			}
			if (!done && m->unk_id >= 0) {
				if (unk >= 0 && m->fuse_unk) {
					unk_len += (uint32_t)cl;
				} else {
					if (unk >= 0) sym_add(sc, &ns, unk, unk_len);
					unk = m->unk_id;
					unk_len = (uint32_t)cl;
				}
			}
			/* no unk token: the character is dropped, as HF does */
		}
		i += (size_t)cl;
	}
	if (unk >= 0) sym_add(sc, &ns, unk, unk_len);
	if (!ns) return;
	sc->syms[ns - 1].next = -1;

	/* Merge lowest rank first, leftmost on ties (HF Word::merge_all). */
	sc->n_heap = 0;
	for (size_t i = 0; i + 1 < ns; i++) {
		uint32_t rank;
		int32_t nid;
		if (pair_lookup(m, sc->syms[i].id, sc->syms[i + 1].id, &rank, &nid)) heap_push(sc, rank, (uint32_t)i, nid);
	}
	while (sc->n_heap) {
		struct bpe_merge top = heap_pop(sc);
		struct bpe_sym *cur = &sc->syms[top.pos];
		if (cur->len == 0 || cur->next < 0) continue;
		struct bpe_sym *right = &sc->syms[cur->next];
		uint32_t rank;
		int32_t nid;
		/* stale entry: the pair at this position changed since it was queued */
		if (!pair_lookup(m, cur->id, right->id, &rank, &nid) || nid != top.new_id) continue;
		cur->id = top.new_id;
		cur->len += right->len;
		right->len = 0;
		cur->next = right->next;
		if (right->next >= 0) sc->syms[right->next].prev = (int32_t)top.pos;
		if (cur->prev >= 0 && pair_lookup(m, sc->syms[cur->prev].id, cur->id, &rank, &nid))
			heap_push(sc, rank, (uint32_t)cur->prev, nid);
		if (cur->next >= 0 && pair_lookup(m, cur->id, sc->syms[cur->next].id, &rank, &nid))
			heap_push(sc, rank, top.pos, nid);
	}
	for (int32_t i = 0; i >= 0; i = sc->syms[i].next) tok_ids_push(out, sc->syms[i].id);
}
