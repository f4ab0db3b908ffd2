/*
 * test_tui_worker.c — the [model] and [sampling] settings of the config
 * file taking effect in the application's generation worker (app/worker.c,
 * what the TUI runs replies on), with the built-in model
 * models/frontdesk-cs.gguf:
 *
 *   - threads: the engine runs that many threads (the worker's thread pool
 *     grows by exactly the difference, counted in /proc/self/task);
 *   - context: a conversation longer than it loses its oldest turns (and
 *     says how many), one that fits loses none; the reply records n_ctx;
 *   - max_tokens: the reply stops at that many tokens;
 *   - temperature (with top_k, top_p, min_p, repeat_penalty): recorded with
 *     the reply as given; at 0 two replies are the same text, at 5 (and no
 *     top-k/top-p/min-p cut) two replies differ.
 */
#include "tests/testutil.h"

#include "app/config.h"
#include "app/store.h"
#include "app/worker.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "util/util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL "models/frontdesk-cs.gguf"

typedef struct {
    model *m;
    tok_vocab *v;
    const char *db_path;
    db *d;
    int64_t model_id;
    config cfg;
    worker *w;
} rig;

static void rig_open(rig *r, const char *name, const char *config_text)
{
    memset(r, 0, sizeof *r);
    char err[600];
    if (access(MODEL, R_OK) != 0)
        fail_msg("%s is part of the repository and missing", MODEL);
    if (model_load(&r->m, MODEL, err, sizeof err) != 0 || tok_load(&r->v, r->m->file, err, sizeof err) != 0)
        fail_msg("%s", err);
    r->db_path = test_path(test_tmpdir(), name);
    unlink(r->db_path);
    if (db_open(&r->d, r->db_path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    if (store_model_local(r->d, MODEL, r->m, &r->model_id, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    const char *cfg = test_path(test_tmpdir(), "config");
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs(config_text, f);
    fclose(f);
    config_load(&r->cfg, cfg);
    if (r->cfg.n_warnings)
        fail_msg("config: %s", r->cfg.warnings[0]);
}

static void rig_start(rig *r)
{
    char err[600];
    r->w = worker_start(r->db_path, r->m, r->v, r->model_id, NULL, 0, false, false, &r->cfg, err, sizeof err);
    if (!r->w)
        fail_msg("%s", err);
}

static void rig_close(rig *r)
{
    worker_stop(r->w);
    db_close(r->d);
    config_free(&r->cfg);
    tok_free(r->v);
    model_free(r->m);
}

/* A conversation: system prompt, then customer/agent turns, the last a
 * customer's. */
static int64_t conversation(rig *r, const char *system, const char *const *turns, size_t n)
{
    int64_t conv, id;
    if (db_conv_create(r->d, "default", system, &conv) != DB_OK)
        fail_msg("%s", db_errmsg(r->d));
    for (size_t i = 0; i < n; i++) {
        if (i % 2 == 0)
            assert_int_equal(db_msg_add(r->d, conv, DB_ROLE_CUSTOMER, turns[i], &id), DB_OK);
        else {
            assert_int_equal(db_reply_begin(r->d, conv, r->model_id, NULL, 0, &id), DB_OK);
            assert_int_equal(db_reply_end(r->d, id, turns[i], r->model_id), DB_OK);
        }
    }
    return conv;
}

typedef struct {
    db_outcome outcome;
    int dropped;
    int64_t message;
    char *text;     /* the stored reply */
    char *sampling; /* its settings, JSON */
    int gen_tokens;
} reply;

/* Ask the worker for a reply to conv (replacing `replaces` when > 0) and
 * wait for it (polling, generous timeout). */
static reply run(rig *r, int64_t conv, int64_t replaces)
{
    assert_true(worker_submit(r->w, conv, replaces));
    worker_state s = {0};
    double t0 = util_now();
    for (;;) {
        worker_poll(r->w, &s);
        free(s.text);
        if (s.finished)
            break;
        if (util_now() - t0 > 120)
            fail_msg("no reply within 120 s");
        usleep(2000);
    }
    reply out = {.outcome = s.outcome, .dropped = s.dropped, .message = s.message};
    if (s.outcome != DB_OUTCOME_OK)
        fail_msg("the reply failed (%d): %s", s.outcome, s.error);
    db_msg m;
    assert_int_equal(db_msg_get(r->d, s.message, &m), DB_OK);
    out.text = xstrdup(m.text);
    out.sampling = xstrdup(m.sampling ? m.sampling : "");
    db_msg_clear(&m);
    db_request *rq;
    size_t n;
    assert_int_equal(db_requests_for_message(r->d, s.message, &rq, &n), DB_OK);
    assert_int_equal(n, 1);
    out.gen_tokens = rq[0].gen_tokens;
    db_requests_free(rq, n);
    return out;
}

static void reply_free(reply *p)
{
    free(p->text);
    free(p->sampling);
}

static double sampling_number(const char *json, const char *key)
{
    json_t *j = json_loads(json, 0, NULL);
    if (!j)
        fail_msg("the reply's sampling is not JSON: %s", json);
    json_t *v = json_object_get(j, key);
    if (!json_is_number(v))
        fail_msg("the reply's sampling has no %s: %s", key, json);
    double d = json_number_value(v);
    json_decref(j);
    return d;
}

static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static const char *const SHORT[] = {"Where is my parcel?"};

/* [model] threads: the worker (one thread) and its engine's pool (threads
 * - 1 more) once a reply has been made. */
static void test_threads(void **state)
{
    (void)state;
    const int counts[2] = {1, 4};
    int added[2];
    for (int i = 0; i < 2; i++) {
        rig r;
        char cfg[128];
        snprintf(cfg, sizeof cfg, "[model]\nthreads = %d\n[sampling]\nmax_tokens = 2\n", counts[i]);
        rig_open(&r, "threads.db", cfg);
        int before = threads_now();
        rig_start(&r);
        reply p = run(&r, conversation(&r, "Help.", SHORT, 1), 0);
        reply_free(&p);
        added[i] = threads_now() - before;
        rig_close(&r);
    }
    /* 1 thread: the worker alone; 4: the worker and 3 pool threads */
    if (added[1] - added[0] != 3)
        fail_msg("threads = 1 added %d threads, threads = 4 added %d: want 3 more", added[0], added[1]);
    assert_true(added[0] >= 1);
}

/* [model] context: the oldest turns left out when the conversation does
 * not fit, none when it does; n_ctx recorded with the reply. */
static void test_context(void **state)
{
    (void)state;
    static const char *const LONG[] = {
        "Hello, I ordered a pair of walking boots from your shop three weeks ago and they have not arrived.",
        "I am sorry to hear that. Could you give me your order number so that I can look into it?",
        "The order number is 4417-2291 and it was paid by card on the second of the month.",
        "Thank you. I can see the order; it left our warehouse and is with the courier now.",
        "Which courier is it, and can you give me a tracking number so I can follow it myself?",
    };
    const int ctx[2] = {64, 512};
    for (int i = 0; i < 2; i++) {
        rig r;
        char cfg[160];
        snprintf(cfg, sizeof cfg, "[model]\ncontext = %d\n[sampling]\nmax_tokens = 4\ntemperature = 0\n", ctx[i]);
        rig_open(&r, "context.db", cfg);
        rig_start(&r);
        reply p = run(&r, conversation(&r, "Help.", LONG, 5), 0);
        if (ctx[i] == 64 && p.dropped < 1)
            fail_msg("a context of 64 kept every turn of a conversation of ~120 tokens");
        if (ctx[i] == 512 && p.dropped != 0)
            fail_msg("a context of 512 left out %d turns of a conversation of ~120 tokens", p.dropped);
        assert_true(sampling_number(p.sampling, "n_ctx") == ctx[i]);
        reply_free(&p);
        rig_close(&r);
    }
}

/* [sampling] max_tokens: the reply stops there. */
static void test_max_tokens(void **state)
{
    (void)state;
    const int max[2] = {3, 9};
    for (int i = 0; i < 2; i++) {
        rig r;
        char cfg[160];
        snprintf(cfg, sizeof cfg, "[sampling]\nmax_tokens = %d\ntemperature = 0\n", max[i]);
        rig_open(&r, "max.db", cfg);
        rig_start(&r);
        reply p = run(&r, conversation(&r, "Help.", SHORT, 1), 0);
        /* greedy: the built-in model answers this question at length, so
         * the limit, not the end of the answer, stops it */
        if (p.gen_tokens != max[i])
            fail_msg("max_tokens = %d: %d tokens generated (\"%s\")", max[i], p.gen_tokens, p.text);
        assert_true(sampling_number(p.sampling, "max_tokens") == max[i]);
        reply_free(&p);
        rig_close(&r);
    }
}

/* [sampling]: recorded as configured; temperature 0 repeats itself, a
 * high temperature does not. */
static void test_sampling(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, "sampling.db",
             "[sampling]\ntemperature = 0\ntop_k = 7\ntop_p = 0.8\nmin_p = 0.1\nrepeat_penalty = 1.3\n"
             "max_tokens = 16\n");
    rig_start(&r);
    int64_t conv = conversation(&r, "Help.", SHORT, 1);
    reply a = run(&r, conv, 0);
    reply b = run(&r, conv, a.message); /* regenerate */
    const struct {
        const char *key;
        double want;
    } rec[] = {{"temperature", 0}, {"top_k", 7}, {"top_p", 0.8}, {"min_p", 0.1}, {"repeat_penalty", 1.3}};
    for (size_t i = 0; i < sizeof rec / sizeof *rec; i++) {
        double got = sampling_number(a.sampling, rec[i].key);
        if (got < rec[i].want - 1e-6 || got > rec[i].want + 1e-6)
            fail_msg("recorded %s = %g, want %g", rec[i].key, got, rec[i].want);
    }
    assert_true(*a.text);
    assert_string_equal(a.text, b.text);
    reply_free(&a);
    reply_free(&b);
    rig_close(&r);

    /* temperature 5 over the whole vocabulary: two 16-token replies agree
     * with a probability far below 1e-20 */
    rig_open(&r, "sampling-hot.db", "[sampling]\ntemperature = 5\ntop_k = 0\ntop_p = 1\nmin_p = 0\nmax_tokens = 16\n");
    rig_start(&r);
    conv = conversation(&r, "Help.", SHORT, 1);
    a = run(&r, conv, 0);
    b = run(&r, conv, a.message);
    assert_true(sampling_number(a.sampling, "temperature") == 5);
    if (!strcmp(a.text, b.text))
        fail_msg("two replies at temperature 5 are the same: \"%s\"", a.text);
    reply_free(&a);
    reply_free(&b);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_context),
        cmocka_unit_test(test_max_tokens),
        cmocka_unit_test(test_sampling),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
