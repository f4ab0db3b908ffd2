/*
 * tui.c — `frontdesk` with no command: start-up, the event loop and the
 * Chat screen's actions (see tui.h for the other files).
 *
 * The loop: poll the worker and the dashboard feed, rebuild the views'
 * data, render the shell into a frame, show it, then wait for a key (50 ms
 * while a reply streams, 200 ms otherwise).  The UI thread never runs a
 * generation or a dashboard aggregate; its own database work is short
 * reads and single-row writes.  Each frame's time, from the poll to the
 * flush, is measured (tui_frames.h; FRONTDESK_FRAME_LOG).
 */
#include "app/tui.h"

#include "app/cli.h"
#include "app/compare.h"
#include "app/deploy.h"
#include "app/store.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "storage/deploy.h"
#include "storage/metrics.h"
#include "storage/redact.h"
#include "util/private.h"
#include "util/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char cmd_tui_usage[] =
    "usage: frontdesk [--model FILE] [--backend URL [--remote-model NAME]]\n"
    "                 [--db PATH|URL] [--config FILE]\n"
    "\n"
    "Open the application: Chat (F1), Review (F2), Dashboard (F3), Models (F4);\n"
    "F10 or ? lists the keys of each screen; Ctrl-Q quits.\n"
    "\n"
    "  --model FILE   the GGUF model (default: [model] path in the config file)\n"
    "  --backend URL  an OpenAI-compatible server instead (default: [remote]\n"
    "                 backend); the local model, if any, is the fallback when\n"
    "                 [remote] fallback = local\n"
    "  --remote-model NAME  the server's model name\n"
    "  --db PATH|URL  the database: a file or a postgresql:// URL without a\n"
    "                 password (default $FRONTDESK_DB, else [store] url, else\n"
    "                 $XDG_DATA_HOME/frontdesk/frontdesk.db)\n"
    "  --config FILE  the configuration file (default\n"
    "                 $XDG_CONFIG_HOME/frontdesk/config)\n";

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

static term *oom_term;
static void restore_terminal(void)
{
    term_close(oom_term);
    oom_term = NULL;
}

void tui_notice(tui *t, bool bad, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notice, sizeof t->notice, fmt, ap);
    va_end(ap);
    t->notice_bad = bad;
    t->notice_until = util_now() + (bad ? 8.0 : 4.0);
}

const char *tui_when(double when, char *buf, size_t size)
{
    time_t now = time(NULL), s = (time_t)when;
    struct tm a, b;
    localtime_r(&now, &a);
    localtime_r(&s, &b);
    if (a.tm_year == b.tm_year && a.tm_yday == b.tm_yday)
        strftime(buf, size, "%H:%M", &b);
    else
        strftime(buf, size, "%b %d", &b);
    return buf;
}

/* ---- Chat data -------------------------------------------------------------- */

static void free_convs(tui *t)
{
    db_convs_free(t->convs, t->n_convs);
    free(t->conv_rows);
    free(t->conv_when);
    t->convs = NULL;
    t->conv_rows = NULL;
    t->conv_when = NULL;
    t->n_convs = 0;
}

static void load_convs(tui *t)
{
    int64_t selected = t->sv.chat.conv_sel < t->n_convs && !t->select_open ? t->convs[t->sv.chat.conv_sel].id
                                                                           : t->sv.chat.conv_id;
    t->select_open = false;
    free_convs(t);
    const char *filter = ui_input_text(&t->sv.chat.filter);
    if (db_conv_list(t->d, filter, 500, &t->convs, &t->n_convs) != DB_OK)
        tui_notice(t, true, "%s", db_errmsg(t->d));
    t->conv_rows = xcalloc(t->n_convs + 1, sizeof *t->conv_rows);
    t->conv_when = xcalloc(t->n_convs + 1, sizeof *t->conv_when);
    for (size_t i = 0; i < t->n_convs; i++) {
        const db_conv *c = &t->convs[i];
        t->conv_rows[i] = (ui_conv_row){.id = c->id,
                                        .title = c->title,
                                        .when = tui_when(c->updated_at, t->conv_when[i], sizeof t->conv_when[i]),
                                        .rated = c->n_rated > 0 && c->n_unrated == 0,
                                        .closed = !strcmp(c->status, "closed")};
        if (c->id == selected)
            t->sv.chat.conv_sel = i;
    }
    t->sv.chat.convs = t->conv_rows;
    t->sv.chat.n_convs = t->n_convs;
    chat_clamp(&t->sv.chat);
}

