/*
 * replay.c — the main() a harness tests/fuzz/fuzz_<name>.c is linked with in
 * `make test` and `make asan` (no libFuzzer: the normal compiler).
 *
 *   build/tests/fuzz/fuzz_<name> [FILE ...]
 *
 * Run from the repository root, it calls LLVMFuzzerInitialize (when the
 * harness has one) and then LLVMFuzzerTestOneInput once per file of
 * tests/fuzz/corpus/<name>/ and tests/fuzz/crashes/<name>/ (every crash
 * libFuzzer ever found, kept after its fix so it replays forever), in name
 * order, plus the files given.  Each input is copied into a buffer of
 * exactly its size, so a sanitizer build sees a read past its end; the one
 * that crashes is named on stderr.  <name>
 * comes from the program's own name.  A crash is the failure; otherwise it
 * prints "PASS fuzz_<name>: N inputs replayed".
 */
#include "tests/fuzz/fuzz.h"
#include "tests/testutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Harnesses without set-up do not define it. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

void fuzz_skip_note(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    test_skip_note("%s", msg); /* prints it too */
}

/* The input being replayed, named when it crashes: by the signal handler
 * (abort, as UBSan and the harnesses' own checks end; a fault) or by
 * AddressSanitizer's error hook. */
static const char *current;

static void say_current(void)
{
    if (!current)
        return;
    static const char what[] = "replay: crashed on ";
    if (write(2, what, sizeof what - 1) < 0 || write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
        return;
}

void __asan_on_error(void);
void __asan_on_error(void) { say_current(); }

static void on_crash(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Read path whole into a buffer of exactly its size (NULL for an empty
 * file, which is replayed as size 0).  Returns false on an I/O error. */
static bool read_input(const char *path, uint8_t **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    struct stat st;
    bool ok = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (ok && st.st_size > 0) {
        *size = (size_t)st.st_size;
        *data = malloc(*size);
        ok = *data && fread(*data, 1, *size, f) == *size;
    }
    fclose(f);
    return ok;
}

static int replay(const char *path)
{
    uint8_t *data;
    size_t size;
    if (!read_input(path, &data, &size)) {
        fprintf(stderr, "replay: %s: %s\n", path, errno ? strerror(errno) : "cannot read");
        free(data);
        return -1;
    }
    current = path;
    LLVMFuzzerTestOneInput(data, size);
    current = NULL;
    free(data);
    return 0;
}

static int is_input(const struct dirent *e)
{
    return e->d_name[0] != '.';
}

/* Replay every file of dir in name order; returns how many, or -1. */
static long replay_dir(const char *dir, bool required)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_input, alphasort);
    if (n < 0) {
        if (!required && errno == ENOENT)
            return 0;
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    long done = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (done >= 0)
            done = replay(path) == 0 ? done + 1 : -1;
        free(names[i]);
    }
    free(names);
    return done;
}

int main(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *name = strncmp(self, "fuzz_", 5) == 0 ? self + 5 : self;
    int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_crash);
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    char corpus[512], crashes[512];
    snprintf(corpus, sizeof corpus, "tests/fuzz/corpus/%s", name);
    snprintf(crashes, sizeof crashes, "tests/fuzz/crashes/%s", name);
    long n_corpus = replay_dir(corpus, true);
    long n_crashes = replay_dir(crashes, false);
    long n_args = 0;
    for (int i = 1; i < argc && n_args >= 0; i++)
        n_args = replay(argv[i]) == 0 ? n_args + 1 : -1;
    if (n_corpus <= 0 || n_crashes < 0 || n_args < 0) {
        fprintf(stderr, "FAIL fuzz_%s: %s\n", name,
                n_corpus == 0 ? "the seed corpus is empty" : "an input could not be read");
        return 1;
    }
    printf("PASS fuzz_%s: %ld inputs replayed (%ld corpus, %ld crashes%s)\n", name,
           n_corpus + n_crashes + n_args, n_corpus, n_crashes, n_args ? ", and those given" : "");
    return 0;
}
