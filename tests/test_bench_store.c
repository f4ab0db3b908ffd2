/*
 * test_bench_store.c — tools/bench_store (a step of `make bench`) at a
 * tiny size: it runs on both backends, fills the table, finds every
 * request counted once, and the throwaway PostgreSQL cluster it starts is
 * gone when it ends — also when it is killed (-9) half-way.  No figure is
 * checked: they are timings.
 */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bench_bin(void)
{
    const char *b = getenv("FRONTDESK_BUILD");
    return test_path(b ? b : "build", "tools/bench_store");
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The cluster directory the bench named on stderr ("... throwaway cluster
 * in DIR (...") into dir; false when it named none. */
static bool cluster_dir_of(const char *err, char *dir, size_t size)
{
    const char *p = strstr(err, "throwaway cluster in ");
    if (!p)
        return false;
    p += strlen("throwaway cluster in ");
    size_t n = strcspn(p, " \n");
    if (n == 0 || n >= size)
        return false;
    memcpy(dir, p, n);
    dir[n] = 0;
    return true;
}

/* The value cells of the table row that starts with name. */
static void row_cells(const char *out, const char *name, char *a, char *b, size_t size)
{
    const char *p = strstr(out, name);
    if (!p)
        fail_msg("no row \"%s\" in:\n%s", name, out);
    p += strlen(name);
    char fmt[32];
    snprintf(fmt, sizeof fmt, "%%%zus %%%zus", size - 1, size - 1);
    if (sscanf(p, fmt, a, b) != 2)
        fail_msg("row \"%s\" has not two cells:\n%s", name, out);
}

static void test_quick_both(void **state)
{
    (void)state;
    const char *argv[] = {bench_bin(), "--quick", "--requests", "300", "--writers", "8", "--replies", "4",
                          "--refreshes", "3", "--dir", test_tmpdir(), NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("bench_store exited %d\nstdout:\n%s\nstderr:\n%s", rc, o, e);
    char a[32], b[32];
    row_cells(o, "every request counted once", a, b, sizeof a);
    assert_string_equal(a, "yes");
    assert_string_equal(b, "yes");
    row_cells(o, "replies written by 1 writer", a, b, sizeof a);
    assert_string_equal(a, "4");
    assert_string_equal(b, "4");
    row_cells(o, "replies written by 8 writers", a, b, sizeof a);
    assert_string_equal(a, "32"); /* 8 writers x 4 replies */
    assert_string_equal(b, "32");
    row_cells(o, "failed writes / of them DB_BUSY", a, b, sizeof a);
    assert_string_equal(a, "0");
    const char *figures[] = {"dashboard refresh, 5 min window p50 (ms)", "dashboard refresh, 24 h window p95 (ms)",
                             "write load, 1 writer: replies/s", "write load, 8 writers: replies/s",
                             "one reply's write, 8 writers p95 (ms)"};
    for (size_t i = 0; i < sizeof figures / sizeof *figures; i++) {
        row_cells(o, figures[i], a, b, sizeof a);
        char *end;
        if (strtod(a, &end) <= 0 || *end || strtod(b, &end) <= 0 || *end)
            fail_msg("\"%s\": %s and %s, not two figures", figures[i], a, b);
    }
    char dir[256];
    assert_true(cluster_dir_of(e, dir, sizeof dir));
    if (exists(dir))
        fail_msg("the cluster's directory %s is still there", dir);
    free(o);
    free(e);
}

/* Killed half-way, the bench leaves no server behind: its guard stops it. */
static void test_killed(void **state)
{
    (void)state;
    const char *errpath = test_path(test_tmpdir(), "killed.err");
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) {
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);
        if (fd < 0 || null < 0)
            _exit(127);
        dup2(fd, 2);
        dup2(null, 1);
        execl(bench_bin(), bench_bin(), "--backend", "postgresql", "--requests", "200000", (char *)NULL);
        _exit(127);
    }
    char dir[256] = "", pidfile[300];
    for (int waited = 0; waited < 120000; waited += 100) {
        size_t len;
        char *err = exists(errpath) ? test_read_file(errpath, &len) : NULL;
        bool named = err && cluster_dir_of(err, dir, sizeof dir);
        free(err);
        if (named) {
            snprintf(pidfile, sizeof pidfile, "%s/data/postmaster.pid", dir);
            if (exists(pidfile))
                break;
        }
        sleep_ms(100);
    }
    if (!dir[0] || !exists(pidfile)) {
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        fail_msg("the bench started no server within 120 s");
    }
    assert_int_equal(kill(p, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(p, &status, 0), p);
    assert_true(WIFSIGNALED(status));
    int waited = 0;
    while (exists(dir) && waited < 60000) {
        sleep_ms(100);
        waited += 100;
    }
    if (exists(dir))
        fail_msg("60 s after the bench was killed its cluster %s is still there", dir);
}

static void test_usage(void **state)
{
    (void)state;
    const char *argv[] = {bench_bin(), "--writers", "0", NULL};
    char *o, *e;
    assert_int_equal(test_run(argv, NULL, 0, &o, &e), 2);
    assert_non_null(strstr(e, "--writers 0"));
    free(o);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_quick_both),
        cmocka_unit_test(test_killed),
    };
    return cmocka_run_group_tests_name("bench_store", tests, NULL, NULL);
}
