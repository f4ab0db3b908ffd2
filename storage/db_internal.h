/*
 * db_internal.h — what the storage/ files share and nobody else sees: the
 * connection behind a db handle and the statement helpers that translate
 * SQLite result codes into db_status with a message.
 */
#ifndef FRONTDESK_DB_INTERNAL_H
#define FRONTDESK_DB_INTERNAL_H

#include "storage/db.h"
#include "storage/metrics.h"

#include <sqlite3.h>

struct db {
    sqlite3 *conn;
    char *path;
    int recovered;
    double rollup_compacted_at; /* when this handle last compacted (rollup.c) */
    char err[512];
};

/* Record SQLite's error for rc (what = the action, e.g. "saving a
 * rating") and return the matching db_status. */
db_status db_fail(db *d, int rc, const char *what);
/* Record a message of our own and return st. */
db_status db_failf(db *d, db_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepare sql (NULL and a recorded error on failure). */
sqlite3_stmt *db_prepare(db *d, const char *sql, const char *what);
/* Run SQL without results (one or more statements). */
db_status db_exec(db *d, const char *sql, const char *what);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
db_status db_begin(db *d, const char *what);
db_status db_commit(db *d, const char *what);
void db_rollback(db *d);

/* Bind text that may be NULL; bind an id that is NULL when <= 0. */
int db_bind_text(sqlite3_stmt *st, int i, const char *s);
int db_bind_id(sqlite3_stmt *st, int i, int64_t id);
/* A copy of column i's text ("" never NULL unless the value is NULL and
 * keep_null is set). */
char *db_col_text(sqlite3_stmt *st, int i, bool keep_null);

/* The owner a running request records: this process's id, its start
 * time (ticks since boot, so a reused pid is told apart) and the host. */
void db_owner(long *pid, long long *start, char *host, size_t hostlen);

/* Step a statement that returns no rows; finalize it; translate. */
db_status db_step_done(db *d, sqlite3_stmt *st, const char *what);

/* Rollups (rollup.c).  Fold request id into its minute (inside the
 * caller's transaction; nothing when it is running or already folded). */
db_status rollup_fold_request(db *d, int64_t id);
/* Fill out's totals, percentiles, per-model figures and series from the
 * rollup rows whose start lies in [out->from, out->to]; out->series must
 * already hold its minutes (series[0].start the first). */
db_status rollup_stats(db *d, const int64_t *model_ids, size_t n_models, db_stats *out);

#endif
