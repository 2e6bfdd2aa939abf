/* test_chat_parsers.c — fixture tests for the glm45 reasoning parser and the glm45/glm47
 * tool-call parsers: every case of docs/serving.md §2.4 and §3 (plus the §3.5 examples), each
 * fed whole, byte by byte and in random splits (several seeds); the joined event streams must be
 * identical and equal the expected non-streaming result. */
#include <stdio.h>

#include "../test_util.h"
#include "chat/py_escape.h"
#include "chat/tool_json.h"
#include "harness.h"

#define N_SEEDS 6

/* ------------------------------------------------------------------ reasoning (§2) */

struct rcase {
	const char *what;
	bool start; /* start_in_reasoning */
	const char *in;
	const char *reasoning;
	const char *content;
};

static const struct rcase rcases[] = {
	/* §2.4 table, column SGLang (newest, no trimming) / vLLM 2026 */
	{"4.5 <think>R</think>\\nA", true, "<think>R</think>\nA", "R", "\nA"},
	{"4.5 <think>R</think>\\nA, not forced", false, "<think>R</think>\nA", "R", "\nA"},
	{"<think>R<tool_call> (PR #17714)", true, "<think>R<tool_call>get_time\n</tool_call>", "R",
	 "<tool_call>get_time\n</tool_call>"},
	{"<think>R<tool_call>, not forced", false, "<think>R<tool_call>x", "R", "<tool_call>x"},
	{"4.7 R</think>A", true, "R</think>A", "R", "A"},
	{"truncated thought", true, "The user asks about", "The user asks about", ""},
	{"truncated after <think>", false, "<think>The user asks", "The user asks", ""},
	{"thinking disabled, A", false, "A", "", "A"},
	{"thinking disabled but <think> written", false, "<think>R</think>A", "R", "A"},
	/* §2 prose: what each model emits */
	{"4.5 newline before <think>", true, "\n<think>R</think>\nA", "R", "\nA"},
	{"4.5 newline before <think>, not forced", false, "\n<think>R</think>\nA", "R", "\nA"},
	{"4.5 thinking off: answer with newline", false, "\nThe answer.", "", "\nThe answer."},
	{"4.7 thinking on then a tool call", true, "Need weather.</think><tool_call>get_time</tool_call>",
	 "Need weather.", "<tool_call>get_time</tool_call>"},
	{"4.7 thinking off", false, "Hello!", "", "Hello!"},
	/* details of the rules */
	{"forced, whitespace then text", true, "\n\nR</think>A", "\n\nR", "A"},
	{"forced, whitespace then </think>", true, "\n</think>A", "\n", "A"},
	{"<think> later is text", true, "R<think>X</think>A", "R<think>X", "A"},
	{"<think> after content is text", false, "A<think>R</think>B", "", "A<think>R</think>B"},
	{"<thinking> is not <think>", false, "<thinking>x", "", "<thinking>x"},
	{"<thinking> forced", true, "<thinking>x</think>y", "<thinking>x", "y"},
	{"second </think> is content", true, "R</think>A</think>B", "R", "A</think>B"},
	{"<tool_call> first thing", true, "<tool_call>get_time</tool_call>", "", "<tool_call>get_time</tool_call>"},
	{"partial </think> at the end", true, "R</thi", "R</thi", ""},
	{"partial <tool_call> at the end", true, "R<tool_c", "R<tool_c", ""},
	{"partial <think> at the start", false, "<thi", "", "<thi"},
	{"partial <think> at the start, forced", true, "  <thi", "  <thi", ""},
	{"empty output", true, "", "", ""},
	{"empty output, not forced", false, "", "", ""},
	{"whitespace only", false, " \n ", "", " \n "},
	{"empty think block", true, "<think></think>", "", ""},
	{"newlines kept", true, "\n<think>\nR\n</think>\n\nA", "\nR\n", "\n\nA"},
	{"utf-8", true, "思考一下</think>答案是42。", "思考一下", "答案是42。"},
	{"utf-8 4-byte", false, "<think>🤔 hmm</think>😀", "🤔 hmm", "😀"},
	{"lone <", true, "a < b</think>c < d", "a < b", "c < d"},
	{"</tool_call> in reasoning", true, "x</tool_call>y", "x</tool_call>y", ""},
	{"<think><think>", false, "<think><think>R</think>A", "<think>R", "A"},
};

static void test_reasoning(void)
{
	for (size_t c = 0; c < sizeof rcases / sizeof rcases[0]; c++) {
		const struct rcase *t = &rcases[c];
		size_t n = strlen(t->in);
		struct reasoning_result res;
		bool ok8;
		char *whole = run_reasoning(t->in, n, t->start, SPLIT_WHOLE, 0, &res, &ok8);
		CHECK_MSG(strcmp(res.reasoning, t->reasoning) == 0, "%s: reasoning '%s' want '%s'", t->what, res.reasoning,
		          t->reasoning);
		CHECK_MSG(strcmp(res.content, t->content) == 0, "%s: content '%s' want '%s'", t->what, res.content,
		          t->content);
		CHECK_MSG(ok8, "%s: a delta is not whole UTF-8", t->what);
		reasoning_result_free(&res);
		/* the convenience function is feed + finish */
		reasoning_parse_all(t->start, t->in, n, &res);
		CHECK_MSG(strcmp(res.reasoning, t->reasoning) == 0 && strcmp(res.content, t->content) == 0,
		          "%s: reasoning_parse_all differs", t->what);
		reasoning_result_free(&res);
		for (int mode = SPLIT_BYTES; mode <= SPLIT_RANDOM; mode++)
			for (uint64_t seed = 1; seed <= (mode == SPLIT_RANDOM ? N_SEEDS : 1); seed++) {
				char *got = run_reasoning(t->in, n, t->start, mode, seed, NULL, &ok8);
				CHECK_MSG(strcmp(got, whole) == 0, "%s: split mode %d seed %llu:\n%s\nvs whole:\n%s", t->what, mode,
				          (unsigned long long)seed, got, whole);
				CHECK_MSG(ok8, "%s: split mode %d: a delta is not whole UTF-8", t->what, mode);
				free(got);
			}
		free(whole);
	}
}

