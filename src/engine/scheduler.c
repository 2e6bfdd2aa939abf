/* scheduler.c — see scheduler.h. The engine thread's loop:
 *   1. take newly submitted requests into the waiting queue; drop cancelled ones;
 *   2. build a batch: one decode token for every running sequence that has all its tokens
 *      cached, then prefill chunks (running sequences mid-prompt first, then newly admitted
 *      waiting ones) until the token budget is spent;
 *   3. if the KV pool cannot hold the batch, preempt the newest running sequence (free its
 *      blocks; it will be recomputed from its tokens later) and try again;
 *   4. forward, sample, post events, retire finished sequences.
 * Policy follows vLLM's v1 scheduler in spirit: first come first served, decode before
 * prefill, chunked prefill, recompute preemption. */
#include "engine/scheduler.h"

#include "engine/prefix_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum req_state { REQ_WAITING, REQ_RUNNING, REQ_FINISHED };

struct gen_request {
	atomic_int refs;
	atomic_bool cancelled;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gen_event *q; /* pending events [head, len) */
	int q_head, q_len, q_cap;
	bool done_posted;
	/* engine thread only */
	struct gen_params p;
	int32_t *stop_ids;
	enum req_state state;
	struct sequence seq;
	struct sampler smp;
	int n_generated;
	int n_cached_prompt;
	bool admitted_before;
	uint64_t *hashes; /* chain hashes of the sequence's full blocks [0, n_hashed) */
	int n_hashed, cap_hashes;
	struct gen_request *next; /* submission list */
};

struct scheduler {
	struct engine *eng;
	struct sched_config cfg;
	pthread_t thread;
	pthread_mutex_t mu; /* guards incoming, n_incoming, stop, stats */
	pthread_cond_t cv;
	struct gen_request *incoming_head, *incoming_tail;
	int n_incoming;
	bool stop;
	struct sched_stats stats;
	/* engine thread only */
	struct prefix_cache pc;
	bool pc_on;
	struct gen_request **waiting, **running;
	int n_waiting, n_running, cap_waiting, cap_running;
	struct sequence **step_seqs;
	int *step_feed;
	const float **step_logits;
	struct gen_request **step_reqs;
};

void sched_config_default(struct sched_config *c)
{
	memset(c, 0, sizeof *c);
	c->max_num_seqs = 64;
	c->max_waiting = 1024;
	c->enable_prefix_caching = true;
}

int scheduler_max_model_len(const struct scheduler *s) { return s->eng->cfg.max_model_len; }

/* ---- request event queue (any thread) ---- */

static void post(struct gen_request *r, const struct gen_event *ev)
{
	pthread_mutex_lock(&r->mu);
	if (r->q_head == r->q_len) r->q_head = r->q_len = 0;
	if (r->q_len == r->q_cap) {
		if (r->q_head > 0) {
			memmove(r->q, r->q + r->q_head, (r->q_len - r->q_head) * sizeof *r->q);
			r->q_len -= r->q_head, r->q_head = 0;
		}
		if (r->q_len == r->q_cap) r->q_cap = r->q_cap ? r->q_cap * 2 : 16, r->q = xrealloc(r->q, r->q_cap * sizeof *r->q);
	}
	r->q[r->q_len++] = *ev;
	if (ev->kind == GEN_EVENT_DONE) r->done_posted = true;
	pthread_cond_broadcast(&r->cv);
	/* under the lock, so gen_request_release can stop notifications for good */
	if (r->p.notify) r->p.notify(r->p.notify_ctx);
	pthread_mutex_unlock(&r->mu);
}

int gen_request_poll(struct gen_request *r, struct gen_event *ev, int max, int timeout_ms)
{
	pthread_mutex_lock(&r->mu);
	if (r->q_head == r->q_len && timeout_ms != 0) {
		if (timeout_ms < 0) {
			while (r->q_head == r->q_len) pthread_cond_wait(&r->cv, &r->mu);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += timeout_ms / 1000;
			ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
			while (r->q_head == r->q_len)
				if (pthread_cond_timedwait(&r->cv, &r->mu, &ts) == ETIMEDOUT) break;
		}
	}
	int n = 0;
	while (n < max && r->q_head < r->q_len) ev[n++] = r->q[r->q_head++];
	pthread_mutex_unlock(&r->mu);
	return n;
}

void gen_request_cancel(struct gen_request *r) { atomic_store(&r->cancelled, true); }

