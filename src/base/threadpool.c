/* threadpool.c — see threadpool.h. How a job is published and claimed:
 *
 *   state (one 64-bit atomic) = generation:32 | n_tasks:16 | next:16
 *
 * The caller stores fn/ctx, zeroes `done`, then publishes a new generation with next = 0.
 * A thread claims task `next` by a compare-and-swap of the whole word, so a claim can only
 * succeed for the generation (and task count) it read: a worker that wakes late, after its job
 * ended and a new one began, fails its CAS instead of running a stale task or skipping a new
 * one. fn/ctx are read between the load and the CAS; a successful CAS on a word with
 * next < n_tasks proves the job was still open all along, so they belonged to it. The caller
 * returns when `done` (tasks finished) reaches n_tasks; it never waits for idle workers.
 *
 * Sleeping: a worker spins (pause) on the generation for SPIN_NS, then sleeps on a condvar
 * after announcing itself in n_sleeping; the caller signals only when n_sleeping > 0. Both
 * sides use seq_cst store-then-load (worker: n_sleeping++, load state; caller: store state,
 * load n_sleeping), so at least one sees the other and no wake-up is lost. */
#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

#define TASK_BITS 16
#define MAX_TASKS ((1 << TASK_BITS) - 1)
/* How long an idle worker spins before sleeping: long enough to bridge the gap between the
 * ops of one decode step (and between steps), short enough that an idle server costs nothing. */
#define SPIN_NS 300000

static inline uint64_t state_make(uint32_t gen, uint32_t n, uint32_t next)
{
	return (uint64_t)gen << 32 | (uint64_t)n << TASK_BITS | next;
}
static inline uint32_t state_gen(uint64_t s) { return (uint32_t)(s >> 32); }
static inline uint32_t state_n(uint64_t s) { return (uint32_t)(s >> TASK_BITS) & MAX_TASKS; }
static inline uint32_t state_next(uint64_t s) { return (uint32_t)s & MAX_TASKS; }

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct threadpool {
	alignas(64) _Atomic uint64_t state;
	_Atomic(threadpool_fn) fn;
	_Atomic(void *) ctx;
	alignas(64) _Atomic int done;
	alignas(64) _Atomic int n_sleeping;
	_Atomic bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n_threads;
	uint32_t gen;  /* caller-side copy of the current generation */
	bool running;  /* reentrancy guard */
	pthread_t *threads;
};

struct worker_arg {
	struct threadpool *tp;
	int index;
};

/* Claims and runs tasks of the job in snapshot s until none is left or the job changed. */
static void pool_work(struct threadpool *tp, uint64_t s, int thread)
{
	for (;;) {
		uint32_t n = state_n(s), next = state_next(s);
		if (next >= n) return;
		threadpool_fn fn = atomic_load_explicit(&tp->fn, memory_order_relaxed);
		void *ctx = atomic_load_explicit(&tp->ctx, memory_order_relaxed);
		uint32_t gen = state_gen(s);
		if (atomic_compare_exchange_weak_explicit(&tp->state, &s, s + 1, memory_order_acq_rel,
		                                          memory_order_acquire)) {
			fn(ctx, (int)next, (int)n, thread);
			atomic_fetch_add_explicit(&tp->done, 1, memory_order_release);
			s = atomic_load_explicit(&tp->state, memory_order_acquire);
		} else if (state_gen(s) != gen) {
			return; /* a newer job: the wait loop picks it up */
		}
	}
}

/* Waits until the generation differs from seen (or stop); returns the state word seen. */
static uint64_t pool_wait(struct threadpool *tp, uint32_t seen)
{
	uint64_t s;
	uint64_t t0 = 0;
	for (unsigned i = 0;; i++) {
		s = atomic_load_explicit(&tp->state, memory_order_acquire);
		if (state_gen(s) != seen) return s;
		if ((i & 255) == 255) {
			uint64_t t = now_ns();
			if (!t0) t0 = t;
			else if (t - t0 > SPIN_NS) break;
		}
		cpu_relax();
	}
	pthread_mutex_lock(&tp->mu);
	atomic_fetch_add(&tp->n_sleeping, 1);
	while (state_gen(s = atomic_load(&tp->state)) == seen) pthread_cond_wait(&tp->cv, &tp->mu);
	atomic_fetch_sub(&tp->n_sleeping, 1);
	pthread_mutex_unlock(&tp->mu);
	return s;
}

