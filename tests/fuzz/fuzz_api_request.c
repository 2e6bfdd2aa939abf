/* fuzz_api_request.c — fuzz target for HTTP request bodies: the server's JSON -> native struct
 * conversion (src/server/api_request.c api_request_parse for /v1/chat/completions and
 * /v1/completions), what api_chat does with the parsed request before it reaches the scheduler
 * (chat-template rendering of messages/tools/chat_template_kwargs through
 * chat_template_render_json, tokenization, the tool set built from the tools' schemas), and the
 * /tokenize and /detokenize handlers. The body is decoded by jansson exactly as server.c does;
 * JSON syntax itself is jansson's business, so bodies that are not JSON stop there.
 * The server context is the smallest the API allows: no scheduler or model, the built-in
 * tokenizer, a config whose vocab matches it, the GLM-4.5 or GLM-4.7 template (or none), and
 * parser settings chosen from the input's hash so every branch of the validation is reachable.
 * Invariants: an error is a 4xx/5xx with a message and a JSON error body; an accepted request
 * has every field inside the range the engine relies on (n, stops, stop ids and prompt ids in
 * the vocab, sampling values, logprobs, tool_choice pointing at a listed tool); an accepted chat
 * request renders to valid UTF-8 that tokenizes; every /tokenize and /detokenize response body
 * is JSON, and /tokenize's count equals its number of tokens.
 * Thread rules: single-threaded. */
#include <jansson.h>
#include <string.h>

#include "chat/chat_template.h"
#include "fuzz.h"
#include "io/config.h"
#include "server/api.h"
#include "tokenizer/tokenizer.h"

#ifndef FUZZ_TEMPLATE_DIR
#error "FUZZ_TEMPLATE_DIR must name data/chat_templates"
#endif

const size_t fuzz_max_len = 8192;
const enum fuzz_json_layout fuzz_json_layout = FUZZ_JSON_LAYOUT_WHOLE;
const char *const fuzz_dict[] = {
	"\"model\"", "\"glm-4.5\"", "\"alias\"", "\"messages\"", "\"role\"", "\"content\"", "\"user\"", "\"assistant\"",
	"\"system\"", "\"tool\"", "\"reasoning_content\"", "\"reasoning\"", "\"tool_calls\"", "\"function\"", "\"name\"",
	"\"arguments\"", "\"{\\\"a\\\": 1}\"", "\"tools\"", "\"type\"", "\"parameters\"", "\"properties\"",
	"\"tool_choice\"", "\"none\"", "\"auto\"", "\"required\"", "\"prompt\"", "\"stream\"", "\"stream_options\"",
	"\"include_usage\"", "\"continuous_usage_stats\"", "\"n\"", "\"temperature\"", "\"top_p\"", "\"top_k\"",
	"\"min_p\"", "\"presence_penalty\"", "\"frequency_penalty\"", "\"repetition_penalty\"", "\"seed\"",
	"\"max_tokens\"", "\"max_completion_tokens\"", "\"ignore_eos\"", "\"skip_special_tokens\"",
	"\"include_stop_str_in_output\"", "\"stop\"", "\"stop_token_ids\"", "\"logprobs\"", "\"top_logprobs\"",
	"\"min_tokens\"", "\"logit_bias\"", "\"response_format\"", "\"text\"", "\"json_object\"", "\"guided_json\"",
	"\"add_generation_prompt\"", "\"include_reasoning\"", "\"chat_template_kwargs\"", "\"enable_thinking\"",
	"\"clear_thinking\"", "\"thinking\"", "\"reasoning_effort\"", "\"echo\"", "\"suffix\"", "\"best_of\"",
	"\"tokens\"", "\"return_token_strs\"", "\"add_special_tokens\"", "\"image_url\"", "[1, 2, 3]", "[[1], [2]]",
	"[\"a\", \"b\"]", "{}", "[]", "null", "true", "false", "0", "-1", "1.5", "2147483648", "\"\"", ", ", ": ", NULL,
};

