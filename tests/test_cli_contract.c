/*
 * test_cli_contract.c — what a person at the command line sees, pinned
 * exactly: usage errors (exit 2, the one-line message, no getopt chatter)
 * for every command's bad options and out-of-range numbers, the top-level
 * -h/-V/help spellings, `info` lines on model files written here with a
 * shape chosen for hand-counted figures, `config` lines, escaping of
 * control characters in names, titles and comments, and the store
 * commands' printed counts and JSON keys on a database filled through the
 * storage API with known values.
 *
 * Every file lives under test_tmpdir(); the server is tests/remote_server.c
 * on 127.0.0.1; stories260K comes from ../shared (skipped visibly without).
 */
#include "testutil.h"

#include "remote_server.h"

#include "engine/gguf_write.h"
#include "storage/chats.h"
#include "storage/db.h"
#include "storage/metrics.h"
#include "storage/ratings.h"

#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- running the binary -------------------------------------------------- */

static int fd_run(const char *input, char **out, char **err, const char *const *args)
{
    const char *argv[40] = {test_bin()};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char *o, *e;
    int rc = test_run(argv, input, input ? strlen(input) : 0, &o, &e);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return rc;
}

#define RUN(out, err, ...) fd_run(NULL, out, err, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_IN(in, out, err, ...) fd_run(in, out, err, (const char *const[]){__VA_ARGS__, NULL})

/* Fail unless the command exits `want_rc` with exactly `want_err` on
 * standard error and nothing on standard output. */
static void expect_usage(int want_rc, const char *want_err, const char *const *args)
{
    char *out, *err;
    int rc = fd_run(NULL, &out, &err, args);
    if (rc != want_rc || strcmp(err, want_err) != 0 || out[0])
        fail_msg("%s %s: exit %d (want %d)\nstderr: [%s]\nwant:   [%s]\nstdout: [%s]", args[0], args[1] ? args[1] : "",
                 rc, want_rc, err, want_err, out);
    free(out);
    free(err);
}
#define EXPECT_USAGE(rc, err, ...) expect_usage(rc, err, (const char *const[]){__VA_ARGS__, NULL})

static const char *stories(void)
{
    const char *shared = test_shared_dir();
    return shared ? test_path(test_path(shared, "ref/models"), "stories260K.gguf") : NULL;
}

/* An empty XDG config directory, so no user config leaks in. */
static void no_user_config(void)
{
    const char *dir = test_path(test_tmpdir(), "xdg-empty");
    mkdir(dir, 0700);
    setenv("XDG_CONFIG_HOME", dir, 1);
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = test_path(test_tmpdir(), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return p;
}

/* ---- the application itself ------------------------------------------------ */

static void test_top_level_spellings(void **state)
{
    (void)state;
    char *help, *o, *e;
    assert_int_equal(RUN(&help, NULL, "--help"), 0);
    assert_non_null(strstr(help, "usage: frontdesk"));
    const char *same[] = {"-h", "help"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(RUN(&o, &e, same[i]), 0);
        assert_string_equal(o, help);
        assert_string_equal(e, "");
        free(o);
        free(e);
    }
    free(help);

    char *version;
    assert_int_equal(RUN(&version, NULL, "--version"), 0);
    assert_int_equal(strncmp(version, "frontdesk ", 10), 0);
    /* every CPU runs the portable kernels, and the list says so */
    assert_non_null(strstr(version, "(this CPU runs portable"));
    assert_non_null(strstr(version, "; FRONTDESK_SIMD chooses)\n"));
    assert_int_equal(RUN(&o, NULL, "-V"), 0);
    assert_string_equal(o, version);
    free(o);
    free(version);

    /* a single-dash option goes to the application, which refuses it */
    EXPECT_USAGE(2, "frontdesk: unknown option '-q'\n(see 'frontdesk --help')\n", "-q");
    /* after "--", --help is an argument like any other, not a request for help */
    EXPECT_USAGE(2, "frontdesk info: unexpected argument '--help'\n(see 'frontdesk info --help')\n", "info", "--",
                 "--help");
}

/* A runtime failure is one line, ended by its newline. */
static void test_failure_line(void **state)
{
    (void)state;
    const char *missing = test_path(test_tmpdir(), "no-such-model.gguf");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "tokenize", "--model", missing), 1);
    assert_int_equal(strncmp(err, "frontdesk: ", 11), 0);
    assert_non_null(strstr(err, "no-such-model.gguf"));
    size_t n = strlen(err);
    assert_true(n > 0 && err[n - 1] == '\n');
    assert_ptr_equal(strchr(err, '\n'), err + n - 1); /* one line */
    free(out);
    free(err);
}

