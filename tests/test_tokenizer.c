/*
 * test_tokenizer.c — the tokenizer (engine/tokenizer.h, pretok.h, unicode.h)
 * against llama.cpp's vectors and by hand.
 *
 * Against llama.cpp (needs ../shared, skips visibly without it):
 *   - every ggml-vocab-*.gguf test vector in ref/tokenizer (7 vocabularies,
 *     add_special=false, parse_special=false) must give exactly the ids;
 *   - every record of ref/expected/ref.jsonl: its text with add_special=true
 *     gives exactly its `tokens`; its greedy ids, streamed through the
 *     detokenizer up to the first end-of-generation token, give exactly
 *     `greedy_text_hex`, and a run shorter than 32 ends on a token
 *     tok_is_eog recognises.
 * Without a reference:
 *   - pre-tokenizers with no test vectors (llama-bpe, qwen2, starcoder /
 *     smollm / refact, deepseek-coder, default) split hand-derived examples
 *     as their regexes say (each regex is quoted beside its test);
 *   - pre-tokenizer names reach the right splitter (tiny in-memory
 *     vocabularies whose merges make the word boundaries visible);
 *   - broken metadata gives errors, never crashes.
 *
 * The merge loops, specials, streaming and hostile input are
 * test_tokenizer_loops.c's; shared helpers are in tests/tok_check.h.
 */
#include "engine/gguf.h"
#include "engine/pretok.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"
#include "tests/testutil.h"
#include "tests/tok_check.h"
#include "util/util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Reference vectors ------------------------------------------------------ */

static const char *const required_vocabs[] = {"llama-spm", "phi-3", "gpt-2", "starcoder",
                                              "falcon", "deepseek-llm", "mpt"};

/* dir/name + ext, kept until exit. */
static const char *path_ext(const char *dir, const char *name, const char *ext)
{
    strbuf sb = {0};
    sb_printf(&sb, "%s%s", name, ext);
    const char *p = test_path(dir, sb.data);
    sb_free(&sb);
    return p;
}

/* One vocabulary's .inp/.out; returns the number of tests, *passed those equal. */
static size_t run_vectors(const char *dir, const char *gguf_name, size_t *passed)
{
    vocab_file vf = tc_open_vocab(test_path(dir, gguf_name));
    size_t inp_len, out_len;
    char *inp = test_read_file(path_ext(dir, gguf_name, ".inp"), &inp_len);
    char *out = test_read_file(path_ext(dir, gguf_name, ".out"), &out_len);

    static const char marker[] = "\n__ggml_vocab_test__\n";
    size_t tests = 0;
    *passed = 0;
    char *line = out;
    for (size_t pos = 0; pos < inp_len;) {
        char *hit = memmem(inp + pos, inp_len - pos, marker, sizeof marker - 1);
        if (!hit)
            break;
        size_t len = (size_t)(hit - (inp + pos));
        char *eol = strchr(line, '\n');
        if (!eol)
            fail_msg("%s: fewer lines in .out than tests in .inp", gguf_name);
        *eol = '\0';
        idvec want = {0};
        for (char *p = line, *q;; p = q) {
            long id = strtol(p, &q, 10);
            if (q == p)
                break;
            if (want.n == want.cap) {
                want.cap = want.cap ? 2 * want.cap : 64;
                want.ids = xreallocarray(want.ids, want.cap, sizeof *want.ids);
            }
            want.ids[want.n++] = (int32_t)id;
        }
        idvec got = tc_encode(vf.v, inp + pos, len, false, false);
        if (tc_same_ids(&got, want.ids, want.n)) {
            (*passed)++;
        } else {
            fprintf(stderr, "MISMATCH %s test %zu: \"%.*s\"\n", gguf_name, tests, (int)(len < 60 ? len : 60),
                    inp + pos);
            tc_print_ids("want", want.ids, want.n);
            tc_print_ids("got ", got.ids, got.n);
        }
        free(want.ids);
        free(got.ids);
        tests++;
        line = eol + 1;
        pos += len + sizeof marker - 1;
    }
    free(inp);
    free(out);
    tc_close_vocab(&vf);
    return tests;
}

