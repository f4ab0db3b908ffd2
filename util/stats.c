/*
 * stats.c — see stats.h.  Each section opens with its formula; the naive
 * versions sit right after the fast ones.
 */
#include "util/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values are ordered with NaN after every number and equal to itself, so
 * that qsort always sees a consistent order. */
static int cmp_value(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static int cmp_double(const void *pa, const void *pb)
{
    return cmp_value(*(const double *)pa, *(const double *)pb);
}

/* A sorted copy of x[0..n), or NULL when malloc fails. */
static double *sorted_copy(const double *x, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

/* ---- The standard normal distribution ---------------------------------- */

double stats_norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Φ⁻¹(p) for 0 < p <= 0.5.  Acklam's approximation (relative error below
 * 1.2e-9): a rational function of p - 1/2 in the centre and of
 * sqrt(-2 log p) in the tail; then one Halley step on e = Φ(x) - p, which
 * squares the error away.  Φ(x) for x <= 0 is 0.5 erfc(-x/√2), accurate to
 * the last bits even deep in the tail, which is why the upper half is
 * reached by symmetry instead. */
static double norm_ppf_lower(double p)
{
    static const double a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                6.680131188771972e+01,  -1.328068155288572e+01};
    static const double c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    }
    /* Halley: u = e / φ(x); x -= u / (1 + x u / 2). */
    double e = stats_norm_cdf(x) - p;
    double u = e * 2.50662827463100050242 * exp(0.5 * x * x); /* e sqrt(2π) e^(x²/2) */
    if (isfinite(u))
        x -= u / (1.0 + 0.5 * x * u);
    return x;
}

double stats_norm_ppf(double p)
{
    if (isnan(p))
        return NAN;
    if (p <= 0.0)
        return -INFINITY;
    if (p >= 1.0)
        return INFINITY;
    /* For p in (0.5, 1), 1 - p is exact (Sterbenz). */
    return p <= 0.5 ? norm_ppf_lower(p) : -norm_ppf_lower(1.0 - p);
}

/* ---- Proportions --------------------------------------------------------- */

/* Newcombe's form, as SciPy writes it: centre (2np + z²) / 2(n + z²),
 * half-width z sqrt(4npq + z²) / 2(n + z²). */
void stats_wilson(int64_t k, int64_t n, double z, double *lo, double *hi)
{
    if (n <= 0 || k < 0 || k > n) {
        *lo = 0.0, *hi = 1.0;
        return;
    }
    double nn = (double)n, p = (double)k / nn, q = 1.0 - p;
    double denom = 2.0 * (nn + z * z);
    double center = (2.0 * nn * p + z * z) / denom;
    double delta = z / denom * sqrt(4.0 * nn * p * q + z * z);
    *lo = k == 0 ? 0.0 : center - delta;
    *hi = k == n ? 1.0 : center + delta;
}

/*
 * Fisher's exact test.  With the margins fixed, the table is determined by
 * its top-left cell x, which is hypergeometric: N = a+b+c+d tables' worth of
 * items, K = a+b in the first row, n = a+c drawn into the first column:
 *   P(x) = C(K, x) C(N-K, n-x) / C(N, n),   max(0, n-(N-K)) <= x <= min(K, n)
 *   P(x+1) / P(x) = (K-x)(n-x) / ((x+1)(N-K-n+x+1))
 * P is log-concave, so the tables at most as probable as the observed one
 * form two tails: [lo, L] left of the mode and [R, hi] right of it.
 */
typedef struct {
    double N, K, n;   /* as above, in doubles (exact below 2^53)  */
    double lchoose_N; /* log C(N, n)                                */
} hyper;

static double lchoose(double m, double k) { return lgamma(m + 1.0) - lgamma(k + 1.0) - lgamma(m - k + 1.0); }

static double hyper_logp(const hyper *h, double x)
{
    return lchoose(h->K, x) + lchoose(h->N - h->K, h->n - x) - h->lchoose_N;
}

