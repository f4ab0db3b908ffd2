/*
 * test_dataset.c — the training conversations (train/dataset.h); the BPE
 * trainer is test_bpe_train.c's.
 *
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
#include "tests/bpe_check.h"
#include "tests/testutil.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ------------------------------------------------------------------ */

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
    bc_expect_error(rc, DS_EFORMAT, err, "nocol.csv:1: the header has no column 'category'");
    rc = ds_load_bitext(&d, FIXTURE("fields.csv", "instruction,response,intent,category\r\n"
                                    "a,b,c,d\r\n\"x\r\ny\",b,c\r\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "fields.csv:3: a record of 3 fields; the header has 4");
    rc = ds_load_bitext(&d, FIXTURE("quote.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\nab\"c,b,c,d\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "quote.csv:3:");
    rc = ds_load_bitext(&d, FIXTURE("open.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\na,\"never\nclosed,c,d\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "never closed (the record starts on line 3)");
    rc = ds_load_bitext(&d, FIXTURE("utf8.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\na,\"b\xC3(\",c,d\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "utf8.csv:3: field 'response' is not valid UTF-8");
    rc = ds_load_bitext(&d, FIXTURE("empty.csv", "instruction,response,intent,category\n"
                                    "a,b,c,d\n\"  \",b,c,d\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "empty.csv:3: field 'instruction' is empty");
    rc = ds_load_bitext(&d, FIXTURE("nul.csv", "instruction,response,intent,category\n"
                                    "a,\"b\0c\",c,d\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "nul.csv:2: field 'response' contains a NUL byte");
    rc = ds_load_bitext(&d, test_path(test_tmpdir(), "missing.csv"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EIO, err, "missing.csv: No such file");
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
    bc_expect_error(rc, DS_EFORMAT, err, "bad1.jsonl:2:");
    rc = ds_load_star(&d, FIXTURE("bad2.jsonl", "{\"dialogue_id\": 1, \"turns\": [{\"speaker\": \"bot\", "
                                  "\"text\": \"x\"}]}\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "bad2.jsonl:1: turn 1 needs 'speaker'");
    rc = ds_load_star(&d, FIXTURE("bad3.jsonl", "\n\n{\"turns\": []}\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "bad3.jsonl:3: needs an integer 'dialogue_id'");
    rc = ds_load_star(&d, FIXTURE("bad4.jsonl", "[1,2]\n"), "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "bad4.jsonl:1: not a JSON object");
    rc = ds_load_star(&d, FIXTURE("bad5.jsonl", "{\"dialogue_id\": 1, \"dialogue_id\": 2, \"turns\": []}\n"),
                      "S", err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "bad5.jsonl:1:");
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
    idvec whole = bc_encode_tok(v, text.data, text.len, true);
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
    bc_add_text(t, "<|im_start|>assistant\nSure, the order is cancelled. Anything else? refund card\n", 5);
    bc_add_text(t, "<|im_start|>user\nplease cancel my order<|im_end|>\n", 5);
    bpe_vocab *bv = bc_train(t, 400, 2, false);
    loaded l = bc_load_back(bv);
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
        bc_expect_error(ds_tokenize(v, all, &tk, err, sizeof err), DS_ETOK, err, "<|im_start|>");
        tok_free(v);
        gguf_close(f);
        ds_tokens_free(&tk);
    }
    bc_loaded_free(&l);
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
    bc_expect_error(rc, DS_EFORMAT, err, "e1.jsonl:1: needs a non-empty array 'messages'");
    rc = ds_read_jsonl(&r, FIXTURE("e2.jsonl", "\n{\"messages\":[{\"role\":\"bot\",\"content\":\"x\"}]}\n"),
                       false, err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "e2.jsonl:2: message 1 needs 'role'");
    rc = ds_read_jsonl(&r, FIXTURE("e3.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":1}]}\n"),
                       false, err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "e3.jsonl:1: message 1");
    rc = ds_read_jsonl(&r, FIXTURE("e4.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                                   "\"metadata\":3}\n"), false, err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "e4.jsonl:1: 'metadata' is not an object");
    rc = ds_read_jsonl(&r, FIXTURE("e5.jsonl", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}\n"),
                       false, err, sizeof err);
    bc_expect_error(rc, DS_EFORMAT, err, "e5.jsonl:1:");
    assert_int_equal(r.n, 0);
    rc = ds_write_jsonl(&d, DS_ALL, test_path(test_tmpdir(), "no/such/dir.jsonl"), err, sizeof err);
    bc_expect_error(rc, DS_EIO, err, "No such file");
    ds_free(&r);
    ds_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_star),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_render_and_mask),
        cmocka_unit_test(test_jsonl_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
