/*
 * test_stats.c — util/stats.c against SciPy and against itself.
 *
 * The outside reference is the JSON in tests/fixtures/stats (SciPy 1.10's
 * answers, written by tools/stats_fixtures.py; read from the repository
 * root, where the suites run): p-values must agree to a relative 1e-6 (an
 * absolute 1e-12 below 1e-6), intervals to 1e-9, the normal quantile to a
 * relative 1e-12.  Then each fast function against its naive twin on
 * seeded random inputs, Holm on hand-worked cases and against its
 * definition, quantiles on hand examples, and the bootstrap: determinism,
 * a pinned interval (the same on every machine), containment on a clear
 * case and coverage on simulated data.
 */
#include "tests/testutil.h"

#include "tests/scipy_fixtures.h"

#include "util/stats.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIXTURES "tests/fixtures/stats/"

/* ---- Helpers ------------------------------------------------------------- */

/* The "cases" array of a fixture file (the caller json_decref's the root). */
static json_t *load_cases(const char *name, json_t **root)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    return fixture_cases(path, root);
}

/* ---- The normal distribution ---------------------------------------------- */

static void test_norm_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("norm.json", &root);
    json_t *ppf = json_object_get(cases, "ppf"), *cdf = json_object_get(cases, "cdf");
    assert_true(json_array_size(ppf) >= 10 && json_array_size(cdf) >= 5);
    size_t i;
    json_t *c;
    json_array_foreach(ppf, i, c) {
        double p = num(c, "p"), want = num(c, "x"), got = stats_norm_ppf(p);
        bool ok = want == 0.0 ? fabs(got) <= 1e-15 : rel_close(got, want, 1e-12);
        if (!ok)
            fail_msg("norm_ppf(%.17g) = %.17g, SciPy %.17g (rel %.2g)", p, got, want, fabs(got / want - 1));
    }
    json_array_foreach(cdf, i, c) {
        double x = num(c, "x"), want = num(c, "p"), got = stats_norm_cdf(x);
        if (!rel_close(got, want, 1e-12))
            fail_msg("norm_cdf(%.17g) = %.17g, SciPy %.17g", x, got, want);
    }
    json_decref(root);
}

static void test_norm_edges(void **state)
{
    (void)state;
    assert_true(isinf(stats_norm_ppf(0.0)) && stats_norm_ppf(0.0) < 0);
    assert_true(isinf(stats_norm_ppf(1.0)) && stats_norm_ppf(1.0) > 0);
    assert_true(isinf(stats_norm_ppf(-0.5)) && isinf(stats_norm_ppf(2.0)));
    assert_true(isnan(stats_norm_ppf(NAN)));
    assert_true(stats_norm_ppf(0.5) == 0.0);
    /* Round trip and symmetry over the whole range. */
    for (int e = -300; e <= -1; e += 7) {
        double p = pow(10.0, e), x = stats_norm_ppf(p);
        if (!rel_close(stats_norm_cdf(x), p, 1e-12))
            fail_msg("cdf(ppf(1e%d)) = %.17g", e, stats_norm_cdf(x));
        double up = 1.0 - p, q = 1.0 - up; /* q: exactly the complement of up */
        if (up < 1.0 && !rel_close(stats_norm_ppf(up), -stats_norm_ppf(q), 1e-12))
            fail_msg("ppf(%.17g) = %.17g, want %.17g", up, stats_norm_ppf(up), -stats_norm_ppf(q));
    }
    for (double p = 0.001; p < 1.0; p += 0.001) {
        double x = stats_norm_ppf(p);
        if (!rel_close(stats_norm_cdf(x), p, 1e-13))
            fail_msg("cdf(ppf(%.17g)) = %.17g", p, stats_norm_cdf(x));
    }
}

/* ---- Wilson ----------------------------------------------------------------- */

