/*
 * test_rollup.c — the rollups (storage/rollup.h, storage/sketch.h) against
 * references computed here from the data the tests generate: nearest-rank
 * percentiles by sorting, counts and sums by summing, per-bound counts by
 * SQL on the raw rows.
 *
 *   1. the sketch alone: quantiles within 1% on random and adversarial
 *      data, merging, the byte form and damaged bytes
 *   2. db_stats_compute from rollups over windows aligned to whole minutes
 *      (so the raw rows and the minutes hold the same requests)
 *   3. folding exactly once: catch-up twice, from two processes, after a
 *      crash between the finish and the fold
 *   4. compaction keeps totals; db_rollup_totals' bounds equal SQL counts
 *   5. purging raw rows keeps the figures
 */
#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/metrics.h"
#include "storage/rollup.h"
#include "storage/sketch.h"
#include "tests/store_util.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------------ */

static uint64_t rng_state = 1;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double unif(void) /* (0, 1) */
{
    return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank by sorting a copy: the p-th percentile is the value at
 * rank ceil(p/100 · n). */
static double ref_pct(const double *v, size_t n, unsigned p)
{
    double *s = xmallocarray(n, sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    size_t r = (p * n + 99) / 100;
    double x = s[(r ? r : 1) - 1];
    free(s);
    return x;
}

/* got within 1% (relative) of want; a value <= 0 is reported as 0. */
static void assert_close(const char *what, double got, double want)
{
    double w = want > 0 ? want : 0;
    if (fabs(got - w) > ROLLUP_ALPHA * w * (1 + 1e-9))
        fail_msg("%s: got %.17g, want %.17g (within %g)", what, got, want, ROLLUP_ALPHA);
}

static void assert_pcts_close(const char *what, db_pcts got, const double *v, size_t n)
{
    if (got.valid != (n > 0))
        fail_msg("%s: valid %d over %zu values", what, got.valid, n);
    if (!n)
        return;
    char w[160];
    snprintf(w, sizeof w, "%s p50", what);
    assert_close(w, got.p50, ref_pct(v, n, 50));
    snprintf(w, sizeof w, "%s p90", what);
    assert_close(w, got.p90, ref_pct(v, n, 90));
    snprintf(w, sizeof w, "%s p95", what);
    assert_close(w, got.p95, ref_pct(v, n, 95));
    snprintf(w, sizeof w, "%s p99", what);
    assert_close(w, got.p99, ref_pct(v, n, 99));
}

static void near(const char *what, double got, double want)
{
    if (fabs(got - want) > 1e-9 * (fabs(want) + 1))
        fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static db *open_ok(const char *path)
{
    db *d = NULL;
    char err[512];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("db_open: %s", err);
    return d;
}

/* ---- 1. The sketch alone -------------------------------------------------------------- */

enum { D_UNIFORM, D_EQUAL, D_PARETO, D_BIMODAL, D_ZEROS_NEG, D_SINGLE, D_EXTREME, N_DISTS };
static const char *const dist_names[N_DISTS] = {"uniform", "all equal", "pareto", "bimodal",
                                                "zeros and negatives", "single", "extreme"};

static double draw(int dist)
{
    switch (dist) {
    case D_UNIFORM: return 1 + 5000 * unif();
    case D_EQUAL: return 731.25;
    case D_PARETO: return 10 / pow(unif(), 1 / 1.1); /* heavy tail, shape 1.1 */
    case D_BIMODAL: return rnd() % 10 < 7 ? 40 + 5 * unif() : 9000 + 1000 * unif();
    case D_ZEROS_NEG: return rnd() % 3 == 0 ? 0 : rnd() % 2 ? -(double)(rnd() % 100) : 1 + (double)(rnd() % 50);
    case D_SINGLE: return 0.125;
    default: return rnd() % 2 ? 1e-300 * (1 + unif()) : 1e300 * (1 + unif());
    }
}

static void test_sketch_quantiles(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 7, 100, 1001, 50000};
    const unsigned pcts[] = {1, 10, 25, 50, 75, 90, 95, 99, 100};
    rng_state = 42;
    double *v = xmallocarray(50000, sizeof *v);
    for (int dist = 0; dist < N_DISTS; dist++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            size_t n = sizes[si];
            sketch s = {0};
            for (size_t i = 0; i < n; i++)
                sketch_add(&s, v[i] = draw(dist));
            assert_int_equal(s.n, (int64_t)n);
            for (size_t k = 0; k < sizeof pcts / sizeof *pcts; k++) {
                char what[96];
                snprintf(what, sizeof what, "%s n=%zu p%u", dist_names[dist], n, pcts[k]);
                assert_close(what, sketch_percentile(&s, pcts[k]), ref_pct(v, n, pcts[k]));
            }
            sketch_free(&s);
        }
    free(v);
    /* a bucket's value is within alpha of both its edges */
    for (int32_t i = -2000; i <= 2000; i += 7) {
        double hi = pow((1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA), i), v2 = sketch_bucket_value(i);
        assert_true(fabs(v2 - hi) <= SKETCH_ALPHA * hi * (1 + 1e-9));
        assert_true(sketch_bucket(hi * (1 - 1e-9)) == i || sketch_bucket(hi * (1 - 1e-9)) == i - 1 + 1);
    }
    /* an empty sketch */
    sketch e = {0};
    assert_true(sketch_percentile(&e, 50) == 0);
    sketch_free(&e);
    sketch_free(NULL);
}

static void test_sketch_merge_and_bytes(void **state)
{
    (void)state;
    rng_state = 7;
    for (int dist = 0; dist < N_DISTS; dist++) {
        sketch whole = {0}, parts[4] = {{0}}, merged = {0}, decoded = {0};
        for (int i = 0; i < 4000; i++) {
            double x = draw(dist);
            sketch_add(&whole, x);
            sketch_add(&parts[rnd() % 4], x);
        }
        for (int k = 0; k < 4; k++)
            sketch_merge(&merged, &parts[k]);
        strbuf a = {0}, b = {0}, c = {0};
        sketch_encode(&whole, &a);
        sketch_encode(&merged, &b);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        size_t used = 0;
        char err[160];
        assert_true(sketch_decode_add(&decoded, (const uint8_t *)a.data, a.len, &used, err, sizeof err));
        assert_int_equal(used, a.len);
        sketch_encode(&decoded, &c);
        assert_int_equal(c.len, a.len);
        assert_memory_equal(c.data, a.data, a.len);
        assert_int_equal(decoded.n, 4000);
        /* every proper prefix is refused */
        for (size_t cut = 0; cut < a.len; cut++) {
            sketch t = {0};
            if (sketch_decode_add(&t, (const uint8_t *)a.data, cut, &used, err, sizeof err))
                fail_msg("%s: a prefix of %zu of %zu bytes was accepted", dist_names[dist], cut, a.len);
            assert_non_null(strstr(err, "byte"));
            sketch_free(&t);
        }
        sb_free(&a);
        sb_free(&b);
        sb_free(&c);
        sketch_free(&whole);
        sketch_free(&merged);
        sketch_free(&decoded);
        for (int k = 0; k < 4; k++)
            sketch_free(&parts[k]);
    }
    /* damaged: indexes out of order, out of range, a zero count */
    const uint8_t bad[][8] = {
        {0, 2, 4, 1, 1, 1},          /* second delta 0 (-1 zigzagged is 1) */
        {0, 1, 0xfe, 0xff, 0x7f, 1}, /* index far beyond the range          */
        {0, 1, 2, 0},                /* a zero count                        */
        {0, 0xff, 0xff, 0xff, 0x7f}, /* a bucket count beyond any sketch    */
    };
    const size_t bad_len[] = {6, 6, 4, 5};
    for (size_t i = 0; i < 4; i++) {
        sketch t = {0};
        size_t used;
        char err[160] = "";
        assert_false(sketch_decode_add(&t, bad[i], bad_len[i], &used, err, sizeof err));
        assert_non_null(strstr(err, "sketch"));
        sketch_free(&t);
    }
}

/* ---- 2. Figures from rollups against the raw rows ------------------------------------------ */

/* One generated request, as the reference keeps it. */
typedef struct {
    double t;
    int model; /* 1 or 2 */
    const char *outcome, *source;
    bool has_lat, has_ttft, has_tokens, has_decode, has_prefill;
    double lat, ttft, decode, prefill;
    int tokens;
} gen_row;

static const char *const outcomes[] = {"ok", "ok", "ok", "ok", "error", "timeout", "cancelled", "interrupted"};

static void gen(gen_row *r, double from, double to, int dist)
{
    memset(r, 0, sizeof *r);
    r->t = from + (to - from) * unif();
    r->model = 1 + (int)(rnd() % 3 == 0);
    r->outcome = outcomes[rnd() % 8];
    r->source = rnd() % 10 == 0 ? "eval" : "traffic";
    r->has_lat = rnd() % 10 != 0;
    r->lat = draw(dist);
    if (r->lat < 0) /* stored as unknown, as db_request_finish does */
        r->has_lat = false;
    r->has_tokens = rnd() % 8 != 0;
    r->tokens = (int)(rnd() % 300);
    r->has_ttft = r->has_tokens && rnd() % 4 != 0;
    r->ttft = r->has_lat && r->lat > 0 ? r->lat / 8 : 12.5;
    r->has_decode = rnd() % 5 != 0;
    r->decode = 10 + 80 * unif();
    r->has_prefill = rnd() % 5 != 0;
    r->prefill = 100 + 900 * unif();
}

/* How many rows a test generates: on PostgreSQL a quarter (each rollup key
 * folded costs two round trips there, and the SQL is the same whatever
 * the count; every shape, minutes and hours, both models, each outcome,
 * is still there, and the sketch's accuracy does not depend on n). */
static size_t rows_for(size_t n)
{
    return store_on_pg() ? n / 4 : n;
}

/* Insert rows straight into the store, unfolded, as an older frontdesk
 * would have left them: the stats read path must fold them.  The values
 * go into the SQL as text, doubles with 17 significant digits (read back
 * as the same double by both databases), a few hundred rows a statement. */
static void insert_raw(const char *path, const gen_row *rows, size_t n)
{
    sql_exec(path, "INSERT INTO models (id, key, backend, name, first_used, last_used)"
                   " VALUES (1, 'ka', 'local', 'a', 0, 0), (2, 'kb', 'local', 'b', 0, 0) ON CONFLICT DO NOTHING");
    strbuf sql = {0};
    sb_printf(&sql, "BEGIN;");
    for (size_t i = 0; i < n; i++) {
        const gen_row *r = &rows[i];
        if (i % 400 == 0)
            sb_printf(&sql, "%sINSERT INTO requests (model_id, backend, started_at, finished_at, outcome, source,"
                            " latency_ms, ttft_ms, gen_tokens, prompt_tokens, decode_tps, prefill_tps) VALUES ",
                      i ? ";" : "");
        else
            sb_printf(&sql, ",");
        char lat[32] = "NULL", ttft[32] = "NULL", tok[32] = "NULL", dec[32] = "NULL", pre[32] = "NULL";
        if (r->has_lat)
            snprintf(lat, sizeof lat, "%.17g", r->lat);
        if (r->has_ttft)
            snprintf(ttft, sizeof ttft, "%.17g", r->ttft);
        if (r->has_tokens)
            snprintf(tok, sizeof tok, "%d", r->tokens);
        if (r->has_decode)
            snprintf(dec, sizeof dec, "%.17g", r->decode);
        if (r->has_prefill)
            snprintf(pre, sizeof pre, "%.17g", r->prefill);
        sb_printf(&sql, "(%d, 'local', %.17g, %.17g, '%s', '%s', %s, %s, %s, 20, %s, %s)", r->model, r->t, r->t + 1,
                  r->outcome, r->source, lat, ttft, tok, dec, pre);
    }
    sb_printf(&sql, ";COMMIT");
    sql_exec(path, sql.data);
    free(sql.data);
}

static bool is_err(const char *oc)
{
    return !strcmp(oc, "error") || !strcmp(oc, "timeout") || !strcmp(oc, "interrupted");
}

/* Compare s (window [from, to], model filter 0 = all) with the rows. */
static void check_against(const char *what, const db_stats *s, const gen_row *rows, size_t n, double from,
                          double to, int model)
{
    double *lat = xmallocarray(n + 1, sizeof *lat), *ttft = xmallocarray(n + 1, sizeof *ttft);
    size_t nl = 0, nt = 0;
    int64_t req = 0, errs = 0, canc = 0, tokens = 0, dn = 0, pn = 0;
    double ds = 0, ps = 0;
    for (size_t i = 0; i < n; i++) {
        const gen_row *r = &rows[i];
        if (r->t < from || r->t > to || strcmp(r->source, "traffic") || (model && r->model != model))
            continue;
        req++;
        errs += is_err(r->outcome);
        canc += !strcmp(r->outcome, "cancelled");
        tokens += r->has_tokens ? r->tokens : 0;
        if (r->has_lat)
            lat[nl++] = r->lat;
        if (r->has_ttft)
            ttft[nt++] = r->ttft;
        if (r->has_decode) {
            dn++;
            ds += r->decode;
        }
        if (r->has_prefill) {
            pn++;
            ps += r->prefill;
        }
    }
    if (s->requests != req || s->errors != errs || s->cancelled != canc || s->tokens_generated != tokens)
        fail_msg("%s: requests %lld/%lld errors %lld/%lld cancelled %lld/%lld tokens %lld/%lld (got/want)", what,
                 (long long)s->requests, (long long)req, (long long)s->errors, (long long)errs,
                 (long long)s->cancelled, (long long)canc, (long long)s->tokens_generated, (long long)tokens);
    near(what, s->error_rate, req ? (double)errs / (double)req : 0);
    near(what, s->decode_tps, dn ? ds / (double)dn : 0);
    near(what, s->prefill_tps, pn ? ps / (double)pn : 0);
    char w[200];
    snprintf(w, sizeof w, "%s latency", what);
    assert_pcts_close(w, s->latency_ms, lat, nl);
    snprintf(w, sizeof w, "%s ttft", what);
    assert_pcts_close(w, s->ttft_ms, ttft, nt);
    free(lat);
    free(ttft);
}

/* Per minute of the series and per model, against the rows. */
static void check_series_and_models(const char *what, const db_stats *s, const gen_row *rows, size_t n)
{
    double *lat = xmallocarray(n + 1, sizeof *lat);
    for (size_t b = 0; b < s->n_series; b++) {
        const db_minute *m = &s->series[b];
        int64_t req = 0, errs = 0, tokens = 0;
        size_t nl = 0;
        for (size_t i = 0; i < n; i++) {
            const gen_row *r = &rows[i];
            if (r->t < m->start || r->t >= m->start + 60 || strcmp(r->source, "traffic"))
                continue;
            req++;
            errs += is_err(r->outcome);
            tokens += r->has_tokens ? r->tokens : 0;
            if (r->has_lat)
                lat[nl++] = r->lat;
        }
        if (m->requests != req || m->errors != errs || m->tokens != tokens)
            fail_msg("%s: minute %zu: requests %lld/%lld errors %lld/%lld tokens %lld/%lld", what, b,
                     (long long)m->requests, (long long)req, (long long)m->errors, (long long)errs,
                     (long long)m->tokens, (long long)tokens);
        char w[200];
        snprintf(w, sizeof w, "%s minute %zu latency", what, b);
        assert_pcts_close(w, m->latency_ms, lat, nl);
    }
    for (size_t k = 0; k < s->n_models; k++) {
        int64_t req = 0, errs = 0;
        size_t nl = 0;
        for (size_t i = 0; i < n; i++)
            if (rows[i].model == s->models[k].model_id && !strcmp(rows[i].source, "traffic") &&
                rows[i].t >= s->from && rows[i].t <= s->to) {
                req++;
                errs += is_err(rows[i].outcome);
                if (rows[i].has_lat)
                    lat[nl++] = rows[i].lat;
            }
        assert_int_equal(s->models[k].requests, req);
        assert_int_equal(s->models[k].errors, errs);
        char w[200];
        snprintf(w, sizeof w, "%s model %lld latency", what, (long long)s->models[k].model_id);
        assert_pcts_close(w, s->models[k].latency_ms, lat, nl);
        if (k)
            assert_true(s->models[k - 1].requests >= s->models[k].requests);
    }
    free(lat);
}

static void test_stats_from_rollups(void **state)
{
    (void)state;
    /* now on a whole minute, every row strictly before it: the minutes
     * whose start lies in [now - window, now] hold exactly the rows whose
     * started_at does (the minute starting at `now` is empty) */
    double now = floor(db_now() / 60) * 60 - 600;
    for (int dist = 0; dist < N_DISTS; dist++) {
        char name[64];
        snprintf(name, sizeof name, "stats-%d.db", dist);
        const char *p = fresh_store(name);
        db *d = open_ok(p);
        rng_state = 1000 + (uint64_t)dist;
        size_t n = rows_for(dist == D_UNIFORM ? 20000 : 3000);
        gen_row *rows = xmallocarray(n, sizeof *rows);
        for (size_t i = 0; i < n; i++) /* a fifth before the hour, the rest inside it */
            gen(&rows[i], i % 5 ? now - 3600 : now - 86400 * 3, i % 5 ? now - 1e-3 : now - 3600 - 1, dist);
        insert_raw(p, rows, n);
        /* a running request is counted apart, and never folded */
        sql_exec(p, "INSERT INTO requests (model_id, backend, started_at, outcome)"
                    " SELECT 1, 'local', max(started_at), 'running' FROM requests");

        db_stats s;
        char what[96];
        snprintf(what, sizeof what, "%s 1h", dist_names[dist]);
        OK(d, db_stats_compute(d, DB_WIN_1H, now, NULL, 0, &s));
        check_against(what, &s, rows, n, now - 3600, now, 0);
        check_series_and_models(what, &s, rows, n);
        assert_int_equal(s.running, 1);
        assert_int_equal(s.n_series, 60);
        db_stats_free(&s);

        snprintf(what, sizeof what, "%s 24h model 2", dist_names[dist]);
        int64_t m2 = 2;
        OK(d, db_stats_compute(d, DB_WIN_24H, now, &m2, 1, &s));
        check_against(what, &s, rows, n, now - 86400, now, 2);
        assert_int_equal(s.n_models, 1);
        db_stats_free(&s);

        snprintf(what, sizeof what, "%s all", dist_names[dist]);
        OK(d, db_stats_compute(d, DB_WIN_ALL, now, NULL, 0, &s));
        check_against(what, &s, rows, n, 0, now, 0);
        db_stats_free(&s);
        snprintf(what, sizeof what, "%s 30d", dist_names[dist]);
        OK(d, db_stats_compute(d, DB_WIN_30D, now, NULL, 0, &s));
        check_against(what, &s, rows, n, now - 30 * 86400, now, 0);
        db_stats_free(&s);

        /* every finished row folded, once */
        assert_true(sql_num(p, "SELECT count(*) FROM requests WHERE folded = 0 AND outcome != 'running'") == 0);
        assert_true(sql_num(p, "SELECT sum(requests) FROM rollups") ==
                    sql_num(p, "SELECT count(*) FROM requests WHERE outcome != 'running'"));
        free(rows);
        db_close(d);
    }
}

/* Requests through the API fold as they finish (no catch-up needed), with
 * their conversation's arm; negative measures are unknown, zeros count. */
static void test_fold_on_finish(void **state)
{
    (void)state;
    const char *p = fresh_store("finish.db");
    db *d = open_ok(p);
    sql_exec(p, "INSERT INTO models (id, key, backend, name, first_used, last_used) VALUES (1, 'k', 'local', 'a', 0, 0);"
                "INSERT INTO conversations (id, created_at, updated_at, arm, arm_model_id) VALUES (7, 0, 0, 'candidate', 1)");
    double lats[] = {0, 0, -5, 120, 120, 3000, -1, 0.5};
    for (size_t i = 0; i < sizeof lats / sizeof *lats; i++) {
        int64_t id;
        OK(d, db_request_begin(d, 1, "local", i % 2 ? 7 : 0, 0, 0, &id));
        db_request_result r = {.outcome = i == 5 ? DB_OUTCOME_ERROR : DB_OUTCOME_OK,
                               .prompt_tokens = 3, .gen_tokens = (int)i, .ttft_ms = 4, .prefill_ms = -1,
                               .decode_ms = -1, .latency_ms = lats[i], .prefill_tps = 0, .decode_tps = 50, .attempts = 1};
        OK(d, db_request_finish(d, id, &r));
        assert_true(sql_num(p, "SELECT min(folded) FROM requests") == 1);
    }
    int64_t n = -1;
    OK(d, db_rollup_catch_up(d, &n));
    assert_int_equal(n, 0); /* nothing left to fold */
    assert_true(sql_num(p, "SELECT sum(requests) FROM rollups WHERE arm = 'candidate'") == 4);
    assert_true(sql_num(p, "SELECT sum(requests) FROM rollups WHERE arm = ''") == 4);
    assert_true(sql_num(p, "SELECT sum(latency_n) FROM rollups") == 6);
    assert_true(sql_num(p, "SELECT sum(gen_tokens) FROM rollups") == 28);
    double now = floor(db_now() / 60) * 60 + 60, known[] = {0, 0, 120, 120, 3000, 0.5};
    db_stats s;
    OK(d, db_stats_compute(d, DB_WIN_5M, now, NULL, 0, &s));
    assert_int_equal(s.requests, 8);
    assert_int_equal(s.errors, 1);
    assert_pcts_close("api latency", s.latency_ms, known, 6);
    db_stats_free(&s);
    db_close(d);
}

/* ---- 3. Exactly once ------------------------------------------------------------------------ */

static void test_catch_up_once(void **state)
{
    (void)state;
    const char *p = fresh_store("once.db");
    db *d = open_ok(p);
    double now = floor(db_now() / 60) * 60;
    rng_state = 99;
    size_t n = rows_for(6000);
    gen_row *rows = xmallocarray(n, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        gen(&rows[i], now - 7200, now - 1, D_UNIFORM);
    insert_raw(p, rows, n);
    /* two processes catch up at once */
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            db *c = NULL;
            char err[256];
            db_status st = db_open_at(&c, p, DB_SCHEMA_VERSION, err, sizeof err);
            _exit(st == DB_OK && db_rollup_catch_up(c, NULL) == DB_OK ? 0 : 1);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int64_t again = -1;
    OK(d, db_rollup_catch_up(d, &again));
    assert_int_equal(again, 0);
    db *d2 = open_ok(p);
    OK(d2, db_rollup_catch_up(d2, &again));
    assert_int_equal(again, 0);
    db_close(d2);
    assert_true(sql_num(p, "SELECT sum(requests) FROM rollups") == (double)n);
    assert_true(sql_num(p, "SELECT sum(latency_n) FROM rollups") ==
                sql_num(p, "SELECT count(latency_ms) FROM requests"));
    assert_true(sql_num(p, "SELECT sum(gen_tokens) FROM rollups") ==
                sql_num(p, "SELECT coalesce(sum(gen_tokens), 0) FROM requests"));
    free(rows);
    db_close(d);
}

/* A process that dies after the finish commits and before the fold: the
 * next open folds the row, once. */
static void test_crash_between_finish_and_fold(void **state)
{
    (void)state;
    const char *p = fresh_store("crash.db");
    db *d = open_ok(p);
    sql_exec(p, "INSERT INTO models (id, key, backend, name, first_used, last_used) VALUES (1, 'k', 'local', 'a', 0, 0)");
    int64_t done;
    OK(d, db_request_begin(d, 1, "local", 0, 0, 0, &done));
    db_request_result r = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 3, .gen_tokens = 9, .ttft_ms = 4,
                           .latency_ms = 250, .decode_tps = 30, .attempts = 1};
    OK(d, db_request_finish(d, done, &r));
    db_close(d);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        db *c = NULL;
        char err[256];
        int64_t id;
        if (db_open(&c, p, err, sizeof err) != DB_OK || db_request_begin(c, 1, "local", 0, 0, 0, &id) != DB_OK)
            _exit(2);
        setenv("FRONTDESK_CRASH_AFTER_REQUEST_COMMIT", "1", 1);
        db_request_result rr = r;
        rr.latency_ms = 900;
        db_request_finish(c, id, &rr);
        _exit(3); /* not reached when the crash point works */
    }
    int status;
    assert_int_equal(waitpid(kid, &status, 0), kid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 99);
    /* committed, unfolded */
    assert_true(sql_num(p, "SELECT count(*) FROM requests WHERE outcome = 'ok'") == 2);
    assert_true(sql_num(p, "SELECT count(*) FROM requests WHERE folded = 0") == 1);
    assert_true(sql_num(p, "SELECT sum(requests) FROM rollups") == 1);
    for (int k = 0; k < 2; k++) { /* opened twice: folded once */
        d = open_ok(p);
        db_close(d);
        assert_true(sql_num(p, "SELECT count(*) FROM requests WHERE folded = 0") == 0);
        assert_true(sql_num(p, "SELECT sum(requests) FROM rollups") ==
                    sql_num(p, "SELECT count(*) FROM requests WHERE outcome != 'running'"));
        assert_true(sql_num(p, "SELECT sum(latency_sum) FROM rollups") ==
                    sql_num(p, "SELECT sum(latency_ms) FROM requests"));
    }
}

/* ---- 4. Compaction and the exported bounds ---------------------------------------------------- */

static void totals_sum(db *d, db_rollup_total *sum)
{
    db_rollup_total *t;
    size_t n;
    OK(d, db_rollup_totals(d, &t, &n));
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < n; i++) {
        sum->requests += t[i].requests;
        sum->gen_tokens += t[i].gen_tokens;
        sum->latency_n += t[i].latency_n;
        sum->latency_sum_s += t[i].latency_sum_s;
        for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++)
            sum->latency_le[k] += t[i].latency_le[k];
    }
    free(t);
}

