/*
 * arena.c — blind side-by-side judgements (see arena.h): one row each in
 * arena_judgements; the per-pair counts are one GROUP BY over the
 * unordered pair.
 */
#include "storage/arena.h"

#include "storage/db_internal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

static const char *const verdict_names[] = {"a", "b", "tie", "both_bad"};
#define N_VERDICTS (sizeof verdict_names / sizeof *verdict_names)

const char *db_arena_verdict_name(db_arena_verdict v)
{
    return (unsigned)v < N_VERDICTS ? verdict_names[v] : "?";
}

bool db_arena_verdict_parse(const char *s, db_arena_verdict *v)
{
    for (size_t i = 0; s && i < N_VERDICTS; i++)
        if (!strcmp(s, verdict_names[i])) {
            *v = (db_arena_verdict)i;
            return true;
        }
    return false;
}

static db_status model_exists(db *d, int64_t id, const char *what)
{
    sql_stmt *st = db_prepare(d, "SELECT 1 FROM models WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, id);
    int rc = sql_step(st);
    sql_finalize(st);
    if (rc == SQL_ROW)
        return DB_OK;
    if (rc == SQL_DONE)
        return db_failf(d, DB_NOTFOUND, "there is no model version %lld", (long long)id);
    return db_fail(d, rc, what);
}

db_status db_arena_record(db *d, const db_arena_in *in, int64_t *id)
{
    const char *what = "saving the arena judgement";
    if (!in->rater || !*in->rater)
        return db_failf(d, DB_INVALID, "a judgement needs a rater name");
    if (in->model_a == in->model_b)
        return db_failf(d, DB_INVALID, "a judgement compares two different versions, not %lld with itself",
                        (long long)in->model_a);
    if (in->shown_first != 'a' && in->shown_first != 'b')
        return db_failf(d, DB_INVALID, "shown_first is 'a' or 'b'");
    if ((unsigned)in->verdict >= N_VERDICTS)
        return db_failf(d, DB_INVALID, "a verdict is a, b, tie or both_bad");
    db_status s;
    if ((s = model_exists(d, in->model_a, what)) != DB_OK || (s = model_exists(d, in->model_b, what)) != DB_OK)
        return s;
    sql_stmt *st = db_prepare(d,
                                  "INSERT INTO arena_judgements (at, rater, prompt_message_id, model_a, model_b,"
                                  " reply_a, reply_b, shown_first, verdict, comment)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                                  what);
    if (!st)
        return DB_ERR;
    char first[2] = {in->shown_first, 0};
    sql_bind_double(st, 1, db_now());
    db_bind_text(st, 2, in->rater);
    db_bind_id(st, 3, in->prompt_message_id);
    sql_bind_int64(st, 4, in->model_a);
    sql_bind_int64(st, 5, in->model_b);
    db_bind_id(st, 6, in->reply_a);
    db_bind_id(st, 7, in->reply_b);
    db_bind_text(st, 8, first);
    db_bind_text(st, 9, verdict_names[in->verdict]);
    db_bind_text(st, 10, in->comment && *in->comment ? in->comment : NULL);
    int64_t got = 0;
    s = db_step_id(d, st, &got, what);
    if (s == DB_OK && id)
        *id = got;
    return s;
}

db_status db_arena_comment(db *d, int64_t id, const char *comment)
{
    const char *what = "saving the judgement's comment";
    sql_stmt *st = db_prepare(d, "UPDATE arena_judgements SET comment = ? WHERE id = ?", what);
    if (!st)
        return DB_ERR;
    db_bind_text(st, 1, comment && *comment ? comment : NULL);
    sql_bind_int64(st, 2, id);
    db_status s = db_step_done(d, st, what);
    if (s == DB_OK && db_changes(d) == 0)
        s = db_failf(d, DB_NOTFOUND, "there is no arena judgement %lld", (long long)id);
    return s;
}

db_status db_arena_list(db *d, db_arena_judgement **out, size_t *n)
{
    const char *what = "reading the arena judgements";
    *out = NULL;
    *n = 0;
    sql_stmt *st = db_prepare(d,
                                  "SELECT id, at, rater, comment, coalesce(prompt_message_id, 0), model_a, model_b,"
                                  " coalesce(reply_a, 0), coalesce(reply_b, 0), shown_first, verdict"
                                  " FROM arena_judgements ORDER BY id",
                                  what);
    if (!st)
        return DB_ERR;
    size_t cap = 0;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            *out = xreallocarray(*out, cap, sizeof **out);
        }
        db_arena_judgement *j = &(*out)[(*n)++];
        memset(j, 0, sizeof *j);
        j->id = sql_column_int64(st, 0);
        j->at = sql_column_double(st, 1);
        j->rater = db_col_text(st, 2, false);
        j->comment = db_col_text(st, 3, true);
        j->prompt_message_id = sql_column_int64(st, 4);
        j->model_a = sql_column_int64(st, 5);
        j->model_b = sql_column_int64(st, 6);
        j->reply_a = sql_column_int64(st, 7);
        j->reply_b = sql_column_int64(st, 8);
        const char *first = (const char *)sql_column_text(st, 9);
        j->shown_first = first && first[0] == 'b' ? 'b' : 'a';
        db_arena_verdict_parse((const char *)sql_column_text(st, 10), &j->verdict);
    }
    sql_finalize(st);
    if (rc != SQL_DONE) {
        db_arena_judgements_free(*out, *n);
        *out = NULL;
        *n = 0;
        return db_fail(d, rc, what);
    }
    return DB_OK;
}

