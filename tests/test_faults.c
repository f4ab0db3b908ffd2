/*
 * test_faults.c — injected I/O and allocation faults (tests/faultvfs.h)
 * at every step of the store's operations, run in-process through the
 * same cmd_* code the binary runs.
 *
 * For each scenario — recording a streamed reply (ask against a streaming
 * server on 127.0.0.1), rating, export, forget, purge, migration from the
 * oldest schema — a fault-free run first counts its I/Os; then for N = 1,
 * 2, ... through every one of them, on a fresh copy of the fixture store:
 *   - the N-th I/O of any kind fails with SQLITE_IOERR_<its kind>;
 *   - the N-th write fails with SQLITE_FULL;
 *   - (rating, export, ask) SQLite's N-th allocation fails.
 * After each run, with the faults off and through sqlite3 itself (the unix
 * VFS, not the code under test):
 *   - the command returned 0 or 1, and a failure printed exactly one line
 *     "frontdesk: ..." naming the database (a success prints at most the
 *     lines it always prints);
 *   - PRAGMA integrity_check is "ok", and so is the search index's own;
 *   - every row committed before the run that the operation does not touch
 *     reads as before (`keep`), and what it does touch reads either as
 *     before or as after the fault-free run, never in between (`state`) —
 *     after it when the command said it succeeded;
 *   - no lock is held, no descriptor leaked, no temporary file left, and
 *     the store opens again (a failed migration resumes).
 * Leaks are ASan's to find at exit.  Problems are collected and the first
 * few printed, so one run shows the shape of a failure; each scenario
 * prints its faults injected and survived.
 *
 * SQLite only, by nature: the faults come through a SQLite VFS and the
 * checks read the file.  PostgreSQL's failures (a server gone, restarted)
 * are test_storage's (test_reconnect, test_busy).
 */
#include "fault_util.h"
#include "faultvfs.h"
#include "remote_server.h"
#include "store_util.h"
#include "testutil.h"

#include "app/cli.h"
#include "storage/chats.h"
#include "storage/export.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- Fixtures ------------------------------------------------------------------------ */

enum { N_CONVS = 6 };

/* Allocation faults while the store opens (the same in every scenario):
 * 1 in OPEN_STRIDE, unless a scenario says otherwise. */
enum { OPEN_STRIDE = 40 };

/* What the fixture holds, for the scenarios' arguments and queries. */
static struct {
    int64_t conv[N_CONVS], reply[N_CONVS];
    int64_t max_msg, max_conv;
} fx;

/* A model row with the columns schema 1 has, by SQL on the file. */
static int64_t insert_model(const char *path)
{
    sql_exec(path, "INSERT INTO models (key, sha256, backend, name, file_name, arch, quant, first_used, last_used)"
                   " VALUES ('aaaa', 'aaaa', 'local', 'fixture.gguf', 'fixture.gguf', 'llama', 'Q8_0', 1, 1)");
    return fu_scalar_at(path, "SELECT max(id) FROM models");
}

/* N_CONVS conversations at schema `version`: a question and a reply each
 * (some 300 characters, so the file spans pages); from schema 2 on, the
 * reply's request and, for every other one, a rating with tags; every third
 * conversation last touched 90 days ago. */
