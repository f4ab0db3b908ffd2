/*
 * test_migrate.c — `frontdesk migrate`: a SQLite store with real content
 * (made through the store's API and the binary) copied by the real binary
 * into a fresh PostgreSQL database of the throwaway cluster (pg_util.h),
 * or into another SQLite file; and everything it must refuse.
 *
 * What is checked is read with sqlite3 and libpq directly, never through
 * the code under test: every table row by row on both sides (reals as the
 * doubles they are, blobs as hex), rows the test wrote compared with what
 * it wrote, the commands' outputs on both stores, the next ids after the
 * copy, and targets left untouched by every refusal.
 */
#include "testutil.h"

#include "pg_util.h"
#include "store_util.h"
#include "storage/alerts.h"
#include "storage/arena.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/evals.h"
#include "storage/handles.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/hash.h"
#include "util/util.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_SET "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Text the test wrote and looks for, byte for byte, after the copy. */
static const char question[] = "Where is my parcel? \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe2\x9c\x93 'single' \"double\"\n"
                               "second line\ttab \\ backslash ?1 $1 %s";
static const char comment_text[] = "good, but \xe2\x80\x94 slow; 'quoted'";

/* Every table with the order of its primary key; the two queries (SQLite,
 * PostgreSQL) list blobs as hex. */
static const struct {
    const char *name, *order;
} tables[] = {
    {"models", "id"},
    {"model_files", "path"},
    {"conversations", "id"},
    {"messages", "id"},
    {"requests", "id"},
    {"ratings", "message_id, rater"},
    {"rating_tags", "message_id, rater, tag"},
    {"handles", "handle"},
    {"deployment", "id"},
    {"deployment_history", "id"},
    {"rollups", "period, start, model_id, arm, source, backend, outcome"},
    {"alert_episodes", "id"},
    {"eval_runs", "id"},
    {"eval_items", "run_id, item, model_id"},
    {"arena_judgements", "id"},
};
#define N_TABLES (sizeof tables / sizeof *tables)

static const char rollup_cols_lite[] =
    "period, start, model_id, arm, source, backend, outcome, requests, gen_tokens, prompt_tokens, latency_n, "
    "latency_sum, ttft_n, ttft_sum, prefill_n, prefill_sum, decode_n, decode_sum, "
    "CASE WHEN hist IS NULL THEN NULL ELSE lower(hex(hist)) END, CASE WHEN le IS NULL THEN NULL ELSE lower(hex(le)) END";
static const char rollup_cols_pg[] =
    "period, start, model_id, arm, source, backend, outcome, requests, gen_tokens, prompt_tokens, latency_n, "
    "latency_sum, ttft_n, ttft_sum, prefill_n, prefill_sum, decode_n, decode_sum, "
    "encode(hist, 'hex'), encode(le, 'hex')";

/* ---- Reading both sides directly ---------------------------------------- */

/* A whole result as lines of canonical cells: reals as %.17g of the
 * double, NULL as \N, cells separated by 0x1f. */
static char *lite_rows(const char *path, const char *sql)
{
    sqlite3 *c;
    assert_int_equal(sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    strbuf sb = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            if (i)
                sb_append(&sb, "\x1f", 1);
            switch (sqlite3_column_type(st, i)) {
            case SQLITE_NULL: sb_puts(&sb, "\\N"); break;
            case SQLITE_INTEGER: sb_printf(&sb, "%lld", (long long)sqlite3_column_int64(st, i)); break;
            case SQLITE_FLOAT: sb_printf(&sb, "%.17g", sqlite3_column_double(st, i)); break;
            default: {
                const void *p = sqlite3_column_blob(st, i);
                sb_append(&sb, p ? p : "", (size_t)sqlite3_column_bytes(st, i));
            }
            }
        }
        sb_append(&sb, "\n", 1);
    }
    if (rc != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return sb.data ? sb.data : xstrdup("");
}

static char *pg_rows(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    strbuf sb = {0};
    for (int row = 0; row < PQntuples(r); row++) {
        for (int i = 0; i < PQnfields(r); i++) {
            if (i)
                sb_append(&sb, "\x1f", 1);
            if (PQgetisnull(r, row, i))
                sb_puts(&sb, "\\N");
            else if (PQftype(r, i) == 701 /* float8 */)
                sb_printf(&sb, "%.17g", strtod(PQgetvalue(r, row, i), NULL));
            else
                sb_append(&sb, PQgetvalue(r, row, i), (size_t)PQgetlength(r, row, i));
        }
        sb_append(&sb, "\n", 1);
    }
    PQclear(r);
    return sb.data ? sb.data : xstrdup("");
}

static char *table_sql(size_t i, bool pg)
{
    strbuf sb = {0};
    const char *cols = strcmp(tables[i].name, "rollups") ? "*" : pg ? rollup_cols_pg : rollup_cols_lite;
    sb_printf(&sb, "SELECT %s FROM %s ORDER BY %s", cols, tables[i].name, tables[i].order);
    return sb.data;
}

