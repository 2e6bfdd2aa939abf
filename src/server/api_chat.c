/* api_chat.c — POST /v1/chat/completions (serving.md §4.1–4.4): render the prompt with the
 * checkpoint's template, tokenize it without adding special tokens, generate n choices, and
 * answer with one chat.completion object or an SSE stream of chat.completion.chunk objects.
 * Shapes follow vLLM (reasoning in `reasoning_content` and its newer alias `reasoning`; per
 * choice a role chunk sent with the first token, i.e. after prefill; without reasoning/tool
 * parsers one content chunk per generated token, `{"content": ""}` when the token released no
 * text; with parsers a chunk only for tokens that changed the output; `finish_reason` and
 * `stop_reason` on the chunk with the last delta, or on a chunk with an empty delta when the
 * end brought nothing (with parsers) or came without a token (an abort); an optional usage
 * chunk with empty choices; `[DONE]`); tool-call ids are `call_<24 hex>` and streamed as name
 * first, then argument fragments. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/api.h"
#include "server/api_gen.h"
#include "chat/chat_template.h"

/* everything a chat request owns while it runs (streaming keeps it past the handler) */
struct chat_job {
	struct api_stream base;
	const struct api_ctx *ctx;
	json_t *body;
	struct api_request req;
	struct tool_set tools;
	bool have_tools;
	int32_t *prompt;
	int n_prompt;
	struct api_gen gen;
	bool started;
	char id[48];
	long long created;
	/* streaming */
	const struct api_conn *conn;
	struct api_conn conn_copy;
	struct api_sse sse;
	struct api_lp_list *pending_lp; /* [n] logprob entries not yet sent */
	bool *role_sent;                /* [n] the choice's opening chunk went out */
};

static void job_free(struct chat_job *j)
{
	if (j->started) api_gen_free(&j->gen);
	if (j->have_tools) tool_set_free(&j->tools);
	if (j->pending_lp) {
		for (int i = 0; i < j->req.n; i++) free(j->pending_lp[i].v);
		free(j->pending_lp);
	}
	free(j->role_sent);
	api_request_free(&j->req);
	free(j->prompt);
	json_decref(j->body);
	buf_free(&j->sse.out);
	free(j);
}

static json_t *logprobs_content(const struct api_ctx *ctx, const struct api_logprob *v, int n)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		json_t *e = json_object();
		json_object_set_new(e, "token", api_token_string(ctx, v[i].token));
		json_object_set_new(e, "logprob", json_real(api_logprob_value(v[i].logprob)));
		json_object_set_new(e, "bytes", api_token_bytes(ctx, v[i].token));
		json_t *top = json_array();
		for (int k = 0; k < v[i].n_top; k++) {
			json_t *t = json_object();
			json_object_set_new(t, "token", api_token_string(ctx, v[i].top_ids[k]));
			json_object_set_new(t, "logprob", json_real(api_logprob_value(v[i].top_logprobs[k])));
			json_object_set_new(t, "bytes", api_token_bytes(ctx, v[i].top_ids[k]));
			json_array_append_new(top, t);
		}
		json_object_set_new(e, "top_logprobs", top);
		json_array_append_new(arr, e);
	}
	return json_pack("{s:o}", "content", arr);
}

/* ---- streaming ---- */

static json_t *chunk_new(const struct chat_job *j)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "object", json_string("chat.completion.chunk"));
	json_object_set_new(o, "created", json_integer(j->created));
	json_object_set_new(o, "model", json_string(j->req.model));
	return o;
}

/* One chunk for choice c with the given delta; attaches the pending logprobs. */
static void put_choice_chunk(struct chat_job *j, const struct api_choice *c, json_t *delta, bool final)
{
	json_t *ch = json_object();
	json_object_set_new(ch, "index", json_integer(c->index));
	json_object_set_new(ch, "delta", delta);
	struct api_lp_list *pl = &j->pending_lp[c->index];
	if (j->req.logprobs && pl->n) {
		json_object_set_new(ch, "logprobs", logprobs_content(j->ctx, pl->v, pl->n));
		pl->n = 0;
	} else json_object_set_new(ch, "logprobs", json_null());
	json_object_set_new(ch, "finish_reason", final ? json_string(c->finish) : json_null());
	if (final) json_object_set_new(ch, "stop_reason", api_stop_reason_json(&j->req, c));
	json_t *o = chunk_new(j);
	json_object_set_new(o, "choices", json_pack("[o]", ch));
	if (j->req.continuous_usage) json_object_set_new(o, "usage", api_usage_json(j->n_prompt, c->n_out, 0));
	api_sse_put_json(&j->sse.out, o);
}

