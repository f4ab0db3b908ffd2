/*
 * test_serve_edges.c — `frontdesk serve` at its edges, over real HTTP on
 * 127.0.0.1: every kind of bad input with its status and error body,
 * the queue overflowing (made deterministic with one slot and a queue of
 * one), feedback landing as a rating, conversations continued by token
 * and not reached by guessing, /metrics against the store, the official
 * clients' request bodies, the API key, a graceful stop with a reply in
 * flight.  The store is read by SQL, not through our storage code.
 */
#include "testutil.h"
#include "util/util.h"

#include "serve_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *db_path(const char *name) { return test_path(test_tmpdir(), name); }

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

static void stop_ok(served *s)
{
    char *log = NULL;
    int rc = served_stop(s, &log);
    if (rc != 0)
        fail_msg("serve exited %d:\n%s", rc, log);
    free(log);
}

/* The error body's members. */
static void expect_error(const http_reply *r, long status, const char *param, const char *code)
{
    if (r->status != status)
        fail_msg("status %ld, want %ld: %s", r->status, status, r->body);
    json_t *j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    assert_true(json_is_object(e));
    assert_true(json_is_string(json_object_get(e, "message")));
    assert_true(strlen(json_string_value(json_object_get(e, "message"))) > 0);
    assert_true(json_is_string(json_object_get(e, "type")));
    if (param && !*param)
        assert_true(json_is_null(json_object_get(e, "param")));
    else if (param)
        assert_string_equal(json_string_value(json_object_get(e, "param")) ? json_string_value(json_object_get(e, "param")) : "(null)",
                            param);
    if (code)
        assert_string_equal(json_string_value(json_object_get(e, "code")) ? json_string_value(json_object_get(e, "code")) : "(null)",
                            code);
    json_decref(j);
}

/* ---- Bad input --------------------------------------------------------------------------- */

static void test_bad_input(void **state)
{
    (void)state;
    const char *cfg = test_path(test_tmpdir(), "small-body.conf");
    FILE *f = fopen(cfg, "w");
    fputs("[serve]\nmax_body = 4096\n", f);
    fclose(f);
    served s;
    served_start(&s, db_path("bad.db"), (const char *const[]){"--config", cfg, "--ctx", "128", NULL}, NULL);
    static const struct {
        const char *body;
        long status;
        const char *param, *code;
    } cases[] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}", 400, "", NULL},   /* not JSON */
        {"[1, 2]", 400, "", NULL},                                                      /* not an object */
        {"{}", 400, "messages", NULL},
        {"{\"messages\": []}", 400, "messages", NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content", NULL},
        {"{\"messages\": [{\"role\": \"tool\", \"content\": \"x\"}]}", 400, "messages[0].role", NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": \"hot\"}", 400,
         "temperature", NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"temperature\": 3}", 400, "temperature",
         NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 0}", 400, "max_tokens", NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"n\": 2}", 400, "n", NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"stop\": [1]}", 400, NULL, NULL},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"caf\xc3\"}]}", 400, NULL, NULL}, /* bad UTF-8 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_reply r;
        json_t *j = post_json(&s, "/v1/chat/completions", cases[i].body, &r);
        json_decref(j);
        expect_error(&r, cases[i].status, cases[i].param, cases[i].code);
        http_reply_free(&r);
    }
    /* longer than the context of 128 */
    strbuf big = {0};
    sb_puts(&big, "{\"messages\": [{\"role\": \"user\", \"content\": \"");
    for (int i = 0; i < 200; i++)
        sb_puts(&big, "refund ");
    sb_puts(&big, "\"}]}");
    http_reply r;
    json_decref(post_json(&s, "/v1/chat/completions", big.data, &r));
    expect_error(&r, 400, "messages", "context_length_exceeded");
    http_reply_free(&r);
    /* over the body limit of 4096 */
    sb_clear(&big);
    sb_puts(&big, "{\"messages\": [{\"role\": \"user\", \"content\": \"");
    for (int i = 0; i < 1000; i++)
        sb_puts(&big, "xxxxxxxx");
    sb_puts(&big, "\"}]}");
    json_decref(post_json(&s, "/v1/chat/completions", big.data, &r));
    assert_int_equal(r.status, 413);
    http_reply_free(&r);
    sb_free(&big);
    /* no such endpoint, wrong method */
    char url[128];
    snprintf(url, sizeof url, "%s/v1/nothing", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    expect_error(&r, 404, NULL, NULL);
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/v1/chat/completions", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    expect_error(&r, 405, NULL, NULL);
    http_reply_free(&r);
    /* nothing bad was stored, and the server still answers */
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM requests"), 0);
    json_decref(post_json(&s, "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 2}", &r));
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    stop_ok(&s);
}

