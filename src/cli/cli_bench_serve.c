/* cli_bench_serve.c — `glm bench serve`: the serving benchmark of `vllm bench serve` (serving.md
 * §5.2) against any OpenAI-compatible server: vLLM's flag names, its random dataset built from the
 * target's own tokenizer (client/bench_dataset.h), Poisson/gamma arrivals, a concurrency limit,
 * streamed requests timed per chunk (client/oai_client.h), and vLLM's report and result keys
 * (client/bench_metrics.h).
 * Prompts are sent as text by default, as vLLM does: the server's own tokenization is part of what
 * is measured, chat endpoints need text anyway, and each text is made to re-encode to exactly its
 * drawn length with the tokenizer given here (then checked against the server's /tokenize, as
 * vLLM's _align_prompts_to_server_tokenizer does). --prompt-ids sends the same ids instead, for
 * completions servers whose tokenizer is not available locally.
 * Thread rules: single-threaded; all requests run on this thread through curl's multi interface. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_bench_cost.h"
#include "client/bench_dataset.h"
#include "client/bench_metrics.h"
#include "client/oai_client.h"
#include "tokenizer/tokenizer.h"

static const char help[] =
	"usage: glm bench serve [--base-url URL] [--model NAME] [--tokenizer DIR|FILE] [flags]\n"
	"Serving benchmark against an OpenAI-compatible server (ours, vLLM, SGLang); the report and\n"
	"the result keys are those of `vllm bench serve`.\n"
	"  --backend openai|vllm|openai-chat  completions (default) or chat completions\n"
	"  --base-url URL         server root, e.g. http://127.0.0.1:8000 (default http://HOST:PORT)\n"
	"  --host ADDR, --port N  used without --base-url (default 127.0.0.1, 8000)\n"
	"  --endpoint PATH        default /v1/completions (/v1/chat/completions with openai-chat)\n"
	"  --model NAME           model to ask for; default: the first of GET /v1/models\n"
	"  --served-model-name NAME  the `model` sent, when --model is a local path\n"
	"  --tokenizer DIR|FILE   checkpoint directory or tokenizer.json used to build the prompts\n"
	"                         (default: --model, or the `root` of /v1/models, if a local directory)\n"
	"  --dataset-name random  (the only dataset)\n"
	"  --random-input-len N   prompt tokens (default 1024); --input-len is an alias\n"
	"  --random-output-len N  max_tokens (default 128); --output-len is an alias\n"
	"  --random-range-ratio R lengths uniform in [floor(N(1-R)), ceil(N(1+R))] (default 0)\n"
	"  --random-prefix-len N  a random prefix shared by all prompts (default 0)\n"
	"  --num-prompts N        requests (default 1000)\n"
	"  --max-concurrency N    requests in flight at most (default: no limit)\n"
	"  --request-rate R       requests/s, Poisson arrivals (default inf: all at once)\n"
	"  --burstiness B         gamma-distributed gaps with shape B (default 1 = Poisson)\n"
	"  --seed N               random seed of the dataset and the arrivals (default 0)\n"
	"  --ignore-eos           send ignore_eos (always on for the random dataset, as in vLLM)\n"
	"  --temperature T, --top-p P, --top-k K, --min-p P, --frequency-penalty F,\n"
	"  --presence-penalty P, --repetition-penalty R   sampling fields (default: the server's)\n"
	"  --logprobs N           logprobs per token (completions)\n"
	"  --extra-body JSON      merged into every request body\n"
	"  --prompt-ids           send prompts as token ids instead of text (completions only)\n"
	"  --num-warmups N        requests run (and not measured) before the benchmark (default 0)\n"
	"  --percentile-metrics L which of ttft,tpot,itl,e2el get a latency block (default ttft,tpot,itl)\n"
	"  --metric-percentiles L percentiles to print, e.g. 50,90,99 (default 99)\n"
	"  --output-json FILE     write vLLM's result JSON (--save-result) to FILE\n"
	"  --save-detailed        add per-request arrays (input_lens, ttfts, itls, errors, ...) to it\n"
	"  --label NAME           the result's label\n"
	"  --disable-tqdm         no progress line on stderr\n"
	"  --request-timeout S    give up on a request after S seconds (default: never)\n"
	"The API key, if any, is read from OPENAI_API_KEY.\n";

struct opts {
	const char *backend, *base_url, *host, *endpoint, *model, *served_name, *tokenizer, *dataset;
	const char *extra_body, *output_json, *label, *pct_metrics, *metric_pcts;
	int port, num_prompts, max_concurrency, num_warmups;
	int input_len, output_len, prefix_len;
	double range_ratio, request_rate, burstiness, timeout_s;
	long long seed;
	bool prompt_ids, save_detailed, disable_progress, ignore_eos;
	json_t *sampling; /* temperature, top_p, ... as given */
	long logprobs;
};

