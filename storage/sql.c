/*
 * sql.c — the statement interface of sql.h: each call goes to SQLite
 * directly, or to sql_pg.c for a PostgreSQL handle.
 */
#include "storage/sql_stmt.h"

#include "util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool db_is_pg(const db *d)
{
    return d->pg != NULL;
}

const char *db_sql_now(const db *d)
{
    return d->pg ? "extract(epoch FROM clock_timestamp())::double precision"
                 : "((julianday('now') - 2440587.5) * 86400.0)";
}

sql_stmt *db_prepare(db *d, const char *sql, const char *what)
{
    sql_stmt *st = xcalloc(1, sizeof *st);
    st->d = d;
    if (d->pg) {
        if (pg_stmt_prepare(st, sql) != SQL_OK) {
            db_failf(d, DB_ERR, "%s: cannot prepare a statement", what);
            sql_finalize(st);
            return NULL;
        }
        return st;
    }
    int rc = sqlite3_prepare_v2(d->conn, sql, -1, &st->lite, NULL);
    if (rc != SQLITE_OK) {
        db_fail(d, rc, what);
        sql_finalize(st);
        return NULL;
    }
    return st;
}

/* The first failure of a statement's binds is the one it reports. */
static int bound(sql_stmt *st, int rc)
{
    if (rc != SQL_OK && st->fail == SQL_OK)
        st->fail = rc;
    return rc;
}

int sql_bind_int(sql_stmt *st, int i, int v)
{
    return sql_bind_int64(st, i, v);
}

int sql_bind_int64(sql_stmt *st, int i, int64_t v)
{
    if (st->lite)
        return bound(st, sqlite3_bind_int64(st->lite, i, v));
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return bound(st, pg_stmt_bind(st, i, 20 /* int8 */, buf, -1, 0));
}

int sql_bind_double(sql_stmt *st, int i, double v)
{
    if (st->lite)
        return bound(st, sqlite3_bind_double(st->lite, i, v));
    char buf[32];
    snprintf(buf, sizeof buf, "%.17g", v);
    return bound(st, pg_stmt_bind(st, i, 701 /* float8 */, buf, -1, 0));
}

int sql_bind_text(sql_stmt *st, int i, const char *s)
{
    if (!s)
        return sql_bind_null(st, i);
    if (st->lite)
        return bound(st, sqlite3_bind_text(st->lite, i, s, -1, SQLITE_TRANSIENT));
    return bound(st, pg_stmt_bind(st, i, 25 /* text */, s, -1, 0));
}

int sql_bind_blob(sql_stmt *st, int i, const void *p, size_t n)
{
    if (st->lite)
        return bound(st, sqlite3_bind_blob64(st->lite, i, p, n, SQLITE_TRANSIENT));
    if (n > INT32_MAX)
        return bound(st, SQL_PG_FAIL);
    return bound(st, pg_stmt_bind(st, i, 17 /* bytea */, p, (int)n, 1));
}

int sql_bind_null(sql_stmt *st, int i)
{
    if (st->lite)
        return bound(st, sqlite3_bind_null(st->lite, i));
    return bound(st, pg_stmt_bind(st, i, 0, NULL, 0, 0));
}

int sql_step(sql_stmt *st)
{
    if (st->fail != SQL_OK)
        return st->fail;
    if (!st->lite)
        return pg_stmt_step(st);
    int rc = sqlite3_step(st->lite);
    return rc == SQLITE_ROW ? SQL_ROW : rc == SQLITE_DONE ? SQL_DONE : rc;
}

void sql_reset(sql_stmt *st)
{
    if (st->lite)
        sqlite3_reset(st->lite);
    else
        pg_stmt_clear(st);
}

void sql_finalize(sql_stmt *st)
{
    if (!st)
        return;
    if (st->lite)
        sqlite3_finalize(st->lite);
    pg_stmt_clear(st);
    for (int i = 0; i < st->n_params; i++)
        free(st->vals[i]);
    free(st->vals);
    free(st->lens);
    free(st->fmts);
    free(st->types);
    free(st->blobs);
    free(st->blob_lens);
    free(st->sql);
    free(st);
}

bool sql_column_null(sql_stmt *st, int i)
{
    if (st->lite)
        return sqlite3_column_type(st->lite, i) == SQLITE_NULL;
    return PQgetisnull(st->res, st->row, i);
}

int sql_column_int(sql_stmt *st, int i)
{
    return (int)sql_column_int64(st, i);
}

int64_t sql_column_int64(sql_stmt *st, int i)
{
    if (st->lite)
        return sqlite3_column_int64(st->lite, i);
    const char *s = PQgetvalue(st->res, st->row, i);
    if (*s == 't' || *s == 'f') /* a boolean */
        return *s == 't';
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end == '.' || *end == 'e' || *end == 'E') /* a real: truncated, as SQLite does */
        return (int64_t)strtod(s, NULL);
    return v;
}

double sql_column_double(sql_stmt *st, int i)
{
    if (st->lite)
        return sqlite3_column_double(st->lite, i);
    const char *s = PQgetvalue(st->res, st->row, i);
    if (*s == 't' || *s == 'f')
        return *s == 't';
    return strtod(s, NULL);
}

const char *sql_column_text(sql_stmt *st, int i)
{
    if (st->lite)
        return (const char *)sqlite3_column_text(st->lite, i);
    return PQgetisnull(st->res, st->row, i) ? NULL : PQgetvalue(st->res, st->row, i);
}

const void *sql_column_blob(sql_stmt *st, int i)
{
    if (st->lite)
        return sqlite3_column_blob(st->lite, i);
    size_t n;
    return pg_stmt_blob(st, i, &n);
}

int sql_column_bytes(sql_stmt *st, int i)
{
    if (st->lite)
        return sqlite3_column_bytes(st->lite, i);
    if (PQftype(st->res, i) == 17 /* bytea */) {
        size_t n = 0;
        pg_stmt_blob(st, i, &n);
        return (int)n;
    }
    return PQgetlength(st->res, st->row, i);
}

int64_t db_changes(db *d)
{
    return d->pg ? d->changes : sqlite3_changes64(d->conn);
}

int64_t db_last_id(db *d)
{
    return d->pg ? pg_last_id(d) : sqlite3_last_insert_rowid(d->conn);
}

/* ---- The helpers of db_internal.h -------------------------------------- */

int db_bind_text(sql_stmt *st, int i, const char *s)
{
    return sql_bind_text(st, i, s);
}

int db_bind_id(sql_stmt *st, int i, int64_t id)
{
    return id > 0 ? sql_bind_int64(st, i, id) : sql_bind_null(st, i);
}

char *db_col_text(sql_stmt *st, int i, bool keep_null)
{
    const char *s = sql_column_text(st, i);
    if (!s)
        return keep_null ? NULL : xstrdup("");
    return xstrndup(s, (size_t)sql_column_bytes(st, i));
}

db_status db_step_id(db *d, sql_stmt *st, int64_t *id, const char *what)
{
    int rc = sql_step(st);
    *id = 0;
    if (rc == SQL_ROW) {
        *id = sql_column_int64(st, 0);
        rc = sql_step(st);
    }
    db_status s = rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}

db_status db_step_done(db *d, sql_stmt *st, const char *what)
{
    int rc = sql_step(st);
    db_status s = (rc == SQL_DONE || rc == SQL_ROW) ? DB_OK : db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}
