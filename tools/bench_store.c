/*
 * bench_store.c — the store on SQLite and on PostgreSQL, side by side (a
 * step of `make bench`; runs alone too):
 *
 *   bench_store [--quick] [--requests N] [--writers W] [--replies K]
 *               [--refreshes R] [--backend both|sqlite|postgresql]
 *               [--dir DIR] [--pg-cluster SCRIPT]
 *
 * Each backend gets a fresh store: a SQLite file in a temporary directory
 * under DIR (default /tmp), and a database on a throwaway PostgreSQL
 * cluster this tool starts itself with tools/pg_cluster.sh (Unix socket
 * only, fsync off) and stops at the end.  A guard process holding a pipe
 * from this one stops it when the pipe closes, so the cluster goes away
 * even when the bench fails, is interrupted or is killed.
 *
 * 1. A day of traffic: N finished requests (default 30000; --quick 2000)
 *    spread evenly over the last 24 hours, each with its conversation, the
 *    customer's message and the reply (with its confidence), one reply in
 *    ten rated, 2% failed.  A fixture writes these rows through storage's
 *    statement layer (sql.h: the same SQL on both backends; transactions
 *    of 5000 requests) unfolded, and db_rollup_catch_up then folds them
 *    into the rollups: the fold db_request_finish does per request, in
 *    bulk (db_request_finish stamps the current time, so it cannot write
 *    a day of history).
 * 2. The dashboard's refresh, R times (default 50; --quick 10) for the
 *    5 min window (the dashboard's default) and for 24 h: what its feed
 *    thread does each second (app/dashfeed.c dash_snapshot_compute:
 *    recovery, db_recover — issue 23: it runs on every refresh — then the
 *    window's and the last hour's figures from the rollups, the models,
 *    recent errors, thumbs-down rate, alert episodes, confidence per
 *    version), with alerts_check.  Median and p95, after one untimed refresh.
 * 3. Writing: one writer process alone, then the write-heavy load: W
 *    writer processes (default 8; fork, each opens its own handle).  Each
 *    records K replies (default 250; --quick 25) back to back, as
 *    app/store.c records one: a customer message (a new conversation
 *    every 10 replies), then — timed as one reply's write — db_reply_begin, db_request_begin, 3 db_reply_progress,
 *    db_request_finish (which folds the request into its minute) and
 *    db_reply_end.  No generation in between: this is the store's share
 *    of a reply, at full speed.  Meanwhile this process refreshes the
 *    5 min dashboard every 0.25 s.  Replies/s over all writers, p50/p95
 *    of one reply's write, the refresh beside the W writers, failures
 *    (DB_BUSY apart), and a check that every request is counted exactly
 *    once: the request rows, the replies, and the requests the rollups
 *    count (db_stats_compute over "all") each equal N plus the replies
 *    written.
 *
 * Prints a table, figure | SQLite | PostgreSQL | PG/SQLite (the ratio).
 * Figures, not checks: no timing is asserted.  Exits 1 when a backend
 * failed (its error printed) or a count is off; 2 on a usage error.
 */
#include "app/alerts.h"
#include "app/config.h"
#include "app/dashfeed.h"
#include "storage/chats.h"
#include "storage/db_internal.h"
#include "storage/metrics.h"
#include "storage/rollup.h"
#include "storage/sql.h"
#include "tools/parts/bench_store_cluster.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    long requests;
    int writers, replies, refreshes;
    const char *dir, *cluster_script;
} opts;

/* One write load's figures (NAN: not measured). */
typedef struct {
    double load_s, replies_per_s;
    double write[2];      /* one reply's write p50, p95 (seconds)          */
    double r5_load[2];    /* the 5 min refresh meanwhile, p50, p95         */
    int n_load_refreshes;
    long written, failed, busy;
    char first_failure[300];
} load_figures;

/* One backend's figures (NAN: not measured). */
typedef struct {
    bool ran;             /* every step completed                          */
    char error[700];      /* why not                                       */
    double fill_s, fold_s;
    double r5[2], r24[2]; /* refresh p50, p95 (seconds)                    */
    load_figures one, many; /* one writer alone; all the writers           */
    bool counted_once;
    long rows, replies, rolled; /* what the counts found                    */
} figures;

