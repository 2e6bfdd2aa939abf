/* tool_parser.h — the `glm45` and `glm47` tool-call parsers (docs/serving.md §3): incremental
 * state machines over the assistant's content text (after the reasoning split) that turn
 * `<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...</tool_call>` into events:
 * content deltas, call begin (index, id, name), argument JSON fragments, call end.
 * Owns: the tool set (names + argument types compiled from each tool's `parameters` schema),
 * the parser state, the argument typing. Does not own: JSON requests/responses (the server edge
 * builds SSE chunks / messages from the events), the reasoning split (reasoning.h).
 * Thread rules: pure; a parser is used by one thread at a time; a tool_set is read-only once
 * built and may be shared by parsers on several threads.
 *
 * Behaviour (SGLang's newest detectors [S-tp45, S-tp47], as §3 and §7 item 4 describe):
 *  - glm45: the name is the text up to the first newline or literal backslash-n; glm47: up to the
 *    first `<arg_key>`; both: up to `</tool_call>` when neither comes (a call without
 *    arguments). Names are trimmed (Python str.strip()).
 *  - Pairs `<arg_key>K</arg_key>` + whitespace / literal backslash-n + `<arg_value>V</arg_value>`;
 *    text elsewhere inside a call is ignored. Keys are trimmed, values never are.
 *  - A value is typed by the schema type of its key (`properties`, following `$ref` into
 *    $defs/definitions, type arrays, anyOf/oneOf/allOf, enum/const, also properties declared in
 *    root combinators): string -> the raw text (a JSON string literal is decoded, a JSON
 *    object/array is re-serialized, wrapping quotes of non-JSON text stripped); any other or
 *    unknown type -> json.loads, then json.loads after unescaping, then ast.literal_eval, then
 *    the raw string; integer/number also coerce numeric strings ("42" -> 42).
 *  - Arguments are json.dumps(obj, ensure_ascii=False): `{"city": "北京", "days": 2}`.
 *  - Calls to names not in the tool set are dropped (TOOL_EVENT_TYPE_CALL_DROPPED carries their
 *    raw text for logging), unless forward_unknown is set.
 *  - Ids: `call_<24 hex>` (SGLang) or `chatcmpl-tool-<32 hex>` (vLLM), from the caller's seed.
 *
 * Decisions where upstream is inconsistent (so that a stream always equals the non-stream):
 *  - All text outside complete calls (before, between, after) is content, untrimmed, for both
 *    parsers. SGLang's non-stream path keeps only the text before the first call for glm45 and
 *    strips it; its streaming path emits all of it. For a non-stream response the edge applies
 *    tool_text_strip() (SGLang) or maps whitespace-only content to null (vLLM 2026).
 *  - A call still open at finish() (no `</tool_call>`) becomes content verbatim; if its begin
 *    event was already sent, TOOL_EVENT_TYPE_CALL_ABORT precedes that content.
 *  - A call closes at its first `</tool_call>`, even inside a value (as upstream's regex does);
 *    an open value is then closed as it stands, so the arguments are always valid JSON.
 *  - A `</arg_key>` followed by anything but whitespace and `<arg_value>` drops that pair
 *    (the regex would instead stretch the key to a later `</arg_key>`).
 *  - Duplicate keys are all emitted in order (json.loads keeps the last), since a stream
 *    cannot take back a sent pair.
 *  - The glm47 detector's value-driven union disambiguation (discriminator branches) is not
 *    implemented: a union of several types types the value as SGLang's glm45 does
 *    (infer_type_from_json_schema).
 * Streaming granularity: the begin event when the name is complete; `{"key": ` when
 * `<arg_value>` arrives; string-typed values stream as they arrive whenever their first character
 * cannot change the typing (not whitespace, quote, `{`, `[` or backslash); other values once
 * `</arg_value>` arrives; `}` (or `{}`) at `</tool_call>`. Every delta ends on a UTF-8 character
 * boundary (an incomplete trailing sequence waits for the next feed or finish). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ------------------------------------------------------------------ tools */

enum tool_arg_type {
	TOOL_ARG_TYPE_UNKNOWN, /* key not in the schema, or a schema without type information */
	TOOL_ARG_TYPE_STRING,
	TOOL_ARG_TYPE_INTEGER,
	TOOL_ARG_TYPE_NUMBER,
	TOOL_ARG_TYPE_BOOLEAN,
	TOOL_ARG_TYPE_NULL,
	TOOL_ARG_TYPE_OBJECT,
	TOOL_ARG_TYPE_ARRAY,
	TOOL_ARG_TYPE_OTHER, /* a type name outside JSON Schema's (after alias mapping): as UNKNOWN */
};

struct tool_param {
	char *name;
	size_t name_len;
	enum tool_arg_type type;
};

struct tool_fn {
	char *name;
	struct tool_param *params;
	size_t n_params;
};

/* The request's tools. Caller-owned storage: tool_set_init / tool_set_free. */
struct tool_set {
	struct tool_fn *fns;
	size_t n, cap;
};

void tool_set_init(struct tool_set *ts);
void tool_set_free(struct tool_set *ts);
/* Adds function `name` with its `parameters` JSON Schema as raw JSON text (parameters_json may
 * be NULL or "" for none). Fails, naming the tool, when the text is not JSON. */
int tool_set_add(struct tool_set *ts, const char *name, const char *parameters_json, struct err *e);
/* Adds a function whose argument types the caller already knows. */
void tool_set_add_typed(struct tool_set *ts, const char *name, const struct tool_param *params, size_t n);
/* The first function named name[0..n), or NULL. */
const struct tool_fn *tool_set_find(const struct tool_set *ts, const char *name, size_t n);
enum tool_arg_type tool_fn_arg_type(const struct tool_fn *fn, const char *key, size_t n);
/* The type SGLang infers for one property schema given as JSON text (root = the whole
 * `parameters` schema for $ref, may be NULL): for tests and tools. */
