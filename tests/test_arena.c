/*
 * test_arena.c — blind side-by-side review (arena): judgements recorded,
 * listed and counted per pair in a real SQLite file, or a PostgreSQL
 * database when run with FRONTDESK_TEST_BACKEND=postgresql (checked by SQL
 * of our own: tests/store_util.h); the customer message chosen next;
 * `frontdesk arena` against judgements inserted here (counts by SQL, the sign test on a hand case,
 * the Elo order of a lopsided set); arena conversations out of the review
 * queue and unrated counts, listed by `frontdesk history` marked [arena];
 * the arena keys on a pair shown in each fixed order (1 / 2 / t / x to the
 * verdict stored for the version behind the box);
 * and the arena worker: its replies in conversations of their own, pinned, their requests tagged "arena" and
 * absent from `frontdesk stats`, the original conversation untouched.
 *
 * Two versions of the built-in model: the file itself and a copy whose
 * general.name is patched ("frontdesk-c2"), both under test_tmpdir().
 */
#include "testutil.h"

#include "store_util.h"

#include "app/arena_worker.h"
#include "app/config.h"
#include "app/deploy.h"
#include "app/tui.h"
#include "storage/arena.h"
#include "storage/chats.h"
#include "storage/metrics.h"
#include "storage/ratings.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUILTIN "models/frontdesk-cs.gguf"

static char model_a[512], model_b[512];

static void make_variant(const char *dst, const char *name)
{
    size_t len;
    char *bytes = test_read_file(BUILTIN, &len);
    assert_non_null(bytes);
    char *at = memmem(bytes, len, "frontdesk-cs", 12);
    assert_non_null(at);
    memcpy(at, name, 12);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(bytes);
}

static int64_t hand_model(db *d, char digit, const char *name)
{
    char hex[65];
    memset(hex, digit, 64);
    hex[64] = 0;
    db_model_info m = {.sha256 = hex, .name = name, .file_name = name};
    int64_t id;
    OK(d, db_model_use(d, &m, &id));
    return id;
}

/* One integer, one text (NULL as "(null)") from SQL on the store at path
 * (our own connection: tests/store_util.h). */
static int64_t sql_int(const char *path, const char *sql)
{
    return (int64_t)sql_num(path, sql);
}

static char *sql_text(const char *path, const char *sql)
{
    return sql_join(path, sql, "");
}

static void judge(db *d, int64_t a, int64_t b, db_arena_verdict v, char first, int n)
{
    for (int i = 0; i < n; i++) {
        db_arena_in in = {.rater = "ana", .model_a = a, .model_b = b, .shown_first = first, .verdict = v};
        OK(d, db_arena_record(d, &in, NULL));
    }
}

/* A conversation: customer message, then (when reply) an agent reply. */
static int64_t conversation(db *d, const char *profile, const char *text, int64_t model, bool reply, int64_t *msg)
{
    int64_t conv, id, r;
    OK(d, db_conv_create(d, profile, "You are a support agent.", &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, text, &id));
    if (msg)
        *msg = id;
    if (reply) {
        OK(d, db_reply_begin(d, conv, model, NULL, 0, &r));
        OK(d, db_reply_end(d, r, "Happy to help.", model));
    }
    return conv;
}

/* ---- storage ------------------------------------------------------------------ */

