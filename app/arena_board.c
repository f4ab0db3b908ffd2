/*
 * arena_board.c — the arena's leaderboard (see arena_board.h): the store's
 * counts and judgements turned into sign tests and Bradley–Terry Elo.
 */
#include "app/arena_board.h"

#include "storage/arena.h"
#include "storage/chats.h"
#include "util/rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void version_name(db *d, int64_t id, char *out, size_t size)
{
    db_model m;
    if (db_model_get(d, id, &m) == DB_OK) {
        snprintf(out, size, "%s", m.display_name);
        db_model_clear(&m);
    } else
        snprintf(out, size, "#%lld", (long long)id);
}

/* The index of version id in b->versions, added when new. */
static int version_index(db *d, arena_board *b, int64_t id)
{
    for (size_t i = 0; i < b->n_versions; i++)
        if (b->versions[i].id == id)
            return (int)i;
    b->versions = xreallocarray(b->versions, b->n_versions + 1, sizeof *b->versions);
    arena_board_version *v = &b->versions[b->n_versions];
    memset(v, 0, sizeof *v);
    v->id = id;
    version_name(d, id, v->name, sizeof v->name);
    return (int)b->n_versions++;
}

static int by_elo(const void *pa, const void *pb)
{
    const arena_board_version *a = pa, *b = pb;
    if (a->elo != b->elo)
        return a->elo < b->elo ? 1 : -1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int arena_board_load(db *d, arena_board *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    db_arena_pair *p = NULL;
    size_t np = 0;
    if (db_arena_pairs(d, &p, &np) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return -1;
    }
    out->pairs = xcalloc(np ? np : 1, sizeof *out->pairs);
    out->n_pairs = np;
    for (size_t i = 0; i < np; i++) {
        arena_board_pair *q = &out->pairs[i];
        q->lo = p[i].lo;
        q->hi = p[i].hi;
        q->wins = p[i].wins;
        q->ties = p[i].ties;
        q->both_bad = p[i].both_bad;
        q->losses = p[i].losses;
        q->sign_p = rank_sign_test(q->wins, q->losses);
        version_name(d, q->lo, q->lo_name, sizeof q->lo_name);
        version_name(d, q->hi, q->hi_name, sizeof q->hi_name);
    }
    db_arena_pairs_free(p);

    db_arena_judgement *j = NULL;
    size_t nj = 0;
    if (db_arena_list(d, &j, &nj) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        arena_board_free(out);
        return -1;
    }
    out->n_judgements = nj;
    rank_match *m = xcalloc(nj ? nj : 1, sizeof *m);
    for (size_t k = 0; k < nj; k++) {
        int a = version_index(d, out, j[k].model_a), b = version_index(d, out, j[k].model_b);
        out->versions[a].judgements++;
        out->versions[b].judgements++;
        m[k] = (rank_match){.i = a, .j = b,
                            .outcome = j[k].verdict == DB_ARENA_A   ? 1.0
                                       : j[k].verdict == DB_ARENA_B ? 0.0
                                                                    : 0.5};
    }
    db_arena_judgements_free(j, nj);
    if (out->n_versions) {
        rank_bt bt;
        memset(&bt, 0, sizeof bt);
        if (rank_bt_fit(m, nj, (int)out->n_versions, ARENA_BOOT, ARENA_SEED, &bt) != 0) {
            free(m);
            util_errf(err, errlen, "the Bradley–Terry fit failed");
            arena_board_free(out);
            return -1;
        }
        for (size_t i = 0; i < out->n_versions; i++) {
            out->versions[i].elo = bt.elo[i];
            out->versions[i].elo_lo = bt.elo_lo ? bt.elo_lo[i] : bt.elo[i];
            out->versions[i].elo_hi = bt.elo_hi ? bt.elo_hi[i] : bt.elo[i];
        }
        rank_bt_free(&bt);
        qsort(out->versions, out->n_versions, sizeof *out->versions, by_elo);
    }
    free(m);
    return 0;
}

void arena_board_free(arena_board *b)
{
    if (!b)
        return;
    free(b->pairs);
    free(b->versions);
    memset(b, 0, sizeof *b);
}

static json_t *version_ref(int64_t id, const char *name)
{
    return json_pack("{s:I, s:s}", "id", (json_int_t)id, "name", name);
}

json_t *arena_board_json(const arena_board *b)
{
    json_t *pairs = json_array(), *versions = json_array();
    for (size_t i = 0; i < b->n_pairs; i++) {
        const arena_board_pair *p = &b->pairs[i];
        json_array_append_new(pairs, json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:f}", "a",
                                               version_ref(p->lo, p->lo_name), "b", version_ref(p->hi, p->hi_name),
                                               "wins", (json_int_t)p->wins, "ties", (json_int_t)p->ties,
                                               "both_bad", (json_int_t)p->both_bad, "losses",
                                               (json_int_t)p->losses, "sign_p", p->sign_p));
    }
    for (size_t i = 0; i < b->n_versions; i++) {
        const arena_board_version *v = &b->versions[i];
        json_array_append_new(versions, json_pack("{s:I, s:s, s:f, s:f, s:f, s:I}", "id", (json_int_t)v->id,
                                                  "name", v->name, "elo", v->elo, "elo_lo", v->elo_lo, "elo_hi",
                                                  v->elo_hi, "judgements", (json_int_t)v->judgements));
    }
    return json_pack("{s:I, s:o, s:o, s:{s:i, s:I}}", "judgements", (json_int_t)b->n_judgements, "pairs", pairs,
                     "versions", versions, "bootstrap", "resamples", ARENA_BOOT, "seed", (json_int_t)ARENA_SEED);
}

void arena_board_text(const arena_board *b, strbuf *out)
{
    if (!b->n_judgements) {
        sb_puts(out, "No arena judgements yet: judge pairs in the Review screen's arena mode (A).\n");
        return;
    }
    sb_printf(out, "%zu judgement%s\n\n", b->n_judgements, b->n_judgements == 1 ? "" : "s");
    sb_puts(out, "Pairs (the first version's wins; sign test two-sided, ties and both-bad dropped)\n");
    sb_printf(out, "  %-22s %-22s %5s %5s %5s %6s %8s\n", "VERSION", "AGAINST", "WINS", "TIES", "BAD", "LOSSES",
              "SIGN p");
    for (size_t i = 0; i < b->n_pairs; i++) {
        const arena_board_pair *p = &b->pairs[i];
        sb_printf(out, "  %-22.22s %-22.22s %5lld %5lld %5lld %6lld %8.4g\n", p->lo_name, p->hi_name,
                  (long long)p->wins, (long long)p->ties, (long long)p->both_bad, (long long)p->losses, p->sign_p);
    }
    sb_printf(out, "\nVersions (Bradley–Terry on the Elo scale, 95%% bootstrap interval, %d resamples;\n"
                   "ties and both-bad half a win each way)\n", ARENA_BOOT);
    sb_printf(out, "  %-22s %7s %17s %10s\n", "VERSION", "ELO", "95% INTERVAL", "JUDGEMENTS");
    for (size_t i = 0; i < b->n_versions; i++) {
        const arena_board_version *v = &b->versions[i];
        char ci[40];
        snprintf(ci, sizeof ci, "[%.0f, %.0f]", v->elo_lo, v->elo_hi);
        sb_printf(out, "  %-22.22s %7.0f %17s %10lld\n", v->name, v->elo, ci, (long long)v->judgements);
    }
}
