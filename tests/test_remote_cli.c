/*
 * test_remote_cli.c — `frontdesk ask --backend` and `frontdesk models`
 * against the scriptable server of tests/remote_server.c on 127.0.0.1:
 * streamed replies recorded like local ones (the server's log-probabilities
 * as the reply's confidence), retries and errors in the
 * request rows, timeouts from the config file, the API key kept out of
 * everything written, fallback to the local model (two request rows), and
 * eight processes against one server at once; each [remote] and [privacy]
 * setting of the config file changing what ask does (backend, model,
 * api_key_env, retries, each timeout, fallback, redact).
 */
#include "testutil.h"

#include "remote_server.h"
#include "storage/metrics.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *fresh_db(const char *name)
{
    const char *p = test_path(test_tmpdir(), name);
    unlink(p);
    return p;
}

/* A config directory whose [remote] section has `extra` lines. */
static void use_config(const char *extra)
{
    const char *dir = test_path(test_tmpdir(), "xdg");
    const char *sub = test_path(dir, "frontdesk");
    mkdir(dir, 0700);
    mkdir(sub, 0700);
    FILE *f = fopen(test_path(sub, "config"), "w");
    assert_non_null(f);
    fprintf(f, "[remote]\nretries = 2\n%s\n", extra ? extra : "");
    fclose(f);
    setenv("XDG_CONFIG_HOME", dir, 1);
}

static rs_server *serve(const rs_step *steps, size_t n)
{
    char err[256];
    rs_server *s = rs_start(steps, n, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    return s;
}

static int ask(const char *url, const char *dbp, char **out, char **err, const char *model)
{
    const char *argv[] = {test_bin(), "ask", "--backend", url, "--db", dbp, "--stats", "-n", "16",
                          model ? "--model" : "Where is my parcel?", model, model ? "Where is my parcel?" : NULL,
                          NULL};
    return test_run(argv, NULL, 0, out, err);
}

/* The request figures of the last message of conversation 1. */
static json_t *last_reply(const char *dbp)
{
    const char *argv[] = {test_bin(), "show", "1", "--json", "--db", dbp, NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("show: %s", err);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    free(out);
    free(err);
    json_t *msgs = json_object_get(j, "messages");
    json_t *m = json_incref(json_array_get(msgs, json_array_size(msgs) - 1));
    json_decref(j);
    return m;
}

static void test_stream_recorded(void **state)
{
    (void)state;
    use_config(NULL);
    static const char reply[] = "Your parcel 📦 left our warehouse. 您的包裹已发出。";
    rs_step st = {.kind = RS_STREAM, .reply = reply, .usage = true, .prompt_tokens = 21, .completion_tokens = 17,
                  .comments = true, .crlf = true};
    rs_server *s = serve(&st, 1);
    setenv("FRONTDESK_API_KEY", "sk-test-SECRET-123", 1);
    const char *dbp = fresh_db("r1.db");
    char *out, *err;
    int rc = ask(rs_url(s), dbp, &out, &err, NULL);
    unsetenv("FRONTDESK_API_KEY");
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    char want[256];
    snprintf(want, sizeof want, "%s\n", reply);
    assert_string_equal(out, want);
    assert_non_null(strstr(err, "gen_tokens=17"));
    /* what was sent */
    assert_int_equal(rs_count(s), 1);
    const rs_request *rq = rs_get(s, 0);
    assert_string_equal(rq->path, "/v1/chat/completions");
    assert_string_equal(rq->authorization, "Bearer sk-test-SECRET-123");
    assert_non_null(strstr(rq->body, "\"stream\": true") ? rq->body : strstr(rq->body, "\"stream\":true"));
    assert_non_null(strstr(rq->body, "Where is my parcel?"));
    /* what was recorded */
    json_t *m = last_reply(dbp);
    assert_string_equal(json_string_value(json_object_get(m, "text")), reply);
    json_t *r = json_object_get(m, "request");
    assert_string_equal(json_string_value(json_object_get(r, "backend")), rs_url(s));
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "ok");
    assert_int_equal(json_integer_value(json_object_get(r, "gen_tokens")), 17);
    assert_int_equal(json_integer_value(json_object_get(r, "prompt_tokens")), 21);
    assert_true(json_real_value(json_object_get(r, "ttft_ms")) > 0);
    assert_true(json_real_value(json_object_get(r, "latency_ms")) >= json_real_value(json_object_get(r, "ttft_ms")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "model"), "backend")), "remote");
    json_decref(m);
    /* the key is nowhere on disk */
    size_t len;
    char *bytes = test_read_file(dbp, &len);
    assert_null(memmem(bytes, len, "SECRET", 6));
    free(bytes);
    const char *wal = test_path(test_tmpdir(), "r1.db-wal");
    if (access(wal, F_OK) == 0) {
        bytes = test_read_file(wal, &len);
        assert_null(memmem(bytes, len, "SECRET", 6));
        free(bytes);
    }
    free(out);
    free(err);
    rs_stop(s);
}

