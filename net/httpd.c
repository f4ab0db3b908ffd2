/*
 * httpd.c — the HTTP transport of `frontdesk serve` over libmicrohttpd
 * (see httpd.h for the interface).
 *
 * libmicrohttpd (MHD) parses HTTP; this file adapts its callbacks:
 *
 *   on_request      MHD's access handler.  Called first when the headers
 *                   are in (we allocate the httpd_req, and answer 413 at
 *                   once when Content-Length is over the limit), then once
 *                   per piece of body (collected, or dropped past the
 *                   limit), then a last time with no data: the user's
 *                   handler runs there, on the connection's thread.
 *   on_completed    MHD_OPTION_NOTIFY_COMPLETED: the request ended, and
 *                   whether the response reached the socket in full.
 *   stream_read     the content reader of a streamed response: wraps the
 *                   user's pull, which may return 0 ("nothing yet"); MHD
 *                   would spin on a reader returning 0 in thread-per-
 *                   connection mode, so the loop is ours, and it checks
 *                   between pulls whether the client went away.
 *   stream_free     the streamed response was destroyed.
 *
 * The idle timeout is for clients that say nothing: MHD would also count
 * the time our handler or pull spends, so queueing a response (MHD does
 * it) and every piece a pull hands over (touch_connection) restart it.
 *
 * A request is freed when both on_completed and (for a stream) stream_free
 * have let go of it; whichever is last calls the user's done callback,
 * so done comes exactly once and last, whatever ended the request.
 *
 * We bind the listening socket ourselves (MHD_OPTION_LISTEN_SOCKET), so an
 * address in use or a bad address is reported in words; MHD closes it when
 * stopped, unless it was quiesced, in which case it is ours to close after
 * MHD_stop_daemon.  MHD's own log is off (no MHD_USE_ERROR_LOG): this file
 * prints nothing.  MHD sends with MSG_NOSIGNAL on Linux
 * (MHD_FEATURE_AUTOSUPPRESS_SIGPIPE), so a client that hangs up raises no
 * SIGPIPE.
 *
 * The body grows with what the client sends, so it is allocated fallibly
 * (util/alloc.h): out of memory drops it and answers 503 (the handler is
 * not called); everything else here is small and fixed (x*alloc).
 *
 * Not here: routing, JSON beyond the fixed error bodies, TLS.
 */
#include "net/httpd.h"

#include "util/alloc.h"
#include "util/util.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_IDLE_TIMEOUT_S 30u
#define DEFAULT_MAX_CONNECTIONS 256u
#define STREAM_BLOCK ((size_t)16 << 10) /* bytes asked of pull at most */
#define LISTEN_BACKLOG 128

struct httpd {
    struct MHD_Daemon *daemon;
    httpd_handler handler;
    void *ud;
    size_t max_body;
    unsigned idle_timeout_s;
    int port;
    int quiesced_fd; /* the listening socket after httpd_quiesce, else -1 */
};

struct httpd_req {
    httpd *server;
    struct MHD_Connection *conn;
    char *method, *path; /* copies: still valid in the done callback */
    strbuf body;
    bool too_large;  /* the body passed max_body: 413 */
    bool no_memory;  /* the body did not fit in memory: 503 */
    size_t body_seen; /* bytes of body received, kept or not */
    bool answered;   /* httpd_respond or httpd_respond_stream was called */
    bool queued;     /* ... and MHD took the response */
    bool completed;  /* on_completed said COMPLETED_OK */
    atomic_int refs; /* MHD's (until on_completed) + the stream's (until stream_free) */
    /* A streamed response (pull != NULL). */
    httpd_pull pull;
    httpd_done done;
    void *stream_ud;
};

/* ---- Requests: lifetime ------------------------------------------------------- */

static httpd_req *req_new(httpd *s, struct MHD_Connection *conn, const char *method, const char *path)
{
    httpd_req *r = xcalloc(1, sizeof *r);
    r->server = s;
    r->conn = conn;
    r->method = xstrdup(method);
    r->path = xstrdup(path);
    atomic_init(&r->refs, 1);
    return r;
}

/* Let go of r; the last one out tells the stream's owner and frees. */
static void req_release(httpd_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->done)
        r->done(r->stream_ud, r->completed);
    sb_free(&r->body);
    free(r->method);
    free(r->path);
    free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    httpd_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    r->completed = why == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    req_release(r);
}

