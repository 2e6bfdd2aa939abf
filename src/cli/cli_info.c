/* cli_info.c — `glm info --model DIR`: what a checkpoint is (architecture, config, tensors,
 * bytes and dtypes), after loading it the way the engine does, so a broken checkpoint fails
 * here with the same message. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "model/model.h"

int cli_info(int argc, char **argv)
{
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
			printf("usage: glm info --model DIR\n");
			return 0;
		} else if (cli_flag_value(argc, argv, &i, "--model", "-m", &dir)) {}
		else cli_usage_error("info", "unknown flag '%s'", argv[i]);
	}
	if (!dir) cli_usage_error("info", "--model DIR is required");
	struct model m;
	struct err e = {{0}};
	if (model_load(&m, dir, &e)) {
		fprintf(stderr, "glm info: %s\n", e.msg);
		return 1;
	}
	const struct model_config *c = &m.cfg;
	printf("model:        %s\n", dir);
	printf("architecture: %s (model_type %s)\n", c->architecture, c->model_type);
	printf("layers:       %d (+%d MTP), dim %d, vocab %d, max positions %d\n", c->n_layers, c->n_nextn_layers, c->dim,
	       c->vocab, c->max_position_embeddings);
	printf("attention:    %d heads, %d kv heads, head_dim %d, rotary dims %d (theta %g), qk-norm %s, bias %s\n",
	       c->n_heads, c->n_kv_heads, c->head_dim, c->rot_dim, c->rope_theta, c->use_qk_norm ? "on" : "off",
	       c->attention_bias ? "on" : "off");
	printf("mlp:          %d dense layers (ffn %d); MoE %d experts (ffn %d), %d used, %d shared, groups %d/%d, "
	       "scaling %g, norm_topk_prob %s\n",
	       c->first_k_dense_replace < c->n_layers ? c->first_k_dense_replace : c->n_layers, c->ffn_dim, c->n_experts,
	       c->moe_ffn_dim, c->n_experts_used, c->n_shared_experts, c->n_group, c->topk_group, c->routed_scaling_factor,
	       c->norm_topk_prob ? "true" : "false");
	printf("quantization: %s\n", c->quant == QUANT_KIND_FP8_CHANNEL ? "FP8 e4m3, per-channel weight_scale"
	                             : c->quant == QUANT_KIND_FP8_BLOCK ? "FP8 e4m3, 128x128 block weight_scale_inv"
	                                                                : "none");
	printf("eos ids:      ");
	for (int i = 0; i < c->n_eos; i++) printf("%s%d", i ? ", " : "", c->eos_ids[i]);
	printf("\n");
	size_t by_dtype[DTYPE_COUNT] = {0}, n_dtype[DTYPE_COUNT] = {0};
	for (size_t i = 0; i < m.st.n_tensors; i++) {
		by_dtype[m.st.tensors[i].dtype] += m.st.tensors[i].nbytes;
		n_dtype[m.st.tensors[i].dtype]++;
	}
	printf("tensors:      %zu in %d file%s, %.3f GB\n", m.st.n_tensors, m.st.n_files, m.st.n_files == 1 ? "" : "s",
	       m.st.total_bytes / 1e9);
	for (int t = 0; t < DTYPE_COUNT; t++)
		if (n_dtype[t]) printf("  %-8s %6zu tensors  %10.3f GB\n", dtype_name(t), n_dtype[t], by_dtype[t] / 1e9);
	model_close(&m);
	return 0;
}
