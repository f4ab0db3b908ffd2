/*
 * test_tui_e2e.c — the real binary in a real terminal (tmux).
 *
 *   - tests/e2e/tui.sh on the reference model stories260K and against an
 *     OpenAI-compatible test server (see the script for what it checks);
 *   - every Chat action driven from here against a scripted server, each
 *     checked on the screen and in the store: send, regenerate, thumbs up,
 *     clear, down, edit, rename, close and reopen, copy (OSC 52 and
 *     last-reply.txt), cancel, a new conversation with a profile, the
 *     list filter; with the config file's [sampling], [remote] model and
 *     api_key_env, [privacy] redact and [profile] taking effect;
 *   - [ui] color = false and NO_COLOR: no colour reaches the terminal;
 *   - tests/e2e/serve_dash.sh: the dashboard shows `frontdesk serve`'s
 *     traffic from another process, live.
 *   - tests/e2e/models.sh: the Models screen (F4) starts a canary, shows
 *     both versions' traffic and the comparison, and rolls back.
 *   - tests/e2e/arena.sh: the Review screen's arena mode judges one pair
 *     blind (no version name before, both after) and records it.
 *   - FRONTDESK_FRAME_LOG: the TUI's frame times, one line a frame and a
 *     summary agreeing with them.
 *
 * Skips visibly (tests/testutil.h) without ../shared (the first) or tmux.
 */
#include "testutil.h"

#include "remote_server.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_tui_end_to_end(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_end_to_end: tmux not installed (make deps installs it)");
    const char *model = test_path(test_path(shared, "ref/models"), "stories260K.gguf");
    const char *argv[] = {"/bin/sh", "tests/e2e/tui.sh", test_bin(), model, test_tmpdir(), NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/tui.sh exited %d: %s", rc, err);
    assert_non_null(strstr(out, "e2e: ok"));
    free(out);
    free(err);
}

/* The Models screen: a canary of a second version started from F4, the
 * traffic split by chatting in F1, the figures back in F4, a rollback
 * (tests/e2e/models.sh). */
