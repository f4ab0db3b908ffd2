/*
 * test_alerts.c — alerts that reach someone (app/alerts.h, storage/alerts.h,
 * `frontdesk stats --check`), on real SQLite files (or, run with
 * FRONTDESK_TEST_BACKEND=postgresql, databases of the throwaway PostgreSQL
 * server: tests/store_util.h) and real processes:
 *
 *   - the decision: each threshold fires strictly above its value (below,
 *     for decode tok/s), error_min_sample keeps one error of one request
 *     quiet, thumbs_min_sample likewise;
 *   - episodes: two handles on two threads race to open and to close the
 *     same alert, round after round: exactly one opens and one closes each
 *     time; a stale decision (figures older than the close) opens nothing;
 *   - `stats --check`: exit 0 and "no alert firing" on a healthy store, exit 3
 *     and one line per alert (name, value, threshold, words) on a store with
 *     chosen latencies and outcomes placed in time (--window honoured);
 *   - the command of [alerts]: two `stats --check` loops watch while failing
 *     requests make the error-rate alert start and good ones end it; the
 *     command (a script appending its standard input to a file) hears exactly
 *     one start and one end; a command that hangs is killed after
 *     command_timeout_s, reported, and checking goes on; one that fails is
 *     reported;
 *   - the guard: a guard-stop in the deployment history is a "guard" episode
 *     starting at the stop, firing in `stats --check` and listed as firing by
 *     the dashboard (its feed thread checking alerts), ending once the stop is
 *     older than the window.
 *
 * Expected values are worked out by hand in the comments.  Waiting for other
 * processes is polling with a generous bound; nothing asserts a duration.
 */
#include "tests/testutil.h"

#include "tests/store_util.h"

#include "app/alerts.h"
#include "app/config.h"
#include "app/tui.h"
#include "storage/alerts.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/metrics.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static char *read_or_empty(const char *path)
{
    char *text;
    size_t len;
    if (util_read_file(path, &text, &len) != 0)
        return xstrdup("");
    return text;
}

/* A config file holding text; returns its path. */
static const char *config_file(const char *name, const char *text)
{
    const char *p = test_path(test_tmpdir(), name);
    write_file(p, text);
    return p;
}

static void load_config(config *c, const char *text)
{
    config_load(c, config_file("decide.conf", text));
    if (c->n_warnings)
        fail_msg("config: %s", c->warnings[0]);
}

static int64_t hand_model(db *d, char digit, const char *name)
{
    char hex[65], file[64];
    memset(hex, digit, 64);
    hex[64] = 0;
    snprintf(file, sizeof file, "%s.gguf", name);
    db_model_info m = {.sha256 = hex, .name = name, .file_name = file, .arch = "llama", .quant = "Q8_0"};
    int64_t id;
    OK(d, db_model_use(d, &m, &id));
    return id;
}

/* n finished requests with the given outcome and latency (ms; -1 unknown),
 * started at `at` (moved there with SQL: the API stamps the current time). */
static void requests(const char *path, db *d, int64_t model, int n, db_outcome o, double latency, double at)
{
    sql_conn *raw = sql_connect(path);
    for (int i = 0; i < n; i++) {
        int64_t id;
        OK(d, db_request_begin(d, model, "local", 0, 0, 0, &id));
        /* moved before it finishes: finishing folds it into the per-minute
         * rollups at its started_at (storage/rollup.h) */
        char sql[160];
        snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.6f WHERE id = %lld", at, (long long)id);
        sql_conn_exec(raw, sql);
        db_request_result r = {.outcome = o, .error = o == DB_OUTCOME_OK ? NULL : "it broke",
                               .prompt_tokens = 4, .gen_tokens = 8, .ttft_ms = 50,
                               .prefill_ms = -1, .decode_ms = -1, .latency_ms = latency,
                               .prefill_tps = 100, .decode_tps = 20, .attempts = 1};
        OK(d, db_request_finish(d, id, &r));
    }
    sql_disconnect(raw);
}

/* ---- the decision ------------------------------------------------------------------ */

