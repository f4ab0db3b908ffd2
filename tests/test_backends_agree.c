/*
 * test_backends_agree.c — the same data gives the same figures on SQLite
 * and on PostgreSQL.
 *
 * One deterministic history is written through the API into a SQLite file
 * and into a database of the throwaway PostgreSQL server (tests/pg_util.h):
 * three models; conversations in every arm, with customer words in ASCII
 * case variants and beyond ASCII; replies with and without a confidence;
 * ratings (thumbs, scores, tags, comments) by two raters; requests of every
 * outcome with varied latencies, tokens and speeds, moved back in time over
 * three days (so the stats read minute rollups for the last 48 hours and
 * hour rollups, after compaction, before that), eval-sourced ones, and
 * some left running.  Then every reading is asked of both and compared
 * field by field: db_stats_compute and db_stats_compute_exact over every
 * window (all models and one), every minute of the series, the per-model
 * figures, db_rollup_totals, the thumbs-down rate, the conversation list
 * under several searches, the review queue under every kind and filter,
 * its counts, db_recent_errors, db_confidence_by_model and db_export.
 *
 * Counts are integers and must be equal.  Percentiles come from sketch
 * buckets merged by addition, so they are equal too.  Means and rates are
 * sums divided by counts; the sums add doubles in the order the database
 * returns rows, which neither database promises for an unordered SELECT,
 * so they may differ in the last bits (seen: a 7-day prefill mean of
 * 831.00595238095264 on SQLite, ...286 on PostgreSQL; a latency sum of
 * 65.360000000000014 s and 65.359999999999999 s): they are compared within
 * 1e-9 relative (a real difference, a row missing or counted twice, moves
 * them by far more).
 *
 * Agreement alone could hide a mistake both make, so figures are also
 * checked against the history as this test generated it: request, error
 * and token counts per window summed here, nearest-rank percentiles of the
 * exact path by sorting here (and the rollups' within 1%), the unrated
 * count and the thumbs-down rate counted here.
 *
 * Needs the PostgreSQL server (FRONTDESK_TEST_PG: tools/run_tests.sh starts
 * one); it runs once, not once per backend.
 */
#include "tests/pg_util.h"
#include "tests/store_util.h"
#include "tests/testutil.h"

#include "storage/chats.h"
#include "storage/deploy.h"
#include "storage/export.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "storage/rollup.h"
#include "storage/versions.h"
#include "util/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The history ------------------------------------------------------------ */

static uint64_t rng;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* One finished request as generated, for the independent checks. */
typedef struct {
    double at;
    int model; /* 0..2 */
    db_outcome outcome;
    bool traffic;
    double latency; /* < 0: unknown */
    int tokens;     /* < 0: unknown */
} gen_req;

enum { N_CONVS = 36, N_LOOSE = 420, MAX_REQ = N_CONVS * 3 + N_LOOSE };

typedef struct {
    gen_req req[MAX_REQ];
    size_t n_req;
    double running[MAX_REQ]; /* when each traffic request left running started */
    int n_running;
    int unrated;        /* replies without a score, outside arena conversations */
    int thumbs, downs;  /* thumbs given, of which down */
    int64_t model[3];
} history;

static const char *const customer_words[] = {
    "Where is my parcel?", "where is my PARCEL", "My Parcel never came", "refund please",
    "Ich möchte über die Rückgabe sprechen", "ÜBER die Lieferung", "the app crashes",
    "100% broken_thing", "Straße gesperrt", "STRASSE",
};
static const char *const reply_words[] = {
    "It is on its way.", "Your refund is on its way.", "Sorry about the parcel.",
    "Wir kümmern uns darum.", "Please restart the app.",
};
static const db_outcome outcomes[] = {DB_OUTCOME_OK,    DB_OUTCOME_OK,      DB_OUTCOME_OK,
                                      DB_OUTCOME_OK,    DB_OUTCOME_ERROR,   DB_OUTCOME_TIMEOUT,
                                      DB_OUTCOME_CANCELLED, DB_OUTCOME_OK};
static const char *const tag_names[] = {"rude", "slow", "wrong", "good"};

/* When a request started: seconds before base, over three days, many in
 * the last hour and some in the last five minutes. */
