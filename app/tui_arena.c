/*
 * tui_arena.c — the Review screen's arena mode (ui/arena.h): which two
 * versions are compared, the pairs the arena worker prepares
 * (app/arena_worker.h), the blind judgement recorded (storage/arena.h)
 * with the order shown, the names revealed only after it, and the
 * leaderboard page (app/arena_board.h).
 *
 * The versions: the deployment's stable and candidate; without a
 * candidate, the stable and the most recently used other version; without
 * a deployment, the two most recently used versions; [deploy]
 * arena_versions = "A, B" chooses any two instead.
 */
#include "app/arena_board.h"
#include "app/arena_worker.h"
#include "app/tui.h"

#include "storage/arena.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

struct tui_arena {
    arena_worker *w;
    int64_t a, b;            /* the two versions (0: none found)            */
    bool have;               /* a pair is shown                             */
    arena_pair pair;
    int shown[2];            /* pair side behind Reply A, Reply B           */
    char *customer, *reply[2];
    char names[2][160];      /* shown order                                 */
    char earlier[40], tally[80], status[600], verdict[40];
    char *comment;           /* given before judging: saved with it         */
    int64_t judgement;       /* 0: not judged yet                           */
    int judged;              /* this session                                */
    char **board;
    size_t n_board;
};

static void free_pair(struct tui_arena *s)
{
    free(s->customer);
    free(s->reply[0]);
    free(s->reply[1]);
    free(s->comment);
    s->customer = s->reply[0] = s->reply[1] = s->comment = NULL;
    s->have = false;
    s->judgement = 0;
    s->verdict[0] = 0;
}

static void free_board(struct tui_arena *s)
{
    for (size_t i = 0; i < s->n_board; i++)
        free(s->board[i]);
    free(s->board);
    s->board = NULL;
    s->n_board = 0;
}

void tui_arena_free(tui *t)
{
    struct tui_arena *s = t->arena;
    if (!s)
        return;
    arena_worker_stop(s->w);
    free_pair(s);
    free_board(s);
    free(s);
    t->arena = NULL;
}

/* Fill the view from the state. */
static void show(tui *t)
{
    struct tui_arena *s = t->arena;
    arena_view *v = &t->sv.review_arena;
    snprintf(s->tally, sizeof s->tally, "judged %d this session", s->judged);
    v->tally = s->tally;
    v->status = s->status;
    v->customer = s->have ? s->customer : NULL;
    v->earlier = s->have && s->earlier[0] ? s->earlier : NULL;
    v->reply[0] = s->have ? s->reply[0] : NULL;
    v->reply[1] = s->have ? s->reply[1] : NULL;
    v->revealed = s->have && s->judgement;
    v->name[0] = v->revealed ? s->names[0] : NULL; /* never handed over before judging */
    v->name[1] = v->revealed ? s->names[1] : NULL;
    v->verdict = v->revealed ? s->verdict : NULL;
    v->comment = v->revealed ? s->comment : NULL;
    v->board_lines = (const char *const *)s->board;
    v->n_board = s->n_board;
}

/* The one version q names (a name or SHA-256 prefix), else 0 with why. */
static int64_t named_version(tui *t, const char *q, char *why, size_t len)
{
    db_model *m = NULL;
    size_t n = 0;
    int64_t id = 0;
    if (db_models_match(t->d, q, &m, &n) != DB_OK)
        snprintf(why, len, "%s", db_errmsg(t->d));
    else if (n > 1)
        snprintf(why, len, "'%s' names %zu versions: give more of the SHA-256", q, n);
    else
        id = m[0].id;
    db_models_free(m, n);
    return id;
}

/* [deploy] arena_versions = "A, B": the two versions chosen; false (with a
 * notice) when it is set but does not name two versions. */
static bool configured_versions(tui *t, struct tui_arena *s)
{
    const char *spec = t->cfg.deploy_arena_versions;
    if (!spec || !*spec)
        return false;
    const char *comma = strchr(spec, ',');
    char a[160], b[160], why[300] = "";
    if (!comma) {
        tui_notice(t, true, "[deploy] arena_versions is \"A, B\": two versions, not '%s'", spec);
        return false;
    }
    snprintf(a, sizeof a, "%.*s", (int)(comma - spec), spec);
    snprintf(b, sizeof b, "%s", comma + 1);
    char *pa = a, *pb = b;
    while (*pa == ' ')
        pa++;
    while (*pb == ' ')
        pb++;
    for (char *e = pa + strlen(pa); e > pa && e[-1] == ' ';)
        *--e = 0;
    for (char *e = pb + strlen(pb); e > pb && e[-1] == ' ';)
        *--e = 0;
    int64_t ia = named_version(t, pa, why, sizeof why), ib = ia ? named_version(t, pb, why, sizeof why) : 0;
    if (!ia || !ib || ia == ib) {
        tui_notice(t, true, "[deploy] arena_versions: %s", *why ? why : "the two versions are the same");
        return false;
    }
    s->a = ia;
    s->b = ib;
    return true;
}