static void test_vocab_vectors(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *dir = test_path(shared, "ref/tokenizer");
    DIR *d = opendir(dir);
    assert_non_null(d);
    char names[32][256];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 32;) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".gguf") == 0 && l < sizeof names[0])
            strcpy(names[n++], e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);

    size_t found_required = 0, total = 0, total_pass = 0;
    for (size_t i = 0; i < n; i++) {
        if (access(path_ext(dir, names[i], ".inp"), R_OK) != 0 ||
            access(path_ext(dir, names[i], ".out"), R_OK) != 0)
            continue;
        size_t passed, tests = run_vectors(dir, names[i], &passed);
        printf("  %-32s %zu/%zu\n", names[i], passed, tests);
        assert_true(tests > 0);
        total += tests;
        total_pass += passed;
        for (size_t k = 0; k < sizeof required_vocabs / sizeof required_vocabs[0]; k++) {
            char want[64];
            snprintf(want, sizeof want, "ggml-vocab-%s.gguf", required_vocabs[k]);
            found_required += strcmp(names[i], want) == 0;
        }
    }
    assert_int_equal(found_required, sizeof required_vocabs / sizeof required_vocabs[0]);
    assert_int_equal(total_pass, total);
}

/* ref.jsonl: prompt tokens, and greedy ids decoded back to bytes. */
static void test_reference_records(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    size_t len;
    char *jsonl = test_read_file(test_path(shared, "ref/expected/ref.jsonl"), &len);
    size_t records = 0, greedy = 0;
    char model[256] = "";
    vocab_file vf = {0};
    for (char *line = jsonl, *eol; *line; line = eol + 1) {
        eol = strchr(line, '\n');
        if (!eol)
            eol = line + strlen(line);
        if (eol == line)
            continue;
        json_error_t jerr;
        json_t *rec = json_loadb(line, (size_t)(eol - line), 0, &jerr);
        if (!rec)
            fail_msg("ref.jsonl: %s", jerr.text);
        const char *m = json_string_value(json_object_get(rec, "model"));
        const char *text = json_string_value(json_object_get(rec, "text"));
        json_t *tokens = json_object_get(rec, "tokens");
        assert_non_null(m);
        assert_non_null(text);
        assert_true(json_is_array(tokens));
        if (strcmp(m, model) != 0) {
            tc_close_vocab(&vf);
            vf = tc_open_vocab(test_path(test_path(shared, "ref/models"), m));
            snprintf(model, sizeof model, "%s", m);
        }
        json_t *add = json_object_get(rec, "add_special");
        idvec got = tc_encode(vf.v, text, strlen(text), add ? json_is_true(add) : true, false);
        size_t nt = json_array_size(tokens);
        bool ok = got.n == nt;
        for (size_t i = 0; ok && i < nt; i++)
            ok = got.ids[i] == (int32_t)json_integer_value(json_array_get(tokens, i));
        if (!ok)
            fail_msg("%s: prompt \"%.40s...\" tokenizes to %zu ids, reference %zu (or ids differ)", m,
                     text, got.n, nt);
        free(got.ids);
        records++;

        json_t *ids = json_object_get(rec, "greedy");
        const char *hex = json_string_value(json_object_get(rec, "greedy_text_hex"));
        if (ids && hex) {
            tok_stream ts;
            tok_stream_init(&ts, vf.v);
            strbuf text_out = {0};
            size_t ng = json_array_size(ids), i = 0;
            for (; i < ng; i++) {
                int32_t id = (int32_t)json_integer_value(json_array_get(ids, i));
                if (tok_is_eog(vf.v, id))
                    break;
                tok_stream_push(&ts, id, &text_out);
            }
            tok_stream_flush(&ts, &text_out);
            /* stopped early means: on an end-of-generation token, the last */
            if (ng < 32)
                assert_int_equal(i, ng - 1);
            else
                assert_int_equal(i, ng);
            strbuf want = {0};
            for (size_t k = 0; hex[k] && hex[k + 1]; k += 2) {
                unsigned byte;
                sscanf(hex + k, "%2x", &byte);
                sb_putc(&want, (char)byte);
            }
            assert_int_equal(text_out.len, want.len);
            assert_true(want.len == 0 || memcmp(text_out.data, want.data, want.len) == 0);
            sb_free(&want);
            sb_free(&text_out);
            greedy++;
        }
        json_decref(rec);
        if (!*eol)
            break;
    }
    tc_close_vocab(&vf);
    free(jsonl);
    printf("  ref.jsonl: %zu prompts tokenized exactly, %zu greedy runs decoded exactly\n", records, greedy);
    assert_true(records >= 60);
    assert_true(greedy > 0);
}

