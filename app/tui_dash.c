/*
 * tui_dash.c — the Dashboard: the feed's snapshot turned into a dash_view,
 * the config's thresholds (decided by alerts_decide, app/alerts.h) turned
 * into red figures and alert lines, the store's alert episodes listed.
 */
#include "app/tui.h"

#include "app/alerts.h"

#include "util/util.h"

#include <jansson.h>
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
    for (size_t i = 0; i < t->n_d_episodes; i++)
        free(t->d_episode_text[i]);
    free(t->d_episode_text);
    free(t->d_episodes);
    free(t->d_episode_when);
    t->d_episode_text = NULL;
    t->d_episodes = NULL;
    t->d_episode_when = NULL;
    t->n_d_episodes = 0;
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

/* The thresholds over the window shown: red figures and alert lines. */
static unsigned check_thresholds(tui *t, const dash_snapshot *s)
{
    static const unsigned flag[ALERT_N_THRESHOLDS] = {
        [ALERT_LATENCY] = DASH_BAD_LATENCY, [ALERT_TTFT] = DASH_BAD_TTFT, [ALERT_ERRORS] = DASH_BAD_ERRORS,
        [ALERT_THUMBS] = DASH_BAD_THUMBS,   [ALERT_DECODE] = DASH_BAD_DECODE,
    };
    alert_state a[ALERT_N_THRESHOLDS];
    alerts_decide(&t->cfg, &s->stats, s->thumbs_down_rate, s->thumbs_n, a);
    unsigned bad = 0;
    for (int k = 0; k < ALERT_N_THRESHOLDS; k++) {
        if (!a[k].firing)
            continue;
        bad |= flag[k];
        t->d_alerts = xreallocarray(t->d_alerts, t->n_d_alerts + 1, sizeof *t->d_alerts);
        t->d_alerts[t->n_d_alerts++] = xstrdup(a[k].text);
    }
    return bad;
}

/* The store's latest alert episodes as rows. */
static void episodes(tui *t, const dash_snapshot *s, dash_view *v)
{
    size_t n = s->n_episodes;
    t->d_episodes = xcalloc(n + 1, sizeof *t->d_episodes);
    t->d_episode_when = xcalloc(n + 1, sizeof *t->d_episode_when);
    t->d_episode_text = xcalloc(n + 1, sizeof *t->d_episode_text);
    for (size_t i = 0; i < n; i++) {
        const db_alert_episode *e = &s->episodes[i];
        char from[24], to[24];
        time_t at = (time_t)e->started_at;
        struct tm tm;
        localtime_r(&at, &tm);
        strftime(from, sizeof from, "%m-%d %H:%M:%S", &tm);
        if (e->ended_at > 0) {
            at = (time_t)e->ended_at;
            localtime_r(&at, &tm);
            strftime(to, sizeof to, "%H:%M:%S", &tm);
            snprintf(t->d_episode_when[i], sizeof t->d_episode_when[i], "%s – %s", from, to);
        } else
            snprintf(t->d_episode_when[i], sizeof t->d_episode_when[i], "since %s", from);
        json_t *j = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
        const char *text = json_string_value(json_object_get(j, "text"));
        t->d_episode_text[i] = text ? xstrdup(text) : NULL;
        json_decref(j);
        t->d_episodes[i] = (dash_episode_row){.name = e->name,
                                              .when = t->d_episode_when[i],
                                              .text = t->d_episode_text[i],
                                              .firing = e->ended_at <= 0};
    }
    t->n_d_episodes = n;
    v->episodes = t->d_episodes;
    v->n_episodes = n;
}

void tui_dash_notices(tui *t)
{
    char msg[300];
    bool bad;
    if (t->df && dashfeed_take_notice(t->df, msg, sizeof msg, &bad))
        tui_notice(t, bad, "%s", msg);
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
        for (size_t k = 0; k < s.n_confidence; k++)
            if (s.confidence[k].model_id == ms->model_id) {
                t->d_models[i].with_confidence = s.confidence[k].with_confidence;
                t->d_models[i].low_confidence = s.confidence[k].low_confidence;
            }
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
    episodes(t, &s, v);
    time_t at = (time_t)s.at;
    struct tm tm;
    localtime_r(&at, &tm);
    strftime(t->d_updated, sizeof t->d_updated, "updated %H:%M:%S", &tm);
    v->updated = t->d_updated;
    v->loading = false;
}
