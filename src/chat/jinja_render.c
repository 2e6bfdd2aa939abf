/* jinja_render.c — evaluates a compiled template: frames that follow jinja2's compiled scopes
 * (one frame per static scope activation, initialized per jinja2's load instructions), Python
 * operator semantics (int/float arithmetic, str/list concatenation, chained comparisons, `in`),
 * the sandboxed getattr/getitem rules, macros with defaults / varargs / kwargs / caller, loops
 * with lazy loop filters and the full `loop` object, break/continue.
 * Also owns jinja_template_create/render/destroy.
 * Does not own the builtin filters/tests/methods (jinja_builtins.c).
 * Thread rules: a render uses only its own state; templates are read-only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_internal.h"

enum { CTL_NONE, CTL_BREAK, CTL_CONTINUE };

struct jrender {
	const struct jinja_template *t;
	const struct jinja_value *vars;
	struct err *e;
	bool located; /* e already carries a position */
	int ctl;
	int depth;
};

/* ------------------------------------------------------------------ errors */

static int rfail_node(struct jrender *r, const struct jnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int rfail_node(struct jrender *r, const struct jnode *n, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	r->located = true;
	return err_set(r->e, "%s:%d:%d: %s", r->t->name, n->line, n->col, msg);
}

/* adds the node position to an error raised by a helper that did not know it */
static int locate(struct jrender *r, const struct jnode *n)
{
	if (!r->located && r->e) {
		r->located = true;
		if (strncmp(r->e->msg, "raise_exception: ", 17) != 0)
			err_prefix(r->e, "%s:%d:%d", r->t->name, n->line, n->col);
	}
	return -1;
}

int jinja_undefined_error(const struct jinja_value *u, struct err *e)
{
	if (u->flags & JV_FLAG_UNSAFE) return err_set(e, "SecurityError: %s", u->u.hint ? u->u.hint : "unsafe access");
	return err_set(e, "UndefinedError: %s", u->u.hint ? u->u.hint : "value is undefined");
}

/* ------------------------------------------------------------------ frames */

static struct jframe *frame_new(const struct jscope *sc, struct jframe *parent)
{
	struct jframe *f = xcalloc(1, sizeof *f);
	f->refs = 1;
	f->scope = sc;
	f->parent = parent;
	if (parent) parent->refs++;
	f->vals = xcalloc((size_t)(sc->n ? sc->n : 1), sizeof *f->vals);
	return f;
}

/* drops the variables (breaks frame <-> macro reference cycles when a scope ends) */
static void frame_clear(struct jframe *f)
{
	for (int i = 0; i < f->scope->n; i++) {
		if (f->vals[i]) jinja_unref(f->vals[i]);
		f->vals[i] = NULL;
	}
}

void jframe_unref(struct jframe *f)
{
	while (f && --f->refs == 0) {
		struct jframe *parent = f->parent;
		frame_clear(f);
		free(f->vals);
		free(f);
		f = parent;
	}
}

static void frame_set(struct jframe *f, int slot, struct jinja_value *v)
{
	if (f->vals[slot]) jinja_unref(f->vals[slot]);
	f->vals[slot] = v;
}

static struct jinja_value *ctx_resolve(struct jrender *r, const char *name)
{
	if (r->vars) {
		struct jinja_value *v = jinja_dict_get(r->vars, name);
		if (v) return jinja_ref(v);
	}
	static const char *globals[JGLOBAL_COUNT_] = {
		[JGLOBAL_RANGE] = "range", [JGLOBAL_DICT] = "dict", [JGLOBAL_NAMESPACE] = "namespace",
		[JGLOBAL_RAISE_EXCEPTION] = "raise_exception", [JGLOBAL_STRFTIME_NOW] = "strftime_now",
		[JGLOBAL_JOINER] = "joiner", [JGLOBAL_CYCLER] = "cycler",
	};
	for (int i = 0; i < JGLOBAL_COUNT_; i++)
		if (!strcmp(globals[i], name)) return jv_callable_new(JV_CALL_GLOBAL, i, NULL, name);
	return jv_undef_hint("'%s' is undefined", name);
}

/* jinja2 enter_frame: initialize every reference of the scope */
static void frame_enter(struct jrender *r, struct jframe *f)
{
	const struct jscope *sc = f->scope;
	for (int i = 0; i < sc->n; i++) {
		struct jinja_value *v = NULL;
		switch (sc->load[i]) {
		case JLOAD_PARAM: continue;
		case JLOAD_RESOLVE: /* jinja2 resolve_or_missing: a missing name stays missing */
			v = ctx_resolve(r, sc->names[i]);
			if (v->type == JINJA_TYPE_UNDEFINED) {
				jinja_unref(v);
				v = NULL;
			}
			break;
		case JLOAD_ALIAS: {
			struct jframe *q = f;
			for (int k = 0; k < sc->alias_up[i] && q; k++) q = q->parent;
			if (q && sc->alias_slot[i] >= 0 && q->vals[sc->alias_slot[i]]) v = jinja_ref(q->vals[sc->alias_slot[i]]);
			break;
		}
		default: break;
		}
		frame_set(f, i, v);
	}
}

static int scope_slot(const struct jscope *sc, const char *name)
{
	for (int i = 0; i < sc->n; i++)
		if (!strcmp(sc->names[i], name)) return i;
	return -1;
}

static struct jinja_value *load_name(struct jrender *r, struct jframe *f, const struct jnode *n, const char *name)
{
	if (n->up < 0) return ctx_resolve(r, name);
	struct jframe *q = f;
	for (int k = 0; k < n->up && q; k++) q = q->parent;
	struct jinja_value *v = q ? q->vals[n->slot] : NULL;
	return v ? jinja_ref(v) : jv_undef_hint("'%s' is undefined", name);
}

/* ------------------------------------------------------------------ iteration */

int jinja_iterate(struct jinja_value *v, struct jinja_value **out, struct err *e)
{
	switch (v->type) {
	case JINJA_TYPE_LIST:
		if (v->seq == JV_SEQ_GENERATOR) { /* Python generators iterate once */
			struct jinja_value *l = jv_list_new(JV_SEQ_LIST, 0);
			for (size_t i = v->u.l.gpos; i < v->u.l.len; i++) jv_list_push(l, jinja_ref(v->u.l.v[i]));
			v->u.l.gpos = v->u.l.len;
			*out = l;
			return 0;
		}
		*out = jinja_ref(v);
		return 0;
	case JINJA_TYPE_UNDEFINED: *out = jv_list_new(JV_SEQ_LIST, 0); return 0;
	case JINJA_TYPE_DICT: {
		struct jinja_value *l = jv_list_new(JV_SEQ_LIST, v->u.d.len);
		for (size_t i = 0; i < v->u.d.len; i++) jv_list_push(l, jinja_ref(v->u.d.e[i].k));
		*out = l;
		return 0;
	}
	case JINJA_TYPE_STRING: {
		struct jinja_value *l = jv_list_new(JV_SEQ_LIST, 0);
		for (size_t i = 0; i < v->u.s.len;) {
			uint32_t cp;
			int k = ju_next(v->u.s.p + i, v->u.s.len - i, &cp);
			jv_list_push(l, jv_str(v->u.s.p + i, (size_t)k));
			i += (size_t)k;
		}
		*out = l;
		return 0;
	}
	case JINJA_TYPE_LOOP: return err_set(e, "unsupported: iterating over a loop object");
	default: return err_set(e, "TypeError: '%s' object is not iterable", jv_type_name(v));
	}
}

/* ------------------------------------------------------------------ attribute / item access */

int jinja_getattr(struct jrender *r, struct jinja_value *obj, const char *attr, size_t len, struct jinja_value **out,
                  struct err *e)
{
	switch (obj->type) {
	case JINJA_TYPE_UNDEFINED: {
		/* attributes Undefined really has (dunders) are sandbox-blocked; anything else fails */
		struct jinja_value *m = NULL;
		if (len >= 4 && attr[0] == '_' && attr[1] == '_' && jinja_getattr_builtin(obj, attr, len, &m, e)) return -1;
		if (m) {
			*out = m;
			return 0;
		}
		return jinja_undefined_error(obj, e);
	}
	case JINJA_TYPE_NAMESPACE: {
		struct jinja_value *v = jv_dict_get_str(obj, attr, len);
		*out = v ? jinja_ref(v) : jv_undef_hint("'Namespace' object has no attribute '%.*s'", (int)len, attr);
		return 0;
	}
	case JINJA_TYPE_LOOP: return jinja_loop_attr(r, obj, attr, out, e);
	case JINJA_TYPE_DICT: {
		/* Python attributes (methods) win over keys for `.` access */
		struct jinja_value *m = NULL;
		if (jinja_getattr_builtin(obj, attr, len, &m, e)) return -1;
		if (m) {
			*out = m;
			return 0;
		}
		struct jinja_value *v = jv_dict_get_str(obj, attr, len);
		*out = v ? jinja_ref(v) : jv_undef_hint("'dict object' has no attribute '%.*s'", (int)len, attr);
		return 0;
	}
	default: {
		struct jinja_value *m = NULL;
		if (jinja_getattr_builtin(obj, attr, len, &m, e)) return -1;
		*out = m ? m : jv_undef_hint("'%s object' has no attribute '%.*s'", jv_type_name(obj), (int)len, attr);
		return 0;
	}
	}
}

static int slice_index(const struct jinja_value *v, int64_t *out, bool *none)
{
	if (!v || v->type == JINJA_TYPE_NONE) {
		*none = true;
		return 0;
	}
	*none = false;
	if (v->type == JINJA_TYPE_INT || v->type == JINJA_TYPE_BOOL) {
		*out = jinja_int_value(v);
		return 0;
	}
	return -1; /* TypeError: slice indices must be integers */
}

/* Python slice.indices(len) */
static int slice_indices(struct jinja_value *const sl[3], int64_t len, int64_t *start, int64_t *stop, int64_t *step,
                         struct err *e)
{
	int64_t a = 0, b = 0, c = 1;
	bool an, bn, cn;
	if (slice_index(sl[0], &a, &an) || slice_index(sl[1], &b, &bn) || slice_index(sl[2], &c, &cn)) return 1;
	if (cn) c = 1;
	if (c == 0) return err_set(e, "ValueError: slice step cannot be zero");
	int64_t lower = c > 0 ? 0 : -1, upper = c > 0 ? len : len - 1;
	if (an) a = c < 0 ? upper : lower;
	else {
		if (a < 0) a += len;
		if (a < lower) a = lower;
		else if (a > upper) a = upper;
	}
	if (bn) b = c < 0 ? lower : upper;
	else {
		if (b < 0) b += len;
		if (b < lower) b = lower;
		else if (b > upper) b = upper;
	}
	*start = a;
	*stop = b;
	*step = c;
	return 0;
}

/* jinja2 compiles x[a:b:c] to Python's own subscription (not the sandbox getitem), so the
 * failures are Python's TypeErrors rather than undefined values */
static int do_slice(struct jinja_value *obj, struct jinja_value *const sl[3], struct jinja_value **out, struct err *e)
{
	int64_t len;
	if (obj->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(obj, e);
	if (obj->type == JINJA_TYPE_STRING) len = (int64_t)jv_str_ncp(obj);
	else if (obj->type == JINJA_TYPE_LIST && obj->seq != JV_SEQ_GENERATOR && obj->seq != JV_SEQ_DICT_ITEMS &&
	         obj->seq != JV_SEQ_DICT_KEYS && obj->seq != JV_SEQ_DICT_VALUES)
		len = (int64_t)obj->u.l.len;
	else if (obj->type == JINJA_TYPE_DICT) return err_set(e, "TypeError: unhashable type: 'slice'");
	else return err_set(e, "TypeError: '%s' object is not subscriptable", jv_type_name(obj));
	if (obj->flags & JV_FLAG_MARKUP) return err_set(e, "unsupported: slicing a Markup string");
	int64_t a = 0, b = 0, c = 1;
	int rc = slice_indices(sl, len, &a, &b, &c, e);
	if (rc == 1) return err_set(e, "TypeError: slice indices must be integers or None or have an __index__ method");
	if (rc) return rc;
	if (obj->type == JINJA_TYPE_STRING) {
		struct buf o;
		buf_init(&o);
		const char *s = obj->u.s.p;
		size_t n = obj->u.s.len;
		bool ascii = jv_str_ncp(obj) == n;
		if (c == 1) {
			if (b > a) {
				size_t x = ascii ? (size_t)a : ju_offset(s, n, (size_t)a), y = ascii ? (size_t)b : ju_offset(s, n, (size_t)b);
				buf_append(&o, s + x, y - x);
			}
		} else {
			/* general step: index the code points once */
			size_t *offs = xmalloc(((size_t)len + 1) * sizeof *offs);
			size_t i = 0, k = 0;
			while (i < n) {
				offs[k++] = i;
				uint32_t cp;
				i += (size_t)ju_next(s + i, n - i, &cp);
			}
			offs[k] = n;
			for (int64_t j = a; c > 0 ? j < b : j > b; j += c) buf_append(&o, s + offs[j], offs[j + 1] - offs[j]);
			free(offs);
		}
		struct jinja_value *res = jv_str_buf(&o);
		*out = res;
		return 0;
	}
	enum jv_seq seq = obj->seq == JV_SEQ_TUPLE ? JV_SEQ_TUPLE : obj->seq == JV_SEQ_RANGE ? JV_SEQ_RANGE : JV_SEQ_LIST;
	struct jinja_value *res = jv_list_new(seq, 0);
	for (int64_t j = a; c > 0 ? j < b : j > b; j += c) jv_list_push(res, jinja_ref(obj->u.l.v[j]));
	if (seq == JV_SEQ_RANGE) {
		int64_t st = obj->u.l.range[0], sp = obj->u.l.range[2];
		res->u.l.range[0] = st + a * sp;
		res->u.l.range[1] = st + b * sp;
		res->u.l.range[2] = sp * c;
	}
	*out = res;
	return 0;
}

int jinja_getitem(struct jrender *r, struct jinja_value *obj, struct jinja_value *key, struct jinja_value **out,
                  struct err *e)
{
	if (obj->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(obj, e);
	switch (obj->type) {
	case JINJA_TYPE_DICT: {
		struct jinja_value *v = jv_dict_get(obj, key);
		if (v) {
			*out = jinja_ref(v);
			return 0;
		}
		break;
	}
	case JINJA_TYPE_LIST:
	case JINJA_TYPE_STRING:
		if (key->type == JINJA_TYPE_INT || key->type == JINJA_TYPE_BOOL) {
			if (obj->type == JINJA_TYPE_LIST && (obj->seq == JV_SEQ_GENERATOR || obj->seq == JV_SEQ_DICT_ITEMS ||
			                                      obj->seq == JV_SEQ_DICT_KEYS || obj->seq == JV_SEQ_DICT_VALUES))
				break; /* not subscriptable */
			int64_t i = jinja_int_value(key);
			int64_t len = obj->type == JINJA_TYPE_LIST ? (int64_t)obj->u.l.len : (int64_t)jv_str_ncp(obj);
			if (i < 0) i += len;
			if (i >= 0 && i < len) {
				if (obj->type == JINJA_TYPE_LIST) {
					*out = jinja_ref(obj->u.l.v[i]);
				} else {
					size_t off = ju_offset(obj->u.s.p, obj->u.s.len, (size_t)i);
					uint32_t cp;
					int k = ju_next(obj->u.s.p + off, obj->u.s.len - off, &cp);
					*out = jv_str(obj->u.s.p + off, (size_t)k);
				}
				return 0;
			}
		}
		break;
	default: break;
	}
	if (key->type == JINJA_TYPE_STRING) {
		if (obj->type == JINJA_TYPE_DICT) { /* dict methods reached through [] */
			struct jinja_value *m = NULL;
			if (jinja_getattr_builtin(obj, key->u.s.p, key->u.s.len, &m, e)) return -1;
			if (m) {
				*out = m;
				return 0;
			}
		} else {
			struct jinja_value *v = NULL;
			if (jinja_getattr(r, obj, key->u.s.p, key->u.s.len, &v, e)) return -1;
			*out = v;
			return 0;
		}
	}
	struct buf kb;
	buf_init(&kb);
	struct err tmp;
	if (jv_repr(key, &kb, &tmp)) buf_puts(&kb, "?");
	*out = jv_undef_hint("'%s object' has no element %s", jv_type_name(obj), kb.data ? kb.data : "");
	buf_free(&kb);
	return 0;
}

/* ------------------------------------------------------------------ arithmetic */

static int type_error_binop(struct err *e, const char *op, const struct jinja_value *a, const struct jinja_value *b)
{
	if (a->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(a, e);
	if (b->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(b, e);
	if (!strcmp(op, "+") && a->type == JINJA_TYPE_STRING)
		return err_set(e, "TypeError: can only concatenate str (not \"%s\") to str", jv_type_name(b));
	if (!strcmp(op, "+") && a->type == JINJA_TYPE_LIST && a->seq == JV_SEQ_LIST)
		return err_set(e, "TypeError: can only concatenate list (not \"%s\") to list", jv_type_name(b));
	return err_set(e, "TypeError: unsupported operand type(s) for %s: '%s' and '%s'", op, jv_type_name(a),
	               jv_type_name(b));
}

static void markup_escape(const char *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&#34;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default: buf_putc(out, s[i]);
		}
	}
}

static double py_fmod(double x, double y)
{
	double m = fmod(x, y);
	if (m) {
		if ((y < 0) != (m < 0)) m += y;
	} else {
		m = copysign(0.0, y);
	}
	return m;
}

static double py_floordiv(double x, double y)
{
	/* CPython float_divmod */
	double mod = fmod(x, y);
	double div = (x - mod) / y;
	if (mod && ((y < 0) != (mod < 0))) div -= 1.0;
	double fd;
	if (div) {
		fd = floor(div);
		if (div - fd > 0.5) fd += 1.0;
	} else {
		fd = copysign(0.0, x / y);
	}
	return fd;
}

static struct jinja_value *repeat_seq(struct jinja_value *s, int64_t n)
{
	if (n < 0) n = 0;
	if (s->type == JINJA_TYPE_STRING) {
		struct buf b;
		buf_init(&b);
		for (int64_t i = 0; i < n; i++) buf_append(&b, s->u.s.p, s->u.s.len);
		return jv_str_buf(&b);
	}
	struct jinja_value *l = jv_list_new(s->seq == JV_SEQ_TUPLE ? JV_SEQ_TUPLE : JV_SEQ_LIST, 0);
	for (int64_t i = 0; i < n; i++)
		for (size_t k = 0; k < s->u.l.len; k++) jv_list_push(l, jinja_ref(s->u.l.v[k]));
	return l;
}

int jinja_binop(int op, struct jinja_value *a, struct jinja_value *b, struct jinja_value **out, struct err *e)
{
	static const char *names[] = {[JTOK_ADD] = "+", [JTOK_SUB] = "-", [JTOK_MUL] = "*", [JTOK_DIV] = "/",
	                              [JTOK_FLOORDIV] = "//", [JTOK_MOD] = "%", [JTOK_POW] = "** or pow()"};
	const char *opn = names[op];
	bool an = jv_is_number(a), bn = jv_is_number(b);
	if (an && bn) {
		bool isf = a->type == JINJA_TYPE_FLOAT || b->type == JINJA_TYPE_FLOAT;
		if (!isf) {
			int64_t x = jinja_int_value(a), y = jinja_int_value(b), z;
			switch (op) {
			case JTOK_ADD:
				if (__builtin_add_overflow(x, y, &z)) goto overflow;
				*out = jinja_int(z);
				return 0;
			case JTOK_SUB:
				if (__builtin_sub_overflow(x, y, &z)) goto overflow;
				*out = jinja_int(z);
				return 0;
			case JTOK_MUL:
				if (__builtin_mul_overflow(x, y, &z)) goto overflow;
				*out = jinja_int(z);
				return 0;
			case JTOK_DIV:
				if (!y) return err_set(e, "ZeroDivisionError: division by zero");
				*out = jinja_float((double)x / (double)y);
				return 0;
			case JTOK_FLOORDIV:
			case JTOK_MOD: {
				if (!y) return err_set(e, "ZeroDivisionError: integer %s by zero", op == JTOK_MOD ? "modulo" : "division");
				if (x == INT64_MIN && y == -1) goto overflow;
				int64_t q = x / y, m = x % y;
				if (m && ((m < 0) != (y < 0))) {
					q--;
					m += y;
				}
				*out = jinja_int(op == JTOK_MOD ? m : q);
				return 0;
			}
			case JTOK_POW: {
				if (y < 0) {
					if (!x) return err_set(e, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
					*out = jinja_float(pow((double)x, (double)y));
					return 0;
				}
				int64_t res = 1, base = x;
				int64_t ex = y;
				while (ex) {
					if (ex & 1)
						if (__builtin_mul_overflow(res, base, &res)) goto overflow;
					ex >>= 1;
					if (ex && __builtin_mul_overflow(base, base, &base)) goto overflow;
				}
				*out = jinja_int(res);
				return 0;
			}
			}
		} else {
			double x = jinja_float_value(a), y = jinja_float_value(b);
			switch (op) {
			case JTOK_ADD: *out = jinja_float(x + y); return 0;
			case JTOK_SUB: *out = jinja_float(x - y); return 0;
			case JTOK_MUL: *out = jinja_float(x * y); return 0;
			case JTOK_DIV:
				if (y == 0) return err_set(e, "ZeroDivisionError: float division by zero");
				*out = jinja_float(x / y);
				return 0;
			case JTOK_FLOORDIV:
				if (y == 0) return err_set(e, "ZeroDivisionError: float floor division by zero");
				*out = jinja_float(py_floordiv(x, y));
				return 0;
			case JTOK_MOD:
				if (y == 0) return err_set(e, "ZeroDivisionError: float modulo");
				*out = jinja_float(py_fmod(x, y));
				return 0;
			case JTOK_POW:
				if (x == 0 && y < 0) return err_set(e, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
				if (x < 0 && y != floor(y)) return err_set(e, "unsupported: fractional power of a negative number (complex result)");
				*out = jinja_float(pow(x, y));
				if (isinf((*out)->u.f) && !isinf(x) && !isinf(y)) {
					jinja_unref(*out);
					return err_set(e, "OverflowError: (34, 'Numerical result out of range')");
				}
				return 0;
			}
		}
	}
	if (op == JTOK_ADD) {
		if (a->type == JINJA_TYPE_STRING && b->type == JINJA_TYPE_STRING) {
			struct buf o;
			buf_init(&o);
			bool ma = a->flags & JV_FLAG_MARKUP, mb = b->flags & JV_FLAG_MARKUP;
			/* Markup.__add__ / __radd__ escape the plain operand */
			if (mb && !ma) markup_escape(a->u.s.p, a->u.s.len, &o);
			else buf_append(&o, a->u.s.p, a->u.s.len);
			if (ma && !mb) markup_escape(b->u.s.p, b->u.s.len, &o);
			else buf_append(&o, b->u.s.p, b->u.s.len);
			*out = jv_str_buf(&o);
			if (ma || mb) (*out)->flags |= JV_FLAG_MARKUP;
			return 0;
		}
		if (a->type == JINJA_TYPE_LIST && b->type == JINJA_TYPE_LIST &&
		    ((a->seq == JV_SEQ_LIST && b->seq == JV_SEQ_LIST) || (a->seq == JV_SEQ_TUPLE && b->seq == JV_SEQ_TUPLE))) {
			struct jinja_value *l = jv_list_new(a->seq, a->u.l.len + b->u.l.len);
			for (size_t i = 0; i < a->u.l.len; i++) jv_list_push(l, jinja_ref(a->u.l.v[i]));
			for (size_t i = 0; i < b->u.l.len; i++) jv_list_push(l, jinja_ref(b->u.l.v[i]));
			*out = l;
			return 0;
		}
	}
	if (op == JTOK_MUL) {
		bool aseq = a->type == JINJA_TYPE_STRING || (a->type == JINJA_TYPE_LIST && a->seq <= JV_SEQ_TUPLE);
		bool bseq = b->type == JINJA_TYPE_STRING || (b->type == JINJA_TYPE_LIST && b->seq <= JV_SEQ_TUPLE);
		bool aint = a->type == JINJA_TYPE_INT || a->type == JINJA_TYPE_BOOL;
		bool bint = b->type == JINJA_TYPE_INT || b->type == JINJA_TYPE_BOOL;
		if ((aseq && bint) || (aint && bseq)) {
			struct jinja_value *s = aseq ? a : b;
			int64_t n = jinja_int_value(aseq ? b : a);
			if (n > 0 && (s->type == JINJA_TYPE_STRING ? s->u.s.len : s->u.l.len) * (uint64_t)n > (1u << 28))
				return err_set(e, "MemoryError: repetition result too large");
			if (a->flags & JV_FLAG_MARKUP || b->flags & JV_FLAG_MARKUP)
				return err_set(e, "unsupported: repeating a Markup string");
			*out = repeat_seq(s, n);
			return 0;
		}
	}
	if (op == JTOK_MOD && a->type == JINJA_TYPE_STRING) {
		return jinja_percent_format(a, b, out, e);
	}
	return type_error_binop(e, opn, a, b);
overflow:
	return err_set(e, "unsupported: integer result outside the 64-bit range");
}

/* ------------------------------------------------------------------ evaluation */

static struct jinja_value *eval(struct jrender *r, struct jframe *f, const struct jnode *n);
static int exec_list(struct jrender *r, struct jframe *f, const struct jnode_list *l, struct buf *out);

static int contains(struct jinja_value *hay, struct jinja_value *needle, bool *res, struct err *e)
{
	switch (hay->type) {
	case JINJA_TYPE_STRING:
		if (needle->type != JINJA_TYPE_STRING) {
			if (needle->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(needle, e);
			return err_set(e, "TypeError: 'in <string>' requires string as left operand, not %s", jv_type_name(needle));
		}
		*res = needle->u.s.len == 0 || memmem(hay->u.s.p, hay->u.s.len, needle->u.s.p, needle->u.s.len) != NULL;
		return 0;
	case JINJA_TYPE_LIST:
		*res = false;
		for (size_t i = 0; i < hay->u.l.len; i++)
			if (jv_eq(hay->u.l.v[i], needle)) {
				*res = true;
				break;
			}
		if (hay->seq == JV_SEQ_DICT_ITEMS || hay->seq == JV_SEQ_DICT_KEYS) {
			uint64_t h;
			if (hay->seq == JV_SEQ_DICT_KEYS && jv_hash(needle, &h, e)) return -1;
		}
		return 0;
	case JINJA_TYPE_DICT: {
		uint64_t h;
		if (jv_hash(needle, &h, e)) return err_prefix(e, "TypeError");
		*res = jv_dict_get(hay, needle) != NULL;
		return 0;
	}
	case JINJA_TYPE_UNDEFINED: *res = false; return 0; /* Undefined iterates as empty */
	default: return err_set(e, "TypeError: argument of type '%s' is not iterable", jv_type_name(hay));
	}
}

static int compare_op(int op, struct jinja_value *a, struct jinja_value *b, bool *res, struct err *e)
{
	int c;
	switch (op) {
	case JTOK_EQ: *res = jv_eq(a, b); return 0;
	case JTOK_NE: *res = !jv_eq(a, b); return 0;
	case JN_OP_IN: return contains(b, a, res, e);
	case JN_OP_NOTIN:
		if (contains(b, a, res, e)) return -1;
		*res = !*res;
		return 0;
	default: break;
	}
	const char *sym = op == JTOK_LT ? "<" : op == JTOK_LTEQ ? "<=" : op == JTOK_GT ? ">" : ">=";
	if (jv_cmp(a, b, sym, &c, e)) {
		if (strncmp(e->msg, "UndefinedError", 14)) err_prefix(e, "TypeError");
		return -1;
	}
	if (c == 2) {
		*res = false;
		return 0;
	}
	switch (op) {
	case JTOK_LT: *res = c < 0; break;
	case JTOK_LTEQ: *res = c <= 0; break;
	case JTOK_GT: *res = c > 0; break;
	default: *res = c >= 0; break;
	}
	return 0;
}

static void args_free(struct jcall_args *a)
{
	for (int i = 0; i < a->n_pos; i++) jinja_unref(a->pos[i]);
	free(a->pos);
	if (a->kw) jinja_unref(a->kw);
	a->pos = NULL;
	a->n_pos = 0;
	a->kw = NULL;
}

/* evaluates n->kids (positional), n->kids2/kwnames, n->c (*args), n->d (**kwargs) */
static int eval_args(struct jrender *r, struct jframe *f, const struct jnode *n, struct jcall_args *a)
{
	memset(a, 0, sizeof *a);
	int cap = 0;
	for (int i = 0; i < n->kids.n; i++) {
		struct jinja_value *v = eval(r, f, n->kids.v[i]);
		if (!v) goto fail;
		JVEC_PUSH(a->pos, a->n_pos, cap, v);
	}
	for (int i = 0; i < n->kids2.n; i++) {
		struct jinja_value *v = eval(r, f, n->kids2.v[i]);
		if (!v) goto fail;
		if (!a->kw) a->kw = jinja_dict();
		jv_dict_set_str(a->kw, n->kwnames[i], strlen(n->kwnames[i]), v);
	}
	if (n->c) {
		struct jinja_value *v = eval(r, f, n->c), *l = NULL;
		if (!v) goto fail;
		int rc = jinja_iterate(v, &l, r->e);
		jinja_unref(v);
		if (rc) {
			locate(r, n->c);
			goto fail;
		}
		for (size_t i = 0; i < l->u.l.len; i++) JVEC_PUSH(a->pos, a->n_pos, cap, jinja_ref(l->u.l.v[i]));
		jinja_unref(l);
	}
	if (n->d) {
		struct jinja_value *v = eval(r, f, n->d);
		if (!v) goto fail;
		if (v->type != JINJA_TYPE_DICT) {
			jinja_unref(v);
			rfail_node(r, n->d, "TypeError: argument after ** must be a mapping");
			goto fail;
		}
		if (!a->kw) a->kw = jinja_dict();
		for (size_t i = 0; i < v->u.d.len; i++) {
			struct jinja_value *k = v->u.d.e[i].k;
			if (k->type != JINJA_TYPE_STRING) {
				jinja_unref(v);
				rfail_node(r, n->d, "TypeError: keywords must be strings");
				goto fail;
			}
			jv_dict_set(a->kw, jinja_ref(k), jinja_ref(v->u.d.e[i].v), NULL);
		}
		jinja_unref(v);
	}
	return 0;
fail:
	args_free(a);
	return -1;
}

/* assigns value to a target (Name / Tuple / NSRef) in frame f; by_name binds names through the
 * frame's own scope (a loop-filter frame shares the target nodes with the loop body) */
static int assign_target_in(struct jrender *r, struct jframe *f, const struct jnode *t, struct jinja_value *v,
                            bool by_name)
{
	if (t->kind == JN_NAME) {
		struct jframe *q = f;
		int slot = t->slot;
		if (by_name) {
			slot = scope_slot(f->scope, t->name);
		} else {
			for (int k = 0; k < t->up && q; k++) q = q->parent;
		}
		if (!q || slot < 0) return rfail_node(r, t, "internal error: unresolved assignment target '%s'", t->name);
		frame_set(q, slot, jinja_ref(v));
		return 0;
	}
	if (t->kind == JN_NSREF) {
		struct jinja_value *ns = load_name(r, f, t, t->name);
		if (ns->type != JINJA_TYPE_NAMESPACE) {
			jinja_unref(ns);
			return rfail_node(r, t, "TemplateRuntimeError: cannot assign attribute on non-namespace object");
		}
		jv_dict_set_str(ns, t->attr, strlen(t->attr), jinja_ref(v));
		jinja_unref(ns);
		return 0;
	}
	/* tuple unpacking */
	struct jinja_value *items;
	if (jinja_iterate(v, &items, r->e)) return locate(r, t);
	int rc = 0;
	if (items->u.l.len != (size_t)t->kids.n) {
		if (items->u.l.len > (size_t)t->kids.n)
			rc = rfail_node(r, t, "ValueError: too many values to unpack (expected %d)", t->kids.n);
		else
			rc = rfail_node(r, t, "ValueError: not enough values to unpack (expected %d, got %zu)", t->kids.n,
			                items->u.l.len);
	} else {
		for (int i = 0; i < t->kids.n && !rc; i++) rc = assign_target_in(r, f, t->kids.v[i], items->u.l.v[i], by_name);
	}
	jinja_unref(items);
	return rc;
}

static int assign_target(struct jrender *r, struct jframe *f, const struct jnode *t, struct jinja_value *v)
{
	return assign_target_in(r, f, t, v, false);
}

/* ---- macros */

static int call_macro(struct jrender *r, struct jv_callable *c, const struct jcall_args *a, struct jinja_value **out)
{
	const struct jnode *m = c->macro;
	const struct jscope *sc = m->scope;
	int argc = m->kids.n, ndef = m->kids2.n;
	const char *mname = c->name;
	if (r->depth > 200) return err_set(r->e, "RecursionError: maximum macro recursion depth exceeded");
	struct jinja_value *kw = a->kw ? jinja_dict() : NULL;
	if (kw)
		for (size_t i = 0; i < a->kw->u.d.len; i++)
			jv_dict_set(kw, jinja_ref(a->kw->u.d.e[i].k), jinja_ref(a->kw->u.d.e[i].v), NULL);
	struct jframe *mf = frame_new(sc, c->frame);
	frame_enter(r, mf);
	int rc = 0;
	bool found_caller = false;
	int npos = a->n_pos < argc ? a->n_pos : argc;
	/* values: positional, then keywords / missing */
	struct jinja_value **vals = xcalloc((size_t)(argc ? argc : 1), sizeof *vals);
	for (int i = 0; i < npos; i++) vals[i] = jinja_ref(a->pos[i]);
	if (npos != argc) {
		for (int i = npos; i < argc; i++) {
			const char *name = m->kids.v[i]->name;
			struct jinja_value *v = kw ? jinja_dict_get(kw, name) : NULL;
			if (v) {
				vals[i] = jinja_ref(v);
				jinja_dict_remove(kw, name);
			}
			if (!strcmp(name, "caller")) found_caller = true;
		}
	} else {
		found_caller = m->explicit_caller;
	}
	if (m->accesses_caller && !found_caller) {
		struct jinja_value *cv = kw ? jinja_dict_get(kw, "caller") : NULL;
		struct jinja_value *caller = cv && cv->type != JINJA_TYPE_NONE ? jinja_ref(cv) : jv_undef_hint("No caller defined");
		if (kw) jinja_dict_remove(kw, "caller");
		int slot = scope_slot(sc, "caller");
		if (slot >= 0) frame_set(mf, slot, caller);
		else jinja_unref(caller);
	}
	if (m->catch_kwargs) {
		int slot = scope_slot(sc, "kwargs");
		struct jinja_value *d = kw ? jinja_ref(kw) : jinja_dict();
		if (slot >= 0) frame_set(mf, slot, d);
		else jinja_unref(d);
	} else if (kw && kw->u.d.len) {
		if (jinja_dict_get(kw, "caller"))
			rc = err_set(r->e, "TypeError: macro '%s' was invoked with two values for the special caller argument. This is most likely a bug.", mname);
		else
			rc = err_set(r->e, "TypeError: macro '%s' takes no keyword argument '%s'", mname, kw->u.d.e[0].k->u.s.p);
	}
	if (!rc) {
		if (m->catch_varargs) {
			struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 0);
			for (int i = argc; i < a->n_pos; i++) jv_list_push(t, jinja_ref(a->pos[i]));
			int slot = scope_slot(sc, "varargs");
			if (slot >= 0) frame_set(mf, slot, t);
			else jinja_unref(t);
		} else if (a->n_pos > argc) {
			rc = err_set(r->e, "TypeError: macro '%s' takes not more than %d argument(s)", mname, argc);
		}
	}
	/* parameters in order; a missing one takes its default, evaluated in the macro frame */
	for (int i = 0; i < argc && !rc; i++) {
		const struct jnode *an = m->kids.v[i];
		if (vals[i]) {
			frame_set(mf, an->slot, vals[i]);
			vals[i] = NULL;
			continue;
		}
		int di = i - (argc - ndef);
		if (di >= 0) {
			struct jinja_value *dv = eval(r, mf, m->kids2.v[di]);
			if (!dv) {
				rc = -1;
				break;
			}
			frame_set(mf, an->slot, dv);
		} else {
			frame_set(mf, an->slot, jv_undef_hint("parameter '%s' was not provided", an->name));
		}
	}
	for (int i = 0; i < argc; i++)
		if (vals[i]) jinja_unref(vals[i]);
	free(vals);
	if (kw) jinja_unref(kw);
	if (!rc) {
		struct buf b;
		buf_init(&b);
		r->depth++;
		rc = exec_list(r, mf, &m->kids3, &b);
		r->depth--;
		if (!rc) *out = jv_str_buf(&b);
		else buf_free(&b);
	}
	frame_clear(mf);
	jframe_unref(mf);
	return rc;
}

int jinja_call_value(struct jrender *r, struct jinja_value *callee, const struct jcall_args *a,
                     struct jinja_value **out, struct err *e)
{
	switch (callee->type) {
	case JINJA_TYPE_UNDEFINED: return jinja_undefined_error(callee, e);
	case JINJA_TYPE_CALLABLE: {
		struct jv_callable *c = callee->u.c;
		if (c->kind == JV_CALL_MACRO) return call_macro(r, c, a, out);
		if (c->kind == JV_CALL_GLOBAL) return jinja_global_call(r, c->id, a, out, e);
		return jinja_method_call(r, c, a, out, e);
	}
	case JINJA_TYPE_LOOP:
		return err_set(e, "TypeError: The loop must have the 'recursive' marker to be called recursively.");
	case JINJA_TYPE_OBJECT:
		if (callee->u.o->kind == JOBJECT_JOINER) {
			if (a->n_pos || a->kw) return err_set(e, "TypeError: joiner() takes no arguments");
			if (!callee->u.o->pos) {
				callee->u.o->pos = 1;
				*out = jv_str("", 0);
			} else {
				*out = jinja_ref(callee->u.o->a);
			}
			return 0;
		}
		return err_set(e, "TypeError: 'Cycler' object is not callable");
	default: return err_set(e, "TypeError: '%s' object is not callable", jv_type_name(callee));
	}
}

/* ---- loop object */

struct loop_test {
	const struct jnode *node; /* the JN_FOR */
	struct jframe *tf;
};

static int loop_test_fn(struct jrender *r, void *arg, struct jinja_value *item, bool *pass, struct err *e)
{
	struct loop_test *lt = arg;
	frame_enter(r, lt->tf);
	if (assign_target_in(r, lt->tf, lt->node->a, item, true)) return -1;
	struct jinja_value *v = eval(r, lt->tf, lt->node->c);
	if (!v) return -1;
	*pass = jinja_truthy(v);
	jinja_unref(v);
	(void)e;
	return 0;
}

int jloop_fill(struct jrender *r, struct jv_loop *l, size_t want, struct err *e)
{
	while (!l->exhausted && l->n_ahead - l->ahead_pos < want) {
		if (l->src_pos >= l->src->u.l.len) {
			l->exhausted = true;
			break;
		}
		struct jinja_value *item = l->src->u.l.v[l->src_pos++];
		bool pass = true;
		if (l->test && l->test(r, l->test_arg, item, &pass, e)) return -1;
		if (pass) {
			if (l->ahead_pos && l->ahead_pos == l->n_ahead) l->ahead_pos = l->n_ahead = 0;
			JVEC_PUSH(l->ahead, l->n_ahead, l->cap_ahead, jinja_ref(item));
		}
	}
	return 0;
}

int jloop_length(struct jrender *r, struct jv_loop *l, int64_t *out, struct err *e)
{
	if (l->length < 0) {
		if (jloop_fill(r, l, SIZE_MAX, e)) return -1;
		l->length = l->index0 + 1 + (int64_t)(l->n_ahead - l->ahead_pos);
	}
	*out = l->length;
	return 0;
}

/* ---- expressions */

static struct jinja_value *eval_filter_chain(struct jrender *r, struct jframe *f, const struct jnode *n,
                                             struct jinja_value *input);

static struct jinja_value *eval(struct jrender *r, struct jframe *f, const struct jnode *n)
{
	struct err *e = r->e;
	struct jinja_value *res = NULL;
	switch (n->kind) {
	case JN_CONST: return jinja_ref(n->value);
	case JN_NAME: return load_name(r, f, n, n->name);
	case JN_GETATTR: {
		struct jinja_value *obj = eval(r, f, n->a);
		if (!obj) return NULL;
		int rc = jinja_getattr(r, obj, n->attr, strlen(n->attr), &res, e);
		jinja_unref(obj);
		if (rc) {
			locate(r, n);
			return NULL;
		}
		return res;
	}
	case JN_GETITEM: {
		struct jinja_value *obj = eval(r, f, n->a);
		if (!obj) return NULL;
		int rc;
		if (n->b->kind == JN_SLICE) {
			struct jinja_value *sl[3] = {0};
			const struct jnode *parts[3] = {n->b->a, n->b->b, n->b->c};
			rc = 0;
			for (int i = 0; i < 3; i++)
				if (parts[i] && !(sl[i] = eval(r, f, parts[i]))) rc = -1;
			if (!rc) {
				rc = do_slice(obj, sl, &res, e);
				if (rc) locate(r, n);
			}
			for (int i = 0; i < 3; i++)
				if (sl[i]) jinja_unref(sl[i]);
		} else {
			struct jinja_value *key = eval(r, f, n->b);
			if (!key) {
				jinja_unref(obj);
				return NULL;
			}
			rc = jinja_getitem(r, obj, key, &res, e);
			jinja_unref(key);
			if (rc) locate(r, n);
		}
		jinja_unref(obj);
		return rc ? NULL : res;
	}
	case JN_CALL: {
		struct jinja_value *callee = eval(r, f, n->a);
		if (!callee) return NULL;
		struct jcall_args a;
		if (eval_args(r, f, n, &a)) {
			jinja_unref(callee);
			return NULL;
		}
		int rc = jinja_call_value(r, callee, &a, &res, e);
		args_free(&a);
		jinja_unref(callee);
		if (rc) {
			locate(r, n);
			return NULL;
		}
		return res;
	}
	case JN_FILTER: return eval_filter_chain(r, f, n, NULL);
	case JN_TEST: {
		struct jinja_value *in = eval(r, f, n->a);
		if (!in) return NULL;
		struct jcall_args a;
		if (eval_args(r, f, n, &a)) {
			jinja_unref(in);
			return NULL;
		}
		bool b = false;
		int rc = n->id < 0 ? err_set(e, "TemplateRuntimeError: No test named '%s' found.", n->name)
		                   : jinja_test_call(r, n->id, in, &a, &b, e);
		args_free(&a);
		jinja_unref(in);
		if (rc) {
			locate(r, n);
			return NULL;
		}
		return jinja_bool(b);
	}
	case JN_LIST:
	case JN_TUPLE: {
		struct jinja_value *l = jv_list_new(n->kind == JN_TUPLE ? JV_SEQ_TUPLE : JV_SEQ_LIST, (size_t)n->kids.n);
		for (int i = 0; i < n->kids.n; i++) {
			struct jinja_value *v = eval(r, f, n->kids.v[i]);
			if (!v) {
				jinja_unref(l);
				return NULL;
			}
			jv_list_push(l, v);
		}
		return l;
	}
	case JN_DICT: {
		struct jinja_value *d = jinja_dict();
		for (int i = 0; i < n->kids.n; i++) {
			struct jinja_value *k = eval(r, f, n->kids.v[i]);
			if (!k) {
				jinja_unref(d);
				return NULL;
			}
			struct jinja_value *v = eval(r, f, n->kids2.v[i]);
			if (!v) {
				jinja_unref(k);
				jinja_unref(d);
				return NULL;
			}
			if (jv_dict_set(d, k, v, e)) {
				jinja_unref(d);
				err_prefix(e, "TypeError");
				locate(r, n->kids.v[i]);
				return NULL;
			}
		}
		return d;
	}
	case JN_BINOP: {
		struct jinja_value *a = eval(r, f, n->a);
		if (!a) return NULL;
		struct jinja_value *b = eval(r, f, n->b);
		if (!b) {
			jinja_unref(a);
			return NULL;
		}
		int rc = jinja_binop(n->op, a, b, &res, e);
		jinja_unref(a);
		jinja_unref(b);
		if (rc) {
			locate(r, n);
			return NULL;
		}
		return res;
	}
	case JN_CONCAT: {
		struct buf o;
		buf_init(&o);
		for (int i = 0; i < n->kids.n; i++) {
			struct jinja_value *v = eval(r, f, n->kids.v[i]);
			if (!v) {
				buf_free(&o);
				return NULL;
			}
			int rc = jv_to_str(v, &o, e);
			jinja_unref(v);
			if (rc) {
				buf_free(&o);
				locate(r, n->kids.v[i]);
				return NULL;
			}
		}
		return jv_str_buf(&o);
	}
	case JN_COMPARE: {
		struct jinja_value *left = eval(r, f, n->a);
		if (!left) return NULL;
		bool ok = true;
		for (int i = 0; i < n->kids.n; i++) {
			const struct jnode *o = n->kids.v[i];
			struct jinja_value *right = eval(r, f, o->a);
			if (!right) {
				jinja_unref(left);
				return NULL;
			}
			int rc = compare_op(o->op, left, right, &ok, e);
			jinja_unref(left);
			left = right;
			if (rc) {
				jinja_unref(left);
				locate(r, o);
				return NULL;
			}
			if (!ok) break;
		}
		jinja_unref(left);
		return jinja_bool(ok);
	}
	case JN_AND:
	case JN_OR: {
		struct jinja_value *a = eval(r, f, n->a);
		if (!a) return NULL;
		bool t = jinja_truthy(a);
		if (n->kind == JN_AND ? !t : t) return a;
		jinja_unref(a);
		return eval(r, f, n->b);
	}
	case JN_NOT: {
		struct jinja_value *a = eval(r, f, n->a);
		if (!a) return NULL;
		bool t = jinja_truthy(a);
		jinja_unref(a);
		return jinja_bool(!t);
	}
	case JN_NEG:
	case JN_POS: {
		struct jinja_value *a = eval(r, f, n->a);
		if (!a) return NULL;
		if (a->type == JINJA_TYPE_INT || a->type == JINJA_TYPE_BOOL) {
			int64_t x = jinja_int_value(a);
			jinja_unref(a);
			if (n->kind == JN_NEG && x == INT64_MIN) {
				rfail_node(r, n, "unsupported: integer result outside the 64-bit range");
				return NULL;
			}
			return jinja_int(n->kind == JN_NEG ? -x : x);
		}
		if (a->type == JINJA_TYPE_FLOAT) {
			double x = a->u.f;
			jinja_unref(a);
			return jinja_float(n->kind == JN_NEG ? -x : x);
		}
		if (a->type == JINJA_TYPE_UNDEFINED) {
			jinja_undefined_error(a, e);
		} else {
			err_set(e, "TypeError: bad operand type for unary %c: '%s'", n->kind == JN_NEG ? '-' : '+', jv_type_name(a));
		}
		jinja_unref(a);
		locate(r, n);
		return NULL;
	}
	case JN_SLICE: /* a slice inside a tuple subscript: never a valid key for our containers */
		return jv_undef_hint("slice objects are not supported as keys");
	case JN_CONDEXPR: {
		struct jinja_value *t = eval(r, f, n->a);
		if (!t) return NULL;
		bool b = jinja_truthy(t);
		jinja_unref(t);
		if (b) return eval(r, f, n->b);
		if (n->c) return eval(r, f, n->c);
		return jv_undef_hint("the inline if-expression on line %d evaluated to false and no else section was defined.",
		                     n->line);
	}
	default: rfail_node(r, n, "internal error: cannot evaluate node kind %d", n->kind); return NULL;
	}
}

/* A filter chain; `input` replaces the innermost NULL input (filter blocks, set blocks). */
static struct jinja_value *eval_filter_chain(struct jrender *r, struct jframe *f, const struct jnode *n,
                                             struct jinja_value *input)
{
	struct jinja_value *in;
	if (n->a) in = n->a->kind == JN_FILTER ? eval_filter_chain(r, f, n->a, input) : eval(r, f, n->a);
	else in = input ? jinja_ref(input) : jinja_undefined();
	if (!in) return NULL;
	struct jcall_args a;
	if (eval_args(r, f, n, &a)) {
		jinja_unref(in);
		return NULL;
	}
	struct jinja_value *res = NULL;
	int rc = n->id < 0 ? err_set(r->e, "TemplateRuntimeError: No filter named '%s' found.", n->name)
	                   : jinja_filter_call(r, n->id, in, &a, &res, r->e);
	args_free(&a);
	jinja_unref(in);
	if (rc) {
		locate(r, n);
		return NULL;
	}
	return res;
}

/* ------------------------------------------------------------------ statements */

static int output_value(struct jrender *r, const struct jnode *n, struct jinja_value *v, struct buf *out)
{
	int rc = jv_to_str(v, out, r->e);
	jinja_unref(v);
	return rc ? locate(r, n) : 0;
}

static int exec_for(struct jrender *r, struct jframe *f, const struct jnode *n, struct buf *out)
{
	struct jinja_value *it = eval(r, f, n->b);
	if (!it) return -1;
	struct jinja_value *items = NULL;
	int rc = jinja_iterate(it, &items, r->e);
	jinja_unref(it);
	if (rc) return locate(r, n->b);

	struct jframe *bf = frame_new(n->scope, f);
	struct jframe *tf = n->c ? frame_new(n->scope3, f) : NULL;
	struct loop_test lt = {.node = n, .tf = tf};
	struct jinja_value *lv = xcalloc(1, sizeof *lv);
	lv->refs = 1;
	lv->type = JINJA_TYPE_LOOP;
	struct jv_loop *l = xcalloc(1, sizeof *l);
	lv->u.loop = l;
	l->src = items;
	l->index0 = -1;
	l->length = n->c ? -1 : (int64_t)items->u.l.len;
	l->r = r;
	if (n->c) {
		l->test = loop_test_fn;
		l->test_arg = &lt;
	}
	bool iterated_fully = false; /* jinja2 runs else when no iteration reached its end */
	rc = 0;
	for (;;) {
		if (jloop_fill(r, l, 1, r->e)) {
			rc = locate(r, n);
			break;
		}
		if (l->ahead_pos >= l->n_ahead) break;
		struct jinja_value *item = l->ahead[l->ahead_pos++];
		l->index0++;
		if (l->prev) jinja_unref(l->prev);
		l->prev = l->cur;
		l->cur = item; /* the reference moves from ahead[] */
		frame_enter(r, bf);
		if (n->scope->loop_slot >= 0) frame_set(bf, n->scope->loop_slot, jinja_ref(lv));
		if (assign_target(r, bf, n->a, item)) {
			rc = -1;
			break;
		}
		rc = exec_list(r, bf, &n->kids, out);
		if (rc) break;
		if (r->ctl == CTL_BREAK) {
			r->ctl = CTL_NONE;
			break;
		}
		if (r->ctl == CTL_CONTINUE) {
			r->ctl = CTL_NONE;
			continue;
		}
		iterated_fully = true;
	}
	l->test = NULL; /* the test frame dies with this call; a leaked loop object must not use it */
	frame_clear(bf);
	jframe_unref(bf);
	if (tf) {
		frame_clear(tf);
		jframe_unref(tf);
	}
	jinja_unref(lv);
	if (rc) return -1;
	if (!iterated_fully && n->kids2.n) {
		struct jframe *ef = frame_new(n->scope2, f);
		frame_enter(r, ef);
		rc = exec_list(r, ef, &n->kids2, out);
		frame_clear(ef);
		jframe_unref(ef);
	}
	return rc;
}

static struct jinja_value *macro_value(struct jframe *f, const struct jnode *n, const char *name)
{
	struct jinja_value *mv = jv_callable_new(JV_CALL_MACRO, 0, NULL, name);
	mv->u.c->macro = n;
	mv->u.c->frame = f;
	f->refs++;
	return mv;
}

/* body of a scoped block (set block, filter block, generation) rendered to a string */
static int render_scoped(struct jrender *r, struct jframe *f, const struct jnode *n, const struct jnode_list *body,
                         struct buf *out)
{
	struct jframe *bf = frame_new(n->scope, f);
	frame_enter(r, bf);
	int rc = exec_list(r, bf, body, out);
	frame_clear(bf);
	jframe_unref(bf);
	return rc;
}

static int exec_stmt(struct jrender *r, struct jframe *f, const struct jnode *n, struct buf *out)
{
	switch (n->kind) {
	case JN_OUTPUT:
		for (int i = 0; i < n->kids.n; i++) {
			const struct jnode *k = n->kids.v[i];
			if (k->kind == JN_DATA) {
				buf_append(out, k->value->u.s.p, k->value->u.s.len);
				continue;
			}
			struct jinja_value *v = eval(r, f, k);
			if (!v || output_value(r, k, v, out)) return -1;
		}
		return 0;
	case JN_IF: {
		struct jinja_value *t = eval(r, f, n->a);
		if (!t) return -1;
		bool b = jinja_truthy(t);
		jinja_unref(t);
		if (b) return exec_list(r, f, &n->kids, out);
		for (int i = 0; i < n->kids2.n; i++) {
			const struct jnode *el = n->kids2.v[i];
			t = eval(r, f, el->a);
			if (!t) return -1;
			b = jinja_truthy(t);
			jinja_unref(t);
			if (b) return exec_list(r, f, &el->kids, out);
		}
		return exec_list(r, f, &n->kids3, out);
	}
	case JN_FOR: return exec_for(r, f, n, out);
	case JN_ASSIGN: {
		struct jinja_value *v = eval(r, f, n->b);
		if (!v) return -1;
		int rc = assign_target(r, f, n->a, v);
		jinja_unref(v);
		return rc;
	}
	case JN_ASSIGN_BLOCK: {
		struct buf b;
		buf_init(&b);
		if (render_scoped(r, f, n, &n->kids, &b)) {
			buf_free(&b);
			return -1;
		}
		struct jinja_value *v = jv_str_buf(&b);
		if (n->b) {
			struct jframe *bf = frame_new(n->scope, f);
			frame_enter(r, bf);
			struct jinja_value *fv = eval_filter_chain(r, bf, n->b, v);
			frame_clear(bf);
			jframe_unref(bf);
			jinja_unref(v);
			if (!fv) return -1;
			v = fv;
		}
		int rc = assign_target(r, f, n->a, v);
		jinja_unref(v);
		return rc;
	}
	case JN_MACRO: {
		if (n->slot < 0) return rfail_node(r, n, "internal error: unresolved macro name");
		frame_set(f, n->slot, macro_value(f, n, n->name));
		return 0;
	}
	case JN_CALL_BLOCK: {
		const struct jnode *call = n->a;
		struct jinja_value *callee = eval(r, f, call->a);
		if (!callee) return -1;
		struct jcall_args a;
		if (eval_args(r, f, call, &a)) {
			jinja_unref(callee);
			return -1;
		}
		if (!a.kw) a.kw = jinja_dict();
		jv_dict_set_str(a.kw, "caller", 6, macro_value(f, n, "caller"));
		struct jinja_value *res = NULL;
		int rc = jinja_call_value(r, callee, &a, &res, r->e);
		args_free(&a);
		jinja_unref(callee);
		if (rc) return locate(r, n);
		return output_value(r, n, res, out);
	}
	case JN_FILTER_BLOCK: {
		struct buf b;
		buf_init(&b);
		struct jframe *bf = frame_new(n->scope, f);
		frame_enter(r, bf);
		int rc = exec_list(r, bf, &n->kids, &b);
		struct jinja_value *res = NULL;
		if (!rc) {
			struct jinja_value *body = jv_str_buf(&b);
			res = eval_filter_chain(r, bf, n->b, body);
			jinja_unref(body);
			if (!res) rc = -1;
		} else {
			buf_free(&b);
		}
		frame_clear(bf);
		jframe_unref(bf);
		if (rc) return -1;
		return output_value(r, n, res, out);
	}
	case JN_WITH: {
		int nv = n->kids2.n;
		struct jinja_value **vals = xcalloc((size_t)(nv ? nv : 1), sizeof *vals);
		int rc = 0;
		for (int i = 0; i < nv && !rc; i++)
			if (!(vals[i] = eval(r, f, n->kids2.v[i]))) rc = -1;
		struct jframe *wf = NULL;
		if (!rc) {
			wf = frame_new(n->scope, f);
			frame_enter(r, wf);
			for (int i = 0; i < nv && !rc; i++) rc = assign_target(r, wf, n->kids.v[i], vals[i]);
			if (!rc) rc = exec_list(r, wf, &n->kids3, out);
			frame_clear(wf);
			jframe_unref(wf);
		}
		for (int i = 0; i < nv; i++)
			if (vals[i]) jinja_unref(vals[i]);
		free(vals);
		return rc;
	}
	case JN_SCOPE_BODY: return render_scoped(r, f, n, &n->kids, out);
	case JN_BREAK: r->ctl = CTL_BREAK; return 0;
	case JN_CONTINUE: r->ctl = CTL_CONTINUE; return 0;
	default: return rfail_node(r, n, "internal error: cannot execute node kind %d", n->kind);
	}
}

static int exec_list(struct jrender *r, struct jframe *f, const struct jnode_list *l, struct buf *out)
{
	for (int i = 0; i < l->n; i++) {
		if (exec_stmt(r, f, l->v[i], out)) return -1;
		if (r->ctl) return 0;
	}
	return 0;
}

/* ------------------------------------------------------------------ template API */

struct jinja_template *jinja_template_create(const char *source, size_t len, const char *name, struct err *e)
{
	const char *nm = name ? name : "template";
	if (!ju_valid(source, len)) {
		err_set(e, "%s: not valid UTF-8", nm);
		return NULL;
	}
	struct jinja_template *t = xcalloc(1, sizeof *t);
	t->name = xstrdup(nm);
	size_t n;
	t->source = jinja_lex_normalize(source, len, &n);
	struct jtokens toks = {0};
	int rc = jinja_lex(t->source, n, t->name, &toks, e);
	if (!rc) rc = jinja_parse(t, &toks, e);
	jinja_tokens_free(&toks);
	if (!rc) rc = jinja_analyze(t, e);
	if (rc) {
		jinja_template_destroy(t);
		return NULL;
	}
	return t;
}

void jinja_template_destroy(struct jinja_template *t)
{
	if (!t) return;
	jinja_tree_free(t);
	free(t->name);
	free(t->source);
	free(t);
}

const char *jinja_template_source(const struct jinja_template *t) { return t->source; }

int jinja_template_render(const struct jinja_template *t, const struct jinja_value *vars, struct buf *out,
                          struct err *e)
{
	struct err tmp;
	struct jrender r = {.t = t, .vars = vars, .e = e ? e : &tmp};
	if (vars && vars->type != JINJA_TYPE_DICT) return err_set(e, "render variables must be a dict");
	struct jframe *root = frame_new(t->root, NULL);
	frame_enter(&r, root);
	int rc = exec_list(&r, root, &t->body, out);
	frame_clear(root);
	jframe_unref(root);
	return rc;
}
