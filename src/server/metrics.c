/* metrics.c — see metrics.h. Histogram buckets are vLLM's for TTFT/TPOT/E2E latency. */
#include "server/metrics.h"

#include <stdio.h>
#include <string.h>

static void hist_init(struct metrics_hist *h, const double *le, int n)
{
	memset(h, 0, sizeof *h);
	GLM_ASSERT(n + 1 <= METRICS_MAX_BUCKETS);
	for (int i = 0; i < n; i++) h->le[i] = le[i];
	h->le[n] = 1e300; /* +Inf */
	h->n = n + 1;
}

static void hist_add(struct metrics_hist *h, double v)
{
	int i = 0;
	while (i < h->n - 1 && v > h->le[i]) i++;
	h->count[i]++;
	h->sum += v;
	h->total++;
}

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	static const double ttft[] = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
	                              1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
	static const double tpot[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0};
	static const double e2e[] = {0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0};
	hist_init(&m->ttft, ttft, sizeof ttft / sizeof *ttft);
	hist_init(&m->tpot, tpot, sizeof tpot / sizeof *tpot);
	hist_init(&m->e2e, e2e, sizeof e2e / sizeof *e2e);
}

void metrics_free(struct metrics *m) { pthread_mutex_destroy(&m->mu); }

void metrics_record_generation(struct metrics *m, enum metrics_finish why, int n_prompt, int n_cached, int n_generated,
                               double ttft, double tpot, double e2e)
{
	pthread_mutex_lock(&m->mu);
	m->prompt_tokens += n_prompt;
	m->cached_prompt_tokens += n_cached;
	m->generation_tokens += n_generated;
	m->finished[why]++;
	if (ttft >= 0) hist_add(&m->ttft, ttft);
	if (tpot >= 0) hist_add(&m->tpot, tpot);
	if (e2e >= 0) hist_add(&m->e2e, e2e);
	pthread_mutex_unlock(&m->mu);
}

void metrics_record_http(struct metrics *m, const char *path, int status)
{
	pthread_mutex_lock(&m->mu);
	int i = 0;
	while (i < m->n_http && !(m->http[i].status == status && !strcmp(m->http[i].path, path))) i++;
	if (i == m->n_http && m->n_http < (int)(sizeof m->http / sizeof *m->http)) {
		snprintf(m->http[i].path, sizeof m->http[i].path, "%s", path);
		m->http[i].status = status;
		m->http[i].n = 0;
		m->n_http++;
	}
	if (i < m->n_http) m->http[i].n++;
	pthread_mutex_unlock(&m->mu);
}

void metrics_in_flight(struct metrics *m, int delta)
{
	pthread_mutex_lock(&m->mu);
	m->in_flight += delta;
	pthread_mutex_unlock(&m->mu);
}

long long metrics_get_in_flight(struct metrics *m)
{
	pthread_mutex_lock(&m->mu);
	long long v = m->in_flight;
	pthread_mutex_unlock(&m->mu);
	return v;
}

static void render_hist(struct buf *out, const char *name, const char *help, const struct metrics_hist *h,
                        const char *labels)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	long long cum = 0;
	for (int i = 0; i < h->n; i++) {
		cum += h->count[i];
		if (i == h->n - 1) buf_printf(out, "%s_bucket{%s,le=\"+Inf\"} %lld\n", name, labels, cum);
		else buf_printf(out, "%s_bucket{%s,le=\"%g\"} %lld\n", name, labels, h->le[i], cum);
	}
	buf_printf(out, "%s_sum{%s} %.9g\n%s_count{%s} %lld\n", name, labels, h->sum, name, labels, h->total);
}

