/*
 * compare.c — two versions side by side with verdicts, and the canary
 * guard (see compare.h).  The arithmetic lives in util/stats.h and
 * util/guard.h; this file gathers the samples and words the results.
 */
#include "app/compare.h"

#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/versions.h"
#include "util/guard.h"
#include "util/stats.h"
#include "util/util.h"

#include <math.h>
#include <string.h>

static const double Z95 = 1.959963984540054;
static const double ALPHA = 0.05;
static const uint64_t BOOT_SEED = 20261206;
static const int BOOT_N = 2000;

static double median(const double *x, size_t n)
{
    return n ? stats_quantile(x, n, 0.5) : NAN;
}

static void fill_arm(const db_version_sample *s, compare_arm *a)
{
    a->replies = s->replies;
    a->requests = s->requests;
    a->errors = s->errors;
    a->up = s->thumbs_up;
    a->down = s->thumbs_down;
    a->thumbed = s->thumbs_up + s->thumbs_down;
    a->up_rate = a->up_lo = a->up_hi = NAN;
    if (a->thumbed) {
        a->up_rate = (double)a->up / (double)a->thumbed;
        stats_wilson(a->up, a->thumbed, Z95, &a->up_lo, &a->up_hi);
    }
    a->n_scores = (int64_t)s->n_scores;
    a->score_mean = NAN;
    if (s->n_scores) {
        double sum = 0;
        for (size_t i = 0; i < s->n_scores; i++)
            sum += s->scores[i];
        a->score_mean = sum / (double)s->n_scores;
    }
    a->score_median = median(s->scores, s->n_scores);
    a->latency_p95_ms = s->latency_p95_ms;
    a->ms_per_token_p50 = median(s->ms_per_token, s->n_ms_per_token);
    a->ttft_p50_ms = median(s->ttft_ms, s->n_ttft);
    a->decode_tps_median = median(s->decode_tps, s->n_decode_tps);
    a->with_confidence = s->with_confidence;
    a->low_confidence = s->low_confidence;
    a->first_used = s->first_used;
    a->last_used = s->last_used;
}

static int sample(db *d, int64_t id, double from, double to, const config *cfg, db_version_sample *s,
                  compare_arm *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->model_id = id;
    db_model m;
    if (db_model_get(d, id, &m) == DB_OK) {
        snprintf(a->name, sizeof a->name, "%s", m.display_name);
        db_model_clear(&m);
    }
    if (db_version_sample_get(d, id, from, to, cfg->deploy_low_confidence, s) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return -1;
    }
    fill_arm(s, a);
    return 0;
}

int compare_arm_get(db *d, int64_t model_id, double from, double to, const config *cfg, compare_arm *out,
                    char *err, size_t errlen)
{
    db_version_sample s;
    int rc = sample(d, model_id, from, to, cfg, &s, out, err, errlen);
    db_version_sample_free(&s);
    return rc;
}

const char *compare_verdict_name(compare_verdict v)
{
    switch (v) {
    case VERDICT_NOT_ENOUGH: return "not enough data";
    case VERDICT_NO_EVIDENCE: return "no evidence";
    case VERDICT_BETTER: return "better";
    case VERDICT_WORSE: return "worse";
    }
    return "?";
}

/* A test's p-value; which way b differs (+1: b's values larger); whether
 * larger is better for this metric; how to word it. */
typedef struct {
    double p;
    int direction;
    bool higher_better;
    bool speed; /* worded "typically faster/slower" */
} raw_test;

static raw_test test_props(int64_t k_a, int64_t n_a, int64_t k_b, int64_t n_b, bool higher_better)
{
    raw_test t = {.higher_better = higher_better};
    t.p = stats_fisher_two_sided(k_a, n_a - k_a, k_b, n_b - k_b);
    double ra = n_a ? (double)k_a / (double)n_a : 0, rb = n_b ? (double)k_b / (double)n_b : 0;
    t.direction = (rb > ra) - (rb < ra);
    return t;
}

static raw_test test_ranks(const double *a, size_t na, const double *b, size_t nb, bool higher_better, bool speed)
{
    raw_test t = {.higher_better = higher_better, .speed = speed};
    /* U of b against a: above na·nb/2 means b's values tend to be larger. */
    stats_mwu m = stats_mannwhitney(b, nb, a, na);
    t.p = m.p;
    double mid = (double)na * (double)nb / 2.0;
    t.direction = (m.u > mid) - (m.u < mid);
    return t;
}

