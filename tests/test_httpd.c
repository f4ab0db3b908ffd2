/*
 * test_httpd.c — the HTTP transport (net/httpd.h) over real HTTP on
 * 127.0.0.1, port 0, with libcurl (and raw sockets) as the client.
 *
 *   - GET and POST echoed back: method, path without its query, body,
 *     Content-Type and extra response headers; header lookup ignores case;
 *   - a body over max_body: 413 with the OpenAI-shaped JSON and the
 *     handler never called — announced by Content-Length (small and large,
 *     where curl may wait for 100-continue) and sent chunked with no length;
 *     a body of exactly max_body passes;
 *   - a streamed response: pieces in order, chunked, piece 1 reaching the
 *     client before piece 2 is produced (the pull waits for the client to
 *     have seen it), done(true) once after it all (and the request still
 *     readable in done); 300 kB in pulls that
 *     fill all they are given arrives byte-exact;
 *   - a client that hangs up mid-stream (curl's write callback refusing,
 *     a raw socket closed): pull sees httpd_client_gone, done(false) once;
 *   - a handler that does not answer: 500; one that answers twice: the
 *     first answer stands and a refused stream's done still comes;
 *   - httpd_stop with a stream in flight, whether pull returns on a flag of
 *     its own or only keeps returning 0: stop returns and done(false) has
 *     been called by then; quiesce refuses new clients while a stream in
 *     flight goes on to its end;
 *   - a pull or a handler slower than the idle timeout is not cut off, a
 *     client that says nothing is;
 *   - 8 clients at once, each handler waiting until all 8 are in (so they
 *     really run side by side);
 *   - a malformed request line: 400 from libmicrohttpd (or, for one with
 *     no spaces at all, a hang-up), and the next request is served;
 *   - start refusing a host name, a port in use, a bad port; ::1 when the
 *     machine has IPv6.
 *
 * No sleep is an assertion and nothing asserts a duration: waits are loops
 * on conditions with generous deadlines (WAIT_S), which only a broken
 * server reaches.
 */
#include "net/httpd.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <curl/curl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define WAIT_S 20.0 /* a deadline only a broken server reaches */
#define N_CLIENTS 8
#define SMALL_MAX 64

/* ---- Shared state between the test, the handlers and the pulls ------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

typedef enum {
    STREAM_IN_ORDER, /* "one " "two " "three", piece 2 after the client saw piece 1 */
    STREAM_FOREVER,  /* "one ", then 0 until the client is gone (or stop_flag) */
    STREAM_SLOW,     /* "one " and "two", each after SLOW_S of pulls returning 0 */
    STREAM_BIG,      /* BIG_TOTAL bytes of a pattern, every pull filling all of max */
} stream_mode;

#define BIG_TOTAL 300007

/* Longer than the idle timeout of the server that streams STREAM_SLOW. */
#define SLOW_TIMEOUT_S 1
#define SLOW_S 2.5

static struct {
    int handler_calls;
    int together; /* handlers inside /together */
    /* the current stream */
    stream_mode mode;
    httpd_req *req;
    int step;
    bool client_saw_piece1;
    bool gone_seen;  /* pull saw httpd_client_gone */
    bool stop_flag;  /* the test is stopping the server: pull aborts */
    bool use_flag;   /* whether pull looks at stop_flag */
    int pulls_after_piece1;
    int done_calls;
    bool completed;
    bool pull_timed_out;
    double since; /* STREAM_SLOW: when the current wait began */
    size_t sent;  /* STREAM_BIG: bytes pulled so far */
    size_t max_seen; /* STREAM_BIG: the largest max a pull was given */
    bool done_bad_req; /* done could not read the request's method and path */
} st;

static void reset_state(stream_mode mode)
{
    pthread_mutex_lock(&mu);
    memset(&st, 0, sizeof st);
    st.mode = mode;
    pthread_mutex_unlock(&mu);
}

