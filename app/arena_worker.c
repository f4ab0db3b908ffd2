/*
 * arena_worker.c — the arena's generation thread (see arena_worker.h).
 * Shared state is a mutex-protected block; the thread owns its database
 * connection, the two loaded versions and their forward contexts.  A
 * change of versions (arena_worker_set) bumps `gen`, so a pair finished
 * for the old ones is dropped rather than shown.
 */
#include "app/arena_worker.h"

#include "app/deploy.h"
#include "app/reply.h"
#include "app/store.h"
#include "engine/forward.h"
#include "storage/arena.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "util/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    deploy_version v;
    fwd_ctx *ctx;
} loaded;

struct arena_worker {
    const config *cfg;
    char *db_path;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool cancel;
    loaded versions[2];     /* the thread's own */
    /* under mu */
    bool quit, set, busy, ready, exhausted, failed;
    uint64_t gen;
    int64_t a, b, cursor;
    char rater[128];
    arena_pair pair;
    char error[512];
};

/* splitmix64: the per-pair draw of which reply is shown first. */
static uint64_t mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int context_size(const config *cfg, const model *m)
{
    int n_ctx = cfg->n_ctx;
    if (m->hp.n_ctx_train && (uint32_t)n_ctx > m->hp.n_ctx_train)
        n_ctx = (int)m->hp.n_ctx_train;
    return n_ctx;
}

/* Version id loaded (kept in one of two slots). */
static loaded *load(arena_worker *w, db *d, int64_t id, int slot, char *err, size_t errlen)
{
    loaded *l = &w->versions[slot];
    if (l->v.id == id && (l->v.m || l->v.remote))
        return l;
    fwd_free(l->ctx);
    deploy_version_free(&l->v);
    memset(l, 0, sizeof *l);
    if (deploy_version_load(d, id, w->cfg, &l->v, err, errlen) != 0)
        return NULL;
    if (l->v.m && !(l->ctx = fwd_new(l->v.m, context_size(w->cfg, l->v.m), w->cfg->threads, err, errlen))) {
        deploy_version_free(&l->v);
        memset(l, 0, sizeof *l);
        return NULL;
    }
    return l;
}

static bool on_text(void *ud, const char *text, size_t len)
{
    store_reply_text(ud, text, len);
    return true;
}

static const char *chat_role(db_role r)
{
    return r == DB_ROLE_SYSTEM ? "system" : r == DB_ROLE_CUSTOMER ? "user" : "assistant";
}

/* Copy thread[0..n) (ending with the customer message) into a new arena
 * conversation pinned to version l, and generate its reply there. */
static int answer(arena_worker *w, db *d, const db_msg *thread, size_t n, loaded *l, int64_t *conv,
                  int64_t *reply, char *err, size_t errlen)
{
    size_t first = n && thread[0].role == DB_ROLE_SYSTEM ? 1 : 0;
    if (db_conv_create(d, DB_PROFILE_ARENA, first ? thread[0].text : NULL, conv) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return -1;
    }
    for (size_t i = first; i < n; i++) {
        int64_t id;
        if (db_msg_add(d, *conv, thread[i].role, thread[i].text, &id) != DB_OK) {
            util_errf(err, errlen, "%s", db_errmsg(d));
            return -1;
        }
    }
    deploy_route route;
    if (deploy_route_conv(d, *conv, l->v.id, &route, err, errlen) != DB_OK)
        return -1;

    reply_backend be;
    if (l->v.remote)
        be = (reply_backend){.remote = &l->v.ro};
    else {
        gguf_str s = {"", 0};
        bool known;
        gguf_get_str(l->v.m->file, "tokenizer.chat_template", &s);
        be = (reply_backend){.m = l->v.m, .v = l->v.v, .ctx = l->ctx, .n_ctx = context_size(w->cfg, l->v.m),
                             .tmpl = chat_tmpl_detect(s.ptr, (size_t)s.len, &known)};
    }
    sampler_params sp = w->cfg->sampling;
    sp.seed = mix((uint64_t)(db_now() * 1e6) ^ (uint64_t)getpid());
    char *sampling = store_sampling_json(&sp, w->cfg->max_tokens, w->cfg->n_ctx);
    store_reply rec;
    db_status st = store_reply_begin(&rec, d, *conv, l->v.id, reply_backend_name(&be), sampling, 0, 0);
    free(sampling);
    if (st != DB_OK) {
        util_errf(err, errlen, "%s", rec.err);
        return -1;
    }
    *reply = rec.message;
    db_request_set_source(d, rec.request, "arena");
    chat_msg *msgs = xcalloc(n + 1, sizeof *msgs);
    for (size_t i = 0; i < n; i++)
        msgs[i] = (chat_msg){.role = chat_role(thread[i].role), .content = thread[i].text};
    reply_opts ro = {.sampling = sp, .max_tokens = w->cfg->max_tokens, .cancel = &w->cancel,
                     .on_text = on_text, .ud = &rec};
    reply_result res;
    memset(&res, 0, sizeof res);
    int rc = reply_run(&be, msgs, n, &ro, &res);
    free(msgs);
    bool empty = rec.text.len == 0;
    db_outcome o = res.r.outcome;
    if (store_reply_end(&rec, &res.r) != DB_OK && rc == 0) {
        util_errf(err, errlen, "the reply could not be saved: %.400s", rec.err);
        return -1;
    }
    if (rc != 0 || o != DB_OUTCOME_OK) {
        util_errf(err, errlen, "%s", o == DB_OUTCOME_CANCELLED ? "cancelled" : res.error);
        return -1;
    }
    if (empty) {
        util_errf(err, errlen, "version %s gave an empty reply", l->v.name);
        return -1;
    }
    return 0;
}