static void test_record_list_pairs(void **state)
{
    (void)state;
    const char *p = fresh_store("pairs.db");
    db *d = open_store(p);
    int64_t x = hand_model(d, '1', "x"), y = hand_model(d, '2', "y"), z = hand_model(d, '3', "z");
    int64_t prompt;
    conversation(d, "default", "Where is my parcel?", x, true, &prompt);

    db_arena_in in = {.rater = "ana", .prompt_message_id = prompt, .model_a = y, .model_b = x,
                      .shown_first = 'b', .verdict = DB_ARENA_BOTH_BAD, .comment = "both rude"};
    int64_t id = 0;
    OK(d, db_arena_record(d, &in, &id));
    assert_true(id > 0);
    char q[200];
    snprintf(q, sizeof q, "SELECT rater || '|' || prompt_message_id || '|' || model_a || '|' || model_b || '|' ||"
                          " shown_first || '|' || verdict || '|' || comment FROM arena_judgements WHERE id = %lld",
             (long long)id);
    char want[200];
    snprintf(want, sizeof want, "ana|%lld|%lld|%lld|b|both_bad|both rude", (long long)prompt, (long long)y,
             (long long)x);
    char *got = sql_text(p, q);
    assert_string_equal(got, want);
    free(got);

    /* refused: no rater, one version twice, a bad order, a bad verdict, an unknown version */
    db_arena_in bad = in;
    bad.rater = "";
    assert_int_equal(db_arena_record(d, &bad, NULL), DB_INVALID);
    bad = in;
    bad.model_b = y;
    assert_int_equal(db_arena_record(d, &bad, NULL), DB_INVALID);
    bad = in;
    bad.shown_first = 'c';
    assert_int_equal(db_arena_record(d, &bad, NULL), DB_INVALID);
    bad = in;
    bad.verdict = (db_arena_verdict)7;
    assert_int_equal(db_arena_record(d, &bad, NULL), DB_INVALID);
    bad = in;
    bad.model_b = 999;
    assert_int_equal(db_arena_record(d, &bad, NULL), DB_NOTFOUND);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM arena_judgements"), 1);

    /* x against y from both sides: x wins 3 (2 as a, 1 as b), loses 1, ties 2;
     * plus the both-bad above; y against z: y wins 1 */
    judge(d, x, y, DB_ARENA_A, 'a', 2);
    judge(d, y, x, DB_ARENA_B, 'b', 1);
    judge(d, y, x, DB_ARENA_A, 'a', 1);
    judge(d, x, y, DB_ARENA_TIE, 'a', 1);
    judge(d, y, x, DB_ARENA_TIE, 'b', 1);
    judge(d, z, y, DB_ARENA_B, 'a', 1);

    db_arena_judgement *j;
    size_t n;
    OK(d, db_arena_list(d, &j, &n));
    assert_int_equal(n, 8);
    assert_int_equal(n, sql_int(p, "SELECT count(*) FROM arena_judgements"));
    assert_int_equal(j[0].id, id);
    assert_int_equal(j[0].model_a, y);
    assert_int_equal(j[0].model_b, x);
    assert_int_equal(j[0].shown_first, 'b');
    assert_int_equal(j[0].verdict, DB_ARENA_BOTH_BAD);
    assert_string_equal(j[0].comment, "both rude");
    assert_int_equal(j[0].prompt_message_id, prompt);
    assert_null(j[1].comment);
    assert_int_equal(j[7].model_a, z);
    assert_int_equal(j[7].verdict, DB_ARENA_B);
    db_arena_judgements_free(j, n);

    db_arena_pair *pp;
    OK(d, db_arena_pairs(d, &pp, &n));
    assert_int_equal(n, 2);
    assert_int_equal(pp[0].lo, x);
    assert_int_equal(pp[0].hi, y);
    assert_int_equal(pp[0].wins, 3);
    assert_int_equal(pp[0].losses, 1);
    assert_int_equal(pp[0].ties, 2);
    assert_int_equal(pp[0].both_bad, 1);
    assert_int_equal(pp[1].lo, y);
    assert_int_equal(pp[1].hi, z);
    assert_int_equal(pp[1].wins, 1);
    assert_int_equal(pp[1].losses + pp[1].ties + pp[1].both_bad, 0);
    db_arena_pairs_free(pp);
    db_close(d);
}

static void test_next_prompt(void **state)
{
    (void)state;
    const char *p = fresh_store("next.db");
    db *d = open_store(p);
    int64_t x = hand_model(d, '1', "x"), y = hand_model(d, '2', "y");
    int64_t m1, m2, m3, m4, got = 0;
    conversation(d, "default", "first question", x, true, &m1);
    conversation(d, "default", "second question", x, true, &m2);
    conversation(d, "default", "no reply yet", x, false, &m3);   /* not answered: never */
    conversation(d, "arena", "an arena copy", x, true, &m4);     /* an arena conversation: never */
    OK(d, db_arena_next_prompt(d, x, y, "ana", 0, &got));
    assert_int_equal(got, m2);
    OK(d, db_arena_next_prompt(d, x, y, "ana", m2, &got));
    assert_int_equal(got, m1);
    assert_int_equal(db_arena_next_prompt(d, x, y, "ana", m1, &got), DB_NOTFOUND);
    /* judged by ana for (y, x): skipped for ana, not for bob */
    db_arena_in in = {.rater = "ana", .prompt_message_id = m2, .model_a = y, .model_b = x, .shown_first = 'a',
                      .verdict = DB_ARENA_TIE};
    OK(d, db_arena_record(d, &in, NULL));
    OK(d, db_arena_next_prompt(d, x, y, "ana", 0, &got));
    assert_int_equal(got, m1);
    OK(d, db_arena_next_prompt(d, x, y, "bob", 0, &got));
    assert_int_equal(got, m2);
    (void)m3;
    (void)m4;
    db_close(d);
}

