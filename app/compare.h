/*
 * compare.h — two model versions side by side over a window, with a
 * verdict per metric, and the canary guard that acts on the same figures.
 *
 * The unit is the reply (storage/versions.h).  Tested metrics, each at
 * α = 0.05 two-sided with Holm's correction across those tested:
 *   thumbs-up rate     Fisher exact on up/down replies (Wilson intervals shown)
 *   score (1–5)        Mann–Whitney U
 *   error rate         Fisher exact on errors/requests
 *   ms per token, time to first token, decode tokens/s
 *                      Mann–Whitney U, worded "typically faster/slower";
 *                      p50 and p95 differences get bootstrap 95% intervals
 *                      (seeded) and no verdict of their own
 * A metric whose sample is below min_sample in either arm gets "not enough
 * data" instead of a verdict and is left out of Holm's family.
 */
#ifndef FRONTDESK_COMPARE_H
#define FRONTDESK_COMPARE_H

#include "app/config.h"
#include "storage/db.h"
#include "storage/metrics.h"

#include <jansson.h>
#include <stdio.h>

/* One version's figures over the window. */
typedef struct {
    int64_t model_id;
    char name[160];
    int64_t replies, requests, errors;
    int64_t thumbed, up, down;
    double up_rate, up_lo, up_hi;      /* Wilson 95%; NAN when nothing thumbed */
    int64_t n_scores;
    double score_mean, score_median;   /* NAN when none                        */
    double latency_p95_ms;             /* NAN when none                        */
    double ms_per_token_p50, ttft_p50_ms, decode_tps_median; /* NAN when none   */
    int64_t with_confidence, low_confidence;
    double first_used, last_used;      /* 0 when no traffic                    */
} compare_arm;

typedef enum {
    VERDICT_NOT_ENOUGH,   /* below the minimum sample                          */
    VERDICT_NO_EVIDENCE,  /* tested, not significant after Holm               */
    VERDICT_BETTER,       /* b better than a                                   */
    VERDICT_WORSE,        /* b worse than a                                    */
} compare_verdict;

typedef struct {
    const char *metric;   /* "thumbs-up rate", "score", "error rate", "ms per token", ... */
    int64_t n_a, n_b;     /* sample sizes                                      */
    double p, p_holm;     /* NAN when not tested                               */
    compare_verdict verdict;
    char words[96];       /* "better", "worse", "typically faster", "no evidence", "not enough data" */
} compare_test;

/* A bootstrap interval of a percentile difference (b − a). */
typedef struct {
    const char *what;     /* "ms per token p50", ... */
    double est, lo, hi;   /* NAN when a sample is empty */
} compare_interval;

enum { COMPARE_TESTS = 6, COMPARE_INTERVALS = 4 };

typedef struct {
    char window[8];
    double from, to;
    int min_sample;
    compare_arm a, b;     /* a: the baseline (stable), b: the challenger (candidate) */
    compare_test tests[COMPARE_TESTS];
    compare_interval intervals[COMPARE_INTERVALS];
    double more_ratings;  /* per arm, to see a 10-point thumbs difference at 80% power; 0 when enough */
} compare_result;

/* One version's figures (for the versions list). */
int compare_arm_get(db *d, int64_t model_id, double from, double to, const config *cfg, compare_arm *out,
                    char *err, size_t errlen);

/* Compare version b against a over window w ending now.  0, or -1 with err. */
int compare_versions(db *d, int64_t a, int64_t b, db_window w, double now, const config *cfg,
                     compare_result *out, char *err, size_t errlen);

const char *compare_verdict_name(compare_verdict v);
json_t *compare_json(const compare_result *r);
json_t *compare_arm_json(const compare_arm *a);
void compare_print(FILE *f, const compare_result *r);

/* ---- The guard ------------------------------------------------------------------ */

/* With [deploy] guard on and a canary running: the counts since the canary
 * started through the guard's sequential test (util/guard.h); when it says
 * stop, the canary is stopped (history row "guard-stop" with the reason
 * and the figures).  Called after every request and rating.  Returns 1
 * when it stopped the canary (reason filled), 0 when not, -1 on a store
 * error (err). */
int compare_guard_check(db *d, const config *cfg, char *reason, size_t len);

#endif
