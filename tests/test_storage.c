/*
 * test_storage.c — the store through its public API (the headers in
 * storage/): schema migrations from every earlier version, refusal of
 * newer, foreign, truncated files; several processes opening one new
 * file; the message tree and titles; literal search in any script;
 * ratings; percentiles against a brute force; window aggregates against
 * the rows inserted; the per-minute series minute by minute and the
 * thumbs-down rate against figures worked out by hand; recovery after a writer died; erasure down to the
 * file's bytes; a locked database; export filters.
 *
 * Every database is a fresh file under test_tmpdir(), or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs the suite a
 * second time so), a fresh database on the throwaway PostgreSQL server
 * (tests/pg_util.h); the tests about a file's bytes run on SQLite only,
 * the newer-schema and locked-store tests on both.  sqlite3 (libpq) is used
 * directly only where the API deliberately cannot reach: forging a file
 * written by a newer frontdesk, holding the write lock as another process
 * would, back-dating rows (the API stamps every row with db_now(), and a
 * test that sleeps hours is no test), and reading request rows that the
 * API stops showing once their conversation is erased.
 */
#include "tests/pg_util.h"
#include "tests/store_util.h"
#include "tests/testutil.h"

#include "storage/chats.h"
#include "storage/db.h"
#include "storage/export.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------------ */

static bool on_pg(void)
{
    return store_on_pg();
}

/* A path under the test directory with no database, WAL or shm file; or
 * the URL of a new, empty PostgreSQL database (tests/store_util.h). */
static const char *fresh(const char *name)
{
    return fresh_store(name);
}

static db *open_ok(const char *path)
{
    char err[512] = "";
    db *d = NULL;
    db_status s = db_open(&d, path, err, sizeof err);
    if (s != DB_OK)
        fail_msg("db_open(%s) = %d: %s", path, s, err);
    assert_non_null(d);
    return d;
}

#undef OK /* store_util.h's; this suite prints the status too */
/* Fail with the handle's message when a call does not return DB_OK. */
#define OK(d, call)                                                                                 \
    do {                                                                                            \
        db_status s_ = (call);                                                                      \
        if (s_ != DB_OK)                                                                            \
            fail_msg("%s = %d: %s", #call, s_, db_errmsg(d));                                       \
    } while (0)

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The bytes of path, or an empty buffer when there is no such file. */
static char *read_or_empty(const char *path, size_t *len)
{
    if (!file_exists(path)) {
        *len = 0;
        return xstrdup("");
    }
    return test_read_file(path, len);
}

static void raw_exec(const char *path, const char *sql)
{
    if (db_is_pg_url(path)) {
        PGconn *pc = pg_test_connect(path);
        pg_test_exec(pc, sql);
        PQfinish(pc);
        return;
    }
    sqlite3 *c = NULL;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
    sqlite3_close(c);
}

static int64_t raw_int(const char *path, const char *sql)
{
    if (db_is_pg_url(path)) {
        PGconn *pc = pg_test_connect(path);
        char *v = pg_test_value(pc, sql);
        PQfinish(pc);
        int64_t x = v ? strtoll(v, NULL, 10) : 0;
        free(v);
        return x;
    }
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static int64_t add_model(db *d, char digit, const char *name)
{
    char hex[65];
    memset(hex, digit, 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = name, .file_name = name, .arch = "llama", .quant = "Q8_0"};
    int64_t id = 0;
    OK(d, db_model_use(d, &m, &id));
    assert_true(id > 0);
    return id;
}

/* A finished reply in conv: begin, one progress step, end. */
static int64_t add_reply(db *d, int64_t conv, int64_t model, const char *text)
{
    int64_t id = 0;
    OK(d, db_reply_begin(d, conv, model, NULL, 0, &id));
    OK(d, db_reply_progress(d, id, ""));
    OK(d, db_reply_end(d, id, text, model));
    return id;
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static int tolower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does hay contain needle, ASCII letters compared case-insensitively and
 * every other byte exactly? (The reference for search.) */
static bool ascii_ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < n && h[i]) {
            unsigned char a = (unsigned char)h[i], b = (unsigned char)needle[i];
            if (a < 0x80 && b < 0x80 ? tolower_ascii(a) != tolower_ascii(b) : a != b)
                break;
            i++;
        }
        if (i == n)
            return true;
    }
    return n == 0;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80             ? 0
                    : (*p & 0xe0) == 0xc0 ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0)
            return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

/* ---- 1. Migrations -------------------------------------------------------------- */

static void test_new_file_is_current(void **state)
{
    (void)state;
    const char *p = fresh("new.db");
    db *d = open_ok(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    assert_int_equal(db_recovered(d), 0);
    assert_string_equal(db_path(d), p);
    /* every table answers: conversation, messages, request, rating, search */
    int64_t m = add_model(d, 'a', "m.gguf"), conv, cust, req;
    OK(d, db_conv_create(d, "support", "Be kind.", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Hello there, general query", &cust));
    int64_t reply = add_reply(d, conv, m, "Hi!");
    OK(d, db_request_begin(d, m, "local", conv, reply, 1.5, &req));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 3, .latency_ms = 10, .attempts = 1};
    OK(d, db_request_finish(d, req, &res));
    db_rating_in r = {.fields = DB_RATE_SCORE, .score = 4};
    OK(d, db_rate(d, reply, "alice", &r));
    db_conv *list;
    size_t n;
    OK(d, db_conv_list(d, "general query", 0, &list, &n));
    assert_int_equal(n, 1);
    assert_int_equal(list[0].id, conv);
    assert_int_equal(list[0].n_rated, 1);
    db_convs_free(list, n);
    OK(d, db_check(d));
    db_close(d);
    db_close(NULL);

    /* reopening changes nothing */
    d = open_ok(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    db_msg *msgs;
    OK(d, db_msgs_list(d, conv, false, &msgs, &n));
    assert_int_equal(n, 3);
    db_msgs_free(msgs, n);
    db_close(d);
}

/* Data of everything schema version v supports, tagged with v. */
typedef struct {
    int64_t conv, cust, reply, model, request;
} legacy;

/* A model row as schema 1 knows it (db_model_use writes columns later
 * schemas added), by SQL on the file itself. */
static int64_t legacy_model(const char *path, char digit)
{
    char hex[65], sql[400];
    memset(hex, digit, 64);
    hex[64] = 0;
    snprintf(sql, sizeof sql,
             "INSERT INTO models (key, sha256, backend, name, file_name, arch, quant, first_used, last_used)"
             " VALUES ('%s', '%s', 'local', 'legacy.gguf', 'legacy.gguf', 'llama', 'Q8_0', 1, 1)",
             hex, hex);
    if (db_is_pg_url(path)) {
        strcat(sql, " RETURNING id");
        return raw_int(path, sql);
    }
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    sqlite3_busy_timeout(raw, 5000);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    int64_t id = sqlite3_last_insert_rowid(raw);
    sqlite3_close(raw);
    return id;
}

static legacy fill_legacy(db *d, const char *path, int v)
{
    legacy L = {0};
    if (v < 1)
        return L;
    char text[128];
    snprintf(text, sizeof text, "legacy-v%d ZEBRA question\nsecond line", v);
    L.model = legacy_model(path, (char)('0' + v));
    OK(d, db_conv_create(d, "legacy", "You are a legacy bot.", &L.conv));
    OK(d, db_msg_add(d, L.conv, DB_ROLE_CUSTOMER, text, &L.cust));
    OK(d, db_reply_begin(d, L.conv, L.model, "{\"temperature\":0}", 0, &L.reply));
    snprintf(text, sizeof text, "legacy answer v%d partial", v);
    OK(d, db_reply_progress(d, L.reply, text));
    if (v < 2)
        return L; /* db_reply_end touches requests, which v1 lacks */
    snprintf(text, sizeof text, "legacy answer v%d OKAPI", v);
    OK(d, db_reply_end(d, L.reply, text, L.model));
    OK(d, db_request_begin(d, L.model, "local", L.conv, L.reply, 2.0, &L.request));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 7, .latency_ms = 123, .attempts = 1};
    OK(d, db_request_finish(d, L.request, &res));
    const char *tags[] = {"legacy"};
    db_rating_in r = {.fields = DB_RATE_SCORE | DB_RATE_THUMBS | DB_RATE_TAGS,
                      .score = 5, .thumbs = 1, .tags = tags, .n_tags = 1};
    OK(d, db_rate(d, L.reply, "old-rater", &r));
    return L;
}

static void test_migrate_every_version(void **state)
{
    (void)state;
    for (int v = 0; v < DB_SCHEMA_VERSION; v++) {
        char name[32], err[512] = "";
        snprintf(name, sizeof name, "v%d.db", v);
        const char *p = fresh(name);
        db *d = NULL;
        if (db_open_at(&d, p, v, err, sizeof err) != DB_OK)
            fail_msg("db_open_at(%d): %s", v, err);
        assert_int_equal(db_version(d), v);
        legacy L = fill_legacy(d, p, v);
        db_close(d);

        d = open_ok(p);
        assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
        OK(d, db_check(d));
        db_conv *convs;
        size_t n;
        OK(d, db_conv_list(d, NULL, 0, &convs, &n));
        assert_int_equal(n, v >= 1 ? 1 : 0);
        db_convs_free(convs, n);
        if (v >= 1) {
            char want[128];
            db_conv c;
            OK(d, db_conv_get(d, L.conv, &c));
            snprintf(want, sizeof want, "legacy-v%d ZEBRA question", v);
            assert_string_equal(c.title, want);
            assert_string_equal(c.profile, "legacy");
            assert_string_equal(c.system_prompt, "You are a legacy bot.");
            assert_int_equal(c.n_messages, 2);
            db_conv_clear(&c);
            db_msg *msgs;
            OK(d, db_msgs_list(d, L.conv, true, &msgs, &n));
            assert_int_equal(n, 3);
            assert_int_equal(msgs[0].role, DB_ROLE_SYSTEM);
            assert_int_equal(msgs[1].id, L.cust);
            assert_int_equal(msgs[2].id, L.reply);
            assert_int_equal(msgs[2].prev_id, L.cust);
            assert_int_equal(msgs[2].model_id, L.model);
            assert_string_equal(msgs[2].sampling, "{\"temperature\":0}");
            snprintf(want, sizeof want, v >= 2 ? "legacy answer v%d OKAPI" : "legacy answer v%d partial", v);
            assert_string_equal(msgs[2].text, want);
            db_msgs_free(msgs, n);

            /* the trigram index (v3) was built over the rows before it */
            const char *queries[] = {"zebra QUESTION", want, "legacy bot"};
            for (size_t q = 0; q < 3; q++) {
                OK(d, db_conv_list(d, queries[q], 0, &convs, &n));
                if (n != 1)
                    fail_msg("v%d: search '%s' found %zu conversations", v, queries[q], n);
                assert_int_equal(convs[0].id, L.conv);
                db_convs_free(convs, n);
            }
            OK(d, db_conv_list(d, "legacy answer v9", 0, &convs, &n));
            assert_int_equal(n, 0);
            db_convs_free(convs, n);
            /* and follows text changed after the migration */
            OK(d, db_reply_end(d, L.reply, "rewritten after migration", L.model));
            OK(d, db_conv_list(d, "OKAPI", 0, &convs, &n));
            assert_int_equal(n, 0);
            db_convs_free(convs, n);
            OK(d, db_conv_list(d, "rewritten after", 0, &convs, &n));
            assert_int_equal(n, 1);
            db_convs_free(convs, n);
        }
        if (v >= 2) {
            db_rating *r;
            OK(d, db_ratings_get(d, L.reply, &r, &n));
            assert_int_equal(n, 1);
            assert_string_equal(r[0].rater, "old-rater");
            assert_int_equal(r[0].score, 5);
            assert_int_equal(r[0].thumbs, 1);
            assert_int_equal(r[0].n_tags, 1);
            assert_string_equal(r[0].tags[0], "legacy");
            db_ratings_free(r, n);
            db_request *q;
            OK(d, db_requests_for_message(d, L.reply, &q, &n));
            assert_int_equal(n, 1);
            assert_int_equal(q[0].id, L.request);
            assert_string_equal(q[0].outcome, "ok");
            assert_int_equal(q[0].gen_tokens, 7);
            assert_true(q[0].latency_ms == 123.0);
            db_requests_free(q, n);
        }
        db_close(d);
    }
}

static void test_newer_schema_refused(void **state)
{
    (void)state;
    const char *p = fresh("newer.db");
    char sql[256];
    /* a file from a future frontdesk, in the default (rollback) journal
     * mode; on PostgreSQL a database whose schema table says so */
    if (on_pg())
        snprintf(sql, sizeof sql,
                 "CREATE TABLE future (x int); INSERT INTO future VALUES (42);"
                 " CREATE TABLE frontdesk_schema (version integer NOT NULL);"
                 " INSERT INTO frontdesk_schema VALUES (%d)",
                 DB_SCHEMA_VERSION + 1);
    else
        snprintf(sql, sizeof sql,
                 "CREATE TABLE future (x); INSERT INTO future VALUES (42); PRAGMA user_version = %d",
                 DB_SCHEMA_VERSION + 1);
    raw_exec(p, sql);
    if (on_pg()) {
        char err[512] = "";
        db *d = (db *)1;
        assert_int_equal(db_open(&d, p, err, sizeof err), DB_NEWER);
        assert_null(d);
        assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_NEWER);
        assert_int_equal(raw_int(p, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 2);
        assert_int_equal(raw_int(p, "SELECT x FROM future"), 42);
        return;
    }
    size_t n0, n1;
    char *before = test_read_file(p, &n0);
    char err[512] = "", want[64];
    db *d = (db *)1;
    assert_int_equal(db_open(&d, p, err, sizeof err), DB_NEWER);
    assert_null(d);
    snprintf(want, sizeof want, "version %d", DB_SCHEMA_VERSION + 1);
    if (!strstr(err, want) || !strstr(err, p))
        fail_msg("message lacks '%s' or the path: %s", want, err);
    char *after = test_read_file(p, &n1);
    assert_int_equal(n0, n1);
    for (size_t i = 0; i < n0; i++)
        if (before[i] != after[i])
            fail_msg("refusing a newer file changed its bytes (first at offset %zu)", i);
    free(before);
    free(after);
    /* refused with db_open_at too, whatever version is asked for */
    assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_NEWER);
    assert_int_equal(raw_int(p, "PRAGMA user_version"), DB_SCHEMA_VERSION + 1);
    assert_int_equal(raw_int(p, "SELECT x FROM future"), 42);
}

static void test_not_a_database(void **state)
{
    (void)state;
    /* text files (one a lone newline, which SQLite would take for an empty
     * database), and random bytes of several sizes */
    const char *names[] = {"text.db", "newline.db", "short.db", "rand100.db", "rand4096.db", "rand70000.db"};
    const size_t sizes[] = {0, 0, 0, 100, 4096, 70000};
    rng_state = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < 6; k++) {
        const char *p = fresh(names[k]);
        strbuf sb = {0};
        if (k == 0)
            for (int i = 0; i < 40; i++)
                sb_printf(&sb, "line %d: this is a customer-support note, not a database\n", i);
        else if (k == 1)
            sb_puts(&sb, "\n");
        else if (k == 2)
            for (int i = 0; i < 511; i++) /* one byte short of the smallest page */
                sb_putc(&sb, i % 64 == 63 ? '\n' : 'x');
        else
            for (size_t i = 0; i < sizes[k]; i++)
                sb_putc(&sb, (char)rnd());
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(sb.data, 1, sb.len, f), sb.len);
        fclose(f);
        char err[512] = "";
        db *d = (db *)1; /* must come back NULL */
        db_status s = db_open(&d, p, err, sizeof err);
        if (s != DB_CORRUPT)
            fail_msg("%s: db_open = %d (%s), want DB_CORRUPT", names[k], s, err);
        assert_null(d);
        if (!strstr(err, "not a frontdesk database") || !strstr(err, p))
            fail_msg("unclear message: %s", err);
        size_t n;
        char *after = test_read_file(p, &n);
        assert_int_equal(n, sb.len);
        assert_memory_equal(after, sb.data, n);
        free(after);
        sb_free(&sb);
    }

    /* a directory that does not exist */
    const char *p = test_path(test_tmpdir(), "no/such/dir/x.db");
    char err[512] = "";
    db *d = (db *)1;
    db_status s = db_open(&d, p, err, sizeof err);
    assert_int_not_equal(s, DB_OK);
    assert_null(d);
    if (!strstr(err, p))
        fail_msg("the message does not name the file: %s", err);
}

