/*
 * metrics.c — request rows and the dashboard's aggregates.
 *
 * An aggregate is one scan of the covering index requests_window over the
 * window's rows (no sort in SQL): counts and sums accumulate as rows
 * arrive, latencies and times to first token are collected and their
 * percentiles found by selection, O(n) rather than O(n log n).  The
 * per-minute series reuses the same values, bucketed by a counting sort.
 */
#include "storage/metrics.h"

#include "storage/db_internal.h"
#include "storage/rollup.h"
#include "util/util.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const outcome_names[] = {"running", "ok", "error", "cancelled", "timeout", "interrupted"};

const char *db_outcome_name(db_outcome o)
{
    return (unsigned)o < sizeof outcome_names / sizeof *outcome_names ? outcome_names[o] : "error";
}

db_status db_request_begin(db *d, int64_t model_id, const char *backend, int64_t conv, int64_t message_id,
                           double queue_ms, int64_t *id)
{
    const char *what = "recording the request";
    long pid;
    long long start;
    char host[256];
    db_owner(&pid, &start, host, sizeof host);
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO requests (model_id, backend, conversation_id, message_id,"
                                  " started_at, queue_ms, owner_pid, owner_start, owner_host)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                  what);
    if (!st)
        return DB_ERR;
    db_bind_id(st, 1, model_id);
    sql_bind_text(st, 2, backend);
    db_bind_id(st, 3, conv);
    db_bind_id(st, 4, message_id);
    sql_bind_double(st, 5, db_now());
    sql_bind_double(st, 6, queue_ms > 0 ? queue_ms : 0);
    sql_bind_int64(st, 7, pid);
    sql_bind_int64(st, 8, start);
    sql_bind_text(st, 9, host);
    return db_step_id(d, st, id, what);
}

static void bind_measure(sql_stmt *st, int i, double v)
{
    if (v >= 0 && isfinite(v))
        sql_bind_double(st, i, v);
    else
        sql_bind_null(st, i);
}

db_status db_request_set_queue(db *d, int64_t id, double queue_ms)
{
    const char *what = "saving the queue wait";
    sql_stmt *st = db_prepare(d, "UPDATE requests SET queue_ms = ? WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, queue_ms);
    sql_bind_int64(st, 2, id);
    return db_step_done(d, st, what);
}

db_status db_request_set_source(db *d, int64_t id, const char *source)
{
    const char *what = "saving where a request came from";
    if (strcmp(source, "traffic") && strcmp(source, "eval") && strcmp(source, "arena"))
        return db_failf(d, DB_INVALID, "%s: '%s' is not traffic, eval or arena", what, source);
    sql_stmt *st =
        db_prepare(d, "UPDATE requests SET source = ?2 WHERE id = ?1 AND outcome = 'running'", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    sql_bind_text(st, 2, source);
    return db_step_done(d, st, what);
}

/* Test-only crash point (FRONTDESK_CRASH_AFTER_REQUEST_COMMIT=1): the row's
 * finish commits on its own, unfolded, and the process ends with status
 * 99 before folding it, as a process killed between the two would. */
static bool crash_after_commit(void)
{
    const char *e = getenv("FRONTDESK_CRASH_AFTER_REQUEST_COMMIT");
    return e && !strcmp(e, "1");
}

db_status db_request_finish(db *d, int64_t id, const db_request_result *r)
{
    const char *what = "completing the request";
    if (r->outcome == DB_OUTCOME_RUNNING)
        return db_failf(d, DB_INVALID, "a finished request needs an outcome");
    bool crash = crash_after_commit();
    db_status s = crash ? DB_OK : db_begin(d, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "UPDATE requests SET finished_at = ?, outcome = ?, error = ?,"
                                  " prompt_tokens = ?, gen_tokens = ?, ttft_ms = ?, prefill_ms = ?,"
                                  " decode_ms = ?, latency_ms = ?, prefill_tps = ?, decode_tps = ?,"
                                  " attempts = ? WHERE id = ?",
                                  what);
    if (!st) {
        db_rollback(d);
        return DB_ERR;
    }
    sql_bind_double(st, 1, db_now());
    sql_bind_text(st, 2, db_outcome_name(r->outcome));
    db_bind_text(st, 3, r->error);
    if (r->prompt_tokens >= 0) /* a remote server may not say: unknown, not 0 */
        sql_bind_int(st, 4, r->prompt_tokens);
    if (r->gen_tokens >= 0)
        sql_bind_int(st, 5, r->gen_tokens);
    bind_measure(st, 6, r->gen_tokens != 0 ? r->ttft_ms : -1);
    bind_measure(st, 7, r->prefill_ms);
    bind_measure(st, 8, r->decode_ms);
    bind_measure(st, 9, r->latency_ms);
    bind_measure(st, 10, r->prefill_tps > 0 ? r->prefill_tps : -1);
    bind_measure(st, 11, r->decode_tps > 0 ? r->decode_tps : -1);
    sql_bind_int(st, 12, r->attempts > 0 ? r->attempts : 1);
    sql_bind_int64(st, 13, id);
    s = db_step_done(d, st, what);
    if (s == DB_OK && db_changes(d) == 0)
        s = db_failf(d, DB_NOTFOUND, "there is no request %lld", (long long)id);
    if (crash) {
        if (s == DB_OK)
            _exit(99);
        return s;
    }
    /* its minute's rollup, in the same transaction */
    if (s == DB_OK)
        s = rollup_fold_request(d, id);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

db_status db_requests_purge(db *d, double before, const int64_t *keep, size_t n_keep, int64_t *deleted)
{
    const char *what = "purging request rows";
    if (deleted)
        *deleted = 0;
    db_status s = db_rollup_catch_up(d, NULL);
    if (s != DB_OK || (s = db_begin(d, what)) != DB_OK)
        return s;
    int64_t blocked = 0;
    for (size_t i = 0; s == DB_OK && i < n_keep; i++) {
        sql_stmt *st = db_prepare(d, "SELECT count(*) FROM requests WHERE started_at < ? AND model_id = ?", what);
        if (!st) {
            s = DB_ERR;
            break;
        }
        sql_bind_double(st, 1, before);
        sql_bind_int64(st, 2, keep[i]);
        int rc = sql_step(st);
        if (rc == SQL_ROW)
            blocked += sql_column_int64(st, 0);
        else
            s = db_fail(d, rc, what);
        sql_finalize(st);
    }
    if (s == DB_OK && blocked)
        s = db_failf(d, DB_INVALID,
                     "%lld request row(s) to purge belong to a version in the running canary (its comparison "
                     "reads them): nothing purged; stop or finish the canary first",
                     (long long)blocked);
    sql_stmt *del = s == DB_OK ? db_prepare(d, "DELETE FROM requests WHERE started_at < ? AND folded = 1", what)
                                   : NULL;
    if (s == DB_OK && !del)
        s = DB_ERR;
    if (s == DB_OK) {
        sql_bind_double(del, 1, before);
        s = db_step_done(d, del, what);
        if (s == DB_OK && deleted)
            *deleted = db_changes(d);
    }
    if (s != DB_OK) {
        db_rollback(d);
        if (deleted)
            *deleted = 0;
        return s;
    }
    return db_commit(d, what);
}

db_status db_request_figures_purged(db *d, int64_t message_id, bool *purged)
{
    const char *what = "reading the request figures";
    *purged = false;
    sql_stmt *st = db_prepare(
        d,
        "SELECT m.model_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM requests WHERE message_id = m.id)"
        " AND m.created_at < coalesce((SELECT min(started_at) FROM requests), 1e300)"
        " AND EXISTS (SELECT 1 FROM rollups WHERE period IN (60, 3600) AND start <= m.created_at)"
        " FROM messages m WHERE m.id = ?",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, message_id);
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        *purged = sql_column_int(st, 0) != 0;
    sql_finalize(st);
    return rc == SQL_ROW || rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

static double col_measure(sql_stmt *st, int i)
{
    return sql_column_null(st, i) ? -1 : sql_column_double(st, i);
}

db_status db_requests_for_message(db *d, int64_t message_id, db_request **out, size_t *n)
{
    const char *what = "reading the request figures";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(
        d,
        "SELECT id, coalesce(model_id, 0), backend, outcome, error, started_at, coalesce(finished_at, 0),"
        " coalesce(queue_ms, 0), coalesce(prompt_tokens, -1), coalesce(gen_tokens, -1), attempts,"
        " ttft_ms, prefill_ms, decode_ms, latency_ms, prefill_tps, decode_tps"
        " FROM requests WHERE message_id = ? ORDER BY id",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, message_id);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        db_request *r = &(*out)[(*n)++];
        r->id = sql_column_int64(st, 0);
        r->model_id = sql_column_int64(st, 1);
        r->backend = db_col_text(st, 2, false);
        r->outcome = db_col_text(st, 3, false);
        r->error = db_col_text(st, 4, true);
        r->started_at = sql_column_double(st, 5);
        r->finished_at = sql_column_double(st, 6);
        r->queue_ms = sql_column_double(st, 7);
        r->prompt_tokens = sql_column_int(st, 8);
        r->gen_tokens = sql_column_int(st, 9);
        r->attempts = sql_column_int(st, 10);
        r->ttft_ms = col_measure(st, 11);
        r->prefill_ms = col_measure(st, 12);
        r->decode_ms = col_measure(st, 13);
        r->latency_ms = col_measure(st, 14);
        r->prefill_tps = col_measure(st, 15);
        r->decode_tps = col_measure(st, 16);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_requests_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

void db_requests_free(db_request *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].backend);
        free(r[i].outcome);
        free(r[i].error);
    }
    free(r);
}

/* ---- Percentiles ---------------------------------------------------------- */

/* Put the k-th smallest of v[0..n) at v[k] (Hoare's selection with a
 * median-of-three pivot); expected O(n). */
static void select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];
        double pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        /* now v[lo..j] <= pivot, v[i..hi] >= pivot, v[j+1..i-1] == pivot */
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            return;
    }
}

