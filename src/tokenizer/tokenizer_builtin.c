/* tokenizer_builtin.c — the built-in tokenizer.json written by `glm synth` for tiny demo/test
 * checkpoints: byte-level BPE trained here, deterministically, on a fixed sample text (English
 * prose, C/Python/JSON, Chinese), with GLM's special tokens and pre-tokenizer. Not a copy of
 * any real vocabulary: it only has to behave like a GLM tokenizer (same pipeline, same special
 * tokens and flags as data/tokenizers/glm-4.5-reconstructed/tokenizer.json).
 * Thread rules: pure function of n_merges; safe from any thread. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tokenizer_internal.h"

/* Written for this project; common words repeat so they become single tokens. */
static const char sample_text[] =
	"The quick brown fox jumps over the lazy dog. The dog was not amused, but the fox was happy.\n"
	"Hello, world! This is a small language model. It can answer questions, write code and think.\n"
	"You are a helpful assistant. Please answer the question step by step, and then give the final answer.\n"
	"What is the capital of France? The capital of France is Paris. What is 12 + 30? The answer is 42.\n"
	"I think that the answer is correct, because we checked it twice. Let me think about it again.\n"
	"The user asked for the weather in Beijing today. I will call the weather tool with the city name.\n"
	"There are many models in the world, and each model has its own tokenizer and its own weights.\n"
	"A token is a piece of text. The model reads tokens, and it writes tokens, one token at a time.\n"
	"We load the weights, we run the layers, and we sample the next token from the probabilities.\n"
	"The server is running on port 8080. Send a request with the messages and the model name.\n"
	"It's a good day, isn't it? They're here, we've seen them, I'm sure you'll like it, he'd say.\n"
	"Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 2025 3.14159 1,000,000 -7 +8 50% $20.\n"
	"\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"\tfor (int i = 0; i < argc; i++) {\n"
	"\t\tprintf(\"%d: %s\\n\", i, argv[i]);\n"
	"\t}\n"
	"\treturn 0;\n"
	"}\n"
	"\n"
	"static int sum(const int *values, size_t n)\n"
	"{\n"
	"    int total = 0;\n"
	"    for (size_t i = 0; i < n; i++) total += values[i];\n"
	"    return total;\n"
	"}\n"
	"\n"
	"def fibonacci(n):\n"
	"    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
	"    a, b = 0, 1\n"
	"    for _ in range(n):\n"
	"        a, b = b, a + b\n"
	"    return a\n"
	"\n"
	"class Model:\n"
	"    def __init__(self, name, layers):\n"
	"        self.name = name\n"
	"        self.layers = layers\n"
	"\n"
	"    def forward(self, tokens):\n"
	"        for layer in self.layers:\n"
	"            tokens = layer(tokens)\n"
	"        return tokens\n"
	"\n"
	"if __name__ == \"__main__\":\n"
	"    print(fibonacci(10))\n"
	"\n"
	"{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Beijing\", \"unit\": \"celsius\"}}\n"
	"{\"role\": \"user\", \"content\": \"Hello!\"}, {\"role\": \"assistant\", \"content\": \"Hi! How can I help you?\"}\n"
	"<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Beijing</arg_value>\n</tool_call>\n"
	"<think>The user wants the weather. I should call the tool.</think>\n"
	"\n"
	"你好，世界！今天天气很好。我们一起去公园散步吧。\n"
	"你是一个有用的助手。请一步一步地回答问题，然后给出最终答案。\n"
	"中国的首都是北京。北京是一个美丽的城市，有很多历史和文化。\n"
	"我认为这个答案是正确的，因为我们检查了两次。让我再想一想。\n"
	"模型读取文本，然后生成下一个词。语言模型可以回答问题，也可以写代码。\n"
	"用户问今天北京的天气怎么样。我会调用天气工具。\n"
	"\n"
	"The model said: \"I don't know.\" Then the user said: \"Please try again.\" And the model tried again.\n"
	"In the beginning the model knew nothing; after training on the text it knew the common words.\n"
	"Every request has a prompt, and every prompt has tokens; the engine counts the tokens for usage.\n"
	"Thank you! You're welcome. Good morning, good night, see you tomorrow.\n";

/* GLM-4.5 special tokens in id order; special=false marks the ones decode(skip_special) keeps,
 * as in data/tokenizers/glm-4.5-reconstructed/tokenizer.json. */
static const struct {
	const char *content;
	bool special;
} glm_specials[] = {
	{"<|endoftext|>", true},
	{"[MASK]", true},
	{"[gMASK]", true},
	{"[sMASK]", true},
	{"<sop>", true},
	{"<eop>", true},
	{"<|system|>", true},
	{"<|user|>", true},
	{"<|assistant|>", true},
	{"<|observation|>", true},
	{"<|begin_of_image|>", true},
	{"<|end_of_image|>", true},
	{"<|begin_of_video|>", true},
	{"<|end_of_video|>", true},
	{"<|begin_of_audio|>", true},
	{"<|end_of_audio|>", true},
	{"<|begin_of_transcription|>", true},
	{"<|end_of_transcription|>", true},
	{"<|code_prefix|>", true},
	{"<|code_middle|>", true},
	{"<|code_suffix|>", true},
	{"<think>", false},
	{"</think>", false},
	{"<tool_call>", false},
	{"</tool_call>", false},
	{"<tool_response>", false},
	{"</tool_response>", false},
	{"<arg_key>", false},
	{"</arg_key>", false},
	{"<arg_value>", false},
	{"</arg_value>", false},
	{"/nothink", true},
	{"<|begin_of_box|>", true},
	{"<|end_of_box|>", true},
	{"<|image|>", true},
	{"<|video|>", true},
};

struct word {
	int32_t *sym;
	size_t n;
	uint32_t count;
};

/* JSON string of the ByteLevel-mapped form of raw bytes. */
static void put_mapped(struct buf *out, const char *s, size_t n)
{
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		uint16_t c = pretok_byte_char[(unsigned char)s[i]];
		if (c == '"' || c == '\\') buf_putc(out, '\\'), buf_putc(out, (char)c);
		else if (c < 0x80) buf_putc(out, (char)c);
		else buf_putc(out, (char)(0xC0 | (c >> 6))), buf_putc(out, (char)(0x80 | (c & 0x3F)));
	}
	buf_putc(out, '"');
}

