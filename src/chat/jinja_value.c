/* jinja_value.c — the template value model: construction, reference counting, dict storage,
 * Python equality / ordering / hashing, and the three ways Python turns a value into text:
 * str(), repr() and json.dumps(). Also the UTF-8 / Unicode helpers strings need.
 * Does not own evaluation (jinja_render.c) or builtins (jinja_builtins.c).
 * Thread rules: refcounts are atomic; a value is only mutated by the thread that created it
 * before it is shared. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_internal.h"

/* ------------------------------------------------------------------ singletons */

static struct jinja_value s_undefined = {.refs = 1, .type = JINJA_TYPE_UNDEFINED, .flags = JV_FLAG_IMMORTAL};
static struct jinja_value s_none = {.refs = 1, .type = JINJA_TYPE_NONE, .flags = JV_FLAG_IMMORTAL};
static struct jinja_value s_true = {.refs = 1, .type = JINJA_TYPE_BOOL, .flags = JV_FLAG_IMMORTAL, .u.b = true};
static struct jinja_value s_false = {.refs = 1, .type = JINJA_TYPE_BOOL, .flags = JV_FLAG_IMMORTAL, .u.b = false};

static struct jinja_value *jv_alloc(enum jinja_type t)
{
	struct jinja_value *v = xcalloc(1, sizeof *v);
	v->refs = 1;
	v->type = (uint8_t)t;
	return v;
}

struct jinja_value *jinja_undefined(void) { return &s_undefined; }
struct jinja_value *jinja_none(void) { return &s_none; }
struct jinja_value *jinja_bool(bool b) { return b ? &s_true : &s_false; }

struct jinja_value *jinja_int(int64_t i)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_INT);
	v->u.i = i;
	return v;
}

struct jinja_value *jinja_float(double f)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_FLOAT);
	v->u.f = f;
	return v;
}

struct jinja_value *jv_str_take(char *s, size_t len)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_STRING);
	v->u.s.p = s;
	v->u.s.len = len;
	v->u.s.ncp = SIZE_MAX;
	return v;
}

struct jinja_value *jv_str(const char *s, size_t len) { return jv_str_take(xstrndup(s ? s : "", len), len); }

struct jinja_value *jv_str_buf(struct buf *b)
{
	size_t len = b->len;
	char *p = b->data ? buf_take(b) : xstrdup("");
	return jv_str_take(p, len);
}

struct jinja_value *jinja_string(const char *s, size_t len) { return jv_str(s, len); }
struct jinja_value *jinja_cstring(const char *s) { return jv_str(s, strlen(s)); }

static struct jinja_value *jv_undef_v(int flags, const char *fmt, va_list ap)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_UNDEFINED);
	v->flags = (uint8_t)flags;
	char tmp[512];
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	v->u.hint = xstrdup(tmp);
	return v;
}

struct jinja_value *jv_undef_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct jinja_value *v = jv_undef_v(0, fmt, ap);
	va_end(ap);
	return v;
}

struct jinja_value *jv_unsafe_undef(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct jinja_value *v = jv_undef_v(JV_FLAG_UNSAFE, fmt, ap);
	va_end(ap);
	return v;
}

struct jinja_value *jv_list_new(enum jv_seq seq, size_t cap)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_LIST);
	v->seq = (uint8_t)seq;
	if (cap) {
		v->u.l.v = xmalloc(cap * sizeof *v->u.l.v);
		v->u.l.cap = cap;
	}
	return v;
}

struct jinja_value *jinja_list(void) { return jv_list_new(JV_SEQ_LIST, 0); }
struct jinja_value *jinja_dict(void) { return jv_alloc(JINJA_TYPE_DICT); }
struct jinja_value *jv_namespace_new(void) { return jv_alloc(JINJA_TYPE_NAMESPACE); }

struct jinja_value *jv_copy_list(const struct jinja_value *l, enum jv_seq seq)
{
	struct jinja_value *r = jv_list_new(seq, l->u.l.len);
	for (size_t i = 0; i < l->u.l.len; i++) r->u.l.v[i] = jinja_ref(l->u.l.v[i]);
	r->u.l.len = l->u.l.len;
	return r;
}

struct jinja_value *jv_callable_new(enum jv_call_kind kind, int id, struct jinja_value *self, const char *name)
{
	struct jinja_value *v = jv_alloc(JINJA_TYPE_CALLABLE);
	struct jv_callable *c = xcalloc(1, sizeof *c);
	c->kind = kind;
	c->id = id;
	c->self = self ? jinja_ref(self) : NULL;
	c->name = xstrdup(name ? name : "");
	v->u.c = c;
	return v;
}

