/*
 * test_private.c — what frontdesk writes holding customers' words is
 * private by default, and an API key is never written anywhere.
 *
 * Modes, through the real binary with the umask set here before each run
 * (children inherit it): under umask 022 and 000 a store made in a fresh
 * $XDG_DATA_HOME (its directories), the database, its -wal and -shm while
 * `frontdesk serve` holds it, an export, an eval set, a training
 * checkpoint and the model it writes are 0600 and the directories 0700;
 * with `[store] mode = 0660` they are 0660 and 0770 (also under umask 077,
 * which would take the group bits away); files that exist keep their mode
 * (a 0644 database and its -wal/-shm, a 0644 export target); a bad mode is
 * reported with its line and leaves 0600.  last-reply.txt is written by the
 * TUI's copy key: the TUI in tmux (skipped visibly without tmux).
 *
 * The key: marker keys for a remote server ([remote] api_key_env) and for
 * serve ([serve] api_key_env); ask against a scripted server that first
 * answers 401 echoing the key, serve with authorised and unauthorised
 * requests and /metrics, then stats, export, history and show.  The marker
 * is searched for in the database and its -wal/-shm bytes, every file under
 * the run's directory, every command's output and error output, the
 * /metrics body, serve's log and serve's /proc/PID/cmdline.
 *
 * Expected modes are written here as numbers, not taken from the code.
 */
#include "testutil.h"

#include "remote_server.h"
#include "serve_client.h"
#include "store_util.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------------------------------ */

static void expect_mode_at(const char *path, mode_t want, int line)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        fail_msg("line %d: %s: %s", line, path, strerror(errno));
    if ((sb.st_mode & 07777) != want)
        fail_msg("line %d: %s is %04o, expected %04o", line, path, (unsigned)(sb.st_mode & 07777), (unsigned)want);
}
#define EXPECT_MODE(path, want) expect_mode_at(path, want, __LINE__)

/* A new directory of the suite's for one run (0700 whatever the umask). */
static const char *new_dir(const char *name)
{
    const char *p = test_path(test_tmpdir(), name);
    if (mkdir(p, 0700) != 0)
        fail_msg("mkdir %s: %s", p, strerror(errno));
    return p;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0)
        fail_msg("%s: %s", path, strerror(errno));
    assert_int_equal(fchmod(fd, mode), 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* work/cfg/frontdesk/config holding text; XDG_CONFIG_HOME = work/cfg. */
static void use_config(const char *work, const char *text)
{
    const char *cfg = test_path(work, "cfg");
    mkdir(cfg, 0700);
    const char *dir = test_path(cfg, "frontdesk");
    mkdir(dir, 0700);
    write_text(test_path(dir, "config"), text, 0600);
    setenv("XDG_CONFIG_HOME", cfg, 1);
}

static void run_ok(const char *what, int rc, char *out, char *err)
{
    if (rc != 0)
        fail_msg("%s exited %d:\n%s%s", what, rc, out ? out : "", err ? err : "");
    free(out);
    free(err);
}

/* One reply from the built-in model recorded in the default store, then
 * rated 5 so that export has something to write. */
static void ask_and_rate(const char *db)
{
    char *out, *err;
    int rc = RUN(&out, &err, "ask", "-n", "4", "I want to cancel my order");
    run_ok("ask", rc, out, err);
    long long id = sql_int(db, "SELECT id FROM messages WHERE role = 'agent' ORDER BY id DESC LIMIT 1");
    assert_true(id > 0);
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", id);
    rc = RUN(&out, &err, "rate", ids, "5");
    run_ok("rate", rc, out, err);
}

/* The serve a test started, stopped by the teardown when the test fails
 * before it does. */
static served *live;
/* The tmux socket of a TUI test's server, killed likewise. */
static char live_tmux[2048];
static int tmux_run(const char *sock, char **out, const char *const *args);
/* The umask the suite started with, restored after every test. */
static mode_t start_umask;

static int teardown(void **state)
{
    (void)state;
    umask(start_umask);
    unsetenv("FRONTDESK_DB");
    if (live_tmux[0]) {
        tmux_run(live_tmux, NULL, (const char *const[]){"kill-server", NULL});
        live_tmux[0] = 0;
    }
    if (live) {
        kill(live->pid, SIGKILL);
        served_stop(live, NULL);
        live = NULL;
    }
    return 0;
}

/* serve holding db: a completion written, then the -wal and -shm files
 * (which exist only while a connection is open) checked. */
static void serve_and_check_wal(const char *db, mode_t want)
{
    static served s;
    served_start(&s, db, NULL, NULL);
    live = &s;
    http_reply r;
    json_t *j = post_json(&s, "/v1/chat/completions",
                          "{\"messages\": [{\"role\": \"user\", \"content\": \"where is my parcel\"}],"
                          " \"max_tokens\": 4}",
                          &r);
    assert_int_equal(r.status, 200);
    json_decref(j);
    http_reply_free(&r);
    char side[1100];
    snprintf(side, sizeof side, "%s-wal", db);
    EXPECT_MODE(side, want);
    snprintf(side, sizeof side, "%s-shm", db);
    EXPECT_MODE(side, want);
    EXPECT_MODE(db, want);
    live = NULL;
    assert_int_equal(served_stop(&s, NULL), 0);
}

#define TINY "--steps", "1", "--width", "32", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "64", \
             "--ctx", "64", "--tokens", "256", "--threads", "1", "--type", "f32"

/* A two-corpus data directory as eval --make-set reads it. */
static const char *corpora(const char *work)
{
    const char *dir = test_path(work, "corpora");
    mkdir(dir, 0700);
    const char *b = test_path(dir, "bitext-customer-support"), *s = test_path(dir, "star");
    mkdir(b, 0700);
    mkdir(s, 0700);
    write_text(test_path(b, "bitext_support_train.csv"),
               "instruction,response,intent,category\n"
               "\"I want to cancel order 1\",\"I can help you cancel it.\",cancel_order,ORDER\n"
               "\"where is my refund\",\"Refunds take five days.\",get_refund,REFUND\n",
               0600);
    write_text(test_path(s, "star_dialogues_train.jsonl"),
               "{\"dialogue_id\":1,\"turns\":[{\"speaker\":\"customer\",\"text\":\"Book a table\"},"
               "{\"speaker\":\"agent\",\"text\":\"For how many?\"}]}\n",
               0600);
    return dir;
}

/* ---- Modes --------------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    mode_t umask;
    const char *config; /* the config file's text */
    mode_t file, dir;   /* what new files and directories must be */
} scenario;

