/* cli_run.c — `glm run`: one prompt through the engine, streamed to the terminal or reported
 * as one JSON object (--json) with per-token logprobs, for scripts and tests. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_common.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

#define TOP_N 5

static void usage(void)
{
	printf("usage: glm run --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [flags]\n"
	       "  --json                 print one JSON object with ids, text, logprobs, finish_reason\n"
	       "  --dump-logits FILE     write the raw float32 logits [steps][vocab] of every sampled step\n"
	       "  --stop-ids a,b         extra stop token ids\n%s%s",
	       cli_sampling_help, cli_engine_help);
}

static bool is_stop(const struct model_config *c, const struct sampling_params *p, int32_t t)
{
	for (int i = 0; i < p->n_stop_ids; i++)
		if (p->stop_ids[i] == t) return true;
	if (p->ignore_eos) return false;
	for (int i = 0; i < c->n_eos; i++)
		if (c->eos_ids[i] == t) return true;
	return false;
}

int cli_run(int argc, char **argv)
{
	const char *model_dir = NULL, *prompt = NULL, *prompt_ids = NULL, *dump = NULL, *stop_ids = NULL;
	bool json = false;
	struct engine_config ec;
	engine_config_default(&ec);
	struct sampling_params sp;
	sampling_params_default(&sp);
	sp.temperature = 0; /* greedy unless asked */
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) return usage(), 0;
		else if (cli_flag_value(argc, argv, &i, "--model", "-m", &model_dir)) {}
		else if (cli_flag_value(argc, argv, &i, "--prompt", "-p", &prompt)) {}
		else if (cli_flag_value(argc, argv, &i, "--prompt-ids", NULL, &prompt_ids)) {}
		else if (cli_flag_value(argc, argv, &i, "--dump-logits", NULL, &dump)) {}
		else if (cli_flag_value(argc, argv, &i, "--stop-ids", NULL, &stop_ids)) {}
		else if (cli_flag(argv, i, "--json")) json = true;
		else if (cli_engine_flag(argc, argv, &i, &ec) || cli_sampling_flag(argc, argv, &i, &sp)) {}
		else cli_usage_error("run", "unknown flag '%s' (see --help)", argv[i]);
	}
	if (!model_dir) cli_usage_error("run", "--model DIR is required");
	if (!prompt == !prompt_ids) cli_usage_error("run", "give exactly one of --prompt and --prompt-ids");
	int n_stop = 0;
	int32_t *stops = stop_ids ? cli_parse_ids("--stop-ids", stop_ids, &n_stop) : NULL;
	sp.stop_ids = stops, sp.n_stop_ids = n_stop;
	if (json && sp.n_logprobs < 0) sp.n_logprobs = TOP_N;

	struct err e = {{0}};
	struct model m;
	if (model_load(&m, model_dir, &e)) {
		fprintf(stderr, "glm run: %s\n", e.msg);
		return 1;
	}
	char *tp = path_join(model_dir, "tokenizer.json");
	struct tokenizer *tok = file_exists(tp) || prompt ? tokenizer_create(tp, &e) : NULL;
	free(tp);
	if (prompt && !tok) {
		fprintf(stderr, "glm run: %s\n", e.msg);
		model_close(&m);
		return 1;
	}
	int32_t *ids = NULL;
	int n_ids = 0;
	if (prompt) {
		size_t n;
		if (tokenizer_encode(tok, prompt, strlen(prompt), &ids, &n, &e)) {
			fprintf(stderr, "glm run: %s\n", e.msg);
			return 1;
		}
		n_ids = (int)n;
	} else ids = cli_parse_ids("--prompt-ids", prompt_ids, &n_ids);
	for (int i = 0; i < n_ids; i++)
		if (ids[i] >= m.cfg.vocab) {
			fprintf(stderr, "glm run: prompt token id %d is outside the vocabulary (%d)\n", ids[i], m.cfg.vocab);
			return 1;
		}
	if (n_ids == 0) {
		fprintf(stderr, "glm run: the prompt is empty\n");
		return 1;
	}
	if (ec.max_model_len <= 0) ec.max_model_len = m.cfg.max_position_embeddings;
	if (n_ids + sp.max_tokens > ec.max_model_len) {
		fprintf(stderr, "glm run: prompt (%d tokens) + max tokens (%d) exceeds the maximum model length %d\n", n_ids,
		        sp.max_tokens, ec.max_model_len);
		return 1;
	}
	if (ec.kv_tokens <= 0 && ec.kv_bytes <= 0) ec.kv_tokens = n_ids + sp.max_tokens;
	struct engine eng;
	if (engine_init(&eng, &m, &ec, &e)) {
		fprintf(stderr, "glm run: %s\n", e.msg);
		return 1;
	}
	FILE *df = dump ? fopen(dump, "wb") : NULL;
	if (dump && !df) {
		fprintf(stderr, "glm run: cannot write %s\n", dump);
		return 1;
	}

	struct sequence seq;
	sequence_init(&seq, ids, n_ids);
	struct sequence *sq = &seq;
	struct sampler smp;
	sampler_init(&smp, &sp, m.cfg.vocab, ids, n_ids);
	struct detok dt;
	if (tok) detok_init(&dt, tok, false);
	json_t *jtokens = json_array();
	struct buf piece;
	buf_init(&piece);
	const char *finish = "length";
	int V = m.cfg.vocab;
	for (int step = 0; step < sp.max_tokens; step++) {
		/* feed everything not yet cached, in chunks of max_batch_tokens */
		const float *lg = NULL;
		while (!lg) {
			int feed = eng.cfg.max_batch_tokens;
			if (engine_step(&eng, &sq, 1, &feed, &lg, &e)) {
				fprintf(stderr, "glm run: %s\n", e.msg);
				return 1;
			}
		}
		if (df) fwrite(lg, sizeof(float), V, df);
		int32_t t = sampler_sample(&smp, lg);
		sampler_accept(&smp, t);
		sequence_append(&seq, t);
		if (json) {
			float lse;
			json_t *jt = json_object();
			json_object_set_new(jt, "id", json_integer(t));
			buf_clear(&piece);
			if (tok) tokenizer_decode(tok, &t, 1, false, &piece);
			json_object_set_new(jt, "text", json_stringn(piece.data ? piece.data : "", piece.len));
			json_object_set_new(jt, "logprob", json_real(logits_logprob(lg, V, t, &lse)));
			int32_t top_ids[TOP_N];
			float top_lp[TOP_N];
			int k = sp.n_logprobs < TOP_N ? sp.n_logprobs : TOP_N;
			logits_top(lg, V, k, top_ids, top_lp);
			json_t *jtop = json_array();
			for (int j = 0; j < k; j++) json_array_append_new(jtop, json_pack("[if]", top_ids[j], (double)top_lp[j]));
			json_object_set_new(jt, "top", jtop);
			json_array_append_new(jtokens, jt);
		} else if (tok && !is_stop(&m.cfg, &sp, t)) {
			buf_clear(&piece);
			detok_feed(&dt, t, &piece);
			fwrite(piece.data, 1, piece.len, stdout);
			fflush(stdout);
		}
		if (is_stop(&m.cfg, &sp, t)) {
			finish = "stop";
			break;
		}
	}
	if (json) {
		json_t *jp = json_array();
		for (int i = 0; i < n_ids; i++) json_array_append_new(jp, json_integer(ids[i]));
		json_t *root = json_pack("{s:o,s:o,s:s}", "prompt_ids", jp, "tokens", jtokens, "finish_reason", finish);
		char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(9));
		printf("%s\n", s);
		free(s);
		json_decref(root);
	} else {
		if (tok) {
			buf_clear(&piece);
			detok_finish(&dt, &piece);
			fwrite(piece.data, 1, piece.len, stdout);
		}
		printf("\n");
		json_decref(jtokens);
	}
	if (df) fclose(df);
	if (tok) detok_free(&dt), tokenizer_destroy(tok);
	buf_free(&piece);
	sampler_free(&smp);
	sequence_free(&seq, &eng);
	engine_free(&eng);
	model_close(&m);
	free(ids);
	free(stops);
	return 0;
}
