/* fuzz_reasoning.c — fuzz target for the glm45 reasoning parser (src/chat/reasoning.c) fed
 * arbitrary model output. Input: byte 0 bit 0 = start_in_reasoning, the rest is the text.
 * Invariants:
 *  - fed whole, byte by byte and in two random splits, the joined events are identical;
 *  - every delta is non-empty, and valid UTF-8 when the text is;
 *  - reasoning_parse_all equals the joined stream;
 *  - the split is the one reasoning.h describes, computed here by plain string search (leading
 *    " \t\n\r" then `<think>` switches reasoning on; in reasoning, the first `</think>` (dropped)
 *    or `<tool_call>` (kept) ends it; otherwise everything is content).
 * Thread rules: single-threaded. */
#include <string.h>

#include "chat/reasoning.h"
#include "fuzz.h"

const size_t fuzz_max_len = 2048;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_NONE;
const char *const fuzz_dict[] = {
	"<think>", "</think>", "<tool_call>", "</tool_call>", "<think", "</thi", "<tool_", "<", "</", "<<", " ", "\n",
	"\t", "\r\n", "é", "北京", "😀", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", NULL,
};

struct seg {
	int type;
	struct buf text;
};

struct canon {
	struct seg v[16]; /* reasoning then content: a handful at most */
	size_t n;
};

static void canon_add(struct canon *c, int type, const char *s, size_t n)
{
	if (c->n && c->v[c->n - 1].type == type) {
		buf_append(&c->v[c->n - 1].text, s, n);
		return;
	}
	FUZZ_CHECK(c->n < sizeof c->v / sizeof *c->v, "too many alternations for this harness");
	struct seg *g = &c->v[c->n++];
	g->type = type;
	buf_init(&g->text);
	buf_append(&g->text, s, n);
}

static void canon_free(struct canon *c)
{
	for (size_t i = 0; i < c->n; i++) buf_free(&c->v[i].text);
	c->n = 0;
}

static bool canon_eq(const struct canon *a, const struct canon *b)
{
	if (a->n != b->n) return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->v[i].type != b->v[i].type || a->v[i].text.len != b->v[i].text.len ||
		    memcmp(a->v[i].text.data, b->v[i].text.data, a->v[i].text.len))
			return false;
	return true;
}

static const char *const mode_name[] = {"whole", "byte by byte", "random split"};

static void run(const char *in, size_t n, bool start, enum fuzz_split mode, uint64_t seed, bool utf8, struct canon *c,
                struct reasoning_result *res)
{
	struct reasoning_parser p;
	struct reasoning_events ev;
	struct rng r;
	rng_seed(&r, seed);
	reasoning_parser_init(&p, start);
	reasoning_events_init(&ev);
	reasoning_result_init(res);
	size_t i = 0;
	for (bool last = false; !last;) {
		if (i < n) {
			size_t k = fuzz_split_next(mode, &r, n - i);
			reasoning_parser_feed(&p, in + i, k, &ev);
			i += k;
		} else {
			reasoning_parser_finish(&p, &ev);
			last = true;
		}
		for (size_t k = 0; k < ev.n; k++) {
			const struct reasoning_event *x = &ev.v[k];
			FUZZ_CHECK(x->type == REASONING_EVENT_TYPE_REASONING || x->type == REASONING_EVENT_TYPE_CONTENT,
			           "event type %d", (int)x->type);
			FUZZ_CHECK(x->len > 0, "an empty delta (%s)", mode_name[mode]);
			FUZZ_CHECK(x->text[x->len] == 0, "delta not NUL-terminated");
			if (utf8) FUZZ_CHECK(fuzz_utf8_valid(x->text, x->len), "a delta is not whole UTF-8 (%s)", mode_name[mode]);
			canon_add(c, (int)x->type, x->text, x->len);
		}
		reasoning_result_add(res, &ev);
		reasoning_events_clear(&ev);
	}
	reasoning_events_free(&ev);
	reasoning_parser_free(&p);
}

/* reasoning.h's rules as string searches. */
static void oracle(const char *in, size_t n, bool start, struct buf *reasoning, struct buf *content)
{
	size_t i = 0;
	while (i < n && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r')) i++;
	bool on = start;
	size_t pos = 0;
	if (n - i >= 7 && !memcmp(in + i, "<think>", 7)) on = true, pos = i + 7;
	if (!on) return buf_append(content, in, n);
	const char *end = memmem(in + pos, n - pos, "</think>", 8), *call = memmem(in + pos, n - pos, "<tool_call>", 11);
	if (!end && !call) return buf_append(reasoning, in + pos, n - pos);
	if (end && (!call || end < call)) {
		buf_append(reasoning, in + pos, (size_t)(end - in) - pos);
		buf_append(content, end + 8, n - (size_t)(end + 8 - in));
	} else {
		buf_append(reasoning, in + pos, (size_t)(call - in) - pos);
		buf_append(content, call, n - (size_t)(call - in));
	}
}

static bool same(const char *a, size_t an, const char *b, size_t bn) { return an == bn && !memcmp(a, b, an); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size) return 0;
	bool start = data[0] & 1;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	bool utf8 = fuzz_utf8_valid(in, n);
	uint64_t h = fuzz_hash(data, size);
	static struct canon whole, other;
	struct reasoning_result rw, ro;
	run(in, n, start, FUZZ_SPLIT_WHOLE, 0, utf8, &whole, &rw);
	const enum fuzz_split modes[] = {FUZZ_SPLIT_BYTES, FUZZ_SPLIT_RANDOM, FUZZ_SPLIT_RANDOM};
	for (size_t m = 0; m < 3; m++) {
		run(in, n, start, modes[m], h + m, utf8, &other, &ro);
		FUZZ_CHECK(canon_eq(&whole, &other), "%s events differ from whole (%zu vs %zu segments)", mode_name[modes[m]],
		           other.n, whole.n);
		canon_free(&other);
		reasoning_result_free(&ro);
	}
	struct reasoning_result all;
	reasoning_parse_all(start, in, n, &all);
	FUZZ_CHECK(same(all.reasoning, all.reasoning_len, rw.reasoning, rw.reasoning_len) &&
	               same(all.content, all.content_len, rw.content, rw.content_len),
	           "reasoning_parse_all differs from the joined stream");
	struct buf r, c;
	buf_init(&r);
	buf_init(&c);
	oracle(in, n, start, &r, &c);
	FUZZ_CHECK(same(r.data ? r.data : "", r.len, rw.reasoning, rw.reasoning_len),
	           "reasoning differs from reasoning.h's rules (%zu vs %zu bytes)", rw.reasoning_len, r.len);
	FUZZ_CHECK(same(c.data ? c.data : "", c.len, rw.content, rw.content_len),
	           "content differs from reasoning.h's rules (%zu vs %zu bytes)", rw.content_len, c.len);
	buf_free(&r);
	buf_free(&c);
	reasoning_result_free(&all);
	reasoning_result_free(&rw);
	canon_free(&whole);
	return 0;
}
