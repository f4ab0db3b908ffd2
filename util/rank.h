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
 * 'approx' respectively).  n == 0 after dropping: p = 1 (SciPy raises
 * there), exact false.  Exact p = 2 P(W+ <= min(W+, W-)) capped at 1, from
 * subset-sum counts of {1..n} (O(n^3)); approximate
 * p = 2 Phi(-|min(W+, W-) - n(n+1)/4| / sigma), sigma^2 =
 * (n(n+1)(2n+1) - 1/2 sum over tie groups of (t^3 - t)) / 24.  Scratch is
 * malloc'ed per call; if that fails, p = NAN.  d must not hold NaN.
 * The naive twin, for the tests: ranks by counting pairs (O(n^2)), the
 * exact law by enumerating all 2^n sign patterns when n <= 20 and by the
 * textbook two-dimensional table c(k, s) = c(k-1, s) + c(k-1, s-k) above. */
rank_wilcoxon rank_wilcoxon_test(const double *d, size_t n);
rank_wilcoxon rank_wilcoxon_naive(const double *d, size_t n);

/* ---- Sign test ------------------------------------------------------------------ */

/* Two-sided exact binomial test of wins vs losses at p = 0.5 (ties
 * dropped before calling): the sum of the probabilities of outcomes no
 * more likely than the observed one, "no more likely" meaning at most
 * (1 + 1e-7) times as likely (SciPy binomtest's and R's rule).
 * wins + losses == 0, or wins == losses: 1.  A negative count, or one above
 * 2^50: NAN.  Probabilities by Loader's saddle-point formula, tails summed
 * outward, so large counts cost O(sqrt(n)) terms. */
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
 * The fit is damped Newton on log-strengths, stopped when the gradient's
 * largest entry is below 1e-13 x (1 + total weight) or a step moves no
 * log-strength by 1e-12 (converged false after 200 steps).
 * Strengths are only identified within a connected group of items that
 * met (directly or through others): each such group is centred on its own
 * (mean log strength 0 within it, hence overall too), so strengths of
 * items in different groups are not comparable; an item that met no one
 * has strength 1 (Elo 1000).
 * n_boot > 0: also resample the matches with replacement n_boot times
 * (seeded PRNG of our own, splitmix64: the same seed, the same intervals
 * on every machine), refit each resample (the prior on the pairs that met
 * in it), and take the 2.5% and 97.5% points of each item's Elo (linear
 * between order statistics) as elo_lo and elo_hi.
 * Returns 0, or -1 (out zeroed) when n_items < 1 or above 1024, n_boot < 0,
 * a match names an item outside [0, n_items) or the same item twice or
 * has an outcome outside [0, 1], or malloc fails.  The caller frees out
 * with rank_bt_free (which accepts NULL and a zeroed struct). */
int rank_bt_fit(const rank_match *m, size_t n_matches, int n_items, int n_boot, uint64_t seed, rank_bt *out);
void rank_bt_free(rank_bt *b);

/* The log-likelihood the fit maximises (prior included), for tests:
 *   sum over pairs {i, j} that met at least once of
 *     (w_ij + 1/2) log(s_i / (s_i + s_j)) + (w_ji + 1/2) log(s_j / (s_i + s_j)),
 * where w_ij = the sum over matches between i and j of i's share (outcome
 * when i is the match's i, 1 - outcome when it is the match's j).  Pairs
 * that never met contribute nothing.  Scale-free: multiplying every
 * strength by a constant leaves it unchanged.  NAN for the inputs
 * rank_bt_fit rejects or a strength that is not finite and positive. */
double rank_bt_loglik(const rank_match *m, size_t n_matches, int n_items, const double *strength);

#endif
