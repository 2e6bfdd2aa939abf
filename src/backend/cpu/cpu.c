/* cpu.c — the cpu backend's driver: picks the kernel set once at creation (CPU features, or
 * the caller's isa string), owns the thread pool and the per-call scratch (grown on demand,
 * never shrunk, so a steady step loop does not allocate), and splits every op into tasks.
 * It contains no intrinsics: the kernels live in cpu_scalar.c, cpu_avx2.c, cpu_avx512.c and
 * cpu_avx512_vbmi.c.
 * Thread rules: one caller thread at a time per backend (backend.h); tasks run on the pool and
 * write disjoint parts of the output. */
#include "backend/cpu/cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "base/base.h"
#include "base/dtype.h"
#include "base/threadpool.h"

/* Up to this many tokens a matmul is "decode-like": memory bound, each weight row streamed
 * once and reused by all tokens from L1/L2. */
#define CPU_SMALL_N 8

struct cpu_backend {
	struct backend be; /* be.impl points back here */
	struct threadpool *tp;
	const struct cpu_isa *isa;
	bool has_bf16; /* CPU and kernel set can run the bf16-activation kernels */
	bool bf16_act;
	char isa_name[32];
	void *xp_buf; /* matmul: activations in the kernels' layout, all items of a group */
	size_t xp_cap;
	float *scale_buf; /* matmul: fp32 scales, all items of a group */
	size_t scale_cap;
	void *mms, *bufs, *tasks; /* matmul: per item cpu_matmul and prep buffer; task list */
	size_t mms_cap, bufs_cap, tasks_cap;
	int n_tasks;
	float **scratch; /* per thread: attention scores */
	size_t *scratch_cap;
	float **pack; /* per thread: CPU_PACK_ROWS x CPU_PACK_STRIDE decoded weights */
	void *chunks; /* attention: chunk list and merge list */
	size_t chunks_cap;
	float *parts; /* attention: split tokens' chunk states */
	size_t parts_cap;
};

static struct cpu_backend *cpu_of(struct backend *be) { return be->impl; }

static void *grow(void *p, size_t *cap, size_t need)
{
	if (need <= *cap) return p;
	free(p);
	*cap = need + need / 4;
	return xaligned_alloc(*cap);
}

/* grow() that keeps the contents. */
static void *grow_keep(void *p, size_t *cap, size_t need)
{
	if (need <= *cap) return p;
	*cap = need;
	return xrealloc(p, need);
}

/* ---- matmul ---- */

/* One task of a matmul group: rows [r0, r1) of tokens [t0, t1) of item `item` (a prep task
 * uses only item and the tokens). */
struct mm_task {
	int item, t0, t1;
	int64_t r0, r1;
};

struct mm_job {
	const struct cpu_isa *isa;
	const struct cpu_matmul *mms;
	const struct matmul_item *items;
	void *const *bufs;
	const struct mm_task *tasks;
	float **scratch;
};

static void mm_prep_task(void *ctx, int task, int n_tasks, int thread)
{
	struct mm_job *j = ctx;
	const struct mm_task *tk = &j->tasks[task];
	j->isa->matmul_prep(&j->mms[tk->item], j->items[tk->item].x, j->bufs[tk->item], tk->t0, tk->t1);
}

static void mm_task(void *ctx, int task, int n_tasks, int thread)
{
	struct mm_job *j = ctx;
	const struct mm_task *tk = &j->tasks[task];
	j->isa->matmul_rows(&j->mms[tk->item], tk->r0, tk->r1, tk->t0, tk->t1, j->scratch[thread]);
}

static int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Sets mm's scale layout (struct cpu_matmul) and returns how many fp32 scales it needs, 0 for
 * none; mm_scale_fill writes them. */
