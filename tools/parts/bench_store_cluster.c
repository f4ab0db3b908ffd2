/*
 * bench_store_cluster.c — bench_store's throwaway PostgreSQL cluster (bench_store_cluster.h).
 */
#include "tools/parts/bench_store_cluster.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char cluster_dir[64];
static int guard_fd = -1;
static pid_t guard_pid = -1;

/* tools/pg_cluster.sh: --pg-cluster, else $FRONTDESK_PG_CLUSTER (as the
 * suites have it), else from the repository root (where make bench runs). */
const char *cluster_script(const char *given)
{
    const char *env = getenv("FRONTDESK_PG_CLUSTER");
    return given ? given : env && *env ? env : "tools/pg_cluster.sh";
}

/* Run `sh script cmd cluster_dir`, its standard output to fd out; its
 * exit status, or -1. */
static int run_script(const char *script, const char *cmd, int out)
{
    pid_t p = fork();
    if (p == 0) {
        if (out != 1) {
            dup2(out, 1);
            close(out);
        }
        execl("/bin/sh", "sh", script, cmd, cluster_dir, (char *)NULL);
        _exit(127);
    }
    int status;
    if (p < 0 || waitpid(p, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The guard owns the cluster: it starts it (the URL, then "ok" or
 * "failed", on report), waits for EOF on control (this process gone,
 * however it went), then stops it and removes its directory.  Start and
 * stop never overlap.  It ignores the terminal's signals, so that Ctrl-C
 * of the whole group still cleans up. */
static void guard_main(const char *script, int report, int control)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int rc = run_script(script, "start", report);
    if (write(report, rc == 0 ? "ok\n" : "failed\n", rc == 0 ? 3 : 7) < 0) {
        /* the bench is gone: stop at once */
    }
    close(report);
    char c;
    while (read(control, &c, 1) < 0 && errno == EINTR)
        ;
    int null = open("/dev/null", O_WRONLY);
    run_script(script, "stop", null >= 0 ? null : 1);
    rmdir(cluster_dir); /* when start failed before the cluster was made */
    _exit(0);
}

/* Start the cluster (through the guard); its maintenance URL into url.
 * -1 with err. */
int cluster_start(const char *script, char *url, size_t urllen, char *err, size_t errlen)
{
    snprintf(cluster_dir, sizeof cluster_dir, "/tmp/frontdesk-bench-pg-XXXXXX");
    if (!mkdtemp(cluster_dir)) {
        util_errf(err, errlen, "mkdtemp /tmp: %s", strerror(errno));
        return -1;
    }
    int control[2], report[2];
    if (pipe2(control, O_CLOEXEC) != 0 || pipe2(report, O_CLOEXEC) != 0) {
        util_errf(err, errlen, "pipe: %s", strerror(errno));
        rmdir(cluster_dir);
        return -1;
    }
    fprintf(stderr, "bench_store: PostgreSQL, a throwaway cluster in %s (%s) ...\n", cluster_dir, script);
    fflush(NULL);
    if ((guard_pid = fork()) < 0) {
        util_errf(err, errlen, "cannot start the cluster's guard: %s", strerror(errno));
        rmdir(cluster_dir);
        return -1;
    }
    if (guard_pid == 0) {
        close(control[1]);
        close(report[0]);
        guard_main(script, report[1], control[0]);
    }
    close(control[0]);
    close(report[1]);
    guard_fd = control[1];
    char buf[1024];
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof buf && ((r = read(report[0], buf + n, sizeof buf - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
        if (r > 0)
            n += (size_t)r;
    buf[n] = 0;
    close(report[0]);
    /* "URL\nok\n" */
    size_t line = strcspn(buf, "\n");
    if (strcmp(buf + line, "\nok\n") != 0) {
        util_errf(err, errlen, "%s start %s failed (its message above)", script, cluster_dir);
        return -1;
    }
    buf[line] = 0;
    if (strncmp(buf, "postgresql:///postgres?", 23) != 0 || line + 1 > urllen) {
        util_errf(err, errlen, "%s start printed no URL I know (\"%s\")", script, buf);
        return -1;
    }
    memcpy(url, buf, line + 1);
    return 0;
}

/* Stop it now and wait until it is gone. */
void cluster_stop(void)
{
    if (guard_fd < 0)
        return;
    close(guard_fd);
    guard_fd = -1;
    waitpid(guard_pid, NULL, 0);
}

/* A fresh database "frontdesk_bench" on the cluster; its URL into out. */
int cluster_create_database(const char *cluster_url, char *out, size_t outlen, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(cluster_url);
    if (PQstatus(c) != CONNECTION_OK) {
        util_errf(err, errlen, "connecting to %s: %s", cluster_url, PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    PGresult *r = PQexec(c, "CREATE DATABASE frontdesk_bench");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        util_errf(err, errlen, "CREATE DATABASE: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    util_errf(out, outlen, "postgresql:///frontdesk_bench?%s", cluster_url + 23);
    return ok ? 0 : -1;
}

/* In a forked child: let go of the guard's pipe without stopping the
 * cluster (only the bench itself keeps it up). */
void cluster_forget(void)
{
    if (guard_fd >= 0)
        close(guard_fd);
    guard_fd = -1;
}
