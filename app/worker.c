/*
 * worker.c — the generation thread (see worker.h).  The thread owns its
 * forward context, sampler and database connection; the model and
 * vocabulary are shared read-only with the UI thread.  Shared state is a
 * mutex-protected block; the UI copies it, never holds the lock while
 * drawing.
 */
#include "app/worker.h"

#include "app/compare.h"
#include "app/deploy.h"
#include "app/reply.h"
#include "app/store.h"
#include "engine/chat_template.h"
#include "engine/forward.h"
#include "storage/chats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Versions the deployment sent replies to, loaded on first use and kept
 * (the least recently used one goes when a fourth is needed). */
enum { WORKER_VERSIONS = 3 };
typedef struct {
    deploy_version v;
    fwd_ctx *ctx;
    double used;
} loaded_version;

struct worker {
    const model *m;
    const tok_vocab *v;
    int64_t model_id, remote_id;
    const remote_opts *remote;
    bool fallback;
    bool pinned;            /* the configured backend was given on the command line */
    loaded_version versions[WORKER_VERSIONS]; /* the worker thread's own */
    const config *cfg;
    char *db_path;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool cancel;
    /* under mu */
    bool quit, pending, busy, finished;
    int64_t conv, replaces, message;
    double queued_at;
    strbuf text;
    double live_tps;
    int dropped;
    db_outcome outcome;
    char error[512];
    char version[200];      /* "NAME (arm)" of the last reply's version */
    char guard[300];        /* why the guard stopped the canary, until polled */
};

typedef struct {
    worker *w;
    store_reply *rec;
    double t_first;
    int n_tokens;
} stream_ctx;

static bool on_text(void *ud, const char *text, size_t len)
{
    stream_ctx *s = ud;
    store_reply_text(s->rec, text, len);
    pthread_mutex_lock(&s->w->mu);
    sb_append(&s->w->text, text, len);
    pthread_mutex_unlock(&s->w->mu);
    return true;
}

static void on_token(void *ud, int32_t id)
{
    (void)id;
    stream_ctx *s = ud;
    double now = util_now();
    if (s->n_tokens++ == 0)
        s->t_first = now;
    double tps = s->n_tokens > 1 && now > s->t_first ? (s->n_tokens - 1) / (now - s->t_first) : 0;
    pthread_mutex_lock(&s->w->mu);
    s->w->live_tps = tps;
    pthread_mutex_unlock(&s->w->mu);
}

static void finish(worker *w, db_outcome o, const char *error)
{
    pthread_mutex_lock(&w->mu);
    w->busy = false;
    w->finished = true;
    w->outcome = o;
    snprintf(w->error, sizeof w->error, "%.500s", error ? error : "");
    pthread_mutex_unlock(&w->mu);
}

/* One reply: rows, the conversation, the backend (and its fallback), rows
 * completed. */
static int context_size(const worker *w, const model *m)
{
    int n_ctx = w->cfg->n_ctx;
    if (m->hp.n_ctx_train && (uint32_t)n_ctx > m->hp.n_ctx_train)
        n_ctx = (int)m->hp.n_ctx_train;
    return n_ctx;
}

static reply_backend local_backend(const worker *w, const model *m, const tok_vocab *v, fwd_ctx *ctx)
{
    gguf_str s = {"", 0};
    bool known;
    gguf_get_str(m->file, "tokenizer.chat_template", &s);
    return (reply_backend){.m = m, .v = v, .ctx = ctx, .n_ctx = context_size(w, m),
                           .tmpl = chat_tmpl_detect(s.ptr, (size_t)s.len, &known)};
}

/* The deployment's version id, loaded (once) with its context. */
static loaded_version *version_for(worker *w, db *d, int64_t id, char *err, size_t errlen)
{
    loaded_version *lv = NULL;
    for (int i = 0; i < WORKER_VERSIONS && !lv; i++)
        if (w->versions[i].v.id == id && (w->versions[i].v.m || w->versions[i].v.remote))
            lv = &w->versions[i];
    if (!lv) {
        lv = &w->versions[0];
        for (int i = 1; i < WORKER_VERSIONS; i++)
            if (w->versions[i].used < lv->used)
                lv = &w->versions[i];
        fwd_free(lv->ctx);
        deploy_version_free(&lv->v);
        memset(lv, 0, sizeof *lv);
        if (deploy_version_load(d, id, w->cfg, &lv->v, err, errlen) != 0)
            return NULL;
        if (lv->v.m && !(lv->ctx = fwd_new(lv->v.m, context_size(w, lv->v.m), w->cfg->threads, err, errlen))) {
            deploy_version_free(&lv->v);
            lv->v.id = 0;
            return NULL;
        }
    }
    lv->used = util_now();
    return lv;
}

