/*
 * models.c — the Models screen: a models_view drawn into a frame, keys
 * turned into models_actions (see models.h for the layout).
 *
 * The versions table sizes its columns to what they hold this time (the
 * widest of the heading and the cells); when the name would get fewer than
 * NAME_MIN columns, columns go one by one in DROP order (the least needed
 * first), so a 60-column terminal keeps name, role, requests, errors and
 * thumbs-up.  Below the table, one column of lines (the comparison, the
 * eval runs, then the history) scrolls like the Dashboard's lower panels: its last row
 * says how many lines are below, the blank row above it how many above.
 *
 * What this file does not do: read the store, compute a figure or a
 * verdict, or change the deployment (app/tui_models.c does).
 */
#include "ui/models.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MODELS_NA "–"

enum {
    GAP = 2,
    MARK_W = 2,      /* "▸ " before the selected row                     */
    NAME_MIN = 8,
    NAME_WANT = 16,  /* a column drops while the name would get less     */
    LOWER_MIN = 5,   /* rows the lower column keeps below the table      */
    PAGE_LINES = 10, /* PgUp/PgDn                                        */
    REF_PAGE = 4,    /* the column's rows at the smallest screen: bounds
                        `scroll` in models_key; render clamps exactly    */
    HIST_WHO_MAX = 12,
    CMP_WIDE = 56,   /* below: the comparison without its sample sizes   */
};

const char *const models_help[] = {
    "Up / Down, k / j", "select a version",
    "d", "deploy the selected version as stable",
    "c", "start a canary of the selected version (share 1–50%)",
    "s", "change the canary's share",
    "x", "stop the canary",
    "p", "promote the candidate to stable",
    "b", "roll back the newest change",
    "w", "window: 24h → 7d → all → 1h",
    "PgUp / PgDn", "scroll the comparison, eval runs and history",
    NULL,
};

/* ---- Formatting ------------------------------------------------------------------ */

static void fmt_ms(char *buf, size_t n, double ms)
{
    if (!isfinite(ms) || ms < 0)
        snprintf(buf, n, "%s", MODELS_NA);
    else if (ms < 999.5)
        snprintf(buf, n, "%.0f ms", ms);
    else
        snprintf(buf, n, "%.1f s", ms / 1000);
}

static void fmt_share(char *buf, size_t n, int64_t part, int64_t whole, int decimals)
{
    if (whole <= 0)
        snprintf(buf, n, "%s", MODELS_NA);
    else
        snprintf(buf, n, "%.*f%%", decimals, 100.0 * (double)part / (double)whole);
}

/* ---- Drawing helpers ------------------------------------------------------------- */

/* ---- The versions table ---------------------------------------------------------- */

enum { MC_SHA, MC_ROLE, MC_REQ, MC_ERR, MC_UP, MC_SCORE, MC_P95, MC_TPS, MC_LOW, MC_FIRST, MC_LAST, MC_COUNT };

static const char *const HEAD[MC_COUNT] = {"sha-256", "role",  "reqs",     "err",   "thumbs-up (95% CI)", "score",
                                           "p95",     "tok/s", "low conf", "first", "last"};
/* Left-aligned columns (the rest are figures, right-aligned). */
static const bool LEFT[MC_COUNT] = {[MC_SHA] = true, [MC_ROLE] = true};
/* The order columns drop in when the name needs room. */
static const int DROP[MC_COUNT] = {MC_FIRST, MC_LOW, MC_SHA, MC_LAST, MC_TPS, MC_P95,
                                   MC_SCORE, MC_ERR, MC_UP,  MC_REQ,  MC_ROLE};

typedef struct {
    int width[MC_COUNT];
    bool shown[MC_COUNT];
    int name_w;
} table_layout;

