/*
 * test_textsim.c — chrF and ROUGE-L (util/textsim.h) on small cases
 * worked out by hand, on their defining properties (identical texts score
 * 100 / 1.0, texts with nothing in common 0), and chrF against a naive
 * count (every hypothesis n-gram matched greedily to an unused equal
 * reference n-gram) on seeded random texts with multi-byte characters.
 */
#include "tests/testutil.h"

#include "util/textsim.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_chrf_by_hand(void **state)
{
    (void)state;
    /* "ab" vs "abc": order 1 matches a, b: P 2/2, R 2/3; order 2 matches
     * ab: P 1/1, R 1/2; order 3+ the hypothesis has none.  Mean P = 1,
     * mean R = (2/3 + 1/2) / 2 = 7/12; F2 = 5 · 7/12 / (4 + 7/12)
     * = 35/55 → 700/11. */
    NEAR(textsim_chrf("ab", "abc"), 700.0 / 11.0);
    /* Precision and recall swap with the sides: mean P = 7/12, R = 1;
     * F2 = 5 · 7/12 / (4 · 7/12 + 1) = 35/40 → 87.5. */
    NEAR(textsim_chrf("abc", "ab"), 100.0 * (5 * 7.0 / 12) / (4 * 7.0 / 12 + 1));
    /* Counts are clipped: "aaa" vs "aa": order 1 matches min(3, 2) = 2,
     * P 2/3, R 2/2; order 2 "aa" min(2, 1) = 1, P 1/2, R 1/1; order 3 the
     * reference has none.  P = 7/12, R = 1 → 87.5 as well. */
    NEAR(textsim_chrf("aaa", "aa"), 87.5);
    /* Code points, not bytes: "é" vs "éa" is 1 of 1 and 1 of 2 at order 1
     * only: P 1, R 1/2, F2 = 2.5 / 4.5 → 500/9 (bytes would give 700/11). */
    NEAR(textsim_chrf("\xc3\xa9", "\xc3\xa9" "a"), 500.0 / 9.0);
    /* Whitespace is removed, ASCII or not: all three are "ab". */
    NEAR(textsim_chrf("a b", "ab"), 100.0);
    NEAR(textsim_chrf("a\xc2\xa0\n b", "ab"), 100.0);
}

static void test_chrf_properties(void **state)
{
    (void)state;
    const char *texts[] = {"Your order has shipped.", "x", "\xe6\x97\xa5\xe6\x9c\xac", "a  b\tc"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        NEAR(textsim_chrf(texts[i], texts[i]), 100.0);
    NEAR(textsim_chrf("abc", "xyz"), 0.0);
    NEAR(textsim_chrf("", "abc"), 0.0);
    NEAR(textsim_chrf("abc", ""), 0.0);
    NEAR(textsim_chrf("   ", "abc"), 0.0);
    double s = textsim_chrf("refund issued", "refund was issued");
    assert_true(s > 0 && s < 100);
}

static void test_rouge_by_hand(void **state)
{
    (void)state;
    /* LCS of "the cat sat on mat" (5) and "the cat is on the mat" (6) is
     * "the cat on mat" = 4: P 4/5, R 4/6; F1 = 2 · (8/15) / (22/15) = 8/11. */
    NEAR(textsim_rouge_l("the cat sat on mat", "the cat is on the mat"), 8.0 / 11.0);
    /* Order matters: "b a" vs "a b" keeps one word: P = R = 1/2. */
    NEAR(textsim_rouge_l("b a", "a b"), 0.5);
    /* Repeats count once each: "a a a" vs "a": LCS 1, P 1/3, R 1 → 0.5. */
    NEAR(textsim_rouge_l("a a a", "a"), 0.5);
    /* Split on a no-break space and runs of whitespace too. */
    NEAR(textsim_rouge_l("d\xc3\xad" "a\xc2\xa0uno", "d\xc3\xad" "a  uno"), 1.0);
    /* Words compare whole: "cats" is not "cat". */
    NEAR(textsim_rouge_l("cats sit", "cat sit"), 0.5);
}

static void test_rouge_properties(void **state)
{
    (void)state;
    NEAR(textsim_rouge_l("thank you for waiting", "thank you for waiting"), 1.0);
    NEAR(textsim_rouge_l("alpha beta", "gamma delta"), 0.0);
    NEAR(textsim_rouge_l("", "gamma"), 0.0);
    NEAR(textsim_rouge_l("gamma", " \n "), 0.0);
}

/* ---- chrF against a naive count ---------------------------------------------- */

static size_t naive_cps(const char *s, uint32_t *out)
{
    size_t n = 0, len = strlen(s);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += util_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (cp != ' ' && cp != '\n' && cp != 0xA0) /* the only spaces the random texts hold */
            out[n++] = cp;
    }
    return n;
}

static double naive_chrf(const char *hyp, const char *ref)
{
    uint32_t h[256], r[256];
    size_t lh = naive_cps(hyp, h), lr = naive_cps(ref, r);
    double p = 0, q = 0;
    int eff = 0;
    for (size_t n = 1; n <= 6; n++) {
        if (lh < n || lr < n)
            continue;
        size_t nh = lh - n + 1, nr = lr - n + 1, m = 0;
        bool used[256] = {0};
        for (size_t i = 0; i < nh; i++)
            for (size_t j = 0; j < nr; j++)
                if (!used[j] && !memcmp(h + i, r + j, n * sizeof *h)) {
                    used[j] = true;
                    m++;
                    break;
                }
        p += (double)m / (double)nh;
        q += (double)m / (double)nr;
        eff++;
    }
    if (!eff || p + q == 0)
        return 0;
    p /= eff;
    q /= eff;
    return 100 * 5 * p * q / (4 * p + q);
}

static void random_text(uint64_t *seed, char *out, size_t max_chars)
{
    static const char *const alphabet[] = {"a", "b", "c", " ", "\n", "\xc3\xa9", "\xc2\xa0", "\xe2\x82\xac"};
    size_t n = 0;
    *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
    size_t chars = (size_t)(*seed >> 33) % (max_chars + 1);
    for (size_t i = 0; i < chars; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        const char *c = alphabet[(*seed >> 33) % 8];
        memcpy(out + n, c, strlen(c));
        n += strlen(c);
    }
    out[n] = 0;
}

static void test_chrf_vs_naive(void **state)
{
    (void)state;
    uint64_t seed = 42;
    char h[1024], r[1024];
    for (int k = 0; k < 2000; k++) {
        random_text(&seed, h, 40);
        random_text(&seed, r, 40);
        double fast = textsim_chrf(h, r), slow = naive_chrf(h, r);
        if (fabs(fast - slow) > 1e-9)
            fail_msg("chrF('%s', '%s') = %.12f, naive %.12f", h, r, fast, slow);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chrf_by_hand),     cmocka_unit_test(test_chrf_properties),
        cmocka_unit_test(test_rouge_by_hand),    cmocka_unit_test(test_rouge_properties),
        cmocka_unit_test(test_chrf_vs_naive),
    };
    return test_exit(cmocka_run_group_tests_name("textsim", tests, NULL, NULL));
}
