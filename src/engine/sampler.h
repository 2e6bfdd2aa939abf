/* sampler.h — turns one row of logits into the next token, with vLLM's semantics: penalties
 * (repetition on prompt + output, presence/frequency on output), temperature (< 1e-5 = greedy),
 * top-k, top-p, min-p, then a draw from a per-request seeded generator. Logprobs are the natural
 * log-softmax of the raw logits, before any of those transforms. Request lifetime; one thread. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

struct sampling_params {
	float temperature;        /* default 1 */
	int top_k;                /* <= 0: off */
	float top_p;              /* 1: off */
	float min_p;              /* 0: off */
	float repetition_penalty; /* 1: off */
	float presence_penalty, frequency_penalty;
	bool has_seed;
	uint64_t seed;
	int max_tokens;           /* generated tokens at most */
	bool ignore_eos;
	const int32_t *stop_ids;  /* extra stop token ids (caller-owned) */
	int n_stop_ids;
	int n_logprobs;           /* < 0: no logprobs; else how many top alternatives */
};

void sampling_params_default(struct sampling_params *p);

struct sampler {
	struct sampling_params p;
	struct rng rng;
	int vocab;
	uint32_t *counts;   /* [vocab] times each token was generated */
	uint8_t *in_prompt; /* [vocab] 1 if the token occurs in the prompt */
	float *work;        /* [vocab] */
	int32_t *idx;       /* [vocab] */
	uint16_t *bucket;   /* [vocab] */
	double *e;          /* [vocab] exp(logit - max) */
};

void sampler_init(struct sampler *s, const struct sampling_params *p, int vocab, const int32_t *prompt, int n_prompt);
void sampler_free(struct sampler *s);
/* Picks the next token from logits[vocab] (not modified). */
int32_t sampler_sample(struct sampler *s, const float *logits);
/* Records a generated token (for the penalties). */
void sampler_accept(struct sampler *s, int32_t token);

/* log-softmax value of one token; *lse receives log-sum-exp of the row (reuse it). */
float logits_logprob(const float *logits, int vocab, int32_t token, float *lse);
/* The k most likely tokens (descending) with their logprobs. */
void logits_top(const float *logits, int vocab, int k, int32_t *ids, float *logprobs);
int32_t logits_argmax(const float *logits, int vocab);