/* ---- usage errors: the exact message, exit 2, no getopt message ------------ */

static void test_unknown_options(void **state)
{
    (void)state;
    no_user_config();
#define UNKNOWN(cmd) "frontdesk " cmd ": unknown option '--bogus'\n(see 'frontdesk " cmd " --help')\n"
#define NEEDS(cmd, opt) "frontdesk " cmd ": option '" opt "' needs a value\n(see 'frontdesk " cmd " --help')\n"
#define EXTRA(cmd, arg) "frontdesk " cmd ": unexpected argument '" arg "'\n(see 'frontdesk " cmd " --help')\n"
    EXPECT_USAGE(2, UNKNOWN("config"), "config", "--bogus");
    EXPECT_USAGE(2, NEEDS("config", "--config"), "config", "--config");
    EXPECT_USAGE(2, EXTRA("config", "extra"), "config", "extra");

    EXPECT_USAGE(2, UNKNOWN("forget"), "forget", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("forget"), "forget", "--bogus", "--conversation", "1");
    EXPECT_USAGE(2, NEEDS("forget", "--conversation"), "forget", "--conversation");
    EXPECT_USAGE(2, EXTRA("forget", "extra"), "forget", "--conversation", "1", "extra");
    EXPECT_USAGE(2, "frontdesk forget: --conversation is required\n(see 'frontdesk forget --help')\n", "forget");
    EXPECT_USAGE(2, UNKNOWN("purge"), "purge", "--bogus");
    EXPECT_USAGE(2, NEEDS("purge", "--older-than"), "purge", "--older-than");
    EXPECT_USAGE(2, "frontdesk purge: --older-than or --requests-older-than is required\n(see 'frontdesk purge --help')\n", "purge");

    EXPECT_USAGE(2, UNKNOWN("tokenize"), "tokenize", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("tokenize"), "tokenize", "--bogus", "--model", "x.gguf");
    EXPECT_USAGE(2, NEEDS("tokenize", "--model"), "tokenize", "--model");
    EXPECT_USAGE(2, "frontdesk tokenize: --model FILE is required\n(see 'frontdesk tokenize --help')\n", "tokenize");

    EXPECT_USAGE(2, UNKNOWN("models"), "models", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("models"), "models", "--bogus", "--backend", "http://127.0.0.1:9/v1");
    EXPECT_USAGE(2, NEEDS("models", "--backend"), "models", "--backend");
    EXPECT_USAGE(2, EXTRA("models", "extra"), "models", "extra");
    EXPECT_USAGE(2,
                 "frontdesk models: give --backend URL (or set [remote] backend in the config file)\n"
                 "(see 'frontdesk models --help')\n",
                 "models");

    EXPECT_USAGE(2, UNKNOWN("info"), "info", "--bogus");
    EXPECT_USAGE(2, NEEDS("info", "--model"), "info", "--model");
    EXPECT_USAGE(2, "frontdesk info: --model FILE is required\n(see 'frontdesk info --help')\n", "info");

    EXPECT_USAGE(2, UNKNOWN("perplexity"), "perplexity", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("perplexity"), "perplexity", "--bogus", "--ctx", "8");
    EXPECT_USAGE(2, NEEDS("perplexity", "--ctx"), "perplexity", "--ctx");

    EXPECT_USAGE(2, UNKNOWN("export"), "export", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("stats"), "stats", "--bogus");
    EXPECT_USAGE(2, UNKNOWN("stats"), "stats", "--bogus", "--window", "1h");
    EXPECT_USAGE(2, UNKNOWN("rate"), "rate", "--bogus", "1", "up");
    EXPECT_USAGE(2, UNKNOWN("rate"), "rate", "1", "up", "--bogus");
    EXPECT_USAGE(2, NEEDS("show", "--db"), "show", "1", "--db");
#undef UNKNOWN
#undef NEEDS
#undef EXTRA
}

