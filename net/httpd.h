/*
 * httpd.h — the HTTP transport of `frontdesk serve`, over libmicrohttpd.
 *
 * One thread per connection (libmicrohttpd's MHD_USE_THREAD_PER_CONNECTION
 * with its internal polling thread): the handler runs on the connection's
 * own thread with the whole request body in memory, and may block there.
 * Parsing HTTP is libmicrohttpd's; this file only adapts it: the body is
 * collected up to a limit (413 beyond it, 503 when memory runs out; the
 * handler is not called then),
 * headers are looked up case-insensitively, and a response is either whole
 * or pulled piece by piece (server-sent events) with chunked encoding.
 *
 * Every handler call must answer exactly once (httpd_respond or
 * httpd_respond_stream) before it returns; one that does not gets a 500.
 */
#ifndef FRONTDESK_HTTPD_H
#define FRONTDESK_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct httpd httpd;
typedef struct httpd_req httpd_req;

typedef struct {
    const char *host;            /* address to bind; NULL: "127.0.0.1"             */
    int port;                    /* 0: the kernel picks one (httpd_port says which) */
    size_t max_body;             /* larger bodies get 413; 0: 1 MiB                */
    unsigned idle_timeout_s;     /* a connection idle this long is closed; 0: 30   */
    unsigned max_connections;    /* 0: 256                                         */
} httpd_opts;

/* Called once per request on the connection's thread. */
typedef void (*httpd_handler)(void *ud, httpd_req *r);

/* Bind and start serving.  NULL with a message (address in use, not an
 * address, ...) when it cannot. */
httpd *httpd_start(const httpd_opts *o, httpd_handler h, void *ud, char *err, size_t errlen);
/* The port bound (the one picked when opts.port was 0). */
int httpd_port(const httpd *s);
/* Stop accepting new connections; requests already being handled go on. */
void httpd_quiesce(httpd *s);
/* Stop: close the listening socket and every connection, wait for the
 * connection threads (their pull callbacks must return), free.  NULL ok. */
void httpd_stop(httpd *s);

/* ---- A request ------------------------------------------------------------ */

const char *httpd_method(const httpd_req *r);   /* "GET", "POST", ...      */
const char *httpd_path(const httpd_req *r);     /* "/v1/models", no query  */
/* A request header's value (name case-insensitive), or NULL. */
const char *httpd_header(const httpd_req *r, const char *name);
/* The body (NUL-terminated; *len without the NUL; "" when there is none). */
const char *httpd_body(const httpd_req *r, size_t *len);
/* Whether the client has closed its side of the connection (a poll of the
 * socket for hang-up or end of stream; never blocks). */
bool httpd_client_gone(const httpd_req *r);

/* Extra response headers: name, value pairs, then NULL (the array may be
 * NULL).  Content-Type is its own argument. */

/* Answer with a whole body (copied). */
void httpd_respond(httpd_req *r, int status, const char *content_type, const char *body, size_t len,
                   const char *const *headers);

/* A body produced while it is sent.  pull is called on the connection's
 * thread after the handler returns, again and again: it writes up to max
 * bytes into buf and returns how many (> 0), HTTPD_PULL_END when the body
 * is complete, or HTTPD_PULL_ABORT to cut the connection.  It may block
 * (waiting for the next token) but should come back at least every 100 ms
 * or so, returning 0 when it has nothing yet, so that a client that went
 * away is noticed (httpd_client_gone) — 0 does not end the body.  done is
 * called exactly once, last, on that thread or on the one stopping the
 * server: completed is true when the whole body reached the socket, false
 * when the client went away, a write failed, pull aborted or the server
 * stopped.  ud belongs to the caller until done. */
#define HTTPD_PULL_END ((ssize_t)-1)
#define HTTPD_PULL_ABORT ((ssize_t)-2)
typedef ssize_t (*httpd_pull)(void *ud, char *buf, size_t max);
typedef void (*httpd_done)(void *ud, bool completed);
void httpd_respond_stream(httpd_req *r, int status, const char *content_type, const char *const *headers,
                          httpd_pull pull, httpd_done done, void *ud);

#endif