/* ---- the leaderboard command ----------------------------------------------------- */

static const json_t *pair_of(const json_t *pairs, int64_t a, int64_t b)
{
    for (size_t i = 0; i < json_array_size(pairs); i++) {
        const json_t *p = json_array_get(pairs, i);
        if (json_integer_value(json_object_get(json_object_get(p, "a"), "id")) == a &&
            json_integer_value(json_object_get(json_object_get(p, "b"), "id")) == b)
            return p;
    }
    fail_msg("no pair %lld-%lld", (long long)a, (long long)b);
    return NULL;
}

static void test_leaderboard(void **state)
{
    (void)state;
    const char *p = fresh_store("board.db");
    db *d = open_store(p);
    int64_t x = hand_model(d, '1', "strong"), y = hand_model(d, '2', "middling"), z = hand_model(d, '3', "weak");
    char *out, *err;
    /* nothing judged: says so, no rows */
    assert_int_equal(RUN(&out, &err, "arena", "--db", p), 0);
    assert_non_null(strstr(out, "No arena judgements yet"));
    free(out);
    free(err);

    /* strong vs middling: 9 wins (5 as a, 4 as b), 1 loss, 2 ties, 1 both bad */
    judge(d, x, y, DB_ARENA_A, 'a', 5);
    judge(d, y, x, DB_ARENA_B, 'b', 4);
    judge(d, y, x, DB_ARENA_A, 'a', 1);
    judge(d, x, y, DB_ARENA_TIE, 'b', 2);
    judge(d, y, x, DB_ARENA_BOTH_BAD, 'a', 1);
    /* middling beats weak 8-2, strong beats weak 10-0 */
    judge(d, y, z, DB_ARENA_A, 'a', 8);
    judge(d, z, y, DB_ARENA_A, 'b', 2);
    judge(d, z, x, DB_ARENA_B, 'a', 10);
    db_close(d);

    assert_int_equal(RUN(&out, &err, "arena", "--json", "--db", p), 0);
    json_t *j = test_json(out);
    free(out);
    free(err);
    int64_t total = sql_int(p, "SELECT count(*) FROM arena_judgements");
    assert_int_equal(total, 33);
    assert_int_equal(json_integer_value(json_object_get(j, "judgements")), total);
    const json_t *pairs = json_object_get(j, "pairs");
    assert_int_equal(json_array_size(pairs), 3);
    const json_t *xy = pair_of(pairs, x, y);
    assert_int_equal(json_integer_value(json_object_get(xy, "wins")), 9);
    assert_int_equal(json_integer_value(json_object_get(xy, "losses")), 1);
    assert_int_equal(json_integer_value(json_object_get(xy, "ties")), 2);
    assert_int_equal(json_integer_value(json_object_get(xy, "both_bad")), 1);
    /* two-sided binomial, 9 of 10 at p = 1/2: 2 (1 + 10) / 1024 */
    assert_true(fabs(json_real_value(json_object_get(xy, "sign_p")) - 0.021484375) < 1e-12);
    const json_t *yz = pair_of(pairs, y, z);
    assert_int_equal(json_integer_value(json_object_get(yz, "wins")), 8);
    assert_int_equal(json_integer_value(json_object_get(yz, "losses")), 2);
    /* 8 of 10: 2 (1 + 10 + 45) / 1024 */
    assert_true(fabs(json_real_value(json_object_get(yz, "sign_p")) - 112.0 / 1024) < 1e-12);
    const json_t *xz = pair_of(pairs, x, z);
    assert_int_equal(json_integer_value(json_object_get(xz, "wins")), 10);
    /* per-pair counts agree with SQL of our own */
    assert_int_equal(sql_int(p, "SELECT count(*) FROM arena_judgements WHERE verdict = 'tie'"), 2);

    const json_t *vs = json_object_get(j, "versions");
    assert_int_equal(json_array_size(vs), 3);
    int64_t order[3];
    double elo[3], lo[3], hi[3];
    for (int i = 0; i < 3; i++) {
        const json_t *v = json_array_get(vs, (size_t)i);
        order[i] = json_integer_value(json_object_get(v, "id"));
        elo[i] = json_real_value(json_object_get(v, "elo"));
        lo[i] = json_real_value(json_object_get(v, "elo_lo"));
        hi[i] = json_real_value(json_object_get(v, "elo_hi"));
        assert_true(lo[i] <= elo[i] + 1e-9 && elo[i] <= hi[i] + 1e-9);
    }
    assert_int_equal(order[0], x);
    assert_int_equal(order[1], y);
    assert_int_equal(order[2], z);
    assert_true(elo[0] > elo[1] && elo[1] > elo[2]);
    /* judgements per version: strong 13 + 10, middling 13 + 10, weak 20 */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 0), "judgements")), 23);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(vs, 2), "judgements")), 20);
    json_decref(j);

    /* the same again: the bootstrap is seeded */
    char *again;
    assert_int_equal(RUN(&out, NULL, "arena", "--json", "--db", p), 0);
    assert_int_equal(RUN(&again, NULL, "arena", "--json", "--db", p), 0);
    assert_string_equal(out, again);
    free(out);
    free(again);

    /* text: the pair row and the versions, strongest first */
    assert_int_equal(RUN(&out, NULL, "arena", "--db", p), 0);
    const char *row[] = {"strong", "middling", "9", "2", "1", "1", "0.02148", NULL};
    test_expect_row(out, "  strong ", row);
    const char *s = strstr(out, "Versions"), *a = s ? strstr(s, "  strong") : NULL, *b = s ? strstr(s, "  weak") : NULL;
    assert_true(a && b && a < b);
    free(out);

    assert_int_equal(RUN(NULL, NULL, "arena", "--bogus"), 2);
    assert_int_equal(RUN(NULL, NULL, "arena", "extra", "--db", p), 2);
}

