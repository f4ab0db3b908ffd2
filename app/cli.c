/*
 * cli.c — what the subcommands share (see cli.h): usage errors and
 * runtime failures in one wording, option values parsed with their range
 * checked, text and JSON written for a person.  main.c only dispatches.
 */
#include "app/cli.h"

#include "net/remote_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    const char *sep = *cmd ? " " : ""; /* "" is the application itself */
    fprintf(stderr, "frontdesk%s%s: ", sep, cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'frontdesk%s%s --help')\n", sep, cmd);
    return EXIT_USAGE;
}

const char *cli_backend_problem(const char *url)
{
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return "is not an http:// or https:// URL";
    if (remote_url_has_password(url))
        return "holds a password: frontdesk stores a server's URL with every request, so give the key "
               "in the environment instead ([remote] api_key_env names the variable)";
    return NULL;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "frontdesk: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

void cli_print_textn(FILE *f, const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    for (; p < end; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else if (*p == 0xc2 && p + 1 < end && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 control */
            fprintf(f, "\\x%02x", *++p);
        else
            fputc(*p, f);
    }
}

void cli_print_text(FILE *f, const char *text) { cli_print_textn(f, text, strlen(text)); }

void cli_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    putchar('\n');
}
