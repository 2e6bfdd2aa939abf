/* sampler.c — see sampler.h. The transform order follows vLLM's v1 sampler: penalties, then
 * temperature, then top-k / top-p / min-p filtering, then a draw. */
#include "engine/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sampling_params_default(struct sampling_params *p)
{
	memset(p, 0, sizeof *p);
	p->temperature = 1.0f;
	p->top_p = 1.0f;
	p->repetition_penalty = 1.0f;
	p->max_tokens = 16;
	p->n_logprobs = -1;
}

void sampler_init(struct sampler *s, const struct sampling_params *p, int vocab, const int32_t *prompt, int n_prompt)
{
	memset(s, 0, sizeof *s);
	s->p = *p;
	s->vocab = vocab;
	uint64_t seed = p->has_seed ? p->seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)s ^ (uint64_t)clock();
	rng_seed(&s->rng, seed);
	s->counts = xcalloc(vocab, sizeof *s->counts);
	s->in_prompt = xcalloc(vocab, 1);
	s->work = xmalloc(vocab * sizeof *s->work);
	s->idx = xmalloc(vocab * sizeof *s->idx);
	for (int i = 0; i < n_prompt; i++)
		if (prompt[i] >= 0 && prompt[i] < vocab) s->in_prompt[prompt[i]] = 1;
}

void sampler_free(struct sampler *s)
{
	free(s->counts), free(s->in_prompt), free(s->work), free(s->idx);
	memset(s, 0, sizeof *s);
}

void sampler_accept(struct sampler *s, int32_t t)
{
	if (t >= 0 && t < s->vocab) s->counts[t]++;
}

int32_t logits_argmax(const float *x, int n)
{
	int32_t best = 0;
	for (int i = 1; i < n; i++)
		if (x[i] > x[best]) best = i; /* first maximum wins, like torch.argmax */
	return best;
}

float logits_logprob(const float *x, int n, int32_t t, float *lse_out)
{
	float mx = x[logits_argmax(x, n)];
	double sum = 0;
	for (int i = 0; i < n; i++) sum += exp((double)x[i] - mx);
	float lse = mx + (float)log(sum);
	if (lse_out) *lse_out = lse;
	return x[t] - lse;
}

void logits_top(const float *x, int n, int k, int32_t *ids, float *lps)
{
	float lse;
	logits_logprob(x, n, 0, &lse);
	if (k > n) k = n;
	/* insertion into a small sorted list: k is at most 20 */
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (m == k && x[i] <= x[ids[m - 1]]) continue;
		int j = m < k ? m++ : k - 1;
		while (j > 0 && x[ids[j - 1]] < x[i]) ids[j] = ids[j - 1], j--;
		ids[j] = i;
	}
	for (int j = 0; j < m; j++) lps[j] = x[ids[j]] - lse;
}

static _Thread_local const float *sort_keys;
static int cmp_desc(const void *a, const void *b)
{
	float x = sort_keys[*(const int32_t *)a], y = sort_keys[*(const int32_t *)b];
	if (x != y) return x > y ? -1 : 1;
	return *(const int32_t *)a - *(const int32_t *)b;
}

/* The prefix of the vocabulary sorted by logit (descending, ties by id) that top-k / top-p can
 * keep, without sorting all of it: tokens are bucketed by logit below the maximum, buckets are
 * taken from the top until they hold k tokens (top-k) or top_p of the probability mass (top-p, one
 * more bucket as margin against rounding), and only those tokens are sorted. Bucket order agrees
 * with logit order, so the result is a true prefix of the full sort. Returns its length; *total
 * receives the mass of the whole vocabulary (relative to exp(mx)). */
