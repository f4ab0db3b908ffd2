/*
 * test_tokenizer.c — the tokenizer (engine/tokenizer.h, pretok.h, unicode.h).
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
 *   - the heap-based merge loops agree with naive O(n^2) BPE and
 *     SentencePiece on random words over random vocabularies;
 *   - the streaming decoder never releases half a UTF-8 character;
 *   - invalid UTF-8, NUL bytes and broken metadata give ids or errors,
 *     never crashes (run under ASan by `make asan`).
 */
#include "engine/gguf.h"
#include "engine/pretok.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------ */

typedef struct {
    int32_t *ids;
    size_t n, cap;
} idvec;

/* A vocabulary and the GGUF file it was read from. */
typedef struct {
    gguf_file *f;
    tok_vocab *v;
    void *image; /* in-memory files: the bytes */
} vocab_file;

static vocab_file open_vocab(const char *path)
{
    vocab_file vf = {0};
    char err[512];
    if (gguf_open(&vf.f, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s: %s", path, err);
    if (tok_load(&vf.v, vf.f, err, sizeof err) != TOK_OK)
        fail_msg("%s: %s", path, err);
    return vf;
}

static void close_vocab(vocab_file *vf)
{
    tok_free(vf->v);
    gguf_close(vf->f);
    free(vf->image);
    memset(vf, 0, sizeof *vf);
}

static idvec encode(const tok_vocab *v, const char *text, size_t len, bool add, bool parse)
{
    idvec r = {0};
    char err[256];
    int rc = tok_encode(v, text, len, add, parse, &r.ids, &r.n, &r.cap, err, sizeof err);
    if (rc != TOK_OK)
        fail_msg("tok_encode: %s", err);
    return r;
}

static bool same_ids(const idvec *a, const int32_t *b, size_t n)
{
    return a->n == n && (n == 0 || memcmp(a->ids, b, n * sizeof *b) == 0);
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s:", label);
    for (size_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Whether p[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
static bool utf8_valid(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t cp = uni_decode(p + i, n - i, &adv);
        unsigned char u[4];
        if ((cp == 0xFFFD && (adv != 3 || memcmp(p + i, "\xEF\xBF\xBD", 3) != 0)) ||
            (cp >= 0xD800 && cp <= 0xDFFF) || util_utf8_encode(cp, u) != adv)
            return false;
        i += adv;
    }
    return true;
}

/* ---- In-memory GGUF vocabularies ----------------------------------------- */

typedef struct {
    strbuf kv;
    uint64_t n_kv;
} gguf_builder;

static void put_le(strbuf *b, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        sb_putc(b, (char)(uint8_t)(v >> (8 * i)));
}

static void put_str(strbuf *b, const char *s, size_t n)
{
    put_le(b, n, 8);
    sb_append(b, s, n);
}

static void kv_head(gguf_builder *g, const char *key, uint32_t type)
{
    put_str(&g->kv, key, strlen(key));
    put_le(&g->kv, type, 4);
    g->n_kv++;
}

static void kv_str(gguf_builder *g, const char *key, const char *val)
{
    kv_head(g, key, GGUF_TYPE_STRING);
    put_str(&g->kv, val, strlen(val));
}

static void kv_u32(gguf_builder *g, const char *key, uint32_t val)
{
    kv_head(g, key, GGUF_TYPE_UINT32);
    put_le(&g->kv, val, 4);
}

static void kv_bool(gguf_builder *g, const char *key, bool val)
{
    kv_head(g, key, GGUF_TYPE_BOOL);
    put_le(&g->kv, val, 1);
}

static void kv_strs(gguf_builder *g, const char *key, const char *const *items, size_t n)
{
    kv_head(g, key, GGUF_TYPE_ARRAY);
    put_le(&g->kv, GGUF_TYPE_STRING, 4);
    put_le(&g->kv, n, 8);
    for (size_t i = 0; i < n; i++)
        put_str(&g->kv, items[i], strlen(items[i]));
}

static void kv_nums(gguf_builder *g, const char *key, uint32_t type, const void *items, size_t n)
{
    kv_head(g, key, GGUF_TYPE_ARRAY);
    put_le(&g->kv, type, 4);
    put_le(&g->kv, n, 8);
    sb_append(&g->kv, items, 4 * n); /* i32/f32, little-endian host */
}

/* Finish the image and load it; returns the tok_load status (vf->v set on
 * success, err filled otherwise). */
static int load_built(gguf_builder *g, vocab_file *vf, char *err, size_t errlen)
{
    strbuf img = {0};
    sb_append(&img, "GGUF", 4);
    put_le(&img, 3, 4);
    put_le(&img, 0, 8);
    put_le(&img, g->n_kv, 8);
    sb_append(&img, g->kv.data, g->kv.len);
    sb_free(&g->kv);
    g->n_kv = 0;
    memset(vf, 0, sizeof *vf);
    vf->image = img.data;
    if (gguf_open_memory(&vf->f, img.data, img.len, err, errlen) != GGUF_OK)
        fail_msg("gguf_open_memory: %s", err);
    return tok_load(&vf->v, vf->f, err, errlen);
}

/* The GGUF text of byte b in GPT-2's alphabet (static storage per byte). */
static const char *byte_text(unsigned b)
{
    static char texts[256][4];
    unsigned char u[4];
    size_t n = util_utf8_encode(uni_byte_to_cp((unsigned char)b), u);
    memcpy(texts[b], u, n);
    texts[b][n] = '\0';
    return texts[b];
}

/* A byte-level BPE vocabulary: the 256 byte tokens (id = byte), then one
 * token per merge result; `pre` NULL leaves tokenizer.ggml.pre out. */
static int build_bpe(vocab_file *vf, const char *pre, const char *const *merges, size_t n_merges,
                     char *err, size_t errlen)
{
    const char *toks[256 + 64];
    char merged[64][32];
    size_t n = 0;
    for (unsigned b = 0; b < 256; b++)
        toks[n++] = byte_text(b);
    for (size_t i = 0; i < n_merges; i++) {
        const char *sp = strchr(merges[i], ' ');
        snprintf(merged[i], sizeof merged[i], "%.*s%s", (int)(sp - merges[i]), merges[i], sp + 1);
        toks[n++] = merged[i];
    }
    gguf_builder g = {0};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    if (pre)
        kv_str(&g, "tokenizer.ggml.pre", pre);
    kv_strs(&g, "tokenizer.ggml.tokens", toks, n);
    kv_strs(&g, "tokenizer.ggml.merges", merges, n_merges);
    return load_built(&g, vf, err, errlen);
}

/* A SentencePiece vocabulary with byte tokens: <unk> <s> </s>, <0x00>..<0xFF>
 * (ids 3..258), then "▁" (259) and "▁a" (260). */
enum { SPM_BYTE0 = 3, SPM_SPACE = 259, SPM_SPACE_A = 260 };
static int build_spm(vocab_file *vf, char *err, size_t errlen)
{
    static char hex[256][8];
    const char *toks[261];
    int32_t types[261];
    float scores[261] = {0};
    toks[0] = "<unk>", toks[1] = "<s>", toks[2] = "</s>";
    types[0] = 2, types[1] = 3, types[2] = 3; /* UNKNOWN, CONTROL */
    for (int b = 0; b < 256; b++) {
        snprintf(hex[b], sizeof hex[b], "<0x%02X>", b);
        toks[SPM_BYTE0 + b] = hex[b];
        types[SPM_BYTE0 + b] = 6; /* BYTE */
    }
    toks[SPM_SPACE] = "\xE2\x96\x81", types[SPM_SPACE] = 1;
    toks[SPM_SPACE_A] = "\xE2\x96\x81" "a", types[SPM_SPACE_A] = 1;
    gguf_builder g = {0};
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, 261);
    kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 261);
    kv_nums(&g, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 261);
    return load_built(&g, vf, err, errlen);
}

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
    vocab_file vf = open_vocab(test_path(dir, gguf_name));
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
        idvec got = encode(vf.v, inp + pos, len, false, false);
        if (same_ids(&got, want.ids, want.n)) {
            (*passed)++;
        } else {
            fprintf(stderr, "MISMATCH %s test %zu: \"%.*s\"\n", gguf_name, tests, (int)(len < 60 ? len : 60),
                    inp + pos);
            print_ids("want", want.ids, want.n);
            print_ids("got ", got.ids, got.n);
        }
        free(want.ids);
        free(got.ids);
        tests++;
        line = eol + 1;
        pos += len + sizeof marker - 1;
    }
    free(inp);
    free(out);
    close_vocab(&vf);
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
            close_vocab(&vf);
            vf = open_vocab(test_path(test_path(shared, "ref/models"), m));
            snprintf(model, sizeof model, "%s", m);
        }
        json_t *add = json_object_get(rec, "add_special");
        idvec got = encode(vf.v, text, strlen(text), add ? json_is_true(add) : true, false);
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
    close_vocab(&vf);
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
        if (build_bpe(&vf, cases[i].pre, merges, sizeof merges / sizeof merges[0], err, sizeof err))
            fail_msg("%s: %s", cases[i].pre ? cases[i].pre : "(none)", err);
        assert_string_equal(tok_pre_name(vf.v), cases[i].pre ? cases[i].pre : "default");
        assert_string_equal(tok_type_name(vf.v), "gpt2");
        idvec got = encode(vf.v, "1234 world", 10, false, false);
        if (!same_ids(&got, cases[i].want, cases[i].n)) {
            print_ids(cases[i].pre ? cases[i].pre : "default", got.ids, got.n);
            fail_msg("pre-tokenizer '%s' split \"1234 world\" wrongly", cases[i].pre);
        }
        /* BPE vocabularies add no BOS by default, Llama 3's does */
        idvec with = encode(vf.v, "x", 1, true, false);
        bool llama3 = cases[i].pre && strcmp(cases[i].pre, "llama-bpe") == 0;
        assert_int_equal(with.n, llama3 ? 2 : 1);
        free(with.ids);
        free(got.ids);
        close_vocab(&vf);
    }
}

