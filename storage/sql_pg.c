/*
 * sql_pg.c — the PostgreSQL half of the statement interface (libpq):
 * connecting, translating parameters, running a statement and reading
 * its rows, and what a failure means.
 *
 * Every statement runs with PQexecParams: parameters travel apart from
 * the SQL (never spliced into it), typed by what the caller bound (int8,
 * float8, text, bytea), results come back as text.  A connection that
 * dropped is re-opened before the next statement that runs outside a
 * transaction; inside one, the transaction is lost with the connection
 * and the caller hears DB_GONE.
 */
#include "storage/sql_stmt.h"

#include "util/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Failures ------------------------------------------------------------- */

static void note_result(db *d, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    snprintf(d->pg_state, sizeof d->pg_state, "%s", state ? state : "");
    if (!msg || !*msg)
        msg = PQerrorMessage(d->pg);
    snprintf(d->pg_msg, sizeof d->pg_msg, "%s", msg && *msg ? msg : "no answer from the server");
    /* libpq's messages end in a newline */
    size_t n = strlen(d->pg_msg);
    while (n && (d->pg_msg[n - 1] == '\n' || d->pg_msg[n - 1] == ' '))
        d->pg_msg[--n] = 0;
}

static bool gone(db *d)
{
    const char *s = d->pg_state;
    return PQstatus(d->pg) != CONNECTION_OK || !*s || !strncmp(s, "08", 2) || !strncmp(s, "57P", 3);
}

db_status pg_fail(db *d, const char *what)
{
    const char *s = d->pg_state;
    if (gone(d))
        return db_failf(d, DB_GONE,
                        "%s: the database server of %s cannot be reached (%s); nothing already saved was lost",
                        what, d->path, d->pg_msg);
    if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03") || !strcmp(s, "57014"))
        return db_failf(d, DB_BUSY,
                        "%s: the database %s is locked by another writer (gave up after waiting); "
                        "nothing was lost, try again",
                        what, d->path);
    if (!strncmp(s, "53", 2))
        return db_failf(d, DB_FULL, "%s: the database server of %s is out of space (%s); nothing already saved was lost",
                        what, d->path, d->pg_msg);
    if (!strncmp(s, "XX", 2))
        return db_failf(d, DB_CORRUPT, "%s: %s reports damage (%s)", what, d->path, d->pg_msg);
    if (!strcmp(s, "42501"))
        return db_failf(d, DB_ERR, "%s: cannot write %s (%s)", what, d->path, d->pg_msg);
    return db_failf(d, DB_ERR, "%s: %s (%s)", what, d->pg_msg, d->path);
}

/* ---- Connecting ------------------------------------------------------------- */

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (e.g. "extension already exists") are not the user's business */
}

/* Whether a statement outside a transaction failed because the
 * connection was gone: the server shutting down (57P0x) or closing it,
 * or the network.  Inside a transaction the transaction died with it, so
 * nothing can be run again there. */
static bool lost(db *d, const PGresult *r)
{
    if (d->in_tx || PQresultStatus(r) != PGRES_FATAL_ERROR)
        return false;
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return PQstatus(d->pg) != CONNECTION_OK || (state && (!strncmp(state, "57P0", 4) || !strncmp(state, "08", 2)));
}

/* A connection that dropped is opened again, outside a transaction only. */
static bool ready(db *d)
{
    if (PQstatus(d->pg) == CONNECTION_OK)
        return true;
    if (d->in_tx)
        return false;
    PQreset(d->pg);
    if (PQstatus(d->pg) != CONNECTION_OK)
        return false;
    PGresult *r = PQexec(d->pg, "SET lock_timeout = 5000; SET client_min_messages = warning");
    PQclear(r);
    return PQstatus(d->pg) == CONNECTION_OK;
}

