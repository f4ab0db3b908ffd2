/*
 * serve.h — what `frontdesk serve` shares between its files: the server's
 * state (cmd_serve.c builds it), the request handler (serve.c) and the
 * Prometheus figures (serve_metrics.c).
 */
#ifndef FRONTDESK_SERVE_H
#define FRONTDESK_SERVE_H

#include "app/config.h"
#include "engine/batch.h"
#include "engine/chat_template.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "net/httpd.h"
#include "storage/db.h"
#include "storage/rollup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- Figures since the server started (GET /metrics) --------------------------- */

/* The outcomes serve records: ok, error, cancelled (SM_OUTCOMES order). */
enum { SM_OUTCOMES = 3 };

/* One version's figures, per outcome, in storage/rollup.h's shape (the
 * per-bound counts on the same bounds `stats --prometheus` uses). */
typedef struct {
    int64_t model_id;
    char name[256];
    char sha256[13];                        /* the first 12 hex digits         */
    db_rollup_total by_outcome[SM_OUTCOMES];
    int64_t rejected;                       /* of the errors: every slot busy,
                                             * the queue full                  */
} sm_version;

enum { SM_VERSIONS = 4 }; /* as many as SERVE_ENGINES */

typedef struct {
    pthread_mutex_t mu;
    sm_version v[SM_VERSIONS];              /* registered as versions load     */
    int n_v;
    int64_t bad_requests;                   /* 4xx answers of any endpoint     */
    int64_t feedback;
} serve_metrics;

void serve_metrics_init(serve_metrics *m);
void serve_metrics_free(serve_metrics *m);
/* A version being served: its series are exported (at 0) from now on. */
void serve_metrics_version(serve_metrics *m, int64_t model_id, const char *name, const char *sha256);
/* One finished completion of version model_id: its outcome ("ok", "error",
 * "cancelled") and figures (ms; < 0 unknown); rejected: turned away busy. */
void serve_metrics_add(serve_metrics *m, int64_t model_id, const char *outcome, bool rejected, int prompt_tokens,
                       int gen_tokens, double latency_ms, double ttft_ms);
void serve_metrics_count(serve_metrics *m, int64_t *counter);
/* The text exposition format (free with free()); loads[i] is the scheduler
 * of version ids[i]. */
char *serve_metrics_text(serve_metrics *m, const batch_load *loads, const int64_t *ids, int n);

/* ---- The server ------------------------------------------------------------------ */

/* One model version being served: its weights, its own batch scheduler
 * (replies of different versions are never batched together). */
typedef struct {
    int64_t model_id;
    model *m;
    tok_vocab *v;
    chat_tmpl tmpl;
    batch *b;
    char sha256[65];
    char model_name[256];   /* what answers say in "model"               */
    char fingerprint[32];   /* "fd-" + the SHA-256's first 12 digits      */
} serve_engine;

enum { SERVE_ENGINES = SM_VERSIONS };

typedef struct {
    const config *cfg;
    int n_ctx;
    batch_opts bo;
    db *d;                  /* one connection, used under db_mu          */
    pthread_mutex_t db_mu;
    /* The versions loaded: the pinned one (--model), or those the
     * deployment routes to, loaded on first use; never unloaded while
     * serving.  Lock order: eng_mu, then db_mu. */
    serve_engine *eng[SERVE_ENGINES];
    int n_eng;
    pthread_mutex_t eng_mu;
    bool pinned;            /* --model given: arm "pinned"; else the deployment decides */
    int64_t default_id;     /* --model's version, or (nothing deployed at start) the
                             * configured one; 0 when none                */
    const char *api_key;    /* NULL: none asked                          */
    int64_t started;        /* Unix seconds                              */
    atomic_bool stopping;
    atomic_int in_flight;   /* completions not yet answered in full      */
    serve_metrics metrics;
} serve_ctx;

/* The httpd handler; ud is the serve_ctx. */
void serve_handle(void *ud, httpd_req *r);

/* What a request's method and path ask for (serve_handle answers /health
 * before it checks the API key, everything else after).  Paths are exact:
 * libmicrohttpd has already cut the query and decoded the URL. */
typedef enum {
    SERVE_ROUTE_HEALTH,     /* /health, any method                            */
    SERVE_ROUTE_CHAT,       /* POST /v1/chat/completions                      */
    SERVE_ROUTE_FEEDBACK,   /* POST /v1/feedback                              */
    SERVE_ROUTE_MODELS,     /* GET /v1/models                                 */
    SERVE_ROUTE_METRICS,    /* GET /metrics                                   */
    SERVE_ROUTE_NEEDS_POST, /* one of the POST paths by another method: 405   */
    SERVE_ROUTE_NEEDS_GET,  /* one of the GET paths by another method: 405    */
    SERVE_ROUTE_NOT_FOUND,  /* 404                                            */
} serve_route;
serve_route serve_route_of(const char *method, const char *path);

/* The engine of version model_id, loaded (and its scheduler started) on
 * first use: a local version whose file still has its SHA-256.  NULL with
 * err (a remote version, a changed file, too many versions). */
serve_engine *serve_engine_get(serve_ctx *s, int64_t model_id, char *err, size_t errlen);
/* A loaded model as an engine (takes m and v); NULL with err. */
serve_engine *serve_engine_new(serve_ctx *s, int64_t model_id, model *m, tok_vocab *v, const char *path,
                               char *err, size_t errlen);
void serve_engine_free(serve_engine *e);

#endif
