/*
 * alerts.h — which alerts fire, the episodes they open and close in the
 * store, and the command of [alerts] that tells someone.
 *
 * The alert set:
 *   latency_p95       p95 latency above [thresholds] latency_p95_ms
 *   ttft_p95          p95 time to first token above ttft_p95_ms
 *   error_rate        error rate above error_rate, over at least
 *                     error_min_sample requests
 *   thumbs_down_rate  thumbs-down rate above thumbs_down_rate, over at
 *                     least thumbs_min_sample thumbs
 *   decode_tps        mean decode tokens/s below decode_tps_min (0: off)
 *   guard             the model-operations guard stopped a canary (a
 *                     "guard-stop" in the deployment history) inside the
 *                     window; the episode starts at the stop
 *
 * alerts_decide is the one place a threshold is compared: the dashboard
 * (over the window it shows) and alerts_check (over [alerts] window)
 * both call it.  alerts_check is what every watching process runs — the
 * dashboard's feed thread, `frontdesk serve` (alerts_watch_start), and
 * `frontdesk stats --check`: it decides over [alerts] window, opens and
 * closes episodes in the store (storage/alerts.h decides which process
 * acts), and for each change this process made runs [alerts] command once,
 * with the alert as JSON on standard input:
 *
 *   {"name": "error_rate", "state": "firing" | "resolved",
 *    "started_at": "2026-11-24T16:18:01.123Z", "ended_at": null | "...",
 *    "value": 0.5, "threshold": 0.05, "window": "5m",
 *    "detail": {...the figures when the episode opened...}}
 *
 * value is the figure at the time of the event (null when there is none:
 * no latencies in the window); for guard it is the number of stops in the
 * window and the threshold 0.
 *
 * The command runs under /bin/sh -c in a process group of its own, its
 * standard output discarded; one that has not exited after [alerts]
 * command_timeout_s is killed (the whole group).  A failure is reported
 * through the caller's log function and checking goes on.  alerts_check
 * therefore takes up to the timeout per change: call it off any UI thread
 * and outside any lock others wait on.
 */
#ifndef FRONTDESK_ALERTS_H
#define FRONTDESK_ALERTS_H

#include "app/config.h"
#include "storage/db.h"
#include "storage/metrics.h"

#include <stdbool.h>

typedef enum {
    ALERT_LATENCY,
    ALERT_TTFT,
    ALERT_ERRORS,
    ALERT_THUMBS,
    ALERT_DECODE,
    ALERT_GUARD,
    ALERT_COUNT,
} alert_kind;

/* The threshold alerts are those before ALERT_GUARD. */
enum { ALERT_N_THRESHOLDS = ALERT_GUARD };

/* "latency_p95", "ttft_p95", "error_rate", "thumbs_down_rate",
 * "decode_tps", "guard": the episodes' names. */
const char *alert_name(alert_kind k);

typedef struct {
    bool firing;
    double value;      /* the figure (NAN: none in the window)            */
    double threshold;
    char text[200];    /* for a person, e.g. "p95 latency 6000 ms > 5000 ms" */
} alert_state;

/* The threshold alerts over one window's figures: st (db_stats_compute)
 * and the thumbs-down rate of replies in the same window over thumbs_n
 * thumbs.  Fills out[0..ALERT_N_THRESHOLDS); returns how many fire. */
int alerts_decide(const config *c, const db_stats *st, double thumbs_down_rate, int64_t thumbs_n,
                  alert_state out[ALERT_N_THRESHOLDS]);

/* ---- Checking: decide, record, tell ------------------------------------------------ */

/* A line for the log: bad for failures (a command that failed, timed
 * out), else an episode this process opened or closed. */
typedef void (*alerts_log_fn)(void *ud, bool bad, const char *msg);

typedef struct {
    const config *cfg;     /* thresholds, [alerts]                        */
    alerts_log_fn log;     /* may be NULL                                 */
    void *log_ud;
    bool quiet;            /* the command's standard error discarded too (a
                            * terminal UI owns the screen)                 */
} alerts_opts;

typedef struct {
    double at;                   /* when decided (epoch seconds)          */
    db_window window;
    alert_state a[ALERT_COUNT];  /* by alert_kind                         */
    int n_firing;
} alerts_result;

/* Decide every alert over [alerts] window ending at `now`, open episodes
 * for those firing and close those that are not, running the command for
 * each this process opened or closed.  DB_OK with *res filled; a store
 * failure returns its status (db_errmsg says what) after doing what it
 * could. */
db_status alerts_check(db *d, const alerts_opts *o, double now, alerts_result *res);

/* Run `command` with /bin/sh -c, `input` on its standard input; wait at
 * most timeout_s seconds, then kill its process group.  0 when it exited
 * with status 0; else -1 and err says how it failed ("exited with status
 * 2", "timed out after 1 s (killed)"). */
int alerts_run_command(const char *command, const char *input, double timeout_s, bool quiet, char *err,
                       size_t errlen);

/* ---- A watcher thread (frontdesk serve) --------------------------------------------- */

/* alerts_check once a second on a thread of its own, with its own
 * connection to the database at db_path; log lines go to stderr after
 * `who` ("frontdesk serve").  cfg must outlive it.  NULL with err when the
 * thread cannot start. */
typedef struct alerts_watch alerts_watch;
alerts_watch *alerts_watch_start(const config *cfg, const char *db_path, const char *who, char *err,
                                 size_t errlen);
/* Stop it (waits for a command in progress, at most its timeout); accepts
 * NULL. */
void alerts_watch_stop(alerts_watch *w);

#endif