/* ------------------------------------------------------------------ tools (§3) */

static const char *schema_weather = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                                    "\"days\":{\"type\":\"integer\"},\"date\":{\"type\":\"string\"}},"
                                    "\"required\":[\"city\"]}";
static const char *schema_time = "{\"type\":\"object\",\"properties\":{}}";
static const char *schema_typed =
	"{\"type\":\"object\",\"properties\":{"
	"\"s\":{\"type\":\"string\"},\"s2\":{\"type\":\"string\"},\"s3\":{\"type\":\"string\"},"
	"\"i\":{\"type\":\"integer\"},\"n\":{\"type\":\"number\"},\"b\":{\"type\":\"boolean\"},"
	"\"o\":{\"type\":\"object\"},\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
	"\"nul\":{\"type\":\"null\"},\"e\":{\"enum\":[1,2,3]},\"r\":{\"$ref\":\"#/$defs/Mode\"},"
	"\"rn\":{\"$ref\":\"#/definitions/Count\",\"description\":\"how many\"},"
	"\"opt\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}]},\"multi\":{\"type\":[\"number\",\"null\"]},"
	"\"u\":{},\"desc\":{\"description\":\"free\"}},"
	"\"$defs\":{\"Mode\":{\"type\":\"string\",\"enum\":[\"fast\",\"slow\"]}},"
	"\"definitions\":{\"Count\":{\"type\":\"integer\"}}}";
static const char *schema_combo = "{\"anyOf\":[{\"properties\":{\"x\":{\"type\":\"integer\"}}},"
                                  "{\"properties\":{\"y\":{\"type\":\"string\"}}}]}";

struct tcase {
	const char *what;
	enum tool_parser_kind kind;
	const char *in;
	const char *content;
	const char *calls; /* "name arguments\n" per call */
};

#define G45 TOOL_PARSER_KIND_GLM45
#define G47 TOOL_PARSER_KIND_GLM47