/* ---- arena conversations and the Review queue ----------------------------------- */

/* An arena conversation (profile "arena", as the worker makes them) is
 * judged side by side: its reply is in no review queue, no unrated count,
 * and its conversation waits for no review; `frontdesk history` lists it,
 * marked [arena]. */
static void test_arena_not_reviewed(void **state)
{
    (void)state;
    const char *p = fresh_store("review.db");
    db *d = open_store(p);
    int64_t a = hand_model(d, 'a', "Alpha");
    int64_t normal = conversation(d, "default", "Where is my parcel?", a, true, NULL);
    int64_t arena = conversation(d, "arena", "Where is my refund?", a, true, NULL);
    int64_t normal_reply = sql_int(p, "SELECT max(id) FROM messages WHERE role = 'agent' AND conversation_id ="
                                      " (SELECT min(id) FROM conversations)");
    assert_int_equal(sql_int(p, "SELECT count(*) FROM messages WHERE role = 'agent' AND text != ''"), 2);

    static const db_queue_kind kinds[] = {DB_QUEUE_UNRATED, DB_QUEUE_ALL};
    for (size_t k = 0; k < 2; k++) {
        int64_t *ids;
        size_t n;
        OK(d, db_review_queue(d, &(db_queue_filter){.kind = kinds[k]}, &ids, &n));
        assert_int_equal(n, 1);
        assert_int_equal(ids[0], normal_reply);
        free(ids);
    }
    int64_t unrated = -1, total = -1;
    OK(d, db_review_counts(d, &unrated, &total));
    assert_int_equal(unrated, 1);
    assert_int_equal(total, 1);
    db_conv c;
    OK(d, db_conv_get(d, arena, &c));
    assert_int_equal(c.n_unrated, 0);
    db_conv_clear(&c);
    OK(d, db_conv_get(d, normal, &c));
    assert_int_equal(c.n_unrated, 1);
    db_conv_clear(&c);
    db_close(d);

    char *out;
    assert_int_equal(RUN(&out, NULL, "history", "--db", p), 0);
    const char *row = strstr(out, "[arena] Where is my refund?");
    if (!row)
        fail_msg("history lacks the arena conversation, marked:\n%s", out);
    if (!strstr(out, "  Where is my parcel?") || strstr(out, "[arena] Where is my parcel?"))
        fail_msg("history: the ordinary conversation unmarked:\n%s", out);
    free(out);
    assert_int_equal(RUN(&out, NULL, "history", "--json", "--db", p), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_array_size(j), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(j, i);
        bool is_arena = json_integer_value(json_object_get(o, "id")) == arena;
        assert_string_equal(json_string_value(json_object_get(o, "profile")), is_arena ? "arena" : "default");
    }
    json_decref(j);
    free(out);
}

