/*
 * chat.h — the Chat screen: conversation list (left), transcript (right),
 * input editor (bottom).
 *
 * app/ fills the data fields of a chat_view from the store and the
 * generation worker; chat_key() changes only the view's own UI state
 * (focus, selection, scrolling, the editors) and returns what the user
 * asked for, which app/ carries out.  chat_render() draws the view.
 *
 * Keys.  Tab / Shift-Tab cycle the focus input → transcript → list.  In
 * the input, plain keys type (ui/input.h); Enter sends.  Outside it, and
 * with Alt (or the Ctrl key given) inside it:
 *   n  Alt-n        new conversation           r  Alt-r   regenerate last reply
 *   +  Alt-+        thumbs up on selected reply -  Alt--   thumbs down
 *   e  Alt-e        edit selected customer msg  R  Alt-R   rename conversation
 *   x  Alt-x        close / reopen              y  Alt-y   copy selected reply
 *   /  Ctrl-F       filter the list (full-text) Esc        cancel a reply being
 *                                                          generated / leave filter
 * In the transcript: Up/Down (or j/k) select a turn, PgUp/PgDn and the
 * mouse wheel scroll; in the list: Up/Down (j/k) choose a conversation
 * (CHAT_OPEN), Enter moves focus to the input.
 */
#ifndef FRONTDESK_UI_CHAT_H
#define FRONTDESK_UI_CHAT_H

#include "ui/frame.h"
#include "ui/input.h"
#include "ui/key.h"

#include <stdint.h>

typedef enum { UI_ROLE_SYSTEM, UI_ROLE_CUSTOMER, UI_ROLE_AGENT, UI_ROLE_NOTE } ui_role;

/* One conversation in the list. */
typedef struct {
    int64_t id;
    const char *title; /* "" shows as "(new conversation)"              */
    const char *when;  /* preformatted, e.g. "16:18" or "Nov 23"         */
    bool rated;        /* every reply has a score: shows a ✓ marker       */
    bool closed;       /* shown muted with a "closed" marker              */
} ui_conv_row;

/* One turn of the transcript. */
typedef struct {
    int64_t id;       /* message id (0 for notes)                        */
    ui_role role;     /* NOTE: a visible notice, e.g. turns left out      */
    const char *text; /* untrusted: drawn escaped by frame.c              */
    const char *meta; /* under agent turns: "model · 41 tok/s · 1.2 s"
                         (may be NULL)                                    */
    bool streaming;   /* still being generated: a cursor mark at its end  */
    int thumbs;       /* +1 / -1 / 0, shown as 👍/👎 beside the turn       */
} ui_turn;

typedef enum { CHAT_FOCUS_INPUT, CHAT_FOCUS_TRANSCRIPT, CHAT_FOCUS_LIST } chat_focus;

typedef struct {
    /* ---- data, set by app/ ---- */
    const ui_conv_row *convs;
    size_t n_convs;
    const ui_turn *turns;
    size_t n_turns;
    int64_t conv_id;      /* the open conversation, 0 = a new one         */
    bool generating;      /* a reply is streaming                          */
    const char *editing;  /* non-NULL: the input edits this message (a
                             banner says so; Esc abandons)                */

    /* ---- UI state, changed by chat_key ---- */
    chat_focus focus;
    size_t conv_sel;      /* index into convs                              */
    size_t turn_sel;      /* index into turns (the selected turn)          */
    bool turn_follow;     /* selection follows the newest turn             */
    int scroll;           /* transcript lines scrolled up: from the bottom
                             while turn_follow, else from where the
                             selected turn's header is in view (may then
                             be negative: scrolled down from there)      */
    ui_input input;       /* multi-line                                    */
    ui_input filter;      /* one line                                      */
    bool filtering;       /* the filter editor has focus                   */
} chat_view;

typedef enum {
    CHAT_NONE,          /* nothing for app/ to do (maybe redraw)           */
    CHAT_SEND,          /* send ui_input_text(&v->input) (or the edit)     */
    CHAT_OPEN,          /* open convs[conv_sel]                            */
    CHAT_NEW,           /* start a new conversation (choose a profile)     */
    CHAT_REGENERATE,    /* regenerate the last reply                       */
    CHAT_THUMB_UP,      /* on turns[turn_sel]                              */
    CHAT_THUMB_DOWN,
    CHAT_EDIT,          /* edit turns[turn_sel] (a customer turn)          */
    CHAT_RENAME,
    CHAT_TOGGLE_CLOSED,
    CHAT_COPY,          /* copy turns[turn_sel]                            */
    CHAT_FILTER,        /* the filter text changed: reload the list        */
    CHAT_CANCEL,        /* Esc while generating                            */
    CHAT_CANCEL_EDIT,   /* Esc while editing                               */
} chat_action;

void chat_init(chat_view *v);
void chat_free(chat_view *v); /* the editors; data fields are app/'s */
/* Whether plain keys are being typed into a text field (so q and ? are
 * text, not commands). */
bool chat_typing(const chat_view *v);
chat_action chat_key(chat_view *v, ui_key k);
/* Keep selections inside the data after app/ replaced it. */
void chat_clamp(chat_view *v);
void chat_render(const chat_view *v, ui_frame *f, int x, int y, int w, int h);

/* Help lines for this screen: pairs of key, description, NULL-terminated. */
extern const char *const chat_help[];

/* Wrap `text` (UTF-8, untrusted, may be NULL) to w columns with ui_wrap
 * and draw its lines [skip_rows, skip_rows + max_rows) at rows y, y+1, ...
 * from column x, in `style`; with `slots`, {{Placeholder}} spans (on one
 * line, at most 80 bytes) are drawn UI_S_PLACEHOLDER + UI_A_UNDERLINE even
 * where the wrap splits them.  Returns the number of lines of the whole
 * text at that width, drawn or not; with f NULL it only measures.  Shared
 * by the Chat and Review screens. */
int chat_draw_text(ui_frame *f, int x, int y, int w, int max_rows, int skip_rows, const char *text,
                   ui_style style, bool slots);

#endif