static void choose_versions(tui *t, struct tui_arena *s)
{
    db_deployment dep;
    db_model *m = NULL;
    size_t n = 0;
    s->a = s->b = 0;
    if (configured_versions(t, s))
        return;
    if (db_deployment_get(t->d, &dep) == DB_OK) {
        s->a = dep.stable_id;
        s->b = dep.candidate_id;
    }
    if (!s->b && db_models_list(t->d, &m, &n) == DB_OK) {
        for (size_t i = 0; i < n && !s->b; i++) {
            if (!s->a)
                s->a = m[i].id;
            else if (m[i].id != s->a)
                s->b = m[i].id;
        }
    }
    db_models_free(m, n);
}

static void load_pair(tui *t, const arena_pair *p);

/* Take the worker's pair when one is ready; load its texts. */
void tui_arena_update(tui *t)
{
    struct tui_arena *s = t->arena;
    if (!s || !t->sv.review_arena.active || s->have || !s->w) {
        if (s)
            show(t);
        return;
    }
    arena_worker_status st;
    arena_pair p;
    if (!arena_worker_take(s->w, &p, &st)) {
        if (st.error[0])
            snprintf(s->status, sizeof s->status, "Could not prepare a pair: %.500s (n: try again)",
                     st.error);
        else if (st.exhausted)
            snprintf(s->status, sizeof s->status,
                     "No customer message is left to judge for these two versions (n: look again).");
        else
            snprintf(s->status, sizeof s->status, "Preparing a pair: both versions are answering a customer…");
        show(t);
        return;
    }
    load_pair(t, &p);
}

/* Show pair p: Reply A is the side p->shown_first names. */
static void load_pair(tui *t, const arena_pair *pp)
{
    struct tui_arena *s = t->arena;
    arena_pair p = *pp;
    free_pair(s);
    s->pair = p;
    s->shown[0] = p.shown_first == 'a' ? 0 : 1;
    s->shown[1] = 1 - s->shown[0];
    db_msg *thread = NULL, r;
    size_t n = 0;
    if (db_msg_thread(t->d, p.prompt, &thread, &n) != DB_OK || !n) {
        snprintf(s->status, sizeof s->status, "%s", db_errmsg(t->d));
        db_msgs_free(thread, n);
        show(t);
        return;
    }
    s->customer = xstrdup(thread[n - 1].text);
    size_t earlier = 0;
    for (size_t i = 0; i + 1 < n; i++)
        earlier += thread[i].role != DB_ROLE_SYSTEM;
    s->earlier[0] = 0;
    if (earlier)
        snprintf(s->earlier, sizeof s->earlier, "%zu earlier turn%s", earlier, earlier == 1 ? "" : "s");
    db_msgs_free(thread, n);
    for (int i = 0; i < 2; i++) {
        int side = s->shown[i];
        memset(&r, 0, sizeof r);
        s->reply[i] = db_msg_get(t->d, p.reply[side], &r) == DB_OK ? xstrdup(r.text) : xstrdup("(the reply is gone)");
        if (r.id == p.reply[side])
            db_msg_clear(&r);
        db_model m;
        if (db_model_get(t->d, p.model[side], &m) == DB_OK) {
            snprintf(s->names[i], sizeof s->names[i], "%s", m.display_name);
            db_model_clear(&m);
        } else
            snprintf(s->names[i], sizeof s->names[i], "version %lld", (long long)p.model[side]);
    }
    s->have = true;
    t->sv.review_arena.scroll = 0;
    show(t);
}

void tui_arena_enter(tui *t)
{
    if (!t->arena)
        t->arena = xcalloc(1, sizeof *t->arena);
    struct tui_arena *s = t->arena;
    arena_view *v = &t->sv.review_arena;
    v->active = true;
    v->board = false;
    choose_versions(t, s);
    if (!s->a || !s->b) {
        snprintf(s->status, sizeof s->status,
                 "The arena compares two versions: deploy one and start a canary with another "
                 "(F4, or frontdesk deploy / canary).");
        free_pair(s);
        show(t);
        return;
    }
    char err[512];
    if (!s->w && !(s->w = arena_worker_start(t->db_path, &t->cfg, err, sizeof err))) {
        snprintf(s->status, sizeof s->status, "%s", err);
        show(t);
        return;
    }
    if (!s->have || s->pair.model[0] != s->a || s->pair.model[1] != s->b) {
        free_pair(s);
        arena_worker_set(s->w, s->a, s->b, t->cfg.rater);
    }
    tui_arena_update(t);
}