static db_stats figures(int64_t requests, int64_t errors, double lat_p95, double ttft_p95, double decode)
{
    db_stats s = {0};
    s.requests = requests;
    s.errors = errors;
    s.error_rate = requests ? (double)errors / (double)requests : 0;
    s.latency_ms = (db_pcts){lat_p95 >= 0, lat_p95 / 2, lat_p95, lat_p95, lat_p95};
    s.ttft_ms = (db_pcts){ttft_p95 >= 0, ttft_p95 / 2, ttft_p95, ttft_p95, ttft_p95};
    s.decode_tps = decode;
    return s;
}

static unsigned firing_set(const config *c, const db_stats *s, double thumbs_rate, int64_t thumbs_n,
                           alert_state a[ALERT_N_THRESHOLDS])
{
    int n = alerts_decide(c, s, thumbs_rate, thumbs_n, a);
    unsigned set = 0;
    int count = 0;
    for (int k = 0; k < ALERT_N_THRESHOLDS; k++)
        if (a[k].firing) {
            set |= 1u << k;
            count++;
        }
    assert_int_equal(n, count);
    return set;
}

static void test_decide(void **state)
{
    (void)state;
    config c;
    load_config(&c, "[thresholds]\ndecode_tps_min = 10\n"); /* the rest at their defaults */
    alert_state a[ALERT_N_THRESHOLDS];

    /* At every threshold exactly: nothing (strictly above; decode strictly below). */
    db_stats s = figures(20, 1, 5000, 2000, 10); /* 1 of 20 = 5% */
    assert_int_equal(firing_set(&c, &s, 0.3, 10, a), 0);

    /* Just past each one, alone. */
    s = figures(20, 1, 5000.5, 2000, 10);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 1u << ALERT_LATENCY);
    assert_string_equal(a[ALERT_LATENCY].text, "p95 latency 5000 ms > 5000 ms"); /* %.0f of 5000.5 */
    assert_true(a[ALERT_LATENCY].value == 5000.5 && a[ALERT_LATENCY].threshold == 5000);
    s = figures(20, 1, 100, 2001, 10);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 1u << ALERT_TTFT);
    assert_string_equal(a[ALERT_TTFT].text, "p95 time to first token 2001 ms > 2000 ms");
    s = figures(20, 2, 100, 100, 10); /* 2 of 20 = 10% */
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 1u << ALERT_ERRORS);
    assert_string_equal(a[ALERT_ERRORS].text, "error rate 10.0% > 5.0% (2 of 20)");
    assert_true(fabs(a[ALERT_ERRORS].value - 0.1) < 1e-12 && a[ALERT_ERRORS].threshold == 0.05);
    s = figures(20, 0, 100, 100, 10);
    assert_int_equal(firing_set(&c, &s, 0.4, 10, a), 1u << ALERT_THUMBS); /* 4 of 10 down */
    assert_string_equal(a[ALERT_THUMBS].text, "thumbs down 40% > 30% (of 10)");
    s = figures(20, 0, 100, 100, 9.5);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 1u << ALERT_DECODE);
    assert_string_equal(a[ALERT_DECODE].text, "decode 9.5 tok/s < 10.0 tok/s");

    /* error_min_sample (default 20): 19 requests, 10 errors (53%) is no alert;
     * one error of one request neither; invalid percentiles and unknown
     * decode speed (0) never fire. */
    assert_int_equal(c.error_min_sample, 20);
    s = figures(19, 10, -1, -1, 0);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 0);
    s = figures(1, 1, -1, -1, 0);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 0);
    /* thumbs_min_sample (default 10): 9 thumbs all down is no alert */
    s = figures(0, 0, -1, -1, 0);
    assert_int_equal(firing_set(&c, &s, 1.0, 9, a), 0);
    config_free(&c);

    /* With error_min_sample = 1 the single failure fires; decode off (0). */
    load_config(&c, "[thresholds]\nerror_min_sample = 1\n");
    s = figures(1, 1, -1, -1, 0.5);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 1u << ALERT_ERRORS);
    assert_string_equal(a[ALERT_ERRORS].text, "error rate 100.0% > 5.0% (1 of 1)");
    config_free(&c);

    /* A threshold of 0 switches latency and ttft off. */
    load_config(&c, "[thresholds]\nlatency_p95_ms = 0\nttft_p95_ms = 0\n");
    s = figures(20, 0, 1e6, 1e6, 10);
    assert_int_equal(firing_set(&c, &s, 0, 0, a), 0);
    config_free(&c);
}

