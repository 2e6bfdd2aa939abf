/* base.c — see base.h. */
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int err_set(struct err *e, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return -1;
}

int err_prefix(struct err *e, const char *fmt, ...)
{
	if (e) {
		char pre[512], old[sizeof e->msg];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(pre, sizeof pre, fmt, ap);
		va_end(ap);
		memcpy(old, e->msg, sizeof old);
		snprintf(e->msg, sizeof e->msg, "%s: %s", pre, old);
	}
	return -1;
}

void glm_assert_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "glm: assertion failed at %s:%d: %s\n", file, line, what);
	abort();
}

static void *check_alloc(void *p, size_t n)
{
	if (!p && n) {
		fprintf(stderr, "glm: out of memory allocating %zu bytes\n", n);
		abort();
	}
	return p;
}

void *xmalloc(size_t n) { return check_alloc(malloc(n ? n : 1), n); }
void *xcalloc(size_t n, size_t size) { return check_alloc(calloc(n ? n : 1, size ? size : 1), n * size); }
void *xrealloc(void *p, size_t n) { return check_alloc(realloc(p, n ? n : 1), n); }
char *xstrdup(const char *s) { return check_alloc(strdup(s), strlen(s) + 1); }

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

void *xaligned_alloc(size_t n)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, n ? n : 64) != 0) check_alloc(NULL, n);
	return p;
}

void buf_init(struct buf *b) { memset(b, 0, sizeof *b); }
void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap) return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1) cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n) memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_putc(struct buf *b, char c) { buf_append(b, &c, 1); }

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

void buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->data) b->data[0] = 0;
}

char *buf_take(struct buf *b)
{
	if (!b->data) buf_reserve(b, 0), b->data[0] = 0;
	char *p = b->data;
	buf_init(b);
	return p;
}

int file_read_all(const char *path, struct buf *out, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) return err_set(e, "%s: %s", path, strerror(errno));
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(out, tmp, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) return err_set(e, "%s: read error", path);
	if (!out->data) buf_reserve(out, 0), out->data[0] = 0;
	return 0;
}

int file_write_all(const char *path, const void *data, size_t n, struct err *e)
{
	FILE *f = fopen(path, "wb");
	if (!f) return err_set(e, "%s: %s", path, strerror(errno));
	size_t w = fwrite(data, 1, n, f);
	if (fclose(f) != 0 || w != n) return err_set(e, "%s: write error", path);
	return 0;
}

bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *path_join(const char *dir, const char *name)
{
	struct buf b;
	buf_init(&b);
	buf_puts(&b, dir);
	if (b.len && b.data[b.len - 1] != '/') buf_putc(&b, '/');
	buf_puts(&b, name);
	return buf_take(&b);
}

static enum log_level g_log_level = LOG_LEVEL_INFO;
void log_set_level(enum log_level lvl) { g_log_level = lvl; }

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < g_log_level) return;
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "glm %s: %s\n", names[lvl], line);
}

double time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	if (n == 0) return 0;
	if (u[0] < 0x80) return *cp = u[0], 1;
	int len;
	uint32_t c, min;
	if ((u[0] & 0xE0) == 0xC0) len = 2, c = u[0] & 0x1F, min = 0x80;
	else if ((u[0] & 0xF0) == 0xE0) len = 3, c = u[0] & 0x0F, min = 0x800;
	else if ((u[0] & 0xF8) == 0xF0) len = 4, c = u[0] & 0x07, min = 0x10000;
	else return 0;
	if ((size_t)len > n) return 0;
	for (int i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80) return 0;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
	*cp = c;
	return len;
}

int utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
	if (cp < 0x800) {
		o[0] = 0xC0 | (cp >> 6), o[1] = 0x80 | (cp & 0x3F);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xE0 | (cp >> 12), o[1] = 0x80 | ((cp >> 6) & 0x3F), o[2] = 0x80 | (cp & 0x3F);
		return 3;
	}
	o[0] = 0xF0 | (cp >> 18), o[1] = 0x80 | ((cp >> 12) & 0x3F);
	o[2] = 0x80 | ((cp >> 6) & 0x3F), o[3] = 0x80 | (cp & 0x3F);
	return 4;
}

void buf_put_utf8(struct buf *b, uint32_t cp)
{
	char tmp[4];
	buf_append(b, tmp, (size_t)utf8_encode(cp, tmp));
}

int hex_digit_value(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

size_t utf8_complete_prefix(const char *s, size_t n)
{
	/* Look back at most 3 bytes for a lead byte whose sequence is not complete yet. */
	const unsigned char *u = (const unsigned char *)s;
	for (size_t back = 1; back <= 3 && back <= n; back++) {
		unsigned char c = u[n - back];
		if ((c & 0xC0) == 0x80) continue; /* continuation byte: keep looking */
		int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		if (need > (int)back) return n - back; /* incomplete sequence at the end */
		return n;
	}
	return n;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void rng_seed(struct rng *r, uint64_t seed)
{
	/* splitmix64 to spread the seed over the state */
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		r->s[i] = z ^ (z >> 31);
	}
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double rng_uniform(struct rng *r) { return (rng_next(r) >> 11) * 0x1.0p-53; }

double rng_normal(struct rng *r)
{
	double u1 = rng_uniform(r), u2 = rng_uniform(r);
	if (u1 < 1e-300) u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void buf_put_float_repr(struct buf *out, double f)
{
	if (isnan(f)) {
		buf_puts(out, "nan");
		return;
	}
	if (isinf(f)) {
		buf_puts(out, f < 0 ? "-inf" : "inf");
		return;
	}
	if (f == 0) {
		buf_puts(out, signbit(f) ? "-0.0" : "0.0");
		return;
	}
	/* shortest digits that round-trip (Python's repr), then Python's layout rules */
	char tmp[64];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
		if (strtod(tmp, NULL) == f) break;
	}
	/* tmp = [-]d.ddde[+-]XX */
	char digits[32];
	int nd = 0;
	const char *p = tmp;
	bool neg = false;
	if (*p == '-') {
		neg = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9') digits[nd++] = *p;
	int exp10 = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0') nd--;
	int decpt = exp10 + 1; /* value = 0.d1d2... * 10^decpt */
	if (neg) buf_putc(out, '-');
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			buf_puts(out, "0.");
			for (int i = 0; i < -decpt; i++) buf_putc(out, '0');
			buf_append(out, digits, (size_t)nd);
		} else if (decpt >= nd) {
			buf_append(out, digits, (size_t)nd);
			for (int i = nd; i < decpt; i++) buf_putc(out, '0');
			buf_puts(out, ".0");
		} else {
			buf_append(out, digits, (size_t)decpt);
			buf_putc(out, '.');
			buf_append(out, digits + decpt, (size_t)(nd - decpt));
		}
	} else {
		buf_putc(out, digits[0]);
		if (nd > 1) {
			buf_putc(out, '.');
			buf_append(out, digits + 1, (size_t)(nd - 1));
		}
		int x = decpt - 1;
		buf_printf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	}
}

void buf_put_json_float(struct buf *out, double f)
{
	if (isnan(f)) buf_puts(out, "NaN");
	else if (isinf(f)) buf_puts(out, f < 0 ? "-Infinity" : "Infinity");
	else buf_put_float_repr(out, f);
}
