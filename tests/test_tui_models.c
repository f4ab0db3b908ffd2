/*
 * test_tui_models.c — the Models screen (F4): ui/models.c drawing a view
 * made here by hand, and app/tui_models.c acting on a real SQLite file
 * built through the storage API, keys pressed as the event loop passes
 * them (shell first, then the screen).
 *
 *   - golden frames: the whole shell at 100x30 (versions with figures, the
 *     deployment, the comparison with verdicts, the history) and the
 *     screen alone at 40x10; stored names, who and notes with control
 *     characters drawn escaped; verdicts coloured (better good, worse bad);
 *     nothing drawn outside the rectangle at any size from 0x0 up;
 *   - keys: selection clamped, each action key its action;
 *   - actions: c (share, note) starts the canary, s changes the share,
 *     p promotes, b rolls back, d deploys, x stops — each recorded with
 *     who = [ui] rater, the note, and the comparison as JSON figures; Esc
 *     at either prompt changes nothing; a share outside 1–50 is an error
 *     notice and changes nothing; the store's refusals are bad notices;
 *   - the figures of a version against counts worked out by hand; w
 *     cycles 24h → 7d → all → 1h.
 *
 * The golden frames were generated once (FRONTDESK_GOLDEN_PRINT=1) and
 * checked by eye against the view below.
 */
#include "tests/testutil.h"

#include "app/config.h"
#include "app/tui.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/evals.h"
#include "storage/metrics.h"
#include "util/util.h"