static const struct tcase tcases[] = {
	/* §3.1 what the model emits */
	{"glm45 newline form", G45,
	 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n<arg_key>date</arg_key>\n"
	 "<arg_value>2024-06-27</arg_value>\n</tool_call>",
	 "", "get_weather {\"city\": \"北京\", \"date\": \"2024-06-27\"}\n"},
	{"glm45 parallel calls", G45,
	 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n<arg_key>date</arg_key>\n"
	 "<arg_value>2024-06-27</arg_value>\n</tool_call>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
	 "<arg_value>上海</arg_value>\n<arg_key>date</arg_key>\n<arg_value>2024-06-27</arg_value>\n</tool_call>",
	 "\n",
	 "get_weather {\"city\": \"北京\", \"date\": \"2024-06-27\"}\n"
	 "get_weather {\"city\": \"上海\", \"date\": \"2024-06-27\"}\n"},
	{"glm45 no arguments", G45, "<tool_call>get_time\n</tool_call>", "", "get_time {}\n"},
	{"glm45 literal backslash-n", G45,
	 "<tool_call>get_weather\\n<arg_key>city</arg_key>\\n<arg_value>Beijing</arg_value>\\n<arg_key>days</arg_key>"
	 "\\n<arg_value>2</arg_value>\\n</tool_call>",
	 "", "get_weather {\"city\": \"Beijing\", \"days\": 2}\n"},
	{"glm47 form, parallel", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key><arg_value>北京</arg_value><arg_key>date</arg_key>"
	 "<arg_value>2024-06-27</arg_value></tool_call><tool_call>get_weather<arg_key>city</arg_key>"
	 "<arg_value>上海</arg_value><arg_key>date</arg_key><arg_value>2024-06-27</arg_value></tool_call>",
	 "",
	 "get_weather {\"city\": \"北京\", \"date\": \"2024-06-27\"}\n"
	 "get_weather {\"city\": \"上海\", \"date\": \"2024-06-27\"}\n"},
	{"glm47 no arguments", G47, "<tool_call>get_time</tool_call>", "", "get_time {}\n"},
	{"values are raw text", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>hello world</arg_value><arg_key>i</arg_key><arg_value>2"
	 "</arg_value><arg_key>b</arg_key><arg_value>true</arg_value><arg_key>a</arg_key><arg_value>[\"a\",\"b\"]"
	 "</arg_value><arg_key>o</arg_key><arg_value>{\"k\":1}</arg_value></tool_call>",
	 "", "typed {\"s\": \"hello world\", \"i\": 2, \"b\": true, \"a\": [\"a\", \"b\"], \"o\": {\"k\": 1}}\n"},
	{"text before the first call", G45,
	 "Let me check.\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>",
	 "Let me check.\n", "get_weather {\"city\": \"Paris\"}\n"},
	/* §3.2 parsing and typing */
	{"glm47 text before, between, after", G47, "A<tool_call>get_time</tool_call>B<tool_call>get_time</tool_call>C",
	 "ABC", "get_time {}\nget_time {}\n"},
	{"glm45 text between and after", G45, "A<tool_call>get_time\n</tool_call>B<tool_call>get_time\n</tool_call>C",
	 "ABC", "get_time {}\nget_time {}\n"},
	{"string keeps 123/true/null", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>123</arg_value><arg_key>s2</arg_key><arg_value>true"
	 "</arg_value><arg_key>s3</arg_key><arg_value>null</arg_value></tool_call>",
	 "", "typed {\"s\": \"123\", \"s2\": \"true\", \"s3\": \"null\"}\n"},
	{"string re-serializes JSON object/array", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>{\"a\":1,\"b\":[1,2]}</arg_value><arg_key>s2</arg_key>"
	 "<arg_value>[1,2]</arg_value></tool_call>",
	 "", "typed {\"s\": \"{\\\"a\\\": 1, \\\"b\\\": [1, 2]}\", \"s2\": \"[1, 2]\"}\n"},
	{"string quotes", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>\"quoted\"</arg_value><arg_key>s2</arg_key><arg_value>"
	 "'single'</arg_value><arg_key>s3</arg_key><arg_value>\"bad \\q\"</arg_value></tool_call>",
	 "", "typed {\"s\": \"quoted\", \"s2\": \"single\", \"s3\": \"bad \\\\q\"}\n"},
	{"string not JSON", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>[not json</arg_value><arg_key>s2</arg_key><arg_value>"
	 "{\"a\": 1} tail</arg_value><arg_key>s3</arg_key><arg_value>\tTab</arg_value></tool_call>",
	 "", "typed {\"s\": \"[not json\", \"s2\": \"{\\\"a\\\": 1} tail\", \"s3\": \"\\tTab\"}\n"},
	{"string with a Python list", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>['a', 'b']</arg_value></tool_call>", "",
	 "typed {\"s\": \"['a', 'b']\"}\n"},
	{"unknown types: json, unescape, literal, string", G47,
	 "<tool_call>typed<arg_key>u</arg_key><arg_value>{\"x\": 1}</arg_value><arg_key>desc</arg_key><arg_value>"
	 "True</arg_value><arg_key>zz</arg_key><arg_value>[1, 2,]</arg_value></tool_call>"
	 "<tool_call>typed<arg_key>u</arg_key><arg_value>hello</arg_value><arg_key>desc</arg_key><arg_value>"
	 "{\\\"a\\\": 1}</arg_value><arg_key>zz</arg_key><arg_value>'x'</arg_value></tool_call>"
	 "<tool_call>typed<arg_key>u</arg_key><arg_value>None</arg_value><arg_key>desc</arg_key><arg_value>"
	 "(1, 2)</arg_value><arg_key>zz</arg_key><arg_value>1.50</arg_value></tool_call>",
	 "",
	 "typed {\"u\": {\"x\": 1}, \"desc\": true, \"zz\": [1, 2]}\n"
	 "typed {\"u\": \"hello\", \"desc\": {\"a\": 1}, \"zz\": \"x\"}\n"
	 "typed {\"u\": null, \"desc\": [1, 2], \"zz\": 1.5}\n"},
	{"integer/number coercion", G47,
	 "<tool_call>typed<arg_key>i</arg_key><arg_value>\"42\"</arg_value><arg_key>n</arg_key><arg_value>\"3.5\""
	 "</arg_value></tool_call><tool_call>typed<arg_key>n</arg_key><arg_value>\"1e3\"</arg_value><arg_key>i"
	 "</arg_key><arg_value> 7 </arg_value></tool_call><tool_call>typed<arg_key>i</arg_key><arg_value>abc"
	 "</arg_value><arg_key>n</arg_key><arg_value>2</arg_value></tool_call><tool_call>typed<arg_key>i</arg_key>"
	 "<arg_value>2.0</arg_value><arg_key>n</arg_key><arg_value>\"x1\"</arg_value></tool_call>",
	 "",
	 "typed {\"i\": 42, \"n\": 3.5}\ntyped {\"n\": 1000.0, \"i\": 7}\ntyped {\"i\": \"abc\", \"n\": 2}\n"
	 "typed {\"i\": 2.0, \"n\": \"x1\"}\n"},
	{"keys trimmed, values not", G47,
	 "<tool_call>get_weather<arg_key> city </arg_key><arg_value>  Paris  </arg_value></tool_call>", "",
	 "get_weather {\"city\": \"  Paris  \"}\n"},
	{"ensure_ascii=False", G45,
	 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>北京</arg_value>\n<arg_key>days</arg_key>\n"
	 "<arg_value>2</arg_value>\n</tool_call>",
	 "", "get_weather {\"city\": \"北京\", \"days\": 2}\n"},
	{"unknown function dropped", G45,
	 "Sure.<tool_call>launch_rockets\n<arg_key>x</arg_key>\n<arg_value>1</arg_value>\n</tool_call>\n"
	 "<tool_call>get_time\n</tool_call>",
	 "Sure.\n", "get_time {}\n"},
	{"$ref, anyOf, enum, type list, null", G47,
	 "<tool_call>typed<arg_key>r</arg_key><arg_value>fast</arg_value><arg_key>rn</arg_key><arg_value>5"
	 "</arg_value><arg_key>e</arg_key><arg_value>2</arg_value><arg_key>opt</arg_key><arg_value>\"4\""
	 "</arg_value><arg_key>multi</arg_key><arg_value>1.5</arg_value><arg_key>nul</arg_key><arg_value>null"
	 "</arg_value></tool_call>",
	 "", "typed {\"r\": \"fast\", \"rn\": 5, \"e\": 2, \"opt\": 4, \"multi\": 1.5, \"nul\": null}\n"},
	{"properties in root anyOf", G47,
	 "<tool_call>combo<arg_key>x</arg_key><arg_value>5</arg_value><arg_key>y</arg_key><arg_value>5</arg_value>"
	 "</tool_call>",
	 "", "combo {\"x\": 5, \"y\": \"5\"}\n"},
	{"unknown key", G47, "<tool_call>get_weather<arg_key>城市</arg_key><arg_value>上海</arg_value></tool_call>", "",
	 "get_weather {\"城市\": \"上海\"}\n"},
	{"multi-line string value", G45,
	 "<tool_call>typed\n<arg_key>s</arg_key>\n<arg_value>line1\nline2\n</arg_value>\n</tool_call>", "",
	 "typed {\"s\": \"line1\\nline2\\n\"}\n"},
	{"escapes in a streamed string", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>say \"hi\"\n\tnew\\line\x01</arg_value></tool_call>", "",
	 "typed {\"s\": \"say \\\"hi\\\"\\n\\tnew\\\\line\\u0001\"}\n"},
	{"empty values", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key><arg_value></arg_value><arg_key>days</arg_key><arg_value>"
	 "</arg_value></tool_call>",
	 "", "get_weather {\"city\": \"\", \"days\": \"\"}\n"},
	{"glm47 tolerates newlines", G47,
	 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>", "",
	 "get_weather {\"city\": \"Oslo\"}\n"},
	{"glm45 call without newline", G45, "<tool_call>get_time</tool_call>", "", "get_time {}\n"},
	{"duplicate keys kept in order", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key><arg_value>A</arg_value><arg_key>city</arg_key><arg_value>B"
	 "</arg_value></tool_call>",
	 "", "get_weather {\"city\": \"A\", \"city\": \"B\"}\n"},
	/* §3.5 examples */
	{"3.5 example, glm45", G45,
	 "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n<arg_key>days</arg_key>\n"
	 "<arg_value>2</arg_value>\n</tool_call>",
	 "", "get_weather {\"city\": \"Beijing\", \"days\": 2}\n"},
	{"3.5 example, glm47", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Beijing</arg_value><arg_key>days</arg_key>"
	 "<arg_value>2</arg_value></tool_call>",
	 "", "get_weather {\"city\": \"Beijing\", \"days\": 2}\n"},
	/* malformed input: nothing lost */
	{"call open at the end", G45, "Hi<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Par",
	 "Hi<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Par", ""},
	{"unknown call open at the end", G47, "<tool_call>nope<arg_key>a</arg_key>",
	 "<tool_call>nope<arg_key>a</arg_key>", ""},
	{"name open at the end", G45, "x<tool_call>get_wea", "x<tool_call>get_wea", ""},
	{"partial <tool_call> at the end", G47, "See <tool_ca", "See <tool_ca", ""},
	{"nested <tool_call>", G45,
	 "<tool_call>get_weather\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Rome</arg_value>\n"
	 "</tool_call>",
	 "", "get_weather {\"city\": \"Rome\"}\n"},
	{"invalid JSON in typed values", G47,
	 "<tool_call>typed<arg_key>i</arg_key><arg_value>{bad</arg_value><arg_key>o</arg_key><arg_value>{\"k\": 1"
	 "</arg_value></tool_call>",
	 "", "typed {\"i\": \"{bad\", \"o\": \"{\\\"k\\\": 1\"}\n"},
	{"tags inside a value", G47,
	 "<tool_call>typed<arg_key>s</arg_key><arg_value>a < b </arg_valu c <arg_value> d <tool_call></arg_value>"
	 "</tool_call>",
	 "", "typed {\"s\": \"a < b </arg_valu c <arg_value> d <tool_call>\"}\n"},
	{"</tool_call> inside a value closes the call", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Par</tool_call>is", "is",
	 "get_weather {\"city\": \"Par\"}\n"},
	{"junk between key and value drops the pair", G47,
	 "<tool_call>get_weather<arg_key>city</arg_key>X<arg_value>Rome</arg_value><arg_key>days</arg_key>\n"
	 "<arg_value>3</arg_value></tool_call>",
	 "", "get_weather {\"days\": 3}\n"},
	{"key without value", G47,
	 "<tool_call>get_weather<arg_key>days</arg_key><arg_key>city</arg_key><arg_value>Rome</arg_value></tool_call>",
	 "", "get_weather {\"city\": \"Rome\"}\n"},
	{"incomplete pairs", G45, "<tool_call>get_weather\n<arg_value>x</arg_value><arg_key>city\n</tool_call>", "",
	 "get_weather {}\n"},
	{"stray </tool_call>", G45, "a</tool_call>b", "a</tool_call>b", ""},
	{"empty name", G45, "<tool_call>\n</tool_call>x", "x", ""},
	{"no calls", G47, "Just text with <b>tags</b> and < signs.", "Just text with <b>tags</b> and < signs.", ""},
};

static struct tool_set g_tools;

static char *calls_text(const struct tool_parse_result *r)
{
	struct buf b;
	buf_init(&b);
	for (size_t i = 0; i < r->n_calls; i++) buf_printf(&b, "%s %s\n", r->calls[i].name, r->calls[i].arguments);
	return buf_take(&b);
}

static void test_tool_cases(void)
{
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, 42, false};
	for (size_t c = 0; c < sizeof tcases / sizeof tcases[0]; c++) {
		const struct tcase *t = &tcases[c];
		size_t n = strlen(t->in);
		struct tool_parse_result res;
		bool ok8;
		struct buf raw;
		buf_init(&raw);
		char *whole = run_tools(t->kind, &g_tools, &opts, t->in, n, SPLIT_WHOLE, 0, &res, &raw, &ok8);
		char *calls = calls_text(&res);
		CHECK_MSG(strcmp(res.content, t->content) == 0, "%s: content '%s' want '%s'", t->what, res.content,
		          t->content);
		CHECK_MSG(strcmp(calls, t->calls) == 0, "%s: calls\n%s want\n%s", t->what, calls, t->calls);
		CHECK_MSG(ok8, "%s: a delta is not whole UTF-8", t->what);
		/* no byte lost: content + the markup of ended/dropped calls gives back the input */
		CHECK_MSG(raw.len == n && memcmp(raw.data, t->in, n) == 0, "%s: text lost", t->what);
		for (size_t k = 0; k < res.n_calls; k++) {
			struct tool_json *j = tool_json_loads(res.calls[k].arguments, strlen(res.calls[k].arguments));
			CHECK_MSG(j && j->type == TOOL_JSON_TYPE_OBJECT, "%s: arguments not a JSON object", t->what);
			tool_json_free(j);
			CHECK_MSG(strncmp(res.calls[k].id, "call_", 5) == 0 && strlen(res.calls[k].id) == 29 &&
			              strspn(res.calls[k].id + 5, "0123456789abcdef") == 24,
			          "%s: id %s", t->what, res.calls[k].id);
			CHECK(res.calls[k].index == (int)k);
		}
		free(calls);
		tool_parse_result_free(&res);
		/* tool_parse_all is feed + finish */
		tool_parse_all(t->kind, &g_tools, &opts, t->in, n, &res);
		calls = calls_text(&res);
		CHECK_MSG(strcmp(res.content, t->content) == 0 && strcmp(calls, t->calls) == 0,
		          "%s: tool_parse_all differs", t->what);
		free(calls);
		tool_parse_result_free(&res);
		for (int mode = SPLIT_BYTES; mode <= SPLIT_RANDOM; mode++)
			for (uint64_t seed = 1; seed <= (mode == SPLIT_RANDOM ? N_SEEDS : 1); seed++) {
				char *got = run_tools(t->kind, &g_tools, &opts, t->in, n, mode, seed, NULL, NULL, &ok8);
				CHECK_MSG(strcmp(got, whole) == 0, "%s: split mode %d seed %llu:\n%s\nvs whole:\n%s", t->what, mode,
				          (unsigned long long)seed, got, whole);
				CHECK_MSG(ok8, "%s: split mode %d: a delta is not whole UTF-8", t->what, mode);
				free(got);
			}
		free(whole);
		buf_free(&raw);
	}
}

/* The event sequence itself (§3.3): name first with its id, then fragments, then the end. */
static void test_tool_events(void)
{
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, 7, false};
	const char *in = "Let me check.<tool_call>get_weather<arg_key>city</arg_key><arg_value>Beijing</arg_value>"
	                 "<arg_key>days</arg_key><arg_value>2</arg_value></tool_call>";
	struct tool_parser p;
	struct tool_events ev;
	tool_parser_init(&p, G47, &g_tools, &opts);
	tool_events_init(&ev);
	/* fed up to the middle of the city value: the name and the streamed string so far */
	const char *cut = strstr(in, "jing");
	tool_parser_feed(&p, in, (size_t)(cut - in), &ev);
	CHECK(ev.n == 3);
	if (ev.n == 3) {
		CHECK(ev.v[0].type == TOOL_EVENT_TYPE_CONTENT);
		CHECK_STREQ(ev.v[0].text, "Let me check.");
		CHECK(ev.v[1].type == TOOL_EVENT_TYPE_CALL_BEGIN && ev.v[1].index == 0);
		CHECK_STREQ(ev.v[1].text, "get_weather");
		CHECK(strncmp(ev.v[1].id, "call_", 5) == 0 && strlen(ev.v[1].id) == 29);
		CHECK(ev.v[2].type == TOOL_EVENT_TYPE_CALL_ARGS && ev.v[2].index == 0);
		CHECK_STREQ(ev.v[2].text, "{\"city\": \"Bei");
	}
	tool_events_clear(&ev);
	tool_parser_feed(&p, cut, strlen(cut), &ev);
	tool_parser_finish(&p, &ev);
	struct buf args;
	buf_init(&args);
	for (size_t i = 0; i < ev.n; i++)
		if (ev.v[i].type == TOOL_EVENT_TYPE_CALL_ARGS) buf_append(&args, ev.v[i].text, ev.v[i].len);
	CHECK_STREQ(args.data, "jing\", \"days\": 2}");
	CHECK(ev.n >= 1 && ev.v[ev.n - 1].type == TOOL_EVENT_TYPE_CALL_END);
	buf_free(&args);
	tool_events_clear(&ev);
	tool_parser_free(&p);

	/* an open call at finish: begin, abort, then the raw text as content */
	tool_parser_init(&p, G45, &g_tools, &opts);
	const char *open = "<tool_call>get_time\n<arg_key>x";
	tool_parser_feed(&p, open, strlen(open), &ev);
	tool_parser_finish(&p, &ev);
	CHECK(ev.n == 3);
	if (ev.n == 3) {
		CHECK(ev.v[0].type == TOOL_EVENT_TYPE_CALL_BEGIN);
		CHECK(ev.v[1].type == TOOL_EVENT_TYPE_CALL_ABORT && ev.v[1].index == 0);
		CHECK(ev.v[2].type == TOOL_EVENT_TYPE_CONTENT);
		CHECK_STREQ(ev.v[2].text, open);
	}
	tool_events_clear(&ev);
	tool_parser_free(&p);

	/* unknown name: a dropped event with the raw markup, nothing else */
	tool_parser_init(&p, G47, &g_tools, &opts);
	const char *unk = "<tool_call>nope<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>";
	tool_parser_feed(&p, unk, strlen(unk), &ev);
	tool_parser_finish(&p, &ev);
	CHECK(ev.n == 1 && ev.v[0].type == TOOL_EVENT_TYPE_CALL_DROPPED && strcmp(ev.v[0].text, unk) == 0);
	tool_events_clear(&ev);
	tool_parser_free(&p);

	/* forward_unknown keeps it, untyped */
	struct tool_parser_opts fwd = {TOOL_ID_STYLE_VLLM, 7, true};
	struct tool_parse_result r;
	tool_parse_all(G47, &g_tools, &fwd, unk, strlen(unk), &r);
	CHECK(r.n_calls == 1);
	if (r.n_calls == 1) {
		CHECK_STREQ(r.calls[0].name, "nope");
		CHECK_STREQ(r.calls[0].arguments, "{\"a\": 1}");
		CHECK(strncmp(r.calls[0].id, "chatcmpl-tool-", 14) == 0 && strlen(r.calls[0].id) == 46 &&
		      strspn(r.calls[0].id + 14, "0123456789abcdef") == 32);
	}
	tool_parse_result_free(&r);

	/* ids depend on the seed and order only; different seeds differ */
	struct tool_parse_result a, b;
	struct tool_parser_opts s1 = {TOOL_ID_STYLE_SGLANG, 1, false}, s2 = {TOOL_ID_STYLE_SGLANG, 2, false};
	const char *two = "<tool_call>get_time</tool_call><tool_call>get_time</tool_call>";
	tool_parse_all(G47, &g_tools, &s1, two, strlen(two), &a);
	tool_parse_all(G47, &g_tools, &s2, two, strlen(two), &b);
	CHECK(a.n_calls == 2 && b.n_calls == 2);
	if (a.n_calls == 2 && b.n_calls == 2) {
		CHECK(strcmp(a.calls[0].id, a.calls[1].id) != 0);
		CHECK(strcmp(a.calls[0].id, b.calls[0].id) != 0);
	}
	tool_parse_result_free(&a);
	tool_parse_result_free(&b);
	tool_events_free(&ev);

	/* the content before the first call, for SGLang's non-stream glm45 content */
	const char *mixed = "Let me check.\n<tool_call>get_time\n</tool_call>\nMore text.";
	tool_parse_all(G45, &g_tools, &opts, mixed, strlen(mixed), &r);
	CHECK(r.n_calls == 1 && r.content_head_len == strlen("Let me check.\n"));
	CHECK_STREQ(r.content, "Let me check.\n\nMore text.");
	tool_parse_result_free(&r);
	tool_parse_all(G45, &g_tools, &opts, "plain", 5, &r);
	CHECK(r.n_calls == 0 && r.content_head_len == 5);
	tool_parse_result_free(&r);

	/* no tools at all: every call is dropped */
	struct tool_set none;
	tool_set_init(&none);
	tool_parse_all(G47, &none, &opts, two, strlen(two), &r);
	CHECK(r.n_calls == 0 && r.content_len == 0);
	tool_parse_result_free(&r);
	tool_set_free(&none);
}

