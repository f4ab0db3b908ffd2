/*
 * test_deploy.c — model operations: the routing hash's spread, a
 * conversation keeping its version, the deployment's changes and history
 * in a real SQLite file (a PostgreSQL database when run with
 * FRONTDESK_TEST_BACKEND=postgresql: tests/store_util.h), rollback going
 * back one stable at a time, the commands' exit codes, a changed model
 * file refused, and processes
 * (ask, serve) following a change made by another process without a
 * restart.
 *
 * Two versions of the built-in model: the file itself and a copy whose
 * general.name is patched ("frontdesk-c2": other bytes, so another SHA-256,
 * and a name of its own), both under test_tmpdir().
 */
#include "testutil.h"

#include "store_util.h"

#include "app/compare.h"
#include "app/deploy.h"
#include "remote_server.h"
#include "serve_client.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "storage/versions.h"
#include "util/util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define BUILTIN "models/frontdesk-cs.gguf"

static char model_a[512], model_b[512];

/* A copy of the built-in model with `name` (12 bytes) in place of its
 * general.name. */
static void make_variant(const char *dst, const char *name)
{
    size_t len;
    char *bytes = test_read_file(BUILTIN, &len);
    assert_non_null(bytes);
    char *at = memmem(bytes, len, "frontdesk-cs", 12);
    assert_non_null(at);
    assert_int_equal(strlen(name), 12);
    memcpy(at, name, 12);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(bytes);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(model_a, sizeof model_a, "%s", test_path(test_tmpdir(), "desk-a.gguf"));
    snprintf(model_b, sizeof model_b, "%s", test_path(test_tmpdir(), "desk-b.gguf"));
    make_variant(model_a, "frontdesk-cs");
    make_variant(model_b, "frontdesk-c2");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static int64_t hand_model(db *d, char digit, const char *name)
{
    char hex[65];
    memset(hex, digit, 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = name, .file_name = name};
    int64_t id;
    OK(d, db_model_use(d, &m, &id));
    return id;
}

/* ---- Routing ---------------------------------------------------------------------- */

/* Over 10,000 conversation ids the candidate's count is within four
 * standard deviations of n·s, for shares of 1, 10 and 50 percent, on two
 * ranges of ids (consecutive ids are what the store hands out). */
static void test_route_spread(void **state)
{
    (void)state;
    const int shares[] = {1, 10, 50};
    const int64_t starts[] = {1, 7000001};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i < 3; i++) {
            double n = 10000, s = shares[i] / 100.0;
            long count = 0;
            for (int64_t id = starts[k]; id < starts[k] + 10000; id++)
                count += deploy_to_candidate(id, shares[i]);
            double bound = 4 * sqrt(n * s * (1 - s));
            if (fabs((double)count - n * s) > bound)
                fail_msg("share %d%% from id %lld: %ld candidates, want %.0f ± %.1f", shares[i],
                         (long long)starts[k], count, n * s, bound);
        }
    /* the edges: 0% never, 50% not always */
    for (int64_t id = 1; id < 1000; id++)
        assert_false(deploy_to_candidate(id, 0));
}

/* A conversation keeps its arm and version across turns and share
 * changes; once its version leaves the deployment it is routed anew; a
 * pinned one stays pinned. */
