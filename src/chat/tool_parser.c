/* tool_parser.c — the glm45/glm47 tool-call state machine and argument typing; see
 * tool_parser.h for the behaviour and the decisions taken where SGLang's paths disagree.
 * Facts from sgl-project/sglang python/sglang/srt/function_call/glm4_moe_detector.py and
 * glm47_moe_detector.py (newest read): name/pair regexes, parse_arguments' fallback chain,
 * unknown names dropped in parse_base_json (base_format_detector.py).
 * Thread rules: none (pure, one parser per stream). */
#include "chat/tool_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tag_scan.h"
#include "chat/tool_json.h"

/* ------------------------------------------------------------------ typing */

/* Strategy coercion for integer/number keys: a JSON string holding a number becomes it. */
static struct tool_json *coerce_numeric(struct tool_json *v, enum tool_arg_type t)
{
	if (v->type != TOOL_JSON_TYPE_STRING) return v;
	struct tool_json *x = NULL;
	if (t == TOOL_ARG_TYPE_INTEGER) {
		x = tool_py_int(v->s, v->len);
	} else if (t == TOOL_ARG_TYPE_NUMBER) {
		bool fl = memchr(v->s, '.', v->len) || memchr(v->s, 'e', v->len) || memchr(v->s, 'E', v->len);
		x = fl ? tool_py_float(v->s, v->len) : tool_py_int(v->s, v->len);
	}
	if (!x) return v;
	tool_json_free(v);
	return x;
}

/* json.loads(raw), else json.loads of raw read as the body of a JSON string (models that
 * escape their JSON: {\"a\": 1}); NULL when both fail. */
static struct tool_json *decode_json(const char *raw, size_t n, enum tool_arg_type t)
{
	struct tool_json *v = tool_json_loads(raw, n);
	if (v) return coerce_numeric(v, t);
	struct buf w;
	buf_init(&w);
	buf_puts(&w, "{\"tmp\": \"");
	buf_append(&w, raw, n);
	buf_puts(&w, "\"}");
	struct tool_json *wrapped = tool_json_loads(w.data, w.len);
	buf_free(&w);
	if (!wrapped) return NULL;
	const struct tool_json *tmp = tool_json_object_get(wrapped, "tmp");
	if (tmp && tmp->type == TOOL_JSON_TYPE_STRING) v = tool_json_loads(tmp->s, tmp->len);
	tool_json_free(wrapped);
	return v ? coerce_numeric(v, t) : NULL;
}

void tool_arg_to_json(const char *raw, size_t n, enum tool_arg_type type, struct buf *out)
{
	struct tool_json *v = decode_json(raw, n, type);
	if (type == TOOL_ARG_TYPE_STRING) {
		if (v && v->type == TOOL_JSON_TYPE_STRING) {
			tool_json_dumps(v, out);
		} else if (v && (v->type == TOOL_JSON_TYPE_ARRAY || v->type == TOOL_JSON_TYPE_OBJECT)) {
			struct buf s;
			buf_init(&s);
			tool_json_dumps(v, &s);
			tool_json_dump_string(s.data, s.len, out);
			buf_free(&s);
		} else if (!v && n >= 2 && raw[0] == raw[n - 1] && (raw[0] == '"' || raw[0] == '\'')) {
			tool_json_dump_string(raw + 1, n - 2, out);
		} else {
			/* Bare scalars (123, true, null) keep the text the model wrote. */
			tool_json_dump_string(raw, n, out);
		}
		tool_json_free(v);
		return;
	}
	if (!v) v = tool_json_literal_eval(raw, n);
	if (v) tool_json_dumps(v, out);
	else tool_json_dump_string(raw, n, out);
	tool_json_free(v);
}

void tool_text_strip(const char *s, size_t n, size_t *start, size_t *len) { tool_py_strip(s, n, start, len); }

/* A string-typed value can stream as it arrives unless its first character could make the whole
 * text decode as JSON (or lose wrapping quotes): JSON whitespace, quotes, `{`, `[`, backslash. */
static bool string_may_decode(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '{' || c == '[' ||
	       c == '\\';
}

/* ------------------------------------------------------------------ events */

void tool_events_init(struct tool_events *ev) { memset(ev, 0, sizeof *ev); }

void tool_events_clear(struct tool_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) free(ev->v[i].text);
	ev->n = 0;
}

void tool_events_free(struct tool_events *ev)
{
	tool_events_clear(ev);
	free(ev->v);
	tool_events_init(ev);
}