/* ---- episodes: two handles racing ---------------------------------------------------- */

enum { RACE_ROUNDS = 40 };

typedef struct {
    const char *path;
    pthread_barrier_t *bar;
    int opened, closed; /* how many this handle did */
    char err[512];
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    db *d;
    if (db_open(&d, r->path, r->err, sizeof r->err) != DB_OK)
        return NULL;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        /* Both saw the same figures: firing at t, resolved at t + 5. */
        double t = 1000.0 + 10.0 * i;
        bool did;
        db_alert_episode ep;
        pthread_barrier_wait(r->bar);
        if (db_alert_open(d, "error_rate", t, t, "{\"round\":1}", &did, NULL) != DB_OK)
            snprintf(r->err, sizeof r->err, "open: %s", db_errmsg(d));
        r->opened += did;
        pthread_barrier_wait(r->bar);
        if (db_alert_close(d, "error_rate", t + 5, NULL, &did, &ep) != DB_OK)
            snprintf(r->err, sizeof r->err, "close: %s", db_errmsg(d));
        if (did && ep.started_at != t)
            snprintf(r->err, sizeof r->err, "closed an episode started at %g, not %g", ep.started_at, t);
        r->closed += did;
        db_alert_episode_clear(&ep);
    }
    db_close(d);
    return NULL;
}

static void test_episodes_race(void **state)
{
    (void)state;
    const char *path = fresh_store("race.db");
    db *d = open_store(path);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    racer r[2] = {{.path = path, .bar = &bar}, {.path = path, .bar = &bar}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    for (int i = 0; i < 2; i++)
        if (r[i].err[0])
            fail_msg("handle %d: %s", i, r[i].err);
    /* every round one opener and one closer, between them */
    assert_int_equal(r[0].opened + r[1].opened, RACE_ROUNDS);
    assert_int_equal(r[0].closed + r[1].closed, RACE_ROUNDS);
    db_alert_episode *e;
    size_t n;
    OK(d, db_alert_recent(d, 0, &e, &n));
    assert_int_equal(n, RACE_ROUNDS);
    for (size_t i = 0; i < n; i++) { /* newest first: round RACE_ROUNDS-1 .. 0 */
        double t = 1000.0 + 10.0 * (double)(RACE_ROUNDS - 1 - i);
        assert_true(e[i].started_at == t && e[i].ended_at == t + 5);
        assert_string_equal(e[i].detail, "{\"round\":1}");
    }
    db_alert_episodes_free(e, n);

    /* A stale decision: figures from t = 1392 (before the last close at 1395)
     * open nothing; newer ones (1400) do, once. */
    bool did;
    int64_t id;
    OK(d, db_alert_open(d, "error_rate", 1392, 1392, NULL, &did, &id));
    assert_false(did);
    OK(d, db_alert_open(d, "error_rate", 1400, 1400, NULL, &did, &id));
    assert_true(did && id > 0);
    OK(d, db_alert_open(d, "error_rate", 1401, 1401, NULL, &did, &id));
    assert_false(did); /* already open */
    /* a stale "resolved" (figures of 1399) does not close what 1400 opened */
    db_alert_episode ep;
    OK(d, db_alert_close(d, "error_rate", 1399, NULL, &did, &ep));
    assert_false(did);
    OK(d, db_alert_open_list(d, &e, &n));
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "error_rate");
    assert_true(e[0].started_at == 1400 && e[0].ended_at == 0);
    db_alert_episodes_free(e, n);
    /* another name is independent */
    OK(d, db_alert_open(d, "latency_p95", 1390, 1390, NULL, &did, &id));
    assert_true(did);
    db_close(d);
}

