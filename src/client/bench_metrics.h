/* bench_metrics.h — the numbers of a serving benchmark run and the report that prints them, with
 * the metric definitions and line labels of `vllm bench serve` (serving.md §5.2; vLLM's
 * vllm/benchmarks/serve.py calculate_metrics/benchmark): request/token throughputs over the run's
 * duration, peak output tokens per one-second bucket, peak concurrency by a sweep over the
 * requests' [start, end) intervals, and mean/median/std/percentiles (numpy's linear
 * interpolation) of TTFT, TPOT (excluding the first token), ITL and E2E latency, in ms.
 * Pure computation and printing; knows nothing of HTTP. Thread rules: none (no shared state). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define BENCH_MAX_PCT 16

/* What the metrics need to know of one request. */
struct bench_result {
	bool success;
	double start_time;   /* s, any common origin */
	double ttft;         /* s */
	double latency;      /* s, send to the last token chunk */
	const double *itl;   /* s */
	size_t n_itl;
	long prompt_len;     /* tokens (the server's usage.prompt_tokens when it said) */
	long output_len;     /* tokens (usage.completion_tokens, else re-tokenized text) */
};

/* mean, median, std and the selected percentiles of one metric, in ms */
struct bench_dist {
	double mean, median, std;
	double pct[BENCH_MAX_PCT];
};

struct bench_metrics {
	int completed, failed;
	long total_input, total_output;
	double duration;
	double request_throughput, output_throughput, total_token_throughput;
	double max_output_tokens_per_s;
	int max_concurrent_requests;
	int n_pct;
	double percentiles[BENCH_MAX_PCT]; /* e.g. {99} */
	struct bench_dist ttft, tpot, itl, e2el;
};

/* numpy.percentile(sorted[0..n), p) with the default linear interpolation; 0 when n == 0. */
double stats_percentile(const double *sorted, size_t n, double p);
/* mean/median/std (population)/percentiles of v[0..n) (sorted in place), scaled by `scale`;
 * all zero when n == 0 (vLLM computes them over `values or 0`). */
void stats_dist(double *v, size_t n, const double *pcts, int n_pct, double scale, struct bench_dist *d);

void bench_metrics_compute(const struct bench_result *res, int n, double duration, const double *pcts, int n_pct,
                           struct bench_metrics *m);

/* Which latency blocks the report shows (--percentile-metrics), in vLLM's fixed order. */
enum bench_metric_sel {
	BENCH_METRIC_SEL_TTFT = 1,
	BENCH_METRIC_SEL_TPOT = 2,
	BENCH_METRIC_SEL_ITL = 4,
	BENCH_METRIC_SEL_E2EL = 8,
};
/* Parses "ttft,tpot,itl[,e2el]" into a mask; -1 on an unknown name. */
int bench_metric_sel_parse(const char *s);

/* The "============ Serving Benchmark Result ============" block. max_concurrency <= 0: not set;
 * request_rate: INFINITY when not set. */
void bench_metrics_print(FILE *f, const struct bench_metrics *m, int max_concurrency, double request_rate, int sel);
/* Adds vLLM's result keys (duration, completed, failed, total_input_tokens, ..., and
 * mean_/median_/std_/pNN_<metric>_ms of the selected metrics) to obj. */
void bench_metrics_json(json_t *obj, const struct bench_metrics *m, int sel);
/* Python's str() of a float: shortest round-trip digits, always with a '.' or exponent
 * ("inf", "10.0", "0.1", "1e-05"). */
void py_float_str(double v, char *out, size_t cap);
/* vLLM's percentile label: "99" for 99.0, "99.9" otherwise. */
void bench_pct_label(double p, char *out, size_t cap);
