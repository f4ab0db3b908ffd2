/*
 * test_migrate.c — `frontdesk migrate`: a SQLite store with real content
 * (made through the store's API and the binary) copied by the real binary
 * into a fresh PostgreSQL database of the throwaway cluster (pg_util.h),
 * or into another SQLite file, and the checksum's hash.  What it refuses,
 * and appending into a store that holds rows, are
 * test_migrate_refusals.c's; the source store and the readers both use
 * are in tests/migrate_check.h.
 *
 * What is checked is read with sqlite3 and libpq directly, never through
 * the code under test: every table row by row on both sides (reals as the
 * doubles they are, blobs as hex), rows the test wrote compared with what
 * it wrote, the commands' outputs on both stores, the next ids after the
 * copy, and targets left untouched by every refusal.
 */
#include "testutil.h"

#include "pg_util.h"
#include "store_util.h"
#include "migrate_check.h"
#include "storage/alerts.h"
#include "storage/arena.h"
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/evals.h"
#include "storage/handles.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/hash.h"
#include "util/util.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- Into PostgreSQL -------------------------------------------------------- */

static void copies_everything(void **state)
{
    (void)state;
    const char *src = fresh_db("copy.db");
    source_ids ids;
    mc_build_source(src, &ids);
    char *url = pg_test_new_db("migrate_copy");
    char *out, *err;
    int rc = mc_migrate(src, url, &out, &err);
    if (rc != 0)
        fail_msg("migrate exited %d: %s", rc, err);
    PGconn *c = pg_test_connect(url);

    /* every table, row by row; the counts in the summary */
    mc_expect_same_tables(src, c);
    for (size_t i = 0; i < N_TABLES; i++) {
        char sql[96], want[128];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[i].name);
        long long n = mc_lite_count(src, sql);
        assert_int_equal(n, mc_pg_count(c, sql));
        snprintf(want, sizeof want, "  %-20s %10lld\n", tables[i].name, n);
        if (!strstr(out, want))
            fail_msg("no line '%s' in the summary:\n%s", want, out);
        snprintf(want, sizeof want, "migrate: %-20s verified: %lld rows", tables[i].name, n);
        if (!strstr(err, want))
            fail_msg("no progress line '%s':\n%s", want, err);
    }
    assert_true(mc_pg_count(c, "SELECT count(*) FROM messages") > 2100);

    /* rows the test wrote, as written */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT text FROM messages WHERE id = %" PRId64, ids.q1);
    char *v = pg_test_value(c, sql);
    assert_string_equal(v, question);
    free(v);
    snprintf(sql, sizeof sql, "SELECT comment FROM ratings WHERE message_id = %" PRId64 " AND rater = 'alice'",
             ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, comment_text);
    free(v);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(tag, ',' ORDER BY tag) FROM rating_tags WHERE message_id = %" PRId64, ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, "fast,helpful");
    free(v);
    snprintf(sql, sizeof sql, "SELECT parent_id FROM messages WHERE id = %" PRId64, ids.r2);
    assert_int_equal(mc_pg_count(c, sql), ids.r1);
    snprintf(sql, sizeof sql, "SELECT logprob_mean = -0.123456789012345 FROM messages WHERE id = %" PRId64, ids.r1);
    v = pg_test_value(c, sql);
    assert_string_equal(v, "t");
    free(v);
    v = pg_test_value(c, "SELECT \"user\" FROM handles WHERE handle = 'conv-0123456789abcdef'");
    assert_string_equal(v, "user-1");
    free(v);
    v = pg_test_value(c, "SELECT stable_id || '/' || candidate_id || '/' || share FROM deployment");
    char want[64];
    snprintf(want, sizeof want, "%" PRId64 "/%" PRId64 "/20", ids.m1, ids.m2);
    assert_string_equal(v, want);
    free(v);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM eval_items WHERE ppl IS NULL"), 1);
    assert_int_equal(mc_pg_count(c, "SELECT count(*) FROM rating_tags WHERE rater = 'dave' AND tag = 'slow'"), 1);

    /* search works on the copy (pg_trgm, not the SQLite index) */
    db *pg = open_store(url);
    db_conv *convs;
    size_t n;
    OK(pg, db_conv_list(pg, "\xc3\xbcn\xc3\xaf" "c\xc3\xb6", 10, &convs, &n));
    assert_int_equal(n, 1);
    assert_int_equal(convs[0].id, ids.c1);
    db_convs_free(convs, n);

    /* the sequences were set: a new conversation and message number on */
    int64_t conv, msg;
    OK(pg, db_conv_create(pg, "after", NULL, &conv));
    OK(pg, db_msg_add(pg, conv, DB_ROLE_CUSTOMER, "new on PostgreSQL", &msg));
    assert_true(conv > ids.max_conv);
    assert_true(msg > ids.max_msg);
    db_close(pg);
    PQfinish(c);
    free(out);
    free(err);
    pg_test_drop_db(url);
    free(url);
}

/* The same figures and listings from the API on both stores; and from the
 * binary, when it opens database URLs (app/store.c). */
