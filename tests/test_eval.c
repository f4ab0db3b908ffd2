/*
 * test_eval.c — offline evaluation runs (app/eval.h, storage/evals.h,
 * `frontdesk eval`) and the [deploy] require_eval gate.
 *
 * The store's runs and items directly; the figures on hand-worked cases
 * (the bootstrap of a mean, the paired verdicts); then the command on the
 * built-in model and a renamed copy (other bytes, another SHA-256) over a
 * set of four conversations with hand-written replies made here: the run
 * stored with every item, each item's perplexity equal to teacher forcing
 * done here through the engine in one pass, each stored reply's chrF equal
 * to a plain recount, the generations stored as "eval" requests that
 * `stats` does not count; --list and --show; bad set lines named; the gate
 * refusing, then allowing after a run, and --force recorded.
 *
 * Every store is a SQLite file, or a PostgreSQL database when run with
 * FRONTDESK_TEST_BACKEND=postgresql (tests/store_util.h).
 */
#include "testutil.h"

#include "store_util.h"

#include "app/eval.h"
#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "storage/chats.h"
#include "storage/evals.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUILTIN "models/frontdesk-cs.gguf"

static char model_a[512], model_b[512], set_path[512], cfg_path[512];

static const char *const convs[][2] = {
    {"I want to cancel my order", "I can help you cancel your order. Could you give me the order number?"},
    {"Where is my refund?", "Refunds take five to seven business days to reach your account."},
    {"How do I change my shipping address?", "You can change the shipping address in your account settings."},
    {"My package arrived damaged", "I am sorry to hear that. I will send you a replacement right away."},
};
#define N_CONVS 4
static const char *const SYSTEM = "You are a helpful customer support agent.";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_variant(const char *dst, const char *name)
{
    size_t len;
    char *bytes = test_read_file(BUILTIN, &len);
    char *at = memmem(bytes, len, "frontdesk-cs", 12);
    assert_non_null(at);
    memcpy(at, name, 12);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(bytes);
}

/* The set: system, user, assistant per line (and a trailing user turn on
 * the last, which is not part of the item). */
static void write_set(const char *path)
{
    strbuf sb = {0};
    for (int i = 0; i < N_CONVS; i++) {
        json_t *msgs = json_array();
        json_array_append_new(msgs, json_pack("{ssss}", "role", "system", "content", SYSTEM));
        json_array_append_new(msgs, json_pack("{ssss}", "role", "user", "content", convs[i][0]));
        json_array_append_new(msgs, json_pack("{ssss}", "role", "assistant", "content", convs[i][1]));
        if (i == N_CONVS - 1)
            json_array_append_new(msgs, json_pack("{ssss}", "role", "user", "content", "thanks"));
        json_t *o = json_pack("{so so}", "messages", msgs, "metadata", json_object());
        char *s = json_dumps(o, JSON_COMPACT);
        sb_printf(&sb, "%s\n", s);
        free(s);
        json_decref(o);
    }
    write_file(path, sb.data);
    sb_free(&sb);
}

static int setup(void **state)
{
    (void)state;
    snprintf(model_a, sizeof model_a, "%s", test_path(test_tmpdir(), "desk-a.gguf"));
    snprintf(model_b, sizeof model_b, "%s", test_path(test_tmpdir(), "desk-b.gguf"));
    snprintf(set_path, sizeof set_path, "%s", test_path(test_tmpdir(), "set.jsonl"));
    snprintf(cfg_path, sizeof cfg_path, "%s", test_path(test_tmpdir(), "config"));
    make_variant(model_a, "frontdesk-cs");
    make_variant(model_b, "frontdesk-c2");
    write_set(set_path);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "[model]\nthreads = 1\n[sampling]\nmax_tokens = 12\n[deploy]\nmin_eval_items = 3\n");
    write_file(cfg_path, cfg);
    return 0;
}

/* ---- The store ------------------------------------------------------------------ */