static long long lite_count(const char *path, const char *sql)
{
    char *v = lite_rows(path, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

static long long pg_count(PGconn *c, const char *sql)
{
    char *v = pg_test_value(c, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

/* The row counts of every table on a PostgreSQL database, as one line. */
static char *pg_counts(PGconn *c)
{
    strbuf sb = {0};
    for (size_t i = 0; i < N_TABLES; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
        sb_printf(&sb, "%s=%lld ", tables[i].name, pg_count(c, sql));
    }
    return sb.data;
}

/* Every table equal, row by row, between a SQLite file and a database. */
static void expect_same_tables(const char *path, PGconn *c)
{
    for (size_t i = 0; i < N_TABLES; i++) {
        char *ql = table_sql(i, false), *qp = table_sql(i, true);
        char *a = lite_rows(path, ql), *b = pg_rows(c, qp);
        if (strcmp(a, b))
            fail_msg("%s differs:\n--- SQLite\n%.2000s\n--- PostgreSQL\n%.2000s", tables[i].name, a, b);
        free(a);
        free(b);
        free(ql);
        free(qp);
    }
}

/* ---- A source store with real content ------------------------------------ */

typedef struct {
    int64_t m1, m2, m3, c1, c2, q1, r1, r2, edited;
    int64_t max_conv, max_msg;
} source_ids;

static void finish_request(db *d, int64_t id, db_outcome o, double latency, const char *error)
{
    db_request_result res = {.outcome = o,
                             .error = error,
                             .prompt_tokens = 12,
                             .gen_tokens = 7,
                             .ttft_ms = latency / 3.0,
                             .prefill_ms = 1.25,
                             .decode_ms = latency - 1.25,
                             .latency_ms = latency,
                             .prefill_tps = 960.5,
                             .decode_tps = 7000.0 / latency,
                             .attempts = 1};
    OK(d, db_request_finish(d, id, &res));
}

static void build_source(const char *path, source_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    db *d = open_store(path);
    db_model_info a = {.sha256 = SHA_A,
                       .name = "stories",
                       .file_name = "stories.gguf",
                       .arch = "llama",
                       .n_params = 260000,
                       .quant = "Q8_0",
                       .path = "/models/stories.gguf"};
    db_model_info b = {.sha256 = SHA_B, .name = "stories-v2", .file_name = "stories-v2.gguf", .arch = "llama"};
    db_model_info r = {.url = "http://127.0.0.1:9/v1", .name = "remote-model"};
    OK(d, db_model_use(d, &a, &ids->m1));
    OK(d, db_model_use(d, &b, &ids->m2));
    OK(d, db_model_use(d, &r, &ids->m3));
    OK(d, db_file_hash_put(d, "/models/stories.gguf", 1234567, 1700000000123456789LL, SHA_A));

    /* a conversation with a tree: a reply regenerated, a question edited */
    OK(d, db_conv_create(d, "support", "You are a helpful agent.", &ids->c1));
    OK(d, db_conv_rename(d, ids->c1, "Parcel \xe2\x9c\x88 lost"));
    OK(d, db_msg_add(d, ids->c1, DB_ROLE_CUSTOMER, question, &ids->q1));
    int64_t rq;
    OK(d, db_reply_begin(d, ids->c1, ids->m1, "{\"temperature\":0.7,\"top_p\":0.9}", 0, &ids->r1));
    OK(d, db_request_begin(d, ids->m1, "local", ids->c1, ids->r1, 1.5, &rq));
    OK(d, db_reply_end(d, ids->r1, "It is on its way.", ids->m1));
    finish_request(d, rq, DB_OUTCOME_OK, 123.456789012345, NULL);
    OK(d, db_reply_confidence(d, ids->r1, -0.123456789012345, -2.5));
    OK(d, db_reply_begin(d, ids->c1, ids->m2, NULL, ids->r1, &ids->r2));
    OK(d, db_request_begin(d, ids->m2, "local", ids->c1, ids->r2, 0, &rq));
    OK(d, db_reply_end(d, ids->r2, "Second try: it arrives tomorrow.", ids->m2));
    finish_request(d, rq, DB_OUTCOME_ERROR, 50.0, "boom \"quoted\"");
    int64_t q2;
    OK(d, db_msg_add(d, ids->c1, DB_ROLE_CUSTOMER, "Thanks!", &q2));
    OK(d, db_msg_edit(d, q2, "Thanks a lot!", &ids->edited));

    /* ratings with tags and comments */
    const char *tags1[] = {"helpful", "fast"}, *tags2[] = {"wrong"};
    db_rating_in in1 = {.fields = DB_RATE_THUMBS | DB_RATE_SCORE | DB_RATE_TAGS | DB_RATE_COMMENT,
                        .thumbs = 1,
                        .score = 4,
                        .tags = tags1,
                        .n_tags = 2,
                        .comment = comment_text};
    db_rating_in in2 = {.fields = DB_RATE_THUMBS | DB_RATE_TAGS, .thumbs = -1, .tags = tags2, .n_tags = 1};
    OK(d, db_rate(d, ids->r1, "alice", &in1));
    OK(d, db_rate(d, ids->r2, "bob", &in2));

    /* serve's handles, a deployment with a history, alerts, an eval run,
     * an arena judgement */
    OK(d, db_handle_put(d, "conv-0123456789abcdef", ids->c1, 0, "user-1"));
    OK(d, db_handle_put(d, "chatcmpl-0123456789abcdef", ids->c1, ids->r1, NULL));
    db_deploy_why why = {.who = "lead", .note = "first version", .figures = "{\"n\":1}"};
    OK(d, db_deploy(d, ids->m1, &why));
    OK(d, db_canary_start(d, ids->m2, 10, &why));
    OK(d, db_canary_share(d, 20, &(db_deploy_why){.who = "lead", .note = "more"}));
    double now = db_now();
    bool done;
    int64_t ep;
    OK(d, db_alert_open(d, "error_rate", now - 100, now - 100, "{\"rate\":0.5}", &done, &ep));
    db_alert_episode closed_ep;
    OK(d, db_alert_close(d, "error_rate", now - 50, "{\"rate\":0.01}", &done, &closed_ep));
    db_alert_episode_clear(&closed_ep);
    OK(d, db_alert_open(d, "latency_p95", now - 10, now - 10, "{\"p95\":900.25}", &done, &ep));
    int64_t run;
    db_eval_new en = {.model_a = ids->m1,
                      .model_b = ids->m2,
                      .set_sha256 = SHA_SET,
                      .set_name = "set.jsonl",
                      .set_items = 2,
                      .settings = "{\"limit\":2}"};
    OK(d, db_eval_create(d, &en, &run));
    db_eval_item it = {.item = 0, .model_id = ids->m1, .ppl = 12.5, .reply = "yes", .chrf = 0.42,
                       .rouge_l = 0.3333333333333333, .length = 3, .latency_ms = 10.0};
    OK(d, db_eval_add_item(d, run, &it));
    it.model_id = ids->m2;
    it.ppl = NAN;
    it.reply = NULL;
    OK(d, db_eval_add_item(d, run, &it));
    it.item = 1;
    it.ppl = 3.25;
    it.reply = "no \xe2\x80\x94 maybe";
    OK(d, db_eval_add_item(d, run, &it));
    OK(d, db_eval_finish(d, run, "complete", "{\"a\":1}", "{\"v\":\"tie\"}"));
    db_arena_in ar = {.rater = "carol",
                      .prompt_message_id = ids->q1,
                      .model_a = ids->m1,
                      .model_b = ids->m2,
                      .reply_a = ids->r1,
                      .reply_b = ids->r2,
                      .shown_first = 'b',
                      .verdict = DB_ARENA_TIE,
                      .comment = "close call"};
    OK(d, db_arena_record(d, &ar, NULL));

    /* a second conversation with many turns and requests (more rows than
     * one INSERT batch and one verification page hold) */
    OK(d, db_conv_create(d, "sales", NULL, &ids->c2));
    OK(d, db_conv_set_closed(d, ids->c2, true));
    db_close(d);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100) "
             "INSERT INTO messages (conversation_id, role, text, created_at, model_id, logprob_mean) "
             "SELECT %" PRId64 ", CASE i %% 2 WHEN 0 THEN 'agent' ELSE 'customer' END, "
             "'turn ' || i || ' \xc3\xa9" "t\xc3\xa9', %.6f + i / 7.0, "
             "CASE i %% 2 WHEN 0 THEN %" PRId64 " END, CASE i %% 2 WHEN 0 THEN -1.0 / i END FROM n",
             ids->c2, now - 3000, ids->m1);
    sql_exec(path, sql);

    /* and through the binary: a rating and a comment */
    char id[32];
    snprintf(id, sizeof id, "%" PRId64, ids->r2);
    assert_int_equal(RUN(NULL, NULL, "rate", id, "2", "--tag", "slow", "--comment", "took ages", "--rater", "dave",
                         "--db", path),
                     0);
    ids->max_conv = lite_count(path, "SELECT max(id) FROM conversations");
    ids->max_msg = lite_count(path, "SELECT max(id) FROM messages");
    /* the content this suite means to copy is really there */
    assert_true(lite_count(path, "SELECT count(*) FROM rollups WHERE hist IS NOT NULL") > 0);
    assert_true(lite_count(path, "SELECT count(*) FROM deployment_history") >= 3);
    assert_true(lite_count(path, "SELECT count(*) FROM messages WHERE parent_id IS NOT NULL") >= 2);
    assert_int_equal(lite_count(path, "SELECT count(*) FROM requests"), 2);
}

static int migrate(const char *from, const char *to, char **out, char **err)
{
    return RUN(out, err, "migrate", "--from", from, "--to", to);
}

/* ---- Into PostgreSQL -------------------------------------------------------- */

static void copies_everything(void **state)
{
    (void)state;
    const char *src = fresh_db("copy.db");
    source_ids ids;
    build_source(src, &ids);
    char *url = pg_test_new_db("migrate_copy");
    char *out, *err;
    int rc = migrate(src, url, &out, &err);
    if (rc != 0)
        fail_msg("migrate exited %d: %s", rc, err);
    PGconn *c = pg_test_connect(url);

    /* every table, row by row; the counts in the summary */
    expect_same_tables(src, c);
    for (size_t i = 0; i < N_TABLES; i++) {
        char sql[96], want[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
        long long n = lite_count(src, sql);
        assert_int_equal(n, pg_count(c, sql));
        snprintf(want, sizeof want, "  %-20s %10lld\n", tables[i].name, n);
        if (!strstr(out, want))
            fail_msg("no line '%s' in the summary:\n%s", want, out);
        snprintf(want, sizeof want, "migrate: %-20s verified: %lld rows", tables[i].name, n);
        if (!strstr(err, want))
            fail_msg("no progress line '%s':\n%s", want, err);
    }
    assert_true(pg_count(c, "SELECT count(*) FROM messages") > 2100);

    /* rows the test wrote, as written */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT text FROM messages WHERE id = %" PRId64, ids.q1);
    char *v = pg_test_value(c, sql);
    assert_string_equal(v, question);
    free(v);
    snprintf(sql, sizeof sql, "SELECT comment FROM ratings WHERE message_id = %" PRId64 " AND rater = 'alice'",
             ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, comment_text);
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(tag, ',' ORDER BY tag) FROM rating_tags WHERE message_id = %" PRId64, ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, "fast,helpful");
    free(v);
    snprintf(sql, sizeof sql, "SELECT parent_id FROM messages WHERE id = %" PRId64, ids.r2);
    assert_int_equal(pg_count(c, sql), ids.r1);
    snprintf(sql, sizeof sql, "SELECT logprob_mean = -0.123456789012345 FROM messages WHERE id = %" PRId64, ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, "t");
    free(v);
    v = pg_test_value(c, "SELECT \"user\" FROM handles WHERE handle = 'conv-0123456789abcdef'");
    assert_string_equal(v, "user-1");
    free(v);
    v = pg_test_value(c, "SELECT stable_id || '/' || candidate_id || '/' || share FROM deployment");
    char want[64];
    snprintf(want, sizeof want, "%" PRId64 "/%" PRId64 "/20", ids.m1, ids.m2);
    assert_string_equal(v, want);
    free(v);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM eval_items WHERE ppl IS NULL"), 1);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM rating_tags WHERE rater = 'dave' AND tag = 'slow'"), 1);

    /* search works on the copy (pg_trgm, not the SQLite index) */
    db *pg = open_store(url);
    db_conv *convs;
    size_t n;
    OK(pg, db_conv_list(pg, "\xc3\xbcn\xc3\xaf" "c\xc3\xb6", 10, &convs, &n));
    assert_int_equal(n, 1);
    assert_int_equal(convs[0].id, ids.c1);
    db_convs_free(convs, n);

    /* the sequences were set: a new conversation and message number on */
    int64_t conv, msg;
    OK(pg, db_conv_create(pg, "after", NULL, &conv));
    OK(pg, db_msg_add(pg, conv, DB_ROLE_CUSTOMER, "new on PostgreSQL", &msg));
    assert_true(conv > ids.max_conv);
    assert_true(msg > ids.max_msg);
    db_close(pg);
    PQfinish(c);
    free(out);
    free(err);
    pg_test_drop_db(url);
    free(url);
}

/* The same figures and listings from the API on both stores; and from the
 * binary, when it opens database URLs (app/store.c). */
static void same_answers(void **state)
{
    (void)state;
    const char *src = fresh_db("answers.db");
    source_ids ids;
    build_source(src, &ids);
    char *url = pg_test_new_db("migrate_answers");
    assert_int_equal(migrate(src, url, NULL, NULL), 0);
    db *a = open_store(src), *b = open_store(url);
    double now = db_now();
    db_stats sa, sb;
    OK(a, db_stats_compute(a, DB_WIN_24H, now, NULL, 0, &sa));
    OK(b, db_stats_compute(b, DB_WIN_24H, now, NULL, 0, &sb));
    assert_int_equal(sa.requests, 2);
    assert_int_equal(sa.requests, sb.requests);
    assert_int_equal(sa.errors, sb.errors);
    assert_true(sa.latency_ms.valid && sb.latency_ms.valid);
    assert_true(sa.latency_ms.p50 == sb.latency_ms.p50 && sa.latency_ms.p99 == sb.latency_ms.p99);
    db_stats_free(&sa);
    db_stats_free(&sb);
    db_conv *ca, *cb;
    size_t na, nb;
    OK(a, db_conv_list(a, NULL, 0, &ca, &na));
    OK(b, db_conv_list(b, NULL, 0, &cb, &nb));
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(ca[i].id, cb[i].id);
        assert_string_equal(ca[i].title, cb[i].title);
        assert_int_equal(ca[i].n_messages, cb[i].n_messages);
        assert_int_equal(ca[i].n_rated, cb[i].n_rated);
    }
    db_convs_free(ca, na);
    db_convs_free(cb, nb);
    db_close(a);
    db_close(b);

    /* the binary on both: the same listings, the same figures */
    char *o1, *o2;
    assert_int_equal(RUN(&o2, NULL, "history", "--db", url), 0);
    assert_int_equal(RUN(&o1, NULL, "history", "--db", src), 0);
    assert_non_null(strstr(o1, "Parcel"));
    assert_string_equal(o1, o2);
    free(o1);
    free(o2);
    const char *const cmds[][4] = {{"stats", "--window", "24h", "--json"},
                                   {"show", "1", NULL, NULL},
                                   {"deployment", NULL, NULL, NULL},
                                   {"arena", NULL, NULL, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        const char *args[8] = {0};
        size_t k = 0;
        for (; k < 4 && cmds[i][k]; k++)
            args[k] = cmds[i][k];
        args[k] = "--db";
        args[k + 1] = src;
        assert_int_equal(fd_run(&o1, NULL, args), 0);
        args[k + 1] = url;
        assert_int_equal(fd_run(&o2, NULL, args), 0);
        assert_true(strlen(o1) > 20);
        if (!strcmp(cmds[i][0], "stats")) { /* the window's edge moves between the two runs */
            json_error_t je;
            json_t *j1 = json_loads(o1, 0, &je), *j2 = json_loads(o2, 0, &je);
            assert_non_null(j1);
            assert_non_null(j2);
            assert_int_equal(json_integer_value(json_object_get(j2, "requests")), 2);
            const char *keys[] = {"requests", "errors", "latency_ms", "ttft_ms", "tokens_generated"};
            for (size_t q = 0; q < sizeof keys / sizeof *keys; q++)
                assert_true(json_equal(json_object_get(j1, keys[q]), json_object_get(j2, keys[q])));
            json_decref(j1);
            json_decref(j2);
        } else if (strcmp(o1, o2))
            fail_msg("%s differs:\n--- SQLite\n%s\n--- PostgreSQL\n%s", cmds[i][0], o1, o2);
        free(o1);
        free(o2);
    }
    pg_test_drop_db(url);
    free(url);
}

/* ---- Refusals ------------------------------------------------------------------ */

static void refuses_a_target_with_rows(void **state)
{
    (void)state;
    const char *src = fresh_db("full.db");
    source_ids ids;
    build_source(src, &ids);
    char *url = pg_test_new_db("migrate_full");
    assert_int_equal(migrate(src, url, NULL, NULL), 0);
    PGconn *c = pg_test_connect(url);
    char *before = pg_counts(c);
    char *sum_before = pg_test_value(c, "SELECT md5(string_agg(text, '|' ORDER BY id)) FROM messages");
    /* again, with more in the source: refused, nothing written */
    sql_exec(src, "INSERT INTO conversations (title, created_at, updated_at) VALUES ('later', 1, 1)");
    char *err;
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "already holds rows"));
    free(err);
    char *after = pg_counts(c);
    assert_string_equal(before, after);
    char *sum_after = pg_test_value(c, "SELECT md5(string_agg(text, '|' ORDER BY id)) FROM messages");
    assert_string_equal(sum_before, sum_after);
    free(before);
    free(after);
    free(sum_before);
    free(sum_after);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);

    /* one row anywhere is enough: a cached file hash */
    url = pg_test_new_db("migrate_one_row");
    db_close(open_store(url)); /* the schema */
    c = pg_test_connect(url);
    pg_test_exec(c, "INSERT INTO model_files VALUES ('/x.gguf', 1, 2, '" SHA_B "')");
    PQfinish(c);
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "model_files 1"));
    free(err);
    c = pg_test_connect(url);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM conversations"), 0);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM models"), 0);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

