/* cli_synth.c — `glm synth`: writes a checkpoint directory with the exact config.json keys,
 * tensor names, shapes and dtypes of a released GLM model (models.md §1, §3.1, §7), with
 * overrides for depth and sizes, and random weights from a seed. Tests, benchmarks and the
 * built-in demo use it. The tensor list comes from the architecture's tensor_specs, the same
 * list the loader checks; the independent numpy reference (tests/model) catches any mistake
 * in that list against models.md.
 *
 * Weights: N(0, 0.02)-like uniform noise for matrices, 1 ± 0.1 for norms, small biases, so
 * activations stay O(1) through many layers. Each tensor's values depend only on (seed, name),
 * never on write order, and are produced while writing (a 20 GB checkpoint needs no 20 GB of RAM). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "base/dtype.h"
#include "cli/cli.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#ifndef GLM_DATA_DIR
#define GLM_DATA_DIR "data"
#endif

struct preset {
	const char *name, *template_family;
	int dim, n_layers, n_heads, n_kv_heads, head_dim, ffn_dim, moe_ffn_dim, n_experts, n_used, n_shared;
	int first_dense, max_pos;
	double rsf;
	bool qk_norm, mtp_own_embed;
};

/* models.md §1.1 */
static const struct preset presets[] = {
	{"glm-4.5", "glm-4.5", 5120, 92, 96, 8, 128, 12288, 1536, 160, 8, 1, 3, 131072, 2.5, true, true},
	{"glm-4.5-air", "glm-4.5", 4096, 46, 96, 8, 128, 10944, 1408, 128, 8, 1, 1, 131072, 1.0, false, false},
	{"glm-4.6", "glm-4.5", 5120, 92, 96, 8, 128, 12288, 1536, 160, 8, 1, 3, 202752, 2.5, true, false},
	{"glm-4.7", "glm-4.7", 5120, 92, 96, 8, 128, 12288, 1536, 160, 8, 1, 3, 202752, 2.5, true, false},
};

struct synth {
	struct model_config c;
	enum dtype dtype;      /* dtype of matrices (and vectors) */
	int fp8;               /* 0, QUANT_KIND_FP8_CHANNEL or QUANT_KIND_FP8_BLOCK */
	uint64_t seed;
	bool mtp_own_embed;
	double init_std;
	/* tensor table being written */
	struct st_writer *writers;
	int n_shards;
	long n_tensors;
	int cur_shard;
	size_t shard_target, shard_bytes;
	struct buf index;      /* weight_map entries */
};

