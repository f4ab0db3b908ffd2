/*
 * rank.c — see rank.h.  Each section opens with its formula; the naive
 * versions sit right after the fast ones.
 *
 * Deliberately not here: one-sided tests, the 'pratt' and 'zsplit' zero
 * methods, continuity corrections, and any sparse linear algebra (the
 * Bradley–Terry Newton step is a dense Cholesky, fine for the few hundred
 * model versions an arena compares).
 */
#include "util/rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Wilcoxon signed-rank ------------------------------------------------------ */

/*
 * Drop the zeros, rank |d| (ties share their mean rank), W+ = the sum of
 * the ranks of the positive d, W- of the negative ones; W+ + W- =
 * n(n+1)/2.
 *
 * Exact (n <= 50, no ties, nothing dropped): under H0 every sign pattern
 * is equally likely, so W+ is the sum of a uniformly random subset of
 * {1..n}; c[s] = the number of subsets summing to s (at most 2^50, exact
 * in a uint64_t), p = 2 P(W+ <= min(W+, W-)), capped at 1 (SciPy's rule;
 * W+ at the centre gives 1).
 *
 * Approximate: z = (min(W+, W-) - n(n+1)/4) / σ with
 * σ² = (n(n+1)(2n+1) - ½ Σ (t³ - t)) / 24 over tie groups of size t;
 * p = 2 Φ(-|z|) = erfc(|z| / √2).
 */

#define WILCOXON_EXACT_MAX 50

typedef struct {
    double a;   /* |d| */
    int sign;   /* +1 or -1 */
} signed_abs;

static int cmp_signed_abs(const void *pa, const void *pb)
{
    double a = ((const signed_abs *)pa)->a, b = ((const signed_abs *)pb)->a;
    return (a > b) - (a < b);
}

static rank_wilcoxon wilcoxon_empty(void)
{
    rank_wilcoxon r = {0};
    r.p = 1.0; /* no law used: exact stays false */
    return r;
}

/* p = 2 Φ(-|z|) for the normal approximation; var > 0 whenever n > 0. */
static double wilcoxon_approx_p(double w_min, size_t n, double tie_sum)
{
    double nn = (double)n;
    double mean = nn * (nn + 1.0) * 0.25;
    double var = (nn * (nn + 1.0) * (2.0 * nn + 1.0) - 0.5 * tie_sum) / 24.0;
    double z = (w_min - mean) / sqrt(var);
    double p = erfc(fabs(z) / sqrt(2.0));
    return p > 1.0 ? 1.0 : p;
}

/* 2 P(W+ <= w_min) from subset-sum counts c[0..n(n+1)/2], capped at 1. */
static double wilcoxon_exact_p_from_counts(const uint64_t *c, size_t n, double w_min)
{
    size_t total = n * (n + 1) / 2;
    if (2.0 * w_min == (double)total)
        return 1.0;
    uint64_t le = 0;
    for (size_t s = 0; (double)s <= w_min; s++)
        le += c[s];
    double p = 2.0 * ldexp((double)le, -(int)n);
    return p > 1.0 ? 1.0 : p;
}

rank_wilcoxon rank_wilcoxon_test(const double *d, size_t n)
{
    rank_wilcoxon r = wilcoxon_empty();
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += d[i] != 0.0;
    if (m == 0)
        return r;
    signed_abs *v = malloc(m * sizeof *v);
    if (!v) {
        r.p = NAN;
        return r;
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (d[i] != 0.0)
            v[k++] = (signed_abs){fabs(d[i]), d[i] > 0.0 ? 1 : -1};
    qsort(v, m, sizeof *v, cmp_signed_abs);

    /* Midranks over runs of equal |d|: the run [i, j) holds ranks i+1..j. */
    double tie_sum = 0.0;
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && v[j].a == v[i].a)
            j++;
        double rank = 0.5 * (double)(i + 1 + j), t = (double)(j - i);
        tie_sum += t * t * t - t;
        for (size_t k = i; k < j; k++)
            (v[k].sign > 0 ? &r.w_plus : &r.w_minus)[0] += rank;
        i = j;
    }
    free(v);
    r.n = m;
    r.w = r.w_plus;
    double w_min = fmin(r.w_plus, r.w_minus);
    r.exact = m <= WILCOXON_EXACT_MAX && tie_sum == 0.0 && m == n;
    if (!r.exact) {
        r.p = wilcoxon_approx_p(w_min, m, tie_sum);
        return r;
    }
    /* c[s] over subsets of {1..k}, built up k = 1..m in place (s downward). */
    size_t total = m * (m + 1) / 2;
    uint64_t *c = calloc(total + 1, sizeof *c);
    if (!c) {
        r.p = NAN;
        return r;
    }
    c[0] = 1;
    for (size_t k = 1; k <= m; k++)
        for (size_t s = k * (k + 1) / 2; s >= k; s--)
            c[s] += c[s - k];
    r.p = wilcoxon_exact_p_from_counts(c, m, w_min);
    free(c);
    return r;
}