static void make_store(const char *path, int version)
{
    fu_remove_store(path);
    db *d;
    char err[512];
    if (db_open_at(&d, path, version, err, sizeof err) != DB_OK)
        fail_msg("fixture %s: %s", path, err);
    int64_t model = insert_model(path);
    for (int i = 0; i < N_CONVS; i++) {
        char q[400], a[400];
        snprintf(q, sizeof q, "Question %d: my parcel ORDER-%04d has not arrived; %0200d", i, i * 7, i);
        snprintf(a, sizeof a, "Answer %d: sorry about ORDER-%04d, it ships today. MARK%02dMARK %0200d", i, i * 7, i, i);
        int64_t cust;
        OK(d, db_conv_create(d, "support", "You are kind.", &fx.conv[i]));
        OK(d, db_msg_add(d, fx.conv[i], DB_ROLE_CUSTOMER, q, &cust));
        OK(d, db_reply_begin(d, fx.conv[i], model, "{\"temperature\":0}", 0, &fx.reply[i]));
        if (version < 2) {
            OK(d, db_reply_progress(d, fx.reply[i], a));
            continue;
        }
        OK(d, db_reply_end(d, fx.reply[i], a, model));
        int64_t req;
        OK(d, db_request_begin(d, model, "local", fx.conv[i], fx.reply[i], 1.0, &req));
        db_request_result res = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 30, .gen_tokens = 20 + i,
                                 .ttft_ms = 5, .prefill_ms = 4, .decode_ms = 50, .latency_ms = 60 + i,
                                 .prefill_tps = 100, .decode_tps = 40, .attempts = 1};
        OK(d, db_request_finish(d, req, &res));
        if (i % 2 == 0) {
            const char *tags[] = {"fixture", i % 4 ? "late" : "polite"};
            db_rating_in r = {.fields = DB_RATE_SCORE | DB_RATE_THUMBS | DB_RATE_TAGS | DB_RATE_COMMENT,
                              .score = 1 + i % 5, .thumbs = i % 4 ? -1 : 1, .tags = tags, .n_tags = 2,
                              .comment = "from the fixture"};
            OK(d, db_rate(d, fx.reply[i], "alice", &r));
        }
    }
    db_close(d);
    sql_exec(path, "UPDATE conversations SET updated_at = updated_at - 90 * 86400 WHERE id % 3 = 0");
    fx.max_msg = fu_scalar_at(path, "SELECT max(id) FROM messages");
    fx.max_conv = fu_scalar_at(path, "SELECT max(id) FROM conversations");
}

/* ---- Scenarios --------------------------------------------------------------------- */

typedef struct scenario scenario;
struct scenario {
    const char *name;
    int version;                              /* the fixture's schema */
    int (*run)(const char *path, char **err); /* the operation, through cmd_*; its stderr */
    char *(*keep)(void);                      /* SQL: rows it must leave alone */
    char *(*state)(void);                     /* SQL: what it changes (before or after), or NULL */
    /* more checks, before anything else opens the file: a problem (the
     * caller frees) or NULL */
    char *(*check)(sqlite3 *raw, const char *path, int rc);
    int ok_lines;       /* at most this many stderr lines on success */
    bool malloc_faults; /* also fail SQLite's allocations */
    int mem_stride;     /* ... only every mem_stride-th of them (0: all) */
    int open_stride;    /* ... and of those while opening (0: OPEN_STRIDE) */
};

/* The fault-free run's results. */
static char *after_state, *baseline_export;
static rs_server *server;
static char *schema_of[DB_SCHEMA_VERSION + 1];

static const char SCHEMA_SQL[] = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name";
static const char QUESTION[] = "Where is my parcel ORDER-0042?";
static const char REPLY[] = "It left the depot this morning and arrives tomorrow before noon. Sorry for the wait!";

static const char *export_path(void)
{
    static const char *p;
    return p ? p : (p = test_path(test_tmpdir(), "export.jsonl"));
}

/* Every row of the fixture's tables that matter, those of conversation
 * `skip` (0: none) left out. */
static char *rows_sql(int64_t skip, int64_t max_conv, int64_t max_msg)
{
    return fu_printf("SELECT id, title, profile, system_prompt FROM conversations WHERE id != %lld AND id <= %lld ORDER BY id;"
                   "SELECT id, conversation_id, role, text, prev_id, model_id FROM messages"
                   "  WHERE conversation_id != %lld AND id <= %lld ORDER BY id;"
                   "SELECT message_id, rater, thumbs, score, comment FROM ratings WHERE rater != 'faulty'"
                   "  AND message_id IN (SELECT id FROM messages WHERE conversation_id != %lld) ORDER BY 1, 2;"
                   "SELECT message_id, rater, tag FROM rating_tags WHERE rater != 'faulty'"
                   "  AND message_id IN (SELECT id FROM messages WHERE conversation_id != %lld) ORDER BY 1, 2, 3;"
                   "SELECT id, model_id, outcome, gen_tokens, latency_ms FROM requests WHERE id <= %lld ORDER BY id",
                   (long long)skip, (long long)max_conv, (long long)skip, (long long)max_msg, (long long)skip,
                   (long long)skip, (long long)N_CONVS);
}

static char *keep_all(void)
{
    return rows_sql(0, fx.max_conv, fx.max_msg);
}