static int64_t mm_scale_layout(struct cpu_matmul *mm)
{
	const struct weight *w = mm->w;
	mm->scale = NULL;
	mm->scale_bh = 1, mm->scale_bw = 0, mm->scale_stride = 1;
	switch (w->scale_kind) {
	case WEIGHT_SCALE_ROW: return w->rows;
	case WEIGHT_SCALE_BLOCK:
		GLM_ASSERT(w->block[0] > 0 && w->block[1] > 0);
		mm->scale_bh = w->block[0], mm->scale_bw = w->block[1];
		mm->scale_stride = div_up(w->cols, w->block[1]);
		return div_up(w->rows, w->block[0]) * mm->scale_stride;
	default:
		if (w->dtype != DTYPE_F8_E4M3) return 0;
		mm->scale_bh = w->rows, mm->scale_stride = 0; /* one 256 for all */
		return 1;
	}
}

static void mm_scale_fill(struct cpu_matmul *mm, float *dst, int64_t count)
{
	const struct weight *w = mm->w;
	if (w->scale_kind == WEIGHT_SCALE_NONE) dst[0] = 1.0f;
	else {
		GLM_ASSERT(w->scale_dtype == DTYPE_F32 || w->scale_dtype == DTYPE_BF16);
		dtype_to_f32(w->scale_dtype, w->scale, dst, (size_t)count);
	}
	if (w->dtype == DTYPE_F8_E4M3)
		for (int64_t i = 0; i < count; i++) dst[i] *= 256.0f;
	mm->scale = dst;
}

/* Appends item it's compute tasks to cb->tasks (the split policy of one matmul, for nth threads). */
static void mm_split(struct cpu_backend *cb, const struct cpu_matmul *mm, int it, int nth)
{
	int64_t rows = mm->rows, rows_per_task;
	int toks_per_task;
	if (mm->small) {
		/* Contiguous row ranges, a few per thread for balance, none smaller than ~64 KiB of
		 * weights (below that the hand-off costs more than it saves). */
		int64_t row_bytes = mm->cols * (int64_t)dtype_size(mm->w->dtype);
		int64_t per = div_up(rows, (int64_t)nth * 4);
		int64_t min_rows = div_up(65536, row_bytes > 0 ? row_bytes : 1);
		if (per < min_rows) per = min_rows;
		rows_per_task = div_up(per, CPU_TILE_MAX_ROWS) * CPU_TILE_MAX_ROWS;
		toks_per_task = mm->n;
	} else {
		rows_per_task = CPU_PACK_ROWS;
		int64_t rtasks = div_up(rows, rows_per_task);
		/* Too few row blocks to feed the threads: also split the tokens. */
		int tblocks = rtasks >= 4 * nth ? 1 : (int)div_up(4 * nth, rtasks);
		toks_per_task = (int)div_up(div_up(mm->n, tblocks), 4) * 4;
	}
	for (int t0 = 0; t0 < mm->n; t0 += toks_per_task)
		for (int64_t r0 = 0; r0 < rows; r0 += rows_per_task) {
			if (cb->n_tasks == cb->tasks_cap / sizeof(struct mm_task))
				cb->tasks = grow_keep(cb->tasks, &cb->tasks_cap, cb->tasks_cap * 2 + 64 * sizeof(struct mm_task));
			struct mm_task *tk = &((struct mm_task *)cb->tasks)[cb->n_tasks++];
			tk->item = it, tk->r0 = r0, tk->r1 = r0 + rows_per_task < rows ? r0 + rows_per_task : rows;
			tk->t0 = t0, tk->t1 = t0 + toks_per_task < mm->n ? t0 + toks_per_task : mm->n;
		}
}

