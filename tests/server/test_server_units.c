/* test_server_units.c — unit tests of the server's pure parts: the stop-string matcher (fed
 * whole, byte by byte and in random splits, against a direct search), request validation and
 * sampling defaults (api_request.c), error bodies, and the metrics exposition. */
#include <stdlib.h>
#include <string.h>

#include "../test_util.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/stop_match.h"

/* The reference: the text up to the first occurrence of any stop string. */
static size_t ref_cut(const char *text, const char *const *stops, int n, int *which)
{
	size_t best = strlen(text);
	*which = -1;
	for (int i = 0; i < n; i++) {
		if (!stops[i][0]) continue;
		const char *p = strstr(text, stops[i]);
		if (p && (size_t)(p - text) < best) best = (size_t)(p - text), *which = i;
	}
	return best;
}

/* Feeds text in pieces at the given cut points; returns the released text. */
static char *feed_split(const char *text, const char *const *stops, int n, const size_t *cuts, int n_cuts, int *which,
                        bool *leaked)
{
	struct stop_match m;
	stop_match_init(&m, stops, n);
	struct buf out;
	buf_init(&out);
	size_t prev = 0, len = strlen(text);
	bool hit = false;
	*leaked = false;
	for (int i = 0; i <= n_cuts && !hit; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		hit = stop_match_feed(&m, text + prev, end - prev, &out);
		/* what was released must never contain a stop string */
		for (int k = 0; k < n; k++)
			if (stops[k][0] && out.data && strstr(out.data, stops[k])) *leaked = true;
		prev = end;
	}
	if (!hit) stop_match_finish(&m, &out);
	*which = m.matched;
	stop_match_free(&m);
	return buf_take(&out);
}

static void test_stop_match(void)
{
	const char *stops[] = {"swer i", "</stop>", "aaab", "", "é!"};
	const int n = 5;
	const char *texts[] = {
		"The answer is 4.", "no stop here at all", "aaaaab and more", "x</sto", "x</stop", "<</stop>>",
		"café! yes", "caf\xc3\xa9", "swer", "ans swer i swer", "", "aaaab",
	};
	struct rng r;
	rng_seed(&r, 7);
	for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
		int want_which;
		size_t want = ref_cut(texts[t], stops, n, &want_which);
		size_t len = strlen(texts[t]);
		/* whole, byte by byte, and 50 random splits */
		for (int mode = 0; mode < 52; mode++) {
			size_t cuts[64];
			int nc = 0;
			if (mode == 1)
				for (size_t i = 1; i < len && nc < 64; i++) cuts[nc++] = i;
			else if (mode >= 2)
				for (size_t i = 1; i < len && nc < 64; i++)
					if (rng_next(&r) % 3 == 0) cuts[nc++] = i;
			int which;
			bool leaked;
			char *got = feed_split(texts[t], stops, n, cuts, nc, &which, &leaked);
			CHECK_MSG(strlen(got) == want && !strncmp(got, texts[t], want), "text %zu mode %d: got '%s'", t, mode, got);
			CHECK_MSG(which == want_which, "text %zu mode %d: matched %d, want %d", t, mode, which, want_which);
			CHECK_MSG(!leaked, "text %zu mode %d leaked a stop string", t, mode);
			free(got);
		}
	}
	/* no stop strings: everything passes straight through */
	struct stop_match m;
	stop_match_init(&m, NULL, 0);
	struct buf out;
	buf_init(&out);
	CHECK(!stop_match_feed(&m, "abc", 3, &out));
	CHECK_STREQ(out.data, "abc");
	stop_match_free(&m);
	buf_free(&out);
	/* held text is released at the end */
	const char *s1[] = {"abcd"};
	stop_match_init(&m, s1, 1);
	buf_init(&out);
	CHECK(!stop_match_feed(&m, "xxabc", 5, &out));
	CHECK_STREQ(out.data, "xx");
	stop_match_finish(&m, &out);
	CHECK_STREQ(out.data, "xxabc");
	stop_match_free(&m);
	buf_free(&out);
}

