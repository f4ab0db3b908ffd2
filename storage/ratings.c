/*
 * ratings.c — one rating per (reply, rater), fields updated independently
 * (an upsert whose SET keeps the fields not given); tags in rating_tags.
 */
#include "storage/ratings.h"
#include "storage/chats.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static db_status check_reply(db *d, int64_t message_id, const char *what)
{
    sql_stmt *st = db_prepare(d, "SELECT role FROM messages WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, message_id);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc == SQL_DONE)
        s = db_failf(d, DB_NOTFOUND, "there is no message %lld", (long long)message_id);
    else if (rc != SQL_ROW)
        s = db_fail(d, rc, what);
    else if (strcmp((const char *)sql_column_text(st, 0), "agent") != 0)
        s = db_failf(d, DB_INVALID, "message %lld is a %s message; only agent replies are rated",
                     (long long)message_id, (const char *)sql_column_text(st, 0));
    sql_finalize(st);
    return s;
}

db_status db_rate(db *d, int64_t message_id, const char *rater, const db_rating_in *r)
{
    const char *what = "saving the rating";
    if ((r->fields & DB_RATE_THUMBS) && (r->thumbs < -1 || r->thumbs > 1))
        return db_failf(d, DB_INVALID, "thumbs must be up, down or none");
    if ((r->fields & DB_RATE_SCORE) && (r->score < 0 || r->score > 5))
        return db_failf(d, DB_INVALID, "a score is 1 to 5, not %d", r->score);
    if (!rater || !*rater)
        return db_failf(d, DB_INVALID, "a rating needs a rater name");
    db_status s = db_begin(d, what);
    if (s != DB_OK)
        return s;
    if ((s = check_reply(d, message_id, what)) != DB_OK) {
        db_rollback(d);
        return s;
    }
    sql_stmt *st = db_prepare(
        d,
        "INSERT INTO ratings (message_id, rater, thumbs, score, comment, created_at, updated_at)"
        " VALUES (?1, ?2, CASE WHEN ?3 <> 0 THEN ?4 ELSE 0 END, CASE WHEN ?5 <> 0 THEN CAST(?6 AS INTEGER) END,"
        "  CASE WHEN ?7 <> 0 THEN ?8 END, ?9, ?9)"
        " ON CONFLICT (message_id, rater) DO UPDATE SET"
        "  thumbs = CASE WHEN ?3 <> 0 THEN ?4 ELSE ratings.thumbs END,"
        "  score = CASE WHEN ?5 <> 0 THEN CAST(?6 AS INTEGER) ELSE ratings.score END,"
        "  comment = CASE WHEN ?7 <> 0 THEN ?8 ELSE ratings.comment END,"
        "  updated_at = ?9",
        what);
    if (!st) {
        db_rollback(d);
        return DB_ERR;
    }
    /* A text bind copies; when that allocation fails, the statement's
     * step reports it (sql.h), so no comment or tag is dropped unsaid. */
    sql_bind_int64(st, 1, message_id);
    sql_bind_text(st, 2, rater);
    sql_bind_int(st, 3, (r->fields & DB_RATE_THUMBS) != 0);
    sql_bind_int(st, 4, r->thumbs);
    sql_bind_int(st, 5, (r->fields & DB_RATE_SCORE) != 0);
    if (r->score > 0)
        sql_bind_int(st, 6, r->score);
    sql_bind_int(st, 7, (r->fields & DB_RATE_COMMENT) != 0);
    db_bind_text(st, 8, r->comment && *r->comment ? r->comment : NULL);
    sql_bind_double(st, 9, db_now());
    s = db_step_done(d, st, what);
    if (s == DB_OK && (r->fields & DB_RATE_TAGS)) {
        st = db_prepare(d, "DELETE FROM rating_tags WHERE message_id = ? AND rater = ?", what);
        if (st) {
            sql_bind_int64(st, 1, message_id);
            sql_bind_text(st, 2, rater);
            s = db_step_done(d, st, what);
        } else
            s = DB_ERR;
        for (size_t i = 0; s == DB_OK && i < r->n_tags; i++) {
            if (!*r->tags[i])
                continue;
            st = db_prepare(d, "INSERT INTO rating_tags VALUES (?, ?, ?) ON CONFLICT DO NOTHING", what);
            if (!st) {
                s = DB_ERR;
                break;
            }
            sql_bind_int64(st, 1, message_id);
            sql_bind_text(st, 2, rater);
            sql_bind_text(st, 3, r->tags[i]);
            s = db_step_done(d, st, what);
        }
    }
    if (s != DB_OK) {
        db_rollback(d);
        return s;
    }
    return db_commit(d, what);
}

db_status db_ratings_get(db *d, int64_t message_id, db_rating **out, size_t *n)
{
    const char *what = "reading ratings";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT rater, thumbs, coalesce(score, 0), comment, created_at, updated_at"
                                  " FROM ratings WHERE message_id = ? ORDER BY rater",
                                  what);
    sql_stmt *tags = db_prepare(d,
                                    "SELECT tag FROM rating_tags WHERE message_id = ? AND rater = ?"
                                    " ORDER BY tag",
                                    what);
    if (!st || !tags) {
        sql_finalize(st);
        sql_finalize(tags);
        return DB_ERR;
    }
    sql_bind_int64(st, 1, message_id);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *out = xreallocarray(*out, *n + 1, sizeof **out);
        db_rating *r = &(*out)[(*n)++];
        memset(r, 0, sizeof *r);
        r->rater = db_col_text(st, 0, false);
        r->thumbs = sql_column_int(st, 1);
        r->score = sql_column_int(st, 2);
        r->comment = db_col_text(st, 3, true);
        r->created_at = sql_column_double(st, 4);
        r->updated_at = sql_column_double(st, 5);
        sql_reset(tags);
        sql_bind_int64(tags, 1, message_id);
        /* a failed bind (out of memory) is the step's failure, not "no tags" */
        sql_bind_text(tags, 2, r->rater);
        int trc;
        while ((trc = sql_step(tags)) == SQL_ROW) {
            r->tags = xreallocarray(r->tags, r->n_tags + 1, sizeof *r->tags);
            r->tags[r->n_tags++] = db_col_text(tags, 0, false);
        }
        if (trc != SQL_DONE) {
            rc = trc;
            break;
        }
    }
    sql_finalize(st);
    sql_finalize(tags);
    if (rc != SQL_DONE) {
        db_ratings_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

void db_ratings_free(db_rating *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].rater);
        for (size_t t = 0; t < r[i].n_tags; t++)
            free(r[i].tags[t]);
        free(r[i].tags);
        free(r[i].comment);
    }
    free(r);
}

