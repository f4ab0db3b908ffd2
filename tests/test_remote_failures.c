/*
 * test_remote_failures.c — the remote backend (net/remote.h) against the
 * scriptable server of tests/remote_server.h on 127.0.0.1: what goes
 * wrong, each failure with its outcome, attempts and message.
 *
 *   - timeouts: a stall before the first token (keep-alives or not), a
 *     stall mid-stream (partial text kept), keep-alives that keep a slow
 *     stream alive until the total timeout;
 *   - HTTP errors and retries: 429 then 200 (Retry-After honoured), 500 on
 *     every attempt, 401 with an error body that echoes the key
 *     (redacted), a long plain-text error (cut), connection refused (3
 *     attempts, quick back-off), a connect timeout (retried, then a
 *     timeout), an empty reply retried;
 *   - cancellation during a stall and during a retry wait (back long
 *     before the 30 s stall or wait would have ended), on_text asking to
 *     stop;
 *   - the model list, bad arguments (no URL, ftp://, a password in the
 *     URL kept out of messages, a line break in the key, a message that
 *     is not UTF-8).
 * Every test bounds its own time with the total timeout.
 *
 * No test asserts how fast anything is (speed belongs in make bench; these
 * machines are shared and noisy).  What is asserted about time is either a
 * lower bound that follows from the protocol (a 300 ms timeout cannot fire
 * before 300 ms, a back-off of at least X was waited) or an outcome: which
 * timeout ended the call (its message), how many attempts fitted in the
 * total timeout (a wait that would pass it is refused, see run_attempts),
 * and, against a scripted stall of STALL_MS, that the client returned in
 * well under a third of it — a margin no loaded machine comes near.
 */
#include "engine/sampler.h"
#include "net/remote.h"
#include "tests/remote_check.h"
#include "tests/remote_server.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <jansson.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Timeouts -------------------------------------------------------------------- */

static void test_stall_before_first_token(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_before_ms = STALL_MS};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    o.first_token_timeout_ms = 300;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_string_equal(r.err, "no reply within 300 ms (first-token timeout)");
    assert_int_equal(r.res.attempts, 1); /* a timeout is not retried */
    assert_int_equal(rs_count(s), 1);
    assert_int_equal(r.out.text.len, 0);
    assert_true(r.res.ttft_ms < 0);
    /* The message says the 300 ms first-token timeout ended it (not the 8 s
     * total), no text says the stall had not ended; a 300 ms timeout cannot
     * fire sooner than 300 ms. */
    assert_true(r.secs >= 0.29);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_stall_before_first_token_keepalives(void **state)
{
    (void)state;
    /* Keep-alives every 50 ms do not extend the first-token deadline. */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_before_ms = STALL_MS, .keepalive_ms = 50};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    o.first_token_timeout_ms = 300;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    rc_assert_contains(r.err, "first-token timeout");
    assert_int_equal(r.out.text.len, 0);
    assert_true(r.secs >= 0.29);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_stall_mid_stream(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 2, .stall_mid_ms = STALL_MS};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    o.idle_timeout_ms = 300;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_string_equal(r.err, "the server went silent for 300 ms mid-reply (idle timeout)");
    char *half = rc_first_half(REPLY, 2);
    assert_string_equal(rc_sink_str(&r.out), half); /* the partial text stays delivered */
    assert_int_equal(r.res.text_bytes, strlen(half));
    assert_false(r.out.split_char);
    assert_int_equal(r.res.attempts, 1);
    assert_true(r.res.ttft_ms > 0);
    /* The idle timeout (message), not the total, ended it, with only the
     * first half delivered: the stall had not ended. */
    assert_true(r.secs >= 0.29);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    free(half);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_keepalives_then_total_timeout(void **state)
{
    (void)state;
    /* A stalled stream that keeps sending keep-alives is alive for the idle
     * timeout (300 ms) but not past the total (800 ms). */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_mid_ms = STALL_MS, .keepalive_ms = 50};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    o.idle_timeout_ms = 300;
    o.total_timeout_ms = 800;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_string_equal(r.err, "the reply took longer than 800 ms (total timeout)");
    /* The total timeout (message), not the idle one, ended it: keep-alives
     * kept the stream alive past 300 ms without text; 800 ms cannot pass
     * sooner. */
    assert_true(r.secs >= 0.79);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    assert_true(r.out.text.len > 0);
    rs_stop(s);
    rc_run_free(&r);
}

