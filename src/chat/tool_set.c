/* tool_set.c — the request's tools for the tool-call parsers: each function's name and the type
 * of each of its arguments, compiled once from the `parameters` JSON Schema text.
 * Owns: schema reading (via tool_json), $ref resolution, SGLang's type inference. Does not own:
 * the request JSON (the edge hands over each tool's name and parameters text), value typing
 * (tool_parser.c). Thread rules: pure; a built set is read-only and shareable.
 * The inference follows SGLang's function_call/utils.py (infer_type_from_json_schema,
 * get_json_schema_properties, resolve_local_json_schema_refs, normalize_json_schema_types). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tool_json.h"
#include "chat/tool_parser.h"

/* Bounds the work pathological schemas can cause (ref chains, nested combinators). */
#define SCHEMA_MAX_DEPTH 32

void tool_set_init(struct tool_set *ts) { memset(ts, 0, sizeof *ts); }

void tool_set_free(struct tool_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		struct tool_fn *f = &ts->fns[i];
		for (size_t k = 0; k < f->n_params; k++) free(f->params[k].name);
		free(f->params);
		free(f->name);
	}
	free(ts->fns);
	tool_set_init(ts);
}

static struct tool_fn *set_push(struct tool_set *ts, const char *name)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 8;
		ts->fns = xrealloc(ts->fns, ts->cap * sizeof *ts->fns);
	}
	struct tool_fn *f = &ts->fns[ts->n++];
	memset(f, 0, sizeof *f);
	f->name = xstrdup(name);
	return f;
}

static void fn_add_param(struct tool_fn *f, const char *name, size_t n, enum tool_arg_type t)
{
	f->params = xrealloc(f->params, (f->n_params + 1) * sizeof *f->params);
	struct tool_param *p = &f->params[f->n_params++];
	p->name = xstrndup(name, n);
	p->name_len = n;
	p->type = t;
}

void tool_set_add_typed(struct tool_set *ts, const char *name, const struct tool_param *params, size_t n)
{
	struct tool_fn *f = set_push(ts, name);
	for (size_t i = 0; i < n; i++)
		fn_add_param(f, params[i].name, params[i].name_len ? params[i].name_len : strlen(params[i].name),
		             params[i].type);
}

const struct tool_fn *tool_set_find(const struct tool_set *ts, const char *name, size_t n)
{
	if (!ts) return NULL;
	for (size_t i = 0; i < ts->n; i++)
		if (strlen(ts->fns[i].name) == n && memcmp(ts->fns[i].name, name, n) == 0) return &ts->fns[i];
	return NULL;
}

enum tool_arg_type tool_fn_arg_type(const struct tool_fn *fn, const char *key, size_t n)
{
	if (!fn) return TOOL_ARG_TYPE_UNKNOWN;
	for (size_t i = 0; i < fn->n_params; i++)
		if (fn->params[i].name_len == n && memcmp(fn->params[i].name, key, n) == 0) return fn->params[i].type;
	return TOOL_ARG_TYPE_UNKNOWN;
}

const char *tool_arg_type_name(enum tool_arg_type t)
{
	static const char *names[] = {"unknown", "string", "integer", "number", "boolean",
	                              "null",    "object", "array",   "other"};
	return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* ------------------------------------------------------------------ synthesized schema nodes */

/* resolve/merge build new schema objects whose children are borrowed from the parsed tree; the
 * pool frees the shells (never the children) when the compile ends. */
struct pool {
	struct tool_json **v;
	size_t n, cap;
};

static struct tool_json *pool_new(struct pool *p, enum tool_json_type t)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->v = xrealloc(p->v, p->cap * sizeof *p->v);
	}
	return p->v[p->n++] = tool_json_new(t);
}

static void pool_free(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct tool_json *s = p->v[i];
		for (size_t k = 0; s->keys && k < s->n; k++) free(s->keys[k]);
		free(s->keys);
		free(s->key_lens);
		free(s->items);
		free(s->hidx);
		free(s);
	}
	free(p->v);
}

