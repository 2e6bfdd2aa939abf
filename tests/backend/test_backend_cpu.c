/* Tests the cpu backend against the reference backend (backend/ref), op by op, for every
 * kernel set the CPU can run ("scalar", "avx2", "avx512-base", "avx512"; a set the CPU lacks is
 * reported as such and the others still run): matmul for every weight dtype and scale layout, odd shapes
 * and token counts on both sides of the decode/prefill switch, bias on and off; FP8 NaN codes;
 * attention over paged caches with shuffled block tables, several sequences, GQA/MQA and odd
 * head sizes; rmsnorm and silu_mul; and the bf16-activation mode's error figure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/cpu.h"
#include "base/base.h"
#include "base/dtype.h"
#include "../test_util.h"

static struct rng rng;

static float randn(void) { return (float)rng_normal(&rng); }
static float randu(float lo, float hi) { return lo + (hi - lo) * (float)rng_uniform(&rng); }

/* ---- weights ---- */

struct wspec {
	enum dtype dt;
	enum weight_scale sk;
	enum dtype sdt;
	int b0, b1;
};

static void weight_make(struct weight *w, const struct wspec *s, int64_t rows, int64_t cols)
{
	memset(w, 0, sizeof *w);
	w->dtype = s->dt, w->rows = rows, w->cols = cols;
	w->scale_kind = s->sk, w->scale_dtype = s->sdt;
	w->block[0] = s->b0, w->block[1] = s->b1;
	size_t n = (size_t)(rows * cols);
	void *d = xmalloc(n * dtype_size(s->dt) + 1);
	for (size_t i = 0; i < n; i++) {
		float v = randn();
		switch (s->dt) {
		case DTYPE_F32: ((float *)d)[i] = v; break;
		case DTYPE_F16: ((uint16_t *)d)[i] = f32_to_f16(v); break;
		case DTYPE_BF16: ((uint16_t *)d)[i] = f32_to_bf16(v); break;
		default: { /* any e4m3 code but the two NaNs: subnormals and ±448 included */
			uint8_t b;
			do b = (uint8_t)rng_next(&rng);
			while ((b & 0x7f) == 0x7f);
			((uint8_t *)d)[i] = b;
		}
		}
	}
	w->data = d;
	int64_t ns = 0;
	if (s->sk == WEIGHT_SCALE_ROW) ns = rows;
	if (s->sk == WEIGHT_SCALE_BLOCK) ns = ((rows + s->b0 - 1) / s->b0) * ((cols + s->b1 - 1) / s->b1);
	if (ns) {
		void *sc = xmalloc((size_t)ns * 4);
		for (int64_t i = 0; i < ns; i++) {
			/* DeepSeek-style weight_scale_inv magnitudes for FP8, around 1 otherwise */
			float v = s->dt == DTYPE_F8_E4M3 ? randu(1e-4f, 3e-2f) : randu(0.25f, 2.0f);
			if (s->sdt == DTYPE_F32) ((float *)sc)[i] = v;
			else ((uint16_t *)sc)[i] = f32_to_bf16(v);
		}
		w->scale = sc;
	}
}

static void weight_free(struct weight *w)
{
	free((void *)w->data);
	free((void *)w->scale);
}

static const char *wspec_name(const struct wspec *s, char *buf, size_t n)
{
	static const char *sk[] = {"none", "row", "block"};
	if (s->sk == WEIGHT_SCALE_BLOCK)
		snprintf(buf, n, "%s/%s-%s %dx%d", dtype_name(s->dt), sk[s->sk], dtype_name(s->sdt), s->b0, s->b1);
	else if (s->sk == WEIGHT_SCALE_ROW) snprintf(buf, n, "%s/%s-%s", dtype_name(s->dt), sk[s->sk], dtype_name(s->sdt));
	else snprintf(buf, n, "%s/none", dtype_name(s->dt));
	return buf;
}

/* ---- the backends under test ---- */

/* "avx512-base" is the AVX-512 set without its VBMI kernels, which "avx512" uses where the CPU
 * has VBMI (then both run here). */
