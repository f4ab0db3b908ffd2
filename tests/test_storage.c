/*
 * test_storage.c — the store as a file and as a server, through its
 * public API (the headers in storage/): schema migrations from every
 * earlier version, refusal of newer, foreign, truncated files; several
 * processes opening one new file; recovery after a writer died; a locked
 * database; a reader deadlocking with a migration, and a PostgreSQL server
 * that goes away.  The message tree and
 * search are test_store_messages's, ratings, erasure and export
 * test_store_review's, percentiles and aggregates test_store_stats's.
 *
 * Every database is a fresh file under test_tmpdir(), or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs the suite a
 * second time so), a fresh database on the throwaway PostgreSQL server
 * (tests/pg_util.h).  Helpers shared with the other store suites are in
 * tests/storage_suite.h.  The tests about a file's bytes run
 * on SQLite only, the newer-schema and locked-store tests on both.
 * sqlite3 (libpq) is used directly only where the API deliberately cannot
 * reach: forging a file written by a newer frontdesk, holding the write
 * lock as another process would.
 */
#include "tests/pg_util.h"
#include "tests/storage_suite.h"
#include "tests/store_util.h"
#include "tests/testutil.h"

#include "storage/chats.h"
#include "storage/db.h"
#include "storage/export.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- 1. Migrations -------------------------------------------------------------- */