static void test_bad_metadata(void **state)
{
    (void)state;
    vocab_file vf;
    char err[256];
    static const char *const merges[] = {"a b"};

    assert_int_equal(build_bpe(&vf, "frobnicate-9", merges, 1, err, sizeof err), TOK_EUNSUP);
    assert_non_null(strstr(err, "'frobnicate-9'"));
    assert_non_null(strstr(err, "tokenizer.ggml.pre"));
    assert_null(vf.v);
    close_vocab(&vf);

    gguf_builder g = {0};
    kv_str(&g, "tokenizer.ggml.model", "bert");
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"a"}, 1);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EUNSUP);
    assert_non_null(strstr(err, "'bert'"));
    close_vocab(&vf);

    kv_str(&g, "tokenizer.ggml.model", "gpt2"); /* no merges */
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"a"}, 1);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.merges"));
    close_vocab(&vf);

    kv_str(&g, "tokenizer.ggml.model", "llama"); /* no tokens */
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.tokens"));
    close_vocab(&vf);

    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>", "a", "a"}, 5);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "duplicate token 'a'"));
    close_vocab(&vf);

    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>"}, 3);
    kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, (const float[]){0, 0}, 2);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.scores"));
    close_vocab(&vf);

    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>", "<s>", "</s>"}, 3);
    kv_nums(&g, "tokenizer.ggml.token_type", GGUF_TYPE_FLOAT32, (const float[]){1, 1, 1}, 3);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.token_type"));
    close_vocab(&vf);

    /* BOS asked for but the id is "none" (and the default 1 is out of range) */
    kv_str(&g, "tokenizer.ggml.model", "llama");
    kv_strs(&g, "tokenizer.ggml.tokens", (const char *const[]){"<unk>"}, 1);
    kv_u32(&g, "tokenizer.ggml.bos_token_id", 4294967295u);
    kv_bool(&g, "tokenizer.ggml.add_bos_token", true);
    assert_int_equal(load_built(&g, &vf, err, sizeof err), TOK_EBAD);
    assert_non_null(strstr(err, "tokenizer.ggml.add_bos_token"));
    close_vocab(&vf);
}

