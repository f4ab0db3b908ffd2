/*
 * shell.h — what surrounds the four screens: the tab bar, the status
 * line, overlays (help, quit confirmation, a one-line prompt, a picker,
 * a message) and the "terminal too small" notice.
 *
 * shell_render() draws the whole frame: row 0 the tabs ("F1 Chat  F2
 * Review  F3 Dashboard  F4 Models", the current one highlighted), the last
 * row the status line, the current screen in between (through
 * chat_render, review_render, dash_render or models_render), then the
 * overlay on top.  Below
 * UI_MIN_W × UI_MIN_H it draws only a centred notice saying how big the
 * terminal is and how big it needs to be.
 *
 * shell_key() handles keys meant for the shell first: F1–F4 and
 * Alt-1–4 switch screens, F10 (or ? when not typing) opens help, Ctrl-Q
 * (or q when not typing) quits — through a confirmation overlay when a
 * reply is being generated (y confirms, anything else cancels); while an
 * overlay is open it takes every key.  Keys it does not use go to the
 * current screen.
 */
#ifndef FRONTDESK_UI_SHELL_H
#define FRONTDESK_UI_SHELL_H

#include "ui/arena.h"
#include "ui/chat.h"
#include "ui/dash.h"
#include "ui/frame.h"
#include "ui/input.h"
#include "ui/key.h"
#include "ui/models.h"
#include "ui/review.h"

#define UI_MIN_W 60
#define UI_MIN_H 16

typedef enum { UI_SCREEN_CHAT, UI_SCREEN_REVIEW, UI_SCREEN_DASH, UI_SCREEN_MODELS } ui_screen;

typedef enum {
    UI_OVERLAY_NONE,
    UI_OVERLAY_HELP,    /* the current screen's keys                     */
    UI_OVERLAY_QUIT,    /* "A reply is being generated. Quit? (y/N)"     */
    UI_OVERLAY_PROMPT,  /* prompt_title + the one-line `prompt` editor   */
    UI_OVERLAY_PICK,    /* pick_title + pick_items, Up/Down, Enter       */
    UI_OVERLAY_MESSAGE, /* message text; any key closes                  */
} ui_overlay;

typedef struct {
    /* ---- status line, set by app/ ---- */
    const char *model;     /* display name                               */
    const char *quant;     /* "Q8_0"                                     */
    const char *backend;   /* "local" / "remote http://..."              */
    const char *db_path;
    double live_tps;       /* decode tokens/s of the reply in progress   */
    bool generating;
    const char *notice;    /* a transient note shown in the status line  */
    bool notice_bad;       /* ... as an error                             */

    /* ---- screens ---- */
    ui_screen screen;
    chat_view chat;
    review_view review;
    arena_view review_arena; /* the Review screen's arena mode (drawn instead when active) */
    dash_view dash;
    models_view models;

    /* ---- overlay ---- */
    ui_overlay overlay;
    const char *prompt_title;
    ui_input prompt;       /* one line                                   */
    const char *pick_title;
    const char *const *pick_items;
    size_t n_pick, pick_sel;
    const char *message;
    int help_scroll;
} shell_view;

typedef enum {
    SHELL_NONE,      /* handled (redraw)                                  */
    SHELL_PASS,      /* not for the shell: give it to the current screen  */
    SHELL_QUIT,      /* quit now (confirmed, or nothing was generating)   */
    SHELL_SWITCHED,  /* the screen changed                                */
    SHELL_PROMPT_OK, /* Enter in the prompt: its text is the answer       */
    SHELL_PICKED,    /* Enter in the picker: pick_sel                     */
    SHELL_CANCELLED, /* Esc closed a prompt or picker                     */
} shell_action;

void shell_init(shell_view *v);   /* also chat_init, review_init, dash_init, models_init */
void shell_free(shell_view *v);
shell_action shell_key(shell_view *v, ui_key k);
void shell_render(const shell_view *v, ui_frame *f);

/* Open overlays. */
void shell_prompt(shell_view *v, const char *title, const char *initial);
void shell_pick(shell_view *v, const char *title, const char *const *items, size_t n);
void shell_message(shell_view *v, const char *text);

#endif
