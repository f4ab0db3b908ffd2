/*
 * remote_server.h — a scriptable OpenAI-compatible HTTP/1.1 server on
 * 127.0.0.1 for the test suites (tests/test_remote.c and whatever drives
 * `frontdesk ask --backend` against it).
 *
 * It runs on its own thread and serves one connection at a time.  Every
 * connection reads one request (headers to the blank line, then a
 * Content-Length body), records it, answers according to the next step of
 * its script — the i-th connection gets steps[i], the last step repeating
 * — and closes ("Connection: close").  What it sends:
 *
 *   RS_STREAM  200, text/event-stream, chunked (or ended by closing): a
 *              role event with empty content, `reply` as deltas of
 *              delta_chars characters, a finish_reason "stop" event, an
 *              optional usage event (choices: []), "data: [DONE]".  Every
 *              byte of that is written in pieces of `chunk` bytes (0: the
 *              odd sizes 1,2,3,5,8,13,1,4,7,11 in turn) with pause_us µs
 *              between writes, so events, "data:" lines and UTF-8
 *              characters are split across the client's reads.  Options
 *              shape it further: CRLF line ends, comments and foreign
 *              fields between events, JSON spread over several data:
 *              lines, \u escapes, and at the half-way delta a stall, a raw
 *              extra event, or a hang-up.
 *   RS_STATUS  `status` with `body` (Content-Length, optional Retry-After)
 *              — errors, 429s, the model list, a non-streamed answer.
 *   RS_HANGUP  closes without answering.
 *
 * Stalls end early when the server is stopped, so a test never waits for
 * a stall a client already gave up on.  Nothing here calls exit; setup
 * failures return NULL with a message.
 */
#ifndef FRONTDESK_TESTS_REMOTE_SERVER_H
#define FRONTDESK_TESTS_REMOTE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { RS_STREAM, RS_STATUS, RS_HANGUP } rs_kind;

typedef struct {
    rs_kind kind;

    /* RS_STREAM */
    const char *reply;     /* the assistant text (UTF-8)                     */
    int delta_chars;       /* characters per delta; 0: 2                     */
    int chunk;             /* bytes per write; 0: the odd sizes above        */
    int pause_us;          /* between writes; 0: 50, < 0: none               */
    bool crlf;             /* "\r\n" line ends (else "\n")                   */
    bool comments;         /* ": keep-alive", "event:", "id:", "retry:" lines
                              between events, "data:" without its space on
                              every other event                              */
    bool multiline;        /* each event's JSON indented over several lines */
    bool ascii;            /* non-ASCII as \uXXXX (emoji as surrogate pairs) */
    bool usage;            /* send usage {prompt_tokens, completion_tokens}  */
    int prompt_tokens, completion_tokens;
    bool no_done;          /* end after finish (+usage) without [DONE]       */
    bool close_delimited;  /* no chunked encoding: the body ends at close    */
    int stall_before_ms;   /* after the role event, before the first delta   */
    int stall_mid_ms;      /* after half the deltas                          */
    int keepalive_ms;      /* during stalls, ": keep-alive" every ... ms     */
    bool close_mid;        /* hang up after half the deltas (and any stall)  */
    const char *mid_event; /* after half the deltas, "data: <this>" as is    */
    const double *logprobs; /* n_logprobs > 0: choices[0].logprobs.content on
                              each delta, logprobs[k] on the k-th; any left
                              over all on the finish event; "logprobs": null
                              on the deltas past them                        */
    size_t n_logprobs;

    /* RS_STATUS */
    int status;
    const char *content_type; /* NULL: application/json                     */
    const char *body;         /* NULL: empty                                 */
    int retry_after;          /* seconds; 0: no Retry-After header           */
} rs_step;

/* One request as received. */
typedef struct {
    char method[16];
    char path[256];
    char *authorization; /* the Authorization header's value, or NULL */
    char *body;          /* NUL-terminated                            */
    size_t body_len;
} rs_request;

typedef struct rs_server rs_server;

/* Listen on 127.0.0.1 (a free port) and serve steps[0..n) (copied; the
 * strings must outlive the server).  NULL with a message on failure. */
rs_server *rs_start(const rs_step *steps, size_t n, char *err, size_t errlen);
/* Stop the thread (ending any stall at once), free everything; accepts NULL. */
void rs_stop(rs_server *s);

int rs_port(const rs_server *s);
/* "http://127.0.0.1:<port>/v1" (owned by the server). */
const char *rs_url(const rs_server *s);

/* Requests received so far (each recorded before it is answered). */
size_t rs_count(rs_server *s);
/* The i-th request (i < rs_count), valid until rs_stop. */
const rs_request *rs_get(rs_server *s, size_t i);

/* A port on 127.0.0.1 nothing listens on (bound, then closed): connecting
 * is refused.  0 on failure. */
int rs_closed_port(void);

/* A port on 127.0.0.1 where connecting hangs: a socket listening with a
 * backlog of 0 that never accepts, its queue filled by a few connections
 * of our own, so the kernel drops further SYNs.  0 on failure. */
typedef struct {
    int listen_fd;
    int fill[3];
    int port;
} rs_blackhole;

int rs_blackhole_open(rs_blackhole *b);
void rs_blackhole_close(rs_blackhole *b); /* accepts a zeroed or failed one */

#endif