static void deadline_in(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)s;
    ts->tv_nsec += (long)((s - (double)(time_t)s) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Wait (mu held) until *flag or WAIT_S passed; returns *flag. */
static bool wait_flag_locked(const bool *flag)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    while (!*flag)
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
            break;
    return *flag;
}

/* Wait until done has been called at least once; returns the count. */
static int wait_done(void)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&mu);
    while (st.done_calls == 0)
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
            break;
    int n = st.done_calls;
    pthread_mutex_unlock(&mu);
    return n;
}

/* ---- The stream ---------------------------------------------------------------- */

static ssize_t put(char *buf, size_t max, const char *s)
{
    size_t n = strlen(s);
    if (n > max)
        return HTTPD_PULL_ABORT; /* (no cmocka assertion off the test's thread) */
    memcpy(buf, s, n);
    return (ssize_t)n;
}

static ssize_t pull_in_order(char *buf, size_t max)
{
    switch (st.step++) {
    case 0:
        return put(buf, max, "one ");
    case 1: { /* not before the client has seen piece 1 (at most ~100 ms per pull) */
        struct timespec ts;
        deadline_in(&ts, 0.1);
        while (!st.client_saw_piece1)
            if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
                break;
        if (!st.client_saw_piece1) {
            st.step = 1;
            if (++st.pulls_after_piece1 > (int)(WAIT_S * 10)) {
                st.pull_timed_out = true;
                return HTTPD_PULL_ABORT;
            }
            return 0;
        }
        return put(buf, max, "two ");
    }
    case 2:
        return put(buf, max, "three");
    default:
        return HTTPD_PULL_END;
    }
}

static ssize_t pull_forever(char *buf, size_t max)
{
    if (st.step++ == 0)
        return put(buf, max, "one ");
    if (st.use_flag && st.stop_flag)
        return HTTPD_PULL_ABORT;
    if (httpd_client_gone(st.req)) {
        st.gone_seen = true;
        pthread_cond_broadcast(&cv);
        return 0; /* httpd must end the stream by itself */
    }
    if (++st.pulls_after_piece1 > (int)(WAIT_S * 50)) {
        st.pull_timed_out = true;
        return HTTPD_PULL_ABORT;
    }
    /* nothing yet: wait a little, as a real pull waits for a token */
    struct timespec ts;
    deadline_in(&ts, 0.02);
    pthread_cond_timedwait(&cv, &mu, &ts);
    return 0;
}

static ssize_t pull_slow(char *buf, size_t max)
{
    if (st.step >= 2)
        return HTTPD_PULL_END;
    if (st.since == 0)
        st.since = util_now();
    if (util_now() - st.since < SLOW_S) {
        struct timespec ts;
        deadline_in(&ts, 0.1);
        pthread_cond_timedwait(&cv, &mu, &ts);
        return 0;
    }
    st.since = 0;
    return put(buf, max, st.step++ == 0 ? "one " : "two");
}

static char pattern_at(size_t i)
{
    return (char)('a' + (i * 7 + i / 26) % 26);
}

static ssize_t pull_big(char *buf, size_t max)
{
    if (st.sent == BIG_TOTAL)
        return HTTPD_PULL_END;
    if (max > st.max_seen)
        st.max_seen = max;
    size_t n = BIG_TOTAL - st.sent < max ? BIG_TOTAL - st.sent : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern_at(st.sent + i);
    st.sent += n;
    return (ssize_t)n;
}

static ssize_t test_pull(void *ud, char *buf, size_t max)
{
    if (ud != &st)
        return HTTPD_PULL_ABORT;
    pthread_mutex_lock(&mu);
    ssize_t n = st.mode == STREAM_IN_ORDER ? pull_in_order(buf, max)
                : st.mode == STREAM_SLOW   ? pull_slow(buf, max)
                : st.mode == STREAM_BIG    ? pull_big(buf, max)
                                           : pull_forever(buf, max);
    pthread_mutex_unlock(&mu);
    return n;
}