static void test_store_runs(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("store.db"));
    db_model_info mi = {.sha256 = "aa", .name = "one", .file_name = "one.gguf"};
    int64_t m1, m2, run;
    assert_int_equal(db_model_use(d, &mi, &m1), DB_OK);
    mi.sha256 = "bb";
    mi.name = "two";
    assert_int_equal(db_model_use(d, &mi, &m2), DB_OK);
    char sha[65];
    memset(sha, 'c', 64);
    sha[64] = 0;
    db_eval_new n = {.model_a = m1, .model_b = m1, .set_sha256 = sha, .set_name = "s.jsonl", .set_items = 2};
    assert_int_equal(db_eval_create(d, &n, &run), DB_INVALID); /* the same version twice */
    n.model_b = m2;
    assert_int_equal(db_eval_create(d, &n, &run), DB_OK);
    db_eval_item it = {.item = 1, .model_id = m2, .ppl = NAN, .reply = "hi", .chrf = 12.5, .rouge_l = 0.25,
                       .length = 3, .latency_ms = 40};
    assert_int_equal(db_eval_add_item(d, run, &it), DB_OK);
    it.model_id = m1;
    it.ppl = 7.5;
    assert_int_equal(db_eval_add_item(d, run, &it), DB_OK);
    assert_int_equal(db_eval_add_item(d, run + 9, &it), DB_NOTFOUND);
    assert_int_equal(db_eval_finish(d, run, "done", NULL, NULL), DB_INVALID);
    assert_int_equal(db_eval_finish(d, run, "incomplete", "{\"a\":1}", NULL), DB_OK);

    db_eval_run r;
    db_eval_item *items;
    size_t ni;
    assert_int_equal(db_eval_get(d, run, &r, &items, &ni), DB_OK);
    assert_string_equal(r.status, "incomplete");
    assert_int_equal(r.items_done, 1); /* item 1, by both versions */
    assert_int_equal(r.set_items, 2);
    assert_int_equal(r.model_b, m2);
    assert_string_equal(r.aggregates, "{\"a\":1}");
    assert_null(r.verdicts);
    assert_true(r.finished_at > 0);
    assert_int_equal(ni, 2);
    assert_int_equal(items[0].model_id, m1 < m2 ? m1 : m2);
    const db_eval_item *by_m2 = items[0].model_id == m2 ? &items[0] : &items[1];
    assert_true(isnan(by_m2->ppl)); /* unknown stays unknown */
    assert_string_equal(by_m2->reply, "hi");
    assert_true(by_m2->chrf == 12.5 && by_m2->length == 3);
    db_eval_items_free(items, ni);
    db_eval_run_clear(&r);

    db_eval_run *runs;
    size_t nr;
    assert_int_equal(db_eval_create(d, &n, &run), DB_OK);
    assert_int_equal(db_eval_list(d, 0, &runs, &nr), DB_OK);
    assert_int_equal(nr, 2);
    assert_int_equal(runs[0].id, run); /* newest first */
    assert_string_equal(runs[0].status, "running");
    db_eval_runs_free(runs, nr);
    assert_int_equal(db_eval_get(d, run + 5, &r, NULL, NULL), DB_NOTFOUND);
    db_close(d);
}

/* A run left "running" by a process that ended is marked "incomplete" by
 * the next open, keeping its items; one whose owner lives stays running. */