void db_arena_judgements_free(db_arena_judgement *j, size_t n)
{
    for (size_t i = 0; j && i < n; i++) {
        free(j[i].rater);
        free(j[i].comment);
    }
    free(j);
}

db_status db_arena_pairs(db *d, db_arena_pair **out, size_t *n)
{
    const char *what = "counting the arena judgements";
    *out = NULL;
    *n = 0;
    /* lo's verdict letter: 'a' when lo is model_a, else 'b' */
    sql_stmt *st = db_prepare(
        d,
        "SELECT CASE WHEN model_a < model_b THEN model_a ELSE model_b END AS lo,"
        " CASE WHEN model_a < model_b THEN model_b ELSE model_a END AS hi,"
        " sum(CASE WHEN verdict = CASE WHEN model_a < model_b THEN 'a' ELSE 'b' END THEN 1 ELSE 0 END),"
        " sum(CASE WHEN verdict = 'tie' THEN 1 ELSE 0 END), sum(CASE WHEN verdict = 'both_bad' THEN 1 ELSE 0 END),"
        " sum(CASE WHEN verdict = CASE WHEN model_a < model_b THEN 'b' ELSE 'a' END THEN 1 ELSE 0 END)"
        " FROM arena_judgements GROUP BY lo, hi ORDER BY lo, hi",
        what);
    if (!st)
        return DB_ERR;
    size_t cap = 0;
    int rc;
    while ((rc = sql_step(st)) == SQL_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = xreallocarray(*out, cap, sizeof **out);
        }
        (*out)[(*n)++] = (db_arena_pair){.lo = sql_column_int64(st, 0), .hi = sql_column_int64(st, 1),
                                         .wins = sql_column_int64(st, 2), .ties = sql_column_int64(st, 3),
                                         .both_bad = sql_column_int64(st, 4),
                                         .losses = sql_column_int64(st, 5)};
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

void db_arena_pairs_free(db_arena_pair *p)
{
    free(p);
}

db_status db_arena_next_prompt(db *d, int64_t a, int64_t b, const char *rater, int64_t before, int64_t *id)
{
    const char *what = "choosing a customer message to judge";
    sql_stmt *st = db_prepare(
        d,
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.role = 'customer' AND m.active = 1 AND coalesce(c.profile, '') != 'arena'"
        " AND (?4 <= 0 OR m.id < ?4)"
        " AND EXISTS (SELECT 1 FROM messages r WHERE r.prev_id = m.id AND r.role = 'agent' AND r.text != '')"
        " AND NOT EXISTS (SELECT 1 FROM arena_judgements j WHERE j.prompt_message_id = m.id AND j.rater = ?3"
        "  AND ((j.model_a = ?1 AND j.model_b = ?2) OR (j.model_a = ?2 AND j.model_b = ?1)))"
        " ORDER BY m.id DESC LIMIT 1",
        what);
    if (!st)
        return DB_ERR;
    sql_bind_int64(st, 1, a);
    sql_bind_int64(st, 2, b);
    db_bind_text(st, 3, rater ? rater : "");
    sql_bind_int64(st, 4, before);
    int rc = sql_step(st);
    db_status s = DB_OK;
    if (rc == SQL_ROW)
        *id = sql_column_int64(st, 0);
    else if (rc == SQL_DONE)
        s = db_failf(d, DB_NOTFOUND, "no customer message with a reply is left to judge");
    else
        s = db_fail(d, rc, what);
    sql_finalize(st);
    return s;
}