static void cpu_matmul_group(struct backend *be, const struct matmul_item *items, int n_items)
{
	struct cpu_backend *cb = cpu_of(be);
	int nth = threadpool_size(cb->tp);
	if (n_items <= 0) return;
	/* per item: its cpu_matmul, scale count, prep buffer size */
	cb->mms = grow(cb->mms, &cb->mms_cap, sizeof(struct cpu_matmul) * (size_t)n_items);
	cb->bufs = grow(cb->bufs, &cb->bufs_cap, sizeof(void *) * (size_t)n_items);
	struct cpu_matmul *mms = cb->mms;
	void **bufs = cb->bufs;
	int64_t n_scales = 0;
	size_t xp_bytes = 0;
	for (int i = 0; i < n_items; i++) {
		const struct matmul_item *it = &items[i];
		const struct weight *w = it->w;
		GLM_ASSERT(w->dtype == DTYPE_F32 || w->dtype == DTYPE_F16 || w->dtype == DTYPE_BF16 ||
		           w->dtype == DTYPE_F8_E4M3);
		struct cpu_matmul *mm = &mms[i];
		*mm = (struct cpu_matmul){
			.w = w, .n = it->n, .rows = w->rows, .cols = w->cols, .xp = it->x, .xp_stride = w->cols, .y = it->y,
			.bias = it->bias,
		};
		bufs[i] = NULL;
		if (it->n <= 0 || w->rows <= 0 || w->cols <= 0) continue;
		n_scales += mm_scale_layout(mm);
		mm->bf16_act = cb->bf16_act && w->dtype == DTYPE_BF16 && w->scale_kind == WEIGHT_SCALE_NONE;
		mm->small = it->n <= CPU_SMALL_N;
		if (cb->isa->matmul_prep_needed(mm)) xp_bytes += (mm->bf16_act ? 2 : 4) * (size_t)it->n * (size_t)w->cols + 64;
	}
	cb->scale_buf = grow(cb->scale_buf, &cb->scale_cap, sizeof(float) * (size_t)(n_scales + 1));
	cb->xp_buf = grow(cb->xp_buf, &cb->xp_cap, xp_bytes + 1);
	float *sp = cb->scale_buf;
	char *xp = cb->xp_buf;
	cb->n_tasks = 0;
	for (int i = 0; i < n_items; i++) {
		const struct matmul_item *it = &items[i];
		struct cpu_matmul *mm = &mms[i];
		if (it->n <= 0 || mm->rows <= 0) continue;
		if (mm->cols <= 0) { /* empty sums: y is the bias (or zero), as in the reference */
			for (int t = 0; t < it->n; t++)
				for (int64_t r = 0; r < mm->rows; r++) it->y[(int64_t)t * mm->rows + r] = it->bias ? it->bias[r] : 0.0f;
			continue;
		}
		int64_t count = mm_scale_layout(mm);
		if (count) mm_scale_fill(mm, sp, count), sp += count;
		if (!cb->isa->matmul_prep_needed(mm)) continue;
		/* prep tasks: a few token ranges for big inputs, one for small */
		bufs[i] = xp;
		xp += ((mm->bf16_act ? 2 : 4) * (size_t)it->n * (size_t)mm->cols + 64) / 64 * 64;
		int parts = (int64_t)it->n * mm->cols >= 65536 ? (it->n < nth * 4 ? it->n : nth * 4) : 1;
		for (int p = 0; p < parts; p++) {
			if (cb->n_tasks == cb->tasks_cap / sizeof(struct mm_task))
				cb->tasks = grow_keep(cb->tasks, &cb->tasks_cap, cb->tasks_cap * 2 + 64 * sizeof(struct mm_task));
			struct mm_task *tk = &((struct mm_task *)cb->tasks)[cb->n_tasks++];
			tk->item = i, tk->t0 = (int)((int64_t)it->n * p / parts), tk->t1 = (int)((int64_t)it->n * (p + 1) / parts);
		}
	}
	struct mm_job job = {.isa = cb->isa, .mms = mms, .items = items, .bufs = bufs, .scratch = cb->pack};
	if (cb->n_tasks) {
		job.tasks = cb->tasks;
		threadpool_run(cb->tp, mm_prep_task, &job, cb->n_tasks);
	}
	cb->n_tasks = 0;
	for (int i = 0; i < n_items; i++) {
		struct cpu_matmul *mm = &mms[i];
		if (mm->n <= 0 || mm->rows <= 0 || mm->cols <= 0) continue;
		if (bufs[i]) mm->xp = bufs[i];
		mm_split(cb, mm, i, nth);
	}
	job.tasks = cb->tasks;
	if (cb->n_tasks) threadpool_run(cb->tp, mm_task, &job, cb->n_tasks);
}