/* A store cut short: refused as damaged (or, if it opens,
 * failing its integrity check), never a crash. */
static void test_truncated(void **state)
{
    (void)state;
    const char *full = fresh("full.db");
    db *d = open_ok(full);
    int64_t model = add_model(d, 'f', "f.gguf");
    strbuf sb = {0};
    for (int i = 0; i < 400; i++)
        sb_printf(&sb, "padding %d ", i);
    for (int k = 0; k < 12; k++) {
        int64_t conv, id, req;
        OK(d, db_conv_create(d, "", "sys", &conv));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
        id = add_reply(d, conv, model, sb.data);
        OK(d, db_request_begin(d, model, "local", conv, id, 0, &req));
        OK(d, db_rate(d, id, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}));
    }
    sb_free(&sb);
    db_close(d); /* the last connection: everything checkpointed into the file */
    size_t len;
    char *data = test_read_file(full, &len);
    assert_true(len >= 16 * 4096);
    const char *cut_path = test_path(test_tmpdir(), "cut.db");
    int refused = 0;
    /* odd offsets inside the first page, then every page boundary (a cut
     * inside a later page can only remove free space SQLite cannot tell
     * from zeros) */
    for (size_t cut = 1; cut < len; cut = cut < 4096 ? (cut * 2 + 1 < 4096 ? cut * 2 + 1 : 4096) : cut + 4096) {
        fresh("cut.db");
        FILE *f = fopen(cut_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, cut, f), cut);
        fclose(f);
        char err[512] = "";
        db_status s = db_open(&d, cut_path, err, sizeof err);
        if (s == DB_OK) {
            db_status c = db_check(d);
            if (c == DB_OK)
                fail_msg("cut at %zu of %zu: opened and passed its integrity check", cut, len);
            db_close(d);
            continue;
        }
        if (s != DB_CORRUPT || !strstr(err, "damaged"))
            fail_msg("cut at %zu: %d %s", cut, s, err);
        refused++;
    }
    assert_true(refused > 10);
    free(data);
}

/* Several processes opening a brand-new file at once: one migrates, the
 * others wait for it; every write lands. */
static void test_concurrent_open(void **state)
{
    (void)state;
    const char *p = fresh("concurrent.db");
    enum { PROCS = 4, WRITES = 10 };
    fflush(NULL);
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            db *c = NULL;
            char err[512];
            if (db_open(&c, p, err, sizeof err) != DB_OK) {
                fprintf(stderr, "child %d: %s\n", i, err);
                _exit(10);
            }
            for (int k = 0; k < WRITES; k++) {
                int64_t conv, id;
                if (db_conv_create(c, "", "sys", &conv) != DB_OK ||
                    db_msg_add(c, conv, DB_ROLE_CUSTOMER, "hello from a child", &id) != DB_OK)
                    _exit(11);
            }
            db_close(c);
            _exit(0);
        }
    }
    for (int i = 0; i < PROCS; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %d ended with status %#x", i, status);
    }
    db *d = open_ok(p);
    assert_int_equal(db_version(d), DB_SCHEMA_VERSION);
    db_conv *list;
    size_t n;
    OK(d, db_conv_list(d, "from a child", 0, &list, &n));
    assert_int_equal(n, PROCS * WRITES);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(list[i].n_messages, 1);
    db_convs_free(list, n);
    OK(d, db_check(d));
    db_close(d);
}

/* ---- 2. The message tree ------------------------------------------------------ */

static void expect_ids(db *d, int64_t conv, bool all, const int64_t *ids, size_t n_ids)
{
    db_msg *m;
    size_t n;
    OK(d, db_msgs_list(d, conv, all, &m, &n));
    if (n != n_ids)
        fail_msg("%s messages: %zu, want %zu", all ? "all" : "active", n, n_ids);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i].id, ids[i]);
        assert_int_equal(m[i].conversation_id, conv);
        if (!all)
            assert_true(m[i].active);
    }
    db_msgs_free(m, n);
}

static bool is_active(db *d, int64_t id)
{
    db_msg m;
    OK(d, db_msg_get(d, id, &m));
    bool a = m.active;
    db_msg_clear(&m);
    return a;
}

static void test_message_tree(void **state)
{
    (void)state;
    db *d = open_ok(fresh("tree.db"));
    int64_t model = add_model(d, 'a', "a.gguf"), model2 = add_model(d, 'b', "b.gguf");
    int64_t conv, sys, c1, r1, r2, r3, c2, r4, c1b;
    OK(d, db_conv_create(d, "support", "You are a helpful agent.", &conv));
    db_msg *m;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &m, &n));
    assert_int_equal(n, 1);
    assert_int_equal(m[0].role, DB_ROLE_SYSTEM);
    assert_string_equal(m[0].text, "You are a helpful agent.");
    sys = m[0].id;
    db_msgs_free(m, n);

    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Where is my order?\nIt was due Monday.", &c1));
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.title, "Where is my order?");
    assert_string_equal(c.status, "open");
    assert_int_equal(c.n_messages, 1);
    db_conv_clear(&c);

    /* reply: empty at first, grows, completes with the model that made it */
    OK(d, db_reply_begin(d, conv, model, "{\"temperature\":0.7}", 0, &r1));
    db_msg one;
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "");
    assert_int_equal(one.role, DB_ROLE_AGENT);
    assert_int_equal(one.prev_id, c1);
    assert_int_equal(one.parent_id, 0);
    assert_true(one.active);
    assert_string_equal(one.sampling, "{\"temperature\":0.7}");
    db_msg_clear(&one);
    OK(d, db_reply_progress(d, r1, "Let me"));
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "Let me");
    db_msg_clear(&one);
    OK(d, db_reply_end(d, r1, "Let me check.", model2));
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "Let me check.");
    assert_int_equal(one.model_id, model2);
    db_msg_clear(&one);
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.title, "Where is my order?");
    assert_int_equal(c.n_messages, 2);
    db_conv_clear(&c);

    /* regenerate: r1 retired, r2 its child on the same turn */
    OK(d, db_reply_begin(d, conv, model, NULL, r1, &r2));
    OK(d, db_msg_get(d, r2, &one));
    assert_int_equal(one.parent_id, r1);
    assert_int_equal(one.prev_id, c1);
    assert_null(one.sampling);
    db_msg_clear(&one);
    assert_false(is_active(d, r1));
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r2}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r2}, 4);
    /* nothing generated: r2 goes, r1 comes back */
    OK(d, db_reply_end(d, r2, "", 0));
    assert_int_equal(db_msg_get(d, r2, &one), DB_NOTFOUND);
    assert_true(is_active(d, r1));
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r1}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1}, 3);

    /* regenerate for real */
    OK(d, db_reply_begin(d, conv, model, NULL, r1, &r3));
    OK(d, db_reply_progress(d, r3, "Your order"));
    OK(d, db_reply_end(d, r3, "Your order ships tomorrow.", 0));
    OK(d, db_msg_get(d, r3, &one));
    assert_int_equal(one.model_id, model); /* 0: keep the one from begin */
    db_msg_clear(&one);
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r3}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r3}, 4);
    /* a regenerate must name an agent reply of this conversation */
    int64_t bogus = 0;
    assert_int_equal(db_reply_begin(d, conv, model, NULL, c1, &bogus), DB_INVALID);
    assert_int_equal(db_reply_begin(d, conv, model, NULL, 999999, &bogus), DB_NOTFOUND);
    assert_int_equal(db_reply_begin(d, 999999, model, NULL, 0, &bogus), DB_NOTFOUND);
    assert_true(is_active(d, r3)); /* failed calls retired nothing */

    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Thanks, and the invoice?", &c2));
    OK(d, db_conv_get(d, conv, &c)); /* a later customer message does not retitle */
    assert_string_equal(c.title, "Where is my order?");
    db_conv_clear(&c);
    r4 = add_reply(d, conv, model, "Attached.");
    db_msg *t;
    OK(d, db_msg_thread(d, r4, &t, &n));
    int64_t want_thread[] = {sys, c1, r3, c2, r4};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i].id, want_thread[i]);
    assert_string_equal(t[4].text, "Attached.");
    db_msgs_free(t, n);
    OK(d, db_msg_thread(d, r1, &t, &n)); /* an inactive reply's own thread */
    assert_int_equal(n, 3);
    assert_int_equal(t[2].id, r1);
    db_msgs_free(t, n);
    assert_int_equal(db_msg_thread(d, 999999, &t, &n), DB_NOTFOUND);
    assert_int_equal(n, 0);

    /* edit the first customer message: it and everything after retire */
    assert_int_equal(db_msg_edit(d, r3, "not a customer message", &c1b), DB_INVALID);
    assert_int_equal(db_msg_edit(d, 999999, "x", &c1b), DB_NOTFOUND);
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r3, c2, r4}, 5);
    OK(d, db_msg_edit(d, c1, "Where is my parcel?", &c1b));
    OK(d, db_msg_get(d, c1b, &one));
    assert_int_equal(one.parent_id, c1);
    assert_int_equal(one.prev_id, sys);
    assert_int_equal(one.role, DB_ROLE_CUSTOMER);
    db_msg_clear(&one);
    expect_ids(d, conv, false, (int64_t[]){sys, c1b}, 2);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r3, c2, r4, c1b}, 7);
    OK(d, db_msg_thread(d, r4, &t, &n)); /* the old thread is still readable */
    assert_int_equal(n, 5);
    db_msgs_free(t, n);
    int64_t r5 = add_reply(d, conv, model, "Checking the parcel.");
    OK(d, db_msg_thread(d, r5, &t, &n));
    assert_int_equal(n, 3);
    assert_int_equal(t[0].id, sys);
    assert_int_equal(t[1].id, c1b);
    assert_int_equal(t[2].id, r5);
    db_msgs_free(t, n);
    OK(d, db_conv_get(d, conv, &c));
    assert_int_equal(c.n_messages, 2);
    db_conv_clear(&c);

    /* a conversation without a system prompt starts empty */
    int64_t bare, first;
    OK(d, db_conv_create(d, NULL, NULL, &bare));
    OK(d, db_msgs_list(d, bare, true, &m, &n));
    assert_int_equal(n, 0);
    db_msgs_free(m, n);
    OK(d, db_msg_add(d, bare, DB_ROLE_CUSTOMER, "hi", &first));
    OK(d, db_msg_get(d, first, &one));
    assert_int_equal(one.prev_id, 0);
    db_msg_clear(&one);
    assert_int_equal(db_msg_add(d, 999999, DB_ROLE_CUSTOMER, "x", &first), DB_NOTFOUND);

    OK(d, db_check(d));
    db_close(d);
}

