/* bench_metrics.c — metrics and report of bench_metrics.h. Formats follow vLLM's print calls:
 * "{:<40} {:<10}" for counts and "{:<40} {:<10.2f}" for values (label left-justified in 40
 * columns, a space, the value left-justified in 10, trailing spaces kept), section rules are the
 * title centred in 50 columns with '-' (Python's "^" format puts the odd pad on the right). */
#include "client/bench_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double stats_percentile(const double *s, size_t n, double p)
{
	if (n == 0) return 0;
	double idx = p / 100.0 * (double)(n - 1);
	if (idx <= 0) return s[0];
	if (idx >= (double)(n - 1)) return s[n - 1];
	size_t lo = (size_t)floor(idx);
	double f = idx - (double)lo;
	/* numpy's _lerp: a + (b - a) * t, switched to b - (b - a) * (1 - t) for t >= 0.5 */
	double a = s[lo], b = s[lo + 1], d = b - a;
	return f >= 0.5 ? b - d * (1 - f) : a + d * f;
}

void stats_dist(double *v, size_t n, const double *pcts, int n_pct, double scale, struct bench_dist *d)
{
	memset(d, 0, sizeof *d);
	if (n == 0) return;
	qsort(v, n, sizeof *v, cmp_double);
	double sum = 0;
	for (size_t i = 0; i < n; i++) sum += v[i];
	double mean = sum / (double)n, ss = 0;
	for (size_t i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
	d->mean = mean * scale;
	d->std = sqrt(ss / (double)n) * scale;
	d->median = stats_percentile(v, n, 50) * scale;
	for (int k = 0; k < n_pct && k < BENCH_MAX_PCT; k++) d->pct[k] = stats_percentile(v, n, pcts[k]) * scale;
}

struct event {
	double t;
	int delta;
};

static int cmp_event(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	if (x->t != y->t) return (x->t > y->t) - (x->t < y->t);
	return x->delta - y->delta; /* departures (-1) before arrivals at the same instant */
}

void bench_metrics_compute(const struct bench_result *res, int n, double duration, const double *pcts, int n_pct,
                           struct bench_metrics *m)
{
	memset(m, 0, sizeof *m);
	m->duration = duration;
	m->n_pct = n_pct < BENCH_MAX_PCT ? n_pct : BENCH_MAX_PCT;
	memcpy(m->percentiles, pcts, m->n_pct * sizeof *pcts);
	size_t n_itl = 0;
	for (int i = 0; i < n; i++)
		if (res[i].success) n_itl += res[i].n_itl;
	double *ttft = xmalloc((n + 1) * sizeof *ttft), *tpot = xmalloc((n + 1) * sizeof *tpot);
	double *e2el = xmalloc((n + 1) * sizeof *e2el), *itl = xmalloc((n_itl + 1) * sizeof *itl);
	size_t nt = 0, np = 0, ni = 0;
	double min_start = INFINITY, max_end = -INFINITY;
	for (int i = 0; i < n; i++) {
		const struct bench_result *r = &res[i];
		if (!r->success) {
			m->failed++;
			continue;
		}
		m->completed++;
		m->total_input += r->prompt_len;
		m->total_output += r->output_len;
		if (r->output_len > 1) tpot[np++] = (r->latency - r->ttft) / (double)(r->output_len - 1);
		if (r->n_itl) memcpy(itl + ni, r->itl, r->n_itl * sizeof *itl);
		ni += r->n_itl;
		ttft[nt] = r->ttft;
		e2el[nt++] = r->latency;
		if (r->start_time < min_start) min_start = r->start_time;
		if (r->start_time + r->latency > max_end) max_end = r->start_time + r->latency;
	}
	m->request_throughput = m->completed / duration;
	m->output_throughput = (double)m->total_output / duration;
	m->total_token_throughput = (double)(m->total_input + m->total_output) / duration;
	stats_dist(ttft, nt, pcts, m->n_pct, 1000, &m->ttft);
	stats_dist(tpot, np, pcts, m->n_pct, 1000, &m->tpot);
	stats_dist(itl, ni, pcts, m->n_pct, 1000, &m->itl);
	stats_dist(e2el, nt, pcts, m->n_pct, 1000, &m->e2el);

	if (m->completed > 0) {
		/* output "tokens" (chunks) per one-second bucket, from the first send */
		long n_sec = (long)ceil(max_end - min_start) + 1;
		double *per_sec = xcalloc((size_t)n_sec, sizeof *per_sec);
		struct event *ev = xmalloc(2 * (size_t)m->completed * sizeof *ev);
		int n_ev = 0;
		for (int i = 0; i < n; i++) {
			const struct bench_result *r = &res[i];
			if (!r->success) continue;
			double t = r->start_time + r->ttft;
			for (size_t k = 0; k <= r->n_itl; k++) {
				if (k > 0) t += r->itl[k - 1];
				long b = (long)(t - min_start);
				if (b >= 0 && b < n_sec) per_sec[b] += 1;
			}
			ev[n_ev++] = (struct event){r->start_time, +1};
			ev[n_ev++] = (struct event){r->start_time + r->latency, -1};
		}
		for (long s = 0; s < n_sec; s++)
			if (per_sec[s] > m->max_output_tokens_per_s) m->max_output_tokens_per_s = per_sec[s];
		qsort(ev, (size_t)n_ev, sizeof *ev, cmp_event);
		int cur = 0;
		for (int k = 0; k < n_ev; k++) {
			cur += ev[k].delta;
			if (cur > m->max_concurrent_requests) m->max_concurrent_requests = cur;
		}
		free(per_sec);
		free(ev);
	}
	free(ttft), free(tpot), free(e2el), free(itl);
}

int bench_metric_sel_parse(const char *s)
{
	int sel = 0;
	const char *p = s;
	while (*p) {
		const char *q = strchr(p, ',');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 4 && !strncmp(p, "ttft", 4)) sel |= BENCH_METRIC_SEL_TTFT;
		else if (n == 4 && !strncmp(p, "tpot", 4)) sel |= BENCH_METRIC_SEL_TPOT;
		else if (n == 3 && !strncmp(p, "itl", 3)) sel |= BENCH_METRIC_SEL_ITL;
		else if (n == 4 && !strncmp(p, "e2el", 4)) sel |= BENCH_METRIC_SEL_E2EL;
		else if (n) return -1;
		p += n;
		if (*p == ',') p++;
	}
	return sel;
}

