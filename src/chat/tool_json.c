/* tool_json.c — see tool_json.h. The Python rules mirrored here were read from CPython's
 * Lib/json (scanner.py, decoder.py, encoder.py), Modules/_json.c, Lib/ast.py (literal_eval) and
 * Python/pystrtod.c (repr's choice between fixed and exponent notation). */
#include "chat/tool_json.h"
#include "chat/py_escape.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- values */

struct tool_json *tool_json_new(enum tool_json_type t)
{
	struct tool_json *v = xcalloc(1, sizeof *v);
	v->type = t;
	return v;
}

struct tool_json *tool_json_new_string(const char *s, size_t n)
{
	struct tool_json *v = tool_json_new(TOOL_JSON_TYPE_STRING);
	v->s = xstrndup(s, n);
	v->len = n;
	return v;
}

static struct tool_json *json_new_int(const char *digits, size_t n)
{
	struct tool_json *v = tool_json_new(TOOL_JSON_TYPE_INT);
	v->s = xstrndup(digits, n);
	v->len = n;
	return v;
}

static struct tool_json *json_new_float(double f)
{
	struct tool_json *v = tool_json_new(TOOL_JSON_TYPE_FLOAT);
	v->f = f;
	return v;
}

static struct tool_json *json_new_bool(bool b)
{
	struct tool_json *v = tool_json_new(TOOL_JSON_TYPE_BOOL);
	v->b = b;
	return v;
}

void tool_json_free(struct tool_json *v)
{
	if (!v) return;
	for (size_t i = 0; i < v->n; i++) {
		tool_json_free(v->items[i]);
		if (v->keys) free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->key_lens);
	free(v->hidx);
	free(v->s);
	free(v);
}

static void json_grow(struct tool_json *v)
{
	if (v->n < v->cap) return;
	v->cap = v->cap ? v->cap * 2 : 4;
	v->items = xrealloc(v->items, v->cap * sizeof *v->items);
	if (v->type == TOOL_JSON_TYPE_OBJECT) {
		v->keys = xrealloc(v->keys, v->cap * sizeof *v->keys);
		v->key_lens = xrealloc(v->key_lens, v->cap * sizeof *v->key_lens);
	}
}

void tool_json_array_push(struct tool_json *a, struct tool_json *v)
{
	json_grow(a);
	a->items[a->n++] = v;
}

static uint64_t key_hash(const char *k, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
	return h;
}

static void object_index_insert(struct tool_json *o, size_t i)
{
	size_t m = o->hcap - 1, h = key_hash(o->keys[i], o->key_lens[i]) & m;
	while (o->hidx[h]) h = (h + 1) & m;
	o->hidx[h] = i + 1;
}

static void object_reindex(struct tool_json *o)
{
	free(o->hidx);
	o->hcap = 64;
	while (o->hcap < o->n * 2 + 2) o->hcap *= 2;
	o->hidx = xcalloc(o->hcap, sizeof *o->hidx);
	for (size_t i = 0; i < o->n; i++) object_index_insert(o, i);
}

/* Index of key k in o, or -1. Small objects scan; large ones keep a hash index. */
static long object_find(const struct tool_json *o, const char *k, size_t kn)
{
	if (!o->hidx) {
		for (size_t i = 0; i < o->n; i++)
			if (o->key_lens[i] == kn && memcmp(o->keys[i], k, kn) == 0) return (long)i;
		return -1;
	}
	size_t m = o->hcap - 1, h = key_hash(k, kn) & m;
	while (o->hidx[h]) {
		size_t i = o->hidx[h] - 1;
		if (o->key_lens[i] == kn && memcmp(o->keys[i], k, kn) == 0) return (long)i;
		h = (h + 1) & m;
	}
	return -1;
}

void tool_json_object_set(struct tool_json *o, const char *k, size_t kn, struct tool_json *v)
{
	long at = object_find(o, k, kn);
	if (at >= 0) {
		tool_json_free(o->items[at]);
		o->items[at] = v;
		return;
	}
	json_grow(o);
	o->keys[o->n] = xstrndup(k, kn);
	o->key_lens[o->n] = kn;
	o->items[o->n] = v;
	o->n++;
	if (o->hidx && o->hcap >= o->n * 2 + 2) object_index_insert(o, o->n - 1);
	else if (o->n >= 16) object_reindex(o);
}

