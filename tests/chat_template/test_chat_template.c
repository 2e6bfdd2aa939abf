/* test_chat_template.c — C-side checks of the template renderer and chat_template.c:
 *  - every shared fixture (template x context) against expected/ byte for byte;
 *  - the same fixtures sent as OpenAI-style requests (arguments as JSON strings, null fields,
 *    the `reasoning` alias, kwargs in chat_template_kwargs) through the preprocessing;
 *  - errors: unsupported syntax at load time with line:column, raise_exception's message,
 *    runtime errors with a position;
 *  - finding the template in a checkpoint directory (all the places transformers looks);
 *  - concurrent renders of one template sharing input values.
 * usage: test_chat_template SHARED_DIR   (prints "N passed, M failed") */
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "chat/jinja_json.h"
#include "test_util.h"

static const char *models[] = {"glm-4.5", "glm-4.6", "glm-4.7", "glm-4.7-flash", "glm-5.1"};
#define N_MODELS 5

static char *read_text(const char *path)
{
	struct buf b;
	buf_init(&b);
	struct err e;
	if (file_read_all(path, &b, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		buf_free(&b);
		return NULL;
	}
	if (!b.data) buf_puts(&b, "");
	return buf_take(&b);
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* names of the contexts/ JSON files without extension, sorted */
static char **list_contexts(const char *root, int *n)
{
	char *dir = path_join(root, "contexts");
	DIR *d = opendir(dir);
	char **v = NULL;
	int cnt = 0, cap = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
			if (cnt == cap) v = xrealloc(v, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *v);
			v[cnt++] = xstrndup(de->d_name, l - 5);
		}
	}
	if (d) closedir(d);
	free(dir);
	qsort(v, (size_t)cnt, sizeof *v, cmp_names);
	*n = cnt;
	return v;
}

static char *render_raw(const char *tpl_src, json_t *ctx, struct err *e)
{
	struct jinja_template *t = jinja_template_create(tpl_src, strlen(tpl_src), "t", e);
	if (!t) return NULL;
	struct jinja_value *vars = ctx ? jinja_from_json(ctx) : jinja_dict();
	if (!jinja_dict_get(vars, "tools")) jinja_dict_set_cstr(vars, "tools", jinja_none());
	struct buf out;
	buf_init(&out);
	int rc = jinja_template_render(t, vars, &out, e);
	jinja_unref(vars);
	jinja_template_destroy(t);
	if (rc) {
		buf_free(&out);
		return NULL;
	}
	if (!out.data) buf_puts(&out, "");
	return buf_take(&out);
}

/* ---- 1. fixtures, raw contexts */
static void test_fixtures(const char *root, char **ctxs, int n_ctx)
{
	for (int m = 0; m < N_MODELS; m++) {
		char tp[1024];
		snprintf(tp, sizeof tp, "%s/%s/chat_template.jinja", root, models[m]);
		char *src = read_text(tp);
		CHECK_MSG(src != NULL, "%s", tp);
		if (!src) continue;
		for (int c = 0; c < n_ctx; c++) {
			char cp[1024], ep[1024];
			snprintf(cp, sizeof cp, "%s/contexts/%s.json", root, ctxs[c]);
			snprintf(ep, sizeof ep, "%s/expected/%s__%s.txt", root, models[m], ctxs[c]);
			json_error_t je;
			json_t *ctx = json_load_file(cp, 0, &je);
			char *exp = read_text(ep);
			struct err e = {{0}};
			char *got = ctx ? render_raw(src, ctx, &e) : NULL;
			CHECK_MSG(got && exp && !strcmp(got, exp), "fixture %s/%s: %s", models[m], ctxs[c], got ? "differs" : e.msg);
			free(got);
			free(exp);
			json_decref(ctx);
		}
		free(src);
	}
}