static void interval(compare_interval *iv, const char *what, const double *a, size_t na, const double *b, size_t nb,
                     double q, uint64_t seed)
{
    iv->what = what;
    stats_bootstrap_quantile_diff(a, na, b, nb, q, BOOT_N, seed, &iv->est, &iv->lo, &iv->hi);
}

int compare_versions(db *d, int64_t a, int64_t b, db_window w, double now, const config *cfg,
                     compare_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->window, sizeof out->window, "%s", db_window_name(w));
    out->to = now;
    out->from = w == DB_WIN_ALL ? 0 : now - db_window_seconds(w);
    out->min_sample = cfg->deploy_min_sample;
    db_version_sample sa, sb;
    memset(&sb, 0, sizeof sb);
    if (sample(d, a, out->from, out->to, cfg, &sa, &out->a, err, errlen) != 0)
        return -1;
    if (sample(d, b, out->from, out->to, cfg, &sb, &out->b, err, errlen) != 0) {
        db_version_sample_free(&sa);
        return -1;
    }
    const compare_arm *A = &out->a, *B = &out->b;
    struct {
        const char *metric;
        int64_t n_a, n_b;
        raw_test t;
    } tests[COMPARE_TESTS] = {
        {"thumbs-up rate", A->thumbed, B->thumbed, test_props(A->up, A->thumbed, B->up, B->thumbed, true)},
        {"score", A->n_scores, B->n_scores,
         test_ranks(sa.scores, sa.n_scores, sb.scores, sb.n_scores, true, false)},
        {"error rate", A->requests, B->requests, test_props(A->errors, A->requests, B->errors, B->requests, false)},
        {"ms per token", (int64_t)sa.n_ms_per_token, (int64_t)sb.n_ms_per_token,
         test_ranks(sa.ms_per_token, sa.n_ms_per_token, sb.ms_per_token, sb.n_ms_per_token, false, true)},
        {"time to first token", (int64_t)sa.n_ttft, (int64_t)sb.n_ttft,
         test_ranks(sa.ttft_ms, sa.n_ttft, sb.ttft_ms, sb.n_ttft, false, true)},
        {"decode tokens/s", (int64_t)sa.n_decode_tps, (int64_t)sb.n_decode_tps,
         test_ranks(sa.decode_tps, sa.n_decode_tps, sb.decode_tps, sb.n_decode_tps, true, true)},
    };
    /* Holm over the metrics with enough data in both arms. */
    double ps[COMPARE_TESTS], adj[COMPARE_TESTS];
    size_t idx[COMPARE_TESTS], k = 0;
    int64_t min = cfg->deploy_min_sample;
    for (size_t i = 0; i < COMPARE_TESTS; i++) {
        compare_test *t = &out->tests[i];
        t->metric = tests[i].metric;
        t->n_a = tests[i].n_a;
        t->n_b = tests[i].n_b;
        t->p = t->p_holm = NAN;
        t->verdict = VERDICT_NOT_ENOUGH;
        if (t->n_a >= min && t->n_b >= min) {
            t->p = tests[i].t.p;
            ps[k] = t->p;
            idx[k++] = i;
        }
    }
    stats_holm(ps, k, adj);
    for (size_t j = 0; j < k; j++) {
        compare_test *t = &out->tests[idx[j]];
        const raw_test *r = &tests[idx[j]].t;
        t->p_holm = adj[j];
        if (adj[j] >= ALPHA || !r->direction)
            t->verdict = VERDICT_NO_EVIDENCE;
        else
            t->verdict = (r->direction > 0) == r->higher_better ? VERDICT_BETTER : VERDICT_WORSE;
    }
    for (size_t i = 0; i < COMPARE_TESTS; i++) {
        compare_test *t = &out->tests[i];
        const raw_test *r = &tests[i].t;
        if (r->speed && (t->verdict == VERDICT_BETTER || t->verdict == VERDICT_WORSE))
            snprintf(t->words, sizeof t->words, "typically %s",
                     t->verdict == VERDICT_BETTER ? "faster" : "slower");
        else
            snprintf(t->words, sizeof t->words, "%s", compare_verdict_name(t->verdict));
    }
    interval(&out->intervals[0], "ms per token p50", sa.ms_per_token, sa.n_ms_per_token, sb.ms_per_token,
             sb.n_ms_per_token, 0.50, BOOT_SEED);
    interval(&out->intervals[1], "ms per token p95", sa.ms_per_token, sa.n_ms_per_token, sb.ms_per_token,
             sb.n_ms_per_token, 0.95, BOOT_SEED + 1);
    interval(&out->intervals[2], "time to first token p50 (ms)", sa.ttft_ms, sa.n_ttft, sb.ttft_ms, sb.n_ttft, 0.50,
             BOOT_SEED + 2);
    interval(&out->intervals[3], "time to first token p95 (ms)", sa.ttft_ms, sa.n_ttft, sb.ttft_ms, sb.n_ttft, 0.95,
             BOOT_SEED + 3);
    double p1 = A->thumbed ? A->up_rate : 0.5;
    double need = stats_power_n_thumbs(p1);
    int64_t have = A->thumbed < B->thumbed ? A->thumbed : B->thumbed;
    out->more_ratings = need > (double)have ? ceil(need - (double)have) : 0;
    db_version_sample_free(&sa);
    db_version_sample_free(&sb);
    return 0;
}

