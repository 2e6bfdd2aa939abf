/* fuzz_tool_parser.c — fuzz target for the tool-call parsers (src/chat/tool_parser.c, typing in
 * tool_set.c and tool_json.c) fed arbitrary model output. Built twice: FUZZ_TOOL_KIND is
 * TOOL_PARSER_KIND_GLM45 (fuzz_tool_glm45) or TOOL_PARSER_KIND_GLM47 (fuzz_tool_glm47).
 * Input: byte 0 bit 0 = forward_unknown, bit 1 = vLLM id style; the rest is the content text.
 * The tool set is fixed, built from JSON Schemas as a request's tools are (every argument type,
 * enum, anyOf, $ref, a tool without parameters).
 * Invariants (tool_parser.h):
 *  - fed whole, byte by byte and in two random splits, the joined events are identical;
 *  - no text is lost: content deltas + the raw markup of ended and dropped calls = the input;
 *  - content and argument deltas are non-empty, and valid UTF-8 when the input is;
 *  - calls are numbered 0, 1, ... in order; each begun call gets argument pieces, then exactly
 *    one END or ABORT; nothing refers to a call that is not open;
 *  - names are trimmed, known to the tool set unless forward_unknown; ids have the chosen form;
 *  - the arguments of every ended call are a JSON object (tool_json_loads, Python's rules);
 *  - tool_parse_all equals the folded stream.
 * Thread rules: single-threaded. */
#include <string.h>

#include "chat/tool_json.h"
#include "chat/tool_parser.h"
#include "fuzz.h"

#ifndef FUZZ_TOOL_KIND
#error "build with -DFUZZ_TOOL_KIND=TOOL_PARSER_KIND_GLM45 or TOOL_PARSER_KIND_GLM47"
#endif

const size_t fuzz_max_len = 2048;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_NONE;
const char *const fuzz_dict[] = {
	"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "get_weather", "f",
	"search", "unknown_fn", "city", "days", "unit", "temp", "flag", "obj", "arr", "n", "any", "u", "r", "q", "\n",
	"\\n", " ", "\t", "\"", "'", "{", "}", "[", "]", "{\"a\": 1}", "[1, 2]", "\"quoted\"", "'single'", "True", "None",
	"null", "true", "NaN", "-Infinity", "1e400", "12", "-3.5", "0x1F", "(1, 2)", "{'a': (1,)}", "\\u00e9", "\\\"",
	"北京", "😀", "<", "</", "<tool", "</arg", "<think>", "</think>", NULL,
};

static struct tool_set g_tools;
static bool g_ready;

static void setup(void)
{
	struct err e = {{0}};
	tool_set_init(&g_tools);
	FUZZ_CHECK(!tool_set_add(&g_tools, "get_weather",
	                         "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": "
	                         "\"integer\"}, \"unit\": {\"enum\": [\"c\", \"f\"]}, \"temp\": {\"type\": \"number\"}, "
	                         "\"flag\": {\"type\": \"boolean\"}, \"obj\": {\"type\": \"object\"}, \"arr\": {\"type\": "
	                         "\"array\"}, \"n\": {\"type\": \"null\"}, \"any\": {}, \"u\": {\"anyOf\": [{\"type\": "
	                         "\"integer\"}, {\"type\": \"string\"}]}, \"r\": {\"$ref\": \"#/$defs/S\"}}, \"$defs\": "
	                         "{\"S\": {\"type\": \"string\"}}}",
	                         &e),
	           "get_weather: %s", e.msg);
	FUZZ_CHECK(!tool_set_add(&g_tools, "f", NULL, &e), "f: %s", e.msg);
	FUZZ_CHECK(!tool_set_add(&g_tools, "search", "{\"properties\": {\"q\": {\"type\": [\"string\", \"null\"]}}}", &e),
	           "search: %s", e.msg);
	g_ready = true;
}

/* One joined segment of the event stream. */
struct seg {
	enum tool_event_type type;
	int index;
	char id[48];
	struct buf text;
};

struct canon {
	struct seg *v;
	size_t n, cap;
};