static void test_wilson_scipy(void **state)
{
    (void)state;
    const double z = 1.959963984540054;
    json_t *root, *cases = load_cases("wilson.json", &root);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        int64_t k = (int64_t)num(c, "k"), n = (int64_t)num(c, "n");
        double lo = -1, hi = -1;
        stats_wilson(k, n, z, &lo, &hi);
        if (fabs(lo - num(c, "lo")) > 1e-9 || fabs(hi - num(c, "hi")) > 1e-9)
            fail_msg("wilson(%lld, %lld) = [%.17g, %.17g], SciPy [%.17g, %.17g]", (long long)k, (long long)n, lo,
                     hi, num(c, "lo"), num(c, "hi"));
    }
    json_decref(root);
    double lo = -1, hi = -1;
    stats_wilson(0, 0, z, &lo, &hi);
    assert_true(lo == 0.0 && hi == 1.0);
    stats_wilson(0, 10, z, &lo, &hi);
    assert_true(lo == 0.0 && hi > 0.2 && hi < 0.4);
    stats_wilson(10, 10, z, &lo, &hi);
    assert_true(hi == 1.0 && lo > 0.6 && lo < 0.8);
    /* The ends are exact at k = 0 and k = n, as SciPy sets them; inside, the
     * interval holds k/n. */
    for (int64_t n = 1; n <= 3000; n += n < 50 ? 1 : 37) {
        stats_wilson(0, n, z, &lo, &hi);
        if (lo != 0.0)
            fail_msg("wilson(0, %lld): lo %.17g", (long long)n, lo);
        stats_wilson(n, n, z, &lo, &hi);
        if (hi != 1.0)
            fail_msg("wilson(%lld, %lld): hi %.17g", (long long)n, (long long)n, hi);
        int64_t k = n / 3;
        stats_wilson(k, n, z, &lo, &hi);
        if (!(lo <= (double)k / (double)n && (double)k / (double)n <= hi && lo >= 0.0 && hi <= 1.0))
            fail_msg("wilson(%lld, %lld) = [%.17g, %.17g]", (long long)k, (long long)n, lo, hi);
    }
}

/* ---- Fisher ------------------------------------------------------------------- */

static void test_fisher_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("fisher.json", &root);
    size_t i;
    json_t *c;
    int large = 0;
    json_array_foreach(cases, i, c) {
        json_t *t = json_object_get(c, "table");
        int64_t v[4];
        for (int k = 0; k < 4; k++)
            v[k] = (int64_t)json_number_value(json_array_get(t, (size_t)k));
        double want = num(c, "p"), got = stats_fisher_two_sided(v[0], v[1], v[2], v[3]);
        if (!p_close(got, want))
            fail_msg("fisher [[%lld, %lld], [%lld, %lld]] (%s) = %.17g, SciPy %.17g", (long long)v[0],
                     (long long)v[1], (long long)v[2], (long long)v[3], json_string_value(json_object_get(c, "kind")),
                     got, want);
        if (v[0] + v[1] + v[2] + v[3] <= 2000) {
            double naive = stats_fisher_two_sided_naive(v[0], v[1], v[2], v[3]);
            if (!p_close(naive, want))
                fail_msg("fisher_naive [[%lld, %lld], [%lld, %lld]] = %.17g, SciPy %.17g", (long long)v[0],
                         (long long)v[1], (long long)v[2], (long long)v[3], naive, want);
        } else {
            large++;
        }
    }
    assert_true(large >= 5);
    json_decref(root);
}