static void run_job(worker *w, db *d, fwd_ctx *ctx, int64_t conv, int64_t replaces, double queued_at)
{
    store_reply rec;
    sampler_params sp = w->cfg->sampling;
    sp.seed = (uint64_t)(db_now() * 1e6) ^ (uint64_t)getpid();
    reply_backend local = {0}, remote = {.remote = w->remote};
    if (w->m)
        local = local_backend(w, w->m, w->v, ctx);
    const reply_backend *primary = w->remote ? &remote : &local;
    int64_t model_id = w->remote ? w->remote_id : w->model_id;
    bool fallback = w->fallback;

    /* The deployment decides unless the command line pinned a version. */
    deploy_route route;
    char err0[600];
    if (deploy_route_conv(d, conv, w->pinned ? model_id : 0, &route, err0, sizeof err0) != DB_OK) {
        finish(w, DB_OUTCOME_ERROR, err0);
        return;
    }
    if (route.routed && !w->pinned) {
        loaded_version *lv = version_for(w, d, route.model_id, err0, sizeof err0);
        if (!lv) {
            finish(w, DB_OUTCOME_ERROR, err0);
            return;
        }
        if (lv->v.remote)
            remote = (reply_backend){.remote = &lv->v.ro};
        else
            local = local_backend(w, lv->v.m, lv->v.v, lv->ctx);
        primary = lv->v.remote ? &remote : &local;
        model_id = route.model_id;
        fallback = false;
    }
    if (!route.routed && !w->m && !w->remote) {
        finish(w, DB_OUTCOME_ERROR, "no model: nothing is deployed and no model is configured");
        return;
    }
    pthread_mutex_lock(&w->mu);
    db_model dm;
    if (route.routed && db_model_get(d, route.model_id, &dm) == DB_OK) {
        snprintf(w->version, sizeof w->version, "%s (%s)", dm.display_name, route.arm);
        db_model_clear(&dm);
    } else
        w->version[0] = 0;
    pthread_mutex_unlock(&w->mu);

    char *sampling = store_sampling_json(&sp, w->cfg->max_tokens, w->cfg->n_ctx);
    db_status st = store_reply_begin(&rec, d, conv, model_id, reply_backend_name(primary), sampling, replaces,
                                     (util_now() - queued_at) * 1000.0);
    free(sampling);
    if (st != DB_OK) {
        finish(w, DB_OUTCOME_ERROR, rec.err);
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->message = rec.message;
    pthread_mutex_unlock(&w->mu);

    db_msg *rows = NULL;
    size_t n_rows = 0, n = 0;
    chat_msg *msgs = NULL;
    reply_result res;
    memset(&res, 0, sizeof res);
    int rc = -1;
    if (db_msgs_list(d, conv, false, &rows, &n_rows) != DB_OK) {
        snprintf(res.error, sizeof res.error, "%s", db_errmsg(d));
        res.r = (db_request_result){.outcome = DB_OUTCOME_ERROR, .error = res.error, .prompt_tokens = -1,
                                    .gen_tokens = -1, .ttft_ms = -1, .prefill_ms = -1, .decode_ms = -1};
    } else {
        msgs = xcalloc(n_rows + 1, sizeof *msgs);
        for (size_t i = 0; i < n_rows; i++) {
            if (rows[i].role == DB_ROLE_AGENT && !*rows[i].text)
                continue; /* the reply being written */
            msgs[n].role = rows[i].role == DB_ROLE_SYSTEM     ? "system"
                           : rows[i].role == DB_ROLE_CUSTOMER ? "user"
                                                              : "assistant";
            msgs[n++].content = rows[i].text;
        }
        stream_ctx sc = {.w = w, .rec = &rec};
        reply_opts ro = {.sampling = sp, .max_tokens = w->cfg->max_tokens, .cancel = &w->cancel,
                         .on_text = on_text, .on_token = on_token, .ud = &sc};
        rc = reply_run(primary, msgs, n, &ro, &res);
        if (rc != 0 && primary == &remote && fallback && w->m && !rec.text.len &&
            res.r.outcome != DB_OUTCOME_CANCELLED) {
            store_reply_switch(&rec, &res.r, w->model_id, "local");
            rc = reply_run(&local, msgs, n, &ro, &res);
        }
        pthread_mutex_lock(&w->mu);
        w->dropped = (int)res.dropped;
        pthread_mutex_unlock(&w->mu);
    }
    res.r.latency_ms = (util_now() - queued_at) * 1000.0;
    db_outcome o = res.r.outcome;
    char err[600];
    snprintf(err, sizeof err, "%s", res.error);
    if (store_reply_end(&rec, &res.r) != DB_OK && o == DB_OUTCOME_OK) {
        o = DB_OUTCOME_ERROR;
        snprintf(err, sizeof err, "the reply could not be saved: %.400s", rec.err);
    }
    free(msgs);
    db_msgs_free(rows, n_rows);
    char why[300];
    if (compare_guard_check(d, w->cfg, why, sizeof why) == 1) { /* a store failure: the next check's */
        pthread_mutex_lock(&w->mu);
        snprintf(w->guard, sizeof w->guard, "%s", why);
        pthread_mutex_unlock(&w->mu);
    }
    finish(w, o, o == DB_OUTCOME_OK || o == DB_OUTCOME_CANCELLED ? NULL : err);
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    char err[512];
    db *d = NULL;
    fwd_ctx *ctx = NULL;
    if (store_db_open(&d, w->db_path, err, sizeof err) == DB_OK && w->m) {
        int n_ctx = w->cfg->n_ctx;
        if (w->m->hp.n_ctx_train && (uint32_t)n_ctx > w->m->hp.n_ctx_train)
            n_ctx = (int)w->m->hp.n_ctx_train;
        ctx = fwd_new(w->m, n_ctx, w->cfg->threads, err, sizeof err);
    }
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->quit && !w->pending)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->quit) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        int64_t conv = w->conv, replaces = w->replaces;
        double queued_at = w->queued_at;
        w->pending = false;
        pthread_mutex_unlock(&w->mu);
        if (!d || (w->m && !ctx))
            finish(w, DB_OUTCOME_ERROR, err);
        else
            run_job(w, d, ctx, conv, replaces, queued_at);
    }
    fwd_free(ctx);
    for (int i = 0; i < WORKER_VERSIONS; i++) {
        fwd_free(w->versions[i].ctx);
        deploy_version_free(&w->versions[i].v);
    }
    db_close(d);
    return NULL;
}

