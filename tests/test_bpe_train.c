/*
 * test_bpe_train.c — the BPE trainer (train/bpe_train.h); the training
 * conversations are test_dataset.c's.
 *
 * Trainer:
 *   - a corpus small enough to work out by hand gives exactly the merges a
 *     human derives, ties included (lowest left id, then lowest right id),
 *     and stops at the target size or when no pair occurs min_frequency
 *     times;
 *   - the incremental trainer equals the recount-everything trainer on
 *     random corpora (ASCII, spaces, multi-byte characters), and training
 *     is deterministic (same merges and same GGUF bytes whatever the order
 *     the texts were counted in);
 *   - the GGUF key set: what tok_load reads back (ids, types, flags, the
 *     byte alphabet, ChatML detection, end of generation at <|im_end|>),
 *     and tok_encode equals the trainer's own encoder on random text with
 *     and without special-token parsing, invalid UTF-8 included;
 *   - the central requirement, on the real corpus (skips without
 *     ../shared): a 4096-token vocabulary trained on the training split,
 *     written, loaded with tok_load, reproduces the trainer's encoding of
 *     500 training and 100 validation conversations exactly.
 */
#include "train/dataset.h"
#include "train/bpe_train.h"
#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "tests/bpe_check.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------------ */

/* "left right" of merge rank r, in raw bytes. */
static const char *merge_text(const bpe_vocab *v, int32_t r)
{
    static char buf[256];
    int32_t a, b;
    if (!bpe_vocab_merge(v, r, &a, &b))
        return "(none)";
    size_t la, lb;
    const unsigned char *sa = bpe_vocab_bytes(v, a, &la), *sb = bpe_vocab_bytes(v, b, &lb);
    snprintf(buf, sizeof buf, "%.*s %.*s", (int)la, (const char *)sa, (int)lb, (const char *)sb);
    return buf;
}

static void expect_merges(const bpe_vocab *v, const char *const *want, int32_t n)
{
    assert_int_equal(bpe_vocab_n_merges(v), n);
    assert_int_equal(bpe_vocab_size(v), BPE_ID_FIRST_MERGE + n);
    for (int32_t r = 0; r < n; r++)
        if (strcmp(merge_text(v, r), want[r]) != 0)
            fail_msg("merge %d is '%s', expected '%s'", (int)r, merge_text(v, r), want[r]);
}

static idvec encode_bpe(const bpe_vocab *v, const char *s, size_t len, bool special)
{
    idvec r = {0};
    char err[256];
    if (bpe_vocab_encode(v, s, len, special, &r.ids, &r.n, &r.cap, err, sizeof err) != BPE_OK)
        fail_msg("bpe_vocab_encode: %s", err);
    return r;
}

/* ---- Trainer: hand-checked ------------------------------------------------------ */