static void test_fisher_vs_naive(void **state)
{
    (void)state;
    rnd_state = 11;
    int tiny = 0, one = 0;
    for (int it = 0; it < 1500; it++) {
        int hi = it % 3 == 0 ? 6 : it % 3 == 1 ? 25 : 60;
        int64_t a = rnd_int(0, hi), b = rnd_int(0, hi), c = rnd_int(0, hi), d = rnd_int(0, hi);
        if (it % 5 == 0) /* mirror tables: ties that only rounding separates */
            c = b, d = a;
        double fast = stats_fisher_two_sided(a, b, c, d), naive = stats_fisher_two_sided_naive(a, b, c, d);
        if (!rel_close(fast, naive, 1e-9))
            fail_msg("fisher [[%lld, %lld], [%lld, %lld]]: fast %.17g, naive %.17g", (long long)a, (long long)b,
                     (long long)c, (long long)d, fast, naive);
        assert_true(fast >= 0.0 && fast <= 1.0);
        tiny += fast < 1e-6;
        one += fast == 1.0;
    }
    /* The inputs reach both ends. */
    assert_true(tiny > 10 && one > 10);
    assert_true(isnan(stats_fisher_two_sided(-1, 2, 3, 4)));
    assert_true(isnan(stats_fisher_two_sided_naive(-1, 2, 3, 4)));
}

/* Tables of a million per arm: O(log N) lgamma calls and short tails,
 * not a walk over the support.  Generous bound (it is ~1000 times less
 * under -O2); a per-table O(N) walk takes seconds. */
static void test_fisher_large_fast(void **state)
{
    (void)state;
    clock_t t0 = clock();
    double sum = 0.0;
    for (int i = 0; i < 300; i++)
        sum += stats_fisher_two_sided(100000 + i * 37, 900000 - i * 37, 101000 - i * 11, 899000 + i * 11);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("fisher: 300 tables of 1,000,000 per arm in %.3f s\n", secs);
    assert_true(sum > 0.0 && sum <= 300.0);
    assert_true(secs < 3.0);
}

/* ---- Mann–Whitney ---------------------------------------------------------- */

static void test_mwu_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("mwu.json", &root);
    size_t i;
    json_t *c;
    int exact = 0;
    json_array_foreach(cases, i, c) {
        size_t nx, ny;
        double *x = nums(c, "x", &nx), *y = nums(c, "y", &ny);
        const char *kind = json_string_value(json_object_get(c, "kind"));
        bool want_exact = strcmp(json_string_value(json_object_get(c, "method")), "exact") == 0;
        double want_u = num(c, "u"), want_p = num(c, "p");
        stats_mwu r[2] = {stats_mannwhitney(x, nx, y, ny), stats_mannwhitney_naive(x, nx, y, ny)};
        for (int k = 0; k < 2; k++)
            if (r[k].u != want_u || !p_close(r[k].p, want_p) || r[k].exact != want_exact)
                fail_msg("mannwhitney%s case %zu (%s, %zu vs %zu): U %.17g p %.17g exact %d; SciPy U %.17g p %.17g %s",
                         k ? "_naive" : "", i, kind, nx, ny, r[k].u, r[k].p, r[k].exact, want_u, want_p,
                         want_exact ? "exact" : "asymptotic");
        exact += want_exact;
        free(x);
        free(y);
    }
    assert_true(exact >= 8);
    json_decref(root);
}

static void test_mwu_vs_naive(void **state)
{
    (void)state;
    rnd_state = 22;
    int n_exact = 0, n_asym = 0;
    double x[40], y[40];
    for (int it = 0; it < 600; it++) {
        size_t nx = (size_t)rnd_int(1, it % 2 ? 8 : 30), ny = (size_t)rnd_int(1, it % 2 ? 8 : 30);
        bool ties = it % 3 == 0;
        double shift = rnd_int(0, 3) * 0.5;
        for (size_t i = 0; i < nx; i++)
            x[i] = ties ? rnd_int(1, 5) : rnd_normal();
        for (size_t j = 0; j < ny; j++)
            y[j] = ties ? rnd_int(1, 5) + (rnd_int(0, 3) == 0) : rnd_normal() + shift;
        stats_mwu f = stats_mannwhitney(x, nx, y, ny), n = stats_mannwhitney_naive(x, nx, y, ny);
        if (f.u != n.u || f.exact != n.exact || !rel_close(f.p, n.p, 1e-12))
            fail_msg("mwu %zu vs %zu (ties %d): fast U %.17g p %.17g exact %d, naive U %.17g p %.17g exact %d", nx,
                     ny, ties, f.u, f.p, f.exact, n.u, n.p, n.exact);
        assert_true(f.p > 0.0 && f.p <= 1.0);
        n_exact += f.exact;
        n_asym += !f.exact;
    }
    assert_true(n_exact > 100 && n_asym > 100);
}

