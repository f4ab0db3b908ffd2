/*
 * test_store_cli.c — the store through the frontdesk binary: recording by
 * `ask`, concurrent writers and readers, a writer killed mid-generation,
 * history/show/rate/stats/export/forget/purge and their errors.
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

static json_t *parse_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, text);
    return j;
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
    json_t *j = parse_json(out);
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
    j = parse_json(out);
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
    j = parse_json(out);
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
    json_t *j = parse_json(out);
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
    json_t *j = parse_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), asks);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 4 * asks);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, NULL, "history", "--json", "--limit", "0", "--db", dbp), 0);
    j = parse_json(out);
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
    json_t *j = parse_json(out);
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
    j = parse_json(out);
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
    j = parse_json(out);
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
        json_t *j = parse_json(line);
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

/* ---- figures and exports of a store built by hand ------------------------------------- */

/* A store built through the storage API, with figures chosen here: what
 * stats and export print is checked against them, not against the code. */
#define DB_OK_OR_FAIL(d, call)                                                                          \
    do {                                                                                                \
        if ((call) != DB_OK)                                                                            \
            fail_msg("%s: %s", #call, db_errmsg(d));                                                    \
    } while (0)

static int64_t hand_model(db *d, char digit, const char *name, const char *file)
{
    char hex[65];
    memset(hex, digit, 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = name, .file_name = file, .arch = "llama", .quant = "Q8_0"};
    int64_t id;
    DB_OK_OR_FAIL(d, db_model_use(d, &m, &id));
    return id;
}

/* A request with known figures started at `at` (moved there with SQL: the
 * API stamps the current time). */
static void hand_request(const char *path, db *d, int64_t model, double at, db_outcome o, double latency,
                         double ttft, double prefill, double decode, int tokens)
{
    int64_t id;
    DB_OK_OR_FAIL(d, db_request_begin(d, model, "local", 0, 0, 0, &id));
    if (o != DB_OUTCOME_RUNNING) {
        db_request_result r = {.outcome = o, .error = o == DB_OUTCOME_OK ? NULL : "it broke",
                               .prompt_tokens = 4, .gen_tokens = tokens, .ttft_ms = ttft,
                               .prefill_ms = -1, .decode_ms = -1, .latency_ms = latency,
                               .prefill_tps = prefill, .decode_tps = decode, .attempts = 1};
        DB_OK_OR_FAIL(d, db_request_finish(d, id, &r));
    }
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.6f WHERE id = %lld", at, (long long)id);
    sql_exec(path, sql);
}

static void expect_real(const char *what, json_t *v, double want)
{
    if (!json_is_number(v) || fabs(json_number_value(v) - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("%s: got %s%g, want %.17g", what, json_is_number(v) ? "" : "(not a number) ",
                 json_number_value(v), want);
}

/* {p50, p90, p95, p99} of a JSON object, or all null when want is NULL. */
static void expect_pcts_json(const char *what, json_t *o, const double *want)
{
    const char *k[4] = {"p50", "p90", "p95", "p99"};
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(o, k[i]);
        if (!want) {
            if (!json_is_null(v))
                fail_msg("%s %s: want null", what, k[i]);
        } else
            expect_real(what, v, want[i]);
    }
}

/* "2026-11-24T16:18:00.000Z" for the minute holding t, without the code under test. */
static void minute_name(double t, char *buf, size_t size)
{
    time_t m = (time_t)(floor(t / 60.0) * 60.0);
    struct tm tm;
    gmtime_r(&m, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* The value of the Prometheus sample `series` (name{labels}) in text. */
static double prom_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    fail_msg("no sample %s in:\n%s", series, text);
    return 0;
}

static void test_stats_figures(void **state)
{
    (void)state;
    const char *dbp = fresh_store("figures.db");
    db *d = open_store(dbp);
    int64_t alpha = hand_model(d, 'a', "Alpha", "alpha.gguf"), beta = hand_model(d, 'b', "Beta", "beta.gguf");
    double now0 = db_now(), at = now0 - 30; /* well inside 5 minutes */
    /* twenty requests half a minute ago, the i-th (1..20): latency 10 i ms, time
     * to first token i ms, decode i tok/s, prefill 100 i tok/s when i is odd (else
     * unknown), i tokens; except the 4th, an error (no tokens, so no time to first
     * token or decode), the 5th, cancelled, and the 7th, from model beta.  And one
     * still running. */
    for (int i = 1; i <= 20; i++) {
        db_outcome o = i == 4 ? DB_OUTCOME_ERROR : i == 5 ? DB_OUTCOME_CANCELLED : DB_OUTCOME_OK;
        hand_request(dbp, d, i == 7 ? beta : alpha, at + 0.001 * i, o, 10.0 * i, i == 4 ? -1 : i,
                     i % 2 ? 100.0 * i : 0, i == 4 ? -1 : i, i == 4 ? 0 : i);
    }
    hand_request(dbp, d, alpha, at, DB_OUTCOME_RUNNING, 0, 0, 0, 0, 0);
    /* older minutes of the hour: two in minute T0, a timeout just before
     * it, an interrupted reply (latency unknown) ten minutes after it */
    double T0 = floor((now0 - 1800) / 60.0) * 60.0;
    hand_request(dbp, d, alpha, T0 + 1, DB_OUTCOME_OK, 1000, 100, 100, 10, 7);
    hand_request(dbp, d, alpha, T0 + 59.5, DB_OUTCOME_OK, 3000, 300, 300, 30, 8);
    hand_request(dbp, d, alpha, T0 - 0.5, DB_OUTCOME_TIMEOUT, 5000, -1, 0, -1, 0);
    hand_request(dbp, d, alpha, T0 + 610, DB_OUTCOME_INTERRUPTED, -1, 9, 0, -1, 3);
    db_close(d);

    /* These figures are exact to the millisecond (nearest-rank percentiles
     * by hand, a window that does not start on a whole minute, rows moved
     * in time by SQL after they were folded): `stats --exact`, the raw-row
     * path.  tests/test_rollup.c checks the rollups against raw rows.
     * By hand, window 5m: 20 finished (the running one apart), 1 error (cancelled
     * is none): 5.0%, 4.00/min.  Nearest rank of n sorted values: ceil(p n / 100).
     *   latency 10..200 (n 20): ranks 10, 18, 19, 20 -> 100/180/190/200
     *   ttft 1..20 without 4 (n 19: 1,2,3,5,6,...): ranks 10, 18, 19, 19 -> 11/19/20/20
     *   prefill: mean of 100 i over odd i = 1000; decode: (210 - 4) / 19; tokens 206 */
    const double decode = 206.0 / 19.0;
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "5m", "--db", dbp), 0);
    json_t *j = parse_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 20);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "cancelled")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "running")), 1);
    expect_real("error_rate", json_object_get(j, "error_rate"), 0.05);
    expect_real("requests_per_min", json_object_get(j, "requests_per_min"), 4.0);
    expect_pcts_json("latency", json_object_get(j, "latency_ms"), (double[]){100, 180, 190, 200});
    expect_pcts_json("ttft", json_object_get(j, "ttft_ms"), (double[]){11, 19, 20, 20});
    expect_real("prefill_tps", json_object_get(j, "prefill_tps"), 1000);
    expect_real("decode_tps", json_object_get(j, "decode_tps"), decode);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 206);
    assert_int_equal(json_array_size(json_object_get(j, "series")), 5);
    json_decref(j);
    free(out);
    free(err);

    /* the same figures as text, line by line */
    assert_int_equal(RUN(&out, &err, "stats", "--exact", "--window", "5m", "--db", dbp), 0);
    assert_string_equal(out, "window 5m: 20 request(s), 1 error(s) (5.0%), 1 cancelled, 1 running\n"
                             "requests/min      4.00\n"
                             "latency ms        p50 100  p90 180  p95 190  p99 200\n"
                             "first token ms    p50 11  p90 19  p95 20  p99 20\n"
                             "prefill tok/s     1000.0\n"
                             "decode tok/s      10.8\n"
                             "tokens generated  206\n");
    free(out);
    free(err);

    /* and for Prometheus: since the store began, per version and outcome (the
     * running one apart), every outcome present; prompt tokens 4 each */
    assert_int_equal(RUN(&out, &err, "stats", "--prometheus", "--db", dbp), 0);
    const char *A = "model=\"Alpha\",sha256=\"aaaaaaaaaaaa\"", *B = "model=\"Beta\",sha256=\"bbbbbbbbbbbb\"";
    const struct {
        const char *who, *outcome;
        double requests, tokens;
    } prom[] = {
        {A, "ok", 19, 209},   {A, "error", 1, 0},     {A, "cancelled", 1, 5}, {A, "timeout", 1, 0},
        {A, "interrupted", 1, 3}, {B, "ok", 1, 7},    {B, "error", 0, 0},     {B, "cancelled", 0, 0},
        {B, "timeout", 0, 0}, {B, "interrupted", 0, 0},
    };
    char sname[300];
    for (size_t i = 0; i < sizeof prom / sizeof *prom; i++) {
        const char *fam[] = {"frontdesk_requests_total", "frontdesk_generated_tokens_total",
                             "frontdesk_prompt_tokens_total"};
        double want[] = {prom[i].requests, prom[i].tokens, 4 * prom[i].requests};
        for (int f = 0; f < 3; f++) {
            snprintf(sname, sizeof sname, "%s{%s,outcome=\"%s\"}", fam[f], prom[i].who, prom[i].outcome);
            if (prom_value(out, sname) != want[f])
                fail_msg("%s = %g, want %g", sname, prom_value(out, sname), want[f]);
        }
    }
    /* alpha's ok latencies (seconds), each bound's cumulative count counted here */
    double lat[19], lat_sum = 0;
    int n_lat = 0;
    for (int i = 1; i <= 20; i++)
        if (i != 4 && i != 5 && i != 7)
            lat[n_lat++] = 10.0 * i / 1e3;
    lat[n_lat++] = 1;
    lat[n_lat++] = 3;
    for (int i = 0; i < n_lat; i++)
        lat_sum += lat[i];
    for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++) {
        char le[32] = "+Inf";
        for (int dg = 1; k < ROLLUP_N_LE_SECONDS && dg <= 17; dg++) /* whole, else the shortest that reads back */
            if (snprintf(le, sizeof le, "%.*g", dg, rollup_le_seconds[k]), strtod(le, NULL) == rollup_le_seconds[k] &&
                !strchr(le, 'e'))
                break;
        int cum = 0;
        for (int i = 0; i < n_lat; i++)
            cum += k == ROLLUP_N_LE_SECONDS || lat[i] <= rollup_le_seconds[k];
        snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_bucket{%s,outcome=\"ok\",le=\"%s\"}", A,
                 le);
        if (prom_value(out, sname) != cum)
            fail_msg("%s = %g, want %d", sname, prom_value(out, sname), cum);
    }
    snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_count{%s,outcome=\"ok\"}", A);
    assert_true(prom_value(out, sname) == 19);
    snprintf(sname, sizeof sname, "frontdesk_request_duration_seconds_sum{%s,outcome=\"ok\"}", A);
    if (fabs(prom_value(out, sname) - lat_sum) > 1e-9 * lat_sum)
        fail_msg("%s = %.17g, want %.17g", sname, prom_value(out, sname), lat_sum);
    free(out);
    free(err);

    /* one model, by display name and by SHA-256 prefix: beta's one request (the 7th) */
    const char *names[] = {"Beta", "bbbbbb"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "5m", "--model", names[i], "--db", dbp), 0);
        j = parse_json(out);
        assert_int_equal(json_integer_value(json_object_get(j, "requests")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "errors")), 0);
        expect_pcts_json("beta latency", json_object_get(j, "latency_ms"), (double[]){70, 70, 70, 70});
        expect_real("beta decode", json_object_get(j, "decode_tps"), 7);
        assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 7);
        json_decref(j);
        free(out);
        free(err);
    }

    /* the hour, minute by minute (minutes found by name: the command's own
     * clock may have moved on a minute) */
    assert_int_equal(RUN(&out, &err, "stats", "--json", "--exact", "--window", "1h", "--db", dbp), 0);
    j = parse_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 24);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "tokens_generated")), 224);
    json_t *series = json_object_get(j, "series");
    assert_int_equal(json_array_size(series), 60);
    struct {
        double t;
        int requests, errors, tokens;
        const double *lat, *ttft;
        double decode;
        bool seen;
    } want[] = {
        {at, 20, 1, 206, (double[]){100, 180, 190, 200}, (double[]){11, 19, 20, 20}, decode, false},
        /* latency {1000, 3000}: ranks 1,2,2,2; decode mean of 10 and 30 */
        {T0, 2, 0, 15, (double[]){1000, 3000, 3000, 3000}, (double[]){100, 300, 300, 300}, 20, false},
        {T0 - 60, 1, 1, 0, (double[]){5000, 5000, 5000, 5000}, NULL, 0, false},
        {T0 + 600, 1, 1, 3, NULL, (double[]){9, 9, 9, 9}, 0, false},
    };
    const size_t n_want = sizeof want / sizeof *want;
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *m = json_array_get(series, i);
        const char *name = json_string_value(json_object_get(m, "minute"));
        size_t k = 0;
        char wn[40];
        for (; k < n_want; k++) {
            minute_name(want[k].t, wn, sizeof wn);
            if (!strcmp(wn, name))
                break;
        }
        if (k == n_want) { /* an empty minute */
            if (json_integer_value(json_object_get(m, "requests")) != 0 ||
                json_integer_value(json_object_get(m, "errors")) != 0 ||
                json_integer_value(json_object_get(m, "tokens")) != 0)
                fail_msg("minute %s should be empty", name);
            expect_pcts_json(name, json_object_get(m, "latency_ms"), NULL);
            expect_pcts_json(name, json_object_get(m, "ttft_ms"), NULL);
            expect_real(name, json_object_get(m, "decode_tps"), 0);
            continue;
        }
        want[k].seen = true;
        if (json_integer_value(json_object_get(m, "requests")) != want[k].requests ||
            json_integer_value(json_object_get(m, "errors")) != want[k].errors ||
            json_integer_value(json_object_get(m, "tokens")) != want[k].tokens)
            fail_msg("minute %s: requests %lld errors %lld tokens %lld, want %d %d %d", name,
                     (long long)json_integer_value(json_object_get(m, "requests")),
                     (long long)json_integer_value(json_object_get(m, "errors")),
                     (long long)json_integer_value(json_object_get(m, "tokens")), want[k].requests,
                     want[k].errors, want[k].tokens);
        expect_pcts_json(name, json_object_get(m, "latency_ms"), want[k].lat);
        expect_pcts_json(name, json_object_get(m, "ttft_ms"), want[k].ttft);
        expect_real(name, json_object_get(m, "decode_tps"), want[k].decode);
    }
    for (size_t k = 0; k < n_want; k++)
        if (!want[k].seen)
            fail_msg("the minute of row group %zu is not in the series", k);
    json_decref(j);
    free(out);
    free(err);
}

