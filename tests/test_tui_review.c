/*
 * test_tui_review.c — the Review screen as the application runs it
 * (app/tui_review.c on a store built here through the storage API), keys
 * pressed as the event loop passes them (shell first, then the screen),
 * drawn headlessly by the shell: what the reviewer sees, and what lands
 * in the store.
 *
 *   - the queue in the order the replies were written;
 *   - 1-5, +/-, t (tag), c (comment) saved at once, shown as "your
 *     rating", the unrated count following; u undoes them one by one down
 *     to no rating at all; j/k move through the queue; other raters shown;
 *   - the provenance lines: model, sampling settings, request figures;
 *   - filters: f (unrated, low-rated, rated, all), m (model), d (date),
 *     g (tag), / (text), a (deployment arm), each with exactly the replies
 *     it should keep; o orders by lowest confidence, unknown last.
 *
 * press() mirrors the event loop's key routing in app/tui.c (handle_key,
 * prompt_answer: static there); the loop itself is driven in tmux by
 * test_tui_e2e.
 */
#include "tests/testutil.h"

#include "app/config.h"
#include "app/tui.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <locale.h>
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

/* ---- the store: three replies of two models ----------------------------------- */

typedef struct {
    const char *path;
    int64_t alpha, beta;
    int64_t conv[3], reply[3];
} fixture;

static const char *const QUESTION[3] = {"Where is my parcel?", "I want a refund for order 12345",
                                        "Please change my address"};
static const char *const ANSWER[3] = {"Your parcel left our warehouse today.", "Your refund is on its way.",
                                      "Your address is updated."};

static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(raw);
}

/* Reply 0 (alpha) now, reply 1 (beta) three days ago, reply 2 (alpha) ten
 * days ago; reply 0 with its sampling settings and request figures. */
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
    OK(d, db_model_use(d, &a, &fx->alpha));
    memset(hex, 'b', 64);
    db_model_info b = {.sha256 = hex, .name = "Beta", .file_name = "beta.gguf", .quant = "F16"};
    OK(d, db_model_use(d, &b, &fx->beta));
    const char *sampling = "{\"temperature\":0.7,\"top_k\":33,\"top_p\":0.9,\"min_p\":0.05,\"repeat_penalty\":1.1,"
                           "\"seed\":42}";
    for (int i = 0; i < 3; i++) {
        int64_t m, model = i == 1 ? fx->beta : fx->alpha;
        OK(d, db_conv_create(d, "default", "You help customers.", &fx->conv[i]));
        OK(d, db_msg_add(d, fx->conv[i], DB_ROLE_CUSTOMER, QUESTION[i], &m));
        OK(d, db_reply_begin(d, fx->conv[i], model, sampling, 0, &fx->reply[i]));
        OK(d, db_reply_end(d, fx->reply[i], ANSWER[i], model));
    }
    int64_t rq;
    OK(d, db_request_begin(d, fx->alpha, "local", fx->conv[0], fx->reply[0], 0, &rq));
    db_request_result r = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 12, .gen_tokens = 34, .ttft_ms = 180,
                           .prefill_ms = 20, .decode_ms = 800, .latency_ms = 1234, .prefill_tps = 512,
                           .decode_tps = 41.25, .attempts = 1};
    OK(d, db_request_finish(d, rq, &r));
    db_close(d);
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE messages SET created_at = created_at - 3 * 86400 WHERE id = %lld",
             (long long)fx->reply[1]);
    raw_sql(fx->path, sql);
    snprintf(sql, sizeof sql, "UPDATE messages SET created_at = created_at - 10 * 86400 WHERE id = %lld",
             (long long)fx->reply[2]);
    raw_sql(fx->path, sql);
}

/* ---- the application, headless -------------------------------------------------- */

