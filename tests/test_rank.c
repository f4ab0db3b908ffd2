/*
 * test_rank.c — util/rank.c against SciPy and against itself.
 *
 * The outside reference is the JSON in tests/fixtures/rank (SciPy 1.10's
 * answers, written by tools/rank_fixtures.py; read from the repository
 * root, where the suites run): p-values must agree to a relative 1e-6 (an
 * absolute 1e-12 below 1e-6), W+ and W- exactly, Bradley–Terry strengths
 * to a relative 1e-6 and the log-likelihood at SciPy's optimum to 1e-10.
 * Then the Wilcoxon test against its naive twin on seeded random inputs,
 * the sign test against its definition summed with exact binomial
 * coefficients, the fit against its own likelihood (perturbing the
 * strengths must lower it), hand-worked cases, the bootstrap (determinism,
 * containment) and the edges (nothing to test, one item, all ties, items
 * that never met, bad input).
 */
#include "tests/testutil.h"

#include "tests/scipy_fixtures.h"

#include "util/rank.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURES "tests/fixtures/rank/"

/* ---- Helpers ------------------------------------------------------------- */

/* The "cases" array of a fixture file (the caller json_decref's the root). */
static json_t *load_cases(const char *name, json_t **root)
{
    char path[256];
    snprintf(path, sizeof path, FIXTURES "%s", name);
    return fixture_cases(path, root);
}

/* The "matches" array of a Bradley–Terry case, [[i, j, outcome], ...] (malloc'ed). */
static rank_match *matches_of(const json_t *c, size_t *n)
{
    json_t *a = json_object_get(c, "matches");
    if (!json_is_array(a))
        fail_msg("fixture field \"matches\" is not an array");
    *n = json_array_size(a);
    rank_match *m = malloc((*n ? *n : 1) * sizeof *m);
    for (size_t k = 0; k < *n; k++) {
        json_t *t = json_array_get(a, k);
        m[k] = (rank_match){(int)json_integer_value(json_array_get(t, 0)),
                            (int)json_integer_value(json_array_get(t, 1)), json_number_value(json_array_get(t, 2))};
    }
    return m;
}

/* ---- Wilcoxon signed-rank ------------------------------------------------------ */

static void test_wilcoxon_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("wilcoxon.json", &root);
    size_t i;
    json_t *c;
    int exact = 0, approx = 0;
    json_array_foreach(cases, i, c) {
        size_t n;
        double *d = nums(c, "d", &n);
        const char *kind = json_string_value(json_object_get(c, "kind"));
        bool want_exact = strcmp(json_string_value(json_object_get(c, "method")), "exact") == 0;
        double want_p = num(c, "p"), wp = num(c, "w_plus"), wm = num(c, "w_minus");
        size_t want_n = (size_t)num(c, "n");
        rank_wilcoxon r[2] = {rank_wilcoxon_test(d, n), rank_wilcoxon_naive(d, n)};
        for (int k = 0; k < 2; k++)
            if (r[k].w_plus != wp || r[k].w_minus != wm || r[k].w != wp || r[k].n != want_n ||
                r[k].exact != want_exact || !p_close(r[k].p, want_p))
                fail_msg("wilcoxon%s case %zu (%s, n %zu): W+ %.17g W- %.17g n %zu p %.17g exact %d; "
                         "SciPy W+ %.17g W- %.17g n %zu p %.17g %s",
                         k ? "_naive" : "", i, kind, n, r[k].w_plus, r[k].w_minus, r[k].n, r[k].p, r[k].exact, wp,
                         wm, want_n, want_p, want_exact ? "exact" : "approx");
        exact += want_exact;
        approx += !want_exact;
        free(d);
    }
    assert_true(exact >= 15 && approx >= 10);
    json_decref(root);
}