/* ---- stats --check ------------------------------------------------------------------- */

/* Line `i` of a `stats --check` output: "NAME VALUE OP THRESHOLD  TEXT", the
 * value within rel (the figures come from the rollups: percentiles within
 * 1% of the nearest-rank value, storage/metrics.h), the text starting with
 * text_start and ending with text_end. */
static void expect_alert_line(const char *out, int i, const char *name, double value, double rel, const char *op,
                              double threshold, const char *text_start, const char *text_end)
{
    const char *line = out;
    for (int k = 0; k < i && line; k++)
        line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    if (!line || !*line)
        fail_msg("no line %d in:\n%s", i, out);
    char got_name[64], got_op[4];
    double v, t;
    int used = 0;
    if (sscanf(line, "%63s %lf %3s %lf  %n", got_name, &v, got_op, &t, &used) != 4 || !used)
        fail_msg("line %d is not NAME VALUE OP THRESHOLD  TEXT: %s", i, line);
    const char *text = line + used, *eol = strchr(text, '\n');
    size_t tl = eol ? (size_t)(eol - text) : strlen(text), el = strlen(text_end);
    if (strcmp(got_name, name) || strcmp(got_op, op) || fabs(v - value) > rel * fabs(value) + 1e-9 ||
        fabs(t - threshold) > 1e-9 || strncmp(text, text_start, strlen(text_start)) || tl < el ||
        strncmp(text + tl - el, text_end, el))
        fail_msg("line %d: want %s %g (within %g) %s %g  %s...%s, got: %s", i, name, value, rel, op, threshold,
                 text_start, text_end, line);
}

static void test_check_exit_codes(void **state)
{
    (void)state;
    const char *path = fresh_store("check.db");
    const char *cfg = config_file("check.conf", "# defaults\n");
    db *d = open_store(path);
    int64_t m = hand_model(d, 'a', "Alpha");
    double now = db_now();
    char *out, *err;

    /* 27 good requests of 100 ms, 90 s ago: healthy. */
    requests(path, d, m, 27, DB_OUTCOME_OK, 100, now - 90);
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", path), 0);
    assert_string_equal(out, "no alert firing (window 5m)\n");
    free(out);
    free(err);

    /* Add 3 good ones of 9000 ms and 10 errors (latency unknown): 40 requests,
     * 10 errors = 25% > 5%; latencies 27 x 100, 3 x 9000: p95 is rank
     * ceil(0.95 x 30) = 29, 9000 ms > 5000. */
    requests(path, d, m, 3, DB_OUTCOME_OK, 9000, now - 90);
    requests(path, d, m, 10, DB_OUTCOME_ERROR, -1, now - 90);
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", path), 3);
    assert_int_equal(count_lines(out), 2);
    expect_alert_line(out, 0, "latency_p95", 9000, 0.01, ">", 5000, "p95 latency 9", " ms > 5000 ms");
    expect_alert_line(out, 1, "error_rate", 0.25, 0, ">", 0.05, "error rate 25.0% > 5.0% (10 of 40)", "");
    free(out);
    free(err);
    /* the episodes it opened */
    db_alert_episode *e;
    size_t n;
    OK(d, db_alert_open_list(d, &e, &n));
    assert_int_equal(n, 2);
    db_alert_episodes_free(e, n);

    /* Over the last minute nothing started: no alert, and both episodes end. */
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--window", "1m", "--config", cfg, "--db", path), 0);
    assert_string_equal(out, "no alert firing (window 1m)\n");
    free(out);
    free(err);
    OK(d, db_alert_open_list(d, &e, &n));
    assert_int_equal(n, 0);
    db_alert_episodes_free(e, n);
    OK(d, db_alert_recent(d, 0, &e, &n));
    assert_int_equal(n, 2);
    db_alert_episodes_free(e, n);

    /* [alerts] window = 1m in the config does the same. */
    const char *cfg1 = config_file("check1.conf", "[alerts]\nwindow = 1m\n");
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg1, "--db", path), 0);
    free(out);
    free(err);

    /* --check with --json, or over 7d: usage errors */
    assert_int_equal(RUN(NULL, NULL, "stats", "--check", "--json", "--db", path), 2);
    assert_int_equal(RUN(NULL, NULL, "stats", "--check", "--window", "7d", "--db", path), 2);
    db_close(d);

    /* One error of one request: quiet at the default error_min_sample (20),
     * firing at 1. */
    const char *p1 = fresh_store("one.db");
    d = open_store(p1);
    m = hand_model(d, 'a', "Alpha");
    requests(p1, d, m, 1, DB_OUTCOME_ERROR, -1, now - 10);
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", p1), 0);
    free(out);
    free(err);
    const char *cfg_min1 = config_file("min1.conf", "[thresholds]\nerror_min_sample = 1\n");
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg_min1, "--db", p1), 3);
    assert_int_equal(count_lines(out), 1);
    expect_alert_line(out, 0, "error_rate", 1, 0, ">", 0.05, "error rate 100.0% > 5.0% (1 of 1)", "");
    free(out);
    free(err);
    db_close(d);
}

