/*
 * test_prom.c — the Prometheus writer (app/prom.h) and serve's figures
 * (app/serve_metrics.c) without a server: label values escaped, numbers
 * as Prometheus reads them, buckets made cumulative from per-bound counts
 * with +Inf equal to _count, every family's # lines once, every series of
 * a served version present at 0 before its first request, and a value on
 * each side of a bound counted in the right bucket.
 *
 * Expected texts are written out by hand; the bucket a value belongs to is
 * fixed by choosing the value between two known bounds.
 */
#include "testutil.h"

#include "app/prom.h"
#include "app/serve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The buffer's text, the buffer emptied (the caller frees the text). */
static char *take(strbuf *sb)
{
    char *t = sb->data ? sb->data : xstrdup("");
    *sb = (strbuf){0};
    return t;
}

/* How many times needle occurs in hay. */
static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_escape(void **state)
{
    (void)state;
    strbuf sb = {0};
    prom_escape(&sb, "a\"b\\c\nd\te é");
    assert_string_equal(sb.data, "a\\\"b\\\\c\\nd\te é"); /* tab and UTF-8 as they are */
    sb_free(&sb);

    prom_label l[] = {{"model", "x\"y"}, {"outcome", "ok"}};
    prom_sample(&sb, "m_total", l, 2, 3);
    prom_sample(&sb, "bare", NULL, 0, 0.25);
    assert_string_equal(sb.data, "m_total{model=\"x\\\"y\",outcome=\"ok\"} 3\nbare 0.25\n");
    sb_free(&sb);
}