/* The opening chunk of a choice: the role with empty content. */
static void put_role_chunk(struct chat_job *j, int index)
{
	json_t *ch = json_pack("{s:i,s:{s:s,s:s},s:n,s:n}", "index", index, "delta", "role", "assistant", "content", "",
	                       "logprobs", "finish_reason");
	json_t *o = chunk_new(j);
	json_object_set_new(o, "choices", json_pack("[o]", ch));
	api_sse_put_json(&j->sse.out, o);
}

static void stream_delta(struct api_gen *g, struct api_choice *c, void *ud)
{
	struct chat_job *j = ud;
	bool error = c->finish && !strcmp(c->finish, "error");
	/* vLLM sends the role chunk with the first engine output, i.e. after prefill: a client's
	 * TTFT (the first chunk with choices) then includes the prefill. An engine error before
	 * any output is the first and only event, without a role chunk, as vLLM does. */
	if (!j->role_sent[c->index] && !(error && c->n_out == 0)) {
		j->role_sent[c->index] = true;
		put_role_chunk(j, c->index);
	}
	struct api_lp_list *pl = &j->pending_lp[c->index];
	for (int i = 0; i < c->d_lp.n; i++) {
		if (pl->n == pl->cap) pl->cap = pl->cap ? pl->cap * 2 : 8, pl->v = xrealloc(pl->v, pl->cap * sizeof *pl->v);
		pl->v[pl->n++] = c->d_lp.v[i];
	}
	/* the delta's chunks are collected first: the last one carries the finish */
	json_t *deltas = json_array();
	if (c->d_reasoning.len) {
		json_t *d = json_object();
		json_object_set_new(d, "reasoning_content", api_json_text(c->d_reasoning.data, c->d_reasoning.len));
		json_object_set_new(d, "reasoning", api_json_text(c->d_reasoning.data, c->d_reasoning.len));
		json_array_append_new(deltas, d);
	}
	if (c->d_content.len)
		json_array_append_new(deltas, json_pack("{s:o}", "content", api_json_text(c->d_content.data, c->d_content.len)));
	else if (c->every_token && c->d_tokens)
		/* no parsers: a token that released no text still gets its chunk, as vLLM's plain path
		 * sends DeltaMessage(content=delta_text) for every engine output (the last one included) */
		json_array_append_new(deltas, json_pack("{s:s}", "content", ""));
	/* tool events: a call's begin carries id, type and name; consecutive argument pieces of one
	 * call are merged into one fragment */
	for (size_t i = 0; i < c->d_tools.n;) {
		struct tool_event *ev = &c->d_tools.v[i];
		if (ev->type == TOOL_EVENT_TYPE_CALL_BEGIN) {
			json_t *fn = json_pack("{s:o,s:s}", "name", api_json_text(ev->text, ev->len), "arguments", "");
			json_t *call = json_pack("{s:i,s:s,s:s,s:o}", "index", ev->index, "id", ev->id, "type", "function", "function", fn);
			json_array_append_new(deltas, json_pack("{s:[o]}", "tool_calls", call));
			i++;
		} else if (ev->type == TOOL_EVENT_TYPE_CALL_ARGS) {
			struct buf args;
			buf_init(&args);
			int idx = ev->index;
			while (i < c->d_tools.n && c->d_tools.v[i].type == TOOL_EVENT_TYPE_CALL_ARGS && c->d_tools.v[i].index == idx)
				buf_append(&args, c->d_tools.v[i].text, c->d_tools.v[i].len), i++;
			json_t *call = json_pack("{s:i,s:{s:o}}", "index", idx, "function", "arguments", api_json_text(args.data ? args.data : "", args.len));
			json_array_append_new(deltas, json_pack("{s:[o]}", "tool_calls", call));
			buf_free(&args);
		} else i++; /* CALL_END / CALL_ABORT carry nothing for the client */
	}
	size_t n = json_array_size(deltas);
	/* vLLM's way for an error: an error event instead of a finish chunk, then [DONE] at the end */
	bool final = c->finish && !error;
	for (size_t i = 0; i < n; i++)
		put_choice_chunk(j, c, json_incref(json_array_get(deltas, i)), final && i + 1 == n);
	json_decref(deltas);
	if (error) api_sse_put_error(&j->sse.out, c->error);
	else if (final && n == 0) put_choice_chunk(j, c, json_object(), true); /* nothing left to carry it */
	api_gen_clear_delta(c);
}