/* ---- The queue ----------------------------------------------------------------------------- */

typedef struct {
    const served *s;
    long status;
} waiter;

static void *queued_request(void *arg)
{
    waiter *w = arg;
    http_reply r;
    json_decref(post_json(w->s, "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"second\"}], \"max_tokens\": 4}", &r));
    w->status = r.status;
    http_reply_free(&r);
    return NULL;
}

static long long metric(const served *s, const char *name)
{
    char url[128];
    snprintf(url, sizeof url, "%s/metrics", s->url);
    http_reply r;
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    long long v = -1;
    size_t n = strlen(name);
    for (const char *p = r.body; p && *p;) {
        if (!strncmp(p, name, n) && (p[n] == ' ' || p[n] == '{')) {
            const char *sp = strchr(p, ' ');
            v = sp ? atoll(sp + 1) : -1;
            break;
        }
        const char *e = strchr(p, '\n');
        p = e ? e + 1 : NULL;
    }
    http_reply_free(&r);
    return v;
}

typedef struct {
    const served *s;
    int events;
    char *id;
} holder;

static void *hold_slot(void *arg)
{
    holder *h = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", h->s->url);
    const char *body = "{\"messages\": [{\"role\": \"user\", \"content\": \"first\"}], \"stream\": true,"
                       " \"max_tokens\": 100000, \"ignore_eos\": true}";
    const char *hd[] = {"Content-Type: application/json", NULL};
    http_reply r;
    http_do("POST", url, body, strlen(body), hd, 400, &r); /* hangs up after 400 events */
    h->events = (int)r.n_events;
    json_t *e = r.n_events ? json_loads(r.events[0], 0, NULL) : NULL;
    h->id = xstrdup(e ? json_string_value(json_object_get(e, "id")) : "");
    json_decref(e);
    http_reply_free(&r);
    return NULL;
}

static void test_queue_overflow(void **state)
{
    (void)state;
    served s;
    served_start(&s, db_path("queue.db"), (const char *const[]){"--parallel", "1", "--max-queue", "1", NULL}, NULL);
    holder h = {.s = &s};
    pthread_t th, tw;
    pthread_create(&th, NULL, hold_slot, &h);
    while (metric(&s, "frontdesk_running_sequences") != 1)
        usleep(10000);
    waiter w = {.s = &s};
    pthread_create(&tw, NULL, queued_request, &w);
    while (metric(&s, "frontdesk_queued_sequences") != 1)
        usleep(10000);
    http_reply r;
    json_decref(post_json(&s, "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"third\"}]}", &r));
    expect_error(&r, 503, NULL, "server_busy");
    char *retry = http_header(&r, "Retry-After");
    assert_non_null(retry);
    assert_true(atoi(retry) >= 1);
    free(retry);
    http_reply_free(&r);
    /* the first hangs up after 400 events, the queued one then runs */
    pthread_join(th, NULL);
    pthread_join(tw, NULL);
    assert_int_equal(h.events, 400);
    assert_int_equal(w.status, 200);
    stop_ok(&s);
    /* recorded: one ok, one cancelled (the hung-up one), one error (refused) */
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM requests WHERE outcome = 'ok'"), 1);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM requests WHERE outcome = 'cancelled'"), 1);
    char *err = sql_text(s.db, "SELECT error FROM requests WHERE outcome = 'error'");
    assert_non_null(err);
    assert_non_null(strstr(err, "queue"));
    free(err);
    free(h.id);
}

