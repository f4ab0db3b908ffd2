/*
 * test_store_messages.c — conversations in the store (storage/chats.h):
 * the message tree (branches, the active path, edits and regenerations)
 * and titles; literal search in any script against a reference search
 * written here.
 *
 * Every database is a fresh file under test_tmpdir(), or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs the suite a
 * second time so), a fresh database on the throwaway PostgreSQL server
 * (tests/pg_util.h).  Helpers shared with the other store suites are in
 * tests/storage_suite.h.
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

/* ---- Helpers ------------------------------------------------------------------ */

static int tolower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does hay contain needle, ASCII letters compared case-insensitively and
 * every other byte exactly? (The reference for search.) */
static bool ascii_ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < n && h[i]) {
            unsigned char a = (unsigned char)h[i], b = (unsigned char)needle[i];
            if (a < 0x80 && b < 0x80 ? tolower_ascii(a) != tolower_ascii(b) : a != b)
                break;
            i++;
        }
        if (i == n)
            return true;
    }
    return n == 0;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int extra = *p < 0x80             ? 0
                    : (*p & 0xe0) == 0xc0 ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0)
            return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}

/* ---- 2. The message tree ------------------------------------------------------ */

static void expect_ids(db *d, int64_t conv, bool all, const int64_t *ids, size_t n_ids)
{
    db_msg *m;
    size_t n;
    OK(d, db_msgs_list(d, conv, all, &m, &n));
    if (n != n_ids)
        fail_msg("%s messages: %zu, want %zu", all ? "all" : "active", n, n_ids);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i].id, ids[i]);
        assert_int_equal(m[i].conversation_id, conv);
        if (!all)
            assert_true(m[i].active);
    }
    db_msgs_free(m, n);
}

static bool is_active(db *d, int64_t id)
{
    db_msg m;
    OK(d, db_msg_get(d, id, &m));
    bool a = m.active;
    db_msg_clear(&m);
    return a;
}