static void request_unref(struct gen_request *r)
{
	if (atomic_fetch_sub(&r->refs, 1) != 1) return;
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->q);
	free(r->stop_ids);
	free(r->hashes);
	free(r);
}

void gen_request_release(struct gen_request *r)
{
	/* a released request nobody reads any more: make sure the engine stops working on it and
	 * never calls back into the submitter again */
	pthread_mutex_lock(&r->mu);
	r->p.notify = NULL;
	pthread_mutex_unlock(&r->mu);
	atomic_store(&r->cancelled, true);
	request_unref(r);
}

/* ---- submission (any thread) ---- */

struct gen_request *scheduler_submit(struct scheduler *s, const struct gen_params *p, enum sched_submit_error *why,
                                     struct err *e)
{
	int max_len = s->eng->cfg.max_model_len, vocab = s->eng->model->cfg.vocab;
	if (p->n_prompt <= 0) {
		*why = SCHED_SUBMIT_BAD;
		err_set(e, "the prompt is empty");
		return NULL;
	}
	if (p->n_prompt >= max_len) {
		*why = SCHED_SUBMIT_TOO_LONG;
		err_set(e, "the prompt has %d tokens; this model's maximum context length is %d tokens", p->n_prompt, max_len);
		return NULL;
	}
	for (int i = 0; i < p->n_prompt; i++)
		if (p->prompt[i] < 0 || p->prompt[i] >= vocab) {
			*why = SCHED_SUBMIT_BAD;
			err_set(e, "prompt token id %d is outside the vocabulary (0..%d)", p->prompt[i], vocab - 1);
			return NULL;
		}
	if (p->sampling.n_logprobs > GEN_MAX_TOP) {
		*why = SCHED_SUBMIT_BAD;
		err_set(e, "at most %d logprobs per token", GEN_MAX_TOP);
		return NULL;
	}
	struct gen_request *r = xcalloc(1, sizeof *r);
	atomic_init(&r->refs, 2);
	atomic_init(&r->cancelled, false);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->p = *p;
	r->p.prompt = NULL;
	if (p->sampling.n_stop_ids > 0) {
		r->stop_ids = xmalloc(p->sampling.n_stop_ids * sizeof *r->stop_ids);
		memcpy(r->stop_ids, p->sampling.stop_ids, p->sampling.n_stop_ids * sizeof *r->stop_ids);
	}
	r->p.sampling.stop_ids = r->stop_ids;
	sequence_init(&r->seq, p->prompt, p->n_prompt);
	pthread_mutex_lock(&s->mu);
	if (s->stop || s->n_incoming + s->stats.waiting >= s->cfg.max_waiting) {
		*why = s->stop ? SCHED_SUBMIT_SHUTDOWN : SCHED_SUBMIT_QUEUE_FULL;
		pthread_mutex_unlock(&s->mu);
		err_set(e, s->stop ? "the server is shutting down" : "too many requests are waiting (%d)", s->cfg.max_waiting);
		free(r->seq.tokens);
		atomic_store(&r->refs, 1);
		request_unref(r);
		return NULL;
	}
	if (s->incoming_tail) s->incoming_tail->next = r;
	else s->incoming_head = r;
	s->incoming_tail = r;
	s->n_incoming++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	*why = SCHED_SUBMIT_OK;
	return r;
}

/* ---- engine thread ---- */

static void push(struct gen_request ***arr, int *n, int *cap, struct gen_request *r)
{
	if (*n == *cap) *cap = *cap ? *cap * 2 : 16, *arr = xrealloc(*arr, *cap * sizeof **arr);
	(*arr)[(*n)++] = r;
}

static void finish(struct scheduler *s, struct gen_request *r, enum gen_finish why, int32_t stop_token, const char *error)
{
	struct gen_event ev = {.kind = GEN_EVENT_DONE, .finish = why, .stop_token = stop_token,
	                       .n_prompt_tokens = r->seq.n_prompt, .n_generated_tokens = r->n_generated,
	                       .n_cached_prompt_tokens = r->n_cached_prompt};
	if (error) snprintf(ev.error, sizeof ev.error, "%s", error);
	if (r->state == REQ_RUNNING || r->state == REQ_WAITING) {
		sequence_free(&r->seq, s->eng);
		if (r->smp.vocab) sampler_free(&r->smp);
	}
	r->state = REQ_FINISHED;
	post(r, &ev);
	pthread_mutex_lock(&s->mu);
	s->stats.requests_finished++;
	pthread_mutex_unlock(&s->mu);
	request_unref(r);
}

