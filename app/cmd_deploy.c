/*
 * cmd_deploy.c — model operations from the command line: `versions`,
 * `deploy`, `canary`, `promote`, `rollback` and `deployment` (see
 * app/deploy.h for routing, app/compare.h for the figures and verdicts).
 */
#include "app/cli.h"
#include "app/compare.h"
#include "app/config.h"
#include "app/deploy.h"
#include "app/eval.h"
#include "app/store.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_versions_usage[] =
    "usage: frontdesk versions [--window 1h|24h|7d|all] [--json] [--db PATH|URL]\n"
    "                          [--config FILE]\n"
    "\n"
    "Every model version the store knows (local files by SHA-256, remote servers\n"
    "by URL and model name) with its traffic figures over the window (default\n"
    "all): replies, requests, error rate, thumbs-up rate with its Wilson 95%\n"
    "interval, mean score, p95 latency, decode tokens/s, the share of\n"
    "low-confidence replies, first and last use, and its place in the deployment.\n";

const char cmd_deploy_usage[] =
    "usage: frontdesk deploy VERSION [--note TEXT] [--remote-model NAME] [--db PATH|URL]\n"
    "                        [--config FILE]\n"
    "\n"
    "Make VERSION the stable version: it answers every new conversation (a\n"
    "running canary ends).  VERSION is a model file, an http(s) URL of an\n"
    "OpenAI-compatible server (with --remote-model), a SHA-256 prefix or a name.\n"
    "Every frontdesk process on the database follows the change for new\n"
    "conversations, without a restart.\n";

const char cmd_canary_usage[] =
    "usage: frontdesk canary start VERSION --share P [--force] [--note TEXT]\n"
    "       frontdesk canary share P [--note TEXT]\n"
    "       frontdesk canary stop [--note TEXT]\n"
    "       (each also takes --remote-model NAME, --db PATH|URL, --config FILE)\n"
    "\n"
    "Send P percent (1-50) of new conversations to a candidate version beside\n"
    "the stable one; a conversation keeps its version for all its turns.\n"
    "With [deploy] require_eval = SET, canary start needs a complete `frontdesk\n"
    "eval` run on that set comparing VERSION with stable (at least [deploy]\n"
    "min_eval_items items) in which VERSION is not significantly worse on chrF\n"
    "or perplexity; --force starts it anyway, and the history note says so.\n";

const char cmd_promote_usage[] =
    "usage: frontdesk promote [--note TEXT] [--db PATH|URL] [--config FILE]\n"
    "\n"
    "The candidate becomes the stable version (the canary ends).\n";

const char cmd_rollback_usage[] =
    "usage: frontdesk rollback [VERSION] [--note TEXT] [--db PATH|URL] [--config FILE]\n"
    "\n"
    "Undo the newest change that put a version in front of customers: a running\n"
    "canary ends (its conversations return to stable); without one, the stable\n"
    "version before the current one returns.  With VERSION, that version becomes\n"
    "stable.  Exit 1 when there is nothing to return to.\n";

const char cmd_deployment_usage[] =
    "usage: frontdesk deployment [status|history] [--window 1h|24h|7d|all] [--json]\n"
    "                            [--db PATH|URL] [--config FILE]\n"
    "\n"
    "status (the default): the stable version, the candidate and its share, and\n"
    "the candidate compared with stable over the window (default 24h), each\n"
    "metric with its sample sizes, p-value and verdict.  history: every change,\n"
    "newest first, with who made it, when, why and the figures at the time.\n";

typedef struct {
    const char *db, *config, *note, *remote_model, *window;
    bool json, force;
    long share;
    bool share_given;
    int nargs;
    char **args;
} opts;

static int parse(const char *cmd, int argc, char **argv, opts *o)
{
    const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},         {"config", required_argument, NULL, 'c'},
        {"note", required_argument, NULL, 'n'},       {"remote-model", required_argument, NULL, 'r'},
        {"window", required_argument, NULL, 'w'},     {"share", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},             {"force", no_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'c': o->config = optarg; break;
        case 'n': o->note = optarg; break;
        case 'r': o->remote_model = optarg; break;
        case 'w': o->window = optarg; break;
        case 'j': o->json = true; break;
        case 'F': o->force = true; break;
        case 's':
            if (!cli_parse_int(optarg, 0, LONG_MAX, &o->share) || o->share < 1 || o->share > 50)
                return cli_usage_error(cmd, "--share is a whole percentage from 1 to 50, not '%s'", optarg);
            o->share_given = true;
            break;
        case ':': return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    if (o->force && !(!strcmp(cmd, "canary") && o->nargs && !strcmp(o->args[0], "start")))
        return cli_usage_error(cmd, "--force only overrides canary start's evaluation gate");
    return EXIT_OK;
}