struct jinja_value *jinja_ref(struct jinja_value *v)
{
	if (v && !(v->flags & JV_FLAG_IMMORTAL)) __atomic_fetch_add(&v->refs, 1, __ATOMIC_RELAXED);
	return v;
}

static void jv_free(struct jinja_value *v)
{
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED: free(v->u.hint); break;
	case JINJA_TYPE_STRING: free(v->u.s.p); break;
	case JINJA_TYPE_LIST:
		for (size_t i = 0; i < v->u.l.len; i++) jinja_unref(v->u.l.v[i]);
		free(v->u.l.v);
		break;
	case JINJA_TYPE_DICT:
	case JINJA_TYPE_NAMESPACE:
		for (size_t i = 0; i < v->u.d.len; i++) {
			jinja_unref(v->u.d.e[i].k);
			jinja_unref(v->u.d.e[i].v);
		}
		free(v->u.d.e);
		free(v->u.d.idx);
		break;
	case JINJA_TYPE_CALLABLE:
		if (v->u.c->self) jinja_unref(v->u.c->self);
		if (v->u.c->frame) jframe_unref(v->u.c->frame);
		free(v->u.c->name);
		free(v->u.c);
		break;
	case JINJA_TYPE_LOOP: {
		struct jv_loop *l = v->u.loop;
		jinja_unref(l->src);
		for (size_t i = l->ahead_pos; i < l->n_ahead; i++) jinja_unref(l->ahead[i]);
		free(l->ahead);
		if (l->prev) jinja_unref(l->prev);
		if (l->cur) jinja_unref(l->cur);
		if (l->last_changed) jinja_unref(l->last_changed);
		free(l);
		break;
	}
	case JINJA_TYPE_OBJECT:
		if (v->u.o->a) jinja_unref(v->u.o->a);
		free(v->u.o);
		break;
	default: break;
	}
	free(v);
}

void jinja_unref(struct jinja_value *v)
{
	if (!v || (v->flags & JV_FLAG_IMMORTAL)) return;
	if (__atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) == 0) jv_free(v);
}

/* ------------------------------------------------------------------ accessors */

enum jinja_type jinja_type_of(const struct jinja_value *v) { return (enum jinja_type)v->type; }
bool jinja_bool_value(const struct jinja_value *v) { return v->type == JINJA_TYPE_BOOL && v->u.b; }
int64_t jinja_int_value(const struct jinja_value *v)
{
	return v->type == JINJA_TYPE_INT ? v->u.i : v->type == JINJA_TYPE_BOOL ? v->u.b : 0;
}
double jinja_float_value(const struct jinja_value *v)
{
	return v->type == JINJA_TYPE_FLOAT ? v->u.f : (double)jinja_int_value(v);
}
const char *jinja_string_data(const struct jinja_value *v, size_t *len)
{
	if (v->type != JINJA_TYPE_STRING) {
		if (len) *len = 0;
		return NULL;
	}
	if (len) *len = v->u.s.len;
	return v->u.s.p;
}
size_t jinja_len(const struct jinja_value *v)
{
	switch (v->type) {
	case JINJA_TYPE_STRING: return v->u.s.len;
	case JINJA_TYPE_LIST: return v->u.l.len;
	case JINJA_TYPE_DICT:
	case JINJA_TYPE_NAMESPACE: return v->u.d.len;
	default: return 0;
	}
}
struct jinja_value *jinja_list_get(const struct jinja_value *l, size_t i)
{
	return l->type == JINJA_TYPE_LIST && i < l->u.l.len ? l->u.l.v[i] : NULL;
}
void jinja_dict_entry(const struct jinja_value *d, size_t i, struct jinja_value **k, struct jinja_value **v)
{
	*k = d->u.d.e[i].k;
	*v = d->u.d.e[i].v;
}

bool jv_is_str(const struct jinja_value *v) { return v->type == JINJA_TYPE_STRING; }
bool jv_is_number(const struct jinja_value *v)
{
	return v->type == JINJA_TYPE_BOOL || v->type == JINJA_TYPE_INT || v->type == JINJA_TYPE_FLOAT;
}
size_t jv_str_ncp(struct jinja_value *v)
{
	if (v->u.s.ncp == SIZE_MAX) {
		size_t n = ju_count(v->u.s.p, v->u.s.len);
		__atomic_store_n(&v->u.s.ncp, n, __ATOMIC_RELAXED);
	}
	return v->u.s.ncp;
}

