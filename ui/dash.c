/*
 * dash.c — the Dashboard screen: a dash_view drawn into a frame, keys
 * turned into dash_actions.
 *
 * Layout, top to bottom (every row clipped to the rectangle):
 *   "Dashboard — window 5m (w to change)"           "updated 16:18:05"
 *   the headline figures, five labelled rows:
 *     requests  12.5/min        running 1          tokens 12,345
 *     errors    2.0% (3 of 150) thumbs down 12% of 25
 *     latency   p50 850 ms      p95 2.3 s          p99 4.1 s
 *     TTFT      p50 180 ms      p95 420 ms         p99 1.1 s
 *     tok/s     prefill 512.3   decode 41.2
 *   a separator row, then the lower panels as one column of lines that
 *   Up/Down scroll: Alerts (first, so a short terminal still shows them:
 *   the thresholds breached over the window shown, then the latest alert
 *   episodes, "● firing" or "○ ended"),
 *   "Last hour, per minute" sparklines, the per-model table, the latest
 *   errors.  When the column does not fit, its last row says how many
 *   lines are below and the separator row how many are above: panels
 *   drop from the bottom, never the figures or the alerts first.
 *
 * A figure flagged in v->bad is UI_S_BAD (so is its sparkline); an error
 * rate of 0 is UI_S_GOOD.  Missing values (invalid percentiles, no
 * requests, no ratings, NaN) are "–".
 *
 * What this file does not do: compute any figure (app/ does, off the UI
 * thread), or decide thresholds (v->bad and v->alerts arrive made).
 */
#include "ui/dash.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    LABEL_W = 10,     /* the figures' row labels: "requests  "          */
    SPARK_LABEL_W = 13,
    SPARK_VALUE_W = 8,
    SPARK_MAX = 60,   /* an hour of minutes                              */
    FIELD_GAP = 2,
    PAGE_LINES = 10,  /* PgUp/PgDn: dash_key cannot know the real page    */
    WHEEL_LINES = 3,
    REF_PAGE = 7,     /* the column's rows at 60x14 (the smallest screen):
                         bounds `scroll` in dash_key; render clamps exactly */
    FIGURE_ROWS = 5,
};

#define DASH_NA "–"

const char *const dash_help[] = {
    "w", "window: 1m→5m→1h→24h→7d→30d",
    "Up / Down, j / k", "scroll the lower panels",
    "PgUp / PgDn", "scroll the lower panels by a page",
    "Home / End", "top / bottom of the lower panels",
    NULL,
};

/* ---- Formatting ------------------------------------------------------------------ */

static void fmt_ms(char *buf, size_t n, double ms)
{
    if (!isfinite(ms) || ms < 0)
        snprintf(buf, n, "%s", DASH_NA);
    else if (ms < 999.5)
        snprintf(buf, n, "%.0f ms", ms);
    else if (ms < 99950)
        snprintf(buf, n, "%.1f s", ms / 1000);
    else
        snprintf(buf, n, "%.0f s", ms / 1000);
}

/* A rate such as tokens/s: one decimal; none or nonsense is "–". */
static void fmt_rate(char *buf, size_t n, double v)
{
    if (!isfinite(v) || v <= 0)
        snprintf(buf, n, "%s", DASH_NA);
    else
        snprintf(buf, n, "%.1f", v);
}

