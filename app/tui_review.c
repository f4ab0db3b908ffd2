/*
 * tui_review.c — the Review screen's data and actions: the queue of replies
 * (filters: outcome kind, model, date, tag, text, deployment arm; oldest
 * or lowest confidence first), the reply with its thread and provenance,
 * ratings saved at once, and undo.
 *
 * The queue is a snapshot of message ids taken when the screen opens or a
 * filter changes, so a reply scored out of the "unrated" queue stays
 * reachable with k until the queue is rebuilt.
 */
#include "app/tui.h"

#include "storage/metrics.h"
#include "util/util.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[] = {"unrated", "low-rated", "rated", "all replies"};
static const char *const date_names[] = {"any date", "today", "last 7 days"};
/* The arm filter's cycle; NULL: any arm. */
static const char *const arms[] = {NULL, "stable", "candidate", "pinned"};
#define N_ARMS (sizeof arms / sizeof *arms)

static void free_current(tui *t)
{
    db_msgs_free(t->r_thread, t->n_r_thread);
    free(t->r_turns);
    t->r_thread = NULL;
    t->r_turns = NULL;
    t->n_r_thread = 0;
}

void tui_review_free(tui *t)
{
    free_current(t);
    free(t->queue);
    db_models_free(t->r_models, t->n_r_models);
    free(t->r_search);
    free(t->r_tag);
    for (size_t i = 0; i < t->n_undo; i++) {
        free(t->undo[i].prev.rater);
        free(t->undo[i].prev.comment);
        for (size_t k = 0; k < t->undo[i].prev.n_tags; k++)
            free(t->undo[i].prev.tags[k]);
        free(t->undo[i].prev.tags);
    }
    free(t->undo);
    t->queue = NULL;
    t->r_models = NULL;
    t->undo = NULL;
}

/* "temp 0.8 · top-k 40 · top-p 0.95 · min-p 0.05 · seed 123" */
static void format_sampling(const char *json, char *out, size_t size)
{
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    if (!j) {
        snprintf(out, size, "%s", json ? json : "unknown");
        return;
    }
    snprintf(out, size, "temp %g · top-k %lld · top-p %g · min-p %g · repeat %g · seed %lld",
             json_real_value(json_object_get(j, "temperature")),
             (long long)json_integer_value(json_object_get(j, "top_k")),
             json_real_value(json_object_get(j, "top_p")), json_real_value(json_object_get(j, "min_p")),
             json_real_value(json_object_get(j, "repeat_penalty")),
             (long long)json_integer_value(json_object_get(j, "seed")));
    json_decref(j);
}

static void describe_rating(const db_rating *r, strbuf *sb)
{
    if (r->thumbs)
        sb_puts(sb, r->thumbs > 0 ? "👍 " : "👎 ");
    if (r->score)
        sb_printf(sb, "%d/5 ", r->score);
    for (size_t i = 0; i < r->n_tags; i++)
        sb_printf(sb, "#%s ", r->tags[i]);
    if (r->comment)
        sb_printf(sb, "“%s”", r->comment);
}

