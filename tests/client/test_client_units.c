/* test_client_units.c — unit tests of the client layer's pure parts: the SSE parser (whole, byte
 * by byte, in random splits), the statistics and report of bench_metrics (numpy's percentile,
 * vLLM's peak/concurrency definitions, the exact report text), vLLM's random dataset on the real
 * GLM tokenizer (every prompt re-encodes to exactly its drawn length), and SGLang's GSM8K answer
 * extraction (cases checked against Python's re + ast.literal_eval).
 * argv[1]: a tokenizer.json (the reconstructed GLM-4.5 one); argv[2]: a scratch directory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "client/bench_dataset.h"
#include "client/bench_metrics.h"
#include "client/gsm8k.h"
#include "client/sse.h"

/* ---- SSE ---- */

struct events {
	char all[4096]; /* events joined by '|' */
	int n;
	int stop_after; /* stop when n reaches this (0: never) */
};

static int collect(void *ctx, const char *data, size_t len)
{
	struct events *ev = ctx;
	CHECK(strlen(data) == len);
	strncat(ev->all, data, sizeof ev->all - strlen(ev->all) - 2);
	strcat(ev->all, "|");
	ev->n++;
	return ev->stop_after && ev->n >= ev->stop_after;
}

/* feeds s in pieces of the sizes given by the rng (max_piece 0: whole) */
static void feed_split(const char *s, struct events *ev, struct rng *r, int max_piece)
{
	struct sse_parser p;
	sse_parser_init(&p);
	memset(ev->all, 0, sizeof ev->all);
	ev->n = 0;
	size_t n = strlen(s), i = 0;
	int rc = 0;
	while (i < n && !rc) {
		size_t k = max_piece ? 1 + rng_next(r) % (uint64_t)max_piece : n;
		if (k > n - i) k = n - i;
		rc = sse_feed(&p, s + i, k, collect, ev);
		i += k;
	}
	if (!rc) sse_finish(&p, collect, ev);
	sse_parser_free(&p);
}

static void test_sse(void)
{
	const char *stream =
		": ping\n"
		"data: {\"a\":1}\n\n"
		"event: message\r\ndata:{\"b\":2}\r\n\r\n"
		"data: line1\ndata: line2\n\n"
		"id: 7\n\n"                 /* no data: no event */
		"data\n\n"                  /* a field without a colon: empty data */
		"data:  two spaces\r\r"     /* CR line ends; only one space is removed */
		"data: [DONE]\n";           /* no blank line before the end of the body */
	const char *want = "{\"a\":1}|{\"b\":2}|line1\nline2||" " two spaces|[DONE]|";
	struct events ev = {0};
	struct rng r;
	rng_seed(&r, 42);
	feed_split(stream, &ev, &r, 0);
	CHECK_STREQ(ev.all, want);
	CHECK(ev.n == 6);
	feed_split(stream, &ev, &r, 1); /* byte by byte */
	CHECK_STREQ(ev.all, want);
	for (int t = 0; t < 200; t++) {
		feed_split(stream, &ev, &r, 1 + t % 13);
		if (strcmp(ev.all, want)) {
			CHECK_STREQ(ev.all, want);
			break;
		}
	}
	CHECK(ev.n == 6);
	/* the callback can stop the stream */
	struct events st = {.stop_after = 2};
	feed_split(stream, &st, &r, 0);
	CHECK(st.n == 2);
}

/* ---- statistics and the report ---- */

