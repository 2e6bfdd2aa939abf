/* cli_bench_cost.h — what one decode step of a checkpoint reads, for the benchmarks' ceilings
 * (`glm bench model --decode-batch`, `glm bench serve`). From the tensors' real sizes, so FP8 and
 * tied embeddings count as they are stored. glm4_moe shapes. */
#pragma once
#include "model/model.h"

struct decode_cost {
	double tok_bytes;    /* weights one token reads: attention, dense or K routed + shared experts, router, lm_head */
	double tok_params;   /* the same in parameters (2 FLOPs each per token) */
	double expert_bytes; /* one routed expert of one MoE layer (gate + up + down) */
	int n_moe;           /* MoE layers */
};

/* 0, or -1 when the checkpoint lacks a tensor these shapes expect (another architecture). */
int decode_cost_init(struct decode_cost *dc, const struct model *m);
/* Bytes a step decoding B sequences reads when each token picks its K experts uniformly at
 * random: B tokens touch E(1-(1-K/E)^B) distinct experts per MoE layer (*uniq). */
double decode_cost_step_bytes(const struct decode_cost *dc, const struct model_config *c, int B, double *uniq);
/* The decode speed-up of B sequences over one at equal bandwidth: B * bytes(1) / bytes(B). */
double decode_cost_ceiling(const struct decode_cost *dc, const struct model_config *c, int B);