bool jinja_truthy(const struct jinja_value *v)
{
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED:
	case JINJA_TYPE_NONE: return false;
	case JINJA_TYPE_BOOL: return v->u.b;
	case JINJA_TYPE_INT: return v->u.i != 0;
	case JINJA_TYPE_FLOAT: return v->u.f != 0.0;
	case JINJA_TYPE_STRING: return v->u.s.len != 0;
	case JINJA_TYPE_LIST:
		if (v->seq == JV_SEQ_GENERATOR) return true; /* generator objects are always truthy */
		return v->u.l.len != 0;
	case JINJA_TYPE_DICT: return v->u.d.len != 0;
	default: return true;
	}
}

void jv_list_push(struct jinja_value *l, struct jinja_value *item)
{
	JVEC_PUSH(l->u.l.v, l->u.l.len, l->u.l.cap, item);
}
void jinja_list_append(struct jinja_value *list, struct jinja_value *item) { jv_list_push(list, item); }

/* ------------------------------------------------------------------ hashing and dicts */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return mix64(h);
}

int jv_hash(const struct jinja_value *v, uint64_t *h, struct err *e)
{
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED: *h = 0x1234567; return 0;
	case JINJA_TYPE_NONE: *h = 0x7654321; return 0;
	case JINJA_TYPE_BOOL: *h = mix64((uint64_t)v->u.b); return 0;
	case JINJA_TYPE_INT: *h = mix64((uint64_t)v->u.i); return 0;
	case JINJA_TYPE_FLOAT: {
		double f = v->u.f;
		/* equal numbers must hash equal: 1 == 1.0 == True */
		if (f == floor(f) && f >= -9.2e18 && f <= 9.2e18) {
			*h = mix64((uint64_t)(int64_t)f);
		} else {
			uint64_t bits;
			memcpy(&bits, &f, sizeof bits);
			*h = mix64(bits ^ 0x5555);
		}
		return 0;
	}
	case JINJA_TYPE_STRING: *h = hash_bytes(v->u.s.p, v->u.s.len); return 0;
	case JINJA_TYPE_LIST:
		if (v->seq == JV_SEQ_TUPLE) {
			uint64_t acc = 0x345678;
			for (size_t i = 0; i < v->u.l.len; i++) {
				uint64_t x;
				if (jv_hash(v->u.l.v[i], &x, e)) return -1;
				acc = mix64(acc ^ x) + i;
			}
			*h = acc;
			return 0;
		}
		return err_set(e, "unhashable type: '%s'", jv_type_name(v));
	case JINJA_TYPE_DICT: return err_set(e, "unhashable type: 'dict'");
	default: *h = mix64((uint64_t)(uintptr_t)v); return 0;
	}
}

static void dict_index_rebuild(struct jinja_value *d)
{
	size_t cap = 16;
	while (cap < d->u.d.len * 2 + 2) cap *= 2;
	free(d->u.d.idx);
	d->u.d.idx = xmalloc(cap * sizeof *d->u.d.idx);
	for (size_t i = 0; i < cap; i++) d->u.d.idx[i] = -1;
	d->u.d.idx_cap = cap;
	for (size_t i = 0; i < d->u.d.len; i++) {
		size_t p = d->u.d.e[i].h & (cap - 1);
		while (d->u.d.idx[p] >= 0) p = (p + 1) & (cap - 1);
		d->u.d.idx[p] = (int32_t)i;
	}
}

static long dict_find(const struct jinja_value *d, const struct jinja_value *key, uint64_t h)
{
	if (d->u.d.idx) {
		size_t cap = d->u.d.idx_cap;
		for (size_t p = h & (cap - 1);; p = (p + 1) & (cap - 1)) {
			int32_t i = d->u.d.idx[p];
			if (i < 0) return -1;
			if (d->u.d.e[i].h == h && jv_eq(d->u.d.e[i].k, key)) return i;
		}
	}
	for (size_t i = 0; i < d->u.d.len; i++)
		if (d->u.d.e[i].h == h && jv_eq(d->u.d.e[i].k, key)) return (long)i;
	return -1;
}

struct jinja_value *jv_dict_get(const struct jinja_value *d, const struct jinja_value *key)
{
	if (d->type != JINJA_TYPE_DICT && d->type != JINJA_TYPE_NAMESPACE) return NULL;
	uint64_t h;
	if (jv_hash(key, &h, NULL)) return NULL;
	long i = dict_find(d, key, h);
	return i < 0 ? NULL : d->u.d.e[i].v;
}

