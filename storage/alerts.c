/*
 * alerts.c — alert episodes (see alerts.h): open by INSERT, close by
 * UPDATE, each a single statement, so the unique index alert_open and the
 * write lock decide which process acted.
 *
 * What this file does not do: decide whether an alert fires (app/alerts.c)
 * or tell anyone (the command of [alerts], run by app/).
 */
#include "storage/alerts.h"
#include "storage/db_internal.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

db_status db_alert_open(db *d, const char *name, double started_at, double observed_at, const char *detail,
                        bool *opened, int64_t *id)
{
    const char *what = "opening an alert episode";
    *opened = false;
    if (id)
        *id = 0;
    /* DO NOTHING: a conflict on alert_open means another process opened it. */
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO alert_episodes(name, started_at, detail)"
                                  " SELECT ?1, ?2, ?4 WHERE NOT EXISTS (SELECT 1 FROM alert_episodes"
                                  "  WHERE name = ?1 AND (started_at >= ?2 OR ended_at >= ?3))"
                                  " ON CONFLICT DO NOTHING RETURNING id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, name);
    sql_bind_double(st, 2, started_at);
    sql_bind_double(st, 3, observed_at);
    db_bind_text(st, 4, detail);
    int64_t got = 0; /* no row: not inserted */
    db_status s = db_step_id(d, st, &got, what);
    if (s == DB_OK && got > 0) {
        *opened = true;
        if (id)
            *id = got;
    }
    return s;
}

db_status db_alert_close(db *d, const char *name, double ended_at, const char *end_detail, bool *closed,
                         db_alert_episode *ep)
{
    const char *what = "closing an alert episode";
    *closed = false;
    memset(ep, 0, sizeof *ep);
    sql_stmt *st = db_prepare(d,
                                  "UPDATE alert_episodes SET ended_at = ?2, end_detail = ?3"
                                  " WHERE name = ?1 AND ended_at IS NULL AND started_at <= ?2"
                                  " RETURNING id, started_at, detail",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, name);
    sql_bind_double(st, 2, ended_at);
    db_bind_text(st, 3, end_detail);
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        ep->id = sql_column_int64(st, 0);
        ep->started_at = sql_column_double(st, 1);
        ep->detail = db_col_text(st, 2, true);
        ep->name = xstrdup(name);
        ep->ended_at = ended_at;
        ep->end_detail = end_detail ? xstrdup(end_detail) : NULL;
        rc = sql_step(st); /* at most one open row: SQL_DONE */
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_alert_episode_clear(ep);
        return db_fail(d, rc, what);
    }
    *closed = ep->name != NULL;
    return DB_OK;
}

static db_status read_episodes(db *d, bool open_only, int limit, db_alert_episode **out, size_t *n)
{
    const char *what = "reading alert episodes";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  open_only ? "SELECT id, name, started_at, 0, detail, end_detail"
                                              " FROM alert_episodes WHERE ended_at IS NULL"
                                              " ORDER BY started_at DESC, id DESC LIMIT ?1"
                                            : "SELECT id, name, started_at, coalesce(ended_at, 0), detail, end_detail"
                                              " FROM alert_episodes ORDER BY started_at DESC, id DESC LIMIT ?1",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* no limit */
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        db_alert_episode *e = &(*out)[(*n)++];
        e->id = sql_column_int64(st, 0);
        e->name = db_col_text(st, 1, false);
        e->started_at = sql_column_double(st, 2);
        e->ended_at = sql_column_double(st, 3);
        e->detail = db_col_text(st, 4, true);
        e->end_detail = db_col_text(st, 5, true);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_alert_episodes_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

db_status db_alert_open_list(db *d, db_alert_episode **out, size_t *n)
{
    return read_episodes(d, true, 0, out, n);
}

db_status db_alert_recent(db *d, int limit, db_alert_episode **out, size_t *n)
{
    return read_episodes(d, false, limit, out, n);
}

void db_alert_episode_clear(db_alert_episode *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->detail);
    free(e->end_detail);
    memset(e, 0, sizeof *e);
}

void db_alert_episodes_free(db_alert_episode *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        db_alert_episode_clear(&e[i]);
    free(e);
}