static void free_msgs(tui *t)
{
    for (size_t i = 0; i < t->n_msgs; i++)
        free(t->metas[i]);
    free(t->metas);
    free(t->thumbs);
    db_msgs_free(t->msgs, t->n_msgs);
    t->msgs = NULL;
    t->metas = NULL;
    t->thumbs = NULL;
    t->n_msgs = 0;
}

/* "model · 41.2 tok/s · 1.3 s" under an agent turn. */
static char *reply_meta(tui *t, const db_msg *m)
{
    strbuf sb = {0};
    db_model model;
    if (m->model_id && db_model_get(t->d, m->model_id, &model) == DB_OK) {
        sb_puts(&sb, model.display_name);
        db_model_clear(&model);
    }
    db_request *rq;
    size_t n;
    if (db_requests_for_message(t->d, m->id, &rq, &n) == DB_OK && n) {
        const db_request *r = &rq[n - 1];
        if (strcmp(r->outcome, "ok") != 0)
            sb_printf(&sb, " · %s", r->outcome);
        if (r->decode_tps > 0)
            sb_printf(&sb, " · %.1f tok/s", r->decode_tps);
        if (r->latency_ms >= 0)
            sb_printf(&sb, " · %.1f s", r->latency_ms / 1000.0);
        db_requests_free(rq, n);
    }
    return sb.data;
}

/* Reload the open conversation's rows from the store. */
static void load_msgs(tui *t)
{
    free_msgs(t);
    t->ws_message = t->ws.message;
    if (!t->sv.chat.conv_id)
        return;
    if (db_msgs_list(t->d, t->sv.chat.conv_id, false, &t->msgs, &t->n_msgs) != DB_OK) {
        tui_notice(t, true, "%s", db_errmsg(t->d));
        return;
    }
    t->metas = xcalloc(t->n_msgs + 1, sizeof *t->metas);
    t->thumbs = xcalloc(t->n_msgs + 1, sizeof *t->thumbs);
    for (size_t i = 0; i < t->n_msgs; i++) {
        if (t->msgs[i].role != DB_ROLE_AGENT)
            continue;
        t->metas[i] = reply_meta(t, &t->msgs[i]);
        db_rating *r;
        size_t nr;
        if (db_ratings_get(t->d, t->msgs[i].id, &r, &nr) == DB_OK) {
            for (size_t k = 0; k < nr; k++)
                if (!strcmp(r[k].rater, t->cfg.rater))
                    t->thumbs[i] = r[k].thumbs;
            db_ratings_free(r, nr);
        }
    }
}

