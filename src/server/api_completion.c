/* api_completion.c — POST /v1/completions (serving.md §4.4): raw prompts (a string, strings,
 * token ids or lists of token ids; no chat template, no special tokens added), n choices per
 * prompt (choice index = prompt * n + k, as vLLM numbers them), `echo`, legacy logprobs
 * {tokens, token_logprobs, top_logprobs, text_offset}, streaming as text_completion chunks (one
 * per generated token).
 * max_tokens defaults to 16 as in OpenAI/vLLM. Prompt-token logprobs are not computed by the
 * engine, so with echo + logprobs the prompt's entries carry null logprobs. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api.h"
#include "server/api_gen.h"

struct cmpl_job {
	struct api_stream base;
	const struct api_ctx *ctx;
	json_t *body;
	struct api_request req;
	int n_prompts;
	int32_t *ids[API_MAX_PROMPTS]; /* owned copies (tokenized text or given ids) */
	int len[API_MAX_PROMPTS];
	char *echo_text[API_MAX_PROMPTS];
	struct api_gen gen;
	bool started;
	char id[48];
	long long created;
	long *offset; /* [choices] text_offset running value */
	bool *echoed; /* [choices] streaming: echo already sent */
	struct api_conn conn;
	struct api_sse sse;
};

static void job_free(struct cmpl_job *j)
{
	if (j->started) api_gen_free(&j->gen);
	for (int i = 0; i < j->n_prompts; i++) free(j->ids[i]), free(j->echo_text[i]);
	free(j->offset);
	free(j->echoed);
	api_request_free(&j->req);
	json_decref(j->body);
	buf_free(&j->sse.out);
	free(j);
}

