/* test_tokenizer.c — C unit tests of the tokenizer: the built-in tokenizer (write, load,
 * special ids and flags, round trip, determinism), UTF-8 lossy decoding (Rust's
 * from_utf8_lossy rules), the incremental detokenizer on characters split across tokens, load
 * errors for bad tokenizer.json files, and, given the GLM tokenizer.json as argv[1], known ids,
 * skip_special decoding, speed on a 100 KB text, very long whitespace runs and concurrent use.
 * (Agreement with HF tokenizers on many texts is checked by tok_compare.py.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer.h"
#include "../test_util.h"

static bool valid_utf8(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int l = utf8_decode(s + i, n - i, &cp);
		if (!l) return false;
		i += (size_t)l;
	}
	return true;
}

static bool ids_eq(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* encode then decode must give the text back */
static bool roundtrip(const struct tokenizer *t, const char *text, size_t len)
{
	int32_t *ids;
	size_t n;
	struct err e;
	if (tokenizer_encode(t, text, len, &ids, &n, &e)) return false;
	struct buf out;
	buf_init(&out);
	tokenizer_decode(t, ids, n, false, &out);
	bool ok = out.len == len && memcmp(out.data, text, len) == 0;
	buf_free(&out);
	free(ids);
	return ok;
}

/* Feeds ids one at a time: every chunk must be whole UTF-8 and the concatenation must equal
 * tokenizer_decode. Returns the number of chunks that were non-empty before finish. */
static int detok_check(const struct tokenizer *t, const int32_t *ids, size_t n, bool skip, bool *ok)
{
	struct buf want, got, chunk;
	buf_init(&want), buf_init(&got), buf_init(&chunk);
	tokenizer_decode(t, ids, n, skip, &want);
	struct detok d;
	detok_init(&d, t, skip);
	int nonempty = 0;
	*ok = true;
	for (size_t i = 0; i <= n; i++) {
		buf_clear(&chunk);
		if (i < n) detok_feed(&d, ids[i], &chunk);
		else detok_finish(&d, &chunk);
		*ok &= valid_utf8(chunk.data ? chunk.data : "", chunk.len);
		if (i < n && chunk.len) nonempty++;
		buf_append(&got, chunk.data ? chunk.data : "", chunk.len);
	}
	detok_free(&d);
	*ok &= got.len == want.len && memcmp(got.data ? got.data : "", want.data ? want.data : "", got.len) == 0;
	buf_free(&want), buf_free(&got), buf_free(&chunk);
	return nonempty;
}