static void run_scenario(const scenario *sc)
{
    const char *work = new_dir(sc->name);
    use_config(work, sc->config);
    /* a data directory two levels below anything that exists */
    const char *data = test_path(work, "data"), *deep = test_path(data, "deep");
    const char *fdir = test_path(deep, "frontdesk"), *db = test_path(fdir, "frontdesk.db");
    setenv("XDG_DATA_HOME", deep, 1);
    unsetenv("FRONTDESK_DB");
    mode_t old = umask(sc->umask);

    ask_and_rate(db);
    EXPECT_MODE(data, sc->dir);
    EXPECT_MODE(deep, sc->dir);
    EXPECT_MODE(fdir, sc->dir);
    EXPECT_MODE(db, sc->file);

    serve_and_check_wal(db, sc->file);

    /* a database named with --db in a new directory */
    const char *named = test_path(test_path(work, "named"), "x.db");
    char *out, *err;
    int rc = RUN(&out, &err, "history", "--db", named);
    run_ok("history --db", rc, out, err);
    EXPECT_MODE(test_path(work, "named"), sc->dir);
    EXPECT_MODE(named, sc->file);

    const char *exp = test_path(work, "export.jsonl");
    rc = RUN(&out, &err, "export", "--out", exp);
    run_ok("export", rc, out, err);
    EXPECT_MODE(exp, sc->file);
    const char *csv = test_path(work, "export.csv");
    rc = RUN(&out, &err, "export", "--format", "csv", "--out", csv);
    run_ok("export --format csv", rc, out, err);
    EXPECT_MODE(csv, sc->file);

    const char *set = test_path(work, "set.jsonl");
    rc = RUN(&out, &err, "eval", "--make-set", "--data", corpora(work), "--split", "train", "--out", set);
    run_ok("eval --make-set", rc, out, err);
    EXPECT_MODE(set, sc->file);

    const char *model = test_path(work, "tiny.gguf");
    rc = RUN(&out, &err, "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", exp, "--out", model, TINY);
    run_ok("train", rc, out, err);
    EXPECT_MODE(model, sc->file);
    EXPECT_MODE(test_path(work, "tiny.gguf.ckpt"), sc->file);

    umask(old);
}

