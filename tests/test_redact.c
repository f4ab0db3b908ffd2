/*
 * test_redact.c — privacy masking: each kind with its counts, card vs phone
 * order and the Luhn check, the numbers that must be left alone, byte
 * passthrough (UTF-8, invalid UTF-8, NUL), and megabyte inputs (ordinary
 * and pathological) that must take linear time — checked without a clock
 * threshold (see redact_linear).
 */
#include "tests/testutil.h"

#include "storage/redact.h"
#include "util/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MiB (1024 * 1024)

/* Redact in (NUL-free) and compare with want and the three counts. */
static void check(const char *in, const char *want, int emails, int phones, int cards)
{
    redact_counts c = {-7, -7, -7};
    char *out = redact_text(in, strlen(in), &c);
    if (strcmp(out, want) != 0 || c.emails != emails || c.phones != phones ||
        c.cards != cards)
        fail_msg("redact(\"%s\")\n   got \"%s\" e=%d p=%d c=%d\n  want \"%s\" e=%d p=%d c=%d",
                 in, out, c.emails, c.phones, c.cards, want, emails, phones, cards);
    free(out);
}

/* Must come back byte for byte, with zero counts. */
static void same(const char *in) { check(in, in, 0, 0, 0); }

static void test_emails(void **state)
{
    (void)state;
    check("write to john.doe+tag@mail.example.co.uk today", "write to [email] today", 1, 0, 0);
    check("a@b.co", "[email]", 1, 0, 0);
    check("user_name%x@sub-domain.example.io", "[email]", 1, 0, 0);
    check("<alice@example.org>, bob@example.net", "<[email]>, [email]", 2, 0, 0);
    check("mailto:bob@example.com?subject=hi", "mailto:[email]?subject=hi", 1, 0, 0);
    check("Mail me at a@b.com.", "Mail me at [email].", 1, 0, 0); /* sentence dot stays */
    check("...john@x.org", "...[email]", 1, 0, 0);                /* leading dots stay */
    check("a@example.com.123", "[email].123", 1, 0, 0);            /* back off to the TLD */
    check("a@b.com@c.org", "[email]@c.org", 1, 0, 0);
    check("a..b@x.org", "[email]", 1, 0, 0); /* consecutive dots accepted (documented) */
    /* An address beats the numbers inside it. */
    check("5551234567@example.com", "[email]", 1, 0, 0);
    check("555-123-4567.bob@example.com", "[email]", 1, 0, 0);
    /* Maximal: the whole local run and the whole domain. */
    check("x first.last-1@a.b-c.example.museum y", "x [email] y", 1, 0, 0);
    /* Not addresses. */
    same("john.@x.org");   /* local part ends with '.' */
    same("john@localhost"); /* no dot */
    same("a@b.c");          /* TLD of one letter */
    same("x@y.com2");       /* TLD not letters */
    same("user@123.45.67.89");
    same("@john and john@ and a@@b.com and a@.com and a@b..com");
    same("meet @ 5pm. foo@bar");
    /* Around non-ASCII text. */
    check("电子邮件：a@b.cn。谢谢", "电子邮件：[email]。谢谢", 1, 0, 0);
    check("\xff" "a@b.cn" "\xfe", "\xff[email]\xfe", 1, 0, 0);
}

/* Append the Luhn check digit to the n-1 digits in s (s has room for n+1). */
static void luhn_complete(char *s, int n)
{
    for (char d = '0'; d <= '9'; d++) {
        s[n - 1] = d;
        s[n] = '\0';
        int sum = 0;
        for (int k = 0; k < n; k++) {
            int v = s[n - 1 - k] - '0';
            if (k & 1)
                v = v * 2 > 9 ? v * 2 - 9 : v * 2;
            sum += v;
        }
        if (sum % 10 == 0)
            return;
    }
    fail();
}

