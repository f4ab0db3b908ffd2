/*
 * shell.c — the frame around the four screens: tab bar, status line,
 * overlays and the "terminal too small" notice (see shell.h).
 *
 * Layout: row 0 the tabs (" F1 Chat  F2 Review  F3 Dashboard  F4 Models ",
 * the current one reversed, "F10 help · Ctrl-Q quit" on the right); the last
 * row the status line (" model (quant) · backend · db · 41.2 tok/s" or
 * "idle", the notice on the right); the current screen in between.  An
 * overlay is a box centred over the screen area, its interior cleared
 * first, its hints in the bottom edge.  While an overlay other than the
 * prompt is open the cursor is hidden.
 *
 * What this file does not do: talk to the terminal, or act on what the
 * user chose — shell_key returns it and app/ carries it out.
 */
#include "ui/shell.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    HELP_REF_ROWS = UI_MIN_H - 2 - 2, /* help lines visible at the smallest
                                         size: bounds help_scroll        */
    HELP_PAGE = 10,
    BOX_MAX_W = 72,
    TITLE_MAX_LINES = 3,
};

/* Keys that work on every screen: pairs, NULL-terminated. */
static const char *const global_help[] = {
    "F1 / Alt-1", "Chat screen",
    "F2 / Alt-2", "Review screen",
    "F3 / Alt-3", "Dashboard screen",
    "F4 / Alt-4", "Models screen",
    "F10 / ?", "this help (? when not typing)",
    "Ctrl-Q / q", "quit (q when not typing)",
    "Tab", "move the focus",
    NULL,
};

static const char *const SCREEN_NAME[4] = {"Chat", "Review", "Dashboard", "Models"};

/* ---- Drawing helpers ------------------------------------------------------------- */

/* s centred in [x, x + w) on row y, clipped (no "…"). */
static void draw_centered(ui_frame *f, int x, int y, int w, const char *s, ui_style style, unsigned attr)
{
    if (w <= 0)
        return;
    size_t len = strlen(s), fit = ui_fit(s, len, w);
    frame_text(f, x + (w - ui_text_width(s, fit)) / 2, y, x + w, s, fit, style, attr);
}

/* The tail of s that fits in `cols` columns after a leading "…" (for
 * paths, whose end says most), from a '/' when one is left in it; NULL
 * when nothing fits. */
static const char *tail_fit(const char *s, int cols)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue; /* inside a UTF-8 sequence */
        if (ui_text_width(s + i, len - i) <= cols - 1) {
            const char *slash = strchr(s + i, '/');
            return slash && slash[1] ? slash : s + i;
        }
    }
    return NULL;
}

/* ---- Tabs and status ------------------------------------------------------------- */

static void draw_tabs(const shell_view *v, ui_frame *f)
{
    static const char *const tabs[4] = {" F1 Chat ", " F2 Review ", " F3 Dashboard ", " F4 Models "};
    int cx = 0;
    for (int i = 0; i < 4; i++) {
        bool on = (int)v->screen == i;
        cx = frame_str(f, cx, 0, f->w, tabs[i], on ? UI_S_TITLE : UI_S_NORMAL, on ? UI_A_REVERSE | UI_A_BOLD : 0);
        cx++;
    }
    const char *hint = "F10 help · Ctrl-Q quit";
    if (f->w - cx < frame_str_width(hint) + 1)
        hint = "F10 help"; /* four tabs leave a 60-column row little room */
    if (f->w - cx >= frame_str_width(hint) + 1)
        frame_right(f, cx, f->w, 0, hint, UI_S_MUTED, 0);
}

