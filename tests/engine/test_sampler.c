/* Sampler tests: each transform is checked against its definition (vLLM semantics) by
 * sampling many times from a fixed logits row with a seeded generator and comparing the
 * empirical frequencies with the exactly computed target distribution, plus the exact cases
 * (greedy, penalties, logprobs) and seed determinism. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sampler.h"
#include "../test_util.h"

#define V 8
static const float L[V] = {2.0f, 1.5f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};

/* Target distribution: softmax(L/T) over the allowed set, renormalised. */
static void target(float T, const bool *allowed, double *p)
{
	double z = 0;
	for (int i = 0; i < V; i++) z += p[i] = allowed[i] ? exp(L[i] / T) : 0;
	for (int i = 0; i < V; i++) p[i] /= z;
}

/* Draws N samples and checks each frequency within 5 standard errors of its target (and
 * exactly zero where the target is zero). */
static void check_dist(const char *what, const struct sampling_params *sp, const double *p)
{
	struct sampler s;
	sampler_init(&s, sp, V, NULL, 0);
	int counts[V] = {0}, N = 40000;
	for (int n = 0; n < N; n++) counts[sampler_sample(&s, L)]++;
	for (int i = 0; i < V; i++) {
		double f = (double)counts[i] / N, se = sqrt(p[i] * (1 - p[i]) / N);
		if (p[i] == 0) CHECK_MSG(counts[i] == 0, "%s: token %d excluded but drawn %d times", what, i, counts[i]);
		else CHECK_MSG(fabs(f - p[i]) <= 5 * se + 1e-9, "%s: token %d frequency %.4f, expected %.4f", what, i, f, p[i]);
	}
	sampler_free(&s);
}

static const float *ref_keys;
static int ref_desc(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	if (ref_keys[x] != ref_keys[y]) return ref_keys[x] > ref_keys[y] ? -1 : 1;
	return x - y;
}