static bool parse_window(const char *cmd, const char *s, db_window def, db_window *w, int *rc)
{
    *w = def;
    if (s && (!db_window_parse(s, w) || *w == DB_WIN_1M || *w == DB_WIN_5M || *w == DB_WIN_30D)) {
        *rc = cli_usage_error(cmd, "--window is 1h, 24h, 7d or all, not '%s'", s);
        return false;
    }
    return true;
}

/* Open the store and the configuration. */
static int open_all(const opts *o, db **d, config *cfg)
{
    config_load(cfg, o->config);
    for (size_t i = 0; i < cfg->n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", cfg->warnings[i]);
    return store_open(o->db, d);
}

static const char *name_of(db *d, int64_t id, char *buf, size_t size)
{
    db_model m;
    if (!id)
        snprintf(buf, size, "-");
    else if (db_model_get(d, id, &m) == DB_OK) {
        snprintf(buf, size, "%s (%.12s)", m.display_name, m.sha256 ? m.sha256 : m.backend);
        db_model_clear(&m);
    } else
        snprintf(buf, size, "version %lld", (long long)id);
    return buf;
}

/* The comparison of the running canary (24h) as JSON text for a history
 * row, or NULL without a candidate (caller frees). */
static char *figures_now(db *d, const config *cfg)
{
    db_deployment dep;
    if (db_deployment_get(d, &dep) != DB_OK || !dep.candidate_id)
        return NULL;
    compare_result r;
    char err[256];
    if (compare_versions(d, dep.stable_id, dep.candidate_id, DB_WIN_24H, db_now(), cfg, &r, err, sizeof err) != 0)
        return NULL;
    json_t *j = compare_json(&r);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* Report a failed change: nothing to act on is exit 1, a bad value exit 2. */
static int change_failed(db *d, db_status s, const char *cmd)
{
    if (s == DB_INVALID)
        return cli_usage_error(cmd, "%s", db_errmsg(d));
    return cli_fail("%s", db_errmsg(d));
}

static void print_deployment(db *d)
{
    db_deployment dep;
    char a[200], b[200];
    db_status s = db_deployment_get(d, &dep);
    if (s == DB_NOTFOUND) {
        printf("nothing deployed: new conversations use the configured model (or the built-in one)\n");
        return;
    }
    printf("stable:    %s\n", name_of(d, dep.stable_id, a, sizeof a));
    if (dep.candidate_id)
        printf("candidate: %s at %d%% of new conversations\n", name_of(d, dep.candidate_id, b, sizeof b),
               dep.share);
    else
        printf("candidate: none\n");
}

/* [deploy] require_eval before a canary starts (app/eval.h): EXIT_OK to
 * go on (*forced: the history note when --force overrode a refusal),
 * else the exit code after saying why. */
static int eval_gate(db *d, const config *cfg, int64_t candidate_id, const opts *o, char **forced)
{
    db_deployment dep;
    if (!cfg->deploy_require_eval || db_deployment_get(d, &dep) != DB_OK)
        return EXIT_OK; /* no gate, or nothing deployed: canary start says so itself */
    char why[1024];
    int g = eval_gate_check(d, cfg, dep.stable_id, candidate_id, why, sizeof why);
    if (g < 0)
        return cli_fail("%s", why);
    if (g == 0)
        return EXIT_OK;
    if (!o->force)
        return cli_fail("canary start refused: %s", why);
    strbuf note = {0};
    sb_printf(&note, "forced without eval: %s", why);
    if (o->note)
        sb_printf(&note, "; %s", o->note);
    *forced = note.data;
    return EXIT_OK;
}

/* The changes the commands make. */
typedef enum { CH_DEPLOY, CH_START, CH_SHARE, CH_STOP, CH_PROMOTE, CH_ROLLBACK } change_kind;

/* Open the store, find VERSION (may be NULL), make the change with who,
 * the note and the comparison at this moment, print the deployment. */
static int run_change(const char *cmd, const opts *o, change_kind k, const char *version, int share)
{
    db *d;
    config cfg;
    int rc = open_all(o, &d, &cfg);
    if (rc == EXIT_OK) {
        int64_t id = 0;
        char err[1024];
        if (version && (rc = deploy_find_version(d, version, o->remote_model, &id, err, sizeof err)) != EXIT_OK)
            rc = rc == EXIT_USAGE ? cli_usage_error(cmd, "%s", err) : cli_fail("%s", err);
        char *forced = NULL;
        if (rc == EXIT_OK && k == CH_START)
            rc = eval_gate(d, &cfg, id, o, &forced);
        if (rc == EXIT_OK) {
            char *figures = figures_now(d, &cfg);
            db_deploy_why w = {.who = cfg.rater, .note = forced ? forced : o->note, .figures = figures};
            db_status s = k == CH_DEPLOY    ? db_deploy(d, id, &w)
                          : k == CH_START   ? db_canary_start(d, id, share, &w)
                          : k == CH_SHARE   ? db_canary_share(d, share, &w)
                          : k == CH_STOP    ? db_canary_stop(d, false, &w)
                          : k == CH_PROMOTE ? db_deploy_promote(d, &w)
                                            : db_deploy_rollback(d, id, &w, NULL);
            if (s != DB_OK)
                rc = change_failed(d, s, cmd);
            else
                print_deployment(d);
            free(figures);
        }
        free(forced);
        db_close(d);
    }
    config_free(&cfg);
    return rc;
}

int cmd_deploy(int argc, char **argv)
{
    opts o;
    int rc = parse("deploy", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.nargs > 1)
        return cli_usage_error("deploy", "one VERSION, not %d", o.nargs);
    if (!o.nargs)
        return cli_usage_error("deploy", "which VERSION? (a model file, a SHA-256 prefix or a name)");
    return run_change("deploy", &o, CH_DEPLOY, o.args[0], 0);
}

int cmd_canary(int argc, char **argv)
{
    opts o;
    int rc = parse("canary", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    const char *verb = o.nargs ? o.args[0] : "";
    int want = !strcmp(verb, "start") ? 2 : !strcmp(verb, "share") ? 2 : !strcmp(verb, "stop") ? 1 : -1;
    if (want < 0)
        return cli_usage_error("canary", "start, share or stop%s%s", *verb ? ", not " : "", verb);
    if (o.nargs != want)
        return cli_usage_error("canary", !strcmp(verb, "start")   ? "canary start takes one VERSION"
                                         : !strcmp(verb, "share") ? "canary share takes one percentage"
                                                                  : "canary stop takes no argument");
    long share = o.share;
    if (!strcmp(verb, "start") && !o.share_given)
        return cli_usage_error("canary", "canary start needs --share P (1-50)");
    if (!strcmp(verb, "share") && (!cli_parse_int(o.args[1], 0, LONG_MAX, &share) || share < 1 || share > 50))
        return cli_usage_error("canary", "the share is a whole percentage from 1 to 50, not '%s'", o.args[1]);
    if (!strcmp(verb, "start"))
        return run_change("canary", &o, CH_START, o.args[1], (int)share);
    return run_change("canary", &o, !strcmp(verb, "share") ? CH_SHARE : CH_STOP, NULL, (int)share);
}

int cmd_promote(int argc, char **argv)
{
    opts o;
    int rc = parse("promote", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.nargs)
        return cli_usage_error("promote", "unexpected argument '%s'", o.args[0]);
    return run_change("promote", &o, CH_PROMOTE, NULL, 0);
}

int cmd_rollback(int argc, char **argv)
{
    opts o;
    int rc = parse("rollback", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.nargs > 1)
        return cli_usage_error("rollback", "at most one VERSION, not %d", o.nargs);
    return run_change("rollback", &o, CH_ROLLBACK, o.nargs ? o.args[0] : NULL, 0);
}

/* ---- Reading --------------------------------------------------------------------- */

static const char *role_in(const db_deployment *dep, bool have, int64_t id)
{
    if (!have)
        return "";
    if (id == dep->stable_id)
        return "stable";
    if (id == dep->candidate_id)
        return "candidate";
    return "";
}

static void fmt_pct(char *buf, size_t size, double x)
{
    if (isnan(x))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f%%", 100.0 * x);
}

int cmd_versions(int argc, char **argv)
{
    opts o;
    int rc = parse("versions", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.nargs)
        return cli_usage_error("versions", "unexpected argument '%s'", o.args[0]);
    db_window win;
    if (!parse_window("versions", o.window, DB_WIN_ALL, &win, &rc))
        return rc;
    db *d;
    config cfg;
    if ((rc = open_all(&o, &d, &cfg)) != EXIT_OK) {
        config_free(&cfg);
        return rc;
    }
    db_model *ms = NULL;
    size_t n = 0;
    db_deployment dep;
    db_status ds = db_deployment_get(d, &dep);
    bool have = ds == DB_OK;
    double now = db_now(), from = win == DB_WIN_ALL ? 0 : now - db_window_seconds(win);
    json_t *arr = o.json ? json_array() : NULL;
    if ((ds != DB_OK && ds != DB_NOTFOUND) || db_models_list(d, &ms, &n) != DB_OK) {
        rc = cli_fail("%s", db_errmsg(d));
        goto out;
    }
    if (!o.json)
        printf("%-28s %-12s %-9s %7s %6s %-20s %5s %9s %7s %6s\n", "VERSION", "SHA-256", "ROLE", "REPLIES",
               "ERRORS", "THUMBS-UP (95% CI)", "SCORE", "P95 MS", "TOK/S", "LOWCONF");
    for (size_t i = 0; i < n; i++) {
        compare_arm a;
        char err[512];
        if (compare_arm_get(d, ms[i].id, from, now, &cfg, &a, err, sizeof err) != 0) {
            rc = cli_fail("%s", err);
            goto out;
        }
        const char *role = role_in(&dep, have, ms[i].id);
        if (o.json) {
            json_t *j = compare_arm_json(&a);
            json_object_set_new(j, "sha256", ms[i].sha256 ? json_string(ms[i].sha256) : json_null());
            json_object_set_new(j, "backend", json_string(ms[i].backend));
            json_object_set_new(j, "path", ms[i].path ? json_string(ms[i].path) : json_null());
            json_object_set_new(j, "url", ms[i].url ? json_string(ms[i].url) : json_null());
            json_object_set_new(j, "role", *role ? json_string(role) : json_null());
            if (*role == 'c')
                json_object_set_new(j, "share", json_integer(dep.share));
            json_array_append_new(arr, j);
            continue;
        }
        char up[40], er[16], lc[16], sc[16], p95[16], tps[16];
        fmt_pct(er, sizeof er, a.requests ? (double)a.errors / (double)a.requests : NAN);
        if (a.thumbed)
            snprintf(up, sizeof up, "%.0f%% (%.0f-%.0f) n=%lld", 100 * a.up_rate, 100 * a.up_lo, 100 * a.up_hi,
                     (long long)a.thumbed);
        else
            snprintf(up, sizeof up, "-");
        fmt_pct(lc, sizeof lc, a.with_confidence ? (double)a.low_confidence / (double)a.with_confidence : NAN);
        snprintf(sc, sizeof sc, isnan(a.score_mean) ? "-" : "%.2f", a.score_mean);
        snprintf(p95, sizeof p95, isnan(a.latency_p95_ms) ? "-" : "%.0f", a.latency_p95_ms);
        snprintf(tps, sizeof tps, isnan(a.decode_tps_median) ? "-" : "%.1f", a.decode_tps_median);
        char role_s[24];
        if (*role == 'c')
            snprintf(role_s, sizeof role_s, "cand %d%%", dep.share);
        else
            snprintf(role_s, sizeof role_s, "%s", *role ? role : "-");
        printf("%-28.28s %-12.12s %-9s %7lld %6s %-20s %5s %9s %7s %6s\n", ms[i].display_name,
               ms[i].sha256 ? ms[i].sha256 : "remote", role_s, (long long)a.replies, er, up, sc, p95, tps, lc);
    }
    if (o.json)
        cli_print_json(arr);
out:
    json_decref(arr);
    db_models_free(ms, n);
    db_close(d);
    config_free(&cfg);
    return rc;
}

static int show_history(db *d, bool json)
{
    db_deploy_event *ev;
    size_t n;
    if (db_deploy_history(d, 0, &ev, &n) != DB_OK)
        return cli_fail("%s", db_errmsg(d));
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        char t[40], a[200], b[200];
        db_format_time(ev[i].at, t, sizeof t);
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "at", json_string(t));
            json_object_set_new(j, "action", json_string(ev[i].action));
            json_object_set_new(j, "stable", json_string(name_of(d, ev[i].stable_id, a, sizeof a)));
            json_object_set_new(j, "candidate",
                                ev[i].candidate_id ? json_string(name_of(d, ev[i].candidate_id, b, sizeof b))
                                                   : json_null());
            json_object_set_new(j, "share", json_integer(ev[i].share));
            json_object_set_new(j, "who", ev[i].who ? json_string(ev[i].who) : json_null());
            json_object_set_new(j, "note", ev[i].note ? json_string(ev[i].note) : json_null());
            json_t *fig = ev[i].figures ? json_loads(ev[i].figures, 0, NULL) : NULL;
            json_object_set_new(j, "figures", fig ? fig : json_null());
            json_array_append_new(arr, j);
            continue;
        }
        printf("%s  %-12s stable %s", t, ev[i].action, name_of(d, ev[i].stable_id, a, sizeof a));
        if (ev[i].candidate_id)
            printf(", candidate %s at %d%%", name_of(d, ev[i].candidate_id, b, sizeof b), ev[i].share);
        printf("  by ");
        cli_print_text(stdout, ev[i].who ? ev[i].who : "?");
        if (ev[i].note) {
            printf(": ");
            cli_print_text(stdout, ev[i].note);
        }
        putchar('\n');
    }
    if (json)
        cli_print_json(arr);
    else if (!n)
        printf("no deployment changes yet\n");
    json_decref(arr);
    db_deploy_events_free(ev, n);
    return EXIT_OK;
}

