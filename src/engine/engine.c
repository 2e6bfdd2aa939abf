/* engine.c — see engine.h. */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"

void engine_config_default(struct engine_config *c)
{
	memset(c, 0, sizeof *c);
	c->backend = "cpu";
	c->block_size = 16;
	c->max_batch_tokens = 512;
}

int engine_init(struct engine *eng, struct model *m, const struct engine_config *cfg, struct err *e)
{
	memset(eng, 0, sizeof *eng);
	eng->model = m;
	eng->cfg = *cfg;
	struct engine_config *c = &eng->cfg;
	if (c->max_model_len <= 0) c->max_model_len = m->cfg.max_position_embeddings;
	if (c->kv_tokens <= 0 && c->kv_bytes > 0) c->kv_tokens = c->kv_bytes / kv_cache_bytes_per_token(m);
	if (c->kv_tokens <= 0) c->kv_tokens = c->max_model_len;
	if (c->block_size <= 0) c->block_size = 16;
	if (c->max_batch_tokens <= 0) c->max_batch_tokens = 512;
	if (!c->backend || !strcmp(c->backend, "cpu")) {
		eng->be = backend_cpu_create(c->n_threads, c->isa);
		if (!eng->be) return err_set(e, "cpu backend: instruction set '%s' is not available on this CPU", c->isa ? c->isa : "?");
		if (c->bf16_activations) backend_cpu_set_bf16_activations(eng->be, true);
	} else if (!strcmp(c->backend, "ref")) eng->be = backend_ref_create();
	else return err_set(e, "unknown backend '%s' (cpu or ref)", c->backend);
	/* Read the weights in now (with progress on a terminal) when they fit in memory, so the
	 * first request does not pay for page faults; a larger model pages in on demand. */
	model_prefetch(m);
	int n_blocks = (int)((c->kv_tokens + c->block_size - 1) / c->block_size);
	if (kv_cache_init(&eng->kv, m, c->block_size, n_blocks, e)) {
		engine_free(eng);
		return -1;
	}
	int B = c->max_batch_tokens;
	eng->logits = xmalloc((size_t)B * m->cfg.vocab * sizeof(float));
	eng->tok = xmalloc(B * sizeof *eng->tok);
	eng->pos = xmalloc(B * sizeof *eng->pos);
	eng->out_idx = xmalloc(B * sizeof *eng->out_idx);
	eng->bt = xmalloc(B * sizeof *eng->bt);
	return 0;
}

void engine_free(struct engine *eng)
{
	backend_destroy(eng->be);
	kv_cache_free(&eng->kv);
	scratch_free(&eng->scratch);
	free(eng->logits), free(eng->tok), free(eng->pos), free(eng->out_idx), free(eng->bt);
	memset(eng, 0, sizeof *eng);
}

void sequence_init(struct sequence *s, const int32_t *prompt, int n_prompt)
{
	memset(s, 0, sizeof *s);
	s->cap = n_prompt + 64;
	s->tokens = xmalloc(s->cap * sizeof *s->tokens);
	memcpy(s->tokens, prompt, n_prompt * sizeof *prompt);
	s->n_tokens = s->n_prompt = n_prompt;
}

void sequence_append(struct sequence *s, int32_t token)
{
	if (s->n_tokens == s->cap) s->cap *= 2, s->tokens = xrealloc(s->tokens, s->cap * sizeof *s->tokens);
	s->tokens[s->n_tokens++] = token;
}

void sequence_free(struct sequence *s, struct engine *eng)
{
	block_table_release(&s->bt, &eng->kv);
	free(s->tokens);
	memset(s, 0, sizeof *s);
}

/* Tokens sequence s takes in this step: what it asked for, at most what it has uncached. */
static int feed_of(const struct sequence *s, int asked)
{
	int left = s->n_tokens - s->n_cached;
	return asked < left ? asked : left;
}

int engine_step(struct engine *eng, struct sequence **seqs, int n_seqs, const int *n_feed, const float **logits,
                struct err *e)
{
	int total = 0;
	for (int i = 0; i < n_seqs; i++) {
		int n = feed_of(seqs[i], n_feed[i]);
		total += n > 0 ? n : 0;
	}
	if (total > eng->cfg.max_batch_tokens)
		return err_set(e, "batch of %d tokens exceeds max_batch_tokens %d", total, eng->cfg.max_batch_tokens);
	/* reserve KV for everything first, so a failure leaves the sequences unchanged */
	int need = 0;
	for (int i = 0; i < n_seqs; i++) {
		struct sequence *s = seqs[i];
		int n = feed_of(s, n_feed[i]);
		int have = s->bt.n_blocks, want = (s->n_cached + n + eng->kv.view.block_size - 1) / eng->kv.view.block_size;
		need += want > have ? want - have : 0;
	}
	if (need > kv_cache_n_free(&eng->kv))
		return err_set(e, "KV cache full: %d blocks needed, %d free", need, kv_cache_n_free(&eng->kv));
	int t = 0, n_out = 0;
	for (int i = 0; i < n_seqs; i++) {
		struct sequence *s = seqs[i];
		int n = feed_of(s, n_feed[i]);
		logits[i] = NULL;
		if (n <= 0) continue;
		GLM_ASSERT(block_table_reserve(&s->bt, &eng->kv, s->n_cached + n));
		for (int j = 0; j < n; j++, t++) {
			eng->tok[t] = s->tokens[s->n_cached + j];
			eng->pos[t] = s->n_cached + j;
			eng->bt[t] = s->bt.blocks;
		}
		if (s->n_cached + n == s->n_tokens) eng->out_idx[n_out++] = t - 1;
	}
	if (!t) return 0;
	struct batch b = {.n_tokens = t, .tokens = eng->tok, .pos = eng->pos, .block_table = eng->bt, .n_out = n_out,
	                  .out_idx = eng->out_idx};
	eng->model->arch->forward(eng->model, eng->be, &b, &eng->kv.view, &eng->scratch, eng->logits);
	int o = 0;
	for (int i = 0; i < n_seqs; i++) {
		struct sequence *s = seqs[i];
		int n = feed_of(s, n_feed[i]);
		if (n <= 0) continue;
		s->n_cached += n;
		if (s->n_cached == s->n_tokens) logits[i] = eng->logits + (size_t)o++ * eng->model->cfg.vocab;
	}
	return 0;
}