/* ---- Merge loops against naive versions ----------------------------------------- */

/* Textbook BPE: merge the lowest-ranked adjacent pair (leftmost on ties)
 * until none is left; symbols are single letters 'a'..'e' and merge i
 * joins tokens left[i] and right[i] into token 5 + i. */
static size_t naive_bpe(const char *word, const int *ml, const int *mr, int nm, int32_t *out)
{
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++)
        out[i] = word[i] - 'a';
    for (;;) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++)
            for (int r = 0; r < nm && (best < 0 || r < best); r++)
                if (ml[r] == out[i] && mr[r] == out[i + 1]) {
                    best = r;
                    at = i;
                }
        if (best < 0)
            return n;
        out[at] = 5 + best;
        memmove(out + at + 1, out + at + 2, (n - at - 2) * sizeof *out);
        n--;
    }
}

static void test_bpe_against_naive(void **state)
{
    (void)state;
    uint64_t rng = 42;
    for (int round = 0; round < 30; round++) {
        /* tokens: "a".."e", then one per merge; texts in GPT-2's alphabet are
         * the letters themselves */
        char texts[64][64];
        const char *toks[64], *merges[40];
        char merge_text[40][130];
        int ml[40], mr[40], nm = 0;
        for (int i = 0; i < 5; i++) {
            texts[i][0] = (char)('a' + i), texts[i][1] = '\0';
            toks[i] = texts[i];
        }
        int ntok = 5;
        while (nm < 30) {
            int l = (int)(rng_next(&rng) % (uint64_t)ntok), r = (int)(rng_next(&rng) % (uint64_t)ntok);
            if (strlen(texts[l]) + strlen(texts[r]) >= 64)
                continue;
            char joined[128];
            snprintf(joined, sizeof joined, "%s%s", texts[l], texts[r]);
            bool dup = false;
            for (int k = 0; k < ntok; k++)
                dup |= strcmp(texts[k], joined) == 0;
            if (dup)
                continue;
            memcpy(texts[ntok], joined, strlen(joined) + 1);
            toks[ntok] = texts[ntok];
            snprintf(merge_text[nm], sizeof merge_text[nm], "%s %s", texts[l], texts[r]);
            merges[nm] = merge_text[nm];
            ml[nm] = l, mr[nm] = r;
            nm++, ntok++;
        }
        gguf_builder g = {0};
        kv_str(&g, "tokenizer.ggml.model", "gpt2");
        kv_str(&g, "tokenizer.ggml.pre", "gpt-2");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, (size_t)ntok);
        kv_strs(&g, "tokenizer.ggml.merges", merges, (size_t)nm);
        vocab_file vf;
        char err[256];
        if (load_built(&g, &vf, err, sizeof err))
            fail_msg("%s", err);
        for (int w = 0; w < 200; w++) {
            char word[40];
            size_t n = 1 + rng_next(&rng) % 30;
            for (size_t i = 0; i < n; i++)
                word[i] = (char)('a' + rng_next(&rng) % 5);
            word[n] = '\0';
            int32_t want[40];
            size_t nw = naive_bpe(word, ml, mr, nm, want);
            idvec got = encode(vf.v, word, n, false, false);
            if (!same_ids(&got, want, nw)) {
                print_ids("naive", want, nw);
                print_ids("heap ", got.ids, got.n);
                fail_msg("BPE of \"%s\" differs from the naive merge loop", word);
            }
            free(got.ids);
        }
        close_vocab(&vf);
    }
}