/* ---- the command, two watchers ---------------------------------------------------------- */

/* A child that runs `frontdesk stats --check` until the stop file exists,
 * writing one byte to fd after each run. */
static pid_t watcher(const char *cfg, const char *path, const char *stop, int fd)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid)
        return pid;
    while (access(stop, F_OK) != 0) {
        const char *argv[] = {test_bin(), "stats", "--check", "--config", cfg, "--db", path, NULL};
        char *o, *e;
        int rc = test_run(argv, NULL, 0, &o, &e);
        if (rc != 0 && rc != 3) {
            fprintf(stderr, "watcher: stats --check exited %d: %s\n", rc, e);
            _exit(1);
        }
        free(o);
        free(e);
        if (write(fd, "x", 1) != 1)
            _exit(1);
    }
    _exit(0);
}

/* Wait until each watcher has finished `more` further runs. */
static void watch_rounds(int fds[2], int more)
{
    int got[2] = {0, 0};
    double t0 = util_now();
    while (got[0] < more || got[1] < more) {
        for (int i = 0; i < 2; i++) {
            char buf[64];
            ssize_t r = read(fds[i], buf, sizeof buf);
            if (r > 0)
                got[i] += (int)r;
        }
        if (util_now() - t0 > 120)
            fail_msg("the watchers stopped running (%d and %d runs)", got[0], got[1]);
        usleep(20000);
    }
}

/* Poll until the file has at least `lines` lines. */
static char *wait_lines(const char *path, int lines, int fds[2])
{
    double t0 = util_now();
    for (;;) {
        char *text = read_or_empty(path);
        if (count_lines(text) >= lines)
            return text;
        free(text);
        if (util_now() - t0 > 120)
            fail_msg("%s: fewer than %d line(s) after a long wait", path, lines);
        watch_rounds(fds, 1);
    }
}

