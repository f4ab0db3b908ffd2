/*
 * pg_util.c — the throwaway PostgreSQL server, for the suites (pg_util.h).
 *
 * Databases are made and dropped with libpq on the cluster's maintenance
 * database; the server is stopped and started by tools/pg_cluster.sh,
 * which knows whose it is (the postgres user's when the tests run as
 * root) and how it was started.
 */
#include "tests/pg_util.h"

#include "tests/testutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *pg_test_url(void)
{
    const char *url = getenv("FRONTDESK_TEST_PG");
    if (!url || !*url)
        fail_msg("FRONTDESK_TEST_PG is not set, so there is no PostgreSQL server to test against: run "
                 "the suite through tools/run_tests.sh (make test), which starts a throwaway cluster, or "
                 "start one with tools/pg_cluster.sh start DIR and export FRONTDESK_TEST_PG (its URL), "
                 "FRONTDESK_TEST_PG_DIR=DIR and FRONTDESK_TEST_PG_DATA=DIR/data");
    return url;
}

/* url with its database name (the path after the authority) replaced by
 * name; malloc'ed.  postgresql:///postgres?host=... and
 * postgresql://%2Ftmp%2Fd:5432/postgres are both handled. */
static char *url_with_db(const char *url, const char *name)
{
    const char *scheme = strstr(url, "://");
    if (!scheme)
        fail_msg("FRONTDESK_TEST_PG=%s: not a postgresql:// URL", url);
    const char *path = strchr(scheme + 3, '/');
    const char *q = strchr(scheme + 3, '?');
    if (!path || (q && q < path)) /* no database in the URL: add one */
        path = q ? q : url + strlen(url);
    const char *rest = path;
    if (*rest == '/')
        rest += strcspn(rest, "?");
    size_t n = (size_t)(path - url) + 1 + strlen(name) + strlen(rest) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s/%s%s", (int)(path - url), url, name, rest);
    return out;
}

PGconn *pg_test_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (!c)
        fail_msg("PQconnectdb(%s): out of memory", url);
    if (PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(c);
        fail_msg("cannot connect to %s: %s", url, msg);
    }
    return c;
}

void pg_test_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    PQclear(r);
}

char *pg_test_value(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
        msg[strcspn(msg, "\n")] = '\0';
        PQclear(r);
        fail_msg("%s: %s", sql, msg);
    }
    if (PQntuples(r) < 1 || PQnfields(r) < 1) {
        PQclear(r);
        fail_msg("%s: no row", sql);
    }
    char *v = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Notices (DROP DATABASE IF EXISTS of one already gone) are not news. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A session on the maintenance database, without notices. */
static PGconn *maintenance(void)
{
    PGconn *c = pg_test_connect(pg_test_url());
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

char *pg_test_new_db(const char *label)
{
    static unsigned counter;
    char clean[32];
    size_t n = 0;
    for (const char *p = label ? label : ""; *p && n < sizeof clean - 1; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) || ch == '_')
            clean[n++] = (char)tolower(ch);
    }
    clean[n] = '\0';
    /* At most 3 + 31 + 1 + 10 + 1 + 10 bytes: within PostgreSQL's 63. */
    char name[64];
    snprintf(name, sizeof name, "fd_%s_%ld_%u", clean, (long)getpid(), ++counter);

    PGconn *c = maintenance();
    char sql[128];
    /* FILE_COPY (PostgreSQL 15 on) copies template1's few files instead of
     * logging every block: a fifth of a second less per database on the
     * busy 2-core machine, with fsync off nothing to wait for. */
    snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"%s", name,
             PQserverVersion(c) >= 150000 ? " STRATEGY FILE_COPY" : "");
    pg_test_exec(c, sql);
    PQfinish(c);
    return url_with_db(pg_test_url(), name);
}

void pg_test_drop_db(const char *url)
{
    if (!url)
        return;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &err);
    if (!opts) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", err ? err : "out of memory");
        PQfreemem(err);
        fail_msg("pg_test_drop_db: %s: %s", url, msg);
    }
    char name[64] = "";
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "dbname") == 0 && o->val)
            snprintf(name, sizeof name, "%s", o->val);
    PQconninfoFree(opts);
    if (!name[0] || strcmp(name, "postgres") == 0 || strchr(name, '"'))
        fail_msg("pg_test_drop_db: %s names no database of pg_test_new_db's", url);

    PGconn *c = maintenance();
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
    pg_test_exec(c, sql);
    PQfinish(c);
}

/* tools/pg_cluster.sh cmd $FRONTDESK_TEST_PG_DIR: 0, or -1 after printing
 * its error.  The child keeps none of this process's descriptors beyond
 * 0-2 (a server it starts lives on and must not hold a test's pipes). */
