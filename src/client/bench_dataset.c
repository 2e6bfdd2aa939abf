/* bench_dataset.c — vLLM's random dataset (bench_dataset.h). The order of the random draws follows
 * vLLM's RandomDataset.sample: all input lengths, all output lengths, all offsets, the prefix,
 * then the padding ids of the length adjustment. */
#include "client/bench_dataset.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int bench_vocab_load(const struct tokenizer *t, const char *path, struct bench_vocab *v, struct err *e)
{
	memset(v, 0, sizeof *v);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j) return err_set(e, "%s:%d: %s", path, je.line, je.text);
	json_t *vocab = json_object_get(json_object_get(j, "model"), "vocab");
	if (!json_is_object(vocab) || json_object_size(vocab) == 0) {
		json_decref(j);
		return err_set(e, "%s: model.vocab is missing or empty", path);
	}
	v->vocab_size = (int32_t)json_object_size(vocab);
	bool *special = xcalloc((size_t)v->vocab_size, sizeof *special);
	json_t *added = json_object_get(j, "added_tokens"), *a;
	size_t k;
	json_array_foreach(added, k, a)
	{
		json_t *id = json_object_get(a, "id");
		if (json_is_integer(id) && json_is_true(json_object_get(a, "special")) && json_integer_value(id) >= 0 &&
		    json_integer_value(id) < v->vocab_size)
			special[json_integer_value(id)] = true;
	}
	v->allowed = xmalloc((size_t)v->vocab_size * sizeof *v->allowed);
	for (int32_t id = 0; id < v->vocab_size; id++) {
		size_t len;
		const char *bytes = tokenizer_token_bytes(t, id, &len);
		if (!special[id] && !memchr(bytes, '\0', len)) v->allowed[v->n_allowed++] = id;
	}
	free(special);
	json_decref(j);
	if (!v->n_allowed) return err_set(e, "%s: every vocab id is special", path);
	return 0;
}

void bench_vocab_free(struct bench_vocab *v)
{
	free(v->allowed);
	memset(v, 0, sizeof *v);
}

