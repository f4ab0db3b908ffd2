/*
 * test_train_cli.c — `frontdesk train` end to end on a tiny shape: from
 * scratch on export-format conversations, the result loads and answers,
 * fine-tuning with --init, and an interrupted run resumes from its
 * checkpoint.  Uses the committed vocabulary models/frontdesk-vocab.gguf.
 */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *data_file(void)
{
    const char *p = test_path(test_tmpdir(), "convs.jsonl");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    for (int i = 0; i < 12; i++)
        fprintf(f,
                "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a support agent.\"},"
                "{\"role\":\"user\",\"content\":\"I want to cancel order %d\"},"
                "{\"role\":\"assistant\",\"content\":\"I can help you cancel order %d. Please confirm "
                "your {{Email Address}}.\"}],\"metadata\":{\"message_id\":%d}}\n",
                i, i, i);
    fclose(f);
    return p;
}

#define TINY "--width", "32", "--layers", "1", "--heads", "2", "--kv-heads", "2", "--ff", "64", "--ctx", "64", \
             "--tokens", "256", "--threads", "1", "--eval-every", "2", "--ckpt-every", "1", "--type", "f32"

static void test_train_and_fine_tune(void **state)
{
    (void)state;
    if (access("models/frontdesk-vocab.gguf", R_OK) != 0)
        fail_msg("models/frontdesk-vocab.gguf is missing");
    const char *data = data_file();
    const char *out = test_path(test_tmpdir(), "tiny.gguf");
    const char *argv[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data,
                          "--out", out, "--steps", "4", TINY, NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    assert_non_null(strstr(e, "step 4/4"));
    assert_non_null(strstr(e, "wrote"));
    free(o);
    free(e);
    const char *info[] = {test_bin(), "info", "--model", out, NULL};
    assert_int_equal(test_run(info, NULL, 0, &o, &e), 0);
    assert_non_null(strstr(o, "chat template:   chatml"));
    free(o);
    free(e);
    const char *ask[] = {test_bin(), "ask", "--model", out, "--no-db", "-n", "4", "cancel my order", NULL};
    assert_int_equal(test_run(ask, NULL, 0, &o, &e), 0);
    free(o);
    free(e);
    /* fine-tune it further on the same (export-format) data */
    const char *out2 = test_path(test_tmpdir(), "tiny2.gguf");
    const char *ft[] = {test_bin(), "train", "--init", out, "--data", data, "--out", out2, "--steps", "2", TINY, NULL};
    rc = test_run(ft, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("fine-tuning exited %d: %s", rc, e);
    free(o);
    free(e);
    assert_int_equal(access(out2, R_OK), 0);
}

static void test_interrupt_and_resume(void **state)
{
    (void)state;
    const char *data = data_file();
    const char *out = test_path(test_tmpdir(), "resume.gguf");
    /* bad input: a missing data file is a clear error */
    const char *bad[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data",
                         "/nonexistent.jsonl", "--out", out, TINY, NULL};
    char *o, *e;
    assert_int_equal(test_run(bad, NULL, 0, &o, &e), 1);
    assert_non_null(strstr(e, "/nonexistent.jsonl"));
    free(o);
    free(e);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        execl(test_bin(), test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data, "--out",
              out, "--steps", "100000", TINY, (char *)NULL);
        _exit(127);
    }
    /* wait for a checkpoint, then interrupt */
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    for (int i = 0; i < 300 && access(ckpt, F_OK) != 0; i++)
        usleep(20000);
    assert_int_equal(access(ckpt, F_OK), 0);
    kill(pid, SIGINT);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 130);
    const char *again[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", data, "--out",
                           out, "--steps", "1", TINY, NULL};
    /* resumed past --steps: it exports at once */
    assert_int_equal(test_run(again, NULL, 0, &o, &e), 0);
    assert_non_null(strstr(e, "resuming"));
    free(o);
    free(e);
    assert_int_equal(access(out, R_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_and_fine_tune),
        cmocka_unit_test(test_interrupt_and_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
