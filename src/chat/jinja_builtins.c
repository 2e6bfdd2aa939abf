/* jinja_builtins.c — what jinja2 and Python provide around the syntax: the builtin filters and
 * tests (as jinja2 3.1 defines them, with transformers' tojson), the globals of
 * apply_chat_template (range, dict, namespace, joiner, cycler, raise_exception, strftime_now),
 * the str / dict / list methods a template can call, `loop` attributes and printf-style `%`.
 * jinja2 filters not implemented here are refused at template creation; names jinja2 does not
 * know either fail where jinja2 fails (jinja_parser.c); Python methods not implemented here are
 * refused when called (never answered with a wrong value).
 * Thread rules: pure functions of their arguments (strftime_now reads the clock). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/jinja_internal.h"

/* ------------------------------------------------------------------ name tables */

enum jfilter {
	F_ABS, F_ATTR, F_BATCH, F_CAPITALIZE, F_CENTER, F_COUNT, F_D, F_DEFAULT, F_DICTSORT, F_E, F_ESCAPE, F_FIRST,
	F_FLOAT, F_FORCEESCAPE, F_FORMAT, F_INDENT, F_INT, F_ITEMS, F_JOIN, F_LAST, F_LENGTH, F_LIST, F_LOWER, F_MAP,
	F_MAX, F_MIN, F_REJECT, F_REJECTATTR, F_REPLACE, F_REVERSE, F_ROUND, F_SAFE, F_SELECT, F_SELECTATTR, F_SLICE,
	F_SORT, F_STRING, F_SUM, F_TITLE, F_TOJSON, F_TRIM, F_TRUNCATE, F_UNIQUE, F_UPPER, F_WORDCOUNT, F_COUNT_,
};
static const char *const filter_names[F_COUNT_] = {
	"abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
	"float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
	"max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "slice",
	"sort", "string", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
};

enum jtest {
	T_NE_SYM, T_LT_SYM, T_LE_SYM, T_EQ_SYM, T_GT_SYM, T_GE_SYM, T_BOOLEAN, T_CALLABLE, T_DEFINED, T_DIVISIBLEBY,
	T_EQ, T_EQUALTO, T_ESCAPED, T_EVEN, T_FALSE, T_FILTER, T_FLOAT, T_GE, T_GREATERTHAN, T_GT, T_IN, T_INTEGER,
	T_ITERABLE, T_LE, T_LESSTHAN, T_LOWER, T_LT, T_MAPPING, T_NE, T_NONE, T_NUMBER, T_ODD, T_SAMEAS, T_SEQUENCE,
	T_STRING, T_TEST, T_TRUE, T_UNDEFINED, T_UPPER, T_COUNT_,
};
static const char *const test_names[T_COUNT_] = {
	"!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped",
	"even", "false", "filter", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan",
	"lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string", "test", "true",
	"undefined", "upper",
};

int jinja_filter_id(const char *name)
{
	for (int i = 0; i < F_COUNT_; i++)
		if (!strcmp(filter_names[i], name)) return i;
	return -1;
}

static const char *const filters_not_implemented[] = {"filesizeformat", "groupby", "pprint", "random", "striptags",
                                                       "urlencode", "urlize", "wordwrap", "xmlattr", NULL};

bool jinja_builtin_name_known(const char *name, bool filter)
{
	if (filter) {
		if (jinja_filter_id(name) >= 0) return true;
		for (int i = 0; filters_not_implemented[i]; i++)
			if (!strcmp(filters_not_implemented[i], name)) return true;
		return false;
	}
	return jinja_test_id(name) >= 0;
}

int jinja_test_id(const char *name)
{
	for (int i = 0; i < T_COUNT_; i++)
		if (!strcmp(test_names[i], name)) return i;
	return -1;
}

/* ------------------------------------------------------------------ helpers */

static struct jinja_value *kwget(const struct jcall_args *a, const char *name)
{
	return a->kw ? jinja_dict_get(a->kw, name) : NULL;
}

/* Binds positional + keyword arguments to a Python-style parameter list. out[i] borrowed or NULL. */
static int bind(const char *fname, const char *const *params, int np, const struct jcall_args *a,
                struct jinja_value **out, struct err *e)
{
	for (int i = 0; i < np; i++) out[i] = NULL;
	if (a->n_pos > np)
		return err_set(e, "TypeError: %s() takes at most %d argument(s) (%d given)", fname, np, a->n_pos);
	for (int i = 0; i < a->n_pos; i++) out[i] = a->pos[i];
	if (a->kw)
		for (size_t k = 0; k < a->kw->u.d.len; k++) {
			const struct jinja_value *key = a->kw->u.d.e[k].k;
			int i;
			for (i = 0; i < np; i++)
				if (!strcmp(params[i], key->u.s.p)) break;
			if (i == np) return err_set(e, "TypeError: %s() got an unexpected keyword argument '%s'", fname, key->u.s.p);
			if (out[i]) return err_set(e, "TypeError: %s() got multiple values for argument '%s'", fname, key->u.s.p);
			out[i] = a->kw->u.d.e[k].v;
		}
	return 0;
}

static bool is_int(const struct jinja_value *v) { return v && (v->type == JINJA_TYPE_INT || v->type == JINJA_TYPE_BOOL); }
static bool is_none(const struct jinja_value *v) { return !v || v->type == JINJA_TYPE_NONE; }

static int want_int(const struct jinja_value *v, const char *what, int64_t *out, struct err *e)
{
	if (is_int(v)) {
		*out = jinja_int_value(v);
		return 0;
	}
	if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
	return err_set(e, "TypeError: %s must be an integer, not '%s'", what, jv_type_name(v));
}

static int want_str(const struct jinja_value *v, const char *what, struct err *e)
{
	if (v->type == JINJA_TYPE_STRING) return 0;
	if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
	return err_set(e, "TypeError: %s must be str, not %s", what, jv_type_name(v));
}

/* soft_str: str() of a value into a new buffer */
static int text_of(const struct jinja_value *v, struct buf *b, struct err *e)
{
	buf_init(b);
	if (jv_to_str(v, b, e)) {
		buf_free(b);
		return -1;
	}
	if (!b->data) buf_puts(b, "");
	return 0;
}

static struct jinja_value *gen_from(struct jinja_value *l)
{
	l->seq = JV_SEQ_GENERATOR;
	return l;
}

static struct jinja_value *str_new(struct buf *b, bool markup)
{
	struct jinja_value *v = jv_str_buf(b);
	if (markup) v->flags |= JV_FLAG_MARKUP;
	return v;
}

static bool is_markup(const struct jinja_value *v) { return v->type == JINJA_TYPE_STRING && (v->flags & JV_FLAG_MARKUP); }

/* ---- case mapping (full Unicode mappings from jinja_unicode.c) */

static int case_upper(const char *s, size_t n, struct buf *o)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int k = ju_next(s + i, n - i, &cp);
		if (cp < 0x80) buf_putc(o, (char)(cp >= 'a' && cp <= 'z' ? cp - 32 : cp));
		else ju_case(cp, jinja_upper_map, jinja_upper_map_n, o);
		i += (size_t)k;
	}
	return 0;
}

static int case_lower(const char *s, size_t n, struct buf *o, struct err *e)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int k = ju_next(s + i, n - i, &cp);
		if (cp < 0x80) buf_putc(o, (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
		else if (cp == 0x3a3) return err_set(e, "unsupported: lowercasing GREEK CAPITAL SIGMA (context-dependent in Python)");
		else ju_case(cp, jinja_lower_map, jinja_lower_map_n, o);
		i += (size_t)k;
	}
	return 0;
}

static int case_title_cp(uint32_t cp, struct buf *o)
{
	if (cp < 0x80) buf_putc(o, (char)(cp >= 'a' && cp <= 'z' ? cp - 32 : cp));
	else ju_case(cp, jinja_title_map, jinja_title_map_n, o);
	return 0;
}

/* Python str.capitalize */
static int py_capitalize(const char *s, size_t n, struct buf *o, struct err *e)
{
	if (!n) return 0;
	uint32_t cp;
	int k = ju_next(s, n, &cp);
	case_title_cp(cp, o);
	return case_lower(s + k, n - (size_t)k, o, e);
}

static bool all_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((uint8_t)s[i] >= 0x80) return false;
	return true;
}

/* Python str.title (ASCII only: the cased property of other scripts is not tabulated) */
static int py_title(const char *s, size_t n, struct buf *o, struct err *e)
{
	if (!all_ascii(s, n)) return err_set(e, "unsupported: str.title() on non-ASCII text");
	bool prev_cased = false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
		if (up || lo) {
			buf_putc(o, prev_cased ? (char)tolower(c) : (char)toupper(c));
			prev_cased = true;
		} else {
			buf_putc(o, c);
			prev_cased = false;
		}
	}
	return 0;
}

/* ---- whitespace / strip / split */

static size_t cp_prev(const char *s, size_t end)
{
	size_t st = end - 1;
	while (st > 0 && ((uint8_t)s[st] & 0xc0) == 0x80) st--;
	return st;
}

static bool in_chars(uint32_t cp, const struct jinja_value *chars)
{
	if (!chars) return ju_isspace(cp);
	const char *s = chars->u.s.p;
	size_t n = chars->u.s.len;
	for (size_t i = 0; i < n;) {
		uint32_t c;
		i += (size_t)ju_next(s + i, n - i, &c);
		if (c == cp) return true;
	}
	return false;
}

/* how: 1 = left, 2 = right, 3 = both; chars NULL = whitespace */
static void py_strip(const char *s, size_t n, const struct jinja_value *chars, int how, size_t *b, size_t *len)
{
	size_t st = 0, end = n;
	if (how & 1)
		while (st < end) {
			uint32_t cp;
			int k = ju_next(s + st, end - st, &cp);
			if (!in_chars(cp, chars)) break;
			st += (size_t)k;
		}
	if (how & 2)
		while (end > st) {
			size_t p = cp_prev(s, end);
			uint32_t cp;
			ju_next(s + p, end - p, &cp);
			if (!in_chars(cp, chars)) break;
			end = p;
		}
	*b = st;
	*len = end - st;
}

static int strip_value(struct jinja_value *v, struct jinja_value *chars, int how, struct jinja_value **out, struct err *e)
{
	if (chars && chars->type == JINJA_TYPE_NONE) chars = NULL;
	if (chars && want_str(chars, "strip arg", e)) return -1;
	size_t b, len;
	py_strip(v->u.s.p, v->u.s.len, chars, how, &b, &len);
	*out = jv_str(v->u.s.p + b, len);
	return 0;
}

static struct jinja_value *split_ws(const char *s, size_t n, int64_t maxsplit, bool right)
{
	struct jinja_value *l = jv_list_new(JV_SEQ_LIST, 0);
	if (!right) {
		size_t i = 0;
		int64_t done = 0;
		for (;;) {
			while (i < n) {
				uint32_t cp;
				int k = ju_next(s + i, n - i, &cp);
				if (!ju_isspace(cp)) break;
				i += (size_t)k;
			}
			if (i >= n) break;
			if (maxsplit >= 0 && done >= maxsplit) {
				jv_list_push(l, jv_str(s + i, n - i));
				break;
			}
			size_t st = i;
			while (i < n) {
				uint32_t cp;
				int k = ju_next(s + i, n - i, &cp);
				if (ju_isspace(cp)) break;
				i += (size_t)k;
			}
			jv_list_push(l, jv_str(s + st, i - st));
			done++;
		}
		return l;
	}
	/* rsplit: collect from the right, then reverse */
	size_t end = n;
	int64_t done = 0;
	for (;;) {
		while (end > 0) {
			size_t p = cp_prev(s, end);
			uint32_t cp;
			ju_next(s + p, end - p, &cp);
			if (!ju_isspace(cp)) break;
			end = p;
		}
		if (!end) break;
		if (maxsplit >= 0 && done >= maxsplit) {
			jv_list_push(l, jv_str(s, end));
			break;
		}
		size_t st = end;
		while (st > 0) {
			size_t p = cp_prev(s, st);
			uint32_t cp;
			ju_next(s + p, st - p, &cp);
			if (ju_isspace(cp)) break;
			st = p;
		}
		jv_list_push(l, jv_str(s + st, end - st));
		end = st;
		done++;
	}
	for (size_t i = 0; i < l->u.l.len / 2; i++) {
		struct jinja_value *t = l->u.l.v[i];
		l->u.l.v[i] = l->u.l.v[l->u.l.len - 1 - i];
		l->u.l.v[l->u.l.len - 1 - i] = t;
	}
	return l;
}

static struct jinja_value *split_sep(const char *s, size_t n, const char *sep, size_t sl, int64_t maxsplit, bool right)
{
	struct jinja_value *l = jv_list_new(JV_SEQ_LIST, 0);
	if (!right) {
		size_t i = 0;
		int64_t done = 0;
		for (;;) {
			const char *hit = (maxsplit < 0 || done < maxsplit) ? memmem(s + i, n - i, sep, sl) : NULL;
			if (!hit) {
				jv_list_push(l, jv_str(s + i, n - i));
				break;
			}
			jv_list_push(l, jv_str(s + i, (size_t)(hit - (s + i))));
			i = (size_t)(hit - s) + sl;
			done++;
		}
		return l;
	}
	size_t end = n;
	int64_t done = 0;
	for (;;) {
		const char *hit = NULL;
		if ((maxsplit < 0 || done < maxsplit) && end >= sl)
			for (size_t p = end - sl + 1; p-- > 0;)
				if (!memcmp(s + p, sep, sl)) {
					hit = s + p;
					break;
				}
		if (!hit) {
			jv_list_push(l, jv_str(s, end));
			break;
		}
		jv_list_push(l, jv_str(hit + sl, end - (size_t)(hit - s) - sl));
		end = (size_t)(hit - s);
		done++;
	}
	for (size_t i = 0; i < l->u.l.len / 2; i++) {
		struct jinja_value *t = l->u.l.v[i];
		l->u.l.v[i] = l->u.l.v[l->u.l.len - 1 - i];
		l->u.l.v[l->u.l.len - 1 - i] = t;
	}
	return l;
}

