/*
 * versions.c — one version's traffic over a window (see versions.h): two
 * scans, replies then requests.
 */
#include "storage/versions.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void push(double **v, size_t *n, double x)
{
    if ((*n & (*n - 1)) == 0) /* grow at powers of two */
        *v = xreallocarray(*v, *n ? *n * 2 : 8, sizeof **v);
    (*v)[(*n)++] = x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Widen the version's first/last use to take in t. */
static void note_use(db_version_sample *out, double t)
{
    if (!out->first_used || t < out->first_used)
        out->first_used = t;
    if (t > out->last_used)
        out->last_used = t;
}

static db_status scan_replies(db *d, int64_t model_id, double from, double to, double low_conf,
                              db_version_sample *out, const char *what)
{
    sql_stmt *st = db_prepare(
        d,
        "SELECT m.logprob_mean,"
        " (SELECT min(r.thumbs) FROM ratings r WHERE r.message_id = m.id AND r.thumbs != 0),"
        " (SELECT avg(r.score) FROM ratings r WHERE r.message_id = m.id AND r.score IS NOT NULL),"
        " m.created_at"
        " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.role = 'agent' AND m.model_id = ?1 AND m.created_at >= ?2 AND m.created_at <= ?3"
        "  AND m.text != '' AND coalesce(c.arm, '') != 'pinned'",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, model_id);
    sql_bind_double(st, 2, from);
    sql_bind_double(st, 3, to);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        out->replies++;
        if (!sql_column_null(st, 0)) {
            out->with_confidence++;
            out->low_confidence += sql_column_double(st, 0) < low_conf;
        }
        if (!sql_column_null(st, 1)) {
            if (sql_column_int(st, 1) < 0)
                out->thumbs_down++;
            else
                out->thumbs_up++;
        }
        if (!sql_column_null(st, 2))
            push(&out->scores, &out->n_scores, sql_column_double(st, 2));
        note_use(out, sql_column_double(st, 3));
    }
    sql_finalize(st);
    return rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

static db_status scan_requests(db *d, int64_t model_id, double from, double to, db_version_sample *out,
                               const char *what)
{
    sql_stmt *st = db_prepare(
        d,
        "SELECT q.outcome, q.latency_ms, q.gen_tokens, q.ttft_ms, q.decode_tps, q.started_at"
        " FROM requests q LEFT JOIN conversations c ON c.id = q.conversation_id"
        " WHERE q.model_id = ?1 AND q.started_at >= ?2 AND q.started_at <= ?3"
        "  AND q.outcome NOT IN ('running', 'cancelled') AND q.source = 'traffic'"
        "  AND coalesce(c.arm, '') != 'pinned'",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, model_id);
    sql_bind_double(st, 2, from);
    sql_bind_double(st, 3, to);
    double *lat = NULL;
    size_t n_lat = 0;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        out->requests++;
        const char *oc = (const char *)sql_column_text(st, 0);
        if (strcmp(oc, "ok")) {
            out->errors++;
            continue;
        }
        bool has_lat = !sql_column_null(st, 1);
        double latency = sql_column_double(st, 1);
        int gen = !sql_column_null(st, 2) ? sql_column_int(st, 2) : 0;
        if (has_lat) {
            push(&lat, &n_lat, latency);
            if (gen > 0)
                push(&out->ms_per_token, &out->n_ms_per_token, latency / gen);
        }
        if (!sql_column_null(st, 3))
            push(&out->ttft_ms, &out->n_ttft, sql_column_double(st, 3));
        if (!sql_column_null(st, 4) && sql_column_double(st, 4) > 0)
            push(&out->decode_tps, &out->n_decode_tps, sql_column_double(st, 4));
        note_use(out, sql_column_double(st, 5));
    }
    sql_finalize(st);
    out->latency_p95_ms = NAN;
    if (n_lat) {
        qsort(lat, n_lat, sizeof *lat, cmp_double);
        size_t rank = (size_t)ceil(0.95 * (double)n_lat);
        out->latency_p95_ms = lat[rank ? rank - 1 : 0];
    }
    free(lat);
    return rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

db_status db_version_sample_get(db *d, int64_t model_id, double from, double to, double low_conf,
                                db_version_sample *out)
{
    const char *what = "reading a version's figures";
    memset(out, 0, sizeof *out);
    db_status s = scan_replies(d, model_id, from, to, low_conf, out, what);
    if (s == DB_OK)
        s = scan_requests(d, model_id, from, to, out, what);
    if (s != DB_OK)
        db_version_sample_free(out);
    return s;
}

void db_version_sample_free(db_version_sample *s)
{
    if (!s)
        return;
    free(s->scores);
    free(s->ms_per_token);
    free(s->ttft_ms);
    free(s->decode_tps);
    memset(s, 0, sizeof *s);
}

db_status db_confidence_by_model(db *d, double from, double to, double low_conf, db_model_confidence **out,
                                 size_t *n)
{
    const char *what = "reading replies' confidence";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT model_id, count(*), sum(CASE WHEN logprob_mean < ?3 THEN 1 ELSE 0 END) FROM messages"
                                  " INDEXED BY messages_replies_time"
                                  " WHERE role = 'agent' AND created_at >= ?1 AND created_at <= ?2"
                                  "  AND logprob_mean IS NOT NULL AND model_id IS NOT NULL"
                                  " GROUP BY model_id ORDER BY count(*) DESC, model_id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, from);
    sql_bind_double(st, 2, to);
    sql_bind_double(st, 3, low_conf);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        (*out)[(*n)++] = (db_model_confidence){.model_id = sql_column_int64(st, 0),
                                               .with_confidence = sql_column_int64(st, 1),
                                               .low_confidence = sql_column_int64(st, 2)};
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}
