/*
 * heartbeat.c — the process's heartbeat thread (see heartbeat.h).
 *
 * State is one static block under a mutex: the replies counted, a kick
 * (stamp now), the thread's connection.  The thread stamps, then waits
 * for the period, a kick or the stop; with nothing counted it waits for a
 * kick alone, so an idle process neither wakes nor writes.  A child of
 * fork() has no thread and must not share its parent's connection: it
 * starts afresh on its first hold.
 */
#include "app/heartbeat.h"

#include "util/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool running, quit, kick;
    pid_t pid;         /* the process that started the thread */
    pthread_t thread;
    char *path;        /* the store (file or URL) the thread connects to */
    double period;     /* seconds between stamps */
    db *conn;          /* the thread's own; NULL until it opens */
    int holds;
    int64_t stamps;
} hb = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The condition variable waits by the monotonic clock: a wall clock set
 * back must not hold up a beat. */
static pthread_once_t cv_once = PTHREAD_ONCE_INIT;

static void cv_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&hb.cv, &a);
    pthread_condattr_destroy(&a);
}

/* One stamp, outside the lock: the connection is the thread's alone. */
static bool beat(db **conn, const char *path)
{
    if (!*conn) {
        char err[512];
        if (db_open(conn, path, err, sizeof err) != DB_OK)
            return false; /* the server away: again at the next beat */
        db_set_busy_timeout(*conn, 1000); /* a stamp missed is made up by the next */
    }
    return db_heartbeat(*conn) == DB_OK;
}

static void wait_period(double period)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    double s = (double)until.tv_sec + until.tv_nsec * 1e-9 + period;
    until.tv_sec = (time_t)s;
    until.tv_nsec = (long)((s - (double)until.tv_sec) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&hb.cv, &hb.mu, &until);
}

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&hb.mu);
    while (!hb.quit) {
        if (!hb.holds && !hb.kick) {
            pthread_cond_wait(&hb.cv, &hb.mu);
            continue;
        }
        hb.kick = false;
        db *conn = hb.conn;
        const char *path = hb.path;
        pthread_mutex_unlock(&hb.mu);
        bool ok = beat(&conn, path);
        pthread_mutex_lock(&hb.mu);
        hb.conn = conn;
        if (ok)
            hb.stamps++;
        if (hb.quit || hb.kick || !hb.holds)
            continue;
        wait_period(hb.period);
    }
    pthread_mutex_unlock(&hb.mu);
    return NULL;
}

bool heartbeat_hold(db *d)
{
    if (!db_is_pg_url(db_path(d)))
        return false;
    pthread_once(&cv_once, cv_init);
    pthread_mutex_lock(&hb.mu);
    if (hb.running && hb.pid != getpid()) { /* a child of fork(): the parent's thread is not here */
        hb.running = false;
        hb.conn = NULL; /* the parent's connection: not ours to use or close */
        hb.holds = 0;
        hb.kick = false;
    }
    if (!hb.running) {
        free(hb.path);
        hb.path = xstrdup(db_path(d));
        hb.period = db_heartbeat_s(d) > 0 ? db_heartbeat_s(d) : 5;
        hb.quit = false;
        hb.pid = getpid();
        hb.running = pthread_create(&hb.thread, NULL, thread_main, NULL) == 0;
    }
    hb.holds++;
    hb.kick = true;
    pthread_cond_signal(&hb.cv);
    pthread_mutex_unlock(&hb.mu);
    return true;
}

void heartbeat_release(void)
{
    pthread_mutex_lock(&hb.mu);
    if (hb.holds > 0)
        hb.holds--;
    pthread_mutex_unlock(&hb.mu);
}

void heartbeat_stop(void)
{
    pthread_mutex_lock(&hb.mu);
    if (!hb.running || hb.pid != getpid()) {
        pthread_mutex_unlock(&hb.mu);
        return;
    }
    hb.quit = true;
    pthread_cond_signal(&hb.cv);
    pthread_mutex_unlock(&hb.mu);
    pthread_join(hb.thread, NULL);
    pthread_mutex_lock(&hb.mu);
    db_close(hb.conn);
    hb.conn = NULL;
    free(hb.path);
    hb.path = NULL;
    hb.running = hb.quit = hb.kick = false;
    hb.holds = 0;
    pthread_mutex_unlock(&hb.mu);
}

int64_t heartbeat_stamps(void)
{
    pthread_mutex_lock(&hb.mu);
    int64_t n = hb.stamps;
    pthread_mutex_unlock(&hb.mu);
    return n;
}

int heartbeat_holds(void)
{
    pthread_mutex_lock(&hb.mu);
    int n = hb.holds;
    pthread_mutex_unlock(&hb.mu);
    return n;
}
