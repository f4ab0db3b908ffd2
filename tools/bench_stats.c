/*
 * bench_stats.c — how fast the dashboard's aggregates are at 10^4, 10^5
 * and 10^6 request rows (`make bench`).
 *
 *   bench_stats [--rows 10000,100000,1000000] [--dir DIR]
 *
 * For each size it fills a fresh database with that many finished
 * requests spread over the last 24 hours (bulk-inserted through SQLite in
 * one transaction: a benchmark fixture, which is why this tool includes
 * sqlite3.h), then times, side by side on the same file:
 *   ours   db_stats_compute for the 24 h window (one index scan, O(n)
 *          selection for the percentiles, the per-minute series)
 *   naive  the same percentiles the obvious SQL way: for each of the 8
 *          latency/ttft quantiles, ORDER BY the value with OFFSET rank
 * and prints the median of 3 runs and the ratio naive / ours.
 */
#include "storage/metrics.h"
#include "util/util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : a > c ? c : a) : (a > c ? a : b > c ? c : b);
}

static void fill(const char *path, long rows, double now)
{
    sqlite3 *c;
    if (sqlite3_open(path, &c) != SQLITE_OK) {
        fprintf(stderr, "bench_stats: cannot open %s\n", path);
        exit(1);
    }
    sqlite3_exec(c, "BEGIN", NULL, NULL, NULL);
    sqlite3_exec(c,
                 "INSERT INTO models (key, backend, name, first_used, last_used)"
                 " VALUES ('bench-a', 'local', 'a', 0, 0), ('bench-b', 'local', 'b', 0, 0)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(c,
                       "INSERT INTO requests (model_id, backend, started_at, finished_at, prompt_tokens,"
                       " gen_tokens, ttft_ms, prefill_tps, decode_tps, latency_ms, outcome)"
                       " VALUES (?, 'local', ?, ?, 40, ?, ?, ?, ?, ?, ?)",
                       -1, &st, NULL);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < rows; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double u = (double)(s >> 11) / 9007199254740992.0;
        double t = now - 86400.0 * u;
        double lat = 200 + 4000 * u * u;
        sqlite3_bind_int(st, 1, 1 + (int)(i & 1));
        sqlite3_bind_double(st, 2, t);
        sqlite3_bind_double(st, 3, t + lat / 1000);
        sqlite3_bind_int(st, 4, 16 + (int)(s % 200));
        sqlite3_bind_double(st, 5, lat / 8);
        sqlite3_bind_double(st, 6, 150 + (double)(s % 50));
        sqlite3_bind_double(st, 7, 40 + (double)(s % 20));
        sqlite3_bind_double(st, 8, lat);
        sqlite3_bind_text(st, 9, s % 50 ? "ok" : "error", -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(c);
}

static double time_ours(db *d, double now)
{
    double t0 = util_now();
    db_stats s;
    if (db_stats_compute(d, DB_WIN_24H, now, NULL, 0, &s) != DB_OK) {
        fprintf(stderr, "bench_stats: %s\n", db_errmsg(d));
        exit(1);
    }
    double t = util_now() - t0;
    db_stats_free(&s);
    return t;
}

static double time_naive(const char *path, double now)
{
    sqlite3 *c;
    sqlite3_open(path, &c);
    double t0 = util_now();
    const char *cols[] = {"latency_ms", "ttft_ms"};
    const int pcts[] = {50, 90, 95, 99};
    for (int ci = 0; ci < 2; ci++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(%s) FROM requests WHERE started_at >= ?1 AND outcome != 'running'", cols[ci]);
        sqlite3_stmt *st;
        sqlite3_prepare_v2(c, sql, -1, &st, NULL);
        sqlite3_bind_double(st, 1, now - 86400);
        sqlite3_step(st);
        long n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        for (int p = 0; p < 4; p++) {
            snprintf(sql, sizeof sql,
                     "SELECT %s FROM requests WHERE started_at >= ?1 AND %s IS NOT NULL"
                     " ORDER BY %s LIMIT 1 OFFSET ?2",
                     cols[ci], cols[ci], cols[ci]);
            sqlite3_prepare_v2(c, sql, -1, &st, NULL);
            sqlite3_bind_double(st, 1, now - 86400);
            sqlite3_bind_int64(st, 2, (pcts[p] * n + 99) / 100 - 1);
            sqlite3_step(st);
            sqlite3_finalize(st);
        }
    }
    double t = util_now() - t0;
    sqlite3_close(c);
    return t;
}

int main(int argc, char **argv)
{
    const char *sizes = "10000,100000,1000000", *dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows"))
            sizes = argv[i + 1];
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
    }
    printf("%-10s %12s %12s %8s\n", "rows(24h)", "ours ms", "naive ms", "ratio");
    char *list = xstrdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        long rows = atol(tok);
        char path[512];
        snprintf(path, sizeof path, "%s/frontdesk-bench-stats-%ld.db", dir, (long)getpid());
        unlink(path);
        db *d;
        char err[512];
        if (db_open(&d, path, err, sizeof err) != DB_OK) {
            fprintf(stderr, "bench_stats: %s\n", err);
            return 1;
        }
        double now = db_now();
        fill(path, rows, now);
        double o[3], n[3];
        for (int r = 0; r < 3; r++) {
            o[r] = time_ours(d, now);
            n[r] = time_naive(path, now);
        }
        double om = median3(o[0], o[1], o[2]), nm = median3(n[0], n[1], n[2]);
        printf("%-10ld %12.1f %12.1f %7.1fx\n", rows, om * 1e3, nm * 1e3, nm / om);
        fflush(stdout);
        db_close(d);
        unlink(path);
        char side[560];
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    free(list);
    return 0;
}
