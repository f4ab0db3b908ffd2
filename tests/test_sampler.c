/*
 * test_sampler.c — what the sampler draws, against distributions worked out
 * by hand (engine/sampler.h).
 *
 * Each test fixes a few logits whose softmax is known in closed form (the
 * logits are ln of chosen probabilities), names the set of tokens each cut
 * must keep, and draws N seeded samples:
 *
 *   - a token outside the kept set must never be drawn, every token inside
 *     must be;
 *   - the counts of the kept tokens must fit softmax(logit / T) over the
 *     kept set: Pearson's chi-square statistic below the level a correct
 *     sampler exceeds with probability 1e-7 (CHI2_CRIT, from the chi-square
 *     distribution; about ten such checks in the file, so a correct sampler
 *     fails one with probability below 1e-6 whatever the seed).
 *
 * With N = 200000 (50000 over the 3000-token vocabulary) a wrong
 * distribution fails far beyond that level: a token whose probability is
 * off by 0.01 adds about N·0.01²/p (20 / p) to the statistic.  The cuts (top-k, top-p, min-p) are computed on the
 * temperature-1 probabilities, then the temperature is applied to what is
 * left (the chain in sampler.h); the tests use temperatures other than 1
 * so that applying it before a cut, after the draw or not at all shows.
 */
#include "tests/testutil.h"

#include "engine/sampler.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_DRAWS 200000

/* The chi-square level exceeded with probability 1e-7, by degrees of
 * freedom 1..10 (mpmath: the root of gammainc(df/2, x/2, inf,
 * regularized=True) = 1e-7). */
static const double CHI2_CRIT[11] = {0, 28.374, 32.2362, 35.4058, 38.2396, 40.863,
                                     43.3378, 45.6998, 47.9725, 50.1718, 52.3095};

/* Draw n tokens from a fresh sampler after accepting `history`; counts (V)
 * is filled. */
static void draw(const sampler_params *p, const float *logits, int V, const int32_t *history, int n_hist,
                 long n, long *counts)
{
    sampler *s = sampler_new(p, V);
    for (int i = 0; i < n_hist; i++)
        sampler_accept(s, history[i]);
    float *l = malloc((size_t)V * sizeof *l);
    memset(counts, 0, (size_t)V * sizeof *counts);
    for (long k = 0; k < n; k++) {
        memcpy(l, logits, (size_t)V * sizeof *l);
        int32_t id = sampler_sample(s, l);
        if (id < 0 || id >= V)
            fail_msg("sampled id %d outside the vocabulary of %d", id, V);
        counts[id]++;
    }
    free(l);
    sampler_free(s);
}

/* softmax(logit / T) over the tokens with keep[i] set, 0 elsewhere (in
 * double, from the logits the test wrote down). */
static void expected_probs(const double *logit, const bool *keep, int V, double T, double *p)
{
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < V; i++)
        if (keep[i] && logit[i] > mx)
            mx = logit[i];
    for (int i = 0; i < V; i++) {
        p[i] = keep[i] ? exp((logit[i] - mx) / T) : 0.0;
        sum += p[i];
    }
    for (int i = 0; i < V; i++)
        p[i] /= sum;
}

/* The counts fit p: nothing outside its support, everything inside drawn,
 * chi-square below the 1e-7 level. */
