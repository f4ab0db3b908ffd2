/*
 * test_ui_shell.c — the Dashboard screen and the shell around the
 * screens, rendered headlessly: golden dashboards at 100x30 and 60x16
 * (series, two models, an error message carrying an escape sequence, an
 * alert, a breached threshold), loading and empty dashboards, sparklines,
 * scrolling, containment at every size; the shell's tab bar and status
 * line, each overlay (help, quit, prompt, picker, message), the keys that
 * open, drive and close them, screen switching, q/? while typing, and
 * the "terminal too small" notice down to 0x0.
 *
 * The golden frames were generated once by this suite (run it with
 * FRONTDESK_GOLDEN_PRINT=1 to print them as C strings; such a run always
 * fails, see tests/testutil.h), checked by eye, and frozen here.
 */
#include "tests/testutil.h"

#include "ui/dash.h"
#include "ui/frame.h"
#include "ui/shell.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Fixtures ------------------------------------------------------------------ */

#define NS 60
static double S_REQ[NS], S_LAT[NS], S_DEC[NS], S_ERR[NS];

static void make_series(void)
{
    for (int i = 0; i < NS; i++) {
        S_REQ[i] = (double)((i * 7) % 40);           /* a saw: 0 .. 39 */
        S_LAT[i] = i % 10 == 3 ? 0 : 500 + 60.0 * i; /* gaps: minutes without requests */
        S_DEC[i] = 20 + 2.0 * (i % 12);
        S_ERR[i] = i == 20 || i == 58 ? (i == 58 ? 2 : 1) : 0;
    }
}

static const dash_model_row MODELS[] = {
    {"SmolLM2-135M-Instruct · Q8_0", 120, 1.0 / 120, {true, 700, 1500, 1900, 3200},
     {true, 150, 300, 380, 900}, 44.0, 40, 6},
    {"Qwen2.5-0.5B-Instruct, a very long display name that cannot fit · Q4_K_M", 30, 2.0 / 30,
     {true, 2100, 4500, 5100, 6900}, {true, 400, 900, 1200, 2500}, 21.5, 0, 0},
};

static const dash_error_row ERRORS[] = {
    {"11-23 16:17:02", "SmolLM2-135M-Instruct", "error", "engine: the prompt does not fit the context"},
    {"11-23 16:15:40", "Qwen2.5-0.5B-Instruct", "timeout", "remote said \x1b[2J and hung up"},
};

static const char *const ALERTS[] = {"p95 latency 4100 ms > 3000 ms"};

static void dash_fixture(dash_view *v)
{
    make_series();
    dash_init(v);
    v->window = "5m";
    v->loading = false;
    v->requests = 150;
    v->errors = 3;
    v->running = 1;
    v->error_rate = 0.02;
    v->requests_per_min = 30.0;
    v->latency_ms = (dash_pcts){true, 850, 2600, 4100, 5200};
    v->ttft_ms = (dash_pcts){true, 180, 350, 420, 1100};
    v->prefill_tps = 512.34;
    v->decode_tps = 41.2;
    v->tokens_generated = 12345;
    v->thumbs_down_rate = 0.12;
    v->thumbs_n = 25;
    v->s_requests = S_REQ;
    v->s_latency_p95 = S_LAT;
    v->s_decode_tps = S_DEC;
    v->s_errors = S_ERR;
    v->n_series = NS;
    v->models = MODELS;
    v->n_models = 2;
    v->errors_list = ERRORS;
    v->n_errors = 2;
    v->alerts = ALERTS;
    v->n_alerts = 1;
    v->bad = DASH_BAD_LATENCY;
    v->updated = "updated 16:18:05";
}

static void shell_fixture(shell_view *v)
{
    shell_init(v);
    v->model = "SmolLM2-135M-Instruct";
    v->quant = "Q8_0";
    v->backend = "local";
    v->db_path = "/home/agent/.local/share/frontdesk/frontdesk.db";
    dash_fixture(&v->dash);
    v->screen = UI_SCREEN_DASH;
}

/* ---- Helpers --------------------------------------------------------------------- */

static ui_key K(uint32_t code) { return (ui_key){code, 0}; }
static ui_key ALT(uint32_t code) { return (ui_key){code, UI_MOD_ALT}; }
static ui_key CTRL(uint32_t code) { return (ui_key){code, UI_MOD_CTRL}; }
#define F(n) K(UI_K_F1 + (n) - 1)

static char *dash_text(const dash_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    dash_render(v, f, 0, 0, w, h);
    return frame_to_text(f);
}

static char *shell_text(const shell_view *v, ui_frame *f, int w, int h)
{
    frame_init(f, w, h);
    shell_render(v, f);
    return frame_to_text(f);
}

