/*
 * rollup.h — finished requests pre-aggregated per minute (and, after 48 h,
 * per hour), so the dashboard, `stats` and Prometheus answer from a few
 * hundred rows instead of millions.
 *
 * A rollup row is keyed by (period, start, model, arm, source, backend,
 * outcome); a request falls in the minute of its started_at.  It holds
 * counts and sums, a mergeable log-bucketed sketch per measure (latency,
 * time to first token, prefill and decode tokens/s, generated tokens:
 * relative error at most ROLLUP_ALPHA; values <= 0 in a zero bucket), and
 * exact counts per fixed Prometheus bound (ROLLUP_LE_*), kept apart from
 * the sketches.
 *
 * Folding: db_request_finish folds its row in the same transaction
 * (requests.folded = 1); db_rollup_catch_up folds any finished row left
 * unfolded (a process that died between the two, rows written by an
 * older frontdesk, rows marked interrupted at open), each exactly once.
 * db_rollup_compact folds minute rows older than 48 h into hour rows.
 */
#ifndef FRONTDESK_ROLLUP_H
#define FRONTDESK_ROLLUP_H

#include "storage/db.h"

#define ROLLUP_ALPHA 0.01

/* Fixed bounds of the exported histograms (upper bounds, "le"), in the
 * unit Prometheus wants: seconds for times, tokens for tokens. */
enum { ROLLUP_N_LE_SECONDS = 20, ROLLUP_N_LE_TOKENS = 12 };
extern const double rollup_le_seconds[ROLLUP_N_LE_SECONDS];
extern const double rollup_le_tokens[ROLLUP_N_LE_TOKENS];

/* Fold every finished request not yet folded (in short transactions);
 * *n (may be NULL) gets how many. */
db_status db_rollup_catch_up(db *d, int64_t *n);

/* Fold minute rows that ended before now - 48 h into hour rows. */
db_status db_rollup_compact(db *d, double now);

/* ---- Reading, for Prometheus ------------------------------------------------- */

/* Everything since the store began, per (model, outcome): counts, sums and
 * the exact per-bound counts (not cumulative: le[i] counts values in
 * (bound[i-1], bound[i]], le[N] those above the last bound). */
typedef struct {
    int64_t model_id;
    char outcome[16];
    int64_t requests, gen_tokens, prompt_tokens;
    int64_t latency_n, ttft_n, tokens_n;
    double latency_sum_s, ttft_sum_s;
    int64_t latency_le[ROLLUP_N_LE_SECONDS + 1];
    int64_t ttft_le[ROLLUP_N_LE_SECONDS + 1];
    int64_t tokens_le[ROLLUP_N_LE_TOKENS + 1];
} db_rollup_total;

/* Caught up first; source "traffic" only. */
db_status db_rollup_totals(db *d, db_rollup_total **out, size_t *n);

#endif