/* ---- keys to stored verdicts ------------------------------------------------------ */

/* The Review screen's arena keys on a pair shown in a fixed order: with
 * version a's reply shown first (as "Reply A") and with b's, 1 / 2 / t / x
 * store the verdict for the version actually behind the box, the box
 * holds that version's reply, and the names revealed follow the order. */
static void test_keys_to_verdicts(void **state)
{
    (void)state;
    const char *p = fresh_store("keys.db");
    db *d = open_store(p);
    int64_t va = hand_model(d, 'a', "Alpha"), vb = hand_model(d, 'b', "Beta");
    int64_t prompt;
    conversation(d, "default", "Where is my parcel?", va, true, &prompt);
    arena_pair pair = {.prompt = prompt, .model = {va, vb}};
    for (int side = 0; side < 2; side++) {
        int64_t conv, cust, reply;
        OK(d, db_conv_create(d, "arena", NULL, &conv));
        OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Where is my parcel?", &cust));
        OK(d, db_reply_begin(d, conv, pair.model[side], NULL, 0, &reply));
        OK(d, db_reply_end(d, reply, side ? "Beta's answer" : "Alpha's answer", pair.model[side]));
        pair.conv[side] = conv;
        pair.reply[side] = reply;
    }
    db_close(d);

    /* (shown first, key) -> the verdict stored, worked out by hand: "Reply
     * A" is the version shown first */
    static const struct {
        char first;
        uint32_t key;
        const char *verdict;
    } cases[] = {
        {'a', '1', "a"},   {'a', '2', "b"},   {'b', '1', "b"},        {'b', '2', "a"},
        {'a', 't', "tie"}, {'b', 't', "tie"}, {'a', 'x', "both_bad"}, {'b', 'x', "both_bad"},
    };
    const char *cfgp = test_path(test_tmpdir(), "keys.conf");
    FILE *f = fopen(cfgp, "w");
    assert_non_null(f);
    fputs("[ui]\nrater = ana\n", f);
    assert_int_equal(fclose(f), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tui t;
        memset(&t, 0, sizeof t);
        config_load(&t.cfg, cfgp);
        t.d = open_store(p);
        shell_init(&t.sv);
        t.sv.screen = UI_SCREEN_REVIEW;
        pair.shown_first = cases[i].first;
        tui_arena_show_pair(&t, &pair);
        const arena_view *v = &t.sv.review_arena;
        /* the box "Reply A" holds the reply of the version shown first, no names yet */
        assert_string_equal(v->reply[0], cases[i].first == 'a' ? "Alpha's answer" : "Beta's answer");
        assert_string_equal(v->reply[1], cases[i].first == 'a' ? "Beta's answer" : "Alpha's answer");
        assert_null(v->name[0]);
        assert_null(v->name[1]);
        tui_arena_key(&t, (ui_key){cases[i].key, 0});
        assert_true(v->revealed);
        assert_string_equal(v->name[0], cases[i].first == 'a' ? "Alpha" : "Beta");
        assert_string_equal(v->name[1], cases[i].first == 'a' ? "Beta" : "Alpha");
        tui_arena_free(&t);
        shell_free(&t.sv);
        db_close(t.d);
        config_free(&t.cfg);

        char q[300];
        snprintf(q, sizeof q,
                 "SELECT verdict || ' ' || shown_first || ' ' || rater || ' ' || CASE WHEN model_a = %lld AND"
                 " model_b = %lld AND reply_a = %lld AND reply_b = %lld THEN 1 ELSE 0 END FROM arena_judgements"
                 " ORDER BY id DESC LIMIT 1",
                 (long long)va, (long long)vb, (long long)pair.reply[0], (long long)pair.reply[1]);
        char *got = sql_text(p, q), want[64];
        snprintf(want, sizeof want, "%s %c ana 1", cases[i].verdict, cases[i].first);
        if (strcmp(got, want))
            fail_msg("shown first %c, key %c: stored '%s', want '%s'", cases[i].first, (char)cases[i].key, got,
                     want);
        free(got);
    }
    assert_int_equal(sql_int(p, "SELECT count(*) FROM arena_judgements"), 8);
}