/* integer uniform in [lo, hi] */
static long uniform_int(struct rng *r, long lo, long hi)
{
	return lo + (long)(rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* A random allowed id whose bytes are whole UTF-8 characters and which encodes back to itself
 * alone: appending it changes the decoded text only at its end. */
static int32_t clean_id(const struct tokenizer *t, const struct bench_vocab *v, struct rng *rng)
{
	int32_t id = v->allowed[0];
	for (int tries = 0; tries < 1000; tries++) {
		id = v->allowed[rng_next(rng) % v->n_allowed];
		size_t len;
		const char *b = tokenizer_token_bytes(t, id, &len);
		uint32_t cp;
		bool ok = len > 0;
		for (size_t i = 0; ok && i < len;) {
			int k = utf8_decode(b + i, len - i, &cp);
			ok = k > 0;
			i += k > 0 ? (size_t)k : 0;
		}
		if (!ok) continue;
		int32_t *ids = NULL;
		size_t n = 0;
		struct err e;
		ok = tokenizer_encode(t, b, len, &ids, &n, &e) == 0 && n == 1 && ids[0] == id;
		free(ids);
		if (ok) break;
	}
	return id;
}

/* True when the bytes of ids[0..n) end with a whole UTF-8 character (or are empty): cutting there
 * leaves no partial character for decode to turn into U+FFFD. */
static bool ends_on_char(const struct tokenizer *t, const int32_t *ids, size_t n)
{
	char tail[64];
	size_t tl = 0;
	/* the last few tokens' bytes hold the last character's 4 bytes at most */
	size_t first = n > 4 ? n - 4 : 0;
	for (size_t i = first; i < n; i++) {
		size_t len;
		const char *b = tokenizer_token_bytes(t, ids[i], &len);
		if (tl + len > sizeof tail) tl = 0; /* a long token: only its own bytes matter */
		if (len > sizeof tail) b += len - sizeof tail, len = sizeof tail;
		memcpy(tail + tl, b, len);
		tl += len;
	}
	if (tl == 0) return true;
	size_t s = tl - 1;
	while (s > 0 && tl - s < 4 && ((unsigned char)tail[s] & 0xC0) == 0x80) s--;
	uint32_t cp;
	return utf8_decode(tail + s, tl - s, &cp) == (int)(tl - s);
}

/* decode -> encode until the text encodes to exactly `target` ids. First vLLM's rounds
 * (gen_prompt_decode_to_target_len: too long is truncated, too short padded with random ids);
 * when they do not meet (small byte-level vocabs, where a cut through a multi-byte character
 * re-encodes longer every time), one id at a time from the end: when too long drop one (and
 * more up to a character boundary), when too short append a clean one. */
static int fit_prompt(const struct tokenizer *t, const struct bench_vocab *v, struct rng *rng, int32_t *seq, size_t n,
                      size_t target, int max_retry, struct bench_prompt *p, struct err *e)
{
	int32_t *cur = xmalloc((n + 1) * sizeof *cur);
	memcpy(cur, seq, n * sizeof *cur);
	size_t cur_n = n;
	struct buf text;
	buf_init(&text);
	int fine_steps = 4 * (int)target + 64;
	for (int left = max_retry;; left--) {
		buf_clear(&text);
		tokenizer_decode(t, cur, cur_n, false, &text);
		if (!text.data) buf_reserve(&text, 0), text.data[0] = '\0';
		int32_t *enc = NULL;
		size_t enc_n = 0;
		if (tokenizer_encode(t, text.data, text.len, &enc, &enc_n, e)) {
			free(cur), buf_free(&text);
			return -1;
		}
		free(cur);
		cur = enc, cur_n = enc_n;
		if (cur_n == target) break;
		if (left > 0) {
			if (cur_n > target) cur_n = target;
			else {
				cur = xrealloc(cur, (target + 1) * sizeof *cur);
				while (cur_n < target) cur[cur_n++] = v->allowed[rng_next(rng) % v->n_allowed];
			}
		} else {
			if (fine_steps-- <= 0) break;
			if (cur_n > target) {
				cur_n--;
				while (cur_n > 0 && !ends_on_char(t, cur, cur_n)) cur_n--;
			} else {
				cur = xrealloc(cur, (cur_n + 2) * sizeof *cur);
				cur[cur_n++] = clean_id(t, v, rng);
			}
		}
	}
	p->text = buf_take(&text);
	p->ids = cur;
	p->prompt_len = (int)cur_n;
	p->target_len = (int)target;
	return 0;
}

int bench_dataset_random(const struct tokenizer *t, const struct bench_vocab *v, const struct bench_random_opts *o,
                         struct bench_prompt **out, long *mismatch, struct err *e)
{
	*out = NULL;
	*mismatch = 0;
	double r = o->range_ratio;
	if (!(r >= 0 && r < 1)) return err_set(e, "--random-range-ratio must be in [0, 1), got %g", r);
	if (o->num_prompts <= 0) return err_set(e, "--num-prompts must be positive");
	if (o->input_len < 0 || o->output_len < 0 || o->prefix_len < 0) return err_set(e, "lengths must not be negative");
	/* our tokenizer never adds special tokens (tokenizer.h), so num_special_tokens_to_add is 0 */
	long in_lo = (long)floor(o->input_len * (1 - r)), in_hi = (long)ceil(o->input_len * (1 + r));
	long out_lo = (long)floor(o->output_len * (1 - r)), out_hi = (long)ceil(o->output_len * (1 + r));
	if (out_lo < 1) out_lo = 1;
	if (out_hi < 1) out_hi = 1;
	if (o->prefix_len + in_lo < 1)
		return err_set(e, "--random-input-len is too small: with --random-range-ratio %g the shortest prompt would have "
		                  "%ld tokens; increase --random-input-len or --random-prefix-len",
		               r, o->prefix_len + in_lo);
	int n = o->num_prompts;
	struct rng rng;
	rng_seed(&rng, o->seed);
	long *in_len = xmalloc(n * sizeof *in_len), *out_len = xmalloc(n * sizeof *out_len);
	uint64_t *offset = xmalloc(n * sizeof *offset);
	for (int i = 0; i < n; i++) in_len[i] = uniform_int(&rng, in_lo, in_hi);
	for (int i = 0; i < n; i++) out_len[i] = uniform_int(&rng, out_lo, out_hi);
	for (int i = 0; i < n; i++) offset[i] = rng_next(&rng) % (uint64_t)v->vocab_size;
	int32_t *prefix = xmalloc(((size_t)o->prefix_len + 1) * sizeof *prefix);
	for (int k = 0; k < o->prefix_len; k++) prefix[k] = v->allowed[rng_next(&rng) % v->n_allowed];

	struct bench_prompt *ps = xcalloc((size_t)n, sizeof *ps);
	int rc = 0;
	for (int i = 0; i < n && !rc; i++) {
		size_t total = (size_t)o->prefix_len + (size_t)in_len[i];
		int32_t *seq = xmalloc((total + 1) * sizeof *seq);
		memcpy(seq, prefix, (size_t)o->prefix_len * sizeof *seq);
		for (long k = 0; k < in_len[i]; k++)
			seq[o->prefix_len + k] = v->allowed[(offset[i] + (uint64_t)i + (uint64_t)k) % v->n_allowed];
		rc = fit_prompt(t, v, &rng, seq, total, total, o->max_retry, &ps[i], e);
		free(seq);
		ps[i].output_len = (int)out_len[i];
		*mismatch += (long)ps[i].prompt_len - (long)total;
	}
	free(in_len), free(out_len), free(offset), free(prefix);
	if (rc) {
		bench_prompts_free(ps, n);
		return -1;
	}
	*out = ps;
	return 0;
}

void bench_prompts_free(struct bench_prompt *p, int n)
{
	if (!p) return;
	for (int i = 0; i < n; i++) free(p[i].text), free(p[i].ids);
	free(p);
}