/* P(x+1) / P(x). */
static double hyper_ratio(const hyper *h, double x)
{
    return (h->K - x) * (h->n - x) / ((x + 1.0) * (h->N - h->K - h->n + x + 1.0));
}

/* Sum of P(y) / P(start) for y running from start by step (±1) to end
 * inclusive, the terms decreasing.  Stops once what is left is provably
 * below 1e-17 of the sum: log-concavity makes the ratio of successive terms
 * shrink outward, so the rest is at most t ρ / (1 - ρ). */
static double hyper_tail(const hyper *h, int64_t start, int64_t end, int step)
{
    double s = 1.0, t = 1.0;
    for (int64_t y = start; y != end;) {
        double rho = step > 0 ? hyper_ratio(h, (double)y) : 1.0 / hyper_ratio(h, (double)(y - 1));
        y += step;
        t *= rho;
        s += t;
        if (t == 0.0 || (rho < 1.0 && t * rho < 1e-17 * s * (1.0 - rho)))
            break;
    }
    return s;
}

double stats_fisher_two_sided(int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t cap = (int64_t)1 << 50;
    if (a < 0 || b < 0 || c < 0 || d < 0 || a > cap || b > cap || c > cap || d > cap)
        return NAN;
    int64_t N = a + b + c + d, K = a + b, n = a + c;
    int64_t lo = n - (N - K) > 0 ? n - (N - K) : 0, hi = K < n ? K : n;
    if (lo == hi)
        return 1.0; /* one table only (a row or column of zeros) */
    hyper h = {(double)N, (double)K, (double)n, 0.0};
    h.lchoose_N = lchoose(h.N, h.n);

    /* The mode: floor((n+1)(K+1)/(N+2)), nudged by the ratio in case the
     * double product rounded across an integer. */
    int64_t mode = (int64_t)floor(((double)n + 1.0) * ((double)K + 1.0) / ((double)N + 2.0));
    mode = mode < lo ? lo : mode > hi ? hi : mode;
    while (mode < hi && hyper_ratio(&h, (double)mode) > 1.0)
        mode++;
    while (mode > lo && hyper_ratio(&h, (double)(mode - 1)) < 1.0)
        mode--;

    double thr = hyper_logp(&h, (double)a) + log1p(1e-7);
    if (hyper_logp(&h, (double)mode) <= thr)
        return 1.0;

    double p = 0.0;
    /* Left tail: the largest L < mode with log P(L) <= thr (log P rises up to the mode). */
    if (hyper_logp(&h, (double)lo) <= thr) {
        int64_t ok = lo, bad = mode;
        while (bad - ok > 1) {
            int64_t mid = ok + (bad - ok) / 2;
            if (hyper_logp(&h, (double)mid) <= thr)
                ok = mid;
            else
                bad = mid;
        }
        p += exp(hyper_logp(&h, (double)ok)) * hyper_tail(&h, ok, lo, -1);
    }
    /* Right tail: the smallest R > mode with log P(R) <= thr. */
    if (hyper_logp(&h, (double)hi) <= thr) {
        int64_t ok = hi, bad = mode;
        while (ok - bad > 1) {
            int64_t mid = bad + (ok - bad) / 2;
            if (hyper_logp(&h, (double)mid) <= thr)
                ok = mid;
            else
                bad = mid;
        }
        p += exp(hyper_logp(&h, (double)ok)) * hyper_tail(&h, ok, hi, +1);
    }
    return p > 1.0 ? 1.0 : p;
}

/* C(m, k) by the product formula, exact up to long double rounding. */
static long double binom_ld(int64_t m, int64_t k)
{
    if (k < 0 || k > m)
        return 0.0L;
    if (k > m - k)
        k = m - k;
    long double r = 1.0L;
    for (int64_t i = 1; i <= k; i++)
        r = r * (long double)(m - k + i) / (long double)i;
    return r;
}