static bool is_linebreak(uint32_t cp)
{
	return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || cp == 0x1c || cp == 0x1d || cp == 0x1e ||
	       cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* Python str.splitlines(keepends) */
static struct jinja_value *splitlines(const char *s, size_t n, bool keepends)
{
	struct jinja_value *l = jv_list_new(JV_SEQ_LIST, 0);
	size_t i = 0, st = 0;
	while (i < n) {
		uint32_t cp;
		int k = ju_next(s + i, n - i, &cp);
		if (is_linebreak(cp)) {
			size_t eol = i + (size_t)k;
			if (cp == '\r' && eol < n && s[eol] == '\n') eol++;
			jv_list_push(l, jv_str(s + st, (keepends ? eol : i) - st));
			i = st = eol;
		} else {
			i += (size_t)k;
		}
	}
	if (st < n) jv_list_push(l, jv_str(s + st, n - st));
	return l;
}

/* Python str.replace(old, new, count) */
static struct jinja_value *py_replace(const char *s, size_t n, const char *old, size_t ol, const char *nw, size_t nl,
                                      int64_t count)
{
	struct buf o;
	buf_init(&o);
	if (!ol) {
		/* inserts `new` before every code point and at the end */
		int64_t done = 0;
		size_t i = 0;
		for (;;) {
			if (count >= 0 && done >= count) {
				buf_append(&o, s + i, n - i);
				break;
			}
			buf_append(&o, nw, nl);
			done++;
			if (i >= n) break;
			uint32_t cp;
			int k = ju_next(s + i, n - i, &cp);
			buf_append(&o, s + i, (size_t)k);
			i += (size_t)k;
		}
		return jv_str_buf(&o);
	}
	size_t i = 0;
	int64_t done = 0;
	while (i <= n) {
		const char *hit = (count < 0 || done < count) ? memmem(s + i, n - i, old, ol) : NULL;
		if (!hit) {
			buf_append(&o, s + i, n - i);
			break;
		}
		buf_append(&o, s + i, (size_t)(hit - (s + i)));
		buf_append(&o, nw, nl);
		i = (size_t)(hit - s) + ol;
		done++;
	}
	return jv_str_buf(&o);
}

/* Python str.center / ljust / rjust */
static struct jinja_value *py_pad(struct jinja_value *v, int64_t width, const char *fill, size_t fl, int how)
{
	int64_t len = (int64_t)jv_str_ncp(v);
	if (width <= len) return jv_str(v->u.s.p, v->u.s.len);
	int64_t marg = width - len, left;
	if (how == 0) left = marg / 2 + (marg & width & 1);
	else if (how == 1) left = 0;
	else left = marg;
	struct buf o;
	buf_init(&o);
	for (int64_t i = 0; i < left; i++) buf_append(&o, fill, fl);
	buf_append(&o, v->u.s.p, v->u.s.len);
	for (int64_t i = 0; i < marg - left; i++) buf_append(&o, fill, fl);
	return jv_str_buf(&o);
}

/* code point index range [start,end) of Python's optional start/end arguments -> byte range */
static int sub_range(struct jinja_value *s, struct jinja_value *start, struct jinja_value *end, size_t *b0, size_t *b1,
                     int64_t *cp0, struct err *e)
{
	int64_t len = (int64_t)jv_str_ncp(s), a = 0, z = len;
	if (!is_none(start)) {
		if (want_int(start, "slice index", &a, e)) return -1;
		if (a < 0) a = a + len < 0 ? 0 : a + len;
	}
	if (!is_none(end)) {
		if (want_int(end, "slice index", &z, e)) return -1;
		if (z < 0) z = z + len < 0 ? 0 : z + len;
	}
	if (a > len) a = len + 1; /* marks an empty, out-of-range window */
	if (z > len) z = len;
	*cp0 = a;
	if (a > z) {
		*b0 = *b1 = SIZE_MAX;
		return 0;
	}
	*b0 = ju_offset(s->u.s.p, s->u.s.len, (size_t)a);
	*b1 = ju_offset(s->u.s.p, s->u.s.len, (size_t)z);
	return 0;
}

/* ---- markup escape */

static void html_escape(const char *s, size_t n, struct buf *o)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': buf_puts(o, "&amp;"); break;
		case '<': buf_puts(o, "&lt;"); break;
		case '>': buf_puts(o, "&gt;"); break;
		case '"': buf_puts(o, "&#34;"); break;
		case '\'': buf_puts(o, "&#39;"); break;
		default: buf_putc(o, s[i]);
		}
	}
}

/* ---- Python int() / float() parsing of strings */

static bool parse_py_int(const char *s, size_t n, int base, int64_t *out)
{
	size_t b, len;
	py_strip(s, n, NULL, 3, &b, &len);
	const char *p = s + b, *end = p + len;
	if (p == end) return false;
	bool neg = false;
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		p++;
	}
	if (base == 0) {
		if (end - p >= 2 && p[0] == '0' && strchr("xXoObB", p[1])) {
			base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
			p += 2;
			if (p < end && *p == '_') p++;
		} else {
			base = 10;
			/* base 0 forbids leading zeros on non-zero decimals */
			if (end - p > 1 && p[0] == '0') {
				for (const char *q = p; q < end; q++)
					if (*q != '0' && *q != '_') return false;
			}
		}
	} else if (end - p >= 2 && p[0] == '0' &&
	           ((base == 16 && (p[1] == 'x' || p[1] == 'X')) || (base == 8 && (p[1] == 'o' || p[1] == 'O')) ||
	            (base == 2 && (p[1] == 'b' || p[1] == 'B')))) {
		p += 2;
		if (p < end && *p == '_') p++;
	}
	if (p == end) return false;
	uint64_t v = 0;
	bool prev_us = true;
	for (; p < end; p++) {
		if (*p == '_') {
			if (prev_us) return false;
			prev_us = true;
			continue;
		}
		int d;
		if (*p >= '0' && *p <= '9') d = *p - '0';
		else if (*p >= 'a' && *p <= 'z') d = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'Z') d = *p - 'A' + 10;
		else return false;
		if (d >= base) return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return false;
		v = v * (uint64_t)base + (uint64_t)d;
		prev_us = false;
	}
	if (prev_us) return false;
	if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool parse_py_float(const char *s, size_t n, double *out)
{
	size_t b, len;
	py_strip(s, n, NULL, 3, &b, &len);
	if (!len || len > 200) return false;
	char tmp[256];
	size_t k = 0;
	const char *p = s + b;
	/* underscores only between digits */
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '_') {
			if (!i || i + 1 >= len || !isdigit((unsigned char)p[i - 1]) || !isdigit((unsigned char)p[i + 1])) return false;
			continue;
		}
		if ((uint8_t)p[i] >= 0x80) return false;
		tmp[k++] = p[i];
	}
	tmp[k] = 0;
	const char *q = tmp;
	if (*q == '+' || *q == '-') q++;
	/* strtod also accepts hex floats and "infinity"/"nan(...)": restrict to Python's grammar */
	if (!strcasecmp(q, "inf") || !strcasecmp(q, "infinity") || !strcasecmp(q, "nan")) {
		double v = (q[0] == 'n' || q[0] == 'N') ? NAN : INFINITY;
		*out = tmp[0] == '-' ? -v : v;
		return true;
	}
	bool digit = false;
	for (const char *c = q; *c; c++) {
		if (isdigit((unsigned char)*c)) digit = true;
		else if (*c != '.' && *c != 'e' && *c != 'E' && *c != '+' && *c != '-') return false;
	}
	if (!digit) return false;
	char *end;
	errno = 0;
	double v = strtod(tmp, &end);
	if (*end) return false;
	*out = v;
	return true;
}

/* ------------------------------------------------------------------ sorting */

struct sort_item {
	struct jinja_value *key;
	struct jinja_value *val;
};

static int sort_items(struct sort_item *it, size_t n, bool reverse, struct err *e)
{
	/* stable merge sort with Python's `<` (reverse keeps stability like sorted(reverse=True)) */
	if (n < 2) return 0;
	struct sort_item *tmp = xmalloc(n * sizeof *tmp);
	int rc = 0;
	for (size_t width = 1; width < n && !rc; width *= 2) {
		for (size_t lo = 0; lo < n && !rc; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi) {
				int c;
				/* take from the right only if right < left (strict), so equal keys keep order */
				if (reverse) rc = jv_cmp(it[i].key, it[j].key, "<", &c, e);
				else rc = jv_cmp(it[j].key, it[i].key, "<", &c, e);
				if (rc) break;
				if (c < 0 && c != 2) tmp[k++] = it[j++];
				else tmp[k++] = it[i++];
			}
			while (i < mid) tmp[k++] = it[i++];
			while (j < hi) tmp[k++] = it[j++];
		}
		if (!rc) memcpy(it, tmp, n * sizeof *it);
	}
	free(tmp);
	if (rc && strncmp(e->msg, "UndefinedError", 14)) err_prefix(e, "TypeError");
	return rc;
}

static struct jinja_value *ignore_case(struct jinja_value *v, struct err *e)
{
	if (v->type != JINJA_TYPE_STRING) return jinja_ref(v);
	struct buf b;
	buf_init(&b);
	if (case_lower(v->u.s.p, v->u.s.len, &b, e)) {
		buf_free(&b);
		return NULL;
	}
	return jv_str_buf(&b);
}

/* jinja2 make_attrgetter: dotted path with integer parts, via sandboxed getitem */
static int attr_path(struct jrender *r, struct jinja_value *item, const struct jinja_value *attribute,
                     const struct jinja_value *dflt, struct jinja_value **out, struct err *e)
{
	struct jinja_value *cur = jinja_ref(item);
	if (is_none(attribute)) {
		*out = cur;
		return 0;
	}
	if (attribute->type != JINJA_TYPE_STRING) {
		struct jinja_value *nx;
		int rc = jinja_getitem(r, cur, (struct jinja_value *)attribute, &nx, e);
		jinja_unref(cur);
		if (rc) return -1;
		if (dflt && !is_none(dflt) && nx->type == JINJA_TYPE_UNDEFINED) {
			jinja_unref(nx);
			nx = jinja_ref((struct jinja_value *)dflt);
		}
		*out = nx;
		return 0;
	}
	const char *s = attribute->u.s.p;
	size_t n = attribute->u.s.len, st = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') continue;
		struct jinja_value *key;
		bool digits = i > st;
		for (size_t k = st; k < i; k++)
			if (!isdigit((unsigned char)s[k])) digits = false;
		if (digits) {
			int64_t v = 0;
			for (size_t k = st; k < i; k++) v = v * 10 + (s[k] - '0');
			key = jinja_int(v);
		} else {
			key = jv_str(s + st, i - st);
		}
		struct jinja_value *nx;
		int rc = jinja_getitem(r, cur, key, &nx, e);
		jinja_unref(key);
		jinja_unref(cur);
		if (rc) return -1;
		cur = nx;
		if (dflt && !is_none(dflt) && cur->type == JINJA_TYPE_UNDEFINED) {
			jinja_unref(cur);
			cur = jinja_ref((struct jinja_value *)dflt);
		}
		st = i + 1;
	}
	*out = cur;
	return 0;
}

/* ------------------------------------------------------------------ tests */

static int test_apply(struct jrender *r, int id, struct jinja_value *v, const struct jcall_args *a, bool *out,
                      struct err *e);

int jinja_test_call(struct jrender *r, int id, struct jinja_value *in, const struct jcall_args *a, bool *out,
                    struct err *e)
{
	if (id < 0) return err_set(e, "TemplateRuntimeError: No test named that name found.");
	return test_apply(r, id, in, a, out, e);
}

static int test_apply(struct jrender *r, int id, struct jinja_value *v, const struct jcall_args *a, bool *out,
                      struct err *e)
{
	struct jinja_value *p[1];
	static const char *const one[] = {"other"};
	static const char *const none_[] = {NULL};
	switch (id) {
	case T_DEFINED:
	case T_UNDEFINED:
	case T_NONE:
	case T_BOOLEAN:
	case T_TRUE:
	case T_FALSE:
	case T_STRING:
	case T_MAPPING:
	case T_NUMBER:
	case T_INTEGER:
	case T_FLOAT:
	case T_ITERABLE:
	case T_SEQUENCE:
	case T_CALLABLE:
	case T_ESCAPED:
	case T_LOWER:
	case T_UPPER:
	case T_EVEN:
	case T_ODD:
	case T_FILTER:
	case T_TEST:
		if (bind(test_names[id], none_, 0, a, p, e)) return -1;
		break;
	default:
		if (bind(test_names[id], one, 1, a, p, e)) return -1;
		if (!p[0])
			return err_set(e, "TypeError: test '%s' missing 1 required positional argument", test_names[id]);
		break;
	}
	switch (id) {
	case T_DEFINED: *out = v->type != JINJA_TYPE_UNDEFINED; return 0;
	case T_UNDEFINED: *out = v->type == JINJA_TYPE_UNDEFINED; return 0;
	case T_NONE: *out = v->type == JINJA_TYPE_NONE; return 0;
	case T_BOOLEAN: *out = v->type == JINJA_TYPE_BOOL; return 0;
	case T_TRUE: *out = v->type == JINJA_TYPE_BOOL && v->u.b; return 0;
	case T_FALSE: *out = v->type == JINJA_TYPE_BOOL && !v->u.b; return 0;
	case T_STRING: *out = v->type == JINJA_TYPE_STRING; return 0;
	case T_MAPPING: *out = v->type == JINJA_TYPE_DICT; return 0;
	case T_NUMBER: *out = jv_is_number(v); return 0;
	case T_INTEGER: *out = v->type == JINJA_TYPE_INT; return 0;
	case T_FLOAT: *out = v->type == JINJA_TYPE_FLOAT; return 0;
	case T_ITERABLE:
		*out = v->type == JINJA_TYPE_STRING || v->type == JINJA_TYPE_LIST || v->type == JINJA_TYPE_DICT ||
		       v->type == JINJA_TYPE_UNDEFINED || v->type == JINJA_TYPE_LOOP;
		return 0;
	case T_SEQUENCE:
		*out = v->type == JINJA_TYPE_STRING || v->type == JINJA_TYPE_DICT || v->type == JINJA_TYPE_UNDEFINED ||
		       (v->type == JINJA_TYPE_LIST && (v->seq == JV_SEQ_LIST || v->seq == JV_SEQ_TUPLE || v->seq == JV_SEQ_RANGE));
		return 0;
	case T_CALLABLE:
		*out = v->type == JINJA_TYPE_CALLABLE || v->type == JINJA_TYPE_UNDEFINED || v->type == JINJA_TYPE_LOOP ||
		       (v->type == JINJA_TYPE_OBJECT && v->u.o->kind == JOBJECT_JOINER);
		return 0;
	case T_ESCAPED: *out = is_markup(v); return 0;
	case T_LOWER:
	case T_UPPER: {
		struct buf b;
		if (text_of(v, &b, e)) return -1;
		if (!all_ascii(b.data, b.len)) {
			buf_free(&b);
			return err_set(e, "unsupported: is %s on non-ASCII text", test_names[id]);
		}
		bool cased = false, ok = true;
		for (size_t i = 0; i < b.len; i++) {
			char c = b.data[i];
			if (isalpha((unsigned char)c)) {
				cased = true;
				if (id == T_LOWER ? isupper((unsigned char)c) : islower((unsigned char)c)) ok = false;
			}
		}
		buf_free(&b);
		*out = cased && ok;
		return 0;
	}
	case T_EVEN:
	case T_ODD:
	case T_DIVISIBLEBY: {
		struct jinja_value *two = id == T_DIVISIBLEBY ? p[0] : jinja_int(2), *m = NULL;
		if (v->type == JINJA_TYPE_STRING) {
			if (id != T_DIVISIBLEBY) jinja_unref(two);
			return err_set(e, "TypeError: not all arguments converted during string formatting");
		}
		int rc = jinja_binop(JTOK_MOD, v, two, &m, e);
		if (id != T_DIVISIBLEBY) jinja_unref(two);
		if (rc) return -1;
		struct jinja_value *target = jinja_int(id == T_ODD ? 1 : 0);
		*out = jv_eq(m, target);
		jinja_unref(target);
		jinja_unref(m);
		return 0;
	}
	case T_EQ:
	case T_EQUALTO:
	case T_EQ_SYM: *out = jv_eq(v, p[0]); return 0;
	case T_NE:
	case T_NE_SYM: *out = !jv_eq(v, p[0]); return 0;
	case T_LT:
	case T_LESSTHAN:
	case T_LT_SYM:
	case T_LE:
	case T_LE_SYM:
	case T_GT:
	case T_GREATERTHAN:
	case T_GT_SYM:
	case T_GE:
	case T_GE_SYM: {
		int c;
		bool lt = id == T_LT || id == T_LESSTHAN || id == T_LT_SYM, le = id == T_LE || id == T_LE_SYM;
		bool gt = id == T_GT || id == T_GREATERTHAN || id == T_GT_SYM;
		const char *sym = lt ? "<" : le ? "<=" : gt ? ">" : ">=";
		if (jv_cmp(v, p[0], sym, &c, e)) return -1;
		*out = c != 2 && (lt ? c < 0 : le ? c <= 0 : gt ? c > 0 : c >= 0);
		return 0;
	}
	case T_IN: {
		/* value in seq */
		struct jinja_value *seq = p[0];
		if (seq->type == JINJA_TYPE_STRING) {
			if (v->type != JINJA_TYPE_STRING)
				return err_set(e, "TypeError: 'in <string>' requires string as left operand, not %s", jv_type_name(v));
			*out = !v->u.s.len || memmem(seq->u.s.p, seq->u.s.len, v->u.s.p, v->u.s.len);
			return 0;
		}
		if (seq->type == JINJA_TYPE_DICT) {
			*out = jv_dict_get(seq, v) != NULL;
			return 0;
		}
		if (seq->type == JINJA_TYPE_LIST) {
			*out = false;
			for (size_t i = 0; i < seq->u.l.len; i++)
				if (jv_eq(seq->u.l.v[i], v)) *out = true;
			return 0;
		}
		if (seq->type == JINJA_TYPE_UNDEFINED) {
			*out = false;
			return 0;
		}
		return err_set(e, "TypeError: argument of type '%s' is not iterable", jv_type_name(seq));
	}
	case T_SAMEAS:
		if (v->type != p[0]->type) *out = false;
		else if (v->type == JINJA_TYPE_NONE || v->type == JINJA_TYPE_UNDEFINED) *out = v->type == JINJA_TYPE_NONE || v == p[0];
		else if (v->type == JINJA_TYPE_BOOL) *out = v->u.b == p[0]->u.b;
		else if (v->type == JINJA_TYPE_INT && v->u.i >= -5 && v->u.i <= 256) *out = v->u.i == p[0]->u.i; /* CPython small ints */
		else *out = v == p[0];
		return 0;
	case T_FILTER:
	case T_TEST:
		if (v->type != JINJA_TYPE_STRING) {
			*out = false;
			return 0;
		}
		*out = jinja_builtin_name_known(v->u.s.p, id == T_FILTER);
		return 0;
	}
	return err_set(e, "internal error: unknown test %d", id);
}

