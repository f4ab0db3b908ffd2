/*
 * arena.h — blind side-by-side (arena) judgements: a reviewer read two
 * versions' replies to one customer message, without their names, and
 * said which was better.
 *
 * A judgement names both versions (model_a, model_b), their replies, the
 * customer message both answered, which reply was shown first ("Reply A"
 * on screen: shown_first 'a' or 'b', so order effects can be studied),
 * the verdict and the rater.  Per pair of versions the store counts wins,
 * ties, both-bad and losses; the statistics on them live in util/rank.h.
 *
 * Lists returned here are owned by the caller: free them with the
 * matching *_free, which accepts NULL.
 */
#ifndef FRONTDESK_ARENA_H
#define FRONTDESK_ARENA_H

#include "storage/db.h"

typedef enum {
    DB_ARENA_A,        /* model_a's reply was better */
    DB_ARENA_B,        /* model_b's reply was better */
    DB_ARENA_TIE,
    DB_ARENA_BOTH_BAD,
} db_arena_verdict;

/* "a", "b", "tie", "both_bad" <-> db_arena_verdict; false for an unknown name. */
const char *db_arena_verdict_name(db_arena_verdict v);
bool db_arena_verdict_parse(const char *s, db_arena_verdict *v);

typedef struct {
    const char *rater;          /* required                                   */
    int64_t prompt_message_id;  /* the customer message answered (0: none)    */
    int64_t model_a, model_b;   /* two different versions                     */
    int64_t reply_a, reply_b;   /* their replies (0: none)                    */
    char shown_first;           /* 'a' or 'b': whose reply was "Reply A"      */
    db_arena_verdict verdict;
    const char *comment;        /* may be NULL                                */
} db_arena_in;

/* Record a judgement (its id in *id, may be NULL).  DB_INVALID for an
 * empty rater, the same version twice, a shown_first or verdict out of
 * range; DB_NOTFOUND when a version does not exist. */
db_status db_arena_record(db *d, const db_arena_in *in, int64_t *id);
/* Replace judgement id's comment (NULL or "": none).  DB_NOTFOUND when
 * there is no such judgement. */
db_status db_arena_comment(db *d, int64_t id, const char *comment);

typedef struct {
    int64_t id;
    double at;
    char *rater, *comment;      /* comment may be NULL                        */
    int64_t prompt_message_id, model_a, model_b, reply_a, reply_b; /* 0: none */
    char shown_first;           /* 'a' or 'b'                                 */
    db_arena_verdict verdict;
} db_arena_judgement;

/* Every judgement, oldest first. */
db_status db_arena_list(db *d, db_arena_judgement **out, size_t *n);
void db_arena_judgements_free(db_arena_judgement *j, size_t n);

/* Per unordered pair of versions, lo < hi by id: how often lo's reply won,
 * tied, both were bad, and lo's reply lost.  Ordered by (lo, hi). */
typedef struct {
    int64_t lo, hi;
    int64_t wins, ties, both_bad, losses;
} db_arena_pair;
db_status db_arena_pairs(db *d, db_arena_pair **out, size_t *n);
void db_arena_pairs_free(db_arena_pair *p);

/* The customer message to judge next for versions a and b: the newest
 * active customer message below `before` (0: no bound) outside arena
 * conversations (profile "arena") that a reply followed, and that `rater`
 * has not judged for this pair yet.  DB_NOTFOUND when none is left. */
db_status db_arena_next_prompt(db *d, int64_t a, int64_t b, const char *rater, int64_t before, int64_t *id);

#endif