static void test_dead_owner(void **state)
{
    (void)state;
    const char *p = fresh_store("dead.db");
    db *d = open_store(p);
    db_model_info mi = {.sha256 = "dd", .name = "solo", .file_name = "solo.gguf"};
    int64_t m, alive, orphan;
    assert_int_equal(db_model_use(d, &mi, &m), DB_OK);
    char sha[65];
    memset(sha, 'e', 64);
    sha[64] = 0;
    db_eval_new n = {.model_a = m, .set_sha256 = sha, .set_name = "s.jsonl", .set_items = 3};
    assert_int_equal(db_eval_create(d, &n, &alive), DB_OK); /* owned by this process */
    /* the orphan: created by a child that then exits */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        db *cd;
        char msg[256];
        int64_t id;
        db_eval_item it = {.item = 0, .model_id = m, .ppl = 2.0, .reply = "x", .chrf = 10, .rouge_l = 0.1,
                           .length = 1, .latency_ms = 5};
        _exit(db_open(&cd, p, msg, sizeof msg) == DB_OK && db_eval_create(cd, &n, &id) == DB_OK &&
                      db_eval_add_item(cd, id, &it) == DB_OK
                  ? 0
                  : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    orphan = alive + 1;
    db_close(d);
    d = open_store(p); /* recovery runs here */
    db_eval_run r;
    assert_int_equal(db_eval_get(d, orphan, &r, NULL, NULL), DB_OK);
    assert_string_equal(r.status, "incomplete");
    assert_int_equal(r.items_done, 1);
    assert_true(r.finished_at > 0);
    db_eval_run_clear(&r);
    assert_int_equal(db_eval_get(d, alive, &r, NULL, NULL), DB_OK);
    assert_string_equal(r.status, "running");
    db_eval_run_clear(&r);
    db_close(d);
}

/* ---- The figures ---------------------------------------------------------------- */

static void test_bootstrap_mean(void **state)
{
    (void)state;
    double m, lo, hi;
    const double same[] = {4, 4, 4, 4};
    eval_bootstrap_mean(same, 4, 1, &m, &lo, &hi);
    assert_true(m == 4 && lo == 4 && hi == 4);
    /* {0, 1}: a resample's mean is 0, 1/2 or 1 with chances 1/4, 1/2, 1/4,
     * so over 2000 draws the 2.5% point is 0 and the 97.5% point 1. */
    const double two[] = {0, 1};
    eval_bootstrap_mean(two, 2, 7, &m, &lo, &hi);
    assert_true(m == 0.5 && lo == 0 && hi == 1);
    double m2, lo2, hi2;
    const double x[] = {1, 5, 2, 8, 3};
    eval_bootstrap_mean(x, 5, 3, &m, &lo, &hi);
    eval_bootstrap_mean(x, 5, 3, &m2, &lo2, &hi2);
    assert_true(m == 19.0 / 5 && lo == lo2 && hi == hi2 && lo < m && m < hi); /* seeded: the same twice */
    eval_bootstrap_mean(x, 0, 3, &m, &lo, &hi);
    assert_true(isnan(m) && isnan(lo) && isnan(hi));
}

static const char *verdict(json_t *v, const char *measure)
{
    return json_string_value(json_object_get(json_object_get(v, measure), "verdict"));
}

static void test_verdicts(void **state)
{
    (void)state;
    /* Ten items, B's chrF lower on every one by distinct amounts: all ten
     * signed ranks negative, W+ = 0, exact two-sided p = 2 / 2^10; B's
     * log-perplexity higher on every one: worse there too. */
    double a[10], b[10], la[10], lb[10];
    for (int i = 0; i < 10; i++) {
        a[i] = 50;
        b[i] = 49 - i;
        la[i] = 2;
        lb[i] = 2.5 + 0.01 * i;
    }
    json_t *v = eval_verdicts_json(a, b, la, lb, 10, 5);
    json_t *c = json_object_get(v, "chrf");
    assert_int_equal(json_integer_value(json_object_get(c, "losses")), 10);
    assert_int_equal(json_integer_value(json_object_get(c, "wins")), 0);
    assert_true(fabs(json_number_value(json_object_get(c, "p")) - 2.0 / 1024) < 1e-12);
    assert_string_equal(verdict(v, "chrf"), "worse");
    assert_string_equal(verdict(v, "perplexity"), "worse");
    json_decref(v);
    /* The other way round: better on both (lower perplexity is better). */
    v = eval_verdicts_json(b, a, lb, la, 10, 5);
    assert_string_equal(verdict(v, "chrf"), "better");
    assert_string_equal(verdict(v, "perplexity"), "better");
    json_decref(v);
    /* Differences within 1e-9 are ties; below the minimum: not enough data. */
    b[0] = 50 + 1e-12;
    v = eval_verdicts_json(a, b, la, lb, 10, 11);
    c = json_object_get(v, "chrf");
    assert_int_equal(json_integer_value(json_object_get(c, "ties")), 1);
    assert_string_equal(verdict(v, "chrf"), "not enough data");
    assert_true(json_is_null(json_object_get(c, "p")));
    json_decref(v);
    /* Mixed signs, balanced: no evidence. */
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {2, 1, 4, 3, 6, 5};
    v = eval_verdicts_json(x, y, x, y, 6, 5);
    assert_string_equal(verdict(v, "chrf"), "no evidence");
    json_decref(v);
}

/* ---- The command ---------------------------------------------------------------- */

/* chrF recounted plainly: code points without whitespace (the texts here
 * are ASCII), n-grams matched greedily to unused equal ones. */
static double plain_chrf(const char *hyp, const char *ref)
{
    char h[2048], r[2048];
    size_t lh = 0, lr = 0;
    for (const char *p = hyp; *p; p++)
        if (!strchr(" \t\n\r\v\f", *p))
            h[lh++] = *p;
    for (const char *p = ref; *p; p++)
        if (!strchr(" \t\n\r\v\f", *p))
            r[lr++] = *p;
    double p = 0, q = 0;
    int eff = 0;
    for (size_t n = 1; n <= 6; n++) {
        if (lh < n || lr < n)
            continue;
        size_t nh = lh - n + 1, nr = lr - n + 1, m = 0;
        bool used[2048] = {0};
        for (size_t i = 0; i < nh; i++)
            for (size_t j = 0; j < nr; j++)
                if (!used[j] && !memcmp(h + i, r + j, n)) {
                    used[j] = true;
                    m++;
                    break;
                }
        p += (double)m / nh;
        q += (double)m / nr;
        eff++;
    }
    if (!eff || p + q == 0)
        return 0;
    p /= eff;
    q /= eff;
    return 100 * 5 * p * q / (4 * p + q);
}

/* Teacher forcing in one pass: the ChatML prompt of conversation i
 * followed by the reference's tokens, evaluated together with every
 * position's logits; the mean of -log softmax over the reference. */
static double teacher_forced_ppl(model *m, tok_vocab *v, int i)
{
    chat_msg msgs[2] = {{"system", SYSTEM}, {"user", convs[i][0]}};
    strbuf text = {0};
    sb_puts(&text, "");
    chat_tmpl_apply(CHAT_TMPL_CHATML, msgs, 2, true, &text);
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    char err[256];
    assert_int_equal(tok_encode(v, text.data, text.len, true, true, &ids, &n, &cap, err, sizeof err), 0);
    size_t np = n;
    assert_int_equal(tok_encode(v, convs[i][1], strlen(convs[i][1]), false, false, &ids, &n, &cap, err, sizeof err), 0);
    fwd_ctx *c = fwd_new(m, 512, 1, err, sizeof err);
    assert_non_null(c);
    size_t V = m->n_vocab;
    float *logits = malloc(n * V * sizeof *logits);
    assert_int_equal(fwd_eval(c, ids, (int)n, true, logits, NULL), FWD_OK);
    double nll = 0;
    for (size_t t = np; t < n; t++) {
        const float *row = logits + (t - 1) * V;
        double mx = row[0], sum = 0;
        for (size_t j = 1; j < V; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (size_t j = 0; j < V; j++)
            sum += exp(row[j] - mx);
        nll += mx + log(sum) - row[ids[t]];
    }
    free(logits);
    free(ids);
    sb_free(&text);
    fwd_free(c);
    return exp(nll / (double)(n - np));
}

static void test_eval_run(void **state)
{
    (void)state;
    const char *dbp = fresh_store("run.db");
    char *out, *err;
    int rc = RUN(&out, &err, "eval", "--model", model_a, "--model", model_b, "--set", set_path, "--json", "--db", dbp,
                 "--config", cfg_path);
    if (rc != 0)
        fail_msg("eval exit %d: %s", rc, err);
    json_t *j = test_json(out);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "complete");
    assert_int_equal(json_integer_value(json_object_get(j, "items_done")), N_CONVS);
    int64_t run = json_integer_value(json_object_get(j, "id"));
    /* the same model bytes under two names: every item a tie, no evidence */
    json_t *ver = json_object_get(j, "verdicts");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(ver, "chrf"), "ties")), N_CONVS);
    assert_string_equal(verdict(ver, "chrf"), "no evidence");
    json_decref(j);
    free(out);
    free(err);

    /* the stored items against figures computed here */
    db *d = open_store(dbp);
    db_eval_run r;
    db_eval_item *items;
    size_t n;
    assert_int_equal(db_eval_get(d, run, &r, &items, &n), DB_OK);
    assert_int_equal(n, 2 * N_CONVS);
    assert_int_equal(r.set_items, N_CONVS);
    model *m;
    tok_vocab *v;
    char msg[256];
    assert_int_equal(model_load(&m, BUILTIN, msg, sizeof msg), 0);
    assert_int_equal(tok_load(&v, m->file, msg, sizeof msg), 0);
    for (size_t i = 0; i < n; i++) {
        int item = (int)items[i].item;
        double want = teacher_forced_ppl(m, v, item);
        if (fabs(items[i].ppl - want) > 1e-4 * want)
            fail_msg("item %d: stored perplexity %.6f, teacher forcing here %.6f", item, items[i].ppl, want);
        assert_non_null(items[i].reply);
        assert_true(strlen(items[i].reply) > 0);
        double c = plain_chrf(items[i].reply, convs[item][1]);
        if (fabs(items[i].chrf - c) > 1e-9)
            fail_msg("item %d: stored chrF %.9f, recounted %.9f", item, items[i].chrf, c);
        assert_true(items[i].length >= 1 && items[i].length <= 12);
    }
    tok_free(v);
    model_free(m);
    db_eval_items_free(items, n);
    db_eval_run_clear(&r);
    db_close(d);

    /* the generations are requests of source eval, none of them traffic */
    double c[3];
    assert_int_equal(sql_nums(dbp,
                              "SELECT count(*), sum(CASE WHEN source = 'eval' THEN 1 ELSE 0 END),"
                              " sum(CASE WHEN outcome = 'ok' THEN 1 ELSE 0 END) FROM requests",
                              c, 3),
                     3);
    assert_true(c[0] == 2 * N_CONVS && c[1] == 2 * N_CONVS && c[2] == 2 * N_CONVS);
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 0);
    json_decref(j);
    free(out);

    /* --list and --show */
    assert_int_equal(RUN(&out, NULL, "eval", "--list", "--db", dbp), 0);
    assert_non_null(strstr(out, "complete"));
    assert_non_null(strstr(out, "frontdesk-c2"));
    assert_non_null(strstr(out, "4/4"));
    free(out);
    assert_int_equal(RUN(&out, NULL, "eval", "--list", "--json", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    free(out);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)run);
    assert_int_equal(RUN(&out, NULL, "eval", "--show", id, "--json", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 2 * N_CONVS);
    json_t *agg = json_object_get(json_object_get(j, "aggregates"), "a");
    double ppl = json_number_value(json_object_get(json_object_get(agg, "perplexity"), "value"));
    double lo = json_number_value(json_object_get(json_object_get(agg, "perplexity"), "lo"));
    double hi = json_number_value(json_object_get(json_object_get(agg, "perplexity"), "hi"));
    assert_true(lo <= ppl && ppl <= hi);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, NULL, "eval", "--show", id, "--db", dbp), 0);
    assert_non_null(strstr(out, "B vs A over 4 paired items: chrF wins 0, ties 4, losses 0"));
    free(out);
    assert_int_equal(RUN(NULL, &err, "eval", "--show", "99", "--db", dbp), 1);
    free(err);
    /* one version alone: no verdicts */
    assert_int_equal(RUN(&out, NULL, "eval", "--model", model_a, "--set", set_path, "--limit", "2", "--json", "--db",
                         dbp, "--config", cfg_path),
                     0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "items_done")), 2);
    assert_true(json_is_null(json_object_get(j, "verdicts")));
    json_decref(j);
    free(out);
}

