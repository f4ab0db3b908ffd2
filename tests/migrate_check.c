/* migrate_check.c — see migrate_check.h. */
#include "tests/migrate_check.h"

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

/* A whole result as lines of canonical cells: reals as %.17g of the
 * double, NULL as \N, cells separated by 0x1f. */
char *mc_lite_rows(const char *path, const char *sql)
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

char *mc_pg_rows(PGconn *c, const char *sql)
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

char *mc_table_sql(size_t i, bool pg)
{
    strbuf sb = {0};
    const char *cols = strcmp(tables[i].name, "rollups") ? "*" : pg ? rollup_cols_pg : rollup_cols_lite;
    sb_printf(&sb, "SELECT %s FROM %s ORDER BY %s", cols, tables[i].name, tables[i].order);
    return sb.data;
}

long long mc_lite_count(const char *path, const char *sql)
{
    char *v = mc_lite_rows(path, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

long long mc_pg_count(PGconn *c, const char *sql)
{
    char *v = pg_test_value(c, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

/* The row counts of every table on a PostgreSQL database, as one line. */
char *mc_pg_counts(PGconn *c)
{
    strbuf sb = {0};
    for (size_t i = 0; i < N_TABLES; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
        sb_printf(&sb, "%s=%lld ", tables[i].name, mc_pg_count(c, sql));
    }
    return sb.data;
}

/* Every table equal, row by row, between a SQLite file and a database. */
void mc_expect_same_tables(const char *path, PGconn *c)
{
    for (size_t i = 0; i < N_TABLES; i++) {
        char *ql = mc_table_sql(i, false), *qp = mc_table_sql(i, true);
        char *a = mc_lite_rows(path, ql), *b = mc_pg_rows(c, qp);
        if (strcmp(a, b))
            fail_msg("%s differs:\n--- SQLite\n%.2000s\n--- PostgreSQL\n%.2000s", tables[i].name, a, b);
        free(a);
        free(b);
        free(ql);
        free(qp);
    }
}

/* ---- A source store with real content ------------------------------------ */


void mc_finish_request(db *d, int64_t id, db_outcome o, double latency, const char *error)
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

void mc_build_source(const char *path, source_ids *ids)
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
    mc_finish_request(d, rq, DB_OUTCOME_OK, 123.456789012345, NULL);
    OK(d, db_reply_confidence(d, ids->r1, -0.123456789012345, -2.5));
    OK(d, db_reply_begin(d, ids->c1, ids->m2, NULL, ids->r1, &ids->r2));
    OK(d, db_request_begin(d, ids->m2, "local", ids->c1, ids->r2, 0, &rq));
    OK(d, db_reply_end(d, ids->r2, "Second try: it arrives tomorrow.", ids->m2));
    mc_finish_request(d, rq, DB_OUTCOME_ERROR, 50.0, "boom \"quoted\"");
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
    ids->max_conv = mc_lite_count(path, "SELECT max(id) FROM conversations");
    ids->max_msg = mc_lite_count(path, "SELECT max(id) FROM messages");
    /* the content this suite means to copy is really there */
    assert_true(mc_lite_count(path, "SELECT count(*) FROM rollups WHERE hist IS NOT NULL") > 0);
    assert_true(mc_lite_count(path, "SELECT count(*) FROM deployment_history") >= 3);
    assert_true(mc_lite_count(path, "SELECT count(*) FROM messages WHERE parent_id IS NOT NULL") >= 2);
    assert_int_equal(mc_lite_count(path, "SELECT count(*) FROM requests"), 2);
}

int mc_migrate(const char *from, const char *to, char **out, char **err)
{
    return RUN(out, err, "migrate", "--from", from, "--to", to);
}