static char *title_of(db *d, int64_t conv)
{
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    char *t = xstrdup(c.title);
    db_conv_clear(&c);
    return t;
}

static void test_titles(void **state)
{
    (void)state;
    db *d = open_ok(fresh("titles.db"));
    int64_t conv, id;
    strbuf sb = {0};

    /* 70 two-byte characters: cut after 60 characters, not 60 bytes */
    for (int i = 0; i < 70; i++)
        sb_puts(&sb, "\xc3\xa9"); /* é */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    char *t = title_of(d, conv);
    assert_int_equal(strlen(t), 120 + 3);
    assert_memory_equal(t, sb.data, 120);
    assert_string_equal(t + 120, "...");
    assert_true(utf8_valid(t));
    free(t);

    /* a four-byte character straddling byte 60 stays whole */
    sb_clear(&sb);
    for (int i = 0; i < 58; i++)
        sb_putc(&sb, 'a');
    sb_puts(&sb, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80xyz"); /* 😀😀 at characters 59, 60 */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    t = title_of(d, conv);
    assert_int_equal(strlen(t), 58 + 8 + 3);
    assert_memory_equal(t, sb.data, 66);
    assert_string_equal(t + 66, "...");
    assert_true(utf8_valid(t));
    free(t);

    /* exactly 60 characters: kept whole, no ellipsis */
    sb_clear(&sb);
    for (int i = 0; i < 60; i++)
        sb_puts(&sb, i % 2 ? "b" : "\xe4\xb8\xad"); /* 中 */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    t = title_of(d, conv);
    assert_string_equal(t, sb.data);
    free(t);

    /* only the first line; a system message does not title */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_SYSTEM, "system text", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "");
    free(t);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Refund please\r\nOrder 1234", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "Refund please");
    free(t);

    /* a rename sticks through later messages, edits and replies */
    OK(d, db_conv_rename(d, conv, "Refund #1234"));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Anyone there?", &id));
    OK(d, db_msg_edit(d, id, "Hello?", &id));
    add_reply(d, conv, 0, "Yes.");
    t = title_of(d, conv);
    assert_string_equal(t, "Refund #1234");
    free(t);
    /* renamed before the first customer message: not overwritten either */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_conv_rename(d, conv, "Named early"));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "first words", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "Named early");
    free(t);
    /* even a rename to nothing is the agent's choice */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_conv_rename(d, conv, ""));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "first words", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "");
    free(t);
    assert_int_equal(db_conv_rename(d, 999999, "x"), DB_NOTFOUND);
    OK(d, db_conv_set_closed(d, conv, true));
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.status, "closed");
    db_conv_clear(&c);
    sb_free(&sb);
    db_close(d);
}

/* ---- 3. Search -------------------------------------------------------------------- */

static void check_search(db *d, const int64_t *convs, size_t n_convs, const char *q)
{
    /* the reference: conversations with a message containing q */
    bool want[16] = {0};
    size_t n_want = 0;
    for (size_t i = 0; i < n_convs; i++) {
        db_msg *m;
        size_t n;
        OK(d, db_msgs_list(d, convs[i], true, &m, &n));
        for (size_t k = 0; k < n && !want[i]; k++)
            want[i] = ascii_ci_contains(m[k].text, q);
        n_want += want[i];
        db_msgs_free(m, n);
    }
    db_conv *got;
    size_t n;
    db_status s = db_conv_list(d, q, 0, &got, &n);
    if (s != DB_OK)
        fail_msg("search '%s' = %d: %s", q, s, db_errmsg(d));
    if (n != n_want)
        fail_msg("search '%s' found %zu conversations, want %zu", q, n, n_want);
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        while (i < n_convs && convs[i] != got[k].id)
            i++;
        if (i == n_convs || !want[i])
            fail_msg("search '%s' found conversation %lld wrongly", q, (long long)got[k].id);
    }
    db_convs_free(got, n);
}

static void test_search(void **state)
{
    (void)state;
    db *d = open_ok(fresh("search.db"));
    const char *texts[] = {
        "My Router keeps dropping the WiFi connection",
        "我的订单还没有到达，请帮我查一下",
        "注文した商品が届きません。確認してください。",
        "He said \"hello\" AND left * NEAR(x, y) - a:b OR NOT ^start {col}: 'q'",
        "Plain note about invoices and refunds",
        "column:value -minus +plus (paren) [bracket] 100% under_score back\\slash",
        "Caf\xc3\xa9 cr\xc3\xa8me   three spaces, tab\there",
    };
    size_t nt = sizeof texts / sizeof *texts;
    int64_t convs[16], id;
    for (size_t i = 0; i < nt; i++) {
        OK(d, db_conv_create(d, "", NULL, &convs[i]));
        OK(d, db_msg_add(d, convs[i], DB_ROLE_CUSTOMER, texts[i], &id));
    }
    /* a reply's text is searchable once saved, and its old text no more */
    int64_t r;
    OK(d, db_reply_begin(d, convs[4], 0, NULL, 0, &r));
    OK(d, db_reply_progress(d, r, "draft GIRAFFE text"));
    check_search(d, convs, nt, "giraffe");
    OK(d, db_reply_end(d, r, "final PELICAN text", 0));

    const char *queries[] = {
        /* ASCII substrings, any case, inside words */
        "router", "ROUTER", "wifi conn", "outer kee", "pelican", "giraffe", "invoice",
        "nothing like this",
        /* CJK: three or more characters (trigram index), two (scan) */
        "订单还", "我的订单还没有", "查一下", "商品が届", "確認して", "订单", "到达", "届き", "注文",
        "飞机", "商店", "订",
        /* FTS syntax taken literally */
        "\"hello\"", "\"hello", "hello\"", "AND left", "AND", "left *", "*", "NEAR(x", "NEAR(", "- a:b",
        "a:b", ":", "-", "OR NOT", "NOT", "^start", "{col}", "'q'", "\"\"", "\"", "NEAR(zz", "AND OR",
        "column:value", "-minus", "+plus", "(paren)", "[bracket]", "100%", "under_", "_", "%",
        "back\\slash", "\\", "x AND y", "col*", "^",
        /* other characters outside ASCII, whitespace, a stray byte */
        "caf\xc3\xa9", "\xc3\xa9", "\xc3\xa9 cr", "   ", "  ", "\t", "tab\there", "\xff\xfe\xfd", "\xff",
    };
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++)
        check_search(d, convs, nt, queries[q]);

    /* spot checks, so the reference itself is not the only judge */
    db_conv *got;
    size_t n;
    OK(d, db_conv_list(d, "ROUTER", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[0]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "订单", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[1]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "商品が", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[2]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "NEAR(", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[3]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "draft", 0, &got, &n));
    assert_int_equal(n, 0);
    db_convs_free(got, n);

    /* no search: all, newest first; a limit */
    OK(d, db_conv_list(d, "", 0, &got, &n));
    assert_int_equal(n, nt);
    assert_int_equal(got[0].id, convs[4]); /* the reply touched it last */
    db_convs_free(got, n);
    OK(d, db_conv_list(d, NULL, 2, &got, &n));
    assert_int_equal(n, 2);
    db_convs_free(got, n);
    db_close(d);
}

/* ---- 4. Ratings ----------------------------------------------------------------- */

static db_rating *rating_of(db *d, int64_t msg, const char *rater, db_rating **all, size_t *n)
{
    OK(d, db_ratings_get(d, msg, all, n));
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*all)[i].rater, rater))
            return &(*all)[i];
    return NULL;
}

static int unrated_in(db *d, int64_t conv)
{
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    int u = c.n_unrated;
    db_conv_clear(&c);
    return u;
}