static void stream_trailer(void *ud)
{
	struct chat_job *j = ud;
	if (j->req.include_usage) {
		int completion = 0, cached = 0;
		for (int i = 0; i < j->gen.n; i++) completion += j->gen.c[i].n_out, cached = j->gen.c[i].n_cached;
		json_t *o = chunk_new(j);
		json_object_set_new(o, "choices", json_array());
		json_object_set_new(o, "usage", api_usage_json(j->n_prompt, completion, cached));
		api_sse_put_json(&j->sse.out, o);
	}
}

static ssize_t stream_read(struct api_stream *s, char *dst, size_t max)
{
	struct chat_job *j = (struct chat_job *)s;
	return api_gen_sse_read(&j->gen, j->conn, &j->sse, dst, max, stream_delta, stream_trailer, j);
}

static void stream_destroy(struct api_stream *s) { job_free((struct chat_job *)s); }

/* ---- whole response ---- */

static json_t *message_json(const struct chat_job *j, const struct api_choice *c)
{
	json_t *m = json_object();
	json_object_set_new(m, "role", json_string("assistant"));
	bool blank = c->content.len == 0;
	if (!blank && c->calls.n_calls) {
		/* whitespace-only content next to tool calls is null (vLLM 2026) */
		size_t cs, cl;
		tool_text_strip(c->content.data, c->content.len, &cs, &cl);
		blank = cl == 0;
	}
	json_object_set_new(m, "content", blank ? json_null() : api_json_text(c->content.data, c->content.len));
	json_t *rc = c->reasoning.len ? api_json_text(c->reasoning.data, c->reasoning.len) : json_null();
	json_object_set(m, "reasoning_content", rc);
	json_object_set_new(m, "reasoning", rc);
	json_t *calls = json_array();
	for (size_t i = 0; i < c->calls.n_calls; i++) {
		const struct tool_call *tc = &c->calls.calls[i];
		json_t *fn = json_pack("{s:o,s:o}", "name", api_json_text(tc->name, strlen(tc->name)), "arguments",
		                       api_json_text(tc->arguments, strlen(tc->arguments)));
		json_array_append_new(calls, json_pack("{s:s,s:s,s:o}", "id", tc->id, "type", "function", "function", fn));
	}
	json_object_set_new(m, "tool_calls", calls);
	return m;
}

static void respond_whole(struct chat_job *j, const struct api_conn *conn, struct api_response *res)
{
	if (api_gen_run_whole(&j->gen, conn, res)) return;
	json_t *choices = json_array();
	int completion = 0, cached = 0;
	for (int i = 0; i < j->gen.n; i++) {
		const struct api_choice *c = &j->gen.c[i];
		completion += c->n_out;
		cached = c->n_cached;
		json_t *ch = json_object();
		json_object_set_new(ch, "index", json_integer(c->index));
		json_object_set_new(ch, "message", message_json(j, c));
		json_object_set_new(ch, "logprobs", j->req.logprobs ? logprobs_content(j->ctx, c->lp.v, c->lp.n) : json_null());
		json_object_set_new(ch, "finish_reason", json_string(c->finish));
		json_object_set_new(ch, "stop_reason", api_stop_reason_json(&j->req, c));
		json_array_append_new(choices, ch);
	}
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "object", json_string("chat.completion"));
	json_object_set_new(o, "created", json_integer(j->created));
	json_object_set_new(o, "model", json_string(j->req.model));
	json_object_set_new(o, "choices", choices);
	json_object_set_new(o, "usage", api_usage_json(j->n_prompt, completion, cached));
	api_response_json(res, 200, o);
}

/* ---- the handler ---- */

static int build_tools(struct chat_job *j, struct api_error *e)
{
	tool_set_init(&j->tools);
	j->have_tools = true;
	size_t i;
	json_t *t;
	json_array_foreach(j->req.tools, i, t) {
		json_t *f = json_object_get(t, "function");
		const char *name = json_string_value(json_object_get(f, "name"));
		if (j->req.tool_choice == API_TOOL_CHOICE_NAMED && strcmp(name, j->req.tool_choice_name)) continue;
		json_t *p = json_object_get(f, "parameters");
		char *ps = p && json_is_object(p) ? api_json_dump(p) : NULL;
		struct err te = {{0}};
		int rc = tool_set_add(&j->tools, name, ps, &te);
		free(ps);
		if (rc) return api_error_set(e, 400, "tools", "%s", te.msg);
	}
	return 0;
}

