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

/* Path of the shared reference directory ($FRONTDESK_SHARED or ../shared),
 * or NULL (after printing "SKIP ... ../shared not found") when absent. */
const char *test_shared_dir(void);

/* Join dir and name into a static-lifetime string (malloc'ed, leaked into a
 * small pool freed at exit). */
const char *test_path(const char *dir, const char *name);

/* Read a whole file; fails the test when it cannot. Caller frees. */
char *test_read_file(const char *path, size_t *len);

/* Path of the frontdesk binary under test ($FRONTDESK_BIN or build/frontdesk). */
const char *test_bin(void);

/* Run `argv` with `input` (len bytes) on stdin; capture stdout and stderr
 * (NUL-terminated, caller frees).  Returns the exit status (or 128+signal). */
int test_run(const char *const argv[], const char *input, size_t len,
             char **out, char **err);

/* A fresh temporary directory for this process (removed at exit). */
const char *test_tmpdir(void);

/* Golden frame text: with FRONTDESK_GOLDEN_PRINT set, print `got` as a C
 * literal named `name` (to regenerate the expectation) instead of
 * comparing; otherwise fail, showing both, unless got equals want.  Frees
 * got. */
void test_expect_golden(const char *name, char *got, const char *want);
void test_print_literal(const char *name, const char *s);
/* Fail if frame text holds a raw control character (all must be escaped). */
void test_assert_no_controls(const char *s);

#endif