struct jinja_value *jv_dict_get_str(const struct jinja_value *d, const char *key, size_t len)
{
	if (d->type != JINJA_TYPE_DICT && d->type != JINJA_TYPE_NAMESPACE) return NULL;
	struct jinja_value k = {.refs = 1, .type = JINJA_TYPE_STRING, .flags = JV_FLAG_IMMORTAL};
	k.u.s.p = (char *)key;
	k.u.s.len = len;
	k.u.s.ncp = SIZE_MAX;
	uint64_t h = hash_bytes(key, len);
	long i = dict_find(d, &k, h);
	return i < 0 ? NULL : d->u.d.e[i].v;
}

struct jinja_value *jinja_dict_get(const struct jinja_value *d, const char *key)
{
	return jv_dict_get_str(d, key, strlen(key));
}

int jv_dict_set(struct jinja_value *d, struct jinja_value *key, struct jinja_value *val, struct err *e)
{
	uint64_t h;
	if (jv_hash(key, &h, e)) {
		jinja_unref(key);
		jinja_unref(val);
		return -1;
	}
	long i = dict_find(d, key, h);
	if (i >= 0) { /* Python keeps the first key object and the position */
		jinja_unref(key);
		jinja_unref(d->u.d.e[i].v);
		d->u.d.e[i].v = val;
		return 0;
	}
	struct jv_entry en = {key, val, h};
	JVEC_PUSH(d->u.d.e, d->u.d.len, d->u.d.cap, en);
	if (d->u.d.idx) {
		if (d->u.d.len * 2 + 2 > d->u.d.idx_cap) {
			dict_index_rebuild(d);
		} else {
			size_t cap = d->u.d.idx_cap, p = h & (cap - 1);
			while (d->u.d.idx[p] >= 0) p = (p + 1) & (cap - 1);
			d->u.d.idx[p] = (int32_t)(d->u.d.len - 1);
		}
	} else if (d->u.d.len > 8) {
		dict_index_rebuild(d);
	}
	return 0;
}

void jv_dict_set_str(struct jinja_value *d, const char *key, size_t len, struct jinja_value *val)
{
	jv_dict_set(d, jv_str(key, len), val, NULL);
}
void jinja_dict_set(struct jinja_value *d, const char *key, size_t len, struct jinja_value *v)
{
	jv_dict_set_str(d, key, len, v);
}
void jinja_dict_set_cstr(struct jinja_value *d, const char *key, struct jinja_value *v)
{
	jv_dict_set_str(d, key, strlen(key), v);
}