static uint64_t name_seed(uint64_t seed, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ seed;
	while (*name) h = (h ^ (unsigned char)*name++) * 1099511628211ull;
	return h;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The fp32 values of a tensor (before quantization). */
static void gen_values(const struct synth *sy, const char *name, float *v, size_t n)
{
	struct rng r;
	rng_seed(&r, name_seed(sy->seed, name));
	const double k = sqrt(12.0);
	if (ends_with(name, "norm.weight")) {
		for (size_t i = 0; i < n; i++) v[i] = 1.0f + (float)((rng_uniform(&r) - 0.5) * 0.2);
	} else if (ends_with(name, ".bias") || ends_with(name, "e_score_correction_bias")) {
		for (size_t i = 0; i < n; i++) v[i] = (float)((rng_uniform(&r) - 0.5) * 0.2);
	} else {
		float s = (float)(sy->init_std * k);
		/* 4 values per 64 random bits: fast enough for multi-GB checkpoints */
		for (size_t i = 0; i < n; i += 4) {
			uint64_t u = rng_next(&r);
			for (int j = 0; j < 4 && i + j < n; j++)
				v[i + j] = s * ((float)((u >> (16 * j)) & 0xffff) * (1.0f / 65536.0f) - 0.5f + 0.5f / 65536.0f);
		}
	}
}

struct entry_info {
	int64_t rows, cols;
	bool quantized;
};

/* fp8 code nearest to f, by binary search over the 127 non-negative finite codes (sorted). */
static uint8_t to_fp8(float f)
{
	const float *t = fp8_e4m3_table();
	float a = fabsf(f);
	if (!(a == a)) return 0x7f;
	if (a >= 448.0f) return (uint8_t)(0x7e | (f < 0 ? 0x80 : 0));
	int lo = 0, hi = 126;
	while (hi - lo > 1) {
		int mid = (lo + hi) / 2;
		if (t[mid] <= a) lo = mid;
		else hi = mid;
	}
	float dl = a - t[lo], dh = t[hi] - a;
	int code = (dl < dh || (dl == dh && !(lo & 1))) ? lo : hi;
	return (uint8_t)(code | (f < 0 && code ? 0x80 : 0));
}

static void fill_quantized(const struct synth *sy, const char *wname, int64_t rows, int64_t cols, uint8_t *q,
                           float *scale)
{
	float *v = xmalloc((size_t)rows * cols * sizeof(float));
	gen_values(sy, wname, v, (size_t)rows * cols);
	if (sy->fp8 == QUANT_KIND_FP8_CHANNEL) {
		for (int64_t i = 0; i < rows; i++) {
			float mx = 0;
			for (int64_t j = 0; j < cols; j++) mx = fmaxf(mx, fabsf(v[i * cols + j]));
			float s = mx > 0 ? mx / 448.0f : 1.0f;
			if (scale) scale[i] = s;
			for (int64_t j = 0; j < cols; j++) q[i * cols + j] = to_fp8(v[i * cols + j] / s);
		}
	} else {
		int64_t br = (rows + 127) / 128, bc = (cols + 127) / 128;
		for (int64_t bi = 0; bi < br; bi++)
			for (int64_t bj = 0; bj < bc; bj++) {
				float mx = 0;
				for (int64_t i = bi * 128; i < rows && i < (bi + 1) * 128; i++)
					for (int64_t j = bj * 128; j < cols && j < (bj + 1) * 128; j++) mx = fmaxf(mx, fabsf(v[i * cols + j]));
				float s = mx > 0 ? mx / 448.0f : 1.0f;
				if (scale) scale[bi * bc + bj] = s;
				for (int64_t i = bi * 128; i < rows && i < (bi + 1) * 128; i++)
					for (int64_t j = bj * 128; j < cols && j < (bj + 1) * 128; j++) q[i * cols + j] = to_fp8(v[i * cols + j] / s);
			}
	}
	free(v);
}

static void fill(void *ctx, size_t i, const char *name, void *dst, size_t nbytes)
{
	const struct synth *sy = ctx;
	const struct st_writer *w = &sy->writers[sy->cur_shard];
	enum dtype dt = w->dtypes[i];
	if (ends_with(name, ".weight_scale") || ends_with(name, ".weight_scale_inv")) {
		char wname[512];
		snprintf(wname, sizeof wname, "%.*s.weight", (int)(strrchr(name, '.') - name), name);
		int64_t rows = 0, cols = 0;
		/* find the matching weight's shape in any shard */
		for (int s = 0; s < sy->n_shards && !rows; s++)
			for (size_t k = 0; k < sy->writers[s].n; k++)
				if (!strcmp(sy->writers[s].names[k], wname)) rows = sy->writers[s].shapes[k][0], cols = sy->writers[s].shapes[k][1];
		uint8_t *q = xmalloc((size_t)rows * cols);
		fill_quantized(sy, wname, rows, cols, q, dst);
		free(q);
		return;
	}
	size_t n = nbytes / dtype_size(dt);
	if (dt == DTYPE_F8_E4M3) {
		const int64_t *sh = w->shapes[i];
		fill_quantized(sy, name, sh[0], sh[1], dst, NULL);
		return;
	}
	float *v = dt == DTYPE_F32 ? dst : xmalloc(n * sizeof(float));
	gen_values(sy, name, v, n);
	if (dt == DTYPE_BF16)
		for (size_t k = 0; k < n; k++) ((uint16_t *)dst)[k] = f32_to_bf16(v[k]);
	else if (dt == DTYPE_F16)
		for (size_t k = 0; k < n; k++) ((uint16_t *)dst)[k] = f32_to_f16(v[k]);
	if (v != dst) free(v);
}

static void add_tensor(struct synth *sy, const char *name, enum dtype dt, int ndim, const int64_t *shape)
{
	size_t bytes = dtype_size(dt);
	for (int d = 0; d < ndim; d++) bytes *= (size_t)shape[d];
	if (sy->shard_bytes > 0 && sy->shard_bytes + bytes > sy->shard_target && sy->cur_shard + 1 < sy->n_shards)
		sy->cur_shard++, sy->shard_bytes = 0;
	st_writer_add(&sy->writers[sy->cur_shard], name, dt, ndim, shape, NULL, bytes);
	sy->shard_bytes += bytes;
	sy->n_tensors++;
	if (sy->n_shards > 1)
		buf_printf(&sy->index, "%s\n    \"%s\": \"model-%05d-of-%05d.safetensors\"", sy->index.len ? "," : "", name,
		           sy->cur_shard + 1, sy->n_shards);
}

static void on_spec(void *ctx, const char *name, int ndim, const int64_t *shape, bool optional, bool quantizable)
{
	struct synth *sy = ctx;
	/* MTP extras that this model family does not ship (models.md §6.1) */
	if (optional && !sy->mtp_own_embed && (strstr(name, ".shared_head.head.") || (strstr(name, ".embed_tokens.") && strncmp(name, "model.embed_tokens", 18))))
		return;
	bool router = strstr(name, ".mlp.gate.") != NULL, eh = strstr(name, "eh_proj") != NULL;
	if (ends_with(name, "e_score_correction_bias")) {
		add_tensor(sy, name, DTYPE_F32, ndim, shape);
		return;
	}
	if (quantizable && sy->fp8 && !router && !eh && ndim == 2) {
		add_tensor(sy, name, DTYPE_F8_E4M3, ndim, shape);
		char sname[512];
		snprintf(sname, sizeof sname, "%.*s.%s", (int)(strlen(name) - 7), name,
		         sy->fp8 == QUANT_KIND_FP8_CHANNEL ? "weight_scale" : "weight_scale_inv");
		if (sy->fp8 == QUANT_KIND_FP8_CHANNEL) add_tensor(sy, sname, DTYPE_F32, 2, (int64_t[]){shape[0], 1});
		else add_tensor(sy, sname, DTYPE_F32, 2, (int64_t[]){(shape[0] + 127) / 128, (shape[1] + 127) / 128});
		return;
	}
	add_tensor(sy, name, sy->dtype, ndim, shape);
}

static void write_config(const struct synth *sy, struct buf *b)
{
	const struct model_config *c = &sy->c;
	buf_printf(b, "{\n  \"architectures\": [\n    \"Glm4MoeForCausalLM\"\n  ],\n");
	buf_printf(b, "  \"attention_bias\": %s,\n  \"attention_dropout\": 0.0,\n", c->attention_bias ? "true" : "false");
	buf_printf(b, "  \"pad_token_id\": %d,\n  \"eos_token_id\": [", c->pad_id);
	for (int i = 0; i < c->n_eos; i++) buf_printf(b, "%s\n    %d", i ? "," : "", c->eos_ids[i]);
	buf_printf(b, "\n  ],\n  \"head_dim\": %d,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": %d,\n", c->head_dim, c->dim);
	buf_printf(b, "  \"partial_rotary_factor\": %g,\n  \"initializer_range\": 0.02,\n", c->partial_rotary_factor);
	buf_printf(b, "  \"intermediate_size\": %d,\n  \"max_position_embeddings\": %d,\n", c->ffn_dim, c->max_position_embeddings);
	buf_printf(b, "  \"model_type\": \"glm4_moe\",\n  \"moe_intermediate_size\": %d,\n", c->moe_ffn_dim);
	buf_printf(b, "  \"n_group\": %d,\n  \"n_routed_experts\": %d,\n  \"n_shared_experts\": %d,\n", c->n_group,
	           c->n_experts, c->n_shared_experts);
	buf_printf(b, "  \"norm_topk_prob\": %s,\n  \"num_attention_heads\": %d,\n", c->norm_topk_prob ? "true" : "false", c->n_heads);
	buf_printf(b, "  \"num_experts_per_tok\": %d,\n  \"num_hidden_layers\": %d,\n  \"num_key_value_heads\": %d,\n",
	           c->n_experts_used, c->n_layers, c->n_kv_heads);
	buf_printf(b, "  \"num_nextn_predict_layers\": %d,\n  \"rms_norm_eps\": %g,\n  \"rope_scaling\": null,\n",
	           c->n_nextn_layers, c->rms_norm_eps);
	buf_printf(b, "  \"rope_theta\": %.1f,\n  \"routed_scaling_factor\": %g,\n", c->rope_theta, c->routed_scaling_factor);
	buf_printf(b, "  \"tie_word_embeddings\": %s,\n  \"topk_group\": %d,\n", c->tie_word_embeddings ? "true" : "false", c->topk_group);
	buf_printf(b, "  \"torch_dtype\": \"%s\",\n", sy->dtype == DTYPE_F32 ? "float32" : sy->dtype == DTYPE_F16 ? "float16" : "bfloat16");
	buf_printf(b, "  \"transformers_version\": \"4.54.0\",\n  \"use_cache\": true,\n  \"use_qk_norm\": %s,\n",
	           c->use_qk_norm ? "true" : "false");
	buf_printf(b, "  \"first_k_dense_replace\": %d,\n", c->first_k_dense_replace);
	if (sy->fp8 == QUANT_KIND_FP8_CHANNEL)
		buf_printf(b, "  \"quantization_config\": {\n    \"config_groups\": {\n      \"group_0\": {\n"
		              "        \"input_activations\": {\"dynamic\": true, \"num_bits\": 8, \"strategy\": \"token\", \"symmetric\": true, \"type\": \"float\"},\n"
		              "        \"targets\": [\"Linear\"],\n"
		              "        \"weights\": {\"dynamic\": false, \"num_bits\": 8, \"strategy\": \"channel\", \"symmetric\": true, \"type\": \"float\"}\n"
		              "      }\n    },\n    \"format\": \"float-quantized\",\n"
		              "    \"ignore\": [\"lm_head\", \"re:.*mlp.gate$\"],\n    \"quant_method\": \"compressed-tensors\"\n  },\n");
	else if (sy->fp8 == QUANT_KIND_FP8_BLOCK)
		buf_printf(b, "  \"quantization_config\": {\n    \"activation_scheme\": \"dynamic\",\n    \"fmt\": \"e4m3\",\n"
		              "    \"quant_method\": \"fp8\",\n    \"weight_block_size\": [128, 128]\n  },\n");
	buf_printf(b, "  \"vocab_size\": %d\n}\n", c->vocab);
}

static int mkdir_p(const char *dir, struct err *e)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(tmp, 0755);
			*p = '/';
		}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return err_set(e, "%s: %s", dir, strerror(errno));
	return 0;
}