const struct tool_json *tool_json_object_get(const struct tool_json *o, const char *k)
{
	if (!o || o->type != TOOL_JSON_TYPE_OBJECT) return NULL;
	long at = object_find(o, k, strlen(k));
	return at >= 0 ? o->items[at] : NULL;
}

/* ---------------------------------------------------------------- json.loads */

struct jparse {
	const char *s;
	size_t n, i;
	int depth;
};

static void jp_ws(struct jparse *p)
{
	while (p->i < p->n) {
		char c = p->s[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
		p->i++;
	}
}

static bool jp_lit(struct jparse *p, const char *w)
{
	size_t k = strlen(w);
	if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0) return false;
	p->i += k;
	return true;
}


static bool hex4(const char *s, size_t avail, uint32_t *out)
{
	if (avail < 4) return false;
	uint32_t v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hex_digit_value((unsigned char)s[k]);
		if (h < 0) return false;
		v = v * 16 + (uint32_t)h;
	}
	*out = v;
	return true;
}

/* A JSON string body after the opening quote; fills out, leaves p after the closing quote. */
static bool jp_string(struct jparse *p, struct buf *out)
{
	for (;;) {
		size_t start = p->i;
		while (p->i < p->n) {
			unsigned char c = (unsigned char)p->s[p->i];
			if (c == '"' || c == '\\' || c < 0x20) break;
			p->i++;
		}
		buf_append(out, p->s + start, p->i - start);
		if (p->i >= p->n) return false;
		unsigned char c = (unsigned char)p->s[p->i++];
		if (c == '"') return true;
		if (c < 0x20) return false; /* strict=True rejects raw control characters */
		if (p->i >= p->n) return false;
		char e = p->s[p->i++];
		switch (e) {
		case '"': buf_putc(out, '"'); break;
		case '\\': buf_putc(out, '\\'); break;
		case '/': buf_putc(out, '/'); break;
		case 'b': buf_putc(out, '\b'); break;
		case 'f': buf_putc(out, '\f'); break;
		case 'n': buf_putc(out, '\n'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'u': {
			uint32_t cp;
			if (!hex4(p->s + p->i, p->n - p->i, &cp)) return false;
			p->i += 4;
			/* A high surrogate followed by an escaped low one forms a pair; lone
			 * surrogates are kept as Python keeps them. */
			if (cp >= 0xD800 && cp <= 0xDBFF && p->n - p->i >= 6 && p->s[p->i] == '\\' &&
			    p->s[p->i + 1] == 'u') {
				uint32_t lo;
				if (hex4(p->s + p->i + 2, p->n - p->i - 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					p->i += 6;
				}
			}
			buf_put_utf8(out, cp);
			break;
		}
		default: return false;
		}
	}
}

static struct tool_json *jp_value(struct jparse *p);

static struct tool_json *jp_number(struct jparse *p)
{
	size_t st = p->i;
	if (p->i < p->n && p->s[p->i] == '-') p->i++;
	if (p->i >= p->n || !isdigit((unsigned char)p->s[p->i])) return NULL;
	if (p->s[p->i] == '0') p->i++;
	else
		while (p->i < p->n && isdigit((unsigned char)p->s[p->i])) p->i++;
	bool is_float = false;
	if (p->i + 1 < p->n && p->s[p->i] == '.' && isdigit((unsigned char)p->s[p->i + 1])) {
		is_float = true;
		p->i++;
		while (p->i < p->n && isdigit((unsigned char)p->s[p->i])) p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		size_t j = p->i + 1;
		if (j < p->n && (p->s[j] == '+' || p->s[j] == '-')) j++;
		if (j < p->n && isdigit((unsigned char)p->s[j])) {
			is_float = true;
			while (j < p->n && isdigit((unsigned char)p->s[j])) j++;
			p->i = j;
		}
	}
	size_t len = p->i - st;
	if (is_float) {
		char *tmp = xstrndup(p->s + st, len);
		double d = strtod(tmp, NULL);
		free(tmp);
		return json_new_float(d);
	}
	if (len == 2 && p->s[st] == '-' && p->s[st + 1] == '0') return json_new_int("0", 1);
	return json_new_int(p->s + st, len);
}

static struct tool_json *jp_value(struct jparse *p)
{
	if (p->i >= p->n) return NULL;
	char c = p->s[p->i];
	if (c == '"') {
		struct buf b;
		buf_init(&b);
		p->i++;
		if (!jp_string(p, &b)) return buf_free(&b), NULL;
		struct tool_json *v = tool_json_new_string(b.data ? b.data : "", b.len);
		buf_free(&b);
		return v;
	}
	if (c == '{' || c == '[') {
		if (++p->depth > TOOL_JSON_MAX_DEPTH) return NULL;
		bool obj = c == '{';
		struct tool_json *v = tool_json_new(obj ? TOOL_JSON_TYPE_OBJECT : TOOL_JSON_TYPE_ARRAY);
		p->i++;
		jp_ws(p);
		if (p->i < p->n && p->s[p->i] == (obj ? '}' : ']')) {
			p->i++;
			p->depth--;
			return v;
		}
		struct buf key;
		buf_init(&key);
		for (;;) {
			if (obj) {
				if (p->i >= p->n || p->s[p->i] != '"') goto fail;
				p->i++;
				buf_clear(&key);
				if (!jp_string(p, &key)) goto fail;
				jp_ws(p);
				if (p->i >= p->n || p->s[p->i] != ':') goto fail;
				p->i++;
				jp_ws(p);
			}
			struct tool_json *item = jp_value(p);
			if (!item) goto fail;
			if (obj) tool_json_object_set(v, key.data ? key.data : "", key.len, item);
			else tool_json_array_push(v, item);
			jp_ws(p);
			if (p->i >= p->n) goto fail;
			char d = p->s[p->i++];
			if (d == (obj ? '}' : ']')) break;
			if (d != ',') goto fail;
			jp_ws(p);
		}
		buf_free(&key);
		p->depth--;
		return v;
	fail:
		buf_free(&key);
		tool_json_free(v);
		return NULL;
	}
	if (jp_lit(p, "-Infinity")) return json_new_float(-INFINITY);
	if (c == '-' || isdigit((unsigned char)c)) return jp_number(p);
	if (jp_lit(p, "null")) return tool_json_new(TOOL_JSON_TYPE_NULL);
	if (jp_lit(p, "true")) return json_new_bool(true);
	if (jp_lit(p, "false")) return json_new_bool(false);
	if (jp_lit(p, "NaN")) return json_new_float(NAN);
	if (jp_lit(p, "Infinity")) return json_new_float(INFINITY);
	return NULL;
}

struct tool_json *tool_json_loads(const char *s, size_t n)
{
	struct jparse p = {s, n, 0, 0};
	jp_ws(&p);
	struct tool_json *v = jp_value(&p);
	if (!v) return NULL;
	jp_ws(&p);
	if (p.i != p.n) return tool_json_free(v), NULL; /* "Extra data" */
	return v;
}

/* ---------------------------------------------------------------- number helpers */

/* Decimal text of an unsigned integer given in base 2/8/16 digits (no prefix, no '_'). */
static char *base_to_decimal(const char *digits, size_t n, int base)
{
	/* Little-endian limbs of 10^9. */
	size_t cap = n / 2 + 2, used = 1;
	uint32_t *limb = xcalloc(cap, sizeof *limb);
	for (size_t i = 0; i < n; i++) {
		uint64_t carry = (uint64_t)hex_digit_value((unsigned char)digits[i]);
		for (size_t k = 0; k < used; k++) {
			uint64_t x = (uint64_t)limb[k] * (uint64_t)base + carry;
			limb[k] = (uint32_t)(x % 1000000000u);
			carry = x / 1000000000u;
		}
		if (carry) limb[used++] = (uint32_t)carry;
	}
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%u", limb[used - 1]);
	for (size_t k = used - 1; k-- > 0;) buf_printf(&b, "%09u", limb[k]);
	free(limb);
	return buf_take(&b);
}

/* Strips leading zeros and adds the sign: canonical Python int text. */
static struct tool_json *int_from_digits(const char *d, size_t n, bool neg)
{
	while (n > 1 && d[0] == '0') d++, n--;
	if (n == 1 && d[0] == '0') neg = false;
	struct buf b;
	buf_init(&b);
	if (neg) buf_putc(&b, '-');
	buf_append(&b, d, n);
	struct tool_json *v = json_new_int(b.data, b.len);
	buf_free(&b);
	return v;
}

/* digit ('_'? digit)* at s[*i]; appends the digits (without '_') to out. */
static bool scan_digitpart(const char *s, size_t n, size_t *i, int base, struct buf *out)
{
	size_t j = *i;
	bool any = false;
	for (;;) {
		if (j < n && s[j] == '_' && any) j++;
		else if (j < n && s[j] == '_') return false;
		int h = j < n ? hex_digit_value((unsigned char)s[j]) : -1;
		if (h < 0 || h >= base) {
			if (j > *i && s[j - 1] == '_') return false; /* trailing underscore */
			break;
		}
		buf_putc(out, s[j]);
		any = true;
		j++;
	}
	if (!any) return false;
	*i = j;
	return true;
}

static double strtod_buf(struct buf *b)
{
	return strtod(b->data ? b->data : "0", NULL);
}

/* ---------------------------------------------------------------- Python str helpers */

bool tool_py_isspace(uint32_t cp)
{
	if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
	if (cp < 0x85) return false;
	return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

void tool_py_strip(const char *s, size_t n, size_t *start, size_t *len)
{
	size_t i = 0, first = n, end = 0;
	while (i < n) {
		uint32_t cp;
		int k = utf8_decode(s + i, n - i, &cp);
		bool sp = k > 0 && tool_py_isspace(cp);
		if (k <= 0) k = 1;
		if (!sp) {
			if (first == n) first = i;
			end = i + (size_t)k;
		}
		i += (size_t)k;
	}
	if (first == n) *start = n, *len = 0;
	else *start = first, *len = end - first;
}

struct tool_json *tool_py_int(const char *s, size_t n)
{
	size_t a, len;
	tool_py_strip(s, n, &a, &len);
	const char *p = s + a;
	size_t i = 0;
	bool neg = false;
	if (i < len && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
	struct buf d;
	buf_init(&d);
	struct tool_json *v = NULL;
	if (scan_digitpart(p, len, &i, 10, &d) && i == len) v = int_from_digits(d.data, d.len, neg);
	buf_free(&d);
	return v;
}

static bool ieq(const char *a, size_t n, const char *w)
{
	if (strlen(w) != n) return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)a[i]) != w[i]) return false;
	return true;
}

struct tool_json *tool_py_float(const char *s, size_t n)
{
	size_t a, len;
	tool_py_strip(s, n, &a, &len);
	const char *p = s + a;
	size_t i = 0;
	bool neg = false;
	if (i < len && (p[i] == '+' || p[i] == '-')) neg = p[i++] == '-';
	if (ieq(p + i, len - i, "inf") || ieq(p + i, len - i, "infinity"))
		return json_new_float(neg ? -INFINITY : INFINITY);
	if (ieq(p + i, len - i, "nan")) return json_new_float(NAN);
	struct buf d;
	buf_init(&d);
	if (neg) buf_putc(&d, '-');
	bool any = false;
	if (i < len && isdigit((unsigned char)p[i])) {
		if (!scan_digitpart(p, len, &i, 10, &d)) goto fail;
		any = true;
	}
	if (i < len && p[i] == '.') {
		buf_putc(&d, '.');
		i++;
		if (i < len && isdigit((unsigned char)p[i])) {
			if (!scan_digitpart(p, len, &i, 10, &d)) goto fail;
			any = true;
		}
	}
	if (!any) goto fail;
	if (i < len && (p[i] == 'e' || p[i] == 'E')) {
		buf_putc(&d, 'e');
		i++;
		if (i < len && (p[i] == '+' || p[i] == '-')) buf_putc(&d, p[i++]);
		if (!scan_digitpart(p, len, &i, 10, &d)) goto fail;
	}
	if (i != len) goto fail;
	struct tool_json *v = json_new_float(strtod_buf(&d));
	buf_free(&d);
	return v;
fail:
	buf_free(&d);
	return NULL;
}

/* ---------------------------------------------------------------- ast.literal_eval */

struct lparse {
	const char *s;
	size_t n, i;
	int depth;
};

/* Newlines separate statements outside brackets, so there only spaces, tabs and form feeds. */
static void lp_ws(struct lparse *p)
{
	while (p->i < p->n) {
		char c = p->s[p->i];
		bool nl = c == '\n' || c == '\r';
		if (c != ' ' && c != '\t' && c != '\f' && !(nl && p->depth > 0)) break;
		p->i++;
	}
}

/* Only whitespace (newlines included) from p->i on: trailing blank lines end the input. */
static bool lp_rest_blank(const struct lparse *p)
{
	for (size_t k = p->i; k < p->n; k++)
		if (!strchr(" \t\f\n\r", p->s[k])) return false;
	return true;
}

static bool is_ident(int c) { return isalnum(c) || c == '_' || c >= 0x80; }

/* One string literal (prefix already checked to be r/u or none) at p->i; appends its value. */
static bool lp_string_one(struct lparse *p, bool raw, struct buf *out)
{
	char q = p->s[p->i];
	bool triple = p->n - p->i >= 3 && p->s[p->i + 1] == q && p->s[p->i + 2] == q;
	p->i += triple ? 3 : 1;
	for (;;) {
		if (p->i >= p->n) return false;
		char c = p->s[p->i];
		if (c == q) {
			if (!triple) return p->i++, true;
			if (p->n - p->i >= 3 && p->s[p->i + 1] == q && p->s[p->i + 2] == q) return p->i += 3, true;
		}
		if (!triple && (c == '\n' || c == '\r')) return false;
		if (c != '\\') {
			buf_putc(out, c);
			p->i++;
			continue;
		}
		if (p->i + 1 >= p->n) return false;
		char e = p->s[p->i + 1];
		if (raw) {
			buf_putc(out, '\\');
			buf_putc(out, e);
			p->i += 2;
			continue;
		}
		p->i++; /* at e */
		if (e == '\r') { /* \<CR> or \<CR><LF>: a line continuation in source, as \<LF> is */
			p->i++;
			if (p->i < p->n && p->s[p->i] == '\n') p->i++;
			continue;
		}
		uint32_t cp;
		if (py_escape_decode(p->s, p->n, &p->i, out, &cp) != PY_ESCAPE_OK) return false;
	}
}

/* Length of a string prefix (r, u, b, f, rb, br, fr, rf, any case) followed by a quote at p->i,
 * or -1 if no string starts here. */
static int lp_string_prefix(const struct lparse *p, bool *raw, bool *bad)
{
	size_t j = p->i;
	*raw = *bad = false;
	while (j < p->n && j - p->i < 2 && strchr("rRuUbBfF", p->s[j]) && p->s[j]) j++;
	if (j >= p->n || (p->s[j] != '\'' && p->s[j] != '"')) return -1;
	for (size_t k = p->i; k < j; k++) {
		char c = (char)tolower((unsigned char)p->s[k]);
		if (c == 'r') *raw = true;
		if (c == 'b' || c == 'f') *bad = true; /* bytes: json.dumps fails; f-strings: not literals */
		if (c == 'u' && j - p->i > 1) *bad = true;
	}
	return (int)(j - p->i);
}

static struct tool_json *lp_value(struct lparse *p);

static struct tool_json *lp_number(struct lparse *p, bool neg)
{
	const char *s = p->s;
	size_t n = p->n, i = p->i;
	struct buf d;
	buf_init(&d);
	struct tool_json *v = NULL;
	if (s[i] == '0' && i + 1 < n && strchr("xXoObB", s[i + 1]) && s[i + 1]) {
		int base = strchr("xX", s[i + 1]) ? 16 : strchr("oO", s[i + 1]) ? 8 : 2;
		i += 2;
		if (i < n && s[i] == '_') i++; /* 0x_1f is valid */
		if (!scan_digitpart(s, n, &i, base, &d)) goto out;
		if (i < n && is_ident((unsigned char)s[i])) goto out;
		char *dec = base_to_decimal(d.data, d.len, base);
		v = int_from_digits(dec, strlen(dec), neg);
		free(dec);
		p->i = i;
		goto out;
	}
	bool is_float = false, any = false;
	if (neg) buf_putc(&d, '-');
	size_t int_start = d.len;
	if (i < n && isdigit((unsigned char)s[i])) {
		if (!scan_digitpart(s, n, &i, 10, &d)) goto out;
		any = true;
	}
	size_t int_end = d.len;
	if (i < n && s[i] == '.') {
		is_float = true;
		buf_putc(&d, '.');
		i++;
		if (i < n && isdigit((unsigned char)s[i])) {
			if (!scan_digitpart(s, n, &i, 10, &d)) goto out;
			any = true;
		}
	}
	if (!any) goto out;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		struct buf ex;
		buf_init(&ex);
		buf_putc(&ex, 'e');
		if (j < n && (s[j] == '+' || s[j] == '-')) buf_putc(&ex, s[j++]);
		if (j < n && isdigit((unsigned char)s[j]) && scan_digitpart(s, n, &j, 10, &ex)) {
			buf_append(&d, ex.data, ex.len);
			is_float = true;
			i = j;
		}
		buf_free(&ex);
	}
	if (i < n && is_ident((unsigned char)s[i])) goto out; /* 1j (complex), 1abc */
	if (is_float) {
		v = json_new_float(strtod_buf(&d));
	} else {
		const char *digits = d.data + int_start;
		size_t nd = int_end - int_start;
		bool nonzero = false;
		for (size_t k = 0; k < nd; k++) nonzero |= digits[k] != '0';
		if (nd > 1 && digits[0] == '0' && nonzero) goto out; /* leading zeros: SyntaxError */
		v = int_from_digits(digits, nd, neg);
	}
	p->i = i;
out:
	buf_free(&d);
	return v;
}

