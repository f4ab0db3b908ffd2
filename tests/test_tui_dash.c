/*
 * test_tui_dash.c — the Dashboard as the application fills it (app/tui_dash.c
 * and the dashboard feed of app/dashfeed.c, on a store built here through the
 * storage API), drawn headlessly by the shell: what a user sees.
 *
 *   - a healthy store shows no alert and no figure in red;
 *   - each threshold of [thresholds] fires exactly above its value (at the
 *     value: no alert), names the figure and the threshold, and turns that
 *     figure and only that one red; thumbs_min_sample keeps the thumbs-down
 *     alert quiet below the sample; decode_tps_min = 0 is off;
 *   - the headline figures, the per-minute series, the model table and the
 *     latest errors, against figures worked out by hand.
 *
 * The feed computes on its own thread; a test waits (polling, generous
 * timeout) for a snapshot taken after it changed the store.
 */
#include "tests/testutil.h"

#include "app/config.h"
#include "app/tui.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <locale.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(d, call)                                                                                     \
    do {                                                                                                \
        if ((call) != DB_OK)                                                                            \
            fail_msg("%s: %s", #call, db_errmsg(d));                                                    \
    } while (0)

static const char *fresh_db(const char *name)
{
    const char *p = test_path(test_tmpdir(), name);
    unlink(p);
    return p;
}

/* ---- a store with known figures ---------------------------------------------- */

typedef struct {
    const char *path;
    db *d;
    int64_t model, conv;
} store;

static void store_open(store *s, const char *name)
{
    s->path = fresh_db(name);
    char err[512];
    if (db_open(&s->d, s->path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = "Alpha", .file_name = "alpha.gguf", .quant = "Q8_0"};
    OK(s->d, db_model_use(s->d, &m, &s->model));
    OK(s->d, db_conv_create(s->d, "default", "You help.", &s->conv));
}

static void request(store *s, db_outcome o, double latency, double ttft, double decode, int tokens, const char *error)
{
    int64_t id;
    OK(s->d, db_request_begin(s->d, s->model, "local", 0, 0, 0, &id));
    db_request_result r = {.outcome = o, .error = error, .prompt_tokens = 5, .gen_tokens = tokens,
                           .ttft_ms = ttft, .prefill_ms = -1, .decode_ms = -1, .latency_ms = latency,
                           .prefill_tps = 500, .decode_tps = decode, .attempts = 1};
    OK(s->d, db_request_finish(s->d, id, &r));
}

/* Every request row moved to start at `at` (one minute for all).  They
 * were folded into the rollups' current minute as they finished: the
 * rollups are emptied and the rows marked unfolded, so the next read folds
 * them again into the minute they now start in. */
static void requests_at(store *s, double at)
{
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(s->path, &raw), SQLITE_OK);
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.6f, folded = 0; DELETE FROM rollups", at);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
}

/* n replies, `down` of them thumbed down and the rest up by one rater each. */
static void thumbs(store *s, int n, int down)
{
    for (int i = 0; i < n; i++) {
        int64_t cust, reply;
        OK(s->d, db_msg_add(s->d, s->conv, DB_ROLE_CUSTOMER, "hello?", &cust));
        OK(s->d, db_reply_begin(s->d, s->conv, s->model, NULL, 0, &reply));
        OK(s->d, db_reply_end(s->d, reply, "hello!", s->model));
        db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = i < down ? -1 : 1};
        OK(s->d, db_rate(s->d, reply, "ana", &in));
    }
}

/* ---- the application's dashboard, headless ------------------------------------- */

