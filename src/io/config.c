/* config.c — see config.h. Defaults for optional keys are those of transformers'
 * Glm4MoeConfig (HF-moe configuration_glm4_moe.py) so a minimal config still loads. */
#include "io/config.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	json_t *root;
	const char *file;
	struct err *e;
	int rc;
};

static json_t *get(struct ctx *c, const char *key)
{
	json_t *v = json_object_get(c->root, key);
	return json_is_null(v) ? NULL : v;
}

static int get_int(struct ctx *c, const char *key, bool required, int def)
{
	json_t *v = get(c, key);
	if (!v) {
		if (required && !c->rc) c->rc = err_set(c->e, "%s: required key \"%s\" is missing", c->file, key);
		return def;
	}
	if (!json_is_integer(v)) {
		if (!c->rc) c->rc = err_set(c->e, "%s: key \"%s\" must be an integer", c->file, key);
		return def;
	}
	json_int_t x = json_integer_value(v);
	if (x < INT_MIN || x > INT_MAX) {
		if (!c->rc) c->rc = err_set(c->e, "%s: key \"%s\" = %lld is out of range", c->file, key, (long long)x);
		return def;
	}
	return (int)x;
}

static double get_num(struct ctx *c, const char *key, double def)
{
	json_t *v = get(c, key);
	if (!v) return def;
	if (!json_is_number(v)) {
		if (!c->rc) c->rc = err_set(c->e, "%s: key \"%s\" must be a number", c->file, key);
		return def;
	}
	return json_number_value(v);
}

static bool get_bool(struct ctx *c, const char *key, bool def)
{
	json_t *v = get(c, key);
	if (!v) return def;
	if (!json_is_boolean(v)) {
		if (!c->rc) c->rc = err_set(c->e, "%s: key \"%s\" must be true or false", c->file, key);
		return def;
	}
	return json_is_true(v);
}

static void add_ids(struct model_config *cfg, json_t *v)
{
	if (json_is_integer(v)) v = json_pack("[O]", v);
	else json_incref(v);
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x)
	{
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > INT32_MAX) continue;
		int32_t id = (int32_t)json_integer_value(x);
		bool have = false;
		for (int k = 0; k < cfg->n_eos; k++) have |= cfg->eos_ids[k] == id;
		if (!have && cfg->n_eos < CONFIG_MAX_EOS) cfg->eos_ids[cfg->n_eos++] = id;
	}
	json_decref(v);
}

static void parse_quant(struct model_config *cfg, struct ctx *c)
{
	json_t *q = get(c, "quantization_config");
	if (!q) return;
	const char *method = json_string_value(json_object_get(q, "quant_method"));
	json_t *bs = json_object_get(q, "weight_block_size");
	if (method && !strcmp(method, "fp8") && json_is_array(bs) && json_array_size(bs) == 2) {
		cfg->quant = QUANT_KIND_FP8_BLOCK;
		for (int i = 0; i < 2; i++) {
			json_int_t b = json_integer_value(json_array_get(bs, i));
			if ((b < 1 || b > 1 << 20) && !c->rc)
				c->rc = err_set(c->e, "%s: quantization_config.weight_block_size must be two integers in 1..%d",
				                c->file, 1 << 20);
			cfg->quant_block[i] = (int)b;
		}
	} else if (method && !strcmp(method, "compressed-tensors")) {
		cfg->quant = QUANT_KIND_FP8_CHANNEL;
	} else if (!c->rc) {
		c->rc = err_set(c->e, "%s: quantization_config with quant_method \"%s\" is not supported (FP8 channel "
		                      "compressed-tensors and FP8 128x128 blocks are)",
		                c->file, method ? method : "?");
	}
}

int model_config_parse(struct model_config *cfg, const char *config_json, const char *gen_json, const char *name,
                       struct err *e)
{
	memset(cfg, 0, sizeof *cfg);
	json_error_t je;
	json_t *root = json_loads(config_json, 0, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return err_set(e, "%s: not a JSON object (%s, line %d)", name, je.text, je.line);
	}
	struct ctx c = {root, name, e, 0};
	const char *mt = json_string_value(json_object_get(root, "model_type"));
	if (!mt) c.rc = err_set(e, "%s: required key \"model_type\" is missing", name);
	else snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
	json_t *archs = json_object_get(root, "architectures");
	const char *a0 = json_string_value(json_array_get(archs, 0));
	snprintf(cfg->architecture, sizeof cfg->architecture, "%s", a0 ? a0 : "");