/* One pair for prompt: both answers, the order drawn.  0, or -1 with err. */
static int make_pair(arena_worker *w, db *d, int64_t prompt, int64_t a, int64_t b, arena_pair *p, char *err,
                     size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->prompt = prompt;
    p->model[0] = a;
    p->model[1] = b;
    db_msg *thread = NULL;
    size_t n = 0;
    if (db_msg_thread(d, prompt, &thread, &n) != DB_OK) {
        util_errf(err, errlen, "%s", db_errmsg(d));
        return -1;
    }
    int rc = 0;
    for (int side = 0; side < 2 && rc == 0; side++) {
        loaded *l = load(w, d, p->model[side], side, err, errlen);
        rc = l ? answer(w, d, thread, n, l, &p->conv[side], &p->reply[side], err, errlen) : -1;
    }
    db_msgs_free(thread, n);
    p->shown_first = mix((uint64_t)prompt ^ (uint64_t)(db_now() * 1e6)) & 1 ? 'b' : 'a';
    return rc;
}

static void *thread_main(void *arg)
{
    arena_worker *w = arg;
    char err[512] = "";
    db *d = NULL;
    if (store_db_open(&d, w->db_path, err, sizeof err) != DB_OK)
        d = NULL;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->quit && !(w->set && !w->ready && !w->exhausted && !w->failed))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        uint64_t gen = w->gen;
        int64_t a = w->a, b = w->b, cursor = w->cursor;
        char rater[128];
        snprintf(rater, sizeof rater, "%s", w->rater);
        w->busy = true;
        pthread_mutex_unlock(&w->mu);

        arena_pair p;
        int64_t prompt = 0;
        db_status st = d ? db_arena_next_prompt(d, a, b, rater, cursor, &prompt) : DB_ERR;
        int rc = -1;
        if (st == DB_OK)
            rc = make_pair(w, d, prompt, a, b, &p, err, sizeof err);
        else if (d && st != DB_NOTFOUND)
            util_errf(err, sizeof err, "%s", db_errmsg(d));

        pthread_mutex_lock(&w->mu);
        w->busy = false;
        if (gen == w->gen) {
            if (st == DB_NOTFOUND)
                w->exhausted = true;
            else if (rc == 0) {
                w->pair = p;
                w->ready = true;
                w->cursor = prompt;
            } else {
                w->failed = true;
                w->cursor = prompt ? prompt : w->cursor; /* the next try moves on */
                snprintf(w->error, sizeof w->error, "%s", err);
            }
        }
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
    }
    for (int i = 0; i < 2; i++) {
        fwd_free(w->versions[i].ctx);
        deploy_version_free(&w->versions[i].v);
    }
    db_close(d);
    return NULL;
}

arena_worker *arena_worker_start(const char *db_path, const config *cfg, char *err, size_t errlen)
{
    arena_worker *w = xcalloc(1, sizeof *w);
    w->cfg = cfg;
    w->db_path = xstrdup(db_path);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        util_errf(err, errlen, "cannot start the arena thread");
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w->db_path);
        free(w);
        return NULL;
    }
    return w;
}

void arena_worker_stop(arena_worker *w)
{
    if (!w)
        return;
    atomic_store(&w->cancel, true);
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->db_path);
    free(w);
}

void arena_worker_set(arena_worker *w, int64_t a, int64_t b, const char *rater)
{
    pthread_mutex_lock(&w->mu);
    w->gen++;
    w->set = true;
    w->a = a;
    w->b = b;
    w->cursor = 0;
    w->ready = w->exhausted = w->failed = false;
    w->error[0] = 0;
    snprintf(w->rater, sizeof w->rater, "%s", rater ? rater : "");
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool arena_worker_take(arena_worker *w, arena_pair *out, arena_worker_status *st)
{
    pthread_mutex_lock(&w->mu);
    bool got = w->ready;
    if (got) {
        *out = w->pair;
        w->ready = false;
        pthread_cond_broadcast(&w->cv);
    }
    if (st) {
        st->busy = w->busy;
        st->exhausted = w->exhausted && !got;
        snprintf(st->error, sizeof st->error, "%s", w->failed ? w->error : "");
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}
