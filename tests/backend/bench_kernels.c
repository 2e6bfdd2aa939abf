/* bench_kernels — speed of the cpu backend's kernels against this machine's limits: GEMV
 * (decode) in GB/s of weights streamed vs the measured read bandwidth, GEMM (prefill) in
 * GFLOP/s in the default fp32 mode and the bf16-activation mode, attention, and the thread
 * pool's hand-off latency. A program, not a test (design.md §7).
 * Every figure is the best over several rounds that interleave all measurements, so that on a
 * shared machine each one gets its chance at a quiet moment and the ratios compare like with
 * like. Usage: bench_kernels [n_threads=2] [isa] [rounds=5] */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "base/base.h"
#include "base/dtype.h"
#include "base/threadpool.h"

static struct rng rng;
enum { MAX_COPIES = 64 };

static struct weight make_weight(enum dtype dt, int64_t rows, int64_t cols, enum weight_scale sk)
{
	struct weight w = {.dtype = dt, .rows = rows, .cols = cols, .scale_kind = sk, .scale_dtype = DTYPE_F32,
	                   .block = {128, 128}};
	size_t n = (size_t)(rows * cols);
	void *d = xaligned_alloc(n * dtype_size(dt));
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng_next(&rng);
		/* a cheap spread of small values: the kernels' speed does not depend on them */
		float v = ((float)(r & 0xffff) - 32768.0f) * 6e-7f;
		if (dt == DTYPE_BF16) ((uint16_t *)d)[i] = f32_to_bf16(v);
		else if (dt == DTYPE_F8_E4M3) ((uint8_t *)d)[i] = (uint8_t)((r >> 16) & 0xf6); /* no NaN codes */
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

static void free_weight(struct weight *w)
{
	free((void *)w->data);
	free((void *)w->scale);
}

/* Seconds per call, best of `reps` calls, folded into *best. Calls cycle through the `copies`
 * copies of the weight: together they are far larger than the last-level cache, so every call
 * reads its weights from memory, as a decode step does (an immediately repeated call would
 * find part of them still in L3). */
static void time_matmul(struct backend *be, float *y, const float *x, int n, const struct weight *w, int copies,
                        int reps, double *best)
{
	be->ops->matmul(be, y, x, n, &w[copies - 1], NULL); /* warm-up */
	for (int r = 0; r < reps; r++) {
		double t0 = time_now();
		be->ops->matmul(be, y, x, n, &w[r % copies], NULL);
		double dt = time_now() - t0;
		if (dt < *best) *best = dt;
	}
}

/* Each task waits until every task of the job has started: the job's time is then the time
 * for all threads to take part, i.e. the pool's hand-off latency. */
struct gather {
	_Atomic int started;
	int n;
};

static void gather_task(void *ctx, int task, int n_tasks, int thread)
{
	struct gather *g = ctx;
	atomic_fetch_add(&g->started, 1);
	while (atomic_load(&g->started) < g->n) {}
}

static void nop_task(void *ctx, int task, int n_tasks, int thread) {}

enum { HEADS = 96, KV = 8, HD = 128, BS = 16, CTX = 4096, NB = CTX / BS, PREFILL = 512 };

struct attn_bench {
	float *k, *v, *q, *o;
	int32_t table[NB], pos[PREFILL], dpos;
	const int32_t *bt[PREFILL];
};

/* GQA attention as in GLM-4.5-Air (96 query heads over 8 kv heads of 128): one decode token
 * over a 4096-token context (memory bound: GB/s of K and V read), and a 512-token prefill
 * chunk of one sequence (GFLOP/s of the q·k and p·v products). */
static void attn_setup(struct attn_bench *ab)
{
	size_t kv_floats = (size_t)CTX * KV * HD;
	ab->k = xaligned_alloc(kv_floats * 4), ab->v = xaligned_alloc(kv_floats * 4);
	for (size_t i = 0; i < kv_floats; i++) ab->k[i] = (float)rng_normal(&rng), ab->v[i] = (float)rng_normal(&rng);
	for (int b = 0; b < NB; b++) ab->table[b] = (b * 37) % NB; /* scattered blocks */
	size_t qn = (size_t)PREFILL * HEADS * HD;
	ab->q = xaligned_alloc(sizeof(float) * qn), ab->o = xaligned_alloc(sizeof(float) * qn);
	for (size_t i = 0; i < qn; i++) ab->q[i] = (float)rng_normal(&rng);
	for (int t = 0; t < PREFILL; t++) ab->pos[t] = t, ab->bt[t] = ab->table;
	ab->dpos = CTX - 1;
}

static void attn_time(struct backend *be, struct attn_bench *ab, bool prefill, double *best)
{
	struct attn_args a = {.n_tokens = prefill ? PREFILL : 1, .n_heads = HEADS, .n_kv_heads = KV, .head_dim = HD,
	                      .v_dim = HD, .scale = 0.0883883f, .q = ab->q, .out = ab->o, .k = ab->k, .v = ab->v,
	                      .k_stride = KV * HD, .v_stride = KV * HD, .block_size = BS,
	                      .pos = prefill ? ab->pos : &ab->dpos, .block_table = ab->bt};
	for (int r = 0; r < (prefill ? 2 : 10); r++) {
		double t0 = time_now();
		be->ops->attention(be, &a);
		double dt = time_now() - t0;
		if (dt < *best) *best = dt;
	}
}

int main(int argc, char **argv)
{
	int nth = argc > 1 ? atoi(argv[1]) : 2;
	const char *isa = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	rng_seed(&rng, 42);
	struct backend *be = backend_cpu_create(nth, isa);
	if (!be) return 1;
	bool has_bf16 = backend_cpu_set_bf16_activations(be, true) == 0;
	backend_cpu_set_bf16_activations(be, false);
	printf("cpu backend: %s, %d threads, best of %d rounds\n", backend_cpu_isa(be), be->n_threads, rounds);

	struct {
		const char *what;
		enum dtype dt;
		enum weight_scale sk;
		int64_t rows, cols;
		int n;
		bool bf16;
		struct weight w[MAX_COPIES];
		int copies;
		double best;
	} mv[] = {
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288, 1, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288, 2, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288, 4, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288, 8, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 12288, 4096, 1, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 12288, 1, true, {{0}}, 0, 0},
		{"GEMV", DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, 4096, 12288, 1, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, 4096, 12288, 2, false, {{0}}, 0, 0},
		{"GEMV", DTYPE_F32, WEIGHT_SCALE_NONE, 4096, 8192, 1, false, {{0}}, 0, 0},
		{"GEMM", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 4096, 512, false, {{0}}, 0, 0},
		{"GEMM", DTYPE_BF16, WEIGHT_SCALE_NONE, 4096, 4096, 512, true, {{0}}, 0, 0},
		{"GEMM", DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, 4096, 4096, 512, false, {{0}}, 0, 0},
		{"GEMM", DTYPE_BF16, WEIGHT_SCALE_NONE, 1408, 4096, 32, false, {{0}}, 0, 0}, /* a MoE expert's share of a chunk */
		{"GEMM", DTYPE_BF16, WEIGHT_SCALE_NONE, 1408, 4096, 32, true, {{0}}, 0, 0},
	};
	enum { NMV = sizeof mv / sizeof *mv };
	/* weights shared between cases of the same shape and type; copies adding up to >= 384 MiB
	 * (12x the 32 MiB L3 of the machine this was written on) */
	for (int i = 0; i < NMV; i++) {
		mv[i].best = INFINITY;
		int j = 0;
		while (j < i && !(mv[j].dt == mv[i].dt && mv[j].rows == mv[i].rows && mv[j].cols == mv[i].cols)) j++;
		if (j < i) {
			memcpy(mv[i].w, mv[j].w, sizeof mv[i].w);
			mv[i].copies = mv[j].copies;
			continue;
		}
		double bytes = (double)mv[i].rows * mv[i].cols * dtype_size(mv[i].dt);
		mv[i].copies = (int)ceil(384.0 * (1 << 20) / bytes);
		if (mv[i].copies > MAX_COPIES) mv[i].copies = MAX_COPIES;
		for (int c = 0; c < mv[i].copies; c++) mv[i].w[c] = make_weight(mv[i].dt, mv[i].rows, mv[i].cols, mv[i].sk);
	}
	float *x = xaligned_alloc(sizeof(float) * 512 * 12288), *y = xaligned_alloc(sizeof(float) * 512 * 12288);
	for (size_t i = 0; i < (size_t)512 * 12288; i++) x[i] = (float)rng_normal(&rng);
	struct attn_bench ab;
	attn_setup(&ab);
	double bw = 0, t_nop = INFINITY, t_gather = INFINITY, t_ad = INFINITY, t_ap = INFINITY;
	struct threadpool *tp = backend_cpu_threadpool(be);