static struct tool_event *events_push(struct tool_events *ev, enum tool_event_type t, int index, const char *s,
                                      size_t n)
{
	if (ev->n == ev->cap) {
		ev->cap = ev->cap ? ev->cap * 2 : 16;
		ev->v = xrealloc(ev->v, ev->cap * sizeof *ev->v);
	}
	struct tool_event *e = &ev->v[ev->n++];
	memset(e, 0, sizeof *e);
	e->type = t;
	e->index = index;
	e->text = xstrndup(s ? s : "", s ? n : 0);
	e->len = s ? n : 0;
	return e;
}

/* ------------------------------------------------------------------ parser */

enum {
	STATE_TEXT,  /* outside calls */
	STATE_NAME,  /* after <tool_call> */
	STATE_SCAN,  /* inside a call, between pairs */
	STATE_KEY,   /* after <arg_key> */
	STATE_SEP,   /* after </arg_key>, before <arg_value> */
	STATE_VALUE, /* after <arg_value> */
};

enum { VMODE_UNDECIDED, VMODE_STREAM, VMODE_BUFFER };

enum { TAG_CALL, TAG_ECALL, TAG_KEY, TAG_EKEY, TAG_VAL, TAG_EVAL, TAG_COUNT };

/* Every tag has '<' only as its first byte: a mismatch releases all held bytes but a new '<'. */
static const char *const tags[TAG_COUNT] = {"<tool_call>", "</tool_call>", "<arg_key>",
                                            "</arg_key>",  "<arg_value>",  "</arg_value>"};

static unsigned state_tags(const struct tool_parser *p)
{
	switch (p->state) {
	case STATE_TEXT: return 1u << TAG_CALL;
	case STATE_NAME:
		return p->kind == TOOL_PARSER_KIND_GLM47 ? (1u << TAG_KEY) | (1u << TAG_ECALL) : 1u << TAG_ECALL;
	case STATE_SCAN: return (1u << TAG_KEY) | (1u << TAG_ECALL);
	case STATE_KEY: return (1u << TAG_EKEY) | (1u << TAG_ECALL);
	case STATE_SEP: return (1u << TAG_VAL) | (1u << TAG_KEY) | (1u << TAG_ECALL);
	default: return (1u << TAG_EVAL) | (1u << TAG_ECALL);
	}
}

void tool_parser_init(struct tool_parser *p, enum tool_parser_kind kind, const struct tool_set *tools,
                      const struct tool_parser_opts *opts)
{
	memset(p, 0, sizeof *p);
	p->kind = kind;
	p->tools = tools;
	if (opts) p->opts = *opts;
	rng_seed(&p->rng, p->opts.id_seed);
	p->state = STATE_TEXT;
	p->out_type = -1;
	buf_init(&p->raw);
	buf_init(&p->name);
	buf_init(&p->key);
	buf_init(&p->value);
	buf_init(&p->out);
}

void tool_parser_free(struct tool_parser *p)
{
	buf_free(&p->raw);
	buf_free(&p->name);
	buf_free(&p->key);
	buf_free(&p->value);
	buf_free(&p->out);
}

/* Sends the pending delta; with all=false an incomplete UTF-8 tail stays for later. */
static void out_flush(struct tool_parser *p, struct tool_events *ev, bool all)
{
	if (p->out_type < 0 || p->out.len == 0) return;
	size_t k = all ? p->out.len : utf8_complete_prefix(p->out.data, p->out.len);
	if (k == 0) return;
	int index = p->out_type == TOOL_EVENT_TYPE_CALL_ARGS ? p->n_calls - 1 : -1;
	events_push(ev, (enum tool_event_type)p->out_type, index, p->out.data, k);
	memmove(p->out.data, p->out.data + k, p->out.len - k);
	p->out.len -= k;
	p->out.data[p->out.len] = 0;
}

static struct buf *out_begin(struct tool_parser *p, struct tool_events *ev, enum tool_event_type t)
{
	if (p->out_type != (int)t) {
		out_flush(p, ev, true);
		p->out_type = (int)t;
	}
	return &p->out;
}

static void emit_args(struct tool_parser *p, struct tool_events *ev, const char *s, size_t n)
{
	buf_append(out_begin(p, ev, TOOL_EVENT_TYPE_CALL_ARGS), s, n);
}

static struct tool_event *emit_event(struct tool_parser *p, struct tool_events *ev, enum tool_event_type t,
                                     const char *s, size_t n)
{
	out_flush(p, ev, true);
	return events_push(ev, t, t == TOOL_EVENT_TYPE_CALL_DROPPED ? -1 : p->n_calls - 1, s, n);
}