/* call_test by name (select / reject) */
static int test_by_name(struct jrender *r, struct jinja_value *name, struct jinja_value *item, struct jinja_value **pos,
                        int npos, struct jinja_value *kw, bool *out, struct err *e)
{
	if (name->type != JINJA_TYPE_STRING) return err_set(e, "TemplateRuntimeError: No test named %s.", "(non-string)");
	int id = jinja_test_id(name->u.s.p);
	if (id < 0) return err_set(e, "TemplateRuntimeError: No test named '%s'.", name->u.s.p);
	(void)r;
	struct jcall_args a = {.pos = pos, .n_pos = npos, .kw = kw};
	return test_apply(r, id, item, &a, out, e);
}

/* ------------------------------------------------------------------ filters */

static int filter_apply(struct jrender *r, int id, struct jinja_value *v, const struct jcall_args *a,
                        struct jinja_value **out, struct err *e);

static int len_of(struct jinja_value *v, int64_t *out, struct err *e)
{
	switch (v->type) {
	case JINJA_TYPE_STRING: *out = (int64_t)jv_str_ncp(v); return 0;
	case JINJA_TYPE_LIST:
		if (v->seq == JV_SEQ_GENERATOR) return err_set(e, "TypeError: object of type 'generator' has no len()");
		*out = (int64_t)v->u.l.len;
		return 0;
	case JINJA_TYPE_DICT: *out = (int64_t)v->u.d.len; return 0;
	case JINJA_TYPE_UNDEFINED: *out = 0; return 0;
	case JINJA_TYPE_LOOP: return jloop_length(v->u.loop->r, v->u.loop, out, e);
	default: return err_set(e, "TypeError: object of type '%s' has no len()", jv_type_name(v));
	}
}

static int select_reject(struct jrender *r, struct jinja_value *v, const struct jcall_args *a, bool reject,
                         bool lookup_attr, struct jinja_value **out, struct err *e)
{
	struct jinja_value *res = gen_from(jv_list_new(JV_SEQ_LIST, 0));
	if (!jinja_truthy(v)) {
		*out = res;
		return 0;
	}
	int off = 0;
	struct jinja_value *attr = NULL;
	if (lookup_attr) {
		if (a->n_pos < 1) {
			jinja_unref(res);
			return err_set(e, "FilterArgumentError: Missing parameter for attribute name");
		}
		attr = a->pos[0];
		off = 1;
	}
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) {
		jinja_unref(res);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < items->u.l.len && !rc; i++) {
		struct jinja_value *item = items->u.l.v[i], *x;
		if (lookup_attr) {
			if (attr_path(r, item, attr, NULL, &x, e)) {
				rc = -1;
				break;
			}
		} else {
			x = jinja_ref(item);
		}
		bool pass;
		if (a->n_pos > off) {
			rc = test_by_name(r, a->pos[off], x, a->pos + off + 1, a->n_pos - off - 1, a->kw, &pass, e);
		} else {
			pass = jinja_truthy(x);
		}
		jinja_unref(x);
		if (!rc && pass != reject) jv_list_push(res, jinja_ref(item));
	}
	jinja_unref(items);
	if (rc) {
		jinja_unref(res);
		return -1;
	}
	*out = res;
	return 0;
}

static int do_map(struct jrender *r, struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out,
                  struct err *e)
{
	struct jinja_value *res = gen_from(jv_list_new(JV_SEQ_LIST, 0));
	if (!jinja_truthy(v)) {
		*out = res;
		return 0;
	}
	struct jinja_value *attribute = NULL, *dflt = NULL, *fname = NULL;
	if (!a->n_pos && kwget(a, "attribute")) {
		attribute = kwget(a, "attribute");
		dflt = kwget(a, "default");
		for (size_t k = 0; k < a->kw->u.d.len; k++) {
			const char *kn = a->kw->u.d.e[k].k->u.s.p;
			if (strcmp(kn, "attribute") && strcmp(kn, "default")) {
				jinja_unref(res);
				return err_set(e, "FilterArgumentError: Unexpected keyword argument '%s'", kn);
			}
		}
	} else {
		if (!a->n_pos) {
			jinja_unref(res);
			return err_set(e, "FilterArgumentError: map requires a filter argument");
		}
		fname = a->pos[0];
	}
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) {
		jinja_unref(res);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < items->u.l.len && !rc; i++) {
		struct jinja_value *x = NULL;
		if (fname) {
			int id = fname->type == JINJA_TYPE_STRING ? jinja_filter_id(fname->u.s.p) : -1;
			if (id < 0) {
				if (fname->type == JINJA_TYPE_STRING && jinja_builtin_name_known(fname->u.s.p, true))
					rc = err_set(e, "unsupported: the jinja2 filter '%s' is not implemented by this renderer", fname->u.s.p);
				else
					rc = err_set(e, "TemplateRuntimeError: No filter named '%s'.",
					             fname->type == JINJA_TYPE_STRING ? fname->u.s.p : "?");
				break;
			}
			struct jcall_args sub = {.pos = a->pos + 1, .n_pos = a->n_pos - 1, .kw = a->kw};
			rc = filter_apply(r, id, items->u.l.v[i], &sub, &x, e);
		} else {
			rc = attr_path(r, items->u.l.v[i], attribute, dflt, &x, e);
		}
		if (!rc) jv_list_push(res, x);
	}
	jinja_unref(items);
	if (rc) {
		jinja_unref(res);
		return -1;
	}
	*out = res;
	return 0;
}

static int do_tojson(struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"ensure_ascii", "indent", "separators", "sort_keys"};
	struct jinja_value *p[4];
	if (bind("tojson", params, 4, a, p, e)) return -1;
	struct jv_json_opts o = {.item_sep = ", ", .key_sep = ": "};
	o.ensure_ascii = p[0] && jinja_truthy(p[0]);
	o.sort_keys = p[3] && jinja_truthy(p[3]);
	struct buf ib;
	buf_init(&ib);
	if (!is_none(p[1])) {
		if (p[1]->type == JINJA_TYPE_STRING) {
			buf_append(&ib, p[1]->u.s.p, p[1]->u.s.len);
		} else if (is_int(p[1])) {
			for (int64_t i = 0; i < jinja_int_value(p[1]) && i < 1000; i++) buf_putc(&ib, ' ');
		} else {
			buf_free(&ib);
			return err_set(e, "unsupported: tojson indent of type %s", jv_type_name(p[1]));
		}
		o.indent = ib.data ? ib.data : "";
		o.item_sep = ",";
	}
	char *seps[2] = {NULL, NULL};
	if (!is_none(p[2])) {
		struct jinja_value *s = p[2];
		if (s->type != JINJA_TYPE_LIST || s->u.l.len != 2 || s->u.l.v[0]->type != JINJA_TYPE_STRING ||
		    s->u.l.v[1]->type != JINJA_TYPE_STRING) {
			buf_free(&ib);
			return err_set(e, "unsupported: tojson separators must be a pair of strings");
		}
		seps[0] = xstrdup(s->u.l.v[0]->u.s.p);
		seps[1] = xstrdup(s->u.l.v[1]->u.s.p);
		o.item_sep = seps[0];
		o.key_sep = seps[1];
	}
	struct buf b;
	buf_init(&b);
	int rc = jv_tojson(v, &o, &b, e);
	if (rc && strncmp(e->msg, "Object of type", 14) == 0) err_prefix(e, "TypeError");
	buf_free(&ib);
	free(seps[0]);
	free(seps[1]);
	if (rc) {
		buf_free(&b);
		return -1;
	}
	*out = jv_str_buf(&b);
	return 0;
}

static int do_indent(struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"width", "first", "blank"};
	struct jinja_value *p[3];
	if (bind("indent", params, 3, a, p, e)) return -1;
	struct buf ind;
	buf_init(&ind);
	if (p[0] && p[0]->type == JINJA_TYPE_STRING) {
		buf_append(&ind, p[0]->u.s.p, p[0]->u.s.len);
	} else {
		int64_t w = 4;
		if (p[0] && want_int(p[0], "indent width", &w, e)) return -1;
		for (int64_t i = 0; i < w && i < 10000; i++) buf_putc(&ind, ' ');
	}
	if (!ind.data) buf_puts(&ind, "");
	bool first = p[1] && jinja_truthy(p[1]), blank = p[2] && jinja_truthy(p[2]);
	struct buf s;
	if (text_of(v, &s, e)) {
		buf_free(&ind);
		return -1;
	}
	buf_putc(&s, '\n'); /* jinja2's quirk for splitlines */
	struct jinja_value *lines = splitlines(s.data, s.len, false);
	buf_free(&s);
	struct buf o;
	buf_init(&o);
	if (blank) {
		for (size_t i = 0; i < lines->u.l.len; i++) {
			if (i) {
				buf_putc(&o, '\n');
				buf_append(&o, ind.data, ind.len);
			}
			buf_append(&o, lines->u.l.v[i]->u.s.p, lines->u.l.v[i]->u.s.len);
		}
	} else if (lines->u.l.len) {
		buf_append(&o, lines->u.l.v[0]->u.s.p, lines->u.l.v[0]->u.s.len);
		if (lines->u.l.len > 1) {
			buf_putc(&o, '\n');
			for (size_t i = 1; i < lines->u.l.len; i++) {
				if (i > 1) buf_putc(&o, '\n');
				struct jinja_value *ln = lines->u.l.v[i];
				if (ln->u.s.len) buf_append(&o, ind.data, ind.len);
				buf_append(&o, ln->u.s.p, ln->u.s.len);
			}
		}
	}
	jinja_unref(lines);
	struct buf res;
	buf_init(&res);
	if (first) buf_append(&res, ind.data, ind.len);
	if (o.data) buf_append(&res, o.data, o.len);
	buf_free(&o);
	buf_free(&ind);
	*out = str_new(&res, is_markup(v));
	return 0;
}

static int do_round(struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"precision", "method"};
	struct jinja_value *p[2];
	if (bind("round", params, 2, a, p, e)) return -1;
	int64_t prec = 0;
	if (p[0] && want_int(p[0], "precision", &prec, e)) return -1;
	const char *method = "common";
	if (p[1]) {
		if (want_str(p[1], "method", e)) return -1;
		method = p[1]->u.s.p;
	}
	if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
		return err_set(e, "FilterArgumentError: method must be common, ceil or floor");
	if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
	if (!jv_is_number(v)) return err_set(e, "TypeError: type %s doesn't define __round__ method", jv_type_name(v));
	if (prec < 0 || prec > 300) return err_set(e, "unsupported: round with precision %" PRId64, prec);
	if (!strcmp(method, "common")) {
		if (v->type != JINJA_TYPE_FLOAT) {
			*out = jinja_int(jinja_int_value(v)); /* round(int, ndigits>=0) is the int */
			return 0;
		}
		double x = v->u.f;
		if (!isfinite(x)) {
			*out = jinja_float(x);
			return 0;
		}
		/* printf rounds the exact binary value half-to-even, as Python's round() does */
		char tmp[512];
		snprintf(tmp, sizeof tmp, "%.*f", (int)prec, x);
		*out = jinja_float(strtod(tmp, NULL));
		return 0;
	}
	double scale = pow(10.0, (double)prec);
	double x = jinja_float_value(v) * scale;
	*out = jinja_float((!strcmp(method, "ceil") ? ceil(x) : floor(x)) / scale);
	return 0;
}

static int do_sort(struct jrender *r, struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out,
                   struct err *e)
{
	static const char *const params[] = {"reverse", "case_sensitive", "attribute"};
	struct jinja_value *p[3];
	if (bind("sort", params, 3, a, p, e)) return -1;
	bool reverse = p[0] && jinja_truthy(p[0]), cs = p[1] && jinja_truthy(p[1]);
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) return -1;
	size_t n = items->u.l.len;
	struct sort_item *it = xcalloc(n ? n : 1, sizeof *it);
	int rc = 0;
	/* make_multi_attrgetter: "a,b" gives a list key */
	struct jinja_value *parts = NULL;
	if (p[2] && p[2]->type == JINJA_TYPE_STRING) parts = split_sep(p[2]->u.s.p, p[2]->u.s.len, ",", 1, -1, false);
	for (size_t i = 0; i < n && !rc; i++) {
		it[i].val = items->u.l.v[i];
		struct jinja_value *key = jv_list_new(JV_SEQ_LIST, 0);
		size_t np = parts ? parts->u.l.len : 1;
		for (size_t k = 0; k < np && !rc; k++) {
			struct jinja_value *x, *kk;
			rc = attr_path(r, it[i].val, parts ? parts->u.l.v[k] : p[2], NULL, &x, e);
			if (rc) break;
			if (!cs) {
				kk = ignore_case(x, e);
				jinja_unref(x);
				if (!kk) {
					rc = -1;
					break;
				}
				x = kk;
			}
			jv_list_push(key, x);
		}
		it[i].key = key;
	}
	if (!rc) rc = sort_items(it, n, reverse, e);
	if (!rc) {
		struct jinja_value *res = jv_list_new(JV_SEQ_LIST, n);
		for (size_t i = 0; i < n; i++) jv_list_push(res, jinja_ref(it[i].val));
		*out = res;
	}
	for (size_t i = 0; i < n; i++)
		if (it[i].key) jinja_unref(it[i].key);
	free(it);
	if (parts) jinja_unref(parts);
	jinja_unref(items);
	return rc;
}

