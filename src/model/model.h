/* model.h — a loaded checkpoint (config + mmap'd weights bound to an architecture) and the one
 * call every architecture implements: a forward over a batch of tokens from many sequences.
 * Owns the safetensors mapping and the small fp32 copies of norm/bias vectors. Thread rules:
 * a model is read-only after model_load; forward calls must be serialised by the caller (the
 * engine thread), since they use the scratch the caller passes in. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"
#include "base/base.h"
#include "io/config.h"
#include "io/safetensors.h"

/* The tokens of one forward call. Tokens of the same sequence appear in increasing position
 * order; their K/V are written to the cache before attention reads it, so a prompt chunk
 * attends to itself causally. */
struct batch {
	int n_tokens;
	const int32_t *tokens;             /* [n_tokens] */
	const int32_t *pos;                /* [n_tokens] position within its sequence */
	const int32_t *const *block_table; /* [n_tokens] -> the block table of that token's sequence */
	int n_out;                         /* rows of logits wanted */
	const int32_t *out_idx;            /* [n_out] indices into the batch */
};

/* Paged KV storage of all layers (allocated by the engine's kv cache). Layer l keeps
 * k[l] + (block * block_size + slot) * k_stride floats, likewise v. */
struct kv_view {
	int n_layers, block_size, n_blocks;
	int64_t k_stride, v_stride;
	float **k, **v;
};

/* Grow-only scratch for one forward (step lifetime, design.md §4): buffers are sized on first
 * use and reused afterwards, so the step loop does not allocate once warm. */
struct scratch {
	void **bufs;
	size_t *sizes;
	int n;
};
float *scratch_f32(struct scratch *s, int slot, size_t n);
void *scratch_get(struct scratch *s, int slot, size_t bytes); /* 64-byte aligned */
void scratch_free(struct scratch *s);

struct model;

struct model_arch {
	const char *model_type; /* config.json model_type this implements */
	int (*bind)(struct model *m, struct err *e);
	void (*unbind)(struct model *m);
	/* floats cached per token per layer for K and for V */
	void (*kv_strides)(const struct model_config *c, int64_t *k_stride, int64_t *v_stride);
	/* logits[n_out][vocab] for the rows batch->out_idx */
	void (*forward)(struct model *m, struct backend *be, const struct batch *b, struct kv_view *kv,
	                struct scratch *s, float *logits);
	/* Lists every tensor the architecture reads: name, shape and whether it is optional.
	 * Used by `glm synth` and `glm info`; the loader checks the same list. */
	void (*tensor_specs)(const struct model_config *c,
	                     void (*fn)(void *ctx, const char *name, int ndim, const int64_t *shape, bool optional,
	                                bool quantizable),
	                     void *ctx);
};

struct model {
	char *dir;
	struct model_config cfg;
	struct safetensors st;
	const struct model_arch *arch;
	void *w;           /* architecture's bound weights */
	float **owned;     /* fp32 vectors owned by the model */
	int n_owned;
	const struct st_tensor **bound; /* every tensor the architecture reads */
	int n_bound;
	size_t bound_bytes;
};
/* Reads the bound weights into memory (progress on a terminal) if they fit in 80% of RAM. */
void model_prefetch(const struct model *m);

const struct model_arch *model_arch_find(const char *model_type);
int model_load(struct model *m, const char *dir, struct err *e);
void model_close(struct model *m);

/* Binding helpers for architectures. They find the tensor, check shape and dtype, and fail
 * naming the tensor, file and expected shape. */
int model_bind_linear(struct model *m, struct weight *w, const char *name, int64_t rows, int64_t cols, struct err *e);
/* A 1-D vector of n elements converted to fp32 (owned by the model). optional: absent -> NULL, ok. */
int model_bind_vector(struct model *m, float **out, const char *name, int64_t n, bool optional, struct err *e);
/* An embedding-like table [rows, cols] kept in its dtype (not quantized). */
int model_bind_table(struct model *m, struct weight *w, const char *name, int64_t rows, int64_t cols, struct err *e);
bool model_has_tensor(const struct model *m, const char *name);