/* The nearest-rank p-th percentile (p in whole percent). */
static double nearest_rank(double *v, size_t n, unsigned p)
{
    size_t rank = (p * n + 99) / 100; /* ceil(p/100 · n) without rounding error */
    if (rank < 1)
        rank = 1;
    select_kth(v, n, rank - 1);
    return v[rank - 1];
}

db_pcts db_percentiles(double *v, size_t n)
{
    db_pcts p = {0};
    if (!n)
        return p;
    p.valid = true;
    /* largest first: each selection leaves the smaller values below it */
    p.p99 = nearest_rank(v, n, 99);
    p.p95 = nearest_rank(v, n, 95);
    p.p90 = nearest_rank(v, n, 90);
    p.p50 = nearest_rank(v, n, 50);
    return p;
}

/* ---- Windows ------------------------------------------------------------------ */

static const struct {
    const char *name;
    double seconds;
} windows[] = {{"1m", 60}, {"5m", 300}, {"1h", 3600}, {"24h", 86400}, {"7d", 604800}, {"30d", 2592000}, {"all", 0}};

bool db_window_parse(const char *s, db_window *w)
{
    for (size_t i = 0; i < sizeof windows / sizeof *windows; i++)
        if (!strcmp(s, windows[i].name)) {
            *w = (db_window)i;
            return true;
        }
    return false;
}