static void make_id(struct tool_parser *p, char *id)
{
	static const char hex[] = "0123456789abcdef";
	bool vllm = p->opts.id_style == TOOL_ID_STYLE_VLLM;
	int nhex = vllm ? 32 : 24;
	char *o = id + sprintf(id, "%s", vllm ? "chatcmpl-tool-" : "call_");
	uint64_t r = 0;
	for (int i = 0; i < nhex; i++) {
		if (i % 16 == 0) r = rng_next(&p->rng);
		*o++ = hex[r & 15];
		r >>= 4;
	}
	*o = 0;
}

static void call_reset(struct tool_parser *p)
{
	buf_clear(&p->raw);
	buf_clear(&p->name);
	buf_clear(&p->key);
	buf_clear(&p->value);
	p->fn = NULL;
	p->begun = p->dropping = false;
	p->first_pair = true;
	p->state = STATE_TEXT;
}

/* The name is complete: begin the call, or drop it when the function is unknown. */
static void name_complete(struct tool_parser *p, struct tool_events *ev)
{
	size_t a, len;
	tool_py_strip(p->name.data ? p->name.data : "", p->name.len, &a, &len);
	const char *name = p->name.data ? p->name.data + a : "";
	p->fn = tool_set_find(p->tools, name, len);
	if (len > 0 && (p->fn || p->opts.forward_unknown)) {
		p->begun = true;
		p->n_calls++;
		struct tool_event *e = emit_event(p, ev, TOOL_EVENT_TYPE_CALL_BEGIN, name, len);
		make_id(p, e->id);
	} else {
		p->dropping = true;
	}
	p->state = STATE_SCAN;
}

/* <arg_value> after a well-formed separator: the key is final, open the pair. */
static void pair_begin(struct tool_parser *p, struct tool_events *ev)
{
	size_t a, len;
	tool_py_strip(p->key.data ? p->key.data : "", p->key.len, &a, &len);
	const char *key = p->key.data ? p->key.data + a : "";
	if (p->begun) {
		struct buf *o = out_begin(p, ev, TOOL_EVENT_TYPE_CALL_ARGS);
		buf_puts(o, p->first_pair ? "{" : ", ");
		tool_json_dump_string(key, len, o);
		buf_puts(o, ": ");
		p->first_pair = false;
	}
	p->vtype = tool_fn_arg_type(p->fn, key, len);
	p->vmode = VMODE_UNDECIDED;
	buf_clear(&p->value);
	p->state = STATE_VALUE;
}

static void value_end(struct tool_parser *p, struct tool_events *ev)
{
	if (p->begun) {
		if (p->vmode == VMODE_STREAM) {
			emit_args(p, ev, "\"", 1);
		} else {
			struct buf *o = out_begin(p, ev, TOOL_EVENT_TYPE_CALL_ARGS);
			tool_arg_to_json(p->value.data ? p->value.data : "", p->value.len, p->vtype, o);
		}
	}
	p->state = STATE_SCAN;
}

static void call_end(struct tool_parser *p, struct tool_events *ev)
{
	if (p->state == STATE_NAME) name_complete(p, ev);
	else if (p->state == STATE_VALUE) value_end(p, ev);
	if (p->begun) {
		emit_args(p, ev, p->first_pair ? "{}" : "}", p->first_pair ? 2 : 1);
		emit_event(p, ev, TOOL_EVENT_TYPE_CALL_END, p->raw.data, p->raw.len);
	} else {
		emit_event(p, ev, TOOL_EVENT_TYPE_CALL_DROPPED, p->raw.data, p->raw.len);
	}
	call_reset(p);
}

static void sep_reset(struct tool_parser *p)
{
	p->sep_state = 0;
	p->sep_utf8_len = 0;
}

static void on_tag(struct tool_parser *p, int tag, struct tool_events *ev)
{
	if (p->state == STATE_TEXT) { /* only <tool_call> is live here */
		call_reset(p);
		buf_puts(&p->raw, tags[TAG_CALL]);
		p->state = STATE_NAME;
		return;
	}
	buf_puts(&p->raw, tags[tag]);
	if (tag == TAG_ECALL) return call_end(p, ev);
	switch (p->state) {
	case STATE_NAME: /* glm47: <arg_key> ends the name */
		name_complete(p, ev);
		buf_clear(&p->key);
		p->state = STATE_KEY;
		break;
	case STATE_SCAN:
		buf_clear(&p->key);
		p->state = STATE_KEY;
		break;
	case STATE_KEY:
		sep_reset(p);
		p->state = STATE_SEP;
		break;
	case STATE_SEP:
		if (tag == TAG_KEY) { /* the open pair never got a value: drop it, start anew */
			buf_clear(&p->key);
			p->state = STATE_KEY;
		} else if (p->sep_state == 0 && p->sep_utf8_len == 0) {
			pair_begin(p, ev);
		} else {
			p->state = STATE_SCAN;
		}
		break;
	case STATE_VALUE: value_end(p, ev); break;
	}
}

