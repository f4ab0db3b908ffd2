/*
 * textout.h — streaming generated text past stop strings.
 *
 * Decoded text is held back while it could still be the beginning of a
 * stop string; text that completes one is cut there and nothing after it
 * is passed on.  gen_run (one reply) and the batch scheduler (several)
 * stream through it alike.
 */
#ifndef FRONTDESK_TEXTOUT_H
#define FRONTDESK_TEXTOUT_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *const *stops;
    size_t n_stops;
    bool (*on_text)(void *ud, const char *text, size_t len); /* false: stop */
    void *ud;
    strbuf pending;
    bool stopped; /* a stop string matched, or on_text said stop */
    bool matched; /* ... a stop string matched                    */
} textout;

void textout_init(textout *t, const char *const *stops, size_t n_stops,
                  bool (*on_text)(void *ud, const char *text, size_t len), void *ud);
/* Add n bytes of text; final: nothing more will come, let go of what is held. */
void textout_push(textout *t, const char *s, size_t n, bool final);
void textout_free(textout *t);

#endif