/* ---- generation ------------------------------------------------------------------ */

static int64_t version(db *d, const char *path)
{
    int64_t id;
    char err[600];
    if (deploy_find_version(d, path, NULL, &id, err, sizeof err) != 0)
        fail_msg("%s: %s", path, err);
    return id;
}

static void test_worker_pairs(void **state)
{
    (void)state;
    const char *p = fresh_store("worker.db");
    db *d = open_store(p);
    int64_t a = version(d, model_a), b = version(d, model_b);
    int64_t prompt, conv = conversation(d, "default", "My order has not arrived, what can I do?", a, true, &prompt);
    /* the original reply counts as traffic: one request row */
    int64_t req, reply = sql_int(p, "SELECT max(id) FROM messages WHERE role = 'agent'");
    OK(d, db_request_begin(d, a, "local", conv, reply, 0, &req));
    db_request_result r = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 5, .gen_tokens = 3, .ttft_ms = 10,
                           .prefill_ms = 5, .decode_ms = 20, .latency_ms = 30, .attempts = 1};
    OK(d, db_request_finish(d, req, &r));
    int64_t msgs_before = sql_int(p, "SELECT count(*) FROM messages");
    db_close(d);

    config cfg;
    const char *cfgp = test_path(test_tmpdir(), "arena.conf");
    FILE *f = fopen(cfgp, "w");
    assert_non_null(f);
    fputs("[sampling]\ntemperature = 0\nmax_tokens = 6\n[model]\ncontext = 256\nthreads = 1\n", f);
    assert_int_equal(fclose(f), 0);
    config_load(&cfg, cfgp);
    assert_int_equal(cfg.n_warnings, 0);
    char err[512];
    arena_worker *w = arena_worker_start(p, &cfg, err, sizeof err);
    assert_non_null(w);
    arena_worker_set(w, a, b, "ana");
    arena_pair pair;
    arena_worker_status st;
    bool got = false;
    for (int i = 0; i < 6000 && !got; i++) { /* generous: a slow machine under ASan */
        got = arena_worker_take(w, &pair, &st);
        if (!got && st.error[0])
            fail_msg("arena worker: %s", st.error);
        if (!got)
            usleep(20000);
    }
    assert_true(got);
    assert_int_equal(pair.prompt, prompt);
    assert_int_equal(pair.model[0], a);
    assert_int_equal(pair.model[1], b);
    assert_true(pair.shown_first == 'a' || pair.shown_first == 'b');
    /* one customer message only: the next is "none left" */
    bool exhausted = false;
    for (int i = 0; i < 6000 && !exhausted; i++) {
        assert_false(arena_worker_take(w, &(arena_pair){0}, &st));
        exhausted = st.exhausted;
        if (!exhausted)
            usleep(20000);
    }
    assert_true(exhausted);
    arena_worker_stop(w);
    config_free(&cfg);

    char q[400];
    for (int s = 0; s < 2; s++) {
        int64_t ver = s ? b : a;
        snprintf(q, sizeof q,
                 "SELECT count(*) FROM conversations c JOIN messages m ON m.conversation_id = c.id"
                 " JOIN requests r ON r.message_id = m.id"
                 " WHERE c.id = %lld AND c.profile = 'arena' AND c.arm = 'pinned' AND c.arm_model_id = %lld"
                 " AND m.id = %lld AND m.model_id = %lld AND m.text != '' AND r.source = 'arena'"
                 " AND r.outcome = 'ok' AND r.model_id = %lld",
                 (long long)pair.conv[s], (long long)ver, (long long)pair.reply[s], (long long)ver, (long long)ver);
        assert_int_equal(sql_int(p, q), 1);
        /* the thread was copied: system, the customer's words, then the reply */
        snprintf(q, sizeof q,
                 "SELECT role || ':' || text FROM messages WHERE conversation_id = %lld AND role != 'agent'"
                 " ORDER BY id",
                 (long long)pair.conv[s]);
        char *t = sql_join(p, q, "|");
        assert_string_equal(t, "system:You are a support agent.|customer:My order has not arrived, what can I do?");
        free(t);
    }
    assert_true(pair.conv[0] != pair.conv[1] && pair.conv[0] != conv && pair.conv[1] != conv);
    /* the original conversation untouched: two new conversations of 3 messages each */
    snprintf(q, sizeof q, "SELECT count(*) FROM messages WHERE conversation_id = %lld", (long long)conv);
    assert_int_equal(sql_int(p, q), 3);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM messages"), msgs_before + 6);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM requests WHERE source = 'arena'"), 2);

    /* the two arena replies wait for no review: the queue holds the original only */
    d = open_store(p);
    int64_t *queue;
    size_t n_queue;
    OK(d, db_review_queue(d, &(db_queue_filter){.kind = DB_QUEUE_UNRATED}, &queue, &n_queue));
    assert_int_equal(n_queue, 1);
    assert_int_equal(queue[0], reply);
    free(queue);
    db_close(d);

    /* stats count the one traffic request, not the arena ones */
    char *out;
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--window", "all", "--db", p), 0);
    json_t *j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 1);
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, NULL, "stats", "--json", "--window", "all", "--exact", "--db", p), 0);
    j = test_json(out);
    assert_int_equal(json_integer_value(json_object_get(j, "requests")), 1);
    json_decref(j);
    free(out);
}