static double started(double base)
{
    switch (rnd() % 5) {
    case 0: return base - 1 - (double)(rnd() % 280);
    case 1:
    case 2: return base - 1 - (double)(rnd() % 3500) - (double)(rnd() % 1000) / 1000.0;
    default: return base - 1 - (double)(rnd() % (3 * 86400)) - (double)(rnd() % 1000) / 1000.0;
    }
}

/* A request of model m (conversation and reply 0 when loose), moved to its
 * start time before it finishes (the finish folds it at started_at). */
static void request(db *d, sql_conn *raw, history *h, double base, int m, int64_t conv, int64_t reply)
{
    int64_t id;
    OK(d, db_request_begin(d, h->model[m], "local", conv, reply, (double)(rnd() % 40), &id));
    gen_req *g = &h->req[h->n_req];
    g->at = started(base);
    g->model = m;
    g->traffic = rnd() % 9 != 0;
    if (!g->traffic)
        OK(d, db_request_set_source(d, id, "eval"));
    char sql[160];
    snprintf(sql, sizeof sql, "UPDATE requests SET started_at = %.17g WHERE id = %lld", g->at, (long long)id);
    sql_conn_exec(raw, sql);
    if (rnd() % 40 == 0) { /* left running */
        if (g->traffic)
            h->running[h->n_running++] = g->at;
        return;
    }
    g->outcome = outcomes[rnd() % 8];
    uint64_t shape = rnd() % 10;
    g->latency = shape == 0 ? -1 : shape < 7 ? 80 + (double)(rnd() % 900) : 2000 + (double)(rnd() % 30000) / 3;
    g->tokens = rnd() % 10 == 0 ? -1 : (int)(rnd() % 400);
    db_request_result r = {.outcome = g->outcome,
                           .error = g->outcome == DB_OUTCOME_OK || g->outcome == DB_OUTCOME_CANCELLED ? NULL
                                                                                                    : "upstream said no",
                           .prompt_tokens = 10 + (int)(rnd() % 90),
                           .gen_tokens = g->tokens,
                           .ttft_ms = g->latency < 0 ? -1 : g->latency / 5,
                           .prefill_ms = rnd() % 4 ? 5 + (double)(rnd() % 50) : -1,
                           .decode_ms = -1,
                           .latency_ms = g->latency,
                           .prefill_tps = rnd() % 5 ? 200 + (double)(rnd() % 9000) / 7 : 0,
                           .decode_tps = rnd() % 5 ? 5 + (double)(rnd() % 6000) / 11 : 0,
                           .attempts = 1 + (int)(rnd() % 2)};
    OK(d, db_request_finish(d, id, &r));
    h->n_req++;
}

static void fill(const char *store, double base, history *h)
{
    memset(h, 0, sizeof *h);
    rng = 88172645463325252ull;
    db *d = open_store(store);
    sql_conn *raw = sql_connect(store);
    for (int m = 0; m < 3; m++) {
        char hex[65], name[16];
        memset(hex, "abc"[m], 64);
        hex[64] = 0;
        snprintf(name, sizeof name, "model-%c", "abc"[m]);
        db_model_info mi = {.sha256 = hex, .name = name, .file_name = name, .arch = "llama", .quant = "Q8_0"};
        OK(d, db_model_use(d, &mi, &h->model[m]));
    }
    static const char *const arms[] = {NULL, "stable", "candidate", "pinned"};
    for (int c = 0; c < N_CONVS; c++) {
        int64_t conv;
        OK(d, db_conv_create(d, c % 7 == 0 ? "vip" : "default", c % 5 ? "You are a support agent." : NULL, &conv));
        if (arms[c % 4])
            OK(d, db_conv_arm_set(d, conv, arms[c % 4], h->model[c % 3]));
        for (int t = 0; t <= c % 3; t++) {
            int64_t msg, reply;
            OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, customer_words[rnd() % 10], &msg));
            int m = (c + t) % 3;
            OK(d, db_reply_begin(d, conv, h->model[m], NULL, 0, &reply));
            OK(d, db_reply_end(d, reply, reply_words[rnd() % 5], h->model[m]));
            if (rnd() % 3) {
                double mean = -(double)(rnd() % 500) / 100.0;
                OK(d, db_reply_confidence(d, reply, mean, mean - 1.5));
            }
            request(d, raw, h, base, m, conv, reply);
            bool scored = false;
            for (int r = 0; r < 2; r++) {
                uint64_t k = rnd() % 6;
                if (k < 2)
                    continue; /* this rater left it */
                db_rating_in in = {.fields = DB_RATE_THUMBS, .thumbs = k == 2 ? -1 : 1};
                h->thumbs++;
                h->downs += k == 2;
                if (k >= 4) {
                    in.fields |= DB_RATE_SCORE;
                    in.score = 1 + (int)(rnd() % 5);
                    scored = true;
                }
                const char *tags[2] = {tag_names[rnd() % 4], tag_names[rnd() % 4]};
                if (k == 5 && strcmp(tags[0], tags[1])) {
                    in.fields |= DB_RATE_TAGS | DB_RATE_COMMENT;
                    in.tags = tags;
                    in.n_tags = 2;
                    in.comment = r ? "too slow" : "Polite, but wrong";
                }
                OK(d, db_rate(d, reply, r ? "ben" : "ana", &in));
            }
            h->unrated += !scored;
        }
    }
    for (int i = 0; i < N_LOOSE; i++)
        request(d, raw, h, base, (int)(rnd() % 3), 0, 0);
    /* minutes that ended before base - 48 h become hours */
    OK(d, db_rollup_compact(d, base));
    sql_disconnect(raw);
    db_close(d);
}

