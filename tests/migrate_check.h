/*
 * migrate_check.h — what the suites of `frontdesk migrate` (test_migrate:
 * copies into PostgreSQL and SQLite, the checksum; test_migrate_refusals:
 * what it refuses, and appending into a store that holds rows) share:
 * a source store with real content, every table read row by row on both
 * sides with sqlite3 and libpq directly, and the binary run.
 */
#ifndef FRONTDESK_TESTS_MIGRATE_CHECK_H
#define FRONTDESK_TESTS_MIGRATE_CHECK_H

#include "storage/db.h"
#include "storage/metrics.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_SET "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

/* Text the test wrote and looks for, byte for byte, after the copy. */
static const char question[] = "Where is my parcel? \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9 \xe2\x9c\x93 'single' \"double\"\n"
                               "second line\ttab \\ backslash ?1 $1 %s";
static const char comment_text[] = "good, but \xe2\x80\x94 slow; 'quoted'";

/* Every table with the order of its primary key; the two queries (SQLite,
 * PostgreSQL) list blobs as hex. */
static const struct {
    const char *name, *order;
} tables[] = {
    {"models", "id"},
    {"model_files", "path"},
    {"conversations", "id"},
    {"messages", "id"},
    {"requests", "id"},
    {"ratings", "message_id, rater"},
    {"rating_tags", "message_id, rater, tag"},
    {"handles", "handle"},
    {"deployment", "id"},
    {"deployment_history", "id"},
    {"rollups", "period, start, model_id, arm, source, backend, outcome"},
    {"alert_episodes", "id"},
    {"eval_runs", "id"},
    {"eval_items", "run_id, item, model_id"},
    {"arena_judgements", "id"},
};
#define N_TABLES (sizeof tables / sizeof *tables)

static const char rollup_cols_lite[] =
    "period, start, model_id, arm, source, backend, outcome, requests, gen_tokens, prompt_tokens, latency_n, "
    "latency_sum, ttft_n, ttft_sum, prefill_n, prefill_sum, decode_n, decode_sum, "
    "CASE WHEN hist IS NULL THEN NULL ELSE lower(hex(hist)) END, CASE WHEN le IS NULL THEN NULL ELSE lower(hex(le)) END";
static const char rollup_cols_pg[] =
    "period, start, model_id, arm, source, backend, outcome, requests, gen_tokens, prompt_tokens, latency_n, "
    "latency_sum, ttft_n, ttft_sum, prefill_n, prefill_sum, decode_n, decode_sum, "
    "encode(hist, 'hex'), encode(le, 'hex')";

typedef struct {
    int64_t m1, m2, m3, c1, c2, q1, r1, r2, edited;
    int64_t max_conv, max_msg;
} source_ids;

char *mc_lite_rows(const char *path, const char *sql);
char *mc_pg_rows(PGconn *c, const char *sql);
char *mc_table_sql(size_t i, bool pg);
long long mc_lite_count(const char *path, const char *sql);
long long mc_pg_count(PGconn *c, const char *sql);
char *mc_pg_counts(PGconn *c);
void mc_expect_same_tables(const char *path, PGconn *c);
void mc_finish_request(db *d, int64_t id, db_outcome o, double latency, const char *error);
void mc_build_source(const char *path, source_ids *ids);
int mc_migrate(const char *from, const char *to, char **out, char **err);

#endif
