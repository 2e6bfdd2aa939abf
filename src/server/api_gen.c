/* api_gen.c — see api_gen.h. A choice's text flows token by token:
 *   - a stop token (eos id unless ignore_eos, or a stop_token_ids entry) counts as output but
 *     adds no text, as in vLLM;
 *   - a stop-string match ends the text there and finishes the choice at once (finish "stop"),
 *     cancels the engine request, and everything the engine still sends for it is ignored
 *     (usage counts tokens up to the match);
 *   - reasoning/tool parsers see exactly the text the client sees;
 *   - without parsers every token is reported, also one that released no text (vLLM streams
 *     each engine output on its plain path, and benchmark clients count chunks as tokens);
 *     with parsers a token is reported only when it changed the output, as vLLM skips the
 *     deltas its parsers return as None. */
#include "server/api_gen.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_BATCH 64

static void lp_push(struct api_lp_list *l, const struct api_logprob *x)
{
	if (l->n == l->cap) l->cap = l->cap ? l->cap * 2 : 16, l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	l->v[l->n++] = *x;
}

static void on_notify(void *ud)
{
	struct api_gen *g = ud;
	pthread_mutex_lock(&g->mu);
	g->ticks++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void choice_init(struct api_gen *g, struct api_choice *c, int index, const struct api_gen_setup *st)
{
	memset(c, 0, sizeof *c);
	c->index = index;
	c->stop_string = -1;
	c->stop_token = -1;
	detok_init(&c->dt, g->ctx->tok, g->req->skip_special);
	stop_match_init(&c->sm, (const char *const *)g->req->stops, g->req->n_stops);
	c->use_reasoning = st->use_reasoning;
	if (c->use_reasoning) reasoning_parser_init(&c->rp, st->start_in_reasoning);
	c->use_tools = st->tools != NULL;
	c->every_token = !c->use_reasoning && !c->use_tools;
	if (c->use_tools) {
		struct tool_parser_opts o = {.id_style = TOOL_ID_STYLE_SGLANG, .id_seed = api_random_u64()};
		tool_parser_init(&c->tp, st->tool_kind, st->tools, &o);
	}
	reasoning_events_init(&c->rev);
	tool_events_init(&c->tev);
	tool_events_init(&c->d_tools);
	tool_parse_result_init(&c->calls);
}

static void choice_free(struct api_choice *c)
{
	if (c->r) {
		gen_request_cancel(c->r);
		gen_request_release(c->r);
		c->r = NULL;
	}
	detok_free(&c->dt);
	stop_match_free(&c->sm);
	if (c->use_reasoning) reasoning_parser_free(&c->rp);
	if (c->use_tools) tool_parser_free(&c->tp);
	reasoning_events_free(&c->rev);
	tool_events_free(&c->tev);
	tool_events_free(&c->d_tools);
	tool_parse_result_free(&c->calls);
	buf_free(&c->d_reasoning), buf_free(&c->d_content), buf_free(&c->reasoning), buf_free(&c->content);
	free(c->d_lp.v);
	free(c->lp.v);
}

int api_gen_start(struct api_gen *g, const struct api_ctx *ctx, const struct api_request *req, int n,
                  const struct api_gen_setup *setup, struct api_error *e)
{
	memset(g, 0, sizeof *g);
	g->ctx = ctx;
	g->req = req;
	g->n = n;
	g->tools = setup->tools;
	g->c = xcalloc(n, sizeof *g->c);
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->t_start = time_now();
	for (int i = 0; i < n; i++) choice_init(g, &g->c[i], i, setup);
	for (int i = 0; i < n; i++) {
		struct gen_params p = {.prompt = setup->prompts[i], .n_prompt = setup->n_prompts[i], .sampling = req->sp,
		                       .notify = on_notify, .notify_ctx = g};
		/* n > 1 with a seed: each choice gets its own stream, reproducibly */
		if (p.sampling.has_seed) p.sampling.seed += (uint64_t)i;
		enum sched_submit_error why;
		struct err se = {{0}};
		g->c[i].n_prompt = setup->n_prompts[i];
		g->c[i].r = scheduler_submit(ctx->sched, &p, &why, &se);
		if (!g->c[i].r) {
			int status = why == SCHED_SUBMIT_QUEUE_FULL || why == SCHED_SUBMIT_SHUTDOWN ? 503 : 400;
			api_error_set(e, status, NULL, "%s", se.msg);
			for (int j = 0; j < i; j++) gen_request_cancel(g->c[j].r);
			return -1;
		}
	}
	return 0;
}

static bool is_stop_token(const struct api_gen *g, int32_t t)
{
	const struct sampling_params *p = &g->req->sp;
	for (int i = 0; i < p->n_stop_ids; i++)
		if (p->stop_ids[i] == t) return true;
	if (p->ignore_eos) return false;
	const struct model_config *mc = g->ctx->mcfg;
	for (int i = 0; i < mc->n_eos; i++)
		if (mc->eos_ids[i] == t) return true;
	return false;
}

/* content text -> tool parser (or straight to the delta) */
static void route_content(struct api_choice *c, const char *s, size_t n)
{
	if (!n) return;
	if (!c->use_tools) {
		buf_append(&c->d_content, s, n);
		buf_append(&c->content, s, n);
		return;
	}
	tool_parser_feed(&c->tp, s, n, &c->tev);
}

/* Moves the tool parser's events into the delta and the totals. */
static void drain_tools(struct api_choice *c)
{
	if (!c->use_tools || !c->tev.n) return;
	tool_parse_result_add(&c->calls, &c->tev);
	for (size_t i = 0; i < c->tev.n; i++) {
		struct tool_event *ev = &c->tev.v[i];
		if (ev->type == TOOL_EVENT_TYPE_CONTENT) {
			buf_append(&c->d_content, ev->text, ev->len);
			buf_append(&c->content, ev->text, ev->len);
			free(ev->text);
			continue;
		}
		if (ev->type == TOOL_EVENT_TYPE_CALL_DROPPED) {
			log_warn("dropped a call to a function not in the request's tools: %.*s", (int)(ev->len > 200 ? 200 : ev->len), ev->text);
			free(ev->text);
			continue;
		}
		/* ownership of ev->text moves to the delta list */
		struct tool_events *d = &c->d_tools;
		if (d->n == d->cap) d->cap = d->cap ? d->cap * 2 : 8, d->v = xrealloc(d->v, d->cap * sizeof *d->v);
		d->v[d->n++] = *ev;
	}
	c->tev.n = 0;
}

static void route_reasoning_events(struct api_gen *g, struct api_choice *c)
{
	for (size_t i = 0; i < c->rev.n; i++) {
		struct reasoning_event *ev = &c->rev.v[i];
		if (ev->type == REASONING_EVENT_TYPE_REASONING) {
			if (g->req->include_reasoning) {
				buf_append(&c->d_reasoning, ev->text, ev->len);
				buf_append(&c->reasoning, ev->text, ev->len);
			}
		} else route_content(c, ev->text, ev->len);
	}
	reasoning_events_clear(&c->rev);
	drain_tools(c);
}

/* released text (after stop strings) -> reasoning parser -> content */
static void route_text(struct api_gen *g, struct api_choice *c, const char *s, size_t n)
{
	if (!n) return;
	if (c->use_reasoning) {
		reasoning_parser_feed(&c->rp, s, n, &c->rev);
		route_reasoning_events(g, c);
	} else {
		route_content(c, s, n);
		drain_tools(c);
	}
}

/* End of text: parsers release what they held. */
static void flush_parsers(struct api_gen *g, struct api_choice *c)
{
	if (c->use_reasoning) {
		reasoning_parser_finish(&c->rp, &c->rev);
		route_reasoning_events(g, c);
	}
	if (c->use_tools) {
		tool_parser_finish(&c->tp, &c->tev);
		drain_tools(c);
	}
}

static void feed_text(struct api_gen *g, struct api_choice *c, const char *s, size_t n)
{
	struct buf rel;
	buf_init(&rel);
	bool hit = stop_match_feed(&c->sm, s, n, &rel);
	if (hit && g->req->include_stop_str) buf_puts(&rel, g->req->stops[c->sm.matched]);
	route_text(g, c, rel.data, rel.len);
	buf_free(&rel);
	if (hit) {
		c->text_done = true;
		c->stop_string = c->sm.matched;
		gen_request_cancel(c->r);
		flush_parsers(g, c);
	}
}

static void on_token(struct api_gen *g, struct api_choice *c, const struct gen_event *ev)
{
	if (c->text_done) return;
	double now = time_now();
	if (!c->n_out) c->t_first = now;
	c->t_last = now;
	c->n_out++;
	c->d_tokens++;
	if (g->req->logprobs) {
		struct api_logprob lp = {.token = ev->token, .logprob = ev->logprob, .n_top = ev->n_top};
		memcpy(lp.top_ids, ev->top_ids, sizeof lp.top_ids);
		memcpy(lp.top_logprobs, ev->top_logprobs, sizeof lp.top_logprobs);
		lp_push(&c->d_lp, &lp);
		lp_push(&c->lp, &lp);
	}
	if (is_stop_token(g, ev->token)) return;
	struct buf piece;
	buf_init(&piece);
	detok_feed(&c->dt, ev->token, &piece);
	if (piece.len) feed_text(g, c, piece.data, piece.len);
	buf_free(&piece);
}

static void on_done(struct api_gen *g, struct api_choice *c, const struct gen_event *ev)
{
	c->done = true;
	c->n_cached = ev->n_cached_prompt_tokens;
	if (!c->text_done) {
		struct buf tail;
		buf_init(&tail);
		detok_finish(&c->dt, &tail);
		if (tail.len) feed_text(g, c, tail.data, tail.len);
		buf_clear(&tail);
		if (!c->text_done) {
			stop_match_finish(&c->sm, &tail);
			route_text(g, c, tail.data, tail.len);
			flush_parsers(g, c);
		}
		buf_free(&tail);
	}
	enum metrics_finish mf;
	if (c->stop_string >= 0) c->finish = "stop", mf = METRICS_FINISH_STOP;
	else switch (ev->finish) {
		case GEN_FINISH_STOP:
			c->finish = "stop", mf = METRICS_FINISH_STOP;
			c->stop_token = ev->stop_token;
			c->primary_eos = g->ctx->mcfg->n_eos > 0 && ev->stop_token == g->ctx->mcfg->eos_ids[0] &&
			                 !g->req->sp.ignore_eos;
			break;
		case GEN_FINISH_LENGTH: c->finish = "length", mf = METRICS_FINISH_LENGTH; break;
		case GEN_FINISH_ERROR:
			c->finish = "error", mf = METRICS_FINISH_ERROR;
			snprintf(c->error, sizeof c->error, "%s", ev->error[0] ? ev->error : "engine error");
			break;
		default: c->finish = "abort", mf = METRICS_FINISH_ABORT; break;
		}
	if (c->calls.n_calls > 0 && !strcmp(c->finish, "stop")) c->finish = "tool_calls";
	double tpot = c->n_out > 1 ? (c->t_last - c->t_first) / (c->n_out - 1) : -1;
	metrics_record_generation(g->ctx->metrics, mf, ev->n_prompt_tokens, ev->n_cached_prompt_tokens, c->n_out,
	                          c->n_out ? c->t_first - g->t_start : -1, tpot, time_now() - g->t_start);
	/* the engine is done with it: give it back now rather than at api_gen_free */
	gen_request_release(c->r);
	c->r = NULL;
}

static bool has_delta(const struct api_choice *c)
{
	return c->d_reasoning.len || c->d_content.len || c->d_tools.n || c->d_lp.n;
}

/* Whether the engine ends the choice with this token (scheduler.c finishes a request right
 * after posting its stop token or its max_tokens-th token; max_tokens is never above what the
 * context leaves). Called after on_token counted it. A wrong guess only costs the shape: the
 * held delta goes out with the next event. */
static bool token_ends_choice(const struct api_gen *g, const struct api_choice *c, const struct gen_event *ev)
{
	return is_stop_token(g, ev->token) || c->n_out >= g->req->sp.max_tokens ||
	       c->n_prompt + c->n_out >= g->ctx->max_model_len;
}

static void report(struct api_gen *g, struct api_choice *c, api_delta_fn on_delta, void *ud)
{
	c->reported = true;
	on_delta(g, c, ud);
}

/* One event of choice c. */
static void process_event(struct api_gen *g, struct api_choice *c, const struct gen_event *ev, bool done_follows,
                          api_delta_fn on_delta, void *ud)
{
	if (ev->kind != GEN_EVENT_TOKEN) {
		/* a stop-string match already reported the finish */
		bool reported_finish = c->finish != NULL;
		on_done(g, c, ev);
		if (!reported_finish) report(g, c, on_delta, ud);
		return;
	}
	if (c->text_done) return; /* after a stop-string match: ignored (see on_token) */
	on_token(g, c, ev);
	if (c->text_done) {
		/* this token completed a stop string: the choice ends here (vLLM finishes the request in
		 * the same output), the engine's DONE for the cancel only closes the books */
		c->finish = c->calls.n_calls > 0 ? "tool_calls" : "stop";
		report(g, c, on_delta, ud);
		return;
	}
	if (done_follows || token_ends_choice(g, c, ev)) return; /* the DONE carries this delta */
	if (c->every_token || has_delta(c) || !c->reported) report(g, c, on_delta, ud);
}

void api_gen_clear_delta(struct api_choice *c)
{
	buf_clear(&c->d_reasoning);
	buf_clear(&c->d_content);
	for (size_t i = 0; i < c->d_tools.n; i++) free(c->d_tools.v[i].text);
	c->d_tools.n = 0;
	c->d_lp.n = 0;
	c->d_tokens = 0;
}

static void cancel_all(struct api_gen *g)
{
	g->cancelled = true;
	for (int i = 0; i < g->n; i++)
		if (g->c[i].r) gen_request_cancel(g->c[i].r);
}

int api_gen_step(struct api_gen *g, int timeout_ms, const struct api_conn *conn, api_delta_fn on_delta, void *ud)
{
	struct gen_event ev[POLL_BATCH];
	double deadline = time_now() + timeout_ms / 1000.0;
	for (;;) {
		pthread_mutex_lock(&g->mu);
		unsigned long seen = g->ticks;
		pthread_mutex_unlock(&g->mu);
		int got = 0, running = 0;
		for (int i = 0; i < g->n; i++) {
			struct api_choice *c = &g->c[i];
			if (c->done) continue;
			int k = gen_request_poll(c->r, ev, POLL_BATCH, 0);
			got += k;
			for (int j = 0; j < k && !c->done; j++)
				process_event(g, c, &ev[j], j + 1 < k && ev[j + 1].kind == GEN_EVENT_DONE, on_delta, ud);
			if (!c->done) running++;
		}
		if (!running) return 0;
		/* the client's socket is looked at every 100 ms, also while tokens flow */
		double now = time_now();
		if (now - g->t_conn_check >= 0.1) {
			g->t_conn_check = now;
			if (conn && conn->gone && conn->gone(conn->ctx)) {
				cancel_all(g);
				return -1;
			}
		}
		if (g->ctx->stopping && atomic_load(g->ctx->stopping) >= API_ABORTING && !g->cancelled) cancel_all(g);
		if (got) return running;
		if (now >= deadline) return running;
		/* sleep until the engine posts (or 100 ms pass, to look at the client again) */
		double wait = deadline - now < 0.1 ? deadline - now : 0.1;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		long ns = ts.tv_nsec + (long)(wait * 1e9);
		ts.tv_sec += ns / 1000000000L;
		ts.tv_nsec = ns % 1000000000L;
		pthread_mutex_lock(&g->mu);
		while (g->ticks == seen)
			if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT) break;
		pthread_mutex_unlock(&g->mu);
	}
}