static void test_route_sticks(void **state)
{
    (void)state;
    const char *p = fresh_store("sticks.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, 'a', "alpha"), b = hand_model(d, 'b', "beta");
    char err[512];
    deploy_route r;
    int64_t conv[40];
    for (int i = 0; i < 40; i++)
        OK(d, db_conv_create(d, "default", NULL, &conv[i]));
    /* nothing deployed: not routed, nothing stored */
    OK(d, deploy_route_conv(d, conv[0], 0, &r, err, sizeof err));
    assert_false(r.routed);
    db_deploy_why w = {.who = "lead", .note = "first"};
    OK(d, db_deploy(d, a, &w));
    OK(d, db_canary_start(d, b, 50, &w));
    int n_cand = 0;
    for (int i = 0; i < 40; i++) {
        OK(d, deploy_route_conv(d, conv[i], 0, &r, err, sizeof err));
        bool cand = deploy_to_candidate(conv[i], 50);
        n_cand += cand;
        assert_true(r.routed);
        assert_string_equal(r.arm, cand ? "candidate" : "stable");
        assert_int_equal(r.model_id, cand ? b : a);
    }
    assert_true(n_cand > 0 && n_cand < 40);
    /* a share change does not move a conversation already routed */
    OK(d, db_canary_share(d, 1, &w));
    for (int i = 0; i < 40; i++) {
        OK(d, deploy_route_conv(d, conv[i], 0, &r, err, sizeof err));
        assert_int_equal(r.model_id, deploy_to_candidate(conv[i], 50) ? b : a);
    }
    /* stopping the canary sends its conversations back to stable */
    OK(d, db_canary_stop(d, false, &w));
    for (int i = 0; i < 40; i++) {
        OK(d, deploy_route_conv(d, conv[i], 0, &r, err, sizeof err));
        assert_int_equal(r.model_id, a);
        assert_string_equal(r.arm, "stable");
    }
    /* a pin is kept, and outside the arms */
    OK(d, deploy_route_conv(d, conv[0], b, &r, err, sizeof err));
    assert_string_equal(r.arm, "pinned");
    OK(d, deploy_route_conv(d, conv[0], 0, &r, err, sizeof err));
    assert_string_equal(r.arm, "pinned");
    assert_int_equal(r.model_id, b);
    char *arm = sql_text(p, "SELECT arm FROM conversations WHERE id = %lld", (long long)conv[0]);
    assert_string_equal(arm, "pinned");
    free(arm);
    db_close(d);
}

/* ---- The deployment and its history ------------------------------------------------ */

static void test_changes_and_history(void **state)
{
    (void)state;
    const char *p = fresh_store("changes.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, '1', "one"), b = hand_model(d, '2', "two"), c = hand_model(d, '3', "three");
    db_deploy_why w = {.who = "lead", .note = "why"};
    db_deployment dep;
    int64_t now;
    assert_int_equal(db_deployment_get(d, &dep), DB_NOTFOUND);
    assert_int_equal(db_canary_start(d, b, 10, &w), DB_NOTFOUND); /* nothing deployed */
    assert_int_equal(db_deploy_rollback(d, 0, &w, NULL), DB_NOTFOUND);
    OK(d, db_deploy(d, a, &w));
    assert_int_equal(db_deploy_rollback(d, 0, &w, NULL), DB_NOTFOUND); /* no earlier stable */
    assert_int_equal(db_deploy_promote(d, &w), DB_NOTFOUND);           /* no candidate */
    assert_int_equal(db_canary_stop(d, false, &w), DB_NOTFOUND);
    assert_int_equal(db_canary_start(d, b, 0, &w), DB_INVALID);
    assert_int_equal(db_canary_start(d, b, 51, &w), DB_INVALID);
    assert_int_equal(db_canary_start(d, a, 10, &w), DB_INVALID); /* already stable */
    OK(d, db_canary_start(d, b, 25, &w));
    OK(d, db_deployment_get(d, &dep));
    assert_int_equal(dep.stable_id, a);
    assert_int_equal(dep.candidate_id, b);
    assert_int_equal(dep.share, 25);
    OK(d, db_deploy_promote(d, &w)); /* b stable, a before it */
    OK(d, db_deployment_get(d, &dep));
    assert_int_equal(dep.stable_id, b);
    assert_int_equal(dep.candidate_id, 0);
    OK(d, db_deploy(d, c, &w)); /* c stable, b before it */
    OK(d, db_deploy_rollback(d, 0, &w, &now));
    assert_int_equal(now, b);
    OK(d, db_deploy_rollback(d, 0, &w, &now));
    assert_int_equal(now, a);
    assert_int_equal(db_deploy_rollback(d, 0, &w, NULL), DB_NOTFOUND);
    /* with a canary running, rollback ends the canary first */
    OK(d, db_canary_start(d, c, 50, &w));
    OK(d, db_deploy_rollback(d, 0, &w, &now));
    assert_int_equal(now, a);
    OK(d, db_deployment_get(d, &dep));
    assert_int_equal(dep.candidate_id, 0);
    /* rollback to a named version */
    OK(d, db_deploy_rollback(d, c, &w, &now));
    assert_int_equal(now, c);
    /* the history, by SQL: every change, in order, with who and why */
    char *actions = sql_join(p, "SELECT action FROM deployment_history ORDER BY id", ",");
    assert_string_equal(actions, "deploy,canary-start,promote,deploy,rollback,rollback,canary-start,rollback,"
                                 "rollback");
    free(actions);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM deployment_history WHERE who = 'lead' AND note = 'why'"), 9);
    db_deploy_event *ev;
    size_t n;
    OK(d, db_deploy_history(d, 2, &ev, &n));
    assert_int_equal(n, 2);
    assert_string_equal(ev[0].action, "rollback");
    assert_int_equal(ev[0].stable_id, c);
    db_deploy_events_free(ev, n);
    db_close(d);
}

/* ---- Commands ----------------------------------------------------------------------- */

static void expect_rc(int want, const char *what, const char *const *args)
{
    char *err = NULL;
    int rc = fd_run(NULL, &err, args);
    if (rc != want)
        fail_msg("%s: exit %d, want %d: %s", what, rc, want, err ? err : "");
    free(err);
}

#define EXPECT_RC(want, what, ...) expect_rc(want, what, (const char *const[]){__VA_ARGS__, NULL})

static void test_commands(void **state)
{
    (void)state;
    const char *p = fresh_store("cmds.db");
    char *out, *err;
    EXPECT_RC(1, "promote, nothing deployed", "promote", "--db", p);
    EXPECT_RC(2, "--force outside canary start", "promote", "--force", "--db", p);
    EXPECT_RC(2, "--force on deploy", "deploy", model_a, "--force", "--db", p);
    EXPECT_RC(0, "deploy a", "deploy", model_a, "--note", "first", "--db", p);
    EXPECT_RC(1, "rollback, no earlier", "rollback", "--db", p);
    EXPECT_RC(1, "canary stop, none", "canary", "stop", "--db", p);
    EXPECT_RC(2, "share 0", "canary", "start", model_b, "--share", "0", "--db", p);
    EXPECT_RC(2, "share 51", "canary", "start", model_b, "--share", "51", "--db", p);
    EXPECT_RC(2, "share missing", "canary", "start", model_b, "--db", p);
    EXPECT_RC(0, "canary b", "canary", "start", model_b, "--share", "50", "--db", p);
    EXPECT_RC(2, "share 60", "canary", "share", "60", "--db", p);
    EXPECT_RC(0, "share 20", "canary", "share", "20", "--db", p);
    /* status as JSON names both, with the share */
    assert_int_equal(RUN(&out, NULL, "deployment", "status", "--json", "--db", p), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_non_null(strstr(json_string_value(json_object_get(j, "stable")), "frontdesk-cs"));
    assert_non_null(strstr(json_string_value(json_object_get(j, "candidate")), "frontdesk-c2"));
    assert_int_equal(json_integer_value(json_object_get(j, "share")), 20);
    assert_true(json_is_object(json_object_get(j, "comparison")));
    json_decref(j);
    free(out);
    /* versions names their roles */
    assert_int_equal(RUN(&out, NULL, "versions", "--json", "--db", p), 0);
    j = json_loads(out, 0, NULL);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 2);
    int roles = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *role = json_string_value(json_object_get(json_array_get(j, i), "role"));
        roles += role && !strcmp(role, "stable") ? 1 : role && !strcmp(role, "candidate") ? 10 : 100;
    }
    assert_int_equal(roles, 11);
    json_decref(j);
    free(out);
    EXPECT_RC(0, "promote", "promote", "--note", "looks good", "--db", p);
    EXPECT_RC(0, "rollback", "rollback", "--db", p);
    char *stable = sql_text(p, "SELECT m.name FROM deployment d JOIN models m ON m.id = d.stable_id");
    assert_string_equal(stable, "frontdesk-cs");
    free(stable);
    /* a name, a SHA-256 prefix; an ambiguous prefix is exit 2 naming both */
    EXPECT_RC(0, "deploy by name", "deploy", "frontdesk-c2", "--db", p);
    char *sha = sql_text(p, "SELECT sha256 FROM models WHERE name = 'frontdesk-cs'");
    char prefix[9];
    snprintf(prefix, sizeof prefix, "%.8s", sha);
    EXPECT_RC(0, "deploy by prefix", "deploy", prefix, "--db", p);
    free(sha);
    db *d = open_store(p);
    hand_model(d, 'e', "e1");
    char hex[65];
    memset(hex, 'e', 64);
    hex[63] = 'f';
    hex[64] = 0;
    db_model_info m2 = {.sha256 = hex, .name = "e2"};
    int64_t id2;
    OK(d, db_model_use(d, &m2, &id2));
    db_close(d);
    assert_int_equal(RUN(NULL, &err, "deploy", "eeee", "--db", p), 2);
    assert_non_null(strstr(err, "e1"));
    assert_non_null(strstr(err, "e2"));
    free(err);
    EXPECT_RC(1, "unknown version", "deploy", "no-such-version", "--db", p);
    /* history: every change, newest first, with the note */
    assert_int_equal(RUN(&out, NULL, "deployment", "history", "--json", "--db", p), 0);
    j = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(j), 7);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 3), "note")), "looks good");
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 3), "action")), "promote");
    json_decref(j);
    free(out);
}

