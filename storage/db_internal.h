/*
 * db_internal.h — what the storage/ files share and nobody else sees: the
 * connection behind a db handle and the statement helpers that translate
 * SQLite result codes into db_status with a message.
 */
#ifndef FRONTDESK_DB_INTERNAL_H
#define FRONTDESK_DB_INTERNAL_H

#include "storage/db.h"
#include "storage/metrics.h"
#include "storage/sql.h"

#include <libpq-fe.h>
#include <sqlite3.h>

struct db {
    sqlite3 *conn;   /* SQLite: the connection; NULL on PostgreSQL */
    PGconn *pg;      /* PostgreSQL: the connection; NULL on SQLite */
    char *path;      /* the file, or the URL (never holds a password) */
    int recovered;
    double rollup_compacted_at; /* when this handle last compacted (rollup.c) */
    double heartbeat_s, lapse_s;
    int schema;      /* the version migrated to at open */
    bool in_tx;      /* PostgreSQL: inside db_begin .. db_commit */
    int64_t changes; /* PostgreSQL: rows the last statement changed */
    char pg_state[6];   /* PostgreSQL: SQLSTATE of the last failure ("" none) */
    char pg_msg[256];   /* ... and its message */
    char err[512];
};

/* The failure code sql_step returns on PostgreSQL (d->pg_state says
 * which). */
#define SQL_PG_FAIL (-1)

/* Record the database's error for rc (what = the action, e.g. "saving a
 * rating") and return the matching db_status. */
db_status db_fail(db *d, int rc, const char *what);
/* Record a message of our own and return st. */
db_status db_failf(db *d, db_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Run SQL without results (one or more statements). */
db_status db_exec(db *d, const char *sql, const char *what);

/* Begin a write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN
 * and a transaction-scoped advisory lock, so writers take turns as they
 * do on SQLite) / COMMIT / ROLLBACK. */
db_status db_begin(db *d, const char *what);
db_status db_commit(db *d, const char *what);
void db_rollback(db *d);

/* Bind text that may be NULL; bind an id that is NULL when <= 0. */
int db_bind_text(sql_stmt *st, int i, const char *s);
int db_bind_id(sql_stmt *st, int i, int64_t id);
/* A copy of column i's text ("" never NULL unless the value is NULL and
 * keep_null is set). */
char *db_col_text(sql_stmt *st, int i, bool keep_null);

/* schema.c: refuse a store newer than this program (before anything is
 * written), and migrate to version target. */
db_status db_check_version(db *d);
db_status db_refuse_newer(db *d, int v);
db_status db_migrate(db *d, int target);

/* PostgreSQL (sql_pg.c): connect, and the pieces of sql.c that differ. */
db_status pg_connect(db *d);
db_status pg_exec(db *d, const char *sql, const char *what);
db_status pg_fail(db *d, const char *what);

/* The owner a running request records: this process's id, its start
 * time (ticks since boot, so a reused pid is told apart) and the host. */
void db_owner(long *pid, long long *start, char *host, size_t hostlen);

/* Step an INSERT ... RETURNING id: *id gets the new row's id (0 when the
 * insert did nothing); finalize it; translate. */
db_status db_step_id(db *d, sql_stmt *st, int64_t *id, const char *what);
/* The schema version the handle was opened at (read once, at open). */
int db_schema_of(const db *d);

/* Step a statement that returns no rows; finalize it; translate. */
db_status db_step_done(db *d, sql_stmt *st, const char *what);

/* Rollups (rollup.c).  Fold request id into its minute (inside the
 * caller's transaction; nothing when it is running or already folded). */
db_status rollup_fold_request(db *d, int64_t id);
/* Fill out's totals, percentiles, per-model figures and series from the
 * rollup rows whose start lies in [out->from, out->to]; out->series must
 * already hold its minutes (series[0].start the first). */
db_status rollup_stats(db *d, const int64_t *model_ids, size_t n_models, db_stats *out);

#endif
