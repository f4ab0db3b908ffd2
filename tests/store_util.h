/*
 * store_util.h — what the suites that drive the frontdesk binary against
 * a store of their own share: running the binary, a fresh database path,
 * opening a store through the API, and SQL straight on the store (sqlite3
 * itself, or libpq on PostgreSQL, so what a suite checks does not come
 * from the code under test).
 *
 * Both backends: a suite that works through fresh_store() and the sql_*
 * helpers below runs on SQLite files, or, with
 * FRONTDESK_TEST_BACKEND=postgresql (tools/run_tests.sh runs such suites
 * a second time so, labelled "NAME [postgresql]"), on a new database of
 * the throwaway PostgreSQL server (tests/pg_util.h) for every store.  SQL
 * given to sql_* must then read the same in both dialects.
 */
#ifndef FRONTDESK_TESTS_STORE_UTIL_H
#define FRONTDESK_TESTS_STORE_UTIL_H

#include "storage/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct CMUnitTest;

/* Run the binary under test (test_bin) with args (NULL-terminated, at most
 * 38); its exit status, output in *out / *err (the caller frees; either
 * may be NULL to discard). */
int fd_run(char **out, char **err, const char *const *args);
#define RUN(out, err, ...) fd_run(out, err, (const char *const[]){__VA_ARGS__, NULL})

/* A path in the suite's temporary directory, with no file there. */
const char *fresh_db(const char *name);
/* db_open, failing the test with the message when it cannot. */
db *open_store(const char *path);
/* Run SQL on the store (sqlite3 on a file, libpq on a postgresql:// URL);
 * fails the test on an error. */
void sql_exec(const char *path, const char *sql);
/* The first column of the first row of sql's result as a number (0 for
 * NULL); fails the test on an error or when there is no row.  (Integers
 * and text, printf-style: sql_int and sql_text in serve_client.h.) */
double sql_num(const char *path, const char *sql);
/* The first row's columns (at most max) into out, as numbers (0 for NULL);
 * how many.  Fails the test as sql_num does. */
size_t sql_nums(const char *path, const char *sql, double *out, size_t max);
/* Every row's first column as text, in the order sql gives, joined by sep
 * ("(null)" for NULL; "" for no row; caller frees): group_concat, which
 * PostgreSQL spells otherwise. */
char *sql_join(const char *path, const char *sql, const char *sep);
/* The same on one connection kept open, for many queries in a row. */
typedef struct sql_conn sql_conn;
sql_conn *sql_connect(const char *path);
void sql_conn_exec(sql_conn *c, const char *sql);
size_t sql_conn_nums(sql_conn *c, const char *sql, double *out, size_t max);
void sql_disconnect(sql_conn *c); /* accepts NULL */

/* ---- Both backends --------------------------------------------------------- */

/* The model whose SHA-256 is 64 × digit (arch llama, Q8_0), named name,
 * its file `file`: db_model_use's id.  Fails the test on an error. */
int64_t store_model(db *d, char digit, const char *name, const char *file);

/* Whether this run is the PostgreSQL one (FRONTDESK_TEST_BACKEND=postgresql). */
bool store_on_pg(void);
/* A new, empty store: a path in the suite's temporary directory with no
 * database, WAL or shm file there; on PostgreSQL the URL of a new
 * database (valid until the suite ends). */
const char *fresh_store(const char *name);
/* cmocka_run_group_tests for a suite named name, passed through
 * test_exit(): on PostgreSQL named "name [postgresql]" and without the
 * tests named in sqlite_only (NULL-terminated; each suite says why: tests
 * of a file's bytes, or tests that touch no store and would only run
 * twice). */
int store_run_suite(const char *name, const struct CMUnitTest *tests, size_t n, const char *const *sqlite_only,
                    int (*setup)(void **), int (*teardown)(void **));

/* A storage call that must succeed. */
#define OK(d, call)                                                                                     \
    do {                                                                                                \
        db_status s_ = (call);                                                                          \
        if (s_ != DB_OK)                                                                                \
            fail_msg("%s = %d: %s", #call, s_, db_errmsg(d));                                           \
    } while (0)

#endif