/* Naive: ranks by counting (rank = 1 + #smaller + (#equal - 1)/2), the tie
 * term as Σ over values of (t² - 1) (each group of t contributes t(t² - 1)),
 * and the exact law by enumerating all 2^n sign patterns for n <= 20, by
 * the textbook two-dimensional recurrence c(k, s) = c(k-1, s) + c(k-1, s-k)
 * above that.  O(n²) time; for the tests. */
#define WILCOXON_ENUMERATE_MAX 20

rank_wilcoxon rank_wilcoxon_naive(const double *d, size_t n)
{
    rank_wilcoxon r = wilcoxon_empty();
    size_t m = 0;
    double tie_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0.0)
            continue;
        m++;
        double smaller = 0.0, equal = 0.0;
        for (size_t j = 0; j < n; j++) {
            if (d[j] == 0.0)
                continue;
            smaller += fabs(d[j]) < fabs(d[i]);
            equal += fabs(d[j]) == fabs(d[i]);
        }
        double rank = 1.0 + smaller + (equal - 1.0) / 2.0;
        tie_sum += equal * equal - 1.0;
        if (d[i] > 0.0)
            r.w_plus += rank;
        else
            r.w_minus += rank;
    }
    if (m == 0)
        return r;
    r.n = m;
    r.w = r.w_plus;
    double w_min = fmin(r.w_plus, r.w_minus);
    r.exact = m <= WILCOXON_EXACT_MAX && tie_sum == 0.0 && m == n;
    if (!r.exact) {
        r.p = wilcoxon_approx_p(w_min, m, tie_sum);
        return r;
    }
    size_t total = m * (m + 1) / 2;
    if (m <= WILCOXON_ENUMERATE_MAX) {
        /* Count the sign patterns whose W+ is at most w_min. */
        uint64_t le = 0;
        for (uint64_t bits = 0; bits < ((uint64_t)1 << m); bits++) {
            size_t s = 0;
            for (size_t k = 0; k < m; k++)
                if (bits >> k & 1)
                    s += k + 1;
            le += (double)s <= w_min;
        }
        r.p = 2.0 * w_min == (double)total ? 1.0 : fmin(1.0, 2.0 * ldexp((double)le, -(int)m));
        return r;
    }
    uint64_t *c = calloc((m + 1) * (total + 1), sizeof *c); /* (m + 1, total + 1) */
    if (!c) {
        r.p = NAN;
        return r;
    }
    c[0] = 1;
    for (size_t k = 1; k <= m; k++)
        for (size_t s = 0; s <= total; s++)
            c[k * (total + 1) + s] = c[(k - 1) * (total + 1) + s] + (s >= k ? c[(k - 1) * (total + 1) + s - k] : 0);
    r.p = wilcoxon_exact_p_from_counts(c + m * (total + 1), m, w_min);
    free(c);
    return r;
}

/* ---- Sign test ------------------------------------------------------------------ */