static void test_mwu_edges(void **state)
{
    (void)state;
    double x[] = {1, 2, 3}, y[] = {4, 5};
    stats_mwu r = stats_mannwhitney(x, 0, y, 2);
    assert_true(r.p == 1.0 && r.u == 0.0);
    r = stats_mannwhitney(x, 3, y, 0);
    assert_true(r.p == 1.0);
    /* Complete separation, exact: 2 / C(5, 2). */
    r = stats_mannwhitney(x, 3, y, 2);
    assert_true(r.exact && r.u == 0.0 && fabs(r.p - 0.2) < 1e-15);
    r = stats_mannwhitney(y, 2, x, 3);
    assert_true(r.exact && r.u == 6.0 && fabs(r.p - 0.2) < 1e-15);
    /* One tie anywhere: asymptotic. */
    double yt[] = {3, 5};
    r = stats_mannwhitney(x, 3, yt, 2);
    assert_true(!r.exact && r.u == 0.5);
    /* Identical samples; one value repeated (zero variance). */
    double same[] = {2, 2, 2, 2};
    r = stats_mannwhitney(same, 4, same, 3);
    assert_true(!r.exact && r.p == 1.0 && r.u == 6.0);
    r = stats_mannwhitney(x, 3, x, 3);
    assert_true(r.p == 1.0 && r.u == 4.5);
}

/* ---- Holm ------------------------------------------------------------------- */

static void expect_holm(const double *p, size_t n, const double *want)
{
    double adj[16];
    stats_holm(p, n, adj);
    for (size_t i = 0; i < n; i++)
        if (fabs(adj[i] - want[i]) > 1e-15)
            fail_msg("holm: adj[%zu] = %.17g, want %.17g", i, adj[i], want[i]);
}

static void test_holm(void **state)
{
    (void)state;
    /* Sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, .04*1 = .04 -> .06 (monotone). */
    expect_holm((double[]){0.01, 0.04, 0.03, 0.005}, 4, (double[]){0.03, 0.06, 0.06, 0.02});
    expect_holm((double[]){0.5, 0.6}, 2, (double[]){1.0, 1.0});            /* clipped */
    expect_holm((double[]){0.3, 0.2, 0.9}, 3, (double[]){0.6, 0.6, 0.9});
    expect_holm((double[]){0.01, 0.01, 0.02}, 3, (double[]){0.03, 0.03, 0.03}); /* ties */
    expect_holm((double[]){0.7}, 1, (double[]){0.7});
    expect_holm((double[]){0.001, 0.2, 0.012, 0.04, 0.03, 0.5}, 6,
                (double[]){0.006, 0.4, 0.06, 0.12, 0.12, 0.5}); /* .006 .06 .12 .12 .4 .5 */
    /* In place. */
    double p[] = {0.02, 0.01};
    stats_holm(p, 2, p);
    assert_true(fabs(p[0] - 0.02) < 1e-15 && fabs(p[1] - 0.02) < 1e-15);
    stats_holm(NULL, 0, NULL);

    /* Random vectors against the definition: adj_i = min(1, max over j
     * ranked no later than i of (n - rank_j) p_j). */
    rnd_state = 33;
    for (int it = 0; it < 300; it++) {
        size_t n = (size_t)rnd_int(1, 12);
        double q[12], adj[12];
        for (size_t i = 0; i < n; i++)
            q[i] = rnd_int(0, 3) == 0 ? rnd_int(1, 4) * 0.01 : rnd_unit() * 0.2; /* some ties */
        stats_holm(q, n, adj);
        for (size_t i = 0; i < n; i++) {
            double m = 0.0;
            for (size_t j = 0; j < n; j++) {
                size_t rj = 0;
                for (size_t k = 0; k < n; k++)
                    rj += q[k] < q[j] || (q[k] == q[j] && k < j);
                if (q[j] <= q[i])
                    m = fmax(m, (double)(n - rj) * q[j]);
            }
            if (fabs(adj[i] - fmin(1.0, m)) > 1e-15)
                fail_msg("holm random %d: adj[%zu] = %.17g, want %.17g", it, i, adj[i], fmin(1.0, m));
        }
    }
}