/* The server's log-probabilities become the reply's confidence in the
 * store: show --json and show's text line. */
static void test_stream_confidence_recorded(void **state)
{
    (void)state;
    use_config(NULL);
    static const char reply[] = "Your parcel is on its way.";
    /* 13 deltas of 2 characters; one token each, -1.75 the lowest */
    static const double lp[] = {-0.5,  -0.25, -1.75, -0.125, -0.5, -0.25, -0.5,
                                -0.25, -0.5,  -0.25, -0.5,   -1.0, -0.125};
    rs_step st = {.kind = RS_STREAM, .reply = reply, .logprobs = lp, .n_logprobs = 13};
    rs_server *s = serve(&st, 1);
    const char *dbp = fresh_db("conf.db");
    char *out, *err;
    int rc = ask(rs_url(s), dbp, &out, &err, NULL);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    free(out);
    free(err);
    json_t *b = json_loads(rs_get(s, 0)->body, 0, NULL);
    assert_true(json_is_true(json_object_get(b, "logprobs")));
    json_decref(b);
    json_t *m = last_reply(dbp);
    assert_string_equal(json_string_value(json_object_get(m, "text")), reply);
    double mean = -6.5 / 13; /* the sum of lp is -6.5 */
    assert_true(fabs(json_real_value(json_object_get(m, "logprob_mean")) - mean) < 1e-12);
    assert_true(json_real_value(json_object_get(m, "logprob_min")) == -1.75);
    json_decref(m);
    const char *argv[] = {test_bin(), "show", "1", "--db", dbp, NULL};
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    if (!strstr(out, "    confidence: mean log-prob -0.500, lowest -1.750\n"))
        fail_msg("no confidence line in:\n%s", out);
    free(out);
    free(err);
    rs_stop(s);

    /* a server that sends none: unknown, null, no line */
    rs_step plain = {.kind = RS_STREAM, .reply = reply};
    s = serve(&plain, 1);
    dbp = fresh_db("conf2.db");
    rc = ask(rs_url(s), dbp, &out, &err, NULL);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    free(out);
    free(err);
    m = last_reply(dbp);
    assert_true(json_is_null(json_object_get(m, "logprob_mean")));
    assert_true(json_is_null(json_object_get(m, "logprob_min")));
    json_decref(m);
    const char *argv2[] = {test_bin(), "show", "1", "--db", dbp, NULL};
    assert_int_equal(test_run(argv2, NULL, 0, &out, &err), 0);
    assert_null(strstr(out, "confidence"));
    free(out);
    free(err);
    rs_stop(s);
}

static void test_retry_then_ok(void **state)
{
    (void)state;
    use_config("");
    rs_step st[] = {{.kind = RS_STATUS, .status = 429, .retry_after = 1,
                     .body = "{\"error\":{\"message\":\"slow down\"}}"},
                    {.kind = RS_STREAM, .reply = "Here you are."}};
    rs_server *s = serve(st, 2);
    const char *dbp = fresh_db("r2.db");
    char *out, *err;
    assert_int_equal(ask(rs_url(s), dbp, &out, &err, NULL), 0);
    assert_string_equal(out, "Here you are.\n");
    json_t *m = last_reply(dbp);
    json_t *r = json_object_get(m, "request");
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 2);
    assert_string_equal(json_string_value(json_object_get(r, "outcome")), "ok");
    /* no usage sent: the counts are unknown (null), not invented */
    assert_true(json_is_null(json_object_get(r, "gen_tokens")));
    json_decref(m);
    free(out);
    free(err);
    rs_stop(s);
}