bool jinja_dict_remove(struct jinja_value *d, const char *key)
{
	if (d->type != JINJA_TYPE_DICT) return false;
	size_t len = strlen(key);
	for (size_t i = 0; i < d->u.d.len; i++) {
		struct jinja_value *k = d->u.d.e[i].k;
		if (k->type == JINJA_TYPE_STRING && k->u.s.len == len && !memcmp(k->u.s.p, key, len)) {
			jinja_unref(k);
			jinja_unref(d->u.d.e[i].v);
			memmove(&d->u.d.e[i], &d->u.d.e[i + 1], (d->u.d.len - i - 1) * sizeof *d->u.d.e);
			d->u.d.len--;
			if (d->u.d.idx) dict_index_rebuild(d);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------ equality and ordering */

/* exact comparison of an int64 with a double, as Python does for int vs float */
static int cmp_int_float(int64_t i, double f)
{
	if (isnan(f)) return 2; /* unordered */
	if (f >= 9.3e18) return -1;
	if (f <= -9.3e18) return 1;
	double fl = floor(f);
	int64_t fi = (int64_t)fl;
	if (i < fi) return -1;
	if (i > fi) return 1;
	return fl == f ? 0 : -1; /* i == floor(f) < f */
}

static int num_cmp(const struct jinja_value *a, const struct jinja_value *b)
{
	bool af = a->type == JINJA_TYPE_FLOAT, bf = b->type == JINJA_TYPE_FLOAT;
	if (af && bf) {
		if (isnan(a->u.f) || isnan(b->u.f)) return 2;
		return a->u.f < b->u.f ? -1 : a->u.f > b->u.f ? 1 : 0;
	}
	if (!af && !bf) {
		int64_t x = jinja_int_value(a), y = jinja_int_value(b);
		return x < y ? -1 : x > y ? 1 : 0;
	}
	if (af) {
		int c = cmp_int_float(jinja_int_value(b), a->u.f);
		return c == 2 ? 2 : -c;
	}
	return cmp_int_float(jinja_int_value(a), b->u.f);
}

static int seq_class(const struct jinja_value *v)
{
	switch (v->seq) {
	case JV_SEQ_LIST: return 0;
	case JV_SEQ_TUPLE: return 1;
	default: return 2 + v->seq;
	}
}

bool jv_eq(const struct jinja_value *a, const struct jinja_value *b)
{
	if (a == b) return a->type != JINJA_TYPE_FLOAT || !isnan(a->u.f);
	if (jv_is_number(a) && jv_is_number(b)) return num_cmp(a, b) == 0;
	if (a->type != b->type) return false;
	switch (a->type) {
	case JINJA_TYPE_UNDEFINED:
	case JINJA_TYPE_NONE: return true;
	case JINJA_TYPE_STRING: return a->u.s.len == b->u.s.len && !memcmp(a->u.s.p, b->u.s.p, a->u.s.len);
	case JINJA_TYPE_LIST:
		if (seq_class(a) != seq_class(b) || a->u.l.len != b->u.l.len) return false;
		for (size_t i = 0; i < a->u.l.len; i++)
			if (!jv_eq(a->u.l.v[i], b->u.l.v[i])) return false;
		return true;
	case JINJA_TYPE_DICT:
		if (a->u.d.len != b->u.d.len) return false;
		for (size_t i = 0; i < a->u.d.len; i++) {
			struct jinja_value *bv = jv_dict_get(b, a->u.d.e[i].k);
			if (!bv || !jv_eq(a->u.d.e[i].v, bv)) return false;
		}
		return true;
	default: return false; /* identity only */
	}
}

int jv_cmp(const struct jinja_value *a, const struct jinja_value *b, const char *op, int *out, struct err *e)
{
	if (jv_is_number(a) && jv_is_number(b)) {
		int c = num_cmp(a, b);
		*out = c == 2 ? 2 : c; /* 2: NaN involved, every ordering comparison is false */
		return 0;
	}
	if (a->type == JINJA_TYPE_STRING && b->type == JINJA_TYPE_STRING) {
		size_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
		int c = memcmp(a->u.s.p, b->u.s.p, n); /* UTF-8 byte order = code point order */
		*out = c ? (c < 0 ? -1 : 1) : (a->u.s.len < b->u.s.len ? -1 : a->u.s.len > b->u.s.len ? 1 : 0);
		return 0;
	}
	if (a->type == JINJA_TYPE_LIST && b->type == JINJA_TYPE_LIST && seq_class(a) == seq_class(b) &&
	    a->seq <= JV_SEQ_TUPLE) {
		size_t n = a->u.l.len < b->u.l.len ? a->u.l.len : b->u.l.len;
		for (size_t i = 0; i < n; i++) {
			if (jv_eq(a->u.l.v[i], b->u.l.v[i])) continue;
			return jv_cmp(a->u.l.v[i], b->u.l.v[i], op, out, e);
		}
		*out = a->u.l.len < b->u.l.len ? -1 : a->u.l.len > b->u.l.len ? 1 : 0;
		return 0;
	}
	if (a->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(a, e);
	if (b->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(b, e);
	return err_set(e, "'%s' not supported between instances of '%s' and '%s'", op, jv_type_name(a),
	               jv_type_name(b));
}

const char *jv_type_name(const struct jinja_value *v)
{
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED: return "Undefined";
	case JINJA_TYPE_NONE: return "NoneType";
	case JINJA_TYPE_BOOL: return "bool";
	case JINJA_TYPE_INT: return "int";
	case JINJA_TYPE_FLOAT: return "float";
	case JINJA_TYPE_STRING: return v->flags & JV_FLAG_MARKUP ? "Markup" : "str";
	case JINJA_TYPE_LIST:
		switch (v->seq) {
		case JV_SEQ_TUPLE: return "tuple";
		case JV_SEQ_DICT_ITEMS: return "dict_items";
		case JV_SEQ_DICT_KEYS: return "dict_keys";
		case JV_SEQ_DICT_VALUES: return "dict_values";
		case JV_SEQ_RANGE: return "range";
		case JV_SEQ_GENERATOR: return "generator";
		default: return "list";
		}
	case JINJA_TYPE_DICT: return "dict";
	case JINJA_TYPE_NAMESPACE: return "Namespace";
	case JINJA_TYPE_CALLABLE:
		return v->u.c->kind == JV_CALL_MACRO ? "Macro" : v->u.c->kind == JV_CALL_METHOD ? "builtin_function_or_method" : "function";
	case JINJA_TYPE_LOOP: return "LoopContext";
	default: return "object";
	}
}

/* ------------------------------------------------------------------ text: str / repr */

void jv_repr_str(const char *s, size_t len, struct buf *out)
{
	bool has_sq = memchr(s, '\'', len) != NULL, has_dq = memchr(s, '"', len) != NULL;
	char q = has_sq && !has_dq ? '"' : '\'';
	buf_putc(out, q);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int n = ju_next(s + i, len - i, &cp);
		if (cp == (uint32_t)q || cp == '\\') {
			buf_putc(out, '\\');
			buf_putc(out, (char)cp);
		} else if (cp == '\t') {
			buf_puts(out, "\\t");
		} else if (cp == '\n') {
			buf_puts(out, "\\n");
		} else if (cp == '\r') {
			buf_puts(out, "\\r");
		} else if (cp < 0x20 || cp == 0x7f) {
			buf_printf(out, "\\x%02x", cp);
		} else if (cp < 0x7f || ju_isprintable(cp)) {
			buf_append(out, s + i, (size_t)n);
		} else if (cp <= 0xff) {
			buf_printf(out, "\\x%02x", cp);
		} else if (cp <= 0xffff) {
			buf_printf(out, "\\u%04x", cp);
		} else {
			buf_printf(out, "\\U%08x", cp);
		}
		i += (size_t)n;
	}
	buf_putc(out, q);
}

static int repr_depth(const struct jinja_value *v, struct buf *out, struct err *e, int depth);

static int str_depth(const struct jinja_value *v, struct buf *out, struct err *e, int depth)
{
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED:
		if (v->flags & JV_FLAG_UNSAFE) return 0;
		return 0;
	case JINJA_TYPE_STRING: buf_append(out, v->u.s.p, v->u.s.len); return 0;
	default: return repr_depth(v, out, e, depth);
	}
}

static int repr_depth(const struct jinja_value *v, struct buf *out, struct err *e, int depth)
{
	if (depth > 200) return err_set(e, "value nesting too deep to print");
	switch (v->type) {
	case JINJA_TYPE_UNDEFINED: buf_puts(out, "Undefined"); return 0;
	case JINJA_TYPE_NONE: buf_puts(out, "None"); return 0;
	case JINJA_TYPE_BOOL: buf_puts(out, v->u.b ? "True" : "False"); return 0;
	case JINJA_TYPE_INT: buf_printf(out, "%" PRId64, v->u.i); return 0;
	case JINJA_TYPE_FLOAT: buf_put_float_repr(out, v->u.f); return 0;
	case JINJA_TYPE_STRING:
		if (v->flags & JV_FLAG_MARKUP) {
			buf_puts(out, "Markup(");
			jv_repr_str(v->u.s.p, v->u.s.len, out);
			buf_putc(out, ')');
		} else {
			jv_repr_str(v->u.s.p, v->u.s.len, out);
		}
		return 0;
	case JINJA_TYPE_LIST: {
		const char *open = "[", *close = "]";
		switch (v->seq) {
		case JV_SEQ_TUPLE: open = "("; close = v->u.l.len == 1 ? ",)" : ")"; break;
		case JV_SEQ_DICT_ITEMS: open = "dict_items(["; close = "])"; break;
		case JV_SEQ_DICT_KEYS: open = "dict_keys(["; close = "])"; break;
		case JV_SEQ_DICT_VALUES: open = "dict_values(["; close = "])"; break;
		case JV_SEQ_RANGE:
			if (v->u.l.range[2] == 1) buf_printf(out, "range(%" PRId64 ", %" PRId64 ")", v->u.l.range[0], v->u.l.range[1]);
			else buf_printf(out, "range(%" PRId64 ", %" PRId64 ", %" PRId64 ")", v->u.l.range[0], v->u.l.range[1], v->u.l.range[2]);
			return 0;
		case JV_SEQ_GENERATOR:
			return err_set(e, "printing a generator (the result of a filter such as map/select; add |list) is "
			                  "not supported: Python would print a memory address");
		default: break;
		}
		buf_puts(out, open);
		for (size_t i = 0; i < v->u.l.len; i++) {
			if (i) buf_puts(out, ", ");
			if (repr_depth(v->u.l.v[i], out, e, depth + 1)) return -1;
		}
		buf_puts(out, close);
		return 0;
	}
	case JINJA_TYPE_DICT:
	case JINJA_TYPE_NAMESPACE:
		if (v->type == JINJA_TYPE_NAMESPACE) buf_puts(out, "<Namespace ");
		buf_putc(out, '{');
		for (size_t i = 0; i < v->u.d.len; i++) {
			if (i) buf_puts(out, ", ");
			if (repr_depth(v->u.d.e[i].k, out, e, depth + 1)) return -1;
			buf_puts(out, ": ");
			if (repr_depth(v->u.d.e[i].v, out, e, depth + 1)) return -1;
		}
		buf_putc(out, '}');
		if (v->type == JINJA_TYPE_NAMESPACE) buf_putc(out, '>');
		return 0;
	case JINJA_TYPE_CALLABLE:
		if (v->u.c->kind == JV_CALL_MACRO) {
			buf_puts(out, "<Macro ");
			if (v->u.c->name[0]) jv_repr_str(v->u.c->name, strlen(v->u.c->name), out);
			else buf_puts(out, "anonymous");
			buf_putc(out, '>');
			return 0;
		}
		return err_set(e, "printing the function '%s' is not supported: Python would print a memory address",
		               v->u.c->name);
	case JINJA_TYPE_LOOP: {
		struct jv_loop *l = v->u.loop;
		int64_t len;
		if (jloop_length(l->r, l, &len, e)) return -1;
		buf_printf(out, "<LoopContext %" PRId64 "/%" PRId64 ">", l->index0 + 1, len);
		return 0;
	}
	default:
		return err_set(e, "printing a %s object is not supported: Python would print a memory address",
		               v->u.o->kind == JOBJECT_JOINER ? "joiner" : "Cycler");
	}
}

int jv_to_str(const struct jinja_value *v, struct buf *out, struct err *e) { return str_depth(v, out, e, 0); }
int jv_repr(const struct jinja_value *v, struct buf *out, struct err *e) { return repr_depth(v, out, e, 0); }
int jinja_value_str(const struct jinja_value *v, struct buf *out, struct err *e) { return jv_to_str(v, out, e); }

/* ------------------------------------------------------------------ json.dumps */

static void json_str(const char *s, size_t len, bool ascii, struct buf *out)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int n = ju_next(s + i, len - i, &cp);
		switch (cp) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\b': buf_puts(out, "\\b"); break;
		case '\f': buf_puts(out, "\\f"); break;
		default:
			if (cp < 0x20 || (ascii && cp > 0x7e)) {
				if (cp > 0xffff) {
					uint32_t c = cp - 0x10000;
					buf_printf(out, "\\u%04x\\u%04x", 0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
				} else {
					buf_printf(out, "\\u%04x", cp);
				}
			} else {
				buf_append(out, s + i, (size_t)n);
			}
		}
		i += (size_t)n;
	}
	buf_putc(out, '"');
}

