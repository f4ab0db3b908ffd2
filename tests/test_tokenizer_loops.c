/*
 * test_tokenizer_loops.c — the tokenizer's machinery (engine/tokenizer.h,
 * unicode.h) without a reference:
 *   - the heap-based merge loops agree with naive O(n^2) BPE and
 *     SentencePiece on random words over random vocabularies;
 *   - special tokens, pieces, and the streaming decoder, which never
 *     releases half a UTF-8 character;
 *   - invalid UTF-8 and NUL bytes give ids, never crashes (run under ASan
 *     by `make asan`);
 *   - load and encode speed on a real and a synthetic 150,000-token
 *     vocabulary, printed, never asserted.
 *
 * Against llama.cpp's vectors: test_tokenizer.c.  Shared helpers are in
 * tests/tok_check.h.
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
            int l = (int)(test_splitmix64(&rng) % (uint64_t)ntok), r = (int)(test_splitmix64(&rng) % (uint64_t)ntok);
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
        tc_kv_str(&g, "tokenizer.ggml.model", "gpt2");
        tc_kv_str(&g, "tokenizer.ggml.pre", "gpt-2");
        tc_kv_strs(&g, "tokenizer.ggml.tokens", toks, (size_t)ntok);
        tc_kv_strs(&g, "tokenizer.ggml.merges", merges, (size_t)nm);
        vocab_file vf;
        char err[256];
        if (tc_load_built(&g, &vf, err, sizeof err))
            fail_msg("%s", err);
        for (int w = 0; w < 200; w++) {
            char word[40];
            size_t n = 1 + test_splitmix64(&rng) % 30;
            for (size_t i = 0; i < n; i++)
                word[i] = (char)('a' + test_splitmix64(&rng) % 5);
            word[n] = '\0';
            int32_t want[40];
            size_t nw = naive_bpe(word, ml, mr, nm, want);
            idvec got = tc_encode(vf.v, word, n, false, false);
            if (!tc_same_ids(&got, want, nw)) {
                tc_print_ids("naive", want, nw);
                tc_print_ids("heap ", got.ids, got.n);
                fail_msg("BPE of \"%s\" differs from the naive merge loop", word);
            }
            free(got.ids);
        }
        tc_close_vocab(&vf);
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
            int l = (int)(test_splitmix64(&rng) % (uint64_t)ntok), r = 1 + (int)(test_splitmix64(&rng) % (uint64_t)(ntok - 1));
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
            score[i] = -(float)(test_splitmix64(&rng) % 16); /* many ties on purpose */
        }
        gguf_builder g = {0};
        tc_kv_str(&g, "tokenizer.ggml.model", "llama");
        tc_kv_strs(&g, "tokenizer.ggml.tokens", toks, (size_t)ntok);
        tc_kv_nums(&g, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, score, (size_t)ntok);
        tc_kv_u32(&g, "tokenizer.ggml.bos_token_id", 0);
        tc_kv_u32(&g, "tokenizer.ggml.eos_token_id", 0);
        vocab_file vf;
        char err[256];
        if (tc_load_built(&g, &vf, err, sizeof err))
            fail_msg("%s", err);
        for (int w = 0; w < 200; w++) {
            char word[40];
            size_t n = 1 + test_splitmix64(&rng) % 30;
            for (size_t i = 0; i < n; i++)
                word[i] = (char)('a' + test_splitmix64(&rng) % 4);
            word[n] = '\0';
            int32_t want[64];
            size_t nw = naive_spm(vf.v, score, word, want);
            idvec got = tc_encode(vf.v, word, n, false, false);
            if (!tc_same_ids(&got, want, nw)) {
                tc_print_ids("naive", want, nw);
                tc_print_ids("heap ", got.ids, got.n);
                fail_msg("SentencePiece of \"%s\" differs from the naive merge loop", word);
            }
            free(got.ids);
        }
        tc_close_vocab(&vf);
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
    vocab_file vf = tc_open_vocab(test_path(shared, "ref/models/stories260K.gguf"));
    assert_int_equal(tok_bos(vf.v), 1);
    assert_int_equal(tok_eos(vf.v), 2);
    assert_int_equal(tok_pad(vf.v), -1);
    assert_true(tok_adds_bos(vf.v));
    assert_false(tok_adds_eos(vf.v));
    assert_true(tok_is_eog(vf.v, 2));
    assert_false(tok_is_eog(vf.v, 1));
    assert_string_equal(tok_type_name(vf.v), "llama");
    idvec e = tc_encode(vf.v, "", 0, true, false); /* OG SentencePiece: "" -> [BOS] */
    assert_true(tc_same_ids(&e, (const int32_t[]){1}, 1));
    free(e.ids);
    tc_close_vocab(&vf);

    /* StarCoder: <fim_prefix> is CONTROL, recognised only on request;
     * <|endoftext|> and <fim_pad> end generation */
    vf = tc_open_vocab(test_path(tdir, "ggml-vocab-starcoder.gguf"));
    assert_string_equal(tok_pre_name(vf.v), "starcoder");
    assert_false(tok_adds_bos(vf.v));
    assert_true(tok_is_eog(vf.v, 0));
    assert_true(tok_is_eog(vf.v, tok_find(vf.v, "<fim_pad>", 9)));
    assert_false(tok_is_eog(vf.v, tok_find(vf.v, "<fim_prefix>", 12)));
    idvec plain = tc_encode(vf.v, "<fim_prefix>x", 13, false, false);
    idvec parsed = tc_encode(vf.v, "<fim_prefix>x", 13, false, true);
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
    tc_close_vocab(&vf);

    /* Phi-3 (general.name "Phi3"): special tokens swallow the blanks after them */
    vf = tc_open_vocab(test_path(tdir, "ggml-vocab-phi-3.gguf"));
    int32_t user = tok_find(vf.v, "<|user|>", 8);
    assert_true(user >= 0);
    idvec hi = tc_encode(vf.v, "Hi", 2, false, false);
    idvec turn = tc_encode(vf.v, "<|user|>\n Hi", 12, false, true);
    assert_true(turn.n == hi.n + 1 && turn.ids[0] == user);
    assert_memory_equal(turn.ids + 1, hi.ids, hi.n * sizeof *hi.ids);
    assert_true(tok_is_eog(vf.v, tok_find(vf.v, "<|end|>", 7)));
    free(hi.ids);
    free(turn.ids);
    tc_close_vocab(&vf);

    /* MPT: its runs of blanks are USER_DEFINED, cut out even without
     * parse_special (the test vectors depend on it too) */
    vf = tc_open_vocab(test_path(tdir, "ggml-vocab-mpt.gguf"));
    int32_t four = tok_find(vf.v, "    ", 4);
    assert_true(four >= 0);
    idvec sp = tc_encode(vf.v, "a    b", 6, false, false);
    bool has_four = false;
    for (size_t i = 0; i < sp.n; i++)
        has_four |= sp.ids[i] == four;
    assert_true(has_four);
    free(sp.ids);
    tc_close_vocab(&vf);
}

