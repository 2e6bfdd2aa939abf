/* jinja_lexer.c — turns template source into tokens exactly as jinja2's Lexer does with
 * trim_blocks=True and lstrip_blocks=True: `{%-`/`-%}` whitespace control, `{%+`/`+%}`,
 * lstrip of a block/comment tag preceded only by whitespace on its line, the first newline
 * after a block or comment tag dropped, raw blocks, Python string-literal escapes
 * (decoded like jinja2: ascii(backslashreplace) then unicode-escape).
 * Does not own parsing. Thread rules: pure functions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jinja_internal.h"
#include "chat/py_escape.h"

char *jinja_lex_normalize(const char *src, size_t len, size_t *out_len)
{
	char *o = xmalloc(len + 1);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (src[i] == '\r') {
			if (i + 1 < len && src[i + 1] == '\n') i++;
			o[n++] = '\n';
		} else {
			o[n++] = src[i];
		}
	}
	if (n && o[n - 1] == '\n') n--; /* keep_trailing_newline=False drops exactly one */
	o[n] = 0;
	*out_len = n;
	return o;
}

void jinja_lex_position(const char *src, size_t pos, int *line, int *col)
{
	int l = 1, c = 1;
	for (size_t i = 0; i < pos && src[i]; i++) {
		if (src[i] == '\n') {
			l++;
			c = 1;
		} else if (((uint8_t)src[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

struct lexer {
	const char *s;
	size_t n;
	const char *name;
	struct jtokens *out;
	/* running position for line/col of token starts */
	size_t at;
	int line, col;
	struct err *e;
};

static void lx_seek(struct lexer *lx, size_t pos)
{
	for (; lx->at < pos; lx->at++) {
		char c = lx->s[lx->at];
		if (c == '\n') {
			lx->line++;
			lx->col = 1;
		} else if (((uint8_t)c & 0xc0) != 0x80) {
			lx->col++;
		}
	}
}

static int lx_fail(struct lexer *lx, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int lx_fail(struct lexer *lx, size_t pos, const char *fmt, ...)
{
	int line, col;
	jinja_lex_position(lx->s, pos, &line, &col);
	char msg[700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(lx->e, "%s:%d:%d: %s", lx->name, line, col, msg);
}

static struct jtoken *lx_emit(struct lexer *lx, enum jtok type, size_t pos)
{
	lx_seek(lx, pos);
	struct jtoken t = {.type = type, .line = lx->line, .col = lx->col};
	JVEC_PUSH(lx->out->v, lx->out->n, lx->out->cap, t);
	return &lx->out->v[lx->out->n - 1];
}

static void lx_emit_data(struct lexer *lx, size_t pos, const char *text, size_t len)
{
	if (!len) return;
	struct jtoken *t = lx_emit(lx, JTOK_DATA, pos);
	t->text = xstrndup(text, len);
	t->len = len;
}

/* length of the Unicode whitespace run at s[i..n) */
static size_t ws_run(const char *s, size_t i, size_t n)
{
	size_t j = i;
	while (j < n) {
		uint32_t cp;
		int k = ju_next(s + j, n - j, &cp);
		if (!ju_isspace(cp)) break;
		j += (size_t)k;
	}
	return j - i;
}

/* Python str.rstrip(): length of s[0..n) without trailing Unicode whitespace */
static size_t rstrip_len(const char *s, size_t n)
{
	size_t end = n;
	while (end > 0) {
		size_t st = end - 1;
		while (st > 0 && ((uint8_t)s[st] & 0xc0) == 0x80) st--;
		uint32_t cp;
		ju_next(s + st, end - st, &cp);
		if (!ju_isspace(cp)) break;
		end = st;
	}
	return end;
}

static bool all_space(const char *s, size_t n) { return n > 0 && ws_run(s, 0, n) == n; }

/* Applies `-` stripping or lstrip_blocks to the text before a tag (jinja2 OptionalLStrip). */
static size_t strip_before(const char *text, size_t len, char sign, bool lstrip_ok, bool line_starting)
{
	if (sign == '-') return rstrip_len(text, len);
	if (sign != '+' && lstrip_ok) {
		size_t l_pos = 0;
		for (size_t i = len; i > 0; i--)
			if (text[i - 1] == '\n') {
				l_pos = i;
				break;
			}
		if ((l_pos > 0 || line_starting) && all_space(text + l_pos, len - l_pos)) return l_pos;
	}
	return len;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

/* (\d+_)*\d+ at s+i; returns length or 0 */
static size_t digits_us(const char *s, size_t i, size_t n)
{
	size_t j = i;
	if (j >= n || !is_digit(s[j])) return 0;
	for (;;) {
		while (j < n && is_digit(s[j])) j++;
		if (j + 1 < n && s[j] == '_' && is_digit(s[j + 1])) {
			j++;
			continue;
		}
		break;
	}
	return j - i;
}

static size_t match_float(const char *s, size_t i, size_t n)
{
	if (i > 0 && s[i - 1] == '.') return 0;
	size_t a = digits_us(s, i, n);
	if (!a) return 0;
	size_t j = i + a;
	/* (\.(\d+_)*\d+)? e[+-]?(\d+_)*\d+  |  \.(\d+_)*\d+ */
	size_t frac = 0;
	if (j < n && s[j] == '.') {
		size_t f = digits_us(s, j + 1, n);
		if (f) frac = 1 + f;
	}
	size_t k = j + frac;
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		size_t m = k + 1;
		if (m < n && (s[m] == '+' || s[m] == '-')) m++;
		size_t d = digits_us(s, m, n);
		if (d) return m + d - i;
	}
	return frac ? j + frac - i : 0;
}

static bool is_digit_base(char c, int base)
{
	if (base == 2) return c == '0' || c == '1';
	if (base == 8) return c >= '0' && c <= '7';
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t match_int(const char *s, size_t i, size_t n, int *base)
{
	*base = 10;
	if (s[i] == '0' && i + 1 < n) {
		char p = s[i + 1];
		int b = (p == 'b' || p == 'B') ? 2 : (p == 'o' || p == 'O') ? 8 : (p == 'x' || p == 'X') ? 16 : 0;
		if (b) {
			size_t j = i + 2, start = j;
			for (;;) {
				if (j < n && is_digit_base(s[j], b)) j++;
				else if (j + 1 < n && s[j] == '_' && is_digit_base(s[j + 1], b)) j += 2;
				else break;
			}
			if (j > start) {
				*base = b;
				return j - i;
			}
		}
	}
	if (s[i] >= '1' && s[i] <= '9') {
		size_t j = i + 1;
		for (;;) {
			if (j < n && is_digit(s[j])) j++;
			else if (j + 1 < n && s[j] == '_' && is_digit(s[j + 1])) j += 2;
			else break;
		}
		return j - i;
	}
	if (s[i] == '0') {
		size_t j = i + 1;
		for (;;) {
			if (j < n && s[j] == '0') j++;
			else if (j + 1 < n && s[j] == '_' && s[j + 1] == '0') j += 2;
			else break;
		}
		return j - i;
	}
	return 0;
}

/* Decodes a string literal body the way jinja2 does:
 * value.encode("ascii", "backslashreplace").decode("unicode-escape"). */
static int decode_string(struct lexer *lx, size_t pos, const char *body, size_t len, struct buf *out)
{
	struct buf a;
	buf_init(&a);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int k = ju_next(body + i, len - i, &cp);
		if (cp < 0x80) buf_putc(&a, (char)cp);
		else if (cp < 0x100) buf_printf(&a, "\\x%02x", cp);
		else if (cp < 0x10000) buf_printf(&a, "\\u%04x", cp);
		else buf_printf(&a, "\\U%08x", cp);
		i += (size_t)k;
	}
	const char *s = a.data ? a.data : "";
	size_t n = a.len;
	int rc = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] != '\\') {
			buf_putc(out, s[i++]);
			continue;
		}
		if (i + 1 >= n) {
			rc = lx_fail(lx, pos, "\\ at end of string");
			break;
		}
		char c = s[++i];
		uint32_t cp;
		enum py_escape r = py_escape_decode(s, n, &i, out, &cp);
		if (r == PY_ESCAPE_TRUNCATED) rc = lx_fail(lx, pos, "truncated \\%c escape in string literal", c);
		else if (r == PY_ESCAPE_RANGE) rc = lx_fail(lx, pos, "illegal Unicode character in string literal");
		else if (r == PY_ESCAPE_NAMED) rc = lx_fail(lx, pos, "unsupported: \\N{...} escape in string literal");
		else if (cp >= 0xd800 && cp <= 0xdfff)
			rc = lx_fail(lx, pos, "unsupported: surrogate code point escape in string literal");
		if (rc) break;
	}
	buf_free(&a);
	return rc;
}

static const struct {
	const char *op;
	enum jtok t;
} ops[] = {
	{"//", JTOK_FLOORDIV}, {"**", JTOK_POW}, {"==", JTOK_EQ}, {"!=", JTOK_NE}, {">=", JTOK_GTEQ},
	{"<=", JTOK_LTEQ},     {"+", JTOK_ADD},  {"-", JTOK_SUB}, {"/", JTOK_DIV}, {"*", JTOK_MUL},
	{"%", JTOK_MOD},       {"~", JTOK_TILDE}, {"[", JTOK_LBRACKET}, {"]", JTOK_RBRACKET},
	{"(", JTOK_LPAREN},    {")", JTOK_RPAREN}, {"{", JTOK_LBRACE}, {"}", JTOK_RBRACE},
	{">", JTOK_GT},        {"<", JTOK_LT},   {"=", JTOK_ASSIGN}, {".", JTOK_DOT}, {":", JTOK_COLON},
	{"|", JTOK_PIPE},      {",", JTOK_COMMA}, {";", JTOK_SEMICOLON},
};

/* Lexes the inside of a {{ }} or {% %} tag starting at *pos. On return *pos is past the end tag
 * and *line_starting tells whether the end-tag match ended with a newline. */
static int lex_tag(struct lexer *lx, size_t *pos, bool block, bool *line_starting)
{
	const char *s = lx->s;
	size_t n = lx->n, i = *pos;
	char stack[256];
	int depth = 0;
	for (;;) {
		if (i >= n) { /* jinja2's lexer simply stops; the parser reports the missing end */
			*pos = i;
			*line_starting = false;
			return 0;
		}
		if (depth == 0) {
			size_t end = 0;
			bool is_end = false;
			if (block) {
				if (s[i] == '+' && i + 2 < n && s[i + 1] == '%' && s[i + 2] == '}') {
					is_end = true;
					end = i + 3;
				} else if (s[i] == '-' && i + 2 < n && s[i + 1] == '%' && s[i + 2] == '}') {
					is_end = true;
					end = i + 3;
					end += ws_run(s, end, n);
				} else if (s[i] == '%' && i + 1 < n && s[i + 1] == '}') {
					is_end = true;
					end = i + 2;
					if (end < n && s[end] == '\n') end++; /* trim_blocks */
				}
			} else {
				if (s[i] == '-' && i + 2 < n && s[i + 1] == '}' && s[i + 2] == '}') {
					is_end = true;
					end = i + 3;
					end += ws_run(s, end, n);
				} else if (s[i] == '}' && i + 1 < n && s[i + 1] == '}') {
					is_end = true;
					end = i + 2;
				}
			}
			if (is_end) {
				lx_emit(lx, block ? JTOK_BLOCK_END : JTOK_VAR_END, i);
				*line_starting = s[end - 1] == '\n';
				*pos = end;
				return 0;
			}
		}
		size_t w = ws_run(s, i, n);
		if (w) {
			i += w;
			continue;
		}
		size_t m = match_float(s, i, n);
		if (m) {
			char tmp[128];
			size_t k = 0;
			for (size_t j = i; j < i + m && k < sizeof tmp - 1; j++)
				if (s[j] != '_') tmp[k++] = s[j];
			tmp[k] = 0;
			struct jtoken *t = lx_emit(lx, JTOK_FLOAT, i);
			t->f = strtod(tmp, NULL);
			i += m;
			continue;
		}
		int base;
		m = match_int(s, i, n, &base);
		if (m) {
			char tmp[128];
			size_t k = 0;
			size_t j = i + (base != 10 ? 2 : 0);
			for (; j < i + m && k < sizeof tmp - 1; j++)
				if (s[j] != '_') tmp[k++] = s[j];
			tmp[k] = 0;
			errno = 0;
			unsigned long long v = strtoull(tmp, NULL, base);
			if (errno || v > (unsigned long long)INT64_MAX)
				return lx_fail(lx, i, "unsupported: integer literal out of the 64-bit range");
			struct jtoken *t = lx_emit(lx, JTOK_INT, i);
			t->i = (int64_t)v;
			i += m;
			continue;
		}
		if (is_name_start(s[i])) {
			size_t j = i + 1;
			while (j < n && is_name_char(s[j])) j++;
			if (j < n && ((uint8_t)s[j] & 0x80))
				return lx_fail(lx, i, "unsupported: non-ASCII identifier");
			struct jtoken *t = lx_emit(lx, JTOK_NAME, i);
			t->text = xstrndup(s + i, j - i);
			t->len = j - i;
			i = j;
			continue;
		}
		if (s[i] == '\'' || s[i] == '"') {
			char q = s[i];
			size_t j = i + 1;
			while (j < n && s[j] != q) {
				if (s[j] == '\\') {
					if (j + 1 >= n) break;
					j += 2;
					continue;
				}
				j++;
			}
			if (j < n && s[j] == q) {
				struct buf b;
				buf_init(&b);
				if (decode_string(lx, i, s + i + 1, j - i - 1, &b)) {
					buf_free(&b);
					return -1;
				}
				struct jtoken *t = lx_emit(lx, JTOK_STRING, i);
				t->len = b.len;
				t->text = b.data ? buf_take(&b) : xstrdup("");
				i = j + 1;
				continue;
			}
			/* unterminated: jinja2 falls through to the operator rule, which fails */
		}
		bool found = false;
		for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
			size_t ol = strlen(ops[k].op);
			if (i + ol <= n && !memcmp(s + i, ops[k].op, ol)) {
				enum jtok t = ops[k].t;
				char c = ops[k].op[0];
				if (ol == 1 && (c == '{' || c == '(' || c == '[')) {
					if (depth >= (int)sizeof stack) return lx_fail(lx, i, "brackets nested too deeply");
					stack[depth++] = c == '{' ? '}' : c == '(' ? ')' : ']';
				} else if (ol == 1 && (c == '}' || c == ')' || c == ']')) {
					if (!depth) return lx_fail(lx, i, "unexpected '%c'", c);
					char want = stack[--depth];
					if (want != c) return lx_fail(lx, i, "unexpected '%c', expected '%c'", c, want);
				}
				lx_emit(lx, t, i);
				i += ol;
				found = true;
				break;
			}
		}
		if (!found) {
			uint32_t cp;
			int k = ju_next(s + i, n - i, &cp);
			return lx_fail(lx, i, "unexpected char '%.*s'", k, s + i);
		}
	}
}

int jinja_lex(const char *src, size_t len, const char *name, struct jtokens *out, struct err *e)
{
	struct lexer lx = {.s = src, .n = len, .name = name, .out = out, .line = 1, .col = 1, .e = e};
	size_t pos = 0;
	bool line_starting = true;
	while (pos < len) {
		/* find the next tag opener */
		size_t t = pos;
		char kind = 0;
		for (; t + 1 < len; t++) {
			if (src[t] == '{' && (src[t + 1] == '{' || src[t + 1] == '%' || src[t + 1] == '#')) {
				kind = src[t + 1];
				break;
			}
		}
		if (!kind) {
			lx_emit_data(&lx, pos, src + pos, len - pos);
			break;
		}
		size_t after = t + 2;
		char sign = after < len && (src[after] == '-' || src[after] == '+') ? src[after] : 0;
		size_t body = after + (sign ? 1 : 0);
		/* raw block: {%(-|+|)\s*raw\s*(?:-%}\s*|%}) */
		size_t raw_end = 0;
		if (kind == '%') {
			size_t j = body + ws_run(src, body, len);
			if (j + 3 <= len && !memcmp(src + j, "raw", 3)) {
				j += 3;
				j += ws_run(src, j, len);
				if (j + 3 <= len && !memcmp(src + j, "-%}", 3)) raw_end = j + 3 + ws_run(src, j + 3, len);
				else if (j + 2 <= len && !memcmp(src + j, "%}", 2)) raw_end = j + 2;
			}
		}
		size_t keep = strip_before(src + pos, t - pos, sign, kind != '{', line_starting);
		lx_emit_data(&lx, pos, src + pos, keep);
		if (raw_end) {
			/* (.*?)((?:{%(-|+|))\s*endraw\s*(?:\+%}|-%}\s*|%}\n?)) */
			size_t p = raw_end, stop = 0, data_end = 0;
			char esign = 0;
			for (; p + 1 < len; p++) {
				if (src[p] != '{' || src[p + 1] != '%') continue;
				size_t q = p + 2;
				char sg = q < len && (src[q] == '-' || src[q] == '+') ? src[q] : 0;
				if (sg) q++;
				q += ws_run(src, q, len);
				if (q + 6 > len || memcmp(src + q, "endraw", 6)) continue;
				q += 6;
				q += ws_run(src, q, len);
				if (q + 3 <= len && src[q] == '+' && src[q + 1] == '%' && src[q + 2] == '}') stop = q + 3;
				else if (q + 3 <= len && src[q] == '-' && src[q + 1] == '%' && src[q + 2] == '}')
					stop = q + 3 + ws_run(src, q + 3, len);
				else if (q + 2 <= len && src[q] == '%' && src[q + 1] == '}')
					stop = q + 2 + (q + 2 < len && src[q + 2] == '\n');
				else continue;
				data_end = p;
				esign = sg;
				break;
			}
			if (!stop) return lx_fail(&lx, t, "Missing end of raw directive");
			bool ls = src[raw_end - 1] == '\n';
			size_t k = strip_before(src + raw_end, data_end - raw_end, esign, true, ls);
			lx_emit_data(&lx, raw_end, src + raw_end, k);
			line_starting = src[stop - 1] == '\n';
			pos = stop;
			continue;
		}
		if (kind == '#') {
			size_t q = body;
			size_t end = 0;
			for (; q + 1 < len; q++) {
				if (src[q] == '#' && src[q + 1] == '}') break;
			}
			if (q + 1 >= len) return lx_fail(&lx, t, "Missing end of comment tag");
			if (q > body && src[q - 1] == '-') end = q + 2 + ws_run(src, q + 2, len);
			else if (q > body && src[q - 1] == '+') end = q + 2;
			else end = q + 2 + (q + 2 < len && src[q + 2] == '\n');
			line_starting = src[end - 1] == '\n';
			pos = end;
			continue;
		}
		lx_emit(&lx, kind == '%' ? JTOK_BLOCK_BEGIN : JTOK_VAR_BEGIN, t);
		pos = body;
		if (lex_tag(&lx, &pos, kind == '%', &line_starting)) return -1;
	}
	lx_emit(&lx, JTOK_EOF, len);
	return 0;
}

void jinja_tokens_free(struct jtokens *t)
{
	for (size_t i = 0; i < t->n; i++) free(t->v[i].text);
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
