/*
 * cmd_stats.c — `frontdesk stats`: the dashboard's figures over a window,
 * as text or JSON; or, cumulative since the store began, the Prometheus
 * text exposition format.
 */
#include "app/alerts.h"
#include "app/cli.h"
#include "app/config.h"
#include "app/store.h"
#include "app/prom.h"
#include "storage/deploy.h"

#include "storage/metrics.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_stats_usage[] =
    "usage: frontdesk stats [--window 1m|5m|1h|24h|7d|30d|all] [--model M] [--json | --prometheus]\n"
    "                       [--exact] [--db PATH|URL]\n"
    "       frontdesk stats --check [--window 1m|5m|1h|24h] [--config FILE] [--db PATH|URL]\n"
    "\n"
    "Requests, error rate, latency and time-to-first-token percentiles\n"
    "(nearest rank), prefill and decode tokens/s and tokens generated, over\n"
    "requests that started in the window (default 1h).  Errors are the\n"
    "outcomes error, timeout and interrupted; cancelled is not an error.\n"
    "\n"
    "  --window W     1m, 5m, 1h, 24h, 7d or all\n"
    "  --model M      one model: file name, display name or SHA-256 prefix\n"
    "  --json         one object: requests, errors, cancelled, running,\n"
    "                 error_rate, requests_per_min, latency_ms and ttft_ms\n"
    "                 ({p50,p90,p95,p99}, null when empty), prefill_tps,\n"
    "                 decode_tps, tokens_generated, window, series (per minute)\n"
    "  --prometheus   Prometheus text format (for a textfile collector): counters\n"
    "                 and histograms per version and outcome, cumulative since the\n"
    "                 store began (no --window, or --window all)\n"
    "  --exact        from the raw request rows (exact percentiles, the window to\n"
    "                 the millisecond) instead of the per-minute rollups (within\n"
    "                 1%, per whole minute): slower, O(requests in the window)\n"
    "  --check        decide the alerts over [alerts] window (default 5m; or\n"
    "                 --window 1m, 5m, 1h or 24h), record their episodes and run\n"
    "                 [alerts] command for each that starts or ends, like every\n"
    "                 frontdesk that watches; print one line per alert firing\n"
    "                 (name, value, comparison, threshold, then in words); exit\n"
    "                 3 when any fires, 0 when none\n"
    "  --config FILE  the configuration file (thresholds, [alerts]; --check)\n"
    "  --db PATH|URL  the database\n";

static json_t *pcts_json(const db_pcts *p)
{
    json_t *o = json_object();
    const char *names[] = {"p50", "p90", "p95", "p99"};
    double v[] = {p->p50, p->p90, p->p95, p->p99};
    for (int i = 0; i < 4; i++)
        json_object_set_new(o, names[i], p->valid ? json_real(v[i]) : json_null());
    return o;
}

static void print_json(const db_stats *s, db_window w, const db_model *models, size_t n_models)
{
    json_t *o = json_object();
    json_object_set_new(o, "window", json_string(db_window_name(w)));
    if (n_models) {
        json_t *ms = json_array();
        for (size_t i = 0; i < n_models; i++)
            json_array_append_new(ms, cli_model_json(&models[i]));
        json_object_set_new(o, "models", ms);
    }
    json_object_set_new(o, "requests", json_integer(s->requests));
    json_object_set_new(o, "errors", json_integer(s->errors));
    json_object_set_new(o, "cancelled", json_integer(s->cancelled));
    json_object_set_new(o, "running", json_integer(s->running));
    json_object_set_new(o, "error_rate", json_real(s->error_rate));
    json_object_set_new(o, "requests_per_min", json_real(s->requests_per_min));
    json_object_set_new(o, "latency_ms", pcts_json(&s->latency_ms));
    json_object_set_new(o, "ttft_ms", pcts_json(&s->ttft_ms));
    json_object_set_new(o, "prefill_tps", json_real(s->prefill_tps));
    json_object_set_new(o, "decode_tps", json_real(s->decode_tps));
    json_object_set_new(o, "tokens_generated", json_integer(s->tokens_generated));
    json_t *series = json_array();
    for (size_t i = 0; i < s->n_series; i++) {
        const db_minute *m = &s->series[i];
        json_t *p = json_object();
        char t[40];
        json_object_set_new(p, "minute", json_string(db_format_time(m->start, t, sizeof t)));
        json_object_set_new(p, "requests", json_integer(m->requests));
        json_object_set_new(p, "errors", json_integer(m->errors));
        json_object_set_new(p, "tokens", json_integer(m->tokens));
        json_object_set_new(p, "latency_ms", pcts_json(&m->latency_ms));
        json_object_set_new(p, "ttft_ms", pcts_json(&m->ttft_ms));
        json_object_set_new(p, "decode_tps", json_real(m->decode_tps));
        json_array_append_new(series, p);
    }
    json_object_set_new(o, "series", series);
    cli_print_json(o);
    json_decref(o);
}