void api_gen_free(struct api_gen *g)
{
	if (!g->c) return;
	for (int i = 0; i < g->n; i++) {
		struct api_choice *c = &g->c[i];
		/* a choice that never saw its end (client gone, submit failed for a sibling) ends here */
		if (c->r && !c->done)
			metrics_record_generation(g->ctx->metrics, METRICS_FINISH_ABORT, c->n_prompt, 0, c->n_out,
			                          c->n_out ? c->t_first - g->t_start : -1, -1, time_now() - g->t_start);
		choice_free(c);
	}
	free(g->c);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
	memset(g, 0, sizeof *g);
}

json_t *api_token_string(const struct api_ctx *ctx, int32_t token)
{
	size_t n;
	const char *b = tokenizer_token_bytes(ctx->tok, token, &n);
	struct buf s;
	buf_init(&s);
	tokenizer_utf8_lossy(&s, b, n, true);
	json_t *j = api_json_text(s.data ? s.data : "", s.len);
	buf_free(&s);
	return j;
}

json_t *api_token_bytes(const struct api_ctx *ctx, int32_t token)
{
	size_t n;
	const char *b = tokenizer_token_bytes(ctx->tok, token, &n);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer((unsigned char)b[i]));
	return a;
}

double api_logprob_value(float lp) { return isfinite(lp) ? (double)lp : -9999.0; }

