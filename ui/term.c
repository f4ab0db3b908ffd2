/*
 * term.c — ncurses (wide-character build): frames out, keys in.
 *
 * Input runs in raw mode with nonl(), so Enter arrives as CR and Ctrl-J
 * as LF and the two can mean different things.  Alt-x arrives as ESC
 * followed by x within ESCDELAY (25 ms); a lone ESC is Esc.  Bracketed
 * paste (ESC [200~ ... ESC [201~) is switched on and its markers are
 * defined as keys, so pasted newlines do not send a message.
 *
 * What this file does not do: decide anything.  Screens and app/ do.
 */
#include "ui/term.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_PASTE_BEGIN = KEY_MAX + 1, K_PASTE_END };

struct term {
    bool color;
    attr_t attrs[UI_S_COUNT];
    short pairs[UI_S_COUNT];
};

static bool curses_on;

/* Colours (foreground, background; -1 = the terminal's default) and the
 * extra attributes of each style. */
static const struct {
    short fg, bg;
    attr_t attr;      /* with colours    */
    attr_t mono;      /* without colours */
} style_map[UI_S_COUNT] = {
    [UI_S_NORMAL] = {-1, -1, A_NORMAL, A_NORMAL},
    [UI_S_MUTED] = {-1, -1, A_DIM, A_DIM},
    [UI_S_TITLE] = {COLOR_CYAN, -1, A_BOLD, A_BOLD},
    [UI_S_CUSTOMER] = {COLOR_CYAN, -1, A_NORMAL, A_BOLD},
    [UI_S_AGENT] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [UI_S_SYSTEM] = {COLOR_YELLOW, -1, A_NORMAL, A_DIM},
    [UI_S_PLACEHOLDER] = {COLOR_BLACK, COLOR_YELLOW, A_NORMAL, A_UNDERLINE | A_BOLD},
    [UI_S_SELECTED] = {-1, -1, A_REVERSE, A_REVERSE},
    [UI_S_STATUS] = {COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_REVERSE},
    [UI_S_GOOD] = {COLOR_GREEN, -1, A_NORMAL, A_NORMAL},
    [UI_S_BAD] = {COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE},
    [UI_S_WARN] = {COLOR_YELLOW, -1, A_BOLD, A_BOLD},
    [UI_S_ESCAPED] = {COLOR_MAGENTA, -1, A_NORMAL, A_DIM},
    [UI_S_BORDER] = {COLOR_BLUE, -1, A_NORMAL, A_NORMAL},
};