/* legacy logprobs of entries v[0..n) (ids == NULL) or of prompt ids with null logprobs */
static json_t *legacy_logprobs(struct cmpl_job *j, int choice, const struct api_logprob *v, const int32_t *ids, int n)
{
	json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offs = json_array();
	for (int i = 0; i < n; i++) {
		int32_t t = v ? v[i].token : ids[i];
		json_t *ts = api_token_string(j->ctx, t);
		json_array_append_new(offs, json_integer(j->offset[choice]));
		j->offset[choice] += (long)json_string_length(ts);
		json_array_append_new(tokens, ts);
		if (!v) {
			json_array_append_new(lps, json_null());
			json_array_append_new(tops, json_null());
			continue;
		}
		json_array_append_new(lps, json_real(api_logprob_value(v[i].logprob)));
		json_t *top = json_object();
		for (int k = 0; k < v[i].n_top; k++) {
			json_t *s = api_token_string(j->ctx, v[i].top_ids[k]);
			json_object_set_new(top, json_string_value(s), json_real(api_logprob_value(v[i].top_logprobs[k])));
			json_decref(s);
		}
		json_array_append_new(tops, top);
	}
	return json_pack("{s:o,s:o,s:o,s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops, "text_offset", offs);
}

static json_t *merge_logprobs(json_t *a, json_t *b)
{
	if (!a) return b;
	static const char *const keys[] = {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
	for (int k = 0; k < 4; k++) json_array_extend(json_object_get(a, keys[k]), json_object_get(b, keys[k]));
	json_decref(b);
	return a;
}

static int prompt_of(const struct cmpl_job *j, int choice) { return choice / j->req.n; }

/* ---- streaming ---- */

static void put_chunk(struct cmpl_job *j, const struct api_choice *c, const struct buf *text, json_t *lp, bool final)
{
	json_t *ch = json_object();
	json_object_set_new(ch, "index", json_integer(c->index));
	json_object_set_new(ch, "text", api_json_text(text->data ? text->data : "", text->len));
	json_object_set_new(ch, "logprobs", lp ? lp : json_null());
	json_object_set_new(ch, "finish_reason", final ? json_string(c->finish) : json_null());
	json_object_set_new(ch, "stop_reason", final ? api_stop_reason_json(&j->req, c) : json_null());
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", j->id, "object", "text_completion", "created",
	                      (json_int_t)j->created, "model", j->req.model, "choices", ch);
	if (j->req.continuous_usage) json_object_set_new(o, "usage", api_usage_json(j->len[prompt_of(j, c->index)], c->n_out, 0));
	api_sse_put_json(&j->sse.out, o);
}

/* One chunk per call, i.e. per generated token (api_gen reports every token here: there are no
 * parsers): the text the token released, "" when it released none (bytes of an incomplete
 * UTF-8 character, a skipped special token, text held back for a stop string), as vLLM sends a
 * chunk for every engine output. The last one also carries finish_reason, as vLLM's engine
 * output with the last token carries it; a finish without a token (an abort) gets a chunk of
 * its own with empty text. */
static void stream_delta(struct api_gen *g, struct api_choice *c, void *ud)
{
	struct cmpl_job *j = ud;
	int p = prompt_of(j, c->index);
	struct buf text;
	buf_init(&text);
	json_t *lp = NULL;
	if (j->req.echo && !j->echoed[c->index]) {
		j->echoed[c->index] = true;
		buf_puts(&text, j->echo_text[p]);
		if (j->req.logprobs) lp = legacy_logprobs(j, c->index, NULL, j->ids[p], j->len[p]);
	}
	buf_append(&text, c->d_content.data ? c->d_content.data : "", c->d_content.len);
	if (j->req.logprobs && c->d_lp.n) lp = merge_logprobs(lp, legacy_logprobs(j, c->index, c->d_lp.v, NULL, c->d_lp.n));
	bool error = c->finish && !strcmp(c->finish, "error");
	if (text.len || lp || c->d_tokens || (c->finish && !error)) put_chunk(j, c, &text, lp, c->finish && !error);
	if (error) api_sse_put_error(&j->sse.out, c->error); /* instead of a finish chunk (vLLM) */
	buf_free(&text);
	api_gen_clear_delta(c);
}

static int total_prompt_tokens(const struct cmpl_job *j)
{
	int n = 0;
	for (int i = 0; i < j->n_prompts; i++) n += j->len[i];
	return n;
}

static void stream_trailer(void *ud)
{
	struct cmpl_job *j = ud;
	if (!j->req.include_usage) return;
	int completion = 0, cached = 0;
	for (int i = 0; i < j->gen.n; i++) completion += j->gen.c[i].n_out, cached += j->gen.c[i].n_cached;
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", j->id, "object", "text_completion", "created",
	                      (json_int_t)j->created, "model", j->req.model, "choices", "usage",
	                      api_usage_json(total_prompt_tokens(j), completion, cached));
	api_sse_put_json(&j->sse.out, o);
}

static ssize_t stream_read(struct api_stream *s, char *dst, size_t max)
{
	struct cmpl_job *j = (struct cmpl_job *)s;
	return api_gen_sse_read(&j->gen, &j->conn, &j->sse, dst, max, stream_delta, stream_trailer, j);
}

static void stream_destroy(struct api_stream *s) { job_free((struct cmpl_job *)s); }

static void respond_whole(struct cmpl_job *j, const struct api_conn *conn, struct api_response *res)
{
	if (api_gen_run_whole(&j->gen, conn, res)) return;
	json_t *choices = json_array();
	int completion = 0, cached = 0;
	for (int i = 0; i < j->gen.n; i++) {
		const struct api_choice *c = &j->gen.c[i];
		int p = prompt_of(j, i);
		completion += c->n_out;
		cached += c->n_cached;
		struct buf text;
		buf_init(&text);
		json_t *lp = NULL;
		if (j->req.echo) {
			buf_puts(&text, j->echo_text[p]);
			if (j->req.logprobs) lp = legacy_logprobs(j, i, NULL, j->ids[p], j->len[p]);
		}
		buf_append(&text, c->content.data ? c->content.data : "", c->content.len);
		if (j->req.logprobs) lp = merge_logprobs(lp, legacy_logprobs(j, i, c->lp.v, NULL, c->lp.n));
		json_t *ch = json_object();
		json_object_set_new(ch, "index", json_integer(i));
		json_object_set_new(ch, "text", api_json_text(text.data ? text.data : "", text.len));
		json_object_set_new(ch, "logprobs", lp ? lp : json_null());
		json_object_set_new(ch, "finish_reason", json_string(c->finish));
		json_object_set_new(ch, "stop_reason", api_stop_reason_json(&j->req, c));
		json_array_append_new(choices, ch);
		buf_free(&text);
	}
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:o,s:o}", "id", j->id, "object", "text_completion", "created",
	                      (json_int_t)j->created, "model", j->req.model, "choices", choices, "usage",
	                      api_usage_json(total_prompt_tokens(j), completion, cached));
	api_response_json(res, 200, o);
}