/* ---- Pre-tokenizers, by hand --------------------------------------------------- */

/* Split `text` with `kind`; compare with the NULL-terminated expected words. */
static void expect_split(pretok_kind kind, const char *text, const char *const *want)
{
    size_t len = strlen(text), n = 0;
    uint32_t cps[256];
    for (size_t off = 0, adv; off < len && n < 256; off += adv)
        cps[n++] = uni_decode((const unsigned char *)text + off, len - off, &adv);
    pretok_words w = {0};
    pretok_split(kind, cps, n, &w);
    size_t at = 0, nw = 0; /* at: byte offset into text */
    bool ok = true;
    for (size_t i = 0; i < w.n; i++) {
        size_t bytes = 0, cpi = 0;
        for (size_t k = 0; k < i; k++)
            cpi += w.len[k];
        for (size_t k = 0; k < w.len[i]; k++) {
            unsigned char u[4];
            bytes += util_utf8_encode(cps[cpi + k], u);
        }
        if (!want[nw] || strlen(want[nw]) != bytes || memcmp(want[nw], text + at, bytes) != 0)
            ok = false;
        at += bytes;
        if (want[nw])
            nw++;
    }
    if (!ok || want[nw]) {
        fprintf(stderr, "split of \"%s\" (kind %d):\n  got :", text, (int)kind);
        for (size_t i = 0, a = 0, c = 0; i < w.n; i++) {
            size_t bytes = 0;
            for (size_t k = 0; k < w.len[i]; k++, c++) {
                unsigned char u[4];
                bytes += util_utf8_encode(cps[c], u);
            }
            fprintf(stderr, " [%.*s]", (int)bytes, text + a);
            a += bytes;
        }
        fprintf(stderr, "\n  want:");
        for (size_t i = 0; want[i]; i++)
            fprintf(stderr, " [%s]", want[i]);
        fprintf(stderr, "\n");
        fail();
    }
    pretok_words_free(&w);
}

#define SPLIT(kind, text, ...) expect_split(kind, text, (const char *const[]){__VA_ARGS__, NULL})

static const char sample[] = "Hello world 12345 it's  OK\n\n  x";

/* llama-bpe: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *            ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+          */
static void test_split_llama3(void **state)
{
    (void)state;
    SPLIT(PRETOK_LLAMA3, sample, "Hello", " world", " ", "123", "45", " it", "'s", " ", " OK", "\n\n",
          " ", " x");
    SPLIT(PRETOK_LLAMA3, "IT'S 1234567", "IT", "'S", " ", "123", "456", "7"); /* (?i:...) */
    SPLIT(PRETOK_LLAMA3, "\xC3\x84pfel 3.14\xE2\x82\xAC", "\xC3\x84pfel", " ", "3", ".", "14", "\xE2\x82\xAC");
    SPLIT(PRETOK_LLAMA3, "(foo)\r\n\tbar", "(foo", ")\r\n", "\tbar");
    SPLIT(PRETOK_LLAMA3, "a   ", "a", "   "); /* \s+(?!\S) takes a final run whole */
}