/* A local version whose file changed is refused, naming both hashes. */
static void test_changed_file_refused(void **state)
{
    (void)state;
    const char *p = fresh_store("changed.db");
    const char *copy = test_path(test_tmpdir(), "changing.gguf");
    make_variant(copy, "frontdesk-cs");
    char *err;
    EXPECT_RC(0, "deploy", "deploy", copy, "--db", p);
    char *before = sql_text(p, "SELECT sha256 FROM models");
    make_variant(copy, "frontdesk-cz"); /* new bytes, same path */
    assert_int_equal(RUN(NULL, &err, "ask", "--db", p, "-n", "2", "hello"), 1);
    assert_non_null(strstr(err, before));
    assert_non_null(strstr(err, "refusing"));
    free(err);
    free(before);
    /* nothing answered: no reply stored */
    assert_int_equal(sql_int(p, "SELECT count(*) FROM messages WHERE role = 'agent' AND text != ''"), 0);
}

/* ---- Processes following a change ---------------------------------------------------- */

/* ask (a process per conversation) follows the deployment another
 * process changes: each conversation's version is the one its id routes
 * to. */
static void test_ask_follows(void **state)
{
    (void)state;
    const char *p = fresh_store("follow.db");
    char *err, *out;
    EXPECT_RC(0, "deploy a", "deploy", model_a, "--db", p);
    EXPECT_RC(0, "ask", "ask", "--db", p, "-n", "2", "--temp", "0", "hello");
    EXPECT_RC(0, "canary b", "canary", "start", model_b, "--share", "50", "--db", p);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(RUN(&out, &err, "ask", "--db", p, "-n", "2", "--temp", "0", "--stats", "where is my order"), 0);
        const char *c = strstr(err, "conversation=");
        assert_non_null(c);
        long conv = strtol(c + 13, NULL, 10);
        char *name = sql_text(p,
                              "SELECT m.name FROM conversations c JOIN models m ON m.id = c.arm_model_id"
                              " WHERE c.id = %lld",
                              (long long)conv);
        const char *want = deploy_to_candidate(conv, 50) ? "frontdesk-c2" : "frontdesk-cs";
        if (!name || strcmp(name, want))
            fail_msg("conversation %ld answered by %s, want %s", conv, name ? name : "(none)", want);
        /* the reply itself names the same version */
        assert_int_equal(sql_int(p,
                                 "SELECT count(*) FROM messages ms JOIN models m ON m.id = ms.model_id"
                                 " WHERE ms.conversation_id = %lld AND ms.role = 'agent' AND m.name = '%q'",
                                 (long long)conv, want),
                         1);
        free(name);
        free(out);
        free(err);
    }
    /* --model pins, outside the arms */
    assert_int_equal(RUN(&out, &err, "ask", "--db", p, "--model", model_b, "-n", "2", "--stats", "hi"), 0);
    long conv = strtol(strstr(err, "conversation=") + 13, NULL, 10);
    char *arm = sql_text(p, "SELECT arm FROM conversations WHERE id = %lld", (long long)conv);
    assert_string_equal(arm, "pinned");
    free(arm);
    free(out);
    free(err);
}