/* rating: a score, two tags and a comment on an unrated reply */
static int run_rate(const char *path, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)fx.reply[3]);
    return FU_CMD(cmd_rate, err, "rate", id, "4", "--tag", "fault", "--tag", "kept", "--comment", "whole or nothing",
               "--rater", "faulty", "--db", path);
}

static char *state_rate(void)
{
    return fu_printf("SELECT message_id, thumbs, score, comment FROM ratings WHERE rater = 'faulty';"
                   "SELECT message_id, tag FROM rating_tags WHERE rater = 'faulty' ORDER BY tag");
}

/* export: every rated reply, to a file */
static int run_export(const char *path, char **err)
{
    unlink(export_path());
    return FU_CMD(cmd_export, err, "export", "--db", path, "--out", export_path());
}

static char *check_export(sqlite3 *raw, const char *path, int rc)
{
    (void)raw, (void)path;
    struct stat sb;
    bool exists = stat(export_path(), &sb) == 0;
    DIR *dir = opendir(test_tmpdir());
    char *left = NULL;
    for (struct dirent *e; dir && (e = readdir(dir));)
        if (!strncmp(e->d_name, "export.jsonl.tmp", 16) && !left)
            left = fu_printf("a temporary export file is left: %s", e->d_name);
    if (dir)
        closedir(dir);
    if (left)
        return left;
    if (rc != 0)
        return exists ? fu_printf("the export failed but %s exists", export_path()) : NULL;
    if (!baseline_export)
        return NULL; /* the counting run */
    char *got = exists ? test_read_file(export_path(), NULL) : NULL;
    char *problem = NULL;
    if (!got)
        problem = fu_printf("the export succeeded but wrote no file");
    else if (strcmp(got, baseline_export)) {
        size_t at = 0;
        while (got[at] == baseline_export[at])
            at++;
        size_t from = at > 60 ? at - 60 : 0;
        problem = fu_printf("the export succeeded with other content (%zu bytes, not %zu); at byte %zu:\n"
                          "  got  ...%.120s\n  want ...%.120s",
                          strlen(got), strlen(baseline_export), at, got + from, baseline_export + from);
    }
    free(got);
    return problem;
}

/* forget: one conversation with a rated reply */
static int run_forget(const char *path, char **err)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)fx.conv[4]);
    return FU_CMD(cmd_forget, err, "forget", "--conversation", id, "--db", path);
}

static char *keep_forget(void)
{
    return rows_sql(fx.conv[4], fx.max_conv, fx.max_msg);
}

static char *state_forget(void)
{
    return fu_printf("SELECT id, title FROM conversations WHERE id = %lld;"
                   "SELECT id, role, text FROM messages WHERE conversation_id = %lld ORDER BY id;"
                   "SELECT rater, score FROM ratings WHERE message_id = %lld;"
                   "SELECT tag FROM rating_tags WHERE message_id = %lld ORDER BY tag;"
                   "SELECT conversation_id, message_id FROM requests WHERE gen_tokens = 24",
                   (long long)fx.conv[4], (long long)fx.conv[4], (long long)fx.reply[4], (long long)fx.reply[4]);
}

/* Whether the file at path holds the bytes s. */
static bool file_holds(const char *path, const char *s)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return false;
    size_t n;
    char *data = test_read_file(path, &n);
    bool found = memmem(data, n, s, strlen(s)) != NULL;
    free(data);
    return found;
}

/* forget promises the text is gone from the file, not just from queries */
static char *check_forget(sqlite3 *raw, const char *path, int rc)
{
    (void)raw;
    if (rc != 0)
        return NULL;
    char *wal = fu_printf("%s-wal", path);
    char *problem = NULL;
    if (file_holds(path, "MARK04MARK") || file_holds(wal, "MARK04MARK"))
        problem = fu_printf("forget succeeded but the reply's text is still in %s", file_holds(path, "MARK04MARK") ? path : wal);
    free(wal);
    return problem;
}

/* purge: the conversations not touched for 30 days (every third) */
static int run_purge(const char *path, char **err)
{
    return FU_CMD(cmd_purge, err, "purge", "--older-than", "30", "--db", path);
}

static char *keep_purge(void)
{
    return fu_printf("SELECT id, model_id, outcome, gen_tokens, latency_ms FROM requests ORDER BY id");
}