static void cell(const models_row *r, int c, char *buf, size_t n)
{
    switch (c) {
    case MC_SHA: snprintf(buf, n, "%s", r->sha && *r->sha ? r->sha : MODELS_NA); break;
    case MC_ROLE:
        if (r->stable)
            snprintf(buf, n, "stable");
        else if (r->candidate)
            snprintf(buf, n, "cand %d%%", r->share);
        else
            snprintf(buf, n, "%s", MODELS_NA);
        break;
    case MC_REQ: snprintf(buf, n, "%" PRId64, r->requests); break;
    case MC_ERR: fmt_share(buf, n, r->errors, r->requests, 1); break;
    case MC_UP:
        if (r->thumbed > 0 && isfinite(r->up_rate))
            snprintf(buf, n, "%.0f%% (%.0f–%.0f) n=%" PRId64, 100 * r->up_rate, 100 * r->up_lo, 100 * r->up_hi,
                     r->thumbed);
        else
            snprintf(buf, n, "%s", MODELS_NA);
        break;
    case MC_SCORE:
        if (isfinite(r->score_mean))
            snprintf(buf, n, "%.2f", r->score_mean);
        else
            snprintf(buf, n, "%s", MODELS_NA);
        break;
    case MC_P95: fmt_ms(buf, n, r->latency_p95_ms); break;
    case MC_TPS:
        if (isfinite(r->decode_tps) && r->decode_tps > 0)
            snprintf(buf, n, "%.1f", r->decode_tps);
        else
            snprintf(buf, n, "%s", MODELS_NA);
        break;
    case MC_LOW: fmt_share(buf, n, r->low_confidence, r->with_confidence, 0); break;
    case MC_FIRST: snprintf(buf, n, "%s", r->first_used ? r->first_used : MODELS_NA); break;
    default: snprintf(buf, n, "%s", r->last_used ? r->last_used : MODELS_NA); break;
    }
}

static table_layout layout_table(const models_view *v, int w)
{
    table_layout L;
    memset(&L, 0, sizeof L);
    int used = MARK_W;
    for (int c = 0; c < MC_COUNT; c++) {
        int cw = frame_str_width(HEAD[c]);
        for (size_t i = 0; i < v->n_rows; i++) {
            char buf[80];
            cell(&v->rows[i], c, buf, sizeof buf);
            int bw = frame_str_width(buf);
            cw = bw > cw ? bw : cw;
        }
        L.width[c] = cw;
        L.shown[c] = true;
        used += GAP + cw;
    }
    L.name_w = w - used;
    for (int k = 0; k < MC_COUNT && L.name_w < NAME_WANT; k++) {
        int c = DROP[k];
        if (L.name_w >= NAME_MIN && k >= 3)
            break; /* the first few go for comfort, the rest only for room */
        L.shown[c] = false;
        L.name_w += GAP + L.width[c];
    }
    return L;
}

/* Row i of the table (-1: the heading) at row y. */
static void draw_table_row(const models_view *v, const table_layout *L, ui_frame *f, int x, int y, int w, long i,
                           const char *name_head)
{
    int end = x + w;
    bool head = i < 0;
    const models_row *r = head ? NULL : &v->rows[i];
    bool sel = !head && (size_t)i == v->sel;
    ui_style base = head ? UI_S_MUTED : sel ? UI_S_SELECTED : UI_S_NORMAL;
    if (sel) {
        frame_fill(f, x, y, w, 1, ' ', UI_S_SELECTED, 0);
        frame_str(f, x, y, end, "▸", UI_S_SELECTED, 0);
    }
    int name_end = x + MARK_W + (L->name_w > 0 ? L->name_w : 0);
    if (name_end > end)
        name_end = end;
    if (head)
        frame_clip(f, x + MARK_W, y, name_end, name_head, UI_S_MUTED, 0);
    else
        frame_clip(f, x + MARK_W, y, name_end, r->name && *r->name ? r->name : "?", base, sel ? UI_A_BOLD : 0);
    int cx = name_end;
    for (int c = 0; c < MC_COUNT; c++) {
        if (!L->shown[c])
            continue;
        cx += GAP;
        int right = cx + L->width[c];
        if (right > end)
            break;
        char buf[80];
        if (head)
            snprintf(buf, sizeof buf, "%s", HEAD[c]);
        else
            cell(r, c, buf, sizeof buf);
        ui_style st = base;
        if (!head && !sel && c == MC_ROLE)
            st = r->stable ? UI_S_GOOD : r->candidate ? UI_S_WARN : UI_S_MUTED;
        if (LEFT[c])
            frame_str(f, cx, y, right, buf, st, 0);
        else
            frame_right(f, cx, right, y, buf, st, 0);
        cx = right;
    }
}

