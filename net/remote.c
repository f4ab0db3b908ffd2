/*
 * remote.c — an OpenAI-compatible server as a backend (see remote.h for
 * the retry policy and the timeouts).
 *
 * One call = one or more attempts; one attempt = one curl easy handle on
 * a private multi handle, driven by a loop that polls at most POLL_MS at a
 * time and checks cancellation and our deadlines between polls.  Bytes
 * arrive in on_write: an event stream goes through the event reader
 * (sse.h: sse_feed → on_event → take_chunk, which reads the JSON with
 * openai.h); any other body (an error, a JSON answer, the model list) is
 * collected, capped, and read once the transfer ends.  Whatever stops a transfer early ([DONE], a bad
 * event, on_text saying stop, cancel) makes on_write return 0, which
 * libcurl turns into CURLE_WRITE_ERROR; the attempt's own flags say why.
 *
 * This file does not build prompts (the server applies its own template),
 * count tokens, or keep connections between calls; the JSON it sends and
 * reads is openai.c's, the event framing sse.c's.
 */
#include "net/remote.h"

#include "net/openai.h"
#include "net/remote_text.h"
#include "net/sse.h"
#include "util/alloc.h"
#include "util/util.h"

#include <curl/curl.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define POLL_MS 20                    /* longest wait between checks        */
#define EVENT_MAX ((size_t)1 << 20)   /* one event's data (and one line)     */
#define ERRBODY_MAX ((size_t)64 << 10) /* kept of an error body             */
#define BODY_MAX ((size_t)16 << 20)   /* a JSON answer or model list         */

/* ---- libcurl, once ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Defaults and names ------------------------------------------------------ */

remote_opts remote_defaults(void)
{
    return (remote_opts){
        .connect_timeout_ms = 5000,
        .first_token_timeout_ms = 60000,
        .idle_timeout_ms = 30000,
        .total_timeout_ms = 300000,
        .retries = 2,
        .backoff_base_ms = 250,
        .retry_after_max_ms = 30000,
    };
}

const char *remote_outcome_name(remote_outcome o)
{
    switch (o) {
    case REMOTE_OK: return "ok";
    case REMOTE_ERROR: return "error";
    case REMOTE_TIMEOUT: return "timeout";
    case REMOTE_CANCELLED: return "cancelled";
    }
    return "?";
}

/* ---- One call's state -------------------------------------------------------- */

typedef enum { MODE_CHAT, MODE_GET } xfer_mode;

/* How an attempt ended. */
typedef enum {
    END_OK,
    END_ERROR,       /* final                                              */
    END_RETRY,       /* connection failure, 429, 5xx: may be retried       */
    END_CONNECT_TIMEOUT, /* may be retried; a timeout if it is the last    */
    END_TIMEOUT,     /* first token, idle or total                         */
    END_CANCELLED,
} attempt_end;

typedef struct {
    /* The call. */
    xfer_mode mode;
    const remote_opts *o;
    const remote_callbacks *cb;
    remote_result *res;
    char *shown_url;    /* base URL for messages                         */
    double t_call, deadline; /* deadline: the total timeout, 0 = none     */
    bool got_text;      /* content reached on_text (any attempt)         */
    double t_first, t_last; /* first and last content byte               */
    uint64_t rng;       /* back-off jitter                               */

    /* The attempt. */
    CURL *h;
    char curl_err[CURL_ERROR_SIZE];
    double t_attempt, t_rx; /* start, last byte received                 */
    bool body_started, body_is_sse;
    char content_type[64];
    long retry_after_s; /* -1: none                                      */
    sse_reader sse;     /* an event stream's lines and events            */
    strbuf body;        /* any other body (capped)                       */
    bool done;          /* "[DONE]"                                      */
    bool saw_finish;    /* a finish_reason                               */
    bool stopped;       /* on_text returned false                        */
    bool cancelled;
    bool failed;        /* msg says why                                  */
    bool timed_out;     /* msg says which                                */
    strbuf msg;
} xfer;

