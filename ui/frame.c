/*
 * frame.c — the cell grid screens draw into, and the text measuring that
 * goes with it (see frame.h).
 *
 * All text goes through one bounded reader: next_glyph() decodes UTF-8
 * itself (an invalid byte is one U+FFFD), classifies each code point and
 * groups a character with the combining marks that follow it.  Drawing
 * (frame_text), measuring (ui_text_width, ui_fit) and wrapping (ui_wrap)
 * all walk the same glyphs, so they agree on every width.
 *
 * A glyph is one of:
 *   G_CHAR  a printable character of width 1 or 2 plus up to two
 *           combining marks (further marks are consumed and dropped);
 *           marks with nothing to ride on (at the start, after an escape
 *           or a tab) ride on a space;
 *   G_ESC   a control or unprintable code point shown as ASCII text:
 *           "^[" for C0/DEL, "<9B>" for C1, "<E0000>" for other code
 *           points wcwidth() calls unprintable;
 *   G_TAB   spaces to the next multiple of 4 columns.
 *
 * It does not talk to the terminal (term.c does), keep any colours (the
 * styles are names), or wrap on its own: frame_text draws one line.
 */
#include "ui/frame.h"

#include "util/util.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

enum { TAB_STOP = 4 };

/* ---- Decoding ------------------------------------------------------------ */

typedef enum { K_CHAR, K_MARK, K_ESC, K_TAB } cp_kind;

/* What a code point is, and its width for K_CHAR (1 or 2). */
static cp_kind classify(uint32_t cp, int *width)
{
    *width = 0;
    if (cp == '\t')
        return K_TAB;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return K_ESC;
    if (cp < 0x7F) {
        *width = 1;
        return K_CHAR;
    }
    int w = wcwidth((wchar_t)cp);
    if (w < 0 || w > 2)
        return K_ESC;
    if (w == 0)
        return K_MARK;
    *width = w;
    return K_CHAR;
}

enum { G_CHAR, G_ESC, G_TAB };

typedef struct {
    size_t end;       /* byte offset after the glyph (and its marks) */
    int kind;         /* G_*                                         */
    uint32_t ch;      /* G_CHAR: the base character                  */
    uint32_t comb[2]; /* G_CHAR: marks riding on it                  */
    int width;        /* G_CHAR: 1 or 2; G_ESC: strlen(esc)          */
    char esc[12];     /* G_ESC: the text shown                       */
} glyph;

/* Read the glyph at s[pos..len) (pos < len). */
static void next_glyph(const char *s, size_t len, size_t pos, glyph *g)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    int w;
    size_t n = util_utf8_decode(u + pos, len - pos, &cp);
    cp_kind k = classify(cp, &w);
    memset(g, 0, sizeof *g);
    g->end = pos + n;
    if (k == K_TAB) {
        g->kind = G_TAB;
        return;
    }
    if (k == K_ESC) {
        g->kind = G_ESC;
        if (cp < 0x20 || cp == 0x7F)
            snprintf(g->esc, sizeof g->esc, "^%c", (char)(cp ^ 0x40));
        else
            snprintf(g->esc, sizeof g->esc, "<%02X>", (unsigned)cp);
        g->width = (int)strlen(g->esc);
        return;
    }
    g->kind = G_CHAR;
    int nc = 0;
    if (k == K_MARK) { /* nothing to ride on: a space carries it */
        g->ch = ' ';
        g->width = 1;
        g->comb[nc++] = cp;
    } else {
        g->ch = cp;
        g->width = w;
    }
    /* The marks that follow (beyond two they are consumed, not drawn). */
    while (g->end < len) {
        n = util_utf8_decode(u + g->end, len - g->end, &cp);
        if (classify(cp, &w) != K_MARK)
            break;
        if (nc < 2)
            g->comb[nc++] = cp;
        g->end += n;
    }
}

/* Columns the glyph takes when it starts `col` columns after the tab
 * origin. */
