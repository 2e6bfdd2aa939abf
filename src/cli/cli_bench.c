/* cli_bench.c — `glm bench model`: single-stream prefill and decode speed of a checkpoint on
 * this machine, reported against the machine's limits (design.md §7): decode as achieved GB/s
 * of weights touched per token against the measured read bandwidth, prefill as GFLOP/s.
 * (`glm bench serve`, the serving benchmark, comes with the server.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "cli/cli.h"
#include "cli/cli_bench_cost.h"
#include "cli/cli_common.h"
#include "engine/engine.h"
#include "model/model.h"

static int bench_model(int argc, char **argv)
{
	const char *dir = NULL, *v;
	int prompt_len = 512, gen = 32, reps = 1, decode_batch = 0;
	struct engine_config ec;
	engine_config_default(&ec);
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help")) {
			printf("usage: glm bench model --model DIR [--prompt-len 512] [--gen 32] [--reps 1] [--decode-batch B]\n"
			       "  --decode-batch B       also decode B sequences together and compare with the bandwidth ceiling\n%s",
			       cli_engine_help);
			return 0;
		} else if (cli_flag_value(argc, argv, &i, "--model", "-m", &dir)) {}
		else if (cli_flag_value(argc, argv, &i, "--prompt-len", NULL, &v)) prompt_len = cli_parse_long("--prompt-len", v);
		else if (cli_flag_value(argc, argv, &i, "--gen", NULL, &v)) gen = cli_parse_long("--gen", v);
		else if (cli_flag_value(argc, argv, &i, "--reps", NULL, &v)) reps = cli_parse_long("--reps", v);
		else if (cli_flag_value(argc, argv, &i, "--decode-batch", NULL, &v)) decode_batch = cli_parse_long("--decode-batch", v);
		else if (cli_engine_flag(argc, argv, &i, &ec)) {}
		else cli_usage_error("bench model", "unknown flag '%s'", argv[i]);
	}
	if (!dir) cli_usage_error("bench model", "--model DIR is required");
	struct model m;
	struct err e = {{0}};
	if (model_load(&m, dir, &e)) {
		fprintf(stderr, "glm bench: %s\n", e.msg);
		return 1;
	}
	if (ec.max_batch_tokens < prompt_len) ec.max_batch_tokens = prompt_len;
	ec.kv_tokens = (int64_t)(prompt_len + gen) * reps + (int64_t)decode_batch * (64 + gen + 16) + 64;
	if (ec.max_model_len <= 0) ec.max_model_len = prompt_len + gen + 1;
	struct engine eng;
	if (engine_init(&eng, &m, &ec, &e)) {
		fprintf(stderr, "glm bench: %s\n", e.msg);
		return 1;
	}
	const struct model_config *c = &m.cfg;
	printf("model: %s (%s, %d layers, dim %d, %d experts/%d used)\n", dir, c->model_type, c->n_layers, c->dim,
	       c->n_experts, c->n_experts_used);
	printf("backend: %s, %d threads%s\n", eng.be->ops->name, eng.be->n_threads,
	       ec.bf16_activations ? ", BF16 activations" : ", fp32 activations");
		double bw = cpu_measure_read_bandwidth(eng.be, (size_t)1 << 30);
	printf("measured read bandwidth: %.1f GB/s (%d threads, 1 GiB streaming read)\n", bw, eng.be->n_threads);

	struct decode_cost dc;
	if (decode_cost_init(&dc, &m)) {
		fprintf(stderr, "glm bench: %s: not the glm4_moe tensor layout this benchmark costs\n", dir);
		return 1;
	}
	double tok_bytes = dc.tok_bytes, tok_params = dc.tok_params;
	double best_prefill = 1e30, best_decode = 1e30;
	struct rng r;
	rng_seed(&r, 1);
	for (int rep = 0; rep < reps; rep++) {
		int32_t *ids = xmalloc(prompt_len * sizeof *ids);
		for (int i = 0; i < prompt_len; i++) ids[i] = (int32_t)(rng_next(&r) % (uint64_t)c->vocab);
		struct sequence s, *sp = &s;
		sequence_init(&s, ids, prompt_len);
		const float *lg = NULL;
		double t0 = time_now();
		if (engine_step(&eng, &sp, 1, &prompt_len, &lg, &e)) {
			fprintf(stderr, "glm bench: %s\n", e.msg);
			return 1;
		}
		double tp = time_now() - t0;
		double t1 = time_now();
		for (int g = 0; g < gen; g++) {
			int one = 1;
			sequence_append(&s, logits_argmax(lg, c->vocab));
			if (engine_step(&eng, &sp, 1, &one, &lg, &e)) {
				fprintf(stderr, "glm bench: %s\n", e.msg);
				return 1;
			}
		}
		double td = time_now() - t1;
		if (tp < best_prefill) best_prefill = tp;
		if (td < best_decode) best_decode = td;
		sequence_free(&s, &eng);
		free(ids);
	}
	/* prefill FLOPs: 2 per weight per token (lm_head only for the last token) + attention */
	double lm = (double)c->vocab * c->dim;
	double attn = 0;
	for (int i = 0; i < prompt_len; i++) attn += 4.0 * c->n_heads * c->head_dim * (i + 1);
	double flops = 2.0 * (tok_params - lm) * prompt_len + 2.0 * lm + attn * c->n_layers;
	printf("prefill: %d tokens in %.3f s = %.1f tokens/s, %.1f GFLOP/s\n", prompt_len, best_prefill,
	       prompt_len / best_prefill, flops / best_prefill / 1e9);
	double dtps = gen / best_decode;
	double kv = (double)(prompt_len + gen / 2) * c->n_kv_heads * c->head_dim * 2 * 4 * c->n_layers;
	double per_tok = tok_bytes + kv;
	printf("decode: %d tokens in %.3f s = %.2f tokens/s\n", gen, best_decode, dtps);
	printf("decode bytes touched per token: %.3f GB (weights %.3f GB + KV %.4f GB)\n", per_tok / 1e9, tok_bytes / 1e9,
	       kv / 1e9);
	printf("decode achieved: %.1f GB/s = %.0f%% of measured read bandwidth\n", per_tok * dtps / 1e9,
	       100.0 * per_tok * dtps / 1e9 / bw);
	if (decode_batch > 1) {
		/* B sequences with 64-token prompts (prefilled untimed), then `gen` steps decoding all B,
		 * against the bandwidth ceiling of cli_bench_cost.h. */
		int B = decode_batch, P = 64;
		struct sequence *seqs = xcalloc(B, sizeof *seqs), **sp = xcalloc(B, sizeof *sp);
		int *feed = xcalloc(B, sizeof *feed);
		const float **lg = xcalloc(B, sizeof *lg);
		for (int b = 0; b < B; b++) {
			int32_t ids[64];
			for (int i = 0; i < P; i++) ids[i] = (int32_t)(rng_next(&r) % (uint64_t)c->vocab);
			sequence_init(&seqs[b], ids, P);
			sp[b] = &seqs[b];
			feed[b] = P;
		}
		if (engine_step(&eng, sp, B, feed, lg, &e)) {
			fprintf(stderr, "glm bench: %s\n", e.msg);
			return 1;
		}
		double t2 = time_now();
		for (int g = 0; g < gen; g++) {
			for (int b = 0; b < B; b++) sequence_append(&seqs[b], logits_argmax(lg[b], c->vocab)), feed[b] = 1;
			if (engine_step(&eng, sp, B, feed, lg, &e)) {
				fprintf(stderr, "glm bench: %s\n", e.msg);
				return 1;
			}
		}
		double tb = time_now() - t2;
		double uniq, step_bytes = decode_cost_step_bytes(&dc, c, B, &uniq);
		double ceiling = decode_cost_ceiling(&dc, c, B);
		double btps = (double)B * gen / tb;
		printf("decode batch %d: %d steps in %.3f s = %.2f tokens/s = %.2fx single-stream "
		       "(bandwidth ceiling %.2fx: a step reads %.2f GB for ~%.0f distinct experts per MoE layer)\n",
		       B, gen, tb, btps, btps / dtps, ceiling, step_bytes / 1e9, uniq);
		for (int b = 0; b < B; b++) sequence_free(&seqs[b], &eng);
		free(seqs), free(sp), free(feed), free(lg);
	}
	engine_free(&eng);
	model_close(&m);
	return 0;
}

int cli_bench(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "model")) return bench_model(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "serve")) return cli_bench_serve(argc - 1, argv + 1);
	fprintf(stderr, "usage: glm bench model --model DIR [flags]     single-stream model speed\n"
	                "       glm bench serve --base-url URL [flags]  serving benchmark (like vllm bench serve)\n");
	return 2;
}