static bool cancel_requested(const xfer *x)
{
    return x->cb && x->cb->cancel && atomic_load(x->cb->cancel);
}

static void fail(xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(xfer *x, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_clear(&x->msg);
    sb_puts(&x->msg, buf);
    x->failed = true;
}

/* ---- Reading events ---------------------------------------------------------- */

static bool deliver(xfer *x, const char *text, size_t len)
{
    if (len == 0)
        return true;
    double now = util_now();
    if (!x->got_text)
        x->t_first = now;
    x->got_text = true;
    x->t_last = now;
    x->res->text_bytes += len;
    if (x->cb && x->cb->on_text && !x->cb->on_text(x->cb->ud, text, len)) {
        x->stopped = true;
        return false;
    }
    return true;
}

/* One chat.completion.chunk (stream: an event, `where` "event") or
 * chat.completion (!stream: the body, "answer"): what it says goes into
 * the result, its text to on_text.  False stops the transfer (an error,
 * or on_text said stop). */
static bool take_chunk(xfer *x, const char *json, size_t n, bool stream, const char *where)
{
    openai_chunk c;
    char why[256];
    openai_status st = openai_chunk_parse(json, n, stream, &c, why, sizeof why);
    if (st == OPENAI_BAD_JSON) {
        /* The key redacted before the quote is cut, so that no part of it
         * is shown (a cut through it would leave a prefix no later
         * redaction finds). */
        strbuf raw = {0}, sb = {0};
        sb_append(&raw, json, n);
        remote_redact(&raw, 0, x->o->api_key);
        sb_printf(&sb, "the server sent invalid JSON: %s in %s: ", why, where);
        remote_put_server_text(&sb, raw.data, raw.len < 120 ? raw.len : 120, x->o->api_key);
        sb_free(&raw);
        fail(x, "%s", sb.data);
        sb_free(&sb);
        openai_chunk_free(&c);
        return false;
    }
    if (st == OPENAI_SERVER_ERROR) {
        strbuf sb = {0};
        sb_puts(&sb, "the server reported an error: ");
        remote_put_error_body(&sb, c.error, strlen(c.error), x->o->api_key);
        fail(x, "%s", sb.data);
        sb_free(&sb);
        openai_chunk_free(&c);
        return false;
    }
    /* What was read before a bad field counts, as it would have. */
    if (c.model && !x->res->model[0])
        snprintf(x->res->model, sizeof x->res->model, "%s", c.model);
    if (c.prompt_tokens >= 0)
        x->res->prompt_tokens = c.prompt_tokens;
    if (c.completion_tokens >= 0)
        x->res->completion_tokens = c.completion_tokens;
    if (c.finish_reason)
        snprintf(x->res->finish_reason, sizeof x->res->finish_reason, "%s", c.finish_reason);
    if (c.n_logprob > 0) {
        remote_result *r = x->res;
        if (r->n_logprob == 0 || c.logprob_min < r->logprob_min)
            r->logprob_min = c.logprob_min;
        r->logprob_sum += c.logprob_sum;
        r->n_logprob += c.n_logprob;
    }
    if (st != OPENAI_OK) {
        fail(x, "the server sent an unexpected answer: %s", why);
        openai_chunk_free(&c);
        return false;
    }
    bool ok = !c.content || deliver(x, c.content, c.content_len);
    /* After the text: a finish_reason in the same chunk ends the reply. */
    if (ok && c.finish_reason)
        x->saw_finish = true;
    openai_chunk_free(&c);
    return ok;
}

/* A dispatched event's data (sse_event_fn). */
static bool on_event(void *ud, const char *d, size_t n)
{
    xfer *x = ud;
    if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
        x->done = true;
        return false;
    }
    size_t i = 0;
    while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n'))
        i++;
    if (i == n)
        return true; /* an empty event: nothing to say */
    return take_chunk(x, d, n, true, "event");
}

