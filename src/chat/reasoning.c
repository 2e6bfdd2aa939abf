/* reasoning.c — the glm45 reasoning split; see reasoning.h for the rules.
 * Facts from sgl-project/sglang python/sglang/srt/parser/reasoning_parser.py (Glm45Detector:
 * tool_start_token "<tool_call>", kept in normal text) and vLLM's DeepSeek-R1-style
 * basic_parsers.py (an optional leading start token; no end token means all reasoning).
 * Thread rules: none (pure). */
#include "chat/reasoning.h"

#include <stdlib.h>
#include <string.h>

#include "chat/tag_scan.h"

enum { STATE_LEAD, STATE_REASONING, STATE_CONTENT };
enum { TAG_THINK, TAG_ETHINK, TAG_CALL, TAG_COUNT };

/* '<' only ever starts a tag, so a mismatch releases every held byte but a new '<'. */
static const char *const tags[TAG_COUNT] = {"<think>", "</think>", "<tool_call>"};

void reasoning_events_init(struct reasoning_events *ev) { memset(ev, 0, sizeof *ev); }

void reasoning_events_clear(struct reasoning_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) free(ev->v[i].text);
	ev->n = 0;
}

void reasoning_events_free(struct reasoning_events *ev)
{
	reasoning_events_clear(ev);
	free(ev->v);
	reasoning_events_init(ev);
}

void reasoning_parser_init(struct reasoning_parser *p, bool start_in_reasoning)
{
	memset(p, 0, sizeof *p);
	p->state = STATE_LEAD;
	p->start_in_reasoning = start_in_reasoning;
	p->out_type = -1;
	buf_init(&p->lead);
	buf_init(&p->out);
}

void reasoning_parser_free(struct reasoning_parser *p)
{
	buf_free(&p->lead);
	buf_free(&p->out);
}

bool reasoning_parser_in_content(const struct reasoning_parser *p) { return p->state == STATE_CONTENT; }

static void out_flush(struct reasoning_parser *p, struct reasoning_events *ev, bool all)
{
	if (p->out_type < 0 || p->out.len == 0) return;
	size_t k = all ? p->out.len : utf8_complete_prefix(p->out.data, p->out.len);
	if (k == 0) return;
	if (ev->n == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 16;
		ev->v = xrealloc(ev->v, ev->cap * sizeof *ev->v);
	}
	struct reasoning_event *e = &ev->v[ev->n++];
	e->type = (enum reasoning_event_type)p->out_type;
	e->text = xstrndup(p->out.data, k);
	e->len = k;
	memmove(p->out.data, p->out.data + k, p->out.len - k);
	p->out.len -= k;
	p->out.data[p->out.len] = 0;
}

static void emit(struct reasoning_parser *p, struct reasoning_events *ev, enum reasoning_event_type t,
                 const char *s, size_t n)
{
	if (p->out_type != (int)t) {
		out_flush(p, ev, true);
		p->out_type = (int)t;
	}
	buf_append(&p->out, s, n);
}

static unsigned state_tags(const struct reasoning_parser *p)
{
	if (p->state == STATE_LEAD) return 1u << TAG_THINK;
	if (p->state == STATE_REASONING) return (1u << TAG_ETHINK) | (1u << TAG_CALL);
	return 0;
}

static void process(struct reasoning_parser *p, const char *s, size_t n, struct reasoning_events *ev);

/* Leading whitespace turned out not to precede `<think>`: it belongs to the initial mode. */
static void lead_release(struct reasoning_parser *p, struct reasoning_events *ev)
{
	p->state = p->start_in_reasoning ? STATE_REASONING : STATE_CONTENT;
	if (p->lead.len)
		emit(p, ev, p->start_in_reasoning ? REASONING_EVENT_TYPE_REASONING : REASONING_EVENT_TYPE_CONTENT,
		     p->lead.data, p->lead.len);
	buf_clear(&p->lead);
}

/* Text in the current state; returns what it consumed (less only after a state change). */
static size_t on_text(struct reasoning_parser *p, const char *s, size_t n, struct reasoning_events *ev)
{
	if (p->state == STATE_LEAD) {
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r')) k++;
		buf_append(&p->lead, s, k);
		if (k < n) lead_release(p, ev);
		return k;
	}
	emit(p, ev, p->state == STATE_REASONING ? REASONING_EVENT_TYPE_REASONING : REASONING_EVENT_TYPE_CONTENT, s, n);
	return n;
}

