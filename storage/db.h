/*
 * db.h — the frontdesk database: one SQLite file shared by every frontdesk
 * process (an agent chatting, a reviewer rating, a dashboard reading).
 *
 * Opening applies the schema by numbered migrations (PRAGMA user_version),
 * turns on WAL, foreign keys and a busy timeout, and marks requests left
 * "running" by a process that no longer exists as interrupted.  A file
 * whose schema is newer than this program knows is refused.
 *
 * A handle is one SQLite connection: use it from one thread at a time (a
 * UI thread and a generation worker each open their own).  Every call
 * returns a db_status; on failure db_errmsg() says what went wrong in
 * words, naming the file.  Writes are short transactions, so nothing
 * already committed is ever lost by a later failure.
 *
 * The rest of the store's API is in chats.h (models, conversations,
 * messages, search, erasure), ratings.h, metrics.h (requests and
 * aggregates) and export.h.  Only storage/ includes sqlite3.h.
 */
#ifndef FRONTDESK_DB_H
#define FRONTDESK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DB_OK = 0,
    DB_ERR = -1,      /* anything else (I/O error, permissions, ...)       */
    DB_BUSY = -2,     /* locked by another process beyond the busy timeout */
    DB_FULL = -3,     /* the disk (or a size limit) is full                */
    DB_CORRUPT = -4,  /* not a database, or a damaged one                  */
    DB_NEWER = -5,    /* schema newer than this program                    */
    DB_NOTFOUND = -6, /* no such conversation / message / model            */
    DB_INVALID = -7,  /* an argument out of range (a score of 6, ...)      */
    DB_GONE = -8,     /* the database server cannot be reached (PostgreSQL) */
} db_status;

typedef struct db db;

/* The newest schema version this program knows. */
#define DB_SCHEMA_VERSION 8

/* Open (creating if needed) the database at path, or connect to the
 * PostgreSQL database a postgresql:// or postgres:// URL names (libpq;
 * the password from ~/.pgpass or PGPASSWORD).  On failure *out is NULL
 * and err holds the reason.  The busy timeout is 5 s. */
db_status db_open(db **out, const char *path, char *err, size_t errlen);

/* Like db_open, but migrate no further than `version` (tests use it to
 * build files of every earlier schema). */
db_status db_open_at(db **out, const char *path, int version, char *err, size_t errlen);

void db_close(db *d); /* accepts NULL */

/* The message of the last failure on this handle. */
const char *db_errmsg(const db *d);
const char *db_path(const db *d);
/* The schema version of the open file. */
int db_version(db *d);
/* Requests marked interrupted when this handle was opened. */
int db_recovered(const db *d);

/* Wait at most ms milliseconds for a lock (default 5000). */
void db_set_busy_timeout(db *d, int ms);

/* Whether s names a PostgreSQL database (postgresql:// or postgres://). */
bool db_is_pg_url(const char *s);

/* Liveness of running requests across machines: a process writing a
 * reply stamps its request's heartbeat_at every heartbeat_s seconds (the
 * database's clock); a running request whose last sign of life is older
 * than lapse_s is marked interrupted by anyone (db_recover).  A request
 * of this host whose process is gone is marked at once.  Defaults 5, 30. */
void db_set_heartbeat(db *d, double heartbeat_s, double lapse_s);
/* What every handle opened from now on starts with, so that the recovery
 * db_open runs already judges lapses by it (app/: the configuration's;
 * call it before any thread opens a handle). */
void db_set_heartbeat_defaults(double heartbeat_s, double lapse_s);
double db_heartbeat_s(const db *d);
/* Stamp heartbeat_at on every running request this process owns. */
db_status db_heartbeat(db *d);
/* Mark lapsed and orphaned running requests (and evaluation runs)
 * interrupted; *marked (may be NULL) gets how many.  Run at open and by
 * every dashboard refresh. */
db_status db_recover(db *d, int *marked);

/* This process's host identity: $FRONTDESK_HOST when set, else the host
 * name. */
const char *db_host_identity(void);

/* PRAGMA integrity_check: DB_OK when the file is sound. */
db_status db_check(db *d);

/* Seconds since the Unix epoch, with sub-millisecond resolution: the unit
 * of every time stored. */
double db_now(void);

/* "2026-11-24T16:18:01.123Z" into buf (at least 32 bytes). */
const char *db_format_time(double t, char *buf, size_t size);

#endif