static char *chat_body(const char *question)
{
    json_t *o = json_pack("{s:[{s:s, s:s}], s:i, s:f}", "messages", "role", "user", "content", question,
                          "max_tokens", 2, "temperature", 0.0);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* serve, started on a deployment of a alone, answers new conversations
 * with b after another process starts a canary — no restart — and lists
 * both versions. */
static void test_serve_follows(void **state)
{
    (void)state;
    const char *p = fresh_store("serve-follow.db");
    EXPECT_RC(0, "deploy a", "deploy", model_a, "--db", p);
    served s;
    served_start(&s, p, NULL, NULL);
    char *body = chat_body("hello");
    http_reply r;
    json_t *j = post_json(&s, "/v1/chat/completions", body, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(j, "model")), "frontdesk-cs");
    json_decref(j);
    http_reply_free(&r);
    EXPECT_RC(0, "canary b", "canary", "start", model_b, "--share", "50", "--db", p);
    int seen_b = 0;
    for (int i = 0; i < 10; i++) {
        j = post_json(&s, "/v1/chat/completions", body, &r);
        assert_int_equal(r.status, 200);
        char *token = http_header(&r, "X-Frontdesk-Conversation");
        assert_non_null(token);
        long long conv = sql_int(p, "SELECT conversation_id FROM handles WHERE handle = '%q'", token);
        const char *want = deploy_to_candidate(conv, 50) ? "frontdesk-c2" : "frontdesk-cs";
        assert_string_equal(json_string_value(json_object_get(j, "model")), want);
        seen_b += want[11] == '2';
        free(token);
        json_decref(j);
        http_reply_free(&r);
    }
    assert_true(seen_b > 0 && seen_b < 10); /* fresh file: conversations 2..11, both arms among them */
    char url[128];
    snprintf(url, sizeof url, "%s/v1/models", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "frontdesk-cs"));
    assert_non_null(strstr(r.body, "frontdesk-c2"));
    assert_non_null(strstr(r.body, "\"candidate\""));
    http_reply_free(&r);
    free(body);
    assert_int_equal(served_stop(&s, NULL), 0);
}


