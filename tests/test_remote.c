/*
 * test_remote.c — the remote backend (net/remote.h) against the
 * scriptable server of tests/remote_server.h on 127.0.0.1: what arrives.
 *
 *   - streams: odd-sized writes, one byte at a time, CRLF, comments and
 *     foreign fields, JSON over several data: lines, \u escapes — the text
 *     arrives byte-exact (CJK and emoji split across reads included), every
 *     piece handed to on_text is whole UTF-8, usage and the timings are
 *     read, and tokens/s is (completion_tokens - 1) / decode time; without
 *     usage the counts stay -1;
 *   - the request: URL, method, the JSON body (model, messages, stream,
 *     stream_options, standard sampling fields always, extensions only
 *     when they change something), the Bearer header;
 *   - each token's log-probability asked for ("logprobs": true) and read
 *     from stream chunks and a whole answer (sum, lowest, count), none
 *     when the server sends none, a logprob that is not a number refused;
 *   - a non-streamed JSON answer, a stream without [DONE] after its
 *     finish_reason, a web page where the API should be;
 *   - broken streams: a hang-up mid-stream (chunked and close-delimited),
 *     invalid JSON and an error event mid-stream (no retry after a token;
 *     the key in invalid JSON where its quote is cut not shown in part).
 *
 * Timeouts, HTTP errors and retries, cancellation, the model list and bad
 * arguments are test_remote_failures.c's; the helpers both use are in
 * tests/remote_check.h.  No test asserts how fast anything is.
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

/* ---- Streams -------------------------------------------------------------------- */

static void test_stream_odd_chunks_with_usage(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 3, .usage = true, .prompt_tokens = 57,
                  .completion_tokens = 41};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rc_assert_good_stream(&r, REPLY);
    assert_true(r.out.calls > 10); /* streamed, not delivered at the end */
    assert_int_equal(r.res.prompt_tokens, 57);
    assert_int_equal(r.res.completion_tokens, 41);
    assert_true(r.res.decode_ms > 0);
    double want = 40.0 / (r.res.decode_ms / 1000.0);
    assert_true(fabs(r.res.decode_tps - want) < 1e-6 * want);
    assert_int_equal(rs_count(s), 1);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_stream_one_byte_crlf_comments_multiline(void **state)
{
    (void)state;
    /* Every byte its own write: each split point of the stream is seen. */
    rs_step st = {.kind = RS_STREAM, .reply = SHORT, .delta_chars = 1, .chunk = 1, .pause_us = 10, .crlf = true,
                  .comments = true,
                  .multiline = true};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rc_assert_good_stream(&r, SHORT);
    assert_int_equal(r.out.calls, (int)rc_count_chars(SHORT)); /* one delta each */
    assert_int_equal(r.res.prompt_tokens, -1); /* no usage: unknown, never guessed */
    assert_int_equal(r.res.completion_tokens, -1);
    assert_true(r.res.decode_tps < 0);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_stream_lf_escapes_multiline(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 5, .chunk = 7, .ascii = true,
                  .multiline = true, .comments = true, .usage = true, .prompt_tokens = 3, .completion_tokens = 2};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rc_assert_good_stream(&r, REPLY);
    assert_int_equal(r.res.completion_tokens, 2);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_stream_close_delimited_no_done(void **state)
{
    (void)state;
    /* Ends after finish_reason and usage, without [DONE], by closing. */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 6, .close_delimited = true, .no_done = true,
                  .usage = true,
                  .prompt_tokens = 9, .completion_tokens = 1};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rc_assert_good_stream(&r, REPLY);
    assert_int_equal(r.res.completion_tokens, 1);
    assert_true(r.res.decode_tps < 0); /* one token: nothing after the first to time */
    rs_stop(s);
    rc_run_free(&r);
}