static void shell_put(struct tool_json *o, const char *k, size_t kn, struct tool_json *child)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->key_lens[i] == kn && memcmp(o->keys[i], k, kn) == 0) {
			o->items[i] = child;
			return;
		}
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 4;
		o->items = xrealloc(o->items, o->cap * sizeof *o->items);
		o->keys = xrealloc(o->keys, o->cap * sizeof *o->keys);
		o->key_lens = xrealloc(o->key_lens, o->cap * sizeof *o->key_lens);
	}
	o->keys[o->n] = xstrndup(k, kn);
	o->key_lens[o->n] = kn;
	o->items[o->n++] = child;
}

static void shell_push(struct tool_json *a, struct tool_json *child)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 4;
		a->items = xrealloc(a->items, a->cap * sizeof *a->items);
	}
	a->items[a->n++] = child;
}

static struct tool_json *shell_copy(struct pool *p, const struct tool_json *o, const char *except)
{
	struct tool_json *c = pool_new(p, TOOL_JSON_TYPE_OBJECT);
	for (size_t i = 0; i < o->n; i++)
		if (!except || strlen(except) != o->key_lens[i] || memcmp(o->keys[i], except, o->key_lens[i]) != 0)
			shell_put(c, o->keys[i], o->key_lens[i], o->items[i]);
	return c;
}

static struct tool_json *get(const struct tool_json *o, const char *k)
{
	return (struct tool_json *)tool_json_object_get(o, k);
}

static bool is_obj(const struct tool_json *v) { return v && v->type == TOOL_JSON_TYPE_OBJECT; }
static bool is_arr(const struct tool_json *v) { return v && v->type == TOOL_JSON_TYPE_ARRAY; }
static bool is_str(const struct tool_json *v) { return v && v->type == TOOL_JSON_TYPE_STRING; }

/* Python ==, enough for schema comparison: numbers compare by value, objects ignore order. */
static bool json_equal(const struct tool_json *a, const struct tool_json *b)
{
	bool an = a->type == TOOL_JSON_TYPE_INT || a->type == TOOL_JSON_TYPE_FLOAT;
	bool bn = b->type == TOOL_JSON_TYPE_INT || b->type == TOOL_JSON_TYPE_FLOAT;
	if (an && bn) {
		if (a->type == TOOL_JSON_TYPE_INT && b->type == TOOL_JSON_TYPE_INT) return strcmp(a->s, b->s) == 0;
		double x = a->type == TOOL_JSON_TYPE_INT ? strtod(a->s, NULL) : a->f;
		double y = b->type == TOOL_JSON_TYPE_INT ? strtod(b->s, NULL) : b->f;
		return x == y;
	}
	if (a->type != b->type) return false;
	switch (a->type) {
	case TOOL_JSON_TYPE_NULL: return true;
	case TOOL_JSON_TYPE_BOOL: return a->b == b->b;
	case TOOL_JSON_TYPE_STRING: return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case TOOL_JSON_TYPE_ARRAY:
		if (a->n != b->n) return false;
		for (size_t i = 0; i < a->n; i++)
			if (!json_equal(a->items[i], b->items[i])) return false;
		return true;
	case TOOL_JSON_TYPE_OBJECT:
		if (a->n != b->n) return false;
		for (size_t i = 0; i < a->n; i++) {
			const struct tool_json *o = NULL;
			for (size_t k = 0; k < b->n; k++)
				if (b->key_lens[k] == a->key_lens[i] && memcmp(b->keys[k], a->keys[i], a->key_lens[i]) == 0)
					o = b->items[k];
			if (!o || !json_equal(a->items[i], o)) return false;
		}
		return true;
	default: return false;
	}
}