static void test_new_file_is_current(void **state)
{
    (void)state;
    const char *p = fresh_store("new.db");
    db *d = open_store(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    assert_int_equal(db_recovered(d), 0);
    assert_string_equal(db_path(d), p);
    /* every table answers: conversation, messages, request, rating, search */
    int64_t m = st_add_model(d, 'a', "m.gguf"), conv, cust, req;
    OK(d, db_conv_create(d, "support", "Be kind.", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Hello there, general query", &cust));
    int64_t reply = st_add_reply(d, conv, m, "Hi!");
    OK(d, db_request_begin(d, m, "local", conv, reply, 1.5, &req));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 3, .latency_ms = 10, .attempts = 1};
    OK(d, db_request_finish(d, req, &res));
    db_rating_in r = {.fields = DB_RATE_SCORE, .score = 4};
    OK(d, db_rate(d, reply, "alice", &r));
    db_conv *list;
    size_t n;
    OK(d, db_conv_list(d, "general query", 0, &list, &n));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, conv);
    assert_int_equal(list[0].n_rated, 1);
    db_convs_free(list, n);
    OK(d, db_check(d));
    db_close(d);
    db_close(NULL);

    /* reopening changes nothing */
    d = open_store(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    db_msg *msgs;
    OK(d, db_msgs_list(d, conv, false, &msgs, &n));
    assert_int_equal(n, 3);
    db_msgs_free(msgs, n);
    db_close(d);
}

/* Data of everything schema version v supports, tagged with v. */
typedef struct {
    int64_t conv, cust, reply, model, request;
} legacy;

/* A model row as schema 1 knows it (db_model_use writes columns later
 * schemas added), by SQL on the file itself. */
static int64_t legacy_model(const char *path, char digit)
{
    char hex[65], sql[400];
    memset(hex, digit, 64);
    hex[64] = 0;
    snprintf(sql, sizeof sql,
             "INSERT INTO models (key, sha256, backend, name, file_name, arch, quant, first_used, last_used)"
             " VALUES ('%s', '%s', 'local', 'legacy.gguf', 'legacy.gguf', 'llama', 'Q8_0', 1, 1)",
             hex, hex);
    if (db_is_pg_url(path)) {
        strcat(sql, " RETURNING id");
        return st_raw_int(path, sql);
    }
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    int64_t id = sqlite3_last_insert_rowid(raw);
    sqlite3_close(raw);
    return id;
}

static legacy fill_legacy(db *d, const char *path, int v)
{
    legacy L = {0};
    if (v < 1)
        return L;
    char text[128];
    snprintf(text, sizeof text, "legacy-v%d ZEBRA question\nsecond line", v);
    L.model = legacy_model(path, (char)('0' + v));
    OK(d, db_conv_create(d, "legacy", "You are a legacy bot.", &L.conv));
    OK(d, db_msg_add(d, L.conv, DB_ROLE_CUSTOMER, text, &L.cust));
    OK(d, db_reply_begin(d, L.conv, L.model, "{\"temperature\":0}", 0, &L.reply));
    snprintf(text, sizeof text, "legacy answer v%d partial", v);
    OK(d, db_reply_progress(d, L.reply, text));
    if (v < 2)
        return L; /* db_reply_end touches requests, which v1 lacks */
    snprintf(text, sizeof text, "legacy answer v%d OKAPI", v);
    OK(d, db_reply_end(d, L.reply, text, L.model));
    OK(d, db_request_begin(d, L.model, "local", L.conv, L.reply, 2.0, &L.request));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 7, .latency_ms = 123, .attempts = 1};
    OK(d, db_request_finish(d, L.request, &res));
    const char *tags[] = {"legacy"};
    db_rating_in r = {.fields = DB_RATE_SCORE | DB_RATE_THUMBS | DB_RATE_TAGS,
                      .score = 5, .thumbs = 1, .tags = tags, .n_tags = 1};
    OK(d, db_rate(d, L.reply, "old-rater", &r));
    return L;
}

static void test_migrate_every_version(void **state)
{
    (void)state;
    for (int v = 0; v < DB_SCHEMA_VERSION; v++) {
        char name[32], err[512] = "";
        snprintf(name, sizeof name, "v%d.db", v);
        const char *p = fresh_store(name);
        db *d = NULL;
        if (db_open_at(&d, p, v, err, sizeof err) != DB_OK)
            fail_msg("db_open_at(%d): %s", v, err);
        assert_int_equal(db_version(d), v);
        legacy L = fill_legacy(d, p, v);
        db_close(d);

        d = open_store(p);
        assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
        OK(d, db_check(d));
        db_conv *convs;
        size_t n;
        OK(d, db_conv_list(d, NULL, 0, &convs, &n));
        assert_int_equal(n, v >= 1 ? 1 : 0);
        db_convs_free(convs, n);
        if (v >= 1) {
            char want[128];
            db_conv c;
            OK(d, db_conv_get(d, L.conv, &c));
            snprintf(want, sizeof want, "legacy-v%d ZEBRA question", v);
            assert_string_equal(c.title, want);
            assert_string_equal(c.profile, "legacy");
            assert_string_equal(c.system_prompt, "You are a legacy bot.");
            assert_int_equal(c.n_messages, 2);
            db_conv_clear(&c);
            db_msg *msgs;
            OK(d, db_msgs_list(d, L.conv, true, &msgs, &n));
            assert_int_equal(n, 3);
            assert_int_equal(msgs[0].role, DB_ROLE_SYSTEM);
            assert_int_equal(msgs[1].id, L.cust);
            assert_int_equal(msgs[2].id, L.reply);
            assert_int_equal(msgs[2].prev_id, L.cust);
            assert_int_equal(msgs[2].model_id, L.model);
            assert_string_equal(msgs[2].sampling, "{\"temperature\":0}");
            snprintf(want, sizeof want, v >= 2 ? "legacy answer v%d OKAPI" : "legacy answer v%d partial", v);
            assert_string_equal(msgs[2].text, want);
            db_msgs_free(msgs, n);

            /* the trigram index (v3) was built over the rows before it */
            const char *queries[] = {"zebra QUESTION", want, "legacy bot"};
            for (size_t q = 0; q < 3; q++) {
                OK(d, db_conv_list(d, queries[q], 0, &convs, &n));
                if (n != 1)
                    fail_msg("v%d: search '%s' found %zu conversations", v, queries[q], n);
                assert_int_equal(convs[0].id, L.conv);
                db_convs_free(convs, n);
            }
            OK(d, db_conv_list(d, "legacy answer v9", 0, &convs, &n));
            assert_int_equal(n, 0);
            db_convs_free(convs, n);
            /* and follows text changed after the migration */
            OK(d, db_reply_end(d, L.reply, "rewritten after migration", L.model));
            OK(d, db_conv_list(d, "OKAPI", 0, &convs, &n));
            assert_int_equal(n, 0);
            db_convs_free(convs, n);
            OK(d, db_conv_list(d, "rewritten after", 0, &convs, &n));
            assert_int_equal(n, 1);
            db_convs_free(convs, n);
        }
        if (v >= 2) {
            db_rating *r;
            OK(d, db_ratings_get(d, L.reply, &r, &n));
            assert_int_equal(n, 1);
            assert_string_equal(r[0].rater, "old-rater");
            assert_int_equal(r[0].score, 5);
            assert_int_equal(r[0].thumbs, 1);
            assert_int_equal(r[0].n_tags, 1);
            assert_string_equal(r[0].tags[0], "legacy");
            db_ratings_free(r, n);
            db_request *q;
            OK(d, db_requests_for_message(d, L.reply, &q, &n));
            assert_int_equal(n, 1);
            assert_int_equal(q[0].id, L.request);
            assert_string_equal(q[0].outcome, "ok");
            assert_int_equal(q[0].gen_tokens, 7);
            assert_true(q[0].latency_ms == 123.0);
            db_requests_free(q, n);
        }
        db_close(d);
    }
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    const char *p = fresh_store("newer.db");
    char sql[256];
    /* a file from a future frontdesk, in the default (rollback) journal
     * mode; on PostgreSQL a database whose schema table says so */
    if (store_on_pg())
        snprintf(sql, sizeof sql,
                 "CREATE TABLE future (x int); INSERT INTO future VALUES (42);"
                 " CREATE TABLE frontdesk_schema (version integer NOT NULL);"
                 " INSERT INTO frontdesk_schema VALUES (%d)",
                 DB_SCHEMA_VERSION + 1);
    else
        snprintf(sql, sizeof sql,
                 "CREATE TABLE future (x); INSERT INTO future VALUES (42); PRAGMA user_version = %d",
                 DB_SCHEMA_VERSION + 1);
    sql_exec(p, sql);
    if (store_on_pg()) {
        char err[512] = "";
        db *d = (db *)1;
        assert_int_equal(db_open(&d, p, err, sizeof err), DB_NEWER);
        assert_null(d);
        assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_NEWER);
        assert_int_equal(st_raw_int(p, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 2);
        assert_int_equal(st_raw_int(p, "SELECT x FROM future"), 42);
        return;
    }
    size_t n0, n1;
    char *before = test_read_file(p, &n0);
    char err[512] = "", want[64];
    db *d = (db *)1;
    assert_int_equal(db_open(&d, p, err, sizeof err), DB_NEWER);
    assert_null(d);
    snprintf(want, sizeof want, "version %d", DB_SCHEMA_VERSION + 1);
    if (!strstr(err, want) || !strstr(err, p))
        fail_msg("message lacks '%s' or the path: %s", want, err);
    char *after = test_read_file(p, &n1);
    assert_int_equal(n0, n1);
    for (size_t i = 0; i < n0; i++)
        if (before[i] != after[i])
            fail_msg("refusing a newer file changed its bytes (first at offset %zu)", i);
    free(before);
    free(after);
    /* refused with db_open_at too, whatever version is asked for */
    assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_NEWER);
    assert_int_equal(st_raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION + 1);
    assert_int_equal(st_raw_int(p, "SELECT x FROM future"), 42);
}

