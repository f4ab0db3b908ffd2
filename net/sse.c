/*
 * sse.c — Server-Sent Events, read incrementally (see sse.h for the
 * format and the limits).
 *
 * sse_feed appends the new bytes to the pending line buffer and splits
 * complete lines off its front; sse_line acts on one line.  line_scan
 * remembers how far the buffer is known to hold no line end, so bytes
 * that arrive one at a time are not scanned again and again.
 */
#include "net/sse.h"

#include "util/alloc.h"

#include <string.h>

void sse_init(sse_reader *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

void sse_clear(sse_reader *r)
{
    sb_clear(&r->line);
    r->line_scan = 0;
    sb_clear(&r->data);
    r->has_data = false;
}

void sse_free(sse_reader *r)
{
    if (!r)
        return;
    sb_free(&r->line);
    sb_free(&r->data);
    r->line_scan = 0;
    r->has_data = false;
}

/* One line of the stream (without its end). */
static sse_status sse_line(sse_reader *r, const char *s, size_t n, sse_event_fn on_event, void *ud)
{
    if (n == 0) { /* blank line: dispatch */
        if (!r->has_data)
            return SSE_OK;
        r->has_data = false;
        bool go_on = on_event(ud, r->data.data ? r->data.data : "", r->data.len);
        sb_clear(&r->data);
        return go_on ? SSE_OK : SSE_STOPPED;
    }
    if (s[0] == ':')
        return SSE_OK; /* comment / keep-alive */
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    if (flen != 4 || memcmp(s, "data", 4) != 0)
        return SSE_OK; /* event, id, retry, anything else */
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = (size_t)(s + n - v);
    if (vlen > 0 && *v == ' ')
        v++, vlen--;
    if ((r->has_data && !try_sb_append(&r->data, "\n", 1)) || !try_sb_append(&r->data, v, vlen))
        return SSE_NO_MEMORY;
    r->has_data = true;
    return r->data.len > r->max ? SSE_EVENT_TOO_LARGE : SSE_OK;
}

sse_status sse_feed(sse_reader *r, const char *p, size_t n, sse_event_fn on_event, void *ud)
{
    if (!try_sb_append(&r->line, p, n))
        return SSE_NO_MEMORY;
    char *b = r->line.data;
    size_t len = r->line.len, start = 0, i = r->line_scan;
    sse_status st = SSE_OK;
    while (i < len) {
        if (b[i] != '\n' && b[i] != '\r') {
            i++;
            continue;
        }
        size_t eol = 1;
        if (b[i] == '\r') {
            if (i + 1 == len)
                break; /* CR or CRLF? wait */
            if (b[i + 1] == '\n')
                eol = 2;
        }
        st = sse_line(r, b + start, i - start, on_event, ud);
        start = i + eol;
        i = start;
        if (st != SSE_OK)
            break;
    }
    memmove(b, b + start, len - start);
    r->line.len = len - start;
    b[r->line.len] = '\0';
    r->line_scan = i - start;
    if (st == SSE_OK && r->line.len > r->max)
        st = SSE_LINE_TOO_LONG;
    return st;
}
