/*
 * test_ui_dash.c — the Dashboard screen, rendered headlessly: golden
 * dashboards at 100x30 and 60x16 (series, two models, an error message
 * carrying an escape sequence, an alert, a breached threshold), loading
 * and empty dashboards, styles, sparklines, keys and scrolling, narrow
 * panels, containment at every size.
 *
 * The golden frames were generated once by this suite (run it with
 * FRONTDESK_GOLDEN_PRINT=1 to print them as C strings; such a run always
 * fails, see tests/testutil.h), checked by eye, and frozen here.
 */
#include "tests/testutil.h"
#include "tests/ui_check.h"

#include "ui/dash.h"
#include "ui/frame.h"
#include "ui/shell.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dash_text(const dash_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    dash_render(v, f, 0, 0, w, h);
    return frame_to_text(f);
}

/* ---- Golden frames: Dashboard ---------------------------------------------------- */

static const char DASH_100x30[] =
    "Dashboard — window 5m (w to change)                                                 updated 16:18:05\n"
    "requests  30.0/min                      running 1                     tokens 12,345\n"
    "errors    2.0% (3 of 150)               thumbs down 12% of 25\n"
    "latency   p50 850 ms                    p95 4.1 s                     p99 5.2 s\n"
    "TTFT      p50 180 ms                    p95 420 ms                    p99 1.1 s\n"
    "tok/s     prefill 512.3                 decode 41.2\n"
    "\n"
    "Alerts (1)\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min  ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃▄▅▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▁▁▂ ▂▂▂▂▂▂▂▃▃ ▃▃▃▃▃▃▃▄▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "decode tok/s ▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█     42.0\n"
    "errors                           ▄                                     █         0\n"
    "\n"
    "Models                               requests  errors  p95 latency  p95 TTFT  decode tok/s  low conf\n"
    "SmolLM2-135M-Instruct · Q8_0              120    0.8%        1.9 s    380 ms          44.0     15.0%\n"
    "Qwen2.5-0.5B-Instruct, a very long…        30    6.7%        5.1 s     1.2 s          21.5         –\n"
    "\n"
    "Latest errors\n"
    "11-23 16:17:02  SmolLM2-135M-Instruct  error    engine: the prompt does not fit the context\n"
    "11-23 16:15:40  Qwen2.5-0.5B-Instruct  timeout  remote said ^[[2J and hung up\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";
static const char DASH_60x16[] =
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok/s     prefill 512.3   decode 41.2\n"
    "\n"
    "Alerts (1)\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "decode tok/s ▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█▄▄▅▅▅▆▆▆▇▇▇█     42.0\n"
    "errors                                           █         0\n"
    "                                     ↓ 8 more lines (j/Down)\n";
static const char DASH_LOADING[] =
    "Dashboard — window 5m (w to change)\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "                      loading figures…\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";
static const char DASH_EMPTY[] =
    "Dashboard — window 5m (w to change)                                                 updated 09:00:00\n"
    "requests  0.0/min                       running 0                     tokens 0\n"
    "errors    –                             thumbs down –\n"
    "latency   p50 –                         p95 –                         p99 –\n"
    "TTFT      p50 –                         p95 –                         p99 –\n"
    "tok/s     prefill –                     decode –\n"
    "\n"
    "Alerts  none\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min                                                                     –\n"
    "p95 latency                                                                      –\n"
    "decode tok/s                                                                     –\n"
    "errors                                                                           –\n"
    "\n"
    "Models                               requests  errors  p95 latency  p95 TTFT  decode tok/s  low conf\n"
    "  no requests in this window\n"
    "\n"
    "Latest errors  none\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";

static void test_dash_golden_100x30(void **state)
{
    (void)state;
    dash_view v;
    tu_dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 100, 30);
    test_assert_no_controls(t);
    assert_non_null(strstr(t, "^[[2J")); /* the untrusted message, escaped */
    test_expect_golden("DASH_100x30", t, DASH_100x30);
    frame_free(&f);
}

static void test_dash_golden_60x16(void **state)
{
    (void)state;
    dash_view v;
    tu_dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    test_expect_golden("DASH_60x16", t, DASH_60x16);
    frame_free(&f);
}

