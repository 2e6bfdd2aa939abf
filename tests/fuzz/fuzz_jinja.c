/* fuzz_jinja.c — fuzz target for chat templates (src/chat/jinja_*.c through chat_template.h):
 * arbitrary template text is compiled with chat_template_create_from_source and, when it
 * compiles, rendered with a small fixed conversation (system/user/assistant with reasoning and
 * tool calls, a tool result, list content), a tool list and chat_template_kwargs, the way the
 * server renders a request.
 * Invariants: a failure (compile or render) returns -1 with a message; text that is not UTF-8
 * never compiles; a successful render appends valid UTF-8 and is deterministic (a second render
 * gives the same bytes), except templates calling strftime_now, whose output follows the clock.
 * Work bound: jinja2 itself runs `range(10**6)` loops nested as deep as one asks, so inputs
 * with an integer literal of 4 or more digits, or three of 3 digits, are skipped; what stays is
 * bounded by the renderer's own limits (range size, string repetition, macro recursion).
 * Thread rules: single-threaded. */
#include <jansson.h>
#include <string.h>

#include "chat/chat_template.h"
#include "chat/jinja_json.h"
#include "fuzz.h"

const size_t fuzz_max_len = 4096;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_NONE;
const char *const fuzz_dict[] = {
	"{{", "}}", "{%", "%}", "{%-", "-%}", "{{-", "-}}", "{#", "#}", "{% if ", "{% elif ", "{% else %}",
	"{% endif %}", "{% for ", " in ", "{% endfor %}", "{% set ", "{% endset %}", "{% macro m(a, b=1) %}",
	"{% endmacro %}", "{% call ", "{% endcall %}", "{% filter upper %}", "{% endfilter %}", "{% raw %}",
	"{% endraw %}", "{% break %}", "{% continue %}", "{% generation %}", "{% endgeneration %}", "{% with ",
	"{% endwith %}", "messages", "message", "m.content", "m.role", "tools", "tool", "add_generation_prompt",
	"enable_thinking", "loop.index0", "loop.first", "loop.last", "loop.length", "loop.previtem", "loop.cycle(1, 2)",
	"namespace(", "ns.x", "range(", "raise_exception(", "strftime_now(", "joiner(", "cycler(", "dict(", "|tojson",
	"|tojson(indent=2)", "|trim", "|length", "|list", "|join(', ')", "|map(attribute='role')", "|selectattr(",
	"|rejectattr(", "|first", "|last", "|default(", "|string", "|int", "|float", "|abs", "|round", "|replace(",
	"|items", "|dictsort", "|sort", "|unique", "|batch(2)", "|slice(2)", "|indent(4)", "|wordcount", "|center",
	"|format(", "|sum", "|min", "|max", "|reverse", "|e", "|safe", "|capitalize", "|title", "|lower", "|upper",
	".split(", ".strip(", ".lstrip(", ".rstrip(", ".startswith(", ".endswith(", ".items()", ".keys()", ".values()",
	".get(", ".append(", ".update(", ".format(", ".upper()", ".replace(", ".count(", ".find(", ".splitlines()",
	" is defined", " is not none", " is string", " is mapping", " is iterable", " is sequence", " is number",
	" is divisibleby(3)", " is in(", " and ", " or ", " not ", " if ", " else ", "[0]", "[-1]", "[1:]", "[::-1]",
	"[:2]", " ~ ", " + ", " * ", " // ", " % ", " ** ", " == ", " != ", " < ", "(1, 2)", "{'a': 1}", "[1, 'x']", "''",
	"\"\"", "'\\n'", "'\\u00e9'", "'\\x41'", "none", "None", "true", "false", "True", "1.5", "-3", "\n", "  ", NULL,
};

static struct jinja_value *g_messages, *g_tools, *g_kwargs;

