/* cli_eval.c — `glm eval gsm8k`: SGLang's few-shot GSM8K smoke test (serving.md §6.1,
 * sglang/test/few_shot_gsm8k.py) against any OpenAI-compatible server. SGLang sends the prompt to
 * its native /generate; here the same plain-text prompt (no chat template), temperature 0,
 * max tokens and stop strings go to /v1/completions, which every OpenAI-compatible server has.
 * Prints SGLang's four lines (Accuracy, Invalid, Latency, Output throughput). A request that fails
 * counts as an invalid answer, is reported, and makes the exit status 1.
 * Thread rules: single-threaded; --parallel requests run on this thread through curl's multi
 * interface. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "client/gsm8k.h"
#include "client/oai_client.h"

#ifndef GLM_DATA_DIR
#define GLM_DATA_DIR "data"
#endif
/* GLM_DATA_DIR is <source>/data; the shared reference folder sits beside the source tree. */
#define GSM8K_DEFAULT_PATH GLM_DATA_DIR "/../../shared/data/gsm8k"

static const char gsm8k_help[] =
	"usage: glm eval gsm8k [--base-url URL] [--model NAME] [flags]\n"
	"SGLang's few-shot GSM8K (python -m sglang.test.few_shot_gsm8k) against an OpenAI-compatible\n"
	"server: the first --num-shots test items with their answers as shots, the first\n"
	"--num-questions test items asked, plain-text prompts to /v1/completions at temperature 0 with\n"
	"stop [\"Question\", \"Assistant:\", \"<|separator|>\"]; the last number of the answer is compared.\n"
	"  --base-url URL         server root (default http://HOST:PORT)\n"
	"  --host ADDR, --port N  used without --base-url (default 127.0.0.1, 8000)\n"
	"  --endpoint PATH        default /v1/completions\n"
	"  --model NAME           default: the first of GET /v1/models\n"
	"  --num-questions N      default 200\n"
	"  --num-shots K          default 5\n"
	"  --parallel N           requests in flight at most (default 64)\n"
	"  --max-tokens N         per answer (default 512); --max-new-tokens is an alias\n"
	"  --data-path PATH       test.jsonl or a directory holding it (default " GSM8K_DEFAULT_PATH ")\n"
	"  --output-json FILE     results and every question's answer as JSON\n"
	"  --request-timeout S    give up on a request after S seconds (default: never)\n"
	"The API key, if any, is read from OPENAI_API_KEY.\n";

static void progress(void *ctx, int done, int failed, int total, double elapsed)
{
	fprintf(stderr, "\rgsm8k: %d/%d answered", done, total);
	if (failed) fprintf(stderr, ", %d failed", failed);
	fprintf(stderr, ", %.1f s  ", elapsed);
	if (done == total) fputc('\n', stderr);
	fflush(stderr);
}