/* ---- Feedback, conversations, metrics ----------------------------------------------------------- */

static void test_feedback_and_conversations(void **state)
{
    (void)state;
    served s;
    served_start(&s, db_path("feedback.db"), NULL, NULL);
    http_reply r;
    json_t *a = post_json(&s, "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                          " {\"role\": \"user\", \"content\": \"Where is my order?\"}], \"max_tokens\": 8,"
                          " \"user\": \"customer-4711\"}",
                          &r);
    assert_int_equal(r.status, 200);
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *reply = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(a, "choices"), 0), "message"), "content"));
    char *token = http_header(&r, "X-Frontdesk-Conversation");
    assert_non_null(token);
    http_reply_free(&r);
    /* "user" is kept beside the reply, as metadata only */
    char *user = sql_text(s.db, "SELECT user FROM handles WHERE handle = '%q'", id);
    assert_string_equal(user, "customer-4711");
    free(user);

    /* feedback lands as a rating of that reply */
    char body[512];
    snprintf(body, sizeof body,
             "{\"id\": \"%s\", \"thumbs\": \"down\", \"score\": 2, \"comment\": \"too short\", \"rater\": \"widget\"}",
             id);
    json_decref(post_json(&s, "/v1/feedback", body, &r));
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    char *row = sql_text(s.db,
                         "SELECT g.thumbs || ' ' || g.score || ' ' || g.comment || ' ' || g.rater FROM ratings g"
                         " JOIN handles h ON h.message_id = g.message_id WHERE h.handle = '%q'",
                         id);
    assert_string_equal(row, "-1 2 too short widget");
    free(row);
    json_decref(post_json(&s, "/v1/feedback",
                          "{\"id\": \"chatcmpl-00000000000000000000000000000000\", \"thumbs\": \"up\"}", &r));
    expect_error(&r, 404, "id", NULL);
    http_reply_free(&r);
    snprintf(body, sizeof body, "{\"id\": \"%s\", \"score\": 9}", id);
    json_decref(post_json(&s, "/v1/feedback", body, &r));
    expect_error(&r, 400, NULL, NULL);
    http_reply_free(&r);
    json_decref(post_json(&s, "/v1/feedback", "{\"thumbs\": \"up\"}", &r));
    expect_error(&r, 400, NULL, NULL);
    http_reply_free(&r);
    /* the conversation token is not a completion id */
    snprintf(body, sizeof body, "{\"id\": \"%s\", \"thumbs\": \"up\"}", token);
    json_decref(post_json(&s, "/v1/feedback", body, &r));
    expect_error(&r, 404, NULL, NULL);
    http_reply_free(&r);

    /* continued with the token: the same conversation, nothing stored twice */
    long long conv = sql_int(s.db, "SELECT conversation_id FROM handles WHERE handle = '%q'", token);
    json_t *next = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:i}", "messages", "role", "system",
                             "content", "Be brief.", "role", "user", "content", "Where is my order?", "role",
                             "assistant", "content", reply, "role", "user", "content", "And my refund?",
                             "max_tokens", 8);
    char *nb = json_dumps(next, JSON_COMPACT);
    char url[128], th[160];
    snprintf(url, sizeof url, "%s/v1/chat/completions", s.url);
    snprintf(th, sizeof th, "X-Frontdesk-Conversation: %s", token);
    const char *hd[] = {"Content-Type: application/json", th, NULL};
    http_do("POST", url, nb, strlen(nb), hd, 0, &r);
    assert_int_equal(r.status, 200);
    char *token2 = http_header(&r, "X-Frontdesk-Conversation");
    assert_string_equal(token2, token);
    free(token2);
    http_reply_free(&r);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM messages WHERE conversation_id = %lld", conv), 5);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM conversations"), 1);
    /* a guessed token, or a history that differs from the stored one: a new conversation */
    const char *guess = "X-Frontdesk-Conversation: fdc-0123456789abcdef0123456789abcdef";
    const char *hd2[] = {"Content-Type: application/json", guess, NULL};
    http_do("POST", url, nb, strlen(nb), hd2, 0, &r);
    assert_int_equal(r.status, 200);
    token2 = http_header(&r, "X-Frontdesk-Conversation");
    assert_string_not_equal(token2, token);
    free(token2);
    http_reply_free(&r);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM messages WHERE conversation_id = %lld", conv), 5);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM conversations"), 2);
    free(nb);
    json_decref(next);

    /* /metrics against the store */
    snprintf(url, sizeof url, "%s/metrics", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "# TYPE frontdesk_requests_total counter\n"));
    assert_non_null(strstr(r.body, "# TYPE frontdesk_request_duration_seconds histogram\n"));
    long long oks = sql_int(s.db, "SELECT count(*) FROM requests WHERE outcome = 'ok'");
    long long gen = sql_int(s.db, "SELECT sum(gen_tokens) FROM requests");
    char want[256];
    snprintf(want, sizeof want, ",outcome=\"ok\"} %lld\n", oks);
    assert_non_null(strstr(r.body, want));
    snprintf(want, sizeof want, "\nfrontdesk_generated_tokens_total{model=\"");
    const char *g = strstr(r.body, want);
    assert_non_null(g);
    assert_int_equal(atoll(strchr(g + 1, ' ') + 1), gen);
    snprintf(want, sizeof want, "le=\"+Inf\"} %lld\nfrontdesk_request_duration_seconds_sum", oks);
    assert_non_null(strstr(r.body, want));
    http_reply_free(&r);
    /* /v1/models and /health */
    snprintf(url, sizeof url, "%s/v1/models", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    json_t *ml = json_loads(r.body, 0, NULL);
    json_t *m0 = json_array_get(json_object_get(ml, "data"), 0);
    char *sha = sql_text(s.db, "SELECT sha256 FROM models");
    assert_string_equal(json_string_value(json_object_get(m0, "sha256")), sha);
    assert_string_equal(json_string_value(json_object_get(m0, "id")), json_string_value(json_object_get(a, "model")));
    free(sha);
    json_decref(ml);
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/health", s.url);
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    json_decref(a);
    free(token);
    stop_ok(&s);
}