/* ---- HTTP errors and retries ---------------------------------------------------------- */

static void test_429_then_200(void **state)
{
    (void)state;
    rs_step st[] = {
        {.kind = RS_STATUS, .status = 429, .retry_after = 1,
         .body = "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit\"}}"},
        {.kind = RS_STREAM, .reply = REPLY, .usage = true, .prompt_tokens = 1, .completion_tokens = 30},
    };
    rs_server *s = rc_start(st, 2);
    remote_opts o = rc_opts_for(s); /* back-off base 10 ms: only Retry-After makes it wait 1 s */
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(rc_sink_str(&r.out), REPLY);
    assert_int_equal(r.res.attempts, 2);
    assert_int_equal(rs_count(s), 2);
    assert_int_equal(r.res.http_status, 200);
    /* Retry-After: 1 was waited (the back-off alone is 5-10 ms).  Not an
     * upper bound on time: the retry happened at all, so the wait fitted in
     * the 8 s total timeout (a longer one is refused: 1 attempt, an error). */
    assert_true(r.secs >= 0.99);
    assert_true(r.res.ttft_ms >= 990); /* from the call, the wait included */
    assert_true(r.res.decode_tps > 0);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_500_every_attempt(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 500, .body = "{\"error\":{\"message\":\"model exploded\"}}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 3);
    assert_int_equal(rs_count(s), 3);
    assert_int_equal(r.res.http_status, 500);
    char want[256];
    snprintf(want, sizeof want, "%s answered HTTP 500: model exploded (3 attempts)", rs_url(s));
    assert_string_equal(r.err, want);
    /* Back-offs of 10 then 20 ms, each jittered into [1/2, 1], were waited.
     * No upper bound on time: three attempts say the waits fitted in the 8 s
     * total timeout (a wait that would pass it is refused: fewer attempts). */
    assert_true(r.secs >= 0.014);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_401_error_body_key_redacted(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 401,
                  .body = "{\"error\":{\"message\":\"Incorrect API key provided: " KEY ".\",\"code\":\"invalid_api_key\"}}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 1); /* no retry for 4xx */
    assert_int_equal(rs_count(s), 1);
    assert_int_equal(r.res.http_status, 401);
    char want[256];
    snprintf(want, sizeof want, "%s answered HTTP 401: Incorrect API key provided: [redacted].", rs_url(s));
    assert_string_equal(r.err, want);
    assert_null(strstr(r.err, "SECRET"));
    assert_string_equal(rs_get(s, 0)->authorization, "Bearer " KEY); /* it was sent */
    rs_stop(s);
    rc_run_free(&r);
}

static void test_plain_text_error_cut(void **state)
{
    (void)state;
    strbuf body = {0};
    sb_puts(&body, "upstream\r\nunavailable:\t");
    for (int i = 0; i < 100; i++)
        sb_puts(&body, "ünïcode ");
    rs_step st = {.kind = RS_STATUS, .status = 503, .content_type = "text/plain", .body = body.data};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    o.retries = 0;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 1);
    rc_assert_contains(r.err, "answered HTTP 503: upstream unavailable: ünïcode ünïcode");
    assert_true(strlen(r.err) < 400);
    assert_true(strlen(r.err) > 3 && strcmp(r.err + strlen(r.err) - 3, "...") == 0);
    assert_null(strpbrk(r.err, "\r\n\t"));
    assert_true(rc_valid_utf8((const unsigned char *)r.err, strlen(r.err)));
    rs_stop(s);
    rc_run_free(&r);
    sb_free(&body);
}

static void test_connection_refused(void **state)
{
    (void)state;
    int port = rs_closed_port();
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    remote_opts o = remote_defaults();
    o.base_url = url;
    o.api_key = KEY;
    o.backoff_base_ms = 20;
    o.total_timeout_ms = 5000;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 3);
    assert_int_equal(r.res.http_status, 0);
    char want[160];
    snprintf(want, sizeof want, "cannot connect to %s: Connection refused (3 attempts)", url);
    assert_string_equal(r.err, want);
    /* back-off 20 then 40 ms, each jittered into [1/2, 1], was waited; the
     * three attempts fitted in the 5 s total timeout (no upper bound on time) */
    assert_true(r.secs >= 0.029);
    rc_run_free(&r);
}

