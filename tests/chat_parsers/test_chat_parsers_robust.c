/* test_chat_parsers_robust.c — malformed and hostile input for the reasoning and tool-call
 * parsers: 1 MB arguments, deep nesting, endless tag prefixes, thousands of calls, and a bounded
 * fuzz loop over tag-heavy and random bytes. Checks: no crash (run it under ASan/UBSan), roughly
 * linear time, every split gives the same joined events, and no text is lost (content plus the
 * markup of ended/dropped calls gives back the input; the reasoning split matches a plain
 * string-search oracle). */
#include <stdio.h>

#include "../test_util.h"
#include "chat/tool_json.h"
#include "harness.h"

static struct tool_set g_tools;

static const char *schema_typed =
	"{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\"},\"i\":{\"type\":\"integer\"},"
	"\"n\":{\"type\":\"number\"},\"a\":{\"type\":\"array\"},\"o\":{\"type\":\"object\"},\"u\":{}}}";

/* Parses whole, in random splits and (when small enough) byte by byte; checks that all agree,
 * that nothing is lost and that every ended call has a JSON object as arguments. */
static void check_tools(enum tool_parser_kind kind, const char *in, size_t n, uint64_t seed, bool valid_utf8,
                        const char *what)
{
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, seed, false};
	struct tool_parse_result res;
	struct buf raw;
	bool ok8;
	buf_init(&raw);
	char *whole = run_tools(kind, &g_tools, &opts, in, n, SPLIT_WHOLE, 0, &res, &raw, &ok8);
	CHECK_MSG(raw.len == n && memcmp(raw.data ? raw.data : "", in, n) == 0, "%s: text lost (seed %llu)", what,
	          (unsigned long long)seed);
	if (valid_utf8) CHECK_MSG(ok8, "%s: delta not whole UTF-8 (seed %llu)", what, (unsigned long long)seed);
	bool json_ok = true;
	for (size_t k = 0; k < res.n_calls; k++) {
		struct tool_json *j = tool_json_loads(res.calls[k].arguments, strlen(res.calls[k].arguments));
		json_ok &= j && j->type == TOOL_JSON_TYPE_OBJECT;
		tool_json_free(j);
	}
	CHECK_MSG(json_ok, "%s: arguments not a JSON object (seed %llu)", what, (unsigned long long)seed);
	tool_parse_result_free(&res);
	char *got = run_tools(kind, &g_tools, &opts, in, n, SPLIT_RANDOM, seed, NULL, NULL, NULL);
	CHECK_MSG(strcmp(got, whole) == 0, "%s: random split differs (seed %llu)", what, (unsigned long long)seed);
	free(got);
	if (n <= 4096) {
		got = run_tools(kind, &g_tools, &opts, in, n, SPLIT_BYTES, 0, NULL, NULL, NULL);
		CHECK_MSG(strcmp(got, whole) == 0, "%s: byte split differs (seed %llu)", what, (unsigned long long)seed);
		free(got);
	}
	free(whole);
	buf_free(&raw);
}

static const char *find(const char *s, size_t n, const char *w)
{
	return memmem(s, n, w, strlen(w));
}

/* The reasoning rules as plain string searches, for comparison. */
static void oracle_reasoning(const char *in, size_t n, bool start, struct buf *r, struct buf *c)
{
	size_t i = 0;
	while (i < n && strchr(" \t\n\r", in[i]) && in[i]) i++;
	bool reasoning = start;
	size_t pos = 0;
	if (n - i >= 7 && memcmp(in + i, "<think>", 7) == 0) reasoning = true, pos = i + 7;
	if (!reasoning) return buf_append(c, in, n);
	const char *e = find(in + pos, n - pos, "</think>"), *t = find(in + pos, n - pos, "<tool_call>");
	if (!e && !t) return buf_append(r, in + pos, n - pos);
	if (e && (!t || e < t)) {
		buf_append(r, in + pos, (size_t)(e - in) - pos);
		buf_append(c, e + 8, n - (size_t)(e + 8 - in));
	} else {
		buf_append(r, in + pos, (size_t)(t - in) - pos);
		buf_append(c, t, n - (size_t)(t - in));
	}
}

