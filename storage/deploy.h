/*
 * deploy.h — the deployment in the store: which model version answers new
 * conversations, every change made to it, and the arm each conversation
 * was given.
 *
 * The deployment is one row: a stable version, and optionally a candidate
 * with a share of new conversations (1–50 percent; 0 once a canary is
 * stopped).  Every change is made in one transaction together with its
 * history row (who, when, why, the figures at the time), so every process
 * on the file sees either the old deployment or the new one with its
 * reason.
 *
 * Rollback goes back one stable at a time: each history row that installs
 * a stable records in previous_id the stable it replaced, and a rollback
 * returns to that one (recording, in turn, the one before it).
 */
#ifndef FRONTDESK_DEPLOY_H
#define FRONTDESK_DEPLOY_H

#include "storage/db.h"

typedef struct {
    int64_t stable_id;
    int64_t candidate_id; /* 0: no candidate                              */
    int share;            /* percent of new conversations to the candidate */
    double changed_at;
} db_deployment;

/* The current deployment; DB_NOTFOUND when nothing was ever deployed. */
db_status db_deployment_get(db *d, db_deployment *out);

/* Who made a change and why; figures: a JSON object (may be NULL). */
typedef struct {
    const char *who, *note, *figures;
} db_deploy_why;

/* Make model_id the stable version; a running canary ends (its candidate
 * is dropped). */
db_status db_deploy(db *d, int64_t model_id, const db_deploy_why *w);
/* Start a canary of model_id at share percent (1–50) beside the stable
 * one.  DB_INVALID: share out of range, or model_id is the stable version;
 * DB_NOTFOUND: nothing deployed yet. */
db_status db_canary_start(db *d, int64_t model_id, int share, const db_deploy_why *w);
/* Change the running canary's share (1–50).  DB_NOTFOUND: no candidate. */
db_status db_canary_share(db *d, int share, const db_deploy_why *w);
/* Stop the canary (its candidate is dropped); guard: the automatic stop,
 * recorded as action "guard-stop".  DB_NOTFOUND: no candidate. */
db_status db_canary_stop(db *d, bool guard, const db_deploy_why *w);
/* The candidate becomes the stable version.  DB_NOTFOUND: no candidate. */
db_status db_deploy_promote(db *d, const db_deploy_why *w);
/* Return to model_id, or (model_id 0) undo the newest change that put a
 * version in front of customers: a running canary ends (its conversations
 * go back to stable), else the stable before the current one returns.  A
 * canary ends either way.  DB_NOTFOUND: no earlier stable.  The
 * version now stable in *now_id (may be NULL). */
db_status db_deploy_rollback(db *d, int64_t model_id, const db_deploy_why *w, int64_t *now_id);

typedef struct {
    int64_t id;
    double at;
    char *action;                  /* "deploy", "canary-start", ...     */
    int64_t stable_id, candidate_id, previous_id; /* 0: none            */
    int share;
    char *who, *note, *figures;    /* may be NULL                       */
} db_deploy_event;

/* The history, newest first (limit <= 0: all). */
db_status db_deploy_history(db *d, int limit, db_deploy_event **out, size_t *n);
void db_deploy_events_free(db_deploy_event *e, size_t n);

/* ---- Arms ------------------------------------------------------------------ */

/* A conversation's arm ("stable", "candidate", "pinned") and the version it
 * was given; arm[0] == 0 when none yet (a conversation from before any
 * deployment, or not yet answered).  DB_NOTFOUND: no such conversation. */
db_status db_conv_arm_get(db *d, int64_t conv, char arm[16], int64_t *model_id);
/* Give conv its arm and version (replacing any). */
db_status db_conv_arm_set(db *d, int64_t conv, const char *arm, int64_t model_id);

#endif