static void canon_add(struct canon *c, const struct tool_event *x)
{
	bool join = x->type == TOOL_EVENT_TYPE_CONTENT || x->type == TOOL_EVENT_TYPE_CALL_ARGS;
	if (join && c->n && c->v[c->n - 1].type == x->type && c->v[c->n - 1].index == x->index) {
		buf_append(&c->v[c->n - 1].text, x->text, x->len);
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = xrealloc(c->v, c->cap * sizeof *c->v);
	}
	struct seg *g = &c->v[c->n++];
	g->type = x->type;
	g->index = x->index;
	memcpy(g->id, x->type == TOOL_EVENT_TYPE_CALL_BEGIN ? x->id : "", x->type == TOOL_EVENT_TYPE_CALL_BEGIN ? sizeof g->id : 1);
	buf_init(&g->text);
	buf_append(&g->text, x->text, x->len);
}

static void canon_free(struct canon *c)
{
	for (size_t i = 0; i < c->n; i++) buf_free(&c->v[i].text);
	free(c->v);
	memset(c, 0, sizeof *c);
}

static bool canon_eq(const struct canon *a, const struct canon *b)
{
	if (a->n != b->n) return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct seg *x = &a->v[i], *y = &b->v[i];
		if (x->type != y->type || x->index != y->index || strcmp(x->id, y->id) || x->text.len != y->text.len ||
		    memcmp(x->text.data, y->text.data, x->text.len))
			return false;
	}
	return true;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
	return s[n] == 0;
}

static const char *const mode_name[] = {"whole", "byte by byte", "random split"};

/* Checks the order of events as they come (whatever the split). */
struct order {
	int open;   /* index of the call begun and not yet ended, -1 for none */
	int begun;  /* calls begun so far */
};

static void check_event(struct order *o, const struct tool_event *x, const struct tool_parser_opts *opts, bool utf8,
                        enum fuzz_split mode)
{
	FUZZ_CHECK(x->text && x->text[x->len] == 0, "event text not NUL-terminated");
	switch (x->type) {
	case TOOL_EVENT_TYPE_CONTENT:
		FUZZ_CHECK(x->len > 0, "an empty content delta (%s)", mode_name[mode]);
		if (utf8) FUZZ_CHECK(fuzz_utf8_valid(x->text, x->len), "a content delta is not whole UTF-8 (%s)", mode_name[mode]);
		break;
	case TOOL_EVENT_TYPE_CALL_BEGIN: {
		FUZZ_CHECK(o->open < 0, "call %d begins while call %d is open", x->index, o->open);
		FUZZ_CHECK(x->index == o->begun, "call index %d, expected %d", x->index, o->begun);
		o->open = x->index;
		o->begun++;
		size_t s, l;
		tool_text_strip(x->text, x->len, &s, &l);
		FUZZ_CHECK(s == 0 && l == x->len, "call %d: name '%s' is not trimmed", x->index, x->text);
		if (!opts->forward_unknown)
			FUZZ_CHECK(tool_set_find(&g_tools, x->text, x->len), "call %d to unknown '%s' was not dropped", x->index,
			           x->text);
		if (opts->id_style == TOOL_ID_STYLE_SGLANG)
			FUZZ_CHECK(!strncmp(x->id, "call_", 5) && is_hex(x->id + 5, 24), "bad SGLang id '%s'", x->id);
		else FUZZ_CHECK(!strncmp(x->id, "chatcmpl-tool-", 14) && is_hex(x->id + 14, 32), "bad vLLM id '%s'", x->id);
		break;
	}
	case TOOL_EVENT_TYPE_CALL_ARGS:
		FUZZ_CHECK(x->index == o->open && o->open >= 0, "arguments for call %d while %d is open", x->index, o->open);
		FUZZ_CHECK(x->len > 0, "an empty arguments delta (%s)", mode_name[mode]);
		if (utf8) FUZZ_CHECK(fuzz_utf8_valid(x->text, x->len), "an arguments delta is not whole UTF-8 (%s)",
		                     mode_name[mode]);
		break;
	case TOOL_EVENT_TYPE_CALL_END:
	case TOOL_EVENT_TYPE_CALL_ABORT:
		FUZZ_CHECK(x->index == o->open && o->open >= 0, "end/abort of call %d while %d is open", x->index, o->open);
		o->open = -1;
		break;
	case TOOL_EVENT_TYPE_CALL_DROPPED:
		FUZZ_CHECK(o->open < 0, "a dropped call while call %d is open", o->open);
		FUZZ_CHECK(x->len > 0, "a dropped call without its text");
		break;
	default: FUZZ_CHECK(0, "unknown event type %d", (int)x->type);
	}
}