int main(void)
{
	struct sampling_params sp;
	bool all[V], a[V];
	double p[V];
	for (int i = 0; i < V; i++) all[i] = true;

	/* greedy */
	sampling_params_default(&sp);
	sp.temperature = 0;
	struct sampler s;
	sampler_init(&s, &sp, V, NULL, 0);
	CHECK(sampler_sample(&s, L) == 0);
	sampler_free(&s);

	/* temperature 1 and 0.5: plain softmax */
	sampling_params_default(&sp);
	sp.has_seed = true, sp.seed = 1;
	target(1.0f, all, p);
	check_dist("T=1", &sp, p);
	sp.temperature = 0.5f;
	target(0.5f, all, p);
	check_dist("T=0.5", &sp, p);

	/* top-k 3 */
	sampling_params_default(&sp);
	sp.has_seed = true, sp.seed = 2, sp.top_k = 3;
	for (int i = 0; i < V; i++) a[i] = i < 3;
	target(1.0f, a, p);
	check_dist("top-k 3", &sp, p);

	/* top-p 0.7: the smallest prefix reaching 0.7 of the mass */
	sampling_params_default(&sp);
	sp.has_seed = true, sp.seed = 3, sp.top_p = 0.7f;
	target(1.0f, all, p);
	double cum = 0;
	for (int i = 0; i < V; i++) a[i] = cum < 0.7, cum += p[i];
	target(1.0f, a, p);
	check_dist("top-p 0.7", &sp, p);

	/* min-p 0.2: tokens at least 0.2 times as likely as the best */
	sampling_params_default(&sp);
	sp.has_seed = true, sp.seed = 4, sp.min_p = 0.2f;
	for (int i = 0; i < V; i++) a[i] = exp(L[i] - L[0]) >= 0.2;
	target(1.0f, a, p);
	check_dist("min-p 0.2", &sp, p);

	/* seed determinism: same seed -> same sequence; different seed -> (almost surely) different */
	sampling_params_default(&sp);
	sp.has_seed = true, sp.seed = 42;
	struct sampler s1, s2, s3;
	sampler_init(&s1, &sp, V, NULL, 0), sampler_init(&s2, &sp, V, NULL, 0);
	sp.seed = 43;
	sampler_init(&s3, &sp, V, NULL, 0);
	int same = 1, diff = 0;
	for (int n = 0; n < 200; n++) {
		int32_t x = sampler_sample(&s1, L), y = sampler_sample(&s2, L), z = sampler_sample(&s3, L);
		same &= x == y;
		diff += x != z;
	}
	CHECK(same);
	CHECK(diff > 0);
	sampler_free(&s1), sampler_free(&s2), sampler_free(&s3);

	/* penalties (greedy so the effect is exact) */
	sampling_params_default(&sp);
	sp.temperature = 0;
	sp.frequency_penalty = 0.3f; /* token 0 generated twice: 2.0 - 0.6 = 1.4 < 1.5 */
	sampler_init(&s, &sp, V, NULL, 0);
	sampler_accept(&s, 0);
	CHECK(sampler_sample(&s, L) == 0); /* once: 2.0 - 0.3 = 1.7 still best */
	sampler_accept(&s, 0);
	CHECK(sampler_sample(&s, L) == 1);
	sampler_free(&s);
	sampling_params_default(&sp);
	sp.temperature = 0;
	sp.presence_penalty = 0.6f; /* once is enough: 2.0 - 0.6 = 1.4 < 1.5 */
	sampler_init(&s, &sp, V, NULL, 0);
	sampler_accept(&s, 0);
	CHECK(sampler_sample(&s, L) == 1);
	sampler_free(&s);
	/* repetition penalty applies to prompt tokens too: positive logits divided */
	sampling_params_default(&sp);
	sp.temperature = 0;
	sp.repetition_penalty = 1.5f; /* 2.0 / 1.5 = 1.33 < 1.5 */
	int32_t prompt[1] = {0};
	sampler_init(&s, &sp, V, prompt, 1);
	CHECK(sampler_sample(&s, L) == 1);
	sampler_free(&s);
	/* ... and negative logits are multiplied (pushed down) */
	float neg[3] = {-1.0f, -1.2f, -5.0f};
	sp.repetition_penalty = 1.5f;
	int32_t pr2[1] = {0};
	sampler_init(&s, &sp, 3, pr2, 1);
	CHECK(sampler_sample(&s, neg) == 1); /* -1.0 * 1.5 = -1.5 < -1.2 */
	sampler_free(&s);

	/* a large vocabulary (where the sampler selects candidates by buckets and sorts only the
	 * buckets a cut passes through): the kept set and its frequencies must equal a brute-force
	 * full sort's, for top-p, top-k, both (top-p over the top-k set), and a flat distribution
	 * where top-p keeps almost everything */
	{
		enum { BV = 20000 };
		static float big[BV];
		static int32_t order[BV];
		static int cnt[BV];
		const struct {
			double sd;
			int top_k;
			float top_p;
		} cases[] = {{2.5, 0, 0.3f}, {2.5, 0, 0.6f}, {2.5, 40, 1.0f}, {2.5, 500, 0.5f}, {0.3, 0, 0.95f}, {0.3, 15000, 0.9f}};
		for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
			struct rng r;
			rng_seed(&r, 99 + c);
			for (int i = 0; i < BV; i++) big[i] = (float)(rng_normal(&r) * cases[c].sd), order[i] = i;
			float top = big[0];
			for (int i = 1; i < BV; i++) top = big[i] > top ? big[i] : top;
			big[123] = big[124] = top; /* a tie at the top */
			big[777] = big[778] = big[779] = 0.1f;        /* ties in the middle, where a cut may fall */
			ref_keys = big; /* brute force: sort the whole vocabulary (descending, ties by id) */
			qsort(order, BV, sizeof *order, ref_desc);
			double mxb = big[order[0]];
			int keep = cases[c].top_k > 0 ? cases[c].top_k : BV;
			double z = 0;
			for (int i = 0; i < keep; i++) z += exp(big[order[i]] - mxb);
			if (cases[c].top_p < 1.0f) {
				double cum = 0, zk = z;
				int kp = 0;
				z = 0;
				while (kp < keep) {
					cum += exp(big[order[kp]] - mxb) / zk;
					z += exp(big[order[kp]] - mxb);
					kp++;
					if (cum >= cases[c].top_p) break;
				}
				keep = kp;
			}
			sampling_params_default(&sp);
			sp.has_seed = true, sp.seed = 7 + c;
			sp.top_k = cases[c].top_k, sp.top_p = cases[c].top_p;
			struct sampler sb;
			sampler_init(&sb, &sp, BV, NULL, 0);
			memset(cnt, 0, sizeof cnt);
			int N = 8000, outside = 0;
			for (int t = 0; t < N; t++) cnt[sampler_sample(&sb, big)]++;
			for (int i = keep; i < BV; i++) outside += cnt[order[i]];
			CHECK_MSG(outside == 0, "large vocab case %zu: %d draws outside the kept set of %d", c, outside, keep);
			/* tokens expected >= 10 times are checked one by one (5 standard errors); the rarer
			 * ones together, as one aggregate frequency; and the kept set's weakest tenth as a
			 * group, so that a cut too early (tokens missing at the end) fails too */
			int bad = 0;
			double tail_p = 0, tail_f = 0, end_p = 0, end_f = 0;
			for (int i = 0; i < keep; i++) {
				double pi = exp(big[order[i]] - mxb) / z, f = (double)cnt[order[i]] / N;
				if (i >= keep - keep / 10 - 1) end_p += pi, end_f += f;
				if (pi * N < 10) tail_p += pi, tail_f += f;
				else if (fabs(f - pi) > 5 * sqrt(pi * (1 - pi) / N)) bad++;
			}
			if (fabs(tail_f - tail_p) > 5 * sqrt(tail_p * (1 - tail_p) / N) + 1e-9) bad++;
			if (fabs(end_f - end_p) > 5 * sqrt(end_p * (1 - end_p) / N) + 1e-9) bad++;
			CHECK_MSG(bad == 0, "large vocab case %zu: %d of %d kept tokens off their probability", c, bad, keep);
			sampler_free(&sb);
		}
	}

	/* logprobs: log-softmax of the raw logits, top-k sorted */
	float lse;
	float lp0 = logits_logprob(L, V, 0, &lse);
	double z = 0;
	for (int i = 0; i < V; i++) z += exp(L[i]);
	CHECK(fabs(lp0 - (L[0] - log(z))) < 1e-5);
	int32_t ids[3];
	float lps[3];
	logits_top(L, V, 3, ids, lps);
	CHECK(ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
	CHECK(fabs(lps[1] - (L[1] - log(z))) < 1e-5);
	TEST_END();
}