/* ---- export, row by row ---- */

/* One CSV record (RFC 4180: every field quoted here) from *p; NULL at the
 * end.  Fields are malloc'ed into f[0..*n). */
static bool csv_record(const char **p, char **f, size_t max, size_t *n)
{
    const char *s = *p;
    if (!*s)
        return false;
    *n = 0;
    for (;;) {
        strbuf sb = {0};
        sb_puts(&sb, "");
        if (*s == '"') {
            for (s++;; s++) {
                if (!*s)
                    fail_msg("unterminated quoted CSV field");
                if (*s == '"' && s[1] == '"')
                    sb_putc(&sb, *s++);
                else if (*s == '"')
                    break;
                else
                    sb_putc(&sb, *s);
            }
            s++;
        } else
            while (*s && *s != ',' && *s != '\r' && *s != '\n')
                sb_putc(&sb, *s++);
        assert_true(*n < max);
        f[(*n)++] = sb.data;
        if (*s == ',') {
            s++;
            continue;
        }
        if (s[0] == '\r' && s[1] == '\n')
            s += 2;
        else
            fail_msg("a CSV record must end with CRLF, not '%.10s'", s);
        break;
    }
    *p = s;
    return true;
}

typedef struct {
    int64_t conv, id;
    const char *roles[6], *texts[6]; /* the thread, the reply last */
    size_t n_thread;
    const char *prompt;               /* the last customer message      */
    int score;                        /* 0: null                        */
    const char *thumbs;               /* NULL: null                     */
    const char *tags;                 /* compact JSON array             */
    int n_ratings;
} export_row;