static void test_errors(void **state)
{
    (void)state;
    use_config("first_token_timeout_ms = 400\nidle_timeout_ms = 400\n");
    struct {
        rs_step step;
        const char *message; /* in stderr */
        const char *outcome;
        int attempts;
    } cases[] = {
        {{.kind = RS_STATUS, .status = 500, .body = "{\"error\":{\"message\":\"the GPU caught fire\"}}"},
         "the GPU caught fire", "error", 3},
        {{.kind = RS_STATUS, .status = 401, .body = "{\"error\":{\"message\":\"Invalid API key\"}}"},
         "Invalid API key", "error", 1},
        {{.kind = RS_STREAM, .reply = "never", .stall_before_ms = 5000}, "timeout", "timeout", 1},
        {{.kind = RS_STREAM, .reply = "Half of this reply", .close_mid = true}, "mid", "error", 1},
        {{.kind = RS_STREAM, .reply = "Bad news", .mid_event = "{not json"}, "invalid JSON", "error", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rs_server *s = serve(&cases[i].step, 1);
        char name[32];
        snprintf(name, sizeof name, "err%zu.db", i);
        const char *dbp = fresh_db(name);
        char *out, *err;
        double t0 = (double)time(NULL);
        int rc = ask(rs_url(s), dbp, &out, &err, NULL);
        if (rc != 1 || !strstr(err, cases[i].message))
            fail_msg("case %zu: exit %d, stderr: %s", i, rc, err);
        assert_true((double)time(NULL) - t0 < 10);
        const char *argv[] = {test_bin(), "stats", "--json", "--window", "all", "--db", dbp, NULL};
        char *so, *se;
        assert_int_equal(test_run(argv, NULL, 0, &so, &se), 0);
        json_t *j = json_loads(so, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(j, "requests")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "errors")), 1);
        json_decref(j);
        free(so);
        free(se);
        if (cases[i].attempts > 1)
            assert_int_equal(rs_count(s), (size_t)cases[i].attempts);
        free(out);
        free(err);
        rs_stop(s);
    }
}

static void test_fallback_to_local(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    use_config("fallback = local\n");
    rs_step st = {.kind = RS_STATUS, .status = 503, .body = "{\"error\":{\"message\":\"overloaded\"}}"};
    rs_server *s = serve(&st, 1);
    const char *dbp = fresh_db("fb.db");
    const char *model = test_path(test_path(shared, "ref/models"), "stories260K.gguf");
    char *out, *err;
    int rc = ask(rs_url(s), dbp, &out, &err, model);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    assert_non_null(strstr(err, "answering with the local model"));
    assert_true(strlen(out) > 1);
    json_t *m = last_reply(dbp);
    json_t *reqs = json_object_get(m, "requests");
    assert_int_equal(json_array_size(reqs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "outcome")), "error");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reqs, 0), "attempts")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 1), "outcome")), "ok");
    assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 1), "backend")), "local");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "model"), "backend")), "local");
    json_decref(m);
    free(out);
    free(err);
    rs_stop(s);
}

static void test_eight_processes(void **state)
{
    (void)state;
    use_config(NULL);
    rs_step st = {.kind = RS_STREAM, .reply = "Thanks for waiting, it ships today.", .usage = true,
                  .prompt_tokens = 10, .completion_tokens = 9, .pause_us = -1};
    rs_server *s = serve(&st, 1);
    const char *dbp = fresh_db("eight.db");
    pid_t pids[8];
    for (int i = 0; i < 8; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl(test_bin(), test_bin(), "ask", "--backend", rs_url(s), "--db", dbp, "hello", (char *)NULL);
            _exit(127);
        }
    }
    for (int i = 0; i < 8; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const char *argv[] = {test_bin(), "stats", "--json", "--window", "all", "--db", dbp, NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 8);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 72);
    json_decref(j);
    free(out);
    free(err);
    assert_int_equal(rs_count(s), 8);
    rs_stop(s);
}