/* ---- Output -------------------------------------------------------------------------- */

static json_t *num(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

json_t *compare_arm_json(const compare_arm *a)
{
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(a->name));
    json_object_set_new(j, "replies", json_integer(a->replies));
    json_object_set_new(j, "requests", json_integer(a->requests));
    json_object_set_new(j, "errors", json_integer(a->errors));
    json_object_set_new(j, "error_rate", a->requests ? json_real((double)a->errors / (double)a->requests) : json_null());
    json_object_set_new(j, "thumbed", json_integer(a->thumbed));
    json_object_set_new(j, "thumbs_up", json_integer(a->up));
    json_object_set_new(j, "thumbs_up_rate", num(a->up_rate));
    json_object_set_new(j, "thumbs_up_ci95", a->thumbed ? json_pack("[ff]", a->up_lo, a->up_hi) : json_null());
    json_object_set_new(j, "scores", json_integer(a->n_scores));
    json_object_set_new(j, "score_mean", num(a->score_mean));
    json_object_set_new(j, "score_median", num(a->score_median));
    json_object_set_new(j, "latency_p95_ms", num(a->latency_p95_ms));
    json_object_set_new(j, "ms_per_token_p50", num(a->ms_per_token_p50));
    json_object_set_new(j, "ttft_p50_ms", num(a->ttft_p50_ms));
    json_object_set_new(j, "decode_tps_median", num(a->decode_tps_median));
    json_object_set_new(j, "low_confidence",
                        a->with_confidence ? json_real((double)a->low_confidence / (double)a->with_confidence)
                                           : json_null());
    char t[40];
    json_object_set_new(j, "first_used", a->first_used ? json_string(db_format_time(a->first_used, t, sizeof t)) : json_null());
    json_object_set_new(j, "last_used", a->last_used ? json_string(db_format_time(a->last_used, t, sizeof t)) : json_null());
    return j;
}

json_t *compare_json(const compare_result *r)
{
    json_t *j = json_object();
    json_object_set_new(j, "window", json_string(r->window));
    json_object_set_new(j, "min_sample", json_integer(r->min_sample));
    json_object_set_new(j, "stable", compare_arm_json(&r->a));
    json_object_set_new(j, "candidate", compare_arm_json(&r->b));
    json_t *tests = json_array();
    for (size_t i = 0; i < COMPARE_TESTS; i++) {
        const compare_test *t = &r->tests[i];
        json_array_append_new(tests, json_pack("{s:s, s:I, s:I, s:o, s:o, s:s}", "metric", t->metric, "n_stable",
                                               (json_int_t)t->n_a, "n_candidate", (json_int_t)t->n_b, "p", num(t->p),
                                               "p_holm", num(t->p_holm), "verdict", t->words));
    }
    json_object_set_new(j, "tests", tests);
    json_t *ivs = json_array();
    for (size_t i = 0; i < COMPARE_INTERVALS; i++) {
        const compare_interval *v = &r->intervals[i];
        json_array_append_new(ivs, json_pack("{s:s, s:o, s:o, s:o}", "difference", v->what, "estimate", num(v->est),
                                             "lo95", num(v->lo), "hi95", num(v->hi)));
    }
    json_object_set_new(j, "intervals", ivs);
    json_object_set_new(j, "more_ratings_per_arm", json_real(r->more_ratings));
    return j;
}

static void arm_line(FILE *f, const char *role, const compare_arm *a)
{
    fprintf(f, "%-10s %-28.28s replies %lld, requests %lld, errors %lld", role, a->name, (long long)a->replies,
            (long long)a->requests, (long long)a->errors);
    if (a->thumbed)
        fprintf(f, ", thumbs-up %.0f%% (95%% CI %.0f-%.0f%%, n=%lld)", 100 * a->up_rate, 100 * a->up_lo,
                100 * a->up_hi, (long long)a->thumbed);
    if (a->n_scores)
        fprintf(f, ", score %.2f (median %.1f, n=%lld)", a->score_mean, a->score_median, (long long)a->n_scores);
    if (a->with_confidence)
        fprintf(f, ", low-confidence %.0f%%", 100.0 * (double)a->low_confidence / (double)a->with_confidence);
    fputc('\n', f);
}