/* ---- 2. fixtures as OpenAI requests through chat_template_render_json */
static json_t *as_request_messages(json_t *msgs, bool alias_reasoning)
{
	json_t *out = json_array();
	size_t i;
	json_t *m;
	json_array_foreach(msgs, i, m)
	{
		json_t *c = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(m, k, v)
		{
			if (!strcmp(k, "tool_calls")) {
				json_t *tcs = json_array();
				size_t j;
				json_t *tc;
				json_array_foreach(v, j, tc)
				{
					json_t *tc2 = json_deep_copy(tc);
					json_t *fn = json_object_get(tc2, "function");
					json_t *args = fn ? json_object_get(fn, "arguments") : NULL;
					if (args && json_is_object(args)) {
						char *s = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
						json_object_set_new(fn, "arguments", json_string(s));
						free(s);
					}
					json_object_set_new(tc2, "index", json_null()); /* dropped by preprocessing */
					json_array_append_new(tcs, tc2);
				}
				json_object_set_new(c, k, tcs);
			} else if (alias_reasoning && !strcmp(k, "reasoning_content")) {
				json_object_set(c, "reasoning", v);
			} else {
				json_object_set(c, k, v);
			}
		}
		if (!json_object_get(c, "content")) json_object_set_new(c, "content", json_null());
		json_object_set_new(c, "name", json_null());
		json_array_append_new(out, c);
	}
	return out;
}

static void test_requests(const char *root, char **ctxs, int n_ctx)
{
	for (int m = 0; m < N_MODELS; m++) {
		char dir[1024];
		snprintf(dir, sizeof dir, "%s/%s", root, models[m]);
		struct err e;
		struct chat_template *t = chat_template_create(dir, NULL, &e);
		CHECK_MSG(t != NULL, "load %s: %s", dir, t ? "" : e.msg);
		if (!t) continue;
		for (int c = 0; c < n_ctx; c++) {
			for (int alias = 0; alias < 2; alias++) {
				char cp[1024], ep[1024];
				snprintf(cp, sizeof cp, "%s/contexts/%s.json", root, ctxs[c]);
				snprintf(ep, sizeof ep, "%s/expected/%s__%s.txt", root, models[m], ctxs[c]);
				json_error_t je;
				json_t *ctx = json_load_file(cp, 0, &je);
				char *exp = read_text(ep);
				json_t *msgs = as_request_messages(json_object_get(ctx, "messages"), alias);
				json_t *kw = json_object();
				const char *k;
				json_t *v;
				json_object_foreach(ctx, k, v) if (strcmp(k, "messages") && strcmp(k, "tools") &&
				                                   strcmp(k, "add_generation_prompt")) json_object_set(kw, k, v);
				bool agp = json_is_true(json_object_get(ctx, "add_generation_prompt"));
				struct buf out;
				buf_init(&out);
				int rc = chat_template_render_json(t, msgs, json_object_get(ctx, "tools"), NULL, kw, agp, &out, &e);
				CHECK_MSG(rc == 0 && exp && out.data && !strcmp(out.data, exp), "request %s/%s alias=%d: %s", models[m],
				          ctxs[c], alias, rc ? e.msg : "differs");
				buf_free(&out);
				free(exp);
				json_decref(msgs);
				json_decref(kw);
				json_decref(ctx);
			}
		}
		chat_template_destroy(t);
	}
}

static char *render_req(struct chat_template *t, const char *messages_json, const char *tools_json,
                        const char *tool_choice_json, const char *kwargs_json, struct err *e)
{
	json_error_t je;
	json_t *msgs = json_loads(messages_json, 0, &je);
	json_t *tools = tools_json ? json_loads(tools_json, 0, &je) : NULL;
	json_t *tc = tool_choice_json ? json_loads(tool_choice_json, JSON_DECODE_ANY, &je) : NULL;
	json_t *kw = kwargs_json ? json_loads(kwargs_json, 0, &je) : NULL;
	struct buf out;
	buf_init(&out);
	int rc = chat_template_render_json(t, msgs, tools, tc, kw, true, &out, e);
	json_decref(msgs);
	json_decref(tools);
	json_decref(tc);
	json_decref(kw);
	if (rc) {
		buf_free(&out);
		return NULL;
	}
	if (!out.data) buf_puts(&out, "");
	return buf_take(&out);
}