static void test_cards(void **state)
{
    (void)state;
    check("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27", 0, 0, 1);
    check("4111-1111-1111-1111", "[card]", 0, 0, 1);
    check("4111111111111111", "[card]", 0, 0, 1);
    check("mc 5555555555554444, amex 3782 822463 10005.", "mc [card], amex [card].", 0, 0, 2);
    check("discover 6011111111111117", "discover [card]", 0, 0, 1);
    check("visa13 4222222222222", "visa13 [card]", 0, 0, 1);
    check("(4111 1111 1111 1111)", "([card])", 0, 0, 1);
    check("卡号4111111111111111谢谢", "卡号[card]谢谢", 0, 0, 1);
    /* Luhn fails: not a card, and 16 digits is too many for a phone. */
    same("4111 1111 1111 1112");
    same("4111111111111112");
    same("4111-1111-1111-1113");
    /* Cards come before phones: 15 Luhn-valid digits are a card; one digit
     * off and the same run is a phone (10-15 bare digits). */
    check("378282246310005", "[card]", 0, 0, 1);
    check("378282246310006", "[phone]", 0, 1, 0);
    /* Whole groups only, the longest that passes. */
    check("4111 1111 1111 1111 12", "[card] 12", 0, 0, 1);
    check("4111111111111111 4111111111111111", "[card] [card]", 0, 0, 2);
    /* Word boundaries. */
    same("x4111111111111111");
    same("4111111111111111abc");
    same("id_4111111111111111");
    same("4111.1111.1111.1111"); /* '.' is no card separator (nor a phone: 16 digits) */
    same("4111  1111  1111  1111"); /* double spaces */
    /* Groups shaped like a printed card: 4, then 4-6, the last 1-6. */
    check("diners 3056 930902 5904", "diners [card]", 0, 0, 1);
    check("4111 1111-1111 1111", "[card]", 0, 0, 1); /* mixed separators are fine */
    check("1 4111 1111 1111 1111", "1 [card]", 0, 0, 1);
    same("41 11 11 11 11 11 11 11"); /* not card-shaped; 16 digits: no phone */
    same("411 111 111 111 111 1");
    /* Two space-only phones joined by a space: one over-long chain, neither a
     * phone nor (though "123 4567 555 987 6543" passes Luhn) a card. */
    same("555 123 4567 555 987 6543");

    /* 13..19 digits with a valid check digit are cards, 20 are not; 12 grouped
     * digits are a phone. */
    for (int n = 12; n <= 20; n++) {
        char digits[32], grouped[64], want[16];
        for (int k = 0; k < n - 1; k++)
            digits[k] = (char)('1' + (k * 7) % 9);
        luhn_complete(digits, n);
        size_t g = 0;
        for (int k = 0; k < n; k++) {
            if (k && k % 4 == 0)
                grouped[g++] = ' ';
            grouped[g++] = digits[k];
        }
        grouped[g] = '\0';
        if (n >= 13 && n <= 19) {
            check(digits, "[card]", 0, 0, 1);
            check(grouped, "[card]", 0, 0, 1);
        } else if (n == 12) {
            snprintf(want, sizeof want, "[phone]");
            check(digits, want, 0, 1, 0);
            check(grouped, want, 0, 1, 0);
        } else {
            same(digits);
            same(grouped);
        }
    }
}

static void test_phones(void **state)
{
    (void)state;
    static const char *const phones[] = {
        "+1 (555) 123-4567", "555-123-4567", "+44 20 7946 0958", "0171 555 0199",
        "(555) 123-4567",    "+1(555)1234567", "555.123.4567",   "5551234567",
        "+4915112345678",    "555-1234",       "1-800-555-0199", "+44 (0) 20 7946 0958",
        "06 12 34 56 78",    "01.23.45.67.89", "+33 6 12 34 56 78", "(555)-123-4567",
        "+1 555 123 4567",   "020.7946.0958",  "12-34567",       "13800138000",
    };
    for (size_t k = 0; k < sizeof phones / sizeof phones[0]; k++) {
        char in[128], want[128];
        check(phones[k], "[phone]", 0, 1, 0);
        snprintf(in, sizeof in, "Call me at %s.", phones[k]);
        check(in, "Call me at [phone].", 0, 1, 0);
        snprintf(in, sizeof in, "tel:%s, thanks", phones[k]);
        snprintf(want, sizeof want, "tel:[phone], thanks");
        check(in, want, 0, 1, 0);
    }
    check("我的电话是13800138000。", "我的电话是[phone]。", 0, 1, 0);
    check("(555-123-4567)", "([phone])", 0, 1, 0);
    check("555-123-4567 or 555-987-6543", "[phone] or [phone]", 0, 2, 0);
    check("555-123-4567,555-987-6543", "[phone],[phone]", 0, 2, 0);
    check("555-123-4567 555-987-6543", "[phone] [phone]", 0, 2, 0); /* ' ' after '-' splits */
    check("2024-05-01 555-123-4567", "2024-05-01 [phone]", 0, 1, 0);
    check("2024-05-01 5551234567", "2024-05-01 [phone]", 0, 1, 0);
    check("call 555-123-4567 ext. 89", "call [phone] ext. 89", 0, 1, 0);
}

