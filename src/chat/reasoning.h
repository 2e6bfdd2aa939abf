/* reasoning.h — the `glm45` reasoning parser (docs/serving.md §2, column "SGLang / vLLM 2026",
 * plus SGLang PR #17714: `<tool_call>` also ends reasoning). Incremental: text in, events out
 * (reasoning deltas, content deltas). Owns: the split of the model's output into
 * reasoning_content and content. Does not own: deciding whether thinking is on (the caller
 * passes start_in_reasoning), tool calls (content goes on to tool_parser.h), trimming.
 * Thread rules: pure; one parser per stream.
 *
 * Rules:
 *  - start_in_reasoning: true when the rendered prompt ends inside an open think block (GLM-4.7/5
 *    prompts ending in `<think>`) or thinking is on and the model opens `<think>` itself
 *    (GLM-4.5/4.6); false when enable_thinking is false.
 *  - A leading `<think>` (after optional ASCII whitespace, which is dropped with it) switches
 *    reasoning on whatever start_in_reasoning says (SGLang parses it; vLLM drops what precedes
 *    `<think>`). A `<think>` anywhere else is ordinary text.
 *  - In reasoning, text up to `</think>` is reasoning; the tag is dropped; the rest is content.
 *    `<tool_call>` also ends reasoning, and the tag itself goes to content so the tool parser
 *    sees it. With neither, everything is reasoning (a truncated thought).
 *  - Once in content, everything is content (one think block per turn).
 *  - No trimming, as in SGLang's newest detector: `<think>R</think>\nA` gives reasoning "R" and
 *    content "\nA". The non-streaming result equals the joined stream exactly; a non-stream
 *    response maps empty strings to null at the edge.
 *  - Held back only: a suffix that could still become `<think>` (at the start), `</think>` or
 *    `<tool_call>` (in reasoning), leading whitespace (at the start), and an incomplete UTF-8
 *    sequence at the end of a delta. finish() flushes everything. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

enum reasoning_event_type {
	REASONING_EVENT_TYPE_REASONING,
	REASONING_EVENT_TYPE_CONTENT,
};

struct reasoning_event {
	enum reasoning_event_type type;
	char *text; /* NUL-terminated, len bytes */
	size_t len;
};

/* Append-only; the caller consumes and clears it. */
struct reasoning_events {
	struct reasoning_event *v;
	size_t n, cap;
};

void reasoning_events_init(struct reasoning_events *ev);
void reasoning_events_clear(struct reasoning_events *ev);
void reasoning_events_free(struct reasoning_events *ev);

/* Fields are private. Caller-owned storage: reasoning_parser_init / reasoning_parser_free. */
struct reasoning_parser {
	int state;
	bool start_in_reasoning;
	char pend[16];
	size_t pend_len;
	struct buf lead; /* leading whitespace, held until we know whether `<think>` follows */
	int out_type;    /* kind of the pending delta, -1 for none */
	struct buf out;
};

void reasoning_parser_init(struct reasoning_parser *p, bool start_in_reasoning);
void reasoning_parser_free(struct reasoning_parser *p);
void reasoning_parser_feed(struct reasoning_parser *p, const char *text, size_t n, struct reasoning_events *out);
void reasoning_parser_finish(struct reasoning_parser *p, struct reasoning_events *out);
/* True once reasoning has ended (content is flowing): the caller may stop routing through. */
bool reasoning_parser_in_content(const struct reasoning_parser *p);

struct reasoning_result {
	char *reasoning; /* "" when none (NUL-terminated, reasoning_len bytes) */
	size_t reasoning_len;
	char *content; /* "" when none */
	size_t content_len;
};

/* Feed + finish over the whole text. */
void reasoning_parse_all(bool start_in_reasoning, const char *text, size_t n, struct reasoning_result *out);
void reasoning_result_init(struct reasoning_result *r);
/* Folds events into r (deltas of each kind appended). */
void reasoning_result_add(struct reasoning_result *r, const struct reasoning_events *ev);
void reasoning_result_free(struct reasoning_result *r);