static void test_not_a_database(void **state)
{
    (void)state;
    /* text files (one a lone newline, which SQLite would take for an empty
     * database), and random bytes of several sizes */
    const char *names[] = {"text.db", "newline.db", "short.db", "rand100.db", "rand4096.db", "rand70000.db"};
    const size_t sizes[] = {0, 0, 0, 100, 4096, 70000};
    st_seed(0x9e3779b97f4a7c15ull);
    for (size_t k = 0; k < 6; k++) {
        const char *p = fresh_store(names[k]);
        strbuf sb = {0};
        if (k == 0)
            for (int i = 0; i < 40; i++)
                sb_printf(&sb, "line %d: this is a customer-support note, not a database\n", i);
        else if (k == 1)
            sb_puts(&sb, "\n");
        else if (k == 2)
            for (int i = 0; i < 511; i++) /* one byte short of the smallest page */
                sb_putc(&sb, i % 64 == 63 ? '\n' : 'x');
        else
            for (size_t i = 0; i < sizes[k]; i++)
                sb_putc(&sb, (char)st_rnd());
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(sb.data, 1, sb.len, f), sb.len);
        fclose(f);
        char err[512] = "";
        db *d = (db *)1; /* must come back NULL */
        db_status s = db_open(&d, p, err, sizeof err);
        if (s != DB_CORRUPT)
            fail_msg("%s: db_open = %d (%s), want DB_CORRUPT", names[k], s, err);
        assert_null(d);
        if (!strstr(err, "not a frontdesk database") || !strstr(err, p))
            fail_msg("unclear message: %s", err);
        size_t n;
        char *after = test_read_file(p, &n);
        assert_int_equal(n, sb.len);
        assert_memory_equal(after, sb.data, n);
        free(after);
        sb_free(&sb);
    }

    /* a directory that does not exist */
    const char *p = test_path(test_tmpdir(), "no/such/dir/x.db");
    char err[512] = "";
    db *d = (db *)1;
    db_status s = db_open(&d, p, err, sizeof err);
    assert_int_not_equal(s, DB_OK);
    assert_null(d);
    if (!strstr(err, p))
        fail_msg("the message does not name the file: %s", err);
}