static void draw_status(const shell_view *v, ui_frame *f, int y)
{
    int w = f->w;
    frame_fill(f, 0, y, w, 1, ' ', UI_S_STATUS, 0);

    char model[512], live[32];
    const char *name = v->model && *v->model ? v->model : "no model";
    if (v->quant && *v->quant)
        snprintf(model, sizeof model, " %s (%s)", name, v->quant);
    else
        snprintf(model, sizeof model, " %s", name);
    if (!v->generating)
        snprintf(live, sizeof live, "idle");
    else if (isfinite(v->live_tps) && v->live_tps > 0)
        snprintf(live, sizeof live, "%.1f tok/s", v->live_tps);
    else
        snprintf(live, sizeof live, "generating…");
    const char *backend = v->backend && *v->backend ? v->backend : NULL;
    const char *db = v->db_path && *v->db_path ? v->db_path : NULL;

    /* The notice first: it is what the user needs to read now.  It may
     * take up to two thirds of the row. */
    int right = w;
    if (v->notice && *v->notice) {
        int nw = frame_str_width(v->notice);
        int cap = w * 2 / 3;
        int take = nw + 2 < cap ? nw + 2 : cap; /* a space either side */
        if (take > 2) {
            ui_style st = v->notice_bad ? UI_S_BAD : UI_S_STATUS;
            frame_fill(f, w - take, y, take, 1, ' ', st, 0);
            frame_clip(f, w - take + 1, y, w - 1, v->notice, st, UI_A_BOLD);
            right = w - take - 1;
        }
    }

    /* Then " model (quant) · backend · db · live": the live part stays
     * whole; the db path shrinks from its start ("…/fd.db") or goes, then
     * the rest is cut with "…". */
    const char *sep = " · ";
    int live_w = 3 + frame_str_width(live);
    int left_max = right - live_w; /* where the left part must end */
    int fixed = frame_str_width(model) + (backend ? 3 + frame_str_width(backend) : 0);
    const char *dbs = db;
    bool db_cut = false;
    if (db && fixed + 3 + frame_str_width(db) > left_max) {
        int room = left_max - fixed - 3;
        dbs = room >= 8 ? tail_fit(db, room) : NULL;
        db_cut = dbs != NULL;
    }
    char line[1024];
    snprintf(line, sizeof line, "%s%s%s%s%s%s", model, backend ? sep : "", backend ? backend : "",
             dbs ? sep : "", db_cut ? "…" : "", dbs ? dbs : "");
    int cx = frame_clip(f, 0, y, left_max > 2 ? left_max : right, line, UI_S_STATUS, 0);
    cx = frame_str(f, cx, y, right, sep, UI_S_STATUS, 0);
    frame_clip(f, cx, y, right, live, UI_S_STATUS, v->generating ? UI_A_BOLD : 0);
}

/* ---- Overlays ---------------------------------------------------------------------- */

typedef struct {
    int x, y, w, h; /* the box, edges included */
} box;

/* A box of (w, h) centred over the screen area (rows 1 .. f->h - 2),
 * shrunk to fit it; interior cleared; title in the top edge, hint in the
 * bottom edge (right-aligned). */
static box open_box(ui_frame *f, int w, int h, const char *title, const char *hint)
{
    int area_h = f->h - 2;
    box b;
    b.w = w > f->w - 2 ? f->w - 2 : w;
    b.h = h > area_h ? area_h : h;
    if (b.w < 4)
        b.w = f->w < 4 ? f->w : 4;
    if (b.h < 3)
        b.h = area_h < 3 ? area_h : 3;
    b.x = (f->w - b.w) / 2;
    b.y = 1 + (area_h - b.h) / 2;
    frame_fill(f, b.x, b.y, b.w, b.h, ' ', UI_S_NORMAL, 0);
    frame_box(f, b.x, b.y, b.w, b.h, NULL, UI_S_BORDER);
    int r = b.x + b.w - 2;
    if (title && *title && b.w > 6) {
        char t[256];
        snprintf(t, sizeof t, " %s ", title);
        frame_clip(f, b.x + 2, b.y, r, t, UI_S_TITLE, UI_A_BOLD);
    }
    if (hint && *hint && b.w > 6 && b.h > 1) {
        char t[128];
        snprintf(t, sizeof t, " %s ", hint);
        int tw = frame_str_width(t);
        if (tw <= r - (b.x + 2))
            frame_str(f, r - tw, b.y + b.h - 1, r, t, UI_S_MUTED, 0);
    }
    return b;
}

static const char *const *screen_help(const shell_view *v)
{
    switch (v->screen) {
    case UI_SCREEN_CHAT: return chat_help;
    case UI_SCREEN_REVIEW: return v->review_arena.active ? arena_help : review_help;
    case UI_SCREEN_DASH: return dash_help;
    default: return models_help;
    }
}

static size_t pairs(const char *const *t)
{
    size_t n = 0;
    while (t[2 * n] && t[2 * n + 1])
        n++;
    return n;
}

/* Help lines: heading, the screen's pairs, a blank, heading, the global
 * pairs. */