static int glyph_cols(const glyph *g, int col)
{
    if (g->kind == G_TAB)
        return TAB_STOP - col % TAB_STOP;
    return g->width;
}

/* ---- The grid -------------------------------------------------------------- */

static ui_cell blank_cell(void)
{
    ui_cell c = {0};
    c.ch = ' ';
    c.width = 1;
    c.style = UI_S_NORMAL;
    return c;
}

void frame_init(ui_frame *f, int w, int h)
{
    if (w < 0)
        w = 0;
    if (h < 0)
        h = 0;
    f->cells = xreallocarray(f->cells, (size_t)w * (size_t)h, sizeof(ui_cell));
    f->w = w;
    f->h = h;
    frame_clear(f);
}

void frame_free(ui_frame *f)
{
    if (!f)
        return;
    free(f->cells);
    memset(f, 0, sizeof *f);
}

void frame_clear(ui_frame *f)
{
    ui_cell b = blank_cell();
    size_t n = (size_t)f->w * (size_t)f->h;
    for (size_t i = 0; i < n; i++)
        f->cells[i] = b;
    f->cur_x = f->cur_y = 0;
    f->cursor_visible = false;
}

static bool in_frame(const ui_frame *f, int x, int y)
{
    return x >= 0 && y >= 0 && x < f->w && y < f->h;
}

static ui_cell *cell_at(ui_frame *f, int x, int y)
{
    return &f->cells[(size_t)y * (size_t)f->w + (size_t)x];
}

/* Make (x, y) a cell of its own before it is overwritten: if it is half
 * of a wide character, the other half becomes a space. */
static void unwide(ui_frame *f, int x, int y)
{
    ui_cell *c = cell_at(f, x, y);
    if (c->width == 0 && x > 0) {
        ui_cell *l = cell_at(f, x - 1, y);
        if (l->width == 2) {
            uint8_t st = l->style, at = l->attr;
            *l = blank_cell();
            l->style = st, l->attr = at;
        }
    } else if (c->width == 2 && x + 1 < f->w) {
        ui_cell *r = cell_at(f, x + 1, y);
        if (r->width == 0) {
            uint8_t st = r->style, at = r->attr;
            *r = blank_cell();
            r->style = st, r->attr = at;
        }
    }
}

/* Put a width-1 cell (x, y must be in the frame). */
static void put1(ui_frame *f, int x, int y, uint32_t ch, const uint32_t comb[2], ui_style style,
                 unsigned attr)
{
    unwide(f, x, y);
    ui_cell *c = cell_at(f, x, y);
    c->ch = ch;
    c->comb[0] = comb ? comb[0] : 0;
    c->comb[1] = comb ? comb[1] : 0;
    c->width = 1;
    c->style = (uint8_t)style;
    c->attr = (uint8_t)attr;
}

/* Put a width-2 character at x, x+1 (both in the frame). */
static void put2(ui_frame *f, int x, int y, uint32_t ch, const uint32_t comb[2], ui_style style,
                 unsigned attr)
{
    unwide(f, x, y);
    unwide(f, x + 1, y);
    ui_cell *c = cell_at(f, x, y);
    c->ch = ch;
    c->comb[0] = comb[0];
    c->comb[1] = comb[1];
    c->width = 2;
    c->style = (uint8_t)style;
    c->attr = (uint8_t)attr;
    ui_cell *r = cell_at(f, x + 1, y);
    *r = (ui_cell){0};
    r->style = (uint8_t)style;
    r->attr = (uint8_t)attr;
}

/* Put a width-1 cell where it is visible; ignore it elsewhere. */
static void put1_clipped(ui_frame *f, int x, int y, uint32_t ch, const uint32_t comb[2],
                         ui_style style, unsigned attr)
{
    if (in_frame(f, x, y))
        put1(f, x, y, ch, comb, style, attr);
}