static const char *isas[] = {"scalar", "avx2", "avx512-base", "avx512"};
enum { N_ISA = 4 };
static struct backend *cpu[N_ISA];
static struct backend *ref;
static struct backend *bf16_be; /* avx512 with bf16 activations, if the CPU has avx512_bf16 */
static double bf16_max_rel;     /* worst |y - ref| / (sum_j |x_j w_ij| + |bias_i|) in bf16 mode */

/* Error bound for one matmul output y = sum_j x_j w_j computed in two summation orders.
 * Both sums use the same exact fp32 weight values (the fast kernels reproduce the reference's
 * dequantisation), so they differ only by rounding of the running sums: each order errs by at
 * most K*u*S (u = 2^-24, S = sum_j |x_j w_j|) and in practice by ~sqrt(K)*u*S. The bound
 * 1e-5*S (~170u*S) covers the K <= 1100 used here with a wide margin over what rounding does,
 * while any wrong weight, scale, activation or a missing/duplicated column changes y by about
 * one term, ~S/K >= 1e-3*S, and fails it. The bias joins S: the final y = sum + bias rounds
 * relative to |y| <= S + |bias|. The 1e-30 absolute term only covers S == 0. */
#define MM_REL 1e-5

static int check_matmul(const char *what, const float *y, const float *yr, const float *x, const float *wd,
                        const float *bias, int n, int64_t rows, int64_t cols, double rel, double *max_rel)
{
	int bad = 0;
	for (int t = 0; t < n && bad < 3; t++)
		for (int64_t i = 0; i < rows && bad < 3; i++) {
			double s = bias ? fabs(bias[i]) : 0;
			for (int64_t j = 0; j < cols; j++) s += fabs((double)x[t * cols + j] * wd[i * cols + j]);
			float a = y[t * rows + i], b = yr[t * rows + i];
			double d = fabs((double)a - b);
			if (max_rel && s > 0 && d / s > *max_rel) *max_rel = d / s;
			if (!(d <= rel * s + 1e-30) && !(isnan(a) && isnan(b))) {
				if (!bad) fprintf(stderr, "  %s: y[%d][%lld] = %.9g, ref %.9g (|diff| %.3g > bound %.3g)\n", what, t,
				                  (long long)i, a, b, d, rel * s);
				bad++;
			}
		}
	return bad == 0;
}

static void test_matmul_case(const struct wspec *s, int64_t rows, int64_t cols, const int *ns, int n_ns)
{
	struct weight w;
	weight_make(&w, s, rows, cols);
	float *wd = xmalloc(sizeof(float) * rows * cols); /* dequantised W, for error bounds */
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < cols; j++) wd[i * cols + j] = weight_get(&w, i, j);
	int max_n = 0;
	for (int k = 0; k < n_ns; k++) max_n = ns[k] > max_n ? ns[k] : max_n;
	float *x = xmalloc(sizeof(float) * max_n * cols), *bias = xmalloc(sizeof(float) * rows);
	float *yr = xmalloc(sizeof(float) * max_n * rows), *y = xmalloc(sizeof(float) * (max_n + 1) * rows);
	for (int64_t i = 0; i < max_n * cols; i++) x[i] = randn();
	for (int64_t i = 0; i < rows; i++) bias[i] = randn();
	char name[96], what[256];
	wspec_name(s, name, sizeof name);
	for (int k = 0; k < n_ns; k++) {
		int n = ns[k];
		const float *b = (k % 2) ? bias : NULL;
		ref->ops->matmul(ref, yr, x, n, &w, b);
		for (int e = 0; e < N_ISA; e++) {
			if (!cpu[e]) continue;
			for (int64_t i = 0; i < (n + 1) * rows; i++) y[i] = NAN; /* must be overwritten */
			cpu[e]->ops->matmul(cpu[e], y, x, n, &w, b);
			int guard = 1; /* and nothing past y[n][rows] written */
			for (int64_t i = n * rows; i < (n + 1) * rows; i++) guard &= isnan(y[i]);
			CHECK_MSG(guard, "matmul %s wrote past its output", isas[e]);
			snprintf(what, sizeof what, "matmul %s %s %lldx%lld n=%d bias=%d", isas[e], name, (long long)rows,
			         (long long)cols, n, b != NULL);
			CHECK_MSG(check_matmul(what, y, yr, x, wd, b, n, rows, cols, MM_REL, NULL), "%s", what);
		}
		if (bf16_be && s->dt == DTYPE_BF16) {
			bf16_be->ops->matmul(bf16_be, y, x, n, &w, b);
			snprintf(what, sizeof what, "matmul avx512+bf16-act %s %lldx%lld n=%d", name, (long long)rows,
			         (long long)cols, n);
			CHECK_MSG(check_matmul(what, y, yr, x, wd, b, n, rows, cols, 1e-2, &bf16_max_rel), "%s", what);
		}
	}
	free(x), free(bias), free(yr), free(y), free(wd);
	weight_free(&w);
}