const char *db_window_name(db_window w)
{
    return windows[w].name;
}

double db_window_seconds(db_window w)
{
    return windows[w].seconds;
}

/* Values collected during the scan. */
typedef struct {
    double *v;
    int32_t *bucket; /* series bucket of each value, -1 outside the series */
    int32_t *model;  /* index into the window's model list                */
    size_t n, cap;
} values;

static void values_push(values *a, double v, int32_t bucket, int32_t model)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 1024;
        a->v = xreallocarray(a->v, a->cap, sizeof *a->v);
        a->bucket = xreallocarray(a->bucket, a->cap, sizeof *a->bucket);
        a->model = xreallocarray(a->model, a->cap, sizeof *a->model);
    }
    a->v[a->n] = v;
    a->model[a->n] = model;
    a->bucket[a->n++] = bucket;
}

static void values_free(values *a)
{
    free(a->v);
    free(a->bucket);
    free(a->model);
}

/* The index of model_id in s->models, adding it when new. */
static int32_t model_slot(db_stats *s, int64_t model_id)
{
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].model_id == model_id)
            return (int32_t)i;
    s->models = xreallocarray(s->models, s->n_models + 1, sizeof *s->models);
    memset(&s->models[s->n_models], 0, sizeof *s->models);
    s->models[s->n_models].model_id = model_id;
    return (int32_t)s->n_models++;
}