static void open_review(tui *t, const char *db_path, const char *rater)
{
    memset(t, 0, sizeof *t);
    const char *cfg = test_path(test_tmpdir(), "config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fprintf(f, "[ui]\nrater = %s\n", rater);
    fclose(f);
    config_load(&t->cfg, cfg);
    assert_int_equal(t->cfg.n_warnings, 0);
    char err[512];
    if (db_open(&t->d, db_path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    shell_init(&t->sv);
    t->sv.model = "Alpha";
    t->sv.quant = "Q8_0";
    t->sv.backend = "local";
    t->sv.db_path = db_path;
    t->sv.screen = UI_SCREEN_REVIEW;
    tui_review_enter(t);
}

static void close_review(tui *t)
{
    tui_review_free(t);
    shell_free(&t->sv);
    db_close(t->d);
    config_free(&t->cfg);
}

/* A key as the event loop routes it: the shell (overlays: the prompt)
 * first, then the Review screen. */
static void press(tui *t, ui_key k)
{
    switch (shell_key(&t->sv, k)) {
    case SHELL_PROMPT_OK: {
        tui_ask ask = t->ask;
        t->ask = ASK_NONE;
        if (ask != ASK_NONE)
            tui_review_answer(t, ask, ui_input_text(&t->sv.prompt));
        ui_input_clear(&t->sv.prompt);
        return;
    }
    case SHELL_CANCELLED: t->ask = ASK_NONE; return;
    case SHELL_PASS: break;
    default: return;
    }
    int arg = 0;
    review_action a = review_key(&t->sv.review, k, &arg);
    if (a != REVIEW_NONE)
        tui_review_action(t, a, arg);
}

static void key(tui *t, uint32_t code)
{
    press(t, (ui_key){code, 0});
}

/* Erase the open prompt (it opens holding the current filter: Ctrl-U),
 * type text and press Enter. */
static void answer(tui *t, const char *text)
{
    assert_int_equal(t->sv.overlay, UI_OVERLAY_PROMPT);
    press(t, (ui_key){'u', UI_MOD_CTRL});
    for (const char *p = text; *p; p++)
        key(t, (unsigned char)*p); /* ASCII only here */
    key(t, UI_K_ENTER);
    assert_int_equal(t->sv.overlay, UI_OVERLAY_NONE);
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

#define EXPECT_SCREEN(t, prefix, ...)                                                                   \
    do {                                                                                                \
        char *s_ = screen(t);                                                                           \
        TEST_EXPECT_ROW(s_, prefix, __VA_ARGS__);                                                       \
        free(s_);                                                                                       \
    } while (0)

/* The reply on screen is reply[i] of the fixture, `pos` of `count`. */
static void expect_current(const tui *t, const fixture *fx, int i, int pos, int count)
{
    char *s = screen(t);
    char want[32];
    snprintf(want, sizeof want, "reply %d of %d", pos, count);
    TEST_EXPECT_ROW(s, "reply ", want);
    if (!strstr(s, ANSWER[i]) || !strstr(s, QUESTION[i]))
        fail_msg("reply %d (%s) is not on the screen:\n%s", i, ANSWER[i], s);
    for (int k = 0; k < 3; k++)
        if (k != i && strstr(s, ANSWER[k]))
            fail_msg("reply %d is on the screen with reply %d:\n%s", k, i, s);
    char title[64];
    snprintf(title, sizeof title, "#%lld ", (long long)fx->conv[i]);
    TEST_EXPECT_ROW(s, title, title);
    free(s);
}

/* What the store holds of rater's rating of message id. */
typedef struct {
    bool exists;
    int thumbs, score;
    char tags[200];
    char comment[200];
} stored;

static stored rating_in_store(const char *path, int64_t id, const char *rater)
{
    stored r = {0};
    db *d;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    db_rating *rs;
    size_t n;
    OK(d, db_ratings_get(d, id, &rs, &n));
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rs[i].rater, rater))
            continue;
        r.exists = true;
        r.thumbs = rs[i].thumbs;
        r.score = rs[i].score;
        for (size_t k = 0; k < rs[i].n_tags; k++)
            snprintf(r.tags + strlen(r.tags), sizeof r.tags - strlen(r.tags), "%s%s", k ? "," : "", rs[i].tags[k]);
        snprintf(r.comment, sizeof r.comment, "%s", rs[i].comment ? rs[i].comment : "");
    }
    db_ratings_free(rs, n);
    db_close(d);
    return r;
}

static void expect_stored(const char *path, int64_t id, const char *rater, bool exists, int thumbs, int score,
                          const char *tags, const char *comment)
{
    stored r = rating_in_store(path, id, rater);
    if (r.exists != exists || (exists && (r.thumbs != thumbs || r.score != score || strcmp(r.tags, tags) ||
                                          strcmp(r.comment, comment))))
        fail_msg("the store holds %s's rating of %lld as %s thumbs %d score %d tags '%s' comment '%s'; want %s "
                 "%d %d '%s' '%s'",
                 rater, (long long)id, r.exists ? "present" : "absent", r.thumbs, r.score, r.tags, r.comment,
                 exists ? "present" : "absent", thumbs, score, tags, comment);
}

/* ---- the tests ---------------------------------------------------------------------- */

static void test_rate_and_undo(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "rate.db");
    tui t;
    open_review(&t, fx.path, "ana");
    /* the queue in the order the replies were written (ids): reply 0 first */
    EXPECT_SCREEN(&t, "Review", "Review — 3 of 3 unrated", "unrated · all models · any date");
    expect_current(&t, &fx, 0, 1, 3);
    EXPECT_SCREEN(&t, "your rating", "not rated yet");
    key(&t, 'j');
    key(&t, 'j');
    expect_current(&t, &fx, 2, 3, 3);
    key(&t, 'j'); /* the end: stays */
    expect_current(&t, &fx, 2, 3, 3);
    key(&t, 'k');
    key(&t, 'k');
    key(&t, 'k'); /* the start: stays */
    expect_current(&t, &fx, 0, 1, 3);
    /* provenance of reply 0 */
    EXPECT_SCREEN(&t, "model", "Alpha · Q8_0 · sha aaaaaaaaaaaa");
    EXPECT_SCREEN(&t, "sampling", "temp 0.7 · top-k 33 · top-p 0.9 · min-p 0.05 · repeat 1.1 · seed 42");
    EXPECT_SCREEN(&t, "figures", "ok · 1.23 s · first token 180 ms · prefill 512 tok/s · decode 41.2 tok/s · 12+34");
    EXPECT_SCREEN(&t, "others", "none");

    /* a score: saved at once, shown, counted */
    key(&t, '4');
    expect_stored(fx.path, fx.reply[0], "ana", true, 0, 4, "", "");
    EXPECT_SCREEN(&t, "reply 1 of 3", "saved: score 4");
    EXPECT_SCREEN(&t, "your rating", "4/5");
    EXPECT_SCREEN(&t, "Review", "Review — 2 of 3 unrated");
    /* thumbs up, then another score: each field on its own */
    key(&t, '+');
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 4, "", "");
    EXPECT_SCREEN(&t, "your rating", "👍 4/5");
    key(&t, '2');
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 2, "", "");
    /* tags (added to the rater's), a comment */
    key(&t, 't');
    answer(&t, "polite");
    key(&t, 't');
    answer(&t, "short");
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 2, "polite,short", "");
    key(&t, 'c');
    answer(&t, "Good, but terse");
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 2, "polite,short", "Good, but terse");
    EXPECT_SCREEN(&t, "your rating", "👍 2/5 #polite #short “Good, but terse”");
    EXPECT_SCREEN(&t, "reply 1 of 3", "saved: comment");
    /* Esc in the prompt saves nothing */
    key(&t, 't');
    key(&t, 'x');
    key(&t, UI_K_ESC);
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 2, "polite,short", "Good, but terse");
    /* an empty comment clears it */
    key(&t, 'c');
    answer(&t, "");
    expect_stored(fx.path, fx.reply[0], "ana", true, 1, 2, "polite,short", "");
    EXPECT_SCREEN(&t, "reply 1 of 3", "saved: comment cleared");
    char *s = screen(&t);
    TEST_EXPECT_ROW(s, "your rating", "👍 2/5 #polite #short");
    assert_null(strstr(s, "terse"));
    free(s);

    /* another rater's rating shows under "others" */
    db *d;
    char err[512];
    assert_int_equal(db_open(&d, fx.path, err, sizeof err), DB_OK);
    OK(d, db_rate(d, fx.reply[0], "ben", &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE, .thumbs = -1,
                                                         .score = 1}));
    db_close(d);
    key(&t, 'j');
    key(&t, 'k');
    EXPECT_SCREEN(&t, "others", "ben: 👎 1/5");

    /* undo, one change at a time, back to no rating of ana's at all */
    const struct {
        int thumbs, score;
        const char *tags, *comment;
    } back[] = {{1, 2, "polite,short", "Good, but terse"}, {1, 2, "polite,short", ""}, {1, 2, "polite", ""},
                {1, 2, "", ""}, {1, 4, "", ""}, {0, 4, "", ""}};
    for (size_t i = 0; i < sizeof back / sizeof *back; i++) {
        key(&t, 'u');
        expect_stored(fx.path, fx.reply[0], "ana", true, back[i].thumbs, back[i].score, back[i].tags,
                      back[i].comment);
        EXPECT_SCREEN(&t, "reply 1 of 3", "undone");
    }
    key(&t, 'u'); /* the first rating undone: none left */
    expect_stored(fx.path, fx.reply[0], "ana", false, 0, 0, "", "");
    expect_stored(fx.path, fx.reply[0], "ben", true, -1, 1, "", ""); /* ben's untouched */
    EXPECT_SCREEN(&t, "your rating", "not rated yet");
    EXPECT_SCREEN(&t, "Review", "Review — 2 of 3 unrated"); /* ben's score still rates it */
    key(&t, 'u');
    assert_string_equal(t.notice, "nothing to undo");

    /* undo returns to the reply it changed: rate reply 1, move away, undo */
    key(&t, 'j');
    expect_current(&t, &fx, 1, 2, 3);
    key(&t, '-');
    expect_stored(fx.path, fx.reply[1], "ana", true, -1, 0, "", "");
    EXPECT_SCREEN(&t, "your rating", "👎");
    key(&t, 'j');
    expect_current(&t, &fx, 2, 3, 3);
    key(&t, 'u');
    expect_current(&t, &fx, 1, 2, 3);
    expect_stored(fx.path, fx.reply[1], "ana", false, 0, 0, "", "");
    close_review(&t);
}