/* ---- Quantiles and the bootstrap ------------------------------------------ */

static void test_quantile(void **state)
{
    (void)state;
    double a[] = {3, 1, 2};
    assert_true(stats_quantile(a, 3, 0.5) == 2.0); /* rank ceil(1.5) = 2 */
    assert_true(stats_quantile(a, 3, 0.0) == 1.0);
    assert_true(stats_quantile(a, 3, 1.0) == 3.0);
    assert_true(stats_quantile(a, 3, 1.0 / 3.0) == 1.0); /* rank 1, not 2 */
    assert_true(stats_quantile(a, 3, 0.34) == 2.0);
    assert_true(a[0] == 3 && a[1] == 1 && a[2] == 2); /* a copy is sorted */
    double h[100];
    for (int i = 0; i < 100; i++)
        h[i] = 100 - i; /* 100 .. 1 */
    assert_true(stats_quantile(h, 100, 0.07) == 7.0); /* 0.07 * 100 = 7.000000000000001 */
    assert_true(stats_quantile(h, 100, 0.95) == 95.0);
    assert_true(stats_quantile(h, 100, 0.951) == 96.0);
    assert_true(stats_quantile(h, 100, 0.5) == 50.0);
    assert_true(stats_quantile(h, 100, 0.505) == 51.0);
    assert_true(stats_quantile(h, 100, 0.001) == 1.0);
    double one[] = {5};
    assert_true(stats_quantile(one, 1, 0.3) == 5.0);
    assert_true(isnan(stats_quantile(one, 0, 0.5)));
    assert_true(isnan(stats_quantile(one, 1, 1.5)));
    double ties[] = {1, 1, 1, 4, 4};
    assert_true(stats_quantile(ties, 5, 0.6) == 1.0 && stats_quantile(ties, 5, 0.61) == 4.0);
}

static void test_bootstrap(void **state)
{
    (void)state;
    enum { N = 200 };
    double x[N], y[N], est, lo, hi, est2, lo2, hi2;
    rnd_state = 44;
    for (int i = 0; i < N; i++) {
        x[i] = 100.0 + 10.0 * rnd_normal();
        y[i] = 130.0 + 10.0 * rnd_normal();
    }
    /* Determinism. */
    stats_bootstrap_quantile_diff(x, N, y, N, 0.5, 1000, 7, &est, &lo, &hi);
    stats_bootstrap_quantile_diff(x, N, y, N, 0.5, 1000, 7, &est2, &lo2, &hi2);
    assert_true(est == est2 && lo == lo2 && hi == hi2);
    /* A clear case: the estimate inside, both ends well above 0, width plausible
     * (the median's standard error is about 1.25 * 10 / sqrt(200) per arm). */
    printf("bootstrap p50 diff %.3f [%.3f, %.3f]\n", est, lo, hi);
    assert_true(est == stats_quantile(y, N, 0.5) - stats_quantile(x, N, 0.5));
    assert_true(lo < est && est < hi && lo > 20.0 && hi < 40.0);
    assert_true(hi - lo > 3.0 && hi - lo < 10.0);
    /* Another seed: another interval, nearly the same. */
    stats_bootstrap_quantile_diff(x, N, y, N, 0.5, 1000, 8, &est2, &lo2, &hi2);
    assert_true(est2 == est && (lo2 != lo || hi2 != hi));
    assert_true(fabs(lo2 - lo) < 1.5 && fabs(hi2 - hi) < 1.5);
    /* p95. */
    stats_bootstrap_quantile_diff(x, N, y, N, 0.95, 1000, 7, &est, &lo, &hi);
    assert_true(lo <= est && est <= hi && lo > 15.0);

    /* Pinned: the same seed gives this interval on every machine (the
     * values are sample values, so the comparison is exact). */
    double px[20], py[15];
    for (int i = 0; i < 20; i++)
        px[i] = i + 1;
    for (int i = 0; i < 15; i++)
        py[i] = 1.5 * (i + 1) + (i % 3);
    stats_bootstrap_quantile_diff(px, 20, py, 15, 0.5, 2000, 42, &est, &lo, &hi);
    printf("pinned bootstrap: est %.17g lo %.17g hi %.17g\n", est, lo, hi);
    assert_true(est == 3.0); /* medians 13 and 10 */
    assert_true(lo == -3.5 && hi == 9.5);

    /* Degenerate and empty. */
    double c1[] = {1, 1, 1}, c3[] = {3, 3};
    stats_bootstrap_quantile_diff(c1, 3, c3, 2, 0.5, 100, 1, &est, &lo, &hi);
    assert_true(est == 2.0 && lo == 2.0 && hi == 2.0);
    stats_bootstrap_quantile_diff(c1, 0, c3, 2, 0.5, 100, 1, &est, &lo, &hi);
    assert_true(isnan(est) && isnan(lo) && isnan(hi));
    stats_bootstrap_quantile_diff(c1, 3, c3, 0, 0.5, 100, 1, &est, &lo, &hi);
    assert_true(isnan(est) && isnan(lo) && isnan(hi));
    stats_bootstrap_quantile_diff(c1, 3, c3, 2, 0.5, 0, 1, &est, &lo, &hi);
    assert_true(est == 2.0 && isnan(lo) && isnan(hi));
}

