/*
 * review.c — the Review screen: a review_view drawn into a frame, keys
 * turned into review_actions.
 *
 * Layout, top to bottom: "Review — N of M unrated" with the filters on
 * the right; the conversation's title; the context turns and then the
 * reply in a box; the footer (model, sampling, figures, confidence when
 * known, your rating, others, "reply pos of count" and the flash note).
 * The context and the box form one column of lines; the window onto it
 * shows the whole box with as much context above it as fits (a box
 * taller than the window shows from its top), and `scroll` moves it up
 * from there, or down into a tall reply when negative.  A short screen
 * drops footer lines, least useful first.
 *
 * What this file does not do: load or save anything; app/ does that on
 * the actions review_key returns.
 */
#include "ui/review.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

enum {
    PAGE_LINES = 10,   /* PgUp/PgDn: review_key cannot know the real page */
    WHEEL_LINES = 3,
    REF_WIDTH = 60,    /* the narrowest screen (UI_MIN_W): bounds scroll  */
    LABEL_W = 12,      /* footer labels column                            */
    MIN_BOX = 3,       /* rows the reply box keeps before the footer      */
};

const char *const review_help[] = {
    "1 … 5", "score the reply",
    "+ / -", "thumbs up / down",
    "t", "add a tag",
    "c", "comment",
    "j / Down", "next reply",
    "k / Up", "previous reply",
    "u", "undo the last rating",
    "f", "filter: unrated, low-rated, all rated, all",
    "m", "filter by model",
    "d", "filter by date: any, today, 7 days",
    "/", "search the text",
    "g", "filter by tag",
    "o", "order: oldest first, lowest confidence first",
    "a", "filter by arm: any, stable, candidate, pinned",
    "A", "arena: blind side-by-side review of two versions",
    "PgUp / PgDn", "scroll the context",
    NULL,
};

/* ---- Layout ---------------------------------------------------------------------- */

static const char *turn_role(ui_role r)
{
    switch (r) {
    case UI_ROLE_CUSTOMER: return "Customer";
    case UI_ROLE_AGENT: return "Agent";
    case UI_ROLE_SYSTEM: return "System";
    default: return "";
    }
}

static ui_style header_style(ui_role r)
{
    return r == UI_ROLE_CUSTOMER ? UI_S_CUSTOMER : r == UI_ROLE_AGENT ? UI_S_AGENT : UI_S_SYSTEM;
}

/* Context text: the customer's words plain, the rest muted. */
static ui_style context_style(ui_role r)
{
    return r == UI_ROLE_CUSTOMER ? UI_S_NORMAL : r == UI_ROLE_NOTE ? UI_S_SYSTEM : UI_S_MUTED;
}

static const char *reply_text(const review_view *v)
{
    if (!v->n_context || !v->context[v->n_context - 1].text)
        return "";
    return v->context[v->n_context - 1].text;
}

/* Lines of context turn i at width w: header + text two columns in + a
 * blank line (a note: its text at full width + a blank line). */
static int context_lines(const ui_turn *t, int w)
{
    if (t->role == UI_ROLE_NOTE)
        return chat_draw_text(NULL, 0, 0, w, 0, 0, t->text, UI_S_SYSTEM, false) + 1;
    return 1 + chat_draw_text(NULL, 0, 0, w - 2, 0, 0, t->text, UI_S_NORMAL, false) + 1;
}

typedef struct {
    int context; /* lines of context                    */
    int box;     /* lines of the reply box (with edges) */
} column;

static column measure(const review_view *v, int w)
{
    column c = {0, 0};
    for (size_t i = 0; i + 1 < v->n_context; i++) {
        int n = context_lines(&v->context[i], w);
        c.context = c.context > INT_MAX / 2 - n ? INT_MAX / 2 : c.context + n;
    }
    int r = chat_draw_text(NULL, 0, 0, w - 4, 0, 0, reply_text(v), UI_S_AGENT, true);
    c.box = r > INT_MAX / 2 - 2 ? INT_MAX / 2 : r + 2;
    return c;
}

/* The first line of the column shown in a window of `page` rows. */
static int window_top(const review_view *v, column c, int page)
{
    int total = c.context + c.box;
    int max_top = total > page ? total - page : 0;
    int anchor = c.box <= page ? max_top : c.context;
    long top = (long)anchor - v->scroll;
    return (int)(top < 0 ? 0 : top > max_top ? max_top : top);
}

/* ---- Drawing --------------------------------------------------------------------- */

static void draw_centered(ui_frame *f, int x, int y, int w, const char *s, ui_style style)
{
    if (w <= 0)
        return;
    size_t len = strlen(s), fit = ui_fit(s, len, w);
    frame_text(f, x + (w - ui_text_width(s, fit)) / 2, y, x + w, s, fit, style, 0);
}