/* An integer with thousands separators: 1234567 → "1,234,567". */
static void fmt_count(char *buf, size_t n, int64_t v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v);
    const char *d = digits;
    char out[48];
    size_t o = 0;
    if (*d == '-')
        out[o++] = *d++;
    size_t nd = strlen(d);
    for (size_t i = 0; i < nd; i++) {
        if (i && (nd - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = d[i];
    }
    out[o] = 0;
    snprintf(buf, n, "%s", out);
}

static void fmt_pct(char *buf, size_t n, double rate)
{
    if (!isfinite(rate) || rate < 0)
        snprintf(buf, n, "%s", DASH_NA);
    else
        snprintf(buf, n, "%.1f%%", 100 * rate);
}

/* ---- Drawing helpers ------------------------------------------------------------- */

/* ---- Sparklines ------------------------------------------------------------------ */

/* Scale: 0 .. the largest finite value of the whole series (shown or
 * not, as dash.h says).  A positive value v is level 1 + floor(7 v / max)
 * (1..8 → ▁..█): only the maximum reaches █, and any traffic at all shows
 * at least ▁.  A zero or negative value is a gap (' '), except in a
 * series whose maximum is 0: that is all ▁, a flat baseline that says
 * "nothing" rather than "no data".  A non-finite value is always a gap.
 * Cells before the first value (width > n) are spaces, so the newest
 * value is always in the rightmost cell. */
void dash_sparkline(const double *v, size_t n, int width, char *out)
{
    static const char *const bars[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    char *o = out;
    if (width <= 0 || !v)
        n = 0;
    size_t cells = width > 0 ? (size_t)width : 0;
    size_t first = n > cells ? n - cells : 0; /* the last `width` values */
    size_t shown = n - first, pad = cells - shown;
    double max = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] > max)
            max = v[i];
    for (size_t i = 0; i < pad; i++)
        *o++ = ' ';
    for (size_t i = first; i < n; i++) {
        const char *c;
        if (!isfinite(v[i]))
            c = " ";
        else if (max <= 0)
            c = bars[0];
        else if (v[i] <= 0)
            c = " ";
        else {
            /* the largest is full: 7 v / v can round to just under 7 */
            double lv = v[i] >= max ? 8 : 1 + floor(7 * v[i] / max);
            int l = lv < 1 ? 1 : lv > 8 ? 8 : (int)lv;
            c = bars[l - 1];
        }
        size_t cl = strlen(c);
        memcpy(o, c, cl);
        o += cl;
    }
    *o = 0;
}

/* ---- Headline figures ------------------------------------------------------------ */

/* One labelled value: pre (muted) value (styled, bold) post (muted). */
typedef struct {
    const char *pre;
    char value[32];
    char post[48];
    ui_style style;
} field;

typedef struct {
    const char *label;
    field f[3];
    int n;
    bool bad; /* the row label too */
} figure_row;

static ui_style flagged(const dash_view *v, unsigned flag)
{
    return (v->bad & flag) ? UI_S_BAD : UI_S_NORMAL;
}

static void pct_fields(figure_row *r, const dash_pcts *p, ui_style p95_style)
{
    static const char *const pre[3] = {"p50 ", "p95 ", "p99 "};
    double val[3] = {p->p50, p->p95, p->p99};
    r->n = 3;
    for (int i = 0; i < 3; i++) {
        r->f[i].pre = pre[i];
        r->f[i].style = i == 1 ? p95_style : UI_S_NORMAL;
        if (p->valid)
            fmt_ms(r->f[i].value, sizeof r->f[i].value, val[i]);
        else
            snprintf(r->f[i].value, sizeof r->f[i].value, "%s", DASH_NA);
    }
}