/* ---- Small helpers ---------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p of v[0..n) (sorted in place). */
static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    return v[r ? r - 1 : 0];
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double unit(uint64_t *s)
{
    return (double)(rng(s) >> 11) / 9007199254740992.0;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* One value from a one-row, one-column query. */
static db_status query_long(db *d, const char *sql, long *out)
{
    sql_stmt *st = db_prepare(d, sql, "counting");
    if (!st)
        return DB_ERR;
    int rc = sql_step(st);
    if (rc != SQL_ROW) {
        db_status s = db_fail(d, rc, "counting");
        sql_finalize(st);
        return s;
    }
    *out = (long)sql_column_int64(st, 0);
    sql_finalize(st);
    return DB_OK;
}

/* ---- 1. A day of traffic ---------------------------------------------------------- */

static const char *const questions[] = {
    "Hello, my order %ld has not arrived yet and the tracking page has said 'in transit' for a week. Can you check?",
    "I was charged twice for invoice %ld this month. Please refund the duplicate payment to my card.",
    "How do I change the delivery address on order %ld? I moved last week and forgot to update it.",
    "The charger that came with order %ld stopped working after two days. Is it covered by the warranty?",
    "Can I return the shoes from order %ld? They are a size too small and I have not worn them outside.",
};
static const char *const answers[] = {
    "Thank you for reaching out. I checked order %ld: it left our warehouse on Monday and the carrier "
    "expects to deliver it within two working days. I have sent you the new tracking link by email.",
    "I am sorry about the double charge on invoice %ld. I have refunded the duplicate payment; it should "
    "appear on your card within three to five working days. You will get a confirmation email shortly.",
    "I have updated the delivery address on order %ld. The parcel has not shipped yet, so it will go to "
    "your new address. You can check the details any time under My orders.",
    "The charger from order %ld is covered by our one-year warranty. I have started a replacement; a "
    "prepaid return label is on its way to your inbox, and the new charger ships today.",
    "Yes, unworn shoes from order %ld can be returned within 30 days. I have emailed you a free return "
    "label; once the parcel reaches us the refund takes about a week.",
};

typedef struct {
    sql_stmt *conv, *customer, *reply, *request, *rating;
} fill_stmts;

static void fill_finalize(fill_stmts *f)
{
    sql_finalize(f->conv);
    sql_finalize(f->customer);
    sql_finalize(f->reply);
    sql_finalize(f->request);
    sql_finalize(f->rating);
}

/* sql, with " RETURNING id" on PostgreSQL (see fill_step). */
static sql_stmt *prepare_insert(db *d, const char *sql)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s%s", sql, db_is_pg(d) ? " RETURNING id" : "");
    return db_prepare(d, buf, "preparing the fixture");
}

