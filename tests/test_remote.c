/*
 * test_remote.c — the remote backend (net/remote.h) against the
 * scriptable server of tests/remote_server.h on 127.0.0.1.
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
 *   - failures, each with its outcome, attempts and message: stall before
 *     the first token (keep-alives or not), stall mid-stream (partial text
 *     kept), keep-alives that keep a slow stream alive until the total
 *     timeout, a hang-up mid-stream (chunked and close-delimited), 429
 *     then 200 (Retry-After honoured), 500 on every attempt, 401 with an
 *     error body that echoes the key (redacted), a long plain-text error
 *     (cut), invalid JSON and an error event mid-stream (no retry after a
 *     token; the key in invalid JSON where its quote is cut not shown
 *     in part), connection refused (3 attempts, quick back-off), a connect
 *     timeout (retried, then a timeout), an empty reply retried, cancellation during a stall and during a retry wait
 *     (back long before the 30 s stall or wait would have ended), on_text asking to stop;
 *   - each token's log-probability asked for ("logprobs": true) and read
 *     from stream chunks and a whole answer (sum, lowest, count), none
 *     when the server sends none, a logprob that is not a number refused;
 *   - a non-streamed JSON answer, a stream without [DONE] after its
 *     finish_reason, a web page where the API should be, the model list,
 *     bad arguments (no URL, ftp://, a password in the URL kept out of
 *     messages, a line break in the key, a message that is not UTF-8).
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

#define KEY "sk-test-SECRET-4242"

/* A stall (or Retry-After wait) that only a broken client sits out.  It costs
 * nothing when the client gives up first: rs_stop ends a stall at once. */
#define STALL_MS 30000
/* "Well before the stall would have ended": a third of it. */
#define WELL_BEFORE_STALL_S (STALL_MS / 3 / 1000.0)

/* Latin accents, CJK, emoji with a skin-tone modifier, a ZWJ sequence. */
static const char *REPLY = "Hello! Grüße aus Köln. 你好，世界。こんにちは 🙂👍🏽 "
                           "👨‍👩‍👧 done: café ñ ø ß — “quotes” and 한국어 text.\nSecond line\tend.";
/* The hard cases only, for the byte-at-a-time stream. */
static const char *SHORT = "é 你好 🙂👍🏽 👨‍👩‍👧\r\n한 ok";

/* ---- Helpers ------------------------------------------------------------------ */

static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += len;
    }
    return true;
}

typedef struct {
    strbuf text;
    int calls;
    bool split_char; /* a piece was not whole UTF-8 */
    int stop_after;  /* > 0: return false on this call */
} sink;

static bool sink_text(void *ud, const char *t, size_t n)
{
    sink *k = ud;
    k->calls++;
    if (n == 0 || !valid_utf8((const unsigned char *)t, n))
        k->split_char = true;
    sb_append(&k->text, t, n);
    return !(k->stop_after > 0 && k->calls >= k->stop_after);
}

static const char *sink_str(const sink *k)
{
    return k->text.data ? k->text.data : "";
}

static remote_opts opts_for(const rs_server *s)
{
    remote_opts o = remote_defaults();
    o.base_url = rs_url(s);
    o.model = "rs-model";
    o.api_key = KEY;
    o.connect_timeout_ms = 2000;
    o.first_token_timeout_ms = 3000;
    o.idle_timeout_ms = 3000;
    o.total_timeout_ms = 8000; /* nothing in this suite may take longer */
    o.backoff_base_ms = 10;
    return o;
}

static const openai_msg MSGS[] = {
    {"system", "You are a helpful support agent."},
    {"user", "Where is my order? Bestellung 42 — 注文"},
    {"assistant", "Let me check."},
    {"user", "Thanks!"},
};

/* The engine's default sampling, copied field by field as app/reply.c does. */
static openai_sampling default_sampling(void)
{
    sampler_params p = sampler_defaults();
    return (openai_sampling){.temp = p.temp, .top_k = p.top_k, .top_p = p.top_p, .min_p = p.min_p,
                             .repeat_penalty = p.repeat_penalty, .repeat_last_n = p.repeat_last_n, .seed = p.seed};
}

static remote_request request(void)
{
    remote_request rq = {.messages = MSGS, .n_messages = 4, .sampling = default_sampling()};
    return rq;
}

typedef struct {
    int rc;
    remote_result res;
    char err[512];
    sink out;
    double secs;
} run_out;