static void json_newline(const struct jv_json_opts *o, int level, struct buf *out)
{
	buf_putc(out, '\n');
	for (int i = 0; i < level; i++) buf_puts(out, o->indent);
}

static int json_key(const struct jinja_value *k, const struct jv_json_opts *o, struct buf *out, struct err *e)
{
	switch (k->type) {
	case JINJA_TYPE_STRING: json_str(k->u.s.p, k->u.s.len, o->ensure_ascii, out); return 0;
	case JINJA_TYPE_INT: buf_printf(out, "\"%" PRId64 "\"", k->u.i); return 0;
	case JINJA_TYPE_FLOAT:
		buf_putc(out, '"');
		buf_put_json_float(out, k->u.f);
		buf_putc(out, '"');
		return 0;
	case JINJA_TYPE_BOOL: buf_puts(out, k->u.b ? "\"true\"" : "\"false\""); return 0;
	case JINJA_TYPE_NONE: buf_puts(out, "\"null\""); return 0;
	default: return err_set(e, "keys must be str, int, float, bool or None, not %s", jv_type_name(k));
	}
}

static int json_depth(const struct jinja_value *v, const struct jv_json_opts *o, struct buf *out, struct err *e,
                      int level)
{
	if (level > 200) return err_set(e, "tojson: value nesting too deep");
	switch (v->type) {
	case JINJA_TYPE_NONE: buf_puts(out, "null"); return 0;
	case JINJA_TYPE_BOOL: buf_puts(out, v->u.b ? "true" : "false"); return 0;
	case JINJA_TYPE_INT: buf_printf(out, "%" PRId64, v->u.i); return 0;
	case JINJA_TYPE_FLOAT: buf_put_json_float(out, v->u.f); return 0;
	case JINJA_TYPE_STRING: json_str(v->u.s.p, v->u.s.len, o->ensure_ascii, out); return 0;
	case JINJA_TYPE_LIST:
		if (v->seq != JV_SEQ_LIST && v->seq != JV_SEQ_TUPLE)
			return err_set(e, "Object of type %s is not JSON serializable", jv_type_name(v));
		if (!v->u.l.len) {
			buf_puts(out, "[]");
			return 0;
		}
		buf_putc(out, '[');
		for (size_t i = 0; i < v->u.l.len; i++) {
			if (i) buf_puts(out, o->item_sep);
			if (o->indent) json_newline(o, level + 1, out);
			if (json_depth(v->u.l.v[i], o, out, e, level + 1)) return -1;
		}
		if (o->indent) json_newline(o, level, out);
		buf_putc(out, ']');
		return 0;
	case JINJA_TYPE_DICT: {
		if (!v->u.d.len) {
			buf_puts(out, "{}");
			return 0;
		}
		size_t n = v->u.d.len;
		size_t *order = xmalloc(n * sizeof *order);
		for (size_t i = 0; i < n; i++) order[i] = i;
		if (o->sort_keys) { /* stable insertion sort by key, as sorted() */
			for (size_t i = 1; i < n; i++) {
				size_t x = order[i], j = i;
				while (j > 0) {
					int c;
					if (jv_cmp(v->u.d.e[x].k, v->u.d.e[order[j - 1]].k, "<", &c, e)) {
						free(order);
						return -1;
					}
					if (c >= 0) break;
					order[j] = order[j - 1];
					j--;
				}
				order[j] = x;
			}
		}
		buf_putc(out, '{');
		for (size_t i = 0; i < n; i++) {
			const struct jv_entry *en = &v->u.d.e[order[i]];
			if (i) buf_puts(out, o->item_sep);
			if (o->indent) json_newline(o, level + 1, out);
			if (json_key(en->k, o, out, e) || (buf_puts(out, o->key_sep), 0) ||
			    json_depth(en->v, o, out, e, level + 1)) {
				free(order);
				return -1;
			}
		}
		free(order);
		if (o->indent) json_newline(o, level, out);
		buf_putc(out, '}');
		return 0;
	}
	default: return err_set(e, "Object of type %s is not JSON serializable", jv_type_name(v));
	}
}