static void test_ratings(void **state)
{
    (void)state;
    db *d = open_ok(fresh("ratings.db"));
    int64_t conv, cust;
    OK(d, db_conv_create(d, "", "sys", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "question", &cust));
    int64_t reply = add_reply(d, conv, 0, "answer");
    int64_t other = add_reply(d, conv, 0, "another answer");
    assert_int_equal(unrated_in(d, conv), 2);
    int64_t unrated, total;
    OK(d, db_review_counts(d, &unrated, &total));
    assert_int_equal(unrated, 2);
    assert_int_equal(total, 2);

    db_rating *all, *r;
    size_t n;
    /* a thumb alone leaves the reply in the queue */
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = 1}));
    assert_int_equal(unrated_in(d, conv), 2);
    OK(d, db_review_counts(d, &unrated, &total));
    assert_int_equal(unrated, 2);
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    assert_int_equal(c.n_rated, 1);
    db_conv_clear(&c);
    r = rating_of(d, reply, "alice", &all, &n);
    assert_non_null(r);
    assert_int_equal(r->thumbs, 1);
    assert_int_equal(r->score, 0);
    assert_null(r->comment);
    db_ratings_free(all, n);

    /* a score takes it out; thumbs kept */
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 4}));
    assert_int_equal(unrated_in(d, conv), 1);
    OK(d, db_review_counts(d, &unrated, &total));
    assert_int_equal(unrated, 1);
    /* only a comment: thumbs and score kept */
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_COMMENT, .comment = "clear"}));
    r = rating_of(d, reply, "alice", &all, &n);
    assert_int_equal(n, 1);
    assert_int_equal(r->thumbs, 1);
    assert_int_equal(r->score, 4);
    assert_string_equal(r->comment, "clear");
    db_ratings_free(all, n);

    /* tags replace the rater's earlier ones; other fields untouched */
    const char *t1[] = {"polite", "accurate", "polite"};
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_TAGS, .tags = t1, .n_tags = 3}));
    r = rating_of(d, reply, "alice", &all, &n);
    assert_int_equal(r->n_tags, 2);
    assert_string_equal(r->tags[0], "accurate");
    assert_string_equal(r->tags[1], "polite");
    assert_int_equal(r->score, 4);
    assert_string_equal(r->comment, "clear");
    db_ratings_free(all, n);
    const char *t2[] = {"short"};
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_TAGS, .tags = t2, .n_tags = 1}));
    r = rating_of(d, reply, "alice", &all, &n);
    assert_int_equal(r->n_tags, 1);
    assert_string_equal(r->tags[0], "short");
    assert_int_equal(r->thumbs, 1);
    double updated = r->updated_at;
    db_ratings_free(all, n);

    /* out of range: refused, nothing written */
    db_rating_in bad = {.fields = DB_RATE_SCORE | DB_RATE_THUMBS | DB_RATE_COMMENT | DB_RATE_TAGS,
                        .score = 6, .thumbs = -1, .comment = "x", .tags = t1, .n_tags = 1};
    assert_int_equal(db_rate(d, reply, "alice", &bad), DB_INVALID);
    assert_non_null(strstr(db_errmsg(d), "6"));
    assert_int_equal(db_rate(d, reply, "carol", &bad), DB_INVALID);
    bad.score = 3;
    bad.thumbs = 2;
    assert_int_equal(db_rate(d, reply, "carol", &bad), DB_INVALID);
    bad.thumbs = 1;
    bad.score = -1;
    assert_int_equal(db_rate(d, reply, "carol", &bad), DB_INVALID);
    bad.score = 3;
    assert_int_equal(db_rate(d, reply, "", &bad), DB_INVALID);
    assert_int_equal(db_rate(d, reply, NULL, &bad), DB_INVALID);
    r = rating_of(d, reply, "alice", &all, &n);
    assert_int_equal(n, 1); /* no carol */
    assert_int_equal(r->score, 4);
    assert_int_equal(r->thumbs, 1);
    assert_string_equal(r->comment, "clear");
    assert_int_equal(r->n_tags, 1);
    assert_true(r->updated_at == updated);
    db_ratings_free(all, n);

    /* only agent replies, only existing messages */
    assert_int_equal(db_rate(d, 999999, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}),
                     DB_NOTFOUND);
    assert_int_equal(db_rate(d, cust, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}),
                     DB_INVALID);
    OK(d, db_ratings_get(d, cust, &all, &n));
    assert_int_equal(n, 0);
    db_ratings_free(all, n);

    /* a second rater is independent */
    OK(d, db_rate(d, reply, "bob",
                  &(db_rating_in){.fields = DB_RATE_THUMBS | DB_RATE_SCORE, .thumbs = -1, .score = 2}));
    OK(d, db_ratings_get(d, reply, &all, &n));
    assert_int_equal(n, 2);
    assert_string_equal(all[0].rater, "alice");
    assert_int_equal(all[0].thumbs, 1);
    assert_int_equal(all[0].score, 4);
    assert_int_equal(all[0].n_tags, 1);
    assert_string_equal(all[1].rater, "bob");
    assert_int_equal(all[1].thumbs, -1);
    assert_int_equal(all[1].score, 2);
    assert_int_equal(all[1].n_tags, 0);
    assert_null(all[1].comment);
    db_ratings_free(all, n);
    /* clearing one rater's score: still scored by the other */
    OK(d, db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_SCORE | DB_RATE_COMMENT}));
    assert_int_equal(unrated_in(d, conv), 1);
    r = rating_of(d, reply, "alice", &all, &n);
    assert_int_equal(r->score, 0);
    assert_null(r->comment);
    assert_int_equal(r->thumbs, 1);
    db_ratings_free(all, n);
    OK(d, db_rating_delete(d, reply, "bob"));
    assert_int_equal(unrated_in(d, conv), 2);

    /* the queue follows */
    int64_t *ids;
    OK(d, db_rate(d, other, "bob", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 1}));
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_UNRATED}, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], reply);
    free(ids);
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_LOW}, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], other);
    free(ids);
    db_close(d);
}

/* A reply's confidence stored and read back; the review queue by lowest
 * confidence (unknown last, ties oldest first) and by deployment arm. */
static void test_confidence_queue(void **state)
{
    (void)state;
    const char *p = fresh("confidence.db");
    db *d = open_ok(p);
    int64_t m = add_model(d, 'c', "conf.gguf");
    /* five conversations, one reply each: means -0.5, unknown, -2.0, -0.5, -1.25 */
    int64_t conv[5], reply[5], cust;
    for (int i = 0; i < 5; i++) {
        OK(d, db_conv_create(d, "default", NULL, &conv[i]));
        OK(d, db_msg_add(d, conv[i], DB_ROLE_CUSTOMER, "Where is my parcel?", &cust));
        reply[i] = add_reply(d, conv[i], m, "It is on its way.");
    }
    OK(d, db_reply_confidence(d, reply[0], -0.5, -3.0));
    OK(d, db_reply_confidence(d, reply[2], -2.0, -7.5));
    OK(d, db_reply_confidence(d, reply[3], -0.5, -1.0));
    OK(d, db_reply_confidence(d, reply[4], -1.25, -4.0));
    /* a customer message has no confidence; nor does a missing one */
    assert_int_equal(db_reply_confidence(d, cust, -1, -1), DB_NOTFOUND);
    assert_int_equal(db_reply_confidence(d, 9999, -1, -1), DB_NOTFOUND);

    db_msg msg;
    OK(d, db_msg_get(d, reply[2], &msg));
    assert_true(msg.has_logprob);
    assert_true(msg.logprob_mean == -2.0 && msg.logprob_min == -7.5);
    db_msg_clear(&msg);
    OK(d, db_msg_get(d, reply[1], &msg));
    assert_false(msg.has_logprob);
    db_msg_clear(&msg);
    /* NaN stores unknown */
    OK(d, db_reply_confidence(d, reply[3], NAN, NAN));
    assert_int_equal(raw_int(p, "SELECT count(*) FROM messages WHERE logprob_mean IS NULL AND role = 'agent'"), 2);
    OK(d, db_reply_confidence(d, reply[3], -0.5, -1.0));

    int64_t *ids;
    size_t n;
    /* oldest first by default */
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL}, &ids, &n));
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(ids[i], reply[i]);
    free(ids);
    /* lowest mean first: -2.0, -1.25, -0.5 (older), -0.5, then the unknown */
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .by_confidence = true}, &ids, &n));
    assert_int_equal(n, 5);
    int want[5] = {2, 4, 0, 3, 1};
    for (int i = 0; i < 5; i++)
        if (ids[i] != reply[want[i]])
            fail_msg("position %d: reply %lld, want %lld", i, (long long)ids[i], (long long)reply[want[i]]);
    free(ids);

    /* arms: 0 and 2 candidate, 3 stable, 4 pinned, 1 none */
    char sql[200];
    const char *arm[5] = {"candidate", NULL, "candidate", "stable", "pinned"};
    for (int i = 0; i < 5; i++)
        if (arm[i]) {
            snprintf(sql, sizeof sql, "UPDATE conversations SET arm = '%s' WHERE id = %lld", arm[i],
                     (long long)conv[i]);
            raw_exec(p, sql);
        }
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .arm = "candidate"}, &ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], reply[0]);
    assert_int_equal(ids[1], reply[2]);
    free(ids);
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .arm = "candidate", .by_confidence = true},
                          &ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], reply[2]);
    assert_int_equal(ids[1], reply[0]);
    free(ids);
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .arm = "stable"}, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], reply[3]);
    free(ids);
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .arm = "pinned"}, &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], reply[4]);
    free(ids);
    /* with other filters: scored replies leave the unrated queue */
    OK(d, db_rate(d, reply[2], "ana", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}));
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_UNRATED, .arm = "candidate", .by_confidence = true},
                          &ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], reply[0]);
    free(ids);
    ids = (int64_t *)&n; /* must be reset */
    assert_int_equal(db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_ALL, .arm = "canary"}, &ids, &n),
                     DB_INVALID);
    assert_null(ids);
    assert_int_equal(n, 0);
    assert_non_null(strstr(db_errmsg(d), "canary"));
    db_close(d);
}

/* ---- 5. Percentiles --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Check db_percentiles(v) two ways: by sorting a copy and indexing, and
 * by the definition (the value v in the data with at least `need` values
 * <= v and fewer than `need` values < v, i.e. the smallest such value). */
static void check_pcts(const double *v, size_t n)
{
    double *work = xmallocarray(n, sizeof *work), *sorted = xmallocarray(n, sizeof *sorted);
    memcpy(work, v, n * sizeof *v);
    memcpy(sorted, v, n * sizeof *v);
    db_pcts got = db_percentiles(work, n);
    assert_true(got.valid);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    const unsigned ps[4] = {50, 90, 95, 99};
    const double gv[4] = {got.p50, got.p90, got.p95, got.p99};
    for (int k = 0; k < 4; k++) {
        size_t need = (ps[k] * n) / 100 + ((ps[k] * n) % 100 != 0); /* ceil(p·n/100) */
        if (need == 0)
            need = 1;
        if (gv[k] != sorted[need - 1])
            fail_msg("n=%zu p%u: got %g, sorted[%zu] = %g", n, ps[k], gv[k], need - 1, sorted[need - 1]);
        size_t le = 0, lt = 0;
        bool member = false;
        for (size_t i = 0; i < n; i++) {
            le += v[i] <= gv[k];
            lt += v[i] < gv[k];
            member |= v[i] == gv[k];
        }
        if (!member || le < need || lt >= need)
            fail_msg("n=%zu p%u = %g: member %d, %zu <=, %zu <, need %zu", n, ps[k], gv[k], member, le, lt,
                     need);
    }
    /* reordered in place, nothing lost */
    qsort(work, n, sizeof *work, cmp_double);
    assert_memory_equal(work, sorted, n * sizeof *work);
    free(work);
    free(sorted);
}

/* The smallest data value with at least ceil(p·n/100) values <= it, by
 * brute force over every candidate (small n only). */
static double brute_pct(const double *v, size_t n, unsigned p)
{
    size_t need = (p * n + 99) / 100;
    double best = INFINITY;
    for (size_t i = 0; i < n; i++) {
        size_t le = 0;
        for (size_t j = 0; j < n; j++)
            le += v[j] <= v[i];
        if (le >= (need ? need : 1) && v[i] < best)
            best = v[i];
    }
    return best;
}

static void test_percentiles(void **state)
{
    (void)state;
    double none[1] = {0};
    assert_false(db_percentiles(none, 0).valid);
    double one[1] = {-3.5};
    db_pcts p1 = db_percentiles(one, 1);
    assert_true(p1.valid && p1.p50 == -3.5 && p1.p99 == -3.5);
    /* a hand-worked case: 1..10 -> p50 = 5, p90 = 9, p95 = p99 = 10 */
    double ten[10] = {7, 3, 10, 1, 9, 2, 8, 6, 4, 5};
    db_pcts p10 = db_percentiles(ten, 10);
    assert_true(p10.p50 == 5 && p10.p90 == 9 && p10.p95 == 10 && p10.p99 == 10);
    /* 1..100: the p-th is p */
    double hundred[100];
    for (int i = 0; i < 100; i++)
        hundred[i] = 100 - i;
    db_pcts p100 = db_percentiles(hundred, 100);
    assert_true(p100.p50 == 50 && p100.p90 == 90 && p100.p95 == 95 && p100.p99 == 99);

    rng_state = 12345;
    double *v = xmallocarray(200000, sizeof *v);
    for (size_t n = 1; n <= 200; n++)
        for (int round = 0; round < 12; round++) {
            int kind = round % 6;
            for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case 0: v[i] = (double)rnd_below(1000000) / 7.0; break;             /* distinct-ish */
                case 1: v[i] = (double)rnd_below(5); break;                         /* many duplicates */
                case 2: v[i] = (double)rnd_below(41) - 20.0; break;                 /* negatives */
                case 3: v[i] = 42.25; break;                                        /* all equal */
                case 4: v[i] = (double)i * (round % 12 < 6 ? 1 : -1); break;        /* sorted */
                default: v[i] = rnd_below(10) ? 1.0 : -1e300 + (double)rnd_below(3); /* two clumps */
                }
            }
            check_pcts(v, n);
            if (n <= 60 && round < 6) {
                double c[200];
                memcpy(c, v, n * sizeof *v);
                db_pcts p = db_percentiles(c, n);
                assert_true(p.p50 == brute_pct(v, n, 50) && p.p90 == brute_pct(v, n, 90) &&
                            p.p95 == brute_pct(v, n, 95) && p.p99 == brute_pct(v, n, 99));
            }
        }
    /* large arrays, including the shapes that hurt a quickselect */
    const size_t big[] = {1000, 4097, 65536, 200000};
    for (size_t b = 0; b < 4; b++) {
        size_t n = big[b];
        for (int kind = 0; kind < 6; kind++) {
            for (size_t i = 0; i < n; i++)
                v[i] = kind == 0   ? (double)rnd() / 3.0
                       : kind == 1 ? (double)rnd_below(3) - 1.0
                       : kind == 2 ? -(double)i
                       : kind == 3 ? (double)i
                       : kind == 4 ? 7.0
                                   : (double)(i % 2 ? i : n - i); /* organ pipe */
            check_pcts(v, n);
        }
    }
    free(v);
}