static void build_figures(const dash_view *v, figure_row rows[FIGURE_ROWS])
{
    memset(rows, 0, FIGURE_ROWS * sizeof *rows);
    figure_row *r = &rows[0];
    r->label = "requests";
    r->n = 3;
    r->f[0] = (field){"", "", "/min", UI_S_NORMAL};
    if (isfinite(v->requests_per_min) && v->requests_per_min >= 0)
        snprintf(r->f[0].value, sizeof r->f[0].value, "%.1f", v->requests_per_min);
    else
        snprintf(r->f[0].value, sizeof r->f[0].value, "%s", DASH_NA);
    r->f[1] = (field){"running ", "", "", UI_S_NORMAL};
    fmt_count(r->f[1].value, sizeof r->f[1].value, v->running);
    r->f[2] = (field){"tokens ", "", "", UI_S_NORMAL};
    fmt_count(r->f[2].value, sizeof r->f[2].value, v->tokens_generated);

    r = &rows[1];
    r->label = "errors";
    r->n = 2;
    r->bad = v->bad & DASH_BAD_ERRORS;
    r->f[0] = (field){"", "", "", UI_S_NORMAL};
    if (v->requests > 0) {
        fmt_pct(r->f[0].value, sizeof r->f[0].value, v->error_rate);
        snprintf(r->f[0].post, sizeof r->f[0].post, " (%" PRId64 " of %" PRId64 ")", v->errors, v->requests);
        r->f[0].style = (v->bad & DASH_BAD_ERRORS) ? UI_S_BAD : v->errors == 0 ? UI_S_GOOD : UI_S_NORMAL;
    } else {
        snprintf(r->f[0].value, sizeof r->f[0].value, "%s", DASH_NA);
    }
    r->f[1] = (field){"thumbs down ", "", "", flagged(v, DASH_BAD_THUMBS)};
    if (v->thumbs_n > 0 && isfinite(v->thumbs_down_rate) && v->thumbs_down_rate >= 0) {
        snprintf(r->f[1].value, sizeof r->f[1].value, "%.0f%%", 100 * v->thumbs_down_rate);
        snprintf(r->f[1].post, sizeof r->f[1].post, " of %" PRId64, v->thumbs_n);
    } else {
        snprintf(r->f[1].value, sizeof r->f[1].value, "%s", DASH_NA);
    }

    rows[2].label = "latency";
    rows[2].bad = v->bad & DASH_BAD_LATENCY;
    pct_fields(&rows[2], &v->latency_ms, flagged(v, DASH_BAD_LATENCY));
    rows[3].label = "TTFT";
    rows[3].bad = v->bad & DASH_BAD_TTFT;
    pct_fields(&rows[3], &v->ttft_ms, flagged(v, DASH_BAD_TTFT));

    r = &rows[4];
    r->label = "tok/s";
    r->n = 2;
    r->bad = v->bad & DASH_BAD_DECODE;
    r->f[0] = (field){"prefill ", "", "", UI_S_NORMAL};
    fmt_rate(r->f[0].value, sizeof r->f[0].value, v->prefill_tps);
    r->f[1] = (field){"decode ", "", "", flagged(v, DASH_BAD_DECODE)};
    fmt_rate(r->f[1].value, sizeof r->f[1].value, v->decode_tps);
}

/* Fields sit in three columns after the label; a field wider than its
 * column pushes the next one right (FIELD_GAP apart). */
static void draw_figures(const dash_view *v, ui_frame *f, int x, int y, int w, int rows)
{
    figure_row fr[FIGURE_ROWS];
    build_figures(v, fr);
    int end = x + w;
    int lw = w >= 40 ? LABEL_W : 0; /* a very narrow rectangle: no labels */
    int fw = w - lw;
    for (int i = 0; i < FIGURE_ROWS && i < rows; i++) {
        const figure_row *r = &fr[i];
        int ry = y + i;
        if (lw)
            frame_str(f, x, ry, x + lw - 1, r->label, r->bad ? UI_S_BAD : UI_S_MUTED, 0);
        int cx = x + lw;
        for (int j = 0; j < r->n && cx < end; j++) {
            int col = x + lw + j * fw / 3;
            if (j && cx + FIELD_GAP > col)
                col = cx + FIELD_GAP;
            if (col >= end)
                break;
            const field *fl = &r->f[j];
            cx = frame_str(f, col, ry, end, fl->pre, UI_S_MUTED, 0);
            cx = frame_str(f, cx, ry, end, fl->value, fl->style, UI_A_BOLD);
            cx = frame_str(f, cx, ry, end, fl->post, UI_S_MUTED, 0);
        }
    }
}

/* ---- The lower panels: one column of lines --------------------------------------- */