static void test_dash_loading_and_empty(void **state)
{
    (void)state;
    dash_view v;
    dash_init(&v);
    ui_frame f = {0};
    test_expect_golden("DASH_LOADING", dash_text(&v, &f, 60, 16), DASH_LOADING);
    v.loading = false;
    v.updated = "updated 09:00:00";
    v.latency_ms.p95 = NAN; /* invalid percentiles are never printed */
    test_expect_golden("DASH_EMPTY", dash_text(&v, &f, 100, 30), DASH_EMPTY);
    frame_free(&f);
}

/* ---- Dashboard: styles, sparklines, keys, containment --------------------------- */

static void test_dash_styles(void **state)
{
    (void)state;
    dash_view v;
    tu_dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 100, 30);
    /* The flagged p95 latency is UI_S_BAD, its neighbours are not. */
    int y = tu_row_of(t, "p50 850 ms", NULL);
    int x = tu_col_of(&f, y, "4.1 s");
    char *st = frame_row_styles(&f, y);
    for (int i = 0; i < 5; i++)
        assert_int_equal(st[x + i], 'a' + UI_S_BAD);
    assert_int_equal(st[tu_col_of(&f, y, "850 ms")], 'a' + UI_S_NORMAL);
    assert_int_equal(st[tu_col_of(&f, y, "5.2 s")], 'a' + UI_S_NORMAL);
    assert_int_equal(st[tu_col_of(&f, y, "p95")], 'a' + UI_S_MUTED);
    assert_int_equal(st[0], 'a' + UI_S_BAD); /* the row label "latency" */
    free(st);
    /* TTFT is not flagged; 3 errors are neither good nor bad. */
    tu_assert_text_style(&f, t, "420 ms", UI_S_NORMAL);
    tu_assert_text_style(&f, t, "TTFT", UI_S_MUTED);
    tu_assert_text_style(&f, t, "2.0%", UI_S_NORMAL);
    tu_assert_text_style(&f, t, "12%", UI_S_NORMAL);
    /* The alert line is bad throughout; panel titles are titles. */
    tu_assert_text_style(&f, t, "p95 latency 4100 ms > 3000 ms", UI_S_BAD);
    tu_assert_text_style(&f, t, "Alerts", UI_S_TITLE);
    tu_assert_text_style(&f, t, "Latest errors", UI_S_TITLE);
    /* The escape in the error message is drawn as an escape. */
    y = tu_row_of(t, "^[[2J", NULL);
    x = tu_col_of(&f, y, "^[[2J");
    assert_int_equal(tu_cell(&f, x, y)->style, UI_S_ESCAPED);
    tu_assert_text_style(&f, t, "timeout", UI_S_BAD);
    free(t);

    /* Every other flag, and an error rate of 0. */
    v.bad = DASH_BAD_TTFT | DASH_BAD_ERRORS | DASH_BAD_THUMBS | DASH_BAD_DECODE;
    t = dash_text(&v, &f, 100, 30);
    tu_assert_text_style(&f, t, "420 ms", UI_S_BAD);
    tu_assert_text_style(&f, t, "4.1 s", UI_S_NORMAL);
    tu_assert_text_style(&f, t, "2.0%", UI_S_BAD);
    tu_assert_text_style(&f, t, "12%", UI_S_BAD);
    tu_assert_text_style(&f, t, "41.2", UI_S_BAD);
    tu_assert_text_style(&f, t, "512.3", UI_S_NORMAL);
    free(t);
    v.bad = 0;
    v.errors = 0;
    v.error_rate = 0;
    v.n_alerts = 0;
    t = dash_text(&v, &f, 100, 30);
    tu_assert_text_style(&f, t, "0.0%", UI_S_GOOD);
    assert_non_null(strstr(t, "(0 of 150)"));
    tu_assert_text_style(&f, t, "Alerts", UI_S_TITLE);
    y = tu_row_of(t, "Alerts  none", NULL);
    x = tu_col_of(&f, y, "none");
    for (int i = 0; i < 4; i++)
        assert_int_equal(tu_cell(&f, x + i, y)->style, UI_S_GOOD);
    free(t);
    frame_free(&f);
}

static void spark(const double *v, size_t n, int width, char *out)
{
    memset(out, 'X', 3 * (size_t)(width > 0 ? width : 0) + 8);
    dash_sparkline(v, n, width, out);
}