/* The row of the frame text whose line contains `needle`, or -1. */
static int row_of(const char *text, const char *needle)
{
    int row = 0;
    for (const char *line = text; *line; row++) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (memmem(line, len, needle, strlen(needle)))
            return row;
        if (!nl)
            break;
        line = nl + 1;
    }
    return -1;
}

/* The column where frame row y shows the ASCII text `needle`, or -1. */
static int col_of(const ui_frame *f, int y, const char *needle)
{
    int n = (int)strlen(needle);
    for (int x = 0; x + n <= f->w; x++) {
        int i = 0;
        while (i < n && f->cells[y * f->w + x + i].ch == (uint32_t)(unsigned char)needle[i])
            i++;
        if (i == n)
            return x;
    }
    return -1;
}

static const ui_cell *cell(const ui_frame *f, int x, int y)
{
    return &f->cells[y * f->w + x];
}

/* Every cell of the ASCII `needle` found on row y has `style`. */
static void assert_text_style(const ui_frame *f, const char *text, const char *needle, ui_style style)
{
    int y = row_of(text, needle);
    if (y < 0)
        fail_msg("\"%s\" not in the frame", needle);
    int x = col_of(f, y, needle);
    assert_true(x >= 0);
    for (int i = 0; i < (int)strlen(needle); i++)
        if (cell(f, x + i, y)->style != style)
            fail_msg("\"%s\": column %d has style %d, not %d", needle, x + i, cell(f, x + i, y)->style, style);
}

static void assert_outside_blank(const ui_frame *f, int x, int y, int w, int h)
{
    for (int r = 0; r < f->h; r++)
        for (int c = 0; c < f->w; c++) {
            if (c >= x && c < x + w && r >= y && r < y + h)
                continue;
            const ui_cell *k = cell(f, c, r);
            if (k->ch != ' ' || k->style != UI_S_NORMAL || k->attr || k->width != 1)
                fail_msg("drawn outside (%d,%d %dx%d) at column %d row %d", x, y, w, h, c, r);
        }
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
    dash_fixture(&v);
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
    dash_fixture(&v);
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
    dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 100, 30);
    /* The flagged p95 latency is UI_S_BAD, its neighbours are not. */
    int y = row_of(t, "p50 850 ms");
    int x = col_of(&f, y, "4.1 s");
    char *st = frame_row_styles(&f, y);
    for (int i = 0; i < 5; i++)
        assert_int_equal(st[x + i], 'a' + UI_S_BAD);
    assert_int_equal(st[col_of(&f, y, "850 ms")], 'a' + UI_S_NORMAL);
    assert_int_equal(st[col_of(&f, y, "5.2 s")], 'a' + UI_S_NORMAL);
    assert_int_equal(st[col_of(&f, y, "p95")], 'a' + UI_S_MUTED);
    assert_int_equal(st[0], 'a' + UI_S_BAD); /* the row label "latency" */
    free(st);
    /* TTFT is not flagged; 3 errors are neither good nor bad. */
    assert_text_style(&f, t, "420 ms", UI_S_NORMAL);
    assert_text_style(&f, t, "TTFT", UI_S_MUTED);
    assert_text_style(&f, t, "2.0%", UI_S_NORMAL);
    assert_text_style(&f, t, "12%", UI_S_NORMAL);
    /* The alert line is bad throughout; panel titles are titles. */
    assert_text_style(&f, t, "p95 latency 4100 ms > 3000 ms", UI_S_BAD);
    assert_text_style(&f, t, "Alerts", UI_S_TITLE);
    assert_text_style(&f, t, "Latest errors", UI_S_TITLE);
    /* The escape in the error message is drawn as an escape. */
    y = row_of(t, "^[[2J");
    x = col_of(&f, y, "^[[2J");
    assert_int_equal(cell(&f, x, y)->style, UI_S_ESCAPED);
    assert_text_style(&f, t, "timeout", UI_S_BAD);
    free(t);

    /* Every other flag, and an error rate of 0. */
    v.bad = DASH_BAD_TTFT | DASH_BAD_ERRORS | DASH_BAD_THUMBS | DASH_BAD_DECODE;
    t = dash_text(&v, &f, 100, 30);
    assert_text_style(&f, t, "420 ms", UI_S_BAD);
    assert_text_style(&f, t, "4.1 s", UI_S_NORMAL);
    assert_text_style(&f, t, "2.0%", UI_S_BAD);
    assert_text_style(&f, t, "12%", UI_S_BAD);
    assert_text_style(&f, t, "41.2", UI_S_BAD);
    assert_text_style(&f, t, "512.3", UI_S_NORMAL);
    free(t);
    v.bad = 0;
    v.errors = 0;
    v.error_rate = 0;
    v.n_alerts = 0;
    t = dash_text(&v, &f, 100, 30);
    assert_text_style(&f, t, "0.0%", UI_S_GOOD);
    assert_non_null(strstr(t, "(0 of 150)"));
    assert_text_style(&f, t, "Alerts", UI_S_TITLE);
    y = row_of(t, "Alerts  none");
    x = col_of(&f, y, "none");
    for (int i = 0; i < 4; i++)
        assert_int_equal(cell(&f, x + i, y)->style, UI_S_GOOD);
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
    dash_fixture(&v);
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
    assert_true(row_of(t, "↑ 3 more lines (k/Up)") == 6);
    assert_true(row_of(t, "p50 850 ms") == 3);
    assert_true(row_of(t, "Last hour, per minute") == 7);
    assert_true(row_of(t, "↓ 7 more lines (j/Down)") == 13);
    assert_int_equal(row_of(t, "Alerts"), -1);
    free(t);

    /* End reaches the last line at that size; further Down stays. */
    dash_key(&v, K(UI_K_END));
    int end = v.scroll;
    dash_key(&v, K('j'));
    assert_int_equal(v.scroll, end);
    t = dash_text(&v, &f, 60, 14);
    assert_true(row_of(t, "remote said ^[[2J") == 13);
    assert_int_equal(row_of(t, "more lines (j/Down)"), -1);
    assert_true(row_of(t, "Models") >= 7);
    free(t);
    /* A taller screen clamps the same scroll: everything fits, no notes. */
    t = dash_text(&v, &f, 100, 30);
    assert_int_equal(row_of(t, "more line"), -1);
    assert_true(row_of(t, "Alerts (1)") == 7);
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
    dash_fixture(&v);
    ui_frame f = {0};
    char *t = dash_text(&v, &f, 60, 30);
    assert_int_equal(row_of(t, "more line"), -1); /* everything fits */
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
    dash_fixture(&v);
    ui_frame f = {0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        for (int mode = 0; mode < 4; mode++) {
            v.loading = mode == 1;
            v.scroll = mode == 2 ? 5 : mode == 3 ? 1000 : 0;
            frame_init(&f, w + 10, h + 6);
            dash_render(&v, &f, 4, 3, w, h);
            assert_outside_blank(&f, 4, 3, w, h);
            char *t = frame_to_text(&f);
            test_assert_no_controls(t);
            assert_null(strstr(t, "nan"));
            free(t);
        }
    }
    frame_free(&f);
}

