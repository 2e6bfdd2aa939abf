/* harness.h — drives the reasoning and tool-call parsers over one input in different splits
 * (whole, byte by byte, random pieces) and reduces their events to a canonical text in which
 * adjacent deltas of one kind are joined, so that splits can be compared exactly. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "chat/reasoning.h"
#include "chat/tool_parser.h"

enum split_mode { SPLIT_WHOLE, SPLIT_BYTES, SPLIT_RANDOM };

/* Sizes of the successive pieces: whole, 1 byte, or random 1..24 with some long runs. */
static size_t split_next(int mode, struct rng *r, size_t left)
{
	if (mode == SPLIT_WHOLE) return left;
	if (mode == SPLIT_BYTES) return 1;
	size_t k = rng_next(r) % 8 == 0 ? 1 + rng_next(r) % 200 : 1 + rng_next(r) % 24;
	return k < left ? k : left;
}

static bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint32_t cp;
		int k = utf8_decode(s + i, n - i, &cp);
		if (k <= 0) return false;
		i += (size_t)k;
	}
	return true;
}

/* One joined segment of the event stream. */
struct seg {
	int type, index;
	char id[48];
	struct buf text;
};

struct canon {
	struct seg *v;
	size_t n, cap;
	bool utf8_ok; /* every delta was valid UTF-8 on its own */
};

static void canon_add(struct canon *c, int type, int index, const char *id, const char *s, size_t n, bool joinable)
{
	if (joinable && c->n && c->v[c->n - 1].type == type && c->v[c->n - 1].index == index) {
		buf_append(&c->v[c->n - 1].text, s, n);
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	struct seg *g = &c->v[c->n++];
	g->type = type;
	g->index = index;
	snprintf(g->id, sizeof g->id, "%s", id ? id : "");
	buf_init(&g->text);
	buf_append(&g->text, s, n);
}

static void canon_free(struct canon *c)
{
	for (size_t i = 0; i < c->n; i++) buf_free(&c->v[i].text);
	free(c->v);
	memset(c, 0, sizeof *c);
}

/* Printable form: one line per segment, bytes outside printable ASCII as \xNN. */
static char *canon_text(const struct canon *c)
{
	static const char *tnames[] = {"content", "begin", "args", "end", "abort", "dropped", "reasoning"};
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < c->n; i++) {
		const struct seg *g = &c->v[i];
		buf_printf(&b, "%s[%d]%s%s:", tnames[g->type], g->index, g->id[0] ? " " : "", g->id);
		for (size_t k = 0; k < g->text.len; k++) {
			unsigned char ch = (unsigned char)g->text.data[k];
			if (ch >= 0x20 && ch < 0x7f && ch != '\\') buf_putc(&b, (char)ch);
			else buf_printf(&b, "\\x%02x", ch);
		}
		buf_putc(&b, '\n');
	}
	return buf_take(&b);
}

#define SEG_REASONING 6

/* Runs the reasoning parser; fills res (joined) and returns the canonical event text. */
static char *run_reasoning(const char *in, size_t n, bool start, int mode, uint64_t seed, struct reasoning_result *res,
                           bool *utf8_ok)
{
	struct reasoning_parser p;
	struct reasoning_events ev;
	struct canon c = {0};
	struct rng r;
	c.utf8_ok = true;
	rng_seed(&r, seed);
	reasoning_parser_init(&p, start);
	reasoning_events_init(&ev);
	if (res) reasoning_result_init(res);
	size_t i = 0;
	for (int last = 0; !last;) {
		if (i < n) {
			size_t k = split_next(mode, &r, n - i);
			reasoning_parser_feed(&p, in + i, k, &ev);
			i += k;
		} else {
			reasoning_parser_finish(&p, &ev);
			last = 1;
		}
		for (size_t e = 0; e < ev.n; e++) {
			int t = ev.v[e].type == REASONING_EVENT_TYPE_REASONING ? SEG_REASONING : 0;
			canon_add(&c, t, -1, NULL, ev.v[e].text, ev.v[e].len, true);
			c.utf8_ok &= utf8_valid(ev.v[e].text, ev.v[e].len) && ev.v[e].len > 0;
		}
		if (res) reasoning_result_add(res, &ev);
		reasoning_events_clear(&ev);
	}
	reasoning_events_free(&ev);
	reasoning_parser_free(&p);
	if (utf8_ok) *utf8_ok = c.utf8_ok;
	char *s = canon_text(&c);
	canon_free(&c);
	return s;
}

/* Runs a tool parser; fills res and, if raw is given, the concatenation of content and of the
 * raw markup of ended and dropped calls (which must give back the input). */
static char *run_tools(enum tool_parser_kind kind, const struct tool_set *ts, const struct tool_parser_opts *opts,
                       const char *in, size_t n, int mode, uint64_t seed, struct tool_parse_result *res,
                       struct buf *raw, bool *utf8_ok)
{
	struct tool_parser p;
	struct tool_events ev;
	struct canon c = {0};
	struct rng r;
	c.utf8_ok = true;
	rng_seed(&r, seed);
	tool_parser_init(&p, kind, ts, opts);
	tool_events_init(&ev);
	if (res) tool_parse_result_init(res);
	size_t i = 0;
	for (int last = 0; !last;) {
		if (i < n) {
			size_t k = split_next(mode, &r, n - i);
			tool_parser_feed(&p, in + i, k, &ev);
			i += k;
		} else {
			tool_parser_finish(&p, &ev);
			last = 1;
		}
		for (size_t e = 0; e < ev.n; e++) {
			const struct tool_event *x = &ev.v[e];
			bool join = x->type == TOOL_EVENT_TYPE_CONTENT || x->type == TOOL_EVENT_TYPE_CALL_ARGS;
			canon_add(&c, x->type, x->index, x->id, x->text, x->len, join);
			if (join) c.utf8_ok &= utf8_valid(x->text, x->len) && x->len > 0;
			if (raw && (x->type == TOOL_EVENT_TYPE_CONTENT || x->type == TOOL_EVENT_TYPE_CALL_END ||
			            x->type == TOOL_EVENT_TYPE_CALL_DROPPED))
				buf_append(raw, x->text, x->len);
		}
		if (res) tool_parse_result_add(res, &ev);
		tool_events_clear(&ev);
	}
	tool_events_free(&ev);
	tool_parser_free(&p);
	if (utf8_ok) *utf8_ok = c.utf8_ok;
	char *s = canon_text(&c);
	canon_free(&c);
	return s;
}