static void test_non_streamed_answer(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 200,
                  .body = "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"big\",\"choices\":[{\"index\":0,"
                          "\"message\":{\"role\":\"assistant\",\"content\":\"Whole reply \\ud83d\\ude42\"},"
                          "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(rc_sink_str(&r.out), "Whole reply 🙂");
    assert_string_equal(r.res.finish_reason, "length");
    assert_string_equal(r.res.model, "big");
    assert_int_equal(r.res.prompt_tokens, 5);
    assert_int_equal(r.res.completion_tokens, 4);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_web_page_is_not_a_stream(void **state)
{
    (void)state;
    /* The URL of a web UI instead of its /v1 API. */
    rs_step st = {.kind = RS_STATUS, .status = 200, .content_type = "text/html; charset=utf-8",
                  .body = "<!doctype html>\n<html><title>Chat UI</title></html>"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 1);
    char want[200];
    snprintf(want, sizeof want, "%s answered with a web page, not an event stream: <!doctype html> <html><title>",
             rs_url(s));
    assert_true(strncmp(r.err, want, strlen(want)) == 0);
    rs_stop(s);
    rc_run_free(&r);
}

/* ---- The request ------------------------------------------------------------------ */

static json_t *body_of(rs_server *s, size_t i)
{
    const rs_request *q = rs_get(s, i);
    assert_non_null(q);
    json_error_t je;
    json_t *b = json_loadb(q->body, q->body_len, 0, &je);
    if (!b)
        fail_msg("request %zu is not JSON: %s", i, je.text);
    return b;
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("no number %s", k);
    return json_number_value(v);
}

static void test_request_body(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = "ok"};
    rs_server *s = rc_start(&st, 1);
    strbuf url = {0};
    sb_printf(&url, "%s/", rs_url(s)); /* a trailing slash is fine */
    remote_opts o = rc_opts_for(s);
    o.base_url = url.data;

    /* 1: top_k and min_p on, no penalty, no seed; a limit and stops. */
    remote_request rq = rc_request();
    rq.sampling.temp = 0.2f;
    rq.sampling.top_p = 0.9f;
    rq.sampling.top_k = 40;
    rq.sampling.min_p = 0.05f;
    rq.sampling.repeat_penalty = 1.0f;
    rq.sampling.seed = 77;
    rq.max_tokens = 128;
    const char *stops[] = {"\nUser:", "</s>"};
    rq.stops = stops;
    rq.n_stops = 2;
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    rc_run_free(&r);

    /* 2: top_k and min_p off, a penalty, a seed, no model, no key. */
    remote_request rq2 = rc_request();
    rq2.sampling.temp = 0;
    rq2.sampling.top_k = 0;
    rq2.sampling.min_p = 0;
    rq2.sampling.repeat_penalty = 1.1f;
    rq2.sampling.repeat_last_n = 32;
    rq2.sampling.seed = 1234;
    rq2.send_seed = true;
    remote_opts o2 = o;
    o2.model = NULL;
    o2.api_key = NULL;
    run_out r2 = {0};
    rc_chat(&o2, &rq2, NULL, &r2);
    assert_int_equal(r2.rc, 0);
    rc_run_free(&r2);

    assert_int_equal(rs_count(s), 2);
    const rs_request *q = rs_get(s, 0);
    assert_string_equal(q->method, "POST");
    assert_string_equal(q->path, "/v1/chat/completions");
    assert_non_null(q->authorization);
    assert_string_equal(q->authorization, "Bearer " KEY);
    assert_null(rs_get(s, 1)->authorization);

    json_t *b = body_of(s, 0);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "rs-model");
    assert_true(json_is_true(json_object_get(b, "stream")));
    assert_true(json_is_true(json_object_get(json_object_get(b, "stream_options"), "include_usage")));
    json_t *m = json_object_get(b, "messages");
    assert_int_equal(json_array_size(m), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(m, i);
        assert_string_equal(json_string_value(json_object_get(e, "role")), MSGS[i].role);
        assert_string_equal(json_string_value(json_object_get(e, "content")), MSGS[i].content);
    }
    assert_true(fabs(num(b, "temperature") - 0.2) < 1e-6);
    assert_true(fabs(num(b, "top_p") - 0.9) < 1e-6);
    assert_true(json_integer_value(json_object_get(b, "top_k")) == 40);
    assert_true(fabs(num(b, "min_p") - 0.05) < 1e-6);
    assert_null(json_object_get(b, "repeat_penalty"));
    assert_null(json_object_get(b, "repetition_penalty"));
    assert_null(json_object_get(b, "seed"));
    assert_true(json_integer_value(json_object_get(b, "max_tokens")) == 128);
    json_t *sp = json_object_get(b, "stop");
    assert_int_equal(json_array_size(sp), 2);
    assert_string_equal(json_string_value(json_array_get(sp, 0)), "\nUser:");
    assert_string_equal(json_string_value(json_array_get(sp, 1)), "</s>");
    /* Reals go out at float precision. */
    assert_non_null(strstr(rs_get(s, 0)->body, "\"temperature\":0.2,"));
    json_decref(b);

    b = body_of(s, 1);
    assert_null(json_object_get(b, "model"));
    assert_true(num(b, "temperature") == 0);
    assert_null(json_object_get(b, "top_k"));
    assert_null(json_object_get(b, "min_p"));
    assert_true(fabs(num(b, "repeat_penalty") - 1.1) < 1e-6);
    assert_true(fabs(num(b, "repetition_penalty") - 1.1) < 1e-6);
    assert_true(json_integer_value(json_object_get(b, "repeat_last_n")) == 32);
    assert_true(json_integer_value(json_object_get(b, "seed")) == 1234);
    assert_null(json_object_get(b, "max_tokens"));
    assert_null(json_object_get(b, "stop"));
    json_decref(b);
    rs_stop(s);
    sb_free(&url);
}