/* Stream bytes, split anywhere. */
static bool sse_take(xfer *x, const char *p, size_t n)
{
    switch (sse_feed(&x->sse, p, n, on_event, x)) {
    case SSE_OK: return true;
    case SSE_STOPPED: return false; /* on_event set the reason */
    case SSE_EVENT_TOO_LARGE: fail(x, "the server sent an event larger than %zu bytes", EVENT_MAX); return false;
    case SSE_LINE_TOO_LONG: fail(x, "the server sent a line longer than %zu bytes", EVENT_MAX); return false;
    case SSE_NO_MEMORY: fail(x, "out of memory reading the server's stream (an event of up to %zu bytes)", EVENT_MAX); return false;
    }
    return false;
}

/* ---- libcurl callbacks ---------------------------------------------------------- */

static bool header_is(const char *h, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    if (n <= nl || h[nl] != ':' || strncasecmp(h, name, nl) != 0)
        return false;
    const char *v = h + nl + 1, *end = h + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *val = v;
    *vlen = (size_t)(end - v);
    return true;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    const char *v;
    size_t vl;
    x->t_rx = util_now();
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new response (after 1xx) */
        x->content_type[0] = '\0';
        x->retry_after_s = -1;
    } else if (header_is(p, n, "content-type", &v, &vl)) {
        snprintf(x->content_type, sizeof x->content_type, "%.*s", (int)(vl < 63 ? vl : 63), v);
    } else if (header_is(p, n, "retry-after", &v, &vl)) {
        /* delta-seconds only; an HTTP date leaves the back-off alone */
        long s = 0;
        size_t i = 0;
        for (; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
            s = s < 1000000 ? s * 10 + (v[i] - '0') : s;
        if (i > 0 && i == vl)
            x->retry_after_s = s;
    }
    return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    x->t_rx = util_now();
    if (cancel_requested(x)) {
        x->cancelled = true;
        return 0;
    }
    if (!x->body_started) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->body_started = true;
        /* JSON is a whole answer; a web page is a wrong URL; anything
         * else (text/event-stream, or no type at all) is read as events. */
        x->body_is_sse = x->mode == MODE_CHAT && status >= 200 && status < 300 &&
                         strncasecmp(x->content_type, "application/json", 16) != 0 &&
                         strncasecmp(x->content_type, "text/html", 9) != 0;
    }
    if (x->body_is_sse)
        return sse_take(x, p, n) ? n : 0;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    bool good = status >= 200 && status < 300;
    size_t cap = good ? BODY_MAX : ERRBODY_MAX;
    if (n > cap - x->body.len) {
        if (good) {
            fail(x, "the server's answer is larger than %zu bytes", BODY_MAX);
        } else {
            sb_append(&x->body, p, cap - x->body.len);
            /* enough to quote: stop reading */
        }
        return 0;
    }
    if (!try_sb_append(&x->body, p, n)) {
        fail(x, "out of memory reading the server's answer at %zu bytes", x->body.len + n);
        return 0;
    }
    return n;
}

/* ---- One attempt ------------------------------------------------------------- */

static void attempt_reset(xfer *x)
{
    x->curl_err[0] = '\0';
    x->body_started = x->body_is_sse = false;
    x->content_type[0] = '\0';
    x->retry_after_s = -1;
    sse_clear(&x->sse);
    sb_clear(&x->body);
    x->done = x->saw_finish = x->stopped = x->cancelled = x->failed = x->timed_out = false;
    sb_clear(&x->msg);
    x->res->prompt_tokens = x->res->completion_tokens = -1;
    x->res->finish_reason[0] = '\0';
    x->res->http_status = 0;
    x->res->logprob_sum = x->res->logprob_min = 0;
    x->res->n_logprob = 0;
}