static void usage(void)
{
	printf("usage: glm synth --like MODEL --out DIR [overrides]\n"
	       "  --like glm-4.5|glm-4.5-air|glm-4.6|glm-4.7 (append -fp8 for the FP8 release layout)\n"
	       "  --out DIR              output directory (created)\n"
	       "  --layers N             num_hidden_layers\n"
	       "  --tiny                 tiny dims for tests (dim 64, 4 heads, 8 experts, ...)\n"
	       "  --dim N --heads N --kv-heads N --head-dim N --ffn N --moe-ffn N --experts N --experts-used N\n"
	       "  --shared-experts N --dense-layers N --n-group N --topk-group N --vocab N\n"
	       "  --qk-norm 0|1 --attention-bias 0|1 --norm-topk-prob 0|1 --routed-scaling X --tie 0|1\n"
	       "  --partial-rotary X --rope-theta X --eps X --max-pos N\n"
	       "  --dtype bf16|f16|f32   stored dtype (default bf16)\n"
	       "  --fp8 channel|block    FP8 weights with per-channel or 128x128 block scales\n"
	       "  --shards N             split into N shards with model.safetensors.index.json\n"
	       "  --mtp 0|1              include the MTP layer (default 1, as released)\n"
	       "  --tokenizer FILE       tokenizer.json to ship (default: a small built-in byte-level BPE)\n"
	       "  --chat-template FILE   chat_template.jinja to ship (default: the model family's)\n"
	       "  --std X                weight init std (default 0.02)\n"
	       "  --seed N               weight seed (default 0)\n");
}

