/*
 * sql.h — the one statement interface every storage/ file uses, whichever
 * database sits behind a handle: SQLite (a file path) or PostgreSQL (a
 * postgresql:// URL, through libpq).  Nothing outside storage/ sees it.
 *
 * SQL is written once, in the dialect both accept: `?` and `?N`
 * parameters (numbered $N for PostgreSQL), INSERT ... ON CONFLICT,
 * RETURNING, CASE instead of two-argument max/min, integer comparisons
 * instead of bare integer truth values.  Where the two must differ
 * (full-text search, maintenance), a file asks db_is_pg().
 *
 * A bind that fails (SQLite out of memory) is remembered by the statement
 * and returned by the next sql_step, so no caller can store a row without
 * a value it meant to bind.
 */
#ifndef FRONTDESK_SQL_H
#define FRONTDESK_SQL_H

#include "storage/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sql_stmt sql_stmt;

/* sql_step's answers; anything else is a failure to hand to db_fail(). */
enum { SQL_OK = 0, SQL_ROW = 100, SQL_DONE = 101 };

/* Prepare sql (NULL and a recorded error on failure). */
sql_stmt *db_prepare(db *d, const char *sql, const char *what);

/* Parameters count from 1.  Text and blobs are copied; NULL text binds
 * NULL.  Each returns SQL_OK or the failure that sql_step will return. */
int sql_bind_int(sql_stmt *st, int i, int v);
int sql_bind_int64(sql_stmt *st, int i, int64_t v);
int sql_bind_double(sql_stmt *st, int i, double v);
int sql_bind_text(sql_stmt *st, int i, const char *s);
int sql_bind_blob(sql_stmt *st, int i, const void *p, size_t n);
int sql_bind_null(sql_stmt *st, int i);

/* The next row (SQL_ROW), the end (SQL_DONE), or a failure code. */
int sql_step(sql_stmt *st);
/* Run again from the start, keeping the bindings. */
void sql_reset(sql_stmt *st);
void sql_finalize(sql_stmt *st); /* accepts NULL */

/* Column i (from 0) of the current row.  Text is NULL for NULL and valid
 * until the next step, reset or finalize. */
bool sql_column_null(sql_stmt *st, int i);
int sql_column_int(sql_stmt *st, int i);
int64_t sql_column_int64(sql_stmt *st, int i);
double sql_column_double(sql_stmt *st, int i);
const char *sql_column_text(sql_stmt *st, int i);
const void *sql_column_blob(sql_stmt *st, int i);
int sql_column_bytes(sql_stmt *st, int i);

/* Rows changed by the last INSERT/UPDATE/DELETE on this handle. */
int64_t db_changes(db *d);
/* The id the last INSERT on this handle gave its row. */
int64_t db_last_id(db *d);
/* Whether the handle is a PostgreSQL connection. */
bool db_is_pg(const db *d);
/* "now" in seconds since the epoch by the database's own clock, as an SQL
 * expression (PostgreSQL: the server's clock; SQLite: this machine's). */
const char *db_sql_now(const db *d);

#endif
