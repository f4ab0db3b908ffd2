/*
 * arena_worker.h — the thread that prepares blind side-by-side (arena)
 * pairs while the reviewer reads the current one.
 *
 * A pair is one customer message (storage/arena.h db_arena_next_prompt:
 * the newest one with a reply, not yet judged by this rater for these two
 * versions) answered by two versions.  Each answer is a new conversation
 * of its own (profile "arena", the thread up to that customer message
 * copied, so the original conversation is untouched), pinned to its
 * version (arm "pinned"), whose reply's request row is tagged "arena"
 * (left out of the traffic figures).  Which reply is shown as "Reply A"
 * is drawn per pair (shown_first).
 *
 * The worker keeps one pair ready beyond the one taken: the UI takes a
 * pair, and the next is generated while it is read.  The thread has its
 * own database connection and loads the two versions on first use.
 */
#ifndef FRONTDESK_ARENA_WORKER_H
#define FRONTDESK_ARENA_WORKER_H

#include "app/config.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct arena_worker arena_worker;

typedef struct {
    int64_t prompt;        /* the customer message both versions answered */
    int64_t model[2];      /* [0] = version a, [1] = version b            */
    int64_t conv[2];       /* their arena conversations                   */
    int64_t reply[2];      /* their replies                               */
    char shown_first;      /* 'a' or 'b': whose reply is "Reply A"        */
} arena_pair;

/* Start the thread (idle until arena_worker_set).  cfg is not owned and
 * must outlive the worker.  NULL with err on failure. */
arena_worker *arena_worker_start(const char *db_path, const config *cfg, char *err, size_t errlen);
/* Cancel any generation and join; accepts NULL. */
void arena_worker_stop(arena_worker *w);

/* Judge versions a and b as `rater` from now on: pairs prepared for
 * anything else are dropped, and preparation starts again from the newest
 * customer message. */
void arena_worker_set(arena_worker *w, int64_t a, int64_t b, const char *rater);

typedef struct {
    bool busy;             /* a pair is being generated                   */
    bool exhausted;        /* no customer message is left to judge        */
    char error[512];       /* the last pair failed: why ("" none)         */
} arena_worker_status;

/* Take the ready pair into *out (true), or false when none is ready yet;
 * taking one starts the next.  st (may be NULL) gets the status. */
bool arena_worker_take(arena_worker *w, arena_pair *out, arena_worker_status *st);

#endif