/* Coverage: over simulated pairs of samples whose true medians differ by
 * a known amount, the 95% interval should hold it about 95% of the time
 * (percentile bootstrap of a median: roughly nominal at n = 60). */
static void test_bootstrap_coverage(void **state)
{
    (void)state;
    enum { N = 60, REPS = 300 };
    double x[N], y[N];
    rnd_state = 55;
    int hit = 0;
    for (int r = 0; r < REPS; r++) {
        for (int i = 0; i < N; i++) {
            x[i] = 50.0 + 10.0 * rnd_normal();
            y[i] = 58.0 + 10.0 * rnd_normal();
        }
        double est, lo, hi;
        stats_bootstrap_quantile_diff(x, N, y, N, 0.5, 400, (uint64_t)r, &est, &lo, &hi);
        hit += lo <= 8.0 && 8.0 <= hi;
    }
    printf("bootstrap coverage of the true p50 difference: %d/%d\n", hit, REPS);
    assert_true(hit >= (int)(0.88 * REPS) && hit <= (int)(0.995 * REPS));
}

/* ---- Power --------------------------------------------------------------------- */

static void test_power(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("power.json", &root);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        double p1 = num(c, "p1"), want = num(c, "n"), got = stats_power_n_thumbs(p1);
        if (!rel_close(got, want, 1e-9))
            fail_msg("power_n_thumbs(%.17g) = %.17g, SciPy-side formula %.17g", p1, got, want);
    }
    json_decref(root);
    /* By hand at p1 = 0.5: (1.95996 sqrt(2 .45 .55) + 0.84162 sqrt(.25 + .24))^2 / .01 = 387.4. */
    assert_true(fabs(stats_power_n_thumbs(0.5) - 387.4) < 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_scipy),
        cmocka_unit_test(test_norm_edges),
        cmocka_unit_test(test_wilson_scipy),
        cmocka_unit_test(test_fisher_scipy),
        cmocka_unit_test(test_fisher_vs_naive),
        cmocka_unit_test(test_fisher_large_fast),
        cmocka_unit_test(test_mwu_scipy),
        cmocka_unit_test(test_mwu_vs_naive),
        cmocka_unit_test(test_mwu_edges),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_bootstrap_coverage),
        cmocka_unit_test(test_power),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