static void test_wilcoxon_vs_naive(void **state)
{
    (void)state;
    rnd_state = 31;
    int n_exact = 0, n_approx = 0, n_recurrence = 0;
    double d[64];
    for (int it = 0; it < 1500; it++) {
        int kind = it % 4;
        /* 0: tie-free, small (enumeration); 1: tie-free up to 50 (recurrence);
         * 2: integer ties and zeros; 3: tie-free up to 64 with a zero now and then. */
        size_t n = (size_t)(kind == 0 ? rnd_int(0, 16) : kind == 1 ? rnd_int(21, 50) : rnd_int(0, 64));
        double shift = rnd_int(-2, 2) * 0.4;
        for (size_t i = 0; i < n; i++) {
            if (kind == 2)
                d[i] = rnd_int(-4, 4) + (rnd_int(0, 3) == 0 ? 0.0 : shift);
            else
                d[i] = rnd_normal() + shift;
            if (kind == 3 && rnd_int(0, 20) == 0)
                d[i] = 0.0;
        }
        rank_wilcoxon f = rank_wilcoxon_test(d, n), s = rank_wilcoxon_naive(d, n);
        if (f.w_plus != s.w_plus || f.w_minus != s.w_minus || f.n != s.n || f.exact != s.exact ||
            !rel_close(f.p, s.p, 1e-12))
            fail_msg("iteration %d (kind %d, n %zu): fast W+ %.17g W- %.17g p %.17g exact %d, naive W+ %.17g W- "
                     "%.17g p %.17g exact %d",
                     it, kind, n, f.w_plus, f.w_minus, f.p, f.exact, s.w_plus, s.w_minus, s.p, s.exact);
        /* The ranks always add up. */
        assert_true(f.w_plus + f.w_minus == 0.5 * (double)f.n * (double)(f.n + 1));
        assert_true(f.p >= 0.0 && f.p <= 1.0);
        n_exact += f.exact && f.n > 0;
        n_recurrence += f.exact && f.n > 20;
        n_approx += !f.exact;
    }
    assert_true(n_exact > 300 && n_recurrence > 100 && n_approx > 300);
}

static void test_wilcoxon_edges(void **state)
{
    (void)state;
    /* Nothing to test: p = 1, neither law used. */
    rank_wilcoxon r = rank_wilcoxon_test(NULL, 0);
    assert_true(r.n == 0 && r.p == 1.0 && r.w_plus == 0.0 && r.w_minus == 0.0 && !r.exact);
    double zeros[5] = {0};
    r = rank_wilcoxon_test(zeros, 5);
    assert_true(r.n == 0 && r.p == 1.0 && !r.exact);
    r = rank_wilcoxon_naive(zeros, 5);
    assert_true(r.n == 0 && r.p == 1.0 && !r.exact);
    /* One value: W+ is 0 or 1 with probability ½ each, p = 1. */
    double one = -3.0;
    r = rank_wilcoxon_test(&one, 1);
    assert_true(r.n == 1 && r.exact && r.w_plus == 0.0 && r.w_minus == 1.0 && r.p == 1.0);
    /* By hand: five positives, W+ = 15 is the one extreme of 32 patterns each way. */
    double five[5] = {0.5, 1.0, 1.5, 2.0, 2.5};
    r = rank_wilcoxon_test(five, 5);
    assert_true(r.exact && r.w_plus == 15.0 && r.p == 2.0 / 32.0);
    /* ... with one sign flipped on the smallest: W+ = 14, P(W+ >= 14) = 2/32. */
    five[0] = -0.5;
    r = rank_wilcoxon_test(five, 5);
    assert_true(r.exact && r.w_plus == 14.0 && r.w_minus == 1.0 && r.p == 4.0 / 32.0);
    /* A zero makes it approximate even though n is small and there are no ties. */
    double withzero[4] = {1.0, 0.0, 2.0, 3.0};
    r = rank_wilcoxon_test(withzero, 4);
    assert_true(!r.exact && r.n == 3 && r.w_plus == 6.0);
    /* All ties, all positive: ranks (n+1)/2 each, σ² = (n(n+1)(2n+1) - ½(n³-n))/24.
     * n = 4: W = 10, mean 5, σ² = (180 - 30)/24 = 6.25, z = 2, p = 2Φ(-2). */
    double ties[4] = {2.0, 2.0, 2.0, 2.0};
    r = rank_wilcoxon_test(ties, 4);
    assert_true(!r.exact && r.w_plus == 10.0 && rel_close(r.p, erfc(2.0 / sqrt(2.0)), 1e-14));
    /* Exactly 50 tie-free values is exact, 51 is not. */
    double many[51];
    for (int i = 0; i < 51; i++)
        many[i] = (i % 3 ? 1.0 : -1.0) * (i + 1);
    assert_true(rank_wilcoxon_test(many, 50).exact && !rank_wilcoxon_test(many, 51).exact);
}

/* ---- Sign test ------------------------------------------------------------------ */

static void test_sign_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("sign.json", &root);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        int64_t w = (int64_t)num(c, "wins"), l = (int64_t)num(c, "losses");
        double want = num(c, "p"), got = rank_sign_test(w, l);
        if (!p_close(got, want))
            fail_msg("sign_test(%lld, %lld) = %.17g, SciPy %.17g", (long long)w, (long long)l, got, want);
    }
    json_decref(root);
}