static struct tokenizer *g_tok;
static struct model_config g_cfg;
static struct chat_template *g_tmpl[2];
static const char *const g_names[] = {"glm-4.5", "alias"};

static void setup(void)
{
	log_set_level(LOG_LEVEL_QUIET);
	struct err e = {{0}};
	struct buf js;
	buf_init(&js);
	tokenizer_write_builtin_json(&js, 200);
	g_tok = tokenizer_create_from_memory(js.data, js.len, &e);
	FUZZ_CHECK(g_tok != NULL, "built-in tokenizer: %s", e.msg);
	buf_free(&js);
	char cfg[512];
	snprintf(cfg, sizeof cfg,
	         "{\"model_type\": \"glm4_moe\", \"hidden_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
	         "\"num_key_value_heads\": 2, \"vocab_size\": %d, \"intermediate_size\": 128, \"eos_token_id\": [%d]}",
	         tokenizer_vocab_size(g_tok), tokenizer_vocab_size(g_tok) - 1);
	FUZZ_CHECK(!model_config_parse(&g_cfg, cfg, "{\"temperature\": 0.6, \"top_p\": 0.95}", "config.json", &e),
	           "config: %s", e.msg);
	const char *dirs[2] = {FUZZ_TEMPLATE_DIR "/glm-4.5", FUZZ_TEMPLATE_DIR "/glm-4.7"};
	for (int i = 0; i < 2; i++) {
		g_tmpl[i] = chat_template_create(dirs[i], NULL, &e);
		FUZZ_CHECK(g_tmpl[i] != NULL, "template %s: %s", dirs[i], e.msg);
	}
}

static void check_error(const struct api_error *e, const char *route)
{
	FUZZ_CHECK(e->status >= 400 && e->status < 600, "%s: error status %d", route, e->status);
	FUZZ_CHECK(e->message[0] != 0, "%s: an error without a message", route);
	char *body = api_error_json(e);
	json_t *j = json_loads(body, 0, NULL);
	FUZZ_CHECK(json_is_object(json_object_get(j, "error")), "%s: the error body is not {\"error\": ...}: %s", route, body);
	json_decref(j);
	free(body);
}

static void check_sampling(const struct api_request *r)
{
	const struct sampling_params *sp = &r->sp;
	FUZZ_CHECK(r->n >= 1 && r->n <= API_MAX_N, "n %d", r->n);
	FUZZ_CHECK(sp->temperature >= 0 && sp->temperature <= 100, "temperature %g", (double)sp->temperature);
	FUZZ_CHECK(sp->top_p > 0 && sp->top_p <= 1, "top_p %g", (double)sp->top_p);
	FUZZ_CHECK(sp->top_k >= 0, "top_k %d", sp->top_k);
	FUZZ_CHECK(sp->min_p >= 0 && sp->min_p <= 1, "min_p %g", (double)sp->min_p);
	FUZZ_CHECK(sp->presence_penalty >= -2 && sp->presence_penalty <= 2, "presence_penalty %g", (double)sp->presence_penalty);
	FUZZ_CHECK(sp->frequency_penalty >= -2 && sp->frequency_penalty <= 2, "frequency_penalty %g",
	           (double)sp->frequency_penalty);
	FUZZ_CHECK(sp->repetition_penalty > 0 && sp->repetition_penalty <= 100, "repetition_penalty %g",
	           (double)sp->repetition_penalty);
	FUZZ_CHECK(sp->max_tokens == -1 || sp->max_tokens >= 1, "max_tokens %d", sp->max_tokens);
	FUZZ_CHECK(r->n_stops >= 0 && r->n_stops <= API_MAX_STOP, "%d stops", r->n_stops);
	for (int i = 0; i < r->n_stops; i++) FUZZ_CHECK(r->stops[i] && r->stops[i][0], "stop %d is empty", i);
	FUZZ_CHECK(sp->n_stop_ids >= 0 && sp->n_stop_ids <= 256, "%d stop ids", sp->n_stop_ids);
	for (int i = 0; i < sp->n_stop_ids; i++)
		FUZZ_CHECK(sp->stop_ids[i] >= 0 && sp->stop_ids[i] < g_cfg.vocab, "stop id %d", sp->stop_ids[i]);
	FUZZ_CHECK(r->top_logprobs >= 0 && r->top_logprobs <= GEN_MAX_TOP, "top_logprobs %d", r->top_logprobs);
	FUZZ_CHECK(sp->n_logprobs == -1 || (r->logprobs && sp->n_logprobs == r->top_logprobs), "n_logprobs %d",
	           sp->n_logprobs);
	FUZZ_CHECK(r->model && (!strcmp(r->model, g_names[0]) || !strcmp(r->model, g_names[1])), "model '%s'",
	           r->model ? r->model : "(null)");
}