static void expect_bad_set(const char *name, const char *text, const char *config, const char *want)
{
    const char *path = test_path(test_tmpdir(), name);
    write_file(path, text);
    char *err;
    const char *bad = fresh_store("bad.db");
    int rc = RUN(NULL, &err, "eval", "--model", model_a, "--set", path, "--db", bad, "--config", config);
    if (rc != 1 || !strstr(err, want))
        fail_msg("%s: exit %d, wanted 1 and '%s' in: %s", name, rc, want, err);
    free(err);
    db *d = open_store(bad);
    db_eval_run *runs;
    size_t n;
    assert_int_equal(db_eval_list(d, 0, &runs, &n), DB_OK);
    assert_int_equal(n, 0); /* nothing ran */
    db_eval_runs_free(runs, n);
    db_close(d);
}

static void test_bad_sets(void **state)
{
    (void)state;
    const char *good = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"hello\"}]}\n";
    char text[4096];
    snprintf(text, sizeof text, "%s\n%s{\"messages\": [oops\n", good, good);
    expect_bad_set("json.jsonl", text, cfg_path, "json.jsonl:4: invalid JSON");
    snprintf(text, sizeof text, "%s%s{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n", good, good);
    expect_bad_set("noasst.jsonl", text, cfg_path, "noasst.jsonl:3: no assistant message");
    /* a context of 16 tokens: the second conversation is far longer */
    const char *small = test_path(test_tmpdir(), "small.conf");
    write_file(small, "[model]\ncontext = 16\n");
    snprintf(text, sizeof text,
             "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}\n"
             "{\"messages\":[{\"role\":\"user\",\"content\":\"%s\"},{\"role\":\"assistant\",\"content\":\"%s\"}]}\n",
             convs[0][0], convs[0][1]);
    expect_bad_set("long.jsonl", text, small, "long.jsonl:2: the conversation is");
}

