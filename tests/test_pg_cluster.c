/*
 * test_pg_cluster.c — the throwaway PostgreSQL server the suites use is a
 * real one, and only reachable the way tools/pg_cluster.sh promises.
 *
 * The server comes from tools/run_tests.sh (FRONTDESK_TEST_PG; see
 * tests/pg_util.h).  Without it every test here FAILS: a machine where
 * make deps ran can run PostgreSQL, so a missing server is a fault, not a
 * reason to skip.  Checked, each against something outside the code under
 * test: the connection goes through the Unix socket in FRONTDESK_TEST_PG_DIR
 * (the server sees no client address) as a role named after this process's
 * user; the postmaster (its pid from postmaster.pid) holds no TCP socket
 * in the kernel's tables (/proc/net/tcp, tcp6) and holds the socket file;
 * a new database has pg_trgm (the trigrams PostgreSQL's manual gives for
 * "cat"); two new databases are two; a dropped one is gone; a restart
 * gives a new server (later start time, old sessions cut) that keeps the
 * data and takes new connections; a stopped server refuses, and is back
 * with its data when started again.
 */
#include "tests/testutil.h"

#include "tests/pg_util.h"

#include <dirent.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------ */

static const char *env_or_fail(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fail_msg("%s is not set (tools/run_tests.sh sets it with the cluster)", name);
    return v;
}

/* The postmaster's pid: the first line of DATA/postmaster.pid. */
static long postmaster_pid(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/postmaster.pid", env_or_fail("FRONTDESK_TEST_PG_DATA"));
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s: is the server up?", path);
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0)
        pid = 0;
    fclose(f);
    if (!pid)
        fail_msg("%s holds no pid", path);
    return pid;
}

/* The socket inodes process pid holds (/proc/PID/fd/ * -> socket:[N]). */
static size_t socket_inodes(long pid, unsigned long *out, size_t cap)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot list %s", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        char link[320], target[128];
        snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        unsigned long ino;
        if (sscanf(target, "socket:[%lu]", &ino) == 1)
            out[n++] = ino;
    }
    closedir(d);
    return n;
}

static int holds(const unsigned long *inodes, size_t n, unsigned long ino)
{
    for (size_t i = 0; i < n; i++)
        if (inodes[i] == ino)
            return 1;
    return 0;
}

/* How many of inodes are TCP sockets in the kernel's table file (any
 * state: listening or not, the server should have none). */
static int tcp_sockets(const char *table, const unsigned long *inodes, size_t n)
{
    FILE *f = fopen(table, "r");
    if (!f)
        return 0; /* no IPv6 here: no tcp6 sockets either */
    char line[512];
    int found = 0;
    if (!fgets(line, sizeof line, f)) { /* the header */
        fclose(f);
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
        unsigned long ino;
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %lu", &ino) == 1 && holds(inodes, n, ino))
            found++;
    }
    fclose(f);
    return found;
}

/* Whether one of inodes is the Unix socket bound to path. */
static int unix_socket_at(const char *path, const unsigned long *inodes, size_t n)
{
    FILE *f = fopen("/proc/net/unix", "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        /* Num RefCount Protocol Flags Type St Inode Path */
        unsigned long ino;
        char p[768];
        if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %767s", &ino, p) == 2 && strcmp(p, path) == 0 &&
            holds(inodes, n, ino))
            found = 1;
    }
    fclose(f);
    return found;
}

/* Whether a connection to url can be made at all. */
static int can_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    int ok = c && PQstatus(c) == CONNECTION_OK;
    PQfinish(c);
    return ok;
}

/* ---- The server and the way to it ------------------------------------- */