static void expect_fit(const char *what, const long *counts, const double *p, int V, long n)
{
    double chi2 = 0;
    int kept = 0;
    for (int i = 0; i < V; i++) {
        if (p[i] == 0.0) {
            if (counts[i])
                fail_msg("%s: token %d, outside the kept set, drawn %ld times of %ld", what, i, counts[i], n);
            continue;
        }
        kept++;
        if (!counts[i])
            fail_msg("%s: token %d (probability %.4f) never drawn in %ld", what, i, p[i], n);
        double e = p[i] * (double)n, d = (double)counts[i] - e;
        chi2 += d * d / e;
    }
    assert_true(kept >= 1 && kept <= 11);
    if (kept == 1)
        return; /* a single token: all draws are it (checked above) */
    if (!(chi2 < CHI2_CRIT[kept - 1])) {
        for (int i = 0; i < V; i++)
            if (p[i] > 0)
                printf("  token %d: drawn %.5f, expected %.5f\n", i, (double)counts[i] / (double)n, p[i]);
        fail_msg("%s: chi-square %.1f with %d degrees of freedom, above %.1f (p < 1e-7)", what, chi2, kept - 1,
                 CHI2_CRIT[kept - 1]);
    }
    printf("  %s: chi-square %.1f, %d degrees of freedom (limit %.1f)\n", what, chi2, kept - 1, CHI2_CRIT[kept - 1]);
}

static sampler_params plain(float temp, uint64_t seed)
{
    sampler_params p = sampler_defaults();
    p.temp = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.seed = seed;
    return p;
}

/* Five tokens with temperature-1 probabilities 0.4 0.3 0.15 0.1 0.05
 * (logits ln p; any constant added changes nothing). */
#define V5 5
static const double P5[V5] = {0.4, 0.3, 0.15, 0.1, 0.05};

static void logits5(double *ld, float *lf)
{
    for (int i = 0; i < V5; i++) {
        ld[i] = log(P5[i]) + 3.0;
        lf[i] = (float)ld[i];
    }
}

static void test_temperature_follows_softmax(void **state)
{
    (void)state;
    double ld[V5], p[V5];
    float lf[V5];
    long counts[V5];
    logits5(ld, lf);
    bool all[V5] = {true, true, true, true, true};
    /* T = 1: the probabilities themselves */
    sampler_params sp = plain(1.0f, 11);
    draw(&sp, lf, V5, NULL, 0, N_DRAWS, counts);
    expect_fit("T = 1", counts, P5, V5, N_DRAWS);
    /* T = 0.5: p² normalised = 0.16 0.09 0.0225 0.01 0.0025 over 0.285 */
    static const double sq[V5] = {0.16 / 0.285, 0.09 / 0.285, 0.0225 / 0.285, 0.01 / 0.285, 0.0025 / 0.285};
    expected_probs(ld, all, V5, 0.5, p);
    for (int i = 0; i < V5; i++)
        assert_true(fabs(p[i] - sq[i]) < 1e-12); /* the helper agrees with the hand figures */
    sp = plain(0.5f, 12);
    draw(&sp, lf, V5, NULL, 0, N_DRAWS, counts);
    expect_fit("T = 0.5", counts, sq, V5, N_DRAWS);
    /* T = 3: flatter, p^(1/3) normalised */
    expected_probs(ld, all, V5, 3.0, p);
    sp = plain(3.0f, 13);
    draw(&sp, lf, V5, NULL, 0, N_DRAWS, counts);
    expect_fit("T = 3", counts, p, V5, N_DRAWS);
}

/* top-p = P keeps the smallest prefix (by probability at temperature 1)
 * whose mass reaches P. */