/* ---- arrivals ---- */

/* Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 through the boost U^(1/shape). */
static double gamma_sample(struct rng *r, double shape)
{
	if (shape < 1) {
		double u = rng_uniform(r);
		return gamma_sample(r, shape + 1) * pow(u > 0 ? u : 1e-300, 1.0 / shape);
	}
	double d = shape - 1.0 / 3, c = 1 / sqrt(9 * d);
	for (;;) {
		double x = rng_normal(r), v = 1 + c * x;
		if (v <= 0) continue;
		v = v * v * v;
		double u = rng_uniform(r);
		if (u < 1 - 0.0331 * x * x * x * x) return d * v;
		if (u > 0 && log(u) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
	}
}

/* vLLM's get_request: cumulative gaps, gamma(burstiness, 1/(rate*burstiness)) each (exponential for
 * burstiness 1), rescaled so that the last arrival is at num_prompts/rate exactly. */
static void make_arrivals(double *t, int n, double rate, double burstiness, uint64_t seed)
{
	if (isinf(rate)) {
		for (int i = 0; i < n; i++) t[i] = 0;
		return;
	}
	struct rng r;
	rng_seed(&r, seed ^ 0x9e3779b97f4a7c15ull);
	double acc = 0;
	for (int i = 0; i < n; i++) {
		double d = isinf(burstiness) ? 1 / rate : gamma_sample(&r, burstiness) / (rate * burstiness);
		acc += d;
		t[i] = acc;
	}
	if (t[n - 1] > 0) {
		double f = (n / rate) / t[n - 1];
		for (int i = 0; i < n; i++) t[i] *= f;
	}
}

/* ---- payloads ---- */

static char *make_body(const struct opts *o, enum oai_api api, const char *model, const struct bench_prompt *p,
                       json_t *extra)
{
	json_t *b = json_object();
	json_object_set_new(b, "model", json_string(model)); /* the name was checked to be UTF-8 */
	if (api == OAI_API_COMPLETIONS) {
		if (o->prompt_ids) {
			json_t *ids = json_array();
			for (int k = 0; k < p->prompt_len; k++) json_array_append_new(ids, json_integer(p->ids[k]));
			json_object_set_new(b, "prompt", ids);
		} else json_object_set_new(b, "prompt", json_string(p->text));
		json_object_set_new(b, "repetition_penalty", json_real(1.0));
		json_object_set_new(b, "max_tokens", json_integer(p->output_len));
		if (o->logprobs >= 0) json_object_set_new(b, "logprobs", json_integer(o->logprobs));
	} else {
		json_t *msgs = json_pack("[{s:s, s:[{s:s, s:s}]}]", "role", "user", "content", "type", "text", "text", p->text);
		json_object_set_new(b, "messages", msgs);
		json_object_set_new(b, "max_completion_tokens", json_integer(p->output_len));
	}
	json_object_set_new(b, "stream", json_true());
	json_object_set_new(b, "stream_options", json_pack("{s:b}", "include_usage", 1));
	if (o->ignore_eos) json_object_set_new(b, "ignore_eos", json_true());
	json_object_update(b, o->sampling);
	if (extra) json_object_update(b, extra);
	char *s = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return s;
}

/* ---- the bandwidth ceiling ---- */

/* When the tokenizer came from a checkpoint directory with glm4_moe weights, prints (after the
 * report, whose lines stay vLLM's) how much faster than one stream B concurrent streams can
 * decode at equal memory bandwidth, and returns it; else returns 0 and prints nothing. Loading
 * maps the weights without reading them. Prefill is not in this bound: on a machine where it is
 * slow next to decoding, the measured ratio stays further below. */
static double print_ceiling(const char *dir, int B)
{
	char *cfg = path_join(dir, "config.json");
	bool have = B > 1 && access(cfg, R_OK) == 0;
	free(cfg);
	if (!have) return 0;
	struct model mdl;
	struct err e = {{0}};
	if (model_load(&mdl, dir, &e)) return 0;
	struct decode_cost dc;
	double ceiling = 0, uniq;
	if (!decode_cost_init(&dc, &mdl)) {
		ceiling = decode_cost_ceiling(&dc, &mdl.cfg, B);
		double step = decode_cost_step_bytes(&dc, &mdl.cfg, B, &uniq);
		printf("Bandwidth ceiling vs concurrency 1: %.2fx (decode steps of %d sequences read %.3g GB for ~%.0f of %d "
		       "experts per MoE layer, of one sequence %.3g GB; prefill not included)\n",
		       ceiling, B, step / 1e9, uniq, mdl.cfg.n_experts, dc.tok_bytes / 1e9);
	}
	model_close(&mdl);
	return ceiling;
}

/* ---- tokenizer ---- */

/* dir -> dir/tokenizer.json; an existing file -> itself; else NULL. */
static char *tokenizer_json_path(const char *p)
{
	struct stat st;
	if (!p || stat(p, &st) != 0) return NULL;
	if (S_ISDIR(st.st_mode)) {
		char *f = path_join(p, "tokenizer.json");
		if (file_exists(f)) return f;
		free(f);
		return NULL;
	}
	return xstrdup(p);
}

/* vLLM's _align_prompts_to_server_tokenizer: if the server's /tokenize disagrees with the length of
 * the first prompt, cut every prompt that is too long on the server's side to its drawn length. */
static void align_to_server(const struct opts *o, const char *base, const char *model, struct bench_prompt *ps, int n)
{
	char *tok_url = xmalloc(strlen(base) + 32), *detok_url = xmalloc(strlen(base) + 32);
	sprintf(tok_url, "%s/tokenize", base);
	sprintf(detok_url, "%s/detokenize", base);
	const char *key = getenv("OPENAI_API_KEY");
	int fixed = 0;
	for (int i = 0; i < n; i++) {
		json_t *req = json_pack("{s:s, s:s, s:b}", "model", model, "prompt", ps[i].text, "add_special_tokens", 0);
		char *body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		struct buf resp;
		buf_init(&resp);
		long st = 0;
		struct err e = {{0}};
		int rc = oai_http(tok_url, key, body, 60000, &st, &resp, &e);
		free(body);
		json_t *j = !rc && st == 200 ? json_loadb(resp.data, resp.len, 0, NULL) : NULL;
		buf_free(&resp);
		json_t *tokens = json_object_get(j, "tokens");
		if (!json_is_array(tokens)) {
			if (i == 0) printf("WARNING: /tokenize unavailable, skipping alignment.\n");
			json_decref(j);
			break;
		}
		size_t got = json_array_size(tokens);
		if (i == 0) {
			if ((int)got == ps[0].prompt_len) {
				json_decref(j);
				break;
			}
			printf("WARNING: tokenizer mismatch (server=%zu, expected=%d), re-aligning prompts.\n", got, ps[0].prompt_len);
		}
		if ((int)got > ps[i].prompt_len) {
			json_t *cut = json_array();
			for (int k = 0; k < ps[i].prompt_len; k++) json_array_append(cut, json_array_get(tokens, k));
			json_t *dreq = json_pack("{s:s, s:o}", "model", model, "tokens", cut);
			char *dbody = json_dumps(dreq, JSON_COMPACT);
			json_decref(dreq);
			buf_init(&resp);
			if (!oai_http(detok_url, key, dbody, 60000, &st, &resp, &e) && st == 200) {
				json_t *d = json_loadb(resp.data, resp.len, 0, NULL);
				const char *txt = json_string_value(json_object_get(d, "prompt"));
				if (txt) free(ps[i].text), ps[i].text = xstrdup(txt), fixed++;
				json_decref(d);
			}
			free(dbody);
			buf_free(&resp);
		}
		json_decref(j);
	}
	if (fixed) printf("Re-aligned %d prompts to the server's tokenizer.\n", fixed);
	free(tok_url);
	free(detok_url);
}

/* ---- progress ---- */

static void progress(void *ctx, int done, int failed, int total, double elapsed)
{
	const char *what = ctx;
	fprintf(stderr, "\r%s: %d/%d requests done", what, done, total);
	if (failed) fprintf(stderr, ", %d failed", failed);
	fprintf(stderr, ", %.1f s  ", elapsed);
	if (done == total) fputc('\n', stderr);
	fflush(stderr);
}

/* ---- flags ---- */

static double parse_rate(const char *flag, const char *v)
{
	if (!strcmp(v, "inf") || !strcmp(v, "Inf") || !strcmp(v, "infinity")) return INFINITY;
	double r = cli_parse_double(flag, v);
	if (!(r > 0)) cli_usage_error("bench serve", "%s must be positive or inf, got %s", flag, v);
	return r;
}

static void parse_flags(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->backend = "openai", o->host = "127.0.0.1", o->port = 8000, o->dataset = "random";
	o->num_prompts = 1000, o->input_len = 1024, o->output_len = 128;
	o->request_rate = INFINITY, o->burstiness = 1.0;
	o->pct_metrics = "ttft,tpot,itl", o->metric_pcts = "99";
	o->sampling = json_object();
	o->logprobs = -1;
	const char *v;
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
			fputs(help, stdout);
			exit(0);
		}
		if (cli_flag_value(argc, argv, &i, "--backend", NULL, &o->backend) ||
		    cli_flag_value(argc, argv, &i, "--base-url", NULL, &o->base_url) ||
		    cli_flag_value(argc, argv, &i, "--host", NULL, &o->host) ||
		    cli_flag_value(argc, argv, &i, "--endpoint", NULL, &o->endpoint) ||
		    cli_flag_value(argc, argv, &i, "--model", NULL, &o->model) ||
		    cli_flag_value(argc, argv, &i, "--served-model-name", NULL, &o->served_name) ||
		    cli_flag_value(argc, argv, &i, "--tokenizer", NULL, &o->tokenizer) ||
		    cli_flag_value(argc, argv, &i, "--dataset-name", NULL, &o->dataset) ||
		    cli_flag_value(argc, argv, &i, "--extra-body", NULL, &o->extra_body) ||
		    cli_flag_value(argc, argv, &i, "--output-json", NULL, &o->output_json) ||
		    cli_flag_value(argc, argv, &i, "--label", NULL, &o->label) ||
		    cli_flag_value(argc, argv, &i, "--percentile-metrics", NULL, &o->pct_metrics) ||
		    cli_flag_value(argc, argv, &i, "--metric-percentiles", NULL, &o->metric_pcts))
			continue;
		if (cli_flag_value(argc, argv, &i, "--port", NULL, &v)) o->port = (int)cli_parse_long("--port", v);
		else if (cli_flag_value(argc, argv, &i, "--num-prompts", NULL, &v)) o->num_prompts = (int)cli_parse_long("--num-prompts", v);
		else if (cli_flag_value(argc, argv, &i, "--max-concurrency", NULL, &v)) {
			o->max_concurrency = (int)cli_parse_long("--max-concurrency", v);
			if (o->max_concurrency <= 0) cli_usage_error("bench serve", "--max-concurrency must be greater than 0");
		} else if (cli_flag_value(argc, argv, &i, "--num-warmups", NULL, &v)) o->num_warmups = (int)cli_parse_long("--num-warmups", v);
		else if (cli_flag_value(argc, argv, &i, "--random-input-len", "--input-len", &v)) o->input_len = (int)cli_parse_long("--random-input-len", v);
		else if (cli_flag_value(argc, argv, &i, "--random-output-len", "--output-len", &v)) o->output_len = (int)cli_parse_long("--random-output-len", v);
		else if (cli_flag_value(argc, argv, &i, "--random-prefix-len", NULL, &v)) o->prefix_len = (int)cli_parse_long("--random-prefix-len", v);
		else if (cli_flag_value(argc, argv, &i, "--random-range-ratio", NULL, &v)) o->range_ratio = cli_parse_double("--random-range-ratio", v);
		else if (cli_flag_value(argc, argv, &i, "--request-rate", NULL, &v)) o->request_rate = parse_rate("--request-rate", v);
		else if (cli_flag_value(argc, argv, &i, "--burstiness", NULL, &v)) o->burstiness = parse_rate("--burstiness", v);
		else if (cli_flag_value(argc, argv, &i, "--seed", NULL, &v)) o->seed = cli_parse_long("--seed", v);
		else if (cli_flag_value(argc, argv, &i, "--request-timeout", NULL, &v)) o->timeout_s = cli_parse_double("--request-timeout", v);
		else if (cli_flag_value(argc, argv, &i, "--logprobs", NULL, &v)) o->logprobs = cli_parse_long("--logprobs", v);
		else if (cli_flag_value(argc, argv, &i, "--temperature", NULL, &v)) json_object_set_new(o->sampling, "temperature", json_real(cli_parse_double("--temperature", v)));
		else if (cli_flag_value(argc, argv, &i, "--top-p", NULL, &v)) json_object_set_new(o->sampling, "top_p", json_real(cli_parse_double("--top-p", v)));
		else if (cli_flag_value(argc, argv, &i, "--top-k", NULL, &v)) json_object_set_new(o->sampling, "top_k", json_integer(cli_parse_long("--top-k", v)));
		else if (cli_flag_value(argc, argv, &i, "--min-p", NULL, &v)) json_object_set_new(o->sampling, "min_p", json_real(cli_parse_double("--min-p", v)));
		else if (cli_flag_value(argc, argv, &i, "--frequency-penalty", NULL, &v)) json_object_set_new(o->sampling, "frequency_penalty", json_real(cli_parse_double("--frequency-penalty", v)));
		else if (cli_flag_value(argc, argv, &i, "--presence-penalty", NULL, &v)) json_object_set_new(o->sampling, "presence_penalty", json_real(cli_parse_double("--presence-penalty", v)));
		else if (cli_flag_value(argc, argv, &i, "--repetition-penalty", NULL, &v)) json_object_set_new(o->sampling, "repetition_penalty", json_real(cli_parse_double("--repetition-penalty", v)));
		else if (cli_flag(argv, i, "--ignore-eos")) o->ignore_eos = true;
		else if (cli_flag(argv, i, "--prompt-ids")) o->prompt_ids = true;
		else if (cli_flag(argv, i, "--save-detailed")) o->save_detailed = true;
		else if (cli_flag(argv, i, "--disable-tqdm")) o->disable_progress = true;
		else cli_usage_error("bench serve", "unknown flag '%s' (see glm bench serve --help)", argv[i]);
	}
	if (strcmp(o->dataset, "random")) cli_usage_error("bench serve", "--dataset-name %s: only 'random' is supported", o->dataset);
	if (o->num_prompts <= 0) cli_usage_error("bench serve", "--num-prompts must be positive");
	if (o->output_len < 0 || o->input_len < 0 || o->prefix_len < 0) cli_usage_error("bench serve", "lengths must not be negative");
	if (o->num_warmups < 0) cli_usage_error("bench serve", "--num-warmups must not be negative");
	/* vLLM (2026) sets ignore_eos for the random dataset so that outputs run to their drawn length */
	o->ignore_eos = true;
}