static void msgf(xfer *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msgf(xfer *x, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sb_puts(&x->msg, buf);
}

/* Check cancel and the deadlines; true (with the reason set) to stop. */
static bool must_stop(xfer *x, double now)
{
    const remote_opts *o = x->o;
    if (cancel_requested(x)) {
        x->cancelled = true;
        return true;
    }
    if (x->deadline > 0 && now >= x->deadline) {
        sb_clear(&x->msg);
        msgf(x, "the reply took longer than %ld ms (total timeout)", o->total_timeout_ms);
        x->timed_out = true;
        return true;
    }
    /* The first milestone: content on an event stream, any byte otherwise. */
    bool begun = x->body_is_sse ? x->got_text : x->body_started;
    if (!begun && o->first_token_timeout_ms > 0 && (now - x->t_attempt) * 1000.0 >= (double)o->first_token_timeout_ms) {
        sb_clear(&x->msg);
        msgf(x, "no reply within %ld ms (first-token timeout)", o->first_token_timeout_ms);
        x->timed_out = true;
        return true;
    }
    if (begun && o->idle_timeout_ms > 0 && (now - x->t_rx) * 1000.0 >= (double)o->idle_timeout_ms) {
        sb_clear(&x->msg);
        msgf(x, "the server went silent for %ld ms mid-reply (idle timeout)", o->idle_timeout_ms);
        x->timed_out = true;
        return true;
    }
    return false;
}

static bool is_tls_failure(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
           rc == CURLE_SSL_CRL_BADFILE || rc == CURLE_SSL_INVALIDCERTSTATUS;
}

/* Why the connection failed, in words. */
static void put_conn_reason(xfer *x, CURLcode rc, long os_errno)
{
    char buf[128];
    if (rc == CURLE_GOT_NOTHING)
        msgf(x, "the server closed the connection without answering");
    else if (os_errno != 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR))
        msgf(x, "%s", strerror_r((int)os_errno, buf, sizeof buf)); /* GNU's: returns the text */
    else if (x->curl_err[0])
        msgf(x, "%s", x->curl_err);
    else
        msgf(x, "%s", curl_easy_strerror(rc));
}

static attempt_end attempt_finish(xfer *x, CURLcode rc)
{
    long status = 0, os_errno = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->h, CURLINFO_OS_ERRNO, &os_errno);
    x->res->http_status = status;

    if (x->cancelled) {
        sb_clear(&x->msg);
        msgf(x, "cancelled");
        return END_CANCELLED;
    }
    if (x->stopped) {
        sb_clear(&x->msg);
        msgf(x, "stopped by the caller");
        return END_CANCELLED;
    }
    if (x->timed_out)
        return END_TIMEOUT;
    if (x->failed)
        return END_ERROR;
    if (x->done)
        return END_OK;

    if (status == 0) { /* no response at all */
        sb_clear(&x->msg);
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            msgf(x, "cannot connect to %s: no connection within %ld ms (connect timeout)", x->shown_url,
                 x->o->connect_timeout_ms);
            return END_CONNECT_TIMEOUT;
        }
        if (is_tls_failure(rc)) {
            msgf(x, "cannot connect to %s: TLS certificate verification failed: ", x->shown_url);
            put_conn_reason(x, rc, 0);
            return END_ERROR;
        }
        if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT) {
            msgf(x, "cannot use %s: ", x->shown_url);
            put_conn_reason(x, rc, 0);
            return END_ERROR;
        }
        msgf(x, "cannot connect to %s: ", x->shown_url);
        put_conn_reason(x, rc, os_errno);
        return END_RETRY;
    }

    if (status < 200 || status >= 300) {
        sb_clear(&x->msg);
        msgf(x, "%s answered HTTP %ld: ", x->shown_url, status);
        remote_put_error_body(&x->msg, x->body.data ? x->body.data : "", x->body.len, x->o->api_key);
        return status == 429 || status >= 500 ? END_RETRY : END_ERROR;
    }

    if (!x->body_is_sse) { /* the model list, or a chat answer that is not a stream */
        if (rc != CURLE_OK) {
            sb_clear(&x->msg);
            msgf(x, "the connection to %s broke during the answer: ", x->shown_url);
            put_conn_reason(x, rc, os_errno);
            return END_RETRY;
        }
        if (x->mode == MODE_GET)
            return END_OK; /* read by the caller */
        if (strncasecmp(x->content_type, "text/html", 9) == 0) {
            sb_clear(&x->msg);
            msgf(x, "%s answered with a web page, not an event stream: ", x->shown_url);
            remote_put_server_text(&x->msg, x->body.data ? x->body.data : "", x->body.len, x->o->api_key);
            return END_ERROR;
        }
        bool ok = take_chunk(x, x->body.data ? x->body.data : "", x->body.len, false, "answer");
        if (x->stopped) {
            sb_clear(&x->msg);
            msgf(x, "stopped by the caller");
            return END_CANCELLED;
        }
        return ok ? END_OK : END_ERROR;
    }

    /* An event stream that ended without [DONE]. */
    if (x->saw_finish)
        return END_OK;
    sb_clear(&x->msg);
    if (x->got_text) {
        msgf(x, "the server closed the connection mid-reply (after %zu bytes of text)", x->res->text_bytes);
        return END_ERROR;
    }
    msgf(x, "the server closed the connection before replying");
    if (rc != CURLE_OK) {
        msgf(x, ": ");
        put_conn_reason(x, rc, os_errno);
    }
    return END_RETRY;
}

