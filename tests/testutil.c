/*
 * testutil.c — see testutil.h.
 */
#include "tests/testutil.h"

#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL_MAX 4096
static char *pool[POOL_MAX];
static size_t pool_n;
static char tmpdir[256];

static void cleanup(void)
{
    for (size_t i = 0; i < pool_n; i++)
        free(pool[i]);
    pool_n = 0;
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "warning: could not remove %s\n", tmpdir);
        tmpdir[0] = '\0';
    }
}

static const char *keep(char *s)
{
    static int registered;
    if (!registered) {
        atexit(cleanup);
        registered = 1;
    }
    if (pool_n == POOL_MAX) {
        fprintf(stderr, "testutil: path pool exhausted\n");
        abort();
    }
    pool[pool_n++] = s;
    return s;
}

const char *test_shared_dir(void)
{
    static int checked;
    static const char *dir;
    if (checked)
        return dir;
    checked = 1;
    const char *env = getenv("FRONTDESK_SHARED");
    const char *cand = env && *env ? env : "../shared";
    struct stat st;
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/ref", cand);
    if (stat(probe, &st) == 0 && S_ISDIR(st.st_mode))
        dir = cand;
    else
        test_skip_note("%s not found (reference data): the tests that need it are skipped", cand);
    return dir;
}

/* ---- Skipping --------------------------------------------------------------- */

static int skips;

static void skip_vnote(const char *fmt, va_list ap)
{
    char msg[600];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    printf("SKIP %s\n", msg);
    fflush(stdout);
    skips++;
    const char *file = getenv("FRONTDESK_SKIP_FILE");
    if (file && *file) {
        FILE *f = fopen(file, "a");
        if (f) {
            fprintf(f, "%s\n", msg);
            fclose(f);
        }
    }
}

void test_skip_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    skip_vnote(fmt, ap);
    va_end(ap);
}

int test_skip_suite(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    skip_vnote(fmt, ap);
    va_end(ap);
    return TEST_EXIT_SKIP;
}

int test_exit(int failures)
{
    /* 1, not the count: 77 failures must not read as a skip, nor 256 as a pass */
    return failures ? 1 : skips ? TEST_EXIT_SKIP : 0;
}

const char *test_path(const char *dir, const char *name)
{
    strbuf sb = {0};
    sb_printf(&sb, "%s/%s", dir, name);
    return keep(sb.data);
}

uint64_t test_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

json_t *test_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, text);
    return j;
}

double test_prom_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (!strncmp(p, series, n) && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    fail_msg("no sample %s in:\n%s", series, text);
    return 0;
}

char *test_read_file(const char *path, size_t *len)
{
    char *data = NULL;
    size_t n = 0;
    if (util_read_file(path, &data, &n) != 0)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    if (len)
        *len = n;
    return data;
}

const char *test_bin(void)
{
    const char *b = getenv("FRONTDESK_BIN");
    return b && *b ? b : "build/frontdesk";
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        keep(xstrdup("")); /* registers cleanup */
        snprintf(tmpdir, sizeof tmpdir, "/tmp/frontdesk-test-XXXXXX");
        if (!mkdtemp(tmpdir))
            fail_msg("mkdtemp: %s", strerror(errno));
    }
    return tmpdir;
}

