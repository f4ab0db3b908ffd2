/*
 * sse.h — an incremental reader of Server-Sent Events (WHATWG "server-sent
 * events"), the framing of a streamed OpenAI-protocol reply.
 *
 * Bytes arrive split anywhere (a read may end mid-line, mid-CRLF, mid-
 * character); sse_feed keeps what it cannot use yet and hands each
 * complete event's data to a callback.  The format: lines end with CRLF,
 * LF or CR (a CR that ends the bytes so far waits for the next byte to
 * tell which); a line starting with ':' is a comment (keep-alive);
 * "data:" lines (one optional space after the colon) accumulate, joined
 * with '\n'; a blank line dispatches the event (nothing when it had no
 * data line); other fields (event, id, retry) are ignored.  An event left
 * undispatched when the bytes end is dropped, as the standard says.  A
 * line, and one event's data, may hold at most `max` bytes; both grow
 * with what the server sends, so they are allocated fallibly
 * (util/alloc.h): out of memory is SSE_NO_MEMORY, not an abort.
 *
 * What it does not do: read the events' JSON (net/openai.h), reconnect or
 * remember Last-Event-ID, write events (a server formats its own).
 * Uses only util/.  One reader per stream; no globals, so any number of
 * threads may each read their own.
 */
#ifndef FRONTDESK_SSE_H
#define FRONTDESK_SSE_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    size_t max;      /* longest line and event data, bytes            */
    strbuf line;     /* bytes not yet split into lines                */
    size_t line_scan; /* line[0..line_scan) holds no line end         */
    strbuf data;     /* the event being read                          */
    bool has_data;   /* a data: line has been seen since the last dispatch */
} sse_reader;

typedef enum {
    SSE_OK,
    SSE_STOPPED,         /* the callback returned false                 */
    SSE_LINE_TOO_LONG,   /* a line grew past max without ending          */
    SSE_EVENT_TOO_LARGE, /* an event's data grew past max                */
    SSE_NO_MEMORY,       /* the line or event did not fit in memory      */
} sse_status;

/* One dispatched event: its data (n bytes, NUL-terminated, "" for an
 * event of empty data lines).  Return false to stop reading. */
typedef bool (*sse_event_fn)(void *ud, const char *data, size_t n);

/* A reader of at most max bytes a line and an event. */
void sse_init(sse_reader *r, size_t max);
/* Forget a partial line and event (a new response), keeping the memory. */
void sse_clear(sse_reader *r);
void sse_free(sse_reader *r); /* accepts a zeroed reader */

/* Read n more bytes, calling on_event for every event they complete, in
 * order.  Stops at the first status that is not SSE_OK and returns it;
 * the reader is then left as it was at that point (feed it no more, or
 * sse_clear it). */
sse_status sse_feed(sse_reader *r, const char *p, size_t n, sse_event_fn on_event, void *ud);

#endif