static db_status fill_prepare(db *d, fill_stmts *f)
{
    const char *what = "preparing the fixture";
    f->conv = prepare_insert(d, "INSERT INTO conversations (title, profile, created_at, updated_at)"
                                " VALUES (?, 'default', ?, ?)");
    f->customer = prepare_insert(d, "INSERT INTO messages (conversation_id, role, text, created_at)"
                                    " VALUES (?, 'customer', ?, ?)");
    f->reply = prepare_insert(d, "INSERT INTO messages (conversation_id, role, text, created_at, prev_id, model_id,"
                                 " sampling, logprob_mean, logprob_min)"
                                 " VALUES (?, 'agent', ?, ?, ?, ?, '{\"temperature\":0.7}', ?, ?)");
    f->request = db_prepare(d,
                            "INSERT INTO requests (model_id, backend, conversation_id, message_id, started_at,"
                            " finished_at, queue_ms, prompt_tokens, gen_tokens, ttft_ms, prefill_ms, decode_ms,"
                            " prefill_tps, decode_tps, latency_ms, outcome, error)"
                            " VALUES (?, 'local', ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            what);
    f->rating = db_prepare(d,
                           "INSERT INTO ratings (message_id, rater, thumbs, score, created_at, updated_at)"
                           " VALUES (?, 'lead', ?, ?, ?, ?)",
                           what);
    return f->conv && f->customer && f->reply && f->request && f->rating ? DB_OK : DB_ERR;
}

/* Step st (an INSERT; its row's id into *id when id is not NULL) and
 * reset it.  The id comes back by RETURNING on PostgreSQL (one round trip
 * instead of two), by db_last_id on SQLite: there RETURNING buffers the
 * row in an ephemeral table whose page cache is allocated and freed per
 * statement, which costs more than the insert. */
static db_status fill_step(db *d, sql_stmt *st, int64_t *id)
{
    int rc = sql_step(st);
    if (rc == SQL_ROW && id && db_is_pg(d)) {
        *id = sql_column_int64(st, 0);
        id = NULL;
        rc = SQL_DONE;
    }
    db_status s = rc == SQL_DONE ? DB_OK : db_fail(d, rc, "writing the fixture");
    sql_reset(st);
    if (s == DB_OK && id)
        *id = db_last_id(d);
    return s;
}

/* Request i of n, started at t. */
static db_status fill_one(db *d, fill_stmts *f, long i, double t, const int64_t models[2], uint64_t *s)
{
    char q[256], a[512], title[48];
    long order = 100000 + i;
    int topic = (int)(rng(s) % 5);
    snprintf(q, sizeof q, questions[topic], order);
    snprintf(a, sizeof a, answers[topic], order);
    snprintf(title, sizeof title, "%.40s", q);
    double u = unit(s);
    double lat = 200 + 4000 * u * u, ttft = lat / 8;
    int gen = 16 + (int)(rng(s) % 200), prompt = 40 + (int)(rng(s) % 400);
    bool failed = rng(s) % 50 == 0;
    double mean = -0.2 - 2.5 * unit(s);
    int64_t model = models[i & 1], conv, cust, reply;

    sql_bind_text(f->conv, 1, title);
    sql_bind_double(f->conv, 2, t);
    sql_bind_double(f->conv, 3, t + lat / 1000);
    db_status st = fill_step(d, f->conv, &conv);
    if (st != DB_OK)
        return st;
    sql_bind_int64(f->customer, 1, conv);
    sql_bind_text(f->customer, 2, q);
    sql_bind_double(f->customer, 3, t - 0.01);
    if ((st = fill_step(d, f->customer, &cust)) != DB_OK)
        return st;
    sql_bind_int64(f->reply, 1, conv);
    sql_bind_text(f->reply, 2, a);
    sql_bind_double(f->reply, 3, t);
    sql_bind_int64(f->reply, 4, cust);
    sql_bind_int64(f->reply, 5, model);
    sql_bind_double(f->reply, 6, mean);
    sql_bind_double(f->reply, 7, mean - 2.0);
    if ((st = fill_step(d, f->reply, &reply)) != DB_OK)
        return st;
    sql_stmt *r = f->request;
    sql_bind_int64(r, 1, model);
    sql_bind_int64(r, 2, conv);
    sql_bind_int64(r, 3, reply);
    sql_bind_double(r, 4, t);
    sql_bind_double(r, 5, t + lat / 1000);
    sql_bind_int(r, 6, prompt);
    sql_bind_int(r, 7, gen);
    sql_bind_double(r, 8, ttft);
    sql_bind_double(r, 9, ttft * 0.9);
    sql_bind_double(r, 10, lat - ttft);
    sql_bind_double(r, 11, 150 + (double)(rng(s) % 50));
    sql_bind_double(r, 12, 40 + (double)(rng(s) % 20));
    sql_bind_double(r, 13, lat);
    sql_bind_text(r, 14, failed ? "error" : "ok");
    if (failed)
        sql_bind_text(r, 15, "the backend closed the connection");
    else
        sql_bind_null(r, 15);
    if ((st = fill_step(d, r, NULL)) != DB_OK)
        return st;
    if (i % 10 == 0) {
        sql_bind_int64(f->rating, 1, reply);
        sql_bind_int(f->rating, 2, rng(s) % 4 == 0 ? -1 : 1);
        sql_bind_int(f->rating, 3, 1 + (int)(rng(s) % 5));
        sql_bind_double(f->rating, 4, t + 60);
        sql_bind_double(f->rating, 5, t + 60);
        st = fill_step(d, f->rating, NULL);
    }
    return st;
}

/* N requests over the 24 hours before now, in transactions of 5000. */
static db_status fill(db *d, long n, double now, const int64_t models[2])
{
    fill_stmts f = {0};
    db_status st = fill_prepare(d, &f);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n && st == DB_OK; i += 5000) {
        if ((st = db_begin(d, "writing the fixture")) != DB_OK)
            break;
        for (long j = i; j < n && j < i + 5000 && st == DB_OK; j++)
            st = fill_one(d, &f, j, now - 86400 + 86400 * ((double)j + 0.5) / (double)n, models, &s);
        if (st == DB_OK)
            st = db_commit(d, "writing the fixture");
        else
            db_rollback(d);
    }
    fill_finalize(&f);
    return st;
}

