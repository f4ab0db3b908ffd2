/*
 * chat.c — the Chat screen: a chat_view drawn into a frame, keys turned
 * into chat_actions.
 *
 * Layout (w >= 70):            (w < 70: the list replaces the transcript
 *   list │ transcript           while it has the focus or is filtered,
 *        │ ─── separator ───    and a title row names the open
 *        │ input editor         conversation)
 *
 * The transcript is laid out as lines: per turn a header ("Customer",
 * "Agent", "System"; a NOTE is one "— text —" paragraph), the text wrapped
 * two columns in, an agent's meta line, a blank line between turns.  The
 * window onto those lines is anchored at the bottom while the selection
 * follows the newest turn, else where the selected turn's header is in
 * view; `scroll` moves it up from the anchor.
 *
 * What this file does not do: talk to the terminal, the store or the
 * engine.  It only reads the view and changes the view's UI state.
 */
#include "ui/chat.h"

#include "util/util.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    LIST_MIN_W = 18,
    LIST_MAX_W = 36,
    LIST_SHOW_W = 70,   /* narrower than this: the list only with focus     */
    PAGE_LINES = 10,    /* PgUp/PgDn: chat_key cannot know the real page     */
    WHEEL_LINES = 3,
    REF_WIDTH = 58,     /* the transcript's width on the smallest screen
                           (UI_MIN_W): it is no longer anywhere else, so
                           this bounds `scroll` in chat_key                  */
    SLOT_MAX = 80,      /* bytes inside {{ }} for a placeholder              */
};

#define U_VBAR 0x2502  /* │ */
#define U_HBAR 0x2500  /* ─ */

/* The input's hint, the longest that fits. */
static const char *const INPUT_HINTS[] = {
    "Type the customer's message — Enter sends, Alt-Enter newline",
    "Type the customer's message — Enter sends",
    "Customer's message",
};

const char *const chat_help[] = {
    "Enter", "send the message (in the input)",
    "Alt-Enter", "new line in the message",
    "Tab / Shift-Tab", "focus: input → transcript → list",
    "Up / Down, j / k", "select a turn (transcript), a conversation (list)",
    "PgUp / PgDn", "scroll the transcript",
    "n  Alt-n", "new conversation",
    "r  Alt-r", "regenerate the last reply",
    "+  Alt-+", "thumbs up on the selected reply",
    "-  Alt--", "thumbs down on the selected reply",
    "e  Alt-e", "edit the selected customer message",
    "R  Alt-R", "rename the conversation",
    "x  Alt-x", "close / reopen the conversation",
    "y  Alt-y", "copy the selected reply",
    "/  Ctrl-F", "filter the list (full text)",
    "Esc", "cancel the reply being generated / the edit / the filter",
    NULL,
};

/* ---- Text with placeholders ---------------------------------------------------- */

/* The first {{slot}} starting at or after `from`: s[*a .. *b) including
 * the braces, non-empty, on one line, at most SLOT_MAX bytes inside. */
static bool next_slot(const char *s, size_t len, size_t from, size_t *a, size_t *b)
{
    for (size_t i = from; i + 4 <= len; i++) {
        if (s[i] != '{' || s[i + 1] != '{')
            continue;
        size_t j = i + 2;
        while (j < len && s[j] == '{') /* "{{{x}}": the slot starts last */
            j++;
        size_t open = j - 2, stop = j + SLOT_MAX;
        for (size_t k = j; k + 1 < len && k < stop; k++) {
            if (s[k] == '\n' || s[k] == '{')
                break;
            if (s[k] == '}' && s[k + 1] == '}') {
                if (k == j)
                    break; /* "{{}}" is no slot */
                *a = open;
                *b = k + 2;
                return true;
            }
        }
        i = j - 1;
    }
    return false;
}

