/*
 * term.h — the terminal: the one module that talks to ncurses.
 *
 * It copies ui_frames to the screen, turns input into ui_keys (function
 * keys, Alt- and Ctrl- combinations, the mouse wheel, bracketed paste,
 * resizes) and writes the OSC 52 clipboard sequence.  Colours follow the
 * ui_style of each cell; with NO_COLOR set, or a terminal without colours,
 * styles become bold / dim / reverse / underline instead.
 */
#ifndef FRONTDESK_UI_TERM_H
#define FRONTDESK_UI_TERM_H

#include "ui/frame.h"
#include "ui/key.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct term term;

/* Enter curses mode.  color: use colours when the terminal has them
 * (NO_COLOR in the environment overrides it).  Returns NULL with a
 * message when standard input/output is not a usable terminal. */
term *term_open(bool color, char *err, size_t errlen);
/* Leave curses mode, restoring the terminal (accepts NULL).  Also safe to
 * call from an out-of-memory hook. */
void term_close(term *t);

void term_size(term *t, int *w, int *h);
/* Show the frame (which must be the terminal's size). */
void term_draw(term *t, const ui_frame *f);
/* Wait up to timeout_ms (-1: forever) for a key.  False on timeout. */
bool term_read_key(term *t, int timeout_ms, ui_key *k);
/* Put text on the system clipboard with OSC 52 (works through tmux with
 * set-clipboard on, and through ssh). */
void term_clipboard(term *t, const char *text, size_t len);

#endif