	cfg->dim = get_int(&c, "hidden_size", true, 0);
	cfg->n_layers = get_int(&c, "num_hidden_layers", true, 0);
	cfg->n_heads = get_int(&c, "num_attention_heads", true, 0);
	cfg->n_kv_heads = get_int(&c, "num_key_value_heads", false, cfg->n_heads);
	cfg->head_dim = get_int(&c, "head_dim", false, cfg->n_heads ? cfg->dim / cfg->n_heads : 0);
	cfg->vocab = get_int(&c, "vocab_size", true, 0);
	cfg->ffn_dim = get_int(&c, "intermediate_size", true, 0);
	cfg->moe_ffn_dim = get_int(&c, "moe_intermediate_size", false, 0);
	cfg->n_experts = get_int(&c, "n_routed_experts", false, 0);
	cfg->n_experts_used = get_int(&c, "num_experts_per_tok", false, 0);
	cfg->n_shared_experts = get_int(&c, "n_shared_experts", false, 1);
	cfg->n_group = get_int(&c, "n_group", false, 1);
	cfg->topk_group = get_int(&c, "topk_group", false, 1);
	cfg->first_k_dense_replace = get_int(&c, "first_k_dense_replace", false, 1);
	cfg->norm_topk_prob = get_bool(&c, "norm_topk_prob", true);
	cfg->use_qk_norm = get_bool(&c, "use_qk_norm", false);
	cfg->attention_bias = get_bool(&c, "attention_bias", false);
	cfg->tie_word_embeddings = get_bool(&c, "tie_word_embeddings", false);
	cfg->routed_scaling_factor = (float)get_num(&c, "routed_scaling_factor", 1.0);
	cfg->rms_norm_eps = (float)get_num(&c, "rms_norm_eps", 1e-5);
	cfg->partial_rotary_factor = (float)get_num(&c, "partial_rotary_factor", 0.5);
	cfg->max_position_embeddings = get_int(&c, "max_position_embeddings", false, 131072);
	cfg->n_nextn_layers = get_int(&c, "num_nextn_predict_layers", false, 0);
	cfg->q_lora_rank = get_int(&c, "q_lora_rank", false, 0);
	cfg->kv_lora_rank = get_int(&c, "kv_lora_rank", false, 0);
	cfg->qk_nope_head_dim = get_int(&c, "qk_nope_head_dim", false, 0);
	cfg->qk_rope_head_dim = get_int(&c, "qk_rope_head_dim", false, 0);
	cfg->v_head_dim = get_int(&c, "v_head_dim", false, 0);

	/* RoPE: transformers 4.x puts rope_theta/rope_scaling at the top level; 5.x nests them in
	 * rope_parameters. Only the default rope type is used by GLM releases. */
	json_t *rp = get(&c, "rope_parameters");
	cfg->rope_theta = get_num(&c, "rope_theta", 10000.0);
	json_t *rs = get(&c, "rope_scaling");
	if (json_is_object(rp)) {
		json_t *th = json_object_get(rp, "rope_theta");
		if (json_is_number(th)) cfg->rope_theta = json_number_value(th);
		json_t *pf = json_object_get(rp, "partial_rotary_factor");
		if (json_is_number(pf)) cfg->partial_rotary_factor = (float)json_number_value(pf);
		if (!rs) rs = rp;
	}
	if (json_is_object(rs)) {
		const char *rt = json_string_value(json_object_get(rs, "rope_type"));
		if (!rt) rt = json_string_value(json_object_get(rs, "type"));
		if (rt && strcmp(rt, "default") != 0 && !c.rc)
			c.rc = err_set(e, "%s: rope type \"%s\" is not supported (GLM releases use the default type)", name, rt);
	}
	float prf = cfg->partial_rotary_factor;
	if (!(prf >= 0.0f && prf <= 1.0f) && !c.rc) /* also NaN */
		c.rc = err_set(e, "%s: partial_rotary_factor %g must be in [0, 1]", name, prf);
	cfg->rot_dim = c.rc ? 0 : (int)((double)cfg->head_dim * prf);
	if (!c.rc && (!(cfg->rope_theta > 0) || !isfinite(cfg->rope_theta) || !(cfg->rms_norm_eps >= 0) ||
	              !isfinite(cfg->rms_norm_eps) || !isfinite(cfg->routed_scaling_factor)))
		c.rc = err_set(e, "%s: rope_theta must be positive, rms_norm_eps non-negative, routed_scaling_factor finite",
		               name);
	const struct {
		const char *key;
		int value, min;
	} lim[] = {
		{"intermediate_size", cfg->ffn_dim, 0}, {"moe_intermediate_size", cfg->moe_ffn_dim, 0},
		{"n_routed_experts", cfg->n_experts, 0}, {"num_experts_per_tok", cfg->n_experts_used, 0},
		{"n_shared_experts", cfg->n_shared_experts, 0}, {"n_group", cfg->n_group, 1},
		{"topk_group", cfg->topk_group, 1}, {"first_k_dense_replace", cfg->first_k_dense_replace, 0},
		{"max_position_embeddings", cfg->max_position_embeddings, 1}, {"num_nextn_predict_layers", cfg->n_nextn_layers, 0},
		{"q_lora_rank", cfg->q_lora_rank, 0}, {"kv_lora_rank", cfg->kv_lora_rank, 0},
		{"qk_nope_head_dim", cfg->qk_nope_head_dim, 0}, {"qk_rope_head_dim", cfg->qk_rope_head_dim, 0},
		{"v_head_dim", cfg->v_head_dim, 0},
	};
	for (size_t i = 0; i < sizeof lim / sizeof *lim && !c.rc; i++)
		if (lim[i].value < lim[i].min)
			c.rc = err_set(e, "%s: %s = %d must be at least %d", name, lim[i].key, lim[i].value, lim[i].min);

