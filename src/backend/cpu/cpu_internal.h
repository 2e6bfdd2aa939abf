/* cpu_internal.h — the contract between the cpu backend's driver (cpu.c: threads, task split,
 * scratch) and its kernel sets (cpu_scalar.c, cpu_avx2.c, cpu_avx512.c, cpu_avx512_vbmi.c: one
 * thread's share of an op). Kernels never allocate and never touch the thread pool; the driver never uses
 * intrinsics. Not a public header. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "backend/backend.h"

/* Rows per micro-tile of every kernel set (rows past the end reuse the last row's pointer);
 * single-token decode tiles take twice as many: more rows streamed at once keeps more memory
 * reads in flight (measured: ~+10% of bandwidth with 8 rows over 4, less again with 16). */
#define CPU_TILE_ROWS 4
#define CPU_TILE_MAX_ROWS 8
/* Decode tiles stream W from memory: a software prefetch into L2 this many bytes ahead in each
 * row lifted one core's streaming rate by ~15%; into L1, or further ahead, it did worse. */
#define CPU_PREFETCH 1024
/* Most tokens a micro-tile holds. */
#define CPU_TILE_MAX_TOKENS 8
/* Prefill: rows of W per task, and columns per block. A task converts its rows' column block
 * to fp32 once (into per-thread scratch of CPU_PACK_ROWS rows, 256 KiB: L2)
 * and every token tile reuses it; one tile's slice of x stays in L1. */
#define CPU_PACK_ROWS 64
#define CPU_PACK_COLS 1024
/* Floats per scratch row: one cache line more than a block, so that rows a multiple of 4 KiB
 * apart do not all compete for the same L1 sets. */
#define CPU_PACK_STRIDE (CPU_PACK_COLS + 16)

/* One matmul call as the driver prepared it; shared read-only by all tasks. */
struct cpu_matmul {
	const struct weight *w;
	int n;
	int64_t rows, cols;
	/* Activations in the layout the kernel set asked for (see cpu_isa.matmul_prep): fp32 or,
	 * in bf16-activation mode, bf16; [n][xp_stride] elements. */
	const void *xp;
	int64_t xp_stride;
	float *y; /* [n][rows] */
	const float *bias;
	/* Scales as fp32, NULL when there are none: scale[(row / scale_bh) * scale_stride + col / scale_bw],
	 * scale_bw == 0 meaning one scale for all columns. FP8 weights always have scales here,
	 * premultiplied by 256, because the kernels decode e4m3 as (value * 2^-8) (see cpu_avx512.c). */
	const float *scale;
	int64_t scale_bh, scale_bw, scale_stride;
	bool bf16_act; /* xp is bf16 and the weight is BF16 without scales */
	bool small;    /* few tokens: stream each weight row once, no column blocking */
};

/* One micro-tile's operands and result: out[j][i] = sum over columns [k0, k1) of
 * W_i[k] * x_j[k], W_i decoded from the tile's dtype and multiplied by s_i[k / bw] when the
 * tile has scales. Rows and tokens past the real ones repeat the last real pointer. out is
 * token-major so that a token's sums land in y as short vectors. */
struct cpu_tile {
	const void *w[CPU_TILE_MAX_ROWS];
	const float *s[CPU_TILE_MAX_ROWS];
	const void *x[CPU_TILE_MAX_TOKENS];
	int64_t k0, k1, bw;
	float out[CPU_TILE_MAX_TOKENS][CPU_TILE_MAX_ROWS];
};

struct cpu_isa {
	const char *name;
	void (*init)(void); /* NULL, or fills the set's tables; run at backend creation */
	/* Fills buf rows [t0, t1) with x in this set's layout for mm (called only when
	 * matmul_prep_needed); x is [n][cols] fp32. */
	bool (*matmul_prep_needed)(const struct cpu_matmul *mm);
	void (*matmul_prep)(const struct cpu_matmul *mm, const float *x, void *buf, int t0, int t1);
	/* y rows [r0, r1) of tokens [t0, t1); r1 - r0 <= CPU_PACK_ROWS unless mm->small. scratch:
	 * CPU_PACK_ROWS * CPU_PACK_STRIDE floats of this thread's own. */
	void (*matmul_rows)(const struct cpu_matmul *mm, int64_t r0, int64_t r1, int t0, int t1, float *scratch);
	/* All heads of token t over its context positions [p0, p1). scratch: cpu_attn_scratch(a,
	 * p1 - p0) floats. part == NULL: [p0, p1) is the whole context, the result goes to a->out.
	 * Else the chunk's per-head softmax state goes to part[h * (v_dim + 2) ...]: max score,
	 * sum of e^(s - max), then the v_dim sums of e^(s - max) * v, for cpu.c to merge. */
	void (*attention)(const struct attn_args *a, int t, int p0, int p1, float *scratch, float *part);
	void (*silu_mul)(float *y, const float *g, const float *u, size_t n);
	/* Reads [p, p+bytes) (bytes a multiple of 4096) and returns something depending on all of it. */
	uint64_t (*read_sum)(const void *p, size_t bytes);
};

extern const struct cpu_isa cpu_isa_scalar;
#if defined(__x86_64__)
extern const struct cpu_isa cpu_isa_avx2;
extern const struct cpu_isa cpu_isa_avx512; /* its bf16-activation kernels need avx512_bf16 */
extern const struct cpu_isa cpu_isa_avx512_vbmi;
#endif

/* The portable kernels, also the fallback of the SIMD sets for layouts they do not handle
 * (e.g. FP8 scale blocks that are not a multiple of the vector width). */
void cpu_scalar_matmul_rows(const struct cpu_matmul *mm, int64_t r0, int64_t r1, int t0, int t1, float *scratch);
/* Floats of scratch an attention chunk of n positions needs: scores of every head, then the
 * positions' K and V row pointers. */
static inline size_t cpu_attn_scratch(const struct attn_args *a, int n) { return (size_t)n * (a->n_heads + 4) + 16; }
/* The fp32 value the reference gives W[row][col] (scale included). */
float cpu_weight_at(const struct cpu_matmul *mm, int64_t row, int64_t col);