int chat_draw_text(ui_frame *f, int x, int y, int w, int max_rows, int skip_rows, const char *text,
                   ui_style style, bool slots)
{
    if (!text)
        text = "";
    size_t len = strlen(text);
    ui_span *lines;
    size_t n = ui_wrap(text, len, w < 1 ? 1 : w, &lines);
    if (f && w > 0 && max_rows > 0) {
        size_t sa = 0, sb = 0;
        bool have = slots && next_slot(text, len, 0, &sa, &sb);
        size_t first = skip_rows > 0 ? (size_t)skip_rows : 0;
        int row = 0;
        for (size_t i = first; i < n && row < max_rows; i++, row++) {
            size_t a = lines[i].off, e = a + lines[i].len;
            int cx = x;
            while (a < e) {
                while (have && sb <= a)
                    have = next_slot(text, len, sb, &sa, &sb);
                if (have && sa <= a) {
                    size_t end = sb < e ? sb : e;
                    cx = frame_text(f, cx, y + row, x + w, text + a, end - a, UI_S_PLACEHOLDER,
                                    UI_A_UNDERLINE);
                    a = end;
                } else {
                    size_t end = have && sa < e ? sa : e;
                    cx = frame_text(f, cx, y + row, x + w, text + a, end - a, style, 0);
                    a = end;
                }
            }
        }
    }
    free(lines);
    return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- Transcript layout ----------------------------------------------------------- */

/* The text a turn shows: a streaming one ends in a cursor mark; a note
 * is framed by dashes.  Uses `tmp` when it has to build it. */
static const char *turn_text(const ui_turn *t, strbuf *tmp)
{
    const char *s = t->text ? t->text : "";
    if (t->role == UI_ROLE_NOTE) {
        sb_clear(tmp);
        sb_printf(tmp, "— %s —", s);
        return tmp->data;
    }
    if (!t->streaming)
        return s;
    sb_clear(tmp);
    sb_puts(tmp, s);
    sb_puts(tmp, "▌");
    return tmp->data;
}

static ui_style text_style(ui_role r)
{
    switch (r) {
    case UI_ROLE_CUSTOMER: return UI_S_CUSTOMER;
    case UI_ROLE_AGENT: return UI_S_AGENT;
    default: return UI_S_SYSTEM;
    }
}

static const char *role_name(ui_role r)
{
    switch (r) {
    case UI_ROLE_CUSTOMER: return "Customer";
    case UI_ROLE_AGENT: return "Agent";
    case UI_ROLE_SYSTEM: return "System";
    default: return "";
    }
}

/* Lines of one turn at pane width pw (the blank line after it excluded):
 * a note is its own paragraph; else header + text at pw - 2 + meta. */
static int turn_lines(const ui_turn *t, int pw, strbuf *tmp)
{
    const char *s = turn_text(t, tmp);
    if (t->role == UI_ROLE_NOTE)
        return chat_draw_text(NULL, 0, 0, pw, 0, 0, s, UI_S_SYSTEM, false);
    int n = 1 + chat_draw_text(NULL, 0, 0, pw - 2, 0, 0, s, UI_S_NORMAL, false);
    if (t->role == UI_ROLE_AGENT && t->meta && *t->meta)
        n++;
    return n;
}

/* Lay the transcript out at width pw: start[i] is the first line of turn
 * i (start has n_turns + 1 entries; the last is the total).  Caller
 * frees. */
static int *layout(const chat_view *v, int pw)
{
    int *start = xmallocarray(v->n_turns + 1, sizeof *start);
    strbuf tmp = {0};
    int line = 0;
    for (size_t i = 0; i < v->n_turns; i++) {
        start[i] = line;
        int n = turn_lines(&v->turns[i], pw, &tmp);
        int gap = i + 1 < v->n_turns ? 1 : 0;
        line = line > INT_MAX - n - gap ? INT_MAX : line + n + gap;
    }
    start[v->n_turns] = line;
    sb_free(&tmp);
    return start;
}

/* The selected turn as rendered: the last while following. */
static size_t selected_turn(const chat_view *v)
{
    if (!v->n_turns)
        return 0;
    if (v->turn_follow || v->turn_sel >= v->n_turns)
        return v->n_turns - 1;
    return v->turn_sel;
}

/* The first transcript line shown in a window of `page` rows. */
static int window_top(const chat_view *v, const int *start, int page)
{
    int total = start[v->n_turns];
    int max_top = total > page ? total - page : 0;
    int anchor = max_top;
    if (!v->turn_follow && v->n_turns) {
        int head = start[selected_turn(v)];
        if (head < anchor)
            anchor = head;
    }
    long top = (long)anchor - v->scroll;
    if (top < 0)
        top = 0;
    if (top > max_top)
        top = max_top;
    return (int)top;
}

/* ---- Drawing ------------------------------------------------------------------- */

/* s centred in (x, y, w), clipped. */
static void draw_centered(ui_frame *f, int x, int y, int w, const char *s, ui_style style)
{
    if (w <= 0)
        return;
    size_t len = strlen(s), fit = ui_fit(s, len, w);
    int tw = ui_text_width(s, fit);
    frame_text(f, x + (w - tw) / 2, y, x + w, s, fit, style, 0);
}

/* s in at most `cols` columns from x, with "…" when cut.  Returns the
 * column after it. */
static int draw_clipped(ui_frame *f, int x, int y, int cols, const char *s, ui_style style, unsigned attr)
{
    if (cols <= 0)
        return x;
    size_t len = strlen(s);
    if (ui_text_width(s, len) <= cols)
        return frame_text(f, x, y, x + cols, s, len, style, attr);
    int cx = frame_text(f, x, y, x + cols - 1, s, ui_fit(s, len, cols - 1), style, attr);
    return frame_str(f, cx, y, x + cols, "…", style, attr);
}

static bool filter_shown(const chat_view *v)
{
    return v->filtering || ui_input_text(&v->filter)[0];
}

static void draw_conv_row(const chat_view *v, ui_frame *f, int x, int y, int w, size_t i, bool focused)
{
    const ui_conv_row *c = &v->convs[i];
    bool sel = i == v->conv_sel;
    /* From the right: [closed ][✓ ]when, then a column of margin. */
    const char *when = c->when ? c->when : "";
    int ww = ui_text_width(when, strlen(when));
    int right_w = ww + (c->rated ? 2 : 0) + (c->closed ? 7 : 0);
    int right = x + w - 1; /* exclusive */
    bool show_right = right_w > 0 && w - 2 - right_w >= 8;
    int title_end = show_right ? right - right_w - 1 : right;
    if (show_right) {
        int cx = right - right_w;
        if (c->closed)
            cx = frame_str(f, cx, y, right, "closed ", UI_S_MUTED, 0);
        if (c->rated)
            cx = frame_str(f, cx, y, right, "✓ ", UI_S_GOOD, 0);
        frame_str(f, cx, y, right, when, UI_S_MUTED, 0);
    }
    const char *title = c->title && *c->title ? c->title : "(new conversation)";
    bool muted = c->closed || !(c->title && *c->title);
    draw_clipped(f, x + 1, y, title_end - (x + 1), title, muted ? UI_S_MUTED : UI_S_NORMAL,
                 sel ? UI_A_BOLD : 0);
    if (sel && focused)
        frame_style(f, x, y, w, 1, UI_S_SELECTED, 0);
    else if (sel)
        frame_str(f, x, y, x + 1, "▸", UI_S_TITLE, UI_A_BOLD);
}

/* The conversation list in (x, y, w, h). */
static void draw_list(const chat_view *v, ui_frame *f, int x, int y, int w, int h, bool focused)
{
    if (w <= 0 || h <= 0)
        return;
    int cx = frame_str(f, x + 1, y, x + w, "Conversations", UI_S_TITLE, UI_A_BOLD);
    if (v->n_convs)
        frame_printf(f, cx + 1, y, x + w, UI_S_MUTED, 0, "%zu", v->n_convs);
    int row = y + 1;
    if (filter_shown(v) && row < y + h) {
        frame_str(f, x + 1, row, x + w, "/", v->filtering ? UI_S_TITLE : UI_S_MUTED, 0);
        if (w > 4)
            ui_input_render(&v->filter, f, x + 3, row, w - 4, 1, v->filtering, "search titles and text");
        row++;
    }
    int rows = y + h - row;
    if (rows <= 0)
        return;
    if (!v->n_convs) {
        frame_str(f, x + 1, row, x + w, ui_input_text(&v->filter)[0] ? "No matches" : "No conversations yet",
                  UI_S_MUTED, 0);
        return;
    }
    size_t first = v->conv_sel >= (size_t)rows ? v->conv_sel - (size_t)rows + 1 : 0;
    for (size_t i = first; i < v->n_convs && row < y + h; i++, row++)
        draw_conv_row(v, f, x, row, w, i, focused);
}

static void draw_header(const chat_view *v, ui_frame *f, int x, int y, int max_x, size_t i)
{
    const ui_turn *t = &v->turns[i];
    bool sel = v->focus == CHAT_FOCUS_TRANSCRIPT && !v->filtering && i == selected_turn(v);
    int cx = x;
    if (sel)
        cx = frame_str(f, cx, y, max_x, "▶ ", UI_S_TITLE, UI_A_BOLD);
    cx = frame_str(f, cx, y, max_x, role_name(t->role), text_style(t->role), UI_A_BOLD);
    if (t->thumbs > 0)
        frame_str(f, cx + 1, y, max_x, "👍", UI_S_GOOD, 0);
    else if (t->thumbs < 0)
        frame_str(f, cx + 1, y, max_x, "👎", UI_S_BAD, 0);
}

/* The transcript in (x, y, w, h).  Returns the lines below the window. */
static int draw_transcript(const chat_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0)
        return 0;
    if (!v->n_turns) {
        draw_centered(f, x, y + (h - 1) / 2, w,
                      v->conv_id ? "No messages yet" : "New conversation — type the customer's first message below",
                      UI_S_MUTED);
        return 0;
    }
    int *start = layout(v, w);
    int top = window_top(v, start, h), bottom = top + h;
    strbuf tmp = {0};
    for (size_t i = 0; i < v->n_turns; i++) {
        int l = start[i], end = start[i + 1];
        if (end <= top || l >= bottom)
            continue;
        const ui_turn *t = &v->turns[i];
        const char *s = turn_text(t, &tmp);
        if (t->role == UI_ROLE_NOTE) {
            int skip = top > l ? top - l : 0;
            chat_draw_text(f, x, y + l + skip - top, w, bottom - (l + skip), skip, s, UI_S_SYSTEM, false);
            continue;
        }
        if (l >= top)
            draw_header(v, f, x, y + l - top, x + w, i);
        int tl = l + 1, skip = top > tl ? top - tl : 0;
        int n = chat_draw_text(f, x + 2, y + tl + skip - top, w - 2, bottom - (tl + skip), skip, s,
                               text_style(t->role), t->role == UI_ROLE_AGENT);
        int ml = tl + n;
        if (t->role == UI_ROLE_AGENT && t->meta && *t->meta && ml >= top && ml < bottom)
            frame_str(f, x + 2, y + ml - top, x + w, t->meta, UI_S_MUTED, 0);
    }
    int below = start[v->n_turns] - bottom;
    sb_free(&tmp);
    free(start);
    return below > 0 ? below : 0;
}

