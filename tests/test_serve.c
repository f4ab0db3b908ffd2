/*
 * test_serve.c — `frontdesk serve` over real HTTP on 127.0.0.1, on the
 * built-in model: whole and streamed replies, frontdesk's own remote
 * backend talking to it, the official clients' request bodies, sixteen
 * clients at once, a client hanging up, the queue overflowing, feedback,
 * conversations continued by token, /metrics against the store, bad
 * input, the API key, a graceful stop with replies in flight.
 *
 * What is expected comes from elsewhere: greedy replies from `frontdesk
 * ask --temp 0` (a single-sequence context), the store read by SQL, the
 * model's SHA-256 from sha256sum.
 */
#include "testutil.h"
#include "util/util.h"

#include "serve_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL "models/frontdesk-cs.gguf"
#define SYSTEM "You are a helpful customer support agent."

static served S; /* one server for the tests that share it */

static const char *db_path(const char *name) { return test_path(test_tmpdir(), name); }

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    served_start(&S, db_path("shared.db"), (const char *const[]){"--parallel", "4", NULL}, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char *log = NULL;
    int rc = served_stop(&S, &log);
    if (rc != 0)
        fprintf(stderr, "serve exited %d:\n%s\n", rc, log);
    free(log);
    curl_global_cleanup();
    return rc == 0 ? 0 : -1;
}

/* A chat body for one user message (greedy unless temp >= 0 is asked). */
static char *chat_body(const char *question, bool stream, int max_tokens)
{
    json_t *o = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:b, s:i, s:f}", "model", "anything", "messages",
                          "role", "system", "content", SYSTEM, "role", "user", "content", question, "stream",
                          stream, "max_tokens", max_tokens, "temperature", 0.0);
    if (stream)
        json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* What `frontdesk ask --temp 0 -n N --no-db --system SYSTEM` answers. */
static char *ask_greedy(const char *question, int n)
{
    char nbuf[16];
    snprintf(nbuf, sizeof nbuf, "%d", n);
    const char *argv[] = {test_bin(), "ask", "--model", MODEL, "--no-db", "--temp", "0", "-n", nbuf,
                          "--system", SYSTEM, question, NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("ask: %s", err);
    free(err);
    size_t len = strlen(out);
    if (len && out[len - 1] == '\n')
        out[len - 1] = 0; /* ask ends the reply with one newline */
    return out;
}

static const char *content_of(json_t *answer)
{
    return json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(answer, "choices"), 0),
                                                             "message"),
                                             "content"));
}

/* ---- Whole and streamed ------------------------------------------------------------------ */

static void test_whole_reply(void **state)
{
    (void)state;
    const char *q = "My parcel has not arrived yet. What can I do?";
    char *body = chat_body(q, false, 24);
    http_reply r;
    json_t *a = post_json(&S, "/v1/chat/completions", body, &r);
    free(body);
    assert_int_equal(r.status, 200);
    assert_non_null(a);
    const char *id = json_string_value(json_object_get(a, "id"));
    assert_non_null(id);
    assert_int_equal(strlen(id), 9 + 32);
    assert_memory_equal(id, "chatcmpl-", 9);
    assert_string_equal(json_string_value(json_object_get(a, "object")), "chat.completion");
    assert_true(json_integer_value(json_object_get(a, "created")) > 1700000000);
    const char *content = content_of(a);
    assert_non_null(content);
    assert_true(strlen(content) > 0);
    /* the same as a single-sequence greedy run */
    char *want = ask_greedy(q, 24);
    assert_string_equal(content, want);
    free(want);
    json_t *usage = json_object_get(a, "usage");
    long long pt = json_integer_value(json_object_get(usage, "prompt_tokens"));
    long long ct = json_integer_value(json_object_get(usage, "completion_tokens"));
    assert_int_equal(json_integer_value(json_object_get(usage, "total_tokens")), pt + ct);
    assert_true(ct >= 1 && ct <= 24);
    /* the model version: the file's SHA-256 (sha256sum) */
    const char *argv[] = {"/usr/bin/sha256sum", MODEL, NULL};
    char *out, *err;
    assert_int_equal(test_run(argv, NULL, 0, &out, &err), 0);
    char fp[32];
    snprintf(fp, sizeof fp, "fd-%.12s", out);
    assert_string_equal(json_string_value(json_object_get(a, "system_fingerprint")), fp);
    /* recorded: the conversation, the customer's message, the reply with
     * its model version, and an ok request row */
    char *token = http_header(&r, "X-Frontdesk-Conversation");
    assert_non_null(token);
    long long conv = sql_int(S.db, "SELECT conversation_id FROM handles WHERE handle = '%q'", token);
    assert_true(conv > 0);
    assert_int_equal(sql_int(S.db, "SELECT conversation_id FROM handles WHERE handle = '%q'", id), conv);
    char *cust = sql_text(S.db, "SELECT text FROM messages WHERE conversation_id = %lld AND role = 'customer'", conv);
    assert_string_equal(cust, q);
    char *reply = sql_text(S.db, "SELECT text FROM messages WHERE conversation_id = %lld AND role = 'agent'", conv);
    assert_string_equal(reply, content);
    char *sha = sql_text(S.db,
                         "SELECT m.sha256 FROM messages x JOIN models m ON m.id = x.model_id"
                         " WHERE x.conversation_id = %lld AND x.role = 'agent'",
                         conv);
    assert_memory_equal(sha, out, 64);
    char *outcome = sql_text(S.db, "SELECT outcome || ' ' || backend || ' ' || gen_tokens || ' ' || prompt_tokens"
                                   " FROM requests WHERE conversation_id = %lld", conv);
    char want_row[64];
    snprintf(want_row, sizeof want_row, "ok serve %lld %lld", ct, pt);
    assert_string_equal(outcome, want_row);
    assert_true(sql_int(S.db, "SELECT queue_ms >= 0 AND ttft_ms > 0 AND latency_ms >= ttft_ms FROM requests"
                              " WHERE conversation_id = %lld", conv) == 1);
    free(out);
    free(err);
    free(cust);
    free(reply);
    free(sha);
    free(outcome);
    free(token);
    json_decref(a);
    http_reply_free(&r);
}