static struct model_config mc;
static const char *names[] = {"m1", "alias"};
static struct metrics met;
static struct api_ctx ctx;

static int parse(const char *json, bool chat, struct api_request *r, struct api_error *e)
{
	json_error_t je;
	json_t *b = json_loads(json, 0, &je);
	GLM_ASSERT(b);
	int rc = api_request_parse(&ctx, b, chat, r, e);
	api_request_free(r);
	json_decref(b);
	return rc;
}

static void test_requests(void)
{
	memset(&mc, 0, sizeof mc);
	mc.vocab = 1000;
	mc.gen_temperature = 0.6f;
	mc.gen_top_p = 0.95f;
	mc.gen_top_k = -1;
	metrics_init(&met);
	ctx = (struct api_ctx){.mcfg = &mc, .served_names = names, .n_served = 2, .max_model_len = 100, .metrics = &met,
	                       .tool_parser = API_TOOL_PARSER_GLM45, .enable_auto_tool_choice = true};
	struct api_request r;
	struct api_error e;
	json_error_t je;
	/* defaults: generation_config, then neutral */
	json_t *b = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 0, &je);
	CHECK(api_request_parse(&ctx, b, true, &r, &e) == 0);
	CHECK(fabsf(r.sp.temperature - 0.6f) < 1e-6f);
	CHECK(fabsf(r.sp.top_p - 0.95f) < 1e-6f);
	CHECK(r.sp.top_k == 0);
	CHECK(r.sp.max_tokens == -1);
	CHECK(r.n == 1 && !r.stream && r.skip_special && r.add_generation_prompt);
	CHECK_STREQ(r.model, "m1");
	CHECK(r.tool_choice == API_TOOL_CHOICE_NONE);
	api_request_free(&r);
	json_decref(b);
	/* request values win; max_completion_tokens over max_tokens; stop list */
	b = json_loads("{\"model\":\"alias\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0,"
	               "\"top_k\":5,\"max_tokens\":7,\"max_completion_tokens\":9,\"stop\":[\"a\",\"\",\"bc\"],\"seed\":3,"
	               "\"n\":2,\"logprobs\":true,\"top_logprobs\":4,\"stream\":true,\"stream_options\":{}}",
	               0, &je);
	CHECK(api_request_parse(&ctx, b, true, &r, &e) == 0);
	CHECK(r.sp.temperature == 0 && r.sp.top_k == 5 && r.sp.max_tokens == 9);
	CHECK(r.n_stops == 2);
	CHECK(r.sp.has_seed && r.sp.seed == 3 && r.n == 2);
	CHECK(r.sp.n_logprobs == 4);
	CHECK(r.include_usage); /* vLLM: stream_options present -> include_usage defaults to true */
	CHECK_STREQ(r.model, "alias");
	api_request_free(&r);
	json_decref(b);
	/* tools default to auto */
	b = json_loads("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\","
	               "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}]}",
	               0, &je);
	CHECK(api_request_parse(&ctx, b, true, &r, &e) == 0);
	CHECK(r.tool_choice == API_TOOL_CHOICE_AUTO && r.tools);
	api_request_free(&r);
	json_decref(b);
	/* errors name the field and use the right status */
	static const struct {
		const char *json;
		int status;
		const char *param;
	} bad[] = {
		{"{\"messages\":[]}", 400, "messages"},
		{"{\"messages\":[{\"role\":\"user\"}],\"temperature\":\"x\"}", 400, "temperature"},
		{"{\"messages\":[{\"role\":\"user\"}],\"model\":\"zzz\"}", 404, "model"},
		{"{\"messages\":[{\"role\":\"user\"}],\"n\":99}", 400, "n"},
		{"{\"messages\":[{\"role\":\"user\"}],\"max_tokens\":0}", 400, "max_tokens"},
		{"{\"messages\":[{\"role\":\"user\"}],\"stop_token_ids\":[1000]}", 400, "stop_token_ids"},
		{"{\"messages\":[{\"role\":\"user\"}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
		 "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}]}", 400, "tool_choice"},
		{"{\"messages\":[{\"role\":\"user\"}],\"min_tokens\":3}", 400, "min_tokens"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memset(&e, 0, sizeof e);
		CHECK_MSG(parse(bad[i].json, true, &r, &e) == -1, "%s", bad[i].json);
		CHECK_MSG(e.status == bad[i].status, "%s: status %d", bad[i].json, e.status);
		CHECK_MSG(!strcmp(e.param, bad[i].param), "%s: param '%s'", bad[i].json, e.param);
	}
	/* completions prompts */
	b = json_loads("{\"prompt\":[[1,2],[3]],\"n\":2,\"echo\":true,\"logprobs\":2}", 0, &je);
	CHECK(api_request_parse(&ctx, b, false, &r, &e) == 0);
	CHECK(r.n_prompts == 2 && r.prompt_len[0] == 2 && r.prompt_ids[1][0] == 3 && r.echo && r.logprobs && r.top_logprobs == 2);
	api_request_free(&r);
	json_decref(b);
	b = json_loads("{\"prompt\":[\"a\",\"b\",\"c\"]}", 0, &je);
	CHECK(api_request_parse(&ctx, b, false, &r, &e) == 0);
	CHECK(r.n_prompts == 3 && !strcmp(r.prompt_text[2], "c"));
	api_request_free(&r);
	json_decref(b);
	CHECK(parse("{\"prompt\":[1,\"x\"]}", false, &r, &e) == -1 && e.status == 400);
	CHECK(parse("{\"prompt\":[]}", false, &r, &e) == -1 && e.status == 400);
	/* the error body */
	api_error_set(&e, 404, "model", "The model `%s` does not exist.", "x");
	char *s = api_error_json(&e);
	CHECK_STREQ(s, "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\",\"param\":\"model\",\"code\":404}}");
	free(s);
	metrics_free(&met);
}