enum { SEC_ALERTS, SEC_SPARKS, SEC_MODELS, SEC_ERRORS, SEC_COUNT };

static size_t sec_lines(const dash_view *v, int s)
{
    switch (s) {
    case SEC_ALERTS: return 1 + v->n_alerts + v->n_episodes;
    case SEC_SPARKS: return 5;
    case SEC_MODELS: return 1 + (v->n_models ? v->n_models : 1);
    default: return v->n_errors ? 1 + v->n_errors : 1;
    }
}

/* Lines of the whole column, a blank line between sections. */
static size_t column_lines(const dash_view *v)
{
    size_t n = 0;
    for (int s = 0; s < SEC_COUNT; s++)
        n += sec_lines(v, s) + (s ? 1 : 0);
    return n;
}

/* An episode: "● firing  error_rate  since 12-06 14:02:11  error rate ...". */
static void draw_episode_line(const dash_view *v, ui_frame *f, int x, int y, int end, size_t i)
{
    int name_w = 0;
    for (size_t k = 0; k < v->n_episodes; k++) {
        int nw = frame_str_width(v->episodes[k].name);
        name_w = nw > name_w ? nw : name_w;
    }
    name_w = name_w > 16 ? 16 : name_w;
    const dash_episode_row *e = &v->episodes[i];
    frame_str(f, x + 2, y, end, e->firing ? "●" : "○", e->firing ? UI_S_BAD : UI_S_MUTED, 0);
    int cx = x + 4;
    frame_clip(f, cx, y, end, e->firing ? "firing" : "ended", e->firing ? UI_S_BAD : UI_S_MUTED, 0);
    cx += 6 + FIELD_GAP;
    if (cx < end)
        frame_clip(f, cx, y, cx + name_w < end ? cx + name_w : end, e->name, UI_S_NORMAL, 0);
    cx += name_w + FIELD_GAP;
    if (cx < end)
        cx = frame_clip(f, cx, y, end, e->when, UI_S_MUTED, 0) + FIELD_GAP;
    if (cx < end && e->text)
        frame_clip(f, cx, y, end, e->text, UI_S_NORMAL, 0);
}

static void draw_alert_line(const dash_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        size_t firing = v->n_alerts;
        for (size_t k = 0; k < v->n_episodes; k++)
            firing += v->episodes[k].firing;
        int cx = frame_str(f, x, y, end, "Alerts", UI_S_TITLE, UI_A_BOLD);
        if (!firing)
            frame_str(f, cx + 2, y, end, v->n_episodes ? "none firing" : "none", UI_S_GOOD, 0);
        else
            frame_printf(f, cx + 1, y, end, UI_S_BAD, 0, "(%zu)", firing);
        return;
    }
    if (i > v->n_alerts) {
        draw_episode_line(v, f, x, y, end, i - 1 - v->n_alerts);
        return;
    }
    const char *a = v->alerts ? v->alerts[i - 1] : NULL;
    frame_str(f, x + 2, y, end, "▲", UI_S_BAD, 0);
    frame_clip(f, x + 4, y, end, a ? a : "", UI_S_BAD, 0);
}

static const struct {
    const char *label;
    int kind; /* 0 count, 1 ms, 2 rate */
    unsigned flag;
} SPARKS[4] = {
    {"requests/min", 0, 0},
    {"p95 latency", 1, DASH_BAD_LATENCY},
    {"decode tok/s", 2, DASH_BAD_DECODE},
    {"errors", 0, DASH_BAD_ERRORS},
};