/* A file's bytes, to show a refusal left it as it was. */
static char *file_bytes(const char *path, size_t *n)
{
    return test_read_file(path, n);
}

static void refuses_other_schemas(void **state)
{
    (void)state;
    char *url = pg_test_new_db("migrate_schema");
    char *err;
    /* newer: refused before anything is opened */
    const char *newer = fresh_db("newer.db");
    db_close(open_store(newer));
    sql_exec(newer, "PRAGMA user_version = 9");
    size_t n1, n2;
    char *b1 = file_bytes(newer, &n1);
    assert_int_equal(migrate(newer, url, NULL, &err), 1);
    assert_non_null(strstr(err, "newer"));
    free(err);
    char *b2 = file_bytes(newer, &n2);
    assert_true(n1 == n2 && !memcmp(b1, b2, n1));
    free(b1);
    free(b2);
    /* older: refused too (migrate does not upgrade its source) */
    const char *older = fresh_db("older.db");
    db *d;
    char msg[512];
    assert_int_equal(db_open_at(&d, older, 5, msg, sizeof msg), DB_OK);
    db_close(d);
    assert_int_equal(migrate(older, url, NULL, &err), 1);
    assert_non_null(strstr(err, "older"));
    free(err);
    assert_int_equal(lite_count(older, "PRAGMA user_version"), 5);
    /* no such file: not created */
    const char *missing = fresh_db("missing.db");
    assert_int_equal(migrate(missing, url, NULL, &err), 1);
    assert_non_null(strstr(err, "no such file"));
    free(err);
    assert_int_equal(access(missing, F_OK), -1);
    /* not a database */
    const char *junk = fresh_db("junk.db");
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++)
        fputs("not a database at all ", f);
    fclose(f);
    assert_int_equal(migrate(junk, url, NULL, &err), 1);
    assert_non_null(strstr(err, "not a frontdesk database"));
    free(err);
    /* the target was never touched: no schema made */
    PGconn *c = pg_test_connect(url);
    char *v = pg_test_value(c, "SELECT to_regclass('frontdesk_schema') IS NULL");
    assert_string_equal(v, "t");
    free(v);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