static void test_number_ranges(void **state)
{
    (void)state;
    no_user_config();
    const char *m = test_path(test_tmpdir(), "absent.gguf"); /* never reached when the option is refused */
    EXPECT_USAGE(2, "frontdesk history: --limit needs a whole number, got '5x'\n(see 'frontdesk history --help')\n",
                 "history", "--limit", "5x");
    EXPECT_USAGE(2, "frontdesk ask: -n needs a whole number from 1 to 1048576, got '0'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "-n", "0", "hi");
    EXPECT_USAGE(2, "frontdesk ask: -n needs a whole number from 1 to 1048576, got '5x'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "-n", "5x", "hi");
    EXPECT_USAGE(2, "frontdesk ask: --temp needs a number from 0 to 100, got '-1'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "--temp", "-1", "hi");
    EXPECT_USAGE(2, "frontdesk ask: --temp needs a number from 0 to 100, got 'inf'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "--temp", "inf", "hi");
    EXPECT_USAGE(2, "frontdesk ask: --temp needs a number from 0 to 100, got 'nan'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "--temp", "nan", "hi");
    EXPECT_USAGE(2, "frontdesk ask: --top-p needs a number from 0 to 1, got '2'\n(see 'frontdesk ask --help')\n",
                 "ask", "--model", m, "--no-db", "--top-p", "2", "hi");
    EXPECT_USAGE(2, "frontdesk perplexity: --ctx needs a whole number from 2, got '1'\n"
                    "(see 'frontdesk perplexity --help')\n",
                 "perplexity", "--model", m, "--file", m, "--ctx", "1");

    const char *dbp = test_path(test_tmpdir(), "never-created.db");
    const char *give = "frontdesk rate: give a MESSAGE_ID and a verdict (up, down, none or 1..5)\n"
                       "(see 'frontdesk rate --help')\n";
    EXPECT_USAGE(2, give, "rate", "--db", dbp);
    EXPECT_USAGE(2, give, "rate", "--db", dbp, "1", "up", "extra");
    EXPECT_USAGE(2, "frontdesk rate: a message id is a positive whole number, not '0'\n(see 'frontdesk rate --help')\n",
                 "rate", "--db", dbp, "0", "up");
    EXPECT_USAGE(2, "frontdesk rate: the verdict is up, down, none or a score 1..5, not 'sideways'\n"
                    "(see 'frontdesk rate --help')\n",
                 "rate", "--db", dbp, "1", "sideways");
    EXPECT_USAGE(2, "frontdesk rate: nothing to rate: give a verdict, --tag or --comment\n"
                    "(see 'frontdesk rate --help')\n",
                 "rate", "--db", dbp, "1");
    struct stat st;
    assert_int_equal(stat(dbp, &st), -1); /* refused before the store was touched */
}

/* ---- perplexity windows ---------------------------------------------------- */

static void test_perplexity_windows(void **state)
{
    (void)state;
    if (!stories())
        skip();
    /* "Once upon a time" is BOS + 4 tokens, each repeat 6 more: 11 of them are
     * 1 + 4 + 10*6 = 65 tokens.  Default windows of 64: 63 scored in the first,
     * none in the 1-token second; --ctx 65: one window, 64 scored. */
    char text[256] = "";
    for (int i = 0; i < 11; i++)
        strcat(text, "Once upon a time");
    const char *p = write_text("ppl.txt", text);
    char *out;
    assert_int_equal(RUN(&out, NULL, "perplexity", "--model", stories(), "--file", p), 0);
    assert_non_null(strstr(out, " tokens 63\n"));
    free(out);
    assert_int_equal(RUN(&out, NULL, "perplexity", "--model", stories(), "--file", p, "--ctx", "65"), 0);
    assert_non_null(strstr(out, " tokens 64\n"));
    free(out);
    /* "Once" is BOS + 1 token: --ctx 2 (the minimum) scores exactly one */
    const char *once = write_text("once.txt", "Once");
    assert_int_equal(RUN(&out, NULL, "perplexity", "--model", stories(), "--file", once, "--ctx", "2"), 0);
    assert_int_equal(strncmp(out, "ppl ", 4), 0);
    assert_non_null(strstr(out, " tokens 1\n"));
    free(out);
}

/* ---- tokenize to a full disk ----------------------------------------------- */

/* Run the binary with standard output on /dev/full; returns the exit
 * status (-1: no /dev/full), standard error in err (NUL-terminated). */
static int run_to_full(const char *input, char *err, size_t cap, const char *const *args)
{
    int in[2], errp[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(errp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int full = open("/dev/full", O_WRONLY);
        if (full < 0)
            _exit(99);
        dup2(in[0], 0);
        dup2(full, 1);
        dup2(errp[1], 2);
        close(in[1]);
        close(errp[0]);
        const char *argv[40] = {test_bin()};
        for (size_t i = 0; args[i] && i < 38; i++)
            argv[i + 1] = args[i];
        execv(test_bin(), (char *const *)argv);
        _exit(98);
    }
    close(in[0]);
    close(errp[1]);
    size_t len = input ? strlen(input) : 0;
    assert_int_equal(write(in[1], input ? input : "", len), (ssize_t)len);
    close(in[1]);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(errp[0], err + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(errp[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 99)
        return -1;
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}
#define RUN_TO_FULL(in, err, ...) run_to_full(in, err, sizeof err, (const char *const[]){__VA_ARGS__, NULL})

static void test_tokenize_full_output(void **state)
{
    (void)state;
    if (!stories())
        skip();
    char err[512];
    int rc = RUN_TO_FULL("Once upon a time", err, "tokenize", "--model", stories());
    if (rc < 0)
        test_skip("test_tokenize_full_output: no /dev/full");
    assert_int_equal(rc, 1);
    assert_string_equal(err, "frontdesk: writing standard output: No space left on device\n");
}

/* ---- info on files written here -------------------------------------------- */

static int zero_fill(void *ctx, uint64_t offset, void *buf, size_t len)
{
    (void)ctx;
    (void)offset;
    memset(buf, 0, len);
    return 0;
}

/* llama, 3 layers, width 1000, 4 heads (2 KV), context 128.  With tokens:
 * a 3-token "llama" vocabulary whose pre-tokenizer name holds a space and a
 * control byte; tensors: F32 1000x999 and F16 1000, exactly 1,000,000
 * parameters.  Without: no tokenizer keys at all and one F32 3x4 tensor. */
static const char *write_model(const char *name, bool with_tokens, bool gpt2)
{
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.block_count", 3), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.embedding_length", 1000), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.attention.head_count", 4), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.attention.head_count_kv", 2), 0);
    assert_int_equal(gguf_writer_set_u32(w, "llama.context_length", 128), 0);
    if (with_tokens) {
        const char *toks[] = {"a", "b", "c"};
        assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "llama"), 0);
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
        assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.pre", "my pre\x01x"), 0);
        uint64_t ne1[2] = {1000, 999}, ne2[1] = {1000};
        assert_int_equal(gguf_writer_add_tensor_fill(w, "big", GGML_TYPE_F32, 2, ne1, zero_fill, NULL), 0);
        assert_int_equal(gguf_writer_add_tensor_fill(w, "small", GGML_TYPE_F16, 1, ne2, zero_fill, NULL), 0);
    } else if (gpt2) {
        const char *toks[] = {"a", "b", "ab"}, *merges[] = {"a b"};
        assert_int_equal(gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2"), 0);
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3), 0);
        assert_int_equal(gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 1), 0);
    } else {
        uint64_t ne[2] = {3, 4};
        assert_int_equal(gguf_writer_add_tensor_fill(w, "w", GGML_TYPE_F32, 2, ne, zero_fill, NULL), 0);
    }
    const char *p = test_path(test_tmpdir(), name);
    char err[256];
    if (gguf_writer_write_file(w, p, err, sizeof err) != 0)
        fail_msg("writing %s: %s", p, err);
    gguf_writer_free(w);
    return p;
}

/* The text after "key:" padded to column 17, on the line starting with key. */
static void expect_line(const char *out, const char *line)
{
    const char *p = strstr(out, line);
    if (!p || (p != out && p[-1] != '\n') || p[strlen(line)] != '\n')
        fail_msg("no line [%s] in:\n%s", line, out);
}

static void test_info_lines(void **state)
{
    (void)state;
    const char *full = write_model("million.gguf", true, false);
    char *out;
    assert_int_equal(RUN(&out, NULL, "info", "--model", full), 0);
    expect_line(out, "architecture:    llama");
    expect_line(out, "parameters:      1.00M (1000000)");
    expect_line(out, "layers:          3");
    expect_line(out, "embedding:       1000");
    expect_line(out, "heads:           4 (kv heads 2)");
    expect_line(out, "context length:  128");
    expect_line(out, "vocabulary:      llama, 3 tokens");
    expect_line(out, "pre-tokenizer:   my pre?x");
    expect_line(out, "tensor types:    F32:1 F16:1");
    expect_line(out, "chat template:   none in the file; ChatML will be used");
    free(out);

    assert_int_equal(RUN(&out, NULL, "info", "--model", full, "--json"), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "parameters")), 1000000);
    assert_int_equal(json_integer_value(json_object_get(j, "layers")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "vocab_type")), "llama");
    assert_int_equal(json_integer_value(json_object_get(j, "vocab_size")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "pre_tokenizer")), "my pre?x");
    json_t *types = json_object_get(j, "tensor_types");
    assert_int_equal(json_object_size(types), 2);
    assert_int_equal(json_integer_value(json_object_get(types, "F32")), 1);
    assert_int_equal(json_integer_value(json_object_get(types, "F16")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "chat_template")), "chatml (default)");
    json_decref(j);
    free(out);

    const char *bare = write_model("bare.gguf", false, false);
    assert_int_equal(RUN(&out, NULL, "info", "--model", bare), 0);
    expect_line(out, "parameters:      12");
    expect_line(out, "vocabulary:      none, 0 tokens");
    expect_line(out, "pre-tokenizer:   none");
    expect_line(out, "tensor types:    F32:1");
    free(out);
    assert_int_equal(RUN(&out, NULL, "info", "--model", bare, "--json"), 0);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "parameters")), 12);
    assert_string_equal(json_string_value(json_object_get(j, "vocab_type")), "none");
    assert_int_equal(json_integer_value(json_object_get(j, "vocab_size")), 0);
    json_decref(j);
    free(out);

    char *err;
    /* a BPE vocabulary of "a", "b", "ab" with the merge "a b" */
    const char *bpe = write_model("ab-vocab.gguf", false, true);
    assert_int_equal(RUN_IN("ab", &out, &err, "tokenize", "--model", bpe), 0);
    assert_string_equal(out, "2\n");
    free(out);
    free(err);
    /* a sequence above U+10FFFF is refused, as llama.cpp refuses it */
    if (RUN_IN("a\xf4\x90\x80\x80", &out, &err, "tokenize", "--model", bpe) != 1)
        fail_msg("tokenize: [%s] [%s]", out, err);
    assert_string_equal(out, "");
    assert_string_equal(err, "frontdesk: invalid UTF-8 at input offset 1: a sequence above U+10FFFF\n");
    free(out);
    free(err);
    /* a file without a model's tensors cannot score text: one line says why */
    const char *txt = write_text("bare.txt", "abc");
    assert_int_equal(RUN(&out, &err, "perplexity", "--model", bare, "--file", txt), 1);
    assert_int_equal(strncmp(err, "frontdesk: ", 11), 0);
    assert_true(strlen(err) > 12);
    free(out);
    free(err);

    if (stories()) { /* README's example: 292800 parameters, under a million, printed as is */
        assert_int_equal(RUN(&out, NULL, "info", "--model", stories()), 0);
        expect_line(out, "parameters:      292800");
        expect_line(out, "layers:          5");
        expect_line(out, "vocabulary:      llama, 512 tokens");
        expect_line(out, "pre-tokenizer:   default");
        expect_line(out, "tensor types:    F32:48");
        free(out);
    }
}