/* Per-model percentiles from the collected values (few models: one pass
 * each). */
static void model_percentiles(db_stats *s, const values *a, bool ttft)
{
    double *tmp = xmallocarray(a->n ? a->n : 1, sizeof *tmp);
    for (size_t m = 0; m < s->n_models; m++) {
        size_t k = 0;
        for (size_t i = 0; i < a->n; i++)
            if (a->model[i] == (int32_t)m)
                tmp[k++] = a->v[i];
        db_pcts p = db_percentiles(tmp, k);
        if (ttft)
            s->models[m].ttft_ms = p;
        else
            s->models[m].latency_ms = p;
    }
    free(tmp);
}

static int by_requests(const void *a, const void *b)
{
    const db_model_stats *x = a, *y = b;
    return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : 0;
}

/* Per-bucket percentiles: counting-sort the values by bucket, then select
 * within each bucket's slice.  set(i, pcts) stores bucket i's result. */
static void bucket_percentiles(const values *a, size_t n_buckets, db_minute *series, bool ttft)
{
    size_t *start = xcalloc(n_buckets + 1, sizeof *start);
    for (size_t i = 0; i < a->n; i++)
        if (a->bucket[i] >= 0)
            start[a->bucket[i] + 1]++;
    for (size_t b = 0; b < n_buckets; b++)
        start[b + 1] += start[b];
    double *sorted = xmallocarray(start[n_buckets] ? start[n_buckets] : 1, sizeof *sorted);
    size_t *fill = xmallocarray(n_buckets, sizeof *fill);
    memcpy(fill, start, n_buckets * sizeof *fill);
    for (size_t i = 0; i < a->n; i++)
        if (a->bucket[i] >= 0)
            sorted[fill[a->bucket[i]]++] = a->v[i];
    for (size_t b = 0; b < n_buckets; b++) {
        db_pcts p = db_percentiles(sorted + start[b], start[b + 1] - start[b]);
        if (ttft)
            series[b].ttft_ms = p;
        else
            series[b].latency_ms = p;
    }
    free(fill);
    free(sorted);
    free(start);
}

/* The window's edges and its empty series: whole minutes, the last one
 * holding `now`, at most 1440.  For "all", from is the earliest of
 * `first_sql`'s answer (NULL: nothing yet, so now). */
static db_status stats_setup(db *d, db_window w, double now, const char *first_sql, db_stats *out)
{
    const char *what = "computing the dashboard figures";
    memset(out, 0, sizeof *out);
    double from = w == DB_WIN_ALL ? 0 : now - db_window_seconds(w);
    if (w == DB_WIN_ALL) {
        sql_stmt *st = db_prepare(d, first_sql, what);
        if (!st)
            return DB_ERR;
        int rc = sql_step(st);
        if (rc == SQL_ROW && !sql_column_null(st, 0))
            from = sql_column_double(st, 0);
        else if (rc == SQL_ROW)
            from = now;
        sql_finalize(st);
        if (rc != SQL_ROW)
            return db_fail(d, rc, what);
    }
    out->from = from;
    out->to = now;

    /* the series: whole minutes, the last one holding `now` */
    double span = now - from;
    size_t n_buckets = (size_t)ceil(span / 60.0);
    if (n_buckets < 1)
        n_buckets = 1;
    if (n_buckets > 1440)
        n_buckets = 1440;
    double first = floor(now / 60.0) * 60.0 - (double)(n_buckets - 1) * 60.0;
    out->series = xcalloc(n_buckets, sizeof *out->series);
    out->n_series = n_buckets;
    for (size_t b = 0; b < n_buckets; b++)
        out->series[b].start = first + 60.0 * (double)b;
    return DB_OK;
}