static void test_numbers(void **state)
{
    (void)state;
    const struct {
        double v;
        const char *want;
    } cases[] = {
        {0, "0"},          {1, "1"},           {120, "120"},     {0.1, "0.1"},        {0.005, "0.005"},
        {1e20, "1e+20"},   {-2.5, "-2.5"},     {NAN, "NaN"},     {INFINITY, "+Inf"},  {-INFINITY, "-Inf"},
        {0.1 + 0.2, "0.30000000000000004"}, {123456789012, "123456789012"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        strbuf sb = {0};
        prom_number(&sb, cases[i].v);
        if (strcmp(sb.data, cases[i].want))
            fail_msg("%.17g written as '%s', want '%s'", cases[i].v, sb.data, cases[i].want);
        sb_free(&sb);
    }
}

static void test_bucket(void **state)
{
    (void)state;
    const double b[] = {1, 2, 5};
    assert_int_equal(prom_bucket(b, 3, 0), 0);
    assert_int_equal(prom_bucket(b, 3, 1), 0); /* le: the bound itself belongs to its bucket */
    assert_int_equal(prom_bucket(b, 3, 1.0000001), 1);
    assert_int_equal(prom_bucket(b, 3, 2), 1);
    assert_int_equal(prom_bucket(b, 3, 4.9), 2);
    assert_int_equal(prom_bucket(b, 3, 5), 2);
    assert_int_equal(prom_bucket(b, 3, 5.1), 3);
    assert_int_equal(prom_bucket(b, 3, 1e300), 3);
    assert_int_equal(prom_bucket(b, 3, -1), 0);
}

static void test_histogram(void **state)
{
    (void)state;
    const double b[] = {0.5, 2, 10};
    const int64_t per[] = {2, 0, 3, 4}; /* the last: above 10 */
    prom_label l[] = {{"model", "m\\1"}};
    strbuf sb = {0};
    prom_histogram(&sb, "h_seconds", l, 1, b, 3, per, 12.75);
    char *got = take(&sb);
    assert_string_equal(got, "h_seconds_bucket{model=\"m\\\\1\",le=\"0.5\"} 2\n"
                             "h_seconds_bucket{model=\"m\\\\1\",le=\"2\"} 2\n"
                             "h_seconds_bucket{model=\"m\\\\1\",le=\"10\"} 5\n"
                             "h_seconds_bucket{model=\"m\\\\1\",le=\"+Inf\"} 9\n"
                             "h_seconds_sum{model=\"m\\\\1\"} 12.75\n"
                             "h_seconds_count{model=\"m\\\\1\"} 9\n");
    free(got);

    /* no labels: le alone */
    const int64_t none[] = {0, 0, 0, 0};
    prom_histogram(&sb, "e", NULL, 0, b, 3, none, 0);
    got = take(&sb);
    assert_non_null(strstr(got, "e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n"));
    free(got);
}

/* The contract's bounds: as many as declared, strictly ascending, positive. */
static void test_bounds(void **state)
{
    (void)state;
    for (int i = 0; i < ROLLUP_N_LE_SECONDS; i++)
        assert_true(rollup_le_seconds[i] > (i ? rollup_le_seconds[i - 1] : 0));
    for (int i = 0; i < ROLLUP_N_LE_TOKENS; i++)
        assert_true(rollup_le_tokens[i] > (i ? rollup_le_tokens[i - 1] : 0));
}

static void test_request_families(void **state)
{
    (void)state;
    db_rollup_total t[2] = {{.outcome = "ok", .requests = 3, .gen_tokens = 40, .prompt_tokens = 12},
                            {.outcome = "timeout", .requests = 1, .prompt_tokens = 5}};
    t[0].latency_le[0] = 1;
    t[0].latency_le[ROLLUP_N_LE_SECONDS] = 2;
    t[0].latency_sum_s = 500.5;
    t[0].tokens_le[ROLLUP_N_LE_TOKENS] = 1;
    t[0].tokens_le[1] = 2;
    prom_row rows[2] = {{"Al\"pha\nx", "aaaaaaaaaaaa", &t[0]}, {"Beta", "", &t[1]}};
    strbuf sb = {0};
    prom_requests(&sb, rows, 2);
    char *got = take(&sb);
    const char *fam[][2] = {
        {"frontdesk_requests_total", "counter"},
        {"frontdesk_prompt_tokens_total", "counter"},
        {"frontdesk_generated_tokens_total", "counter"},
        {"frontdesk_request_duration_seconds", "histogram"},
        {"frontdesk_time_to_first_token_seconds", "histogram"},
        {"frontdesk_request_generated_tokens", "histogram"},
    };
    for (size_t i = 0; i < 6; i++) {
        char line[200];
        snprintf(line, sizeof line, "# TYPE %s %s\n", fam[i][0], fam[i][1]);
        assert_int_equal(occurrences(got, line), 1);
        snprintf(line, sizeof line, "# HELP %s ", fam[i][0]);
        assert_int_equal(occurrences(got, line), 1);
    }
    assert_int_equal(occurrences(got, "# TYPE "), 6);
    const char *a = "{model=\"Al\\\"pha\\nx\",sha256=\"aaaaaaaaaaaa\",outcome=\"ok\"";
    const char *b = "{model=\"Beta\",sha256=\"\",outcome=\"timeout\"";
    char s[300];
    snprintf(s, sizeof s, "frontdesk_requests_total%s}", a);
    assert_true(test_prom_sample(got, s) == 3);
    snprintf(s, sizeof s, "frontdesk_requests_total%s}", b);
    assert_true(test_prom_sample(got, s) == 1);
    snprintf(s, sizeof s, "frontdesk_prompt_tokens_total%s}", b);
    assert_true(test_prom_sample(got, s) == 5);
    snprintf(s, sizeof s, "frontdesk_generated_tokens_total%s}", a);
    assert_true(test_prom_sample(got, s) == 40);
    /* latency: 1 at the first bound, 2 above the last: 1 everywhere, 3 at +Inf */
    for (int i = 0; i < ROLLUP_N_LE_SECONDS; i++) {
        strbuf le = {0};
        prom_number(&le, rollup_le_seconds[i]);
        snprintf(s, sizeof s, "frontdesk_request_duration_seconds_bucket%s,le=\"%s\"}", a, le.data);
        assert_true(test_prom_sample(got, s) == 1);
        sb_free(&le);
    }
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_bucket%s,le=\"+Inf\"}", a);
    assert_true(test_prom_sample(got, s) == 3);
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_count%s}", a);
    assert_true(test_prom_sample(got, s) == 3);
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_sum%s}", a);
    assert_true(test_prom_sample(got, s) == 500.5);
    /* tokens: 0 in the first bucket, 2 in the second, 1 above: sum is the tokens */
    strbuf le = {0};
    prom_number(&le, rollup_le_tokens[0]);
    snprintf(s, sizeof s, "frontdesk_request_generated_tokens_bucket%s,le=\"%s\"}", a, le.data);
    assert_true(test_prom_sample(got, s) == 0);
    sb_clear(&le);
    prom_number(&le, rollup_le_tokens[1]);
    snprintf(s, sizeof s, "frontdesk_request_generated_tokens_bucket%s,le=\"%s\"}", a, le.data);
    assert_true(test_prom_sample(got, s) == 2);
    sb_free(&le);
    snprintf(s, sizeof s, "frontdesk_request_generated_tokens_count%s}", a);
    assert_true(test_prom_sample(got, s) == 3);
    snprintf(s, sizeof s, "frontdesk_request_generated_tokens_sum%s}", a);
    assert_true(test_prom_sample(got, s) == 40);
    /* every sample of a family together: the families' first lines in order */
    const char *p = got;
    for (size_t i = 0; i < 6; i++) {
        const char *q = strstr(got, fam[i][0]);
        assert_true(q >= p);
        p = q;
    }
    free(got);
}

/* serve's figures: a version's series at 0 before anything, then each value
 * counted in its bucket, chosen between two bounds. */