static void test_hand_merges(void **state)
{
    (void)state;
    /* The classic: hug 10, pug 5, pun 12, bun 4, hugs 5.  Pair counts:
     * ug 20, un 16, pu 17, hu 15, ... -> "u g".  Then un 16 -> "u n"; hug 15
     * -> "h ug"; pun 12 -> "p un"; then p ug and hug s tie at 5: the left
     * token 'p' (a byte, id 3+'p') beats "hug" (a merge, id 261) -> "p ug",
     * "hug s"; "b un" 4; nothing left. */
    bpe_trainer *t = bpe_trainer_new();
    bc_add_text(t, "hug", 10);
    bc_add_text(t, "pug", 5);
    bc_add_text(t, "pun", 12);
    bc_add_text(t, "bun", 4);
    bc_add_text(t, "hugs", 5);
    assert_int_equal(bpe_trainer_n_words(t), 5);
    assert_int_equal(bpe_trainer_n_bytes(t), 30 + 15 + 36 + 12 + 20);
    bpe_vocab *v = bc_train(t, 4096, 2, false);
    static const char *const want[] = {"u g", "u n", "h ug", "p un", "p ug", "hug s", "b un"};
    expect_merges(v, want, 7);
    size_t len;
    const unsigned char *b = bpe_vocab_bytes(v, BPE_ID_FIRST_MERGE + 5, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(b, "hugs", 4);
    assert_memory_equal(bpe_vocab_bytes(v, BPE_ID_IM_END, &len), "<|im_end|>", 10);
    assert_memory_equal(bpe_vocab_bytes(v, BPE_ID_BYTE0 + 'q', &len), "q", 1);

    /* Encoding: "bugs" -> b ug s (no "b ug" or "ug s" rule); " hug" -> Ġ hug;
     * specials only when parsed. */
    idvec e = encode_bpe(v, "bugs", 4, false);
    int32_t want_bugs[] = {BPE_ID_BYTE0 + 'b', BPE_ID_FIRST_MERGE + 0, BPE_ID_BYTE0 + 's'};
    assert_int_equal(e.n, 3);
    assert_memory_equal(e.ids, want_bugs, sizeof want_bugs);
    free(e.ids);
    e = encode_bpe(v, " hug<|im_end|>", 14, true);
    int32_t want_hug[] = {BPE_ID_BYTE0 + ' ', BPE_ID_FIRST_MERGE + 2, BPE_ID_IM_END};
    assert_int_equal(e.n, 3);
    assert_memory_equal(e.ids, want_hug, sizeof want_hug);
    free(e.ids);
    e = encode_bpe(v, "<|im_end|>", 10, false);
    assert_true(e.n > 1); /* plain text: '<', '|', ... */
    free(e.ids);
    bpe_vocab_free(v);

    /* The target size stops it: 260 tokens = one merge. */
    v = bc_train(t, 260, 2, false);
    expect_merges(v, want, 1);
    bpe_vocab_free(v);
    /* min_frequency 5 stops before "b un" (4); 13 after "u g", "u n", "h ug" (15). */
    v = bc_train(t, 4096, 5, false);
    expect_merges(v, want, 6);
    bpe_vocab_free(v);
    v = bc_train(t, 4096, 13, false);
    expect_merges(v, want, 3);
    bpe_vocab_free(v);
    bpe_trainer_free(t);
}

static void test_ties(void **state)
{
    (void)state;
    /* Same count, same left token: the lower right id ('b' < 'c') first,
     * whatever order the words were counted in. */
    for (int order = 0; order < 2; order++) {
        bpe_trainer *t = bpe_trainer_new();
        bc_add_text(t, order ? "ac" : "ab", 3);
        bc_add_text(t, order ? "ab" : "ac", 3);
        bpe_vocab *v = bc_train(t, 4096, 2, false);
        static const char *const want[] = {"a b", "a c"};
        expect_merges(v, want, 2);
        bpe_vocab_free(v);
        bpe_trainer_free(t);
    }
    /* Same count, different left tokens: the lower left id first. */
    bpe_trainer *t = bpe_trainer_new();
    bc_add_text(t, "ca", 3);
    bc_add_text(t, "ba", 3);
    bpe_vocab *v = bc_train(t, 4096, 2, false);
    static const char *const want2[] = {"b a", "c a"};
    expect_merges(v, want2, 2);
    bpe_vocab_free(v);
    bpe_trainer_free(t);
    /* A run of one letter merges left to right: "aaaaa" x2 -> "a a" (4
     * overlapping pairs per word) leaves aa aa a; "aa aa" and "aa a" tie at 2
     * with the same left token, and 'a' (id 100) < "aa" (259) -> "aa a",
     * giving aa aaa; then "aa aaa". */
    t = bpe_trainer_new();
    bc_add_text(t, "aaaaa", 2);
    v = bc_train(t, 4096, 2, false);
    static const char *const want3[] = {"a a", "aa a", "aa aaa"};
    expect_merges(v, want3, 3);
    /* 7 a's: aa aa aa a (rank 0, leftmost first), aa aa aaa, aa aaaaa */
    idvec e = encode_bpe(v, "aaaaaaa", 7, false);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.ids[0], BPE_ID_FIRST_MERGE + 0);
    assert_int_equal(e.ids[1], BPE_ID_FIRST_MERGE + 2);
    free(e.ids);
    bpe_vocab_free(v);
    bpe_trainer_free(t);
}

static void test_bad_input(void **state)
{
    (void)state;
    bpe_trainer *t = bpe_trainer_new();
    char err[256];
    bpe_options o = {258, 2};
    bpe_vocab *v = (bpe_vocab *)1;
    bc_expect_error(bpe_trainer_run(t, &o, &v, err, sizeof err), BPE_EARG, err, "vocab_size 258");
    assert_null(v);
    o = (bpe_options){4096, 0};
    bc_expect_error(bpe_trainer_run(t, &o, &v, err, sizeof err), BPE_EARG, err, "min_frequency");
    /* A 4-byte form above U+10FFFF: refused, nothing counted. */
    bc_expect_error(bpe_trainer_add(t, "ok \xF7\xBF\xBF\xBF", 7, err, sizeof err), BPE_EINPUT, err,
                 "offset 3");
    assert_int_equal(bpe_trainer_n_words(t), 0);
    bc_expect_error(bpe_trainer_check(t, NULL, err, sizeof err), BPE_EARG, err, "no run");
    /* Other invalid UTF-8 is U+FFFD, as tok_encode reads it: counted. */
    assert_int_equal(bpe_trainer_add(t, "a\xFF" "b", 3, err, sizeof err), BPE_OK);
    assert_true(bpe_trainer_n_words(t) > 0);
    bpe_trainer_free(t);
}