/* The key json.dumps writes for a dict key, or false where json.dumps raises. Also the identity
 * Python's dict uses, so that 1, 1.0 and True collide as they do there. */
static bool lp_key_text(const struct tool_json *k, struct buf *json_key, struct buf *ident)
{
	switch (k->type) {
	case TOOL_JSON_TYPE_STRING:
		buf_append(json_key, k->s, k->len);
		buf_putc(ident, 's');
		buf_append(ident, k->s, k->len);
		return true;
	case TOOL_JSON_TYPE_NULL:
		buf_puts(json_key, "null");
		buf_puts(ident, "z");
		return true;
	case TOOL_JSON_TYPE_BOOL:
		buf_puts(json_key, k->b ? "true" : "false");
		buf_puts(ident, k->b ? "n1" : "n0");
		return true;
	case TOOL_JSON_TYPE_INT:
		buf_append(json_key, k->s, k->len);
		buf_putc(ident, 'n');
		buf_append(ident, k->s, k->len);
		return true;
	case TOOL_JSON_TYPE_FLOAT:
		buf_put_json_float(json_key, k->f);
		buf_putc(ident, 'n');
		if (isfinite(k->f) && k->f == floor(k->f) && fabs(k->f) < 9007199254740992.0)
			buf_printf(ident, "%.0f", k->f == 0 ? 0.0 : k->f);
		else buf_put_json_float(ident, k->f);
		return true;
	default: return false; /* list: unhashable; tuple: json.dumps rejects the key */
	}
}