static void test_stats(void)
{
	double a[] = {1, 2, 3, 4};
	CHECK(fabs(stats_percentile(a, 4, 99) - 3.97) < 1e-12);
	CHECK(stats_percentile(a, 4, 50) == 2.5);
	CHECK(stats_percentile(a, 4, 0) == 1 && stats_percentile(a, 4, 100) == 4);
	CHECK(stats_percentile(a, 0, 99) == 0);
	double b[] = {0.5, 0.1, 0.9, 0.3, 0.7}; /* numpy: p99 0.892, p90 0.82, p12.5 0.2 */
	double pct[] = {99, 90, 12.5};
	struct bench_dist d;
	stats_dist(b, 5, pct, 3, 1000, &d);
	CHECK(fabs(d.pct[0] - 892) < 1e-9 && fabs(d.pct[1] - 820) < 1e-9 && fabs(d.pct[2] - 200) < 1e-9);
	CHECK(fabs(d.mean - 500) < 1e-9 && fabs(d.median - 500) < 1e-9);
	CHECK(fabs(d.std - 1000 * sqrt(0.08)) < 1e-9); /* population std */
	stats_dist(b, 0, pct, 3, 1000, &d);
	CHECK(d.mean == 0 && d.median == 0 && d.std == 0 && d.pct[0] == 0);

	char s[64];
	py_float_str(INFINITY, s, sizeof s);
	CHECK_STREQ(s, "inf");
	py_float_str(10, s, sizeof s);
	CHECK_STREQ(s, "10.0");
	py_float_str(0.1, s, sizeof s);
	CHECK_STREQ(s, "0.1");
	py_float_str(2.5, s, sizeof s);
	CHECK_STREQ(s, "2.5");
	bench_pct_label(99, s, sizeof s);
	CHECK_STREQ(s, "99");
	bench_pct_label(99.9, s, sizeof s);
	CHECK_STREQ(s, "99.9");
	CHECK(bench_metric_sel_parse("ttft,tpot,itl") == (BENCH_METRIC_SEL_TTFT | BENCH_METRIC_SEL_TPOT | BENCH_METRIC_SEL_ITL));
	CHECK(bench_metric_sel_parse("e2el") == BENCH_METRIC_SEL_E2EL);
	CHECK(bench_metric_sel_parse("ttft,bogus") == -1);
}

