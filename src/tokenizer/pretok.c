/* pretok.c — HF pre-tokenizers over plain byte ranges: Split (regex or literal, the five
 * SplitDelimiterBehaviors, invert) and ByteLevel (prefix space, GPT-2 regex, bytes_to_unicode
 * mapping), applied in sequence. Regexes are HF's Oniguruma patterns run with PCRE2 (JIT).
 * Does not own normalizers (only a null normalizer is supported, see tokenizer.c).
 * Thread rules: compiled steps are shared read-only; struct pretok_scratch is per call. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

/* llama.cpp's LLAMA_VOCAB_PRE_TYPE_CHATGLM4 / GLM tokenizer.json Split pattern (models.md §8). */
const char pretok_glm4_regex[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                 "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/* The regex HF's ByteLevel pre-tokenizer splits with when use_regex is true (GPT-2's). */
const char pretok_gpt2_regex[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

uint16_t pretok_byte_char[256];
int16_t pretok_char_byte[512];

static void tables_build(void)
{
	/* GPT-2 bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
	 * get code points 256.. in byte order. */
	int n = 0;
	for (int i = 0; i < 512; i++) pretok_char_byte[i] = -1;
	for (int b = 0; b < 256; b++) {
		bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
		pretok_byte_char[b] = printable ? (uint16_t)b : (uint16_t)(256 + n++);
		pretok_char_byte[pretok_byte_char[b]] = (int16_t)b;
	}
}

void pretok_tables_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, tables_build);
}

/* Oniguruma (HF's regex engine) and PCRE2 with UCP disagree on a few escapes, so those are
 * spelled out as classes with what Oniguruma matches (all checked against tokref):
 * - \s is exactly Unicode White_Space (PCRE2 adds U+180E: "  \u180e!" keeps U+180E out of the
 *   whitespace run in tokref);
 * - \w is L|M|Nd|Pc plus a few Alphabetic numbers and symbols (word_extra), \d is Nd;
 * - the general categories come from Unicode 16.0 in tokref's Oniguruma (as probed) but 14.0
 *   in PCRE2 10.42 (Debian bookworm): the code points assigned since are added to \p{L},
 *   \p{N}, \p{P}, \p{M}, \p{Nd}, \p{S}. The lists were found by probing tokref with a
 *   tokenizer.json that splits on each property (tests/tokenizer/unicode_probe.py prints any
 *   code point where the two still disagree). Negated forms inside a class (\S, \W, \D,
 *   \P{..} within [...]) keep PCRE2's meaning. */
static const char ws_inner[] =
	"\\t-\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
static const struct {
	const char *prop, *extra;
} unicode_extra[] = {
	{"L",
	 "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"
	 "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"
	 "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}"
	 "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}"
	 "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-"
	 "\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}"
	 "\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}"
	 "\\x{31350}-\\x{323AF}"},
	{"N",
	 "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
	 "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
	 "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}"},
	{"P",
	 "\\x{1B4E}-\\x{1B4F}\\x{1B7F}\\x{10D6E}\\x{113D4}-\\x{113D5}\\x{113D7}-\\x{113D8}"
	 "\\x{11B00}-\\x{11B09}\\x{11BE1}\\x{11F43}-\\x{11F4F}\\x{16D6D}-\\x{16D6F}\\x{1E5FF}"},
	{"M",
	 "\\x{897}\\x{CF3}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}\\x{113B8}-"
	 "\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D0}\\x{113D2}"
	 "\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}\\x{11F3E}-"
	 "\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{1612F}\\x{1E08F}"
	 "\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}"},
	{"Nd",
	 "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
	 "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1E4F0}-\\x{1E4F9}"
	 "\\x{1E5F1}-\\x{1E5FA}"},
	{"S",
	 "\\x{2427}-\\x{2429}\\x{2FFC}-\\x{2FFF}\\x{31E4}-\\x{31E5}\\x{31EF}\\x{10D8E}-\\x{10D8F}"
	 "\\x{1CC00}-\\x{1CCEF}\\x{1CD00}-\\x{1CEB3}\\x{1F6DC}\\x{1F774}-\\x{1F776}\\x{1F77B}-"
	 "\\x{1F77F}\\x{1F7D9}\\x{1F8B2}-\\x{1F8BB}\\x{1F8C0}-\\x{1F8C1}\\x{1FA75}-\\x{1FA77}"
	 "\\x{1FA87}-\\x{1FA89}\\x{1FA8F}\\x{1FAAD}-\\x{1FAAF}\\x{1FABB}-\\x{1FABF}\\x{1FAC6}"
	 "\\x{1FACE}-\\x{1FACF}\\x{1FADA}-\\x{1FADC}\\x{1FADF}\\x{1FAE8}-\\x{1FAE9}\\x{1FAF7}-"
	 "\\x{1FAF8}\\x{1FBCB}-\\x{1FBEF}"},
};
static const char word_extra[] =
	"\\x{B2}-\\x{B3}\\x{B9}\\x{BC}-\\x{BE}\\x{16EE}-\\x{16F0}\\x{2160}-\\x{2182}"
	"\\x{2185}-\\x{2188}\\x{24B6}-\\x{24E9}\\x{3007}\\x{3021}-\\x{3029}\\x{3038}-\\x{303A}"
	"\\x{A6E6}-\\x{A6EF}\\x{10140}-\\x{10174}\\x{10341}\\x{1034A}\\x{103D1}-\\x{103D5}"
	"\\x{12400}-\\x{1246E}\\x{1F130}-\\x{1F149}\\x{1F150}-\\x{1F169}\\x{1F170}-\\x{1F189}";

