/*
 * redact.c — one left-to-right pass over the bytes that copies text through
 * and swaps e-mail addresses, card numbers and phone numbers for markers
 * (the rules are in redact.h).
 *
 * Linear time: an e-mail is only tried once per run of local-part bytes
 * (the run is scanned once, its domain once more); a card or phone is only
 * tried where the previous byte is not a word character; a card scan stops
 * after 19 digits, and a phone scan either stays within 15 digits or, when
 * the chain is longer, marks it so that no phone is tried inside it again
 * (each byte of such a chain is scanned once).  No regular expressions, no
 * locale: the
 * character classes are ASCII and written out here.  It does not touch
 * storage; the "storage/" home is because redaction is applied on the way in.
 */
#include "storage/redact.h"

#include "util/util.h"

#include <stdbool.h>
#include <string.h>

#define CARD_MIN 13
#define CARD_MAX 19
#define PHONE_MIN 7
#define PHONE_MAX 15
#define PHONE_BARE_MIN 10 /* a lone unpunctuated run without '+' */

/* ---- ASCII classes ------------------------------------------------------ */

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_alpha(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }

/* Word characters for the number boundaries; bytes >= 0x80 are not. */
static bool is_word(unsigned char c) { return is_alnum(c) || c == '_'; }

static bool is_local(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool is_label(unsigned char c) { return is_alnum(c) || c == '-'; }

/* Consecutive digits at t[p..], counting at most max + 1 of them (enough to
 * know the cap is exceeded without scanning a long run). */
static size_t digits_at(const unsigned char *t, size_t len, size_t p, size_t max)
{
    size_t n = 0;
    while (p + n < len && n <= max && is_digit(t[p + n]))
        n++;
    return n;
}

/* ---- E-mail ------------------------------------------------------------- */

/* The domain after an '@' at t[p-1]: labels of [A-Za-z0-9-]+ joined by
 * single dots.  Returns the end of the last label (index >= 1) that is all
 * letters and >= 2 long, or 0 when there is none. */
static size_t match_domain(const unsigned char *t, size_t len, size_t p)
{
    size_t best = 0;
    int label = 0;
    while (p < len && is_label(t[p])) {
        size_t start = p;
        bool letters = true;
        while (p < len && is_label(t[p])) {
            letters = letters && is_alpha(t[p]);
            p++;
        }
        if (label >= 1 && letters && p - start >= 2)
            best = p;
        label++;
        if (p + 1 < len && t[p] == '.' && is_label(t[p + 1]))
            p++;
        else
            break;
    }
    return best;
}

/* The run of local-part bytes t[i..run) is followed by '@'?  On a match,
 * *local is where the address starts (after the run's leading dots) and the
 * end is returned; 0 otherwise. */
static size_t match_email(const unsigned char *t, size_t len, size_t i, size_t run,
                          size_t *local)
{
    if (run >= len || t[run] != '@')
        return 0;
    size_t s = i;
    while (s < run && t[s] == '.')
        s++;
    if (s == run || t[run - 1] == '.')
        return 0;
    *local = s;
    return match_domain(t, len, run + 1);
}

/* ---- Cards -------------------------------------------------------------- */

/* Luhn over n digits (d[0] leftmost). */
static bool luhn_ok(const unsigned char *d, size_t n)
{
    int sum = 0;
    for (size_t k = 0; k < n; k++) {
        int v = d[n - 1 - k];
        if (k % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

/* A card starting at the digit t[i] (the caller has checked the byte
 * before).  Returns the end, or 0. */
static size_t match_card(const unsigned char *t, size_t len, size_t i)
{
    unsigned char d[CARD_MAX];
    size_t nd = 0, p = i;
    size_t ends[CARD_MAX], ndig_at[CARD_MAX], size[CARD_MAX]; /* per whole group */
    int ng = 0;
    for (;;) {
        size_t n = digits_at(t, len, p, CARD_MAX);
        if (n == 0 || nd + n > CARD_MAX)
            break;
        for (size_t k = 0; k < n; k++)
            d[nd + k] = (unsigned char)(t[p + k] - '0');
        nd += n;
        p += n;
        ends[ng] = p;
        ndig_at[ng] = nd;
        size[ng] = n;
        ng++;
        if (p + 1 < len && (t[p] == ' ' || t[p] == '-') && is_digit(t[p + 1]))
            p++;
        else
            break;
    }
    /* Longest whole-group prefix of 13-19 digits, grouped like a card (4,
     * then 4-6 each, the last 1-6), passing Luhn. */
    for (int g = ng - 1; g >= 0; g--) {
        if (ndig_at[g] < CARD_MIN)
            break;
        if (g > 0) {
            bool shaped = size[0] == 4 && size[g] <= 6;
            for (int k = 1; k < g; k++)
                shaped = shaped && size[k] >= 4 && size[k] <= 6;
            if (!shaped)
                continue;
        }
        size_t e = ends[g];
        if (e < len && is_word(t[e]))
            continue;
        if (luhn_ok(d, ndig_at[g]))
            return e;
    }
    return 0;
}

/* ---- Phones ------------------------------------------------------------- */

typedef struct {
    unsigned char ndig;
    unsigned char sep; /* separator before this part: ' ', '-', '.', or 0 */
    bool paren;
} phone_part;

/* Could a phone start at t[i] as far as the bytes before are concerned? */
static bool phone_left_ok(const unsigned char *t, size_t i)
{
    if (i == 0)
        return true;
    unsigned char b = t[i - 1];
    if (is_word(b) || b == '#' || b == '$' || b == '+')
        return false;
    if ((b == '.' || b == ':' || b == '/' || b == '-') && i >= 2 && is_digit(t[i - 2]))
        return false; /* the middle of "10:30", "2024-05-01", "1.5" */
    return true;
}

static bool phone_shape_ok(const phone_part *pt, int np, int total, bool plus)
{
    if (total < PHONE_MIN || total > PHONE_MAX)
        return false;
    if (!plus && np == 1 && !pt[0].paren && total < PHONE_BARE_MIN)
        return false;
    bool dots = false, all_dots = np > 1;
    for (int k = 1; k < np; k++) {
        dots = dots || pt[k].sep == '.';
        all_dots = all_dots && pt[k].sep == '.';
    }
    if (dots) {
        if (np < 3)
            return false;
        bool small = true, thousands = pt[0].ndig <= 3;
        for (int k = 0; k < np; k++) {
            if (pt[k].ndig < 2 || pt[k].ndig > 4)
                return false;
            small = small && pt[k].ndig <= 3;
            if (k > 0)
                thousands = thousands && pt[k].ndig == 3;
        }
        if (all_dots && np == 4 && small)
            return false; /* IPv4 */
        if (all_dots && thousands)
            return false; /* 12.345.678 */
    }
    if (np == 3 && !plus && !pt[0].paren && !pt[1].paren && !pt[2].paren &&
        pt[1].sep == pt[2].sep && (pt[1].sep == '-' || pt[1].sep == '.')) {
        int a = pt[0].ndig, b = pt[1].ndig, c = pt[2].ndig;
        if (a == 4 && b <= 2 && c <= 2)
            return false; /* 2024-05-01 */
        if (a <= 2 && b <= 2 && c == 4)
            return false; /* 01.05.2024 */
    }
    return true;
}

/* A phone starting at t[i] (a digit, '+' or '('; the caller has checked
 * phone_left_ok).  Returns the end, or 0.  When the chain of parts is too
 * long to be one phone (over 15 digits or over two one-digit parts),
 * *too_long_end is set to its end so that the caller does not try again
 * inside it: "4111 1111 1111 1112" holds no phone "1111 1111 1112". */
static size_t match_phone(const unsigned char *t, size_t len, size_t i, size_t *too_long_end)
{
    phone_part pt[PHONE_MAX];
    int np = 0, ones = 0;
    size_t total = 0, p = i, end = 0;
    bool plus = false, used_paren = false, dash_or_dot = false;
    unsigned char sep = 0;
    if (t[p] == '+') {
        plus = true;
        p++;
    }
    /* The greedy chain; its length is only bounded by the input, but a long
     * chain is scanned once (the caller skips it afterwards). */
    for (;;) {
        size_t q = p;
        bool paren = false;
        if (q < len && t[q] == '(' && !used_paren) {
            paren = true;
            q++;
        }
        size_t n = 0;
        while (q + n < len && is_digit(t[q + n]))
            n++;
        if (n == 0)
            break;
        q += n;
        if (paren) {
            if (q >= len || t[q] != ')')
                break;
            q++;
            used_paren = true;
        }
        ones += n == 1;
        total += n;
        if (np < PHONE_MAX)
            pt[np] = (phone_part){(unsigned char)(n < 255 ? n : 255), sep, paren};
        np++;
        end = q;
        dash_or_dot = dash_or_dot || sep == '-' || sep == '.';
        /* What joins the next part: one separator, or nothing next to a
         * parenthesis.  A space no longer joins once '-' or '.' has: in
         * "555-123-4567 555-987-6543" that space is between two phones. */
        unsigned char c = q < len ? t[q] : 0;
        if (q + 1 < len && (c == '-' || c == '.' || (c == ' ' && !dash_or_dot)) &&
            (is_digit(t[q + 1]) || (t[q + 1] == '(' && !used_paren))) {
            sep = c;
            p = q + 1;
        } else if (q < len && ((paren && is_digit(c)) || (c == '(' && !used_paren))) {
            sep = 0;
            p = q;
        } else {
            break;
        }
    }
    if (np == 0)
        return 0;
    if (total > PHONE_MAX || ones > 2) {
        *too_long_end = end;
        return 0;
    }
    if (end < len) {
        unsigned char c = t[end];
        if (is_word(c))
            return 0;
        if ((c == '.' || c == ':' || c == '/') && end + 1 < len && is_digit(t[end + 1]))
            return 0; /* "...10:30", "12/05" */
    }
    return phone_shape_ok(pt, np, (int)total, plus) ? end : 0;
}

/* ---- The pass ----------------------------------------------------------- */

char *redact_text(const char *text, size_t len, redact_counts *counts)
{
    const unsigned char *t = (const unsigned char *)text;
    redact_counts c = {0, 0, 0};
    strbuf out = {0};
    size_t lit = 0;      /* start of bytes not yet copied */
    size_t run_end = 0;  /* local-part runs before this were tried as e-mail */
    size_t no_phone = 0; /* no phone starts before this (a too-long chain) */
    size_t i = 0;
    while (i < len) {
        unsigned char b = t[i];
        size_t end = 0;
        const char *mark = NULL;
        size_t from = i; /* where the replaced bytes start */
        if (i >= run_end && is_local(b)) {
            size_t run = i;
            while (run < len && is_local(t[run]))
                run++;
            run_end = run;
            size_t local = i;
            end = match_email(t, len, i, run, &local);
            if (end) {
                mark = "[email]";
                from = local;
                c.emails++;
            }
        }
        bool left_word = i > 0 && is_word(t[i - 1]);
        if (!end && is_digit(b) && !left_word) {
            end = match_card(t, len, i);
            if (end) {
                mark = "[card]";
                c.cards++;
            }
        }
        if (!end && i >= no_phone && (is_digit(b) || b == '+' || b == '(') &&
            phone_left_ok(t, i)) {
            end = match_phone(t, len, i, &no_phone);
            if (end) {
                mark = "[phone]";
                c.phones++;
            }
        }
        if (!end) {
            i++;
            continue;
        }
        sb_append(&out, t + lit, from - lit);
        sb_puts(&out, mark);
        lit = i = end;
    }
    if (counts)
        *counts = c;
    if (len == 0)
        return xstrdup("");
    sb_append(&out, t + lit, len - lit); /* also makes out.data non-NULL */
    return out.data;
}

int redact_total(const redact_counts *c)
{
    return c ? c->emails + c->phones + c->cards : 0;
}