static void run_text(struct reasoning_parser *p, const char *s, size_t n, struct reasoning_events *ev)
{
	while (n) {
		size_t k = on_text(p, s, n, ev);
		s += k, n -= k;
		if (n && k == 0) return process(p, s, n, ev);
	}
}

static void on_tag(struct reasoning_parser *p, int tag, struct reasoning_events *ev)
{
	switch (tag) {
	case TAG_THINK: /* leading <think>: drop it with the whitespace before it */
		buf_clear(&p->lead);
		p->state = STATE_REASONING;
		break;
	case TAG_ETHINK: p->state = STATE_CONTENT; break;
	case TAG_CALL:
		p->state = STATE_CONTENT;
		emit(p, ev, REASONING_EVENT_TYPE_CONTENT, tags[TAG_CALL], strlen(tags[TAG_CALL]));
		break;
	}
}

/* ------------------------------------------------------------------ tag_scan glue */

static unsigned scan_live(void *p) { return state_tags(p); }
static void scan_text(void *p, void *ev, const char *s, size_t n) { run_text(p, s, n, ev); }
static void scan_tag(void *p, void *ev, int tag) { on_tag(p, tag, ev); }
static const struct tag_scan_ops scan_ops = {tags, TAG_COUNT, scan_live, scan_text, scan_tag};
_Static_assert(sizeof((struct reasoning_parser *)0)->pend == TAG_SCAN_HELD_MAX, "pend is the tag_scan hold buffer");

/* In STATE_CONTENT no tag is live, so with nothing held the rest goes out as content at once. */
static void process(struct reasoning_parser *p, const char *s, size_t n, struct reasoning_events *ev)
{
	tag_scan_feed(&scan_ops, p->pend, &p->pend_len, p, ev, s, n);
}

static void release_pend(struct reasoning_parser *p, struct reasoning_events *ev)
{
	tag_scan_release(&scan_ops, p->pend, &p->pend_len, p, ev);
}

void reasoning_parser_feed(struct reasoning_parser *p, const char *text, size_t n, struct reasoning_events *out)
{
	process(p, text, n, out);
	out_flush(p, out, false);
}

void reasoning_parser_finish(struct reasoning_parser *p, struct reasoning_events *out)
{
	while (p->pend_len) release_pend(p, out);
	if (p->state == STATE_LEAD) lead_release(p, out);
	out_flush(p, out, true);
}

/* Result strings are allocated in powers of two (appends stay linear); the size follows from
 * the length. */
static size_t cap_for(size_t len)
{
	size_t c = 16;
	while (c < len + 1) c *= 2;
	return c;
}

void reasoning_result_init(struct reasoning_result *r)
{
	memset(r, 0, sizeof *r);
	r->reasoning = xcalloc(1, cap_for(0));
	r->content = xcalloc(1, cap_for(0));
}

void reasoning_result_free(struct reasoning_result *r)
{
	free(r->reasoning);
	free(r->content);
	memset(r, 0, sizeof *r);
}

void reasoning_result_add(struct reasoning_result *r, const struct reasoning_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		const struct reasoning_event *e = &ev->v[i];
		char **s = e->type == REASONING_EVENT_TYPE_REASONING ? &r->reasoning : &r->content;
		size_t *len = e->type == REASONING_EVENT_TYPE_REASONING ? &r->reasoning_len : &r->content_len;
		if (cap_for(*len + e->len) != cap_for(*len)) *s = xrealloc(*s, cap_for(*len + e->len));
		memcpy(*s + *len, e->text, e->len);
		*len += e->len;
		(*s)[*len] = 0;
	}
}

void reasoning_parse_all(bool start_in_reasoning, const char *text, size_t n, struct reasoning_result *out)
{
	struct reasoning_parser p;
	struct reasoning_events ev;
	reasoning_parser_init(&p, start_in_reasoning);
	reasoning_events_init(&ev);
	reasoning_parser_feed(&p, text, n, &ev);
	reasoning_parser_finish(&p, &ev);
	reasoning_result_init(out);
	reasoning_result_add(out, &ev);
	reasoning_events_free(&ev);
	reasoning_parser_free(&p);
}