/* ---- config ---------------------------------------------------------------- */

static void test_config_lines(void **state)
{
    (void)state;
    no_user_config();
    const char *empty = write_text("empty.conf", "");
    char *out;
    assert_int_equal(RUN(&out, NULL, "config", "--config", empty), 0);
    expect_line(out, "# path = (none set)");
    expect_line(out, "# backend = (none: the local model)");
    free(out);
    const char *set = write_text("set.conf", "[model]\npath = /models/x.gguf\n[remote]\nbackend = http://127.0.0.1:9/v1\n");
    assert_int_equal(RUN(&out, NULL, "config", "--config", set), 0);
    expect_line(out, "path = /models/x.gguf");
    expect_line(out, "backend = http://127.0.0.1:9/v1");
    assert_null(strstr(out, "(none set)"));
    assert_null(strstr(out, "(none: the local model)"));
    free(out);
}

/* ---- models: names escaped, the key and the timeouts from the config -------- */

static rs_server *serve(const rs_step *steps, size_t n)
{
    char err[256];
    rs_server *s = rs_start(steps, n, err, sizeof err);
    if (!s)
        fail_msg("test server: %s", err);
    return s;
}

static void use_config(const char *remote_lines)
{
    const char *dir = test_path(test_tmpdir(), "xdg-models");
    const char *sub = test_path(dir, "frontdesk");
    mkdir(dir, 0700);
    mkdir(sub, 0700);
    FILE *f = fopen(test_path(sub, "config"), "w");
    assert_non_null(f);
    fprintf(f, "[remote]\nretries = 0\n%s\n", remote_lines);
    assert_int_equal(fclose(f), 0);
    setenv("XDG_CONFIG_HOME", dir, 1);
}

