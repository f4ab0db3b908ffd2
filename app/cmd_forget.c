/*
 * cmd_forget.c — erasure: `frontdesk forget --conversation ID` and
 * `frontdesk purge --older-than DAYS`.  Text goes for good (messages,
 * ratings, search index); request rows stay as anonymous figures.
 */
#include "app/cli.h"
#include "app/store.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

const char cmd_forget_usage[] =
    "usage: frontdesk forget --conversation ID [--db PATH]\n"
    "\n"
    "Erase a conversation for good: its messages, their ratings and comments,\n"
    "and its entries in the search index (freed pages are zeroed).  Request\n"
    "figures stay, without text, so the dashboard's history stays true.\n";

const char cmd_purge_usage[] =
    "usage: frontdesk purge --older-than DAYS [--db PATH]\n"
    "\n"
    "Erase, as forget does, every conversation not updated in the last DAYS\n"
    "days (a retention policy); prints how many went.\n";

static int parse(const char *cmd, int argc, char **argv, const char *name, long *value, const char **db_flag)
{
    const struct option opts[] = {
        {name, required_argument, NULL, 'v'},
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    bool given = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            if (!cli_parse_int(optarg, 0, LONG_MAX, value))
                return cli_usage_error(cmd, "--%s needs a whole number, got '%s'", name, optarg);
            given = true;
            break;
        case 'd': *db_flag = optarg; break;
        case ':': return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!given)
        return cli_usage_error(cmd, "--%s is required", name);
    return EXIT_OK;
}

int cmd_forget(int argc, char **argv)
{
    long id;
    const char *db_flag = NULL;
    int rc = parse("forget", argc, argv, "conversation", &id, &db_flag);
    if (rc != EXIT_OK)
        return rc;
    db *d;
    if ((rc = store_open(db_flag, &d)) != EXIT_OK)
        return rc;
    if (db_forget(d, id) != DB_OK)
        rc = cli_fail("%s", db_errmsg(d));
    else
        printf("conversation %ld erased\n", id);
    db_close(d);
    return rc;
}

int cmd_purge(int argc, char **argv)
{
    long days;
    const char *db_flag = NULL;
    int rc = parse("purge", argc, argv, "older-than", &days, &db_flag);
    if (rc != EXIT_OK)
        return rc;
    db *d;
    if ((rc = store_open(db_flag, &d)) != EXIT_OK)
        return rc;
    int n = 0;
    if (db_purge(d, db_now() - (double)days * 86400.0, &n) != DB_OK)
        rc = cli_fail("%s", db_errmsg(d));
    else
        printf("%d conversation(s) older than %ld day(s) erased\n", n, days);
    db_close(d);
    return rc;
}
