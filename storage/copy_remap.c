/*
 * copy_remap.c — appending a store into one that holds rows (copy.h,
 * `frontdesk migrate --append`): where the source's ids go, and what
 * cannot be merged.
 *
 * Every table's ids move past the target's largest (id + off), and every
 * id that points at them with them (the columns come from the source's
 * foreign keys, copy.c); a model whose key (SHA-256, or URL and name) the
 * target already has becomes the target's model; the target's deployment
 * stays (the source's history is appended).  Refused: both stores with an
 * open alert episode of the same name (at most one may be open), and a
 * source whose rollups count requests whose rows were purged (rollups are
 * not copied when appending: the target folds the copied requests into
 * its own, which merges them exactly, so a purged request's figures would
 * be lost).
 */
#include "storage/copy_internal.h"

#include "util/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void remap_free(remap *m)
{
    free(m->msrc);
    free(m->mdst);
    free(m->mnew);
    memset(m, 0, sizeof *m);
}

static long model_at(const remap *m, int64_t id)
{
    size_t lo = 0, hi = m->nm;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->msrc[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->nm && m->msrc[lo] == id ? (long)lo : -1;
}

int64_t remap_id(const remap *m, int ref, int64_t v)
{
    if (!m->on || ref < 0 || ref == T_DEPLOYMENT)
        return v;
    if (ref == T_MODELS) {
        long i = model_at(m, v);
        return i < 0 ? v : m->mdst[i];
    }
    return v + m->off[ref];
}

bool remap_model_copied(const remap *m, int64_t id)
{
    long i = model_at(m, id);
    return !m->on || i < 0 || m->mnew[i];
}

/* Models: the source's, in id order, matched by key against the target's. */
static db_status match_models(db *from, db *to, remap *m, db_copy_report *out)
{
    const char *what = "matching the models by key";
    sql_stmt *src = db_prepare(from, "SELECT id, key FROM models ORDER BY id", what);
    sql_stmt *dst = src ? db_prepare(to, "SELECT id FROM models WHERE key = ?", what) : NULL;
    if (!dst) {
        sql_finalize(src);
        return copy_failed(out, DB_ERR, src ? to : from, what);
    }
    db_status s = DB_OK;
    int rc;
    while (s == DB_OK && (rc = sql_step(src)) == SQL_ROW) {
        int64_t id = sql_column_int64(src, 0);
        m->msrc = xrealloc(m->msrc, (m->nm + 1) * sizeof *m->msrc);
        m->mdst = xrealloc(m->mdst, (m->nm + 1) * sizeof *m->mdst);
        m->mnew = xrealloc(m->mnew, (m->nm + 1) * sizeof *m->mnew);
        sql_reset(dst);
        sql_bind_text(dst, 1, sql_column_text(src, 1));
        int drc = sql_step(dst);
        if (drc == SQL_ROW) {
            m->mdst[m->nm] = sql_column_int64(dst, 0);
            m->mnew[m->nm] = false;
        } else if (drc == SQL_DONE) {
            m->mdst[m->nm] = id + m->off[T_MODELS];
            m->mnew[m->nm] = true;
        } else
            s = copy_failed(out, db_fail(to, drc, what), to, what);
        m->msrc[m->nm++] = id;
    }
    if (s == DB_OK && rc != SQL_DONE)
        s = copy_failed(out, db_fail(from, rc, what), from, what);
    sql_finalize(src);
    sql_finalize(dst);
    return s;
}

/* At most one open episode per alert name, in the merged store too. */
static db_status check_alerts(db *from, db *to, db_copy_report *out)
{
    const char *what = "comparing the open alerts";
    sql_stmt *src = db_prepare(from, "SELECT name FROM alert_episodes WHERE ended_at IS NULL ORDER BY name", what);
    sql_stmt *dst =
        src ? db_prepare(to, "SELECT count(*) FROM alert_episodes WHERE ended_at IS NULL AND name = ?", what) : NULL;
    if (!dst) {
        sql_finalize(src);
        return copy_failed(out, DB_ERR, src ? to : from, what);
    }
    db_status s = DB_OK;
    int rc;
    while (s == DB_OK && (rc = sql_step(src)) == SQL_ROW) {
        sql_reset(dst);
        sql_bind_text(dst, 1, sql_column_text(src, 0));
        int drc = sql_step(dst);
        if (drc != SQL_ROW)
            s = copy_failed(out, db_fail(to, drc, what), to, what);
        else if (sql_column_int64(dst, 0))
            s = copy_failf(out, DB_INVALID,
                           "both stores have an open \"%s\" alert episode and at most one may be open; "
                           "let one end (frontdesk stats --check) and append again (nothing was copied)",
                           sql_column_text(src, 0));
    }
    if (s == DB_OK && rc != SQL_DONE)
        s = copy_failed(out, db_fail(from, rc, what), from, what);
    sql_finalize(src);
    sql_finalize(dst);
    return s;
}

/* Every finished request of the source is still a row (none purged), so
 * folding the copied rows gives the target every figure. */
static db_status check_not_purged(db *from, db_copy_report *out)
{
    int64_t folded, rows;
    const char *what = "comparing the source's rollups with its requests";
    db_status s = copy_query_int(from, "SELECT coalesce(sum(requests), 0) FROM rollups", &folded, out, what);
    if (s == DB_OK)
        s = copy_query_int(from, "SELECT count(*) FROM requests WHERE outcome != 'running'", &rows, out, what);
    if (s == DB_OK && folded != rows)
        s = copy_failf(out, DB_INVALID,
                       "the source's rollups count %" PRId64 " requests but it holds %" PRId64
                       " request rows (some were purged with purge --requests-older-than): appending rebuilds "
                       "the figures from the rows, so those would be lost; nothing was copied",
                       folded, rows);
    return s;
}

db_status remap_build(db *from, db *to, const table *tabs, remap *m, db_copy_report *out)
{
    memset(m, 0, sizeof *m);
    m->on = true;
    db_status s = DB_OK;
    for (int i = 0; s == DB_OK && i < DB_COPY_TABLES; i++) {
        if (!tabs[i].serial || i == T_DEPLOYMENT)
            continue;
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT coalesce(max(\"id\"), 0) FROM \"%s\"", tabs[i].name);
        s = copy_query_int(to, sql, &m->off[i], out, "reading the target's ids");
    }
    int64_t deployments = 0;
    if (s == DB_OK)
        s = copy_query_int(to, "SELECT count(*) FROM deployment", &deployments, out, "reading the target's deployment");
    m->keep_deployment = deployments > 0;
    if (s == DB_OK)
        s = match_models(from, to, m, out);
    if (s == DB_OK)
        s = check_alerts(from, to, out);
    if (s == DB_OK)
        s = check_not_purged(from, out);
    return s;
}