void metrics_render(struct metrics *m, struct scheduler *s, const char *model_name, struct buf *out)
{
	char labels[320];
	/* a label value escapes backslash, quote and newline */
	char esc[256];
	size_t k = 0;
	for (const char *p = model_name; *p && k + 2 < sizeof esc; p++) {
		if (*p == '\\' || *p == '"') esc[k++] = '\\', esc[k++] = *p;
		else if (*p == '\n') esc[k++] = '\\', esc[k++] = 'n';
		else esc[k++] = *p;
	}
	esc[k] = 0;
	snprintf(labels, sizeof labels, "model_name=\"%s\"", esc);
	struct sched_stats st = {0};
	if (s) scheduler_stats(s, &st);
	pthread_mutex_lock(&m->mu);
	buf_printf(out, "# HELP glm:num_requests_running Sequences in the running batch.\n# TYPE glm:num_requests_running gauge\n");
	buf_printf(out, "glm:num_requests_running{%s} %d\n", labels, st.running);
	buf_printf(out, "# HELP glm:num_requests_waiting Sequences waiting in the scheduler queue.\n# TYPE glm:num_requests_waiting gauge\n");
	buf_printf(out, "glm:num_requests_waiting{%s} %d\n", labels, st.waiting);
	buf_printf(out, "# HELP glm:http_requests_in_flight HTTP requests being served.\n# TYPE glm:http_requests_in_flight gauge\n");
	buf_printf(out, "glm:http_requests_in_flight{%s} %lld\n", labels, m->in_flight);
	double usage = st.kv_blocks_total > 0 ? (double)st.kv_blocks_used / st.kv_blocks_total : 0;
	buf_printf(out, "# HELP glm:kv_cache_usage_perc KV-cache usage (1 = full).\n# TYPE glm:kv_cache_usage_perc gauge\n");
	buf_printf(out, "glm:kv_cache_usage_perc{%s} %.6g\n", labels, usage);
	buf_printf(out, "# HELP glm:kv_cache_blocks KV-cache blocks by state.\n# TYPE glm:kv_cache_blocks gauge\n");
	buf_printf(out, "glm:kv_cache_blocks{%s,state=\"total\"} %d\n", labels, st.kv_blocks_total);
	buf_printf(out, "glm:kv_cache_blocks{%s,state=\"used\"} %d\n", labels, st.kv_blocks_used);
	buf_printf(out, "glm:kv_cache_blocks{%s,state=\"cached\"} %d\n", labels, st.kv_blocks_cached);
	buf_printf(out, "# HELP glm:prompt_tokens_total Prompt tokens of finished requests.\n# TYPE glm:prompt_tokens_total counter\n");
	buf_printf(out, "glm:prompt_tokens_total{%s} %lld\n", labels, m->prompt_tokens);
	buf_printf(out, "# HELP glm:generation_tokens_total Generated tokens of finished requests.\n# TYPE glm:generation_tokens_total counter\n");
	buf_printf(out, "glm:generation_tokens_total{%s} %lld\n", labels, m->generation_tokens);
	/* the engine's own totals: prompt tokens computed plus those the prefix cache supplied */
	long long queries = st.prompt_tokens + st.cached_prompt_tokens;
	buf_printf(out, "# HELP glm:prefix_cache_queries_total Prompt tokens looked up in the prefix cache.\n# TYPE glm:prefix_cache_queries_total counter\n");
	buf_printf(out, "glm:prefix_cache_queries_total{%s} %lld\n", labels, queries);
	buf_printf(out, "# HELP glm:prefix_cache_hits_total Prompt tokens found in the prefix cache.\n# TYPE glm:prefix_cache_hits_total counter\n");
	buf_printf(out, "glm:prefix_cache_hits_total{%s} %lld\n", labels, st.cached_prompt_tokens);
	buf_printf(out, "# HELP glm:prefix_cache_hit_rate Cached share of all prompt tokens so far.\n# TYPE glm:prefix_cache_hit_rate gauge\n");
	buf_printf(out, "glm:prefix_cache_hit_rate{%s} %.6g\n", labels, queries ? (double)st.cached_prompt_tokens / queries : 0.0);
	buf_printf(out, "# HELP glm:prompt_tokens_cached_total Prompt tokens of finished requests served from the prefix cache.\n# TYPE glm:prompt_tokens_cached_total counter\n");
	buf_printf(out, "glm:prompt_tokens_cached_total{%s} %lld\n", labels, m->cached_prompt_tokens);
	buf_printf(out, "# HELP glm:num_preemptions_total Sequences preempted for KV space.\n# TYPE glm:num_preemptions_total counter\n");
	buf_printf(out, "glm:num_preemptions_total{%s} %lld\n", labels, st.preemptions);
	buf_printf(out, "# HELP glm:engine_steps_total Engine forward steps.\n# TYPE glm:engine_steps_total counter\n");
	buf_printf(out, "glm:engine_steps_total{%s} %lld\n", labels, st.steps);
	static const char *const why[] = {"stop", "length", "abort", "error"};
	buf_printf(out, "# HELP glm:request_success_total Finished generations by finish reason.\n# TYPE glm:request_success_total counter\n");
	for (int i = 0; i < METRICS_FINISH_COUNT; i++)
		buf_printf(out, "glm:request_success_total{%s,finished_reason=\"%s\"} %lld\n", labels, why[i], m->finished[i]);
	buf_printf(out, "# HELP glm:http_requests_total HTTP requests by path and status.\n# TYPE glm:http_requests_total counter\n");
	for (int i = 0; i < m->n_http; i++)
		buf_printf(out, "glm:http_requests_total{%s,path=\"%s\",status=\"%d\"} %lld\n", labels, m->http[i].path,
		           m->http[i].status, m->http[i].n);
	render_hist(out, "glm:time_to_first_token_seconds", "Time to first token.", &m->ttft, labels);
	render_hist(out, "glm:time_per_output_token_seconds", "Time per output token after the first.", &m->tpot, labels);
	render_hist(out, "glm:e2e_request_latency_seconds", "End-to-end generation latency.", &m->e2e, labels);
	pthread_mutex_unlock(&m->mu);
}
