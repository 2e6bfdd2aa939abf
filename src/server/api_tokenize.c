/* api_tokenize.c — vLLM's POST /tokenize and POST /detokenize. /tokenize takes either
 * {"prompt": text} or a chat request {"messages", "tools", "chat_template_kwargs",
 * "add_generation_prompt"} (rendered with the chat template exactly as /v1/chat/completions
 * renders it) and answers {"count", "max_model_len", "tokens", "token_strs"}; /detokenize takes
 * {"tokens": [...]} and answers {"prompt": text}. The GLM tokenizer adds no special tokens, so
 * add_special_tokens changes nothing and is accepted for compatibility. */
#include <stdlib.h>
#include <string.h>

#include "server/api.h"
#include "server/api_gen.h"
#include "chat/chat_template.h"

void api_tokenize(const struct api_ctx *ctx, json_t *body, struct api_response *res)
{
	struct api_error e = {0};
	struct buf text;
	buf_init(&text);
	int32_t *ids = NULL;
	size_t n = 0;
	if (!json_is_object(body)) {
		api_error_set(&e, 400, NULL, "the request body must be a JSON object");
		goto fail;
	}
	const char *model = NULL, *prompt = NULL;
	bool add_special = true, return_strs = false, add_gen = true;
	if (api_get_string(body, "model", &model, &e) || api_check_model(ctx, model, &e) ||
	    api_get_string(body, "prompt", &prompt, &e) || api_get_bool(body, "add_special_tokens", &add_special, &e) ||
	    api_get_bool(body, "return_token_strs", &return_strs, &e) || api_get_bool(body, "add_generation_prompt", &add_gen, &e))
		goto fail;
	json_t *messages = json_object_get(body, "messages");
	if (messages && !json_is_null(messages)) {
		if (!json_is_array(messages) || !json_array_size(messages)) {
			api_error_set(&e, 400, "messages", "'messages' must be a non-empty list");
			goto fail;
		}
		if (!ctx->tmpl) {
			api_error_set(&e, 400, "messages", "this model has no chat template");
			goto fail;
		}
		struct err re = {{0}};
		if (chat_template_render_json(ctx->tmpl, messages, json_object_get(body, "tools"),
		                              json_object_get(body, "tool_choice"), json_object_get(body, "chat_template_kwargs"),
		                              add_gen, &text, &re)) {
			api_error_set(&e, 400, "messages", "chat template: %s", re.msg);
			goto fail;
		}
	} else if (prompt) buf_puts(&text, prompt);
	else {
		api_error_set(&e, 400, "prompt", "'prompt' (or 'messages') is required");
		goto fail;
	}
	struct err te = {{0}};
	if (tokenizer_encode(ctx->tok, text.data ? text.data : "", text.len, &ids, &n, &te)) {
		api_error_set(&e, 400, "prompt", "%s", te.msg);
		goto fail;
	}
	json_t *tokens = json_array();
	for (size_t i = 0; i < n; i++) json_array_append_new(tokens, json_integer(ids[i]));
	json_t *strs = json_null();
	if (return_strs) {
		json_decref(strs);
		strs = json_array();
		for (size_t i = 0; i < n; i++) json_array_append_new(strs, api_token_string(ctx, ids[i]));
	}
	json_t *o = json_object();
	json_object_set_new(o, "count", json_integer((json_int_t)n));
	json_object_set_new(o, "max_model_len", json_integer(ctx->max_model_len));
	json_object_set_new(o, "tokens", tokens);
	json_object_set_new(o, "token_strs", strs);
	api_response_json(res, 200, o);
	free(ids);
	buf_free(&text);
	return;
fail:
	free(ids);
	buf_free(&text);
	api_response_error(res, &e);
}

void api_detokenize(const struct api_ctx *ctx, json_t *body, struct api_response *res)
{
	struct api_error e = {0};
	const char *model = NULL;
	if (!json_is_object(body)) {
		api_error_set(&e, 400, NULL, "the request body must be a JSON object");
		goto fail;
	}
	if (api_get_string(body, "model", &model, &e) || api_check_model(ctx, model, &e)) goto fail;
	json_t *tokens = json_object_get(body, "tokens");
	if (!json_is_array(tokens)) {
		api_error_set(&e, 400, "tokens", "'tokens' must be a list of token ids");
		goto fail;
	}
	size_t n = json_array_size(tokens);
	int32_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(tokens, i);
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= ctx->mcfg->vocab) {
			free(ids);
			api_error_set(&e, 400, "tokens", "tokens[%zu] must be a token id in [0, %d)", i, ctx->mcfg->vocab);
			goto fail;
		}
		ids[i] = (int32_t)json_integer_value(x);
	}
	struct buf text;
	buf_init(&text);
	tokenizer_decode(ctx->tok, ids, n, false, &text);
	free(ids);
	api_response_json(res, 200, json_pack("{s:o}", "prompt", api_json_text(text.data ? text.data : "", text.len)));
	buf_free(&text);
	return;
fail:
	api_response_error(res, &e);
}
