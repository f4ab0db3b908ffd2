/*
 * dashfeed.h — the dashboard's figures, computed once a second on a thread
 * of their own (with its own database connection), so that a slow
 * aggregate over a million requests never stalls typing.  The same thread
 * checks alerts for this process (dashfeed_alerts), so a slow or hanging
 * alert command never stalls it either.
 */
#ifndef FRONTDESK_DASHFEED_H
#define FRONTDESK_DASHFEED_H

#include "app/config.h"
#include "storage/alerts.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/versions.h"

typedef struct {
    db_window window;
    db_stats stats;           /* the chosen window                         */
    db_stats hour;            /* the last hour, for the per-minute series  */
    db_model *models;         /* every model, for names                    */
    size_t n_models;
    db_error_row *errors;     /* the latest failures                        */
    size_t n_errors;
    double thumbs_down_rate;  /* over replies written in the window         */
    int64_t thumbs_n;
    db_model_confidence *confidence; /* per version: replies' confidence in the window */
    size_t n_confidence;
    db_alert_episode *episodes; /* the latest alert episodes, newest first */
    size_t n_episodes;
    double at;                /* when computed (epoch seconds)              */
    char error[512];          /* non-empty: computing failed                */
} dash_snapshot;

typedef struct dashfeed dashfeed;

dashfeed *dashfeed_start(const char *db_path);
void dashfeed_stop(dashfeed *f); /* accepts NULL */
/* Compute only while the dashboard is shown. */
void dashfeed_active(dashfeed *f, bool active);
void dashfeed_set_window(dashfeed *f, db_window w);
/* Check alerts (app/alerts.h alerts_check) on the feed's thread, once a
 * second whether or not the dashboard is shown; cfg must outlive the feed
 * and not change.  NULL: no checking (the default). */
void dashfeed_alerts(dashfeed *f, const config *cfg);
/* What checking alerts reported since the last call (a command that
 * failed, an alert this process saw start or end): true with the latest
 * line in buf (*bad: a failure; a failure is kept over later news). */
bool dashfeed_take_notice(dashfeed *f, char *buf, size_t size, bool *bad);
/* Take the newest snapshot if there is one newer than the last taken:
 * true with *out filled (free with dash_snapshot_free). */
bool dashfeed_take(dashfeed *f, dash_snapshot *out);
void dash_snapshot_free(dash_snapshot *s);
/* One refresh's figures, as the feed's thread computes them: window w
 * (and the last hour) on d, replies below low_conf counted as low
 * confidence.  On failure s->error says why.  (tools/bench_store times it.) */
void dash_snapshot_compute(db *d, db_window w, double low_conf, dash_snapshot *s);

#endif
