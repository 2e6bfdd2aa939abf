/* fuzz_config.c — fuzz target for src/io/config.c: config.json and generation_config.json text
 * through model_config_parse. The input is the config text, optionally followed by a NUL byte
 * and the generation config text.
 * Invariants: a failure has a message; a success gives the validated shape the model code relies
 * on (positive dimensions, heads divisible by kv heads, an even rotary dim within head_dim, at
 * most CONFIG_MAX_EOS stop ids), and every dimension equals the
 * integer written in the file (never a silently truncated one).
 * Thread rules: single-threaded. */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "io/config.h"

const size_t fuzz_max_len = 4096;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_WHOLE;
const char *const fuzz_dict[] = {
	"\"model_type\"", "\"glm4_moe\"", "\"architectures\"", "\"hidden_size\"", "\"num_hidden_layers\"",
	"\"num_attention_heads\"", "\"num_key_value_heads\"", "\"head_dim\"", "\"vocab_size\"", "\"intermediate_size\"",
	"\"moe_intermediate_size\"", "\"n_routed_experts\"", "\"num_experts_per_tok\"", "\"n_shared_experts\"",
	"\"n_group\"", "\"topk_group\"", "\"first_k_dense_replace\"", "\"norm_topk_prob\"", "\"use_qk_norm\"",
	"\"partial_rotary_factor\"", "\"rope_theta\"", "\"rope_scaling\"", "\"rope_parameters\"", "\"rope_type\"",
	"\"default\"", "\"yarn\"", "\"eos_token_id\"", "\"pad_token_id\"", "\"bos_token_id\"", "\"quantization_config\"",
	"\"quant_method\"", "\"fp8\"", "\"compressed-tensors\"", "\"weight_block_size\"", "[128, 128]", "\"temperature\"",
	"\"top_p\"", "\"top_k\"", "null", "true", "false", "[]", "{}", ", ", ": ", "-0.5", "0.25", "1e30", "-1",
	"[151329, 151336, 151338]", "{\"eos_token_id\": [1, 2], \"temperature\": 0.6}", NULL,
};

/* JSON key -> the parsed field, for the "no silent truncation" check. */
struct int_key {
	const char *key;
	size_t off;
};
#define K(k, f) {k, offsetof(struct model_config, f)}
static const struct int_key int_keys[] = {
	K("hidden_size", dim), K("num_hidden_layers", n_layers), K("num_attention_heads", n_heads),
	K("num_key_value_heads", n_kv_heads), K("head_dim", head_dim), K("vocab_size", vocab), K("intermediate_size", ffn_dim),
	K("moe_intermediate_size", moe_ffn_dim), K("n_routed_experts", n_experts), K("num_experts_per_tok", n_experts_used),
	K("n_shared_experts", n_shared_experts), K("n_group", n_group), K("topk_group", topk_group),
	K("first_k_dense_replace", first_k_dense_replace), K("max_position_embeddings", max_position_embeddings),
	K("num_nextn_predict_layers", n_nextn_layers), K("q_lora_rank", q_lora_rank), K("kv_lora_rank", kv_lora_rank),
	K("qk_nope_head_dim", qk_nope_head_dim), K("qk_rope_head_dim", qk_rope_head_dim), K("v_head_dim", v_head_dim),
};
#undef K

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, 0, size);
	char *cfg = xstrndup((const char *)data, nul ? (size_t)(nul - (const char *)data) : size);
	char *gen = nul ? xstrndup(nul + 1, size - (size_t)(nul + 1 - (const char *)data)) : NULL;
	struct model_config c;
	struct err e = {{0}};
	int rc = model_config_parse(&c, cfg, gen, "config.json", &e);
	if (rc) {
		FUZZ_CHECK(rc == -1, "status %d", rc);
		FUZZ_CHECK(e.msg[0] != 0, "a failed parse must say why");
		free(cfg);
		free(gen);
		return -1;
	} else {
		FUZZ_CHECK(c.dim > 0 && c.n_layers > 0 && c.n_heads > 0 && c.n_kv_heads > 0 && c.head_dim > 0 && c.vocab > 0,
		           "accepted non-positive dimensions: dim %d layers %d heads %d kv %d head_dim %d vocab %d", c.dim,
		           c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab);
		FUZZ_CHECK(c.n_heads % c.n_kv_heads == 0, "heads %d kv heads %d", c.n_heads, c.n_kv_heads);
		FUZZ_CHECK(c.rot_dim >= 0 && c.rot_dim % 2 == 0 && c.rot_dim <= c.head_dim,
		           "accepted rotary dim %d for head_dim %d (partial_rotary_factor %g)", c.rot_dim, c.head_dim,
		           (double)c.partial_rotary_factor);
		FUZZ_CHECK(c.n_eos >= 0 && c.n_eos <= CONFIG_MAX_EOS, "n_eos %d", c.n_eos);
		FUZZ_CHECK(memchr(c.model_type, 0, sizeof c.model_type) && memchr(c.architecture, 0, sizeof c.architecture),
		           "unterminated model_type/architecture");
		/* the file's integers must arrive unchanged (config.c parses the same text again here) */
		json_t *root = json_loads(cfg, 0, NULL);
		FUZZ_CHECK(json_is_object(root), "accepted text that is not a JSON object");
		for (size_t i = 0; i < sizeof int_keys / sizeof *int_keys; i++) {
			json_t *v = json_object_get(root, int_keys[i].key);
			if (!json_is_integer(v)) continue;
			int got;
			memcpy(&got, (const char *)&c + int_keys[i].off, sizeof got);
			FUZZ_CHECK((json_int_t)got == json_integer_value(v), "\"%s\": %lld in the file but %d was loaded",
			           int_keys[i].key, (long long)json_integer_value(v), got);
		}
		json_decref(root);
	}
	free(cfg);
	free(gen);
	return 0;
}
