/*
 * pg_util.h — the throwaway PostgreSQL server, for the suites.
 *
 * tools/run_tests.sh (make test, make asan) starts one cluster before any
 * suite (tools/pg_cluster.sh: Unix socket only, trust authentication, a
 * superuser role for the user running the tests, pg_trgm in template1)
 * and stops it at the end.  Suites find it through the environment:
 *
 *   FRONTDESK_TEST_PG       its URL, postgresql:///postgres?host=DIR&port=5432
 *   FRONTDESK_TEST_PG_DIR   DIR, the socket directory (tools/pg_cluster.sh's)
 *   FRONTDESK_TEST_PG_DATA  the data directory, DIR/data
 *   FRONTDESK_PG_CLUSTER    the script (else tools/pg_cluster.sh, from the
 *                           repository root where the suites run)
 *
 * Without FRONTDESK_TEST_PG a test that needs the server FAILS (it never
 * skips): run the suite through tools/run_tests.sh, or start a cluster by
 * hand (tools/pg_cluster.sh start DIR) and export the three variables.
 *
 * Each test works in a database of its own (pg_test_new_db), so suites and
 * tests never see each other's rows; every new database has pg_trgm.
 * libpq is used directly here, which only tests/ and storage/ may do.
 */
#ifndef FRONTDESK_PG_UTIL_H
#define FRONTDESK_PG_UTIL_H

#include <libpq-fe.h>

/* The cluster's URL (the maintenance database "postgres"): the
 * environment's string, not to be freed.  Fails the test when
 * FRONTDESK_TEST_PG is unset. */
const char *pg_test_url(void);

/* A fresh, empty database (from template1, so with pg_trgm) named after
 * label (letters, digits and '_' kept, lowercased), this process and a
 * counter; returns its URL (the cluster's URL with the database's name in
 * place of "postgres"; caller frees).  Fails the test when it cannot. */
char *pg_test_new_db(const char *label);

/* Drop the database url names (closing its other sessions first); NULL
 * and a database already gone are fine.  Fails the test on other errors. */
void pg_test_drop_db(const char *url);

/* Connect to url; fails the test with libpq's message when it cannot.
 * Caller PQfinish'es. */
PGconn *pg_test_connect(const char *url);

/* Run sql (no rows expected); fails the test, naming sql, on an error. */
void pg_test_exec(PGconn *c, const char *sql);

/* The first column of the first row of sql's result (NULL for SQL NULL;
 * caller frees); fails the test on an error or when there is no row. */
char *pg_test_value(PGconn *c, const char *sql);

/* The server itself, through tools/pg_cluster.sh (as the cluster's owner,
 * the postgres user, when root).  Each waits until the server has done
 * it (pg_ctl -w): restart is pg_ctl restart -m fast; stop is pg_ctl stop
 * -m fast with the data kept, so start brings back the same databases.
 * Every session open at the time is cut.  Return 0, or -1 after printing
 * why on standard error (they may be called off a test's main thread, so
 * they do not fail the test themselves: assert their result). */
int pg_test_restart(void);
int pg_test_stop(void);
int pg_test_start(void);

/* A cluster of the caller's own, for tests that stop or restart the
 * server: tools/run_tests.sh runs several suites at once on its one
 * cluster, whose other users must not see it go.  Begin starts one with
 * tools/pg_cluster.sh and points FRONTDESK_TEST_PG, _DIR and _DATA at it
 * (pg_test_restart/stop/start then act on it); end stops and removes it
 * and points them back.  Without FRONTDESK_TEST_PG nothing is started (the
 * tests then fail as pg_test_url says).  Return 0, or -1 after printing
 * why on standard error.  Usable as a CMocka group setup/teardown through
 * pg_test_own_setup / pg_test_own_teardown. */
int pg_test_own_cluster_begin(void);
int pg_test_own_cluster_end(void);
int pg_test_own_setup(void **state);
int pg_test_own_teardown(void **state);

#endif