/* ---- Comparing ----------------------------------------------------------------- */

static void same_double(const char *what, double a, double b)
{
    if (a == b)
        return;
    if (fabs(a - b) > 1e-9 * fmax(fabs(a), fabs(b)))
        fail_msg("%s: SQLite %.17g, PostgreSQL %.17g", what, a, b);
}

static void same_int(const char *what, int64_t a, int64_t b)
{
    if (a != b)
        fail_msg("%s: SQLite %lld, PostgreSQL %lld", what, (long long)a, (long long)b);
}

static void same_pcts(const char *what, db_pcts a, db_pcts b)
{
    char w[200];
    snprintf(w, sizeof w, "%s valid", what);
    same_int(w, a.valid, b.valid);
    snprintf(w, sizeof w, "%s p50", what);
    same_double(w, a.p50, b.p50);
    snprintf(w, sizeof w, "%s p90", what);
    same_double(w, a.p90, b.p90);
    snprintf(w, sizeof w, "%s p95", what);
    same_double(w, a.p95, b.p95);
    snprintf(w, sizeof w, "%s p99", what);
    same_double(w, a.p99, b.p99);
}

static void same_stats(const char *what, const db_stats *a, const db_stats *b)
{
    char w[200];
#define SAME_I(f)                                                                                        \
    do {                                                                                                 \
        snprintf(w, sizeof w, "%s " #f, what);                                                           \
        same_int(w, (int64_t)(a->f), (int64_t)(b->f));                                                   \
    } while (0)
#define SAME_D(f)                                                                                        \
    do {                                                                                                 \
        snprintf(w, sizeof w, "%s " #f, what);                                                           \
        same_double(w, a->f, b->f);                                                                      \
    } while (0)
    SAME_D(from);
    SAME_D(to);
    SAME_I(requests);
    SAME_I(errors);
    SAME_I(cancelled);
    SAME_I(running);
    SAME_D(error_rate);
    SAME_D(requests_per_min);
    SAME_D(prefill_tps);
    SAME_D(decode_tps);
    SAME_I(tokens_generated);
    snprintf(w, sizeof w, "%s latency", what);
    same_pcts(w, a->latency_ms, b->latency_ms);
    snprintf(w, sizeof w, "%s ttft", what);
    same_pcts(w, a->ttft_ms, b->ttft_ms);
    SAME_I(n_series);
    SAME_I(n_models);
    for (size_t i = 0; i < a->n_series; i++) {
        char m[240];
        snprintf(m, sizeof m, "%s minute %zu", what, i);
        const db_minute *x = &a->series[i], *y = &b->series[i];
        same_double(m, x->start, y->start);
        same_int(m, x->requests, y->requests);
        same_int(m, x->errors, y->errors);
        same_int(m, x->tokens, y->tokens);
        same_double(m, x->decode_tps, y->decode_tps);
        same_pcts(m, x->latency_ms, y->latency_ms);
        same_pcts(m, x->ttft_ms, y->ttft_ms);
    }
    for (size_t i = 0; i < a->n_models; i++) {
        char m[240];
        snprintf(m, sizeof m, "%s model row %zu", what, i);
        const db_model_stats *x = &a->models[i], *y = &b->models[i];
        same_int(m, x->model_id, y->model_id);
        same_int(m, x->requests, y->requests);
        same_int(m, x->errors, y->errors);
        same_double(m, x->decode_tps, y->decode_tps);
        same_pcts(m, x->latency_ms, y->latency_ms);
        same_pcts(m, x->ttft_ms, y->ttft_ms);
    }
#undef SAME_I
#undef SAME_D
}

/* ---- Independent figures --------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* What the history says for started_at in [from, to] (model -1: any). */
typedef struct {
    int64_t requests, errors, cancelled, tokens;
    double *lat;
    size_t n_lat;
} expect;

static expect expected(const history *h, double from, double to, int model)
{
    expect e = {0};
    e.lat = xmallocarray(h->n_req + 1, sizeof *e.lat);
    for (size_t i = 0; i < h->n_req; i++) {
        const gen_req *g = &h->req[i];
        if (!g->traffic || g->at < from || g->at > to || (model >= 0 && g->model != model))
            continue;
        e.requests++;
        e.errors += g->outcome == DB_OUTCOME_ERROR || g->outcome == DB_OUTCOME_TIMEOUT;
        e.cancelled += g->outcome == DB_OUTCOME_CANCELLED;
        e.tokens += g->tokens > 0 ? g->tokens : 0;
        if (g->latency >= 0)
            e.lat[e.n_lat++] = g->latency;
    }
    qsort(e.lat, e.n_lat, sizeof *e.lat, cmp_double);
    return e;
}

/* Nearest rank over the sorted values: rank ceil(p/100 · n). */
static double rank_pct(const expect *e, unsigned p)
{
    size_t r = (p * e->n_lat + 99) / 100;
    return e->lat[(r ? r : 1) - 1];
}

static void against_history(const char *what, const db_stats *s, const expect *e, bool exact)
{
    if (s->requests != e->requests || s->errors != e->errors || s->cancelled != e->cancelled ||
        s->tokens_generated != e->tokens)
        fail_msg("%s: requests %lld errors %lld cancelled %lld tokens %lld; the history says %lld %lld %lld %lld", what,
                 (long long)s->requests, (long long)s->errors, (long long)s->cancelled, (long long)s->tokens_generated,
                 (long long)e->requests, (long long)e->errors, (long long)e->cancelled, (long long)e->tokens);
    assert_int_equal(s->latency_ms.valid, e->n_lat > 0);
    if (!e->n_lat)
        return;
    const unsigned ps[4] = {50, 90, 95, 99};
    const double got[4] = {s->latency_ms.p50, s->latency_ms.p90, s->latency_ms.p95, s->latency_ms.p99};
    for (int k = 0; k < 4; k++) {
        double want = rank_pct(e, ps[k]);
        if (exact ? got[k] != want : fabs(got[k] - want) > ROLLUP_ALPHA * want * (1 + 1e-9))
            fail_msg("%s: p%u latency %.17g, the history's nearest rank %.17g", what, ps[k], got[k], want);
    }
}

/* ---- The test ------------------------------------------------------------------- */

typedef struct {
    const char *store;
    db *d;
    history h;
} side;

/* [0] the SQLite file, [1] the PostgreSQL database; base: a whole hour,
 * every request started before it. */
static side sides[2];
static double base;

static void test_stats_agree(void **state)
{
    (void)state;
    const db_window wins[] = {DB_WIN_1M, DB_WIN_5M, DB_WIN_1H, DB_WIN_24H, DB_WIN_7D, DB_WIN_30D, DB_WIN_ALL};
    for (size_t w = 0; w < sizeof wins / sizeof *wins; w++)
        for (int exact = 0; exact < 2; exact++)
            for (int m = -1; m < 3; m++) {
                db_stats st[2];
                for (int k = 0; k < 2; k++) {
                    int64_t id = m >= 0 ? sides[k].h.model[m] : 0;
                    if (exact)
                        OK(sides[k].d, db_stats_compute_exact(sides[k].d, wins[w], base, &id, m >= 0, &st[k]));
                    else
                        OK(sides[k].d, db_stats_compute(sides[k].d, wins[w], base, &id, m >= 0, &st[k]));
                }
                char what[96];
                snprintf(what, sizeof what, "%s%s model %d", db_window_name(wins[w]), exact ? " exact" : "", m);
                same_stats(what, &st[0], &st[1]);
                /* and against the history: the window starts on a whole
                 * hour, so its whole minutes (hours beyond 48 h) hold
                 * exactly the rows that started inside it */
                double from = wins[w] == DB_WIN_ALL ? 0 : base - db_window_seconds(wins[w]);
                expect e = expected(&sides[0].h, from, base, m);
                against_history(what, &st[0], &e, exact);
                free(e.lat);
                if (m < 0) { /* running: started inside the window */
                    int64_t running = 0;
                    for (int i = 0; i < sides[0].h.n_running; i++)
                        running += sides[0].h.running[i] >= st[0].from && sides[0].h.running[i] <= st[0].to;
                    assert_int_equal(st[0].running, running);
                }
                db_stats_free(&st[0]);
                db_stats_free(&st[1]);
            }
}

static int by_model_outcome(const void *x, const void *y)
{
    const db_rollup_total *a = x, *b = y;
    return a->model_id != b->model_id ? (a->model_id < b->model_id ? -1 : 1) : strcmp(a->outcome, b->outcome);
}

static void test_totals_agree(void **state)
{
    (void)state;
    db_rollup_total *t[2];
    size_t n[2];
    for (int k = 0; k < 2; k++) {
        OK(sides[k].d, db_rollup_totals(sides[k].d, &t[k], &n[k]));
        qsort(t[k], n[k], sizeof *t[k], by_model_outcome);
    }
    same_int("totals rows", (int64_t)n[0], (int64_t)n[1]);
    int64_t all = 0;
    for (size_t i = 0; i < n[0]; i++) {
        const db_rollup_total *a = &t[0][i], *b = &t[1][i];
        char w[96];
        snprintf(w, sizeof w, "totals %lld %s", (long long)a->model_id, a->outcome);
        same_int(w, a->model_id, b->model_id);
        if (strcmp(a->outcome, b->outcome))
            fail_msg("%s: PostgreSQL has %s", w, b->outcome);
        same_int(w, a->requests, b->requests);
        same_int(w, a->gen_tokens, b->gen_tokens);
        same_int(w, a->prompt_tokens, b->prompt_tokens);
        same_int(w, a->latency_n, b->latency_n);
        same_int(w, a->ttft_n, b->ttft_n);
        same_int(w, a->tokens_n, b->tokens_n);
        same_double(w, a->latency_sum_s, b->latency_sum_s);
        same_double(w, a->ttft_sum_s, b->ttft_sum_s);
        for (int k = 0; k <= ROLLUP_N_LE_SECONDS; k++) {
            same_int(w, a->latency_le[k], b->latency_le[k]);
            same_int(w, a->ttft_le[k], b->ttft_le[k]);
        }
        for (int k = 0; k <= ROLLUP_N_LE_TOKENS; k++)
            same_int(w, a->tokens_le[k], b->tokens_le[k]);
        all += a->requests;
    }
    expect e = expected(&sides[0].h, 0, base, -1);
    assert_int_equal(all, e.requests); /* every finished traffic request, once */
    free(e.lat);
    free(t[0]);
    free(t[1]);
}

static void test_thumbs_agree(void **state)
{
    (void)state;
    const double froms[] = {0, db_now() - 3600, db_now() + 3600};
    for (size_t i = 0; i < sizeof froms / sizeof *froms; i++) {
        double rate[2];
        int64_t n[2];
        for (int k = 0; k < 2; k++)
            OK(sides[k].d, db_thumbs_down_rate(sides[k].d, froms[i], &rate[k], &n[k]));
        same_int("thumbs", n[0], n[1]);
        same_double("thumbs-down rate", rate[0], rate[1]);
        if (i < 2) { /* every reply was made in the last hour */
            assert_int_equal(n[0], sides[0].h.thumbs);
            assert_true(rate[0] == (double)sides[0].h.downs / (double)sides[0].h.thumbs);
        } else
            assert_int_equal(n[0], 0);
    }
}

/* A conversation list as one line per conversation. */
static char *conv_lines(db *d, const char *search)
{
    db_conv *c;
    size_t n;
    OK(d, db_conv_list(d, search, 0, &c, &n));
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, "%lld|%s|%s|%s|%s|%d|%d|%d\n", (long long)c[i].id, c[i].title ? c[i].title : "(none)",
                  c[i].profile, c[i].system_prompt ? c[i].system_prompt : "(none)", c[i].status, c[i].n_messages,
                  c[i].n_rated, c[i].n_unrated);
    db_convs_free(c, n);
    return sb.data;
}

static void test_conversations_agree(void **state)
{
    (void)state;
    const char *searches[] = {NULL, "parcel", "PARCEL", "über", "ÜBER", "straße", "100%", "broken_", "_", "%",
                              "refund", "no such words"};
    for (size_t i = 0; i < sizeof searches / sizeof *searches; i++) {
        char *a = conv_lines(sides[0].d, searches[i]), *b = conv_lines(sides[1].d, searches[i]);
        if (strcmp(a, b))
            fail_msg("conversations with \"%s\": SQLite\n%sPostgreSQL\n%s", searches[i] ? searches[i] : "(any)", a, b);
        if (!searches[i]) { /* every conversation, each line one */
            int lines = 0;
            for (const char *q = a; *q; q++)
                lines += *q == '\n';
            assert_int_equal(lines, N_CONVS);
        }
        free(a);
        free(b);
    }
}

static char *queue_line(db *d, const db_queue_filter *f)
{
    int64_t *ids;
    size_t n;
    OK(d, db_review_queue(d, f, &ids, &n));
    strbuf sb = {0};
    sb_printf(&sb, "%zu:", n);
    for (size_t i = 0; i < n; i++)
        sb_printf(&sb, " %lld", (long long)ids[i]);
    free(ids);
    return sb.data;
}

static void test_review_queue_agree(void **state)
{
    (void)state;
    const char *arms[] = {NULL, "stable", "candidate", "pinned"};
    const char *tags[] = {NULL, "slow", "good"};
    const char *searches[] = {NULL, "parcel", "ÜBER", "refund"};
    for (int kind = DB_QUEUE_UNRATED; kind <= DB_QUEUE_ALL; kind++)
        for (int conf = 0; conf < 2; conf++)
            for (size_t a = 0; a < 4; a++)
                for (size_t t = 0; t < 3; t++)
                    for (size_t q = 0; q < 4; q++)
                        for (int m = -1; m < 3; m += 2) {
                            db_queue_filter f = {.kind = (db_queue_kind)kind, .by_confidence = conf, .arm = arms[a],
                                                 .tag = tags[t], .search = searches[q]};
                            char *x, *y;
                            f.model_id = m >= 0 ? sides[0].h.model[m] : 0;
                            x = queue_line(sides[0].d, &f);
                            f.model_id = m >= 0 ? sides[1].h.model[m] : 0;
                            y = queue_line(sides[1].d, &f);
                            if (strcmp(x, y))
                                fail_msg("review queue kind %d%s arm %s tag %s search %s model %d:\nSQLite     %s\n"
                                         "PostgreSQL %s",
                                         kind, conf ? " by confidence" : "", arms[a] ? arms[a] : "any",
                                         tags[t] ? tags[t] : "any", searches[q] ? searches[q] : "none", m, x, y);
                            if (kind == DB_QUEUE_UNRATED && !arms[a] && !tags[t] && !searches[q] && m < 0)
                                assert_int_equal(strtol(x, NULL, 10), sides[0].h.unrated);
                            free(x);
                            free(y);
                        }
    int64_t unrated[2], total[2];
    for (int k = 0; k < 2; k++)
        OK(sides[k].d, db_review_counts(sides[k].d, &unrated[k], &total[k]));
    same_int("unrated", unrated[0], unrated[1]);
    same_int("replies", total[0], total[1]);
    assert_int_equal(unrated[0], sides[0].h.unrated);
}

static void test_errors_and_confidence_agree(void **state)
{
    (void)state;
    db_error_row *e[2];
    size_t n[2];
    for (int k = 0; k < 2; k++)
        OK(sides[k].d, db_recent_errors(sides[k].d, 25, &e[k], &n[k]));
    same_int("recent errors", (int64_t)n[0], (int64_t)n[1]);
    assert_int_equal(n[0], 25);
    for (size_t i = 0; i < n[0]; i++) {
        same_double("error at", e[0][i].at, e[1][i].at);
        same_int("error model", e[0][i].model_id, e[1][i].model_id);
        if (strcmp(e[0][i].outcome, e[1][i].outcome) || strcmp(e[0][i].error ? e[0][i].error : "",
                                                               e[1][i].error ? e[1][i].error : ""))
            fail_msg("recent error %zu: %s %s / %s %s", i, e[0][i].outcome, e[0][i].error, e[1][i].outcome,
                     e[1][i].error);
    }
    db_error_rows_free(e[0], n[0]);
    db_error_rows_free(e[1], n[1]);

    db_model_confidence *c[2];
    for (int k = 0; k < 2; k++)
        OK(sides[k].d, db_confidence_by_model(sides[k].d, 0, db_now() + 60, -2.0, &c[k], &n[k]));
    same_int("versions with confidence", (int64_t)n[0], (int64_t)n[1]);
    assert_int_equal(n[0], 3);
    for (size_t i = 0; i < n[0]; i++) {
        same_int("confidence model", c[0][i].model_id, c[1][i].model_id);
        same_int("with confidence", c[0][i].with_confidence, c[1][i].with_confidence);
        same_int("low confidence", c[0][i].low_confidence, c[1][i].low_confidence);
    }
    free(c[0]);
    free(c[1]);
}

/* db_export's items written out in full. */
static bool export_line(void *ud, const db_export_item *it)
{
    strbuf *sb = ud;
    sb_printf(sb, "model %s;", it->model ? it->model->display_name : "(none)");
    for (size_t i = 0; i < it->n_thread; i++)
        sb_printf(sb, " %lld %s: %s;", (long long)it->thread[i].id, db_role_name(it->thread[i].role),
                  it->thread[i].text);
    for (size_t i = 0; i < it->n_ratings; i++) {
        const db_rating *r = &it->ratings[i];
        sb_printf(sb, " [%s %d %d", r->rater, r->thumbs, r->score);
        for (size_t t = 0; t < r->n_tags; t++)
            sb_printf(sb, " #%s", r->tags[t]);
        sb_printf(sb, " %s]", r->comment ? r->comment : "-");
    }
    sb_putc(sb, '\n');
    return true;
}

static void test_export_agree(void **state)
{
    (void)state;
    const db_export_filter filters[] = {{0}, {.min_score = 4}, {.thumbs = -1}, {.thumbs = 1, .min_score = 2}};
    for (size_t i = 0; i < sizeof filters / sizeof *filters; i++) {
        strbuf out[2] = {{0}, {0}};
        for (int k = 0; k < 2; k++) {
            sb_puts(&out[k], "");
            OK(sides[k].d, db_export(sides[k].d, &filters[i], export_line, &out[k]));
        }
        if (strcmp(out[0].data, out[1].data))
            fail_msg("export %zu: SQLite\n%s\nPostgreSQL\n%s", i, out[0].data, out[1].data);
        if (i == 0)
            assert_true(strlen(out[0].data) > 1000);
        sb_free(&out[0]);
        sb_free(&out[1]);
    }
}

static int setup(void **state)
{
    (void)state;
    base = floor(db_now() / 3600) * 3600;
    sides[0].store = fresh_db("agree.db"); /* a new file, whatever FRONTDESK_TEST_BACKEND says */
    sides[1].store = pg_test_new_db("agree");
    for (int k = 0; k < 2; k++) {
        fill(sides[k].store, base, &sides[k].h);
        sides[k].d = open_store(sides[k].store);
    }
    /* the same history went into both */
    assert_int_equal(sides[0].h.n_req, sides[1].h.n_req);
    assert_memory_equal(sides[0].h.req, sides[1].h.req, sides[0].h.n_req * sizeof *sides[0].h.req);
    /* and both hold minute rollups and, after compaction, hour rollups */
    for (int k = 0; k < 2; k++) {
        assert_true(sql_num(sides[k].store, "SELECT count(*) FROM rollups WHERE period = 60") > 0);
        assert_true(sql_num(sides[k].store, "SELECT count(*) FROM rollups WHERE period = 3600") > 0);
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++)
        db_close(sides[k].d);
    pg_test_drop_db(sides[1].store);
    free((char *)sides[1].store);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_agree),
        cmocka_unit_test(test_totals_agree),
        cmocka_unit_test(test_thumbs_agree),
        cmocka_unit_test(test_conversations_agree),
        cmocka_unit_test(test_review_queue_agree),
        cmocka_unit_test(test_errors_and_confidence_agree),
        cmocka_unit_test(test_export_agree),
    };
    return test_exit(cmocka_run_group_tests_name("backends agree", tests, setup, teardown));
}