static void test_gate(void **state)
{
    (void)state;
    const char *dbp = fresh_store("gate.db");
    const char *conf = test_path(test_tmpdir(), "gate.conf");
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "[sampling]\nmax_tokens = 6\n[deploy]\nrequire_eval = %s\nmin_eval_items = 4\n", set_path);
    write_file(conf, cfg);
    char *out, *err;
    assert_int_equal(RUN(NULL, NULL, "deploy", model_a, "--db", dbp, "--config", conf), 0);
    /* no run yet: refused, saying what is missing */
    assert_int_equal(RUN(NULL, &err, "canary", "start", model_b, "--share", "10", "--db", dbp, "--config", conf), 1);
    assert_non_null(strstr(err, "no complete eval run"));
    free(err);
    /* a run of the candidate alone does not count, nor one with too few items */
    assert_int_equal(RUN(NULL, NULL, "eval", "--model", model_b, "--set", set_path, "--db", dbp, "--config", conf), 0);
    assert_int_equal(RUN(NULL, NULL, "eval", "--model", model_a, "--model", model_b, "--set", set_path, "--limit", "3",
                         "--db", dbp, "--config", conf),
                     0);
    assert_int_equal(RUN(NULL, &err, "canary", "start", model_b, "--share", "10", "--db", dbp, "--config", conf), 1);
    free(err);
    /* the candidate as A, stable as B, all of the set: allowed */
    assert_int_equal(RUN(NULL, NULL, "eval", "--model", model_b, "--model", model_a, "--set", set_path, "--db", dbp,
                         "--config", conf),
                     0);
    assert_int_equal(RUN(&out, &err, "canary", "start", model_b, "--share", "10", "--db", dbp, "--config", conf), 0);
    assert_non_null(strstr(out, "frontdesk-c2"));
    free(out);
    free(err);
    /* another set: refused again, then forced, the note saying so */
    assert_int_equal(RUN(NULL, NULL, "canary", "stop", "--db", dbp, "--config", conf), 0);
    const char *other = test_path(test_tmpdir(), "other.jsonl");
    write_file(other, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}\n");
    snprintf(cfg, sizeof cfg, "[deploy]\nrequire_eval = %s\n", other);
    write_file(conf, cfg);
    assert_int_equal(RUN(NULL, NULL, "canary", "start", model_b, "--share", "10", "--db", dbp, "--config", conf), 1);
    assert_int_equal(RUN(NULL, NULL, "canary", "start", model_b, "--share", "10", "--force", "--note", "urgent fix",
                         "--db", dbp, "--config", conf),
                     0);
    assert_int_equal(RUN(&out, NULL, "deployment", "history", "--json", "--db", dbp), 0);
    json_t *j = test_json(out);
    const char *note = json_string_value(json_object_get(json_array_get(j, 0), "note"));
    assert_non_null(note);
    assert_non_null(strstr(note, "forced without eval: "));
    assert_non_null(strstr(note, "urgent fix"));
    json_decref(j);
    free(out);
}