db_status db_stats_compute_exact(db *d, db_window w, double now, const int64_t *model_ids, size_t n_models,
                                 db_stats *out)
{
    const char *what = "computing the dashboard figures";
    db_status s0 = stats_setup(d, w, now, "SELECT min(started_at) FROM requests", out);
    if (s0 != DB_OK)
        return s0;
    double from = out->from;
    size_t n_buckets = out->n_series;
    double first = out->series[0].start;

    strbuf sql = {0};
    sb_puts(&sql,
            "SELECT started_at, outcome, latency_ms, ttft_ms, prefill_tps, decode_tps, gen_tokens,"
            " coalesce(model_id, 0)"
            " FROM requests INDEXED BY requests_window WHERE started_at >= ?1 AND started_at <= ?2"
            " AND source = 'traffic'");
    if (n_models) {
        sb_puts(&sql, " AND model_id IN (");
        for (size_t i = 0; i < n_models; i++)
            sb_puts(&sql, i ? ", ?" : "?");
        sb_puts(&sql, ")");
    }
    sql_stmt *st = db_prepare(d, sql.data, what);
    sb_free(&sql);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, from);
    sql_bind_double(st, 2, now);
    for (size_t i = 0; i < n_models; i++)
        sql_bind_int64(st, 3 + (int)i, model_ids[i]);

    values lat = {0}, ttft = {0}, dec = {0};
    double prefill_sum = 0, decode_sum = 0;
    int64_t prefill_n = 0, decode_n = 0;
    double *bucket_decode = xcalloc(n_buckets, sizeof *bucket_decode);
    int64_t *bucket_decode_n = xcalloc(n_buckets, sizeof *bucket_decode_n);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        const char *oc = (const char *)sql_column_text(st, 1);
        if (!strcmp(oc, "running")) {
            out->running++;
            continue;
        }
        double t = sql_column_double(st, 0);
        int32_t b = t >= first ? (int32_t)((t - first) / 60.0) : -1;
        if (b >= (int32_t)n_buckets)
            b = (int32_t)n_buckets - 1;
        db_minute *m = b >= 0 ? &out->series[b] : NULL;
        int32_t slot = model_slot(out, sql_column_int64(st, 7));
        db_model_stats *ms = &out->models[slot];
        bool err = !strcmp(oc, "error") || !strcmp(oc, "timeout") || !strcmp(oc, "interrupted");
        out->requests++;
        out->errors += err;
        out->cancelled += !strcmp(oc, "cancelled");
        ms->requests++;
        ms->errors += err;
        int64_t tokens = sql_column_int64(st, 6);
        out->tokens_generated += tokens;
        if (m) {
            m->requests++;
            m->errors += err;
            m->tokens += tokens;
        }
        if (!sql_column_null(st, 2))
            values_push(&lat, sql_column_double(st, 2), b, slot);
        if (!sql_column_null(st, 3))
            values_push(&ttft, sql_column_double(st, 3), b, slot);
        if (!sql_column_null(st, 4)) {
            prefill_sum += sql_column_double(st, 4);
            prefill_n++;
        }
        if (!sql_column_null(st, 5)) {
            double v = sql_column_double(st, 5);
            decode_sum += v;
            decode_n++;
            values_push(&dec, v, b, slot);
            if (b >= 0) {
                bucket_decode[b] += v;
                bucket_decode_n[b]++;
            }
        }
    }
    sql_finalize(st);
    db_status s = DB_OK;
    if (rc != SQL_DONE)
        s = db_fail(d, rc, what);
    else {
        double minutes = (now - from) / 60.0;
        out->requests_per_min = (double)out->requests / (minutes > 1.0 ? minutes : 1.0);
        out->error_rate = out->requests ? (double)out->errors / (double)out->requests : 0;
        out->prefill_tps = prefill_n ? prefill_sum / (double)prefill_n : 0;
        out->decode_tps = decode_n ? decode_sum / (double)decode_n : 0;
        for (size_t b = 0; b < n_buckets; b++)
            out->series[b].decode_tps = bucket_decode_n[b] ? bucket_decode[b] / (double)bucket_decode_n[b] : 0;
        bucket_percentiles(&lat, n_buckets, out->series, false);
        bucket_percentiles(&ttft, n_buckets, out->series, true);
        model_percentiles(out, &lat, false);
        model_percentiles(out, &ttft, true);
        for (size_t m = 0; m < out->n_models; m++) {
            double sum = 0;
            size_t k = 0;
            for (size_t i = 0; i < dec.n; i++)
                if (dec.model[i] == (int32_t)m) {
                    sum += dec.v[i];
                    k++;
                }
            out->models[m].decode_tps = k ? sum / (double)k : 0;
        }
        if (out->n_models > 1) /* qsort(NULL, 0, ...) is undefined */
            qsort(out->models, out->n_models, sizeof *out->models, by_requests);
        out->latency_ms = db_percentiles(lat.v, lat.n);
        out->ttft_ms = db_percentiles(ttft.v, ttft.n);
    }
    free(bucket_decode);
    free(bucket_decode_n);
    values_free(&lat);
    values_free(&ttft);
    values_free(&dec);
    if (s != DB_OK)
        db_stats_free(out);
    return s;
}