	cfg->pad_id = get_int(&c, "pad_token_id", false, -1);
	cfg->bos_id = get_int(&c, "bos_token_id", false, -1);
	json_t *eos = get(&c, "eos_token_id");
	if (eos) add_ids(cfg, eos);
	parse_quant(cfg, &c);

	cfg->gen_temperature = NAN;
	cfg->gen_top_p = NAN;
	cfg->gen_top_k = -1;
	json_decref(root);
	if (c.rc) return c.rc;
	if (!c.rc && (cfg->dim <= 0 || cfg->n_layers <= 0 || cfg->n_heads <= 0 || cfg->n_kv_heads <= 0 ||
	              cfg->head_dim <= 0 || cfg->vocab <= 0))
		return err_set(e, "%s: hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim "
		                  "and vocab_size must be positive",
		               name);
	if (cfg->n_heads % cfg->n_kv_heads)
		return err_set(e, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", name,
		               cfg->n_heads, cfg->n_kv_heads);
	if (cfg->rot_dim % 2 || cfg->rot_dim > cfg->head_dim)
		return err_set(e, "%s: partial_rotary_factor %g gives an odd or too large rotary dim %d", name,
		               cfg->partial_rotary_factor, cfg->rot_dim);

	if (gen_json) {
		json_t *g = json_loads(gen_json, 0, &je);
		if (!g || !json_is_object(g)) {
			json_decref(g);
			return err_set(e, "generation_config.json: not a JSON object (%s, line %d)", je.text, je.line);
		}
		json_t *v;
		if ((v = json_object_get(g, "eos_token_id"))) add_ids(cfg, v);
		if (json_is_number(v = json_object_get(g, "temperature"))) cfg->gen_temperature = json_number_value(v);
		if (json_is_number(v = json_object_get(g, "top_p"))) cfg->gen_top_p = json_number_value(v);
		/* out-of-range values are ignored like absent ones: these only set request defaults */
		if (json_is_integer(v = json_object_get(g, "top_k")) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= INT_MAX)
			cfg->gen_top_k = (int)json_integer_value(v);
		if (cfg->pad_id < 0 && json_is_integer(v = json_object_get(g, "pad_token_id")) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= INT32_MAX)
			cfg->pad_id = (int32_t)json_integer_value(v);
		json_decref(g);
	}
	return 0;
}

int model_config_load(struct model_config *cfg, const char *dir, struct err *e)
{
	char *cp = path_join(dir, "config.json"), *gp = path_join(dir, "generation_config.json");
	struct buf cb, gb;
	buf_init(&cb), buf_init(&gb);
	int rc = file_read_all(cp, &cb, e);
	bool have_gen = !rc && file_exists(gp);
	if (!rc && have_gen) rc = file_read_all(gp, &gb, e);
	if (!rc) rc = model_config_parse(cfg, cb.data, have_gen ? gb.data : NULL, cp, e);
	buf_free(&cb), buf_free(&gb);
	free(cp), free(gp);
	return rc;
}
