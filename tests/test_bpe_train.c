/*
 * test_bpe_train.c — the BPE trainer (train/bpe_train.h) and the training
 * conversations (train/dataset.h).
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
 * Dataset:
 *   - CSV with CRLF, quotes and commas inside fields; one broken file per
 *     failure kind, each error naming the file and line; the real file's
 *     4,080 rows;
 *   - STAR: same-speaker turns merged, trailing customer turns dropped,
 *     dialogues without an agent skipped; broken lines named;
 *   - the split: disjoint, complete, round(5%) of every stratum,
 *     deterministic per seed;
 *   - the loss mask is 1 exactly on assistant content and its <|im_end|>
 *     (checked against byte spans found independently in the rendered
 *     text), and the ids equal tokenizing the rendered text;
 *   - export-format JSONL: write, read, write again gives the same bytes;
 *     `frontdesk export` lines with learn-last-only.
 */
#include "train/dataset.h"
#include "train/bpe_train.h"
#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/tokenizer.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void add_text(bpe_trainer *t, const char *s, int times)
{
    char err[256];
    for (int i = 0; i < times; i++)
        if (bpe_trainer_add(t, s, strlen(s), err, sizeof err) != BPE_OK)
            fail_msg("bpe_trainer_add: %s", err);
}

static bpe_vocab *train(bpe_trainer *t, int32_t size, int64_t min_freq, bool naive)
{
    bpe_options o = {size, min_freq};
    bpe_vocab *v = NULL;
    char err[256];
    int rc = naive ? bpe_trainer_run_naive(t, &o, &v, err, sizeof err)
                   : bpe_trainer_run(t, &o, &v, err, sizeof err);
    if (rc != BPE_OK)
        fail_msg("training: %s", err);
    if (bpe_trainer_check(t, v, err, sizeof err) != BPE_OK)
        fail_msg("check: %s", err);
    return v;
}

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

typedef struct {
    int32_t *ids;
    size_t n, cap;
} idvec;

static idvec encode_bpe(const bpe_vocab *v, const char *s, size_t len, bool special)
{
    idvec r = {0};
    char err[256];
    if (bpe_vocab_encode(v, s, len, special, &r.ids, &r.n, &r.cap, err, sizeof err) != BPE_OK)
        fail_msg("bpe_vocab_encode: %s", err);
    return r;
}

static idvec encode_tok(const tok_vocab *v, const char *s, size_t len, bool special)
{
    idvec r = {0};
    char err[256];
    if (tok_encode(v, s, len, false, special, &r.ids, &r.n, &r.cap, err, sizeof err) != TOK_OK)
        fail_msg("tok_encode: %s", err);
    return r;
}

static bool same_ids(idvec a, idvec b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.ids, b.ids, a.n * sizeof *a.ids) == 0);
}

/* A vocabulary written to GGUF in memory and loaded back. */
typedef struct {
    void *image;
    size_t size;
    gguf_file *f;
    tok_vocab *v;
} loaded;

static loaded load_back(const bpe_vocab *bv)
{
    loaded l = {0};
    char err[512];
    gguf_writer *w = gguf_writer_new();
    assert_int_equal(gguf_writer_set_str(w, "general.architecture", "llama"), GGUF_OK);
    if (bpe_vocab_to_gguf(bv, w, err, sizeof err) != BPE_OK)
        fail_msg("bpe_vocab_to_gguf: %s", err);
    assert_int_equal(gguf_writer_write_mem(w, &l.image, &l.size), GGUF_OK);
    gguf_writer_free(w);
    if (gguf_open_memory(&l.f, l.image, l.size, err, sizeof err) != GGUF_OK)
        fail_msg("gguf_open_memory: %s", err);
    if (tok_load(&l.v, l.f, err, sizeof err) != TOK_OK)
        fail_msg("tok_load: %s", err);
    return l;
}

static void loaded_free(loaded *l)
{
    tok_free(l->v);
    gguf_close(l->f);
    free(l->image);
}