static void test_preprocessing(const char *root)
{
	char dir[1024];
	snprintf(dir, sizeof dir, "%s/glm-4.5", root);
	struct err e;
	struct chat_template *t = chat_template_create(dir, NULL, &e);
	CHECK(t != NULL);
	if (!t) return;
	const char *tools = "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"description\":null}}]";
	/* content null is dropped (SGLang), so it renders as nothing instead of Python's "None" */
	char *s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":null,"
	                        "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
	                        "\"arguments\":\"{\\\"b\\\": 1.0, \\\"a\\\": [1e20, null, \\\"\\u4e8c\\\"]}\"}}]}]",
	                     tools, NULL, NULL, &e);
	CHECK_STREQ(s, "[gMASK]<sop><|system|>\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
	               "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
	               "{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": null}}\n</tools>\n\n"
	               "For each function call, output the function name and arguments within the following XML format:\n"
	               "<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n"
	               "<arg_key>{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>"
	               "<|user|>\nq<|assistant|>\n<think></think>\n<tool_call>f\n<arg_key>b</arg_key>\n<arg_value>1.0</arg_value>\n"
	               "<arg_key>a</arg_key>\n<arg_value>[1e+20, null, \"二\"]</arg_value>\n</tool_call><|assistant|>");
	free(s);
	/* tool_choice "none" leaves the tools out; an empty list is None too */
	s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"}]", tools, "\"none\"", NULL, &e);
	CHECK_STREQ(s, "[gMASK]<sop><|user|>\nq<|assistant|>");
	free(s);
	s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"}]", "[]", NULL, "{\"enable_thinking\": false}", &e);
	CHECK_STREQ(s, "[gMASK]<sop><|user|>\nq/nothink<|assistant|>\n<think></think>");
	free(s);
	/* kwargs cannot replace the fixed variables */
	s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"}]", NULL, NULL, "{\"messages\": [], \"tools\": [1]}", &e);
	CHECK_STREQ(s, "[gMASK]<sop><|user|>\nq<|assistant|>");
	free(s);
	/* `reasoning` is passed as reasoning_content */
	s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\",\"reasoning\":\"r\"}]",
	               NULL, NULL, NULL, &e);
	CHECK_STREQ(s, "[gMASK]<sop><|user|>\nq<|assistant|>\n<think>r</think>\na<|assistant|>");
	free(s);
	/* a bad arguments string names its place */
	s = render_req(t, "[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
	                  "{\"name\":\"f\",\"arguments\":\"{oops\"}}]}]",
	               NULL, NULL, NULL, &e);
	CHECK(s == NULL && strstr(e.msg, "messages[1].tool_calls[0].function.arguments") != NULL);
	free(s);
	s = render_req(t, "[{\"content\":\"no role\"}]", NULL, NULL, NULL, &e);
	CHECK(s == NULL && strstr(e.msg, "messages[0].role") != NULL);
	free(s);
	chat_template_destroy(t);
}

/* ---- 3. errors */
static void expect_load_error(const char *src, const char *want)
{
	struct err e = {{0}};
	struct jinja_template *t = jinja_template_create(src, strlen(src), "t", &e);
	CHECK_MSG(!t && strstr(e.msg, want), "template %s: want error containing \"%s\", got \"%s\"", src, want,
	          t ? "(compiled)" : e.msg);
	jinja_template_destroy(t);
}

static void expect_render_error(const char *src, const char *want)
{
	struct err e = {{0}};
	char *s = render_raw(src, NULL, &e);
	CHECK_MSG(!s && strstr(e.msg, want), "template %s: want error containing \"%s\", got \"%s\"", src, want,
	          s ? s : e.msg);
	free(s);
}