/* ---- 6. Aggregates -------------------------------------------------------------- */

typedef struct {
    int64_t id, model;
    db_outcome outcome;
    int gen_tokens;
    double latency, ttft, prefill_tps, decode_tps;
    bool old; /* moved two hours back */
} req_row;

/* What db_stats_compute should say over rows passing keep(). */
typedef struct {
    int64_t requests, errors, cancelled, running, tokens;
    double prefill_sum, decode_sum;
    int64_t prefill_n, decode_n;
    double lat[512], ttft[512];
    size_t n_lat, n_ttft;
} expect_stats;

static void expect_from(const req_row *rows, size_t n, bool with_old, int64_t model, expect_stats *e)
{
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        const req_row *r = &rows[i];
        if ((r->old && !with_old) || (model && r->model != model))
            continue;
        if (r->outcome == DB_OUTCOME_RUNNING) {
            e->running++;
            continue;
        }
        e->requests++;
        e->errors += r->outcome == DB_OUTCOME_ERROR || r->outcome == DB_OUTCOME_TIMEOUT ||
                     r->outcome == DB_OUTCOME_INTERRUPTED;
        e->cancelled += r->outcome == DB_OUTCOME_CANCELLED;
        e->tokens += r->gen_tokens;
        if (r->latency >= 0)
            e->lat[e->n_lat++] = r->latency;
        if (r->ttft >= 0)
            e->ttft[e->n_ttft++] = r->ttft;
        if (r->prefill_tps > 0) {
            e->prefill_sum += r->prefill_tps;
            e->prefill_n++;
        }
        if (r->decode_tps > 0) {
            e->decode_sum += r->decode_tps;
            e->decode_n++;
        }
    }
}

