/* api.h — the OpenAI-compatible API behind the HTTP layer (server.c): the server-wide context,
 * parsed requests as native structs, responses (a whole body or a pulled SSE stream) and the
 * route handlers. JSON (jansson) lives only in this directory: requests become native structs
 * here, and the chat-template renderer gets the messages as jinja values.
 * Thread rules: every handler runs on its HTTP connection's thread and may block it; the shared
 * context is read-only after start-up except the metrics (locked) and the scheduler (its own
 * rules, engine/scheduler.h). */
#pragma once
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "chat/tool_parser.h"
#include "engine/scheduler.h"
#include "model/model.h"
#include "server/metrics.h"
#include "tokenizer/tokenizer.h"

struct chat_template;

enum { API_RUNNING, API_DRAINING, API_ABORTING };

enum api_reasoning_parser { API_REASONING_PARSER_NONE, API_REASONING_PARSER_GLM45 };
enum api_tool_parser { API_TOOL_PARSER_NONE, API_TOOL_PARSER_GLM45, API_TOOL_PARSER_GLM47 };

#define API_MAX_N 16      /* choices per request (`n`) */
#define API_MAX_STOP 16   /* stop strings per request */
#define API_MAX_PROMPTS 64 /* prompts in one /v1/completions request */

/* What the server serves; filled by `glm serve` and read-only afterwards. */
struct api_ctx {
	const struct model_config *mcfg;
	const struct tokenizer *tok;
	const struct chat_template *tmpl; /* NULL: the checkpoint has no chat template */
	struct scheduler *sched;
	struct metrics *metrics;
	const char *model_path;
	const char *const *served_names; /* [n_served] first = the name responses use by default */
	int n_served;
	bool demo;                       /* the built-in demo checkpoint (random weights) */
	int max_model_len;
	enum api_reasoning_parser reasoning_parser;
	enum api_tool_parser tool_parser;
	bool enable_auto_tool_choice;
	long long created;               /* start time (unix s) for /v1/models */
	/* shutdown state, written by the main thread: API_DRAINING refuses new generations,
	 * API_ABORTING also cancels the running ones */
	atomic_int *stopping;
};