static void refuses_bad_usage(void **state)
{
    (void)state;
    const char *src = fresh_db("usage.db");
    db_close(open_store(src));
    char *err;
    const char *host = strstr(pg_test_url(), "?");
    char url[1024];
    snprintf(url, sizeof url, "postgresql://someone:s3cret@/postgres%s", host ? host : "");
    assert_int_equal(migrate(src, url, NULL, &err), 2);
    assert_non_null(strstr(err, "password"));
    assert_null(strstr(err, "s3cret"));
    free(err);
    snprintf(url, sizeof url, "%s&password=s3cret", pg_test_url());
    assert_int_equal(migrate(src, url, NULL, &err), 2);
    assert_null(strstr(err, "s3cret"));
    free(err);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--from", src), 2);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--to", pg_test_url()), 2);
    assert_int_equal(migrate(pg_test_url(), src, NULL, NULL), 2);
    assert_int_equal(migrate(src, "mysql://x/y", NULL, NULL), 2);
    assert_int_equal(migrate(src, src, NULL, NULL), 2);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--from", src, "--to", pg_test_url(), "--bogus"), 2);
}

/* Work in progress in the source: a request this (live) process owns. */
static void refuses_a_source_in_use(void **state)
{
    (void)state;
    const char *src = fresh_db("busy.db");
    source_ids ids;
    build_source(src, &ids);
    db *d = open_store(src);
    int64_t rq;
    OK(d, db_request_begin(d, ids.m1, "local", ids.c1, 0, 0, &rq));
    char *url = pg_test_new_db("migrate_busy");
    char *err;
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "in use"));
    free(err);
    PGconn *c = pg_test_connect(url);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM models"), 0);
    finish_request(d, rq, DB_OUTCOME_CANCELLED, 5.0, NULL);
    db_close(d);
    assert_int_equal(migrate(src, url, NULL, NULL), 0);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM requests"), 3);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

