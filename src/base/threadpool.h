/* threadpool.h — a fixed set of worker threads that run "n_tasks independent tasks" jobs with
 * the calling thread taking part. Built for the CPU backend, whose decode step issues hundreds of
 * small jobs per token: workers spin briefly on the job word before sleeping on a condvar, so a
 * job issued soon after the previous one starts without a wake-up. Owns only its threads.
 * Thread rules: one thread at a time calls threadpool_run (not reentrant: a task must not call
 * threadpool_run on the same pool); tasks of one run execute concurrently on up to
 * threadpool_size() threads, each task exactly once; threadpool_run returns when all finished. */
#pragma once

struct threadpool;

/* task in [0, n_tasks); thread in [0, threadpool_size()) — 0 is the calling thread — so a task
 * can index per-thread scratch. */
typedef void (*threadpool_fn)(void *ctx, int task, int n_tasks, int thread);

/* n_threads counts the caller: n_threads - 1 workers are started (n_threads <= 0: one per
 * online CPU). Never fails (aborts if the OS refuses to start threads). */
struct threadpool *threadpool_create(int n_threads);
void threadpool_destroy(struct threadpool *tp);
int threadpool_size(const struct threadpool *tp);
/* Runs fn(ctx, i, n_tasks, thread) for every i in [0, n_tasks) and returns when all returned.
 * Tasks are handed out in increasing order by an atomic counter. */
void threadpool_run(struct threadpool *tp, threadpool_fn fn, void *ctx, int n_tasks);
