/*
 * rank.h — the statistics of evaluation and blind side-by-side review:
 * the Wilcoxon signed-rank test on paired differences, the sign test on
 * wins and losses, and Bradley–Terry strengths (with Elo-scale scores and
 * bootstrap intervals) from pairwise judgements.
 *
 * Plain C over libc and libm, like util/stats.h; each fast routine keeps a
 * naive one beside it for the tests, and SciPy's figures
 * (tests/fixtures/rank/, written by tools/rank_fixtures.py) are the
 * outside reference.
 */
#ifndef FRONTDESK_RANK_H
#define FRONTDESK_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Wilcoxon signed-rank ------------------------------------------------------ */

typedef struct {
    double w;       /* the sum of the ranks of the positive differences (SciPy's statistic
                       for the two-sided test is min(W+, W-); both are given) */
    double w_plus, w_minus;
    size_t n;       /* differences left after dropping zeros */
    double p;       /* two-sided */
    bool exact;
} rank_wilcoxon;

/* Two-sided Wilcoxon signed-rank test on d[0..n): zero differences dropped
 * (zero_method 'wilcox'); exact distribution when the remaining n <= 50
 * with no ties and no zeros were dropped, else the normal approximation
 * with the tie correction and no continuity correction (SciPy
 * wilcoxon(zero_method='wilcox', correction=False), method 'exact' /
 * 'approx' respectively).  n == 0 after dropping: p = 1. */
rank_wilcoxon rank_wilcoxon_test(const double *d, size_t n);
rank_wilcoxon rank_wilcoxon_naive(const double *d, size_t n);

/* ---- Sign test ------------------------------------------------------------------ */

/* Two-sided exact binomial test of wins vs losses at p = 0.5 (ties
 * dropped before calling): the sum of the probabilities of outcomes no
 * more likely than the observed one.  wins + losses == 0: 1. */
double rank_sign_test(int64_t wins, int64_t losses);

/* ---- Bradley–Terry ------------------------------------------------------------- */

/* One judgement between items i and j (0-based): outcome 1 = i better,
 * 0 = j better, 0.5 = tie or both bad (half a win each way). */
typedef struct {
    int i, j;
    double outcome;
} rank_match;

typedef struct {
    int n_items;
    double *strength;   /* [n_items], centred so that mean(log strength) = 0 */
    double *elo;        /* [n_items], 1000 + 400 log10(strength)            */
    double *elo_lo, *elo_hi; /* 95% percentile-bootstrap intervals (NULL when not asked) */
    int iterations;     /* of the fit                                       */
    bool converged;
} rank_bt;

/* Fit strengths by maximum likelihood (minorisation–maximisation or
 * Newton) with a prior of 0.5 pseudo-wins each way for every pair of
 * items that met (so an all-win or all-loss item stays finite).
 * n_boot > 0: also resample the matches with replacement n_boot times
 * (seeded PRNG of our own: the same seed, the same intervals on every
 * machine) for the Elo intervals.  0, or -1 when n_items < 1. */
int rank_bt_fit(const rank_match *m, size_t n_matches, int n_items, int n_boot, uint64_t seed, rank_bt *out);
void rank_bt_free(rank_bt *b);

/* The log-likelihood the fit maximises (prior included), for tests. */
double rank_bt_loglik(const rank_match *m, size_t n_matches, int n_items, const double *strength);

#endif