static void draw_spark_line(const dash_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        frame_str(f, x, y, end, "Last hour, per minute", UI_S_TITLE, UI_A_BOLD);
        return;
    }
    int k = (int)i - 1;
    const double *s = k == 0 ? v->s_requests : k == 1 ? v->s_latency_p95 : k == 2 ? v->s_decode_tps : v->s_errors;
    size_t n = s ? v->n_series : 0;
    ui_style st = (v->bad & SPARKS[k].flag) ? UI_S_BAD : UI_S_NORMAL;
    frame_str(f, x, y, end, SPARKS[k].label, st == UI_S_BAD ? UI_S_BAD : UI_S_MUTED, 0);
    int sw = w - SPARK_LABEL_W - 1 - SPARK_VALUE_W;
    if (sw > SPARK_MAX)
        sw = SPARK_MAX;
    if (sw < 1)
        return;
    char line[3 * SPARK_MAX + 1];
    dash_sparkline(s, n, sw, line);
    frame_str(f, x + SPARK_LABEL_W, y, end, line, st, 0);
    char val[32];
    double last = n ? s[n - 1] : NAN;
    if (!isfinite(last) || (SPARKS[k].kind != 0 && last <= 0)) /* 0 ms, 0 tok/s: no data */
        snprintf(val, sizeof val, "%s", DASH_NA);
    else if (SPARKS[k].kind == 1)
        fmt_ms(val, sizeof val, last);
    else if (SPARKS[k].kind == 2)
        snprintf(val, sizeof val, "%.1f", last);
    else
        snprintf(val, sizeof val, "%.0f", last);
    int vx = x + SPARK_LABEL_W + sw + 1;
    frame_right(f, vx, vx + SPARK_VALUE_W, y, val, st, UI_A_BOLD);
}

/* The model table's numeric columns, right-aligned. */
enum { MC_REQ, MC_ERR, MC_LAT, MC_TTFT, MC_TPS, MC_LOWCONF, MC_COUNT };

typedef struct {
    int width[MC_COUNT];
    int name_w;
    int n_cols; /* columns shown, from the left */
    bool short_heads;
} model_layout;

static const char *const MODEL_HEAD[2][MC_COUNT] = {
    {"requests", "errors", "p95 latency", "p95 TTFT", "decode tok/s", "low conf"},
    {"reqs", "err", "p95 lat", "p95 ttft", "tok/s", "lowc"},
};

static void model_cell(const dash_model_row *m, int c, char *buf, size_t n)
{
    switch (c) {
    case MC_REQ: fmt_count(buf, n, m->requests); break;
    case MC_ERR:
        if (m->requests > 0)
            fmt_pct(buf, n, m->error_rate);
        else
            snprintf(buf, n, "%s", DASH_NA);
        break;
    case MC_LAT:
        if (m->latency_ms.valid)
            fmt_ms(buf, n, m->latency_ms.p95);
        else
            snprintf(buf, n, "%s", DASH_NA);
        break;
    case MC_TTFT:
        if (m->ttft_ms.valid)
            fmt_ms(buf, n, m->ttft_ms.p95);
        else
            snprintf(buf, n, "%s", DASH_NA);
        break;
    case MC_TPS: fmt_rate(buf, n, m->decode_tps); break;
    default:
        if (m->with_confidence > 0)
            fmt_pct(buf, n, (double)m->low_confidence / (double)m->with_confidence);
        else
            snprintf(buf, n, "%s", DASH_NA);
        break;
    }
}

/* Long headings when the name keeps 16 columns, else short ones; columns
 * drop from the right while the name would get fewer than 8. */
static model_layout layout_models(const dash_view *v, int w)
{
    model_layout L;
    memset(&L, 0, sizeof L);
    for (int sh = 0; sh < 2; sh++) {
        L.short_heads = sh;
        int used = 0;
        for (int c = 0; c < MC_COUNT; c++) {
            int cw = frame_str_width(MODEL_HEAD[sh][c]);
            for (size_t i = 0; i < v->n_models; i++) {
                char buf[48];
                model_cell(&v->models[i], c, buf, sizeof buf);
                int bw = frame_str_width(buf);
                cw = bw > cw ? bw : cw;
            }
            L.width[c] = cw;
            used += cw + FIELD_GAP;
        }
        L.n_cols = MC_COUNT;
        L.name_w = w - used;
        if (L.name_w >= 16)
            return L;
    }
    while (L.n_cols > 0 && L.name_w < 8) {
        L.n_cols--;
        L.name_w += L.width[L.n_cols] + FIELD_GAP;
    }
    return L;
}

