/*
 * cli.h — the subcommands of the frontdesk binary and what they share.
 *
 * Each subcommand is `int cmd_X(int argc, char **argv)` returning an exit
 * code: EXIT_OK, EXIT_FAIL (runtime failure) or EXIT_USAGE (bad usage)
 * (and EXIT_ALERTS from `stats --check`).
 * Only app/ decides to exit; the modules below it return statuses.
 */
#ifndef FRONTDESK_CLI_H
#define FRONTDESK_CLI_H

#include "storage/chats.h"
#include "storage/ratings.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define FRONTDESK_VERSION "0.1.0"

/* EXIT_ALERTS: `stats --check` found an alert firing. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_ALERTS = 3 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full help text for `frontdesk NAME --help` */
} cli_command;

int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_ask(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_rate(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_versions(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_canary(int argc, char **argv);
int cmd_promote(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_deployment(int argc, char **argv);
int cmd_arena(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

extern const char cmd_info_usage[];
extern const char cmd_tokenize_usage[];
extern const char cmd_ask_usage[];
extern const char cmd_perplexity_usage[];
extern const char cmd_eval_usage[];
extern const char cmd_history_usage[];
extern const char cmd_show_usage[];
extern const char cmd_rate_usage[];
extern const char cmd_stats_usage[];
extern const char cmd_export_usage[];
extern const char cmd_forget_usage[];
extern const char cmd_purge_usage[];
extern const char cmd_config_usage[];
extern const char cmd_train_usage[];
extern const char cmd_models_usage[];
extern const char cmd_serve_usage[];
extern const char cmd_versions_usage[];
extern const char cmd_deploy_usage[];
extern const char cmd_canary_usage[];
extern const char cmd_promote_usage[];
extern const char cmd_rollback_usage[];
extern const char cmd_deployment_usage[];
extern const char cmd_arena_usage[];
extern const char cmd_migrate_usage[];

/* Print "frontdesk CMD: message" to stderr and return EXIT_USAGE, adding a
 * pointer to --help. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "frontdesk: message" to stderr and return EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What is wrong with a server URL given as a backend (NULL: nothing): not
 * http(s), or a password in it ("user:password@host") — refused because
 * the URL is stored with every request it answers, and keys come from the
 * environment only.  The text completes "--backend URL ...". */
const char *cli_backend_problem(const char *url);

/* Parse a non-negative integer / float option value; false if malformed. */
bool cli_parse_int(const char *s, long min, long max, long *out);
bool cli_parse_float(const char *s, double min, double max, double *out);

/* Write text for a person to read: control characters (C0, DEL, C1) are
 * shown escaped as \xNN so stored text can never drive the terminal. */
void cli_print_text(FILE *f, const char *text);
/* The same for len bytes (no NUL needed). */
void cli_print_textn(FILE *f, const char *text, size_t len);

/* Print a JSON value to standard output (indented), then a newline. */
void cli_print_json(const json_t *v);

/* JSON views shared by show and export. */
json_t *cli_model_json(const db_model *m);
json_t *cli_ratings_json(const db_rating *r, size_t n);

#endif