/* choices[0].logprobs.content[].logprob of every chunk summed, the lowest
 * kept and counted: one per delta, three more on the finish event. */
static void test_stream_logprobs(void **state)
{
    (void)state;
    /* SHORT in deltas of 4 characters; more log-probabilities than deltas */
    static const double lp[] = {-0.5, -0.25, -3.75, -0.125, -1.0, -0.0625, -2.0, -0.5, -0.25, -1.5,
                                -0.75, -0.375, -0.1, -4.5, -0.2, -0.3};
    size_t n_lp = sizeof lp / sizeof *lp;
    size_t n_deltas = (rc_count_chars(SHORT) + 3) / 4;
    assert_true(n_deltas + 3 <= n_lp);
    n_lp = n_deltas + 3;
    double sum = 0, min = 0;
    for (size_t i = 0; i < n_lp; i++) {
        sum += lp[i];
        min = i == 0 || lp[i] < min ? lp[i] : min;
    }
    rs_step st = {.kind = RS_STREAM, .reply = SHORT, .delta_chars = 4, .logprobs = lp, .n_logprobs = n_lp};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    rc_assert_good_stream(&r, SHORT);
    assert_int_equal(r.res.n_logprob, (int)n_lp);
    assert_true(fabs(r.res.logprob_sum - sum) < 1e-9);
    assert_true(r.res.logprob_min == min);
    /* the request asked for them */
    json_t *b = body_of(s, 0);
    assert_true(json_is_true(json_object_get(b, "logprobs")));
    json_decref(b);
    rs_stop(s);
    rc_run_free(&r);

    /* none sent ("logprobs" absent): none counted */
    rs_step plain = {.kind = RS_STREAM, .reply = SHORT};
    s = rc_start(&plain, 1);
    o = rc_opts_for(s);
    run_out r2 = {0};
    rc_chat(&o, &rq, NULL, &r2);
    rc_assert_good_stream(&r2, SHORT);
    assert_int_equal(r2.res.n_logprob, 0);
    assert_true(r2.res.logprob_sum == 0 && r2.res.logprob_min == 0);
    rs_stop(s);
    rc_run_free(&r2);
}

/* A non-streamed answer's logprobs, and a logprob of the wrong type: an
 * error naming it. */
