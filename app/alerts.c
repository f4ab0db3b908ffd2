/*
 * alerts.c — deciding alerts, recording their episodes, running the
 * command of [alerts] (see alerts.h).
 *
 * What this file does not do: draw anything (ui/dash.c lists what
 * app/tui_dash.c hands it), or decide which process announces a change
 * (the store does: storage/alerts.h).
 */
#include "app/alerts.h"

#include "app/store.h"

#include "storage/alerts.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *const NAMES[ALERT_COUNT] = {"latency_p95", "ttft_p95",   "error_rate",
                                               "thumbs_down_rate", "decode_tps", "guard"};

const char *alert_name(alert_kind k)
{
    return k < ALERT_COUNT ? NAMES[k] : "?";
}

static void set_text(alert_state *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_text(alert_state *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text, sizeof a->text, fmt, ap);
    va_end(ap);
}

int alerts_decide(const config *c, const db_stats *st, double thumbs_down_rate, int64_t thumbs_n,
                  alert_state out[ALERT_N_THRESHOLDS])
{
    memset(out, 0, ALERT_N_THRESHOLDS * sizeof *out);
    alert_state *a = &out[ALERT_LATENCY];
    a->value = st->latency_ms.valid ? st->latency_ms.p95 : NAN;
    a->threshold = c->latency_p95_ms;
    a->firing = c->latency_p95_ms > 0 && st->latency_ms.valid && st->latency_ms.p95 > c->latency_p95_ms;
    if (a->firing)
        set_text(a, "p95 latency %.0f ms > %.0f ms", st->latency_ms.p95, c->latency_p95_ms);

    a = &out[ALERT_TTFT];
    a->value = st->ttft_ms.valid ? st->ttft_ms.p95 : NAN;
    a->threshold = c->ttft_p95_ms;
    a->firing = c->ttft_p95_ms > 0 && st->ttft_ms.valid && st->ttft_ms.p95 > c->ttft_p95_ms;
    if (a->firing)
        set_text(a, "p95 time to first token %.0f ms > %.0f ms", st->ttft_ms.p95, c->ttft_p95_ms);

    /* One error out of one request is not a trend: error_min_sample. */
    a = &out[ALERT_ERRORS];
    a->value = st->requests ? st->error_rate : NAN;
    a->threshold = c->error_rate;
    a->firing = st->requests > 0 && st->requests >= c->error_min_sample && st->error_rate > c->error_rate;
    if (a->firing)
        set_text(a, "error rate %.1f%% > %.1f%% (%lld of %lld)", 100 * st->error_rate, 100 * c->error_rate,
                 (long long)st->errors, (long long)st->requests);

    a = &out[ALERT_THUMBS];
    a->value = thumbs_n ? thumbs_down_rate : NAN;
    a->threshold = c->thumbs_down_rate;
    a->firing = thumbs_n > 0 && thumbs_n >= c->thumbs_min_sample && thumbs_down_rate > c->thumbs_down_rate;
    if (a->firing)
        set_text(a, "thumbs down %.0f%% > %.0f%% (of %lld)", 100 * thumbs_down_rate, 100 * c->thumbs_down_rate,
                 (long long)thumbs_n);

    a = &out[ALERT_DECODE];
    a->value = st->decode_tps > 0 ? st->decode_tps : NAN;
    a->threshold = c->decode_tps_min;
    a->firing = c->decode_tps_min > 0 && st->decode_tps > 0 && st->decode_tps < c->decode_tps_min;
    if (a->firing)
        set_text(a, "decode %.1f tok/s < %.1f tok/s", st->decode_tps, c->decode_tps_min);

    int n = 0;
    for (int k = 0; k < ALERT_N_THRESHOLDS; k++)
        n += out[k].firing;
    return n;
}

/* ---- The command ------------------------------------------------------------------ */