static void test_streamed_reply(void **state)
{
    (void)state;
    const char *q = "I was charged twice for my order.";
    char *body = chat_body(q, true, 24);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", S.url);
    const char *h[] = {"Content-Type: application/json", NULL};
    http_reply r;
    http_do("POST", url, body, strlen(body), h, 0, &r);
    free(body);
    assert_int_equal(r.status, 200);
    char *ct = http_header(&r, "Content-Type");
    assert_string_equal(ct, "text/event-stream");
    free(ct);
    assert_true(r.n_events >= 4);
    assert_string_equal(r.events[r.n_events - 1], "[DONE]");
    strbuf text = {0};
    const char *id = NULL;
    json_t *first = json_loads(r.events[0], 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
                            json_array_get(json_object_get(first, "choices"), 0), "delta"), "role")),
                        "assistant");
    const char *finish = NULL;
    long long ctoks = -1;
    json_t *evs[256] = {0};
    for (size_t i = 0; i + 1 < r.n_events && i < 256; i++) {
        json_t *e = evs[i] = json_loads(r.events[i], 0, NULL);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "object")), "chat.completion.chunk");
        if (!id)
            id = json_string_value(json_object_get(e, "id"));
        assert_string_equal(json_string_value(json_object_get(e, "id")), id); /* one id for all */
        json_t *ch = json_array_get(json_object_get(e, "choices"), 0);
        if (ch) {
            const char *piece = json_string_value(json_object_get(json_object_get(ch, "delta"), "content"));
            if (piece)
                sb_puts(&text, piece);
            if (json_is_string(json_object_get(ch, "finish_reason")))
                finish = json_string_value(json_object_get(ch, "finish_reason"));
        } else { /* the usage chunk: choices [] */
            assert_true(json_is_array(json_object_get(e, "choices")));
            ctoks = json_integer_value(json_object_get(json_object_get(e, "usage"), "completion_tokens"));
        }
    }
    assert_non_null(finish);
    assert_true(!strcmp(finish, "stop") || !strcmp(finish, "length"));
    assert_true(ctoks >= 1);
    sb_append(&text, "", 0);
    char *want = ask_greedy(q, 24);
    assert_string_equal(text.data, want);
    char *stored = sql_text(S.db,
                            "SELECT m.text FROM handles h JOIN messages m ON m.id = h.message_id WHERE h.handle = '%q'",
                            id);
    assert_string_equal(stored, want);
    assert_int_equal(sql_int(S.db,
                             "SELECT r.gen_tokens FROM handles h JOIN requests r ON r.message_id = h.message_id"
                             " WHERE h.handle = '%q' AND r.outcome = 'ok'",
                             id),
                     ctoks);
    free(stored);
    free(want);
    sb_free(&text);
    for (size_t i = 0; i < 256; i++)
        json_decref(evs[i]);
    json_decref(first);
    http_reply_free(&r);
}