/* ---- Shell: tabs, status line, screens -------------------------------------------- */

static const char SHELL_100x30[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models                               F10 help · Ctrl-Q quit\n"
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
    " SmolLM2-135M-Instruct (Q8_0) · local · /home/agent/.local/share/frontdesk/frontdesk.db · idle\n";
static const char SHELL_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
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
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";

/* Row y of the text (a copy without the newline; caller frees). */
static char *line_of(const char *text, int y)
{
    const char *p = text;
    for (int i = 0; i < y && p; i++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    assert_non_null(p);
    const char *nl = strchr(p, '\n');
    return strndup(p, nl ? (size_t)(nl - p) : strlen(p));
}

static void test_shell_golden_dash(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    char *t = shell_text(&v, &f, 100, 30);
    test_assert_no_controls(t);
    /* The active tab is reversed, the others are not; the status line is
     * UI_S_STATUS from edge to edge. */
    int x = col_of(&f, 0, " F3 Dashboard ");
    assert_true(x > 0);
    for (int i = 0; i < 14; i++) {
        assert_int_equal(cell(&f, x + i, 0)->style, UI_S_TITLE);
        assert_true(cell(&f, x + i, 0)->attr & UI_A_REVERSE);
    }
    assert_false(cell(&f, col_of(&f, 0, "F1 Chat"), 0)->attr & UI_A_REVERSE);
    char *st = frame_row_styles(&f, 29);
    for (int i = 0; i < 100; i++)
        assert_int_equal(st[i], 'a' + UI_S_STATUS);
    free(st);
    assert_false(f.cursor_visible);
    test_expect_golden("SHELL_100x30", t, SHELL_100x30);
    /* At the smallest size the dashboard gets 60x14. */
    test_expect_golden("SHELL_60x16", shell_text(&v, &f, 60, 16), SHELL_60x16);
    frame_free(&f);
    shell_free(&v);
}

static void test_shell_status_line(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    char *t, *l;

    v.generating = true;
    v.live_tps = 41.25;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · /home/agent/.local/share/frontdesk/frontdesk.db · 41.2 tok/s");
    free(l);
    free(t);
    /* Generating before the first token. */
    v.live_tps = 0;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_non_null(strstr(l, "· generating…"));
    free(l);
    free(t);

    /* Narrow: the path shrinks from its start, the rest stays. */
    v.generating = false;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle");
    free(l);
    free(t);

    /* A notice takes the right; a bad one is UI_S_BAD. */
    v.notice = "saved";
    v.notice_bad = false;
    t = shell_text(&v, &f, 100, 30);
    l = line_of(t, 29);
    assert_string_equal(l, " SmolLM2-135M-Instruct (Q8_0) · local · …/agent/.local/share/frontdesk/frontdesk.db · idle    saved");
    free(l);
    assert_int_equal(cell(&f, 95, 29)->style, UI_S_STATUS);
    free(t);
    v.notice = "database is locked \x1b[31m (retrying)";
    v.notice_bad = true;
    t = shell_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM2-135M… · idle  database is locked ^[[31m (retrying)");
    free(l);
    int x = col_of(&f, 15, "database");
    for (int i = x; i < 59; i++)
        assert_int_equal(cell(&f, i, 15)->style, i >= col_of(&f, 15, "^[") && i < col_of(&f, 15, "^[") + 2
                                                     ? UI_S_ESCAPED : UI_S_BAD);
    assert_int_equal(cell(&f, x - 1, 15)->style, UI_S_BAD); /* its own margins */
    assert_int_equal(cell(&f, 59, 15)->style, UI_S_BAD);
    assert_int_equal(cell(&f, x - 2, 15)->style, UI_S_STATUS);
    assert_int_equal(cell(&f, 0, 15)->style, UI_S_STATUS);
    free(t);
    /* The live speed is kept whole; the model name gives way. */
    v.generating = true;
    v.live_tps = 38.04;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " SmolLM… · 38.0 tok/s  database is locked ^[[31m (retrying)");
    free(l);
    free(t);
    v.generating = false;

    /* Nothing known yet. */
    v.notice = NULL;
    v.model = v.quant = v.backend = v.db_path = NULL;
    t = shell_text(&v, &f, 60, 16);
    l = line_of(t, 15);
    assert_string_equal(l, " no model · idle");
    free(l);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: overlays ------------------------------------------------------------------ */

static const char HELP_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Da┌─ Keys — Dashboard ──────────────────────────────────┐:05\n"
    "re│ Dashboard                                           │\n"
    "er│ w                 window: 1m→5m→1h→24h→7d→30d       │\n"
    "la│ Up / Down, j / k  scroll the lower panels           │\n"
    "TT│ PgUp / PgDn       scroll the lower panels by a page │\n"
    "to│ Home / End        top / bottom of the lower panels  │\n"
    "  │                                                     │\n"
    "Al│ Everywhere                                          │\n"
    "  │ F1 / Alt-1        Chat screen                       │\n"
    "  │ F2 / Alt-2        Review screen                     │\n"
    "La│ F3 / Alt-3        Dashboard screen                  │\n"
    "re│ F4 / Alt-4        Models screen                     │ 13\n"
    "p9│ F10 / ?           this help (? when not typing)    ↓│0 s\n"
    "  └──────────────────────────── ↑↓ scroll · Esc closes ─┘wn)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char QUIT_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok/s┌─ Quit ─────────────────────────────────────────┐\n"
    "     │ A reply is being generated. Quit anyway? (y/N) │\n"
    "Alert└──────────────── y quits · any other key stays ─┘\n"
    "  ▲ p95 latency 4100 ms > 3000 ms\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · generating…\n";
static const char PROMPT_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Review — 0 of 0 unrated\n"
    "\n"
    "\n"
    "\n"
    "    ┌──────────────────────────────────────────────────┐\n"
    "    │ Search replies and their conversations (empty:   │\n"
    "    │ no search)                                       │\n"
    "Noth│ refund q                                         │ter\n"
    "    └────────────────────────── Enter OK · Esc cancel ─┘\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char PICK_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    " New conversation\n"
    "\n"
    "\n"
    "          ┌──────────────────────────────────────┐\n"
    "          │ New conversation: choose a profile   │\n"
    " New conve│  default                             │age below\n"
    "          │  billing — refunds and invoices      │\n"
    "          │▸ delivery ^[[1m                      │\n"
    "          │  technical                           │\n"
    "          └── ↑↓ choose · Enter OK · Esc cancel ─┘\n"
    "────────────────────────────────────────────────────────────\n"
    " Type the customer's message — Enter sends\n"
    "\n"
    "\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";
static const char MESSAGE_60x16[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models     F10 help\n"
    "Dashboard — window 5m (w to change)         updated 16:18:05\n"
    "requests  30.0/min        running 1        tokens 12,345\n"
    "errors    2.0% (3 of 150)  thumbs down 12% of 25\n"
    "latency   p50 850 ms      p95 4.1 s        p99 5.2 s\n"
    "TTFT      p50 180 ms      p95 420 ms       p99 1.1 s\n"
    "tok┌────────────────────────────────────────────────────┐\n"
    "   │ Copied the reply to the clipboard file             │\n"
    "Ale│ ~/.local/share/frontdesk/clip.txt (OSC 52 is off). │\n"
    "  ▲└─────────────────────────────────── any key closes ─┘\n"
    "\n"
    "Last hour, per minute\n"
    "requests/min ▇▁▂▃▄▆▇▁▂▄▅▆▇▁▃▄▅▆ ▂▃▄▆▇▁▂▃▅▆▇▁▂▄▅▆█▂▃       13\n"
    "p95 latency  ▄ ▄▄▄▄▄▄▄▅▅ ▅▅▅▅▅▅▆▆▆ ▆▆▆▆▆▆▇▇▇ ▇▇▇▇▇█    4.0 s\n"
    "                                    ↓ 10 more lines (j/Down)\n"
    " SmolLM2-135M-Instruct (Q8_0) · local · …frontdesk.db · idle\n";

static void test_help_overlay(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    char *t = shell_text(&v, &f, 60, 16);
    assert_false(f.cursor_visible);
    test_expect_golden("HELP_60x16", t, HELP_60x16);
    /* Scrolling shows the rest; keys other than the closing ones stay. */
    assert_int_equal(shell_key(&v, K(UI_K_DOWN)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('j')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('x')), SHELL_NONE);
    assert_int_equal(shell_key(&v, F(1)), SHELL_NONE); /* the overlay takes every key */
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    assert_int_equal(v.help_scroll, 2); /* 14 lines, 12 rows */
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "│ Tab               move the focus"));
    assert_null(strstr(t, "│ Dashboard "));
    assert_non_null(strstr(t, "↑│"));
    assert_null(strstr(t, "↓│"));
    free(t);
    shell_key(&v, K('k'));
    shell_key(&v, K('k'));
    assert_int_equal(v.help_scroll, 0);
    shell_key(&v, K(UI_K_END));
    assert_int_equal(v.help_scroll, 2);
    shell_key(&v, K(UI_K_HOME));
    assert_int_equal(v.help_scroll, 0);
    /* The Chat screen's keys are many more: scroll through them all. */
    v.screen = UI_SCREEN_CHAT;
    shell_key(&v, K(UI_K_END));
    int end = v.help_scroll;
    assert_true(end > 5);
    shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.help_scroll, end);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "│ Tab               move the focus"));
    assert_null(strstr(t, "↓│"));
    free(t);
    v.help_scroll = 0;
    t = shell_text(&v, &f, 60, 16);
    assert_null(strstr(t, "│ Tab               move the focus"));
    assert_non_null(strstr(t, "↓│"));
    free(t);
    v.screen = UI_SCREEN_DASH;
    /* The help lists the current screen's keys and the global ones. */
    static const uint32_t closers[] = {UI_K_ESC, UI_K_F1 + 9, '?', 'q', UI_K_ENTER};
    for (size_t i = 0; i < sizeof closers / sizeof closers[0]; i++) {
        v.overlay = UI_OVERLAY_HELP;
        assert_int_equal(shell_key(&v, K(closers[i])), SHELL_NONE);
        assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    }
    /* F10 opens it anywhere (also while typing), at the top. */
    v.screen = UI_SCREEN_CHAT;
    assert_true(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, F(10)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    assert_int_equal(v.help_scroll, 0);
    t = shell_text(&v, &f, 100, 30);
    assert_non_null(strstr(t, "Keys — Chat"));
    assert_non_null(strstr(t, "send the message"));
    assert_non_null(strstr(t, "F1 / Alt-1"));
    free(t);
    v.screen = UI_SCREEN_REVIEW;
    t = shell_text(&v, &f, 100, 30);
    assert_non_null(strstr(t, "Keys — Review"));
    assert_non_null(strstr(t, "score the reply"));
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_quit_flow(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    /* Idle: Ctrl-Q (and q outside a text field) quit at once. */
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, K('q')), SHELL_QUIT);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    /* Generating: a confirmation; n (or anything but y) keeps running. */
    v.generating = true;
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_QUIT);
    char *t = shell_text(&v, &f, 60, 16);
    assert_false(f.cursor_visible);
    test_expect_golden("QUIT_60x16", t, QUIT_60x16);
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE); /* not an answer */
    assert_int_equal(v.overlay, UI_OVERLAY_QUIT);
    assert_int_equal(shell_key(&v, K('n')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE); /* a second Ctrl-Q is "anything else" */
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('y')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('Y')), SHELL_QUIT);
    frame_free(&f);
    shell_free(&v);
}