static void test_top_p_keeps_smallest_prefix(void **state)
{
    (void)state;
    double ld[V5], p[V5];
    float lf[V5];
    long counts[V5];
    logits5(ld, lf);
    static const struct {
        float top_p;
        int kept; /* prefix mass: 0.4 0.7 0.85 0.95 1.0 */
    } cases[] = {{0.35f, 1}, {0.5f, 2}, {0.69f, 2}, {0.72f, 3}, {0.8f, 3}, {0.9f, 4}, {0.97f, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        bool keep[V5];
        for (int i = 0; i < V5; i++)
            keep[i] = i < cases[c].kept;
        /* temperature 2 after the cut: at T = 2 the prefix masses would be
         * 0.30 0.56 0.74 0.89 1, so a cut made after the temperature keeps
         * more tokens than these */
        sampler_params sp = plain(2.0f, 100 + c);
        sp.top_p = cases[c].top_p;
        draw(&sp, lf, V5, NULL, 0, N_DRAWS, counts);
        expected_probs(ld, keep, V5, 2.0, p);
        char what[64];
        snprintf(what, sizeof what, "top-p %.2f, T = 2", cases[c].top_p);
        if (cases[c].kept == 1 || c == 4 || c == 6)
            expect_fit(what, counts, p, V5, N_DRAWS);
        else /* the support only: keeps the chi-square checks few */
            for (int i = 0; i < V5; i++)
                if (keep[i] != (counts[i] > 0))
                    fail_msg("%s: token %d drawn %ld times, expected %s", what, i, counts[i],
                             keep[i] ? "some" : "none");
    }
}

/* min-p = M keeps the tokens whose probability is at least M times the
 * largest, at temperature 1. */
static void test_min_p_relative_to_top(void **state)
{
    (void)state;
    double ld[V5], p[V5];
    float lf[V5];
    long counts[V5];
    logits5(ld, lf);
    /* p / p_max = 1 0.75 0.375 0.25 0.125.  min-p 0.35 keeps three; were
     * it compared with the probability itself (0.4 0.3 ...) it would keep
     * one, and at temperature 3 (p^(1/3) / max: 1 0.91 0.72 0.63 0.5) all
     * five. */
    bool keep[V5] = {true, true, true, false, false};
    sampler_params sp = plain(3.0f, 21);
    sp.min_p = 0.35f;
    draw(&sp, lf, V5, NULL, 0, N_DRAWS, counts);
    expected_probs(ld, keep, V5, 3.0, p);
    expect_fit("min-p 0.35, T = 3", counts, p, V5, N_DRAWS);
    /* min-p 0.2 keeps four, 0.8 one */
    sp.min_p = 0.2f;
    draw(&sp, lf, V5, NULL, 0, N_DRAWS / 4, counts);
    for (int i = 0; i < V5; i++)
        assert_true((counts[i] > 0) == (i < 4));
    sp.min_p = 0.8f;
    draw(&sp, lf, V5, NULL, 0, N_DRAWS / 4, counts);
    assert_true(counts[0] == N_DRAWS / 4);
}

/* Both cuts and top-k together: each removes what it should. */
static void test_cuts_combined(void **state)
{
    (void)state;
    /* ten tokens, probabilities 0.3 0.2 0.15 0.1 0.08 0.07 0.05 0.03 0.01 0.01 */
    enum { V = 10 };
    static const double pr[V] = {0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.03, 0.01, 0.01};
    double ld[V], p[V];
    float lf[V];
    long counts[V];
    /* shuffled ids: the sampler must sort, not rely on the order given */
    static const int at[V] = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4};
    for (int i = 0; i < V; i++) {
        ld[at[i]] = log(pr[i]);
        lf[at[i]] = (float)ld[at[i]];
    }
    /* top-k 6 keeps ranks 0-5 (mass 0.9); top-p 0.6 of those: 0.3 0.5
     * 0.65 -> ranks 0-2; min-p 0.6: 0.15 / 0.3 = 0.5 < 0.6 -> ranks 0-1 */
    sampler_params sp = plain(1.5f, 31);
    sp.top_k = 6;
    sp.top_p = 0.6f;
    draw(&sp, lf, V, NULL, 0, N_DRAWS, counts);
    bool keep[V] = {false};
    keep[at[0]] = keep[at[1]] = keep[at[2]] = true;
    expected_probs(ld, keep, V, 1.5, p);
    expect_fit("top-k 6, top-p 0.6, T = 1.5", counts, p, V, N_DRAWS);
    sp.min_p = 0.6f;
    draw(&sp, lf, V, NULL, 0, N_DRAWS / 4, counts);
    for (int i = 0; i < V; i++)
        if ((counts[i] > 0) != (i == at[0] || i == at[1]))
            fail_msg("with min-p 0.6 too: token %d drawn %ld times (only %d and %d may be)", i, counts[i], at[0],
                     at[1]);
}