/* The table in rows [y, y + rows): heading, then the versions around the
 * selection. */
static void draw_table(const models_view *v, ui_frame *f, int x, int y, int w, int rows)
{
    if (rows <= 0)
        return;
    table_layout L = layout_table(v, w);
    int body = rows - 1;
    size_t top = v->sel >= (size_t)body && body > 0 ? v->sel - (size_t)body + 1 : 0;
    char name_head[48];
    if (v->n_rows > (size_t)body)
        snprintf(name_head, sizeof name_head, "version %zu/%zu", v->sel + 1, v->n_rows);
    else
        snprintf(name_head, sizeof name_head, "version");
    draw_table_row(v, &L, f, x, y, w, -1, name_head);
    if (!v->n_rows) {
        if (body > 0)
            frame_clip(f, x + MARK_W, y + 1, x + w, "no versions yet: answer a customer or frontdesk deploy FILE",
                      UI_S_MUTED, 0);
        return;
    }
    for (int r = 0; r < body && top + (size_t)r < v->n_rows; r++)
        draw_table_row(v, &L, f, x, y + 1 + r, w, (long)(top + (size_t)r), NULL);
}

/* ---- The lower column: comparison, history --------------------------------------- */

/* The sections in order, a blank line between two. */
enum { SEC_COMPARE, SEC_EVALS, SEC_HISTORY, SEC_COUNT };

static size_t sec_lines(const models_view *v, int s)
{
    if (s == SEC_COMPARE)
        return v->compared ? 2 + v->n_tests + (v->compare_note && *v->compare_note ? 1 : 0) : 1;
    if (s == SEC_EVALS)
        return v->n_evals ? 2 + v->n_evals : 1;
    return 1 + v->n_history;
}

static size_t column_lines(const models_view *v)
{
    size_t n = SEC_COUNT - 1;
    for (int s = 0; s < SEC_COUNT; s++)
        n += sec_lines(v, s);
    return n;
}

static ui_style verdict_style(models_verdict vd)
{
    switch (vd) {
    case MODELS_V_BETTER: return UI_S_GOOD;
    case MODELS_V_WORSE: return UI_S_BAD;
    case MODELS_V_NOT_ENOUGH: return UI_S_MUTED;
    default: return UI_S_NORMAL;
    }
}

static void draw_compare_line(const models_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        int cx = frame_str(f, x, y, end, "Candidate vs stable", UI_S_TITLE, UI_A_BOLD);
        if (v->compared)
            frame_clip(f, cx, y, end, " (Holm-corrected, α 0.05)", UI_S_MUTED, 0);
        else
            frame_clip(f, cx + 2, y, end, "no canary running (c starts one)", UI_S_MUTED, 0);
        return;
    }
    if (i == 2 + v->n_tests) {
        frame_clip(f, x + 2, y, end, v->compare_note, UI_S_MUTED, 0);
        return;
    }
    bool wide = w >= CMP_WIDE;
    int metric_w = wide ? 20 : w / 3;
    int cx = x + 2, me = cx + metric_w < end ? cx + metric_w : end;
    const models_test *t = i >= 2 ? &v->tests[i - 2] : NULL;
    ui_style st = t ? UI_S_NORMAL : UI_S_MUTED;
    frame_clip(f, cx, y, me, t ? t->metric : "metric", st, 0);
    cx = me;
    char buf[32];
    if (wide) {
        if (t)
            snprintf(buf, sizeof buf, "%" PRId64, t->n_stable);
        frame_right(f, cx, cx + 9 < end ? cx + 9 : end, y, t ? buf : "n stable", st, 0);
        cx += 9;
        if (t)
            snprintf(buf, sizeof buf, "%" PRId64, t->n_candidate);
        frame_right(f, cx, cx + 8 < end ? cx + 8 : end, y, t ? buf : "n cand", st, 0);
        cx += 8;
    }
    if (t && isfinite(t->p_holm))
        snprintf(buf, sizeof buf, "%.3g", t->p_holm);
    else
        snprintf(buf, sizeof buf, "%s", MODELS_NA);
    if (cx < end)
        frame_right(f, cx, cx + 10 < end ? cx + 10 : end, y, t ? buf : "p (Holm)", st, 0);
    cx += 12;
    if (cx < end)
        frame_clip(f, cx, y, end, t ? (t->words ? t->words : "") : "verdict", t ? verdict_style(t->verdict) : st,
                  t && (t->verdict == MODELS_V_BETTER || t->verdict == MODELS_V_WORSE) ? UI_A_BOLD : 0);
}

