/* bench_kernels — speed of the cpu backend's kernels against this machine's limits: GEMV
 * (decode) in GB/s of weights streamed vs the measured read bandwidth, GEMM (prefill) in
 * GFLOP/s in the default fp32 mode and the bf16-activation mode, and the thread pool's
 * per-job overhead. A program, not a test (design.md §7).
 * Usage: bench_kernels [n_threads=2] [isa] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "base/base.h"
#include "base/dtype.h"
#include "base/threadpool.h"

static struct rng rng;

static struct weight make_weight(enum dtype dt, int64_t rows, int64_t cols, enum weight_scale sk)
{
	struct weight w = {.dtype = dt, .rows = rows, .cols = cols, .scale_kind = sk, .scale_dtype = DTYPE_F32,
	                   .block = {128, 128}};
	size_t n = (size_t)(rows * cols);
	void *d = xaligned_alloc(n * dtype_size(dt));
	for (size_t i = 0; i < n; i++) {
		float v = (float)rng_normal(&rng) * 0.02f;
		if (dt == DTYPE_BF16) ((uint16_t *)d)[i] = f32_to_bf16(v);
		else if (dt == DTYPE_F8_E4M3) ((uint8_t *)d)[i] = (uint8_t)(rng_next(&rng) & 0x7e);
		else ((float *)d)[i] = v;
	}
	w.data = d;
	if (sk == WEIGHT_SCALE_BLOCK) {
		size_t ns = (size_t)((rows + 127) / 128 * ((cols + 127) / 128));
		float *s = xmalloc(ns * sizeof(float));
		for (size_t i = 0; i < ns; i++) s[i] = 1e-3f;
		w.scale = s;
	}
	return w;
}

/* Seconds per call, best of `reps` batches of `iters` calls. */
static double time_matmul(struct backend *be, float *y, const float *x, int n, const struct weight *w, int iters, int reps)
{
	be->ops->matmul(be, y, x, n, w, NULL); /* warm-up */
	double best = INFINITY;
	for (int r = 0; r < reps; r++) {
		double t0 = time_now();
		for (int i = 0; i < iters; i++) be->ops->matmul(be, y, x, n, w, NULL);
		double dt = (time_now() - t0) / iters;
		if (dt < best) best = dt;
	}
	return best;
}

static void nop_task(void *ctx, int task, int n_tasks, int thread) {}

/* GQA attention as in GLM-4.5-Air (96 query heads over 8 kv heads of 128): one decode token
 * over a 4096-token context (memory bound: GB/s of K and V read), and a 512-token prefill
 * chunk of one sequence (GFLOP/s of the q·k and p·v products). */
