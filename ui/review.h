/*
 * review.h — the Review screen: one model reply at a time from a queue,
 * with the conversation context above it and what produced it beside.
 *
 * app/ builds the queue from the store (filters below) and fills the
 * view; review_key() returns what the reviewer asked for.  Ratings are
 * saved by app/ as soon as they are given.
 *
 * Keys: 1-5 score, + / - thumbs, t add tag, c comment, j / k or Down / Up
 * next / previous, u undo the last rating, f cycle the filter (unrated,
 * low-rated, all rated, all), m cycle the model filter, d cycle the date
 * filter (any, today, 7 days), / search text, g tag filter, o cycle the
 * order (oldest first, lowest confidence first), a cycle the deployment
 * arm filter (any, stable, candidate, pinned), PgUp/PgDn scroll.
 */
#ifndef FRONTDESK_UI_REVIEW_H
#define FRONTDESK_UI_REVIEW_H

#include "ui/chat.h"
#include "ui/frame.h"
#include "ui/key.h"

typedef struct {
    /* ---- data, set by app/ ---- */
    bool empty;                /* no reply passes the filters           */
    const ui_turn *context;    /* the thread, the reply last             */
    size_t n_context;
    const char *conv_title;
    const char *model;         /* "SmolLM2 · Q8_0 · sha 1a2b3c4d5e6f"   */
    const char *sampling;      /* "temp 0.8 · top-k 40 · top-p 0.95 ..." */
    const char *figures;       /* "1.2 s · first token 180 ms · 41 tok/s" */
    const char *confidence;    /* "mean log-prob -0.42 · lowest -3.10", or
                                  NULL: unknown (the line is left out)   */
    const char *my_rating;     /* "👍 4 #polite “short”" or NULL         */
    const char *others;        /* other raters, one line, or NULL        */
    size_t pos, count;         /* reply pos+1 of count in the queue      */
    size_t unrated, total;     /* "N of M unrated" over the whole store  */
    const char *filters;       /* "unrated · all models · any date"; the
                                  order and arm when not the defaults:
                                  "... · lowest confidence first · arm
                                  candidate"                             */
    const char *flash;         /* a transient note: "saved", "undone"    */

    /* ---- UI state ---- */
    int scroll;                /* context lines scrolled up (negative:
                                  down into a reply taller than the
                                  screen)                                */
} review_view;

typedef enum {
    REVIEW_NONE,
    REVIEW_SCORE,       /* score in *arg (1..5)                          */
    REVIEW_THUMB_UP,
    REVIEW_THUMB_DOWN,
    REVIEW_TAG,         /* ask for a tag                                 */
    REVIEW_COMMENT,     /* ask for a comment                             */
    REVIEW_NEXT,
    REVIEW_PREV,
    REVIEW_UNDO,
    REVIEW_FILTER,      /* cycle the outcome filter                      */
    REVIEW_MODEL,       /* cycle the model filter                        */
    REVIEW_DATE,        /* cycle the date filter                         */
    REVIEW_SEARCH,      /* ask for a search text                         */
    REVIEW_TAG_FILTER,  /* ask for a tag to filter by                    */
    REVIEW_ORDER,       /* cycle the order: oldest, lowest confidence   */
    REVIEW_ARM,         /* cycle the arm filter                          */
} review_action;

void review_init(review_view *v);
review_action review_key(review_view *v, ui_key k, int *arg);
void review_render(const review_view *v, ui_frame *f, int x, int y, int w, int h);

extern const char *const review_help[];

#endif
