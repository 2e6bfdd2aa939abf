/* glm4_moe.c — GLM-4.5 / 4.5-Air / 4.6 / 4.7 (config model_type "glm4_moe"), models.md §2–3.
 * Owns the bound weight views of one checkpoint. The forward below is the whole architecture:
 * one loop over layers, every buffer's shape in a comment, all arithmetic in backend ops or in
 * the small helpers at the top. The MTP layer (index n_layers) is bound only by speculative
 * decoding and ignored here, as HF's Glm4MoeModel ignores it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

struct layer {
	float *attn_norm, *ffn_norm;       /* [dim] */
	struct weight wq, wk, wv, wo;      /* [n_heads*head_dim, dim], [n_kv*hd, dim] x2, [dim, n_heads*hd] */
	float *bq, *bk, *bv;               /* attention_bias only */
	float *q_norm, *k_norm;            /* [head_dim], use_qk_norm only */
	bool moe;
	struct weight gate, up, down;      /* dense MLP: [ffn_dim, dim] x2, [dim, ffn_dim] */
	struct weight router;              /* [n_experts, dim], computed in fp32 */
	float *router_bias;                /* e_score_correction_bias [n_experts], selection only */
	struct weight *eg, *eu, *ed;       /* per expert: [moe_ffn_dim, dim] x2, [dim, moe_ffn_dim] */
	struct weight sg, su, sd;          /* shared experts: [n_shared*moe_ffn_dim, dim] x2, [dim, ...] */
};

struct weights {
	struct weight embed;  /* [vocab, dim] */
	struct weight lm_head;/* [vocab, dim] (the embedding when tied) */
	float *final_norm;    /* [dim] */
	struct layer *layers;
	float *inv_freq;      /* [rot_dim/2] */
};

/* ---- tensor list (used by bind, synth and info) ---- */

#define NAME(...) (snprintf(name, sizeof name, __VA_ARGS__), name)

static void layer_specs(const struct model_config *c, int i, bool optional,
                        void (*fn)(void *, const char *, int, const int64_t *, bool, bool), void *ctx)
{
	char name[256];
	int64_t D = c->dim, qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
	int64_t s;
#define T1(n, q, a) (s = (a), fn(ctx, n, 1, &s, optional, q))
#define T2(n, q, a, b) fn(ctx, n, 2, (int64_t[]){a, b}, optional, q)
	T1(NAME("model.layers.%d.input_layernorm.weight", i), false, D);
	T2(NAME("model.layers.%d.self_attn.q_proj.weight", i), true, qd, D);
	T2(NAME("model.layers.%d.self_attn.k_proj.weight", i), true, kvd, D);
	T2(NAME("model.layers.%d.self_attn.v_proj.weight", i), true, kvd, D);
	if (c->attention_bias) {
		T1(NAME("model.layers.%d.self_attn.q_proj.bias", i), false, qd);
		T1(NAME("model.layers.%d.self_attn.k_proj.bias", i), false, kvd);
		T1(NAME("model.layers.%d.self_attn.v_proj.bias", i), false, kvd);
	}
	T2(NAME("model.layers.%d.self_attn.o_proj.weight", i), true, D, qd);
	if (c->use_qk_norm) {
		T1(NAME("model.layers.%d.self_attn.q_norm.weight", i), false, c->head_dim);
		T1(NAME("model.layers.%d.self_attn.k_norm.weight", i), false, c->head_dim);
	}
	T1(NAME("model.layers.%d.post_attention_layernorm.weight", i), false, D);
	if (i < c->first_k_dense_replace) {
		T2(NAME("model.layers.%d.mlp.gate_proj.weight", i), true, c->ffn_dim, D);
		T2(NAME("model.layers.%d.mlp.up_proj.weight", i), true, c->ffn_dim, D);
		T2(NAME("model.layers.%d.mlp.down_proj.weight", i), true, D, c->ffn_dim);
		return;
	}
	T2(NAME("model.layers.%d.mlp.gate.weight", i), false, c->n_experts, D);
	T1(NAME("model.layers.%d.mlp.gate.e_score_correction_bias", i), false, c->n_experts);
	for (int x = 0; x < c->n_experts; x++) {
		T2(NAME("model.layers.%d.mlp.experts.%d.gate_proj.weight", i, x), true, c->moe_ffn_dim, D);
		T2(NAME("model.layers.%d.mlp.experts.%d.up_proj.weight", i, x), true, c->moe_ffn_dim, D);
		T2(NAME("model.layers.%d.mlp.experts.%d.down_proj.weight", i, x), true, D, c->moe_ffn_dim);
	}
	if (c->n_shared_experts > 0) {
		int64_t sf = (int64_t)c->n_shared_experts * c->moe_ffn_dim;
		T2(NAME("model.layers.%d.mlp.shared_experts.gate_proj.weight", i), true, sf, D);
		T2(NAME("model.layers.%d.mlp.shared_experts.up_proj.weight", i), true, sf, D);
		T2(NAME("model.layers.%d.mlp.shared_experts.down_proj.weight", i), true, D, sf);
	}
}

