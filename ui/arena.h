/*
 * arena.h — the Review screen's arena mode: blind side-by-side review.
 * One customer message and two replies to it, "Reply A" and "Reply B",
 * from two versions whose names stay hidden until the reviewer has
 * judged; then they are shown.  A second page shows the leaderboard.
 *
 * app/ fills the view (which reply is "A" was drawn per pair; the view
 * only ever sees the shown order) and acts on what arena_key returns.
 *
 * Keys: 1 Reply A better, 2 Reply B better, t tie, x both bad, c comment
 * (after judging: on the judgement), n next pair, L leaderboard (again:
 * back), j / k or Down / Up and PgUp / PgDn scroll the replies, Esc leaves
 * arena mode (from the leaderboard: back to the pair).
 */
#ifndef FRONTDESK_UI_ARENA_H
#define FRONTDESK_UI_ARENA_H

#include "ui/chat.h"
#include "ui/frame.h"
#include "ui/key.h"

typedef struct {
    bool active;                /* arena mode is on (the Review screen draws this) */

    /* ---- data, set by app/ ---- */
    const char *status;         /* no pair to show: why ("preparing…", "none left", an error) */
    const char *customer;       /* the customer's message both replies answer */
    const char *earlier;        /* "3 earlier turns" above it, or NULL        */
    const char *reply[2];       /* the text of Reply A and Reply B            */
    bool revealed;              /* judged: the names below are shown          */
    const char *name[2];        /* the versions behind Reply A and Reply B     */
    const char *verdict;        /* "Reply A better" once judged, else NULL    */
    const char *comment;        /* the judgement's comment, or NULL           */
    const char *tally;          /* "judged 3 this session", right of the title */
    bool board;                 /* show the leaderboard page                  */
    const char *const *board_lines; /* its lines                              */
    size_t n_board;

    /* ---- UI state ---- */
    int scroll;                 /* reply lines scrolled (both columns)        */
} arena_view;

typedef enum {
    ARENA_NONE,
    ARENA_A_BETTER,
    ARENA_B_BETTER,
    ARENA_TIE,
    ARENA_BOTH_BAD,
    ARENA_COMMENT,
    ARENA_NEXT,
    ARENA_BOARD,     /* toggle the leaderboard page                        */
    ARENA_LEAVE,     /* Esc: leave arena mode                              */
} arena_action;

arena_action arena_key(arena_view *v, ui_key k);
void arena_render(const arena_view *v, ui_frame *f, int x, int y, int w, int h);

extern const char *const arena_help[];

#endif
