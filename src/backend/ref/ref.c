/* ref.c — the scalar reference backend: the slowest, plainest correct version of every op,
 * written to be read against models.md §2. Every fast backend is tested against it. */
#include <math.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "base/base.h"

float weight_scale_at(const struct weight *w, int64_t i, int64_t j)
{
	switch (w->scale_kind) {
	case WEIGHT_SCALE_NONE: return 1.0f;
	case WEIGHT_SCALE_ROW: {
		float s;
		dtype_to_f32(w->scale_dtype, (const char *)w->scale + i * dtype_size(w->scale_dtype), &s, 1);
		return s;
	}
	case WEIGHT_SCALE_BLOCK: {
		int64_t bcols = (w->cols + w->block[1] - 1) / w->block[1];
		int64_t idx = (i / w->block[0]) * bcols + j / w->block[1];
		float s;
		dtype_to_f32(w->scale_dtype, (const char *)w->scale + idx * dtype_size(w->scale_dtype), &s, 1);
		return s;
	}
	}
	return NAN;
}

float weight_get(const struct weight *w, int64_t i, int64_t j)
{
	float v;
	dtype_to_f32(w->dtype, (const char *)w->data + (i * w->cols + j) * dtype_size(w->dtype), &v, 1);
	return v * weight_scale_at(w, i, j);
}

void ref_matmul(struct backend *be, float *y, const float *x, int n, const struct weight *w, const float *bias)
{
	for (int t = 0; t < n; t++)
		for (int64_t i = 0; i < w->rows; i++) {
			float acc = 0;
			for (int64_t j = 0; j < w->cols; j++) acc += x[t * w->cols + j] * weight_get(w, i, j);
			y[t * w->rows + i] = acc + (bias ? bias[i] : 0.0f);
		}
}

void ref_matmul_group(struct backend *be, const struct matmul_item *items, int n_items)
{
	for (int i = 0; i < n_items; i++) ref_matmul(be, items[i].y, items[i].x, items[i].n, items[i].w, items[i].bias);
}

void ref_rmsnorm(struct backend *be, float *y, const float *x, int n, int dim, const float *w, float eps)
{
	for (int t = 0; t < n; t++) {
		const float *xr = x + (size_t)t * dim;
		float *yr = y + (size_t)t * dim;
		float ss = 0;
		for (int i = 0; i < dim; i++) ss += xr[i] * xr[i];
		float r = 1.0f / sqrtf(ss / dim + eps);
		for (int i = 0; i < dim; i++) yr[i] = (xr[i] * r) * w[i];
	}
}

void ref_attention(struct backend *be, const struct attn_args *a)
{
	int group = a->n_heads / a->n_kv_heads;
	int max_ctx = 0;
	for (int t = 0; t < a->n_tokens; t++)
		if (a->pos[t] + 1 > max_ctx) max_ctx = a->pos[t] + 1;
	float *s = xmalloc(sizeof(float) * (max_ctx ? max_ctx : 1));
	for (int t = 0; t < a->n_tokens; t++) {
		int n_ctx = a->pos[t] + 1;
		const int32_t *bt = a->block_table[t];
		for (int h = 0; h < a->n_heads; h++) {
			int kh = h / group;
			const float *q = a->q + ((size_t)t * a->n_heads + h) * a->head_dim;
			float mx = -INFINITY;
			for (int p = 0; p < n_ctx; p++) {
				int64_t slot = (int64_t)bt[p / a->block_size] * a->block_size + p % a->block_size;
				const float *k = a->k + slot * a->k_stride + (int64_t)kh * a->head_dim;
				float dot = 0;
				for (int d = 0; d < a->head_dim; d++) dot += q[d] * k[d];
				s[p] = dot * a->scale; /* dot first, then scale (HF eager order) */
				if (s[p] > mx) mx = s[p];
			}
			float sum = 0;
			for (int p = 0; p < n_ctx; p++) sum += (s[p] = expf(s[p] - mx));
			float *o = a->out + ((size_t)t * a->n_heads + h) * a->v_dim;
			for (int d = 0; d < a->v_dim; d++) o[d] = 0;
			for (int p = 0; p < n_ctx; p++) {
				int64_t slot = (int64_t)bt[p / a->block_size] * a->block_size + p % a->block_size;
				const float *v = a->v + slot * a->v_stride + (int64_t)kh * a->v_dim;
				float pr = s[p] / sum;
				for (int d = 0; d < a->v_dim; d++) o[d] += pr * v[d];
			}
		}
	}
	free(s);
}

void ref_silu_mul(struct backend *be, float *y, const float *g, const float *u, size_t n)
{
	for (size_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void ref_destroy(struct backend *be) { free(be); }

static const struct backend_ops ref_ops = {
	.name = "ref",
	.matmul = ref_matmul,
	.matmul_group = ref_matmul_group,
	.rmsnorm = ref_rmsnorm,
	.attention = ref_attention,
	.silu_mul = ref_silu_mul,
	.destroy = ref_destroy,
};

struct backend *backend_ref_create(void)
{
	struct backend *be = xcalloc(1, sizeof *be);
	be->ops = &ref_ops;
	be->n_threads = 1;
	return be;
}

void backend_destroy(struct backend *be)
{
	if (be) be->ops->destroy(be);
}
