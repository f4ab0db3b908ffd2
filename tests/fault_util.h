/*
 * fault_util.h — what tests/test_faults.c needs besides the fault VFS:
 * running a cmd_* function in-process as main would (stdout and stderr to
 * files), reading a store through sqlite3 itself on the unix VFS (never
 * the code under test, never the fault VFS), and small file helpers.
 * Failures of the helpers themselves fail the test (cmocka).
 */
#ifndef FRONTDESK_TESTS_FAULT_UTIL_H
#define FRONTDESK_TESTS_FAULT_UTIL_H

#include <sqlite3.h>

/* vasprintf that aborts when out of memory; the caller frees. */
char *fu_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy a file byte for byte; remove a database with its -wal, -shm and
 * -journal. */
void fu_copy_file(const char *from, const char *to);
void fu_remove_store(const char *path);
/* Open descriptors other than sockets; lines (newlines) in s. */
int fu_count_fds(void);
int fu_count_lines(const char *s);

/* The file at path through sqlite3 on the unix VFS; NULL when it does
 * not open. */
sqlite3 *fu_raw_open(const char *path);
/* The rows of every statement in sql: columns '|'-separated, a row per
 * line, "--" after each statement; an error reads "ERROR ...".  The
 * caller frees.  fu_digest opens and closes path for it. */
char *fu_digest_conn(sqlite3 *raw, const char *sql);
char *fu_digest(const char *path, const char *sql);
/* The first column of the first row as a number (-1: cannot open). */
long fu_scalar(sqlite3 *raw, const char *sql);
long fu_scalar_at(const char *path, const char *sql);

/* Run cmd(argc, argv) with a copy of args (NULL-terminated; getopt
 * permutes them) as main would, optind reset, stdout and stderr going to
 * files; the exit status, and stderr's text in *err (the caller frees). */
int fu_run_cmd(int (*cmd)(int, char **), const char *const *args, char **err);
#define FU_CMD(fn, err, ...) fu_run_cmd(fn, (const char *const[]){__VA_ARGS__, NULL}, err)

#endif