int frame_text(ui_frame *f, int x, int y, int max_x, const char *s, size_t len, ui_style style,
               unsigned attr)
{
    int lim = max_x < f->w ? max_x : f->w;
    int cx = x;
    size_t pos = 0;
    glyph g;
    while (pos < len && cx < lim) {
        next_glyph(s, len, pos, &g);
        pos = g.end;
        int n = glyph_cols(&g, cx - x);
        if (g.kind == G_TAB) {
            for (int i = 0; i < n && cx < lim; i++, cx++)
                put1_clipped(f, cx, y, ' ', NULL, style, attr);
        } else if (g.kind == G_ESC) {
            for (int i = 0; i < n && cx < lim; i++, cx++)
                put1_clipped(f, cx, y, (uint32_t)(unsigned char)g.esc[i], NULL, UI_S_ESCAPED, attr);
        } else if (g.width == 1) {
            put1_clipped(f, cx, y, g.ch, g.comb, style, attr);
            cx++;
        } else if (cx + 2 <= lim && cx >= 0 && in_frame(f, cx, y)) {
            put2(f, cx, y, g.ch, g.comb, style, attr);
            cx += 2;
        } else {
            /* Straddles an edge: spaces in the visible columns. */
            for (int i = 0; i < 2 && cx < lim; i++, cx++)
                put1_clipped(f, cx, y, ' ', NULL, style, attr);
        }
    }
    return cx > x ? cx : x;
}

int frame_str(ui_frame *f, int x, int y, int max_x, const char *s, ui_style style, unsigned attr)
{
    return frame_text(f, x, y, max_x, s ? s : "", s ? strlen(s) : 0, style, attr);
}

int frame_printf(ui_frame *f, int x, int y, int max_x, ui_style style, unsigned attr, const char *fmt,
                 ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return x;
    if ((size_t)n < sizeof small)
        return frame_text(f, x, y, max_x, small, (size_t)n, style, attr);
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int r = frame_text(f, x, y, max_x, big, (size_t)n, style, attr);
    free(big);
    return r;
}

/* The columns [x0, x1) and rows [y0, y1) of a rectangle inside the frame. */
static bool clip_rect(const ui_frame *f, int x, int y, int w, int h, int *x0, int *y0, int *x1,
                      int *y1)
{
    if (w <= 0 || h <= 0)
        return false;
    long ax = x, ay = y, bx = (long)x + w, by = (long)y + h;
    *x0 = (int)(ax < 0 ? 0 : ax);
    *y0 = (int)(ay < 0 ? 0 : ay);
    *x1 = (int)(bx > f->w ? f->w : bx);
    *y1 = (int)(by > f->h ? f->h : by);
    return *x0 < *x1 && *y0 < *y1;
}

void frame_fill(ui_frame *f, int x, int y, int w, int h, uint32_t ch, ui_style style, unsigned attr)
{
    int x0, y0, x1, y1, cw;
    if (!clip_rect(f, x, y, w, h, &x0, &y0, &x1, &y1))
        return;
    if (classify(ch, &cw) != K_CHAR || cw != 1)
        ch = ' '; /* never a control or a wide character */
    for (int r = y0; r < y1; r++)
        for (int c = x0; c < x1; c++)
            put1(f, c, r, ch, NULL, style, attr);
}

void frame_style(ui_frame *f, int x, int y, int w, int h, ui_style style, unsigned attr)
{
    int x0, y0, x1, y1;
    if (!clip_rect(f, x, y, w, h, &x0, &y0, &x1, &y1))
        return;
    for (int r = y0; r < y1; r++)
        for (int c = x0; c < x1; c++) {
            ui_cell *cell = cell_at(f, c, r);
            cell->style = (uint8_t)style;
            cell->attr = (uint8_t)attr;
        }
}