/* What would not arrive unchanged is refused, nothing written: a value of
 * another type than its column's, and text PostgreSQL cannot hold (a NUL
 * byte; only the verification sees it). */
static void refuses_what_would_change(void **state)
{
    (void)state;
    const char *src = fresh_db("odd.db");
    source_ids ids;
    build_source(src, &ids);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE messages SET logprob_min = 'low' WHERE id = %" PRId64, ids.r2);
    sql_exec(src, sql);
    char *url = pg_test_new_db("migrate_odd");
    char *err;
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "messages.logprob_min"));
    free(err);
    snprintf(sql, sizeof sql, "UPDATE messages SET logprob_min = NULL WHERE id = %" PRId64, ids.r2);
    sql_exec(src, sql);
    snprintf(sql, sizeof sql, "UPDATE messages SET text = CAST(x'61006200' AS TEXT) || 'c' WHERE id = %" PRId64,
             ids.r2);
    sql_exec(src, sql);
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "verifying messages"));
    free(err);
    /* a table no migration made: refused rather than left behind */
    sql_exec(src, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x')");
    assert_int_equal(migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "does not know (notes)"));
    free(err);
    PGconn *c = pg_test_connect(url);
    char *counts = pg_counts(c);
    for (size_t i = 0; i < N_TABLES; i++) {
        char zero[64];
        snprintf(zero, sizeof zero, "%s=0 ", tables[i].name);
        if (!strstr(counts, zero))
            fail_msg("rows left behind by a failed copy: %s", counts);
    }
    free(counts);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

/* The copy killed (-9) in the middle of the messages: the target holds
 * nothing (the server rolls the transaction back), and a second run
 * copies everything. */
