/*
 * alloc.c — see alloc.h.
 */
#include "util/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- Test hook ------------------------------------------------------------- */

static atomic_bool armed;
static atomic_bool sticky_fail;
static atomic_ulong fail_nth;
static atomic_ulong n_attempts;
static atomic_ulong n_failures;

void alloc_test_arm(unsigned long nth, bool sticky)
{
    atomic_store(&armed, false);
    atomic_store(&n_attempts, 0);
    atomic_store(&n_failures, 0);
    atomic_store(&fail_nth, nth);
    atomic_store(&sticky_fail, sticky);
    atomic_store(&armed, true);
}

void alloc_test_disarm(void) { atomic_store(&armed, false); }

unsigned long alloc_test_count(void) { return atomic_load(&n_attempts); }

unsigned long alloc_test_failures(void) { return atomic_load(&n_failures); }

/* Whether this fallible allocation is to fail (the hook). */
static bool injected(void)
{
    if (!atomic_load_explicit(&armed, memory_order_relaxed))
        return false;
    unsigned long k = atomic_fetch_add(&n_attempts, 1) + 1;
    unsigned long nth = atomic_load(&fail_nth);
    if (nth == 0 || k < nth || (k > nth && !atomic_load(&sticky_fail)))
        return false;
    atomic_fetch_add(&n_failures, 1);
    return true;
}

/* ---- Fallible allocation ------------------------------------------------------ */

void *try_malloc(size_t n)
{
    if (injected())
        return NULL;
    return malloc(n ? n : 1);
}

void *try_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    if (injected())
        return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *try_realloc(void *p, size_t n)
{
    if (injected())
        return NULL;
    return realloc(p, n ? n : 1);
}

void *try_mallocarray(size_t count, size_t size)
{
    return try_reallocarray(NULL, count, size);
}

void *try_reallocarray(void *p, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return try_realloc(p, count * size);
}

/* Grow sb to hold need bytes: doubling, or exactly need when `exact`. */
static bool sb_grow(strbuf *sb, size_t need, bool exact)
{
    if (need <= sb->cap)
        return true;
    size_t cap = exact ? need : sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = try_realloc(sb->data, cap);
    if (!d)
        return false;
    if (!sb->data)
        d[0] = '\0';
    sb->data = d;
    sb->cap = cap;
    return true;
}

bool try_sb_reserve(strbuf *sb, size_t extra)
{
    if (extra > SIZE_MAX - sb->len - 1)
        return false;
    return sb_grow(sb, sb->len + extra + 1, true);
}

bool try_sb_append(strbuf *sb, const void *data, size_t n)
{
    if (n > SIZE_MAX - sb->len - 1)
        return false;
    if (!sb_grow(sb, sb->len + n + 1, false))
        return false;
    if (n)
        memcpy(sb->data + sb->len, data, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
    return true;
}