/* Textbook SentencePiece: merge the adjacent pair whose concatenation is the
 * best-scoring token (leftmost on ties) until no pair is a token. */
static size_t naive_spm(const tok_vocab *v, const float *score, const char *text, int32_t *out)
{
    char sym[64][64];
    size_t n = 0;
    snprintf(sym[n++], 64, "\xE2\x96\x81"); /* the '▁' SentencePiece prepends */
    for (const char *p = text; *p; p++)
        snprintf(sym[n++], 64, "%c", *p);
    for (;;) {
        int best = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            char joined[128];
            size_t a = strlen(sym[i]), b = strlen(sym[i + 1]);
            memcpy(joined, sym[i], a);
            memcpy(joined + a, sym[i + 1], b);
            int32_t id = tok_find(v, joined, a + b);
            if (id >= 0 && (best < 0 || score[id] > score[best])) {
                best = id;
                at = i;
            }
        }
        if (best < 0)
            break;
        size_t a = strlen(sym[at]), b = strlen(sym[at + 1]);
        memcpy(sym[at] + a, sym[at + 1], b + 1);
        memmove(sym[at + 1], sym[at + 2], (n - at - 2) * sizeof sym[0]);
        n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = tok_find(v, sym[i], strlen(sym[i]));
    return n;
}

static void test_spm_against_naive(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int round = 0; round < 30; round++) {
        char texts[48][64];
        const char *toks[48];
        float score[48];
        int ntok = 0;
        snprintf(texts[ntok++], 64, "\xE2\x96\x81");
        for (int i = 0; i < 4; i++)
            snprintf(texts[ntok++], 64, "%c", 'a' + i);
        while (ntok < 48) {
            int l = (int)(rng_next(&rng) % (uint64_t)ntok), r = 1 + (int)(rng_next(&rng) % (uint64_t)(ntok - 1));
            char joined[128];
            snprintf(joined, sizeof joined, "%s%s", texts[l], texts[r]);
            bool dup = strlen(joined) >= 64;
            for (int k = 0; k < ntok && !dup; k++)
                dup = strcmp(texts[k], joined) == 0;
            if (!dup)
                memcpy(texts[ntok++], joined, strlen(joined) + 1);
        }
        for (int i = 0; i < ntok; i++) {
            toks[i] = texts[i];
            score[i] = -(float)(rng_next(&rng) % 16); /* many ties on purpose */
        }
        gguf_builder g = {0};
        kv_str(&g, "tokenizer.ggml.model", "llama");
        kv_strs(&g, "tokenizer.ggml.tokens", toks, (size_t)ntok);
        kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, score, (size_t)ntok);
        kv_u32(&g, "tokenizer.ggml.bos_token_id", 0);
        kv_u32(&g, "tokenizer.ggml.eos_token_id", 0);
        vocab_file vf;
        char err[256];
        if (load_built(&g, &vf, err, sizeof err))
            fail_msg("%s", err);
        for (int w = 0; w < 200; w++) {
            char word[40];
            size_t n = 1 + rng_next(&rng) % 30;
            for (size_t i = 0; i < n; i++)
                word[i] = (char)('a' + rng_next(&rng) % 4);
            word[n] = '\0';
            int32_t want[64];
            size_t nw = naive_spm(vf.v, score, word, want);
            idvec got = encode(vf.v, word, n, false, false);
            if (!same_ids(&got, want, nw)) {
                print_ids("naive", want, nw);
                print_ids("heap ", got.ids, got.n);
                fail_msg("SentencePiece of \"%s\" differs from the naive merge loop", word);
            }
            free(got.ids);
        }
        close_vocab(&vf);
    }
}

/* ---- Specials, pieces, streaming --------------------------------------------------- */