/* The definition, with binomial coefficients summed exactly in long double
 * (n <= 60: every C(n, i) < 2^64 is exact in the 64-bit mantissa). */
static double sign_test_by_definition(int n, int k)
{
    long double coef[61];
    coef[0] = 1.0L;
    for (int i = 1; i <= n; i++)
        coef[i] = coef[i - 1] * (long double)(n - i + 1) / (long double)i;
    long double sum = 0.0L;
    for (int i = 0; i <= n; i++)
        if (coef[i] <= coef[k] * (1.0L + 1e-7L))
            sum += coef[i];
    double p = (double)(sum / powl(2.0L, (long double)n));
    return p > 1.0 ? 1.0 : p;
}

static void test_sign_definition(void **state)
{
    (void)state;
    for (int n = 0; n <= 60; n++)
        for (int k = 0; k <= n; k++) {
            double got = rank_sign_test(k, n - k), want = sign_test_by_definition(n, k);
            if (!rel_close(got, want, 1e-12))
                fail_msg("sign_test(%d, %d) = %.17g, by definition %.17g", k, n - k, got, want);
            if (got != rank_sign_test(n - k, k))
                fail_msg("sign_test(%d, %d) is not symmetric", k, n - k);
        }
    assert_true(rank_sign_test(0, 0) == 1.0);
    assert_true(rank_sign_test(3, 3) == 1.0);
    assert_true(rank_sign_test(0, 3) == 0.25);
    assert_true(isnan(rank_sign_test(-1, 3)) && isnan(rank_sign_test(3, -1)));
    /* Deep tails stay in [0, 1] and fall with the imbalance. */
    double prev = 1.0;
    for (int64_t k = 500000; k >= 480000; k -= 1000) {
        double p = rank_sign_test(k, 1000000 - k);
        assert_true(p >= 0.0 && p <= prev);
        prev = p;
    }
    assert_true(prev < 1e-300 || prev == 0.0);
}

/* ---- Bradley–Terry ------------------------------------------------------------- */

static void test_bt_scipy(void **state)
{
    (void)state;
    json_t *root, *cases = load_cases("bt.json", &root);
    size_t ci;
    json_t *c;
    json_array_foreach(cases, ci, c) {
        size_t nm, ni;
        rank_match *m = matches_of(c, &nm);
        double *want = nums(c, "log_strength", &ni);
        const char *kind = json_string_value(json_object_get(c, "kind"));
        int n_items = (int)num(c, "n_items");
        assert_int_equal((int)ni, n_items);
        rank_bt bt;
        assert_int_equal(rank_bt_fit(m, nm, n_items, 0, 1, &bt), 0);
        assert_true(bt.converged && bt.n_items == n_items && !bt.elo_lo && !bt.elo_hi);
        double mean_log = 0.0;
        for (int i = 0; i < n_items; i++) {
            double s = exp(want[i]);
            if (!rel_close(bt.strength[i], s, 1e-6))
                fail_msg("bt %s item %d: strength %.17g, SciPy %.17g", kind, i, bt.strength[i], s);
            if (!rel_close(bt.elo[i], 1000.0 + 400.0 * log10(s), 1e-9))
                fail_msg("bt %s item %d: Elo %.17g, SciPy-side %.17g", kind, i, bt.elo[i], 1000.0 + 400.0 * log10(s));
            mean_log += log(bt.strength[i]) / n_items;
        }
        assert_true(fabs(mean_log) < 1e-12);
        /* The likelihood itself, at SciPy's optimum. */
        double *s = malloc(ni * sizeof *s);
        for (size_t i = 0; i < ni; i++)
            s[i] = exp(want[i]);
        double ll = rank_bt_loglik(m, nm, n_items, s), want_ll = num(c, "loglik");
        if (!rel_close(ll, want_ll, 1e-10))
            fail_msg("bt %s: loglik %.17g, SciPy-side %.17g", kind, ll, want_ll);
        /* Scale does not matter to the likelihood. */
        for (size_t i = 0; i < ni; i++)
            s[i] *= 7.0;
        assert_true(rel_close(rank_bt_loglik(m, nm, n_items, s), want_ll, 1e-12));
        free(s);
        rank_bt_free(&bt);
        free(m);
        free(want);
    }
    json_decref(root);
}

/* A random match set (malloc'ed): n items with normal log-strengths, a
 * tenth of the matches ties. */