/* An OpenAI error: {"error": {"message", "type", "param", "code"}} with HTTP status = code. */
struct api_error {
	int status;
	char param[64]; /* "" = null */
	char message[1024];
};
int api_error_set(struct api_error *e, int status, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The error's JSON body. */
char *api_error_json(const struct api_error *e);
/* The OpenAI/vLLM type name of a status ("BadRequestError", ...). */
const char *api_error_type(int status);

/* The connection a handler serves: lets long waits notice a client that went away. */
struct api_conn {
	bool (*gone)(void *ctx);
	void *ctx;
};

/* A pulled stream of response bytes (SSE). read blocks until it has bytes, the stream ended
 * (returns 0) or the client went away / the server stops (returns -1). */
struct api_stream {
	ssize_t (*read)(struct api_stream *s, char *buf, size_t max);
	void (*destroy)(struct api_stream *s);
};

struct api_response {
	int status;
	const char *content_type;
	char *body; /* malloc'd, body_len bytes; NULL when streaming */
	size_t body_len;
	struct api_stream *stream;
};
void api_response_json(struct api_response *r, int status, json_t *body); /* takes body */
void api_response_error(struct api_response *r, const struct api_error *e);
void api_response_text(struct api_response *r, int status, const char *content_type, const char *text);
/* A 200 text/event-stream response pulled from s (which the HTTP layer destroys). */
void api_response_stream(struct api_response *r, struct api_stream *s);

/* ---- SSE output buffered in a struct buf, handed out by an api_stream's read ---- */
struct api_sse {
	struct buf out;
	size_t pos; /* bytes of out already handed out */
	bool ended; /* [DONE] is in out: nothing more will be added */
};
/* Appends `data: <json>\n\n`; takes o. */
void api_sse_put_json(struct buf *out, json_t *o);
/* Appends an error event `data: {"error": ...}` with status 500 (vLLM sends one in place of the
 * finish chunk of a choice that failed). */
void api_sse_put_error(struct buf *out, const char *msg);
/* Copies up to max of the bytes not yet handed out; clears out once all are. Returns the count,
 * 0 when nothing is buffered. */
size_t api_sse_drain(struct api_sse *sse, char *dst, size_t max);
/* The 400 for a prompt of n_input tokens that leaves no room below max_model_len. */
int api_error_context_length(struct api_error *e, const char *param, int max_model_len, int n_input);

/* ---- JSON helpers with OpenAI-style validation messages ---- */
/* Each getter: absent or null -> returns 0 leaving *out untouched; wrong type or range -> -1
 * with a 400 naming the field. */
int api_get_bool(json_t *o, const char *key, bool *out, struct api_error *e);
int api_get_int(json_t *o, const char *key, long long lo, long long hi, long long *out, struct api_error *e);
int api_get_number(json_t *o, const char *key, double lo, double hi, double *out, struct api_error *e);
int api_get_string(json_t *o, const char *key, const char **out, struct api_error *e);
/* 16 random hex digits per call, from a process-wide generator (thread-safe). */
void api_random_hex(char *out, int n_hex);
uint64_t api_random_u64(void);
/* json_stringn of text that is valid UTF-8 by construction; invalid bytes become U+FFFD. */
json_t *api_json_text(const char *s, size_t n);
/* chat_template_kwargs[key] as a tri-state: 1 true, 0 false, -1 absent or not a boolean. */
int api_kwarg_bool(json_t *kwargs, const char *key);
/* Compact JSON text of v (UTF-8 unescaped, reals with 9 significant digits). */
char *api_json_dump(const json_t *v);

/* ---- the parsed request (chat and completions share it) ---- */
enum api_tool_choice { API_TOOL_CHOICE_NONE, API_TOOL_CHOICE_AUTO, API_TOOL_CHOICE_REQUIRED, API_TOOL_CHOICE_NAMED };

struct api_request {
	bool chat;
	const char *model;          /* the served name to echo */
	bool stream, include_usage, continuous_usage;
	int n;
	struct sampling_params sp;  /* max_tokens < 0: not given (the route decides) */
	int32_t *stop_ids;          /* owned; sp.stop_ids points here */
	char *stops[API_MAX_STOP];  /* owned */
	int n_stops;
	bool skip_special;
	bool include_stop_str;      /* include_stop_str_in_output */
	bool logprobs;              /* chat: logprobs=true; completions: logprobs=int given */
	int top_logprobs;
	bool echo;                  /* completions */
	/* chat */
	json_t *messages;           /* borrowed from the body */
	json_t *tools;              /* borrowed; NULL when none */
	json_t *kwargs;             /* chat_template_kwargs, borrowed; NULL when none */
	json_t *tool_choice_json;   /* borrowed; NULL when absent */
	bool add_generation_prompt;
	bool include_reasoning;
	enum api_tool_choice tool_choice;
	bool tool_choice_given;
	const char *tool_choice_name;
	/* completions: prompts as token ids or text */
	int n_prompts;
	int32_t *prompt_ids[API_MAX_PROMPTS]; /* owned, when given as ids */
	int prompt_len[API_MAX_PROMPTS];
	const char *prompt_text[API_MAX_PROMPTS]; /* borrowed, when given as text */
};

/* Validates the body and fills r (borrowing from body: keep it alive). 0 or -1 with e set. */
int api_request_parse(const struct api_ctx *ctx, json_t *body, bool chat, struct api_request *r, struct api_error *e);
void api_request_free(struct api_request *r);

/* ---- routes ---- */
void api_chat(const struct api_ctx *ctx, json_t *body, const struct api_conn *conn, struct api_response *res);
void api_completions(const struct api_ctx *ctx, json_t *body, const struct api_conn *conn, struct api_response *res);
void api_tokenize(const struct api_ctx *ctx, json_t *body, struct api_response *res);
void api_detokenize(const struct api_ctx *ctx, json_t *body, struct api_response *res);
void api_models(const struct api_ctx *ctx, struct api_response *res);
/* Checks `model` against the served names; NULL model = the default. -1 with a 404. */
int api_check_model(const struct api_ctx *ctx, const char *model, struct api_error *e);
