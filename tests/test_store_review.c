/*
 * test_store_review.c — what reviewers leave in the store and take out
 * of it: ratings (storage/ratings.h) and the confidence queue; erasure of
 * a conversation down to the file's bytes (forget, purge); export
 * filters (storage/export.h).
 *
 * Every database is a fresh file under test_tmpdir(), or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs the suite a
 * second time so), a fresh database on the throwaway PostgreSQL server
 * (tests/pg_util.h).  Helpers shared with the other store suites are in
 * tests/storage_suite.h.  sqlite3 (libpq) is used directly only to back-date
 * rows (the API stamps every row with db_now()) and to read request rows
 * the API stops showing once their conversation is erased.
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
    db *d = open_store(fresh_store("ratings.db"));
    int64_t conv, cust;
    OK(d, db_conv_create(d, "", "sys", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "question", &cust));
    int64_t reply = st_add_reply(d, conv, 0, "answer");
    int64_t other = st_add_reply(d, conv, 0, "another answer");
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
    const char *p = fresh_store("confidence.db");
    db *d = open_store(p);
    int64_t m = st_add_model(d, 'c', "conf.gguf");
    /* five conversations, one reply each: means -0.5, unknown, -2.0, -0.5, -1.25 */
    int64_t conv[5], reply[5], cust;
    for (int i = 0; i < 5; i++) {
        OK(d, db_conv_create(d, "default", NULL, &conv[i]));
        OK(d, db_msg_add(d, conv[i], DB_ROLE_CUSTOMER, "Where is my parcel?", &cust));
        reply[i] = st_add_reply(d, conv[i], m, "It is on its way.");
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
    assert_int_equal(st_raw_int(p, "SELECT count(*) FROM messages WHERE logprob_mean IS NULL AND role = 'agent'"), 2);
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
            sql_exec(p, sql);
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
        return st_raw_int(path, sql) > 0;
    }
    size_t len;
    char *data = st_read_or_empty(path, &len);
    bool found = memmem(data, len, needle, strlen(needle)) != NULL;
    free(data);
    return found;
}

static void test_forget(void **state)
{
    (void)state;
    const char *p = fresh_store("forget.db");
    char wal[1024];
    snprintf(wal, sizeof wal, "%s-wal", p);
    static const char secret[] = "QX7-PLUGH-SECRET-55821";
    db *d = open_store(p);
    int64_t model = st_add_model(d, 'd', "d.gguf"), keep, gone, c, id, req;

    OK(d, db_conv_create(d, "", "sys", &keep));
    OK(d, db_msg_add(d, keep, DB_ROLE_CUSTOMER, "an ordinary question", &c));
    int64_t keep_reply = st_add_reply(d, keep, model, "an ordinary answer");

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
    assert_true(file_has(p, secret) || (!store_on_pg() && file_has(wal, secret)));
    db_conv *convs;
    size_t n;
    OK(d, db_conv_list(d, secret, 0, &convs, &n));
    assert_int_equal(n, 1);
    db_convs_free(convs, n);

    /* a second connection open, as the UI thread and a worker each have */
    db *other = open_store(p);
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
    assert_int_equal(st_raw_int(p, "SELECT count(*) FROM requests"), 1);
    assert_int_equal(st_raw_int(p, "SELECT count(*) FROM requests WHERE conversation_id IS NULL"
                                " AND message_id IS NULL"),
                     1);
    /* not a byte of it left in the file or its WAL */
    if (file_has(p, secret))
        fail_msg("the forgotten text is still in %s", p);
    if (!store_on_pg() && file_has(wal, secret))
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
    assert_false(!store_on_pg() && file_has(wal, secret));
}

static void test_purge(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("purge.db"));
    int64_t old1, old2, young1, young2, id;
    OK(d, db_conv_create(d, "", NULL, &old1));
    OK(d, db_msg_add(d, old1, DB_ROLE_CUSTOMER, "old one", &id));
    OK(d, db_conv_create(d, "", NULL, &old2));
    int64_t old_reply = st_add_reply(d, old2, 0, "old reply");
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
    db *d = open_store(fresh_store("export.db"));
    int64_t model = st_add_model(d, 'e', "e.gguf");
    int64_t r[6], conv, cust;
    const char *questions[] = {"boots?", "sandals?", "laces?", "socks?", "heels?", "soles?"};
    for (int i = 0; i < 6; i++) {
        char answer[32];
        OK(d, db_conv_create(d, "", "You sell shoes.", &conv));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, questions[i], &cust));
        snprintf(answer, sizeof answer, "answer %d", i);
        r[i] = st_add_reply(d, conv, model, answer);
    }
    /* a second turn on the last conversation: its thread is longer */
    int64_t c2;
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "and insoles?", &c2));
    int64_t r6 = st_add_reply(d, conv, model, "answer 6");
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
    int64_t orphan = st_add_reply(d, nc, 0, "no model");
    OK(d, db_rate(d, orphan, "alice", &(db_rating_in){.fields = DB_RATE_SCORE, .score = 2}));
    export_model_seen ms = {0};
    OK(d, db_export(d, &(db_export_filter){0}, model_of, &ms));
    assert_int_equal(ms.n, 7);
    assert_int_equal(ms.last_id, orphan);
    assert_int_equal(ms.without_model, 1);
    assert_int_equal(ms.with_model, 6);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratings),
        cmocka_unit_test(test_confidence_queue),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_purge),
        cmocka_unit_test(test_export),
    };
    static const char *const sqlite_only[] = {NULL};
    return store_run_suite("store_review", tests, sizeof tests / sizeof *tests, sqlite_only, NULL, NULL);
}