json_t *api_usage_json(int prompt, int completion, int cached)
{
	json_t *u = json_object();
	json_object_set_new(u, "prompt_tokens", json_integer(prompt));
	json_object_set_new(u, "total_tokens", json_integer(prompt + completion));
	json_object_set_new(u, "completion_tokens", json_integer(completion));
	json_object_set_new(u, "prompt_tokens_details", json_pack("{s:i}", "cached_tokens", cached));
	return u;
}

static void ignore_delta(struct api_gen *g, struct api_choice *c, void *ud) { api_gen_clear_delta(c); }

int api_gen_run_whole(struct api_gen *g, const struct api_conn *conn, struct api_response *res)
{
	struct api_error e;
	for (;;) {
		int left = api_gen_step(g, 1000, conn, ignore_delta, NULL);
		if (left < 0) {
			api_error_set(&e, 499, NULL, "client closed the connection");
			api_response_error(res, &e);
			return -1;
		}
		if (left == 0) break;
	}
	for (int i = 0; i < g->n; i++) {
		if (strcmp(g->c[i].finish, "error")) continue;
		api_error_set(&e, 500, NULL, "%s", g->c[i].error);
		api_response_error(res, &e);
		return -1;
	}
	return 0;
}

json_t *api_stop_reason_json(const struct api_request *req, const struct api_choice *c)
{
	if (c->stop_string >= 0) return json_string(req->stops[c->stop_string]);
	if (c->stop_token >= 0 && !c->primary_eos) return json_integer(c->stop_token);
	return json_null();
}

ssize_t api_gen_sse_read(struct api_gen *g, const struct api_conn *conn, struct api_sse *sse, char *dst, size_t max,
                         api_delta_fn on_delta, void (*on_end)(void *ud), void *ud)
{
	for (;;) {
		size_t n = api_sse_drain(sse, dst, max);
		if (n) return (ssize_t)n;
		if (sse->ended) return 0;
		int left = api_gen_step(g, 1000, conn, on_delta, ud);
		if (left < 0) return -1;
		if (left == 0) {
			if (on_end) on_end(ud);
			buf_puts(&sse->out, "data: [DONE]\n\n");
			sse->ended = true;
		}
	}
}
