/*
 * tui_dash.c — the Dashboard: the feed's snapshot turned into a dash_view,
 * and the config's thresholds turned into red figures and alerts.
 */
#include "app/tui.h"

#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tui_dash_free(tui *t)
{
    if (t->have_snap)
        dash_snapshot_free(&t->snap);
    t->have_snap = false;
    free(t->d_models);
    free(t->d_errors);
    free(t->d_error_when);
    for (size_t i = 0; t->d_model_names && t->d_model_names[i]; i++)
        free(t->d_model_names[i]);
    free(t->d_model_names);
    for (size_t i = 0; i < t->n_d_alerts; i++)
        free(t->d_alerts[i]);
    free(t->d_alerts);
    free(t->d_series);
    t->d_models = NULL;
    t->d_errors = NULL;
    t->d_error_when = NULL;
    t->d_model_names = NULL;
    t->d_alerts = NULL;
    t->n_d_alerts = 0;
    t->d_series = NULL;
}

static dash_pcts pcts(const db_pcts *p)
{
    return (dash_pcts){p->valid, p->p50, p->p90, p->p95, p->p99};
}

static const char *model_name(const dash_snapshot *s, int64_t id)
{
    for (size_t i = 0; i < s->n_models; i++)
        if (s->models[i].id == id)
            return s->models[i].display_name;
    return id ? "?" : "(forgotten)";
}