static attempt_end run_attempt(xfer *x, const char *url, struct curl_slist *hdrs, const char *post, size_t post_len)
{
    attempt_reset(x);
    x->t_attempt = x->t_rx = util_now();
    x->h = curl_easy_init();
    CURLM *m = curl_multi_init();
    if (!x->h || !m) {
        curl_easy_cleanup(x->h);
        curl_multi_cleanup(m);
        x->h = NULL;
        sb_clear(&x->msg);
        msgf(x, "cannot start a transfer (libcurl)");
        return END_ERROR;
    }
    CURL *h = x->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "frontdesk");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    long connect_ms = x->o->connect_timeout_ms > 0 ? x->o->connect_timeout_ms : 0;
    if (x->deadline > 0) { /* also bound the connection by what is left */
        long left = (long)((x->deadline - x->t_attempt) * 1000.0) + 1;
        if (connect_ms == 0 || left < connect_ms)
            connect_ms = left > 1 ? left : 1;
        /* Our loop enforces the total; libcurl's own limit is a backstop. */
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left + 2000);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    if (post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len);
    }
    curl_multi_add_handle(m, h);

    CURLcode rc = CURLE_OK;
    bool finished = false;
    for (;;) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc != CURLM_OK) {
            sb_clear(&x->msg);
            msgf(x, "libcurl: %s", curl_multi_strerror(mc));
            x->failed = true;
            break;
        }
        int left;
        CURLMsg *cm;
        while ((cm = curl_multi_info_read(m, &left)))
            if (cm->msg == CURLMSG_DONE && cm->easy_handle == h) {
                rc = cm->data.result;
                finished = true;
            }
        if (finished || !running)
            break;
        if (must_stop(x, util_now()))
            break;
        mc = curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
        if (mc != CURLM_OK) {
            sb_clear(&x->msg);
            msgf(x, "libcurl: %s", curl_multi_strerror(mc));
            x->failed = true;
            break;
        }
    }
    attempt_end end = attempt_finish(x, rc);
    curl_multi_remove_handle(m, h);
    curl_easy_cleanup(h);
    curl_multi_cleanup(m);
    x->h = NULL;
    return end;
}

/* ---- Attempts ------------------------------------------------------------------ */

static uint64_t next_rand(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The wait before retry n (1-based), in ms. */
static double backoff_ms(xfer *x, int n)
{
    double d = (double)(x->o->backoff_base_ms > 0 ? x->o->backoff_base_ms : 0);
    for (int i = 1; i < n && d < 3600e3; i++)
        d *= 2;
    double u = (double)(next_rand(&x->rng) >> 11) / 9007199254740992.0; /* [0, 1) */
    d = d * (0.5 + 0.5 * u);
    if (x->retry_after_s >= 0 && (x->res->http_status == 429 || x->res->http_status >= 500)) {
        double ra = (double)x->retry_after_s * 1000.0;
        if (x->o->retry_after_max_ms >= 0 && ra > (double)x->o->retry_after_max_ms)
            ra = (double)x->o->retry_after_max_ms;
        if (ra > d)
            d = ra;
    }
    return d;
}

/* Sleep ms, waking every POLL_MS for cancel; false when cancelled. */
static bool wait_ms(xfer *x, double ms)
{
    double until = util_now() + ms / 1000.0;
    for (;;) {
        if (cancel_requested(x))
            return false;
        double left = until - util_now();
        if (left <= 0)
            return true;
        double step = left < POLL_MS / 1000.0 ? left : POLL_MS / 1000.0;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(step * 1e9)};
        nanosleep(&ts, NULL);
    }
}