/* The outcomes a finished request can have, each exported for every version. */
static const char *const PROM_OUTCOMES[] = {"ok", "error", "cancelled", "timeout", "interrupted"};
enum { N_PROM_OUTCOMES = sizeof PROM_OUTCOMES / sizeof PROM_OUTCOMES[0] };

static void total_add(db_rollup_total *to, const db_rollup_total *t)
{
    to->requests += t->requests;
    to->gen_tokens += t->gen_tokens;
    to->prompt_tokens += t->prompt_tokens;
    to->latency_n += t->latency_n;
    to->ttft_n += t->ttft_n;
    to->tokens_n += t->tokens_n;
    to->latency_sum_s += t->latency_sum_s;
    to->ttft_sum_s += t->ttft_sum_s;
    for (int i = 0; i <= ROLLUP_N_LE_SECONDS; i++) {
        to->latency_le[i] += t->latency_le[i];
        to->ttft_le[i] += t->ttft_le[i];
    }
    for (int i = 0; i <= ROLLUP_N_LE_TOKENS; i++)
        to->tokens_le[i] += t->tokens_le[i];
}

/* Counters and histograms since the store began (the rollups, traffic
 * only): every version (models[]) × every outcome, 0 when none. */
static db_status print_prometheus(db *d, const db_model *models, size_t n_models)
{
    db_rollup_total *tot;
    size_t n_tot;
    db_status st = db_rollup_totals(d, &tot, &n_tot);
    if (st != DB_OK)
        return st;
    size_t n = n_models * N_PROM_OUTCOMES;
    db_rollup_total *cells = calloc(n ? n : 1, sizeof *cells);
    prom_row *rows = calloc(n ? n : 1, sizeof *rows);
    char (*sha)[13] = calloc(n_models ? n_models : 1, sizeof *sha);
    for (size_t m = 0; m < n_models; m++) {
        snprintf(sha[m], sizeof sha[m], "%.12s", models[m].sha256 ? models[m].sha256 : "");
        for (size_t o = 0; o < N_PROM_OUTCOMES; o++) {
            db_rollup_total *c = &cells[m * N_PROM_OUTCOMES + o];
            c->model_id = models[m].id;
            snprintf(c->outcome, sizeof c->outcome, "%s", PROM_OUTCOMES[o]);
            rows[m * N_PROM_OUTCOMES + o] = (prom_row){models[m].display_name ? models[m].display_name : "", sha[m], c};
        }
    }
    for (size_t i = 0; i < n_tot; i++)
        for (size_t c = 0; c < n; c++)
            if (cells[c].model_id == tot[i].model_id && !strcmp(cells[c].outcome, tot[i].outcome))
                total_add(&cells[c], &tot[i]);
    strbuf sb = {0};
    prom_requests(&sb, rows, n);
    fputs(sb.data, stdout);
    sb_free(&sb);
    free(sha);
    free(rows);
    free(cells);
    free(tot);
    return DB_OK;
}

static void print_text(const db_stats *s, db_window w, const char *model)
{
    printf("window %s%s%s: %lld request(s), %lld error(s) (%.1f%%), %lld cancelled, %lld running\n",
           db_window_name(w), model ? ", model " : "", model ? model : "", (long long)s->requests,
           (long long)s->errors, 100.0 * s->error_rate, (long long)s->cancelled, (long long)s->running);
    printf("requests/min      %.2f\n", s->requests_per_min);
    const db_pcts *p[] = {&s->latency_ms, &s->ttft_ms};
    const char *name[] = {"latency ms", "first token ms"};
    for (int i = 0; i < 2; i++) {
        if (p[i]->valid)
            printf("%-16s  p50 %.0f  p90 %.0f  p95 %.0f  p99 %.0f\n", name[i], p[i]->p50, p[i]->p90,
                   p[i]->p95, p[i]->p99);
        else
            printf("%-16s  -\n", name[i]);
    }
    printf("prefill tok/s     %.1f\ndecode tok/s      %.1f\ntokens generated  %lld\n", s->prefill_tps,
           s->decode_tps, (long long)s->tokens_generated);
}

/* "guard: stopped VERSION at TIME (reason)" for each automatic stop of a
 * canary inside the window, oldest first. */
static void print_guard_stops(db *d, double from)
{
    db_deploy_event *ev;
    size_t n;
    if (db_deploy_history(d, 0, &ev, &n) != DB_OK)
        return;
    for (size_t i = n; i-- > 0;) {
        if (strcmp(ev[i].action, "guard-stop") || ev[i].at < from)
            continue;
        /* the candidate stopped is the one the row before it ran */
        int64_t stopped = i + 1 < n ? ev[i + 1].candidate_id : 0;
        db_model m;
        char t[40];
        printf("guard: stopped ");
        if (stopped && db_model_get(d, stopped, &m) == DB_OK) {
            cli_print_text(stdout, m.display_name);
            db_model_clear(&m);
        } else
            printf("the candidate");
        printf(" at %s (", db_format_time(ev[i].at, t, sizeof t));
        cli_print_text(stdout, ev[i].note ? ev[i].note : "no reason recorded");
        printf(")\n");
    }
    db_deploy_events_free(ev, n);
}