static int do_dictsort(struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"case_sensitive", "by", "reverse"};
	struct jinja_value *p[3];
	if (bind("dictsort", params, 3, a, p, e)) return -1;
	bool cs = p[0] && jinja_truthy(p[0]), reverse = p[2] && jinja_truthy(p[2]);
	int pos = 0;
	if (p[1]) {
		if (p[1]->type == JINJA_TYPE_STRING && !strcmp(p[1]->u.s.p, "value")) pos = 1;
		else if (!(p[1]->type == JINJA_TYPE_STRING && !strcmp(p[1]->u.s.p, "key")))
			return err_set(e, "FilterArgumentError: You can only sort by either \"key\" or \"value\"");
	}
	if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
	if (v->type != JINJA_TYPE_DICT)
		return err_set(e, "AttributeError: '%s' object has no attribute 'items'", jv_type_name(v));
	size_t n = v->u.d.len;
	struct sort_item *it = xcalloc(n ? n : 1, sizeof *it);
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 2);
		jv_list_push(t, jinja_ref(v->u.d.e[i].k));
		jv_list_push(t, jinja_ref(v->u.d.e[i].v));
		it[i].val = t;
		struct jinja_value *k = t->u.l.v[pos];
		it[i].key = cs ? jinja_ref(k) : ignore_case(k, e);
		if (!it[i].key) rc = -1;
	}
	if (!rc) rc = sort_items(it, n, reverse, e);
	if (!rc) {
		struct jinja_value *res = jv_list_new(JV_SEQ_LIST, n);
		for (size_t i = 0; i < n; i++) jv_list_push(res, jinja_ref(it[i].val));
		*out = res;
	}
	for (size_t i = 0; i < n; i++) {
		if (it[i].key) jinja_unref(it[i].key);
		if (it[i].val) jinja_unref(it[i].val);
	}
	free(it);
	return rc;
}

static int do_unique_minmax(struct jrender *r, int id, struct jinja_value *v, const struct jcall_args *a,
                            struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"case_sensitive", "attribute"};
	struct jinja_value *p[2];
	if (bind(filter_names[id], params, 2, a, p, e)) return -1;
	bool cs = p[0] && jinja_truthy(p[0]);
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) return -1;
	int rc = 0;
	struct jinja_value *res = NULL, *best_key = NULL, *best = NULL;
	struct jinja_value *seen = NULL;
	if (id == F_UNIQUE) {
		res = gen_from(jv_list_new(JV_SEQ_LIST, 0));
		seen = jinja_dict();
	}
	for (size_t i = 0; i < items->u.l.len && !rc; i++) {
		struct jinja_value *x, *k;
		if (attr_path(r, items->u.l.v[i], p[1], NULL, &x, e)) {
			rc = -1;
			break;
		}
		k = cs ? jinja_ref(x) : ignore_case(x, e);
		jinja_unref(x);
		if (!k) {
			rc = -1;
			break;
		}
		if (id == F_UNIQUE) {
			if (!jv_dict_get(seen, k)) {
				if (jv_dict_set(seen, jinja_ref(k), jinja_none(), e)) {
					jinja_unref(k);
					rc = err_prefix(e, "TypeError");
					break;
				}
				jv_list_push(res, jinja_ref(items->u.l.v[i]));
			}
			jinja_unref(k);
		} else {
			int c = 0;
			if (best_key && jv_cmp(k, best_key, id == F_MIN ? "<" : ">", &c, e)) {
				jinja_unref(k);
				rc = -1;
				break;
			}
			/* min keeps the first minimal item, max the first maximal */
			if (!best_key || (c != 2 && (id == F_MIN ? c < 0 : c > 0))) {
				if (best_key) jinja_unref(best_key);
				best_key = k;
				best = items->u.l.v[i];
			} else {
				jinja_unref(k);
			}
		}
	}
	if (!rc) {
		if (id == F_UNIQUE) *out = jinja_ref(res);
		else *out = best ? jinja_ref(best) : jv_undef_hint("No aggregated item, sequence was empty.");
	}
	if (res) jinja_unref(res);
	if (seen) jinja_unref(seen);
	if (best_key) jinja_unref(best_key);
	jinja_unref(items);
	return rc;
}

static int do_truncate(struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	static const char *const params[] = {"length", "killwords", "end", "leeway"};
	struct jinja_value *p[4];
	if (bind("truncate", params, 4, a, p, e)) return -1;
	int64_t length = 255, leeway = 5;
	if (p[0] && want_int(p[0], "length", &length, e)) return -1;
	if (!is_none(p[3]) && want_int(p[3], "leeway", &leeway, e)) return -1;
	bool killwords = p[1] && jinja_truthy(p[1]);
	const char *end = "...";
	size_t endl = 3;
	if (p[2]) {
		if (want_str(p[2], "end", e)) return -1;
		end = p[2]->u.s.p;
		endl = p[2]->u.s.len;
	}
	if (v->type != JINJA_TYPE_STRING) return err_set(e, "unsupported: truncate of a %s", jv_type_name(v));
	int64_t endn = (int64_t)ju_count(end, endl);
	if (length < endn) return err_set(e, "AssertionError: expected length >= %" PRId64 ", got %" PRId64, endn, length);
	if (leeway < 0) return err_set(e, "AssertionError: expected leeway >= 0, got %" PRId64, leeway);
	int64_t len = (int64_t)jv_str_ncp(v);
	if (len <= length + leeway) {
		*out = jinja_ref(v);
		return 0;
	}
	size_t cut = ju_offset(v->u.s.p, v->u.s.len, (size_t)(length - endn));
	struct buf o;
	buf_init(&o);
	if (killwords) {
		buf_append(&o, v->u.s.p, cut);
	} else {
		/* s[:length-len(end)].rsplit(" ", 1)[0] */
		size_t k = cut;
		while (k > 0 && v->u.s.p[k - 1] != ' ') k--;
		buf_append(&o, v->u.s.p, k ? k - 1 : cut);
	}
	buf_append(&o, end, endl);
	*out = str_new(&o, is_markup(v));
	return 0;
}

static int do_sum(struct jrender *r, struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out,
                  struct err *e)
{
	static const char *const params[] = {"attribute", "start"};
	struct jinja_value *p[2];
	if (bind("sum", params, 2, a, p, e)) return -1;
	struct jinja_value *acc = p[1] ? jinja_ref(p[1]) : jinja_int(0);
	if (acc->type == JINJA_TYPE_STRING) {
		jinja_unref(acc);
		return err_set(e, "TypeError: sum() can't sum strings [use ''.join(seq) instead]");
	}
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) {
		jinja_unref(acc);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < items->u.l.len && !rc; i++) {
		struct jinja_value *x, *nx;
		if (attr_path(r, items->u.l.v[i], p[0], NULL, &x, e)) {
			rc = -1;
			break;
		}
		rc = jinja_binop(JTOK_ADD, acc, x, &nx, e);
		jinja_unref(x);
		if (!rc) {
			jinja_unref(acc);
			acc = nx;
		}
	}
	jinja_unref(items);
	if (rc) {
		jinja_unref(acc);
		return -1;
	}
	*out = acc;
	return 0;
}

static int do_batch_slice(int id, struct jinja_value *v, const struct jcall_args *a, struct jinja_value **out,
                          struct err *e)
{
	static const char *const pb[] = {"linecount", "fill_with"}, *const ps[] = {"slices", "fill_with"};
	struct jinja_value *p[2];
	if (bind(filter_names[id], id == F_BATCH ? pb : ps, 2, a, p, e)) return -1;
	int64_t cnt;
	if (!p[0]) return err_set(e, "TypeError: %s() missing a required argument", filter_names[id]);
	if (want_int(p[0], "count", &cnt, e)) return -1;
	struct jinja_value *fill = is_none(p[1]) ? NULL : p[1];
	struct jinja_value *items;
	if (jinja_iterate(v, &items, e)) return -1;
	struct jinja_value *res = gen_from(jv_list_new(JV_SEQ_LIST, 0));
	size_t n = items->u.l.len;
	if (id == F_BATCH) {
		if (cnt <= 0 && n) {
			jinja_unref(items);
			jinja_unref(res);
			return err_set(e, "unsupported: batch size %" PRId64, cnt);
		}
		struct jinja_value *tmp = NULL;
		for (size_t i = 0; i < n; i++) {
			if (tmp && (int64_t)tmp->u.l.len == cnt) {
				jv_list_push(res, tmp);
				tmp = NULL;
			}
			if (!tmp) tmp = jv_list_new(JV_SEQ_LIST, 0);
			jv_list_push(tmp, jinja_ref(items->u.l.v[i]));
		}
		if (tmp) {
			if (fill)
				while ((int64_t)tmp->u.l.len < cnt) jv_list_push(tmp, jinja_ref(fill));
			jv_list_push(res, tmp);
		}
	} else {
		if (cnt <= 0) {
			jinja_unref(items);
			jinja_unref(res);
			return err_set(e, "ZeroDivisionError: integer division or modulo by zero");
		}
		int64_t per = (int64_t)n / cnt, extra = (int64_t)n % cnt, offset = 0;
		for (int64_t s = 0; s < cnt; s++) {
			int64_t start = offset + s * per;
			if (s < extra) offset++;
			int64_t end = offset + (s + 1) * per;
			struct jinja_value *tmp = jv_list_new(JV_SEQ_LIST, 0);
			for (int64_t k = start; k < end && k < (int64_t)n; k++) jv_list_push(tmp, jinja_ref(items->u.l.v[k]));
			if (fill && s >= extra) jv_list_push(tmp, jinja_ref(fill));
			jv_list_push(res, tmp);
		}
	}
	jinja_unref(items);
	*out = res;
	return 0;
}

int jinja_filter_call(struct jrender *r, int id, struct jinja_value *in, const struct jcall_args *a,
                      struct jinja_value **out, struct err *e)
{
	if (id < 0) return err_set(e, "TemplateRuntimeError: No filter named that name found.");
	return filter_apply(r, id, in, a, out, e);
}

static int no_args(int id, const struct jcall_args *a, struct err *e)
{
	if (a->n_pos || (a->kw && a->kw->u.d.len))
		return err_set(e, "TypeError: filter '%s' takes no arguments", filter_names[id]);
	return 0;
}