static void test_compact_keeps_totals(void **state)
{
    (void)state;
    const char *p = fresh_store("compact.db");
    db *d = open_ok(p);
    double now = floor(db_now() / 60) * 60;
    rng_state = 5;
    size_t n = rows_for(8000);
    gen_row *rows = xmallocarray(n, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        gen(&rows[i], now - 5 * 86400, now - 1, D_PARETO);
    insert_raw(p, rows, n);
    db_stats before, after;
    OK(d, db_stats_compute(d, DB_WIN_ALL, now, NULL, 0, &before));
    db_rollup_total tb, ta;
    totals_sum(d, &tb);
    double minutes = sql_num(p, "SELECT count(*) FROM rollups WHERE period = 60");
    OK(d, db_rollup_compact(d, now));
    assert_true(sql_num(p, "SELECT count(*) FROM rollups WHERE period = 60") < minutes / 2);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM rollups WHERE period = 60 AND start + 60 <= %.3f",
             now - 48 * 3600.0 - 60);
    assert_true(sql_num(p, sql) == 0);
    assert_true(sql_num(p, "SELECT count(*) FROM rollups WHERE period = 3600") > 0);
    OK(d, db_rollup_compact(d, now)); /* again: nothing to do */
    OK(d, db_stats_compute(d, DB_WIN_ALL, now, NULL, 0, &after));
    check_against("all after compaction", &after, rows, n, 0, now, 0);
    assert_int_equal(after.requests, before.requests);
    assert_int_equal(after.errors, before.errors);
    assert_int_equal(after.tokens_generated, before.tokens_generated);
    assert_true(after.latency_ms.p99 == before.latency_ms.p99); /* the same buckets, merged */
    totals_sum(d, &ta);
    assert_int_equal(ta.requests, tb.requests);
    assert_int_equal(ta.latency_n, tb.latency_n);
    near("latency sum", ta.latency_sum_s, tb.latency_sum_s);
    for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++)
        assert_int_equal(ta.latency_le[k], tb.latency_le[k]);
    db_stats_free(&before);
    db_stats_free(&after);
    free(rows);
    db_close(d);
}