/* What api_chat does after parsing and before submitting. */
static void chat_after_parse(const struct api_ctx *ctx, const struct api_request *r)
{
	FUZZ_CHECK(json_is_array(r->messages) && json_array_size(r->messages) > 0, "messages accepted but not a list");
	if (r->tools) FUZZ_CHECK(json_is_array(r->tools) && json_array_size(r->tools) > 0, "tools accepted but empty");
	if (r->tool_choice == API_TOOL_CHOICE_NAMED) {
		bool found = false;
		for (size_t i = 0; i < json_array_size(r->tools); i++) {
			const char *n = json_string_value(json_object_get(json_object_get(json_array_get(r->tools, i), "function"), "name"));
			found |= n && !strcmp(n, r->tool_choice_name);
		}
		FUZZ_CHECK(found, "named tool_choice '%s' not among the tools", r->tool_choice_name);
	}
	if (r->kwargs) FUZZ_CHECK(json_is_object(r->kwargs), "chat_template_kwargs accepted but not an object");
	if (ctx->tmpl) {
		struct buf text;
		buf_init(&text);
		struct err e = {{0}};
		if (chat_template_render_json(ctx->tmpl, r->messages, r->tools, r->tool_choice_json, r->kwargs,
		                              r->add_generation_prompt, &text, &e)) {
			FUZZ_CHECK(e.msg[0] != 0, "a failed render must say why");
		} else {
			FUZZ_CHECK(fuzz_utf8_valid(text.data ? text.data : "", text.len), "the rendered prompt is not UTF-8");
			int32_t *ids = NULL;
			size_t n = 0;
			FUZZ_CHECK(!tokenizer_encode(ctx->tok, text.data ? text.data : "", text.len, &ids, &n, &e),
			           "the rendered prompt does not tokenize: %s", e.msg);
			free(ids);
		}
		buf_free(&text);
	}
	/* build_tools of api_chat.c: each tool's parameters as compact JSON into the tool set */
	if (r->tools && ctx->tool_parser != API_TOOL_PARSER_NONE) {
		struct tool_set ts;
		tool_set_init(&ts);
		for (size_t i = 0; i < json_array_size(r->tools); i++) {
			json_t *f = json_object_get(json_array_get(r->tools, i), "function");
			const char *name = json_string_value(json_object_get(f, "name"));
			FUZZ_CHECK(name != NULL, "tool %zu accepted without a name", i);
			json_t *p = json_object_get(f, "parameters");
			char *ps = p && json_is_object(p) ? api_json_dump(p) : NULL;
			struct err te = {{0}};
			if (tool_set_add(&ts, name, ps, &te)) FUZZ_CHECK(te.msg[0] != 0, "a refused tool must say why");
			free(ps);
		}
		tool_set_free(&ts);
	}
}