static struct tool_json *lp_container(struct lparse *p, char open)
{
	char close = open == '[' ? ']' : open == '(' ? ')' : '}';
	p->i++;
	lp_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return tool_json_new(open == '{' ? TOOL_JSON_TYPE_OBJECT : TOOL_JSON_TYPE_ARRAY);
	}
	struct tool_json *v = tool_json_new(open == '{' ? TOOL_JSON_TYPE_OBJECT : TOOL_JSON_TYPE_ARRAY);
	/* For dicts: Python identity of each key -> index into v (first key's text stays). */
	struct tool_json *ids = open == '{' ? tool_json_new(TOOL_JSON_TYPE_OBJECT) : NULL;
	struct buf jk, id;
	buf_init(&jk);
	buf_init(&id);
	bool saw_comma = false;
	size_t count = 0;
	for (;;) {
		struct tool_json *item = lp_value(p);
		if (!item) goto fail;
		lp_ws(p);
		if (open == '{') {
			if (p->i >= p->n || p->s[p->i] != ':') { /* a set, or junk */
				tool_json_free(item);
				goto fail;
			}
			p->i++;
			struct tool_json *val = lp_value(p);
			buf_clear(&jk);
			buf_clear(&id);
			bool ok = val && lp_key_text(item, &jk, &id);
			tool_json_free(item);
			if (!ok) {
				tool_json_free(val);
				goto fail;
			}
			/* ids mirrors v's keys one to one, so its index is v's index. */
			long at = object_find(ids, id.data, id.len);
			if (at >= 0) {
				tool_json_free(v->items[at]);
				v->items[at] = val;
			} else {
				tool_json_object_set(ids, id.data, id.len, tool_json_new(TOOL_JSON_TYPE_NULL));
				json_grow(v);
				v->keys[v->n] = xstrndup(jk.data, jk.len);
				v->key_lens[v->n] = jk.len;
				v->items[v->n++] = val;
			}
			lp_ws(p);
		} else {
			tool_json_array_push(v, item);
		}
		count++;
		if (p->i >= p->n) goto fail;
		char d = p->s[p->i];
		if (d == close) {
			p->i++;
			break;
		}
		if (d != ',') goto fail;
		p->i++;
		saw_comma = true;
		lp_ws(p);
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			break;
		}
	}
	buf_free(&jk);
	buf_free(&id);
	tool_json_free(ids);
	if (open == '(' && count == 1 && !saw_comma) {
		/* "(x)" is x itself, not a tuple. */
		struct tool_json *x = v->items[0];
		v->n = 0;
		tool_json_free(v);
		return x;
	}
	if (open == '{' && v->n >= 16) object_reindex(v);
	return v;