static void test_done(void *ud, bool completed)
{
    pthread_mutex_lock(&mu);
    /* the request is still readable here (serve logs it from done) */
    if (st.req && (strcmp(httpd_path(st.req), "/stream") != 0 || strlen(httpd_method(st.req)) < 3))
        st.done_bad_req = true;
    st.done_calls += ud == &st ? 1 : 1000;
    st.completed = completed;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* ---- The handler ---------------------------------------------------------------- */

static void handle_echo(httpd_req *r)
{
    size_t len;
    const char *body = httpd_body(r, &len);
    strbuf b = {0};
    sb_printf(&b, "%s %s\n", httpd_method(r), httpd_path(r));
    sb_append(&b, body, len);
    static const char *const hdrs[] = {"X-Reply", "yes", "Cache-Control", "no-store", NULL};
    httpd_respond(r, 200, "text/plain; charset=utf-8", b.data, b.len, hdrs);
    sb_free(&b);
}

static void handle_header(httpd_req *r)
{
    const char *a = httpd_header(r, "x-custom-thing");
    const char *b = httpd_header(r, "X-CUSTOM-THING");
    const char *c = httpd_header(r, "X-Absent");
    strbuf o = {0};
    sb_printf(&o, "%s|%s|%s", a ? a : "(null)", b ? b : "(null)", c ? c : "(null)");
    httpd_respond(r, 200, "text/plain", o.data, o.len, NULL);
    sb_free(&o);
}

static void handle_together(httpd_req *r)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_S);
    pthread_mutex_lock(&mu);
    st.together++;
    pthread_cond_broadcast(&cv);
    while (st.together < N_CLIENTS)
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0)
            break;
    bool all = st.together >= N_CLIENTS;
    pthread_mutex_unlock(&mu);
    const char *s = all ? "together" : "alone";
    httpd_respond(r, 200, "text/plain", s, strlen(s), NULL);
}

static void handle_stream(httpd_req *r)
{
    pthread_mutex_lock(&mu);
    st.req = r;
    pthread_mutex_unlock(&mu);
    static const char *const hdrs[] = {"Cache-Control", "no-cache", NULL};
    httpd_respond_stream(r, 200, "text/event-stream", hdrs, test_pull, test_done, &st);
}

static void handle_twice(httpd_req *r)
{
    httpd_respond(r, 201, "text/plain", "first", 5, NULL);
    httpd_respond(r, 202, "text/plain", "second", 6, NULL);
    httpd_respond_stream(r, 200, "text/plain", NULL, test_pull, test_done, &st);
}

static void test_handler(void *ud, httpd_req *r)
{
    pthread_mutex_lock(&mu);
    st.handler_calls += ud == &st ? 1 : 1000;
    pthread_mutex_unlock(&mu);
    const char *p = httpd_path(r);
    if (strcmp(p, "/echo") == 0)
        handle_echo(r);
    else if (strcmp(p, "/header") == 0)
        handle_header(r);
    else if (strcmp(p, "/together") == 0)
        handle_together(r);
    else if (strcmp(p, "/stream") == 0)
        handle_stream(r);
    else if (strcmp(p, "/twice") == 0)
        handle_twice(r);
    else if (strcmp(p, "/slow") == 0) {
        double t0 = util_now(); /* a long generation before a whole answer */
        while (util_now() - t0 < SLOW_S)
            usleep(100 * 1000);
        httpd_respond(r, 200, "text/plain", "slow", 4, NULL);
    } else if (strcmp(p, "/silent") == 0)
        return; /* answers nothing: httpd answers 500 */
    else
        httpd_respond(r, 404, "text/plain", "no such path", 12, NULL);
}