static rank_match *random_matches(int n_items, size_t n, double spread)
{
    double theta[64];
    for (int i = 0; i < n_items; i++)
        theta[i] = spread * rnd_normal();
    rank_match *m = malloc(n * sizeof *m);
    for (size_t k = 0; k < n; k++) {
        int i = rnd_int(0, n_items - 1), j = rnd_int(0, n_items - 2);
        j += j >= i;
        double p = 1.0 / (1.0 + exp(theta[j] - theta[i]));
        m[k] = (rank_match){i, j, rnd_unit() < 0.1 ? 0.5 : (double)(rnd_unit() < p)};
    }
    return m;
}

static void test_bt_maximises(void **state)
{
    (void)state;
    rnd_state = 77;
    for (int it = 0; it < 40; it++) {
        int n_items = rnd_int(2, 12);
        size_t nm = (size_t)rnd_int(1, 200);
        rank_match *m = random_matches(n_items, nm, it % 2 ? 0.5 : 2.5);
        rank_bt bt;
        assert_int_equal(rank_bt_fit(m, nm, n_items, 0, 0, &bt), 0);
        assert_true(bt.converged);
        double best = rank_bt_loglik(m, nm, n_items, bt.strength), s[12];
        assert_true(isfinite(best) && best < 0.0);
        for (int trial = 0; trial < 20; trial++) {
            double eps = trial < 10 ? 1e-3 : 0.3;
            for (int i = 0; i < n_items; i++)
                s[i] = bt.strength[i] * exp(eps * rnd_normal());
            double ll = rank_bt_loglik(m, nm, n_items, s);
            if (!(ll < best))
                fail_msg("iteration %d: perturbed loglik %.17g >= fitted %.17g", it, ll, best);
        }
        rank_bt_free(&bt);
        free(m);
    }
}

static void test_bt_by_hand(void **state)
{
    (void)state;
    /* Two items: with the prior, s0/s1 = (wins0 + ½)/(wins1 + ½); a tie is ½ each.
     * 5 wins to 0: 5.5/0.5 = 11, so log s0 = ½ log 11, finite. */
    rank_match m[8];
    for (int k = 0; k < 5; k++)
        m[k] = (rank_match){k % 2 ? 0 : 1, k % 2 ? 1 : 0, k % 2 ? 1.0 : 0.0};
    rank_bt bt;
    assert_int_equal(rank_bt_fit(m, 5, 2, 0, 0, &bt), 0);
    assert_true(rel_close(bt.strength[0], sqrt(11.0), 1e-12) && rel_close(bt.strength[1], 1.0 / sqrt(11.0), 1e-12));
    assert_true(rel_close(bt.elo[0] - bt.elo[1], 400.0 * log10(11.0), 1e-12));
    rank_bt_free(&bt);
    /* Add a tie: 5.5 + 0.5 against 0.5 + 0.5. */
    m[5] = (rank_match){1, 0, 0.5};
    assert_int_equal(rank_bt_fit(m, 6, 2, 0, 0, &bt), 0);
    assert_true(rel_close(bt.strength[0] / bt.strength[1], 6.0, 1e-12));
    rank_bt_free(&bt);
    /* All ties among three: every strength 1, Elo 1000. */
    for (int k = 0; k < 6; k++)
        m[k] = (rank_match){k % 3, (k + 1) % 3, 0.5};
    assert_int_equal(rank_bt_fit(m, 6, 3, 0, 0, &bt), 0);
    for (int i = 0; i < 3; i++)
        assert_true(fabs(bt.strength[i] - 1.0) < 1e-14 && fabs(bt.elo[i] - 1000.0) < 1e-11);
    rank_bt_free(&bt);
}

