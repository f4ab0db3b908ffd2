/*
 * cli.h — the subcommands of the frontdesk binary and what they share.
 *
 * Each subcommand is `int cmd_X(int argc, char **argv)` returning an exit
 * code: EXIT_OK, EXIT_FAIL (runtime failure) or EXIT_USAGE (bad usage).
 * Only app/ decides to exit; the modules below it return statuses.
 */
#ifndef FRONTDESK_CLI_H
#define FRONTDESK_CLI_H

#include <stdbool.h>

#define FRONTDESK_VERSION "0.1.0"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

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

extern const char cmd_info_usage[];
extern const char cmd_tokenize_usage[];
extern const char cmd_ask_usage[];
extern const char cmd_perplexity_usage[];

/* Print "frontdesk CMD: message" to stderr and return EXIT_USAGE, adding a
 * pointer to --help. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "frontdesk: message" to stderr and return EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a non-negative integer / float option value; false if malformed. */
bool cli_parse_int(const char *s, long min, long max, long *out);
bool cli_parse_float(const char *s, double min, double max, double *out);

#endif
