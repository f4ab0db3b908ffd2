/*
 * test_eval_model.c — the intent-match judge (train/tfidf.h) and the
 * evaluation tool (tools/eval_model.c).
 *
 *   - tokens: words lowercased, placeholders whole, malformed braces as
 *     separators, the placeholder length limit at its edge;
 *   - weights: idf and cosines against figures worked out by hand;
 *   - the nearest answer: ties go to the earliest, unknown text to none;
 *   - the inverted-index search against the document-by-document one on
 *     random corpora (same label, same document, bit-identical cosine),
 *     and neither ever beaten by any document's own cosine;
 *   - the tool on a tiny model it trains itself (needs ../shared, skips
 *     visibly without): the output's lines in order and consistent with
 *     its JSON, 27 intents, the classifier's ceiling over 80%, and with
 *     --reference-replies the metric scoring the true answers as high.
 */
#include "testutil.h"

#include "train/tfidf.h"
#include "util/util.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* |a - b| <= eps, saying both when not. */
#define assert_near(a, b, eps)                                                                              \
    do {                                                                                                    \
        double a_ = (a), b_ = (b);                                                                          \
        if (!(fabs(a_ - b_) <= (eps)))                                                                      \
            fail_msg("%s = %.17g, expected %.17g (within %g)", #a, a_, b_, (double)(eps));                  \
    } while (0)

/* ---- Tokens ------------------------------------------------------------------------ */

static void join(void *ud, const char *tok, size_t len)
{
    strbuf *sb = ud;
    assert_int_equal(strlen(tok), len);
    if (sb->len)
        sb_putc(sb, '|');
    sb_append(sb, tok, len);
}

static char *tokens_of(const char *text, size_t *n)
{
    strbuf sb = {0};
    sb_puts(&sb, "");
    *n = tfidf_tokenize(text, join, &sb);
    return sb.data;
}

static void test_tokenize(void **state)
{
    (void)state;
    size_t n;
    char *t = tokens_of("It's {{Order Number}}, ORDER-42{{bad {{}} {{a\nb}} x{{Web Site}}y", &n);
    assert_string_equal(t, "it|s|{{order number}}|order|42|bad|a|b|x|{{web site}}|y");
    assert_int_equal(n, 11);
    free(t);
    t = tokens_of("  ...  ", &n);
    assert_string_equal(t, "");
    assert_int_equal(n, 0);
    free(t);
    /* non-ASCII bytes separate words: "café" is "caf" */
    t = tokens_of("caf\xc3\xa9 ok", &n);
    assert_string_equal(t, "caf|ok");
    free(t);
    /* a name of exactly the limit is a placeholder, one byte more is not */
    char name[TFIDF_MAX_PLACEHOLDER + 2];
    for (int extra = 0; extra < 2; extra++) {
        size_t len = TFIDF_MAX_PLACEHOLDER + (size_t)extra;
        memset(name, 'A', len);
        name[len] = '\0';
        strbuf in = {0};
        sb_printf(&in, "{{%s}}", name);
        t = tokens_of(in.data, &n);
        assert_int_equal(n, 1);
        assert_int_equal(strlen(t), extra ? len : len + 4);
        assert_true(extra ? t[0] == 'a' : strncmp(t, "{{aaa", 5) == 0);
        free(t);
        sb_free(&in);
    }
}

/* ---- Weights and the nearest answer --------------------------------------------------- */

static void test_weights_by_hand(void **state)
{
    (void)state;
    tfidf *t = tfidf_new();
    tfidf_add(t, "refund my order", 0);
    tfidf_add(t, "Track my ORDER", 1);
    tfidf_add(t, "Refund, refund!", 2);
    tfidf_build(t);
    assert_int_equal(tfidf_n_docs(t), 3);
    assert_int_equal(tfidf_n_terms(t), 4);
    /* n = 3: df 2 for refund, my, order; df 1 for track */
    double i2 = log(4.0 / 3.0) + 1.0, i1 = log(4.0 / 2.0) + 1.0;

    tfidf_match m = tfidf_nearest(t, "how do I track it");
    assert_int_equal(m.label, 1);
    assert_int_equal(m.doc, 1);
    assert_near(m.sim, i1 / sqrt(i1 * i1 + 2 * i2 * i2), 1e-12);

    /* "refund" alone: document 2 is all refund (cosine 1), beating 0 */
    m = tfidf_nearest(t, "REFUND");
    assert_int_equal(m.label, 2);
    assert_near(m.sim, 1.0, 1e-12);

    /* counts matter: "refund order order" = (1, 2)·i2 over refund, order */
    double q = sqrt(5.0) * i2, d0 = sqrt(3.0) * i2;
    assert_near(tfidf_cosine(t, "refund order order", "refund my order"), (i2 * i2 + 2 * i2 * i2) / (q * d0),
                        1e-12);
    m = tfidf_nearest(t, "refund order order");
    assert_int_equal(m.label, 0);
    assert_near(m.sim, 3.0 / sqrt(15.0), 1e-12);

    /* nothing in common */
    m = tfidf_nearest(t, "hello there");
    assert_int_equal(m.label, -1);
    assert_true(m.sim == 0.0);
    m = tfidf_nearest_naive(t, "");
    assert_int_equal(m.label, -1);
    assert_true(tfidf_cosine(t, "hello", "refund") == 0.0);
    tfidf_free(t);

    /* a tie goes to the earliest document */
    t = tfidf_new();
    tfidf_add(t, "cancel the order", 7);
    tfidf_add(t, "Cancel the order.", 5);
    tfidf_add(t, "something else", 9);
    tfidf_build(t);
    m = tfidf_nearest(t, "cancel");
    assert_int_equal(m.doc, 0);
    assert_int_equal(m.label, 7);
    assert_int_equal(tfidf_doc_label(t, 1), 5);
    tfidf_free(t);
    tfidf_free(NULL);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A random text over words w0..w(V-1), skewed to the low ones, sometimes
 * with a placeholder or a word no document has. */
static void random_text(uint64_t *s, strbuf *out, int V)
{
    sb_clear(out);
    int n = 1 + (int)(rng_next(s) % 12);
    for (int i = 0; i < n; i++) {
        uint64_t r = rng_next(s);
        int w = (int)((r % (uint64_t)V) * ((r >> 32) % (uint64_t)V) / (uint64_t)V);
        switch ((r >> 20) % 10) {
        case 0: sb_printf(out, "{{Slot %d}} ", w % 5); break;
        case 1: sb_printf(out, "Unseen%d, ", w); break;
        default: sb_printf(out, "W%d ", w); break;
        }
    }
}

static void test_fast_matches_naive(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    strbuf text = {0};
    for (int round = 0; round < 4; round++) {
        int V = 20 + 60 * round, n_docs = 50 + 100 * round;
        tfidf *t = tfidf_new();
        char **docs = xcalloc((size_t)n_docs, sizeof *docs);
        for (int d = 0; d < n_docs; d++) {
            random_text(&seed, &text, V);
            /* some duplicates (with other labels): exact ties */
            docs[d] = xstrdup(d % 17 == 3 ? docs[d - 1] : text.data);
            tfidf_add(t, docs[d], (int)(rng_next(&seed) % 27));
        }
        tfidf_build(t);
        size_t none = 0;
        for (int k = 0; k < 300; k++) {
            random_text(&seed, &text, V + 10);
            tfidf_match a = tfidf_nearest(t, text.data), b = tfidf_nearest_naive(t, text.data);
            assert_int_equal(a.label, b.label);
            assert_true(a.sim == b.sim); /* the same sums in the same order */
            if (a.label < 0) {
                none++;
                continue;
            }
            assert_int_equal(a.doc, b.doc);
            assert_int_equal(a.label, tfidf_doc_label(t, a.doc));
            assert_true(a.sim > 0.0 && a.sim <= 1.0 + 1e-12);
            /* no document is closer, no earlier one as close (tfidf_cosine
             * adds the same products in the same order: exact compares) */
            for (int d = 0; d < n_docs; d++) {
                double c = tfidf_cosine(t, text.data, docs[d]);
                assert_true(c <= a.sim);
                if ((size_t)d < a.doc)
                    assert_true(c < a.sim);
            }
            assert_true(tfidf_cosine(t, text.data, docs[a.doc]) == a.sim);
        }
        assert_true(none < 100); /* the check above ran on most queries */
        for (int d = 0; d < n_docs; d++)
            free(docs[d]);
        free(docs);
        tfidf_free(t);
    }
    sb_free(&text);
}

/* ---- The tool ----------------------------------------------------------------------------- */

static const char *eval_bin(void)
{
    const char *b = getenv("FRONTDESK_BUILD");
    return test_path(b && *b ? b : "build", "tools/eval_model");
}

/* The line of out starting with prefix, or fail. */
static const char *line_of(const char *out, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, prefix, n) == 0)
            return p;
    fail_msg("no line starting '%s' in:\n%s", prefix, out);
    return NULL;
}