/*
 * X ~ Binomial(n, ½), observed k.  p = Σ P(X = i) over the i with
 * P(X = i) <= P(X = k)(1 + 1e-7) (SciPy's binomtest and R's rule).  The
 * law is symmetric and unimodal, so with a = min(k, n - k) the set is the
 * lower tail i <= a plus an upper tail i >= j*, where j* >= n/2 is the
 * first point whose probability is within the tolerance (n - a, or a few
 * below it when n is in the tens of millions and neighbours differ by less
 * than 1e-7).  Probabilities come from Loader's saddle-point form
 * (stirlerr and bd0), accurate to a few ulps for any n; tails are summed
 * outward from their inner ends with P(i-1) = P(i) i / (n - i + 1) until
 * the terms stop counting.
 */

#define SIGN_TEST_MAX ((int64_t)1 << 50)

/* log(k!) - log(√(2πk) (k/e)^k): lgamma for small k, the asymptotic series above. */
static double stirlerr(double k)
{
    if (k <= 15.0)
        return lgamma(k + 1.0) - (k + 0.5) * log(k) + k - 0.5 * log(2.0 * M_PI);
    double kk = k * k;
    return (1.0 / 12 - (1.0 / 360 - (1.0 / 1260 - (1.0 / 1680 - 1.0 / 1188 / kk) / kk) / kk) / kk) / k;
}

/* x log(x/m) + m - x, without cancellation when x is near m. */
static double bd0(double x, double m)
{
    if (fabs(x - m) < 0.1 * (x + m)) {
        double v = (x - m) / (x + m), s = (x - m) * v, ej = 2.0 * x * v;
        for (int j = 1; j < 1000; j++) {
            ej *= v * v;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
        return s;
    }
    return x * log(x / m) + m - x;
}

/* P(X = x) for X ~ Binomial(n, ½). */
static double binom_half_pmf(double x, double n)
{
    if (x == 0.0 || x == n)
        return n > 2000.0 ? 0.0 : ldexp(1.0, -(int)n); /* 2^-n, exact until it underflows */
    double lc = stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, 0.5 * n) - bd0(n - x, 0.5 * n);
    double lf = log(2.0 * M_PI) + log(x) + log1p(-x / n);
    return exp(lc - 0.5 * lf);
}

/* P(X <= a), summed downward from a. */
static double binom_half_lower(double a, double n)
{
    double term = binom_half_pmf(a, n), sum = 0.0;
    for (double i = a; i >= 0.0 && term > 0.0; i--) {
        sum += term;
        if (term < sum * 1e-18)
            break;
        term *= i / (n - i + 1.0);
    }
    return sum;
}

double rank_sign_test(int64_t wins, int64_t losses)
{
    if (wins < 0 || losses < 0 || wins > SIGN_TEST_MAX || losses > SIGN_TEST_MAX)
        return NAN;
    int64_t n = wins + losses, a = wins < losses ? wins : losses;
    if (2 * a == n)
        return 1.0;
    double nd = (double)n, limit = binom_half_pmf((double)a, nd) * (1.0 + 1e-7);
    /* j*: the smallest j in [ceil(n/2), n - a] with P(X = j) <= limit. */
    int64_t lo = (n + 1) / 2, hi = n - a;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (binom_half_pmf((double)mid, nd) <= limit)
            hi = mid;
        else
            lo = mid + 1;
    }
    double p = binom_half_lower((double)a, nd) + binom_half_lower((double)(n - hi), nd);
    return p > 1.0 ? 1.0 : p;
}

/* ---- Bradley–Terry ------------------------------------------------------------- */

/*
 * Matches are gathered into pairs {i < j} with w_ij = i's wins over j
 * (a tie counts ½ each way) plus the prior's ½, and w_ji likewise; a pair
 * that never met has no prior.  With θ = log s and p_ij = 1/(1 + e^(θj-θi)),
 *   ℓ(θ) = Σ_pairs w_ij log p_ij + w_ji log p_ji,
 *   ∂ℓ/∂θi = Σ_j w_ij - n_ij p_ij             (n_ij = w_ij + w_ji),
 *   -∂²ℓ/∂θi∂θj = L: the Laplacian with weights n_ij p_ij p_ji.
 * ℓ is concave and, thanks to the prior, has a finite maximum on every
 * connected component of the "met" graph, unique up to one additive
 * constant per component.  Newton's step solves (L + J) Δ = g, where
 * J = Σ_components u uᵀ (u the component's indicator): since g and the
 * range of L are orthogonal to every u, Δ is the Newton step with zero
 * sum on each component, and L + J is positive definite (a dense
 * Cholesky).  Each step is halved until ℓ does not fall.  Then θ is
 * centred on each component (a lone item gets θ = 0, strength 1), which
 * also makes the overall mean 0.
 */