/* `{}` or `true`: a schema that says nothing. */
static bool schema_empty(const struct tool_json *s)
{
	return !s || (s->type == TOOL_JSON_TYPE_OBJECT && s->n == 0) || (s->type == TOOL_JSON_TYPE_BOOL && s->b);
}

/* ------------------------------------------------------------------ $ref */

struct seen {
	const struct tool_json *ref;
	const struct seen *up;
};

static bool seen_has(const struct seen *s, const struct tool_json *ref)
{
	for (; s; s = s->up)
		if (s->ref->len == ref->len && memcmp(s->ref->s, ref->s, ref->len) == 0) return true;
	return false;
}

/* Follows a local "#/a/b" pointer through objects; NULL when it does not resolve. */
static struct tool_json *ref_target(const struct tool_json *root, const struct tool_json *ref)
{
	const struct tool_json *t = root;
	const char *s = ref->s + 2, *end = ref->s + ref->len;
	struct buf part;
	buf_init(&part);
	for (;;) {
		const char *slash = memchr(s, '/', (size_t)(end - s));
		const char *pe = slash ? slash : end;
		buf_clear(&part);
		for (const char *q = s; q < pe; q++) {
			if (q[0] == '~' && q + 1 < pe && q[1] == '1') buf_putc(&part, '/'), q++;
			else if (q[0] == '~' && q + 1 < pe && q[1] == '0') buf_putc(&part, '~'), q++;
			else buf_putc(&part, *q);
		}
		if (!is_obj(t)) t = NULL;
		else t = get(t, part.data ? part.data : "");
		if (!t || !slash) break;
		s = slash + 1;
	}
	buf_free(&part);
	return (struct tool_json *)t;
}

static struct tool_json *resolve_refs(struct pool *pl, struct tool_json *schema, const struct tool_json *root,
                                      const struct seen *seen, int depth)
{
	if (!is_obj(schema) || depth > SCHEMA_MAX_DEPTH) return schema;
	struct tool_json *ref = get(schema, "$ref");
	if (is_str(ref) && seen_has(seen, ref)) {
		schema = shell_copy(pl, schema, "$ref");
		ref = NULL;
	}
	if (is_str(ref) && ref->len >= 2 && ref->s[0] == '#' && ref->s[1] == '/') {
		struct tool_json *target = ref_target(root, ref);
		if (target) {
			struct tool_json *siblings = shell_copy(pl, schema, "$ref"), *node = target;
			if (siblings->n) {
				node = pool_new(pl, TOOL_JSON_TYPE_OBJECT);
				struct tool_json *all = pool_new(pl, TOOL_JSON_TYPE_ARRAY);
				shell_push(all, target);
				shell_push(all, siblings);
				shell_put(node, "allOf", 5, all);
			}
			struct seen s2 = {ref, seen};
			return resolve_refs(pl, node, root, &s2, depth + 1);
		}
	}
	static const char *kws[] = {"anyOf", "oneOf", "allOf"};
	struct tool_json *out = schema;
	for (int k = 0; k < 3; k++) {
		struct tool_json *branches = get(schema, kws[k]);
		if (!is_arr(branches)) continue;
		if (out == schema) out = shell_copy(pl, schema, NULL);
		struct tool_json *nb = pool_new(pl, TOOL_JSON_TYPE_ARRAY);
		for (size_t i = 0; i < branches->n; i++)
			shell_push(nb, resolve_refs(pl, branches->items[i], root, seen, depth + 1));
		shell_put(out, kws[k], strlen(kws[k]), nb);
	}
	return out;
}

/* ------------------------------------------------------------------ properties */

