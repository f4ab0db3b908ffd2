/*
 * util.h — small things used everywhere: checked allocation, a growable
 * byte buffer, whole-file reading, a monotonic clock.
 *
 * Allocation failure is not recoverable in frontdesk: x*alloc print a
 * message and abort (after running the hook the UI installs to restore the
 * terminal).  Sizes that come from untrusted input (file counts, text
 * lengths, request bodies) use util/alloc.h's fallible try_* instead.
 * Everything else reports failure by return value.
 */
#ifndef FRONTDESK_UTIL_H
#define FRONTDESK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Checked allocation ---------------------------------------------- */

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* xmalloc(count * size) with the product checked for overflow. */
void *xmallocarray(size_t count, size_t size);
void *xreallocarray(void *p, size_t count, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Called before abort() on out-of-memory (e.g. to end curses mode). */
void util_set_oom_hook(void (*hook)(void));

/* ---- Growable byte buffer (always NUL-terminated) --------------------- */

typedef struct {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
} strbuf;

void sb_append(strbuf *sb, const void *data, size_t n);
void sb_puts(strbuf *sb, const char *s);
void sb_putc(strbuf *sb, char c);
void sb_printf(strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sb_clear(strbuf *sb); /* len = 0, keeps the allocation */
void sb_free(strbuf *sb);  /* accepts a zeroed strbuf */

/* ---- Files -------------------------------------------------------------- */

/* Read a whole file (or stdin when path is "-") into *out (NUL-terminated,
 * *len excludes the NUL).  Returns 0, or -1 with errno set (ENOMEM when
 * the contents do not fit in memory: the buffer is allocated fallibly). */
int util_read_file(const char *path, char **out, size_t *len);
int util_read_fd(int fd, char **out, size_t *len);

/* ---- UTF-8 ------------------------------------------------------------ */

/* Decode one code point from s[0..len) (len >= 1).  Returns the bytes
 * used (1..4); an invalid, overlong, surrogate or truncated sequence
 * yields U+FFFD for its first byte only. */
size_t util_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Encode cp into out: returns the bytes written (1..4), or 0 when cp is
 * beyond U+10FFFF (nothing written). */
size_t util_utf8_encode(uint32_t cp, unsigned char out[4]);

/* ---- Time ------------------------------------------------------------- */

/* Seconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
double util_now(void);
/* Sleep s seconds, the whole of it (resumed after a signal). */
void util_sleep(double s);

/* prefix followed by 32 lowercase hex digits (128 bits from getrandom(2))
 * into out: an id nobody can guess.  false when out is too small or the
 * system has no randomness. */
bool util_random_token(const char *prefix, char *out, size_t outlen);

/* ---- Errors ----------------------------------------------------------- */

/* snprintf into a caller's error buffer; does nothing when errlen == 0. */
void util_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
