/* Unit tests for base/: buffers, UTF-8 helpers, PRNG determinism. */
#include "base/base.h"
#include <math.h>
#include <stdlib.h>
#include "../test_util.h"

int main(void)
{
	struct buf b;
	buf_init(&b);
	buf_printf(&b, "%d-%s", 42, "x");
	buf_putc(&b, '!');
	CHECK_STREQ(b.data, "42-x!");
	CHECK(b.len == 5);
	buf_free(&b);

	uint32_t cp;
	CHECK(utf8_decode("\xe4\xbd\xa0", 3, &cp) == 3 && cp == 0x4F60);
	CHECK(utf8_decode("\xe4\xbd", 2, &cp) == 0);          /* incomplete */
	CHECK(utf8_decode("\xed\xa0\x80", 3, &cp) == 0);      /* surrogate */
	CHECK(utf8_decode("\xc0\x80", 2, &cp) == 0);          /* overlong */
	char out[4];
	CHECK(utf8_encode(0x1F600, out) == 4 && memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
	CHECK(utf8_complete_prefix("ab\xe4\xbd", 4) == 2);
	CHECK(utf8_complete_prefix("ab\xe4\xbd\xa0", 5) == 5);
	CHECK(utf8_complete_prefix("ab\xf0\x9f\x98", 5) == 2);
	CHECK(utf8_complete_prefix("ab", 2) == 2);

	struct rng r1, r2;
	rng_seed(&r1, 7), rng_seed(&r2, 7);
	int same = 1;
	for (int i = 0; i < 100; i++) same &= rng_next(&r1) == rng_next(&r2);
	CHECK(same);
	double u = rng_uniform(&r1);
	CHECK(u >= 0 && u < 1);

	/* Python repr of floats (the expected strings are what CPython prints) */
	static const struct {
		double v;
		const char *repr;
	} fl[] = {{1.0, "1.0"}, {0.1, "0.1"}, {-2.5, "-2.5"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
	          {0.0001, "0.0001"}, {0.00001, "1e-05"}, {1e20, "1e+20"}, {-0.0, "-0.0"}, {1.0 / 3, "0.3333333333333333"},
	          {123456.789, "123456.789"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}};
	for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++) {
		buf_init(&b);
		buf_put_float_repr(&b, fl[i].v);
		CHECK_STREQ(b.data, fl[i].repr);
		buf_free(&b);
	}
	buf_init(&b);
	buf_put_float_repr(&b, NAN);
	buf_put_float_repr(&b, -INFINITY);
	CHECK_STREQ(b.data, "nan-inf");
	buf_free(&b);
	/* json.dumps: the same digits, JavaScript's names for the non-finite */
	buf_init(&b);
	buf_put_json_float(&b, NAN), buf_putc(&b, ' ');
	buf_put_json_float(&b, INFINITY), buf_putc(&b, ' ');
	buf_put_json_float(&b, -INFINITY), buf_putc(&b, ' ');
	buf_put_json_float(&b, 1e-05);
	CHECK_STREQ(b.data, "NaN Infinity -Infinity 1e-05");
	buf_free(&b);

	/* hex digits and UTF-8 appends */
	CHECK(hex_digit_value('0') == 0 && hex_digit_value('9') == 9 && hex_digit_value('a') == 10 &&
	      hex_digit_value('F') == 15 && hex_digit_value('g') == -1 && hex_digit_value(0xc3) == -1);
	buf_init(&b);
	buf_put_utf8(&b, 'A'), buf_put_utf8(&b, 0xe9), buf_put_utf8(&b, 0x20ac), buf_put_utf8(&b, 0x1f600);
	CHECK(b.len == 10 && !memcmp(b.data, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
	buf_free(&b);

	char *p = path_join("a/", "b");
	CHECK_STREQ(p, "a/b");
	free(p);
	TEST_END();
}