static void test_metrics(void)
{
	/* three requests: A [0, 1.0) 3 chunks, B [0.5, 2.5) 2 chunks, C failed; D [1.0, 1.5) 1 chunk */
	double itl_a[] = {0.2, 0.3}, itl_b[] = {0.5};
	struct bench_result res[] = {
		{.success = true, .start_time = 10.0, .ttft = 0.5, .latency = 1.0, .itl = itl_a, .n_itl = 2, .prompt_len = 100, .output_len = 3},
		{.success = true, .start_time = 10.5, .ttft = 1.5, .latency = 2.0, .itl = itl_b, .n_itl = 1, .prompt_len = 50, .output_len = 2},
		{.success = false, .prompt_len = 999, .output_len = 999},
		{.success = true, .start_time = 11.0, .ttft = 0.5, .latency = 0.5, .itl = NULL, .n_itl = 0, .prompt_len = 10, .output_len = 1},
	};
	double pct[] = {50, 99};
	struct bench_metrics m;
	bench_metrics_compute(res, 4, 4.0, pct, 2, &m);
	CHECK(m.completed == 3 && m.failed == 1);
	CHECK(m.total_input == 160 && m.total_output == 6);
	CHECK(fabs(m.request_throughput - 0.75) < 1e-12 && fabs(m.output_throughput - 1.5) < 1e-12);
	CHECK(fabs(m.total_token_throughput - 41.5) < 1e-12);
	/* A ends at 11.0 exactly when D starts: half-open intervals, so the peak is 2 (A+B, then B+D) */
	CHECK(m.max_concurrent_requests == 2);
	/* chunk times from 10.0: A 0.5, 0.7, 1.0; B 2.0, 2.5; D 1.5 -> buckets [0]=2, [1]=2, [2]=2 */
	CHECK(m.max_output_tokens_per_s == 2);
	/* TPOT only for output_len > 1: A (1.0-0.5)/2 = 0.25, B (2.0-1.5)/1 = 0.5 */
	CHECK(fabs(m.tpot.mean - 375) < 1e-9 && fabs(m.tpot.median - 375) < 1e-9);
	CHECK(fabs(m.ttft.mean - 2500.0 / 3) < 1e-9 && fabs(m.ttft.median - 500) < 1e-9);
	CHECK(fabs(m.itl.mean - 1000.0 / 3) < 1e-9 && fabs(m.itl.pct[0] - 300) < 1e-9);
	CHECK(fabs(m.e2el.mean - 3500.0 / 3) < 1e-9);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bench_metrics_print(f, &m, 8, INFINITY, BENCH_METRIC_SEL_TTFT | BENCH_METRIC_SEL_TPOT | BENCH_METRIC_SEL_ITL | BENCH_METRIC_SEL_E2EL);
	fclose(f);
	const char *want =
		"============ Serving Benchmark Result ============\n"
		"Successful requests:                     3         \n"
		"Failed requests:                         1         \n"
		"Maximum request concurrency:             8         \n"
		"Benchmark duration (s):                  4.00      \n"
		"Total input tokens:                      160       \n"
		"Total generated tokens:                  6         \n"
		"Request throughput (req/s):              0.75      \n"
		"Output token throughput (tok/s):         1.50      \n"
		"Peak output token throughput (tok/s):    2.00      \n"
		"Peak concurrent requests:                2.00      \n"
		"Total token throughput (tok/s):          41.50     \n"
		"---------------Time to First Token----------------\n"
		"Mean TTFT (ms):                          833.33    \n"
		"Median TTFT (ms):                        500.00    \n"
		"P50 TTFT (ms):                           500.00    \n"
		"P99 TTFT (ms):                           1480.00   \n"
		"-----Time per Output Token (excl. 1st token)------\n"
		"Mean TPOT (ms):                          375.00    \n"
		"Median TPOT (ms):                        375.00    \n"
		"P50 TPOT (ms):                           375.00    \n"
		"P99 TPOT (ms):                           497.50    \n"
		"---------------Inter-token Latency----------------\n"
		"Mean ITL (ms):                           333.33    \n"
		"Median ITL (ms):                         300.00    \n"
		"P50 ITL (ms):                            300.00    \n"
		"P99 ITL (ms):                            496.00    \n"
		"----------------End-to-end Latency----------------\n"
		"Mean E2EL (ms):                          1166.67   \n"
		"Median E2EL (ms):                        1000.00   \n"
		"P50 E2EL (ms):                           1000.00   \n"
		"P99 E2EL (ms):                           1980.00   \n"
		"==================================================\n";
	CHECK_STREQ(text, want);
	free(text);
	/* rate set, no concurrency limit, default blocks */
	f = open_memstream(&text, &len);
	bench_metrics_print(f, &m, 0, 2.5, BENCH_METRIC_SEL_TTFT);
	fclose(f);
	CHECK(strstr(text, "Request rate configured (RPS):           2.50      \n") != NULL);
	CHECK(strstr(text, "Maximum request concurrency") == NULL);
	CHECK(strstr(text, "TPOT") == NULL && strstr(text, "Mean TTFT (ms):") != NULL);
	free(text);

	json_t *j = json_object();
	bench_metrics_json(j, &m, BENCH_METRIC_SEL_TTFT | BENCH_METRIC_SEL_E2EL);
	const char *keys[] = {"duration", "completed", "failed", "total_input_tokens", "total_output_tokens",
	                      "request_throughput", "request_goodput", "output_throughput", "total_token_throughput",
	                      "max_output_tokens_per_s", "max_concurrent_requests", "mean_ttft_ms", "median_ttft_ms",
	                      "std_ttft_ms", "p50_ttft_ms", "p99_ttft_ms", "mean_e2el_ms", "p99_e2el_ms"};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) CHECK_MSG(json_object_get(j, keys[k]), "key %s", keys[k]);
	CHECK(!json_object_get(j, "mean_tpot_ms"));
	CHECK(json_integer_value(json_object_get(j, "total_input_tokens")) == 160);
	json_decref(j);
}

/* ---- the random dataset on the real tokenizer ---- */