static size_t help_lines(const shell_view *v)
{
    return 1 + pairs(screen_help(v)) + 1 + 1 + pairs(global_help);
}

static void help_line(const shell_view *v, size_t i, const char **key, const char **desc, bool *heading)
{
    ui_screen s = v->screen;
    const char *const *t = screen_help(v);
    size_t n = pairs(t);
    *key = *desc = NULL;
    *heading = false;
    if (i == 0) {
        *key = SCREEN_NAME[s];
        *heading = true;
    } else if (i <= n) {
        *key = t[2 * (i - 1)];
        *desc = t[2 * (i - 1) + 1];
    } else if (i == n + 1) {
        /* blank */
    } else if (i == n + 2) {
        *key = "Everywhere";
        *heading = true;
    } else {
        size_t g = i - n - 3;
        *key = global_help[2 * g];
        *desc = global_help[2 * g + 1];
    }
}

static void draw_help(const shell_view *v, ui_frame *f)
{
    ui_screen s = v->screen;
    size_t n = help_lines(v);
    int key_w = 0, desc_w = 0;
    for (size_t i = 0; i < n; i++) {
        const char *k, *d;
        bool head;
        help_line(v, i, &k, &d, &head);
        if (head || !k)
            continue;
        int kw = frame_str_width(k), dw = frame_str_width(d);
        key_w = kw > key_w ? kw : key_w;
        desc_w = dw > desc_w ? dw : desc_w;
    }
    int inner_h = f->h - 2 - 2;
    bool scrolls = (int)n > inner_h;
    char title[64];
    snprintf(title, sizeof title, "Keys — %s", SCREEN_NAME[s]);
    box b = open_box(f, 2 + key_w + 2 + desc_w + 2, (int)n + 2, title,
                     scrolls ? "↑↓ scroll · Esc closes" : "Esc closes");
    int rows = b.h - 2, x0 = b.x + 2, end = b.x + b.w - 2;
    if (rows <= 0)
        return;
    if (key_w > (end - x0) / 2)
        key_w = (end - x0) / 2;
    size_t max_top = n > (size_t)rows ? n - (size_t)rows : 0;
    size_t top = v->help_scroll > 0 ? (size_t)v->help_scroll : 0;
    if (top > max_top)
        top = max_top;
    for (int r = 0; r < rows && top + (size_t)r < n; r++) {
        const char *k, *d;
        bool head;
        help_line(v, top + (size_t)r, &k, &d, &head);
        int y = b.y + 1 + r;
        if (head) {
            frame_str(f, x0, y, end, k, UI_S_TITLE, UI_A_BOLD);
        } else if (k) {
            frame_clip(f, x0, y, x0 + key_w < end ? x0 + key_w : end, k, UI_S_NORMAL, UI_A_BOLD);
            frame_clip(f, x0 + key_w + 2, y, end, d, UI_S_NORMAL, 0);
        }
    }
    if (top > 0) /* in the right margin */
        frame_str(f, end, b.y + 1, end + 1, "↑", UI_S_MUTED, 0);
    if (top < max_top)
        frame_str(f, end, b.y + b.h - 2, end + 1, "↓", UI_S_MUTED, 0);
}

/* Wrapped text lines (at most max_lines) for a box of inner width w. */
static size_t wrap_lines(const char *text, int w, ui_span **out)
{
    return ui_wrap(text, strlen(text), w < 1 ? 1 : w, out);
}

/* A box of text (quit confirmation, message). */
static void draw_text_box(ui_frame *f, const char *title, const char *text, const char *hint, ui_style style)
{
    if (!text)
        text = "";
    int wrap_w = f->w - 8 < 60 ? f->w - 8 : 60;
    ui_span *sp;
    size_t n = wrap_lines(text, wrap_w, &sp);
    int tw = 0;
    for (size_t i = 0; i < n; i++) {
        int lw = ui_text_width(text + sp[i].off, sp[i].len);
        tw = lw > tw ? lw : tw;
    }
    int hw = frame_str_width(hint) + 2, ttw = frame_str_width(title) + 2;
    int need = tw > hw ? tw : hw;
    need = need > ttw ? need : ttw;
    box b = open_box(f, need + 4, (int)n + 2, title, hint);
    int rows = b.h - 2;
    for (int r = 0; r < rows && (size_t)r < n; r++)
        frame_text(f, b.x + 2, b.y + 1 + r, b.x + b.w - 2, text + sp[r].off, sp[r].len, style, 0);
    free(sp);
}