/* A store cut short: refused as damaged (or, if it opens,
 * failing its integrity check), never a crash. */
static void test_truncated(void **state)
{
    (void)state;
    const char *full = fresh_store("full.db");
    db *d = open_store(full);
    int64_t model = st_add_model(d, 'f', "f.gguf");
    strbuf sb = {0};
    for (int i = 0; i < 400; i++)
        sb_printf(&sb, "padding %d ", i);
    for (int k = 0; k < 12; k++) {
        int64_t conv, id, req;
        OK(d, db_conv_create(d, "", "sys", &conv));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
        id = st_add_reply(d, conv, model, sb.data);
        OK(d, db_request_begin(d, model, "local", conv, id, 0, &req));
        OK(d, db_rate(d, id, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}));
    }
    sb_free(&sb);
    db_close(d); /* the last connection: everything checkpointed into the file */
    size_t len;
    char *data = test_read_file(full, &len);
    assert_true(len >= 16 * 4096);
    const char *cut_path = test_path(test_tmpdir(), "cut.db");
    int refused = 0;
    /* odd offsets inside the first page, then every page boundary (a cut
     * inside a later page can only remove free space SQLite cannot tell
     * from zeros) */
    for (size_t cut = 1; cut < len; cut = cut < 4096 ? (cut * 2 + 1 < 4096 ? cut * 2 + 1 : 4096) : cut + 4096) {
        fresh_store("cut.db");
        FILE *f = fopen(cut_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, cut, f), cut);
        fclose(f);
        char err[512] = "";
        db_status s = db_open(&d, cut_path, err, sizeof err);
        if (s == DB_OK) {
            db_status c = db_check(d);
            if (c == DB_OK)
                fail_msg("cut at %zu of %zu: opened and passed its integrity check", cut, len);
            db_close(d);
            continue;
        }
        if (s != DB_CORRUPT || !strstr(err, "damaged"))
            fail_msg("cut at %zu: %d %s", cut, s, err);
        refused++;
    }
    assert_true(refused > 10);
    free(data);
}

/* Several processes opening a brand-new file at once: one migrates, the
 * others wait for it; every write lands. */