static void test_prompt_overlay(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    v.screen = UI_SCREEN_REVIEW;
    v.review.empty = true;
    ui_frame f = {0};
    shell_prompt(&v, "Search replies and their conversations (empty: no search)", "refund");
    assert_int_equal(v.overlay, UI_OVERLAY_PROMPT);
    /* Editor keys type, q and ? included; F-keys do not switch. */
    assert_int_equal(shell_key(&v, K(' ')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE);
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(shell_key(&v, F(1)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_BACKSPACE)), SHELL_NONE);
    assert_string_equal(ui_input_text(&v.prompt), "refund q");
    char *t = shell_text(&v, &f, 60, 16);
    assert_true(f.cursor_visible);
    int y = row_of(t, "refund q");
    assert_int_equal(f.cur_y, y);
    assert_int_equal(f.cur_x, col_of(&f, y, "refund q") + 8);
    test_expect_golden("PROMPT_60x16", t, PROMPT_60x16);
    /* Enter: the answer stays for app/ to read. */
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PROMPT_OK);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_string_equal(ui_input_text(&v.prompt), "refund q");
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    ui_input_clear(&v.prompt); /* as app/ does */
    /* Esc cancels; a new prompt starts from its initial text. */
    shell_prompt(&v, "Add a tag", NULL);
    assert_string_equal(ui_input_text(&v.prompt), "");
    shell_key(&v, K('x'));
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_CANCELLED);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_prompt(&v, "Rename the conversation", "Delivery late");
    assert_string_equal(ui_input_text(&v.prompt), "Delivery late");
    /* A paste with a newline stays one line. */
    shell_key(&v, K(UI_K_PASTE_BEGIN));
    shell_key(&v, K('!'));
    shell_key(&v, K(UI_K_ENTER));
    shell_key(&v, K(UI_K_PASTE_END));
    assert_int_equal(v.overlay, UI_OVERLAY_PROMPT);
    assert_null(strchr(ui_input_text(&v.prompt), '\n'));
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PROMPT_OK);
    assert_string_equal(ui_input_text(&v.prompt), "Delivery late! "); /* the pasted newline, a space */
    frame_free(&f);
    shell_free(&v);
}

