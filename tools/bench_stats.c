/*
 * bench_stats.c — how fast the dashboard's aggregates are at 10^4 to 10^7
 * request rows (`make bench`).
 *
 *   bench_stats [--rows 10000,100000,1000000] [--dir DIR]
 *
 * For each size it fills a fresh database with that many finished
 * requests spread over the last 24 hours, unfolded (one prepared INSERT,
 * transactions of 10^6 rows, synchronous off: a benchmark fixture, which
 * is why this tool includes sqlite3.h), folds them in bulk
 * (db_rollup_catch_up: aggregated in memory, a few thousand rollup rows
 * written), then times, side by side on the same file:
 *   rollups  db_stats_compute for the 24 h window (the dashboard's and
 *            stats' path: ~1440 minutes x models x outcomes rollup rows)
 *   exact    db_stats_compute_exact (stats --exact: one index scan of the
 *            raw rows, O(n) selection for the percentiles)
 *   naive    the same percentiles the obvious SQL way: for each of the 8
 *            latency/ttft quantiles, ORDER BY the value with OFFSET rank
 * and prints the median of 3 runs, the fill and fold times.  10^7 rows
 * take minutes to build on 2 cores and ~2 GB of disk: ask for them with
 * --rows (BENCH_STATS_ROWS in make bench).
 */
#include "storage/metrics.h"
#include "storage/rollup.h"
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
    sqlite3_exec(c, "PRAGMA synchronous = OFF", NULL, NULL, NULL);
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
        if (i % 1000000 == 999999) { /* transactions of 10^6 rows */
            sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
            sqlite3_exec(c, "BEGIN", NULL, NULL, NULL);
        }
    }
    sqlite3_finalize(st);
    sqlite3_exec(c, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(c);
}

static double time_stats(db *d, double now, bool exact)
{
    double t0 = util_now();
    db_stats s;
    if ((exact ? db_stats_compute_exact : db_stats_compute)(d, DB_WIN_24H, now, NULL, 0, &s) != DB_OK) {
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
    printf("%-10s %10s %10s %12s %10s %10s %12s\n", "rows(24h)", "fill s", "fold s", "rollups ms", "exact ms",
           "naive ms", "exact/rollup");
    char *list = xstrdup(sizes);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        long rows = atol(tok);
        char naive[32];
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
        double t0 = util_now();
        fill(path, rows, now);
        double t_fill = util_now() - t0;
        t0 = util_now();
        int64_t folded = 0;
        if (db_rollup_catch_up(d, &folded) != DB_OK || folded != rows) {
            fprintf(stderr, "bench_stats: folding: %s (%lld of %ld)\n", db_errmsg(d), (long long)folded, rows);
            return 1;
        }
        double t_fold = util_now() - t0;
        double o[3], e[3], n[3];
        for (int r = 0; r < 3; r++) {
            o[r] = time_stats(d, now, false);
            e[r] = time_stats(d, now, true);
            n[r] = rows <= 1000000 ? time_naive(path, now) : 0; /* minutes at 10^7 */
        }
        double om = median3(o[0], o[1], o[2]), em = median3(e[0], e[1], e[2]), nm = median3(n[0], n[1], n[2]);
        printf("%-10ld %10.1f %10.1f %12.2f %10.1f %10s %11.0fx\n", rows, t_fill, t_fold, om * 1e3, em * 1e3,
               nm > 0 ? (snprintf(naive, sizeof naive, "%.1f", nm * 1e3), naive) : "-", em / om);
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