static void test_left_alone(void **state)
{
    (void)state;
    static const char *const keep[] = {
        /* order numbers, years, prices, amounts */
        "order 12345", "order 1234567", "order 123456789", "order #1234567890", "year 2024",
        "price 19.99", "$1,299.99", "1,234,567", "12.345.678", "1234567.89", "3.14159265",
        "$1234567890",
        /* dates and times */
        "2024-05-01", "01.05.2024", "2024-5-01", "1-05-2024", "05/01/2024",
        "2024-05-01 10:30", "on 2024-05-01 10:30:45 UTC", "2024-05-01T10:30:00Z", "10:30",
        "10:30:45", "12/05/2024 14:00",
        /* versions and IPv4 addresses (left alone: they are not phones) */
        "version 1.2.3", "v1.2.3", "1.22.333.4444.5", "192.168.1.1", "192.168.100.200",
        "10.0.0.1", "255.255.255.0",
        /* short or odd digit groups */
        "1 2 3 4 5 6 7", "555 123", "+123456", "12 34 56", "1234.5678",
        /* glued to letters */
        "abc5551234567", "5551234567abc", "ref_5551234567", "A1-555-123-4567",
        /* too many digits */
        "1234567890123456", "+1 555 123 4567 8901 2345",
        /* Luhn-valid 4111111111111111, but not grouped like a card: the
         * first group of a card is 4 digits */
        "411 11111 1111 1111",
        /* dotted groups are 2-4 digits each, the first one too */
        "12345.678.9012",
        /* a phone-shaped run continued by '.', ':' or '/' and a digit is a
         * number, a time or a date, not a phone */
        "555-123-4567.5", "555-123-4567:30", "555-123-4567/8",
        /* plain text */
        "", "hello, world", "no numbers (here) - at all. ok? #tag $5 +1",
    };
    for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++)
        same(keep[k]);
}

static void test_mixed_and_total(void **state)
{
    (void)state;
    const char *in = "Mail a@b.com or call +1 555 123 4567, card 4111111111111111.";
    redact_counts c;
    char *out = redact_text(in, strlen(in), &c);
    assert_string_equal(out, "Mail [email] or call [phone], card [card].");
    assert_int_equal(c.emails, 1);
    assert_int_equal(c.phones, 1);
    assert_int_equal(c.cards, 1);
    assert_int_equal(redact_total(&c), 3);
    assert_int_equal(redact_total(NULL), 0);
    free(out);
    out = redact_text(in, strlen(in), NULL); /* counts may be NULL */
    assert_string_equal(out, "Mail [email] or call [phone], card [card].");
    free(out);
    /* Only the first len bytes are read. */
    out = redact_text("555-123-4567 tail", 8, &c);
    assert_string_equal(out, "555-123-");
    assert_int_equal(redact_total(&c), 0);
    free(out);
    /* NULL with len 0. */
    c.emails = 5;
    out = redact_text(NULL, 0, &c);
    assert_string_equal(out, "");
    assert_int_equal(redact_total(&c), 0);
    free(out);
}

static void test_bytes_pass_through(void **state)
{
    (void)state;
    same("Grüße aus Köln 😀 中文 עברית");
    same("\xff\xfe\xc3\x28 \xe4\xb8 \x80\xc0\xaf \xf8\x88\x80\x80\x80");
    check("\xff\xfe 555-123-4567 \xe4\xb8", "\xff\xfe [phone] \xe4\xb8", 0, 1, 0);
    /* Classes are ASCII: the address starts after the last non-ASCII byte,
     * and an address whose local part ends in one is not seen (documented). */
    check("\xc3\xa9tienne.m@example.com", "\xc3\xa9[email]", 1, 0, 0);
    same("\xc3\xa9t\xc3\xa9@example.com");
    /* An embedded NUL is copied like any byte. */
    char *out = redact_text("a\0b 555-123-4567\0z", 18, NULL);
    assert_memory_equal(out, "a\0b [phone]\0z", 14);
    free(out);
    /* Every byte value in a row: identical except that "0123456789" (after
     * "./") is a 10-digit phone; NUL-terminated after the last byte. */
    char all[256], want[256];
    for (int k = 0; k < 256; k++)
        all[k] = (char)k;
    memcpy(want, all, 48);
    memcpy(want + 48, "[phone]", 7);
    memcpy(want + 55, all + 58, 256 - 58);
    redact_counts c;
    out = redact_text(all, 256, &c);
    assert_int_equal(c.phones, 1);
    assert_int_equal(redact_total(&c), 1);
    assert_memory_equal(out, want, 253);
    assert_int_equal(out[253], '\0');
    free(out);
}

