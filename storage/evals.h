/*
 * evals.h — offline evaluation runs in the store: a run (one or two model
 * versions over a set file of conversations), its per-item results, and
 * its aggregates and verdicts once it ends.
 *
 * A run is created "running" (owned by this process) and ended by
 * db_eval_finish as "complete", "incomplete" (stopped early: the items
 * stored so far stay) or "failed".  Items are written one at a time, each
 * in its own short transaction, so an interrupted run keeps every item it
 * finished.  Aggregates and verdicts are JSON text the caller composes
 * (app/eval.c); the store keeps them as given.
 *
 * A run left "running" by a process that died is marked "incomplete" by
 * the next db_open on the same host (storage/db.c; its owner is recorded
 * as requests' are: pid, process start time, host), keeping the items it
 * finished.
 *
 * Not here: anything about models or scoring (app/eval.c).
 */
#ifndef FRONTDESK_EVALS_H
#define FRONTDESK_EVALS_H

#include "storage/db.h"

/* A new run. */
typedef struct {
    int64_t model_a, model_b;   /* model_b 0: one model evaluated            */
    const char *set_sha256;     /* the set file's bytes (64 hex digits)     */
    const char *set_name;       /* its file name, for people (may be NULL)  */
    int64_t set_items;          /* items the run means to evaluate          */
    const char *settings;       /* JSON object text (may be NULL)           */
} db_eval_new;

/* One item's result for one model.  NAN figures are stored as NULL
 * (unknown) and read back as NAN. */
typedef struct {
    int64_t item;               /* 0-based line of the set                  */
    int64_t model_id;
    double ppl;                 /* the reference reply's perplexity         */
    char *reply;                /* the greedy reply (may be NULL)           */
    double chrf, rouge_l;
    int64_t length;             /* the reply's tokens                       */
    double latency_ms;
} db_eval_item;

/* A run as stored. */
typedef struct {
    int64_t id;
    double started_at, finished_at; /* finished_at 0 while running          */
    char status[16];            /* "running", "complete", "incomplete", "failed" */
    int64_t model_a, model_b;   /* model_b 0: none                          */
    char *set_sha256, *set_name; /* set_name may be NULL                    */
    int64_t set_items;
    int64_t items_done;         /* distinct items with at least one result  */
    char *settings, *aggregates, *verdicts; /* JSON text, may be NULL       */
} db_eval_run;

/* Create a running run; its id in *id.  DB_INVALID: no model_a, model_b
 * equal to model_a, no set hash, a negative item count. */
db_status db_eval_create(db *d, const db_eval_new *n, int64_t *id);
/* Store one item's result (replacing one for the same item and model).
 * DB_NOTFOUND: no such run. */
db_status db_eval_add_item(db *d, int64_t run, const db_eval_item *it);
/* End the run: status "complete", "incomplete" or "failed" (DB_INVALID
 * otherwise), with its aggregates and verdicts (JSON text, may be NULL).
 * DB_NOTFOUND: no such run. */
db_status db_eval_finish(db *d, int64_t run, const char *status, const char *aggregates, const char *verdicts);

/* Runs, newest first (limit <= 0: all). */
db_status db_eval_list(db *d, int limit, db_eval_run **out, size_t *n);
/* One run with its items ordered by item, then model (items may be NULL
 * when not wanted).  DB_NOTFOUND: no such run. */
db_status db_eval_get(db *d, int64_t id, db_eval_run *run, db_eval_item **items, size_t *n_items);

void db_eval_run_clear(db_eval_run *r);             /* accepts a zeroed run  */
void db_eval_runs_free(db_eval_run *r, size_t n);   /* accepts NULL          */
void db_eval_items_free(db_eval_item *it, size_t n); /* accepts NULL         */

#endif