static void load_current(tui *t)
{
    review_view *v = &t->sv.review;
    free_current(t);
    int64_t unrated = 0, total = 0;
    db_review_counts(t->d, &unrated, &total);
    v->unrated = (size_t)unrated;
    v->total = (size_t)total;
    v->count = t->n_queue;
    v->pos = t->qpos;
    snprintf(t->r_filters, sizeof t->r_filters, "%s · %s · %s%s%s%s%s%s%s%s", kind_names[t->rq.kind],
             t->r_model_idx ? t->r_models[t->r_model_idx - 1].display_name : "all models",
             date_names[t->r_date], t->r_tag ? " · #" : "", t->r_tag ? t->r_tag : "",
             t->r_search ? " · “" : "", t->r_search ? t->r_search : "",
             t->rq.by_confidence ? " · lowest confidence first" : "", t->rq.arm ? " · arm " : "",
             t->rq.arm ? t->rq.arm : "");
    v->filters = t->r_filters;
    v->empty = t->qpos >= t->n_queue;
    v->scroll = 0;
    if (v->empty) {
        v->context = NULL;
        v->n_context = 0;
        return;
    }
    int64_t id = t->queue[t->qpos];
    if (db_msg_thread(t->d, id, &t->r_thread, &t->n_r_thread) != DB_OK) {
        tui_notice(t, true, "%s", db_errmsg(t->d));
        v->empty = true;
        return;
    }
    t->r_turns = xcalloc(t->n_r_thread, sizeof *t->r_turns);
    for (size_t i = 0; i < t->n_r_thread; i++) {
        const db_msg *m = &t->r_thread[i];
        t->r_turns[i] = (ui_turn){.id = m->id,
                                  .role = m->role == DB_ROLE_SYSTEM     ? UI_ROLE_SYSTEM
                                          : m->role == DB_ROLE_CUSTOMER ? UI_ROLE_CUSTOMER
                                                                        : UI_ROLE_AGENT,
                                  .text = m->text};
    }
    v->context = t->r_turns;
    v->n_context = t->n_r_thread;
    const db_msg *reply = &t->r_thread[t->n_r_thread - 1];

    db_conv c;
    if (db_conv_get(t->d, reply->conversation_id, &c) == DB_OK) {
        snprintf(t->r_title, sizeof t->r_title, "#%lld %s", (long long)c.id, c.title);
        db_conv_clear(&c);
    }
    v->conv_title = t->r_title;
    db_model m;
    if (reply->model_id && db_model_get(t->d, reply->model_id, &m) == DB_OK) {
        snprintf(t->r_model, sizeof t->r_model, "%s · %s · sha %.12s", m.display_name, m.quant ? m.quant : "?",
                 m.sha256 ? m.sha256 : m.key);
        db_model_clear(&m);
    } else
        snprintf(t->r_model, sizeof t->r_model, "unknown");
    v->model = t->r_model;
    format_sampling(reply->sampling, t->r_sampling, sizeof t->r_sampling);
    v->sampling = t->r_sampling;
    db_request *rq;
    size_t nr;
    t->r_figures[0] = 0;
    if (db_requests_for_message(t->d, reply->id, &rq, &nr) == DB_OK && nr) {
        const db_request *r = &rq[nr - 1];
        snprintf(t->r_figures, sizeof t->r_figures,
                 "%s · %.2f s · first token %.0f ms · prefill %.0f tok/s · decode %.1f tok/s · %d+%d tokens",
                 r->outcome, r->latency_ms / 1000.0, r->ttft_ms, r->prefill_tps, r->decode_tps, r->prompt_tokens,
                 r->gen_tokens);
        db_requests_free(rq, nr);
    } else {
        bool purged = false;
        if (db_request_figures_purged(t->d, reply->id, &purged) == DB_OK && purged)
            snprintf(t->r_figures, sizeof t->r_figures, "figures purged");
    }
    v->figures = t->r_figures;
    v->confidence = NULL;
    if (reply->has_logprob) {
        snprintf(t->r_confidence, sizeof t->r_confidence, "mean log-prob %.2f · lowest %.2f", reply->logprob_mean,
                 reply->logprob_min);
        v->confidence = t->r_confidence;
    }
    db_rating *ratings;
    size_t n;
    t->r_mine[0] = t->r_others[0] = 0;
    v->my_rating = v->others = NULL;
    if (db_ratings_get(t->d, reply->id, &ratings, &n) == DB_OK) {
        strbuf others = {0};
        for (size_t i = 0; i < n; i++) {
            strbuf sb = {0};
            describe_rating(&ratings[i], &sb);
            if (!strcmp(ratings[i].rater, t->cfg.rater)) {
                snprintf(t->r_mine, sizeof t->r_mine, "%s", sb.data ? sb.data : "");
                v->my_rating = t->r_mine;
            } else
                sb_printf(&others, "%s%s: %s", others.len ? "; " : "", ratings[i].rater, sb.data ? sb.data : "");
            sb_free(&sb);
        }
        if (others.len) {
            snprintf(t->r_others, sizeof t->r_others, "%s", others.data);
            v->others = t->r_others;
        }
        sb_free(&others);
        db_ratings_free(ratings, n);
    }
}

