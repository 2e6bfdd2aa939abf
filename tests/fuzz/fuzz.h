/* fuzz.h — what the fuzz targets in tests/fuzz share: the libFuzzer entry point each target
 * defines, the per-target knobs the standalone driver (fuzz_main.c) reads, an invariant check
 * that crashes, and small helpers. Owns no state.
 * Thread rules: targets are single-threaded; libFuzzer and the driver call them from one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"

/* Each target defines this. It crashes (abort, sanitizer report) on a bug; it returns 0, or -1
 * for an input the parser refused early (libFuzzer then keeps it out of the corpus, and the
 * standalone driver rarely mutates it further). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each target defines both. The standalone driver splices the dictionary's strings into inputs
 * (it has no coverage feedback, so grammar fragments are what reach deep states); libFuzzer
 * builds ignore them. fuzz_max_len bounds the inputs the driver builds by mutation. */
extern const char *const fuzz_dict[]; /* NULL-terminated */
extern const size_t fuzz_max_len;

/* Where the JSON is in a target's input, for the driver's structure-aware mutator
 * (fuzz_json_mutate.c); each target defines fuzz_json_layout. */
enum fuzz_json_layout {
	FUZZ_JSON_LAYOUT_NONE,        /* not JSON: byte mutations only */
	FUZZ_JSON_LAYOUT_WHOLE,       /* JSON, optionally followed by a NUL byte and anything */
	FUZZ_JSON_LAYOUT_SAFETENSORS, /* u64 length + JSON header + data, or a JSON document starting with '{' */
};
extern const enum fuzz_json_layout fuzz_json_layout;

/* Driver side (fuzz_json_mutate.c): edits the JSON part of b in place (other: another corpus
 * input to take subtrees from, may be NULL); false when b has no parseable JSON part. */
bool fuzz_json_mutate(enum fuzz_json_layout layout, struct buf *b, const uint8_t *other, size_t other_n,
                      struct rng *r, const char *const *dict);
/* Whether p[0..n) has a parseable JSON part under layout. */
bool fuzz_json_valid(enum fuzz_json_layout layout, const uint8_t *p, size_t n);

/* A broken invariant is a crash, so libFuzzer and the driver (which saves the input) both see
 * it; the message says which invariant and why. */
#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			fflush(stderr); \
			abort(); \
		} \
	} while (0)

/* FNV-1a: split positions and ids derive from the input, so a saved input replays exactly. */
static inline uint64_t fuzz_hash(const void *p, size_t n)
{
	const uint8_t *d = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 1099511628211ull;
	return h;
}

/* Strict UTF-8 (no surrogates, no overlongs), as base.h's utf8_decode checks it. */
static inline bool fuzz_utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		int k = utf8_decode(s + i, n - i, &cp);
		if (k <= 0) return false;
		i += (size_t)k;
	}
	return true;
}

/* The input as a NUL-terminated string (parsers that take C strings); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size) { return xstrndup((const char *)data, size); }

/* Piece sizes for the streaming parsers: whole, byte by byte, or random lengths (mostly short,
 * sometimes long, so both tag boundaries and long runs are cut). */
enum fuzz_split { FUZZ_SPLIT_WHOLE, FUZZ_SPLIT_BYTES, FUZZ_SPLIT_RANDOM };

static inline size_t fuzz_split_next(enum fuzz_split mode, struct rng *r, size_t left)
{
	if (mode == FUZZ_SPLIT_WHOLE) return left;
	if (mode == FUZZ_SPLIT_BYTES) return 1;
	size_t k = rng_next(r) % 8 == 0 ? 1 + rng_next(r) % 100 : 1 + rng_next(r) % 12;
	return k < left ? k : left;
}