/* The rule between transcript and input: the edit banner, or how much
 * is below the window. */
static void draw_separator(const chat_view *v, ui_frame *f, int x, int y, int w, int below)
{
    frame_fill(f, x, y, w, 1, U_HBAR, UI_S_BORDER, 0);
    if (v->editing) {
        char banner[200];
        snprintf(banner, sizeof banner, " Editing %s — Enter resends, Esc cancels ", v->editing);
        draw_clipped(f, x + 1, y, w - 2, banner, UI_S_WARN, UI_A_BOLD);
    } else if (below > 0) {
        char more[48];
        snprintf(more, sizeof more, " ↓ %d more line%s ", below, below == 1 ? "" : "s");
        int mw = ui_text_width(more, strlen(more));
        if (mw + 2 <= w)
            frame_str(f, x + w - 1 - mw, y, x + w, more, UI_S_MUTED, 0);
    }
}

static const char *open_title(const chat_view *v)
{
    for (size_t i = 0; i < v->n_convs; i++)
        if (v->convs[i].id == v->conv_id && v->conv_id)
            return v->convs[i].title && *v->convs[i].title ? v->convs[i].title : "(new conversation)";
    return v->conv_id ? "" : "New conversation";
}

void chat_render(const chat_view *v, ui_frame *f, int x, int y, int w, int h)
{
    if (w <= 0 || h <= 0)
        return;
    bool wide = w >= LIST_SHOW_W;
    int ax = x, aw = w; /* the right pane; its content has a column of margin each side */
    if (wide) {
        int lw = w * 28 / 100;
        lw = lw < LIST_MIN_W ? LIST_MIN_W : lw > LIST_MAX_W ? LIST_MAX_W : lw;
        draw_list(v, f, x, y, lw, h, v->focus == CHAT_FOCUS_LIST || v->filtering);
        frame_fill(f, x + lw, y, 1, h, U_VBAR, UI_S_BORDER, 0);
        ax = x + lw + 1;
        aw = w - lw - 1;
    }
    int px = aw > 2 ? ax + 1 : ax, pw = aw > 2 ? aw - 2 : aw;
    /* Rows: transcript, a separator, the input (3-6 rows by height). */
    int ih = h / 8;
    ih = ih < 3 ? 3 : ih > 6 ? 6 : ih;
    if (ih > (h - 1) / 2)
        ih = (h - 1) / 2;
    int th = h - ih - 1;
    if (h < 3) { /* only the input */
        ih = h;
        th = 0;
    }
    int ty = y;
    bool list_here = !wide && (v->focus == CHAT_FOCUS_LIST || v->filtering);
    if (!wide && !list_here && th >= 4) { /* name the open conversation: no list shows it */
        draw_clipped(f, px, ty, pw, open_title(v), UI_S_TITLE, UI_A_BOLD);
        ty++;
        th--;
    }
    int below = 0;
    if (list_here)
        draw_list(v, f, ax, ty, aw, th, true);
    else
        below = draw_transcript(v, f, px, ty, pw, th);
    if (h >= 3)
        draw_separator(v, f, ax, ty + th, aw, below);
    const char *hint = INPUT_HINTS[0];
    for (size_t i = 0; i < sizeof INPUT_HINTS / sizeof INPUT_HINTS[0]; i++) {
        hint = INPUT_HINTS[i];
        if (ui_text_width(hint, strlen(hint)) <= pw)
            break;
    }
    ui_input_render(&v->input, f, px, y + h - ih, pw, ih, v->focus == CHAT_FOCUS_INPUT && !v->filtering,
                    hint);
}

