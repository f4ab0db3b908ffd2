/*
 * test_loop.c — the feedback loop end to end, as a new user runs it: every
 * step through the `frontdesk` binary, on a fresh database and
 * configuration in a temporary directory ($XDG_DATA_HOME, $XDG_CONFIG_HOME,
 * no --db anywhere).
 *
 *   deploy the built-in model (stable) → eight `ask` conversations →
 *   `rate` the replies (six 4 or 5, two 2) → `export --min-score 4` →
 *   `train --init` on the export → the require_eval gate refuses the
 *   canary → `eval` built-in vs tuned on the rated replies → the gate
 *   passes → `canary start --share 50` → more asks → `deployment` shows
 *   both arms → `promote` → the history.
 *
 * What is checked against figures that do not come from the code under
 * test:
 *   - the export holds exactly the replies rated 4 or 5 (the ids this test
 *     rated), and training on six replies says "no validation split";
 *   - the tuned model's perplexity on the rated replies is below the
 *     built-in model's: from the stored run, from the per-item figures read
 *     by SQL, and recomputed here by teacher forcing through the engine
 *     (ChatML by hand, prompt then reply), each item within 1e-4 of the
 *     stored one;
 *   - the stored verdicts are the ones the per-item rows give: the
 *     differences formed here (chrF B − A with ties at 1e-9, log-perplexity
 *     B − A), util/rank.h's Wilcoxon test on them, and the wording rule at
 *     α = 0.05 (the statistic itself is checked against SciPy in
 *     test_rank);
 *   - the requests after the canary started are split between the arms as
 *     the conversations were (SQL), and each arm has some.
 *
 * SQLite only: the loop spends its minute training and evaluating the
 * model, and the storage it goes through is run on PostgreSQL as well by
 * test_deploy, test_eval, the test_storage and test_store_* suites and
 * test_rollup.
 */
#include "testutil.h"

#include "store_util.h"

#include "engine/chat_template.h"
#include "engine/forward.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "util/rank.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUILTIN "models/frontdesk-cs.gguf"
#define N_ASKS 8
#define N_RATED 6 /* the replies rated 4 or 5 below */

static const char *const questions[N_ASKS] = {
    "I want to cancel my order",     "Where is my refund?",         "How do I change my shipping address?",
    "My package arrived damaged",    "Can I speak to a human agent?", "How do I reset my password?",
    "I was charged twice",           "Do you ship to Canada?",
};
static const int scores[N_ASKS] = {5, 2, 5, 4, 5, 2, 4, 5};