/* The gate reads a run's verdicts from the candidate's side: "worse" when
 * the candidate is B, "better" when it is A, both mean the candidate is
 * worse; the newest matching run decides. */
static void add_gate_run(db *d, const char *sha, int64_t a, int64_t b, const char *status, const char *verdicts)
{
    db_eval_new n = {.model_a = a, .model_b = b, .set_sha256 = sha, .set_items = 1};
    int64_t run;
    assert_int_equal(db_eval_create(d, &n, &run), DB_OK);
    db_eval_item it = {.item = 0, .model_id = a, .ppl = 2, .chrf = 1, .rouge_l = 0, .length = 1, .latency_ms = 1};
    assert_int_equal(db_eval_add_item(d, run, &it), DB_OK);
    assert_int_equal(db_eval_finish(d, run, status, "{}", verdicts), DB_OK);
}

static void test_gate_sides(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("sides.db"));
    db_model_info mi = {.sha256 = "aa", .name = "stable", .file_name = "s.gguf"};
    int64_t st, ca;
    assert_int_equal(db_model_use(d, &mi, &st), DB_OK);
    mi.sha256 = "bb";
    mi.name = "cand";
    assert_int_equal(db_model_use(d, &mi, &ca), DB_OK);
    eval_set s;
    char msg[512];
    assert_int_equal(eval_set_load(set_path, &s, msg, sizeof msg), 0);
    config cfg;
    config_load(&cfg, test_path(test_tmpdir(), "no-such-config"));
    cfg.deploy_min_eval_items = 1;
    cfg.deploy_require_eval = xstrdup(set_path);
    const char *worse_chrf = "{\"chrf\":{\"verdict\":\"worse\",\"p\":0.01},\"perplexity\":{\"verdict\":\"no evidence\"}}";
    const char *better_ppl = "{\"chrf\":{\"verdict\":\"no evidence\"},\"perplexity\":{\"verdict\":\"better\",\"p\":0.02}}";
    add_gate_run(d, s.sha256, st, ca, "complete", worse_chrf); /* B = candidate, worse */
    assert_int_equal(eval_gate_check(d, &cfg, st, ca, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "worse than stable on chrF"));
    add_gate_run(d, s.sha256, ca, st, "complete", worse_chrf); /* B = stable worse: the candidate is fine */
    assert_int_equal(eval_gate_check(d, &cfg, st, ca, msg, sizeof msg), 0);
    add_gate_run(d, s.sha256, ca, st, "incomplete", better_ppl); /* not complete: does not decide */
    assert_int_equal(eval_gate_check(d, &cfg, st, ca, msg, sizeof msg), 0);
    add_gate_run(d, s.sha256, ca, st, "complete", better_ppl); /* B = stable better: the candidate is worse */
    assert_int_equal(eval_gate_check(d, &cfg, st, ca, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "perplexity"));
    cfg.deploy_min_eval_items = 2; /* every run has one item: none counts */
    assert_int_equal(eval_gate_check(d, &cfg, st, ca, msg, sizeof msg), 1);
    assert_non_null(strstr(msg, "no complete eval run"));
    config_free(&cfg);
    eval_set_free(&s);
    db_close(d);
}