static void test_bt_edges(void **state)
{
    (void)state;
    rank_bt bt;
    rank_match m[6] = {{0, 1, 1.0}, {0, 1, 1.0}, {1, 0, 1.0}, {2, 3, 1.0}, {2, 3, 1.0}, {2, 3, 1.0}};
    /* No items; bad matches. */
    assert_int_equal(rank_bt_fit(m, 0, 0, 0, 0, &bt), -1);
    assert_true(bt.strength == NULL && bt.n_items == 0);
    assert_int_equal(rank_bt_fit(m, 6, 3, 0, 0, &bt), -1); /* item 3 of 3 */
    rank_match self = {1, 1, 1.0}, odd = {0, 1, 1.5}, neg = {-1, 0, 1.0};
    assert_int_equal(rank_bt_fit(&self, 1, 2, 0, 0, &bt), -1);
    assert_int_equal(rank_bt_fit(&odd, 1, 2, 0, 0, &bt), -1);
    assert_int_equal(rank_bt_fit(&neg, 1, 2, 0, 0, &bt), -1);
    assert_int_equal(rank_bt_fit(m, 2, 2, -1, 0, &bt), -1);
    assert_true(isnan(rank_bt_loglik(&odd, 1, 2, (double[]){1.0, 1.0})));
    assert_true(isnan(rank_bt_loglik(m, 2, 2, (double[]){1.0, 0.0})));
    /* One item, no matches: strength 1. */
    assert_int_equal(rank_bt_fit(NULL, 0, 1, 100, 5, &bt), 0);
    assert_true(bt.converged && bt.strength[0] == 1.0 && bt.elo[0] == 1000.0);
    assert_true(bt.elo_lo[0] == 1000.0 && bt.elo_hi[0] == 1000.0);
    rank_bt_free(&bt);
    assert_true(bt.strength == NULL);
    rank_bt_free(&bt); /* twice: a zeroed struct */
    rank_bt_free(NULL);
    /* Two separate pairs and an item that never met anyone: each pair is
     * centred on its own (their scales cannot be compared), the loner gets 1. */
    assert_int_equal(rank_bt_fit(m, 6, 5, 0, 0, &bt), 0);
    assert_true(bt.converged && bt.strength[4] == 1.0);
    assert_true(rel_close(bt.strength[0] * bt.strength[1], 1.0, 1e-12));
    assert_true(rel_close(bt.strength[2] * bt.strength[3], 1.0, 1e-12));
    assert_true(rel_close(bt.strength[0] / bt.strength[1], 2.5 / 1.5, 1e-12));
    assert_true(rel_close(bt.strength[2] / bt.strength[3], 3.5 / 0.5, 1e-12));
    rank_bt_free(&bt);
}

static void test_bt_bootstrap(void **state)
{
    (void)state;
    rnd_state = 99;
    enum { ITEMS = 6, MATCHES = 400 };
    rank_match *m = random_matches(ITEMS, MATCHES, 1.0);
    rank_bt a, b, c;
    assert_int_equal(rank_bt_fit(m, MATCHES, ITEMS, 300, 12345, &a), 0);
    assert_int_equal(rank_bt_fit(m, MATCHES, ITEMS, 300, 12345, &b), 0);
    assert_int_equal(rank_bt_fit(m, MATCHES, ITEMS, 300, 54321, &c), 0);
    bool differ = false;
    for (int i = 0; i < ITEMS; i++) {
        assert_true(a.elo_lo[i] == b.elo_lo[i] && a.elo_hi[i] == b.elo_hi[i] && a.elo[i] == b.elo[i]);
        printf("item %d: Elo %.1f [%.1f, %.1f]\n", i, a.elo[i], a.elo_lo[i], a.elo_hi[i]);
        if (!(a.elo_lo[i] < a.elo[i] && a.elo[i] < a.elo_hi[i]))
            fail_msg("item %d: Elo %.17g outside [%.17g, %.17g]", i, a.elo[i], a.elo_lo[i], a.elo_hi[i]);
        /* About 130 matches per item: a few tens of Elo points either side. */
        assert_true(a.elo_hi[i] - a.elo_lo[i] > 20.0 && a.elo_hi[i] - a.elo_lo[i] < 400.0);
        differ |= c.elo_lo[i] != a.elo_lo[i] || c.elo_hi[i] != a.elo_hi[i];
        assert_true(fabs(c.elo_lo[i] - a.elo_lo[i]) < 40.0 && fabs(c.elo_hi[i] - a.elo_hi[i]) < 40.0);
    }
    assert_true(differ);
    rank_bt_free(&a);
    rank_bt_free(&b);
    rank_bt_free(&c);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilcoxon_scipy),
        cmocka_unit_test(test_wilcoxon_vs_naive),
        cmocka_unit_test(test_wilcoxon_edges),
        cmocka_unit_test(test_sign_scipy),
        cmocka_unit_test(test_sign_definition),
        cmocka_unit_test(test_bt_scipy),
        cmocka_unit_test(test_bt_maximises),
        cmocka_unit_test(test_bt_by_hand),
        cmocka_unit_test(test_bt_edges),
        cmocka_unit_test(test_bt_bootstrap),
    };
    return cmocka_run_group_tests_name("rank", tests, NULL, NULL);
}