static void test_matmul(void)
{
	const struct wspec specs[] = {
		{DTYPE_F32, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_BF16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_ROW, DTYPE_F32, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_ROW, DTYPE_BF16, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 128, 128},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_BF16, 128, 128},
		/* Scale blocks vs the decode kernels' units (fp8: 64 columns avx512, 32 avx2; bf16: 32 / 16;
		 * others 16 / 8): whole units take the vector path, others the scalar fallback. Prefill
		 * (n > 8) decodes any layout. */
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 7, 64},  /* vector on both */
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 3, 32},  /* vector on avx2, fallback on avx512 */
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 5, 20},  /* fallback on both */
		{DTYPE_BF16, WEIGHT_SCALE_ROW, DTYPE_F32, 0, 0},
		{DTYPE_BF16, WEIGHT_SCALE_BLOCK, DTYPE_F32, 64, 64},
		{DTYPE_BF16, WEIGHT_SCALE_BLOCK, DTYPE_BF16, 3, 48},    /* vector on avx2, fallback on avx512 */
		{DTYPE_F16, WEIGHT_SCALE_BLOCK, DTYPE_F32, 16, 32},
		{DTYPE_F32, WEIGHT_SCALE_ROW, DTYPE_BF16, 0, 0},
	};
	/* Token counts: the decode tiles' (8 rows x 1 or 2 tokens, 4 rows x up to 4), both sides of
	 * the decode/prefill switch (8), and prefill ones with partial token tiles. */
	const int ns_all[] = {1, 2, 3, 8, 9, 17, 64};
	const int ns_big[] = {1, 2, 9, 64};
	/* Shapes: tiny, rows not a multiple of the 4-row tile, columns shorter than a vector or
	 * not a multiple of 8/16/32/128, more columns than one column block (512), and partial
	 * scale blocks at both edges. */
	const int64_t shapes[][2] = {{1, 1}, {5, 7}, {13, 40}, {33, 100}, {67, 257}, {130, 1100}};
	for (size_t si = 0; si < sizeof specs / sizeof *specs; si++)
		for (size_t hi = 0; hi < sizeof shapes / sizeof *shapes; hi++) {
			bool big = shapes[hi][1] >= 1000;
			test_matmul_case(&specs[si], shapes[hi][0], shapes[hi][1], big ? ns_big : ns_all,
			                 big ? (int)(sizeof ns_big / sizeof *ns_big) : (int)(sizeof ns_all / sizeof *ns_all));
		}
}

/* matmul_group: items of mixed dtypes, scale layouts, shapes and token counts (decode and
 * prefill paths, empty items) in one call; each item's y must equal its own reference matmul,
 * and nothing between or after the items' outputs may be written. Run twice so that the
 * second call reuses the backend's grown buffers. */