/* ---- 2. The dashboard's refresh --------------------------------------------------- */

/* One refresh as the dashboard's feed thread does it; seconds into *t. */
static db_status refresh(db *d, const config *cfg, db_window w, double *t)
{
    double t0 = util_now();
    dash_snapshot snap;
    dash_snapshot_compute(d, w, cfg->deploy_low_confidence, &snap);
    db_status st = snap.error[0] ? DB_ERR : DB_OK;
    dash_snapshot_free(&snap);
    if (st == DB_OK) {
        alerts_opts o = {.cfg = cfg, .quiet = true};
        alerts_result r;
        st = alerts_check(d, &o, db_now(), &r);
    }
    *t = util_now() - t0;
    return st;
}

static db_status time_refreshes(db *d, const config *cfg, db_window w, int n, double out[2])
{
    double *v = xcalloc((size_t)n, sizeof *v), t;
    db_status st = refresh(d, cfg, w, &t); /* warm */
    for (int i = 0; i < n && st == DB_OK; i++)
        st = refresh(d, cfg, w, &v[i]);
    if (st == DB_OK) {
        out[0] = pct(v, (size_t)n, 50);
        out[1] = pct(v, (size_t)n, 95);
    }
    free(v);
    return st;
}

/* ---- 3. The write-heavy load ------------------------------------------------------- */

typedef struct {
    long written, failed, busy;
    double end; /* util_now() after its last reply */
    char failure[300]; /* the first */
} writer_slot;

static void writer_fail(writer_slot *w, db *d, db_status st, const char *call)
{
    if (st == DB_BUSY)
        w->busy++;
    w->failed++;
    if (!w->failure[0])
        util_errf(w->failure, sizeof w->failure, "%s: %s", call, d ? db_errmsg(d) : "no handle");
}

#define TRY(call, expr)                                                                                             \
    do {                                                                                                            \
        if (st == DB_OK && (st = (expr)) != DB_OK)                                                                  \
            writer_fail(w, d, st, call);                                                                            \
    } while (0)

/* A writer process: open, say so on ready, wait for the gate, write. */
static void writer_main(const char *target, int id, int k, const int64_t models[2], writer_slot *w, double *lat,
                        int ready, int gate)
{
    db *d = NULL;
    char err[512];
    db_status st = db_open(&d, target, err, sizeof err);
    if (st != DB_OK) {
        w->failed = k;
        util_errf(w->failure, sizeof w->failure, "opening: %s", err);
    }
    char c = 1;
    if (write(ready, &c, 1) != 1 || read(gate, &c, 1) < 0 || !d)
        _exit(1);
    int64_t conv = 0, model = models[id & 1];
    db_request_result res = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 120, .gen_tokens = 90, .ttft_ms = 80,
                             .prefill_ms = 70, .decode_ms = 1800, .latency_ms = 1900, .prefill_tps = 170,
                             .decode_tps = 50, .attempts = 1};
    for (int i = 0; i < k; i++) {
        char q[256], a[512];
        long order = 900000 + (long)id * 10000 + i;
        snprintf(q, sizeof q, questions[i % 5], order);
        snprintf(a, sizeof a, answers[i % 5], order);
        size_t len = strlen(a);
        int64_t cust, msg = 0, req = 0;
        st = DB_OK;
        if (i % 10 == 0)
            TRY("db_conv_create", db_conv_create(d, "default", NULL, &conv));
        TRY("db_msg_add", db_msg_add(d, conv, DB_ROLE_CUSTOMER, q, &cust));
        double t0 = util_now();
        TRY("db_reply_begin", db_reply_begin(d, conv, model, "{\"temperature\":0.7}", 0, &msg));
        TRY("db_request_begin", db_request_begin(d, model, "local", conv, msg, 3.0, &req));
        for (int p = 1; p <= 3; p++) {
            char *part = xstrndup(a, len * (size_t)p / 4);
            TRY("db_reply_progress", db_reply_progress(d, msg, part));
            free(part);
        }
        TRY("db_request_finish", db_request_finish(d, req, &res));
        TRY("db_reply_end", db_reply_end(d, msg, a, model));
        if (st == DB_OK)
            lat[w->written++] = util_now() - t0;
    }
    w->end = util_now();
    db_close(d);
    _exit(0);
}

