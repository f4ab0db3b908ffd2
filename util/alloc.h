/*
 * alloc.h — fallible allocation, for sizes that come from untrusted input.
 *
 * frontdesk has two kinds of allocation:
 *
 *   x*alloc (util.h)   sizes the program chose (a struct, a fixed table, a
 *                      buffer bounded by a constant): failure aborts with a
 *                      message, as nothing sensible is left to do.
 *   try_* (here)       sizes read from a file, a request or a server's
 *                      stream (a GGUF file's counts and lengths, the token
 *                      buffers of a text, an HTTP request body): failure
 *                      returns NULL (or false) and the caller reports a
 *                      clean error ("model.gguf: out of memory for 3000000
 *                      vocabulary entries"), freeing what it had.
 *
 * Every try_* call treats a size of 0 as 1, so NULL always means failure;
 * count * size products are checked for overflow (overflow is a failure).
 * try_realloc leaves p untouched (still owned by the caller) on failure.
 *
 * Test hook: the suites fail the N-th fallible allocation on purpose and
 * check that every caller comes back with an error and leaks nothing
 * (tests/test_alloc_faults.c).  The hook costs one relaxed atomic load per
 * fallible allocation while it is off; it is process-wide and thread-safe
 * (serve's connection threads may allocate while a test counts).
 */
#ifndef FRONTDESK_ALLOC_H
#define FRONTDESK_ALLOC_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- Fallible allocation ------------------------------------------------- */

void *try_malloc(size_t n);
void *try_calloc(size_t count, size_t size);
void *try_realloc(void *p, size_t n);
/* try_malloc(count * size) and try_realloc(p, count * size), the product
 * checked for overflow. */
void *try_mallocarray(size_t count, size_t size);
void *try_reallocarray(void *p, size_t count, size_t size);

/* Append n bytes to a strbuf (util.h), growing it fallibly: false, with sb
 * unchanged, when memory runs out or the size overflows. */
bool try_sb_append(strbuf *sb, const void *data, size_t n);
/* Make room for `extra` more bytes (and the NUL) in one allocation, so that
 * appends up to that size allocate nothing; false, sb unchanged, on failure. */
bool try_sb_reserve(strbuf *sb, size_t extra);

/* ---- Test hook (tests only) ----------------------------------------------
 * alloc_test_arm(nth, sticky): from now on, count fallible allocations;
 * the nth one (1-based) fails, and with sticky every one after it too.
 * nth == 0 only counts.  alloc_test_disarm stops counting and failing. */
void alloc_test_arm(unsigned long nth, bool sticky);
void alloc_test_disarm(void);
/* Fallible allocations attempted since the last arm (failed ones included). */
unsigned long alloc_test_count(void);
/* Failures injected since the last arm. */
unsigned long alloc_test_failures(void);

#endif
