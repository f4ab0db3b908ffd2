/*
 * test_guard.c — the canary guard's decision (util/guard.h), simulated in
 * memory with a seeded generator, checked after every request and every
 * rating as the server does:
 *   A/A        1,000 canaries of 2,000 requests at 50% share, 10% errors
 *              and 20% thumbs-down in both arms: at most 2% stopped
 *              (and at rare errors, 1%, where the normal approximation is
 *              weakest)
 *   power      the candidate at 20% errors: at least 90% stopped; at 45%
 *              thumbs-down: most stopped, on thumbs
 *   one-sided  a better candidate is never stopped
 * and, on hand-made counts: min_sample, the value of the statistic, the
 * reason text.  The measured rates are printed.
 */
#include "tests/testutil.h"

#include "util/guard.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* xorshift-multiply stream seeded by splitmix64; coin(p) in O(1). */
static uint64_t rnd_state;
static uint64_t rnd_next(void)
{
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
static bool coin(double p) { return (double)(rnd_next() >> 11) * 0x1.0p-53 < p; }

typedef struct {
    double err_s, err_c;   /* error rate per arm                       */
    double down_s, down_c; /* thumbs-down rate of thumbed replies      */
} arm_rates;

enum { REQUESTS = 2000 };
#define SHARE 0.5        /* share of requests sent to the candidate  */
#define THUMBED 0.2      /* replies that get a thumb                  */

typedef struct {
    int canaries, stopped, by_errors, by_thumbs;
    int64_t stop_requests; /* total requests seen at the stops */
} sim_result;

/* One canary: requests one by one; an errored request has no reply to
 * rate; a reply is thumbed with probability THUMBED.  guard_decide after
 * every request and every rating; stopped at the first stop.  Every stop
 * must respect min_sample. */
static guard_verdict run_canary(const arm_rates *r, const guard_params *gp, int *at)
{
    guard_counts c = {0};
    for (int i = 0; i < REQUESTS; i++) {
        bool cand = coin(SHARE);
        bool err = coin(cand ? r->err_c : r->err_s);
        if (cand)
            c.requests_c++, c.errors_c += err;
        else
            c.requests_s++, c.errors_s += err;
        guard_verdict v = guard_decide(&c, gp, NULL, 0);
        if (v == GUARD_KEEP && !err && coin(THUMBED)) {
            bool down = coin(cand ? r->down_c : r->down_s);
            if (cand)
                c.thumbed_c++, c.down_c += down;
            else
                c.thumbed_s++, c.down_s += down;
            v = guard_decide(&c, gp, NULL, 0);
        }
        if (v != GUARD_KEEP) {
            if (v == GUARD_STOP_ERRORS && (c.requests_s < gp->min_sample || c.requests_c < gp->min_sample))
                fail_msg("stopped on errors at %lld/%lld requests", (long long)c.requests_s,
                         (long long)c.requests_c);
            if (v == GUARD_STOP_THUMBS && (c.thumbed_s < gp->min_sample || c.thumbed_c < gp->min_sample))
                fail_msg("stopped on thumbs at %lld/%lld thumbed", (long long)c.thumbed_s, (long long)c.thumbed_c);
            *at = i + 1;
            return v;
        }
    }
    return GUARD_KEEP;
}

static sim_result simulate(const char *name, const arm_rates *r, int canaries, uint64_t seed)
{
    guard_params gp;
    guard_params_default(&gp);
    rnd_state = seed;
    sim_result s = {canaries, 0, 0, 0, 0};
    for (int k = 0; k < canaries; k++) {
        int at = 0;
        guard_verdict v = run_canary(r, &gp, &at);
        if (v != GUARD_KEEP) {
            s.stopped++;
            s.by_errors += v == GUARD_STOP_ERRORS;
            s.by_thumbs += v == GUARD_STOP_THUMBS;
            s.stop_requests += at;
        }
    }
    printf("guard %-28s %4d/%d canaries stopped (%.1f%%; %d on errors, %d on thumbs; mean stop at "
           "request %.0f)\n",
           name, s.stopped, canaries, 100.0 * s.stopped / canaries, s.by_errors, s.by_thumbs,
           s.stopped ? (double)s.stop_requests / s.stopped : 0.0);
    return s;
}

/* ---- Simulations ------------------------------------------------------------ */

static void test_aa(void **state)
{
    (void)state;
    arm_rates r = {0.10, 0.10, 0.20, 0.20};
    sim_result s = simulate("A/A 10% errors, 20% down", &r, 1000, 1);
    assert_true(s.stopped <= 20); /* at most 2% */
    /* Rare errors: the pooled variance is smallest relative to the jumps. */
    arm_rates rare = {0.01, 0.01, 0.05, 0.05};
    s = simulate("A/A 1% errors, 5% down", &rare, 500, 2);
    assert_true(s.stopped <= 10);
}

static void test_power(void **state)
{
    (void)state;
    arm_rates r = {0.10, 0.20, 0.20, 0.20};
    sim_result s = simulate("candidate at 20% errors", &r, 1000, 3);
    assert_true(s.stopped >= 900);
    assert_true(s.by_errors >= s.stopped - 20); /* stopped for the right reason */

    arm_rates t = {0.10, 0.10, 0.20, 0.45};
    s = simulate("candidate at 45% down", &t, 300, 4);
    assert_true(s.by_thumbs >= 240);
    assert_true(s.by_errors <= 6);
}

static void test_better_never_stopped(void **state)
{
    (void)state;
    arm_rates r = {0.10, 0.02, 0.20, 0.05};
    sim_result s = simulate("better candidate", &r, 300, 5);
    assert_int_equal(s.stopped, 0);
    /* The mirror of a stopping case: same counts, arms swapped. */
    guard_counts c = {.requests_s = 1000, .errors_s = 210, .requests_c = 1000, .errors_c = 102};
    assert_int_equal(guard_decide(&c, NULL, NULL, 0), GUARD_KEEP);
    assert_true(guard_pvalue(1000, 210, 1000, 102, NULL) == 1.0);
    assert_true(guard_pvalue(1000, 100, 1000, 100, NULL) == 1.0);
}

/* ---- Hand-made counts --------------------------------------------------------- */

static void test_min_sample(void **state)
{
    (void)state;
    guard_params gp;
    guard_params_default(&gp);
    assert_true(gp.alpha == 0.01 && gp.min_sample == 30 && gp.tau2 == 0.01);
    /* Every candidate request failed, stable has 1000 clean ones: still
     * nothing below 30 candidate requests. */
    guard_counts c = {.requests_s = 1000, .errors_s = 0, .requests_c = 29, .errors_c = 29};
    assert_int_equal(guard_decide(&c, &gp, NULL, 0), GUARD_KEEP);
    assert_true(guard_pvalue(1000, 0, 29, 29, &gp) == 1.0);
    c.requests_c = c.errors_c = 30;
    assert_int_equal(guard_decide(&c, &gp, NULL, 0), GUARD_STOP_ERRORS);
    /* The same on the stable side. */
    guard_counts s = {.requests_s = 29, .errors_s = 0, .requests_c = 1000, .errors_c = 1000};
    assert_int_equal(guard_decide(&s, &gp, NULL, 0), GUARD_KEEP);
    s.requests_s = 30;
    assert_int_equal(guard_decide(&s, &gp, NULL, 0), GUARD_STOP_ERRORS);
    /* Thumbs count thumbed replies, not requests. */
    guard_counts t = {.requests_s = 5000, .requests_c = 5000, .thumbed_s = 500, .down_s = 0, .thumbed_c = 29,
                      .down_c = 29};
    assert_int_equal(guard_decide(&t, &gp, NULL, 0), GUARD_KEEP);
    t.thumbed_c = t.down_c = 30;
    assert_int_equal(guard_decide(&t, &gp, NULL, 0), GUARD_STOP_THUMBS);
    /* A larger min_sample is honoured. */
    gp.min_sample = 100;
    assert_int_equal(guard_decide(&t, &gp, NULL, 0), GUARD_KEEP);
}

static void test_statistic(void **state)
{
    (void)state;
    /* 1/Lambda by hand (Python, same formula): 15.0% vs 10.0% of 1000 each:
     * D = .05, p = .125, V = .109375 * .002, tau2 = .01. */
    double p = guard_pvalue(1000, 100, 1000, 150, NULL);
    assert_true(fabs(p / 0.025478086624104106 - 1.0) < 1e-12);
    p = guard_pvalue(200, 40, 200, 60, NULL);
    assert_true(fabs(p / 0.26641482569969094 - 1.0) < 1e-12);
    /* Not significant at 0.005 with a fixed-n z of 2.9 — the price of looking all the time. */
    assert_true(guard_pvalue(400, 40, 400, 70, NULL) > 0.005);
    /* More bad events on the candidate: smaller p. */
    double prev = 1.0;
    for (int k = 100; k <= 200; k += 10) {
        double q = guard_pvalue(1000, 100, 1000, k, NULL);
        assert_true(q <= prev);
        prev = q;
    }
    assert_true(prev < 1e-6);
    /* Nonsense counts, zero events, a larger tau2. */
    assert_true(guard_pvalue(100, 101, 100, 50, NULL) == 1.0);
    assert_true(guard_pvalue(100, 0, 100, -1, NULL) == 1.0);
    assert_true(guard_pvalue(100, 0, 100, 0, NULL) == 1.0);
    guard_params gp;
    guard_params_default(&gp);
    gp.tau2 = 0.0;
    assert_true(guard_pvalue(1000, 0, 1000, 1000, &gp) == 1.0);
}

static void test_reason(void **state)
{
    (void)state;
    char why[160];
    guard_counts c = {.requests_s = 1000, .errors_s = 102, .requests_c = 1000, .errors_c = 210};
    assert_int_equal(guard_decide(&c, NULL, why, sizeof why), GUARD_STOP_ERRORS);
    assert_string_equal(why, "error rate 21.0% vs 10.2% (always-valid p = 2.65e-09 < 0.005)");
    /* Both metrics cross: errors named. */
    c.thumbed_s = 200, c.down_s = 40, c.thumbed_c = 200, c.down_c = 120;
    assert_int_equal(guard_decide(&c, NULL, why, sizeof why), GUARD_STOP_ERRORS);
    c.errors_c = 100;
    assert_int_equal(guard_decide(&c, NULL, why, sizeof why), GUARD_STOP_THUMBS);
    double p = guard_pvalue(200, 40, 200, 120, NULL);
    char want[160];
    snprintf(want, sizeof want, "thumbs-down rate 60.0%% vs 20.0%% (always-valid p = %.3g < 0.005)", p);
    assert_string_equal(why, want);
    assert_true(p < 1e-10);
    /* NULL reason, short buffer, untouched on keep. */
    assert_int_equal(guard_decide(&c, NULL, NULL, 0), GUARD_STOP_THUMBS);
    char small[12];
    assert_int_equal(guard_decide(&c, NULL, small, sizeof small), GUARD_STOP_THUMBS);
    assert_string_equal(small, "thumbs-down");
    strcpy(why, "untouched");
    guard_counts keep = {.requests_s = 1000, .errors_s = 100, .requests_c = 1000, .errors_c = 110};
    assert_int_equal(guard_decide(&keep, NULL, why, sizeof why), GUARD_KEEP);
    assert_string_equal(why, "untouched");
    /* A level outside (0, 1) never stops. */
    guard_params gp;
    guard_params_default(&gp);
    gp.alpha = 0.0;
    assert_int_equal(guard_decide(&c, &gp, NULL, 0), GUARD_KEEP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aa),
        cmocka_unit_test(test_power),
        cmocka_unit_test(test_better_never_stopped),
        cmocka_unit_test(test_min_sample),
        cmocka_unit_test(test_statistic),
        cmocka_unit_test(test_reason),
    };
    return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