static httpd *start_server(size_t max_body)
{
    httpd_opts o = {.host = "127.0.0.1", .port = 0, .max_body = max_body};
    char err[256] = "";
    httpd *s = httpd_start(&o, test_handler, &st, err, sizeof err);
    if (!s)
        fail_msg("httpd_start: %s", err);
    assert_true(httpd_port(s) > 0);
    return s;
}

/* ---- The client ------------------------------------------------------------------ */

typedef struct {
    long status;
    strbuf body;
    strbuf headers;
    CURLcode rc;
    bool hang_up_after_piece1; /* the write callback refuses once "one " is in */
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    reply *rp = ud;
    sb_append(&rp->body, p, size * n);
    if (rp->body.data && strstr(rp->body.data, "one ")) {
        pthread_mutex_lock(&mu);
        st.client_saw_piece1 = true;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
        if (rp->hang_up_after_piece1)
            return 0;
    }
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    sb_append(&((reply *)ud)->headers, p, size * n);
    return size * n;
}

/* One request; extra is a NULL-terminated list of "Name: value" lines. */
static void http(int port, const char *method, const char *path, const char *body, size_t len,
                 const char *const *extra, reply *rp)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    struct curl_slist *h = NULL;
    for (size_t i = 0; extra && extra[i]; i++)
        h = curl_slist_append(h, extra[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, rp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, rp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(WAIT_S * 2));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)WAIT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    rp->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rp->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static const char *body_of(const reply *rp)
{
    return rp->body.data ? rp->body.data : "";
}

static void reply_free(reply *rp)
{
    sb_free(&rp->body);
    sb_free(&rp->headers);
}

/* Whether the response headers hold this line (case-insensitive name). */
static bool has_header(const reply *rp, const char *line)
{
    return rp->headers.data && strcasestr(rp->headers.data, line);
}

/* A raw connection to 127.0.0.1:port with a receive timeout. */
static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = (time_t)WAIT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void raw_send(int fd, const char *s)
{
    size_t n = strlen(s);
    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until the peer closes (or the timeout, or until stop appears). */
static char *raw_read(int fd, const char *stop)
{
    strbuf b = {0};
    char buf[4096];
    for (;;) {
        if (stop && b.data && strstr(b.data, stop))
            break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        sb_append(&b, buf, (size_t)n);
    }
    return b.data ? b.data : xstrdup("");
}

/* ---- Plain requests ------------------------------------------------------------- */

static void test_get_and_post_echo(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    reply g = {0};
    http(httpd_port(s), "GET", "/echo?q=1&x=%20y", NULL, 0, NULL, &g);
    assert_int_equal(g.rc, CURLE_OK);
    assert_int_equal(g.status, 200);
    assert_string_equal(body_of(&g), "GET /echo\n");
    assert_true(has_header(&g, "content-type: text/plain; charset=utf-8\r\n"));
    assert_true(has_header(&g, "x-reply: yes\r\n"));
    assert_true(has_header(&g, "cache-control: no-store\r\n"));

    reply p = {0};
    const char body[] = "hello\0world {\"a\":1}"; /* a NUL inside survives */
    const char *const hdrs[] = {"Content-Type: application/json", NULL};
    http(httpd_port(s), "POST", "/echo", body, sizeof body - 1, hdrs, &p);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.body.len, strlen("POST /echo\n") + sizeof body - 1);
    assert_memory_equal(p.body.data, "POST /echo\nhello\0world {\"a\":1}", p.body.len);

    reply n = {0};
    http(httpd_port(s), "GET", "/nowhere", NULL, 0, NULL, &n);
    assert_int_equal(n.status, 404);
    assert_int_equal(st.handler_calls, 3);
    reply_free(&g);
    reply_free(&p);
    reply_free(&n);
    httpd_stop(s);
}