/* Requests, replies and what the rollups count must all be `expect`. */
static db_status count_check(db *d, long expect, figures *f)
{
    db_status st = query_long(d, "SELECT count(*) FROM requests", &f->rows);
    if (st == DB_OK)
        st = query_long(d, "SELECT count(*) FROM messages WHERE role = 'agent'", &f->replies);
    db_stats all;
    if (st == DB_OK && (st = db_stats_compute(d, DB_WIN_ALL, db_now(), NULL, 0, &all)) == DB_OK) {
        f->rolled = (long)all.requests;
        db_stats_free(&all);
    }
    f->counted_once = st == DB_OK && f->rows == expect && f->replies == expect && f->rolled == expect;
    return st;
}

/* nw writers, each writing o->replies replies, while this process
 * refreshes the 5 min dashboard every 0.25 s. */
static db_status write_load(db *d, const char *target, int nw, const opts *o, const config *cfg,
                            const int64_t models[2], load_figures *f)
{
    size_t nlat = (size_t)nw * (size_t)o->replies;
    size_t bytes = (size_t)nw * sizeof(writer_slot) + nlat * sizeof(double);
    void *shared = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        return db_failf(d, DB_ERR, "mmap: %s", strerror(errno));
    writer_slot *slots = shared;
    double *lat = (double *)(slots + nw);
    int ready[2], gate[2];
    if (pipe(ready) != 0 || pipe(gate) != 0) {
        munmap(shared, bytes);
        return db_failf(d, DB_ERR, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t *pids = xcalloc((size_t)nw, sizeof *pids);
    for (int i = 0; i < nw; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            cluster_forget(); /* only this process keeps the cluster up */
            signal(SIGINT, SIG_DFL); /* the store's files are the parent's to remove */
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            close(ready[0]);
            close(gate[1]);
            writer_main(target, i, o->replies, models, &slots[i], lat + (size_t)i * (size_t)o->replies, ready[1],
                        gate[0]);
        }
        if (pids[i] < 0) {
            fprintf(stderr, "bench_store: fork: %s\n", strerror(errno));
            break;
        }
    }
    close(ready[1]);
    close(gate[0]);
    char c;
    for (int i = 0; i < nw && pids[i] > 0; i++)
        if (read(ready[0], &c, 1) != 1)
            break;
    double t0 = util_now();
    close(gate[1]); /* go */
    int left = 0;
    for (int i = 0; i < nw; i++)
        left += pids[i] > 0;
    double *under = xcalloc(4096, sizeof *under);
    int n_under = 0;
    db_status st = DB_OK;
    while (left > 0) {
        int status;
        pid_t p;
        while ((p = waitpid(-1, &status, WNOHANG)) > 0)
            for (int i = 0; i < nw; i++)
                if (pids[i] == p) {
                    left--;
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        snprintf(f->first_failure, sizeof f->first_failure, "writer %d ended with status %d", i,
                                 status);
                }
        if (left == 0)
            break;
        double t;
        if (st == DB_OK && n_under < 4096 && (st = refresh(d, cfg, DB_WIN_5M, &t)) == DB_OK)
            under[n_under++] = t;
        util_sleep(0.25);
    }
    close(ready[0]);
    double end = t0;
    size_t n = 0;
    for (int i = 0; i < nw; i++) {
        writer_slot *w = &slots[i];
        if (w->end > end)
            end = w->end;
        memmove(lat + n, lat + (size_t)i * (size_t)o->replies, (size_t)w->written * sizeof *lat);
        n += (size_t)w->written;
        f->written += w->written;
        f->failed += w->failed;
        f->busy += w->busy;
        if (w->failure[0] && !f->first_failure[0])
            util_errf(f->first_failure, sizeof f->first_failure, "writer %d: %s", i, w->failure);
    }
    f->load_s = end - t0;
    f->replies_per_s = f->load_s > 0 ? (double)f->written / f->load_s : NAN;
    f->write[0] = pct(lat, n, 50);
    f->write[1] = pct(lat, n, 95);
    f->n_load_refreshes = n_under;
    f->r5_load[0] = pct(under, (size_t)n_under, 50);
    f->r5_load[1] = pct(under, (size_t)n_under, 95);
    free(under);
    free(pids);
    munmap(shared, bytes);
    return st;
}

/* ---- One backend ------------------------------------------------------------------ */

static void run_backend(const char *target, const opts *o, figures *f)
{
    config cfg;
    config_load(&cfg, "/dev/null"); /* the defaults */
    db *d = NULL;
    char err[512];
    const char *step = "opening";
    db_status st = db_open(&d, target, err, sizeof err);
    if (st != DB_OK) {
        util_errf(f->error, sizeof f->error, "%s: %s", step, err);
        config_free(&cfg);
        return;
    }
    int64_t models[2];
    db_model_info a = {.sha256 = "a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1",
                       .name = "support-v1", .file_name = "support-v1.gguf", .arch = "llama",
                       .n_params = 135000000, .quant = "Q8_0"};
    db_model_info b = a;
    b.sha256 = "f5e4d3c2b1a0f5e4d3c2b1a0f5e4d3c2b1a0f5e4d3c2b1a0f5e4d3c2b1a0f5e4";
    b.name = "support-v2";
    b.file_name = "support-v2.gguf";
    step = "recording the models (db_model_use)";
    st = db_model_use(d, &a, &models[0]);
    if (st == DB_OK)
        st = db_model_use(d, &b, &models[1]);
    double now = db_now(), t0 = util_now();
    if (st == DB_OK) {
        step = "writing the day of traffic (the fixture, sql.h)";
        st = fill(d, o->requests, now, models);
        f->fill_s = util_now() - t0;
    }
    if (st == DB_OK) {
        step = "folding it (db_rollup_catch_up)";
        int64_t folded = 0;
        t0 = util_now();
        st = db_rollup_catch_up(d, &folded);
        f->fold_s = util_now() - t0;
        if (st == DB_OK && folded != o->requests)
            st = db_failf(d, DB_ERR, "folded %lld of %ld requests", (long long)folded, o->requests);
    }
    if (st == DB_OK) {
        step = "the dashboard's refresh, 5 min";
        st = time_refreshes(d, &cfg, DB_WIN_5M, o->refreshes, f->r5);
    }
    if (st == DB_OK) {
        step = "the dashboard's refresh, 24 h";
        st = time_refreshes(d, &cfg, DB_WIN_24H, o->refreshes, f->r24);
    }
    if (st == DB_OK) {
        step = "one writer alone (the dashboard refreshing beside it)";
        st = write_load(d, target, 1, o, &cfg, models, &f->one);
    }
    if (st == DB_OK) {
        step = "the write load (the dashboard refreshing beside it)";
        st = write_load(d, target, o->writers, o, &cfg, models, &f->many);
    }
    if (st == DB_OK) {
        step = "counting";
        st = count_check(d, o->requests + f->one.written + f->many.written, f);
    }
    if (st != DB_OK)
        util_errf(f->error, sizeof f->error, "%s: %s", step, db_errmsg(d));
    f->ran = st == DB_OK;
    db_close(d);
    config_free(&cfg);
}

/* ---- The table --------------------------------------------------------------------- */

static void cell(char *buf, size_t size, double v, double scale, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, fmt, v * scale);
}

