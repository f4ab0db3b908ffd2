/*
 * input.c — the multi-line text editor (see input.h).
 *
 * The text is one UTF-8 buffer and the cursor a byte offset into it.
 * Cursor motion works on glyphs as frame.c draws them: a character with
 * the combining marks that follow it is one step, so the cursor never
 * lands inside a UTF-8 sequence or between a character and its marks.
 * Lines for Home/End/Up/Down and Ctrl-U are the lines between newlines
 * (the editor does not know the width it will be drawn at); Up/Down keep
 * the display column.
 *
 * Cost: a typed key costs the bytes after the cursor (nothing when typing
 * at the end, as a paste does); a motion costs at most its line; a render
 * wraps the whole text once, O(n).  It does not keep an undo log, a
 * selection or a goal column, and it never draws outside its rectangle.
 */
#include "ui/input.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- Glyph boundaries (the same rules as frame.c's next_glyph) -------- */

/* A glyph base carries the marks after it; an escape or a tab does not. */
typedef enum { U_BASE, U_MARK, U_OTHER } unit_kind;

static unit_kind kind_of(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return U_OTHER; /* controls (tab, newline) are drawn escaped */
    if (cp < 0x7F)
        return U_BASE;
    int w = wcwidth((wchar_t)cp);
    if (w < 0 || w > 2)
        return U_OTHER;
    return w == 0 ? U_MARK : U_BASE;
}

static unit_kind kind_at(const strbuf *t, size_t pos, size_t *n)
{
    uint32_t cp;
    *n = util_utf8_decode((const unsigned char *)t->data + pos, t->len - pos, &cp);
    return kind_of(cp);
}

/* Start of the decoding unit that ends at pos (pos > 0). */
static size_t unit_before(const strbuf *t, size_t pos)
{
    const unsigned char *s = (const unsigned char *)t->data;
    size_t q = pos - 1;
    while (q > 0 && pos - q < 4 && (s[q] & 0xC0) == 0x80)
        q--;
    uint32_t cp;
    if (q + util_utf8_decode(s + q, t->len - q, &cp) == pos)
        return q;
    return pos - 1; /* an invalid byte stands alone */
}

static size_t next_stop(const strbuf *t, size_t pos)
{
    if (pos >= t->len)
        return t->len;
    size_t n;
    unit_kind k = kind_at(t, pos, &n);
    pos += n;
    if (k == U_OTHER)
        return pos;
    while (pos < t->len && kind_at(t, pos, &n) == U_MARK)
        pos += n;
    return pos;
}

static size_t prev_stop(const strbuf *t, size_t pos)
{
    if (pos == 0)
        return 0;
    size_t n, p = unit_before(t, pos);
    while (p > 0 && kind_at(t, p, &n) == U_MARK) {
        size_t q = unit_before(t, p);
        unit_kind k = kind_at(t, q, &n);
        if (k == U_OTHER)
            break; /* marks after an escape ride on their own space */
        p = q;
        if (k == U_BASE)
            break;
    }
    return p;
}

static size_t line_start(const strbuf *t, size_t pos)
{
    while (pos > 0 && t->data[pos - 1] != '\n')
        pos--;
    return pos;
}

static size_t line_end(const strbuf *t, size_t pos)
{
    const char *nl = pos < t->len ? memchr(t->data + pos, '\n', t->len - pos) : NULL;
    return nl ? (size_t)(nl - t->data) : t->len;
}

/* ---- Editing ------------------------------------------------------------ */

static void insert_bytes(ui_input *in, const char *b, size_t n)
{
    size_t old = in->text.len, at = in->cursor;
    sb_append(&in->text, b, n); /* grows the buffer (and moves the NUL) */
    memmove(in->text.data + at + n, in->text.data + at, old - at);
    memcpy(in->text.data + at, b, n);
    in->cursor = at + n;
}

static void insert_cp(ui_input *in, uint32_t cp)
{
    unsigned char b[4];
    size_t n = util_utf8_encode(cp, b);
    if (!n)
        n = util_utf8_encode(0xFFFD, b);
    insert_bytes(in, (const char *)b, n);
}

/* Remove text[a..b) and leave the cursor at a. */
static void delete_range(ui_input *in, size_t a, size_t b)
{
    memmove(in->text.data + a, in->text.data + b, in->text.len - b);
    in->text.len -= b - a;
    in->text.data[in->text.len] = '\0';
    in->cursor = a;
}

static void set_text(ui_input *in, const char *s)
{
    sb_clear(&in->text);
    if (s && *s)
        sb_puts(&in->text, s);
    in->cursor = in->text.len;
}

