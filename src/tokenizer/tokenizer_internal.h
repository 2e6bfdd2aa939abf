/* tokenizer_internal.h — the pieces shared by the tokenizer's .c files: hash maps (tokmap.c),
 * the pre-tokenizer (pretok.c), the BPE model (bpe.c) and the struct tokenizer itself
 * (tokenizer.c). Not for use outside src/tokenizer/.
 * Thread rules: everything here is immutable after loading except the explicit scratch
 * structs, which belong to one encode call. */
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/tokenizer.h"

/* ---- tokmap.c: hash maps ---------------------------------------------------------------- */

/* Byte string -> int32. Keys are copied into the map's pool, NUL-terminated, so a key's
 * offset can serve as a stable C string (tokmap_str_key). */
struct tokmap_str {
	struct tokmap_str_slot {
		uint32_t off, len; /* key in pool; len == UINT32_MAX marks an empty slot */
		int32_t val;
		uint32_t hash;
	} *slots;
	size_t cap, n;
	struct buf pool;
};
void tokmap_str_init(struct tokmap_str *m);
void tokmap_str_free(struct tokmap_str *m);
/* Inserts or overwrites; returns the pool offset of the key. */
uint32_t tokmap_str_put(struct tokmap_str *m, const char *key, size_t len, int32_t val);
/* Returns true and fills *val (and *off, if not NULL) when the key exists. */
bool tokmap_str_get(const struct tokmap_str *m, const char *key, size_t len, int32_t *val, uint32_t *off);
static inline const char *tokmap_str_key(const struct tokmap_str *m, uint32_t off) { return m->pool.data + off; }

/* uint64 -> uint64 (keys must not be UINT64_MAX, the empty marker). */
struct tokmap_u64 {
	uint64_t *keys, *vals;
	size_t cap, n;
};
void tokmap_u64_init(struct tokmap_u64 *m);
void tokmap_u64_free(struct tokmap_u64 *m);
void tokmap_u64_put(struct tokmap_u64 *m, uint64_t key, uint64_t val);
bool tokmap_u64_get(const struct tokmap_u64 *m, uint64_t key, uint64_t *val);

uint32_t tokmap_hash(const char *s, size_t n);

/* ---- shared growable arrays --------------------------------------------------------------- */

struct tok_ids {
	int32_t *v;
	size_t n, cap;
};
void tok_ids_push(struct tok_ids *a, int32_t id);

/* A piece of text: a byte range of the encode call's work buffer. */
struct tok_range {
	size_t off, len;
};
struct tok_ranges {
	struct tok_range *v;
	size_t n, cap;
};
void tok_ranges_push(struct tok_ranges *a, size_t off, size_t len);

/* ---- pretok.c: normalizer-free pre-tokenizers ------------------------------------------- */

enum pretok_kind {
	PRETOK_KIND_SPLIT,      /* Split: regex or literal pattern + behavior (+ invert) */
	PRETOK_KIND_BYTE_LEVEL, /* ByteLevel: optional prefix space, optional GPT-2 regex, byte->char map */
};
enum pretok_behavior {
	PRETOK_BEHAVIOR_REMOVED,
	PRETOK_BEHAVIOR_ISOLATED,
	PRETOK_BEHAVIOR_MERGED_WITH_PREVIOUS,
	PRETOK_BEHAVIOR_MERGED_WITH_NEXT,
	PRETOK_BEHAVIOR_CONTIGUOUS,
};
struct pretok_step {
	enum pretok_kind kind;
	/* SPLIT */
	pcre2_code *re; /* also the GPT-2 regex of BYTE_LEVEL when use_regex */
	enum pretok_behavior behavior;
	bool invert;
	/* BYTE_LEVEL */
	bool add_prefix_space, use_regex;
};
struct pretok {
	struct pretok_step *steps;
	size_t n_steps;
};
/* Compiles an HF regex (Oniguruma syntax as used by tokenizers) with PCRE2, rewriting the
 * escapes whose meaning differs (\s, \S, \w, \W). NULL with e filled on error. */
pcre2_code *pretok_compile_regex(const char *pattern, size_t len, bool literal, struct err *e);
void pretok_free(struct pretok *p);
/* Per-call matching state (match data and a JIT stack big enough for long whitespace runs). */
struct pretok_scratch {
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	struct tok_ranges a, b;
	struct {
		size_t off, len;
		bool match;
	} *marks;
	size_t n_marks, cap_marks;
};
void pretok_scratch_free(struct pretok_scratch *s);
/* Splits work->data[off, off+len) into pieces appended to out (ranges of work, which may
 * grow: ByteLevel writes the mapped text at its end). */
int pretok_run(const struct pretok *p, struct buf *work, size_t off, size_t len, struct pretok_scratch *s,
               struct tok_ranges *out, struct err *e);

/* GPT-2 bytes_to_unicode: the code point standing for each byte, and back (-1: not a byte char). */
extern uint16_t pretok_byte_char[256];
extern int16_t pretok_char_byte[512];
void pretok_tables_init(void);
/* The GPT-2 regex ByteLevel uses when use_regex is true. */
extern const char pretok_gpt2_regex[];
/* The GLM-4 pre-tokenizer regex (also written by the built-in tokenizer). */
extern const char pretok_glm4_regex[];

/* ---- bpe.c: the BPE model ---------------------------------------------------------------- */

struct bpe {
	struct tokmap_str vocab; /* model string (ByteLevel-mapped) -> id */
	struct tokmap_u64 merges; /* (left << 32 | right) -> (rank << 32 | merged id) */
	size_t n_vocab;           /* number of vocab entries (HF's model vocab size) */
	bool ignore_merges, byte_fallback, fuse_unk;
	int32_t unk_id;          /* -1: no unk token */
	int32_t small_ids[512];  /* id of the one-character token for code points < 512, or -1 */
	int32_t fallback_ids[256]; /* "<0xXX>" tokens for byte_fallback, or -1 */
};
void bpe_init(struct bpe *m);
void bpe_free(struct bpe *m);
/* Fills small_ids/fallback_ids from the vocab; call once the vocab is complete. */
void bpe_finish_load(struct bpe *m);
struct bpe_scratch {
	struct bpe_sym {
		int32_t id, prev, next;
		uint32_t len; /* bytes of the model string covered; 0 once merged away */
	} *syms;
	size_t cap_syms;
	struct bpe_merge {
		uint32_t rank, pos;
		int32_t new_id;
	} *heap;
	size_t n_heap, cap_heap;
};
void bpe_scratch_free(struct bpe_scratch *s);
/* Tokenizes one pre-token (already in the model's alphabet) and appends its ids. */
void bpe_encode_piece(const struct bpe *m, const char *s, size_t n, struct bpe_scratch *sc, struct tok_ids *out);