/* Title lines wrapped into the box: draws them from row y and returns
 * how many. */
static int draw_title_lines(ui_frame *f, int x, int y, int w, int max_rows, const char *title)
{
    if (!title || !*title || max_rows <= 0)
        return 0;
    ui_span *sp;
    size_t n = wrap_lines(title, w, &sp);
    int rows = (int)n < max_rows ? (int)n : max_rows;
    for (int r = 0; r < rows; r++)
        frame_text(f, x, y + r, x + w, title + sp[r].off, sp[r].len, UI_S_TITLE, UI_A_BOLD);
    free(sp);
    return rows;
}

static int title_rows(const char *title, int w)
{
    if (!title || !*title)
        return 0;
    ui_span *sp;
    size_t n = wrap_lines(title, w, &sp);
    free(sp);
    return (int)n < TITLE_MAX_LINES ? (int)n : TITLE_MAX_LINES;
}

static void draw_prompt(const shell_view *v, ui_frame *f)
{
    int bw = f->w - 8 < BOX_MAX_W ? f->w - 8 : BOX_MAX_W;
    int iw = bw - 4;
    int tr = title_rows(v->prompt_title, iw);
    box b = open_box(f, bw, tr + 1 + 2, NULL, "Enter OK · Esc cancel");
    int x0 = b.x + 2, w = b.w - 4, rows = b.h - 2;
    if (rows <= 0 || w <= 0)
        return;
    int t = draw_title_lines(f, x0, b.y + 1, w, rows - 1, v->prompt_title);
    ui_input_render(&v->prompt, f, x0, b.y + 1 + t, w, 1, true, NULL);
}

static void draw_pick(const shell_view *v, ui_frame *f)
{
    int item_w = 0;
    for (size_t i = 0; i < v->n_pick; i++) {
        int iw = frame_str_width(v->pick_items[i]);
        item_w = iw > item_w ? iw : item_w;
    }
    int need = item_w + 2 + 4;
    int tw = frame_str_width(v->pick_title) + 4;
    need = need > tw ? need : tw;
    need = need < 40 ? 40 : need;
    int bw = need < f->w - 8 ? need : f->w - 8;
    bw = bw > BOX_MAX_W ? BOX_MAX_W : bw;
    int tr = title_rows(v->pick_title, bw - 4);
    size_t n = v->n_pick ? v->n_pick : 1;
    box b = open_box(f, bw, tr + (int)n + 2, NULL, "↑↓ choose · Enter OK · Esc cancel");
    int x0 = b.x + 2, w = b.w - 4, rows = b.h - 2;
    if (rows <= 0 || w <= 0)
        return;
    int t = draw_title_lines(f, x0, b.y + 1, w, rows - 1, v->pick_title);
    int list_rows = rows - t, ly = b.y + 1 + t;
    if (!v->n_pick) {
        frame_str(f, x0, ly, x0 + w, "nothing to choose from", UI_S_MUTED, 0);
        return;
    }
    size_t sel = v->pick_sel < v->n_pick ? v->pick_sel : v->n_pick - 1;
    size_t top = sel >= (size_t)list_rows ? sel - (size_t)list_rows + 1 : 0;
    for (int r = 0; r < list_rows && top + (size_t)r < v->n_pick; r++) {
        size_t i = top + (size_t)r;
        bool on = i == sel;
        ui_style st = on ? UI_S_SELECTED : UI_S_NORMAL;
        if (on)
            frame_fill(f, b.x + 1, ly + r, b.w - 2, 1, ' ', st, 0);
        frame_str(f, x0 - 1, ly + r, x0 + w, on ? "▸" : " ", st, 0);
        frame_clip(f, x0 + 1, ly + r, x0 + w, v->pick_items[i] ? v->pick_items[i] : "", st, 0);
    }
}

static void draw_overlay(const shell_view *v, ui_frame *f)
{
    switch (v->overlay) {
    case UI_OVERLAY_HELP: draw_help(v, f); break;
    case UI_OVERLAY_QUIT:
        draw_text_box(f, "Quit", "A reply is being generated. Quit anyway? (y/N)", "y quits · any other key stays",
                      UI_S_WARN);
        break;
    case UI_OVERLAY_PROMPT: draw_prompt(v, f); return; /* keeps its cursor */
    case UI_OVERLAY_PICK: draw_pick(v, f); break;
    case UI_OVERLAY_MESSAGE: draw_text_box(f, NULL, v->message, "any key closes", UI_S_NORMAL); break;
    default: return;
    }
    f->cursor_visible = false;
}

