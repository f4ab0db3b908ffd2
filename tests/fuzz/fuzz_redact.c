/*
 * fuzz_redact.c — libFuzzer harness: PII redaction (storage/redact.h) on
 * arbitrary bytes.
 *
 * Checked beyond crashes, leaks and UB, each from redact.h's promises
 * rather than from a second redactor:
 *   - the result has exactly the input's bytes up to its first NUL when
 *     nothing was replaced, and is as long as strlen says when the input
 *     holds no NUL;
 *   - replacements only swap ASCII for ASCII, so valid UTF-8 stays valid;
 *   - matches never take '[' or ']', so every "[email]", "[phone]" and
 *     "[card]" of the input survives and each replacement adds one:
 *     occurrences out = occurrences in + count, per kind;
 *   - a match is at least as long as its marker, except an e-mail (at
 *     least 6 bytes, "a@b.cd", for 7), so the result is at most one byte
 *     per e-mail longer than the input;
 *   - a card number written as one unbroken run (13-19 digits passing
 *     Luhn, no word character either side) never survives: no such run
 *     appears in the result between non-word bytes;
 *   - the counts do not depend on whether they are asked for.
 */
#include "tests/fuzz/fuzz.h"

#include "storage/redact.h"

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_redact: %s\n", what);
        abort();
    }
}

static bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool word(unsigned char c)
{
    return digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = util_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xFFFD && k == 1) /* a real U+FFFD takes 3 bytes */
            return false;
        i += k;
    }
    return true;
}

static size_t occurrences(const char *s, size_t n, const char *pat)
{
    size_t m = strlen(pat), k = 0;
    for (size_t i = 0; i + m <= n; i++)
        k += !memcmp(s + i, pat, m);
    return k;
}

static bool luhn(const unsigned char *d, size_t n)
{
    int sum = 0;
    for (size_t k = 0; k < n; k++) {
        int v = d[n - 1 - k] - '0';
        if (k % 2 == 1)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return sum % 10 == 0;
}

/* Each run of 13-19 digits with no word byte either side, in s[0..n): call
 * fn(run, len) until it returns false. */
static bool each_card_run(const unsigned char *s, size_t n, bool (*fn)(void *, const unsigned char *, size_t), void *ud)
{
    for (size_t i = 0; i < n;) {
        if (!digit(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && digit(s[j]))
            j++;
        bool alone = (i == 0 || !word(s[i - 1])) && (j == n || !word(s[j]));
        if (alone && j - i >= 13 && j - i <= 19 && !fn(ud, s + i, j - i))
            return false;
        i = j;
    }
    return true;
}

typedef struct {
    const unsigned char *run;
    size_t len;
} run_ref;

static bool differs(void *ud, const unsigned char *s, size_t n)
{
    const run_ref *r = ud;
    return n != r->len || memcmp(s, r->run, n) != 0;
}

typedef struct {
    const unsigned char *out;
    size_t out_len;
} card_ctx;

static bool not_in_output(void *ud, const unsigned char *s, size_t n)
{
    const card_ctx *c = ud;
    if (!luhn(s, n))
        return true;
    run_ref r = {s, n};
    check(each_card_run(c->out, c->out_len, differs, &r), "a card number survived redaction");
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = size ? (const char *)data : ""; /* the replay passes NULL for an empty file */
    redact_counts counts = {-1, -1, -1};
    char *out = redact_text(size ? in : NULL, size, &counts);
    char *again = redact_text(size ? in : NULL, size, NULL);
    check(out && again && !strcmp(out, again), "the result depends on whether counts are asked for");
    free(again);
    check(counts.emails >= 0 && counts.phones >= 0 && counts.cards >= 0, "a negative count");
    check(redact_total(&counts) == counts.emails + counts.phones + counts.cards, "redact_total");

    bool has_nul = memchr(in, '\0', size) != NULL;
    size_t in_len = has_nul ? strlen(in) : size; /* what can be compared */
    size_t out_len = strlen(out);
    if (!has_nul) {
        check(out_len <= size + (size_t)counts.emails, "the result grew more than one byte per e-mail");
        if (valid_utf8(data, size))
            check(valid_utf8((const unsigned char *)out, out_len), "valid UTF-8 in, invalid out");
        static const struct {
            const char *mark;
            size_t off;
        } kinds[] = {{"[email]", offsetof(redact_counts, emails)},
                     {"[phone]", offsetof(redact_counts, phones)},
                     {"[card]", offsetof(redact_counts, cards)}};
        for (size_t k = 0; k < 3; k++) {
            int n = *(const int *)((const char *)&counts + kinds[k].off);
            check(occurrences(out, out_len, kinds[k].mark) == occurrences(in, size, kinds[k].mark) + (size_t)n,
                  "a marker count does not add up");
        }
        card_ctx cc = {(const unsigned char *)out, out_len};
        each_card_run(data, size, not_in_output, &cc);
    }
    if (redact_total(&counts) == 0)
        check(out_len == in_len && !memcmp(out, in, in_len), "nothing replaced, yet the text changed");
    free(out);
    return 0;
}
