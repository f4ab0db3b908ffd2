/*
 * models.h — the Models screen: every model version with its figures over
 * a window, the deployment (stable, candidate and its share), the
 * candidate compared with stable metric by metric, and the history of
 * deployment changes.
 *
 * app/ fills a models_view from the store (app/tui_models.c); this screen
 * only draws it and turns keys into models_actions on the selected
 * version.  Nothing here changes the deployment or asks the user anything:
 * app/ confirms through the shell's prompt and acts.
 *
 * Layout, top to bottom (every row clipped to the rectangle):
 *   "Models — window 24h (w to change)"                "updated 16:18:05"
 *   the deployment line: "stable A · candidate B at 10%", or "nothing
 *   deployed: the configured model answers"
 *   the versions table, one row per version, the selected one highlighted
 *   (name, SHA-256 prefix, role, requests, error rate, thumbs-up % with its
 *   Wilson 95% interval and count, mean score, p95 latency, decode tok/s,
 *   low-confidence share, first and last use); columns drop, least needed
 *   first, when the name would get fewer than 8 columns; the table scrolls
 *   to keep the selection in view;
 *   a blank row, then one scrolled column of lines (PgUp/PgDn): the
 *   comparison (metric, n stable, n candidate, p (Holm), verdict), the
 *   latest offline eval runs, newest first (started, status, items done
 *   of the set's, "A vs B", mean chrF "A → B", and B's verdicts against
 *   A on chrF and perplexity), and the history, newest first (when, action,
 *   versions, who, note).
 *
 * Stored text (names, who, notes) is drawn escaped by the frame (controls
 * in caret notation), clipped with "…".
 *
 * Keys: Up/Down (k/j) select a version; Home/End the first/last; PgUp/PgDn
 * scroll the lower column; d deploy as stable, c start a canary, s change
 * the share, x stop the canary, p promote the candidate, b roll back, w
 * cycle the window 24h → 7d → all → 1h.
 */
#ifndef FRONTDESK_UI_MODELS_H
#define FRONTDESK_UI_MODELS_H

#include "ui/frame.h"
#include "ui/key.h"

#include <stdint.h>

/* One version's figures; a NAN double or a count of 0 draws as "–". */
typedef struct {
    const char *name;      /* display name (stored text)                     */
    const char *sha;       /* SHA-256 prefix, or "remote"                    */
    bool stable, candidate;
    int share;             /* the candidate's share, percent                 */
    int64_t requests, errors;
    int64_t thumbed;       /* replies with a thumbs verdict                  */
    double up_rate, up_lo, up_hi; /* 0..1, Wilson 95%                         */
    double score_mean, latency_p95_ms, decode_tps;
    int64_t with_confidence, low_confidence;
    const char *first_used, *last_used; /* preformatted; NULL: never        */
} models_row;

typedef enum { MODELS_V_NOT_ENOUGH, MODELS_V_NO_EVIDENCE, MODELS_V_BETTER, MODELS_V_WORSE } models_verdict;

/* One metric of the comparison. */
typedef struct {
    const char *metric;    /* "thumbs-up rate", ...                          */
    int64_t n_stable, n_candidate;
    double p_holm;         /* NAN when not tested                            */
    models_verdict verdict;
    const char *words;     /* "better", "typically faster", "no evidence" ...*/
} models_test;

/* One offline eval run (`frontdesk eval`). */
typedef struct {
    const char *when;      /* preformatted start                             */
    const char *status;    /* "complete", "incomplete", "running", "failed"  */
    int64_t items_done, set_items;
    const char *models;    /* "A vs B" or "A" (stored names)                 */
    double chrf_a, chrf_b; /* mean chrF; NAN: none (one model, or no items)  */
    bool paired;           /* two models: the verdicts below are set        */
    models_verdict chrf_v, ppl_v; /* B against A (perplexity: lower better)  */
    const char *chrf_words, *ppl_words; /* "better", "no evidence", ...      */
} models_eval;

/* One deployment change. */
typedef struct {
    const char *when;      /* preformatted                                   */
    const char *action;    /* "deploy", "canary-start", ...                  */
    const char *versions;  /* "A", "A + B 10%"                               */
    const char *who, *note; /* stored text, may be NULL                      */
} models_event;

typedef struct {
    /* ---- data, set by app/ ---- */
    const char *window;            /* "24h" "7d" "all" "1h"                  */
    bool loading;                  /* nothing gathered yet                  */
    const models_row *rows;
    size_t n_rows;
    bool deployed;
    const char *stable, *candidate; /* names; candidate NULL: none          */
    int share;
    bool compared;                 /* a candidate runs: tests[] are filled */
    const models_test *tests;
    size_t n_tests;
    const char *compare_note;      /* e.g. how many more ratings; may be NULL */
    const models_eval *evals;      /* newest first                          */
    size_t n_evals;
    const models_event *history;   /* newest first                          */
    size_t n_history;
    const char *updated;           /* "updated 16:18:05"                    */

    /* ---- UI state ---- */
    size_t sel;                    /* the selected row                      */
    int scroll;                    /* the lower column's first line         */
} models_view;

typedef enum {
    MODELS_NONE,
    MODELS_DEPLOY,   /* the selected version becomes stable               */
    MODELS_CANARY,   /* a canary of the selected version                  */
    MODELS_SHARE,    /* change the running canary's share                  */
    MODELS_STOP,     /* stop the canary                                    */
    MODELS_PROMOTE,  /* the candidate becomes stable                       */
    MODELS_ROLLBACK, /* undo the newest change                             */
    MODELS_WINDOW,   /* cycle the window                                   */
} models_action;

void models_init(models_view *v);
models_action models_key(models_view *v, ui_key k);
/* Keep sel within the rows (after app/ reloads them). */
void models_clamp(models_view *v);
void models_render(const models_view *v, ui_frame *f, int x, int y, int w, int h);

extern const char *const models_help[];

#endif