static void test_errors(void)
{
	expect_load_error("{% extends 'base.jinja' %}", "t:1:4: unsupported tag 'extends'");
	expect_load_error("a\n{% include 'x' %}", "t:2:4: unsupported tag 'include'");
	expect_load_error("{{ x | nosuch }}", "t:1:8: No filter named 'nosuch'");
	expect_load_error("{{ x is nosuchtest }}", "t:1:6: No test named 'nosuchtest'");
	/* like jinja2, unknown names inside if / inline-if fail only when evaluated */
	expect_render_error("{% if x is nosuchtest %}{% endif %}", "t:1:9: TemplateRuntimeError: No test named 'nosuchtest' found.");
	{
		struct err e = {{0}};
		char *s = render_raw("{% if false %}{{ x|nosuch }}{% endif %}{{ 1 if true else x|nosuch2 }}", NULL, &e);
		CHECK_STREQ(s, "1");
		free(s);
		/* generation blocks (transformers' AssistantTracker) render their body in their own scope */
		s = render_raw("a{% generation %}b{% set y = 1 %}{{ y }}{% endgeneration %}{{ y }}c", NULL, &e);
		CHECK_STREQ(s, "ab1c");
		free(s);
	}
	/* jinja2 filters this renderer does not implement are refused wherever they are */
	expect_load_error("{% if false %}{{ x|groupby('a') }}{% endif %}", "t:1:20: unsupported: the jinja2 filter 'groupby'");
	expect_load_error("{{ x|wordwrap }}", "unsupported: the jinja2 filter 'wordwrap'");
	expect_load_error("{% for x in y %}{% if 1 %}{% for z in x %}{{ z|nosuch }}{% endfor %}{% endif %}{% endfor %}",
	                  "No filter named 'nosuch'");
	expect_load_error("line1\nline2\n  {% for x in y recursive %}{% endfor %}", "t:3:17: unsupported: recursive for loops");
	expect_load_error("{% if x %}never closed", "Unexpected end of template");
	expect_load_error("{% frobnicate %}", "t:1:4: Encountered unknown tag 'frobnicate'");
	expect_load_error("{% break %}", "t:1:4: 'break' outside of a loop");
	expect_load_error("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}", "'break' outside of a loop");
	expect_load_error("{{ 'a\\N{BULLET}' }}", "t:1:4: unsupported: \\N{...} escape");
	expect_load_error("{{ 'unterminated }}", "t:1:4: unexpected char");
	expect_load_error("{{ (1 }}", "t:1:7: unexpected '}', expected ')'");
	expect_load_error("{{ 99999999999999999999 }}", "t:1:4: unsupported: integer literal");
	expect_load_error("{# no end", "Missing end of comment tag");
	expect_load_error("{% raw %} no end", "Missing end of raw directive");
	expect_load_error("{% autoescape true %}x{% endautoescape %}", "unsupported tag 'autoescape'");
	expect_load_error("{% set 1 = 2 %}", "can't assign");
	expect_load_error("{{ x.y( }}", "t:1:");
	expect_load_error("\xff{{ x }}", "not valid UTF-8");
	{
		/* hostile nesting is refused instead of exhausting the stack */
		struct buf b;
		buf_init(&b);
		buf_puts(&b, "{{ ");
		for (int i = 0; i < 5000; i++) buf_puts(&b, i < 200 ? "(" : "not ");
		expect_load_error(b.data, "nested too deeply");
		buf_free(&b);
	}
	expect_render_error("{{ raise_exception('boom: roles must alternate') }}", "raise_exception: boom: roles must alternate");
	{
		struct err e = {{0}};
		char *s = render_raw("a\n{{ raise_exception('exact') }}", NULL, &e);
		CHECK(s == NULL);
		CHECK_STREQ(e.msg, "raise_exception: exact");
		free(s);
	}
	expect_render_error("x\n  {{ 1 / 0 }}", "t:2:6: ZeroDivisionError");
	expect_render_error("{{ undefined_thing.attr }}", "UndefinedError: 'undefined_thing' is undefined");
	expect_render_error("{{ [].append(1) }}", "SecurityError");
	expect_render_error("{{ [1]|map('upper') }}", "printing a generator");
	expect_render_error("{{ 'ΣΑΣ'|lower }}", "unsupported: lowercasing GREEK CAPITAL SIGMA");
	expect_render_error("{{ 'x'.encode() }}", "unsupported: str.encode()");
	expect_render_error("{{ 2 ** 64 }}", "unsupported: integer result outside the 64-bit range");
	expect_render_error("{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", "takes not more than 1 argument");
}

/* ---- 4. finding the template */
static void write_file(const char *dir, const char *name, const char *text)
{
	char *p = path_join(dir, name);
	struct err e;
	file_write_all(p, text, strlen(text), &e);
	free(p);
}