static void test_sparkline(void **state)
{
    (void)state;
    char out[3 * 64 + 8];
    const double zeros[5] = {0, 0, 0, 0, 0};
    spark(zeros, 5, 5, out);
    assert_string_equal(out, "▁▁▁▁▁"); /* a flat baseline */
    const double rising[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    spark(rising, 8, 8, out);
    assert_string_equal(out, "▁▂▃▄▅▆▇█");
    /* Wider than the data: the newest value is at the right edge. */
    spark(rising, 3, 6, out);
    assert_string_equal(out, "   ▃▅█"); /* 1, 2, 3 of 3 */
    /* Narrower: the last values, scaled to the whole series. */
    spark(rising, 8, 3, out);
    assert_string_equal(out, "▆▇█");
    const double tall_early[4] = {100, 1, 2, 50};
    spark(tall_early, 4, 2, out);
    assert_string_equal(out, "▁▄");
    /* Zeros among traffic are gaps; a tiny value still shows. */
    const double mixed[6] = {0, 1000, 0, 0.001, 500, 0};
    spark(mixed, 6, 6, out);
    assert_string_equal(out, " █ ▁▄ ");
    /* NaN, infinities and negatives never reach the text. */
    const double odd[6] = {NAN, INFINITY, -3, 4, -INFINITY, 8};
    spark(odd, 6, 6, out);
    assert_string_equal(out, "   ▄ █");
    const double nan_zero[3] = {NAN, 0, 0};
    spark(nan_zero, 3, 3, out);
    assert_string_equal(out, " ▁▁");
    /* Nothing to draw. */
    spark(rising, 0, 4, out);
    assert_string_equal(out, "    ");
    spark(NULL, 5, 3, out);
    assert_string_equal(out, "   ");
    spark(rising, 8, 0, out);
    assert_string_equal(out, "");
    spark(rising, 8, -2, out);
    assert_string_equal(out, "");
    /* The buffer bound: 60 full blocks take exactly 3 * 60 + 1 bytes. */
    double big[60];
    for (int i = 0; i < 60; i++)
        big[i] = 7;
    spark(big, 60, 60, out);
    assert_int_equal(strlen(out), 180);
    assert_int_equal(out[181], 'X');
}

static void test_dash_keys_and_scroll(void **state)
{
    (void)state;
    dash_view v;
    tu_dash_fixture(&v);
    assert_int_equal(dash_key(&v, K('w')), DASH_WINDOW);
    assert_int_equal(dash_key(&v, ALT('w')), DASH_NONE);
    assert_int_equal(dash_key(&v, K('x')), DASH_NONE);
    assert_int_equal(v.scroll, 0);
    assert_int_equal(dash_key(&v, K('k')), DASH_NONE);
    assert_int_equal(v.scroll, 0); /* not above the top */
    dash_key(&v, K('j'));
    dash_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.scroll, 2);
    dash_key(&v, K(UI_K_UP));
    assert_int_equal(v.scroll, 1);

    /* At 60x14 (the smallest screen) the scrolled column says what is
     * above and below, and the figures stay. */
    ui_frame f = {0};
    v.scroll = 3;
    char *t = dash_text(&v, &f, 60, 14);
    assert_true(tu_row_of(t, "↑ 3 more lines (k/Up)", NULL) == 6);
    assert_true(tu_row_of(t, "p50 850 ms", NULL) == 3);
    assert_true(tu_row_of(t, "Last hour, per minute", NULL) == 7);
    assert_true(tu_row_of(t, "↓ 7 more lines (j/Down)", NULL) == 13);
    assert_int_equal(tu_row_of(t, "Alerts", NULL), -1);
    free(t);

    /* End reaches the last line at that size; further Down stays. */
    dash_key(&v, K(UI_K_END));
    int end = v.scroll;
    dash_key(&v, K('j'));
    assert_int_equal(v.scroll, end);
    t = dash_text(&v, &f, 60, 14);
    assert_true(tu_row_of(t, "remote said ^[[2J", NULL) == 13);
    assert_int_equal(tu_row_of(t, "more lines (j/Down)", NULL), -1);
    assert_true(tu_row_of(t, "Models", NULL) >= 7);
    free(t);
    /* A taller screen clamps the same scroll: everything fits, no notes. */
    t = dash_text(&v, &f, 100, 30);
    assert_int_equal(tu_row_of(t, "more line", NULL), -1);
    assert_true(tu_row_of(t, "Alerts (1)", NULL) == 7);
    free(t);
    dash_key(&v, K(UI_K_HOME));
    assert_int_equal(v.scroll, 0);
    dash_key(&v, K(UI_K_PGDN));
    assert_int_equal(v.scroll, end); /* 10 lines, bounded */
    dash_key(&v, K(UI_K_PGUP));
    assert_int_equal(v.scroll, 0);
    frame_free(&f);
}

