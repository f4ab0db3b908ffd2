/*
 * serve_metrics.c — GET /metrics: what serve counted since it started, in
 * Prometheus's text exposition format (# HELP / # TYPE, counters ending in
 * _total, cumulative histogram buckets with le="+Inf", _sum and _count).
 */
#include "app/serve.h"

#include "util/util.h"

#include <math.h>
#include <string.h>

static const double TIME_BOUNDS[SM_TIME_BUCKETS] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
static const double TOKEN_BOUNDS[SM_TOKEN_BUCKETS] = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

void serve_metrics_init(serve_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void serve_metrics_free(serve_metrics *m) { pthread_mutex_destroy(&m->mu); }

static void observe(sm_histogram *h, const double *bounds, int n_bounds, double v)
{
    int i = 0;
    while (i < n_bounds && v > bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
    h->n++;
}

void serve_metrics_add(serve_metrics *m, const char *outcome, int prompt_tokens, int gen_tokens,
                       double latency_ms, double ttft_ms)
{
    pthread_mutex_lock(&m->mu);
    if (!strcmp(outcome, "ok"))
        m->ok++;
    else if (!strcmp(outcome, "cancelled"))
        m->cancelled++;
    else
        m->error++;
    if (prompt_tokens > 0)
        m->prompt_tokens += (uint64_t)prompt_tokens;
    if (gen_tokens > 0) {
        m->generated_tokens += (uint64_t)gen_tokens;
        observe(&m->gen_tokens, TOKEN_BOUNDS, SM_TOKEN_BUCKETS, gen_tokens);
    }
    if (latency_ms >= 0)
        observe(&m->latency, TIME_BOUNDS, SM_TIME_BUCKETS, latency_ms / 1e3);
    if (ttft_ms >= 0 && gen_tokens > 0)
        observe(&m->ttft, TIME_BOUNDS, SM_TIME_BUCKETS, ttft_ms / 1e3);
    pthread_mutex_unlock(&m->mu);
}

void serve_metrics_count(serve_metrics *m, uint64_t *counter)
{
    pthread_mutex_lock(&m->mu);
    (*counter)++;
    pthread_mutex_unlock(&m->mu);
}

/* A label value with \, " and newline escaped. */
static void label(strbuf *sb, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sb_printf(sb, "\\%c", *v);
        else if (*v == '\n')
            sb_puts(sb, "\\n");
        else
            sb_append(sb, v, 1);
    }
}

static void head(strbuf *sb, const char *name, const char *type, const char *help)
{
    sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(strbuf *sb, const char *name, const char *help, const sm_histogram *h,
                      const double *bounds, int n_bounds, const char *model)
{
    head(sb, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i <= n_bounds; i++) {
        cum += h->counts[i];
        sb_printf(sb, "%s_bucket{model=\"", name);
        label(sb, model);
        if (i < n_bounds)
            sb_printf(sb, "\",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)cum);
        else
            sb_printf(sb, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    sb_printf(sb, "%s_sum{model=\"", name);
    label(sb, model);
    sb_printf(sb, "\"} %.6f\n%s_count{model=\"", h->sum, name);
    label(sb, model);
    sb_printf(sb, "\"} %llu\n", (unsigned long long)h->n);
}

static void counter(strbuf *sb, const char *name, const char *model, const char *extra, uint64_t v)
{
    sb_printf(sb, "%s{model=\"", name);
    label(sb, model);
    sb_printf(sb, "\"%s} %llu\n", extra, (unsigned long long)v);
}

char *serve_metrics_text(serve_metrics *m, const batch_load *load, const char *model)
{
    strbuf sb = {0};
    pthread_mutex_lock(&m->mu);
    head(&sb, "frontdesk_requests_total", "counter",
         "Chat completions answered, by outcome (rejected: every slot busy and the queue full).");
    counter(&sb, "frontdesk_requests_total", model, ",outcome=\"ok\"", m->ok);
    counter(&sb, "frontdesk_requests_total", model, ",outcome=\"error\"", m->error - m->rejected);
    counter(&sb, "frontdesk_requests_total", model, ",outcome=\"cancelled\"", m->cancelled);
    counter(&sb, "frontdesk_requests_total", model, ",outcome=\"rejected\"", m->rejected);
    head(&sb, "frontdesk_bad_requests_total", "counter", "Requests answered with a 4xx status.");
    counter(&sb, "frontdesk_bad_requests_total", model, "", m->bad_requests);
    head(&sb, "frontdesk_prompt_tokens_total", "counter", "Prompt tokens evaluated.");
    counter(&sb, "frontdesk_prompt_tokens_total", model, "", m->prompt_tokens);
    head(&sb, "frontdesk_generated_tokens_total", "counter", "Tokens generated.");
    counter(&sb, "frontdesk_generated_tokens_total", model, "", m->generated_tokens);
    head(&sb, "frontdesk_feedback_total", "counter", "Ratings received through POST /v1/feedback.");
    counter(&sb, "frontdesk_feedback_total", model, "", m->feedback);
    histogram(&sb, "frontdesk_request_duration_seconds", "Time from a request's arrival to its last token.",
              &m->latency, TIME_BOUNDS, SM_TIME_BUCKETS, model);
    histogram(&sb, "frontdesk_time_to_first_token_seconds",
              "Time from a request's arrival (queue included) to its first token.", &m->ttft, TIME_BOUNDS,
              SM_TIME_BUCKETS, model);
    histogram(&sb, "frontdesk_generated_tokens", "Tokens generated per completion.", &m->gen_tokens,
              TOKEN_BOUNDS, SM_TOKEN_BUCKETS, model);
    pthread_mutex_unlock(&m->mu);
    head(&sb, "frontdesk_running_sequences", "gauge", "Completions generating now.");
    sb_printf(&sb, "frontdesk_running_sequences %d\n", load->running);
    head(&sb, "frontdesk_queued_sequences", "gauge", "Completions waiting for a slot.");
    sb_printf(&sb, "frontdesk_queued_sequences %d\n", load->queued);
    head(&sb, "frontdesk_parallel_slots", "gauge", "Completions that can generate at once.");
    sb_printf(&sb, "frontdesk_parallel_slots %d\n", load->n_parallel);
    head(&sb, "frontdesk_kv_cache_usage_ratio", "gauge", "Share of the KV cache's positions in use.");
    sb_printf(&sb, "frontdesk_kv_cache_usage_ratio %.6f\n",
              load->kv_size > 0 ? (double)load->kv_used / (double)load->kv_size : 0.0);
    return sb.data; /* NUL-terminated; the caller frees it */
}