/* The transcript from the rows, with the streaming reply's live text. */
static void build_turns(tui *t)
{
    free(t->turns);
    t->turns = xcalloc(t->n_msgs + 3, sizeof *t->turns);
    t->n_turns = 0;
    bool streaming_here = t->ws.busy && t->ws.conv == t->sv.chat.conv_id && t->sv.chat.conv_id;
    bool placed = false;
    for (size_t i = 0; i < t->n_msgs; i++) {
        const db_msg *m = &t->msgs[i];
        bool live = streaming_here && m->id == t->ws.message;
        if (t->note[0] && t->note_msg == m->id)
            t->turns[t->n_turns++] = (ui_turn){.role = UI_ROLE_NOTE, .text = t->note};
        t->turns[t->n_turns++] = (ui_turn){
            .id = m->id,
            .role = m->role == DB_ROLE_SYSTEM ? UI_ROLE_SYSTEM : m->role == DB_ROLE_CUSTOMER ? UI_ROLE_CUSTOMER
                                                                                              : UI_ROLE_AGENT,
            .text = live ? (t->ws.text ? t->ws.text : "") : m->text,
            .meta = live ? NULL : t->metas[i],
            .streaming = live,
            .thumbs = t->thumbs[i],
        };
        placed |= live;
    }
    if (streaming_here && !placed) {
        if (t->ws.dropped && t->note[0])
            t->turns[t->n_turns++] = (ui_turn){.role = UI_ROLE_NOTE, .text = t->note};
        t->turns[t->n_turns++] = (ui_turn){.role = UI_ROLE_AGENT, .text = t->ws.text ? t->ws.text : "",
                                           .streaming = true};
    }
    t->sv.chat.turns = t->turns;
    t->sv.chat.n_turns = t->n_turns;
    t->sv.chat.generating = t->ws.busy;
    chat_clamp(&t->sv.chat);
}

/* The status line names the version answering the open conversation:
 * its routed version and arm, else what the deployment would do, else the
 * configured model. */
static void version_label(tui *t)
{
    char arm[16] = "";
    int64_t given = 0;
    db_deployment dep;
    bool deployed = db_deployment_get(t->d, &dep) == DB_OK;
    if (t->sv.chat.conv_id)
        db_conv_arm_get(t->d, t->sv.chat.conv_id, arm, &given);
    db_model m;
    if (given && *arm && (t->pinned || deployed) && db_model_get(t->d, given, &m) == DB_OK) {
        snprintf(t->model_name, sizeof t->model_name, "%s · %s", m.display_name, arm);
        snprintf(t->quant, sizeof t->quant, "%s", m.quant ? m.quant : m.backend);
        db_model_clear(&m);
    } else if (!t->pinned && deployed && db_model_get(t->d, dep.stable_id, &m) == DB_OK) {
        if (dep.candidate_id)
            snprintf(t->model_name, sizeof t->model_name, "deployment: %s + canary %d%%", m.display_name,
                     dep.share);
        else
            snprintf(t->model_name, sizeof t->model_name, "deployment: %s", m.display_name);
        snprintf(t->quant, sizeof t->quant, "%s", m.quant ? m.quant : m.backend);
        db_model_clear(&m);
    } else
        snprintf(t->model_name, sizeof t->model_name, "%s", t->configured_name);
}

static void open_conv(tui *t, int64_t id)
{
    t->sv.chat.conv_id = id;
    t->sv.chat.scroll = 0;
    t->sv.chat.turn_follow = true;
    t->edit_id = 0;
    t->sv.chat.editing = NULL;
    load_msgs(t);
    build_turns(t);
    version_label(t);
}

/* ---- Worker events ------------------------------------------------------------ */

static void poll_worker(tui *t)
{
    free(t->ws.text);
    worker_poll(t->w, &t->ws);
    if (t->ws.dropped && t->ws.message) {
        snprintf(t->note, sizeof t->note,
                 "%d oldest turn(s) were left out: the conversation no longer fits the model's context",
                 t->ws.dropped);
        t->note_msg = t->ws.message;
    }
    if (t->ws.finished) {
        if (t->ws.outcome == DB_OUTCOME_ERROR)
            tui_notice(t, true, "the reply failed: %s", t->ws.error);
        else if (t->ws.outcome == DB_OUTCOME_CANCELLED)
            tui_notice(t, false, "reply cancelled (kept, marked cancelled)");
        if (t->ws.guard[0])
            tui_notice(t, true, "guard: stopped the canary (%s)", t->ws.guard);
        load_convs(t);
        load_msgs(t);
        version_label(t);
    } else if (t->ws.message != t->ws_message && t->ws.conv == t->sv.chat.conv_id)
        load_msgs(t); /* the reply's row now exists */
    build_turns(t);
    t->sv.generating = t->ws.busy;
    t->sv.live_tps = t->ws.live_tps;
}