term *term_open(bool color, char *err, size_t errlen)
{
    const char *no_color = getenv("NO_COLOR");
    if (no_color && *no_color)
        color = false;
    if (!newterm(NULL, stdout, stdin)) {
        snprintf(err, errlen, "cannot use this terminal (TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
        return NULL;
    }
    curses_on = true;
    term *t = calloc(1, sizeof *t);
    if (!t) {
        term_close(NULL);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
    mouseinterval(0);
    define_key("\033[200~", K_PASTE_BEGIN);
    define_key("\033[201~", K_PASTE_END);
    printf("\033[?2004h"); /* bracketed paste on */
    fflush(stdout);
    t->color = color && has_colors();
    if (t->color) {
        start_color();
        use_default_colors();
    }
    for (int s = 0; s < UI_S_COUNT; s++) {
        if (t->color) {
            t->pairs[s] = (short)(s + 1);
            init_pair(t->pairs[s], style_map[s].fg, style_map[s].bg);
            t->attrs[s] = style_map[s].attr;
        } else
            t->attrs[s] = style_map[s].mono;
    }
    return t;
}

void term_close(term *t)
{
    if (curses_on) {
        curs_set(1);
        endwin();
        printf("\033[?2004l");
        fflush(stdout);
        curses_on = false;
    }
    free(t);
}

void term_size(term *t, int *w, int *h)
{
    (void)t;
    getmaxyx(stdscr, *h, *w);
}

void term_draw(term *t, const ui_frame *f)
{
    for (int y = 0; y < f->h; y++) {
        for (int x = 0; x < f->w; x++) {
            const ui_cell *c = &f->cells[y * f->w + x];
            if (c->width == 0)
                continue; /* the right half of a wide character */
            wchar_t wc[4] = {(wchar_t)(c->ch ? c->ch : ' '), (wchar_t)c->comb[0], (wchar_t)c->comb[1], 0};
            if (!c->comb[0])
                wc[1] = 0;
            attr_t a = t->attrs[c->style < UI_S_COUNT ? c->style : 0];
            if (c->attr & UI_A_BOLD)
                a |= A_BOLD;
            if (c->attr & UI_A_REVERSE)
                a |= A_REVERSE;
            if (c->attr & UI_A_UNDERLINE)
                a |= A_UNDERLINE;
            cchar_t cc;
            setcchar(&cc, wc, a, t->color ? t->pairs[c->style < UI_S_COUNT ? c->style : 0] : 0, NULL);
            mvadd_wch(y, x, &cc); /* the bottom-right cell may report ERR: harmless */
        }
    }
    if (f->cursor_visible) {
        curs_set(1);
        move(f->cur_y, f->cur_x);
    } else
        curs_set(0);
    refresh();
}

/* A code point read after ESC, as Alt + key. */
static ui_key alt_of(ui_key k)
{
    k.mods |= UI_MOD_ALT;
    return k;
}

static ui_key from_char(wint_t ch)
{
    switch (ch) {
    case '\r': return (ui_key){UI_K_ENTER, 0};
    case '\n': return (ui_key){'j', UI_MOD_CTRL};
    case '\t': return (ui_key){UI_K_TAB, 0};
    case 8:
    case 127: return (ui_key){UI_K_BACKSPACE, 0};
    case 27: return (ui_key){UI_K_ESC, 0};
    default: break;
    }
    if (ch >= 1 && ch <= 26)
        return (ui_key){(uint32_t)('a' + ch - 1), UI_MOD_CTRL};
    if (ch < 0x20)
        return (ui_key){UI_K_NONE, 0};
    return (ui_key){(uint32_t)ch, 0};
}

static ui_key from_keycode(wint_t code)
{
    switch (code) {
    case KEY_UP: return (ui_key){UI_K_UP, 0};
    case KEY_DOWN: return (ui_key){UI_K_DOWN, 0};
    case KEY_LEFT: return (ui_key){UI_K_LEFT, 0};
    case KEY_RIGHT: return (ui_key){UI_K_RIGHT, 0};
    case KEY_HOME: return (ui_key){UI_K_HOME, 0};
    case KEY_END: return (ui_key){UI_K_END, 0};
    case KEY_PPAGE: return (ui_key){UI_K_PGUP, 0};
    case KEY_NPAGE: return (ui_key){UI_K_PGDN, 0};
    case KEY_DC: return (ui_key){UI_K_DELETE, 0};
    case KEY_BACKSPACE: return (ui_key){UI_K_BACKSPACE, 0};
    case KEY_ENTER: return (ui_key){UI_K_ENTER, 0};
    case KEY_BTAB: return (ui_key){UI_K_BTAB, 0};
    case KEY_RESIZE: return (ui_key){UI_K_RESIZE, 0};
    case K_PASTE_BEGIN: return (ui_key){UI_K_PASTE_BEGIN, 0};
    case K_PASTE_END: return (ui_key){UI_K_PASTE_END, 0};
    case KEY_MOUSE: {
        MEVENT ev;
        if (getmouse(&ev) == OK) {
            if (ev.bstate & BUTTON4_PRESSED)
                return (ui_key){UI_K_WHEEL_UP, 0};
            if (ev.bstate & BUTTON5_PRESSED)
                return (ui_key){UI_K_WHEEL_DOWN, 0};
        }
        return (ui_key){UI_K_NONE, 0};
    }
    default: break;
    }
    if (code >= (wint_t)KEY_F(1) && code <= (wint_t)KEY_F(12))
        return (ui_key){UI_K_F1 + (uint32_t)(code - KEY_F(1)), 0};
    return (ui_key){UI_K_NONE, 0};
}

bool term_read_key(term *t, int timeout_ms, ui_key *k)
{
    (void)t;
    for (;;) {
        timeout(timeout_ms);
        wint_t ch;
        int rc = get_wch(&ch);
        if (rc == ERR)
            return false;
        *k = rc == KEY_CODE_YES ? from_keycode(ch) : from_char(ch);
        if (k->code == UI_K_ESC && !k->mods) {
            /* Alt-x is ESC then x, at once */
            timeout(0);
            wint_t next;
            int r2 = get_wch(&next);
            if (r2 != ERR) {
                ui_key n = r2 == KEY_CODE_YES ? from_keycode(next) : from_char(next);
                if (n.code != UI_K_NONE && n.code != UI_K_ESC)
                    *k = alt_of(n);
            }
        }
        if (k->code != UI_K_NONE)
            return true;
        if (timeout_ms >= 0)
            return false;
    }
}

void term_clipboard(term *t, const char *text, size_t len)
{
    (void)t;
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputs("\033]52;c;", stdout);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)text[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)text[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)text[i + 2];
        char out[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63], i + 1 < len ? b64[v >> 6 & 63] : '=',
                       i + 2 < len ? b64[v & 63] : '='};
        fwrite(out, 1, 4, stdout);
    }
    fputs("\a", stdout);
    fflush(stdout);
}