/* Start a server on steps, run remote_chat with o (base URL and key
 * filled in when NULL), stop the server after the caller's checks. */
static rs_server *start(const rs_step *steps, size_t n)
{
    char err[256];
    rs_server *s = rs_start(steps, n, err, sizeof err);
    if (!s)
        fail_msg("rs_start: %s", err);
    return s;
}

static void chat(const remote_opts *o, const remote_request *rq, const atomic_bool *cancel, run_out *r)
{
    remote_callbacks cb = {.on_text = sink_text, .ud = &r->out, .cancel = cancel};
    double t0 = util_now();
    r->err[0] = '\0';
    r->rc = remote_chat(o, rq, &cb, &r->res, r->err, sizeof r->err);
    r->secs = util_now() - t0;
}

static void run_free(run_out *r)
{
    sb_free(&r->out.text);
}

/* The first n_chars characters of s. */
static char *prefix_chars(const char *s, size_t n_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (size_t c = 0; c < n_chars && p[i]; c++)
        i += p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
    return xstrndup(s, i);
}

static size_t count_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* What the server streams before its half-way point (delta_chars per delta). */
static char *first_half(const char *reply, int delta_chars)
{
    size_t chars = count_chars(reply);
    size_t n_deltas = (chars + (size_t)delta_chars - 1) / (size_t)delta_chars;
    size_t half = n_deltas / 2 ? n_deltas / 2 : 1;
    return prefix_chars(reply, half * (size_t)delta_chars);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not in '%s'", needle, hay);
}

/* A good stream's figures. */
static void assert_good_stream(const run_out *r, const char *reply)
{
    if (r->rc != 0)
        fail_msg("remote_chat failed: %s", r->err);
    assert_int_equal(r->res.outcome, REMOTE_OK);
    assert_string_equal(sink_str(&r->out), reply);
    assert_int_equal(r->out.text.len, strlen(reply));
    assert_int_equal(r->res.text_bytes, strlen(reply));
    assert_false(r->out.split_char);
    assert_int_equal(r->res.attempts, 1);
    assert_int_equal(r->res.http_status, 200);
    assert_string_equal(r->res.finish_reason, "stop");
    assert_string_equal(r->res.model, "rs-model");
    assert_true(r->res.ttft_ms > 0);
    assert_true(r->res.latency_ms >= r->res.ttft_ms);
    assert_true(r->res.decode_ms >= 0);
    assert_true(r->res.latency_ms >= r->res.ttft_ms + r->res.decode_ms - 1e-6);
}

/* ---- Streams -------------------------------------------------------------------- */

static void test_stream_odd_chunks_with_usage(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 3, .usage = true, .prompt_tokens = 57,
                  .completion_tokens = 41};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_good_stream(&r, REPLY);
    assert_true(r.out.calls > 10); /* streamed, not delivered at the end */
    assert_int_equal(r.res.prompt_tokens, 57);
    assert_int_equal(r.res.completion_tokens, 41);
    assert_true(r.res.decode_ms > 0);
    double want = 40.0 / (r.res.decode_ms / 1000.0);
    assert_true(fabs(r.res.decode_tps - want) < 1e-6 * want);
    assert_int_equal(rs_count(s), 1);
    rs_stop(s);
    run_free(&r);
}

static void test_stream_one_byte_crlf_comments_multiline(void **state)
{
    (void)state;
    /* Every byte its own write: each split point of the stream is seen. */
    rs_step st = {.kind = RS_STREAM, .reply = SHORT, .delta_chars = 1, .chunk = 1, .pause_us = 10, .crlf = true,
                  .comments = true,
                  .multiline = true};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_good_stream(&r, SHORT);
    assert_int_equal(r.out.calls, (int)count_chars(SHORT)); /* one delta each */
    assert_int_equal(r.res.prompt_tokens, -1); /* no usage: unknown, never guessed */
    assert_int_equal(r.res.completion_tokens, -1);
    assert_true(r.res.decode_tps < 0);
    rs_stop(s);
    run_free(&r);
}

static void test_stream_lf_escapes_multiline(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 5, .chunk = 7, .ascii = true,
                  .multiline = true, .comments = true, .usage = true, .prompt_tokens = 3, .completion_tokens = 2};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_good_stream(&r, REPLY);
    assert_int_equal(r.res.completion_tokens, 2);
    rs_stop(s);
    run_free(&r);
}

