/* metrics.h — the server's Prometheus metrics (GET /metrics, text exposition format 0.0.4):
 * request/token counters and latency histograms recorded by the API handlers, plus the
 * scheduler's gauges (running, waiting, KV usage, prefix-cache totals) read at scrape time.
 * Names follow vLLM's (`vllm:` -> `glm:`) where the concept is the same, so dashboards carry over.
 * Owns: the counters. Thread rules: every function is thread-safe (one mutex). */
#pragma once
#include <pthread.h>

#include "base/base.h"
#include "engine/scheduler.h"

#define METRICS_MAX_BUCKETS 24
#define METRICS_MAX_ROUTES 16

struct metrics_hist {
	int n;                               /* buckets, the last one being +Inf */
	double le[METRICS_MAX_BUCKETS];
	long long count[METRICS_MAX_BUCKETS]; /* per bucket (not cumulative) */
	double sum;
	long long total;
};

enum metrics_finish { METRICS_FINISH_STOP, METRICS_FINISH_LENGTH, METRICS_FINISH_ABORT, METRICS_FINISH_ERROR, METRICS_FINISH_COUNT };

struct metrics {
	pthread_mutex_t mu;
	long long prompt_tokens, generation_tokens, cached_prompt_tokens;
	long long finished[METRICS_FINISH_COUNT];
	long long in_flight;  /* HTTP requests being served now */
	struct { char path[32]; int status; long long n; } http[METRICS_MAX_ROUTES * 8];
	int n_http;
	struct metrics_hist ttft, tpot, e2e;
};

void metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);
/* One finished generation (one choice): times in seconds (tpot < 0: fewer than 2 tokens). */
void metrics_record_generation(struct metrics *m, enum metrics_finish why, int n_prompt, int n_cached, int n_generated,
                               double ttft, double tpot, double e2e);
void metrics_record_http(struct metrics *m, const char *path, int status);
void metrics_in_flight(struct metrics *m, int delta);
long long metrics_get_in_flight(struct metrics *m);
/* Appends the exposition text; s may be NULL (no scheduler gauges). */
void metrics_render(struct metrics *m, struct scheduler *s, const char *model_name, struct buf *out);