/* ---- Chat actions -------------------------------------------------------------- */

static void send_message(tui *t)
{
    const char *text = ui_input_text(&t->sv.chat.input);
    if (!*text)
        return;
    if (t->ws.busy) {
        tui_notice(t, true, "a reply is still being generated (Esc cancels it)");
        return;
    }
    char *clean = NULL;
    if (t->cfg.redact) {
        redact_counts rc;
        clean = redact_text(text, strlen(text), &rc);
        if (redact_total(&rc))
            tui_notice(t, false, "redacted %d e-mail address(es), %d phone number(s), %d card number(s)",
                       rc.emails, rc.phones, rc.cards);
    } else
        clean = xstrdup(text);
    db_status st = DB_OK;
    int64_t msg;
    if (t->edit_id)
        st = db_msg_edit(t->d, t->edit_id, clean, &msg);
    else {
        if (!t->sv.chat.conv_id) {
            const config_profile *p = &t->cfg.profiles[t->profile < t->cfg.n_profiles ? t->profile : 0];
            st = db_conv_create(t->d, p->name, p->system, &t->sv.chat.conv_id);
            t->select_open = true; /* the list moves to the new conversation */
        }
        if (st == DB_OK)
            st = db_msg_add(t->d, t->sv.chat.conv_id, DB_ROLE_CUSTOMER, clean, &msg);
    }
    free(clean);
    if (st != DB_OK) {
        /* the text stays in the editor: nothing is lost */
        tui_notice(t, true, "not sent: %s", db_errmsg(t->d));
        return;
    }
    ui_input_commit(&t->sv.chat.input);
    t->edit_id = 0;
    t->sv.chat.editing = NULL;
    t->note[0] = 0;
    if (!worker_submit(t->w, t->sv.chat.conv_id, 0))
        tui_notice(t, true, "a reply is still being generated");
    t->sv.chat.focus = CHAT_FOCUS_INPUT;
    t->sv.chat.turn_follow = true;
    t->sv.chat.scroll = 0;
    poll_worker(t);
    load_convs(t);
    load_msgs(t);
    build_turns(t);
}

static const db_msg *selected_msg(tui *t)
{
    chat_view *c = &t->sv.chat;
    if (c->turn_sel >= c->n_turns || !c->turns[c->turn_sel].id)
        return NULL;
    for (size_t i = 0; i < t->n_msgs; i++)
        if (t->msgs[i].id == c->turns[c->turn_sel].id)
            return &t->msgs[i];
    return NULL;
}

static const db_msg *last_reply(tui *t)
{
    for (size_t i = t->n_msgs; i-- > 0;)
        if (t->msgs[i].role == DB_ROLE_AGENT)
            return &t->msgs[i];
    return NULL;
}

static void thumb(tui *t, int dir)
{
    const db_msg *m = selected_msg(t);
    if (!m || m->role != DB_ROLE_AGENT)
        m = last_reply(t);
    if (!m) {
        tui_notice(t, true, "no reply to rate");
        return;
    }
    int current = 0;
    for (size_t i = 0; i < t->n_msgs; i++)
        if (&t->msgs[i] == m)
            current = t->thumbs[i];
    db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = current == dir ? 0 : dir};
    if (db_rate(t->d, m->id, t->cfg.rater, &in) != DB_OK)
        tui_notice(t, true, "%s", db_errmsg(t->d));
    else
        tui_notice(t, false, in.thumbs ? "thumbs %s saved" : "thumbs cleared", dir > 0 ? "up" : "down");
    char why[300];
    if (compare_guard_check(t->d, &t->cfg, why, sizeof why) == 1)
        tui_notice(t, true, "guard: stopped the canary (%s)", why);
    load_convs(t);
    load_msgs(t);
    build_turns(t);
}

