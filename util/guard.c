/*
 * guard.c — see guard.h: the mSPRT on each metric, Bonferroni across the
 * two, and the words when it stops.
 */
#include "util/guard.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

void guard_params_default(guard_params *p)
{
    p->alpha = 0.01;
    p->min_sample = 30;
    p->tau2 = 0.01;
}

/* log Lambda for "candidate worse" on one metric, or -INFINITY when there
 * is nothing to judge (too few, not worse, nonsense counts). */
static double log_lambda(int64_t n_s, int64_t k_s, int64_t n_c, int64_t k_c, const guard_params *p)
{
    if (n_s < p->min_sample || n_c < p->min_sample || n_s <= 0 || n_c <= 0)
        return -INFINITY;
    if (k_s < 0 || k_c < 0 || k_s > n_s || k_c > n_c || !(p->tau2 > 0.0))
        return -INFINITY;
    double ns = (double)n_s, nc = (double)n_c;
    double d = (double)k_c / nc - (double)k_s / ns;
    if (!(d > 0.0))
        return -INFINITY;
    double pool = ((double)k_s + (double)k_c) / (ns + nc);
    double v = pool * (1.0 - pool) * (1.0 / nc + 1.0 / ns);
    if (!(v > 0.0))
        return -INFINITY; /* cannot happen with d > 0; kept for the invariant */
    double t2 = p->tau2;
    return 0.5 * log(v / (v + t2)) + t2 * d * d / (2.0 * v * (v + t2));
}

double guard_pvalue(int64_t n_s, int64_t k_s, int64_t n_c, int64_t k_c, const guard_params *p)
{
    guard_params def;
    if (!p) {
        guard_params_default(&def);
        p = &def;
    }
    double ll = log_lambda(n_s, k_s, n_c, k_c, p);
    return ll > 0.0 ? exp(-ll) : 1.0;
}

/* Whether one metric crosses 1/a; on a stop, the words. */
static bool metric_stops(const char *what, int64_t n_s, int64_t k_s, int64_t n_c, int64_t k_c,
                         const guard_params *p, double a, char *reason, size_t len)
{
    double ll = log_lambda(n_s, k_s, n_c, k_c, p);
    if (!(ll >= -log(a)))
        return false;
    if (reason && len)
        snprintf(reason, len, "%s %.1f%% vs %.1f%% (always-valid p = %.3g < %.3g)", what,
                 100.0 * (double)k_c / (double)n_c, 100.0 * (double)k_s / (double)n_s, exp(-ll), a);
    return true;
}

guard_verdict guard_decide(const guard_counts *c, const guard_params *p, char *reason, size_t len)
{
    guard_params def;
    if (!p) {
        guard_params_default(&def);
        p = &def;
    }
    if (!(p->alpha > 0.0 && p->alpha < 1.0))
        return GUARD_KEEP;
    double a = p->alpha / 2.0; /* Bonferroni over the two metrics */
    if (metric_stops("error rate", c->requests_s, c->errors_s, c->requests_c, c->errors_c, p, a, reason, len))
        return GUARD_STOP_ERRORS;
    if (metric_stops("thumbs-down rate", c->thumbed_s, c->down_s, c->thumbed_c, c->down_c, p, a, reason, len))
        return GUARD_STOP_THUMBS;
    return GUARD_KEEP;
}