static void test_special_tokens(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *tdir = test_path(shared, "ref/tokenizer");

    /* stories260K stores 4294967295 for "no padding token" */
    vocab_file vf = open_vocab(test_path(shared, "ref/models/stories260K.gguf"));
    assert_int_equal(tok_bos(vf.v), 1);
    assert_int_equal(tok_eos(vf.v), 2);
    assert_int_equal(tok_pad(vf.v), -1);
    assert_true(tok_adds_bos(vf.v));
    assert_false(tok_adds_eos(vf.v));
    assert_true(tok_is_eog(vf.v, 2));
    assert_false(tok_is_eog(vf.v, 1));
    assert_string_equal(tok_type_name(vf.v), "llama");
    idvec e = encode(vf.v, "", 0, true, false); /* OG SentencePiece: "" -> [BOS] */
    assert_true(same_ids(&e, (const int32_t[]){1}, 1));
    free(e.ids);
    close_vocab(&vf);

    /* StarCoder: <fim_prefix> is CONTROL, recognised only on request;
     * <|endoftext|> and <fim_pad> end generation */
    vf = open_vocab(test_path(tdir, "ggml-vocab-starcoder.gguf"));
    assert_string_equal(tok_pre_name(vf.v), "starcoder");
    assert_false(tok_adds_bos(vf.v));
    assert_true(tok_is_eog(vf.v, 0));
    assert_true(tok_is_eog(vf.v, tok_find(vf.v, "<fim_pad>", 9)));
    assert_false(tok_is_eog(vf.v, tok_find(vf.v, "<fim_prefix>", 12)));
    idvec plain = encode(vf.v, "<fim_prefix>x", 13, false, false);
    idvec parsed = encode(vf.v, "<fim_prefix>x", 13, false, true);
    assert_true(plain.n > 2);
    assert_int_equal(parsed.n, 2);
    assert_int_equal(parsed.ids[0], 1);
    assert_true(tok_is_control(vf.v, 1));
    char buf[32];
    assert_int_equal(tok_piece(vf.v, 1, buf, sizeof buf), 0); /* hidden */
    assert_int_equal(tok_piece_ex(vf.v, 1, true, buf, sizeof buf), 12);
    assert_memory_equal(buf, "<fim_prefix>", 12);
    free(plain.ids);
    free(parsed.ids);
    close_vocab(&vf);

    /* Phi-3 (general.name "Phi3"): special tokens swallow the blanks after them */
    vf = open_vocab(test_path(tdir, "ggml-vocab-phi-3.gguf"));
    int32_t user = tok_find(vf.v, "<|user|>", 8);
    assert_true(user >= 0);
    idvec hi = encode(vf.v, "Hi", 2, false, false);
    idvec turn = encode(vf.v, "<|user|>\n Hi", 12, false, true);
    assert_true(turn.n == hi.n + 1 && turn.ids[0] == user);
    assert_memory_equal(turn.ids + 1, hi.ids, hi.n * sizeof *hi.ids);
    assert_true(tok_is_eog(vf.v, tok_find(vf.v, "<|end|>", 7)));
    free(hi.ids);
    free(turn.ids);
    close_vocab(&vf);

    /* MPT: its runs of blanks are USER_DEFINED, cut out even without
     * parse_special (the test vectors depend on it too) */
    vf = open_vocab(test_path(tdir, "ggml-vocab-mpt.gguf"));
    int32_t four = tok_find(vf.v, "    ", 4);
    assert_true(four >= 0);
    idvec sp = encode(vf.v, "a    b", 6, false, false);
    bool has_four = false;
    for (size_t i = 0; i < sp.n; i++)
        has_four |= sp.ids[i] == four;
    assert_true(has_four);
    free(sp.ids);
    close_vocab(&vf);
}

static void test_pieces(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *tdir = test_path(shared, "ref/tokenizer");
    vocab_file vf = open_vocab(test_path(tdir, "ggml-vocab-llama-spm.gguf"));
    char buf[64];
    int32_t hello = tok_find(vf.v, "\xE2\x96\x81Hello", 8);
    assert_true(hello >= 0);
    assert_int_equal(tok_piece(vf.v, hello, buf, sizeof buf), 6);
    assert_memory_equal(buf, " Hello", 6);
    assert_int_equal(tok_piece(vf.v, hello, buf, 3), 6); /* full length, 3 written */
    assert_int_equal(tok_piece(vf.v, tok_find(vf.v, "<0x0A>", 6), buf, sizeof buf), 1);
    assert_int_equal(buf[0], '\n');
    assert_int_equal(tok_piece(vf.v, 1, buf, sizeof buf), 0); /* <s> */
    assert_int_equal(tok_piece(vf.v, -1, buf, sizeof buf), 0);
    assert_int_equal(tok_piece(vf.v, tok_n_vocab(vf.v), buf, sizeof buf), 0);
    assert_true(tok_max_piece(vf.v) >= 6);
    close_vocab(&vf);

    vf = open_vocab(test_path(tdir, "ggml-vocab-gpt-2.gguf"));
    int32_t space_the = tok_find(vf.v, "\xC4\xA0the", 5);
    assert_true(space_the >= 0);
    assert_int_equal(tok_piece(vf.v, space_the, buf, sizeof buf), 4);
    assert_memory_equal(buf, " the", 4);
    assert_int_equal(tok_find(vf.v, " the", 4), -1); /* the alphabet spells the space */
    size_t len;
    assert_memory_equal(tok_text(vf.v, space_the, &len), "\xC4\xA0the", 5);
    assert_int_equal(len, 5);
    close_vocab(&vf);
}