static char *state_purge(void)
{
    return fu_printf("SELECT id, title FROM conversations ORDER BY id;"
                   "SELECT id, conversation_id, role, text FROM messages ORDER BY id;"
                   "SELECT message_id, rater, score FROM ratings ORDER BY 1, 2;"
                   "SELECT message_id, rater, tag FROM rating_tags ORDER BY 1, 2, 3;"
                   "SELECT id, conversation_id, message_id FROM requests ORDER BY id");
}

/* recording a streamed reply: ask, against a server streaming REPLY */
static int run_ask(const char *path, char **err)
{
    return FU_CMD(cmd_ask, err, "ask", "--backend", rs_url(server), "--db", path, "-n", "64", QUESTION);
}

static char *check_ask(sqlite3 *raw, const char *path, int rc)
{
    char *sql = fu_printf("SELECT count(*) FROM conversations WHERE id > %lld", (long long)fx.max_conv);
    long convs = fu_scalar(raw, sql);
    free(sql);
    char *problem = NULL;
    sql = fu_printf("SELECT text FROM messages WHERE role = 'agent' AND id > %lld", (long long)fx.max_msg);
    char *texts = fu_digest_conn(raw, sql);
    free(sql);
    for (char *line = texts, *nl; !problem && (nl = strstr(line, "\n")) && strcmp(line, "--\n"); line = nl + 1) {
        *nl = 0;
        if (strncmp(REPLY, line, strlen(line)))
            problem = fu_printf("a reply was saved as '%s', not a prefix of the one streamed", line);
    }
    free(texts);
    /* A request the failure left 'running' is marked interrupted by the
     * next open once its process has ended (as ask's does on exit): make
     * this process look ended, then open. */
    long running = fu_scalar(raw, "SELECT count(*) FROM requests WHERE outcome = 'running'");
    if (!problem && running && rc == 0)
        problem = fu_printf("ask succeeded but left a request 'running'");
    if (!problem && running) {
        sql_exec(path, "UPDATE requests SET owner_start = 1 WHERE outcome = 'running'");
        db *d;
        char msg[512];
        if (db_open(&d, path, msg, sizeof msg) != DB_OK)
            problem = fu_printf("the store no longer opens: %s", msg);
        else
            db_close(d);
        if (!problem && fu_scalar(raw, "SELECT count(*) FROM requests WHERE outcome = 'running'"))
            problem = fu_printf("a request left 'running' stays so after its process ended");
    }
    if (!problem && rc == 0) {
        sql = fu_printf("SELECT count(*) FROM messages m JOIN messages c ON c.conversation_id = m.conversation_id"
                      " JOIN requests r ON r.message_id = m.id"
                      " WHERE m.id > %lld AND m.role = 'agent' AND m.text = '%s' AND c.role = 'customer'"
                      " AND c.text = '%s' AND r.outcome = 'ok'",
                      (long long)fx.max_msg, REPLY, QUESTION);
        if (convs != 1 || fu_scalar(raw, sql) != 1)
            problem = fu_printf("ask succeeded but the conversation, reply and request are not all saved (%ld new)", convs);
        free(sql);
    }
    return problem;
}

/* migration from the oldest schema: any command opening the store */
static int run_migrate(const char *path, char **err)
{
    return FU_CMD(cmd_history, err, "history", "--db", path);
}

static char *keep_migrate(void)
{
    return fu_printf("SELECT id, title, profile, system_prompt FROM conversations ORDER BY id;"
                   "SELECT id, conversation_id, role, text, prev_id, model_id, sampling FROM messages ORDER BY id;"
                   "SELECT id, key, name FROM models ORDER BY id");
}

/* A failed migration leaves a schema this program knows, whole: that of
 * some version from the old one on, exactly. */
static char *check_migrate(sqlite3 *raw, const char *path, int rc)
{
    (void)path;
    long v = fu_scalar(raw, "PRAGMA user_version");
    if (v < 1 || v > DB_SCHEMA_VERSION)
        return fu_printf("schema version %ld after the migration", v);
    char *schema = fu_digest_conn(raw, SCHEMA_SQL);
    char *problem = NULL;
    if (strcmp(schema, schema_of[v]))
        problem = fu_printf("the file says schema %ld but its tables are not those of version %ld", v, v);
    else if (rc == 0 && v != DB_SCHEMA_VERSION)
        problem = fu_printf("the command succeeded but the schema is still version %ld", v);
    free(schema);
    return problem;
}