double stats_fisher_two_sided_naive(int64_t a, int64_t b, int64_t c, int64_t d)
{
    if (a < 0 || b < 0 || c < 0 || d < 0 || a + b + c + d > 10000)
        return NAN;
    int64_t N = a + b + c + d, K = a + b, n = a + c;
    long double total = 0.0L, hit = 0.0L;
    long double pobs = binom_ld(K, a) * binom_ld(N - K, n - a);
    for (int64_t x = 0; x <= n; x++) {
        long double px = binom_ld(K, x) * binom_ld(N - K, n - x);
        total += px;
        if (px <= pobs * (1.0L + 1e-7L))
            hit += px;
    }
    double p = (double)(hit / total);
    return p > 1.0 ? 1.0 : p;
}

/* ---- Mann–Whitney U ---------------------------------------------------------
 *
 * U1 = R1 - n1(n1+1)/2 with R1 the rank sum of x in the pooled sample (ties
 * averaged); U2 = n1 n2 - U1; the test uses U = max(U1, U2).
 * Exact: p = 2 P(U' >= U) under every ordering being equally likely; the
 * counts of orderings by U' are the coefficients of the Gaussian binomial
 *   [n1+n2 choose n1]_q = prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i).
 * Asymptotic: z = (U - n1 n2/2 - 0.5) / s,
 *   s² = n1 n2 / 12 ((n+1) - sum(t³ - t) / (n(n-1))), t the tie-group sizes,
 * p = 2 (1 - Φ(z)).  Both clipped to 1.
 */
enum { MWU_EXACT_MAX = 8 };

/* 2 P(U' >= u) for samples of m and n values without ties (m, n <= 8). */
static double mwu_exact_p(double u, int m, int n)
{
    /* Degree m n at the end, up to i n + i after a multiplication step. */
    int64_t poly[MWU_EXACT_MAX * (MWU_EXACT_MAX + 1) + 1] = {1};
    int deg = 0;
    for (int i = 1; i <= m; i++) {
        for (int k = deg + n + i; k >= n + i; k--) /* times (1 - q^(n+i)) */
            poly[k] -= poly[k - n - i];
        deg += n + i;
        for (int k = i; k <= deg; k++) /* divided by (1 - q^i) */
            poly[k] += poly[k - i];
        deg -= i;
    }
    double total = 0.0, tail = 0.0;
    for (int k = 0; k <= deg; k++) {
        total += (double)poly[k];
        if (k >= u)
            tail += (double)poly[k];
    }
    double p = 2.0 * tail / total;
    return p > 1.0 ? 1.0 : p;
}

static double mwu_asymptotic_p(double u1, double n1, double n2, double tie_term)
{
    double n = n1 + n2, u = fmax(u1, n1 * n2 - u1);
    double s2 = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if (!(s2 > 0.0))
        return 1.0; /* one value repeated: no evidence either way */
    double z = (u - n1 * n2 / 2.0 - 0.5) / sqrt(s2);
    double p = erfc(z / sqrt(2.0));
    return p > 1.0 ? 1.0 : p;
}

typedef struct {
    double v;
    int from_x;
} mwu_item;

static int cmp_item(const void *pa, const void *pb)
{
    return cmp_value(((const mwu_item *)pa)->v, ((const mwu_item *)pb)->v);
}

stats_mwu stats_mannwhitney(const double *x, size_t nx, const double *y, size_t ny)
{
    stats_mwu r = {0.0, 1.0, false};
    if (nx == 0 || ny == 0)
        return r;
    size_t n = nx + ny;
    mwu_item *it = malloc(n * sizeof *it);
    if (!it)
        return (stats_mwu){NAN, NAN, false};
    for (size_t i = 0; i < nx; i++)
        it[i] = (mwu_item){x[i], 1};
    for (size_t j = 0; j < ny; j++)
        it[nx + j] = (mwu_item){y[j], 0};
    qsort(it, n, sizeof *it, cmp_item);

    double r1 = 0.0, tie_term = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i, in_x = 0;
        while (j < n && cmp_value(it[j].v, it[i].v) == 0)
            in_x += (size_t)it[j++].from_x;
        double t = (double)(j - i), rank = ((double)i + 1.0 + (double)j) / 2.0; /* ranks i+1 .. j */
        r1 += rank * (double)in_x;
        tie_term += t * t * t - t;
        i = j;
    }
    free(it);

    double n1 = (double)nx, n2 = (double)ny;
    r.u = r1 - n1 * (n1 + 1.0) / 2.0;
    r.exact = nx <= MWU_EXACT_MAX && ny <= MWU_EXACT_MAX && tie_term == 0.0;
    r.p = r.exact ? mwu_exact_p(fmax(r.u, n1 * n2 - r.u), (int)nx, (int)ny)
                  : mwu_asymptotic_p(r.u, n1, n2, tie_term);
    return r;
}