/* top-k on a large vocabulary: exactly the k largest logits (found here by
 * sorting every one), drawn in softmax proportions. */
static int by_logit_desc(const void *a, const void *b, void *l)
{
    const float *lg = l;
    int x = *(const int *)a, y = *(const int *)b;
    return lg[x] != lg[y] ? (lg[x] < lg[y] ? 1 : -1) : x - y;
}

static void test_top_k_large_vocabulary(void **state)
{
    (void)state;
    enum { V = 3000, K = 7 };
    float *lf = malloc(V * sizeof *lf);
    double *ld = malloc(V * sizeof *ld), *p = malloc(V * sizeof *p);
    long *counts = malloc(V * sizeof *counts);
    bool *keep = calloc(V, sizeof *keep);
    int *order = malloc(V * sizeof *order);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < V; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* distinct values on a 1/4096 grid in [0, 8) */
        lf[i] = (float)(x % 32768) / 4096.0f;
        ld[i] = lf[i];
        order[i] = i;
    }
    qsort_r(order, V, sizeof *order, by_logit_desc, lf);
    assert_true(lf[order[K - 1]] > lf[order[K]]); /* no tie at the edge */
    for (int i = 0; i < K; i++)
        keep[order[i]] = true;
    /* a quarter of the draws: each one sorts 3000 logits */
    sampler_params sp = plain(0.7f, 41);
    sp.top_k = K;
    draw(&sp, lf, V, NULL, 0, N_DRAWS / 4, counts);
    expected_probs(ld, keep, V, 0.7, p);
    expect_fit("top-k 7 of 3000, T = 0.7", counts, p, V, N_DRAWS / 4);
    free(lf);
    free(ld);
    free(p);
    free(counts);
    free(keep);
    free(order);
}

/* The repetition penalty on a hand-made history: a positive logit divided
 * by R, a negative one multiplied, each distinct token once however often
 * it occurs, only the last repeat_last_n tokens. */
static void test_repeat_penalty_by_hand(void **state)
{
    (void)state;
    enum { V = 6 };
    static const float l[V] = {1.0f, 2.0f, -0.5f, 0.5f, 1.5f, 0.0f};
    long counts[V];
    double p[V];
    bool all[V] = {true, true, true, true, true, true};
    /* window of 4 over the history 3 1 1 2 1: token 3 has left it; 1
     * (twice in it) penalised once, 2 once */
    static const int32_t hist[] = {3, 1, 1, 2, 1};
    sampler_params sp = plain(1.0f, 51);
    sp.repeat_penalty = 2.0f;
    sp.repeat_last_n = 4;
    static const double want_logits[V] = {1.0, 1.0 /* 2 / 2 */, -1.0 /* -0.5 * 2 */, 0.5, 1.5, 0.0};
    draw(&sp, l, V, hist, 5, N_DRAWS, counts);
    expected_probs(want_logits, all, V, 1.0, p);
    expect_fit("repeat penalty 2 over the last 4", counts, p, V, N_DRAWS);

    /* greedy: 1 (2.0) is penalised to 1.0 and loses to 4 (1.5); with a
     * penalty of 1.2 (2 / 1.2 = 1.67) it still wins */
    sp.temp = 0.0f;
    for (int k = 0; k < 2; k++) {
        sp.repeat_penalty = k ? 1.2f : 2.0f;
        sampler *s = sampler_new(&sp, V);
        for (int i = 0; i < 5; i++)
            sampler_accept(s, hist[i]);
        float c[V];
        memcpy(c, l, sizeof c);
        assert_int_equal(sampler_sample(s, c), k ? 1 : 4);
        sampler_free(s);
    }
    /* a penalty on a negative logit pushes it further down: with every
     * logit negative the penalised best loses */
    static const float neg[V] = {-3.0f, -1.0f, -1.1f, -4.0f, -5.0f, -6.0f};
    sp.repeat_penalty = 1.5f; /* -1.0 * 1.5 = -1.5 < -1.1 */
    sampler *s = sampler_new(&sp, V);
    sampler_accept(s, 1);
    float c[V];
    memcpy(c, neg, sizeof c);
    assert_int_equal(sampler_sample(s, c), 2);
    sampler_free(s);

    /* token 0 is a token like any other: penalised, 0 (2.0 -> 1.0) loses
     * to 4 (1.5); ids outside the vocabulary are not remembered (and
     * touch nothing) */
    static const float first[V] = {2.0f, 1.0f, -0.5f, 0.5f, 1.5f, 0.0f};
    sp.repeat_penalty = 2.0f;
    s = sampler_new(&sp, V);
    sampler_accept(s, -1);
    sampler_accept(s, V);
    sampler_accept(s, 0);
    memcpy(c, first, sizeof c);
    assert_int_equal(sampler_sample(s, c), 4);
    sampler_free(s);
    s = sampler_new(&sp, V);
    sampler_accept(s, -1);
    sampler_accept(s, V + 7);
    memcpy(c, first, sizeof c);
    assert_int_equal(sampler_sample(s, c), 0); /* nothing was penalised */
    sampler_free(s);
}