static void test_command_once_two_watchers(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    const char *path = fresh_store("watch.db");
    const char *log = fresh_db("events.log");
    const char *stop = fresh_db("watch.stop");
    const char *script = test_path(dir, "notify.sh");
    strbuf sb = {0};
    sb_printf(&sb, "#!/bin/sh\ncat >> '%s'\n", log);
    write_file(script, sb.data);
    chmod(script, 0755);
    sb_clear(&sb);
    /* error rate above 50% over at least 20 requests; latency alerts off */
    sb_printf(&sb, "[thresholds]\nerror_rate = 0.5\nlatency_p95_ms = 0\nttft_p95_ms = 0\n"
                   "[alerts]\nwindow = 5m\ncommand = %s\ncommand_timeout_s = 30\n", script);
    const char *cfg = config_file("watch.conf", sb.data);
    sb_free(&sb);
    db *d = open_store(path);
    int64_t m = hand_model(d, 'a', "Alpha");

    int p[2][2];
    pid_t w[2];
    int rd[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pipe(p[i]), 0);
        w[i] = watcher(cfg, path, stop, p[i][1]);
        close(p[i][1]);
        rd[i] = p[i][0];
        fcntl(rd[i], F_SETFL, O_NONBLOCK);
    }
    watch_rounds(rd, 2); /* both watching an empty store */

    /* 20 failures ten seconds ago: 20 of 20 = 100% > 50% at the 20th. */
    double now = db_now();
    requests(path, d, m, 20, DB_OUTCOME_ERROR, -1, now - 10);
    char *text = wait_lines(log, 1, rd);
    free(text);
    watch_rounds(rd, 4); /* both see it firing, several times over */

    /* 25 good ones: 20 of 40 = 50% is no longer above 50% from the 20th on. */
    requests(path, d, m, 25, DB_OUTCOME_OK, 100, now - 5);
    text = wait_lines(log, 2, rd);
    free(text);
    watch_rounds(rd, 4);

    write_file(stop, "");
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(w[i], &status, 0), w[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(rd[i]);
    }

    /* Exactly one start and one end, of the same episode. */
    text = read_or_empty(log);
    if (count_lines(text) != 2)
        fail_msg("the command heard %d event(s), want 2:\n%s", count_lines(text), text);
    char *nl = strchr(text, '\n');
    *nl = 0;
    json_error_t je;
    json_t *start = json_loads(text, 0, &je), *end = json_loads(nl + 1, 0, &je);
    if (!start || !end)
        fail_msg("not JSON: %s", text);
    assert_string_equal(json_string_value(json_object_get(start, "name")), "error_rate");
    assert_string_equal(json_string_value(json_object_get(start, "state")), "firing");
    assert_true(json_is_null(json_object_get(start, "ended_at")));
    assert_true(json_real_value(json_object_get(start, "value")) == 1.0); /* 20 of 20 */
    assert_true(json_real_value(json_object_get(start, "threshold")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(start, "window")), "5m");
    json_t *det = json_object_get(start, "detail");
    assert_int_equal(json_integer_value(json_object_get(det, "requests")), 20);
    assert_int_equal(json_integer_value(json_object_get(det, "errors")), 20);
    assert_string_equal(json_string_value(json_object_get(det, "text")), "error rate 100.0% > 50.0% (20 of 20)");
    assert_string_equal(json_string_value(json_object_get(end, "name")), "error_rate");
    assert_string_equal(json_string_value(json_object_get(end, "state")), "resolved");
    assert_string_equal(json_string_value(json_object_get(end, "started_at")),
                        json_string_value(json_object_get(start, "started_at")));
    assert_true(json_is_string(json_object_get(end, "ended_at")));
    /* the rate when a watcher saw it resolve: 20 of 40 (the 20th good one:
     * 50% is not above 50%) up to 20 of 45 (all inserted) */
    double rate = json_real_value(json_object_get(end, "value"));
    bool seen = false;
    for (int k = 40; k <= 45; k++)
        seen |= fabs(rate - 20.0 / k) < 1e-12;
    if (!seen)
        fail_msg("resolved at an error rate of %g, not 20 of 40..45", rate);
    json_decref(start);
    json_decref(end);
    free(text);

    db_alert_episode *e;
    size_t n;
    OK(d, db_alert_recent(d, 0, &e, &n));
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "error_rate");
    assert_true(e[0].ended_at > e[0].started_at);
    db_alert_episodes_free(e, n);
    db_close(d);
}

/* ---- a command that hangs, one that fails --------------------------------------------- */

