/*
 * store_util.c — see store_util.h.
 */
#include "store_util.h"

#include "pg_util.h"
#include "testutil.h"

#include "storage/chats.h"
#include "util/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fd_run(char **out, char **err, const char *const *args)
{
    const char *argv[40] = {test_bin()};
    size_t n = 1;
    for (; args[n - 1]; n++) {
        assert_true(n < 39);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    char *o = NULL, *e = NULL;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

const char *fresh_db(const char *name)
{
    const char *p = test_path(test_tmpdir(), name);
    unlink(p);
    return p;
}

db *open_store(const char *path)
{
    db *d = NULL;
    char msg[512] = "";
    db_status s = db_open(&d, path, msg, sizeof msg);
    if (s != DB_OK)
        fail_msg("db_open(%s) = %d: %s", path, s, msg);
    assert_non_null(d);
    return d;
}

int64_t store_model(db *d, char digit, const char *name, const char *file)
{
    char hex[65];
    memset(hex, digit, 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = name, .file_name = file, .arch = "llama", .quant = "Q8_0"};
    int64_t id;
    OK(d, db_model_use(d, &m, &id));
    return id;
}

void sql_exec(const char *path, const char *sql)
{
    if (db_is_pg_url(path)) {
        PGconn *c = pg_test_connect(path);
        pg_test_exec(c, sql);
        PQfinish(c);
        return;
    }
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    char *msg = NULL;
    if (sqlite3_exec(raw, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(raw);
}

struct sql_conn {
    sqlite3 *lite;
    PGconn *pg;
};

sql_conn *sql_connect(const char *path)
{
    sql_conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    if (db_is_pg_url(path))
        c->pg = pg_test_connect(path);
    else {
        if (sqlite3_open(path, &c->lite) != SQLITE_OK)
            fail_msg("open %s: %s", path, sqlite3_errmsg(c->lite));
        sqlite3_busy_timeout(c->lite, 5000);
    }
    return c;
}

void sql_disconnect(sql_conn *c)
{
    if (!c)
        return;
    if (c->pg)
        PQfinish(c->pg);
    sqlite3_close(c->lite);
    free(c);
}

void sql_conn_exec(sql_conn *c, const char *sql)
{
    if (c->pg) {
        pg_test_exec(c->pg, sql);
        return;
    }
    char *msg = NULL;
    if (sqlite3_exec(c->lite, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}

size_t sql_conn_nums(sql_conn *c, const char *sql, double *out, size_t max)
{
    size_t n = 0;
    if (c->pg) {
        PGresult *r = PQexec(c->pg, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(c->pg));
        if (PQntuples(r) < 1)
            fail_msg("%s: no row", sql);
        for (; n < max && (int)n < PQnfields(r); n++) {
            const char *t = PQgetisnull(r, 0, (int)n) ? NULL : PQgetvalue(r, 0, (int)n);
            char *end = NULL;
            out[n] = t ? strtod(t, &end) : 0;
            if (t && (end == t || *end))
                fail_msg("%s: column %zu, %s, is not a number", sql, n, t);
        }
        PQclear(r);
        return n;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->lite, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c->lite));
    if (sqlite3_step(st) != SQLITE_ROW)
        fail_msg("%s: no row (%s)", sql, sqlite3_errmsg(c->lite));
    for (; n < max && (int)n < sqlite3_column_count(st); n++)
        out[n] = sqlite3_column_double(st, (int)n);
    sqlite3_finalize(st);
    return n;
}

size_t sql_nums(const char *path, const char *sql, double *out, size_t max)
{
    sql_conn *c = sql_connect(path);
    size_t n = sql_conn_nums(c, sql, out, max);
    sql_disconnect(c);
    return n;
}

double sql_num(const char *path, const char *sql)
{
    double v = 0;
    sql_nums(path, sql, &v, 1);
    return v;
}

char *sql_join(const char *path, const char *sql, const char *sep)
{
    strbuf out = {0};
    sb_puts(&out, "");
    if (db_is_pg_url(path)) {
        PGconn *c = pg_test_connect(path);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fail_msg("%s: %s", sql, PQerrorMessage(c));
        for (int i = 0; i < PQntuples(r); i++)
            sb_printf(&out, "%s%s", i ? sep : "", PQgetisnull(r, i, 0) ? "(null)" : PQgetvalue(r, i, 0));
        PQclear(r);
        PQfinish(c);
        return out.data;
    }
    sqlite3 *raw;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    if (sqlite3_prepare_v2(raw, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(raw));
    int rc;
    for (int i = 0; (rc = sqlite3_step(st)) == SQLITE_ROW; i++) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        sb_printf(&out, "%s%s", i ? sep : "", t ? (const char *)t : "(null)");
    }
    if (rc != SQLITE_DONE)
        fail_msg("%s: %s", sql, sqlite3_errmsg(raw));
    sqlite3_finalize(st);
    sqlite3_close(raw);
    return out.data;
}

/* ---- Both backends --------------------------------------------------------- */

bool store_on_pg(void)
{
    const char *b = getenv("FRONTDESK_TEST_BACKEND");
    return b && !strcmp(b, "postgresql");
}

const char *fresh_store(const char *name)
{
    if (store_on_pg()) {
        static char *urls[256]; /* kept until the suite ends (the oldest freed past 256) */
        static size_t n;
        char *u = pg_test_new_db(name);
        free(urls[n % 256]);
        urls[n++ % 256] = u;
        return u;
    }
    const char *p = test_path(test_tmpdir(), name);
    char side[1024];
    unlink(p);
    snprintf(side, sizeof side, "%s-wal", p);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", p);
    unlink(side);
    return p;
}

int store_run_suite(const char *name, const struct CMUnitTest *tests, size_t n, const char *const *sqlite_only,
                    int (*setup)(void **), int (*teardown)(void **))
{
    if (!store_on_pg())
        return test_exit(_cmocka_run_group_tests(name, tests, n, setup, teardown));
    struct CMUnitTest *run = calloc(n ? n : 1, sizeof *run);
    assert_non_null(run);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool only = false;
        for (size_t j = 0; sqlite_only && sqlite_only[j]; j++)
            only |= !strcmp(tests[i].name, sqlite_only[j]);
        if (!only)
            run[k++] = tests[i];
    }
    char label[200];
    snprintf(label, sizeof label, "%s [postgresql]", name);
    int failures = _cmocka_run_group_tests(label, run, k, setup, teardown);
    free(run);
    return test_exit(failures);
}
