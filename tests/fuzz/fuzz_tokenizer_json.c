/* fuzz_tokenizer_json.c — fuzz target for loading tokenizer.json (src/tokenizer/tokenizer.c:
 * tokenizer_create_from_memory, i.e. the model/vocab/merges, added_tokens, pre_tokenizer regexes
 * and decoder sections) and for using whatever tokenizer loads.
 * Invariants: a failure has a message; a loaded tokenizer has a positive vocab size, encodes a
 * fixed set of texts (and the input itself, when it is valid UTF-8) to ids inside the vocab,
 * refuses invalid UTF-8 with a message, and its incremental detokenizer gives exactly what
 * tokenizer_decode gives for the same ids (tokenizer.h promises this for any tokenizer).
 * Thread rules: single-threaded. */
#include <string.h>

#include "fuzz.h"
#include "tokenizer/tokenizer.h"

const size_t fuzz_max_len = 16384;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_WHOLE;
const char *const fuzz_dict[] = {
	"\"model\"", "\"type\"", "\"BPE\"", "\"vocab\"", "\"merges\"", "\"dropout\"", "\"unk_token\"", "\"byte_fallback\"",
	"\"ignore_merges\"", "\"fuse_unk\"", "\"continuing_subword_prefix\"", "\"end_of_word_suffix\"", "\"added_tokens\"",
	"\"id\"", "\"content\"", "\"special\"", "\"lstrip\"", "\"rstrip\"", "\"single_word\"", "\"normalized\"",
	"\"normalizer\"", "\"pre_tokenizer\"", "\"Sequence\"", "\"pretokenizers\"", "\"Split\"", "\"pattern\"",
	"\"Regex\"", "\"String\"", "\"behavior\"", "\"Isolated\"", "\"Removed\"", "\"MergedWithPrevious\"",
	"\"MergedWithNext\"", "\"Contiguous\"", "\"invert\"", "\"ByteLevel\"", "\"add_prefix_space\"", "\"use_regex\"",
	"\"decoder\"", "\"truncation\"", "\"padding\"", "true", "false", "null", "\"\\u0120\"", "\"\\u0120a\"",
	"\"<|user|>\"", "[\"a\", \"b\"]", "\"a b\"", "\"(?i:'s|'t)\"", "\"\\\\p{L}+\"", "\"\\\\s+(?!\\\\S)\"", "\"[\"",
	"\"(a|a)*b\"", "\"\\\\d{1,3}\"", "\"\\\\X\"", "\"(?=x)\"", "\"\\\\b\"", ", ", ": ", "{}", "[]", NULL,
};

static const char *const g_texts[] = {
	"",
	"Hello, world! 123456789 don't",
	"  leading and trailing spaces  \n\n\ttabs",
	"北京 is 中文, ünïcödé and emoji 😀👍🏽",
	"<|user|>\nhi<|assistant|><think>a</think>[gMASK]<sop>",
	"<tool_call>get_weather<arg_key>city</arg_key><arg_value>Paris</arg_value></tool_call>",
	"a b a b ab ab abab ba",
};

static void check_ids(const struct tokenizer *t, const char *text, size_t len)
{
	int32_t *ids = NULL;
	size_t n = 0;
	struct err e = {{0}};
	int rc = tokenizer_encode(t, text, len, &ids, &n, &e);
	FUZZ_CHECK(rc == 0, "encoding valid UTF-8 failed: %s", e.msg);
	FUZZ_CHECK(ids != NULL, "ids must be allocated even when empty");
	int32_t vs = tokenizer_vocab_size(t);
	for (size_t i = 0; i < n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < vs, "id %d outside [0, %d)", ids[i], vs);
	for (int skip = 0; skip < 2; skip++) {
		struct buf whole, inc;
		buf_init(&whole);
		buf_init(&inc);
		tokenizer_decode(t, ids, n, skip, &whole);
		struct detok d;
		detok_init(&d, t, skip);
		for (size_t i = 0; i < n; i++) detok_feed(&d, ids[i], &inc);
		detok_finish(&d, &inc);
		detok_free(&d);
		FUZZ_CHECK(whole.len == inc.len && !memcmp(whole.data ? whole.data : "", inc.data ? inc.data : "", whole.len),
		           "incremental detokenization differs from decode (skip_special %d)", skip);
		FUZZ_CHECK(fuzz_utf8_valid(whole.data ? whole.data : "", whole.len), "decode gave invalid UTF-8");
		buf_free(&whole);
		buf_free(&inc);
	}
	free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_LEVEL_QUIET); /* odd added tokens are warned about; not news here */
	struct err e = {{0}};
	struct tokenizer *t = tokenizer_create_from_memory((const char *)data, size, &e);
	if (!t) {
		FUZZ_CHECK(e.msg[0] != 0, "a failed load must say why");
		return -1;
	}
	FUZZ_CHECK(tokenizer_vocab_size(t) > 0, "loaded with vocab size %d", tokenizer_vocab_size(t));
	for (size_t i = 0; i < sizeof g_texts / sizeof *g_texts; i++) check_ids(t, g_texts[i], strlen(g_texts[i]));
	size_t n = size < 512 ? size : 512;
	while (n && !fuzz_utf8_valid((const char *)data, n)) n--;
	check_ids(t, (const char *)data, n);
	int32_t *ids = NULL;
	size_t n_ids = 0;
	e.msg[0] = 0;
	FUZZ_CHECK(tokenizer_encode(t, "ok\xc3(", 4, &ids, &n_ids, &e) == -1 && e.msg[0], "invalid UTF-8 was encoded");
	free(ids);
	/* every id has its bytes and string consistent */
	int32_t vs = tokenizer_vocab_size(t);
	for (int32_t id = 0; id < vs && id < 4096; id++) {
		size_t len = 99;
		const char *b = tokenizer_token_bytes(t, id, &len);
		FUZZ_CHECK(b != NULL, "token_bytes(%d) is NULL", id);
		if (!tokenizer_token_str(t, id)) FUZZ_CHECK(len == 0, "id %d has bytes but no string", id);
	}
	size_t len = 99;
	tokenizer_token_bytes(t, vs, &len);
	FUZZ_CHECK(len == 0, "an unknown id has %zu bytes", len);
	tokenizer_destroy(t);
	return 0;
}