stats_mwu stats_mannwhitney_naive(const double *x, size_t nx, const double *y, size_t ny)
{
    stats_mwu r = {0.0, 1.0, false};
    if (nx == 0 || ny == 0)
        return r;
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++) {
            int c = cmp_value(x[i], y[j]);
            r.u += c > 0 ? 1.0 : c == 0 ? 0.5 : 0.0;
        }
    /* sum over tie groups of t³ - t = sum over values of (t² - 1), t the
     * number of pooled values equal to it (itself included). */
    double tie_term = 0.0;
    for (size_t i = 0; i < nx + ny; i++) {
        double v = i < nx ? x[i] : y[i - nx], t = 0.0;
        for (size_t k = 0; k < nx; k++)
            t += cmp_value(x[k], v) == 0;
        for (size_t k = 0; k < ny; k++)
            t += cmp_value(y[k], v) == 0;
        tie_term += t * t - 1.0;
    }
    double n1 = (double)nx, n2 = (double)ny;
    r.exact = nx <= MWU_EXACT_MAX && ny <= MWU_EXACT_MAX && tie_term == 0.0;
    if (!r.exact) {
        r.p = mwu_asymptotic_p(r.u, n1, n2, tie_term);
        return r;
    }
    /* Every way to choose which of the n pooled ranks belong to x (the
     * n-bit masks with nx bits set, in increasing order by Gosper's step):
     * its U is the number of (x, y) pairs with the x rank above the y rank. */
    unsigned n = (unsigned)(nx + ny), last = ((1u << nx) - 1u) << ny;
    double u = fmax(r.u, n1 * n2 - r.u), hit = 0.0, all = 0.0;
    for (unsigned mask = (1u << nx) - 1u;;) {
        double um = 0.0, ys_below = 0.0;
        for (unsigned b = 0; b < n; b++) {
            if ((mask >> b) & 1u)
                um += ys_below;
            else
                ys_below += 1.0;
        }
        all += 1.0;
        hit += um >= u;
        if (mask == last)
            break;
        unsigned low = mask & (0u - mask), ripple = mask + low;
        mask = (((ripple ^ mask) >> 2) / low) | ripple;
    }
    r.p = fmin(1.0, 2.0 * hit / all);
    return r;
}

/* ---- Holm ------------------------------------------------------------------ */

typedef struct {
    double p;
    size_t i;
} holm_item;