/* ---- State ----------------------------------------------------------------------- */

void chat_init(chat_view *v)
{
    memset(v, 0, sizeof *v);
    ui_input_init(&v->input, true);
    ui_input_init(&v->filter, false);
    v->focus = CHAT_FOCUS_INPUT;
    v->turn_follow = true;
}

void chat_free(chat_view *v)
{
    ui_input_free(&v->input);
    ui_input_free(&v->filter);
}

bool chat_typing(const chat_view *v)
{
    return v->focus == CHAT_FOCUS_INPUT || v->filtering;
}

void chat_clamp(chat_view *v)
{
    if (v->conv_sel >= v->n_convs)
        v->conv_sel = v->n_convs ? v->n_convs - 1 : 0;
    if (v->turn_follow || v->turn_sel >= v->n_turns) {
        v->turn_sel = v->n_turns ? v->n_turns - 1 : 0;
        v->turn_follow = true;
    }
    if (v->turn_follow && v->scroll < 0)
        v->scroll = 0;
}

/* ---- Keys ------------------------------------------------------------------------ */

/* Scroll by `lines` (up when positive), bounded by the transcript's
 * length at the narrowest width it is shown at (chat_key cannot know the
 * real one; render clamps exactly). */
static void scroll_by(chat_view *v, int lines)
{
    int *start = layout(v, REF_WIDTH);
    int total = start[v->n_turns], up, down;
    if (v->turn_follow || !v->n_turns) {
        up = total > 0 ? total - 1 : 0;
        down = 0;
    } else {
        int head = start[selected_turn(v)];
        up = head;
        down = total - head;
    }
    free(start);
    long s = (long)v->scroll + lines;
    v->scroll = (int)(s > up ? up : s < -down ? -down : s);
}

