/*
 * test_store_cli.c — the store through the frontdesk binary: recording by
 * `ask`, concurrent writers and readers, a writer killed mid-generation,
 * history/show/rate/stats/export/forget/purge and their errors.  What
 * stats and export print of a store built by hand, figure by figure and
 * row by row, is test_store_cli_figures.c's.
 *
 * Every database is a fresh file under test_tmpdir(), or with
 * FRONTDESK_TEST_BACKEND=postgresql a new database on the throwaway
 * PostgreSQL server (tests/store_util.h); the reference model comes from
 * ../shared (suites skip visibly without it).
 */
#include "testutil.h"

#include "store_util.h"

#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "storage/rollup.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *stories(void)
{
    const char *shared = test_shared_dir();
    return shared ? test_path(test_path(shared, "ref/models"), "stories260K.gguf") : NULL;
}

/* Ask one question; returns the reply's message id (from --stats). */
static long ask(const char *dbp, const char *question, long *conv_out, const char *extra)
{
    char *out, *err;
    int rc = extra ? RUN(&out, &err, "ask", "--model", stories(), "--db", dbp, "--temp", "0", "-n", "8",
                         "--ctx", "256", "--stats", extra, question)
                   : RUN(&out, &err, "ask", "--model", stories(), "--db", dbp, "--temp", "0", "-n", "8",
                         "--ctx", "256", "--stats", question);
    if (rc != 0)
        fail_msg("ask exited %d: %s", rc, err);
    const char *c = strstr(err, "conversation="), *m = strstr(err, "message=");
    if (!c || !m)
        fail_msg("--stats printed no conversation=/message=: %s", err);
    if (conv_out)
        *conv_out = strtol(c + 13, NULL, 10);
    long id = strtol(m + 8, NULL, 10);
    free(out);
    free(err);
    return id;
}

/* ---- recording ---------------------------------------------------------------- */