/* ---- The comparison and the guard, through the store ---------------------------------- */

/* One traffic reply of version model in its own conversation (arm given),
 * with its request: ok with latency/ttft/decode figures, or an error; a
 * thumb (+1/-1, 0 none) by `rater`. */

/* Where hand_reply's requests come from ("traffic" unless a test says;
 * set by SQL between begin and finish, as an evaluation run would set it
 * before the request is counted). */
static const char *hand_source, *hand_path;

static int64_t hand_reply(db *d, int64_t model, const char *arm, bool error, double latency, int thumb)
{
    int64_t conv, msg, cust, req;
    OK(d, db_conv_create(d, "default", NULL, &conv));
    OK(d, db_conv_arm_set(d, conv, arm, model));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "where is my parcel", &cust));
    OK(d, db_reply_begin(d, conv, model, NULL, 0, &msg));
    OK(d, db_reply_end(d, msg, "it is on its way", model));
    OK(d, db_request_begin(d, model, "local", conv, msg, 0, &req));
    if (hand_source) {
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE requests SET source = '%s' WHERE id = %lld", hand_source, (long long)req);
        sql_exec(hand_path, sql);
    }
    db_request_result r = {.outcome = error ? DB_OUTCOME_ERROR : DB_OUTCOME_OK, .error = error ? "boom" : NULL,
                           .prompt_tokens = 10, .gen_tokens = error ? -1 : 10, .ttft_ms = error ? -1 : latency / 4,
                           .prefill_ms = -1, .decode_ms = -1, .latency_ms = latency, .decode_tps = 1000 / latency,
                           .attempts = 1};
    OK(d, db_request_finish(d, req, &r));
    if (thumb) {
        db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = thumb};
        OK(d, db_rate(d, msg, "rater", &in));
    }
    return msg;
}