static void test_models_escaping_and_key(void **state)
{
    (void)state;
    use_config("api_key_env = CONTRACT_TEST_KEY\n");
    setenv("CONTRACT_TEST_KEY", "sk-contract-42", 1);
    /* tab and newline kept; other C0 bytes and DEL escaped; C1 controls
     * (U+0080, U+0085, U+009F) escaped as their second byte; U+00A0,
     * é and € (whose second byte is 0x82) kept as they are */
    rs_step st = {.kind = RS_STATUS, .status = 200,
                  .body = "{\"object\":\"list\",\"data\":["
                          "{\"id\":\"a\\tb\\u0001c\\u007fd\\u001be\"},"
                          "{\"id\":\"x\\u0080y\\u0085z\\u009fw\"},"
                          "{\"id\":\"nb\\u00a0sp caf\\u00e9 \\u20ac5\"},"
                          "{\"id\":\"two\\nlines\"}]}"};
    rs_server *s = serve(&st, 1);
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "models", "--backend", rs_url(s)), 0);
    assert_string_equal(out, "a\tb\\x01c\\x7fd\\x1be\n"
                             "x\\x80y\\x85z\\x9fw\n"
                             "nb\xc2\xa0sp caf\xc3\xa9 \xe2\x82\xac" "5\n"
                             "two\nlines\n");
    free(out);
    free(err);
    assert_int_equal(rs_count(s), 1);
    assert_non_null(rs_get(s, 0)->authorization);
    assert_string_equal(rs_get(s, 0)->authorization, "Bearer sk-contract-42");
    rs_stop(s);
    unsetenv("CONTRACT_TEST_KEY");
}

