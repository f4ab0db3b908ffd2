/*
 * cmd_serve.c — `frontdesk serve`: the desk's model endpoint, an
 * OpenAI-compatible HTTP server (net/httpd.h) over the batch scheduler
 * (engine/batch.h), recording every conversation in the store like ask
 * does (app/serve.c answers the requests).
 *
 * Settings: the options, else [serve], [model] and [sampling] of the
 * config file.  SIGINT / SIGTERM stop gracefully: no new connections,
 * running replies get [serve] stop_grace_s to finish (then are cancelled),
 * each is recorded, exit 0.
 */
#include "app/alerts.h"
#include "app/cli.h"
#include "app/config.h"
#include "app/serve.h"
#include "app/store.h"
#include "engine/gguf.h"
#include "storage/deploy.h"
#include "util/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char cmd_serve_usage[] =
    "usage: frontdesk serve [--host ADDR] [--port N] [--model FILE] [--parallel N] [--max-queue N]\n"
    "                       [--ctx N] [--threads N] [--db PATH|URL] [--config FILE]\n"
    "\n"
    "An OpenAI-compatible HTTP server on the local model, with continuous batching:\n"
    "  POST /v1/chat/completions   streamed (SSE) or whole replies\n"
    "  GET  /v1/models             the versions served (SHA-256, role: stable, candidate, pinned)\n"
    "  POST /v1/feedback           {\"id\": \"chatcmpl-...\", \"thumbs\": \"up\"|\"down\", \"score\": 1-5,\n"
    "                              \"comment\": \"...\", \"rater\": \"...\"}: a rating of that reply\n"
    "  GET  /health                200 ready, 503 stopping\n"
    "  GET  /metrics               Prometheus text format\n"
    "Every conversation is recorded in the store (history, review, dashboard); the\n"
    "X-Frontdesk-Conversation response header is the token that continues one.\n"
    "\n"
    "  --host ADDR      address to bind (default [serve] host, 127.0.0.1); another than\n"
    "                   loopback needs an API key ([serve] api_key_env names its variable)\n"
    "  --port N         port (default [serve] port, 8080; 0 picks a free one)\n"
    "  --model FILE     GGUF model, pinned: every reply comes from it.  Without it the\n"
    "                   deployment decides (frontdesk deploy, canary), or with nothing\n"
    "                   deployed [model] path, else the built-in model; a request whose\n"
    "                   \"model\" names a version (name or SHA-256 prefix) is pinned to it\n"
    "  --parallel N     replies generated together (default [serve] parallel, 4)\n"
    "  --max-queue N    requests waiting for a slot before 503 (default [serve] max_queue, 64)\n"
    "  --ctx N          context of each reply (default [model] context, 2048)\n"
    "  --threads N      threads (default [model] threads, the cores)\n"
    "  --db PATH|URL    database: a file or a postgresql:// URL without a password (default\n"
    "                   $FRONTDESK_DB, else [store] url, else ~/.local/share/frontdesk/frontdesk.db)\n"
    "  --config FILE    configuration file\n";

typedef struct {
    const char *host, *model_path, *db_path, *config_path;
    long port, parallel, max_queue, n_ctx, threads;
} serve_args;

