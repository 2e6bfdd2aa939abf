/* scheduler.h — continuous batching on the engine thread (design.md §3).
 * Any thread submits requests as native structs (no JSON below the server edge); one engine
 * thread owned by the scheduler runs steps: each step is one forward over the next token of
 * every running sequence plus chunks of waiting prompts, within a token budget; it samples and
 * posts events to each request's own queue. Only ids and copied parameters cross threads;
 * cancellation is a flag the engine thread acts on at its next step, freeing the KV blocks.
 *
 * Lifetimes: a gen_request is shared by its submitter and the engine thread (reference
 * counted); the submitter calls gen_request_release exactly once when it no longer reads it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "engine/sampler.h"

#define GEN_MAX_TOP 20

struct sched_config {
	int max_num_seqs;           /* running sequences at most (default 64) */
	int max_num_batched_tokens; /* tokens per step (default: the engine's max_batch_tokens) */
	int max_waiting;            /* waiting requests at most; submit fails beyond (default 1024) */
	bool enable_prefix_caching; /* share identical prompt prefixes' KV blocks (default on) */
};
void sched_config_default(struct sched_config *c);

struct gen_params {
	const int32_t *prompt; /* copied at submit */
	int n_prompt;
	struct sampling_params sampling; /* stop_ids copied at submit; n_logprobs <= GEN_MAX_TOP */
	/* Called on the engine thread after events were queued, with the request's lock held: keep
	 * it short (resume a suspended HTTP connection, signal a condvar) and never call gen_request_*
	 * from it. Never called after gen_request_release returned. May be NULL. */
	void (*notify)(void *ctx);
	void *notify_ctx;
};

enum gen_event_kind { GEN_EVENT_TOKEN, GEN_EVENT_DONE };
enum gen_finish { GEN_FINISH_NONE, GEN_FINISH_STOP, GEN_FINISH_LENGTH, GEN_FINISH_ABORT, GEN_FINISH_ERROR };

struct gen_event {
	enum gen_event_kind kind;
	/* GEN_EVENT_TOKEN */
	int32_t token;
	float logprob;          /* log-softmax of the raw logits (when logprobs were asked for) */
	int n_top;
	int32_t top_ids[GEN_MAX_TOP];
	float top_logprobs[GEN_MAX_TOP];
	/* GEN_EVENT_DONE: why it ended; with usage counts */
	enum gen_finish finish;
	int32_t stop_token;     /* the eos/stop id that ended it (GEN_FINISH_STOP), else -1 */
	int n_prompt_tokens, n_generated_tokens, n_cached_prompt_tokens;
	char error[256];
};

enum sched_submit_error { SCHED_SUBMIT_OK, SCHED_SUBMIT_QUEUE_FULL, SCHED_SUBMIT_TOO_LONG, SCHED_SUBMIT_BAD, SCHED_SUBMIT_SHUTDOWN };

struct scheduler;
struct gen_request;

/* Starts the engine thread. The engine must outlive the scheduler. */
struct scheduler *scheduler_create(struct engine *eng, const struct sched_config *cfg, struct err *e);
/* Stops the engine thread; requests still running end with GEN_FINISH_ABORT. */
void scheduler_destroy(struct scheduler *s);
/* Queues a request. On failure returns NULL, sets *why and fills e with a message. */
struct gen_request *scheduler_submit(struct scheduler *s, const struct gen_params *p, enum sched_submit_error *why,
                                     struct err *e);
/* Copies up to max queued events into ev, waiting up to timeout_ms (-1 = forever, 0 = no
 * wait) for the first one. Returns how many were copied. After a GEN_EVENT_DONE no more come. */
int gen_request_poll(struct gen_request *r, struct gen_event *ev, int max, int timeout_ms);
/* Asks the engine to stop the request (a client went away, or a stop string matched); a
 * GEN_EVENT_DONE with GEN_FINISH_ABORT follows unless it had already finished. */
void gen_request_cancel(struct gen_request *r);
void gen_request_release(struct gen_request *r);

struct sched_stats {
	int running, waiting;
	int kv_blocks_total, kv_blocks_used, kv_blocks_cached; /* cached: held only by the prefix cache */
	long long prompt_tokens, generation_tokens, cached_prompt_tokens; /* totals since start */
	long long requests_finished, preemptions, steps;
	long long prefix_hit_tokens, prefix_query_tokens; /* hit rate = hit / query */
};
/* Checks block accounting (for tests, call when idle): every KV block is free or held only by
 * the prefix cache. Returns the number of blocks violating that. */
int scheduler_check_blocks(struct scheduler *s);
void scheduler_stats(struct scheduler *s, struct sched_stats *out);
/* The longest prompt + generation the engine accepts. */
int scheduler_max_model_len(const struct scheduler *s);
