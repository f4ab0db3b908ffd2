/*
 * sql_stmt.h — the statement behind sql.h, shared by its two halves:
 * sql.c (the interface, SQLite) and sql_pg.c (PostgreSQL).  Private to
 * those two files.
 */
#ifndef FRONTDESK_SQL_STMT_H
#define FRONTDESK_SQL_STMT_H

#include "storage/db_internal.h"

struct sql_stmt {
    db *d;
    int fail;            /* a bind that failed: what sql_step returns */
    sqlite3_stmt *lite;  /* SQLite */
    /* PostgreSQL: the statement with $N parameters, the values bound
     * (text, or bytes for a blob), and the result being read. */
    char *sql;
    int n_params;
    char **vals;
    int *lens, *fmts;
    Oid *types;
    PGresult *res;
    int row, n_rows;
    bool ran;
    unsigned char **blobs; /* decoded bytea of the current row, per column */
    size_t *blob_lens;
};

/* sql_pg.c: prepare (translate ? and ?N to $N), step, and free. */
int pg_stmt_prepare(sql_stmt *st, const char *sql);
int pg_stmt_step(sql_stmt *st);
void pg_stmt_clear(sql_stmt *st); /* the result and decoded blobs */
int pg_stmt_bind(sql_stmt *st, int i, Oid type, const char *val, int len, int fmt);
const void *pg_stmt_blob(sql_stmt *st, int i, size_t *len);
int64_t pg_last_id(db *d);

#endif