static void remove_file(const char *dir, const char *name)
{
	char *p = path_join(dir, name);
	unlink(p);
	free(p);
}

static char *render_dir(const char *dir, const char *override, struct err *e)
{
	struct chat_template *t = chat_template_create(dir, override, e);
	if (!t) return NULL;
	char *s = render_req(t, "[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, NULL, NULL, e);
	chat_template_destroy(t);
	return s;
}

static void test_discovery(void)
{
	char dir[] = "/tmp/glm_ct_XXXXXX";
	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	struct err e;
	char *s = render_dir(dir, NULL, &e);
	CHECK(s == NULL && strstr(e.msg, "no chat template"));
	free(s);
	write_file(dir, "tokenizer_config.json",
	           "{\"bos_token\": {\"content\": \"<s>\", \"special\": true}, \"eos_token\": \"</s>\","
	           " \"chat_template\": \"A{{ bos_token }}{{ messages[0].content }}{{ eos_token }}\"}");
	s = render_dir(dir, NULL, &e);
	CHECK_STREQ(s, "A<s>hi</s>");
	free(s);
	write_file(dir, "tokenizer_config.json",
	           "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"}, {\"name\": \"default\", \"template\": "
	           "\"D{{ messages|length }}\"}]}");
	s = render_dir(dir, NULL, &e);
	CHECK_STREQ(s, "D1");
	free(s);
	write_file(dir, "tokenizer_config.json", "{\"chat_template\": [{\"name\": \"rag\", \"template\": \"R\"}]}");
	s = render_dir(dir, NULL, &e);
	CHECK(s == NULL && strstr(e.msg, "no \"default\"") && strstr(e.msg, "'rag'"));
	free(s);
	write_file(dir, "chat_template.json", "{\"chat_template\": \"J{{ add_generation_prompt }}\"}");
	s = render_dir(dir, NULL, &e);
	CHECK_STREQ(s, "JTrue");
	free(s);
	write_file(dir, "chat_template.jinja", "F{{ tools }}\n");
	s = render_dir(dir, NULL, &e);
	CHECK_STREQ(s, "FNone"); /* chat_template.jinja wins; one trailing newline is dropped */
	free(s);
	char *ov = path_join(dir, "other.jinja");
	write_file(dir, "other.jinja", "O{{ messages[0].role }}");
	s = render_dir(dir, ov, &e);
	CHECK_STREQ(s, "Ouser");
	free(s);
	s = render_dir(dir, "I{{ messages[0].content|upper }}", &e);
	CHECK_STREQ(s, "IHI");
	free(s);
	s = render_dir(dir, "/nonexistent/template.jinja", &e);
	CHECK(s == NULL && strstr(e.msg, "not found"));
	free(s);
	write_file(dir, "chat_template.jinja", "{% if %}");
	s = render_dir(dir, NULL, &e);
	CHECK(s == NULL && strstr(e.msg, "chat_template.jinja:1:7"));
	free(s);
	free(ov);
	remove_file(dir, "other.jinja");
	remove_file(dir, "chat_template.jinja");
	remove_file(dir, "chat_template.json");
	remove_file(dir, "tokenizer_config.json");
	rmdir(dir);
}

/* ---- 5. concurrent renders */
struct thread_arg {
	const struct jinja_template *t;
	const struct jinja_value *vars;
	const char *expect;
	int bad;
};

static void *render_thread(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 100; i++) {
		struct buf out;
		buf_init(&out);
		struct err e;
		if (jinja_template_render(a->t, a->vars, &out, &e) || !out.data || strcmp(out.data, a->expect)) a->bad++;
		buf_free(&out);
	}
	return NULL;
}