static bool is_stop(const struct engine *eng, const struct gen_request *r, int32_t t)
{
	const struct sampling_params *p = &r->p.sampling;
	for (int i = 0; i < p->n_stop_ids; i++)
		if (p->stop_ids[i] == t) return true;
	if (p->ignore_eos) return false;
	const struct model_config *c = &eng->model->cfg;
	for (int i = 0; i < c->n_eos; i++)
		if (c->eos_ids[i] == t) return true;
	return false;
}

/* Frees a running sequence's KV and sends it back to the front of the waiting queue; its
 * tokens (prompt + generated so far) are recomputed when it is admitted again. */
static void preempt(struct scheduler *s, int idx)
{
	struct gen_request *r = s->running[idx];
	block_table_release(&r->seq.bt, &s->eng->kv);
	r->seq.n_cached = 0;
	r->n_hashed = 0;
	r->state = REQ_WAITING;
	memmove(s->running + idx, s->running + idx + 1, (s->n_running - idx - 1) * sizeof *s->running);
	s->n_running--;
	push(&s->waiting, &s->n_waiting, &s->cap_waiting, NULL);
	memmove(s->waiting + 1, s->waiting, (s->n_waiting - 1) * sizeof *s->waiting);
	s->waiting[0] = r;
	s->stats.preemptions++;
}

static int blocks_for(const struct engine *eng, const struct sequence *q, int n_new)
{
	int bs = eng->kv.view.block_size;
	int want = (q->n_cached + n_new + bs - 1) / bs;
	return want > q->bt.n_blocks ? want - q->bt.n_blocks : 0;
}

static void collect_incoming(struct scheduler *s)
{
	pthread_mutex_lock(&s->mu);
	while (!s->stop && !s->incoming_head && !s->n_running && !s->n_waiting) pthread_cond_wait(&s->cv, &s->mu);
	struct gen_request *r = s->incoming_head;
	s->incoming_head = s->incoming_tail = NULL;
	s->n_incoming = 0;
	pthread_mutex_unlock(&s->mu);
	while (r) {
		struct gen_request *next = r->next;
		r->state = REQ_WAITING;
		push(&s->waiting, &s->n_waiting, &s->cap_waiting, r);
		r = next;
	}
}

static void drop_cancelled(struct scheduler *s)
{
	for (int i = 0; i < s->n_running;)
		if (atomic_load(&s->running[i]->cancelled)) {
			struct gen_request *r = s->running[i];
			memmove(s->running + i, s->running + i + 1, (s->n_running - i - 1) * sizeof *s->running);
			s->n_running--;
			finish(s, r, GEN_FINISH_ABORT, -1, NULL);
		} else i++;
	for (int i = 0; i < s->n_waiting;)
		if (atomic_load(&s->waiting[i]->cancelled)) {
			struct gen_request *r = s->waiting[i];
			memmove(s->waiting + i, s->waiting + i + 1, (s->n_waiting - i - 1) * sizeof *s->waiting);
			s->n_waiting--;
			finish(s, r, GEN_FINISH_ABORT, -1, NULL);
		} else i++;
}

/* Plans one step into s->step_*; returns the number of sequences in it. */
static int available_blocks(const struct scheduler *s)
{
	return kv_cache_n_free(&s->eng->kv) + (s->pc_on ? prefix_cache_n_evictable(&s->pc) : 0);
}

/* Reuses the longest cached prefix of a sequence that has no KV yet. At least one token is
 * left to compute, so the step yields logits, and shared blocks are never written. */
static void attach_cached_prefix(struct scheduler *s, struct gen_request *r)
{
	int bs = s->eng->kv.view.block_size;
	int max_blocks = (r->seq.n_tokens - 1) / bs;
	if (!s->pc_on || r->seq.n_cached || r->seq.bt.n_blocks || max_blocks <= 0) return;
	if (r->cap_hashes < max_blocks) r->cap_hashes = max_blocks, r->hashes = xrealloc(r->hashes, max_blocks * sizeof *r->hashes);
	int32_t *blocks = xmalloc(max_blocks * sizeof *blocks);
	int m = prefix_cache_match(&s->pc, r->seq.tokens, r->seq.n_tokens, max_blocks, blocks, r->hashes);
	if (m) {
		struct block_table *bt = &r->seq.bt;
		if (bt->cap < m) bt->cap = m, bt->blocks = xrealloc(bt->blocks, m * sizeof *bt->blocks);
		memcpy(bt->blocks, blocks, m * sizeof *blocks);
		bt->n_blocks = m;
		r->seq.n_cached = m * bs;
		r->n_hashed = m;
	}
	free(blocks);
}

