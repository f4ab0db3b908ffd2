/*
 * test_store_cli_figures.c — what the frontdesk binary prints of a store
 * built through the storage API with figures chosen here: `stats` (text,
 * JSON and Prometheus) window by window and minute by minute, and
 * `export` row by row (JSONL and CSV, every filter), checked against
 * those figures, not against the code.
 *
 * Every database is a fresh file under test_tmpdir(), or with
 * FRONTDESK_TEST_BACKEND=postgresql a new database on the throwaway
 * PostgreSQL server (tests/store_util.h).
 */
#include "testutil.h"

#include "store_util.h"

#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "storage/rollup.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- figures and exports of a store built by hand ------------------------------------- */

/* A store built through the storage API, with figures chosen here: what
 * stats and export print is checked against them, not against the code. */
/* A request with known figures started at `at` (moved there with SQL: the
 * API stamps the current time). */
static void hand_request(const char *path, db *d, int64_t model, double at, db_outcome o, double latency,
                         double ttft, double prefill, double decode, int tokens)
{
    int64_t id;
    OK(d, db_request_begin(d, model, "local", 0, 0, 0, &id));
    if (o != DB_OUTCOME_RUNNING) {
        db_request_result r = {.outcome = o, .error = o == DB_OUTCOME_OK ? NULL : "it broke",
                               .prompt_tokens = 4, .gen_tokens = tokens, .ttft_ms = ttft,
                               .prefill_ms = -1, .decode_ms = -1, .latency_ms = latency,
                               .prefill_tps = prefill, .decode_tps = decode, .attempts = 1};
        OK(d, db_request_finish(d, id, &r));
    }
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.6f WHERE id = %lld", at, (long long)id);
    sql_exec(path, sql);
}