static const char *prop_extra(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof unicode_extra / sizeof unicode_extra[0]; i++)
		if (strlen(unicode_extra[i].prop) == n && !memcmp(unicode_extra[i].prop, name, n)) return unicode_extra[i].extra;
	return NULL;
}

static void put_prop(struct buf *out, const char *name)
{
	buf_printf(out, "\\p{%s}", name);
	const char *x = prop_extra(name, strlen(name));
	if (x) buf_puts(out, x);
}

/* The class items (without brackets) that stand for escape d (s, w, d). */
static void put_inner(struct buf *out, char d)
{
	if (d == 's') {
		buf_puts(out, ws_inner);
	} else if (d == 'd') {
		put_prop(out, "Nd");
	} else {
		put_prop(out, "L"), put_prop(out, "M"), put_prop(out, "Nd"), put_prop(out, "Pc");
		buf_puts(out, word_extra);
	}
}

static void rewrite_onig(const char *p, size_t n, struct buf *out)
{
	bool in_class = false;
	size_t i = 0;
	while (i < n) {
		char c = p[i];
		if (c == '\\' && i + 1 < n) {
			char d = p[i + 1];
			if (d && strchr("sSwWdD", d)) {
				char lower = (char)(d | 0x20);
				bool neg = d != lower;
				if (!in_class) {
					buf_puts(out, neg ? "[^" : "[");
					put_inner(out, lower);
					buf_putc(out, ']');
				} else if (!neg) {
					put_inner(out, lower);
				} else {
					buf_append(out, p + i, 2); /* a negated escape inside a class: keep PCRE2's */
				}
				i += 2;
				continue;
			}
			if ((d == 'p' || d == 'P') && i + 2 < n) { /* \pL, \p{L} */
				const char *name = p + i + 2;
				size_t len = 1, skip = 3;
				if (*name == '{') {
					const char *close = memchr(name, '}', n - i - 2);
					name++;
					len = close ? (size_t)(close - name) : 0;
					skip = close ? (size_t)(close - p) + 1 - i : 0;
				}
				const char *x = skip ? prop_extra(name, len) : NULL;
				if (x && !(in_class && d == 'P')) {
					if (!in_class) buf_puts(out, d == 'P' ? "[^" : "[");
					buf_printf(out, "\\p{%.*s}%s", (int)len, name, x);
					if (!in_class) buf_putc(out, ']');
					i += skip;
					continue;
				}
			}
			if (d == 'Q') { /* \Q...\E is literal text */
				size_t j = i + 2;
				while (j + 1 < n && !(p[j] == '\\' && p[j + 1] == 'E')) j++;
				j = j + 1 < n ? j + 2 : n;
				buf_append(out, p + i, j - i);
				i = j;
				continue;
			}
			buf_append(out, p + i, 2);
			i += 2;
			continue;
		}
		if (!in_class && c == '[') {
			in_class = true;
			buf_putc(out, c);
			i++;
			if (i < n && p[i] == '^') buf_putc(out, p[i++]);
			if (i < n && p[i] == ']') buf_putc(out, p[i++]); /* a leading ] is literal */
			continue;
		}
		if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') { /* POSIX [:name:] */
			const char *end = memmem(p + i + 2, n - i - 2, ":]", 2);
			size_t j = end ? (size_t)(end - p) + 2 : n;
			buf_append(out, p + i, j - i);
			i = j;
			continue;
		}
		if (in_class && c == ']') in_class = false;
		buf_putc(out, c);
		i++;
	}
}