static void same_answers(void **state)
{
    (void)state;
    const char *src = fresh_db("answers.db");
    source_ids ids;
    mc_build_source(src, &ids);
    char *url = pg_test_new_db("migrate_answers");
    assert_int_equal(mc_migrate(src, url, NULL, NULL), 0);
    db *a = open_store(src), *b = open_store(url);
    double now = db_now();
    db_stats sa, sb;
    OK(a, db_stats_compute(a, DB_WIN_24H, now, NULL, 0, &sa));
    OK(b, db_stats_compute(b, DB_WIN_24H, now, NULL, 0, &sb));
    assert_int_equal(sa.requests, 2);
    assert_int_equal(sa.requests, sb.requests);
    assert_int_equal(sa.errors, sb.errors);
    assert_true(sa.latency_ms.valid && sb.latency_ms.valid);
    assert_true(sa.latency_ms.p50 == sb.latency_ms.p50 && sa.latency_ms.p99 == sb.latency_ms.p99);
    db_stats_free(&sa);
    db_stats_free(&sb);
    db_conv *ca, *cb;
    size_t na, nb;
    OK(a, db_conv_list(a, NULL, 0, &ca, &na));
    OK(b, db_conv_list(b, NULL, 0, &cb, &nb));
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(ca[i].id, cb[i].id);
        assert_string_equal(ca[i].title, cb[i].title);
        assert_int_equal(ca[i].n_messages, cb[i].n_messages);
        assert_int_equal(ca[i].n_rated, cb[i].n_rated);
    }
    db_convs_free(ca, na);
    db_convs_free(cb, nb);
    db_close(a);
    db_close(b);

    /* the binary on both: the same listings, the same figures */
    char *o1, *o2;
    assert_int_equal(RUN(&o2, NULL, "history", "--db", url), 0);
    assert_int_equal(RUN(&o1, NULL, "history", "--db", src), 0);
    assert_non_null(strstr(o1, "Parcel"));
    assert_string_equal(o1, o2);
    free(o1);
    free(o2);
    const char *const cmds[][4] = {{"stats", "--window", "24h", "--json"},
                                   {"show", "1", NULL, NULL},
                                   {"deployment", NULL, NULL, NULL},
                                   {"arena", NULL, NULL, NULL}};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        const char *args[8] = {0};
        size_t k = 0;
        for (; k < 4 && cmds[i][k]; k++)
            args[k] = cmds[i][k];
        args[k] = "--db";
        args[k + 1] = src;
        assert_int_equal(fd_run(&o1, NULL, args), 0);
        args[k + 1] = url;
        assert_int_equal(fd_run(&o2, NULL, args), 0);
        assert_true(strlen(o1) > 20);
        if (!strcmp(cmds[i][0], "stats")) { /* the window's edge moves between the two runs */
            json_error_t je;
            json_t *j1 = json_loads(o1, 0, &je), *j2 = json_loads(o2, 0, &je);
            assert_non_null(j1);
            assert_non_null(j2);
            assert_int_equal(json_integer_value(json_object_get(j2, "requests")), 2);
            const char *keys[] = {"requests", "errors", "latency_ms", "ttft_ms", "tokens_generated"};
            for (size_t q = 0; q < sizeof keys / sizeof *keys; q++)
                assert_true(json_equal(json_object_get(j1, keys[q]), json_object_get(j2, keys[q])));
            json_decref(j1);
            json_decref(j2);
        } else if (strcmp(o1, o2))
            fail_msg("%s differs:\n--- SQLite\n%s\n--- PostgreSQL\n%s", cmds[i][0], o1, o2);
        free(o1);
        free(o2);
    }
    pg_test_drop_db(url);
    free(url);
}

/* ---- Into another SQLite file ------------------------------------------------ */

static void copies_into_sqlite(void **state)
{
    (void)state;
    const char *src = fresh_db("lite-src.db"), *dst = fresh_db("lite-dst.db");
    source_ids ids;
    mc_build_source(src, &ids);
    char *out;
    assert_int_equal(mc_migrate(src, dst, &out, NULL), 0);
    assert_non_null(strstr(out, "verified"));
    free(out);
    for (size_t i = 0; i < N_TABLES; i++) {
        char *q = mc_table_sql(i, false);
        char *a = mc_lite_rows(src, q), *b = mc_lite_rows(dst, q);
        if (strcmp(a, b))
            fail_msg("%s differs between the two files", tables[i].name);
        free(a);
        free(b);
        free(q);
    }
    /* the target's search index was filled as the rows went in */
    assert_int_equal(mc_lite_count(dst, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"turn 2099\"'"),
                     1);
    /* a copy that fails after making its target leaves no file behind */
    const char *dst2 = fresh_db("lite-dst2.db");
    sql_exec(src, "UPDATE conversations SET title = x'00ff' WHERE id = 1");
    assert_int_equal(mc_migrate(src, dst2, NULL, NULL), 1);
    assert_int_equal(access(dst2, F_OK), -1);
}

/* ---- The checksum's hash ---------------------------------------------------- */

/* util_sha256_* in pieces is SHA-256 (FIPS 180-2's test vectors). */
static void sha256_in_pieces(void **state)
{
    (void)state;
    char hex[65];
    util_sha256 *h = util_sha256_begin();
    assert_non_null(h);
    util_sha256_add(h, "a", 1);
    util_sha256_add(h, "", 0);
    util_sha256_add(h, "bc", 2);
    util_sha256_end(h, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h = util_sha256_begin();
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t i = 0; m[i]; i++)
        util_sha256_add(h, m + i, 1);
    util_sha256_end(h, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    util_sha256_end(NULL, hex);
    assert_string_equal(hex, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_in_pieces),
        cmocka_unit_test(copies_everything),
        cmocka_unit_test(same_answers),
        cmocka_unit_test(copies_into_sqlite),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
