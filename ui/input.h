/*
 * input.h — the multi-line text editor under the chat transcript (also
 * used for one-line prompts: filter, tag, comment, rename).
 *
 * Keys (see key.h): text inserts; Enter submits (inside a bracketed paste
 * it inserts a newline); Alt-Enter and Ctrl-J insert a newline; Left/Right
 * move by character (never inside a UTF-8 sequence or before a combining
 * mark), Home/End to the start/end of the line, Up/Down between lines —
 * or, on the first/last line, through the history of submitted texts;
 * Backspace/Delete remove a character; Ctrl-W the word before the cursor;
 * Ctrl-U everything before the cursor on its line; Ctrl-A/Ctrl-E as
 * Home/End.  Text pasted in one go may be any size (the editor shows its
 * last lines and a count).
 */
#ifndef FRONTDESK_UI_INPUT_H
#define FRONTDESK_UI_INPUT_H

#include "ui/frame.h"
#include "ui/key.h"
#include "util/util.h"

typedef struct {
    strbuf text;        /* UTF-8, NUL-terminated when non-empty           */
    size_t cursor;      /* byte offset into text                          */
    bool multiline;     /* false: Enter submits, newlines are refused     */
    bool pasting;       /* between UI_K_PASTE_BEGIN and UI_K_PASTE_END    */
    char **history;     /* submitted texts, oldest first                  */
    size_t n_history;
    size_t hist_pos;    /* == n_history when not browsing                 */
    char *draft;        /* the text being written before browsing         */
} ui_input;

typedef enum {
    UI_INPUT_IGNORED, /* not an editing key: the screen may act on it    */
    UI_INPUT_CHANGED, /* text or cursor changed                          */
    UI_INPUT_SUBMIT,  /* Enter: take ui_input_text(), then ui_input_clear */
} ui_input_result;

void ui_input_init(ui_input *in, bool multiline);
void ui_input_free(ui_input *in); /* accepts a zeroed editor */
ui_input_result ui_input_key(ui_input *in, ui_key k);
/* The text ("" when empty). */
const char *ui_input_text(const ui_input *in);
/* Remember the current text in the history (if non-empty) and empty the
 * editor. */
void ui_input_commit(ui_input *in);
void ui_input_clear(ui_input *in);
void ui_input_set(ui_input *in, const char *text); /* cursor at the end */

/* Draw into the rectangle (x, y, w, h): the text wrapped to w columns,
 * scrolled so the cursor's line is visible; when focused, place the
 * frame's cursor.  An empty editor shows `hint` in UI_S_MUTED. */
void ui_input_render(const ui_input *in, ui_frame *f, int x, int y, int w, int h, bool focused,
                     const char *hint);

#endif
