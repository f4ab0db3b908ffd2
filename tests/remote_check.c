/* remote_check.c — see remote_check.h. */
#include "tests/remote_check.h"

#include "engine/sampler.h"
#include "tests/testutil.h"

#include <string.h>

/* A stall (or Retry-After wait) that only a broken client sits out.  It costs
 * nothing when the client gives up first: rs_stop ends a stall at once. */
#define STALL_MS 30000
/* "Well before the stall would have ended": a third of it. */
#define WELL_BEFORE_STALL_S (STALL_MS / 3 / 1000.0)

/* Latin accents, CJK, emoji with a skin-tone modifier, a ZWJ sequence. */
const char *const REPLY = "Hello! Grüße aus Köln. 你好，世界。こんにちは 🙂👍🏽 "
                           "👨‍👩‍👧 done: café ñ ø ß — “quotes” and 한국어 text.\nSecond line\tend.";
/* The hard cases only, for the byte-at-a-time stream. */
const char *const SHORT = "é 你好 🙂👍🏽 👨‍👩‍👧\r\n한 ok";

bool rc_valid_utf8(const unsigned char *s, size_t n)
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

static bool sink_text(void *ud, const char *t, size_t n)
{
    sink *k = ud;
    k->calls++;
    if (n == 0 || !rc_valid_utf8((const unsigned char *)t, n))
        k->split_char = true;
    sb_append(&k->text, t, n);
    return !(k->stop_after > 0 && k->calls >= k->stop_after);
}

const char *rc_sink_str(const sink *k)
{
    return k->text.data ? k->text.data : "";
}

remote_opts rc_opts_for(const rs_server *s)
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

const openai_msg MSGS[4] = {
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

remote_request rc_request(void)
{
    remote_request rq = {.messages = MSGS, .n_messages = 4, .sampling = default_sampling()};
    return rq;
}

rs_server *rc_start(const rs_step *steps, size_t n)
{
    char err[256];
    rs_server *s = rs_start(steps, n, err, sizeof err);
    if (!s)
        fail_msg("rs_start: %s", err);
    return s;
}

void rc_chat(const remote_opts *o, const remote_request *rq, const atomic_bool *cancel, run_out *r)
{
    remote_callbacks cb = {.on_text = sink_text, .ud = &r->out, .cancel = cancel};
    double t0 = util_now();
    r->err[0] = '\0';
    r->rc = remote_chat(o, rq, &cb, &r->res, r->err, sizeof r->err);
    r->secs = util_now() - t0;
}

void rc_run_free(run_out *r)
{
    sb_free(&r->out.text);
}

/* The first n_chars characters of s. */
char *rc_prefix_chars(const char *s, size_t n_chars)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (size_t c = 0; c < n_chars && p[i]; c++)
        i += p[i] < 0x80 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
    return xstrndup(s, i);
}

size_t rc_count_chars(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

/* What the server streams before its half-way point (delta_chars per delta). */
char *rc_first_half(const char *reply, int delta_chars)
{
    size_t chars = rc_count_chars(reply);
    size_t n_deltas = (chars + (size_t)delta_chars - 1) / (size_t)delta_chars;
    size_t half = n_deltas / 2 ? n_deltas / 2 : 1;
    return rc_prefix_chars(reply, half * (size_t)delta_chars);
}

void rc_assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("'%s' not in '%s'", needle, hay);
}

/* A good stream's figures. */
void rc_assert_good_stream(const run_out *r, const char *reply)
{
    if (r->rc != 0)
        fail_msg("remote_chat failed: %s", r->err);
    assert_int_equal(r->res.outcome, REMOTE_OK);
    assert_string_equal(rc_sink_str(&r->out), reply);
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
