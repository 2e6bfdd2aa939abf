/* test_util.h — a tiny assertion harness for the C unit tests. Each test binary ends with
 * TEST_END(), which prints "N passed, M failed" and returns non-zero on any failure. */
#pragma once
#include <math.h>
#include <stdio.h>
#include <string.h>

static int test_passed, test_failed;

#define CHECK(cond) \
	do { \
		if (cond) test_passed++; \
		else { \
			test_failed++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		} \
	} while (0)

#define CHECK_MSG(cond, ...) \
	do { \
		if (cond) test_passed++; \
		else { \
			test_failed++; \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
		} \
	} while (0)

#define CHECK_STREQ(a, b) \
	do { \
		const char *a_ = (a), *b_ = (b); \
		if (a_ && b_ && strcmp(a_, b_) == 0) test_passed++; \
		else { \
			test_failed++; \
			fprintf(stderr, "%s:%d: CHECK_STREQ failed:\n  got:      %s\n  expected: %s\n", __FILE__, \
			        __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		} \
	} while (0)

#define TEST_END() \
	do { \
		printf("%d passed, %d failed\n", test_passed, test_failed); \
		return test_failed ? 1 : 0; \
	} while (0)