#define SAMPLE_BUCKETS 4096
#define SAMPLE_RANGE 40.0f /* logits more than this below the max share the last bucket */
static int sorted_candidates(const float *w, int V, float mx, int k, float top_p, int32_t *idx, double *total)
{
	static _Thread_local int count[SAMPLE_BUCKETS];
	static _Thread_local double mass[SAMPLE_BUCKETS];
	memset(count, 0, sizeof count);
	memset(mass, 0, sizeof mass);
	double all = 0;
	for (int i = 0; i < V; i++) {
		float d = (mx - w[i]) * (SAMPLE_BUCKETS / SAMPLE_RANGE);
		int b = d < SAMPLE_BUCKETS - 1 ? (int)d : SAMPLE_BUCKETS - 1;
		double e = exp((double)w[i] - mx);
		count[b]++, mass[b] += e, all += e;
	}
	*total = all;
	int last = SAMPLE_BUCKETS - 1;
	if (k > 0) {
		int c = 0;
		for (last = 0; last < SAMPLE_BUCKETS - 1 && (c += count[last]) < k; last++) {}
	} else {
		double cum = 0;
		for (last = 0; last < SAMPLE_BUCKETS - 1 && (cum += mass[last]) < top_p * all; last++) {}
		if (last < SAMPLE_BUCKETS - 1) last++;
	}
	int n = 0;
	for (int i = 0; i < V; i++) {
		float d = (mx - w[i]) * (SAMPLE_BUCKETS / SAMPLE_RANGE);
		int b = d < SAMPLE_BUCKETS - 1 ? (int)d : SAMPLE_BUCKETS - 1;
		if (b <= last) idx[n++] = i;
	}
	sort_keys = w;
	qsort(idx, n, sizeof *idx, cmp_desc);
	return k > 0 && n > k ? k : n;
}

int32_t sampler_sample(struct sampler *s, const float *logits)
{
	const struct sampling_params *p = &s->p;
	int V = s->vocab;
	float *w = s->work;
	memcpy(w, logits, V * sizeof *w);
	/* penalties */
	if (p->repetition_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f)
		for (int i = 0; i < V; i++) {
			if (p->repetition_penalty != 1.0f && (s->counts[i] || s->in_prompt[i]))
				w[i] = w[i] > 0 ? w[i] / p->repetition_penalty : w[i] * p->repetition_penalty;
			if (s->counts[i]) w[i] -= p->frequency_penalty * (float)s->counts[i] + p->presence_penalty;
		}
	if (p->temperature < 1e-5f) return logits_argmax(w, V);
	for (int i = 0; i < V; i++) w[i] /= p->temperature;
	/* candidates sorted by logit, most likely first; only as many as the filters need */
	int n = V;
	int32_t *idx = s->idx;
	bool top_k = p->top_k > 0 && p->top_k < V;
	float mx = w[logits_argmax(w, V)];
	double total = 0;
	if (top_k || p->top_p < 1.0f) {
		n = sorted_candidates(w, V, mx, top_k ? p->top_k : 0, p->top_p, idx, &total);
		if (top_k) {
			total = 0;
			for (int i = 0; i < n; i++) total += exp((double)w[idx[i]] - mx);
		}
	} else {
		for (int i = 0; i < V; i++) idx[i] = i, total += exp((double)w[i] - mx);
	}
	if (p->top_p < 1.0f) {
		/* keep the smallest prefix whose probability reaches top_p */
		double cum = 0;
		int keep = 0;
		while (keep < n) {
			cum += exp((double)w[idx[keep]] - mx) / total;
			keep++;
			if (cum >= p->top_p) break;
		}
		n = keep;
		total = 0;
		for (int i = 0; i < n; i++) total += exp((double)w[idx[i]] - mx);
	}
	if (p->min_p > 0.0f) {
		/* drop tokens less likely than min_p times the most likely one */
		float cut = mx + logf(p->min_p);
		int m = 0;
		for (int i = 0; i < n; i++)
			if (w[idx[i]] >= cut) idx[m++] = idx[i];
		n = m;
		total = 0;
		for (int i = 0; i < n; i++) total += exp((double)w[idx[i]] - mx);
	}
	double u = rng_uniform(&s->rng) * total, acc = 0;
	for (int i = 0; i < n; i++) {
		acc += exp((double)w[idx[i]] - mx);
		if (u < acc) return idx[i];
	}
	return idx[n - 1];
}