static void test_message_tree(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("tree.db"));
    int64_t model = st_add_model(d, 'a', "a.gguf"), model2 = st_add_model(d, 'b', "b.gguf");
    int64_t conv, sys, c1, r1, r2, r3, c2, r4, c1b;
    OK(d, db_conv_create(d, "support", "You are a helpful agent.", &conv));
    db_msg *m;
    size_t n;
    OK(d, db_msgs_list(d, conv, true, &m, &n));
    assert_int_equal(n, 1);
    assert_int_equal(m[0].role, DB_ROLE_SYSTEM);
    assert_string_equal(m[0].text, "You are a helpful agent.");
    sys = m[0].id;
    db_msgs_free(m, n);

    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Where is my order?\nIt was due Monday.", &c1));
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.title, "Where is my order?");
    assert_string_equal(c.status, "open");
    assert_int_equal(c.n_messages, 1);
    db_conv_clear(&c);

    /* reply: empty at first, grows, completes with the model that made it */
    OK(d, db_reply_begin(d, conv, model, "{\"temperature\":0.7}", 0, &r1));
    db_msg one;
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "");
    assert_int_equal(one.role, DB_ROLE_AGENT);
    assert_int_equal(one.prev_id, c1);
    assert_int_equal(one.parent_id, 0);
    assert_true(one.active);
    assert_string_equal(one.sampling, "{\"temperature\":0.7}");
    db_msg_clear(&one);
    OK(d, db_reply_progress(d, r1, "Let me"));
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "Let me");
    db_msg_clear(&one);
    OK(d, db_reply_end(d, r1, "Let me check.", model2));
    OK(d, db_msg_get(d, r1, &one));
    assert_string_equal(one.text, "Let me check.");
    assert_int_equal(one.model_id, model2);
    db_msg_clear(&one);
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.title, "Where is my order?");
    assert_int_equal(c.n_messages, 2);
    db_conv_clear(&c);

    /* regenerate: r1 retired, r2 its child on the same turn */
    OK(d, db_reply_begin(d, conv, model, NULL, r1, &r2));
    OK(d, db_msg_get(d, r2, &one));
    assert_int_equal(one.parent_id, r1);
    assert_int_equal(one.prev_id, c1);
    assert_null(one.sampling);
    db_msg_clear(&one);
    assert_false(is_active(d, r1));
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r2}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r2}, 4);
    /* nothing generated: r2 goes, r1 comes back */
    OK(d, db_reply_end(d, r2, "", 0));
    assert_int_equal(db_msg_get(d, r2, &one), DB_NOTFOUND);
    assert_true(is_active(d, r1));
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r1}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1}, 3);

    /* regenerate for real */
    OK(d, db_reply_begin(d, conv, model, NULL, r1, &r3));
    OK(d, db_reply_progress(d, r3, "Your order"));
    OK(d, db_reply_end(d, r3, "Your order ships tomorrow.", 0));
    OK(d, db_msg_get(d, r3, &one));
    assert_int_equal(one.model_id, model); /* 0: keep the one from begin */
    db_msg_clear(&one);
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r3}, 3);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r3}, 4);
    /* a regenerate must name an agent reply of this conversation */
    int64_t bogus = 0;
    assert_int_equal(db_reply_begin(d, conv, model, NULL, c1, &bogus), DB_INVALID);
    assert_int_equal(db_reply_begin(d, conv, model, NULL, 999999, &bogus), DB_NOTFOUND);
    assert_int_equal(db_reply_begin(d, 999999, model, NULL, 0, &bogus), DB_NOTFOUND);
    assert_true(is_active(d, r3)); /* failed calls retired nothing */

    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Thanks, and the invoice?", &c2));
    OK(d, db_conv_get(d, conv, &c)); /* a later customer message does not retitle */
    assert_string_equal(c.title, "Where is my order?");
    db_conv_clear(&c);
    r4 = st_add_reply(d, conv, model, "Attached.");
    db_msg *t;
    OK(d, db_msg_thread(d, r4, &t, &n));
    int64_t want_thread[] = {sys, c1, r3, c2, r4};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(t[i].id, want_thread[i]);
    assert_string_equal(t[4].text, "Attached.");
    db_msgs_free(t, n);
    OK(d, db_msg_thread(d, r1, &t, &n)); /* an inactive reply's own thread */
    assert_int_equal(n, 3);
    assert_int_equal(t[2].id, r1);
    db_msgs_free(t, n);
    assert_int_equal(db_msg_thread(d, 999999, &t, &n), DB_NOTFOUND);
    assert_int_equal(n, 0);

    /* edit the first customer message: it and everything after retire */
    assert_int_equal(db_msg_edit(d, r3, "not a customer message", &c1b), DB_INVALID);
    assert_int_equal(db_msg_edit(d, 999999, "x", &c1b), DB_NOTFOUND);
    expect_ids(d, conv, false, (int64_t[]){sys, c1, r3, c2, r4}, 5);
    OK(d, db_msg_edit(d, c1, "Where is my parcel?", &c1b));
    OK(d, db_msg_get(d, c1b, &one));
    assert_int_equal(one.parent_id, c1);
    assert_int_equal(one.prev_id, sys);
    assert_int_equal(one.role, DB_ROLE_CUSTOMER);
    db_msg_clear(&one);
    expect_ids(d, conv, false, (int64_t[]){sys, c1b}, 2);
    expect_ids(d, conv, true, (int64_t[]){sys, c1, r1, r3, c2, r4, c1b}, 7);
    OK(d, db_msg_thread(d, r4, &t, &n)); /* the old thread is still readable */
    assert_int_equal(n, 5);
    db_msgs_free(t, n);
    int64_t r5 = st_add_reply(d, conv, model, "Checking the parcel.");
    OK(d, db_msg_thread(d, r5, &t, &n));
    assert_int_equal(n, 3);
    assert_int_equal(t[0].id, sys);
    assert_int_equal(t[1].id, c1b);
    assert_int_equal(t[2].id, r5);
    db_msgs_free(t, n);
    OK(d, db_conv_get(d, conv, &c));
    assert_int_equal(c.n_messages, 2);
    db_conv_clear(&c);

    /* a conversation without a system prompt starts empty */
    int64_t bare, first;
    OK(d, db_conv_create(d, NULL, NULL, &bare));
    OK(d, db_msgs_list(d, bare, true, &m, &n));
    assert_int_equal(n, 0);
    db_msgs_free(m, n);
    OK(d, db_msg_add(d, bare, DB_ROLE_CUSTOMER, "hi", &first));
    OK(d, db_msg_get(d, first, &one));
    assert_int_equal(one.prev_id, 0);
    db_msg_clear(&one);
    assert_int_equal(db_msg_add(d, 999999, DB_ROLE_CUSTOMER, "x", &first), DB_NOTFOUND);

    OK(d, db_check(d));
    db_close(d);
}

