/* sse.h — incremental parser of a text/event-stream body (the framing of OpenAI streaming
 * responses): bytes in, one callback per complete event's data out. Feed it whatever the network
 * delivers (a byte at a time or megabytes); events split across feeds come out whole.
 * Owns only its line buffer. Knows nothing of JSON or OpenAI: the caller interprets the data.
 * Thread rules: one parser per stream, used by one thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* Called with the data of one event (the "data:" lines joined by '\n', without the trailing
 * newline; NUL-terminated). Return 0 to go on, non-zero to stop: sse_feed then returns that value
 * and the parser must not be fed again. */
typedef int (*sse_event_fn)(void *ctx, const char *data, size_t len);

struct sse_parser {
	struct buf line;  /* the current, incomplete line */
	struct buf data;  /* data lines of the current event */
	bool has_data;    /* a data: field was seen in the current event */
	bool after_cr;    /* the last byte was '\r' (a following '\n' belongs to the same line end) */
	bool stopped;     /* the callback asked to stop */
};

void sse_parser_init(struct sse_parser *p);
void sse_parser_free(struct sse_parser *p);
/* Lines end with "\n", "\r\n" or "\r"; a blank line dispatches the event; lines starting with ':'
 * are comments (pings); fields other than data (event, id, retry) are ignored. */
int sse_feed(struct sse_parser *p, const char *bytes, size_t n, sse_event_fn fn, void *ctx);
/* End of the body: an event whose blank line never came is still dispatched (servers that close
 * right after the last "data: [DONE]\n" are common). */
int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ctx);
