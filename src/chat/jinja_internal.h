/* jinja_internal.h — shared internals of the template renderer (jinja_*.c only): value layout,
 * tokens, syntax tree, scopes, runtime frames, builtin tables. Not a public interface.
 * Thread rules: as jinja.h (compiled templates are read-only; values use atomic refcounts). */
#pragma once
#include <stdarg.h>

#include "chat/jinja.h"

/* ------------------------------------------------------------------ values */

enum jv_flag {
	JV_FLAG_IMMORTAL = 1, /* static singletons and constants owned by a template */
	JV_FLAG_MARKUP = 2,   /* string produced by |safe / |escape (markupsafe.Markup) */
	JV_FLAG_UNSAFE = 4,   /* undefined produced by a sandbox-blocked attribute */
};

/* What a JINJA_TYPE_LIST prints as (all iterate like lists). */
enum jv_seq {
	JV_SEQ_LIST,
	JV_SEQ_TUPLE,
	JV_SEQ_DICT_ITEMS,
	JV_SEQ_DICT_KEYS,
	JV_SEQ_DICT_VALUES,
	JV_SEQ_RANGE,
	JV_SEQ_GENERATOR, /* results of map/select/...: Python prints an address; we refuse */
};

struct jv_entry {
	struct jinja_value *k, *v;
	uint64_t h;
};

struct jv_callable;
struct jv_loop;
struct jv_object;

struct jinja_value {
	int32_t refs;
	uint8_t type; /* enum jinja_type */
	uint8_t seq;  /* enum jv_seq for lists */
	uint8_t flags;
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			char *p;
			size_t len;
			size_t ncp; /* code points; SIZE_MAX until computed */
		} s;
		struct {
			struct jinja_value **v;
			size_t len, cap;
			int64_t range[3]; /* start, stop, step for JV_SEQ_RANGE */
			size_t gpos;      /* JV_SEQ_GENERATOR: items already consumed */
		} l;
		struct { /* dict and namespace */
			struct jv_entry *e;
			size_t len, cap;
			int32_t *idx; /* open-addressing index into e, built for larger dicts */
			size_t idx_cap;
		} d;
		struct jv_callable *c;
		struct jv_loop *loop;
		struct jv_object *o;
		char *hint; /* undefined: why (for error messages), may be NULL */
	} u;
};

/* new references */
struct jinja_value *jv_str(const char *s, size_t len);
struct jinja_value *jv_str_take(char *s, size_t len); /* takes a malloc'd NUL-terminated buffer */
struct jinja_value *jv_str_buf(struct buf *b);         /* takes b's storage */
struct jinja_value *jv_undef_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct jinja_value *jv_unsafe_undef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct jinja_value *jv_list_new(enum jv_seq seq, size_t cap);
struct jinja_value *jv_namespace_new(void);
struct jinja_value *jv_copy_list(const struct jinja_value *l, enum jv_seq seq);

bool jv_is_str(const struct jinja_value *v);
bool jv_is_number(const struct jinja_value *v); /* bool, int, float */
size_t jv_str_ncp(struct jinja_value *v);       /* code point count (cached) */

void jv_list_push(struct jinja_value *l, struct jinja_value *item); /* steals item */
/* Dict with arbitrary hashable keys. get: borrowed or NULL. set steals key and val.
 * Fail (-1) only for unhashable keys. */
int jv_hash(const struct jinja_value *v, uint64_t *h, struct err *e);
struct jinja_value *jv_dict_get(const struct jinja_value *d, const struct jinja_value *key);
struct jinja_value *jv_dict_get_str(const struct jinja_value *d, const char *key, size_t len);
int jv_dict_set(struct jinja_value *d, struct jinja_value *key, struct jinja_value *val, struct err *e);
void jv_dict_set_str(struct jinja_value *d, const char *key, size_t len, struct jinja_value *val);

bool jv_eq(const struct jinja_value *a, const struct jinja_value *b);
/* Python ordering of a and b (*out <0, 0, >0); -1 with jinja2's TypeError message (naming op)
 * when the types do not order. */
int jv_cmp(const struct jinja_value *a, const struct jinja_value *b, const char *op, int *out, struct err *e);

/* Python str() and repr() */
int jv_to_str(const struct jinja_value *v, struct buf *out, struct err *e);
int jv_repr(const struct jinja_value *v, struct buf *out, struct err *e);
void jv_repr_str(const char *s, size_t len, struct buf *out);
const char *jv_type_name(const struct jinja_value *v); /* Python type name for messages */