static config test_config(int min_sample, bool guard)
{
    config c;
    const char *empty = test_path(test_tmpdir(), "empty.config");
    FILE *f = fopen(empty, "w");
    assert_non_null(f);
    fclose(f);
    config_load(&c, empty); /* the defaults */
    c.deploy_min_sample = min_sample;
    c.deploy_guard = guard;
    return c;
}

/* Candidate with many more errors and thumbs-down and slower: "worse" /
 * "typically slower"; the stable arm's counts as built; pinned and eval
 * traffic left out; below the minimum sample, no verdict. */
static void test_compare_verdicts(void **state)
{
    (void)state;
    const char *p = fresh_store("compare.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, 'a', "alpha"), b = hand_model(d, 'b', "beta");
    for (int i = 0; i < 60; i++) {
        hand_reply(d, a, "stable", i % 20 == 0, 100 + i, i % 10 == 0 ? -1 : 1); /* 3 errors, 6 down */
        hand_reply(d, b, "candidate", i % 3 == 0, 300 + i, i % 2 == 0 ? -1 : 1); /* 20 errors, 30 down */
    }
    /* neither pinned replies nor evaluation requests count */
    for (int i = 0; i < 5; i++)
        hand_reply(d, b, "pinned", true, 50, -1);
    hand_source = "eval";
    hand_path = p;
    hand_reply(d, a, "stable", true, 50, 0);
    hand_source = NULL;
    db_close(d);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM requests"), 126);
    d = open_store(p);
    config c = test_config(30, false);
    compare_result r;
    char err[256];
    assert_int_equal(compare_versions(d, a, b, DB_WIN_ALL, db_now() + 1, &c, &r, err, sizeof err), 0);
    assert_int_equal(r.a.replies, 61); /* 60 + the eval one's reply (replies are not requests) */
    assert_int_equal(r.a.requests, 60);
    assert_int_equal(r.a.errors, 3);
    assert_int_equal(r.b.replies, 60);
    assert_int_equal(r.b.requests, 60);
    assert_int_equal(r.b.errors, 20);
    assert_int_equal(r.a.down, 6);
    assert_int_equal(r.a.up, 54);
    assert_int_equal(r.b.down, 30);
    assert_string_equal(r.tests[0].metric, "thumbs-up rate");
    assert_int_equal(r.tests[0].verdict, VERDICT_WORSE);
    assert_string_equal(r.tests[2].metric, "error rate");
    assert_int_equal(r.tests[2].verdict, VERDICT_WORSE);
    assert_int_equal(r.tests[1].verdict, VERDICT_NOT_ENOUGH); /* no scores */
    assert_string_equal(r.tests[3].metric, "ms per token");
    assert_string_equal(r.tests[3].words, "typically slower");
    assert_string_equal(r.tests[5].words, "typically slower"); /* decode tokens/s lower */
    for (size_t i = 0; i < COMPARE_TESTS; i++)
        if (!isnan(r.tests[i].p))
            assert_true(r.tests[i].p_holm >= r.tests[i].p);
    /* the stable arm's Wilson interval holds its rate */
    assert_true(r.a.up_lo < 0.9 && 0.9 < r.a.up_hi);
    /* the same data under a minimum of 100: no verdicts at all */
    config_free(&c);
    c = test_config(100, false);
    assert_int_equal(compare_versions(d, a, b, DB_WIN_ALL, db_now() + 1, &c, &r, err, sizeof err), 0);
    for (size_t i = 0; i < COMPARE_TESTS; i++)
        assert_int_equal(r.tests[i].verdict, VERDICT_NOT_ENOUGH);
    /* the dashboard's figures leave the eval request out too */
    db_stats st;
    OK(d, db_stats_compute(d, DB_WIN_ALL, db_now() + 1, NULL, 0, &st));
    assert_int_equal(st.requests, 125);
    db_stats_free(&st);
    config_free(&c);
    db_close(d);
}

/* With [deploy] guard on, a rating (frontdesk rate, its own process)
 * after a clearly worse canary stops it: a guard-stop history row with the
 * reason, the candidate gone, and the line in `frontdesk stats`. */
static void test_guard_stops(void **state)
{
    (void)state;
    const char *p = fresh_store("guard.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, 'c', "gamma"), b = hand_model(d, 'd', "delta");
    db_deploy_why w = {.who = "lead"};
    OK(d, db_deploy(d, a, &w));
    OK(d, db_canary_start(d, b, 50, &w));
    int64_t last = 0;
    for (int i = 0; i < 80; i++) {
        hand_reply(d, a, "stable", i % 10 == 0, 100, 0);
        last = hand_reply(d, b, "candidate", i % 2 == 0, 100, 0);
    }
    /* the guard is off by default: nothing happens */
    config off = test_config(30, false);
    char why[300];
    assert_int_equal(compare_guard_check(d, &off, why, sizeof why), 0);
    config_free(&off);
    db_close(d);
    const char *cfg_dir = test_path(test_tmpdir(), "guardcfg");
    mkdir(cfg_dir, 0700);
    mkdir(test_path(cfg_dir, "frontdesk"), 0700);
    FILE *f = fopen(test_path(test_path(cfg_dir, "frontdesk"), "config"), "w");
    assert_non_null(f);
    fputs("[deploy]\nguard = true\n", f);
    fclose(f);
    char *old = getenv("XDG_CONFIG_HOME") ? xstrdup(getenv("XDG_CONFIG_HOME")) : NULL;
    setenv("XDG_CONFIG_HOME", cfg_dir, 1);
    char id[32], *out, *err;
    snprintf(id, sizeof id, "%lld", (long long)last);
    int rc = RUN(&out, &err, "rate", id, "up", "--db", p);
    if (old)
        setenv("XDG_CONFIG_HOME", old, 1);
    else
        unsetenv("XDG_CONFIG_HOME");
    free(old);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "guard: stopped the canary (error rate"));
    free(out);
    free(err);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM deployment WHERE candidate_id IS NULL AND share = 0"), 1);
    char *note = sql_text(p, "SELECT note FROM deployment_history WHERE action = 'guard-stop'");
    assert_non_null(note);
    assert_non_null(strstr(note, "error rate"));
    free(note);
    char *fig = sql_text(p, "SELECT figures FROM deployment_history WHERE action = 'guard-stop'");
    json_t *figures = fig ? json_loads(fig, 0, NULL) : NULL;
    if (!figures)
        fail_msg("the guard-stop's figures: %s", fig ? fig : "(none)");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(figures, "candidate"), "errors")), 40);
    json_decref(figures);
    free(fig);
    assert_int_equal(RUN(&out, NULL, "stats", "--window", "all", "--db", p), 0);
    assert_non_null(strstr(out, "guard: stopped delta at "));
    free(out);
}