#define BT_MAX_ITEMS 1024
#define BT_MAX_ITER 200

typedef struct {
    int i, j;        /* i < j */
} bt_pair;

typedef struct {
    int n_items;
    size_t n_pairs;
    bt_pair *pair;   /* [n_pairs] */
    size_t *pair_of; /* [n_matches]: the pair index of each match */
    double *w_ij, *w_ji; /* [n_pairs]: wins of pair[k].i and of pair[k].j, prior included */
    int *comp;       /* [n_items]: component label */
    double *theta, *grad, *step, *trial; /* [n_items] */
    double *h;       /* [n_items, n_items]: L + J, then its Cholesky factor */
} bt_work;

static void bt_work_free(bt_work *w)
{
    free(w->pair);
    free(w->pair_of);
    free(w->w_ij);
    free(w->w_ji);
    free(w->comp);
    free(w->theta);
    free(w->grad);
    free(w->step);
    free(w->trial);
    free(w->h);
    memset(w, 0, sizeof *w);
}

static int cmp_pair(const void *pa, const void *pb)
{
    const bt_pair *a = pa, *b = pb;
    if (a->i != b->i)
        return (a->i > b->i) - (a->i < b->i);
    return (a->j > b->j) - (a->j < b->j);
}

static bool bt_valid(const rank_match *m, size_t n_matches, int n_items)
{
    if (n_items < 1 || n_items > BT_MAX_ITEMS || (n_matches > 0 && !m))
        return false;
    for (size_t k = 0; k < n_matches; k++)
        if (m[k].i < 0 || m[k].i >= n_items || m[k].j < 0 || m[k].j >= n_items || m[k].i == m[k].j ||
            !(m[k].outcome >= 0.0 && m[k].outcome <= 1.0))
            return false;
    return true;
}

/* The distinct pairs of the matches, and each match's pair.  -1 on OOM. */
static int bt_work_init(bt_work *w, const rank_match *m, size_t n_matches, int n_items)
{
    memset(w, 0, sizeof *w);
    w->n_items = n_items;
    size_t nm = n_matches ? n_matches : 1, ni = (size_t)n_items;
    w->pair = malloc(nm * sizeof *w->pair);
    w->pair_of = malloc(nm * sizeof *w->pair_of);
    w->w_ij = malloc(nm * sizeof *w->w_ij);
    w->w_ji = malloc(nm * sizeof *w->w_ji);
    w->comp = malloc(ni * sizeof *w->comp);
    w->theta = malloc(ni * sizeof *w->theta);
    w->grad = malloc(ni * sizeof *w->grad);
    w->step = malloc(ni * sizeof *w->step);
    w->trial = malloc(ni * sizeof *w->trial);
    w->h = malloc(ni * ni * sizeof *w->h);
    if (!w->pair || !w->pair_of || !w->w_ij || !w->w_ji || !w->comp || !w->theta || !w->grad || !w->step ||
        !w->trial || !w->h) {
        bt_work_free(w);
        return -1;
    }
    for (size_t k = 0; k < n_matches; k++) {
        int a = m[k].i, b = m[k].j;
        w->pair[k] = (bt_pair){a < b ? a : b, a < b ? b : a};
    }
    qsort(w->pair, n_matches, sizeof *w->pair, cmp_pair);
    size_t np = 0;
    for (size_t k = 0; k < n_matches; k++)
        if (np == 0 || cmp_pair(&w->pair[np - 1], &w->pair[k]) != 0)
            w->pair[np++] = w->pair[k];
    w->n_pairs = np;
    for (size_t k = 0; k < n_matches; k++) {
        int a = m[k].i, b = m[k].j;
        bt_pair key = {a < b ? a : b, a < b ? b : a};
        bt_pair *hit = bsearch(&key, w->pair, np, sizeof *w->pair, cmp_pair);
        w->pair_of[k] = (size_t)(hit - w->pair);
    }
    return 0;
}

