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
	s->bucket = xmalloc(vocab * sizeof *s->bucket);
	s->e = xmalloc(vocab * sizeof *s->e);
	for (int i = 0; i < n_prompt; i++)
		if (prompt[i] >= 0 && prompt[i] < vocab) s->in_prompt[prompt[i]] = 1;
}

void sampler_free(struct sampler *s)
{
	free(s->counts), free(s->in_prompt), free(s->work), free(s->idx), free(s->bucket), free(s->e);
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

/* The tokens top-k and then top-p keep, exactly the prefix of the vocabulary sorted by logit
 * (descending, ties by id) that they keep, found without sorting: tokens are bucketed by logit
 * below the maximum (bucket order agrees with logit order), whole buckets inside a cut are kept
 * as they are, and only a bucket a cut passes through is sorted. A flat distribution (random
 * weights, high temperature) keeps most of the vocabulary, which a full sort would cost tens of
 * milliseconds per token on the engine thread.
 * idx receives the kept ids, bucket by bucket; e[i] = exp(w[i] - mx) for every token. Returns
 * how many are kept; *kept receives their mass (relative to exp(mx)). */
#define SAMPLE_BUCKETS 4096
#define SAMPLE_RANGE 40.0f /* logits more than this below the max share the last bucket */
static int select_candidates(const float *w, int V, float mx, int k, float top_p, uint16_t *bucket, double *e,
                             int32_t *idx, double *kept)
{
	static _Thread_local int count[SAMPLE_BUCKETS];
	static _Thread_local double mass[SAMPLE_BUCKETS];
	memset(count, 0, sizeof count);
	memset(mass, 0, sizeof mass);
	for (int i = 0; i < V; i++) {
		float d = (mx - w[i]) * (SAMPLE_BUCKETS / SAMPLE_RANGE);
		int b = d < SAMPLE_BUCKETS - 1 ? (int)d : SAMPLE_BUCKETS - 1;
		bucket[i] = (uint16_t)b;
		e[i] = exp((double)w[i] - mx);
		count[b]++, mass[b] += e[i];
	}
	/* the buckets top-k needs: 0..last, the last one possibly in part */
	int last = SAMPLE_BUCKETS - 1;
	if (k > 0 && k < V) {
		int c = 0;
		for (last = 0; last < SAMPLE_BUCKETS - 1 && (c += count[last]) < k; last++) {}
	} else k = V;
	/* ids in bucket order (a counting sort by bucket), buckets 0..last */
	int *start = count; /* count[b] becomes bucket b's first position */
	int pos = 0;
	for (int b = 0; b <= last; b++) {
		int c = count[b];
		start[b] = pos, pos += c;
	}
	int n = pos;
	for (int i = 0; i < V; i++)
		if (bucket[i] <= last) idx[start[bucket[i]]++] = i;
	/* now start[b] is the end of bucket b (the start of b + 1) */
	sort_keys = w;
	int b0 = last > 0 ? start[last - 1] : 0;
	bool last_sorted = false;
	if (n > k) { /* top-k cuts through the last bucket */
		qsort(idx + b0, n - b0, sizeof *idx, cmp_desc);
		n = k, last_sorted = true;
	}
	double total = 0;
	for (int b = 0; b < last; b++) total += mass[b];
	for (int i = b0; i < n; i++) total += e[idx[i]];
	if (top_p < 1.0f) {
		/* the smallest prefix of the sorted kept set whose mass reaches top_p: whole buckets
		 * while they stay short of it, then the crossing bucket sorted and walked (and the next
		 * one, should rounding leave the walk a hair short) */
		double target = top_p * total, cum = 0;
		int b = 0, p0 = 0, i;
		for (; b < last && cum + mass[b] < target; b++) cum += mass[b], p0 = start[b];
		for (;; b++) {
			int p1 = b < last ? start[b] : n;
			if (b < last || !last_sorted) qsort(idx + p0, p1 - p0, sizeof *idx, cmp_desc);
			for (i = p0; i < p1 && cum < target;) cum += e[idx[i++]];
			if (cum >= target || b >= last) break;
			p0 = p1;
		}
		n = i;
		total = cum;
	}
	*kept = total;
	return n;
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
	/* what top-k and top-p keep */
	int32_t *idx = s->idx;
	float mx = w[logits_argmax(w, V)];
	double total;
	int n = select_candidates(w, V, mx, p->top_k > 0 && p->top_k < V ? p->top_k : 0, p->top_p, s->bucket, s->e, idx,
	                          &total);
	if (p->min_p > 0.0f) {
		/* drop tokens less likely than min_p times the most likely one */
		float cut = mx + logf(p->min_p);
		int m = 0;
		for (int i = 0; i < n; i++)
			if (w[idx[i]] >= cut) idx[m++] = idx[i];
		n = m;
		total = 0;
		for (int i = 0; i < n; i++) total += s->e[idx[i]];
	}
	double u = rng_uniform(&s->rng) * total, acc = 0;
	for (int i = 0; i < n; i++) {
		acc += s->e[idx[i]];
		if (u < acc) return idx[i];
	}
	return idx[n - 1];
}