/* s right-aligned to end at column `right`, never left of `left`; cut
 * with "…" when it does not fit. */
static void draw_right(ui_frame *f, int left, int right, int y, const char *s, ui_style style)
{
    int room = right - left;
    if (!s || room <= 0)
        return;
    size_t len = strlen(s);
    int sw = ui_text_width(s, len);
    if (sw <= room) {
        frame_text(f, right - sw, y, right, s, len, style, 0);
        return;
    }
    if (room < 2)
        return;
    int cx = frame_text(f, left, y, right - 1, s, ui_fit(s, len, room - 1), style, 0);
    frame_str(f, cx, y, right, "…", style, 0);
}

/* A box edge: ┌─ title ─┐ or └──┘ across (x, w). */
static void box_edge(ui_frame *f, int x, int y, int w, bool top, const char *title)
{
    if (w < 2)
        return;
    frame_fill(f, x, y, w, 1, 0x2500, UI_S_BORDER, 0);
    frame_str(f, x, y, x + 1, top ? "┌" : "└", UI_S_BORDER, 0);
    frame_str(f, x + w - 1, y, x + w, top ? "┐" : "┘", UI_S_BORDER, 0);
    if (title && w > 6)
        frame_str(f, x + 2, y, x + w - 2, title, UI_S_TITLE, UI_A_BOLD);
}

/* The context and the reply box in (x, y, w, h).  Returns the lines of
 * the column above the window. */
static int draw_column(const review_view *v, ui_frame *f, int x, int y, int w, int h)
{
    column c = measure(v, w);
    int top = window_top(v, c, h), bottom = top + h;
    int l = 0;
    for (size_t i = 0; i + 1 < v->n_context && l < bottom; i++) {
        const ui_turn *t = &v->context[i];
        int n = context_lines(t, w);
        if (l + n > top) {
            if (t->role == UI_ROLE_NOTE) {
                int skip = top > l ? top - l : 0;
                chat_draw_text(f, x, y + l + skip - top, w, bottom - (l + skip), skip, t->text, UI_S_SYSTEM,
                               false);
            } else {
                if (l >= top)
                    frame_str(f, x, y + l - top, x + w, turn_role(t->role), header_style(t->role), UI_A_BOLD);
                int tl = l + 1, skip = top > tl ? top - tl : 0;
                chat_draw_text(f, x + 2, y + tl + skip - top, w - 2, bottom - (tl + skip), skip, t->text,
                               context_style(t->role), t->role == UI_ROLE_AGENT);
            }
        }
        l += n;
    }
    /* The box: edges at c.context and c.context + c.box - 1. */
    int b0 = c.context, b1 = c.context + c.box - 1;
    if (b0 >= top && b0 < bottom)
        box_edge(f, x, y + b0 - top, w, true, " Reply ");
    if (b1 >= top && b1 < bottom)
        box_edge(f, x, y + b1 - top, w, false, NULL);
    int first = b0 + 1 > top ? b0 + 1 : top, last = b1 < bottom ? b1 : bottom; /* [first, last) */
    for (int r = first; r < last; r++) {
        frame_str(f, x, y + r - top, x + 1, "│", UI_S_BORDER, 0);
        if (w > 1)
            frame_str(f, x + w - 1, y + r - top, x + w, "│", UI_S_BORDER, 0);
    }
    if (last > first)
        chat_draw_text(f, x + 2, y + first - top, w - 4, last - first, first - (b0 + 1), reply_text(v),
                       UI_S_AGENT, true);
    return top;
}

enum { F_MODEL, F_SAMPLING, F_FIGURES, F_CONFIDENCE, F_MINE, F_OTHERS, F_POS, F_COUNT };

static void draw_footer_line(const review_view *v, ui_frame *f, int x, int y, int w, int which)
{
    static const char *const label[F_COUNT] = {"model", "sampling", "figures", "confidence", "your rating",
                                               "others", ""};
    int end = x + w;
    if (which == F_POS) {
        int cx = frame_printf(f, x, y, end, UI_S_MUTED, 0, "reply %zu of %zu", v->pos + 1, v->count);
        if (v->flash && *v->flash)
            frame_str(f, cx + 3, y, end, v->flash, UI_S_GOOD, UI_A_BOLD);
        return;
    }
    frame_str(f, x, y, end, label[which], UI_S_MUTED, 0);
    int vx = x + (w > LABEL_W + 8 ? LABEL_W : (int)strlen(label[which]) + 1);
    const char *val = which == F_MODEL      ? v->model
                      : which == F_SAMPLING ? v->sampling
                      : which == F_FIGURES  ? v->figures
                      : which == F_CONFIDENCE ? v->confidence
                      : which == F_MINE     ? v->my_rating
                                            : v->others;
    if (val && *val)
        frame_str(f, vx, y, end, val, UI_S_NORMAL, which == F_MINE ? UI_A_BOLD : 0);
    else
        frame_str(f, vx, y, end, which == F_MINE ? "not rated yet" : which == F_OTHERS ? "none" : "—",
                  UI_S_MUTED, 0);
}

