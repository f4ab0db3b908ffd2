/*
 * tui.h — the interactive application (`frontdesk` with no command): wires
 * the store, the generation worker and the dashboard feed to the screens
 * of ui/.  The split:
 *   tui.c         start-up, the event loop, the Chat screen's actions
 *   tui_review.c  the Review screen: queue, ratings, undo
 *   tui_arena.c   the Review screen's arena mode: blind side-by-side pairs,
 *                 judgements, the leaderboard
 *   tui_dash.c    the Dashboard: snapshot -> view, thresholds -> alerts
 *                 (app/alerts.h), alert episodes, alert notices
 *   tui_models.c  the Models screen: versions, deployment, comparison,
 *                 eval runs, history; deploy / canary / promote / rollback
 *   tui_frames.c  each frame's time (build + flush): a ring, a log
 */
#ifndef FRONTDESK_TUI_H
#define FRONTDESK_TUI_H

#include "app/arena_worker.h"
#include "app/compare.h"
#include "app/config.h"
#include "app/dashfeed.h"
#include "app/tui_frames.h"
#include "app/worker.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/evals.h"
#include "storage/ratings.h"
#include "ui/frame.h"
#include "ui/shell.h"
#include "ui/term.h"

/* The Models screen shows this many of the newest eval runs. */
enum { TUI_MODELS_EVALS = 5 };

/* What the one-line prompt overlay is asking for. */
typedef enum {
    ASK_NONE,
    ASK_RENAME,
    ASK_TAG,
    ASK_COMMENT,
    ASK_SEARCH,
    ASK_TAG_FILTER,
    ASK_MODELS_SHARE, /* the canary's share, 1–50 (then ASK_MODELS_NOTE) */
    ASK_MODELS_NOTE,  /* the note of a deployment change: Enter confirms */
    ASK_ARENA_COMMENT, /* a comment on the arena pair                  */
} tui_ask;

typedef struct {
    int64_t message;
    bool had;       /* the rater had a rating before                */
    db_rating prev; /* ... this one (owned)                          */
} tui_undo;