/* ---- Trainer: fast against naive, determinism ------------------------------------ */

static const char *const pieces[] = {"a", "b", "c", "ab", " ", "  ", "\n", "é", "日本", "'s", "1", "42",
                                     "!", "?", "--", "\t", "<|im_end|>", "ü"};

static char *random_text(uint64_t *rng, size_t n_pieces)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    for (size_t i = 0; i < n_pieces; i++)
        sb_puts(&sb, pieces[test_splitmix64(rng) % (sizeof pieces / sizeof *pieces)]);
    return sb.data;
}

static void test_fast_equals_naive(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int round = 0; round < 30; round++) {
        bpe_trainer *t = bpe_trainer_new();
        int n_texts = 1 + (int)(test_splitmix64(&rng) % 40);
        for (int i = 0; i < n_texts; i++) {
            char *s = random_text(&rng, 1 + test_splitmix64(&rng) % 60);
            bc_add_text(t, s, 1 + (int)(test_splitmix64(&rng) % 3));
            free(s);
        }
        int32_t size = 259 + (int32_t)(test_splitmix64(&rng) % 200);
        int64_t minf = 1 + (int64_t)(test_splitmix64(&rng) % 3);
        bpe_vocab *fast = bc_train(t, size, minf, false);
        bpe_vocab *slow = bc_train(t, size, minf, true);
        assert_int_equal(bpe_vocab_n_merges(fast), bpe_vocab_n_merges(slow));
        for (int32_t r = 0; r < bpe_vocab_n_merges(fast); r++) {
            int32_t a1, b1, a2, b2;
            assert_true(bpe_vocab_merge(fast, r, &a1, &b1));
            assert_true(bpe_vocab_merge(slow, r, &a2, &b2));
            if (a1 != a2 || b1 != b2)
                fail_msg("round %d, merge %d: fast %d+%d, naive %d+%d", round, (int)r, (int)a1,
                         (int)b1, (int)a2, (int)b2);
        }
        assert_false(bpe_vocab_merge(fast, bpe_vocab_n_merges(fast), &(int32_t){0}, &(int32_t){0}));
        bpe_vocab_free(fast);
        bpe_vocab_free(slow);
        bpe_trainer_free(t);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    uint64_t rng = 99;
    enum { N = 60 };
    char *texts[N];
    for (int i = 0; i < N; i++)
        texts[i] = random_text(&rng, 1 + test_splitmix64(&rng) % 80);
    void *img[2];
    size_t size[2];
    for (int run = 0; run < 2; run++) {
        bpe_trainer *t = bpe_trainer_new();
        for (int i = 0; i < N; i++) /* the second run counts in reverse order */
            bc_add_text(t, texts[run ? N - 1 - i : i], 1);
        bpe_vocab *v = bc_train(t, 400, 2, false);
        gguf_writer *w = gguf_writer_new();
        char err[256];
        assert_int_equal(bpe_vocab_to_gguf(v, w, err, sizeof err), BPE_OK);
        assert_int_equal(gguf_writer_write_mem(w, &img[run], &size[run]), GGUF_OK);
        gguf_writer_free(w);
        bpe_vocab_free(v);
        bpe_trainer_free(t);
    }
    assert_int_equal(size[0], size[1]);
    assert_memory_equal(img[0], img[1], size[0]);
    free(img[0]);
    free(img[1]);
    for (int i = 0; i < N; i++)
        free(texts[i]);
}

/* ---- GGUF: read back by the engine ------------------------------------------------ */