int cli_synth(int argc, char **argv)
{
	const char *like = NULL, *out = NULL, *tok_path = NULL, *tmpl_path = NULL, *v;
	struct synth sy = {.dtype = DTYPE_BF16, .init_std = 0.02};
	int layers = -1, shards = 1, mtp = 1;
	bool tiny = false;
	/* overrides: -1 = keep preset */
	int o_dim = -1, o_heads = -1, o_kv = -1, o_hd = -1, o_ffn = -1, o_mffn = -1, o_exp = -1, o_used = -1, o_shared = -1,
	    o_dense = -1, o_group = -1, o_topkg = -1, o_vocab = -1, o_qk = -1, o_bias = -1, o_norm = -1, o_tie = -1,
	    o_maxpos = -1;
	double o_rsf = NAN, o_prf = NAN, o_theta = NAN, o_eps = NAN;
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) return usage(), 0;
		else if (cli_flag_value(argc, argv, &i, "--like", NULL, &like)) {}
		else if (cli_flag_value(argc, argv, &i, "--out", "-o", &out)) {}
		else if (cli_flag_value(argc, argv, &i, "--layers", NULL, &v)) layers = cli_parse_long("--layers", v);
		else if (cli_flag(argv, i, "--tiny")) tiny = true;
		else if (cli_flag_value(argc, argv, &i, "--dim", NULL, &v)) o_dim = cli_parse_long("--dim", v);
		else if (cli_flag_value(argc, argv, &i, "--heads", NULL, &v)) o_heads = cli_parse_long("--heads", v);
		else if (cli_flag_value(argc, argv, &i, "--kv-heads", NULL, &v)) o_kv = cli_parse_long("--kv-heads", v);
		else if (cli_flag_value(argc, argv, &i, "--head-dim", NULL, &v)) o_hd = cli_parse_long("--head-dim", v);
		else if (cli_flag_value(argc, argv, &i, "--ffn", NULL, &v)) o_ffn = cli_parse_long("--ffn", v);
		else if (cli_flag_value(argc, argv, &i, "--moe-ffn", NULL, &v)) o_mffn = cli_parse_long("--moe-ffn", v);
		else if (cli_flag_value(argc, argv, &i, "--experts", NULL, &v)) o_exp = cli_parse_long("--experts", v);
		else if (cli_flag_value(argc, argv, &i, "--experts-used", NULL, &v)) o_used = cli_parse_long("--experts-used", v);
		else if (cli_flag_value(argc, argv, &i, "--shared-experts", NULL, &v)) o_shared = cli_parse_long("--shared-experts", v);
		else if (cli_flag_value(argc, argv, &i, "--dense-layers", NULL, &v)) o_dense = cli_parse_long("--dense-layers", v);
		else if (cli_flag_value(argc, argv, &i, "--n-group", NULL, &v)) o_group = cli_parse_long("--n-group", v);
		else if (cli_flag_value(argc, argv, &i, "--topk-group", NULL, &v)) o_topkg = cli_parse_long("--topk-group", v);
		else if (cli_flag_value(argc, argv, &i, "--vocab", NULL, &v)) o_vocab = cli_parse_long("--vocab", v);
		else if (cli_flag_value(argc, argv, &i, "--qk-norm", NULL, &v)) o_qk = cli_parse_long("--qk-norm", v);
		else if (cli_flag_value(argc, argv, &i, "--attention-bias", NULL, &v)) o_bias = cli_parse_long("--attention-bias", v);
		else if (cli_flag_value(argc, argv, &i, "--norm-topk-prob", NULL, &v)) o_norm = cli_parse_long("--norm-topk-prob", v);
		else if (cli_flag_value(argc, argv, &i, "--tie", NULL, &v)) o_tie = cli_parse_long("--tie", v);
		else if (cli_flag_value(argc, argv, &i, "--max-pos", NULL, &v)) o_maxpos = cli_parse_long("--max-pos", v);
		else if (cli_flag_value(argc, argv, &i, "--routed-scaling", NULL, &v)) o_rsf = cli_parse_double("--routed-scaling", v);
		else if (cli_flag_value(argc, argv, &i, "--partial-rotary", NULL, &v)) o_prf = cli_parse_double("--partial-rotary", v);
		else if (cli_flag_value(argc, argv, &i, "--rope-theta", NULL, &v)) o_theta = cli_parse_double("--rope-theta", v);
		else if (cli_flag_value(argc, argv, &i, "--eps", NULL, &v)) o_eps = cli_parse_double("--eps", v);
		else if (cli_flag_value(argc, argv, &i, "--std", NULL, &v)) sy.init_std = cli_parse_double("--std", v);
		else if (cli_flag_value(argc, argv, &i, "--seed", NULL, &v)) sy.seed = (uint64_t)cli_parse_long("--seed", v);
		else if (cli_flag_value(argc, argv, &i, "--shards", NULL, &v)) shards = cli_parse_long("--shards", v);
		else if (cli_flag_value(argc, argv, &i, "--mtp", NULL, &v)) mtp = cli_parse_long("--mtp", v);
		else if (cli_flag_value(argc, argv, &i, "--tokenizer", NULL, &tok_path)) {}
		else if (cli_flag_value(argc, argv, &i, "--chat-template", NULL, &tmpl_path)) {}
		else if (cli_flag_value(argc, argv, &i, "--dtype", NULL, &v)) {
			if (!strcmp(v, "bf16")) sy.dtype = DTYPE_BF16;
			else if (!strcmp(v, "f16")) sy.dtype = DTYPE_F16;
			else if (!strcmp(v, "f32")) sy.dtype = DTYPE_F32;
			else cli_usage_error("synth", "--dtype must be bf16, f16 or f32, got '%s'", v);
		} else if (cli_flag_value(argc, argv, &i, "--fp8", NULL, &v)) {
			if (!strcmp(v, "channel")) sy.fp8 = QUANT_KIND_FP8_CHANNEL;
			else if (!strcmp(v, "block")) sy.fp8 = QUANT_KIND_FP8_BLOCK;
			else cli_usage_error("synth", "--fp8 must be channel or block, got '%s'", v);
		} else cli_usage_error("synth", "unknown flag '%s' (see --help)", argv[i]);
	}
	if (!like || !out) cli_usage_error("synth", "--like and --out are required (see --help)");
	char base[64];
	snprintf(base, sizeof base, "%s", like);
	if (ends_with(base, "-fp8")) {
		base[strlen(base) - 4] = 0;
		if (!sy.fp8) sy.fp8 = QUANT_KIND_FP8_CHANNEL; /* the GLM-4.x -FP8 releases (models.md §7a) */
	}
	const struct preset *p = NULL;
	for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
		if (!strcmp(presets[i].name, base)) p = &presets[i];
	if (!p) cli_usage_error("synth", "unknown --like '%s' (glm-4.5, glm-4.5-air, glm-4.6, glm-4.7, each with optional -fp8)", like);

	struct model_config *c = &sy.c;
	snprintf(c->model_type, sizeof c->model_type, "glm4_moe");
	c->dim = p->dim, c->n_layers = p->n_layers, c->n_heads = p->n_heads, c->n_kv_heads = p->n_kv_heads;
	c->head_dim = p->head_dim, c->ffn_dim = p->ffn_dim, c->moe_ffn_dim = p->moe_ffn_dim, c->n_experts = p->n_experts;
	c->n_experts_used = p->n_used, c->n_shared_experts = p->n_shared, c->first_k_dense_replace = p->first_dense;
	c->max_position_embeddings = p->max_pos, c->routed_scaling_factor = (float)p->rsf, c->use_qk_norm = p->qk_norm;
	c->n_group = c->topk_group = 1, c->norm_topk_prob = true, c->attention_bias = true, c->tie_word_embeddings = false;
	c->partial_rotary_factor = 0.5f, c->rope_theta = 1e6, c->rms_norm_eps = 1e-5f, c->vocab = 151552;
	sy.mtp_own_embed = p->mtp_own_embed;
	if (tiny) {
		c->dim = 64, c->n_heads = 4, c->n_kv_heads = 2, c->head_dim = 16, c->ffn_dim = 128, c->moe_ffn_dim = 32;
		c->n_experts = 8, c->n_experts_used = 2, c->n_layers = 2, c->vocab = 0; /* vocab: the tokenizer's */
		c->first_k_dense_replace = 1;
		c->max_position_embeddings = 4096;
	}
	if (layers > 0) c->n_layers = layers;
	if (o_dim > 0) c->dim = o_dim;
	if (o_heads > 0) c->n_heads = o_heads;
	if (o_kv > 0) c->n_kv_heads = o_kv;
	if (o_hd > 0) c->head_dim = o_hd;
	if (o_ffn > 0) c->ffn_dim = o_ffn;
	if (o_mffn > 0) c->moe_ffn_dim = o_mffn;
	if (o_exp > 0) c->n_experts = o_exp;
	if (o_used > 0) c->n_experts_used = o_used;
	if (o_shared >= 0) c->n_shared_experts = o_shared;
	if (o_dense >= 0) c->first_k_dense_replace = o_dense;
	if (o_group > 0) c->n_group = o_group;
	if (o_topkg > 0) c->topk_group = o_topkg;
	if (o_vocab > 0) c->vocab = o_vocab;
	if (o_qk >= 0) c->use_qk_norm = o_qk;
	if (o_bias >= 0) c->attention_bias = o_bias;
	if (o_norm >= 0) c->norm_topk_prob = o_norm;
	if (o_tie >= 0) c->tie_word_embeddings = o_tie;
	if (o_maxpos > 0) c->max_position_embeddings = o_maxpos;
	if (!isnan(o_rsf)) c->routed_scaling_factor = (float)o_rsf;
	if (!isnan(o_prf)) c->partial_rotary_factor = (float)o_prf;
	if (!isnan(o_theta)) c->rope_theta = o_theta;
	if (!isnan(o_eps)) c->rms_norm_eps = (float)o_eps;
	c->rot_dim = (int)(c->head_dim * c->partial_rotary_factor);
	c->n_nextn_layers = mtp ? 1 : 0;

	struct err e = {{0}};
	if (mkdir_p(out, &e)) goto fail;

	/* tokenizer first: the vocab and the stop ids come from it */
	struct buf tj;
	buf_init(&tj);
	if (tok_path) {
		if (file_read_all(tok_path, &tj, &e)) goto fail;
	} else tokenizer_write_builtin_json(&tj, 1024);
	struct tokenizer *tok = tokenizer_create_from_memory(tj.data, tj.len, &e);
	if (!tok) goto fail;
	int tv = tokenizer_vocab_size(tok);
	if (c->vocab <= 0) c->vocab = tv;
	if (c->vocab < tv) {
		err_set(&e, "--vocab %d is smaller than the tokenizer's %d tokens", c->vocab, tv);
		goto fail;
	}
	static const char *const stops[] = {"<|endoftext|>", "<|user|>", "<|observation|>"};
	for (int i = 0; i < 3; i++) {
		int32_t id = tokenizer_token_id(tok, stops[i]);
		if (id >= 0) c->eos_ids[c->n_eos++] = id;
	}
	c->pad_id = tokenizer_token_id(tok, "<|endoftext|>");
	tokenizer_destroy(tok);
	char *path = path_join(out, "tokenizer.json");
	int rc = file_write_all(path, tj.data, tj.len, &e);
	free(path);
	buf_free(&tj);
	if (rc) goto fail;

	/* tensors */
	sy.n_shards = shards < 1 ? 1 : shards;
	sy.writers = xcalloc(sy.n_shards, sizeof *sy.writers);
	for (int s = 0; s < sy.n_shards; s++) st_writer_init(&sy.writers[s]), sy.writers[s].fill = fill, sy.writers[s].fill_ctx = &sy;
	buf_init(&sy.index);
	const struct model_arch *arch = model_arch_find("glm4_moe");
	/* first pass sizes the shards evenly */
	{
		struct synth probe = sy;
		probe.n_shards = 1;
		struct st_writer pw;
		st_writer_init(&pw);
		probe.writers = &pw;
		buf_init(&probe.index);
		arch->tensor_specs(c, on_spec, &probe);
		sy.shard_target = st_writer_bytes(&pw) / sy.n_shards + 1;
		for (size_t i = 0; i < pw.n; i++) free(pw.names[i]);
		free(pw.names), free(pw.dtypes), free(pw.shapes), free(pw.ndims), free(pw.datas), free(pw.sizes);
		buf_free(&probe.index);
	}
	arch->tensor_specs(c, on_spec, &sy);
	size_t total = 0;
	double t0 = time_now();
	for (int s = 0; s < sy.n_shards; s++) {
		char fname[64];
		if (sy.n_shards == 1) snprintf(fname, sizeof fname, "model.safetensors");
		else snprintf(fname, sizeof fname, "model-%05d-of-%05d.safetensors", s + 1, sy.n_shards);
		char *fp = path_join(out, fname);
		sy.cur_shard = s;
		total += st_writer_bytes(&sy.writers[s]);
		rc = st_writer_write(&sy.writers[s], fp, &e);
		free(fp);
		if (rc) goto fail;
	}
	if (sy.n_shards > 1) {
		struct buf ix;
		buf_init(&ix);
		buf_printf(&ix, "{\n  \"metadata\": {\n    \"total_size\": %zu\n  },\n  \"weight_map\": {%s\n  }\n}\n", total, sy.index.data);
		char *ip = path_join(out, "model.safetensors.index.json");
		rc = file_write_all(ip, ix.data, ix.len, &e);
		free(ip);
		buf_free(&ix);
		if (rc) goto fail;
	}

	struct buf cfg;
	buf_init(&cfg);
	write_config(&sy, &cfg);
	path = path_join(out, "config.json");
	rc = file_write_all(path, cfg.data, cfg.len, &e);
	free(path);
	buf_clear(&cfg);
	buf_printf(&cfg, "{\n  \"_from_model_config\": true,\n  \"eos_token_id\": [");
	for (int i = 0; i < c->n_eos; i++) buf_printf(&cfg, "%s\n    %d", i ? "," : "", c->eos_ids[i]);
	buf_printf(&cfg, "\n  ],\n  \"pad_token_id\": %d,\n  \"temperature\": 1.0,\n  \"top_p\": 0.95,\n  \"transformers_version\": \"4.54.0\"\n}\n", c->pad_id);
	path = path_join(out, "generation_config.json");
	if (!rc) rc = file_write_all(path, cfg.data, cfg.len, &e);
	free(path);
	buf_clear(&cfg);
	buf_printf(&cfg, "{\n  \"clean_up_tokenization_spaces\": false,\n  \"do_lower_case\": false,\n"
	                 "  \"eos_token\": \"<|endoftext|>\",\n  \"pad_token\": \"<|endoftext|>\",\n"
	                 "  \"model_max_length\": %d,\n  \"padding_side\": \"left\",\n"
	                 "  \"remove_space\": false,\n  \"tokenizer_class\": \"PreTrainedTokenizerFast\"\n}\n",
	           c->max_position_embeddings);
	path = path_join(out, "tokenizer_config.json");
	if (!rc) rc = file_write_all(path, cfg.data, cfg.len, &e);
	free(path);
	buf_free(&cfg);
	if (rc) goto fail;

	/* the family's chat template (data/chat_templates/<family>/chat_template.jinja) */
	char deft[512];
	snprintf(deft, sizeof deft, "%s/chat_templates/%s/chat_template.jinja", GLM_DATA_DIR, p->template_family);
	const char *tp = tmpl_path ? tmpl_path : deft;
	if (file_exists(tp)) {
		struct buf t;
		buf_init(&t);
		char *dst = path_join(out, "chat_template.jinja");
		rc = file_read_all(tp, &t, &e) || file_write_all(dst, t.data, t.len, &e);
		free(dst);
		buf_free(&t);
		if (rc) goto fail;
	} else if (tmpl_path) {
		err_set(&e, "%s: no such chat template", tmpl_path);
		goto fail;
	}
	fprintf(stderr, "glm synth: wrote %s (%s%s, %d layers, %ld tensors, %.2f GB, %.1f s)\n", out, like,
	        sy.fp8 == QUANT_KIND_FP8_BLOCK ? " fp8-block" : sy.fp8 ? " fp8-channel" : "", c->n_layers, sy.n_tensors,
	        total / 1e9, time_now() - t0);
	for (int s = 0; s < sy.n_shards; s++) st_writer_free(&sy.writers[s]);
	free(sy.writers);
	buf_free(&sy.index);
	return 0;
fail:
	fprintf(stderr, "glm synth: %s\n", e.msg);
	return 1;
}