/* Write a fixture file in the test's temporary directory. */
static const char *fixture(const char *name, const char *content, size_t len)
{
    const char *path = test_path(test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}
#define FIXTURE(name, lit) fixture(name, lit, sizeof(lit) - 1)

static void expect_error(int rc, int want, const char *err, const char *needle)
{
    assert_int_equal(rc, want);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
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
    add_text(t, "hug", 10);
    add_text(t, "pug", 5);
    add_text(t, "pun", 12);
    add_text(t, "bun", 4);
    add_text(t, "hugs", 5);
    assert_int_equal(bpe_trainer_n_words(t), 5);
    assert_int_equal(bpe_trainer_n_bytes(t), 30 + 15 + 36 + 12 + 20);
    bpe_vocab *v = train(t, 4096, 2, false);
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
    v = train(t, 260, 2, false);
    expect_merges(v, want, 1);
    bpe_vocab_free(v);
    /* min_frequency 5 stops before "b un" (4); 13 after "u g", "u n", "h ug" (15). */
    v = train(t, 4096, 5, false);
    expect_merges(v, want, 6);
    bpe_vocab_free(v);
    v = train(t, 4096, 13, false);
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
        add_text(t, order ? "ac" : "ab", 3);
        add_text(t, order ? "ab" : "ac", 3);
        bpe_vocab *v = train(t, 4096, 2, false);
        static const char *const want[] = {"a b", "a c"};
        expect_merges(v, want, 2);
        bpe_vocab_free(v);
        bpe_trainer_free(t);
    }
    /* Same count, different left tokens: the lower left id first. */
    bpe_trainer *t = bpe_trainer_new();
    add_text(t, "ca", 3);
    add_text(t, "ba", 3);
    bpe_vocab *v = train(t, 4096, 2, false);
    static const char *const want2[] = {"b a", "c a"};
    expect_merges(v, want2, 2);
    bpe_vocab_free(v);
    bpe_trainer_free(t);
    /* A run of one letter merges left to right: "aaaaa" x2 -> "a a" (4
     * overlapping pairs per word) leaves aa aa a; "aa aa" and "aa a" tie at 2
     * with the same left token, and 'a' (id 100) < "aa" (259) -> "aa a",
     * giving aa aaa; then "aa aaa". */
    t = bpe_trainer_new();
    add_text(t, "aaaaa", 2);
    v = train(t, 4096, 2, false);
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
    expect_error(bpe_trainer_run(t, &o, &v, err, sizeof err), BPE_EARG, err, "vocab_size 258");
    assert_null(v);
    o = (bpe_options){4096, 0};
    expect_error(bpe_trainer_run(t, &o, &v, err, sizeof err), BPE_EARG, err, "min_frequency");
    /* A 4-byte form above U+10FFFF: refused, nothing counted. */
    expect_error(bpe_trainer_add(t, "ok \xF7\xBF\xBF\xBF", 7, err, sizeof err), BPE_EINPUT, err,
                 "offset 3");
    assert_int_equal(bpe_trainer_n_words(t), 0);
    expect_error(bpe_trainer_check(t, NULL, err, sizeof err), BPE_EARG, err, "no run");
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
        sb_puts(&sb, pieces[rng_next(rng) % (sizeof pieces / sizeof *pieces)]);
    return sb.data;
}

