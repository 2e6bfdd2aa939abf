/* api_request.c — request bodies of /v1/chat/completions and /v1/completions -> struct
 * api_request (serving.md §4.4). Validation errors name the field, as vLLM's pydantic models
 * do, and are 400s. Sampling values come from the request, then generation_config.json, then
 * the neutral defaults (vLLM's update_from_generation_config order). Unsupported features that
 * would silently change results (logit_bias, min_tokens, guided decoding) are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "server/api.h"

static const char *type_of(json_t *v)
{
	return json_is_object(v) ? "object" : json_is_array(v) ? "array" : json_is_string(v) ? "string"
	       : json_is_number(v) ? "number" : json_is_boolean(v) ? "boolean" : "null";
}

static bool present(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return v && !json_is_null(v);
}

static int parse_stop(json_t *body, struct api_request *r, struct api_error *e)
{
	json_t *v = json_object_get(body, "stop");
	if (!v || json_is_null(v)) return 0;
	if (json_is_string(v)) {
		if (json_string_length(v)) r->stops[r->n_stops++] = xstrdup(json_string_value(v));
		return 0;
	}
	if (!json_is_array(v)) return api_error_set(e, 400, "stop", "'stop' must be a string or a list of strings, got %s", type_of(v));
	if (json_array_size(v) > API_MAX_STOP) return api_error_set(e, 400, "stop", "at most %d stop strings", API_MAX_STOP);
	size_t i;
	json_t *s;
	json_array_foreach(v, i, s) {
		if (!json_is_string(s)) return api_error_set(e, 400, "stop", "stop[%zu] must be a string, got %s", i, type_of(s));
		if (json_string_length(s)) r->stops[r->n_stops++] = xstrdup(json_string_value(s));
	}
	return 0;
}

static int parse_stop_ids(const struct api_ctx *ctx, json_t *body, struct api_request *r, struct api_error *e)
{
	json_t *v = json_object_get(body, "stop_token_ids");
	if (!v || json_is_null(v)) return 0;
	if (!json_is_array(v)) return api_error_set(e, 400, "stop_token_ids", "'stop_token_ids' must be a list of integers");
	size_t n = json_array_size(v);
	if (n > 256) return api_error_set(e, 400, "stop_token_ids", "at most 256 stop token ids");
	r->stop_ids = xmalloc((n ? n : 1) * sizeof *r->stop_ids);
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= ctx->mcfg->vocab)
			return api_error_set(e, 400, "stop_token_ids", "stop_token_ids[%zu] must be a token id in [0, %d)", i, ctx->mcfg->vocab);
		r->stop_ids[i] = (int32_t)json_integer_value(x);
	}
	r->sp.stop_ids = r->stop_ids;
	r->sp.n_stop_ids = (int)n;
	return 0;
}

static int parse_tools(json_t *body, struct api_request *r, struct api_error *e)
{
	json_t *tools = json_object_get(body, "tools");
	if (tools && !json_is_null(tools)) {
		if (!json_is_array(tools)) return api_error_set(e, 400, "tools", "'tools' must be a list, got %s", type_of(tools));
		size_t i;
		json_t *t;
		json_array_foreach(tools, i, t) {
			json_t *f = json_is_object(t) ? json_object_get(t, "function") : NULL;
			json_t *ty = json_is_object(t) ? json_object_get(t, "type") : NULL;
			if (!json_is_object(f) || (ty && !json_is_null(ty) && !(json_is_string(ty) && !strcmp(json_string_value(ty), "function"))))
				return api_error_set(e, 400, "tools", "tools[%zu] must be {\"type\": \"function\", \"function\": {...}}", i);
			if (!json_is_string(json_object_get(f, "name")))
				return api_error_set(e, 400, "tools", "tools[%zu].function.name must be a string", i);
			json_t *p = json_object_get(f, "parameters");
			if (p && !json_is_null(p) && !json_is_object(p))
				return api_error_set(e, 400, "tools", "tools[%zu].function.parameters must be a JSON Schema object", i);
		}
		if (json_array_size(tools)) r->tools = tools;
	}
	json_t *tc = json_object_get(body, "tool_choice");
	r->tool_choice = r->tools ? API_TOOL_CHOICE_AUTO : API_TOOL_CHOICE_NONE;
	if (!tc || json_is_null(tc)) return 0;
	r->tool_choice_given = true;
	r->tool_choice_json = tc;
	if (json_is_string(tc)) {
		const char *s = json_string_value(tc);
		if (!strcmp(s, "none")) r->tool_choice = API_TOOL_CHOICE_NONE;
		else if (!strcmp(s, "auto")) r->tool_choice = API_TOOL_CHOICE_AUTO;
		else if (!strcmp(s, "required")) r->tool_choice = API_TOOL_CHOICE_REQUIRED;
		else return api_error_set(e, 400, "tool_choice", "'tool_choice' must be none, auto, required or a named function, got '%s'", s);
	} else if (json_is_object(tc)) {
		json_t *f = json_object_get(tc, "function");
		json_t *name = json_is_object(f) ? json_object_get(f, "name") : NULL;
		if (!json_is_string(name))
			return api_error_set(e, 400, "tool_choice", "a named tool_choice must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
		r->tool_choice = API_TOOL_CHOICE_NAMED;
		r->tool_choice_name = json_string_value(name);
	} else return api_error_set(e, 400, "tool_choice", "'tool_choice' must be a string or an object, got %s", type_of(tc));
	if (r->tool_choice == API_TOOL_CHOICE_REQUIRED && !r->tools)
		return api_error_set(e, 400, "tool_choice", "Tools cannot be empty if tool choice is set to required.");
	if (r->tool_choice == API_TOOL_CHOICE_NAMED) {
		if (!r->tools) return api_error_set(e, 400, "tool_choice", "Tools cannot be empty if tool choice is set to a specific tool.");
		bool found = false;
		size_t i;
		json_t *t;
		json_array_foreach(r->tools, i, t) {
			const char *n = json_string_value(json_object_get(json_object_get(t, "function"), "name"));
			if (n && !strcmp(n, r->tool_choice_name)) found = true;
		}
		if (!found) return api_error_set(e, 400, "tool_choice", "Tool '%s' not found in tools list.", r->tool_choice_name);
	}
	return 0;
}

static int parse_messages(json_t *body, struct api_request *r, struct api_error *e)
{
	json_t *m = json_object_get(body, "messages");
	if (!m || json_is_null(m)) return api_error_set(e, 400, "messages", "'messages' is required");
	if (!json_is_array(m)) return api_error_set(e, 400, "messages", "'messages' must be a list, got %s", type_of(m));
	if (!json_array_size(m)) return api_error_set(e, 400, "messages", "Messages cannot be empty.");
	size_t i;
	json_t *x;
	json_array_foreach(m, i, x) {
		if (!json_is_object(x)) return api_error_set(e, 400, "messages", "messages[%zu] must be an object", i);
		if (!json_is_string(json_object_get(x, "role")))
			return api_error_set(e, 400, "messages", "messages[%zu].role must be a string", i);
		json_t *c = json_object_get(x, "content");
		if (c && !json_is_null(c) && !json_is_string(c) && !json_is_array(c))
			return api_error_set(e, 400, "messages", "messages[%zu].content must be a string, a list of parts or null", i);
		json_t *tc = json_object_get(x, "tool_calls");
		if (tc && !json_is_null(tc) && !json_is_array(tc))
			return api_error_set(e, 400, "messages", "messages[%zu].tool_calls must be a list", i);
	}
	r->messages = m;
	return 0;
}

static int parse_prompts(const struct api_ctx *ctx, json_t *body, struct api_request *r, struct api_error *e)
{
	json_t *p = json_object_get(body, "prompt");
	if (!p || json_is_null(p)) return api_error_set(e, 400, "prompt", "'prompt' is required");
	if (json_is_string(p)) {
		r->prompt_text[r->n_prompts++] = json_string_value(p);
		return 0;
	}
	if (!json_is_array(p) || !json_array_size(p))
		return api_error_set(e, 400, "prompt", "'prompt' must be a string, a list of strings, a list of token ids or a list of token-id lists");
	json_t *first = json_array_get(p, 0);
	/* a flat list of ids is one prompt; otherwise each item is a prompt */
	bool flat = json_is_integer(first);
	size_t n = flat ? 1 : json_array_size(p);
	if (n > API_MAX_PROMPTS) return api_error_set(e, 400, "prompt", "at most %d prompts per request", API_MAX_PROMPTS);
	for (size_t k = 0; k < n; k++) {
		json_t *item = flat ? p : json_array_get(p, k);
		if (json_is_string(item) && !flat) {
			r->prompt_text[r->n_prompts++] = json_string_value(item);
			continue;
		}
		if (!json_is_array(item) || !json_array_size(item))
			return api_error_set(e, 400, "prompt", "prompt[%zu] must be a string or a non-empty list of token ids", k);
		size_t m = json_array_size(item);
		int32_t *ids = xmalloc(m * sizeof *ids);
		r->prompt_ids[r->n_prompts] = ids;
		r->prompt_len[r->n_prompts] = (int)m;
		r->n_prompts++;
		for (size_t i = 0; i < m; i++) {
			json_t *x = json_array_get(item, i);
			if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= ctx->mcfg->vocab)
				return api_error_set(e, 400, "prompt", "prompt token %zu must be a token id in [0, %d)", i, ctx->mcfg->vocab);
			ids[i] = (int32_t)json_integer_value(x);
		}
	}
	return 0;
}