/* ---- Render ------------------------------------------------------------------------ */

/* Two centred lines; on a very narrow terminal their short forms
 * ("Too small: 20x5", "needs 60x16"), clipped if even those do not fit. */
static void draw_too_small(ui_frame *f)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "Terminal too small: %dx%d", f->w, f->h);
    if (frame_str_width(a) > f->w)
        snprintf(a, sizeof a, "Too small: %dx%d", f->w, f->h);
    snprintf(b, sizeof b, "frontdesk needs at least %dx%d", UI_MIN_W, UI_MIN_H);
    if (frame_str_width(b) > f->w)
        snprintf(b, sizeof b, "needs %dx%d", UI_MIN_W, UI_MIN_H);
    int y = f->h >= 2 ? (f->h - 2) / 2 : 0;
    draw_centered(f, 0, y, f->w, a, UI_S_BAD, UI_A_BOLD);
    if (y + 1 < f->h)
        draw_centered(f, 0, y + 1, f->w, b, UI_S_NORMAL, 0);
}

void shell_render(const shell_view *v, ui_frame *f)
{
    frame_clear(f);
    if (f->w < UI_MIN_W || f->h < UI_MIN_H) {
        draw_too_small(f);
        return;
    }
    int w = f->w, h = f->h - 2;
    draw_tabs(v, f);
    switch (v->screen) {
    case UI_SCREEN_CHAT: chat_render(&v->chat, f, 0, 1, w, h); break;
    case UI_SCREEN_REVIEW:
        if (v->review_arena.active)
            arena_render(&v->review_arena, f, 0, 1, w, h);
        else
            review_render(&v->review, f, 0, 1, w, h);
        break;
    case UI_SCREEN_DASH: dash_render(&v->dash, f, 0, 1, w, h); break;
    default: models_render(&v->models, f, 0, 1, w, h); break;
    }
    draw_status(v, f, f->h - 1);
    draw_overlay(v, f);
}

/* ---- Keys ---------------------------------------------------------------------------- */

void shell_init(shell_view *v)
{
    memset(v, 0, sizeof *v);
    chat_init(&v->chat);
    review_init(&v->review);
    dash_init(&v->dash);
    models_init(&v->models);
    ui_input_init(&v->prompt, false);
    v->screen = UI_SCREEN_CHAT;
    v->overlay = UI_OVERLAY_NONE;
}

void shell_free(shell_view *v)
{
    if (!v)
        return;
    chat_free(&v->chat);
    ui_input_free(&v->prompt);
}

void shell_prompt(shell_view *v, const char *title, const char *initial)
{
    v->overlay = UI_OVERLAY_PROMPT;
    v->prompt_title = title;
    ui_input_set(&v->prompt, initial ? initial : "");
}

void shell_pick(shell_view *v, const char *title, const char *const *items, size_t n)
{
    v->overlay = UI_OVERLAY_PICK;
    v->pick_title = title;
    v->pick_items = items;
    v->n_pick = n;
    v->pick_sel = 0;
}

void shell_message(shell_view *v, const char *text)
{
    v->overlay = UI_OVERLAY_MESSAGE;
    v->message = text;
}

static void help_scroll_by(shell_view *v, long lines)
{
    size_t n = help_lines(v);
    long max = n > HELP_REF_ROWS ? (long)(n - HELP_REF_ROWS) : 0;
    long s = (long)v->help_scroll + lines;
    v->help_scroll = (int)(s < 0 ? 0 : s > max ? max : s);
}

static shell_action help_key(shell_view *v, ui_key k)
{
    if (k.mods == 0) {
        switch (k.code) {
        case UI_K_ESC:
        case UI_K_F1 + 9:
        case '?':
        case 'q':
        case UI_K_ENTER: v->overlay = UI_OVERLAY_NONE; return SHELL_NONE;
        case UI_K_DOWN:
        case 'j': help_scroll_by(v, 1); break;
        case UI_K_UP:
        case 'k': help_scroll_by(v, -1); break;
        case UI_K_PGDN:
        case UI_K_WHEEL_DOWN: help_scroll_by(v, HELP_PAGE); break;
        case UI_K_PGUP:
        case UI_K_WHEEL_UP: help_scroll_by(v, -HELP_PAGE); break;
        case UI_K_HOME: v->help_scroll = 0; break;
        case UI_K_END: help_scroll_by(v, 1L << 30); break;
        default: break;
        }
    }
    return SHELL_NONE;
}