static int filter_apply(struct jrender *r, int id, struct jinja_value *v, const struct jcall_args *a,
                        struct jinja_value **out, struct err *e)
{
	struct jinja_value *p[4];
	struct buf b;
	switch (id) {
	case F_ABS:
		if (no_args(id, a, e)) return -1;
		if (v->type == JINJA_TYPE_INT || v->type == JINJA_TYPE_BOOL) {
			int64_t x = jinja_int_value(v);
			if (x == INT64_MIN) return err_set(e, "unsupported: integer result outside the 64-bit range");
			*out = jinja_int(x < 0 ? -x : x);
			return 0;
		}
		if (v->type == JINJA_TYPE_FLOAT) {
			*out = jinja_float(fabs(v->u.f));
			return 0;
		}
		return err_set(e, "TypeError: bad operand type for abs(): '%s'", jv_type_name(v));
	case F_ATTR: {
		static const char *const params[] = {"name"};
		if (bind("attr", params, 1, a, p, e)) return -1;
		if (!p[0] || want_str(p[0], "attribute name", e)) return p[0] ? -1 : err_set(e, "TypeError: attr() missing 'name'");
		/* only real attributes, never items */
		if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
		if (v->type == JINJA_TYPE_NAMESPACE || v->type == JINJA_TYPE_LOOP)
			return jinja_getattr(r, v, p[0]->u.s.p, p[0]->u.s.len, out, e);
		struct jinja_value *m = NULL;
		if (jinja_getattr_builtin(v, p[0]->u.s.p, p[0]->u.s.len, &m, e)) return -1;
		*out = m ? m : jv_undef_hint("'%s object' has no attribute '%s'", jv_type_name(v), p[0]->u.s.p);
		return 0;
	}
	case F_BATCH:
	case F_SLICE: return do_batch_slice(id, v, a, out, e);
	case F_CAPITALIZE:
	case F_LOWER:
	case F_UPPER:
	case F_TITLE: {
		if (no_args(id, a, e) || text_of(v, &b, e)) return -1;
		struct buf o;
		buf_init(&o);
		int rc = 0;
		if (id == F_UPPER) rc = case_upper(b.data, b.len, &o);
		else if (id == F_LOWER) rc = case_lower(b.data, b.len, &o, e);
		else if (id == F_CAPITALIZE) rc = py_capitalize(b.data, b.len, &o, e);
		else {
			/* jinja2 do_title: split on runs of [-\s({\[<], each item -> item[0].upper() + item[1:].lower() */
			size_t i = 0;
			while (i < b.len && !rc) {
				size_t st = i;
				bool sep = false;
				uint32_t cp;
				ju_next(b.data + i, b.len - i, &cp);
				sep = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || ju_isspace(cp);
				while (i < b.len) {
					int k = ju_next(b.data + i, b.len - i, &cp);
					bool s2 = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || ju_isspace(cp);
					if (s2 != sep) break;
					i += (size_t)k;
				}
				int k = ju_next(b.data + st, i - st, &cp);
				case_upper(b.data + st, (size_t)k, &o);
				rc = case_lower(b.data + st + k, i - st - (size_t)k, &o, e);
			}
		}
		buf_free(&b);
		if (rc) {
			buf_free(&o);
			return -1;
		}
		*out = str_new(&o, is_markup(v));
		return 0;
	}
	case F_CENTER: {
		static const char *const params[] = {"width"};
		if (bind("center", params, 1, a, p, e)) return -1;
		int64_t w = 80;
		if (p[0] && want_int(p[0], "width", &w, e)) return -1;
		if (text_of(v, &b, e)) return -1;
		struct jinja_value *s = jv_str_buf(&b);
		*out = py_pad(s, w, " ", 1, 0);
		if (is_markup(v)) (*out)->flags |= JV_FLAG_MARKUP;
		jinja_unref(s);
		return 0;
	}
	case F_COUNT:
	case F_LENGTH: {
		if (no_args(id, a, e)) return -1;
		int64_t n;
		if (len_of(v, &n, e)) return -1;
		*out = jinja_int(n);
		return 0;
	}
	case F_D:
	case F_DEFAULT: {
		static const char *const params[] = {"default_value", "boolean"};
		if (bind("default", params, 2, a, p, e)) return -1;
		bool boolean = p[1] && jinja_truthy(p[1]);
		if (v->type == JINJA_TYPE_UNDEFINED || (boolean && !jinja_truthy(v)))
			*out = p[0] ? jinja_ref(p[0]) : jv_str("", 0);
		else *out = jinja_ref(v);
		return 0;
	}
	case F_DICTSORT: return do_dictsort(v, a, out, e);
	case F_E:
	case F_ESCAPE:
	case F_FORCEESCAPE:
		if (no_args(id, a, e)) return -1;
		if (is_markup(v) && id != F_FORCEESCAPE) {
			*out = jinja_ref(v);
			return 0;
		}
		if (text_of(v, &b, e)) return -1;
		{
			struct buf o;
			buf_init(&o);
			if (is_markup(v)) buf_append(&o, b.data, b.len);
			else html_escape(b.data, b.len, &o);
			buf_free(&b);
			*out = str_new(&o, true);
		}
		return 0;
	case F_FIRST: {
		if (no_args(id, a, e)) return -1;
		if (v->type == JINJA_TYPE_LIST && v->seq == JV_SEQ_GENERATOR) {
			if (v->u.l.gpos < v->u.l.len) *out = jinja_ref(v->u.l.v[v->u.l.gpos++]);
			else *out = jv_undef_hint("No first item, sequence was empty.");
			return 0;
		}
		struct jinja_value *items;
		if (jinja_iterate(v, &items, e)) return -1;
		*out = items->u.l.len ? jinja_ref(items->u.l.v[0]) : jv_undef_hint("No first item, sequence was empty.");
		jinja_unref(items);
		return 0;
	}
	case F_LAST: {
		if (no_args(id, a, e)) return -1;
		if (v->type == JINJA_TYPE_LIST && v->seq == JV_SEQ_GENERATOR)
			return err_set(e, "TypeError: 'generator' object is not reversible");
		if (v->type != JINJA_TYPE_LIST && v->type != JINJA_TYPE_STRING && v->type != JINJA_TYPE_DICT &&
		    v->type != JINJA_TYPE_UNDEFINED)
			return err_set(e, "TypeError: '%s' object is not reversible", jv_type_name(v));
		struct jinja_value *items;
		if (jinja_iterate(v, &items, e)) return -1;
		*out = items->u.l.len ? jinja_ref(items->u.l.v[items->u.l.len - 1])
		                      : jv_undef_hint("No last item, sequence was empty.");
		jinja_unref(items);
		return 0;
	}
	case F_FLOAT: {
		static const char *const params[] = {"default"};
		if (bind("float", params, 1, a, p, e)) return -1;
		double d;
		if (v->type == JINJA_TYPE_FLOAT) *out = jinja_float(v->u.f);
		else if (is_int(v)) *out = jinja_float((double)jinja_int_value(v));
		else if (v->type == JINJA_TYPE_STRING && parse_py_float(v->u.s.p, v->u.s.len, &d)) *out = jinja_float(d);
		else if (v->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(v, e);
		else *out = p[0] ? jinja_ref(p[0]) : jinja_float(0.0);
		return 0;
	}
	case F_INT: {
		static const char *const params[] = {"default", "base"};
		if (bind("int", params, 2, a, p, e)) return -1;
		int64_t base = 10, iv;
		if (p[1] && want_int(p[1], "base", &base, e)) return -1;
		double d;
		if (is_int(v)) {
			*out = jinja_int(jinja_int_value(v));
		} else if (v->type == JINJA_TYPE_FLOAT) {
			if (!isfinite(v->u.f)) *out = p[0] ? jinja_ref(p[0]) : jinja_int(0);
			else if (fabs(v->u.f) >= 9.2e18) return err_set(e, "unsupported: integer result outside the 64-bit range");
			else *out = jinja_int((int64_t)v->u.f);
		} else if (v->type == JINJA_TYPE_STRING) {
			if ((base != 0 && (base < 2 || base > 36)))
				return err_set(e, "ValueError: int() base must be >= 2 and <= 36, or 0");
			if (parse_py_int(v->u.s.p, v->u.s.len, (int)base, &iv)) *out = jinja_int(iv);
			else if (parse_py_float(v->u.s.p, v->u.s.len, &d) && isfinite(d) && fabs(d) < 9.2e18) *out = jinja_int((int64_t)d);
			else *out = p[0] ? jinja_ref(p[0]) : jinja_int(0);
		} else if (v->type == JINJA_TYPE_UNDEFINED) {
			return jinja_undefined_error(v, e);
		} else {
			*out = p[0] ? jinja_ref(p[0]) : jinja_int(0);
		}
		return 0;
	}
	case F_FORMAT: {
		if (a->n_pos && a->kw && a->kw->u.d.len)
			return err_set(e, "FilterArgumentError: can't handle positional and keyword arguments at the same time");
		if (is_markup(v)) return err_set(e, "unsupported: |format on a Markup string");
		if (text_of(v, &b, e)) return -1;
		struct jinja_value *fmt = jv_str_buf(&b), *args;
		if (a->kw && a->kw->u.d.len) {
			args = jinja_ref(a->kw);
		} else {
			args = jv_list_new(JV_SEQ_TUPLE, 0);
			for (int i = 0; i < a->n_pos; i++) jv_list_push(args, jinja_ref(a->pos[i]));
		}
		int rc = jinja_percent_format(fmt, args, out, e);
		jinja_unref(fmt);
		jinja_unref(args);
		return rc;
	}
	case F_INDENT: return do_indent(v, a, out, e);
	case F_ITEMS: {
		if (no_args(id, a, e)) return -1;
		struct jinja_value *res = gen_from(jv_list_new(JV_SEQ_LIST, 0));
		if (v->type == JINJA_TYPE_UNDEFINED) {
			*out = res;
			return 0;
		}
		if (v->type != JINJA_TYPE_DICT) {
			jinja_unref(res);
			return err_set(e, "TypeError: Can only get item pairs from a mapping.");
		}
		for (size_t i = 0; i < v->u.d.len; i++) {
			struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 2);
			jv_list_push(t, jinja_ref(v->u.d.e[i].k));
			jv_list_push(t, jinja_ref(v->u.d.e[i].v));
			jv_list_push(res, t);
		}
		*out = res;
		return 0;
	}
	case F_JOIN: {
		static const char *const params[] = {"d", "attribute"};
		if (bind("join", params, 2, a, p, e)) return -1;
		struct buf sep;
		if (p[0]) {
			if (text_of(p[0], &sep, e)) return -1;
		} else {
			buf_init(&sep);
			buf_puts(&sep, "");
		}
		struct jinja_value *items;
		if (jinja_iterate(v, &items, e)) {
			buf_free(&sep);
			return -1;
		}
		struct buf o;
		buf_init(&o);
		int rc = 0;
		for (size_t i = 0; i < items->u.l.len && !rc; i++) {
			struct jinja_value *x;
			if (attr_path(r, items->u.l.v[i], p[1], NULL, &x, e)) {
				rc = -1;
				break;
			}
			if (i) buf_append(&o, sep.data, sep.len);
			rc = jv_to_str(x, &o, e);
			jinja_unref(x);
		}
		jinja_unref(items);
		buf_free(&sep);
		if (rc) {
			buf_free(&o);
			return -1;
		}
		*out = jv_str_buf(&o);
		return 0;
	}
	case F_LIST: {
		if (no_args(id, a, e)) return -1;
		struct jinja_value *items;
		if (jinja_iterate(v, &items, e)) return -1;
		*out = jv_copy_list(items, JV_SEQ_LIST);
		jinja_unref(items);
		return 0;
	}
	case F_MAP: return do_map(r, v, a, out, e);
	case F_MAX:
	case F_MIN:
	case F_UNIQUE: return do_unique_minmax(r, id, v, a, out, e);
	case F_REJECT: return select_reject(r, v, a, true, false, out, e);
	case F_REJECTATTR: return select_reject(r, v, a, true, true, out, e);
	case F_SELECT: return select_reject(r, v, a, false, false, out, e);
	case F_SELECTATTR: return select_reject(r, v, a, false, true, out, e);
	case F_REPLACE: {
		static const char *const params[] = {"old", "new", "count"};
		if (bind("replace", params, 3, a, p, e)) return -1;
		if (!p[0] || !p[1]) return err_set(e, "TypeError: replace() missing required arguments");
		int64_t count = -1;
		if (!is_none(p[2]) && want_int(p[2], "count", &count, e)) return -1;
		struct buf ob, nb;
		if (text_of(v, &b, e)) return -1;
		if (text_of(p[0], &ob, e)) {
			buf_free(&b);
			return -1;
		}
		if (text_of(p[1], &nb, e)) {
			buf_free(&b);
			buf_free(&ob);
			return -1;
		}
		*out = py_replace(b.data, b.len, ob.data, ob.len, nb.data, nb.len, count);
		buf_free(&b);
		buf_free(&ob);
		buf_free(&nb);
		return 0;
	}
	case F_REVERSE: {
		if (no_args(id, a, e)) return -1;
		if (v->type == JINJA_TYPE_STRING) {
			struct buf o;
			buf_init(&o);
			size_t end = v->u.s.len;
			while (end > 0) {
				size_t st = cp_prev(v->u.s.p, end);
				buf_append(&o, v->u.s.p + st, end - st);
				end = st;
			}
			*out = jv_str_buf(&o);
			return 0;
		}
		struct jinja_value *items;
		if (jinja_iterate(v, &items, e)) return err_set(e, "FilterArgumentError: argument must be iterable");
		/* reversed() gives an iterator; a generator falls back to a reversed list */
		bool gen = !(v->type == JINJA_TYPE_LIST && v->seq == JV_SEQ_GENERATOR);
		struct jinja_value *res = jv_list_new(JV_SEQ_LIST, items->u.l.len);
		for (size_t i = items->u.l.len; i-- > 0;) jv_list_push(res, jinja_ref(items->u.l.v[i]));
		jinja_unref(items);
		*out = gen ? gen_from(res) : res;
		return 0;
	}
	case F_ROUND: return do_round(v, a, out, e);
	case F_SAFE:
		if (no_args(id, a, e) || text_of(v, &b, e)) return -1;
		*out = str_new(&b, true);
		return 0;
	case F_SORT: return do_sort(r, v, a, out, e);
	case F_STRING:
		if (no_args(id, a, e)) return -1;
		if (v->type == JINJA_TYPE_STRING) {
			*out = jinja_ref(v);
			return 0;
		}
		if (text_of(v, &b, e)) return -1;
		*out = jv_str_buf(&b);
		return 0;
	case F_SUM: return do_sum(r, v, a, out, e);
	case F_TOJSON: return do_tojson(v, a, out, e);
	case F_TRIM: {
		static const char *const params[] = {"chars"};
		if (bind("trim", params, 1, a, p, e) || text_of(v, &b, e)) return -1;
		struct jinja_value *s = jv_str_buf(&b);
		int rc = strip_value(s, p[0], 3, out, e);
		if (!rc && is_markup(v)) (*out)->flags |= JV_FLAG_MARKUP;
		jinja_unref(s);
		return rc;
	}
	case F_TRUNCATE: return do_truncate(v, a, out, e);
	case F_WORDCOUNT: {
		if (no_args(id, a, e) || text_of(v, &b, e)) return -1;
		int64_t n = 0;
		bool in = false;
		for (size_t i = 0; i < b.len;) {
			uint32_t cp;
			int k = ju_next(b.data + i, b.len - i, &cp);
			bool w = cp == '_' || (cp < 0x80 ? isalnum((int)cp) != 0 : ju_isalnum(cp));
			if (w && !in) n++;
			in = w;
			i += (size_t)k;
		}
		buf_free(&b);
		*out = jinja_int(n);
		return 0;
	}
	}
	return err_set(e, "internal error: unknown filter %d", id);
}

/* ------------------------------------------------------------------ printf-style % */

int jinja_percent_format(struct jinja_value *fmtv, struct jinja_value *args, struct jinja_value **out, struct err *e)
{
	const char *f = fmtv->u.s.p;
	size_t n = fmtv->u.s.len;
	bool is_tuple = args->type == JINJA_TYPE_LIST && args->seq == JV_SEQ_TUPLE;
	bool is_map = args->type == JINJA_TYPE_DICT;
	size_t argi = 0, nargs = is_tuple ? args->u.l.len : 1;
	struct buf o;
	buf_init(&o);
	bool used_map = false;
	for (size_t i = 0; i < n;) {
		if (f[i] != '%') {
			buf_putc(&o, f[i++]);
			continue;
		}
		i++;
		if (i >= n) goto incomplete;
		if (f[i] == '%') {
			buf_putc(&o, '%');
			i++;
			continue;
		}
		struct jinja_value *arg = NULL;
		if (f[i] == '(') {
			size_t st = ++i;
			int depth = 1;
			while (i < n && depth) {
				if (f[i] == '(') depth++;
				else if (f[i] == ')') depth--;
				if (depth) i++;
			}
			if (i >= n) goto incomplete;
			if (!is_map) {
				buf_free(&o);
				return err_set(e, "TypeError: format requires a mapping");
			}
			arg = jv_dict_get_str(args, f + st, i - st);
			if (!arg) {
				buf_free(&o);
				return err_set(e, "KeyError: '%.*s'", (int)(i - st), f + st);
			}
			i++;
			used_map = true;
		}
		char flags[8] = {0};
		int nf = 0;
		while (i < n && strchr("-+ #0", f[i]) && nf < 7) flags[nf++] = f[i++];
		int width = -1, prec = -1;
		if (i < n && f[i] == '*') {
			buf_free(&o);
			return err_set(e, "unsupported: '*' width in %% format");
		}
		while (i < n && isdigit((unsigned char)f[i])) width = (width < 0 ? 0 : width * 10) + (f[i++] - '0');
		if (i < n && f[i] == '.') {
			i++;
			prec = 0;
			while (i < n && isdigit((unsigned char)f[i])) prec = prec * 10 + (f[i++] - '0');
		}
		while (i < n && (f[i] == 'l' || f[i] == 'h' || f[i] == 'L')) i++;
		if (i >= n) goto incomplete;
		char conv = f[i++];
		if (!arg) {
			if (is_tuple) {
				if (argi >= nargs) {
					buf_free(&o);
					return err_set(e, "TypeError: not enough arguments for format string");
				}
				arg = args->u.l.v[argi++];
			} else {
				if (argi >= 1) {
					buf_free(&o);
					return err_set(e, "TypeError: not enough arguments for format string");
				}
				arg = args;
				argi++;
			}
		}
		struct buf piece;
		buf_init(&piece);
		int rc = 0;
		switch (conv) {
		case 's':
		case 'r':
		case 'a':
			rc = conv == 's' ? jv_to_str(arg, &piece, e) : jv_repr(arg, &piece, e);
			if (!rc && conv == 'a' && !all_ascii(piece.data ? piece.data : "", piece.len))
				rc = err_set(e, "unsupported: %%a with non-ASCII text");
			if (!rc && prec >= 0) {
				size_t cut = ju_offset(piece.data ? piece.data : "", piece.len, (size_t)prec);
				piece.len = cut;
			}
			break;
		case 'd':
		case 'i':
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			int64_t iv;
			if (is_int(arg)) iv = jinja_int_value(arg);
			else if (arg->type == JINJA_TYPE_FLOAT && (conv == 'd' || conv == 'i' || conv == 'u') && isfinite(arg->u.f) &&
			         fabs(arg->u.f) < 9.2e18)
				iv = (int64_t)arg->u.f;
			else {
				rc = err_set(e, "TypeError: %%%c format: a real number is required, not %s", conv, jv_type_name(arg));
				break;
			}
			char spec[32];
			snprintf(spec, sizeof spec, "%%%s%s%s",
			         strchr(flags, '+') ? "+" : strchr(flags, ' ') ? " " : "", prec >= 0 ? ".*" : "",
			         conv == 'x' ? "llx" : conv == 'X' ? "llX" : conv == 'o' ? "llo" : "lld");
			uint64_t mag = iv < 0 ? (uint64_t)0 - (uint64_t)iv : (uint64_t)iv;
			if (conv == 'x' || conv == 'X' || conv == 'o') {
				if (iv < 0) buf_putc(&piece, '-');
				else if (strchr(flags, '+')) buf_putc(&piece, '+');
				else if (strchr(flags, ' ')) buf_putc(&piece, ' ');
				if (strchr(flags, '#')) buf_puts(&piece, conv == 'o' ? "0o" : conv == 'x' ? "0x" : "0X");
				char tmp[64];
				snprintf(tmp, sizeof tmp, conv == 'x' ? "%llx" : conv == 'X' ? "%llX" : "%llo", (unsigned long long)mag);
				for (int z = (int)strlen(tmp); z < prec; z++) buf_putc(&piece, '0');
				buf_puts(&piece, tmp);
			} else if (prec >= 0) {
				buf_printf(&piece, spec, prec, (long long)iv);
			} else {
				buf_printf(&piece, spec, (long long)iv);
			}
			break;
		}
		case 'f':
		case 'F':
		case 'e':
		case 'E':
		case 'g':
		case 'G': {
			if (!jv_is_number(arg)) {
				rc = err_set(e, "TypeError: must be real number, not %s", jv_type_name(arg));
				break;
			}
			if (conv != 'f' && conv != 'F') {
				rc = err_set(e, "unsupported: %%%c format", conv);
				break;
			}
			double d = jinja_float_value(arg);
			if (!isfinite(d)) {
				buf_puts(&piece, isnan(d) ? "nan" : d < 0 ? "-inf" : "inf");
				break;
			}
			char spec[16];
			snprintf(spec, sizeof spec, "%%%s%s.*f", strchr(flags, '+') ? "+" : strchr(flags, ' ') ? " " : "",
			         strchr(flags, '#') ? "#" : "");
			buf_printf(&piece, spec, prec >= 0 ? prec : 6, d);
			break;
		}
		case 'c':
			if (is_int(arg)) {
				int64_t c = jinja_int_value(arg);
				if (c < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) rc = err_set(e, "OverflowError: %%c arg not in range(0x110000)");
				else buf_put_utf8(&piece, (uint32_t)c);
			} else if (arg->type == JINJA_TYPE_STRING && ju_count(arg->u.s.p, arg->u.s.len) == 1) {
				buf_append(&piece, arg->u.s.p, arg->u.s.len);
			} else {
				rc = err_set(e, "TypeError: %%c requires int or char");
			}
			break;
		default:
			rc = err_set(e, "ValueError: unsupported format character '%c' (0x%x)", conv, (unsigned)(uint8_t)conv);
		}
		if (rc) {
			buf_free(&piece);
			buf_free(&o);
			return -1;
		}
		/* width padding (code points); '-' left-aligns, '0' pads numbers with zeros */
		size_t plen = ju_count(piece.data ? piece.data : "", piece.len);
		if (width > 0 && (int)plen < width) {
			int pad = width - (int)plen;
			bool left = strchr(flags, '-') != NULL;
			bool zero = strchr(flags, '0') && !left && strchr("diuxXofFeEgG", conv);
			if (left) {
				buf_append(&o, piece.data, piece.len);
				for (int k = 0; k < pad; k++) buf_putc(&o, ' ');
			} else if (zero) {
				size_t sign = piece.len && strchr("+- ", piece.data[0]) ? 1 : 0;
				buf_append(&o, piece.data, sign);
				for (int k = 0; k < pad; k++) buf_putc(&o, '0');
				buf_append(&o, piece.data + sign, piece.len - sign);
			} else {
				for (int k = 0; k < pad; k++) buf_putc(&o, ' ');
				buf_append(&o, piece.data, piece.len);
			}
		} else if (piece.len) {
			buf_append(&o, piece.data, piece.len);
		}
		buf_free(&piece);
	}
	if (!used_map && argi < nargs && !(is_map || (!is_tuple && args->type == JINJA_TYPE_DICT))) {
		buf_free(&o);
		return err_set(e, "TypeError: not all arguments converted during string formatting");
	}
	*out = jv_str_buf(&o);
	return 0;
