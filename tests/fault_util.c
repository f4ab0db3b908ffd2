/*
 * fault_util.c — see fault_util.h.
 */
#include "fault_util.h"

#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *fu_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

void fu_copy_file(const char *from, const char *to)
{
    size_t n;
    char *data = test_read_file(from, &n);
    FILE *f = fopen(to, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(data);
}

void fu_remove_store(const char *path)
{
    char *p;
    unlink(path);
    unlink(p = fu_printf("%s-wal", path)), free(p);
    unlink(p = fu_printf("%s-shm", path)), free(p);
    unlink(p = fu_printf("%s-journal", path)), free(p);
}

/* Open descriptors other than sockets (the test server's thread closes
 * its side of a connection when it likes). */
int fu_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char link[300], target[64];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        n += e->d_name[0] != '.' && len > 0 && strncmp(target, "socket:", 7);
    }
    if (d)
        closedir(d);
    return n;
}

int fu_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Rows of every statement in sql on raw: columns '|'-separated, a row per
 * line, "--" after each statement; an error reads "ERROR ..." (never equal
 * to a fu_digest of rows). */
char *fu_digest_conn(sqlite3 *raw, const char *sql)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    const char *tail = sql;
    int rc = SQLITE_OK;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        if ((rc = sqlite3_prepare_v2(raw, tail, -1, &st, &tail)) != SQLITE_OK || !st)
            break;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *t = sqlite3_column_text(st, c);
                fprintf(out, "%s%s", c ? "|" : "", t ? (const char *)t : "NULL");
            }
            fputc('\n', out);
        }
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_finalize(st);
        if (rc != SQLITE_OK)
            break;
        fputs("--\n", out);
    }
    if (rc != SQLITE_OK)
        fprintf(out, "ERROR %s", sqlite3_errmsg(raw));
    fclose(out);
    return buf;
}

/* The file at path through sqlite3 on the unix VFS (not the code under
 * test, not the fault VFS); NULL when it does not open. */
sqlite3 *fu_raw_open(const char *path)
{
    sqlite3 *raw = NULL;
    if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, "unix") != SQLITE_OK) {
        sqlite3_close(raw);
        return NULL;
    }
    return raw;
}

char *fu_digest(const char *path, const char *sql)
{
    sqlite3 *raw = fu_raw_open(path);
    char *s = raw ? fu_digest_conn(raw, sql) : fu_printf("ERROR cannot open %s", path);
    sqlite3_close(raw);
    return s;
}

long fu_scalar(sqlite3 *raw, const char *sql)
{
    char *s = fu_digest_conn(raw, sql);
    long v = strtol(s, NULL, 10);
    free(s);
    return v;
}

long fu_scalar_at(const char *path, const char *sql)
{
    sqlite3 *raw = fu_raw_open(path);
    long v = raw ? fu_scalar(raw, sql) : -1;
    sqlite3_close(raw);
    return v;
}

/* Run a cmd_* function as main would, with a copy of args (getopt permutes
 * them), stdout and stderr going to files; stderr's text in *err. */
int fu_run_cmd(int (*cmd)(int, char **), const char *const *args, char **err)
{
    char *argv[40];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    static const char *out_path, *err_path;
    if (!out_path) {
        out_path = test_path(test_tmpdir(), "cmd.out");
        err_path = test_path(test_tmpdir(), "cmd.err");
    }
    fflush(stdout);
    fflush(stderr);
    int saved1 = dup(1), saved2 = dup(2);
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    optind = 0; /* GNU getopt: start over */
    int rc = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved1, 1);
    dup2(saved2, 2);
    close(saved1);
    close(saved2);
    *err = test_read_file(err_path, NULL);
    return rc;
}
