/* tokenizer.h — Hugging Face tokenizer.json (byte-level BPE, as used by every GLM model) loaded
 * into an immutable object: encode text to ids (added/special tokens matched in the text first,
 * then the pre-tokenizer, then BPE), decode ids to text, and an incremental detokenizer for
 * streaming. Owns no global state. Does not apply chat templates or add BOS/EOS: encoding is
 * HF's add_special_tokens=false, the chat template writes `[gMASK]<sop>` as text.
 * Thread rules: a struct tokenizer is read-only after tokenizer_create and may be used by any
 * number of threads at once; a struct detok belongs to one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct tokenizer;

/* NULL on error (e names the file and the key that failed). */
struct tokenizer *tokenizer_create(const char *tokenizer_json_path, struct err *e);
struct tokenizer *tokenizer_create_from_memory(const char *json, size_t len, struct err *e);
void tokenizer_destroy(struct tokenizer *t);

/* Encodes text (valid UTF-8; added/special tokens written in the text are matched).
 * *ids is malloc'd (free it), even when *n_ids is 0. Returns -1 on invalid UTF-8. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n_ids,
                     struct err *e);
/* Appends the decoded text to out (HF decode: unknown ids are dropped, invalid UTF-8 becomes
 * U+FFFD, skip_special drops tokens whose added token is marked special). */
void tokenizer_decode(const struct tokenizer *t, const int32_t *ids, size_t n, bool skip_special, struct buf *out);
/* Exact vocab/added token string -> id, or -1. Added tokens take precedence, as in HF. */
int32_t tokenizer_token_id(const struct tokenizer *t, const char *token);
/* Raw vocab string (ByteLevel-mapped, e.g. "Ġthe") or added token content; NULL if no such id. */
const char *tokenizer_token_str(const struct tokenizer *t, int32_t id);
/* True for added tokens with special=true (the ones decode(skip_special) drops). */
bool tokenizer_is_special(const struct tokenizer *t, int32_t id);
/* 1 + the largest id (vocab and added tokens). */
int32_t tokenizer_vocab_size(const struct tokenizer *t);
/* Decoded bytes of one token (no UTF-8 repair; a token may hold part of a character).
 * Sets *len to 0 and returns "" for unknown ids. */
const char *tokenizer_token_bytes(const struct tokenizer *t, int32_t id, size_t *len);

/* Incremental detokenizer: feed ids one at a time, get the text they complete. The
 * concatenation of everything appended equals tokenizer_decode of all the ids fed. */
struct detok {
	const struct tokenizer *t;
	bool skip_special;
	bool started;       /* a token was already emitted (decoders that join with spaces) */
	struct buf pending; /* bytes that may still be the start of a UTF-8 character */
};
void detok_init(struct detok *d, const struct tokenizer *t, bool skip_special);
void detok_feed(struct detok *d, int32_t id, struct buf *out);  /* appends only complete UTF-8 characters */
void detok_finish(struct detok *d, struct buf *out);            /* flushes what is left (lossy) */
void detok_free(struct detok *d);

/* Writes a valid tokenizer.json for tiny demo/test checkpoints: byte-level BPE with the 256 byte
 * tokens (id = byte value), up to n_merges merges learned from a fixed built-in English/code/
 * Chinese sample text (fewer if the text runs out of pairs), then GLM's 36 special tokens in
 * GLM-4.5 order with ids right after the merged tokens, the GLM pre-tokenizer regex and a
 * ByteLevel decoder. Returns the vocab size (1 + largest id). Deterministic in n_merges. */
int tokenizer_write_builtin_json(struct buf *out, int n_merges);

/* Appends s[0..n) to out as UTF-8 with each invalid sequence replaced by U+FFFD (Rust's
 * String::from_utf8_lossy rules). If !final, an incomplete but so far valid sequence at the
 * end is not consumed; returns the number of bytes consumed. */
size_t tokenizer_utf8_lossy(struct buf *out, const char *s, size_t n, bool final);
