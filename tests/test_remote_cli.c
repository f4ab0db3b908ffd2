/*
 * test_remote_cli.c — `frontdesk ask --backend` and `frontdesk models`
 * against the scriptable server of tests/remote_server.c on 127.0.0.1:
 * streamed replies recorded like local ones, retries and errors in the
 * request rows, timeouts from the config file, the API key kept out of
 * everything written, fallback to the local model (two request rows), and
 * eight processes against one server at once.
 */
#include "testutil.h"

#include "remote_server.h"

#include <jansson.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_recorded), cmocka_unit_test(test_retry_then_ok),
        cmocka_unit_test(test_errors),          cmocka_unit_test(test_fallback_to_local),
        cmocka_unit_test(test_eight_processes), cmocka_unit_test(test_models),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