void py_float_str(double v, char *out, size_t cap)
{
	if (isinf(v)) {
		snprintf(out, cap, "%s", v > 0 ? "inf" : "-inf");
		return;
	}
	if (isnan(v)) {
		snprintf(out, cap, "nan");
		return;
	}
	/* the shortest digits that round-trip, then repr's layout: positional for 1e-4 <= |v| < 1e16 */
	char e[64];
	int prec = 1;
	for (; prec <= 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v) break;
	}
	int x = atoi(strchr(e, 'e') + 1);
	if (x < -4 || x >= 16) {
		/* "1.5e+16": C and Python agree once trailing zeros are gone (%.*e kept none) */
		snprintf(out, cap, "%s", e);
		return;
	}
	int decimals = prec - 1 - x;
	if (decimals < 1) decimals = 1;
	snprintf(out, cap, "%.*f", decimals, v);
}

void bench_pct_label(double p, char *out, size_t cap)
{
	if (p == floor(p) && fabs(p) < 1e15) snprintf(out, cap, "%lld", (long long)p);
	else py_float_str(p, out, cap);
}

/* "{s:{c}^{n}}".format(s=title, n=50, c=c) */
static void rule(FILE *f, const char *title, char c)
{
	int len = (int)strlen(title), pad = 50 - len;
	if (pad < 0) pad = 0;
	int left = pad / 2, right = pad - left;
	for (int i = 0; i < left; i++) fputc(c, f);
	fputs(title, f);
	for (int i = 0; i < right; i++) fputc(c, f);
	fputc('\n', f);
}

static void line_i(FILE *f, const char *label, long v)
{
	char s[32];
	snprintf(s, sizeof s, "%ld", v);
	fprintf(f, "%-40s %-10s\n", label, s);
}

static void line_f(FILE *f, const char *label, double v)
{
	char s[64];
	snprintf(s, sizeof s, "%.2f", v);
	fprintf(f, "%-40s %-10s\n", label, s);
}