/* ---- The harness ----------------------------------------------------------------------- */

typedef enum { F_NONE, F_IO, F_FULL, F_MEM } fault_mode;

static const char *const mode_name[] = {"none", "any I/O fails (SQLITE_IOERR_*)", "a write fails (SQLITE_FULL)",
                                        "an allocation fails (SQLITE_NOMEM)"};

static void arm(fault_mode m, long n)
{
    faultvfs_reset();
    faultmem_arm(0);
    if (m == F_IO)
        faultvfs_arm(FV_ANY, n, FV_IOERR);
    else if (m == F_FULL)
        faultvfs_arm(FV_WRITE, n, FV_FULL);
    else if (m == F_MEM)
        faultmem_arm(n);
}

static bool fired(fault_mode m)
{
    return m == F_MEM ? faultmem_fired() : m != F_NONE && faultvfs_fired();
}

typedef struct {
    const scenario *s;
    const char *fixture, *work;
    char *keep_sql, *state_sql;
    char *keep_before, *state_before;
    long problems;
    long n_open;  /* SQLite allocations of opening the store */
    double t_run; /* seconds in the commands themselves */
} run_ctx;

/* Everything a run must leave true; a problem or NULL. */
static char *check_run(run_ctx *c, int rc, const char *err, int fds_before)
{
    const scenario *s = c->s;
    const char *base = strrchr(c->work, '/') + 1;
    if (rc != 0 && rc != 1)
        return fu_printf("exit status %d; stderr: %s", rc, err);
    for (const char *line = err; *line; line = strchr(line, '\n') + 1)
        if (strncmp(line, "frontdesk: ", 11) || !strchr(line, '\n'))
            return fu_printf("stderr holds a line that is not \"frontdesk: ...\": %s", err);
    if (rc != 0 && (fu_count_lines(err) != 1 || !strstr(err, base)))
        return fu_printf("failed without one line naming %s: %s", base, *err ? err : "(nothing)\n");
    if (rc == 0 && fu_count_lines(err) > s->ok_lines)
        return fu_printf("succeeded with %d line(s) on stderr: %s", fu_count_lines(err), err);
    int fds = fu_count_fds();
    if (fds != fds_before)
        return fu_printf("%d descriptor(s) open before, %d after", fds_before, fds);
    sqlite3 *raw = fu_raw_open(c->work);
    if (!raw)
        return fu_printf("sqlite3 cannot open %s", c->work);
    char *p = s->check ? s->check(raw, c->work, rc) : NULL;
    char *ic = p ? fu_printf("ok\n--\n") : fu_digest_conn(raw, "PRAGMA integrity_check");
    if (strcmp(ic, "ok\n--\n"))
        p = fu_printf("integrity_check: %s", ic);
    free(ic);
    char *fts = p ? NULL : fu_digest_conn(raw, "SELECT count(*) FROM sqlite_schema WHERE name = 'messages_fts'");
    if (fts && !strcmp(fts, "1\n--\n")) {
        ic = fu_digest_conn(raw, "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)");
        if (strcmp(ic, "--\n"))
            p = fu_printf("the search index's integrity-check: %s", ic);
        free(ic);
    }
    free(fts);
    char *keep = p ? NULL : fu_digest_conn(raw, c->keep_sql);
    if (keep && strcmp(keep, c->keep_before))
        p = fu_printf("rows committed before the fault changed:\n--- before\n%s--- after\n%s", c->keep_before, keep);
    free(keep);
    if (!p && c->state_sql && after_state) {
        char *st = fu_digest_conn(raw, c->state_sql);
        if (rc == 0 && strcmp(st, after_state))
            p = fu_printf("succeeded but its changes are not all there:\n%s--- want\n%s", st, after_state);
        else if (strcmp(st, after_state) && strcmp(st, c->state_before))
            p = fu_printf("left half done:\n%s--- before\n%s--- after\n%s", st, c->state_before, after_state);
        free(st);
    }
    /* no lock left behind */
    int lrc = p ? SQLITE_OK : sqlite3_exec(raw, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL);
    if (lrc != SQLITE_OK)
        p = fu_printf("the store is still locked: %s", sqlite3_errstr(lrc));
    sqlite3_close(raw);
    if (p)
        return p;
    /* after a failure, it opens again (a failed migration resumes) */
    if (rc == 0 && s->version == DB_SCHEMA_VERSION)
        return NULL;
    db *d;
    char msg[512];
    if (db_open(&d, c->work, msg, sizeof msg) != DB_OK)
        return fu_printf("the store no longer opens: %s", msg);
    int v = db_version(d);
    db_close(d);
    return v == DB_SCHEMA_VERSION ? NULL : fu_printf("reopened at schema version %d", v);
}