static int cluster(const char *cmd)
{
    const char *dir = getenv("FRONTDESK_TEST_PG_DIR");
    const char *script = getenv("FRONTDESK_PG_CLUSTER");
    if (!script || !*script)
        script = "tools/pg_cluster.sh";
    if (!dir || !*dir) {
        fprintf(stderr, "pg_test %s: FRONTDESK_TEST_PG_DIR is not set (tools/run_tests.sh sets it)\n", cmd);
        return -1;
    }
    int e[2];
    if (pipe(e) != 0) {
        fprintf(stderr, "pg_test %s: pipe: %s\n", cmd, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "pg_test %s: fork: %s\n", cmd, strerror(errno));
        close(e[0]);
        close(e[1]);
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        dup2(e[1], 2);
        closefrom(3);
        execl("/bin/sh", "sh", script, cmd, dir, (char *)NULL);
        _exit(127);
    }
    close(e[1]);
    char msg[1024];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(e[0], msg + len, sizeof msg - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof msg - 1) { /* keep the beginning, drain the rest */
            char sink[256];
            while (read(e[0], sink, sizeof sink) > 0) {
            }
            break;
        }
    }
    msg[len] = '\0';
    close(e[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "pg_test %s: waitpid: %s\n", cmd, strerror(errno));
            return -1;
        }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    msg[strcspn(msg, "\n")] = '\0';
    fprintf(stderr, "pg_test %s: %s %s %s failed (%s %d): %s\n", cmd, script, cmd, dir,
            WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
            len ? msg : "no message");
    return -1;
}

int pg_test_restart(void) { return cluster("restart"); }
int pg_test_stop(void) { return cluster("down"); }
int pg_test_start(void) { return cluster("up"); }

/* ---- A cluster of the caller's own ------------------------------------------------ */

static char own_dir[512];
static char *shared_url, *shared_dir, *shared_data;

static const char *cluster_script(void)
{
    const char *s = getenv("FRONTDESK_PG_CLUSTER");
    return s && *s ? s : "tools/pg_cluster.sh";
}

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v ? strdup(v) : NULL;
}

static void put_env(const char *name, const char *v)
{
    if (v)
        setenv(name, v, 1);
    else
        unsetenv(name);
}

int pg_test_own_cluster_begin(void)
{
    if (!getenv("FRONTDESK_TEST_PG") || *own_dir)
        return 0;
    char cmd[1024], url[1024] = "";
    snprintf(cmd, sizeof cmd, "'%s' start", cluster_script());
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(url, sizeof url, p)) {
        if (p)
            pclose(p);
        fprintf(stderr, "pg_test: %s gave no URL\n", cmd);
        return -1;
    }
    if (pclose(p) != 0) {
        fprintf(stderr, "pg_test: %s failed\n", cmd);
        return -1;
    }
    url[strcspn(url, "\n")] = 0;
    const char *h = strstr(url, "host=");
    if (!h) {
        fprintf(stderr, "pg_test: %s printed %s, without host=DIR\n", cmd, url);
        return -1;
    }
    snprintf(own_dir, sizeof own_dir, "%.*s", (int)strcspn(h + 5, "&"), h + 5);
    char data[600];
    snprintf(data, sizeof data, "%s/data", own_dir);
    shared_url = dup_env("FRONTDESK_TEST_PG");
    shared_dir = dup_env("FRONTDESK_TEST_PG_DIR");
    shared_data = dup_env("FRONTDESK_TEST_PG_DATA");
    setenv("FRONTDESK_TEST_PG", url, 1);
    setenv("FRONTDESK_TEST_PG_DIR", own_dir, 1);
    setenv("FRONTDESK_TEST_PG_DATA", data, 1);
    return 0;
}

int pg_test_own_cluster_end(void)
{
    if (!*own_dir)
        return 0;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' stop '%s' >/dev/null", cluster_script(), own_dir);
    int rc = system(cmd) == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "pg_test: %s failed\n", cmd);
    *own_dir = 0;
    put_env("FRONTDESK_TEST_PG", shared_url);
    put_env("FRONTDESK_TEST_PG_DIR", shared_dir);
    put_env("FRONTDESK_TEST_PG_DATA", shared_data);
    free(shared_url);
    free(shared_dir);
    free(shared_data);
    shared_url = shared_dir = shared_data = NULL;
    return rc;
}

int pg_test_own_setup(void **state)
{
    (void)state;
    return pg_test_own_cluster_begin();
}

int pg_test_own_teardown(void **state)
{
    (void)state;
    return pg_test_own_cluster_end();
}