static void killed_copy_leaves_nothing(void **state)
{
    (void)state;
    const char *src = fresh_db("killed.db");
    source_ids ids;
    build_source(src, &ids);
    char sql[512];
    snprintf(sql, sizeof sql,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000) "
             "INSERT INTO messages (conversation_id, role, text, created_at) "
             "SELECT %" PRId64 ", 'customer', 'filler ' || i || ' with some words to carry', 1.7e9 + i FROM n",
             ids.c2);
    sql_exec(src, sql);
    char *url = pg_test_new_db("migrate_killed");
    PGconn *c = pg_test_connect(url);
    char *db_name = pg_test_value(c, "SELECT current_database()");
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl(test_bin(), test_bin(), "migrate", "--from", src, "--to", url, (char *)NULL);
        _exit(127);
    }
    /* kill it once the server is seen running one of its INSERTs into messages */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND query LIKE 'INSERT INTO \"messages\"%%'",
             db_name);
    bool killed = false;
    double t0 = util_now();
    while (util_now() - t0 < 120 && !killed) {
        if (pg_count(c, sql) > 0)
            killed = kill(pid, SIGKILL) == 0;
        else if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            break;
        }
    }
    int status = 0;
    if (pid)
        waitpid(pid, &status, 0);
    if (!killed || !WIFSIGNALED(status))
        fail_msg("the copy ended before it could be killed mid-way");
    /* the server notices the client is gone and rolls back */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()",
             db_name);
    t0 = util_now();
    while (pg_count(c, sql) > 0 && util_now() - t0 < 60)
        usleep(10000);
    assert_int_equal(pg_count(c, sql), 0);
    char *counts = pg_counts(c);
    for (size_t i = 0; i < N_TABLES; i++) {
        char zero[64];
        snprintf(zero, sizeof zero, "%s=0 ", tables[i].name);
        if (!strstr(counts, zero))
            fail_msg("rows left behind by the killed copy: %s", counts);
    }
    free(counts);
    /* and again, to the end */
    char *err;
    int rc = migrate(src, url, NULL, &err);
    if (rc != 0)
        fail_msg("the second run exited %d: %s", rc, err);
    free(err);
    expect_same_tables(src, c);
    free(db_name);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

/* ---- Appending into a store that holds rows ---------------------------------- */

/* The same query on a SQLite file and on PostgreSQL (rows past some ids
 * there): equal row for row. */
static void expect_same(const char *what, const char *path, const char *lite_sql, PGconn *c, const char *pg_sql)
{
    char *a = lite_rows(path, lite_sql), *b = pg_rows(c, pg_sql);
    if (strcmp(a, b))
        fail_msg("%s differs:\n--- SQLite\n%.3000s\n--- PostgreSQL\n%.3000s", what, a, b);
    if (!*a)
        fail_msg("%s: no rows to compare", what);
    free(a);
    free(b);
}

static long long lite_max(const char *path, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof sql, "SELECT coalesce(max(id), 0) FROM %s", table);
    return lite_count(path, sql);
}