static void fmt_chrf(char *buf, size_t n, double x)
{
    if (isfinite(x))
        snprintf(buf, n, "%.1f", x);
    else
        snprintf(buf, n, "%s", MODELS_NA);
}

/* An eval run's cells: when, status, items, versions, "chrF A → B" (A
 * alone for one model), the chrF and perplexity verdicts ("" for one
 * model); NULL run: the column headings. */
enum { EC_WHEN, EC_STATUS, EC_ITEMS, EC_MODELS, EC_CHRF, EC_V_CHRF, EC_V_PPL, EC_COUNT };

static const char *eval_cell(const models_eval *e, int c, char *buf, size_t n)
{
    static const char *const head[EC_COUNT] = {"started", "status", "items", "versions", "chrF A → B", "chrF",
                                               "perplexity"};
    if (!e)
        return head[c];
    char a[16], b[16];
    switch (c) {
    case EC_WHEN: return e->when ? e->when : MODELS_NA;
    case EC_STATUS: return e->status ? e->status : "?";
    case EC_ITEMS: snprintf(buf, n, "%" PRId64 "/%" PRId64, e->items_done, e->set_items); return buf;
    case EC_MODELS: return e->models ? e->models : "?";
    case EC_CHRF:
        fmt_chrf(a, sizeof a, e->chrf_a);
        fmt_chrf(b, sizeof b, e->chrf_b);
        if (e->paired)
            snprintf(buf, n, "%s → %s", a, b);
        else
            snprintf(buf, n, "%s", a);
        return buf;
    case EC_V_CHRF: return e->paired ? (e->chrf_words ? e->chrf_words : MODELS_NA) : "";
    default: return e->paired ? (e->ppl_words ? e->ppl_words : MODELS_NA) : "";
    }
}

/* Line i of the eval runs: 0 the title, 1 the column headings, then one
 * run per line. */
static void draw_eval_line(const models_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        int cx = frame_str(f, x, y, end, "Eval runs", UI_S_TITLE, UI_A_BOLD);
        if (!v->n_evals)
            frame_clip(f, cx + 2, y, end, "none yet (frontdesk eval)", UI_S_MUTED, 0);
        else
            frame_clip(f, cx, y, end, ", newest first (verdicts: B against A)", UI_S_MUTED, 0);
        return;
    }
    /* Column widths over the headings and all runs, so the figures line up. */
    int width[EC_COUNT];
    char buf[64];
    for (int c = 0; c < EC_COUNT; c++) {
        width[c] = frame_str_width(eval_cell(NULL, c, buf, sizeof buf));
        for (size_t k = 0; k < v->n_evals; k++) {
            int cw = frame_str_width(eval_cell(&v->evals[k], c, buf, sizeof buf));
            width[c] = cw > width[c] ? cw : width[c];
        }
    }
    int cap = w / 4 > 12 ? w / 4 : 12;
    width[EC_MODELS] = width[EC_MODELS] > cap ? cap : width[EC_MODELS];
    const models_eval *e = i >= 2 ? &v->evals[i - 2] : NULL;
    int cx = x + 2;
    for (int c = 0; c < EC_COUNT && cx < end; c++) {
        const char *text = eval_cell(e, c, buf, sizeof buf);
        int right = c == EC_COUNT - 1 || cx + width[c] > end ? end : cx + width[c];
        ui_style st = e ? UI_S_NORMAL : UI_S_MUTED;
        unsigned attr = 0;
        if (e && c == EC_WHEN)
            st = UI_S_MUTED;
        else if (e && c == EC_STATUS)
            st = !strcmp(text, "complete") ? UI_S_NORMAL : !strcmp(text, "failed") ? UI_S_BAD : UI_S_WARN;
        else if (e && (c == EC_V_CHRF || c == EC_V_PPL)) {
            models_verdict vd = c == EC_V_CHRF ? e->chrf_v : e->ppl_v;
            st = verdict_style(vd);
            attr = vd == MODELS_V_BETTER || vd == MODELS_V_WORSE ? UI_A_BOLD : 0;
        }
        if (c == EC_ITEMS || c == EC_CHRF)
            frame_right(f, cx, right, y, text, st, attr);
        else
            frame_clip(f, cx, y, right, text, st, attr);
        cx += width[c] + GAP;
    }
}