/* name -> property schema (resolved), including properties declared in root combinators. */
static struct tool_json *schema_properties(struct pool *pl, struct tool_json *schema, const struct tool_json *root,
                                           int depth)
{
	struct tool_json *props = pool_new(pl, TOOL_JSON_TYPE_OBJECT);
	schema = resolve_refs(pl, schema, root, NULL, 0);
	if (!is_obj(schema) || depth > SCHEMA_MAX_DEPTH) return props;
	struct tool_json *direct = get(schema, "properties");
	if (is_obj(direct))
		for (size_t i = 0; i < direct->n; i++)
			shell_put(props, direct->keys[i], direct->key_lens[i],
			          resolve_refs(pl, direct->items[i], root, NULL, 0));
	static const char *kws[] = {"anyOf", "oneOf", "allOf"};
	for (int k = 0; k < 3; k++) {
		struct tool_json *branches = get(schema, kws[k]);
		if (!is_arr(branches)) continue;
		size_t nb = branches->n;
		struct tool_json **bp = xcalloc(nb ? nb : 1, sizeof *bp);
		for (size_t b = 0; b < nb; b++) bp[b] = schema_properties(pl, branches->items[b], root, depth + 1);
		/* Each name once, in first-seen order across the branches. */
		for (size_t b = 0; b < nb; b++)
			for (size_t i = 0; i < bp[b]->n; i++) {
				const char *name = bp[b]->keys[i];
				size_t nl = bp[b]->key_lens[i];
				bool earlier = false;
				for (size_t e = 0; e < b && !earlier; e++)
					for (size_t j = 0; j < bp[e]->n; j++)
						if (bp[e]->key_lens[j] == nl && memcmp(bp[e]->keys[j], name, nl) == 0) earlier = true;
				if (earlier) continue;
				struct tool_json *choices = pool_new(pl, TOOL_JSON_TYPE_ARRAY);
				for (size_t e = b; e < nb; e++)
					for (size_t j = 0; j < bp[e]->n; j++)
						if (bp[e]->key_lens[j] == nl && memcmp(bp[e]->keys[j], name, nl) == 0)
							shell_push(choices, bp[e]->items[j]);
				struct tool_json *ps = choices->items[0];
				if (choices->n > 1) {
					ps = pool_new(pl, TOOL_JSON_TYPE_OBJECT);
					shell_put(ps, kws[k], strlen(kws[k]), choices);
				}
				struct tool_json *cur = NULL;
				for (size_t j = 0; j < props->n; j++)
					if (props->key_lens[j] == nl && memcmp(props->keys[j], name, nl) == 0) cur = props->items[j];
				if (schema_empty(cur)) {
					shell_put(props, name, nl, ps);
				} else if (!schema_empty(ps) && !json_equal(cur, ps)) {
					struct tool_json *both = pool_new(pl, TOOL_JSON_TYPE_OBJECT);
					struct tool_json *all = pool_new(pl, TOOL_JSON_TYPE_ARRAY);
					shell_push(all, cur);
					shell_push(all, ps);
					shell_put(both, "allOf", 5, all);
					shell_put(props, name, nl, both);
				}
			}
		free(bp);
	}
	return props;
}

/* ------------------------------------------------------------------ type inference */

static const char *std_types[] = {"null", "boolean", "object", "array", "number", "string", "integer"};

/* Type names from database/ORM generators mapped to JSON Schema's (SGLang's
 * normalize_json_schema_types); NULL when nothing maps. */
