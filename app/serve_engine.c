/*
 * serve_engine.c — the model versions `frontdesk serve` answers with: one
 * engine per version (weights, vocabulary, chat template, its own batch
 * scheduler), the pinned one made at start, the deployment's loaded when
 * first routed to (see serve.h).
 */
#include "app/deploy.h"
#include "app/serve.h"
#include "engine/gguf.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What answers call the model: general.name, else the file's name. */
static void display_name(const model *m, const char *path, char *out, size_t n)
{
    gguf_str s = {"", 0};
    if (gguf_get_str(m->file, "general.name", &s) && s.len > 0 && s.len < n) {
        snprintf(out, n, "%.*s", (int)s.len, s.ptr);
        return;
    }
    const char *base = path ? strrchr(path, '/') : NULL;
    snprintf(out, n, "%s", base ? base + 1 : path ? path : "model");
}

serve_engine *serve_engine_new(serve_ctx *s, int64_t model_id, model *m, tok_vocab *v, const char *path,
                               char *err, size_t errlen)
{
    serve_engine *e = xcalloc(1, sizeof *e);
    e->model_id = model_id;
    e->m = m;
    e->v = v;
    gguf_str tmpl = {"", 0};
    bool known;
    gguf_get_str(m->file, "tokenizer.chat_template", &tmpl);
    e->tmpl = chat_tmpl_detect(tmpl.ptr, (size_t)tmpl.len, &known);
    db_model dm;
    pthread_mutex_lock(&s->db_mu);
    db_status st = db_model_get(s->d, model_id, &dm);
    if (st != DB_OK)
        util_errf(err, errlen, "%s", db_errmsg(s->d));
    pthread_mutex_unlock(&s->db_mu);
    if (st != DB_OK) {
        serve_engine_free(e);
        return NULL;
    }
    snprintf(e->sha256, sizeof e->sha256, "%s", dm.sha256 ? dm.sha256 : "");
    db_model_clear(&dm);
    snprintf(e->fingerprint, sizeof e->fingerprint, "fd-%.12s", e->sha256);
    display_name(m, path, e->model_name, sizeof e->model_name);
    if (!(e->b = batch_new(m, v, &s->bo, err, errlen))) {
        serve_engine_free(e);
        return NULL;
    }
    serve_metrics_version(&s->metrics, model_id, e->model_name, e->sha256); /* its series from now on */
    return e;
}

void serve_engine_free(serve_engine *e)
{
    if (!e)
        return;
    batch_free(e->b);
    tok_free(e->v);
    model_free(e->m);
    free(e);
}

serve_engine *serve_engine_get(serve_ctx *s, int64_t model_id, char *err, size_t errlen)
{
    pthread_mutex_lock(&s->eng_mu);
    serve_engine *e = NULL;
    for (int i = 0; i < s->n_eng && !e; i++)
        if (s->eng[i]->model_id == model_id)
            e = s->eng[i];
    if (e || atomic_load(&s->stopping)) {
        if (!e)
            util_errf(err, errlen, "the server is stopping");
        pthread_mutex_unlock(&s->eng_mu);
        return e;
    }
    if (s->n_eng == SERVE_ENGINES) {
        util_errf(err, errlen, "this server already serves %d versions; restart it to serve others", SERVE_ENGINES);
        pthread_mutex_unlock(&s->eng_mu);
        return NULL;
    }
    deploy_version dv;
    pthread_mutex_lock(&s->db_mu);
    int rc = deploy_version_load(s->d, model_id, s->cfg, &dv, err, errlen);
    db_model dm = {0};
    if (rc == 0)
        db_model_get(s->d, model_id, &dm);
    pthread_mutex_unlock(&s->db_mu);
    if (rc == 0 && dv.remote) {
        util_errf(err, errlen, "version %s is a remote server (%s); serve answers with local versions only",
                  dv.name, dv.url);
        rc = -1;
    }
    if (rc == 0) {
        e = serve_engine_new(s, model_id, dv.m, dv.v, dm.path, err, errlen);
        dv.m = NULL; /* the engine owns them now (freed with it, or by it on failure) */
        dv.v = NULL;
        if (e)
            s->eng[s->n_eng++] = e;
    }
    db_model_clear(&dm);
    deploy_version_free(&dv);
    pthread_mutex_unlock(&s->eng_mu);
    return e;
}
