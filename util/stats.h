/*
 * stats.h — the statistics for comparing two model versions: the normal
 * distribution, Wilson intervals, Fisher's exact test, Mann–Whitney U,
 * Holm's correction, a seeded percentile bootstrap of a quantile
 * difference, and the sample size for a thumbs-rate difference.
 *
 * Plain C over libc and libm: no other frontdesk code, no state of its own
 * (Fisher's test calls lgamma, whose only side effect, signgam, is always +1
 * here).  Each test with a fast path keeps a naive version beside it (the
 * *_naive functions), which tests/test_stats.c checks the fast one against
 * on random inputs; SciPy's figures (tests/fixtures/stats/, written by
 * tools/stats_fixtures.py) are the outside reference.
 *
 * Conventions: p-values are two-sided and lie in [0, 1].  Inputs must not
 * hold NaN (results are then unspecified, never a crash).  The functions
 * that need scratch memory (Mann–Whitney, Holm, the bootstrap, quantiles)
 * allocate it per call and, when malloc fails, return NAN results instead
 * of aborting; nothing else can fail.
 *
 * Not here: anything about the store or how metrics are chosen — that is
 * app/compare.c — and the sequential canary test (util/guard.h).
 */
#ifndef FRONTDESK_STATS_H
#define FRONTDESK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- The standard normal distribution ---------------------------------- */

/* Φ(x), through erfc (accurate in both tails). */
double stats_norm_cdf(double x);
/* Φ⁻¹(p): Acklam's rational approximation refined by one Halley step on
 * erfc, relative error about 1e-15.  p <= 0 gives -INFINITY, p >= 1
 * +INFINITY, NaN gives NaN. */
double stats_norm_ppf(double p);

/* ---- Proportions --------------------------------------------------------- */

/* Wilson score interval for k successes in n trials at z (95%:
 * z = 1.959963984540054), as SciPy's binomtest(k, n).proportion_ci(
 * method='wilson'): lo is exactly 0 when k == 0, hi exactly 1 when k == n.
 * n == 0 (or k outside [0, n]): lo = 0, hi = 1. */
void stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);

/* Fisher's exact test on the 2x2 table [[a, b], [c, d]], two-sided: the sum
 * of the probabilities of all tables with the same margins whose
 * probability is at most the observed one's x (1 + 1e-7) (R's relative
 * tolerance; SciPy 1.10 uses 1e-14 — the two agree except on ties that only
 * rounding separates, where 1e-7 counts the tie as it should).
 * The table's probability is hypergeometric in a; the tails are found by
 * binary search on log-probabilities (lgamma) and summed outward from their
 * inner ends with the ratio recurrence, so the cost is O(log N) lgamma
 * calls plus the tail lengths, fast for counts up to 1e6 and beyond.
 * A row or column summing to 0: 1.  A negative count, or one above 2^50
 * (where doubles stop counting exactly): NAN. */
double stats_fisher_two_sided(int64_t a, int64_t b, int64_t c, int64_t d);
/* The naive version: every table of the support, probabilities from exact
 * binomial coefficients in long double, O(N^2) for N = a + b + c + d.
 * For tests, on small counts (up to ~200 per cell); N above 10000 or a
 * negative count: NAN. */
double stats_fisher_two_sided_naive(int64_t a, int64_t b, int64_t c, int64_t d);

/* ---- Two samples of scores --------------------------------------------- */

typedef struct {
    double u;   /* U of the first sample: SciPy's U1 = R1 - n1(n1+1)/2, ties get averaged ranks */
    double p;   /* two-sided p                                                     */
    bool exact; /* true when the exact distribution of U was used                  */
} stats_mwu;

/* Mann–Whitney U, two-sided.  Exact (the distribution of U by counting
 * orderings, as SciPy's method='exact': p = 2 P(U >= max(U1, U2))) when
 * both samples have at most 8 values and there are no ties anywhere;
 * otherwise the normal approximation with the tie correction and the
 * continuity correction (SciPy's method='asymptotic', use_continuity=True).
 * p is clipped to 1 (identical samples give 1; so does a sample of one
 * repeated value, where the variance is 0).  nx or ny == 0: u = 0, p = 1.
 * Sorts copies: O((nx + ny) log(nx + ny)). */
stats_mwu stats_mannwhitney(const double *x, size_t nx, const double *y, size_t ny);
/* Naive: U by comparing every pair (0.5 for a tie), the tie term by
 * counting equal values, the exact distribution by enumerating every
 * split of the pooled sample.  O((nx + ny)^2); for tests. */
stats_mwu stats_mannwhitney_naive(const double *x, size_t nx, const double *y, size_t ny);

/* ---- Several tests --------------------------------------------------------- */

/* Holm's step-down correction of p[0..n) into adj[0..n) (adj may be p):
 * sorted ascending, the i-th smallest (0-based) becomes (n - i) p, made
 * non-decreasing along the order and clipped to 1.  Equal p-values get
 * equal adjusted values. */
void stats_holm(const double *p, size_t n, double *adj);

/* ---- Quantiles and the bootstrap ------------------------------------------ */

/* Nearest-rank quantile: the value at rank ceil(q n) (1-based, at least 1)
 * of the sorted sample; q n within a relative 1e-9 of an integer counts as
 * that integer, so 0.07 x 100 is rank 7, not 8.  Sorts a copy; NAN when n == 0
 * or q is outside [0, 1]. */
double stats_quantile(const double *x, size_t n, double q);

/* Percentile-bootstrap 95% interval of quantile_q(y) - quantile_q(x)
 * (q in (0, 1), the nearest-rank quantile above).  Each of n_boot rounds
 * resamples x and then y with replacement and takes the difference of
 * their quantiles; lo and hi are the nearest-rank 2.5% and 97.5% points of
 * those differences.  *est is the difference on the samples themselves.
 * The draws come from xoshiro256** seeded through splitmix64 with seed and
 * unbiased bounded integers, so a seed gives the same interval on every
 * machine.  Cost O(n_boot (nx + ny)) (a resample's quantile is read from
 * counts over the sorted sample; nothing is re-sorted).
 * Either sample empty: all three NAN; n_boot < 1: lo and hi NAN. */
void stats_bootstrap_quantile_diff(const double *x, size_t nx, const double *y, size_t ny, double q, int n_boot,
                                   uint64_t seed, double *est, double *lo, double *hi);

/* ---- Planning ---------------------------------------------------------------- */

/* Ratings per arm needed to detect a 10-point difference in thumbs-up rate
 * with 80% power, alpha 0.05 two-sided:
 *   n = (z_0.975 sqrt(2 pb (1 - pb)) + z_0.8 sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 / 0.10^2
 * with p1 the stable arm's observed rate, p2 = p1 - 0.10 (p1 + 0.10 when
 * p1 < 0.10), pb = (p1 + p2) / 2.  Not rounded; p1 is clamped to [0, 1]. */
double stats_power_n_thumbs(double p1);

#endif