/* One run on a fresh copy of the fixture with fault n of mode m armed;
 * whether the fault fired, *problem set when a check failed. */
static bool run_once(run_ctx *c, fault_mode m, long n, char **problem, int *rc_out)
{
    fu_remove_store(c->work);
    fu_copy_file(c->fixture, c->work);
    int fds = fu_count_fds();
    char *err = NULL;
    arm(m, n);
    double t0 = util_now();
    int rc = c->s->run(c->work, &err);
    c->t_run += util_now() - t0;
    bool hit = fired(m);
    arm(F_NONE, 0);
    *problem = check_run(c, rc, err, fds);
    *rc_out = rc;
    free(err);
    return hit;
}

/* Fault n = 1, 1 + stride, ... through `total`: the counts printed. */
static void sweep(run_ctx *c, fault_mode m, long total)
{
    /* allocations: every OPEN_STRIDE-th while the store opens (the same in
     * every scenario), every mem_stride-th after */
    long stride = m == F_MEM && c->s->mem_stride ? c->s->mem_stride : 1;
    long open_stride = m != F_MEM ? 1 : c->s->open_stride ? c->s->open_stride : OPEN_STRIDE;
    const char *env = getenv("FAULTS_MEM_STRIDE"); /* 1: every allocation (a long run) */
    if (m == F_MEM && env && atol(env) > 0)
        stride = open_stride = atol(env);
    long injected = 0, survived = 0, failed = 0, unreached = 0, shown = 0, runs = 0;
    double t0 = util_now();
    c->t_run = 0;
    for (long n = 1; n <= total; n += n < c->n_open ? open_stride : stride) {
        runs++;
        char *problem;
        int rc;
        bool hit = run_once(c, m, n, &problem, &rc);
        if (!hit)
            unreached++;
        injected += hit;
        failed += hit && rc != 0;
        if (problem) {
            c->problems++;
            if (++shown <= 3)
                print_message("PROBLEM %s, %s, fault %ld of %ld: %s\n", c->s->name, mode_name[m], n, total, problem);
            free(problem);
        } else
            survived += hit;
    }
    char sampled[96] = "";
    if (runs < total)
        snprintf(sampled, sizeof sampled, " (%ld tried: 1 in %ld while opening, 1 in %ld after)", runs, open_stride,
                 stride);
    print_message("faults: %-7s %-36s %5ld counted%s, %5ld injected, %5ld survived (%ld failed cleanly, %ld "
                  "succeeded)%s, %.1f s (%.1f in the commands)\n",
                  c->s->name, mode_name[m], total, sampled, injected,
                  survived, failed, injected - failed, unreached ? " — some not reached" : "", util_now() - t0, c->t_run);
}

