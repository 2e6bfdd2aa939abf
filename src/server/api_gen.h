/* api_gen.h — the generations of one HTTP request (n choices, or one per completions prompt):
 * submits them to the scheduler, waits for their events, and turns each choice's tokens into
 * output deltas through the text pipeline
 *     token -> incremental detokenizer -> stop strings -> reasoning parser -> tool-call parser
 * (vLLM's order: stop strings are searched in the whole output, reasoning included). Routes
 * build SSE chunks from the deltas or fold them into a whole response.
 * Owns: the gen_requests (cancelled and released in api_gen_free, whatever state they are in),
 * the pipelines, the waiter the engine thread notifies.
 * Thread rules: one api_gen belongs to the HTTP thread serving its request; the engine thread
 * only calls the notify hook (which touches the waiter alone). */
#pragma once
#include <pthread.h>

#include "chat/reasoning.h"
#include "chat/tool_parser.h"
#include "server/api.h"
#include "server/stop_match.h"

struct api_logprob {
	int32_t token;
	float logprob;
	int n_top;
	int32_t top_ids[GEN_MAX_TOP];
	float top_logprobs[GEN_MAX_TOP];
};

struct api_lp_list {
	struct api_logprob *v;
	int n, cap;
};

struct api_choice {
	int index;
	struct gen_request *r;
	int n_prompt;
	/* pipeline */
	struct detok dt;
	struct stop_match sm;
	bool use_reasoning, use_tools;
	struct reasoning_parser rp;
	struct tool_parser tp;
	struct reasoning_events rev;
	struct tool_events tev;
	bool text_done;      /* a stop string matched: later tokens are ignored */
	bool done;           /* the DONE event was processed */
	bool reported;       /* on_delta was called at least once */
	bool every_token;    /* no reasoning/tool parser: on_delta is called for every token (vLLM's plain
	                      * path sends a chunk per engine output, also when its text is empty) */
	/* the delta since the routes last cleared it */
	int d_tokens;        /* generated tokens whose output is in this delta (0: a finish of its own) */
	struct buf d_reasoning, d_content;
	struct tool_events d_tools;
	struct api_lp_list d_lp;
	/* totals */
	struct buf reasoning, content;
	struct tool_parse_result calls;
	struct api_lp_list lp;
	int n_out;             /* tokens that count as output (up to a stop-string match) */
	/* end */
	const char *finish;    /* "stop", "length", "tool_calls", "abort", "error"; NULL while running. Set
	                        * as soon as the end is known: at a stop-string match (before the engine's
	                        * DONE arrives) or at the DONE event. */
	int stop_string;       /* index into the request's stops, or -1 */
	int32_t stop_token;    /* the eos/stop id that ended it, or -1 */
	bool primary_eos;      /* stop_token is the model's primary eos (stop_reason null) */
	char error[256];       /* GEN_FINISH_ERROR message */
	int n_cached;
	double t_first, t_last;
};

struct api_gen {
	const struct api_ctx *ctx;
	const struct api_request *req;
	int n;
	struct api_choice *c;
	const struct tool_set *tools;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long ticks; /* bumped by every notify */
	double t_start;
	double t_conn_check; /* last look at the client's socket */
	bool cancelled;
};

struct api_gen_setup {
	const int32_t *const *prompts; /* [n] token ids of each choice's prompt */
	const int *n_prompts;
	bool use_reasoning, start_in_reasoning;
	const struct tool_set *tools; /* NULL: no tool parsing */
	enum tool_parser_kind tool_kind;
};

/* Submits g->n choices. On failure (queue full, too long, shutdown) nothing stays submitted
 * and e holds the HTTP error. g must be freed with api_gen_free either way. */
int api_gen_start(struct api_gen *g, const struct api_ctx *ctx, const struct api_request *req, int n,
                  const struct api_gen_setup *setup, struct api_error *e);
/* Waits up to timeout_ms for events and processes them. on_delta is called
 *   - after a choice's first token, even when it produced no output (vLLM answers the first
 *     engine output of a request: routes send their per-choice opening chunk then);
 *   - without parsers (choice->every_token): after every later token, also one whose text is
 *     empty (a special token skipped, bytes of an incomplete UTF-8 character, text held back as
 *     the possible start of a stop string), so routes can send one chunk per token as vLLM does;
 *   - with a reasoning or tool parser: after every later token that produced output or
 *     logprobs (vLLM skips the deltas its parsers return as None);
 *   - exactly once with choice->finish set: at the DONE event, or at a stop-string match.
 * choice->d_tokens says how many tokens the delta stands for (normally 1; 0 for a finish that
 * came without a token of its own, e.g. an abort).
 * The token that ends a choice (a stop token, the max_tokens-th token, a stop-string match, or
 * one the engine's DONE directly follows) does not get a call of its own: its delta is handed
 * over together with the finish, so the last text carries finish_reason as in vLLM, where the
 * engine output holding the last token also holds the finish reason. A finish call with an
 * empty delta therefore means nothing was left to attach it to.
 * Returns the number of choices still running, or -1 when the client went away (everything is
 * cancelled then). Server shutdown cancels the choices, which then finish as "abort". */
typedef void (*api_delta_fn)(struct api_gen *g, struct api_choice *c, void *ud);
int api_gen_step(struct api_gen *g, int timeout_ms, const struct api_conn *conn, api_delta_fn on_delta, void *ud);
void api_gen_clear_delta(struct api_choice *c);
void api_gen_free(struct api_gen *g);
/* Runs every choice to its end, dropping the deltas (a whole, non-streaming response). Returns
 * 0, or -1 with res holding the error: 499 when the client went away, 500 with the message of
 * the first choice (by index) that finished with "error". */
int api_gen_run_whole(struct api_gen *g, const struct api_conn *conn, struct api_response *res);
/* The read of a route's api_stream: hands out what sse holds, else steps g, whose on_delta
 * appends chunks to sse->out; once every choice has ended, on_end (may be NULL) appends what goes
 * before `data: [DONE]` (the usage chunk), then [DONE] follows. Returns the byte count, 0 after
 * [DONE] went out, -1 when the client went away. */
ssize_t api_gen_sse_read(struct api_gen *g, const struct api_conn *conn, struct api_sse *sse, char *dst, size_t max,
                         api_delta_fn on_delta, void (*on_end)(void *ud), void *ud);
/* stop_reason of a finished choice: the matched stop string, a stop token other than the
 * model's primary eos, else null (vLLM). */
json_t *api_stop_reason_json(const struct api_request *req, const struct api_choice *c);

/* The token's text for logprobs (lossy UTF-8 of its bytes) and those bytes as a JSON list. */
json_t *api_token_string(const struct api_ctx *ctx, int32_t token);
json_t *api_token_bytes(const struct api_ctx *ctx, int32_t token);
/* vLLM clamps -inf logprobs to -9999. */
double api_logprob_value(float lp);
/* usage object: prompt/completion/total tokens (+ cached prompt tokens) */
json_t *api_usage_json(int prompt, int completion, int cached);