	for (int round = 0; round < rounds; round++) {
		double b = cpu_measure_read_bandwidth(be, (size_t)1 << 30);
		if (b > bw) bw = b;
		for (int i = 0; i < NMV; i++) {
			if (mv[i].bf16 && !has_bf16) continue;
			backend_cpu_set_bf16_activations(be, mv[i].bf16);
			/* single calls (a few ms), as the probe's passes: both get the same chance at a
			 * quiet moment of the machine */
			bool big = mv[i].n >= 512;
			time_matmul(be, y, x, mv[i].n, mv[i].w, mv[i].copies, big ? 2 : 12, &mv[i].best);
		}
		backend_cpu_set_bf16_activations(be, false);
		int jobs = 20000;
		double t0 = time_now();
		for (int i = 0; i < jobs; i++) threadpool_run(tp, nop_task, NULL, be->n_threads);
		double dt = (time_now() - t0) / jobs;
		if (dt < t_nop) t_nop = dt;
		struct gather g = {0, be->n_threads};
		t0 = time_now();
		for (int i = 0; i < jobs; i++) {
			atomic_store(&g.started, 0);
			threadpool_run(tp, gather_task, &g, be->n_threads);
		}
		dt = (time_now() - t0) / jobs;
		if (dt < t_gather) t_gather = dt;
		attn_time(be, &ab, false, &t_ad);
		attn_time(be, &ab, true, &t_ap);
	}

