/* base.h — libc-level helpers every layer may use: error messages, checked allocation,
 * growable byte buffers, file reading, logging, always-on asserts, a monotonic clock.
 * Owns nothing global except the log level. Thread rules: all functions are thread-safe. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Functions that can fail return 0 on success and -1 on failure, filling a struct err
 * whose message names the file, tensor, key or shape that failed (design.md §6). */
struct err {
	char msg[1024];
};
/* Formats into e->msg (if e) and returns -1, so `return err_set(e, ...)` reads naturally. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an existing message (to add the file name on the way up). */
int err_prefix(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define GLM_ASSERT(c) \
	do { \
		if (!(c)) glm_assert_fail(__FILE__, __LINE__, #c); \
	} while (0)
_Noreturn void glm_assert_fail(const char *file, int line, const char *what);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* 64-byte aligned allocation for SIMD buffers; free with free(). */
void *xaligned_alloc(size_t n);

/* Growable byte buffer. data is always NUL-terminated (the NUL is not counted in len). */
struct buf {
	char *data;
	size_t len, cap;
};
void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_clear(struct buf *b);
/* Appends f as Python's repr() prints a float: the shortest digits that read back to f, in
 * Python's layout (1.0, 0.0001, 1e-05, 1e+16, -0.0, nan, inf, -inf). json.dumps prints finite
 * floats the same way. */
void buf_put_float_repr(struct buf *out, double f);
/* Appends f as Python's json.dumps prints a float: repr(), but NaN, Infinity, -Infinity for the
 * non-finite ones. */
void buf_put_json_float(struct buf *out, double f);
/* Hands the storage to the caller (NUL-terminated) and leaves b empty. */
char *buf_take(struct buf *b);

/* Reads a whole file into out (appends). */
int file_read_all(const char *path, struct buf *out, struct err *e);
int file_write_all(const char *path, const void *data, size_t n, struct err *e);
bool file_exists(const char *path);
/* path_join("a", "b") -> "a/b" (malloc'd). */
char *path_join(const char *dir, const char *name);

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_QUIET };
void log_set_level(enum log_level lvl);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

/* Seconds from an arbitrary start, monotonic. */
double time_now(void);

/* UTF-8. utf8_decode returns the byte length of the code point at s (1..4) and stores it in
 * *cp, or 0 if s[0..n) does not start with a complete valid sequence. */
int utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out (4 bytes room), returns the length. */
int utf8_encode(uint32_t cp, char *out);
/* Appends cp as UTF-8. */
void buf_put_utf8(struct buf *b, uint32_t cp);
/* The value of a hexadecimal digit (either case), -1 for any other character. */
int hex_digit_value(int c);
/* Length of the longest prefix of s[0..n) that does not end inside an incomplete (but so far
 * valid) multi-byte sequence: what an incremental decoder may emit now. */
size_t utf8_complete_prefix(const char *s, size_t n);

/* Small deterministic PRNG (xoshiro256**-style), for synth weights, sampling and tests. */
struct rng {
	uint64_t s[4];
};
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Standard normal (Box-Muller). */
double rng_normal(struct rng *r);