static void test_connect_timeout(void **state)
{
    (void)state;
    rs_blackhole b;
    int port = rs_blackhole_open(&b);
    assert_true(port > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
    remote_opts o = remote_defaults();
    o.base_url = url;
    o.connect_timeout_ms = 200;
    o.retries = 1;
    o.backoff_base_ms = 10;
    o.total_timeout_ms = 5000;
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rs_blackhole_close(&b);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_int_equal(r.res.attempts, 2); /* a connect timeout is a connection failure: retried */
    char want[160];
    snprintf(want, sizeof want, "cannot connect to %s: no connection within 200 ms (connect timeout) (2 attempts)",
             url);
    assert_string_equal(r.err, want);
    /* Two 200 ms connect timeouts cannot pass sooner than 400 ms.  Connecting
     * to the black hole hangs until something gives up: both attempts ending
     * with the connect timeout, inside the 5 s total (an unbounded connect
     * would have used it all on one attempt), is the upper bound. */
    assert_true(r.secs >= 0.39);
    rc_run_free(&r);
}

static void test_hangup_retried(void **state)
{
    (void)state;
    rs_step st[] = {{.kind = RS_HANGUP}, {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 8}};
    rs_server *s = rc_start(st, 2);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(rc_sink_str(&r.out), REPLY);
    assert_int_equal(r.res.attempts, 2);
    assert_int_equal(rs_count(s), 2);
    rs_stop(s);
    rc_run_free(&r);
}

/* ---- Cancellation ------------------------------------------------------------------ */

typedef struct {
    atomic_bool *flag;
    int after_ms;
    double at; /* when it was set */
} canceller;

static void *cancel_later(void *arg)
{
    canceller *c = arg;
    struct timespec ts = {.tv_sec = c->after_ms / 1000, .tv_nsec = (long)(c->after_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    c->at = util_now();
    atomic_store(c->flag, true);
    return NULL;
}

static void cancel_during(const rs_step *st, size_t n, int expect_attempts)
{
    rs_server *s = rc_start(st, n);
    remote_opts o = rc_opts_for(s);
    /* Only the cancel (or the end of the STALL_MS stall or wait) can end
     * the call early: no timeout of ours comes first. */
    o.first_token_timeout_ms = o.idle_timeout_ms = o.total_timeout_ms = 2 * STALL_MS;
    remote_request rq = rc_request();
    atomic_bool cancel = false;
    canceller c = {.flag = &cancel, .after_ms = 150};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    run_out r = {0};
    rc_chat(&o, &rq, &cancel, &r);
    double back = util_now();
    pthread_join(t, NULL);
    assert_int_equal(r.res.outcome, REMOTE_CANCELLED);
    assert_string_equal(r.err, expect_attempts > 1 ? "cancelled (2 attempts)" : "cancelled");
    assert_int_equal(r.res.attempts, expect_attempts);
    assert_true(c.at > 0);
    /* Back long before the stall or wait would have ended (the client looks
     * at the flag every 20 ms; how soon is not asserted: shared machines). */
    double late = back - c.at;
    if (late >= WELL_BEFORE_STALL_S)
        fail_msg("returned %.0f ms after the cancel", late * 1000);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_cancel_during_stall(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_before_ms = STALL_MS};
    cancel_during(&st, 1, 1);
}

static void test_cancel_during_retry_wait(void **state)
{
    (void)state;
    /* 503 asking for 30 s: the client is waiting to retry when cancelled. */
    rs_step st = {.kind = RS_STATUS, .status = 503, .retry_after = STALL_MS / 1000, .body = "{\"error\":\"busy\"}"};
    cancel_during(&st, 1, 1);
}

static void test_cancel_mid_stream(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_mid_ms = STALL_MS};
    cancel_during(&st, 1, 1);
}

static void test_on_text_stops(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 3};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    r.out.stop_after = 2;
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_CANCELLED);
    assert_string_equal(r.err, "stopped by the caller");
    assert_int_equal(r.out.calls, 2);
    char *want = rc_prefix_chars(REPLY, 6);
    assert_string_equal(rc_sink_str(&r.out), want);
    assert_int_equal(r.res.text_bytes, strlen(want));
    free(want);
    rs_stop(s);
    rc_run_free(&r);
}