static char store_file[512], cfg_file[512], rated[512], tuned[512];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Run and fail, showing standard error, unless the exit status is `want`. */
#define RUN_OK(out, ...)                                                                                   \
    do {                                                                                                   \
        char *e_;                                                                                          \
        int rc_ = fd_run(out, &e_, (const char *const[]){__VA_ARGS__, NULL});                              \
        if (rc_ != 0)                                                                                      \
            fail_msg("frontdesk %s exited %d: %s", #__VA_ARGS__, rc_, e_);                                  \
        free(e_);                                                                                          \
    } while (0)

static sqlite3 *open_sql(void)
{
    sqlite3 *s;
    if (sqlite3_open_v2(store_file, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail_msg("opening %s", store_file);
    return s;
}

static long long sql_int(const char *q)
{
    sqlite3 *s = open_sql();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s, q, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", q, sqlite3_errmsg(s));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

/* One `ask` with --stats; returns the stored reply's message id. */
static long long ask(const char *question, int seed)
{
    char sd[16];
    snprintf(sd, sizeof sd, "%d", seed);
    char *out, *err;
    int rc = RUN(&out, &err, "ask", "--stats", "-n", "24", "--seed", sd, question);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    const char *at = strstr(err, " message=");
    if (!at)
        fail_msg("no message= in ask --stats: %s", err);
    long long id = atoll(at + 9);
    assert_true(id > 0);
    free(out);
    free(err);
    return id;
}

/* ---- Teacher forcing, done here ---------------------------------------------------------- */

/* The perplexity of a conversation's last assistant message after the
 * messages before it: their ChatML prompt (with the assistant header)
 * evaluated into the cache, then the reference's tokens but its last with
 * every position's logits; exp of the mean −log softmax over the
 * reference's tokens.  Two calls rather than one pass: a batch of 64
 * tokens or more takes the engine's large-batch arithmetic (sgemm,
 * single-precision attention; engine/forward.c), which moves these
 * perplexities by up to ~0.5%, and a prompt plus its reply here is about
 * that long while each part alone is well below. */
/* A message as the trainer reads it, and eval scores it: blank space
 * trimmed at both ends (the exported replies have no CR).  Kept in buf. */
static const char *trimmed(const char *s, char *buf, size_t size)
{
    while (*s == ' ' || *s == '\n' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t'))
        n--;
    assert_true(n < size);
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

static double teacher_forced_ppl(model *m, tok_vocab *v, json_t *msgs)
{
    size_t n = json_array_size(msgs);
    assert_true(n >= 2);
    chat_msg cm[16];
    static char texts[16][4096], ref_buf[4096];
    assert_true(n - 1 <= 16);
    for (size_t i = 0; i + 1 < n; i++)
        cm[i] = (chat_msg){json_string_value(json_object_get(json_array_get(msgs, i), "role")),
                           trimmed(json_string_value(json_object_get(json_array_get(msgs, i), "content")),
                                   texts[i], sizeof texts[i])};
    const char *ref =
        trimmed(json_string_value(json_object_get(json_array_get(msgs, n - 1), "content")), ref_buf, sizeof ref_buf);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, n - 1), "role")), "assistant");
    strbuf text = {0};
    sb_puts(&text, "");
    chat_tmpl_apply(CHAT_TMPL_CHATML, cm, n - 1, true, &text);
    int32_t *ids = NULL;
    size_t nt = 0, cap = 0;
    char err[256];
    assert_int_equal(tok_encode(v, text.data, text.len, true, true, &ids, &nt, &cap, err, sizeof err), 0);
    size_t np = nt;
    assert_int_equal(tok_encode(v, ref, strlen(ref), false, false, &ids, &nt, &cap, err, sizeof err), 0);
    assert_true(nt > np && np < 64 && nt - np < 64);
    fwd_ctx *c = fwd_new(m, 512, 1, err, sizeof err);
    assert_non_null(c);
    size_t V = m->n_vocab;
    /* row t - 1 predicts token t: the prompt's last row, then the reference's */
    float *logits = malloc(nt * V * sizeof *logits);
    assert_non_null(logits);
    assert_int_equal(fwd_eval(c, ids, (int)np, true, logits, NULL), FWD_OK);
    if (nt - np > 1)
        assert_int_equal(fwd_eval(c, ids + np, (int)(nt - np - 1), true, logits + np * V, NULL), FWD_OK);
    double nll = 0;
    for (size_t t = np; t < nt; t++) {
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
    return exp(nll / (double)(nt - np));
}

/* The conversations of the set file, one JSON array of messages each. */
static size_t read_set(json_t **convs, size_t max)
{
    FILE *f = fopen(rated, "r");
    assert_non_null(f);
    char line[65536];
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_true(n < max);
        json_t *o = test_json(line);
        convs[n++] = json_incref(json_object_get(o, "messages"));
        json_decref(o);
    }
    fclose(f);
    return n;
}

/* ---- The verdict rule, restated ----------------------------------------------------------- */

/* B against A at α = 0.05: "better" when the differences lean B's way
 * (higher chrF, lower perplexity), "worse" the other way, else "no
 * evidence"; "not enough data" below the minimum. */
static const char *verdict_of(const double *d, size_t n, int min_items, bool higher_better, double *p)
{
    *p = NAN;
    if ((long long)n < min_items)
        return "not enough data";
    rank_wilcoxon w = rank_wilcoxon_test(d, n);
    *p = w.p;
    /* which way they lean: the sums of the positive and negative signed ranks */
    if (!(w.p < 0.05) || w.w_plus == w.w_minus)
        return "no evidence";
    return (w.w_plus > w.w_minus) == higher_better ? "better" : "worse";
}

static void expect_verdict(json_t *verdicts, const char *measure, const double *d, size_t n, bool higher_better)
{
    double p;
    const char *want = verdict_of(d, n, N_RATED, higher_better, &p);
    json_t *m = json_object_get(verdicts, measure);
    const char *got = json_string_value(json_object_get(m, "verdict"));
    assert_non_null(got);
    double stored_p = json_number_value(json_object_get(m, "p"));
    printf("  %s: stored p %.6g \"%s\", recomputed p %.6g \"%s\"\n", measure, stored_p, got, p, want);
    if (strcmp(got, want) != 0)
        fail_msg("%s: stored verdict \"%s\", the items give \"%s\" (p %.6g)", measure, got, want, p);
    if (fabs(stored_p - p) > 1e-9)
        fail_msg("%s: stored p %.12g, recomputed %.12g", measure, stored_p, p);
}

/* ---- The loop ---------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    const char *data = test_path(test_tmpdir(), "data");
    const char *cfg = test_path(test_tmpdir(), "config");
    mkdir(data, 0700);
    mkdir(cfg, 0700);
    mkdir(test_path(cfg, "frontdesk"), 0700);
    setenv("XDG_DATA_HOME", data, 1);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    setenv("HOME", test_tmpdir(), 1);
    unsetenv("FRONTDESK_DB");
    snprintf(store_file, sizeof store_file, "%s", test_path(test_path(data, "frontdesk"), "frontdesk.db"));
    snprintf(cfg_file, sizeof cfg_file, "%s", test_path(test_path(cfg, "frontdesk"), "config"));
    snprintf(rated, sizeof rated, "%s", test_path(test_tmpdir(), "rated.jsonl"));
    snprintf(tuned, sizeof tuned, "%s", test_path(test_tmpdir(), "tuned.gguf"));
    /* two threads everywhere; eval's greedy replies as short as the asks' */
    write_file(cfg_file, "[model]\nthreads = 2\n[sampling]\nmax_tokens = 24\n[deploy]\nmin_eval_items = 6\n");
    return 0;
}

static void test_the_loop(void **state)
{
    (void)state;
    char *out, *err;
    int rc;
    /* 1. the built-in model answers every new conversation */
    RUN_OK(&out, "deploy", BUILTIN, "--note", "first version");
    assert_non_null(strstr(out, "stable:    frontdesk-cs"));
    free(out);
    assert_int_equal(access(store_file, R_OK), 0); /* the default store, in the temp dir */

    /* 2. conversations, and ratings on their replies */
    long long ids[N_ASKS];
    for (int i = 0; i < N_ASKS; i++)
        ids[i] = ask(questions[i], i + 1);
    for (int i = 0; i < N_ASKS; i++) {
        char id[32], sc[8];
        snprintf(id, sizeof id, "%lld", ids[i]);
        snprintf(sc, sizeof sc, "%d", scores[i]);
        RUN_OK(NULL, "rate", id, sc);
    }

    /* 3. the export: exactly the replies rated 4 or 5 */
    RUN_OK(NULL, "export", "--min-score", "4", "--out", rated);
    FILE *f = fopen(rated, "r");
    assert_non_null(f);
    char line[65536];
    int n_lines = 0;
    bool seen[N_ASKS] = {0};
    while (fgets(line, sizeof line, f)) {
        json_t *o = test_json(line);
        long long mid = json_integer_value(json_object_get(json_object_get(o, "metadata"), "message_id"));
        int k = -1;
        for (int i = 0; i < N_ASKS; i++)
            k = ids[i] == mid ? i : k;
        if (k < 0 || scores[k] < 4 || seen[k])
            fail_msg("exported message %lld was not rated 4 or 5 (or twice)", mid);
        seen[k] = true;
        n_lines++;
        json_decref(o);
    }
    fclose(f);
    assert_int_equal(n_lines, N_RATED);

    /* 4. fine-tune the built-in model on them: six replies hold no validation split */
    rc = RUN(&out, &err, "train", "--init", BUILTIN, "--data", rated, "--out", tuned, "--steps", "20", "--lr", "1e-3",
             "--warmup", "2", "--ctx", "128", "--tokens", "1024", "--threads", "2");
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, err);
    assert_non_null(strstr(err, "step 20/20"));
    assert_non_null(strstr(err, "(no validation split: too few conversations to hold one out)"));
    if (strstr(err, "nan"))
        fail_msg("\"nan\" in the trainer's output: %s", err);
    free(out);
    free(err);

    /* 5. with require_eval set, the canary needs a run first */
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "[model]\nthreads = 2\n[sampling]\nmax_tokens = 24\n[deploy]\nmin_eval_items = 6\nrequire_eval = %s\n",
             rated);
    write_file(cfg_file, cfg);
    rc = RUN(NULL, &err, "canary", "start", tuned, "--share", "50");
    if (rc != 1 || !strstr(err, "no complete eval run"))
        fail_msg("canary start before any eval run: exit %d: %s", rc, err);
    free(err);

    /* 6. eval: the built-in model (A) against the tuned one (B) on the rated replies */
    rc = RUN(&out, &err, "eval", "--model", BUILTIN, "--model", tuned, "--set", rated, "--json");
    if (rc != 0)
        fail_msg("eval exited %d: %s", rc, err);
    free(err);
    json_t *run = test_json(out);
    free(out);
    assert_string_equal(json_string_value(json_object_get(run, "status")), "complete");
    assert_int_equal(json_integer_value(json_object_get(run, "items_done")), N_RATED);
    long long run_id = json_integer_value(json_object_get(run, "id"));
    json_t *agg = json_object_get(run, "aggregates");
    double ppl_a = json_number_value(json_object_get(json_object_get(json_object_get(agg, "a"), "perplexity"), "value"));
    double ppl_b = json_number_value(json_object_get(json_object_get(json_object_get(agg, "b"), "perplexity"), "value"));
    printf("  perplexity on the %d rated replies: built-in %.4f, tuned %.4f (stored run)\n", N_RATED, ppl_a, ppl_b);
    if (!(ppl_b < ppl_a))
        fail_msg("the tuned model's perplexity %.4f is not below the built-in model's %.4f", ppl_b, ppl_a);

    /* the per-item rows, by SQL: A's and B's perplexity and chrF per item */
    double ia_ppl[N_RATED], ib_ppl[N_RATED], ia_chrf[N_RATED], ib_chrf[N_RATED];
    int got = 0;
    {
        sqlite3 *s = open_sql();
        sqlite3_stmt *st;
        const char *q = "SELECT i.item, i.model_id = r.model_a, i.ppl, i.chrf FROM eval_items i"
                        " JOIN eval_runs r ON r.id = i.run_id WHERE i.run_id = ? ORDER BY i.item";
        assert_int_equal(sqlite3_prepare_v2(s, q, -1, &st, NULL), SQLITE_OK);
        sqlite3_bind_int64(st, 1, run_id);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int item = sqlite3_column_int(st, 0);
            assert_true(item >= 0 && item < N_RATED);
            bool is_a = sqlite3_column_int(st, 1) != 0;
            (is_a ? ia_ppl : ib_ppl)[item] = sqlite3_column_double(st, 2);
            (is_a ? ia_chrf : ib_chrf)[item] = sqlite3_column_double(st, 3);
            got++;
        }
        sqlite3_finalize(st);
        sqlite3_close(s);
    }
    assert_int_equal(got, 2 * N_RATED);
    double la = 0, lb = 0;
    for (int i = 0; i < N_RATED; i++) {
        la += log(ia_ppl[i]) / N_RATED;
        lb += log(ib_ppl[i]) / N_RATED;
    }
    if (fabs(exp(la) - ppl_a) > 1e-9 * ppl_a || fabs(exp(lb) - ppl_b) > 1e-9 * ppl_b)
        fail_msg("the items' perplexities give %.9f and %.9f, the run says %.9f and %.9f", exp(la), exp(lb), ppl_a,
                 ppl_b);

    /* the same perplexities by teacher forcing here, through the engine */
    json_t *set[N_RATED + 1];
    assert_int_equal(read_set(set, N_RATED + 1), N_RATED);
    const char *paths[2] = {BUILTIN, tuned};
    double mine[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        model *m;
        tok_vocab *v;
        char msg[256];
        if (model_load(&m, paths[k], msg, sizeof msg) != 0)
            fail_msg("%s: %s", paths[k], msg);
        assert_int_equal(tok_load(&v, m->file, msg, sizeof msg), 0);
        for (int i = 0; i < N_RATED; i++) {
            double want = teacher_forced_ppl(m, v, set[i]);
            double stored = (k ? ib_ppl : ia_ppl)[i];
            if (fabs(stored - want) > 1e-4 * want)
                fail_msg("%s item %d: stored perplexity %.6f, teacher forcing here %.6f", paths[k], i, stored, want);
            mine[k] += log(want) / N_RATED;
        }
        tok_free(v);
        model_free(m);
    }
    printf("  recomputed by teacher forcing: built-in %.4f, tuned %.4f\n", exp(mine[0]), exp(mine[1]));
    assert_true(mine[1] < mine[0]);
    for (int i = 0; i < N_RATED; i++)
        json_decref(set[i]);

    /* the verdicts, kept in the store and printed, from the stored items */
    json_t *stored;
    {
        sqlite3 *s = open_sql();
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(s, "SELECT verdicts FROM eval_runs WHERE id = ?", -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(st, 1, run_id);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        stored = test_json((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(s);
    }
    json_t *shown = json_object_get(run, "verdicts");
    double d[N_RATED];
    for (int i = 0; i < N_RATED; i++) {
        d[i] = ib_chrf[i] - ia_chrf[i];
        d[i] = fabs(d[i]) <= 1e-9 ? 0 : d[i];
    }
    expect_verdict(stored, "chrf", d, N_RATED, true);
    expect_verdict(shown, "chrf", d, N_RATED, true);
    for (int i = 0; i < N_RATED; i++)
        d[i] = log(ib_ppl[i]) - log(ia_ppl[i]);
    expect_verdict(stored, "perplexity", d, N_RATED, false);
    expect_verdict(shown, "perplexity", d, N_RATED, false);
    json_decref(stored);
    json_decref(run);

    /* 7. the gate passes thanks to the run; half of new conversations go to the tuned model */
    RUN_OK(&out, "canary", "start", tuned, "--share", "50");
    assert_non_null(strstr(out, "candidate: tuned.gguf"));
    free(out);
    long long before = sql_int("SELECT count(*) FROM requests WHERE source != 'eval'");
    assert_int_equal(before, N_ASKS);
    for (int i = 0; i < 6; i++) {
        char q[64];
        snprintf(q, sizeof q, "Hello, I have a question about order %d", 100 + i);
        ask(q, 100 + i);
    }
    RUN_OK(&out, "deployment", "--json");
    json_t *dep = test_json(out);
    free(out);
    json_t *cmp = json_object_get(dep, "comparison");
    long long rs = json_integer_value(json_object_get(json_object_get(cmp, "stable"), "requests"));
    long long rcand = json_integer_value(json_object_get(json_object_get(cmp, "candidate"), "requests"));
    printf("  after the canary: stable %lld requests, candidate %lld\n", rs, rcand);
    assert_true(rcand >= 1);
    assert_true(rs >= N_ASKS + 1);
    assert_int_equal(rs + rcand, N_ASKS + 6);
    assert_int_equal(rcand, sql_int("SELECT count(*) FROM conversations WHERE arm = 'candidate'"));
    json_decref(dep);

    /* 8. promote: the tuned model is stable, and the history has every step */
    RUN_OK(&out, "promote", "--note", "lower perplexity on rated replies");
    assert_non_null(strstr(out, "stable:    tuned.gguf"));
    free(out);
    RUN_OK(&out, "deployment", "history", "--json");
    json_t *h = test_json(out);
    free(out);
    static const char *const actions[] = {"promote", "canary-start", "deploy"}; /* newest first */
    assert_int_equal(json_array_size(h), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, i), "action")), actions[i]);
    assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "note")),
                        "lower perplexity on rated replies");
    json_decref(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_loop),
    };
    return test_exit(cmocka_run_group_tests_name("loop", tests, setup, NULL));
}
