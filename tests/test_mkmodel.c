/*
 * test_mkmodel.c — tools/mkmodel --vocab: a benchmark model written with a
 * vocabulary copied in tokenizes every one of llama.cpp's test strings for
 * that vocabulary exactly as llama.cpp does (../shared/ref/tokenizer), and
 * frontdesk runs it; without --vocab it has no tokenizer.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *mkmodel_bin(void)
{
    const char *b = getenv("FRONTDESK_BUILD");
    return test_path(b ? b : "build", "tools/mkmodel");
}

static void write_model(const char *out, const char *vocab)
{
    const char *argv[] = {mkmodel_bin(), "--shape", "smollm2-135m", "--type", "q8_0", "--out", out,
                          vocab ? "--vocab" : NULL, vocab, NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("mkmodel exited %d: %s", rc, e);
    free(o);
    free(e);
}

static void test_vocab_copied(void **state)
{
    (void)state;
    if (!test_shared_dir()) {
        printf("SKIP: ../shared not found (the vocabularies live there)\n");
        skip();
    }
    const char *vocab = test_path(test_shared_dir(), "ref/tokenizer/ggml-vocab-gpt-2.gguf");
    const char *model = test_path(test_tmpdir(), "smollm2-gpt2.gguf");
    write_model(model, vocab);

    size_t inp_len, out_len;
    char *inp = test_read_file(test_path(test_shared_dir(), "ref/tokenizer/ggml-vocab-gpt-2.gguf.inp"), &inp_len);
    char *want = test_read_file(test_path(test_shared_dir(), "ref/tokenizer/ggml-vocab-gpt-2.gguf.out"), &out_len);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *line = want;
    int checked = 0;
    for (char *end; (end = strstr(p, sep)) != NULL; p = end + strlen(sep)) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        const char *argv[] = {test_bin(), "tokenize", "--model", model, NULL};
        char *o, *e;
        assert_int_equal(test_run(argv, p, (size_t)(end - p), &o, &e), 0);
        /* ours: "a b c\n"; the reference: " a b c" */
        char *o_nl = strchr(o, '\n');
        if (o_nl)
            *o_nl = '\0';
        const char *w = line[0] == ' ' ? line + 1 : line;
        if (strcmp(o, w) != 0)
            fail_msg("test string %d [%.*s]: ids '%s', llama.cpp '%s'", checked, (int)(end - p), p, o, w);
        free(o);
        free(e);
        line = nl + 1;
        checked++;
    }
    assert_true(checked >= 40);

    /* the embedding has a row per token, and the model runs */
    const char *info[] = {test_bin(), "info", "--model", model, NULL};
    char *o, *e;
    assert_int_equal(test_run(info, NULL, 0, &o, &e), 0);
    if (!strstr(o, "50257 tokens"))
        fail_msg("info: %s", o);
    free(o);
    free(e);
    const char *ask[] = {test_bin(), "ask", "--model", model, "--raw", "--no-db", "--ids", "--temp", "0", "-n", "4",
                         "Hello", NULL};
    assert_int_equal(test_run(ask, NULL, 0, &o, &e), 0);
    int ids = 0;
    for (char *q = o; *q; q++)
        ids += (q == o || q[-1] == ' ') && *q >= '0' && *q <= '9';
    assert_int_equal(ids, 4);
    free(o);
    free(e);
    free(inp);
    free(want);
    unlink(model);
}

static void test_no_vocab(void **state)
{
    (void)state;
    const char *model = test_path(test_tmpdir(), "smollm2-bare.gguf");
    write_model(model, NULL);
    const char *argv[] = {test_bin(), "tokenize", "--model", model, NULL};
    char *o, *e;
    int rc = test_run(argv, "hi", 2, &o, &e);
    assert_int_not_equal(rc, 0);
    assert_true(strlen(e) > 0);
    free(o);
    free(e);
    unlink(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_copied),
        cmocka_unit_test(test_no_vocab),
    };
    return cmocka_run_group_tests_name("mkmodel", tests, NULL, NULL);
}