static void expect_real(const char *what, json_t *v, double want)
{
    if (!json_is_number(v) || fabs(json_number_value(v) - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("%s: got %s%g, want %.17g", what, json_is_number(v) ? "" : "(not a number) ",
                 json_number_value(v), want);
}

/* {p50, p90, p95, p99} of a JSON object, or all null when want is NULL. */
static void expect_pcts_json(const char *what, json_t *o, const double *want)
{
    const char *k[4] = {"p50", "p90", "p95", "p99"};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(o, k[i]);
        if (!want) {
            if (!json_is_null(v))
                fail_msg("%s %s: want null", what, k[i]);
        } else
            expect_real(what, v, want[i]);
    }
}

/* "2026-11-24T16:18:00.000Z" for the minute holding t, without the code under test. */
static void minute_name(double t, char *buf, size_t size)
{
    time_t m = (time_t)(floor(t / 60.0) * 60.0);
    struct tm tm;
    gmtime_r(&m, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static void test_stats_figures(void **state)
{
    (void)state;
    const char *dbp = fresh_store("figures.db");
    db *d = open_store(dbp);
    int64_t alpha = store_model(d, 'a', "Alpha", "alpha.gguf"), beta = store_model(d, 'b', "Beta", "beta.gguf");
    double now0 = db_now(), at = now0 - 30; /* well inside 5 minutes */
    /* twenty requests half a minute ago, the i-th (1..20): latency 10 i ms, time
     * to first token i ms, decode i tok/s, prefill 100 i tok/s when i is odd (else
     * unknown), i tokens; except the 4th, an error (no tokens, so no time to first
     * token or decode), the 5th, cancelled, and the 7th, from model beta.  And one
     * still running. */
    for (int i = 1; i <= 20; i++) {
        db_outcome o = i == 4 ? DB_OUTCOME_ERROR : i == 5 ? DB_OUTCOME_CANCELLED : DB_OUTCOME_OK;
        hand_request(dbp, d, i == 7 ? beta : alpha, at + 0.001 * i, o, 10.0 * i, i == 4 ? -1 : i,
                     i % 2 ? 100.0 * i : 0, i == 4 ? -1 : i, i == 4 ? 0 : i);
    }
    hand_request(dbp, d, alpha, at, DB_OUTCOME_RUNNING, 0, 0, 0, 0, 0);
    /* older minutes of the hour: two in minute T0, a timeout just before
     * it, an interrupted reply (latency unknown) ten minutes after it */
    double T0 = floor((now0 - 1800) / 60.0) * 60.0;
    hand_request(dbp, d, alpha, T0 + 1, DB_OUTCOME_OK, 1000, 100, 100, 10, 7);
    hand_request(dbp, d, alpha, T0 + 59.5, DB_OUTCOME_OK, 3000, 300, 300, 30, 8);
    hand_request(dbp, d, alpha, T0 - 0.5, DB_OUTCOME_TIMEOUT, 5000, -1, 0, -1, 0);
    hand_request(dbp, d, alpha, T0 + 610, DB_OUTCOME_INTERRUPTED, -1, 9, 0, -1, 3);
    db_close(d);

    /* These figures are exact to the millisecond (nearest-rank percentiles
     * by hand, a window that does not start on a whole minute, rows moved
     * in time by SQL after they were folded): `stats --exact`, the raw-row
     * path.  tests/test_rollup.c checks the rollups against raw rows.
     * By hand, window 5m: 20 finished (the running one apart), 1 error (cancelled
     * is none): 5.0%, 4.00/min.  Nearest rank of n sorted values: ceil(p n / 100).
     *   latency 10..200 (n 20): ranks 10, 18, 19, 20 -> 100/180/190/200
     *   ttft 1..20 without 4 (n 19: 1,2,3,5,6,...): ranks 10, 18, 19, 19 -> 11/19/20/20
     *   prefill: mean of 100 i over odd i = 1000; decode: (210 - 4) / 19; tokens 206 */
    const double decode = 206.0 / 19.0;
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "5m", "--db", dbp), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 20);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "cancelled")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "running")), 1);
    expect_real("error_rate", json_object_get(j, "error_rate"), 0.05);
    expect_real("requests_per_min", json_object_get(j, "requests_per_min"), 4.0);
    expect_pcts_json("latency", json_object_get(j, "latency_ms"), (double[]){100, 180, 190, 200});
    expect_pcts_json("ttft", json_object_get(j, "ttft_ms"), (double[]){11, 19, 20, 20});
    expect_real("prefill_tps", json_object_get(j, "prefill_tps"), 1000);
    expect_real("decode_tps", json_object_get(j, "decode_tps"), decode);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 206);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 5);
    json_decref(j);
    free(out);
    free(err);

    /* the same figures as text, line by line */
    assert_int_equal(RUN(&out, &err, "stats", "--exact", "--window", "5m", "--db", dbp), 0);
    assert_string_equal(out, "window 5m: 20 request(s), 1 error(s) (5.0%), 1 cancelled, 1 running\n"
                             "requests/min      4.00\n"
                             "latency ms        p50 100  p90 180  p95 190  p99 200\n"
                             "first token ms    p50 11  p90 19  p95 20  p99 20\n"
                             "prefill tok/s     1000.0\n"
                             "decode tok/s      10.8\n"
                             "tokens generated  206\n");
    free(out);
    free(err);

    /* and for Prometheus: since the store began, per version and outcome (the
     * running one apart), every outcome present; prompt tokens 4 each */
    assert_int_equal(RUN(&out, &err, "stats", "--prometheus", "--db", dbp), 0);
    const char *A = "model=\"Alpha\",sha256=\"aaaaaaaaaaaa\"", *B = "model=\"Beta\",sha256=\"bbbbbbbbbbbb\"";
    const struct {
        const char *who, *outcome;
        double requests, tokens;
    } prom[] = {
        {A, "ok", 19, 209},   {A, "error", 1, 0},     {A, "cancelled", 1, 5}, {A, "timeout", 1, 0},
        {A, "interrupted", 1, 3}, {B, "ok", 1, 7},    {B, "error", 0, 0},     {B, "cancelled", 0, 0},
        {B, "timeout", 0, 0}, {B, "interrupted", 0, 0},
    };
    char sname[300];
    for (size_t i = 0; i < sizeof prom / sizeof *prom; i++) {
        const char *fam[] = {"frontdesk_requests_total", "frontdesk_generated_tokens_total",
                             "frontdesk_prompt_tokens_total"};
        double want[] = {prom[i].requests, prom[i].tokens, 4 * prom[i].requests};
        for (int f = 0; f < 3; f++) {
            snprintf(sname, sizeof sname, "%s{%s,outcome=\"%s\"}", fam[f], prom[i].who, prom[i].outcome);
            if (test_prom_sample(out, sname) != want[f])
                fail_msg("%s = %g, want %g", sname, test_prom_sample(out, sname), want[f]);
        }
    }
    /* alpha's ok latencies (seconds), each bound's cumulative count counted here */
    double lat[19], lat_sum = 0;
    int n_lat = 0;
    for (int i = 1; i <= 20; i++)
        if (i != 4 && i != 5 && i != 7)
            lat[n_lat++] = 10.0 * i / 1e3;
    lat[n_lat++] = 1;
    lat[n_lat++] = 3;
    for (int i = 0; i < n_lat; i++)
        lat_sum += lat[i];
    for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++) {
        char le[32] = "+Inf";
        for (int dg = 1; k < ROLLUP_N_LE_SECONDS && dg <= 17; dg++) /* whole, else the shortest that reads back */
            if (snprintf(le, sizeof le, "%.*g", dg, rollup_le_seconds[k]), strtod(le, NULL) == rollup_le_seconds[k] &&
                !strchr(le, 'e'))
                break;
        int cum = 0;
        for (int i = 0; i < n_lat; i++)
            cum += k == ROLLUP_N_LE_SECONDS || lat[i] <= rollup_le_seconds[k];
        snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_bucket{%s,outcome=\"ok\",le=\"%s\"}", A,
                 le);
        if (test_prom_sample(out, sname) != cum)
            fail_msg("%s = %g, want %d", sname, test_prom_sample(out, sname), cum);
    }
    snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_count{%s,outcome=\"ok\"}", A);
    assert_true(test_prom_sample(out, sname) == 19);
    snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_sum{%s,outcome=\"ok\"}", A);
    if (fabs(test_prom_sample(out, sname) - lat_sum) > 1e-9 * lat_sum)
        fail_msg("%s = %.17g, want %.17g", sname, test_prom_sample(out, sname), lat_sum);
    free(out);
    free(err);

    /* one model, by display name and by SHA-256 prefix: beta's one request (the 7th) */
    const char *names[] = {"Beta", "bbbbbb"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "5m", "--model", names[i], "--db", dbp), 0);
        j = test_json(out);
        assert_int_equal(json_integer_value(json_object_get(j, "requests")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
        expect_pcts_json("beta latency", json_object_get(j, "latency_ms"), (double[]){70, 70, 70, 70});
        expect_real("beta decode", json_object_get(j, "decode_tps"), 7);
        assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 7);
        json_decref(j);
        free(out);
        free(err);
    }

    /* the hour, minute by minute (minutes found by name: the command's own
     * clock may have moved on a minute) */
    assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "1h", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 24);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 224);
    json_t *series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 60);
    struct {
        double t;
        int requests, errors, tokens;
        const double *lat, *ttft;
        double decode;
        bool seen;
    } want[] = {
        {at, 20, 1, 206, (double[]){100, 180, 190, 200}, (double[]){11, 19, 20, 20}, decode, false},
        /* latency {1000, 3000}: ranks 1,2,2,2; decode mean of 10 and 30 */
        {T0, 2, 0, 15, (double[]){1000, 3000, 3000, 3000}, (double[]){100, 300, 300, 300}, 20, false},
        {T0 - 60, 1, 1, 0, (double[]){5000, 5000, 5000, 5000}, NULL, 0, false},
        {T0 + 600, 1, 1, 3, NULL, (double[]){9, 9, 9, 9}, 0, false},
    };
    const size_t n_want = sizeof want / sizeof *want;
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *m = json_array_get(series, i);
        const char *name = json_string_value(json_object_get(m, "minute"));
        size_t k = 0;
        char wn[40];
        for (; k < n_want; k++) {
            minute_name(want[k].t, wn, sizeof wn);
            if (!strcmp(wn, name))
                break;
        }
        if (k == n_want) { /* an empty minute */
            if (json_integer_value(json_object_get(m, "requests")) != 0 ||
                json_integer_value(json_object_get(m, "errors")) != 0 ||
                json_integer_value(json_object_get(m, "tokens")) != 0)
                fail_msg("minute %s should be empty", name);
            expect_pcts_json(name, json_object_get(m, "latency_ms"), NULL);
            expect_pcts_json(name, json_object_get(m, "ttft_ms"), NULL);
            expect_real(name, json_object_get(m, "decode_tps"), 0);
            continue;
        }
        want[k].seen = true;
        if (json_integer_value(json_object_get(m, "requests")) != want[k].requests ||
            json_integer_value(json_object_get(m, "errors")) != want[k].errors ||
            json_integer_value(json_object_get(m, "tokens")) != want[k].tokens)
            fail_msg("minute %s: requests %lld errors %lld tokens %lld, want %d %d %d", name,
                     (long long)json_integer_value(json_object_get(m, "requests")),
                     (long long)json_integer_value(json_object_get(m, "errors")),
                     (long long)json_integer_value(json_object_get(m, "tokens")), want[k].requests,
                     want[k].errors, want[k].tokens);
        expect_pcts_json(name, json_object_get(m, "latency_ms"), want[k].lat);
        expect_pcts_json(name, json_object_get(m, "ttft_ms"), want[k].ttft);
        expect_real(name, json_object_get(m, "decode_tps"), want[k].decode);
    }
    for (size_t k = 0; k < n_want; k++)
        if (!want[k].seen)
            fail_msg("the minute of row group %zu is not in the series", k);
    json_decref(j);
    free(out);
    free(err);
}

