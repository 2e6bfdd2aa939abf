/* backend.h — the compute operations the model code is written against, and the weight view
 * they consume. A backend is a table of function pointers chosen once at start-up:
 *   ref  — scalar C, the oracle every other backend is tested against (always built);
 *   cpu  — thread pool + SIMD (AVX-512 / AVX2 / scalar, picked by CPU features at creation).
 * Activations are fp32 row-major; weights stay in the checkpoint's dtype and are dequantized
 * exactly inside the kernels (design.md §4). Thread rules: one caller thread at a time per
 * backend instance; the backend may use its own workers inside a call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"

enum weight_scale {
	WEIGHT_SCALE_NONE,
	WEIGHT_SCALE_ROW,   /* W[i][j] = q[i][j] * scale[i]                       (compressed-tensors "channel") */
	WEIGHT_SCALE_BLOCK, /* W[i][j] = q[i][j] * scale[i/block[0]][j/block[1]]  (DeepSeek weight_scale_inv) */
};

/* A Linear weight [rows = out features, cols = in features], y = x·Wᵀ. */
struct weight {
	enum dtype dtype; /* DTYPE_F32, DTYPE_F16, DTYPE_BF16 or DTYPE_F8_E4M3 */
	int64_t rows, cols;
	const void *data; /* rows*cols elements, row-major, usually memory-mapped */
	enum weight_scale scale_kind;
	enum dtype scale_dtype; /* DTYPE_F32 or DTYPE_BF16 */
	const void *scale;
	int block[2];
};

/* Dequantized value of W[i][j] (slow; for references and tests). */
float weight_get(const struct weight *w, int64_t i, int64_t j);
/* The fp32 scale that applies to W[i][j] (1 when unscaled). */
float weight_scale_at(const struct weight *w, int64_t i, int64_t j);

/* Attention over a paged KV cache. K and V of one layer live in blocks of block_size tokens:
 * k[(block * block_size + slot) * kv_stride + kv_head * head_dim + d]. Token t (position pos[t])
 * attends to positions 0..pos[t] of its own sequence, whose blocks are block_table[t][...]. */
struct attn_args {
	int n_tokens, n_heads, n_kv_heads, head_dim, v_dim;
	float scale;
	const float *q; /* [n_tokens][n_heads][head_dim] */
	float *out;     /* [n_tokens][n_heads][v_dim] */
	const float *k, *v;
	int64_t k_stride, v_stride; /* floats per cached token */
	int block_size;
	const int32_t *pos;                 /* [n_tokens] */
	const int32_t *const *block_table;  /* [n_tokens] -> that token's sequence block table */
};

/* One matmul of a group (backend_ops.matmul_group). */
struct matmul_item {
	float *y;          /* [n][w->rows], overwritten */
	const float *x;    /* [n][w->cols] */
	int n;             /* may be 0: nothing to do */
	const struct weight *w;
	const float *bias; /* [w->rows] or NULL */
};

struct backend;

struct backend_ops {
	const char *name;
	/* y[n][w->rows] = x[n][w->cols] · Wᵀ (+ bias[w->rows] when bias != NULL). y is overwritten. */
	void (*matmul)(struct backend *be, float *y, const float *x, int n, const struct weight *w, const float *bias);
	/* Every item's matmul, as if by matmul one after another. Many small matmuls (a MoE layer's
	 * experts, each seeing a few tokens) share one hand-off to the workers this way. No item's
	 * y may overlap another item's y or x. */
	void (*matmul_group)(struct backend *be, const struct matmul_item *items, int n_items);
	/* y[n][dim] = x · rsqrt(mean(x²) + eps) · w  (HF order: normalise, then weight). y may be x. */
	void (*rmsnorm)(struct backend *be, float *y, const float *x, int n, int dim, const float *w, float eps);
	void (*attention)(struct backend *be, const struct attn_args *a);
	/* y[i] = silu(g[i]) · u[i] for i < n (y may alias g). */
	void (*silu_mul)(struct backend *be, float *y, const float *g, const float *u, size_t n);
	void (*destroy)(struct backend *be);
};

struct backend {
	const struct backend_ops *ops;
	int n_threads;
	void *impl;
};

struct backend *backend_ref_create(void);
/* n_threads <= 0: one per online CPU. isa: NULL = best available, or "avx512" (which uses the
 * AVX512-VBMI FP8 path where the CPU has it), "avx512-base" (AVX-512 without VBMI, for tests),
 * "avx2", "scalar". Returns NULL (with a log message) for an unknown or unavailable name. */
struct backend *backend_cpu_create(int n_threads, const char *isa);
void backend_destroy(struct backend *be);

/* The reference ops, callable directly (the cpu backend reuses the ones not worth a fast twin). */
void ref_matmul(struct backend *be, float *y, const float *x, int n, const struct weight *w, const float *bias);
void ref_matmul_group(struct backend *be, const struct matmul_item *items, int n_items);
void ref_rmsnorm(struct backend *be, float *y, const float *x, int n, int dim, const float *w, float eps);
void ref_attention(struct backend *be, const struct attn_args *a);
void ref_silu_mul(struct backend *be, float *y, const float *g, const float *u, size_t n);