/* At the smallest width, with room below: the table's short headings,
 * names cut with "…", the errors' columns narrowed. */
static void test_dash_narrow_panels(void **state)
{
    (void)state;
    dash_view v;
    tu_dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 60, 30);
    assert_int_equal(tu_row_of(t, "more line", NULL), -1); /* everything fits */
    assert_non_null(strstr(t, "\nModels           reqs   err  p95 lat  p95 ttft  tok/s   lowc\n"
                              "SmolLM2-135M-I…   120  0.8%    1.9 s    380 ms   44.0  15.0%\n"
                              "Qwen2.5-0.5B-I…    30  6.7%    5.1 s     1.2 s   21.5      –\n"));
    assert_non_null(strstr(t, "\n11-23 16:15:40  Qwen2.5-0…  timeout  remote said ^[[2J and …\n"));
    free(t);
    /* A minute without requests: a gap in the sparkline, "–" for its value. */
    double lat[3] = {1200, 900, 0};
    v.s_latency_p95 = lat;
    v.n_series = 3;
    v.s_requests = v.s_decode_tps = v.s_errors = NULL;
    t = dash_text(&v, &f, 60, 30);
    assert_non_null(strstr(t, "\np95 latency                                     █▆         –\n"));
    assert_non_null(strstr(t, "\nrequests/min                                               –\n"));
    free(t);
    /* One failed request is a 100% error rate; no requests, no rate. */
    static const dash_model_row few[] = {{"solo", 1, 1.0, {false, 0, 0, 0, 0}, {false, 0, 0, 0, 0}, 0, 0, 0},
                                         {"idle", 0, 0, {false, 0, 0, 0, 0}, {false, 0, 0, 0, 0}, 0, 0, 0}};
    v.models = few;
    v.n_models = 2;
    t = dash_text(&v, &f, 60, 30);
    assert_non_null(strstr(t, "\nsolo               1  100.0%        –         –      –     –\n"
                              "idle               0       –        –         –      –     –\n"));
    free(t);
    frame_free(&f);
}

static void test_dash_containment(void **state)
{
    (void)state;
    static const int sizes[][2] = {{100, 30}, {60, 16}, {60, 14}, {59, 13}, {40, 10}, {39, 7}, {20, 5},
                                   {12, 3},   {5, 2},   {1, 1},   {0, 0},   {3, 40},  {200, 8}};
    dash_view v;
    tu_dash_fixture(&v);
    ui_frame f = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        for (int mode = 0; mode < 4; mode++) {
            v.loading = mode == 1;
            v.scroll = mode == 2 ? 5 : mode == 3 ? 1000 : 0;
            frame_init(&f, w + 10, h + 6);
            dash_render(&v, &f, 4, 3, w, h);
            tu_assert_outside_blank(&f, 4, 3, w, h);
            char *t = frame_to_text(&f);
            test_assert_no_controls(t);
            assert_null(strstr(t, "nan"));
            free(t);
        }
    }
    frame_free(&f);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8"))
        return test_skip_suite("test_ui_dash: no UTF-8 locale (C.UTF-8; make deps provides it) to measure text in");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dash_golden_100x30),
        cmocka_unit_test(test_dash_golden_60x16),
        cmocka_unit_test(test_dash_loading_and_empty),
        cmocka_unit_test(test_dash_styles),
        cmocka_unit_test(test_sparkline),
        cmocka_unit_test(test_dash_keys_and_scroll),
        cmocka_unit_test(test_dash_narrow_panels),
        cmocka_unit_test(test_dash_containment),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
