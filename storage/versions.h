/*
 * versions.h — what one model version did over a time window, as the
 * comparison of two versions needs it: one unit per reply (its thumbs and
 * score across raters, its confidence) and one per request (its outcome,
 * latency, time to first token, decode speed).
 *
 * Only traffic counts: replies in conversations pinned to a version
 * (--model, --backend) and requests made for evaluation or blind review
 * are left out.  A reply's thumbs is up when every rater who gave one gave
 * up, down when any gave down; its score is the mean of its raters'
 * scores.  A request is an error when it ended error, timeout or
 * interrupted; cancelled and running ones are not counted at all.
 */
#ifndef FRONTDESK_VERSIONS_H
#define FRONTDESK_VERSIONS_H

#include "storage/db.h"

typedef struct {
    int64_t replies;            /* agent replies with text                   */
    int64_t thumbs_up, thumbs_down;
    double *scores;             /* per scored reply: its raters' mean        */
    size_t n_scores;
    int64_t with_confidence, low_confidence; /* replies with a known mean log-prob; those below the threshold */
    int64_t requests, errors;   /* finished, cancelled left out              */
    double *ms_per_token;       /* ok requests: latency / generated tokens   */
    size_t n_ms_per_token;
    double *ttft_ms;
    size_t n_ttft;
    double *decode_tps;
    size_t n_decode_tps;
    double latency_p95_ms;      /* ok requests; NAN when none                */
    double first_used, last_used; /* of the version's traffic; 0 when none */
} db_version_sample;

/* Version model_id's traffic that started (requests) or was created
 * (replies) in [from, to]; low_conf: the mean log-probability below which
 * a reply counts as low-confidence. */
db_status db_version_sample_get(db *d, int64_t model_id, double from, double to, double low_conf,
                                db_version_sample *out);
void db_version_sample_free(db_version_sample *s);

/* Per version, the replies created in [from, to] whose confidence is known
 * and how many of them fall below low_conf (the dashboard's low-confidence
 * share), most replies first; pinned conversations included (a drift
 * signal is about what customers ask, whoever chose the version). */
typedef struct {
    int64_t model_id, with_confidence, low_confidence;
} db_model_confidence;
db_status db_confidence_by_model(db *d, double from, double to, double low_conf, db_model_confidence **out,
                                 size_t *n);

#endif