static void test_matmul_group(void)
{
	const struct wspec specs[] = {
		{DTYPE_BF16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 128, 128},
		{DTYPE_F32, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_ROW, DTYPE_BF16, 0, 0},
		{DTYPE_BF16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_F16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_BF16, WEIGHT_SCALE_BLOCK, DTYPE_F32, 64, 64},
		{DTYPE_F8_E4M3, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
		{DTYPE_BF16, WEIGHT_SCALE_NONE, DTYPE_F32, 0, 0},
	};
	enum { N_ITEMS = sizeof specs / sizeof *specs };
	const int64_t shape[N_ITEMS][2] = {{130, 300}, {67, 257}, {5, 7}, {33, 100}, {64, 1100},
	                                   {13, 40}, {130, 129}, {40, 64}, {9, 33}};
	const int ns[N_ITEMS] = {1, 3, 0, 8, 17, 2, 9, 64, 1};
	struct weight w[N_ITEMS];
	struct matmul_item items[N_ITEMS];
	float *x[N_ITEMS], *yr[N_ITEMS], *wd[N_ITEMS], *bias[N_ITEMS];
	size_t y_at[N_ITEMS + 1];
	y_at[0] = 0;
	for (int i = 0; i < N_ITEMS; i++) {
		int64_t rows = shape[i][0], cols = shape[i][1];
		weight_make(&w[i], &specs[i], rows, cols);
		wd[i] = xmalloc(sizeof(float) * rows * cols);
		for (int64_t r = 0; r < rows; r++)
			for (int64_t c = 0; c < cols; c++) wd[i][r * cols + c] = weight_get(&w[i], r, c);
		x[i] = xmalloc(sizeof(float) * (ns[i] + 1) * cols);
		for (int64_t k = 0; k < ns[i] * cols; k++) x[i][k] = randn();
		bias[i] = i % 3 == 1 ? xmalloc(sizeof(float) * rows) : NULL;
		for (int64_t r = 0; bias[i] && r < rows; r++) bias[i][r] = randn();
		yr[i] = xmalloc(sizeof(float) * (ns[i] + 1) * rows);
		ref->ops->matmul(ref, yr[i], x[i], ns[i], &w[i], bias[i]);
		y_at[i + 1] = y_at[i] + (size_t)ns[i] * rows + 7; /* 7 guard floats after each item */
	}
	float *y = xmalloc(sizeof(float) * y_at[N_ITEMS]);
	struct backend *bes[N_ISA + 1];
	const char *names[N_ISA + 1];
	int nb = 0;
	for (int e = 0; e < N_ISA; e++)
		if (cpu[e]) bes[nb] = cpu[e], names[nb++] = isas[e];
	if (bf16_be) bes[nb] = bf16_be, names[nb++] = "avx512+bf16-act";
	for (int b = 0; b < nb; b++)
		for (int rep = 0; rep < 2; rep++) {
			for (size_t k = 0; k < y_at[N_ITEMS]; k++) y[k] = NAN;
			for (int i = 0; i < N_ITEMS; i++)
				items[i] = (struct matmul_item){y + y_at[i], x[i], ns[i], &w[i], bias[i]};
			bes[b]->ops->matmul_group(bes[b], items, N_ITEMS);
			for (int i = 0; i < N_ITEMS; i++) {
				char name[96], what[256];
				wspec_name(&specs[i], name, sizeof name);
				snprintf(what, sizeof what, "matmul_group %s item %d %s %lldx%lld n=%d", names[b], i, name,
				         (long long)shape[i][0], (long long)shape[i][1], ns[i]);
				/* bf16 activations only change the BF16 weights without scales */
				bool bf = bes[b] == bf16_be && specs[i].dt == DTYPE_BF16 && specs[i].sk == WEIGHT_SCALE_NONE;
				CHECK_MSG(check_matmul(what, y + y_at[i], yr[i], x[i], wd[i], bias[i], ns[i], shape[i][0],
				                       shape[i][1], bf ? 1e-2 : MM_REL, NULL), "%s", what);
				int guard = 1;
				for (size_t k = y_at[i] + (size_t)ns[i] * shape[i][0]; k < y_at[i + 1]; k++) guard &= isnan(y[k]);
				CHECK_MSG(guard, "%s wrote past its output", what);
			}
		}
	/* the reference group is the reference matmul item by item */
	for (size_t k = 0; k < y_at[N_ITEMS]; k++) y[k] = NAN;
	for (int i = 0; i < N_ITEMS; i++) items[i] = (struct matmul_item){y + y_at[i], x[i], ns[i], &w[i], bias[i]};
	ref->ops->matmul_group(ref, items, N_ITEMS);
	for (int i = 0; i < N_ITEMS; i++)
		CHECK(!memcmp(y + y_at[i], yr[i], sizeof(float) * ns[i] * shape[i][0]));
	for (int i = 0; i < N_ITEMS; i++) {
		weight_free(&w[i]);
		free(wd[i]), free(x[i]), free(yr[i]), free(bias[i]);
	}
	free(y);
}

/* FP8 NaN codes: the reference's dot product is NaN for any row holding one, whatever x. */
static void test_fp8_nan(void)
{
	const struct wspec s = {DTYPE_F8_E4M3, WEIGHT_SCALE_BLOCK, DTYPE_F32, 128, 128};
	int64_t rows = 9, cols = 300;
	struct weight w;
	weight_make(&w, &s, rows, cols);
	((uint8_t *)w.data)[2 * cols + 17] = 0x7f;  /* +NaN in row 2 */
	((uint8_t *)w.data)[6 * cols + 290] = 0xff; /* -NaN in row 6, in the column tail */
	float x[12 * 300], y[12 * 9], yr[12 * 9];
	for (int i = 0; i < 12 * 300; i++) x[i] = randn();
	const int ns[] = {1, 2, 3, 12}; /* decode with folded scales (8x1), plain (8x2, 4x3), prefill */
	for (int k = 0; k < 4; k++) {
		int n = ns[k];
		ref->ops->matmul(ref, yr, x, n, &w, NULL);
		for (int e = 0; e < N_ISA; e++) {
			if (!cpu[e]) continue;
			cpu[e]->ops->matmul(cpu[e], y, x, n, &w, NULL);
			int ok = 1;
			for (int i = 0; i < n * 9; i++) ok &= isnan(y[i]) == isnan(yr[i]);
			CHECK_MSG(ok && isnan(yr[2]) && isnan(yr[6]) && !isnan(yr[0]), "fp8 NaN rows, %s n=%d", isas[e], n);
		}
	}
	weight_free(&w);
}

/* ---- attention ---- */

struct attn_case {
	int n_heads, n_kv_heads, head_dim, v_dim, block_size;
	int long_len; /* length of the third sequence: > 256 makes the backend split it in chunks */
	/* q's standard deviation. With small scores the bound's score-rounding term (see below)
	 * vanishes and the remaining 1e-5 relative term is tested alone; with unit q the softmax is
	 * peaked and the scores' errors matter. */
	float q_sd;
};

static void test_attention_case(const struct attn_case *c)
{
	/* Three sequences in one paged cache, their blocks scattered and out of order. */
	enum { N_SEQ = 3 };
	const int seq_len[N_SEQ] = {1, 23, c->long_len};
	int n_blocks = 0;
	for (int sq = 0; sq < N_SEQ; sq++) n_blocks += (seq_len[sq] + c->block_size - 1) / c->block_size;
	n_blocks += 5; /* unused blocks in between */
	int *perm = xmalloc(sizeof(int) * n_blocks);
	for (int i = 0; i < n_blocks; i++) perm[i] = i;
	for (int i = n_blocks - 1; i > 0; i--) {
		int k = (int)(rng_next(&rng) % (uint64_t)(i + 1)), tmp = perm[i];
		perm[i] = perm[k], perm[k] = tmp;
	}
	int32_t *tables[N_SEQ];
	int used = 0;
	for (int sq = 0; sq < N_SEQ; sq++) {
		int nb = (seq_len[sq] + c->block_size - 1) / c->block_size;
		tables[sq] = xmalloc(sizeof(int32_t) * nb);
		for (int b = 0; b < nb; b++) tables[sq][b] = perm[used++];
	}
	const int N_BLOCKS = n_blocks;
	int64_t k_stride = (int64_t)c->n_kv_heads * c->head_dim + 3, v_stride = (int64_t)c->n_kv_heads * c->v_dim + 5;
	size_t slots = (size_t)N_BLOCKS * c->block_size;
	float *k = xmalloc(sizeof(float) * slots * k_stride), *v = xmalloc(sizeof(float) * slots * v_stride);
	for (size_t i = 0; i < slots * k_stride; i++) k[i] = randn();
	/* V with a common offset: outputs are then of the size of sum_p p|v| (not averaged down to
	 * ~1/sqrt(n_ctx) of it), so the bound below constrains their relative error directly. */
	for (size_t i = 0; i < slots * v_stride; i++) v[i] = 1.0f + 0.5f * randn();
	/* Tokens: the decode token of each sequence, then a prefill run of sequence 2. */
	int32_t pos[64];
	const int32_t *bt[64];
	int nt = 0;
	for (int sq = 0; sq < N_SEQ; sq++) pos[nt] = seq_len[sq] - 1, bt[nt++] = tables[sq];
	for (int p = c->long_len - 21; p < c->long_len; p += 2) pos[nt] = p, bt[nt++] = tables[2];
	size_t qn = (size_t)nt * c->n_heads * c->head_dim, on = (size_t)nt * c->n_heads * c->v_dim;
	float *q = xmalloc(sizeof(float) * qn), *o = xmalloc(sizeof(float) * on), *orf = xmalloc(sizeof(float) * on);
	for (size_t i = 0; i < qn; i++) q[i] = randn() * c->q_sd;
	/* two token counts: all tokens, and a single decode token (exercises the head split) */
	for (int sub = 0; sub < 2; sub++) {
		struct attn_args a = {
			.n_tokens = sub ? 1 : nt, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
			.v_dim = c->v_dim, .scale = 1.0f / sqrtf((float)c->head_dim), .q = q, .out = orf, .k = k, .v = v,
			.k_stride = k_stride, .v_stride = v_stride, .block_size = c->block_size, .pos = pos + (sub ? 2 : 0),
			.block_table = bt + (sub ? 2 : 0),
		};
		if (sub) a.q = q + (size_t)2 * c->n_heads * c->head_dim;
		ref->ops->attention(ref, &a);
		int group = c->n_heads / c->n_kv_heads;
		for (int e = 0; e < N_ISA; e++) {
			if (!cpu[e]) continue;
			a.out = o;
			for (size_t i = 0; i < on; i++) o[i] = NAN;
			cpu[e]->ops->attention(cpu[e], &a);
			a.out = orf;
			int bad = 0;
			for (int t = 0; t < a.n_tokens && !bad; t++)
				for (int h = 0; h < c->n_heads && !bad; h++) {
					/* Scores differ by dot-product rounding, at most MM_REL * scale * sum|q k|
					 * (see MM_REL); a score error d moves each probability by a factor within
					 * e^(±2d), and exp/division add a few ulps. So each output element may
					 * differ by (2 dmax + 1e-5) * sum_p p_p |v_p| + rounding of that sum. */
					const float *qh = a.q + ((size_t)t * c->n_heads + h) * c->head_dim;
					int kh = h / group, n_ctx = a.pos[t] + 1;
					double dmax = 0, mx = -INFINITY, sum = 0;
					double *sc = xmalloc(sizeof(double) * n_ctx);
					for (int p = 0; p < n_ctx; p++) {
						int64_t slot = (int64_t)a.block_table[t][p / c->block_size] * c->block_size + p % c->block_size;
						double dot = 0, adot = 0;
						for (int d = 0; d < c->head_dim; d++) {
							double pr = (double)qh[d] * k[slot * k_stride + (int64_t)kh * c->head_dim + d];
							dot += pr, adot += fabs(pr);
						}
						sc[p] = dot * a.scale;
						if (MM_REL * adot * a.scale > dmax) dmax = MM_REL * adot * a.scale;
						if (sc[p] > mx) mx = sc[p];
					}
					for (int p = 0; p < n_ctx; p++) sum += (sc[p] = exp(sc[p] - mx));
					for (int d = 0; d < c->v_dim && !bad; d++) {
						double pv = 0;
						for (int p = 0; p < n_ctx; p++) {
							int64_t slot = (int64_t)a.block_table[t][p / c->block_size] * c->block_size + p % c->block_size;
							pv += sc[p] / sum * fabs(v[slot * v_stride + (int64_t)kh * c->v_dim + d]);
						}
						size_t idx = ((size_t)t * c->n_heads + h) * c->v_dim + d;
						double diff = fabs((double)o[idx] - orf[idx]), bound = (2 * dmax + 1e-5) * pv + 1e-30;
						if (!(diff <= bound)) {
							fprintf(stderr, "  attention %s heads=%d/%d dims=%d/%d bs=%d: out[%d][%d][%d] = %.9g, ref %.9g (bound %.3g)\n",
							        isas[e], c->n_heads, c->n_kv_heads, c->head_dim, c->v_dim, c->block_size, t, h, d,
							        o[idx], orf[idx], bound);
							bad = 1;
						}
					}
					free(sc);
				}
			/* nothing written past the tokens asked for (o has room for all nt) */
			for (size_t i = (size_t)a.n_tokens * c->n_heads * c->v_dim; i < on; i++) bad |= !isnan(o[i]);
			CHECK_MSG(!bad, "attention %s heads=%d/%d head_dim=%d v_dim=%d tokens=%d", isas[e], c->n_heads,
			          c->n_kv_heads, c->head_dim, c->v_dim, a.n_tokens);
		}
	}
	free(k), free(v), free(q), free(o), free(orf), free(perm);
	for (int sq = 0; sq < N_SEQ; sq++) free(tables[sq]);
}

static void test_attention(void)
{
	const struct attn_case cases[] = {
		{8, 2, 64, 64, 16, 61, 1},      /* GQA, 4 heads per kv head */
		{8, 2, 64, 64, 16, 61, 0.05f},  /* the same with flat scores */
		{12, 12, 40, 24, 4, 61, 1},     /* MHA, head_dim not a vector multiple, v_dim != head_dim */
		{16, 1, 128, 128, 8, 61, 1},    /* MQA */
		{6, 3, 17, 17, 5, 61, 1},       /* odd everything */
		{4, 2, 192, 136, 16, 61, 1},    /* MLA-like: q·k over 192, v 136 (not a tile multiple) */
		{10, 2, 32, 32, 4, 61, 1},      /* groups of 5 heads: tiles of 4 + 1, 3 + 2 */
		{8, 2, 64, 72, 16, 1300, 1},    /* long context: decode tokens split into chunks, merged */
		{8, 2, 64, 72, 16, 1300, 0.05f},
		{12, 4, 40, 24, 7, 700, 0.05f}, /* long context, odd sizes */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) test_attention_case(&cases[i]);
}

/* ---- elementwise ---- */

static void test_elementwise(void)
{
	int n = 5, dim = 1000;
	float *x = xmalloc(sizeof(float) * n * dim), *w = xmalloc(sizeof(float) * dim);
	float *y = xmalloc(sizeof(float) * n * dim), *yr = xmalloc(sizeof(float) * n * dim);
	for (int i = 0; i < n * dim; i++) x[i] = randn() * 3;
	for (int i = 0; i < dim; i++) w[i] = randn();
	ref->ops->rmsnorm(ref, yr, x, n, dim, w, 1e-5f);
	for (int e = 0; e < N_ISA; e++) {
		if (!cpu[e]) continue;
		cpu[e]->ops->rmsnorm(cpu[e], y, x, n, dim, w, 1e-5f);
		CHECK_MSG(!memcmp(y, yr, sizeof(float) * n * dim), "rmsnorm %s: not bit-identical to ref", isas[e]);
		memcpy(y, x, sizeof(float) * n * dim); /* in place */
		cpu[e]->ops->rmsnorm(cpu[e], y, y, n, dim, w, 1e-5f);
		CHECK_MSG(!memcmp(y, yr, sizeof(float) * n * dim), "rmsnorm %s in place", isas[e]);
	}

	/* silu_mul: sizes around the vector width and the threading threshold, arguments across
	 * exp's range (|g| up to 100: underflow/overflow of e^-g). The vector exp is within ~2 ulp
	 * of expf; with the division and product the result is within a few ulp, bounded here by
	 * 5e-7 relative (8 ulp); where e^-g overflows the reference gives ±0 and the vector code a
	 * number below 1e-36, so the absolute term is 1e-30. */
	size_t sizes[] = {1, 15, 17, 1000, 40000};
	for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
		size_t m = sizes[si];
		float *g = xmalloc(sizeof(float) * m), *u = xmalloc(sizeof(float) * m);
		float *o = xmalloc(sizeof(float) * m), *orf = xmalloc(sizeof(float) * m);
		for (size_t i = 0; i < m; i++) {
			g[i] = i % 97 == 3 ? randu(-100, 100) : randn() * 4;
			u[i] = randn();
		}
		ref->ops->silu_mul(ref, orf, g, u, m);
		for (int e = 0; e < N_ISA; e++) {
			if (!cpu[e]) continue;
			cpu[e]->ops->silu_mul(cpu[e], o, g, u, m);
			int bad = 0;
			for (size_t i = 0; i < m; i++) {
				double d = fabs((double)o[i] - orf[i]);
				if (!(d <= 5e-7 * fabs(orf[i]) + 1e-30)) {
					if (!bad) fprintf(stderr, "  silu_mul %s n=%zu: [%zu] g=%g: %.9g vs ref %.9g\n", isas[e], m, i, g[i], o[i], orf[i]);
					bad++;
				}
			}
			CHECK_MSG(!bad, "silu_mul %s n=%zu: %d elements off", isas[e], m, bad);
			memcpy(o, g, sizeof(float) * m); /* y may alias g */
			cpu[e]->ops->silu_mul(cpu[e], o, o, u, m);
			bad = 0;
			for (size_t i = 0; i < m; i++) bad += !(fabs((double)o[i] - orf[i]) <= 5e-7 * fabs(orf[i]) + 1e-30);
			CHECK_MSG(!bad, "silu_mul %s n=%zu in place", isas[e], m);
		}
		free(g), free(u), free(o), free(orf);
	}
	free(x), free(w), free(y), free(yr);
}