static const char g_context[] =
	"{\"messages\": ["
	"{\"role\": \"system\", \"content\": \"Be brief. 'q' \\\"dq\\\" \\\\ é 😀\"},"
	"{\"role\": \"user\", \"content\": \"Weather in 北京?\"},"
	"{\"role\": \"assistant\", \"content\": \"\", \"reasoning_content\": \"Need a call.\", \"tool_calls\": ["
	"{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": "
	"\"{\\\"city\\\": \\\"北京\\\", \\\"days\\\": 2, \\\"x\\\": [1.5, null, true]}\"}}]},"
	"{\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21}\"},"
	"{\"role\": \"assistant\", \"content\": \"<think>ok</think>It is 21°C.\"},"
	"{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"look\"}, {\"type\": \"image_url\", "
	"\"image_url\": {\"url\": \"u\"}}]}],"
	"\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get weather\","
	"\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": "
	"{\"type\": \"integer\"}}, \"required\": [\"city\"]}}}],"
	"\"kwargs\": {\"enable_thinking\": true, \"x\": {\"a\": [1.0, 2.5e-7, 123456789012345678], \"b\": {\"k\": null}},"
	"\"y\": \"plain\", \"bos_token\": \"<s>\"}}";

static void setup(void)
{
	json_error_t je;
	json_t *c = json_loads(g_context, 0, &je);
	FUZZ_CHECK(c != NULL, "the fixed context is not JSON: %s", je.text);
	struct err e = {{0}};
	g_messages = chat_messages_from_json(json_object_get(c, "messages"), &e);
	FUZZ_CHECK(g_messages != NULL, "the fixed messages: %s", e.msg);
	FUZZ_CHECK(chat_tools_from_json(json_object_get(c, "tools"), NULL, &g_tools, &e) == 0, "tools: %s", e.msg);
	g_kwargs = jinja_from_json(json_object_get(c, "kwargs"));
	json_decref(c);
}

/* Loop bounds come from integer literals: one of 4+ digits, or three of 3 digits (three nested
 * range(999) loops), can ask for a billion iterations, which jinja2 would run just as slowly. */
static bool too_much_work(const uint8_t *d, size_t n)
{
	size_t run = 0, n3 = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] >= '0' && d[i] <= '9') {
			if (++run >= 4) return true;
			continue;
		}
		n3 += run == 3;
		run = 0;
	}
	return n3 >= 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_messages) setup();
	if (too_much_work(data, size)) return -1;
	struct err e = {{0}};
	struct chat_template *t = chat_template_create_from_source((const char *)data, size, "fuzz", &e);
	if (!t) {
		FUZZ_CHECK(e.msg[0] != 0, "a failed compile must say why");
		return -1;
	}
	FUZZ_CHECK(fuzz_utf8_valid((const char *)data, size), "text that is not UTF-8 compiled");
	bool clock = memmem(data, size, "strftime_now", 12) != NULL;
	for (int variant = 0; variant < 2; variant++) {
		/* variant 1: no tools, no kwargs, no generation prompt (another common request shape) */
		const struct jinja_value *tools = variant ? NULL : g_tools, *kw = variant ? NULL : g_kwargs;
		struct buf out1, out2;
		buf_init(&out1);
		buf_init(&out2);
		struct err e1 = {{0}}, e2 = {{0}};
		int rc1 = chat_template_render(t, g_messages, tools, !variant, kw, &out1, &e1);
		if (rc1) FUZZ_CHECK(rc1 == -1 && e1.msg[0], "a failed render (rc %d) must say why", rc1);
		else FUZZ_CHECK(fuzz_utf8_valid(out1.data ? out1.data : "", out1.len), "the render is not valid UTF-8");
		if (!clock) {
			int rc2 = chat_template_render(t, g_messages, tools, !variant, kw, &out2, &e2);
			FUZZ_CHECK(rc1 == rc2, "two renders disagree on success: %d vs %d", rc1, rc2);
			FUZZ_CHECK(rc1 || (out1.len == out2.len && !memcmp(out1.data ? out1.data : "", out2.data ? out2.data : "",
			                                                   out1.len)),
			           "two renders gave different text");
			FUZZ_CHECK(!rc1 || !strcmp(e1.msg, e2.msg), "two renders failed differently: '%s' vs '%s'", e1.msg,
			           e2.msg);
		}
		buf_free(&out1);
		buf_free(&out2);
	}
	chat_template_destroy(t);
	return 0;
}