static void test_concurrent_open(void **state)
{
    (void)state;
    const char *p = fresh_store("concurrent.db");
    enum { PROCS = 4, WRITES = 10 };
    fflush(NULL);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            db *c = NULL;
            char err[512];
            if (db_open(&c, p, err, sizeof err) != DB_OK) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(10);
            }
            for (int k = 0; k < WRITES; k++) {
                int64_t conv, id;
                if (db_conv_create(c, "", "sys", &conv) != DB_OK ||
                    db_msg_add(c, conv, DB_ROLE_CUSTOMER, "hello from a child", &id) != DB_OK)
                    _exit(11);
            }
            db_close(c);
            _exit(0);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %d ended with status %#x", i, status);
    }
    db *d = open_store(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    db_conv *list;
    size_t n;
    OK(d, db_conv_list(d, "from a child", 0, &list, &n));
    assert_int_equal(n, PROCS * WRITES);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].n_messages, 1);
    db_convs_free(list, n);
    OK(d, db_check(d));
    db_close(d);
}

/* ---- 7. Recovery ------------------------------------------------------------------ */

static void test_recovery(void **state)
{
    (void)state;
    const char *p = fresh_store("recover.db");
    db *d = open_store(p);
    int64_t model = st_add_model(d, 'c', "c.gguf"), conv, cust;
    OK(d, db_conv_create(d, "", "sys", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "tell me a story", &cust));

    /* a writer that dies mid-generation (no connection is open across the
     * fork: SQLite's per-process lock bookkeeping must not be inherited) */
    db_close(d);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        db *c = NULL;
        char err[512];
        int64_t ids[2];
        if (db_open(&c, p, err, sizeof err) != DB_OK)
            _exit(10);
        if (db_reply_begin(c, conv, model, NULL, 0, &ids[0]) != DB_OK)
            _exit(11);
        if (db_request_begin(c, model, "local", conv, ids[0], 0, &ids[1]) != DB_OK)
            _exit(12);
        if (db_reply_progress(c, ids[0], "partial text") != DB_OK)
            _exit(13);
        if (write(pipefd[1], ids, sizeof ids) != (ssize_t)sizeof ids)
            _exit(14);
        _exit(0); /* no db_reply_end, no db_request_finish, no db_close */
    }
    close(pipefd[1]);
    int64_t ids[2] = {0, 0};
    assert_int_equal(read(pipefd[0], ids, sizeof ids), (ssize_t)sizeof ids);
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* an open that stops short of recovery (before version 2 there are no
     * requests to recover) sees it still running */
    char err[512];
    db_request *rq;
    size_t n;
    assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_OK);
    assert_int_equal(db_recovered(d), 0);
    OK(d, db_requests_for_message(d, ids[0], &rq, &n));
    assert_int_equal(n, 1);
    assert_string_equal(rq[0].outcome, "running");
    db_requests_free(rq, n);
    db_close(d);

    db *d2 = open_store(p);
    assert_int_equal(db_recovered(d2), 1);
    OK(d2, db_requests_for_message(d2, ids[0], &rq, &n));
    assert_int_equal(n, 1);
    assert_int_equal(rq[0].id, ids[1]);
    assert_string_equal(rq[0].outcome, "interrupted");
    assert_non_null(rq[0].error);
    assert_true(rq[0].finished_at >= rq[0].started_at);
    db_requests_free(rq, n);
    db_msg m;
    OK(d2, db_msg_get(d2, ids[0], &m));
    assert_string_equal(m.text, "partial text");
    assert_true(m.active);
    assert_int_equal(m.prev_id, cust);
    db_msg_clear(&m);
    /* it counts as an error; once is enough */
    db_stats s;
    OK(d2, db_stats_compute(d2, DB_WIN_ALL, db_now(), NULL, 0, &s));
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.running, 0);
    db_stats_free(&s);
    db_close(d2);
    d2 = open_store(p);
    assert_int_equal(db_recovered(d2), 0);
    db_close(d2);

    /* a request of this living process is left alone by another open */
    int64_t reply, req;
    d = open_store(p);
    OK(d, db_reply_begin(d, conv, model, NULL, ids[0], &reply));
    OK(d, db_request_begin(d, model, "local", conv, reply, 0, &req));
    d2 = open_store(p);
    assert_int_equal(db_recovered(d2), 0);
    OK(d2, db_requests_for_message(d2, reply, &rq, &n));
    assert_int_equal(n, 1);
    assert_string_equal(rq[0].outcome, "running");
    db_requests_free(rq, n);
    db_close(d2);
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 4, .latency_ms = 50, .attempts = 1};
    OK(d, db_request_finish(d, req, &res));
    OK(d, db_reply_end(d, reply, "a whole story", 0));
    OK(d, db_requests_for_message(d, reply, &rq, &n));
    assert_string_equal(rq[0].outcome, "ok");
    db_requests_free(rq, n);
    db_close(d);
}