static void test_dataset(const char *tok_json)
{
	struct err e = {{0}};
	struct tokenizer *t = tokenizer_create(tok_json, &e);
	CHECK_MSG(t != NULL, "%s", e.msg);
	if (!t) return;
	struct bench_vocab v;
	CHECK_MSG(bench_vocab_load(t, tok_json, &v, &e) == 0, "%s", e.msg);
	CHECK(v.vocab_size == 151329); /* GLM-4.5's model.vocab; the 36 added tokens come after it */
	/* all of it but the ids whose bytes hold a NUL (the byte token 0x00 at least) */
	CHECK(v.n_allowed < (size_t)v.vocab_size && v.n_allowed > (size_t)v.vocab_size - 16);
	for (size_t i = 0; i < v.n_allowed; i++) {
		size_t len;
		const char *bytes = tokenizer_token_bytes(t, v.allowed[i], &len);
		if (tokenizer_is_special(t, v.allowed[i]) || memchr(bytes, 0, len)) {
			CHECK_MSG(0, "id %d allowed", v.allowed[i]);
			break;
		}
	}

	struct bench_random_opts o = {.num_prompts = 40, .input_len = 300, .output_len = 50, .prefix_len = 0,
	                              .range_ratio = 0.5, .seed = 7, .max_retry = 10};
	struct bench_prompt *ps;
	long mismatch;
	CHECK_MSG(bench_dataset_random(t, &v, &o, &ps, &mismatch, &e) == 0, "%s", e.msg);
	CHECK(mismatch == 0);
	int lo = 300, hi = 0, olo = 1000, ohi = 0;
	for (int i = 0; i < o.num_prompts; i++) {
		struct bench_prompt *p = &ps[i];
		CHECK(p->prompt_len == p->target_len);
		CHECK(p->target_len >= 150 && p->target_len <= 450);
		CHECK(p->output_len >= 25 && p->output_len <= 75);
		lo = p->target_len < lo ? p->target_len : lo, hi = p->target_len > hi ? p->target_len : hi;
		olo = p->output_len < olo ? p->output_len : olo, ohi = p->output_len > ohi ? p->output_len : ohi;
		int32_t *ids;
		size_t n;
		CHECK(tokenizer_encode(t, p->text, strlen(p->text), &ids, &n, &e) == 0);
		CHECK_MSG((int)n == p->target_len, "prompt %d: text encodes to %zu ids, drawn %d", i, n, p->target_len);
		CHECK(n == (size_t)p->prompt_len && !memcmp(ids, p->ids, n * sizeof *ids));
		free(ids);
	}
	CHECK(lo < 250 && hi > 350);  /* the band is used, not one length */
	CHECK(olo < 40 && ohi > 60);

	/* same seed, same prompts; a shared prefix */
	struct bench_prompt *ps2;
	CHECK(bench_dataset_random(t, &v, &o, &ps2, &mismatch, &e) == 0);
	CHECK(!strcmp(ps[0].text, ps2[0].text) && !strcmp(ps[39].text, ps2[39].text));
	bench_prompts_free(ps2, o.num_prompts);
	struct bench_random_opts op = {.num_prompts = 5, .input_len = 64, .output_len = 4, .prefix_len = 100, .seed = 1, .max_retry = 10};
	CHECK(bench_dataset_random(t, &v, &op, &ps2, &mismatch, &e) == 0);
	for (int i = 0; i < 5; i++) CHECK(ps2[i].prompt_len == 164 && ps2[i].output_len == 4);
	CHECK(!memcmp(ps2[0].ids, ps2[3].ids, 50 * sizeof(int32_t))); /* the prefix (its end may re-merge) */
	bench_prompts_free(ps2, 5);

	/* invalid options name the flag */
	struct bench_random_opts bad = o;
	bad.range_ratio = 1.0;
	CHECK(bench_dataset_random(t, &v, &bad, &ps2, &mismatch, &e) == -1 && strstr(e.msg, "--random-range-ratio"));
	bad = o, bad.input_len = 1, bad.range_ratio = 0.5;
	CHECK(bench_dataset_random(t, &v, &bad, &ps2, &mismatch, &e) == -1 && strstr(e.msg, "--random-input-len"));

	bench_prompts_free(ps, o.num_prompts);
	bench_vocab_free(&v);
	tokenizer_destroy(t);
}

/* The small built-in byte-level BPE of the tiny demo/test checkpoints: many ids are single bytes,
 * so cuts through multi-byte characters happen and vLLM's 10 rounds alone often miss the length. */