void frame_box(ui_frame *f, int x, int y, int w, int h, const char *title, ui_style style)
{
    if (w <= 0 || h <= 0)
        return;
    int r = x + w - 1, b = y + h - 1;
    for (int c = x + 1; c < r; c++) {
        put1_clipped(f, c, y, 0x2500, NULL, style, 0);
        put1_clipped(f, c, b, 0x2500, NULL, style, 0);
    }
    for (int l = y + 1; l < b; l++) {
        put1_clipped(f, x, l, 0x2502, NULL, style, 0);
        put1_clipped(f, r, l, 0x2502, NULL, style, 0);
    }
    put1_clipped(f, x, y, 0x250C, NULL, style, 0);
    put1_clipped(f, r, y, 0x2510, NULL, style, 0);
    put1_clipped(f, x, b, 0x2514, NULL, style, 0);
    put1_clipped(f, r, b, 0x2518, NULL, style, 0);
    if (title && *title && w > 3)
        frame_str(f, x + 2, y, r, title, style, 0);
}

void frame_cursor(ui_frame *f, int x, int y)
{
    /* A cursor outside the frame cannot be shown: it stays hidden. */
    f->cur_x = x;
    f->cur_y = y;
    f->cursor_visible = in_frame(f, x, y);
}

/* ---- Measuring and wrapping ------------------------------------------------ */

int ui_text_width(const char *s, size_t len)
{
    int col = 0;
    size_t pos = 0;
    glyph g;
    while (pos < len) {
        next_glyph(s, len, pos, &g);
        pos = g.end;
        int n = glyph_cols(&g, col);
        if (col > INT_MAX - n)
            return INT_MAX;
        col += n;
    }
    return col;
}

size_t ui_fit(const char *s, size_t len, int cols)
{
    int col = 0;
    size_t pos = 0;
    glyph g;
    while (pos < len) {
        next_glyph(s, len, pos, &g);
        int n = glyph_cols(&g, col);
        if (n > cols - col)
            break;
        col += n;
        pos = g.end;
    }
    return pos;
}

typedef struct {
    ui_span *v;
    size_t n, cap;
} span_list;

static void span_push(span_list *l, size_t off, size_t end)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xreallocarray(l->v, l->cap, sizeof *l->v);
    }
    l->v[l->n].off = off;
    l->v[l->n].len = end - off;
    l->n++;
}

/* Wrap one paragraph s[start..end) (no '\n' inside).  Each byte is read
 * at most twice: a word carried to the next line is read again there. */
static void wrap_para(const char *s, size_t start, size_t end, int width, span_list *out)
{
    size_t ls = start, pos = start;
    size_t run_start = 0, run_end = 0; /* last run of spaces after a non-space */
    bool have_run = false, prev_space = false;
    int col = 0;
    glyph g;
    while (pos < end) {
        next_glyph(s, end, pos, &g);
        bool space = g.kind == G_CHAR && g.ch == ' ' && !g.comb[0];
        int n = glyph_cols(&g, col);
        if (n > width - col && pos > ls) {
            if (space) { /* break here; the spaces go */
                span_push(out, ls, prev_space && have_run ? run_start : pos);
                while (pos < end && s[pos] == ' ')
                    pos++;
            } else if (have_run) { /* break after the last space that fit */
                span_push(out, ls, run_start);
                pos = run_end;
            } else { /* a word longer than the line */
                span_push(out, ls, pos);
            }
            ls = pos;
            col = 0;
            have_run = prev_space = false;
            continue;
        }
        if (space && pos > ls) {
            if (!prev_space) { /* a new run (not indentation: pos > ls) */
                run_start = pos;
                have_run = true;
            }
            run_end = g.end;
        }
        prev_space = space;
        col += n;
        pos = g.end;
    }
    span_push(out, ls, end);
}

size_t ui_wrap(const char *s, size_t len, int width, ui_span **out)
{
    span_list l = {0};
    if (width < 1)
        width = 1;
    size_t start = 0;
    for (;;) {
        const char *nl = len > start ? memchr(s + start, '\n', len - start) : NULL;
        size_t end = nl ? (size_t)(nl - s) : len;
        wrap_para(s, start, end, width, &l);
        if (!nl)
            break;
        start = end + 1;
    }
    *out = l.v;
    return l.n;
}