/* xorshift64*, deterministic. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* ~1 MiB of words, short numbers (each followed by a word), punctuation,
 * '@' without a domain, UTF-8 and stray bytes: nothing in it matches. */
static char *random_text(size_t *len, uint64_t seed)
{
    static const char *const extra[] = {
        ", ", ". ", "! ", " (", ") ", " - ", " é ", " 中文 ", " 😀 ", " \xff\xfe ",
        " a@b ", " 10:30 ", " 19.99 ", " 2024-05-01 ", " v1.2.3 ", " #12345 ",
    };
    strbuf sb = {0};
    uint64_t s = seed;
    while (sb.len < MiB) {
        int wl = 1 + (int)(rnd(&s) % 9);
        for (int k = 0; k < wl; k++)
            sb_putc(&sb, (char)('a' + rnd(&s) % 26));
        uint64_t r = rnd(&s) % 8;
        if (r == 0) {
            sb_printf(&sb, " %u ", (unsigned)(rnd(&s) % 100000));
            sb_putc(&sb, (char)('a' + rnd(&s) % 26)); /* a word after every number */
        } else if (r == 1) {
            sb_puts(&sb, extra[rnd(&s) % (sizeof extra / sizeof extra[0])]);
        } else {
            sb_putc(&sb, ' ');
        }
    }
    *len = sb.len;
    return sb.data;
}

/* ---- Linear time, without a clock threshold ------------------------------------
 *
 * "1 MiB in under 3 s" fails on a loaded machine and proves nothing on a
 * fast one (speed is for make bench).  Instead redact_text's cost is counted
 * in passes: the thread's CPU time for redacting the bytes over its CPU time
 * for one plain pass over the same bytes (FNV-1a, a chain of one multiply
 * per byte), back to back on the same thread.  Time spent descheduled by
 * other load does not count, and the machine's speed and ASan largely cancel
 * out.  The best of up to three tries counts, so a one-off hiccup does not:
 * the first try under the bound ends it, and so does one ten times over it
 * (no hiccup: a quadratic matcher fails after one slow try).
 *
 * Linear code costs a constant number of passes: 3 to about 100 for these
 * inputs on a shared 2-core machine, with or without two busy loops of our
 * own, up to about 200 under ASan (load on the other core shifts it, more
 * for the branchy matcher than for the multiply chain).  A matcher that
 * rescans to the end of the input from every byte does len/2 byte steps per
 * byte: even as a vectorised compare that is some len/10 passes
 * (7,600-35,000 seen at 128 KiB), ~100,000 at 1 MiB.  MAX_PASSES is far
 * from both.
 */
#define MAX_PASSES 2000.0

