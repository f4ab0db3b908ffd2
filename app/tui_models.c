/*
 * tui_models.c — the Models screen: the store's versions, deployment,
 * comparison and history gathered into a models_view, and the keys that
 * change the deployment.
 *
 * Gathering reads every version's figures over the window (compare_arm_get),
 * the comparison of candidate and stable when a canary runs
 * (compare_versions), the newest TUI_MODELS_EVALS eval runs (their
 * aggregates and verdicts as `frontdesk eval` stored them) and the newest
 * HISTORY_MAX history rows.  It runs
 * when the screen opens, after every change, on `w`, and every REFRESH_S
 * seconds while the screen is shown (other processes change the store
 * too): a few indexed reads, on the UI thread like the Chat screen's.
 *
 * A change goes through the shell's one-line prompt: the question names
 * what will happen, the answer is the note, Enter confirms and Esc
 * cancels (nothing changes).  A canary asks its share first (1–50; any
 * other answer is an error notice and nothing changes).  The change is
 * recorded with who = [ui] rater, the note, and the comparison shown at
 * the time as compact JSON (like the command line's `frontdesk canary`);
 * the store's refusal ("no canary is running", ...) is a bad notice.
 */
#include "app/tui.h"

#include "app/cli.h"
#include "util/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    REFRESH_S = 5,
    HISTORY_MAX = 50,
    SHA_SHOWN = 8,
};

/* The window cycle; t->m_window indexes it (0: 24h, the default). */
static const db_window WINDOWS[] = {DB_WIN_24H, DB_WIN_7D, DB_WIN_ALL, DB_WIN_1H};
enum { N_WINDOWS = sizeof WINDOWS / sizeof WINDOWS[0] };

static db_window window_of(const tui *t)
{
    return WINDOWS[t->m_window >= 0 && t->m_window < N_WINDOWS ? t->m_window : 0];
}

void tui_models_free(tui *t)
{
    db_models_free(t->m_models, t->n_m_models);
    db_deploy_events_free(t->m_history, t->n_m_history);
    db_eval_runs_free(t->m_evals, t->n_m_evals);
    t->m_evals = NULL;
    t->n_m_evals = 0;
    t->sv.models.evals = NULL;
    t->sv.models.n_evals = 0;
    free(t->m_rows);
    free(t->m_sha);
    free(t->m_first);
    free(t->m_last);
    free(t->m_events);
    free(t->m_ev_when);
    free(t->m_ev_versions);
    t->m_models = NULL;
    t->n_m_models = 0;
    t->m_history = NULL;
    t->n_m_history = 0;
    t->m_rows = NULL;
    t->m_sha = NULL;
    t->m_first = t->m_last = NULL;
    t->m_events = NULL;
    t->m_ev_when = NULL;
    t->m_ev_versions = NULL;
    t->sv.models.rows = NULL;
    t->sv.models.n_rows = 0;
    t->sv.models.history = NULL;
    t->sv.models.n_history = 0;
    t->sv.models.tests = NULL;
    t->sv.models.n_tests = 0;
}

static const char *name_of(const tui *t, int64_t id)
{
    for (size_t i = 0; i < t->n_m_models; i++)
        if (t->m_models[i].id == id)
            return t->m_models[i].display_name;
    return "?";
}

/* "Nov 23 16:18" (local time). */
static void when_long(double at, char *buf, size_t size)
{
    time_t s = (time_t)at;
    struct tm tm;
    localtime_r(&s, &tm);
    strftime(buf, size, "%b %d %H:%M", &tm);
}

static models_verdict verdict_of(compare_verdict v)
{
    switch (v) {
    case VERDICT_BETTER: return MODELS_V_BETTER;
    case VERDICT_WORSE: return MODELS_V_WORSE;
    case VERDICT_NO_EVIDENCE: return MODELS_V_NO_EVIDENCE;
    default: return MODELS_V_NOT_ENOUGH;
    }
}