/* Equal logits cut by top-k: the lowest ids are the ones kept. */
static void test_top_k_ties_keep_lowest_ids(void **state)
{
    (void)state;
    enum { V = 50 };
    float l[V];
    sampler_params sp = plain(1.0f, 5);
    sp.top_k = 3;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < V; i++)
            l[i] = 1.0f;
        sp.seed = (uint64_t)round;
        sampler *s = sampler_new(&sp, V);
        int32_t id = sampler_sample(s, l);
        assert_true(id >= 0 && id < 3);
        sampler_free(s);
    }
}

/* The documented defaults (sampler.h): temperature 0.8, top-k 40, top-p
 * 0.95, min-p 0.05, no repetition penalty over a window of 64, seed 0. */
static void test_defaults(void **state)
{
    (void)state;
    sampler_params d = sampler_defaults();
    assert_true(d.temp == 0.8f);
    assert_int_equal(d.top_k, 40);
    assert_true(d.top_p == 0.95f);
    assert_true(d.min_p == 0.05f);
    assert_true(d.repeat_penalty == 1.0f);
    assert_int_equal(d.repeat_last_n, 64);
    assert_int_equal(d.seed, 0);
}

/* Different seeds give different streams, the same seed the same one. */
static void test_seeds(void **state)
{
    (void)state;
    double ld[V5];
    float lf[V5];
    logits5(ld, lf);
    int32_t a[64], b[64], c[64];
    for (int run = 0; run < 3; run++) {
        sampler_params sp = plain(1.0f, run == 2 ? 8 : 7);
        sampler *s = sampler_new(&sp, V5);
        int32_t *out = run == 0 ? a : run == 1 ? b : c;
        for (int i = 0; i < 64; i++) {
            float l[V5];
            memcpy(l, lf, sizeof l);
            out[i] = sampler_sample(s, l);
        }
        sampler_free(s);
    }
    assert_memory_equal(a, b, sizeof a);
    /* two streams of 64 draws from this distribution agree everywhere
     * with probability (sum p²)^64 = 0.285^64 */
    assert_true(memcmp(a, c, sizeof a) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_temperature_follows_softmax),
        cmocka_unit_test(test_top_p_keeps_smallest_prefix),
        cmocka_unit_test(test_min_p_relative_to_top),
        cmocka_unit_test(test_cuts_combined),
        cmocka_unit_test(test_top_k_large_vocabulary),
        cmocka_unit_test(test_repeat_penalty_by_hand),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_top_k_ties_keep_lowest_ids),
    };
    return test_exit(cmocka_run_group_tests_name("sampler", tests, NULL, NULL));
}