/* ---- 9. A locked database ------------------------------------------------------ */

static void test_busy(void **state)
{
    (void)state;
    const char *p = fresh_store("busy.db");
    db *d = open_store(p);
    int64_t conv, m1, m2 = 0, reply;
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "before the lock", &m1));
    OK(d, db_reply_begin(d, conv, 0, NULL, 0, &reply));
    OK(d, db_reply_progress(d, reply, "saved before"));

    /* another writer holds the lock (as another process would; on
     * PostgreSQL the writers' advisory lock, as storage/db.c takes it) */
    sqlite3 *other = NULL;
    PGconn *pgother = NULL;
    if (store_on_pg()) {
        pgother = pg_test_connect(p);
        pg_test_exec(pgother, "BEGIN");
        free(pg_test_value(pgother, "SELECT pg_advisory_xact_lock(7380250573)"));
    } else {
        assert_int_equal(sqlite3_open(p, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    }
    db_set_busy_timeout(d, 100);
    double t0 = util_now();
    db_status s = db_msg_add(d, conv, DB_ROLE_CUSTOMER, "during the lock", &m2);
    double waited = util_now() - t0;
    assert_int_equal(s, DB_BUSY);
    if (!strstr(db_errmsg(d), "locked"))
        fail_msg("message: %s", db_errmsg(d));
    assert_true(waited >= 0.08 && waited < 3.0);
    /* PostgreSQL: one statement outside the writers' transactions takes
     * only its row's lock, so saving a streaming reply is not held up */
    assert_int_equal(db_reply_progress(d, reply, "saved during"), store_on_pg() ? DB_OK : DB_BUSY);
    assert_int_equal(db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}), DB_BUSY);
    int64_t q;
    assert_int_equal(db_request_begin(d, 0, "local", conv, reply, 0, &q), store_on_pg() ? DB_OK : DB_BUSY);
    /* readers are not blocked */
    db_msg *msgs;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 2);
    db_msgs_free(msgs, n);
    if (pgother) {
        pg_test_exec(pgother, "COMMIT");
        PQfinish(pgother);
    } else {
        assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
    }

    /* released: the same writes go through; nothing earlier was lost */
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "during the lock", &m2));
    OK(d, db_reply_progress(d, reply, "saved after"));
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 3);
    assert_int_equal(msgs[0].id, m1);
    assert_string_equal(msgs[0].text, "before the lock");
    assert_string_equal(msgs[1].text, "saved after");
    assert_int_equal(msgs[2].id, m2);
    assert_string_equal(msgs[2].text, "during the lock");
    db_msgs_free(msgs, n);
    OK(d, db_check(d));
    db_close(d);
}

/* ---- A reader during a migration (PostgreSQL) -------------------------------- */

typedef struct {
    const char *url;
    db_status st;
    int version;
    char err[512];
} open_job;

static void *open_in_thread(void *arg)
{
    open_job *j = arg;
    db *d = NULL;
    j->st = db_open(&d, j->url, j->err, sizeof j->err);
    if (j->st == DB_OK) {
        j->version = db_version(d);
        db_close(d);
    }
    return NULL;
}

/* A reader holds requests and then waits for messages while the step to
 * schema 5, having altered messages, waits for requests: a deadlock, and
 * the server aborts the step (its detector runs in whichever waited
 * longer, here the step).  The step runs again once the reader is
 * through, and the store opens at the current version. */
