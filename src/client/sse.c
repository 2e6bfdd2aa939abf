/* sse.c — the text/event-stream parser of sse.h (WHATWG "event stream interpretation", reduced to
 * the data field: OpenAI-compatible servers put everything there). */
#include "client/sse.h"

#include <string.h>

void sse_parser_init(struct sse_parser *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->line);
	buf_init(&p->data);
}

void sse_parser_free(struct sse_parser *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
}

static int dispatch(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	if (!p->has_data) return 0;
	p->has_data = false;
	if (!p->data.data) buf_reserve(&p->data, 1), p->data.data[0] = '\0';
	int rc = fn(ctx, p->data.data, p->data.len);
	buf_clear(&p->data);
	if (rc) p->stopped = true;
	return rc;
}

/* One complete line (without its terminator). */
static int line_done(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	const char *s = p->line.data ? p->line.data : "";
	size_t n = p->line.len;
	int rc = 0;
	if (n == 0) rc = dispatch(p, fn, ctx);
	else if (s[0] != ':') {
		const char *colon = memchr(s, ':', n);
		size_t name_len = colon ? (size_t)(colon - s) : n;
		if (name_len == 4 && !memcmp(s, "data", 4)) {
			const char *v = colon ? colon + 1 : s + n;
			if (v < s + n && *v == ' ') v++; /* one optional space after the colon */
			if (p->has_data) buf_putc(&p->data, '\n');
			buf_append(&p->data, v, (size_t)(s + n - v));
			p->has_data = true;
		}
	}
	buf_clear(&p->line);
	return rc;
}

int sse_feed(struct sse_parser *p, const char *bytes, size_t n, sse_event_fn fn, void *ctx)
{
	GLM_ASSERT(!p->stopped);
	size_t i = 0;
	while (i < n) {
		char c = bytes[i];
		if (p->after_cr) {
			p->after_cr = false;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			p->after_cr = c == '\r';
			i++;
			int rc = line_done(p, fn, ctx);
			if (rc) return rc;
			continue;
		}
		/* copy the run of ordinary bytes at once */
		size_t j = i;
		while (j < n && bytes[j] != '\r' && bytes[j] != '\n') j++;
		buf_append(&p->line, bytes + i, j - i);
		i = j;
	}
	return 0;
}

int sse_finish(struct sse_parser *p, sse_event_fn fn, void *ctx)
{
	if (p->stopped) return 0;
	if (p->line.len) {
		int rc = line_done(p, fn, ctx);
		if (rc) return rc;
	}
	return dispatch(p, fn, ctx);
}