static void check_log(void *ud, bool bad, const char *msg)
{
    (void)ud;
    if (bad)
        fprintf(stderr, "frontdesk: %s\n", msg);
}

/* stats --check: EXIT_ALERTS when an alert fires. */
static int check(const char *db_flag, const char *config_path, const db_window *w)
{
    config cfg;
    config_load(&cfg, config_path);
    for (size_t i = 0; i < cfg.n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", cfg.warnings[i]);
    if (w)
        cfg.alerts_window = *w;
    db *d;
    int rc = store_open(db_flag, &d);
    if (rc != EXIT_OK) {
        config_free(&cfg);
        return rc;
    }
    alerts_opts o = {.cfg = &cfg, .log = check_log};
    alerts_result r;
    if (alerts_check(d, &o, db_now(), &r) != DB_OK)
        rc = cli_fail("%s", db_errmsg(d));
    else if (!r.n_firing) {
        printf("no alert firing (window %s)\n", db_window_name(r.window));
        rc = EXIT_OK;
    } else {
        for (int k = 0; k < ALERT_COUNT; k++) {
            const alert_state *a = &r.a[k];
            if (!a->firing)
                continue;
            printf("%-16s %g %s %g  ", alert_name((alert_kind)k), a->value, k == ALERT_DECODE ? "<" : ">",
                   a->threshold);
            cli_print_text(stdout, a->text);
            putchar('\n');
        }
        rc = EXIT_ALERTS;
    }
    db_close(d);
    config_free(&cfg);
    return rc;
}

int cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"window", required_argument, NULL, 'w'}, {"model", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'j'},         {"prometheus", no_argument, NULL, 'p'},
        {"db", required_argument, NULL, 'd'},     {"exact", no_argument, NULL, 'x'},
        {"check", no_argument, NULL, 'k'},        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    const char *db_flag = NULL, *model_q = NULL, *config_path = NULL;
    bool check_alerts = false;
    db_window w = DB_WIN_1H;
    bool json = false, prom = false, exact = false, window_set = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (!db_window_parse(optarg, &w))
                return cli_usage_error("stats", "--window is 1m, 5m, 1h, 24h, 7d, 30d or all, not '%s'", optarg);
            window_set = true;
            break;
        case 'k': check_alerts = true; break;
        case 'c': config_path = optarg; break;
        case 'm': model_q = optarg; break;
        case 'j': json = true; break;
        case 'x': exact = true; break;
        case 'p': prom = true; break;
        case 'd': db_flag = optarg; break;
        case ':': return cli_usage_error("stats", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("stats", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
    if (json && prom)
        return cli_usage_error("stats", "choose one of --json and --prometheus");
    if (check_alerts) {
        if (json || prom || model_q || exact)
            return cli_usage_error("stats", "--check goes with --window, --config and --db only");
        if (window_set && w > DB_WIN_24H)
            return cli_usage_error("stats", "--check decides over 1m, 5m, 1h or 24h, not '%s'", db_window_name(w));
        return check(db_flag, config_path, window_set ? &w : NULL);
    }
    if (prom && window_set && w != DB_WIN_ALL)
        return cli_usage_error("stats", "--prometheus is cumulative since the store began: no --window but all");
    if (prom && exact)
        return cli_usage_error("stats", "--prometheus counts from the rollups: no --exact");
    db *d;
    int opened = store_open(db_flag, &d);
    if (opened != EXIT_OK)
        return opened;
    db_model *models = NULL;
    size_t n_models = 0;
    int64_t *ids = NULL;
    int rc = EXIT_FAIL;
    if (model_q) {
        if (db_models_match(d, model_q, &models, &n_models) != DB_OK) {
            cli_fail("%s", db_errmsg(d));
            goto out;
        }
        ids = calloc(n_models, sizeof *ids);
        for (size_t i = 0; i < n_models; i++)
            ids[i] = models[i].id;
    }
    if (prom) {
        if (!model_q && db_models_list(d, &models, &n_models) != DB_OK) {
            cli_fail("%s", db_errmsg(d));
            goto out;
        }
        if (print_prometheus(d, models, n_models) != DB_OK) {
            cli_fail("%s", db_errmsg(d));
            goto out;
        }
        rc = EXIT_OK;
        goto out;
    }
    db_stats s;
    if ((exact ? db_stats_compute_exact : db_stats_compute)(d, w, db_now(), ids, n_models, &s) != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        goto out;
    }
    if (json)
        print_json(&s, w, models, n_models);
    else {
        print_text(&s, w, model_q);
        print_guard_stops(d, s.from);
    }
    db_stats_free(&s);
    rc = EXIT_OK;
out:
    free(ids);
    db_models_free(models, n_models);
    db_close(d);
    return rc;
}