static void test_models(void **state)
{
    (void)state;
    use_config(NULL);
    rs_step st = {.kind = RS_STATUS, .status = 200,
                  .body = "{\"object\":\"list\",\"data\":[{\"id\":\"qwen2.5-7b\"},{\"id\":\"llama-3.1-8b\"}]}"};
    rs_server *s = serve(&st, 1);
    const char *argv[] = {test_bin(), "models", "--backend", rs_url(s), NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    assert_string_equal(out, "qwen2.5-7b\nllama-3.1-8b\n");
    free(out);
    free(err);
    assert_string_equal(rs_get(s, 0)->path, "/v1/models");
    rs_stop(s);
    /* a dead server: a clear error */
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", rs_closed_port());
    const char *argv2[] = {test_bin(), "models", "--backend", url, NULL};
    assert_int_equal(test_run(argv2, NULL, 0, &out, &err), 1);
    assert_non_null(strstr(err, "cannot connect"));
    free(out);
    free(err);
}

/* ---- each [remote] and [privacy] setting of the config file taking effect ---------- */

/* The newest failed request of the store (a failed reply with no text is
 * not kept as a message, so show cannot list it; the dashboard's latest
 * errors can): its outcome and error, caller frees. */
static void last_failure(const char *dbp, char **outcome, char **error)
{
    db *d;
    char msg[512];
    if (db_open(&d, dbp, msg, sizeof msg) != DB_OK)
        fail_msg("%s", msg);
    db_error_row *rows;
    size_t n;
    assert_int_equal(db_recent_errors(d, 1, &rows, &n), DB_OK);
    if (n != 1)
        fail_msg("%s holds no failed request", dbp);
    *outcome = strdup(rows[0].outcome);
    *error = strdup(rows[0].error ? rows[0].error : "");
    db_error_rows_free(rows, n);
    db_close(d);
}

/* Requests and errors over the whole store (stats --json --window all). */
static void expect_counts(const char *dbp, int requests, int errors)
{
    const char *argv[] = {test_bin(), "stats", "--json", "--window", "all", "--db", dbp, NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    if (json_integer_value(json_object_get(j, "requests")) != requests ||
        json_integer_value(json_object_get(j, "errors")) != errors)
        fail_msg("%s: want %d requests, %d errors: %s", dbp, requests, errors, out);
    json_decref(j);
    free(out);
    free(err);
}

/* ask with the config's backend (no --backend), extra arguments before the
 * question; returns the exit status. */
static int ask_cfg(const char *dbp, char **out, char **err, const char *extra1, const char *extra2)
{
    const char *argv[16] = {test_bin(), "ask", "--db", dbp, "--stats", "-n", "16"};
    size_t n = 7;
    if (extra1)
        argv[n++] = extra1;
    if (extra2)
        argv[n++] = extra2;
    argv[n++] = "Where is my parcel?";
    argv[n] = NULL;
    return test_run(argv, NULL, 0, out, err);
}

static void test_config_backend_model_key(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = "It is on its way."};
    rs_server *s = serve(&st, 1);
    setenv("FRONTDESK_API_KEY", "k-default", 1);
    setenv("ACME_KEY", "k-acme", 1);
    /* backend, model and api_key_env from the file: no --backend given */
    char cfg[512];
    snprintf(cfg, sizeof cfg, "backend = %s\nmodel = qwen-test-1\napi_key_env = ACME_KEY\n", rs_url(s));
    use_config(cfg);
    const char *dbp = fresh_db("cfg1.db");
    char *out, *err;
    int rc = ask_cfg(dbp, &out, &err, NULL, NULL);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    assert_string_equal(out, "It is on its way.\n");
    free(out);
    free(err);
    assert_int_equal(rs_count(s), 1);
    const rs_request *rq = rs_get(s, 0);
    assert_string_equal(rq->authorization, "Bearer k-acme");
    json_t *body = json_loads(rq->body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "qwen-test-1");
    json_decref(body);
    json_t *m = last_reply(dbp);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "request"), "backend")), rs_url(s));
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "model"), "name")), "qwen-test-1");
    json_decref(m);
    /* without them: the default key variable, no model field */
    snprintf(cfg, sizeof cfg, "backend = %s\n", rs_url(s));
    use_config(cfg);
    assert_int_equal(ask_cfg(fresh_db("cfg2.db"), &out, &err, NULL, NULL), 0);
    free(out);
    free(err);
    rq = rs_get(s, 1);
    assert_string_equal(rq->authorization, "Bearer k-default");
    body = json_loads(rq->body, 0, NULL);
    assert_null(json_object_get(body, "model"));
    json_decref(body);
    unsetenv("FRONTDESK_API_KEY");
    unsetenv("ACME_KEY");
    rs_stop(s);
}