enum tool_arg_type tool_schema_infer_type(const char *prop_json, const char *root_json);
const char *tool_arg_type_name(enum tool_arg_type t);

/* Types one raw argument value and appends its JSON (json.dumps, ensure_ascii=False) to out. */
void tool_arg_to_json(const char *raw, size_t n, enum tool_arg_type type, struct buf *out);

/* Python str.strip() of s[0..n): the slice to keep (what SGLang does to non-stream content). */
void tool_text_strip(const char *s, size_t n, size_t *start, size_t *len);

/* ------------------------------------------------------------------ events */

enum tool_event_type {
	TOOL_EVENT_TYPE_CONTENT,      /* text: content delta */
	TOOL_EVENT_TYPE_CALL_BEGIN,   /* index, id, text: function name */
	TOOL_EVENT_TYPE_CALL_ARGS,    /* index, text: next piece of the arguments JSON object */
	TOOL_EVENT_TYPE_CALL_END,     /* index, text: the call's raw markup (for logs) */
	TOOL_EVENT_TYPE_CALL_ABORT,   /* index: the call never closed; its raw text follows as content */
	TOOL_EVENT_TYPE_CALL_DROPPED, /* text: raw markup of a call to an unknown function */
};

struct tool_event {
	enum tool_event_type type;
	int index;   /* call ordinal (0, 1, ...) for CALL_BEGIN/ARGS/END/ABORT; -1 otherwise */
	char id[48]; /* CALL_BEGIN only */
	char *text;  /* NUL-terminated, len bytes (may hold NUL bytes) */
	size_t len;
};

/* An append-only list the parser fills; the caller consumes and clears it. */
struct tool_events {
	struct tool_event *v;
	size_t n, cap;
};

void tool_events_init(struct tool_events *ev);
void tool_events_clear(struct tool_events *ev);
void tool_events_free(struct tool_events *ev);

/* ------------------------------------------------------------------ parser */

enum tool_parser_kind {
	TOOL_PARSER_KIND_GLM45, /* GLM-4.5 / 4.6 */
	TOOL_PARSER_KIND_GLM47, /* GLM-4.7 / 4.7-Flash / 5 */
};

enum tool_id_style {
	TOOL_ID_STYLE_SGLANG, /* call_<24 hex> */
	TOOL_ID_STYLE_VLLM,   /* chatcmpl-tool-<32 hex> */
};

struct tool_parser_opts {
	enum tool_id_style id_style;
	uint64_t id_seed;     /* ids are a pure function of the seed and the call order */
	bool forward_unknown; /* SGLANG_FORWARD_UNKNOWN_TOOLS: keep calls to unknown names (untyped) */
};

/* Parser state; fields are private. Caller-owned storage: tool_parser_init / tool_parser_free. */
struct tool_parser {
	enum tool_parser_kind kind;
	const struct tool_set *tools;
	struct tool_parser_opts opts;
	struct rng rng;
	int state;
	char pend[16]; /* bytes that may still become a tag */
	size_t pend_len;
	int n_calls;                 /* calls begun so far (the next index) */
	struct buf raw;              /* the current call's markup since `<tool_call>` */
	struct buf name, key, value; /* the current name / key / buffered value */
	const struct tool_fn *fn;    /* the current call's function (NULL while dropping) */
	bool begun, dropping, first_pair;
	enum tool_arg_type vtype;
	int vmode;                   /* value: undecided / streaming string / buffered */
	int sep_state;               /* between `</arg_key>` and `<arg_value>`: 0 ok, 1 after '\\', 2 bad */
	char sep_utf8[4];
	size_t sep_utf8_len;
	int out_type;                /* kind of the pending delta, -1 for none */
	struct buf out;              /* pending delta bytes (content or argument JSON) */
};

void tool_parser_init(struct tool_parser *p, enum tool_parser_kind kind, const struct tool_set *tools,
                      const struct tool_parser_opts *opts);
void tool_parser_free(struct tool_parser *p);
/* Feeds any split of the content text; appends events to out. */
void tool_parser_feed(struct tool_parser *p, const char *text, size_t n, struct tool_events *out);
/* End of generation: flushes held text and reports an open call as content. */
void tool_parser_finish(struct tool_parser *p, struct tool_events *out);

/* ------------------------------------------------------------------ non-streaming */

struct tool_call {
	char id[48];
	int index;
	char *name;
	char *arguments; /* the JSON object text (arguments_len bytes) */
	size_t arguments_len;
};

struct tool_parse_result {
	char *content; /* all content, untrimmed; "" when none (NUL-terminated, content_len bytes) */
	size_t content_len;
	/* content[0..content_head_len) came before the first call that began or was dropped: what
	 * SGLang's non-stream glm45 path keeps (then strips); content_len when there was none. */
	size_t content_head_len;
	bool saw_call;
	struct tool_call *calls;
	size_t n_calls;
};

/* Feed + finish over the whole text, folded into a result. */
void tool_parse_all(enum tool_parser_kind kind, const struct tool_set *tools, const struct tool_parser_opts *opts,
                    const char *text, size_t n, struct tool_parse_result *out);
/* Folds events into r (r zeroed first by the caller or by tool_parse_result_init): content
 * deltas append, calls collect their arguments, aborted calls are removed. */
void tool_parse_result_init(struct tool_parse_result *r);
void tool_parse_result_add(struct tool_parse_result *r, const struct tool_events *ev);
void tool_parse_result_free(struct tool_parse_result *r);