/* The nearest-rank percentile by sorting (the reference). */
static void ref_pcts(const double *v, size_t n, db_pcts *out)
{
    memset(out, 0, sizeof *out);
    if (!n)
        return;
    double *s = xmallocarray(n, sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    out->valid = true;
    out->p50 = s[(50 * n + 99) / 100 - 1];
    out->p90 = s[(90 * n + 99) / 100 - 1];
    out->p95 = s[(95 * n + 99) / 100 - 1];
    out->p99 = s[(99 * n + 99) / 100 - 1];
    free(s);
}

static void assert_pcts(const char *what, db_pcts got, const double *v, size_t n)
{
    db_pcts want;
    ref_pcts(v, n, &want);
    if (got.valid != want.valid ||
        (want.valid && (got.p50 != want.p50 || got.p90 != want.p90 || got.p95 != want.p95 ||
                        got.p99 != want.p99)))
        fail_msg("%s: got %d %g/%g/%g/%g, want %d %g/%g/%g/%g over %zu values", what, got.valid, got.p50,
                 got.p90, got.p95, got.p99, want.valid, want.p50, want.p90, want.p95, want.p99, n);
}

static void near(const char *what, double got, double want)
{
    if (fabs(got - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static void compare_stats(const char *what, const db_stats *s, const expect_stats *e)
{
    if (s->requests != e->requests || s->errors != e->errors || s->cancelled != e->cancelled ||
        s->running != e->running || s->tokens_generated != e->tokens)
        fail_msg("%s: requests %lld/%lld errors %lld/%lld cancelled %lld/%lld running %lld/%lld "
                 "tokens %lld/%lld (got/want)",
                 what, (long long)s->requests, (long long)e->requests, (long long)s->errors,
                 (long long)e->errors, (long long)s->cancelled, (long long)e->cancelled,
                 (long long)s->running, (long long)e->running, (long long)s->tokens_generated,
                 (long long)e->tokens);
    near(what, s->error_rate, e->requests ? (double)e->errors / (double)e->requests : 0);
    near(what, s->prefill_tps, e->prefill_n ? e->prefill_sum / (double)e->prefill_n : 0);
    near(what, s->decode_tps, e->decode_n ? e->decode_sum / (double)e->decode_n : 0);
    assert_pcts(what, s->latency_ms, e->lat, e->n_lat);
    assert_pcts(what, s->ttft_ms, e->ttft, e->n_ttft);
}

static void test_aggregates(void **state)
{
    (void)state;
    const char *p = fresh("stats.db");
    db *d = open_ok(p);
    int64_t ma = add_model(d, 'a', "a.gguf"), mb = add_model(d, 'b', "b.gguf");
    static req_row rows[400];
    size_t n = 400;
    rng_state = 777;
    const db_outcome outcomes[] = {DB_OUTCOME_OK,        DB_OUTCOME_OK,      DB_OUTCOME_OK,
                                   DB_OUTCOME_ERROR,     DB_OUTCOME_TIMEOUT, DB_OUTCOME_CANCELLED,
                                   DB_OUTCOME_INTERRUPTED, DB_OUTCOME_RUNNING};
    strbuf old_ids = {0};
    for (size_t i = 0; i < n; i++) {
        req_row *r = &rows[i];
        r->model = rnd_below(3) ? ma : mb;
        r->outcome = outcomes[rnd_below(8)];
        r->gen_tokens = rnd_below(4) ? (int)rnd_below(300) : 0;
        r->latency = rnd_below(10) ? (double)rnd_below(50) * 25.0 : -1; /* many ties; some unknown */
        r->ttft = r->gen_tokens > 0 && rnd_below(8) ? (double)rnd_below(400) / 4.0 : -1;
        r->prefill_tps = rnd_below(5) ? (double)rnd_below(1000) / 8.0 : 0; /* 0: unknown */
        r->decode_tps = rnd_below(5) ? (double)rnd_below(800) / 16.0 : -1;
        r->old = rnd_below(3) == 0;
        OK(d, db_request_begin(d, r->model, "local", 0, 0, 1.0, &r->id));
        if (r->outcome != DB_OUTCOME_RUNNING) {
            db_request_result res = {.outcome = r->outcome,
                                     .error = r->outcome == DB_OUTCOME_ERROR ? "boom" : NULL,
                                     .prompt_tokens = 10,
                                     .gen_tokens = r->gen_tokens,
                                     .ttft_ms = r->ttft,
                                     .prefill_ms = 5,
                                     .decode_ms = 6,
                                     .latency_ms = r->latency,
                                     .prefill_tps = r->prefill_tps,
                                     .decode_tps = r->decode_tps,
                                     .attempts = 1};
            OK(d, db_request_finish(d, r->id, &res));
        }
        if (r->old)
            sb_printf(&old_ids, "%s%lld", old_ids.len ? ", " : "", (long long)r->id);
    }
    /* Rows are stamped db_now() by db_request_begin; to have rows outside
     * a window without waiting, move a third of them two hours back. */
    strbuf sql = {0};
    sb_printf(&sql, "UPDATE requests SET started_at = started_at - 7200 WHERE id IN (%s)", old_ids.data);
    raw_exec(p, sql.data);
    sb_free(&sql);
    sb_free(&old_ids);

    static expect_stats e;
    db_stats s;
    double now = db_now();

    /* The exact path (raw rows): these comparisons are exact percentiles
     * over windows that do not start on a whole minute, with rows moved in
     * time after they were folded.  The rollups' figures are checked
     * against raw rows in tests/test_rollup.c (within 1%, whole minutes). */
    OK(d, db_stats_compute_exact(d, DB_WIN_ALL, now, NULL, 0, &s));
    expect_from(rows, n, true, 0, &e);
    assert_true(e.requests > 200 && e.running > 20 && e.cancelled > 20 && e.n_lat > 200);
    compare_stats("all", &s, &e);
    assert_true(s.to == now);
    assert_true(s.from <= now - 7200 && s.from > now - 7300);
    /* per model, most requests first */
    assert_int_equal(s.n_models, 2);
    assert_int_equal(s.models[0].model_id, ma);
    assert_true(s.models[0].requests >= s.models[1].requests);
    for (size_t m = 0; m < 2; m++) {
        static expect_stats em;
        expect_from(rows, n, true, s.models[m].model_id, &em);
        assert_int_equal(s.models[m].requests, em.requests);
        assert_int_equal(s.models[m].errors, em.errors);
        assert_pcts("per model latency", s.models[m].latency_ms, em.lat, em.n_lat);
        assert_pcts("per model ttft", s.models[m].ttft_ms, em.ttft, em.n_ttft);
        near("per model decode", s.models[m].decode_tps, em.decode_n ? em.decode_sum / (double)em.decode_n : 0);
    }
    db_stats_free(&s);

    OK(d, db_stats_compute_exact(d, DB_WIN_24H, now, NULL, 0, &s));
    compare_stats("24h", &s, &e);
    db_stats_free(&s);

    OK(d, db_stats_compute_exact(d, DB_WIN_1H, now, NULL, 0, &s));
    expect_from(rows, n, false, 0, &e);
    assert_true(e.requests > 100);
    compare_stats("1h", &s, &e);
    assert_true(s.from == now - 3600);
    assert_int_equal(s.n_series, 60);
    int64_t in_series = 0, tokens_series = 0;
    for (size_t b = 0; b < s.n_series; b++) {
        in_series += s.series[b].requests;
        tokens_series += s.series[b].tokens;
    }
    assert_int_equal(in_series, e.requests);
    assert_int_equal(tokens_series, e.tokens);
    db_stats_free(&s);

    /* a model filter */
    OK(d, db_stats_compute_exact(d, DB_WIN_1H, now, &mb, 1, &s));
    expect_from(rows, n, false, mb, &e);
    compare_stats("1h model b", &s, &e);
    assert_int_equal(s.n_models, 1);
    assert_int_equal(s.models[0].model_id, mb);
    db_stats_free(&s);
    int64_t both[2] = {ma, mb};
    OK(d, db_stats_compute_exact(d, DB_WIN_ALL, now, both, 2, &s));
    expect_from(rows, n, true, 0, &e);
    compare_stats("all, both models", &s, &e);
    db_stats_free(&s);

    /* empty windows: between the two groups, before everything, an unknown model */
    OK(d, db_stats_compute(d, DB_WIN_1M, now - 3600, NULL, 0, &s));
    assert_int_equal(s.requests, 0);
    assert_int_equal(s.running, 0);
    assert_false(s.latency_ms.valid);
    assert_false(s.ttft_ms.valid);
    assert_true(s.error_rate == 0 && s.decode_tps == 0);
    db_stats_free(&s);
    OK(d, db_stats_compute(d, DB_WIN_5M, 1e9, NULL, 0, &s));
    assert_int_equal(s.requests, 0);
    assert_false(s.latency_ms.valid);
    db_stats_free(&s);
    int64_t nobody = 999;
    OK(d, db_stats_compute(d, DB_WIN_ALL, now, &nobody, 1, &s));
    assert_int_equal(s.requests, 0);
    assert_false(s.latency_ms.valid);
    db_stats_free(&s);
    db_stats_free(NULL);

    /* finishing as running is refused; an unknown request is reported */
    db_request_result bad = {.outcome = DB_OUTCOME_RUNNING};
    assert_int_equal(db_request_finish(d, rows[0].id, &bad), DB_INVALID);
    bad.outcome = DB_OUTCOME_OK;
    assert_int_equal(db_request_finish(d, 999999, &bad), DB_NOTFOUND);
    db_close(d);

    /* an empty store */
    d = open_ok(fresh("stats-empty.db"));
    OK(d, db_stats_compute(d, DB_WIN_ALL, db_now(), NULL, 0, &s));
    assert_int_equal(s.requests, 0);
    assert_false(s.latency_ms.valid);
    db_stats_free(&s);
    db_close(d);
}

/* ---- 6b. The per-minute series, bucket by bucket, and the thumbs-down rate -------- */

/* A finished (or running) request with known figures, moved to start at
 * `at` (epoch seconds) with SQL: the API stamps db_now(). */
static int64_t request_at(const char *path, db *d, int64_t model, double at, db_outcome o, double latency,
                          double ttft, double decode, int tokens)
{
    int64_t id;
    OK(d, db_request_begin(d, model, "local", 0, 0, 0, &id));
    if (o != DB_OUTCOME_RUNNING) {
        db_request_result r = {.outcome = o,
                               .error = o == DB_OUTCOME_ERROR ? "boom" : NULL,
                               .prompt_tokens = 3,
                               .gen_tokens = tokens,
                               .ttft_ms = ttft,
                               .prefill_ms = -1,
                               .decode_ms = -1,
                               .latency_ms = latency,
                               .decode_tps = decode,
                               .attempts = 1};
        OK(d, db_request_finish(d, id, &r));
    }
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.6f WHERE id = %lld", at, (long long)id);
    raw_exec(path, sql);
    return id;
}

/* What one minute of the series should hold, worked out by hand. */
typedef struct {
    size_t bucket;
    int64_t requests, errors, tokens;
    bool lat_valid;
    double lat[4]; /* p50 p90 p95 p99 */
    bool ttft_valid;
    double ttft[4];
    double decode;
} want_minute;

static void expect_pcts(const char *what, size_t b, db_pcts got, bool valid, const double want[4])
{
    if (got.valid != valid ||
        (valid && (got.p50 != want[0] || got.p90 != want[1] || got.p95 != want[2] || got.p99 != want[3])))
        fail_msg("minute %zu %s: got %s %g/%g/%g/%g, want %s %g/%g/%g/%g", b, what, got.valid ? "valid" : "none",
                 got.p50, got.p90, got.p95, got.p99, valid ? "valid" : "none", want[0], want[1], want[2], want[3]);
}

/* Every minute of s: the ones listed hold what they say, all others are
 * empty; minute b starts at first + 60 b. */
static void expect_series(const char *what, const db_stats *s, size_t n, double first, const want_minute *w,
                          size_t nw)
{
    if (s->n_series != n)
        fail_msg("%s: %zu minutes, want %zu", what, s->n_series, n);
    for (size_t b = 0; b < n; b++) {
        const db_minute *m = &s->series[b];
        want_minute empty = {.bucket = b};
        const want_minute *e = &empty;
        for (size_t i = 0; i < nw; i++)
            if (w[i].bucket == b)
                e = &w[i];
        if (m->start != first + 60.0 * (double)b)
            fail_msg("%s: minute %zu starts at %.3f, want %.3f", what, b, m->start, first + 60.0 * (double)b);
        if (m->requests != e->requests || m->errors != e->errors || m->tokens != e->tokens ||
            m->decode_tps != e->decode)
            fail_msg("%s: minute %zu: requests %lld errors %lld tokens %lld decode %g, want %lld %lld %lld %g",
                     what, b, (long long)m->requests, (long long)m->errors, (long long)m->tokens, m->decode_tps,
                     (long long)e->requests, (long long)e->errors, (long long)e->tokens, e->decode);
        expect_pcts("latency", b, m->latency_ms, e->lat_valid, e->lat);
        expect_pcts("ttft", b, m->ttft_ms, e->ttft_valid, e->ttft);
    }
}

static void test_series_buckets(void **state)
{
    (void)state;
    const char *p = fresh("series.db");
    db *d = open_ok(p);
    int64_t model = add_model(d, 's', "s.gguf");
    const double M = 1800000000.0; /* a minute's start (1.8e9 = 60 x 3e7), in 2027 */
    const double now = M + 42;

    /* minute M (the one holding now): three finished, one running */
    request_at(p, d, model, M, DB_OUTCOME_OK, 100, 10, 10, 5); /* exactly at the minute's start */
    request_at(p, d, model, M + 20, DB_OUTCOME_OK, 300, 30, 20, 6);
    request_at(p, d, model, M + 41, DB_OUTCOME_OK, 200, 20, -1, 7);
    request_at(p, d, model, M + 30, DB_OUTCOME_RUNNING, 0, 0, 0, 0);
    /* minute M-60: an error a millisecond before M, a timeout, a cancelled reply (not an error) */
    request_at(p, d, model, M - 0.001, DB_OUTCOME_ERROR, 1000, -1, -1, 0);
    request_at(p, d, model, M - 59, DB_OUTCOME_TIMEOUT, 2000, -1, -1, 0);
    request_at(p, d, model, M - 30, DB_OUTCOME_CANCELLED, 50, 5, 40, 1);
    /* minute M-120: an interrupted reply, latency unknown */
    request_at(p, d, model, M - 61, DB_OUTCOME_INTERRUPTED, -1, 7, -1, 2);
    /* minute M-1740: twenty, latencies 10..200 ms, times to first token 20..1 ms */
    for (int i = 0; i < 20; i++)
        request_at(p, d, model, M - 1740 + i, DB_OUTCOME_OK, 10.0 * (i + 1), 20 - i, 100 + i, 1);
    /* minute M-3540, the first of the hour's 60: one, at its very start */
    request_at(p, d, model, M - 3540, DB_OUTCOME_OK, 7, 3, 8, 4);
    /* before the hour (now - 3601) and after now (another host's clock): in no 1h minute */
    request_at(p, d, model, now - 3601, DB_OUTCOME_OK, 99999, 9, 9, 1000);
    request_at(p, d, model, now + 5, DB_OUTCOME_OK, 88888, 8, 8, 500);

    /* By hand (nearest rank: the p-th of n sorted values is at rank ceil(p n / 100)):
     *   M:      latency {100,300,200} -> 200/300/300/300; ttft {10,30,20} -> 20/30/30/30;
     *           decode mean of 10 and 20 (the third unknown) = 15; tokens 18
     *   M-60:   latency {1000,2000,50} -> 1000/2000/2000/2000; ttft only the cancelled
     *           one's 5 (no tokens, no time to first token); 2 errors; decode 40
     *   M-120:  1 error, no latency, ttft 7, tokens 2
     *   M-1740: latency 10..200 -> ranks 10, 18, 19, 20 = 100/180/190/200, ttft 1..20 ->
     *           10/18/19/20, decode mean of 100..119 = 109.5, tokens 20
     *   M-3540: 7 ms, ttft 3, decode 8, tokens 4 */
    const want_minute hour[] = {
        {59, 3, 0, 18, true, {200, 300, 300, 300}, true, {20, 30, 30, 30}, 15},
        {58, 3, 2, 1, true, {1000, 2000, 2000, 2000}, true, {5, 5, 5, 5}, 40},
        {57, 1, 1, 2, false, {0}, true, {7, 7, 7, 7}, 0},
        {30, 20, 0, 20, true, {100, 180, 190, 200}, true, {10, 18, 19, 20}, 109.5},
        {0, 1, 0, 4, true, {7, 7, 7, 7}, true, {3, 3, 3, 3}, 8},
    };
    db_stats s;
    /* exact per-minute percentiles by hand, rows moved in time after they
     * were folded: the raw-row path (the rollups' series: test_rollup.c) */
    OK(d, db_stats_compute_exact(d, DB_WIN_1H, now, NULL, 0, &s));
    expect_series("1h", &s, 60, M - 3540, hour, sizeof hour / sizeof *hour);
    assert_int_equal(s.requests, 28);
    assert_int_equal(s.errors, 3);
    assert_int_equal(s.cancelled, 1);
    assert_int_equal(s.running, 1);
    assert_int_equal(s.tokens_generated, 45);
    db_stats_free(&s);

    /* 5 minutes: the same three minutes, now the last three of five */
    const want_minute five[] = {{4, 3, 0, 18, true, {200, 300, 300, 300}, true, {20, 30, 30, 30}, 15},
                                {3, 3, 2, 1, true, {1000, 2000, 2000, 2000}, true, {5, 5, 5, 5}, 40},
                                {2, 1, 1, 2, false, {0}, true, {7, 7, 7, 7}, 0}};
    OK(d, db_stats_compute_exact(d, DB_WIN_5M, now, NULL, 0, &s));
    expect_series("5m", &s, 5, M - 240, five, 3);
    assert_int_equal(s.requests, 7);
    db_stats_free(&s);

    /* all: from the oldest row (now - 3601), 61 minutes from M - 3600 */
    const want_minute all[] = {
        {60, 3, 0, 18, true, {200, 300, 300, 300}, true, {20, 30, 30, 30}, 15},
        {31, 20, 0, 20, true, {100, 180, 190, 200}, true, {10, 18, 19, 20}, 109.5},
        {59, 3, 2, 1, true, {1000, 2000, 2000, 2000}, true, {5, 5, 5, 5}, 40},
        {58, 1, 1, 2, false, {0}, true, {7, 7, 7, 7}, 0},
        {1, 1, 0, 4, true, {7, 7, 7, 7}, true, {3, 3, 3, 3}, 8},
        {0, 1, 0, 1000, true, {99999, 99999, 99999, 99999}, true, {9, 9, 9, 9}, 9},
    };
    OK(d, db_stats_compute_exact(d, DB_WIN_ALL, now, NULL, 0, &s));
    expect_series("all", &s, 61, M - 3600, all, sizeof all / sizeof *all);
    assert_int_equal(s.requests, 29);
    db_stats_free(&s);
    db_close(d);
}

/* The thumbs-down rate the dashboard alerts on: of the thumbs (up or down,
 * from any rater) given to replies written since `from`. */
static void test_thumbs_down_rate(void **state)
{
    (void)state;
    const char *p = fresh("thumbs.db");
    db *d = open_ok(p);
    int64_t model = add_model(d, 't', "t.gguf"), conv, cust, r[12];
    OK(d, db_conv_create(d, "", NULL, &conv));
    for (int i = 0; i < 12; i++) {
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "hello?", &cust));
        r[i] = add_reply(d, conv, model, "hello!");
    }
    double rate = -1;
    int64_t n = -1;
    OK(d, db_thumbs_down_rate(d, 0, &rate, &n));
    assert_int_equal(n, 0); /* no thumbs yet: no rate */
    assert_true(rate == 0);
    const unsigned TH = DB_RATE_THUMBS;
    for (int i = 0; i < 3; i++) /* 3 down */
        OK(d, db_rate(d, r[i], "ana", &(db_rating_in){.fields = TH, .thumbs = -1}));
    for (int i = 3; i < 10; i++) /* 7 up */
        OK(d, db_rate(d, r[i], "ana", &(db_rating_in){.fields = TH, .thumbs = 1}));
    /* a score alone, and a thumb given then taken back, are no thumbs */
    OK(d, db_rate(d, r[10], "ana", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 1}));
    OK(d, db_rate(d, r[11], "ana", &(db_rating_in){.fields = TH, .thumbs = -1}));
    OK(d, db_rate(d, r[11], "ana", &(db_rating_in){.fields = TH, .thumbs = 0}));
    OK(d, db_thumbs_down_rate(d, 0, &rate, &n));
    assert_int_equal(n, 10);
    assert_true(rate == 3.0 / 10.0);
    /* a second rater's thumb on the same reply counts too: 4 down of 11 */
    OK(d, db_rate(d, r[3], "ben", &(db_rating_in){.fields = TH, .thumbs = -1}));
    OK(d, db_thumbs_down_rate(d, 0, &rate, &n));
    assert_int_equal(n, 11);
    assert_true(rate == 4.0 / 11.0);
    /* a reply written two hours ago is outside a 1 h window: 3 down of 10 */
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE messages SET created_at = created_at - 7200 WHERE id = %lld",
             (long long)r[0]);
    raw_exec(p, sql);
    OK(d, db_thumbs_down_rate(d, db_now() - 3600, &rate, &n));
    assert_int_equal(n, 10);
    assert_true(rate == 3.0 / 10.0);
    OK(d, db_thumbs_down_rate(d, db_now() + 60, &rate, &n));
    assert_int_equal(n, 0);
    assert_true(rate == 0);
    db_close(d);
}