static int eval_gsm8k(int argc, char **argv)
{
	const char *base_url = NULL, *host = "127.0.0.1", *endpoint = "/v1/completions", *model = NULL;
	const char *data_path = GSM8K_DEFAULT_PATH, *out_json = NULL, *v;
	int port = 8000, num_questions = 200, num_shots = 5, parallel = 64, max_tokens = 512;
	double timeout_s = 0;
	for (int i = 1; i < argc; i++) {
		if (cli_flag(argv, i, "--help") || cli_flag(argv, i, "-h")) {
			fputs(gsm8k_help, stdout);
			return 0;
		}
		if (cli_flag_value(argc, argv, &i, "--base-url", NULL, &base_url) ||
		    cli_flag_value(argc, argv, &i, "--host", NULL, &host) ||
		    cli_flag_value(argc, argv, &i, "--endpoint", NULL, &endpoint) ||
		    cli_flag_value(argc, argv, &i, "--model", NULL, &model) ||
		    cli_flag_value(argc, argv, &i, "--data-path", NULL, &data_path) ||
		    cli_flag_value(argc, argv, &i, "--output-json", NULL, &out_json))
			continue;
		if (cli_flag_value(argc, argv, &i, "--port", NULL, &v)) port = (int)cli_parse_long("--port", v);
		else if (cli_flag_value(argc, argv, &i, "--num-questions", NULL, &v)) num_questions = (int)cli_parse_long("--num-questions", v);
		else if (cli_flag_value(argc, argv, &i, "--num-shots", NULL, &v)) num_shots = (int)cli_parse_long("--num-shots", v);
		else if (cli_flag_value(argc, argv, &i, "--parallel", NULL, &v)) parallel = (int)cli_parse_long("--parallel", v);
		else if (cli_flag_value(argc, argv, &i, "--max-tokens", "--max-new-tokens", &v)) max_tokens = (int)cli_parse_long("--max-tokens", v);
		else if (cli_flag_value(argc, argv, &i, "--request-timeout", NULL, &v)) timeout_s = cli_parse_double("--request-timeout", v);
		else cli_usage_error("eval gsm8k", "unknown flag '%s' (see glm eval gsm8k --help)", argv[i]);
	}
	if (num_questions <= 0) cli_usage_error("eval gsm8k", "--num-questions must be positive");
	if (num_shots < 0) cli_usage_error("eval gsm8k", "--num-shots must not be negative");
	if (parallel <= 0) cli_usage_error("eval gsm8k", "--parallel must be positive");
	if (max_tokens <= 0) cli_usage_error("eval gsm8k", "--max-tokens must be positive");

	struct err e = {{0}};
	struct gsm8k g;
	if (gsm8k_load(&g, data_path, &e)) {
		fprintf(stderr, "glm eval gsm8k: %s (give the data with --data-path)\n", e.msg);
		return 1;
	}
	if (num_questions > g.n) num_questions = g.n; /* lines[:num_questions] */
	if (num_shots > g.n) num_shots = g.n;

	oai_global_init();
	char base[2048];
	if (base_url) snprintf(base, sizeof base, "%s", base_url);
	else snprintf(base, sizeof base, "http://%s:%d", host, port);
	for (size_t n = strlen(base); n > 0 && base[n - 1] == '/'; n--) base[n - 1] = '\0';
	const char *api_key = getenv("OPENAI_API_KEY");
	char *model_name = NULL;
	if (model) model_name = xstrdup(model);
	else {
		char *root = NULL;
		if (oai_first_model(base, api_key, &model_name, &root, &e)) {
			fprintf(stderr, "glm eval gsm8k: %s\n", e.msg);
			gsm8k_free(&g);
			return 1;
		}
		free(root);
	}

	/* labels: the gold answers extracted the same way (SGLang asserts they are all valid) */
	char (*labels)[64] = xcalloc((size_t)num_questions, sizeof *labels);
	for (int i = 0; i < num_questions; i++)
		if (!gsm8k_answer_value(g.items[i].answer, strlen(g.items[i].answer), labels[i], sizeof labels[i])) {
			fprintf(stderr, "glm eval gsm8k: %s: item %d has no numeric answer\n", data_path, i);
			return 1;
		}

	struct oai_request *reqs = xcalloc((size_t)num_questions, sizeof *reqs);
	for (int i = 0; i < num_questions; i++) {
		struct buf prompt;
		buf_init(&prompt);
		gsm8k_prompt(&g, num_shots, i, &prompt);
		json_t *b = json_pack("{s:s, s:s, s:i, s:i, s:[s,s,s], s:b}", "model", model_name, "prompt", prompt.data,
		                      "max_tokens", max_tokens, "temperature", 0, "stop", "Question", "Assistant:",
		                      "<|separator|>", "stream", 0);
		if (!b) {
			fprintf(stderr, "glm eval gsm8k: question %d or the model name is not valid UTF-8\n", i);
			return 1;
		}
		oai_request_init(&reqs[i], json_dumps(b, JSON_COMPACT), 0);
		json_decref(b);
		buf_free(&prompt);
	}
	char *url = xmalloc(strlen(base) + strlen(endpoint) + 1);
	sprintf(url, "%s%s", base, endpoint);
	struct oai_run run = {.url = url, .api_key = api_key, .api = OAI_API_COMPLETIONS, .stream = false,
	                      .max_concurrency = parallel, .timeout_ms = (long)(timeout_s * 1000),
	                      .progress = isatty(2) ? progress : NULL};
	if (oai_run_requests(&run, reqs, num_questions, &e)) {
		fprintf(stderr, "glm eval gsm8k: %s\n", e.msg);
		return 1;
	}
	double latency = run.duration;

	int correct = 0, invalid = 0, failed = 0;
	long out_tokens = 0;
	bool usage_missing = false;
	char (*preds)[64] = xcalloc((size_t)num_questions, sizeof *preds);
	bool *valid = xcalloc((size_t)num_questions, sizeof *valid);
	for (int i = 0; i < num_questions; i++) {
		struct oai_request *r = &reqs[i];
		if (!r->success) failed++;
		if (r->success && r->completion_tokens >= 0) out_tokens += r->completion_tokens;
		else if (r->success) usage_missing = true;
		valid[i] = r->success && gsm8k_answer_value(r->text.data ? r->text.data : "", r->text.len, preds[i], sizeof preds[i]);
		if (!valid[i]) invalid++;
		else if (!strcmp(preds[i], labels[i])) correct++;
	}
	if (failed) {
		printf("Failed requests: %d of %d (counted as invalid answers):\n", failed, num_questions);
		for (int i = 0, k = 0; i < num_questions && k < 10; i++)
			if (!reqs[i].success) printf("Error %d (question %d): %s\n", k++, i, reqs[i].error ? reqs[i].error : "(unknown)");
	}
	if (usage_missing) printf("WARNING: the server sent no usage.completion_tokens for some answers; they count 0 tokens\n");
	double acc = (double)correct / num_questions, inv = (double)invalid / num_questions;
	double thr = latency > 0 ? out_tokens / latency : 0;
	printf("Accuracy: %.3f\n", acc);
	printf("Invalid: %.3f\n", inv);
	printf("Latency: %.3f s\n", latency);
	printf("Output throughput: %.3f token/s\n", thr);
	fflush(stdout);

	int rc = failed ? 1 : 0;
	if (out_json) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:i, s:i}", "eval", "gsm8k", "model", model_name,
		                      "num_questions", num_questions, "num_shots", num_shots, "accuracy", acc, "invalid", inv,
		                      "latency", latency, "output_throughput", thr, "output_tokens", (json_int_t)out_tokens,
		                      "failed", failed);
		json_t *qs = json_array();
		for (int i = 0; i < num_questions; i++) {
			struct oai_request *r = &reqs[i];
			json_t *q = json_pack("{s:i, s:s, s:o, s:s%, s:b}", "index", i, "label", labels[i], "pred",
			                      valid[i] ? json_string(preds[i]) : json_null(), "output",
			                      r->text.data ? r->text.data : "", r->text.len, "correct",
			                      valid[i] && !strcmp(preds[i], labels[i]));
			if (r->error) json_object_set_new(q, "error", json_string(r->error));
			json_array_append_new(qs, q);
		}
		json_object_set_new(j, "questions", qs);
		if (json_dump_file(j, out_json, JSON_INDENT(1))) {
			fprintf(stderr, "glm eval gsm8k: cannot write %s\n", out_json);
			rc = 1;
		}
		json_decref(j);
	}
	for (int i = 0; i < num_questions; i++) oai_request_free(&reqs[i]);
	free(reqs), free(preds), free(valid), free(labels), free(url), free(model_name);
	gsm8k_free(&g);
	return rc;
}

int cli_eval(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "gsm8k")) return eval_gsm8k(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: glm eval gsm8k [flags]   (glm eval gsm8k --help)\n");
		return 0;
	}
	fprintf(stderr, "usage: glm eval gsm8k [flags]   (glm eval gsm8k --help)\n");
	return 2;
}