void api_completions(const struct api_ctx *ctx, json_t *body, const struct api_conn *conn, struct api_response *res)
{
	struct cmpl_job *j = xcalloc(1, sizeof *j);
	j->ctx = ctx;
	j->body = json_incref(body);
	struct api_error e = {0};
	if (api_request_parse(ctx, body, false, &j->req, &e)) goto fail;
	j->n_prompts = j->req.n_prompts;
	for (int p = 0; p < j->n_prompts; p++) {
		struct buf echo;
		buf_init(&echo);
		if (j->req.prompt_text[p]) {
			const char *t = j->req.prompt_text[p];
			size_t n = 0;
			struct err te = {{0}};
			if (tokenizer_encode(ctx->tok, t, strlen(t), &j->ids[p], &n, &te)) {
				api_error_set(&e, 400, "prompt", "%s", te.msg);
				buf_free(&echo);
				goto fail;
			}
			j->len[p] = (int)n;
			buf_puts(&echo, t);
		} else {
			j->len[p] = j->req.prompt_len[p];
			j->ids[p] = xmalloc(j->len[p] * sizeof(int32_t));
			memcpy(j->ids[p], j->req.prompt_ids[p], j->len[p] * sizeof(int32_t));
			tokenizer_decode(ctx->tok, j->ids[p], j->len[p], j->req.skip_special, &echo);
		}
		j->echo_text[p] = buf_take(&echo);
		if (j->len[p] == 0) {
			api_error_set(&e, 400, "prompt", "the prompt is empty");
			goto fail;
		}
		if (j->len[p] >= ctx->max_model_len) {
			api_error_context_length(&e, "prompt", ctx->max_model_len, j->len[p]);
			goto fail;
		}
	}
	int longest = 0;
	for (int p = 0; p < j->n_prompts; p++) longest = j->len[p] > longest ? j->len[p] : longest;
	if (j->req.sp.max_tokens < 0) {
		j->req.sp.max_tokens = 16;
		if (j->req.sp.max_tokens > ctx->max_model_len - longest) j->req.sp.max_tokens = ctx->max_model_len - longest;
	} else if (j->req.sp.max_tokens > ctx->max_model_len - longest) {
		api_error_set(&e, 400, "max_tokens",
		              "'max_tokens' is too large: %d. This model's maximum context length is %d tokens and your request "
		              "has %d input tokens (%d > %d - %d).",
		              j->req.sp.max_tokens, ctx->max_model_len, longest, j->req.sp.max_tokens, ctx->max_model_len, longest);
		goto fail;
	}
	int n = j->n_prompts * j->req.n;
	const int32_t *prompts[API_MAX_PROMPTS];
	int lens[API_MAX_PROMPTS];
	for (int i = 0; i < n; i++) prompts[i] = j->ids[i / j->req.n], lens[i] = j->len[i / j->req.n];
	struct api_gen_setup st = {.prompts = prompts, .n_prompts = lens};
	char hex[33];
	api_random_hex(hex, 32);
	snprintf(j->id, sizeof j->id, "cmpl-%s", hex);
	j->created = (long long)time(NULL);
	j->offset = xcalloc(n, sizeof *j->offset);
	j->echoed = xcalloc(n, sizeof *j->echoed);
	j->started = true;
	if (api_gen_start(&j->gen, ctx, &j->req, n, &st, &e)) goto fail;
	if (!j->req.stream) {
		respond_whole(j, conn, res);
		job_free(j);
		return;
	}
	j->conn = *conn;
	j->base.read = stream_read;
	j->base.destroy = stream_destroy;
	api_response_stream(res, &j->base);
	return;
fail:
	api_response_error(res, &e);
	job_free(j);
}