/* ---- The review queue ---------------------------------------------------------- */

/* Reply m is not in an arena conversation (judged in arena_judgements,
 * never queued for review: storage/chats.h DB_PROFILE_ARENA). */
#define NOT_ARENA                                                                                     \
    "NOT EXISTS (SELECT 1 FROM conversations ac WHERE ac.id = m.conversation_id"                     \
    " AND ac.profile = '" DB_PROFILE_ARENA "')"

db_status db_review_queue(db *d, const db_queue_filter *f, int64_t **ids, size_t *n)
{
    const char *what = "building the review queue";
    *ids = NULL;
    *n = 0;
    if (f->arm && strcmp(f->arm, "stable") && strcmp(f->arm, "candidate") && strcmp(f->arm, "pinned"))
        return db_failf(d, DB_INVALID, "there is no arm \"%s\" (stable, candidate or pinned)", f->arm);
    sql_stmt *st = db_prepare(
        d,
        "SELECT m.id FROM messages m WHERE m.role = 'agent' AND m.text != ''"
        " AND " NOT_ARENA
        " AND CASE ?1"
        "  WHEN 0 THEN NOT EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id AND r.score IS NOT NULL)"
        "  WHEN 1 THEN EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id"
        "              AND (r.score <= 2 OR r.thumbs < 0))"
        "  WHEN 2 THEN EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id AND r.score IS NOT NULL)"
        "  ELSE 1 = 1 END"
        " AND (?2 = 0 OR m.model_id = ?2)"
        " AND m.created_at >= ?3"
        " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM rating_tags t WHERE t.message_id = m.id AND t.tag = ?4))"
        " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id = m.conversation_id"
        "      AND o.id <= m.id AND instr(lower(o.text), ?5) > 0))"
        " AND (?6 IS NULL OR EXISTS (SELECT 1 FROM conversations c WHERE c.id = m.conversation_id"
        "      AND c.arm = ?6))"
        " ORDER BY CASE WHEN ?7 <> 0 AND m.logprob_mean IS NULL THEN 1 ELSE 0 END,"
        "  CASE WHEN ?7 <> 0 THEN m.logprob_mean END, m.id",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int(st, 1, (int)f->kind);
    sql_bind_int64(st, 2, f->model_id);
    sql_bind_double(st, 3, f->since);
    db_bind_text(st, 4, f->tag && *f->tag ? f->tag : NULL);
    db_bind_text_ascii_lower(st, 5, f->search && *f->search ? f->search : NULL);
    db_bind_text(st, 6, f->arm);
    sql_bind_int(st, 7, f->by_confidence);
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        *ids = xreallocarray(*ids, *n + 1, sizeof **ids);
        (*ids)[(*n)++] = sql_column_int64(st, 0);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

db_status db_review_counts(db *d, int64_t *unrated, int64_t *total)
{
    const char *what = "counting replies";
    sql_stmt *st = db_prepare(
        d,
        "SELECT count(*), coalesce(sum(CASE WHEN NOT EXISTS (SELECT 1 FROM ratings r WHERE r.message_id = m.id"
        " AND r.score IS NOT NULL) THEN 1 ELSE 0 END), 0) FROM messages m WHERE m.role = 'agent' AND m.text != ''"
        " AND " NOT_ARENA,
        what);
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    if (rc == SQL_ROW) {
        *total = sql_column_int64(st, 0);
        *unrated = sql_column_int64(st, 1);
    }
    sql_finalize(st);
    return rc == SQL_ROW ? DB_OK : db_fail(d, rc, what);
}

db_status db_rating_delete(db *d, int64_t message_id, const char *rater)
{
    const char *what = "undoing the rating";
    sql_stmt *st = db_prepare(d, "DELETE FROM ratings WHERE message_id = ? AND rater = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, message_id);
    sql_bind_text(st, 2, rater);
    return db_step_done(d, st, what);
}