static void dash_start(tui *t, const char *db_path, const char *config_text)
{
    memset(t, 0, sizeof *t);
    const char *cfg = test_path(test_tmpdir(), "config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(config_text, f);
    fclose(f);
    config_load(&t->cfg, cfg);
    if (t->cfg.n_warnings)
        fail_msg("config: %s", t->cfg.warnings[0]);
    shell_init(&t->sv);
    t->sv.screen = UI_SCREEN_DASH;
    t->sv.dash.window = "5m";
    t->sv.dash.loading = true;
    t->sv.model = "Alpha";
    t->sv.quant = "Q8_0";
    t->sv.backend = "local";
    t->sv.db_path = db_path;
    t->df = dashfeed_start(db_path);
    assert_non_null(t->df);
    dashfeed_active(t->df, true);
}

/* New thresholds for the next snapshot. */
static void dash_config(tui *t, const char *config_text)
{
    config_free(&t->cfg);
    const char *cfg = test_path(test_tmpdir(), "config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(config_text, f);
    fclose(f);
    config_load(&t->cfg, cfg);
    if (t->cfg.n_warnings)
        fail_msg("config: %s", t->cfg.warnings[0]);
}

/* Wait for a snapshot computed after now (the feed is asked at once). */
static void dash_refresh(tui *t)
{
    double asked = db_now();
    dashfeed_set_window(t->df, DB_WIN_5M);
    double t0 = util_now();
    for (;;) {
        tui_dash_update(t);
        if (t->have_snap && t->snap.at >= asked)
            break;
        if (util_now() - t0 > 30)
            fail_msg("no dashboard snapshot within 30 s");
        usleep(2000);
    }
    if (t->snap.error[0])
        fail_msg("dashboard: %s", t->snap.error);
}

static void dash_stop(tui *t)
{
    dashfeed_stop(t->df);
    tui_dash_free(t);
    shell_free(&t->sv);
    config_free(&t->cfg);
}

/* The whole screen as text (100x30). */
static char *screen(const tui *t, ui_frame *f)
{
    frame_init(f, 100, 30);
    shell_render(&t->sv, f);
    return frame_to_text(f);
}

/* The style of the cells where `word` is drawn on the row starting with
 * prefix (all of them the same), as the frame records it. */
static int style_of(const ui_frame *f, const char *text, const char *prefix, const char *word)
{
    int r = test_row_of(text, prefix);
    assert_true(r >= 0);
    const char *line = test_row(text, r), *q = strstr(line, word);
    if (!q)
        fail_msg("row '%s' lacks '%s'", line, word);
    int col = ui_text_width(line, (size_t)(q - line)), w = ui_text_width(word, strlen(word));
    int st = f->cells[r * f->w + col].style;
    for (int c = col; c < col + w; c++)
        if (f->cells[r * f->w + c].ch && f->cells[r * f->w + c].style != st)
            fail_msg("'%s' on row '%s' is drawn in mixed styles", word, line);
    return st;
}

/* ---- the tests -------------------------------------------------------------------- */

/* Twenty good requests and twelve thumbs, two of them down: nothing to
 * alert on at the default thresholds, nothing red. */
static void test_healthy_store_no_alert(void **state)
{
    (void)state;
    store s;
    store_open(&s, "healthy.db");
    for (int i = 1; i <= 20; i++)
        request(&s, DB_OUTCOME_OK, 100.0 + i, 20, 30, 8, NULL);
    thumbs(&s, 12, 2);
    tui t;
    dash_start(&t, s.path, "[ui]\nrater = ana\n");
    dash_refresh(&t);
    assert_int_equal(t.sv.dash.n_alerts, 0);
    assert_int_equal(t.sv.dash.bad, 0);
    ui_frame f = {0};
    char *text = screen(&t, &f);
    TEST_EXPECT_ROW(text, "Alerts", "Alerts  none");
    assert_null(strstr(text, "▲"));
    /* by hand: 20 of 20 ok, 2 down of 12 thumbs = 17% */
    TEST_EXPECT_ROW(text, "errors", "0.0%", "(0 of 20)", "thumbs down ", "17%", " of 12");
    assert_int_equal(style_of(&f, text, "errors", "0.0%"), UI_S_GOOD);
    assert_int_equal(style_of(&f, text, "latency", "p95 "), UI_S_MUTED);
    const char *figures[] = {"latency", "TTFT", "errors", "tok/s"};
    for (int i = 0; i < 4; i++)
        if (style_of(&f, text, figures[i], figures[i]) == UI_S_BAD)
            fail_msg("the %s label is red on a healthy store", figures[i]);
    free(text);
    frame_free(&f);
    dash_stop(&t);
    db_close(s.d);
}

/* One data set that sits exactly at chosen thresholds: request i (1..20)
 * took 10 i ms, its first token i ms, decoded at 10 tok/s; one of them
 * failed; ten thumbs, three down.  By hand (nearest rank): p95 latency
 * 190 ms, p95 time to first token 19 ms, error rate 1/20 = 5%, thumbs
 * down 3/10 = 30%, decode 10 tok/s.  The dashboard reads the rollups,
 * whose percentiles are the value of the log bucket (gamma = 1.01/0.99)
 * holding the nearest rank, 2 gamma^i / (gamma + 1) for i = ceil(log_gamma x),
 * within 1%: 190 -> 190.59 (shown 191), 19 -> 19.107 (19), 100 -> 100.49,
 * 200 -> 198.37 (198), 10 -> 10.07, 20 -> 19.89 (20). */
static void at_thresholds(store *s)
{
    for (int i = 1; i <= 20; i++)
        request(s, i == 3 ? DB_OUTCOME_ERROR : DB_OUTCOME_OK, 10.0 * i, i, 10, 2,
                i == 3 ? "the backend said no" : NULL);
    thumbs(s, 10, 3);
}

typedef struct {
    const char *config; /* [thresholds] lines                                */
    unsigned bad;       /* DASH_BAD_* expected                                */
    const char *alert;  /* the alert line expected, or NULL for none          */
} threshold_case;

static void test_each_threshold(void **state)
{
    (void)state;
    store s;
    store_open(&s, "thresholds.db");
    at_thresholds(&s);
    const threshold_case cases[] = {
        /* the defaults (5000 ms, 2000 ms, 5%, 30% of at least 10, decode off): the
         * error and thumbs figures sit exactly at theirs, which is no breach */
        {"", 0, NULL},
        {"latency_p95_ms = 191\n", 0, NULL},
        {"latency_p95_ms = 190\n", DASH_BAD_LATENCY, "p95 latency 191 ms > 190 ms"},
        {"ttft_p95_ms = 19.2\n", 0, NULL},
        {"ttft_p95_ms = 18\n", DASH_BAD_TTFT, "p95 time to first token 19 ms > 18 ms"},
        {"error_rate = 0.05\n", 0, NULL},
        {"error_rate = 0.049\n", DASH_BAD_ERRORS, "error rate 5.0% > 4.9% (1 of 20)"},
        {"thumbs_down_rate = 0.3\n", 0, NULL},
        {"thumbs_down_rate = 0.29\n", DASH_BAD_THUMBS, "thumbs down 30% > 29% (of 10)"},
        /* the minimum sample: 10 thumbs are enough for 10, not for 11 */
        {"thumbs_down_rate = 0.29\nthumbs_min_sample = 11\n", 0, NULL},
        {"thumbs_down_rate = 0.29\nthumbs_min_sample = 10\n", DASH_BAD_THUMBS, "thumbs down 30% > 29% (of 10)"},
        {"decode_tps_min = 10\n", 0, NULL},
        {"decode_tps_min = 10.5\n", DASH_BAD_DECODE, "decode 10.0 tok/s < 10.5 tok/s"},
        {"decode_tps_min = 0\n", 0, NULL},
        /* every threshold below its figure at once: five alerts */
        {"latency_p95_ms = 189\nttft_p95_ms = 18\nerror_rate = 0.049\nthumbs_down_rate = 0.29\n"
         "decode_tps_min = 10.5\n",
         DASH_BAD_LATENCY | DASH_BAD_TTFT | DASH_BAD_ERRORS | DASH_BAD_THUMBS | DASH_BAD_DECODE, NULL},
    };
    /* the figure each flag turns red: row label, the word drawn */
    const struct {
        unsigned flag;
        const char *row, *word;
    } figure[] = {
        {DASH_BAD_LATENCY, "latency", "191 ms"}, {DASH_BAD_TTFT, "TTFT", "19 ms"},
        {DASH_BAD_ERRORS, "errors", "5.0%"},     {DASH_BAD_THUMBS, "errors", "30%"},
        {DASH_BAD_DECODE, "tok/s", "10.0"},
    };
    tui t;
    dash_start(&t, s.path, "");
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        strbuf cfg = {0};
        sb_printf(&cfg, "[thresholds]\n%s", cases[c].config);
        dash_config(&t, cfg.data);
        sb_free(&cfg);
        dash_refresh(&t);
        const dash_view *v = &t.sv.dash;
        if (v->bad != cases[c].bad)
            fail_msg("case %zu (%s): bad flags %#x, want %#x", c, cases[c].config, v->bad, cases[c].bad);
        size_t want_n = 0;
        for (unsigned b = cases[c].bad; b; b &= b - 1)
            want_n++;
        if (v->n_alerts != want_n)
            fail_msg("case %zu (%s): %zu alerts, want %zu", c, cases[c].config, v->n_alerts, want_n);
        ui_frame f = {0};
        char *text = screen(&t, &f);
        if (!want_n)
            TEST_EXPECT_ROW(text, "Alerts", "Alerts  none");
        else {
            char head[32];
            snprintf(head, sizeof head, "Alerts (%zu)", want_n);
            TEST_EXPECT_ROW(text, "Alerts", head);
        }
        if (cases[c].alert) {
            char line[200];
            snprintf(line, sizeof line, "  ▲ %s", cases[c].alert);
            if (test_row_of(text, line) < 0)
                fail_msg("case %zu: no alert line '%s' in:\n%s", c, line, text);
        }
        for (size_t k = 0; k < sizeof figure / sizeof *figure; k++) {
            int st = style_of(&f, text, figure[k].row, figure[k].word);
            bool red = st == UI_S_BAD, want_red = cases[c].bad & figure[k].flag;
            if (red != want_red)
                fail_msg("case %zu (%s): '%s' on the %s row is %s", c, cases[c].config, figure[k].word,
                         figure[k].row, red ? "red" : "not red");
        }
        free(text);
        frame_free(&f);
    }
    dash_stop(&t);
    db_close(s.d);
}

/* The figures, the last hour's minutes, the model table and the latest
 * errors as drawn, against the at_thresholds data worked out by hand. */
static void test_figures_on_screen(void **state)
{
    (void)state;
    store s;
    store_open(&s, "figures.db");
    at_thresholds(&s);
    requests_at(&s, db_now() - 90); /* all in one minute, a minute and a half ago */
    tui t;
    dash_start(&t, s.path, "");
    dash_refresh(&t);
    const dash_view *v = &t.sv.dash;
    ui_frame f = {0};
    char *text = screen(&t, &f);
    /* 20 in the 5-minute window: 4.0/min; 2 tokens each; nearest-rank latency
     * of 10..200 ms: p50 100, p95 190, p99 200; first token 1..20 ms: 10, 19, 20;
     * prefill 500, decode 10 for every request */
    TEST_EXPECT_ROW(text, "requests", "4.0", "/min", "running ", "0", "tokens ", "40");
    TEST_EXPECT_ROW(text, "errors", "5.0%", " (1 of 20)", "thumbs down ", "30%", " of 10");
    TEST_EXPECT_ROW(text, "latency", "p50 ", "100 ms", "p95 ", "191 ms", "p99 ", "198 ms"); /* rollups: within 1% */
    TEST_EXPECT_ROW(text, "TTFT", "p50 ", "10 ms", "p95 ", "19 ms", "p99 ", "20 ms");
    TEST_EXPECT_ROW(text, "tok/s", "prefill ", "500.0", "decode ", "10.0");
    /* the hour's series: one minute holds all twenty */
    assert_int_equal(v->n_series, 60);
    size_t nonzero = 0, at = 0;
    for (size_t i = 0; i < v->n_series; i++)
        if (v->s_requests[i] != 0) {
            nonzero++;
            at = i;
        }
    assert_int_equal(nonzero, 1);
    assert_true(at == 57 || at == 58); /* 90 s ago: two minutes back, or one just after a minute turned */
    assert_true(v->s_requests[at] == 20);
    assert_true(v->s_errors[at] == 1);
    assert_true(fabs(v->s_latency_p95[at] - 190) <= 1.9); /* rollups: within 1% */
    assert_true(v->s_decode_tps[at] == 10);
    for (size_t i = 0; i < v->n_series; i++)
        if (i != at && (v->s_errors[i] != 0 || v->s_latency_p95[i] != 0 || v->s_decode_tps[i] != 0))
            fail_msg("minute %zu of the series is not empty", i);
    /* drawn: a single full bar in each line, the rest blank */
    const char *spark_rows[] = {"requests/min", "p95 latency", "decode tok/s", "errors    "};
    for (int i = 0; i < 4; i++) {
        int r = test_row_of(text, spark_rows[i]);
        if (i == 3) /* "errors" also starts the figures' row: the sparkline is the later one */
            for (int k = r + 1; k < 30; k++)
                if (!strncmp(test_row(text, k), "errors ", 7))
                    r = k;
        const char *line = test_row(text, r);
        const char *bar = strstr(line, "█");
        if (!bar || strstr(bar + 1, "█") || strstr(line, "▁") || strstr(line, "▄"))
            fail_msg("sparkline row '%s': want exactly one full bar", line);
    }
    /* the model table and the latest error */
    TEST_EXPECT_ROW(text, "Alpha · Q8_0", "20", "5.0%", "191 ms", "19 ms", "10.0");
    TEST_EXPECT_ROW(text, "Latest errors", "Latest errors");
    int r = test_row_of(text, "Latest errors");
    const char *next = test_row(text, r + 1);
    if (!strstr(next, "Alpha") || !strstr(next, "error") || !strstr(next, "the backend said no"))
        fail_msg("latest error row '%s'", next);
    free(text);
    frame_free(&f);
    dash_stop(&t);
    db_close(s.d);
}

/* Threshold edges the table above does not reach: latency_p95_ms = 1 is a
 * threshold like any other (190 ms > 1 ms); decode_tps_min says nothing
 * when no request measured a decode speed, nor on a store with no request
 * at all (and no model in the table). */
static void test_threshold_edges(void **state)
{
    (void)state;
    store s;
    store_open(&s, "edges.db");
    at_thresholds(&s);
    tui t;
    dash_start(&t, s.path, "[thresholds]\nlatency_p95_ms = 1\n");
    dash_refresh(&t);
    assert_int_equal(t.sv.dash.bad, DASH_BAD_LATENCY);
    assert_int_equal(t.sv.dash.n_alerts, 1);
    assert_string_equal(t.sv.dash.alerts[0], "p95 latency 191 ms > 1 ms");
    dash_stop(&t);
    db_close(s.d);

    /* twenty requests whose decode speed is unknown (0 tok/s: stored as unknown) */
    store_open(&s, "nodecode.db");
    for (int i = 1; i <= 20; i++)
        request(&s, DB_OUTCOME_OK, 100, 10, 0, 1, NULL);
    dash_start(&t, s.path, "[thresholds]\ndecode_tps_min = 5\n");
    dash_refresh(&t);
    assert_int_equal(t.sv.dash.requests, 20);
    assert_true(t.sv.dash.decode_tps == 0);
    assert_int_equal(t.sv.dash.bad, 0);
    assert_int_equal(t.sv.dash.n_alerts, 0);
    dash_stop(&t);
    db_close(s.d);

    /* nothing at all */
    store_open(&s, "empty.db");
    dash_start(&t, s.path, "[thresholds]\ndecode_tps_min = 5\n");
    dash_refresh(&t);
    assert_int_equal(t.sv.dash.requests, 0);
    assert_int_equal(t.sv.dash.n_models, 0);
    assert_int_equal(t.sv.dash.bad, 0);
    assert_int_equal(t.sv.dash.n_alerts, 0);
    ui_frame f = {0};
    char *text = screen(&t, &f);
    TEST_EXPECT_ROW(text, "Alerts", "Alerts  none");
    free(text);
    frame_free(&f);
    dash_stop(&t);
    db_close(s.d);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return test_skip_suite("test_tui_dash: the C.UTF-8 locale is not available (make deps provides it)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_healthy_store_no_alert),
        cmocka_unit_test(test_each_threshold),
        cmocka_unit_test(test_figures_on_screen),
        cmocka_unit_test(test_threshold_edges),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