static void test_socket_connection(void **state)
{
    (void)state;
    PGconn *c = pg_test_connect(pg_test_url());
    const char *dir = env_or_fail("FRONTDESK_TEST_PG_DIR");
    /* libpq took the socket directory as its host... */
    assert_string_equal(PQhost(c), dir);
    /* ...and the server saw no client address: a Unix-socket session. */
    char *addr = pg_test_value(c, "SELECT inet_server_addr()");
    if (addr)
        fail_msg("connected over TCP (server address %s), not the socket in %s", addr, dir);
    char *sockdirs = pg_test_value(c, "SHOW unix_socket_directories");
    assert_string_equal(sockdirs, dir);
    /* As a role named after this process's user (root gets one made). */
    struct passwd *pw = getpwuid(geteuid());
    assert_non_null(pw);
    char *user = pg_test_value(c, "SELECT current_user");
    assert_string_equal(user, pw->pw_name);
    char *super = pg_test_value(c, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user");
    assert_string_equal(super, "t");
    char *enc = pg_test_value(c, "SHOW server_encoding");
    assert_string_equal(enc, "UTF8");
    free(addr);
    free(sockdirs);
    free(user);
    free(super);
    free(enc);
    PQfinish(c);
}

static void test_no_tcp(void **state)
{
    (void)state;
    PGconn *c = pg_test_connect(pg_test_url());
    char *listen = pg_test_value(c, "SHOW listen_addresses");
    assert_string_equal(listen, "");
    free(listen);
    PQfinish(c);

    /* What the kernel says the postmaster holds. */
    long pid = postmaster_pid();
    unsigned long inodes[256];
    size_t n = socket_inodes(pid, inodes, 256);
    int tcp = tcp_sockets("/proc/net/tcp", inodes, n) + tcp_sockets("/proc/net/tcp6", inodes, n);
    if (tcp)
        fail_msg("the postmaster (pid %ld) holds %d TCP socket(s)", pid, tcp);
    char path[512];
    snprintf(path, sizeof path, "%s/.s.PGSQL.5432", env_or_fail("FRONTDESK_TEST_PG_DIR"));
    if (!unix_socket_at(path, inodes, n))
        fail_msg("the postmaster (pid %ld) does not hold the socket %s", pid, path);
}

/* ---- Databases --------------------------------------------------------- */

static void test_new_db_has_pg_trgm(void **state)
{
    (void)state;
    char *url = pg_test_new_db("trgm");
    PGconn *c = pg_test_connect(url);
    char *ext = pg_test_value(c, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'");
    assert_string_equal(ext, "1");
    /* The manual's example: the trigrams of "cat". */
    char *trgm = pg_test_value(c, "SELECT show_trgm('cat')::text");
    assert_string_equal(trgm, "{\"  c\",\" ca\",\"at \",cat}");
    /* And the index kind search will use. */
    pg_test_exec(c, "CREATE TABLE t (body text)");
    pg_test_exec(c, "CREATE INDEX t_trgm ON t USING gin (body gin_trgm_ops)");
    pg_test_exec(c, "INSERT INTO t VALUES ('my order never arrived'), ('refund please')");
    char *hit = pg_test_value(c, "SELECT body FROM t WHERE body ILIKE '%ORDER never%'");
    assert_string_equal(hit, "my order never arrived");
    free(ext);
    free(trgm);
    free(hit);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

static void test_new_dbs_are_distinct(void **state)
{
    (void)state;
    char *a = pg_test_new_db("Two Of/Them"), *b = pg_test_new_db("Two Of/Them");
    assert_string_not_equal(a, b);
    PGconn *ca = pg_test_connect(a), *cb = pg_test_connect(b);
    char *na = pg_test_value(ca, "SELECT current_database()");
    char *nb = pg_test_value(cb, "SELECT current_database()");
    assert_string_not_equal(na, nb);
    assert_non_null(strstr(na, "twoofthem"));
    /* The URL names the database it reaches. */
    assert_non_null(strstr(a, na));
    pg_test_exec(ca, "CREATE TABLE only_in_a (x int)");
    char *in_b = pg_test_value(cb, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'");
    assert_string_equal(in_b, "0");
    char *in_a = pg_test_value(ca, "SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'");
    assert_string_equal(in_a, "1");
    /* Dropping one closes its sessions and leaves the other alone. */
    pg_test_drop_db(a);
    assert_false(can_connect(a));
    assert_true(can_connect(b));
    pg_test_drop_db(a); /* already gone: fine */
    pg_test_drop_db(NULL);
    free(na);
    free(nb);
    free(in_a);
    free(in_b);
    PQfinish(ca);
    PQfinish(cb);
    pg_test_drop_db(b);
    assert_false(can_connect(b));
    free(a);
    free(b);
}

/* ---- Restarting and stopping --------------------------------------------- */

static void test_restart(void **state)
{
    (void)state;
    char *url = pg_test_new_db("restart");
    PGconn *c = pg_test_connect(url);
    pg_test_exec(c, "CREATE TABLE kept (x int)");
    pg_test_exec(c, "INSERT INTO kept VALUES (42)");
    char *before = pg_test_value(c, "SELECT pg_postmaster_start_time()::text");
    long pid_before = postmaster_pid();

    assert_int_equal(pg_test_restart(), 0);

    /* The old session is cut... */
    PGresult *r = PQexec(c, "SELECT 1");
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
    /* ...a new one reaches a new server, with the data. */
    c = pg_test_connect(url);
    char *after = pg_test_value(c, "SELECT pg_postmaster_start_time()::text");
    assert_string_not_equal(before, after);
    char cmp[256];
    snprintf(cmp, sizeof cmp, "SELECT '%s'::timestamptz > '%s'::timestamptz", after, before);
    char *newer = pg_test_value(c, cmp);
    assert_string_equal(newer, "t");
    assert_int_not_equal(postmaster_pid(), pid_before);
    char *x = pg_test_value(c, "SELECT x FROM kept");
    assert_string_equal(x, "42");
    free(before);
    free(after);
    free(newer);
    free(x);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

static void test_stop_start(void **state)
{
    (void)state;
    char *url = pg_test_new_db("stopstart");
    PGconn *c = pg_test_connect(url);
    pg_test_exec(c, "CREATE TABLE kept (x int)");
    pg_test_exec(c, "INSERT INTO kept VALUES (7)");
    PQfinish(c);

    assert_int_equal(pg_test_stop(), 0);
    int refused = !can_connect(url);
    /* Started again before any assertion, so a failure here does not
     * leave the later suites without a server. */
    assert_int_equal(pg_test_start(), 0);
    assert_true(refused);

    c = pg_test_connect(url);
    char *x = pg_test_value(c, "SELECT x FROM kept");
    assert_string_equal(x, "7");
    free(x);
    PQfinish(c);
    pg_test_drop_db(url);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_connection),
        cmocka_unit_test(test_no_tcp),
        cmocka_unit_test(test_new_db_has_pg_trgm),
        cmocka_unit_test(test_new_dbs_are_distinct),
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_stop_start),
    };
    /* its own cluster: these tests restart and stop the server, and other
     * suites run beside this one on the shared one (tests/pg_util.h) */
    return test_exit(cmocka_run_group_tests(tests, pg_test_own_setup, pg_test_own_teardown));
}
