/*
 * cmd_eval.c — `frontdesk eval`: run one or two model versions over a set
 * of conversations and store the run (app/eval.h for what is measured,
 * storage/evals.h for what is kept); list and show stored runs; write a
 * set from the validation split of the training data.
 *
 * Each item is scored by every version in turn before the next item, so
 * an interrupted run (Ctrl-C) has paired items to compare; it is stored
 * "incomplete" with the items finished so far.  Each generation is also a
 * request row of source "eval" (no conversation), so the figures of
 * traffic never count it.
 */
#include "app/cli.h"
#include "app/config.h"
#include "app/deploy.h"
#include "app/eval.h"
#include "app/store.h"
#include "storage/evals.h"
#include "storage/metrics.h"
#include "train/dataset.h"
#include "util/util.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char cmd_eval_usage[] =
    "usage: frontdesk eval --model A [--model B] --set FILE.jsonl [--limit N] [--threads N] [--json]\n"
    "                      [--db PATH|URL] [--config FILE]\n"
    "       frontdesk eval --list [--json] [--db PATH|URL]\n"
    "       frontdesk eval --show RUN [--json] [--db PATH|URL]\n"
    "       frontdesk eval --make-set --data DIR [--split validation|train] --out FILE.jsonl\n"
    "\n"
    "Evaluate one or two model versions offline on a set of conversations in the\n"
    "export format (one JSON object per line); the last assistant message of each\n"
    "is the reference.  Per item and version: the reference's perplexity after the\n"
    "conversation (teacher-forced), a greedy reply (temperature 0, [sampling]\n"
    "max_tokens) with its chrF and ROUGE-L against the reference, its length in\n"
    "tokens and its latency.  Per version: means with bootstrap 95% intervals.\n"
    "With two versions, B against A: chrF wins/ties/losses and Wilcoxon\n"
    "signed-rank tests on chrF and log-perplexity (better / worse / no evidence\n"
    "at 0.05; not enough data below [deploy] min_eval_items).  The run is stored;\n"
    "Ctrl-C stops it, keeping the items finished (status incomplete).  A version\n"
    "is a model file, a SHA-256 prefix or a name (local versions only).\n"
    "\n"
    "  -m, --model VERSION  the version to evaluate (twice: A, then B)\n"
    "  -s, --set FILE       the set (JSONL); a bad line is named and nothing runs\n"
    "  -n, --limit N        only the first N conversations\n"
    "  -t, --threads N      threads (default [model] threads)\n"
    "      --list           the stored runs, newest first\n"
    "      --show RUN       one run with its items\n"
    "      --make-set       write a set: --data DIR (the training corpora),\n"
    "                       --split validation (default; the split train holds\n"
    "                       out) or train, --out FILE\n"
    "      --json           print JSON\n"
    "      --db PATH|URL    the database (default as for every command)\n"
    "      --config FILE    the configuration file\n";

static atomic_bool interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

typedef struct {
    const char *models[2];
    int n_models;
    const char *set, *db, *config, *data, *split, *out, *show;
    long limit, threads;
    bool json, list, make_set;
} opts;

/* ---- Printing a run ------------------------------------------------------------------ */

static void model_name(db *d, int64_t id, char *name, size_t size, char *sha, size_t sha_size)
{
    db_model m;
    if (id && db_model_get(d, id, &m) == DB_OK) {
        snprintf(name, size, "%s", m.display_name);
        snprintf(sha, sha_size, "%s", m.sha256 ? m.sha256 : "");
        db_model_clear(&m);
    } else {
        snprintf(name, size, id ? "version %lld" : "-", (long long)id);
        snprintf(sha, sha_size, "%s", "");
    }
}

static json_t *loads_or_null(const char *s)
{
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    return j ? j : json_null();
}

static json_t *num_json(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *model_json(db *d, int64_t id)
{
    if (!id)
        return json_null();
    char name[200], sha[80];
    model_name(d, id, name, sizeof name, sha, sizeof sha);
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(id));
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "sha256", *sha ? json_string(sha) : json_null());
    return j;
}

