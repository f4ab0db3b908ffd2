/*
 * fuzz.h — what the libFuzzer harnesses tests/fuzz/fuzz_<name>.c share.
 *
 * A harness defines LLVMFuzzerTestOneInput (and, if it has set-up, such as
 * loading vocabularies, LLVMFuzzerInitialize).  It is linked two ways:
 * with clang's libFuzzer by `make fuzz` (tools/fuzz.sh), and with the normal
 * compiler and tests/fuzz/replay.c by `make test` / `make asan`, which runs
 * it on every file of tests/fuzz/corpus/<name>/ and tests/fuzz/crashes/<name>/.
 * A harness frees everything it allocates, is deterministic, writes no file
 * outside a temporary one and uses no network.
 */
#ifndef FRONTDESK_FUZZ_H
#define FRONTDESK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Part of a harness cannot run here (../shared is absent, say).  The replay
 * defines it (a visible SKIP through tests/testutil.h's test_skip_note);
 * under libFuzzer it is undefined (weak): use fuzz_note, which then prints
 * the reason to stderr. */
void fuzz_skip_note(const char *fmt, ...) __attribute__((weak, format(printf, 1, 2)));

#define fuzz_note(...)                                                                                     \
    do {                                                                                                   \
        if (fuzz_skip_note)                                                                                \
            fuzz_skip_note(__VA_ARGS__);                                                                   \
        else {                                                                                             \
            fprintf(stderr, "SKIP ");                                                                      \
            fprintf(stderr, __VA_ARGS__);                                                                  \
            fputc('\n', stderr);                                                                           \
        }                                                                                                  \
    } while (0)

#endif