static void glm4_moe_tensor_specs(const struct model_config *c,
                                  void (*fn)(void *, const char *, int, const int64_t *, bool, bool), void *ctx)
{
	char name[256];
	int64_t s;
	int64_t D = c->dim, V = c->vocab;
	bool optional = false;
	T2("model.embed_tokens.weight", false, V, D);
	for (int i = 0; i < c->n_layers; i++) layer_specs(c, i, false, fn, ctx);
	T1("model.norm.weight", false, D);
	if (!c->tie_word_embeddings) T2("lm_head.weight", false, V, D);
	/* MTP / NextN layers (models.md §6.1): optional for the main forward. */
	for (int k = 0; k < c->n_nextn_layers; k++) {
		int i = c->n_layers + k;
		struct model_config mc = *c;
		mc.first_k_dense_replace = 0; /* the MTP layer is always MoE */
		layer_specs(&mc, i, true, fn, ctx);
		fn(ctx, NAME("model.layers.%d.enorm.weight", i), 1, (s = D, &s), true, false);
		fn(ctx, NAME("model.layers.%d.hnorm.weight", i), 1, (s = D, &s), true, false);
		fn(ctx, NAME("model.layers.%d.eh_proj.weight", i), 2, (int64_t[]){D, 2 * D}, true, false);
		fn(ctx, NAME("model.layers.%d.shared_head.norm.weight", i), 1, (s = D, &s), true, false);
		fn(ctx, NAME("model.layers.%d.embed_tokens.weight", i), 2, (int64_t[]){V, D}, true, false);
		fn(ctx, NAME("model.layers.%d.shared_head.head.weight", i), 2, (int64_t[]){V, D}, true, false);
	}
#undef T1
#undef T2
}

/* ---- binding ---- */

