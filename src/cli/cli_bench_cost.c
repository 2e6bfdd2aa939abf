/* cli_bench_cost.c — see cli_bench_cost.h. */
#include "cli/cli_bench_cost.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Adds `times` copies of the named tensor; false when it is missing. */
static bool add(const struct model *m, double *bytes, double *params, double times, const char *fmt, ...)
{
	char name[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	const struct st_tensor *t = safetensors_find(&m->st, name);
	if (!t) return false;
	*bytes += (double)t->nbytes * times, *params += (double)st_tensor_numel(t) * times;
	return true;
}

int decode_cost_init(struct decode_cost *dc, const struct model *m)
{
	const struct model_config *c = &m->cfg;
	memset(dc, 0, sizeof *dc);
	double *b = &dc->tok_bytes, *p = &dc->tok_params, eb = 0, ep = 0;
	bool ok = true;
	const char *proj[] = {"q_proj", "k_proj", "v_proj", "o_proj"}, *mlp[] = {"gate_proj", "up_proj", "down_proj"};
	for (int l = 0; l < c->n_layers; l++) {
		for (int i = 0; i < 4; i++) ok &= add(m, b, p, 1, "model.layers.%d.self_attn.%s.weight", l, proj[i]);
		if (l < c->first_k_dense_replace) {
			for (int i = 0; i < 3; i++) ok &= add(m, b, p, 1, "model.layers.%d.mlp.%s.weight", l, mlp[i]);
			continue;
		}
		dc->n_moe++;
		ok &= add(m, b, p, 1, "model.layers.%d.mlp.gate.weight", l);
		for (int i = 0; i < 3; i++) {
			ok &= add(m, b, p, c->n_experts_used, "model.layers.%d.mlp.experts.0.%s.weight", l, mlp[i]);
			ok &= add(m, &eb, &ep, 1, "model.layers.%d.mlp.experts.0.%s.weight", l, mlp[i]);
			if (c->n_shared_experts > 0)
				ok &= add(m, b, p, 1, "model.layers.%d.mlp.shared_experts.%s.weight", l, mlp[i]);
		}
	}
	ok &= add(m, b, p, 1, c->tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
	dc->expert_bytes = dc->n_moe ? eb / dc->n_moe : 0;
	return ok ? 0 : -1;
}

double decode_cost_step_bytes(const struct decode_cost *dc, const struct model_config *c, int B, double *uniq)
{
	double K = c->n_experts_used, E = c->n_experts > 0 ? c->n_experts : 1;
	double u = dc->n_moe ? E * (1.0 - pow(1.0 - K / E, B)) : 0;
	if (uniq) *uniq = u;
	return dc->tok_bytes + dc->n_moe * (u - K) * dc->expert_bytes;
}

double decode_cost_ceiling(const struct decode_cost *dc, const struct model_config *c, int B)
{
	return B * dc->tok_bytes / decode_cost_step_bytes(dc, c, B, NULL);
}