/* Push ids one by one; every chunk released must be whole UTF-8, and the
 * total must equal `want`. */
static void stream_check(const tok_vocab *v, const int32_t *ids, size_t n, const char *want, size_t want_len)
{
    tok_stream ts;
    tok_stream_init(&ts, v);
    strbuf all = {0}, chunk = {0};
    for (size_t i = 0; i < n; i++) {
        sb_clear(&chunk);
        size_t got = tok_stream_push(&ts, ids[i], &chunk);
        assert_int_equal(got, chunk.len);
        if (!utf8_valid((const unsigned char *)chunk.data, chunk.len))
            fail_msg("stream released an incomplete character after token %zu", i);
        sb_append(&all, chunk.data, chunk.len);
    }
    sb_clear(&chunk);
    tok_stream_flush(&ts, &chunk);
    sb_append(&all, chunk.data, chunk.len);
    assert_int_equal(all.len, want_len);
    assert_memory_equal(all.data, want, want_len);
    sb_free(&all);
    sb_free(&chunk);
}

/* 你 (E4 BD A0) and 🦙 (F0 9F A6 99) exist only as byte tokens here. */
static void test_stream_bytes(void **state)
{
    (void)state;
    vocab_file vf;
    char err[256];
    if (build_spm(&vf, err, sizeof err))
        fail_msg("%s", err);
    idvec ids = encode(vf.v, "\xE4\xBD\xA0 a\xF0\x9F\xA6\x99", 9, true, false);
    const int32_t want[] = {1, SPM_SPACE, SPM_BYTE0 + 0xE4, SPM_BYTE0 + 0xBD, SPM_BYTE0 + 0xA0,
                            SPM_SPACE_A, SPM_BYTE0 + 0xF0, SPM_BYTE0 + 0x9F, SPM_BYTE0 + 0xA6,
                            SPM_BYTE0 + 0x99};
    assert_true(same_ids(&ids, want, sizeof want / sizeof want[0]));
    /* released after each token: BOS is hidden, 你 and 🦙 wait for their last byte */
    const size_t released[] = {0, 1, 0, 0, 3, 2, 0, 0, 0, 4};
    tok_stream ts;
    tok_stream_init(&ts, vf.v);
    strbuf out = {0};
    for (size_t i = 0; i < ids.n; i++)
        assert_int_equal(tok_stream_push(&ts, ids.ids[i], &out), released[i]);
    assert_int_equal(tok_stream_flush(&ts, &out), 0);
    assert_int_equal(out.len, 10);
    assert_memory_equal(out.data, " \xE4\xBD\xA0 a\xF0\x9F\xA6\x99", 10);
    free(ids.ids);

    sb_clear(&out);
    assert_int_equal(tok_stream_push(&ts, SPM_BYTE0 + 0xE4, &out), 0);
    assert_int_equal(tok_stream_push(&ts, SPM_BYTE0 + 0xFF, &out), 2); /* can never complete */
    assert_int_equal(tok_stream_push(&ts, SPM_BYTE0 + 0xF0, &out), 0);
    assert_int_equal(tok_stream_push(&ts, SPM_BYTE0 + 0x9F, &out), 0);
    assert_int_equal(tok_stream_flush(&ts, &out), 2); /* an unfinished tail, as is */
    assert_int_equal(tok_stream_flush(&ts, &out), 0);
    assert_memory_equal(out.data, "\xE4\xFF\xF0\x9F", 4);
    sb_free(&out);
    close_vocab(&vf);
}

static void test_stream_roundtrip(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    /* stories260K has 512 tokens: every CJK character and emoji is spelt
     * with byte tokens, so characters are split across tokens */
    vocab_file vf = open_vocab(test_path(shared, "ref/models/stories260K.gguf"));

    static const char *const texts[] = {
        "Caf\xC3\xA9 d\xC3\xA9j\xC3\xA0 vu \xE2\x80\x94 \xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xF0\x9F\x9A\x9A!",
        "\xF0\x9F\xA6\x99\xF0\x9F\xA6\x99 llamas \xE1\x9E\x80\xE1\x9E\xB6\n\t3.14",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        /* SentencePiece round trip: the text plus the '▁' it prepends */
        idvec ids = encode(vf.v, texts[i], strlen(texts[i]), false, false);
        char want[256];
        snprintf(want, sizeof want, " %s", texts[i]);
        stream_check(vf.v, ids.ids, ids.n, want, strlen(want));
        free(ids.ids);
    }
    close_vocab(&vf);

    /* byte-level BPE is lossless */
    vf = open_vocab(test_path(shared, "ref/tokenizer/ggml-vocab-gpt-2.gguf"));
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        idvec ids = encode(vf.v, texts[i], strlen(texts[i]), false, false);
        stream_check(vf.v, ids.ids, ids.n, texts[i], strlen(texts[i]));
        free(ids.ids);
    }
    close_vocab(&vf);
}