/* ---- export, row by row ---- */

/* One CSV record (RFC 4180: every field quoted here) from *p; NULL at the
 * end.  Fields are malloc'ed into f[0..*n). */
static bool csv_record(const char **p, char **f, size_t max, size_t *n)
{
    const char *s = *p;
    if (!*s)
        return false;
    *n = 0;
    for (;;) {
        strbuf sb = {0};
        sb_puts(&sb, "");
        if (*s == '"') {
            for (s++;; s++) {
                if (!*s)
                    fail_msg("unterminated quoted CSV field");
                if (*s == '"' && s[1] == '"')
                    sb_putc(&sb, *s++);
                else if (*s == '"')
                    break;
                else
                    sb_putc(&sb, *s);
            }
            s++;
        } else
            while (*s && *s != ',' && *s != '\r' && *s != '\n')
                sb_putc(&sb, *s++);
        assert_true(*n < max);
        f[(*n)++] = sb.data;
        if (*s == ',') {
            s++;
            continue;
        }
        if (s[0] == '\r' && s[1] == '\n')
            s += 2;
        else
            fail_msg("a CSV record must end with CRLF, not '%.10s'", s);
        break;
    }
    *p = s;
    return true;
}

typedef struct {
    int64_t conv, id;
    const char *roles[6], *texts[6]; /* the thread, the reply last */
    size_t n_thread;
    const char *prompt;               /* the last customer message      */
    int score;                        /* 0: null                        */
    const char *thumbs;               /* NULL: null                     */
    const char *tags;                 /* compact JSON array             */
    int n_ratings;
} export_row;

