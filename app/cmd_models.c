/*
 * cmd_models.c — `frontdesk models --backend URL`: the models an
 * OpenAI-compatible server offers (GET {URL}/models).
 */
#include "app/cli.h"
#include "app/config.h"

#include "net/remote.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_models_usage[] =
    "usage: frontdesk models [--backend URL]\n"
    "\n"
    "List the models of an OpenAI-compatible server, one per line (GET\n"
    "URL/models).  URL defaults to [remote] backend in the config file; the API\n"
    "key is read from $FRONTDESK_API_KEY ([remote] api_key_env).\n";

int cmd_models(int argc, char **argv)
{
    static const struct option opts[] = {
        {"backend", required_argument, NULL, 'b'},
        {NULL, 0, NULL, 0},
    };
    const char *backend = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case ':': return cli_usage_error("models", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("models", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("models", "unexpected argument '%s'", argv[optind]);
    config cfg;
    config_load(&cfg, NULL);
    if (!backend)
        backend = cfg.backend;
    if (!backend) {
        config_free(&cfg);
        return cli_usage_error("models", "give --backend URL (or set [remote] backend in the config file)");
    }
    remote_opts o = remote_defaults();
    o.base_url = backend;
    o.api_key = getenv(cfg.api_key_env);
    o.connect_timeout_ms = cfg.connect_timeout_ms;
    o.total_timeout_ms = cfg.total_timeout_ms;
    o.retries = cfg.retries;
    char **names;
    size_t n;
    char err[600];
    int rc = EXIT_OK;
    if (remote_models(&o, &names, &n, err, sizeof err) != 0)
        rc = cli_fail("%s", err);
    else {
        for (size_t i = 0; i < n; i++) {
            cli_print_text(stdout, names[i]);
            putchar('\n');
        }
        remote_models_free(names, n);
    }
    config_free(&cfg);
    return rc;
}