static int cmp_holm(const void *pa, const void *pb)
{
    const holm_item *a = pa, *b = pb;
    int c = cmp_value(a->p, b->p);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

void stats_holm(const double *p, size_t n, double *adj)
{
    if (n == 0)
        return;
    holm_item *it = malloc(n * sizeof *it);
    if (!it) {
        for (size_t i = 0; i < n; i++)
            adj[i] = NAN;
        return;
    }
    for (size_t i = 0; i < n; i++)
        it[i] = (holm_item){p[i], i};
    qsort(it, n, sizeof *it, cmp_holm);
    double run = 0.0;
    for (size_t k = 0; k < n; k++) {
        double v = fmin(1.0, (double)(n - k) * it[k].p);
        run = v > run ? v : run;
        adj[it[k].i] = run;
    }
    free(it);
}

/* ---- Quantiles and the bootstrap ------------------------------------------ */

/* ceil(q n) as a 1-based rank within [1, n], forgiving the rounding of q n. */
static size_t nearest_rank(double q, size_t n)
{
    double t = q * (double)n, r = nearbyint(t);
    double k = fabs(t - r) <= 1e-9 * fmax(1.0, t) ? r : ceil(t);
    if (k < 1.0)
        return 1;
    return k > (double)n ? n : (size_t)k;
}

double stats_quantile(const double *x, size_t n, double q)
{
    if (n == 0 || !(q >= 0.0 && q <= 1.0))
        return NAN;
    double *s = sorted_copy(x, n);
    if (!s)
        return NAN;
    double v = s[nearest_rank(q, n) - 1];
    free(s);
    return v;
}

/* xoshiro256** seeded by splitmix64 (Blackman and Vigna). */
typedef struct {
    uint64_t s[4];
} prng;

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void prng_seed(prng *g, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        g->s[i] = splitmix64(&seed);
}

static uint64_t prng_next(prng *g)
{
    uint64_t *s = g->s;
    uint64_t out = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return out;
}

/* Uniform in [0, n), n >= 1: the 2^64 mod n lowest draws are rejected so
 * that every residue is equally likely. */
static uint64_t prng_below(prng *g, uint64_t n)
{
    uint64_t floor_ = (0 - n) % n, v;
    do
        v = prng_next(g);
    while (v < floor_);
    return v % n;
}

/* The rank-th smallest value of a resample (with replacement) of sorted[0..n):
 * draw n indices, count them, walk the counts up to rank. */
static double resample_quantile(prng *g, const double *sorted, size_t n, size_t rank, size_t *count)
{
    memset(count, 0, n * sizeof *count);
    for (size_t i = 0; i < n; i++)
        count[prng_below(g, n)]++;
    size_t k = 0, cum = count[0];
    while (cum < rank)
        cum += count[++k];
    return sorted[k];
}

void stats_bootstrap_quantile_diff(const double *x, size_t nx, const double *y, size_t ny, double q, int n_boot,
                                   uint64_t seed, double *est, double *lo, double *hi)
{
    *est = *lo = *hi = NAN;
    if (nx == 0 || ny == 0 || !(q >= 0.0 && q <= 1.0))
        return;
    double *sx = sorted_copy(x, nx), *sy = sorted_copy(y, ny);
    size_t rx = nearest_rank(q, nx), ry = nearest_rank(q, ny);
    size_t nmax = nx > ny ? nx : ny, nb = n_boot > 0 ? (size_t)n_boot : 1;
    size_t *count = malloc(nmax * sizeof *count);
    double *diff = malloc(nb * sizeof *diff);
    if (sx && sy && count && diff) {
        *est = sy[ry - 1] - sx[rx - 1];
        if (n_boot > 0) {
            prng g;
            prng_seed(&g, seed);
            for (size_t b = 0; b < nb; b++) {
                double qx = resample_quantile(&g, sx, nx, rx, count);
                double qy = resample_quantile(&g, sy, ny, ry, count);
                diff[b] = qy - qx;
            }
            qsort(diff, nb, sizeof *diff, cmp_double);
            *lo = diff[nearest_rank(0.025, nb) - 1];
            *hi = diff[nearest_rank(0.975, nb) - 1];
        }
    }
    free(sx);
    free(sy);
    free(count);
    free(diff);
}

/* ---- Planning ---------------------------------------------------------------- */

double stats_power_n_thumbs(double p1)
{
    p1 = p1 < 0.0 ? 0.0 : p1 > 1.0 ? 1.0 : p1;
    double p2 = p1 < 0.10 ? p1 + 0.10 : p1 - 0.10, pb = (p1 + p2) / 2.0;
    double za = stats_norm_ppf(0.975), zb = stats_norm_ppf(0.8);
    double s = za * sqrt(2.0 * pb * (1.0 - pb)) + zb * sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2));
    return s * s / (0.10 * 0.10);
}
