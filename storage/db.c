/*
 * db.c — opening the store (a SQLite file, or a PostgreSQL database by
 * URL), what its failures mean in words, and transactions.
 *
 * The schema and its migrations are in schema.c, the statement interface
 * in sql.c / sql_pg.c, recovery of requests whose writer is gone in
 * liveness.c; what this file does not do: any query of the tables
 * (chats.c, ratings.c, metrics.c, export.c, ...).
 */
#include "storage/db_internal.h"
#include "storage/rollup.h"

#include "util/private.h"
#include "util/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- Helpers shared by storage/ ---------------------------------------- */

db_status db_failf(db *d, db_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    return st;
}

db_status db_fail(db *d, int rc, const char *what)
{
    if (d->pg)
        return pg_fail(d, what);
    const char *msg = d->conn ? sqlite3_errmsg(d->conn) : sqlite3_errstr(rc);
    int sys = d->conn ? sqlite3_system_errno(d->conn) : 0;
    if ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
        rc = SQLITE_FULL;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return db_failf(d, DB_BUSY,
                        "%s: the database %s is locked by another process (gave up after waiting); "
                        "nothing was lost, try again",
                        what, d->path);
    case SQLITE_FULL:
        return db_failf(d, DB_FULL, "%s: the disk holding %s is full; nothing already saved was lost",
                        what, d->path);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return db_failf(d, DB_CORRUPT, "%s: %s is not a frontdesk database or is damaged (%s)", what,
                        d->path, msg);
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
        return db_failf(d, DB_ERR, "%s: cannot write %s (%s)", what, d->path, msg);
    case SQLITE_IOERR:
        if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_FSYNC)
            return db_failf(d, DB_FULL, "%s: writing %s failed (%s; is the disk full?)", what, d->path,
                            msg);
        return db_failf(d, DB_ERR, "%s: I/O error on %s (%s)", what, d->path, msg);
    default:
        return db_failf(d, DB_ERR, "%s: %s (%s)", what, msg, d->path);
    }
}