/* A remote version (URL + model name) deployed: ask sends the
 * conversation to that server, and the reply names the version. */
static void test_remote_version(void **state)
{
    (void)state;
    rs_step step = {.kind = RS_STREAM, .reply = "Your parcel ships today.", .pause_us = -1};
    char msg[256];
    rs_server *srv = rs_start(&step, 1, msg, sizeof msg);
    if (!srv)
        fail_msg("%s", msg);
    const char *p = fresh_store("remote.db");
    char *out, *err;
    EXPECT_RC(0, "deploy remote", "deploy", rs_url(srv), "--remote-model", "desk-remote", "--db", p);
    assert_int_equal(RUN(&out, &err, "ask", "--db", p, "--stats", "where is my parcel"), 0);
    assert_non_null(strstr(out, "Your parcel ships today."));
    assert_int_equal(rs_count(srv), 1);
    assert_non_null(strstr(rs_get(srv, 0)->body, "desk-remote"));
    long conv = strtol(strstr(err, "conversation=") + 13, NULL, 10);
    char *name = sql_text(p, "SELECT m.name FROM messages ms JOIN models m ON m.id = ms.model_id"
                             " WHERE ms.conversation_id = %lld AND ms.role = 'agent'", (long long)conv);
    assert_string_equal(name, "desk-remote");
    free(name);
    free(out);
    free(err);
    rs_stop(srv);
}