static void test_pick_overlay(void **state)
{
    (void)state;
    static const char *const items[] = {"default", "billing — refunds and invoices", "delivery \x1b[1m",
                                        "technical"};
    shell_view v;
    shell_fixture(&v);
    v.screen = UI_SCREEN_CHAT;
    ui_frame f = {0};
    shell_pick(&v, "New conversation: choose a profile", items, 4);
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_UP)), SHELL_NONE);
    assert_int_equal(v.pick_sel, 0);
    shell_key(&v, K(UI_K_DOWN));
    shell_key(&v, K('j'));
    assert_int_equal(v.pick_sel, 2);
    char *t = shell_text(&v, &f, 60, 16);
    test_assert_no_controls(t);
    assert_false(f.cursor_visible); /* the chat input's cursor is under the box */
    int y = row_of(t, "delivery ^[[1m");
    assert_int_equal(cell(&f, col_of(&f, y, "delivery"), y)->style, UI_S_SELECTED);
    y = row_of(t, "technical");
    assert_int_equal(cell(&f, col_of(&f, y, "technical"), y)->style, UI_S_NORMAL);
    test_expect_golden("PICK_60x16", t, PICK_60x16);
    shell_key(&v, K('j'));
    shell_key(&v, K('j'));
    assert_int_equal(v.pick_sel, 3);
    shell_key(&v, K('k'));
    assert_int_equal(shell_key(&v, K('q')), SHELL_NONE); /* not a quit inside the picker */
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PICKED);
    assert_int_equal(v.pick_sel, 2);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_pick(&v, "Again", items, 4);
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_CANCELLED);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    /* Nothing to pick: Enter cancels rather than pick a missing item. */
    shell_pick(&v, "Nothing", items, 0);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "nothing to choose from"));
    free(t);
    shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.pick_sel, 0);
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_CANCELLED);
    /* More items than rows: the selection stays in view. */
    static const char *many[30];
    char names[30][24];
    for (int i = 0; i < 30; i++) {
        snprintf(names[i], sizeof names[i], "profile %02d", i);
        many[i] = names[i];
    }
    shell_pick(&v, "Many", many, 30);
    for (int i = 0; i < 29; i++)
        shell_key(&v, K(UI_K_DOWN));
    assert_int_equal(v.pick_sel, 29);
    t = shell_text(&v, &f, 60, 16);
    assert_non_null(strstr(t, "profile 29"));
    assert_null(strstr(t, "profile 00"));
    y = row_of(t, "profile 29");
    assert_int_equal(cell(&f, col_of(&f, y, "profile 29"), y)->style, UI_S_SELECTED);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_message_overlay(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    shell_message(&v, "Copied the reply to the clipboard file ~/.local/share/frontdesk/clip.txt (OSC 52 is off).");
    char *t = shell_text(&v, &f, 60, 16);
    test_expect_golden("MESSAGE_60x16", t, MESSAGE_60x16);
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_MESSAGE);
    assert_int_equal(shell_key(&v, K('z')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_message(&v, "x");
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_NONE); /* closes; does not quit */
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    frame_free(&f);
    shell_free(&v);
}