incomplete:
	buf_free(&o);
	return err_set(e, "ValueError: incomplete format");
}

/* ------------------------------------------------------------------ globals */

int jinja_global_call(struct jrender *r, int id, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	switch (id) {
	case JGLOBAL_RANGE: {
		if (a->kw && a->kw->u.d.len) return err_set(e, "TypeError: range() takes no keyword arguments");
		if (a->n_pos < 1 || a->n_pos > 3)
			return err_set(e, "TypeError: range expected at least 1 argument, got %d", a->n_pos);
		int64_t v[3] = {0, 0, 1};
		for (int i = 0; i < a->n_pos; i++) {
			if (!is_int(a->pos[i])) {
				if (a->pos[i]->type == JINJA_TYPE_UNDEFINED) return jinja_undefined_error(a->pos[i], e);
				return err_set(e, "TypeError: '%s' object cannot be interpreted as an integer", jv_type_name(a->pos[i]));
			}
		}
		if (a->n_pos == 1) v[1] = jinja_int_value(a->pos[0]);
		else {
			v[0] = jinja_int_value(a->pos[0]);
			v[1] = jinja_int_value(a->pos[1]);
			if (a->n_pos == 3) v[2] = jinja_int_value(a->pos[2]);
		}
		if (!v[2]) return err_set(e, "ValueError: range() arg 3 must not be zero");
		int64_t len = 0;
		if (v[2] > 0 && v[0] < v[1]) len = (v[1] - v[0] - 1) / v[2] + 1;
		else if (v[2] < 0 && v[0] > v[1]) len = (v[0] - v[1] - 1) / (-v[2]) + 1;
		if (len > 100000)
			return err_set(e, "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
		struct jinja_value *l = jv_list_new(JV_SEQ_RANGE, (size_t)len);
		for (int64_t i = 0; i < len; i++) jv_list_push(l, jinja_int(v[0] + i * v[2]));
		l->u.l.range[0] = v[0];
		l->u.l.range[1] = v[1];
		l->u.l.range[2] = v[2];
		*out = l;
		return 0;
	}
	case JGLOBAL_DICT:
	case JGLOBAL_NAMESPACE: {
		struct jinja_value *d = id == JGLOBAL_DICT ? jinja_dict() : jv_namespace_new();
		if (a->n_pos > 1) {
			jinja_unref(d);
			return err_set(e, "TypeError: dict expected at most 1 argument, got %d", a->n_pos);
		}
		if (a->n_pos == 1) {
			struct jinja_value *src = a->pos[0];
			if (src->type == JINJA_TYPE_DICT || src->type == JINJA_TYPE_NAMESPACE) {
				for (size_t i = 0; i < src->u.d.len; i++)
					jv_dict_set(d, jinja_ref(src->u.d.e[i].k), jinja_ref(src->u.d.e[i].v), NULL);
			} else {
				struct jinja_value *items;
				if (jinja_iterate(src, &items, e)) {
					jinja_unref(d);
					return -1;
				}
				for (size_t i = 0; i < items->u.l.len; i++) {
					struct jinja_value *pair, *it = items->u.l.v[i];
					if (jinja_iterate(it, &pair, e) || pair->u.l.len != 2) {
						if (pair) jinja_unref(pair);
						jinja_unref(items);
						jinja_unref(d);
						return err_set(e, "ValueError: dictionary update sequence element #%zu has wrong length", i);
					}
					if (jv_dict_set(d, jinja_ref(pair->u.l.v[0]), jinja_ref(pair->u.l.v[1]), e)) {
						jinja_unref(pair);
						jinja_unref(items);
						jinja_unref(d);
						return err_prefix(e, "TypeError");
					}
					jinja_unref(pair);
				}
				jinja_unref(items);
			}
		}
		if (a->kw)
			for (size_t i = 0; i < a->kw->u.d.len; i++)
				jv_dict_set(d, jinja_ref(a->kw->u.d.e[i].k), jinja_ref(a->kw->u.d.e[i].v), NULL);
		*out = d;
		return 0;
	}
	case JGLOBAL_RAISE_EXCEPTION: {
		struct buf b;
		buf_init(&b);
		if (a->n_pos >= 1) jv_to_str(a->pos[0], &b, e);
		err_set(e, "raise_exception: %s", b.data ? b.data : "");
		buf_free(&b);
		return -1;
	}
	case JGLOBAL_STRFTIME_NOW: {
		if (a->n_pos != 1 || a->pos[0]->type != JINJA_TYPE_STRING)
			return err_set(e, "TypeError: strftime_now() takes one string argument");
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		char tmp[512];
		size_t k = strftime(tmp, sizeof tmp, a->pos[0]->u.s.p, &tm);
		if (!k && a->pos[0]->u.s.len) return err_set(e, "strftime_now: format too long or empty result");
		*out = jv_str(tmp, k);
		return 0;
	}
	case JGLOBAL_JOINER: {
		static const char *const params[] = {"sep"};
		struct jinja_value *p[1];
		if (bind("joiner", params, 1, a, p, e)) return -1;
		struct jinja_value *o = xcalloc(1, sizeof *o);
		o->refs = 1;
		o->type = JINJA_TYPE_OBJECT;
		o->u.o = xcalloc(1, sizeof *o->u.o);
		o->u.o->kind = JOBJECT_JOINER;
		o->u.o->a = p[0] ? jinja_ref(p[0]) : jv_str(", ", 2);
		*out = o;
		return 0;
	}
	case JGLOBAL_CYCLER: {
		if (!a->n_pos) return err_set(e, "RuntimeError: at least one item has to be provided");
		struct jinja_value *o = xcalloc(1, sizeof *o);
		o->refs = 1;
		o->type = JINJA_TYPE_OBJECT;
		o->u.o = xcalloc(1, sizeof *o->u.o);
		o->u.o->kind = JOBJECT_CYCLER;
		struct jinja_value *l = jv_list_new(JV_SEQ_TUPLE, 0);
		for (int i = 0; i < a->n_pos; i++) jv_list_push(l, jinja_ref(a->pos[i]));
		o->u.o->a = l;
		*out = o;
		return 0;
	}
	}
	(void)r;
	return err_set(e, "internal error: unknown global %d", id);
}

/* ------------------------------------------------------------------ methods */

enum jmethod {
	/* str */
	M_S_CAPITALIZE, M_S_CASEFOLD, M_S_CENTER, M_S_COUNT, M_S_ENDSWITH, M_S_FIND, M_S_FORMAT, M_S_INDEX, M_S_ISALNUM,
	M_S_ISALPHA, M_S_ISASCII, M_S_ISDECIMAL, M_S_ISDIGIT, M_S_ISLOWER, M_S_ISNUMERIC, M_S_ISSPACE, M_S_ISUPPER,
	M_S_ISTITLE, M_S_JOIN, M_S_LJUST, M_S_LOWER, M_S_LSTRIP, M_S_PARTITION, M_S_REMOVEPREFIX, M_S_REMOVESUFFIX,
	M_S_REPLACE, M_S_RFIND, M_S_RINDEX, M_S_RJUST, M_S_RPARTITION, M_S_RSPLIT, M_S_RSTRIP, M_S_SPLIT, M_S_SPLITLINES,
	M_S_STARTSWITH, M_S_STRIP, M_S_SWAPCASE, M_S_TITLE, M_S_UPPER, M_S_ZFILL,
	/* dict */
	M_D_GET, M_D_ITEMS, M_D_KEYS, M_D_VALUES, M_D_COPY,
	/* list / tuple */
	M_L_COUNT, M_L_INDEX, M_L_COPY,
	/* cycler */
	M_C_NEXT, M_C_RESET,
	/* loop */
	M_LOOP_CYCLE, M_LOOP_CHANGED,
	M_COUNT_,
};

static const struct {
	const char *name;
	int id;
} str_methods[] = {
	{"capitalize", M_S_CAPITALIZE}, {"casefold", M_S_CASEFOLD}, {"center", M_S_CENTER}, {"count", M_S_COUNT},
	{"endswith", M_S_ENDSWITH}, {"find", M_S_FIND}, {"format", M_S_FORMAT}, {"index", M_S_INDEX},
	{"isalnum", M_S_ISALNUM}, {"isalpha", M_S_ISALPHA}, {"isascii", M_S_ISASCII}, {"isdecimal", M_S_ISDECIMAL},
	{"isdigit", M_S_ISDIGIT}, {"islower", M_S_ISLOWER}, {"isnumeric", M_S_ISNUMERIC}, {"isspace", M_S_ISSPACE},
	{"isupper", M_S_ISUPPER}, {"istitle", M_S_ISTITLE}, {"join", M_S_JOIN}, {"ljust", M_S_LJUST},
	{"lower", M_S_LOWER}, {"lstrip", M_S_LSTRIP}, {"partition", M_S_PARTITION}, {"removeprefix", M_S_REMOVEPREFIX},
	{"removesuffix", M_S_REMOVESUFFIX}, {"replace", M_S_REPLACE}, {"rfind", M_S_RFIND}, {"rindex", M_S_RINDEX},
	{"rjust", M_S_RJUST}, {"rpartition", M_S_RPARTITION}, {"rsplit", M_S_RSPLIT}, {"rstrip", M_S_RSTRIP},
	{"split", M_S_SPLIT}, {"splitlines", M_S_SPLITLINES}, {"startswith", M_S_STARTSWITH}, {"strip", M_S_STRIP},
	{"swapcase", M_S_SWAPCASE}, {"title", M_S_TITLE}, {"upper", M_S_UPPER}, {"zfill", M_S_ZFILL},
};
static const char *const str_unsupported[] = {"encode", "expandtabs", "format_map", "isidentifier", "isprintable",
                                              "maketrans", "translate", NULL};
static const char *const dict_unsafe[] = {"clear", "pop", "popitem", "setdefault", "update", NULL};
static const char *const list_unsafe[] = {"append", "reverse", "insert", "sort", "extend", "remove", NULL};
static const char *const list_unsupported[] = {"pop", "clear", NULL}; /* allowed by jinja2 but they mutate input */
static const char *const num_attrs[] = {"as_integer_ratio", "bit_count", "bit_length", "conjugate", "denominator",
                                        "from_bytes", "imag", "numerator", "real", "to_bytes", "fromhex", "hex",
                                        "is_integer", NULL};

/* dunder attributes of the Python objects templates see (dict, list, str, int, float, tuple,
 * None, Undefined, Namespace, range): they exist, so sandboxed access yields an unsafe undefined */
static const char *const dunders[] = {
	"__abs__", "__add__", "__aiter__", "__and__", "__bool__", "__call__", "__ceil__", "__class__",
	"__class_getitem__", "__complex__", "__contains__", "__delattr__", "__delitem__", "__dict__", "__dir__",
	"__div__", "__divmod__", "__doc__", "__eq__", "__float__", "__floor__", "__floordiv__", "__format__", "__ge__",
	"__getattr__", "__getattribute__", "__getformat__", "__getitem__", "__getnewargs__", "__getstate__", "__gt__",
	"__hash__", "__iadd__", "__imul__", "__index__", "__init__", "__init_subclass__", "__int__", "__invert__",
	"__ior__", "__iter__", "__le__", "__len__", "__lshift__", "__lt__", "__mod__", "__module__", "__mul__", "__ne__",
	"__neg__", "__new__", "__or__", "__pos__", "__pow__", "__radd__", "__rand__", "__rdiv__", "__rdivmod__",
	"__reduce__", "__reduce_ex__", "__repr__", "__reversed__", "__rfloordiv__", "__rlshift__", "__rmod__",
	"__rmul__", "__ror__", "__round__", "__rpow__", "__rrshift__", "__rshift__", "__rsub__", "__rtruediv__",
	"__rxor__", "__setattr__", "__setitem__", "__sizeof__", "__slots__", "__str__", "__sub__", "__subclasshook__",
	"__truediv__", "__trunc__", "__weakref__", "__xor__", NULL,
};

static bool in_list(const char *const *l, const char *s, size_t n)
{
	for (; *l; l++)
		if (strlen(*l) == n && !memcmp(*l, s, n)) return true;
	return false;
}

static bool name_is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

int jinja_getattr_builtin(struct jinja_value *obj, const char *attr, size_t n, struct jinja_value **out, struct err *e)
{
	*out = NULL;
	char name[64];
	snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), attr);
	if (n >= 4 && attr[0] == '_' && attr[1] == '_' && in_list(dunders, attr, n)) {
		/* a Python object attribute exists; the sandbox blocks it (an undefined that fails on use) */
		*out = jv_unsafe_undef("access to attribute '%s' of '%s' object is unsafe.", name, jv_type_name(obj));
		return 0;
	}
	switch (obj->type) {
	case JINJA_TYPE_STRING:
		if (is_markup(obj)) {
			for (size_t i = 0; i < sizeof str_methods / sizeof str_methods[0]; i++)
				if (name_is(attr, n, str_methods[i].name))
					return err_set(e, "unsupported: method '%s' on a Markup string (|safe / |escape result)", name);
		}
		for (size_t i = 0; i < sizeof str_methods / sizeof str_methods[0]; i++)
			if (name_is(attr, n, str_methods[i].name)) {
				*out = jv_callable_new(JV_CALL_METHOD, str_methods[i].id, obj, str_methods[i].name);
				return 0;
			}
		if (in_list(str_unsupported, attr, n)) return err_set(e, "unsupported: str.%s()", name);
		return 0;
	case JINJA_TYPE_DICT:
		if (name_is(attr, n, "get")) *out = jv_callable_new(JV_CALL_METHOD, M_D_GET, obj, "get");
		else if (name_is(attr, n, "items")) *out = jv_callable_new(JV_CALL_METHOD, M_D_ITEMS, obj, "items");
		else if (name_is(attr, n, "keys")) *out = jv_callable_new(JV_CALL_METHOD, M_D_KEYS, obj, "keys");
		else if (name_is(attr, n, "values")) *out = jv_callable_new(JV_CALL_METHOD, M_D_VALUES, obj, "values");
		else if (name_is(attr, n, "copy")) *out = jv_callable_new(JV_CALL_METHOD, M_D_COPY, obj, "copy");
		else if (in_list(dict_unsafe, attr, n))
			*out = jv_unsafe_undef("access to attribute '%s' of 'dict' object is unsafe.", name);
		else if (name_is(attr, n, "fromkeys")) return err_set(e, "unsupported: dict.fromkeys()");
		return 0;
	case JINJA_TYPE_LIST:
		if (obj->seq == JV_SEQ_GENERATOR) {
			if (name_is(attr, n, "send") || name_is(attr, n, "throw") || name_is(attr, n, "close"))
				return err_set(e, "unsupported: generator.%s()", name);
			return 0;
		}
		if (obj->seq == JV_SEQ_DICT_ITEMS || obj->seq == JV_SEQ_DICT_KEYS || obj->seq == JV_SEQ_DICT_VALUES) {
			if (name_is(attr, n, "mapping") || name_is(attr, n, "isdisjoint"))
				return err_set(e, "unsupported: dict view .%s", name);
			return 0;
		}
		if (name_is(attr, n, "count")) *out = jv_callable_new(JV_CALL_METHOD, M_L_COUNT, obj, "count");
		else if (name_is(attr, n, "index")) *out = jv_callable_new(JV_CALL_METHOD, M_L_INDEX, obj, "index");
		else if (obj->seq == JV_SEQ_LIST && name_is(attr, n, "copy"))
			*out = jv_callable_new(JV_CALL_METHOD, M_L_COPY, obj, "copy");
		else if (obj->seq == JV_SEQ_LIST && in_list(list_unsafe, attr, n))
			*out = jv_unsafe_undef("access to attribute '%s' of 'list' object is unsafe.", name);
		else if (obj->seq == JV_SEQ_LIST && in_list(list_unsupported, attr, n))
			return err_set(e, "unsupported: list.%s() (mutates the input)", name);
		else if (obj->seq == JV_SEQ_RANGE && (name_is(attr, n, "start") || name_is(attr, n, "stop") || name_is(attr, n, "step")))
			*out = jinja_int(obj->u.l.range[name_is(attr, n, "start") ? 0 : name_is(attr, n, "stop") ? 1 : 2]);
		return 0;
	case JINJA_TYPE_INT:
	case JINJA_TYPE_FLOAT:
	case JINJA_TYPE_BOOL:
		if (in_list(num_attrs, attr, n)) return err_set(e, "unsupported: numeric attribute '%s'", name);
		return 0;
	case JINJA_TYPE_CALLABLE:
		if (obj->u.c->kind == JV_CALL_MACRO && name_is(attr, n, "name")) *out = jinja_cstring(obj->u.c->name);
		else if (obj->u.c->kind == JV_CALL_MACRO &&
		         (name_is(attr, n, "arguments") || name_is(attr, n, "catch_kwargs") || name_is(attr, n, "catch_varargs") ||
		          name_is(attr, n, "caller")))
			return err_set(e, "unsupported: macro attribute '%s'", name);
		return 0;
	case JINJA_TYPE_OBJECT:
		if (obj->u.o->kind == JOBJECT_CYCLER) {
			if (name_is(attr, n, "next")) *out = jv_callable_new(JV_CALL_METHOD, M_C_NEXT, obj, "next");
			else if (name_is(attr, n, "reset")) *out = jv_callable_new(JV_CALL_METHOD, M_C_RESET, obj, "reset");
			else if (name_is(attr, n, "current")) {
				struct jinja_value *items = obj->u.o->a;
				*out = jinja_ref(items->u.l.v[obj->u.o->pos]);
			} else if (name_is(attr, n, "items")) *out = jinja_ref(obj->u.o->a);
		}
		return 0;
	default: return 0;
	}
}

