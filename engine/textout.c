/*
 * textout.c — stop strings over streamed text (see textout.h).
 */
#include "engine/textout.h"

#include <string.h>

void textout_init(textout *t, const char *const *stops, size_t n_stops,
                  bool (*on_text)(void *ud, const char *text, size_t len), void *ud)
{
    memset(t, 0, sizeof *t);
    t->stops = stops;
    t->n_stops = n_stops;
    t->on_text = on_text;
    t->ud = ud;
    sb_append(&t->pending, "", 0);
}

void textout_free(textout *t) { sb_free(&t->pending); }

static bool emit(textout *t, const char *s, size_t n)
{
    if (n == 0 || !t->on_text)
        return true;
    if (!t->on_text(t->ud, s, n)) {
        t->stopped = true;
        return false;
    }
    return true;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a stop. */
static size_t stop_prefix_tail(const textout *t, const char *s, size_t n)
{
    size_t best = 0;
    for (size_t k = 0; k < t->n_stops; k++) {
        size_t sl = strlen(t->stops[k]);
        if (sl == 0)
            continue;
        for (size_t l = sl > n ? n : sl - 1; l > best; l--)
            if (memcmp(s + n - l, t->stops[k], l) == 0) {
                best = l;
                break;
            }
    }
    return best;
}

void textout_push(textout *t, const char *s, size_t n, bool final)
{
    if (t->stopped)
        return;
    sb_append(&t->pending, s, n);
    const char *p = t->pending.data;
    size_t len = t->pending.len;
    /* the earliest complete stop string wins */
    size_t cut = len;
    for (size_t k = 0; k < t->n_stops; k++) {
        size_t sl = strlen(t->stops[k]);
        if (!sl)
            continue;
        const char *hit = memmem(p, len, t->stops[k], sl);
        if (hit && (size_t)(hit - p) < cut)
            cut = (size_t)(hit - p);
    }
    if (cut < len) {
        emit(t, p, cut);
        t->stopped = t->matched = true;
        return;
    }
    size_t keep = final ? 0 : stop_prefix_tail(t, p, len);
    if (!emit(t, p, len - keep))
        return;
    memmove(t->pending.data, p + len - keep, keep);
    t->pending.len = keep;
}
