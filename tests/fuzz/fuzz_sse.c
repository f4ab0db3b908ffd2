/*
 * fuzz_sse.c — libFuzzer harness: the SSE reader (net/sse.h) and the
 * OpenAI JSON response reader (net/openai.h), on bytes a server sends.
 *
 * Input: byte 0 picks the reader's limit (small, to reach the too-long
 * paths, or none), bytes 1-4 seed the split points and byte 5 picks after
 * how many events the callback stops; the rest is the stream.  The stream
 * is fed whole, one byte at a time and in pseudo-random pieces; every
 * event's data goes through openai_chunk_parse (as a chunk of a stream and
 * as a whole answer) and openai_error_message; the raw stream through the
 * same and openai_models_parse.
 *
 * The raw stream also goes where the client puts a server's text into an
 * error message (net/remote_text.h), with an API key to hide.
 *
 * Checked beyond crashes, leaks and UB: with no limit reached and no
 * stop, the events are the same whatever the split (the reader must not
 * depend on where reads end); each event's data is NUL-terminated; a
 * parsed chunk's content is content_len bytes then a NUL; the API key
 * (letters, digits and '-', like real keys) never appears in the text made
 * for a person, whatever the server wrote (raw, or JSON-escaped in an
 * error body).
 */
#include "tests/fuzz/fuzz.h"

#include "net/openai.h"
#include "net/remote_text.h"
#include "net/sse.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    strbuf log;       /* every event: its length, then its bytes  */
    size_t n_events;
    size_t stop_after; /* return false at this event (0: never)   */
} events;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_sse: %s\n", what);
        abort();
    }
}

static void parse_json(const char *data, size_t n)
{
    char err[256];
    for (int stream = 0; stream < 2; stream++) {
        openai_chunk c;
        openai_status st = openai_chunk_parse(data, n, stream, &c, err, sizeof err);
        check(st <= OPENAI_SERVER_ERROR, "status out of range");
        if (st != OPENAI_OK)
            check(err[0] != '\0', "an error without a message");
        if (c.content)
            check(c.content[c.content_len] == '\0', "content not NUL-terminated");
        if (st == OPENAI_SERVER_ERROR)
            check(c.error != NULL, "a server error without the chunk");
        if (c.n_logprob == 0)
            check(c.logprob_sum == 0 && c.logprob_min == 0, "log-probabilities without tokens");
        openai_chunk_free(&c);
    }
    free(openai_error_message(data, n));
}

static bool on_event(void *ud, const char *data, size_t n)
{
    events *ev = ud;
    check(data[n] == '\0', "event data not NUL-terminated");
    uint64_t len = n;
    sb_append(&ev->log, &len, sizeof len);
    sb_append(&ev->log, data, n);
    ev->n_events++;
    parse_json(data, n);
    return ev->stop_after == 0 || ev->n_events < ev->stop_after;
}

/* A tiny deterministic generator for the piece sizes. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Feed p[0..n) in pieces: piece 0 = whole, 1 = byte by byte, otherwise
 * pseudo-random sizes up to `piece` bytes.  After a stop, the reader is
 * cleared and reading goes on (sse.h allows that).  Returns whether any
 * status other than OK was seen. */
static bool feed(const char *p, size_t n, size_t max, size_t piece, uint32_t seed, events *ev)
{
    sse_reader r;
    sse_init(&r, max);
    bool other = false;
    size_t off = 0;
    uint32_t s = seed ? seed : 1;
    while (off < n) {
        size_t k = piece == 0 ? n - off : piece == 1 ? 1 : 1 + next_rand(&s) % piece;
        if (k > n - off)
            k = n - off;
        sse_status st = sse_feed(&r, p + off, k, on_event, ev);
        if (st != SSE_OK) {
            other = true;
            sse_clear(&r);
        }
        off += k;
    }
    if (n == 0) /* an empty read is allowed too */
        check(sse_feed(&r, "", 0, on_event, ev) == SSE_OK, "an empty read failed");
    sse_free(&r);
    return other;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 6)
        return 0;
    static const size_t limits[] = {1, 2, 7, 16, 64, 300, 4096};
    size_t nlim = sizeof limits / sizeof *limits;
    size_t max = data[0] % (nlim + 1) == nlim ? (size_t)-1 : limits[data[0] % (nlim + 1)];
    uint32_t seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
    size_t stop_after = data[5] % 4; /* 0: never */
    const char *p = (const char *)data + 6;
    size_t n = size - 6;

    /* Whole, byte by byte, pieces of up to 3, 17 and 200 bytes. */
    static const size_t pieces[] = {0, 1, 3, 17, 200};
    events first = {0};
    bool first_other = false;
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        events ev = {.stop_after = stop_after};
        bool other = feed(p, n, max, pieces[i], seed + (uint32_t)i, &ev);
        if (i == 0) {
            first = ev;
            first_other = other;
            continue;
        }
        /* No limit reached and no stop anywhere: the same events. */
        if (!other && !first_other)
            check(ev.log.len == first.log.len && (ev.log.len == 0 || !memcmp(ev.log.data, first.log.data, ev.log.len)),
                  "the events depend on where the reads were split");
        sb_free(&ev.log);
    }
    sb_free(&first.log);

    /* The raw bytes as a whole answer, an error body and a model list. */
    parse_json(p, n);
    char **names;
    size_t count;
    char err[256];
    openai_status st = openai_models_parse(p, n, &names, &count, err, sizeof err);
    if (st == OPENAI_OK) {
        check(names != NULL, "a model list without names");
        for (size_t i = 0; i < count; i++)
            check(names[i] != NULL, "a NULL model name");
    } else {
        check(names == NULL && count == 0 && err[0], "a failed model list with names or no message");
    }
    openai_models_free(names, count);

    /* The server's words as the client shows them: never the key. */
    static const char KEY[] = "sk-FUZZ-0123456789abcdef";
    strbuf shown = {0};
    remote_put_server_text(&shown, p, n, KEY);
    sb_puts(&shown, " | ");
    remote_put_error_body(&shown, p, n, KEY);
    check(shown.data && !strstr(shown.data, KEY), "the API key shown in a message");
    sb_free(&shown);
    return 0;
}