static void run_scenario(const scenario *s)
{
    run_ctx c = {.s = s};
    char name[64];
    snprintf(name, sizeof name, "%s-fixture.db", s->name);
    c.fixture = test_path(test_tmpdir(), name);
    snprintf(name, sizeof name, "%s.db", s->name);
    c.work = test_path(test_tmpdir(), name);
    arm(F_NONE, 0);
    make_store(c.fixture, s->version);
    c.keep_sql = s->keep();
    c.state_sql = s->state ? s->state() : NULL;
    c.keep_before = fu_digest(c.fixture, c.keep_sql);
    c.state_before = c.state_sql ? fu_digest(c.fixture, c.state_sql) : NULL;
    assert_null(strstr(c.keep_before, "ERROR"));
    free(after_state);
    free(baseline_export);
    after_state = baseline_export = NULL;

    /* the fault-free run: it succeeds, and counts */
    fu_remove_store(c.work);
    fu_copy_file(c.fixture, c.work);
    char *err;
    arm(F_NONE, 0);
    int rc = s->run(c.work, &err);
    long n_io = faultvfs_count(FV_ANY), n_write = faultvfs_count(FV_WRITE), n_mem = faultmem_count();
    if (rc != 0)
        fail_msg("%s without a fault: exit status %d: %s", s->name, rc, err);
    free(err);
    if (c.state_sql) {
        after_state = fu_digest(c.work, c.state_sql);
        if (!strcmp(after_state, c.state_before))
            fail_msg("%s changed nothing it was meant to change:\n%s", s->name, after_state);
    }
    if (s->run == run_export)
        baseline_export = test_read_file(export_path(), NULL);
    long n_read = faultvfs_count(FV_READ), n_sync = faultvfs_count(FV_SYNC), n_trunc = faultvfs_count(FV_TRUNCATE);
    assert_true(n_io > 0 && n_mem > 0);
    if (s->malloc_faults) {
        fu_remove_store(c.work);
        fu_copy_file(c.fixture, c.work);
        faultmem_arm(0);
        db *d = open_store(c.work);
        c.n_open = faultmem_count();
        db_close(d);
    }
    char opening[64] = "";
    if (c.n_open)
        snprintf(opening, sizeof opening, " (%ld of them opening the store)", c.n_open);
    print_message("faults: %-7s %ld I/Os (%ld reads, %ld writes, %ld syncs, %ld truncates), %ld SQLite allocations%s\n",
                  s->name, n_io, n_read, n_write, n_sync, n_trunc, n_mem, opening);

    sweep(&c, F_IO, n_io);
    if (n_write) /* export only reads */
        sweep(&c, F_FULL, n_write);
    if (s->malloc_faults)
        sweep(&c, F_MEM, n_mem);
    free(c.keep_sql);
    free(c.state_sql);
    free(c.keep_before);
    free(c.state_before);
    if (c.problems)
        fail_msg("%s: %ld injected fault(s) were not survived (the first ones are above)", s->name, c.problems);
}

static const scenario scenarios[] = {
    {.name = "reply", .version = DB_SCHEMA_VERSION, .run = run_ask, .keep = keep_all, .check = check_ask,
     .ok_lines = 1, .malloc_faults = true, .mem_stride = 20},
    {.name = "rate", .version = DB_SCHEMA_VERSION, .run = run_rate, .keep = keep_all, .state = state_rate,
     .malloc_faults = true, .open_stride = 20},
    {.name = "export", .version = DB_SCHEMA_VERSION, .run = run_export, .keep = keep_all, .check = check_export,
     .ok_lines = 1, .malloc_faults = true, .mem_stride = 15},
    {.name = "forget", .version = DB_SCHEMA_VERSION, .run = run_forget, .keep = keep_forget,
     .state = state_forget, .check = check_forget, .malloc_faults = true, .mem_stride = 10},
    {.name = "purge", .version = DB_SCHEMA_VERSION, .run = run_purge, .keep = keep_purge, .state = state_purge,
     .malloc_faults = true, .mem_stride = 10},
    {.name = "migrate", .version = 1, .run = run_migrate, .keep = keep_migrate, .check = check_migrate},
};

/* FAULTS_ONLY=name runs that scenario alone (the others skip). */
static void test_scenario(void **state)
{
    const scenario *s = *state;
    const char *only = getenv("FAULTS_ONLY");
    if (only && *only && strcmp(only, s->name))
        test_skip("%s: FAULTS_ONLY=%s", s->name, only);
    run_scenario(s);
}

/* ---- Every allocation of export's reading, on an open store ------------------------ */

/* What an export item holds, as text (appended to the memstream ud). */
static bool item_text(void *ud, const db_export_item *it)
{
    FILE *out = ud;
    for (size_t i = 0; i < it->n_thread; i++)
        fprintf(out, "%lld %d %s|", (long long)it->thread[i].id, (int)it->thread[i].role, it->thread[i].text);
    fprintf(out, "model %s %s|", it->model ? it->model->display_name : "-", it->model ? it->model->key : "-");
    for (size_t i = 0; i < it->n_ratings; i++) {
        const db_rating *r = &it->ratings[i];
        fprintf(out, "%s %d %d %s", r->rater, r->thumbs, r->score, r->comment ? r->comment : "NULL");
        for (size_t t = 0; t < r->n_tags; t++)
            fprintf(out, " #%s", r->tags[t]);
        fputc('|', out);
    }
    fputc('\n', out);
    return true;
}