static void put_json_str(struct buf *out, const char *s)
{
	buf_putc(out, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') buf_putc(out, '\\');
		buf_putc(out, *s);
	}
	buf_putc(out, '"');
}

/* Pre-tokenized sample words with their counts. */
static size_t sample_words(struct word **words_out)
{
	struct err e;
	pcre2_code *re = pretok_compile_regex(pretok_glm4_regex, strlen(pretok_glm4_regex), false, &e);
	GLM_ASSERT(re);
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	struct tokmap_str index;
	tokmap_str_init(&index);
	struct word *words = NULL;
	size_t n_words = 0, n = sizeof sample_text - 1, pos = 0;
	/* the regex covers every character of the sample, so the matches are the pieces */
	while (pos < n && pcre2_match(re, (PCRE2_SPTR)sample_text, n, pos, 0, md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		GLM_ASSERT(ov[0] == pos && ov[1] > ov[0]);
		const char *w = sample_text + ov[0];
		size_t wl = ov[1] - ov[0];
		int32_t k;
		if (tokmap_str_get(&index, w, wl, &k, NULL)) {
			words[k].count++;
		} else {
			tokmap_str_put(&index, w, wl, (int32_t)n_words);
			words = xrealloc(words, (n_words + 1) * sizeof *words);
			words[n_words].sym = xmalloc(wl * sizeof(int32_t));
			words[n_words].n = wl;
			words[n_words].count = 1;
			for (size_t i = 0; i < wl; i++) words[n_words].sym[i] = (unsigned char)w[i];
			n_words++;
		}
		pos = ov[1];
	}
	GLM_ASSERT(pos == n);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	tokmap_str_free(&index);
	*words_out = words;
	return n_words;
}

int tokenizer_write_builtin_json(struct buf *out, int n_merges)
{
	pretok_tables_init();
	struct word *words;
	size_t n_words = sample_words(&words);

	/* token id -> raw bytes; ids 0..255 are the bytes themselves */
	struct buf tok_bytes;
	buf_init(&tok_bytes);
	size_t cap_tok = 512, n_tok = 256;
	uint32_t *tok_off = xmalloc(cap_tok * sizeof *tok_off), *tok_len = xmalloc(cap_tok * sizeof *tok_len);
	struct tokmap_str by_bytes;
	tokmap_str_init(&by_bytes);
	for (int b = 0; b < 256; b++) {
		char c = (char)b;
		tok_off[b] = (uint32_t)tok_bytes.len, tok_len[b] = 1;
		buf_putc(&tok_bytes, c);
		tokmap_str_put(&by_bytes, &c, 1, b);
	}
	int32_t(*merges)[2] = xmalloc((size_t)(n_merges > 0 ? n_merges : 1) * sizeof *merges);
	int done = 0;
	struct tokmap_u64 counts;
	char *cat = NULL;
	size_t cat_cap = 0;
	for (; done < n_merges; done++) {
		/* most frequent adjacent pair; ties go to the smaller (left, right) ids */
		tokmap_u64_init(&counts);
		uint64_t best_key = UINT64_MAX, best_count = 0;
		for (size_t w = 0; w < n_words; w++) {
			for (size_t i = 0; i + 1 < words[w].n; i++) {
				uint64_t key = (uint64_t)(uint32_t)words[w].sym[i] << 32 | (uint32_t)words[w].sym[i + 1], c = 0;
				tokmap_u64_get(&counts, key, &c);
				c += words[w].count;
				tokmap_u64_put(&counts, key, c);
				if (c > best_count || (c == best_count && key < best_key)) best_count = c, best_key = key;
			}
		}
		tokmap_u64_free(&counts);
		if (!best_count) break; /* every word is a single token */
		int32_t a = (int32_t)(best_key >> 32), b = (int32_t)(uint32_t)best_key;
		size_t la = tok_len[a], lb = tok_len[b];
		if (la + lb > cat_cap) cat_cap = (la + lb) * 2, cat = xrealloc(cat, cat_cap);
		memcpy(cat, tok_bytes.data + tok_off[a], la);
		memcpy(cat + la, tok_bytes.data + tok_off[b], lb);
		int32_t id;
		if (!tokmap_str_get(&by_bytes, cat, la + lb, &id, NULL)) {
			if (n_tok == cap_tok) {
				cap_tok *= 2;
				tok_off = xrealloc(tok_off, cap_tok * sizeof *tok_off);
				tok_len = xrealloc(tok_len, cap_tok * sizeof *tok_len);
			}
			id = (int32_t)n_tok++;
			tok_off[id] = (uint32_t)tok_bytes.len, tok_len[id] = (uint32_t)(la + lb);
			buf_append(&tok_bytes, cat, la + lb);
			tokmap_str_put(&by_bytes, cat, la + lb, id);
		}
		merges[done][0] = a, merges[done][1] = b;
		for (size_t w = 0; w < n_words; w++) { /* apply left to right, non-overlapping */
			size_t k = 0;
			for (size_t i = 0; i < words[w].n; i++) {
				if (i + 1 < words[w].n && words[w].sym[i] == a && words[w].sym[i + 1] == b) {
					words[w].sym[k++] = id;
					i++;
				} else {
					words[w].sym[k++] = words[w].sym[i];
				}
			}
			words[w].n = k;
		}
	}
	free(cat);

	int32_t first_special = (int32_t)n_tok;
	size_t n_specials = sizeof glm_specials / sizeof glm_specials[0];
	buf_puts(out, "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [\n");
	for (size_t i = 0; i < n_specials; i++) {
		buf_printf(out, "    {\"id\": %d, \"content\": ", first_special + (int)i);
		put_json_str(out, glm_specials[i].content);
		buf_printf(out,
		           ", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, "
		           "\"special\": %s}%s\n",
		           glm_specials[i].special ? "true" : "false", i + 1 < n_specials ? "," : "");
	}
	buf_puts(out, "  ],\n  \"normalizer\": null,\n  \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
	              "    {\"type\": \"Split\", \"pattern\": {\"Regex\": ");
	put_json_str(out, pretok_glm4_regex);
	buf_puts(out, "}, \"behavior\": \"Isolated\", \"invert\": false},\n"
	              "    {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}\n"
	              "  ]},\n"
	              "  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, "
	              "\"use_regex\": true},\n"
	              "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, "
	              "\"use_regex\": true},\n"
	              "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
	              "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
	              "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": true,\n"
	              "    \"vocab\": {\n");
	for (size_t id = 0; id < n_tok; id++) {
		buf_puts(out, "      ");
		put_mapped(out, tok_bytes.data + tok_off[id], tok_len[id]);
		buf_printf(out, ": %zu%s\n", id, id + 1 < n_tok ? "," : "");
	}
	buf_puts(out, "    },\n    \"merges\": [\n");
	for (int i = 0; i < done; i++) {
		int32_t a = merges[i][0], b = merges[i][1];
		buf_puts(out, "      [");
		put_mapped(out, tok_bytes.data + tok_off[a], tok_len[a]);
		buf_puts(out, ", ");
		put_mapped(out, tok_bytes.data + tok_off[b], tok_len[b]);
		buf_puts(out, i + 1 < done ? "],\n" : "]\n");
	}
	buf_puts(out, "    ]\n  }\n}\n");

	for (size_t w = 0; w < n_words; w++) free(words[w].sym);
	free(words);
	free(merges);
	free(tok_off);
	free(tok_len);
	buf_free(&tok_bytes);
	tokmap_str_free(&by_bytes);
	return first_special + (int)n_specials;
}
