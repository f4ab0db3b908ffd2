/*
 * metrics.h — request rows (one per generation asked of a backend) and
 * the dashboard's aggregates over a time window.
 *
 * A request row is written when generation starts (outcome "running",
 * owned by this process) and completed when it ends.  A row whose owner
 * died is marked "interrupted" by the next db_open (see db.h).
 *
 * Aggregates count finished traffic requests (source "traffic": not
 * evaluation or arena (blind side-by-side) generations) that started inside the window.
 * Percentiles are nearest-rank: the p-th of n sorted values is the one at
 * rank ceil(p/100 · n).  Errors are the outcomes error, timeout and
 * interrupted; cancelled is not an error.
 */
#ifndef FRONTDESK_METRICS_H
#define FRONTDESK_METRICS_H

#include "storage/db.h"

typedef enum {
    DB_OUTCOME_RUNNING,
    DB_OUTCOME_OK,
    DB_OUTCOME_ERROR,
    DB_OUTCOME_CANCELLED,
    DB_OUTCOME_TIMEOUT,
    DB_OUTCOME_INTERRUPTED,
} db_outcome;

const char *db_outcome_name(db_outcome o);

/* What a finished request measured (times in milliseconds; a negative
 * value or 0 tokens/s is stored as unknown). */
typedef struct {
    db_outcome outcome;
    const char *error;      /* message for error/timeout (may be NULL) */
    int prompt_tokens, gen_tokens; /* -1: unknown                          */
    double ttft_ms, prefill_ms, decode_ms, latency_ms;
    double prefill_tps, decode_tps;
    int attempts;           /* tries against this backend (>= 1)       */
    /* The reply's confidence: the mean and the lowest log-probability of
     * its tokens (engine/generate.h; a server's "logprobs"), when
     * has_logprob.  Not part of the request row: store_reply_end (app/)
     * puts it on the reply message (db_reply_confidence, chats.h). */
    double logprob_mean, logprob_min;
    bool has_logprob;
} db_request_result;

/* Start a request row: model, backend ("local", "remote"), the
 * conversation and reply it serves (0 when none), the time it waited in
 * the queue. */
db_status db_request_begin(db *d, int64_t model_id, const char *backend, int64_t conv, int64_t message_id,
                           double queue_ms, int64_t *id);
/* The time it waited for a slot, when known only once it got one (serve). */
db_status db_request_set_queue(db *d, int64_t id, double queue_ms);
/* Where a running request comes from: "traffic" (the default), "eval" or
 * "arena" (generations for evaluation or blind review, left out of traffic
 * figures).  Set before it finishes: the figures are folded then. */
db_status db_request_set_source(db *d, int64_t id, const char *source);
/* Complete it with what it measured. */
db_status db_request_finish(db *d, int64_t id, const db_request_result *r);

/* Retention: delete the finished request rows that started before
 * `before`, folded into the rollups first so every figure over that time
 * stays (running rows stay too).  Refused with DB_INVALID, nothing
 * deleted, when any of them belongs to a model in keep[0..n_keep) (the
 * versions of a running canary, whose comparison reads raw rows);
 * *deleted (may be NULL) gets how many went. */
db_status db_requests_purge(db *d, double before, const int64_t *keep, size_t n_keep, int64_t *deleted);
/* Whether message_id is a generated reply whose request rows were purged
 * (it has a model, no request rows, and is older than every request row
 * left while the rollups reach back to it). */
db_status db_request_figures_purged(db *d, int64_t message_id, bool *purged);

/* A request's figures, as show needs them. */
typedef struct {
    int64_t id, model_id;
    char *backend, *outcome, *error;
    double started_at, finished_at, queue_ms;
    int prompt_tokens, gen_tokens, attempts; /* tokens -1: unknown */
    double ttft_ms, prefill_ms, decode_ms, latency_ms, prefill_tps, decode_tps; /* < 0: unknown */
} db_request;

/* The requests that produced message_id, oldest first. */
db_status db_requests_for_message(db *d, int64_t message_id, db_request **out, size_t *n);
void db_requests_free(db_request *r, size_t n);

/* ---- Aggregates ------------------------------------------------------------ */

typedef enum { DB_WIN_1M, DB_WIN_5M, DB_WIN_1H, DB_WIN_24H, DB_WIN_7D, DB_WIN_30D, DB_WIN_ALL } db_window;

/* "1m" "5m" "1h" "24h" "7d" "30d" "all" <-> db_window; false for an unknown name. */
bool db_window_parse(const char *s, db_window *w);
const char *db_window_name(db_window w);
/* Length in seconds (0 for all). */
double db_window_seconds(db_window w);

typedef struct {
    bool valid; /* false when there were no values */
    double p50, p90, p95, p99;
} db_pcts;

typedef struct {
    double start; /* the minute's start, epoch seconds */
    int64_t requests, errors, tokens;
    db_pcts latency_ms, ttft_ms;
    double decode_tps; /* mean, 0 when none */
} db_minute;

typedef struct {
    int64_t model_id;
    int64_t requests, errors;
    db_pcts latency_ms, ttft_ms;
    double decode_tps;   /* mean, 0 when none                              */
} db_model_stats;

typedef struct {
    double from, to;     /* the window: started_at in [from, to]           */
    int64_t requests;    /* finished requests                              */
    int64_t errors, cancelled, running;
    double error_rate;   /* errors / requests, 0 when none                 */
    double requests_per_min;
    db_pcts latency_ms, ttft_ms;
    double prefill_tps, decode_tps; /* means over requests that have them  */
    int64_t tokens_generated;
    db_minute *series;   /* one per minute, oldest first (at most 1440)    */
    size_t n_series;
    db_model_stats *models; /* per model, most requests first              */
    size_t n_models;
} db_stats;

/* Aggregates for window w ending at `now` (epoch seconds), over the models
 * in model_ids[0..n_models) or all models when n_models is 0.
 *
 * They come from the rollups (rollup.h), caught up first: figures are per
 * whole minute (the minutes whose start lies in [from, to]; beyond 48 h,
 * per whole hour, and those hours count in the totals but not in the
 * series), and percentiles are within a relative ROLLUP_ALPHA (1%) of the
 * nearest-rank value.  For "all", from is the first minute with figures.
 * `running` is counted from the request rows. */
db_status db_stats_compute(db *d, db_window w, double now, const int64_t *model_ids, size_t n_models,
                           db_stats *out);
/* The same from the raw request rows (started_at in [from, to] exactly,
 * exact percentiles): O(rows in the window), for `stats --exact` and to
 * check the rollups against.  Purged rows (db_requests_purge) are gone. */
db_status db_stats_compute_exact(db *d, db_window w, double now, const int64_t *model_ids, size_t n_models,
                                 db_stats *out);
void db_stats_free(db_stats *s);

/* The latest failed requests (error, timeout, interrupted), newest first. */
typedef struct {
    double at;
    int64_t model_id;
    char *outcome, *error;
} db_error_row;
db_status db_recent_errors(db *d, int limit, db_error_row **out, size_t *n);
void db_error_rows_free(db_error_row *r, size_t n);

/* Of the thumbs given to replies created since `from`, the fraction that
 * are down, and how many thumbs that is over. */
db_status db_thumbs_down_rate(db *d, double from, double *rate, int64_t *n);

/* Nearest-rank percentiles of v[0..n) (reordered in place); O(n). */
db_pcts db_percentiles(double *v, size_t n);

#endif
