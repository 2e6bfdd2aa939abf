/* bench_dataset.h — prompts for the serving benchmark, made of real token ids of the target's
 * tokenizer so their lengths are exact: vLLM's "random" dataset (serving.md §5.2;
 * vllm/benchmarks/datasets/random.py): lengths uniform in [⌊L(1−r)⌋, ⌈L(1+r)⌉] (outputs at least
 * 1), a shared random prefix, then allowed_ids[(offset + i + k) mod |allowed|], decoded to text and
 * re-encoded/adjusted until the text encodes to exactly the target number of tokens.
 * The random draws come from base's rng seeded with --seed, not numpy's PCG64, so the prompts are
 * drawn the same way as vLLM's but are not the same strings.
 * Owns the prompts it returns. Thread rules: none (pure, given a tokenizer). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "tokenizer/tokenizer.h"

/* The id space vLLM draws from: Hugging Face's tokenizer.vocab_size (the model's vocab, without
 * added tokens) minus the special ids; here also minus the few ids whose bytes hold a NUL, which
 * most JSON parsers refuse inside strings (jansson without JSON_ALLOW_NUL answers 400). */
struct bench_vocab {
	int32_t vocab_size;  /* entries of model.vocab */
	int32_t *allowed;    /* ids in [0, vocab_size) that are not special added tokens */
	size_t n_allowed;
};
/* Reads tokenizer.json (model.vocab and added_tokens); t is the same file loaded. */
int bench_vocab_load(const struct tokenizer *t, const char *tokenizer_json, struct bench_vocab *v, struct err *e);
void bench_vocab_free(struct bench_vocab *v);

struct bench_prompt {
	char *text;         /* what is sent as the prompt (valid UTF-8) */
	int32_t *ids;       /* text encoded by the tokenizer: the ids sent with --prompt-ids */
	int prompt_len;     /* = number of ids */
	int target_len;     /* the length drawn (prompt_len differs only when the adjustment failed) */
	int output_len;     /* max_tokens */
};

struct bench_random_opts {
	int num_prompts;
	int input_len, output_len, prefix_len;
	double range_ratio; /* 0 <= r < 1 */
	uint64_t seed;
	int max_retry;      /* decode/re-encode rounds per prompt (vLLM: 10) */
};

/* Fills *out with o->num_prompts prompts (free with bench_prompts_free); *mismatch is the sum over
 * prompts of (encoded length - target), 0 when every prompt is exact. Fails on invalid options
 * (e names the flag). */
int bench_dataset_random(const struct tokenizer *t, const struct bench_vocab *v, const struct bench_random_opts *o,
                         struct bench_prompt **out, long *mismatch, struct err *e);
void bench_prompts_free(struct bench_prompt *p, int n);
