/*
 * textsim.c — chrF and ROUGE-L (see textsim.h for the definitions).
 *
 * chrF: each text becomes an array of code points with the whitespace
 * dropped; for each order n the start positions of its n-grams are sorted
 * by the n code points they begin, and the two sorted lists are merged,
 * counting min(count in hyp, count in ref) for every n-gram seen in both.
 * O(L log L) per order.  ROUGE-L: the textbook dynamic programme over two
 * rows, O(|hyp| |ref|) time.
 */
#include "util/textsim.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

enum { CHRF_ORDER = 6 };
#define CHRF_BETA 2.0

bool textsim_is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* The code points of s, whitespace dropped (caller frees *out). */
static size_t code_points(const char *s, uint32_t **out)
{
    size_t len = strlen(s), n = 0;
    uint32_t *cps = xmallocarray(len + 1, sizeof *cps);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += util_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!textsim_is_space(cp))
            cps[n++] = cp;
    }
    *out = cps;
    return n;
}

/* qsort has no context argument: the text and order being sorted. */
static _Thread_local const uint32_t *sort_text;
static _Thread_local size_t sort_n;

static int cmp_gram(const uint32_t *a, const uint32_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

static int cmp_start(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return cmp_gram(sort_text + a, sort_text + b, sort_n);
}

/* Start positions of the n-grams of t[0..len), sorted by their n-gram. */
static size_t *sorted_grams(const uint32_t *t, size_t len, size_t n, size_t *count)
{
    *count = len >= n ? len - n + 1 : 0;
    size_t *pos = xmallocarray(*count + 1, sizeof *pos);
    for (size_t i = 0; i < *count; i++)
        pos[i] = i;
    sort_text = t;
    sort_n = n;
    qsort(pos, *count, sizeof *pos, cmp_start);
    return pos;
}

/* Σ over n-grams of min(count in h, count in r), from the sorted lists. */
static size_t matches(const uint32_t *h, const size_t *hp, size_t nh, const uint32_t *r, const size_t *rp,
                      size_t nr, size_t n)
{
    size_t i = 0, j = 0, m = 0;
    while (i < nh && j < nr) {
        int c = cmp_gram(h + hp[i], r + rp[j], n);
        if (c < 0)
            i++;
        else if (c > 0)
            j++;
        else {
            m++;
            i++;
            j++;
        }
    }
    return m;
}

double textsim_chrf(const char *hyp, const char *ref)
{
    uint32_t *h, *r;
    size_t lh = code_points(hyp, &h), lr = code_points(ref, &r);
    double prec = 0, rec = 0;
    int effective = 0;
    for (size_t n = 1; n <= CHRF_ORDER; n++) {
        size_t nh, nr;
        size_t *hp = sorted_grams(h, lh, n, &nh), *rp = sorted_grams(r, lr, n, &nr);
        if (nh > 0 && nr > 0) {
            size_t m = matches(h, hp, nh, r, rp, nr, n);
            prec += (double)m / (double)nh;
            rec += (double)m / (double)nr;
            effective++;
        }
        free(hp);
        free(rp);
    }
    free(h);
    free(r);
    if (!effective)
        return 0.0;
    prec /= effective;
    rec /= effective;
    if (prec + rec == 0.0)
        return 0.0;
    double b2 = CHRF_BETA * CHRF_BETA;
    return 100.0 * (1 + b2) * prec * rec / (b2 * prec + rec);
}

typedef struct {
    const char *s;
    size_t len;
} token;

/* The whitespace-separated tokens of s (pointing into s; caller frees). */
static size_t tokens(const char *s, token **out)
{
    size_t len = strlen(s), n = 0, cap = 8;
    token *t = xmallocarray(cap, sizeof *t);
    size_t start = 0;
    bool in = false;
    for (size_t i = 0; i <= len;) {
        uint32_t cp = 0x20;
        size_t used = 1;
        if (i < len)
            used = util_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        bool space = textsim_is_space(cp);
        if (space && in) {
            if (n == cap)
                t = xreallocarray(t, cap *= 2, sizeof *t);
            t[n++] = (token){s + start, i - start};
            in = false;
        } else if (!space && !in) {
            start = i;
            in = true;
        }
        i += used;
    }
    *out = t;
    return n;
}

static bool token_eq(const token *a, const token *b)
{
    return a->len == b->len && !memcmp(a->s, b->s, a->len);
}

double textsim_rouge_l(const char *hyp, const char *ref)
{
    token *h, *r;
    size_t nh = tokens(hyp, &h), nr = tokens(ref, &r);
    double f = 0.0;
    if (nh && nr) {
        /* prev[j], cur[j]: the LCS of h[0..i) and r[0..j) for the previous and this row */
        size_t *prev = xcalloc(nr + 1, sizeof *prev), *cur = xcalloc(nr + 1, sizeof *cur);
        for (size_t i = 1; i <= nh; i++) {
            cur[0] = 0;
            for (size_t j = 1; j <= nr; j++)
                cur[j] = token_eq(&h[i - 1], &r[j - 1])   ? prev[j - 1] + 1
                         : prev[j] >= cur[j - 1] ? prev[j]
                                                 : cur[j - 1];
            size_t *t = prev;
            prev = cur;
            cur = t;
        }
        size_t lcs = prev[nr];
        if (lcs) {
            double p = (double)lcs / (double)nh, q = (double)lcs / (double)nr;
            f = 2 * p * q / (p + q);
        }
        free(prev);
        free(cur);
    }
    free(h);
    free(r);
    return f;
}