static void expect_messages(json_t *msgs, const export_row *w)
{
    assert_int_equal(json_array_size(msgs), w->n_thread);
    for (size_t i = 0; i < w->n_thread; i++) {
        json_t *m = json_array_get(msgs, i);
        assert_string_equal(json_string_value(json_object_get(m, "role")), w->roles[i]);
        assert_string_equal(json_string_value(json_object_get(m, "content")), w->texts[i]);
    }
}

static void expect_json_text(const char *what, const char *got, const char *want)
{
    json_t *a = parse_json(got), *b = parse_json(want);
    if (!json_equal(a, b))
        fail_msg("%s: got %s, want %s", what, got, want);
    json_decref(a);
    json_decref(b);
}

static char *dump_compact(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void test_export_rows(void **state)
{
    (void)state;
    const char *dbp = fresh_store("rows.db");
    db *d = open_store(dbp);
    int64_t alpha = hand_model(d, 'c', "Alpha 1", "alpha.gguf");
    char sha[65];
    memset(sha, 'c', 64);
    sha[64] = 0;
    const char *sys = "You sell shoes.\nBe brief.";
    const char *q1 = "Do you have boots, size 42?", *q2 = "And laces?\nBlack ones, \"waxed\".", *q3 = "退款?";
    const char *a1 = "Yes, \"Trail\" boots, size 42, in stock.", *a2 = "Black laces: 3 €, ✓",
               *a3 = "Refunds take 5 days, 😀", *a4 = "no one rated this", *a5 = "opinions differ";
    const char *sampling = "{\"temperature\":0.5,\"top_k\":40}";
    int64_t c1, c2, c3, m, r1, r2, r3, r4, r5;
    DB_OK_OR_FAIL(d, db_conv_create(d, "default", sys, &c1));
    DB_OK_OR_FAIL(d, db_msg_add(d, c1, DB_ROLE_CUSTOMER, q1, &m));
    DB_OK_OR_FAIL(d, db_reply_begin(d, c1, alpha, sampling, 0, &r1));
    DB_OK_OR_FAIL(d, db_reply_end(d, r1, a1, alpha));
    DB_OK_OR_FAIL(d, db_msg_add(d, c1, DB_ROLE_CUSTOMER, q2, &m));
    DB_OK_OR_FAIL(d, db_reply_begin(d, c1, alpha, sampling, 0, &r2));
    DB_OK_OR_FAIL(d, db_reply_end(d, r2, a2, alpha));
    DB_OK_OR_FAIL(d, db_conv_create(d, "default", NULL, &c2)); /* no system prompt */
    DB_OK_OR_FAIL(d, db_msg_add(d, c2, DB_ROLE_CUSTOMER, q3, &m));
    DB_OK_OR_FAIL(d, db_reply_begin(d, c2, alpha, NULL, 0, &r3));
    DB_OK_OR_FAIL(d, db_reply_end(d, r3, a3, alpha));
    DB_OK_OR_FAIL(d, db_msg_add(d, c2, DB_ROLE_CUSTOMER, "and unrated?", &m));
    DB_OK_OR_FAIL(d, db_reply_begin(d, c2, alpha, NULL, 0, &r4));
    DB_OK_OR_FAIL(d, db_reply_end(d, r4, a4, alpha));
    DB_OK_OR_FAIL(d, db_conv_create(d, "default", sys, &c3));
    DB_OK_OR_FAIL(d, db_msg_add(d, c3, DB_ROLE_CUSTOMER, "mixed?", &m));
    DB_OK_OR_FAIL(d, db_reply_begin(d, c3, alpha, sampling, 0, &r5));
    DB_OK_OR_FAIL(d, db_reply_end(d, r5, a5, alpha));
    const unsigned ALL = DB_RATE_THUMBS | DB_RATE_SCORE | DB_RATE_TAGS | DB_RATE_COMMENT;
    DB_OK_OR_FAIL(d, db_rate(d, r1, "ana", &(db_rating_in){.fields = ALL, .thumbs = 1, .score = 5,
                                                           .tags = (const char *[]){"polite", "short"},
                                                           .n_tags = 2, .comment = "good, \"short\""}));
    DB_OK_OR_FAIL(d, db_rate(d, r1, "ben", &(db_rating_in){.fields = DB_RATE_SCORE | DB_RATE_TAGS, .score = 4,
                                                           .tags = (const char *[]){"polite", "accurate"},
                                                           .n_tags = 2}));
    DB_OK_OR_FAIL(d, db_rate(d, r2, "ana", &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE,
                                                           .thumbs = -1, .score = 2}));
    DB_OK_OR_FAIL(d, db_rate(d, r3, "ben", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = 1}));
    DB_OK_OR_FAIL(d, db_rate(d, r5, "ana", &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE,
                                                           .thumbs = 1, .score = 3}));
    DB_OK_OR_FAIL(d, db_rate(d, r5, "ben", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = -1}));
    db_close(d);

    /* What each rated reply's line must say (r4 is unrated: not exported).
     * score: the lowest given; thumbs: up or down when the raters agree,
     * mixed when not; tags: every rater's, once each. */
    const export_row rows[] = {
        {c1, r1, {"system", "user", "assistant"}, {sys, q1, a1}, 3, q1, 4, "up",
         "[\"polite\",\"short\",\"accurate\"]", 2},
        {c1, r2, {"system", "user", "assistant", "user", "assistant"}, {sys, q1, a1, q2, a2}, 5, q2, 2, "down", "[]",
         1},
        {c2, r3, {"user", "assistant"}, {q3, a3}, 2, q3, 0, "up", "[]", 1},
        {c3, r5, {"system", "user", "assistant"}, {sys, "mixed?", a5}, 3, "mixed?", 3, "mixed", "[]", 2},
    };
    const size_t n_rows = sizeof rows / sizeof *rows;

    /* JSONL, written atomically with --out */
    const char *file = test_path(test_tmpdir(), "rows.jsonl");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "export", "--out", file, "--db", dbp), 0);
    char said[1100];
    snprintf(said, sizeof said, "frontdesk: exported 4 replies to %s\n", file);
    assert_string_equal(err, said);
    free(out);
    free(err);
    char *text = test_read_file(file, NULL);
    char *save = NULL;
    size_t i = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
        assert_true(i < n_rows);
        const export_row *w = &rows[i];
        json_t *j = parse_json(line);
        assert_int_equal(json_object_size(j), 2);
        expect_messages(json_object_get(j, "messages"), w);
        json_t *md = json_object_get(j, "metadata");
        assert_int_equal(json_integer_value(json_object_get(md, "conversation_id")), w->conv);
        assert_int_equal(json_integer_value(json_object_get(md, "message_id")), w->id);
        assert_string_equal(json_string_value(json_object_get(md, "model")), "Alpha 1");
        assert_string_equal(json_string_value(json_object_get(md, "model_sha256")), sha);
        assert_string_equal(json_string_value(json_object_get(md, "model_file")), "alpha.gguf");
        assert_string_equal(json_string_value(json_object_get(md, "quantization")), "Q8_0");
        json_t *smp = json_object_get(md, "sampling");
        if (w->id == r3)
            assert_true(json_is_null(smp));
        else {
            char *s = dump_compact(smp);
            expect_json_text("sampling", s, sampling);
            free(s);
        }
        if (w->score)
            assert_int_equal(json_integer_value(json_object_get(md, "score")), w->score);
        else
            assert_true(json_is_null(json_object_get(md, "score")));
        assert_string_equal(json_string_value(json_object_get(md, "thumbs")), w->thumbs);
        char *tags = dump_compact(json_object_get(md, "tags"));
        assert_string_equal(tags, w->tags);
        free(tags);
        json_t *ratings = json_object_get(md, "ratings");
        assert_int_equal(json_array_size(ratings), (size_t)w->n_ratings);
        if (w->id == r1) {
            json_t *ana = json_array_get(ratings, 0), *ben = json_array_get(ratings, 1);
            assert_string_equal(json_string_value(json_object_get(ana, "rater")), "ana");
            assert_string_equal(json_string_value(json_object_get(ana, "thumbs")), "up");
            assert_int_equal(json_integer_value(json_object_get(ana, "score")), 5);
            assert_string_equal(json_string_value(json_object_get(ana, "comment")), "good, \"short\"");
            char *t = dump_compact(json_object_get(ana, "tags"));
            assert_string_equal(t, "[\"polite\",\"short\"]");
            free(t);
            assert_string_equal(json_string_value(json_object_get(ben, "rater")), "ben");
            assert_true(json_is_null(json_object_get(ben, "thumbs")));
            assert_int_equal(json_integer_value(json_object_get(ben, "score")), 4);
            assert_true(json_is_null(json_object_get(ben, "comment")));
        }
        json_decref(j);
    }
    assert_int_equal(i, n_rows);
    free(text);

    /* CSV: a header, then the same replies, one record each */
    assert_int_equal(RUN(&out, &err, "export", "--format", "csv", "--db", dbp), 0);
    const char *p = out;
    char *f[16];
    size_t nf;
    assert_true(csv_record(&p, f, 16, &nf));
    const char *header[] = {"conversation_id", "message_id", "model", "model_sha256", "score", "thumbs",
                            "tags", "sampling", "prompt", "response", "messages"};
    assert_int_equal(nf, 11);
    for (size_t k = 0; k < nf; k++) {
        assert_string_equal(f[k], header[k]);
        free(f[k]);
    }
    for (i = 0; csv_record(&p, f, 16, &nf); i++) {
        assert_true(i < n_rows);
        const export_row *w = &rows[i];
        assert_int_equal(nf, 11);
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)w->conv);
        assert_string_equal(f[0], num);
        snprintf(num, sizeof num, "%lld", (long long)w->id);
        assert_string_equal(f[1], num);
        assert_string_equal(f[2], "Alpha 1");
        assert_string_equal(f[3], sha);
        if (w->score)
            snprintf(num, sizeof num, "%d", w->score);
        else
            num[0] = 0;
        assert_string_equal(f[4], num);
        assert_string_equal(f[5], w->thumbs);
        assert_string_equal(f[6], w->tags);
        if (w->id == r3)
            assert_string_equal(f[7], "");
        else
            expect_json_text("csv sampling", f[7], sampling);
        assert_string_equal(f[8], w->prompt);
        assert_string_equal(f[9], w->texts[w->n_thread - 1]);
        json_t *msgs = parse_json(f[10]);
        expect_messages(msgs, w);
        json_decref(msgs);
        for (size_t k = 0; k < nf; k++)
            free(f[k]);
    }
    assert_int_equal(i, n_rows);
    free(out);
    free(err);

    /* filters: every scorer >= N; some rater gave the thumb and none the other */
    const struct {
        const char *flag, *value;
        int64_t ids[4];
        size_t n;
    } filters[] = {
        {"--min-score", "4", {r1}, 1},
        {"--min-score", "3", {r1, r5}, 2},
        {"--min-score", "2", {r1, r2, r5}, 3},
        {"--thumbs", "up", {r1, r3}, 2},
        {"--thumbs", "down", {r2}, 1},
        {"--since", "2000-01-01", {r1, r2, r3, r5}, 4},
        {"--since", "2999-01-01", {0}, 0},
    };
    for (size_t k = 0; k < sizeof filters / sizeof *filters; k++) {
        assert_int_equal(RUN(&out, &err, "export", filters[k].flag, filters[k].value, "--db", dbp), 0);
        size_t n = 0;
        save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
            json_t *j = parse_json(line);
            int64_t id = json_integer_value(json_object_get(json_object_get(j, "metadata"), "message_id"));
            if (n >= filters[k].n || id != filters[k].ids[n])
                fail_msg("export %s %s: line %zu is reply %lld", filters[k].flag, filters[k].value, n,
                         (long long)id);
            json_decref(j);
        }
        if (n != filters[k].n)
            fail_msg("export %s %s: %zu lines, want %zu", filters[k].flag, filters[k].value, n, filters[k].n);
        free(out);
        free(err);
    }
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
    json_t *j = parse_json(out);
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
        cmocka_unit_test(test_stats_figures),
        cmocka_unit_test(test_export_rows),
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