/* ---- Models and arguments ------------------------------------------------------------- */

static void test_models(void **state)
{
    (void)state;
    rs_step st[] = {
        {.kind = RS_STATUS, .status = 200,
         .body = "{\"object\":\"list\",\"data\":[{\"id\":\"alpha\",\"object\":\"model\"},{\"id\":\"beta/\\u00fc-7b\"}]}"},
        {.kind = RS_STATUS, .status = 404, .body = "{\"detail\":\"Not Found\"}"},
        {.kind = RS_STATUS, .status = 200, .body = "{\"data\":[{\"name\":\"no id\"}]}"},
    };
    rs_server *s = rc_start(st, 3);
    remote_opts o = rc_opts_for(s);
    char **names = NULL;
    size_t n = 0;
    char err[256] = "";
    if (remote_models(&o, &names, &n, err, sizeof err) != 0)
        fail_msg("remote_models: %s", err);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "beta/ü-7b");
    remote_models_free(names, n);
    const rs_request *q = rs_get(s, 0);
    assert_string_equal(q->method, "GET");
    assert_string_equal(q->path, "/v1/models");
    assert_string_equal(q->authorization, "Bearer " KEY);

    assert_int_equal(remote_models(&o, &names, &n, err, sizeof err), -1);
    assert_null(names);
    char want[160];
    snprintf(want, sizeof want, "%s answered HTTP 404: Not Found", rs_url(s));
    assert_string_equal(err, want);

    assert_int_equal(remote_models(&o, &names, &n, err, sizeof err), -1);
    assert_string_equal(err, "the model list's data[0].id is not a string");
    remote_models_free(NULL, 0);
    rs_stop(s);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    remote_opts o = remote_defaults();
    remote_request rq = rc_request();
    remote_result res;
    char err[128];
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_string_equal(err, "no backend URL given");
    assert_int_equal(res.outcome, REMOTE_ERROR);
    assert_int_equal(res.attempts, 0);
    assert_int_equal(res.completion_tokens, -1);

    o.base_url = "ftp://127.0.0.1/v1";
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_int_equal(res.attempts, 1);
    rc_assert_contains(err, "cannot use ftp://127.0.0.1/v1");

    o.base_url = "http://user:hunter2@127.0.0.1:1/v1";
    o.retries = 0;
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_null(strstr(err, "hunter2"));
    rc_assert_contains(err, "cannot connect to http://127.0.0.1:1/v1: ");

    o.base_url = "http://127.0.0.1:1/v1";
    o.api_key = "bad\r\nX-Injected: 1";
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_string_equal(err, "the backend URL or API key contains a line break");

    o.api_key = NULL;
    openai_msg bad[] = {{"user", "\xff\xfe broken"}};
    rq.messages = bad;
    rq.n_messages = 1;
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_string_equal(err, "message 1 is not valid UTF-8");
    assert_string_equal(remote_outcome_name(REMOTE_TIMEOUT), "timeout");
}

int main(void)
{
    /* The server is on 127.0.0.1: no proxy may stand in between. */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall_before_first_token),
        cmocka_unit_test(test_stall_before_first_token_keepalives),
        cmocka_unit_test(test_stall_mid_stream),
        cmocka_unit_test(test_keepalives_then_total_timeout),
        cmocka_unit_test(test_429_then_200),
        cmocka_unit_test(test_500_every_attempt),
        cmocka_unit_test(test_401_error_body_key_redacted),
        cmocka_unit_test(test_plain_text_error_cut),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_hangup_retried),
        cmocka_unit_test(test_cancel_during_stall),
        cmocka_unit_test(test_cancel_during_retry_wait),
        cmocka_unit_test(test_cancel_mid_stream),
        cmocka_unit_test(test_on_text_stops),
        cmocka_unit_test(test_models),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