static void test_fast_equals_naive(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int round = 0; round < 30; round++) {
        bpe_trainer *t = bpe_trainer_new();
        int n_texts = 1 + (int)(rng_next(&rng) % 40);
        for (int i = 0; i < n_texts; i++) {
            char *s = random_text(&rng, 1 + rng_next(&rng) % 60);
            add_text(t, s, 1 + (int)(rng_next(&rng) % 3));
            free(s);
        }
        int32_t size = 259 + (int32_t)(rng_next(&rng) % 200);
        int64_t minf = 1 + (int64_t)(rng_next(&rng) % 3);
        bpe_vocab *fast = train(t, size, minf, false);
        bpe_vocab *slow = train(t, size, minf, true);
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
        texts[i] = random_text(&rng, 1 + rng_next(&rng) % 80);
    void *img[2];
    size_t size[2];
    for (int run = 0; run < 2; run++) {
        bpe_trainer *t = bpe_trainer_new();
        for (int i = 0; i < N; i++) /* the second run counts in reverse order */
            add_text(t, texts[run ? N - 1 - i : i], 1);
        bpe_vocab *v = train(t, 400, 2, false);
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
        add_text(t, s, 1);
        free(s);
    }
    bpe_vocab *bv = train(t, 330, 2, false);
    loaded l = load_back(bv);
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
        char *txt = random_text(&rng, rng_next(&rng) % 50);
        size_t n = strlen(txt);
        if (i % 5 == 0 && n > 2)
            txt[rng_next(&rng) % n] = (char)0xC3; /* a lone lead byte */
        for (int sp = 0; sp < 2; sp++) {
            idvec a = encode_tok(v, txt, n, sp), b = encode_bpe(bv, txt, n, sp);
            if (!same_ids(a, b))
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
    idvec a = encode_tok(v, probe, strlen(probe), true), b = encode_tok(v2, probe, strlen(probe), true);
    assert_true(same_ids(a, b));
    assert_int_equal(a.ids[0], BPE_ID_IM_START);
    free(a.ids);
    free(b.ids);
    tok_free(v2);
    gguf_close(f2);
    free(img);

    loaded_free(&l);
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
            idvec a = encode_tok(tv, text.data, text.len, true);
            idvec b = encode_bpe(bv, text.data, text.len, true);
            if (!same_ids(a, b))
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

/* ---- Dataset: CSV ------------------------------------------------------------------------ */

static const char csv_good[] =
    "\xEF\xBB\xBF" "flags,instruction,category,intent,response\r\n"
    "B,\"I want to cancel order 12\",ORDER,cancel_order,\"Sure.\r\n\r\n1. Go to \"\"Orders\"\", then cancel.\r\n2. Done, really\"\r\n"
    "BL,\"  where is my refund?  \",REFUND,track_refund,\"Your refund, {{Refund Amount}}, is on its way.\"\r\n"
    "\r\n"
    "Q,\"multi\r\nline\r\nask\",ORDER,cancel_order,ok\r\n";

static void test_csv(void **state)
{
    (void)state;
    dataset d = {0};
    char err[512];
    const char *path = FIXTURE("good.csv", csv_good);
    if (ds_load_bitext(&d, path, "Be kind.", err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    assert_int_equal(ds_count(&d, DS_ALL), 3);
    assert_int_equal(ds_count(&d, DS_TRAIN), 3);
    const ds_conv *c = ds_get(&d, DS_ALL, 0);
    assert_int_equal(c->source, DS_SRC_BITEXT);
    assert_string_equal(c->id, "bitext:1");
    assert_string_equal(c->stratum, "bitext:cancel_order");
    assert_string_equal(c->intent, "cancel_order");
    assert_string_equal(c->category, "ORDER");
    assert_int_equal(c->n_msgs, 3);
    assert_int_equal(c->msgs[0].role, DS_ROLE_SYSTEM);
    assert_string_equal(c->msgs[0].content, "Be kind.");
    assert_int_equal(c->msgs[1].role, DS_ROLE_USER);
    assert_string_equal(c->msgs[1].content, "I want to cancel order 12");
    assert_int_equal(c->msgs[2].role, DS_ROLE_ASSISTANT);
    assert_string_equal(c->msgs[2].content, "Sure.\n\n1. Go to \"Orders\", then cancel.\n2. Done, really");
    c = ds_get(&d, DS_ALL, 1);
    assert_string_equal(c->msgs[1].content, "where is my refund?");
    assert_string_equal(c->msgs[2].content, "Your refund, {{Refund Amount}}, is on its way.");
    c = ds_get(&d, DS_ALL, 2);
    assert_string_equal(c->id, "bitext:3");
    assert_string_equal(c->msgs[1].content, "multi\nline\nask");
    assert_string_equal(c->msgs[2].content, "ok");
    assert_null(ds_get(&d, DS_ALL, 3));

    /* One broken file per failure kind; each names the file and line. */
    int rc;
    rc = ds_load_bitext(&d, FIXTURE("nocol.csv", "instruction,response,intent\r\na,b,c\r\n"), "S", err,
                        sizeof err);
    expect_error(rc, DS_EFORMAT, err, "nocol.csv:1: the header has no column 'category'");
    rc = ds_load_bitext(&d, FIXTURE("fields.csv", "instruction,response,intent,category\r\n"
                                    "a,b,c,d\r\n\"x\r\ny\",b,c\r\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "fields.csv:3: a record of 3 fields; the header has 4");
    rc = ds_load_bitext(&d, FIXTURE("quote.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\nab\"c,b,c,d\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "quote.csv:3:");
    rc = ds_load_bitext(&d, FIXTURE("open.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\na,\"never\nclosed,c,d\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "never closed (the record starts on line 3)");
    rc = ds_load_bitext(&d, FIXTURE("utf8.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\na,\"b\xC3(\",c,d\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "utf8.csv:3: field 'response' is not valid UTF-8");
    rc = ds_load_bitext(&d, FIXTURE("empty.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\n\"  \",b,c,d\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "empty.csv:3: field 'instruction' is empty");
    rc = ds_load_bitext(&d, FIXTURE("nul.csv", "instruction,response,intent,category\n"
                                    "a,\"b\0c\",c,d\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "nul.csv:2: field 'response' contains a NUL byte");
    rc = ds_load_bitext(&d, test_path(test_tmpdir(), "missing.csv"), "S", err, sizeof err);
    expect_error(rc, DS_EIO, err, "missing.csv: No such file");
    /* failed loads added nothing */
    assert_int_equal(ds_count(&d, DS_ALL), 3);
    ds_free(&d);
    assert_int_equal(ds_count(&d, DS_ALL), 0);
    ds_free(&d); /* twice is fine */

    const char *shared = test_shared_dir();
    if (shared) {
        const char *real = test_path(shared, "data/bitext-customer-support/bitext_support_train.csv");
        if (ds_load_bitext(&d, real, "S", err, sizeof err) != DS_OK)
            fail_msg("%s", err);
        assert_int_equal(ds_count(&d, DS_ALL), 4080);
        size_t multiline = 0;
        for (size_t i = 0; i < d.n; i++) {
            multiline += strchr(d.conv[i].msgs[2].content, '\n') != NULL;
            assert_null(strchr(d.conv[i].msgs[2].content, '\r'));
        }
        assert_true(multiline > 1000); /* the CRLFs inside quoted fields */
        ds_free(&d);
    }
}

/* ---- Dataset: STAR -------------------------------------------------------------------------- */

static const char star_good[] =
    "{\"dialogue_id\": 7, \"domains\": [\"hotel\", \"bank\"], \"turns\": ["
    "{\"speaker\": \"customer\", \"text\": \"Hi\"}, {\"speaker\": \"customer\", \"text\": \" I need a room \"},"
    "{\"speaker\": \"agent\", \"text\": \"Which city?\", \"template\": \"x\"},"
    "{\"speaker\": \"agent\", \"text\": \"\"},"
    "{\"speaker\": \"agent\", \"text\": \"And when?\"},"
    "{\"speaker\": \"customer\", \"text\": \"Paris\\r\\ntomorrow\"},"
    "{\"speaker\": \"agent\", \"text\": \"Booked.\"},"
    "{\"speaker\": \"customer\", \"text\": \"thanks\"}]}\n"
    "\n"
    "{\"dialogue_id\": 8, \"domains\": [null], \"turns\": []}\n"
    "{\"dialogue_id\": 9, \"domains\": [null], \"turns\": [{\"speaker\": \"customer\", \"text\": \"hello?\"}]}\n"
    "{\"dialogue_id\": 10, \"domains\": [null], \"turns\": [{\"speaker\": \"customer\", \"text\": \"q\"},"
    "{\"speaker\": \"agent\", \"text\": \"a\"}]}\n";

static void test_star(void **state)
{
    (void)state;
    dataset d = {0};
    char err[512];
    if (ds_load_star(&d, FIXTURE("star.jsonl", star_good), "Sys", err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    assert_int_equal(ds_count(&d, DS_ALL), 2);
    assert_int_equal(d.star_skipped, 2);
    const ds_conv *c = ds_get(&d, DS_ALL, 0);
    assert_int_equal(c->source, DS_SRC_STAR);
    assert_string_equal(c->id, "star:7");
    assert_string_equal(c->stratum, "star:bank+hotel");
    assert_null(c->intent);
    static const struct {
        ds_role role;
        const char *text;
    } want[] = {{DS_ROLE_SYSTEM, "Sys"},
                {DS_ROLE_USER, "Hi\nI need a room"},
                {DS_ROLE_ASSISTANT, "Which city?\nAnd when?"},
                {DS_ROLE_USER, "Paris\ntomorrow"},
                {DS_ROLE_ASSISTANT, "Booked."}};
    assert_int_equal(c->n_msgs, 5); /* the trailing "thanks" has no reply */
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(c->msgs[i].role, want[i].role);
        assert_string_equal(c->msgs[i].content, want[i].text);
    }
    c = ds_get(&d, DS_ALL, 1);
    assert_string_equal(c->id, "star:10");
    assert_string_equal(c->stratum, "star:none");

    int rc = ds_load_star(&d, FIXTURE("bad1.jsonl", "{\"dialogue_id\": 1, \"turns\": []}\n{\"dialogue_id\": 2,,}\n"),
                          "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "bad1.jsonl:2:");
    rc = ds_load_star(&d, FIXTURE("bad2.jsonl", "{\"dialogue_id\": 1, \"turns\": [{\"speaker\": \"bot\", "
                                  "\"text\": \"x\"}]}\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "bad2.jsonl:1: turn 1 needs 'speaker'");
    rc = ds_load_star(&d, FIXTURE("bad3.jsonl", "\n\n{\"turns\": []}\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "bad3.jsonl:3: needs an integer 'dialogue_id'");
    rc = ds_load_star(&d, FIXTURE("bad4.jsonl", "[1,2]\n"), "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "bad4.jsonl:1: not a JSON object");
    rc = ds_load_star(&d, FIXTURE("bad5.jsonl", "{\"dialogue_id\": 1, \"dialogue_id\": 2, \"turns\": []}\n"),
                      "S", err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "bad5.jsonl:1:");
    assert_int_equal(ds_count(&d, DS_ALL), 2);
    ds_free(&d);
}

/* ---- Dataset: split ----------------------------------------------------------------------------- */

/* n conversations in stratum s, as export-format lines. */
static void jsonl_stratum(strbuf *sb, const char *s, int n)
{
    for (int i = 0; i < n; i++)
        sb_printf(sb, "{\"messages\":[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":"
                      "\"q%d\"},{\"role\":\"assistant\",\"content\":\"a%d\"}],\"metadata\":{\"id\":\"%s-%d\","
                      "\"stratum\":\"%s\"}}\n", i, i, s, i, s);
}

static int by_stratum(const void *a, const void *b)
{
    return strcmp((*(const ds_conv *const *)a)->stratum, (*(const ds_conv *const *)b)->stratum);
}

/* Checks the split of d; returns the number of strata of each source. */
static void check_split(const dataset *d, double frac, size_t strata[3])
{
    /* disjoint and complete */
    assert_int_equal(ds_count(d, DS_TRAIN) + ds_count(d, DS_VALID), ds_count(d, DS_ALL));
    char *seen = xcalloc(d->n, 1);
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < ds_count(d, s ? DS_VALID : DS_TRAIN); i++) {
            const ds_conv *c = ds_get(d, s ? DS_VALID : DS_TRAIN, i);
            size_t k = (size_t)(c - d->conv);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
            assert_int_equal(c->split, s ? DS_VALID : DS_TRAIN);
        }
    free(seen);
    /* round(frac * n) of every stratum */
    const ds_conv **by = xcalloc(d->n, sizeof *by);
    for (size_t i = 0; i < d->n; i++)
        by[i] = &d->conv[i];
    qsort(by, d->n, sizeof *by, by_stratum);
    memset(strata, 0, 3 * sizeof *strata);
    for (size_t a = 0, b; a < d->n; a = b) {
        size_t v = 0;
        for (b = a; b < d->n && !strcmp(by[b]->stratum, by[a]->stratum); b++)
            v += by[b]->split == DS_VALID;
        assert_int_equal(v, (size_t)(frac * (double)(b - a) + 0.5));
        strata[by[a]->source]++;
    }
    free(by);
}

static void test_split(void **state)
{
    (void)state;
    strbuf sb = {0};
    jsonl_stratum(&sb, "alpha", 100);
    jsonl_stratum(&sb, "beta", 60);
    jsonl_stratum(&sb, "gamma", 40);
    jsonl_stratum(&sb, "tiny", 3);
    const char *path = fixture("strata.jsonl", sb.data, sb.len);
    sb_free(&sb);
    dataset d = {0};
    char err[512];
    if (ds_read_jsonl(&d, path, false, err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    assert_int_equal(ds_count(&d, DS_ALL), 203);
    size_t strata[3];
    ds_assign_split(&d, 0.05, 1);
    check_split(&d, 0.05, strata);
    assert_int_equal(strata[DS_SRC_JSONL], 4);
    assert_int_equal(ds_count(&d, DS_VALID), 5 + 3 + 2 + 0);
    char *first = xcalloc(d.n, 1);
    for (size_t i = 0; i < d.n; i++)
        first[i] = (char)d.conv[i].split;
    ds_assign_split(&d, 0.05, 1); /* same seed: same split */
    for (size_t i = 0; i < d.n; i++)
        assert_int_equal(first[i], (char)d.conv[i].split);
    ds_assign_split(&d, 0.05, 2); /* another seed: another one */
    size_t moved = 0;
    for (size_t i = 0; i < d.n; i++)
        moved += first[i] != (char)d.conv[i].split;
    assert_true(moved > 0);
    check_split(&d, 0.05, strata);
    ds_assign_split(&d, 0.25, 1);
    check_split(&d, 0.25, strata);
    assert_int_equal(ds_count(&d, DS_VALID), 25 + 15 + 10 + 1);
    free(first);
    ds_free(&d);

    const char *shared = test_shared_dir();
    if (shared) {
        ds_options o;
        ds_options_default(&o);
        o.data_dir = test_path(shared, "data");
        if (ds_load(&d, &o, err, sizeof err) != DS_OK)
            fail_msg("%s", err);
        check_split(&d, o.valid_fraction, strata);
        assert_int_equal(strata[DS_SRC_BITEXT], 27); /* Bitext's intents */
        assert_int_equal(strata[DS_SRC_STAR], 26);   /* STAR's domain sets */
        printf("    split: %zu train, %zu valid conversations over %zu + %zu strata\n",
               ds_count(&d, DS_TRAIN), ds_count(&d, DS_VALID), strata[DS_SRC_BITEXT], strata[DS_SRC_STAR]);
        ds_free(&d);
    }
}

/* ---- Dataset: rendering, loss mask ---------------------------------------------------------------- */

static const char conv_jsonl[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"You help.\"},"
    "{\"role\":\"user\",\"content\":\"Cancel order 42, please!\"},"
    "{\"role\":\"assistant\",\"content\":\"Sure: order 42 is cancelled.\\nAnything else?\"},"
    "{\"role\":\"user\",\"content\":\"  Refund   to my card  \"},"
    "{\"role\":\"assistant\",\"content\":\"The refund of {{Refund Amount}} is on its way.\"}],"
    "\"metadata\":{\"conversation_id\":3,\"message_id\":9,\"score\":5,\"tags\":[\"good\"]}}\n";

/* Check t's mask against the assistant spans of the rendered text, found
 * by searching the text: every token lies wholly inside or outside them. */
static void check_mask(const tok_vocab *v, const ds_conv *c, const ds_tokens *t)
{
    strbuf text = {0};
    ds_render(c, &text);
    idvec whole = encode_tok(v, text.data, text.len, true);
    assert_int_equal(t->n, whole.n);
    assert_memory_equal(t->ids, whole.ids, whole.n * sizeof *whole.ids);
    free(whole.ids);

    char *learn = xcalloc(text.len + 1, 1); /* bytes that must carry loss */
    size_t pos = 0;
    for (size_t i = 0; i < c->n_msgs; i++) {
        char head[64];
        snprintf(head, sizeof head, "<|im_start|>%s\n", ds_role_name(c->msgs[i].role));
        const char *h = strstr(text.data + pos, head);
        assert_non_null(h);
        size_t start = (size_t)(h - text.data) + strlen(head);
        const char *e = strstr(text.data + start, "<|im_end|>");
        assert_non_null(e);
        size_t end = (size_t)(e - text.data) + 10; /* the content and its <|im_end|> */
        assert_int_equal(end - 10 - start, strlen(c->msgs[i].content));
        if (c->msgs[i].role == DS_ROLE_ASSISTANT && i >= c->learn_from)
            memset(learn + start, 1, end - start);
        pos = end;
    }
    size_t at = 0, ones = 0;
    for (size_t k = 0; k < t->n; k++) {
        char piece[512];
        size_t n = tok_piece_ex(v, t->ids[k], true, piece, sizeof piece);
        assert_true(n > 0 && n <= sizeof piece);
        assert_memory_equal(piece, text.data + at, n);
        for (size_t j = 0; j < n; j++)
            if (learn[at + j] != t->mask[k])
                fail_msg("token %zu ('%.*s') has mask %d, byte %zu of it says %d", k, (int)n, piece,
                         t->mask[k], j, learn[at + j]);
        ones += t->mask[k];
        at += n;
    }
    assert_int_equal(at, text.len);
    assert_true(ones > 0 || c->learn_from >= c->n_msgs);
    free(learn);
    sb_free(&text);
}

static void test_render_and_mask(void **state)
{
    (void)state;
    dataset d = {0};
    char err[512];
    const char *path = FIXTURE("conv.jsonl", conv_jsonl);
    assert_int_equal(ds_read_jsonl(&d, path, false, err, sizeof err), DS_OK);
    assert_int_equal(ds_read_jsonl(&d, path, true, err, sizeof err), DS_OK);
    const ds_conv *all = ds_get(&d, DS_ALL, 0), *last = ds_get(&d, DS_ALL, 1);
    assert_int_equal(all->source, DS_SRC_JSONL);
    assert_string_equal(all->id, "conv.jsonl:1");
    assert_string_equal(all->stratum, "jsonl");
    assert_int_equal(all->learn_from, 0);
    assert_int_equal(last->learn_from, 4);
    assert_string_equal(all->msgs[3].content, "Refund   to my card");

    strbuf text = {0};
    ds_render(all, &text);
    assert_string_equal(text.data,
                        "<|im_start|>system\nYou help.<|im_end|>\n"
                        "<|im_start|>user\nCancel order 42, please!<|im_end|>\n"
                        "<|im_start|>assistant\nSure: order 42 is cancelled.\nAnything else?<|im_end|>\n"
                        "<|im_start|>user\nRefund   to my card<|im_end|>\n"
                        "<|im_start|>assistant\nThe refund of {{Refund Amount}} is on its way.<|im_end|>\n");
    sb_free(&text);

    /* A vocabulary that knows some of these words (so tokens span several
     * bytes), trained on other text. */
    bpe_trainer *t = bpe_trainer_new();
    add_text(t, "<|im_start|>assistant\nSure, the order is cancelled. Anything else? refund card\n", 5);
    add_text(t, "<|im_start|>user\nplease cancel my order<|im_end|>\n", 5);
    bpe_vocab *bv = train(t, 400, 2, false);
    loaded l = load_back(bv);
    ds_tokens tk = {0};
    assert_int_equal(ds_tokenize(l.v, all, &tk, err, sizeof err), DS_OK);
    check_mask(l.v, all, &tk);
    /* exactly: the two assistant contents' tokens and two <|im_end|> */
    size_t im_end_learnt = 0;
    for (size_t k = 0; k < tk.n; k++)
        im_end_learnt += tk.ids[k] == BPE_ID_IM_END && tk.mask[k];
    assert_int_equal(im_end_learnt, 2);
    assert_int_equal(ds_tokenize(l.v, last, &tk, err, sizeof err), DS_OK); /* reuses tk */
    check_mask(l.v, last, &tk);
    im_end_learnt = 0;
    for (size_t k = 0; k < tk.n; k++)
        im_end_learnt += tk.ids[k] == BPE_ID_IM_END && tk.mask[k];
    assert_int_equal(im_end_learnt, 1);

    /* special-token text typed in a message stays plain text */
    ds_conv odd = *all;
    ds_msg msgs[2] = {{DS_ROLE_USER, "say <|im_end|> now"}, {DS_ROLE_ASSISTANT, "no <|im_start|>"}};
    odd.msgs = msgs;
    odd.n_msgs = 2;
    assert_int_equal(ds_tokenize(l.v, &odd, &tk, err, sizeof err), DS_OK);
    size_t specials = 0;
    for (size_t k = 0; k < tk.n; k++)
        specials += tk.ids[k] < BPE_N_SPECIAL;
    assert_int_equal(specials, 4); /* two <|im_start|>, two <|im_end|> */
    ds_tokens_free(&tk);

    /* a vocabulary without ChatML tokens is refused */
    const char *shared = test_shared_dir();
    if (shared) {
        gguf_file *f;
        tok_vocab *v;
        const char *p = test_path(shared, "ref/tokenizer/ggml-vocab-gpt-2.gguf");
        assert_int_equal(gguf_open(&f, p, err, sizeof err), GGUF_OK);
        assert_int_equal(tok_load(&v, f, err, sizeof err), TOK_OK);
        expect_error(ds_tokenize(v, all, &tk, err, sizeof err), DS_ETOK, err, "<|im_start|>");
        tok_free(v);
        gguf_close(f);
        ds_tokens_free(&tk);
    }
    loaded_free(&l);
    bpe_vocab_free(bv);
    bpe_trainer_free(t);
    ds_free(&d);
}

/* ---- Dataset: export-format round trip -------------------------------------------------------------- */

static void test_jsonl_roundtrip(void **state)
{
    (void)state;
    dataset d = {0};
    char err[512];
    assert_int_equal(ds_load_bitext(&d, FIXTURE("rt.csv", csv_good), "Sys \"quoted\"\tprompt", err,
                                    sizeof err), DS_OK);
    assert_int_equal(ds_load_star(&d, FIXTURE("rt.jsonl", star_good), "Sys", err, sizeof err), DS_OK);
    assert_int_equal(ds_read_jsonl(&d, FIXTURE("rt2.jsonl", conv_jsonl), true, err, sizeof err), DS_OK);
    ds_assign_split(&d, 0.5, 4);
    assert_true(ds_count(&d, DS_VALID) > 0);

    const char *p1 = test_path(test_tmpdir(), "out1.jsonl"), *p2 = test_path(test_tmpdir(), "out2.jsonl");
    assert_int_equal(ds_write_jsonl(&d, DS_ALL, p1, err, sizeof err), DS_OK);
    dataset r = {0};
    assert_int_equal(ds_read_jsonl(&r, p1, false, err, sizeof err), DS_OK);
    assert_int_equal(r.n, d.n);
    for (size_t i = 0; i < d.n; i++) {
        const ds_conv *a = &d.conv[i], *b = &r.conv[i];
        assert_int_equal(a->source, b->source);
        assert_string_equal(a->id, b->id);
        assert_string_equal(a->stratum, b->stratum);
        assert_int_equal(a->intent == NULL, b->intent == NULL);
        if (a->intent)
            assert_string_equal(a->intent, b->intent);
        if (a->category)
            assert_string_equal(a->category, b->category);
        assert_int_equal(a->split, b->split);
        assert_int_equal(a->learn_from, b->learn_from);
        assert_int_equal(a->n_msgs, b->n_msgs);
        for (size_t k = 0; k < a->n_msgs; k++) {
            assert_int_equal(a->msgs[k].role, b->msgs[k].role);
            assert_string_equal(a->msgs[k].content, b->msgs[k].content);
        }
    }
    assert_int_equal(ds_count(&r, DS_VALID), ds_count(&d, DS_VALID));
    assert_int_equal(ds_write_jsonl(&r, DS_ALL, p2, err, sizeof err), DS_OK);
    size_t l1, l2;
    char *b1 = test_read_file(p1, &l1), *b2 = test_read_file(p2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);
    /* the export's own metadata survives, next to ours */
    assert_non_null(strstr(b1, "\"conversation_id\":3,\"message_id\":9,\"score\":5,\"tags\":[\"good\"]"));
    assert_non_null(strstr(b1, "\"source\":\"bitext\",\"id\":\"bitext:1\",\"stratum\":\"bitext:cancel_order\""));
    free(b1);
    free(b2);

    /* only one split */
    assert_int_equal(ds_write_jsonl(&d, DS_VALID, p2, err, sizeof err), DS_OK);
    ds_free(&r);
    assert_int_equal(ds_read_jsonl(&r, p2, false, err, sizeof err), DS_OK);
    assert_int_equal(r.n, ds_count(&d, DS_VALID));
    assert_int_equal(ds_count(&r, DS_VALID), r.n);
    ds_free(&r);

    /* broken export lines */
    int rc = ds_read_jsonl(&r, FIXTURE("e1.jsonl", "{\"messages\":[]}\n"), false, err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "e1.jsonl:1: needs a non-empty array 'messages'");
    rc = ds_read_jsonl(&r, FIXTURE("e2.jsonl", "\n{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}\n"),
                       false, err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "e2.jsonl:2: message 1 needs 'role'");
    rc = ds_read_jsonl(&r, FIXTURE("e3.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":1}]}\n"),
                       false, err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "e3.jsonl:1: message 1");
    rc = ds_read_jsonl(&r, FIXTURE("e4.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                                   "\"metadata\":3}\n"), false, err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "e4.jsonl:1: 'metadata' is not an object");
    rc = ds_read_jsonl(&r, FIXTURE("e5.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}\n"),
                       false, err, sizeof err);
    expect_error(rc, DS_EFORMAT, err, "e5.jsonl:1:");
    assert_int_equal(r.n, 0);
    rc = ds_write_jsonl(&d, DS_ALL, test_path(test_tmpdir(), "no/such/dir.jsonl"), err, sizeof err);
    expect_error(rc, DS_EIO, err, "No such file");
    ds_free(&r);
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
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_render_and_mask),
        cmocka_unit_test(test_jsonl_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