static void copy_reply(tui *t)
{
    const db_msg *m = selected_msg(t);
    if (!m || m->role != DB_ROLE_AGENT)
        m = last_reply(t);
    if (!m) {
        tui_notice(t, true, "no reply to copy");
        return;
    }
    term_clipboard(t->term, m->text, strlen(m->text));
    strbuf path = {0};
    /* beside the database file; with a PostgreSQL store, where the default file would be */
    char *beside = store_is_url(t->db_path) ? store_default_path() : xstrdup(t->db_path);
    const char *slash = strrchr(beside, '/');
    if (slash)
        sb_append(&path, beside, (size_t)(slash - beside + 1));
    free(beside);
    sb_puts(&path, "last-reply.txt");
    FILE *f = priv_fopen_write(path.data); /* 0600 unless it exists */
    bool saved = f && fputs(m->text, f) >= 0;
    if (f && fclose(f) != 0)
        saved = false;
    tui_notice(t, false, "reply copied to the clipboard (OSC 52)%s%s", saved ? " and saved to " : "",
               saved ? path.data : "");
    sb_free(&path);
}

static void chat_action_run(tui *t, chat_action a)
{
    chat_view *c = &t->sv.chat;
    switch (a) {
    case CHAT_NONE: break;
    case CHAT_SEND: send_message(t); break;
    case CHAT_OPEN:
        if (c->conv_sel < t->n_convs)
            open_conv(t, t->convs[c->conv_sel].id);
        break;
    case CHAT_NEW: {
        free(t->pick_names);
        t->pick_names = xcalloc(t->cfg.n_profiles, sizeof *t->pick_names);
        for (size_t i = 0; i < t->cfg.n_profiles; i++)
            t->pick_names[i] = t->cfg.profiles[i].name;
        shell_pick(&t->sv, "New conversation: choose a profile", t->pick_names, t->cfg.n_profiles);
        break;
    }
    case CHAT_REGENERATE: {
        const db_msg *m = last_reply(t);
        if (t->ws.busy)
            tui_notice(t, true, "a reply is still being generated");
        else if (!m)
            tui_notice(t, true, "no reply to regenerate yet");
        else if (worker_submit(t->w, c->conv_id, m->id)) {
            tui_notice(t, false, "regenerating (the earlier reply is kept)");
            poll_worker(t);
        }
        break;
    }
    case CHAT_THUMB_UP: thumb(t, 1); break;
    case CHAT_THUMB_DOWN: thumb(t, -1); break;
    case CHAT_EDIT: {
        const db_msg *m = selected_msg(t);
        if (!m || m->role != DB_ROLE_CUSTOMER) {
            tui_notice(t, true, "select a customer message to edit (Tab to the transcript, Up/Down)");
            break;
        }
        if (t->ws.busy) {
            tui_notice(t, true, "wait for the reply to finish (or Esc)");
            break;
        }
        t->edit_id = m->id;
        snprintf(t->edit_banner, sizeof t->edit_banner, "message %lld", (long long)m->id);
        c->editing = t->edit_banner;
        ui_input_set(&c->input, m->text);
        c->focus = CHAT_FOCUS_INPUT;
        break;
    }
    case CHAT_RENAME:
        if (!c->conv_id) {
            tui_notice(t, true, "send a first message before naming the conversation");
            break;
        }
        t->ask = ASK_RENAME;
        shell_prompt(&t->sv, "Rename the conversation", t->n_convs && c->conv_sel < t->n_convs
                                                            ? t->convs[c->conv_sel].title
                                                            : "");
        break;
    case CHAT_TOGGLE_CLOSED: {
        db_conv conv;
        if (!c->conv_id || db_conv_get(t->d, c->conv_id, &conv) != DB_OK)
            break;
        bool closing = !strcmp(conv.status, "open");
        db_conv_clear(&conv);
        if (db_conv_set_closed(t->d, c->conv_id, closing) != DB_OK)
            tui_notice(t, true, "%s", db_errmsg(t->d));
        else
            tui_notice(t, false, closing ? "conversation closed" : "conversation reopened");
        load_convs(t);
        break;
    }
    case CHAT_COPY: copy_reply(t); break;
    case CHAT_FILTER: load_convs(t); break;
    case CHAT_CANCEL: worker_cancel(t->w); break;
    case CHAT_CANCEL_EDIT:
        t->edit_id = 0;
        c->editing = NULL;
        ui_input_clear(&c->input);
        break;
    }
}

