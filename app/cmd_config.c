/*
 * cmd_config.c — `frontdesk config [--config FILE]`: the settings in
 * effect (file over defaults), and every problem with the file by line.
 */
#include "app/cli.h"
#include "app/config.h"
#include "app/store.h"
#include "storage/deploy.h"

#include <stdlib.h>
#include <unistd.h>

#include <getopt.h>
#include <stdio.h>

const char cmd_config_usage[] =
    "usage: frontdesk config [--config FILE] [--db PATH|URL]\n"
    "\n"
    "Print the settings in effect — the configuration file (default\n"
    "$XDG_CONFIG_HOME/frontdesk/config) over the defaults — in the file's own\n"
    "format, so the output can be saved as a starting config.  Problems in the\n"
    "file are listed on standard error with their line numbers (exit status 1).\n"
    "When the database (--db, default as for every command: $FRONTDESK_DB, [store]\n"
    "url, the default file) has a deployment, a comment under [model] says that\n"
    "the deployment decides which model answers.\n";

static void print_text(const char *key, const char *v)
{
    printf("%s = ", key);
    for (; *v; v++) {
        if (*v == '\n')
            fputs("\\n", stdout);
        else if (*v == '\\')
            fputs("\\\\", stdout);
        else
            putchar(*v);
    }
    putchar('\n');
}

/* With a deployment in the store, it decides which model answers: say so
 * (an SQLite file is only read, never created here; a PostgreSQL
 * database that cannot be reached is said in a comment). */
static void print_deployment(const char *db_flag, const config *cfg)
{
    if (cfg->n_store_problems) /* listed with the file's other problems */
        return;
    char *dbp = store_path(db_flag);
    db *d = NULL;
    char err[600];
    db_deployment dep;
    store_url_kind kind = store_url_check(dbp, err, sizeof err);
    if (kind == STORE_URL_PG && store_db_open(&d, dbp, err, sizeof err) != DB_OK) {
        printf("# the store cannot be opened: ");
        cli_print_text(stdout, err);
        putchar('\n');
    } else if (kind == STORE_URL_NONE && access(dbp, R_OK) == 0)
        db_open(&d, dbp, err, sizeof err);
    if (d && db_deployment_get(d, &dep) == DB_OK) {
        db_model m;
        printf("# the deployment decides which model answers (frontdesk deployment): stable ");
        if (db_model_get(d, dep.stable_id, &m) == DB_OK) {
            cli_print_text(stdout, m.display_name);
            db_model_clear(&m);
        }
        if (dep.candidate_id && db_model_get(d, dep.candidate_id, &m) == DB_OK) {
            printf(", candidate ");
            cli_print_text(stdout, m.display_name);
            printf(" at %d%%", dep.share);
            db_model_clear(&m);
        }
        printf("; path and [remote] backend below apply only when --model / --backend pin them\n");
    }
    db_close(d);
    free(dbp);
}

/* [store]: the url as given (it has no password: one is refused). */
static void print_store(const config *cfg)
{
    printf("[store]\nmode = %04o\n", (unsigned)cfg->store_mode);
    if (cfg->store_url)
        print_text("url", cfg->store_url);
    else if (cfg->n_store_problems)
        printf("# url = (refused, with every store, until the problem below is mended)\n");
    else
        printf("# url = (none: --db, $FRONTDESK_DB or the default SQLite file)\n");
    printf("heartbeat_s = %g\nheartbeat_lapse_s = %g\n\n", cfg->store_heartbeat_s, cfg->store_lapse_s);
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *db_flag = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("config", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("config", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);
    config cfg;
    config_load(&cfg, path);
    printf("# %s\n[model]\n", cfg.path);
    print_deployment(db_flag, &cfg);
    if (cfg.model_path)
        print_text("path", cfg.model_path);
    else
        printf("# path = (none set)\n");
    printf("threads = %d\ncontext = %d\n\n", cfg.threads, cfg.n_ctx);
    printf("[sampling]\ntemperature = %g\ntop_k = %d\ntop_p = %g\nmin_p = %g\nrepeat_penalty = %g\n"
           "max_tokens = %d\n\n",
           cfg.sampling.temp, cfg.sampling.top_k, cfg.sampling.top_p, cfg.sampling.min_p,
           cfg.sampling.repeat_penalty, cfg.max_tokens);
    printf("[privacy]\nredact = %s\n\n", cfg.redact ? "true" : "false");
    print_store(&cfg);
    printf("[ui]\ncolor = %s\n", cfg.color ? "true" : "false");
    print_text("rater", cfg.rater);
    printf("\n[thresholds]\nlatency_p95_ms = %g\nttft_p95_ms = %g\nerror_rate = %g\nthumbs_down_rate = %g\n"
           "thumbs_min_sample = %d\ndecode_tps_min = %g\nerror_min_sample = %d\n",
           cfg.latency_p95_ms, cfg.ttft_p95_ms, cfg.error_rate, cfg.thumbs_down_rate, cfg.thumbs_min_sample,
           cfg.decode_tps_min, cfg.error_min_sample);
    printf("\n[alerts]\nwindow = %s\n", db_window_name(cfg.alerts_window));
    if (cfg.alerts_command)
        print_text("command", cfg.alerts_command);
    else
        printf("# command = (none: alerts are only shown)\n");
    printf("command_timeout_s = %g\n", cfg.alerts_command_timeout_s);
    printf("\n[remote]\n");
    if (cfg.backend)
        print_text("backend", cfg.backend);
    else
        printf("# backend = (none: the local model)\n");
    if (cfg.remote_model)
        print_text("model", cfg.remote_model);
    print_text("api_key_env", cfg.api_key_env);
    printf("connect_timeout_ms = %ld\nfirst_token_timeout_ms = %ld\nidle_timeout_ms = %ld\n"
           "total_timeout_ms = %ld\nretries = %d\nfallback = %s\n",
           cfg.connect_timeout_ms, cfg.first_token_timeout_ms, cfg.idle_timeout_ms, cfg.total_timeout_ms,
           cfg.retries, cfg.fallback_local ? "local" : "none");
    printf("\n[deploy]\nguard = %s\nmin_sample = %d\nlow_confidence = %g\n", cfg.deploy_guard ? "true" : "false",
           cfg.deploy_min_sample, cfg.deploy_low_confidence);
    if (cfg.deploy_require_eval)
        print_text("require_eval", cfg.deploy_require_eval);
    else
        printf("# require_eval = (none: canary start needs no eval run)\n");
    printf("min_eval_items = %d\n", cfg.deploy_min_eval_items);
    if (cfg.deploy_arena_versions)
        print_text("arena_versions", cfg.deploy_arena_versions);
    else
        printf("# arena_versions = (none: the arena compares stable and candidate)\n");
    for (size_t i = 0; i < cfg.n_profiles; i++) {
        printf("\n[profile %s]\n", cfg.profiles[i].name);
        print_text("system", cfg.profiles[i].system);
    }
    for (size_t i = 0; i < cfg.n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", cfg.warnings[i]);
    for (size_t i = 0; i < cfg.n_store_problems; i++)
        fprintf(stderr, "frontdesk: %s (every command that opens the store refuses)\n", cfg.store_problems[i]);
    int rc = cfg.n_warnings || cfg.n_store_problems ? EXIT_FAIL : EXIT_OK;
    config_free(&cfg);
    return rc;
}
