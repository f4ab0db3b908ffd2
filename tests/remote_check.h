/*
 * remote_check.h — what the remote backend's suites (test_remote: streams,
 * the request, broken streams; test_remote_failures: timeouts, HTTP errors
 * and retries, cancellation, the model list and bad arguments) share:
 * the replies the scripted server streams, options and a request for it,
 * one call of remote_chat with what it handed on_text, and the figures
 * of a good stream.
 */
#ifndef FRONTDESK_TESTS_REMOTE_CHECK_H
#define FRONTDESK_TESTS_REMOTE_CHECK_H

#include "net/remote.h"
#include "tests/remote_server.h"
#include "util/util.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#define KEY "sk-test-SECRET-4242"

/* A stall (or Retry-After wait) that only a broken client sits out.  It costs
 * nothing when the client gives up first: rs_stop ends a stall at once. */
#define STALL_MS 30000
/* "Well before the stall would have ended": a third of it. */
#define WELL_BEFORE_STALL_S (STALL_MS / 3 / 1000.0)

/* Latin accents, CJK, emoji with a skin-tone modifier, a ZWJ sequence. */
extern const char *const REPLY;
/* The hard cases only, for the byte-at-a-time stream. */
extern const char *const SHORT;
/* A system prompt and three turns, non-ASCII included. */
extern const openai_msg MSGS[4];

/* What on_text was handed. */
typedef struct {
    strbuf text;
    int calls;
    bool split_char; /* a piece was not whole UTF-8 */
    int stop_after;  /* > 0: return false on this call */
} sink;

typedef struct {
    int rc;
    remote_result res;
    char err[512];
    sink out;
    double secs;
} run_out;

/* Whether s[0..n) is whole UTF-8 sequences (their shape only). */
bool rc_valid_utf8(const unsigned char *s, size_t n);
const char *rc_sink_str(const sink *k);
/* Options for the server s: its URL, KEY, short timeouts (8 s in all). */
remote_opts rc_opts_for(const rs_server *s);
/* MSGS with the engine's default sampling, as app/reply.c sends them. */
remote_request rc_request(void);
/* A scripted server on steps; fails the test when it cannot start. */
rs_server *rc_start(const rs_step *steps, size_t n);
/* remote_chat(o, rq) into r, timed. */
void rc_chat(const remote_opts *o, const remote_request *rq, const atomic_bool *cancel, run_out *r);
void rc_run_free(run_out *r);
/* The first n_chars characters of s (malloc'ed). */
char *rc_prefix_chars(const char *s, size_t n_chars);
size_t rc_count_chars(const char *s);
/* What the server streams before its half-way point (delta_chars per delta). */
char *rc_first_half(const char *reply, int delta_chars);
void rc_assert_contains(const char *hay, const char *needle);
/* A good stream's figures: all of reply, whole UTF-8 pieces, one attempt,
 * HTTP 200, "stop", the model, timings in order. */
void rc_assert_good_stream(const run_out *r, const char *reply);

#endif