int main(void)
{
	rng_seed(&rng, 1234);
	ref = backend_ref_create();
	for (int e = 0; e < N_ISA; e++) {
		cpu[e] = backend_cpu_create(2, isas[e]);
		if (cpu[e]) printf("isa %s: testing (%s, %d threads)\n", isas[e], backend_cpu_isa(cpu[e]), cpu[e]->n_threads);
		else printf("isa %s: not available on this CPU\n", isas[e]);
	}
	CHECK(cpu[0] != NULL); /* the scalar set exists everywhere */
	log_set_level(LOG_LEVEL_QUIET); /* the expected error message */
	CHECK(backend_cpu_create(2, "no-such-isa") == NULL);
	log_set_level(LOG_LEVEL_INFO);
	struct backend *best = backend_cpu_create(0, NULL);
	CHECK(best != NULL && best->n_threads >= 1);
	printf("default: %s with %d threads\n", backend_cpu_isa(best), best->n_threads);
	CHECK(backend_cpu_bf16_activations(best) == false); /* fp32 numerics by default */
	backend_destroy(best);
	if (cpu[0]) CHECK(backend_cpu_set_bf16_activations(cpu[0], true) == -1);
	if (cpu[3] && strstr(backend_cpu_isa(cpu[3]), "bf16")) {
		/* a second avx512 backend, in bf16 mode */
		bf16_be = backend_cpu_create(2, "avx512");
		CHECK(backend_cpu_set_bf16_activations(bf16_be, true) == 0);
		CHECK(backend_cpu_bf16_activations(bf16_be));
	} else {
		printf("bf16-activation mode: not available on this CPU\n");
	}

	test_matmul();
	test_matmul_group();
	test_fp8_nan();
	test_attention();
	test_elementwise();
	if (bf16_be) {
		/* rounding x to bf16 alone moves each product by up to 2^-8 of itself */
		printf("bf16-activation mode: max |y - ref| / (sum|x*w| + |bias|) = %.3g (bf16 rounding: <= %.3g; "
		       "asserted <= 1e-2)\n", bf16_max_rel, 1.0 / 256);
		CHECK(bf16_max_rel > 0); /* it really ran the bf16 kernels */
		backend_destroy(bf16_be);
	}
	for (int e = 0; e < N_ISA; e++) backend_destroy(cpu[e]);
	backend_destroy(ref);
	TEST_END();
}