/* ---- The official clients' bodies ---------------------------------------------------------------- */

static void test_client_fixtures(void **state)
{
    (void)state;
    static const char *const files[] = {"tests/fixtures/openai/node_stream.json",
                                        "tests/fixtures/openai/python_stream.json"};
    served s;
    served_start(&s, db_path("clients.db"), NULL, NULL);
    for (size_t i = 0; i < 2; i++) {
        if (access(files[i], R_OK) != 0)
            fail_msg("%s is missing", files[i]);
        size_t len;
        char *body = test_read_file(files[i], &len);
        char url[128];
        snprintf(url, sizeof url, "%s/v1/chat/completions", s.url);
        /* the headers both clients send besides the body */
        const char *hd[] = {"Content-Type: application/json", "Authorization: Bearer sk-none",
                            "X-Stainless-Lang: js", "User-Agent: OpenAI/JS 4.104.0", NULL};
        http_reply r;
        http_do("POST", url, body, len, hd, 0, &r);
        if (r.status != 200)
            fail_msg("%s: %ld %s", files[i], r.status, r.body);
        assert_true(r.n_events >= 3);
        assert_string_equal(r.events[r.n_events - 1], "[DONE]");
        http_reply_free(&r);
        free(body);
    }
    stop_ok(&s);
}

/* ---- The API key ------------------------------------------------------------------------------------ */

