/*
 * testutil.h — shared helpers for the CMocka suites.
 *
 * Suites run from the repository root.  Reference data lives in ../shared
 * (not part of the repository); suites that need it call test_shared_dir()
 * and skip with a visible message when it is absent.
 */
#ifndef FRONTDESK_TESTUTIL_H
#define FRONTDESK_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

/* ---- Skipping ----------------------------------------------------------
 * A skip must never read as a pass.  Whatever a suite skips is said on
 * standard output ("SKIP reason") and appended, one line per reason, to
 * the file $FRONTDESK_SKIP_FILE names (tools/run_tests.sh sets it): a
 * suite that recorded a reason, or exited TEST_EXIT_SKIP, is reported
 * "SKIP name (reasons)", not PASS, even when everything it did run passed.
 */
#define TEST_EXIT_SKIP 77

/* Record (and print) why something is not tested. */
void test_skip_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Skip the current test with a reason (test_skip_note, then cmocka's skip()). */
#define test_skip(...)                                                                                     \
    do {                                                                                                   \
        test_skip_note(__VA_ARGS__);                                                                       \
        skip();                                                                                            \
    } while (0)
/* A suite that cannot run at all (no UTF-8 locale, ...): records the
 * reason and returns TEST_EXIT_SKIP for main to return. */
int test_skip_suite(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* What main returns after cmocka_run_group_tests: 1 when it counted a
 * failure, else TEST_EXIT_SKIP when a reason was recorded, else 0. */
int test_exit(int failures);

/* Path of the shared reference directory ($FRONTDESK_SHARED or ../shared),
 * or NULL (after recording the skip with test_skip_note) when absent. */
const char *test_shared_dir(void);

/* Join dir and name into a static-lifetime string (malloc'ed, leaked into a
 * small pool freed at exit). */
const char *test_path(const char *dir, const char *name);

/* splitmix64: the next number of the sequence whose state is *s. */
uint64_t test_splitmix64(uint64_t *s);

/* Read a whole file; fails the test when it cannot. Caller frees. */
char *test_read_file(const char *path, size_t *len);

/* text parsed as JSON (jansson); fails the test, quoting text, when it is
 * not.  Caller json_decref()s. */
json_t *test_json(const char *text);

/* The value of the Prometheus sample whose line is `series value` in text
 * (series: name{labels}, as exposed); fails the test when there is none. */
double test_prom_sample(const char *text, const char *series);

/* Path of the frontdesk binary under test ($FRONTDESK_BIN or build/frontdesk). */
const char *test_bin(void);

/* Run `argv` with `input` (len bytes) on stdin; capture stdout and stderr
 * (NUL-terminated, caller frees).  Returns the exit status (or 128+signal). */
int test_run(const char *const argv[], const char *input, size_t len,
             char **out, char **err);

/* A fresh temporary directory for this process (removed at exit). */
const char *test_tmpdir(void);

/* Golden frame text: fail, showing both, unless got equals want.  Frees
 * got.  To regenerate expectations, set FRONTDESK_GOLDEN_PRINT=1: every
 * golden is then printed as a C literal named `name` (with whether it
 * equals the frozen one) instead of compared, AND the process exits 1 at
 * the end whatever its tests reported, so a run with the variable left
 * set (by accident) can never pass. */
void test_expect_golden(const char *name, char *got, const char *want);
void test_print_literal(const char *name, const char *s);
/* ---- Screens as text (frame_to_text, tmux capture-pane) ----------------- */

/* The row (0-based) of text whose line starts with prefix, or -1. */
int test_row_of(const char *text, const char *prefix);
/* Row `row` of text, without its newline (static buffer, valid until the
 * next call); fails the test when there is no such row. */
const char *test_row(const char *text, int row);
/* Fail unless the first row starting with prefix contains each of
 * words[] (NULL-terminated), in that order. */
void test_expect_row(const char *text, const char *prefix, const char *const *words);
#define TEST_EXPECT_ROW(text, prefix, ...) test_expect_row(text, prefix, (const char *const[]){__VA_ARGS__, NULL})

/* Fail if frame text holds a raw control character (all must be escaped). */
void test_assert_no_controls(const char *s);

#endif