static void test_ask_conversation(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("conv.db");
    long conv, conv2;
    long m1 = ask(dbp, "Where is my parcel?", &conv, NULL);
    char arg[64];
    snprintf(arg, sizeof arg, "--conversation=%ld", conv);
    long m2 = ask(dbp, "It was due on Monday.", &conv2, arg);
    assert_int_equal(conv, conv2);
    assert_true(m2 > m1);

    char *out;
    char ids[32];
    snprintf(ids, sizeof ids, "%ld", conv);
    assert_int_equal(RUN(&out, NULL, "show", ids, "--json", "--db", dbp), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), conv);
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Where is my parcel?");
    json_t *msgs = json_object_get(j, "messages");
    /* system, customer, agent, customer, agent */
    assert_int_equal(json_array_size(msgs), 5);
    const char *roles[] = {"system", "customer", "agent", "customer", "agent"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, i), "role")), roles[i]);
    json_t *reply = json_array_get(msgs, 4);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), m2);
    json_t *req = json_object_get(reply, "request");
    assert_string_equal(json_string_value(json_object_get(req, "outcome")), "ok");
    assert_true(json_integer_value(json_object_get(req, "gen_tokens")) > 0);
    assert_true(json_is_number(json_object_get(req, "ttft_ms")));
    json_t *model = json_object_get(reply, "model");
    assert_int_equal(strlen(json_string_value(json_object_get(model, "sha256"))), 64);
    assert_true(json_real_value(json_object_get(json_object_get(reply, "sampling"), "temperature")) == 0.0);
    assert_true(json_is_array(json_object_get(reply, "ratings")));
    json_decref(j);
    free(out);

    /* history lists it with two messages from the customer's side */
    assert_int_equal(RUN(&out, NULL, "history", "--json", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_array_size(j), 1);
    json_t *h = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(h, "messages")), 4);
    assert_int_equal(json_integer_value(json_object_get(h, "rated")), 0);
    json_decref(j);
    free(out);

    /* --no-db records nothing */
    char *err;
    assert_int_equal(RUN(&out, &err, "ask", "--model", stories(), "--no-db", "-n", "2", "hello"), 0);
    free(out);
    free(err);
    assert_int_equal(RUN(&out, NULL, "history", "--json", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    free(out);

    /* --redact: masked before it is stored, and said so */
    assert_int_equal(RUN(&out, &err, "ask", "--model", stories(), "--db", dbp, "-n", "2", "--redact", "--stats",
                         "Mail jo@example.com or call +1 (555) 123-4567, card 4111 1111 1111 1111"),
                     0);
    assert_non_null(strstr(err, "redacted 1 e-mail address(es), 1 phone number(s), 1 card number(s)"));
    long rconv = strtol(strstr(err, "conversation=") + 13, NULL, 10);
    free(out);
    free(err);
    snprintf(ids, sizeof ids, "%ld", rconv);
    assert_int_equal(RUN(&out, NULL, "show", ids, "--json", "--db", dbp), 0);
    assert_non_null(strstr(out, "Mail [email] or call [phone], card [card]"));
    assert_null(strstr(out, "jo@example.com"));
    assert_null(strstr(out, "4111"));
    free(out);

    /* an unknown conversation is an error, and nothing is added */
    assert_int_equal(RUN(NULL, &err, "ask", "--model", stories(), "--db", dbp, "--conversation", "999", "hi"), 1);
    assert_non_null(strstr(err, "no conversation 999"));
    free(err);
}

/* ---- ratings, errors ---------------------------------------------------------------- */

static void test_rate(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("rate.db");
    long conv;
    long m = ask(dbp, "Can I change my delivery address?", &conv, NULL);
    char ids[32], *out, *err;
    snprintf(ids, sizeof ids, "%ld", m);
    assert_int_equal(RUN(NULL, NULL, "rate", ids, "up", "--rater", "ana", "--db", dbp), 0);
    assert_int_equal(RUN(NULL, NULL, "rate", ids, "4", "--rater", "ana", "--tag", "polite", "--tag", "short",
                         "--comment", "good", "--db", dbp),
                     0);
    assert_int_equal(RUN(NULL, NULL, "rate", ids, "--comment", "fine after all", "--rater", "ana", "--db", dbp),
                     0);
    assert_int_equal(RUN(NULL, NULL, "rate", ids, "down", "--rater", "ben", "--db", dbp), 0);
    char convs[32];
    snprintf(convs, sizeof convs, "%ld", conv);
    assert_int_equal(RUN(&out, NULL, "show", convs, "--json", "--db", dbp), 0);
    json_t *j = test_json(out);
    json_t *msgs = json_object_get(j, "messages");
    json_t *ratings = json_object_get(json_array_get(msgs, json_array_size(msgs) - 1), "ratings");
    assert_int_equal(json_array_size(ratings), 2);
    json_t *ana = json_array_get(ratings, 0);
    assert_string_equal(json_string_value(json_object_get(ana, "rater")), "ana");
    assert_string_equal(json_string_value(json_object_get(ana, "thumbs")), "up");
    assert_int_equal(json_integer_value(json_object_get(ana, "score")), 4);
    assert_int_equal(json_array_size(json_object_get(ana, "tags")), 2);
    assert_string_equal(json_string_value(json_object_get(ana, "comment")), "fine after all");
    json_t *ben = json_array_get(ratings, 1);
    assert_string_equal(json_string_value(json_object_get(ben, "thumbs")), "down");
    assert_true(json_is_null(json_object_get(ben, "score")));
    json_decref(j);
    free(out);

    /* bad input: clear message, non-zero exit, nothing changed */
    assert_int_equal(RUN(NULL, &err, "rate", "99999", "up", "--db", dbp), 1);
    assert_non_null(strstr(err, "no message 99999"));
    free(err);
    assert_int_equal(RUN(NULL, &err, "rate", ids, "6", "--db", dbp), 2);
    assert_non_null(strstr(err, "1 to 5"));
    free(err);
    char cust[32];
    snprintf(cust, sizeof cust, "%ld", m - 1);
    assert_int_equal(RUN(NULL, &err, "rate", cust, "up", "--db", dbp), 1);
    assert_non_null(strstr(err, "only agent replies"));
    free(err);
    assert_int_equal(RUN(NULL, &err, "show", "424242", "--db", dbp), 1);
    assert_non_null(strstr(err, "no conversation 424242"));
    free(err);
}

static void test_bad_databases(void **state)
{
    (void)state;
    char *err;
    /* not a database: refused, and the file is left as it was */
    const char *junk = test_path(test_tmpdir(), "junk.db");
    FILE *f = fopen(junk, "w");
    for (int i = 0; i < 4096; i++)
        fputc("not a database "[i % 15], f);
    fclose(f);
    assert_int_equal(RUN(NULL, &err, "history", "--db", junk), 1);
    assert_non_null(strstr(err, "not a frontdesk database"));
    free(err);
    size_t len;
    char *after = test_read_file(junk, &len);
    assert_int_equal(len, 4096);
    assert_memory_equal(after, "not a database ", 15);
    free(after);

    /* a newer schema */
    const char *newer = fresh_db("newer.db");
    assert_int_equal(RUN(NULL, NULL, "history", "--db", newer), 0);
    sqlite3 *raw; /* forge a file from a future frontdesk */
    assert_int_equal(sqlite3_open(newer, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    assert_int_equal(RUN(NULL, &err, "history", "--db", newer), 1);
    assert_non_null(strstr(err, "newer than this frontdesk"));
    free(err);

    /* a directory that cannot be created */
    assert_int_equal(RUN(NULL, &err, "history", "--db", "/proc/frontdesk/x.db"), 1);
    assert_non_null(strstr(err, "frontdesk:"));
    free(err);

    /* usage errors are exit 2 */
    assert_int_equal(RUN(NULL, &err, "stats", "--window", "2d"), 2);
    free(err);
    assert_int_equal(RUN(NULL, &err, "export", "--min-score", "9"), 2);
    free(err);
}

/* Run the binary in directory dir with up to 8 arguments (env assignments
 * first when argv starts with "env"); returns the exit status. */
static int run_in(const char *dir, char **err, const char *const *args)
{
    char *bin = realpath(test_bin(), NULL);
    assert_non_null(bin);
    const char *argv[24] = {"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir};
    size_t n = 5;
    if (!strcmp(args[0], "env"))
        for (argv[n++] = "/usr/bin/env", args++; strchr(args[0], '=');)
            argv[n++] = *args++;
    argv[n++] = bin;
    for (; *args; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char *out;
    int rc = test_run(argv, NULL, 0, &out, err);
    free(out);
    free(bin);
    return rc;
}

#define RUN_IN(dir, err, ...) run_in(dir, err, (const char *const[]){__VA_ARGS__, NULL})

/* How many entries dir holds (besides . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* A database URL of a scheme frontdesk does not open is a usage error
 * from every command that opens the store, said in one line naming the
 * scheme only (a URL may hold a password), before anything is created:
 * not a directory "sqlite:" with an SQLite file in it.  (PostgreSQL URLs,
 * passwords in them and [store] url: test_store_url.) */
static void test_database_url_refused(void **state)
{
    (void)state;
    const char *dir = test_path(test_tmpdir(), "url-cwd");
    assert_int_equal(mkdir(dir, 0700), 0);
    const char *url = "mysql://ana:s3cret@db.example:3306/frontdesk";
    const char *want = "frontdesk: --db: \"mysql://…\" looks like a database URL; frontdesk opens PostgreSQL URLs "
                       "(postgresql://… or postgres://…) and SQLite file paths\n";
    char *err;
    assert_int_equal(RUN_IN(dir, &err, "history", "--db", url), 2);
    assert_string_equal(err, want);
    free(err);
    /* before the model is loaded (there is none here), in the TUI too */
    assert_int_equal(RUN_IN(dir, &err, "ask", "--model", "/nonexistent.gguf", "--db", url, "hello"), 2);
    assert_string_equal(err, want);
    free(err);
    assert_int_equal(RUN_IN(dir, &err, "--model", "/nonexistent.gguf", "--db", url), 2);
    assert_string_equal(err, want);
    free(err);
    const char *others[][2] = {{"rate", "sqlite:///var/lib/frontdesk.db"}, {"stats", "file:frontdesk.db"},
                               {"export", "mysql+pymysql://h/db"}, {"show", "HTTP://h/db"}};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        const char *cmd = others[i][0], *u = others[i][1];
        int rc = !strcmp(cmd, "rate") ? RUN_IN(dir, &err, cmd, "1", "up", "--db", u)
                 : !strcmp(cmd, "show") ? RUN_IN(dir, &err, cmd, "1", "--db", u)
                                        : RUN_IN(dir, &err, cmd, "--db", u);
        if (strchr(u, '/')) { /* scheme:// */
            if (rc != 2 || !strstr(err, "looks like a database URL"))
                fail_msg("%s --db %s: exit %d, %s", cmd, u, rc, err);
        } else if (rc != 0) /* "file:frontdesk.db" has no "//": a file name */
            fail_msg("%s --db %s: exit %d, %s", cmd, u, rc, err);
        free(err);
    }
    assert_int_equal(count_entries(dir), 1); /* file:frontdesk.db alone */
    assert_int_equal(access(test_path(dir, "file:frontdesk.db"), F_OK), 0);
    /* from the environment */
    assert_int_equal(RUN_IN(dir, &err, "env", "FRONTDESK_DB=sqlite://h/db", "history"), 2);
    assert_string_equal(err, "frontdesk: $FRONTDESK_DB: \"sqlite://…\" looks like a database URL; frontdesk opens "
                             "PostgreSQL URLs (postgresql://… or postgres://…) and SQLite file paths\n");
    free(err);
    /* --db wins over the environment, as for paths */
    assert_int_equal(RUN_IN(dir, &err, "env", "FRONTDESK_DB=sqlite://h/db", "history", "--db", "ok.db"), 0);
    free(err);
    assert_int_equal(count_entries(dir), 2);
}

/* ---- concurrency ---------------------------------------------------------------- */

/* One process asks 200 times (50 on PostgreSQL) while another reads stats in a loop: no
 * "database is locked", and every request is counted. */
static void test_concurrent_writer_and_reader(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("busy.db");
    const char *stop = test_path(test_tmpdir(), "stop-reader");
    unlink(stop);
    /* create the schema first so both start from the same file */
    assert_int_equal(RUN(NULL, NULL, "history", "--db", dbp), 0);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t reader = fork();
    if (reader == 0) {
        close(pipefd[0]);
        int reads = 0, failures = 0;
        while (access(stop, F_OK) != 0) {
            char *out, *err;
            int rc = RUN(&out, &err, "stats", "--json", "--window", "all", "--db", dbp);
            if (rc != 0 || strstr(err, "locked")) {
                failures++;
                fprintf(stderr, "reader: stats exited %d: %s\n", rc, err);
            } else {
                json_t *j = json_loads(out, 0, NULL);
                failures += !j || !json_is_integer(json_object_get(j, "requests"));
                json_decref(j);
            }
            free(out);
            free(err);
            reads++;
        }
        dprintf(pipefd[1], "%d %d\n", reads, failures);
        _exit(0);
    }
    close(pipefd[1]);
    /* 200 asks on SQLite; on PostgreSQL, where each costs more round
     * trips (two minutes for 200 on the busy machine), 50: the reader
     * still runs between most of them */
    const int asks = store_on_pg() ? 50 : 200;
    int failed = 0;
    for (int i = 0; i < asks; i++) {
        char *out, *err;
        int rc = RUN(&out, &err, "ask", "--model", stories(), "--db", dbp, "--raw", "-n", "4", "--ctx", "64",
                     "Once upon a time");
        if (rc != 0 || strstr(err, "locked")) {
            fprintf(stderr, "writer: ask %d exited %d: %s\n", i, rc, err);
            failed++;
        }
        free(out);
        free(err);
    }
    FILE *s = fopen(stop, "w");
    fclose(s);
    int status;
    waitpid(reader, &status, 0);
    char buf[64] = {0};
    assert_true(read(pipefd[0], buf, sizeof buf - 1) > 0);
    close(pipefd[0]);
    int reads = 0, rfail = 0;
    sscanf(buf, "%d %d", &reads, &rfail);
    printf("  %d asks while the reader ran stats %d times\n", asks, reads);
    assert_int_equal(failed, 0);
    assert_int_equal(rfail, 0);
    assert_true(reads > 1);

    char *out;
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--window", "all", "--db", dbp), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), asks);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 4 * asks);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, NULL, "history", "--json", "--limit", "0", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_array_size(j), (size_t)asks);
    json_decref(j);
    free(out);
}

/* kill -9 of a writer in the middle of a reply: the file is sound, earlier
 * conversations are intact, the reply is marked interrupted with the text
 * it had. */
static void test_kill_writer(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("kill.db");
    long conv0;
    long m0 = ask(dbp, "An earlier question", &conv0, NULL);
    bool killed = false;
    pid_t victim = 0;
    for (int attempt = 0; attempt < 5 && !killed; attempt++) {
        pid_t pid = fork();
        victim = pid;
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl(test_bin(), test_bin(), "ask", "--model", stories(), "--db", dbp, "--raw", "-n", "400",
                  "--ctx", "512", "-t", "1", "Once upon a time", (char *)NULL);
            _exit(127);
        }
        db *d;
        char msg[512];
        assert_int_equal(db_open(&d, dbp, msg, sizeof msg), DB_OK);
        /* wait until the reply has text, then kill */
        double t0 = util_now();
        while (util_now() - t0 < 20) {
            db_conv *cs;
            size_t n;
            assert_int_equal(db_conv_list(d, NULL, 1, &cs, &n), DB_OK);
            bool has_text = false;
            if (n && cs[0].id != conv0) {
                db_msg *ms;
                size_t nm;
                assert_int_equal(db_msgs_list(d, cs[0].id, false, &ms, &nm), DB_OK);
                has_text = nm && ms[nm - 1].role == DB_ROLE_AGENT && *ms[nm - 1].text;
                db_msgs_free(ms, nm);
            }
            db_convs_free(cs, n);
            if (has_text) {
                killed = kill(pid, SIGKILL) == 0;
                break;
            }
            usleep(500);
        }
        int status;
        waitpid(pid, &status, 0);
        killed = killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        db_close(d);
        if (!killed)
            fprintf(stderr, "  attempt %d: the reply finished before the kill; again\n", attempt);
    }
    assert_true(killed);

    db *d;
    char msg[512];
    assert_int_equal(db_open(&d, dbp, msg, sizeof msg), DB_OK);
    assert_int_equal(db_recovered(d), 1);
    assert_int_equal(db_check(d), DB_OK);
    /* the earlier conversation is intact */
    db_msg *ms;
    size_t nm;
    assert_int_equal(db_msgs_list(d, conv0, true, &ms, &nm), DB_OK);
    assert_int_equal(nm, 3);
    assert_int_equal(ms[2].id, m0);
    assert_true(*ms[2].text);
    db_msgs_free(ms, nm);
    /* the interrupted reply */
    db_conv *cs;
    size_t n;
    assert_int_equal(db_conv_list(d, NULL, 1, &cs, &n), DB_OK);
    assert_int_equal(db_msgs_list(d, cs[0].id, true, &ms, &nm), DB_OK);
    assert_true(nm >= 2);
    assert_true(*ms[nm - 1].text);
    db_request *rq;
    size_t nr;
    assert_int_equal(db_requests_for_message(d, ms[nm - 1].id, &rq, &nr), DB_OK);
    assert_int_equal(nr, 1);
    assert_string_equal(rq[0].outcome, "interrupted");
    char why[128]; /* what `show` prints as the request's error */
    snprintf(why, sizeof why, "the frontdesk process generating it (pid %ld) ended", (long)victim);
    assert_non_null(rq[0].error);
    assert_string_equal(rq[0].error, why);
    db_requests_free(rq, nr);
    db_msgs_free(ms, nm);
    db_convs_free(cs, n);
    db_stats st;
    assert_int_equal(db_stats_compute(d, DB_WIN_ALL, db_now(), NULL, 0, &st), DB_OK);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.running, 0);
    db_stats_free(&st);
    db_close(d);
    /* a second open finds nothing more to recover */
    assert_int_equal(db_open(&d, dbp, msg, sizeof msg), DB_OK);
    assert_int_equal(db_recovered(d), 0);
    db_close(d);
}

/* ---- stats, export, erasure ------------------------------------------------------------- */

static void test_stats_formats(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("stats.db");
    for (int i = 0; i < 3; i++)
        ask(dbp, "How do I return an item?", NULL, NULL);
    char *out, *err;
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--db", dbp), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 3);
    assert_true(json_real_value(json_object_get(j, "error_rate")) == 0.0);
    json_t *lat = json_object_get(j, "latency_ms");
    assert_true(json_real_value(json_object_get(lat, "p50")) > 0);
    assert_true(json_real_value(json_object_get(lat, "p99")) >= json_real_value(json_object_get(lat, "p50")));
    assert_true(json_real_value(json_object_get(j, "decode_tps")) > 0);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 24);
    json_decref(j);
    free(out);

    /* Prometheus: cumulative since the store began; a window is refused */
    assert_int_equal(RUN(&out, NULL, "stats", "--prometheus", "--db", dbp), 0);
    assert_non_null(strstr(out, "# HELP frontdesk_requests_total "));
    assert_non_null(strstr(out, "# TYPE frontdesk_requests_total counter\n"));
    assert_non_null(strstr(out, ",outcome=\"ok\"} 3\nfrontdesk_requests_total{"));
    assert_non_null(strstr(out, ",outcome=\"ok\"} 24\nfrontdesk_generated_tokens_total{"));
    free(out);
    assert_int_equal(RUN(&out, &err, "stats", "--prometheus", "--window", "5m", "--db", dbp), 2);
    free(out);
    free(err);

    /* by model: the file name matches; an unknown one is an error */
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--model", "stories260K.gguf", "--db", dbp), 0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 3);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, &err, "stats", "--model", "nonesuch", "--db", dbp), 1);
    assert_non_null(strstr(err, "no model matches"));
    free(out);
    free(err);

    /* empty window: percentiles are null */
    const char *empty = fresh_store("empty.db");
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--db", empty), 0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 0);
    assert_true(json_is_null(json_object_get(json_object_get(j, "latency_ms"), "p50")));
    json_decref(j);
    free(out);
}

static void test_export_round_trip(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("export.db");
    long conv;
    long m1 = ask(dbp, "Where is my refund?", &conv, NULL);
    char arg[64];
    snprintf(arg, sizeof arg, "--conversation=%ld", conv);
    long m2 = ask(dbp, "It has been two weeks.", NULL, arg);
    long m3 = ask(dbp, "Do you ship to Norway?", NULL, NULL);
    ask(dbp, "An unrated question", NULL, NULL);
    char s1[32], s2[32], s3[32];
    snprintf(s1, sizeof s1, "%ld", m1);
    snprintf(s2, sizeof s2, "%ld", m2);
    snprintf(s3, sizeof s3, "%ld", m3);
    assert_int_equal(RUN(NULL, NULL, "rate", s1, "2", "--db", dbp), 0);
    assert_int_equal(RUN(NULL, NULL, "rate", s2, "5", "--tag", "great", "--db", dbp), 0);
    assert_int_equal(RUN(NULL, NULL, "rate", s2, "up", "--db", dbp), 0);
    assert_int_equal(RUN(NULL, NULL, "rate", s3, "down", "--db", dbp), 0);

    const char *file = test_path(test_tmpdir(), "export.jsonl");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "export", "--format", "jsonl", "--out", file, "--db", dbp), 0);
    free(out);
    free(err);
    size_t len;
    char *text = test_read_file(file, &len);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = test_json(line);
        json_t *msgs = json_object_get(j, "messages"), *md = json_object_get(j, "metadata");
        assert_true(json_array_size(msgs) >= 3);
        assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")), "system");
        json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
        assert_string_equal(json_string_value(json_object_get(last, "role")), "assistant");
        long id = (long)json_integer_value(json_object_get(md, "message_id"));
        assert_true(id == m1 || id == m2 || id == m3);
        if (id == m2) {
            /* the whole thread: system, user, assistant, user, assistant */
            assert_int_equal(json_array_size(msgs), 5);
            assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                                "Where is my refund?");
            assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 3), "content")),
                                "It has been two weeks.");
            assert_int_equal(json_integer_value(json_object_get(md, "score")), 5);
            assert_string_equal(json_string_value(json_object_get(md, "thumbs")), "up");
            assert_string_equal(json_string_value(json_array_get(json_object_get(md, "tags"), 0)), "great");
        }
        assert_int_equal(strlen(json_string_value(json_object_get(md, "model_sha256"))), 64);
        assert_true(json_is_object(json_object_get(md, "sampling")));
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, 3);
    free(text);

    /* filters */
    assert_int_equal(RUN(&out, NULL, "export", "--min-score", "4", "--db", dbp), 0);
    assert_non_null(strstr(out, "\"message_id\":"));
    int n = 0;
    for (char *p = out; (p = strchr(p, '\n')); p++)
        n++;
    assert_int_equal(n, 1);
    free(out);
    assert_int_equal(RUN(&out, NULL, "export", "--thumbs", "down", "--db", dbp), 0);
    char want[64];
    snprintf(want, sizeof want, "\"message_id\":%ld", m3);
    assert_non_null(strstr(out, want));
    free(out);
    assert_int_equal(RUN(&out, NULL, "export", "--since", "2999-01-01", "--db", dbp), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(RUN(&out, NULL, "export", "--format", "csv", "--db", dbp), 0);
    assert_true(!strncmp(out, "conversation_id,message_id,", 27));
    free(out);
}

