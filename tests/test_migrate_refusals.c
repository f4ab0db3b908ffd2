/*
 * test_migrate_refusals.c — `frontdesk migrate`: everything it must refuse
 * (each target left untouched), and `--append` into a store that holds
 * rows (ids remapped, models matched by key, figures merged).  What is
 * checked is read with sqlite3 and libpq directly, never through the code
 * under test (tests/migrate_check.h).  The copies themselves are
 * test_migrate.c's.
 */
#include "testutil.h"

#include "pg_util.h"
#include "store_util.h"
#include "migrate_check.h"
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

/* ---- Refusals ------------------------------------------------------------------ */

static void refuses_a_target_with_rows(void **state)
{
    (void)state;
    const char *src = fresh_db("full.db");
    source_ids ids;
    mc_build_source(src, &ids);
    char *url = pg_test_new_db("migrate_full");
    assert_int_equal(mc_migrate(src, url, NULL, NULL), 0);
    PGconn *c = pg_test_connect(url);
    char *before = mc_pg_counts(c);
    char *sum_before = pg_test_value(c, "SELECT md5(string_agg(text, '|' ORDER BY id)) FROM messages");
    /* again, with more in the source: refused, nothing written */
    sql_exec(src, "INSERT INTO conversations (title, created_at, updated_at) VALUES ('later', 1, 1)");
    char *err;
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "already holds rows"));
    free(err);
    char *after = mc_pg_counts(c);
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
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "model_files 1"));
    free(err);
    c = pg_test_connect(url);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM conversations"), 0);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM models"), 0);
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
    assert_int_equal(mc_migrate(newer, url, NULL, &err), 1);
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
    assert_int_equal(mc_migrate(older, url, NULL, &err), 1);
    assert_non_null(strstr(err, "older"));
    free(err);
    assert_int_equal(mc_lite_count(older, "PRAGMA user_version"), 5);
    /* no such file: not created */
    const char *missing = fresh_db("missing.db");
    assert_int_equal(mc_migrate(missing, url, NULL, &err), 1);
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
    assert_int_equal(mc_migrate(junk, url, NULL, &err), 1);
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
    assert_int_equal(mc_migrate(src, url, NULL, &err), 2);
    assert_non_null(strstr(err, "password"));
    assert_null(strstr(err, "s3cret"));
    free(err);
    snprintf(url, sizeof url, "%s&password=s3cret", pg_test_url());
    assert_int_equal(mc_migrate(src, url, NULL, &err), 2);
    assert_null(strstr(err, "s3cret"));
    free(err);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--from", src), 2);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--to", pg_test_url()), 2);
    assert_int_equal(mc_migrate(pg_test_url(), src, NULL, NULL), 2);
    assert_int_equal(mc_migrate(src, "mysql://x/y", NULL, NULL), 2);
    assert_int_equal(mc_migrate(src, src, NULL, NULL), 2);
    assert_int_equal(RUN(NULL, NULL, "migrate", "--from", src, "--to", pg_test_url(), "--bogus"), 2);
}