/* Pair weights from the matches counted count[k] times (NULL: once each),
 * plus the prior on every pair with a positive count. */
static void bt_gather(bt_work *w, const rank_match *m, size_t n_matches, const uint32_t *count)
{
    for (size_t p = 0; p < w->n_pairs; p++)
        w->w_ij[p] = w->w_ji[p] = 0.0;
    for (size_t k = 0; k < n_matches; k++) {
        double c = count ? (double)count[k] : 1.0;
        size_t p = w->pair_of[k];
        double win_i = m[k].i < m[k].j ? m[k].outcome : 1.0 - m[k].outcome; /* for pair[p].i */
        w->w_ij[p] += c * win_i;
        w->w_ji[p] += c * (1.0 - win_i);
    }
    /* Each counted match adds exactly c > 0 to w_ij + w_ji, so a pair met
     * iff that sum is positive. */
    for (size_t p = 0; p < w->n_pairs; p++)
        if (w->w_ij[p] + w->w_ji[p] > 0.0) {
            w->w_ij[p] += 0.5;
            w->w_ji[p] += 0.5;
        }
}

/* log(1 / (1 + e^x)), stable for large |x|. */
static double log_sigmoid_neg(double x) { return x > 0.0 ? -x - log1p(exp(-x)) : -log1p(exp(x)); }

static double bt_loglik_theta(const bt_work *w, const double *theta)
{
    double ll = 0.0;
    for (size_t p = 0; p < w->n_pairs; p++) {
        if (w->w_ij[p] == 0.0 && w->w_ji[p] == 0.0)
            continue;
        double x = theta[w->pair[p].j] - theta[w->pair[p].i];
        ll += w->w_ij[p] * log_sigmoid_neg(x) + w->w_ji[p] * log_sigmoid_neg(-x);
    }
    return ll;
}

/* Component labels of the graph of pairs with weight (union–find by relabelling). */
static void bt_components(bt_work *w)
{
    int n = w->n_items;
    for (int i = 0; i < n; i++)
        w->comp[i] = i;
    bool changed = true;
    while (changed) {
        changed = false;
        for (size_t p = 0; p < w->n_pairs; p++) {
            if (w->w_ij[p] == 0.0 && w->w_ji[p] == 0.0)
                continue;
            int a = w->comp[w->pair[p].i], b = w->comp[w->pair[p].j];
            if (a != b) {
                int lo = a < b ? a : b, hi = a < b ? b : a;
                for (int i = 0; i < n; i++)
                    if (w->comp[i] == hi)
                        w->comp[i] = lo;
                changed = true;
            }
        }
    }
}

/* Solve h x = b in place for symmetric positive definite h (n, n): Cholesky. */
static bool cholesky_solve(double *h, double *b, int n)
{
    for (int j = 0; j < n; j++) {
        double d = h[j * n + j];
        for (int k = 0; k < j; k++)
            d -= h[j * n + k] * h[j * n + k];
        if (!(d > 0.0))
            return false;
        d = sqrt(d);
        h[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = h[i * n + j];
            for (int k = 0; k < j; k++)
                s -= h[i * n + k] * h[j * n + k];
            h[i * n + j] = s / d;
        }
    }
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            b[i] -= h[i * n + k] * b[k];
        b[i] /= h[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        for (int k = i + 1; k < n; k++)
            b[i] -= h[k * n + i] * b[k];
        b[i] /= h[i * n + i];
    }
    return true;
}

/* Subtract each component's mean from theta. */
static void bt_centre(const bt_work *w, double *theta)
{
    int n = w->n_items;
    for (int c = 0; c < n; c++) {
        double sum = 0.0;
        int size = 0;
        for (int i = 0; i < n; i++)
            if (w->comp[i] == c) {
                sum += theta[i];
                size++;
            }
        if (size == 0)
            continue;
        for (int i = 0; i < n; i++)
            if (w->comp[i] == c)
                theta[i] -= sum / size;
    }
}