/* ---- The loop -------------------------------------------------------------------- */

static void switched(tui *t)
{
    dashfeed_active(t->df, t->sv.screen == UI_SCREEN_DASH);
    if (t->sv.screen == UI_SCREEN_REVIEW)
        tui_review_enter(t);
    if (t->sv.screen == UI_SCREEN_MODELS)
        tui_models_enter(t);
    if (t->sv.screen == UI_SCREEN_CHAT) {
        version_label(t); /* the deployment may have changed */
        load_convs(t);
        load_msgs(t);
        build_turns(t);
    }
}

static void prompt_answer(tui *t)
{
    const char *text = ui_input_text(&t->sv.prompt);
    tui_ask ask = t->ask;
    t->ask = ASK_NONE;
    if (ask == ASK_RENAME) {
        if (db_conv_rename(t->d, t->sv.chat.conv_id, text) != DB_OK)
            tui_notice(t, true, "%s", db_errmsg(t->d));
        load_convs(t);
    } else if (ask == ASK_ARENA_COMMENT) {
        tui_arena_answer(t, text);
    } else if (ask == ASK_MODELS_SHARE || ask == ASK_MODELS_NOTE) {
        tui_models_answer(t, ask, text);
        version_label(t);
    } else if (ask != ASK_NONE)
        tui_review_answer(t, ask, text);
    ui_input_clear(&t->sv.prompt);
}

static void handle_key(tui *t, ui_key k)
{
    if (ui_key_is(k, 'c', UI_MOD_CTRL) && t->ws.busy) {
        worker_cancel(t->w);
        return;
    }
    switch (shell_key(&t->sv, k)) {
    case SHELL_QUIT: t->quit = true; return;
    case SHELL_SWITCHED: switched(t); return;
    case SHELL_PROMPT_OK: prompt_answer(t); return;
    case SHELL_PICKED:
        t->profile = t->sv.pick_sel;
        open_conv(t, 0);
        t->sv.chat.focus = CHAT_FOCUS_INPUT;
        tui_notice(t, false, "new conversation (profile %s): type the customer's first message",
                   t->cfg.profiles[t->profile].name);
        return;
    case SHELL_CANCELLED:
        t->ask = ASK_NONE;
        t->m_pending = MODELS_NONE;
        return;
    case SHELL_NONE: return;
    case SHELL_PASS: break;
    }
    int arg = 0;
    switch (t->sv.screen) {
    case UI_SCREEN_CHAT: chat_action_run(t, chat_key(&t->sv.chat, k)); break;
    case UI_SCREEN_REVIEW: {
        if (t->sv.review_arena.active) {
            tui_arena_key(t, k);
            break;
        }
        if (ui_key_is(k, 'A', 0)) {
            tui_arena_enter(t);
            break;
        }
        review_action a = review_key(&t->sv.review, k, &arg);
        if (a != REVIEW_NONE)
            tui_review_action(t, a, arg);
        break;
    }
    case UI_SCREEN_DASH:
        if (dash_key(&t->sv.dash, k) == DASH_WINDOW) {
            static const db_window cycle[] = {DB_WIN_1M, DB_WIN_5M, DB_WIN_1H, DB_WIN_24H, DB_WIN_7D, DB_WIN_30D};
            const size_t n_cycle = sizeof cycle / sizeof *cycle;
            db_window w = t->have_snap ? t->snap.window : DB_WIN_5M;
            size_t i = 0;
            while (i < n_cycle && cycle[i] != w)
                i++;
            db_window next = cycle[(i + 1) % n_cycle];
            dashfeed_set_window(t->df, next);
            t->sv.dash.window = db_window_name(next);
            t->sv.dash.loading = true;
        }
        break;
    case UI_SCREEN_MODELS: tui_models_action(t, models_key(&t->sv.models, k)); break;
    }
}