db_status db_exec(db *d, const char *sql, const char *what)
{
    if (d->pg)
        return pg_exec(d, sql, what);
    int rc = sqlite3_exec(d->conn, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_OK : db_fail(d, rc, what);
}

/* On PostgreSQL writers take turns through one transaction-scoped
 * advisory lock, as SQLite's BEGIN IMMEDIATE makes them do: each
 * operation's reads and writes then see no other writer in between,
 * whichever database holds them. */
#define WRITER_LOCK "SELECT pg_advisory_xact_lock(7380250573)"

db_status db_begin(db *d, const char *what)
{
    if (!d->pg)
        return db_exec(d, "BEGIN IMMEDIATE", what);
    db_status s = db_exec(d, "BEGIN", what);
    if (s != DB_OK)
        return s;
    d->in_tx = true;
    if ((s = db_exec(d, WRITER_LOCK, what)) != DB_OK)
        db_rollback(d);
    return s;
}

db_status db_commit(db *d, const char *what)
{
    db_status st = db_exec(d, "COMMIT", what);
    if (st != DB_OK)
        db_rollback(d);
    d->in_tx = false;
    return st;
}

void db_rollback(db *d)
{
    if (d->pg) {
        if (d->in_tx)
            PQclear(PQexec(d->pg, "ROLLBACK"));
        d->in_tx = false;
    } else if (!sqlite3_get_autocommit(d->conn))
        sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
}

double db_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *db_format_time(double t, char *buf, size_t size)
{
    time_t sec = (time_t)t;
    int ms = (int)((t - (double)sec) * 1000.0);
    if (ms < 0)
        ms = 0;
    if (ms > 999)
        ms = 999;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

/* ---- Open / close ---------------------------------------------------------- */

static db_status open_conn(db *d)
{
    /* SQLite takes a one-byte file for an empty database and writes over
     * it; no database file is shorter than the smallest page (512). */
    struct stat sb;
    if (stat(d->path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 && sb.st_size < 512)
        return db_failf(d, DB_CORRUPT,
                        "opening the database: %s is not a frontdesk database or is damaged "
                        "(%lld bytes)",
                        d->path, (long long)sb.st_size);
    /* A new database file is made here, with the private mode (util/
     * private.h), not by SQLite, which would make it 0644 less the umask;
     * SQLite gives its -wal and -shm files the database file's mode. */
    if (*d->path && strcmp(d->path, ":memory:") && priv_touch(d->path) != 0) {
        int e = errno;
        return db_failf(d, e == ENOSPC || e == EDQUOT ? DB_FULL : DB_ERR, "creating the database %s: %s", d->path,
                        strerror(e));
    }
    /* A path is a path: SQLite built with SQLITE_USE_URI (Debian's is)
     * would read "file:x.db?mode=ro" as a URI, so a relative one gets "./". */
    char *file = NULL;
    if (!strncmp(d->path, "file:", 5)) {
        size_t n = strlen(d->path) + 3;
        file = xmalloc(n);
        snprintf(file, n, "./%s", d->path);
    }
    int rc = sqlite3_open_v2(file ? file : d->path, &d->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    free(file);
    if (rc != SQLITE_OK)
        return db_fail(d, rc, "opening the database");
    sqlite3_extended_result_codes(d->conn, 1);
    sqlite3_busy_timeout(d->conn, 5000);
    /* Reading the schema first tells a non-database file apart early. */
    db_status st = db_exec(d, "SELECT count(*) FROM sqlite_schema", "opening the database");
    if (st != DB_OK)
        return st;
    /* A newer schema is refused before anything is written: turning on WAL
     * below would already rewrite the file's header. */
    if ((st = db_check_version(d)) != DB_OK)
        return st;
    /* Switching a new file to WAL needs an exclusive lock and SQLite does
     * not wait for it (no busy handler): when several processes open a
     * brand-new file at once, retry for up to the busy timeout. */
    for (int tries = 0;; tries++) {
        sql_stmt *wal = db_prepare(d, "PRAGMA journal_mode = WAL", "turning on WAL");
        if (!wal)
            return DB_ERR;
        rc = sql_step(wal);
        sql_finalize(wal);
        if ((rc & 0xff) != SQLITE_BUSY || tries >= 500)
            break;
        sqlite3_sleep(10);
    }
    if (rc != SQL_ROW && rc != SQL_DONE)
        return db_fail(d, rc, "turning on WAL");
    return db_exec(d,
                   "PRAGMA foreign_keys = ON;"
                   "PRAGMA synchronous = NORMAL;"
                   "PRAGMA secure_delete = ON;",
                   "setting up the connection");
}

db_status db_open_at(db **out, const char *path, int version, char *err, size_t errlen)
{
    *out = NULL;
    db *d = xcalloc(1, sizeof *d);
    d->path = xstrdup(path);
    d->heartbeat_s = 5;
    d->lapse_s = 30;
    db_status st = db_is_pg_url(path) ? pg_connect(d) : open_conn(d);
    if (st == DB_OK && d->pg)
        st = db_check_version(d);
    if (st == DB_OK)
        st = db_migrate(d, version);
    if (st == DB_OK)
        d->schema = db_version(d);
    if (st == DB_OK && version >= 2) /* before 2 there are no requests */
        st = db_recover(d, NULL);
    /* rows marked interrupted just now, or left unfolded by a process
     * that died between finishing a request and folding it */
    if (st == DB_OK && version >= 6)
        st = db_rollup_catch_up(d, NULL);
    if (st != DB_OK) {
        util_errf(err, errlen, "%s", d->err);
        db_close(d);
        return st;
    }
    *out = d;
    return DB_OK;
}

db_status db_open(db **out, const char *path, char *err, size_t errlen)
{
    return db_open_at(out, path, DB_SCHEMA_VERSION, err, errlen);
}

void db_close(db *d)
{
    if (!d)
        return;
    if (d->pg)
        PQfinish(d->pg);
    else
        sqlite3_close_v2(d->conn);
    free(d->path);
    free(d);
}

const char *db_errmsg(const db *d)
{
    return d->err;
}

const char *db_path(const db *d)
{
    return d->path;
}

int db_schema_of(const db *d)
{
    return d->schema;
}

int db_recovered(const db *d)
{
    return d->recovered;
}

void db_set_busy_timeout(db *d, int ms)
{
    if (d->pg) {
        char sql[64];
        snprintf(sql, sizeof sql, "SET lock_timeout = %d", ms > 0 ? ms : 1);
        db_exec(d, sql, "setting the lock timeout");
    } else
        sqlite3_busy_timeout(d->conn, ms);
}

bool db_is_pg_url(const char *s)
{
    return !strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11);
}

db_status db_check(db *d)
{
    if (d->pg) /* the server keeps its own files sound; a query proves it answers */
        return db_exec(d, "SELECT 1", "checking the database");
    sql_stmt *st = db_prepare(d, "PRAGMA integrity_check", "checking the database");
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc != SQL_ROW)
        s = db_fail(d, rc, "checking the database");
    else if (strcmp((const char *)sql_column_text(st, 0), "ok") != 0)
        s = db_failf(d, DB_CORRUPT, "%s failed its integrity check: %s", d->path,
                     (const char *)sql_column_text(st, 0));
    sql_finalize(st);
    return s;
}
