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
#include "app/cli.h"
#include "app/config.h"
#include "app/serve.h"
#include "app/store.h"
#include "engine/gguf.h"
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
    "                       [--ctx N] [--threads N] [--db PATH] [--config FILE]\n"
    "\n"
    "An OpenAI-compatible HTTP server on the local model, with continuous batching:\n"
    "  POST /v1/chat/completions   streamed (SSE) or whole replies\n"
    "  GET  /v1/models             the model version (with its SHA-256)\n"
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
    "  --model FILE     GGUF model (default [model] path, else the built-in model)\n"
    "  --parallel N     replies generated together (default [serve] parallel, 4)\n"
    "  --max-queue N    requests waiting for a slot before 503 (default [serve] max_queue, 64)\n"
    "  --ctx N          context of each reply (default [model] context, 2048)\n"
    "  --threads N      threads (default [model] threads, the cores)\n"
    "  --db PATH        database (default $FRONTDESK_DB, else ~/.local/share/frontdesk/frontdesk.db)\n"
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

/* What answers call the model: general.name, else the file's name. */
static void model_display_name(const model *m, const char *path, char *out, size_t n)
{
    gguf_str s = {"", 0};
    if (gguf_get_str(m->file, "general.name", &s) && s.len > 0 && s.len < n) {
        snprintf(out, n, "%.*s", (int)s.len, s.ptr);
        return;
    }
    const char *base = strrchr(path, '/');
    snprintf(out, n, "%s", base ? base + 1 : path);
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
    atomic_init(&s.stopping, false);
    atomic_init(&s.in_flight, 0);
    httpd *h = NULL;
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
    if (model_load(&s.m, model_path, err, sizeof err) != 0 || tok_load(&s.v, s.m->file, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    gguf_str tmpl = {"", 0};
    bool known;
    gguf_get_str(s.m->file, "tokenizer.chat_template", &tmpl);
    s.tmpl = chat_tmpl_detect(tmpl.ptr, (size_t)tmpl.len, &known);
    if (store_model_local(s.d, model_path, s.m, &s.model_id, err, sizeof err) != DB_OK) {
        cli_fail("%s", err);
        goto out;
    }
    db_model dm;
    if (db_model_get(s.d, s.model_id, &dm) != DB_OK) {
        cli_fail("%s", db_errmsg(s.d));
        goto out;
    }
    snprintf(s.sha256, sizeof s.sha256, "%s", dm.sha256 ? dm.sha256 : "");
    db_model_clear(&dm);
    snprintf(s.fingerprint, sizeof s.fingerprint, "fd-%.12s", s.sha256);
    model_display_name(s.m, model_path, s.model_name, sizeof s.model_name);
    s.n_ctx = (int)(a.n_ctx > 0 ? a.n_ctx : cfg.n_ctx);
    s.started = (int64_t)time(NULL);

    /* Signals go to sigwait below: block them before any thread starts. */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    batch_opts bo = {.n_parallel = (int)(a.parallel > 0 ? a.parallel : cfg.serve_parallel),
                     .n_ctx = s.n_ctx,
                     .n_threads = (int)(a.threads > 0 ? a.threads : cfg.threads),
                     .max_queue = (int)(a.max_queue >= 0 ? a.max_queue : cfg.serve_max_queue)};
    s.b = batch_new(s.m, s.v, &bo, err, sizeof err);
    if (!s.b) {
        cli_fail("%s", err);
        goto out;
    }
    httpd_opts ho = {.host = host, .port = (int)(a.port >= 0 ? a.port : cfg.serve_port),
                     .max_body = (size_t)cfg.serve_max_body};
    h = httpd_start(&ho, serve_handle, &s, err, sizeof err);
    if (!h) {
        cli_fail("%s", err); /* names the address and port */
        goto out;
    }
    fprintf(stderr,
            "frontdesk serve: http://%s:%d/v1 — model %s (sha256 %.12s), %d in parallel, queue %d, "
            "context %d each; Ctrl-C stops\n",
            host, httpd_port(h), s.model_name, s.sha256, bo.n_parallel, bo.max_queue, s.n_ctx);
    fflush(stderr);

    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "frontdesk serve: %s: stopping (replies in progress get %g s to finish)\n",
            sig == SIGINT ? "interrupted" : "terminated", cfg.serve_grace_s);
    atomic_store(&s.stopping, true);
    httpd_quiesce(h);
    batch_stop(s.b, cfg.serve_grace_s);
    /* every job has ended: let the streams send their last events */
    for (int i = 0; i < 500 && atomic_load(&s.in_flight) > 0; i++)
        usleep(10000);
    rc = EXIT_OK;
out:
    httpd_stop(h); /* every stream has seen its job end: their pulls return */
    batch_free(s.b);
    tok_free(s.v);
    model_free(s.m);
    db_close(s.d);
    pthread_mutex_destroy(&s.db_mu);
    serve_metrics_free(&s.metrics);
    config_free(&cfg);
    if (rc == EXIT_OK)
        fprintf(stderr, "frontdesk serve: stopped\n");
    return rc;
}
