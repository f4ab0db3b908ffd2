/*
 * cmd_arena.c — `frontdesk arena`: the leaderboard of blind side-by-side
 * review (app/arena_board.h), as text or JSON.  Judging happens in the
 * Review screen's arena mode; this command only reads.
 */
#include "app/arena_board.h"
#include "app/cli.h"
#include "app/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_arena_usage[] =
    "usage: frontdesk arena [--json] [--db PATH|URL]\n"
    "\n"
    "The leaderboard of blind side-by-side review (the Review screen's arena\n"
    "mode, A): per pair of versions the first one's wins, ties, both-bad and\n"
    "losses with the two-sided sign test p (ties and both-bad dropped); per\n"
    "version its Bradley-Terry strength on the Elo scale (1000 + 400 log10)\n"
    "with a 95% percentile-bootstrap interval (1000 resamples, a fixed seed:\n"
    "the same figures every run; ties and both-bad count half a win each way)\n"
    "and how many judgements it took part in.\n"
    "\n"
    "  --json         one object: judgements, pairs [{a, b, wins, ties,\n"
    "                 both_bad, losses, sign_p}], versions [{id, name, elo,\n"
    "                 elo_lo, elo_hi, judgements}] (highest Elo first),\n"
    "                 bootstrap {resamples, seed}\n"
    "  --db PATH|URL  the database\n";

int cmd_arena(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *dbflag = NULL;
    bool json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': dbflag = optarg; break;
        case 'j': json = true; break;
        case ':': return cli_usage_error("arena", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("arena", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("arena", "unexpected argument '%s'", argv[optind]);
    db *d = NULL;
    int rc = store_open(dbflag, &d);
    if (rc != EXIT_OK)
        return rc;
    arena_board b;
    char err[600];
    if (arena_board_load(d, &b, err, sizeof err) != 0) {
        db_close(d);
        return cli_fail("%s", err);
    }
    if (json) {
        json_t *j = arena_board_json(&b);
        cli_print_json(j);
        json_decref(j);
    } else {
        strbuf sb = {0};
        arena_board_text(&b, &sb);
        cli_print_text(stdout, sb.data ? sb.data : "");
        sb_free(&sb);
    }
    arena_board_free(&b);
    db_close(d);
    return EXIT_OK;
}