void review_render(const review_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0)
        return;
    int cx = frame_printf(f, x, y, x + w, UI_S_TITLE, UI_A_BOLD, "Review — %zu of %zu unrated", v->unrated,
                          v->total);
    draw_right(f, cx + 2, x + w, y, v->filters, UI_S_MUTED);
    if (v->empty) {
        if (h > 1)
            draw_centered(f, x, y + 1 + (h - 2) / 2, w, "Nothing to review with these filters — f changes the filter",
                          UI_S_MUTED);
        return;
    }
    if (h < 2)
        return;

    /* Footer lines by importance, as many as leave the box MIN_BOX rows. */
    static const int priority[F_COUNT] = {F_POS, F_MINE, F_MODEL, F_FIGURES, F_CONFIDENCE, F_SAMPLING, F_OTHERS};
    bool shown[F_COUNT] = {false};
    int room = h - 2 - MIN_BOX, n_foot = 0;
    for (int i = 0; i < F_COUNT && n_foot < room; i++) {
        if (priority[i] == F_CONFIDENCE && !v->confidence)
            continue; /* unknown: no line */
        shown[priority[i]] = true;
        n_foot++;
    }
    int fy = y + h - n_foot;
    for (int i = 0; i < F_COUNT; i++)
        if (shown[i])
            draw_footer_line(v, f, x, fy++, w, i);

    int mh = h - 2 - n_foot;
    int above = mh > 0 ? draw_column(v, f, x, y + 2, w, mh) : 0;
    int tx = frame_str(f, x, y + 1, x + w, v->conv_title ? v->conv_title : "", UI_S_NORMAL, UI_A_BOLD);
    if (above > 0) {
        char more[48];
        snprintf(more, sizeof more, "↑ %d more line%s (PgUp)", above, above == 1 ? "" : "s");
        draw_right(f, tx + 2, x + w, y + 1, more, UI_S_MUTED);
    }
}

/* ---- Keys ------------------------------------------------------------------------ */

void review_init(review_view *v)
{
    memset(v, 0, sizeof *v);
}

/* Scroll by `lines` (up when positive), bounded by the column at the
 * narrowest width it is shown at; render clamps exactly. */
static void scroll_by(review_view *v, int lines)
{
    if (v->empty) {
        v->scroll = 0;
        return;
    }
    column c = measure(v, REF_WIDTH);
    long s = (long)v->scroll + lines;
    v->scroll = (int)(s > c.context ? c.context : s < -c.box ? -c.box : s);
}

review_action review_key(review_view *v, ui_key k, int *arg)
{
    if (arg)
        *arg = 0;
    if (k.mods)
        return REVIEW_NONE;
    switch (k.code) {
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
        if (arg)
            *arg = (int)(k.code - '0');
        return REVIEW_SCORE;
    case '+':
    case '=': return REVIEW_THUMB_UP;
    case '-': return REVIEW_THUMB_DOWN;
    case 't': return REVIEW_TAG;
    case 'c': return REVIEW_COMMENT;
    case 'j':
    case UI_K_DOWN: return REVIEW_NEXT;
    case 'k':
    case UI_K_UP: return REVIEW_PREV;
    case 'u': return REVIEW_UNDO;
    case 'f': return REVIEW_FILTER;
    case 'm': return REVIEW_MODEL;
    case 'd': return REVIEW_DATE;
    case '/': return REVIEW_SEARCH;
    case 'g': return REVIEW_TAG_FILTER;
    case 'o': return REVIEW_ORDER;
    case 'a': return REVIEW_ARM;
    case UI_K_PGUP: scroll_by(v, PAGE_LINES); break;
    case UI_K_PGDN: scroll_by(v, -PAGE_LINES); break;
    case UI_K_WHEEL_UP: scroll_by(v, WHEEL_LINES); break;
    case UI_K_WHEEL_DOWN: scroll_by(v, -WHEEL_LINES); break;
    case UI_K_HOME: scroll_by(v, INT_MAX / 4); break;
    case UI_K_END: v->scroll = 0; break;
    default: break;
    }
    return REVIEW_NONE;
}
