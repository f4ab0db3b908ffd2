/*
 * sketch.h — a mergeable log-bucketed quantile sketch (the idea of
 * DDSketch, written for frontdesk's rollups) and its compact byte form.
 *
 * With gamma = (1 + a) / (1 - a), a value x > 0 falls in bucket
 * i = ceil(log_gamma x), which holds (gamma^(i-1), gamma^i]; the bucket is
 * reported as 2·gamma^i / (gamma + 1), within a relative a of every value
 * it holds.  Values <= 0 share one zero bucket, reported as 0 (frontdesk's
 * measures are never negative: an unknown one is not added at all).  The
 * q-quantile is the bucket holding rank ceil(q·n), as nearest-rank does on
 * the raw values, so it is within a of the exact nearest-rank value.
 * Two sketches merge by adding counts, exactly.
 *
 * The counts are kept dense between the lowest and highest bucket seen
 * (a few hundred for request latencies); a finite double's bucket lies in
 * [-SKETCH_MAX_BUCKET, SKETCH_MAX_BUCKET].  Non-finite values are ignored.
 *
 * Byte form (sketch_encode): varint(zero count), varint(number of nonzero
 * buckets k), then k pairs varint(zigzag(index - previous index)),
 * varint(count), indexes ascending (previous starts at 0).  Varints are
 * LEB128, at most 10 bytes.
 */
#ifndef FRONTDESK_SKETCH_H
#define FRONTDESK_SKETCH_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKETCH_ALPHA 0.01
#define SKETCH_MAX_BUCKET 40000

typedef struct {
    int64_t *counts; /* counts[i - lo] for buckets lo .. lo + cap - 1     */
    int32_t lo;
    int32_t cap;
    int32_t min_i, max_i; /* the nonzero range, when n > zero             */
    int64_t zero;    /* values <= 0                                       */
    int64_t n;       /* every value added                                 */
} sketch;

/* A zeroed struct is an empty sketch; free accepts one. */
void sketch_free(sketch *s);
/* Empty it, keeping its memory. */
void sketch_clear(sketch *s);

int32_t sketch_bucket(double x);    /* x > 0 */
double sketch_bucket_value(int32_t i);
void sketch_add(sketch *s, double x);
void sketch_add_count(sketch *s, double x, int64_t count);
void sketch_merge(sketch *dst, const sketch *src);

/* The value reported for rank r (1-based, 1 <= r <= n); 0 when empty. */
double sketch_rank_value(const sketch *s, int64_t r);
/* The nearest-rank p-th percentile (p in whole percent, 1..100). */
double sketch_percentile(const sketch *s, unsigned p);

/* Append the byte form to out. */
void sketch_encode(const sketch *s, strbuf *out);
/* Add the sketch encoded at p[0..len) into s; *used gets the bytes read.
 * false when the bytes are damaged (err says which field, at which
 * offset); s may then hold part of it. */
bool sketch_decode_add(sketch *s, const uint8_t *p, size_t len, size_t *used, char *err, size_t errlen);

/* LEB128 varints, shared with rollup.c's other blobs. */
void sketch_put_varint(strbuf *out, uint64_t v);
/* Read one at p[*off..len); false when truncated or longer than 10 bytes. */
bool sketch_get_varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v);

#endif