static json_t *run_json(db *d, const db_eval_run *r, const db_eval_item *items, size_t n_items, bool with_items)
{
    char t[40];
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(r->id));
    json_object_set_new(j, "status", json_string(r->status));
    json_object_set_new(j, "started_at", json_string(db_format_time(r->started_at, t, sizeof t)));
    json_object_set_new(j, "finished_at",
                        r->finished_at > 0 ? json_string(db_format_time(r->finished_at, t, sizeof t)) : json_null());
    json_t *set = json_object();
    json_object_set_new(set, "name", r->set_name ? json_string(r->set_name) : json_null());
    json_object_set_new(set, "sha256", json_string(r->set_sha256));
    json_object_set_new(set, "items", json_integer(r->set_items));
    json_object_set_new(j, "set", set);
    json_object_set_new(j, "items_done", json_integer(r->items_done));
    json_object_set_new(j, "model_a", model_json(d, r->model_a));
    json_object_set_new(j, "model_b", model_json(d, r->model_b));
    json_object_set_new(j, "settings", loads_or_null(r->settings));
    json_object_set_new(j, "aggregates", loads_or_null(r->aggregates));
    json_object_set_new(j, "verdicts", loads_or_null(r->verdicts));
    if (with_items) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n_items; i++) {
            const db_eval_item *it = &items[i];
            json_t *o = json_object();
            json_object_set_new(o, "item", json_integer(it->item));
            json_object_set_new(o, "model", json_string(it->model_id == r->model_a ? "a" : "b"));
            json_object_set_new(o, "ppl", num_json(it->ppl));
            json_object_set_new(o, "reply", it->reply ? json_string(it->reply) : json_null());
            json_object_set_new(o, "chrf", num_json(it->chrf));
            json_object_set_new(o, "rouge_l", num_json(it->rouge_l));
            json_object_set_new(o, "length", json_integer(it->length));
            json_object_set_new(o, "latency_ms", num_json(it->latency_ms));
            json_array_append_new(arr, o);
        }
        json_object_set_new(j, "items", arr);
    }
    return j;
}