/* ---- Hostile input ----------------------------------------------------------------- */

/* Random bytes (malformed UTF-8, NUL, stray continuation bytes, forms above
 * U+10FFFF): ids in range or a clean TOK_EINPUT naming the offset. */
static void fuzz_bytes(const tok_vocab *v, uint64_t seed, int rounds)
{
    static const unsigned char pool[] = {0x00, 0x09, 0x0A, 0x0D, ' ', 'a', 'Z', '1', '\'', '<', '|',
                                         '>', 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xA9, 0xE2, 0x96, 0x81,
                                         0xED, 0xA0, 0xF0, 0x9F, 0xF4, 0x90, 0xF7, 0xF8, 0xFF};
    char err[256];
    for (int t = 0; t < rounds; t++) {
        size_t n = rng_next(&seed) % 48;
        char *text = xmalloc(n ? n : 1); /* exact size: ASan sees overreads */
        for (size_t i = 0; i < n; i++)
            text[i] = (char)pool[rng_next(&seed) % sizeof pool];
        idvec r = {0};
        int rc = tok_encode(v, text, n, t & 1, t & 2, &r.ids, &r.n, &r.cap, err, sizeof err);
        assert_true(rc == TOK_OK || rc == TOK_EINPUT);
        if (rc == TOK_EINPUT)
            assert_non_null(strstr(err, "offset"));
        for (size_t i = 0; i < r.n; i++)
            assert_true(r.ids[i] >= 0 && r.ids[i] < tok_n_vocab(v));
        free(r.ids);
        free(text);
    }
}

static void test_hostile_bytes_memory(void **state)
{
    (void)state;
    vocab_file vf;
    char err[256];
    if (build_spm(&vf, err, sizeof err))
        fail_msg("%s", err);
    idvec spm = encode(vf.v, "\xFF\0", 2, false, false); /* bytes spelt with byte tokens */
    assert_true(same_ids(&spm, (const int32_t[]){SPM_SPACE, SPM_BYTE0 + 0xFF, SPM_BYTE0}, 3));
    free(spm.ids);
    fuzz_bytes(vf.v, 99, 500);
    close_vocab(&vf);

    static const char *const merges[] = {"a b"};
    if (build_bpe(&vf, "qwen2", merges, 1, err, sizeof err))
        fail_msg("%s", err);
    idvec bad = encode(vf.v, "\xC3(", 2, false, false); /* a truncated é: U+FFFD, then '(' */
    assert_true(same_ids(&bad, (const int32_t[]){0xEF, 0xBF, 0xBD, '('}, 4));
    free(bad.ids);
    fuzz_bytes(vf.v, 98, 500);
    close_vocab(&vf);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *tdir = test_path(shared, "ref/tokenizer");

    /* BPE: a malformed byte reads as U+FFFD, as in llama.cpp */
    vocab_file vf = open_vocab(test_path(tdir, "ggml-vocab-gpt-2.gguf"));
    idvec bad = encode(vf.v, "a\xFF" "b", 3, false, false);
    idvec repl = encode(vf.v, "a\xEF\xBF\xBD" "b", 5, false, false);
    assert_int_equal(bad.n, repl.n);
    assert_memory_equal(bad.ids, repl.ids, bad.n * sizeof *bad.ids);
    free(bad.ids);
    free(repl.ids);
    idvec nul = encode(vf.v, "a\0b", 3, false, false); /* NUL is a byte like any */
    assert_int_equal(nul.n, 3);
    assert_int_equal(nul.ids[1], tok_find(vf.v, "\xC4\x80", 2)); /* byte 0 is U+0100 */
    free(nul.ids);
    /* a 4-byte form above U+10FFFF cannot be encoded: an error, ids untouched */
    idvec ids = {0};
    char err[256];
    int32_t keep[1] = {7};
    ids.ids = xmalloc(sizeof keep), ids.ids[0] = keep[0], ids.n = 1, ids.cap = 1;
    assert_int_equal(tok_encode(vf.v, "ok \xF7\xBF\xBF\xBF", 7, false, false, &ids.ids, &ids.n, &ids.cap,
                                err, sizeof err),
                     TOK_EINPUT);
    assert_non_null(strstr(err, "offset 3"));
    assert_int_equal(ids.n, 1);
    free(ids.ids);
    close_vocab(&vf);

    /* SentencePiece: malformed bytes are spelt with byte tokens */
    vf = open_vocab(test_path(tdir, "ggml-vocab-llama-spm.gguf"));
    idvec spm = encode(vf.v, "\xFF", 1, false, false);
    int32_t want[] = {tok_find(vf.v, "\xE2\x96\x81", 3), tok_find(vf.v, "<0xFF>", 6)};
    assert_true(same_ids(&spm, want, 2));
    free(spm.ids);
    close_vocab(&vf);

    /* Random bytes through every vocabulary */
    static const char *const names[] = {"llama-spm", "phi-3", "gpt-2", "starcoder", "falcon",
                                        "deepseek-llm", "mpt"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char file[64];
        snprintf(file, sizeof file, "ggml-vocab-%s.gguf", names[k]);
        vf = open_vocab(test_path(tdir, file));
        fuzz_bytes(vf.v, 1234 + k, 300);
        close_vocab(&vf);
    }
}