static void test_private_under_umask_022(void **state)
{
    (void)state;
    run_scenario(&(scenario){"u022", 022, "", 0600, 0700});
}

static void test_private_under_umask_000(void **state)
{
    (void)state;
    run_scenario(&(scenario){"u000", 0, "", 0600, 0700});
}

/* [store] mode: the group gets what it says, whatever the umask takes. */
static void test_store_mode_0660(void **state)
{
    (void)state;
    run_scenario(&(scenario){"g022", 022, "[store]\nmode = 0660\n", 0660, 0770});
    run_scenario(&(scenario){"g077", 077, "[store]\nmode = 0660\n", 0660, 0770});
    run_scenario(&(scenario){"r000", 0, "[store]\nmode = 640\n", 0640, 0750});
}

/* Files that exist keep their mode: a 0644 database (and so its -wal and
 * -shm), a 0644 export target replaced by the export. */
static void test_existing_files_keep_their_mode(void **state)
{
    (void)state;
    const char *work = new_dir("keep");
    use_config(work, "");
    mode_t old = umask(022);
    const char *db = test_path(work, "shared.db");
    write_text(db, "", 0644); /* an empty file is an empty database to SQLite */
    setenv("FRONTDESK_DB", db, 1);
    ask_and_rate(db);
    EXPECT_MODE(db, 0644);
    serve_and_check_wal(db, 0644);
    const char *exp = test_path(work, "export.jsonl");
    write_text(exp, "old\n", 0644);
    char *out, *err;
    int rc = RUN(&out, &err, "export", "--out", exp);
    run_ok("export", rc, out, err);
    EXPECT_MODE(exp, 0644);
    char *text = test_read_file(exp, NULL);
    assert_null(strstr(text, "old\n")); /* replaced, not left */
    assert_non_null(strstr(text, "\"messages\""));
    free(text);
    unsetenv("FRONTDESK_DB");
    umask(old);
}

/* A bad [store] mode is reported like any bad line and leaves 0600. */
static void test_bad_store_mode(void **state)
{
    (void)state;
    static const char *const bad[] = {"0755", "0400", "abc", "01660", "0o660", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "bad%zu", i);
        const char *work = new_dir(name);
        snprintf(text, sizeof text, "[store]\nmode = %s\n", bad[i]);
        use_config(work, text);
        char *out, *err;
        assert_int_equal(RUN(&out, &err, "config"), 1);
        if (!strstr(err, ":2: store.mode"))
            fail_msg("mode '%s': no ':2: store.mode' in:\n%s", bad[i], err);
        assert_non_null(strstr(out, "[store]\nmode = 0600\n"));
        free(out);
        free(err);
        mode_t old = umask(0);
        const char *db = test_path(work, "x.db");
        int rc = RUN(&out, &err, "history", "--db", db);
        umask(old);
        run_ok("history", rc, out, err);
        EXPECT_MODE(db, 0600);
    }
    /* and a good one is shown as set */
    use_config(new_dir("good"), "[store]\nmode = 0660\n");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "config"), 0);
    assert_non_null(strstr(out, "[store]\nmode = 0660\n"));
    free(out);
    free(err);
}

/* ---- A password in a server's URL ------------------------------------------------------------------ */

/* A URL is stored with every request it answers (models.url,
 * requests.backend), so one holding a password is refused wherever a
 * server is named: ask and the TUI (exit 2), deploy (exit 2), the config
 * file (the line skipped with a warning).  Nothing is stored. */
