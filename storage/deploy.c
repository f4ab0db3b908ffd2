/*
 * deploy.c — the deployment row, its history and conversations' arms (see
 * deploy.h).  Each change reads the deployment, checks what it needs and
 * writes the new row and its history row inside one BEGIN IMMEDIATE, so
 * two processes changing it at once are serialized, never interleaved.
 */
#include "storage/deploy.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static db_status read_deployment(db *d, db_deployment *out, const char *what)
{
    memset(out, 0, sizeof *out);
    sql_stmt *st = db_prepare(
        d, "SELECT stable_id, coalesce(candidate_id, 0), share, changed_at FROM deployment WHERE id = 1", what);
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        out->stable_id = sql_column_int64(st, 0);
        out->candidate_id = sql_column_int64(st, 1);
        out->share = sql_column_int(st, 2);
        out->changed_at = sql_column_double(st, 3);
    }
    sql_finalize(st);
    if (rc == SQL_ROW)
        return DB_OK;
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "nothing is deployed yet (frontdesk deploy VERSION)");
    return db_fail(d, rc, what);
}

db_status db_deployment_get(db *d, db_deployment *out)
{
    return read_deployment(d, out, "reading the deployment");
}

/* The stable version a rollback from `stable` returns to: the previous_id
 * of the newest history row that installed it (0 when none). */
static db_status previous_of(db *d, int64_t stable, int64_t *prev, const char *what)
{
    *prev = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT coalesce(previous_id, 0) FROM deployment_history"
                                  " WHERE stable_id = ?1 AND action IN ('deploy', 'promote', 'rollback')"
                                  " ORDER BY id DESC LIMIT 1",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, stable);
    int rc = sql_step(st);
    if (rc == SQL_ROW)
        *prev = sql_column_int64(st, 0);
    sql_finalize(st);
    return rc == SQL_ROW || rc == SQL_DONE ? DB_OK : db_fail(d, rc, what);
}

/* Write the new deployment and its history row (inside the caller's
 * transaction). */
static db_status write_change(db *d, const char *action, const db_deployment *now, int64_t previous,
                              const db_deploy_why *w, const char *what)
{
    double t = db_now();
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO deployment (id, stable_id, candidate_id, share, changed_at)"
                                  " VALUES (1, ?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET"
                                  " stable_id = ?1, candidate_id = ?2, share = ?3, changed_at = ?4",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, now->stable_id);
    db_bind_id(st, 2, now->candidate_id);
    sql_bind_int(st, 3, now->candidate_id ? now->share : 0);
    sql_bind_double(st, 4, t);
    db_status s = db_step_done(d, st, what);
    if (s != DB_OK)
        return s;
    st = db_prepare(d,
                    "INSERT INTO deployment_history (at, action, stable_id, candidate_id, share, previous_id,"
                    " who, note, figures) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    what);
    if (!st)
        return DB_ERR;
    sql_bind_double(st, 1, t);
    sql_bind_text(st, 2, action);
    sql_bind_int64(st, 3, now->stable_id);
    db_bind_id(st, 4, now->candidate_id);
    sql_bind_int(st, 5, now->candidate_id ? now->share : 0);
    db_bind_id(st, 6, previous);
    db_bind_text(st, 7, w ? w->who : NULL);
    db_bind_text(st, 8, w && w->note && *w->note ? w->note : NULL);
    db_bind_text(st, 9, w ? w->figures : NULL);
    return db_step_done(d, st, what);
}

typedef enum { OP_DEPLOY, OP_START, OP_SHARE, OP_STOP, OP_GUARD, OP_PROMOTE, OP_ROLLBACK } deploy_op;