static void test_make_set(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        test_skip("make-set: the corpora in ../shared/data are absent");
    const char *out_path = test_path(test_tmpdir(), "valid.jsonl");
    char *out, *err;
    int rc = RUN(&out, &err, "eval", "--make-set", "--data", test_path(shared, "data"), "--out", out_path);
    if (rc != 0)
        fail_msg("make-set exit %d: %s", rc, err);
    assert_non_null(strstr(out, "validation"));
    free(out);
    free(err);
    /* every line is a usable item */
    eval_set s;
    char msg[512];
    if (eval_set_load(out_path, &s, msg, sizeof msg) != 0)
        fail_msg("%s", msg);
    assert_true(s.n > 10);
    eval_set_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_runs), cmocka_unit_test(test_bootstrap_mean), cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_eval_run),   cmocka_unit_test(test_bad_sets),       cmocka_unit_test(test_gate),
        cmocka_unit_test(test_gate_sides),
        cmocka_unit_test(test_dead_owner),
        cmocka_unit_test(test_make_set),
    };
    /* on PostgreSQL all but the figures and --make-set, which touch no store */
    static const char *const no_store[] = {"test_bootstrap_mean", "test_verdicts", "test_make_set", NULL};
    return store_run_suite("eval", tests, sizeof tests / sizeof *tests, no_store, setup, NULL);
}