static shell_action pick_key(shell_view *v, ui_key k)
{
    if (k.mods)
        return SHELL_NONE;
    size_t last = v->n_pick ? v->n_pick - 1 : 0;
    if (v->pick_sel > last)
        v->pick_sel = last;
    switch (k.code) {
    case UI_K_UP:
    case 'k':
        if (v->pick_sel > 0)
            v->pick_sel--;
        break;
    case UI_K_DOWN:
    case 'j':
        if (v->pick_sel < last)
            v->pick_sel++;
        break;
    case UI_K_HOME:
    case UI_K_PGUP: v->pick_sel = 0; break;
    case UI_K_END:
    case UI_K_PGDN: v->pick_sel = last; break;
    case UI_K_ENTER:
        v->overlay = UI_OVERLAY_NONE;
        return v->n_pick ? SHELL_PICKED : SHELL_CANCELLED;
    case UI_K_ESC: v->overlay = UI_OVERLAY_NONE; return SHELL_CANCELLED;
    default: break;
    }
    return SHELL_NONE;
}

static shell_action prompt_key(shell_view *v, ui_key k)
{
    if (ui_key_is(k, UI_K_ESC, 0)) {
        v->overlay = UI_OVERLAY_NONE;
        ui_input_clear(&v->prompt);
        return SHELL_CANCELLED;
    }
    if (ui_input_key(&v->prompt, k) == UI_INPUT_SUBMIT) {
        v->overlay = UI_OVERLAY_NONE; /* the text stays for app/ to read */
        return SHELL_PROMPT_OK;
    }
    return SHELL_NONE;
}

static shell_action overlay_key(shell_view *v, ui_key k)
{
    if (k.code == UI_K_RESIZE)
        return SHELL_NONE; /* not a key the user pressed: nothing closes */
    switch (v->overlay) {
    case UI_OVERLAY_HELP: return help_key(v, k);
    case UI_OVERLAY_QUIT:
        v->overlay = UI_OVERLAY_NONE;
        return (k.code == 'y' || k.code == 'Y') && !k.mods ? SHELL_QUIT : SHELL_NONE;
    case UI_OVERLAY_PROMPT: return prompt_key(v, k);
    case UI_OVERLAY_PICK: return pick_key(v, k);
    default: v->overlay = UI_OVERLAY_NONE; return SHELL_NONE; /* MESSAGE: any key */
    }
}

static shell_action switch_to(shell_view *v, ui_screen s)
{
    if (v->screen == s)
        return SHELL_NONE;
    v->screen = s;
    return SHELL_SWITCHED;
}

static shell_action quit(shell_view *v)
{
    if (!v->generating)
        return SHELL_QUIT;
    v->overlay = UI_OVERLAY_QUIT;
    return SHELL_NONE;
}

static shell_action open_help(shell_view *v)
{
    v->overlay = UI_OVERLAY_HELP;
    v->help_scroll = 0;
    return SHELL_NONE;
}

shell_action shell_key(shell_view *v, ui_key k)
{
    if (v->overlay != UI_OVERLAY_NONE)
        return overlay_key(v, k);
    if (k.code >= UI_K_F1 && k.code <= UI_K_F1 + 3 && !k.mods)
        return switch_to(v, (ui_screen)(k.code - UI_K_F1));
    if (k.code >= '1' && k.code <= '4' && k.mods == UI_MOD_ALT)
        return switch_to(v, (ui_screen)(k.code - '1'));
    if (ui_key_is(k, UI_K_F1 + 9, 0))
        return open_help(v);
    if (ui_key_is(k, 'q', UI_MOD_CTRL))
        return quit(v);
    if (k.code == UI_K_RESIZE)
        return SHELL_NONE;
    bool typing = v->screen == UI_SCREEN_CHAT && chat_typing(&v->chat);
    if (!typing && ui_key_is(k, '?', 0))
        return open_help(v);
    if (!typing && ui_key_is(k, 'q', 0))
        return quit(v);
    return SHELL_PASS;
}