static void test_serve_metrics(void **state)
{
    (void)state;
    serve_metrics m;
    serve_metrics_init(&m);
    serve_metrics_version(&m, 7, "tiny\"one", "0123456789abcdef");
    const int64_t ids[] = {7};
    const batch_load load = {.running = 1, .queued = 2, .n_parallel = 4, .kv_used = 1, .kv_size = 4};
    char *t = serve_metrics_text(&m, &load, ids, 1);
    const char *ok = "{model=\"tiny\\\"one\",sha256=\"0123456789ab\",outcome=\"ok\"";
    const char *outcomes[] = {"ok", "error", "cancelled"};
    char s[300];
    for (int o = 0; o < 3; o++) {
        snprintf(s, sizeof s, "frontdesk_requests_total{model=\"tiny\\\"one\",sha256=\"0123456789ab\",outcome=\"%s\"}",
                 outcomes[o]);
        assert_true(test_prom_sample(t, s) == 0);
        snprintf(s, sizeof s,
                 "frontdesk_time_to_first_token_seconds_bucket{model=\"tiny\\\"one\",sha256=\"0123456789ab\","
                 "outcome=\"%s\",le=\"+Inf\"}",
                 outcomes[o]);
        assert_true(test_prom_sample(t, s) == 0);
    }
    assert_true(test_prom_sample(t, "frontdesk_queued_sequences{model=\"tiny\\\"one\",sha256=\"0123456789ab\"}") == 2);
    assert_true(test_prom_sample(t, "frontdesk_kv_cache_usage_ratio{model=\"tiny\\\"one\",sha256=\"0123456789ab\"}") == 0.25);
    free(t);

    /* k = 3: one latency just under bound 3, one between bounds 3 and 4, one
     * above the last; an error with no tokens; a cancelled reply; a request of
     * a version never registered is not counted */
    const int k = 3;
    double under = rollup_le_seconds[k] * 1e3 * 0.999;
    double between = (rollup_le_seconds[k] + rollup_le_seconds[k + 1]) / 2 * 1e3;
    double above = rollup_le_seconds[ROLLUP_N_LE_SECONDS - 1] * 1e3 * 2;
    serve_metrics_add(&m, 7, "ok", false, 10, 5, under, 1);
    serve_metrics_add(&m, 7, "ok", false, 10, 6, between, 1);
    serve_metrics_add(&m, 7, "ok", false, 10, 7, above, 1);
    serve_metrics_add(&m, 7, "error", true, 3, 0, 2, -1);
    serve_metrics_add(&m, 7, "cancelled", false, 4, 1, 2, 1);
    serve_metrics_add(&m, 99, "ok", false, 4, 1, 2, 1);
    t = serve_metrics_text(&m, &load, ids, 1);
    snprintf(s, sizeof s, "frontdesk_requests_total%s}", ok);
    assert_true(test_prom_sample(t, s) == 3);
    snprintf(s, sizeof s, "frontdesk_prompt_tokens_total%s}", ok);
    assert_true(test_prom_sample(t, s) == 30);
    snprintf(s, sizeof s, "frontdesk_generated_tokens_total%s}", ok);
    assert_true(test_prom_sample(t, s) == 18);
    assert_true(test_prom_sample(t, "frontdesk_requests_total{model=\"tiny\\\"one\",sha256=\"0123456789ab\",outcome=\"error\"}") ==
                1);
    assert_true(test_prom_sample(t, "frontdesk_rejected_requests_total{model=\"tiny\\\"one\",sha256=\"0123456789ab\"}") == 1);
    for (int i = 0; i < ROLLUP_N_LE_SECONDS; i++) {
        strbuf le = {0};
        prom_number(&le, rollup_le_seconds[i]);
        snprintf(s, sizeof s, "frontdesk_request_duration_seconds_bucket%s,le=\"%s\"}", ok, le.data);
        double want = i < k ? 0 : i == k ? 1 : 2;
        if (test_prom_sample(t, s) != want)
            fail_msg("%s = %g, want %g", s, test_prom_sample(t, s), want);
        sb_free(&le);
    }
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_bucket%s,le=\"+Inf\"}", ok);
    assert_true(test_prom_sample(t, s) == 3);
    snprintf(s, sizeof s, "frontdesk_request_duration_seconds_sum%s}", ok);
    assert_true(fabs(test_prom_sample(t, s) - (under + between + above) / 1e3) < 1e-9);
    assert_null(strstr(t, "sha256=\"\"")); /* version 99 never appeared */
    free(t);
    serve_metrics_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),         cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_bucket),         cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_bounds),         cmocka_unit_test(test_request_families),
        cmocka_unit_test(test_serve_metrics),
    };
    return test_exit(cmocka_run_group_tests_name("prom", tests, NULL, NULL));
}