static void test_metrics(void)
{
	struct metrics m;
	metrics_init(&m);
	metrics_record_generation(&m, METRICS_FINISH_STOP, 10, 4, 5, 0.03, 0.002, 0.05);
	metrics_record_generation(&m, METRICS_FINISH_ABORT, 7, 0, 1, 0.5, -1, 0.6);
	metrics_record_http(&m, "/v1/models", 200);
	metrics_record_http(&m, "/v1/models", 200);
	struct buf out;
	buf_init(&out);
	metrics_render(&m, NULL, "a\"b", &out);
	CHECK(strstr(out.data, "glm:prompt_tokens_total{model_name=\"a\\\"b\"} 17\n") != NULL);
	CHECK(strstr(out.data, "glm:generation_tokens_total{model_name=\"a\\\"b\"} 6\n") != NULL);
	CHECK(strstr(out.data, "finished_reason=\"abort\"} 1\n") != NULL);
	CHECK(strstr(out.data, "glm:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\",le=\"0.04\"} 1\n") != NULL);
	CHECK(strstr(out.data, "glm:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\",le=\"+Inf\"} 2\n") != NULL);
	CHECK(strstr(out.data, "glm:time_per_output_token_seconds_count{model_name=\"a\\\"b\"} 1\n") != NULL);
	CHECK(strstr(out.data, "path=\"/v1/models\",status=\"200\"} 2\n") != NULL);
	CHECK(strstr(out.data, "glm:prompt_tokens_cached_total{model_name=\"a\\\"b\"} 4\n") != NULL);
	CHECK(strstr(out.data, "glm:prefix_cache_hit_rate{model_name=\"a\\\"b\"} 0\n") != NULL); /* no scheduler */
	buf_free(&out);
	metrics_free(&m);
}

int main(void)
{
	test_stop_match();
	test_requests();
	test_metrics();
	TEST_END();
}
