/*
 * evals.c — eval_runs and eval_items (schema 7; see evals.h).
 */
#include "storage/evals.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void bind_num(sql_stmt *st, int i, double x)
{
    if (isnan(x))
        sql_bind_null(st, i);
    else
        sql_bind_double(st, i, x);
}

static double col_num(sql_stmt *st, int i)
{
    return sql_column_null(st, i) ? NAN : sql_column_double(st, i);
}

db_status db_eval_create(db *d, const db_eval_new *n, int64_t *id)
{
    const char *what = "creating an evaluation run";
    if (n->model_a <= 0 || n->model_b < 0 || n->model_b == n->model_a)
        return db_failf(d, DB_INVALID, "an evaluation run needs one model, or two different ones");
    if (!n->set_sha256 || strlen(n->set_sha256) != 64)
        return db_failf(d, DB_INVALID, "an evaluation run needs its set's SHA-256");
    if (n->set_items < 0)
        return db_failf(d, DB_INVALID, "a set of %lld items", (long long)n->set_items);
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO eval_runs (started_at, model_a, model_b, set_sha256, set_name,"
                                  " set_items, settings, owner_pid, owner_start, owner_host)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, db_now());
    sql_bind_int64(st, 2, n->model_a);
    db_bind_id(st, 3, n->model_b);
    sql_bind_text(st, 4, n->set_sha256);
    db_bind_text(st, 5, n->set_name);
    sql_bind_int64(st, 6, n->set_items);
    db_bind_text(st, 7, n->settings);
    long pid;
    long long start;
    char host[256];
    db_owner(&pid, &start, host, sizeof host);
    sql_bind_int64(st, 8, pid);
    sql_bind_int64(st, 9, start);
    sql_bind_text(st, 10, host);
    return db_step_id(d, st, id, what);
}

static db_status run_exists(db *d, int64_t run, const char *what)
{
    sql_stmt *st = db_prepare(d, "SELECT 1 FROM eval_runs WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, run);
    int rc = sql_step(st);
    sql_finalize(st);
    if (rc == SQL_ROW)
        return DB_OK;
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "there is no evaluation run %lld", (long long)run);
    return db_fail(d, rc, what);
}

db_status db_eval_add_item(db *d, int64_t run, const db_eval_item *it)
{
    const char *what = "saving an evaluation item";
    db_status s = run_exists(d, run, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO eval_items (run_id, item, model_id, ppl, reply, chrf,"
                                  " rouge_l, length, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                                  " ON CONFLICT (run_id, item, model_id) DO UPDATE SET ppl = excluded.ppl,"
                                  " reply = excluded.reply, chrf = excluded.chrf, rouge_l = excluded.rouge_l,"
                                  " length = excluded.length, latency_ms = excluded.latency_ms",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, run);
    sql_bind_int64(st, 2, it->item);
    sql_bind_int64(st, 3, it->model_id);
    bind_num(st, 4, it->ppl);
    db_bind_text(st, 5, it->reply);
    bind_num(st, 6, it->chrf);
    bind_num(st, 7, it->rouge_l);
    sql_bind_int64(st, 8, it->length);
    bind_num(st, 9, it->latency_ms);
    return db_step_done(d, st, what);
}

db_status db_eval_finish(db *d, int64_t run, const char *status, const char *aggregates, const char *verdicts)
{
    const char *what = "finishing an evaluation run";
    if (!status || (strcmp(status, "complete") && strcmp(status, "incomplete") && strcmp(status, "failed")))
        return db_failf(d, DB_INVALID, "a run ends complete, incomplete or failed, not '%s'",
                        status ? status : "(none)");
    db_status s = run_exists(d, run, what);
    if (s != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "UPDATE eval_runs SET status = ?, finished_at = ?, aggregates = ?, verdicts = ?"
                                  " WHERE id = ?",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_text(st, 1, status);
    sql_bind_double(st, 2, db_now());
    db_bind_text(st, 3, aggregates);
    db_bind_text(st, 4, verdicts);
    sql_bind_int64(st, 5, run);
    return db_step_done(d, st, what);
}

#define RUN_COLS                                                                                         \
    "SELECT r.id, r.started_at, coalesce(r.finished_at, 0), r.status, r.model_a, coalesce(r.model_b, 0),"  \
    " r.set_sha256, r.set_name, r.set_items, r.settings, r.aggregates, r.verdicts,"                      \
    " (SELECT count(DISTINCT item) FROM eval_items i WHERE i.run_id = r.id) FROM eval_runs r"

static void read_run(sql_stmt *st, db_eval_run *r)
{
    memset(r, 0, sizeof *r);
    r->id = sql_column_int64(st, 0);
    r->started_at = sql_column_double(st, 1);
    r->finished_at = sql_column_double(st, 2);
    const char *status = sql_column_text(st, 3);
    snprintf(r->status, sizeof r->status, "%s", status ? (const char *)status : "");
    r->model_a = sql_column_int64(st, 4);
    r->model_b = sql_column_int64(st, 5);
    r->set_sha256 = db_col_text(st, 6, false);
    r->set_name = db_col_text(st, 7, true);
    r->set_items = sql_column_int64(st, 8);
    r->settings = db_col_text(st, 9, true);
    r->aggregates = db_col_text(st, 10, true);
    r->verdicts = db_col_text(st, 11, true);
    r->items_done = sql_column_int64(st, 12);
}

db_status db_eval_list(db *d, int limit, db_eval_run **out, size_t *n)
{
    const char *what = "listing evaluation runs";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d, RUN_COLS " ORDER BY r.started_at DESC, r.id DESC LIMIT ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* no limit */
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        read_run(st, &(*out)[(*n)++]);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_eval_runs_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

static db_status read_items(db *d, int64_t id, db_eval_item **items, size_t *n)
{
    const char *what = "reading evaluation items";
    sql_stmt *st = db_prepare(d,
                                  "SELECT item, model_id, ppl, reply, chrf, rouge_l, coalesce(length, 0), latency_ms"
                                  " FROM eval_items WHERE run_id = ? ORDER BY item, model_id",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *items = xreallocarray(*items, *n + 1, sizeof **items);
        db_eval_item *it = &(*items)[(*n)++];
        it->item = sql_column_int64(st, 0);
        it->model_id = sql_column_int64(st, 1);
        it->ppl = col_num(st, 2);
        it->reply = db_col_text(st, 3, true);
        it->chrf = col_num(st, 4);
        it->rouge_l = col_num(st, 5);
        it->length = sql_column_int64(st, 6);
        it->latency_ms = col_num(st, 7);
    }
    sql_finalize(st);
    return rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

db_status db_eval_get(db *d, int64_t id, db_eval_run *run, db_eval_item **items, size_t *n_items)
{
    const char *what = "reading an evaluation run";
    memset(run, 0, sizeof *run);
    if (items) {
        *items = NULL;
        *n_items = 0;
    }
    sql_stmt *st = db_prepare(d, RUN_COLS " WHERE r.id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        read_run(st, run);
    sql_finalize(st);
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "there is no evaluation run %lld", (long long)id);
    if (rc != SQL_ROW)
        return db_fail(d, rc, what);
    if (!items)
        return DB_OK;
    db_status s = read_items(d, id, items, n_items);
    if (s != DB_OK) {
        db_eval_items_free(*items, *n_items);
        *items = NULL;
        *n_items = 0;
        db_eval_run_clear(run);
    }
    return s;
}

void db_eval_run_clear(db_eval_run *r)
{
    if (!r)
        return;
    free(r->set_sha256);
    free(r->set_name);
    free(r->settings);
    free(r->aggregates);
    free(r->verdicts);
    memset(r, 0, sizeof *r);
}

void db_eval_runs_free(db_eval_run *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        db_eval_run_clear(&r[i]);
    free(r);
}

void db_eval_items_free(db_eval_item *it, size_t n)
{
    for (size_t i = 0; it && i < n; i++)
        free(it[i].reply);
    free(it);
}