int jv_tojson(const struct jinja_value *v, const struct jv_json_opts *o, struct buf *out, struct err *e)
{
	return json_depth(v, o, out, e, 0);
}

int jinja_value_tojson(const struct jinja_value *v, struct buf *out, struct err *e)
{
	struct jv_json_opts o = {.item_sep = ", ", .key_sep = ": "};
	return jv_tojson(v, &o, out, e);
}

/* ------------------------------------------------------------------ UTF-8 and Unicode */

int ju_next(const char *s, size_t n, uint32_t *cp)
{
	const uint8_t *u = (const uint8_t *)s;
	if (u[0] < 0x80 || n < 2) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		*cp = ((uint32_t)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
		return 2;
	}
	if ((u[0] & 0xf0) == 0xe0 && n >= 3) {
		*cp = ((uint32_t)(u[0] & 0x0f) << 12) | ((uint32_t)(u[1] & 0x3f) << 6) | (u[2] & 0x3f);
		return 3;
	}
	if (n >= 4) {
		*cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3f) << 12) | ((uint32_t)(u[2] & 0x3f) << 6) |
		      (u[3] & 0x3f);
		return 4;
	}
	*cp = u[0];
	return 1;
}

size_t ju_count(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((uint8_t)s[i] & 0xc0) != 0x80) c++;
	return c;
}

