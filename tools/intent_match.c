/*
 * intent_match.c — the intent-match rate of a stored eval run's replies
 * (`make eval-model`, after `frontdesk eval` on the held-out set).
 *
 *   intent_match --set FILE.jsonl --db PATH [--run ID] [--data DIR]
 *
 * Defaults: the newest run in the store, --data ../shared/data.
 *
 * The run must be on that set (the same SHA-256).  Its items whose set line
 * carries a metadata.intent (the Bitext requests of `frontdesk eval
 * --make-set`) are judged: each version's stored greedy reply is classified
 * by 1-NN TF-IDF cosine (train/tfidf.h) against the training split's
 * Bitext answers (train/dataset.h, ds_options_default: the split the
 * trainer trains on), and matches when the nearest answer's intent is the
 * item's.  The same classifier on those items' reference replies gives the
 * ceiling, the most the metric can show.  tools/eval_model.c computes the
 * same figure with replies it generates itself.
 *
 * Not here: generating replies or any other figure (frontdesk eval stores
 * them; `frontdesk eval --show RUN` prints them).  Exit status 0, 1 on
 * failure, 2 on bad usage.
 */
#include "app/eval.h"
#include "storage/chats.h"
#include "storage/evals.h"
#include "train/dataset.h"
#include "train/tfidf.h"
#include "util/util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(const char *msg)
{
    fprintf(stderr, "intent_match: %s\n", msg);
    fprintf(stderr, "usage: intent_match --set FILE.jsonl --db PATH [--run ID] [--data DIR]\n");
    return 2;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted distinct intents of the training Bitext requests. */
typedef struct {
    char **names; /* borrowed from the dataset */
    size_t n;
} intents;

static int intent_index(const intents *in, const char *name)
{
    if (!name)
        return -1;
    char **p = bsearch(&name, in->names, in->n, sizeof *in->names, cmp_str);
    return p ? (int)(p - in->names) : -1;
}

static bool is_request(const ds_conv *c)
{
    return c->source == DS_SRC_BITEXT && c->intent && c->n_msgs == 3 && c->msgs[1].role == DS_ROLE_USER &&
           c->msgs[2].role == DS_ROLE_ASSISTANT;
}

/* The classifier: every training Bitext answer, labelled by intent. */
static tfidf *build_classifier(const dataset *d, intents *in)
{
    size_t n = ds_count(d, DS_TRAIN);
    in->names = xmallocarray(n + 1, sizeof *in->names);
    in->n = 0;
    for (size_t i = 0; i < n; i++) {
        const ds_conv *c = ds_get(d, DS_TRAIN, i);
        if (is_request(c))
            in->names[in->n++] = c->intent;
    }
    qsort(in->names, in->n, sizeof *in->names, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++)
        if (k == 0 || strcmp(in->names[k - 1], in->names[i]))
            in->names[k++] = in->names[i];
    in->n = k;
    tfidf *tf = tfidf_new();
    for (size_t i = 0; i < n; i++) {
        const ds_conv *c = ds_get(d, DS_TRAIN, i);
        if (is_request(c))
            tfidf_add(tf, c->msgs[2].content, intent_index(in, c->intent));
    }
    tfidf_build(tf);
    return tf;
}

/* metadata.intent of every line of the set (index: 1-based line; NULL
 * none), n_lines entries + 1.  NULL with err when the file cannot be read. */
static char **line_intents(const char *path, size_t *n_lines, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        util_errf(err, errlen, "%s: cannot read it", path);
        return NULL;
    }
    char **out = xcalloc(1, sizeof *out), *buf = NULL;
    size_t cap = 0, n = 0;
    ssize_t len;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        n++;
        out = xreallocarray(out, n + 1, sizeof *out);
        out[n] = NULL;
        json_t *j = json_loadb(buf, (size_t)len, 0, NULL);
        const char *intent = json_string_value(json_object_get(json_object_get(j, "metadata"), "intent"));
        if (intent)
            out[n] = xstrdup(intent);
        json_decref(j);
    }
    free(buf);
    fclose(f);
    *n_lines = n;
    return out;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'}, {"db", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'}, {"data", required_argument, NULL, 'D'},
        {NULL, 0, NULL, 0},
    };
    const char *set_path = NULL, *db_path = NULL, *data = "../shared/data";
    int64_t run_id = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': set_path = optarg; break;
        case 'd': db_path = optarg; break;
        case 'D': data = optarg; break;
        case 'r': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*end || v <= 0)
                return usage("--run needs a run number");
            run_id = v;
            break;
        }
        default: return usage("unknown option or missing value");
        }
    }
    if (optind < argc || !set_path || !db_path)
        return usage("--set FILE and --db PATH are required");

    char err[1024];
    int rc = 1;
    eval_set set = {0};
    dataset ds = {0};
    db *d = NULL;
    db_eval_run run = {0};
    db_eval_item *items = NULL;
    size_t n_items = 0, n_lines = 0;
    char **intent_of = NULL;
    tfidf *tf = NULL;
    intents in = {0};

    if (eval_set_load(set_path, &set, err, sizeof err) != 0 ||
        !(intent_of = line_intents(set_path, &n_lines, err, sizeof err)))
        goto fail;
    if (db_open(&d, db_path, err, sizeof err) != DB_OK)
        goto fail;
    if (!run_id) {
        db_eval_run *runs;
        size_t n;
        if (db_eval_list(d, 1, &runs, &n) != DB_OK) {
            util_errf(err, sizeof err, "%s", db_errmsg(d));
            goto fail;
        }
        run_id = n ? runs[0].id : 0;
        db_eval_runs_free(runs, n);
        if (!run_id) {
            util_errf(err, sizeof err, "%s: no eval runs", db_path);
            goto fail;
        }
    }
    if (db_eval_get(d, run_id, &run, &items, &n_items) != DB_OK) {
        util_errf(err, sizeof err, "%s", db_errmsg(d));
        goto fail;
    }
    if (strcmp(run.set_sha256, set.sha256)) {
        util_errf(err, sizeof err, "eval run %lld was not on %s (another SHA-256)", (long long)run_id, set_path);
        goto fail;
    }
    ds_options o;
    ds_options_default(&o);
    o.data_dir = data;
    if (ds_load(&ds, &o, err, sizeof err) != DS_OK)
        goto fail;
    tf = build_classifier(&ds, &in);

    for (int k = 0; k < (run.model_b ? 2 : 1); k++) {
        int64_t version = k ? run.model_b : run.model_a;
        size_t judged = 0, ok = 0, ceil_ok = 0;
        for (size_t i = 0; i < n_items; i++) {
            const db_eval_item *it = &items[i];
            if (it->model_id != version || !it->reply || it->item < 0 || (size_t)it->item >= set.n)
                continue;
            const eval_item *si = &set.items[it->item];
            const char *truth = si->line > 0 && (size_t)si->line <= n_lines ? intent_of[si->line] : NULL;
            if (!truth)
                continue; /* not a Bitext request */
            int want = intent_index(&in, truth);
            judged++;
            ok += tfidf_nearest(tf, it->reply).label == want && want >= 0;
            ceil_ok += tfidf_nearest(tf, si->reference).label == want && want >= 0;
        }
        db_model m;
        char name[200] = "?";
        if (db_model_get(d, version, &m) == DB_OK) {
            snprintf(name, sizeof name, "%s", m.display_name);
            db_model_clear(&m);
        }
        if (!judged) {
            printf("intent match  %s: no stored reply to a request with an intent (eval run %lld)\n", name,
                   (long long)run_id);
            continue;
        }
        printf("intent match  %s: %zu of %zu held-out requests (%.1f%%); their reference answers %zu of %zu "
               "(%.1f%%) (eval run %lld, 1-NN TF-IDF against %zu intents)\n",
               name, ok, judged, 100.0 * (double)ok / (double)judged, ceil_ok, judged,
               100.0 * (double)ceil_ok / (double)judged, (long long)run_id, in.n);
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "intent_match: %s\n", err);
out:
    if (intent_of)
        for (size_t i = 0; i <= n_lines; i++)
            free(intent_of[i]);
    free(intent_of);
    free(in.names);
    tfidf_free(tf);
    ds_free(&ds);
    db_eval_items_free(items, n_items);
    db_eval_run_clear(&run);
    db_close(d);
    eval_set_free(&set);
    return rc;
}