/* Every overlay at every size: inside the frame, nothing raw. */
static void test_overlay_containment(void **state)
{
    (void)state;
    static const char *const items[] = {"a", "b"};
    static const int sizes[][2] = {{60, 16}, {61, 17}, {100, 30}, {200, 60}, {60, 40}, {300, 16}};
    shell_view v;
    shell_fixture(&v);
    ui_frame f = {0};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int o = UI_OVERLAY_NONE; o <= UI_OVERLAY_MESSAGE; o++)
            for (int scr = 0; scr < 4; scr++) {
                v.screen = (ui_screen)scr;
                v.overlay = (ui_overlay)o;
                v.prompt_title = "A title that is rather long and will need to be wrapped inside the box "
                                 "because it cannot fit on one line at the smallest size";
                v.pick_title = v.prompt_title;
                v.pick_items = items;
                v.n_pick = 2;
                v.message = "\x1b[2J";
                v.help_scroll = 1000;
                char *t = shell_text(&v, &f, sizes[s][0], sizes[s][1]);
                test_assert_no_controls(t);
                assert_int_equal(row_of(t, "Terminal too small"), -1);
                free(t);
            }
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: too small --------------------------------------------------------------- */

static const char SMALL_59x16[] =
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "                 Terminal too small: 59x16\n"
    "              frontdesk needs at least 60x16\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n";