/* ---- Speed ---------------------------------------------------------------------------- */

static void test_speed(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    /* the largest vocabulary here: deepseek-llm, 102,400 tokens, 99,757 merges */
    gguf_file *f;
    char err[256];
    assert_int_equal(gguf_open(&f, test_path(shared, "ref/tokenizer/ggml-vocab-deepseek-llm.gguf"), err,
                               sizeof err),
                     GGUF_OK);
    double t0 = util_now();
    tok_vocab *v;
    assert_int_equal(tok_load(&v, f, err, sizeof err), TOK_OK);
    double t_load = util_now() - t0;

    size_t len;
    char *text = test_read_file(test_path(shared, "ref/expected/prompts/ppl.txt"), &len);
    strbuf big = {0};
    for (int i = 0; i < 30; i++)
        sb_append(&big, text, len);
    t0 = util_now();
    idvec ids = encode(v, big.data, big.len, true, false);
    double t_enc = util_now() - t0;
    printf("  deepseek-llm (%d tokens): load %.1f ms; %zu bytes -> %zu ids in %.1f ms (%.1f MB/s)\n",
           tok_n_vocab(v), t_load * 1e3, big.len, ids.n, t_enc * 1e3, big.len / t_enc / 1e6);
    /* printed, not asserted: a test never asserts a timing (shared machines) */
    free(ids.ids);
    sb_free(&big);
    free(text);
    tok_free(v);
    gguf_close(f);
}

/* A synthetic 150k vocabulary: the 256 bytes, then every 2-, 3- and (some)
 * 4-letter word over a..z, each built by a merge "prefix lastletter". */
static void test_speed_150k(void **state)
{
    (void)state;
    enum { N_MERGES = 150000 - 256 };
    char (*text)[8] = xmallocarray(150000, sizeof *text);
    char (*merge)[8] = xmallocarray(N_MERGES, sizeof *merge);
    const char **toks = xmallocarray(150000, sizeof *toks);
    const char **merges = xmallocarray(N_MERGES, sizeof *merges);
    size_t n = 0, nm = 0;
    for (unsigned b = 0; b < 256; b++)
        snprintf(text[n], 8, "%s", byte_text(b)), toks[n] = text[n], n++;
    for (size_t lo = 'a', hi = 'z' + 1; nm < N_MERGES;) { /* [lo, hi): the previous length */
        size_t next = n;
        for (size_t p = lo; p < hi && nm < N_MERGES; p++)
            for (char c = 'a'; c <= 'z' && nm < N_MERGES; c++) {
                snprintf(text[n], 8, "%s%c", text[p], c);
                snprintf(merge[nm], 8, "%s %c", text[p], c);
                toks[n] = text[n], merges[nm] = merge[nm];
                n++, nm++;
            }
        lo = next, hi = n;
    }
    gguf_builder g = {0};
    kv_str(&g, "tokenizer.ggml.model", "gpt2");
    kv_str(&g, "tokenizer.ggml.pre", "llama-bpe");
    kv_strs(&g, "tokenizer.ggml.tokens", toks, n);
    kv_strs(&g, "tokenizer.ggml.merges", merges, nm);
    vocab_file vf;
    char err[256];
    double t0 = util_now();
    if (load_built(&g, &vf, err, sizeof err))
        fail_msg("%s", err);
    double t_load = util_now() - t0;
    assert_int_equal(tok_n_vocab(vf.v), 150000);
    /* "abcd" is a token, so Llama 3's ignore_merges takes it whole (merging
     * would stop at "ab" "cd"); "zzz" is reached by "z z" then "zz z" */
    idvec ids = encode(vf.v, "abcd zzz", 8, false, false);
    int32_t want[] = {tok_find(vf.v, "abcd", 4), ' ', tok_find(vf.v, "zzz", 3)};
    if (!same_ids(&ids, want, 3)) {
        print_ids("want", want, 3);
        print_ids("got ", ids.ids, ids.n);
        fail();
    }
    printf("  synthetic 150,000 tokens + %zu merges: gguf parse + tok_load %.1f ms (printed, not asserted)\n", nm,
           t_load * 1e3);
    free(ids.ids);
    close_vocab(&vf);
    free(text), free(merge), free(toks), free(merges);
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
        cmocka_unit_test(test_bpe_against_naive),
        cmocka_unit_test(test_spm_against_naive),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_stream_bytes),
        cmocka_unit_test(test_stream_roundtrip),
        cmocka_unit_test(test_hostile_bytes_memory),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_speed_150k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