int alerts_run_command(const char *command, const char *input, double timeout_s, bool quiet, char *err,
                       size_t errlen)
{
    /* The input is written whole into the pipe before the command starts
     * (it is a few hundred bytes; a pipe holds 64 KiB), so a command that
     * never reads it cannot block us and no SIGPIPE can arrive. */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        util_errf(err, errlen, "cannot make a pipe: %s", strerror(errno));
        return -1;
    }
    size_t len = strlen(input);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    ssize_t w = write(fds[1], input, len);
    close(fds[1]);
    if (w != (ssize_t)len) {
        close(fds[0]);
        util_errf(err, errlen, "the alert (%zu bytes of JSON) does not fit a pipe", len);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&at);
    /* Its own process group (so a timeout kills what it started too),
     * no blocked signals and default dispositions (serve blocks SIGINT
     * and SIGTERM and ignores SIGPIPE; an exec keeps both). */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&at, 0);
    sigset_t none, defaults;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGHUP);
    posix_spawnattr_setsigdefault(&at, &defaults);
    char *argv[] = {"sh", "-c", (char *)command, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(fds[0]);
    if (rc != 0) {
        util_errf(err, errlen, "cannot run /bin/sh: %s", strerror(rc));
        return -1;
    }
    double deadline = util_now() + timeout_s;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            util_errf(err, errlen, "waiting for it: %s", strerror(errno));
            return -1;
        }
        if (util_now() >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            util_errf(err, errlen, "timed out after %g s (killed)", timeout_s);
            return -1;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        util_errf(err, errlen, "exited with status %d", WEXITSTATUS(status));
    else
        util_errf(err, errlen, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* ---- Checking ---------------------------------------------------------------------- */

static void logf_(const alerts_opts *o, bool bad, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void logf_(const alerts_opts *o, bool bad, const char *fmt, ...)
{
    if (!o->log)
        return;
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(o->log_ud, bad, buf);
}

static json_t *num_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *time_json(double t)
{
    char buf[40];
    return t > 0 ? json_string(db_format_time(t, buf, sizeof buf)) : json_null();
}

/* What an episode records when it opens or closes: the figures then. */
static char *figures_json(const alert_state *a, const alerts_result *r, const db_stats *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "text", json_string(a->text));
    json_object_set_new(o, "value", num_or_null(a->value));
    json_object_set_new(o, "threshold", json_real(a->threshold));
    json_object_set_new(o, "window", json_string(db_window_name(r->window)));
    json_object_set_new(o, "observed_at", time_json(r->at));
    if (st) {
        json_object_set_new(o, "requests", json_integer(st->requests));
        json_object_set_new(o, "errors", json_integer(st->errors));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Tell the command about one change (when there is a command). */
static void announce(const alerts_opts *o, const char *name, bool firing, double started_at, double ended_at,
                     const alert_state *a, db_window w, const char *detail)
{
    logf_(o, false, "alert %s %s%s%s", name, firing ? "firing" : "resolved", firing ? ": " : "",
          firing ? a->text : "");
    const char *cmd = o->cfg->alerts_command;
    if (!cmd)
        return;
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(name));
    json_object_set_new(j, "state", json_string(firing ? "firing" : "resolved"));
    json_object_set_new(j, "started_at", time_json(started_at));
    json_object_set_new(j, "ended_at", time_json(ended_at));
    json_object_set_new(j, "value", num_or_null(a->value));
    json_object_set_new(j, "threshold", json_real(a->threshold));
    json_object_set_new(j, "window", json_string(db_window_name(w)));
    json_t *dj = detail ? json_loads(detail, 0, NULL) : NULL;
    json_object_set_new(j, "detail", dj ? dj : json_object());
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    strbuf in = {0};
    sb_printf(&in, "%s\n", text);
    free(text);
    char err[300];
    if (alerts_run_command(cmd, in.data, o->cfg->alerts_command_timeout_s, o->quiet, err, sizeof err) != 0)
        logf_(o, true, "the alert command for %s (%s) %s", name, firing ? "firing" : "resolved", err);
    sb_free(&in);
}

/* The guard's newest stop inside the window: *firing, its time, and the
 * number of stops in the window as the alert's value. */
static db_status decide_guard(db *d, double from, alert_state *a, double *stop_at)
{
    db_deploy_event *ev;
    size_t n;
    db_status s = db_deploy_history(d, 200, &ev, &n);
    if (s != DB_OK)
        return s;
    memset(a, 0, sizeof *a);
    *stop_at = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].action, "guard-stop") || ev[i].at < from)
            continue;
        a->value++;
        if (a->firing)
            continue;
        a->firing = true;
        *stop_at = ev[i].at;
        /* the candidate stopped is the one the row before it ran */
        int64_t stopped = i + 1 < n ? ev[i + 1].candidate_id : 0;
        db_model m;
        char when[40];
        if (stopped && db_model_get(d, stopped, &m) == DB_OK) {
            set_text(a, "guard stopped %s at %s (%s)", m.display_name, db_format_time(ev[i].at, when, sizeof when),
                     ev[i].note ? ev[i].note : "no reason recorded");
            db_model_clear(&m);
        } else
            set_text(a, "guard stopped the canary at %s (%s)", db_format_time(ev[i].at, when, sizeof when),
                     ev[i].note ? ev[i].note : "no reason recorded");
    }
    db_deploy_events_free(ev, n);
    return DB_OK;
}