static void cpu_matmul(struct backend *be, float *y, const float *x, int n, const struct weight *w, const float *bias)
{
	struct matmul_item it = {.y = y, .x = x, .n = n, .w = w, .bias = bias};
	cpu_matmul_group(be, &it, 1);
}

/* ---- attention ---- */

/* A token's context is cut into chunks of at most this many positions when that makes enough
 * tasks (decode over a long context); chunks are merged afterwards. Below the minimum a chunk
 * would cost more in merging than it gains in parallelism. */
#define ATTN_MIN_CHUNK 256
#define ATTN_MAX_CHUNK 2048

struct attn_chunk {
	int t, p0, p1;
	int part; /* index of its partial state, -1 when it is the whole context */
};

struct attn_job {
	struct cpu_backend *cb;
	const struct attn_args *a;
	const struct attn_chunk *chunks;
	const int *merge; /* [n_merge][2]: first chunk and chunk count of each split token */
	float *parts;
	size_t part_floats;
};

static void attn_task(void *ctx, int task, int n_tasks, int thread)
{
	struct attn_job *j = ctx;
	const struct attn_chunk *c = &j->chunks[task];
	j->cb->isa->attention(j->a, c->t, c->p0, c->p1, j->cb->scratch[thread],
	                      c->part < 0 ? NULL : j->parts + (size_t)c->part * j->part_floats);
}

/* Combines a split token's chunk states: with M the largest chunk max, each chunk's sums are
 * rescaled by e^(m_c - M), so out = sum_c e^(m_c-M) o_c / sum_c e^(m_c-M) l_c. */
static void attn_merge_task(void *ctx, int task, int n_tasks, int thread)
{
	struct attn_job *j = ctx;
	const struct attn_args *a = j->a;
	const struct attn_chunk *c0 = &j->chunks[j->merge[2 * task]];
	int nc = j->merge[2 * task + 1], vd = a->v_dim;
	for (int h = 0; h < a->n_heads; h++) {
		float mx = -INFINITY, sum = 0;
		for (int c = 0; c < nc; c++) {
			const float *st = j->parts + (size_t)c0[c].part * j->part_floats + (size_t)h * (vd + 2);
			if (st[0] > mx) mx = st[0];
		}
		float *o = a->out + ((size_t)c0->t * a->n_heads + h) * vd;
		for (int d = 0; d < vd; d++) o[d] = 0;
		for (int c = 0; c < nc; c++) {
			const float *st = j->parts + (size_t)c0[c].part * j->part_floats + (size_t)h * (vd + 2);
			float wgt = expf(st[0] - mx);
			sum += st[1] * wgt;
			for (int d = 0; d < vd; d++) o[d] += st[2 + d] * wgt;
		}
		float inv = 1.0f / sum;
		for (int d = 0; d < vd; d++) o[d] *= inv;
	}
}

