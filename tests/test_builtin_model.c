/*
 * test_builtin_model.c — the committed built-in model, models/frontdesk-cs.gguf,
 * loaded the way a user gets it (`frontdesk ask` with no --model finds it
 * beside the binary) and judged by what it answers.
 *
 * For a handful of requests of different intents, the greedy reply must
 *   - contain the words of the request's intent (always checked), and
 *   - with ../shared present, be classified to that intent by the same
 *     judge `make eval-model` uses (train/tfidf.h: 1-NN TF-IDF cosine
 *     against the Bitext training split's answers, the split of
 *     ds_options_default); skipped visibly without it.
 * The requests are ones the model card's figures say it handles (its
 * intents); a reply generated from the wrong prompt, the wrong template or
 * system prompt, or a damaged engine lands on another intent or on a
 * STAR-style opener ("Hello, how can I help?").  The file's shape is
 * checked against the model card (models/README.md).
 */
#include "tests/testutil.h"

#include "train/dataset.h"
#include "train/tfidf.h"
#include "util/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *request, *intent, *words;
} cases[] = {
    {"I want to cancel my order", "cancel_order", "cancel"},
    {"I need to change my shipping address", "change_shipping_address", "shipping address"},
    {"I want to delete my account", "delete_account", "delete"},
    {"How do I contact customer service?", "contact_customer_service", "customer service"},
    {"I want to create an account", "create_account", "create"},
    {"Can you send me an invoice?", "get_invoice", "invoice"},
    {"I want to unsubscribe from the newsletter", "newsletter_subscription", "newsletter"},
    {"I want to switch to a premium account", "switch_account", "premium"},
};
#define N_CASES (sizeof cases / sizeof *cases)

static int setup(void **state)
{
    (void)state;
    /* no user configuration may pick another model */
    const char *cfg = test_path(test_tmpdir(), "config-home");
    mkdir(cfg, 0700);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    return 0;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return true;
    return false;
}

/* The greedy reply of the built-in model, found by the binary itself. */
static char *builtin_reply(const char *request)
{
    const char *argv[] = {test_bin(), "ask", "--temp", "0", "-n", "128", "--no-db", request, NULL};
    char *out, *err;
    int rc = test_run(argv, NULL, 0, &out, &err);
    if (rc != 0)
        fail_msg("frontdesk ask (the built-in model) exited %d: %s", rc, err);
    free(err);
    return out;
}

static void test_model_card_shape(void **state)
{
    (void)state;
    const char *argv[] = {test_bin(), "info", "--model", "models/frontdesk-cs.gguf", "--json", NULL};
    char *out, *err;
    if (test_run(argv, NULL, 0, &out, &err) != 0)
        fail_msg("frontdesk info: %s", err);
    /* models/README.md: 5,795,072 parameters, 6 layers, 8 heads, context 512,
     * gpt2 BPE of 4,096 tokens, ChatML */
    static const char *const want[] = {"\"architecture\": \"llama\"", "\"parameters\": 5795072", "\"layers\": 6",
                                       "\"heads\": 8", "\"context_length\": 512", "\"vocab_size\": 4096",
                                       "\"chat_template\": \"chatml\""};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(out, want[i]))
            fail_msg("frontdesk info --json lacks %s:\n%s", want[i], out);
    free(out);
    free(err);
}

/* The judge of make eval-model: every training Bitext answer, labelled by
 * its intent (the index into *intents). */
static tfidf *judge(const char *csv, char ***intents, size_t *n_intents)
{
    dataset d = {0};
    char err[512];
    if (ds_load_bitext(&d, csv, ds_default_system, err, sizeof err) != DS_OK)
        fail_msg("%s", err);
    ds_options o;
    ds_options_default(&o);
    ds_assign_split(&d, o.valid_fraction, o.seed);
    tfidf *t = tfidf_new();
    *intents = NULL;
    *n_intents = 0;
    for (size_t i = 0; i < ds_count(&d, DS_TRAIN); i++) {
        const ds_conv *c = ds_get(&d, DS_TRAIN, i);
        if (!c->intent || c->n_msgs != 3 || c->msgs[2].role != DS_ROLE_ASSISTANT)
            continue;
        size_t k = 0;
        while (k < *n_intents && strcmp((*intents)[k], c->intent) != 0)
            k++;
        if (k == *n_intents) {
            *intents = xreallocarray(*intents, k + 1, sizeof **intents);
            (*intents)[(*n_intents)++] = xstrdup(c->intent);
        }
        tfidf_add(t, c->msgs[2].content, (int)k);
    }
    tfidf_build(t);
    assert_int_equal(*n_intents, 27);
    assert_true(tfidf_n_docs(t) > 3000);
    ds_free(&d);
    return t;
}

static void test_replies_answer_the_intent(void **state)
{
    (void)state;
    char *replies[N_CASES];
    for (size_t i = 0; i < N_CASES; i++) {
        replies[i] = builtin_reply(cases[i].request);
        if (!contains_ci(replies[i], cases[i].words))
            fail_msg("the built-in model's reply to \"%s\" does not mention \"%s\":\n%s", cases[i].request,
                     cases[i].words, replies[i]);
    }
    const char *shared = test_shared_dir();
    if (!shared) {
        for (size_t i = 0; i < N_CASES; i++)
            free(replies[i]);
        test_skip("test_replies_answer_the_intent: the intent judge needs ../shared/data (the words were checked)");
        return;
    }
    const char *data = test_path(shared, "data/bitext-customer-support/bitext_support_train.csv");
    if (access(data, R_OK) != 0) {
        for (size_t i = 0; i < N_CASES; i++)
            free(replies[i]);
        test_skip("test_replies_answer_the_intent: %s not found (the words were checked)", data);
        return;
    }
    char **intents;
    size_t n_intents;
    tfidf *t = judge(data, &intents, &n_intents);
    for (size_t i = 0; i < N_CASES; i++) {
        tfidf_match m = tfidf_nearest(t, replies[i]);
        const char *got = m.label >= 0 ? intents[m.label] : "none";
        printf("  \"%s\" -> %s (cosine %.2f)\n", cases[i].request, got, m.sim);
        if (strcmp(got, cases[i].intent) != 0)
            fail_msg("the built-in model's reply to \"%s\" is judged %s, not %s:\n%s", cases[i].request, got,
                     cases[i].intent, replies[i]);
        free(replies[i]);
    }
    for (size_t i = 0; i < n_intents; i++)
        free(intents[i]);
    free(intents);
    tfidf_free(t);
}

int main(void)
{
    if (access("models/frontdesk-cs.gguf", R_OK) != 0) {
        fprintf(stderr, "models/frontdesk-cs.gguf is missing (run from the repository root)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_card_shape),
        cmocka_unit_test(test_replies_answer_the_intent),
    };
    return test_exit(cmocka_run_group_tests_name("builtin_model", tests, setup, NULL));
}