static void bench_attention(struct backend *be)
{
	enum { HEADS = 96, KV = 8, HD = 128, BS = 16, CTX = 4096, NB = CTX / BS, PREFILL = 512 };
	size_t kv_floats = (size_t)CTX * KV * HD;
	float *k = xaligned_alloc(kv_floats * 4), *v = xaligned_alloc(kv_floats * 4);
	for (size_t i = 0; i < kv_floats; i++) k[i] = (float)rng_normal(&rng), v[i] = (float)rng_normal(&rng);
	int32_t table[NB];
	for (int b = 0; b < NB; b++) table[b] = (b * 37) % NB; /* scattered blocks */
	float *q = xaligned_alloc(sizeof(float) * PREFILL * HEADS * HD), *o = xaligned_alloc(sizeof(float) * PREFILL * HEADS * HD);
	for (size_t i = 0; i < (size_t)PREFILL * HEADS * HD; i++) q[i] = (float)rng_normal(&rng);
	int32_t pos[PREFILL];
	const int32_t *bt[PREFILL];
	for (int t = 0; t < PREFILL; t++) pos[t] = t, bt[t] = table;
	int32_t dpos = CTX - 1;
	struct attn_args a = {.n_tokens = 1, .n_heads = HEADS, .n_kv_heads = KV, .head_dim = HD, .v_dim = HD,
	                      .scale = 0.0883883f, .q = q, .out = o, .k = k, .v = v, .k_stride = KV * HD,
	                      .v_stride = KV * HD, .block_size = BS, .pos = &dpos, .block_table = bt};
	double best = INFINITY;
	for (int r = 0; r < 20; r++) {
		double t0 = time_now();
		be->ops->attention(be, &a);
		double dt = time_now() - t0;
		if (dt < best) best = dt;
	}
	printf("attention decode, ctx %d, %d/%d heads x %d: %.3f ms  %.1f GB/s of K+V\n", CTX, HEADS, KV, HD, best * 1e3,
	       2.0 * kv_floats * 4 / best / 1e9);
	a.n_tokens = PREFILL, a.pos = pos;
	best = INFINITY;
	for (int r = 0; r < 3; r++) {
		double t0 = time_now();
		be->ops->attention(be, &a);
		double dt = time_now() - t0;
		if (dt < best) best = dt;
	}
	double flop = 0;
	for (int t = 0; t < PREFILL; t++) flop += 4.0 * (t + 1) * HD * HEADS;
	printf("attention prefill, %d tokens causal: %.2f ms  %.1f GFLOP/s\n", PREFILL, best * 1e3, flop / best / 1e9);
	free(k), free(v), free(q), free(o);
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 2;
	const char *isa = argc > 2 ? argv[2] : NULL;
	rng_seed(&rng, 42);
	struct backend *be = backend_cpu_create(nth, isa);
	if (!be) return 1;
	printf("cpu backend: %s, %d threads\n", backend_cpu_isa(be), be->n_threads);

	double bw = cpu_measure_read_bandwidth(be, (size_t)1 << 30);
	printf("measured read bandwidth: %.1f GB/s\n", bw);

	struct threadpool *tp = backend_cpu_threadpool(be);
	int jobs = 200000;
	double t0 = time_now();
	for (int i = 0; i < jobs; i++) threadpool_run(tp, nop_task, NULL, be->n_threads);
	printf("thread pool: %.2f us per job of %d empty tasks\n", (time_now() - t0) / jobs * 1e6, be->n_threads);

	float *x = xaligned_alloc(sizeof(float) * 512 * 12288), *y = xaligned_alloc(sizeof(float) * 512 * 12288);
	for (size_t i = 0; i < (size_t)512 * 12288; i++) x[i] = (float)rng_normal(&rng);

	struct {
		enum dtype dt;
		enum weight_scale sk;
		int64_t rows, cols;
	} gemv[] = {
		{DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288},
		{DTYPE_BF16, WEIGHT_SCALE_NONE, 12288, 4096},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, 4096, 12288},
		{DTYPE_F32, WEIGHT_SCALE_NONE, 4096, 4096},
	};
	for (size_t g = 0; g < sizeof gemv / sizeof *gemv; g++) {
		struct weight w = make_weight(gemv[g].dt, gemv[g].rows, gemv[g].cols, gemv[g].sk);
		double bytes = (double)w.rows * w.cols * dtype_size(w.dtype);
		for (int n = 1; n <= 8; n *= 2) {
			if (n > 1 && g > 0) break;
			double dt = time_matmul(be, y, x, n, &w, 20, 5);
			printf("GEMV %-8s %5lldx%-5lld n=%d: %7.3f ms  %6.1f GB/s  (%.0f%% of measured bandwidth)\n",
			       dtype_name(w.dtype), (long long)w.rows, (long long)w.cols, n, dt * 1e3, bytes / dt / 1e9,
			       100 * bytes / dt / 1e9 / bw);
		}
		free((void *)w.data);
		free((void *)w.scale);
	}

	struct weight w = make_weight(DTYPE_BF16, 4096, 4096, WEIGHT_SCALE_NONE);
	int n = 512;
	double flop = 2.0 * n * w.rows * w.cols;
	double dt = time_matmul(be, y, x, n, &w, 1, 3);
	printf("GEMM BF16 4096x4096 n=%d fp32 mode:  %7.2f ms  %6.1f GFLOP/s\n", n, dt * 1e3, flop / dt / 1e9);
	if (backend_cpu_set_bf16_activations(be, true) == 0) {
		dt = time_matmul(be, y, x, n, &w, 1, 3);
		printf("GEMM BF16 4096x4096 n=%d bf16 mode:  %7.2f ms  %6.1f GFLOP/s\n", n, dt * 1e3, flop / dt / 1e9);
		struct weight w1 = make_weight(DTYPE_BF16, 4096, 12288, WEIGHT_SCALE_NONE);
		dt = time_matmul(be, y, x, 1, &w1, 20, 5);
		printf("GEMV BF16 4096x12288 n=1 bf16 mode: %7.3f ms  %6.1f GB/s\n", dt * 1e3,
		       (double)w1.rows * w1.cols * 2 / dt / 1e9);
		free((void *)w1.data);
		backend_cpu_set_bf16_activations(be, false);
	} else {
		printf("GEMM bf16 mode: not available on this CPU\n");
	}
	struct weight w8 = make_weight(DTYPE_F8_E4M3, 4096, 4096, WEIGHT_SCALE_BLOCK);
	dt = time_matmul(be, y, x, n, &w8, 1, 3);
	printf("GEMM F8_E4M3(block) 4096x4096 n=%d: %7.2f ms  %6.1f GFLOP/s\n", n, dt * 1e3, flop / dt / 1e9);
	free((void *)w8.data);
	free((void *)w8.scale);
	free((void *)w.data);
	free(x), free(y);
	bench_attention(be);
	backend_destroy(be);
	return 0;
}