static json_t *load_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        fail_msg("%s: %s", path, je.text);
    return j;
}

static long jint(json_t *root, const char *obj, const char *key)
{
    json_t *o = json_object_get(root, obj);
    assert_non_null(o);
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return (long)json_integer_value(v);
}

static void test_tool_on_tiny_model(void **state)
{
    (void)state;
    const char *shared = test_shared_dir();
    if (!shared) {
        skip();
        return;
    }
    if (access(eval_bin(), X_OK) != 0)
        fail_msg("%s is missing (make builds it)", eval_bin());
    const char *data_dir = test_path(shared, "data");

    /* a tiny model: a few steps on a dozen conversations */
    const char *convs = test_path(test_tmpdir(), "convs.jsonl");
    FILE *f = fopen(convs, "w");
    assert_non_null(f);
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"messages\":[{\"role\":\"system\",\"content\":\"You are a support agent.\"},"
                   "{\"role\":\"user\",\"content\":\"I want to cancel order %d\"},"
                   "{\"role\":\"assistant\",\"content\":\"I can help you cancel order %d.\"}]}\n",
                i, i);
    fclose(f);
    const char *model = test_path(test_tmpdir(), "tiny.gguf");
    const char *train[] = {test_bin(), "train", "--vocab", "models/frontdesk-vocab.gguf", "--data", convs, "--out",
                           model, "--steps", "2", "--width", "32", "--layers", "1", "--heads", "2", "--kv-heads",
                           "2", "--ff", "64", "--ctx", "128", "--tokens", "256", "--threads", "1", "--type", "f32",
                           NULL};
    char *o, *e;
    int rc = test_run(train, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("train exited %d: %s", rc, e);
    free(o);
    free(e);

    /* five requests, three samples */
    const char *json = test_path(test_tmpdir(), "eval.json");
    const char *run[] = {eval_bin(), "--model", model, "--data", data_dir, "--limit", "5", "--samples", "3",
                         "--threads", "1", "--json", json, NULL};
    double t0 = util_now();
    rc = test_run(run, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("eval_model exited %d: %s", rc, e);
    printf("    eval_model --limit 5 on a tiny model: %.2f s\n", util_now() - t0);

    /* the lines, in order */
    static const char *const order[] = {"model        ", "data         ", "perplexity   ", "  bitext     ppl ",
                                        "  star       ppl ", "intent match ", "ceiling      ", "replies      ",
                                        "per intent   ", "confusions   ", "samples      "};
    const char *prev = o;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const char *l = line_of(o, order[i]);
        assert_true(l >= prev);
        prev = l;
    }
    double ppl, nll, rate;
    unsigned long tokens, convs_n, ok, total, c_ok, c_total;
    assert_int_equal(sscanf(line_of(o, "perplexity   "),
                            "perplexity %lf on held-out agent turns (mean NLL %lf nats over %lu tokens, %lu",
                            &ppl, &nll, &tokens, &convs_n),
                     4);
    assert_true(tokens > 0 && convs_n == 5);
    assert_near(ppl, exp(nll), ppl * 1e-3);
    assert_true(nll > 1.0 && nll < 12.0); /* an untrained 4096-token model: about ln 4096 = 8.3 */
    assert_int_equal(sscanf(line_of(o, "intent match "), "intent match %lu/%lu = %lf%%", &ok, &total, &rate), 3);
    assert_int_equal(total, 5);
    assert_true(ok <= total);
    assert_int_equal(sscanf(line_of(o, "ceiling      "), "ceiling %lu/%lu = %lf%%", &c_ok, &c_total, &rate), 3);
    assert_true(c_total >= 150);                    /* every held-out Bitext answer, whatever --limit */
    assert_true((double)c_ok > 0.8 * (double)c_total); /* the metric can show a good model */
    printf("    classifier ceiling: %lu/%lu = %.1f%%\n", c_ok, c_total, rate);

    /* 27 intents, their totals adding up to the requests and the ceiling */
    const char *p = strchr(line_of(o, "per intent   "), '\n') + 1;
    unsigned long sum = 0, csum = 0;
    int intents = 0;
    while (strncmp(p, "confusions", 10) != 0) {
        char name[64];
        unsigned long a, b, c, d;
        assert_int_equal(sscanf(p, " %63s %lu/%lu %lu/%lu", name, &a, &b, &c, &d), 5);
        assert_true(a <= b && c <= d);
        sum += b;
        csum += d;
        intents++;
        p = strchr(p, '\n') + 1;
    }
    assert_int_equal(intents, 27);
    assert_int_equal(sum, 5);
    assert_int_equal(csum, c_total);
    assert_non_null(strstr(o, "samples      3 of the 5 evaluated requests"));
    assert_non_null(strstr(o, "\n  [1] bitext:"));
    assert_non_null(strstr(o, "\n  [3] bitext:"));
    assert_null(strstr(o, "\n  [4] "));
    size_t requests = 0, replies = 0;
    for (const char *q = o; (q = strstr(q, "\n    request: ")); q++)
        requests++;
    for (const char *q = o; (q = strstr(q, "\n    reply:   ")); q++)
        replies++;
    assert_int_equal(requests, 3);
    assert_int_equal(replies, 3);

    /* the JSON says the same */
    json_t *j = load_json(json);
    assert_int_equal(jint(j, "intent_match", "matched"), (long)ok);
    assert_int_equal(jint(j, "intent_match", "total"), 5);
    assert_int_equal(jint(j, "ceiling", "matched"), (long)c_ok);
    assert_int_equal(jint(j, "heldout", "tokens"), (long)tokens);
    assert_int_equal(json_array_size(json_object_get(j, "per_intent")), 27);
    assert_int_equal(json_array_size(json_object_get(j, "samples")), 3);
    json_t *s0 = json_array_get(json_object_get(j, "samples"), 0);
    assert_true(json_is_string(json_object_get(s0, "request")) && json_is_string(json_object_get(s0, "reply")));
    json_decref(j);
    free(o);
    free(e);

    /* the metric itself: the true answers, scored as replies, match about as
     * often as the ceiling says (40 of them, spread over the intents) */
    const char *ref[] = {eval_bin(), "--model", model, "--data", data_dir, "--limit", "40", "--samples", "0",
                         "--reference-replies", NULL};
    rc = test_run(ref, NULL, 0, &o, &e);
    if (rc != 0)
        fail_msg("eval_model --reference-replies exited %d: %s", rc, e);
    assert_int_equal(sscanf(line_of(o, "intent match "), "intent match %lu/%lu", &ok, &total), 2);
    assert_int_equal(total, 40);
    assert_true(ok >= 32);
    assert_null(strstr(o, "samples      "));
    free(o);
    free(e);

    /* bad usage and a missing model are errors that say so */
    const char *bad[] = {eval_bin(), "--limit", "x", NULL};
    assert_int_equal(test_run(bad, NULL, 0, &o, &e), 2);
    assert_non_null(strstr(e, "--limit"));
    free(o);
    free(e);
    const char *missing[] = {eval_bin(), "--model", "/nonexistent.gguf", "--data", data_dir, NULL};
    assert_int_equal(test_run(missing, NULL, 0, &o, &e), 1);
    assert_non_null(strstr(e, "/nonexistent.gguf"));
    free(o);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_weights_by_hand),
        cmocka_unit_test(test_fast_matches_naive),
        cmocka_unit_test(test_tool_on_tiny_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