db_status pg_connect(db *d)
{
    d->pg = PQconnectdb(d->path);
    if (!d->pg)
        return db_failf(d, DB_ERR, "connecting to %s: out of memory", d->path);
    PQsetNoticeProcessor(d->pg, quiet, NULL);
    if (PQstatus(d->pg) != CONNECTION_OK) {
        note_result(d, NULL);
        return db_failf(d, DB_GONE, "connecting to the database %s: %s", d->path, d->pg_msg);
    }
    return pg_exec(d, "SET lock_timeout = 5000; SET client_min_messages = warning", "setting up the connection");
}

db_status pg_exec(db *d, const char *sql, const char *what)
{
    if (!ready(d)) {
        note_result(d, NULL);
        return pg_fail(d, what);
    }
    PGresult *r = PQexec(d->pg, sql);
    if (lost(d, r) && ready(d)) { /* see pg_stmt_step */
        PQclear(r);
        r = PQexec(d->pg, sql);
    }
    ExecStatusType t = PQresultStatus(r);
    db_status s = DB_OK;
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
        note_result(d, r);
        s = pg_fail(d, what);
    }
    PQclear(r);
    return s;
}

/* ---- Statements ------------------------------------------------------------- */

/* The two words of SQLite's that a statement may use and PostgreSQL
 * spells otherwise: an index hint (INDEXED BY name; PostgreSQL's planner
 * takes no hints) and instr(), which is strpos() there. */
static const char *sqlite_word(const char *p, strbuf *out)
{
    if (!strncmp(p, "INDEXED BY ", 11)) {
        p += 11;
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        return p;
    }
    if (!strncmp(p, "instr(", 6)) {
        sb_puts(out, "strpos(");
        return p + 6;
    }
    return NULL;
}

/* ? and ?N become $N (a bare ? takes one more than the largest number so
 * far, as in SQLite); quoted text and identifiers are left alone. */
int pg_stmt_prepare(sql_stmt *st, const char *sql)
{
    strbuf out = {0};
    int top = 0;
    for (const char *p = sql; *p;) {
        const char *after = (p == sql || !isalnum((unsigned char)p[-1])) ? sqlite_word(p, &out) : NULL;
        if (after)
            p = after;
        else if (*p == '\'' || *p == '"') {
            const char *q = strchr(p + 1, *p);
            size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
            sb_append(&out, p, n);
            p += n;
        } else if (*p == '?') {
            p++;
            int n = 0;
            if (isdigit((unsigned char)*p)) {
                while (isdigit((unsigned char)*p))
                    n = n * 10 + (*p++ - '0');
            } else
                n = top + 1;
            if (n > top)
                top = n;
            sb_printf(&out, "$%d", n);
        } else
            sb_append(&out, p++, 1);
    }
    st->sql = out.data ? out.data : xstrdup("");
    st->n_params = top;
    if (top) {
        st->vals = xcalloc((size_t)top, sizeof *st->vals);
        st->lens = xcalloc((size_t)top, sizeof *st->lens);
        st->fmts = xcalloc((size_t)top, sizeof *st->fmts);
        st->types = xcalloc((size_t)top, sizeof *st->types);
    }
    return SQL_OK;
}

int pg_stmt_bind(sql_stmt *st, int i, Oid type, const char *val, int len, int fmt)
{
    if (i < 1 || i > st->n_params)
        return SQL_PG_FAIL;
    pg_stmt_clear(st);
    free(st->vals[i - 1]);
    st->vals[i - 1] = NULL;
    if (val) {
        size_t n = len < 0 ? strlen(val) : (size_t)len;
        st->vals[i - 1] = xmalloc(n + 1);
        memcpy(st->vals[i - 1], val, n);
        st->vals[i - 1][n] = 0;
        len = (int)n;
    }
    st->types[i - 1] = type;
    st->lens[i - 1] = len;
    st->fmts[i - 1] = fmt;
    return SQL_OK;
}