static void check_reasoning(const char *in, size_t n, bool start, uint64_t seed, bool valid_utf8, const char *what)
{
	struct reasoning_result res;
	struct buf r, c;
	bool ok8;
	buf_init(&r);
	buf_init(&c);
	char *whole = run_reasoning(in, n, start, SPLIT_WHOLE, 0, &res, &ok8);
	oracle_reasoning(in, n, start, &r, &c);
	CHECK_MSG(res.reasoning_len == r.len && memcmp(res.reasoning, r.data ? r.data : "", r.len) == 0 &&
	              res.content_len == c.len && memcmp(res.content, c.data ? c.data : "", c.len) == 0,
	          "%s: differs from the oracle (seed %llu)", what, (unsigned long long)seed);
	if (valid_utf8) CHECK_MSG(ok8, "%s: delta not whole UTF-8", what);
	reasoning_result_free(&res);
	char *got = run_reasoning(in, n, start, SPLIT_RANDOM, seed, NULL, NULL);
	CHECK_MSG(strcmp(got, whole) == 0, "%s: random split differs (seed %llu)", what, (unsigned long long)seed);
	free(got);
	if (n <= 4096) {
		got = run_reasoning(in, n, start, SPLIT_BYTES, 0, NULL, NULL);
		CHECK_MSG(strcmp(got, whole) == 0, "%s: byte split differs", what);
		free(got);
	}
	free(whole);
	buf_free(&r);
	buf_free(&c);
}

/* ------------------------------------------------------------------ big inputs */

#define MB (1u << 20)

static double g_t0;
static void timer_start(void) { g_t0 = time_now(); }
/* Generous bound: catches quadratic behaviour (minutes), not slow machines or sanitizers. */
static void timer_check(const char *what)
{
	double dt = time_now() - g_t0;
	CHECK_MSG(dt < 20.0, "%s took %.1f s", what, dt);
}