static void test_answer_logprobs(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 200,
                  .body = "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
                          "\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\"},"
                          "\"logprobs\":{\"content\":[{\"token\":\"Hi\",\"logprob\":-0.25},"
                          "{\"token\":\" there\",\"logprob\":-2.5,\"top_logprobs\":[]},"
                          "{\"token\":\"\",\"logprob\":0}],\"refusal\":null},"
                          "\"finish_reason\":\"stop\"}]}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(rc_sink_str(&r.out), "Hi there");
    assert_int_equal(r.res.n_logprob, 3);
    assert_true(r.res.logprob_sum == -2.75);
    assert_true(r.res.logprob_min == -2.5);
    rs_stop(s);
    rc_run_free(&r);

    rs_step bad = {.kind = RS_STREAM, .reply = SHORT,
                   .mid_event = "{\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":{\"content\":"
                                "[{\"logprob\":-1},{\"logprob\":\"-2\"}]}}]}"};
    s = rc_start(&bad, 1);
    o = rc_opts_for(s);
    run_out r2 = {0};
    rc_chat(&o, &rq, NULL, &r2);
    assert_int_equal(r2.res.outcome, REMOTE_ERROR);
    rc_assert_contains(r2.err, "choices[0].logprobs.content[1].logprob is not a number");
    rs_stop(s);
    rc_run_free(&r2);
}

/* ---- Broken streams -------------------------------------------------------------- */

static void close_mid(bool close_delimited)
{
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 4, .close_mid = true,
                  .close_delimited = close_delimited};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    char *half = rc_first_half(REPLY, 4);
    assert_string_equal(rc_sink_str(&r.out), half);
    char want[128];
    snprintf(want, sizeof want, "the server closed the connection mid-reply (after %zu bytes of text)", strlen(half));
    assert_string_equal(r.err, want);
    assert_int_equal(r.res.attempts, 1); /* never retried after a token */
    assert_int_equal(rs_count(s), 1);
    assert_true(r.res.ttft_ms > 0);
    free(half);
    rs_stop(s);
    rc_run_free(&r);
}

static void test_close_mid_stream_chunked(void **state)
{
    (void)state;
    close_mid(false);
}

static void test_close_mid_stream_close_delimited(void **state)
{
    (void)state;
    close_mid(true);
}

static void test_invalid_json_event(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .mid_event = "{\"choices\":[{\"delta\":{\"content\":\"x\"}}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_true(strncmp(r.err, "the server sent invalid JSON: ", 30) == 0);
    rc_assert_contains(r.err, "in event: {\"choices\":[{\"delta\"");
    char *half = rc_first_half(REPLY, 2);
    assert_string_equal(rc_sink_str(&r.out), half);
    assert_int_equal(r.res.attempts, 1);
    free(half);
    rs_stop(s);
    rc_run_free(&r);
}

/* Invalid JSON that holds the key where the quote of it is cut (at 120
 * bytes): not even the key's first bytes are shown. */
static void test_invalid_json_key_at_cut(void **state)
{
    (void)state;
    strbuf ev = {0};
    sb_puts(&ev, "{\"choices\":[{\"delta\":{\"content\":\"");
    while (ev.len < 110)
        sb_putc(&ev, 'x');
    sb_puts(&ev, "echo: " KEY "\"}}"); /* one } short */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .mid_event = ev.data};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_true(strncmp(r.err, "the server sent invalid JSON: ", 30) == 0);
    assert_null(strstr(r.err, "sk-t")); /* KEY's first 4 bytes */
    rs_stop(s);
    rc_run_free(&r);
    sb_free(&ev);
}

static void test_error_event_mid_stream(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY,
                  .mid_event = "{\"error\":{\"message\":\"out of memory\\nwhile decoding\",\"type\":\"server_error\"}}"};
    rs_server *s = rc_start(&st, 1);
    remote_opts o = rc_opts_for(s);
    remote_request rq = rc_request();
    run_out r = {0};
    rc_chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_string_equal(r.err, "the server reported an error: out of memory while decoding");
    assert_int_equal(r.res.attempts, 1);
    rs_stop(s);
    rc_run_free(&r);
}

int main(void)
{
    /* The server is on 127.0.0.1: no proxy may stand in between. */
    setenv("no_proxy", "*", 1);
    setenv("NO_PROXY", "*", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_odd_chunks_with_usage),
        cmocka_unit_test(test_stream_one_byte_crlf_comments_multiline),
        cmocka_unit_test(test_stream_lf_escapes_multiline),
        cmocka_unit_test(test_stream_close_delimited_no_done),
        cmocka_unit_test(test_non_streamed_answer),
        cmocka_unit_test(test_stream_logprobs),
        cmocka_unit_test(test_answer_logprobs),
        cmocka_unit_test(test_web_page_is_not_a_stream),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_close_mid_stream_chunked),
        cmocka_unit_test(test_close_mid_stream_close_delimited),
        cmocka_unit_test(test_invalid_json_event),
        cmocka_unit_test(test_invalid_json_key_at_cut),
        cmocka_unit_test(test_error_event_mid_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
