/*
 * test_prompt.c — fitting a conversation into the context (engine/prompt.h):
 * which turns remain, checked token for token.
 *
 * Every turn has its own text, so dropping the wrong one shows.  The
 * expected prompts are written out here in ChatML by hand (not through
 * chat_template.c) and tokenized with the committed vocabulary
 * models/frontdesk-vocab.gguf; for every budget from "system prompt and last
 * message only" to "everything and more", prompt_fit must give exactly the
 * hand-built prompt of the system prompt plus the longest run of newest
 * turns that fits, and say how many it dropped.
 */
#include "tests/testutil.h"

#include "engine/chat_template.h"
#include "engine/gguf.h"
#include "engine/prompt.h"
#include "engine/tokenizer.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tok_vocab *vocab;

static int setup(void **state)
{
    (void)state;
    char err[256];
    gguf_file *f = NULL;
    if (gguf_open(&f, "models/frontdesk-vocab.gguf", err, sizeof err) != GGUF_OK) {
        fprintf(stderr, "models/frontdesk-vocab.gguf: %s\n", err);
        return -1;
    }
    int rc = tok_load(&vocab, f, err, sizeof err);
    gguf_close(f);
    if (rc != 0)
        fprintf(stderr, "models/frontdesk-vocab.gguf: %s\n", err);
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    tok_free(vocab);
    return 0;
}

/* A conversation whose every turn is different. */
static const chat_msg conv[] = {
    {"system", "You answer questions about parcels."},
    {"user", "Where is parcel one?"},
    {"assistant", "Parcel one left the depot on Tuesday."},
    {"user", "And parcel two, the blue box?"},
    {"assistant", "Parcel two is late; I am sorry about that."},
    {"user", "Can I get a refund for parcel two?"},
    {"assistant", "Yes, a refund of 12 euros is on its way."},
    {"user", "Thanks. What about parcel three?"},
};
#define N_CONV (sizeof conv / sizeof *conv)

/* ChatML by hand: each message "<|im_start|>ROLE\nTEXT<|im_end|>\n", then
 * the open assistant turn. */
static void chatml(const chat_msg *const *msgs, size_t n, strbuf *out)
{
    sb_clear(out);
    for (size_t i = 0; i < n; i++)
        sb_printf(out, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i]->role, msgs[i]->content);
    sb_puts(out, "<|im_start|>assistant\n");
}

static void encode(const strbuf *text, int32_t **ids, size_t *n)
{
    char err[256];
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    if (tok_encode(vocab, text->data, text->len, true, true, ids, n, &cap, err, sizeof err) != 0)
        fail_msg("tokenizing the hand-built prompt: %s", err);
}

/* The expected prompt when the `drop` oldest messages after the first
 * `keep_first` (1: the system prompt stays; 0: none does) are left out. */
static void expected(const chat_msg *msgs, size_t n, size_t keep_first, size_t drop, int32_t **ids, size_t *n_ids)
{
    const chat_msg *sel[16];
    size_t k = 0;
    for (size_t i = 0; i < keep_first; i++)
        sel[k++] = &msgs[i];
    for (size_t i = keep_first + drop; i < n; i++)
        sel[k++] = &msgs[i];
    strbuf sb = {0};
    chatml(sel, k, &sb);
    encode(&sb, ids, n_ids);
    sb_free(&sb);
}