static void test_models_timeouts(void **state)
{
    (void)state;
    /* total: a list that never finishes arriving */
    rs_step st = {.kind = RS_STREAM, .reply = "never", .stall_before_ms = 8000};
    rs_server *s = serve(&st, 1);
    use_config("connect_timeout_ms = 20000\ntotal_timeout_ms = 700\n");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "models", "--backend", rs_url(s)), 1);
    if (!strstr(err, "700 ms"))
        fail_msg("no total timeout of 700 ms named: %s", err);
    free(out);
    free(err);
    rs_stop(s);

    /* connect: a port where connecting hangs */
    rs_blackhole bh;
    if (!rs_blackhole_open(&bh)) {
        rs_blackhole_close(&bh);
        test_skip("test_models_timeouts: cannot make a port where connecting hangs");
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", bh.port);
    use_config("connect_timeout_ms = 600\ntotal_timeout_ms = 60000\n");
    assert_int_equal(RUN(&out, &err, "models", "--backend", url), 1);
    if (!strstr(err, "no connection within 600 ms (connect timeout)"))
        fail_msg("no connect timeout of 600 ms named: %s", err);
    free(out);
    free(err);
    rs_blackhole_close(&bh);
}

/* ---- the store commands on known rows -------------------------------------- */

#define OK(d, call)                                                                                        \
    do {                                                                                                   \
        db_status s_ = (call);                                                                             \
        if (s_ != DB_OK)                                                                                   \
            fail_msg("%s = %d: %s", #call, s_, db_errmsg(d));                                             \
    } while (0)

typedef struct {
    int64_t conv, cust, reply1, reply2, req1;
} store_rows;

/* One conversation: a customer message, two agent replies (the first with
 * sampling settings of 16 significant digits and a request whose first
 * token came at 0 ms), both rated — the first with score 4 and a comment
 * holding control characters, the second thumbs up.  Title set by hand. */
static store_rows fill_store(const char *path, const char *title, const char *comment)
{
    unlink(path);
    db *d;
    char err[256];
    if (db_open(&d, path, err, sizeof err) != DB_OK)
        fail_msg("db_open: %s", err);
    store_rows r = {0};
    char hex[65];
    memset(hex, 'a', 64);
    hex[64] = 0;
    db_model_info mi = {.sha256 = hex, .name = "tiny\nmodel", .file_name = "tiny.gguf", .arch = "llama", .quant = "F32"};
    int64_t model;
    OK(d, db_model_use(d, &mi, &model));
    OK(d, db_conv_create(d, "support", "Be kind.", &r.conv));
    OK(d, db_msg_add(d, r.conv, DB_ROLE_CUSTOMER, "Where is it?", &r.cust));
    OK(d, db_conv_rename(d, r.conv, title));
    OK(d, db_reply_begin(d, r.conv, model, "{\"temperature\":0.1234567890123456}", 0, &r.reply1));
    OK(d, db_reply_end(d, r.reply1, "On its way.", model));
    OK(d, db_request_begin(d, model, "local", r.conv, r.reply1, 0, &r.req1));
    db_request_result res = {.outcome = DB_OUTCOME_OK, .prompt_tokens = 5, .gen_tokens = 3, .ttft_ms = 0,
                             .prefill_ms = -1, .decode_ms = -1, .latency_ms = 12, .prefill_tps = -1,
                             .decode_tps = -1, .attempts = 1};
    OK(d, db_request_finish(d, r.req1, &res));
    OK(d, db_msg_add(d, r.conv, DB_ROLE_CUSTOMER, "Thanks!", &r.cust));
    OK(d, db_reply_begin(d, r.conv, model, NULL, 0, &r.reply2));
    OK(d, db_reply_end(d, r.reply2, "You are welcome.", model));
    db_rating_in in1 = {.fields = DB_RATE_SCORE | DB_RATE_COMMENT, .score = 4, .comment = comment};
    OK(d, db_rate(d, r.reply1, "alice", &in1));
    db_rating_in in2 = {.fields = DB_RATE_THUMBS, .thumbs = 1};
    OK(d, db_rate(d, r.reply2, "bob", &in2));
    db_close(d);
    return r;
}

static void test_show_and_history(void **state)
{
    (void)state;
    const char *dbp = test_path(test_tmpdir(), "show.db");
    store_rows r = fill_store(dbp, "Ti\ttle\x01\xc2\x85 caf\xc3\xa9", "fast\x7f ok\xc2\x80\xc2\xa0!\xc2" "A");
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)r.conv);

    char *out;
    assert_int_equal(RUN(&out, NULL, "show", id, "--db", dbp), 0);
    /* the title, escaped */
    assert_non_null(strstr(out, "Ti\ttle\\x01\\x85 caf\xc3\xa9"));
    /* each message's text, indented, nothing after it */
    expect_line(out, "    Where is it?");
    expect_line(out, "    On its way.");
    /* a first token at 0 ms is a figure, not "unknown" */
    assert_non_null(strstr(out, "5+3 tokens, first token 0 ms, 12 ms in all\n"));
    expect_line(out, "    rated by alice: score 4 \"fast\\x7f ok\\x80\xc2\xa0!\xc2" "A\"");
    expect_line(out, "    rated by bob: thumbs up");
    free(out);


    assert_int_equal(RUN(&out, NULL, "history", "--db", dbp), 0);
    char want[128];
    snprintf(want, sizeof want, "  %-6s  %4d  %5d  Ti\ttle\\x01\\x85 caf\xc3\xa9\n", "open", 4, 2);
    assert_non_null(strstr(out, want));
    free(out);

    assert_int_equal(RUN(&out, NULL, "history", "--db", dbp, "--json"), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 1);
    json_t *c = json_array_get(j, 0);
    assert_int_equal(json_integer_value(json_object_get(c, "messages")), 4);
    assert_true(json_is_integer(json_object_get(c, "rated")));
    assert_int_equal(json_integer_value(json_object_get(c, "rated")), 2);
    json_decref(j);
    free(out);

    /* a message's own text is escaped like a title: a C1 control (U+009B,
     * the one-byte CSI, two bytes in UTF-8) too, on each of its lines */
    db *d;
    char err[256];
    assert_int_equal(db_open(&d, dbp, err, sizeof err), DB_OK);
    int64_t m;
    assert_int_equal(db_msg_add(d, r.conv, DB_ROLE_CUSTOMER, "line one\xc2\x9b" "2J\nline\ttwo \x1b[0m caf\xc3\xa9", &m),
                     DB_OK);
    db_close(d);
    assert_int_equal(RUN(&out, NULL, "show", id, "--db", dbp), 0);
    expect_line(out, "    line one\\x9b2J");
    expect_line(out, "    line\ttwo \\x1b[0m caf\xc3\xa9");
    assert_null(strstr(out, "\xc2\x9b"));
    free(out);
}