/* "x is in bucket k": x not NULL, above bound k-1 (none for k = 0), at or
 * below bound k (none for k = n), the bounds written to be read back as
 * the same doubles. */
static void bound_cond(char *out, size_t len, const char *x, const double *le, int n, int k)
{
    int w = snprintf(out, len, "%s IS NOT NULL", x);
    if (k > 0 && k <= n)
        w += snprintf(out + w, len - (size_t)w, " AND %s > %.17g", x, le[k - 1]);
    if (k < n)
        snprintf(out + w, len - (size_t)w, " AND %s <= %.17g", x, le[k]);
}

static void test_totals_bounds(void **state)
{
    (void)state;
    const char *p = fresh_store("totals.db");
    db *d = open_ok(p);
    double now = floor(db_now() / 60) * 60;
    rng_state = 11;
    size_t n = rows_for(5000);
    gen_row *rows = xmallocarray(n, sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        gen(&rows[i], now - 3 * 86400, now - 1, D_PARETO);
        if (i % 7 == 0) /* exactly on a bound: counted in that bound */
            rows[i].lat = rollup_le_seconds[rnd() % ROLLUP_N_LE_SECONDS] * 1000;
        if (i % 11 == 0)
            rows[i].tokens = (int)rollup_le_tokens[rnd() % ROLLUP_N_LE_TOKENS];
    }
    insert_raw(p, rows, n);
    db_rollup_total *t;
    size_t nt;
    OK(d, db_rollup_totals(d, &t, &nt));
    assert_true(nt >= 8);
    /* each bound k by SQL on the raw rows: (bound k-1, bound k], open at
     * either end where there is no such bound */
    int64_t all = 0;
    sql_conn *raw = sql_connect(p);
    for (size_t i = 0; i < nt; i++) {
        all += t[i].requests;
        for (int k = 0; k <= ROLLUP_N_LE_SECONDS || k <= ROLLUP_N_LE_TOKENS; k++) {
            char lat_in[120], ttft_in[120], tok_in[120], sql[1200];
            bound_cond(lat_in, sizeof lat_in, "latency_ms / 1000.0", rollup_le_seconds, ROLLUP_N_LE_SECONDS, k);
            bound_cond(ttft_in, sizeof ttft_in, "ttft_ms / 1000.0", rollup_le_seconds, ROLLUP_N_LE_SECONDS, k);
            bound_cond(tok_in, sizeof tok_in, "gen_tokens", rollup_le_tokens, ROLLUP_N_LE_TOKENS, k);
            snprintf(sql, sizeof sql,
                     "SELECT count(*), count(latency_ms), coalesce(sum(latency_ms), 0), count(ttft_ms),"
                     " count(gen_tokens), coalesce(sum(gen_tokens), 0),"
                     " sum(CASE WHEN %s THEN 1 ELSE 0 END), sum(CASE WHEN %s THEN 1 ELSE 0 END),"
                     " sum(CASE WHEN %s THEN 1 ELSE 0 END)"
                     " FROM requests WHERE model_id = %lld AND outcome = '%s' AND source = 'traffic'",
                     lat_in, ttft_in, tok_in, (long long)t[i].model_id, t[i].outcome);
            double c[9];
            assert_int_equal(sql_conn_nums(raw, sql, c, 9), 9);
            assert_int_equal(t[i].requests, (int64_t)c[0]);
            assert_int_equal(t[i].latency_n, (int64_t)c[1]);
            near("latency sum", t[i].latency_sum_s, c[2] / 1000.0);
            assert_int_equal(t[i].ttft_n, (int64_t)c[3]);
            assert_int_equal(t[i].tokens_n, (int64_t)c[4]);
            assert_int_equal(t[i].gen_tokens, (int64_t)c[5]);
            if (k <= ROLLUP_N_LE_SECONDS) {
                if (t[i].latency_le[k] != (int64_t)c[6])
                    fail_msg("model %lld %s: latency bound %d: %lld, SQL says %lld", (long long)t[i].model_id,
                             t[i].outcome, k, (long long)t[i].latency_le[k], (long long)c[6]);
                assert_int_equal(t[i].ttft_le[k], (int64_t)c[7]);
            }
            if (k <= ROLLUP_N_LE_TOKENS)
                assert_int_equal(t[i].tokens_le[k], (int64_t)c[8]);
        }
    }
    sql_disconnect(raw);
    /* eval rows are not exported */
    assert_true((double)all == sql_num(p, "SELECT count(*) FROM requests WHERE source = 'traffic'"));
    free(t);
    free(rows);
    db_close(d);
}