void tui_arena_versions(const tui *t, int64_t *a, int64_t *b)
{
    *a = t->arena ? t->arena->a : 0;
    *b = t->arena ? t->arena->b : 0;
}

void tui_arena_show_pair(tui *t, const arena_pair *p)
{
    if (!t->arena)
        t->arena = xcalloc(1, sizeof *t->arena);
    t->sv.review_arena.active = true;
    t->sv.review_arena.board = false;
    t->arena->a = p->model[0];
    t->arena->b = p->model[1];
    load_pair(t, p);
}

static void judge(tui *t, int shown_better, db_arena_verdict plain, const char *words)
{
    struct tui_arena *s = t->arena;
    if (!s->have)
        return;
    if (s->judgement) {
        tui_notice(t, false, "already judged: n for the next pair");
        return;
    }
    db_arena_verdict v = plain;
    if (shown_better >= 0)
        v = s->shown[shown_better] == 0 ? DB_ARENA_A : DB_ARENA_B;
    db_arena_in in = {.rater = t->cfg.rater, .prompt_message_id = s->pair.prompt,
                      .model_a = s->pair.model[0], .model_b = s->pair.model[1],
                      .reply_a = s->pair.reply[0], .reply_b = s->pair.reply[1],
                      .shown_first = s->pair.shown_first, .verdict = v, .comment = s->comment};
    if (db_arena_record(t->d, &in, &s->judgement) != DB_OK) {
        tui_notice(t, true, "not saved: %s", db_errmsg(t->d));
        s->judgement = 0;
        return;
    }
    s->judged++;
    snprintf(s->verdict, sizeof s->verdict, "%s", words);
    show(t);
}

static void load_board(tui *t)
{
    struct tui_arena *s = t->arena;
    free_board(s);
    arena_board b;
    char err[600];
    strbuf sb = {0};
    if (arena_board_load(t->d, &b, err, sizeof err) != 0)
        sb_puts(&sb, err);
    else {
        arena_board_text(&b, &sb);
        arena_board_free(&b);
    }
    const char *p = sb.data ? sb.data : "";
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        s->board = xreallocarray(s->board, s->n_board + 1, sizeof *s->board);
        s->board[s->n_board++] = xstrndup(p, len);
        p += len + (e != NULL);
    }
    sb_free(&sb);
}

void tui_arena_key(tui *t, ui_key k)
{
    struct tui_arena *s = t->arena;
    arena_view *v = &t->sv.review_arena;
    switch (arena_key(v, k)) {
    case ARENA_NONE: break;
    case ARENA_A_BETTER: judge(t, 0, DB_ARENA_A, "Reply A better"); break;
    case ARENA_B_BETTER: judge(t, 1, DB_ARENA_B, "Reply B better"); break;
    case ARENA_TIE: judge(t, -1, DB_ARENA_TIE, "a tie"); break;
    case ARENA_BOTH_BAD: judge(t, -1, DB_ARENA_BOTH_BAD, "both bad"); break;
    case ARENA_COMMENT:
        if (s && s->have) {
            t->ask = ASK_ARENA_COMMENT;
            shell_prompt(&t->sv, "Comment on this pair", s->comment ? s->comment : "");
        }
        break;
    case ARENA_NEXT:
        if (!s)
            break;
        if (s->have && !s->judgement) {
            tui_notice(t, false, "judge this pair first: 1, 2, t or x");
            break;
        }
        if (s->have) {
            free_pair(s);
            tui_arena_update(t);
        } else
            tui_arena_enter(t); /* none left, or it failed: look again */
        break;
    case ARENA_BOARD:
        v->board = !v->board;
        if (v->board && s)
            load_board(t);
        if (s)
            show(t);
        break;
    case ARENA_LEAVE:
        v->active = false;
        tui_review_enter(t);
        break;
    }
}

void tui_arena_answer(tui *t, const char *text)
{
    struct tui_arena *s = t->arena;
    if (!s || !s->have)
        return;
    free(s->comment);
    s->comment = *text ? xstrdup(text) : NULL;
    if (s->judgement && db_arena_comment(t->d, s->judgement, s->comment) != DB_OK)
        tui_notice(t, true, "comment not saved: %s", db_errmsg(t->d));
    else
        tui_notice(t, false, s->judgement ? "comment saved" : "comment kept: saved with the judgement");
    show(t);
}