static void test_pieces(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *tdir = test_path(shared, "ref/tokenizer");
    vocab_file vf = tc_open_vocab(test_path(tdir, "ggml-vocab-llama-spm.gguf"));
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
    tc_close_vocab(&vf);

    vf = tc_open_vocab(test_path(tdir, "ggml-vocab-gpt-2.gguf"));
    int32_t space_the = tok_find(vf.v, "\xC4\xA0the", 5);
    assert_true(space_the >= 0);
    assert_int_equal(tok_piece(vf.v, space_the, buf, sizeof buf), 4);
    assert_memory_equal(buf, " the", 4);
    assert_int_equal(tok_find(vf.v, " the", 4), -1); /* the alphabet spells the space */
    size_t len;
    assert_memory_equal(tok_text(vf.v, space_the, &len), "\xC4\xA0the", 5);
    assert_int_equal(len, 5);
    tc_close_vocab(&vf);
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
        if (!tc_utf8_valid((const unsigned char *)chunk.data, chunk.len))
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
    if (tc_build_spm(&vf, err, sizeof err))
        fail_msg("%s", err);
    idvec ids = tc_encode(vf.v, "\xE4\xBD\xA0 a\xF0\x9F\xA6\x99", 9, true, false);
    const int32_t want[] = {1, SPM_SPACE, SPM_BYTE0 + 0xE4, SPM_BYTE0 + 0xBD, SPM_BYTE0 + 0xA0,
                            SPM_SPACE_A, SPM_BYTE0 + 0xF0, SPM_BYTE0 + 0x9F, SPM_BYTE0 + 0xA6,
                            SPM_BYTE0 + 0x99};
    assert_true(tc_same_ids(&ids, want, sizeof want / sizeof want[0]));
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
    tc_close_vocab(&vf);
}