struct jv_json_opts {
	bool ensure_ascii, sort_keys;
	const char *indent; /* NULL: no indent */
	const char *item_sep, *key_sep;
};
int jv_tojson(const struct jinja_value *v, const struct jv_json_opts *o, struct buf *out, struct err *e);

/* ------------------------------------------------------------------ UTF-8 / Unicode helpers */

struct jinja_case_map {
	uint32_t cp;
	uint8_t n;
	uint32_t to[3];
};
extern const uint32_t jinja_printable_ranges[][2];
extern const size_t jinja_printable_ranges_n;
extern const uint32_t jinja_alnum_ranges[][2];
extern const size_t jinja_alnum_ranges_n;
extern const uint32_t jinja_decimal_ranges[][2];
extern const size_t jinja_decimal_ranges_n;
extern const struct jinja_case_map jinja_upper_map[], jinja_lower_map[], jinja_title_map[];
extern const size_t jinja_upper_map_n, jinja_lower_map_n, jinja_title_map_n;
extern const char jinja_unicode_version[];

bool ju_isspace(uint32_t cp); /* str.isspace / regex \s */
bool ju_isprintable(uint32_t cp);
bool ju_isalnum(uint32_t cp);
bool ju_isdecimal(uint32_t cp);
/* appends the case mapping of cp (map = jinja_upper_map etc.) */
void ju_case(uint32_t cp, const struct jinja_case_map *map, size_t n, struct buf *out);
/* decode one code point at s[0..n) (input is valid UTF-8), returns its length */
int ju_next(const char *s, size_t n, uint32_t *cp);
size_t ju_count(const char *s, size_t n);
/* byte offset of code point index i (clamped to n) */
size_t ju_offset(const char *s, size_t n, size_t i);
bool ju_valid(const char *s, size_t n);

/* ------------------------------------------------------------------ tokens */

enum jtok {
	JTOK_EOF,
	JTOK_DATA,
	JTOK_VAR_BEGIN,
	JTOK_VAR_END,
	JTOK_BLOCK_BEGIN,
	JTOK_BLOCK_END,
	JTOK_NAME,
	JTOK_STRING,
	JTOK_INT,
	JTOK_FLOAT,
	/* operators */
	JTOK_ADD,
	JTOK_SUB,
	JTOK_DIV,
	JTOK_FLOORDIV,
	JTOK_MUL,
	JTOK_MOD,
	JTOK_POW,
	JTOK_TILDE,
	JTOK_LBRACKET,
	JTOK_RBRACKET,
	JTOK_LPAREN,
	JTOK_RPAREN,
	JTOK_LBRACE,
	JTOK_RBRACE,
	JTOK_EQ,
	JTOK_NE,
	JTOK_GT,
	JTOK_GTEQ,
	JTOK_LT,
	JTOK_LTEQ,
	JTOK_ASSIGN,
	JTOK_DOT,
	JTOK_COLON,
	JTOK_PIPE,
	JTOK_COMMA,
	JTOK_SEMICOLON,
};

struct jtoken {
	enum jtok type;
	int line, col;
	char *text; /* DATA / NAME / STRING (decoded) contents, NUL-terminated */
	size_t len;
	int64_t i;
	double f;
};

struct jtokens {
	struct jtoken *v;
	size_t n, cap;
};

/* Tokenizes normalized source (see jinja_lex_normalize). */
int jinja_lex(const char *src, size_t len, const char *name, struct jtokens *out, struct err *e);
void jinja_tokens_free(struct jtokens *t);
/* jinja2's newline handling: \r\n and \r become \n; one trailing newline is dropped. */
char *jinja_lex_normalize(const char *src, size_t len, size_t *out_len);
/* line/col (1-based, col in code points) of byte offset pos */
void jinja_lex_position(const char *src, size_t pos, int *line, int *col);

/* ------------------------------------------------------------------ syntax tree */