static void stop_browsing(ui_input *in)
{
    in->hist_pos = in->n_history;
    free(in->draft);
    in->draft = NULL;
}

static ui_input_result history_older(ui_input *in)
{
    if (in->hist_pos == 0 || in->hist_pos > in->n_history)
        return UI_INPUT_IGNORED;
    if (in->hist_pos == in->n_history) {
        free(in->draft);
        in->draft = xstrdup(ui_input_text(in));
    }
    in->hist_pos--;
    set_text(in, in->history[in->hist_pos]);
    return UI_INPUT_CHANGED;
}

static ui_input_result history_newer(ui_input *in)
{
    if (in->hist_pos >= in->n_history)
        return UI_INPUT_IGNORED;
    in->hist_pos++;
    if (in->hist_pos == in->n_history) {
        set_text(in, in->draft);
        free(in->draft);
        in->draft = NULL;
    } else {
        set_text(in, in->history[in->hist_pos]);
    }
    return UI_INPUT_CHANGED;
}

/* Move to the line [ls, le) at the display column the cursor has now. */
static void move_to_line(ui_input *in, size_t ls, size_t le)
{
    const char *s = in->text.data;
    size_t cs = line_start(&in->text, in->cursor);
    int col = ui_text_width(s + cs, in->cursor - cs);
    in->cursor = ls + ui_fit(s + ls, le - ls, col);
}