/* ------------------------------------------------------------------ schema typing */

static void test_schema_types(void)
{
	static const struct {
		const char *prop, *root;
		enum tool_arg_type want;
	} cases[] = {
		{"{\"type\":\"string\"}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"type\":\"integer\"}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"type\":[\"null\",\"number\"]}", NULL, TOOL_ARG_TYPE_NUMBER},
		{"{\"type\":[\"null\"]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"null\"}]}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"boolean\"}]}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"anyOf\":[],\"oneOf\":[{\"type\":\"boolean\"}]}", NULL, TOOL_ARG_TYPE_BOOLEAN},
		{"{\"enum\":[\"a\",\"b\"]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"enum\":[1,2]}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"enum\":[1.5,2.5]}", NULL, TOOL_ARG_TYPE_NUMBER},
		{"{\"enum\":[1,\"a\"]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"enum\":[]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"const\":true}", NULL, TOOL_ARG_TYPE_BOOLEAN},
		{"{\"allOf\":[{\"description\":\"x\"},{\"type\":\"integer\"}]}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"allOf\":[{\"description\":\"x\"}]}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"properties\":{}}", NULL, TOOL_ARG_TYPE_OBJECT},
		{"{\"items\":{}}", NULL, TOOL_ARG_TYPE_ARRAY},
		{"{}", NULL, TOOL_ARG_TYPE_UNKNOWN},
		{"{\"type\":\"varchar(255)\"}", NULL, TOOL_ARG_TYPE_STRING},
		{"{\"type\":\"int64\"}", NULL, TOOL_ARG_TYPE_INTEGER},
		{"{\"type\":\"internal\"}", NULL, TOOL_ARG_TYPE_OTHER},
		{"{\"$ref\":\"#/$defs/A\"}", "{\"$defs\":{\"A\":{\"type\":\"number\"}}}", TOOL_ARG_TYPE_NUMBER},
		{"{\"$ref\":\"#/definitions/A\"}", "{\"definitions\":{\"A\":{\"enum\":[true,false]}}}", TOOL_ARG_TYPE_BOOLEAN},
		{"{\"$ref\":\"#/$defs/missing\"}", "{\"$defs\":{}}", TOOL_ARG_TYPE_UNKNOWN},
		{"{\"$ref\":\"#/$defs/A\"}", "{\"$defs\":{\"A\":{\"$ref\":\"#/$defs/A\"}}}", TOOL_ARG_TYPE_UNKNOWN},
		{"{\"$ref\":\"#/$defs/a~1b\"}", "{\"$defs\":{\"a/b\":{\"type\":\"array\"}}}", TOOL_ARG_TYPE_ARRAY},
		{"{\"anyOf\":[{\"$ref\":\"#/$defs/A\"},{\"type\":\"null\"}]}", "{\"$defs\":{\"A\":{\"type\":\"object\"}}}",
		 TOOL_ARG_TYPE_OBJECT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum tool_arg_type t = tool_schema_infer_type(cases[i].prop, cases[i].root);
		CHECK_MSG(t == cases[i].want, "%s: got %s want %s", cases[i].prop, tool_arg_type_name(t),
		          tool_arg_type_name(cases[i].want));
	}
	struct tool_set ts;
	struct err e;
	tool_set_init(&ts);
	CHECK(tool_set_add(&ts, "bad", "{not json", &e) == -1 && strstr(e.msg, "bad"));
	CHECK(tool_set_add(&ts, "none", NULL, &e) == 0);
	CHECK(tool_set_add(&ts, "refroot", "{\"$ref\":\"#/$defs/P\",\"$defs\":{\"P\":{\"properties\":{\"k\":"
	                                   "{\"type\":\"integer\"}}}}}",
	                   &e) == 0);
	const struct tool_fn *f = tool_set_find(&ts, "refroot", 7);
	CHECK(f && tool_fn_arg_type(f, "k", 1) == TOOL_ARG_TYPE_INTEGER);
	CHECK(tool_set_find(&ts, "none", 4) && tool_set_find(&ts, "bad", 3) == NULL);
	/* the same property in two root branches: {"anyOf": [...]} of both */
	CHECK(tool_set_add(&ts, "two", "{\"oneOf\":[{\"properties\":{\"v\":{\"type\":\"integer\"}}},"
	                               "{\"properties\":{\"v\":{\"type\":\"string\"}}}]}",
	                   &e) == 0);
	f = tool_set_find(&ts, "two", 3);
	CHECK(f && tool_fn_arg_type(f, "v", 1) == TOOL_ARG_TYPE_STRING);
	/* typed by the caller directly */
	struct tool_param tp[] = {{"q", 0, TOOL_ARG_TYPE_INTEGER}};
	tool_set_add_typed(&ts, "native", tp, 1);
	f = tool_set_find(&ts, "native", 6);
	CHECK(f && tool_fn_arg_type(f, "q", 1) == TOOL_ARG_TYPE_INTEGER && tool_fn_arg_type(f, "z", 1) == 0);
	tool_set_free(&ts);

	size_t a, len;
	tool_text_strip(" \n\xe3\x80\x80 x y\t\n", 11, &a, &len);
	CHECK(a == 6 && len == 3);
	tool_text_strip("\n\n", 2, &a, &len);
	CHECK(len == 0);
}

/* ------------------------------------------------------------------ reasoning -> tools (§3.5) */

struct pcase {
	const char *what;
	bool start;
	enum tool_parser_kind kind;
	const char *in;
	const char *reasoning, *content, *calls;
};

static const struct pcase pcases[] = {
	{"3.5 with GLM-4.5 thinking", true, G45,
	 "<think>The user wants the weather.</think>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
	 "<arg_value>Beijing</arg_value>\n<arg_key>days</arg_key>\n<arg_value>2</arg_value>\n</tool_call>",
	 "The user wants the weather.", "\n", "get_weather {\"city\": \"Beijing\", \"days\": 2}\n"},
	{"3.5 with GLM-4.7 thinking", true, G47,
	 "The user wants the weather.</think><tool_call>get_weather<arg_key>city</arg_key><arg_value>Beijing"
	 "</arg_value><arg_key>days</arg_key><arg_value>2</arg_value></tool_call>",
	 "The user wants the weather.", "", "get_weather {\"city\": \"Beijing\", \"days\": 2}\n"},
	{"<tool_call> ends reasoning", true, G45, "<think>Check time.<tool_call>get_time\n</tool_call>", "Check time.",
	 "", "get_time {}\n"},
	{"answer then call, 4.7", true, G47,
	 "Think.</think>Let me check.<tool_call>get_time</tool_call>", "Think.", "Let me check.", "get_time {}\n"},
};

/* Streams the reasoning parser and routes its content into the tool parser, as the server does. */
static char *run_pipeline(const struct pcase *t, int mode, uint64_t seed, struct buf *reasoning,
                          struct tool_parse_result *res)
{
	struct tool_parser_opts opts = {TOOL_ID_STYLE_SGLANG, 9, false};
	struct reasoning_parser rp;
	struct reasoning_events rev;
	struct tool_parser tp;
	struct tool_events tev;
	struct canon c = {0};
	struct rng r;
	rng_seed(&r, seed);
	reasoning_parser_init(&rp, t->start);
	reasoning_events_init(&rev);
	tool_parser_init(&tp, t->kind, &g_tools, &opts);
	tool_events_init(&tev);
	tool_parse_result_init(res);
	size_t n = strlen(t->in), i = 0;
	for (int last = 0; !last;) {
		if (i < n) {
			size_t k = split_next(mode, &r, n - i);
			reasoning_parser_feed(&rp, t->in + i, k, &rev);
			i += k;
		} else {
			reasoning_parser_finish(&rp, &rev);
			last = 1;
		}
		for (size_t e = 0; e < rev.n; e++) {
			if (rev.v[e].type == REASONING_EVENT_TYPE_REASONING) {
				buf_append(reasoning, rev.v[e].text, rev.v[e].len);
				canon_add(&c, SEG_REASONING, -1, NULL, rev.v[e].text, rev.v[e].len, true);
			} else {
				tool_parser_feed(&tp, rev.v[e].text, rev.v[e].len, &tev);
			}
		}
		if (last) tool_parser_finish(&tp, &tev);
		for (size_t e = 0; e < tev.n; e++) {
			const struct tool_event *x = &tev.v[e];
			bool join = x->type == TOOL_EVENT_TYPE_CONTENT || x->type == TOOL_EVENT_TYPE_CALL_ARGS;
			canon_add(&c, x->type, x->index, x->id, x->text, x->len, join);
		}
		tool_parse_result_add(res, &tev);
		reasoning_events_clear(&rev);
		tool_events_clear(&tev);
	}
	reasoning_events_free(&rev);
	tool_events_free(&tev);
	reasoning_parser_free(&rp);
	tool_parser_free(&tp);
	char *s = canon_text(&c);
	canon_free(&c);
	return s;
}

static void test_pipeline(void)
{
	for (size_t k = 0; k < sizeof pcases / sizeof pcases[0]; k++) {
		const struct pcase *t = &pcases[k];
		struct buf rs;
		struct tool_parse_result res;
		buf_init(&rs);
		char *whole = run_pipeline(t, SPLIT_WHOLE, 0, &rs, &res);
		char *calls = calls_text(&res);
		CHECK_MSG(strcmp(rs.data ? rs.data : "", t->reasoning) == 0, "%s: reasoning '%s'", t->what, rs.data);
		CHECK_MSG(strcmp(res.content, t->content) == 0, "%s: content '%s'", t->what, res.content);
		CHECK_MSG(strcmp(calls, t->calls) == 0, "%s: calls %s", t->what, calls);
		free(calls);
		tool_parse_result_free(&res);
		buf_free(&rs);
		for (int mode = SPLIT_BYTES; mode <= SPLIT_RANDOM; mode++)
			for (uint64_t seed = 1; seed <= (mode == SPLIT_RANDOM ? N_SEEDS : 1); seed++) {
				buf_init(&rs);
				char *got = run_pipeline(t, mode, seed, &rs, &res);
				CHECK_MSG(strcmp(got, whole) == 0, "%s: split %d seed %llu:\n%s\nvs\n%s", t->what, mode,
				          (unsigned long long)seed, got, whole);
				free(got);
				tool_parse_result_free(&res);
				buf_free(&rs);
			}
		free(whole);
	}
}

/* py_escape_decode, shared by the template lexer and the Python-literal parser: every escape
 * class against the value Python gives it, where *i ends, and the refusals. */
static void test_py_escape(void)
{
	static const struct {
		const char *in; /* what follows the backslash */
		const char *out;
		size_t used; /* bytes consumed */
		enum py_escape r;
		uint32_t cp;
	} cases[] = {
		{"\nx", "", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"\\", "\\", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"'", "'", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"\"", "\"", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"a", "\a", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"b", "\b", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"f", "\f", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"n", "\n", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"r", "\r", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"t", "\t", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"v", "\v", 1, PY_ESCAPE_OK, UINT32_MAX},
		{"x41z", "A", 3, PY_ESCAPE_OK, 0x41},
		{"xe9", "\xc3\xa9", 3, PY_ESCAPE_OK, 0xe9},
		{"u20AC!", "\xe2\x82\xac", 5, PY_ESCAPE_OK, 0x20ac},
		{"U0001F600", "\xf0\x9f\x98\x80", 9, PY_ESCAPE_OK, 0x1f600},
		{"ud800", "\xed\xa0\x80", 5, PY_ESCAPE_OK, 0xd800}, /* the caller decides on surrogates */
		{"101x", "A", 3, PY_ESCAPE_OK, UINT32_MAX},         /* octal: at most 3 digits */
		{"1019", "A", 3, PY_ESCAPE_OK, UINT32_MAX},
		{"18", "\x01", 1, PY_ESCAPE_OK, UINT32_MAX},       /* 8 is not octal */
		{"777", "\xc7\xbf", 3, PY_ESCAPE_OK, UINT32_MAX}, /* 0o777 = U+01FF */
		{"q", "\\q", 1, PY_ESCAPE_OK, UINT32_MAX},           /* unknown: the backslash stays */
		{"x4", "", 2, PY_ESCAPE_TRUNCATED, UINT32_MAX},
		{"u12g4", "", 3, PY_ESCAPE_TRUNCATED, UINT32_MAX},
		{"U00110000", "", 9, PY_ESCAPE_RANGE, UINT32_MAX},
		{"N{DASH}", "", 1, PY_ESCAPE_NAMED, UINT32_MAX},
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		struct buf out;
		buf_init(&out);
		size_t i = 0, n = strlen(cases[k].in), want_len = strlen(cases[k].out);
		uint32_t cp = 0;
		enum py_escape r = py_escape_decode(cases[k].in, n, &i, &out, &cp);
		CHECK_MSG(r == cases[k].r && i == cases[k].used && out.len == want_len &&
		              !memcmp(out.data ? out.data : "", cases[k].out, want_len) &&
		              (r != PY_ESCAPE_OK || cp == cases[k].cp),
		          "py_escape case %zu (\\%s): result %d, used %zu, %zu bytes out", k, cases[k].in, (int)r, i, out.len);
		buf_free(&out);
	}
}

int main(void)
{
	struct err e;
	tool_set_init(&g_tools);
	if (tool_set_add(&g_tools, "get_weather", schema_weather, &e) || tool_set_add(&g_tools, "get_time", schema_time, &e) ||
	    tool_set_add(&g_tools, "typed", schema_typed, &e) || tool_set_add(&g_tools, "combo", schema_combo, &e)) {
		fprintf(stderr, "tool_set_add: %s\n", e.msg);
		return 1;
	}
	test_reasoning();
	test_tool_cases();
	test_tool_events();
	test_schema_types();
	test_pipeline();
	test_py_escape();
	tool_set_free(&g_tools);
	TEST_END();
}