/* Attempts until one succeeds, fails for good, or the retries run out. */
static attempt_end run_attempts(xfer *x, const char *url, struct curl_slist *hdrs, const char *post, size_t post_len)
{
    for (;;) {
        x->res->attempts++;
        attempt_end end = run_attempt(x, url, hdrs, post, post_len);
        if (end != END_RETRY && end != END_CONNECT_TIMEOUT)
            return end;
        if (x->got_text || x->res->attempts > x->o->retries)
            return end;
        double wait = backoff_ms(x, x->res->attempts);
        if (x->deadline > 0 && util_now() + wait / 1000.0 >= x->deadline)
            return end; /* no time left for another try */
        if (!wait_ms(x, wait)) {
            sb_clear(&x->msg);
            msgf(x, "cancelled");
            return END_CANCELLED;
        }
    }
}

/* ---- Calls --------------------------------------------------------------------- */

static void result_init(remote_result *r)
{
    *r = (remote_result){
        .outcome = REMOTE_ERROR,
        .prompt_tokens = -1,
        .completion_tokens = -1,
        .ttft_ms = -1,
        .decode_ms = -1,
        .latency_ms = 0,
        .decode_tps = -1,
    };
}

/* Wipe and free the header list (one line holds the key). */
static void headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(h);
}

/* Checks shared by both calls; builds {base}{path}, the headers and the
 * call state.  -1 with a message on bad options. */
static int call_begin(xfer *x, xfer_mode mode, const remote_opts *o, const remote_callbacks *cb, remote_result *res,
                      const char *path, char **url, struct curl_slist **hdrs, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    sse_init(&x->sse, EVENT_MAX);
    x->mode = mode;
    x->o = o;
    x->cb = cb;
    x->res = res;
    x->t_call = util_now();
    *url = NULL;
    *hdrs = NULL;
    if (!o || !o->base_url || !*o->base_url) {
        util_errf(err, errlen, "no backend URL given");
        return -1;
    }
    if (strpbrk(o->base_url, "\r\n") || (o->api_key && strpbrk(o->api_key, "\r\n"))) {
        util_errf(err, errlen, "the backend URL or API key contains a line break");
        return -1;
    }
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        util_errf(err, errlen, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
        return -1;
    }
    x->shown_url = remote_url_for_display(o->base_url);
    size_t bl = strlen(o->base_url);
    while (bl > 0 && o->base_url[bl - 1] == '/')
        bl--;
    strbuf u = {0};
    sb_append(&u, o->base_url, bl);
    sb_puts(&u, path);
    *url = u.data;
    if (o->total_timeout_ms > 0)
        x->deadline = x->t_call + (double)o->total_timeout_ms / 1000.0;
    x->rng = (uint64_t)(x->t_call * 1e9) ^ (uint64_t)(uintptr_t)x;

    struct curl_slist *h = NULL, *t;
    const char *fixed[] = {mode == MODE_CHAT ? "Content-Type: application/json" : NULL,
                           mode == MODE_CHAT ? "Accept: text/event-stream" : "Accept: application/json",
                           "Expect:"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
        if (!fixed[i])
            continue;
        if (!(t = curl_slist_append(h, fixed[i])))
            goto oom;
        h = t;
    }
    if (o->api_key && *o->api_key) {
        strbuf a = {0};
        sb_printf(&a, "Authorization: Bearer %s", o->api_key);
        t = curl_slist_append(h, a.data);
        memset(a.data, 0, a.len);
        sb_free(&a);
        if (!t)
            goto oom;
        h = t;
    }
    *hdrs = h;
    return 0;
oom:
    headers_free(h);
    util_errf(err, errlen, "out of memory building the request headers");
    return -1;
}