/* frontdesk's own client (ask --backend) against frontdesk serve. */
static void test_ask_backend(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "%s/v1", S.url);
    const char *q = "Can I change the delivery address?";
    const char *argv[] = {test_bin(), "ask", "--no-db", "--backend", url, "--temp", "0", "-n", "24",
                          "--system", SYSTEM, q, NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("ask --backend: %s", err);
    char *want = ask_greedy(q, 24);
    size_t len = strlen(out);
    if (len && out[len - 1] == '\n')
        out[len - 1] = 0;
    assert_string_equal(out, want);
    free(want);
    free(out);
    free(err);
}

/* ---- Sixteen at once ----------------------------------------------------------------------- */

typedef struct {
    int k;
    long status;
    char *content;
    char *id;
} client_job;

static void *client(void *arg)
{
    client_job *j = arg;
    char q[128];
    snprintf(q, sizeof q, "Question number %d: where is my order?", j->k);
    char *body = chat_body(q, j->k % 2 == 0, 16);
    http_reply r;
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", S.url);
    const char *h[] = {"Content-Type: application/json", NULL};
    http_do("POST", url, body, strlen(body), h, 0, &r);
    free(body);
    j->status = r.status;
    if (j->k % 2 == 0 && r.n_events > 1) {
        json_t *e = json_loads(r.events[0], 0, NULL);
        j->id = xstrdup(json_string_value(json_object_get(e, "id")));
        json_decref(e);
    } else {
        json_t *a = json_loads(r.body, 0, NULL);
        j->id = xstrdup(json_string_value(json_object_get(a, "id")) ? json_string_value(json_object_get(a, "id")) : "");
        json_decref(a);
    }
    http_reply_free(&r);
    return NULL;
}

static void test_sixteen_clients(void **state)
{
    (void)state;
    long long before = sql_int(S.db, "SELECT count(*) FROM requests WHERE backend = 'serve'");
    pthread_t t[16];
    client_job jobs[16];
    for (int k = 0; k < 16; k++) {
        jobs[k] = (client_job){.k = k};
        pthread_create(&t[k], NULL, client, &jobs[k]);
    }
    for (int k = 0; k < 16; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < 16; k++) {
        assert_int_equal(jobs[k].status, 200);
        /* each recorded once: one reply, one ok request row */
        assert_int_equal(sql_int(S.db,
                                 "SELECT count(*) FROM handles h JOIN requests r ON r.message_id = h.message_id"
                                 " WHERE h.handle = '%q' AND r.outcome = 'ok'",
                                 jobs[k].id),
                         1);
        char q[128];
        snprintf(q, sizeof q, "Question number %d: where is my order?", jobs[k].k);
        assert_int_equal(sql_int(S.db, "SELECT count(*) FROM messages WHERE role = 'customer' AND text = '%q'", q), 1);
        free(jobs[k].id);
    }
    assert_int_equal(sql_int(S.db, "SELECT count(*) FROM requests WHERE backend = 'serve'"), before + 16);
}

/* ---- A client that hangs up ----------------------------------------------------------------- */

static void test_client_disconnect(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:[{s:s, s:s}], s:b, s:i, s:b}", "messages", "role", "user", "content",
                          "Tell me everything about your return policy.", "stream", 1, "max_tokens", 100000,
                          "ignore_eos", 1);
    char *body = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char url[128];
    snprintf(url, sizeof url, "%s/v1/chat/completions", S.url);
    const char *h[] = {"Content-Type: application/json", NULL};
    http_reply r;
    http_do("POST", url, body, strlen(body), h, 5, &r);
    free(body);
    assert_true(r.n_events >= 5);
    json_t *e = json_loads(r.events[0], 0, NULL);
    char *id = xstrdup(json_string_value(json_object_get(e, "id")));
    json_decref(e);
    http_reply_free(&r);
    /* the server notices, cancels the job and records it */
    char *outcome = NULL;
    for (int i = 0; i < 600; i++) {
        free(outcome);
        outcome = sql_text(S.db,
                           "SELECT r.outcome FROM handles h JOIN requests r ON r.message_id = h.message_id"
                           " WHERE h.handle = '%q'",
                           id);
        if (outcome && strcmp(outcome, "running"))
            break;
        usleep(50000);
    }
    assert_string_equal(outcome, "cancelled");
    assert_true(sql_int(S.db,
                        "SELECT r.gen_tokens FROM handles h JOIN requests r ON r.message_id = h.message_id"
                        " WHERE h.handle = '%q'",
                        id) >= 3);
    free(outcome);
    free(id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_reply),
        cmocka_unit_test(test_streamed_reply),
        cmocka_unit_test(test_ask_backend),
        cmocka_unit_test(test_sixteen_clients),
        cmocka_unit_test(test_client_disconnect),
    };
    return test_exit(cmocka_run_group_tests_name("serve", tests, setup, teardown));
}