static void test_url_password_refused(void **state)
{
    (void)state;
    const char *work = new_dir("urlpw");
    use_config(work, "");
    const char *db = test_path(work, "x.db");
    const char *url = "http://agent:sk-MARKER-url-9f2c@127.0.0.1:9/v1";
    char *out, *err;
    const char *const cases[][6] = {
        {"ask", "--db", db, "--backend", url, "hello"},
        {"--db", db, "--backend", url, NULL, NULL},
        {"deploy", url, "--db", db, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int rc = fd_run(&out, &err, cases[i]);
        if (rc != 2 || !strstr(err, "holds a password"))
            fail_msg("%s with a password in the URL: exit %d, expected 2 saying it holds a password:\n%s",
                     cases[i][0], rc, err);
        free(out);
        free(err);
    }
    /* a user without a password is not refused by that rule */
    int rc = RUN(&out, &err, "deploy", "http://agent@127.0.0.1:9/v1", "--db", db);
    if (rc != 0)
        fail_msg("deploy with a user and no password exited %d:\n%s", rc, err);
    free(out);
    free(err);
    use_config(work, "[remote]\nbackend = http://agent:sk-MARKER-url-9f2c@127.0.0.1:9/v1\n");
    assert_int_equal(RUN(&out, &err, "config"), 1);
    if (!strstr(err, ":2: remote.backend holds a password"))
        fail_msg("config did not name the line:\n%s", err);
    assert_null(strstr(out, "sk-MARKER-url"));
    free(out);
    free(err);
    size_t len;
    char *bytes = test_read_file(db, &len);
    assert_null(memmem(bytes, len, "sk-MARKER-url", 13));
    free(bytes);
}

/* ---- last-reply.txt, from the TUI in tmux --------------------------------------------------------- */

static char tmux_path[256];

static int tmux_run(const char *sock, char **out, const char *const *args)
{
    const char *argv[24] = {tmux_path, "-S", sock, "-f", "/dev/null"};
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
#define TMUX(sock, out, ...) tmux_run(sock, out, (const char *const[]){__VA_ARGS__, NULL})

/* Poll the pane until it shows text (30 s at most). */
static void tmux_wait(const char *sock, const char *text)
{
    double t0 = util_now();
    for (;;) {
        char *s = NULL;
        if (TMUX(sock, &s, "capture-pane", "-p", "-t", "fd") != 0)
            fail_msg("tmux capture-pane failed");
        bool seen = strstr(s, text) != NULL;
        if (seen || util_now() - t0 > 30) {
            if (!seen)
                fprintf(stderr, "---- screen ----\n%s----\n", s);
            free(s);
            if (!seen)
                fail_msg("timed out waiting for '%s'", text);
            return;
        }
        free(s);
        usleep(20000);
    }
}

static void last_reply_case(const char *name, mode_t um, const char *config, bool existing, mode_t want)
{
    FILE *p = popen("command -v tmux", "r");
    bool found = p && fgets(tmux_path, sizeof tmux_path, p) && tmux_path[0] == '/';
    if (p)
        pclose(p);
    if (!found)
        test_skip("test_last_reply: tmux not installed (make deps installs it)");
    tmux_path[strcspn(tmux_path, "\n")] = 0;
    const char *work = new_dir(name);
    use_config(work, config);
    const char *db = test_path(work, "chat.db"), *saved = test_path(work, "last-reply.txt");
    if (existing)
        write_text(saved, "old", 0644);
    const char *sock = test_path(work, "tmux.sock");
    char *bin = realpath(test_bin(), NULL);
    assert_non_null(bin);
    strbuf cmd = {0};
    sb_printf(&cmd,
              "umask %03o; env XDG_CONFIG_HOME='%s/cfg' TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 '%s' "
              "--db '%s'; sleep 60",
              (unsigned)um, work, bin, db);
    free(bin);
    snprintf(live_tmux, sizeof live_tmux, "%s", sock);
    if (TMUX(sock, NULL, "new-session", "-d", "-s", "fd", "-x", "100", "-y", "30", cmd.data) != 0)
        fail_msg("tmux new-session failed");
    sb_free(&cmd);
    tmux_wait(sock, "F1 Chat");
    TMUX(sock, NULL, "send-keys", "-t", "fd", "-l", "where is my parcel");
    TMUX(sock, NULL, "send-keys", "-t", "fd", "Enter");
    /* the reply is finished when its request is */
    double t0 = util_now();
    while (sql_int(db, "SELECT count(*) FROM requests WHERE finished_at IS NOT NULL") < 1) {
        if (util_now() - t0 > 30)
            fail_msg("no finished reply after 30 s");
        usleep(20000);
    }
    tmux_wait(sock, "idle");
    TMUX(sock, NULL, "send-keys", "-t", "fd", "M-y");
    tmux_wait(sock, "saved to");
    TMUX(sock, NULL, "kill-server");
    live_tmux[0] = 0;
    EXPECT_MODE(saved, want);
    char *text = test_read_file(saved, NULL);
    assert_true(strcmp(text, "old") != 0);
    free(text);
}

static void test_last_reply(void **state)
{
    (void)state;
    last_reply_case("tui022", 022, "[sampling]\nmax_tokens = 4\n", false, 0600);
    last_reply_case("tui000", 0, "[sampling]\nmax_tokens = 4\n[store]\nmode = 0660\n", false, 0660);
    last_reply_case("tuiold", 0, "[sampling]\nmax_tokens = 4\n", true, 0644);
}

/* ---- The API key ------------------------------------------------------------------------------- */

#define REMOTE_KEY "sk-MARKER-remote-5f1c9a7e2b"
#define SERVE_KEY "sk-MARKER-serve-0d4e8b3a6c"
#define MARKER "MARKER"

static strbuf seen; /* every captured output, to search at the end */

static void keep(const char *what, char *out, char *err)
{
    sb_printf(&seen, "==== %s\n%s\n%s\n", what, out ? out : "", err ? err : "");
    free(out);
    free(err);
}

static void expect_no_marker(const char *what, const char *bytes, size_t n)
{
    const char *at = bytes ? memmem(bytes, n, MARKER, strlen(MARKER)) : NULL;
    if (!at)
        return;
    /* the line around it, for the reader */
    const char *from = at, *to = at;
    while (from > bytes && from[-1] != '\n' && at - from < 200)
        from--;
    while (to < bytes + n && *to != '\n' && to - at < 200)
        to++;
    fail_msg("the API key marker is in %s: ...%.*s...", what, (int)(to - from), from);
}

static void expect_file_clean(const char *path)
{
    size_t n;
    char *b = test_read_file(path, &n);
    expect_no_marker(path, b, n);
    free(b);
}

/* Every regular file below dir; returns how many were searched. */
static int expect_tree_clean(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("%s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            n += expect_tree_clean(path);
        else if (S_ISREG(sb.st_mode)) {
            expect_file_clean(path);
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_api_key_never_written(void **state)
{
    (void)state;
    const char *work = new_dir("key");
    rs_step steps[] = {
        {.kind = RS_STATUS, .status = 401,
         .body = "{\"error\":{\"message\":\"Incorrect API key provided: " REMOTE_KEY ". Bearer " REMOTE_KEY
                 "\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}"},
        {.kind = RS_STREAM, .reply = "Your parcel is on its way."},
    };
    char msg[256];
    rs_server *rs = rs_start(steps, 2, msg, sizeof msg);
    if (!rs)
        fail_msg("%s", msg);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "[remote]\nbackend = %s\nmodel = remote-test\napi_key_env = FD_TEST_REMOTE_KEY\n"
             "[serve]\napi_key_env = FD_TEST_SERVE_KEY\n",
             rs_url(rs));
    use_config(work, cfg);
    setenv("FD_TEST_REMOTE_KEY", REMOTE_KEY, 1);
    setenv("FD_TEST_SERVE_KEY", SERVE_KEY, 1);
    const char *db = test_path(work, "key.db");
    setenv("FRONTDESK_DB", db, 1);
    char *out, *err;

    /* ask: the 401 (the key in the server's message), then a reply */
    int rc = RUN(&out, &err, "ask", "--stats", "Where is my parcel?");
    if (rc == 0)
        fail_msg("ask against a 401 succeeded:\n%s", out);
    assert_non_null(strstr(err, "401"));
    keep("ask (401)", out, err);
    rc = RUN(&out, &err, "ask", "--stats", "Where is my parcel?");
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    assert_non_null(strstr(out, "Your parcel is on its way."));
    keep("ask", out, err);
    assert_int_equal(rs_count(rs), 2);
    assert_string_equal(rs_get(rs, 1)->authorization, "Bearer " REMOTE_KEY); /* the key was sent */
    long long reply = sql_int(db, "SELECT id FROM messages WHERE role = 'agent' ORDER BY id DESC LIMIT 1");
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", reply);
    rc = RUN(&out, &err, "rate", ids, "up", "--comment", "fine");
    keep("rate", out, err);
    assert_int_equal(rc, 0);

    /* serve with a key: refused without it and with a wrong one, answered with it */
    static served s;
    served_start(&s, db, NULL, NULL);
    live = &s;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)s.pid);
    size_t n;
    char *cmdline = test_read_file(path, &n);
    assert_true(n > 0);
    expect_no_marker("serve's command line", cmdline, n);
    free(cmdline);
    char url[128];
    const char *body = "{\"messages\": [{\"role\": \"user\", \"content\": \"where is my refund\"}], \"max_tokens\": 4}";
    const char *good[] = {"Content-Type: application/json", "Authorization: Bearer " SERVE_KEY, NULL};
    const char *wrong[] = {"Content-Type: application/json", "Authorization: Bearer sk-MARKER-wrong", NULL};
    const char *none[] = {"Content-Type: application/json", NULL};
    snprintf(url, sizeof url, "%s/v1/chat/completions", s.url);
    http_reply r;
    http_do("POST", url, body, strlen(body), none, 0, &r);
    assert_int_equal(r.status, 401);
    http_reply_free(&r);
    http_do("POST", url, body, strlen(body), wrong, 0, &r);
    assert_int_equal(r.status, 401);
    expect_no_marker("the 401 answer to a wrong key", r.body, r.len);
    http_reply_free(&r);
    http_do("POST", url, body, strlen(body), good, 0, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    snprintf(url, sizeof url, "%s/metrics", s.url);
    http_do("GET", url, NULL, 0, good + 1, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "frontdesk_"));
    expect_no_marker("/metrics", r.body, r.len);
    http_reply_free(&r);
    /* the store's files while serve holds them */
    char side[1100];
    expect_file_clean(db);
    snprintf(side, sizeof side, "%s-wal", db);
    expect_file_clean(side);
    snprintf(side, sizeof side, "%s-shm", db);
    expect_file_clean(side);
    char *log = NULL;
    live = NULL;
    assert_int_equal(served_stop(&s, &log), 0);
    keep("serve", NULL, log);

    /* the reading commands */
    const char *exp = test_path(work, "export.jsonl");
    assert_int_equal(RUN(&out, &err, "stats"), 0);
    keep("stats", out, err);
    assert_int_equal(RUN(&out, &err, "stats", "--json"), 0);
    keep("stats --json", out, err);
    assert_int_equal(RUN(&out, &err, "export", "--out", exp), 0);
    keep("export", out, err);
    assert_int_equal(RUN(&out, &err, "export", "--format", "csv"), 0);
    keep("export csv", out, err);
    assert_int_equal(RUN(&out, &err, "history"), 0);
    keep("history", out, err);
    assert_int_equal(RUN(&out, &err, "history", "--json"), 0);
    keep("history --json", out, err);
    for (int conv = 1; conv <= 3; conv++) {
        char c[16];
        snprintf(c, sizeof c, "%d", conv);
        assert_int_equal(RUN(&out, &err, "show", c, "--json"), 0);
        keep("show --json", out, err);
        assert_int_equal(RUN(&out, &err, "show", c), 0);
        keep("show", out, err);
    }
    assert_int_equal(RUN(&out, &err, "config"), 0);
    keep("config", out, err);

    /* every artefact */
    expect_no_marker("the commands' output", seen.data, seen.len);
    int files = expect_tree_clean(work);
    assert_true(files >= 3); /* the config, the database, the export */
    printf("  key marker: not in %d files nor %zu bytes of the commands' output, /metrics, serve's command line\n",
           files, seen.len);
    sb_free(&seen);
    rs_stop(rs);
    unsetenv("FRONTDESK_DB");
    unsetenv("FD_TEST_REMOTE_KEY");
    unsetenv("FD_TEST_SERVE_KEY");
}

int main(void)
{
    start_umask = umask(022);
    umask(start_umask);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_private_under_umask_022, teardown),
        cmocka_unit_test_teardown(test_private_under_umask_000, teardown),
        cmocka_unit_test_teardown(test_store_mode_0660, teardown),
        cmocka_unit_test_teardown(test_existing_files_keep_their_mode, teardown),
        cmocka_unit_test_teardown(test_bad_store_mode, teardown),
        cmocka_unit_test_teardown(test_url_password_refused, teardown),
        cmocka_unit_test_teardown(test_last_reply, teardown),
        cmocka_unit_test_teardown(test_api_key_never_written, teardown),
    };
    return test_exit(cmocka_run_group_tests_name("private", tests, NULL, NULL));
}
