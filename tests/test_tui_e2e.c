/*
 * test_tui_e2e.c — runs tests/e2e/tui.sh: the real binary in a real
 * terminal (tmux) on the reference model stories260K; see the script for
 * what it does and checks.  Skips visibly without ../shared or tmux.
 */
#include "testutil.h"

#include "remote_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_tui_end_to_end(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_end_to_end: tmux not installed (make deps installs it)");
    const char *model = test_path(test_path(shared, "ref/models"), "stories260K.gguf");
    const char *argv[] = {"/bin/sh", "tests/e2e/tui.sh", test_bin(), model, test_tmpdir(), NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/tui.sh exited %d: %s", rc, err);
    assert_non_null(strstr(out, "e2e: ok"));
    free(out);
    free(err);
}

/* The same run against an OpenAI-compatible server on 127.0.0.1. */
static void test_tui_remote(void **state)
{
    (void)state;
    if (system("command -v tmux >/dev/null 2>&1") != 0)
        test_skip("test_tui_remote: tmux not installed (make deps installs it)");
    rs_step st = {.kind = RS_STREAM, .reply = "I am sorry for the delay. Your {{Order Number}} shipped today.",
                  .usage = true, .prompt_tokens = 30, .completion_tokens = 14};
    char err[256];
    rs_server *s = rs_start(&st, 1, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    setenv("E2E_BACKEND", rs_url(s), 1);
    const char *work = test_path(test_tmpdir(), "remote");
    mkdir(work, 0700);
    const char *argv[] = {"/bin/sh", "tests/e2e/tui.sh", test_bin(), "-", work, NULL};
    char *out, *e;
    int rc = test_run(argv, NULL, 0, &out, &e);
    unsetenv("E2E_BACKEND");
    printf("%s", out);
    if (rc != 0)
        fail_msg("tests/e2e/tui.sh (remote) exited %d: %s", rc, e);
    assert_non_null(strstr(out, "shipped today"));
    assert_non_null(strstr(out, "e2e: ok"));
    free(out);
    free(e);
    rs_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tui_end_to_end),
        cmocka_unit_test(test_tui_remote),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