/* Text (not tags) in the current state. Returns how much it consumed: less than n only when the
 * state changed, and then the rest is processed again in the new state. */
static size_t on_text(struct tool_parser *p, const char *s, size_t n, struct tool_events *ev)
{
	switch (p->state) {
	case STATE_TEXT: buf_append(out_begin(p, ev, TOOL_EVENT_TYPE_CONTENT), s, n); return n;
	case STATE_NAME:
		if (p->kind == TOOL_PARSER_KIND_GLM47) {
			buf_append(&p->name, s, n);
			return n;
		}
		/* glm45: the name ends at the first newline or literal backslash-n. */
		for (size_t k = 0; k < n; k++) {
			bool bs = p->name.len && p->name.data[p->name.len - 1] == '\\';
			if (s[k] == '\n' || (s[k] == 'n' && bs)) {
				if (s[k] == 'n') p->name.data[--p->name.len] = 0;
				name_complete(p, ev);
				return k + 1;
			}
			buf_putc(&p->name, s[k]);
		}
		return n;
	case STATE_SCAN: return n;
	case STATE_KEY: buf_append(&p->key, s, n); return n;
	case STATE_SEP:
		/* Python's (?:\\n|\s)*: whitespace (str.isspace) or literal backslash-n only. */
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)s[k];
			bool bad = false;
			if (p->sep_state == 1) {
				if (c == 'n') p->sep_state = 0;
				else bad = true;
			} else if (p->sep_utf8_len || c >= 0x80) {
				p->sep_utf8[p->sep_utf8_len++] = (char)c;
				uint32_t cp;
				int len = utf8_decode(p->sep_utf8, p->sep_utf8_len, &cp);
				if (len > 0) {
					bad = !tool_py_isspace(cp);
					p->sep_utf8_len = 0;
				} else if (utf8_complete_prefix(p->sep_utf8, p->sep_utf8_len) == p->sep_utf8_len ||
				           p->sep_utf8_len == 4) {
					bad = true; /* not a sequence that can still complete */
				}
			} else if (c == '\\') {
				p->sep_state = 1;
			} else {
				bad = !tool_py_isspace(c);
			}
			if (bad) {
				p->state = STATE_SCAN; /* the pair is malformed: drop it */
				return k;
			}
		}
		return n;
	default: /* STATE_VALUE */
		if (p->dropping) return n;
		if (p->vmode == VMODE_UNDECIDED) {
			bool stream = p->vtype == TOOL_ARG_TYPE_STRING && !string_may_decode(s[0]);
			p->vmode = stream ? VMODE_STREAM : VMODE_BUFFER;
			if (stream) emit_args(p, ev, "\"", 1);
		}
		if (p->vmode == VMODE_STREAM) {
			tool_json_escape(s, n, out_begin(p, ev, TOOL_EVENT_TYPE_CALL_ARGS));
		} else {
			buf_append(&p->value, s, n);
		}
		return n;
	}
}

static void process(struct tool_parser *p, const char *s, size_t n, struct tool_events *ev);

/* Text in the current state; the part left over after a state change is processed anew. */
static void run_text(struct tool_parser *p, const char *s, size_t n, struct tool_events *ev)
{
	while (n) {
		bool in_call = p->state != STATE_TEXT;
		size_t k = on_text(p, s, n, ev);
		if (in_call) buf_append(&p->raw, s, k);
		s += k, n -= k;
		if (n && k == 0) return process(p, s, n, ev);
	}
}

/* ------------------------------------------------------------------ tag_scan glue */

static unsigned scan_live(void *p) { return state_tags(p); }
static void scan_text(void *p, void *ev, const char *s, size_t n) { run_text(p, s, n, ev); }
static void scan_tag(void *p, void *ev, int tag) { on_tag(p, tag, ev); }
static const struct tag_scan_ops scan_ops = {tags, TAG_COUNT, scan_live, scan_text, scan_tag};
_Static_assert(sizeof((struct tool_parser *)0)->pend == TAG_SCAN_HELD_MAX, "pend is the tag_scan hold buffer");

static void process(struct tool_parser *p, const char *s, size_t n, struct tool_events *ev)
{
	tag_scan_feed(&scan_ops, p->pend, &p->pend_len, p, ev, s, n);
}