/* Open or close name's episode as decided; announce what this process did. */
static db_status record(db *d, const alerts_opts *o, const alerts_result *r, alert_kind k, double started_at,
                        const db_stats *st)
{
    const alert_state *a = &r->a[k];
    const char *name = alert_name(k);
    char *fig = figures_json(a, r, st);
    db_status s;
    if (a->firing) {
        bool opened;
        s = db_alert_open(d, name, started_at, r->at, fig, &opened, NULL);
        if (s == DB_OK && opened)
            announce(o, name, true, started_at, 0, a, r->window, fig);
    } else {
        bool closed;
        db_alert_episode ep;
        s = db_alert_close(d, name, r->at, fig, &closed, &ep);
        if (s == DB_OK && closed)
            announce(o, name, false, ep.started_at, ep.ended_at, a, r->window, ep.detail);
        db_alert_episode_clear(&ep);
    }
    free(fig);
    return s;
}

db_status alerts_check(db *d, const alerts_opts *o, double now, alerts_result *res)
{
    const config *c = o->cfg;
    memset(res, 0, sizeof *res);
    res->at = now;
    res->window = c->alerts_window;
    db_stats st;
    double thumbs_rate = 0;
    int64_t thumbs_n = 0;
    db_status s = db_stats_compute(d, c->alerts_window, now, NULL, 0, &st);
    if (s != DB_OK)
        return s;
    s = db_thumbs_down_rate(d, st.from, &thumbs_rate, &thumbs_n);
    double stop_at = 0;
    if (s == DB_OK)
        s = decide_guard(d, st.from, &res->a[ALERT_GUARD], &stop_at);
    if (s != DB_OK) {
        db_stats_free(&st);
        return s;
    }
    alerts_decide(c, &st, thumbs_rate, thumbs_n, res->a);
    /* Write only what would change; the store still decides who acts. */
    db_alert_episode *open = NULL;
    size_t n_open = 0;
    if ((s = db_alert_open_list(d, &open, &n_open)) != DB_OK) {
        db_stats_free(&st);
        return s;
    }
    for (int k = 0; k < ALERT_COUNT; k++) {
        res->n_firing += res->a[k].firing;
        bool is_open = false;
        for (size_t i = 0; i < n_open; i++)
            is_open |= !strcmp(open[i].name, alert_name((alert_kind)k));
        if (is_open == res->a[k].firing)
            continue;
        db_status rs = record(d, o, res, (alert_kind)k, k == ALERT_GUARD ? stop_at : now,
                              k == ALERT_GUARD ? NULL : &st);
        if (rs != DB_OK && s == DB_OK)
            s = rs;
    }
    db_alert_episodes_free(open, n_open);
    db_stats_free(&st);
    return s;
}

/* ---- The watcher thread ------------------------------------------------------------ */

struct alerts_watch {
    const config *cfg;
    char *db_path, *who;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool quit; /* under mu */
};

static void watch_log(void *ud, bool bad, const char *msg)
{
    alerts_watch *w = ud;
    (void)bad;
    fprintf(stderr, "%s: %s\n", w->who, msg);
}

static void *watch_main(void *arg)
{
    alerts_watch *w = arg;
    char err[512];
    db *d = NULL;
    if (store_db_open(&d, w->db_path, err, sizeof err) != DB_OK)
        fprintf(stderr, "%s: alerts are not checked: %s\n", w->who, err);
    alerts_opts o = {.cfg = w->cfg, .log = watch_log, .log_ud = w};
    bool failing = false; /* say a store failure once, not every second */
    pthread_mutex_lock(&w->mu);
    while (!w->quit && d) {
        pthread_mutex_unlock(&w->mu);
        alerts_result r;
        db_status s = alerts_check(d, &o, db_now(), &r);
        if (s != DB_OK && !failing)
            fprintf(stderr, "%s: checking alerts: %s\n", w->who, db_errmsg(d));
        failing = s != DB_OK;
        pthread_mutex_lock(&w->mu);
        if (w->quit)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    pthread_mutex_unlock(&w->mu);
    db_close(d);
    return NULL;
}

alerts_watch *alerts_watch_start(const config *cfg, const char *db_path, const char *who, char *err,
                                 size_t errlen)
{
    alerts_watch *w = xcalloc(1, sizeof *w);
    w->cfg = cfg;
    w->db_path = xstrdup(db_path);
    w->who = xstrdup(who);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int rc = pthread_create(&w->thread, NULL, watch_main, w);
    if (rc != 0) {
        util_errf(err, errlen, "cannot start the alerts thread: %s", strerror(rc));
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w->db_path);
        free(w->who);
        free(w);
        return NULL;
    }
    return w;
}

void alerts_watch_stop(alerts_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->db_path);
    free(w->who);
    free(w);
}
