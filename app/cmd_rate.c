/*
 * cmd_rate.c — `frontdesk rate MESSAGE_ID (up|down|1..5) [--tag T]...
 * [--comment TEXT] [--rater NAME]`.
 */
#include "app/cli.h"
#include "app/compare.h"
#include "app/config.h"
#include "app/store.h"

#include "storage/ratings.h"

#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_rate_usage[] =
    "usage: frontdesk rate MESSAGE_ID [up|down|none|1..5] [--tag T]... [--comment TEXT]\n"
    "                      [--rater NAME] [--db PATH|URL]\n"
    "\n"
    "Rate an agent reply (its id is in `frontdesk show`).  up/down/none set the\n"
    "thumbs, 1..5 the score; rate again with another verdict, or only --tag or\n"
    "--comment, to change just those fields.  A reply stays in the review\n"
    "queue until it has a 1-5 score.\n"
    "\n"
    "  --tag T         a tag (repeat for several; they replace your earlier tags)\n"
    "  --comment TEXT  a comment (\"\" clears it)\n"
    "  --rater NAME    who is rating (default: the login name)\n"
    "  --db PATH|URL   the database\n";

/* The login name, for ratings given without --rater. */
static const char *login_name(void)
{
    const char *u = getenv("USER");
    if (u && *u)
        return u;
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

int cmd_rate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tag", required_argument, NULL, 't'},   {"comment", required_argument, NULL, 'c'},
        {"rater", required_argument, NULL, 'r'}, {"db", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL, *rater = NULL;
    db_rating_in in = {0};
    const char **tags = calloc((size_t)argc + 1, sizeof *tags);
    int c, rc = EXIT_USAGE;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            tags[in.n_tags++] = optarg;
            in.fields |= DB_RATE_TAGS;
            break;
        case 'c':
            in.comment = optarg;
            in.fields |= DB_RATE_COMMENT;
            break;
        case 'r': rater = optarg; break;
        case 'd': db_flag = optarg; break;
        case ':': rc = cli_usage_error("rate", "option '%s' needs a value", argv[optind - 1]); goto out;
        default: rc = cli_usage_error("rate", "unknown option '%s'", argv[optind - 1]); goto out;
        }
    }
    in.tags = tags;
    long id, score;
    if (optind >= argc || optind + 2 < argc) {
        rc = cli_usage_error("rate", "give a MESSAGE_ID and a verdict (up, down, none or 1..5)");
        goto out;
    }
    if (!cli_parse_int(argv[optind], 1, LONG_MAX, &id)) {
        rc = cli_usage_error("rate", "a message id is a positive whole number, not '%s'", argv[optind]);
        goto out;
    }
    if (optind + 1 < argc) {
        const char *v = argv[optind + 1];
        if (!strcmp(v, "up") || !strcmp(v, "down") || !strcmp(v, "none")) {
            in.fields |= DB_RATE_THUMBS;
            in.thumbs = v[0] == 'u' ? 1 : v[0] == 'd' ? -1 : 0;
        } else if (cli_parse_int(v, LONG_MIN, LONG_MAX, &score)) {
            if (score < 1 || score > 5) {
                rc = cli_usage_error("rate", "a score is 1 to 5, not %ld", score);
                goto out;
            }
            in.fields |= DB_RATE_SCORE;
            in.score = (int)score;
        } else {
            rc = cli_usage_error("rate", "the verdict is up, down, none or a score 1..5, not '%s'", v);
            goto out;
        }
    }
    if (!in.fields) {
        rc = cli_usage_error("rate", "nothing to rate: give a verdict, --tag or --comment");
        goto out;
    }
    if (!rater)
        rater = login_name();
    db *d;
    if ((rc = store_open(db_flag, &d)) != EXIT_OK)
        goto out;
    if (db_rate(d, id, rater, &in) != DB_OK)
        rc = cli_fail("%s", db_errmsg(d));
    else {
        printf("rated message %ld as %s\n", id, rater);
        rc = EXIT_OK;
        config cfg; /* [deploy] guard looks after every rating too */
        config_load(&cfg, NULL);
        char why[300];
        if (compare_guard_check(d, &cfg, why, sizeof why) == 1)
            printf("guard: stopped the canary (%s)\n", why);
        config_free(&cfg);
    }
    db_close(d);
out:
    free(tags);
    return rc;
}
