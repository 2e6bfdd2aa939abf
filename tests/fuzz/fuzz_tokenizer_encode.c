/* fuzz_tokenizer_encode.c — fuzz target for encoding and decoding arbitrary bytes with a fixed,
 * valid GLM-style tokenizer (src/tokenizer: added-token matching, the PCRE2 pre-tokenizer, BPE,
 * decode, the incremental detokenizer, the lossy UTF-8 repair). The tokenizer is the built-in
 * one (tokenizer_write_builtin_json), or the tokenizer.json named by $FUZZ_TOKENIZER_JSON (e.g.
 * ../shared/data/tokenizers/glm-4.5-reconstructed/tokenizer.json: same pipeline and flags).
 * Invariants (they hold for byte-level BPE without normalizer and without stripping added
 * tokens, which is every GLM tokenizer):
 *  - the input as text: invalid UTF-8 is refused with a message; valid UTF-8 encodes to ids in
 *    the vocab and decode(encode(s)) == s byte for byte, and the incremental detokenizer agrees;
 *  - the input as little-endian int32 ids (any value): decode gives valid UTF-8 and the
 *    incremental detokenizer, fed one id at a time, gives the same text;
 *  - tokenizer_utf8_lossy gives valid UTF-8, keeps valid input unchanged, and gives the same
 *    text whether fed whole or in pieces (non-final calls carrying the unconsumed tail).
 * Thread rules: single-threaded. */
#include <string.h>

#include "fuzz.h"
#include "tokenizer/tokenizer.h"

const size_t fuzz_max_len = 4096;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_NONE;
const char *const fuzz_dict[] = {
	"<|user|>", "<|assistant|>", "<|system|>", "<|observation|>", "[gMASK]", "<sop>", "<eop>", "<think>", "</think>",
	"<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "<|endoftext|>",
	"<|user", "|>", "'s", "'T", "'re", "  ", "\n\n", "\r\n", " \n", "123", "1234567", "the", " the", "北京", "你好",
	"😀", "\xc2\xa0", "\xe3\x80\x80", "\xef\xbc\x81", "\xcc\x81", "\xe2\x80\x8b", "!!!", "...", "\t\t", NULL,
};

static struct tokenizer *g_tok;

static void setup(void)
{
	log_set_level(LOG_LEVEL_QUIET);
	struct err e = {{0}};
	const char *path = getenv("FUZZ_TOKENIZER_JSON");
	if (path && *path) {
		g_tok = tokenizer_create(path, &e);
		FUZZ_CHECK(g_tok != NULL, "loading $FUZZ_TOKENIZER_JSON: %s", e.msg);
		return;
	}
	struct buf js;
	buf_init(&js);
	tokenizer_write_builtin_json(&js, 400);
	g_tok = tokenizer_create_from_memory(js.data, js.len, &e);
	FUZZ_CHECK(g_tok != NULL, "loading the built-in tokenizer: %s", e.msg);
	buf_free(&js);
}

static void check_detok(const int32_t *ids, size_t n, bool skip, const struct buf *whole)
{
	struct buf inc;
	buf_init(&inc);
	struct detok d;
	detok_init(&d, g_tok, skip);
	for (size_t i = 0; i < n; i++) {
		size_t before = inc.len;
		detok_feed(&d, ids[i], &inc);
		FUZZ_CHECK(fuzz_utf8_valid(inc.data ? inc.data + before : "", inc.len - before),
		           "detok_feed appended an incomplete or invalid UTF-8 piece");
	}
	detok_finish(&d, &inc);
	detok_free(&d);
	FUZZ_CHECK(whole->len == inc.len && !memcmp(whole->data ? whole->data : "", inc.data ? inc.data : "", inc.len),
	           "incremental detokenization (%zu bytes) differs from decode (%zu bytes), skip_special %d", inc.len,
	           whole->len, skip);
	buf_free(&inc);
}