static int bind_layer(struct model *m, struct layer *L, int i, struct err *e)
{
	const struct model_config *c = &m->cfg;
	char name[256];
	int64_t D = c->dim, qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
	if (model_bind_vector(m, &L->attn_norm, NAME("model.layers.%d.input_layernorm.weight", i), D, false, e) ||
	    model_bind_linear(m, &L->wq, NAME("model.layers.%d.self_attn.q_proj.weight", i), qd, D, e) ||
	    model_bind_linear(m, &L->wk, NAME("model.layers.%d.self_attn.k_proj.weight", i), kvd, D, e) ||
	    model_bind_linear(m, &L->wv, NAME("model.layers.%d.self_attn.v_proj.weight", i), kvd, D, e) ||
	    model_bind_linear(m, &L->wo, NAME("model.layers.%d.self_attn.o_proj.weight", i), D, qd, e) ||
	    model_bind_vector(m, &L->ffn_norm, NAME("model.layers.%d.post_attention_layernorm.weight", i), D, false, e))
		return -1;
	if (c->attention_bias &&
	    (model_bind_vector(m, &L->bq, NAME("model.layers.%d.self_attn.q_proj.bias", i), qd, false, e) ||
	     model_bind_vector(m, &L->bk, NAME("model.layers.%d.self_attn.k_proj.bias", i), kvd, false, e) ||
	     model_bind_vector(m, &L->bv, NAME("model.layers.%d.self_attn.v_proj.bias", i), kvd, false, e)))
		return -1;
	if (c->use_qk_norm &&
	    (model_bind_vector(m, &L->q_norm, NAME("model.layers.%d.self_attn.q_norm.weight", i), c->head_dim, false, e) ||
	     model_bind_vector(m, &L->k_norm, NAME("model.layers.%d.self_attn.k_norm.weight", i), c->head_dim, false, e)))
		return -1;
	L->moe = i >= c->first_k_dense_replace;
	if (!L->moe)
		return model_bind_linear(m, &L->gate, NAME("model.layers.%d.mlp.gate_proj.weight", i), c->ffn_dim, D, e) ||
		               model_bind_linear(m, &L->up, NAME("model.layers.%d.mlp.up_proj.weight", i), c->ffn_dim, D, e) ||
		               model_bind_linear(m, &L->down, NAME("model.layers.%d.mlp.down_proj.weight", i), D, c->ffn_dim, e)
		           ? -1
		           : 0;
	if (model_bind_table(m, &L->router, NAME("model.layers.%d.mlp.gate.weight", i), c->n_experts, D, e) ||
	    model_bind_vector(m, &L->router_bias, NAME("model.layers.%d.mlp.gate.e_score_correction_bias", i),
	                      c->n_experts, false, e))
		return -1;
	L->eg = xcalloc(c->n_experts, sizeof *L->eg);
	L->eu = xcalloc(c->n_experts, sizeof *L->eu);
	L->ed = xcalloc(c->n_experts, sizeof *L->ed);
	for (int x = 0; x < c->n_experts; x++)
		if (model_bind_linear(m, &L->eg[x], NAME("model.layers.%d.mlp.experts.%d.gate_proj.weight", i, x),
		                      c->moe_ffn_dim, D, e) ||
		    model_bind_linear(m, &L->eu[x], NAME("model.layers.%d.mlp.experts.%d.up_proj.weight", i, x),
		                      c->moe_ffn_dim, D, e) ||
		    model_bind_linear(m, &L->ed[x], NAME("model.layers.%d.mlp.experts.%d.down_proj.weight", i, x), D,
		                      c->moe_ffn_dim, e))
			return -1;
	if (c->n_shared_experts > 0) {
		int64_t sf = (int64_t)c->n_shared_experts * c->moe_ffn_dim;
		if (model_bind_linear(m, &L->sg, NAME("model.layers.%d.mlp.shared_experts.gate_proj.weight", i), sf, D, e) ||
		    model_bind_linear(m, &L->su, NAME("model.layers.%d.mlp.shared_experts.up_proj.weight", i), sf, D, e) ||
		    model_bind_linear(m, &L->sd, NAME("model.layers.%d.mlp.shared_experts.down_proj.weight", i), D, sf, e))
			return -1;
	}
	return 0;
}

static void glm4_moe_unbind(struct model *m)
{
	struct weights *W = m->w;
	if (!W) return;
	for (int i = 0; i < m->cfg.n_layers && W->layers; i++) free(W->layers[i].eg), free(W->layers[i].eu), free(W->layers[i].ed);
	free(W->layers);
	free(W->inv_freq);
	free(W);
	m->w = NULL;
}