int test_run(const char *const argv[], const char *input, size_t len,
             char **out, char **err)
{
    int in[2], o[2], e[2];
    if (pipe(in) || pipe(o) || pipe(e))
        fail_msg("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        fail_msg("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(in[0]); close(in[1]); close(o[0]); close(o[1]);
        close(e[0]); close(e[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    close(e[1]);
    signal(SIGPIPE, SIG_IGN);

    strbuf sout = {0}, serr = {0};
    size_t written = 0;
    int in_fd = in[1];
    if (len == 0) {
        close(in_fd);
        in_fd = -1;
    }
    int open_fds = 2;
    while (open_fds > 0 || in_fd >= 0) {
        struct pollfd p[3];
        int np = 0;
        if (o[0] >= 0) p[np++] = (struct pollfd){.fd = o[0], .events = POLLIN};
        if (e[0] >= 0) p[np++] = (struct pollfd){.fd = e[0], .events = POLLIN};
        if (in_fd >= 0) p[np++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
        if (poll(p, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            fail_msg("poll: %s", strerror(errno));
        }
        for (int i = 0; i < np; i++) {
            if (!p[i].revents)
                continue;
            if (p[i].fd == in_fd) {
                ssize_t n = write(in_fd, input + written, len - written);
                if (n > 0)
                    written += (size_t)n;
                if (n < 0 || written == len) {
                    close(in_fd);
                    in_fd = -1;
                }
                continue;
            }
            char buf[65536];
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                if (p[i].fd == o[0]) { close(o[0]); o[0] = -1; }
                else { close(e[0]); e[0] = -1; }
                open_fds--;
                continue;
            }
            sb_append(p[i].fd == o[0] ? &sout : &serr, buf, (size_t)n);
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!sout.data) sb_append(&sout, "", 0);
    if (!serr.data) sb_append(&serr, "", 0);
    if (out) *out = sout.data; else sb_free(&sout);
    if (err) *err = serr.data; else sb_free(&serr);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

/* ---- Golden frames ---------------------------------------------------- */

/* Print `s` as a C string literal, one source line per frame row. */
void test_print_literal(const char *name, const char *s)
{
    printf("/* %s */\n\"", name);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n')
            printf(p[1] ? "\\n\"\n\"" : "\\n");
        else if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else
            putchar(*p);
    }
    printf("\";\n");
}

static int goldens_printed;

/* With FRONTDESK_GOLDEN_PRINT set the suite fails at exit, whatever its
 * tests said: printed frames were not checked. */
static void goldens_fail_at_exit(void)
{
    fflush(stdout);
    fprintf(stderr,
            "FAIL: FRONTDESK_GOLDEN_PRINT is set: %d golden frame(s) printed, none compared; "
            "unset it to run the suite\n",
            goldens_printed);
    cleanup();
    _exit(1);
}

void test_expect_golden(const char *name, char *got, const char *want)
{
    if (getenv("FRONTDESK_GOLDEN_PRINT")) {
        /* regenerating: print every golden, and fail the run at exit */
        if (!goldens_printed++)
            atexit(goldens_fail_at_exit);
        test_print_literal(name, got);
        printf("/* %s %s the frozen one */\n", name, strcmp(got, want) ? "DIFFERS from" : "equals");
        free(got);
        return;
    }
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "golden %s differs.\n--- want\n%s--- got\n%s---\n", name, want, got);
        free(got);
        fail_msg("golden %s differs", name);
    }
    free(got);
}

/* ---- Screens as text ------------------------------------------------------- */

int test_row_of(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    int row = 0;
    for (const char *p = text; p && *p; row++) {
        if (!strncmp(p, prefix, n))
            return row;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

const char *test_row(const char *text, int row)
{
    static char buf[4096];
    const char *p = row >= 0 ? text : NULL;
    for (int r = 0; r < row && p; r++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p || !*p)
        fail_msg("the screen has no row %d:\n%s", row, text);
    size_t n = strcspn(p, "\n");
    snprintf(buf, sizeof buf, "%.*s", (int)n, p);
    return buf;
}

void test_expect_row(const char *text, const char *prefix, const char *const *words)
{
    int r = test_row_of(text, prefix);
    if (r < 0)
        fail_msg("no row starts with '%s' on the screen:\n%s", prefix, text);
    const char *line = test_row(text, r), *p = line;
    for (; *words; words++) {
        const char *q = strstr(p, *words);
        if (!q)
            fail_msg("the row '%s' lacks '%s' (after what came before it); the screen:\n%s", line, *words, text);
        p = q + strlen(*words);
    }
}

/* No raw control character in the text grid: everything is escaped. */
void test_assert_no_controls(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p != '\n' && (*p < 0x20 || *p == 0x7f))
            fail_msg("raw control 0x%02x in the frame at byte %zu", *p, (size_t)(p - (const unsigned char *)s));
}