static void test_migration_deadlock(void **state)
{
    (void)state;
    if (!store_on_pg())
        return;
    const char *url = fresh_store("deadlock.db");
    db *d = NULL;
    char err[512];
    if (db_open_at(&d, url, 4, err, sizeof err) != DB_OK)
        fail_msg("db_open_at(4): %s", err);
    db_close(d);
    PGconn *reader = pg_test_connect(url), *watch = pg_test_connect(url);
    pg_test_exec(reader, "BEGIN; SELECT count(*) FROM requests");
    open_job j = {.url = url};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, open_in_thread, &j), 0);
    double t0 = util_now();
    for (;;) { /* until the step waits for requests */
        char *n = pg_test_value(watch, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                                       " WHERE c.relname = 'requests' AND NOT l.granted");
        bool waiting = n && strtol(n, NULL, 10) > 0;
        free(n);
        if (waiting)
            break;
        if (util_now() - t0 > 60)
            fail_msg("the migration never waited for requests");
        util_sleep(0.01);
    }
    /* the reader's wait closes the cycle; its query goes through only if
     * the step was the one aborted */
    PGresult *r = PQexec(reader, "SELECT count(*) FROM messages");
    bool step_aborted = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    PQclear(PQexec(reader, "COMMIT")); /* a rollback when the reader was the one aborted */
    assert_int_equal(pthread_join(t, NULL), 0);
    if (j.st != DB_OK)
        fail_msg("the store did not open after the deadlock: %s", j.err);
    assert_int_equal(j.version, DB_SCHEMA_VERSION);
    printf("  %s\n", step_aborted ? "the server aborted the migration step; it ran again"
                                  : "the server aborted the reader (it waited longer here)");
    PQfinish(reader);
    PQfinish(watch);
}

/* ---- 10. A PostgreSQL server that goes away ------------------------------------- */

static void test_reconnect(void **state)
{
    (void)state;
    if (!store_on_pg())
        return;
    /* a cluster of its own: the server is restarted and stopped here, and
     * other suites run beside this one on the shared one */
    assert_int_equal(pg_test_own_cluster_begin(), 0);
    const char *p = fresh_store("reconnect.db");
    db *d = open_store(p);
    int64_t conv, m1, m2;
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "before the restart", &m1));
    /* the server restarts between two statements: the next one opens the
     * connection again and goes through */
    assert_int_equal(pg_test_restart(), 0);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "after the restart", &m2));
    /* the server is away: a clear DB_GONE naming the database, nothing
     * half-written; back again: the same call goes through */
    assert_int_equal(pg_test_stop(), 0);
    int64_t m3 = 0;
    db_status s = db_msg_add(d, conv, DB_ROLE_CUSTOMER, "while away", &m3);
    assert_int_equal(s, DB_GONE);
    if (!strstr(db_errmsg(d), "cannot be reached") || !strstr(db_errmsg(d), p))
        fail_msg("message: %s", db_errmsg(d));
    assert_int_equal(pg_test_start(), 0);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "while away", &m3));
    db_msg *msgs;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 3);
    assert_string_equal(msgs[0].text, "before the restart");
    assert_string_equal(msgs[1].text, "after the restart");
    assert_string_equal(msgs[2].text, "while away");
    db_msgs_free(msgs, n);
    assert_int_equal(st_raw_int(p, "SELECT count(*) FROM messages"), 3);
    db_close(d);
    assert_int_equal(pg_test_own_cluster_end(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_is_current),
        cmocka_unit_test(test_migrate_every_version),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_not_a_database),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_concurrent_open),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_migration_deadlock), /* PostgreSQL only */
        cmocka_unit_test(test_reconnect),          /* PostgreSQL only */
    };
    /* on PostgreSQL: all but the tests of a file's bytes (a foreign or
     * truncated file, several processes creating one file) */
    static const char *const file_only[] = {"test_not_a_database", "test_truncated", "test_concurrent_open", NULL};
    return store_run_suite("storage", tests, sizeof tests / sizeof *tests, file_only, NULL, NULL);
}