static double fig(const json_t *agg, const char *side, const char *what, const char *key)
{
    json_t *v = json_object_get(json_object_get(json_object_get(agg, side), what), key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void print_fig(const json_t *agg, const char *side, const char *what, const char *key, const char *fmt)
{
    char buf[64], m[20], lo[20], hi[20];
    double x = fig(agg, side, what, key);
    if (isnan(x))
        snprintf(m, sizeof m, "-");
    else
        snprintf(m, sizeof m, fmt, x);
    snprintf(lo, sizeof lo, fmt, fig(agg, side, what, "lo"));
    snprintf(hi, sizeof hi, fmt, fig(agg, side, what, "hi"));
    if (isnan(x))
        snprintf(buf, sizeof buf, "-");
    else
        snprintf(buf, sizeof buf, "%s (%s-%s)", m, lo, hi);
    printf("  %-22s", buf);
}

static const char *verdict_words(const json_t *v, const char *measure, char *buf, size_t size)
{
    json_t *m = json_object_get(v, measure);
    json_t *p = json_object_get(m, "p");
    const char *words = json_string_value(json_object_get(m, "verdict"));
    if (json_is_number(p))
        snprintf(buf, size, "p = %.3g: %s", json_number_value(p), words ? words : "?");
    else
        snprintf(buf, size, "%s", words ? words : "-");
    return buf;
}

static void print_run(db *d, const db_eval_run *r, const db_eval_item *items, size_t n_items, bool with_items)
{
    char t[40], name[200], sha[80];
    printf("eval run %lld  %s  started %s  set ", (long long)r->id, r->status,
           db_format_time(r->started_at, t, sizeof t));
    cli_print_text(stdout, r->set_name ? r->set_name : "?");
    printf(" (SHA-256 %.12s)  items %lld of %lld\n", r->set_sha256, (long long)r->items_done,
           (long long)r->set_items);
    json_t *agg = loads_or_null(r->aggregates), *ver = loads_or_null(r->verdicts);
    printf("\n%-4s %-28s  %-22s  %-22s  %-22s  %-22s\n", "", "VERSION", "CHRF (95% CI)", "ROUGE-L (95% CI)",
           "PERPLEXITY (95% CI)", "LENGTH (95% CI)");
    for (int k = 0; k < (r->model_b ? 2 : 1); k++) {
        const char *side = k ? "b" : "a";
        model_name(d, k ? r->model_b : r->model_a, name, sizeof name, sha, sizeof sha);
        printf("%-4s %-28.28s", k ? "B" : "A", name);
        print_fig(agg, side, "chrf", "mean", "%.1f");
        print_fig(agg, side, "rouge_l", "mean", "%.3f");
        print_fig(agg, side, "perplexity", "value", "%.2f");
        print_fig(agg, side, "length", "mean", "%.1f");
        putchar('\n');
    }
    if (r->model_b && json_is_object(ver)) {
        char a[96], b[96];
        json_t *c = json_object_get(ver, "chrf");
        printf("\nB vs A over %lld paired items: chrF wins %lld, ties %lld, losses %lld, %s; perplexity %s\n",
               (long long)json_integer_value(json_object_get(ver, "items")),
               (long long)json_integer_value(json_object_get(c, "wins")),
               (long long)json_integer_value(json_object_get(c, "ties")),
               (long long)json_integer_value(json_object_get(c, "losses")), verdict_words(ver, "chrf", a, sizeof a),
               verdict_words(ver, "perplexity", b, sizeof b));
    }
    json_decref(agg);
    json_decref(ver);
    if (!with_items)
        return;
    printf("\n%5s %-2s %9s %6s %8s %5s %8s  %s\n", "ITEM", "", "PPL", "CHRF", "ROUGE-L", "LEN", "MS", "REPLY");
    for (size_t i = 0; i < n_items; i++) {
        const db_eval_item *it = &items[i];
        printf("%5lld %-2s %9.3f %6.1f %8.3f %5lld %8.0f  ", (long long)it->item,
               it->model_id == r->model_a ? "A" : "B", it->ppl, it->chrf, it->rouge_l, (long long)it->length,
               it->latency_ms);
        /* one line per reply: newlines shown as spaces */
        char *one = xstrdup(it->reply ? it->reply : "");
        for (char *p = one; *p; p++)
            if (*p == '\n')
                *p = ' ';
        if (strlen(one) > 80)
            strcpy(one + 77, "...");
        cli_print_text(stdout, one);
        free(one);
        putchar('\n');
    }
}

static int show_run(db *d, int64_t id, bool json)
{
    db_eval_run r;
    db_eval_item *items;
    size_t n;
    if (db_eval_get(d, id, &r, &items, &n) != DB_OK)
        return cli_fail("%s", db_errmsg(d));
    if (json) {
        json_t *j = run_json(d, &r, items, n, true);
        cli_print_json(j);
        json_decref(j);
    } else
        print_run(d, &r, items, n, true);
    db_eval_items_free(items, n);
    db_eval_run_clear(&r);
    return EXIT_OK;
}

static int list_runs(db *d, bool json)
{
    db_eval_run *runs;
    size_t n;
    if (db_eval_list(d, 0, &runs, &n) != DB_OK)
        return cli_fail("%s", db_errmsg(d));
    json_t *arr = json ? json_array() : NULL;
    if (!json && n)
        printf("%5s %-20s %-10s %9s %-20s %-20s %-20s %6s %6s  %s\n", "RUN", "STARTED", "STATUS", "ITEMS", "SET", "A",
               "B", "CHRF A", "CHRF B", "VERDICTS (B vs A: chrF, perplexity)");
    for (size_t i = 0; i < n; i++) {
        const db_eval_run *r = &runs[i];
        if (json) {
            json_array_append_new(arr, run_json(d, r, NULL, 0, false));
            continue;
        }
        char t[40], a[200], b[200], sha[80], items[32], ca[16], cb[16];
        json_t *agg = loads_or_null(r->aggregates), *ver = loads_or_null(r->verdicts);
        db_format_time(r->started_at, t, sizeof t);
        t[16] = 0;
        model_name(d, r->model_a, a, sizeof a, sha, sizeof sha);
        model_name(d, r->model_b, b, sizeof b, sha, sizeof sha);
        snprintf(items, sizeof items, "%lld/%lld", (long long)r->items_done, (long long)r->set_items);
        double xa = fig(agg, "a", "chrf", "mean"), xb = fig(agg, "b", "chrf", "mean");
        snprintf(ca, sizeof ca, isnan(xa) ? "-" : "%.1f", xa);
        snprintf(cb, sizeof cb, isnan(xb) ? "-" : "%.1f", xb);
        const char *vc = json_string_value(json_object_get(json_object_get(ver, "chrf"), "verdict"));
        const char *vp = json_string_value(json_object_get(json_object_get(ver, "perplexity"), "verdict"));
        printf("%5lld %-20s %-10s %9s ", (long long)r->id, t, r->status, items);
        char set[21];
        snprintf(set, sizeof set, "%s", r->set_name ? r->set_name : "?");
        cli_print_text(stdout, set);
        printf("%*s %-20.20s %-20.20s %6s %6s  %s%s%s\n", (int)(20 - strlen(set)) > 0 ? (int)(20 - strlen(set)) : 0,
               "", a, b, ca, cb, vc ? vc : "-", vc ? ", " : "", vp ? vp : "");
        json_decref(agg);
        json_decref(ver);
    }
    if (json)
        cli_print_json(arr);
    else if (!n)
        printf("no eval runs yet\n");
    json_decref(arr);
    db_eval_runs_free(runs, n);
    return EXIT_OK;
}

/* ---- Making a set -------------------------------------------------------------------- */

static int make_set(const opts *o)
{
    if (!o->data || !o->out)
        return cli_usage_error("eval", "--make-set needs --data DIR and --out FILE");
    const char *split = o->split ? o->split : "validation";
    if (strcmp(split, "validation") && strcmp(split, "train"))
        return cli_usage_error("eval", "--split is validation or train, not '%s'", split);
    ds_options dso;
    ds_options_default(&dso);
    dso.data_dir = o->data;
    dataset ds = {0};
    char err[1024];
    int rc = EXIT_OK;
    ds_split s = !strcmp(split, "train") ? DS_TRAIN : DS_VALID;
    if (ds_load(&ds, &dso, err, sizeof err) != 0 || ds_write_jsonl(&ds, s, o->out, err, sizeof err) != 0)
        rc = cli_fail("%s", err);
    else
        printf("wrote %zu conversations (the %s split) to %s\n", ds_count(&ds, s), split, o->out);
    ds_free(&ds);
    return rc;
}

/* ---- Running ------------------------------------------------------------------------- */

/* Per version: the figures of the items it finished, in item order. */
typedef struct {
    double *chrf, *rouge, *log_ppl, *length, *latency;
    size_t n;
} series;

static void series_init(series *s, size_t cap)
{
    s->chrf = xcalloc(cap + 1, sizeof *s->chrf);
    s->rouge = xcalloc(cap + 1, sizeof *s->rouge);
    s->log_ppl = xcalloc(cap + 1, sizeof *s->log_ppl);
    s->length = xcalloc(cap + 1, sizeof *s->length);
    s->latency = xcalloc(cap + 1, sizeof *s->latency);
    s->n = 0;
}

static void series_free(series *s)
{
    free(s->chrf);
    free(s->rouge);
    free(s->log_ppl);
    free(s->length);
    free(s->latency);
}

/* Record one generation as a request of source "eval"; a store failure
 * here is reported and the run goes on (the item itself is what counts). */
static void record_request(db *d, int64_t model_id, const eval_result *r, db_outcome outcome, const char *error)
{
    int64_t rid;
    if (db_request_begin(d, model_id, "local", 0, 0, 0, &rid) != DB_OK ||
        db_request_set_source(d, rid, "eval") != DB_OK) {
        fprintf(stderr, "frontdesk: recording an eval request: %s\n", db_errmsg(d));
        return;
    }
    db_request_result res = {.outcome = outcome,
                             .error = error,
                             .prompt_tokens = r->prompt_tokens,
                             .gen_tokens = r->gen_tokens,
                             .ttft_ms = r->ttft_ms,
                             .prefill_ms = r->prefill_ms,
                             .decode_ms = r->decode_ms,
                             .latency_ms = r->latency_ms,
                             .prefill_tps = r->prefill_tps,
                             .decode_tps = r->decode_tps,
                             .attempts = 1};
    if (db_request_finish(d, rid, &res) != DB_OK)
        fprintf(stderr, "frontdesk: recording an eval request: %s\n", db_errmsg(d));
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int run_eval(const opts *o)
{
    config cfg;
    config_load(&cfg, o->config);
    for (size_t i = 0; i < cfg.n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", cfg.warnings[i]);
    db *d = NULL;
    eval_set set = {0};
    deploy_version ver[2] = {{0}};
    eval_engine eng[2] = {{0}};
    series ser[2] = {{0}};
    char err[1024];
    int rc = store_open(o->db, &d);
    int64_t run = 0;
    if (rc != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    if (eval_set_load(o->set, &set, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    size_t n = o->limit > 0 && (size_t)o->limit < set.n ? (size_t)o->limit : set.n;
    int threads = o->threads > 0 ? (int)o->threads : cfg.threads;
    for (int k = 0; k < o->n_models; k++) {
        int64_t id;
        int frc = deploy_find_version(d, o->models[k], NULL, &id, err, sizeof err);
        if (frc != EXIT_OK) {
            rc = frc == EXIT_USAGE ? cli_usage_error("eval", "%s", err) : cli_fail("%s", err);
            goto out;
        }
        if (deploy_version_load(d, id, &cfg, &ver[k], err, sizeof err) != 0) {
            cli_fail("%s", err);
            goto out;
        }
        if (ver[k].remote) {
            cli_fail("%s is a remote version; eval runs local versions only", o->models[k]);
            goto out;
        }
        int n_ctx = cfg.n_ctx;
        if (ver[k].m->hp.n_ctx_train && (uint32_t)n_ctx > ver[k].m->hp.n_ctx_train)
            n_ctx = (int)ver[k].m->hp.n_ctx_train;
        if (eval_engine_init(&eng[k], ver[k].m, ver[k].v, n_ctx, threads, err, sizeof err) != 0) {
            cli_fail("%s", err);
            goto out;
        }
        /* every item must fit before anything runs */
        for (size_t i = 0; i < n; i++) {
            int32_t *p, *r;
            size_t np, nr;
            if (eval_item_tokens(&eng[k], &set.items[i], &p, &np, &r, &nr, err, sizeof err) != 0) {
                cli_fail("%s:%d: %s (%s)", o->set, set.items[i].line, err, ver[k].name);
                goto out;
            }
            free(p);
            free(r);
        }
        series_init(&ser[k], n);
    }
    if (o->n_models == 2 && ver[0].id == ver[1].id) {
        rc = cli_usage_error("eval", "--model A and --model B are the same version");
        goto out;
    }

    json_t *settings = json_object();
    json_object_set_new(settings, "limit", o->limit > 0 ? json_integer(o->limit) : json_null());
    json_object_set_new(settings, "context", json_integer(eng[0].n_ctx));
    json_object_set_new(settings, "threads", json_integer(threads));
    json_object_set_new(settings, "max_tokens", json_integer(cfg.max_tokens));
    json_object_set_new(settings, "temperature", json_integer(0));
    json_object_set_new(settings, "template", json_string(chat_tmpl_name(eng[0].tmpl)));
    json_object_set_new(settings, "bootstrap", json_integer(EVAL_BOOT));
    json_object_set_new(settings, "min_eval_items", json_integer(cfg.deploy_min_eval_items));
    char *settings_s = json_dumps(settings, JSON_COMPACT);
    json_decref(settings);
    db_eval_new nr = {.model_a = ver[0].id,
                      .model_b = o->n_models == 2 ? ver[1].id : 0,
                      .set_sha256 = set.sha256,
                      .set_name = base_name(o->set),
                      .set_items = (int64_t)n,
                      .settings = settings_s};
    db_status ds = db_eval_create(d, &nr, &run);
    free(settings_s);
    if (ds != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        goto out;
    }

    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    const char *status = "complete";
    for (size_t i = 0; i < n && !strcmp(status, "complete"); i++) {
        for (int k = 0; k < o->n_models; k++) {
            eval_result r;
            int src = eval_score_item(&eng[k], &set.items[i], cfg.max_tokens, &interrupted, &r, err, sizeof err);
            if (src != 0) {
                record_request(d, ver[k].id, &r, src > 0 ? DB_OUTCOME_CANCELLED : DB_OUTCOME_ERROR,
                               src > 0 ? NULL : err);
                eval_result_clear(&r);
                if (src > 0)
                    status = "incomplete";
                else {
                    fprintf(stderr, "frontdesk: %s:%d: %s\n", o->set, set.items[i].line, err);
                    status = "failed";
                }
                break;
            }
            record_request(d, ver[k].id, &r, DB_OUTCOME_OK, NULL);
            db_eval_item it = {.item = (int64_t)i,
                               .model_id = ver[k].id,
                               .ppl = exp(r.log_ppl),
                               .reply = r.reply,
                               .chrf = r.chrf,
                               .rouge_l = r.rouge_l,
                               .length = r.length,
                               .latency_ms = r.latency_ms};
            if (db_eval_add_item(d, run, &it) != DB_OK) {
                fprintf(stderr, "frontdesk: %s\n", db_errmsg(d));
                eval_result_clear(&r);
                status = "failed";
                break;
            }
            series *s = &ser[k];
            s->chrf[s->n] = r.chrf;
            s->rouge[s->n] = r.rouge_l;
            s->log_ppl[s->n] = r.log_ppl;
            s->length[s->n] = r.length;
            s->latency[s->n] = r.latency_ms;
            s->n++;
            if (!o->json)
                fprintf(stderr, "item %zu/%zu (line %d) %s: chrF %.1f, perplexity %.3f, %d tokens\n", i + 1, n,
                        set.items[i].line, k ? "B" : "A", r.chrf, exp(r.log_ppl), r.length);
            eval_result_clear(&r);
        }
        if (atomic_load(&interrupted) && !strcmp(status, "complete") && i + 1 < n)
            status = "incomplete";
    }
    signal(SIGINT, SIG_DFL);

    json_t *agg = json_object();
    for (int k = 0; k < o->n_models; k++)
        json_object_set_new(agg, k ? "b" : "a",
                            eval_aggregates_json(ser[k].chrf, ser[k].rouge, ser[k].log_ppl, ser[k].length,
                                                 ser[k].latency, ser[k].n));
    json_t *ver_j = NULL;
    if (o->n_models == 2) {
        size_t paired = ser[0].n < ser[1].n ? ser[0].n : ser[1].n;
        ver_j = eval_verdicts_json(ser[0].chrf, ser[1].chrf, ser[0].log_ppl, ser[1].log_ppl, paired,
                                   cfg.deploy_min_eval_items);
    }
    char *agg_s = json_dumps(agg, JSON_COMPACT), *ver_s = ver_j ? json_dumps(ver_j, JSON_COMPACT) : NULL;
    json_decref(agg);
    json_decref(ver_j);
    ds = db_eval_finish(d, run, status, agg_s, ver_s);
    free(agg_s);
    free(ver_s);
    if (ds != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        goto out;
    }
    db_eval_run er;
    if (db_eval_get(d, run, &er, NULL, NULL) != DB_OK) {
        cli_fail("%s", db_errmsg(d));
        goto out;
    }
    if (o->json) {
        json_t *j = run_json(d, &er, NULL, 0, false);
        cli_print_json(j);
        json_decref(j);
    } else
        print_run(d, &er, NULL, 0, false);
    db_eval_run_clear(&er);
    if (!strcmp(status, "incomplete")) {
        fprintf(stderr, "frontdesk: interrupted: run %lld kept as incomplete\n", (long long)run);
        rc = 130;
    } else
        rc = !strcmp(status, "complete") ? EXIT_OK : EXIT_FAIL;
out:
    for (int k = 0; k < 2; k++) {
        eval_engine_free(&eng[k]);
        deploy_version_free(&ver[k]);
        series_free(&ser[k]);
    }
    eval_set_free(&set);
    db_close(d);
    config_free(&cfg);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    enum { OPT_LIST = 256, OPT_SHOW, OPT_MAKE, OPT_DATA, OPT_SPLIT, OPT_OUT, OPT_JSON, OPT_DB, OPT_CONFIG };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},   {"set", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'n'},   {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, OPT_JSON},     {"db", required_argument, NULL, OPT_DB},
        {"config", required_argument, NULL, OPT_CONFIG}, {"list", no_argument, NULL, OPT_LIST},
        {"show", required_argument, NULL, OPT_SHOW}, {"make-set", no_argument, NULL, OPT_MAKE},
        {"data", required_argument, NULL, OPT_DATA}, {"split", required_argument, NULL, OPT_SPLIT},
        {"out", required_argument, NULL, OPT_OUT}, {NULL, 0, NULL, 0},
    };
    opts o = {0};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:s:n:t:", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (o.n_models == 2)
                return cli_usage_error("eval", "at most two --model versions");
            o.models[o.n_models++] = optarg;
            break;
        case 's': o.set = optarg; break;
        case 'n':
            if (!cli_parse_int(optarg, 1, LONG_MAX, &o.limit))
                return cli_usage_error("eval", "--limit needs a whole number from 1, got '%s'", optarg);
            break;
        case 't':
            if (!cli_parse_int(optarg, 1, 512, &o.threads))
                return cli_usage_error("eval", "--threads needs a number from 1 to 512, got '%s'", optarg);
            break;
        case OPT_JSON: o.json = true; break;
        case OPT_DB: o.db = optarg; break;
        case OPT_CONFIG: o.config = optarg; break;
        case OPT_LIST: o.list = true; break;
        case OPT_SHOW: o.show = optarg; break;
        case OPT_MAKE: o.make_set = true; break;
        case OPT_DATA: o.data = optarg; break;
        case OPT_SPLIT: o.split = optarg; break;
        case OPT_OUT: o.out = optarg; break;
        case ':': return cli_usage_error("eval", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if ((int)o.list + (o.show != NULL) + (int)o.make_set > 1)
        return cli_usage_error("eval", "--list, --show and --make-set go alone");
    if (o.make_set)
        return make_set(&o);
    if (o.list || o.show) {
        long id = 0;
        if (o.show && !cli_parse_int(o.show, 1, LONG_MAX, &id))
            return cli_usage_error("eval", "--show needs a run number, got '%s'", o.show);
        db *d;
        int rc = store_open(o.db, &d);
        if (rc != EXIT_OK)
            return rc;
        rc = o.list ? list_runs(d, o.json) : show_run(d, id, o.json);
        db_close(d);
        return rc;
    }
    if (!o.n_models || !o.set)
        return cli_usage_error("eval", "--model VERSION and --set FILE are required");
    return run_eval(&o);
}