static void test_export_counts(void **state)
{
    (void)state;
    const char *dbp = test_path(test_tmpdir(), "export.db");
    fill_store(dbp, "Export", "fine");
    const char *outp = test_path(test_tmpdir(), "export.jsonl");
    char *out, *err;
    assert_int_equal(RUN(&out, &err, "export", "--db", dbp, "--out", outp), 0);
    char want[512];
    snprintf(want, sizeof want, "frontdesk: exported 2 replies to %s\n", outp);
    assert_string_equal(err, want);
    free(out);
    free(err);
    assert_int_equal(RUN(&out, &err, "export", "--db", dbp, "--min-score", "4", "--out", outp), 0);
    snprintf(want, sizeof want, "frontdesk: exported 1 reply to %s\n", outp);
    assert_string_equal(err, want);
    free(out);
    free(err);
    /* the stored sampling settings keep their 16 significant digits at most
     * 15: the exported line reads 0.123456789012346 */
    size_t len;
    char *text = test_read_file(outp, &len);
    assert_non_null(strstr(text, "\"sampling\":{\"temperature\":0.123456789012346}"));
    free(text);
    assert_int_equal(RUN(&out, &err, "export", "--db", dbp, "--min-score", "4", "--format", "csv"), 0);
    assert_non_null(strstr(out, "\"{\"\"temperature\"\":0.123456789012346}\""));
    free(out);
    free(err);
    /* standard output on a full disk: the export fails, and says so */
    char ferr[512];
    int rc = RUN_TO_FULL(NULL, ferr, "export", "--db", dbp);
    if (rc >= 0) {
        assert_int_equal(rc, 1);
        assert_string_equal(ferr, "frontdesk: writing the export failed: No space left on device\n");
    }
}