/* Gives back what attach_cached_prefix took, when the request is not admitted after all: the
 * blocks it referenced may be the evictable ones the planned step counts on. */
static void detach_cached_prefix(struct scheduler *s, struct gen_request *r)
{
	if (r->state != REQ_WAITING || !r->seq.bt.n_blocks) return;
	block_table_truncate(&r->seq.bt, &s->eng->kv, 0);
	r->seq.n_cached = 0;
	r->n_hashed = 0;
}

/* Names the sequence's newly filled blocks in the prefix cache. */
static void publish_blocks(struct scheduler *s, struct gen_request *r)
{
	int bs = s->eng->kv.view.block_size, n_full = r->seq.n_cached / bs;
	if (!s->pc_on || n_full <= r->n_hashed) return;
	if (r->cap_hashes < n_full) r->cap_hashes = n_full * 2, r->hashes = xrealloc(r->hashes, r->cap_hashes * sizeof *r->hashes);
	for (int b = r->n_hashed; b < n_full; b++) {
		r->hashes[b] = prefix_hash(b ? r->hashes[b - 1] : 0, r->seq.tokens + b * bs, bs);
		prefix_cache_insert(&s->pc, r->hashes[b], r->seq.bt.blocks[b]);
	}
	r->n_hashed = n_full;
}

static int plan_step(struct scheduler *s)
{
	struct engine *eng = s->eng;
	int budget = s->cfg.max_num_batched_tokens, n = 0, free_blocks = available_blocks(s);
	for (;;) {
		n = 0;
		budget = s->cfg.max_num_batched_tokens;
		free_blocks = available_blocks(s);
		bool preempted = false;
		/* decode tokens first, then running prefills, oldest first */
		for (int pass = 0; pass < 2 && !preempted; pass++)
			for (int i = 0; i < s->n_running && budget > 0; i++) {
				struct gen_request *r = s->running[i];
				int left = r->seq.n_tokens - r->seq.n_cached;
				bool decode = left == 1 && r->seq.n_cached >= r->seq.n_prompt;
				if ((pass == 0) != decode) continue;
				int feed = left < budget ? left : budget;
				int need = blocks_for(eng, &r->seq, feed);
				if (need > free_blocks) {
					if (s->n_running == 1) {
						/* alone and still no room: the request cannot fit this pool */
						finish(s, r, GEN_FINISH_ERROR, -1, "the KV cache is too small for this request");
						s->n_running = 0;
						return 0;
					}
					preempt(s, s->n_running - 1);
					preempted = true;
					break;
				}
				free_blocks -= need;
				budget -= feed;
				s->step_reqs[n] = r, s->step_seqs[n] = &r->seq, s->step_feed[n] = feed, n++;
			}
		if (!preempted) break;
	}
	/* admit waiting requests while budget, sequence slots and KV blocks allow */
	while (s->n_waiting && budget > 0 && s->n_running < s->cfg.max_num_seqs) {
		struct gen_request *r = s->waiting[0];
		attach_cached_prefix(s, r);
		free_blocks = available_blocks(s);
		for (int i = 0; i < n; i++) free_blocks -= blocks_for(eng, s->step_seqs[i], s->step_feed[i]);
		int left = r->seq.n_tokens - r->seq.n_cached;
		int feed = left < budget ? left : budget;
		/* admit only if the whole remaining prompt fits the free pool, so admission does not
		 * immediately cause preemption */
		if (blocks_for(eng, &r->seq, left + 1) > free_blocks) {
			detach_cached_prefix(s, r);
			break;
		}
		free_blocks -= blocks_for(eng, &r->seq, feed);
		if (!r->admitted_before) {
			int hit = r->seq.n_cached < r->seq.n_prompt ? r->seq.n_cached : r->seq.n_prompt;
			r->n_cached_prompt = hit;
			pthread_mutex_lock(&s->mu);
			s->stats.cached_prompt_tokens += hit;
			pthread_mutex_unlock(&s->mu);
		}
		memmove(s->waiting, s->waiting + 1, (s->n_waiting - 1) * sizeof *s->waiting);
		s->n_waiting--;
		if (!r->smp.vocab) sampler_init(&r->smp, &r->p.sampling, eng->model->cfg.vocab, r->seq.tokens, r->seq.n_prompt);
		r->admitted_before = true;
		r->state = REQ_RUNNING;
		push(&s->running, &s->n_running, &s->cap_running, r);
		budget -= feed;
		s->step_reqs[n] = r, s->step_seqs[n] = &r->seq, s->step_feed[n] = feed, n++;
	}
	return n;
}

