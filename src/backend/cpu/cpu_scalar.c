/* cpu_scalar.c — the portable kernel set: plain C, one thread's share of each op, in the
 * reference's own summation order (so on targets without FMA contraction it matches ref
 * bit for bit). Used where no SIMD set applies (non-x86, or forced with isa="scalar") and as
 * the SIMD sets' fallback for layouts they do not vectorise. Thread rules: pure functions of
 * their arguments; called concurrently on disjoint outputs. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "base/dtype.h"

float cpu_weight_at(const struct cpu_matmul *mm, int64_t row, int64_t col)
{
	const void *d = mm->w->data;
	int64_t idx = row * mm->cols + col;
	float v;
	switch (mm->w->dtype) {
	case DTYPE_F32: v = ((const float *)d)[idx]; break;
	case DTYPE_F16: v = f16_to_f32(((const uint16_t *)d)[idx]); break;
	case DTYPE_BF16: v = bf16_to_f32(((const uint16_t *)d)[idx]); break;
	/* value * 2^-8 is exact; the scale carries the 2^8 back (cpu_internal.h), so the product
	 * rounds once, to the same float as the reference's value * scale. */
	case DTYPE_F8_E4M3: v = fp8_e4m3_to_f32(((const uint8_t *)d)[idx]) * (1.0f / 256.0f); break;
	default: v = NAN;
	}
	if (mm->scale)
		v *= mm->scale[(row / mm->scale_bh) * mm->scale_stride + (mm->scale_bw ? col / mm->scale_bw : 0)];
	return v;
}

#define SCALAR_CHUNK 256

void cpu_scalar_matmul_rows(const struct cpu_matmul *mm, int64_t r0, int64_t r1, int t0, int t1, float *scratch)
{
	const float *x = mm->xp;
	float wbuf[CPU_TILE_ROWS][SCALAR_CHUNK];
	float acc[CPU_TILE_MAX_TOKENS][CPU_TILE_ROWS];
	for (int64_t r = r0; r < r1; r += CPU_TILE_ROWS) {
		int rr = r1 - r < CPU_TILE_ROWS ? (int)(r1 - r) : CPU_TILE_ROWS;
		for (int t = t0; t < t1; t += CPU_TILE_MAX_TOKENS) {
			int tt = t1 - t < CPU_TILE_MAX_TOKENS ? t1 - t : CPU_TILE_MAX_TOKENS;
			memset(acc, 0, sizeof acc);
			/* Each (token, row) sum runs over the columns in order, as in the reference; the
			 * weight chunk is decoded once and reused by the tile's tokens from L1. */
			for (int64_t k0 = 0; k0 < mm->cols; k0 += SCALAR_CHUNK) {
				int kn = mm->cols - k0 < SCALAR_CHUNK ? (int)(mm->cols - k0) : SCALAR_CHUNK;
				for (int i = 0; i < rr; i++)
					for (int k = 0; k < kn; k++) wbuf[i][k] = cpu_weight_at(mm, r + i, k0 + k);
				for (int j = 0; j < tt; j++) {
					const float *xt = x + (int64_t)(t + j) * mm->xp_stride + k0;
					for (int i = 0; i < rr; i++) {
						float a = acc[j][i];
						for (int k = 0; k < kn; k++) a += xt[k] * wbuf[i][k];
						acc[j][i] = a;
					}
				}
			}
			for (int j = 0; j < tt; j++)
				for (int i = 0; i < rr; i++)
					mm->y[(int64_t)(t + j) * mm->rows + r + i] = acc[j][i] + (mm->bias ? mm->bias[r + i] : 0.0f);
		}
	}
}

static bool scalar_matmul_prep_needed(const struct cpu_matmul *mm) { return false; }

static void scalar_attention(const struct attn_args *a, int t, int p0, int p1, float *s, float *part)
{
	int group = a->n_heads / a->n_kv_heads, n = p1 - p0;
	const int32_t *bt = a->block_table[t];
	for (int h = 0; h < a->n_heads; h++) {
		int kh = h / group;
		const float *q = a->q + ((size_t)t * a->n_heads + h) * a->head_dim;
		float mx = -INFINITY;
		for (int p = p0; p < p1; p++) {
			int64_t slot = (int64_t)bt[p / a->block_size] * a->block_size + p % a->block_size;
			const float *k = a->k + slot * a->k_stride + (int64_t)kh * a->head_dim;
			float dot = 0;
			for (int d = 0; d < a->head_dim; d++) dot += q[d] * k[d];
			s[p - p0] = dot * a->scale;
			if (s[p - p0] > mx) mx = s[p - p0];
		}
		float sum = 0;
		for (int i = 0; i < n; i++) sum += (s[i] = expf(s[i] - mx));
		float *o = part ? part + (size_t)h * (a->v_dim + 2) + 2 : a->out + ((size_t)t * a->n_heads + h) * a->v_dim;
		if (part) part[(size_t)h * (a->v_dim + 2)] = mx, part[(size_t)h * (a->v_dim + 2) + 1] = sum;
		for (int d = 0; d < a->v_dim; d++) o[d] = 0;
		for (int p = p0; p < p1; p++) {
			int64_t slot = (int64_t)bt[p / a->block_size] * a->block_size + p % a->block_size;
			const float *v = a->v + slot * a->v_stride + (int64_t)kh * a->v_dim;
			float pr = part ? s[p - p0] : s[p - p0] / sum;
			for (int d = 0; d < a->v_dim; d++) o[d] += pr * v[d];
		}
	}
}

static void scalar_silu_mul(float *y, const float *g, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static uint64_t scalar_read_sum(const void *p, size_t bytes)
{
	const uint64_t *q = p;
	uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	for (size_t i = 0; i < bytes / 8; i += 4) a0 += q[i], a1 += q[i + 1], a2 += q[i + 2], a3 += q[i + 3];
	return a0 ^ a1 ^ a2 ^ a3;
}

const struct cpu_isa cpu_isa_scalar = {
	.name = "scalar",
	.matmul_prep_needed = scalar_matmul_prep_needed,
	.matmul_prep = NULL,
	.matmul_rows = cpu_scalar_matmul_rows,
	.attention = scalar_attention,
	.silu_mul = scalar_silu_mul,
	.read_sum = scalar_read_sum,
};
