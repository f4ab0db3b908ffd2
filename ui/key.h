/*
 * key.h — a key press as the screens see it, independent of ncurses.
 *
 * Text is a Unicode code point in `code` with no modifier (Shift is part
 * of the character).  Ctrl-letter is the lower-case letter with
 * UI_MOD_CTRL; Alt-x is 'x' with UI_MOD_ALT (Alt-Enter: UI_K_ENTER with
 * UI_MOD_ALT).  Special keys are the UI_K_* values above the Unicode
 * range.  Ctrl-J arrives as 'j' + UI_MOD_CTRL (not as Enter), Ctrl-I as
 * UI_K_TAB, Ctrl-H as UI_K_BACKSPACE.
 */
#ifndef FRONTDESK_UI_KEY_H
#define FRONTDESK_UI_KEY_H

#include <stdbool.h>
#include <stdint.h>

enum {
    UI_K_NONE = 0,
    UI_K_BASE = 0x110000, /* above every code point */
    UI_K_ENTER,
    UI_K_TAB,
    UI_K_BTAB, /* Shift-Tab */
    UI_K_BACKSPACE,
    UI_K_DELETE,
    UI_K_ESC,
    UI_K_LEFT,
    UI_K_RIGHT,
    UI_K_UP,
    UI_K_DOWN,
    UI_K_HOME,
    UI_K_END,
    UI_K_PGUP,
    UI_K_PGDN,
    UI_K_WHEEL_UP,
    UI_K_WHEEL_DOWN,
    UI_K_PASTE_BEGIN, /* bracketed paste: text between these is typed, */
    UI_K_PASTE_END,   /* Enter inside it is a newline                  */
    UI_K_RESIZE,
    UI_K_F1, /* UI_K_F1 + n - 1 is Fn, up to F12 */
    UI_K_F12 = UI_K_F1 + 11,
};

enum { UI_MOD_CTRL = 1, UI_MOD_ALT = 2 };

typedef struct {
    uint32_t code;
    unsigned mods;
} ui_key;

/* A plain character a text field should insert (no Ctrl/Alt). */
static inline bool ui_key_is_text(ui_key k)
{
    return k.code >= 0x20 && k.code < UI_K_BASE && k.code != 0x7f && !k.mods;
}

static inline bool ui_key_is(ui_key k, uint32_t code, unsigned mods)
{
    return k.code == code && k.mods == mods;
}

#endif
