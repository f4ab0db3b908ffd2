/*
 * dash.h — the Dashboard screen: model health from the store, refreshed
 * every second by app/ (computed off the UI thread).
 *
 * Layout: headline figures (requests/min, error rate, p50/p95/p99 latency
 * and time to first token, prefill and decode tokens/s, tokens generated)
 * for the chosen window; per-minute sparklines of the last hour
 * (requests, p95 latency, decode tokens/s, errors) drawn with the block
 * characters ▁▂▃▄▅▆▇█; a per-model table; the latest errors; the alerts
 * panel listing the thresholds breached over the window shown, then the
 * latest alert episodes (newest first, the open ones marked firing).  A
 * figure whose threshold is breached is drawn UI_S_BAD.
 *
 * Keys: w cycles the window 1m → 5m → 1h → 24h → 1m; Up/Down (j/k) scroll
 * the lower panels.
 */
#ifndef FRONTDESK_UI_DASH_H
#define FRONTDESK_UI_DASH_H

#include "ui/frame.h"
#include "ui/key.h"

#include <stdint.h>

typedef struct {
    bool valid; /* false: no values (drawn as "–") */
    double p50, p90, p95, p99;
} dash_pcts;

typedef struct {
    const char *name; /* display name · quantization */
    int64_t requests;
    double error_rate; /* 0..1 */
    dash_pcts latency_ms, ttft_ms;
    double decode_tps;
    int64_t with_confidence, low_confidence; /* replies with a known confidence; below [deploy] low_confidence */
} dash_model_row;

typedef struct {
    const char *when; /* preformatted local time */
    const char *model;
    const char *outcome; /* error / timeout / interrupted */
    const char *message; /* untrusted text */
} dash_error_row;

/* One alert episode, as the store recorded it (app/alerts.h). */
typedef struct {
    const char *name;  /* "error_rate", "guard", ...                      */
    const char *when;  /* preformatted: "since 12-06 14:02:11" or
                        * "12-06 14:02:11 – 14:07:30"                      */
    const char *text;  /* what fired, e.g. "error rate 50.0% > 5.0% (10 of 20)"
                        * (untrusted: escaped when drawn; may be NULL)     */
    bool firing;       /* still open                                      */
} dash_episode_row;

/* Which headline figures breach a threshold. */
enum {
    DASH_BAD_LATENCY = 1,
    DASH_BAD_TTFT = 2,
    DASH_BAD_ERRORS = 4,
    DASH_BAD_THUMBS = 8,
    DASH_BAD_DECODE = 16,
};

typedef struct {
    /* ---- data, set by app/ ---- */
    const char *window;        /* "1m" "5m" "1h" "24h"                    */
    bool loading;              /* no figures yet                          */
    int64_t requests, errors, running;
    double error_rate, requests_per_min;
    dash_pcts latency_ms, ttft_ms;
    double prefill_tps, decode_tps;
    int64_t tokens_generated;
    double thumbs_down_rate;   /* of rated replies in the window, 0..1    */
    int64_t thumbs_n;          /* how many thumbs that rate is over       */
    /* per-minute series of the last hour, oldest first (n_series each) */
    const double *s_requests, *s_latency_p95, *s_decode_tps, *s_errors;
    size_t n_series;
    const dash_model_row *models;
    size_t n_models;
    const dash_error_row *errors_list;
    size_t n_errors;
    const char *const *alerts; /* one line each, e.g. "p95 latency 4.1 s > 3 s" */
    size_t n_alerts;
    const dash_episode_row *episodes; /* the latest, newest first          */
    size_t n_episodes;
    unsigned bad;              /* DASH_BAD_* flags                        */
    const char *updated;       /* "updated 16:18:05"                      */

    /* ---- UI state ---- */
    int scroll;
} dash_view;

typedef enum { DASH_NONE, DASH_WINDOW } dash_action;

void dash_init(dash_view *v);
dash_action dash_key(dash_view *v, ui_key k);
void dash_render(const dash_view *v, ui_frame *f, int x, int y, int w, int h);
/* A sparkline of v[0..n) in `width` cells (the last `width` values; each
 * scaled to the series' maximum) into out (UTF-8, caller's buffer of at
 * least 3 * width + 1 bytes). */
void dash_sparkline(const double *v, size_t n, int width, char *out);

extern const char *const dash_help[];

#endif