static void emit_token(struct scheduler *s, struct gen_request *r, const float *lg)
{
	struct engine *eng = s->eng;
	int V = eng->model->cfg.vocab;
	int32_t t = sampler_sample(&r->smp, lg);
	sampler_accept(&r->smp, t);
	sequence_append(&r->seq, t);
	r->n_generated++;
	struct gen_event ev = {.kind = GEN_EVENT_TOKEN, .token = t, .stop_token = -1};
	if (r->p.sampling.n_logprobs >= 0) {
		ev.logprob = logits_logprob(lg, V, t, NULL);
		ev.n_top = r->p.sampling.n_logprobs;
		if (ev.n_top > 0) logits_top(lg, V, ev.n_top, ev.top_ids, ev.top_logprobs);
	}
	post(r, &ev);
	pthread_mutex_lock(&s->mu);
	s->stats.generation_tokens++;
	pthread_mutex_unlock(&s->mu);
}

static void *engine_thread(void *arg)
{
	struct scheduler *s = arg;
	struct engine *eng = s->eng;
	for (;;) {
		collect_incoming(s);
		pthread_mutex_lock(&s->mu);
		bool stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop) break;
		drop_cancelled(s);
		pthread_mutex_lock(&s->mu); /* submit's queue limit and /metrics read these */
		s->stats.running = s->n_running;
		s->stats.waiting = s->n_waiting;
		pthread_mutex_unlock(&s->mu);
		int n = plan_step(s);
		pthread_mutex_lock(&s->mu); /* admitted requests no longer count as waiting */
		s->stats.running = s->n_running;
		s->stats.waiting = s->n_waiting;
		pthread_mutex_unlock(&s->mu);
		if (n == 0) {
			if (s->n_waiting && !s->n_running) {
				/* nothing runs and the head of the queue cannot fit: it never will */
				struct gen_request *r = s->waiting[0];
				memmove(s->waiting, s->waiting + 1, (s->n_waiting - 1) * sizeof *s->waiting);
				s->n_waiting--;
				finish(s, r, GEN_FINISH_ERROR, -1, "the KV cache is too small for this request");
			}
			continue;
		}
		struct err e = {{0}};
		if (s->pc_on) {
			int need = 0;
			for (int i = 0; i < n; i++) need += blocks_for(eng, s->step_seqs[i], s->step_feed[i]);
			prefix_cache_make_room(&s->pc, need);
		}
		if (engine_step(eng, s->step_seqs, n, s->step_feed, s->step_logits, &e)) {
			/* planning guaranteed room; an error here is a bug in planning: fail the step's requests */
			for (int i = 0; i < n; i++) {
				struct gen_request *r = s->step_reqs[i];
				for (int j = 0; j < s->n_running; j++)
					if (s->running[j] == r) {
						memmove(s->running + j, s->running + j + 1, (s->n_running - j - 1) * sizeof *s->running);
						s->n_running--;
						break;
					}
				finish(s, r, GEN_FINISH_ERROR, -1, e.msg);
			}
			continue;
		}
		pthread_mutex_lock(&s->mu);
		s->stats.steps++;
		for (int i = 0; i < n; i++)
			if (s->step_reqs[i]->seq.n_cached <= s->step_reqs[i]->seq.n_prompt)
				s->stats.prompt_tokens += s->step_feed[i];
		pthread_mutex_unlock(&s->mu);
		for (int i = 0; i < n; i++) publish_blocks(s, s->step_reqs[i]);
		for (int i = 0; i < n; i++) {
			struct gen_request *r = s->step_reqs[i];
			if (!s->step_logits[i]) continue;
			emit_token(s, r, s->step_logits[i]);
			int32_t t = r->seq.tokens[r->seq.n_tokens - 1];
			enum gen_finish why = GEN_FINISH_NONE;
			if (is_stop(eng, r, t)) why = GEN_FINISH_STOP;
			else if (r->n_generated >= r->p.sampling.max_tokens || r->seq.n_tokens >= eng->cfg.max_model_len)
				why = GEN_FINISH_LENGTH;
			if (why != GEN_FINISH_NONE) {
				for (int j = 0; j < s->n_running; j++)
					if (s->running[j] == r) {
						memmove(s->running + j, s->running + j + 1, (s->n_running - j - 1) * sizeof *s->running);
						s->n_running--;
						break;
					}
				finish(s, r, why, why == GEN_FINISH_STOP ? t : -1, NULL);
			}
		}
		pthread_mutex_lock(&s->mu);
		s->stats.running = s->n_running;
		s->stats.waiting = s->n_waiting;
		if (s->pc_on) {
			s->stats.kv_blocks_cached = s->pc.n_cached;
			s->stats.prefix_hit_tokens = s->pc.hit_tokens;
			s->stats.prefix_query_tokens = s->pc.query_tokens;
		}
		pthread_mutex_unlock(&s->mu);
	}
	/* shutdown: everything still here ends as aborted */
	while (s->n_running) finish(s, s->running[--s->n_running], GEN_FINISH_ABORT, -1, NULL);
	while (s->n_waiting) finish(s, s->waiting[--s->n_waiting], GEN_FINISH_ABORT, -1, NULL);
	pthread_mutex_lock(&s->mu);
	struct gen_request *r = s->incoming_head;
	s->incoming_head = s->incoming_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (r) {
		struct gen_request *next = r->next;
		r->state = REQ_WAITING;
		finish(s, r, GEN_FINISH_ABORT, -1, NULL);
		r = next;
	}
	return NULL;
}