static int glm4_moe_bind(struct model *m, struct err *e)
{
	const struct model_config *c = &m->cfg;
	if (c->n_experts > 0 && (c->n_experts_used <= 0 || c->n_experts_used > c->n_experts || c->moe_ffn_dim <= 0))
		return err_set(e, "%s/config.json: num_experts_per_tok %d must be in 1..n_routed_experts %d and "
		                  "moe_intermediate_size positive",
		               m->dir, c->n_experts_used, c->n_experts);
	if (c->first_k_dense_replace < c->n_layers && c->n_experts <= 0)
		return err_set(e, "%s/config.json: MoE layers need n_routed_experts > 0", m->dir);
	if (c->n_group < 1 || c->n_experts % c->n_group || c->topk_group < 1 || c->topk_group > c->n_group ||
	    (c->n_experts && c->n_experts_used > c->topk_group * (c->n_experts / c->n_group)))
		return err_set(e, "%s/config.json: n_group %d / topk_group %d do not fit %d experts choosing %d", m->dir,
		               c->n_group, c->topk_group, c->n_experts, c->n_experts_used);
	struct weights *W = xcalloc(1, sizeof *W);
	m->w = W;
	W->layers = xcalloc(c->n_layers, sizeof *W->layers);
	if (model_bind_table(m, &W->embed, "model.embed_tokens.weight", c->vocab, c->dim, e) ||
	    model_bind_vector(m, &W->final_norm, "model.norm.weight", c->dim, false, e))
		return -1;
	if (c->tie_word_embeddings) W->lm_head = W->embed;
	else if (model_bind_linear(m, &W->lm_head, "lm_head.weight", c->vocab, c->dim, e))
		return -1;
	for (int i = 0; i < c->n_layers; i++)
		if (bind_layer(m, &W->layers[i], i, e)) return -1;
	/* RoPE inverse frequencies in fp32 as HF computes them: 1 / theta^(2j / rot_dim). */
	int half = c->rot_dim / 2;
	W->inv_freq = xmalloc((half ? half : 1) * sizeof(float));
	for (int j = 0; j < half; j++)
		W->inv_freq[j] = 1.0f / powf((float)c->rope_theta, (float)(2 * j) / (float)c->rot_dim);
	return 0;
}

static void glm4_moe_kv_strides(const struct model_config *c, int64_t *k_stride, int64_t *v_stride)
{
	*k_stride = *v_stride = (int64_t)c->n_kv_heads * c->head_dim;
}

/* ---- small per-token helpers (cheap next to the matmuls) ---- */

/* NeoX split-half RoPE on the first rot_dim dims of each head: pairs (j, j + rot_dim/2). */
static void rope_neox(float *x, int n_heads, int head_dim, int rot_dim, int pos, const float *inv_freq)
{
	int half = rot_dim / 2;
	for (int j = 0; j < half; j++) {
		float ang = (float)pos * inv_freq[j];
		float c = cosf(ang), s = sinf(ang);
		for (int h = 0; h < n_heads; h++) {
			float *v = x + (size_t)h * head_dim;
			float a = v[j], b = v[j + half];
			v[j] = a * c - b * s;
			v[j + half] = b * c + a * s;
		}
	}
}

/* The noaux_tc router of models.md §2 for one token: picks n_used experts and their weights.
 * scores[n_experts] = raw router logits on entry. */
static void route(const struct model_config *c, const float *logits, const float *bias, int *idx, float *wt,
                  float *tmp /* [2 * n_experts] */)
{
	int E = c->n_experts, G = c->n_group, per = E / G, K = c->n_experts_used;
	float *s = tmp, *choice = tmp + E;
	for (int x = 0; x < E; x++) {
		s[x] = 1.0f / (1.0f + expf(-logits[x]));
		choice[x] = s[x] + bias[x]; /* the bias steers selection only */
	}
	if (G > 1) {
		/* group score = sum of the two best biased scores in the group; keep topk_group groups */
		float gscore[256];
		bool keep[256];
		for (int g = 0; g < G; g++) {
			float b1 = -INFINITY, b2 = -INFINITY;
			for (int x = g * per; x < (g + 1) * per; x++) {
				float v = choice[x];
				if (v > b1) b2 = b1, b1 = v;
				else if (v > b2) b2 = v;
			}
			gscore[g] = b1 + (per > 1 ? b2 : 0.0f);
			keep[g] = false;
		}
		for (int k = 0; k < c->topk_group; k++) {
			int best = -1;
			for (int g = 0; g < G; g++)
				if (!keep[g] && (best < 0 || gscore[g] > gscore[best])) best = g;
			keep[best] = true;
		}
		for (int g = 0; g < G; g++)
			if (!keep[g])
				for (int x = g * per; x < (g + 1) * per; x++) choice[x] = -INFINITY;
	}
	float sum = 0;
	for (int k = 0; k < K; k++) {
		int best = -1;
		for (int x = 0; x < E; x++) {
			bool taken = false;
			for (int j = 0; j < k; j++) taken |= idx[j] == x;
			if (!taken && (best < 0 || choice[x] > choice[best])) best = x;
		}
		idx[k] = best;
		wt[k] = s[best]; /* weights come from the unbiased sigmoid */
		sum += wt[k];
	}
	for (int k = 0; k < K; k++) {
		if (c->norm_topk_prob) wt[k] /= sum + 1e-20f;
		wt[k] *= c->routed_scaling_factor;
	}
}