static void test_gguf_keys(void **state)
{
    (void)state;
    bpe_trainer *t = bpe_trainer_new();
    uint64_t rng = 3;
    for (int i = 0; i < 50; i++) {
        char *s = random_text(&rng, 40);
        bc_add_text(t, s, 1);
        free(s);
    }
    bpe_vocab *bv = bc_train(t, 330, 2, false);
    loaded l = bc_load_back(bv);
    const tok_vocab *v = l.v;

    assert_string_equal(tok_type_name(v), "gpt2");
    assert_string_equal(tok_pre_name(v), "gpt-2");
    assert_int_equal(tok_n_vocab(v), bpe_vocab_size(bv));
    assert_int_equal(tok_bos(v), BPE_ID_ENDOFTEXT);
    assert_int_equal(tok_eos(v), BPE_ID_IM_END);
    assert_int_equal(tok_eot(v), BPE_ID_IM_END);
    assert_int_equal(tok_pad(v), BPE_ID_ENDOFTEXT);
    assert_int_equal(tok_unk(v), -1);
    assert_false(tok_adds_bos(v));
    assert_false(tok_adds_eos(v));
    /* (e) generation stops at <|im_end|> (and <|endoftext|>), never at a
     * learnt token; the three specials are control tokens, nothing else is */
    assert_true(tok_is_eog(v, BPE_ID_IM_END));
    assert_true(tok_is_eog(v, BPE_ID_ENDOFTEXT));
    assert_false(tok_is_eog(v, BPE_ID_IM_START));
    for (int32_t id = 0; id < tok_n_vocab(v); id++) {
        assert_int_equal(tok_is_control(v, id), id < BPE_N_SPECIAL);
        if (id >= BPE_N_SPECIAL)
            assert_false(tok_is_eog(v, id));
    }
    /* The byte alphabet: ' ' is 'Ġ', '\n' is 'Ċ', 'A' is itself; pieces
     * decode back to the bytes. */
    size_t len;
    const char *s = tok_text(v, BPE_ID_BYTE0 + ' ', &len);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "\xC4\xA0", 2);
    s = tok_text(v, BPE_ID_BYTE0 + '\n', &len);
    assert_memory_equal(s, "\xC4\x8A", 2);
    s = tok_text(v, BPE_ID_BYTE0 + 'A', &len);
    assert_int_equal(len, 1);
    for (int32_t id = BPE_N_SPECIAL; id < tok_n_vocab(v); id++) {
        char piece[256];
        size_t blen, plen = tok_piece(v, id, piece, sizeof piece);
        const unsigned char *b = bpe_vocab_bytes(bv, id, &blen);
        assert_int_equal(plen, blen);
        assert_memory_equal(piece, b, blen);
    }
    /* The template is ChatML to our detector, and is the standard text. */
    gguf_str tmpl;
    assert_true(gguf_get_str(l.f, "tokenizer.chat_template", &tmpl));
    bool known = false;
    assert_int_equal(chat_tmpl_detect(tmpl.ptr, tmpl.len, &known), CHAT_TMPL_CHATML);
    assert_true(known);
    assert_non_null(memmem(tmpl.ptr, tmpl.len, "add_generation_prompt", 21));
    const gguf_array *types = gguf_get_arr(l.f, "tokenizer.ggml.token_type");
    assert_non_null(types);
    assert_int_equal(types->type, GGUF_TYPE_INT32);
    for (int32_t id = 0; id < tok_n_vocab(v); id++)
        assert_int_equal(gguf_arr_i64(types, (uint64_t)id), id < BPE_N_SPECIAL ? 3 : 1);
    const gguf_array *merges = gguf_get_arr(l.f, "tokenizer.ggml.merges");
    assert_int_equal(merges->n, (uint64_t)bpe_vocab_n_merges(bv));

    /* tok_encode == the trainer's encoder, random text, both special modes,
     * with invalid UTF-8 sprinkled in. */
    for (int i = 0; i < 300; i++) {
        char *txt = random_text(&rng, test_splitmix64(&rng) % 50);
        size_t n = strlen(txt);
        if (i % 5 == 0 && n > 2)
            txt[test_splitmix64(&rng) % n] = (char)0xC3; /* a lone lead byte */
        for (int sp = 0; sp < 2; sp++) {
            idvec a = bc_encode_tok(v, txt, n, sp), b = encode_bpe(bv, txt, n, sp);
            if (!bc_same_ids(a, b))
                fail_msg("text %d ('%s', special %d): tok_encode %zu ids, trainer %zu", i, txt, sp,
                         a.n, b.n);
            free(a.ids);
            free(b.ids);
        }
        free(txt);
    }

    /* Copying the keys into another file gives the same tokenizer. */
    gguf_writer *w = gguf_writer_new();
    char err[256];
    assert_int_equal(bpe_copy_tokenizer_kv(l.f, w, err, sizeof err), 12);
    void *img;
    size_t size;
    assert_int_equal(gguf_writer_write_mem(w, &img, &size), GGUF_OK);
    gguf_writer_free(w);
    gguf_file *f2;
    tok_vocab *v2;
    assert_int_equal(gguf_open_memory(&f2, img, size, err, sizeof err), GGUF_OK);
    assert_int_equal(tok_load(&v2, f2, err, sizeof err), TOK_OK);
    const char *probe = "<|im_start|>user\nabc 'sé日本<|im_end|>\n";
    idvec a = bc_encode_tok(v, probe, strlen(probe), true), b = bc_encode_tok(v2, probe, strlen(probe), true);
    assert_true(bc_same_ids(a, b));
    assert_int_equal(a.ids[0], BPE_ID_IM_START);
    free(a.ids);
    free(b.ids);
    tok_free(v2);
    gguf_close(f2);
    free(img);

    bc_loaded_free(&l);
    bpe_vocab_free(bv);
    bpe_trainer_free(t);
}