static const char *normalize_type(const char *t)
{
	for (size_t i = 0; i < 7; i++)
		if (strcmp(t, std_types[i]) == 0) return std_types[i];
	char base[64];
	size_t n = 0;
	const char *paren = strchr(t, '(');
	size_t tl = paren ? (size_t)(paren - t) : strlen(t);
	while (tl && isspace((unsigned char)t[tl - 1])) tl--;
	while (tl && isspace((unsigned char)*t)) t++, tl--;
	if (tl >= sizeof base) return NULL;
	for (; n < tl; n++) base[n] = (char)tolower((unsigned char)t[n]);
	base[n] = 0;
	for (size_t i = 0; i < 7; i++)
		if (strcmp(base, std_types[i]) == 0) return std_types[i];
	static const char *alias[][2] = {
		{"str", "string"},     {"text", "string"},      {"varchar", "string"},   {"char", "string"},
		{"enum", "string"},    {"uuid", "string"},      {"date", "string"},      {"datetime", "string"},
		{"time", "string"},    {"timestamp", "string"}, {"binary", "string"},    {"blob", "string"},
		{"bytea", "string"},   {"bytes", "string"},     {"varbinary", "string"}, {"bool", "boolean"},
		{"bigint", "integer"}, {"smallint", "integer"}, {"tinyint", "integer"},  {"double", "number"},
		{"decimal", "number"}, {"real", "number"},      {"numeric", "number"},   {"arr", "array"},
		{"tuple", "array"},    {"set", "array"},        {"map", "object"},
	};
	for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
		if (strcmp(base, alias[i][0]) == 0) return alias[i][1];
	static const struct {
		const char *prefix;
		const char *type;
	} pre[] = {{"int", "integer"}, {"uint", "integer"}, {"long", "integer"}, {"short", "integer"},
	           {"unsigned", "integer"}, {"num", "number"}, {"float", "number"}, {"list", "array"},
	           {"dict", "object"}};
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		size_t pl = strlen(pre[i].prefix);
		if (strncmp(base, pre[i].prefix, pl) != 0) continue;
		if (base[pl] == 0 || strchr("0123456789[<( \t", base[pl])) return pre[i].type;
	}
	return NULL;
}

/* A type name for a type string in the schema: normalized, or "?" for an unknown name. */
static const char *type_word(const struct tool_json *t)
{
	const char *n = normalize_type(t->s);
	return n ? n : "?";
}

static const char *value_type_word(const struct tool_json *v)
{
	switch (v->type) {
	case TOOL_JSON_TYPE_NULL: return "null";
	case TOOL_JSON_TYPE_BOOL: return "boolean";
	case TOOL_JSON_TYPE_INT: return "integer";
	case TOOL_JSON_TYPE_FLOAT: return "number";
	case TOOL_JSON_TYPE_STRING: return "string";
	case TOOL_JSON_TYPE_ARRAY: return "array";
	default: return "object";
	}
}

static const char *values_type(const struct tool_json *vals)
{
	if (vals->n == 0) return "string";
	const char *t = value_type_word(vals->items[0]);
	for (size_t i = 1; i < vals->n; i++)
		if (strcmp(value_type_word(vals->items[i]), t) != 0) return "string"; /* mixed: string */
	return t;
}

static bool truthy(const struct tool_json *v)
{
	if (!v) return false;
	switch (v->type) {
	case TOOL_JSON_TYPE_NULL: return false;
	case TOOL_JSON_TYPE_BOOL: return v->b;
	case TOOL_JSON_TYPE_INT: return strcmp(v->s, "0") != 0;
	case TOOL_JSON_TYPE_FLOAT: return v->f != 0;
	case TOOL_JSON_TYPE_STRING: return v->len != 0;
	default: return v->n != 0;
	}
}