/* One change: read, check, write, in one transaction. */
static db_status change(db *d, deploy_op op, int64_t model_id, int share, const db_deploy_why *w,
                        int64_t *now_id)
{
    static const char *const whats[] = {"deploying", "starting the canary", "changing the canary's share",
                                        "stopping the canary", "stopping the canary", "promoting the candidate",
                                        "rolling back"};
    const char *what = whats[op];
    if ((op == OP_START || op == OP_SHARE) && (share < 1 || share > 50))
        return db_failf(d, DB_INVALID, "%s: the share must be 1 to 50 percent, not %d", what, share);
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    db_deployment cur, now;
    s = read_deployment(d, &cur, what);
    bool have = s == DB_OK;
    if (s != DB_OK && s != DB_NOTFOUND)
        goto out;
    s = DB_OK;
    if (op != OP_DEPLOY && !have) {
        s = db_failf(d, DB_NOTFOUND, "%s: nothing is deployed yet (frontdesk deploy VERSION)", what);
        goto out;
    }
    if ((op == OP_SHARE || op == OP_STOP || op == OP_GUARD || op == OP_PROMOTE) && !cur.candidate_id) {
        s = db_failf(d, DB_NOTFOUND, "%s: no canary is running", what);
        goto out;
    }
    now = cur;
    int64_t previous = 0;
    const char *action = NULL;
    switch (op) {
    case OP_DEPLOY:
        action = "deploy";
        previous = have && cur.stable_id != model_id ? cur.stable_id : 0;
        if (have && cur.stable_id == model_id)
            s = previous_of(d, model_id, &previous, what);
        now = (db_deployment){.stable_id = model_id};
        break;
    case OP_START:
        if (model_id == cur.stable_id) {
            s = db_failf(d, DB_INVALID, "%s: that version is already the stable one", what);
            goto out;
        }
        action = "canary-start";
        now.candidate_id = model_id;
        now.share = share;
        break;
    case OP_SHARE:
        action = "canary-share";
        now.share = share;
        break;
    case OP_STOP:
    case OP_GUARD:
        action = op == OP_GUARD ? "guard-stop" : "canary-stop";
        now.candidate_id = 0;
        now.share = 0;
        break;
    case OP_PROMOTE:
        action = "promote";
        previous = cur.stable_id;
        now = (db_deployment){.stable_id = cur.candidate_id};
        break;
    case OP_ROLLBACK: {
        action = "rollback";
        if (!model_id && cur.candidate_id) { /* the newest change first: the canary */
            s = previous_of(d, cur.stable_id, &previous, what);
            now.candidate_id = 0;
            now.share = 0;
            break;
        }
        int64_t target = model_id;
        if (!target && (s = previous_of(d, cur.stable_id, &target, what)) != DB_OK)
            goto out;
        if (!target) {
            s = db_failf(d, DB_NOTFOUND, "%s: there is no earlier stable version to return to", what);
            goto out;
        }
        /* What a later rollback returns to: the stable before the target. */
        if (target != cur.stable_id && (s = previous_of(d, target, &previous, what)) != DB_OK)
            goto out;
        if (target == cur.stable_id)
            s = previous_of(d, target, &previous, what);
        now = (db_deployment){.stable_id = target};
        break;
    }
    }
    if (s == DB_OK)
        s = write_change(d, action, &now, previous, w, what);
    if (s == DB_OK) {
        s = db_commit(d, what);
        if (s == DB_OK && now_id)
            *now_id = now.stable_id;
        return s;
    }
out:
    db_rollback(d);
    return s;
}

db_status db_deploy(db *d, int64_t model_id, const db_deploy_why *w)
{
    return change(d, OP_DEPLOY, model_id, 0, w, NULL);
}

db_status db_canary_start(db *d, int64_t model_id, int share, const db_deploy_why *w)
{
    return change(d, OP_START, model_id, share, w, NULL);
}

db_status db_canary_share(db *d, int share, const db_deploy_why *w)
{
    return change(d, OP_SHARE, 0, share, w, NULL);
}

db_status db_canary_stop(db *d, bool guard, const db_deploy_why *w)
{
    return change(d, guard ? OP_GUARD : OP_STOP, 0, 0, w, NULL);
}

db_status db_deploy_promote(db *d, const db_deploy_why *w)
{
    return change(d, OP_PROMOTE, 0, 0, w, NULL);
}

db_status db_deploy_rollback(db *d, int64_t model_id, const db_deploy_why *w, int64_t *now_id)
{
    return change(d, OP_ROLLBACK, model_id, 0, w, now_id);
}

db_status db_deploy_history(db *d, int limit, db_deploy_event **out, size_t *n)
{
    const char *what = "reading the deployment history";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT id, at, action, coalesce(stable_id, 0), coalesce(candidate_id, 0),"
                                  " coalesce(previous_id, 0), share, who, note, figures"
                                  " FROM deployment_history ORDER BY id DESC LIMIT ?1",
                                  what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, limit > 0 ? limit : INT64_MAX); /* no limit */
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        db_deploy_event *e = &(*out)[(*n)++];
        e->id = sql_column_int64(st, 0);
        e->at = sql_column_double(st, 1);
        e->action = db_col_text(st, 2, false);
        e->stable_id = sql_column_int64(st, 3);
        e->candidate_id = sql_column_int64(st, 4);
        e->previous_id = sql_column_int64(st, 5);
        e->share = sql_column_int(st, 6);
        e->who = db_col_text(st, 7, true);
        e->note = db_col_text(st, 8, true);
        e->figures = db_col_text(st, 9, true);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_deploy_events_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

void db_deploy_events_free(db_deploy_event *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].action);
        free(e[i].who);
        free(e[i].note);
        free(e[i].figures);
    }
    free(e);
}

db_status db_conv_arm_get(db *d, int64_t conv, char arm[16], int64_t *model_id)
{
    const char *what = "reading the conversation's arm";
    arm[0] = 0;
    *model_id = 0;
    sql_stmt *st = db_prepare(
        d, "SELECT coalesce(arm, ''), coalesce(arm_model_id, 0) FROM conversations WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        const char *a = (const char *)sql_column_text(st, 0);
        snprintf(arm, 16, "%s", a ? a : "");
        *model_id = sql_column_int64(st, 1);
    }
    sql_finalize(st);
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "no conversation %lld", (long long)conv);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}

db_status db_conv_arm_set(db *d, int64_t conv, const char *arm, int64_t model_id)
{
    const char *what = "recording the conversation's arm";
    sql_stmt *st = db_prepare(d, "UPDATE conversations SET arm = ?2, arm_model_id = ?3 WHERE id = ?1", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, conv);
    db_bind_text(st, 2, arm && *arm ? arm : NULL);
    db_bind_id(st, 3, model_id);
    return db_step_done(d, st, what);
}