static void build_queue(tui *t)
{
    free(t->queue);
    t->queue = NULL;
    t->n_queue = t->qpos = 0;
    t->rq.model_id = t->r_model_idx ? t->r_models[t->r_model_idx - 1].id : 0;
    t->rq.since = 0;
    if (t->r_date == 1) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        t->rq.since = (double)mktime(&tm);
    } else if (t->r_date == 2)
        t->rq.since = db_now() - 7 * 86400.0;
    t->rq.tag = t->r_tag;
    t->rq.search = t->r_search;
    if (db_review_queue(t->d, &t->rq, &t->queue, &t->n_queue) != DB_OK)
        tui_notice(t, true, "%s", db_errmsg(t->d));
    load_current(t);
}

void tui_review_enter(tui *t)
{
    db_models_free(t->r_models, t->n_r_models);
    t->r_models = NULL;
    t->n_r_models = 0;
    db_models_list(t->d, &t->r_models, &t->n_r_models);
    if (t->r_model_idx > t->n_r_models)
        t->r_model_idx = 0;
    int64_t keep = t->qpos < t->n_queue ? t->queue[t->qpos] : 0;
    build_queue(t);
    for (size_t i = 0; i < t->n_queue; i++)
        if (t->queue[i] == keep) {
            t->qpos = i;
            load_current(t);
        }
}

/* Remember the rater's rating of the current reply before changing it. */
static void push_undo(tui *t, int64_t id)
{
    tui_undo u = {.message = id};
    db_rating *r;
    size_t n;
    if (db_ratings_get(t->d, id, &r, &n) == DB_OK) {
        for (size_t i = 0; i < n; i++)
            if (!strcmp(r[i].rater, t->cfg.rater)) {
                u.had = true;
                u.prev = r[i];
                memset(&r[i], 0, sizeof r[i]);
            }
        db_ratings_free(r, n);
    }
    t->undo = xreallocarray(t->undo, t->n_undo + 1, sizeof *t->undo);
    t->undo[t->n_undo++] = u;
}

static void rate(tui *t, const db_rating_in *in, const char *what)
{
    review_view *v = &t->sv.review;
    if (v->empty)
        return;
    int64_t id = t->queue[t->qpos];
    push_undo(t, id);
    if (db_rate(t->d, id, t->cfg.rater, in) != DB_OK) {
        tui_notice(t, true, "not saved: %s", db_errmsg(t->d));
        t->n_undo--;
        return;
    }
    snprintf(t->r_flash, sizeof t->r_flash, "saved: %s", what);
    load_current(t);
    v->flash = t->r_flash;
}

static void undo(tui *t)
{
    review_view *v = &t->sv.review;
    if (!t->n_undo) {
        tui_notice(t, true, "nothing to undo");
        return;
    }
    tui_undo u = t->undo[--t->n_undo];
    db_status st;
    if (u.had) {
        db_rating_in in = {.fields = DB_RATE_THUMBS | DB_RATE_SCORE | DB_RATE_TAGS | DB_RATE_COMMENT,
                           .thumbs = u.prev.thumbs,
                           .score = u.prev.score,
                           .tags = (const char *const *)u.prev.tags,
                           .n_tags = u.prev.n_tags,
                           .comment = u.prev.comment};
        st = db_rate(t->d, u.message, t->cfg.rater, &in);
    } else
        st = db_rating_delete(t->d, u.message, t->cfg.rater);
    free(u.prev.rater);
    free(u.prev.comment);
    for (size_t i = 0; i < u.prev.n_tags; i++)
        free(u.prev.tags[i]);
    free(u.prev.tags);
    if (st != DB_OK) {
        tui_notice(t, true, "undo failed: %s", db_errmsg(t->d));
        return;
    }
    for (size_t i = 0; i < t->n_queue; i++)
        if (t->queue[i] == u.message)
            t->qpos = i;
    snprintf(t->r_flash, sizeof t->r_flash, "undone");
    load_current(t);
    v->flash = t->r_flash;
}