static void test_lossy(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *out;
	} cases[] = {
		{"abc", 3, "abc"},
		{"\xE4\xBD\xA0", 3, "\xE4\xBD\xA0"},
		{"\xE4\xBD" "A", 3, "\xEF\xBF\xBD" "A"},                    /* truncated 3-byte sequence: one U+FFFD */
		{"\xF0\x80\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* F0 80: not a valid prefix */
		{"\xED\xA0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
		{"\xC0\x80", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* overlong */
		{"\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
		{"\xF0\x9F\x98", 3, "\xEF\xBF\xBD"},                         /* truncated at the end */
		{"a\x80" "b\xFF", 4, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD"},
		{"\xE0\xA0\x80", 3, "\xE0\xA0\x80"},
		{"\xF0\x9F\x98\x80\xF0\x9F", 6, "\xF0\x9F\x98\x80\xEF\xBF\xBD"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;
		buf_init(&b);
		size_t used = tokenizer_utf8_lossy(&b, cases[i].in, cases[i].n, true);
		CHECK(used == cases[i].n);
		CHECK_STREQ(b.data ? b.data : "", cases[i].out);
		buf_free(&b);
	}
	/* not final: an incomplete but valid tail is left for later */
	struct buf b;
	buf_init(&b);
	CHECK(tokenizer_utf8_lossy(&b, "ab\xF0\x9F\x98", 5, false) == 2);
	CHECK_STREQ(b.data, "ab");
	buf_clear(&b);
	CHECK(tokenizer_utf8_lossy(&b, "ab\xF0\x80", 4, false) == 4); /* invalid at once: replaced now */
	CHECK_STREQ(b.data, "ab\xEF\xBF\xBD\xEF\xBF\xBD");
	buf_free(&b);
}

static const char *const specials[] = {
	"<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>", "<|user|>", "<|assistant|>",
	"<|observation|>", "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>",
	"<|begin_of_audio|>", "<|end_of_audio|>", "<|begin_of_transcription|>", "<|end_of_transcription|>",
	"<|code_prefix|>", "<|code_middle|>", "<|code_suffix|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
	"<tool_response>", "</tool_response>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>", "/nothink",
	"<|begin_of_box|>", "<|end_of_box|>", "<|image|>", "<|video|>",
};
enum { N_SPECIALS = sizeof specials / sizeof specials[0] };
/* decode(skip_special) keeps these (special=false in the GLM-4.5 table) */
static bool kept_by_skip(int i) { return i >= 21 && i <= 30; }

static void test_detok(struct tokenizer *t);

static void test_builtin(void)
{
	struct buf a, b;
	buf_init(&a), buf_init(&b);
	int vs = tokenizer_write_builtin_json(&a, 600);
	int vs2 = tokenizer_write_builtin_json(&b, 600);
	CHECK(vs == vs2 && a.len == b.len && memcmp(a.data, b.data, a.len) == 0); /* deterministic */
	buf_clear(&b);
	int vs_small = tokenizer_write_builtin_json(&b, 10);
	CHECK(vs_small == 256 + 10 + N_SPECIALS); /* ten merges, ten new tokens */
	buf_clear(&b);
	CHECK(tokenizer_write_builtin_json(&b, 0) == 256 + N_SPECIALS);

	struct err e;
	struct tokenizer *t = tokenizer_create_from_memory(a.data, a.len, &e);
	CHECK_MSG(t != NULL, "%s", e.msg);
	if (!t) return;
	CHECK(tokenizer_vocab_size(t) == vs);
	int first = vs - N_SPECIALS;
	CHECK(first > 256 && first <= 256 + 600);
	for (int i = 0; i < N_SPECIALS; i++) {
		CHECK_MSG(tokenizer_token_id(t, specials[i]) == first + i, "%s", specials[i]);
		CHECK_STREQ(tokenizer_token_str(t, first + i), specials[i]);
		CHECK_MSG(tokenizer_is_special(t, first + i) == !kept_by_skip(i), "%s", specials[i]);
	}
	/* byte tokens: id = byte value, ByteLevel-mapped strings */
	CHECK_STREQ(tokenizer_token_str(t, 'a'), "a");
	CHECK_STREQ(tokenizer_token_str(t, ' '), "\xC4\xA0"); /* Ġ */
	CHECK(tokenizer_token_id(t, "\xC4\x8A") == '\n');     /* Ċ */
	CHECK(tokenizer_token_str(t, vs) == NULL && tokenizer_token_str(t, -1) == NULL);
	CHECK(tokenizer_token_id(t, "no such token anywhere") == -1);
	/* every id's string maps back to it */
	int consistent = 1;
	for (int32_t id = 0; id < vs; id++) consistent &= tokenizer_token_id(t, tokenizer_token_str(t, id)) == id;
	CHECK(consistent);

	/* common words of the sample are single tokens (all of them once the merges run out) */
	static const char *const words[] = {" the", " model", " token", "The", " answer", "\xE4\xBD\xA0\xE5\xA5\xBD"};
	buf_clear(&b);
	int vs_all = tokenizer_write_builtin_json(&b, 100000);
	struct tokenizer *t_all = tokenizer_create_from_memory(b.data, b.len, &e);
	CHECK(t_all && tokenizer_vocab_size(t_all) == vs_all && vs_all > vs);
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		for (int k = 0; k < 2; k++) {
			if (k == 0 && i == 5) continue; /* a rarer word: only with all merges */
			int32_t *ids;
			size_t n;
			CHECK(tokenizer_encode(k ? t_all : t, words[i], strlen(words[i]), &ids, &n, &e) == 0);
			CHECK_MSG(n == 1, "'%s' is %zu tokens", words[i], n);
			free(ids);
		}
	}
	tokenizer_destroy(t_all);
	buf_free(&b);
	/* the chat template's text: specials come out as their ids */
	const char *prompt = "[gMASK]<sop><|user|>\nhello<|assistant|>\n<think></think>Hi there!";
	int32_t *ids;
	size_t n;
	CHECK(tokenizer_encode(t, prompt, strlen(prompt), &ids, &n, &e) == 0);
	CHECK(n > 8 && ids[0] == first + 2 && ids[1] == first + 4 && ids[2] == first + 7);
	struct buf out;
	buf_init(&out);
	tokenizer_decode(t, ids, n, true, &out);
	CHECK_STREQ(out.data, "\nhello\n<think></think>Hi there!"); /* specials dropped, <think> kept */
	buf_free(&out);
	free(ids);

	static const char *const texts[] = {
		"Hello, world! The quick brown fox jumps over the lazy dog.",
		"\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xEF\xBC\x81 emoji \xF0\x9F\x98\x80\xF0\x9F\xA4\x94",
		"int main(void)\n{\n\treturn 0;\n}\n\n\n   \r\n\t x",
		"", "<|endoftext|><|endoftext|>", "  <think>  ", "12345678901234567890",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) CHECK_MSG(roundtrip(t, texts[i], strlen(texts[i])), "%zu", i);
	CHECK(roundtrip(t, "a\0b\0", 4)); /* NUL bytes are text too */
	/* invalid UTF-8 input is an error naming the byte */
	CHECK(tokenizer_encode(t, "ab\xFF", 3, &ids, &n, &e) == -1 && strstr(e.msg, "UTF-8") && strstr(e.msg, "byte 2"));
	free(ids);
	test_detok(t);
	tokenizer_destroy(t);
	buf_free(&a);
}

static void test_detok(struct tokenizer *t)
{
	/* byte-level tokens: an emoji split over its 4 bytes, a CJK char over 3 */
	int32_t emoji[] = {'a', 0xF0, 0x9F, 0x98, 0x80, 'b', 0xE4, 0xBD, 0xA0};
	bool ok;
	int chunks = detok_check(t, emoji, 9, false, &ok);
	CHECK(ok);
	CHECK(chunks == 4); /* 'a', emoji (on its last byte), 'b', CJK (on its last byte) */
	struct buf out;
	buf_init(&out);
	struct detok d;
	detok_init(&d, t, false);
	detok_feed(&d, 0xF0, &out);
	detok_feed(&d, 0x9F, &out);
	CHECK(out.len == 0); /* nothing until the character is complete */
	detok_feed(&d, 0x98, &out);
	detok_feed(&d, 0x80, &out);
	CHECK_STREQ(out.data, "\xF0\x9F\x98\x80");
	buf_clear(&out);
	/* an incomplete character at the end is flushed lossily */
	detok_feed(&d, 0xE4, &out);
	detok_feed(&d, 0xBD, &out);
	CHECK(out.len == 0);
	detok_finish(&d, &out);
	CHECK_STREQ(out.data, "\xEF\xBF\xBD");
	buf_clear(&out);
	/* a broken sequence is replaced as soon as it is known to be broken */
	detok_feed(&d, 0xE4, &out);
	detok_feed(&d, 'x', &out);
	CHECK_STREQ(out.data, "\xEF\xBF\xBDx");
	detok_free(&d);
	buf_free(&out);
	/* invalid and skipped ids in the middle */
	int32_t mixed[] = {0xE4, -5, 0xBD, tokenizer_vocab_size(t) + 7, 0xA0, 0xFF, 0x80};
	detok_check(t, mixed, 7, false, &ok);
	CHECK(ok);
}

static void test_bad_json(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"this is not json", "not valid JSON"},
		{"[1, 2]", "not a JSON object"},
		{"{\"version\": \"1.0\"}", "model"},
		{"{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", "model.type 'WordPiece'"},
		{"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "model.type 'Unigram'"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "model.merges[0]"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"aa\": 1}, \"merges\": [\"a a\", 7]}}", "model.merges[1]"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": \"x\"}, \"merges\": []}}", "model.vocab[\"a\"]"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"dropout\": 0.1}}", "model.dropout"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"unk_token\": \"<unk>\"}}", "model.unk_token"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"continuing_subword_prefix\": \"##\"}}",
		 "model.continuing_subword_prefix"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"normalizer\": {\"type\": \"NFC\"}}",
		 "normalizer.type 'NFC'"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\"}}",
		 "pre_tokenizer.type 'Metaspace'"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", "
		 "\"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}]}}",
		 "pre_tokenizer.pretokenizers[0].pattern"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Split\", "
		 "\"pattern\": {\"Regex\": \"a\"}, \"behavior\": \"Sideways\"}}",
		 "pre_tokenizer.behavior 'Sideways'"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"decoder\": {\"type\": \"WordPiece\"}}",
		 "decoder.type 'WordPiece'"},
		{"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}, \"added_tokens\": [{\"id\": 1}]}",
		 "added_tokens[0].content"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err e = {{0}};
		struct tokenizer *t = tokenizer_create_from_memory(cases[i].json, strlen(cases[i].json), &e);
		CHECK_MSG(t == NULL && strstr(e.msg, cases[i].want), "case %zu: got '%s', want '%s'", i, e.msg, cases[i].want);
		tokenizer_destroy(t);
	}
	struct err e = {{0}};
	CHECK(tokenizer_create("/nonexistent/tokenizer.json", &e) == NULL && strstr(e.msg, "/nonexistent/tokenizer.json"));
	/* the file name is prefixed to load errors */
	const char *path = "/tmp/test_tokenizer_bad.json";
	struct err e2;
	file_write_all(path, "{\"model\": 5}", 12, &e2);
	CHECK(tokenizer_create(path, &e) == NULL && strstr(e.msg, path) && strstr(e.msg, "model"));
	remove(path);
}

struct thread_arg {
	const struct tokenizer *t;
	const char *text;
	size_t len;
	int32_t *ids;
	size_t n;
};

static void *encode_thread(void *p)
{
	struct thread_arg *a = p;
	struct err e;
	if (tokenizer_encode(a->t, a->text, a->len, &a->ids, &a->n, &e)) a->ids = NULL;
	return NULL;
}

/* ~100 KB of mixed text from a fixed seed */
static void make_text(struct buf *b, size_t target)
{
	static const char *const parts[] = {
		"the ", "model ", "Hello", ", ", "world", "! ", "12345", " ", "\n", "\t", "  ", "don't ", "IT'S ",
		"\xE4\xBD\xA0\xE5\xA5\xBD", "\xE4\xB8\x96\xE7\x95\x8C", "\xF0\x9F\x98\x80", "\xD0\xBF\xD1\x80\xD0\xB8",
		"<|user|>", "<think>", "\r\n", "...", "x = y + 1;", "\xC3\xA9t\xC3\xA9", "0.5", "      ",
	};
	struct rng r;
	rng_seed(&r, 42);
	while (b->len < target) buf_puts(b, parts[rng_next(&r) % (sizeof parts / sizeof parts[0])]);
}

static void test_glm(const char *path)
{
	struct err e;
	double t0 = time_now();
	struct tokenizer *t = tokenizer_create(path, &e);
	CHECK_MSG(t != NULL, "%s", e.msg);
	if (!t) return;
	printf("loaded %s in %.2f s\n", path, time_now() - t0);
	CHECK(tokenizer_vocab_size(t) == 151365);
	CHECK(tokenizer_token_id(t, "<|endoftext|>") == 151329);
	CHECK(tokenizer_token_id(t, "[gMASK]") == 151331);
	CHECK(tokenizer_token_id(t, "<|user|>") == 151336);
	CHECK(tokenizer_token_id(t, "<think>") == 151350);
	CHECK(tokenizer_token_id(t, "<|video|>") == 151364);
	CHECK(tokenizer_is_special(t, 151329) && tokenizer_is_special(t, 151336) && tokenizer_is_special(t, 151360));
	CHECK(!tokenizer_is_special(t, 151350) && !tokenizer_is_special(t, 151359) && !tokenizer_is_special(t, 9703));
	CHECK_STREQ(tokenizer_token_str(t, 151331), "[gMASK]");

	/* from tools/tokref/README.md (HF tokenizers on this file) */
	static const struct {
		const char *text;
		int32_t ids[20];
		size_t n;
	} known[] = {
		{"Hello, world! The quick brown fox jumps over 12345 lazy dogs.",
		 {9703, 11, 1879, 0, 576, 3974, 13867, 38627, 34041, 916, 220, 108714, 100461, 15666, 12584, 13}, 16},
		{"\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xEF\xBC\x81\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9"
		 "\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD\xE3\x80\x82",
		 {109377, 3837, 99011, 6313, 99637, 101791, 101145, 1773}, 8},
		{"a    b\t\tc\n\n\n   d   ", {64, 262, 293, 197, 1444, 1406, 256, 294, 262}, 9},
		{"[gMASK]<sop><|system|>\nYou are helpful.<|user|>\nhi<|assistant|>\n<think></think>\nHello!",
		 {151331, 151333, 151335, 198, 2610, 525, 10945, 13, 151336, 198, 6023, 151337, 198, 151350, 151351, 198, 9703, 0},
		 18},
	};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		int32_t *ids;
		size_t n;
		CHECK(tokenizer_encode(t, known[i].text, strlen(known[i].text), &ids, &n, &e) == 0);
		CHECK_MSG(ids_eq(ids, n, known[i].ids, known[i].n), "known[%zu]", i);
		free(ids);
		CHECK(roundtrip(t, known[i].text, strlen(known[i].text)));
	}
	struct buf out;
	buf_init(&out);
	int32_t dec[] = {151331, 151333, 9703, 0, 151350, 151329, 99999999, -1};
	tokenizer_decode(t, dec, 8, false, &out);
	CHECK_STREQ(out.data, "[gMASK]<sop>Hello!<think><|endoftext|>");
	buf_clear(&out);
	tokenizer_decode(t, dec, 8, true, &out);
	CHECK_STREQ(out.data, "Hello!<think>");
	buf_free(&out);

	/* emoji that BPE splits over several tokens */
	const char *emo = "\xF0\x9F\x98\x80\xF0\x9F\xA4\x94 ok \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7";
	int32_t *ids;
	size_t n;
	CHECK(tokenizer_encode(t, emo, strlen(emo), &ids, &n, &e) == 0);
	int32_t want_emo[] = {74764, 222, 9281, 97, 242}; /* tokref: "😀🤔" -> ["ðŁĺ","Ģ","ðŁ","¤","Ķ"] */
	CHECK(n > 5 && memcmp(ids, want_emo, sizeof want_emo) == 0);
	bool ok;
	int chunks = detok_check(t, ids, n, false, &ok);
	CHECK(ok && chunks < (int)n); /* some tokens completed no character */
	free(ids);

	/* 100 KB must encode well under a second */
	struct buf big;
	buf_init(&big);
	make_text(&big, 100 * 1024);
	t0 = time_now();
	CHECK(tokenizer_encode(t, big.data, big.len, &ids, &n, &e) == 0);
	double dt = time_now() - t0;
	printf("encoded %zu bytes -> %zu tokens in %.1f ms\n", big.len, n, dt * 1e3);
	CHECK(dt < 0.5);
	free(ids);
	CHECK(roundtrip(t, big.data, big.len));

	/* two threads encoding at once get the single-threaded answer */
	int32_t *ref;
	size_t nref;
	CHECK(tokenizer_encode(t, big.data, big.len, &ref, &nref, &e) == 0);
	struct thread_arg args[2] = {{t, big.data, big.len, NULL, 0}, {t, big.data, big.len, NULL, 0}};
	pthread_t th[2];
	for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, encode_thread, &args[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		CHECK(args[i].ids && ids_eq(args[i].ids, args[i].n, ref, nref));
		free(args[i].ids);
	}
	free(ref);

	/* very long runs (regex backtracking, one huge BPE piece) */
	buf_clear(&big);
	for (int i = 0; i < 300000; i++) buf_putc(&big, ' ');
	buf_puts(&big, "x");
	for (int i = 0; i < 200000; i++) buf_putc(&big, 'a');
	for (int i = 0; i < 100000; i++) buf_puts(&big, "\n ");
	t0 = time_now();
	CHECK(roundtrip(t, big.data, big.len));
	printf("long runs (%zu bytes) in %.1f ms\n", big.len, (time_now() - t0) * 1e3);
	buf_free(&big);
	tokenizer_destroy(t);
}

int main(int argc, char **argv)
{
	test_lossy();
	test_builtin();
	test_bad_json();
	if (argc > 1) test_glm(argv[1]);
	else {
		fprintf(stderr, "usage: test_tokenizer GLM_TOKENIZER_JSON\n");
		test_failed++;
	}
	TEST_END();
}
