/*
 * guard.h — the canary guard's decision: stop a candidate model that is
 * worse than stable on error rate or on thumbs-down rate, judged on the
 * counts so far, safely under continuous monitoring.
 *
 * Why a sequential test.  The guard looks after every request and every
 * rating.  A fixed-sample test (Fisher, a z-test) read thousands of times
 * on a growing sample crosses its line by chance many times more often
 * than its level says ("peeking"; 8.4% instead of 1% in the simulation
 * below).  An always-valid test bounds the chance of EVER crossing, over
 * unboundedly many looks.
 *
 * The test: the mixture sequential probability ratio test (mSPRT) of
 * Johari, Pekelis and Walsh ("Peeking at A/B tests", KDD 2017) with a
 * Gaussian mixture, on the difference of two proportions under the normal
 * approximation.  Per metric (bad events k of n per arm, s = stable,
 * c = candidate):
 *   D = k_c/n_c - k_s/n_s,   p = (k_s + k_c) / (n_s + n_c)   (pooled)
 *   V = p (1 - p) (1/n_c + 1/n_s)          the variance of D under "no difference"
 *   Lambda = sqrt(V / (V + tau2)) exp(tau2 D² / (2 V (V + tau2)))
 * Lambda is the likelihood ratio of "D drifts by theta" against "it does
 * not", averaged over theta ~ N(0, tau2); as a function of the growing
 * information 1/V it is (approximately) a nonnegative martingale when the
 * arms do not differ, so by Ville's inequality the chance that it EVER
 * reaches 1/a is at most a.
 *
 * One-sided: the guard stops only when D > 0 (candidate worse) and
 * Lambda >= 1/a.  The mixture is symmetric, so the bound a covers both
 * directions and the one-sided false-stop rate is at most a (well below in
 * practice, see the figures): conservative, simple, and never stopping a
 * better candidate.
 * Two metrics, overall one-sided level alpha = 0.01: Bonferroni, a = alpha/2
 * = 0.005 each.  Below min_sample per arm (requests for the error rate,
 * thumbed replies for the thumbs-down rate) nothing is judged: the normal
 * approximation needs a few events, and nobody should be stopped on three
 * requests.
 *
 * tau2 (default 0.01, i.e. tau = 10 percentage points) is the scale of the
 * differences the guard should catch quickly.  At a given V the mixture
 * needs the smallest D when r = tau2/V solves r = 2 ln(1/a) + ln(1 + r),
 * r = 13.3 here: V = 7.5e-4, which error rates around 10-15% (pooled
 * p (1 - p) = 0.13) reach after ~340 requests per arm, where a 10-point
 * difference is 3.7 standard errors.  Measured (tests/test_guard.c: canaries of
 * 2,000 requests at 50% share, checked after every request and rating):
 * A/A at 10% errors and 20% thumbs-down stops 0.2% of 1,000 canaries
 * (0.12% of 10,000; 0.3% of 1,000 canaries of 20,000 requests); a candidate
 * at 20% errors is stopped in 99.1%, on average at request ~690.  The same
 * A/A checked with a fixed-sample one-sided z-test at 0.005 per metric
 * stops 8.4%.  tau2 from 0.0025 to 0.05 gives the same A/A figure; smaller
 * values lose power on the thumbs metric, which has few events (45% vs 20%
 * thumbs-down: stopped in 90% at 0.01, 68% at 0.0025), larger ones on small
 * differences (14% vs 10% errors over 4,000 requests: 60% at 0.01, 54% at
 * 0.05, 47% at 0.2).
 *
 * Continuous monitoring.  The always-valid p-value is the running minimum
 * of 1/Lambda over all looks; guard_decide sees only the current counts
 * and says stop as soon as Lambda >= 1/a at this look.  A caller that
 * checks after every event and acts on the first stop therefore gets the
 * sequential guarantee (stopping at the first crossing is the same event
 * as "the running minimum fell below a").  Checking less often only makes
 * the guard more conservative.  Counts must only grow between looks of one
 * canary; a new canary starts from zero.
 *
 * Pure arithmetic, O(1), no allocation, no state.
 */
#ifndef FRONTDESK_GUARD_H
#define FRONTDESK_GUARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t requests_s, errors_s, requests_c, errors_c; /* finished requests and errors per arm (s = stable, c = candidate) */
    int64_t thumbed_s, down_s, thumbed_c, down_c;       /* thumbed replies and thumbs-down replies per arm */
} guard_counts;

typedef struct {
    double alpha;       /* overall one-sided level, in (0, 1); 0.01             */
    int64_t min_sample; /* per arm, before anything is judged; 30                */
    double tau2;        /* mixing variance of the mSPRT, > 0; 0.01 (see above)   */
} guard_params;

/* alpha 0.01, min_sample 30, tau2 0.01. */
void guard_params_default(guard_params *p);

typedef enum { GUARD_KEEP, GUARD_STOP_ERRORS, GUARD_STOP_THUMBS } guard_verdict;

/* The decision on the counts so far (p NULL: the defaults).  The error
 * rate is judged first, so when both metrics cross, the verdict is
 * GUARD_STOP_ERRORS.  When it stops and reason is not NULL, reason[0..len)
 * gets one line, candidate first, e.g.
 *   "error rate 21.0% vs 10.2% (always-valid p = 0.0031 < 0.005)"
 *   "thumbs-down rate 41.3% vs 19.8% (always-valid p = 0.00042 < 0.005)"
 * (truncated to fit); on GUARD_KEEP reason is left alone. */
guard_verdict guard_decide(const guard_counts *c, const guard_params *p, char *reason, size_t len);

/* min(1, 1/Lambda) of "candidate worse" for one metric (k bad events of n
 * per arm; p NULL: the defaults): 1 below min_sample in either arm, when
 * the candidate is not worse (D <= 0), or on counts that make no sense
 * (k < 0 or k > n).  At the current counts only: the always-valid p-value
 * proper is the running minimum of this over the looks. */
double guard_pvalue(int64_t n_s, int64_t k_s, int64_t n_c, int64_t k_c, const guard_params *p);

#endif