static void test_forget_and_purge(void **state)
{
    (void)state;
    if (!stories())
        skip();
    const char *dbp = fresh_store("forget.db");
    long conv;
    long m = ask(dbp, "My card is ZEBRA-SECRET-7731, please help", &conv, NULL);
    char ids[32], convs[32], *out, *err;
    snprintf(ids, sizeof ids, "%ld", m);
    snprintf(convs, sizeof convs, "%ld", conv);
    assert_int_equal(RUN(NULL, NULL, "rate", ids, "3", "--comment", "COMMENT-SECRET-99", "--db", dbp), 0);
    ask(dbp, "Another conversation", NULL, NULL);
    const char *files[] = {dbp, test_path(test_tmpdir(), "forget.db-wal")};
    /* the secret is on disk before (else the check below proves nothing);
     * on PostgreSQL, whose files are the server's, in the tables */
    const char *in_tables = "SELECT (SELECT count(*) FROM messages WHERE text LIKE '%ZEBRA-SECRET%')"
                            " + (SELECT count(*) FROM ratings WHERE comment LIKE '%COMMENT-SECRET%')";
    bool present = store_on_pg() && sql_num(dbp, in_tables) == 2;
    for (int i = 0; i < 2 && !store_on_pg(); i++) {
        if (access(files[i], F_OK) != 0)
            continue;
        size_t len;
        char *bytes = test_read_file(files[i], &len);
        present |= memmem(bytes, len, "ZEBRA-SECRET", 12) != NULL;
        free(bytes);
    }
    assert_true(present);
    assert_int_equal(RUN(&out, &err, "forget", "--conversation", convs, "--db", dbp), 0);
    free(out);
    free(err);
    assert_int_equal(RUN(NULL, &err, "show", convs, "--db", dbp), 1);
    free(err);
    assert_int_equal(RUN(&out, NULL, "history", "--search", "ZEBRA", "--json", "--db", dbp), 0);
    assert_string_equal(out, "[]\n");
    free(out);
    /* gone from the bytes on disk, not only from queries (on PostgreSQL,
     * from the tables: test_store_review reads them there too) */
    if (store_on_pg())
        assert_true(sql_num(dbp, in_tables) == 0);
    for (int i = 0; i < 2 && !store_on_pg(); i++) {
        if (access(files[i], F_OK) != 0)
            continue;
        size_t len;
        char *bytes = test_read_file(files[i], &len);
        assert_null(memmem(bytes, len, "ZEBRA-SECRET", 12));
        assert_null(memmem(bytes, len, "COMMENT-SECRET", 14));
        free(bytes);
    }
    /* the request figures stay */
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--window", "all", "--db", dbp), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 2);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(NULL, &err, "forget", "--conversation", convs, "--db", dbp), 1);
    free(err);

    /* purge: nothing is older than a day; everything is older than -1 days */
    assert_int_equal(RUN(&out, NULL, "purge", "--older-than", "1", "--db", dbp), 0);
    assert_non_null(strstr(out, "0 conversation"));
    free(out);
    assert_int_equal(RUN(&out, NULL, "purge", "--older-than", "0", "--db", dbp), 0);
    assert_non_null(strstr(out, "1 conversation"));
    free(out);
}

