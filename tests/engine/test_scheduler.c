/* Scheduler tests on a real (tiny, synthesized) checkpoint: greedy outputs of 16 concurrent
 * requests of different lengths must be token-for-token identical to the same requests run
 * one at a time, under every batching regime (plain, chunked prefill, KV budget so small that
 * sequences get preempted and recomputed), and afterwards every KV block must be free.
 * usage: test_scheduler MODEL_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/scheduler.h"
#include "../test_util.h"

#define N_REQ 16

struct run_result {
	int32_t tokens[N_REQ][64];
	int n[N_REQ];
	enum gen_finish finish[N_REQ];
};

static int32_t prompt_tok(int r, int i) { return (int32_t)((r * 131 + i * 17 + 7) % 1000) + 3; }
static int prompt_len(int r) { return 3 + (r * 37) % 90; }
static int max_tokens(int r) { return 4 + (r * 7) % 29; }

/* Requests share prefixes in groups of four (the same "system prompt" of 40 tokens), so the
 * prefix cache has something to share. */
static int32_t prompt_tok_shared(int r, int i) { return i < 40 ? (int32_t)((r / 4) * 50 + i + 3) : prompt_tok(r, i); }
static bool shared_prefixes;

static void run_ex(struct model *m, int max_seqs, int budget, int kv_tokens, bool prefix, int repeat, struct run_result *out,
                   long long *preempt, long long *hits);

static void run(struct model *m, int max_seqs, int budget, int kv_tokens, struct run_result *out, long long *preempt)
{
	long long hits;
	run_ex(m, max_seqs, budget, kv_tokens, false, 1, out, preempt, &hits);
}