db_status db_stats_compute(db *d, db_window w, double now, const int64_t *model_ids, size_t n_models,
                           db_stats *out)
{
    const char *what = "computing the dashboard figures";
    memset(out, 0, sizeof *out);
    /* a row left unfolded (its process died before folding) is folded
     * first, so it never hides from the figures */
    db_status s = db_rollup_catch_up(d, NULL);
    if (s == DB_OK)
        s = stats_setup(d, w, now,
                        "SELECT min(t) FROM (SELECT min(start) t FROM rollups WHERE period = 60"
                        " UNION ALL SELECT min(start) FROM rollups WHERE period = 3600"
                        " UNION ALL SELECT min(started_at) FROM requests WHERE outcome = 'running') AS firsts",
                        out);
    if (s == DB_OK)
        s = rollup_stats(d, model_ids, n_models, out);
    if (s == DB_OK) {
        strbuf sql = {0};
        sb_puts(&sql, "SELECT count(*) FROM requests INDEXED BY requests_running WHERE outcome = 'running'"
                      " AND started_at >= ?1 AND started_at <= ?2 AND source = 'traffic'");
        if (n_models) {
            sb_puts(&sql, " AND model_id IN (");
            for (size_t i = 0; i < n_models; i++)
                sb_puts(&sql, i ? ", ?" : "?");
            sb_puts(&sql, ")");
        }
        sql_stmt *st = db_prepare(d, sql.data, what);
        sb_free(&sql);
        if (!st)
            s = DB_ERR;
        else {
            sql_bind_double(st, 1, out->from);
            sql_bind_double(st, 2, out->to);
            for (size_t i = 0; i < n_models; i++)
                sql_bind_int64(st, 3 + (int)i, model_ids[i]);
            int rc = sql_step(st);
            if (rc == SQL_ROW)
                out->running = sql_column_int64(st, 0);
            else
                s = db_fail(d, rc, what);
            sql_finalize(st);
        }
    }
    if (s != DB_OK) {
        db_stats_free(out);
        return s;
    }
    double minutes = (out->to - out->from) / 60.0;
    out->requests_per_min = (double)out->requests / (minutes > 1.0 ? minutes : 1.0);
    return DB_OK;
}

void db_stats_free(db_stats *s)
{
    if (!s)
        return;
    free(s->series);
    free(s->models);
    memset(s, 0, sizeof *s);
}

db_status db_recent_errors(db *d, int limit, db_error_row **out, size_t *n)
{
    const char *what = "reading the latest errors";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT started_at, coalesce(model_id, 0), outcome, error FROM requests"
                                  " WHERE outcome IN ('error', 'timeout', 'interrupted')"
                                  " ORDER BY started_at DESC LIMIT ?",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int(st, 1, limit);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        db_error_row *r = &(*out)[(*n)++];
        r->at = sql_column_double(st, 0);
        r->model_id = sql_column_int64(st, 1);
        r->outcome = db_col_text(st, 2, false);
        r->error = db_col_text(st, 3, false);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_error_rows_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

void db_error_rows_free(db_error_row *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].outcome);
        free(r[i].error);
    }
    free(r);
}

db_status db_thumbs_down_rate(db *d, double from, double *rate, int64_t *n)
{
    const char *what = "counting thumbs";
    sql_stmt *st = db_prepare(d,
                                  "SELECT count(*), coalesce(sum(CASE WHEN r.thumbs < 0 THEN 1 ELSE 0 END), 0) FROM ratings r"
                                  " JOIN messages m ON m.id = r.message_id"
                                  " WHERE r.thumbs != 0 AND m.role = 'agent' AND m.created_at >= ?",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, from);
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        *n = sql_column_int64(st, 0);
        *rate = *n ? (double)sql_column_int64(st, 1) / (double)*n : 0;
    }
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}