static char *title_of(db *d, int64_t conv)
{
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    char *t = xstrdup(c.title);
    db_conv_clear(&c);
    return t;
}

static void test_titles(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("titles.db"));
    int64_t conv, id;
    strbuf sb = {0};

    /* 70 two-byte characters: cut after 60 characters, not 60 bytes */
    for (int i = 0; i < 70; i++)
        sb_puts(&sb, "\xc3\xa9"); /* é */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    char *t = title_of(d, conv);
    assert_int_equal(strlen(t), 120 + 3);
    assert_memory_equal(t, sb.data, 120);
    assert_string_equal(t + 120, "...");
    assert_true(utf8_valid(t));
    free(t);

    /* a four-byte character straddling byte 60 stays whole */
    sb_clear(&sb);
    for (int i = 0; i < 58; i++)
        sb_putc(&sb, 'a');
    sb_puts(&sb, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80xyz"); /* 😀😀 at characters 59, 60 */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    t = title_of(d, conv);
    assert_int_equal(strlen(t), 58 + 8 + 3);
    assert_memory_equal(t, sb.data, 66);
    assert_string_equal(t + 66, "...");
    assert_true(utf8_valid(t));
    free(t);

    /* exactly 60 characters: kept whole, no ellipsis */
    sb_clear(&sb);
    for (int i = 0; i < 60; i++)
        sb_puts(&sb, i % 2 ? "b" : "\xe4\xb8\xad"); /* 中 */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, sb.data, &id));
    t = title_of(d, conv);
    assert_string_equal(t, sb.data);
    free(t);

    /* only the first line; a system message does not title */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_msg_add(d, conv, DB_ROLE_SYSTEM, "system text", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "");
    free(t);
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Refund please\r\nOrder 1234", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "Refund please");
    free(t);

    /* a rename sticks through later messages, edits and replies */
    OK(d, db_conv_rename(d, conv, "Refund #1234"));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "Anyone there?", &id));
    OK(d, db_msg_edit(d, id, "Hello?", &id));
    st_add_reply(d, conv, 0, "Yes.");
    t = title_of(d, conv);
    assert_string_equal(t, "Refund #1234");
    free(t);
    /* renamed before the first customer message: not overwritten either */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_conv_rename(d, conv, "Named early"));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "first words", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "Named early");
    free(t);
    /* even a rename to nothing is the agent's choice */
    OK(d, db_conv_create(d, "", NULL, &conv));
    OK(d, db_conv_rename(d, conv, ""));
    OK(d, db_msg_add(d, conv, DB_ROLE_CUSTOMER, "first words", &id));
    t = title_of(d, conv);
    assert_string_equal(t, "");
    free(t);
    assert_int_equal(db_conv_rename(d, 999999, "x"), DB_NOTFOUND);
    OK(d, db_conv_set_closed(d, conv, true));
    db_conv c;
    OK(d, db_conv_get(d, conv, &c));
    assert_string_equal(c.status, "closed");
    db_conv_clear(&c);
    sb_free(&sb);
    db_close(d);
}

/* ---- 3. Search -------------------------------------------------------------------- */

static void check_search(db *d, const int64_t *convs, size_t n_convs, const char *q)
{
    /* the reference: conversations with a message containing q */
    bool want[16] = {0};
    size_t n_want = 0;
    for (size_t i = 0; i < n_convs; i++) {
        db_msg *m;
        size_t n;
        OK(d, db_msgs_list(d, convs[i], true, &m, &n));
        for (size_t k = 0; k < n && !want[i]; k++)
            want[i] = ascii_ci_contains(m[k].text, q);
        n_want += want[i];
        db_msgs_free(m, n);
    }
    db_conv *got;
    size_t n;
    db_status s = db_conv_list(d, q, 0, &got, &n);
    if (s != DB_OK)
        fail_msg("search '%s' = %d: %s", q, s, db_errmsg(d));
    if (n != n_want)
        fail_msg("search '%s' found %zu conversations, want %zu", q, n, n_want);
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        while (i < n_convs && convs[i] != got[k].id)
            i++;
        if (i == n_convs || !want[i])
            fail_msg("search '%s' found conversation %lld wrongly", q, (long long)got[k].id);
    }
    db_convs_free(got, n);
}