/* The queue's replies in order, as j shows them from the first. */
static void expect_queue(tui *t, const fixture *fx, const int *want, int n, const char *filters)
{
    EXPECT_SCREEN(t, "Review", filters);
    if (!n) {
        char *s = screen(t);
        if (!strstr(s, "Nothing to review with these filters"))
            fail_msg("want an empty queue (%s):\n%s", filters, s);
        free(s);
        return;
    }
    for (int k = 0; k < n; k++) {
        expect_current(t, fx, want[k], k + 1, n);
        key(t, 'j');
    }
    for (int k = 0; k < n; k++) /* back to the first */
        key(t, 'k');
}

static void test_filters(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "filters.db");
    db *d;
    char err[512];
    assert_int_equal(db_open(&d, fx.path, err, sizeof err), DB_OK);
    /* reply 0: scored 5; reply 1: thumbs down, no score; reply 2: tagged, no score */
    OK(d, db_rate(d, fx.reply[0], "ben", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 5}));
    OK(d, db_rate(d, fx.reply[1], "ben", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = -1}));
    OK(d, db_rate(d, fx.reply[2], "ben", &(db_rating_in){.fields = DB_RATE_TAGS,
                                                         .tags = (const char *[]){"escalate"}, .n_tags = 1}));
    db_close(d);
    tui t;
    open_review(&t, fx.path, "ana");
    EXPECT_SCREEN(&t, "Review", "Review — 2 of 3 unrated");
    /* f: unrated -> low-rated -> rated -> all -> unrated (oldest first) */
    expect_queue(&t, &fx, (int[]){1, 2}, 2, "unrated · all models · any date");
    key(&t, 'f');
    expect_queue(&t, &fx, (int[]){1}, 1, "low-rated · all models · any date");
    key(&t, 'f');
    expect_queue(&t, &fx, (int[]){0}, 1, "rated · all models · any date");
    key(&t, 'f');
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "all replies · all models · any date");
    /* m: all models -> each model, the most recently used first (Beta was
     * recorded after Alpha) -> all */
    key(&t, 'm');
    expect_queue(&t, &fx, (int[]){1}, 1, "all replies · Beta · any date");
    key(&t, 'm');
    expect_queue(&t, &fx, (int[]){0, 2}, 2, "all replies · Alpha · any date");
    key(&t, 'm');
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "all replies · all models · any date");
    /* d: any -> today -> last 7 days -> any */
    key(&t, 'd');
    expect_queue(&t, &fx, (int[]){0}, 1, "all replies · all models · today");
    key(&t, 'd');
    expect_queue(&t, &fx, (int[]){0, 1}, 2, "all replies · all models · last 7 days");
    key(&t, 'd');
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "all replies · all models · any date");
    /* g: a tag; empty clears it */
    key(&t, 'g');
    answer(&t, "escalate");
    expect_queue(&t, &fx, (int[]){2}, 1, "all replies · all models · any date · #escalate");
    key(&t, 'g');
    assert_string_equal(ui_input_text(&t.sv.prompt), "escalate"); /* it opens on the current tag */
    answer(&t, "");
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "all replies · all models · any date");
    /* /: text in the reply or its conversation; empty clears it */
    key(&t, '/');
    answer(&t, "refund");
    expect_queue(&t, &fx, (int[]){1}, 1, "all replies · all models · any date · “refund");
    key(&t, '/');
    answer(&t, "warehouse");
    expect_queue(&t, &fx, (int[]){0}, 1, "all replies · all models · any date · “warehouse");
    key(&t, '/');
    answer(&t, "no such words");
    expect_queue(&t, &fx, NULL, 0, "all replies · all models · any date · “no such words");
    key(&t, '/');
    answer(&t, "");
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "all replies · all models · any date");
    /* filters combine: Beta and unrated */
    key(&t, 'f');
    key(&t, 'm');
    expect_queue(&t, &fx, (int[]){1}, 1, "unrated · Beta · any date");
    key(&t, 'm');
    expect_queue(&t, &fx, (int[]){2}, 1, "unrated · Alpha · any date");
    close_review(&t);
}