static void draw_history_line(const models_view *v, ui_frame *f, int x, int y, int w, size_t i)
{
    int end = x + w;
    if (i == 0) {
        int cx = frame_str(f, x, y, end, "History", UI_S_TITLE, UI_A_BOLD);
        if (!v->n_history)
            frame_clip(f, cx + 2, y, end, "no changes yet", UI_S_MUTED, 0);
        return;
    }
    /* Column widths over all rows, so the notes line up. */
    int when_w = 0, act_w = 0, ver_w = 0, who_w = 0;
    for (size_t k = 0; k < v->n_history; k++) {
        const models_event *e = &v->history[k];
        int a = frame_str_width(e->when), b = frame_str_width(e->action), c = frame_str_width(e->versions), d = frame_str_width(e->who);
        when_w = a > when_w ? a : when_w;
        act_w = b > act_w ? b : act_w;
        ver_w = c > ver_w ? c : ver_w;
        who_w = d > who_w ? d : who_w;
    }
    int ver_cap = w / 3 > 12 ? w / 3 : 12;
    ver_w = ver_w > ver_cap ? ver_cap : ver_w;
    who_w = who_w > HIST_WHO_MAX ? HIST_WHO_MAX : who_w;
    const models_event *e = &v->history[i - 1];
    int cx = x + 2;
    const int widths[4] = {when_w, act_w, ver_w, who_w};
    const char *texts[4] = {e->when, e->action, e->versions, e->who ? e->who : "?"};
    const ui_style styles[4] = {UI_S_MUTED, UI_S_NORMAL, UI_S_NORMAL, UI_S_MUTED};
    for (int c = 0; c < 4 && cx < end; c++) {
        int right = cx + widths[c] < end ? cx + widths[c] : end;
        frame_clip(f, cx, y, right, texts[c], styles[c], c == 1 ? UI_A_BOLD : 0);
        cx += widths[c] + GAP;
    }
    if (cx < end && e->note && *e->note)
        frame_clip(f, cx, y, end, e->note, UI_S_SYSTEM, 0); /* stored text: escaped by the frame */
}

static void draw_column_line(const models_view *v, ui_frame *f, int x, int y, int w, size_t line)
{
    for (int s = 0; s < SEC_COUNT; s++) {
        size_t n = sec_lines(v, s);
        if (line < n) {
            if (s == SEC_COMPARE)
                draw_compare_line(v, f, x, y, w, line);
            else if (s == SEC_EVALS)
                draw_eval_line(v, f, x, y, w, line);
            else
                draw_history_line(v, f, x, y, w, line);
            return;
        }
        if (line == n)
            return; /* the blank line after the section */
        line -= n + 1;
    }
}