/* qwen2: (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|
 *        [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static void test_split_qwen2(void **state)
{
    (void)state;
    SPLIT(PRETOK_QWEN2, sample, "Hello", " world", " ", "1", "2", "3", "4", "5", " it", "'s", " ", " OK",
          "\n\n", " ", " x");
    SPLIT(PRETOK_QWEN2, "WE'VE 2024!", "WE", "'VE", " ", "2", "0", "2", "4", "!");
    SPLIT(PRETOK_QWEN2, "x = \xE4\xBD\xA0\xE5\xA5\xBD;\n", "x", " =", " \xE4\xBD\xA0\xE5\xA5\xBD", ";\n");
}

/* starcoder, refact, smollm: \p{N} first, then GPT-2's
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * in each piece (so a blank before a digit ends its piece on its own). */
static void test_split_starcoder(void **state)
{
    (void)state;
    SPLIT(PRETOK_STARCODER, sample, "Hello", " world", " ", "1", "2", "3", "4", "5", " it", "'s", " ",
          " OK", "\n\n ", " x");
    SPLIT(PRETOK_STARCODER, "IT'S x2y", "IT", "'", "S", " x", "2", "y"); /* case-sensitive 's */
}

/* deepseek-coder: [\r\n] | \s?\p{L}+ | \s?\p{P}+ | [一-龥ࠀ-一가-퟿]+ | \p{N}, one
 * after the other; text between matches stays a piece of its own. */
static void test_split_deepseek_coder(void **state)
{
    (void)state;
    SPLIT(PRETOK_DEEPSEEK_CODER, sample, "Hello", " world", " ", "1", "2", "3", "4", "5", " it", "'", "s",
          " ", " OK", "\n", "\n", " ", " x");
    /* 你好 are \p{L}, so step 2 keeps "你好world" whole; step 4 cuts it */
    SPLIT(PRETOK_DEEPSEEK_CODER, "\xE4\xBD\xA0\xE5\xA5\xBDworld!!", "\xE4\xBD\xA0\xE5\xA5\xBD", "world", "!!");
}

/* default (no pre-tokenizer named): [\p{P}\$\+<=>\^~\|]+, then GPT-2's regex,
 * then \p{N}+, then [0-9][0-9][0-9]. */
static void test_split_default(void **state)
{
    (void)state;
    SPLIT(PRETOK_DEFAULT, "a+b=12345!", "a", "+", "b", "=", "123", "45", "!");
    SPLIT(PRETOK_DEFAULT, "Hi   there", "Hi", "  ", " there");
}

/* GPT-2 itself, for the \s+(?!\S) rule at piece ends. */
static void test_split_gpt2(void **state)
{
    (void)state;
    SPLIT(PRETOK_GPT2, "a   b", "a", "  ", " b");
    SPLIT(PRETOK_GPT2, "a   ", "a", "   ");
    SPLIT(PRETOK_GPT2, "\t\tx", "\t", "\t", "x");
    SPLIT(PRETOK_GPT2, "you'll 42", "you", "'ll", " 42");
}

/* ---- Pre-tokenizer names, end to end ----------------------------------------------- */

/* Merges that rebuild "123" and "world" as single tokens make the word
 * boundaries of "1234 world" visible in the ids. */
