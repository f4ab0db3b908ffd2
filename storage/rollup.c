/*
 * rollup.c — folding finished requests into per-minute rollup rows,
 * compacting old minutes into hours, and reading them back (totals for
 * Prometheus; the dashboard's figures for metrics.c).
 *
 * Folding accumulates rows in memory, keyed like a rollup row, then
 * merges each key into its stored row (read, add, write back): one
 * request or a hundred thousand cost a few rollup writes per key.  Every
 * fold runs inside a write transaction that also marks the rows folded,
 * so two processes catching up at once fold each row once.
 *
 * The two blobs of a rollup row:
 *   hist  byte 1 (the format), then for each measure in the order latency
 *         ms, ttft ms, prefill tok/s, decode tok/s, generated tokens:
 *         varint(section length), a sketch in sketch.h's byte form
 *   le    byte 1, then 55 varints: latency counts per rollup_le_seconds
 *         bound (21: the last above every bound), ttft the same (21),
 *         generated tokens per rollup_le_tokens bound (13)
 *
 * What it does not do: decide when the dashboard refreshes, or format for
 * Prometheus (app/).
 */
#include "storage/rollup.h"

#include "storage/db_internal.h"
#include "storage/metrics.h"
#include "storage/sketch.h"
#include "util/util.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double rollup_le_seconds[ROLLUP_N_LE_SECONDS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,  2.5, 5,
                                                       10,    15,   20,    30,   45,  60,   90,  120, 180, 300};