static void test_stream_close_delimited_no_done(void **state)
{
    (void)state;
    /* Ends after finish_reason and usage, without [DONE], by closing. */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 6, .close_delimited = true, .no_done = true,
                  .usage = true,
                  .prompt_tokens = 9, .completion_tokens = 1};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_good_stream(&r, REPLY);
    assert_int_equal(r.res.completion_tokens, 1);
    assert_true(r.res.decode_tps < 0); /* one token: nothing after the first to time */
    rs_stop(s);
    run_free(&r);
}

static void test_non_streamed_answer(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 200,
                  .body = "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"big\",\"choices\":[{\"index\":0,"
                          "\"message\":{\"role\":\"assistant\",\"content\":\"Whole reply \\ud83d\\ude42\"},"
                          "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4}}"};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(sink_str(&r.out), "Whole reply 🙂");
    assert_string_equal(r.res.finish_reason, "length");
    assert_string_equal(r.res.model, "big");
    assert_int_equal(r.res.prompt_tokens, 5);
    assert_int_equal(r.res.completion_tokens, 4);
    rs_stop(s);
    run_free(&r);
}

static void test_web_page_is_not_a_stream(void **state)
{
    (void)state;
    /* The URL of a web UI instead of its /v1 API. */
    rs_step st = {.kind = RS_STATUS, .status = 200, .content_type = "text/html; charset=utf-8",
                  .body = "<!doctype html>\n<html><title>Chat UI</title></html>"};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 1);
    char want[200];
    snprintf(want, sizeof want, "%s answered with a web page, not an event stream: <!doctype html> <html><title>",
             rs_url(s));
    assert_true(strncmp(r.err, want, strlen(want)) == 0);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(&st, 1);
    strbuf url = {0};
    sb_printf(&url, "%s/", rs_url(s)); /* a trailing slash is fine */
    remote_opts o = opts_for(s);
    o.base_url = url.data;

    /* 1: top_k and min_p on, no penalty, no seed; a limit and stops. */
    remote_request rq = request();
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
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    run_free(&r);

    /* 2: top_k and min_p off, a penalty, a seed, no model, no key. */
    remote_request rq2 = request();
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
    chat(&o2, &rq2, NULL, &r2);
    assert_int_equal(r2.rc, 0);
    run_free(&r2);

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
    size_t n_deltas = (count_chars(SHORT) + 3) / 4;
    assert_true(n_deltas + 3 <= n_lp);
    n_lp = n_deltas + 3;
    double sum = 0, min = 0;
    for (size_t i = 0; i < n_lp; i++) {
        sum += lp[i];
        min = i == 0 || lp[i] < min ? lp[i] : min;
    }
    rs_step st = {.kind = RS_STREAM, .reply = SHORT, .delta_chars = 4, .logprobs = lp, .n_logprobs = n_lp};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_good_stream(&r, SHORT);
    assert_int_equal(r.res.n_logprob, (int)n_lp);
    assert_true(fabs(r.res.logprob_sum - sum) < 1e-9);
    assert_true(r.res.logprob_min == min);
    /* the request asked for them */
    json_t *b = body_of(s, 0);
    assert_true(json_is_true(json_object_get(b, "logprobs")));
    json_decref(b);
    rs_stop(s);
    run_free(&r);

    /* none sent ("logprobs" absent): none counted */
    rs_step plain = {.kind = RS_STREAM, .reply = SHORT};
    s = start(&plain, 1);
    o = opts_for(s);
    run_out r2 = {0};
    chat(&o, &rq, NULL, &r2);
    assert_good_stream(&r2, SHORT);
    assert_int_equal(r2.res.n_logprob, 0);
    assert_true(r2.res.logprob_sum == 0 && r2.res.logprob_min == 0);
    rs_stop(s);
    run_free(&r2);
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
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(sink_str(&r.out), "Hi there");
    assert_int_equal(r.res.n_logprob, 3);
    assert_true(r.res.logprob_sum == -2.75);
    assert_true(r.res.logprob_min == -2.5);
    rs_stop(s);
    run_free(&r);

    rs_step bad = {.kind = RS_STREAM, .reply = SHORT,
                   .mid_event = "{\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":{\"content\":"
                                "[{\"logprob\":-1},{\"logprob\":\"-2\"}]}}]}"};
    s = start(&bad, 1);
    o = opts_for(s);
    run_out r2 = {0};
    chat(&o, &rq, NULL, &r2);
    assert_int_equal(r2.res.outcome, REMOTE_ERROR);
    assert_contains(r2.err, "choices[0].logprobs.content[1].logprob is not a number");
    rs_stop(s);
    run_free(&r2);
}

