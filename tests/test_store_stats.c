/*
 * test_store_stats.c — the store's figures (storage/metrics.h):
 * percentiles against a brute force; window aggregates against the rows
 * inserted; the per-minute series minute by minute and the thumbs-down
 * rate against figures worked out by hand.
 *
 * Every database is a fresh file under test_tmpdir(), or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs the suite a
 * second time so), a fresh database on the throwaway PostgreSQL server
 * (tests/pg_util.h).  Helpers shared with the other store suites are in
 * tests/storage_suite.h.  Rows are back-dated with SQL on the store: the
 * API stamps every row with db_now(), and a test that sleeps hours is no
 * test.
 */
#include "tests/pg_util.h"
#include "tests/storage_suite.h"
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

    st_seed(12345);
    double *v = xmallocarray(200000, sizeof *v);
    for (size_t n = 1; n <= 200; n++)
        for (int round = 0; round < 12; round++) {
            int kind = round % 6;
            for (size_t i = 0; i < n; i++) {
                switch (kind) {
                case 0: v[i] = (double)st_rnd_below(1000000) / 7.0; break;             /* distinct-ish */
                case 1: v[i] = (double)st_rnd_below(5); break;                         /* many duplicates */
                case 2: v[i] = (double)st_rnd_below(41) - 20.0; break;                 /* negatives */
                case 3: v[i] = 42.25; break;                                        /* all equal */
                case 4: v[i] = (double)i * (round % 12 < 6 ? 1 : -1); break;        /* sorted */
                default: v[i] = st_rnd_below(10) ? 1.0 : -1e300 + (double)st_rnd_below(3); /* two clumps */
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
                v[i] = kind == 0   ? (double)st_rnd() / 3.0
                       : kind == 1 ? (double)st_rnd_below(3) - 1.0
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
    const char *p = fresh_store("stats.db");
    db *d = open_store(p);
    int64_t ma = st_add_model(d, 'a', "a.gguf"), mb = st_add_model(d, 'b', "b.gguf");
    static req_row rows[400];
    size_t n = 400;
    st_seed(777);
    const db_outcome outcomes[] = {DB_OUTCOME_OK,        DB_OUTCOME_OK,      DB_OUTCOME_OK,
                                   DB_OUTCOME_ERROR,     DB_OUTCOME_TIMEOUT, DB_OUTCOME_CANCELLED,
                                   DB_OUTCOME_INTERRUPTED, DB_OUTCOME_RUNNING};
    strbuf old_ids = {0};
    for (size_t i = 0; i < n; i++) {
        req_row *r = &rows[i];
        r->model = st_rnd_below(3) ? ma : mb;
        r->outcome = outcomes[st_rnd_below(8)];
        r->gen_tokens = st_rnd_below(4) ? (int)st_rnd_below(300) : 0;
        r->latency = st_rnd_below(10) ? (double)st_rnd_below(50) * 25.0 : -1; /* many ties; some unknown */
        r->ttft = r->gen_tokens > 0 && st_rnd_below(8) ? (double)st_rnd_below(400) / 4.0 : -1;
        r->prefill_tps = st_rnd_below(5) ? (double)st_rnd_below(1000) / 8.0 : 0; /* 0: unknown */
        r->decode_tps = st_rnd_below(5) ? (double)st_rnd_below(800) / 16.0 : -1;
        r->old = st_rnd_below(3) == 0;
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
    sql_exec(p, sql.data);
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
    d = open_store(fresh_store("stats-empty.db"));
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
    sql_exec(path, sql);
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
    const char *p = fresh_store("series.db");
    db *d = open_store(p);
    int64_t model = st_add_model(d, 's', "s.gguf");
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
    const char *p = fresh_store("thumbs.db");
    db *d = open_store(p);
    int64_t model = st_add_model(d, 't', "t.gguf"), conv, cust, r[12];
    OK(d, db_conv_create(d, "", NULL, &conv));
    for (int i = 0; i < 12; i++) {
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "hello?", &cust));
        r[i] = st_add_reply(d, conv, model, "hello!");
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
    sql_exec(p, sql);
    OK(d, db_thumbs_down_rate(d, db_now() - 3600, &rate, &n));
    assert_int_equal(n, 10);
    assert_true(rate == 3.0 / 10.0);
    OK(d, db_thumbs_down_rate(d, db_now() + 60, &rate, &n));
    assert_int_equal(n, 0);
    assert_true(rate == 0);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_aggregates),
        cmocka_unit_test(test_series_buckets),
        cmocka_unit_test(test_thumbs_down_rate),
    };
    static const char *const sqlite_only[] = {NULL};
    return store_run_suite("store_stats", tests, sizeof tests / sizeof *tests, sqlite_only, NULL, NULL);
}