static int parse_args(int argc, char **argv, serve_args *a)
{
    enum { O_HOST = 256, O_PORT, O_MODEL, O_PAR, O_QUEUE, O_CTX, O_THREADS, O_DB, O_CONFIG, O_HELP };
    static const struct option opts[] = {
        {"host", required_argument, NULL, O_HOST},     {"port", required_argument, NULL, O_PORT},
        {"model", required_argument, NULL, O_MODEL},   {"parallel", required_argument, NULL, O_PAR},
        {"max-queue", required_argument, NULL, O_QUEUE}, {"ctx", required_argument, NULL, O_CTX},
        {"threads", required_argument, NULL, O_THREADS}, {"db", required_argument, NULL, O_DB},
        {"config", required_argument, NULL, O_CONFIG}, {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    a->port = a->parallel = a->max_queue = a->n_ctx = a->threads = -1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        long *num = NULL, lo = 0, hi = 0;
        switch (c) {
        case O_HOST: a->host = optarg; break;
        case O_MODEL: a->model_path = optarg; break;
        case O_DB: a->db_path = optarg; break;
        case O_CONFIG: a->config_path = optarg; break;
        case O_PORT: num = &a->port, lo = 0, hi = 65535; break;
        case O_PAR: num = &a->parallel, lo = 1, hi = 256; break;
        case O_QUEUE: num = &a->max_queue, lo = 0, hi = 1 << 20; break;
        case O_CTX: num = &a->n_ctx, lo = 16, hi = 1 << 20; break;
        case O_THREADS: num = &a->threads, lo = 1, hi = 512; break;
        case O_HELP: fputs(cmd_serve_usage, stdout); return -1;
        case ':': return cli_usage_error("serve", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
        }
        if (num && !cli_parse_int(optarg, lo, hi, num))
            return cli_usage_error("serve", "%s needs a whole number from %ld to %ld, not '%s'", argv[optind - 2],
                                   lo, hi, optarg);
    }
    if (optind != argc)
        return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    return EXIT_OK;
}

static bool is_loopback(const char *host)
{
    return !strncmp(host, "127.", 4) || !strcmp(host, "::1");
}

int cmd_serve(int argc, char **argv)
{
    serve_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    config cfg;
    config_load(&cfg, a.config_path);
    for (size_t i = 0; i < cfg.n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", cfg.warnings[i]);
    const char *host = a.host ? a.host : cfg.serve_host;
    const char *model_path = a.model_path ? a.model_path : cfg.model_path ? cfg.model_path : config_builtin_model();
    serve_ctx s = {.cfg = &cfg};
    serve_metrics_init(&s.metrics);
    pthread_mutex_init(&s.db_mu, NULL);
    pthread_mutex_init(&s.eng_mu, NULL);
    atomic_init(&s.stopping, false);
    atomic_init(&s.in_flight, 0);
    httpd *h = NULL;
    alerts_watch *aw = NULL; /* [alerts]: checked once a second off the request threads */
    char err[600];
    rc = EXIT_FAIL;

    if (cfg.serve_api_key_env) {
        s.api_key = getenv(cfg.serve_api_key_env);
        if (!s.api_key || !*s.api_key) {
            rc = cli_usage_error("serve", "[serve] api_key_env names $%s, which is not set", cfg.serve_api_key_env);
            goto out;
        }
    }
    if (!is_loopback(host) && !s.api_key) {
        rc = cli_usage_error("serve",
                             "refusing to listen on %s without an API key: set [serve] api_key_env to the name "
                             "of a variable holding one (or use a loopback address)",
                             host);
        goto out;
    }
    if (!model_path) {
        rc = cli_usage_error("serve", "no model: give --model FILE (the built-in model %s was not found)",
                             CONFIG_BUILTIN_MODEL);
        goto out;
    }
    if ((rc = store_open(a.db_path, &s.d)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    s.n_ctx = (int)(a.n_ctx > 0 ? a.n_ctx : cfg.n_ctx);
    s.started = (int64_t)time(NULL);
    s.bo = (batch_opts){.n_parallel = (int)(a.parallel > 0 ? a.parallel : cfg.serve_parallel),
                        .n_ctx = s.n_ctx,
                        .n_threads = (int)(a.threads > 0 ? a.threads : cfg.threads),
                        .max_queue = (int)(a.max_queue >= 0 ? a.max_queue : cfg.serve_max_queue)};

    /* Signals go to sigwait below: block them before any thread starts. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* --model pins one version; otherwise the deployment decides (its
     * stable and candidate loaded now), or with nothing deployed the
     * configured model answers. */
    s.pinned = a.model_path != NULL;
    db_deployment dep;
    bool deployed = !s.pinned && db_deployment_get(s.d, &dep) == DB_OK;
    if (deployed) {
        if (!serve_engine_get(&s, dep.stable_id, err, sizeof err) ||
            (dep.candidate_id && !serve_engine_get(&s, dep.candidate_id, err, sizeof err))) {
            cli_fail("%s", err);
            goto out;
        }
    } else {
        model *m = NULL;
        tok_vocab *v = NULL;
        if (model_load(&m, model_path, err, sizeof err) != 0 || tok_load(&v, m->file, err, sizeof err) != 0 ||
            store_model_local(s.d, model_path, m, &s.default_id, err, sizeof err) != DB_OK) {
            tok_free(v);
            model_free(m);
            cli_fail("%s", err);
            goto out;
        }
        serve_engine *e = serve_engine_new(&s, s.default_id, m, v, model_path, err, sizeof err);
        if (!e) {
            cli_fail("%s", err);
            goto out;
        }
        s.eng[s.n_eng++] = e;
    }
    httpd_opts ho = {.host = host, .port = (int)(a.port >= 0 ? a.port : cfg.serve_port),
                     .max_body = (size_t)cfg.serve_max_body};
    h = httpd_start(&ho, serve_handle, &s, err, sizeof err);
    if (!h) {
        cli_fail("%s", err); /* names the address and port */
        goto out;
    }
    fprintf(stderr, "frontdesk serve: http://%s:%d/v1 — ", host, httpd_port(h));
    for (int i = 0; i < s.n_eng; i++)
        fprintf(stderr, "%s%s %s (sha256 %.12s)", i ? ", " : "",
                !deployed ? "model" : s.eng[i]->model_id == dep.stable_id ? "stable" : "candidate",
                s.eng[i]->model_name, s.eng[i]->sha256);
    if (deployed)
        fprintf(stderr, " (the deployment decides: frontdesk deployment)");
    fprintf(stderr, ", %d in parallel, queue %d, context %d each; Ctrl-C stops\n", s.bo.n_parallel,
            s.bo.max_queue, s.n_ctx);
    fflush(stderr);
    if (!(aw = alerts_watch_start(&cfg, db_path(s.d), "frontdesk serve", err, sizeof err)))
        fprintf(stderr, "frontdesk serve: %s\n", err);

    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "frontdesk serve: %s: stopping (replies in progress get %g s to finish)\n",
            sig == SIGINT ? "interrupted" : "terminated", cfg.serve_grace_s);
    atomic_store(&s.stopping, true);
    httpd_quiesce(h);
    pthread_mutex_lock(&s.eng_mu); /* no version loads from here on */
    int n_eng = s.n_eng;
    pthread_mutex_unlock(&s.eng_mu);
    for (int i = 0; i < n_eng; i++) /* each gets the grace period; they run on together */
        batch_stop(s.eng[i]->b, i ? 0 : cfg.serve_grace_s);
    /* every job has ended: let the streams send their last events */
    for (int i = 0; i < 500 && atomic_load(&s.in_flight) > 0; i++)
        usleep(10000);
    rc = EXIT_OK;
out:
    alerts_watch_stop(aw);
    httpd_stop(h); /* every stream has seen its job end: their pulls return */
    for (int i = 0; i < s.n_eng; i++)
        serve_engine_free(s.eng[i]);
    db_close(s.d);
    pthread_mutex_destroy(&s.db_mu);
    pthread_mutex_destroy(&s.eng_mu);
    serve_metrics_free(&s.metrics);
    config_free(&cfg);
    if (rc == EXIT_OK)
        fprintf(stderr, "frontdesk serve: stopped\n");
    return rc;
}