static void completions_after_parse(const struct api_ctx *ctx, const struct api_request *r)
{
	FUZZ_CHECK(r->n_prompts >= 1 && r->n_prompts <= API_MAX_PROMPTS, "%d prompts", r->n_prompts);
	FUZZ_CHECK(r->n_prompts * r->n <= API_MAX_PROMPTS, "%d prompts x n %d", r->n_prompts, r->n);
	for (int i = 0; i < r->n_prompts; i++) {
		if (r->prompt_ids[i]) {
			FUZZ_CHECK(r->prompt_len[i] >= 1, "prompt %d has %d ids", i, r->prompt_len[i]);
			for (int k = 0; k < r->prompt_len[i]; k++)
				FUZZ_CHECK(r->prompt_ids[i][k] >= 0 && r->prompt_ids[i][k] < g_cfg.vocab, "prompt %d id %d", i,
				           r->prompt_ids[i][k]);
		} else {
			FUZZ_CHECK(r->prompt_text[i] != NULL, "prompt %d has neither ids nor text", i);
			int32_t *ids = NULL;
			size_t n = 0;
			struct err e = {{0}};
			FUZZ_CHECK(!tokenizer_encode(ctx->tok, r->prompt_text[i], strlen(r->prompt_text[i]), &ids, &n, &e),
			           "prompt %d does not tokenize: %s", i, e.msg);
			free(ids);
		}
	}
}

static void check_response(struct api_response *res, const char *route)
{
	FUZZ_CHECK(!res->stream, "%s: unexpected stream", route);
	FUZZ_CHECK(res->body != NULL, "%s: no body", route);
	json_error_t je;
	json_t *j = json_loadb(res->body, res->body_len, JSON_ALLOW_NUL, &je); /* \u0000 is valid JSON */
	FUZZ_CHECK(j != NULL, "%s: the response body is not JSON (%s): %.*s", route, je.text, (int)res->body_len, res->body);
	if (res->status == 200 && !strcmp(route, "/tokenize")) {
		json_t *tokens = json_object_get(j, "tokens");
		FUZZ_CHECK(json_is_array(tokens) && (size_t)json_integer_value(json_object_get(j, "count")) == json_array_size(tokens),
		           "/tokenize: count does not match tokens");
	} else if (res->status != 200) {
		FUZZ_CHECK(res->status >= 400 && res->status < 600, "%s: status %d", route, res->status);
		FUZZ_CHECK(json_is_object(json_object_get(j, "error")), "%s: error body without \"error\"", route);
	}
	json_decref(j);
	free(res->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g_tok) setup();
	json_error_t je;
	json_t *body = json_loadb((const char *)data, size, 0, &je);
	if (!body) return -1;
	uint64_t h = fuzz_hash(data, size);
	atomic_int stopping = API_RUNNING;
	struct api_ctx ctx = {
		.mcfg = &g_cfg,
		.tok = g_tok,
		.tmpl = h % 5 == 4 ? NULL : g_tmpl[h % 2],
		.model_path = "/models/fuzz",
		.served_names = g_names,
		.n_served = 2,
		.max_model_len = 4096,
		.reasoning_parser = (h >> 8) & 1 ? API_REASONING_PARSER_GLM45 : API_REASONING_PARSER_NONE,
		.tool_parser = (enum api_tool_parser)((h >> 9) % 3),
		.enable_auto_tool_choice = (h >> 11) & 1,
		.stopping = &stopping,
	};
	int accepted = 0;
	for (int chat = 0; chat < 2; chat++) {
		json_t *copy = json_deep_copy(body);
		struct api_request r;
		struct api_error e;
		memset(&e, 0, sizeof e);
		int rc = api_request_parse(&ctx, copy, chat, &r, &e);
		if (rc) {
			FUZZ_CHECK(rc == -1, "status %d", rc);
			check_error(&e, chat ? "chat" : "completions");
		} else {
			FUZZ_CHECK(r.chat == (bool)chat, "chat flag");
			accepted++;
			check_sampling(&r);
			if (chat) chat_after_parse(&ctx, &r);
			else completions_after_parse(&ctx, &r);
		}
		api_request_free(&r);
		json_decref(copy);
	}
	struct api_response res;
	json_t *copy = json_deep_copy(body);
	memset(&res, 0, sizeof res);
	api_tokenize(&ctx, copy, &res);
	accepted += res.status == 200;
	check_response(&res, "/tokenize");
	memset(&res, 0, sizeof res);
	api_detokenize(&ctx, copy, &res);
	check_response(&res, "/detokenize");
	json_decref(copy);
	json_decref(body);
	return accepted ? 0 : -1;
}