/* ---- 7. Recovery ------------------------------------------------------------------ */

static void test_recovery(void **state)
{
    (void)state;
    const char *p = fresh("recover.db");
    db *d = open_ok(p);
    int64_t model = add_model(d, 'c', "c.gguf"), conv, cust;
    OK(d, db_conv_create(d, "", "sys", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "tell me a story", &cust));

    /* a writer that dies mid-generation (no connection is open across the
     * fork: SQLite's per-process lock bookkeeping must not be inherited) */
    db_close(d);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        db *c = NULL;
        char err[512];
        int64_t ids[2];
        if (db_open(&c, p, err, sizeof err) != DB_OK)
            _exit(10);
        if (db_reply_begin(c, conv, model, NULL, 0, &ids[0]) != DB_OK)
            _exit(11);
        if (db_request_begin(c, model, "local", conv, ids[0], 0, &ids[1]) != DB_OK)
            _exit(12);
        if (db_reply_progress(c, ids[0], "partial text") != DB_OK)
            _exit(13);
        if (write(pipefd[1], ids, sizeof ids) != (ssize_t)sizeof ids)
            _exit(14);
        _exit(0); /* no db_reply_end, no db_request_finish, no db_close */
    }
    close(pipefd[1]);
    int64_t ids[2] = {0, 0};
    assert_int_equal(read(pipefd[0], ids, sizeof ids), (ssize_t)sizeof ids);
    close(pipefd[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* an open that stops short of recovery (before version 2 there are no
     * requests to recover) sees it still running */
    char err[512];
    db_request *rq;
    size_t n;
    assert_int_equal(db_open_at(&d, p, 1, err, sizeof err), DB_OK);
    assert_int_equal(db_recovered(d), 0);
    OK(d, db_requests_for_message(d, ids[0], &rq, &n));
    assert_int_equal(n, 1);
    assert_string_equal(rq[0].outcome, "running");
    db_requests_free(rq, n);
    db_close(d);

    db *d2 = open_ok(p);
    assert_int_equal(db_recovered(d2), 1);
    OK(d2, db_requests_for_message(d2, ids[0], &rq, &n));
    assert_int_equal(n, 1);
    assert_int_equal(rq[0].id, ids[1]);
    assert_string_equal(rq[0].outcome, "interrupted");
    assert_non_null(rq[0].error);
    assert_true(rq[0].finished_at >= rq[0].started_at);
    db_requests_free(rq, n);
    db_msg m;
    OK(d2, db_msg_get(d2, ids[0], &m));
    assert_string_equal(m.text, "partial text");
    assert_true(m.active);
    assert_int_equal(m.prev_id, cust);
    db_msg_clear(&m);
    /* it counts as an error; once is enough */
    db_stats s;
    OK(d2, db_stats_compute(d2, DB_WIN_ALL, db_now(), NULL, 0, &s));
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.running, 0);
    db_stats_free(&s);
    db_close(d2);
    d2 = open_ok(p);
    assert_int_equal(db_recovered(d2), 0);
    db_close(d2);

    /* a request of this living process is left alone by another open */
    int64_t reply, req;
    d = open_ok(p);
    OK(d, db_reply_begin(d, conv, model, NULL, ids[0], &reply));
    OK(d, db_request_begin(d, model, "local", conv, reply, 0, &req));
    d2 = open_ok(p);
    assert_int_equal(db_recovered(d2), 0);
    OK(d2, db_requests_for_message(d2, reply, &rq, &n));
    assert_int_equal(n, 1);
    assert_string_equal(rq[0].outcome, "running");
    db_requests_free(rq, n);
    db_close(d2);
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 4, .latency_ms = 50, .attempts = 1};
    OK(d, db_request_finish(d, req, &res));
    OK(d, db_reply_end(d, reply, "a whole story", 0));
    OK(d, db_requests_for_message(d, reply, &rq, &n));
    assert_string_equal(rq[0].outcome, "ok");
    db_requests_free(rq, n);
    db_close(d);
}

/* ---- 8. Erasure ------------------------------------------------------------------- */

static bool file_has(const char *path, const char *needle)
{
    if (db_is_pg_url(path)) { /* the byte-level test is SQLite's; on PostgreSQL: no row holds it */
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT (SELECT count(*) FROM messages WHERE strpos(text, '%s') > 0)"
                 " + (SELECT count(*) FROM ratings WHERE strpos(comment, '%s') > 0)"
                 " + (SELECT count(*) FROM conversations WHERE strpos(title, '%s') > 0)",
                 needle, needle, needle);
        return raw_int(path, sql) > 0;
    }
    size_t len;
    char *data = read_or_empty(path, &len);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static void test_forget(void **state)
{
    (void)state;
    const char *p = fresh("forget.db");
    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", p);
    static const char secret[] = "QX7-PLUGH-SECRET-55821";
    db *d = open_ok(p);
    int64_t model = add_model(d, 'd', "d.gguf"), keep, gone, c, id, req;

    OK(d, db_conv_create(d, "", "sys", &keep));
    OK(d, db_msg_add(d, keep, DB_ROLE_CUSTOMER, "an ordinary question", &c));
    int64_t keep_reply = add_reply(d, keep, model, "an ordinary answer");

    strbuf text = {0};
    sb_printf(&text, "My card note is %s, please keep it safe.", secret);
    OK(d, db_conv_create(d, "", "sys", &gone));
    OK(d, db_msg_add(d, gone, DB_ROLE_CUSTOMER, text.data, &c));
    OK(d, db_reply_begin(d, gone, model, NULL, 0, &id));
    OK(d, db_request_begin(d, model, "local", gone, id, 0, &req));
    OK(d, db_reply_progress(d, id, secret));
    sb_clear(&text);
    for (int i = 0; i < 300; i++) /* a long reply: overflow pages too */
        sb_printf(&text, "line %d repeats %s. ", i, secret);
    OK(d, db_reply_end(d, id, text.data, 0));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .gen_tokens = 9, .latency_ms = 77, .attempts = 1};
    OK(d, db_request_finish(d, req, &res));
    OK(d, db_rate(d, id, "alice",
                  &(db_rating_in){.fields = DB_RATE_SCORE | DB_RATE_COMMENT, .score = 3, .comment = secret}));
    OK(d, db_conv_rename(d, gone, secret));
    sb_free(&text);

    /* the check below can fail: the secret is in the files now */
    assert_true(file_has(p, secret) || (!on_pg() && file_has(wal, secret)));
    db_conv *convs;
    size_t n;
    OK(d, db_conv_list(d, secret, 0, &convs, &n));
    assert_int_equal(n, 1);
    db_convs_free(convs, n);

    /* a second connection open, as the UI thread and a worker each have */
    db *other = open_ok(p);
    db_conv *seen;
    OK(other, db_conv_list(other, NULL, 0, &seen, &n));
    assert_int_equal(n, 2);
    db_convs_free(seen, n);
    OK(d, db_forget(d, gone));
    db_conv cv;
    assert_int_equal(db_conv_get(d, gone, &cv), DB_NOTFOUND);
    db_msg m;
    assert_int_equal(db_msg_get(d, c, &m), DB_NOTFOUND);
    assert_int_equal(db_msg_get(d, id, &m), DB_NOTFOUND);
    db_rating *r;
    OK(d, db_ratings_get(d, id, &r, &n));
    assert_int_equal(n, 0);
    db_ratings_free(r, n);
    OK(d, db_conv_list(d, secret, 0, &convs, &n));
    assert_int_equal(n, 0);
    db_convs_free(convs, n);
    OK(d, db_conv_list(d, "PLUGH", 0, &convs, &n));
    assert_int_equal(n, 0);
    db_convs_free(convs, n);
    /* the request stays, anonymous, and still counts */
    db_stats s;
    OK(d, db_stats_compute(d, DB_WIN_ALL, db_now(), NULL, 0, &s));
    assert_int_equal(s.requests, 1);
    assert_int_equal(s.tokens_generated, 9);
    db_stats_free(&s);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM requests"), 1);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM requests WHERE conversation_id IS NULL"
                                " AND message_id IS NULL"),
                     1);
    /* not a byte of it left in the file or its WAL */
    if (file_has(p, secret))
        fail_msg("the forgotten text is still in %s", p);
    if (!on_pg() && file_has(wal, secret))
        fail_msg("the forgotten text is still in %s", wal);
    /* the other conversation is whole */
    OK(d, db_conv_get(d, keep, &cv));
    assert_int_equal(cv.n_messages, 2);
    db_conv_clear(&cv);
    OK(d, db_msg_get(d, keep_reply, &m));
    assert_string_equal(m.text, "an ordinary answer");
    db_msg_clear(&m);
    assert_int_equal(db_forget(d, gone), DB_NOTFOUND);
    OK(d, db_check(d));
    OK(other, db_conv_list(other, NULL, 0, &seen, &n));
    assert_int_equal(n, 1);
    db_convs_free(seen, n);
    db_close(other);
    db_close(d);
    /* and still gone after close (a final checkpoint) */
    assert_false(file_has(p, secret));
    assert_false(!on_pg() && file_has(wal, secret));
}

static void test_purge(void **state)
{
    (void)state;
    db *d = open_ok(fresh("purge.db"));
    int64_t old1, old2, young1, young2, id;
    OK(d, db_conv_create(d, "", NULL, &old1));
    OK(d, db_msg_add(d, old1, DB_ROLE_CUSTOMER, "old one", &id));
    OK(d, db_conv_create(d, "", NULL, &old2));
    int64_t old_reply = add_reply(d, old2, 0, "old reply");
    OK(d, db_rate(d, old_reply, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 2}));
    double cut = db_now();
    OK(d, db_conv_create(d, "", NULL, &young1));
    OK(d, db_msg_add(d, young1, DB_ROLE_CUSTOMER, "young one", &id));
    OK(d, db_conv_create(d, "", NULL, &young2));
    /* touching an old conversation makes it young */
    OK(d, db_conv_create(d, "", NULL, &id));
    OK(d, db_conv_rename(d, old1, "renamed now"));

    int n = -1;
    OK(d, db_purge(d, 0, &n));
    assert_int_equal(n, 0);
    OK(d, db_purge(d, cut, &n));
    assert_int_equal(n, 1);
    db_conv c;
    assert_int_equal(db_conv_get(d, old2, &c), DB_NOTFOUND);
    assert_int_equal(db_msg_get(d, old_reply, &(db_msg){0}), DB_NOTFOUND);
    OK(d, db_conv_get(d, old1, &c));
    db_conv_clear(&c);
    OK(d, db_conv_get(d, young1, &c));
    assert_int_equal(c.n_messages, 1);
    db_conv_clear(&c);
    OK(d, db_purge(d, cut, &n));
    assert_int_equal(n, 0);
    OK(d, db_purge(d, db_now() + 1, &n));
    assert_int_equal(n, 4);
    db_conv *list;
    size_t k;
    OK(d, db_conv_list(d, NULL, 0, &list, &k));
    assert_int_equal(k, 0);
    db_convs_free(list, k);
    int64_t unrated, total;
    OK(d, db_review_counts(d, &unrated, &total));
    assert_int_equal(total, 0);
    db_close(d);
}

/* ---- 9. A locked database ------------------------------------------------------ */