int api_request_parse(const struct api_ctx *ctx, json_t *body, bool chat, struct api_request *r, struct api_error *e)
{
	memset(r, 0, sizeof *r);
	r->chat = chat;
	r->n = 1;
	r->skip_special = true;
	r->add_generation_prompt = true;
	r->include_reasoning = true;
	sampling_params_default(&r->sp);
	r->sp.max_tokens = -1;
	r->sp.n_logprobs = -1;
	if (!json_is_object(body)) return api_error_set(e, 400, NULL, "the request body must be a JSON object");

	const char *model = NULL;
	if (api_get_string(body, "model", &model, e) || api_check_model(ctx, model, e)) return -1;
	r->model = model ? model : ctx->served_names[0];

	if (api_get_bool(body, "stream", &r->stream, e)) return -1;
	json_t *so = json_object_get(body, "stream_options");
	if (so && !json_is_null(so)) {
		if (!json_is_object(so)) return api_error_set(e, 400, "stream_options", "'stream_options' must be an object");
		if (!r->stream) return api_error_set(e, 400, "stream_options", "Stream options can only be defined when `stream=True`.");
		r->include_usage = true; /* vLLM's StreamOptions default */
		if (api_get_bool(so, "include_usage", &r->include_usage, e) ||
		    api_get_bool(so, "continuous_usage_stats", &r->continuous_usage, e))
			return -1;
	}

	long long iv;
	double dv;
	iv = 1;
	if (api_get_int(body, "n", 1, API_MAX_N, &iv, e)) return -1;
	r->n = (int)iv;
	const struct model_config *mc = ctx->mcfg;
	/* sampling: request, else generation_config.json, else neutral */
	r->sp.temperature = mc->gen_temperature >= 0 ? mc->gen_temperature : 1.0f;
	r->sp.top_p = mc->gen_top_p > 0 && mc->gen_top_p <= 1 ? mc->gen_top_p : 1.0f;
	r->sp.top_k = mc->gen_top_k > 0 ? mc->gen_top_k : 0;
	dv = r->sp.temperature;
	if (api_get_number(body, "temperature", 0, 100, &dv, e)) return -1;
	r->sp.temperature = (float)dv;
	dv = r->sp.top_p;
	if (api_get_number(body, "top_p", 0, 1, &dv, e)) return -1;
	if (dv <= 0) return api_error_set(e, 400, "top_p", "'top_p' must be in (0, 1], got %g", dv);
	r->sp.top_p = (float)dv;
	iv = r->sp.top_k;
	if (api_get_int(body, "top_k", -1, 1LL << 30, &iv, e)) return -1;
	r->sp.top_k = iv <= 0 ? 0 : (int)iv;
	dv = r->sp.min_p;
	if (api_get_number(body, "min_p", 0, 1, &dv, e)) return -1;
	r->sp.min_p = (float)dv;
	dv = r->sp.presence_penalty;
	if (api_get_number(body, "presence_penalty", -2, 2, &dv, e)) return -1;
	r->sp.presence_penalty = (float)dv;
	dv = r->sp.frequency_penalty;
	if (api_get_number(body, "frequency_penalty", -2, 2, &dv, e)) return -1;
	r->sp.frequency_penalty = (float)dv;
	dv = r->sp.repetition_penalty;
	if (api_get_number(body, "repetition_penalty", 0, 100, &dv, e)) return -1;
	if (dv <= 0) return api_error_set(e, 400, "repetition_penalty", "'repetition_penalty' must be positive, got %g", dv);
	r->sp.repetition_penalty = (float)dv;
	if (present(body, "seed")) {
		if (api_get_int(body, "seed", INT64_MIN, INT64_MAX, &iv, e)) return -1;
		r->sp.has_seed = true;
		r->sp.seed = (uint64_t)iv;
	}
	long long mt = -1;
	if (api_get_int(body, "max_tokens", 1, INT32_MAX, &mt, e)) return -1;
	if (chat && api_get_int(body, "max_completion_tokens", 1, INT32_MAX, &mt, e)) return -1;
	r->sp.max_tokens = (int)mt;
	if (api_get_bool(body, "ignore_eos", &r->sp.ignore_eos, e) || api_get_bool(body, "skip_special_tokens", &r->skip_special, e) ||
	    api_get_bool(body, "include_stop_str_in_output", &r->include_stop_str, e))
		return -1;
	if (parse_stop(body, r, e) || parse_stop_ids(ctx, body, r, e)) return -1;

	/* logprobs: chat has logprobs:bool + top_logprobs:int, completions logprobs:int */
	if (chat) {
		if (api_get_bool(body, "logprobs", &r->logprobs, e)) return -1;
		iv = 0;
		if (api_get_int(body, "top_logprobs", 0, GEN_MAX_TOP, &iv, e)) return -1;
		if (present(body, "top_logprobs") && !r->logprobs)
			return api_error_set(e, 400, "top_logprobs", "when using `top_logprobs`, `logprobs` must be set to true.");
		r->top_logprobs = (int)iv;
	} else if (present(body, "logprobs")) {
		iv = 0;
		if (api_get_int(body, "logprobs", 0, GEN_MAX_TOP, &iv, e)) return -1;
		r->logprobs = true;
		r->top_logprobs = (int)iv;
	}
	if (r->logprobs) r->sp.n_logprobs = r->top_logprobs;

	/* refused: features that would otherwise be silently ignored */
	iv = 0;
	if (api_get_int(body, "min_tokens", 0, INT32_MAX, &iv, e)) return -1;
	if (iv > 0) return api_error_set(e, 400, "min_tokens", "'min_tokens' is not supported by this server");
	json_t *lb = json_object_get(body, "logit_bias");
	if (lb && !json_is_null(lb) && !(json_is_object(lb) && json_object_size(lb) == 0))
		return api_error_set(e, 400, "logit_bias", "'logit_bias' is not supported by this server");
	json_t *rf = json_object_get(body, "response_format");
	if (rf && !json_is_null(rf)) {
		const char *t = json_string_value(json_object_get(rf, "type"));
		if (!t || strcmp(t, "text"))
			return api_error_set(e, 400, "response_format", "only response_format {\"type\": \"text\"} is supported (no guided decoding)");
	}
	static const char *const guided[] = {"guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs", "prompt_logprobs"};
	for (size_t i = 0; i < sizeof guided / sizeof *guided; i++)
		if (present(body, guided[i])) return api_error_set(e, 400, guided[i], "'%s' is not supported by this server", guided[i]);

	if (chat) {
		if (parse_messages(body, r, e) || parse_tools(body, r, e)) return -1;
		if (api_get_bool(body, "add_generation_prompt", &r->add_generation_prompt, e) ||
		    api_get_bool(body, "include_reasoning", &r->include_reasoning, e))
			return -1;
		json_t *kw = json_object_get(body, "chat_template_kwargs");
		if (kw && !json_is_null(kw)) {
			if (!json_is_object(kw)) return api_error_set(e, 400, "chat_template_kwargs", "'chat_template_kwargs' must be an object");
			r->kwargs = kw;
		}
		/* SGLang maps reasoning_effort "none" to enable_thinking=false unless given */
		const char *effort = NULL;
		if (api_get_string(body, "reasoning_effort", &effort, e)) return -1;
		if (effort && !strcmp(effort, "none") && api_kwarg_bool(r->kwargs, "enable_thinking") < 0) {
			if (!r->kwargs) {
				r->kwargs = json_object();
				json_object_set_new(body, "chat_template_kwargs", r->kwargs);
			}
			json_object_set_new(r->kwargs, "enable_thinking", json_false());
		}
		if (r->tool_choice == API_TOOL_CHOICE_AUTO && r->tool_choice_given &&
		    !(ctx->enable_auto_tool_choice && ctx->tool_parser != API_TOOL_PARSER_NONE))
			return api_error_set(e, 400, "tool_choice",
			                     "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set");
		if ((r->tool_choice == API_TOOL_CHOICE_REQUIRED || r->tool_choice == API_TOOL_CHOICE_NAMED) &&
		    ctx->tool_parser == API_TOOL_PARSER_NONE)
			return api_error_set(e, 400, "tool_choice", "tool_choice \"required\" or a named tool needs --tool-call-parser");
	} else {
		if (parse_prompts(ctx, body, r, e)) return -1;
		if (api_get_bool(body, "echo", &r->echo, e)) return -1;
		if (present(body, "suffix")) return api_error_set(e, 400, "suffix", "'suffix' is not supported by this server");
		iv = r->n;
		if (api_get_int(body, "best_of", 1, API_MAX_N, &iv, e)) return -1;
		if (iv != r->n) return api_error_set(e, 400, "best_of", "'best_of' different from 'n' is not supported");
		if (r->n_prompts * r->n > API_MAX_PROMPTS)
			return api_error_set(e, 400, "n", "at most %d choices (prompts x n) per request", API_MAX_PROMPTS);
	}
	return 0;
}

void api_request_free(struct api_request *r)
{
	free(r->stop_ids);
	for (int i = 0; i < r->n_stops; i++) free(r->stops[i]);
	for (int i = 0; i < r->n_prompts; i++) free(r->prompt_ids[i]);
	memset(r, 0, sizeof *r);
}