static void cpu_attention(struct backend *be, const struct attn_args *a)
{
	struct cpu_backend *cb = cpu_of(be);
	GLM_ASSERT(a->n_kv_heads > 0 && a->n_heads % a->n_kv_heads == 0);
	if (a->n_tokens <= 0) return;
	int nth = threadpool_size(cb->tp);
	int64_t total = 0;
	for (int t = 0; t < a->n_tokens; t++) total += a->pos[t] + 1;
	int64_t cl = div_up(total, 4 * (int64_t)nth);
	cl = cl < ATTN_MIN_CHUNK ? ATTN_MIN_CHUNK : cl > ATTN_MAX_CHUNK ? ATTN_MAX_CHUNK : cl;

	/* chunk list: tokens in order, each token's chunks consecutive */
	int n_chunks = 0, n_parts = 0, n_merge = 0, max_len = 1;
	for (int t = 0; t < a->n_tokens; t++) {
		int nc = (int)div_up(a->pos[t] + 1, cl);
		n_chunks += nc;
		if (nc > 1) n_parts += nc, n_merge++;
	}
	cb->chunks = grow(cb->chunks, &cb->chunks_cap, sizeof(struct attn_chunk) * n_chunks + sizeof(int) * 2 * n_merge);
	struct attn_chunk *ch = cb->chunks;
	int *merge = (int *)(ch + n_chunks);
	int ci = 0, pi = 0, mi = 0;
	for (int t = 0; t < a->n_tokens; t++) {
		int n_ctx = a->pos[t] + 1, nc = (int)div_up(n_ctx, cl);
		if (nc > 1) merge[2 * mi] = ci, merge[2 * mi + 1] = nc, mi++;
		for (int c = 0; c < nc; c++) {
			int p0 = (int)((int64_t)n_ctx * c / nc), p1 = (int)((int64_t)n_ctx * (c + 1) / nc);
			ch[ci++] = (struct attn_chunk){t, p0, p1, nc > 1 ? pi++ : -1};
			if (p1 - p0 > max_len) max_len = p1 - p0;
		}
	}
	size_t part_floats = (size_t)a->n_heads * (a->v_dim + 2);
	if (n_parts) cb->parts = grow(cb->parts, &cb->parts_cap, sizeof(float) * part_floats * n_parts);
	for (int i = 0; i < nth; i++)
		cb->scratch[i] = grow(cb->scratch[i], &cb->scratch_cap[i], sizeof(float) * cpu_attn_scratch(a, max_len));
	struct attn_job job = {cb, a, ch, merge, cb->parts, part_floats};
	threadpool_run(cb->tp, attn_task, &job, n_chunks);
	if (n_merge) threadpool_run(cb->tp, attn_merge_task, &job, n_merge);
}

/* ---- elementwise ---- */

struct rms_job {
	float *y;
	const float *x, *w;
	int n, dim;
	float eps;
};

static void rms_task(void *ctx, int task, int n_tasks, int thread)
{
	struct rms_job *j = ctx;
	int t0 = (int)((int64_t)j->n * task / n_tasks), t1 = (int)((int64_t)j->n * (task + 1) / n_tasks);
	ref_rmsnorm(NULL, j->y + (size_t)t0 * j->dim, j->x + (size_t)t0 * j->dim, t1 - t0, j->dim, j->w, j->eps);
}

/* The reference's code on token ranges: bit-identical, and a norm is too small to be worth a
 * vector reduction with a different summation order. */
static void cpu_rmsnorm(struct backend *be, float *y, const float *x, int n, int dim, const float *w, float eps)
{
	struct cpu_backend *cb = cpu_of(be);
	struct rms_job job = {y, x, w, n, dim, eps};
	int nth = threadpool_size(cb->tp);
	int tasks = (int64_t)n * dim < 32768 ? 1 : (n < nth * 4 ? n : nth * 4);
	threadpool_run(cb->tp, rms_task, &job, tasks);
}

struct silu_job {
	const struct cpu_isa *isa;
	float *y;
	const float *g, *u;
	size_t n;
};

static void silu_task(void *ctx, int task, int n_tasks, int thread)
{
	struct silu_job *j = ctx;
	/* split on 64-element boundaries so every vector loop but the last runs full */
	size_t blocks = (j->n + 63) / 64;
	size_t i0 = blocks * task / n_tasks * 64, i1 = blocks * (task + 1) / n_tasks * 64;
	if (i1 > j->n) i1 = j->n;
	if (i0 < i1) j->isa->silu_mul(j->y + i0, j->g + i0, j->u + i0, i1 - i0);
}