/* ---- Timeouts -------------------------------------------------------------------- */

static void test_stall_before_first_token(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_before_ms = STALL_MS};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    o.first_token_timeout_ms = 300;
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
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
    run_free(&r);
}

static void test_stall_before_first_token_keepalives(void **state)
{
    (void)state;
    /* Keep-alives every 50 ms do not extend the first-token deadline. */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_before_ms = STALL_MS, .keepalive_ms = 50};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    o.first_token_timeout_ms = 300;
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_contains(r.err, "first-token timeout");
    assert_int_equal(r.out.text.len, 0);
    assert_true(r.secs >= 0.29);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    rs_stop(s);
    run_free(&r);
}

static void test_stall_mid_stream(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 2, .stall_mid_ms = STALL_MS};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    o.idle_timeout_ms = 300;
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_string_equal(r.err, "the server went silent for 300 ms mid-reply (idle timeout)");
    char *half = first_half(REPLY, 2);
    assert_string_equal(sink_str(&r.out), half); /* the partial text stays delivered */
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
    run_free(&r);
}

static void test_keepalives_then_total_timeout(void **state)
{
    (void)state;
    /* A stalled stream that keeps sending keep-alives is alive for the idle
     * timeout (300 ms) but not past the total (800 ms). */
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .stall_mid_ms = STALL_MS, .keepalive_ms = 50};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    o.idle_timeout_ms = 300;
    o.total_timeout_ms = 800;
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_TIMEOUT);
    assert_string_equal(r.err, "the reply took longer than 800 ms (total timeout)");
    /* The total timeout (message), not the idle one, ended it: keep-alives
     * kept the stream alive past 300 ms without text; 800 ms cannot pass
     * sooner. */
    assert_true(r.secs >= 0.79);
    assert_true(r.secs < WELL_BEFORE_STALL_S);
    assert_true(r.out.text.len > 0);
    rs_stop(s);
    run_free(&r);
}

/* ---- Broken streams -------------------------------------------------------------- */

static void close_mid(bool close_delimited)
{
    rs_step st = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 4, .close_mid = true,
                  .close_delimited = close_delimited};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    char *half = first_half(REPLY, 4);
    assert_string_equal(sink_str(&r.out), half);
    char want[128];
    snprintf(want, sizeof want, "the server closed the connection mid-reply (after %zu bytes of text)", strlen(half));
    assert_string_equal(r.err, want);
    assert_int_equal(r.res.attempts, 1); /* never retried after a token */
    assert_int_equal(rs_count(s), 1);
    assert_true(r.res.ttft_ms > 0);
    free(half);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_true(strncmp(r.err, "the server sent invalid JSON: ", 30) == 0);
    assert_contains(r.err, "in event: {\"choices\":[{\"delta\"");
    char *half = first_half(REPLY, 2);
    assert_string_equal(sink_str(&r.out), half);
    assert_int_equal(r.res.attempts, 1);
    free(half);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_true(strncmp(r.err, "the server sent invalid JSON: ", 30) == 0);
    assert_null(strstr(r.err, "sk-t")); /* KEY's first 4 bytes */
    rs_stop(s);
    run_free(&r);
    sb_free(&ev);
}

static void test_error_event_mid_stream(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STREAM, .reply = REPLY,
                  .mid_event = "{\"error\":{\"message\":\"out of memory\\nwhile decoding\",\"type\":\"server_error\"}}"};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_string_equal(r.err, "the server reported an error: out of memory while decoding");
    assert_int_equal(r.res.attempts, 1);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(st, 2);
    remote_opts o = opts_for(s); /* back-off base 10 ms: only Retry-After makes it wait 1 s */
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(sink_str(&r.out), REPLY);
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
    run_free(&r);
}

static void test_500_every_attempt(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 500, .body = "{\"error\":{\"message\":\"model exploded\"}}"};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
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
    run_free(&r);
}

static void test_401_error_body_key_redacted(void **state)
{
    (void)state;
    rs_step st = {.kind = RS_STATUS, .status = 401,
                  .body = "{\"error\":{\"message\":\"Incorrect API key provided: " KEY ".\",\"code\":\"invalid_api_key\"}}"};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
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
    run_free(&r);
}