enum jnode_kind {
	/* statements */
	JN_OUTPUT,      /* kids: JN_DATA / expressions to print */
	JN_DATA,        /* value: template text */
	JN_IF,          /* a: test, kids: body, kids2: elif JN_IFs, kids3: else */
	JN_FOR,         /* a: target, b: iter, c: filter test, kids: body, kids2: else */
	JN_ASSIGN,      /* a: target, b: value */
	JN_ASSIGN_BLOCK, /* a: target, b: filter chain (input NULL) or NULL, kids: body */
	JN_MACRO,       /* name, kids: arg names, kids2: defaults, kids3: body */
	JN_CALL_BLOCK,  /* a: JN_CALL, kids: arg names, kids2: defaults, kids3: body */
	JN_FILTER_BLOCK, /* b: filter chain (input NULL), kids: body */
	JN_WITH,        /* kids: targets, kids2: values, kids3: body */
	JN_BREAK,
	JN_CONTINUE,
	JN_SCOPE_BODY,  /* transparent body (transformers' {% generation %}): kids */
	/* expressions */
	JN_CONST,   /* value */
	JN_NAME,    /* name; ctx */
	JN_NSREF,   /* name (namespace variable), attr */
	JN_GETATTR, /* a, attr */
	JN_GETITEM, /* a, b */
	JN_SLICE,   /* a, b, c (each nullable) */
	JN_CALL,    /* a: callee, kids: args, kids2: kwarg values (kwnames), c: *args, d: **kwargs */
	JN_FILTER,  /* a: input (NULL in filter blocks), name, id, args like JN_CALL */
	JN_TEST,    /* a: input, name, id, args like JN_CALL */
	JN_LIST,    /* kids */
	JN_TUPLE,   /* kids */
	JN_DICT,    /* kids: keys, kids2: values */
	JN_BINOP,   /* op (JTOK_ADD...), a, b */
	JN_CONCAT,  /* kids */
	JN_COMPARE, /* a, kids: JN_OPERAND */
	JN_OPERAND, /* op: JTOK_EQ.. or JN_OP_IN / JN_OP_NOTIN, a */
	JN_AND,
	JN_OR,
	JN_NOT,
	JN_NEG,
	JN_POS,
	JN_CONDEXPR, /* a: test, b: then, c: else (nullable) */
};

enum { JN_OP_IN = 1000, JN_OP_NOTIN = 1001 };
enum jname_ctx { JNAME_LOAD, JNAME_STORE, JNAME_PARAM };

struct jnode;
struct jnode_list {
	struct jnode **v;
	int n, cap;
};

struct jscope;

struct jnode {
	enum jnode_kind kind;
	int line, col;
	int op;
	int ctx;  /* JN_NAME: enum jname_ctx */
	int id;   /* filter / test id */
	struct jnode *a, *b, *c, *d;
	struct jnode_list kids, kids2, kids3;
	char **kwnames; /* JN_CALL / JN_FILTER / JN_TEST keyword names, parallel to kids2 */
	char *name;
	char *attr;
	struct jinja_value *value;
	/* scope analysis results */
	int up, slot;               /* JN_NAME / JN_NSREF loads: frame hops and slot; up=-1: context */
	struct jscope *scope;       /* body scope of FOR / MACRO / CALL_BLOCK / ASSIGN_BLOCK / FILTER_BLOCK / WITH */
	struct jscope *scope2;      /* FOR: else scope */
	struct jscope *scope3;      /* FOR: filter test scope */
	bool catch_kwargs, catch_varargs, accesses_caller, explicit_caller;
};

enum jload { JLOAD_PARAM, JLOAD_RESOLVE, JLOAD_ALIAS, JLOAD_UNDEFINED };

/* A static frame (jinja2's Symbols after analysis): its references in slot order. */
struct jscope {
	struct jscope *parent;
	int n;
	char **names;
	uint8_t *load;            /* enum jload */
	int *alias_up, *alias_slot; /* JLOAD_ALIAS: where the outer variable lives, from the parent frame */
	int loop_slot;            /* for-body scopes: slot of `loop`, else -1 */
};

struct jinja_template {
	char *name;
	char *source;
	struct jnode_list body;
	struct jscope *root;
	/* every allocation of the tree, for destroy */
	struct jnode **nodes;
	size_t n_nodes, cap_nodes;
	struct jscope **scopes;
	size_t n_scopes, cap_scopes;
};

int jinja_parse(struct jinja_template *t, struct jtokens *toks, struct err *e);
int jinja_analyze(struct jinja_template *t, struct err *e);
void jinja_tree_free(struct jinja_template *t);

/* ------------------------------------------------------------------ builtins (jinja_builtins.c) */

/* name -> id, or -1 (filters and tests are resolved at template creation) */
int jinja_filter_id(const char *name);
int jinja_test_id(const char *name);
/* true for every filter/test name jinja2 defines, implemented here or not */
bool jinja_builtin_name_known(const char *name, bool filter);

/* ------------------------------------------------------------------ runtime (jinja_render.c) */

struct jframe {
	int refs;
	struct jframe *parent;
	const struct jscope *scope;
	struct jinja_value **vals;
};

enum jv_call_kind {
	JV_CALL_MACRO,
	JV_CALL_GLOBAL, /* id: enum jglobal */
	JV_CALL_METHOD, /* id: enum jmethod, self: receiver */
};