/* The dashboard's low-confidence share: per version, replies in the window
 * with a known confidence, and those below the threshold. */
static void test_confidence_by_model(void **state)
{
    (void)state;
    const char *p = fresh_store("confidence.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, '5', "five"), b = hand_model(d, '6', "six");
    const double means_a[] = {-0.5, -2.5, -1.0, -3.0, -0.1}, means_b[] = {-4.0, -2.1};
    for (int i = 0; i < 5; i++)
        OK(d, db_reply_confidence(d, hand_reply(d, a, "stable", false, 100, 0), means_a[i], means_a[i] - 1));
    for (int i = 0; i < 2; i++)
        OK(d, db_reply_confidence(d, hand_reply(d, b, "candidate", false, 100, 0), means_b[i], means_b[i] - 1));
    hand_reply(d, b, "candidate", false, 100, 0); /* confidence unknown: not counted */
    db_model_confidence *c;
    size_t n;
    OK(d, db_confidence_by_model(d, 0, db_now() + 1, -2.0, &c, &n));
    assert_int_equal(n, 2);
    assert_int_equal(c[0].model_id, a); /* most replies first */
    assert_int_equal(c[0].with_confidence, 5);
    assert_int_equal(c[0].low_confidence, 2); /* -2.5 and -3.0 */
    assert_int_equal(c[1].model_id, b);
    assert_int_equal(c[1].with_confidence, 2);
    assert_int_equal(c[1].low_confidence, 2);
    free(c);
    /* a window that ended before them: none */
    OK(d, db_confidence_by_model(d, 0, 1, -2.0, &c, &n));
    assert_int_equal(n, 0);
    free(c);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_spread),
        cmocka_unit_test(test_route_sticks),
        cmocka_unit_test(test_changes_and_history),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_changed_file_refused),
        cmocka_unit_test(test_ask_follows),
        cmocka_unit_test(test_serve_follows),
        cmocka_unit_test(test_compare_verdicts),
        cmocka_unit_test(test_guard_stops),
        cmocka_unit_test(test_remote_version),
        cmocka_unit_test(test_confidence_by_model),
    };
    /* on PostgreSQL all but test_route_spread, which touches no store */
    static const char *const no_store[] = {"test_route_spread", NULL};
    return store_run_suite("deploy", tests, sizeof tests / sizeof *tests, no_store, setup, teardown);
}