static void gather_rows(float *dst, const float *src, const int *rows, int n, int dim)
{
	for (int i = 0; i < n; i++) memcpy(dst + (size_t)i * dim, src + (size_t)rows[i] * dim, dim * sizeof(float));
}

/* y[n][dim] = down(silu(gate(x)) ⊙ up(x)); uses scratch slots base..base+1. */
static void swiglu(struct backend *be, struct scratch *s, int base, float *y, const float *x, int n,
                   const struct weight *g, const struct weight *u, const struct weight *d)
{
	size_t f = (size_t)g->rows;
	float *hg = scratch_f32(s, base, n * f); /* [n][f] */
	float *hu = scratch_f32(s, base + 1, n * f);
	struct matmul_item gu[2] = {{hg, x, n, g, NULL}, {hu, x, n, u, NULL}};
	be->ops->matmul_group(be, gu, 2);
	be->ops->silu_mul(be, hg, hg, hu, n * f);
	be->ops->matmul(be, y, hg, n, d, NULL);
}

enum { S_X, S_A, S_Q, S_K, S_V, S_ATT, S_O, S_Y, S_RL, S_XE, S_YE, S_ROUTE, S_OUT, S_ITEMS, S_MLP };

/* (token, expert) pairs per grouped call at most (an expert with more goes alone): bounds the
 * gathered activations to about this many rows whatever the batch size. */
#define MOE_PAIRS_PER_GROUP 4096

/* MoE block for n tokens: routed experts (summed in ascending expert id, as HF does) plus the
 * shared experts. m[n][dim] -> y[n][dim]. The (token, expert) pairs are sorted by expert and
 * the experts run as grouped matmuls: a layer is a few backend calls whatever the routing. */