void api_chat(const struct api_ctx *ctx, json_t *body, const struct api_conn *conn, struct api_response *res)
{
	struct chat_job *j = xcalloc(1, sizeof *j);
	j->ctx = ctx;
	j->body = json_incref(body);
	struct api_error e = {0};
	if (api_request_parse(ctx, body, true, &j->req, &e)) goto fail;
	if (!ctx->tmpl) {
		api_error_set(&e, 400, NULL, "this model has no chat template: use /v1/completions or start the server with --chat-template FILE");
		goto fail;
	}
	struct buf text;
	buf_init(&text);
	struct err re = {{0}};
	if (chat_template_render_json(ctx->tmpl, j->req.messages, j->req.tools, j->req.tool_choice_json, j->req.kwargs,
	                              j->req.add_generation_prompt, &text, &re)) {
		buf_free(&text);
		api_error_set(&e, 400, "messages", "chat template: %s", re.msg);
		goto fail;
	}
	size_t n_ids = 0;
	int rc = tokenizer_encode(ctx->tok, text.data ? text.data : "", text.len, &j->prompt, &n_ids, &re);
	buf_free(&text);
	if (rc) {
		api_error_set(&e, 400, "messages", "%s", re.msg);
		goto fail;
	}
	j->n_prompt = (int)n_ids;
	if (j->n_prompt >= ctx->max_model_len) {
		api_error_context_length(&e, "messages", ctx->max_model_len, j->n_prompt);
		goto fail;
	}
	if (j->req.sp.max_tokens < 0) j->req.sp.max_tokens = ctx->max_model_len - j->n_prompt;
	else if (j->req.sp.max_tokens > ctx->max_model_len - j->n_prompt) {
		api_error_set(&e, 400, "max_tokens",
		              "'max_tokens' or 'max_completion_tokens' is too large: %d. This model's maximum context length is "
		              "%d tokens and your request has %d input tokens (%d > %d - %d).",
		              j->req.sp.max_tokens, ctx->max_model_len, j->n_prompt, j->req.sp.max_tokens, ctx->max_model_len,
		              j->n_prompt);
		goto fail;
	}

	struct api_gen_setup st = {0};
	const int32_t *prompts[API_MAX_N];
	int lens[API_MAX_N];
	for (int i = 0; i < j->req.n; i++) prompts[i] = j->prompt, lens[i] = j->n_prompt;
	st.prompts = prompts;
	st.n_prompts = lens;
	if (ctx->reasoning_parser == API_REASONING_PARSER_GLM45) {
		st.use_reasoning = true;
		/* thinking is on unless the request turns it off (SGLang's "force reasoning") */
		st.start_in_reasoning = api_kwarg_bool(j->req.kwargs, "enable_thinking") != 0 &&
		                        api_kwarg_bool(j->req.kwargs, "thinking") != 0;
	}
	bool parse_tools = ctx->tool_parser != API_TOOL_PARSER_NONE && j->req.tools &&
	                   (j->req.tool_choice == API_TOOL_CHOICE_REQUIRED || j->req.tool_choice == API_TOOL_CHOICE_NAMED ||
	                    (j->req.tool_choice == API_TOOL_CHOICE_AUTO && ctx->enable_auto_tool_choice));
	if (parse_tools) {
		if (build_tools(j, &e)) goto fail;
		st.tools = &j->tools;
		st.tool_kind = ctx->tool_parser == API_TOOL_PARSER_GLM47 ? TOOL_PARSER_KIND_GLM47 : TOOL_PARSER_KIND_GLM45;
	}
	char hex[33];
	api_random_hex(hex, 32);
	snprintf(j->id, sizeof j->id, "chatcmpl-%s", hex);
	j->created = (long long)time(NULL);
	j->started = true;
	if (api_gen_start(&j->gen, ctx, &j->req, j->req.n, &st, &e)) goto fail;

	if (!j->req.stream) {
		respond_whole(j, conn, res);
		job_free(j);
		return;
	}
	/* nothing is sent before the engine answers: each choice's role chunk goes out with its
	 * first token (stream_delta) */
	j->pending_lp = xcalloc(j->req.n, sizeof *j->pending_lp);
	j->role_sent = xcalloc(j->req.n, sizeof *j->role_sent);
	j->conn_copy = *conn;
	j->conn = &j->conn_copy;
	j->base.read = stream_read;
	j->base.destroy = stream_destroy;
	api_response_stream(res, &j->base);
	return;
fail:
	api_response_error(res, &e);
	job_free(j);
}