static void cpu_silu_mul(struct backend *be, float *y, const float *g, const float *u, size_t n)
{
	struct cpu_backend *cb = cpu_of(be);
	struct silu_job job = {cb->isa, y, g, u, n};
	int nth = threadpool_size(cb->tp);
	threadpool_run(cb->tp, silu_task, &job, n < 32768 ? 1 : nth * 2);
}

/* ---- lifetime ---- */

static void cpu_destroy(struct backend *be)
{
	struct cpu_backend *cb = cpu_of(be);
	int nth = threadpool_size(cb->tp);
	threadpool_destroy(cb->tp);
	for (int i = 0; i < nth; i++) free(cb->scratch[i]), free(cb->pack[i]);
	free(cb->pack);
	free(cb->scratch);
	free(cb->scratch_cap);
	free(cb->xp_buf);
	free(cb->scale_buf);
	free(cb->mms), free(cb->bufs), free(cb->tasks);
	free(cb->chunks);
	free(cb->parts);
	free(cb);
}

static const struct backend_ops cpu_ops = {
	.name = "cpu",
	.matmul = cpu_matmul,
	.matmul_group = cpu_matmul_group,
	.rmsnorm = cpu_rmsnorm,
	.attention = cpu_attention,
	.silu_mul = cpu_silu_mul,
	.destroy = cpu_destroy,
};

/* Chooses the kernel set: the best the CPU supports, or the one asked for (NULL if that one
 * cannot run here). "avx512" is the AVX-512 set with its VBMI kernels where the CPU has VBMI;
 * "avx512-base" forces the set without them (to test that path on any AVX-512 CPU). */
#if defined(__x86_64__)
/* F16C (CPUID.1:ECX bit 29), which clang's __builtin_cpu_supports does not know. */
static bool cpu_has_f16c(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}
#endif

static const struct cpu_isa *cpu_pick_isa(const char *want, bool *bf16)
{
	*bf16 = false;
#if defined(__x86_64__)
	__builtin_cpu_init();
	bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
	bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	              __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
	bool bf = avx512 && __builtin_cpu_supports("avx512bf16");
	bool vbmi = avx512 && __builtin_cpu_supports("avx512vbmi");
	if (!want || !*want) want = avx512 ? "avx512" : avx2 ? "avx2" : "scalar";
	if (!strcmp(want, "avx512") || !strcmp(want, "avx512-base")) {
		*bf16 = bf;
		if (!avx512) return NULL;
		return vbmi && !strcmp(want, "avx512") ? &cpu_isa_avx512_vbmi : &cpu_isa_avx512;
	}
	if (!strcmp(want, "avx2")) return avx2 ? &cpu_isa_avx2 : NULL;
#else
	if (!want || !*want) want = "scalar";
#endif
	if (!strcmp(want, "scalar")) return &cpu_isa_scalar;
	return NULL;
}

struct backend *backend_cpu_create(int n_threads, const char *isa)
{
	bool bf16;
	const struct cpu_isa *set = cpu_pick_isa(isa, &bf16);
	if (!set) {
		log_error("cpu backend: instruction set '%s' is unknown or not supported by this CPU", isa);
		return NULL;
	}
	if (set->init) set->init(); /* idempotent; before any thread can run a kernel */
	struct cpu_backend *cb = xcalloc(1, sizeof *cb);
	cb->tp = threadpool_create(n_threads);
	cb->isa = set;
	cb->has_bf16 = bf16;
	snprintf(cb->isa_name, sizeof cb->isa_name, "%s%s", set->name, bf16 ? "+bf16" : "");
	int nth = threadpool_size(cb->tp);
	cb->scratch = xcalloc((size_t)nth, sizeof *cb->scratch);
	cb->scratch_cap = xcalloc((size_t)nth, sizeof *cb->scratch_cap);
	cb->pack = xcalloc((size_t)nth, sizeof *cb->pack);
	for (int i = 0; i < nth; i++) cb->pack[i] = xaligned_alloc(sizeof(float) * CPU_PACK_ROWS * CPU_PACK_STRIDE);
	cb->be.ops = &cpu_ops;
	cb->be.n_threads = nth;
	cb->be.impl = cb;
	return &cb->be;
}