static void draw_model_line(const dash_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    model_layout L = layout_models(v, w);
    int name_end = x + (L.name_w < w ? L.name_w : w);
    if (i == 0) {
        frame_str(f, x, y, name_end, "Models", UI_S_TITLE, UI_A_BOLD);
    } else if (!v->n_models) {
        frame_str(f, x + 2, y, end, "no requests in this window", UI_S_MUTED, 0);
        return;
    } else {
        const char *name = v->models[i - 1].name;
        frame_clip(f, x, y, name_end, name && *name ? name : "?", UI_S_NORMAL, 0);
    }
    int cx = name_end;
    for (int c = 0; c < L.n_cols; c++) {
        cx += FIELD_GAP;
        char buf[48];
        if (i == 0)
            snprintf(buf, sizeof buf, "%s", MODEL_HEAD[L.short_heads][c]);
        else
            model_cell(&v->models[i - 1], c, buf, sizeof buf);
        int right = cx + L.width[c];
        if (right > end)
            break;
        frame_right(f, cx, right, y, buf, i == 0 ? UI_S_MUTED : UI_S_NORMAL, 0);
        cx = right;
    }
}

static void draw_error_line(const dash_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        int cx = frame_str(f, x, y, end, "Latest errors", UI_S_TITLE, UI_A_BOLD);
        if (!v->n_errors)
            frame_str(f, cx + 2, y, end, "none", UI_S_GOOD, 0);
        return;
    }
    /* Column widths over all rows, so the messages line up. */
    int when_w = 0, model_w = 0, out_w = 0;
    for (size_t k = 0; k < v->n_errors; k++) {
        const dash_error_row *e = &v->errors_list[k];
        int a = frame_str_width(e->when), b = frame_str_width(e->model), c = frame_str_width(e->outcome);
        when_w = a > when_w ? a : when_w;
        model_w = b > model_w ? b : model_w;
        out_w = c > out_w ? c : out_w;
    }
    int model_cap = w >= 90 ? 24 : w >= 70 ? 16 : 10;
    model_w = model_w > model_cap ? model_cap : model_w;
    out_w = out_w > 11 ? 11 : out_w;
    when_w = when_w > 16 ? 16 : when_w;
    const dash_error_row *e = &v->errors_list[i - 1];
    int cx = x;
    frame_clip(f, cx, y, cx + when_w < end ? cx + when_w : end, e->when, UI_S_MUTED, 0);
    cx += when_w + FIELD_GAP;
    if (cx < end)
        frame_clip(f, cx, y, cx + model_w < end ? cx + model_w : end, e->model, UI_S_NORMAL, 0);
    cx += model_w + FIELD_GAP;
    if (cx < end)
        frame_clip(f, cx, y, cx + out_w < end ? cx + out_w : end, e->outcome, UI_S_BAD, 0);
    cx += out_w + FIELD_GAP;
    if (cx < end)
        frame_clip(f, cx, y, end, e->message ? e->message : "", UI_S_NORMAL, 0); /* untrusted: escaped */
}

/* Line `line` of the column at row y (blank lines draw nothing). */
static void draw_column_line(const dash_view *v, ui_frame *f, int x, int y, int w, size_t line)
{
    for (int s = 0; s < SEC_COUNT; s++) {
        if (s) {
            if (line == 0)
                return; /* the blank line between sections */
            line--;
        }
        size_t n = sec_lines(v, s);
        if (line < n) {
            switch (s) {
            case SEC_ALERTS: draw_alert_line(v, f, x, y, w, line); break;
            case SEC_SPARKS: draw_spark_line(v, f, x, y, w, line); break;
            case SEC_MODELS: draw_model_line(v, f, x, y, w, line); break;
            default: draw_error_line(v, f, x, y, w, line); break;
            }
            return;
        }
        line -= n;
    }
}

