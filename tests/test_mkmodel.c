/*
 * test_mkmodel.c — tools/mkmodel --vocab: a benchmark model written with a
 * vocabulary copied in tokenizes every one of llama.cpp's test strings for
 * that vocabulary exactly as llama.cpp does (../shared/ref/tokenizer), and
 * frontdesk runs it; without --vocab it has no tokenizer.
 */
#include "testutil.h"

#include "engine/gguf.h"

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

/* A model written with ../shared's ggml-vocab-NAME.gguf copied in
 * tokenizes its test strings as llama.cpp does, has n_tokens tokens (info
 * says "N tokens") and runs. */
static void check_vocab_copied(const char *name, const char *n_tokens)
{
    if (!test_shared_dir()) {
        printf("SKIP: ../shared not found (the vocabularies live there)\n");
        skip();
    }
    char file[128];
    snprintf(file, sizeof file, "ref/tokenizer/ggml-vocab-%s.gguf", name);
    const char *vocab = test_path(test_shared_dir(), file);
    const char *model = test_path(test_tmpdir(), "smollm2-vocab.gguf");
    write_model(model, vocab);

    size_t inp_len, out_len;
    char inp_file[160], out_file[160];
    snprintf(inp_file, sizeof inp_file, "%s.inp", file);
    snprintf(out_file, sizeof out_file, "%s.out", file);
    char *inp = test_read_file(test_path(test_shared_dir(), inp_file), &inp_len);
    char *want = test_read_file(test_path(test_shared_dir(), out_file), &out_len);
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
    char tokens[64];
    snprintf(tokens, sizeof tokens, "%s tokens", n_tokens);
    if (!strstr(o, tokens))
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

static void test_vocab_copied(void **state)
{
    (void)state;
    check_vocab_copied("gpt-2", "50257");
}

/* TinyLlama's kind of vocabulary: SentencePiece (tokenizer.ggml.model
 * "llama", scores and token types), 32,000 tokens. */
static void test_spm_vocab_copied(void **state)
{
    (void)state;
    check_vocab_copied("llama-spm", "32000");
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

/* --type q4_k_m on a shape 576 wide (not a multiple of Q4_K's 256-block):
 * the matrices whose rows are 576 long take llama-quantize's fallback
 * types (Q4_K -> Q5_0, Q6_K -> Q8_0); ffn_down's 1536-long rows keep
 * Q4_K / Q6_K.  Types read back from the file written. */
static void test_q4_k_m_fallback(void **state)
{
    (void)state;
    const char *model = test_path(test_tmpdir(), "smollm2-q4km.gguf");
    const char *argv[] = {mkmodel_bin(), "--shape", "smollm2-135m", "--type", "q4_k_m", "--out", model, NULL};
    char *o, *e;
    int rc = test_run(argv, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("mkmodel exited %d: %s", rc, e);
    free(o);
    free(e);
    gguf_file *f;
    char err[256];
    assert_int_equal(gguf_open(&f, model, err, sizeof err), GGUF_OK);
    static const struct {
        const char *name;
        ggml_type type;
    } want[] = {{"token_embd.weight", GGML_TYPE_Q5_0},     {"blk.0.attn_q.weight", GGML_TYPE_Q5_0},
                {"blk.0.attn_v.weight", GGML_TYPE_Q8_0},   {"blk.0.ffn_up.weight", GGML_TYPE_Q5_0},
                {"blk.0.ffn_down.weight", GGML_TYPE_Q6_K}, {"blk.1.ffn_down.weight", GGML_TYPE_Q4_K}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const gguf_tensor *t = gguf_find_tensor(f, want[i].name);
        assert_non_null(t);
        if (t->type != want[i].type)
            fail_msg("%s: %s, want %s", want[i].name, ggml_type_name(t->type), ggml_type_name(want[i].type));
    }
    gguf_close(f);
    unlink(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_copied),
        cmocka_unit_test(test_spm_vocab_copied),
        cmocka_unit_test(test_no_vocab),
        cmocka_unit_test(test_q4_k_m_fallback),
    };
    return cmocka_run_group_tests_name("mkmodel", tests, NULL, NULL);
}