static void draw(tui *t)
{
    int w, h;
    term_size(t->term, &w, &h);
    if (w != t->frame.w || h != t->frame.h)
        frame_init(&t->frame, w, h);
    else
        frame_clear(&t->frame);
    if (t->notice[0] && util_now() > t->notice_until)
        t->notice[0] = 0;
    t->sv.notice = t->notice[0] ? t->notice : NULL;
    t->sv.notice_bad = t->notice_bad;
    shell_render(&t->sv, &t->frame);
    term_draw(t->term, &t->frame);
}

static int run(tui *t)
{
    while (!t->quit && !got_signal) {
        tui_frames_begin(&t->frames);
        poll_worker(t);
        tui_dash_notices(t);
        if (t->sv.screen == UI_SCREEN_DASH)
            tui_dash_update(t);
        if (t->sv.screen == UI_SCREEN_MODELS)
            tui_models_update(t);
        if (t->sv.screen == UI_SCREEN_REVIEW && t->sv.review_arena.active)
            tui_arena_update(t);
        draw(t);
        tui_frames_end(&t->frames, t->ws.busy);
        ui_key k;
        int timeout = t->ws.busy ? 50 : 200;
        while (term_read_key(t->term, timeout, &k)) {
            handle_key(t, k);
            if (t->quit)
                break;
            timeout = 0; /* drain what is already typed before drawing */
            if (k.code == UI_K_RESIZE)
                break;
        }
    }
    return EXIT_OK;
}

/* ---- Start-up ---------------------------------------------------------------------- */

typedef struct {
    const char *model, *db, *config, *backend, *remote_model;
} tui_args;