static int setup(void **state)
{
    (void)state;
    snprintf(model_a, sizeof model_a, "%s", test_path(test_tmpdir(), "arena-a.gguf"));
    snprintf(model_b, sizeof model_b, "%s", test_path(test_tmpdir(), "arena-b.gguf"));
    make_variant(model_a, "frontdesk-cs");
    make_variant(model_b, "frontdesk-c2");
    return 0;
}

/* [deploy] arena_versions chooses any two versions, by name or SHA-256
 * prefix, over the default (stable vs candidate, else the two most
 * recently used); a spec that does not name two versions falls back with
 * a notice. */
static void test_chosen_versions(void **state)
{
    (void)state;
    const char *p = fresh_store("chosen.db");
    db *d = open_store(p);
    int64_t va = hand_model(d, 'a', "Alpha"), vb = hand_model(d, 'b', "Beta"), vc = hand_model(d, 'c', "Gamma");
    db_close(d);
    static const struct {
        const char *spec;
        int want; /* 0: Gamma vs Beta (the default: most recent first), 1: Beta vs Alpha, 2: Alpha vs Gamma */
        bool notice;
    } cases[] = {
        {NULL, 0, false},
        {"Beta, Alpha", 1, false},
        {" aaaa ,cccc ", 2, false}, /* SHA-256 prefixes, spaces around */
        {"Beta", 0, true},          /* one version */
        {"Beta, Beta", 0, true},    /* the same twice */
        {"Beta, Nobody", 0, true},  /* unknown */
    };
    const int64_t want[3][2] = {{vc, vb}, {vb, va}, {va, vc}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *cfgp = test_path(test_tmpdir(), "chosen.conf");
        FILE *f = fopen(cfgp, "w");
        assert_non_null(f);
        fprintf(f, "[ui]\nrater = ana\n");
        if (cases[i].spec)
            fprintf(f, "[deploy]\narena_versions = %s\n", cases[i].spec);
        assert_int_equal(fclose(f), 0);
        tui t;
        memset(&t, 0, sizeof t);
        config_load(&t.cfg, cfgp);
        t.d = open_store(p);
        t.db_path = xstrdup(p);
        shell_init(&t.sv);
        t.sv.screen = UI_SCREEN_REVIEW;
        tui_arena_enter(&t);
        int64_t a, b;
        tui_arena_versions(&t, &a, &b);
        if (a != want[cases[i].want][0] || b != want[cases[i].want][1])
            fail_msg("spec '%s': versions %lld, %lld", cases[i].spec ? cases[i].spec : "(none)", (long long)a,
                     (long long)b);
        assert_int_equal(t.notice_bad && *t.notice, cases[i].notice);
        tui_arena_free(&t);
        shell_free(&t.sv);
        db_close(t.d);
        free(t.db_path);
        config_free(&t.cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_list_pairs),
        cmocka_unit_test(test_next_prompt),
        cmocka_unit_test(test_leaderboard),
        cmocka_unit_test(test_arena_not_reviewed),
        cmocka_unit_test(test_keys_to_verdicts),
        cmocka_unit_test(test_chosen_versions),
        cmocka_unit_test(test_worker_pairs),
    };
    /* every test on either backend */
    return store_run_suite("arena", tests, sizeof tests / sizeof *tests, NULL, setup, NULL);
}