/* Maximise ℓ from the pair weights in w; theta left centred.  Returns the
 * number of Newton steps taken, negated when it did not converge. */
static int bt_newton(bt_work *w)
{
    int n = w->n_items;
    bt_components(w);
    /* Start from log(wins / losses) of each item, a cheap guess that is
     * already on the right scale (and not centred: bt_centre does that). */
    for (int i = 0; i < n; i++)
        w->grad[i] = w->step[i] = 0.0;
    for (size_t p = 0; p < w->n_pairs; p++) {
        w->grad[w->pair[p].i] += w->w_ij[p];
        w->step[w->pair[p].i] += w->w_ji[p];
        w->grad[w->pair[p].j] += w->w_ji[p];
        w->step[w->pair[p].j] += w->w_ij[p];
    }
    for (int i = 0; i < n; i++)
        w->theta[i] = w->grad[i] > 0.0 && w->step[i] > 0.0 ? log(w->grad[i] / w->step[i]) : 0.0;
    double ll = bt_loglik_theta(w, w->theta);
    for (int iter = 1; iter <= BT_MAX_ITER; iter++) {
        for (int i = 0; i < n; i++) {
            w->grad[i] = 0.0;
            for (int j = 0; j < n; j++)
                w->h[i * n + j] = w->comp[i] == w->comp[j] ? 1.0 : 0.0;
        }
        double gmax = 0.0, total = 0.0;
        for (size_t p = 0; p < w->n_pairs; p++) {
            int a = w->pair[p].i, b = w->pair[p].j;
            double nab = w->w_ij[p] + w->w_ji[p];
            if (nab == 0.0)
                continue;
            double pab = exp(log_sigmoid_neg(w->theta[b] - w->theta[a])), pba = 1.0 - pab;
            double g = w->w_ij[p] - nab * pab, lap = nab * pab * pba;
            w->grad[a] += g;
            w->grad[b] -= g;
            w->h[a * n + a] += lap;
            w->h[b * n + b] += lap;
            w->h[a * n + b] -= lap;
            w->h[b * n + a] -= lap;
            total += nab;
        }
        for (int i = 0; i < n; i++)
            gmax = fmax(gmax, fabs(w->grad[i]));
        if (gmax <= 1e-13 * (1.0 + total)) {
            bt_centre(w, w->theta);
            return iter - 1;
        }
        memcpy(w->step, w->grad, (size_t)n * sizeof *w->step);
        if (!cholesky_solve(w->h, w->step, n))
            break;
        double smax = 0.0;
        for (int i = 0; i < n; i++)
            smax = fmax(smax, fabs(w->step[i]));
        double t = 1.0, ll_new = ll;
        for (int halve = 0; halve < 60; halve++, t *= 0.5) {
            for (int i = 0; i < n; i++)
                w->trial[i] = w->theta[i] + t * w->step[i];
            ll_new = bt_loglik_theta(w, w->trial);
            if (ll_new >= ll - 1e-12 * (1.0 + fabs(ll)))
                break;
        }
        memcpy(w->theta, w->trial, (size_t)n * sizeof *w->theta);
        ll = ll_new;
        if (t * smax < 1e-12) {
            bt_centre(w, w->theta);
            return iter;
        }
    }
    bt_centre(w, w->theta);
    return -BT_MAX_ITER;
}

void rank_bt_free(rank_bt *b)
{
    if (!b)
        return;
    free(b->strength);
    free(b->elo);
    free(b->elo_lo);
    free(b->elo_hi);
    memset(b, 0, sizeof *b);
}

static double elo_of_theta(double theta) { return 1000.0 + 400.0 * theta / M_LN10; }