static bool gather_versions(tui *t, const db_deployment *dep, bool deployed, double from, double now)
{
    models_view *v = &t->sv.models;
    if (db_models_list(t->d, &t->m_models, &t->n_m_models) != DB_OK) {
        tui_notice(t, true, "models: %s", db_errmsg(t->d));
        return false;
    }
    size_t n = t->n_m_models;
    t->m_rows = xcalloc(n + 1, sizeof *t->m_rows);
    t->m_sha = xcalloc(n + 1, sizeof *t->m_sha);
    t->m_first = xcalloc(n + 1, sizeof *t->m_first);
    t->m_last = xcalloc(n + 1, sizeof *t->m_last);
    for (size_t i = 0; i < n; i++) {
        const db_model *m = &t->m_models[i];
        compare_arm a;
        char err[512];
        if (compare_arm_get(t->d, m->id, from, now, &t->cfg, &a, err, sizeof err) != 0) {
            tui_notice(t, true, "models: %s", err);
            return false;
        }
        snprintf(t->m_sha[i], sizeof t->m_sha[i], "%.*s", SHA_SHOWN, m->sha256 ? m->sha256 : "remote");
        models_row *r = &t->m_rows[i];
        *r = (models_row){
            .name = m->display_name,
            .sha = t->m_sha[i],
            .stable = deployed && dep->stable_id == m->id,
            .candidate = deployed && dep->candidate_id && dep->candidate_id == m->id,
            .share = deployed ? dep->share : 0,
            .requests = a.requests,
            .errors = a.errors,
            .thumbed = a.thumbed,
            .up_rate = a.up_rate,
            .up_lo = a.up_lo,
            .up_hi = a.up_hi,
            .score_mean = a.score_mean,
            .latency_p95_ms = a.latency_p95_ms,
            .decode_tps = a.decode_tps_median,
            .with_confidence = a.with_confidence,
            .low_confidence = a.low_confidence,
        };
        if (a.first_used > 0)
            r->first_used = tui_when(a.first_used, t->m_first[i], sizeof t->m_first[i]);
        if (a.last_used > 0)
            r->last_used = tui_when(a.last_used, t->m_last[i], sizeof t->m_last[i]);
    }
    v->rows = t->m_rows;
    v->n_rows = n;
    return true;
}

static void gather_comparison(tui *t, const db_deployment *dep, double now)
{
    models_view *v = &t->sv.models;
    compare_result r;
    char err[512];
    if (compare_versions(t->d, dep->stable_id, dep->candidate_id, window_of(t), now, &t->cfg, &r, err,
                         sizeof err) != 0) {
        tui_notice(t, true, "models: %s", err);
        return;
    }
    for (size_t i = 0; i < COMPARE_TESTS; i++) {
        const compare_test *c = &r.tests[i];
        snprintf(t->m_words[i], sizeof t->m_words[i], "%s", c->words); /* r is on the stack */
        t->m_tests[i] = (models_test){.metric = c->metric, .n_stable = c->n_a, .n_candidate = c->n_b,
                                      .p_holm = c->p_holm, .verdict = verdict_of(c->verdict),
                                      .words = t->m_words[i]};
    }
    v->tests = t->m_tests;
    v->n_tests = COMPARE_TESTS;
    v->compared = true;
    if (r.more_ratings > 0) {
        snprintf(t->m_note, sizeof t->m_note,
                 "thumbs: about %.0f more ratings per arm would show a 10-point difference (80%% power)",
                 r.more_ratings);
        v->compare_note = t->m_note;
    }
}