/* ---- Headless ------------------------------------------------------------------- */

static void put_utf8(strbuf *sb, uint32_t cp)
{
    unsigned char b[4];
    size_t n = util_utf8_encode(cp, b);
    if (!n)
        n = util_utf8_encode(0xFFFD, b);
    sb_append(sb, (const char *)b, n);
}

char *frame_to_text(const ui_frame *f)
{
    strbuf sb = {0};
    sb_append(&sb, "", 0);
    for (int y = 0; y < f->h; y++) {
        size_t keep = sb.len; /* length without the row's trailing spaces */
        for (int x = 0; x < f->w; x++) {
            const ui_cell *c = &f->cells[(size_t)y * (size_t)f->w + (size_t)x];
            if (c->width == 0)
                continue;
            uint32_t ch = c->ch ? c->ch : ' ';
            put_utf8(&sb, ch);
            for (int i = 0; i < 2 && c->comb[i]; i++)
                put_utf8(&sb, c->comb[i]);
            if (ch != ' ' || c->comb[0])
                keep = sb.len;
        }
        sb.len = keep;
        sb_putc(&sb, '\n');
    }
    return sb.data;
}

char *frame_row_styles(const ui_frame *f, int y)
{
    int w = y >= 0 && y < f->h ? f->w : 0;
    char *out = xmalloc((size_t)w + 1);
    for (int x = 0; x < w; x++)
        out[x] = (char)('a' + f->cells[(size_t)y * (size_t)f->w + (size_t)x].style);
    out[w] = '\0';
    return out;
}

/* ---- Text in columns ------------------------------------------------------- */

int frame_str_width(const char *s)
{
    return s ? ui_text_width(s, strlen(s)) : 0;
}

int frame_clip(ui_frame *f, int x, int y, int max_x, const char *s, ui_style style, unsigned attr)
{
    int room = max_x - x;
    if (!s || room <= 0)
        return x;
    size_t len = strlen(s);
    if (ui_text_width(s, len) <= room)
        return frame_text(f, x, y, max_x, s, len, style, attr);
    int cx = frame_text(f, x, y, max_x - 1, s, ui_fit(s, len, room - 1), style, attr);
    return frame_str(f, cx, y, max_x, "…", style, attr);
}

void frame_right(ui_frame *f, int left, int right, int y, const char *s, ui_style style, unsigned attr)
{
    if (!s || right - left <= 0)
        return;
    int sw = frame_str_width(s);
    if (sw <= right - left)
        frame_str(f, right - sw, y, right, s, style, attr);
    else
        frame_clip(f, left, y, right, s, style, attr);
}

void frame_scrolled(ui_frame *f, int x, int y, int w, int page, int sep_y, size_t total, int scroll,
                    const char *down, const char *up, void (*line)(void *ud, int row, size_t i), void *ud)
{
    if (page <= 0)
        return;
    size_t max_top = total > (size_t)page ? total - (size_t)page : 0;
    size_t top = scroll > 0 ? (size_t)scroll : 0;
    if (top > max_top)
        top = max_top;
    size_t rows = (size_t)page;
    bool more_below = top + rows < total;
    if (more_below && page >= 2)
        rows--;
    for (size_t r = 0; r < rows && top + r < total; r++)
        line(ud, y + (int)r, top + r);
    char note[64];
    if (more_below && page >= 2) {
        size_t below = total - (top + rows);
        snprintf(note, sizeof note, "↓ %zu more line%s (%s)", below, below == 1 ? "" : "s", down);
        frame_right(f, x, x + w, y + (int)rows, note, UI_S_MUTED, 0);
    }
    if (top > 0 && sep_y >= 0) {
        snprintf(note, sizeof note, "↑ %zu more line%s (%s)", top, top == 1 ? "" : "s", up);
        frame_right(f, x, x + w, sep_y, note, UI_S_MUTED, 0);
    }
}