pcre2_code *pretok_compile_regex(const char *pattern, size_t len, bool literal, struct err *e)
{
	struct buf pat;
	buf_init(&pat);
	uint32_t opts = PCRE2_UTF;
	if (literal) {
		buf_append(&pat, pattern, len);
		opts |= PCRE2_LITERAL; /* (UCP is not allowed with it, and not needed) */
	} else {
		rewrite_onig(pattern, len, &pat);
		opts |= PCRE2_UCP | PCRE2_MULTILINE; /* Oniguruma's Ruby syntax: ^ and $ are line anchors */
	}
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, opts, &ec, &eo, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof msg);
		err_set(e, "regex /%.*s/: %s at offset %zu", (int)(len > 200 ? 200 : len), pattern, (char *)msg,
		        (size_t)eo);
		buf_free(&pat);
		return NULL;
	}
	buf_free(&pat);
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* if JIT is unavailable, the interpreter runs */
	return re;
}

void pretok_free(struct pretok *p)
{
	for (size_t i = 0; i < p->n_steps; i++) pcre2_code_free(p->steps[i].re);
	free(p->steps);
	p->steps = NULL;
	p->n_steps = 0;
}

void pretok_scratch_free(struct pretok_scratch *s)
{
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit_stack);
	free(s->a.v);
	free(s->b.v);
	free(s->marks);
	memset(s, 0, sizeof *s);
}

static void mark_push(struct pretok_scratch *s, size_t off, size_t len, bool match)
{
	if (s->n_marks == s->cap_marks) {
		s->cap_marks = s->cap_marks ? s->cap_marks * 2 : 64;
		s->marks = xrealloc(s->marks, s->cap_marks * sizeof *s->marks);
	}
	s->marks[s->n_marks].off = off;
	s->marks[s->n_marks].len = len;
	s->marks[s->n_marks].match = match;
	s->n_marks++;
}

static int utf8_len_at(const unsigned char *u)
{
	return u[0] < 0x80 ? 1 : u[0] >= 0xF0 ? 4 : u[0] >= 0xE0 ? 3 : 2;
}

/* HF Pattern::find_matches: the piece cut into (range, is_match) marks covering all of it. */
static int find_marks(const pcre2_code *re, const char *subj, size_t n, size_t base, struct pretok_scratch *s,
                      struct err *e)
{
	if (!s->md) {
		s->mctx = pcre2_match_context_create(NULL);
		s->jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, NULL);
		if (s->jit_stack) pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
		pcre2_set_heap_limit(s->mctx, 1024 * 1024); /* KiB: long whitespace runs need room */
		/* Only the whole match is read: one ovector pair (rc 0 then means "matched"). */
		s->md = pcre2_match_data_create(1, NULL);
	}
	s->n_marks = 0;
	size_t pos = 0, prev = 0;
	while (pos <= n) {
		int rc = pcre2_match(re, (PCRE2_SPTR)subj, n, pos, PCRE2_NO_UTF_CHECK, s->md, s->mctx);
		if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
			rc = pcre2_match(re, (PCRE2_SPTR)subj, n, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, s->md, s->mctx);
		if (rc == PCRE2_ERROR_NOMATCH) break;
		if (rc < 0) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(rc, msg, sizeof msg);
			return err_set(e, "pre-tokenizer regex failed on a %zu-byte piece: %s", n, (char *)msg);
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
		size_t ms = ov[0], me = ov[1];
		if (ms != prev) mark_push(s, base + prev, ms - prev, false);
		mark_push(s, base + ms, me - ms, true);
		prev = me;
		if (me == ms) { /* empty match: step over one character like Oniguruma's find_iter */
			if (me >= n) break;
			pos = me + utf8_len_at((const unsigned char *)subj + me);
		} else {
			pos = me;
		}
	}
	if (prev != n) mark_push(s, base + prev, n - prev, false);
	return 0;
}