/* A full disk: a clear message, a non-zero exit, nothing stored lost.  The
 * disk is a 1 MiB tmpfs mounted on a directory of this suite's own
 * temporary directory, in a private mount namespace (needs root and
 * unshare: skipped, saying so, when there is no way to mount it).  Once
 * the tmpfs is mounted, anything unexpected is a failure, not a skip. */
static void test_full_disk(void **state)
{
    (void)state;
    if (!stories())
        skip();
    if (getuid() != 0 || access("/usr/bin/unshare", X_OK) != 0)
        test_skip("test_full_disk: needs root and unshare to mount a small tmpfs");
    strbuf big = {0};
    for (int i = 0; i < 8000; i++) /* one argument is at most 128 KiB */
        sb_puts(&big, "lorem ipsum ");
    const char *work = test_path(test_tmpdir(), "full-disk");
    assert_int_equal(mkdir(work, 0700), 0);
    const char *script =
        "set -u\n"
        "d=\"$W/fs\"\n"
        "mkdir \"$d\" || exit 3\n"
        "mount -t tmpfs -o size=1m tmpfs \"$d\" || { echo NOMOUNT; exit 0; }\n"
        "echo MOUNTED\n"
        "$FD ask --model \"$MODEL\" --db \"$d/f.db\" -n 4 --stats 'first question' >/dev/null 2>\"$W/err1\" "
        "  || { echo ASK1FAIL; cat \"$W/err1\"; }\n"
        "dd if=/dev/zero of=\"$d/filler\" bs=4k 2>/dev/null\n"
        "$FD ask --model \"$MODEL\" --db \"$d/f.db\" -n 4 \"$BIG\"; echo \"ask=$?\"\n"
        "$FD rate 3 5 --comment \"$BIG\" --db \"$d/f.db\"; echo \"rate=$?\"\n"
        "rm -f \"$d/filler\"\n"
        "$FD show 1 --json --db \"$d/f.db\"; echo \"show=$?\"\n"
        "$FD rate 3 5 --db \"$d/f.db\"; echo \"rate2=$?\"\n"
        "umount \"$d\" && rmdir \"$d\" || echo UMOUNTFAIL\n";
    setenv("FD", test_bin(), 1);
    setenv("MODEL", stories(), 1);
    setenv("BIG", big.data, 1);
    setenv("W", work, 1);
    const char *argv[] = {"/usr/bin/unshare", "-m", "/bin/sh", "-c", script, NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    unsetenv("BIG");
    sb_free(&big);
    if (!strstr(out, "MOUNTED")) {
        /* unshare or mount refused (a container without CAP_SYS_ADMIN) */
        test_skip_note("test_full_disk: cannot mount a tmpfs here (exit %d: %s%s)", rc, out, err);
        free(out);
        free(err);
        skip();
    }
    if (rc != 0)
        fail_msg("the full-disk script exited %d after mounting:\n%s\n%s", rc, out, err);
    assert_null(strstr(out, "ASK1FAIL"));
    assert_non_null(strstr(out, "ask=1"));
    assert_non_null(strstr(out, "rate=1"));
    assert_non_null(strstr(err, "is full"));
    assert_non_null(strstr(out, "show=0"));
    assert_non_null(strstr(out, "rate2=0"));
    assert_non_null(strstr(out, "\"first question\""));
    assert_null(strstr(out, "UMOUNTFAIL"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ask_conversation),
        cmocka_unit_test(test_rate),
        cmocka_unit_test(test_bad_databases),
        cmocka_unit_test(test_database_url_refused),
        cmocka_unit_test(test_stats_formats),
        cmocka_unit_test(test_export_round_trip),
        cmocka_unit_test(test_forget_and_purge),
        cmocka_unit_test(test_kill_writer),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_concurrent_writer_and_reader),
    };
    /* On PostgreSQL all but the tests of files (a foreign or newer file, a
     * directory that cannot be made; a full disk), and the refusal of URLs
     * the binary does not take, which opens no store. */
    static const char *const sqlite_only[] = {"test_bad_databases", "test_database_url_refused", "test_full_disk",
                                              NULL};
    return store_run_suite("store_cli", tests, sizeof tests / sizeof *tests, sqlite_only, NULL, NULL);
}