static void test_threads(const char *root)
{
	char tp[1024], cp[1024], ep[1024];
	snprintf(tp, sizeof tp, "%s/glm-5.1/chat_template.jinja", root);
	snprintf(cp, sizeof cp, "%s/contexts/tools_multiturn.json", root);
	snprintf(ep, sizeof ep, "%s/expected/glm-5.1__tools_multiturn.txt", root);
	char *src = read_text(tp), *exp = read_text(ep);
	json_error_t je;
	json_t *ctx = json_load_file(cp, 0, &je);
	struct err e;
	struct jinja_template *t = src ? jinja_template_create(src, strlen(src), "t", &e) : NULL;
	CHECK(t && exp && ctx);
	if (t && exp && ctx) {
		struct jinja_value *vars = jinja_from_json(ctx);
		struct thread_arg args[4];
		pthread_t th[4];
		for (int i = 0; i < 4; i++) {
			args[i] = (struct thread_arg){.t = t, .vars = vars, .expect = exp};
			pthread_create(&th[i], NULL, render_thread, &args[i]);
		}
		int bad = 0;
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			bad += args[i].bad;
		}
		CHECK_MSG(bad == 0, "%d concurrent renders differed", bad);
		jinja_unref(vars);
	}
	jinja_template_destroy(t);
	json_decref(ctx);
	free(src);
	free(exp);
}

/* ---- 6. value printing */
static void test_values(void)
{
	struct {
		const char *json, *str, *tojson;
	} cases[] = {
		{"1.0", "1.0", "1.0"},
		{"1e20", "1e+20", "1e+20"},
		{"1e16", "1e+16", "1e+16"},
		{"1234567890123456.0", "1234567890123456.0", "1234567890123456.0"},
		{"0.0001", "0.0001", "0.0001"},
		{"1e-05", "1e-05", "1e-05"},
		{"5e-324", "5e-324", "5e-324"},
		{"-0.0", "-0.0", "-0.0"},
		{"0.1", "0.1", "0.1"},
		{"123456789012345678", "123456789012345678", "123456789012345678"},
		{"null", "None", "null"},
		{"true", "True", "true"},
		{"\"it's \\\"q\\\" \\\\ \\n\\u0001\\u00e9\\u200b\"", "it's \"q\" \\ \n\x01" "é\u200b",
		 "\"it's \\\"q\\\" \\\\ \\n\\u0001é\u200b\""},
		{"{\"b\": [1, 2.5, {}], \"a\": \"x'y\"}", "{'b': [1, 2.5, {}], 'a': \"x'y\"}", "{\"b\": [1, 2.5, {}], \"a\": \"x'y\"}"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_error_t je;
		json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
		struct jinja_value *v = jinja_from_json(j);
		struct buf a, b;
		buf_init(&a);
		buf_init(&b);
		struct err e;
		jinja_value_str(v, &a, &e);
		jinja_value_tojson(v, &b, &e);
		CHECK_STREQ(a.data ? a.data : "", cases[i].str);
		CHECK_STREQ(b.data ? b.data : "", cases[i].tojson);
		json_t *back = jinja_to_json(v, &e); /* the converters are inverse on JSON data */
		CHECK_MSG(back && json_equal(back, j), "jinja_to_json(%s)", cases[i].json);
		json_decref(back);
		buf_free(&a);
		buf_free(&b);
		jinja_unref(v);
		json_decref(j);
	}
}

static void test_to_json_refuses(void)
{
	struct err e;
	struct jinja_value *u = jinja_undefined();
	json_t *j = jinja_to_json(u, &e);
	CHECK(j == NULL && strstr(e.msg, "Undefined"));
	struct jinja_value *l = jinja_list();
	jinja_list_append(l, jinja_float(1.5));
	jinja_list_append(l, jinja_cstring("x"));
	j = jinja_to_json(l, &e);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	CHECK_STREQ(s, "[1.5,\"x\"]");
	free(s);
	json_decref(j);
	jinja_unref(l);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_chat_template SHARED_DIR\n");
		return 2;
	}
	char *root = path_join(argv[1], "data/chat_templates");
	int n_ctx = 0;
	char **ctxs = list_contexts(root, &n_ctx);
	CHECK_MSG(n_ctx == 7, "expected 7 contexts, found %d", n_ctx);
	test_fixtures(root, ctxs, n_ctx);
	test_requests(root, ctxs, n_ctx);
	test_preprocessing(root);
	test_errors();
	test_discovery();
	test_threads(root);
	test_values();
	test_to_json_refuses();
	for (int i = 0; i < n_ctx; i++) free(ctxs[i]);
	free(ctxs);
	free(root);
	TEST_END();
}