static void test_api_key(void **state)
{
    (void)state;
    /* another address than loopback without a key: refused before listening */
    const char *argv[] = {test_bin(), "serve", "--host", "0.0.0.0", "--port", "0", "--db", db_path("key.db"), NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 2);
    assert_non_null(strstr(err, "API key"));
    free(out);
    free(err);
    const char *cfg = test_path(test_tmpdir(), "key.conf");
    FILE *f = fopen(cfg, "w");
    fputs("[serve]\napi_key_env = FD_TEST_SERVE_KEY\n", f);
    fclose(f);
    served s;
    served_start(&s, db_path("key.db"), (const char *const[]){"--config", cfg, NULL},
                 (const char *const[]){"FD_TEST_SERVE_KEY=s3cret-key", NULL});
    char url[128];
    snprintf(url, sizeof url, "%s/v1/models", s.url);
    http_reply r;
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    expect_error(&r, 401, NULL, "invalid_api_key");
    http_reply_free(&r);
    http_do("GET", url, NULL, 0, (const char *const[]){"Authorization: Bearer s3cret-kez", NULL}, 0, &r);
    assert_int_equal(r.status, 401);
    http_reply_free(&r);
    http_do("GET", url, NULL, 0, (const char *const[]){"Authorization: Bearer s3cret-key", NULL}, 0, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/health", s.url); /* health needs no key */
    http_do("GET", url, NULL, 0, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    char *log = NULL;
    assert_int_equal(served_stop(&s, &log), 0);
    assert_null(strstr(log, "s3cret")); /* never shown */
    free(log);
}

/* ---- Graceful stop ------------------------------------------------------------------------------------ */

typedef struct {
    const served *s;
    http_reply r;
} streamer;

static void *stream_long(void *arg)
{
    streamer *st = arg;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", st->s->url);
    const char *body = "{\"messages\": [{\"role\": \"user\", \"content\": \"a long answer please\"}],"
                       " \"stream\": true, \"max_tokens\": 100000, \"ignore_eos\": true}";
    const char *hd[] = {"Content-Type: application/json", NULL};
    http_do("POST", url, body, strlen(body), hd, 0, &st->r);
    return NULL;
}

static void test_graceful_stop(void **state)
{
    (void)state;
    /* a grace of 0.2 s and room for 8000 tokens: the reply cannot finish
     * in time (that would take 40000 tokens/s), so it is cancelled */
    const char *cfg = test_path(test_tmpdir(), "grace.conf");
    FILE *f = fopen(cfg, "w");
    fputs("[serve]\nstop_grace_s = 0.2\n", f);
    fclose(f);
    served s;
    served_start(&s, db_path("stop.db"), (const char *const[]){"--config", cfg, "--ctx", "8192", "--parallel", "1", NULL},
                 NULL);
    streamer st = {.s = &s};
    pthread_t t;
    pthread_create(&t, NULL, stream_long, &st);
    while (metric(&s, "frontdesk_running_sequences") != 1)
        usleep(10000);
    char *log = NULL;
    assert_int_equal(served_stop(&s, &log), 0); /* SIGTERM: exit 0 */
    pthread_join(t, NULL);
    assert_int_equal(st.r.status, 200);
    assert_true(st.r.n_events >= 2);
    assert_string_equal(st.r.events[st.r.n_events - 1], "[DONE]"); /* the stream was ended, not cut */
    http_reply_free(&st.r);
    assert_non_null(strstr(log, "get 0.2 s to finish"));
    assert_non_null(strstr(log, "stopped"));
    free(log);
    /* recorded, not left running */
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM requests"), 1);
    assert_int_equal(sql_int(s.db, "SELECT count(*) FROM requests WHERE outcome = 'cancelled'"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_queue_overflow),
        cmocka_unit_test(test_feedback_and_conversations),
        cmocka_unit_test(test_client_fixtures),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_graceful_stop),
    };
    return test_exit(cmocka_run_group_tests_name("serve_edges", tests, setup, teardown));
}