int jinja_loop_attr(struct jrender *r, struct jinja_value *lv, const char *attr, struct jinja_value **out, struct err *e)
{
	struct jv_loop *l = lv->u.loop;
	int64_t len;
	if (!strcmp(attr, "index")) *out = jinja_int(l->index0 + 1);
	else if (!strcmp(attr, "index0")) *out = jinja_int(l->index0);
	else if (!strcmp(attr, "first")) *out = jinja_bool(l->index0 == 0);
	else if (!strcmp(attr, "depth")) *out = jinja_int(1);
	else if (!strcmp(attr, "depth0")) *out = jinja_int(0);
	else if (!strcmp(attr, "length") || !strcmp(attr, "revindex") || !strcmp(attr, "revindex0")) {
		if (jloop_length(r, l, &len, e)) return -1;
		if (attr[0] == 'l') *out = jinja_int(len);
		else if (!strcmp(attr, "revindex")) *out = jinja_int(len - l->index0);
		else *out = jinja_int(len - l->index0 - 1);
	} else if (!strcmp(attr, "last") || !strcmp(attr, "nextitem")) {
		if (l->test && jloop_fill(r, l, 1, e)) return -1;
		if (!l->test) {
			/* no filter: the list itself tells what comes next */
			size_t next = l->src_pos;
			bool have = l->ahead_pos < l->n_ahead || next < l->src->u.l.len;
			if (attr[0] == 'l') *out = jinja_bool(!have);
			else if (!have) *out = jv_undef_hint("there is no next item");
			else *out = jinja_ref(l->ahead_pos < l->n_ahead ? l->ahead[l->ahead_pos] : l->src->u.l.v[next]);
		} else {
			bool have = l->ahead_pos < l->n_ahead;
			if (attr[0] == 'l') *out = jinja_bool(!have);
			else *out = have ? jinja_ref(l->ahead[l->ahead_pos]) : jv_undef_hint("there is no next item");
		}
	} else if (!strcmp(attr, "previtem")) {
		*out = l->index0 > 0 && l->prev ? jinja_ref(l->prev) : jv_undef_hint("there is no previous item");
	} else if (!strcmp(attr, "cycle")) {
		*out = jv_callable_new(JV_CALL_METHOD, M_LOOP_CYCLE, lv, "cycle");
	} else if (!strcmp(attr, "changed")) {
		*out = jv_callable_new(JV_CALL_METHOD, M_LOOP_CHANGED, lv, "changed");
	} else {
		*out = jv_undef_hint("'LoopContext' object has no attribute '%s'", attr);
	}
	return 0;
}

/* Python str.format (sandboxed formatter): {}, {0}, {name}, {{ }}, with !s / !r and no format spec */
static int str_format(struct jinja_value *fmt, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	const char *s = fmt->u.s.p;
	size_t n = fmt->u.s.len;
	struct buf o;
	buf_init(&o);
	int auto_idx = 0;
	bool used_auto = false, used_manual = false;
	for (size_t i = 0; i < n;) {
		char c = s[i];
		if (c == '{' && i + 1 < n && s[i + 1] == '{') {
			buf_putc(&o, '{');
			i += 2;
			continue;
		}
		if (c == '}' && i + 1 < n && s[i + 1] == '}') {
			buf_putc(&o, '}');
			i += 2;
			continue;
		}
		if (c == '}') {
			buf_free(&o);
			return err_set(e, "ValueError: Single '}' encountered in format string");
		}
		if (c != '{') {
			buf_putc(&o, c);
			i++;
			continue;
		}
		size_t st = ++i;
		while (i < n && s[i] != '}' && s[i] != '!' && s[i] != ':' && s[i] != '{') i++;
		size_t fe = i;
		char conv = 0;
		if (i < n && s[i] == '!') {
			if (i + 1 < n) conv = s[i + 1];
			i += 2;
		}
		if (i < n && s[i] == ':') {
			size_t sp = i + 1;
			while (i < n && s[i] != '}') i++;
			if (i > sp) {
				buf_free(&o);
				return err_set(e, "unsupported: format spec in str.format()");
			}
		}
		if (i >= n || s[i] != '}') {
			buf_free(&o);
			return err_set(e, "ValueError: expected '}' before end of string");
		}
		i++;
		struct jinja_value *arg = NULL;
		if (fe == st) {
			if (used_manual) {
				buf_free(&o);
				return err_set(e, "ValueError: cannot switch from manual field specification to automatic field numbering");
			}
			used_auto = true;
			if (auto_idx >= a->n_pos) {
				buf_free(&o);
				return err_set(e, "IndexError: Replacement index %d out of range for positional args tuple", auto_idx);
			}
			arg = a->pos[auto_idx++];
		} else {
			bool digits = true;
			for (size_t k = st; k < fe; k++)
				if (!isdigit((unsigned char)s[k])) digits = false;
			if (memchr(s + st, '.', fe - st) || memchr(s + st, '[', fe - st)) {
				buf_free(&o);
				return err_set(e, "unsupported: attribute/index lookups in str.format() fields");
			}
			if (digits) {
				if (used_auto) {
					buf_free(&o);
					return err_set(e, "ValueError: cannot switch from automatic field numbering to manual field specification");
				}
				used_manual = true;
				long idx = strtol(s + st, NULL, 10);
				if (idx >= a->n_pos) {
					buf_free(&o);
					return err_set(e, "IndexError: Replacement index %ld out of range for positional args tuple", idx);
				}
				arg = a->pos[idx];
			} else {
				arg = a->kw ? jv_dict_get_str(a->kw, s + st, fe - st) : NULL;
				if (!arg) {
					buf_free(&o);
					return err_set(e, "KeyError: '%.*s'", (int)(fe - st), s + st);
				}
			}
		}
		int rc = conv == 'r' ? jv_repr(arg, &o, e) : conv == 0 || conv == 's' ? jv_to_str(arg, &o, e)
		                                                                     : err_set(e, "unsupported: !%c conversion", conv);
		if (rc) {
			buf_free(&o);
			return -1;
		}
	}
	*out = jv_str_buf(&o);
	return 0;
}

static int str_is(int id, struct jinja_value *s, bool *res, struct err *e)
{
	const char *p = s->u.s.p;
	size_t n = s->u.s.len;
	bool ascii = all_ascii(p, n);
	if (id == M_S_ISASCII) {
		*res = ascii;
		return 0;
	}
	if (!n) {
		*res = false;
		return 0;
	}
	if (id == M_S_ISSPACE || id == M_S_ISALNUM || id == M_S_ISDECIMAL) {
		*res = true;
		for (size_t i = 0; i < n;) {
			uint32_t cp;
			i += (size_t)ju_next(p + i, n - i, &cp);
			bool ok = id == M_S_ISSPACE ? ju_isspace(cp) : id == M_S_ISALNUM ? ju_isalnum(cp) : ju_isdecimal(cp);
			if (!ok) *res = false;
		}
		return 0;
	}
	if (!ascii) return err_set(e, "unsupported: str.is*() classification of non-ASCII text");
	bool cased = false, ok = true, prev_cased = false, title_ok = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (id) {
		case M_S_ISALPHA: ok = ok && isalpha(c); break;
		case M_S_ISDIGIT:
		case M_S_ISNUMERIC: ok = ok && isdigit(c); break;
		case M_S_ISLOWER:
			if (isalpha(c)) {
				cased = true;
				if (isupper(c)) ok = false;
			}
			break;
		case M_S_ISUPPER:
			if (isalpha(c)) {
				cased = true;
				if (islower(c)) ok = false;
			}
			break;
		case M_S_ISTITLE:
			if (isupper(c)) {
				if (prev_cased) title_ok = false;
				prev_cased = cased = true;
			} else if (islower(c)) {
				if (!prev_cased) title_ok = false;
				prev_cased = cased = true;
			} else {
				prev_cased = false;
			}
			break;
		}
	}
	if (id == M_S_ISLOWER || id == M_S_ISUPPER) *res = cased && ok;
	else if (id == M_S_ISTITLE) *res = cased && title_ok;
	else *res = ok;
	return 0;
}