void compare_print(FILE *f, const compare_result *r)
{
    fprintf(f, "candidate vs stable over %s (alpha 0.05, Holm-corrected; at least %d per arm):\n", r->window,
            r->min_sample);
    arm_line(f, "stable", &r->a);
    arm_line(f, "candidate", &r->b);
    fprintf(f, "%-22s %8s %8s %10s %10s  %s\n", "METRIC", "N STABLE", "N CAND", "P", "P (HOLM)", "VERDICT");
    for (size_t i = 0; i < COMPARE_TESTS; i++) {
        const compare_test *t = &r->tests[i];
        char p[24] = "-", ph[24] = "-";
        if (!isnan(t->p))
            snprintf(p, sizeof p, "%.3g", t->p);
        if (!isnan(t->p_holm))
            snprintf(ph, sizeof ph, "%.3g", t->p_holm);
        fprintf(f, "%-22s %8lld %8lld %10s %10s  %s\n", t->metric, (long long)t->n_a, (long long)t->n_b, p, ph,
                t->words);
    }
    for (size_t i = 0; i < COMPARE_INTERVALS; i++) {
        const compare_interval *v = &r->intervals[i];
        if (!isnan(v->est))
            fprintf(f, "%s difference (candidate - stable): %+.1f (95%% bootstrap CI %+.1f to %+.1f)\n", v->what,
                    v->est, v->lo, v->hi);
    }
    if (r->more_ratings > 0)
        fprintf(f, "thumbs: about %.0f more ratings per arm would show a 10-point difference with 80%% power\n",
                r->more_ratings);
}

/* ---- The guard ---------------------------------------------------------------------- */

int compare_guard_check(db *d, const config *cfg, char *reason, size_t len)
{
    if (reason && len)
        reason[0] = 0;
    if (!cfg->deploy_guard)
        return 0;
    db_deployment dep;
    db_status s = db_deployment_get(d, &dep);
    if (s == DB_NOTFOUND || (s == DB_OK && !dep.candidate_id))
        return 0;
    if (s != DB_OK) {
        if (reason)
            util_errf(reason, len, "%s", db_errmsg(d));
        return -1;
    }
    /* Counts since the canary's last change. */
    double from = dep.changed_at, to = db_now() + 1;
    db_version_sample ss, sc;
    if (db_version_sample_get(d, dep.stable_id, from, to, cfg->deploy_low_confidence, &ss) != DB_OK) {
        if (reason)
            util_errf(reason, len, "%s", db_errmsg(d));
        return -1;
    }
    if (db_version_sample_get(d, dep.candidate_id, from, to, cfg->deploy_low_confidence, &sc) != DB_OK) {
        db_version_sample_free(&ss);
        if (reason)
            util_errf(reason, len, "%s", db_errmsg(d));
        return -1;
    }
    guard_counts c = {.requests_s = ss.requests, .errors_s = ss.errors, .requests_c = sc.requests,
                      .errors_c = sc.errors, .thumbed_s = ss.thumbs_up + ss.thumbs_down, .down_s = ss.thumbs_down,
                      .thumbed_c = sc.thumbs_up + sc.thumbs_down, .down_c = sc.thumbs_down};
    db_version_sample_free(&ss);
    db_version_sample_free(&sc);
    guard_params gp;
    guard_params_default(&gp);
    gp.min_sample = cfg->deploy_min_sample;
    char why[256];
    if (guard_decide(&c, &gp, why, sizeof why) == GUARD_KEEP)
        return 0;
    compare_result r;
    char err[256];
    char *figures = NULL;
    if (compare_versions(d, dep.stable_id, dep.candidate_id, DB_WIN_ALL, db_now(), cfg, &r, err, sizeof err) == 0) {
        json_t *j = compare_json(&r);
        json_object_set_new(j, "guard", json_string(why));
        figures = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    db_deploy_why w = {.who = "guard", .note = why, .figures = figures};
    s = db_canary_stop(d, true, &w);
    free(figures);
    if (s == DB_NOTFOUND) /* another process stopped it first */
        return 0;
    if (s != DB_OK) {
        if (reason)
            util_errf(reason, len, "%s", db_errmsg(d));
        return -1;
    }
    if (reason)
        util_errf(reason, len, "%s", why);
    return 1;
}
