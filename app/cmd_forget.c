/*
 * cmd_forget.c — erasure: `frontdesk forget --conversation ID` and
 * `frontdesk purge --older-than DAYS --requests-older-than DAYS`.  Text
 * goes for good (messages, ratings, search index); request rows stay as
 * anonymous figures until --requests-older-than deletes them, their
 * figures kept in the rollups.
 */
#include "app/cli.h"
#include "app/store.h"
#include "storage/deploy.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

const char cmd_forget_usage[] =
    "usage: frontdesk forget --conversation ID [--db PATH|URL]\n"
    "\n"
    "Erase a conversation for good: its messages, their ratings and comments,\n"
    "and its entries in the search index (freed pages are zeroed).  Request\n"
    "figures stay, without text, so the dashboard's history stays true.\n";

const char cmd_purge_usage[] =
    "usage: frontdesk purge [--older-than DAYS] [--requests-older-than DAYS] [--db PATH|URL]\n"
    "\n"
    "A retention policy; prints how many went.  At least one of:\n"
    "  --older-than DAYS           erase, as forget does, every conversation not\n"
    "                              updated in the last DAYS days\n"
    "  --requests-older-than DAYS  delete the request rows (one per generation)\n"
    "                              started before the last DAYS days; their\n"
    "                              figures stay in the per-minute rollups, so\n"
    "                              stats and the dashboard are unchanged, but\n"
    "                              show says \"figures purged\" and stats --exact\n"
    "                              no longer sees them.  Refused (nothing deleted)\n"
    "                              while a canary runs and rows of its stable or\n"
    "                              candidate version are among them\n";

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
    static const struct option opts[] = {
        {"older-than", required_argument, NULL, 'o'},
        {"requests-older-than", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    long days = -1, req_days = -1;
    const char *db_flag = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
        case 'r':
            if (!cli_parse_int(optarg, 0, LONG_MAX / 86400, c == 'o' ? &days : &req_days))
                return cli_usage_error("purge", "--%s needs a whole number, got '%s'",
                                       c == 'o' ? "older-than" : "requests-older-than", optarg);
            break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("purge", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("purge", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("purge", "unexpected argument '%s'", argv[optind]);
    if (days < 0 && req_days < 0)
        return cli_usage_error("purge", "--older-than or --requests-older-than is required");
    db *d;
    int rc = store_open(db_flag, &d);
    if (rc != EXIT_OK)
        return rc;
    double now = db_now();
    if (req_days >= 0) {
        /* a running canary's comparison reads its versions' raw rows */
        db_deployment dep;
        int64_t keep[2];
        size_t n_keep = 0;
        db_status s = db_deployment_get(d, &dep);
        if (s == DB_OK && dep.candidate_id) {
            keep[n_keep++] = dep.stable_id;
            keep[n_keep++] = dep.candidate_id;
        }
        int64_t gone = 0;
        if (s != DB_OK && s != DB_NOTFOUND)
            rc = cli_fail("%s", db_errmsg(d));
        else if (db_requests_purge(d, now - (double)req_days * 86400.0, keep, n_keep, &gone) != DB_OK)
            rc = cli_fail("%s", db_errmsg(d));
        else
            printf("%lld request row(s) older than %ld day(s) deleted (their figures stay in the rollups)\n",
                   (long long)gone, req_days);
    }
    if (rc == EXIT_OK && days >= 0) {
        int n = 0;
        if (db_purge(d, now - (double)days * 86400.0, &n) != DB_OK)
            rc = cli_fail("%s", db_errmsg(d));
        else
            printf("%d conversation(s) older than %ld day(s) erased\n", n, days);
    }
    db_close(d);
    return rc;
}