static int parse(int argc, char **argv, tui_args *a)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"backend", required_argument, NULL, 'b'},
        {"remote-model", required_argument, NULL, 'r'},
        {"db", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'b': a->backend = optarg; break;
        case 'r': a->remote_model = optarg; break;
        case 'd': a->db = optarg; break;
        case 'c': a->config = optarg; break;
        case 'h': fputs(cmd_tui_usage, stdout); return -1;
        case ':': return cli_usage_error("", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("", "unknown command '%s'", argv[optind]);
    const char *bad_url = a->backend ? cli_backend_problem(a->backend) : NULL;
    if (bad_url)
        return cli_usage_error("", "--backend '%s' %s", a->backend, bad_url);
    return EXIT_OK;
}

int cmd_tui(int argc, char **argv)
{
    tui_args ta = {0};
    int rc = parse(argc, argv, &ta);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;
    tui t = {0};
    config_load(&t.cfg, ta.config);
    for (size_t i = 0; i < t.cfg.n_warnings; i++)
        fprintf(stderr, "frontdesk: %s\n", t.cfg.warnings[i]);
    const char *backend = ta.backend ? ta.backend : t.cfg.backend;
    const char *model_path = ta.model ? ta.model : t.cfg.model_path;
    if (!model_path && !backend)
        model_path = config_builtin_model();
    char err[600];
    remote_opts ro = remote_defaults();
    int64_t remote_id = 0;
    rc = EXIT_FAIL;
    if (!model_path && !backend) {
        cli_fail("no model: give --model FILE (or --backend URL), or set [model] path in %s", t.cfg.path);
        goto out;
    }
    if ((rc = store_open(ta.db, &t.d)) != EXIT_OK)
        goto out;
    rc = EXIT_FAIL;
    t.db_path = xstrdup(db_path(t.d));
    /* With a deployment, it decides (versions load when first routed to);
     * --model / --backend pin a version instead. */
    t.pinned = ta.model || ta.backend;
    db_deployment dep;
    bool deployed = db_deployment_get(t.d, &dep) == DB_OK;
    if (deployed && !t.pinned)
        model_path = backend = NULL;
    if (model_path) {
        if (model_load(&t.m, model_path, err, sizeof err) != 0 || tok_load(&t.v, t.m->file, err, sizeof err) != 0 ||
            store_model_local(t.d, model_path, t.m, &t.model_id, err, sizeof err) != DB_OK) {
            cli_fail("%s", err);
            goto out;
        }
    }
    if (backend) {
        ro = deploy_remote_opts(&t.cfg, backend, ta.remote_model ? ta.remote_model : t.cfg.remote_model);
        db_model_info info = {.url = ro.base_url, .name = ro.model ? ro.model : "default"};
        if (db_model_use(t.d, &info, &remote_id) != DB_OK) {
            cli_fail("%s", db_errmsg(t.d));
            goto out;
        }
    }
    db_model dm;
    if ((model_path || backend) && db_model_get(t.d, backend ? remote_id : t.model_id, &dm) == DB_OK) {
        snprintf(t.configured_name, sizeof t.configured_name, "%s", dm.display_name);
        db_model_clear(&dm);
    }
    snprintf(t.quant, sizeof t.quant, "%s", backend ? "remote" : t.m ? t.m->quant : "");
    snprintf(t.backend_label, sizeof t.backend_label, "%s%s%s",
             backend ? backend : model_path ? "local" : "the deployment",
             backend && t.cfg.fallback_local && t.m ? " (fallback local)" : "", t.pinned ? " (pinned)" : "");
    version_label(&t);
    if (!(t.w = worker_start(t.db_path, t.m, t.v, t.model_id, backend ? &ro : NULL, remote_id,
                             t.cfg.fallback_local, t.pinned, &t.cfg, err, sizeof err))) {
        cli_fail("%s", err);
        goto out;
    }
    t.df = dashfeed_start(t.db_path);
    if (t.df)
        dashfeed_alerts(t.df, &t.cfg); /* alerts are checked on the feed's thread */
    if (!(t.term = term_open(t.cfg.color, err, sizeof err))) {
        cli_fail("%s", err);
        goto out;
    }
    oom_term = t.term;
    util_set_oom_hook(restore_terminal);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    shell_init(&t.sv);
    if (!tui_frames_open(&t.frames, getenv("FRONTDESK_FRAME_LOG"), err, sizeof err))
        tui_notice(&t, true, "%s", err);
    t.sv.model = t.model_name;
    t.sv.quant = t.quant;
    t.sv.backend = t.backend_label;
    t.sv.db_path = t.db_path;
    t.sv.dash.window = "5m";
    t.sv.dash.loading = true;
    if (t.cfg.n_warnings)
        tui_notice(&t, true, "%s (and %zu more in the config file)", t.cfg.warnings[0], t.cfg.n_warnings - 1);
    load_convs(&t);
    build_turns(&t);
    rc = run(&t);
out:
    if (t.term) {
        term_close(t.term);
        oom_term = NULL;
        if (got_signal)
            fprintf(stderr, "frontdesk: stopped by signal %d\n", (int)got_signal);
    }
    tui_frames_close(&t.frames);
    worker_stop(t.w); /* cancels a reply in progress: saved as cancelled */
    dashfeed_stop(t.df);
    shell_free(&t.sv);
    frame_free(&t.frame);
    free(t.ws.text);
    free_convs(&t);
    free_msgs(&t);
    free(t.turns);
    free(t.pick_names);
    tui_review_free(&t);
    tui_arena_free(&t);
    tui_dash_free(&t);
    tui_models_free(&t);
    tok_free(t.v);
    model_free(t.m);
    db_close(t.d);
    free(t.db_path);
    config_free(&t.cfg);
    return rc;
}