int cmd_deployment(int argc, char **argv)
{
    opts o;
    int rc = parse("deployment", argc, argv, &o);
    if (rc != EXIT_OK)
        return rc;
    const char *what = o.nargs ? o.args[0] : "status";
    if (o.nargs > 1 || (strcmp(what, "status") && strcmp(what, "history")))
        return cli_usage_error("deployment", "status or history, not '%s'", o.nargs > 1 ? o.args[1] : what);
    db_window win;
    if (!parse_window("deployment", o.window, DB_WIN_24H, &win, &rc))
        return rc;
    db *d;
    config cfg;
    if ((rc = open_all(&o, &d, &cfg)) != EXIT_OK) {
        config_free(&cfg);
        return rc;
    }
    if (!strcmp(what, "history")) {
        rc = show_history(d, o.json);
        goto out;
    }
    db_deployment dep;
    db_status s = db_deployment_get(d, &dep);
    if (s != DB_OK && s != DB_NOTFOUND) {
        rc = cli_fail("%s", db_errmsg(d));
        goto out;
    }
    compare_result r;
    bool compared = false;
    char err[512];
    if (s == DB_OK && dep.candidate_id) {
        if (compare_versions(d, dep.stable_id, dep.candidate_id, win, db_now(), &cfg, &r, err, sizeof err) != 0) {
            rc = cli_fail("%s", err);
            goto out;
        }
        compared = true;
    }
    if (o.json) {
        json_t *j = json_object();
        char a[200];
        json_object_set_new(j, "deployed", json_boolean(s == DB_OK));
        if (s == DB_OK) {
            json_object_set_new(j, "stable", json_string(name_of(d, dep.stable_id, a, sizeof a)));
            json_object_set_new(j, "candidate", dep.candidate_id ? json_string(name_of(d, dep.candidate_id, a, sizeof a))
                                                                 : json_null());
            json_object_set_new(j, "share", json_integer(dep.share));
        }
        json_object_set_new(j, "comparison", compared ? compare_json(&r) : json_null());
        cli_print_json(j);
        json_decref(j);
        goto out;
    }
    print_deployment(d);
    if (compared) {
        putchar('\n');
        compare_print(stdout, &r);
    }
out:
    db_close(d);
    config_free(&cfg);
    return rc;
}