fail:
	buf_free(&jk);
	buf_free(&id);
	tool_json_free(ids);
	tool_json_free(v);
	return NULL;
}

static struct tool_json *lp_value(struct lparse *p)
{
	lp_ws(p);
	if (p->i >= p->n) return NULL;
	char c = p->s[p->i];
	if (c == '[' || c == '(' || c == '{') {
		if (++p->depth > TOOL_JSON_MAX_DEPTH) return NULL;
		struct tool_json *v = lp_container(p, c);
		p->depth--;
		return v;
	}
	bool raw, bad;
	if (lp_string_prefix(p, &raw, &bad) >= 0) {
		/* Adjacent literals concatenate: 'a' "b" == 'ab'. */
		struct buf b;
		buf_init(&b);
		int k;
		while ((k = lp_string_prefix(p, &raw, &bad)) >= 0) {
			if (bad) return buf_free(&b), NULL;
			p->i += (size_t)k;
			if (!lp_string_one(p, raw, &b)) return buf_free(&b), NULL;
			lp_ws(p);
		}
		struct tool_json *v = tool_json_new_string(b.data ? b.data : "", b.len);
		buf_free(&b);
		return v;
	}
	if (c == '-' || c == '+') {
		p->i++;
		lp_ws(p);
		if (p->i >= p->n) return NULL;
		char d = p->s[p->i];
		if (!isdigit((unsigned char)d) && !(d == '.' && p->i + 1 < p->n && isdigit((unsigned char)p->s[p->i + 1])))
			return NULL;
		return lp_number(p, c == '-');
	}
	if (isdigit((unsigned char)c) || (c == '.' && p->i + 1 < p->n && isdigit((unsigned char)p->s[p->i + 1])))
		return lp_number(p, false);
	if (is_ident((unsigned char)c)) {
		size_t j = p->i;
		while (j < p->n && is_ident((unsigned char)p->s[j])) j++;
		size_t len = j - p->i;
		const char *w = p->s + p->i;
		struct tool_json *v = NULL;
		if (len == 4 && memcmp(w, "True", 4) == 0) v = json_new_bool(true);
		else if (len == 5 && memcmp(w, "False", 5) == 0) v = json_new_bool(false);
		else if (len == 4 && memcmp(w, "None", 4) == 0) v = tool_json_new(TOOL_JSON_TYPE_NULL);
		if (v) p->i = j;
		return v;
	}
	return NULL;
}

