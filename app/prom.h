/*
 * prom.h — the Prometheus text exposition format (version 0.0.4), written
 * into a strbuf, and the request families that `frontdesk stats
 * --prometheus` (cumulative since the store began, from the rollups) and
 * serve's GET /metrics (since the server started) both export, so the two
 * have the same names, labels, help and `le` bounds (storage/rollup.h's).
 *
 * The format, per family: "# HELP name text", "# TYPE name counter|gauge|
 * histogram", then its samples "name{label="value",...} number", every
 * sample of a family together.  A histogram's samples are name_bucket with
 * an "le" label per upper bound, counts cumulative, the last le="+Inf"
 * equal to name_count, then name_sum and name_count.  Label values escape
 * backslash, double quote and newline (\\ \" \n); nothing else is escaped.
 *
 * Not here: parsing, OpenMetrics (# EOF, _created), timestamps.
 */
#ifndef FRONTDESK_PROM_H
#define FRONTDESK_PROM_H

#include "storage/rollup.h"
#include "util/util.h"

#include <stddef.h>
#include <stdint.h>

/* ---- The writer -------------------------------------------------------------------- */

typedef struct {
    const char *name, *value;
} prom_label;

/* "# HELP" and "# TYPE" lines: once per family, before its samples. */
void prom_family(strbuf *sb, const char *name, const char *type, const char *help);

/* A label value with \, " and newline escaped (no quotes added). */
void prom_escape(strbuf *sb, const char *value);

/* A number as Prometheus reads it: whole numbers without a fraction, others
 * in the fewest digits that read back the same, NaN, +Inf, -Inf. */
void prom_number(strbuf *sb, double v);

/* One sample: name{labels} value (no braces when n_labels is 0). */
void prom_sample(strbuf *sb, const char *name, const prom_label *labels, size_t n_labels, double value);

/* Which bucket v falls in: the first i with v <= bounds[i] (bounds
 * ascending), n_bounds when above them all (the +Inf bucket). */
size_t prom_bucket(const double *bounds, size_t n_bounds, double v);

/* A histogram's samples (no # lines): per_bucket[0..n_bounds] are counts
 * of the values in each bucket, not cumulative (the last: above every
 * bound); written cumulative, with le="+Inf" and _count their total. */
void prom_histogram(strbuf *sb, const char *name, const prom_label *labels, size_t n_labels, const double *bounds,
                    size_t n_bounds, const int64_t *per_bucket, double sum);

/* ---- frontdesk's request families ------------------------------------------------------ */

/* One version × outcome: labels model (the version's display name),
 * sha256 (its first 12 hex digits; "" for a remote version) and outcome
 * (t->outcome).  Figures from t: requests, gen_tokens, prompt_tokens, the
 * per-bound counts and the time sums (the token histogram's sum is
 * gen_tokens). */
typedef struct {
    const char *model, *sha256;
    const db_rollup_total *t;
} prom_row;

/* Every request family, each over all rows in their order:
 *   frontdesk_requests_total, frontdesk_prompt_tokens_total,
 *   frontdesk_generated_tokens_total (counters),
 *   frontdesk_request_duration_seconds, frontdesk_time_to_first_token_seconds
 *   (histograms on rollup_le_seconds), frontdesk_request_generated_tokens
 *   (histogram on rollup_le_tokens). */
void prom_requests(strbuf *sb, const prom_row *rows, size_t n);

#endif