static void expect_ids(const char *what, const int32_t *got, size_t n_got, const int32_t *want, size_t n_want)
{
    if (n_got != n_want)
        fail_msg("%s: %zu prompt tokens, expected %zu", what, n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        if (got[i] != want[i])
            fail_msg("%s: token %zu is %d, expected %d", what, i, got[i], want[i]);
}

/* For every budget: the system prompt plus the newest turns that fit. */
static void check_every_budget(const chat_msg *msgs, size_t n, size_t keep_first)
{
    enum { RESERVE = 24 };
    size_t max_drop = n - keep_first - 1; /* the last message always stays */
    int32_t *want[16];
    size_t n_want[16];
    for (size_t d = 0; d <= max_drop; d++) {
        expected(msgs, n, keep_first, d, &want[d], &n_want[d]);
        if (d)
            assert_true(n_want[d] < n_want[d - 1]); /* each turn costs tokens */
    }
    /* the hand-built ChatML is what the chat template renders too */
    strbuf sb = {0};
    chat_tmpl_apply(CHAT_TMPL_CHATML, msgs, n, true, &sb);
    int32_t *all;
    size_t n_all;
    encode(&sb, &all, &n_all);
    expect_ids("the whole conversation through chat_template.c", all, n_all, want[0], n_want[0]);
    free(all);
    sb_free(&sb);

    char err[256], what[96];
    for (size_t budget = n_want[max_drop] - 3; budget <= n_want[0] + 3; budget++) {
        int32_t *ids = (int32_t *)&err; /* must be replaced */
        size_t n_ids = 99, dropped = 99;
        int rc = prompt_fit(CHAT_TMPL_CHATML, vocab, msgs, n, (int)budget + RESERVE, RESERVE, &ids, &n_ids,
                            &dropped, err, sizeof err);
        if (budget < n_want[max_drop]) {
            /* not even the system prompt and the last message fit */
            if (rc != -1)
                fail_msg("budget %zu, below the %zu tokens of the shortest prompt: accepted", budget,
                         n_want[max_drop]);
            assert_null(ids);
            assert_int_equal(n_ids, 0);
            assert_non_null(strstr(err, "too long"));
            continue;
        }
        size_t d = 0; /* the fewest drops that fit */
        while (n_want[d] > budget)
            d++;
        snprintf(what, sizeof what, "budget %zu (%zu messages, %s system prompt)", budget, n,
                 keep_first ? "with" : "without");
        if (rc != 0)
            fail_msg("%s: %s", what, err);
        expect_ids(what, ids, n_ids, want[d], n_want[d]);
        if (dropped != d)
            fail_msg("%s: %zu messages reported dropped, %zu were", what, dropped, d);
        free(ids);
    }
    for (size_t d = 0; d <= max_drop; d++)
        free(want[d]);
}

static void test_drops_oldest_turns_exactly(void **state)
{
    (void)state;
    check_every_budget(conv, N_CONV, 1);
}

/* Without a system prompt the oldest message itself may go. */
static void test_without_system_prompt(void **state)
{
    (void)state;
    check_every_budget(conv + 1, N_CONV - 1, 0);
}

/* When everything fits nothing is dropped, whatever the context's size. */
static void test_nothing_dropped_when_it_fits(void **state)
{
    (void)state;
    int32_t *want, *ids;
    size_t n_want, n_ids, dropped;
    expected(conv, N_CONV, 1, 0, &want, &n_want);
    char err[256];
    assert_int_equal(prompt_fit(CHAT_TMPL_CHATML, vocab, conv, N_CONV, 4096, 256, &ids, &n_ids, &dropped, err,
                                sizeof err),
                     0);
    assert_int_equal(dropped, 0);
    expect_ids("a context of 4096", ids, n_ids, want, n_want);
    free(ids);
    free(want);
}

/* Nothing to fit: an error, and the outputs say nothing was produced. */
static void test_no_messages(void **state)
{
    (void)state;
    int32_t *ids = (int32_t *)&ids;
    size_t n_ids = 99, dropped = 7;
    char err[256] = "";
    assert_int_equal(prompt_fit(CHAT_TMPL_CHATML, vocab, conv, 0, 4096, 256, &ids, &n_ids, &dropped, err,
                                sizeof err),
                     -1);
    assert_null(ids);
    assert_int_equal(n_ids, 0);
    assert_int_equal(dropped, 0);
    assert_string_equal(err, "no messages");
}

int main(void)
{
    if (access("models/frontdesk-vocab.gguf", R_OK) != 0) {
        fprintf(stderr, "models/frontdesk-vocab.gguf is missing (run from the repository root)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drops_oldest_turns_exactly),
        cmocka_unit_test(test_no_messages),
        cmocka_unit_test(test_without_system_prompt),
        cmocka_unit_test(test_nothing_dropped_when_it_fits),
    };
    return test_exit(cmocka_run_group_tests_name("prompt", tests, setup, teardown));
}