void pg_stmt_clear(sql_stmt *st)
{
    if (st->blobs) {
        int n = st->res ? PQnfields(st->res) : 0;
        for (int i = 0; i < n; i++)
            PQfreemem(st->blobs[i]);
        free(st->blobs);
        free(st->blob_lens);
        st->blobs = NULL;
        st->blob_lens = NULL;
    }
    PQclear(st->res);
    st->res = NULL;
    st->ran = false;
    st->row = -1;
    st->n_rows = 0;
}

static void drop_blobs(sql_stmt *st)
{
    if (!st->blobs)
        return;
    int n = PQnfields(st->res);
    for (int i = 0; i < n; i++) {
        PQfreemem(st->blobs[i]);
        st->blobs[i] = NULL;
    }
}

static PGresult *run(sql_stmt *st)
{
    return PQexecParams(st->d->pg, st->sql, st->n_params, st->types, (const char *const *)st->vals, st->lens,
                        st->fmts, 0);
}

int pg_stmt_step(sql_stmt *st)
{
    db *d = st->d;
    if (!st->ran) {
        if (!ready(d)) {
            note_result(d, NULL);
            return SQL_PG_FAIL;
        }
        PGresult *r = run(st);
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (lost(d, r)) {
            /* the connection was found closed (a restart, a network cut)
             * when the statement was sent: outside a transaction it is run
             * once more on a new connection */
            PQclear(r);
            if (!ready(d)) {
                note_result(d, NULL);
                return SQL_PG_FAIL;
            }
            r = run(st);
            state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        }
        if (state && (!strcmp(state, "42P18") || !strcmp(state, "42P08"))) {
            /* a NULL whose type nothing in the statement tells (`? IS
             * NULL`): say it is text and ask again */
            PQclear(r);
            for (int i = 0; i < st->n_params; i++)
                if (!st->vals[i] && !st->types[i])
                    st->types[i] = 25;
            r = run(st);
        }
        ExecStatusType t = PQresultStatus(r);
        /* A statement of its own (not inside db_begin's transaction) that
         * lost a serialization race or a deadlock is run again: nothing
         * of it was applied.  (Inside a transaction the whole transaction
         * is lost; its caller hears DB_BUSY.) */
        for (int tries = 0; tries < 5 && !d->in_tx && (t == PGRES_FATAL_ERROR) &&
                            (state = PQresultErrorField(r, PG_DIAG_SQLSTATE)) &&
                            (!strcmp(state, "40001") || !strcmp(state, "40P01"));
             tries++) {
            PQclear(r);
            r = run(st);
            t = PQresultStatus(r);
        }
        if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
            note_result(d, r);
            PQclear(r);
            return SQL_PG_FAIL;
        }
        const char *n = PQcmdTuples(r);
        d->changes = *n ? strtoll(n, NULL, 10) : 0;
        st->res = r;
        st->ran = true;
        st->row = -1;
        st->n_rows = t == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    }
    drop_blobs(st);
    if (st->row + 1 < st->n_rows) {
        st->row++;
        return SQL_ROW;
    }
    st->row = st->n_rows; /* past the end */
    return SQL_DONE;
}

const void *pg_stmt_blob(sql_stmt *st, int i, size_t *len)
{
    *len = 0;
    if (PQgetisnull(st->res, st->row, i))
        return NULL;
    int n = PQnfields(st->res);
    if (!st->blobs) {
        st->blobs = xcalloc((size_t)n, sizeof *st->blobs);
        st->blob_lens = xcalloc((size_t)n, sizeof *st->blob_lens);
    }
    if (!st->blobs[i])
        st->blobs[i] = PQunescapeBytea((const unsigned char *)PQgetvalue(st->res, st->row, i), &st->blob_lens[i]);
    *len = st->blobs[i] ? st->blob_lens[i] : 0;
    return st->blobs[i];
}

int64_t pg_last_id(db *d)
{
    PGresult *r = PQexec(d->pg, "SELECT lastval()");
    int64_t id = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return id;
}