typedef struct tui {
    config cfg;
    char *db_path;
    db *d;
    model *m;
    tok_vocab *v;
    int64_t model_id;
    char model_name[160], quant[32], backend_label[300];
    bool pinned;        /* --model / --backend given: the deployment does not decide */
    char configured_name[160]; /* the configured model's name (when no deployment) */
    worker *w;
    dashfeed *df;
    term *term;
    ui_frame frame;
    tui_frames frames; /* frame times (FRONTDESK_FRAME_LOG) */
    shell_view sv;
    bool quit;

    /* ---- chat ---- */
    db_conv *convs;
    size_t n_convs;
    ui_conv_row *conv_rows;
    char (*conv_when)[24];
    db_msg *msgs;
    size_t n_msgs;
    ui_turn *turns;
    size_t n_turns;
    char **metas;
    int *thumbs;
    size_t profile;     /* for the next new conversation                 */
    int64_t edit_id;    /* the customer message being edited             */
    bool select_open;   /* the list's next load selects the open conversation */
    char edit_banner[80];
    worker_state ws;    /* the last poll                                 */
    int64_t ws_message; /* the message id the rows were loaded with      */
    char note[160];
    int64_t note_msg;   /* the note stands before this reply              */
    tui_ask ask;
    const char **pick_names;

    /* ---- review ---- */
    db_queue_filter rq;
    db_model *r_models;
    size_t n_r_models, r_model_idx;
    int r_date;         /* 0 any, 1 today, 2 last 7 days                 */
    char *r_search, *r_tag;
    int64_t *queue;
    size_t n_queue, qpos;
    db_msg *r_thread;
    size_t n_r_thread;
    ui_turn *r_turns;
    char r_model[200], r_sampling[200], r_figures[200], r_mine[300], r_others[300], r_filters[200];
    char r_confidence[64];
    char r_title[200], r_flash[80];
    tui_undo *undo;
    size_t n_undo;
    struct tui_arena *arena; /* arena mode's state (tui_arena.c; NULL until entered) */

    /* ---- dashboard ---- */
    dash_snapshot snap;
    bool have_snap;
    dash_model_row *d_models;
    dash_error_row *d_errors;
    char (*d_error_when)[24];
    char **d_model_names;
    char **d_alerts;
    size_t n_d_alerts;
    dash_episode_row *d_episodes;
    char (*d_episode_when)[64];
    char **d_episode_text;
    size_t n_d_episodes;
    double *d_series; /* 4 series of n_series each */
    char d_updated[40];

    /* ---- models ---- */
    int m_window;        /* db_window of the figures                      */
    double m_loaded_at;  /* util_now() of the last gather (0: never)      */
    db_model *m_models;
    size_t n_m_models;
    models_row *m_rows;
    char (*m_sha)[16];
    char (*m_first)[24], (*m_last)[24];
    models_test m_tests[COMPARE_TESTS];
    char m_words[COMPARE_TESTS][96];
    models_event *m_events;
    char (*m_ev_when)[24], (*m_ev_versions)[200];
    db_deploy_event *m_history;
    size_t n_m_history;
    db_eval_run *m_evals;  /* the newest TUI_MODELS_EVALS eval runs       */
    size_t n_m_evals;
    models_eval m_eval_rows[TUI_MODELS_EVALS];
    char m_eval_when[TUI_MODELS_EVALS][24], m_eval_models[TUI_MODELS_EVALS][330];
    char m_eval_words[TUI_MODELS_EVALS][2][24]; /* chrF, perplexity verdicts */
    char m_stable[160], m_candidate[160], m_note[160], m_updated[40];
    int m_pending;       /* models_action waiting for its prompt's answer */
    int64_t m_pending_id; /* ... on this version                          */
    int m_pending_share;
    char m_title[400];   /* the prompt's question                         */

    char notice[300];
    bool notice_bad;
    double notice_until;
} tui;

int cmd_tui(int argc, char **argv);

/* Shared between the tui*.c files. */
void tui_notice(tui *t, bool bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void tui_review_enter(tui *t);
void tui_review_action(tui *t, review_action a, int arg);
void tui_review_answer(tui *t, tui_ask ask, const char *text);
void tui_review_free(tui *t);
/* Arena mode (A on the Review screen): enter it; poll the pair being
 * prepared (every turn of the loop while shown); a key; the comment
 * prompt's answer; free (stops its worker). */
void tui_arena_enter(tui *t);
void tui_arena_update(tui *t);
void tui_arena_key(tui *t, ui_key k);
void tui_arena_answer(tui *t, const char *text);
void tui_arena_free(tui *t);
/* Test seam: enter arena mode showing pair p as if the worker had just
 * prepared it (no worker is started), so a test fixes the order shown
 * (p->shown_first) and checks what each key records. */
void tui_arena_show_pair(tui *t, const arena_pair *p);
/* The two versions arena mode compares (0, 0 before it is entered). */
void tui_arena_versions(const tui *t, int64_t *a, int64_t *b);
void tui_dash_update(tui *t);
void tui_dash_free(tui *t);
/* What the dashboard feed's alert checking reported, as a notice (called
 * every turn of the loop, whatever the screen). */
void tui_dash_notices(tui *t);
/* The Models screen: gather when it opens (and, via update, every few
 * seconds while shown); act on a key; take a prompt's answer. */
void tui_models_enter(tui *t);
void tui_models_update(tui *t);
void tui_models_action(tui *t, models_action a);
void tui_models_answer(tui *t, tui_ask ask, const char *text);
void tui_models_free(tui *t);
/* "16:18" today, else "Nov 23". */
const char *tui_when(double t, char *buf, size_t size);

#endif