worker *worker_start(const char *db_path, const model *m, const tok_vocab *v, int64_t local_id,
                     const remote_opts *remote, int64_t remote_id, bool fallback, bool pinned, const config *cfg,
                     char *err, size_t errlen)
{
    worker *w = xcalloc(1, sizeof *w);
    w->pinned = pinned;
    w->m = m;
    w->v = v;
    w->model_id = local_id;
    w->remote = remote;
    w->remote_id = remote_id;
    w->fallback = fallback;
    w->cfg = cfg;
    w->db_path = xstrdup(db_path);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, thread_main, w) != 0) {
        util_errf(err, errlen, "cannot start the generation thread");
        free(w->db_path);
        free(w);
        return NULL;
    }
    return w;
}

void worker_stop(worker *w)
{
    if (!w)
        return;
    atomic_store(&w->cancel, true);
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    sb_free(&w->text);
    free(w->db_path);
    free(w);
}

bool worker_submit(worker *w, int64_t conv, int64_t replaces)
{
    pthread_mutex_lock(&w->mu);
    bool ok = !w->busy;
    if (ok) {
        w->busy = w->pending = true;
        w->conv = conv;
        w->replaces = replaces;
        w->message = 0;
        w->queued_at = util_now();
        w->live_tps = 0;
        w->dropped = 0;
        sb_clear(&w->text);
        atomic_store(&w->cancel, false);
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return ok;
}

void worker_cancel(worker *w)
{
    atomic_store(&w->cancel, true);
}

void worker_poll(worker *w, worker_state *s)
{
    pthread_mutex_lock(&w->mu);
    s->busy = w->busy;
    s->conv = w->conv;
    s->message = w->message;
    s->text = w->text.len ? xstrndup(w->text.data, w->text.len) : NULL;
    s->live_tps = w->live_tps;
    s->dropped = w->dropped;
    s->finished = w->finished;
    s->outcome = w->outcome;
    snprintf(s->error, sizeof s->error, "%s", w->error);
    snprintf(s->version, sizeof s->version, "%s", w->version);
    snprintf(s->guard, sizeof s->guard, "%s", w->guard);
    w->guard[0] = 0;
    w->finished = false;
    pthread_mutex_unlock(&w->mu);
}
