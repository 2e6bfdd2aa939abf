/* fuzz_tool_json.c — fuzz target for the Python-compatible JSON codecs and argument typing that
 * untrusted text reaches (src/chat/tool_json.c, tool_set.c, tool_parser.c's tool_arg_to_json):
 * tool-call argument values written by the model, and the `parameters` JSON Schemas of a
 * request's tools (tool_set_add, tool_schema_infer_type).
 * Invariants:
 *  - json.loads then json.dumps is a fixed point: dumps(loads(dumps(loads(s)))) == dumps(loads(s));
 *    the same for ast.literal_eval, int() and float();
 *  - tool_arg_to_json gives JSON for every argument type, and a JSON string for string-typed keys;
 *  - str.strip() stays inside the text; tool_set_add fails only with a message; a schema's
 *    inferred types are valid enum values.
 * Thread rules: single-threaded. */
#include <string.h>

#include "chat/tool_json.h"
#include "chat/tool_parser.h"
#include "fuzz.h"

const size_t fuzz_max_len = 2048;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_WHOLE;
const char *const fuzz_dict[] = {
	"{", "}", "[", "]", "(", ")", ",", ":", "\"", "'", "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\\ud800", "\\x41",
	"\\N{BULLET}", "\\n", "true", "false", "null", "True", "False", "None", "NaN", "Infinity", "-Infinity", "inf",
	"1e400", "-0.0", "1_000", "0x1F", "0o17", "0b101", "1j", "b'x'", "{1, 2}", "(1,)", "()", "[1, 2,]", "{'a': 1,}",
	"\"type\"", "\"string\"", "\"integer\"", "\"number\"", "\"boolean\"", "\"object\"", "\"array\"", "\"null\"",
	"\"properties\"", "\"$ref\"", "\"#/$defs/X\"", "\"#/definitions/X\"", "\"$defs\"", "\"definitions\"",
	"\"anyOf\"", "\"oneOf\"", "\"allOf\"", "\"enum\"", "\"const\"", "\"items\"", "\"int\"", "\"str\"", "\"bool\"",
	"\"float\"", "\"dict\"", "\"list\"", "12345678901234567890123", "3.141592653589793", "1e-7", " ", "\n", "é", NULL,
};

/* dumps(loads(dumps(v))) must equal dumps(v). */
static void check_fixed_point(const struct tool_json *v, const char *what)
{
	struct buf d1, d2;
	buf_init(&d1);
	buf_init(&d2);
	tool_json_dumps(v, &d1);
	struct tool_json *w = tool_json_loads(d1.data, d1.len);
	FUZZ_CHECK(w != NULL, "%s: json.loads refuses what json.dumps printed: %s", what, d1.data);
	tool_json_dumps(w, &d2);
	FUZZ_CHECK(d1.len == d2.len && !memcmp(d1.data, d2.data, d1.len), "%s: dumps/loads is not a fixed point: %s vs %s",
	           what, d1.data, d2.data);
	tool_json_free(w);
	buf_free(&d1);
	buf_free(&d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct tool_json *v = tool_json_loads(s, size);
	if (v) check_fixed_point(v, "json.loads");
	tool_json_free(v);
	v = tool_json_literal_eval(s, size);
	if (v) check_fixed_point(v, "ast.literal_eval");
	tool_json_free(v);
	v = tool_py_int(s, size);
	if (v) {
		FUZZ_CHECK(v->type == TOOL_JSON_TYPE_INT, "int() gave type %d", (int)v->type);
		check_fixed_point(v, "int()");
	}
	tool_json_free(v);
	v = tool_py_float(s, size);
	if (v) {
		FUZZ_CHECK(v->type == TOOL_JSON_TYPE_FLOAT, "float() gave type %d", (int)v->type);
		check_fixed_point(v, "float()");
	}
	tool_json_free(v);

	size_t st, len;
	tool_py_strip(s, size, &st, &len);
	FUZZ_CHECK(st <= size && len <= size - st, "strip gave [%zu, +%zu) of %zu bytes", st, len, size);

	for (int t = TOOL_ARG_TYPE_UNKNOWN; t <= TOOL_ARG_TYPE_OTHER; t++) {
		struct buf out;
		buf_init(&out);
		tool_arg_to_json(s, size, (enum tool_arg_type)t, &out);
		struct tool_json *j = tool_json_loads(out.data ? out.data : "", out.len);
		FUZZ_CHECK(j != NULL, "argument typed %s is not JSON: %s", tool_arg_type_name((enum tool_arg_type)t),
		           out.data ? out.data : "");
		if (t == TOOL_ARG_TYPE_STRING)
			FUZZ_CHECK(j->type == TOOL_JSON_TYPE_STRING, "a string-typed argument became JSON type %d", (int)j->type);
		tool_json_free(j);
		buf_free(&out);
	}

	/* the input as a tool's `parameters` schema (C-string APIs: up to the first NUL) */
	char *cs = fuzz_cstr(data, size);
	struct tool_set ts;
	tool_set_init(&ts);
	struct err e = {{0}};
	if (tool_set_add(&ts, "fn", cs, &e)) {
		FUZZ_CHECK(e.msg[0] != 0, "a refused schema must say why");
	} else {
		const struct tool_fn *fn = tool_set_find(&ts, "fn", 2);
		FUZZ_CHECK(fn != NULL, "the added tool is not found");
		for (size_t i = 0; i < fn->n_params; i++) {
			FUZZ_CHECK(fn->params[i].type >= TOOL_ARG_TYPE_UNKNOWN && fn->params[i].type <= TOOL_ARG_TYPE_OTHER,
			           "param %zu type %d", i, (int)fn->params[i].type);
			FUZZ_CHECK(tool_fn_arg_type(fn, fn->params[i].name, fn->params[i].name_len) <= TOOL_ARG_TYPE_OTHER,
			           "lookup of param %zu", i);
		}
	}
	tool_set_free(&ts);
	enum tool_arg_type t1 = tool_schema_infer_type(cs, NULL), t2 = tool_schema_infer_type(cs, cs);
	FUZZ_CHECK(t1 <= TOOL_ARG_TYPE_OTHER && t2 <= TOOL_ARG_TYPE_OTHER, "inferred types %d %d", (int)t1, (int)t2);
	free(cs);
	return 0;
}