static void test_search(void **state)
{
    (void)state;
    db *d = open_store(fresh_store("search.db"));
    const char *texts[] = {
        "My Router keeps dropping the WiFi connection",
        "我的订单还没有到达，请帮我查一下",
        "注文した商品が届きません。確認してください。",
        "He said \"hello\" AND left * NEAR(x, y) - a:b OR NOT ^start {col}: 'q'",
        "Plain note about invoices and refunds",
        "column:value -minus +plus (paren) [bracket] 100% under_score back\\slash",
        "Caf\xc3\xa9 cr\xc3\xa8me   three spaces, tab\there",
    };
    size_t nt = sizeof texts / sizeof *texts;
    int64_t convs[16], id;
    for (size_t i = 0; i < nt; i++) {
        OK(d, db_conv_create(d, "", NULL, &convs[i]));
        OK(d, db_msg_add(d, convs[i], DB_ROLE_CUSTOMER, texts[i], &id));
    }
    /* a reply's text is searchable once saved, and its old text no more */
    int64_t r;
    OK(d, db_reply_begin(d, convs[4], 0, NULL, 0, &r));
    OK(d, db_reply_progress(d, r, "draft GIRAFFE text"));
    check_search(d, convs, nt, "giraffe");
    OK(d, db_reply_end(d, r, "final PELICAN text", 0));

    const char *queries[] = {
        /* ASCII substrings, any case, inside words */
        "router", "ROUTER", "wifi conn", "outer kee", "pelican", "giraffe", "invoice",
        "nothing like this",
        /* CJK: three or more characters (trigram index), two (scan) */
        "订单还", "我的订单还没有", "查一下", "商品が届", "確認して", "订单", "到达", "届き", "注文",
        "飞机", "商店", "订",
        /* FTS syntax taken literally */
        "\"hello\"", "\"hello", "hello\"", "AND left", "AND", "left *", "*", "NEAR(x", "NEAR(", "- a:b",
        "a:b", ":", "-", "OR NOT", "NOT", "^start", "{col}", "'q'", "\"\"", "\"", "NEAR(zz", "AND OR",
        "column:value", "-minus", "+plus", "(paren)", "[bracket]", "100%", "under_", "_", "%",
        "back\\slash", "\\", "x AND y", "col*", "^",
        /* other characters outside ASCII, whitespace, a stray byte */
        "caf\xc3\xa9", "\xc3\xa9", "\xc3\xa9 cr", "   ", "  ", "\t", "tab\there", "\xff\xfe\xfd", "\xff",
    };
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++)
        check_search(d, convs, nt, queries[q]);

    /* spot checks, so the reference itself is not the only judge */
    db_conv *got;
    size_t n;
    OK(d, db_conv_list(d, "ROUTER", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[0]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "订单", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[1]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "商品が", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[2]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "NEAR(", 0, &got, &n));
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, convs[3]);
    db_convs_free(got, n);
    OK(d, db_conv_list(d, "draft", 0, &got, &n));
    assert_int_equal(n, 0);
    db_convs_free(got, n);

    /* no search: all, newest first; a limit */
    OK(d, db_conv_list(d, "", 0, &got, &n));
    assert_int_equal(n, nt);
    assert_int_equal(got[0].id, convs[4]); /* the reply touched it last */
    db_convs_free(got, n);
    OK(d, db_conv_list(d, NULL, 2, &got, &n));
    assert_int_equal(n, 2);
    db_convs_free(got, n);
    db_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_tree),
        cmocka_unit_test(test_titles),
        cmocka_unit_test(test_search),
    };
    static const char *const sqlite_only[] = {NULL};
    return store_run_suite("store_messages", tests, sizeof tests / sizeof *tests, sqlite_only, NULL, NULL);
}