static void test_stream_roundtrip(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    /* stories260K has 512 tokens: every CJK character and emoji is spelt
     * with byte tokens, so characters are split across tokens */
    vocab_file vf = tc_open_vocab(test_path(shared, "ref/models/stories260K.gguf"));

    static const char *const texts[] = {
        "Caf\xC3\xA9 d\xC3\xA9j\xC3\xA0 vu \xE2\x80\x94 \xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xF0\x9F\x9A\x9A!",
        "\xF0\x9F\xA6\x99\xF0\x9F\xA6\x99 llamas \xE1\x9E\x80\xE1\x9E\xB6\n\t3.14",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        /* SentencePiece round trip: the text plus the '▁' it prepends */
        idvec ids = tc_encode(vf.v, texts[i], strlen(texts[i]), false, false);
        char want[256];
        snprintf(want, sizeof want, " %s", texts[i]);
        stream_check(vf.v, ids.ids, ids.n, want, strlen(want));
        free(ids.ids);
    }
    tc_close_vocab(&vf);

    /* byte-level BPE is lossless */
    vf = tc_open_vocab(test_path(shared, "ref/tokenizer/ggml-vocab-gpt-2.gguf"));
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        idvec ids = tc_encode(vf.v, texts[i], strlen(texts[i]), false, false);
        stream_check(vf.v, ids.ids, ids.n, texts[i], strlen(texts[i]));
        free(ids.ids);
    }
    tc_close_vocab(&vf);
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
        size_t n = test_splitmix64(&seed) % 48;
        char *text = xmalloc(n ? n : 1); /* exact size: ASan sees overreads */
        for (size_t i = 0; i < n; i++)
            text[i] = (char)pool[test_splitmix64(&seed) % sizeof pool];
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
    if (tc_build_spm(&vf, err, sizeof err))
        fail_msg("%s", err);
    idvec spm = tc_encode(vf.v, "\xFF\0", 2, false, false); /* bytes spelt with byte tokens */
    assert_true(tc_same_ids(&spm, (const int32_t[]){SPM_SPACE, SPM_BYTE0 + 0xFF, SPM_BYTE0}, 3));
    free(spm.ids);
    fuzz_bytes(vf.v, 99, 500);
    tc_close_vocab(&vf);

    static const char *const merges[] = {"a b"};
    if (tc_build_bpe(&vf, "qwen2", merges, 1, err, sizeof err))
        fail_msg("%s", err);
    idvec bad = tc_encode(vf.v, "\xC3(", 2, false, false); /* a truncated é: U+FFFD, then '(' */
    assert_true(tc_same_ids(&bad, (const int32_t[]){0xEF, 0xBF, 0xBD, '('}, 4));
    free(bad.ids);
    fuzz_bytes(vf.v, 98, 500);
    tc_close_vocab(&vf);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared)
        skip();
    const char *tdir = test_path(shared, "ref/tokenizer");

    /* BPE: a malformed byte reads as U+FFFD, as in llama.cpp */
    vocab_file vf = tc_open_vocab(test_path(tdir, "ggml-vocab-gpt-2.gguf"));
    idvec bad = tc_encode(vf.v, "a\xFF" "b", 3, false, false);
    idvec repl = tc_encode(vf.v, "a\xEF\xBF\xBD" "b", 5, false, false);
    assert_int_equal(bad.n, repl.n);
    assert_memory_equal(bad.ids, repl.ids, bad.n * sizeof *bad.ids);
    free(bad.ids);
    free(repl.ids);
    idvec nul = tc_encode(vf.v, "a\0b", 3, false, false); /* NUL is a byte like any */
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
    tc_close_vocab(&vf);

    /* SentencePiece: malformed bytes are spelt with byte tokens */
    vf = tc_open_vocab(test_path(tdir, "ggml-vocab-llama-spm.gguf"));
    idvec spm = tc_encode(vf.v, "\xFF", 1, false, false);
    int32_t want[] = {tok_find(vf.v, "\xE2\x96\x81", 3), tok_find(vf.v, "<0xFF>", 6)};
    assert_true(tc_same_ids(&spm, want, 2));
    free(spm.ids);
    tc_close_vocab(&vf);

    /* Random bytes through every vocabulary */
    static const char *const names[] = {"llama-spm", "phi-3", "gpt-2", "starcoder", "falcon",
                                        "deepseek-llm", "mpt"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char file[64];
        snprintf(file, sizeof file, "ggml-vocab-%s.gguf", names[k]);
        vf = tc_open_vocab(test_path(tdir, file));
        fuzz_bytes(vf.v, 1234 + k, 300);
        tc_close_vocab(&vf);
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
    idvec ids = tc_encode(v, big.data, big.len, true, false);
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
        snprintf(text[n], 8, "%s", tc_byte_text(b)), toks[n] = text[n], n++;
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
    tc_kv_str(&g, "tokenizer.ggml.model", "gpt2");
    tc_kv_str(&g, "tokenizer.ggml.pre", "llama-bpe");
    tc_kv_strs(&g, "tokenizer.ggml.tokens", toks, n);
    tc_kv_strs(&g, "tokenizer.ggml.merges", merges, nm);
    vocab_file vf;
    char err[256];
    double t0 = util_now();
    if (tc_load_built(&g, &vf, err, sizeof err))
        fail_msg("%s", err);
    double t_load = util_now() - t0;
    assert_int_equal(tok_n_vocab(vf.v), 150000);
    /* "abcd" is a token, so Llama 3's ignore_merges takes it whole (merging
     * would stop at "ab" "cd"); "zzz" is reached by "z z" then "zz z" */
    idvec ids = tc_encode(vf.v, "abcd zzz", 8, false, false);
    int32_t want[] = {tok_find(vf.v, "abcd", 4), ' ', tok_find(vf.v, "zzz", 3)};
    if (!tc_same_ids(&ids, want, 3)) {
        tc_print_ids("want", want, 3);
        tc_print_ids("got ", ids.ids, ids.n);
        fail();
    }
    printf("  synthetic 150,000 tokens + %zu merges: gguf parse + tok_load %.1f ms (printed, not asserted)\n", nm,
           t_load * 1e3);
    free(ids.ids);
    tc_close_vocab(&vf);
    free(text), free(merge), free(toks), free(merges);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
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