static void expect_messages(json_t *msgs, const export_row *w)
{
    assert_int_equal(json_array_size(msgs), w->n_thread);
    for (size_t i = 0; i < w->n_thread; i++) {
        json_t *m = json_array_get(msgs, i);
        assert_string_equal(json_string_value(json_object_get(m, "role")), w->roles[i]);
        assert_string_equal(json_string_value(json_object_get(m, "content")), w->texts[i]);
    }
}

static void expect_json_text(const char *what, const char *got, const char *want)
{
    json_t *a = test_json(got), *b = test_json(want);
    if (!json_equal(a, b))
        fail_msg("%s: got %s, want %s", what, got, want);
    json_decref(a);
    json_decref(b);
}

static char *dump_compact(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void test_export_rows(void **state)
{
    (void)state;
    const char *dbp = fresh_store("rows.db");
    db *d = open_store(dbp);
    int64_t alpha = store_model(d, 'c', "Alpha 1", "alpha.gguf");
    char sha[65];
    memset(sha, 'c', 64);
    sha[64] = 0;
    const char *sys = "You sell shoes.\nBe brief.";
    const char *q1 = "Do you have boots, size 42?", *q2 = "And laces?\nBlack ones, \"waxed\".", *q3 = "退款?";
    const char *a1 = "Yes, \"Trail\" boots, size 42, in stock.", *a2 = "Black laces: 3 €, ✓",
               *a3 = "Refunds take 5 days, 😀", *a4 = "no one rated this", *a5 = "opinions differ";
    const char *sampling = "{\"temperature\":0.5,\"top_k\":40}";
    int64_t c1, c2, c3, m, r1, r2, r3, r4, r5;
    OK(d, db_conv_create(d, "default", sys, &c1));
    OK(d, db_msg_add(d, c1, DB_ROLE_CUSTOMER, q1, &m));
    OK(d, db_reply_begin(d, c1, alpha, sampling, 0, &r1));
    OK(d, db_reply_end(d, r1, a1, alpha));
    OK(d, db_msg_add(d, c1, DB_ROLE_CUSTOMER, q2, &m));
    OK(d, db_reply_begin(d, c1, alpha, sampling, 0, &r2));
    OK(d, db_reply_end(d, r2, a2, alpha));
    OK(d, db_conv_create(d, "default", NULL, &c2)); /* no system prompt */
    OK(d, db_msg_add(d, c2, DB_ROLE_CUSTOMER, q3, &m));
    OK(d, db_reply_begin(d, c2, alpha, NULL, 0, &r3));
    OK(d, db_reply_end(d, r3, a3, alpha));
    OK(d, db_msg_add(d, c2, DB_ROLE_CUSTOMER, "and unrated?", &m));
    OK(d, db_reply_begin(d, c2, alpha, NULL, 0, &r4));
    OK(d, db_reply_end(d, r4, a4, alpha));
    OK(d, db_conv_create(d, "default", sys, &c3));
    OK(d, db_msg_add(d, c3, DB_ROLE_CUSTOMER, "mixed?", &m));
    OK(d, db_reply_begin(d, c3, alpha, sampling, 0, &r5));
    OK(d, db_reply_end(d, r5, a5, alpha));
    const unsigned ALL = DB_RATE_THUMBS | DB_RATE_SCORE | DB_RATE_TAGS | DB_RATE_COMMENT;
    OK(d, db_rate(d, r1, "ana", &(db_rating_in){.fields = ALL, .thumbs = 1, .score = 5,
                                                           .tags = (const char *[]){"polite", "short"},
                                                           .n_tags = 2, .comment = "good, \"short\""}));
    OK(d, db_rate(d, r1, "ben", &(db_rating_in){.fields = DB_RATE_SCORE | DB_RATE_TAGS, .score = 4,
                                                           .tags = (const char *[]){"polite", "accurate"},
                                                           .n_tags = 2}));
    OK(d, db_rate(d, r2, "ana", &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE,
                                                           .thumbs = -1, .score = 2}));
    OK(d, db_rate(d, r3, "ben", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = 1}));
    OK(d, db_rate(d, r5, "ana", &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE,
                                                           .thumbs = 1, .score = 3}));
    OK(d, db_rate(d, r5, "ben", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = -1}));
    db_close(d);

    /* What each rated reply's line must say (r4 is unrated: not exported).
     * score: the lowest given; thumbs: up or down when the raters agree,
     * mixed when not; tags: every rater's, once each. */
    const export_row rows[] = {
        {c1, r1, {"system", "user", "assistant"}, {sys, q1, a1}, 3, q1, 4, "up",
         "[\"polite\",\"short\",\"accurate\"]", 2},
        {c1, r2, {"system", "user", "assistant", "user", "assistant"}, {sys, q1, a1, q2, a2}, 5, q2, 2, "down", "[]",
         1},
        {c2, r3, {"user", "assistant"}, {q3, a3}, 2, q3, 0, "up", "[]", 1},
        {c3, r5, {"system", "user", "assistant"}, {sys, "mixed?", a5}, 3, "mixed?", 3, "mixed", "[]", 2},
    };
    const size_t n_rows = sizeof rows / sizeof *rows;

    /* JSONL, written atomically with --out */
    const char *file = test_path(test_tmpdir(), "rows.jsonl");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "export", "--out", file, "--db", dbp), 0);
    char said[1100];
    snprintf(said, sizeof said, "frontdesk: exported 4 replies to %s\n", file);
    assert_string_equal(err, said);
    free(out);
    free(err);
    char *text = test_read_file(file, NULL);
    char *save = NULL;
    size_t i = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        assert_true(i < n_rows);
        const export_row *w = &rows[i];
        json_t *j = test_json(line);
        assert_int_equal(json_object_size(j), 2);
        expect_messages(json_object_get(j, "messages"), w);
        json_t *md = json_object_get(j, "metadata");
        assert_int_equal(json_integer_value(json_object_get(md, "conversation_id")), w->conv);
        assert_int_equal(json_integer_value(json_object_get(md, "message_id")), w->id);
        assert_string_equal(json_string_value(json_object_get(md, "model")), "Alpha 1");
        assert_string_equal(json_string_value(json_object_get(md, "model_sha256")), sha);
        assert_string_equal(json_string_value(json_object_get(md, "model_file")), "alpha.gguf");
        assert_string_equal(json_string_value(json_object_get(md, "quantization")), "Q8_0");
        json_t *smp = json_object_get(md, "sampling");
        if (w->id == r3)
            assert_true(json_is_null(smp));
        else {
            char *s = dump_compact(smp);
            expect_json_text("sampling", s, sampling);
            free(s);
        }
        if (w->score)
            assert_int_equal(json_integer_value(json_object_get(md, "score")), w->score);
        else
            assert_true(json_is_null(json_object_get(md, "score")));
        assert_string_equal(json_string_value(json_object_get(md, "thumbs")), w->thumbs);
        char *tags = dump_compact(json_object_get(md, "tags"));
        assert_string_equal(tags, w->tags);
        free(tags);
        json_t *ratings = json_object_get(md, "ratings");
        assert_int_equal(json_array_size(ratings), (size_t)w->n_ratings);
        if (w->id == r1) {
            json_t *ana = json_array_get(ratings, 0), *ben = json_array_get(ratings, 1);
            assert_string_equal(json_string_value(json_object_get(ana, "rater")), "ana");
            assert_string_equal(json_string_value(json_object_get(ana, "thumbs")), "up");
            assert_int_equal(json_integer_value(json_object_get(ana, "score")), 5);
            assert_string_equal(json_string_value(json_object_get(ana, "comment")), "good, \"short\"");
            char *t = dump_compact(json_object_get(ana, "tags"));
            assert_string_equal(t, "[\"polite\",\"short\"]");
            free(t);
            assert_string_equal(json_string_value(json_object_get(ben, "rater")), "ben");
            assert_true(json_is_null(json_object_get(ben, "thumbs")));
            assert_int_equal(json_integer_value(json_object_get(ben, "score")), 4);
            assert_true(json_is_null(json_object_get(ben, "comment")));
        }
        json_decref(j);
    }
    assert_int_equal(i, n_rows);
    free(text);

    /* CSV: a header, then the same replies, one record each */
    assert_int_equal(RUN(&out, &err, "export", "--format", "csv", "--db", dbp), 0);
    const char *p = out;
    char *f[16];
    size_t nf;
    assert_true(csv_record(&p, f, 16, &nf));
    const char *header[] = {"conversation_id", "message_id", "model", "model_sha256", "score", "thumbs",
                            "tags", "sampling", "prompt", "response", "messages"};
    assert_int_equal(nf, 11);
    for (size_t k = 0; k < nf; k++) {
        assert_string_equal(f[k], header[k]);
        free(f[k]);
    }
    for (i = 0; csv_record(&p, f, 16, &nf); i++) {
        assert_true(i < n_rows);
        const export_row *w = &rows[i];
        assert_int_equal(nf, 11);
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)w->conv);
        assert_string_equal(f[0], num);
        snprintf(num, sizeof num, "%lld", (long long)w->id);
        assert_string_equal(f[1], num);
        assert_string_equal(f[2], "Alpha 1");
        assert_string_equal(f[3], sha);
        if (w->score)
            snprintf(num, sizeof num, "%d", w->score);
        else
            num[0] = 0;
        assert_string_equal(f[4], num);
        assert_string_equal(f[5], w->thumbs);
        assert_string_equal(f[6], w->tags);
        if (w->id == r3)
            assert_string_equal(f[7], "");
        else
            expect_json_text("csv sampling", f[7], sampling);
        assert_string_equal(f[8], w->prompt);
        assert_string_equal(f[9], w->texts[w->n_thread - 1]);
        json_t *msgs = test_json(f[10]);
        expect_messages(msgs, w);
        json_decref(msgs);
        for (size_t k = 0; k < nf; k++)
            free(f[k]);
    }
    assert_int_equal(i, n_rows);
    free(out);
    free(err);

    /* filters: every scorer >= N; some rater gave the thumb and none the other */
    const struct {
        const char *flag, *value;
        int64_t ids[4];
        size_t n;
    } filters[] = {
        {"--min-score", "4", {r1}, 1},
        {"--min-score", "3", {r1, r5}, 2},
        {"--min-score", "2", {r1, r2, r5}, 3},
        {"--thumbs", "up", {r1, r3}, 2},
        {"--thumbs", "down", {r2}, 1},
        {"--since", "2000-01-01", {r1, r2, r3, r5}, 4},
        {"--since", "2999-01-01", {0}, 0},
    };
    for (size_t k = 0; k < sizeof filters / sizeof *filters; k++) {
        assert_int_equal(RUN(&out, &err, "export", filters[k].flag, filters[k].value, "--db", dbp), 0);
        size_t n = 0;
        save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
            json_t *j = test_json(line);
            int64_t id = json_integer_value(json_object_get(json_object_get(j, "metadata"), "message_id"));
            if (n >= filters[k].n || id != filters[k].ids[n])
                fail_msg("export %s %s: line %zu is reply %lld", filters[k].flag, filters[k].value, n,
                         (long long)id);
            json_decref(j);
        }
        if (n != filters[k].n)
            fail_msg("export %s %s: %zu lines, want %zu", filters[k].flag, filters[k].value, n, filters[k].n);
        free(out);
        free(err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_figures),
        cmocka_unit_test(test_export_rows),
    };
    static const char *const sqlite_only[] = {NULL};
    return store_run_suite("store_cli_figures", tests, sizeof tests / sizeof *tests, sqlite_only, NULL, NULL);
}