/* A figure of the aggregates' side ("a" or "b"): side.measure.key, or NAN. */
static double eval_fig(const json_t *agg, const char *side, const char *measure, const char *key)
{
    json_t *x = json_object_get(json_object_get(json_object_get(agg, side), measure), key);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* The verdict words of verdicts.measure into words; its models_verdict. */
static models_verdict eval_verdict(const json_t *ver, const char *measure, char *words, size_t size)
{
    const char *w = json_string_value(json_object_get(json_object_get(ver, measure), "verdict"));
    snprintf(words, size, "%s", w ? w : "–");
    if (!w)
        return MODELS_V_NOT_ENOUGH;
    if (!strcmp(w, "better"))
        return MODELS_V_BETTER;
    if (!strcmp(w, "worse"))
        return MODELS_V_WORSE;
    if (!strcmp(w, "no evidence"))
        return MODELS_V_NO_EVIDENCE;
    return MODELS_V_NOT_ENOUGH;
}

/* The newest eval runs; name_of needs the versions read first. */
static void gather_evals(tui *t)
{
    models_view *v = &t->sv.models;
    if (db_eval_list(t->d, TUI_MODELS_EVALS, &t->m_evals, &t->n_m_evals) != DB_OK) {
        tui_notice(t, true, "models: %s", db_errmsg(t->d));
        return;
    }
    size_t n = t->n_m_evals < TUI_MODELS_EVALS ? t->n_m_evals : TUI_MODELS_EVALS;
    for (size_t i = 0; i < n; i++) {
        const db_eval_run *r = &t->m_evals[i];
        models_eval *e = &t->m_eval_rows[i];
        when_long(r->started_at, t->m_eval_when[i], sizeof t->m_eval_when[i]);
        if (r->model_b)
            snprintf(t->m_eval_models[i], sizeof t->m_eval_models[i], "%s vs %s", name_of(t, r->model_a),
                     name_of(t, r->model_b));
        else
            snprintf(t->m_eval_models[i], sizeof t->m_eval_models[i], "%s", name_of(t, r->model_a));
        json_t *agg = r->aggregates ? json_loads(r->aggregates, 0, NULL) : NULL;
        json_t *ver = r->verdicts ? json_loads(r->verdicts, 0, NULL) : NULL;
        *e = (models_eval){.when = t->m_eval_when[i], .status = r->status, .items_done = r->items_done,
                           .set_items = r->set_items, .models = t->m_eval_models[i],
                           .chrf_a = eval_fig(agg, "a", "chrf", "mean"),
                           .chrf_b = eval_fig(agg, "b", "chrf", "mean"), .paired = r->model_b != 0};
        if (e->paired) {
            e->chrf_v = eval_verdict(ver, "chrf", t->m_eval_words[i][0], sizeof t->m_eval_words[i][0]);
            e->ppl_v = eval_verdict(ver, "perplexity", t->m_eval_words[i][1], sizeof t->m_eval_words[i][1]);
            e->chrf_words = t->m_eval_words[i][0];
            e->ppl_words = t->m_eval_words[i][1];
        }
        json_decref(agg);
        json_decref(ver);
    }
    v->evals = t->m_eval_rows;
    v->n_evals = n;
}

static void gather_history(tui *t)
{
    models_view *v = &t->sv.models;
    if (db_deploy_history(t->d, HISTORY_MAX, &t->m_history, &t->n_m_history) != DB_OK) {
        tui_notice(t, true, "models: %s", db_errmsg(t->d));
        return;
    }
    size_t n = t->n_m_history;
    t->m_events = xcalloc(n + 1, sizeof *t->m_events);
    t->m_ev_when = xcalloc(n + 1, sizeof *t->m_ev_when);
    t->m_ev_versions = xcalloc(n + 1, sizeof *t->m_ev_versions);
    for (size_t i = 0; i < n; i++) {
        const db_deploy_event *e = &t->m_history[i];
        when_long(e->at, t->m_ev_when[i], sizeof t->m_ev_when[i]);
        if (e->candidate_id)
            snprintf(t->m_ev_versions[i], sizeof t->m_ev_versions[i], "%s + %s %d%%", name_of(t, e->stable_id),
                     name_of(t, e->candidate_id), e->share);
        else
            snprintf(t->m_ev_versions[i], sizeof t->m_ev_versions[i], "%s", name_of(t, e->stable_id));
        t->m_events[i] = (models_event){.when = t->m_ev_when[i], .action = e->action,
                                        .versions = t->m_ev_versions[i], .who = e->who, .note = e->note};
    }
    v->history = t->m_events;
    v->n_history = n;
}

/* Read everything the screen shows; the selection stays on its version. */
static void gather(tui *t)
{
    models_view *v = &t->sv.models;
    int64_t sel_id = v->sel < t->n_m_models ? t->m_models[v->sel].id : 0;
    tui_models_free(t);
    v->compared = false;
    v->compare_note = NULL;
    v->window = db_window_name(window_of(t));
    t->m_loaded_at = util_now();

    db_deployment dep;
    db_status ds = db_deployment_get(t->d, &dep);
    if (ds != DB_OK && ds != DB_NOTFOUND) {
        tui_notice(t, true, "models: %s", db_errmsg(t->d));
        return;
    }
    bool deployed = ds == DB_OK;
    double now = db_now(), from = window_of(t) == DB_WIN_ALL ? 0 : now - db_window_seconds(window_of(t));
    if (!gather_versions(t, &dep, deployed, from, now))
        return;
    v->deployed = deployed;
    v->stable = v->candidate = NULL;
    if (deployed) {
        snprintf(t->m_stable, sizeof t->m_stable, "%s", name_of(t, dep.stable_id));
        v->stable = t->m_stable;
        if (dep.candidate_id) {
            snprintf(t->m_candidate, sizeof t->m_candidate, "%s", name_of(t, dep.candidate_id));
            v->candidate = t->m_candidate;
            v->share = dep.share;
            gather_comparison(t, &dep, now);
        }
    }
    gather_evals(t);
    gather_history(t);
    for (size_t i = 0; i < t->n_m_models; i++)
        if (t->m_models[i].id == sel_id)
            v->sel = i;
    models_clamp(v);
    time_t at = time(NULL);
    struct tm tm;
    localtime_r(&at, &tm);
    strftime(t->m_updated, sizeof t->m_updated, "updated %H:%M:%S", &tm);
    v->updated = t->m_updated;
    v->loading = false;
}

void tui_models_enter(tui *t)
{
    gather(t);
}

void tui_models_update(tui *t)
{
    if (t->sv.overlay == UI_OVERLAY_NONE && util_now() - t->m_loaded_at >= REFRESH_S)
        gather(t);
}

/* ---- Changes ---------------------------------------------------------------------- */

/* The comparison shown now as compact JSON for the history row, or NULL
 * without a candidate (caller frees). */
static char *figures_now(tui *t)
{
    db_deployment dep;
    if (db_deployment_get(t->d, &dep) != DB_OK || !dep.candidate_id)
        return NULL;
    compare_result r;
    char err[256];
    if (compare_versions(t->d, dep.stable_id, dep.candidate_id, window_of(t), db_now(), &t->cfg, &r, err,
                         sizeof err) != 0)
        return NULL;
    json_t *j = compare_json(&r);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* Ask for the note that confirms the pending change. */
static void ask_note(tui *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ask_note(tui *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->m_title, sizeof t->m_title, fmt, ap);
    va_end(ap);
    size_t len = strlen(t->m_title);
    snprintf(t->m_title + len, sizeof t->m_title - len, " A note for the history (Enter confirms):");
    t->ask = ASK_MODELS_NOTE;
    shell_prompt(&t->sv, t->m_title, "");
}

static bool canary_running(tui *t)
{
    db_deployment dep;
    if (db_deployment_get(t->d, &dep) == DB_OK && dep.candidate_id)
        return true;
    tui_notice(t, true, "no canary is running (c starts one)");
    return false;
}

void tui_models_action(tui *t, models_action a)
{
    models_view *v = &t->sv.models;
    const db_model *m = v->sel < t->n_m_models ? &t->m_models[v->sel] : NULL;
    if (a == MODELS_NONE)
        return;
    if (a == MODELS_WINDOW) {
        t->m_window = (t->m_window + 1) % N_WINDOWS;
        gather(t);
        return;
    }
    if ((a == MODELS_DEPLOY || a == MODELS_CANARY) && !m) {
        tui_notice(t, true, "no version to act on");
        return;
    }
    t->m_pending = a;
    t->m_pending_id = m ? m->id : 0;
    switch (a) {
    case MODELS_DEPLOY:
        ask_note(t, "Deploy %s (%s) as the stable version for every new conversation?", m->display_name,
                 t->m_sha[v->sel]);
        break;
    case MODELS_CANARY:
        snprintf(t->m_title, sizeof t->m_title,
                 "Canary of %s (%s): percent of new conversations it answers (1–50)?", m->display_name,
                 t->m_sha[v->sel]);
        t->ask = ASK_MODELS_SHARE;
        shell_prompt(&t->sv, t->m_title, "");
        break;
    case MODELS_SHARE:
        if (!canary_running(t))
            break;
        snprintf(t->m_title, sizeof t->m_title, "New share of the canary %s (1–50 percent)?",
                 v->candidate ? v->candidate : "");
        t->ask = ASK_MODELS_SHARE;
        shell_prompt(&t->sv, t->m_title, "");
        break;
    case MODELS_STOP:
        if (canary_running(t))
            ask_note(t, "Stop the canary of %s (its conversations return to stable)?",
                     v->candidate ? v->candidate : "the candidate");
        break;
    case MODELS_PROMOTE:
        if (canary_running(t))
            ask_note(t, "Promote %s to stable (the canary ends)?", v->candidate ? v->candidate : "the candidate");
        break;
    case MODELS_ROLLBACK:
        ask_note(t, "Roll back the newest change (a running canary ends, else the previous stable returns)?");
        break;
    default: break;
    }
}

/* Carry out the pending change with its note. */
static void apply(tui *t, const char *note)
{
    char *figures = figures_now(t);
    db_deploy_why w = {.who = t->cfg.rater, .note = *note ? note : NULL, .figures = figures};
    char name[160];
    snprintf(name, sizeof name, "%s", name_of(t, t->m_pending_id));
    db_status s = DB_INVALID;
    int64_t now_id = 0;
    switch (t->m_pending) {
    case MODELS_DEPLOY: s = db_deploy(t->d, t->m_pending_id, &w); break;
    case MODELS_CANARY: s = db_canary_start(t->d, t->m_pending_id, t->m_pending_share, &w); break;
    case MODELS_SHARE: s = db_canary_share(t->d, t->m_pending_share, &w); break;
    case MODELS_STOP: s = db_canary_stop(t->d, false, &w); break;
    case MODELS_PROMOTE: s = db_deploy_promote(t->d, &w); break;
    case MODELS_ROLLBACK: s = db_deploy_rollback(t->d, 0, &w, &now_id); break;
    default: break;
    }
    free(figures);
    if (s != DB_OK)
        tui_notice(t, true, "%s", db_errmsg(t->d));
    gather(t);
    if (s == DB_OK) {
        switch (t->m_pending) {
        case MODELS_DEPLOY: tui_notice(t, false, "%s is now the stable version", name); break;
        case MODELS_CANARY:
            tui_notice(t, false, "canary started: %s answers %d%% of new conversations", name, t->m_pending_share);
            break;
        case MODELS_SHARE: tui_notice(t, false, "the canary now answers %d%%", t->m_pending_share); break;
        case MODELS_STOP: tui_notice(t, false, "canary stopped"); break;
        case MODELS_PROMOTE: tui_notice(t, false, "promoted: %s is stable", t->m_stable); break;
        default: tui_notice(t, false, "rolled back: %s is stable", name_of(t, now_id)); break;
        }
    }
    t->m_pending = MODELS_NONE;
}

void tui_models_answer(tui *t, tui_ask ask, const char *text)
{
    if (ask == ASK_MODELS_SHARE) {
        long share;
        if (!cli_parse_int(text, 1, 50, &share) || share < 1 || share > 50) {
            tui_notice(t, true, "the share is a whole percentage from 1 to 50, not '%s': nothing changed", text);
            t->m_pending = MODELS_NONE;
            return;
        }
        t->m_pending_share = (int)share;
        if (t->m_pending == MODELS_CANARY)
            ask_note(t, "Start a canary of %s at %ld%% of new conversations?", name_of(t, t->m_pending_id), share);
        else
            ask_note(t, "Send %ld%% of new conversations to the canary?", share);
        return;
    }
    if (ask == ASK_MODELS_NOTE && t->m_pending != MODELS_NONE) {
        char *note = xstrdup(text);
        apply(t, note);
        free(note);
    }
}
