/*
 * arena_board.h — the arena's leaderboard, shared by `frontdesk arena` and
 * the Review screen's arena mode: from every blind side-by-side judgement
 * (storage/arena.h),
 *   per pair of versions: wins, ties, both-bad, losses (of the pair's
 *     first version, the lower id) and the two-sided sign test p on wins
 *     vs losses (ties and both-bad dropped);
 *   per version: the Bradley–Terry strength on the Elo scale with a 95%
 *     percentile-bootstrap interval (ARENA_BOOT resamples, seed
 *     ARENA_SEED: the same figures on every run), ties and both-bad half
 *     a win each way, and how many judgements it took part in.
 * The statistics are util/rank.h's.
 */
#ifndef FRONTDESK_ARENA_BOARD_H
#define FRONTDESK_ARENA_BOARD_H

#include "storage/db.h"
#include "util/util.h"

#include <jansson.h>

enum { ARENA_BOOT = 1000 };
#define ARENA_SEED 22u

typedef struct {
    int64_t lo, hi;               /* version ids, lo < hi                  */
    char lo_name[160], hi_name[160];
    int64_t wins, ties, both_bad, losses; /* lo's                          */
    double sign_p;                /* two-sided, ties and both-bad dropped */
} arena_board_pair;

typedef struct {
    int64_t id;
    char name[160];
    double elo, elo_lo, elo_hi;
    int64_t judgements;
} arena_board_version;

typedef struct {
    size_t n_judgements;
    arena_board_pair *pairs;      /* by (lo, hi)                           */
    size_t n_pairs;
    arena_board_version *versions; /* highest Elo first                    */
    size_t n_versions;
} arena_board;

/* Compute the board from the store.  0, or -1 with err. */
int arena_board_load(db *d, arena_board *out, char *err, size_t errlen);
void arena_board_free(arena_board *b); /* accepts a zeroed board */

/* {"judgements": N, "pairs": [{"a": {id, name}, "b": {...}, "wins", "ties",
 * "both_bad", "losses", "sign_p"}], "versions": [{id, name, elo, elo_lo,
 * elo_hi, judgements}], "bootstrap": {resamples, seed}} (new reference). */
json_t *arena_board_json(const arena_board *b);

/* The board as text for a person: lines ending in '\n' (names as stored:
 * the caller escapes them for its terminal). */
void arena_board_text(const arena_board *b, strbuf *out);

#endif