/* ---- Requests: what the handler reads ------------------------------------------ */

const char *httpd_method(const httpd_req *r)
{
    return r->method;
}

const char *httpd_path(const httpd_req *r)
{
    return r->path;
}

const char *httpd_header(const httpd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_body(const httpd_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

bool httpd_client_gone(const httpd_req *r)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return true;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        return true;
    if (!(p.revents & POLLIN))
        return false;
    char c;
    ssize_t got = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (got == 0)
        return true; /* orderly shutdown by the client */
    return got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

/* ---- Responses ------------------------------------------------------------------ */

/* Content-Type and the NULL-terminated name, value pairs; a header MHD
 * refuses (one it sets itself, or with a line break) is left out. */
static void add_headers(struct MHD_Response *resp, const char *content_type, const char *const *headers)
{
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        MHD_add_response_header(resp, headers[i], headers[i + 1]);
}

void httpd_respond(httpd_req *r, int status, const char *content_type, const char *body, size_t len,
                   const char *const *headers)
{
    if (r->answered)
        return; /* a second answer: the first one stands */
    r->answered = true;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return; /* out of memory in MHD: the handler's return answers 500 or closes */
    add_headers(resp, content_type, headers);
    r->queued = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp); /* the connection keeps its own reference */
}

/* Restart the connection's idle clock.  MHD counts the time spent in
 * stream_read as idleness and, once a reader returns, closes a connection
 * idle longer than the timeout before sending what it got: a pull that
 * waited long for its first token would be cut off.  MHD has no call for
 * this, but setting a timeout when the current one is 0 restarts the
 * clock, hence the two calls. */
static void touch_connection(httpd_req *r)
{
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, r->server->idle_timeout_s);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    httpd_req *r = cls;
    for (;;) {
        ssize_t n = r->pull(r->stream_ud, buf, max);
        if (n > 0 && (size_t)n <= max) {
            touch_connection(r);
            return n;
        }
        if (n == HTTPD_PULL_END) {
            touch_connection(r);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (n != 0 || httpd_client_gone(r)) /* abort, more than max, or nobody listening */
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

static void stream_free(void *cls)
{
    req_release(cls);
}

void httpd_respond_stream(httpd_req *r, int status, const char *content_type, const char *const *headers,
                          httpd_pull pull, httpd_done done, void *ud)
{
    if (r->answered) { /* a second answer: refused, but done still comes */
        if (done)
            done(ud, false);
        return;
    }
    r->answered = true;
    r->pull = pull;
    r->done = done;
    r->stream_ud = ud;
    atomic_fetch_add(&r->refs, 1); /* released by stream_free */
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, r, stream_free);
    if (!resp) {
        req_release(r); /* done comes when the request ends */
        return;
    }
    add_headers(resp, content_type, headers);
    r->queued = MHD_queue_response(r->conn, (unsigned)status, resp) == MHD_YES;
    MHD_destroy_response(resp); /* a refused one is freed here: stream_free */
}

/* An error answer in the OpenAI shape; message holds no characters that
 * JSON would need escaped. */
static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, const char *type,
                                     const char *code, const char *message)
{
    strbuf b = {0};
    sb_printf(&b, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"param\":null,\"code\":", message, type);
    if (code)
        sb_printf(&b, "\"%s\"}}", code);
    else
        sb_puts(&b, "null}}");
    struct MHD_Response *resp = MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY);
    sb_free(&b);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result respond_too_large(httpd_req *r)
{
    char msg[96];
    snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", r->server->max_body);
    return respond_error(r->conn, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", "request_too_large", msg);
}

/* ---- The access handler ---------------------------------------------------------- */

/* The length a Content-Length header announces (ULLONG_MAX when it does
 * not fit), or 0 when there is none (or MHD's to reject). */
static unsigned long long announced_length(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || *v < '0' || *v > '9')
        return 0;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return errno == ERANGE ? ULLONG_MAX : n;
}

/* A piece of the body: kept while under the limit, dropped past it (MHD
 * accepts no response in the middle of an upload, so the 413 waits for
 * the last call). */
static void take_body(httpd_req *r, const char *data, size_t n)
{
    r->body_seen += n;
    if (r->too_large || r->no_memory)
        return;
    if (n > r->server->max_body - r->body.len) {
        r->too_large = true;
        sb_free(&r->body);
        return;
    }
    if (!try_sb_append(&r->body, data, n)) {
        r->no_memory = true;
        sb_free(&r->body);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    httpd *s = cls;
    httpd_req *r = *con_cls;
    if (!r) { /* headers in, body (if any) not yet read */
        r = req_new(s, conn, method, url);
        *con_cls = r;
        unsigned long long announced = announced_length(conn);
        if (announced > s->max_body) {
            r->too_large = true;
            r->answered = true;
            return respond_too_large(r); /* MHD then skips the body and closes */
        }
        /* the announced body in one allocation, however it arrives */
        if (announced > 0 && !try_sb_reserve(&r->body, (size_t)announced))
            r->no_memory = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        take_body(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large) {
        r->answered = true;
        return respond_too_large(r);
    }
    if (r->no_memory) {
        char msg[96];
        snprintf(msg, sizeof msg, "out of memory reading a request body of %zu bytes", r->body_seen);
        r->answered = true;
        return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", "out_of_memory", msg);
    }
    s->handler(s->ud, r);
    if (!r->answered)
        return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", NULL,
                             "the server did not answer this request");
    /* An answer MHD refused (out of memory; called from another thread):
     * returning MHD_YES with no response would have MHD call us again and
     * again, so the connection is closed instead. */
    return r->queued ? MHD_YES : MHD_NO;
}

/* ---- The server ------------------------------------------------------------------ */

/* A listening TCP socket bound to host:port, or -1 with a message. */
static int listen_on(const char *host, int port, bool *ipv6, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sslen = sizeof *in4;
        *ipv6 = false;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *in6;
        *ipv6 = true;
    } else {
        util_errf(err, errlen, "'%s' is not a numeric IPv4 or IPv6 address (host names are not looked up)",
                  host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        util_errf(err, errlen, "cannot create a socket for %s: %s", host, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (*ipv6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        util_errf(err, errlen, "cannot listen on %s port %d: %s", host, port, strerror(e));
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

httpd *httpd_start(const httpd_opts *o, httpd_handler h, void *ud, char *err, size_t errlen)
{
    httpd_opts opts = o ? *o : (httpd_opts){0};
    const char *host = opts.host ? opts.host : DEFAULT_HOST;
    if (opts.port < 0 || opts.port > 65535) {
        util_errf(err, errlen, "port %d is out of range (0 to 65535)", opts.port);
        return NULL;
    }
    bool ipv6;
    int fd = listen_on(host, opts.port, &ipv6, err, errlen);
    if (fd < 0)
        return NULL;

    httpd *s = xcalloc(1, sizeof *s);
    s->handler = h;
    s->ud = ud;
    s->max_body = opts.max_body ? opts.max_body : DEFAULT_MAX_BODY;
    s->idle_timeout_s = opts.idle_timeout_s ? opts.idle_timeout_s : DEFAULT_IDLE_TIMEOUT_S;
    s->port = bound_port(fd);
    s->quiesced_fd = -1;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ITC /* for MHD_quiesce_daemon */ | (ipv6 ? MHD_USE_IPv6 : 0);
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_CONNECTION_TIMEOUT, s->idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, opts.max_connections ? opts.max_connections : DEFAULT_MAX_CONNECTIONS,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)s, MHD_OPTION_END);
    if (!s->daemon || s->port < 0) {
        util_errf(err, errlen, "libmicrohttpd could not start serving on %s port %d", host, opts.port);
        if (s->daemon)
            MHD_stop_daemon(s->daemon);
        else
            close(fd);
        free(s);
        return NULL;
    }
    return s;
}

int httpd_port(const httpd *s)
{
    return s->port;
}

void httpd_quiesce(httpd *s)
{
    if (!s || s->quiesced_fd >= 0)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd == MHD_INVALID_SOCKET)
        return;
    /* MHD no longer accepts, but the kernel would go on queueing clients
     * that nobody serves: shutting the listening socket down refuses them
     * at once, while the descriptor stays open (MHD's threads may still
     * hold it; accept then fails with EINVAL, which MHD ignores). */
    shutdown(fd, SHUT_RDWR);
    s->quiesced_fd = fd;
}

void httpd_stop(httpd *s)
{
    if (!s)
        return;
    /* Shuts every connection's socket down (so httpd_client_gone turns
     * true in stream_read) and joins the connection threads. */
    MHD_stop_daemon(s->daemon);
    if (s->quiesced_fd >= 0)
        close(s->quiesced_fd);
    free(s);
}