static void test_forget_and_stats(void **state)
{
    (void)state;
    const char *dbp = test_path(test_tmpdir(), "forget.db");
    store_rows r = fill_store(dbp, "Forget me", "x");
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)r.conv);
    char *out, *err;

    assert_int_equal(RUN(&out, NULL, "stats", "--db", dbp, "--json", "--window", "1h"), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "window")), "1h");
    json_decref(j);
    free(out);
    assert_int_equal(RUN(&out, NULL, "stats", "--db", dbp, "--prometheus"), 0);
    assert_non_null(strstr(out, "# HELP frontdesk_request_duration_seconds "));
    assert_non_null(strstr(out, "# TYPE frontdesk_request_duration_seconds histogram\n"));
    assert_non_null(strstr(out, "# HELP frontdesk_time_to_first_token_seconds "));
    assert_non_null(strstr(out, "# TYPE frontdesk_time_to_first_token_seconds histogram\n"));
    free(out);
    /* the model's name holds a newline: the label shows it escaped */
    assert_int_equal(RUN(&out, NULL, "stats", "--db", dbp, "--prometheus", "--model", "tiny\nmodel"), 0);
    if (!strstr(out, "\nfrontdesk_requests_total{model=\"tiny\\nmodel\",sha256=\""))
        fail_msg("%s", out);
    free(out);
    /* cumulative since the store began: a shorter window is refused */
    assert_int_equal(RUN(&out, &err, "stats", "--db", dbp, "--prometheus", "--window", "1h"), 2);
    free(out);
    free(err);

    assert_int_equal(RUN(&out, &err, "forget", "--conversation", id, "--db", dbp), 0);
    char want[64];
    snprintf(want, sizeof want, "conversation %s erased\n", id);
    assert_string_equal(out, want);
    free(out);
    free(err);
    assert_int_equal(RUN(&out, NULL, "purge", "--older-than", "0", "--db", dbp), 0);
    assert_string_equal(out, "0 conversation(s) older than 0 day(s) erased\n");
    free(out);

    /* another writer holds the database: purge opens it, cannot write, and
     * fails (after the store's 5 s busy wait) with exit 1 */
    sqlite3 *raw;
    assert_int_equal(sqlite3_open(dbp, &raw), SQLITE_OK);
    assert_int_equal(sqlite3_exec(raw, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(RUN(&out, &err, "purge", "--older-than", "0", "--db", dbp), 1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err, "locked"));
    free(out);
    free(err);
    sqlite3_exec(raw, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(raw);

    /* a database that cannot be opened: exit 1, for every store command */
    const char *bad = test_path(write_text("plain-file", "not a directory"), "x.db");
    assert_int_equal(RUN(NULL, NULL, "forget", "--conversation", "1", "--db", bad), 1);
    assert_int_equal(RUN(NULL, NULL, "purge", "--older-than", "1", "--db", bad), 1);
    assert_int_equal(RUN(NULL, NULL, "stats", "--db", bad), 1);
    assert_int_equal(RUN(NULL, NULL, "history", "--db", bad), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_level_spellings),
        cmocka_unit_test(test_failure_line),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_number_ranges),
        cmocka_unit_test(test_perplexity_windows),
        cmocka_unit_test(test_tokenize_full_output),
        cmocka_unit_test(test_info_lines),
        cmocka_unit_test(test_config_lines),
        cmocka_unit_test(test_models_escaping_and_key),
        cmocka_unit_test(test_models_timeouts),
        cmocka_unit_test(test_show_and_history),
        cmocka_unit_test(test_export_counts),
        cmocka_unit_test(test_forget_and_stats),
    };
    return test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