static void test_header_case_insensitive(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    reply r = {0};
    const char *const hdrs[] = {"X-Custom-Thing: abc 123", NULL};
    http(httpd_port(s), "GET", "/header", NULL, 0, hdrs, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(body_of(&r), "abc 123|abc 123|(null)");
    reply_free(&r);
    httpd_stop(s);
}

static void test_silent_handler_gets_500(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    reply r = {0};
    http(httpd_port(s), "POST", "/silent", "x", 1, NULL, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(body_of(&r), "\"type\":\"server_error\""));
    assert_int_equal(st.handler_calls, 1);
    reply_free(&r);
    httpd_stop(s);
}

static void test_second_answer_ignored(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    reply r = {0};
    http(httpd_port(s), "GET", "/twice", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(body_of(&r), "first");
    assert_int_equal(wait_done(), 1); /* the refused stream's done */
    assert_false(st.completed);
    assert_int_equal(st.step, 0); /* never pulled */
    reply_free(&r);
    httpd_stop(s);
}

/* ---- Bodies over the limit ----------------------------------------------------------- */

static void expect_413(const char *got)
{
    char want[256];
    snprintf(want, sizeof want,
             "{\"error\":{\"message\":\"the request body is larger than %d bytes\","
             "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"request_too_large\"}}",
             SMALL_MAX);
    assert_string_equal(got, want);
}

static void test_body_too_large(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(SMALL_MAX);
    char big[SMALL_MAX + 1];
    memset(big, 'a', sizeof big);

    reply ok = {0}; /* exactly the limit */
    http(httpd_port(s), "POST", "/echo", big, SMALL_MAX, NULL, &ok);
    assert_int_equal(ok.status, 200);
    assert_int_equal(ok.body.len, strlen("POST /echo\n") + SMALL_MAX);
    assert_int_equal(st.handler_calls, 1);

    reply over = {0}; /* one byte more */
    http(httpd_port(s), "POST", "/echo", big, sizeof big, NULL, &over);
    assert_int_equal(over.status, 413);
    expect_413(body_of(&over));
    assert_true(has_header(&over, "content-type: application/json\r\n"));

    size_t hn = (size_t)1 << 20; /* far over: curl may send Expect: 100-continue */
    char *huge = xmalloc(hn);
    memset(huge, 'b', hn);
    reply far = {0};
    http(httpd_port(s), "POST", "/echo", huge, hn, NULL, &far);
    assert_int_equal(far.status, 413);
    expect_413(body_of(&far));
    free(huge);

    assert_int_equal(st.handler_calls, 1); /* neither over-limit request reached it */
    reply_free(&ok);
    reply_free(&over);
    reply_free(&far);
    httpd_stop(s);
}

static void test_chunked_upload_too_large(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(SMALL_MAX);
    int fd = raw_connect(httpd_port(s));
    raw_send(fd, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[64];
    char piece[31];
    memset(piece, 'c', 30);
    piece[30] = '\0';
    snprintf(chunk, sizeof chunk, "1e\r\n%s\r\n", piece); /* 3 x 30 bytes > 64 */
    for (int i = 0; i < 3; i++)
        raw_send(fd, chunk);
    raw_send(fd, "0\r\n\r\n");
    char *got = raw_read(fd, "}}");
    close(fd);
    assert_non_null(strstr(got, "HTTP/1.1 413"));
    const char *json = strstr(got, "\r\n\r\n");
    assert_non_null(json);
    expect_413(json + 4);
    assert_int_equal(st.handler_calls, 0);
    free(got);

    /* under the limit, chunked: collected whole */
    fd = raw_connect(httpd_port(s));
    raw_send(fd, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                 "Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    got = raw_read(fd, NULL);
    close(fd);
    assert_non_null(strstr(got, "HTTP/1.1 200"));
    assert_non_null(strstr(got, "\r\n\r\nPOST /echo\nabcde"));
    assert_int_equal(st.handler_calls, 1);
    free(got);
    httpd_stop(s);
}

/* ---- Streams --------------------------------------------------------------------- */

static void test_stream_in_order(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    reply r = {0};
    http(httpd_port(s), "POST", "/stream", "{}", 2, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(body_of(&r), "one two three");
    assert_true(has_header(&r, "transfer-encoding: chunked\r\n"));
    assert_true(has_header(&r, "content-type: text/event-stream\r\n"));
    assert_true(has_header(&r, "cache-control: no-cache\r\n"));
    assert_int_equal(wait_done(), 1);
    assert_true(st.completed);
    assert_false(st.pull_timed_out);
    assert_true(st.client_saw_piece1);
    assert_false(st.done_bad_req);
    reply_free(&r);
    httpd_stop(s);
    assert_int_equal(st.done_calls, 1); /* not again at stop */
}

static void test_stream_big_pieces(void **state)
{
    (void)state;
    reset_state(STREAM_BIG);
    httpd *s = start_server(0);
    reply r = {0};
    http(httpd_port(s), "GET", "/stream", NULL, 0, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.body.len, BIG_TOTAL);
    for (size_t i = 0; i < BIG_TOTAL; i++)
        if (r.body.data[i] != pattern_at(i))
            fail_msg("byte %zu differs", i);
    assert_true(st.max_seen > 0);
    assert_int_equal(wait_done(), 1);
    assert_true(st.completed);
    reply_free(&r);
    httpd_stop(s);
}

/* After the client hung up: pull saw it, done(false) came once. */
static void expect_gone_and_done(void)
{
    assert_int_equal(wait_done(), 1);
    assert_false(st.completed);
    pthread_mutex_lock(&mu);
    bool seen = st.gone_seen;
    pthread_mutex_unlock(&mu);
    /* the reader's own check may win the race with the pull's */
    if (!seen)
        assert_true(st.step >= 2);
    assert_false(st.pull_timed_out);
    assert_false(st.done_bad_req);
}

static void test_client_hangs_up_mid_stream(void **state)
{
    (void)state;
    reset_state(STREAM_FOREVER);
    httpd *s = start_server(0);
    reply r = {.hang_up_after_piece1 = true};
    http(httpd_port(s), "GET", "/stream", NULL, 0, NULL, &r);
    assert_int_equal(r.rc, CURLE_WRITE_ERROR);
    assert_string_equal(body_of(&r), "one ");
    expect_gone_and_done();
    reply_free(&r);
    httpd_stop(s);
    assert_int_equal(st.done_calls, 1);
}

static void test_raw_client_closes_mid_stream(void **state)
{
    (void)state;
    reset_state(STREAM_FOREVER);
    httpd *s = start_server(0);
    int fd = raw_connect(httpd_port(s));
    raw_send(fd, "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    char *got = raw_read(fd, "one ");
    assert_non_null(strstr(got, "HTTP/1.1 200"));
    assert_non_null(strstr(got, "\r\n4\r\none \r\n")); /* a chunk of 4 bytes */
    free(got);
    close(fd);
    expect_gone_and_done();
    httpd_stop(s);
}

typedef struct {
    int port;
    reply r;
} client_arg;

static void *client_thread(void *p)
{
    client_arg *a = p;
    http(a->port, "GET", "/stream", NULL, 0, NULL, &a->r);
    return NULL;
}

/* Stop the server while a stream is in flight; use_flag: pull aborts on
 * the test's flag, else it only returns 0 and the server must notice. */
static void stop_mid_stream(bool use_flag)
{
    reset_state(STREAM_FOREVER);
    st.use_flag = use_flag;
    httpd *s = start_server(0);
    client_arg a = {.port = httpd_port(s)};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &a), 0);
    pthread_mutex_lock(&mu);
    bool saw = wait_flag_locked(&st.client_saw_piece1);
    st.stop_flag = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    assert_true(saw);
    httpd_stop(s);
    assert_int_equal(st.done_calls, 1); /* by the time stop returned */
    assert_false(st.completed);
    assert_false(st.done_bad_req);
    assert_false(st.pull_timed_out);
    pthread_join(t, NULL);
    assert_int_not_equal(a.r.rc, CURLE_OK); /* the body never ended */
    assert_string_equal(body_of(&a.r), "one ");
    reply_free(&a.r);
}

static void test_stop_mid_stream_flag(void **state)
{
    (void)state;
    stop_mid_stream(true);
}

static void test_stop_mid_stream_zero_pulls(void **state)
{
    (void)state;
    stop_mid_stream(false);
}

static void test_quiesce(void **state)
{
    (void)state;
    reset_state(STREAM_FOREVER);
    st.use_flag = true;
    httpd *s = start_server(0);
    int port = httpd_port(s);
    client_arg a = {.port = port};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, client_thread, &a), 0);
    pthread_mutex_lock(&mu);
    bool saw = wait_flag_locked(&st.client_saw_piece1);
    pthread_mutex_unlock(&mu);
    assert_true(saw);

    httpd_quiesce(s);
    httpd_quiesce(s); /* twice is harmless */
    reply r = {0};
    http(port, "GET", "/echo", NULL, 0, NULL, &r);
    assert_int_equal(r.rc, CURLE_COULDNT_CONNECT);
    assert_int_equal(st.done_calls, 0); /* the stream goes on */

    pthread_mutex_lock(&mu);
    st.stop_flag = true; /* now end it (aborted: the client sees a cut body) */
    pthread_mutex_unlock(&mu);
    assert_int_equal(wait_done(), 1);
    pthread_join(t, NULL);
    assert_string_equal(body_of(&a.r), "one ");
    reply_free(&a.r);
    reply_free(&r);
    httpd_stop(s);
}

/* A handler or a pull slower than the idle timeout is not cut off: the
 * timeout is for a client that does not talk, not for our own work; a
 * client that does not talk is cut off. */
static void test_idle_timeout(void **state)
{
    (void)state;
    reset_state(STREAM_SLOW);
    httpd_opts o = {.host = "127.0.0.1", .idle_timeout_s = SLOW_TIMEOUT_S};
    char err[256] = "";
    httpd *s = httpd_start(&o, test_handler, &st, err, sizeof err);
    assert_non_null(s);

    reply r = {0};
    http(httpd_port(s), "GET", "/stream", NULL, 0, NULL, &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(body_of(&r), "one two");
    assert_int_equal(wait_done(), 1);
    assert_true(st.completed);

    reply w = {0};
    http(httpd_port(s), "GET", "/slow", NULL, 0, NULL, &w);
    assert_int_equal(w.rc, CURLE_OK);
    assert_string_equal(body_of(&w), "slow");

    int fd = raw_connect(httpd_port(s)); /* says nothing: closed by the server */
    char *got = raw_read(fd, NULL);
    assert_string_equal(got, "");
    char c;
    assert_int_equal(recv(fd, &c, 1, 0), 0); /* end of stream, not the receive timeout */
    close(fd);
    free(got);
    reply_free(&r);
    reply_free(&w);
    httpd_stop(s);
}

/* ---- Many clients, bad clients, bad options ---------------------------------------- */

typedef struct {
    int port;
    reply r;
} together_arg;

static void *together_thread(void *p)
{
    together_arg *a = p;
    http(a->port, "GET", "/together", NULL, 0, NULL, &a->r);
    return NULL;
}

static void test_concurrent_clients(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    together_arg a[N_CLIENTS];
    pthread_t t[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        a[i] = (together_arg){.port = httpd_port(s)};
        assert_int_equal(pthread_create(&t[i], NULL, together_thread, &a[i]), 0);
    }
    for (int i = 0; i < N_CLIENTS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N_CLIENTS; i++) {
        assert_int_equal(a[i].r.status, 200);
        assert_string_equal(body_of(&a[i].r), "together");
        reply_free(&a[i].r);
    }
    assert_int_equal(st.handler_calls, N_CLIENTS);
    httpd_stop(s);
}

static void test_malformed_request_line(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd *s = start_server(0);
    int fd = raw_connect(httpd_port(s));
    raw_send(fd, "GET /echo HTTP/1.1 extra\r\nHost: 127.0.0.1\r\n\r\n");
    char *got = raw_read(fd, NULL);
    close(fd);
    assert_non_null(strstr(got, "HTTP/1.1 400"));
    free(got);
    /* no spaces at all: libmicrohttpd 0.9.75 hangs up without an answer */
    fd = raw_connect(httpd_port(s));
    raw_send(fd, "GARBAGE\r\nHost: 127.0.0.1\r\n\r\n");
    got = raw_read(fd, NULL);
    close(fd);
    assert_null(strstr(got, " 200 "));
    free(got);
    assert_int_equal(st.handler_calls, 0);

    reply r = {0};
    http(httpd_port(s), "GET", "/echo", NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(body_of(&r), "GET /echo\n");
    reply_free(&r);
    httpd_stop(s);
}

static void test_start_errors(void **state)
{
    (void)state;
    char err[256] = "";
    httpd_opts o = {.host = "localhost"};
    assert_null(httpd_start(&o, test_handler, &st, err, sizeof err));
    assert_non_null(strstr(err, "'localhost' is not a numeric IPv4 or IPv6 address"));

    o = (httpd_opts){.port = 70000};
    assert_null(httpd_start(&o, test_handler, &st, err, sizeof err));
    assert_non_null(strstr(err, "port 70000 is out of range"));

    httpd *s = start_server(0); /* host NULL below: 127.0.0.1 */
    o = (httpd_opts){.port = httpd_port(s)};
    err[0] = '\0';
    assert_null(httpd_start(&o, test_handler, &st, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "cannot listen on 127.0.0.1 port %d: ", httpd_port(s));
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, strerror(EADDRINUSE)));
    httpd_stop(s);
    httpd_stop(NULL);
}

static void test_ipv6_loopback(void **state)
{
    (void)state;
    reset_state(STREAM_IN_ORDER);
    httpd_opts o = {.host = "::1"};
    char err[256] = "";
    httpd *s = httpd_start(&o, test_handler, &st, err, sizeof err);
    if (!s && (strstr(err, strerror(EAFNOSUPPORT)) || strstr(err, strerror(EADDRNOTAVAIL))))
        test_skip("no IPv6 loopback on this machine: %s", err);
    if (!s)
        fail_msg("httpd_start on ::1: %s", err);
    char url[64];
    snprintf(url, sizeof url, "http://[::1]:%d/echo", httpd_port(s));
    CURL *c = curl_easy_init();
    reply r = {0};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WAIT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    r.rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    assert_int_equal(r.rc, CURLE_OK);
    assert_string_equal(body_of(&r), "GET /echo\n");
    reply_free(&r);
    httpd_stop(s);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_post_echo),
        cmocka_unit_test(test_header_case_insensitive),
        cmocka_unit_test(test_silent_handler_gets_500),
        cmocka_unit_test(test_second_answer_ignored),
        cmocka_unit_test(test_body_too_large),
        cmocka_unit_test(test_chunked_upload_too_large),
        cmocka_unit_test(test_stream_in_order),
        cmocka_unit_test(test_stream_big_pieces),
        cmocka_unit_test(test_client_hangs_up_mid_stream),
        cmocka_unit_test(test_raw_client_closes_mid_stream),
        cmocka_unit_test(test_stop_mid_stream_flag),
        cmocka_unit_test(test_stop_mid_stream_zero_pulls),
        cmocka_unit_test(test_quiesce),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_concurrent_clients),
        cmocka_unit_test(test_malformed_request_line),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_ipv6_loopback),
    };
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return test_exit(failures);
}
