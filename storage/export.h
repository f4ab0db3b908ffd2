/*
 * export.h — choosing rated replies for fine-tuning data.
 *
 * db_export calls back once per rated agent reply that passes the filter,
 * oldest first, with the thread that led to it; app/ writes the format.
 * With several raters a reply passes --min-score N when every score given
 * is at least N (and one was given), and a thumbs filter when some rater
 * gave that thumb and none gave the other.
 */
#ifndef FRONTDESK_EXPORT_H
#define FRONTDESK_EXPORT_H

#include "storage/chats.h"
#include "storage/ratings.h"

typedef struct {
    int min_score; /* 1..5, 0 = any                                       */
    int thumbs;    /* +1 up, -1 down, 0 any                                */
    double since;  /* replies created at or after (epoch seconds), 0 = any */
} db_export_filter;

typedef struct {
    const db_msg *thread; /* system/customer/agent turns, the reply last */
    size_t n_thread;
    const db_model *model; /* the model that produced the reply (NULL if unknown) */
    const db_rating *ratings;
    size_t n_ratings;
} db_export_item;

/* fn returns false to stop early.  The item's memory is valid during the
 * call only. */
typedef bool (*db_export_fn)(void *ud, const db_export_item *it);

db_status db_export(db *d, const db_export_filter *f, db_export_fn fn, void *ud);

#endif