enum jglobal {
	JGLOBAL_RANGE,
	JGLOBAL_DICT,
	JGLOBAL_NAMESPACE,
	JGLOBAL_RAISE_EXCEPTION,
	JGLOBAL_STRFTIME_NOW,
	JGLOBAL_JOINER,
	JGLOBAL_CYCLER,
	JGLOBAL_COUNT_,
};

struct jv_callable {
	enum jv_call_kind kind;
	int id;
	struct jinja_value *self;
	const struct jnode *macro;
	struct jframe *frame;
	char *name;
};

struct jrender;
/* lazy loop-filter evaluation: decides whether item passes */
typedef int (*jloop_test_fn)(struct jrender *r, void *arg, struct jinja_value *item, bool *pass, struct err *e);

struct jv_loop {
	struct jinja_value *src; /* list being iterated (materialized) */
	size_t src_pos;
	struct jinja_value **ahead; /* items that passed the filter, not yet consumed */
	size_t n_ahead, cap_ahead, ahead_pos;
	bool exhausted;
	int64_t index0;
	int64_t length; /* -1 until known */
	struct jinja_value *prev, *cur;
	struct jinja_value *last_changed; /* tuple of last changed() args or NULL */
	jloop_test_fn test;
	void *test_arg;
	struct jrender *r;
};

enum jobject_kind { JOBJECT_JOINER, JOBJECT_CYCLER };
struct jv_object {
	enum jobject_kind kind;
	struct jinja_value *a; /* joiner: separator; cycler: list of items */
	int64_t pos;           /* cycler position; joiner: used flag */
};

void jframe_unref(struct jframe *f);
struct jinja_value *jv_callable_new(enum jv_call_kind kind, int id, struct jinja_value *self, const char *name);

/* Builtin dispatch (jinja_builtins.c), called by the evaluator with evaluated arguments.
 * args: positional, kw: kwargs dict (string keys, may be NULL). Results are new references. */
struct jcall_args {
	struct jinja_value **pos;
	int n_pos;
	struct jinja_value *kw; /* dict or NULL */
};
int jinja_filter_call(struct jrender *r, int id, struct jinja_value *input, const struct jcall_args *a,
                      struct jinja_value **out, struct err *e);
int jinja_test_call(struct jrender *r, int id, struct jinja_value *input, const struct jcall_args *a,
                    bool *out, struct err *e);
int jinja_global_call(struct jrender *r, int id, const struct jcall_args *a, struct jinja_value **out,
                      struct err *e);
/* attribute lookup on builtin types (sandboxed getattr): a bound method, a property value,
 * an undefined, or -1 for a Python attribute we do not implement. */
int jinja_getattr_builtin(struct jinja_value *obj, const char *attr, size_t len, struct jinja_value **out,
                          struct err *e);
int jinja_method_call(struct jrender *r, struct jv_callable *c, const struct jcall_args *a,
                      struct jinja_value **out, struct err *e);
int jinja_loop_attr(struct jrender *r, struct jinja_value *loop, const char *attr, struct jinja_value **out,
                    struct err *e);

/* evaluator services used by builtins */
int jinja_binop(int op, struct jinja_value *a, struct jinja_value *b, struct jinja_value **out, struct err *e);
/* Python printf-style `fmt % args` */
int jinja_percent_format(struct jinja_value *fmt, struct jinja_value *args, struct jinja_value **out, struct err *e);
int jinja_call_value(struct jrender *r, struct jinja_value *callee, const struct jcall_args *a,
                     struct jinja_value **out, struct err *e);
int jinja_getattr(struct jrender *r, struct jinja_value *obj, const char *attr, size_t len,
                  struct jinja_value **out, struct err *e);
int jinja_getitem(struct jrender *r, struct jinja_value *obj, struct jinja_value *key,
                  struct jinja_value **out, struct err *e);
/* materialize any iterable into a new list reference (strings -> chars, dicts -> keys) */
int jinja_iterate(struct jinja_value *v, struct jinja_value **out, struct err *e);
/* error for using an undefined value where jinja2 raises */
int jinja_undefined_error(const struct jinja_value *u, struct err *e);
/* loop stepping (jinja_render.c) */
int jloop_fill(struct jrender *r, struct jv_loop *l, size_t want, struct err *e);
int jloop_length(struct jrender *r, struct jv_loop *l, int64_t *out, struct err *e);

/* ------------------------------------------------------------------ small containers */

#define JVEC_PUSH(vec, n, cap, item) \
	do { \
		if ((n) == (cap)) { \
			(cap) = (cap) ? 2 * (cap) : 8; \
			(vec) = xrealloc((vec), (cap) * sizeof *(vec)); \
		} \
		(vec)[(n)++] = (item); \
	} while (0)