/* A figure of both backends (NAN: not measured) and their ratio. */
static void row(const char *name, double a, double b, double scale, const char *fmt)
{
    char x[32], y[32], r[32];
    cell(x, sizeof x, a, scale, fmt);
    cell(y, sizeof y, b, scale, fmt);
    if (a > 0 && b > 0)
        snprintf(r, sizeof r, "%.2f", b / a);
    else
        snprintf(r, sizeof r, "-");
    printf("%-44s %12s %12s %10s\n", name, x, y, r);
}

static void load_average(char *buf, size_t size)
{
    FILE *fp = fopen("/proc/loadavg", "r");
    double l1 = 0, l5 = 0, l15 = 0;
    if (!fp || fscanf(fp, "%lf %lf %lf", &l1, &l5, &l15) != 3)
        snprintf(buf, size, "unknown");
    else
        snprintf(buf, size, "%.2f %.2f %.2f", l1, l5, l15);
    if (fp)
        fclose(fp);
}

/* The SQLite store's directory and files, removed at exit and on a
 * signal (unlink and rmdir are safe in a handler; the paths are made
 * beforehand). */
static char sqlite_dir[4096], sqlite_files[3][4200];
static volatile sig_atomic_t sqlite_made;

static void remove_sqlite(void)
{
    if (!sqlite_made)
        return;
    sqlite_made = 0;
    for (int i = 0; i < 3; i++)
        unlink(sqlite_files[i]);
    rmdir(sqlite_dir);
}