/* splitmix64: the bootstrap's own stream, the same on every machine. */
static uint64_t bt_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0, without modulo bias. */
static size_t bt_rand_below(uint64_t *state, size_t n)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % (uint64_t)n, r;
    do
        r = bt_rand(state);
    while (r >= limit);
    return (size_t)(r % (uint64_t)n);
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The q-quantile of sorted x[0..n), linear between order statistics
 * (numpy's default). */
static double quantile_sorted(const double *x, size_t n, double q)
{
    double h = q * (double)(n - 1);
    size_t k = (size_t)h;
    return k + 1 < n ? x[k] + (h - (double)k) * (x[k + 1] - x[k]) : x[n - 1];
}

static int bt_bootstrap(bt_work *w, const rank_match *m, size_t n_matches, int n_boot, uint64_t seed,
                        rank_bt *out)
{
    size_t ni = (size_t)w->n_items, nb = (size_t)n_boot;
    uint32_t *count = calloc(n_matches ? n_matches : 1, sizeof *count);
    double *elo = malloc(ni * nb * sizeof *elo); /* (n_items, n_boot) */
    if (!count || !elo) {
        free(count);
        free(elo);
        return -1;
    }
    uint64_t state = seed;
    for (size_t b = 0; b < nb; b++) {
        memset(count, 0, (n_matches ? n_matches : 1) * sizeof *count);
        for (size_t k = 0; k < n_matches; k++)
            count[bt_rand_below(&state, n_matches)]++;
        bt_gather(w, m, n_matches, count);
        bt_newton(w);
        for (size_t i = 0; i < ni; i++)
            elo[i * nb + b] = elo_of_theta(w->theta[i]);
    }
    for (size_t i = 0; i < ni; i++) {
        qsort(elo + i * nb, nb, sizeof *elo, cmp_double);
        out->elo_lo[i] = quantile_sorted(elo + i * nb, nb, 0.025);
        out->elo_hi[i] = quantile_sorted(elo + i * nb, nb, 0.975);
    }
    free(count);
    free(elo);
    return 0;
}

int rank_bt_fit(const rank_match *m, size_t n_matches, int n_items, int n_boot, uint64_t seed, rank_bt *out)
{
    memset(out, 0, sizeof *out);
    if (!bt_valid(m, n_matches, n_items) || n_boot < 0 || n_matches > UINT32_MAX)
        return -1;
    bt_work w;
    if (bt_work_init(&w, m, n_matches, n_items) != 0)
        return -1;
    size_t ni = (size_t)n_items;
    out->n_items = n_items;
    out->strength = malloc(ni * sizeof *out->strength);
    out->elo = malloc(ni * sizeof *out->elo);
    if (n_boot > 0) {
        out->elo_lo = malloc(ni * sizeof *out->elo_lo);
        out->elo_hi = malloc(ni * sizeof *out->elo_hi);
    }
    if (!out->strength || !out->elo || (n_boot > 0 && (!out->elo_lo || !out->elo_hi))) {
        bt_work_free(&w);
        rank_bt_free(out);
        return -1;
    }
    bt_gather(&w, m, n_matches, NULL);
    int iter = bt_newton(&w);
    out->iterations = iter < 0 ? -iter : iter;
    out->converged = iter >= 0;
    for (size_t i = 0; i < ni; i++) {
        out->strength[i] = exp(w.theta[i]);
        out->elo[i] = elo_of_theta(w.theta[i]);
    }
    if (n_boot > 0 && bt_bootstrap(&w, m, n_matches, n_boot, seed, out) != 0) {
        bt_work_free(&w);
        rank_bt_free(out);
        return -1;
    }
    bt_work_free(&w);
    return 0;
}

double rank_bt_loglik(const rank_match *m, size_t n_matches, int n_items, const double *strength)
{
    if (!bt_valid(m, n_matches, n_items) || !strength)
        return NAN;
    for (int i = 0; i < n_items; i++)
        if (!(strength[i] > 0.0) || isinf(strength[i]))
            return NAN;
    bt_work w;
    if (bt_work_init(&w, m, n_matches, n_items) != 0)
        return NAN;
    bt_gather(&w, m, n_matches, NULL);
    for (int i = 0; i < n_items; i++)
        w.theta[i] = log(strength[i]);
    double ll = bt_loglik_theta(&w, w.theta);
    bt_work_free(&w);
    return ll;
}