struct tool_json *tool_json_literal_eval(const char *s, size_t n)
{
	if (memchr(s, 0, n)) return NULL; /* "source code string cannot contain null bytes" */
	struct lparse p = {s, n, 0, 0};
	/* literal_eval lstrips spaces and tabs; blank lines may follow, but no indented line. */
	for (;;) {
		size_t k = p.i;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\f')) k++;
		if (k < n && (s[k] == '\n' || s[k] == '\r')) p.i = k + 1;
		else break;
	}
	if (p.i > 0 && p.i < n && (s[p.i] == ' ' || s[p.i] == '\t')) return NULL; /* unexpected indent */
	struct tool_json *v = lp_value(&p);
	if (!v) return NULL;
	lp_ws(&p);
	if (p.i < p.n && p.s[p.i] == ',') {
		/* "1, 2" and "'s'," are tuples without parentheses. */
		struct tool_json *t = tool_json_new(TOOL_JSON_TYPE_ARRAY);
		tool_json_array_push(t, v);
		v = t;
		while (p.i < p.n && p.s[p.i] == ',') {
			p.i++;
			lp_ws(&p);
			if (lp_rest_blank(&p)) break;
			struct tool_json *x = lp_value(&p);
			if (!x) return tool_json_free(v), NULL;
			tool_json_array_push(v, x);
			lp_ws(&p);
		}
	}
	if (!lp_rest_blank(&p)) return tool_json_free(v), NULL;
	/* A last line of only spaces after a newline is an "unexpected indent". */
	size_t end = n;
	while (end > p.i && (s[end - 1] == ' ' || s[end - 1] == '\t' || s[end - 1] == '\f')) end--;
	if (end < n && memchr(s + p.i, '\n', end - p.i) == NULL && memchr(s + p.i, '\r', end - p.i) == NULL) end = n;
	if (end < n) return tool_json_free(v), NULL;
	return v;
}