static void *pool_worker(void *p)
{
	struct worker_arg *wa = p;
	struct threadpool *tp = wa->tp;
	int index = wa->index;
	free(wa);
	uint32_t seen = 0; /* the generation at creation: nothing published can be missed */
	for (;;) {
		uint64_t s = pool_wait(tp, seen);
		if (atomic_load(&tp->stop)) break;
		seen = state_gen(s);
		pool_work(tp, s, index);
	}
	return NULL;
}

static int online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

struct threadpool *threadpool_create(int n_threads)
{
	if (n_threads <= 0) n_threads = online_cpus();
	struct threadpool *tp = xaligned_alloc(sizeof *tp);
	memset(tp, 0, sizeof *tp);
	atomic_init(&tp->state, state_make(0, 0, 0));
	atomic_init(&tp->fn, NULL);
	atomic_init(&tp->ctx, NULL);
	atomic_init(&tp->done, 0);
	atomic_init(&tp->n_sleeping, 0);
	atomic_init(&tp->stop, false);
	pthread_mutex_init(&tp->mu, NULL);
	pthread_cond_init(&tp->cv, NULL);
	tp->n_threads = n_threads;
	tp->threads = xcalloc((size_t)n_threads, sizeof *tp->threads);
	for (int i = 1; i < n_threads; i++) {
		struct worker_arg *wa = xmalloc(sizeof *wa);
		wa->tp = tp;
		wa->index = i;
		int rc = pthread_create(&tp->threads[i], NULL, pool_worker, wa);
		GLM_ASSERT(rc == 0);
	}
	return tp;
}

/* Publishes a new generation and wakes sleepers; n = 0 publishes "no work" (used by destroy). */
static uint64_t pool_publish(struct threadpool *tp, uint32_t n)
{
	tp->gen++;
	uint64_t s = state_make(tp->gen, n, 0);
	atomic_store(&tp->state, s);
	if (atomic_load(&tp->n_sleeping) > 0) {
		pthread_mutex_lock(&tp->mu);
		pthread_cond_broadcast(&tp->cv);
		pthread_mutex_unlock(&tp->mu);
	}
	return s;
}

void threadpool_destroy(struct threadpool *tp)
{
	if (!tp) return;
	GLM_ASSERT(!tp->running);
	atomic_store(&tp->stop, true);
	pool_publish(tp, 0);
	for (int i = 1; i < tp->n_threads; i++) pthread_join(tp->threads[i], NULL);
	pthread_mutex_destroy(&tp->mu);
	pthread_cond_destroy(&tp->cv);
	free(tp->threads);
	free(tp);
}

int threadpool_size(const struct threadpool *tp) { return tp->n_threads; }

/* Jobs of more than MAX_TASKS tasks run as consecutive slices through this adapter, which
 * restores the caller's task numbering. */
struct pool_slice {
	threadpool_fn fn;
	void *ctx;
	int base, total;
};

static void pool_slice_task(void *p, int task, int n_tasks, int thread)
{
	struct pool_slice *sl = p;
	sl->fn(sl->ctx, sl->base + task, sl->total, thread);
}

void threadpool_run(struct threadpool *tp, threadpool_fn fn, void *ctx, int n_tasks)
{
	if (n_tasks <= 0) return;
	if (tp->n_threads == 1 || n_tasks == 1) {
		for (int i = 0; i < n_tasks; i++) fn(ctx, i, n_tasks, 0);
		return;
	}
	if (n_tasks > MAX_TASKS) {
		struct pool_slice sl = {fn, ctx, 0, n_tasks};
		for (; sl.base < n_tasks; sl.base += MAX_TASKS) {
			int m = n_tasks - sl.base < MAX_TASKS ? n_tasks - sl.base : MAX_TASKS;
			threadpool_run(tp, pool_slice_task, &sl, m);
		}
		return;
	}
	GLM_ASSERT(!tp->running);
	tp->running = true;
	atomic_store_explicit(&tp->fn, fn, memory_order_relaxed);
	atomic_store_explicit(&tp->ctx, ctx, memory_order_relaxed);
	atomic_store_explicit(&tp->done, 0, memory_order_relaxed);
	uint64_t s = pool_publish(tp, (uint32_t)n_tasks);
	pool_work(tp, s, 0);
	/* The remaining tasks are running on workers; they are short, so spin, but yield now and
	 * then in case a worker was preempted (the machine may be oversubscribed). */
	for (unsigned i = 1; atomic_load_explicit(&tp->done, memory_order_acquire) < n_tasks; i++) {
		if (i % 4096 == 0) sched_yield();
		else cpu_relax();
	}
	tp->running = false;
}