static void select_turn(chat_view *v, size_t i)
{
    if (!v->n_turns)
        return;
    v->turn_sel = i < v->n_turns ? i : v->n_turns - 1;
    v->turn_follow = v->turn_sel == v->n_turns - 1;
    v->scroll = 0;
}

static chat_action select_conv(chat_view *v, long delta)
{
    if (!v->n_convs)
        return CHAT_NONE;
    long i = (long)(v->conv_sel < v->n_convs ? v->conv_sel : 0) + delta;
    long last = (long)v->n_convs - 1;
    i = i < 0 ? 0 : i > last ? last : i;
    if ((size_t)i == v->conv_sel)
        return CHAT_NONE;
    v->conv_sel = (size_t)i;
    v->turn_follow = true;
    v->scroll = 0;
    return CHAT_OPEN;
}

/* The action of a command letter (plain outside the input, with Alt
 * everywhere); CHAT_NONE when it is none. */
static chat_action command(chat_view *v, uint32_t c)
{
    switch (c) {
    case 'n': return CHAT_NEW;
    case 'r': return CHAT_REGENERATE;
    case '+':
    case '=': return CHAT_THUMB_UP;
    case '-': return CHAT_THUMB_DOWN;
    case 'R': return CHAT_RENAME;
    case 'x': return CHAT_TOGGLE_CLOSED;
    case 'y': return CHAT_COPY;
    case 'e':
        /* While following, the selection is the newest turn, usually a
         * reply: edit the newest customer message instead. */
        if (v->n_turns && v->turns[selected_turn(v)].role != UI_ROLE_CUSTOMER && v->turn_follow) {
            for (size_t i = v->n_turns; i-- > 0;)
                if (v->turns[i].role == UI_ROLE_CUSTOMER) {
                    v->turn_sel = i;
                    v->turn_follow = i == v->n_turns - 1;
                    v->scroll = 0;
                    break;
                }
        }
        return CHAT_EDIT;
    default: return CHAT_NONE;
    }
}