static void test_big(void)
{
	struct buf in, want;
	struct tool_parse_result res;
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, 1, false};

	/* 1 MB string argument, streamed: multi-byte text, quotes, newlines, tag look-alikes */
	buf_init(&in);
	buf_init(&want);
	buf_puts(&in, "<tool_call>typed<arg_key>s</arg_key><arg_value>");
	buf_puts(&want, "{\"s\": \"");
	static const char *piece = "x = \"北京\" < y </arg_valu\n\t";
	static const char *piece_json = "x = \\\"北京\\\" < y </arg_valu\\n\\t";
	while (in.len < MB) buf_puts(&in, piece), buf_puts(&want, piece_json);
	buf_puts(&in, "</arg_value></tool_call>");
	buf_puts(&want, "\"}");
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 1 && res.content_len == 0);
	CHECK(res.n_calls == 1 && strcmp(res.calls[0].arguments, want.data) == 0);
	tool_parse_result_free(&res);
	check_tools(TOOL_PARSER_KIND_GLM47, in.data, in.len, 3, true, "1 MB string");
	/* byte by byte too (1M feed calls) */
	char *bytes = run_tools(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, SPLIT_BYTES, 0, NULL, NULL, NULL);
	char *whole = run_tools(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, SPLIT_WHOLE, 0, NULL, NULL, NULL);
	CHECK(strcmp(bytes, whole) == 0);
	free(bytes);
	free(whole);
	timer_check("1 MB string argument");

	/* the same value unterminated: the call is content at finish, verbatim */
	in.len -= strlen("</arg_value></tool_call>");
	in.data[in.len] = 0;
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM45, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 0 && res.content_len == in.len && memcmp(res.content, in.data, in.len) == 0);
	tool_parse_result_free(&res);
	timer_check("1 MB unterminated call");

	/* 1 MB array for an array-typed key: buffered, then re-serialized with ", " */
	buf_clear(&in);
	buf_clear(&want);
	buf_puts(&in, "<tool_call>typed\n<arg_key>a</arg_key>\n<arg_value>[");
	buf_puts(&want, "{\"a\": [");
	for (int k = 0; in.len < MB; k++) {
		buf_printf(&in, "%s%d.5", k ? "," : "", k);
		buf_printf(&want, "%s%d.5", k ? ", " : "", k);
	}
	buf_puts(&in, "]</arg_value>\n</tool_call>");
	buf_puts(&want, "]}");
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM45, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 1 && strcmp(res.calls[0].arguments, want.data) == 0);
	tool_parse_result_free(&res);
	check_tools(TOOL_PARSER_KIND_GLM45, in.data, in.len, 4, true, "1 MB array");
	timer_check("1 MB array argument");

	/* 1 MB object with 100k distinct keys and duplicates (dict semantics stay linear) */
	buf_clear(&in);
	buf_puts(&in, "<tool_call>typed<arg_key>u</arg_key><arg_value>{");
	int nk = 0;
	for (; in.len < MB; nk++) buf_printf(&in, "%s\"k%d\": %d", nk ? ", " : "", nk % 50000, nk);
	buf_puts(&in, "}</arg_value></tool_call>");
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 1);
	if (res.n_calls == 1) {
		struct tool_json *j = tool_json_loads(res.calls[0].arguments, strlen(res.calls[0].arguments));
		const struct tool_json *u = j ? tool_json_object_get(j, "u") : NULL;
		CHECK(u && u->type == TOOL_JSON_TYPE_OBJECT && u->n == (size_t)(nk < 50000 ? nk : 50000));
		/* the last duplicate wins, at the first one's place */
		CHECK(u && u->n && u->items[0]->type == TOOL_JSON_TYPE_INT && atoi(u->items[0]->s) == (nk > 50000 ? 50000 : 0));
		tool_json_free(j);
	}
	tool_parse_result_free(&res);
	timer_check("1 MB object argument");

	/* deep nesting: falls back to a string, no stack overflow */
	buf_clear(&in);
	buf_puts(&in, "<tool_call>typed<arg_key>u</arg_key><arg_value>");
	for (int k = 0; k < 200000; k++) buf_putc(&in, '[');
	for (int k = 0; k < 200000; k++) buf_putc(&in, ']');
	buf_puts(&in, "</arg_value><arg_key>a</arg_key><arg_value>");
	for (int k = 0; k < 100000; k++) buf_puts(&in, "((");
	buf_puts(&in, "</arg_value></tool_call>");
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 1 && strncmp(res.calls[0].arguments, "{\"u\": \"[[[", 10) == 0);
	tool_parse_result_free(&res);
	/* nesting just under the limit still parses */
	buf_clear(&in);
	buf_puts(&in, "<tool_call>typed<arg_key>u</arg_key><arg_value>");
	for (int k = 0; k < TOOL_JSON_MAX_DEPTH; k++) buf_putc(&in, '[');
	for (int k = 0; k < TOOL_JSON_MAX_DEPTH; k++) buf_putc(&in, ']');
	buf_puts(&in, "</arg_value></tool_call>");
	tool_parse_all(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 1 && strncmp(res.calls[0].arguments, "{\"u\": [[[", 9) == 0);
	tool_parse_result_free(&res);
	timer_check("deep nesting");

	/* endless tag prefixes and '<' runs: held back at most a tag, released as content */
	const char *pre[] = {"<", "<tool_ca", "</tool_call", "<tool_call", "<<tool_call"};
	for (size_t p = 0; p < sizeof pre / sizeof pre[0]; p++) {
		buf_clear(&in);
		while (in.len < MB) buf_puts(&in, pre[p]);
		timer_start();
		check_tools(TOOL_PARSER_KIND_GLM45, in.data, in.len, 5 + p, true, pre[p]);
		check_reasoning(in.data, in.len, true, 5 + p, true, pre[p]);
		timer_check("tag prefixes");
	}
	/* 1 MB name with no newline (glm45): content at finish */
	buf_clear(&in);
	buf_puts(&in, "<tool_call>");
	while (in.len < MB) buf_puts(&in, "get_weather<arg_key>");
	timer_start();
	check_tools(TOOL_PARSER_KIND_GLM45, in.data, in.len, 9, true, "1 MB name");
	timer_check("1 MB name");

	/* 20k calls */
	buf_clear(&in);
	for (int k = 0; k < 20000; k++)
		buf_printf(&in, "<tool_call>typed<arg_key>i</arg_key><arg_value>%d</arg_value></tool_call>", k);
	timer_start();
	tool_parse_all(TOOL_PARSER_KIND_GLM47, &g_tools, &opts, in.data, in.len, &res);
	CHECK(res.n_calls == 20000 && res.n_calls && strcmp(res.calls[19999].arguments, "{\"i\": 19999}") == 0);
	tool_parse_result_free(&res);
	check_tools(TOOL_PARSER_KIND_GLM47, in.data, in.len, 10, true, "20k calls");
	timer_check("20k calls");

	/* 1 MB of reasoning with end-tag look-alikes */
	buf_clear(&in);
	while (in.len < MB) buf_puts(&in, "思考 </thin <tool_cal ");
	buf_puts(&in, "</think>answer");
	timer_start();
	check_reasoning(in.data, in.len, true, 11, true, "1 MB reasoning");
	timer_check("1 MB reasoning");

	buf_free(&in);
	buf_free(&want);
}

/* ------------------------------------------------------------------ fuzz */

static const char *atoms[] = {
	"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "<think>",
	"</think>", "<", ">", "/", "\n", "\\n", "\\", " ", "get_weather", "get_time", "typed", "nope", "city", "days",
	"s", "i", "n", "a", "o", "u", "1", "2.5", "\"", "'", "{", "}", "[", "]", ",", ":", "true", "None", "北京",
	"😀", "<tool_", "</arg_", "<arg_", "</tool_call", "<thi", "</thin", "\t", "x", "\xe3\x80\x80"};