static void test_dataset_tiny(const char *scratch)
{
	struct buf js;
	buf_init(&js);
	int vocab = tokenizer_write_builtin_json(&js, 887);
	char *path = path_join(scratch, "tiny_tokenizer.json");
	struct err e = {{0}};
	CHECK(file_write_all(path, js.data, js.len, &e) == 0);
	struct tokenizer *t = tokenizer_create(path, &e);
	struct bench_vocab v;
	CHECK_MSG(t && bench_vocab_load(t, path, &v, &e) == 0, "%s", e.msg);
	if (!t) return;
	CHECK(v.vocab_size == vocab - 36); /* GLM's 36 special tokens are added tokens */
	for (uint64_t seed = 0; seed < 4; seed++) {
		struct bench_random_opts o = {.num_prompts = 50, .input_len = 64, .output_len = 16, .range_ratio = 0.5,
		                              .seed = seed, .max_retry = 10};
		struct bench_prompt *ps;
		long mismatch;
		CHECK(bench_dataset_random(t, &v, &o, &ps, &mismatch, &e) == 0);
		CHECK_MSG(mismatch == 0, "seed %llu: mismatch %ld", (unsigned long long)seed, mismatch);
		for (int i = 0; i < o.num_prompts; i++) {
			int32_t *ids;
			size_t n;
			CHECK(tokenizer_encode(t, ps[i].text, strlen(ps[i].text), &ids, &n, &e) == 0);
			CHECK_MSG((int)n == ps[i].target_len && ps[i].prompt_len == ps[i].target_len,
			          "seed %llu prompt %d: %zu ids, drawn %d", (unsigned long long)seed, i, n, ps[i].target_len);
			free(ids);
		}
		bench_prompts_free(ps, o.num_prompts);
	}
	bench_vocab_free(&v);
	tokenizer_destroy(t);
	free(path);
	buf_free(&js);
}

/* ---- GSM8K answer extraction ---- */

static void test_gsm8k(void)
{
	struct {
		const char *in, *want; /* want NULL: INVALID */
	} cases[] = {
		{"Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72", "72"},
		{"The answer is 1,234.", "1234"},
		{"no digits here", NULL},
		{"", NULL},
		{"so 0", "0"},
		{"so 00", "0"},        /* literal_eval("00") == 0 */
		{"so 007", NULL},      /* literal_eval("007") is a SyntaxError */
		{"12 then 5٣", NULL},  /* \d matches U+0663, literal_eval rejects it */
		{"١٢", NULL},
		{"x 5 y ３", NULL},    /* fullwidth digit: the last run, rejected */
		{"-3.75", "75"},       /* signs and decimals are ignored */
		{"1,2,3", "123"},
		{"abc 99999999999999999999999", "99999999999999999999999"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[64] = "";
		bool ok = gsm8k_answer_value(cases[i].in, strlen(cases[i].in), out, sizeof out);
		if (cases[i].want) CHECK_MSG(ok && !strcmp(out, cases[i].want), "'%s' -> %s (%s)", cases[i].in, ok ? out : "INVALID", cases[i].want);
		else CHECK_MSG(!ok, "'%s' -> %s, want INVALID", cases[i].in, out);
	}
	/* a NUL inside the text does not end it (Python strings hold NULs) */
	char out[64] = "";
	CHECK(gsm8k_answer_value("12\0 then 34", 11, out, sizeof out) && !strcmp(out, "34"));
	/* prompts: the shots then the question */
	struct gsm8k g = {0};
	struct gsm8k_item items[] = {{"Q0?", "A0\n#### 1"}, {"Q1?", "A1\n#### 2"}, {"Q2?", "A2\n#### 3"}};
	g.items = items, g.n = 3;
	struct buf b;
	buf_init(&b);
	gsm8k_prompt(&g, 2, 2, &b);
	CHECK_STREQ(b.data, "Question: Q0?\nAnswer: A0\n#### 1\n\nQuestion: Q1?\nAnswer: A1\n#### 2\n\nQuestion: Q2?\nAnswer:");
	buf_clear(&b);
	gsm8k_prompt(&g, 0, 1, &b);
	CHECK_STREQ(b.data, "Question: Q1?\nAnswer:");
	buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: test_client_units TOKENIZER_JSON SCRATCH_DIR\n");
		return 2;
	}
	test_sse();
	test_stats();
	test_metrics();
	test_dataset(argv[1]);
	test_dataset_tiny(argv[2]);
	test_gsm8k();
	TEST_END();
}