static void appends_into_a_store_with_rows(void **state)
{
    (void)state;
    const char *a = fresh_db("append-a.db"), *b = fresh_db("append-b.db");
    source_ids ia, ib;
    build_source(a, &ia);
    build_source(b, &ib);
    /* b also has a version a has never seen, with a reply and a request */
    db *d = open_store(b);
    db_model_info dm = {.sha256 = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", .name = "fresh",
                        .file_name = "fresh.gguf"};
    int64_t m4, conv, question_id, reply, rq;
    OK(d, db_model_use(d, &dm, &m4));
    OK(d, db_conv_create(d, "support", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "only in b", &question_id));
    OK(d, db_reply_begin(d, conv, m4, NULL, 0, &reply));
    OK(d, db_request_begin(d, m4, "local", conv, reply, 0, &rq));
    OK(d, db_reply_end(d, reply, "a reply by the fresh version", m4));
    finish_request(d, rq, DB_OUTCOME_OK, 77.25, NULL);
    db_close(d);

    char *url = pg_test_new_db("migrate_append");
    assert_int_equal(migrate(a, url, NULL, NULL), 0);
    PGconn *c = pg_test_connect(url);
    char *before = pg_counts(c);
    char *err, *out;
    /* refused, nothing written: an open alert of the same name in both;
     * handles both have (serve's tokens are random: a copy of the same store) */
    assert_int_equal(RUN(NULL, &err, "migrate", "--from", b, "--to", url, "--append"), 1);
    assert_non_null(strstr(err, "latency_p95"));
    free(err);
    sql_exec(b, "UPDATE alert_episodes SET ended_at = started_at + 1 WHERE ended_at IS NULL");
    assert_int_equal(RUN(NULL, &err, "migrate", "--from", b, "--to", url, "--append"), 1);
    assert_non_null(strstr(err, "handles"));
    free(err);
    char *after = pg_counts(c);
    assert_string_equal(before, after);
    free(after);
    sql_exec(b, "UPDATE handles SET handle = handle || '-b'");

    /* without --append: refused as ever */
    assert_int_equal(migrate(b, url, NULL, NULL), 1);
    int rc = RUN(&out, &err, "migrate", "--from", b, "--to", url, "--append");
    if (rc != 0)
        fail_msg("migrate --append exited %d: %s", rc, err);
    assert_non_null(strstr(out, "appended"));
    free(out);
    free(err);

    /* counts: a's and b's rows, models by key, one deployment */
    for (size_t i = 0; i < N_TABLES; i++) {
        const char *t = tables[i].name;
        if (!strcmp(t, "models") || !strcmp(t, "model_files") || !strcmp(t, "deployment") || !strcmp(t, "rollups"))
            continue;
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", t);
        long long want = lite_count(a, sql) + lite_count(b, sql);
        if (pg_count(c, sql) != want)
            fail_msg("%s: %lld rows, not %lld", t, pg_count(c, sql), want);
    }
    assert_int_equal(pg_count(c, "SELECT count(*) FROM models"), 4);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM model_files"), 1);
    assert_int_equal(pg_count(c, "SELECT count(*) FROM deployment"), 1);
    /* figures: every request folded once into the target's rollups */
    assert_int_equal(pg_count(c, "SELECT coalesce(sum(requests), 0) FROM rollups"),
                     lite_count(a, "SELECT sum(requests) FROM rollups") +
                         lite_count(b, "SELECT sum(requests) FROM rollups"));
    assert_int_equal(pg_count(c, "SELECT count(*) FROM requests WHERE folded = 0"), 0);
    /* the target's deployment stayed: a's */
    char want[128];
    snprintf(want, sizeof want, "%lld/%lld/20", (long long)ia.m1, (long long)ia.m2);
    char *v = pg_test_value(c, "SELECT stable_id || '/' || candidate_id || '/' || share FROM deployment");
    assert_string_equal(v, want);
    free(v);

    /* b's rows, with every id they point at, as b has them */
    long long mx_msg = lite_max(a, "messages"), mx_req = lite_max(a, "requests"), mx_conv = lite_max(a, "conversations");
    long long mx_hist = lite_max(a, "deployment_history"), mx_alert = lite_max(a, "alert_episodes");
    long long mx_run = lite_max(a, "eval_runs"), mx_arena = lite_max(a, "arena_judgements");
    char q[2048];
    const char *msgs = "SELECT m.text, coalesce(pv.text, '-'), coalesce(pa.text, '-'), coalesce(mo.key, '-'), c.title, "
                       "m.role, m.created_at, m.active, m.logprob_mean FROM messages m LEFT JOIN messages pv ON pv.id = "
                       "m.prev_id LEFT JOIN messages pa ON pa.id = m.parent_id LEFT JOIN models mo ON mo.id = m.model_id "
                       "JOIN conversations c ON c.id = m.conversation_id";
    snprintf(q, sizeof q, "%s WHERE m.id > %lld ORDER BY m.id", msgs, mx_msg);
    char lq[2048];
    snprintf(lq, sizeof lq, "%s ORDER BY m.id", msgs);
    expect_same("messages", b, lq, c, q);
    const char *convs = "SELECT c.title, c.profile, c.status, coalesce(c.arm, '-'), coalesce(mo.key, '-'), c.created_at "
                        "FROM conversations c LEFT JOIN models mo ON mo.id = c.arm_model_id";
    snprintf(q, sizeof q, "%s WHERE c.id > %lld ORDER BY c.id", convs, mx_conv);
    snprintf(lq, sizeof lq, "%s ORDER BY c.id", convs);
    expect_same("conversations", b, lq, c, q);
    const char *reqs = "SELECT coalesce(mo.key, '-'), coalesce(m.text, '-'), coalesce(c.title, '-'), r.outcome, "
                       "r.latency_ms, r.started_at, coalesce(r.error, '-') FROM requests r LEFT JOIN models mo ON mo.id = "
                       "r.model_id LEFT JOIN messages m ON m.id = r.message_id LEFT JOIN conversations c ON c.id = "
                       "r.conversation_id";
    snprintf(q, sizeof q, "%s WHERE r.id > %lld ORDER BY r.id", reqs, mx_req);
    snprintf(lq, sizeof lq, "%s ORDER BY r.id", reqs);
    expect_same("requests", b, lq, c, q);
    const char *rates = "SELECT m.text, r.rater, r.thumbs, coalesce(r.score, 0), coalesce(r.comment, '-'), "
                        "coalesce((SELECT group_concat(t.tag) FROM (SELECT tag FROM rating_tags t WHERE t.message_id = "
                        "r.message_id AND t.rater = r.rater ORDER BY tag) t), '-') FROM ratings r JOIN messages m ON m.id = "
                        "r.message_id";
    snprintf(lq, sizeof lq, "%s ORDER BY r.message_id, r.rater", rates);
    snprintf(q, sizeof q,
             "SELECT m.text, r.rater, r.thumbs, coalesce(r.score, 0), coalesce(r.comment, '-'), "
             "coalesce((SELECT string_agg(t.tag, ',' ORDER BY t.tag) FROM rating_tags t WHERE t.message_id = "
             "r.message_id AND t.rater = r.rater), '-') FROM ratings r JOIN messages m ON m.id = r.message_id "
             "WHERE r.message_id > %lld ORDER BY r.message_id, r.rater",
             mx_msg);
    expect_same("ratings and their tags", b, lq, c, q);
    const char *hands = "SELECT h.handle, c.title, coalesce(m.text, '-'), coalesce(h.\"user\", '-') FROM handles h "
                        "JOIN conversations c ON c.id = h.conversation_id LEFT JOIN messages m ON m.id = h.message_id";
    snprintf(lq, sizeof lq, "%s ORDER BY h.handle", hands);
    snprintf(q, sizeof q, "%s WHERE h.conversation_id > %lld ORDER BY h.handle", hands, mx_conv);
    expect_same("handles", b, lq, c, q);
    const char *hist = "SELECT h.action, coalesce(s.key, '-'), coalesce(k.key, '-'), coalesce(p.key, '-'), h.share, "
                       "coalesce(h.who, '-'), coalesce(h.note, '-') FROM deployment_history h LEFT JOIN models s ON "
                       "s.id = h.stable_id LEFT JOIN models k ON k.id = h.candidate_id LEFT JOIN models p ON p.id = "
                       "h.previous_id";
    snprintf(lq, sizeof lq, "%s ORDER BY h.id", hist);
    snprintf(q, sizeof q, "%s WHERE h.id > %lld ORDER BY h.id", hist, mx_hist);
    expect_same("deployment_history", b, lq, c, q);
    const char *alerts = "SELECT name, started_at, ended_at, detail, end_detail FROM alert_episodes";
    snprintf(lq, sizeof lq, "%s ORDER BY id", alerts);
    snprintf(q, sizeof q, "%s WHERE id > %lld ORDER BY id", alerts, mx_alert);
    expect_same("alert_episodes", b, lq, c, q);
    const char *items = "SELECT r.set_sha256, ma.key, coalesce(mb.key, '-'), r.status, i.item, mi.key, i.ppl, "
                        "coalesce(i.reply, '-'), i.chrf FROM eval_items i JOIN eval_runs r ON r.id = i.run_id JOIN models "
                        "ma ON ma.id = r.model_a LEFT JOIN models mb ON mb.id = r.model_b JOIN models mi ON mi.id = "
                        "i.model_id";
    snprintf(lq, sizeof lq, "%s ORDER BY r.id, i.item, mi.key", items);
    snprintf(q, sizeof q, "%s WHERE r.id > %lld ORDER BY r.id, i.item, mi.key", items, mx_run);
    expect_same("eval runs and items", b, lq, c, q);
    const char *arena = "SELECT j.rater, coalesce(p.text, '-'), ma.key, mb.key, coalesce(ra.text, '-'), "
                        "coalesce(rb.text, '-'), j.shown_first, j.verdict, coalesce(j.comment, '-') FROM "
                        "arena_judgements j LEFT JOIN messages p ON p.id = j.prompt_message_id JOIN models ma ON ma.id = "
                        "j.model_a JOIN models mb ON mb.id = j.model_b LEFT JOIN messages ra ON ra.id = j.reply_a LEFT "
                        "JOIN messages rb ON rb.id = j.reply_b";
    snprintf(lq, sizeof lq, "%s ORDER BY j.id", arena);
    snprintf(q, sizeof q, "%s WHERE j.id > %lld ORDER BY j.id", arena, mx_arena);
    expect_same("arena_judgements", b, lq, c, q);
    /* and a's rows untouched */
    snprintf(q, sizeof q, "SELECT id, text, prev_id, parent_id, model_id FROM messages WHERE id <= %lld ORDER BY id",
             mx_msg);
    expect_same("a's messages", a, "SELECT id, text, prev_id, parent_id, model_id FROM messages ORDER BY id", c, q);

    /* the figures of both, from the API */
    db *pg = open_store(url);
    db_stats st;
    OK(pg, db_stats_compute(pg, DB_WIN_24H, db_now(), NULL, 0, &st));
    assert_int_equal(st.requests, 2 + 3);
    assert_int_equal(st.errors, 1 + 1);
    db_stats_free(&st);
    int64_t nc;
    OK(pg, db_conv_create(pg, "after", NULL, &nc));
    assert_true(nc > pg_count(c, "SELECT max(id) FROM conversations WHERE profile <> 'after'"));
    db_close(pg);

    /* a source whose request rows were purged: refused, nothing written */
    const char *p = fresh_db("append-purged.db");
    source_ids ip;
    build_source(p, &ip);
    sql_exec(p, "UPDATE alert_episodes SET ended_at = started_at + 1 WHERE ended_at IS NULL;"
                "UPDATE handles SET handle = handle || '-p'; DELETE FROM requests WHERE outcome = 'error'");
    before = (free(before), pg_counts(c));
    assert_int_equal(RUN(NULL, &err, "migrate", "--from", p, "--to", url, "--append"), 1);
    assert_non_null(strstr(err, "purged"));
    free(err);
    after = pg_counts(c);
    assert_string_equal(before, after);
    free(before);
    free(after);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

/* ---- Into another SQLite file ------------------------------------------------ */

static void copies_into_sqlite(void **state)
{
    (void)state;
    const char *src = fresh_db("lite-src.db"), *dst = fresh_db("lite-dst.db");
    source_ids ids;
    build_source(src, &ids);
    char *out;
    assert_int_equal(migrate(src, dst, &out, NULL), 0);
    assert_non_null(strstr(out, "verified"));
    free(out);
    for (size_t i = 0; i < N_TABLES; i++) {
        char *q = table_sql(i, false);
        char *a = lite_rows(src, q), *b = lite_rows(dst, q);
        if (strcmp(a, b))
            fail_msg("%s differs between the two files", tables[i].name);
        free(a);
        free(b);
        free(q);
    }
    /* the target's search index was filled as the rows went in */
    assert_int_equal(lite_count(dst, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"turn 2099\"'"),
                     1);
    /* a copy that fails after making its target leaves no file behind */
    const char *dst2 = fresh_db("lite-dst2.db");
    sql_exec(src, "UPDATE conversations SET title = x'00ff' WHERE id = 1");
    assert_int_equal(migrate(src, dst2, NULL, NULL), 1);
    assert_int_equal(access(dst2, F_OK), -1);
}

/* ---- The checksum's hash ---------------------------------------------------- */

/* util_sha256_* in pieces is SHA-256 (FIPS 180-2's test vectors). */
static void sha256_in_pieces(void **state)
{
    (void)state;
    char hex[65];
    util_sha256 *h = util_sha256_begin();
    assert_non_null(h);
    util_sha256_add(h, "a", 1);
    util_sha256_add(h, "", 0);
    util_sha256_add(h, "bc", 2);
    util_sha256_end(h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h = util_sha256_begin();
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t i = 0; m[i]; i++)
        util_sha256_add(h, m + i, 1);
    util_sha256_end(h, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    util_sha256_end(NULL, hex);
    assert_string_equal(hex, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_in_pieces),
        cmocka_unit_test(copies_everything),
        cmocka_unit_test(same_answers),
        cmocka_unit_test(refuses_a_target_with_rows),
        cmocka_unit_test(refuses_other_schemas),
        cmocka_unit_test(refuses_bad_usage),
        cmocka_unit_test(refuses_a_source_in_use),
        cmocka_unit_test(refuses_what_would_change),
        cmocka_unit_test(killed_copy_leaves_nothing),
        cmocka_unit_test(appends_into_a_store_with_rows),
        cmocka_unit_test(copies_into_sqlite),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