/* retries = N: N + 1 attempts at a server answering 500. */
static void test_config_retries(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 500, .body = "{\"error\":{\"message\":\"down\"}}"};
    for (int retries = 0; retries <= 1; retries++) {
        rs_server *s = serve(&st, 1);
        char cfg[512];
        snprintf(cfg, sizeof cfg, "backend = %s\nretries = %d\n", rs_url(s), retries);
        use_config(cfg);
        char name[32];
        snprintf(name, sizeof name, "retries%d.db", retries);
        const char *dbp = fresh_db(name);
        char *out, *err;
        assert_int_equal(ask_cfg(dbp, &out, &err, NULL, NULL), 1);
        assert_non_null(strstr(err, "down"));
        free(out);
        free(err);
        assert_int_equal(rs_count(s), (size_t)retries + 1);
        expect_counts(dbp, 1, 1); /* one request, however many attempts */
        rs_stop(s);
    }
}

/* Each timeout: a short one ends the request with a message naming the
 * configured milliseconds (outcome timeout); a long one lets the same
 * server's reply through. */
static void test_config_timeouts(void **state)
{
    (void)state;
    const struct {
        const char *key;
        rs_step step;
        const char *message; /* %d: the configured ms */
    } cases[] = {
        {"first_token_timeout_ms", {.kind = RS_STREAM, .reply = "late but fine", .stall_before_ms = 1500},
         "no reply within %d ms (first-token timeout)"},
        {"idle_timeout_ms", {.kind = RS_STREAM, .reply = "half now, half later", .stall_mid_ms = 1500},
         "the server went silent for %d ms mid-reply (idle timeout)"},
        {"total_timeout_ms", {.kind = RS_STREAM, .reply = "half now, half later", .stall_mid_ms = 1500},
         "the reply took longer than %d ms (total timeout)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int ms[2] = {300, 20000};
        for (int k = 0; k < 2; k++) {
            rs_server *s = serve(&cases[i].step, 1);
            char cfg[512];
            /* the other timeouts generous, so only this one can end it */
            snprintf(cfg, sizeof cfg,
                     "backend = %s\nretries = 0\nfirst_token_timeout_ms = 20000\nidle_timeout_ms = 20000\n"
                     "total_timeout_ms = 60000\n%s = %d\n",
                     rs_url(s), cases[i].key, ms[k]);
            use_config(cfg);
            const char *dbp = fresh_db("timeouts.db");
            char *out, *err;
            int rc = ask_cfg(dbp, &out, &err, NULL, NULL);
            if (k == 0) {
                char want[160];
                snprintf(want, sizeof want, cases[i].message, ms[k]);
                if (rc != 1 || !strstr(err, want))
                    fail_msg("%s = %d: exit %d, stderr %s (want '%s')", cases[i].key, ms[k], rc, err, want);
                char *outcome, *error;
                last_failure(dbp, &outcome, &error);
                assert_string_equal(outcome, "timeout");
                assert_non_null(strstr(error, want));
                free(outcome);
                free(error);
                expect_counts(dbp, 1, 1);
            } else {
                if (rc != 0)
                    fail_msg("%s = %d: exit %d, stderr %s", cases[i].key, ms[k], rc, err);
                json_t *m = last_reply(dbp);
                assert_string_equal(json_string_value(json_object_get(json_object_get(m, "request"), "outcome")), "ok");
                assert_string_equal(json_string_value(json_object_get(m, "text")), cases[i].step.reply);
                json_decref(m);
                expect_counts(dbp, 1, 0);
            }
            free(out);
            free(err);
            rs_stop(s);
        }
    }
    /* connect_timeout_ms: a server that never accepts */
    rs_blackhole bh;
    if (!rs_blackhole_open(&bh)) {
        rs_blackhole_close(&bh);
        test_skip("test_config_timeouts: cannot make a port where connecting hangs");
    }
    for (int k = 0; k < 2; k++) {
        const int ms = k ? 700 : 300;
        char cfg[256];
        snprintf(cfg, sizeof cfg, "backend = http://127.0.0.1:%d/v1\nretries = 0\nconnect_timeout_ms = %d\n", bh.port,
                 ms);
        use_config(cfg);
        char *out, *err, want[120];
        assert_int_equal(ask_cfg(fresh_db("connect.db"), &out, &err, NULL, NULL), 1);
        snprintf(want, sizeof want, "no connection within %d ms (connect timeout)", ms);
        if (!strstr(err, want))
            fail_msg("connect_timeout_ms = %d: %s", ms, err);
        free(out);
        free(err);
    }
    rs_blackhole_close(&bh);
}

/* fallback = local answers a failed server with the local model (the
 * built-in one here); fallback = none does not. */
static void test_config_fallback(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 503, .body = "{\"error\":{\"message\":\"overloaded\"}}"};
    const char *model = "models/frontdesk-cs.gguf";
    for (int local = 0; local <= 1; local++) {
        rs_server *s = serve(&st, 1);
        char cfg[512];
        snprintf(cfg, sizeof cfg, "backend = %s\nretries = 0\nfallback = %s\n", rs_url(s), local ? "local" : "none");
        use_config(cfg);
        const char *dbp = fresh_db(local ? "fb-local.db" : "fb-none.db");
        char *out, *err;
        int rc = ask_cfg(dbp, &out, &err, "--model", model);
        if (local) {
            if (rc != 0 || !strstr(err, "answering with the local model"))
                fail_msg("fallback = local: exit %d, %s", rc, err);
            json_t *m = last_reply(dbp);
            json_t *reqs = json_object_get(m, "requests");
            assert_int_equal(json_array_size(reqs), 2);
            assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 0), "outcome")), "error");
            assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 1), "backend")), "local");
            assert_string_equal(json_string_value(json_object_get(json_array_get(reqs, 1), "outcome")), "ok");
            json_decref(m);
            assert_true(strlen(out) > 1);
            expect_counts(dbp, 2, 1);
        } else {
            if (rc != 1 || strstr(err, "local model"))
                fail_msg("fallback = none: exit %d, %s", rc, err);
            expect_counts(dbp, 1, 1);
        }
        free(out);
        free(err);
        rs_stop(s);
    }
}