static void fuzz(void)
{
	struct rng r;
	rng_seed(&r, 2026);
	struct buf in;
	buf_init(&in);
	int iters = 3000;
	timer_start();
	for (int it = 0; it < iters; it++) {
		buf_clear(&in);
		bool bytes = it % 5 == 4; /* every fifth input: raw random bytes, not valid UTF-8 */
		int len = 1 + (int)(rng_next(&r) % 60);
		for (int k = 0; k < len; k++) {
			if (bytes && rng_next(&r) % 2) {
				buf_putc(&in, (char)(rng_next(&r) & 0xff));
			} else {
				buf_puts(&in, atoms[rng_next(&r) % (sizeof atoms / sizeof atoms[0])]);
			}
		}
		uint64_t seed = 100 + (uint64_t)it;
		char what[64];
		snprintf(what, sizeof what, "fuzz #%d", it);
		check_tools(it % 2 ? TOOL_PARSER_KIND_GLM47 : TOOL_PARSER_KIND_GLM45, in.data, in.len, seed, !bytes, what);
		check_reasoning(in.data, in.len, it % 3 == 0, seed, !bytes, what);
	}
	timer_check("fuzz");
	buf_free(&in);
}

/* A value inside a call types exactly as tool_arg_to_json types it alone (itself checked against
 * CPython by pyref_check.py), whether it streamed (string keys) or was buffered. */
static void typing_in_calls(void)
{
	static const char *frags[] = {"1", "-", ".", "e", "\"", "'", "{", "}", "[", "]", ",", ":", " ", "\\", "n",
	                              "True", "null", "x", "\n", "\t", "北", "0", "2.5", "\\n", "é"};
	static const struct {
		const char *key;
		enum tool_arg_type type;
	} keys[] = {{"s", TOOL_ARG_TYPE_STRING}, {"i", TOOL_ARG_TYPE_INTEGER}, {"n", TOOL_ARG_TYPE_NUMBER},
	            {"a", TOOL_ARG_TYPE_ARRAY},  {"u", TOOL_ARG_TYPE_UNKNOWN}, {"zz", TOOL_ARG_TYPE_UNKNOWN}};
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, 1, false};
	struct rng r;
	rng_seed(&r, 77);
	struct buf v, in, want;
	buf_init(&v);
	buf_init(&in);
	buf_init(&want);
	int bad = 0;
	for (int it = 0; it < 3000; it++) {
		buf_clear(&v);
		int parts = (int)(rng_next(&r) % 7);
		for (int k = 0; k < parts; k++) buf_puts(&v, frags[rng_next(&r) % (sizeof frags / sizeof frags[0])]);
		size_t ki = rng_next(&r) % (sizeof keys / sizeof keys[0]);
		enum tool_parser_kind kind = it % 2 ? TOOL_PARSER_KIND_GLM47 : TOOL_PARSER_KIND_GLM45;
		buf_clear(&in);
		buf_clear(&want);
		buf_printf(&in, "<tool_call>typed%s<arg_key>%s</arg_key><arg_value>%s</arg_value></tool_call>",
		           kind == TOOL_PARSER_KIND_GLM45 ? "\n" : "", keys[ki].key, v.data ? v.data : "");
		buf_printf(&want, "{\"%s\": ", keys[ki].key);
		tool_arg_to_json(v.data ? v.data : "", v.len, keys[ki].type, &want);
		buf_putc(&want, '}');
		struct tool_parse_result res;
		free(run_tools(kind, &g_tools, &opts, in.data, in.len, SPLIT_RANDOM, (uint64_t)it, &res, NULL, NULL));
		bool ok = res.n_calls == 1 && strcmp(res.calls[0].arguments, want.data) == 0;
		if (!ok && bad++ < 5)
			fprintf(stderr, "typing in a call: %s\n  got  %s\n  want %s\n", in.data,
			        res.n_calls ? res.calls[0].arguments : "(no call)", want.data);
		CHECK(ok);
		tool_parse_result_free(&res);
	}
	buf_free(&v);
	buf_free(&in);
	buf_free(&want);
}

int main(void)
{
	struct err e;
	tool_set_init(&g_tools);
	if (tool_set_add(&g_tools, "typed", schema_typed, &e) ||
	    tool_set_add(&g_tools, "get_weather",
	                 "{\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"}}}", &e) ||
	    tool_set_add(&g_tools, "get_time", "{}", &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	double t = time_now();
	test_big();
	fuzz();
	typing_in_calls();
	tool_set_free(&g_tools);
	fprintf(stderr, "robust tests: %.2f s\n", time_now() - t);
	TEST_END();
}