/* The date filter's window is exactly seven days (a reply 7.5 days old is
 * outside it), and a rebuilt queue starts at its first reply whatever the
 * position was in the previous one. */
static void test_date_window_and_position(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "window.db");
    char sql[200];
    /* reply 2: from ten days ago to seven and a half */
    snprintf(sql, sizeof sql, "UPDATE messages SET created_at = created_at + 2.5 * 86400 WHERE id = %lld",
             (long long)fx.reply[2]);
    raw_sql(fx.path, sql);
    tui t;
    open_review(&t, fx.path, "ana");
    key(&t, 'j');
    key(&t, 'j');
    expect_current(&t, &fx, 2, 3, 3);
    key(&t, 'd'); /* today: reply 0 only, shown from the start */
    EXPECT_SCREEN(&t, "Review", "unrated · all models · today");
    expect_current(&t, &fx, 0, 1, 1);
    key(&t, 'd'); /* last 7 days: replies 0 and 1, not the one 7.5 days old */
    expect_queue(&t, &fx, (int[]){0, 1}, 2, "unrated · all models · last 7 days");
    close_review(&t);
}

/* o: oldest first <-> lowest confidence first (unknown last); a: any arm
 * -> stable -> candidate -> pinned -> any; both in the header, and a
 * reply's confidence among its figures. */
