/* tok_batch.c — batch driver for the tokenizer tests (run by tok_compare.py): encodes or
 * decodes many texts in one process so they can be compared with tokref in one batch.
 *   tok_batch TOKENIZER_JSON            stdin: one JSON string per line; stdout per line:
 *       {"ids": [...], "text": decode(ids), "detok": D, "detok_skip": S}
 *     where D/S say that the incremental detokenizer (without / with skip_special), fed one id
 *     at a time, emitted only valid UTF-8 chunks whose concatenation equals tokenizer_decode.
 *   tok_batch TOKENIZER_JSON --decode [--skip-special]   stdin: JSON id arrays; stdout: JSON strings
 *   tok_batch --write-builtin N OUT_JSON  writes the built-in tokenizer, prints its vocab size
 * Prints the total encode time and throughput to stderr. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"

static bool chunk_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int l = utf8_decode(s + i, n - i, &cp);
		if (!l) return false;
		i += (size_t)l;
	}
	return true;
}

static bool detok_check(const struct tokenizer *t, const int32_t *ids, size_t n, bool skip)
{
	struct buf want, got, chunk;
	buf_init(&want), buf_init(&got), buf_init(&chunk);
	tokenizer_decode(t, ids, n, skip, &want);
	struct detok d;
	detok_init(&d, t, skip);
	bool ok = true;
	for (size_t i = 0; i <= n; i++) {
		buf_clear(&chunk);
		if (i < n) detok_feed(&d, ids[i], &chunk);
		else detok_finish(&d, &chunk);
		ok &= chunk_valid(chunk.data ? chunk.data : "", chunk.len);
		buf_append(&got, chunk.data ? chunk.data : "", chunk.len);
	}
	detok_free(&d);
	ok &= got.len == want.len && memcmp(got.data ? got.data : "", want.data ? want.data : "", got.len) == 0;
	buf_free(&want), buf_free(&got), buf_free(&chunk);
	return ok;
}

static void print_json_string(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);
	char *out = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	fputs(out ? out : "null", stdout);
	free(out);
	json_decref(j);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--write-builtin")) {
		struct buf b;
		buf_init(&b);
		int vs = tokenizer_write_builtin_json(&b, atoi(argv[2]));
		struct err e;
		if (file_write_all(argv[3], b.data, b.len, &e)) {
			fprintf(stderr, "tok_batch: %s\n", e.msg);
			return 1;
		}
		printf("%d\n", vs);
		buf_free(&b);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: tok_batch TOKENIZER_JSON [--decode [--skip-special]] < lines\n");
		return 2;
	}
	bool decode = argc > 2 && !strcmp(argv[2], "--decode");
	bool skip = argc > 3 && !strcmp(argv[3], "--skip-special");
	struct err e;
	double t0 = time_now();
	struct tokenizer *t = tokenizer_create(argv[1], &e);
	if (!t) {
		fprintf(stderr, "tok_batch: %s\n", e.msg);
		return 1;
	}
	fprintf(stderr, "tok_batch: loaded %s in %.3f s (vocab %d)\n", argv[1], time_now() - t0, tokenizer_vocab_size(t));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	double t_enc = 0;
	size_t bytes = 0, tokens = 0;
	int rc = 0;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		json_t *j = json_loadb(line, (size_t)len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		if (!j) {
			fprintf(stderr, "tok_batch: bad input line: %s\n", je.text);
			rc = 1;
			break;
		}
		if (decode) {
			size_t n = json_array_size(j);
			int32_t *ids = malloc((n ? n : 1) * sizeof *ids);
			for (size_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(j, i));
			struct buf out;
			buf_init(&out);
			tokenizer_decode(t, ids, n, skip, &out);
			print_json_string(out.data ? out.data : "", out.len);
			putchar('\n');
			buf_free(&out);
			free(ids);
		} else {
			int32_t *ids;
			size_t n;
			double t1 = time_now();
			if (tokenizer_encode(t, json_string_value(j), json_string_length(j), &ids, &n, &e)) {
				printf("{\"error\": ");
				print_json_string(e.msg, strlen(e.msg));
				printf("}\n");
				json_decref(j);
				continue;
			}
			t_enc += time_now() - t1;
			bytes += json_string_length(j);
			tokens += n;
			printf("{\"ids\": [");
			for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", ids[i]);
			printf("], \"text\": ");
			struct buf out;
			buf_init(&out);
			tokenizer_decode(t, ids, n, false, &out);
			print_json_string(out.data ? out.data : "", out.len);
			buf_free(&out);
			printf(", \"detok\": %s, \"detok_skip\": %s}\n", detok_check(t, ids, n, false) ? "true" : "false",
			       detok_check(t, ids, n, true) ? "true" : "false");
			free(ids);
		}
		json_decref(j);
	}
	free(line);
	if (!decode)
		fprintf(stderr, "tok_batch: encoded %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", bytes, tokens, t_enc,
		        t_enc > 0 ? bytes / t_enc / 1e6 : 0.0);
	tokenizer_destroy(t);
	return rc;
}