/* The held bytes cannot become a tag: they are text. */
static void release_pend(struct tool_parser *p, struct tool_events *ev)
{
	tag_scan_release(&scan_ops, p->pend, &p->pend_len, p, ev);
}

void tool_parser_feed(struct tool_parser *p, const char *text, size_t n, struct tool_events *out)
{
	process(p, text, n, out);
	out_flush(p, out, false);
}

void tool_parser_finish(struct tool_parser *p, struct tool_events *out)
{
	while (p->pend_len) release_pend(p, out);
	if (p->state != STATE_TEXT) {
		/* Generation ended inside a call: nothing was lost, it is content after all. */
		if (p->begun) emit_event(p, out, TOOL_EVENT_TYPE_CALL_ABORT, NULL, 0);
		struct buf raw = p->raw;
		buf_init(&p->raw);
		call_reset(p);
		buf_append(out_begin(p, out, TOOL_EVENT_TYPE_CONTENT), raw.data, raw.len);
		buf_free(&raw);
	}
	out_flush(p, out, true);
}

/* ------------------------------------------------------------------ non-streaming */

/* Result strings are allocated in powers of two (so appends stay linear); the size is implied
 * by the length, no capacity field needed. */
static size_t cap_for(size_t len)
{
	size_t c = 16;
	while (c < len + 1) c *= 2;
	return c;
}

static char *str_new(void)
{
	char *s = xmalloc(cap_for(0));
	s[0] = 0;
	return s;
}

static void str_append(char **s, size_t *len, const char *add, size_t n)
{
	if (cap_for(*len + n) != cap_for(*len)) *s = xrealloc(*s, cap_for(*len + n));
	memcpy(*s + *len, add, n);
	*len += n;
	(*s)[*len] = 0;
}

void tool_parse_result_init(struct tool_parse_result *r)
{
	memset(r, 0, sizeof *r);
	r->content = str_new();
}

void tool_parse_result_free(struct tool_parse_result *r)
{
	for (size_t i = 0; i < r->n_calls; i++) {
		free(r->calls[i].name);
		free(r->calls[i].arguments);
	}
	free(r->calls);
	free(r->content);
	memset(r, 0, sizeof *r);
}

void tool_parse_result_add(struct tool_parse_result *r, const struct tool_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		const struct tool_event *e = &ev->v[i];
		struct tool_call *c = NULL;
		bool lookup = e->type == TOOL_EVENT_TYPE_CALL_ARGS || e->type == TOOL_EVENT_TYPE_CALL_ABORT;
		for (size_t k = lookup ? r->n_calls : 0; k-- > 0 && !c;) /* the newest call, in practice */
			if (r->calls[k].index == e->index) c = &r->calls[k];
		if (e->type != TOOL_EVENT_TYPE_CONTENT) r->saw_call = true;
		switch (e->type) {
		case TOOL_EVENT_TYPE_CONTENT:
			str_append(&r->content, &r->content_len, e->text, e->len);
			if (!r->saw_call) r->content_head_len = r->content_len;
			break;
		case TOOL_EVENT_TYPE_CALL_BEGIN:
			if ((r->n_calls & (r->n_calls - 1)) == 0) /* 0, 1, 2, 4, ...: double */
				r->calls = xrealloc(r->calls, (r->n_calls ? 2 * r->n_calls : 1) * sizeof *r->calls);
			c = &r->calls[r->n_calls++];
			memcpy(c->id, e->id, sizeof c->id);
			c->index = e->index;
			c->name = xstrndup(e->text, e->len);
			c->arguments = str_new();
			c->arguments_len = 0;
			break;
		case TOOL_EVENT_TYPE_CALL_ARGS:
			if (c) str_append(&c->arguments, &c->arguments_len, e->text, e->len);
			break;
		case TOOL_EVENT_TYPE_CALL_ABORT:
			if (c) {
				free(c->name);
				free(c->arguments);
				size_t at = (size_t)(c - r->calls);
				memmove(c, c + 1, (r->n_calls - at - 1) * sizeof *c);
				r->n_calls--;
			}
			break;
		default: break;
		}
	}
}

void tool_parse_all(enum tool_parser_kind kind, const struct tool_set *tools, const struct tool_parser_opts *opts,
                    const char *text, size_t n, struct tool_parse_result *out)
{
	struct tool_parser p;
	struct tool_events ev;
	tool_parser_init(&p, kind, tools, opts);
	tool_events_init(&ev);
	tool_parser_feed(&p, text, n, &ev);
	tool_parser_finish(&p, &ev);
	tool_parse_result_init(out);
	tool_parse_result_add(out, &ev);
	tool_events_free(&ev);
	tool_parser_free(&p);
}
