/*
 * ratings.h — reviewers' ratings of agent replies.
 *
 * One rating per (reply, rater) with independent fields: thumbs (up, down
 * or none), a 1-5 score (or none), tags and a comment.  Rating again
 * changes only the fields given; the others keep their values.  A reply
 * stays *unrated* — in the review queue — until someone gives it a 1-5
 * score; a thumb alone does not take it out.  Replies in arena
 * conversations (profile DB_PROFILE_ARENA, storage/chats.h) are judged side
 * by side instead: never in the queue, never counted here.
 */
#ifndef FRONTDESK_RATINGS_H
#define FRONTDESK_RATINGS_H

#include "storage/db.h"

enum {
    DB_RATE_THUMBS = 1 << 0,
    DB_RATE_SCORE = 1 << 1,
    DB_RATE_TAGS = 1 << 2, /* the given tags replace the rater's earlier ones */
    DB_RATE_COMMENT = 1 << 3,
};

typedef struct {
    unsigned fields;        /* which of the below to set (DB_RATE_*)        */
    int thumbs;             /* +1 up, -1 down, 0 none                        */
    int score;              /* 1..5, or 0 for none                           */
    const char *const *tags;
    size_t n_tags;
    const char *comment;    /* NULL or "" clears it                          */
} db_rating_in;

/* Rate agent reply message_id as rater.  DB_NOTFOUND for an unknown
 * message, DB_INVALID for a message that is not an agent reply or a value
 * out of range (nothing is written then). */
db_status db_rate(db *d, int64_t message_id, const char *rater, const db_rating_in *r);

typedef struct {
    char *rater;
    int thumbs, score; /* score 0 = none */
    char **tags;
    size_t n_tags;
    char *comment;     /* NULL when none */
    double created_at, updated_at;
} db_rating;

/* Every rating of a message, by rater name. */
db_status db_ratings_get(db *d, int64_t message_id, db_rating **out, size_t *n);
void db_ratings_free(db_rating *r, size_t n); /* accepts NULL */

/* ---- The review queue ------------------------------------------------------- */

typedef enum {
    DB_QUEUE_UNRATED, /* no 1-5 score from anyone (the default)           */
    DB_QUEUE_LOW,     /* some score <= 2, or a thumbs down                */
    DB_QUEUE_RATED,   /* has a score                                      */
    DB_QUEUE_ALL,     /* every reply                                      */
} db_queue_kind;

typedef struct {
    db_queue_kind kind;
    int64_t model_id;   /* 0 = any                                         */
    double since;       /* replies created at or after; 0 = any            */
    const char *tag;    /* some rater gave this tag (NULL = any)           */
    const char *search; /* the reply or its conversation contains it (NULL) */
    const char *arm;    /* the conversation's deployment arm: "stable",
                           "candidate" or "pinned" (NULL = any)            */
    bool by_confidence; /* lowest confidence (logprob_mean) first, those
                           without one last; else oldest first           */
} db_queue_filter;

/* Agent replies with text, outside arena conversations, that pass the
 * filter (ids), oldest first or by
 * confidence (ties oldest first).  DB_INVALID for an arm not named
 * above. */
db_status db_review_queue(db *d, const db_queue_filter *f, int64_t **ids, size_t *n);
/* Replies with text in the whole store outside arena conversations, and
 * how many of them are unrated. */
db_status db_review_counts(db *d, int64_t *unrated, int64_t *total);
/* Delete rater's rating of message_id (undo of a first rating). */
db_status db_rating_delete(db *d, int64_t message_id, const char *rater);

#endif