static ui_input_result newline(ui_input *in)
{
    if (!in->multiline)
        return UI_INPUT_IGNORED;
    insert_bytes(in, "\n", 1);
    return UI_INPUT_CHANGED;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

static ui_input_result edit_key(ui_input *in, ui_key k)
{
    strbuf *t = &in->text;
    size_t cur = in->cursor;

    if (ui_key_is_text(k)) {
        if (k.code >= 0xD800 && k.code <= 0xDFFF)
            return UI_INPUT_IGNORED; /* not encodable */
        insert_cp(in, k.code);
        return UI_INPUT_CHANGED;
    }
    if (ui_key_is(k, UI_K_ENTER, 0)) {
        if (!in->pasting)
            return UI_INPUT_SUBMIT;
        if (in->multiline)
            insert_bytes(in, "\n", 1);
        else
            insert_bytes(in, " ", 1);
        return UI_INPUT_CHANGED;
    }
    if (ui_key_is(k, UI_K_ENTER, UI_MOD_ALT) || ui_key_is(k, 'j', UI_MOD_CTRL))
        return newline(in);
    if (ui_key_is(k, UI_K_TAB, 0) && in->pasting) {
        insert_bytes(in, "\t", 1);
        return UI_INPUT_CHANGED;
    }
    if (ui_key_is(k, UI_K_PASTE_BEGIN, 0) || ui_key_is(k, UI_K_PASTE_END, 0)) {
        in->pasting = k.code == UI_K_PASTE_BEGIN;
        return UI_INPUT_CHANGED;
    }

    size_t to = cur;
    if (ui_key_is(k, UI_K_LEFT, 0)) {
        to = prev_stop(t, cur);
    } else if (ui_key_is(k, UI_K_RIGHT, 0)) {
        to = next_stop(t, cur);
    } else if (ui_key_is(k, UI_K_HOME, 0) || ui_key_is(k, 'a', UI_MOD_CTRL)) {
        to = line_start(t, cur);
    } else if (ui_key_is(k, UI_K_END, 0) || ui_key_is(k, 'e', UI_MOD_CTRL)) {
        to = line_end(t, cur);
    } else if (ui_key_is(k, UI_K_UP, 0)) {
        size_t ls = line_start(t, cur);
        if (ls == 0)
            return history_older(in);
        move_to_line(in, line_start(t, ls - 1), ls - 1);
        return UI_INPUT_CHANGED;
    } else if (ui_key_is(k, UI_K_DOWN, 0)) {
        size_t le = line_end(t, cur);
        if (le == t->len)
            return history_newer(in);
        move_to_line(in, le + 1, line_end(t, le + 1));
        return UI_INPUT_CHANGED;
    } else if (ui_key_is(k, UI_K_BACKSPACE, 0)) {
        size_t a = prev_stop(t, cur);
        if (a == cur)
            return UI_INPUT_IGNORED;
        delete_range(in, a, cur);
        return UI_INPUT_CHANGED;
    } else if (ui_key_is(k, UI_K_DELETE, 0)) {
        size_t b = next_stop(t, cur);
        if (b == cur)
            return UI_INPUT_IGNORED;
        delete_range(in, cur, b);
        return UI_INPUT_CHANGED;
    } else if (ui_key_is(k, 'w', UI_MOD_CTRL)) {
        size_t a = cur;
        while (a > 0 && is_space(t->data[a - 1]))
            a--;
        while (a > 0 && !is_space(t->data[a - 1]))
            a--;
        if (a == cur)
            return UI_INPUT_IGNORED;
        delete_range(in, a, cur);
        return UI_INPUT_CHANGED;
    } else if (ui_key_is(k, 'u', UI_MOD_CTRL)) {
        size_t a = line_start(t, cur);
        if (a == cur)
            return UI_INPUT_IGNORED;
        delete_range(in, a, cur);
        return UI_INPUT_CHANGED;
    } else {
        return UI_INPUT_IGNORED;
    }
    if (to == cur)
        return UI_INPUT_IGNORED;
    in->cursor = to;
    return UI_INPUT_CHANGED;
}

/* ---- The editor ----------------------------------------------------------- */

void ui_input_init(ui_input *in, bool multiline)
{
    memset(in, 0, sizeof *in);
    in->multiline = multiline;
}

void ui_input_free(ui_input *in)
{
    if (!in)
        return;
    sb_free(&in->text);
    for (size_t i = 0; i < in->n_history; i++)
        free(in->history[i]);
    free(in->history);
    free(in->draft);
    memset(in, 0, sizeof *in);
}

ui_input_result ui_input_key(ui_input *in, ui_key k)
{
    if (in->cursor > in->text.len)
        in->cursor = in->text.len;
    return edit_key(in, k);
}

const char *ui_input_text(const ui_input *in)
{
    return in->text.len ? in->text.data : "";
}

void ui_input_commit(ui_input *in)
{
    if (in->text.len) {
        in->history = xreallocarray(in->history, in->n_history + 1, sizeof *in->history);
        in->history[in->n_history++] = xstrndup(in->text.data, in->text.len);
    }
    ui_input_clear(in);
}

void ui_input_clear(ui_input *in)
{
    sb_clear(&in->text);
    in->cursor = 0;
    stop_browsing(in);
}

void ui_input_set(ui_input *in, const char *text)
{
    set_text(in, text);
    stop_browsing(in);
}

/* ---- Drawing --------------------------------------------------------------- */

void ui_input_render(const ui_input *in, ui_frame *f, int x, int y, int w, int h, bool focused,
                     const char *hint)
{
    if (w <= 0 || h <= 0)
        return;
    frame_fill(f, x, y, w, h, ' ', UI_S_NORMAL, 0);
    const char *s = ui_input_text(in);
    size_t len = in->text.len;
    if (len == 0) {
        if (hint)
            frame_str(f, x, y, x + w, hint, UI_S_MUTED, 0);
        if (focused)
            frame_cursor(f, x, y);
        return;
    }

    ui_span *sp;
    size_t n = ui_wrap(s, len, w, &sp);

    /* The cursor's line: the last one starting at or before it (so a
     * cursor between two halves of a broken word is at the start of the
     * second). */
    size_t cur = in->cursor < len ? in->cursor : len;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (sp[mid].off <= cur)
            lo = mid;
        else
            hi = mid - 1;
    }
    size_t end = sp[lo].off + sp[lo].len;
    int col = ui_text_width(s + sp[lo].off, (cur < end ? cur : end) - sp[lo].off);
    size_t crow = lo;
    if (col >= w) { /* after a full line: where the next character will go */
        crow++;
        col = 0;
    }
    size_t total = crow + 1 > n ? crow + 1 : n;

    /* Show the last lines, or from the cursor's line when it is above
     * them; a count of what is hidden takes the top row. */
    size_t rows = (size_t)h;
    bool counted = false;
    if (total > rows && h >= 2) {
        rows--;
        counted = true;
    }
    size_t top = total > rows ? total - rows : 0;
    if (crow < top)
        top = crow;
    int ty = y + (counted ? 1 : 0);
    if (counted) {
        size_t below = total - top - rows;
        if (top && below)
            frame_printf(f, x, y, x + w, UI_S_MUTED, 0, "\u2026 %zu lines above, %zu below", top, below);
        else if (top)
            frame_printf(f, x, y, x + w, UI_S_MUTED, 0, "\u2026 %zu lines above", top);
        else
            frame_printf(f, x, y, x + w, UI_S_MUTED, 0, "\u2026 %zu lines below", below);
    }
    for (size_t r = 0; r < rows && top + r < n; r++)
        frame_text(f, x, ty + (int)r, x + w, s + sp[top + r].off, sp[top + r].len, UI_S_NORMAL, 0);
    if (focused)
        frame_cursor(f, x + col, ty + (int)(crow - top));
    free(sp);
}