static void moe(struct model *mdl, struct backend *be, struct scratch *s, const struct layer *L, float *y,
                const float *m, int n)
{
	const struct model_config *c = &mdl->cfg;
	int D = c->dim, E = c->n_experts, K = c->n_experts_used, F = c->moe_ffn_dim, A = n * K;
	float *rl = scratch_f32(s, S_RL, (size_t)n * E);          /* router logits [n][E] */
	be->ops->matmul(be, rl, m, n, &L->router, NULL);
	float *rt = scratch_f32(s, S_ROUTE, (size_t)n * 2 * K + 2 * E + (size_t)2 * A + E + 1);
	int *sel = (int *)rt;                                      /* [n][K] expert ids */
	float *wt = rt + (size_t)n * K;                            /* [n][K] weights */
	float *tmp = wt + (size_t)n * K;                           /* [2E] */
	int *pair_tok = (int *)(tmp + 2 * E);                      /* [A] token of each pair, by expert */
	float *pair_w = (float *)(pair_tok + A);                   /* [A] its routing weight */
	int *off = (int *)(pair_w + A);                            /* [E+1]: expert x owns pairs off[x]..off[x+1]-1 */
	for (int t = 0; t < n; t++) route(c, rl + (size_t)t * E, L->router_bias, sel + t * K, wt + t * K, tmp);
	memset(off, 0, (E + 1) * sizeof *off);
	for (int i = 0; i < A; i++) off[sel[i] + 1]++;
	for (int x = 0; x < E; x++) off[x + 1] += off[x];
	for (int t = 0; t < n; t++) /* token order within an expert; advances off[x] to off[x+1] */
		for (int k = 0; k < K; k++) {
			int x = sel[t * K + k], p = off[x]++;
			pair_tok[p] = t, pair_w[p] = wt[t * K + k];
		}
	for (int x = E; x > 0; x--) off[x] = off[x - 1];
	off[0] = 0;

	memset(y, 0, (size_t)n * D * sizeof(float));
	int cap = MOE_PAIRS_PER_GROUP > n ? MOE_PAIRS_PER_GROUP : n; /* one expert has at most n pairs */
	size_t rows = (size_t)(A < cap ? A : cap);                /* most pairs in one group */
	float *xe = scratch_f32(s, S_XE, rows * D);               /* gathered inputs [pairs][D] */
	float *ye = scratch_f32(s, S_YE, (rows > (size_t)n ? rows : n) * D); /* expert outputs [pairs][D]; shared [n][D] */
	float *hg = scratch_f32(s, S_MLP, rows * F);              /* [pairs][F] */
	float *hu = scratch_f32(s, S_MLP + 1, rows * F);
	struct matmul_item *it = scratch_get(s, S_ITEMS, 2 * (size_t)E * sizeof *it);
	for (int x0 = 0, x1; x0 < E; x0 = x1) {
		/* the group: experts x0..x1-1, as many as fit cap pairs */
		for (x1 = x0 + 1; x1 < E && off[x1 + 1] - off[x0] <= cap; x1++) {}
		int p0 = off[x0], np = off[x1] - p0, ni = 0;
		if (!np) continue;
		for (int p = 0; p < np; p++) memcpy(xe + (size_t)p * D, m + (size_t)pair_tok[p0 + p] * D, D * sizeof(float));
		for (int x = x0; x < x1; x++) {
			int e0 = off[x] - p0, ne = off[x + 1] - off[x];
			if (!ne) continue;
			it[ni++] = (struct matmul_item){hg + (size_t)e0 * F, xe + (size_t)e0 * D, ne, &L->eg[x], NULL};
			it[ni++] = (struct matmul_item){hu + (size_t)e0 * F, xe + (size_t)e0 * D, ne, &L->eu[x], NULL};
		}
		be->ops->matmul_group(be, it, ni);
		be->ops->silu_mul(be, hg, hg, hu, (size_t)np * F);
		ni = 0;
		for (int x = x0; x < x1; x++) {
			int e0 = off[x] - p0, ne = off[x + 1] - off[x];
			if (ne) it[ni++] = (struct matmul_item){ye + (size_t)e0 * D, hg + (size_t)e0 * F, ne, &L->ed[x], NULL};
		}
		be->ops->matmul_group(be, it, ni);
		for (int p = 0; p < np; p++) { /* pairs in ascending expert id: HF's summation order per token */
			float *yr = y + (size_t)pair_tok[p0 + p] * D, wgt = pair_w[p0 + p];
			const float *er = ye + (size_t)p * D;
			for (int d = 0; d < D; d++) yr[d] += wgt * er[d];
		}
	}
	if (c->n_shared_experts > 0) {
		swiglu(be, s, S_MLP, ye, m, n, &L->sg, &L->su, &L->sd);
		for (size_t i = 0; i < (size_t)n * D; i++) y[i] += ye[i];
	}
}

/* ---- the forward pass ---- */

static void glm4_moe_forward(struct model *mdl, struct backend *be, const struct batch *b, struct kv_view *kv,
                             struct scratch *s, float *logits)
{
	const struct model_config *c = &mdl->cfg;
	const struct weights *W = mdl->w;
	int n = b->n_tokens, D = c->dim, H = c->n_heads, KV = c->n_kv_heads, hd = c->head_dim;
	size_t qd = (size_t)H * hd, kvd = (size_t)KV * hd;
	float *x = scratch_f32(s, S_X, (size_t)n * D);     /* residual stream [n][D] */
	float *a = scratch_f32(s, S_A, (size_t)n * D);     /* normed input [n][D] */
	float *q = scratch_f32(s, S_Q, n * qd);            /* [n][H][hd] */
	float *k = scratch_f32(s, S_K, n * kvd);           /* [n][KV][hd] */
	float *v = scratch_f32(s, S_V, n * kvd);           /* [n][KV][hd] */
	float *att = scratch_f32(s, S_ATT, n * qd);        /* [n][H][hd] */
	float *o = scratch_f32(s, S_O, (size_t)n * D);     /* [n][D] */
	float *y = scratch_f32(s, S_Y, (size_t)n * D);     /* [n][D] */

