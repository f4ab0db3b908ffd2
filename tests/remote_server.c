/*
 * remote_server.c — see remote_server.h.
 *
 * Plain sockets and one pthread.  The reply stream is first built whole
 * (bytes plus "marks": places to stall or hang up), then written in
 * pieces that never cross a mark.  Events are made with jansson so their
 * JSON is right by construction; only mid_event is sent verbatim.
 */
#include "tests/remote_server.h"

#include "util/util.h"

#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RS_MAX_REQUESTS 64
#define RS_HEAD_MAX (64 << 10)
#define RS_BODY_MAX (4 << 20)

struct rs_server {
    int listen_fd;
    int stop_pipe[2]; /* written by rs_stop: wakes every wait */
    pthread_t thread;
    bool started;
    rs_step *steps;
    size_t n_steps;
    int port;
    char url[64];
    pthread_mutex_t mu;
    rs_request reqs[RS_MAX_REQUESTS];
    atomic_size_t n_reqs;
    size_t n_conns;
};

/* ---- Waiting ------------------------------------------------------------------ */

static bool stopping(rs_server *s)
{
    struct pollfd p = {.fd = s->stop_pipe[0], .events = POLLIN};
    return poll(&p, 1, 0) > 0;
}

/* Wait up to ms for fd (or -1: just sleep) to be ready; false when stopping. */
static bool wait_for(rs_server *s, int fd, short events, int ms)
{
    struct pollfd p[2] = {{.fd = s->stop_pipe[0], .events = POLLIN}, {.fd = fd, .events = events}};
    for (;;) {
        int r = poll(p, fd >= 0 ? 2 : 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0 && p[0].revents)
            return false;
        return true;
    }
}

static bool sleep_ms(rs_server *s, int ms)
{
    return ms <= 0 || wait_for(s, -1, 0, ms);
}

static void pause_us(int us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static bool send_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

/* ---- Requests ------------------------------------------------------------------ */

static char *header_value(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l; l = strstr(l, "\r\n")) {
        l += 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            const char *e = strstr(v, "\r\n");
            return xstrndup(v, e ? (size_t)(e - v) : strlen(v));
        }
    }
    return NULL;
}

/* Read and record one request; false when the client went away or sent
 * something unreadable. */
static bool read_request(rs_server *s, int fd)
{
    strbuf in = {0};
    char *end = NULL;
    while (!end) {
        if (!wait_for(s, fd, POLLIN, 5000))
            goto bad;
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            goto bad;
        sb_append(&in, buf, (size_t)r);
        end = strstr(in.data, "\r\n\r\n");
        if (!end && in.len > RS_HEAD_MAX)
            goto bad;
    }
    size_t head_len = (size_t)(end - in.data) + 4;
    char *head = xstrndup(in.data, head_len);
    char *cl = header_value(head, "Content-Length");
    size_t want = cl ? strtoul(cl, NULL, 10) : 0;
    free(cl);
    if (want > RS_BODY_MAX) {
        free(head);
        goto bad;
    }
    while (in.len - head_len < want) {
        if (!wait_for(s, fd, POLLIN, 5000)) {
            free(head);
            goto bad;
        }
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) {
            free(head);
            goto bad;
        }
        sb_append(&in, buf, (size_t)r);
    }

    pthread_mutex_lock(&s->mu);
    size_t i = atomic_load(&s->n_reqs);
    if (i < RS_MAX_REQUESTS) {
        rs_request *q = &s->reqs[i];
        sscanf(head, "%15s %255s", q->method, q->path);
        q->authorization = header_value(head, "Authorization");
        q->body = xstrndup(in.data + head_len, want);
        q->body_len = want;
        atomic_store(&s->n_reqs, i + 1);
    }
    pthread_mutex_unlock(&s->mu);
    free(head);
    sb_free(&in);
    return true;
bad:
    sb_free(&in);
    return false;
}

/* ---- Building the stream -------------------------------------------------------- */

typedef enum { MARK_STALL, MARK_CLOSE } mark_kind;

typedef struct {
    size_t at;
    mark_kind kind;
    int ms;
} mark;

typedef struct {
    const rs_step *st;
    strbuf out;
    mark marks[4];
    size_t n_marks;
    int n_events;
} stream;