static void test_busy(void **state)
{
    (void)state;
    const char *p = fresh("busy.db");
    db *d = open_ok(p);
    int64_t conv, m1, m2 = 0, reply;
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "before the lock", &m1));
    OK(d, db_reply_begin(d, conv, 0, NULL, 0, &reply));
    OK(d, db_reply_progress(d, reply, "saved before"));

    /* another writer holds the lock (as another process would; on
     * PostgreSQL the writers' advisory lock, as storage/db.c takes it) */
    sqlite3 *other = NULL;
    PGconn *pgother = NULL;
    if (on_pg()) {
        pgother = pg_test_connect(p);
        pg_test_exec(pgother, "BEGIN");
        free(pg_test_value(pgother, "SELECT pg_advisory_xact_lock(7380250573)"));
    } else {
        assert_int_equal(sqlite3_open(p, &other), SQLITE_OK);
        assert_int_equal(sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    }
    db_set_busy_timeout(d, 100);
    double t0 = util_now();
    db_status s = db_msg_add(d, conv, DB_ROLE_CUSTOMER, "during the lock", &m2);
    double waited = util_now() - t0;
    assert_int_equal(s, DB_BUSY);
    if (!strstr(db_errmsg(d), "locked"))
        fail_msg("message: %s", db_errmsg(d));
    assert_true(waited >= 0.08 && waited < 3.0);
    /* PostgreSQL: one statement outside the writers' transactions takes
     * only its row's lock, so saving a streaming reply is not held up */
    assert_int_equal(db_reply_progress(d, reply, "saved during"), on_pg() ? DB_OK : DB_BUSY);
    assert_int_equal(db_rate(d, reply, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}), DB_BUSY);
    int64_t q;
    assert_int_equal(db_request_begin(d, 0, "local", conv, reply, 0, &q), on_pg() ? DB_OK : DB_BUSY);
    /* readers are not blocked */
    db_msg *msgs;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 2);
    db_msgs_free(msgs, n);
    if (pgother) {
        pg_test_exec(pgother, "COMMIT");
        PQfinish(pgother);
    } else {
        assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(other);
    }

    /* released: the same writes go through; nothing earlier was lost */
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "during the lock", &m2));
    OK(d, db_reply_progress(d, reply, "saved after"));
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 3);
    assert_int_equal(msgs[0].id, m1);
    assert_string_equal(msgs[0].text, "before the lock");
    assert_string_equal(msgs[1].text, "saved after");
    assert_int_equal(msgs[2].id, m2);
    assert_string_equal(msgs[2].text, "during the lock");
    db_msgs_free(msgs, n);
    OK(d, db_check(d));
    db_close(d);
}

/* ---- 10. Export ------------------------------------------------------------------- */

typedef struct {
    int64_t ids[16];
    size_t n, stop_after;
    int64_t model, sys_first_failures;
} export_seen;

static bool collect(void *ud, const db_export_item *it)
{
    export_seen *e = ud;
    assert_true(it->n_thread >= 3);
    const db_msg *last = &it->thread[it->n_thread - 1];
    assert_int_equal(last->role, DB_ROLE_AGENT);
    if (it->thread[0].role != DB_ROLE_SYSTEM)
        e->sys_first_failures++;
    assert_string_equal(it->thread[0].text, "You sell shoes.");
    assert_int_equal(it->thread[1].role, DB_ROLE_CUSTOMER);
    assert_non_null(it->model);
    assert_int_equal(it->model->id, e->model);
    assert_true(it->n_ratings >= 1);
    e->ids[e->n++] = last->id;
    return !e->stop_after || e->n < e->stop_after;
}

typedef struct {
    size_t n, with_model, without_model;
    int64_t last_id;
} export_model_seen;

static bool model_of(void *ud, const db_export_item *it)
{
    export_model_seen *e = ud;
    e->n++;
    e->last_id = it->thread[it->n_thread - 1].id;
    if (it->model)
        e->with_model++;
    else
        e->without_model++;
    return true;
}

static void expect_export(db *d, db_export_filter f, int64_t model, const int64_t *want, size_t n_want)
{
    export_seen e = {.model = model};
    OK(d, db_export(d, &f, collect, &e));
    assert_int_equal(e.sys_first_failures, 0);
    if (e.n != n_want)
        fail_msg("export min_score=%d thumbs=%d since=%.3f: %zu replies, want %zu", f.min_score, f.thumbs,
                 f.since, e.n, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(e.ids[i], want[i]);
}

static void test_export(void **state)
{
    (void)state;
    db *d = open_ok(fresh("export.db"));
    int64_t model = add_model(d, 'e', "e.gguf");
    int64_t r[6], conv, cust;
    const char *questions[] = {"boots?", "sandals?", "laces?", "socks?", "heels?", "soles?"};
    for (int i = 0; i < 6; i++) {
        char answer[32];
        OK(d, db_conv_create(d, "", "You sell shoes.", &conv));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, questions[i], &cust));
        snprintf(answer, sizeof answer, "answer %d", i);
        r[i] = add_reply(d, conv, model, answer);
    }
    /* a second turn on the last conversation: its thread is longer */
    int64_t c2;
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "and insoles?", &c2));
    int64_t r6 = add_reply(d, conv, model, "answer 6");
    /* an empty reply is never exported */
    int64_t empty;
    OK(d, db_reply_begin(d, conv, model, NULL, 0, &empty));

    /* r0: 5 up          r1: 3 and 5        r2: down only
     * r3: up + down, 4  r4: unrated        r5: up, no score    r6: 4 up */
    const unsigned ST = DB_RATE_SCORE | DB_RATE_THUMBS;
    OK(d, db_rate(d, r[0], "alice", &(db_rating_in){.fields = ST, .score = 5, .thumbs = 1}));
    OK(d, db_rate(d, r[1], "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 3}));
    OK(d, db_rate(d, r[1], "bob", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 5}));
    OK(d, db_rate(d, r[2], "alice", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = -1}));
    OK(d, db_rate(d, r[3], "alice", &(db_rating_in){.fields = ST, .score = 4, .thumbs = 1}));
    OK(d, db_rate(d, r[3], "bob", &(db_rating_in){.fields = ST, .score = 4, .thumbs = -1}));
    OK(d, db_rate(d, r[5], "bob", &(db_rating_in){.fields = DB_RATE_THUMBS, .thumbs = 1}));
    OK(d, db_rate(d, r6, "alice", &(db_rating_in){.fields = ST, .score = 4, .thumbs = 1}));

    expect_export(d, (db_export_filter){0}, model, (int64_t[]){r[0], r[1], r[2], r[3], r[5], r6}, 6);
    expect_export(d, (db_export_filter){.min_score = 4}, model, (int64_t[]){r[0], r[3], r6}, 3);
    expect_export(d, (db_export_filter){.min_score = 3}, model, (int64_t[]){r[0], r[1], r[3], r6}, 4);
    expect_export(d, (db_export_filter){.min_score = 5}, model, (int64_t[]){r[0]}, 1);
    expect_export(d, (db_export_filter){.min_score = 1}, model, (int64_t[]){r[0], r[1], r[3], r6}, 4);
    expect_export(d, (db_export_filter){.thumbs = 1}, model, (int64_t[]){r[0], r[5], r6}, 3);
    expect_export(d, (db_export_filter){.thumbs = -1}, model, (int64_t[]){r[2]}, 1);
    expect_export(d, (db_export_filter){.thumbs = 1, .min_score = 5}, model, (int64_t[]){r[0]}, 1);
    /* since: replies created at or after r3's creation */
    db_msg m;
    OK(d, db_msg_get(d, r[3], &m));
    double since = m.created_at;
    db_msg_clear(&m);
    OK(d, db_msg_get(d, r[2], &m));
    assert_true(m.created_at < since);
    db_msg_clear(&m);
    expect_export(d, (db_export_filter){.since = since}, model, (int64_t[]){r[3], r[5], r6}, 3);
    expect_export(d, (db_export_filter){.since = since, .thumbs = 1}, model, (int64_t[]){r[5], r6}, 2);
    expect_export(d, (db_export_filter){.since = db_now() + 10}, model, NULL, 0);

    /* the thread of r6: system, customer, reply, customer, reply */
    export_seen e = {.model = model, .stop_after = 1};
    OK(d, db_export(d, &(db_export_filter){.since = since, .min_score = 4}, collect, &e));
    assert_int_equal(e.n, 1); /* stopped after the first (r3) */
    assert_int_equal(e.ids[0], r[3]);
    db_msg *t;
    size_t n;
    OK(d, db_msg_thread(d, r6, &t, &n));
    assert_int_equal(n, 5);
    assert_int_equal(t[0].role, DB_ROLE_SYSTEM);
    assert_int_equal(t[3].id, c2);
    assert_int_equal(t[4].id, r6);
    db_msgs_free(t, n);

    /* A reply no model version is recorded for is exported without one
     * (its metadata says null), not with an empty model. */
    int64_t nc, nq;
    OK(d, db_conv_create(d, "", "You sell shoes.", &nc));
    OK(d, db_msg_add(d, nc, DB_ROLE_CUSTOMER, "mules?", &nq));
    int64_t orphan = add_reply(d, nc, 0, "no model");
    OK(d, db_rate(d, orphan, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 2}));
    export_model_seen ms = {0};
    OK(d, db_export(d, &(db_export_filter){0}, model_of, &ms));
    assert_int_equal(ms.n, 7);
    assert_int_equal(ms.last_id, orphan);
    assert_int_equal(ms.without_model, 1);
    assert_int_equal(ms.with_model, 6);
    db_close(d);
}

/* ---- 10. A PostgreSQL server that goes away ------------------------------------- */

static void test_reconnect(void **state)
{
    (void)state;
    if (!on_pg())
        return;
    /* a cluster of its own: the server is restarted and stopped here, and
     * other suites run beside this one on the shared one */
    assert_int_equal(pg_test_own_cluster_begin(), 0);
    const char *p = fresh("reconnect.db");
    db *d = open_ok(p);
    int64_t conv, m1, m2;
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "before the restart", &m1));
    /* the server restarts between two statements: the next one opens the
     * connection again and goes through */
    assert_int_equal(pg_test_restart(), 0);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "after the restart", &m2));
    /* the server is away: a clear DB_GONE naming the database, nothing
     * half-written; back again: the same call goes through */
    assert_int_equal(pg_test_stop(), 0);
    int64_t m3 = 0;
    db_status s = db_msg_add(d, conv, DB_ROLE_CUSTOMER, "while away", &m3);
    assert_int_equal(s, DB_GONE);
    if (!strstr(db_errmsg(d), "cannot be reached") || !strstr(db_errmsg(d), p))
        fail_msg("message: %s", db_errmsg(d));
    assert_int_equal(pg_test_start(), 0);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "while away", &m3));
    db_msg *msgs;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &msgs, &n));
    assert_int_equal(n, 3);
    assert_string_equal(msgs[0].text, "before the restart");
    assert_string_equal(msgs[1].text, "after the restart");
    assert_string_equal(msgs[2].text, "while away");
    db_msgs_free(msgs, n);
    assert_int_equal(raw_int(p, "SELECT count(*) FROM messages"), 3);
    db_close(d);
    assert_int_equal(pg_test_own_cluster_end(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_file_is_current),
        cmocka_unit_test(test_migrate_every_version),
        cmocka_unit_test(test_newer_schema_refused),
        cmocka_unit_test(test_not_a_database),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_concurrent_open),
        cmocka_unit_test(test_message_tree),
        cmocka_unit_test(test_titles),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_series_buckets),
        cmocka_unit_test(test_thumbs_down_rate),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_purge),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_confidence_queue),
        cmocka_unit_test(test_reconnect), /* PostgreSQL only */
    };
    /* on PostgreSQL: all but the tests of a file's bytes (a foreign or
     * truncated file, several processes creating one file) */
    if (on_pg()) {
        static const char *const file_only[] = {"test_not_a_database", "test_truncated", "test_concurrent_open"};
        struct CMUnitTest pg_tests[sizeof tests / sizeof *tests];
        size_t n = 0;
        for (size_t i = 0; i < sizeof tests / sizeof *tests; i++) {
            bool skip = false;
            for (size_t j = 0; j < sizeof file_only / sizeof *file_only; j++)
                skip |= !strcmp(tests[i].name, file_only[j]);
            if (!skip)
                pg_tests[n++] = tests[i];
        }
        return test_exit(_cmocka_run_group_tests("storage [postgresql]", pg_tests, n, NULL, NULL));
    }
    return test_exit(cmocka_run_group_tests_name("storage", tests, NULL, NULL));
}
