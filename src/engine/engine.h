/* engine.h — runs forwards over batches of sequences on a backend with a paged KV cache.
 * A sequence is a token list (prompt + generated) with its block table; engine_step feeds
 * each given sequence its next uncached tokens (a prefill chunk or one decode token) in one
 * forward and returns the logits of those that reached their last token. Scheduling policy
 * (who runs, chunk sizes, preemption) belongs to the caller: `glm run` and, later, the
 * continuous-batching scheduler. Engine lifetime owns the backend, KV pool and scratch;
 * engine thread only. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "engine/kv_cache.h"
#include "model/model.h"

struct engine_config {
	const char *backend;   /* "cpu" (default) or "ref" */
	const char *isa;       /* NULL: best available; "avx512", "avx2", "scalar" */
	int n_threads;         /* <= 0: every online CPU */
	bool bf16_activations; /* faster, less exact matmuls (not the default) */
	int block_size;        /* tokens per KV block (default 16) */
	int64_t kv_tokens;     /* KV capacity in tokens (default: max_model_len) */
	int64_t kv_bytes;      /* or a KV memory budget in bytes (used when kv_tokens is 0) */
	int max_batch_tokens;  /* most tokens in one forward (default 512) */
	int max_model_len;     /* default: the model's max_position_embeddings */
};
void engine_config_default(struct engine_config *c);

struct engine {
	struct model *model;
	struct backend *be;
	struct kv_cache kv;
	struct scratch scratch;
	struct engine_config cfg;
	float *logits;          /* [max_batch_tokens][vocab] */
	int32_t *tok, *pos, *out_idx;
	const int32_t **bt;
};

int engine_init(struct engine *eng, struct model *m, const struct engine_config *cfg, struct err *e);
void engine_free(struct engine *eng);

struct sequence {
	int32_t *tokens;
	int n_tokens, cap;
	int n_prompt;
	int n_cached; /* tokens whose K/V are in the cache */
	struct block_table bt;
};
void sequence_init(struct sequence *s, const int32_t *prompt, int n_prompt);
void sequence_append(struct sequence *s, int32_t token);
/* Releases the KV blocks and the token list. */
void sequence_free(struct sequence *s, struct engine *eng);

/* One forward: sequence i gets its tokens [n_cached, n_cached + n_feed[i]) (clamped to what it
 * has). logits[i] receives its last fed token's logits row when that was its final token, else
 * NULL; the rows stay valid until the next step. Returns -1 with e set when the batch is too
 * large or the KV pool has no room (then nothing changed). */
int engine_step(struct engine *eng, struct sequence **seqs, int n_seqs, const int *n_feed, const float **logits,
                struct err *e);