static void print_dist(FILE *f, const struct bench_metrics *m, const struct bench_dist *d, const char *name,
                       const char *header)
{
	char label[128], p[32];
	rule(f, header, '-');
	snprintf(label, sizeof label, "Mean %s (ms):", name);
	line_f(f, label, d->mean);
	snprintf(label, sizeof label, "Median %s (ms):", name);
	line_f(f, label, d->median);
	for (int k = 0; k < m->n_pct; k++) {
		bench_pct_label(m->percentiles[k], p, sizeof p);
		snprintf(label, sizeof label, "P%s %s (ms):", p, name);
		line_f(f, label, d->pct[k]);
	}
}

void bench_metrics_print(FILE *f, const struct bench_metrics *m, int max_concurrency, double request_rate, int sel)
{
	rule(f, " Serving Benchmark Result ", '=');
	line_i(f, "Successful requests:", m->completed);
	line_i(f, "Failed requests:", m->failed);
	if (max_concurrency > 0) line_i(f, "Maximum request concurrency:", max_concurrency);
	if (!isinf(request_rate)) line_f(f, "Request rate configured (RPS):", request_rate);
	line_f(f, "Benchmark duration (s):", m->duration);
	line_i(f, "Total input tokens:", m->total_input);
	line_i(f, "Total generated tokens:", m->total_output);
	line_f(f, "Request throughput (req/s):", m->request_throughput);
	line_f(f, "Output token throughput (tok/s):", m->output_throughput);
	line_f(f, "Peak output token throughput (tok/s):", m->max_output_tokens_per_s);
	line_f(f, "Peak concurrent requests:", m->max_concurrent_requests);
	line_f(f, "Total token throughput (tok/s):", m->total_token_throughput);
	if (sel & BENCH_METRIC_SEL_TTFT) print_dist(f, m, &m->ttft, "TTFT", "Time to First Token");
	if (sel & BENCH_METRIC_SEL_TPOT) print_dist(f, m, &m->tpot, "TPOT", "Time per Output Token (excl. 1st token)");
	if (sel & BENCH_METRIC_SEL_ITL) print_dist(f, m, &m->itl, "ITL", "Inter-token Latency");
	if (sel & BENCH_METRIC_SEL_E2EL) print_dist(f, m, &m->e2el, "E2EL", "End-to-end Latency");
	for (int i = 0; i < 50; i++) fputc('=', f);
	fputc('\n', f);
}

static void json_dist(json_t *o, const struct bench_metrics *m, const struct bench_dist *d, const char *key)
{
	char k[96], p[32];
	snprintf(k, sizeof k, "mean_%s_ms", key);
	json_object_set_new(o, k, json_real(d->mean));
	snprintf(k, sizeof k, "median_%s_ms", key);
	json_object_set_new(o, k, json_real(d->median));
	snprintf(k, sizeof k, "std_%s_ms", key);
	json_object_set_new(o, k, json_real(d->std));
	for (int i = 0; i < m->n_pct; i++) {
		bench_pct_label(m->percentiles[i], p, sizeof p);
		snprintf(k, sizeof k, "p%s_%s_ms", p, key);
		json_object_set_new(o, k, json_real(d->pct[i]));
	}
}

void bench_metrics_json(json_t *o, const struct bench_metrics *m, int sel)
{
	json_object_set_new(o, "duration", json_real(m->duration));
	json_object_set_new(o, "completed", json_integer(m->completed));
	json_object_set_new(o, "failed", json_integer(m->failed));
	json_object_set_new(o, "total_input_tokens", json_integer(m->total_input));
	json_object_set_new(o, "total_output_tokens", json_integer(m->total_output));
	json_object_set_new(o, "request_throughput", json_real(m->request_throughput));
	json_object_set_new(o, "request_goodput", json_null());
	json_object_set_new(o, "output_throughput", json_real(m->output_throughput));
	json_object_set_new(o, "total_token_throughput", json_real(m->total_token_throughput));
	json_object_set_new(o, "max_output_tokens_per_s", json_real(m->max_output_tokens_per_s));
	json_object_set_new(o, "max_concurrent_requests", json_integer(m->max_concurrent_requests));
	json_object_set_new(o, "rtfx", json_real(0));
	if (sel & BENCH_METRIC_SEL_TTFT) json_dist(o, m, &m->ttft, "ttft");
	if (sel & BENCH_METRIC_SEL_TPOT) json_dist(o, m, &m->tpot, "tpot");
	if (sel & BENCH_METRIC_SEL_ITL) json_dist(o, m, &m->itl, "itl");
	if (sel & BENCH_METRIC_SEL_E2EL) json_dist(o, m, &m->e2el, "e2el");
}