/* HF SplitDelimiterBehavior applied to the marks; empty results are dropped like HF does. */
static void apply_behavior(struct pretok_scratch *s, enum pretok_behavior b, bool invert, struct tok_ranges *out)
{
	size_t first = out->n;
	bool prev_match = false;
	switch (b) {
	case PRETOK_BEHAVIOR_REMOVED:
		for (size_t i = 0; i < s->n_marks; i++)
			if (s->marks[i].match == invert) tok_ranges_push(out, s->marks[i].off, s->marks[i].len);
		break;
	case PRETOK_BEHAVIOR_ISOLATED:
		for (size_t i = 0; i < s->n_marks; i++) tok_ranges_push(out, s->marks[i].off, s->marks[i].len);
		break;
	case PRETOK_BEHAVIOR_MERGED_WITH_PREVIOUS:
		for (size_t i = 0; i < s->n_marks; i++) {
			bool m = s->marks[i].match != invert;
			if (m && !prev_match && out->n > first) {
				struct tok_range *l = &out->v[out->n - 1];
				l->len = s->marks[i].off + s->marks[i].len - l->off;
			} else {
				tok_ranges_push(out, s->marks[i].off, s->marks[i].len);
			}
			prev_match = m;
		}
		break;
	case PRETOK_BEHAVIOR_MERGED_WITH_NEXT:
		/* HF folds from the right: a match joins the piece that follows it. */
		for (size_t k = s->n_marks; k-- > 0;) {
			bool m = s->marks[k].match != invert;
			if (m && !prev_match && out->n > first) {
				struct tok_range *r = &out->v[out->n - 1];
				r->len = r->off + r->len - s->marks[k].off;
				r->off = s->marks[k].off;
			} else {
				tok_ranges_push(out, s->marks[k].off, s->marks[k].len);
			}
			prev_match = m;
		}
		for (size_t i = first, j = out->n; i + 1 < j; i++, j--) {
			struct tok_range t = out->v[i];
			out->v[i] = out->v[j - 1];
			out->v[j - 1] = t;
		}
		break;
	case PRETOK_BEHAVIOR_CONTIGUOUS:
		for (size_t i = 0; i < s->n_marks; i++) {
			bool m = s->marks[i].match != invert;
			if (m == prev_match && out->n > first) {
				struct tok_range *l = &out->v[out->n - 1];
				l->len = s->marks[i].off + s->marks[i].len - l->off;
			} else {
				tok_ranges_push(out, s->marks[i].off, s->marks[i].len);
			}
			prev_match = m;
		}
		break;
	}
	/* drop empty pieces */
	size_t w = first;
	for (size_t i = first; i < out->n; i++)
		if (out->v[i].len) out->v[w++] = out->v[i];
	out->n = w;
}

/* ByteLevel's byte -> char mapping of work[off, off+len), appended to work. */
static void byte_level_map(struct buf *work, size_t off, size_t len, struct tok_ranges *out)
{
	buf_reserve(work, len * 2);
	size_t start = work->len;
	const unsigned char *src = (const unsigned char *)work->data + off;
	char *dst = work->data + work->len;
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		uint16_t c = pretok_byte_char[src[i]];
		if (c < 0x80) dst[k++] = (char)c;
		else dst[k++] = (char)(0xC0 | (c >> 6)), dst[k++] = (char)(0x80 | (c & 0x3F));
	}
	work->len += k;
	work->data[work->len] = '\0';
	tok_ranges_push(out, start, k);
}

static int run_step(const struct pretok_step *st, struct buf *work, struct tok_range piece, struct pretok_scratch *s,
                    struct tok_ranges *out, struct err *e)
{
	if (st->kind == PRETOK_KIND_SPLIT) {
		if (find_marks(st->re, work->data + piece.off, piece.len, piece.off, s, e)) return -1;
		apply_behavior(s, st->behavior, st->invert, out);
		return 0;
	}
	/* BYTE_LEVEL */
	if (st->add_prefix_space && work->data[piece.off] != ' ') {
		buf_reserve(work, piece.len + 1);
		size_t start = work->len;
		buf_putc(work, ' ');
		buf_append(work, work->data + piece.off, piece.len);
		piece.off = start;
		piece.len++;
	}
	if (!st->use_regex) {
		byte_level_map(work, piece.off, piece.len, out);
		return 0;
	}
	if (find_marks(st->re, work->data + piece.off, piece.len, piece.off, s, e)) return -1;
	for (size_t i = 0; i < s->n_marks; i++)
		if (s->marks[i].len) byte_level_map(work, s->marks[i].off, s->marks[i].len, out);
	return 0;
}

int pretok_run(const struct pretok *p, struct buf *work, size_t off, size_t len, struct pretok_scratch *s,
               struct tok_ranges *out, struct err *e)
{
	if (!len) return 0;
	if (!p->n_steps) {
		tok_ranges_push(out, off, len);
		return 0;
	}
	s->a.n = 0;
	tok_ranges_push(&s->a, off, len);
	for (size_t k = 0; k < p->n_steps; k++) {
		struct tok_ranges *dst = k + 1 == p->n_steps ? out : &s->b;
		if (dst == &s->b) s->b.n = 0;
		for (size_t i = 0; i < s->a.n; i++) {
			struct tok_range piece = s->a.v[i];
			if (!piece.len) continue;
			if (run_step(&p->steps[k], work, piece, s, dst, e)) return -1;
		}
		if (dst == &s->b) {
			struct tok_ranges t = s->a;
			s->a = s->b;
			s->b = t;
		}
	}
	return 0;
}