/* ---------------------------------------------------------------- json.dumps */

void tool_json_escape(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t st = i;
		while (i < n) {
			unsigned char c = (unsigned char)s[i];
			if (c < 0x20 || c == '"' || c == '\\') break;
			i++;
		}
		buf_append(out, s + st, i - st);
		if (i >= n) break;
		unsigned char c = (unsigned char)s[i++];
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\b': buf_puts(out, "\\b"); break;
		case '\f': buf_puts(out, "\\f"); break;
		default: buf_printf(out, "\\u%04x", c);
		}
	}
}

void tool_json_dump_string(const char *s, size_t n, struct buf *out)
{
	buf_putc(out, '"');
	tool_json_escape(s, n, out);
	buf_putc(out, '"');
}

void tool_json_dumps(const struct tool_json *v, struct buf *out)
{
	switch (v->type) {
	case TOOL_JSON_TYPE_NULL: buf_puts(out, "null"); break;
	case TOOL_JSON_TYPE_BOOL: buf_puts(out, v->b ? "true" : "false"); break;
	case TOOL_JSON_TYPE_INT: buf_append(out, v->s, v->len); break;
	case TOOL_JSON_TYPE_FLOAT: buf_put_json_float(out, v->f); break;
	case TOOL_JSON_TYPE_STRING: tool_json_dump_string(v->s, v->len, out); break;
	case TOOL_JSON_TYPE_ARRAY:
		buf_putc(out, '[');
		for (size_t i = 0; i < v->n; i++) {
			if (i) buf_puts(out, ", ");
			tool_json_dumps(v->items[i], out);
		}
		buf_putc(out, ']');
		break;
	case TOOL_JSON_TYPE_OBJECT:
		buf_putc(out, '{');
		for (size_t i = 0; i < v->n; i++) {
			if (i) buf_puts(out, ", ");
			tool_json_dump_string(v->keys[i], v->key_lens[i], out);
			buf_puts(out, ": ");
			tool_json_dumps(v->items[i], out);
		}
		buf_putc(out, '}');
		break;
	}
}