static void test_command_timeout(void **state)
{
    (void)state;
    const char *dir = test_tmpdir();
    const char *path = fresh_store("hang.db");
    const char *pidfile = fresh_db("hang.pid");
    const char *script = test_path(dir, "hang.sh");
    strbuf sb = {0};
    /* each call appends its pid, then becomes a sleep of five minutes */
    sb_printf(&sb, "#!/bin/sh\necho $$ >> '%s'\nexec sleep 300\n", pidfile);
    write_file(script, sb.data);
    chmod(script, 0755);
    sb_clear(&sb);
    sb_printf(&sb, "[alerts]\ncommand = %s\ncommand_timeout_s = 1\n", script);
    const char *cfg = config_file("hang.conf", sb.data);
    sb_free(&sb);
    db *d = open_store(path);
    int64_t m = hand_model(d, 'a', "Alpha");
    /* 20 failures of 9000 ms: error rate and p95 latency both fire */
    requests(path, d, m, 20, DB_OUTCOME_ERROR, 9000, db_now() - 10);

    char *out, *err;
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", path), 3);
    assert_int_equal(count_lines(out), 2);
    expect_alert_line(out, 0, "latency_p95", 9000, 0.01, ">", 5000, "p95 latency 9", " ms > 5000 ms");
    expect_alert_line(out, 1, "error_rate", 1, 0, ">", 0.05, "error rate 100.0% > 5.0% (20 of 20)", "");
    /* both commands were tried, each killed and reported */
    if (!strstr(err, "the alert command for latency_p95 (firing) timed out after 1 s (killed)") ||
        !strstr(err, "the alert command for error_rate (firing) timed out after 1 s (killed)"))
        fail_msg("stderr: %s", err);
    free(out);
    free(err);
    char *pids = read_or_empty(pidfile);
    assert_int_equal(count_lines(pids), 2);
    for (char *q = pids; *q;) {
        pid_t pid = (pid_t)strtol(q, &q, 10);
        assert_true(pid > 0);
        /* gone, or killed and not yet reaped: sh may have run the script as
         * its child, which init inherits (state Z, "zombie") */
        if (kill(pid, 0) == 0 || errno != ESRCH) {
            char procf[64];
            snprintf(procf, sizeof procf, "/proc/%d/stat", (int)pid);
            char *st = read_or_empty(procf);
            const char *paren = strrchr(st, ')');
            if (!paren || paren[1] != ' ' || paren[2] != 'Z')
                fail_msg("the command (pid %d) is still running: %s", (int)pid, st);
            free(st);
        }
        while (*q == '\n')
            q++;
    }
    free(pids);
    /* the episodes were recorded all the same */
    db_alert_episode *e;
    size_t n;
    OK(d, db_alert_open_list(d, &e, &n));
    assert_int_equal(n, 2);
    db_alert_episodes_free(e, n);

    /* A command that fails: reported with its status; the check goes on. */
    const char *cfg2 = config_file("fail.conf", "[thresholds]\nerror_rate = 0.5\n"
                                                "[alerts]\ncommand = cat >/dev/null; exit 7\n");
    requests(path, d, m, 40, DB_OUTCOME_OK, 100, db_now() - 5); /* 20 of 60 = 33% <= 50%: resolved */
    int rc = RUN(&out, &err, "stats", "--check", "--config", cfg2, "--db", path);
    assert_int_equal(rc, 3); /* the 20 failures' 9000 ms are the top third: p95 9000 */
    if (!strstr(err, "the alert command for error_rate (resolved) exited with status 7"))
        fail_msg("stderr: %s", err);
    free(out);
    free(err);
    db_close(d);
}

/* ---- the guard --------------------------------------------------------------------------- */