static void call_end(xfer *x, char *url, struct curl_slist *hdrs)
{
    free(url);
    headers_free(hdrs);
    free(x->shown_url);
    sse_free(&x->sse);
    sb_free(&x->body);
    sb_free(&x->msg);
}

/* Copy the message out (the key redacted once more, whatever its path). */
static void put_err(xfer *x, char *err, size_t errlen)
{
    if (!x->msg.data)
        sb_puts(&x->msg, "unknown failure");
    if (x->res->attempts > 1)
        sb_printf(&x->msg, " (%d attempts)", x->res->attempts);
    remote_redact(&x->msg, 0, x->o->api_key);
    util_errf(err, errlen, "%s", x->msg.data);
}

int remote_chat(const remote_opts *o, const remote_request *rq, const remote_callbacks *cb, remote_result *res,
                char *err, size_t errlen)
{
    remote_result dummy;
    if (!res)
        res = &dummy;
    result_init(res);
    if (err && errlen)
        err[0] = '\0';
    xfer x;
    char *url;
    struct curl_slist *hdrs;
    if (call_begin(&x, MODE_CHAT, o, cb, res, "/chat/completions", &url, &hdrs, err, errlen) != 0) {
        call_end(&x, url, hdrs);
        return -1;
    }
    if (!rq || (rq->n_messages > 0 && !rq->messages) || (rq->n_stops > 0 && !rq->stops)) {
        util_errf(err, errlen, "no request given");
        call_end(&x, url, hdrs);
        return -1;
    }
    char *body = openai_request_json(o->model, rq, err, errlen);
    if (!body) {
        call_end(&x, url, hdrs);
        return -1;
    }

    attempt_end end = run_attempts(&x, url, hdrs, body, strlen(body));
    free(body);

    double now = util_now();
    res->latency_ms = (now - x.t_call) * 1000.0;
    if (x.got_text) {
        res->ttft_ms = (x.t_first - x.t_call) * 1000.0;
        res->decode_ms = (x.t_last - x.t_first) * 1000.0;
        if (res->completion_tokens >= 2 && res->decode_ms > 0)
            res->decode_tps = (res->completion_tokens - 1) / (res->decode_ms / 1000.0);
    }
    switch (end) {
    case END_OK: res->outcome = REMOTE_OK; break;
    case END_TIMEOUT:
    case END_CONNECT_TIMEOUT: res->outcome = REMOTE_TIMEOUT; break;
    case END_CANCELLED: res->outcome = REMOTE_CANCELLED; break;
    default: res->outcome = REMOTE_ERROR; break;
    }
    if (end != END_OK)
        put_err(&x, err, errlen);
    call_end(&x, url, hdrs);
    return end == END_OK ? 0 : -1;
}

/* ---- Models -------------------------------------------------------------------- */

void remote_models_free(char **names, size_t n)
{
    openai_models_free(names, n);
}

int remote_models(const remote_opts *o, char ***names, size_t *n, char *err, size_t errlen)
{
    *names = NULL;
    *n = 0;
    remote_result res;
    result_init(&res);
    xfer x;
    char *url;
    struct curl_slist *hdrs;
    if (call_begin(&x, MODE_GET, o, NULL, &res, "/models", &url, &hdrs, err, errlen) != 0) {
        call_end(&x, url, hdrs);
        return -1;
    }
    attempt_end end = run_attempts(&x, url, hdrs, NULL, 0);
    int rc = -1;
    if (end == END_OK)
        rc = openai_models_parse(x.body.data ? x.body.data : "", x.body.len, names, n, err, errlen) == OPENAI_OK
                 ? 0
                 : -1;
    else
        put_err(&x, err, errlen);
    call_end(&x, url, hdrs);
    return rc;
}