static void run(const char *in, size_t n, const struct tool_parser_opts *opts, enum fuzz_split mode, uint64_t seed,
                bool utf8, struct canon *c, struct buf *raw, struct tool_parse_result *res)
{
	struct tool_parser p;
	struct tool_events ev;
	struct rng r;
	struct order o = {-1, 0};
	rng_seed(&r, seed);
	tool_parser_init(&p, FUZZ_TOOL_KIND, &g_tools, opts);
	tool_events_init(&ev);
	tool_parse_result_init(res);
	size_t i = 0;
	for (bool last = false; !last;) {
		if (i < n) {
			size_t k = fuzz_split_next(mode, &r, n - i);
			tool_parser_feed(&p, in + i, k, &ev);
			i += k;
		} else {
			tool_parser_finish(&p, &ev);
			last = true;
		}
		for (size_t k = 0; k < ev.n; k++) {
			const struct tool_event *x = &ev.v[k];
			check_event(&o, x, opts, utf8, mode);
			canon_add(c, x);
			if (x->type == TOOL_EVENT_TYPE_CONTENT || x->type == TOOL_EVENT_TYPE_CALL_END ||
			    x->type == TOOL_EVENT_TYPE_CALL_DROPPED)
				buf_append(raw, x->text, x->len);
		}
		tool_parse_result_add(res, &ev);
		tool_events_clear(&ev);
	}
	FUZZ_CHECK(o.open < 0, "call %d still open after finish (%s)", o.open, mode_name[mode]);
	tool_events_free(&ev);
	tool_parser_free(&p);
}

static bool same(const char *a, size_t an, const char *b, size_t bn) { return an == bn && !memcmp(a, b, an); }

static bool results_eq(const struct tool_parse_result *a, const struct tool_parse_result *b)
{
	if (!same(a->content, a->content_len, b->content, b->content_len) || a->n_calls != b->n_calls ||
	    a->content_head_len != b->content_head_len || a->saw_call != b->saw_call)
		return false;
	for (size_t i = 0; i < a->n_calls; i++) {
		const struct tool_call *x = &a->calls[i], *y = &b->calls[i];
		if (strcmp(x->id, y->id) || x->index != y->index || strcmp(x->name, y->name) ||
		    !same(x->arguments, x->arguments_len, y->arguments, y->arguments_len))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_ready) setup();
	if (!size) return 0;
	struct tool_parser_opts opts = {
		.id_style = data[0] & 2 ? TOOL_ID_STYLE_VLLM : TOOL_ID_STYLE_SGLANG,
		.id_seed = fuzz_hash(data, size),
		.forward_unknown = data[0] & 1,
	};
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	bool utf8 = fuzz_utf8_valid(in, n);
	struct canon whole = {0}, other = {0};
	struct buf raw;
	buf_init(&raw);
	struct tool_parse_result rw, ro;
	run(in, n, &opts, FUZZ_SPLIT_WHOLE, 0, utf8, &whole, &raw, &rw);
	FUZZ_CHECK(same(raw.data ? raw.data : "", raw.len, in, n),
	           "text lost: content + call markup gives %zu bytes of the %zu in", raw.len, n);
	for (size_t k = 0; k < rw.n_calls; k++) {
		const struct tool_call *call = &rw.calls[k];
		struct tool_json *j = tool_json_loads(call->arguments, call->arguments_len);
		FUZZ_CHECK(j && j->type == TOOL_JSON_TYPE_OBJECT, "call %d (%s): arguments are not a JSON object: %s",
		           call->index, call->name, call->arguments);
		tool_json_free(j);
	}
	const enum fuzz_split modes[] = {FUZZ_SPLIT_BYTES, FUZZ_SPLIT_RANDOM, FUZZ_SPLIT_RANDOM};
	for (size_t m = 0; m < 3; m++) {
		buf_clear(&raw);
		run(in, n, &opts, modes[m], opts.id_seed + m, utf8, &other, &raw, &ro);
		FUZZ_CHECK(canon_eq(&whole, &other), "%s events differ from whole (%zu vs %zu segments)", mode_name[modes[m]],
		           other.n, whole.n);
		FUZZ_CHECK(results_eq(&rw, &ro), "%s result differs from whole", mode_name[modes[m]]);
		canon_free(&other);
		tool_parse_result_free(&ro);
	}
	struct tool_parse_result all;
	tool_parse_all(FUZZ_TOOL_KIND, &g_tools, &opts, in, n, &all);
	FUZZ_CHECK(results_eq(&all, &rw), "tool_parse_all differs from the folded stream");
	tool_parse_result_free(&all);
	tool_parse_result_free(&rw);
	canon_free(&whole);
	buf_free(&raw);
	return 0;
}