/* infer_type_from_json_schema: a type word, "?" for an unknown type name, or NULL. */
static const char *infer(const struct tool_json *s, int depth)
{
	if (!is_obj(s) || depth > SCHEMA_MAX_DEPTH) return NULL;
	const struct tool_json *t = get(s, "type");
	if (t && t->type == TOOL_JSON_TYPE_STRING) return type_word(t);
	if (is_arr(t) && t->n) {
		/* The first entry that is not "null"; only "null" means string. */
		for (size_t i = 0; i < t->n; i++) {
			if (!is_str(t->items[i])) return "?";
			if (strcmp(type_word(t->items[i]), "null") != 0) return type_word(t->items[i]);
		}
		return "string";
	}
	/* schema.get("anyOf") or schema.get("oneOf"): Python truthiness picks the list. */
	const struct tool_json *any = get(s, "anyOf");
	if (!truthy(any)) any = get(s, "oneOf");
	if (is_arr(any)) {
		const char *types[64];
		size_t nt = 0;
		for (size_t i = 0; i < any->n && nt < 64; i++) {
			const char *x = infer(any->items[i], depth + 1);
			if (x) types[nt++] = x;
		}
		if (nt) {
			const char *distinct[64];
			size_t nd = 0;
			bool has_null = false, has_string = false;
			for (size_t i = 0; i < nt; i++) {
				bool dup = false;
				for (size_t k = 0; k < nd; k++) dup |= strcmp(distinct[k], types[i]) == 0;
				if (!dup) distinct[nd++] = types[i];
				has_null |= strcmp(types[i], "null") == 0;
				has_string |= strcmp(types[i], "string") == 0;
			}
			if (nd == 1) return types[0];
			if (nd == 2 && has_null) return strcmp(distinct[0], "null") == 0 ? distinct[1] : distinct[0];
			if (has_string) return "string";
			return types[0];
		}
	}
	const struct tool_json *en = get(s, "enum");
	if (is_arr(en)) return values_type(en);
	const struct tool_json *cn = get(s, "const");
	if (cn) return value_type_word(cn);
	const struct tool_json *all = get(s, "allOf");
	if (is_arr(all)) {
		for (size_t i = 0; i < all->n; i++) {
			const char *x = infer(all->items[i], depth + 1);
			if (x && strcmp(x, "string") != 0) return x;
		}
		return "string";
	}
	if (get(s, "properties")) return "object";
	if (get(s, "items")) return "array";
	return NULL;
}

static enum tool_arg_type type_from_word(const char *w)
{
	if (!w) return TOOL_ARG_TYPE_UNKNOWN;
	static const struct {
		const char *w;
		enum tool_arg_type t;
	} map[] = {{"string", TOOL_ARG_TYPE_STRING},   {"integer", TOOL_ARG_TYPE_INTEGER},
	           {"number", TOOL_ARG_TYPE_NUMBER},   {"boolean", TOOL_ARG_TYPE_BOOLEAN},
	           {"null", TOOL_ARG_TYPE_NULL},       {"object", TOOL_ARG_TYPE_OBJECT},
	           {"array", TOOL_ARG_TYPE_ARRAY}};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].w, w) == 0) return map[i].t;
	return TOOL_ARG_TYPE_OTHER;
}

int tool_set_add(struct tool_set *ts, const char *name, const char *parameters_json, struct err *e)
{
	struct tool_json *schema = NULL;
	if (!name) return err_set(e, "a tool without a function name");
	if (parameters_json && *parameters_json) {
		schema = tool_json_loads(parameters_json, strlen(parameters_json));
		if (!schema) return err_set(e, "tool '%s': parameters is not valid JSON", name);
	}
	struct tool_fn *f = set_push(ts, name);
	if (is_obj(schema)) {
		struct pool pl = {0};
		struct tool_json *props = schema_properties(&pl, schema, schema, 0);
		for (size_t i = 0; i < props->n; i++)
			fn_add_param(f, props->keys[i], props->key_lens[i], type_from_word(infer(props->items[i], 0)));
		pool_free(&pl);
	}
	tool_json_free(schema);
	return 0;
}

enum tool_arg_type tool_schema_infer_type(const char *prop_json, const char *root_json)
{
	struct tool_json *prop = tool_json_loads(prop_json, strlen(prop_json));
	struct tool_json *root = root_json ? tool_json_loads(root_json, strlen(root_json)) : NULL;
	struct pool pl = {0};
	enum tool_arg_type t = TOOL_ARG_TYPE_UNKNOWN;
	if (prop) t = type_from_word(infer(resolve_refs(&pl, prop, root ? root : prop, NULL, 0), 0));
	pool_free(&pl);
	tool_json_free(prop);
	tool_json_free(root);
	return t;
}