int backend_cpu_set_bf16_activations(struct backend *be, bool on)
{
	struct cpu_backend *cb = cpu_of(be);
	if (on && !cb->has_bf16) return -1;
	cb->bf16_act = on;
	return 0;
}

bool backend_cpu_bf16_activations(const struct backend *be) { return ((const struct cpu_backend *)be->impl)->bf16_act; }

const char *backend_cpu_isa(const struct backend *be) { return ((const struct cpu_backend *)be->impl)->isa_name; }

struct threadpool *backend_cpu_threadpool(struct backend *be) { return cpu_of(be)->tp; }

/* ---- memory bandwidth probe ---- */

struct bw_job {
	const struct cpu_isa *isa;
	char *buf;
	size_t slice;
	int first; /* slice of this pass's task 0 */
	int n_slices;
	uint64_t sink[256];
	bool fill;
};

static void bw_task(void *ctx, int task, int n_tasks, int thread)
{
	struct bw_job *j = ctx;
	char *p = j->buf + (size_t)((j->first + task) % j->n_slices) * j->slice;
	if (j->fill) memset(p, task + 1, j->slice);
	else j->sink[thread % 256] += j->isa->read_sum(p, j->slice);
}

double cpu_measure_read_bandwidth(struct backend *be, size_t bytes)
{
	struct cpu_backend *cb = cpu_of(be);
	int nth = threadpool_size(cb->tp);
	/* The buffer is cut into 32 slices per thread; a pass reads a quarter of the buffer (8
	 * slices per thread, which keeps all threads busy to the end even if one is slower), the
	 * next pass the next quarter: nothing read is still in cache, and passes are short, about
	 * as long as a decode step's matmuls, so that the best pass finds the machine's quiet
	 * moments as the kernels being judged do. */
	int n_slices = nth * 32, tasks = nth * 8;
	if (!bytes) bytes = (size_t)1 << 30;
	size_t slice = bytes / (size_t)n_slices / 4096 * 4096;
	if (!slice) slice = 4096;
	struct bw_job *job = xcalloc(1, sizeof *job);
	job->isa = cb->isa;
	job->slice = slice;
	job->n_slices = n_slices;
	void *p = NULL;
	if (posix_memalign(&p, 4096, slice * (size_t)n_slices) != 0) {
		free(job);
		return 0;
	}
	job->buf = p;
	job->fill = true; /* touch every page first (and from the threads that will read it) */
	threadpool_run(cb->tp, bw_task, job, n_slices);
	job->fill = false;
	/* Best of at least 16 passes and 0.5 s: on a shared machine single passes vary a lot. */
	double best = 0, start = time_now();
	for (int run = 0; run < 200 && (run < 17 || time_now() - start < 0.5); run++) {
		job->first = run * tasks % n_slices;
		double t0 = time_now();
		threadpool_run(cb->tp, bw_task, job, tasks);
		double dt = time_now() - t0;
		double gbs = (double)slice * tasks / dt / 1e9;
		if (run > 0 && gbs > best) best = gbs; /* run 0 warms up */
	}
	uint64_t s = 0;
	for (int i = 0; i < 256; i++) s ^= job->sink[i];
	if (s == 0x5eed) log_debug("bandwidth probe checksum %llu", (unsigned long long)s); /* keeps the reads */
	free(p);
	free(job);
	return best;
}