static void test_pre_names(void **state)
{
    (void)state;
    static const char *const merges[] = {"1 2", "12 3", "w o", "wo r", "wor l", "worl d",
                                         "\xC4\xA0 world"};
    enum { T12 = 256, T123, TWO, TWOR, TWORL, TWORLD, TSPWORLD };
    static const struct {
        const char *pre;
        int32_t want[6];
        size_t n;
    } cases[] = {
        {"llama-bpe", {T123, '4', TSPWORLD}, 3},              /* \p{N}{1,3} */
        {"qwen2", {'1', '2', '3', '4', TSPWORLD}, 5},         /* \p{N} */
        {"smollm", {'1', '2', '3', '4', TSPWORLD}, 5},        /* \p{N}, then GPT-2 */
        {"refact", {'1', '2', '3', '4', TSPWORLD}, 5},
        {"starcoder", {'1', '2', '3', '4', TSPWORLD}, 5},
        {"deepseek-coder", {'1', '2', '3', '4', TSPWORLD}, 5},
        {"gpt-2", {T123, '4', TSPWORLD}, 3},                  /* ?\p{N}+ then merges */
        {"falcon", {T123, '4', TSPWORLD}, 3},                 /* [0-9]{3} cuts "123" */
        {NULL, {T123, '4', TSPWORLD}, 3},                     /* no pre: "default" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vocab_file vf;
        char err[256];
        if (tc_build_bpe(&vf, cases[i].pre, merges, sizeof merges / sizeof merges[0], err, sizeof err))
            fail_msg("%s: %s", cases[i].pre ? cases[i].pre : "(none)", err);
        assert_string_equal(tok_pre_name(vf.v), cases[i].pre ? cases[i].pre : "default");
        assert_string_equal(tok_type_name(vf.v), "gpt2");
        idvec got = tc_encode(vf.v, "1234 world", 10, false, false);
        if (!tc_same_ids(&got, cases[i].want, cases[i].n)) {
            tc_print_ids(cases[i].pre ? cases[i].pre : "default", got.ids, got.n);
            fail_msg("pre-tokenizer '%s' split \"1234 world\" wrongly", cases[i].pre);
        }
        /* BPE vocabularies add no BOS by default, Llama 3's does */
        idvec with = tc_encode(vf.v, "x", 1, true, false);
        bool llama3 = cases[i].pre && strcmp(cases[i].pre, "llama-bpe") == 0;
        assert_int_equal(with.n, llama3 ? 2 : 1);
        free(with.ids);
        free(got.ids);
        tc_close_vocab(&vf);
    }
}

static void test_bad_metadata(void **state)
{
    (void)state;
    vocab_file vf;
    char err[256];
    static const char *const merges[] = {"a b"};

    assert_int_equal(tc_build_bpe(&vf, "frobnicate-9", merges, 1, err, sizeof err), TOK_EUNSUP);
    assert_non_null(strstr(err, "'frobnicate-9'"));
    assert_non_null(strstr(err, "tokenizer.ggml.pre"));
    assert_null(vf.v);
    tc_close_vocab(&vf);

    gguf_builder g = {0};
    tc_kv_str(&g, "tokenizer.ggml.model", "bert");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"a"}, 1);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EUNSUP);
    assert_non_null(strstr(err, "'bert'"));
    tc_close_vocab(&vf);

    tc_kv_str(&g, "tokenizer.ggml.model", "gpt2"); /* no merges */
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"a"}, 1);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.merges"));
    tc_close_vocab(&vf);

    tc_kv_str(&g, "tokenizer.ggml.model", "llama"); /* no tokens */
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.tokens"));
    tc_close_vocab(&vf);

    tc_kv_str(&g, "tokenizer.ggml.model", "llama");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>", "a", "a"}, 5);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "duplicate token 'a'"));
    tc_close_vocab(&vf);

    tc_kv_str(&g, "tokenizer.ggml.model", "llama");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>"}, 3);
    tc_kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, (const float[]){0, 0}, 2);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.scores"));
    tc_close_vocab(&vf);

    tc_kv_str(&g, "tokenizer.ggml.model", "llama");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>"}, 3);
    tc_kv_nums(&g, "tokenizer.ggml.token_type", GGUF_TYPE_FLOAT32, (const float[]){1, 1, 1}, 3);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.token_type"));
    tc_close_vocab(&vf);

    /* BOS asked for but the id is "none" (and the default 1 is out of range) */
    tc_kv_str(&g, "tokenizer.ggml.model", "llama");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>"}, 1);
    tc_kv_u32(&g, "tokenizer.ggml.bos_token_id", 4294967295u);
    tc_kv_bool(&g, "tokenizer.ggml.add_bos_token", true);
    assert_int_equal(tc_load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.add_bos_token"));
    tc_close_vocab(&vf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_vectors),
        cmocka_unit_test(test_reference_records),
        cmocka_unit_test(test_split_llama3),
        cmocka_unit_test(test_split_qwen2),
        cmocka_unit_test(test_split_starcoder),
        cmocka_unit_test(test_split_deepseek_coder),
        cmocka_unit_test(test_split_default),
        cmocka_unit_test(test_split_gpt2),
        cmocka_unit_test(test_pre_names),
        cmocka_unit_test(test_bad_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