static const char *eol(const stream *s)
{
    return s->st->crlf ? "\r\n" : "\n";
}

/* Append one event whose data is `data` (split into data: lines at '\n'). */
static void put_event_text(stream *s, const char *data)
{
    const rs_step *st = s->st;
    int k = s->n_events++;
    if (st->comments) {
        sb_printf(&s->out, ": keep-alive %d%s", k, eol(s));
        if (k % 3 == 0)
            sb_printf(&s->out, "event: message%s", eol(s));
        if (k % 3 == 1)
            sb_printf(&s->out, "id: %d%s", k, eol(s));
        if (k % 5 == 2)
            sb_printf(&s->out, "retry: 1000%s", eol(s));
    }
    const char *prefix = st->comments && k % 2 ? "data:" : "data: ";
    for (const char *l = data;;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        sb_puts(&s->out, prefix);
        sb_append(&s->out, l, len);
        sb_puts(&s->out, eol(s));
        if (!nl)
            break;
        l = nl + 1;
    }
    sb_puts(&s->out, eol(s));
}

static void put_event(stream *s, json_t *ev)
{
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    if (s->st->ascii)
        flags |= JSON_ENSURE_ASCII;
    if (s->st->multiline)
        flags = (flags & ~(size_t)JSON_COMPACT) | JSON_INDENT(1);
    char *text = json_dumps(ev, flags);
    put_event_text(s, text);
    free(text);
    json_decref(ev);
}

static json_t *chunk_event(json_t *delta, const char *finish)
{
    return json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:o, s:o}]}", "id", "chatcmpl-rs", "object",
                     "chat.completion.chunk", "created", 0, "model", "rs-model", "choices", "index", 0, "delta",
                     delta, "finish_reason", finish ? json_string(finish) : json_null());
}

/* The chunk with choices[0].logprobs: {"content": [entries for
 * logprobs[from..to)]}, or null when the range is empty. */
static json_t *with_logprobs(json_t *ev, const rs_step *st, size_t from, size_t to)
{
    json_t *ch = json_array_get(json_object_get(ev, "choices"), 0);
    if (from >= to || !st->logprobs) {
        json_object_set_new(ch, "logprobs", json_null());
        return ev;
    }
    json_t *content = json_array();
    for (size_t i = from; i < to; i++)
        json_array_append_new(content, json_pack("{s:s, s:f, s:[], s:[]}", "token", "t", "logprob",
                                                 st->logprobs[i], "bytes", "top_logprobs"));
    json_object_set_new(ch, "logprobs", json_pack("{s:o, s:n}", "content", content, "refusal"));
    return ev;
}

static void add_mark(stream *s, mark_kind kind, int ms)
{
    if (s->n_marks < sizeof s->marks / sizeof *s->marks)
        s->marks[s->n_marks++] = (mark){s->out.len, kind, ms};
}

/* Length of the UTF-8 character starting at p (1 for a stray byte). */
static size_t char_len(const unsigned char *p)
{
    if (*p >= 0xf0) return 4;
    if (*p >= 0xe0) return 3;
    if (*p >= 0xc0) return 2;
    return 1;
}

static void build_stream(stream *s)
{
    const rs_step *st = s->st;
    json_t *role = json_pack("{s:s, s:s}", "role", "assistant", "content", "");
    put_event(s, chunk_event(role, NULL));
    if (st->stall_before_ms > 0)
        add_mark(s, MARK_STALL, st->stall_before_ms);

    /* Deltas of delta_chars characters. */
    const char *r = st->reply ? st->reply : "";
    int per = st->delta_chars > 0 ? st->delta_chars : 2;
    size_t n_deltas = 0;
    for (const char *p = r; *p;) {
        for (int c = 0; c < per && *p; c++)
            p += char_len((const unsigned char *)p);
        n_deltas++;
    }
    size_t half = n_deltas / 2 ? n_deltas / 2 : 1, k = 0;
    for (const char *p = r; *p;) {
        const char *start = p;
        for (int c = 0; c < per && *p; c++)
            p += char_len((const unsigned char *)p);
        json_t *d = json_object();
        json_object_set_new(d, "content", json_stringn(start, (size_t)(p - start)));
        json_t *ev = chunk_event(d, NULL);
        put_event(s, st->n_logprobs ? with_logprobs(ev, st, k, k < st->n_logprobs ? k + 1 : k) : ev);
        if (++k == half) {
            if (st->mid_event) {
                put_event_text(s, st->mid_event);
            }
            if (st->stall_mid_ms > 0)
                add_mark(s, MARK_STALL, st->stall_mid_ms);
            if (st->close_mid) {
                add_mark(s, MARK_CLOSE, 0);
                return;
            }
        }
    }
    json_t *fin = chunk_event(json_object(), "stop");
    put_event(s, st->n_logprobs ? with_logprobs(fin, st, k, st->n_logprobs > k ? st->n_logprobs : k) : fin);
    if (st->usage)
        put_event(s, json_pack("{s:s, s:s, s:i, s:s, s:[], s:{s:i, s:i, s:i}}", "id", "chatcmpl-rs", "object",
                               "chat.completion.chunk", "created", 0, "model", "rs-model", "choices", "usage",
                               "prompt_tokens", st->prompt_tokens, "completion_tokens", st->completion_tokens,
                               "total_tokens", st->prompt_tokens + st->completion_tokens));
    if (!st->no_done)
        put_event_text(s, "[DONE]");
}

