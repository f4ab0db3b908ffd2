/*
 * copy.h — copying a whole store into another (`frontdesk migrate`): a
 * SQLite store into PostgreSQL, or into another SQLite file.
 *
 * db_copy copies every table of the schema (not SQLite's search index
 * messages_fts: the target keeps its own, by trigger on SQLite, by a
 * pg_trgm index on PostgreSQL) in foreign-key order, keeping every id,
 * inside one transaction on the target; on PostgreSQL each id's sequence
 * is then set past the largest id copied, so the next row numbers on.
 * The source is read in one read transaction, so it is copied as of one
 * moment.  Before committing, every table is verified: on both sides its
 * row count and a SHA-256 over its rows in primary-key order, each value
 * rendered canonically (integers in decimal, reals with %.17g, text and
 * blobs as bytes with their length, NULL distinct), all read back through
 * the same statement interface.  Any difference rolls everything back and
 * names the table: the target is left as it was.
 *
 * Refused, with nothing written (DB_INVALID unless said otherwise): a
 * source that is not SQLite; either side at a schema other than this
 * program's (DB_SCHEMA_VERSION); a source holding a table this file does
 * not know, or a value whose type is not its column's (it would not
 * survive the copy unchanged); a source in use (a request or an
 * evaluation run still running: DB_BUSY); a target that holds any row,
 * unless `append`.
 *
 * Appending (a target that holds rows, and `append`): every table's ids
 * move past the target's largest, with every id that points at them; a
 * model the target has under the same key (SHA-256, or URL and name) is
 * the target's; the target's deployment stays, the source's history is
 * added; cached file hashes the target has stay; the rollups are not
 * copied: the requests go in unfolded and are folded into the target's
 * own rollups after the commit (db_rollup_catch_up), which merges them
 * exactly.  Verified as above, except that the checksum is the sum of
 * each row's SHA-256 (order-free: the order of remapped keys may change),
 * the source's rows taken as they went in (ids moved) and the target's
 * rows those past its earlier ids; cached file hashes by count.  Refused:
 * both with an open alert episode of the same name; a source whose
 * rollups count requests whose rows were purged (copy_remap.c).
 */
#ifndef FRONTDESK_COPY_H
#define FRONTDESK_COPY_H

#include "storage/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tables copied, at DB_SCHEMA_VERSION. */
#define DB_COPY_TABLES 15

typedef struct {
    const char *table; /* its name (static) */
    int64_t rows;      /* rows copied; after verification, on either side */
    int64_t kept;      /* rows of the source not copied as rows (appending:
                        * models the target has under the same key, file
                        * hashes it has cached, its deployment, the
                        * rollups, rebuilt from the requests) */
    char sha256[65];   /* the checksum both sides agreed on ("" until
                        * verified, and for rows not checksummed) */
} db_copy_table;

typedef struct {
    /* In (may be NULL): called after each table is copied (verified
     * false) and after each is verified (verified true). */
    void (*progress)(void *arg, const db_copy_table *t, bool verified);
    void *arg;
    /* Out: the tables in the order copied, the total, the time taken. */
    db_copy_table tables[DB_COPY_TABLES];
    size_t n;
    int64_t rows;
    bool appended;    /* the target held rows: appended (--append) */
    int64_t refolded; /* appending: requests folded into the target's rollups */
    double seconds;
    char err[640]; /* why it failed, naming the store or table */
} db_copy_report;

/* Copy everything from `from` (a SQLite store) into `to` (PostgreSQL or
 * SQLite, empty), as the file comment says.  DB_OK, or a failure with
 * out->err saying why; the target then holds exactly what it held before. */
db_status db_copy(db *from, db *to, bool append, db_copy_report *out);

/* The schema version of the SQLite file at path, read without writing
 * anything (db_open would migrate an older file and create a missing
 * one): DB_NOTFOUND when there is no such file, DB_CORRUPT when it is not
 * a database; err says which. */
db_status db_peek_version(const char *path, int *version, char *err, size_t errlen);

#endif