const double rollup_le_tokens[ROLLUP_N_LE_TOKENS] = {1, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

enum { M_LATENCY, M_TTFT, M_PREFILL, M_DECODE, M_TOKENS, N_MEASURES };
enum {
    LE_LATENCY = 0,
    LE_TTFT = ROLLUP_N_LE_SECONDS + 1,
    LE_TOKENS = 2 * (ROLLUP_N_LE_SECONDS + 1),
    N_LE = 2 * (ROLLUP_N_LE_SECONDS + 1) + ROLLUP_N_LE_TOKENS + 1,
};
#define BLOB_FORMAT 1
#define FOLD_BATCH 250000
#define MINUTE_KEEP_S (48 * 3600.0)

/* One rollup row being built: its key, counts, sums, sketches. */
typedef struct {
    int period;
    double start;
    int64_t model_id;
    char *arm, *source, *backend, *outcome;
    int64_t requests, gen_tokens, prompt_tokens;
    int64_t n[4];   /* latency, ttft, prefill, decode: values known */
    double sum[4];
    sketch sk[N_MEASURES];
    int64_t le[N_LE];
} agg;

/* The keys met so far, with a hash index (open addressing). */
typedef struct {
    agg *items;
    size_t n, cap;
    size_t *slots; /* index + 1; 0 empty */
    size_t n_slots;
} agg_table;

static uint64_t hash_key(int period, double start, int64_t model, const char *const s[4])
{
    uint64_t h = 1469598103934665603ull;
    int64_t nums[3] = {period, (int64_t)start, model};
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 8; b++) {
            h ^= (uint64_t)(nums[i] >> (8 * b)) & 0xff;
            h *= 1099511628211ull;
        }
    for (int i = 0; i < 4; i++) {
        for (const char *p = s[i]; *p; p++) {
            h ^= (unsigned char)*p;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

static bool key_equal(const agg *a, int period, double start, int64_t model, const char *const s[4])
{
    return a->period == period && a->start == start && a->model_id == model && !strcmp(a->arm, s[0]) &&
           !strcmp(a->source, s[1]) && !strcmp(a->backend, s[2]) && !strcmp(a->outcome, s[3]);
}

static void table_rehash(agg_table *t)
{
    free(t->slots);
    t->n_slots = t->n_slots ? 2 * t->n_slots : 256;
    t->slots = xcalloc(t->n_slots, sizeof *t->slots);
    for (size_t i = 0; i < t->n; i++) {
        const agg *a = &t->items[i];
        const char *s[4] = {a->arm, a->source, a->backend, a->outcome};
        size_t j = hash_key(a->period, a->start, a->model_id, s) & (t->n_slots - 1);
        while (t->slots[j])
            j = (j + 1) & (t->n_slots - 1);
        t->slots[j] = i + 1;
    }
}

/* The row for this key, created empty when new.  s = arm, source,
 * backend, outcome. */
static agg *table_get(agg_table *t, int period, double start, int64_t model, const char *const s[4])
{
    if (2 * (t->n + 1) > t->n_slots)
        table_rehash(t);
    size_t j = hash_key(period, start, model, s) & (t->n_slots - 1);
    while (t->slots[j]) {
        agg *a = &t->items[t->slots[j] - 1];
        if (key_equal(a, period, start, model, s))
            return a;
        j = (j + 1) & (t->n_slots - 1);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->items = xreallocarray(t->items, t->cap, sizeof *t->items);
    }
    agg *a = &t->items[t->n];
    memset(a, 0, sizeof *a);
    a->period = period;
    a->start = start;
    a->model_id = model;
    a->arm = xstrdup(s[0]);
    a->source = xstrdup(s[1]);
    a->backend = xstrdup(s[2]);
    a->outcome = xstrdup(s[3]);
    t->slots[j] = ++t->n;
    return a;
}

static void table_free(agg_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        agg *a = &t->items[i];
        free(a->arm);
        free(a->source);
        free(a->backend);
        free(a->outcome);
        for (int m = 0; m < N_MEASURES; m++)
            sketch_free(&a->sk[m]);
    }
    free(t->items);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The index of the first bound >= x (n when above them all). */
static int le_index(const double *bounds, int n, double x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (x <= bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- Blobs ------------------------------------------------------------------- */

static void encode_hist(const agg *a, strbuf *out)
{
    strbuf sec = {0};
    sb_putc(out, BLOB_FORMAT);
    for (int m = 0; m < N_MEASURES; m++) {
        sb_clear(&sec);
        sketch_encode(&a->sk[m], &sec);
        sketch_put_varint(out, sec.len);
        sb_append(out, sec.data, sec.len);
    }
    sb_free(&sec);
}

/* Add the measures of a hist blob into sk[0..N_MEASURES) (NULL entries
 * are skipped without decoding). */
static db_status decode_hist(db *d, const uint8_t *p, size_t len, sketch *const sk[N_MEASURES])
{
    if (!len)
        return DB_OK; /* written before any value: nothing to add */
    if (p[0] != BLOB_FORMAT)
        return db_failf(d, DB_CORRUPT, "a rollup's hist blob has format %d, not %d", p[0], BLOB_FORMAT);
    size_t off = 1;
    for (int m = 0; m < N_MEASURES; m++) {
        uint64_t n;
        size_t at = off;
        if (!sketch_get_varint(p, len, &off, &n) || n > len - off)
            return db_failf(d, DB_CORRUPT, "a rollup's hist blob: bad section length at byte %zu", at);
        if (sk[m]) {
            size_t used = 0;
            char err[160];
            if (!sketch_decode_add(sk[m], p + off, (size_t)n, &used, err, sizeof err) || used != n)
                return db_failf(d, DB_CORRUPT, "a rollup's hist blob, measure %d at byte %zu: %s", m, off,
                                used != n ? "section length mismatch" : err);
        }
        off += (size_t)n;
    }
    return DB_OK;
}

static void encode_le(const int64_t le[N_LE], strbuf *out)
{
    sb_putc(out, BLOB_FORMAT);
    for (int i = 0; i < N_LE; i++)
        sketch_put_varint(out, (uint64_t)le[i]);
}

static db_status decode_le_add(db *d, const uint8_t *p, size_t len, int64_t le[N_LE])
{
    if (!len)
        return DB_OK;
    if (p[0] != BLOB_FORMAT)
        return db_failf(d, DB_CORRUPT, "a rollup's le blob has format %d, not %d", p[0], BLOB_FORMAT);
    size_t off = 1;
    for (int i = 0; i < N_LE; i++) {
        uint64_t v;
        size_t at = off;
        if (!sketch_get_varint(p, len, &off, &v) || v > INT64_MAX / 4)
            return db_failf(d, DB_CORRUPT, "a rollup's le blob: bad count %d at byte %zu", i, at);
        le[i] += (int64_t)v;
    }
    return DB_OK;
}

/* ---- Folding requests ---------------------------------------------------------- */

/* The columns fold_request_row reads, after `r.id`. */
#define FOLD_COLUMNS                                                                                     \
    "r.id, r.started_at, coalesce(r.model_id, 0), coalesce(c.arm, ''), r.source, r.backend, r.outcome," \
    " r.gen_tokens, r.prompt_tokens, r.latency_ms, r.ttft_ms, r.prefill_tps, r.decode_tps"

static const char *col_str(sql_stmt *st, int i)
{
    const char *s = (const char *)sql_column_text(st, i);
    return s ? s : "";
}

static void fold_request_row(agg_table *t, sql_stmt *st)
{
    double minute = floor(sql_column_double(st, 1) / 60.0) * 60.0;
    const char *key[4] = {col_str(st, 3), col_str(st, 4), col_str(st, 5), col_str(st, 6)};
    agg *a = table_get(t, 60, minute, sql_column_int64(st, 2), key);
    a->requests++;
    if (!sql_column_null(st, 7)) {
        int64_t g = sql_column_int64(st, 7);
        a->gen_tokens += g;
        sketch_add(&a->sk[M_TOKENS], (double)g);
        a->le[LE_TOKENS + le_index(rollup_le_tokens, ROLLUP_N_LE_TOKENS, (double)g)]++;
    }
    a->prompt_tokens += sql_column_int64(st, 8);
    for (int m = 0; m < 4; m++) {
        if (sql_column_null(st, 9 + m))
            continue;
        double v = sql_column_double(st, 9 + m);
        a->n[m]++;
        a->sum[m] += v;
        sketch_add(&a->sk[m], v);
        if (m == M_LATENCY)
            a->le[LE_LATENCY + le_index(rollup_le_seconds, ROLLUP_N_LE_SECONDS, v / 1000.0)]++;
        else if (m == M_TTFT)
            a->le[LE_TTFT + le_index(rollup_le_seconds, ROLLUP_N_LE_SECONDS, v / 1000.0)]++;
    }
}

/* Stored rollup columns, in the order read_rollup_row and write use. */
#define ROLLUP_COLUMNS                                                                                  \
    "requests, gen_tokens, prompt_tokens, latency_n, latency_sum, ttft_n, ttft_sum, prefill_n,"        \
    " prefill_sum, decode_n, decode_sum, hist, le"

/* The same columns taken from the row an upsert tried to insert. */
#define ROLLUP_UPDATE                                                                                   \
    "requests = excluded.requests, gen_tokens = excluded.gen_tokens,"                                    \
    " prompt_tokens = excluded.prompt_tokens, latency_n = excluded.latency_n,"                           \
    " latency_sum = excluded.latency_sum, ttft_n = excluded.ttft_n, ttft_sum = excluded.ttft_sum,"        \
    " prefill_n = excluded.prefill_n, prefill_sum = excluded.prefill_sum, decode_n = excluded.decode_n,"  \
    " decode_sum = excluded.decode_sum, hist = excluded.hist, le = excluded.le"

/* Add a stored rollup row's columns (from column `c`) into a. */
static db_status add_rollup_row(db *d, agg *a, sql_stmt *st, int c)
{
    a->requests += sql_column_int64(st, c);
    a->gen_tokens += sql_column_int64(st, c + 1);
    a->prompt_tokens += sql_column_int64(st, c + 2);
    for (int m = 0; m < 4; m++) {
        a->n[m] += sql_column_int64(st, c + 3 + 2 * m);
        a->sum[m] += sql_column_double(st, c + 4 + 2 * m);
    }
    sketch *sk[N_MEASURES];
    for (int m = 0; m < N_MEASURES; m++)
        sk[m] = &a->sk[m];
    db_status s = decode_hist(d, sql_column_blob(st, c + 11), (size_t)sql_column_bytes(st, c + 11), sk);
    if (s == DB_OK)
        s = decode_le_add(d, sql_column_blob(st, c + 12), (size_t)sql_column_bytes(st, c + 12), a->le);
    return s;
}

/* Merge every key of t into its stored row (inside the caller's
 * transaction). */
static db_status table_flush(db *d, agg_table *t)
{
    const char *what = "saving the rollups";
    sql_stmt *get = db_prepare(d,
                                   "SELECT " ROLLUP_COLUMNS " FROM rollups WHERE period = ? AND start = ?"
                                   " AND model_id = ? AND arm = ? AND source = ? AND backend = ? AND outcome = ?",
                                   what);
    sql_stmt *put = get ? db_prepare(d,
                                         "INSERT INTO rollups (period, start, model_id, arm, source,"
                                         " backend, outcome, " ROLLUP_COLUMNS ")"
                                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                         " ON CONFLICT (period, start, model_id, arm, source, backend, outcome)"
                                         " DO UPDATE SET " ROLLUP_UPDATE,
                                         what)
                            : NULL;
    db_status s = put ? DB_OK : DB_ERR;
    strbuf hist = {0}, le = {0};
    for (size_t i = 0; s == DB_OK && i < t->n; i++) {
        agg *a = &t->items[i];
        for (sql_stmt *st = get;; st = put) {
            sql_reset(st);
            sql_bind_int(st, 1, a->period);
            sql_bind_double(st, 2, a->start);
            sql_bind_int64(st, 3, a->model_id);
            sql_bind_text(st, 4, a->arm);
            sql_bind_text(st, 5, a->source);
            sql_bind_text(st, 6, a->backend);
            sql_bind_text(st, 7, a->outcome);
            if (st == put)
                break;
            int rc = sql_step(get);
            if (rc == SQL_ROW)
                s = add_rollup_row(d, a, get, 0);
            else if (rc != SQL_DONE)
                s = db_fail(d, rc, what);
            sql_reset(get);
            if (s != DB_OK)
                break;
        }
        if (s != DB_OK)
            break;
        sql_bind_int64(put, 8, a->requests);
        sql_bind_int64(put, 9, a->gen_tokens);
        sql_bind_int64(put, 10, a->prompt_tokens);
        for (int m = 0; m < 4; m++) {
            sql_bind_int64(put, 11 + 2 * m, a->n[m]);
            sql_bind_double(put, 12 + 2 * m, a->sum[m]);
        }
        sb_clear(&hist);
        sb_clear(&le);
        encode_hist(a, &hist);
        encode_le(a->le, &le);
        sql_bind_blob(put, 19, hist.data, hist.len);
        sql_bind_blob(put, 20, le.data, le.len);
        int rc = sql_step(put);
        if (rc != SQL_DONE)
            s = db_fail(d, rc, what);
    }
    sb_free(&hist);
    sb_free(&le);
    sql_finalize(get);
    sql_finalize(put);
    return s;
}

/* Files migrated no further than schema 5 (tests build them) have no
 * rollups: nothing to fold into. */
static bool has_rollups(db *d)
{
    return db_schema_of(d) >= 6;
}

db_status rollup_fold_request(db *d, int64_t id)
{
    const char *what = "folding the request into the rollups";
    if (!has_rollups(d))
        return DB_OK;
    sql_stmt *st = db_prepare(d,
                                  "SELECT " FOLD_COLUMNS " FROM requests r LEFT JOIN conversations c ON c.id = r.conversation_id"
                                  " WHERE r.id = ? AND r.folded = 0"
                                  " AND r.outcome != 'running'",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    agg_table t = {0};
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        fold_request_row(&t, st);
    sql_finalize(st);
    db_status s = rc == SQL_ROW || rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
    if (s == DB_OK && t.n && (s = table_flush(d, &t)) == DB_OK) {
        sql_stmt *up = db_prepare(d, "UPDATE requests SET folded = 1 WHERE id = ?", what);
        if (!up)
            s = DB_ERR;
        else {
            sql_bind_int64(up, 1, id);
            s = db_step_done(d, up, what);
        }
    }
    table_free(&t);
    return s;
}

/* Whether any finished row waits to be folded (a read, no lock taken). */
static db_status any_unfolded(db *d, bool *yes)
{
    sql_stmt *st = db_prepare(d,
                                  "SELECT 1 FROM requests INDEXED BY requests_unfolded"
                                  " WHERE folded = 0 AND outcome != 'running' LIMIT 1",
                                  "looking for requests to fold");
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    sql_finalize(st);
    *yes = rc == SQL_ROW;
    return rc == SQL_ROW || rc == SQL_DONE ? DB_OK : db_fail(d, rc, "looking for requests to fold");
}

/* Fold up to FOLD_BATCH unfolded rows in one transaction; *n how many. */
static db_status fold_batch(db *d, int64_t *n)
{
    const char *what = "folding requests into the rollups";
    *n = 0;
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "SELECT " FOLD_COLUMNS " FROM requests r INDEXED BY requests_unfolded"
                                  " LEFT JOIN conversations c ON c.id = r.conversation_id"
                                  " WHERE r.folded = 0 AND r.outcome != 'running' ORDER BY r.id LIMIT ?",
                                  what);
    agg_table t = {0};
    int64_t last = 0;
    int rc = SQL_DONE;
    if (!st)
        s = DB_ERR;
    else {
        sql_bind_int(st, 1, FOLD_BATCH);
        while ((rc = sql_step(st)) == SQL_ROW) {
            fold_request_row(&t, st);
            last = sql_column_int64(st, 0);
            (*n)++;
        }
        sql_finalize(st);
        if (rc != SQL_DONE)
            s = db_fail(d, rc, what);
    }
    if (s == DB_OK && *n)
        s = table_flush(d, &t);
    table_free(&t);
    if (s == DB_OK && *n) {
        /* the rows just read are exactly the unfolded finished ones up to
         * `last`: they came in id order, under this transaction's lock */
        sql_stmt *up = db_prepare(d,
                                      "UPDATE requests INDEXED BY requests_unfolded SET folded = 1"
                                      " WHERE folded = 0 AND outcome != 'running' AND id <= ?",
                                      what);
        if (!up)
            s = DB_ERR;
        else {
            sql_bind_int64(up, 1, last);
            s = db_step_done(d, up, what);
        }
    }
    if (s != DB_OK) {
        db_rollback(d);
        *n = 0;
        return s;
    }
    return db_commit(d, what);
}

db_status db_rollup_catch_up(db *d, int64_t *n)
{
    if (n)
        *n = 0;
    if (!has_rollups(d))
        return DB_OK;
    bool more;
    db_status s = any_unfolded(d, &more);
    while (s == DB_OK && more) {
        int64_t k;
        if ((s = fold_batch(d, &k)) != DB_OK)
            break;
        if (n)
            *n += k;
        more = k == FOLD_BATCH;
    }
    double now = db_now();
    if (s == DB_OK && now - d->rollup_compacted_at >= 3600) {
        s = db_rollup_compact(d, now);
        if (s == DB_OK)
            d->rollup_compacted_at = now;
    }
    return s;
}

/* ---- Compaction ------------------------------------------------------------------ */

db_status db_rollup_compact(db *d, double now)
{
    const char *what = "compacting the rollups";
    double cutoff = now - MINUTE_KEEP_S - 60; /* minutes that ended before now - 48 h */
    sql_stmt *st = db_prepare(d, "SELECT 1 FROM rollups WHERE period = 60 AND start <= ? LIMIT 1", what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, cutoff);
    int rc = sql_step(st);
    sql_finalize(st);
    if (rc == SQL_DONE)
        return DB_OK;
    if (rc != SQL_ROW)
        return db_fail(d, rc, what);

    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    agg_table t = {0};
    st = db_prepare(d,
                    "SELECT start, model_id, arm, source, backend, outcome, " ROLLUP_COLUMNS
                    " FROM rollups WHERE period = 60 AND start <= ?",
                    what);
    if (!st)
        s = DB_ERR;
    else {
        sql_bind_double(st, 1, cutoff);
        while (s == DB_OK && (rc = sql_step(st)) == SQL_ROW) {
            double hour = floor(sql_column_double(st, 0) / 3600.0) * 3600.0;
            const char *key[4] = {col_str(st, 2), col_str(st, 3), col_str(st, 4), col_str(st, 5)};
            s = add_rollup_row(d, table_get(&t, 3600, hour, sql_column_int64(st, 1), key), st, 6);
        }
        sql_finalize(st);
        if (s == DB_OK && rc != SQL_DONE)
            s = db_fail(d, rc, what);
    }
    if (s == DB_OK && (st = db_prepare(d, "DELETE FROM rollups WHERE period = 60 AND start <= ?", what))) {
        sql_bind_double(st, 1, cutoff);
        s = db_step_done(d, st, what);
    } else if (s == DB_OK)
        s = DB_ERR;
    if (s == DB_OK)
        s = table_flush(d, &t);
    table_free(&t);
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

/* ---- Reading: totals ------------------------------------------------------------------ */

db_status db_rollup_totals(db *d, db_rollup_total **out, size_t *n)
{
    const char *what = "reading the rollup totals";
    *out = NULL;
    *n = 0;
    db_status s = db_rollup_catch_up(d, NULL);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "SELECT model_id, outcome, requests, gen_tokens, prompt_tokens, latency_n,"
                                  " latency_sum, ttft_n, ttft_sum, le FROM rollups"
                                  " WHERE source = 'traffic' ORDER BY model_id, outcome",
                                  what);
    if (!st)
        return DB_ERR;
    int rc;
    while (s == DB_OK && (rc = sql_step(st)) == SQL_ROW) {
        int64_t model = sql_column_int64(st, 0);
        const char *oc = col_str(st, 1);
        db_rollup_total *r = *n ? &(*out)[*n - 1] : NULL;
        if (!r || r->model_id != model || strcmp(r->outcome, oc) != 0) {
            *out = xreallocarray(*out, *n + 1, sizeof **out);
            r = &(*out)[(*n)++];
            memset(r, 0, sizeof *r);
            r->model_id = model;
            snprintf(r->outcome, sizeof r->outcome, "%s", oc);
        }
        r->requests += sql_column_int64(st, 2);
        r->gen_tokens += sql_column_int64(st, 3);
        r->prompt_tokens += sql_column_int64(st, 4);
        r->latency_n += sql_column_int64(st, 5);
        r->latency_sum_s += sql_column_double(st, 6) / 1000.0;
        r->ttft_n += sql_column_int64(st, 7);
        r->ttft_sum_s += sql_column_double(st, 8) / 1000.0;
        int64_t le[N_LE] = {0};
        s = decode_le_add(d, sql_column_blob(st, 9), (size_t)sql_column_bytes(st, 9), le);
        for (int i = 0; i <= ROLLUP_N_LE_SECONDS; i++) {
            r->latency_le[i] += le[LE_LATENCY + i];
            r->ttft_le[i] += le[LE_TTFT + i];
        }
        for (int i = 0; i <= ROLLUP_N_LE_TOKENS; i++) {
            r->tokens_le[i] += le[LE_TOKENS + i];
            r->tokens_n += le[LE_TOKENS + i];
        }
    }
    sql_finalize(st);
    if (s == DB_OK && rc != SQL_DONE)
        s = db_fail(d, rc, what);
    if (s != DB_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return s;
}

/* ---- Reading: the dashboard's figures ------------------------------------------------ */

static db_pcts sketch_pcts(const sketch *s)
{
    db_pcts p = {0};
    if (!s->n)
        return p;
    p.valid = true;
    p.p50 = sketch_percentile(s, 50);
    p.p90 = sketch_percentile(s, 90);
    p.p95 = sketch_percentile(s, 95);
    p.p99 = sketch_percentile(s, 99);
    return p;
}

/* A model's running figures while the rows are read. */
typedef struct {
    sketch lat, ttft;
    double decode_sum;
    int64_t decode_n;
} model_acc;

static int by_requests(const void *a, const void *b)
{
    const db_model_stats *x = a, *y = b;
    return x->requests < y->requests ? 1 : x->requests > y->requests ? -1 : 0;
}

static bool is_error(const char *oc)
{
    return !strcmp(oc, "error") || !strcmp(oc, "timeout") || !strcmp(oc, "interrupted");
}

db_status rollup_stats(db *d, const int64_t *model_ids, size_t n_models, db_stats *out)
{
    const char *what = "computing the dashboard figures from the rollups";
    strbuf sql = {0};
    sb_puts(&sql,
            "SELECT period, start, model_id, outcome, requests, gen_tokens, ttft_n, prefill_n, prefill_sum,"
            " decode_n, decode_sum, hist FROM rollups"
            " WHERE period IN (60, 3600) AND start >= ?1 AND start <= ?2 AND source = 'traffic'");
    if (n_models) {
        sb_puts(&sql, " AND model_id IN (");
        for (size_t i = 0; i < n_models; i++)
            sb_puts(&sql, i ? ", ?" : "?");
        sb_puts(&sql, ")");
    }
    sb_puts(&sql, " ORDER BY start, period"); /* a minute's rows together, before its hour */
    sql_stmt *st = db_prepare(d, sql.data, what);
    sb_free(&sql);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, out->from);
    sql_bind_double(st, 2, out->to);
    for (size_t i = 0; i < n_models; i++)
        sql_bind_int64(st, 3 + (int)i, model_ids[i]);

    double first = out->n_series ? out->series[0].start : 0;
    sketch row_lat = {0}, row_ttft = {0}, lat = {0}, ttft = {0}, min_lat = {0}, min_ttft = {0};
    model_acc *macc = NULL;
    double prefill_sum = 0, decode_sum = 0, min_decode_sum = 0;
    int64_t prefill_n = 0, decode_n = 0, min_decode_n = 0;
    ptrdiff_t cur = -1; /* the series minute min_* hold */
    db_status s = DB_OK;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        int period = sql_column_int(st, 0);
        double start = sql_column_double(st, 1);
        ptrdiff_t b = period == 60 && start >= first ? (ptrdiff_t)llround((start - first) / 60.0) : -1;
        if (b >= (ptrdiff_t)out->n_series)
            b = -1;
        if (b != cur && cur >= 0) {
            out->series[cur].latency_ms = sketch_pcts(&min_lat);
            out->series[cur].ttft_ms = sketch_pcts(&min_ttft);
            out->series[cur].decode_tps = min_decode_n ? min_decode_sum / (double)min_decode_n : 0;
            sketch_clear(&min_lat);
            sketch_clear(&min_ttft);
            min_decode_sum = 0;
            min_decode_n = 0;
        }
        cur = b;
        /* the model's slot */
        int64_t model = sql_column_int64(st, 2);
        size_t m = 0;
        while (m < out->n_models && out->models[m].model_id != model)
            m++;
        if (m == out->n_models) {
            out->models = xreallocarray(out->models, m + 1, sizeof *out->models);
            macc = xreallocarray(macc, m + 1, sizeof *macc);
            memset(&out->models[m], 0, sizeof *out->models);
            memset(&macc[m], 0, sizeof *macc);
            out->models[m].model_id = model;
            out->n_models++;
        }
        const char *oc = col_str(st, 3);
        int64_t req = sql_column_int64(st, 4), tokens = sql_column_int64(st, 5);
        int64_t errs = is_error(oc) ? req : 0;
        out->requests += req;
        out->errors += errs;
        out->cancelled += !strcmp(oc, "cancelled") ? req : 0;
        out->tokens_generated += tokens;
        out->models[m].requests += req;
        out->models[m].errors += errs;
        prefill_n += sql_column_int64(st, 7);
        prefill_sum += sql_column_double(st, 8);
        int64_t dn = sql_column_int64(st, 9);
        double ds = sql_column_double(st, 10);
        decode_n += dn;
        decode_sum += ds;
        macc[m].decode_n += dn;
        macc[m].decode_sum += ds;
        sketch_clear(&row_lat);
        sketch_clear(&row_ttft);
        sketch *want[N_MEASURES] = {&row_lat, &row_ttft, NULL, NULL, NULL};
        if ((s = decode_hist(d, sql_column_blob(st, 11), (size_t)sql_column_bytes(st, 11), want)) != DB_OK)
            break;
        sketch_merge(&lat, &row_lat);
        sketch_merge(&ttft, &row_ttft);
        sketch_merge(&macc[m].lat, &row_lat);
        sketch_merge(&macc[m].ttft, &row_ttft);
        if (b >= 0) {
            db_minute *mi = &out->series[b];
            mi->requests += req;
            mi->errors += errs;
            mi->tokens += tokens;
            sketch_merge(&min_lat, &row_lat);
            sketch_merge(&min_ttft, &row_ttft);
            min_decode_n += dn;
            min_decode_sum += ds;
        }
    }
    sql_finalize(st);
    if (s == DB_OK && rc != SQL_DONE)
        s = db_fail(d, rc, what);
    if (s == DB_OK) {
        if (cur >= 0) {
            out->series[cur].latency_ms = sketch_pcts(&min_lat);
            out->series[cur].ttft_ms = sketch_pcts(&min_ttft);
            out->series[cur].decode_tps = min_decode_n ? min_decode_sum / (double)min_decode_n : 0;
        }
        out->latency_ms = sketch_pcts(&lat);
        out->ttft_ms = sketch_pcts(&ttft);
        out->prefill_tps = prefill_n ? prefill_sum / (double)prefill_n : 0;
        out->decode_tps = decode_n ? decode_sum / (double)decode_n : 0;
        out->error_rate = out->requests ? (double)out->errors / (double)out->requests : 0;
        for (size_t m = 0; m < out->n_models; m++) {
            out->models[m].latency_ms = sketch_pcts(&macc[m].lat);
            out->models[m].ttft_ms = sketch_pcts(&macc[m].ttft);
            out->models[m].decode_tps = macc[m].decode_n ? macc[m].decode_sum / (double)macc[m].decode_n : 0;
        }
        if (out->n_models > 1)
            qsort(out->models, out->n_models, sizeof *out->models, by_requests);
    }
    for (size_t m = 0; m < out->n_models; m++) {
        sketch_free(&macc[m].lat);
        sketch_free(&macc[m].ttft);
    }
    free(macc);
    sketch_free(&row_lat);
    sketch_free(&row_ttft);
    sketch_free(&lat);
    sketch_free(&ttft);
    sketch_free(&min_lat);
    sketch_free(&min_ttft);
    return s;
}