static void test_tui_models_screen(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_models_screen: tmux not installed (make deps installs it)");
    const char *model = "models/frontdesk-cs.gguf";
    if (access(model, R_OK) != 0)
        test_skip("test_tui_models_screen: %s not found (make model trains it)", model);
    const char *argv[] = {"/bin/sh", "tests/e2e/models.sh", test_bin(), model, test_tmpdir(), NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/models.sh exited %d: %s", rc, err);
    assert_non_null(strstr(out, "models: ok"));
    free(out);
    free(err);
}

/* Blind side-by-side review in the Review screen (tests/e2e/arena.sh). */
static void test_tui_arena(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_arena: tmux not installed (make deps installs it)");
    if (system("command -v sqlite3 >/dev/null 2>&1") != 0)
        test_skip("test_tui_arena: the sqlite3 command is not installed");
    const char *model = "models/frontdesk-cs.gguf";
    if (access(model, R_OK) != 0)
        test_skip("test_tui_arena: %s not found (make model trains it)", model);
    const char *argv[] = {"/bin/sh", "tests/e2e/arena.sh", test_bin(), model, test_tmpdir(), NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/arena.sh exited %d: %s", rc, err);
    assert_non_null(strstr(out, "arena: ok"));
    free(out);
    free(err);
}

/* The dashboard of a TUI shows what `frontdesk serve`, another process
 * on the same database, answers, live (tests/e2e/serve_dash.sh). */
static void test_tui_serve_dashboard(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_serve_dashboard: tmux not installed (make deps installs it)");
    const char *argv[] = {"/bin/sh", "tests/e2e/serve_dash.sh", test_bin(), test_tmpdir(), NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/serve_dash.sh exited %d: %s", rc, err);
    assert_non_null(strstr(out, "serve-dash: ok"));
    free(out);
    free(err);
}

/* The same run against an OpenAI-compatible server on 127.0.0.1. */
static void test_tui_remote(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_remote: tmux not installed (make deps installs it)");
    rs_step st = {.kind = RS_STREAM, .reply = "I am sorry for the delay. Your {{Order Number}} shipped today.",
                  .usage = true, .prompt_tokens = 30, .completion_tokens = 14};
    char err[256];
    rs_server *s = rs_start(&st, 1, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    setenv("E2E_BACKEND", rs_url(s), 1);
    const char *work = test_path(test_tmpdir(), "remote");
    mkdir(work, 0700);
    const char *argv[] = {"/bin/sh", "tests/e2e/tui.sh", test_bin(), "-", work, NULL};
    char *out, *e;
    int rc = test_run(argv, NULL, 0, &out, &e);
    unsetenv("E2E_BACKEND");
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/tui.sh (remote) exited %d: %s", rc, e);
    assert_non_null(strstr(out, "shipped today"));
    assert_non_null(strstr(out, "e2e: ok"));
    free(out);
    free(e);
    rs_stop(s);
}

/* ---- the TUI in tmux, driven from here ------------------------------------------------- */

/* One tmux server of our own (its own socket) with one session "fd" running
 * frontdesk; killed by the teardown even when a test fails. */
typedef struct {
    char sock[1100]; /* inside the suite's temporary directory: tmux leaves it behind */
    char tmux[256];
    char conf[1024];
} tmx;

static tmx *live;
static rs_server *live_server;

static bool find_tmux(char *out, size_t size)
{
    FILE *p = popen("command -v tmux", "r");
    if (!p)
        return false;
    bool ok = fgets(out, (int)size, p) != NULL;
    pclose(p);
    if (ok)
        out[strcspn(out, "\n")] = 0;
    return ok && *out == '/';
}

static int tm(tmx *x, char **out, const char *const *args)
{
    const char *argv[32] = {x->tmux, "-S", x->sock, "-f", x->conf};
    size_t n = 5;
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    free(e);
    if (out)
        *out = o;
    else
        free(o);
    return rc;
}
#define TM(x, out, ...) tm(x, out, (const char *const[]){__VA_ARGS__, NULL})

static char *cap(tmx *x)
{
    char *o;
    if (TM(x, &o, "capture-pane", "-p", "-t", "fd") != 0)
        fail_msg("tmux capture-pane failed");
    return o;
}

static void keys(tmx *x, const char *k)
{
    if (TM(x, NULL, "send-keys", "-t", "fd", k) != 0)
        fail_msg("tmux send-keys %s failed", k);
}

static void type(tmx *x, const char *text)
{
    if (TM(x, NULL, "send-keys", "-t", "fd", "-l", text) != 0)
        fail_msg("tmux send-keys -l failed");
}

/* Poll the screen (every 20 ms) until it shows text, or fail after a
 * generous timeout, showing the screen. */
static void wait_for(tmx *x, const char *text)
{
    double t0 = util_now();
    for (;;) {
        char *s = cap(x);
        bool seen = strstr(s, text) != NULL;
        if (seen) {
            free(s);
            return;
        }
        if (util_now() - t0 > 30) {
            fprintf(stderr, "---- screen ----\n%s----\n", s);
            free(s);
            fail_msg("timed out waiting for '%s' on the screen", text);
        }
        free(s);
        usleep(20000);
    }
}

static void wait_gone(tmx *x, const char *text)
{
    double t0 = util_now();
    for (;;) {
        char *s = cap(x);
        bool seen = strstr(s, text) != NULL;
        if (!seen) {
            free(s);
            return;
        }
        if (util_now() - t0 > 30) {
            fprintf(stderr, "---- screen ----\n%s----\n", s);
            free(s);
            fail_msg("'%s' did not leave the screen", text);
        }
        free(s);
        usleep(20000);
    }
}

/* Poll until the row starting with prefix does (want) or does not
 * (!want) contain word. */
static void wait_row(tmx *x, const char *prefix, const char *word, bool want)
{
    double t0 = util_now();
    for (;;) {
        char *s = cap(x);
        int r = test_row_of(s, prefix);
        bool has = r >= 0 && strstr(test_row(s, r), word) != NULL;
        if (r >= 0 && has == want) {
            free(s);
            return;
        }
        if (util_now() - t0 > 30) {
            fprintf(stderr, "---- screen ----\n%s----\n", s);
            free(s);
            fail_msg("timed out waiting for the row '%s' %s '%s'", prefix, want ? "to show" : "to lose", word);
        }
        free(s);
        usleep(20000);
    }
}

/* The status line says idle (no reply in progress). */
static void wait_idle(tmx *x)
{
    double t0 = util_now();
    for (;;) {
        char *s = cap(x);
        int rows = 0;
        for (char *p = s; *p; p++)
            rows += *p == '\n';
        const char *last = test_row(s, rows - 1);
        bool idle = strstr(last, " · idle") != NULL;
        if (idle) {
            free(s);
            return;
        }
        if (util_now() - t0 > 30) {
            fprintf(stderr, "---- screen ----\n%s----\n", s);
            free(s);
            fail_msg("the status line never said idle");
        }
        free(s);
        usleep(20000);
    }
}

/* Start frontdesk in tmux (100x30) with `args` (a shell fragment) and the
 * config file text, in directory work; env: extra VAR=value words. */
static void tui_start(tmx *x, const char *work, const char *config, const char *env, const char *args)
{
    memset(x, 0, sizeof *x);
    if (!find_tmux(x->tmux, sizeof x->tmux))
        test_skip("tmux not installed (make deps installs it)");
    snprintf(x->sock, sizeof x->sock, "%s/tmux.sock", work);
    snprintf(x->conf, sizeof x->conf, "%s/tmux.conf", work);
    FILE *f = fopen(x->conf, "w");
    assert_non_null(f);
    fputs("set -g set-clipboard on\n", f); /* OSC 52 from the application lands in a tmux buffer */
    fclose(f);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/cfg/frontdesk", work);
    char mk[1200];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", dir);
    assert_int_equal(system(mk), 0);
    f = fopen(test_path(dir, "config"), "w");
    assert_non_null(f);
    fputs(config, f);
    fclose(f);
    char *bin = realpath(test_bin(), NULL);
    assert_non_null(bin);
    strbuf cmd = {0};
    sb_printf(&cmd,
              "cd '%s' && env XDG_CONFIG_HOME='%s/cfg' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 %s '%s' %s; "
              "echo \"frontdesk exited with $?\"; sleep 60",
              work, work, env ? env : "", bin, args);
    free(bin);
    live = x;
    if (TM(x, NULL, "new-session", "-d", "-s", "fd", "-x", "100", "-y", "30", cmd.data) != 0)
        fail_msg("tmux new-session failed");
    sb_free(&cmd);
    wait_for(x, "F1 Chat");
}

static int teardown_tui(void **state)
{
    (void)state;
    if (live) {
        TM(live, NULL, "kill-server");
        live = NULL;
    }
    rs_stop(live_server);
    live_server = NULL;
    return 0;
}

/* ---- the store, read while the TUI runs -------------------------------------------------- */

static db *store(const char *path)
{
    db *d;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("%s", err);
    return d;
}

/* Every message of conversation conv (inactive ones too), in order. */
static db_msg *all_msgs(const char *path, int64_t conv, size_t *n)
{
    db *d = store(path);
    db_msg *m;
    if (db_msgs_list(d, conv, true, &m, n) != DB_OK)
        fail_msg("%s", db_errmsg(d));
    db_close(d);
    return m;
}

/* rater's thumbs on message id (0 when no rating). */
static int thumbs_of(const char *path, int64_t id, const char *rater)
{
    db *d = store(path);
    db_rating *r;
    size_t n;
    assert_int_equal(db_ratings_get(d, id, &r, &n), DB_OK);
    int t = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(r[i].rater, rater))
            t = r[i].thumbs;
    db_ratings_free(r, n);
    db_close(d);
    return t;
}

static void poll_thumbs(const char *path, int64_t id, const char *rater, int want)
{
    double t0 = util_now();
    while (thumbs_of(path, id, rater) != want) {
        if (util_now() - t0 > 30)
            fail_msg("the store never held thumbs %d on %lld", want, (long long)id);
        usleep(20000);
    }
}

static db_conv conv_of(const char *path, int64_t id)
{
    db *d = store(path);
    db_conv c;
    if (db_conv_get(d, id, &c) != DB_OK)
        fail_msg("%s", db_errmsg(d));
    db_close(d);
    return c;
}

static char *request_outcome(const char *path, int64_t message)
{
    db *d = store(path);
    db_request *r;
    size_t n;
    assert_int_equal(db_requests_for_message(d, message, &r, &n), DB_OK);
    char *o = n ? xstrdup(r[n - 1].outcome) : xstrdup("");
    db_requests_free(r, n);
    db_close(d);
    return o;
}

/* A JSON number field of a request body, as sent. */
static double body_number(const char *body, const char *key)
{
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    json_t *v = json_object_get(j, key);
    if (!json_is_number(v))
        fail_msg("the request sent no number '%s': %s", key, body);
    double d = json_number_value(v);
    json_decref(j);
    return d;
}

static const char *const CHAT_CONFIG =
    "[sampling]\n"
    "temperature = 0.25\n"
    "top_k = 7\n"
    "top_p = 0.8\n"
    "min_p = 0.1\n"
    "repeat_penalty = 1.3\n"
    "max_tokens = 17\n"
    "[privacy]\n"
    "redact = true\n"
    "[ui]\n"
    "rater = e2e\n"
    "[remote]\n"
    "model = test-model-7b\n"
    "api_key_env = E2E_SECRET_KEY\n"
    "[profile billing]\n"
    "system = You handle invoices and refunds.\\nBe exact.\n";

/* Every Chat action, in a real terminal against a scripted server: what
 * the screen shows and what the store holds after each. */
static void test_tui_chat_actions(void **state)
{
    (void)state;
    static const rs_step steps[] = {
        {.kind = RS_STREAM, .reply = "Reply one: parcel {{Order Number}} shipped.", .usage = true,
         .prompt_tokens = 20, .completion_tokens = 9},
        {.kind = RS_STREAM, .reply = "Reply two, regenerated."},
        {.kind = RS_STREAM, .reply = "Reply three, after the edit."},
        /* half the reply, then a stall (keep-alives end it once we hang up) */
        {.kind = RS_STREAM, .reply = "This reply is cut short by the agent.", .delta_chars = 4,
         .stall_mid_ms = 60000, .keepalive_ms = 100},
        {.kind = RS_STREAM, .reply = "Another reply."},
    };
    char err[256];
    rs_server *s = live_server = rs_start(steps, sizeof steps / sizeof *steps, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    const char *work = test_path(test_tmpdir(), "chat");
    mkdir(work, 0700);
    const char *dbp = test_path(work, "chat.db");
    char args[2048];
    snprintf(args, sizeof args, "--backend '%s' --db '%s'", rs_url(s), dbp);
    tmx x;
    tui_start(&x, work, CHAT_CONFIG, "E2E_SECRET_KEY=sk-e2e-123", args);
    wait_for(&x, "Type the customer");

    /* send: the reply streams in; the request carries the [sampling],
     * [remote] model and key settings of the config file */
    type(&x, "Where is my parcel?");
    keys(&x, "Enter");
    wait_for(&x, "Reply one: parcel {{Order Number}} shipped.");
    wait_idle(&x);
    assert_int_equal(rs_count(s), 1);
    const rs_request *rq = rs_get(s, 0);
    assert_string_equal(rq->authorization, "Bearer sk-e2e-123");
    const struct {
        const char *key;
        double want;
    } sent[] = {{"temperature", 0.25}, {"top_k", 7}, {"top_p", 0.8}, {"min_p", 0.1},
                {"repeat_penalty", 1.3}, {"max_tokens", 17}};
    for (size_t i = 0; i < sizeof sent / sizeof *sent; i++)
        if (fabs(body_number(rq->body, sent[i].key) - sent[i].want) > 1e-6)
            fail_msg("sent %s = %g, want %g (the config file's)", sent[i].key, body_number(rq->body, sent[i].key),
                     sent[i].want);
    assert_non_null(strstr(rq->body, "\"test-model-7b\""));
    size_t n;
    db_msg *m = all_msgs(dbp, 1, &n);
    assert_int_equal(n, 3);
    assert_int_equal(m[1].role, DB_ROLE_CUSTOMER);
    assert_string_equal(m[1].text, "Where is my parcel?");
    assert_string_equal(m[2].text, "Reply one: parcel {{Order Number}} shipped.");
    int64_t cust1 = m[1].id, reply1 = m[2].id;
    db_msgs_free(m, n);

    /* r: regenerate; the earlier reply is kept, inactive, the new one's parent */
    keys(&x, "Tab"); /* focus: the transcript */
    keys(&x, "r");
    wait_for(&x, "regenerating (the earlier reply is kept)");
    wait_for(&x, "Reply two, regenerated.");
    wait_idle(&x);
    wait_gone(&x, "Reply one");
    m = all_msgs(dbp, 1, &n);
    assert_int_equal(n, 4);
    assert_int_equal(m[2].id, reply1);
    assert_false(m[2].active);
    assert_string_equal(m[3].text, "Reply two, regenerated.");
    assert_true(m[3].active);
    assert_int_equal(m[3].parent_id, reply1);
    int64_t reply2 = m[3].id;
    db_msgs_free(m, n);

    /* + / -: thumbs on the selected reply (the newest), + again clears */
    keys(&x, "+");
    wait_for(&x, "thumbs up saved");
    wait_for(&x, "👍");
    poll_thumbs(dbp, reply2, "e2e", 1);
    keys(&x, "+");
    wait_for(&x, "thumbs cleared");
    wait_gone(&x, "👍");
    poll_thumbs(dbp, reply2, "e2e", 0);
    keys(&x, "-");
    wait_for(&x, "thumbs down saved");
    wait_for(&x, "👎");
    poll_thumbs(dbp, reply2, "e2e", -1);

    /* e: edit the customer message; the edit replaces it and what followed */
    keys(&x, "e");
    wait_for(&x, "Editing message");
    keys(&x, "C-u");
    type(&x, "Where is my parcel now?");
    keys(&x, "Enter");
    wait_for(&x, "Reply three, after the edit.");
    wait_idle(&x);
    wait_gone(&x, "Reply two");
    wait_gone(&x, "Editing message");
    m = all_msgs(dbp, 1, &n);
    assert_int_equal(n, 6);
    assert_int_equal(m[1].id, cust1);
    assert_false(m[1].active);
    assert_false(m[3].active); /* reply two */
    assert_string_equal(m[4].text, "Where is my parcel now?");
    assert_true(m[4].active);
    assert_int_equal(m[4].parent_id, cust1);
    assert_string_equal(m[5].text, "Reply three, after the edit.");
    assert_true(m[5].active);
    int64_t reply3 = m[5].id;
    db_msgs_free(m, n);

    /* R: rename */
    keys(&x, "M-R");
    wait_for(&x, "Rename the conversation");
    keys(&x, "C-u");
    type(&x, "Parcel 12345");
    keys(&x, "Enter");
    wait_for(&x, "▸Parcel 12345");
    db_conv c = conv_of(dbp, 1);
    assert_string_equal(c.title, "Parcel 12345");
    db_conv_clear(&c);

    /* x: close, and reopen */
    keys(&x, "M-x");
    wait_for(&x, "conversation closed");
    wait_row(&x, "▸Parcel 12345", " closed ", true);
    c = conv_of(dbp, 1);
    assert_string_equal(c.status, "closed");
    db_conv_clear(&c);
    keys(&x, "M-x");
    wait_for(&x, "conversation reopened");
    wait_row(&x, "▸Parcel 12345", " closed ", false);
    c = conv_of(dbp, 1);
    assert_string_equal(c.status, "open");
    db_conv_clear(&c);

    /* y: copy the reply: to the terminal's clipboard (OSC 52, which tmux
     * keeps as a buffer here) and beside the database */
    keys(&x, "M-y");
    wait_for(&x, "reply copied to the clipboard (OSC 52) and saved to");
    char *saved = test_read_file(test_path(work, "last-reply.txt"), NULL);
    assert_string_equal(saved, "Reply three, after the edit.");
    free(saved);
    char *buffer;
    assert_int_equal(TM(&x, &buffer, "show-buffer"), 0);
    assert_string_equal(buffer, "Reply three, after the edit.");
    free(buffer);

    /* Esc while a reply streams: cancelled, its text so far kept */
    type(&x, "Cancel me?");
    keys(&x, "Enter");
    wait_for(&x, "This reply is cut");
    keys(&x, "Escape");
    wait_for(&x, "reply cancelled (kept, marked cancelled)");
    wait_idle(&x);
    m = all_msgs(dbp, 1, &n);
    assert_int_equal(n, 8);
    assert_string_equal(m[6].text, "Cancel me?");
    const char *full = "This reply is cut short by the agent.";
    if (strncmp(m[7].text, full, strlen(m[7].text)) || strlen(m[7].text) < strlen("This reply is cut") ||
        !strcmp(m[7].text, full))
        fail_msg("the cancelled reply holds '%s': want a beginning of '%s'", m[7].text, full);
    char *outcome = request_outcome(dbp, m[7].id);
    assert_string_equal(outcome, "cancelled");
    free(outcome);
    db_msgs_free(m, n);
    assert_int_equal(thumbs_of(dbp, reply3, "e2e"), 0);

    /* n: a new conversation with the billing profile; [privacy] redact
     * masks the address before it is stored or sent */
    keys(&x, "M-n");
    wait_for(&x, "New conversation: choose a profile");
    wait_for(&x, "billing");
    keys(&x, "Down");
    keys(&x, "Enter");
    wait_for(&x, "new conversation (profile billing)");
    type(&x, "Invoice 77: mail me at jo@example.com");
    keys(&x, "Enter");
    wait_for(&x, "redacted 1 e-mail address(es), 0 phone number(s)"); /* the rest clipped at 100 columns */
    wait_for(&x, "Another reply.");
    wait_idle(&x);
    wait_for(&x, "Invoice 77: mail me at [email]");
    wait_for(&x, "You handle invoices and refunds.");
    wait_for(&x, "Conversations 2");
    wait_for(&x, "▸Invoice 77");
    c = conv_of(dbp, 2);
    assert_string_equal(c.profile, "billing");
    db_conv_clear(&c);
    m = all_msgs(dbp, 2, &n);
    assert_int_equal(n, 3);
    assert_string_equal(m[0].text, "You handle invoices and refunds.\nBe exact.");
    assert_string_equal(m[1].text, "Invoice 77: mail me at [email]");
    db_msgs_free(m, n);
    const rs_request *last = rs_get(s, rs_count(s) - 1);
    assert_non_null(strstr(last->body, "[email]"));
    assert_null(strstr(last->body, "jo@example.com"));

    /* / (Ctrl-F): filter the list by text anywhere in a conversation */
    keys(&x, "C-f");
    type(&x, "parcel now");
    wait_for(&x, "Conversations 1");
    wait_for(&x, "Parcel 12345");
    keys(&x, "C-u");
    type(&x, "invoices and");
    wait_for(&x, "Conversations 1");
    wait_gone(&x, "Parcel 12345");
    keys(&x, "C-u");
    type(&x, "nothing like this");
    wait_for(&x, "No matches");
    keys(&x, "Escape");
    wait_for(&x, "Conversations 2");
    wait_for(&x, "Parcel 12345");

    keys(&x, "C-q");
    wait_for(&x, "frontdesk exited with 0");
    /* show marks what regenerate and edit replaced, and the thumb given */
    const char *show[] = {test_bin(), "show", "1", "--db", dbp, NULL};
    char *shown, *serr;
    assert_int_equal(test_run(show, NULL, 0, &shown, &serr), 0);
    const struct {
        int64_t id;
        const char *role;
        bool replaced;
    } marks[] = {{cust1, "customer", true}, {reply1, "agent", true}, {reply2, "agent", true},
                 {reply3, "agent", false}};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
        char head[64];
        snprintf(head, sizeof head, "[%lld] %s", (long long)marks[i].id, marks[i].role);
        int r = test_row_of(shown, head);
        if (r < 0 || (strstr(test_row(shown, r), "(replaced)") != NULL) != marks[i].replaced)
            fail_msg("show: message %lld should%s be marked replaced:\n%s", (long long)marks[i].id,
                     marks[i].replaced ? "" : " not", shown);
    }
    int n_replaced = 0;
    for (const char *p = shown; (p = strstr(p, "(replaced)")); p++)
        n_replaced++;
    assert_int_equal(n_replaced, 3);
    assert_non_null(strstr(shown, "    rated by e2e: thumbs down"));
    free(shown);
    free(serr);
    /* the key went to the server and nowhere else */
    size_t len;
    char *bytes = test_read_file(dbp, &len);
    assert_null(memmem(bytes, len, "sk-e2e-123", 10));
    free(bytes);
}

/* [ui] color = false and NO_COLOR: no colour in what the terminal gets;
 * the default: colours. */
static void test_tui_color(void **state)
{
    (void)state;
    static const rs_step step = {.kind = RS_STREAM, .reply = "ok"};
    char err[256];
    rs_server *s = live_server = rs_start(&step, 1, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    const struct {
        const char *config, *env;
        bool colour;
    } cases[] = {
        {"[ui]\ncolor = true\n", NULL, true},
        {"[ui]\ncolor = false\n", NULL, false},
        {"[ui]\ncolor = true\n", "NO_COLOR=1", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[32];
        snprintf(name, sizeof name, "color%zu", i);
        const char *work = test_path(test_tmpdir(), name);
        mkdir(work, 0700);
        char args[1200];
        snprintf(args, sizeof args, "--backend '%s' --db '%s'", rs_url(s), test_path(work, "c.db"));
        tmx x;
        tui_start(&x, work, cases[i].config, cases[i].env, args);
        wait_for(&x, "Type the customer");
        char *esc;
        assert_int_equal(TM(&x, &esc, "capture-pane", "-e", "-p", "-t", "fd"), 0);
        /* SGR colours: 30-37/40-47, 90-97/100-107, 38;5/48;5 (as tmux reports them) */
        bool coloured = false;
        for (const char *p = esc; (p = strstr(p, "\033[")); p += 2) {
            const char *q = p + 2;
            while (*q && *q != 'm' && (*q == ';' || (*q >= '0' && *q <= '9'))) {
                long v = strtol(q, (char **)&q, 10);
                if ((v >= 30 && v <= 37) || (v >= 40 && v <= 47) || (v >= 90 && v <= 97) || (v >= 100 && v <= 107) ||
                    v == 38 || v == 48)
                    coloured = true;
                if (*q == ';')
                    q++;
            }
        }
        if (coloured != cases[i].colour)
            fail_msg("%s%s: the screen is %s", cases[i].config, cases[i].env ? cases[i].env : "",
                     coloured ? "coloured" : "monochrome");
        free(esc);
        keys(&x, "C-q");
        wait_for(&x, "frontdesk exited with 0");
        TM(&x, NULL, "kill-server");
        live = NULL;
    }
}

/* ---- frame times (FRONTDESK_FRAME_LOG) ---------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the k-th smallest, k = ceil(p * n) (nearest rank), of sorted v[0..n) */
static double nearest_rank(const double *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p * (double)n);
    return v[(k < 1 ? 1 : k) - 1];
}

/* FRONTDESK_FRAME_LOG=path: the TUI appends a line a frame while a reply
 * streams (a mid-reply stall, so some frames are drawn while busy) and a
 * summary at exit, whose count and percentiles agree with the lines (the
 * percentiles recomputed here).  A log that cannot be opened is a notice
 * on the screen, not a failure.  No timing is asserted: each frame's time
 * must only be a positive, finite number. */
static void test_tui_frame_log(void **state)
{
    (void)state;
    static const rs_step step = {.kind = RS_STREAM, .reply = "Your parcel left the depot this morning.",
                                 .stall_mid_ms = 400};
    char err[256];
    rs_server *s = live_server = rs_start(&step, 1, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    const char *work = test_path(test_tmpdir(), "frames");
    mkdir(work, 0700);
    char log[1100], env[1200], args[1200];
    snprintf(log, sizeof log, "%s/frames.log", work);
    snprintf(env, sizeof env, "FRONTDESK_FRAME_LOG='%s'", log);
    snprintf(args, sizeof args, "--backend '%s' --db '%s'", rs_url(s), test_path(work, "f.db"));
    tmx x;
    tui_start(&x, work, "[ui]\nrater = frames\n", env, args);
    wait_for(&x, "Type the customer");
    type(&x, "Where is my parcel?");
    keys(&x, "Enter");
    wait_for(&x, "left the depot this morning.");
    wait_idle(&x);
    keys(&x, "C-q");
    wait_for(&x, "frontdesk exited with 0");
    TM(&x, NULL, "kill-server");
    live = NULL;

    FILE *f = fopen(log, "r");
    if (!f)
        fail_msg("FRONTDESK_FRAME_LOG: %s was not written", log);
    double *ms = NULL;
    size_t n = 0, cap_n = 0, busy = 0;
    bool summary = false;
    size_t s_count = 0;
    double s_p50 = 0, s_p99 = 0, s_max = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        unsigned long long idx;
        double v, cpu;
        char what[16];
        if (summary)
            fail_msg("a line after the summary: %s", line);
        if (sscanf(line, "# frames %zu p50 %lf p99 %lf max %lf", &s_count, &s_p50, &s_p99, &s_max) == 4) {
            summary = true;
            continue;
        }
        if (sscanf(line, "frame %llu %lf %15s %lf", &idx, &v, what, &cpu) != 4)
            fail_msg("not a frame line: %s", line);
        if (idx != n + 1)
            fail_msg("frame %llu follows frame %zu", idx, n);
        if (!(v > 0) || !isfinite(v))
            fail_msg("frame %llu took %g ms", idx, v);
        if (!(cpu >= 0) || !isfinite(cpu))
            fail_msg("frame %llu used %g ms of CPU", idx, cpu);
        if (strcmp(what, "busy") && strcmp(what, "idle"))
            fail_msg("frame %llu is '%s', not busy or idle", idx, what);
        busy += !strcmp(what, "busy");
        if (n == cap_n)
            ms = xrealloc(ms, (cap_n = cap_n ? 2 * cap_n : 64) * sizeof *ms);
        ms[n++] = v;
    }
    fclose(f);
    if (!summary)
        fail_msg("no summary line at exit in %s", log);
    if (n == 0)
        fail_msg("no frame in %s", log);
    if (busy == 0)
        fail_msg("no frame drawn while the reply streamed (%zu frames)", n);
    assert_true(n < 4096); /* all of them still in the TUI's ring */
    assert_int_equal(s_count, n);
    qsort(ms, n, sizeof *ms, cmp_double);
    /* the lines and the summary are printed to 0.001 ms */
    assert_true(fabs(s_p50 - nearest_rank(ms, n, 0.50)) < 0.002);
    assert_true(fabs(s_p99 - nearest_rank(ms, n, 0.99)) < 0.002);
    assert_true(fabs(s_max - ms[n - 1]) < 0.002);
    printf("frame log: %zu frames (%zu while streaming), p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", n, busy, s_p50,
           s_p99, s_max);
    free(ms);

    /* a log in a directory that does not exist: said, and the TUI works */
    snprintf(env, sizeof env, "FRONTDESK_FRAME_LOG='%s/no/such/dir/frames.log'", work);
    tui_start(&x, work, "[ui]\nrater = frames\n", env, args);
    wait_for(&x, "FRONTDESK_FRAME_LOG: cannot open");
    wait_for(&x, "Type the customer");
    keys(&x, "C-q");
    wait_for(&x, "frontdesk exited with 0");
    TM(&x, NULL, "kill-server");
    live = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tui_end_to_end),
        cmocka_unit_test(test_tui_remote),
        cmocka_unit_test(test_tui_serve_dashboard),
        cmocka_unit_test(test_tui_models_screen),
        cmocka_unit_test(test_tui_arena),
        cmocka_unit_test_teardown(test_tui_chat_actions, teardown_tui),
        cmocka_unit_test_teardown(test_tui_color, teardown_tui),
        cmocka_unit_test_teardown(test_tui_frame_log, teardown_tui),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