/* draw_column_line for frame_scrolled. */
typedef struct {
    const dash_view *v;
    ui_frame *f;
    int x, w;
} column_ctx;

static void column_line(void *ud, int row, size_t i)
{
    const column_ctx *c = ud;
    draw_column_line(c->v, c->f, c->x, row, c->w, i);
}

/* The column in rows [y, y + page), scrolled; sep_y (the blank row above
 * it, or -1) notes the lines above. */
static void draw_column(const dash_view *v, ui_frame *f, int x, int y, int w, int page, int sep_y)
{
    column_ctx c = {v, f, x, w};
    frame_scrolled(f, x, y, w, page, sep_y, column_lines(v), v->scroll, "j/Down", "k/Up", column_line, &c);
}

/* ---- The screen ------------------------------------------------------------------ */

static void draw_header(const dash_view *v, ui_frame *f, int x, int y, int w)
{
    int end = x + w;
    int cx = frame_str(f, x, y, end, "Dashboard", UI_S_TITLE, UI_A_BOLD);
    cx = frame_str(f, cx, y, end, " — window ", UI_S_NORMAL, 0);
    cx = frame_str(f, cx, y, end, v->window && *v->window ? v->window : DASH_NA, UI_S_NORMAL, UI_A_BOLD);
    cx = frame_str(f, cx, y, end, " (w to change)", UI_S_MUTED, 0);
    if (v->updated && *v->updated && end - (cx + 2) >= frame_str_width(v->updated))
        frame_right(f, cx + 2, end, y, v->updated, UI_S_MUTED, 0);
}

void dash_render(const dash_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0)
        return;
    draw_header(v, f, x, y, w);
    if (v->loading) {
        if (h > 1) {
            const char *s = "loading figures…";
            size_t len = strlen(s), fit = ui_fit(s, len, w);
            frame_text(f, x + (w - ui_text_width(s, fit)) / 2, y + 1 + (h - 2) / 2, x + w, s, fit, UI_S_MUTED, 0);
        }
        return;
    }
    draw_figures(v, f, x, y + 1, w, h - 1);
    int col_y = y + 1 + FIGURE_ROWS + 1;
    draw_column(v, f, x, col_y, w, y + h - col_y, h > FIGURE_ROWS + 1 ? col_y - 1 : -1);
}

/* ---- Keys ------------------------------------------------------------------------ */

void dash_init(dash_view *v)
{
    memset(v, 0, sizeof *v);
    v->window = "5m";
    v->loading = true;
}

static void scroll_by(dash_view *v, long lines)
{
    size_t total = column_lines(v);
    long max = total > REF_PAGE ? (long)(total - REF_PAGE) : 0;
    long s = (long)v->scroll + lines;
    v->scroll = (int)(s < 0 ? 0 : s > max ? max : s);
}

dash_action dash_key(dash_view *v, ui_key k)
{
    if (k.mods)
        return DASH_NONE;
    switch (k.code) {
    case 'w': return DASH_WINDOW;
    case 'j':
    case UI_K_DOWN: scroll_by(v, 1); break;
    case 'k':
    case UI_K_UP: scroll_by(v, -1); break;
    case UI_K_PGDN: scroll_by(v, PAGE_LINES); break;
    case UI_K_PGUP: scroll_by(v, -PAGE_LINES); break;
    case UI_K_WHEEL_DOWN: scroll_by(v, WHEEL_LINES); break;
    case UI_K_WHEEL_UP: scroll_by(v, -WHEEL_LINES); break;
    case UI_K_HOME: v->scroll = 0; break;
    case UI_K_END: scroll_by(v, 1L << 30); break;
    default: break;
    }
    return DASH_NONE;
}