/* ---- 5. Purging raw rows keeps the figures ---------------------------------------------------- */

static void stats_equal(const char *what, const db_stats *a, const db_stats *b)
{
    if (a->requests != b->requests || a->errors != b->errors || a->cancelled != b->cancelled ||
        a->tokens_generated != b->tokens_generated || a->latency_ms.p50 != b->latency_ms.p50 ||
        a->latency_ms.p99 != b->latency_ms.p99 || a->ttft_ms.p95 != b->ttft_ms.p95 || a->n_models != b->n_models)
        fail_msg("%s: the figures changed (requests %lld -> %lld, p99 %g -> %g)", what, (long long)a->requests,
                 (long long)b->requests, a->latency_ms.p99, b->latency_ms.p99);
    near(what, a->decode_tps, b->decode_tps);
    assert_int_equal(a->n_series, b->n_series);
    for (size_t i = 0; i < a->n_series; i++)
        assert_int_equal(a->series[i].requests, b->series[i].requests);
}

static void test_purge_keeps_figures(void **state)
{
    (void)state;
    const char *p = fresh_store("purge.db");
    db *d = open_ok(p);
    double now = floor(db_now() / 60) * 60;
    rng_state = 321;
    size_t n = rows_for(4000);
    gen_row *rows = xmallocarray(n, sizeof *rows);
    for (size_t i = 0; i < n; i++)
        gen(&rows[i], now - 10 * 86400, now - 1, D_BIMODAL);
    insert_raw(p, rows, n);
    /* a reply whose request is old, one whose request is recent */
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO conversations (id, created_at, updated_at) VALUES (5, %.3f, %.3f);"
             "INSERT INTO messages (id, conversation_id, role, text, created_at, model_id)"
             " VALUES (50, 5, 'agent', 'old reply', %.3f, 1), (51, 5, 'agent', 'new reply', %.3f, 1);"
             "INSERT INTO requests (model_id, backend, message_id, started_at, outcome, latency_ms)"
             " VALUES (1, 'local', 50, %.3f, 'ok', 80), (1, 'local', 51, %.3f, 'ok', 90)",
             now - 9 * 86400, now - 60, now - 9 * 86400 + 1, now - 61, now - 9 * 86400, now - 62);
    sql_exec(p, sql);
    /* compacted first (as any process may do at any time): then before and
     * after read the same hour rows at the 7-day edge */
    OK(d, db_rollup_catch_up(d, NULL));
    OK(d, db_rollup_compact(d, db_now()));
    db_stats before[3], after[3];
    const db_window wins[3] = {DB_WIN_ALL, DB_WIN_7D, DB_WIN_24H};
    for (int k = 0; k < 3; k++)
        OK(d, db_stats_compute(d, wins[k], now, NULL, 0, &before[k]));
    double total = sql_num(p, "SELECT count(*) FROM requests");

    /* a running canary whose versions have old rows: refused, nothing deleted */
    db_deploy_why why = {.who = "test", .note = "n"};
    OK(d, db_deploy(d, 1, &why));
    OK(d, db_canary_start(d, 2, 10, &why));
    int64_t gone = -1;
    assert_int_equal(db_requests_purge(d, now - 3 * 86400, (int64_t[]){1, 2}, 2, &gone), DB_INVALID);
    assert_non_null(strstr(db_errmsg(d), "canary"));
    assert_int_equal(gone, 0);
    assert_true(sql_num(p, "SELECT count(*) FROM requests") == total);
    char *out = NULL, *err = NULL;
    const char *argv_purge[] = {test_bin(), "purge", "--requests-older-than", "3", "--db", p, NULL};
    assert_int_equal(test_run(argv_purge, NULL, 0, &out, &err), 1);
    if (!strstr(err, "canary"))
        fail_msg("purge during a canary: %s", err);
    free(out);
    free(err);
    assert_true(sql_num(p, "SELECT count(*) FROM requests") == total);

    /* the canary over: the old rows go, the figures stay */
    OK(d, db_canary_stop(d, false, &why));
    assert_int_equal(test_run(argv_purge, NULL, 0, &out, &err), 0);
    free(out);
    free(err);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM requests WHERE started_at < %.3f", now - 3 * 86400);
    assert_true(sql_num(p, sql) == 0);
    assert_true(sql_num(p, "SELECT count(*) FROM requests") < total * 0.5);
    for (int k = 0; k < 3; k++) {
        OK(d, db_stats_compute(d, wins[k], now, NULL, 0, &after[k]));
        stats_equal(db_window_name(wins[k]), &before[k], &after[k]);
        db_stats_free(&before[k]);
        db_stats_free(&after[k]);
    }
    /* show says so for the old reply only */
    bool purged = false;
    OK(d, db_request_figures_purged(d, 50, &purged));
    assert_true(purged);
    OK(d, db_request_figures_purged(d, 51, &purged));
    assert_false(purged);
    const char *argv_show[] = {test_bin(), "show", "5", "--db", p, NULL};
    assert_int_equal(test_run(argv_show, NULL, 0, &out, &err), 0);
    const char *old = strstr(out, "old reply"), *fresh_reply = strstr(out, "new reply"),
               *said = strstr(out, "figures purged");
    if (!old || !fresh_reply || !said || said < old || said > fresh_reply || strstr(said + 1, "figures purged"))
        fail_msg("show after the purge:\n%s", out);
    free(out);
    free(err);
    free(rows);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_quantiles),
        cmocka_unit_test(test_sketch_merge_and_bytes),
        cmocka_unit_test(test_stats_from_rollups),
        cmocka_unit_test(test_fold_on_finish),
        cmocka_unit_test(test_catch_up_once),
        cmocka_unit_test(test_crash_between_finish_and_fold),
        cmocka_unit_test(test_compact_keeps_totals),
        cmocka_unit_test(test_totals_bounds),
        cmocka_unit_test(test_purge_keeps_figures),
    };
    /* on PostgreSQL all but the sketch alone, which touches no store */
    static const char *const no_store[] = {"test_sketch_quantiles", "test_sketch_merge_and_bytes", NULL};
    return store_run_suite("rollup", tests, sizeof tests / sizeof *tests, no_store, NULL, NULL);
}