	printf("measured read bandwidth (cpu_measure_read_bandwidth, 1 GiB): %.1f GB/s\n", bw);
	printf("thread pool: %.2f us per empty job, %.2f us per job that needs all %d threads\n", t_nop * 1e6,
	       t_gather * 1e6, be->n_threads);
	for (int i = 0; i < NMV; i++) {
		if (mv[i].bf16 && !has_bf16) {
			printf("%s bf16 mode: not available on this CPU\n", mv[i].what);
			continue;
		}
		double bytes = (double)mv[i].rows * mv[i].cols * dtype_size(mv[i].dt);
		double flop = 2.0 * mv[i].n * mv[i].rows * mv[i].cols, dt = mv[i].best;
		char name[64];
		snprintf(name, sizeof name, "%s%s", dtype_name(mv[i].dt), mv[i].sk == WEIGHT_SCALE_BLOCK ? "(block)" : "");
		printf("%s %-14s %5lldx%-5lld n=%-3d %s: %8.3f ms  %6.1f GB/s (%3.0f%% of bw)  %6.1f GFLOP/s\n", mv[i].what,
		       name, (long long)mv[i].rows, (long long)mv[i].cols, mv[i].n, mv[i].bf16 ? "bf16" : "fp32", dt * 1e3,
		       bytes / dt / 1e9, 100 * bytes / dt / 1e9 / bw, flop / dt / 1e9);
	}
	double kv = 2.0 * CTX * KV * HD * 4, flop = 0;
	for (int t = 0; t < PREFILL; t++) flop += 4.0 * (t + 1) * HD * HEADS;
	printf("attention decode, ctx %d, %d/%d heads x %d: %.3f ms  %.1f GB/s of K+V (%.0f%% of bw)\n", CTX, HEADS, KV, HD,
	       t_ad * 1e3, kv / t_ad / 1e9, 100 * kv / t_ad / 1e9 / bw);
	printf("attention prefill, %d tokens causal: %.2f ms  %.1f GFLOP/s\n", PREFILL, t_ap * 1e3, flop / t_ap / 1e9);

	for (int i = 0; i < NMV; i++) {
		int j = 0;
		while (j < i && mv[j].w[0].data != mv[i].w[0].data) j++;
		if (j == i)
			for (int c = 0; c < mv[i].copies; c++) free_weight(&mv[i].w[c]);
	}
	free(ab.k), free(ab.v), free(ab.q), free(ab.o);
	free(x), free(y);
	backend_destroy(be);
	return 0;
}