static chat_action filter_key(chat_view *v, ui_key k)
{
    if (ui_key_is(k, UI_K_ESC, 0)) {
        bool had = ui_input_text(&v->filter)[0];
        ui_input_clear(&v->filter);
        v->filtering = false;
        return had ? CHAT_FILTER : CHAT_NONE;
    }
    if (ui_key_is(k, UI_K_ENTER, 0)) {
        v->filtering = false;
        v->focus = CHAT_FOCUS_LIST;
        return CHAT_NONE;
    }
    char *before = xstrdup(ui_input_text(&v->filter));
    ui_input_result r = ui_input_key(&v->filter, k);
    bool changed = strcmp(before, ui_input_text(&v->filter)) != 0;
    free(before);
    if (r == UI_INPUT_SUBMIT) { /* not reached (Enter is taken above) */
        v->filtering = false;
        v->focus = CHAT_FOCUS_LIST;
    }
    return changed ? CHAT_FILTER : CHAT_NONE;
}

chat_action chat_key(chat_view *v, ui_key k)
{
    uint32_t c = k.code;
    /* The filter editor takes everything but focus moves and Alt. */
    if (v->filtering) {
        if (ui_key_is(k, UI_K_DOWN, 0) || ui_key_is(k, UI_K_UP, 0)) {
            v->filtering = false;
            v->focus = CHAT_FOCUS_LIST;
        } else if (!(k.mods & UI_MOD_ALT) && c != UI_K_TAB && c != UI_K_BTAB)
            return filter_key(v, k);
        else
            v->filtering = false;
    }

    if (ui_key_is(k, UI_K_TAB, 0) || ui_key_is(k, UI_K_BTAB, 0)) {
        v->focus = (chat_focus)((v->focus + (c == UI_K_TAB ? 1 : 2)) % 3);
        return CHAT_NONE;
    }
    if (ui_key_is(k, UI_K_ESC, 0)) {
        if (v->generating)
            return CHAT_CANCEL;
        if (v->editing)
            return CHAT_CANCEL_EDIT;
        v->focus = CHAT_FOCUS_INPUT;
        return CHAT_NONE;
    }
    if (ui_key_is(k, 'f', UI_MOD_CTRL) || (v->focus != CHAT_FOCUS_INPUT && ui_key_is(k, '/', 0))) {
        v->filtering = true;
        return CHAT_NONE;
    }
    if (k.mods == UI_MOD_ALT) {
        chat_action a = command(v, c);
        if (a != CHAT_NONE)
            return a;
    }
    if (ui_key_is(k, UI_K_PGUP, 0) || ui_key_is(k, UI_K_PGDN, 0)) {
        scroll_by(v, c == UI_K_PGUP ? PAGE_LINES : -PAGE_LINES);
        return CHAT_NONE;
    }
    if (ui_key_is(k, UI_K_WHEEL_UP, 0) || ui_key_is(k, UI_K_WHEEL_DOWN, 0)) {
        scroll_by(v, c == UI_K_WHEEL_UP ? WHEEL_LINES : -WHEEL_LINES);
        return CHAT_NONE;
    }

    switch (v->focus) {
    case CHAT_FOCUS_INPUT: {
        ui_input_result r = ui_input_key(&v->input, k);
        if (r != UI_INPUT_SUBMIT)
            return CHAT_NONE;
        const char *t = ui_input_text(&v->input);
        if (!t[strspn(t, " \t\r\n")])
            return CHAT_NONE; /* nothing but blanks: nothing to send */
        v->turn_follow = true;
        v->scroll = 0;
        return CHAT_SEND;
    }
    case CHAT_FOCUS_TRANSCRIPT:
        if (ui_key_is(k, UI_K_UP, 0) || ui_key_is(k, 'k', 0)) {
            size_t cur = selected_turn(v);
            select_turn(v, cur ? cur - 1 : 0);
            return CHAT_NONE;
        }
        if (ui_key_is(k, UI_K_DOWN, 0) || ui_key_is(k, 'j', 0)) {
            select_turn(v, selected_turn(v) + 1);
            return CHAT_NONE;
        }
        if (ui_key_is(k, UI_K_HOME, 0) || ui_key_is(k, 'g', 0)) {
            select_turn(v, 0);
            return CHAT_NONE;
        }
        if (ui_key_is(k, UI_K_END, 0) || ui_key_is(k, 'G', 0)) {
            select_turn(v, v->n_turns ? v->n_turns - 1 : 0);
            return CHAT_NONE;
        }
        if (ui_key_is(k, UI_K_ENTER, 0)) {
            v->focus = CHAT_FOCUS_INPUT;
            return CHAT_NONE;
        }
        break;
    case CHAT_FOCUS_LIST:
        if (ui_key_is(k, UI_K_UP, 0) || ui_key_is(k, 'k', 0))
            return select_conv(v, -1);
        if (ui_key_is(k, UI_K_DOWN, 0) || ui_key_is(k, 'j', 0))
            return select_conv(v, 1);
        if (ui_key_is(k, UI_K_HOME, 0) || ui_key_is(k, 'g', 0))
            return select_conv(v, -(long)v->n_convs);
        if (ui_key_is(k, UI_K_END, 0) || ui_key_is(k, 'G', 0))
            return select_conv(v, (long)v->n_convs);
        if (ui_key_is(k, UI_K_ENTER, 0)) {
            v->focus = CHAT_FOCUS_INPUT;
            /* The selection may differ from the open conversation (after
             * filtering): Enter opens it. */
            if (v->conv_sel < v->n_convs && v->convs[v->conv_sel].id != v->conv_id) {
                v->turn_follow = true;
                v->scroll = 0;
                return CHAT_OPEN;
            }
            return CHAT_NONE;
        }
        break;
    }
    if (k.mods == 0 && c < UI_K_BASE)
        return command(v, c);
    return CHAT_NONE;
}