#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OK(d, call)                                                                                     \
    do {                                                                                                \
        if ((call) != DB_OK)                                                                            \
            fail_msg("%s: %s", #call, db_errmsg(d));                                                    \
    } while (0)

/* ---- drawing: a view made by hand ------------------------------------------------- */

static const models_row ROWS[3] = {
    {.name = "frontdesk-cs", .sha = "8606b7d3", .stable = true, .requests = 120, .errors = 3, .thumbed = 40,
     .up_rate = 0.8, .up_lo = 0.652, .up_hi = 0.895, .score_mean = 4.125, .latency_p95_ms = 1850,
     .decode_tps = 41.25, .with_confidence = 100, .low_confidence = 7, .first_used = "Nov 23",
     .last_used = "16:18"},
    {.name = "evil\x1b[31mred", .sha = "11f8803a", .candidate = true, .share = 10, .requests = 12, .errors = 0,
     .thumbed = 0, .up_rate = NAN, .up_lo = NAN, .up_hi = NAN, .score_mean = NAN, .latency_p95_ms = 640,
     .decode_tps = 44.5, .with_confidence = 0, .first_used = "16:02", .last_used = "16:17"},
    {.name = "old-model", .sha = "remote", .requests = 0, .up_rate = NAN, .score_mean = NAN,
     .latency_p95_ms = NAN, .decode_tps = NAN},
};

static const models_test TESTS[3] = {
    {"thumbs-up rate", 40, 35, 0.012, MODELS_V_WORSE, "worse"},
    {"decode tokens/s", 110, 12, 0.003, MODELS_V_BETTER, "typically faster"},
    {"score", 10, 2, NAN, MODELS_V_NOT_ENOUGH, "not enough data"},
};

static const models_eval EVALS[2] = {
    {"Nov 24 08:30", "complete", 40, 40, "frontdesk-cs vs evil\x1b", 41.25, 38.94, true, MODELS_V_WORSE,
     MODELS_V_NO_EVIDENCE, "worse", "no evidence"},
    {"Nov 23 15:10", "incomplete", 7, 40, "frontdesk-cs", 40.5, NAN, false, MODELS_V_NOT_ENOUGH,
     MODELS_V_NOT_ENOUGH, NULL, NULL},
};

static const models_event EVENTS[2] = {
    {"Nov 24 09:00", "canary-start", "frontdesk-cs + evil 10%", "ana", "try it\nsecond\x1b line"},
    {"Nov 23 16:00", "deploy", "frontdesk-cs", "bo\x07" "b", NULL},
};

static void view_fixture(models_view *v)
{
    models_init(v);
    v->window = "24h";
    v->loading = false;
    v->rows = ROWS;
    v->n_rows = 3;
    v->deployed = true;
    v->stable = "frontdesk-cs";
    v->candidate = "evil\x1b[31mred";
    v->share = 10;
    v->compared = true;
    v->tests = TESTS;
    v->n_tests = 3;
    v->compare_note = "thumbs: about 73 more ratings per arm";
    v->evals = EVALS;
    v->n_evals = 2;
    v->history = EVENTS;
    v->n_history = 2;
    v->updated = "updated 16:18:05";
    v->sel = 1;
}

static const char MODELS_100x30[] =
    " F1 Chat   F2 Review   F3 Dashboard   F4 Models                               F10 help · Ctrl-Q quit\n"
    "Models — window 24h (w to change)                                                   updated 16:18:05\n"
    "stable frontdesk-cs · candidate evil^[[31mred at 10%\n"
    "  version            sha-256   role      reqs   err  thumbs-up (95% CI)  score     p95  tok/s   last\n"
    "  frontdesk-cs       8606b7d3  stable     120  2.5%    80% (65–90) n=40   4.12   1.9 s   41.2  16:18\n"
    "▸ evil^[[31mred      11f8803a  cand 10%    12  0.0%                   –      –  640 ms   44.5  16:17\n"
    "  old-model          remote    –            0     –                   –      –       –      –      –\n"
    "\n"
    "Candidate vs stable (Holm-corrected, α 0.05)\n"
    "  metric               n stable  n cand  p (Holm)  verdict\n"
    "  thumbs-up rate             40      35     0.012  worse\n"
    "  decode tokens/s           110      12     0.003  typically faster\n"
    "  score                      10       2         –  not enough data\n"
    "  thumbs: about 73 more ratings per arm\n"
    "\n"
    "Eval runs, newest first (verdicts: B against A)\n"
    "  started       status      items  versions                 chrF A → B  chrF   perplexity\n"
    "  Nov 24 08:30  complete    40/40  frontdesk-cs vs evil^[  41.2 → 38.9  worse  no evidence\n"
    "  Nov 23 15:10  incomplete   7/40  frontdesk-cs                   40.5\n"
    "\n"
    "History\n"
    "  Nov 24 09:00  canary-start  frontdesk-cs + evil 10%  ana    try it^Jsecond^[ line\n"
    "  Nov 23 16:00  deploy        frontdesk-cs             bo^Gb\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    "\n"
    " frontdesk-cs · stable (Q8_0) · the deployment · /tmp/fd.db · idle\n";

static const char MODELS_40x10[] =
    "Models — window 24h (w to change)\n"
    "stable frontdesk-cs · cand evil… at 10%\n"
    "  version 2/3             role      reqs\n"
    "  frontdesk-cs            stable     120\n"
    "▸ evil^[[31mred           cand 10%    12\n"
    "\n"
    "Candidate vs stable (Holm-corrected, α …\n"
    "  metric         p (Holm)  verdict\n"
    "  thumbs-up ra…     0.012  worse\n"
    "                  ↓ 12 more lines (PgDn)\n";

static void test_models_golden(void **state)
{
    (void)state;
    shell_view sv;
    shell_init(&sv);
    sv.screen = UI_SCREEN_MODELS;
    sv.model = "frontdesk-cs · stable";
    sv.quant = "Q8_0";
    sv.backend = "the deployment";
    sv.db_path = "/tmp/fd.db";
    view_fixture(&sv.models);
    ui_frame f = {0};
    frame_init(&f, 100, 30);
    shell_render(&sv, &f);
    char *text = frame_to_text(&f);
    test_assert_no_controls(text);
    /* stored text escaped, never raw */
    assert_non_null(strstr(text, "evil^[[31mred"));
    assert_non_null(strstr(text, "try it^Jsecond^[ line"));
    assert_non_null(strstr(text, "bo^Gb"));
    test_expect_golden("MODELS_100x30", text, MODELS_100x30);

    /* verdicts coloured: worse bad, better good */
    char *t2 = frame_to_text(&f);
    int r = test_row_of(t2, "  thumbs-up rate");
    assert_true(r >= 0);
    const char *line = test_row(t2, r);
    int col = ui_text_width(line, (size_t)(strstr(line, "worse") - line));
    assert_int_equal(f.cells[r * f.w + col].style, UI_S_BAD);
    r = test_row_of(t2, "  decode tokens/s");
    line = test_row(t2, r);
    col = ui_text_width(line, (size_t)(strstr(line, "typically faster") - line));
    assert_int_equal(f.cells[r * f.w + col].style, UI_S_GOOD);
    /* the eval run's chrF verdict coloured like the comparison's */
    r = test_row_of(t2, "  Nov 24 08:30  complete");
    assert_true(r >= 0);
    line = test_row(t2, r);
    col = ui_text_width(line, (size_t)(strstr(line, "worse") - line));
    assert_int_equal(f.cells[r * f.w + col].style, UI_S_BAD);
    /* the selected row is the candidate's, highlighted */
    r = test_row_of(t2, "▸ evil");
    assert_true(r >= 0);
    assert_int_equal(f.cells[r * f.w + 50].style, UI_S_SELECTED);
    free(t2);

    frame_init(&f, 40, 10);
    models_render(&sv.models, &f, 0, 0, 40, 10);
    text = frame_to_text(&f);
    test_assert_no_controls(text);
    test_expect_golden("MODELS_40x10", text, MODELS_40x10);

    /* nothing deployed */
    sv.models.deployed = false;
    sv.models.stable = sv.models.candidate = NULL;
    sv.models.compared = false;
    frame_init(&f, 100, 30);
    shell_render(&sv, &f);
    text = frame_to_text(&f);
    TEST_EXPECT_ROW(text, "nothing deployed", "nothing deployed: the configured model answers");
    TEST_EXPECT_ROW(text, "Candidate vs stable", "no canary running");
    free(text);
    frame_free(&f);
    shell_free(&sv);
}

/* Every cell outside the rectangle stays blank. */
static void assert_outside_blank(const ui_frame *f, int x, int y, int w, int h)
{
    for (int r = 0; r < f->h; r++)
        for (int c = 0; c < f->w; c++) {
            bool inside = c >= x && c < x + w && r >= y && r < y + h;
            if (!inside && f->cells[r * f->w + c].ch != ' ')
                fail_msg("%dx%d: cell (%d,%d) outside the rectangle was drawn", w, h, c, r);
        }
}

static void test_models_containment(void **state)
{
    (void)state;
    models_view v;
    view_fixture(&v);
    ui_frame f = {0};
    for (int w = 0; w <= 100; w += (w < 45 ? 1 : 11))
        for (int h = 0; h <= 20; h++)
            for (int sel = 0; sel < 3; sel += 2) {
                v.sel = (size_t)sel;
                v.scroll = h % 3 ? 0 : 100;
                frame_init(&f, w + 6, h + 4);
                models_render(&v, &f, 3, 2, w, h);
                assert_outside_blank(&f, 3, 2, w, h);
            }
    /* empty: no versions, no history */
    models_init(&v);
    v.loading = false;
    frame_init(&f, 60, 12);
    models_render(&v, &f, 0, 0, 60, 12);
    char *text = frame_to_text(&f);
    assert_non_null(strstr(text, "no versions yet"));
    assert_non_null(strstr(text, "History  no changes yet"));
    assert_non_null(strstr(text, "Eval runs  none yet (frontdesk eval)"));
    free(text);
    frame_free(&f);
}

static void test_models_keys(void **state)
{
    (void)state;
    models_view v;
    view_fixture(&v);
    v.sel = 0;
    assert_int_equal(models_key(&v, (ui_key){UI_K_UP, 0}), MODELS_NONE);
    assert_int_equal(v.sel, 0);
    models_key(&v, (ui_key){UI_K_DOWN, 0});
    models_key(&v, (ui_key){'j', 0});
    models_key(&v, (ui_key){UI_K_DOWN, 0});
    assert_int_equal(v.sel, 2); /* the last row, not past it */
    models_key(&v, (ui_key){'k', 0});
    assert_int_equal(v.sel, 1);
    models_key(&v, (ui_key){UI_K_HOME, 0});
    assert_int_equal(v.sel, 0);
    models_key(&v, (ui_key){UI_K_END, 0});
    assert_int_equal(v.sel, 2);
    static const struct {
        uint32_t code;
        models_action a;
    } map[] = {{'d', MODELS_DEPLOY},  {'c', MODELS_CANARY},   {'s', MODELS_SHARE}, {'x', MODELS_STOP},
               {'p', MODELS_PROMOTE}, {'b', MODELS_ROLLBACK}, {'w', MODELS_WINDOW}, {'z', MODELS_NONE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        assert_int_equal(models_key(&v, (ui_key){map[i].code, 0}), map[i].a);
    assert_int_equal(models_key(&v, (ui_key){'d', UI_MOD_CTRL}), MODELS_NONE);
    v.n_rows = 1;
    models_clamp(&v);
    assert_int_equal(v.sel, 0);
}

/* ---- actions on a real store ----------------------------------------------------- */

typedef struct {
    const char *path;
    int64_t a, b;
} fixture;

/* Two local versions, Alpha deployed by "setup"; Alpha answered 4
 * requests (1 error) and 5 thumbed replies (4 up). */
static void build(fixture *fx, const char *name)
{
    fx->path = test_path(test_tmpdir(), name);
    unlink(fx->path);
    db *d;
    char err[512];
    if (db_open(&d, fx->path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = 0;
    db_model_info a = {.sha256 = hex, .name = "Alpha", .file_name = "alpha.gguf", .quant = "Q8_0"};
    OK(d, db_model_use(d, &a, &fx->a));
    memset(hex, 'b', 64);
    db_model_info b = {.sha256 = hex, .name = "Beta\x1b", .file_name = "beta.gguf", .quant = "Q8_0"};
    OK(d, db_model_use(d, &b, &fx->b));
    db_deploy_why w = {.who = "setup", .note = "start"};
    OK(d, db_deploy(d, fx->a, &w));
    for (int i = 0; i < 5; i++) {
        int64_t conv, cust, reply;
        OK(d, db_conv_create(d, "default", "You help.", &conv));
        OK(d, db_conv_arm_set(d, conv, "stable", fx->a));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "hello?", &cust));
        OK(d, db_reply_begin(d, conv, fx->a, NULL, 0, &reply));
        OK(d, db_reply_end(d, reply, "hello!", fx->a));
        db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = i == 0 ? -1 : 1};
        OK(d, db_rate(d, reply, "ana", &in));
        if (i < 4) {
            int64_t rq;
            OK(d, db_request_begin(d, fx->a, "local", conv, reply, 0, &rq));
            db_request_result r = {.outcome = i == 3 ? DB_OUTCOME_ERROR : DB_OUTCOME_OK, .error = "boom",
                                   .prompt_tokens = 5, .gen_tokens = 10, .ttft_ms = 50, .prefill_ms = -1,
                                   .decode_ms = -1, .latency_ms = 500, .prefill_tps = 100, .decode_tps = 40,
                                   .attempts = 1};
            OK(d, db_request_finish(d, rq, &r));
        }
    }
    db_close(d);
}

static void open_models(tui *t, const char *db_path)
{
    memset(t, 0, sizeof *t);
    const char *cfg = test_path(test_tmpdir(), "config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("[ui]\nrater = ana\n", f);
    fclose(f);
    config_load(&t->cfg, cfg);
    assert_int_equal(t->cfg.n_warnings, 0);
    char err[512];
    if (db_open(&t->d, db_path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    shell_init(&t->sv);
    t->sv.model = "Alpha";
    t->sv.backend = "the deployment";
    t->sv.db_path = db_path;
    t->sv.screen = UI_SCREEN_MODELS;
    tui_models_enter(t);
}

static void close_models(tui *t)
{
    tui_models_free(t);
    shell_free(&t->sv);
    db_close(t->d);
    config_free(&t->cfg);
}

/* A key as the event loop routes it (app/tui.c handle_key, prompt_answer). */
static void press(tui *t, ui_key k)
{
    switch (shell_key(&t->sv, k)) {
    case SHELL_PROMPT_OK: {
        tui_ask ask = t->ask;
        t->ask = ASK_NONE;
        if (ask == ASK_MODELS_SHARE || ask == ASK_MODELS_NOTE)
            tui_models_answer(t, ask, ui_input_text(&t->sv.prompt));
        ui_input_clear(&t->sv.prompt);
        return;
    }
    case SHELL_CANCELLED:
        t->ask = ASK_NONE;
        t->m_pending = MODELS_NONE;
        return;
    case SHELL_PASS: break;
    default: return;
    }
    tui_models_action(t, models_key(&t->sv.models, k));
}

static void key(tui *t, uint32_t code)
{
    press(t, (ui_key){code, 0});
}

/* Type text into the open prompt and press Enter. */
static void answer(tui *t, const char *text)
{
    assert_int_equal(t->sv.overlay, UI_OVERLAY_PROMPT);
    for (const char *p = text; *p; p++)
        key(t, (unsigned char)*p);
    key(t, UI_K_ENTER);
}

static void select_version(tui *t, int64_t id)
{
    key(t, UI_K_HOME);
    for (size_t i = 0; i < t->n_m_models && t->m_models[t->sv.models.sel].id != id; i++)
        key(t, UI_K_DOWN);
    assert_int_equal(t->m_models[t->sv.models.sel].id, id);
}

typedef struct {
    db_deployment dep;
    size_t n_history;
    char action[32], who[32], note[64];
    bool figures;        /* the newest row has figures ...             */
    char fig_window[8];  /* ... with this window                       */
} stored;

/* What another connection reads from the file. */
static stored in_store(const char *path)
{
    stored s;
    memset(&s, 0, sizeof s);
    db *d;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    OK(d, db_deployment_get(d, &s.dep));
    db_deploy_event *ev;
    OK(d, db_deploy_history(d, 0, &ev, &s.n_history));
    assert_true(s.n_history > 0);
    snprintf(s.action, sizeof s.action, "%s", ev[0].action);
    snprintf(s.who, sizeof s.who, "%s", ev[0].who ? ev[0].who : "(null)");
    snprintf(s.note, sizeof s.note, "%s", ev[0].note ? ev[0].note : "(null)");
    if (ev[0].figures) {
        json_t *j = json_loads(ev[0].figures, 0, NULL);
        assert_non_null(j);
        s.figures = true;
        const char *w = json_string_value(json_object_get(j, "window"));
        snprintf(s.fig_window, sizeof s.fig_window, "%s", w ? w : "");
        json_decref(j);
    }
    db_deploy_events_free(ev, s.n_history);
    db_close(d);
    return s;
}

static char *screen(const tui *t)
{
    ui_frame f = {0};
    frame_init(&f, 100, 30);
    shell_render(&t->sv, &f);
    char *text = frame_to_text(&f);
    frame_free(&f);
    return text;
}

/* The screen's line holding `key` has words[] after it, in order. */
static void expect_line(const char *text, const char *key, const char *const *words)
{
    const char *at = strstr(text, key);
    if (!at)
        fail_msg("no line holds '%s'", key);
    const char *end = strchr(at, '\n');
    for (size_t i = 0; words[i]; i++) {
        const char *w = strstr(at, words[i]);
        if (!w || (end && w > end))
            fail_msg("the line of '%s' lacks '%s' (in order)", key, words[i]);
        at = w + strlen(words[i]);
    }
}

static void expect_unchanged(const fixture *fx, const stored *before)
{
    stored now = in_store(fx->path);
    assert_int_equal(now.n_history, before->n_history);
    assert_int_equal(now.dep.stable_id, before->dep.stable_id);
    assert_int_equal(now.dep.candidate_id, before->dep.candidate_id);
    assert_int_equal(now.dep.share, before->dep.share);
}

static void test_models_actions(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "actions.db");
    tui t;
    open_models(&t, fx.path);

    /* the figures of Alpha over 24h: 4 requests, 1 error; 5 thumbed, 4 up */
    char *s = screen(&t);
    TEST_EXPECT_ROW(s, "stable ", "stable Alpha · no canary");
    int r = test_row_of(s, "  Alpha");
    if (r < 0)
        r = test_row_of(s, "▸ Alpha");
    assert_true(r >= 0);
    const char *line = test_row(s, r);
    if (!strstr(line, "stable") || !strstr(line, " 4  25.0%") || !strstr(line, "80% (38–96) n=5"))
        fail_msg("Alpha's row: '%s'", line);
    assert_non_null(strstr(s, "Beta^["));
    free(s);

    /* c on Beta, Esc at the share: nothing */
    stored before = in_store(fx.path);
    assert_int_equal(before.n_history, 1);
    select_version(&t, fx.b);
    key(&t, 'c');
    assert_int_equal(t.sv.overlay, UI_OVERLAY_PROMPT);
    key(&t, UI_K_ESC);
    expect_unchanged(&fx, &before);
    /* ... a share of 60, or "ten": an error notice, no prompt, nothing */
    key(&t, 'c');
    answer(&t, "60");
    assert_int_equal(t.sv.overlay, UI_OVERLAY_NONE);
    assert_true(t.notice_bad);
    assert_non_null(strstr(t.notice, "1 to 50"));
    expect_unchanged(&fx, &before);
    key(&t, 'c');
    answer(&t, "ten");
    assert_true(t.notice_bad);
    expect_unchanged(&fx, &before);
    /* ... Esc at the note: nothing */
    key(&t, 'c');
    answer(&t, "50");
    assert_int_equal(t.sv.overlay, UI_OVERLAY_PROMPT);
    key(&t, 'h');
    key(&t, UI_K_ESC);
    expect_unchanged(&fx, &before);
    /* ... confirmed with a note */
    key(&t, 'c');
    answer(&t, "50");
    answer(&t, "try beta");
    stored st = in_store(fx.path);
    assert_int_equal(st.dep.stable_id, fx.a);
    assert_int_equal(st.dep.candidate_id, fx.b);
    assert_int_equal(st.dep.share, 50);
    assert_int_equal(st.n_history, 2);
    assert_string_equal(st.action, "canary-start");
    assert_string_equal(st.who, "ana");
    assert_string_equal(st.note, "try beta");
    assert_false(st.figures); /* no canary ran before it */
    assert_false(t.notice_bad);
    s = screen(&t);
    TEST_EXPECT_ROW(s, "stable ", "stable Alpha", "candidate Beta^[ at 50%");
    TEST_EXPECT_ROW(s, "History", "History");
    TEST_EXPECT_ROW(s, "  thumbs-up rate", "5", "0", "not enough data");
    expect_line(s, "canary-start", (const char *const[]){"Alpha + Beta^[ 50%", "ana", "try beta", NULL});
    free(s);

    /* s: 20, with the comparison as figures */
    key(&t, 's');
    answer(&t, "20");
    answer(&t, "less");
    st = in_store(fx.path);
    assert_int_equal(st.dep.share, 20);
    assert_string_equal(st.action, "canary-share");
    assert_true(st.figures);
    assert_string_equal(st.fig_window, "24h");

    /* x, Esc: nothing */
    before = st;
    key(&t, 'x');
    key(&t, UI_K_ESC);
    expect_unchanged(&fx, &before);

    /* w: the window cycles, and the figures follow it */
    key(&t, 'w');
    s = screen(&t);
    TEST_EXPECT_ROW(s, "Models", "window 7d");
    free(s);
    /* p: promoted, figures over the window on screen */
    key(&t, 'p');
    answer(&t, "ship it");
    st = in_store(fx.path);
    assert_int_equal(st.dep.stable_id, fx.b);
    assert_int_equal(st.dep.candidate_id, 0);
    assert_string_equal(st.action, "promote");
    assert_string_equal(st.note, "ship it");
    assert_true(st.figures);
    assert_string_equal(st.fig_window, "7d");
    key(&t, 'w');
    key(&t, 'w');
    key(&t, 'w');
    s = screen(&t);
    TEST_EXPECT_ROW(s, "Models", "window 24h");
    free(s);

    /* x without a canary: a bad notice, no prompt, nothing */
    before = st;
    key(&t, 'x');
    assert_int_equal(t.sv.overlay, UI_OVERLAY_NONE);
    assert_true(t.notice_bad);
    assert_non_null(strstr(t.notice, "no canary is running"));
    expect_unchanged(&fx, &before);

    /* b with an empty note: Alpha returns; no note stored */
    key(&t, 'b');
    answer(&t, "");
    st = in_store(fx.path);
    assert_int_equal(st.dep.stable_id, fx.a);
    assert_string_equal(st.action, "rollback");
    assert_string_equal(st.who, "ana");
    assert_string_equal(st.note, "(null)");
    assert_non_null(strstr(t.notice, "rolled back: Alpha is stable"));

    /* d on Beta */
    select_version(&t, fx.b);
    key(&t, 'd');
    answer(&t, "again");
    st = in_store(fx.path);
    assert_int_equal(st.dep.stable_id, fx.b);
    assert_string_equal(st.action, "deploy");
    assert_string_equal(st.note, "again");

    /* c on the stable version: the store refuses, shown as a bad notice */
    before = st;
    key(&t, 'c');
    answer(&t, "10");
    answer(&t, "oops");
    assert_true(t.notice_bad);
    assert_non_null(strstr(t.notice, "stable"));
    expect_unchanged(&fx, &before);
    close_models(&t);
}

/* A stored run of `frontdesk eval` on the screen: the newest
 * TUI_MODELS_EVALS runs, newest first, with the versions' names, items,
 * status, mean chrF of each and B's verdicts as stored. */
static void test_models_eval_runs(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "evals.db");
    tui t;
    open_models(&t, fx.path);
    char *s = screen(&t);
    TEST_EXPECT_ROW(s, "Eval runs", "Eval runs  none yet (frontdesk eval)");
    free(s);
    close_models(&t);

    db *d;
    char err[512];
    if (db_open(&d, fx.path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    char hex[65];
    memset(hex, 'c', 64);
    hex[64] = 0;
    /* five old one-model runs of Beta that must all drop below the limit ... */
    for (int i = 0; i < 5; i++) {
        int64_t run;
        OK(d, db_eval_create(d, &(db_eval_new){.model_a = fx.b, .set_sha256 = hex, .set_name = "old.jsonl",
                                               .set_items = 3},
                             &run));
        OK(d, db_eval_finish(d, run, "failed", NULL, NULL));
    }
    /* ... then Alpha against Beta over 2 of 3 items, stopped early */
    int64_t run;
    OK(d, db_eval_create(d, &(db_eval_new){.model_a = fx.a, .model_b = fx.b, .set_sha256 = hex,
                                           .set_name = "set.jsonl", .set_items = 3},
                         &run));
    for (int item = 0; item < 2; item++)
        for (int k = 0; k < 2; k++) {
            db_eval_item it = {.item = item, .model_id = k ? fx.b : fx.a, .ppl = 2.5, .reply = "hi",
                               .chrf = 40, .rouge_l = 0.5, .length = 3, .latency_ms = 10};
            OK(d, db_eval_add_item(d, run, &it));
        }
    OK(d, db_eval_finish(d, run, "incomplete",
                         "{\"a\":{\"items\":2,\"chrf\":{\"mean\":47.25}},"
                         "\"b\":{\"items\":2,\"chrf\":{\"mean\":31.5}}}",
                         "{\"items\":2,\"chrf\":{\"p\":0.01,\"verdict\":\"worse\"},"
                         "\"perplexity\":{\"p\":null,\"verdict\":\"not enough data\"}}"));
    db_close(d);

    open_models(&t, fx.path);
    assert_int_equal(t.sv.models.n_evals, 5);
    s = screen(&t);
    int r = test_row_of(s, "Eval runs");
    assert_true(r >= 0);
    /* the newest first, right under the column headings */
    const char *line = test_row(s, r + 2);
    const char *const want[] = {"incomplete", "2/3", "Alpha vs Beta^[", "47.2 → 31.5", "worse",
                                "not enough data", NULL};
    const char *at = line;
    const char *eol = strchr(line, '\n');
    for (size_t i = 0; want[i]; i++) {
        const char *w = strstr(at, want[i]);
        if (!w || (eol && w > eol))
            fail_msg("the newest eval run's line lacks '%s' (in order): '%.*s'", want[i],
                     eol ? (int)(eol - line) : (int)strlen(line), line);
        at = w + strlen(want[i]);
    }
    /* then four of the five older runs: Beta alone, failed, no figures */
    for (int k = 3; k < 7; k++) {
        char *older = strdup(test_row(s, r + k)); /* test_row's buffer is reused */
        assert_non_null(older);
        TEST_EXPECT_ROW(older, "  ", "failed", "0/3", "Beta^[", "–");
        free(older);
    }
    assert_int_equal(test_row_of(s, "History"), r + 8); /* no sixth run */
    free(s);
    close_models(&t);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8"))
        return test_skip_suite("test_tui_models: no UTF-8 locale (C.UTF-8) to measure text in");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models_golden),
        cmocka_unit_test(test_models_containment),
        cmocka_unit_test(test_models_keys),
        cmocka_unit_test(test_models_actions),
        cmocka_unit_test(test_models_eval_runs),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