/* Work in progress in the source: a request this (live) process owns. */
static void refuses_a_source_in_use(void **state)
{
    (void)state;
    const char *src = fresh_db("busy.db");
    source_ids ids;
    mc_build_source(src, &ids);
    db *d = open_store(src);
    int64_t rq;
    OK(d, db_request_begin(d, ids.m1, "local", ids.c1, 0, 0, &rq));
    char *url = pg_test_new_db("migrate_busy");
    char *err;
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "in use"));
    free(err);
    PGconn *c = pg_test_connect(url);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM models"), 0);
    mc_finish_request(d, rq, DB_OUTCOME_CANCELLED, 5.0, NULL);
    db_close(d);
    assert_int_equal(mc_migrate(src, url, NULL, NULL), 0);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM requests"), 3);
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
    mc_build_source(src, &ids);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE messages SET logprob_min = 'low' WHERE id = %" PRId64, ids.r2);
    sql_exec(src, sql);
    char *url = pg_test_new_db("migrate_odd");
    char *err;
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "messages.logprob_min"));
    free(err);
    snprintf(sql, sizeof sql, "UPDATE messages SET logprob_min = NULL WHERE id = %" PRId64, ids.r2);
    sql_exec(src, sql);
    snprintf(sql, sizeof sql, "UPDATE messages SET text = CAST(x'61006200' AS TEXT) || 'c' WHERE id = %" PRId64,
             ids.r2);
    sql_exec(src, sql);
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "verifying messages"));
    free(err);
    /* a table no migration made: refused rather than left behind */
    sql_exec(src, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('x')");
    assert_int_equal(mc_migrate(src, url, NULL, &err), 1);
    assert_non_null(strstr(err, "does not know (notes)"));
    free(err);
    PGconn *c = pg_test_connect(url);
    char *counts = mc_pg_counts(c);
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
    mc_build_source(src, &ids);
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
        if (mc_pg_count(c, sql) > 0)
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
    while (mc_pg_count(c, sql) > 0 && util_now() - t0 < 60)
        usleep(10000);
    assert_int_equal(mc_pg_count(c, sql), 0);
    char *counts = mc_pg_counts(c);
    for (size_t i = 0; i < N_TABLES; i++) {
        char zero[64];
        snprintf(zero, sizeof zero, "%s=0 ", tables[i].name);
        if (!strstr(counts, zero))
            fail_msg("rows left behind by the killed copy: %s", counts);
    }
    free(counts);
    /* and again, to the end */
    char *err;
    int rc = mc_migrate(src, url, NULL, &err);
    if (rc != 0)
        fail_msg("the second run exited %d: %s", rc, err);
    free(err);
    mc_expect_same_tables(src, c);
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
    char *a = mc_lite_rows(path, lite_sql), *b = mc_pg_rows(c, pg_sql);
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
    return mc_lite_count(path, sql);
}

static void appends_into_a_store_with_rows(void **state)
{
    (void)state;
    const char *a = fresh_db("append-a.db"), *b = fresh_db("append-b.db");
    source_ids ia, ib;
    mc_build_source(a, &ia);
    mc_build_source(b, &ib);
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
    mc_finish_request(d, rq, DB_OUTCOME_OK, 77.25, NULL);
    db_close(d);

    char *url = pg_test_new_db("migrate_append");
    assert_int_equal(mc_migrate(a, url, NULL, NULL), 0);
    PGconn *c = pg_test_connect(url);
    char *before = mc_pg_counts(c);
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
    char *after = mc_pg_counts(c);
    assert_string_equal(before, after);
    free(after);
    sql_exec(b, "UPDATE handles SET handle = handle || '-b'");

    /* without --append: refused as ever */
    assert_int_equal(mc_migrate(b, url, NULL, NULL), 1);
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
        long long want = mc_lite_count(a, sql) + mc_lite_count(b, sql);
        if (mc_pg_count(c, sql) != want)
            fail_msg("%s: %lld rows, not %lld", t, mc_pg_count(c, sql), want);
    }
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM models"), 4);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM model_files"), 1);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM deployment"), 1);
    /* figures: every request folded once into the target's rollups */
    assert_int_equal(mc_pg_count(c, "SELECT coalesce(sum(requests), 0) FROM rollups"),
                     mc_lite_count(a, "SELECT sum(requests) FROM rollups") +
                         mc_lite_count(b, "SELECT sum(requests) FROM rollups"));
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM requests WHERE folded = 0"), 0);
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
    assert_true(nc > mc_pg_count(c, "SELECT max(id) FROM conversations WHERE profile <> 'after'"));
    db_close(pg);

    /* a source whose request rows were purged: refused, nothing written */
    const char *p = fresh_db("append-purged.db");
    source_ids ip;
    mc_build_source(p, &ip);
    sql_exec(p, "UPDATE alert_episodes SET ended_at = started_at + 1 WHERE ended_at IS NULL;"
                "UPDATE handles SET handle = handle || '-p'; DELETE FROM requests WHERE outcome = 'error'");
    before = (free(before), mc_pg_counts(c));
    assert_int_equal(RUN(NULL, &err, "migrate", "--from", p, "--to", url, "--append"), 1);
    assert_non_null(strstr(err, "purged"));
    free(err);
    after = mc_pg_counts(c);
    assert_string_equal(before, after);
    free(before);
    free(after);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refuses_a_target_with_rows),
        cmocka_unit_test(refuses_other_schemas),
        cmocka_unit_test(refuses_bad_usage),
        cmocka_unit_test(refuses_a_source_in_use),
        cmocka_unit_test(refuses_what_would_change),
        cmocka_unit_test(killed_copy_leaves_nothing),
        cmocka_unit_test(appends_into_a_store_with_rows),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
