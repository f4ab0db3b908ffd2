/*
 * redact.h — privacy masking of customer text before it is stored or sent
 * to a model: e-mail addresses, phone numbers and payment-card numbers are
 * replaced by "[email]", "[phone]" and "[card]".
 *
 * It is a pattern matcher over bytes, not a PII detector: it knows nothing
 * of names, postal addresses, account numbers or context ("my order is
 * ..."), and it does not try to be reversible (no vault of originals).
 * Character classes are ASCII only, so UTF-8 text (accents, Chinese, emoji)
 * and invalid UTF-8 pass through byte for byte; a byte >= 0x80 counts as a
 * boundary, so "电话13800138000" still has its number masked.  Time is
 * linear in the input: every candidate is scanned a bounded number of times.
 *
 * The rules, tried left to right at each position, first match wins (so an
 * e-mail address beats a number inside it, and a card beats a phone):
 *
 * E-mail   local part of [A-Za-z0-9._%+-], taken maximal (the whole run
 *          before the '@'; leading dots of the run are left as text, a
 *          local part ending in '.' is no match), '@', then domain labels
 *          of [A-Za-z0-9-]+ separated by single dots, at least two labels,
 *          the last (the TLD) of >= 2 ASCII letters.  The domain is taken
 *          maximal; if its last label is not a TLD the match backs off to
 *          the last label that is ("a@b.com.123" -> "[email].123").  A
 *          trailing sentence dot is not taken.  Consecutive dots in the
 *          local part are accepted (looser than RFC 5322, on purpose:
 *          masking too much is the safe side); quoted local parts, IP
 *          literals and internationalised (non-ASCII) addresses are not
 *          recognised.
 *
 * Card     13-19 digits passing the Luhn check, not preceded or followed by
 *          a word character ([A-Za-z0-9_]): either one unbroken run, or
 *          groups joined by single spaces or hyphens and shaped like a
 *          printed card: a first group of 4, middle groups of 4-6, a last
 *          group of 1-6 (4-4-4-4, 4-6-5, 4-6-4, 4-4-4-4-3).  Groups are
 *          never split: the match is the longest run of whole groups from
 *          the first that qualifies, so "4111 1111 1111 1111 12" masks the
 *          first 16 digits and leaves " 12".  A run that fails Luhn is not
 *          a card ("4111 1111 1111 1112" stays: at 16 digits it is too long
 *          for a phone as well).
 *
 * Phone    optional '+', then parts of digits joined by a single space,
 *          hyphen or dot; one part may be in parentheses, and next to it
 *          the separator is optional ("+1 (555) 123-4567", "+1(555)1234567",
 *          "555-123-4567", "+44 20 7946 0958", "0171 555 0199").  Parts are
 *          taken greedily, except that once a hyphen or dot has joined two
 *          parts a space no longer joins ("555-123-4567 555-987-6543" is two
 *          phones).  The whole must hold 7-15 digits.  It must start after a
 *          non-word byte other than '#', '$' or '+', and not inside a number
 *          (right after one of ". : / -" that follows a digit); it must end
 *          before a non-word byte, and not before one of ". : /" followed
 *          by a digit ("... 10:30").  Rejected, so left as text:
 *            - a single unpunctuated run without '+' of fewer than 10
 *              digits (order numbers "1234567", years, "12345");
 *            - a chain of more than 15 digits or with more than two
 *              one-digit parts ("1 2 3 4 5 6 7"), and every phone that would
 *              start inside it (no "1111 1111 1112" phone inside
 *              "4111 1111 1111 1112");
 *            - dates: three parts with the same '-' or '.' separator shaped
 *              dddd-dd-dd or dd-dd-dddd, with one- or two-digit day and
 *              month ("2024-05-01", "01.05.2024", "1-05-2024");
 *            - with any '.' separator: fewer than three parts, a part not of
 *              2-4 digits ("19.99", "1.2.3", "1234567.89", "10.0.0.1"), IPv4
 *              shapes (four dot-joined parts of <= 3 digits,
 *              "192.168.100.200") and thousands groupings ("12.345.678").
 *          So prices, versions, times, dates, IPv4 addresses (deliberately
 *          not masked: they are not phones) and order numbers of up to 9
 *          digits are left alone.
 *
 * Known limits (false negatives and false positives):
 *   - a bare run of 10-15 digits is a phone even when it is an order or
 *     tracking number ("ticket 1234567890" -> "ticket [phone]"), and so is a
 *     space-grouped amount or list of 7-15 digits ("12 34 56 78"); ISBNs
 *     and similar hyphenated codes are usually masked;
 *   - two phones joined by one space that each use only spaces
 *     ("555 123 4567 555 987 6543") read as one over-long chain and are not
 *     masked; nor are phones with spaced separators ("555 - 1234"), letters
 *     ("1-800-FLOWERS"), fewer than 7 digits, or touching a letter
 *     ("5551234567abc"); extensions stay ("[phone] x89");
 *   - a card touching letters, with other separators ('.', '/', double
 *     spaces) or other groupings ("41 11 11 ...") is not masked; a
 *     Luhn-valid run that is no card (sixteen zeros, some ISBN-13s, by
 *     chance one in ten 13-19-digit runs, including the tail of a longer
 *     grouped number) is masked as one;
 *   - obfuscated or non-ASCII addresses ("john at example dot com",
 *     "été@example.com") are not masked; for "étienne@example.com" only the
 *     ASCII tail of the local part is replaced ("é[email]").
 *
 * An embedded NUL in the input is copied like any other byte, so the
 * result's strlen stops there: pass NUL-free text when the length matters.
 */
#ifndef FRONTDESK_REDACT_H
#define FRONTDESK_REDACT_H

#include <stddef.h>

typedef struct {
    int emails, phones, cards; /* replacements made, per kind */
} redact_counts;

/* Return a newly malloc'd copy of text[0..len) (NUL-terminated) with
 * e-mail addresses replaced by "[email]", phone numbers by "[phone]" and
 * payment-card numbers by "[card]", following the rules above; counts is
 * filled when not NULL.  text may be NULL when len is 0.  Never fails except
 * on out-of-memory, which aborts (xmalloc, util/util.h).  The caller frees
 * the result with free(). */
char *redact_text(const char *text, size_t len, redact_counts *counts);

/* emails + phones + cards; 0 for NULL. */
int redact_total(const redact_counts *c);

#endif
