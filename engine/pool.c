/*
 * pool.c — see pool.h.
 *
 * A job is posted by bumping `generation`; each worker runs its share and
 * decrements `pending`; the caller returns when `pending` reaches zero.
 * Both sides first watch those counters for a short while (POOL_SPIN_NS)
 * and only then sleep on a condition variable.  A decoded token is a few
 * hundred small products in a row, a few microseconds apart: a futex
 * wake-up for each would cost more than the product.  Between tokens, and
 * whenever the engine is idle, every worker is asleep.
 *
 * Sleeping uses the classic store-then-check pairing: a sleeper announces
 * itself (`sleepers`, `caller_sleeping`) and then re-checks the counter
 * under the mutex; a poster changes the counter and then looks for
 * sleepers, waking them under the same mutex.  With sequentially
 * consistent atomics at least one side sees the other, so no wake-up is
 * lost.
 */
#include "engine/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_SPIN_NS 100000 /* how long to watch before sleeping: 0.1 ms */

struct pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work; /* workers sleep here for the next generation */
    pthread_cond_t done; /* the caller sleeps here for pending == 0    */
    atomic_ulong generation;
    atomic_int pending;
    atomic_int sleepers;        /* workers in (or entering) cond_wait    */
    atomic_bool caller_sleeping;
    atomic_bool stop;
    pool_fn fn; /* written before generation is bumped */
    void *ctx;
};

typedef struct {
    pool *p;
    int index;
} worker_arg;

static long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static bool job_posted(pool *p, unsigned long seen)
{
    return atomic_load(&p->generation) != seen || atomic_load(&p->stop);
}

static bool job_done(pool *p, unsigned long unused)
{
    (void)unused;
    return atomic_load(&p->pending) == 0;
}

/* Watch for ready(p, arg) for up to POOL_SPIN_NS; false if it never came. */
static bool spin_until(bool (*ready)(pool *, unsigned long), pool *p, unsigned long arg)
{
    long start = 0;
    for (unsigned i = 1;; i++) {
        if (ready(p, arg))
            return true;
        cpu_relax();
        if (i % 256 == 0) {
            long t = now_ns();
            if (!start)
                start = t;
            else if (t - start > POOL_SPIN_NS)
                return false;
        }
    }
}

static void *worker(void *arg)
{
    worker_arg *wa = arg;
    pool *p = wa->p;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(job_posted, p, seen)) {
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen)
                pthread_cond_wait(&p->work, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            break;
        seen = atomic_load(&p->generation);
        p->fn(p->ctx, index, p->n);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

pool *pool_new(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa)
            *wa = (worker_arg){p, i};
        if (!wa || pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i; /* only threads 1..i-1 exist */
            pool_free(p);
            return NULL;
        }
    }
    return p;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_size(const pool *p) { return p ? p->n : 1; }

void pool_run(pool *p, pool_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
    }

    fn(ctx, 0, p->n);

    if (!spin_until(job_done, p, 0)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_sleeping, true);
        while (atomic_load(&p->pending) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_sleeping, false);
        pthread_mutex_unlock(&p->mu);
    }
}

void pool_split(long total, int i, int n, long *lo, long *hi)
{
    long base = total / n, rem = total % n;
    *lo = i * base + (i < rem ? i : rem);
    *hi = *lo + base + (i < rem ? 1 : 0);
}