size_t ju_offset(const char *s, size_t n, size_t idx)
{
	size_t i = 0;
	while (i < n && idx > 0) {
		uint32_t cp;
		i += (size_t)ju_next(s + i, n - i, &cp);
		idx--;
	}
	return i;
}

bool ju_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int k = utf8_decode(s + i, n - i, &cp);
		if (k <= 0 || (cp >= 0xd800 && cp <= 0xdfff)) return false;
		i += (size_t)k;
	}
	return true;
}

static bool in_ranges(uint32_t cp, const uint32_t (*r)[2], size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < r[mid][0]) hi = mid;
		else if (cp > r[mid][1]) lo = mid + 1;
		else return true;
	}
	return false;
}

bool ju_isspace(uint32_t cp)
{
	/* Python str.isspace: bidi class WS/B/S or category Zs */
	if (cp < 0x80) return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20);
	return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}
bool ju_isprintable(uint32_t cp) { return in_ranges(cp, jinja_printable_ranges, jinja_printable_ranges_n); }
bool ju_isalnum(uint32_t cp) { return in_ranges(cp, jinja_alnum_ranges, jinja_alnum_ranges_n); }
bool ju_isdecimal(uint32_t cp) { return in_ranges(cp, jinja_decimal_ranges, jinja_decimal_ranges_n); }

void ju_case(uint32_t cp, const struct jinja_case_map *map, size_t n, struct buf *out)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < map[mid].cp) hi = mid;
		else if (cp > map[mid].cp) lo = mid + 1;
		else {
			for (int k = 0; k < map[mid].n; k++) buf_put_utf8(out, map[mid].to[k]);
			return;
		}
	}
	buf_put_utf8(out, cp);
}