struct scheduler *scheduler_create(struct engine *eng, const struct sched_config *cfg, struct err *e)
{
	struct scheduler *s = xcalloc(1, sizeof *s);
	s->eng = eng;
	s->cfg = *cfg;
	if (s->cfg.max_num_batched_tokens <= 0 || s->cfg.max_num_batched_tokens > eng->cfg.max_batch_tokens)
		s->cfg.max_num_batched_tokens = eng->cfg.max_batch_tokens;
	if (s->cfg.max_num_seqs <= 0) s->cfg.max_num_seqs = 64;
	if (s->cfg.max_waiting <= 0) s->cfg.max_waiting = 1024;
	int cap = s->cfg.max_num_seqs + 1;
	s->step_seqs = xcalloc(cap, sizeof *s->step_seqs);
	s->step_feed = xcalloc(cap, sizeof *s->step_feed);
	s->step_logits = xcalloc(cap, sizeof *s->step_logits);
	s->step_reqs = xcalloc(cap, sizeof *s->step_reqs);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->stats.kv_blocks_total = eng->kv.view.n_blocks;
	s->pc_on = s->cfg.enable_prefix_caching;
	if (s->pc_on) prefix_cache_init(&s->pc, &eng->kv);
	if (pthread_create(&s->thread, NULL, engine_thread, s) != 0) {
		err_set(e, "cannot start the engine thread");
		free(s->step_seqs), free(s->step_feed), free(s->step_logits), free(s->step_reqs), free(s);
		return NULL;
	}
	return s;
}

void scheduler_destroy(struct scheduler *s)
{
	if (!s) return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	if (s->pc_on) prefix_cache_free(&s->pc);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->waiting), free(s->running);
	free(s->step_seqs), free(s->step_feed), free(s->step_logits), free(s->step_reqs);
	free(s);
}

void scheduler_stats(struct scheduler *s, struct sched_stats *out)
{
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	pthread_mutex_unlock(&s->mu);
	/* block counts read without the engine thread's cooperation: a snapshot, good for metrics */
	out->kv_blocks_total = s->eng->kv.view.n_blocks;
	out->kv_blocks_used = s->eng->kv.view.n_blocks - kv_cache_n_free(&s->eng->kv);
}

int scheduler_check_blocks(struct scheduler *s)
{
	const struct kv_cache *kv = &s->eng->kv;
	int bad = 0;
	for (int b = 0; b < kv->view.n_blocks; b++) {
		bool cached = s->pc_on && s->pc.entries && prefix_cache_is_cached(&s->pc, b);
		if (!(kv->refcount[b] == 0 || (cached && kv->refcount[b] == 1))) bad++;
	}
	return bad;
}