static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        fail_msg("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile uint64_t pass_sink;

static void one_pass(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    pass_sink = h;
}

/* redact_text(in, len, c), failing when it costs MAX_PASSES or more (see
 * above); the output and counts of the first try.  *passes: its cost. */
static char *redact_linear(const char *what, const char *in, size_t len, redact_counts *c, double *passes)
{
    char *out = NULL;
    double best = -1;
    for (int k = 0; k < 3 && !(best >= 0 && (best < MAX_PASSES || best >= 10 * MAX_PASSES)); k++) {
        double t0 = cpu_now();
        one_pass(in, len);
        double t1 = cpu_now();
        char *o = redact_text(in, len, k == 0 ? c : NULL);
        double t2 = cpu_now();
        if (k == 0)
            out = o;
        else
            free(o);
        double ref = t1 - t0 > 1e-6 ? t1 - t0 : 1e-6;
        double p = (t2 - t1) / ref;
        if (best < 0 || p < best)
            best = p;
    }
    if (best >= MAX_PASSES)
        fail_msg("%s: redacting %zu bytes cost %.0f passes over them (linear: ~3-200, bound %.0f)", what, len,
                 best, MAX_PASSES);
    *passes = best;
    return out;
}

static void test_megabyte_roundtrip(void **state)
{
    (void)state;
    size_t len;
    char *in = random_text(&len, 0x9e3779b97f4a7c15ull);
    assert_true(len >= MiB);
    redact_counts c;
    double passes;
    char *out = redact_linear("ordinary text", in, len, &c, &passes);
    assert_int_equal(redact_total(&c), 0);
    assert_int_equal(strlen(out), len);
    assert_memory_equal(out, in, len);
    printf("  1 MiB of text: %.1f passes (bound %.0f)\n", passes, MAX_PASSES);
    free(out);
    free(in);
}

static void test_megabyte_of_matches(void **state)
{
    (void)state;
    const char *unit = "x a@b.com 555-123-4567 4111111111111111 y\n";
    const char *unit_out = "x [email] [phone] [card] y\n";
    size_t n = MiB / strlen(unit) + 1;
    strbuf in = {0}, want = {0};
    for (size_t k = 0; k < n; k++) {
        sb_puts(&in, unit);
        sb_puts(&want, unit_out);
    }
    redact_counts c;
    double passes;
    char *out = redact_linear("matches", in.data, in.len, &c, &passes);
    assert_int_equal(c.emails, (int)n);
    assert_int_equal(c.phones, (int)n);
    assert_int_equal(c.cards, (int)n);
    assert_int_equal(strlen(out), want.len);
    assert_memory_equal(out, want.data, want.len);
    printf("  1 MiB of matches: %.1f passes (bound %.0f)\n", passes, MAX_PASSES);
    free(out);
    sb_free(&in);
    sb_free(&want);
}

/* Inputs built to make a naive matcher rescan: one giant local-part run,
 * '@' chains, digit runs, endless separators. Each must take linear time
 * (redact_linear) and leave the text alone. */
static void test_pathological_linear(void **state)
{
    (void)state;
    static const char *const units[] = {
        "a", ".", "a@", "a.", "a@a.", "1", "1 ", "1-", "1.", "(1)", "+1", "12 ",
        "123.", "1234-", "a-", "a@a-", "@.", "9@9.",
    };
    double worst = 0;
    const char *worst_unit = "";
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u]);
        size_t len = MiB - MiB % ul;
        char *in = xmalloc(len + 1);
        for (size_t k = 0; k < len; k += ul)
            memcpy(in + k, units[u], ul);
        in[len] = '\0';
        char what[32];
        snprintf(what, sizeof what, "unit \"%s\"", units[u]);
        redact_counts c;
        double passes;
        char *out = redact_linear(what, in, len, &c, &passes);
        if (passes > worst)
            worst = passes, worst_unit = units[u];
        if (redact_total(&c) == 0) {
            assert_int_equal(strlen(out), len);
            assert_memory_equal(out, in, len);
        } else {
            assert_true(strlen(out) > 0);
        }
        free(out);
        free(in);
    }
    printf("  1 MiB of each unit: at most %.1f passes (\"%s\"; bound %.0f)\n", worst, worst_unit, MAX_PASSES);
}

/* Random strings over the characters the rules care about: the counts match
 * the markers in the output (the input has no '['), text outside the
 * markers is the input's text in order, and nothing is read past len. */
static void test_random_consistency(void **state)
{
    (void)state;
    static const char alpha[] = "0123456789012345678901234567890123456789 -.()+@ab_:/#.é";
    uint64_t s = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        char in[64];
        size_t len = (size_t)(rnd(&s) % 48);
        for (size_t k = 0; k < len; k++)
            in[k] = alpha[rnd(&s) % (sizeof alpha - 1)];
        in[len] = '\0';
        /* An exact-size heap copy, no NUL after it: under ASan any read past
         * len is caught. */
        char *exact = xmalloc(len);
        memcpy(exact, in, len);
        redact_counts c;
        char *out = redact_text(exact, len, &c);
        free(exact);
        size_t olen = strlen(out);
        int e = 0, p = 0, cd = 0;
        size_t ip = 0; /* every literal byte of the output appears in order in the input */
        for (size_t o = 0; o < olen;) {
            if (strncmp(out + o, "[email]", 7) == 0) {
                e++, o += 7;
            } else if (strncmp(out + o, "[phone]", 7) == 0) {
                p++, o += 7;
            } else if (strncmp(out + o, "[card]", 6) == 0) {
                cd++, o += 6;
            } else {
                while (ip < len && in[ip] != out[o])
                    ip++;
                if (ip == len)
                    fail_msg("output byte %zu of \"%s\" not from \"%s\"", o, out, in);
                ip++, o++;
            }
        }
        if (e != c.emails || p != c.phones || cd != c.cards)
            fail_msg("counts %d/%d/%d vs markers %d/%d/%d for \"%s\" -> \"%s\"", c.emails,
                     c.phones, c.cards, e, p, cd, in, out);
        if (redact_total(&c) == 0)
            assert_string_equal(out, in);
        free(out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_left_alone),
        cmocka_unit_test(test_mixed_and_total),
        cmocka_unit_test(test_bytes_pass_through),
        cmocka_unit_test(test_megabyte_roundtrip),
        cmocka_unit_test(test_megabyte_of_matches),
        cmocka_unit_test(test_pathological_linear),
        cmocka_unit_test(test_random_consistency),
    };
    return cmocka_run_group_tests_name("redact", tests, NULL, NULL);
}