static void alert(tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void alert(tui *t, const char *fmt, ...)
{
    char buf[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    t->d_alerts = xreallocarray(t->d_alerts, t->n_d_alerts + 1, sizeof *t->d_alerts);
    t->d_alerts[t->n_d_alerts++] = xstrdup(buf);
}

/* Thresholds of the config against the window's figures. */
static unsigned check_thresholds(tui *t, const dash_snapshot *s)
{
    const config *c = &t->cfg;
    const db_stats *st = &s->stats;
    unsigned bad = 0;
    if (c->latency_p95_ms > 0 && st->latency_ms.valid && st->latency_ms.p95 > c->latency_p95_ms) {
        bad |= DASH_BAD_LATENCY;
        alert(t, "p95 latency %.0f ms > %.0f ms", st->latency_ms.p95, c->latency_p95_ms);
    }
    if (c->ttft_p95_ms > 0 && st->ttft_ms.valid && st->ttft_ms.p95 > c->ttft_p95_ms) {
        bad |= DASH_BAD_TTFT;
        alert(t, "p95 time to first token %.0f ms > %.0f ms", st->ttft_ms.p95, c->ttft_p95_ms);
    }
    if (st->requests && st->error_rate > c->error_rate) {
        bad |= DASH_BAD_ERRORS;
        alert(t, "error rate %.1f%% > %.1f%% (%lld of %lld)", 100 * st->error_rate, 100 * c->error_rate,
              (long long)st->errors, (long long)st->requests);
    }
    if (s->thumbs_n >= c->thumbs_min_sample && s->thumbs_n > 0 && s->thumbs_down_rate > c->thumbs_down_rate) {
        bad |= DASH_BAD_THUMBS;
        alert(t, "thumbs down %.0f%% > %.0f%% (of %lld)", 100 * s->thumbs_down_rate, 100 * c->thumbs_down_rate,
              (long long)s->thumbs_n);
    }
    if (c->decode_tps_min > 0 && st->decode_tps > 0 && st->decode_tps < c->decode_tps_min) {
        bad |= DASH_BAD_DECODE;
        alert(t, "decode %.1f tok/s < %.1f tok/s", st->decode_tps, c->decode_tps_min);
    }
    return bad;
}

void tui_dash_update(tui *t)
{
    dash_snapshot s;
    if (!dashfeed_take(t->df, &s))
        return;
    int scroll = t->sv.dash.scroll;
    tui_dash_free(t);
    t->snap = s;
    t->have_snap = true;
    dash_view *v = &t->sv.dash;
    memset(v, 0, sizeof *v);
    dash_init(v);
    v->scroll = scroll;
    v->window = db_window_name(s.window);
    if (s.error[0])
        tui_notice(t, true, "dashboard: %s", s.error);
    const db_stats *st = &s.stats;
    v->requests = st->requests;
    v->errors = st->errors;
    v->running = st->running;
    v->error_rate = st->error_rate;
    v->requests_per_min = st->requests_per_min;
    v->latency_ms = pcts(&st->latency_ms);
    v->ttft_ms = pcts(&st->ttft_ms);
    v->prefill_tps = st->prefill_tps;
    v->decode_tps = st->decode_tps;
    v->tokens_generated = st->tokens_generated;
    v->thumbs_down_rate = s.thumbs_down_rate;
    v->thumbs_n = s.thumbs_n;

    size_t n = s.hour.n_series;
    t->d_series = xcalloc(4 * (n ? n : 1), sizeof *t->d_series);
    for (size_t i = 0; i < n; i++) {
        const db_minute *m = &s.hour.series[i];
        t->d_series[i] = (double)m->requests;
        t->d_series[n + i] = m->latency_ms.valid ? m->latency_ms.p95 : 0;
        t->d_series[2 * n + i] = m->decode_tps;
        t->d_series[3 * n + i] = (double)m->errors;
    }
    v->s_requests = t->d_series;
    v->s_latency_p95 = t->d_series + n;
    v->s_decode_tps = t->d_series + 2 * n;
    v->s_errors = t->d_series + 3 * n;
    v->n_series = n;

    t->d_models = xcalloc(st->n_models + 1, sizeof *t->d_models);
    t->d_model_names = xcalloc(st->n_models + 1, sizeof *t->d_model_names);
    for (size_t i = 0; i < st->n_models; i++) {
        const db_model_stats *ms = &st->models[i];
        const char *quant = NULL;
        for (size_t k = 0; k < s.n_models; k++)
            if (s.models[k].id == ms->model_id)
                quant = s.models[k].quant;
        strbuf sb = {0};
        sb_printf(&sb, "%s%s%s", model_name(&s, ms->model_id), quant ? " · " : "", quant ? quant : "");
        t->d_model_names[i] = sb.data;
        t->d_models[i] = (dash_model_row){.name = sb.data,
                                          .requests = ms->requests,
                                          .error_rate = ms->requests ? (double)ms->errors / (double)ms->requests : 0,
                                          .latency_ms = pcts(&ms->latency_ms),
                                          .ttft_ms = pcts(&ms->ttft_ms),
                                          .decode_tps = ms->decode_tps};
    }
    v->models = t->d_models;
    v->n_models = st->n_models;

    t->d_errors = xcalloc(s.n_errors + 1, sizeof *t->d_errors);
    t->d_error_when = xcalloc(s.n_errors + 1, sizeof *t->d_error_when);
    for (size_t i = 0; i < s.n_errors; i++) {
        time_t at = (time_t)s.errors[i].at;
        struct tm tm;
        localtime_r(&at, &tm);
        strftime(t->d_error_when[i], sizeof t->d_error_when[i], "%m-%d %H:%M:%S", &tm);
        t->d_errors[i] = (dash_error_row){.when = t->d_error_when[i],
                                          .model = model_name(&s, s.errors[i].model_id),
                                          .outcome = s.errors[i].outcome,
                                          .message = s.errors[i].error};
    }
    v->errors_list = t->d_errors;
    v->n_errors = s.n_errors;

    v->bad = check_thresholds(t, &s);
    v->alerts = (const char *const *)t->d_alerts;
    v->n_alerts = t->n_d_alerts;
    time_t at = (time_t)s.at;
    struct tm tm;
    localtime_r(&at, &tm);
    strftime(t->d_updated, sizeof t->d_updated, "updated %H:%M:%S", &tm);
    v->updated = t->d_updated;
    v->loading = false;
}
