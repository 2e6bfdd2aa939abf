/* cli_common.c — see cli_common.h. */
#include "cli/cli_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

const char cli_engine_help[] =
	"  --threads N            worker threads (default: all CPUs)\n"
	"  --backend cpu|ref      compute backend (ref = scalar oracle, slow)\n"
	"  --isa avx512|avx2|scalar  force a SIMD path (default: best available)\n"
	"  --bf16-activations     round activations to BF16 in matmuls (faster, less exact)\n"
	"  --max-model-len N      longest sequence (default: max_position_embeddings)\n"
	"  --kv-tokens N          KV cache capacity in tokens (default: max-model-len)\n"
	"  --kv-cache-memory SIZE KV cache budget in bytes instead (e.g. 8GiB, 512MiB, 2e9)\n"
	"  --max-batch-tokens N   tokens per forward, i.e. prefill chunk (default 512)\n";

const char cli_sampling_help[] =
	"  -n, --max-tokens N     tokens to generate (default 16)\n"
	"  --temperature X        0 = greedy (default 0 for run)\n"
	"  --top-k N  --top-p X  --min-p X\n"
	"  --repetition-penalty X  --presence-penalty X  --frequency-penalty X\n"
	"  --seed N               same seed + same input = same output\n"
	"  --ignore-eos           do not stop at the model's eos ids\n";

bool cli_engine_flag(int argc, char **argv, int *i, struct engine_config *c)
{
	const char *v;
	if (cli_flag_value(argc, argv, i, "--threads", "-t", &v)) c->n_threads = cli_parse_long("--threads", v);
	else if (cli_flag_value(argc, argv, i, "--backend", NULL, &v)) c->backend = v;
	else if (cli_flag_value(argc, argv, i, "--isa", NULL, &v)) c->isa = v;
	else if (cli_flag(argv, *i, "--bf16-activations")) c->bf16_activations = true;
	else if (cli_flag_value(argc, argv, i, "--max-model-len", NULL, &v)) c->max_model_len = cli_parse_long("--max-model-len", v);
	else if (cli_flag_value(argc, argv, i, "--kv-tokens", NULL, &v)) c->kv_tokens = cli_parse_long("--kv-tokens", v);
	else if (cli_flag_value(argc, argv, i, "--kv-cache-memory", NULL, &v)) c->kv_bytes = cli_parse_bytes("--kv-cache-memory", v);
	else if (cli_flag_value(argc, argv, i, "--block-size", NULL, &v)) c->block_size = cli_parse_long("--block-size", v);
	else if (cli_flag_value(argc, argv, i, "--max-batch-tokens", NULL, &v)) c->max_batch_tokens = cli_parse_long("--max-batch-tokens", v);
	else return false;
	return true;
}

bool cli_sampling_flag(int argc, char **argv, int *i, struct sampling_params *p)
{
	const char *v;
	if (cli_flag_value(argc, argv, i, "--max-tokens", "-n", &v)) p->max_tokens = cli_parse_long("--max-tokens", v);
	else if (cli_flag_value(argc, argv, i, "--temperature", NULL, &v)) p->temperature = cli_parse_double("--temperature", v);
	else if (cli_flag_value(argc, argv, i, "--top-k", NULL, &v)) p->top_k = cli_parse_long("--top-k", v);
	else if (cli_flag_value(argc, argv, i, "--top-p", NULL, &v)) p->top_p = cli_parse_double("--top-p", v);
	else if (cli_flag_value(argc, argv, i, "--min-p", NULL, &v)) p->min_p = cli_parse_double("--min-p", v);
	else if (cli_flag_value(argc, argv, i, "--repetition-penalty", NULL, &v)) p->repetition_penalty = cli_parse_double("--repetition-penalty", v);
	else if (cli_flag_value(argc, argv, i, "--presence-penalty", NULL, &v)) p->presence_penalty = cli_parse_double("--presence-penalty", v);
	else if (cli_flag_value(argc, argv, i, "--frequency-penalty", NULL, &v)) p->frequency_penalty = cli_parse_double("--frequency-penalty", v);
	else if (cli_flag_value(argc, argv, i, "--seed", NULL, &v)) p->seed = (uint64_t)cli_parse_long("--seed", v), p->has_seed = true;
	else if (cli_flag(argv, *i, "--ignore-eos")) p->ignore_eos = true;
	else return false;
	return true;
}

int64_t cli_parse_bytes(const char *flag, const char *s)
{
	char *end;
	double v = strtod(s, &end);
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {{"", 1}, {"B", 1}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0},
	             {"GiB", 1073741824.0}, {"K", 1024.0}, {"M", 1048576.0}, {"G", 1073741824.0}};
	for (size_t u = 0; end != s && u < sizeof units / sizeof units[0]; u++)
		if (!strcasecmp(end, units[u].suffix) && v * units[u].mult >= 1) return (int64_t)(v * units[u].mult);
	fprintf(stderr, "glm: %s expects a size such as 8GiB, 512MiB or 2000000000, got '%s'\n", flag, s);
	exit(2);
}

int32_t *cli_parse_ids(const char *flag, const char *s, int *n)
{
	int cap = 16;
	int32_t *ids = xmalloc(cap * sizeof *ids);
	*n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
			fprintf(stderr, "glm: %s expects comma-separated token ids, got '%s'\n", flag, s);
			exit(2);
		}
		if (*n == cap) cap *= 2, ids = xrealloc(ids, cap * sizeof *ids);
		ids[(*n)++] = (int32_t)v;
		p = *end ? end + 1 : end;
	}
	return ids;
}