static void fuzz_text(const char *s, size_t n)
{
	int32_t *ids = NULL;
	size_t n_ids = 0;
	struct err e = {{0}};
	int rc = tokenizer_encode(g_tok, s, n, &ids, &n_ids, &e);
	if (!fuzz_utf8_valid(s, n)) {
		FUZZ_CHECK(rc == -1 && e.msg[0], "invalid UTF-8 was not refused (rc %d)", rc);
		free(ids);
		return;
	}
	FUZZ_CHECK(rc == 0, "valid UTF-8 was refused: %s", e.msg);
	int32_t vs = tokenizer_vocab_size(g_tok);
	for (size_t i = 0; i < n_ids; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < vs, "id %d outside [0, %d)", ids[i], vs);
	FUZZ_CHECK(n_ids <= n, "%zu ids for %zu bytes", n_ids, n);
	struct buf out;
	buf_init(&out);
	tokenizer_decode(g_tok, ids, n_ids, false, &out);
	FUZZ_CHECK(out.len == n && !memcmp(out.data ? out.data : "", s, n),
	           "decode(encode(s)) != s: %zu bytes in, %zu bytes out", n, out.len);
	check_detok(ids, n_ids, false, &out);
	free(ids);
	buf_free(&out);
}

static void fuzz_ids(const uint8_t *data, size_t size)
{
	size_t n = size / 4;
	int32_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
	memcpy(ids, data, n * 4);
	/* also plain small ids, which hit real tokens far more often than random 32-bit values */
	int32_t vs = tokenizer_vocab_size(g_tok);
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= 0 && (data[4 * i + 3] & 0x80) == 0 && data[4 * i + 2] == 0) ids[i] %= vs + 2;
	for (int skip = 0; skip < 2; skip++) {
		struct buf out;
		buf_init(&out);
		tokenizer_decode(g_tok, ids, n, skip, &out);
		FUZZ_CHECK(fuzz_utf8_valid(out.data ? out.data : "", out.len), "decode gave invalid UTF-8");
		check_detok(ids, n, skip, &out);
		buf_free(&out);
	}
	free(ids);
}

static void fuzz_lossy(const char *s, size_t n)
{
	struct buf whole;
	buf_init(&whole);
	size_t used = tokenizer_utf8_lossy(&whole, s, n, true);
	FUZZ_CHECK(used == n, "a final call consumed %zu of %zu bytes", used, n);
	FUZZ_CHECK(fuzz_utf8_valid(whole.data ? whole.data : "", whole.len), "lossy repair gave invalid UTF-8");
	if (fuzz_utf8_valid(s, n))
		FUZZ_CHECK(whole.len == n && !memcmp(whole.data, s, n), "valid UTF-8 was changed by the lossy repair");
	/* in pieces: the unconsumed tail of each non-final call is carried into the next */
	struct rng r;
	rng_seed(&r, fuzz_hash(s, n));
	struct buf inc, carry;
	buf_init(&inc);
	buf_init(&carry);
	size_t i = 0;
	while (i < n) {
		size_t k = fuzz_split_next(FUZZ_SPLIT_RANDOM, &r, n - i);
		buf_append(&carry, s + i, k);
		i += k;
		size_t c = tokenizer_utf8_lossy(&inc, carry.data, carry.len, false);
		FUZZ_CHECK(c <= carry.len, "consumed %zu of %zu", c, carry.len);
		memmove(carry.data, carry.data + c, carry.len - c);
		carry.len -= c;
	}
	tokenizer_utf8_lossy(&inc, carry.data ? carry.data : "", carry.len, true);
	FUZZ_CHECK(inc.len == whole.len && !memcmp(inc.data ? inc.data : "", whole.data ? whole.data : "", inc.len),
	           "lossy repair in pieces differs from whole");
	buf_free(&whole);
	buf_free(&inc);
	buf_free(&carry);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_tok) setup();
	fuzz_text((const char *)data, size);
	fuzz_ids(data, size);
	fuzz_lossy((const char *)data, size);
	return 0;
}