/* [privacy] redact: e-mail, phone and card masked before they are sent or
 * stored; off, they go as typed. */
static void test_config_redact(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = "Noted."};
    const char *q = "Mail jo@example.com or call +1 (555) 123-4567, card 4111 1111 1111 1111";
    for (int on = 0; on <= 1; on++) {
        rs_server *s = serve(&st, 1);
        char cfg[512];
        snprintf(cfg, sizeof cfg, "backend = %s\n[privacy]\nredact = %s\n", rs_url(s), on ? "true" : "false");
        use_config(cfg);
        const char *dbp = fresh_db(on ? "redact-on.db" : "redact-off.db");
        const char *argv[] = {test_bin(), "ask", "--db", dbp, q, NULL};
        char *out, *err;
        assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
        const char *body = rs_get(s, 0)->body;
        const char *argv2[] = {test_bin(), "show", "1", "--json", "--db", dbp, NULL};
        char *shown, *e2;
        assert_int_equal(test_run(argv2, NULL, 0, &shown, &e2), 0);
        if (on) {
            assert_non_null(strstr(err, "redacted 1 e-mail address(es), 1 phone number(s), 1 card number(s)"));
            assert_non_null(strstr(body, "Mail [email] or call [phone], card [card]"));
            assert_non_null(strstr(shown, "Mail [email] or call [phone], card [card]"));
            assert_null(strstr(body, "jo@example.com"));
            assert_null(strstr(shown, "4111"));
        } else {
            assert_null(strstr(err, "redacted"));
            assert_non_null(strstr(body, q));
            assert_non_null(strstr(shown, q));
        }
        free(shown);
        free(e2);
        free(out);
        free(err);
        rs_stop(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_recorded),
        cmocka_unit_test(test_stream_confidence_recorded), cmocka_unit_test(test_retry_then_ok),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_fallback_to_local),
        cmocka_unit_test(test_eight_processes), cmocka_unit_test(test_models),
        cmocka_unit_test(test_config_backend_model_key), cmocka_unit_test(test_config_retries),
        cmocka_unit_test(test_config_timeouts), cmocka_unit_test(test_config_fallback),
        cmocka_unit_test(test_config_redact),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