/* ---- Answering ------------------------------------------------------------------ */

static bool send_piece(int fd, const rs_step *st, const char *p, size_t n)
{
    if (st->close_delimited)
        return send_all(fd, p, n);
    char head[32];
    int hl = snprintf(head, sizeof head, "%zx\r\n", n);
    strbuf sb = {0};
    sb_append(&sb, head, (size_t)hl);
    sb_append(&sb, p, n);
    sb_puts(&sb, "\r\n");
    bool ok = send_all(fd, sb.data, sb.len);
    sb_free(&sb);
    return ok;
}

static bool stall(rs_server *s, int fd, const rs_step *st, int ms)
{
    if (st->keepalive_ms <= 0)
        return sleep_ms(s, ms);
    for (int t = 0; t < ms; t += st->keepalive_ms) {
        if (!sleep_ms(s, st->keepalive_ms < ms - t ? st->keepalive_ms : ms - t))
            return false;
        const char *ka = st->crlf ? ": keep-alive\r\n\r\n" : ": keep-alive\n\n";
        if (!send_piece(fd, st, ka, strlen(ka)))
            return false;
    }
    return true;
}

static void answer_stream(rs_server *s, int fd, const rs_step *st)
{
    char head[256];
    snprintf(head, sizeof head,
             "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
             "Connection: close\r\n%s\r\n",
             st->close_delimited ? "" : "Transfer-Encoding: chunked\r\n");
    if (!send_all(fd, head, strlen(head)))
        return;
    stream sm = {.st = st};
    build_stream(&sm);
    static const int odd[] = {1, 2, 3, 5, 8, 13, 1, 4, 7, 11};
    int pause = st->pause_us == 0 ? 50 : st->pause_us;
    size_t pos = 0, m = 0, turn = 0;
    bool ok = true, closed = false;
    while (ok && !closed && (pos < sm.out.len || m < sm.n_marks)) {
        if (m < sm.n_marks && pos == sm.marks[m].at) {
            if (sm.marks[m].kind == MARK_CLOSE)
                closed = true;
            else
                ok = stall(s, fd, st, sm.marks[m].ms);
            m++;
            continue;
        }
        size_t size = st->chunk > 0 ? (size_t)st->chunk : (size_t)odd[turn++ % (sizeof odd / sizeof *odd)];
        size_t end = pos + size < sm.out.len ? pos + size : sm.out.len;
        if (m < sm.n_marks && end > sm.marks[m].at)
            end = sm.marks[m].at;
        ok = send_piece(fd, st, sm.out.data + pos, end - pos) && !stopping(s);
        pos = end;
        pause_us(pause);
    }
    if (ok && !closed && !st->close_delimited)
        send_all(fd, "0\r\n\r\n", 5);
    sb_free(&sm.out);
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void answer_status(int fd, const rs_step *st)
{
    const char *body = st->body ? st->body : "";
    strbuf sb = {0};
    sb_printf(&sb, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n", st->status,
              reason(st->status), st->content_type ? st->content_type : "application/json", strlen(body));
    if (st->retry_after > 0)
        sb_printf(&sb, "Retry-After: %d\r\n", st->retry_after);
    sb_puts(&sb, "\r\n");
    sb_puts(&sb, body);
    send_all(fd, sb.data, sb.len);
    sb_free(&sb);
}

static void *serve(void *arg)
{
    rs_server *s = arg;
    for (;;) {
        if (!wait_for(s, s->listen_fd, POLLIN, -1))
            break;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const rs_step *st = &s->steps[s->n_conns < s->n_steps ? s->n_conns : s->n_steps - 1];
        s->n_conns++;
        if (read_request(s, fd)) {
            if (st->kind == RS_STREAM)
                answer_stream(s, fd, st);
            else if (st->kind == RS_STATUS)
                answer_status(fd, st);
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

/* ---- Lifecycle ------------------------------------------------------------------ */

static int listen_local(int *port, int backlog, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        util_errf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        util_errf(err, errlen, "bind/listen on 127.0.0.1: %s", strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

rs_server *rs_start(const rs_step *steps, size_t n, char *err, size_t errlen)
{
    if (!steps || n == 0) {
        util_errf(err, errlen, "rs_start: no steps");
        return NULL;
    }
    rs_server *s = xcalloc(1, sizeof *s);
    s->stop_pipe[0] = s->stop_pipe[1] = -1;
    s->steps = xmallocarray(n, sizeof *steps);
    memcpy(s->steps, steps, n * sizeof *steps);
    s->n_steps = n;
    pthread_mutex_init(&s->mu, NULL);
    s->listen_fd = listen_local(&s->port, 16, err, errlen);
    if (s->listen_fd < 0 || pipe(s->stop_pipe) != 0) {
        if (s->listen_fd >= 0)
            util_errf(err, errlen, "pipe: %s", strerror(errno));
        rs_stop(s);
        return NULL;
    }
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/v1", s->port);
    if (pthread_create(&s->thread, NULL, serve, s) != 0) {
        util_errf(err, errlen, "pthread_create failed");
        rs_stop(s);
        return NULL;
    }
    s->started = true;
    return s;
}

void rs_stop(rs_server *s)
{
    if (!s)
        return;
    if (s->started) {
        if (write(s->stop_pipe[1], "x", 1) != 1)
            fprintf(stderr, "rs_stop: cannot wake the server thread\n");
        pthread_join(s->thread, NULL);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    for (int i = 0; i < 2; i++)
        if (s->stop_pipe[i] >= 0)
            close(s->stop_pipe[i]);
    size_t n = atomic_load(&s->n_reqs);
    for (size_t i = 0; i < n; i++) {
        free(s->reqs[i].authorization);
        free(s->reqs[i].body);
    }
    pthread_mutex_destroy(&s->mu);
    free(s->steps);
    free(s);
}

int rs_port(const rs_server *s)
{
    return s->port;
}

const char *rs_url(const rs_server *s)
{
    return s->url;
}

size_t rs_count(rs_server *s)
{
    return atomic_load(&s->n_reqs);
}

const rs_request *rs_get(rs_server *s, size_t i)
{
    return i < atomic_load(&s->n_reqs) ? &s->reqs[i] : NULL;
}

int rs_closed_port(void)
{
    int port = 0;
    int fd = listen_local(&port, 16, NULL, 0);
    if (fd < 0)
        return 0;
    close(fd);
    return port;
}

int rs_blackhole_open(rs_blackhole *b)
{
    b->port = 0;
    for (int i = 0; i < 3; i++)
        b->fill[i] = -1;
    b->listen_fd = listen_local(&b->port, 0, NULL, 0);
    if (b->listen_fd < 0)
        return b->port = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++) {
        b->fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (b->fill[i] >= 0 && connect(b->fill[i], (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
            close(b->fill[i]);
            b->fill[i] = -1;
        }
    }
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L}; /* let the handshakes settle */
    nanosleep(&ts, NULL);
    return b->port;
}

void rs_blackhole_close(rs_blackhole *b)
{
    if (b->port == 0 && b->listen_fd == 0)
        return; /* zeroed */
    for (int i = 0; i < 3; i++)
        if (b->fill[i] >= 0)
            close(b->fill[i]);
    if (b->listen_fd >= 0)
        close(b->listen_fd);
    b->listen_fd = -1;
    b->port = 0;
}