static void test_guard_episode(void **state)
{
    (void)state;
    const char *path = fresh_store("guard.db");
    const char *log = fresh_db("guard.log");
    strbuf sb = {0};
    sb_printf(&sb, "[alerts]\ncommand = cat >> '%s'\n", log);
    const char *cfg = config_file("guard.conf", sb.data);
    sb_free(&sb);
    db *d = open_store(path);
    int64_t a = hand_model(d, 'a', "Alpha"), b = hand_model(d, 'b', "Beta");
    db_deploy_why why = {.who = "ana", .note = "first"};
    OK(d, db_deploy(d, a, &why));
    OK(d, db_canary_start(d, b, 20, &why));
    db_deploy_why gw = {.who = "guard", .note = "worse on errors"};
    OK(d, db_canary_stop(d, true, &gw));
    db_deploy_event *ev;
    size_t nev;
    OK(d, db_deploy_history(d, 1, &ev, &nev));
    assert_string_equal(ev[0].action, "guard-stop");
    double stop_at = ev[0].at;
    db_deploy_events_free(ev, nev);
    char when[40];
    db_format_time(stop_at, when, sizeof when);

    char *out, *err;
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", path), 3);
    char want[300];
    snprintf(want, sizeof want, "guard            1 > 0  guard stopped Beta at %s (worse on errors)\n", when);
    assert_string_equal(out, want);
    free(out);
    free(err);
    db_alert_episode *e;
    size_t n;
    OK(d, db_alert_recent(d, 0, &e, &n));
    assert_int_equal(n, 1);
    assert_string_equal(e[0].name, "guard");
    assert_true(e[0].started_at == stop_at && e[0].ended_at == 0); /* starts at the stop */
    db_alert_episodes_free(e, n);
    char *text = read_or_empty(log);
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        fail_msg("the command got: %s", text);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "firing");
    assert_string_equal(json_string_value(json_object_get(j, "started_at")), when);
    json_decref(j);
    free(text);

    /* The dashboard lists it as firing: the feed checks alerts on its thread
     * and its snapshot carries the episodes. */
    tui t;
    memset(&t, 0, sizeof t);
    config_load(&t.cfg, cfg);
    shell_init(&t.sv);
    t.sv.screen = UI_SCREEN_DASH;
    t.sv.dash.window = "5m";
    t.sv.dash.loading = true;
    t.sv.db_path = path;
    t.df = dashfeed_start(path);
    assert_non_null(t.df);
    dashfeed_alerts(t.df, &t.cfg);
    dashfeed_active(t.df, true);
    double t0 = util_now();
    while (!t.have_snap || !t.snap.n_episodes) {
        tui_dash_update(&t);
        if (util_now() - t0 > 60)
            fail_msg("no dashboard snapshot with episodes");
        usleep(5000);
    }
    ui_frame f = {0};
    frame_init(&f, 120, 40);
    shell_render(&t.sv, &f);
    char *screen = frame_to_text(&f);
    test_expect_row(screen, "Alerts", (const char *const[]){"(1)", NULL});
    int row = test_row_of(screen, "Alerts");
    const char *line = test_row(screen, row + 1);
    if (!strstr(line, "● firing") || !strstr(line, "guard") || !strstr(line, "since ") ||
        !strstr(line, "guard stopped Beta"))
        fail_msg("the row under Alerts: '%s'\n%s", line, screen);
    free(screen);
    frame_free(&f);
    dashfeed_stop(t.df);
    t.df = NULL;
    tui_dash_free(&t);
    shell_free(&t.sv);

    /* Ten minutes later the stop is out of the 5m window: the episode ends
     * (by one check: the feed has stopped), the command hears it once. */
    sql_exec(path, "UPDATE deployment_history SET at = at - 600");
    assert_int_equal(RUN(&out, &err, "stats", "--check", "--config", cfg, "--db", path), 0);
    free(out);
    free(err);
    OK(d, db_alert_recent(d, 0, &e, &n));
    assert_int_equal(n, 1);
    assert_true(e[0].started_at == stop_at && e[0].ended_at > stop_at);
    db_alert_episodes_free(e, n);
    text = read_or_empty(log);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(strchr(text, '\n') + 1, "\"state\":\"resolved\""));
    free(text);
    config_free(&t.cfg);
    db_close(d);
}

int main(void)
{
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return test_skip_suite("test_alerts: the C.UTF-8 locale is not available (make deps provides it)");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide),
        cmocka_unit_test(test_episodes_race),
        cmocka_unit_test(test_check_exit_codes),
        cmocka_unit_test(test_command_once_two_watchers),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_guard_episode),
    };
    /* on PostgreSQL all but test_decide, which touches no store */
    static const char *const no_store[] = {"test_decide", NULL};
    return store_run_suite("alerts", tests, sizeof tests / sizeof *tests, no_store, NULL, NULL);
}