static int str_method(int id, struct jinja_value *s, const struct jcall_args *a, struct jinja_value **out, struct err *e)
{
	struct jinja_value *p[3];
	struct buf o;
	buf_init(&o);
	const char *sp = s->u.s.p;
	size_t sn = s->u.s.len;
	switch (id) {
	case M_S_CAPITALIZE:
	case M_S_CASEFOLD:
	case M_S_LOWER:
	case M_S_UPPER:
	case M_S_SWAPCASE:
	case M_S_TITLE: {
		if (bind("str method", NULL, 0, a, p, e)) return -1;
		int rc = 0;
		if (id == M_S_UPPER) rc = case_upper(sp, sn, &o);
		else if (id == M_S_LOWER) rc = case_lower(sp, sn, &o, e);
		else if (id == M_S_CAPITALIZE) rc = py_capitalize(sp, sn, &o, e);
		else if (id == M_S_TITLE) rc = py_title(sp, sn, &o, e);
		else if (!all_ascii(sp, sn)) rc = err_set(e, "unsupported: str.%s() on non-ASCII text", id == M_S_CASEFOLD ? "casefold" : "swapcase");
		else
			for (size_t i = 0; i < sn; i++) {
				char c = sp[i];
				buf_putc(&o, id == M_S_CASEFOLD ? (char)tolower(c) : isupper((unsigned char)c) ? (char)tolower(c) : (char)toupper(c));
			}
		if (rc) {
			buf_free(&o);
			return -1;
		}
		*out = jv_str_buf(&o);
		return 0;
	}
	case M_S_CENTER:
	case M_S_LJUST:
	case M_S_RJUST: {
		static const char *const params[] = {"width", "fillchar"};
		if (bind("str.center", params, 2, a, p, e)) return -1;
		int64_t w;
		if (!p[0]) return err_set(e, "TypeError: missing width argument");
		if (want_int(p[0], "width", &w, e)) return -1;
		const char *fill = " ";
		size_t fl = 1;
		if (p[1]) {
			if (want_str(p[1], "fillchar", e)) return -1;
			if (ju_count(p[1]->u.s.p, p[1]->u.s.len) != 1)
				return err_set(e, "TypeError: The fill character must be exactly one character long");
			fill = p[1]->u.s.p;
			fl = p[1]->u.s.len;
		}
		*out = py_pad(s, w, fill, fl, id == M_S_CENTER ? 0 : id == M_S_LJUST ? 1 : 2);
		return 0;
	}
	case M_S_ZFILL: {
		static const char *const params[] = {"width"};
		if (bind("zfill", params, 1, a, p, e)) return -1;
		int64_t w;
		if (!p[0] || want_int(p[0], "width", &w, e)) return p[0] ? -1 : err_set(e, "TypeError: missing width");
		int64_t len = (int64_t)jv_str_ncp(s);
		size_t sign = sn && (sp[0] == '+' || sp[0] == '-') ? 1 : 0;
		buf_append(&o, sp, sign);
		for (int64_t i = len; i < w; i++) buf_putc(&o, '0');
		buf_append(&o, sp + sign, sn - sign);
		*out = jv_str_buf(&o);
		return 0;
	}
	case M_S_COUNT:
	case M_S_FIND:
	case M_S_RFIND:
	case M_S_INDEX:
	case M_S_RINDEX: {
		static const char *const params[] = {"sub", "start", "end"};
		if (bind("str.find", params, 3, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: missing substring argument");
		if (want_str(p[0], "substring", e)) return -1;
		size_t b0, b1;
		int64_t cp0;
		if (sub_range(s, p[1], p[2], &b0, &b1, &cp0, e)) return -1;
		const char *sub = p[0]->u.s.p;
		size_t sl = p[0]->u.s.len;
		if (id == M_S_COUNT) {
			int64_t c = 0;
			if (b0 != SIZE_MAX) {
				if (!sl) c = (int64_t)ju_count(sp + b0, b1 - b0) + 1;
				else
					for (size_t i = b0; i + sl <= b1;) {
						const char *h = memmem(sp + i, b1 - i, sub, sl);
						if (!h) break;
						c++;
						i = (size_t)(h - sp) + sl;
					}
			}
			*out = jinja_int(c);
			return 0;
		}
		int64_t res = -1;
		if (b0 != SIZE_MAX && b1 - b0 >= sl) {
			if (id == M_S_FIND || id == M_S_INDEX) {
				const char *h = sl ? memmem(sp + b0, b1 - b0, sub, sl) : sp + b0;
				if (h) res = cp0 + (int64_t)ju_count(sp + b0, (size_t)(h - (sp + b0)));
			} else {
				for (size_t pos = b1 - sl + 1; pos-- > b0;)
					if (((uint8_t)sp[pos] & 0xc0) != 0x80 && !memcmp(sp + pos, sub, sl)) {
						res = cp0 + (int64_t)ju_count(sp + b0, pos - b0);
						break;
					}
			}
		}
		if (res < 0 && (id == M_S_INDEX || id == M_S_RINDEX)) return err_set(e, "ValueError: substring not found");
		*out = jinja_int(res);
		return 0;
	}
	case M_S_STARTSWITH:
	case M_S_ENDSWITH: {
		static const char *const params[] = {"prefix", "start", "end"};
		if (bind("startswith", params, 3, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: startswith() takes at least 1 argument (0 given)");
		size_t b0, b1;
		int64_t cp0;
		if (sub_range(s, p[1], p[2], &b0, &b1, &cp0, e)) return -1;
		struct jinja_value *cands = p[0];
		size_t nc = 1;
		if (cands->type == JINJA_TYPE_LIST && cands->seq == JV_SEQ_TUPLE) nc = cands->u.l.len;
		else if (cands->type != JINJA_TYPE_STRING)
			return err_set(e, "TypeError: %s first arg must be str or a tuple of str, not %s",
			               id == M_S_STARTSWITH ? "startswith" : "endswith", jv_type_name(cands));
		bool hit = false;
		for (size_t k = 0; k < nc && !hit; k++) {
			struct jinja_value *c = cands->type == JINJA_TYPE_STRING ? cands : cands->u.l.v[k];
			if (c->type != JINJA_TYPE_STRING)
				return err_set(e, "TypeError: tuple for %s must only contain str, not %s",
				               id == M_S_STARTSWITH ? "startswith" : "endswith", jv_type_name(c));
			if (b0 == SIZE_MAX) continue;
			size_t cl = c->u.s.len;
			if (cl > b1 - b0) continue;
			hit = id == M_S_STARTSWITH ? !memcmp(sp + b0, c->u.s.p, cl) : !memcmp(sp + b1 - cl, c->u.s.p, cl);
		}
		*out = jinja_bool(hit);
		return 0;
	}
	case M_S_FORMAT: return str_format(s, a, out, e);
	case M_S_ISALNUM:
	case M_S_ISALPHA:
	case M_S_ISASCII:
	case M_S_ISDECIMAL:
	case M_S_ISDIGIT:
	case M_S_ISLOWER:
	case M_S_ISNUMERIC:
	case M_S_ISSPACE:
	case M_S_ISUPPER:
	case M_S_ISTITLE: {
		if (bind("str.is", NULL, 0, a, p, e)) return -1;
		bool res = false;
		if (str_is(id, s, &res, e)) return -1;
		*out = jinja_bool(res);
		return 0;
	}
	case M_S_JOIN: {
		static const char *const params[] = {"iterable"};
		if (bind("join", params, 1, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: join() takes exactly one argument (0 given)");
		struct jinja_value *items;
		if (jinja_iterate(p[0], &items, e)) return err_prefix(e, "TypeError: can only join an iterable");
		for (size_t i = 0; i < items->u.l.len; i++) {
			struct jinja_value *x = items->u.l.v[i];
			if (x->type != JINJA_TYPE_STRING) {
				jinja_unref(items);
				buf_free(&o);
				return err_set(e, "TypeError: sequence item %zu: expected str instance, %s found", i, jv_type_name(x));
			}
			if (i) buf_append(&o, sp, sn);
			buf_append(&o, x->u.s.p, x->u.s.len);
		}
		jinja_unref(items);
		*out = jv_str_buf(&o);
		return 0;
	}
	case M_S_STRIP:
	case M_S_LSTRIP:
	case M_S_RSTRIP: {
		static const char *const params[] = {"chars"};
		if (bind("strip", params, 1, a, p, e)) return -1;
		return strip_value(s, p[0], id == M_S_STRIP ? 3 : id == M_S_LSTRIP ? 1 : 2, out, e);
	}
	case M_S_PARTITION:
	case M_S_RPARTITION: {
		static const char *const params[] = {"sep"};
		if (bind("partition", params, 1, a, p, e)) return -1;
		if (!p[0] || want_str(p[0], "sep", e)) return p[0] ? -1 : err_set(e, "TypeError: missing sep");
		if (!p[0]->u.s.len) return err_set(e, "ValueError: empty separator");
		const char *sep = p[0]->u.s.p;
		size_t sl = p[0]->u.s.len;
		const char *h = NULL;
		if (id == M_S_PARTITION) h = memmem(sp, sn, sep, sl);
		else if (sn >= sl)
			for (size_t pos = sn - sl + 1; pos-- > 0;)
				if (!memcmp(sp + pos, sep, sl)) {
					h = sp + pos;
					break;
				}
		struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 3);
		if (!h) {
			if (id == M_S_PARTITION) {
				jv_list_push(t, jv_str(sp, sn));
				jv_list_push(t, jv_str("", 0));
				jv_list_push(t, jv_str("", 0));
			} else {
				jv_list_push(t, jv_str("", 0));
				jv_list_push(t, jv_str("", 0));
				jv_list_push(t, jv_str(sp, sn));
			}
		} else {
			jv_list_push(t, jv_str(sp, (size_t)(h - sp)));
			jv_list_push(t, jv_str(sep, sl));
			jv_list_push(t, jv_str(h + sl, sn - (size_t)(h - sp) - sl));
		}
		*out = t;
		return 0;
	}
	case M_S_REMOVEPREFIX:
	case M_S_REMOVESUFFIX: {
		static const char *const params[] = {"affix"};
		if (bind("removeprefix", params, 1, a, p, e)) return -1;
		if (!p[0] || want_str(p[0], "affix", e)) return p[0] ? -1 : err_set(e, "TypeError: missing argument");
		size_t al = p[0]->u.s.len;
		if (al <= sn && id == M_S_REMOVEPREFIX && !memcmp(sp, p[0]->u.s.p, al)) *out = jv_str(sp + al, sn - al);
		else if (al <= sn && id == M_S_REMOVESUFFIX && !memcmp(sp + sn - al, p[0]->u.s.p, al)) *out = jv_str(sp, sn - al);
		else *out = jv_str(sp, sn);
		return 0;
	}
	case M_S_REPLACE: {
		static const char *const params[] = {"old", "new", "count"};
		if (bind("replace", params, 3, a, p, e)) return -1;
		if (!p[0] || !p[1]) return err_set(e, "TypeError: replace expected at least 2 arguments");
		if (want_str(p[0], "replace() argument 1", e) || want_str(p[1], "replace() argument 2", e)) return -1;
		int64_t count = -1;
		if (p[2] && want_int(p[2], "count", &count, e)) return -1;
		*out = py_replace(sp, sn, p[0]->u.s.p, p[0]->u.s.len, p[1]->u.s.p, p[1]->u.s.len, count);
		return 0;
	}
	case M_S_SPLIT:
	case M_S_RSPLIT: {
		static const char *const params[] = {"sep", "maxsplit"};
		if (bind("split", params, 2, a, p, e)) return -1;
		int64_t maxsplit = -1;
		if (p[1] && want_int(p[1], "maxsplit", &maxsplit, e)) return -1;
		if (is_none(p[0])) {
			*out = split_ws(sp, sn, maxsplit, id == M_S_RSPLIT);
			return 0;
		}
		if (want_str(p[0], "sep", e)) return -1;
		if (!p[0]->u.s.len) return err_set(e, "ValueError: empty separator");
		*out = split_sep(sp, sn, p[0]->u.s.p, p[0]->u.s.len, maxsplit, id == M_S_RSPLIT);
		return 0;
	}
	case M_S_SPLITLINES: {
		static const char *const params[] = {"keepends"};
		if (bind("splitlines", params, 1, a, p, e)) return -1;
		*out = splitlines(sp, sn, p[0] && jinja_truthy(p[0]));
		return 0;
	}
	}
	return err_set(e, "internal error: unknown str method %d", id);
}

int jinja_method_call(struct jrender *r, struct jv_callable *c, const struct jcall_args *a, struct jinja_value **out,
                      struct err *e)
{
	struct jinja_value *self = c->self, *p[3];
	if (c->id <= M_S_ZFILL) return str_method(c->id, self, a, out, e);
	switch (c->id) {
	case M_D_GET: {
		static const char *const params[] = {"key", "default"};
		if (bind("get", params, 2, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: get expected at least 1 argument, got 0");
		uint64_t h;
		if (jv_hash(p[0], &h, e)) return err_prefix(e, "TypeError");
		struct jinja_value *v = jv_dict_get(self, p[0]);
		*out = v ? jinja_ref(v) : p[1] ? jinja_ref(p[1]) : jinja_none();
		return 0;
	}
	case M_D_ITEMS:
	case M_D_KEYS:
	case M_D_VALUES:
	case M_D_COPY: {
		if (bind(c->name, NULL, 0, a, p, e)) return -1;
		if (c->id == M_D_COPY) {
			struct jinja_value *d = jinja_dict();
			for (size_t i = 0; i < self->u.d.len; i++)
				jv_dict_set(d, jinja_ref(self->u.d.e[i].k), jinja_ref(self->u.d.e[i].v), NULL);
			*out = d;
			return 0;
		}
		enum jv_seq seq = c->id == M_D_ITEMS ? JV_SEQ_DICT_ITEMS : c->id == M_D_KEYS ? JV_SEQ_DICT_KEYS : JV_SEQ_DICT_VALUES;
		struct jinja_value *l = jv_list_new(seq, self->u.d.len);
		for (size_t i = 0; i < self->u.d.len; i++) {
			if (c->id == M_D_ITEMS) {
				struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 2);
				jv_list_push(t, jinja_ref(self->u.d.e[i].k));
				jv_list_push(t, jinja_ref(self->u.d.e[i].v));
				jv_list_push(l, t);
			} else {
				jv_list_push(l, jinja_ref(c->id == M_D_KEYS ? self->u.d.e[i].k : self->u.d.e[i].v));
			}
		}
		*out = l;
		return 0;
	}
	case M_L_COUNT: {
		static const char *const params[] = {"value"};
		if (bind("count", params, 1, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: count() takes exactly one argument (0 given)");
		int64_t k = 0;
		for (size_t i = 0; i < self->u.l.len; i++)
			if (jv_eq(self->u.l.v[i], p[0])) k++;
		*out = jinja_int(k);
		return 0;
	}
	case M_L_INDEX: {
		static const char *const params[] = {"value", "start", "stop"};
		if (bind("index", params, 3, a, p, e)) return -1;
		if (!p[0]) return err_set(e, "TypeError: index expected at least 1 argument, got 0");
		int64_t len = (int64_t)self->u.l.len, st = 0, en = len;
		if (p[1] && want_int(p[1], "start", &st, e)) return -1;
		if (p[2] && want_int(p[2], "stop", &en, e)) return -1;
		if (st < 0) st = st + len < 0 ? 0 : st + len;
		if (en < 0) en = en + len < 0 ? 0 : en + len;
		for (int64_t i = st; i < en && i < len; i++)
			if (jv_eq(self->u.l.v[i], p[0])) {
				*out = jinja_int(i);
				return 0;
			}
		struct buf b;
		buf_init(&b);
		jv_repr(p[0], &b, e);
		err_set(e, "ValueError: %s is not in %s", b.data ? b.data : "", self->seq == JV_SEQ_TUPLE ? "tuple" : "list");
		buf_free(&b);
		return -1;
	}
	case M_L_COPY:
		if (bind("copy", NULL, 0, a, p, e)) return -1;
		*out = jv_copy_list(self, JV_SEQ_LIST);
		return 0;
	case M_C_NEXT: {
		if (bind("next", NULL, 0, a, p, e)) return -1;
		struct jv_object *o = self->u.o;
		*out = jinja_ref(o->a->u.l.v[o->pos]);
		o->pos = (o->pos + 1) % (int64_t)o->a->u.l.len;
		return 0;
	}
	case M_C_RESET:
		if (bind("reset", NULL, 0, a, p, e)) return -1;
		self->u.o->pos = 0;
		*out = jinja_none();
		return 0;
	case M_LOOP_CYCLE: {
		struct jv_loop *l = self->u.loop;
		if (a->kw && a->kw->u.d.len) return err_set(e, "TypeError: cycle() got an unexpected keyword argument");
		if (!a->n_pos) return err_set(e, "TypeError: no items for cycling given");
		*out = jinja_ref(a->pos[l->index0 % a->n_pos]);
		return 0;
	}
	case M_LOOP_CHANGED: {
		struct jv_loop *l = self->u.loop;
		struct jinja_value *t = jv_list_new(JV_SEQ_TUPLE, 0);
		for (int i = 0; i < a->n_pos; i++) jv_list_push(t, jinja_ref(a->pos[i]));
		if (!l->last_changed || !jv_eq(l->last_changed, t)) {
			if (l->last_changed) jinja_unref(l->last_changed);
			l->last_changed = t;
			*out = jinja_bool(true);
		} else {
			jinja_unref(t);
			*out = jinja_bool(false);
		}
		return 0;
	}
	}
	(void)r;
	return err_set(e, "internal error: unknown method %d", c->id);
}