static db_status export_text(db *d, char **text)
{
    size_t len;
    FILE *out = open_memstream(text, &len);
    db_export_filter f = {0};
    db_status s = db_export(d, &f, item_text, out);
    fclose(out);
    return s;
}

/* The whole-command sweep samples export's allocations; this one fails
 * every one of them (the store opened once, the reads repeated): each call
 * fails with a message or returns everything, never a reply without its
 * tags or comment. */
static void test_export_reads(void **state)
{
    (void)state;
    const char *only = getenv("FAULTS_ONLY");
    if (only && *only && strcmp(only, "export_reads"))
        test_skip("export_reads: FAULTS_ONLY=%s", only);
    const char *p = test_path(test_tmpdir(), "export-reads.db");
    arm(F_NONE, 0);
    make_store(p, DB_SCHEMA_VERSION);
    db *d = open_store(p);
    char *want;
    OK(d, export_text(d, &want)); /* the page cache warms up: count the second call */
    free(want);
    faultmem_arm(0);
    OK(d, export_text(d, &want));
    long total = faultmem_count();
    assert_non_null(strstr(want, "alice 1 1 from the fixture #fixture #polite|"));
    long failed = 0, problems = 0;
    for (long n = 1; n <= total; n++) {
        char *got;
        faultmem_arm(n);
        db_status s = export_text(d, &got);
        bool hit = faultmem_fired();
        faultmem_arm(0);
        if (!hit)
            fail_msg("allocation %ld of %ld was not reached: %s", n, total, s == DB_OK ? "succeeded" : db_errmsg(d));
        if (s != DB_OK) {
            failed++;
            if (!*db_errmsg(d) || strchr(db_errmsg(d), '\n'))
                fail_msg("allocation %ld: the message is '%s'", n, db_errmsg(d));
        } else if (strcmp(got, want) && ++problems <= 3)
            print_message("PROBLEM export reads, allocation %ld of %ld: succeeded with\n%s--- want\n%s", n, total,
                          got, want);
        free(got);
    }
    print_message("faults: export's reads: %ld allocations, every one failed in turn: %ld survived (%ld failed "
                  "cleanly, %ld succeeded)\n",
                  total, total - problems, failed, total - failed);
    db_close(d);
    free(want);
    assert_int_equal(problems, 0);
}

/* The tables of every schema version, for check_migrate. */
static void make_schemas(void)
{
    for (int v = 1; v <= DB_SCHEMA_VERSION; v++) {
        char name[32];
        snprintf(name, sizeof name, "schema-v%d.db", v);
        const char *p = test_path(test_tmpdir(), name);
        db *d;
        char err[512];
        if (db_open_at(&d, p, v, err, sizeof err) != DB_OK) {
            fprintf(stderr, "schema v%d: %s\n", v, err);
            exit(1);
        }
        db_close(d);
        schema_of[v] = fu_digest(p, SCHEMA_SQL);
    }
}

int main(void)
{
    char err[256];
    /* first: the allocator must be in place before SQLite initializes */
    if (faultvfs_install(err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* no configuration of the user's: ask and rate read one */
    setenv("XDG_CONFIG_HOME", test_path(test_tmpdir(), "config"), 1);
    unsetenv("FRONTDESK_DB");
    unsetenv("FRONTDESK_CONFIG");
    rs_step step = {.kind = RS_STREAM, .reply = REPLY, .delta_chars = 6, .pause_us = -1, .usage = true,
                    .prompt_tokens = 12, .completion_tokens = 20};
    if (!(server = rs_start(&step, 1, err, sizeof err))) {
        fprintf(stderr, "test server: %s\n", err);
        return 1;
    }
    make_schemas();
    enum { N_SCEN = sizeof scenarios / sizeof scenarios[0] };
    struct CMUnitTest tests[N_SCEN + 1];
    for (size_t i = 0; i < N_SCEN; i++)
        tests[i] = (struct CMUnitTest){.name = scenarios[i].name, .test_func = test_scenario,
                                       .initial_state = (void *)&scenarios[i]};
    tests[N_SCEN] = (struct CMUnitTest){.name = "export_reads", .test_func = test_export_reads};
    int failures = cmocka_run_group_tests(tests, NULL, NULL);
    rs_stop(server);
    for (int v = 1; v <= DB_SCHEMA_VERSION; v++)
        free(schema_of[v]);
    free(after_state);
    free(baseline_export);
    return test_exit(failures);
}
