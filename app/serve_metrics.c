/*
 * serve_metrics.c — GET /metrics: what serve counted since it started, in
 * Prometheus's text exposition format (app/prom.h): the request families
 * `stats --prometheus` exports too (counters and histograms per version ×
 * outcome, every series from start-up at 0, the same `le` bounds), then
 * serve's own counters and each scheduler's gauges.
 *
 * Counts here are the server's memory since it started; the store keeps
 * the same requests for good (a restart resets these, which Prometheus's
 * rate() takes as a counter reset).
 */
#include "app/prom.h"
#include "app/serve.h"

#include "util/util.h"

#include <stdio.h>
#include <string.h>

static const char *const OUTCOMES[SM_OUTCOMES] = {"ok", "error", "cancelled"};

void serve_metrics_init(serve_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void serve_metrics_free(serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

/* The version's entry, or NULL (under mu). */
static sm_version *find(serve_metrics *m, int64_t model_id)
{
    for (int i = 0; i < m->n_v; i++)
        if (m->v[i].model_id == model_id)
            return &m->v[i];
    return NULL;
}

void serve_metrics_version(serve_metrics *m, int64_t model_id, const char *name, const char *sha256)
{
    pthread_mutex_lock(&m->mu);
    if (!find(m, model_id) && m->n_v < SM_VERSIONS) {
        sm_version *v = &m->v[m->n_v++];
        memset(v, 0, sizeof *v);
        v->model_id = model_id;
        snprintf(v->name, sizeof v->name, "%s", name);
        snprintf(v->sha256, sizeof v->sha256, "%.12s", sha256);
        for (int o = 0; o < SM_OUTCOMES; o++) {
            v->by_outcome[o].model_id = model_id;
            snprintf(v->by_outcome[o].outcome, sizeof v->by_outcome[o].outcome, "%s", OUTCOMES[o]);
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_add(serve_metrics *m, int64_t model_id, const char *outcome, bool rejected, int prompt_tokens,
                       int gen_tokens, double latency_ms, double ttft_ms)
{
    int o = 0;
    while (o < SM_OUTCOMES && strcmp(OUTCOMES[o], outcome))
        o++;
    if (o == SM_OUTCOMES)
        o = 1; /* anything else is an error */
    pthread_mutex_lock(&m->mu);
    sm_version *v = find(m, model_id);
    if (!v) {
        pthread_mutex_unlock(&m->mu);
        return;
    }
    db_rollup_total *t = &v->by_outcome[o];
    t->requests++;
    v->rejected += rejected;
    if (prompt_tokens > 0)
        t->prompt_tokens += prompt_tokens;
    if (gen_tokens >= 0) {
        t->gen_tokens += gen_tokens;
        t->tokens_le[prom_bucket(rollup_le_tokens, ROLLUP_N_LE_TOKENS, gen_tokens)]++;
        t->tokens_n++;
    }
    if (latency_ms >= 0) {
        t->latency_le[prom_bucket(rollup_le_seconds, ROLLUP_N_LE_SECONDS, latency_ms / 1e3)]++;
        t->latency_sum_s += latency_ms / 1e3;
        t->latency_n++;
    }
    if (ttft_ms >= 0 && gen_tokens > 0) {
        t->ttft_le[prom_bucket(rollup_le_seconds, ROLLUP_N_LE_SECONDS, ttft_ms / 1e3)]++;
        t->ttft_sum_s += ttft_ms / 1e3;
        t->ttft_n++;
    }
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_count(serve_metrics *m, int64_t *counter)
{
    pthread_mutex_lock(&m->mu);
    (*counter)++;
    pthread_mutex_unlock(&m->mu);
}

/* One gauge family: a sample per loaded version. */
static void gauges(strbuf *sb, const serve_metrics *m, const char *name, const char *help, const batch_load *loads,
                   const int64_t *ids, int n, double (*value)(const batch_load *))
{
    prom_family(sb, name, "gauge", help);
    for (int i = 0; i < m->n_v; i++) {
        const sm_version *v = &m->v[i];
        const batch_load *load = NULL;
        for (int j = 0; j < n && !load; j++)
            if (ids[j] == v->model_id)
                load = &loads[j];
        prom_label l[] = {{"model", v->name}, {"sha256", v->sha256}};
        prom_sample(sb, name, l, 2, load ? value(load) : 0);
    }
}

static double running(const batch_load *l) { return l->running; }
static double queued(const batch_load *l) { return l->queued; }
static double slots(const batch_load *l) { return l->n_parallel; }
static double kv_ratio(const batch_load *l) { return l->kv_size > 0 ? (double)l->kv_used / (double)l->kv_size : 0; }

char *serve_metrics_text(serve_metrics *m, const batch_load *loads, const int64_t *ids, int n)
{
    strbuf sb = {0};
    pthread_mutex_lock(&m->mu);
    prom_row rows[SM_VERSIONS * SM_OUTCOMES];
    size_t n_rows = 0;
    for (int i = 0; i < m->n_v; i++)
        for (int o = 0; o < SM_OUTCOMES; o++)
            rows[n_rows++] = (prom_row){m->v[i].name, m->v[i].sha256, &m->v[i].by_outcome[o]};
    prom_requests(&sb, rows, n_rows);

    prom_family(&sb, "frontdesk_rejected_requests_total", "counter",
                "Of the requests ended in error: turned away because every slot was busy and the queue full.");
    for (int i = 0; i < m->n_v; i++) {
        prom_label l[] = {{"model", m->v[i].name}, {"sha256", m->v[i].sha256}};
        prom_sample(&sb, "frontdesk_rejected_requests_total", l, 2, (double)m->v[i].rejected);
    }
    prom_family(&sb, "frontdesk_bad_requests_total", "counter", "Requests answered with a 4xx status.");
    prom_sample(&sb, "frontdesk_bad_requests_total", NULL, 0, (double)m->bad_requests);
    prom_family(&sb, "frontdesk_feedback_total", "counter", "Ratings received through POST /v1/feedback.");
    prom_sample(&sb, "frontdesk_feedback_total", NULL, 0, (double)m->feedback);

    gauges(&sb, m, "frontdesk_running_sequences", "Completions generating now.", loads, ids, n, running);
    gauges(&sb, m, "frontdesk_queued_sequences", "Completions waiting for a slot.", loads, ids, n, queued);
    gauges(&sb, m, "frontdesk_parallel_slots", "Completions that can generate at once.", loads, ids, n, slots);
    gauges(&sb, m, "frontdesk_kv_cache_usage_ratio", "Share of the KV cache's positions in use (0-1).", loads, ids,
           n, kv_ratio);
    pthread_mutex_unlock(&m->mu);
    return sb.data; /* NUL-terminated; the caller frees it */
}