/* draw_column_line for frame_scrolled. */
typedef struct {
    const models_view *v;
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
static void draw_column(const models_view *v, ui_frame *f, int x, int y, int w, int page, int sep_y)
{
    column_ctx c = {v, f, x, w};
    frame_scrolled(f, x, y, w, page, sep_y, column_lines(v), v->scroll, "PgDn", "PgUp", column_line, &c);
}

/* ---- The screen ------------------------------------------------------------------ */

static void draw_header(const models_view *v, ui_frame *f, int x, int y, int w)
{
    int end = x + w;
    int cx = frame_str(f, x, y, end, "Models", UI_S_TITLE, UI_A_BOLD);
    cx = frame_str(f, cx, y, end, " — window ", UI_S_NORMAL, 0);
    cx = frame_str(f, cx, y, end, v->window && *v->window ? v->window : MODELS_NA, UI_S_NORMAL, UI_A_BOLD);
    cx = frame_str(f, cx, y, end, " (w to change)", UI_S_MUTED, 0);
    if (v->updated && *v->updated && end - (cx + 2) >= frame_str_width(v->updated))
        frame_right(f, cx + 2, end, y, v->updated, UI_S_MUTED, 0);
}

static void draw_deployment(const models_view *v, ui_frame *f, int x, int y, int w)
{
    int end = x + w;
    if (!v->deployed) {
        frame_clip(f, x, y, end, "nothing deployed: the configured model answers", UI_S_WARN, 0);
        return;
    }
    int cx = frame_str(f, x, y, end, "stable ", UI_S_MUTED, 0);
    int room = end - cx;
    /* The stable name may take half the row when a candidate follows. */
    int stable_end = v->candidate ? cx + (room > 16 ? room / 2 : room) : end;
    cx = frame_clip(f, cx, y, stable_end, v->stable ? v->stable : "?", UI_S_GOOD, UI_A_BOLD);
    if (!v->candidate) {
        frame_clip(f, cx, y, end, " · no canary", UI_S_MUTED, 0);
        return;
    }
    char share[32];
    snprintf(share, sizeof share, " at %d%%", v->share);
    cx = frame_str(f, cx, y, end, w >= 60 ? " · candidate " : " · cand ", UI_S_MUTED, 0);
    int sw = frame_str_width(share);
    cx = frame_clip(f, cx, y, end - sw > cx ? end - sw : end, v->candidate, UI_S_WARN, UI_A_BOLD);
    frame_str(f, cx, y, end, share, UI_S_WARN, 0);
}

void models_render(const models_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0)
        return;
    draw_header(v, f, x, y, w);
    if (v->loading) {
        if (h > 1)
            frame_clip(f, x, y + 1, x + w, "loading versions…", UI_S_MUTED, 0);
        return;
    }
    if (h > 1)
        draw_deployment(v, f, x, y + 1, w);
    int avail = h - 2; /* below the header and the deployment line */
    if (avail <= 0)
        return;
    int body = v->n_rows ? (int)v->n_rows : 1;
    int room = avail - 1 - LOWER_MIN > 1 ? avail - 1 - LOWER_MIN : 1;
    int table_rows = 1 + (body < room ? body : room);
    if (table_rows > avail)
        table_rows = avail;
    draw_table(v, f, x, y + 2, w, table_rows);
    int col_y = y + 2 + table_rows + 1;
    draw_column(v, f, x, col_y, w, y + h - col_y, col_y - 1 < y + h ? col_y - 1 : -1);
}

/* ---- Keys ------------------------------------------------------------------------ */

void models_init(models_view *v)
{
    memset(v, 0, sizeof *v);
    v->window = "24h";
    v->loading = true;
}

void models_clamp(models_view *v)
{
    if (v->sel >= v->n_rows)
        v->sel = v->n_rows ? v->n_rows - 1 : 0;
}

static void scroll_by(models_view *v, long lines)
{
    size_t total = column_lines(v);
    long max = total > REF_PAGE ? (long)(total - REF_PAGE) : 0;
    long s = (long)v->scroll + lines;
    v->scroll = (int)(s < 0 ? 0 : s > max ? max : s);
}

models_action models_key(models_view *v, ui_key k)
{
    if (k.mods)
        return MODELS_NONE;
    switch (k.code) {
    case 'd': return MODELS_DEPLOY;
    case 'c': return MODELS_CANARY;
    case 's': return MODELS_SHARE;
    case 'x': return MODELS_STOP;
    case 'p': return MODELS_PROMOTE;
    case 'b': return MODELS_ROLLBACK;
    case 'w': return MODELS_WINDOW;
    case 'k':
    case UI_K_UP:
        if (v->sel > 0)
            v->sel--;
        break;
    case 'j':
    case UI_K_DOWN:
        if (v->sel + 1 < v->n_rows)
            v->sel++;
        break;
    case UI_K_HOME: v->sel = 0; break;
    case UI_K_END: v->sel = v->n_rows ? v->n_rows - 1 : 0; break;
    case UI_K_PGDN:
    case UI_K_WHEEL_DOWN: scroll_by(v, PAGE_LINES); break;
    case UI_K_PGUP:
    case UI_K_WHEEL_UP: scroll_by(v, -PAGE_LINES); break;
    default: break;
    }
    models_clamp(v);
    return MODELS_NONE;
}
