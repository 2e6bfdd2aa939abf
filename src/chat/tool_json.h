/* tool_json.h — a small JSON value tree for the tool-call parsers. It reads text the way
 * Python's json.loads does (NaN/Infinity, exact big integers, last duplicate key wins at the
 * first key's place), evaluates the Python literals models write the way ast.literal_eval does
 * (True/None, 'single quotes', tuples, trailing commas), and prints the way
 * json.dumps(ensure_ascii=False) does (", " and ": " separators, floats in Python repr).
 * Owns: the value tree and those three codecs. Does not own: the server's JSON (jansson, at the
 * edge); this exists because tool-call arguments must round-trip with Python's exact rules.
 * Thread rules: no global state; every function is thread-safe on distinct values.
 * Strings are byte strings with a length (they may hold NUL); bytes >= 0x80 are copied
 * verbatim, never validated or escaped (as ensure_ascii=False does). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum tool_json_type {
	TOOL_JSON_TYPE_NULL,
	TOOL_JSON_TYPE_BOOL,
	TOOL_JSON_TYPE_INT,    /* exact: canonical decimal text in s ("-12", "0") */
	TOOL_JSON_TYPE_FLOAT,  /* f; printed in Python repr */
	TOOL_JSON_TYPE_STRING, /* bytes in s[0..len) */
	TOOL_JSON_TYPE_ARRAY,
	TOOL_JSON_TYPE_OBJECT,
};

struct tool_json {
	enum tool_json_type type;
	bool b;
	double f;
	char *s; /* STRING bytes or INT digits, NUL-terminated */
	size_t len;
	/* ARRAY: items[0..n). OBJECT: keys[i] (key_lens[i] bytes) -> items[i], in insertion order. */
	struct tool_json **items;
	char **keys;
	size_t *key_lens;
	size_t n, cap;
	/* OBJECT with many keys: open-addressing index of (i + 1), so duplicate checks stay O(1). */
	size_t *hidx;
	size_t hcap;
};

/* Nesting deeper than this fails to parse (Python raises RecursionError near 1000). */
#define TOOL_JSON_MAX_DEPTH 512

struct tool_json *tool_json_new(enum tool_json_type t);
struct tool_json *tool_json_new_string(const char *s, size_t n);
void tool_json_free(struct tool_json *v);
void tool_json_array_push(struct tool_json *a, struct tool_json *v);
/* Python dict assignment: an existing key keeps its place and takes the new value (the old one
 * is freed). Takes ownership of v. */
void tool_json_object_set(struct tool_json *o, const char *k, size_t kn, struct tool_json *v);
const struct tool_json *tool_json_object_get(const struct tool_json *o, const char *k);

/* json.loads(s): NULL where Python would raise (syntax error, extra data, control character in
 * a string, nesting deeper than TOOL_JSON_MAX_DEPTH). */
struct tool_json *tool_json_loads(const char *s, size_t n);
/* ast.literal_eval(s) for values json.dumps can print: NULL on a syntax error and also for
 * literals json.dumps would reject (sets, bytes, complex, tuple keys). Unsupported on purpose:
 * comments, \N{...} escapes, backslash line continuations outside strings. */
struct tool_json *tool_json_literal_eval(const char *s, size_t n);
/* json.dumps(v, ensure_ascii=False) appended to out. */
void tool_json_dumps(const struct tool_json *v, struct buf *out);
/* json.dumps(str) of the bytes: the quoted string, and the body only (no quotes). */
void tool_json_dump_string(const char *s, size_t n, struct buf *out);
void tool_json_escape(const char *s, size_t n, struct buf *out);

/* Python's str.isspace() for one code point, and str.strip() on UTF-8 bytes: *start and *len
 * describe the stripped slice. */
bool tool_py_isspace(uint32_t cp);
void tool_py_strip(const char *s, size_t n, size_t *start, size_t *len);
/* int(s) and float(s) of Python (ASCII digits): NULL when Python raises ValueError. */
struct tool_json *tool_py_int(const char *s, size_t n);
struct tool_json *tool_py_float(const char *s, size_t n);