static void on_signal(int sig)
{
    remove_sqlite();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_store [--quick] [--requests N] [--writers W] [--replies K] [--refreshes R]\n"
                    "                   [--backend both|sqlite|postgresql] [--dir DIR] [--pg-cluster SCRIPT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    opts o = {.requests = 30000, .writers = 8, .replies = 250, .refreshes = 50, .dir = "/tmp"};
    bool quick = false, want_sqlite = true, want_pg = true;
    long v;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick"))
            quick = true;
    if (quick) {
        o.requests = 2000;
        o.replies = 25;
        o.refreshes = 10;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick"))
            continue;
        if (!val) {
            fprintf(stderr, "bench_store: %s needs a value (or is unknown)\n", a);
            usage();
        }
        i++;
        if (!strcmp(a, "--requests") && parse_long(val, 1, 100000000, &v))
            o.requests = v;
        else if (!strcmp(a, "--writers") && parse_long(val, 1, 64, &v))
            o.writers = (int)v;
        else if (!strcmp(a, "--replies") && parse_long(val, 1, 1000000, &v))
            o.replies = (int)v;
        else if (!strcmp(a, "--refreshes") && parse_long(val, 1, 100000, &v))
            o.refreshes = (int)v;
        else if (!strcmp(a, "--dir"))
            o.dir = val;
        else if (!strcmp(a, "--pg-cluster"))
            o.cluster_script = val;
        else if (!strcmp(a, "--backend") && !strcmp(val, "both"))
            want_sqlite = want_pg = true;
        else if (!strcmp(a, "--backend") && !strcmp(val, "sqlite"))
            want_sqlite = !(want_pg = false);
        else if (!strcmp(a, "--backend") && !strcmp(val, "postgresql"))
            want_pg = !(want_sqlite = false);
        else {
            fprintf(stderr, "bench_store: %s %s: unknown option or a value out of range\n", a, val);
            usage();
        }
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    const char *script = cluster_script(o.cluster_script);

    char load_before[64], load_after[64];
    load_average(load_before, sizeof load_before);
    printf("store: %ld requests over the last 24 h; %d writers x %d replies; %d refreshes per window\n",
           o.requests, o.writers, o.replies, o.refreshes);
    printf("machine: %ld cores, load average %s at the start\n", sysconf(_SC_NPROCESSORS_ONLN), load_before);
    fflush(stdout);

    figures f[2];
    memset(f, 0, sizeof f);
    for (int i = 0; i < 2; i++) {
        double *nan_fields[] = {&f[i].fill_s, &f[i].fold_s, &f[i].r5[0], &f[i].r5[1], &f[i].r24[0], &f[i].r24[1]};
        for (size_t j = 0; j < sizeof nan_fields / sizeof *nan_fields; j++)
            *nan_fields[j] = NAN;
        load_figures *l[2] = {&f[i].one, &f[i].many};
        for (int j = 0; j < 2; j++)
            l[j]->load_s = l[j]->replies_per_s = l[j]->write[0] = l[j]->write[1] = l[j]->r5_load[0] =
                l[j]->r5_load[1] = NAN;
    }
    if (want_sqlite) {
        snprintf(sqlite_dir, sizeof sqlite_dir, "%s/frontdesk-bench-store-XXXXXX", o.dir);
        if (strlen(o.dir) > 4000 || !mkdtemp(sqlite_dir)) {
            util_errf(f[0].error, sizeof f[0].error, "mkdtemp %s: %s", sqlite_dir, strerror(errno));
        } else {
            const char *names[] = {"store.db", "store.db-wal", "store.db-shm"};
            for (int i = 0; i < 3; i++)
                snprintf(sqlite_files[i], sizeof sqlite_files[i], "%s/%s", sqlite_dir, names[i]);
            sqlite_made = 1;
            atexit(remove_sqlite);
            fprintf(stderr, "bench_store: SQLite, %s ...\n", sqlite_files[0]);
            run_backend(sqlite_files[0], &o, &f[0]);
            remove_sqlite();
        }
    }
    if (want_pg) {
        char cluster_url[512], url[600], err[700];
        if (cluster_start(script, cluster_url, sizeof cluster_url, err, sizeof err) != 0 ||
            cluster_create_database(cluster_url, url, sizeof url, err, sizeof err) != 0)
            util_errf(f[1].error, sizeof f[1].error, "starting the server: %s", err);
        else
            run_backend(url, &o, &f[1]);
        cluster_stop();
    }

    load_average(load_after, sizeof load_after);
    figures sl = f[0], pg = f[1];
    printf("\n%-44s %12s %12s %10s\n", "figure", "SQLite", "PostgreSQL", "PG/SQLite");
    row("fill: a day of traffic written (s)", sl.fill_s, pg.fill_s, 1, "%.1f");
    row("fold into rollups, db_rollup_catch_up (s)", sl.fold_s, pg.fold_s, 1, "%.1f");
    row("dashboard refresh, 5 min window p50 (ms)", sl.r5[0], pg.r5[0], 1e3, "%.1f");
    row("dashboard refresh, 5 min window p95 (ms)", sl.r5[1], pg.r5[1], 1e3, "%.1f");
    row("dashboard refresh, 24 h window p50 (ms)", sl.r24[0], pg.r24[0], 1e3, "%.1f");
    row("dashboard refresh, 24 h window p95 (ms)", sl.r24[1], pg.r24[1], 1e3, "%.1f");
    row("write load, 1 writer: replies/s", sl.one.replies_per_s, pg.one.replies_per_s, 1, "%.0f");
    row("one reply's write, 1 writer p50 (ms)", sl.one.write[0], pg.one.write[0], 1e3, "%.2f");
    row("one reply's write, 1 writer p95 (ms)", sl.one.write[1], pg.one.write[1], 1e3, "%.2f");
    char name[3][80];
    snprintf(name[0], sizeof name[0], "write load, %d writers: replies/s", o.writers);
    snprintf(name[1], sizeof name[1], "one reply's write, %d writers p50 (ms)", o.writers);
    snprintf(name[2], sizeof name[2], "one reply's write, %d writers p95 (ms)", o.writers);
    row(name[0], sl.many.replies_per_s, pg.many.replies_per_s, 1, "%.0f");
    row(name[1], sl.many.write[0], pg.many.write[0], 1e3, "%.2f");
    row(name[2], sl.many.write[1], pg.many.write[1], 1e3, "%.2f");
    row("refresh 5 min beside them p50 (ms)", sl.many.r5_load[0], pg.many.r5_load[0], 1e3, "%.1f");
    row("refresh 5 min beside them p95 (ms)", sl.many.r5_load[1], pg.many.r5_load[1], 1e3, "%.1f");
    printf("%-44s %12ld %12ld\n", "replies written by 1 writer", sl.one.written, pg.one.written);
    snprintf(name[0], sizeof name[0], "replies written by %d writers", o.writers);
    printf("%-44s %12ld %12ld\n", name[0], sl.many.written, pg.many.written);
    char fa[48], fb[48];
    snprintf(fa, sizeof fa, "%ld / %ld", sl.one.failed + sl.many.failed, sl.one.busy + sl.many.busy);
    snprintf(fb, sizeof fb, "%ld / %ld", pg.one.failed + pg.many.failed, pg.one.busy + pg.many.busy);
    printf("%-44s %12s %12s\n", "failed writes / of them DB_BUSY", fa, fb);
    printf("%-44s %12s %12s\n", "every request counted once", sl.ran ? (sl.counted_once ? "yes" : "NO") : "-",
           pg.ran ? (pg.counted_once ? "yes" : "NO") : "-");
    printf("machine: load average %s at the end\n", load_after);
    int rc = 0;
    const char *names[2] = {"SQLite", "PostgreSQL"};
    bool want[2] = {want_sqlite, want_pg};
    for (int i = 0; i < 2; i++) {
        if (!want[i])
            continue;
        if (f[i].error[0]) {
            printf("%s FAILED: %s\n", names[i], f[i].error);
            rc = 1;
        }
        if (f[i].one.first_failure[0])
            printf("%s: first failed write, 1 writer: %s\n", names[i], f[i].one.first_failure);
        if (f[i].many.first_failure[0])
            printf("%s: first failed write, %d writers: %s\n", names[i], o.writers, f[i].many.first_failure);
        if (f[i].ran && !f[i].counted_once) {
            printf("%s: counts off: %ld request rows, %ld replies, %ld in the rollups; expected %ld each\n",
                   names[i], f[i].rows, f[i].replies, f[i].rolled, o.requests + f[i].one.written + f[i].many.written);
            rc = 1;
        }
    }
    return rc;
}