void tui_review_action(tui *t, review_action a, int arg)
{
    review_view *v = &t->sv.review;
    v->flash = NULL;
    char what[64];
    switch (a) {
    case REVIEW_NONE: break;
    case REVIEW_SCORE: {
        db_rating_in in = {.fields = DB_RATE_SCORE, .score = arg};
        snprintf(what, sizeof what, "score %d", arg);
        rate(t, &in, what);
        break;
    }
    case REVIEW_THUMB_UP:
    case REVIEW_THUMB_DOWN: {
        db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = a == REVIEW_THUMB_UP ? 1 : -1};
        rate(t, &in, a == REVIEW_THUMB_UP ? "thumbs up" : "thumbs down");
        break;
    }
    case REVIEW_TAG:
        if (!v->empty) {
            t->ask = ASK_TAG;
            shell_prompt(&t->sv, "Add a tag", "");
        }
        break;
    case REVIEW_COMMENT:
        if (!v->empty) {
            t->ask = ASK_COMMENT;
            shell_prompt(&t->sv, "Comment", "");
        }
        break;
    case REVIEW_NEXT:
        if (t->qpos + 1 < t->n_queue) {
            t->qpos++;
            load_current(t);
        }
        break;
    case REVIEW_PREV:
        if (t->qpos > 0) {
            t->qpos--;
            load_current(t);
        }
        break;
    case REVIEW_UNDO: undo(t); break;
    case REVIEW_FILTER:
        t->rq.kind = (db_queue_kind)((t->rq.kind + 1) % 4);
        build_queue(t);
        break;
    case REVIEW_MODEL:
        t->r_model_idx = (t->r_model_idx + 1) % (t->n_r_models + 1);
        build_queue(t);
        break;
    case REVIEW_DATE:
        t->r_date = (t->r_date + 1) % 3;
        build_queue(t);
        break;
    case REVIEW_SEARCH:
        t->ask = ASK_SEARCH;
        shell_prompt(&t->sv, "Search replies and their conversations (empty: no search)", t->r_search ? t->r_search : "");
        break;
    case REVIEW_ORDER:
        t->rq.by_confidence = !t->rq.by_confidence;
        build_queue(t);
        break;
    case REVIEW_ARM: {
        size_t i = 0; /* rq.arm is always one of arms[] */
        while (i < N_ARMS && arms[i] != t->rq.arm)
            i++;
        t->rq.arm = arms[(i + 1) % N_ARMS];
        build_queue(t);
        break;
    }
    case REVIEW_TAG_FILTER:
        t->ask = ASK_TAG_FILTER;
        shell_prompt(&t->sv, "Only replies with the tag (empty: any)", t->r_tag ? t->r_tag : "");
        break;
    }
}

void tui_review_answer(tui *t, tui_ask ask, const char *text)
{
    if (ask == ASK_TAG && *text && t->qpos < t->n_queue) {
        /* add to the rater's tags */
        db_rating *r;
        size_t n;
        const char **tags = NULL;
        size_t nt = 0;
        if (db_ratings_get(t->d, t->queue[t->qpos], &r, &n) != DB_OK)
            return;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(r[i].rater, t->cfg.rater)) {
                tags = xcalloc(r[i].n_tags + 1, sizeof *tags);
                for (size_t k = 0; k < r[i].n_tags; k++)
                    tags[nt++] = r[i].tags[k];
            }
        if (!tags)
            tags = xcalloc(1, sizeof *tags);
        tags[nt++] = text;
        db_rating_in in = {.fields = DB_RATE_TAGS, .tags = tags, .n_tags = nt};
        char what[96];
        snprintf(what, sizeof what, "tag #%.80s", text);
        rate(t, &in, what);
        free(tags);
        db_ratings_free(r, n);
    } else if (ask == ASK_COMMENT) {
        db_rating_in in = {.fields = DB_RATE_COMMENT, .comment = text};
        rate(t, &in, *text ? "comment" : "comment cleared");
    } else if (ask == ASK_SEARCH || ask == ASK_TAG_FILTER) {
        char **slot = ask == ASK_SEARCH ? &t->r_search : &t->r_tag;
        free(*slot);
        *slot = *text ? xstrdup(text) : NULL;
        build_queue(t);
    }
}
