/*
 * pool.h — a small fixed thread pool for splitting one job across cores.
 *
 * pool_run(p, fn, ctx) calls fn(ctx, i, n) once for every worker index
 * i in [0, n) — the calling thread runs index 0 — and returns when all
 * have finished.  Right after a job, workers watch for the next one for a
 * tenth of a millisecond (a decoded token is hundreds of products in quick
 * succession), then sleep on a condition variable: an idle pool takes no
 * CPU, because the cores are shared with the UI and the database.
 * One pool_run at a time per pool (the engine calls it from one thread).
 */
#ifndef FRONTDESK_POOL_H
#define FRONTDESK_POOL_H

typedef struct pool pool;

typedef void (*pool_fn)(void *ctx, int i, int n);

/* A pool of n_threads threads in all (the caller counts as one); NULL on
 * failure to start threads. n_threads < 1 is treated as 1. */
pool *pool_new(int n_threads);
void pool_free(pool *p); /* accepts NULL */
int pool_size(const pool *p);
void pool_run(pool *p, pool_fn fn, void *ctx);

/* Split [0, total) into n nearly equal parts; part i is [*lo, *hi). */
void pool_split(long total, int i, int n, long *lo, long *hi);

#endif
