/*
 * dashfeed.c — the dashboard's refresh thread (see dashfeed.h): wakes every
 * second (or at once when the window changes), computes a snapshot, and
 * swaps it in under a mutex for the UI thread to take.
 */
#include "app/dashfeed.h"

#include "app/alerts.h"
#include "app/store.h"

#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Without a configuration ([deploy] low_confidence's default). */
#define DASHFEED_LOW_CONFIDENCE (-2.0)

struct dashfeed {
    char *db_path;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    bool quit, active, fresh, kick;
    db_window window;
    dash_snapshot snap;
    const config *alert_cfg;
    char notice[300];
    bool notice_bad;
};

void dash_snapshot_free(dash_snapshot *s)
{
    db_stats_free(&s->stats);
    db_stats_free(&s->hour);
    db_models_free(s->models, s->n_models);
    db_error_rows_free(s->errors, s->n_errors);
    db_alert_episodes_free(s->episodes, s->n_episodes);
    free(s->confidence);
    memset(s, 0, sizeof *s);
}

void dash_snapshot_compute(db *d, db_window w, double low_conf, dash_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->window = w;
    s->at = db_now();
    if (!d) {
        snprintf(s->error, sizeof s->error, "the database is not open");
        return;
    }
    db_status st = db_stats_compute(d, w, s->at, NULL, 0, &s->stats);
    if (st == DB_OK)
        st = db_stats_compute(d, DB_WIN_1H, s->at, NULL, 0, &s->hour);
    if (st == DB_OK)
        st = db_models_list(d, &s->models, &s->n_models);
    if (st == DB_OK)
        st = db_recent_errors(d, 20, &s->errors, &s->n_errors);
    if (st == DB_OK)
        st = db_thumbs_down_rate(d, s->stats.from, &s->thumbs_down_rate, &s->thumbs_n);
    if (st == DB_OK)
        st = db_alert_recent(d, 8, &s->episodes, &s->n_episodes);
    if (st == DB_OK)
        st = db_confidence_by_model(d, s->stats.from, s->at, low_conf, &s->confidence, &s->n_confidence);
    if (st != DB_OK)
        snprintf(s->error, sizeof s->error, "%s", db_errmsg(d));
}

/* alerts_check's log: kept for the UI thread (dashfeed_take_notice). */
static void alert_notice(void *ud, bool bad, const char *msg)
{
    dashfeed *f = ud;
    pthread_mutex_lock(&f->mu);
    if (bad || !f->notice_bad || !f->notice[0]) {
        size_t n = strlen(msg) < sizeof f->notice ? strlen(msg) : sizeof f->notice - 1;
        memcpy(f->notice, msg, n);
        f->notice[n] = 0;
        f->notice_bad = bad;
    }
    pthread_mutex_unlock(&f->mu);
}

/* Under mu on entry and exit; checks alerts at most once a second. */
static void check_alerts(dashfeed *f, db *d, double *last)
{
    const config *cfg = f->alert_cfg;
    if (!cfg || !d || util_now() - *last < 0.9)
        return;
    *last = util_now();
    pthread_mutex_unlock(&f->mu);
    alerts_opts o = {.cfg = cfg, .log = alert_notice, .log_ud = f, .quiet = true};
    alerts_result r;
    if (alerts_check(d, &o, db_now(), &r) != DB_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "alerts: %s", db_errmsg(d));
        alert_notice(f, true, msg);
    }
    pthread_mutex_lock(&f->mu);
}

static void *thread_main(void *arg)
{
    dashfeed *f = arg;
    char err[512];
    db *d = NULL;
    store_db_open(&d, f->db_path, err, sizeof err);
    double last_check = -1e9;
    pthread_mutex_lock(&f->mu);
    while (!f->quit) {
        check_alerts(f, d, &last_check);
        if (f->quit)
            break;
        if (f->active) {
            db_window w = f->window;
            double low_conf = f->alert_cfg ? f->alert_cfg->deploy_low_confidence : DASHFEED_LOW_CONFIDENCE;
            f->kick = false;
            pthread_mutex_unlock(&f->mu);
            dash_snapshot s;
            dash_snapshot_compute(d, w, low_conf, &s);
            if (!d)
                snprintf(s.error, sizeof s.error, "%s", err);
            pthread_mutex_lock(&f->mu);
            dash_snapshot_free(&f->snap);
            f->snap = s;
            f->fresh = true;
        }
        if (f->quit || (f->kick && f->active))
            continue;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&f->cv, &f->mu, &until);
    }
    pthread_mutex_unlock(&f->mu);
    db_close(d);
    return NULL;
}

dashfeed *dashfeed_start(const char *db_path)
{
    dashfeed *f = xcalloc(1, sizeof *f);
    f->db_path = xstrdup(db_path);
    f->window = DB_WIN_5M;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->thread, NULL, thread_main, f) != 0) {
        free(f->db_path);
        free(f);
        return NULL;
    }
    return f;
}

void dashfeed_stop(dashfeed *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->quit = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    dash_snapshot_free(&f->snap);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f->db_path);
    free(f);
}

void dashfeed_active(dashfeed *f, bool active)
{
    pthread_mutex_lock(&f->mu);
    if (active && !f->active) {
        f->kick = true;
        pthread_cond_signal(&f->cv);
    }
    f->active = active;
    pthread_mutex_unlock(&f->mu);
}

void dashfeed_set_window(dashfeed *f, db_window w)
{
    pthread_mutex_lock(&f->mu);
    f->window = w;
    f->kick = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void dashfeed_alerts(dashfeed *f, const config *cfg)
{
    pthread_mutex_lock(&f->mu);
    f->alert_cfg = cfg;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

bool dashfeed_take_notice(dashfeed *f, char *buf, size_t size, bool *bad)
{
    pthread_mutex_lock(&f->mu);
    bool have = f->notice[0] != 0;
    if (have) {
        snprintf(buf, size, "%s", f->notice);
        *bad = f->notice_bad;
        f->notice[0] = 0;
        f->notice_bad = false;
    }
    pthread_mutex_unlock(&f->mu);
    return have;
}

bool dashfeed_take(dashfeed *f, dash_snapshot *out)
{
    pthread_mutex_lock(&f->mu);
    bool fresh = f->fresh;
    if (fresh) {
        *out = f->snap;
        memset(&f->snap, 0, sizeof f->snap);
        f->fresh = false;
    }
    pthread_mutex_unlock(&f->mu);
    return fresh;
}