static void run_ex(struct model *m, int max_seqs, int budget, int kv_tokens, bool prefix, int repeat, struct run_result *out,
                   long long *preempt, long long *hits)
{
	struct engine_config ec;
	engine_config_default(&ec);
	ec.n_threads = 2;
	ec.kv_tokens = kv_tokens;
	ec.max_batch_tokens = 256;
	ec.block_size = 8;
	ec.max_model_len = 256;
	struct err e = {{0}};
	struct engine eng;
	if (engine_init(&eng, m, &ec, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
	struct sched_config sc;
	sched_config_default(&sc);
	sc.max_num_seqs = max_seqs;
	sc.max_num_batched_tokens = budget;
	sc.enable_prefix_caching = prefix;
	struct scheduler *s = scheduler_create(&eng, &sc, &e);
	struct gen_request *req[N_REQ];
	for (int rep = 0; rep < repeat; rep++) {
	for (int r = 0; r < N_REQ; r++) {
		int32_t p[128];
		for (int i = 0; i < prompt_len(r); i++) p[i] = shared_prefixes ? prompt_tok_shared(r, i) : prompt_tok(r, i);
		struct gen_params gp = {.prompt = p, .n_prompt = prompt_len(r)};
		sampling_params_default(&gp.sampling);
		gp.sampling.temperature = 0;
		gp.sampling.max_tokens = max_tokens(r);
		gp.sampling.ignore_eos = true;
		enum sched_submit_error why;
		req[r] = scheduler_submit(s, &gp, &why, &e);
		CHECK_MSG(req[r] != NULL, "submit %d: %s", r, e.msg);
		out->n[r] = 0;
		if (max_seqs == 1) { /* one at a time: wait for each before submitting the next */
			struct gen_event ev;
			while (gen_request_poll(req[r], &ev, 1, -1) == 1 && ev.kind == GEN_EVENT_TOKEN) out->tokens[r][out->n[r]++] = ev.token;
			out->finish[r] = ev.finish;
		}
	}
	if (max_seqs > 1)
		for (int r = 0; r < N_REQ; r++) {
			struct gen_event ev;
			while (gen_request_poll(req[r], &ev, 1, -1) == 1 && ev.kind == GEN_EVENT_TOKEN) out->tokens[r][out->n[r]++] = ev.token;
			out->finish[r] = ev.finish;
		}
	for (int r = 0; r < N_REQ; r++) gen_request_release(req[r]);
	}
	struct sched_stats st;
	scheduler_stats(s, &st);
	*preempt = st.preemptions;
	*hits = st.cached_prompt_tokens;
	CHECK_MSG(scheduler_check_blocks(s) == 0, "%d KV blocks held by something other than the prefix cache",
	          scheduler_check_blocks(s));
	scheduler_destroy(s);
	CHECK_MSG(kv_cache_n_free(&eng.kv) == eng.kv.view.n_blocks, "blocks leaked: %d of %d free", kv_cache_n_free(&eng.kv),
	          eng.kv.view.n_blocks);
	engine_free(&eng);
}

static void same(const struct run_result *a, const struct run_result *b, const char *what)
{
	int bad = 0;
	for (int r = 0; r < N_REQ; r++) {
		bool ok = a->n[r] == b->n[r] && a->n[r] == max_tokens(r) && !memcmp(a->tokens[r], b->tokens[r], a->n[r] * 4) &&
		          b->finish[r] == GEN_FINISH_LENGTH;
		if (!ok) bad++, fprintf(stderr, "%s: request %d differs (%d vs %d tokens)\n", what, r, a->n[r], b->n[r]);
	}
	CHECK_MSG(bad == 0, "%s: %d requests differ from the one-at-a-time run", what, bad);
}

int main(int argc, char **argv)
{
	if (argc < 2) return fprintf(stderr, "usage: test_scheduler MODEL_DIR\n"), 2;
	struct model m;
	struct err e = {{0}};
	if (model_load(&m, argv[1], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
	struct run_result *serial = calloc(1, sizeof *serial), *x = calloc(1, sizeof *x);
	long long pre;
	run(&m, 1, 256, 4096, serial, &pre);
	run(&m, N_REQ, 256, 4096, x, &pre);
	same(serial, x, "16 concurrent");
	run(&m, N_REQ, 24, 4096, x, &pre);
	same(serial, x, "chunked prefill (24-token budget)");
	/* 40 blocks of 8 tokens: far less than 16 sequences need at once */
	run(&m, N_REQ, 64, 320, x, &pre);
	same(serial, x, "KV budget forcing preemption");
	CHECK_MSG(pre > 0, "the small KV budget should have forced preemption (got %lld)", pre);
	printf("preemptions under the small budget: %lld\n", pre);

	/* prefix caching: prompts share 40-token prefixes; each set runs twice on one scheduler so
	 * the second pass reuses the first pass's blocks; results must not change */
	long long hits;
	shared_prefixes = true;
	run(&m, 1, 256, 4096, serial, &pre);
	run_ex(&m, N_REQ, 256, 4096, true, 2, x, &pre, &hits);
	same(serial, x, "prefix caching on, 16 concurrent, repeated");
	CHECK_MSG(hits > 0, "prefix cache hits expected (got %lld cached prompt tokens)", hits);
	printf("prefix cache: %lld prompt tokens served from cache\n", hits);
	run_ex(&m, N_REQ, 24, 4096, true, 2, x, &pre, &hits);
	same(serial, x, "prefix caching + chunked prefill");
	run_ex(&m, N_REQ, 64, 320, true, 2, x, &pre, &hits);
	same(serial, x, "prefix caching + preemption");
	CHECK_MSG(pre > 0, "preemption expected under the small budget with prefix caching (got %lld)", pre);
	/* a pool so small that a waiting request's cached prefix is often all that is evictable:
	 * looking it up must not take blocks the planned step counts on */
	run_ex(&m, N_REQ, 256, 160, true, 2, x, &pre, &hits);
	same(serial, x, "prefix caching + tiny KV pool");
	free(serial), free(x);
	model_close(&m);
	TEST_END();
}
