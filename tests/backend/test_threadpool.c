/* Unit tests for base/threadpool: every task runs exactly once per run, thread indices stay in
 * range, jobs larger than one slice keep their numbering, pools survive idle periods (workers
 * asleep) and back-to-back tiny jobs (workers spinning), and create/destroy cycles do not hang. */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "base/base.h"
#include "base/threadpool.h"
#include "../test_util.h"

struct count_job {
	_Atomic int *hits;
	_Atomic int bad_args;
	_Atomic int max_thread;
	int n_threads;
	int expect_n;
};

static void count_task(void *ctx, int task, int n_tasks, int thread)
{
	struct count_job *j = ctx;
	if (task < 0 || task >= n_tasks || n_tasks != j->expect_n || thread < 0 || thread >= j->n_threads)
		atomic_fetch_add(&j->bad_args, 1);
	else atomic_fetch_add(&j->hits[task], 1);
	int m = atomic_load(&j->max_thread);
	while (thread > m && !atomic_compare_exchange_weak(&j->max_thread, &m, thread)) {}
}

/* Runs one job of n tasks and returns whether every task ran exactly once. */
static int run_once(struct threadpool *tp, struct count_job *j, int n)
{
	for (int i = 0; i < n; i++) atomic_store(&j->hits[i], 0);
	j->expect_n = n;
	threadpool_run(tp, count_task, j, n);
	int ok = 1;
	for (int i = 0; i < n; i++) ok &= atomic_load(&j->hits[i]) == 1;
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* A task slow enough that other threads must join in. */
static void slow_task(void *ctx, int task, int n_tasks, int thread)
{
	_Atomic int *seen = ctx;
	volatile double x = 0;
	for (int i = 0; i < 200000; i++) x += i;
	atomic_fetch_or(seen, 1 << thread);
}

int main(void)
{
	enum { MAX_N = 70000 }; /* above one slice (65535) */
	struct count_job j = {0};
	j.hits = calloc(MAX_N, sizeof *j.hits);

	for (int nt = 1; nt <= 4; nt++) {
		struct threadpool *tp = threadpool_create(nt);
		CHECK(threadpool_size(tp) == nt);
		j.n_threads = nt;
		atomic_store(&j.bad_args, 0);
		atomic_store(&j.max_thread, 0);
		int ok = 1;
		/* many small back-to-back jobs: workers stay in their spin phase */
		for (int it = 0; it < 20000; it++) ok &= run_once(tp, &j, 1 + it % 37);
		CHECK_MSG(ok, "threads=%d: back-to-back jobs ran some task not exactly once", nt);
		/* large and sliced jobs */
		CHECK(run_once(tp, &j, 1000));
		CHECK(run_once(tp, &j, MAX_N));
		/* after idling, workers sleep on the condvar and must wake for the next job */
		ok = 1;
		for (int it = 0; it < 5; it++) {
			sleep_ms(it == 0 ? 5 : 1);
			ok &= run_once(tp, &j, 64);
		}
		CHECK_MSG(ok, "threads=%d: jobs after idle periods", nt);
		CHECK(atomic_load(&j.bad_args) == 0);
		CHECK(atomic_load(&j.max_thread) < nt);
		threadpool_run(tp, count_task, &j, 0); /* no tasks: returns at once */
		if (nt > 1) {
			/* with slow tasks every worker takes part */
			_Atomic int seen = 0;
			threadpool_run(tp, slow_task, &seen, 64 * nt);
			CHECK_MSG(atomic_load(&seen) == (1 << nt) - 1, "threads=%d: only mask %x took part", nt, atomic_load(&seen));
		}
		threadpool_destroy(tp);
	}

	/* create/destroy cycles, with and without a job in between, while workers spin or sleep */
	int ok = 1;
	for (int it = 0; it < 200; it++) {
		struct threadpool *tp = threadpool_create(3);
		j.n_threads = 3;
		if (it % 2) ok &= run_once(tp, &j, 10);
		if (it % 50 == 0) sleep_ms(2);
		threadpool_destroy(tp);
	}
	CHECK(ok);

	struct threadpool *tp = threadpool_create(0);
	CHECK(threadpool_size(tp) >= 1);
	threadpool_destroy(tp);
	threadpool_destroy(NULL);
	free(j.hits);
	TEST_END();
}