static const char SMALL_20x5[] =
    "\n"
    "  Too small: 20x5\n"
    "    needs 60x16\n"
    "\n"
    "\n";

static void test_too_small(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    v.overlay = UI_OVERLAY_HELP; /* not drawn either */
    ui_frame f = {0};
    test_expect_golden("SMALL_59x16", shell_text(&v, &f, 59, 16), SMALL_59x16);
    char *t = shell_text(&v, &f, 60, 15);
    assert_int_equal(row_of(t, "Terminal too small: 60x15"), 6);
    assert_int_equal(row_of(t, "frontdesk needs at least 60x16"), 7);
    assert_int_equal(col_of(&f, 6, "Terminal"), (60 - 25) / 2); /* centred */
    assert_int_equal(col_of(&f, 7, "frontdesk"), (60 - 30) / 2);
    assert_null(strstr(t, "F1 Chat"));
    assert_false(f.cursor_visible);
    free(t);
    test_expect_golden("SMALL_20x5", shell_text(&v, &f, 20, 5), SMALL_20x5);
    t = shell_text(&v, &f, 1, 1);
    assert_string_equal(t, "T\n");
    free(t);
    t = shell_text(&v, &f, 3, 2);
    assert_string_equal(t, "Too\nnee\n"); /* the short forms, clipped */
    free(t);
    t = shell_text(&v, &f, 0, 0);
    assert_string_equal(t, "");
    free(t);
    t = shell_text(&v, &f, 0, 5);
    assert_string_equal(t, "\n\n\n\n\n");
    free(t);
    t = shell_text(&v, &f, 200, 1);
    assert_int_equal(row_of(t, "Terminal too small: 200x1"), 0);
    free(t);
    /* From a chat screen whose input has the cursor: hidden. */
    v.overlay = UI_OVERLAY_NONE;
    v.screen = UI_SCREEN_CHAT;
    t = shell_text(&v, &f, 59, 30);
    assert_false(f.cursor_visible);
    free(t);
    t = shell_text(&v, &f, 60, 16);
    assert_true(f.cursor_visible); /* just big enough: the chat input has it */
    free(t);
    frame_free(&f);
    shell_free(&v);
}

/* ---- Shell: keys ----------------------------------------------------------------------- */

