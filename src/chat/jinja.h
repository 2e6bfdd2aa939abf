/* jinja.h — a Jinja renderer for Hugging Face chat templates, with the semantics of
 * transformers' apply_chat_template: Python jinja2 ImmutableSandboxedEnvironment with
 * trim_blocks, lstrip_blocks and loopcontrols, `tojson` = json.dumps(ensure_ascii=False),
 * globals raise_exception / strftime_now / range / namespace / dict / joiner / cycler.
 *
 * Owns: the value model (refcounted values that behave like the Python objects jinja2 sees),
 * template compilation (lexer, parser, jinja2's static scope analysis) and rendering.
 * Does not own: JSON (see jinja_json.h for jansson <-> value converters), file loading and
 * message preprocessing (chat_template.h).
 *
 * Anything the renderer does not implement is refused: unsupported tags (extends, include,
 * import, block, autoescape, recursive loops) and jinja2 filters it lacks fail at template
 * creation with "name:LINE:COL: ..."; Python methods or values it cannot reproduce (big ints,
 * printing a function) fail at render time. Filters/tests that jinja2 itself does not know fail
 * where jinja2 fails them (at creation, or inside if / inline-if only when evaluated).
 * The renderer never silently produces a different prompt than jinja2 would.
 *
 * Thread rules: a compiled template is immutable and may be rendered from many threads at once.
 * Value reference counts are atomic, so values may be shared between threads once built; a value
 * must not be modified (list append, dict set) while another thread can see it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum jinja_type {
	JINJA_TYPE_UNDEFINED, /* jinja2 Undefined: prints "", falsy, `is defined` false */
	JINJA_TYPE_NONE,
	JINJA_TYPE_BOOL,
	JINJA_TYPE_INT,   /* int64; arithmetic that overflows is a render error */
	JINJA_TYPE_FLOAT, /* double, printed with Python repr */
	JINJA_TYPE_STRING, /* UTF-8 */
	JINJA_TYPE_LIST,  /* also tuples, dict views and ranges (they print differently) */
	JINJA_TYPE_DICT,  /* insertion-ordered, any hashable key */
	/* the following only arise inside templates */
	JINJA_TYPE_NAMESPACE,
	JINJA_TYPE_CALLABLE, /* macro, builtin function or bound method */
	JINJA_TYPE_LOOP,     /* the `loop` variable of a for loop */
	JINJA_TYPE_OBJECT,   /* joiner / cycler objects */
};

struct jinja_value;

/* Constructors return a new reference (refcount 1, or an immortal singleton). */
struct jinja_value *jinja_undefined(void);
struct jinja_value *jinja_none(void);
struct jinja_value *jinja_bool(bool b);
struct jinja_value *jinja_int(int64_t i);
struct jinja_value *jinja_float(double f);
/* Copies s[0..len). The bytes must be valid UTF-8 (the caller checks; JSON input already is). */
struct jinja_value *jinja_string(const char *s, size_t len);
struct jinja_value *jinja_cstring(const char *s);
struct jinja_value *jinja_list(void);
struct jinja_value *jinja_dict(void);

struct jinja_value *jinja_ref(struct jinja_value *v);
void jinja_unref(struct jinja_value *v);

/* Appends item to a list, taking over the caller's reference to item. */
void jinja_list_append(struct jinja_value *list, struct jinja_value *item);
/* Sets dict[key] (a string key), taking over the reference to v. An existing key keeps its
 * position (Python dict semantics). */
void jinja_dict_set(struct jinja_value *dict, const char *key, size_t key_len, struct jinja_value *v);
void jinja_dict_set_cstr(struct jinja_value *dict, const char *key, struct jinja_value *v);
/* Removes a string key if present; returns whether it was there. */
bool jinja_dict_remove(struct jinja_value *dict, const char *key);

/* Read access (borrowed results, valid while the container lives). */
enum jinja_type jinja_type_of(const struct jinja_value *v);
bool jinja_bool_value(const struct jinja_value *v);
int64_t jinja_int_value(const struct jinja_value *v);
double jinja_float_value(const struct jinja_value *v);
const char *jinja_string_data(const struct jinja_value *v, size_t *len);
size_t jinja_len(const struct jinja_value *v); /* list items / dict entries / string bytes */
struct jinja_value *jinja_list_get(const struct jinja_value *list, size_t i);
/* dict entry i in insertion order; key and value borrowed */
void jinja_dict_entry(const struct jinja_value *dict, size_t i, struct jinja_value **key,
                      struct jinja_value **value);
/* NULL if absent or if dict is not a dict */
struct jinja_value *jinja_dict_get(const struct jinja_value *dict, const char *key);
/* Python truthiness */
bool jinja_truthy(const struct jinja_value *v);

/* Python str(v) appended to out (what `{{ v }}` prints). Fails only for values Python would
 * print with a memory address (functions, generators). */
int jinja_value_str(const struct jinja_value *v, struct buf *out, struct err *e);
/* json.dumps(v, ensure_ascii=False) with default separators. */
int jinja_value_tojson(const struct jinja_value *v, struct buf *out, struct err *e);

/* ---- templates ---- */
struct jinja_template;

/* Compiles template source (UTF-8). name is used in error messages ("chat template").
 * Syntax errors and unsupported constructs fail here with "name:LINE:COL: message". */
struct jinja_template *jinja_template_create(const char *source, size_t len, const char *name,
                                             struct err *e);
void jinja_template_destroy(struct jinja_template *t);

/* Renders with the keys of vars (a dict with string keys, nullable) as top-level variables.
 * Appends the output to out. On failure (a raise_exception call, an undefined value used where
 * jinja2 raises, a type error...) returns -1 with the reason in e; for raise_exception the
 * message is "raise_exception: <message>". out then holds a partial render. */
int jinja_template_render(const struct jinja_template *t, const struct jinja_value *vars,
                          struct buf *out, struct err *e);

/* Template source after newline normalization, for diagnostics. */
const char *jinja_template_source(const struct jinja_template *t);
