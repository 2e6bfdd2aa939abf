/* config.h — config.json + generation_config.json of a Hugging Face checkpoint directory as a
 * plain struct (models.md §1). Owns nothing after loading. Unknown keys are ignored; a required
 * key that is missing or of the wrong type fails naming the key and the file. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

#define CONFIG_MAX_EOS 16

enum quant_kind {
	QUANT_KIND_NONE,
	QUANT_KIND_FP8_CHANNEL, /* compressed-tensors float-quantized, weight_scale [out, 1] (models.md §7a) */
	QUANT_KIND_FP8_BLOCK,   /* DeepSeek-style 128x128 blocks, weight_scale_inv (models.md §7b) */
};

struct model_config {
	char model_type[64];    /* "glm4_moe", ... */
	char architecture[96];  /* architectures[0], e.g. "Glm4MoeForCausalLM" */
	/* the one dimension vocabulary of design.md §6 */
	int dim, n_layers, n_heads, n_kv_heads, head_dim, rot_dim, ffn_dim, moe_ffn_dim;
	int n_experts, n_experts_used, n_shared_experts, vocab;
	int n_group, topk_group, first_k_dense_replace;
	bool norm_topk_prob, use_qk_norm, attention_bias, tie_word_embeddings;
	float routed_scaling_factor, rms_norm_eps, partial_rotary_factor;
	double rope_theta;
	int max_position_embeddings;
	int n_nextn_layers; /* num_nextn_predict_layers (MTP) */
	/* MLA (glm4_moe_lite / glm_moe_dsa); 0 when absent */
	int q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim;
	/* quantization_config */
	enum quant_kind quant;
	int quant_block[2];
	/* stop ids: config.json eos_token_id ∪ generation_config.json eos_token_id, in that order */
	int32_t eos_ids[CONFIG_MAX_EOS];
	int n_eos;
	int32_t pad_id, bos_id; /* -1 when absent */
	/* generation_config.json sampling defaults (vLLM applies them); negative/NAN = absent */
	float gen_temperature, gen_top_p;
	int gen_top_k;
};

int model_config_load(struct model_config *c, const char *dir, struct err *e);
/* Parses config.json text (for tests); generation config is optional (NULL). */
int model_config_parse(struct model_config *c, const char *config_json, const char *gen_json, const char *name,
                       struct err *e);
