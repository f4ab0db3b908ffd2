/*
 * main.c — the frontdesk binary: dispatch to a subcommand.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.
 */
#include "app/cli.h"
#include "app/config.h"
#include "app/store.h"
#include "app/tui.h"
#include "engine/kernels.h"
#include "util/private.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_command commands[] = {
    {"info", cmd_info, "describe a GGUF model file", cmd_info_usage},
    {"tokenize", cmd_tokenize, "print the token ids of standard input", cmd_tokenize_usage},
    {"ask", cmd_ask, "one reply from a local model, streamed to standard output", cmd_ask_usage},
    {"perplexity", cmd_perplexity, "score a text file with a model", cmd_perplexity_usage},
    {"eval", cmd_eval, "evaluate versions offline on a set of conversations (chrF, perplexity)", cmd_eval_usage},
    {"history", cmd_history, "list conversations, newest first", cmd_history_usage},
    {"show", cmd_show, "one conversation with its ratings and figures", cmd_show_usage},
    {"rate", cmd_rate, "rate an agent reply (thumbs, 1-5, tags, comment)", cmd_rate_usage},
    {"stats", cmd_stats, "latency, throughput and error figures over a window", cmd_stats_usage},
    {"export", cmd_export, "rated replies as fine-tuning data (JSONL or CSV)", cmd_export_usage},
    {"forget", cmd_forget, "erase one conversation's text for good", cmd_forget_usage},
    {"config", cmd_config, "the settings in effect and problems in the config file", cmd_config_usage},
    {"models", cmd_models, "list the models of an OpenAI-compatible server", cmd_models_usage},
    {"serve", cmd_serve, "an OpenAI-compatible server on the local model, recording every reply", cmd_serve_usage},
    {"train", cmd_train, "train or fine-tune a model on support conversations", cmd_train_usage},
    {"purge", cmd_purge, "erase conversations older than N days", cmd_purge_usage},
    {"versions", cmd_versions, "the model versions with their figures and roles", cmd_versions_usage},
    {"deploy", cmd_deploy, "make a version the stable one for new conversations", cmd_deploy_usage},
    {"canary", cmd_canary, "send a share of new conversations to a candidate version", cmd_canary_usage},
    {"promote", cmd_promote, "the candidate becomes the stable version", cmd_promote_usage},
    {"rollback", cmd_rollback, "undo the last canary or return to the previous stable", cmd_rollback_usage},
    {"deployment", cmd_deployment, "the deployment, its comparison with verdicts, its history",
     cmd_deployment_usage},
    {"arena", cmd_arena, "the leaderboard of blind side-by-side review: wins, sign tests, Elo", cmd_arena_usage},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out,
            "frontdesk %s — customer-support chat, review and model monitoring\n"
            "\n"
            "usage: frontdesk [--model FILE] [--db PATH|URL] [--config FILE]   the application\n"
            "       frontdesk [--help | --version]\n"
            "       frontdesk COMMAND [OPTIONS]   (frontdesk COMMAND --help for details)\n"
            "\n"
            "commands:\n",
            FRONTDESK_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit codes: 0 success, 1 runtime failure, 2 usage error\n");
}

/* What every command takes from the configuration file, including those
 * that read nothing else of it: the mode of every file and directory
 * frontdesk creates ([store] mode; a bad value leaves 0600, frontdesk
 * config reports it) and which store to open ([store] url, heartbeat_s,
 * heartbeat_lapse_s, or their problem: store_configure). */
static void apply_store_config(int argc, char **argv)
{
    config cfg;
    config_load(&cfg, config_flag(argc, argv));
    priv_set_mode(cfg.store_mode);
    store_configure(&cfg);
    config_free(&cfg);
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    apply_store_config(argc, argv);
    const char *simd_error = kern_env_error(); /* FRONTDESK_SIMD names a path we cannot take */
    if (simd_error) {
        fprintf(stderr, "frontdesk: %s\n", simd_error);
        return EXIT_USAGE;
    }
    /* no command (options only): the interactive application */
    if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h") &&
                     strcmp(argv[1], "--version") && strcmp(argv[1], "-V")))
        return cmd_tui(argc, argv);
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("frontdesk %s\nkernel path: %s (this CPU runs", FRONTDESK_VERSION, kern_path_name(kern_get_path()));
        for (int p = 0; p < KERN_PATH_COUNT; p++)
            if (kern_path_available((kern_path)p))
                printf(" %s", kern_path_name((kern_path)p));
        printf("; FRONTDESK_SIMD chooses)\n");
        return EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(name, commands[i].name) != 0)
            continue;
        for (int a = 2; a < argc; a++) {
            if (!strcmp(argv[a], "--"))
                break;
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                fputs(commands[i].usage, stdout);
                return EXIT_OK;
            }
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "frontdesk: unknown command '%s'\n\n", name);
    print_help(stderr);
    return EXIT_USAGE;
}
