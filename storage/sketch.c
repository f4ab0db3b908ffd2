/*
 * sketch.c — the log-bucketed quantile sketch of sketch.h: dense counts
 * between the lowest and highest bucket seen, a zero bucket, the byte form.
 *
 * What it does not do: negative values apart from zero (frontdesk's
 * measures are never negative), collapsing buckets to bound memory (a
 * finite double's bucket is within +-SKETCH_MAX_BUCKET, so the dense range
 * is bounded anyway).
 */
#include "storage/sketch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ln(gamma) for gamma = 1.01 / 0.99 (SKETCH_ALPHA = 0.01), and 2 / (gamma + 1). */
#define LN_GAMMA 0.020000666706669435
#define TWO_OVER_GAMMA_PLUS_1 0.99

void sketch_free(sketch *s)
{
    if (!s)
        return;
    free(s->counts);
    memset(s, 0, sizeof *s);
}

void sketch_clear(sketch *s)
{
    if (s->n > s->zero)
        memset(s->counts + (s->min_i - s->lo), 0, (size_t)(s->max_i - s->min_i + 1) * sizeof *s->counts);
    s->n = s->zero = 0;
}

int32_t sketch_bucket(double x)
{
    double b = ceil(log(x) / LN_GAMMA);
    if (b < -SKETCH_MAX_BUCKET)
        return -SKETCH_MAX_BUCKET;
    if (b > SKETCH_MAX_BUCKET)
        return SKETCH_MAX_BUCKET;
    return (int32_t)b;
}

double sketch_bucket_value(int32_t i)
{
    return exp((double)i * LN_GAMMA) * TWO_OVER_GAMMA_PLUS_1;
}

/* Make room for bucket i (with some slack either side). */
static void reserve(sketch *s, int32_t i)
{
    if (s->cap && i >= s->lo && i < s->lo + s->cap)
        return;
    int32_t lo = i - 32, hi = i + 32; /* hi exclusive */
    if (s->cap) {
        if (s->lo < lo)
            lo = s->lo;
        if (s->lo + s->cap > hi)
            hi = s->lo + s->cap;
    }
    int64_t *c = xcalloc((size_t)(hi - lo), sizeof *c);
    if (s->cap)
        memcpy(c + (s->lo - lo), s->counts, (size_t)s->cap * sizeof *c);
    free(s->counts);
    s->counts = c;
    s->lo = lo;
    s->cap = hi - lo;
}

static void add_bucket(sketch *s, int32_t i, int64_t count)
{
    reserve(s, i);
    if (s->n == s->zero) {
        s->min_i = s->max_i = i;
    } else {
        if (i < s->min_i)
            s->min_i = i;
        if (i > s->max_i)
            s->max_i = i;
    }
    s->counts[i - s->lo] += count;
    s->n += count;
}

void sketch_add_count(sketch *s, double x, int64_t count)
{
    if (!isfinite(x) || count <= 0)
        return;
    if (x <= 0) {
        s->zero += count;
        s->n += count;
    } else {
        add_bucket(s, sketch_bucket(x), count);
    }
}

void sketch_add(sketch *s, double x)
{
    sketch_add_count(s, x, 1);
}

void sketch_merge(sketch *dst, const sketch *src)
{
    dst->zero += src->zero;
    dst->n += src->zero;
    if (src->n == src->zero)
        return;
    reserve(dst, src->min_i);
    reserve(dst, src->max_i);
    for (int32_t i = src->min_i; i <= src->max_i; i++) {
        int64_t c = src->counts[i - src->lo];
        if (c)
            add_bucket(dst, i, c);
    }
}

double sketch_rank_value(const sketch *s, int64_t r)
{
    if (r <= s->zero || s->n == s->zero)
        return 0;
    int64_t seen = s->zero;
    for (int32_t i = s->min_i; i <= s->max_i; i++) {
        seen += s->counts[i - s->lo];
        if (seen >= r)
            return sketch_bucket_value(i);
    }
    return sketch_bucket_value(s->max_i);
}

double sketch_percentile(const sketch *s, unsigned p)
{
    /* ceil(p/100 · n) in integers, as metrics.c's nearest rank */
    int64_t r = ((int64_t)p * s->n + 99) / 100;
    return sketch_rank_value(s, r < 1 ? 1 : r);
}

/* ---- Byte form ------------------------------------------------------------ */

void sketch_put_varint(strbuf *out, uint64_t v)
{
    uint8_t b[10];
    size_t k = 0;
    do {
        b[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b[k] |= 0x80;
        k++;
    } while (v);
    sb_append(out, b, k);
}

bool sketch_get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0, k = 0; k < 10; k++, shift += 7) {
        if (*off >= len)
            return false;
        uint8_t b = p[(*off)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

static uint64_t zigzag(int64_t v)
{
    return v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1;
}

static int64_t unzigzag(uint64_t u)
{
    return u & 1 ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
}

void sketch_encode(const sketch *s, strbuf *out)
{
    sketch_put_varint(out, (uint64_t)s->zero);
    uint64_t k = 0;
    if (s->n > s->zero)
        for (int32_t i = s->min_i; i <= s->max_i; i++)
            k += s->counts[i - s->lo] != 0;
    sketch_put_varint(out, k);
    int64_t prev = 0;
    if (s->n > s->zero)
        for (int32_t i = s->min_i; i <= s->max_i; i++) {
            int64_t c = s->counts[i - s->lo];
            if (!c)
                continue;
            sketch_put_varint(out, zigzag((int64_t)i - prev));
            sketch_put_varint(out, (uint64_t)c);
            prev = i;
        }
}

bool sketch_decode_add(sketch *s, const uint8_t *p, size_t len, size_t *used, char *err, size_t errlen)
{
    size_t off = 0;
    uint64_t zero, k;
    if (!sketch_get_varint(p, len, &off, &zero) || zero > INT64_MAX / 4) {
        util_errf(err, errlen, "sketch: bad zero count at byte %zu", off);
        return false;
    }
    if (!sketch_get_varint(p, len, &off, &k) || k > 2 * SKETCH_MAX_BUCKET + 1) {
        util_errf(err, errlen, "sketch: bad bucket count at byte %zu", off);
        return false;
    }
    s->zero += (int64_t)zero;
    s->n += (int64_t)zero;
    int64_t idx = 0;
    for (uint64_t j = 0; j < k; j++) {
        uint64_t dz, c;
        size_t at = off;
        if (!sketch_get_varint(p, len, &off, &dz)) {
            util_errf(err, errlen, "sketch: truncated bucket index at byte %zu", at);
            return false;
        }
        int64_t d = unzigzag(dz);
        if ((j && d <= 0) || d > 2 * SKETCH_MAX_BUCKET || d < -2 * SKETCH_MAX_BUCKET ||
            idx + d < -SKETCH_MAX_BUCKET || idx + d > SKETCH_MAX_BUCKET) {
            util_errf(err, errlen, "sketch: bucket index out of order or range at byte %zu", at);
            return false;
        }
        idx += d;
        at = off;
        if (!sketch_get_varint(p, len, &off, &c) || c == 0 || c > INT64_MAX / 4) {
            util_errf(err, errlen, "sketch: bad bucket count at byte %zu", at);
            return false;
        }
        add_bucket(s, (int32_t)idx, (int64_t)c);
    }
    *used = off;
    return true;
}