static void test_switching(void **state)
{
    (void)state;
    shell_view v;
    shell_init(&v);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, F(2)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    assert_int_equal(shell_key(&v, F(3)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(shell_key(&v, F(3)), SHELL_NONE); /* already there */
    assert_int_equal(shell_key(&v, F(1)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, ALT('3')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_DASH);
    assert_int_equal(shell_key(&v, ALT('2')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_REVIEW);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_SWITCHED);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_NONE);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    assert_int_equal(shell_key(&v, F(4)), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_MODELS);
    assert_int_equal(shell_key(&v, ALT('1')), SHELL_SWITCHED);
    assert_int_equal(shell_key(&v, ALT('4')), SHELL_SWITCHED);
    assert_int_equal(v.screen, UI_SCREEN_MODELS);
    assert_int_equal(shell_key(&v, F(1)), SHELL_SWITCHED);
    /* Not switches: plain digits (text), Ctrl-digits, F5, Alt-5. */
    assert_int_equal(shell_key(&v, K('2')), SHELL_PASS);
    assert_int_equal(shell_key(&v, CTRL('2')), SHELL_PASS);
    assert_int_equal(shell_key(&v, F(5)), SHELL_PASS);
    assert_int_equal(shell_key(&v, ALT('5')), SHELL_PASS);
    assert_int_equal(shell_key(&v, (ui_key){UI_K_F1 + 1, UI_MOD_ALT}), SHELL_PASS);
    assert_int_equal(v.screen, UI_SCREEN_CHAT);
    /* Resizes are the shell's; everything else goes to the screen. */
    assert_int_equal(shell_key(&v, K(UI_K_RESIZE)), SHELL_NONE);
    assert_int_equal(shell_key(&v, K(UI_K_TAB)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K(UI_K_ENTER)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K(UI_K_ESC)), SHELL_PASS);
    assert_int_equal(shell_key(&v, K('w')), SHELL_PASS);
    assert_int_equal(shell_key(&v, ALT('q')), SHELL_PASS);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    shell_free(&v);
}

static void test_typing_keeps_q(void **state)
{
    (void)state;
    shell_view v;
    shell_fixture(&v);
    v.screen = UI_SCREEN_CHAT;
    ui_frame f = {0};
    /* The chat input has the focus: q and ? are text for the screen. */
    assert_true(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, K('q')), SHELL_PASS);
    assert_int_equal(shell_key(&v, K('?')), SHELL_PASS);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_int_equal(shell_key(&v, CTRL('q')), SHELL_QUIT); /* Ctrl-Q still quits */
    /* So are they in the list filter. */
    v.chat.focus = CHAT_FOCUS_LIST;
    v.chat.filtering = true;
    assert_int_equal(shell_key(&v, K('q')), SHELL_PASS);
    /* Focus on the list: they are commands. */
    v.chat.filtering = false;
    assert_false(chat_typing(&v.chat));
    assert_int_equal(shell_key(&v, K('q')), SHELL_QUIT);
    assert_int_equal(shell_key(&v, K('?')), SHELL_NONE);
    assert_int_equal(v.overlay, UI_OVERLAY_HELP);
    shell_key(&v, K(UI_K_ESC));
    /* The chat screen inside the shell: tabs, screen, status. */
    v.chat.focus = CHAT_FOCUS_INPUT;
    char *t = shell_text(&v, &f, 100, 30);
    assert_int_equal(row_of(t, "F1 Chat"), 0);
    assert_true(cell(&f, col_of(&f, 0, "F1 Chat"), 0)->attr & UI_A_REVERSE);
    assert_false(cell(&f, col_of(&f, 0, "F3 Dashboard"), 0)->attr & UI_A_REVERSE);
    assert_non_null(strstr(t, "Type the customer's message"));
    assert_int_equal(row_of(t, "SmolLM2-135M-Instruct (Q8_0)"), 29);
    assert_true(f.cursor_visible);
    assert_true(f.cur_y > 0 && f.cur_y < 29);
    free(t);
    /* And the review screen. */
    v.screen = UI_SCREEN_REVIEW;
    v.review.empty = true;
    t = shell_text(&v, &f, 100, 30);
    assert_int_equal(row_of(t, "Review — 0 of 0 unrated"), 1);
    assert_non_null(strstr(t, "Nothing to review"));
    assert_true(cell(&f, col_of(&f, 0, "F2 Review"), 0)->attr & UI_A_REVERSE);
    free(t);
    frame_free(&f);
    shell_free(&v);
}

static void test_help_tables(void **state)
{
    (void)state;
    size_t n = 0;
    while (dash_help[n])
        n++;
    assert_true(n >= 4);
    assert_int_equal(n % 2, 0); /* key, description pairs */
    /* A zeroed shell frees; free after init too. */
    shell_view v;
    memset(&v, 0, sizeof v);
    shell_free(&v);
    shell_init(&v);
    assert_int_equal(v.overlay, UI_OVERLAY_NONE);
    assert_true(v.dash.loading);
    assert_string_equal(v.dash.window, "5m");
    assert_false(v.prompt.multiline);
    shell_free(&v);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8"))
        return test_skip_suite("test_ui_shell: no UTF-8 locale (C.UTF-8; make deps provides it) to measure text in");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dash_golden_100x30),
        cmocka_unit_test(test_dash_golden_60x16),
        cmocka_unit_test(test_dash_loading_and_empty),
        cmocka_unit_test(test_dash_styles),
        cmocka_unit_test(test_sparkline),
        cmocka_unit_test(test_dash_keys_and_scroll),
        cmocka_unit_test(test_dash_narrow_panels),
        cmocka_unit_test(test_dash_containment),
        cmocka_unit_test(test_shell_golden_dash),
        cmocka_unit_test(test_shell_status_line),
        cmocka_unit_test(test_help_overlay),
        cmocka_unit_test(test_quit_flow),
        cmocka_unit_test(test_prompt_overlay),
        cmocka_unit_test(test_pick_overlay),
        cmocka_unit_test(test_message_overlay),
        cmocka_unit_test(test_overlay_containment),
        cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_switching),
        cmocka_unit_test(test_typing_keeps_q),
        cmocka_unit_test(test_help_tables),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