/* ---- The real corpus ------------------------------------------------------------------ */

static void test_real_corpus(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        skip();
        return;
    }
    ds_options o;
    ds_options_default(&o);
    o.data_dir = test_path(shared, "data");
    dataset d = {0};
    char err[512];
    if (ds_load(&d, &o, err, sizeof err) != DS_OK)
        fail_msg("ds_load: %s", err);
    size_t n_bitext = 0;
    for (size_t i = 0; i < ds_count(&d, DS_ALL); i++)
        n_bitext += ds_get(&d, DS_ALL, i)->source == DS_SRC_BITEXT;
    assert_int_equal(n_bitext, 4080);
    /* 6,300 STAR lines, 420 without turns and 166 without an agent turn */
    assert_int_equal(ds_count(&d, DS_ALL) - n_bitext + d.star_skipped, 6300);

    double t0 = util_now();
    ds_cursor cur = {&d, DS_TRAIN, 0};
    bpe_options bo;
    bpe_options_default(&bo);
    bpe_vocab *bv = NULL;
    size_t n_words;
    uint64_t n_bytes;
    if (bpe_train_corpus(&bo, ds_corpus_next, &cur, &bv, &n_words, &n_bytes, err, sizeof err) != BPE_OK)
        fail_msg("bpe_train_corpus: %s", err);
    double secs = util_now() - t0;
    assert_int_equal(bpe_vocab_size(bv), 4096);
    assert_int_equal(cur.next, ds_count(&d, DS_TRAIN)); /* the training split, all of it */
    printf("    trained 4096 tokens on %zu training conversations (%zu distinct words, %llu bytes) "
           "in %.2f s\n", ds_count(&d, DS_TRAIN), n_words, (unsigned long long)n_bytes, secs);

    /* Write the file, read it with the engine, compare on conversations of
     * both splits: 500 training ones spread over the split, 100 held out. */
    const char *path = test_path(test_tmpdir(), "frontdesk-vocab.gguf");
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(bpe_vocab_to_gguf(bv, w, err, sizeof err), BPE_OK);
    if (gguf_writer_write_file(w, path, err, sizeof err) != GGUF_OK)
        fail_msg("%s", err);
    gguf_writer_free(w);
    gguf_file *f;
    tok_vocab *tv;
    assert_int_equal(gguf_open(&f, path, err, sizeof err), GGUF_OK);
    if (tok_load(&tv, f, err, sizeof err) != TOK_OK)
        fail_msg("tok_load: %s", err);
    for (int32_t id = BPE_N_SPECIAL; id < tok_n_vocab(tv); id++)
        if (tok_is_control(tv, id))
            fail_msg("learnt token %d is taken for a control token", (int)id);

    strbuf text = {0};
    ds_tokens dt = {0};
    size_t checked = 0, tokens = 0;
    for (int s = 0; s < 2; s++) {
        ds_split split = s ? DS_VALID : DS_TRAIN;
        size_t n = ds_count(&d, split), want = s ? 100 : 500;
        for (size_t k = 0; k < want; k++) {
            const ds_conv *c = ds_get(&d, split, k * n / want);
            sb_clear(&text);
            ds_render(c, &text);
            idvec a = bc_encode_tok(tv, text.data, text.len, true);
            idvec b = encode_bpe(bv, text.data, text.len, true);
            if (!bc_same_ids(a, b))
                fail_msg("%s: tok_encode gives %zu ids, the trainer's encoder %zu", c->id, a.n, b.n);
            assert_int_equal(a.ids[0], BPE_ID_IM_START);
            assert_int_equal(ds_tokenize(tv, c, &dt, err, sizeof err), DS_OK);
            assert_int_equal(dt.n, a.n);
            assert_memory_equal(dt.ids, a.ids, a.n * sizeof *a.ids);
            checked++;
            tokens += a.n;
            free(a.ids);
            free(b.ids);
        }
    }
    printf("    tok_encode == trainer on %zu conversations (%zu tokens)\n", checked, tokens);
    sb_free(&text);
    ds_tokens_free(&dt);
    tok_free(tv);
    gguf_close(f);
    bpe_vocab_free(bv);
    ds_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_merges),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_fast_equals_naive),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_gguf_keys),
        cmocka_unit_test(test_real_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