	/* 1. token embeddings (no scaling) */
	for (int t = 0; t < n; t++) {
		GLM_ASSERT(b->tokens[t] >= 0 && b->tokens[t] < c->vocab);
		dtype_to_f32(W->embed.dtype, (const char *)W->embed.data + (size_t)b->tokens[t] * D * dtype_size(W->embed.dtype),
		             x + (size_t)t * D, D);
	}

	for (int l = 0; l < c->n_layers; l++) {
		const struct layer *L = &W->layers[l];
		/* 2a. attention: pre-norm, projections (+bias), per-head qk-norm, RoPE, cache, GQA */
		be->ops->rmsnorm(be, a, x, n, D, L->attn_norm, c->rms_norm_eps);
		struct matmul_item qkv[3] = {{q, a, n, &L->wq, L->bq}, {k, a, n, &L->wk, L->bk}, {v, a, n, &L->wv, L->bv}};
		be->ops->matmul_group(be, qkv, 3);
		if (c->use_qk_norm) {
			be->ops->rmsnorm(be, q, q, n * H, hd, L->q_norm, c->rms_norm_eps);
			be->ops->rmsnorm(be, k, k, n * KV, hd, L->k_norm, c->rms_norm_eps);
		}
		for (int t = 0; t < n; t++) {
			rope_neox(q + t * qd, H, hd, c->rot_dim, b->pos[t], W->inv_freq);
			rope_neox(k + t * kvd, KV, hd, c->rot_dim, b->pos[t], W->inv_freq);
			int p = b->pos[t];
			int64_t slot = (int64_t)b->block_table[t][p / kv->block_size] * kv->block_size + p % kv->block_size;
			memcpy(kv->k[l] + slot * kv->k_stride, k + t * kvd, kvd * sizeof(float));
			memcpy(kv->v[l] + slot * kv->v_stride, v + t * kvd, kvd * sizeof(float));
		}
		struct attn_args aa = {
			.n_tokens = n, .n_heads = H, .n_kv_heads = KV, .head_dim = hd, .v_dim = hd,
			.scale = 1.0f / sqrtf((float)hd), .q = q, .out = att,
			.k = kv->k[l], .v = kv->v[l], .k_stride = kv->k_stride, .v_stride = kv->v_stride,
			.block_size = kv->block_size, .pos = b->pos, .block_table = b->block_table,
		};
		be->ops->attention(be, &aa);
		be->ops->matmul(be, o, att, n, &L->wo, NULL);
		for (size_t i = 0; i < (size_t)n * D; i++) x[i] += o[i];

		/* 2b. feed-forward: pre-norm, dense SwiGLU or routed + shared experts */
		be->ops->rmsnorm(be, a, x, n, D, L->ffn_norm, c->rms_norm_eps);
		if (L->moe) moe(mdl, be, s, L, y, a, n);
		else swiglu(be, s, S_MLP, y, a, n, &L->gate, &L->up, &L->down);
		for (size_t i = 0; i < (size_t)n * D; i++) x[i] += y[i];
	}

	/* 3. final norm and lm_head, only for the rows that want logits */
	float *xo = scratch_f32(s, S_OUT, (size_t)b->n_out * D); /* [n_out][D] */
	gather_rows(xo, x, b->out_idx, b->n_out, D);
	be->ops->rmsnorm(be, xo, xo, b->n_out, D, W->final_norm, c->rms_norm_eps);
	be->ops->matmul(be, logits, xo, b->n_out, &W->lm_head, NULL);
}

const struct model_arch glm4_moe_arch = {
	.model_type = "glm4_moe",
	.bind = glm4_moe_bind,
	.unbind = glm4_moe_unbind,
	.kv_strides = glm4_moe_kv_strides,
	.forward = glm4_moe_forward,
	.tensor_specs = glm4_moe_tensor_specs,
};