int cli_bench_serve(int argc, char **argv)
{
	struct opts o;
	parse_flags(argc, argv, &o);
	enum oai_api api;
	if (!strcmp(o.backend, "openai") || !strcmp(o.backend, "vllm")) api = OAI_API_COMPLETIONS;
	else if (!strcmp(o.backend, "openai-chat")) api = OAI_API_CHAT;
	else cli_usage_error("bench serve", "--backend %s: expected openai, vllm or openai-chat", o.backend);
	if (o.prompt_ids && api != OAI_API_COMPLETIONS) cli_usage_error("bench serve", "--prompt-ids needs a completions backend");
	const char *endpoint = o.endpoint ? o.endpoint : api == OAI_API_CHAT ? "/v1/chat/completions" : "/v1/completions";
	int sel = bench_metric_sel_parse(o.pct_metrics);
	if (sel < 0) cli_usage_error("bench serve", "--percentile-metrics: expected names among ttft,tpot,itl,e2el, got '%s'", o.pct_metrics);
	double pcts[BENCH_MAX_PCT];
	int n_pct = 0;
	for (const char *p = o.metric_pcts; *p;) {
		char *end;
		double v = strtod(p, &end);
		if (end == p || v < 0 || v > 100 || n_pct == BENCH_MAX_PCT)
			cli_usage_error("bench serve", "--metric-percentiles: expected up to %d numbers in [0, 100], got '%s'", BENCH_MAX_PCT, o.metric_pcts);
		pcts[n_pct++] = v;
		p = end;
		if (*p == ',') p++;
		else if (*p) cli_usage_error("bench serve", "--metric-percentiles: bad list '%s'", o.metric_pcts);
	}
	json_t *extra = NULL;
	if (o.extra_body) {
		json_error_t je;
		extra = json_loads(o.extra_body, 0, &je);
		if (!json_is_object(extra)) cli_usage_error("bench serve", "--extra-body must be a JSON object: %s", je.text);
	}

	oai_global_init();
	char base[2048];
	if (o.base_url) snprintf(base, sizeof base, "%s", o.base_url);
	else snprintf(base, sizeof base, "http://%s:%d", o.host, o.port);
	for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--) base[n - 1] = '\0';
	char *url = xmalloc(strlen(base) + strlen(endpoint) + 1);
	sprintf(url, "%s%s", base, endpoint);
	const char *api_key = getenv("OPENAI_API_KEY");

	/* model: as given, or the server's first */
	char *model_id = NULL, *model_name = NULL;
	struct err e = {{0}};
	if (!o.model) {
		printf("Model not specified, fetching first model from server...\n");
		char *id, *root;
		if (oai_first_model(base, api_key, &id, &root, &e)) {
			fprintf(stderr, "glm bench serve: %s\n", e.msg);
			return 1;
		}
		model_name = id;
		model_id = root ? root : xstrdup(id);
		printf("First model name: %s, first model id: %s\n", model_name, model_id);
	} else {
		model_id = xstrdup(o.model);
		model_name = xstrdup(o.served_name ? o.served_name : o.model);
	}

	json_t *name_check = json_string(model_name);
	if (!name_check) cli_usage_error("bench serve", "the model name is not valid UTF-8");
	json_decref(name_check);

	/* tokenizer and prompts */
	const char *tok_src = o.tokenizer ? o.tokenizer : model_id;
	char *tok_path = tokenizer_json_path(tok_src);
	if (!tok_path) {
		fprintf(stderr,
		        "glm bench serve: prompts are built from the target's tokenizer, which must be local: give --tokenizer "
		        "DIR|tokenizer.json (or --model pointing at a checkpoint directory); '%s' is neither\n",
		        tok_src);
		return 1;
	}
	struct tokenizer *tok = tokenizer_create(tok_path, &e);
	struct bench_vocab vocab;
	if (!tok || bench_vocab_load(tok, tok_path, &vocab, &e)) {
		fprintf(stderr, "glm bench serve: %s\n", e.msg);
		return 1;
	}
	struct bench_random_opts ro = {.num_prompts = o.num_prompts, .input_len = o.input_len, .output_len = o.output_len,
	                               .prefix_len = o.prefix_len, .range_ratio = o.range_ratio, .seed = (uint64_t)o.seed,
	                               .max_retry = 10};
	struct bench_prompt *ps;
	long mismatch;
	if (bench_dataset_random(tok, &vocab, &ro, &ps, &mismatch, &e)) {
		fprintf(stderr, "glm bench serve: %s\n", e.msg);
		return 1;
	}
	if (mismatch)
		printf("WARNING: across all generated prompts, there were %ld %s tokens than expected after decoding and "
		       "re-encoding.\n",
		       labs(mismatch), mismatch > 0 ? "more" : "fewer");
	if (!o.prompt_ids) align_to_server(&o, base, model_name, ps, o.num_prompts);
	if (!json_object_get(o.sampling, "temperature"))
		printf("WARNING: vllm bench serve no longer sets temperature==0 (greedy) in requests by default. The default "
		       "will be determined on the server side and can be model/API specific. For the old behavior, include "
		       "--temperature=0.\n");

	bool show_progress = !o.disable_progress && isatty(2);
	struct oai_run run = {.url = url, .api_key = api_key, .api = api, .stream = true,
	                      .max_concurrency = o.max_concurrency, .timeout_ms = (long)(o.timeout_s * 1000)};
	if (o.num_warmups > 0) {
		printf("Warming up with %d requests...\n", o.num_warmups);
		struct oai_request *w = xcalloc((size_t)o.num_warmups, sizeof *w);
		for (int i = 0; i < o.num_warmups; i++) oai_request_init(&w[i], make_body(&o, api, model_name, &ps[0], extra), 0);
		run.progress = show_progress ? progress : NULL, run.progress_ctx = "warmup";
		if (oai_run_requests(&run, w, o.num_warmups, &e)) {
			fprintf(stderr, "glm bench serve: %s\n", e.msg);
			return 1;
		}
		for (int i = 0; i < o.num_warmups; i++) oai_request_free(&w[i]);
		free(w);
		printf("Warmup run completed.\n");
	}

	printf("Starting main benchmark run...\n");
	char rate_s[64], burst_s[64];
	py_float_str(o.request_rate, rate_s, sizeof rate_s);
	py_float_str(o.burstiness, burst_s, sizeof burst_s);
	printf("Traffic request rate: %s\n", rate_s);
	printf("Burstiness factor: %s (%s)\n", burst_s, o.burstiness == 1.0 ? "Poisson process" : "Gamma distribution");
	if (o.max_concurrency > 0) printf("Maximum request concurrency: %d\n", o.max_concurrency);
	else printf("Maximum request concurrency: None\n");
	fflush(stdout);

	int n = o.num_prompts;
	double *arrival = xmalloc(n * sizeof *arrival);
	make_arrivals(arrival, n, o.request_rate, o.burstiness, (uint64_t)o.seed);
	struct oai_request *reqs = xcalloc((size_t)n, sizeof *reqs);
	for (int i = 0; i < n; i++) oai_request_init(&reqs[i], make_body(&o, api, model_name, &ps[i], extra), arrival[i]);
	run.progress = show_progress ? progress : NULL, run.progress_ctx = "benchmark";
	if (oai_run_requests(&run, reqs, n, &e)) {
		fprintf(stderr, "glm bench serve: %s\n", e.msg);
		return 1;
	}

	/* per-request lengths as vLLM counts them */
	struct bench_result *res = xcalloc((size_t)n, sizeof *res);
	long *out_lens = xcalloc((size_t)n, sizeof *out_lens);
	int n_failed = 0;
	for (int i = 0; i < n; i++) {
		struct oai_request *r = &reqs[i];
		res[i] = (struct bench_result){.success = r->success, .start_time = r->start_time, .ttft = r->ttft,
		                               .latency = r->latency, .itl = r->itl, .n_itl = r->n_itl,
		                               .prompt_len = r->prompt_tokens >= 0 ? r->prompt_tokens : ps[i].prompt_len};
		if (!r->success) {
			n_failed++;
			continue;
		}
		long ol = r->completion_tokens > 0 ? r->completion_tokens : 0;
		if (!ol) {
			int32_t *ids = NULL;
			size_t n_ids = 0;
			if (!tokenizer_encode(tok, r->text.data ? r->text.data : "", r->text.len, &ids, &n_ids, &e)) ol = (long)n_ids;
			free(ids);
		}
		res[i].output_len = out_lens[i] = ol;
	}
	if (n_failed) {
		printf("Failed requests during benchmark run detected (capping to 10):\n");
		for (int i = 0, k = 0; i < n && k < 10; i++)
			if (!reqs[i].success) printf("Error %d: %s\n", k++, reqs[i].error ? reqs[i].error : "(unknown)");
	}
	struct bench_metrics m;
	bench_metrics_compute(res, n, run.duration, pcts, n_pct, &m);
	bench_metrics_print(stdout, &m, o.max_concurrency, o.request_rate, sel);
	double ceiling = print_ceiling(tok_src, o.max_concurrency > 0 && o.max_concurrency < n ? o.max_concurrency : n);
	fflush(stdout);

	int rc = 0;
	if (o.output_json) {
		json_t *j = json_object();
		char date[32];
		time_t now = time(NULL);
		strftime(date, sizeof date, "%Y%m%d-%H%M%S", localtime(&now));
		json_object_set_new(j, "date", json_string(date));
		json_object_set_new(j, "endpoint_type", json_string(o.backend));
		json_object_set_new(j, "backend", json_string(o.backend));
		json_object_set_new(j, "label", o.label ? json_string(o.label) : json_null());
		json_object_set_new(j, "model_id", json_string(model_id));
		json_object_set_new(j, "tokenizer_id", json_string(tok_src));
		json_object_set_new(j, "num_prompts", json_integer(n));
		json_object_set_new(j, "request_rate", isinf(o.request_rate) ? json_string("inf") : json_real(o.request_rate));
		json_object_set_new(j, "burstiness", json_real(o.burstiness));
		json_object_set_new(j, "max_concurrency", o.max_concurrency > 0 ? json_integer(o.max_concurrency) : json_null());
		bench_metrics_json(j, &m, sel);
		if (ceiling > 0) json_object_set_new(j, "bandwidth_ceiling", json_real(ceiling));
		json_t *lat = json_array(), *qt = json_array();
		for (int i = 0; i < n; i++) {
			json_array_append_new(lat, json_real(reqs[i].latency));
			json_array_append_new(qt, json_real(reqs[i].start_time - reqs[i].arrival));
		}
		json_object_set_new(j, "latencies", lat);
		json_object_set_new(j, "queue_times", qt);
		if (o.save_detailed) {
			json_t *il = json_array(), *ol = json_array(), *tt = json_array(), *it = json_array(), *st = json_array();
			json_t *gt = json_array(), *er = json_array();
			for (int i = 0; i < n; i++) {
				json_array_append_new(il, json_integer(res[i].prompt_len));
				json_array_append_new(ol, json_integer(out_lens[i]));
				json_array_append_new(tt, json_real(reqs[i].ttft));
				json_t *one = json_array();
				for (size_t k = 0; k < reqs[i].n_itl; k++) json_array_append_new(one, json_real(reqs[i].itl[k]));
				json_array_append_new(it, one);
				json_array_append_new(st, json_real(reqs[i].start_time));
				json_array_append_new(gt, json_stringn(reqs[i].text.data ? reqs[i].text.data : "", reqs[i].text.len));
				json_array_append_new(er, json_string(reqs[i].error ? reqs[i].error : ""));
			}
			json_object_set_new(j, "input_lens", il);
			json_object_set_new(j, "output_lens", ol);
			json_object_set_new(j, "ttfts", tt);
			json_object_set_new(j, "itls", it);
			json_object_set_new(j, "start_times", st);
			json_object_set_new(j, "generated_texts", gt);
			json_object_set_new(j, "errors", er);
		}
		if (json_dump_file(j, o.output_json, JSON_INDENT(0) | JSON_COMPACT)) {
			fprintf(stderr, "glm bench serve: cannot write %s\n", o.output_json);
			rc = 1;
		}
		json_decref(j);
	}

	for (int i = 0; i < n; i++) oai_request_free(&reqs[i]);
	free(reqs), free(res), free(out_lens), free(arrival), free(url), free(tok_path);
	free(model_id), free(model_name);
	bench_prompts_free(ps, n);
	bench_vocab_free(&vocab);
	tokenizer_destroy(tok);
	json_decref(extra);
	json_decref(o.sampling);
	return rc;
}