static void test_plain_text_error_cut(void **state)
{
    (void)state;
    strbuf body = {0};
    sb_puts(&body, "upstream\r\nunavailable:\t");
    for (int i = 0; i < 100; i++)
        sb_puts(&body, "ünïcode ");
    rs_step st = {.kind = RS_STATUS, .status = 503, .content_type = "text/plain", .body = body.data};
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    o.retries = 0;
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 1);
    assert_contains(r.err, "answered HTTP 503: upstream unavailable: ünïcode ünïcode");
    assert_true(strlen(r.err) < 400);
    assert_true(strlen(r.err) > 3 && strcmp(r.err + strlen(r.err) - 3, "...") == 0);
    assert_null(strpbrk(r.err, "\r\n\t"));
    assert_true(valid_utf8((const unsigned char *)r.err, strlen(r.err)));
    rs_stop(s);
    run_free(&r);
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
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_ERROR);
    assert_int_equal(r.res.attempts, 3);
    assert_int_equal(r.res.http_status, 0);
    char want[160];
    snprintf(want, sizeof want, "cannot connect to %s: Connection refused (3 attempts)", url);
    assert_string_equal(r.err, want);
    /* back-off 20 then 40 ms, each jittered into [1/2, 1], was waited; the
     * three attempts fitted in the 5 s total timeout (no upper bound on time) */
    assert_true(r.secs >= 0.029);
    run_free(&r);
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
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
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
    run_free(&r);
}

static void test_hangup_retried(void **state)
{
    (void)state;
    rs_step st[] = {{.kind = RS_HANGUP}, {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 8}};
    rs_server *s = start(st, 2);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(sink_str(&r.out), REPLY);
    assert_int_equal(r.res.attempts, 2);
    assert_int_equal(rs_count(s), 2);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(st, n);
    remote_opts o = opts_for(s);
    /* Only the cancel (or the end of the STALL_MS stall or wait) can end
     * the call early: no timeout of ours comes first. */
    o.first_token_timeout_ms = o.idle_timeout_ms = o.total_timeout_ms = 2 * STALL_MS;
    remote_request rq = request();
    atomic_bool cancel = false;
    canceller c = {.flag = &cancel, .after_ms = 150};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, cancel_later, &c), 0);
    run_out r = {0};
    chat(&o, &rq, &cancel, &r);
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
    run_free(&r);
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
    rs_server *s = start(&st, 1);
    remote_opts o = opts_for(s);
    remote_request rq = request();
    run_out r = {0};
    r.out.stop_after = 2;
    chat(&o, &rq, NULL, &r);
    assert_int_equal(r.res.outcome, REMOTE_CANCELLED);
    assert_string_equal(r.err, "stopped by the caller");
    assert_int_equal(r.out.calls, 2);
    char *want = prefix_chars(REPLY, 6);
    assert_string_equal(sink_str(&r.out), want);
    assert_int_equal(r.res.text_bytes, strlen(want));
    free(want);
    rs_stop(s);
    run_free(&r);
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
    rs_server *s = start(st, 3);
    remote_opts o = opts_for(s);
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
    remote_request rq = request();
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
    assert_contains(err, "cannot use ftp://127.0.0.1/v1");

    o.base_url = "http://user:hunter2@127.0.0.1:1/v1";
    o.retries = 0;
    assert_int_equal(remote_chat(&o, &rq, NULL, &res, err, sizeof err), -1);
    assert_null(strstr(err, "hunter2"));
    assert_contains(err, "cannot connect to http://127.0.0.1:1/v1: ");

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
        cmocka_unit_test(test_stream_odd_chunks_with_usage),
        cmocka_unit_test(test_stream_one_byte_crlf_comments_multiline),
        cmocka_unit_test(test_stream_lf_escapes_multiline),
        cmocka_unit_test(test_stream_close_delimited_no_done),
        cmocka_unit_test(test_non_streamed_answer),
        cmocka_unit_test(test_stream_logprobs),
        cmocka_unit_test(test_answer_logprobs),
        cmocka_unit_test(test_web_page_is_not_a_stream),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_stall_before_first_token),
        cmocka_unit_test(test_stall_before_first_token_keepalives),
        cmocka_unit_test(test_stall_mid_stream),
        cmocka_unit_test(test_keepalives_then_total_timeout),
        cmocka_unit_test(test_close_mid_stream_chunked),
        cmocka_unit_test(test_close_mid_stream_close_delimited),
        cmocka_unit_test(test_invalid_json_event),
        cmocka_unit_test(test_invalid_json_key_at_cut),
        cmocka_unit_test(test_error_event_mid_stream),
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