static void test_confidence_order_and_arm(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, "confidence.db");
    char sql[300];
    /* reply 0: -0.25 (lowest -2); reply 1: unknown; reply 2: -1.5 (lowest -4) */
    snprintf(sql, sizeof sql,
             "UPDATE messages SET logprob_mean = -0.25, logprob_min = -2 WHERE id = %lld;"
             "UPDATE messages SET logprob_mean = -1.5, logprob_min = -4 WHERE id = %lld;"
             "UPDATE conversations SET arm = 'candidate' WHERE id IN (%lld, %lld);"
             "UPDATE conversations SET arm = 'stable' WHERE id = %lld",
             (long long)fx.reply[0], (long long)fx.reply[2], (long long)fx.conv[0], (long long)fx.conv[2],
             (long long)fx.conv[1]);
    raw_sql(fx.path, sql);
    tui t;
    open_review(&t, fx.path, "ana");
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "unrated · all models · any date");
    EXPECT_SCREEN(&t, "figures", "1.23 s");
    EXPECT_SCREEN(&t, "confidence", "mean log-prob -0.25 · lowest -2.00");
    key(&t, 'o');
    expect_queue(&t, &fx, (int[]){2, 0, 1}, 3, "unrated · all models · any date · lowest confidence first");
    EXPECT_SCREEN(&t, "confidence", "mean log-prob -1.50 · lowest -4.00");
    key(&t, 'j');
    key(&t, 'j'); /* reply 1: no confidence, no request figures */
    {
        char *s = screen(&t);
        if (test_row_of(s, "confidence") >= 0)
            fail_msg("a reply without a confidence shows one:\n%s", s);
        free(s);
    }
    key(&t, 'a');
    expect_queue(&t, &fx, (int[]){1}, 1, "unrated · all models · any date · lowest confidence first · arm stable");
    key(&t, 'a');
    expect_queue(&t, &fx, (int[]){2, 0}, 2,
                 "unrated · all models · any date · lowest confidence first · arm candidate");
    key(&t, 'o');
    expect_queue(&t, &fx, (int[]){0, 2}, 2, "unrated · all models · any date · arm candidate");
    key(&t, 'a');
    expect_queue(&t, &fx, NULL, 0, "unrated · all models · any date · arm pinned");
    key(&t, 'a');
    expect_queue(&t, &fx, (int[]){0, 1, 2}, 3, "unrated · all models · any date");
    {
        char *s = screen(&t);
        if (strstr(s, "· arm ") || strstr(s, "lowest confidence first"))
            fail_msg("the defaults are not named in the header:\n%s", s);
        free(s);
    }
    close_review(&t);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return test_skip_suite("test_tui_review: the C.UTF-8 locale is not available (make deps provides it)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_and_undo),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_date_window_and_position),
        cmocka_unit_test(test_confidence_order_and_arm),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
